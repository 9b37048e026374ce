//! Amazon Cognito user pool triggers, invoked directly through the same entry the
//! binary runs. Events are those cognito-local 5.3.0 sends (captured) and the shapes
//! AWS documents for V1, V2 and V3; the answer must be the event itself with only
//! `response` changed, and never a group override.

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use common::*;
use serde_json::{Value, json};
use zuplo_standin::{Fault, FaultAction};

const POOL: &str = "local_6SKpGeAw";
const SUB: &str = "f6e0cf3a-fde2-4a0d-822c-37b61b98d184";
/// Cognito's own limit is 5 s; the default budget is 4 s.
const BUDGET: Duration = Duration::from_millis(4000);
const SLACK: Duration = Duration::from_millis(300);

fn attributes(sub: &str) -> Value {
    json!({"sub": sub, "email": "alice+happy@example.com", "name": "Alice"})
}

/// A cognito-local event (version "0", V1 answers), as captured.
fn event(trigger: &str, sub: &str, response: Value) -> Value {
    let mut request = json!({"userAttributes": attributes(sub)});
    if trigger.starts_with("TokenGeneration_") {
        request["groupConfiguration"] = json!({});
    }
    json!({
        "version": "0",
        "callerContext": {"awsSdkVersion": "2.1693.0", "clientId": "ciwmengwxuvoxv55rotlt245k"},
        "region": "local",
        "userPoolId": POOL,
        "triggerSource": trigger,
        "userName": sub,
        "request": request,
        "response": response,
    })
}

fn token_event(trigger: &str, sub: &str) -> Value {
    event(trigger, sub, json!({"claimsOverrideDetails": {}}))
}

/// A V2/V3 event as AWS documents it, with groups and a role to keep.
fn v2_event(version: &str, trigger: &str, sub: &str) -> Value {
    json!({
        "version": version,
        "triggerSource": trigger,
        "region": "us-east-1",
        "userPoolId": "us-east-1_EXAMPLE",
        "userName": sub,
        "callerContext": {"awsSdkVersion": "aws-sdk-unknown-unknown", "clientId": "1example23456789"},
        "request": {
            "userAttributes": {"sub": sub, "email": "v2@example.com", "email_verified": "true"},
            "groupConfiguration": {
                "groupsToOverride": ["admins"],
                "iamRolesToOverride": ["arn:aws:iam::123456789012:role/admin"],
                "preferredRole": ["arn:aws:iam::123456789012:role/admin"]
            },
            "scopes": ["openid", "aws.cognito.signin.user.admin"]
        },
        "response": {"claimsAndScopeOverrideDetails": []}
    })
}

/// Everything but `response` came back as it was sent.
fn assert_only_response_changed(sent: &Value, answer: &Value) {
    let (mut a, mut b) = (sent.clone(), answer.clone());
    a.as_object_mut().unwrap().remove("response");
    b.as_object_mut().unwrap().remove("response");
    assert_eq!(a, b, "only the response may change");
    assert!(
        !answer.to_string().contains("groupOverrideDetails"),
        "a group override would replace the user's groups: {answer}"
    );
}

async fn ok(h: &Harness, event: &Value) -> Value {
    let answer = invoke(&h.app, event.clone())
        .await
        .unwrap_or_else(|e| panic!("{event}: {e:?}"));
    assert_only_response_changed(event, &answer);
    answer
}

fn consumer_id_of(h: &Harness, sub: &str) -> String {
    let consumers = h.zuplo.consumers();
    let mine: Vec<_> = consumers
        .iter()
        .filter(|c| c.metadata["userId"] == sub)
        .collect();
    assert_eq!(
        mine.len(),
        1,
        "exactly one consumer for {sub}: {consumers:?}"
    );
    mine[0].id.clone()
}

#[tokio::test]
async fn v1_sign_in_and_refresh_carry_the_same_consumer_in_the_id_token() {
    let h = Harness::start().await;
    let sign_in = ok(&h, &token_event("TokenGeneration_Authentication", SUB)).await;
    let id = consumer_id_of(&h, SUB);
    assert_eq!(
        sign_in["response"],
        json!({"claimsOverrideDetails": {"claimsToAddOrOverride": {"zuplo_consumer_id": id}}})
    );
    let consumer = &h.zuplo.consumers()[0];
    assert_eq!(
        consumer.managers,
        vec!["alice+happy@example.com".to_owned()]
    );
    assert_eq!(consumer.metadata["provider"], "cognito");
    assert_eq!(consumer.tags["provider"], "cognito");

    let calls = h.zuplo_calls();
    let refresh = ok(&h, &token_event("TokenGeneration_RefreshTokens", SUB)).await;
    assert_eq!(refresh["response"], sign_in["response"]);
    assert_eq!(
        h.zuplo_calls(),
        calls,
        "a cached refresh makes no Zuplo call"
    );
}

