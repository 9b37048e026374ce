//! The Supabase Auth Hook routes, end to end: deliveries signed with real HMACs in the
//! shape the Auth server sends them, a real Secrets Manager wire protocol (moto), and
//! the Zuplo stand-in, all over loopback. Answers are checked against the Auth server's
//! own acceptance rules (`supabase_accepts_claims`), not just against our expectations.

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use common::*;
use serde_json::{Value, json};
use zuplo_standin::{Fault, FaultAction};

fn consumer_name_for(user_id: &str) -> String {
    let namespace = uuid::Uuid::parse_str("6d1c6a2e-58b4-4f0a-9a39-7c1e2f4b8d05").unwrap();
    let key = format!("supabase:{SUPABASE_ISS}:{user_id}");
    format!("c-{}", uuid::Uuid::new_v5(&namespace, key.as_bytes()))
}

fn claims_of(answer: &Answer) -> &serde_json::Map<String, Value> {
    answer.json["claims"]
        .as_object()
        .unwrap_or_else(|| panic!("no claims in {}", answer.text))
}

/// Every input claim is in the output with the same value, and nothing else was added
/// but `extra`.
fn assert_echoed(input: &Value, answer: &Answer, extra: &[&str]) {
    let output = claims_of(answer);
    for (k, v) in input.as_object().unwrap() {
        assert_eq!(output.get(k), Some(v), "claim {k} changed: {}", answer.text);
    }
    let added: Vec<_> = output
        .keys()
        .filter(|k| !input.as_object().unwrap().contains_key(*k))
        .map(String::as_str)
        .collect();
    assert_eq!(added, extra, "{}", answer.text);
}

#[tokio::test]
async fn a_new_user_gets_the_consumer_id_and_every_claim_back_unchanged() {
    let h = Harness::start().await;
    let claims = supabase_claims("u-alice");
    let answer = h
        .supabase(CAT, &access_token_body("u-alice", &claims, "password"))
        .await;
    supabase_accepts_claims(&answer).unwrap();
    assert_eq!(answer.content_type, "application/json");
    assert_echoed(&claims, &answer, &["zuplo_consumer_id"]);
    // Integers stay integers (a float `exp` would fail the Auth server's schema).
    let exp = claims["exp"].as_i64().unwrap();
    assert!(
        answer.text.contains(&format!("\"exp\":{exp}")),
        "{}",
        answer.text
    );

    let consumers = h.zuplo.consumers();
    assert_eq!(consumers.len(), 1);
    let c = &consumers[0];
    assert_eq!(answer.json["claims"]["zuplo_consumer_id"], c.id.as_str());
    assert_eq!(c.name, consumer_name_for("u-alice"));
    assert_eq!(c.managers, vec!["u-alice@example.com".to_owned()]);
    assert_eq!(c.metadata["provider"], "supabase");
    assert_eq!(c.metadata["userId"], "u-alice");
    assert!(!answer.text.contains(&c.api_keys[0].key));
}

#[tokio::test]
async fn aud_is_accepted_as_a_string_or_an_array_and_kept_as_sent() {
    let h = Harness::start().await;
    for (user, aud) in [
        ("u-aud-str", json!("authenticated")),
        ("u-aud-arr", json!(["authenticated"])),
    ] {
        let mut claims = supabase_claims(user);
        claims["aud"] = aud.clone();
        let answer = h
            .supabase(CAT, &access_token_body(user, &claims, "password"))
            .await;
        supabase_accepts_claims(&answer).unwrap();
        assert_eq!(answer.json["claims"]["aud"], aud);
    }
    assert_eq!(h.zuplo.consumers().len(), 2);
}

