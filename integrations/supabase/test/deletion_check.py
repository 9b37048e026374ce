#!/usr/bin/env python3
"""Checks for scripts/supabase_sql_test.sh: the requests user-deleted.sql recorded, and the
function's answers to them.

  deletion_check.py signatures REQUESTS --secret whsec_… [--secret whsec_…] --expect EXPECT
      Each recorded request (a JSON list from net._requests: url, headers, body_b64) must
      verify with the official `standardwebhooks` library under each --secret, carry exactly
      the expected body (EXPECT: a JSON list of {event, user_id, email}) and nothing else,
      and be refused by the library once its body is changed by one character.
  deletion_check.py provision --function-url URL --hook-secret 'v1,whsec_…' --iss ISS
                              --zuplo-url URL --user ID:EMAIL …
      Sends each user's first access token through the real Custom Access Token hook
      (signed now with the hook secret) and checks that the Zuplo stand-in then holds a
      consumer for the user.
  deletion_check.py send REQUESTS --function-url URL --status N [--answer JSON] --label L
      Sends each recorded request as is and checks the answer.
  deletion_check.py replay REQUESTS --function-url URL --zuplo-url URL --secret whsec_…
                           --keep USER_ID
      Replays the recorded requests to $FUNCTION_URL/supabase/user-deleted with their
      exact headers and body bytes, after tampered variants, and checks the answers and
      the consumers left in the Zuplo stand-in.

Prints one `PASS  …` or `FAIL  …` line per check (and `INFO  …` lines); the exit status
is the number of failed checks (capped at 100).
"""
import argparse
import base64
import json
import re
import sys
import time
import urllib.error
import urllib.request
import uuid
from datetime import datetime, timezone

import standardwebhooks

FAILED = 0


def check(ok: bool, what: str, detail: str = "") -> bool:
    global FAILED
    if ok:
        print(f"PASS  {what}")
    else:
        FAILED += 1
        print(f"FAIL  {what}" + (f": {detail}" if detail else ""))
    sys.stdout.flush()
    return ok


def info(text: str) -> None:
    print(f"INFO  {text}")
    sys.stdout.flush()


def lib_secret(secret: str) -> str:
    """The PyPI library wants `whsec_<base64>`; strip Supabase's `v1,`."""
    secret = secret.strip()
    return secret[3:] if secret.startswith("v1,") else secret


def load_requests(path: str) -> list:
    with open(path, encoding="utf-8") as f:
        requests = json.load(f)
    for r in requests:
        r["body"] = base64.b64decode(r.pop("body_b64"))
    return requests


def tamper(body: bytes) -> bytes:
    """The same body with one character changed (a digit of the user id, or else the
    first letter of the event)."""
    text = body.decode("utf-8")
    m = re.search(r'"user_id": "([0-9a-f])', text)
    i = m.start(1) if m else text.index('"user.') + 1
    ch = text[i]
    repl = "0" if ch != "0" else "1"
    return (text[:i] + repl + text[i + 1:]).encode("utf-8")


def http(method: str, url: str, body: bytes | None = None, headers: dict | None = None,
         timeout: float = 600) -> tuple[int, bytes]:
    req = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def consumers(zuplo_url: str) -> list:
    status, body = http("GET", f"{zuplo_url}/__standin/consumers", timeout=30)
    if status != 200:
        raise SystemExit(f"GET /__standin/consumers answered {status}: {body[:200]!r}")
    return json.loads(body)


def consumer_of(zuplo_url: str, user_id: str) -> list:
    return [c["name"] for c in consumers(zuplo_url)
            if (c.get("metadata") or {}).get("userId") == user_id]


