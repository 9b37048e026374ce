//! Logs are read by people and shipped to other systems: the Zuplo token, the minted
//! API keys, the callers' JWTs, the Supabase hook secret, Clerk's webhook secret and
//! secret key, the Auth0 Action's secret and Event Streams token, webhook signatures
//! and the Authorization headers sent must never appear in them, whatever path a
//! request takes.

mod common;

use std::collections::BTreeSet;

use clerk_standin::{
    ClerkStandin, Fault as ClerkFault, FaultAction as ClerkFaultAction,
    StandinConfig as ClerkConfig,
};
use common::*;
use serde_json::{Value, json};
use zuplo_standin::{Fault, FaultAction};

/// 24 bytes, the size of a Svix signing secret.
const CLERK_WEBHOOK_SECRET: &str = "whsec_bG9nLWxlYWstY2xlcmstc3ZpeC1rZXkh";
const CLERK_SECRET_KEY: &str = "sk_test_logleak_clerk_backend_key_7f3a9c2e";
/// What the Clerk stand-in accepts once "rotated" away from the function's key.
const CLERK_ROTATED_KEY: &str = "sk_test_logleak_rotated_in_clerk_5d1b8e40";
const CLERK_INSTANCE: &str = "ins_2qLogLeakInstance00000001";
/// 32 bytes, as the Action's `HOOK_SECRET` holds them.
const AUTH0_ACTION_SECRET: &str = "whsec_bG9nLWxlYWstYXV0aDAtYWN0aW9uLXNlY3JldC0zMmI=";
const AUTH0_EVENTS_TOKEN: &str = "auth0-events-logleak-token-9c4f2a7d1e6b";
const AUTH0_WRONG_TOKEN: &str = "auth0-events-wrong-token-3b8e6f1a2c9d";
const AUTH0_TENANT: &str = "logleak-tenant";
/// The deletion routes' own secrets (32 bytes each).
const SUPABASE_DELETION_SECRET: &str = "whsec_bG9nLWxlYWstc3VwYWJhc2UtZGVsZXRpb24tc2VjcmV0IQ==";
const FIREBASE_DELETION_SECRET: &str = "whsec_bG9nLWxlYWstZmlyZWJhc2UtZGVsZXRpb24tc2VjcmV0IQ==";

/// A Clerk `user.*` event, shaped like Clerk's documented samples.
fn clerk_user_event(kind: &str, user_id: &str, public_metadata: Value) -> String {
    json!({
        "data": {
            "object": "user",
            "id": user_id,
            "first_name": "Log",
            "last_name": "Leak",
            "primary_email_address_id": "idn_2qLogLeak",
            "email_addresses": [{
                "id": "idn_2qLogLeak",
                "object": "email_address",
                "email_address": format!("{}@example.org", user_id.to_lowercase()),
                "verification": {"status": "verified", "strategy": "email_code"}
            }],
            "public_metadata": public_metadata,
            "private_metadata": {},
            "unsafe_metadata": {}
        },
        "instance_id": CLERK_INSTANCE,
        "object": "event",
        "timestamp": 1716883200,
        "type": kind
    })
    .to_string()
}

fn clerk_deleted_event(user_id: &str) -> String {
    json!({
        "data": {"object": "user", "id": user_id, "deleted": true},
        "instance_id": CLERK_INSTANCE,
        "object": "event",
        "timestamp": 1716883200,
        "type": "user.deleted"
    })
    .to_string()
}

