#!/usr/bin/env python3
"""Writes the sample Lambda Function URL events in events/.

The Firebase events carry Auth-emulator-style tokens (alg "none", empty signature)
with a far-future exp, so they stay valid; the function accepts them only with
FIREBASE_AUTH_EMULATOR=true. Project and audience match the quick start's settings.

The Supabase events are bodies as the Auth server sends them (compact JSON, Go's
escaping) with empty webhook-* headers: a signature carries a timestamp and goes stale
after five minutes, so they are signed at send time with scripts/sign_event.py.

The Clerk events are Svix deliveries (empty svix-* headers) and the Auth0 events the
post-login Action's call (empty webhook-* headers) and an Event Stream delivery (empty
authorization header): all are signed, or given their token, at send time too.

Usage: python3 scripts/make_events.py   (rewrites events/{firebase,supabase,clerk,auth0}-*.json)
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


def function_url_event(path: str, body: str, headers=None) -> dict:
    user_agent = (headers or {}).get("user-agent", "Google-Cloud-Functions")
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
            **(headers or {}),
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
                "userAgent": user_agent,
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


SUPABASE_ISS = "https://demo-ref.supabase.co/auth/v1"
SUPABASE_HEADERS = {
    "user-agent": "Go-http-client/1.1",
    "accept-encoding": "identity",
    "webhook-id": "",
    "webhook-timestamp": "",
    "webhook-signature": "",
}


def go_json(value) -> str:
    """encoding/json's output: compact, map keys sorted, <>& escaped, raw UTF-8."""
    text = json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def hook_metadata(name: str, n: int) -> dict:
    return {
        "uuid": f"0b9c7a3e-5d1f-4c2a-9e8b-{n:012d}",
        "time": "2026-01-01T00:00:00.123456789Z",
        "name": name,
        "ip_address": "203.0.113.7",
    }


def supabase_claims(user_id, email="", phone="", anonymous=False, app_metadata=None,
                    user_metadata=None, method="password"):
    return dict(sorted({
        "iss": SUPABASE_ISS,
        "sub": user_id,
        "aud": "authenticated",
        "exp": IAT + 3600,
        "iat": IAT,
        "email": email,
        "phone": phone,
        "app_metadata": app_metadata if app_metadata is not None else {},
        "user_metadata": user_metadata if user_metadata is not None else {},
        "role": "authenticated",
        "aal": "aal1",
        "amr": [{"method": method, "timestamp": IAT}],
        "session_id": f"5e55a9d0-0000-4000-8000-{user_id[-12:]}",
        "is_anonymous": anonymous,
    }.items()))


def supabase_access_token(name, n, user_id, method, claims):
    # Field order of the server's struct: metadata, user_id, claims, authentication_method.
    body = go_json({
        "metadata": hook_metadata("customize-access-token", n),
        "user_id": user_id,
        "claims": claims,
        "authentication_method": method,
    })
    event = function_url_event("/supabase/custom-access-token", body, SUPABASE_HEADERS)
    (EVENTS / f"supabase-{name}.json").write_text(json.dumps(event, indent=2, ensure_ascii=False) + "\n")


def supabase_before_user_created(name, n, email):
    user = {
        "id": f"3f2b8c1e-0000-4000-8000-{n:012d}",
        "aud": "authenticated",
        "role": "",
        "email": email,
        "phone": "",
        "app_metadata": {"provider": "email", "providers": ["email"]},
        "user_metadata": {},
        "identities": [],
        "created_at": "0001-01-01T00:00:00Z",
        "updated_at": "0001-01-01T00:00:00Z",
        "is_anonymous": False,
    }
    body = go_json({"metadata": hook_metadata("before-user-created", n), "user": user})
    event = function_url_event("/supabase/before-user-created", body, SUPABASE_HEADERS)
    (EVENTS / f"supabase-{name}.json").write_text(json.dumps(event, indent=2, ensure_ascii=False) + "\n")


def supabase():
    erin = "7d0f3c52-1a2b-4c3d-8e9f-00000000e51e"
    erin_claims = dict(
        email="erin@example.com",
        app_metadata={"provider": "email", "providers": ["email"]},
        user_metadata={"email": "erin@example.com", "email_verified": True,
                       "full_name": "Erin <Ops> & Co", "phone_verified": False, "sub": erin},
    )
    supabase_access_token("custom-access-token-email", 1, erin, "password",
                          supabase_claims(erin, **erin_claims))
    supabase_access_token("custom-access-token-refresh", 2, erin, "token_refresh",
                          supabase_claims(erin, method="token_refresh", **erin_claims))
    frank = "7d0f3c52-1a2b-4c3d-8e9f-00000000f4a2"
    supabase_access_token("custom-access-token-phone", 3, frank, "otp", supabase_claims(
        frank, phone="15550100", method="otp",
        app_metadata={"provider": "phone", "providers": ["phone"]},
        user_metadata={"phone_verified": True, "sub": frank}))
    anon = "7d0f3c52-1a2b-4c3d-8e9f-0000000a2012"
    supabase_access_token("custom-access-token-anonymous", 4, anon, "anonymous",
                          supabase_claims(anon, anonymous=True, method="anonymous"))
    grace = "7d0f3c52-1a2b-4c3d-8e9f-000000096ace"
    supabase_access_token("custom-access-token-provisioned", 5, grace, "password", supabase_claims(
        grace, email="grace@example.com",
        app_metadata={"provider": "email", "providers": ["email"],
                      "zuplo_consumer_id": "csmr_AlreadyProvisioned000002"},
        user_metadata={"email_verified": True, "sub": grace}))
    supabase_before_user_created("before-user-created-allowed", 6, "heidi@example.com")
    supabase_before_user_created("before-user-created-rejected", 7, "mallory@blocked.example.net")


