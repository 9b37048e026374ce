#!/usr/bin/env python3
"""Writes the sample Lambda Function URL events in events/.

The Firebase events carry Auth-emulator-style tokens (alg "none", empty signature)
with a far-future exp, so they stay valid; the function accepts them only with
FIREBASE_AUTH_EMULATOR=true. Project and audience match the quick start's settings.

Usage: python3 scripts/make_events.py   (rewrites events/firebase-*.json)
"""
import base64
import json
import pathlib

PROJECT = "demo-project"
AUD = "https://hooks.example.test/firebase/{}"
IAT = 1767225600  # 2026-01-01T00:00:00Z
EXP = 4102444800  # 2100-01-01T00:00:00Z
EVENTS = pathlib.Path(__file__).resolve().parent.parent / "events"


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unsigned_jwt(claims: dict) -> str:
    header = b64url(json.dumps({"alg": "none", "typ": "JWT"}, separators=(",", ":")).encode())
    payload = b64url(json.dumps(claims, separators=(",", ":")).encode())
    return f"{header}.{payload}."


def blocking_claims(event_type, uid, user_record, route, **extra):
    claims = {
        "iss": f"https://securetoken.google.com/{PROJECT}",
        "aud": AUD.format(route),
        "iat": IAT,
        "exp": EXP,
        "sub": uid,
        "event_id": f"evt-{uid}-{event_type}",
        "event_type": event_type,
        "ip_address": "203.0.113.7",
        "user_agent": "Mozilla/5.0",
        "locale": "en",
        "user_record": {"uid": uid, "custom_claims": {}, **user_record},
    }
    claims.update(extra)
    return claims


def function_url_event(path: str, body: str) -> dict:
    return {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": path,
        "rawQueryString": "",
        "headers": {
            "content-type": "application/json",
            "host": "abcdefghij.lambda-url.us-east-1.on.aws",
            "user-agent": "Google-Cloud-Functions",
            "x-forwarded-proto": "https",
        },
        "requestContext": {
            "accountId": "anonymous",
            "apiId": "abcdefghij",
            "domainName": "abcdefghij.lambda-url.us-east-1.on.aws",
            "domainPrefix": "abcdefghij",
            "http": {
                "method": "POST",
                "path": path,
                "protocol": "HTTP/1.1",
                "sourceIp": "203.0.113.7",
                "userAgent": "Google-Cloud-Functions",
            },
            "requestId": "c8b5b0d4-5b1e-4f4e-9d6a-2f1f7d3c2a10",
            "routeKey": "$default",
            "stage": "$default",
            "time": "01/Jan/2026:00:00:00 +0000",
            "timeEpoch": IAT * 1000,
        },
        "body": body,
        "isBase64Encoded": False,
    }


def firebase(name, route, claims):
    body = json.dumps({"data": {"jwt": unsigned_jwt(claims)}}, separators=(",", ":"))
    event = function_url_event(f"/firebase/{route}", body)
    (EVENTS / f"firebase-{name}.json").write_text(json.dumps(event, indent=2) + "\n")


def main():
    EVENTS.mkdir(exist_ok=True)
    alice = {"email": "alice@example.com", "email_verified": True, "display_name": "Alice Example"}
    firebase("before-create-email", "before-create",
             blocking_claims("beforeCreate", "qs-alice", alice, "before-create", sign_in_method="password"))
    firebase("before-create-phone", "before-create",
             blocking_claims("beforeCreate", "qs-bob", {"phone_number": "+15550100"}, "before-create",
                             sign_in_method="phone"))
    tenant = {"email": "carol@tenant.example", "email_verified": False, "tenant_id": "tenant-a1b2"}
    firebase("before-create-tenant", "before-create",
             blocking_claims("beforeCreate", "qs-carol", tenant, "before-create",
                             sign_in_method="google.com", tenant_id="tenant-a1b2"))
    provisioned = dict(alice, custom_claims={"zuplo_consumer_id": "csmr_AlreadyProvisioned000001"})
    firebase("before-sign-in-provisioned", "before-sign-in",
             blocking_claims("beforeSignIn", "qs-alice", provisioned, "before-sign-in", sign_in_method="password"))
    dave = {"email": "dave@example.com", "email_verified": True, "custom_claims": {"plan": "pro"}}
    firebase("before-sign-in-reconcile", "before-sign-in",
             blocking_claims("beforeSignIn", "qs-dave", dave, "before-sign-in", sign_in_method="password"))


if __name__ == "__main__":
    main()