#[tokio::test]
async fn a_refresh_for_a_cached_user_makes_no_zuplo_call() {
    let h = Harness::start().await;
    let claims = supabase_claims("u-bob");
    let first = h
        .supabase(CAT, &access_token_body("u-bob", &claims, "password"))
        .await;
    let calls = h.zuplo_calls();
    assert_eq!(calls, 1);
    let refresh = h
        .supabase(CAT, &access_token_body("u-bob", &claims, "token_refresh"))
        .await;
    supabase_accepts_claims(&refresh).unwrap();
    assert_eq!(
        refresh.json["claims"]["zuplo_consumer_id"],
        first.json["claims"]["zuplo_consumer_id"]
    );
    assert_eq!(h.zuplo_calls(), calls);
}

#[tokio::test]
async fn a_refresh_that_misses_the_cache_costs_one_lookup() {
    let h = Harness::with(Options {
        env: vec![("CONSUMER_CACHE_TTL_SECONDS", "0".into())],
        ..Options::default()
    })
    .await;
    let claims = supabase_claims("u-carol");
    let first = h
        .supabase(CAT, &access_token_body("u-carol", &claims, "password"))
        .await;
    let refresh = h
        .supabase(CAT, &access_token_body("u-carol", &claims, "token_refresh"))
        .await;
    supabase_accepts_claims(&refresh).unwrap();
    assert_eq!(
        refresh.json["claims"]["zuplo_consumer_id"],
        first.json["claims"]["zuplo_consumer_id"]
    );
    let calls: Vec<_> = h
        .zuplo
        .calls()
        .iter()
        .map(|c| (c.method.clone(), c.status))
        .collect();
    assert_eq!(
        calls,
        vec![("POST".to_owned(), 200), ("GET".to_owned(), 200)]
    );
}

#[tokio::test]
async fn a_refresh_for_a_user_with_no_consumer_yet_creates_one() {
    // E.g. the first token was issued while Zuplo was down and FAIL_MODE=open.
    let h = Harness::start().await;
    let claims = supabase_claims("u-late");
    let answer = h
        .supabase(CAT, &access_token_body("u-late", &claims, "token_refresh"))
        .await;
    supabase_accepts_claims(&answer).unwrap();
    assert_eq!(h.zuplo.consumers().len(), 1);
    let statuses: Vec<_> = h.zuplo.calls().iter().map(|c| c.status).collect();
    assert_eq!(statuses, vec![404, 200]);
}

#[tokio::test]
async fn claims_that_already_carry_the_consumer_are_echoed_with_no_zuplo_call() {
    let h = Harness::start().await;
    let mut top = supabase_claims("u-dave");
    top["zuplo_consumer_id"] = json!("csmr_existing1");
    let answer = h
        .supabase(CAT, &access_token_body("u-dave", &top, "password"))
        .await;
    supabase_accepts_claims(&answer).unwrap();
    assert_echoed(&top, &answer, &[]);

    // Stored by the operator in app_metadata: also exposed at the top level.
    let mut nested = supabase_claims("u-dave");
    nested["app_metadata"]["zuplo_consumer_id"] = json!("csmr_existing2");
    let answer = h
        .supabase(CAT, &access_token_body("u-dave", &nested, "token_refresh"))
        .await;
    supabase_accepts_claims(&answer).unwrap();
    assert_echoed(&nested, &answer, &["zuplo_consumer_id"]);
    assert_eq!(answer.json["claims"]["zuplo_consumer_id"], "csmr_existing2");
    assert_eq!(h.zuplo_calls(), 0);
}

#[tokio::test]
async fn a_stored_consumer_claim_that_is_not_an_id_is_replaced() {
    let h = Harness::start().await;
    for (user, bad) in [
        ("u-bad1", json!("")),
        ("u-bad2", json!(0)),
        ("u-bad3", json!({})),
    ] {
        let mut claims = supabase_claims(user);
        claims["app_metadata"]["zuplo_consumer_id"] = bad.clone();
        claims["zuplo_consumer_id"] = bad;
        let answer = h
            .supabase(CAT, &access_token_body(user, &claims, "password"))
            .await;
        supabase_accepts_claims(&answer).unwrap();
        let id = answer.json["claims"]["zuplo_consumer_id"].as_str().unwrap();
        assert!(id.starts_with("csmr_"), "{user}: {id}");
    }
    assert_eq!(h.zuplo.consumers().len(), 3);
}