#[tokio::test]
async fn a_refresh_that_misses_the_cache_looks_the_consumer_up_first() {
    let h = Harness::start().await;
    ok(&h, &event("PostConfirmation_ConfirmSignUp", SUB, json!({}))).await;
    let id = consumer_id_of(&h, SUB);
    // Another container: nothing cached.
    let other = h.another_container().await;
    let before = h.zuplo.calls().len();
    let answer = invoke(&other, token_event("TokenGeneration_RefreshTokens", SUB))
        .await
        .unwrap();
    let calls: Vec<_> = h.zuplo.calls()[before..].to_vec();
    assert_eq!(calls.len(), 1, "{calls:?}");
    assert_eq!(calls[0].method, "GET");
    assert_eq!(
        answer["response"]["claimsOverrideDetails"]["claimsToAddOrOverride"]["zuplo_consumer_id"],
        id
    );
}

#[tokio::test]
async fn v2_and_v3_add_the_claim_to_the_id_and_access_tokens_and_keep_groups() {
    let h = Harness::start().await;
    for (version, sub) in [("2", "v2-user-1"), ("3", "v3-user-1")] {
        let sent = v2_event(version, "TokenGeneration_HostedAuth", sub);
        let answer = ok(&h, &sent).await;
        let id = consumer_id_of(&h, sub);
        assert_eq!(
            answer["response"],
            json!({"claimsAndScopeOverrideDetails": {
                "idTokenGeneration": {"claimsToAddOrOverride": {"zuplo_consumer_id": id}},
                "accessTokenGeneration": {"claimsToAddOrOverride": {"zuplo_consumer_id": id}}
            }}),
            "version {version}"
        );
        assert_eq!(
            answer["request"]["groupConfiguration"],
            sent["request"]["groupConfiguration"]
        );
    }
}

#[tokio::test]
async fn client_credentials_tokens_are_returned_unchanged() {
    let h = Harness::start().await;
    let mut m2m = v2_event("3", "TokenGeneration_ClientCredentials", "unused");
    m2m.as_object_mut().unwrap().remove("userName");
    m2m["request"] = json!({"scopes": ["orders/read"]});
    let answer = ok(&h, &m2m).await;
    assert_eq!(answer, m2m);
    assert_eq!(h.zuplo_calls() + h.secrets.calls(), 0);
}

#[tokio::test]
async fn post_confirmation_provisions_a_sign_up_and_nothing_else() {
    let h = Harness::start().await;
    let confirm = event("PostConfirmation_ConfirmSignUp", SUB, json!({}));
    let answer = ok(&h, &confirm).await;
    assert_eq!(
        answer, confirm,
        "post confirmation answers the event as it came"
    );
    consumer_id_of(&h, SUB);
    // Cognito's retries of a slow attempt overlap: still one consumer.
    ok(&h, &confirm).await;
    let other = h.another_container().await;
    invoke(&other, confirm.clone()).await.unwrap();
    consumer_id_of(&h, SUB);

    let calls = h.zuplo_calls();
    let reset = event(
        "PostConfirmation_ConfirmForgotPassword",
        "reset-user",
        json!({}),
    );
    assert_eq!(ok(&h, &reset).await, reset);
    assert_eq!(
        h.zuplo_calls(),
        calls,
        "a password reset provisions nothing"
    );
}