def cmd_signatures(args) -> None:
    requests = load_requests(args.requests)
    with open(args.expect, encoding="utf-8") as f:
        expected = json.load(f)
    check(len(requests) == len(expected),
          f"{len(expected)} requests recorded", f"got {len(requests)}")
    now = int(time.time())
    for r, want in zip(requests, expected):
        label = f"{want['event']} of {want['user_id'][:8]}…"
        headers = r["headers"]
        check(sorted(headers) == sorted(["Content-Type", "webhook-id", "webhook-timestamp",
                                         "webhook-signature"])
              and headers["Content-Type"] == "application/json",
              f"{label}: headers are Content-Type, webhook-id, webhook-timestamp, webhook-signature",
              json.dumps(headers))
        check(re.fullmatch(r"msg_[0-9a-f]{32}", headers.get("webhook-id", "")) is not None,
              f"{label}: webhook-id is msg_<hex uuid>", headers.get("webhook-id", ""))
        ts = headers.get("webhook-timestamp", "")
        check(ts.isdigit() and abs(int(ts) - now) < 600,
              f"{label}: webhook-timestamp is unix seconds, now", ts)
        sigs = headers.get("webhook-signature", "").split(" ")
        check(len(sigs) == len(args.secret) and all(s.startswith("v1,") for s in sigs),
              f"{label}: one v1 signature per secret ({len(args.secret)})",
              headers.get("webhook-signature", ""))
        body = r["body"]
        try:
            parsed = json.loads(body)
        except ValueError as e:
            parsed = None
            check(False, f"{label}: body is JSON", str(e))
        check(isinstance(parsed, dict) and sorted(parsed) == ["email", "event", "user_id"],
              f"{label}: body has exactly event, user_id, email", body.decode("utf-8", "replace"))
        check(parsed == want, f"{label}: body values", f"{parsed} != {want}")
        for forbidden in args.forbid or []:
            check(forbidden.encode() not in body and forbidden not in json.dumps(headers),
                  f"{label}: no {forbidden[:12]}… (password hash) in the request")
        check(r["url"] == args.url, f"{label}: sent to the Vault URL", r["url"])
        for secret in args.secret:
            wh = standardwebhooks.Webhook(lib_secret(secret))
            lib_headers = {k: v for k, v in headers.items() if k.startswith("webhook-")}
            try:
                wh.verify(body, lib_headers)
                check(True, f"{label}: official standardwebhooks verifies it with {secret[:10]}…")
            except Exception as e:  # noqa: BLE001 - any refusal is the failure reported
                check(False, f"{label}: official standardwebhooks verifies it with {secret[:10]}…",
                      f"{type(e).__name__}: {e}")
            try:
                wh.verify(tamper(body), lib_headers)
                check(False, f"{label}: official standardwebhooks refuses a one-character change",
                      "accepted")
            except standardwebhooks.webhooks.WebhookVerificationError:
                check(True, f"{label}: official standardwebhooks refuses a one-character change")


def hook_body(user_id: str, email: str, iss: str) -> bytes:
    """A Custom Access Token hook body shaped like the Auth server's (compact, Go's field
    order), after events/supabase-custom-access-token-email.json."""
    now = int(time.time())
    session = str(uuid.uuid4())
    body = {
        "metadata": {"uuid": str(uuid.uuid4()),
                     "time": datetime.now(tz=timezone.utc).isoformat().replace("+00:00", "Z"),
                     "name": "customize-access-token", "ip_address": "203.0.113.7"},
        "user_id": user_id,
        "claims": {
            "aal": "aal1", "amr": [{"method": "password", "timestamp": now}],
            "app_metadata": {"provider": "email", "providers": ["email"]},
            "aud": "authenticated", "email": email, "exp": now + 3600, "iat": now,
            "is_anonymous": False, "iss": iss, "phone": "", "role": "authenticated",
            "session_id": session, "sub": user_id,
            "user_metadata": {"email": email, "email_verified": True,
                              "phone_verified": False, "sub": user_id},
        },
        "authentication_method": "password",
    }
    return json.dumps(body, separators=(",", ":")).encode("utf-8")


def signed_headers(secret: str, body: bytes) -> dict:
    msg_id = f"msg_{uuid.uuid4().hex}"
    now = datetime.now(tz=timezone.utc)
    sig = standardwebhooks.Webhook(lib_secret(secret)).sign(msg_id, now, body.decode("utf-8"))
    return {"content-type": "application/json", "webhook-id": msg_id,
            "webhook-timestamp": str(int(now.timestamp())), "webhook-signature": sig}


def cmd_provision(args) -> None:
    for spec in args.user:
        user_id, email = spec.split(":", 1)
        body = hook_body(user_id, email, args.iss)
        status, answer = http("POST", f"{args.function_url}/supabase/custom-access-token",
                              body, signed_headers(args.hook_secret, body))
        claim = None
        try:
            claim = json.loads(answer).get("claims", {}).get("zuplo_consumer_id")
        except (ValueError, AttributeError):
            pass
        check(status == 200 and bool(claim),
              f"custom-access-token hook provisions {user_id[:8]}… (claim {claim})",
              f"{status} {answer[:300]!r}")
        names = consumer_of(args.zuplo_url, user_id)
        check(len(names) == 1, f"the Zuplo stand-in holds one consumer for {user_id[:8]}…",
              f"{names}")


def send(args, request: dict, body: bytes | None = None, headers: dict | None = None):
    status, answer = http("POST", f"{args.function_url}/supabase/user-deleted",
                          request["body"] if body is None else body,
                          request["headers"] if headers is None else headers)
    try:
        parsed = json.loads(answer)
    except ValueError:
        parsed = answer.decode("utf-8", "replace")
    return status, parsed