fn anonymous_claims(user_id: &str) -> Value {
    let mut claims = supabase_claims(user_id);
    claims["email"] = json!("");
    claims["is_anonymous"] = json!(true);
    claims["app_metadata"] = json!({});
    claims["user_metadata"] = json!({});
    claims
}

#[tokio::test]
async fn anonymous_users_are_left_alone_unless_enabled() {
    let h = Harness::start().await;
    let claims = anonymous_claims("u-anon");
    let answer = h
        .supabase(CAT, &access_token_body("u-anon", &claims, "anonymous"))
        .await;
    supabase_accepts_claims(&answer).unwrap();
    assert_echoed(&claims, &answer, &[]);
    assert_eq!(h.zuplo_calls(), 0);

    let h = Harness::with(Options {
        env: vec![("PROVISION_ANONYMOUS", "true".into())],
        ..Options::default()
    })
    .await;
    let answer = h
        .supabase(CAT, &access_token_body("u-anon", &claims, "anonymous"))
        .await;
    supabase_accepts_claims(&answer).unwrap();
    assert_echoed(&claims, &answer, &["zuplo_consumer_id"]);
    let consumers = h.zuplo.consumers();
    assert_eq!(consumers.len(), 1);
    // No email, so no manager to invite.
    assert!(consumers[0].managers.is_empty());
}

fn zuplo_down(h: &Harness) {
    // One 500 per attempt the client makes: it outlasts the retries.
    for _ in 0..zuplo_auth_hooks::retry::ZUPLO.max_attempts {
        h.zuplo.push_fault(Fault {
            method: None,
            delay_ms: 0,
            action: FaultAction::Status {
                status: 500,
                retry_after: None,
            },
        });
    }
}

#[tokio::test]
async fn zuplo_failure_under_fail_open_issues_the_token_without_the_claim() {
    let h = Harness::start().await;
    zuplo_down(&h);
    let claims = supabase_claims("u-erin");
    let answer = h
        .supabase(CAT, &access_token_body("u-erin", &claims, "password"))
        .await;
    supabase_accepts_claims(&answer).unwrap();
    assert_echoed(&claims, &answer, &[]);
    assert!(h.zuplo_calls() >= 1);
}

#[tokio::test]
async fn zuplo_failure_under_fail_closed_refuses_with_a_200_error_object() {
    let h = Harness::with(Options {
        env: vec![("FAIL_MODE", "closed".into())],
        ..Options::default()
    })
    .await;
    zuplo_down(&h);
    let claims = supabase_claims("u-frank");
    let answer = h
        .supabase(CAT, &access_token_body("u-frank", &claims, "password"))
        .await;
    assert_eq!(answer.status, 200);
    assert_eq!(answer.content_type, "application/json");
    assert_eq!(answer.json["error"]["http_code"], 503);
    let message = answer.json["error"]["message"].as_str().unwrap();
    assert!(!message.is_empty());
    // Nothing internal reaches the user.
    for internal in ["Zuplo", "500", "csmr", "consumer"] {
        assert!(!message.contains(internal), "{message}");
    }
    assert!(answer.json.get("claims").is_none());
}

#[tokio::test]
async fn a_slow_zuplo_is_cut_off_at_the_supabase_budget() {
    let h = Harness::with(Options {
        env: vec![("SUPABASE_BUDGET_MS", "500".into())],
        ..Options::default()
    })
    .await;
    h.zuplo.push_fault(Fault {
        method: None,
        delay_ms: 10_000,
        action: FaultAction::Pass,
    });
    let claims = supabase_claims("u-slow");
    let started = Instant::now();
    let answer = h
        .supabase(CAT, &access_token_body("u-slow", &claims, "password"))
        .await;
    let elapsed = started.elapsed();
    supabase_accepts_claims(&answer).unwrap();
    assert_echoed(&claims, &answer, &[]);
    assert!(elapsed < Duration::from_millis(1500), "{elapsed:?}");
}