CLERK_INSTANCE = "ins_2qsQuickstartInstance000001"
CLERK_USER = "user_2qsQuickstartClerkUser0001"
SVIX_HEADERS = {
    "user-agent": "Svix-Webhooks/1.66.0",
    "svix-id": "",
    "svix-timestamp": "",
    "svix-signature": "",
}


def clerk_user(public_metadata: dict) -> dict:
    email_id = "idn_2qsQuickstartEmail00000001"
    return {
        "object": "user", "id": CLERK_USER, "external_id": None,
        "primary_email_address_id": email_id, "primary_phone_number_id": None,
        "primary_web3_wallet_id": None, "username": None,
        "first_name": "Dana", "last_name": "Example",
        "image_url": "https://img.clerk.com/xxxxxx", "has_image": False,
        "public_metadata": public_metadata, "private_metadata": {}, "unsafe_metadata": {},
        "email_addresses": [{
            "id": email_id, "object": "email_address", "email_address": "dana@example.com",
            "reserved": False, "linked_to": [],
            "verification": {"status": "verified", "strategy": "email_code", "attempts": 1,
                             "expire_at": 1767226200000},
        }],
        "phone_numbers": [], "web3_wallets": [], "passkeys": [], "external_accounts": [],
        "password_enabled": True, "two_factor_enabled": False,
        "created_at": IAT * 1000, "updated_at": IAT * 1000, "last_sign_in_at": None,
    }


def clerk_event(name: str, kind: str, data: dict) -> None:
    body = json.dumps({
        "data": data, "event_attributes": {"http_request": {
            "client_ip": "203.0.113.20", "user_agent": "Mozilla/5.0"}},
        "instance_id": CLERK_INSTANCE, "object": "event", "timestamp": IAT * 1000, "type": kind,
    }, separators=(",", ":"))
    event = function_url_event("/clerk/webhook", body, SVIX_HEADERS)
    (EVENTS / f"clerk-{name}.json").write_text(json.dumps(event, indent=2) + "\n")


def clerk():
    clerk_event("user-created", "user.created", clerk_user({}))
    # What Clerk sends after the function's own metadata write: nothing to do.
    clerk_event("user-updated-provisioned", "user.updated",
                clerk_user({"zuplo_consumer_id": "csmr_AlreadyProvisioned000003"}))
    clerk_event("user-deleted", "user.deleted",
                {"object": "user", "id": CLERK_USER, "deleted": True, "external_id": None})


AUTH0_TENANT = "quickstart-tenant"
AUTH0_USER = "auth0|6f1c0d9e8b7a6c5d4e3f2a10"


def auth0():
    body = json.dumps({
        "user_id": AUTH0_USER, "email": "erin@example.com", "email_verified": True,
        "name": "Erin Example", "connection": "Username-Password-Authentication",
        "tenant": AUTH0_TENANT,
    }, separators=(",", ":"))
    event = function_url_event("/auth0/post-login", body, {
        "user-agent": "node", "webhook-id": "", "webhook-timestamp": "", "webhook-signature": "",
    })
    (EVENTS / "auth0-post-login.json").write_text(json.dumps(event, indent=2) + "\n")
    # An Event Stream delivery, shaped like Auth0's events schema example.
    user = {"user_id": AUTH0_USER, "email": "erin@example.com", "email_verified": True,
            "created_at": "2026-01-01T00:00:00Z", "updated_at": "2026-01-01T00:00:00Z",
            "identities": [{"connection": "Username-Password-Authentication",
                            "user_id": AUTH0_USER.split("|", 1)[1], "provider": "auth0",
                            "isSocial": False}],
            "app_metadata": {"zuplo_consumer_id": "csmr_set_by_the_action"},
            "deleted_at": "2026-01-02T00:00:00Z"}
    body = json.dumps({
        "specversion": "1.0", "type": "user.deleted",
        "source": f"urn:auth0:{AUTH0_TENANT}.us.auth0.com", "id": "evt_2qsQuickstartEvent0001",
        "time": "2026-01-02T00:00:00Z",
        "data": {"object": user, "context": {"tenant": {"id": AUTH0_TENANT}}},
        "a0tenant": AUTH0_TENANT, "a0stream": "est_2qsQuickstartStream001",
    }, separators=(",", ":"))
    event = function_url_event("/auth0/events", body, {"user-agent": "Auth0", "authorization": ""})
    (EVENTS / "auth0-user-deleted.json").write_text(json.dumps(event, indent=2) + "\n")


def main():
    EVENTS.mkdir(exist_ok=True)
    supabase()
    clerk()
    auth0()
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
