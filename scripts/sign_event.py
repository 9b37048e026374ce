#!/usr/bin/env python3
"""Signs a sample event (events/*.json) now, as its sender would.

Sets the webhook-id, webhook-timestamp and webhook-signature headers of the Lambda
Function URL event (svix-id, svix-timestamp and svix-signature with --svix, as Clerk's
deliveries carry them), signing its body with the official `standardwebhooks` library,
and prints the event. A signature is valid for five minutes, so sign just before sending.
With --bearer, sets `authorization: Bearer <token>` instead (Auth0 Event Streams).

Usage:
  SUPABASE_HOOK_SECRET='v1,whsec_...' scripts/sign_event.py events/supabase-custom-access-token-email.json > signed.json
  scripts/sign_event.py --secret 'v1,whsec_...|v1,whsec_...' EVENT   (several secrets: one
  signature each, joined by ", " as Supabase joins them)
  scripts/sign_event.py --svix --secret 'whsec_...' events/clerk-user-created.json
  scripts/sign_event.py --bearer TOKEN events/auth0-user-deleted.json

Needs `pip install standardwebhooks` (scripts/quickstart.sh installs it into .venv).
"""
import argparse
import base64
import json
import os
import sys
import uuid
from datetime import datetime, timezone

try:
    import standardwebhooks
except ImportError:
    sys.exit("the standardwebhooks package is missing: pip install standardwebhooks==1.1.0")


def signing_secret(secret: str) -> str:
    """The library wants `whsec_<base64>`. Given Supabase's `v1,` prefix it would
    silently derive a wrong key, so strip it here and check the base64 strictly."""
    secret = secret.strip()
    secret = secret[3:] if secret.startswith("v1,") else secret
    if not secret.startswith("whsec_"):
        sys.exit("each secret must look like v1,whsec_<base64>")
    try:
        base64.b64decode(secret[len("whsec_"):], validate=True)
    except ValueError:
        sys.exit("a secret is not valid base64 after whsec_")
    return secret


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("event", help="a Lambda Function URL event file")
    parser.add_argument("--secret", default=os.environ.get("SUPABASE_HOOK_SECRET"),
                        help="v1,whsec_<base64>, several joined by | (default: $SUPABASE_HOOK_SECRET)")
    parser.add_argument("--svix", action="store_true",
                        help="use Svix's header names (svix-*), as Clerk's deliveries do")
    parser.add_argument("--bearer", help="set an Authorization bearer token instead of signing")
    args = parser.parse_args()

    with open(args.event, encoding="utf-8") as f:
        event = json.load(f)
    if args.bearer:
        event.setdefault("headers", {})["authorization"] = f"Bearer {args.bearer}"
        json.dump(event, sys.stdout, indent=2, ensure_ascii=False)
        sys.stdout.write("\n")
        return
    if not args.secret:
        sys.exit("no secret: pass --secret or set SUPABASE_HOOK_SECRET")
    body = event["body"]
    if event.get("isBase64Encoded"):
        body = base64.b64decode(body).decode("utf-8")

    msg_id = str(uuid.uuid4())
    now = datetime.now(tz=timezone.utc)
    signatures = [
        standardwebhooks.Webhook(signing_secret(s)).sign(msg_id, now, body)
        for s in args.secret.split("|")
    ]
    headers = event.setdefault("headers", {})
    prefix = "svix" if args.svix else "webhook"
    for name in ("webhook-id", "webhook-timestamp", "webhook-signature",
                 "svix-id", "svix-timestamp", "svix-signature"):
        headers.pop(name, None)
    headers[f"{prefix}-id"] = msg_id
    headers[f"{prefix}-timestamp"] = str(int(now.timestamp()))
    # Svix separates several signatures with a space; Supabase with ", ".
    headers[f"{prefix}-signature"] = (" " if args.svix else ", ").join(signatures)
    json.dump(event, sys.stdout, indent=2, ensure_ascii=False)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