#[tokio::test]
async fn twenty_concurrent_first_tokens_make_exactly_one_consumer() {
    let h = Arc::new(Harness::start().await);
    let claims = supabase_claims("u-gina");
    let tasks: Vec<_> = (0..20)
        .map(|_| {
            let (h, body) = (h.clone(), access_token_body("u-gina", &claims, "password"));
            tokio::spawn(async move { h.supabase(CAT, &body).await })
        })
        .collect();
    let mut ids = Vec::new();
    for t in tasks {
        let answer = t.await.unwrap();
        supabase_accepts_claims(&answer).unwrap();
        ids.push(answer.json["claims"]["zuplo_consumer_id"].clone());
    }
    let consumers = h.zuplo.consumers();
    assert_eq!(consumers.len(), 1);
    assert!(
        ids.iter().all(|id| id == consumers[0].id.as_str()),
        "{ids:?}"
    );
    // The others waited for the first one instead of each creating, 409ing and looking up.
    assert_eq!(h.zuplo_calls(), 1);
}

#[tokio::test]
async fn unsigned_or_forged_deliveries_are_refused_with_no_zuplo_call() {
    let h = Harness::start().await;
    let body = access_token_body("u-mallory", &supabase_claims("u-mallory"), "password");
    let t = now();
    let good = webhook_signature(HOOK_SECRET, "msg_1", t, &body);
    let other_secret = "v1,whsec_b3RoZXItc2VjcmV0LW9mLTMyLWJ5dGVzLWxvbmchISE=";
    let cases: Vec<(&str, Vec<(&str, String)>)> = vec![
        ("no headers", vec![]),
        (
            "no signature",
            vec![
                ("webhook-id", "msg_1".into()),
                ("webhook-timestamp", t.to_string()),
            ],
        ),
        (
            "no id",
            vec![
                ("webhook-timestamp", t.to_string()),
                ("webhook-signature", good.clone()),
            ],
        ),
        (
            "no timestamp",
            vec![
                ("webhook-id", "msg_1".into()),
                ("webhook-signature", good.clone()),
            ],
        ),
        (
            "other id",
            vec![
                ("webhook-id", "msg_2".into()),
                ("webhook-timestamp", t.to_string()),
                ("webhook-signature", good.clone()),
            ],
        ),
        (
            "wrong secret",
            vec![
                ("webhook-id", "msg_1".into()),
                ("webhook-timestamp", t.to_string()),
                (
                    "webhook-signature",
                    webhook_signature(other_secret, "msg_1", t, &body),
                ),
            ],
        ),
        (
            "replayed 10 minutes later",
            vec![
                ("webhook-id", "msg_1".into()),
                ("webhook-timestamp", (t - 600).to_string()),
                (
                    "webhook-signature",
                    webhook_signature(HOOK_SECRET, "msg_1", t - 600, &body),
                ),
            ],
        ),
        (
            "garbage signature",
            vec![
                ("webhook-id", "msg_1".into()),
                ("webhook-timestamp", t.to_string()),
                ("webhook-signature", "v1,not-base64!!".into()),
            ],
        ),
    ];
    for path in [CAT, BUC] {
        for (case, headers) in &cases {
            let mut headers = headers.clone();
            headers.push(("content-type", "application/json".into()));
            let answer = h
                .send(request_with_headers("POST", path, &body, &headers))
                .await;
            assert_eq!(answer.status, 401, "{path} {case}: {}", answer.text);
            assert_eq!(answer.json["error"]["http_code"], 401, "{case}");
            assert!(!answer.text.contains(&good), "{case}");
        }
    }
    // A body changed after signing.
    let tampered = body.replace("u-mallory@example.com", "victim@example.com");
    let answer = h
        .send(request_with_headers(
            "POST",
            CAT,
            &tampered,
            &[
                ("webhook-id", "msg_1".into()),
                ("webhook-timestamp", t.to_string()),
                ("webhook-signature", good.clone()),
            ],
        ))
        .await;
    assert_eq!(answer.status, 401);
    assert_eq!(h.zuplo_calls(), 0);
}

