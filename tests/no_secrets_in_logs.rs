//! Logs are read by people and shipped to other systems: the Zuplo token, the minted
//! API keys, the callers' JWTs, the Supabase hook secret and webhook signatures must
//! never appear in them, whatever path a request takes.

mod common;

use common::*;
use serde_json::json;
use zuplo_standin::{Fault, FaultAction};

#[tokio::test]
async fn no_token_key_or_jwt_is_ever_logged() {
    let captured = capture_logs(tracing::Level::TRACE);

    let h = Harness::with(Options {
        warm_up: true,
        ..Options::default()
    })
    .await;
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
    let keys: Vec<String> = h
        .zuplo
        .consumers()
        .into_iter()
        .flat_map(|c| c.api_keys.into_iter().map(|k| k.key))
        .collect();
    assert!(keys.len() >= 3, "{keys:?}");
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
    for signature in &signatures {
        let mac = signature.trim_start_matches("v1,");
        assert!(!logs.contains(mac), "a webhook signature leaked into logs");
    }
    for jwt in &jwts {
        for part in jwt.split('.').filter(|p| p.len() > 16) {
            assert!(!logs.contains(part), "a JWT segment leaked into logs");
        }
    }
}