def cmd_replay(args) -> None:
    requests = load_requests(args.requests)
    if not check(len(requests) == 2, "two recorded requests to replay", f"got {len(requests)}"):
        return
    hard, soft = requests
    ids = [json.loads(r["body"])["user_id"] for r in requests]
    everyone = ids + [args.keep]
    before = {u: consumer_of(args.zuplo_url, u) for u in everyone}
    check(all(len(v) == 1 for v in before.values()),
          "before the replays, the stand-in holds a consumer for each of the three users",
          json.dumps(before))
    total = len(consumers(args.zuplo_url))

    # Tampered deliveries first, while every consumer still exists.
    status, answer = send(args, hard, body=tamper(hard["body"]))
    check(status == 401, "a one-character change of the hard-delete body is refused (401)",
          f"{status} {answer}")
    status, answer = send(args, hard, body=soft["body"])
    check(status == 401, "the soft-delete body under the hard-delete's signature is refused (401)",
          f"{status} {answer}")
    retarget = hard["body"].decode("utf-8").replace(ids[0], args.keep).encode("utf-8")
    status, answer = send(args, hard, body=retarget)
    check(status == 401, "the hard-delete's signature on a body naming the third user is refused (401)",
          f"{status} {answer}")
    headers = dict(hard["headers"])
    headers["webhook-signature"] = soft["headers"]["webhook-signature"]
    status, answer = send(args, hard, headers=headers)
    check(status == 401, "the hard-delete body with the soft-delete's signature is refused (401)",
          f"{status} {answer}")
    after = {u: consumer_of(args.zuplo_url, u) for u in everyone}
    check(after == before and len(consumers(args.zuplo_url)) == total,
          "the refused deliveries deleted nothing", json.dumps(after))

    # A well-signed body of the wrong shape.
    bad = json.dumps({"event": "user.deleted", "email": None}).encode("utf-8")
    status, answer = send(args, hard, body=bad, headers=signed_headers(args.secret, bad))
    check(status == 400, "a signed body without user_id is refused (400)", f"{status} {answer}")

    # The recorded deliveries, exactly as pg_net would send them.
    for label, r, uid in (("hard delete", hard, ids[0]), ("soft delete", soft, ids[1])):
        status, answer = send(args, r)
        check(status == 200 and answer == {"status": "deleted"},
              f"the recorded {label} answers 200 {{\"status\":\"deleted\"}}", f"{status} {answer}")
        check(consumer_of(args.zuplo_url, uid) == [],
              f"the {label}d user's consumer is gone", f"{consumer_of(args.zuplo_url, uid)}")
    check(len(consumer_of(args.zuplo_url, args.keep)) == 1,
          "the third user's consumer remains", f"{consumer_of(args.zuplo_url, args.keep)}")
    check(len(consumers(args.zuplo_url)) == total - 2, "exactly two consumers were deleted",
          f"{total} -> {len(consumers(args.zuplo_url))}")

    # The same delivery again (pg_net does not retry, but a replay must stay harmless).
    status, answer = send(args, hard)
    check(status == 200 and answer == {"status": "absent"},
          "the same hard-delete request again answers 200 {\"status\":\"absent\"}",
          f"{status} {answer}")
    status, answer = send(args, soft)
    check(status == 200 and answer == {"status": "absent"},
          "the same soft-delete request again answers 200 {\"status\":\"absent\"}",
          f"{status} {answer}")
    check(len(consumer_of(args.zuplo_url, args.keep)) == 1,
          "the third user's consumer still remains after the replays")

    # Not in the contract: what a signed body with another event does (last, as it may
    # delete the third user's consumer).
    odd = json.dumps({"email": None, "event": "user.created", "user_id": args.keep}).encode("utf-8")
    status, answer = send(args, hard, body=odd, headers=signed_headers(args.secret, odd))
    left = consumer_of(args.zuplo_url, args.keep)
    info(f"a signed body with event \"user.created\" for the third user answers {status} {answer}; "
         f"the third user's consumer {'remains' if left else 'was deleted'}")


def cmd_send(args) -> None:
    for r in load_requests(args.requests):
        status, answer = send(args, r)
        check(status == args.status and (args.answer is None or answer == json.loads(args.answer)),
              f"{args.label}: answers {args.status}" + (f" {args.answer}" if args.answer else ""),
              f"{status} {answer}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("signatures")
    p.add_argument("requests")
    p.add_argument("--secret", action="append", required=True)
    p.add_argument("--expect", required=True)
    p.add_argument("--url", required=True)
    p.add_argument("--forbid", action="append")
    p.set_defaults(run=cmd_signatures)
    p = sub.add_parser("provision")
    p.add_argument("--function-url", required=True)
    p.add_argument("--zuplo-url", required=True)
    p.add_argument("--hook-secret", required=True)
    p.add_argument("--iss", required=True)
    p.add_argument("--user", action="append", required=True)
    p.set_defaults(run=cmd_provision)
    p = sub.add_parser("replay")
    p.add_argument("requests")
    p.add_argument("--function-url", required=True)
    p.add_argument("--zuplo-url", required=True)
    p.add_argument("--secret", required=True)
    p.add_argument("--keep", required=True)
    p.set_defaults(run=cmd_replay)
    p = sub.add_parser("send")
    p.add_argument("requests")
    p.add_argument("--function-url", required=True)
    p.add_argument("--status", type=int, required=True)
    p.add_argument("--answer")
    p.add_argument("--label", required=True)
    p.set_defaults(run=cmd_send)
    args = parser.parse_args()
    args.run(args)
    sys.exit(min(FAILED, 100))


if __name__ == "__main__":
    main()