#[tokio::test]
async fn a_base64_encoded_function_url_body_is_verified_over_the_decoded_bytes() {
    use base64::Engine;
    let h = Harness::start().await;
    let claims = supabase_claims("u-b64");
    let body = access_token_body("u-b64", &claims, "password");
    let t = now();
    let event = json!({
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": CAT,
        "rawQueryString": "",
        "headers": {
            "content-type": "application/json",
            "webhook-id": "msg_b64",
            "webhook-timestamp": t.to_string(),
            "webhook-signature": webhook_signature(HOOK_SECRET, "msg_b64", t, &body),
        },
        "requestContext": {
            "http": {"method": "POST", "path": CAT, "protocol": "HTTP/1.1", "sourceIp": "203.0.113.9", "userAgent": "Go-http-client/1.1"},
            "requestId": "req-b64", "routeKey": "$default", "stage": "$default",
            "accountId": "anonymous", "apiId": "abc", "domainName": "abc.lambda-url.us-east-1.on.aws", "domainPrefix": "abc",
            "time": "26/Nov/2026:01:00:00 +0000", "timeEpoch": 1795395600000u64
        },
        "body": base64::engine::general_purpose::STANDARD.encode(&body),
        "isBase64Encoded": true
    });
    let answer = h.send(event).await;
    supabase_accepts_claims(&answer).unwrap();
    assert_echoed(&claims, &answer, &["zuplo_consumer_id"]);
}

#[tokio::test]
async fn without_a_configured_hook_secret_nothing_is_accepted() {
    let h = Harness::with(Options {
        secret: Some(json!({"zuplo_api_key": ZUPLO_TOKEN}).to_string()),
        ..Options::default()
    })
    .await;
    let body = access_token_body("u-x", &supabase_claims("u-x"), "password");
    let answer = h.supabase(CAT, &body).await;
    assert_eq!(answer.status, 404, "{}", answer.text);
    assert!(answer.text.contains("not enabled"));

    let h = Harness::with(Options {
        secret: Some(
            json!({"zuplo_api_key": ZUPLO_TOKEN, "supabase_hook_secret": "whsec_dG9vLXNob3J0"})
                .to_string(),
        ),
        ..Options::default()
    })
    .await;
    let answer = h.supabase(CAT, &body).await;
    assert_eq!(answer.status, 500, "{}", answer.text);
    assert!(answer.text.contains("misconfigured"));
    assert!(!answer.text.contains("dG9vLXNob3J0"));
    assert_eq!(h.zuplo_calls(), 0);
}

#[tokio::test]
async fn a_rotated_secret_pair_accepts_either_signature() {
    let old = "v1,whsec_b2xkLXNlY3JldC1vZi0zMi1ieXRlcy1sb25nISEhISE=";
    let h = Harness::with(Options {
        secret: Some(
            json!({"zuplo_api_key": ZUPLO_TOKEN, "supabase_hook_secret": format!("{old}|{HOOK_SECRET}")})
                .to_string(),
        ),
        ..Options::default()
    })
    .await;
    for secret in [old, HOOK_SECRET] {
        let user = format!("u-rot-{}", secret.len());
        let body = access_token_body(&user, &supabase_claims(&user), "password");
        let answer = h.send(signed_request(CAT, &body, secret, now())).await;
        supabase_accepts_claims(&answer).unwrap();
    }
}