#[tokio::test]
async fn pre_sign_up_applies_the_sign_up_policy_and_never_provisions() {
    let h = Harness::with(Options {
        env: vec![("SIGNUP_ALLOWED_EMAIL_DOMAINS", "example.com".into())],
        ..Options::default()
    })
    .await;
    let allowed = event(
        "PreSignUp_SignUp",
        SUB,
        json!({"autoConfirmUser": false, "autoVerifyEmail": false, "autoVerifyPhone": false}),
    );
    assert_eq!(ok(&h, &allowed).await, allowed);

    let mut refused = allowed.clone();
    refused["request"]["userAttributes"] = json!({"email": "mallory@elsewhere.test"});
    let error = invoke(&h.app, refused).await.unwrap_err();
    assert_eq!(
        error.error_message,
        "Sign-up with this email address is not allowed. Use your organisation's email address."
    );
    assert!(
        !error.error_message.contains("SIGNUP_"),
        "names no configuration"
    );
    assert_eq!(h.zuplo_calls() + h.secrets.calls(), 0);
}

#[tokio::test]
async fn events_without_a_user_are_returned_unchanged() {
    let h = Harness::start().await;
    // The aws_lambda_events fixture: no sub among the attributes.
    let mut no_sub = v2_event("1", "TokenGeneration_Authentication", "x");
    no_sub["request"]["userAttributes"] = json!({"email": "email", "phone_number": "phone_number"});
    no_sub["response"] = json!({"claimsOverrideDetails": null});
    assert_eq!(ok(&h, &no_sub).await, no_sub);
    assert_eq!(h.zuplo_calls(), 0);
    let metrics = h.metrics();
    assert_eq!(metrics.last().unwrap()["Reason"], "payload");
}

#[tokio::test]
async fn a_consumer_named_for_cognito_is_named_for_the_pool_and_sub() {
    // Pins the key the hooks and a later sync must agree on.
    let h = Harness::start().await;
    ok(&h, &token_event("TokenGeneration_Authentication", SUB)).await;
    let expected = uuid::Uuid::new_v5(
        &uuid::Uuid::parse_str("6d1c6a2e-58b4-4f0a-9a39-7c1e2f4b8d05").unwrap(),
        format!("cognito:{POOL}:{SUB}").as_bytes(),
    );
    assert_eq!(h.zuplo.consumers()[0].name, format!("c-{expected}"));
}

fn slow_zuplo(h: &Harness) {
    for _ in 0..6 {
        h.zuplo.push_fault(Fault {
            method: None,
            delay_ms: 10_000,
            action: FaultAction::Pass,
        });
    }
}

#[tokio::test]
async fn a_slow_zuplo_is_answered_per_fail_mode_inside_the_budget() {
    for mode in ["open", "closed"] {
        let h = Arc::new(
            Harness::with(Options {
                env: vec![("FAIL_MODE", mode.into())],
                warm_up: true,
                ..Options::default()
            })
            .await,
        );
        slow_zuplo(&h);
        let sign_in = token_event("TokenGeneration_Authentication", &format!("slow-{mode}"));
        let confirm = event(
            "PostConfirmation_ConfirmSignUp",
            &format!("slow-pc-{mode}"),
            json!({}),
        );
        for sent in [sign_in, confirm] {
            let started = Instant::now();
            let result = invoke(&h.app, sent.clone()).await;
            let elapsed = started.elapsed();
            assert!(elapsed <= BUDGET + SLACK, "{mode}: {elapsed:?}");
            match mode {
                "open" => assert_eq!(result.unwrap(), sent, "unchanged: tokens without the claim"),
                _ => {
                    let error = result.unwrap_err();
                    assert_eq!(
                        error.error_message,
                        "Sign-in is temporarily unavailable. Please try again shortly."
                    );
                }
            }
        }
        let outcome = format!(
            "Provision Failed{}",
            if mode == "open" { "Open" } else { "Closed" }
        )
        .replace(' ', "");
        assert!(
            h.metrics()
                .iter()
                .any(|m| m.get(&outcome) == Some(&json!(1)))
        );
    }
}

#[tokio::test]
async fn zuplo_errors_under_fail_closed_refuse_with_a_short_message() {
    let h = Harness::with(Options {
        env: vec![("FAIL_MODE", "closed".into())],
        ..Options::default()
    })
    .await;
    h.zuplo.push_fault(Fault {
        method: None,
        delay_ms: 0,
        action: FaultAction::Status {
            status: 400,
            retry_after: None,
        },
    });
    let error = invoke(
        &h.app,
        token_event("TokenGeneration_NewPasswordChallenge", "bad"),
    )
    .await
    .unwrap_err();
    assert!(!error.error_message.contains("400"), "{error:?}");
    assert!(!error.error_message.contains("Zuplo"), "{error:?}");
}