#[tokio::test]
async fn no_token_key_or_jwt_is_ever_logged() {
    let captured = capture_logs(tracing::Level::TRACE);

    let clerk = ClerkStandin::start(ClerkConfig {
        secret_keys: vec![CLERK_SECRET_KEY.into()],
        ..ClerkConfig::default()
    })
    .await;
    let h = Harness::with(Options {
        warm_up: true,
        secret: Some(
            json!({
                "zuplo_api_key": ZUPLO_TOKEN,
                "supabase_hook_secret": HOOK_SECRET,
                "clerk_webhook_secret": CLERK_WEBHOOK_SECRET,
                "clerk_secret_key": CLERK_SECRET_KEY,
                "auth0_action_secret": AUTH0_ACTION_SECRET,
                "auth0_events_token": AUTH0_EVENTS_TOKEN,
                "supabase_deletion_secret": SUPABASE_DELETION_SECRET,
                "firebase_deletion_secret": FIREBASE_DELETION_SECRET,
            })
            .to_string(),
        ),
        env: vec![
            ("CLERK_API_URL", clerk.url()),
            (
                "SUPABASE_NAMESPACE",
                "https://logleak.supabase.co/auth/v1".into(),
            ),
        ],
        ..Options::default()
    })
    .await;
    // Minted keys, gathered before the consumers that hold them are deleted.
    let mut keys = BTreeSet::new();
    let gather_keys = |keys: &mut BTreeSet<String>| {
        keys.extend(
            h.zuplo
                .consumers()
                .into_iter()
                .flat_map(|c| c.api_keys.into_iter().map(|k| k.key)),
        );
    };
    // Every Authorization header value a caller sent.
    let mut authorizations = Vec::new();
    let mut jwts = Vec::new();
    let mut send = async |jwt: String, sign_in: bool| {
        jwts.push(jwt.clone());
        if sign_in {
            h.before_sign_in(&jwt).await
        } else {
            h.before_create(&jwt).await
        }
    };
    // Success, a retry resolved by 409, a reconcile.
    assert_eq!(
        send(sign(&claims("log-a", "beforeCreate")), false).await.0,
        200
    );
    assert_eq!(
        send(sign(&claims("log-a", "beforeCreate")), false).await.0,
        200
    );
    assert_eq!(
        send(sign(&claims("log-b", "beforeSignIn")), true).await.0,
        200
    );
    // Zuplo failures, including a body that cannot be parsed after a create.
    h.zuplo.push_fault(Fault {
        action: FaultAction::Status {
            status: 500,
            retry_after: None,
        },
        ..Fault::default()
    });
    send(sign(&claims("log-c", "beforeCreate")), false).await;
    h.zuplo.push_fault(Fault {
        action: FaultAction::MalformedBody,
        ..Fault::default()
    });
    send(sign(&claims("log-d", "beforeCreate")), false).await;
    // Supabase: a new user, a refresh, a Zuplo failure, a forged and a stale delivery.
    let mut signatures = Vec::new();
    let mut deliver = async |user: &str, method: &str, secret: &str, at: i64| {
        let body = access_token_body(user, &supabase_claims(user), method);
        let req = signed_request(CAT, &body, secret, at);
        signatures.push(
            req["headers"]["webhook-signature"]
                .as_str()
                .unwrap()
                .to_owned(),
        );
        h.send(req).await
    };
    assert_eq!(
        deliver("log-s1", "password", HOOK_SECRET, now())
            .await
            .status,
        200
    );
    assert_eq!(
        deliver("log-s1", "token_refresh", HOOK_SECRET, now())
            .await
            .status,
        200
    );
    h.zuplo.push_fault(Fault {
        action: FaultAction::Status {
            status: 503,
            retry_after: None,
        },
        ..Fault::default()
    });
    deliver("log-s2", "password", HOOK_SECRET, now()).await;
    let forged = "v1,whsec_Zm9yZ2VkLXNlY3JldC1vZi0zMi1ieXRlcy1sb25nISE=";
    assert_eq!(
        deliver("log-s3", "password", forged, now()).await.status,
        401
    );
    assert_eq!(
        deliver("log-s4", "password", HOOK_SECRET, now() - 900)
            .await
            .status,
        401
    );

    // The sign-up gate, allowed and refused, and an unknown route.
    for email in ["gate@example.com", ""] {
        let body = before_user_created_body(email, false);
        let req = signed_request(BUC, &body, HOOK_SECRET, now());
        signatures.push(
            req["headers"]["webhook-signature"]
                .as_str()
                .unwrap()
                .to_owned(),
        );
        assert_eq!(h.send(req).await.status, 200);
    }
    assert_eq!(h.post("/unknown", "{}").await.0, 404);

    // Cognito's direct invocations: a sign-up gate, a confirmation, a sign-in, a refresh,
    // a V2 sign-in, and one the function does not take.
    let cognito = |file: &str| -> serde_json::Value {
        let path = format!("{}/events/{file}", env!("CARGO_MANIFEST_DIR"));
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
    };
    for file in [
        "cognito-pre-sign-up-allowed.json",
        "cognito-post-confirmation.json",
        "cognito-pre-token-generation-v1.json",
        "cognito-pre-token-generation-v1-refresh.json",
        "cognito-pre-token-generation-v2.json",
    ] {
        assert!(invoke(&h.app, cognito(file)).await.is_ok(), "{file}");
    }
    let mut custom_message = cognito("cognito-pre-sign-up-allowed.json");
    custom_message["triggerSource"] = json!("CustomMessage_SignUp");
    assert!(invoke(&h.app, custom_message).await.is_err());

    // Clerk: a new user with its write-back, our own user.updated that follows it, a
    // deletion, a forged delivery, a write-back refused (the secret key rotated in Clerk
    // but not here), one rate-limited then let through, and one rate-limited for longer
    // than the budget.
    let mut clerk_deliver = async |body: String, secret: &str| {
        let (id, at) = (unique("msg"), now());
        let signature = webhook_signature(secret, &id, at, &body);
        signatures.push(signature.clone());
        h.send(request_with_headers(
            "POST",
            "/clerk/webhook",
            &body,
            &[
                ("content-type", "application/json".to_owned()),
                ("svix-id", id),
                ("svix-timestamp", at.to_string()),
                ("svix-signature", signature),
            ],
        ))
        .await
    };
    let created_user = "user_2qLogLeakCreated00000001";
    clerk.add_user(created_user);
    let created = clerk_deliver(
        clerk_user_event("user.created", created_user, json!({})),
        CLERK_WEBHOOK_SECRET,
    )
    .await;
    assert_eq!(created.status, 200, "{}", created.text);
    let consumer_id = created.json["consumer_id"].as_str().unwrap().to_owned();
    let updated = clerk_deliver(
        clerk_user_event(
            "user.updated",
            created_user,
            json!({"zuplo_consumer_id": consumer_id}),
        ),
        CLERK_WEBHOOK_SECRET,
    )
    .await;
    assert_eq!(updated.status, 200, "{}", updated.text);
    assert_eq!(updated.json["status"], "already provisioned");
    gather_keys(&mut keys);
    let deleted = clerk_deliver(clerk_deleted_event(created_user), CLERK_WEBHOOK_SECRET).await;
    assert_eq!(deleted.status, 200, "{}", deleted.text);
    assert_eq!(deleted.json["status"], "deleted");
    let forged_clerk = "whsec_Zm9yZ2VkLWNsZXJrLXN2aXgtc2VjcmV0";
    let forged = clerk_deliver(
        clerk_user_event("user.created", "user_2qLogLeakForged000000001", json!({})),
        forged_clerk,
    )
    .await;
    assert_eq!(forged.status, 401, "{}", forged.text);

    let rejected_user = "user_2qLogLeakRejected0000001";
    clerk.add_user(rejected_user);
    clerk.set_secret_keys(vec![CLERK_ROTATED_KEY.into()]);
    let rejected = clerk_deliver(
        clerk_user_event("user.created", rejected_user, json!({})),
        CLERK_WEBHOOK_SECRET,
    )
    .await;
    assert_eq!(rejected.status, 500, "{}", rejected.text);
    clerk.set_secret_keys(vec![CLERK_SECRET_KEY.into()]);

    let rate_limit = |retry_after: u64| ClerkFault {
        method: Some("PATCH".into()),
        delay_ms: 0,
        action: ClerkFaultAction::Status {
            status: 429,
            retry_after: Some(retry_after),
        },
    };
    let limited_user = "user_2qLogLeakLimited00000001";
    clerk.add_user(limited_user);
    clerk.push_fault(rate_limit(1));
    let waited = clerk_deliver(
        clerk_user_event("user.created", limited_user, json!({})),
        CLERK_WEBHOOK_SECRET,
    )
    .await;
    assert_eq!(waited.status, 200, "{}", waited.text);
    let throttled_user = "user_2qLogLeakThrottled000001";
    clerk.add_user(throttled_user);
    clerk.push_fault(rate_limit(60));
    let throttled = clerk_deliver(
        clerk_user_event("user.created", throttled_user, json!({})),
        CLERK_WEBHOOK_SECRET,
    )
    .await;
    assert_eq!(throttled.status, 503, "{}", throttled.text);
    let statuses: Vec<u16> = clerk.metadata_writes().iter().map(|w| w.status).collect();
    assert_eq!(
        statuses,
        [200, 401, 429, 200, 429],
        "the write-backs went as planned"
    );

    // Auth0: the post-login Action's call, a forged one, and Event Streams' user.deleted
    // with the right and a wrong bearer token.
    let login_body = |user_id: &str| {
        json!({
            "user_id": user_id,
            "email": "log.leak@example.com",
            "email_verified": true,
            "name": "Log Leak",
            "connection": "Username-Password-Authentication",
            "tenant": AUTH0_TENANT,
        })
        .to_string()
    };
    let auth0_user = "auth0|65f0c0ffee00000000000001";
    for (secret, expected) in [
        (AUTH0_ACTION_SECRET, 200),
        ("whsec_Zm9yZ2VkLWF1dGgwLWFjdGlvbi1zZWNyZXQtMzJieXQ=", 401),
    ] {
        let req = signed_request("/auth0/post-login", &login_body(auth0_user), secret, now());
        signatures.push(
            req["headers"]["webhook-signature"]
                .as_str()
                .unwrap()
                .to_owned(),
        );
        let answer = h.send(req).await;
        assert_eq!(answer.status, expected, "{}", answer.text);
    }
    gather_keys(&mut keys);
    let auth0_deleted = json!({
        "specversion": "1.0",
        "type": "user.deleted",
        "source": "urn:auth0:logleak-tenant.auth0app.com",
        "id": unique("evt"),
        "time": "2026-12-02T12:34:56Z",
        "data": {"object": {"user_id": auth0_user, "email": "log.leak@example.com"}},
        "a0tenant": AUTH0_TENANT,
        "a0stream": "est_logleak"
    })
    .to_string();
    for (token, expected) in [(AUTH0_WRONG_TOKEN, 401), (AUTH0_EVENTS_TOKEN, 200)] {
        let authorization = format!("Bearer {token}");
        authorizations.push(authorization.clone());
        let answer = h
            .send(request_with_headers(
                "POST",
                "/auth0/events",
                &auth0_deleted,
                &[
                    ("content-type", "application/json".into()),
                    ("authorization", authorization),
                ],
            ))
            .await;
        assert_eq!(answer.status, expected, "{}", answer.text);
    }

    // The deletion routes: Supabase's trigger, Firebase's forwarder (the right secret,
    // then a forged one), and a Cognito deletion from EventBridge.
    let deletions = [
        (
            "/supabase/user-deleted",
            r#"{"email": "log@example.com", "event": "user.deleted", "user_id": "0b7e1c3e-2f4a-4c55-9a0e-6f1d2c3b4a59"}"#.to_owned(),
            SUPABASE_DELETION_SECRET,
        ),
        (
            "/firebase/user-deleted",
            json!({"project": PROJECT, "tenant": null, "uid": "log-a", "email": "log-a@example.com"}).to_string(),
            FIREBASE_DELETION_SECRET,
        ),
    ];
    gather_keys(&mut keys);
    for (path, body, secret) in &deletions {
        for (secret, expected) in [
            (*secret, 200),
            ("whsec_Zm9yZ2VkLWRlbGV0aW9uLXNlY3JldC0zMi1ieXRlcyE=", 401),
        ] {
            let req = signed_request(path, body, secret, now());
            signatures.push(
                req["headers"]["webhook-signature"]
                    .as_str()
                    .unwrap()
                    .to_owned(),
            );
            let answer = h.send(req).await;
            assert_eq!(answer.status, expected, "{path}: {}", answer.text);
        }
    }
    let cognito_deleted = json!({
        "version": "0", "id": "logleak-eventbridge", "detail-type": "AWS API Call via CloudTrail",
        "source": "aws.cognito-idp", "account": "123456789012", "region": "us-east-1",
        "detail": {"eventSource": "cognito-idp.amazonaws.com", "eventName": "AdminDeleteUser",
                   "requestParameters": {"userPoolId": "us-east-1_LogLeak", "username": "3f0c5a2e-9b1d-4c7a-8e6f-2a1b0c9d8e7f"},
                   "additionalEventData": {"sub": "3f0c5a2e-9b1d-4c7a-8e6f-2a1b0c9d8e7f"}}
    });
    assert_eq!(
        invoke(&h.app, cognito_deleted).await.unwrap()["status"],
        "absent"
    );

    // A rotation (401 then a re-read secret).
    let rotated = "zpka_rotated_secret_value_for_logs";
    put_secret(&h.secret_id, &json!({"zuplo_api_key": rotated}).to_string()).await;
    h.zuplo.set_tokens(vec![rotated.into()]);
    assert_eq!(
        send(sign(&claims("log-e", "beforeCreate")), false).await.0,
        200
    );
    // Refusals.
    send(
        sign_with(&claims("log-f", "beforeCreate"), OTHER_KEY, Some(KID)),
        false,
    )
    .await;
    send(unsigned(&claims("log-g", "beforeCreate")), false).await;

    // The metrics documents go to the same log stream in Lambda: check them too.
    let mut logs = captured.text();
    let metrics = h.metrics();
    assert!(metrics.len() >= 10, "one document per request");
    for doc in &metrics {
        logs.push_str(&doc.to_string());
    }
    assert!(
        logs.contains("outcome=\"created\""),
        "capture works: {logs}"
    );
    assert!(logs.contains("rejected"), "{logs}");
    gather_keys(&mut keys);
    assert!(keys.len() >= 8, "{keys:?}");
    for secret in [ZUPLO_TOKEN, rotated] {
        let leak = logs.lines().find(|l| l.contains(secret)).unwrap_or("");
        assert!(!logs.contains(secret), "token leaked into logs: {leak}");
    }
    for key in &keys {
        assert!(!logs.contains(key.as_str()), "an API key leaked into logs");
        // Nor the random part on its own.
        assert!(
            !logs.contains(&key[5..37]),
            "part of an API key leaked into logs"
        );
    }
    let hook_key = HOOK_SECRET.trim_start_matches("v1,whsec_");
    assert!(!logs.contains(hook_key), "the hook secret leaked into logs");
    // The function's own Authorization header to Clerk, too.
    let clerk_authorization = format!("Bearer {CLERK_SECRET_KEY}");
    for (what, secret) in [
        ("the Clerk webhook secret", CLERK_WEBHOOK_SECRET),
        (
            "the Clerk webhook key",
            &CLERK_WEBHOOK_SECRET["whsec_".len()..],
        ),
        ("the Clerk secret key", CLERK_SECRET_KEY),
        ("Clerk's rotated secret key", CLERK_ROTATED_KEY),
        ("the Clerk Authorization header", &clerk_authorization),
        ("the Auth0 Action secret", AUTH0_ACTION_SECRET),
        (
            "the Auth0 Action key",
            &AUTH0_ACTION_SECRET["whsec_".len()..],
        ),
        ("the Auth0 events token", AUTH0_EVENTS_TOKEN),
        ("the Supabase deletion secret", SUPABASE_DELETION_SECRET),
        (
            "the Supabase deletion key",
            &SUPABASE_DELETION_SECRET["whsec_".len()..],
        ),
        ("the Firebase deletion secret", FIREBASE_DELETION_SECRET),
        (
            "the Firebase deletion key",
            &FIREBASE_DELETION_SECRET["whsec_".len()..],
        ),
        ("a wrong Auth0 events token", AUTH0_WRONG_TOKEN),
    ] {
        let leak = logs.lines().find(|l| l.contains(secret)).unwrap_or("");
        assert!(!logs.contains(secret), "{what} leaked into logs: {leak}");
    }
    for authorization in &authorizations {
        assert!(
            !logs.contains(authorization.as_str()),
            "an Authorization header leaked into logs"
        );
    }
    assert!(signatures.len() >= 16, "{}", signatures.len());
    for signature in &signatures {
        assert!(
            !logs.contains(signature.as_str()),
            "a webhook signature header leaked into logs"
        );
        for entry in signature.split_whitespace() {
            let mac = entry.trim_start_matches("v1,");
            assert!(!logs.contains(mac), "a webhook signature leaked into logs");
        }
    }
    for jwt in &jwts {
        for part in jwt.split('.').filter(|p| p.len() > 16) {
            assert!(!logs.contains(part), "a JWT segment leaked into logs");
        }
    }
}