#[tokio::test]
async fn verified_but_unusable_payloads_are_refused_with_a_200_decision() {
    let h = Harness::start().await;
    let cases = [
        ("not json", "{oops".to_owned()),
        ("no claims", json!({"user_id": "u-1"}).to_string()),
        (
            "before-user-created payload on the token route",
            before_user_created_body("a@example.com", false),
        ),
        (
            "user_id differs from sub",
            access_token_body("u-1", &supabase_claims("u-2"), "password"),
        ),
        (
            "empty user_id",
            access_token_body("", &supabase_claims("u-2"), "password"),
        ),
    ];
    for (case, body) in cases {
        let answer = h.supabase(CAT, &body).await;
        assert_eq!(answer.status, 200, "{case}");
        assert_eq!(
            answer.json["error"]["http_code"], 400,
            "{case}: {}",
            answer.text
        );
        assert!(
            !answer.json["error"]["message"].as_str().unwrap().is_empty(),
            "{case}"
        );
    }
    let answer = h
        .supabase(
            BUC,
            &access_token_body("u-1", &supabase_claims("u-1"), "password"),
        )
        .await;
    assert_eq!(answer.json["error"]["http_code"], 400, "{}", answer.text);
    assert_eq!(h.zuplo_calls(), 0);
}

#[tokio::test]
async fn before_user_created_allows_by_default_and_never_provisions() {
    let h = Harness::start().await;
    for (email, anonymous) in [("new@anything.test", false), ("", true), ("", false)] {
        let answer = h
            .supabase(BUC, &before_user_created_body(email, anonymous))
            .await;
        assert_eq!(answer.status, 200, "{}", answer.text);
        assert_eq!(answer.content_type, "application/json");
        assert_eq!(answer.text, "{}");
    }
    assert_eq!(h.zuplo_calls(), 0);
}

#[tokio::test]
async fn before_user_created_enforces_the_email_domain_list() {
    let h = Harness::with(Options {
        env: vec![(
            "SIGNUP_ALLOWED_EMAIL_DOMAINS",
            "example.com, corp.example.org".into(),
        )],
        ..Options::default()
    })
    .await;
    for allowed in ["ada@example.com", "Grace@Corp.Example.org"] {
        let answer = h
            .supabase(BUC, &before_user_created_body(allowed, false))
            .await;
        assert_eq!(
            (answer.status, answer.text.as_str()),
            (200, "{}"),
            "{allowed}"
        );
    }
    for refused in [
        "eve@evil.test",
        "eve@sub.example.com",
        "eve@example.com.evil.test",
    ] {
        let answer = h
            .supabase(BUC, &before_user_created_body(refused, false))
            .await;
        assert_eq!(answer.status, 200, "{refused}");
        assert_eq!(answer.content_type, "application/json");
        assert_eq!(answer.json["error"]["http_code"], 403, "{refused}");
        let message = answer.json["error"]["message"].as_str().unwrap();
        assert!(!message.is_empty());
        assert!(!message.contains("corp.example.org"), "{message}");
    }
    // No email at all (phone sign-up): the domain list does not apply.
    let answer = h.supabase(BUC, &before_user_created_body("", false)).await;
    assert_eq!(answer.text, "{}");
    assert_eq!(h.zuplo_calls(), 0);
}

#[tokio::test]
async fn before_user_created_can_require_an_email() {
    let h = Harness::with(Options {
        env: vec![("SIGNUP_REQUIRE_EMAIL", "true".into())],
        ..Options::default()
    })
    .await;
    for (email, anonymous) in [("", false), ("", true)] {
        let answer = h
            .supabase(BUC, &before_user_created_body(email, anonymous))
            .await;
        assert_eq!(answer.status, 200);
        assert_eq!(answer.json["error"]["http_code"], 403, "{}", answer.text);
        assert!(!answer.json["error"]["message"].as_str().unwrap().is_empty());
    }
    let answer = h
        .supabase(BUC, &before_user_created_body("ok@example.com", false))
        .await;
    assert_eq!(answer.text, "{}");
}
