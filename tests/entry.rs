//! The entry layer: events are told apart by their envelope, never by a path or body a
//! caller chose; direct invocations nobody handles are a Lambda error; a malformed
//! request costs one error answer and never the process; and unverifiable requests
//! cannot drive Secrets Manager.

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use common::*;
use serde_json::{Value, json};
use zuplo_auth_hooks::entry::direct::UNSUPPORTED;

/// A new user's sign-up must still work on the same container.
async fn assert_still_serving(h: &Harness, uid: &str) {
    let (status, body) = h.before_create(&sign(&claims(uid, "beforeCreate"))).await;
    assert_eq!(status, 200, "{body}");
    assert!(consumer_claim(&body).is_some(), "{body}");
}

#[tokio::test]
async fn direct_events_of_unknown_shape_are_a_lambda_error() {
    let h = Harness::start().await;
    for event in [
        json!({"version": "1", "triggerSource": "CustomMessage_SignUp", "region": "us-east-1",
               "userPoolId": "us-east-1_abc", "request": {}, "response": {}}),
        // A CloudTrail record of another service (Cognito's are deletions).
        json!({"version": "0", "detail-type": "AWS API Call via CloudTrail", "source": "aws.s3", "detail": {}}),
        json!({"Records": [{"eventSource": "aws:sqs"}]}),
        json!("just a string"),
        json!(null),
        // API Gateway v1 (REST) is not an envelope this function serves.
        json!({"httpMethod": "POST", "path": "/firebase/before-create", "requestContext": {"httpMethod": "POST"}, "body": "{}"}),
    ] {
        let error = invoke(&h.app, event.clone()).await.unwrap_err();
        assert_eq!(error.error_type, UNSUPPORTED, "{event}");
        assert_eq!(error.error_message, "Unsupported event");
    }
    assert_eq!(h.zuplo_calls() + h.secrets.calls(), 0);
    let docs = h.metrics();
    assert_eq!(docs.len(), 6, "one metrics document per event");
    assert!(
        docs.iter()
            .all(|d| d["Route"] == "direct" && d["Reason"] == "payload")
    );
    assert_still_serving(&h, "after-direct").await;
}

#[tokio::test]
async fn an_http_body_that_looks_like_a_direct_event_is_still_an_http_request() {
    let h = Harness::start().await;
    let direct_looking = json!({
        "version": "1", "triggerSource": "PreSignUp_SignUp", "userPoolId": "us-east-1_abc",
        "request": {"userAttributes": {"email": "x@example.com"}}, "response": {}
    })
    .to_string();
    for path in [
        "/",
        "/events",
        "/cognito/pre-sign-up",
        "/firebase/before-create",
    ] {
        let answer = h
            .send(request("POST", path, &direct_looking, "application/json"))
            .await;
        // An HTTP answer (not a Lambda error), from the HTTP routing.
        let expected = if path == "/firebase/before-create" {
            400
        } else {
            404
        };
        assert_eq!(answer.status, expected, "{path}: {}", answer.text);
        assert_eq!(answer.content_type, "application/json");
    }
    assert_eq!(h.zuplo_calls(), 0);
}

/// Events that make `lambda_http` 1.3.2 panic while turning them into a request, and
/// other envelopes no Function URL sends: each gets an answer, and the process goes on.
#[tokio::test]
async fn malformed_requests_cost_one_answer_never_the_process() {
    let h = Harness::start().await;
    let body = jwt_body(&sign(&claims("odd-headers", "beforeCreate")));
    let with_header = |name: &str, value: &str| {
        request_with_headers(
            "POST",
            "/firebase/before-create",
            &body,
            &[
                ("content-type", "application/json".to_owned()),
                (name, value.to_owned()),
            ],
        )
    };
    let mut events: Vec<(Value, u16)> = vec![
        (with_header("x-forwarded-proto", ""), 200),
        (with_header("x-forwarded-proto", "ht tps"), 200),
        (with_header("x-forwarded-proto", "https,https"), 200),
        (with_header("host", "[::1"), 200),
        (with_header("host", "example.com:99999"), 200),
        (with_header("host", ""), 200),
    ];
    let mut star = request("POST", "*", &body, "application/json");
    star["requestContext"]["http"]["path"] = json!("*");
    events.push((star, 404));
    let mut no_method = request("POST", "/firebase/before-create", &body, "application/json");
    no_method["requestContext"]["http"] = json!({});
    events.push((no_method, 400));
    let mut odd_headers = request("POST", "/firebase/before-create", &body, "application/json");
    odd_headers["headers"] = json!({"content-type": ["application/json"], "x": 1});
    events.push((odd_headers, 200));
    let mut bad_base64 = request("POST", "/firebase/before-create", "@@@", "application/json");
    bad_base64["isBase64Encoded"] = json!(true);
    events.push((bad_base64, 400));
    let mut no_body = request("POST", "/firebase/before-create", "", "application/json");
    no_body["body"] = Value::Null;
    events.push((no_body, 400));

    for (i, (event, expected)) in events.into_iter().enumerate() {
        let answer = h.send(event.clone()).await;
        assert_eq!(
            answer.status, expected,
            "event {i}: {event}\n{}",
            answer.text
        );
        assert_still_serving(&h, &format!("after-odd-{i}")).await;
    }
}

/// While Secrets Manager is slow, unsigned Supabase requests (which need the secret
/// before they can be verified) must not each start a read: one read at a time, and
/// none again for a second after it failed or timed out.
#[tokio::test]
async fn unverifiable_requests_cannot_drive_secrets_manager() {
    let h = Arc::new(
        Harness::with(Options {
            env: vec![("SUPABASE_BUDGET_MS", "800".into())],
            ..Options::default()
        })
        .await,
    );
    h.secrets.set_delay_ms(5_000);
    let unsigned = || {
        request(
            "POST",
            CAT,
            &access_token_body("nobody", &supabase_claims("nobody"), "password"),
            "application/json",
        )
    };
    let started = Instant::now();
    let burst: Vec<_> = (0..8)
        .map(|_| {
            let (h, event) = (h.clone(), unsigned());
            tokio::spawn(async move { h.send(event).await })
        })
        .collect();
    for answer in burst {
        let answer = answer.await.unwrap();
        assert_eq!(answer.status, 503, "{}", answer.text);
    }
    assert!(
        started.elapsed() < Duration::from_millis(800) + Duration::from_millis(300),
        "answered within the budget: {:?}",
        started.elapsed()
    );
    assert_eq!(h.secrets.calls(), 1, "one read for the whole burst");
    // Right after the timed-out read: refused at once, with no new read.
    let quick = Instant::now();
    assert_eq!(h.send(unsigned()).await.status, 503);
    assert!(
        quick.elapsed() < Duration::from_millis(100),
        "{:?}",
        quick.elapsed()
    );
    assert_eq!(h.secrets.calls(), 1, "reads are spaced after a timeout too");
    // A second later, one more read may start (and Secrets Manager is back).
    h.secrets.set_delay_ms(0);
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let answer = h
        .supabase(
            CAT,
            &access_token_body("somebody", &supabase_claims("somebody"), "password"),
        )
        .await;
    assert_eq!(answer.status, 200, "{}", answer.text);
    assert_eq!(h.secrets.calls(), 2);
    assert_eq!(h.zuplo.consumers().len(), 1);
}
