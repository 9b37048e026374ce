//! The Firebase blocking-function routes, end to end: real RS256 tokens, a real
//! Secrets Manager wire protocol (moto), and the Zuplo stand-in, all over loopback.

mod common;

use std::time::{Duration, Instant};

use common::*;
use serde_json::{Value, json};
use zuplo_standin::{Fault, FaultAction};

#[tokio::test]
async fn before_create_provisions_and_returns_the_consumer_id() {
    let h = Harness::start().await;
    let (status, body) = h
        .before_create(&sign(&claims("alice", "beforeCreate")))
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["userRecord"]["updateMask"], "customClaims");
    let consumers = h.zuplo.consumers();
    assert_eq!(consumers.len(), 1);
    let c = &consumers[0];
    assert_eq!(consumer_claim(&body), Some(c.id.as_str()));
    assert!(c.id.starts_with("csmr_"));
    assert!(c.name.starts_with("c-") && c.name.len() == 38, "{}", c.name);
    assert_eq!(c.managers, vec!["alice@example.com".to_owned()]);
    assert_eq!(c.metadata["provider"], "firebase");
    assert_eq!(c.metadata["userId"], "alice");
    assert_eq!(c.tags.get("provider").map(String::as_str), Some("firebase"));
    // The consumer got a key, but it appears nowhere in our answer.
    assert_eq!(c.api_keys.len(), 1);
    assert!(!body.to_string().contains(&c.api_keys[0].key));
    let create = &h.zuplo.calls()[0];
    assert_eq!(create.method, "POST");
    assert!(
        create.query.contains("with-api-key=true"),
        "{}",
        create.query
    );
}

#[tokio::test]
async fn existing_custom_claims_are_kept_and_merged() {
    let h = Harness::start().await;
    let mut c = claims("bob", "beforeCreate");
    c["user_record"]["custom_claims"] = json!({"admin": true, "group_id": "g1"});
    let (status, body) = h.before_create(&sign(&c)).await;
    assert_eq!(status, 200, "{body}");
    let merged = &body["userRecord"]["customClaims"];
    assert_eq!(merged["admin"], true);
    assert_eq!(merged["group_id"], "g1");
    assert_eq!(
        merged["zuplo_consumer_id"],
        h.zuplo.consumers()[0].id.as_str()
    );
    assert_eq!(merged.as_object().unwrap().len(), 3);
}

#[tokio::test]
async fn merged_claims_over_1000_bytes_fail_per_fail_mode() {
    for (mode, expected_status) in [("open", 200), ("closed", 503)] {
        let h = Harness::with(Options {
            env: vec![("FAIL_MODE", mode.into())],
            ..Options::default()
        })
        .await;
        // 990 bytes of existing claims: fine alone, too big with the consumer id added.
        let mut c = claims("carol", "beforeCreate");
        c["user_record"]["custom_claims"] = json!({"blob": "x".repeat(980)});
        let (status, body) = h.before_create(&sign(&c)).await;
        assert_eq!(status, expected_status, "{mode}: {body}");
        if mode == "open" {
            assert_eq!(body, json!({}));
        } else {
            assert_eq!(body["error"]["status"], "UNAVAILABLE");
        }
    }
}

#[tokio::test]
async fn claims_just_under_the_limit_pass() {
    let h = Harness::start().await;
    // {"blob":"<n>","zuplo_consumer_id":"csmr_<24>"} is n + 63 bytes: exactly the limit.
    let n = 1000 - 63;
    let mut c = claims("dave", "beforeCreate");
    c["user_record"]["custom_claims"] = json!({"blob": "x".repeat(n)});
    let (status, body) = h.before_create(&sign(&c)).await;
    assert_eq!(status, 200, "{body}");
    let size = serde_json::to_vec(&body["userRecord"]["customClaims"])
        .unwrap()
        .len();
    assert_eq!(size, 1000);
}

#[tokio::test]
async fn the_same_user_twice_gets_one_consumer_and_the_same_id() {
    let h = Harness::start().await;
    let (_, first) = h
        .before_create(&sign(&claims("erin", "beforeCreate")))
        .await;
    let (status, second) = h
        .before_create(&sign(&claims("erin", "beforeCreate")))
        .await;
    assert_eq!(status, 200);
    assert_eq!(consumer_claim(&first), consumer_claim(&second));
    assert!(consumer_claim(&first).is_some());
    assert_eq!(h.zuplo.consumers().len(), 1);
    // The second answer comes from the container's memory.
    assert_eq!(h.zuplo_calls(), 1);
}

#[tokio::test]
async fn a_repeat_in_another_container_resolves_the_409_to_the_same_consumer() {
    // A cache TTL of 0 behaves like a fresh container for every request.
    let h = Harness::with(Options {
        env: vec![("CONSUMER_CACHE_TTL_SECONDS", "0".into())],
        ..Options::default()
    })
    .await;
    let (_, first) = h
        .before_create(&sign(&claims("erin", "beforeCreate")))
        .await;
    let (status, second) = h
        .before_create(&sign(&claims("erin", "beforeCreate")))
        .await;
    assert_eq!(status, 200);
    assert_eq!(consumer_claim(&first), consumer_claim(&second));
    assert!(consumer_claim(&first).is_some());
    assert_eq!(h.zuplo.consumers().len(), 1);
    // Second time: 409 then a lookup by name.
    let methods: Vec<_> = h
        .zuplo
        .calls()
        .iter()
        .map(|c| (c.method.clone(), c.status))
        .collect();
    assert_eq!(
        methods,
        vec![
            ("POST".into(), 200),
            ("POST".into(), 409),
            ("GET".into(), 200)
        ]
    );
}

#[tokio::test]
async fn twenty_concurrent_requests_for_one_new_user_make_one_consumer() {
    let h = std::sync::Arc::new(Harness::start().await);
    let jwt = sign(&claims("frank", "beforeCreate"));
    let tasks: Vec<_> = (0..20)
        .map(|_| {
            let (h, jwt) = (h.clone(), jwt.clone());
            tokio::spawn(async move { h.before_create(&jwt).await })
        })
        .collect();
    let mut ids = Vec::new();
    for t in tasks {
        let (status, body) = t.await.unwrap();
        assert_eq!(status, 200, "{body}");
        ids.push(consumer_claim(&body).map(str::to_owned));
    }
    let consumers = h.zuplo.consumers();
    assert_eq!(consumers.len(), 1);
    assert!(
        ids.iter()
            .all(|id| id.as_deref() == Some(consumers[0].id.as_str())),
        "{ids:?}"
    );
}

#[tokio::test]
async fn different_users_and_tenants_get_different_consumers() {
    let h = Harness::start().await;
    let mut tenant_user = claims("gina", "beforeCreate");
    tenant_user["tenant_id"] = json!("tenant-a");
    tenant_user["user_record"]["tenant_id"] = json!("tenant-a");
    let (_, a) = h
        .before_create(&sign(&claims("gina", "beforeCreate")))
        .await;
    let (_, b) = h.before_create(&sign(&tenant_user)).await;
    let (_, c) = h
        .before_create(&sign(&claims("hank", "beforeCreate")))
        .await;
    let ids: Vec<_> = [&a, &b, &c]
        .iter()
        .map(|v| consumer_claim(v).unwrap().to_owned())
        .collect();
    assert_ne!(ids[0], ids[1]);
    assert_ne!(ids[0], ids[2]);
    assert_eq!(h.zuplo.consumers().len(), 3);
    let tenant = h
        .zuplo
        .consumers()
        .into_iter()
        .find(|c| c.id == ids[1])
        .unwrap();
    assert_eq!(tenant.metadata["tenant"], "tenant-a");
}

#[tokio::test]
async fn phone_user_without_email_has_no_manager() {
    let h = Harness::start().await;
    let mut c = claims("ivan", "beforeCreate");
    c["sign_in_method"] = json!("phone");
    c["user_record"] = json!({"uid": "ivan", "phone_number": "+15550100", "custom_claims": {}});
    let (status, body) = h.before_create(&sign(&c)).await;
    assert_eq!(status, 200, "{body}");
    assert!(h.zuplo.consumers()[0].managers.is_empty());
}

#[tokio::test]
async fn unverified_email_is_not_a_manager_when_verification_is_required() {
    let h = Harness::with(Options {
        env: vec![("REQUIRE_VERIFIED_EMAIL", "true".into())],
        ..Options::default()
    })
    .await;
    let mut c = claims("judy", "beforeCreate");
    c["user_record"]["email_verified"] = json!(false);
    let (status, body) = h.before_create(&sign(&c)).await;
    assert_eq!(status, 200, "{body}");
    assert!(consumer_claim(&body).is_some());
    assert!(h.zuplo.consumers()[0].managers.is_empty());
}

#[tokio::test]
async fn before_sign_in_with_the_claim_present_calls_nothing() {
    let h = Harness::start().await;
    let mut c = claims("kate", "beforeSignIn");
    c["user_record"]["custom_claims"] = json!({"zuplo_consumer_id": "csmr_existing"});
    let (status, body) = h.before_sign_in(&sign(&c)).await;
    assert_eq!(status, 200);
    assert_eq!(body, json!({}));
    assert_eq!(h.zuplo_calls(), 0);
    assert_eq!(h.secrets.calls(), 0);
}

#[tokio::test]
async fn before_sign_in_without_the_claim_reconciles() {
    let h = Harness::start().await;
    let mut c = claims("leo", "beforeSignIn");
    c["user_record"]["custom_claims"] = json!({"plan": "pro"});
    let (status, body) = h.before_sign_in(&sign(&c)).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["userRecord"]["customClaims"]["plan"], "pro");
    assert_eq!(
        consumer_claim(&body),
        Some(h.zuplo.consumers()[0].id.as_str())
    );
}

#[tokio::test]
async fn reconcile_after_a_failed_open_sign_up_finds_the_same_consumer() {
    let h = Harness::start().await;
    // The create reached Zuplo but the answer was lost, and every retry failed too:
    // sign-up proceeds without the claim.
    h.zuplo.push_fault(Fault {
        action: FaultAction::DropAfterWrite,
        ..Fault::default()
    });
    for _ in 1..zuplo_auth_hooks::retry::ZUPLO.max_attempts {
        h.zuplo.push_fault(Fault {
            action: FaultAction::DropConnection,
            ..Fault::default()
        });
    }
    let (status, body) = h.before_create(&sign(&claims("mia", "beforeCreate"))).await;
    assert_eq!((status, body), (200, json!({})));
    assert_eq!(h.zuplo.consumers().len(), 1);
    // The next sign-in reconciles to that consumer rather than making a second one.
    let (status, body) = h
        .before_sign_in(&sign(&claims("mia", "beforeSignIn")))
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(h.zuplo.consumers().len(), 1);
    assert_eq!(
        consumer_claim(&body),
        Some(h.zuplo.consumers()[0].id.as_str())
    );
}

/// Each case must be refused with a non-200 blocking error, and never reach Zuplo
/// or Secrets Manager.
#[tokio::test]
async fn forged_or_malformed_tokens_are_rejected_without_any_call() {
    let h = Harness::start().await;
    let good = claims("nina", "beforeCreate");
    let with = |path: &str, v: Value| {
        let mut c = good.clone();
        let (head, last) = path.rsplit_once('/').unwrap();
        let target = if head.is_empty() {
            &mut c
        } else {
            c.pointer_mut(head).unwrap()
        };
        target[last] = v;
        c
    };
    let hs256 = {
        let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256);
        header.kid = Some(KID.into());
        jsonwebtoken::encode(
            &header,
            &good,
            &jsonwebtoken::EncodingKey::from_secret(SIGNING_CERT.as_bytes()),
        )
        .unwrap()
    };
    let tampered = {
        let t = sign(&good);
        let mut parts: Vec<String> = t.split('.').map(str::to_owned).collect();
        parts[1] = b64url(
            with("/sub", json!("mallory"))
                .to_string()
                .replace("\"uid\":\"nina\"", "\"uid\":\"mallory\"")
                .as_bytes(),
        );
        parts.join(".")
    };
    let cases: Vec<(&str, String, u16)> = vec![
        ("HS256 signed with the public cert", hs256, 401),
        ("alg none outside emulator mode", unsigned(&good), 401),
        ("no kid", sign_with(&good, SIGNING_KEY, None), 401),
        (
            "unknown kid",
            sign_with(&good, SIGNING_KEY, Some("nope")),
            401,
        ),
        (
            "signed by another key",
            sign_with(&good, OTHER_KEY, Some(KID)),
            401,
        ),
        ("payload swapped after signing", tampered, 401),
        (
            "wrong issuer",
            sign(&with("/iss", json!("https://securetoken.google.com/other"))),
            401,
        ),
        (
            "wrong audience",
            sign(&with(
                "/aud",
                json!("https://evil.example/firebase/before-create"),
            )),
            401,
        ),
        (
            "audience as a prefix",
            sign(&with("/aud", json!(format!("{AUD_CREATE}/x")))),
            401,
        ),
        (
            "audience substring",
            sign(&with(
                "/aud",
                json!("https://hooks.example.test/firebase/before-creat"),
            )),
            401,
        ),
        ("expired", sign(&with("/exp", json!(now() - 60))), 401),
        (
            "issued in the future",
            sign(&with("/iat", json!(now() + 600))),
            401,
        ),
        (
            "empty sub",
            sign(&with("/sub", json!("")).pipe(|mut c| {
                c["user_record"]["uid"] = json!("");
                c
            })),
            401,
        ),
        (
            "sub over 128 chars",
            sign(&with("/sub", json!("u".repeat(129))).pipe(|mut c| {
                c["user_record"]["uid"] = json!("u".repeat(129));
                c
            })),
            401,
        ),
        (
            "sub differs from uid",
            sign(&with("/sub", json!("someone-else"))),
            401,
        ),
        (
            "missing user_record",
            sign(&good.clone().pipe(|mut c| {
                c.as_object_mut().unwrap().remove("user_record");
                c
            })),
            401,
        ),
        (
            "wrong event type",
            sign(&with("/event_type", json!("beforeSignIn"))),
            400,
        ),
        ("not a JWT", "not.a-jwt".to_owned(), 401),
        ("garbage header", "###.###.###".to_owned(), 401),
    ];
    for (name, jwt, expected) in &cases {
        let (status, body) = h.before_create(jwt).await;
        assert_eq!(status, *expected, "{name}: {body}");
        assert!(body["error"]["message"].is_string(), "{name}: {body}");
        assert!(body["error"]["status"].is_string(), "{name}: {body}");
    }
    // Bodies that carry no token at all.
    for (name, body) in [
        ("missing data.jwt", r#"{"data":{}}"#),
        ("jwt not a string", r#"{"data":{"jwt":5}}"#),
        ("not JSON", "jwt=abc"),
        ("empty", ""),
    ] {
        let (status, resp) = h.post("/firebase/before-create", body).await;
        assert_eq!(status, 400, "{name}: {resp}");
        assert_eq!(resp["error"]["status"], "INVALID_ARGUMENT");
    }
    assert_eq!(h.zuplo_calls(), 0);
    assert_eq!(h.secrets.calls(), 0);
    assert!(h.zuplo.consumers().is_empty());
}

trait Pipe: Sized {
    fn pipe<T>(self, f: impl FnOnce(Self) -> T) -> T {
        f(self)
    }
}
impl<T> Pipe for T {}

#[tokio::test]
async fn emulator_mode_accepts_unsigned_tokens_but_keeps_every_other_check() {
    let h = Harness::with(Options {
        env: vec![("FIREBASE_AUTH_EMULATOR", "true".into())],
        ..Options::default()
    })
    .await;
    let good = claims("olga", "beforeCreate");
    let (status, body) = h.before_create(&unsigned(&good)).await;
    assert_eq!(status, 200, "{body}");
    assert!(consumer_claim(&body).is_some());
    // Signed tokens still verify in emulator mode.
    let (status, _) = h
        .before_create(&sign(&claims("olga2", "beforeCreate")))
        .await;
    assert_eq!(status, 200);

    let calls = h.zuplo_calls();
    let mut expired = good.clone();
    expired["exp"] = json!(now() - 60);
    let mut wrong_aud = good.clone();
    wrong_aud["aud"] = json!("https://evil.example/");
    let mut wrong_iss = good.clone();
    wrong_iss["iss"] = json!("https://securetoken.google.com/other");
    let with_signature = format!("{}c2ln", unsigned(&good));
    for jwt in [
        unsigned(&expired),
        unsigned(&wrong_aud),
        unsigned(&wrong_iss),
        with_signature,
    ] {
        let (status, body) = h.before_create(&jwt).await;
        assert_eq!(status, 401, "{body}");
    }
    assert_eq!(h.zuplo_calls(), calls);
}

#[tokio::test]
async fn zuplo_failure_answers_per_fail_mode_within_budget() {
    for mode in ["open", "closed"] {
        for fault in [
            FaultAction::Status {
                status: 500,
                retry_after: None,
            },
            FaultAction::Pass, // with a delay longer than the budget
        ] {
            let h = Harness::with(Options {
                env: vec![
                    ("FAIL_MODE", mode.into()),
                    ("FIREBASE_BUDGET_MS", "1500".into()),
                ],
                ..Options::default()
            })
            .await;
            let slow = matches!(fault, FaultAction::Pass);
            // Enough 500s to outlast every retry.
            for _ in 0..if slow { 1 } else { 10 } {
                h.zuplo.push_fault(Fault {
                    delay_ms: if slow { 5000 } else { 0 },
                    action: fault.clone(),
                    ..Fault::default()
                });
            }
            let started = Instant::now();
            let (status, body) = h
                .before_create(&sign(&claims("pete", "beforeCreate")))
                .await;
            let took = started.elapsed();
            if mode == "open" {
                assert_eq!((status, &body), (200, &json!({})), "{mode} slow={slow}");
            } else {
                assert_eq!(status, 503, "{mode} slow={slow}: {body}");
                assert_eq!(body["error"]["status"], "UNAVAILABLE");
                let message = body["error"]["message"].as_str().unwrap();
                assert!(
                    !message.contains("500") && !message.contains("127.0.0.1"),
                    "{message}"
                );
            }
            // Not a timing assertion on performance: the budget is a correctness bound.
            assert!(
                took < Duration::from_millis(1500 + 500),
                "{mode} slow={slow}: {took:?}"
            );
        }
    }
}

#[tokio::test]
async fn zuplo_401_refetches_the_secret_once_and_succeeds() {
    let h = Harness::with(Options {
        warm_up: true,
        ..Options::default()
    })
    .await;
    let reads_after_init = h.secrets.calls();
    assert!(reads_after_init >= 1);
    // Rotate: Zuplo now only accepts the new token, and the secret holds it.
    let rotated = "zpka_rotated_developer_token";
    put_secret(&h.secret_id, &json!({"zuplo_api_key": rotated}).to_string()).await;
    h.zuplo.set_tokens(vec![rotated.into()]);

    let (status, body) = h
        .before_create(&sign(&claims("quinn", "beforeCreate")))
        .await;
    assert_eq!(status, 200, "{body}");
    assert!(consumer_claim(&body).is_some());
    assert_eq!(h.secrets.calls(), reads_after_init + 1);
    let statuses: Vec<u16> = h.zuplo.calls().iter().map(|c| c.status).collect();
    assert_eq!(&statuses[statuses.len() - 2..], &[401, 200]);

    // The refreshed token is cached: the next user needs no Secrets Manager call.
    let (status, _) = h
        .before_create(&sign(&claims("quinn2", "beforeCreate")))
        .await;
    assert_eq!(status, 200);
    assert_eq!(h.secrets.calls(), reads_after_init + 1);
}

#[tokio::test]
async fn a_wrong_token_everywhere_fails_after_one_refresh() {
    let h = Harness::with(Options {
        env: vec![("FAIL_MODE", "closed".into())],
        secret: Some("zpka_not_the_right_one".into()),
        ..Options::default()
    })
    .await;
    let (status, body) = h
        .before_create(&sign(&claims("rita", "beforeCreate")))
        .await;
    assert_eq!(status, 503, "{body}");
    let statuses: Vec<u16> = h.zuplo.calls().iter().map(|c| c.status).collect();
    assert_eq!(statuses, vec![401, 401]);
    assert_eq!(h.secrets.calls(), 2);
    // The token in Secrets Manager is the rejected one: the next request does not
    // re-read it again right away.
    let (status, _) = h
        .before_create(&sign(&claims("rita2", "beforeCreate")))
        .await;
    assert_eq!(status, 503);
    assert_eq!(h.zuplo_calls(), 3);
    assert_eq!(h.secrets.calls(), 2);
}

#[tokio::test]
async fn an_unreadable_secret_is_a_provisioning_failure_not_a_crash() {
    for (secret, mode, expected) in [
        (None, "open", 200),
        (None, "closed", 503),
        (Some("{\"wrong_field\":\"x\"}".to_owned()), "closed", 503),
    ] {
        let h = Harness::with(Options {
            env: vec![("FAIL_MODE", mode.into())],
            secret,
            warm_up: true,
            ..Options::default()
        })
        .await;
        let (status, body) = h.before_create(&sign(&claims("sam", "beforeCreate"))).await;
        assert_eq!(status, expected, "{body}");
        assert_eq!(h.zuplo_calls(), 0);
    }
}

#[tokio::test]
async fn the_secret_is_cached_across_requests() {
    let h = Harness::start().await;
    for user in ["t1", "t2", "t3"] {
        let (status, _) = h.before_create(&sign(&claims(user, "beforeCreate"))).await;
        assert_eq!(status, 200);
    }
    assert_eq!(h.secrets.calls(), 1);
    assert_eq!(h.zuplo.consumers().len(), 3);
}

#[tokio::test]
async fn certificates_are_cached_and_unknown_kids_refetch_at_most_once() {
    let h = Harness::start().await;
    for user in ["u1", "u2"] {
        let (status, _) = h.before_create(&sign(&claims(user, "beforeCreate"))).await;
        assert_eq!(status, 200);
    }
    assert_eq!(h.certs.fetches(), 1);
    for _ in 0..3 {
        let (status, _) = h
            .before_create(&sign_with(
                &claims("u3", "beforeCreate"),
                SIGNING_KEY,
                Some("rotated-kid"),
            ))
            .await;
        assert_eq!(status, 401);
    }
    // One refetch for the unknown kid, then the rate limit holds.
    assert_eq!(h.certs.fetches(), 2);
}

#[tokio::test]
async fn a_key_rotated_in_before_expiry_is_picked_up_by_one_refetch() {
    let h = Harness::start().await;
    let (status, _) = h.before_create(&sign(&claims("v1", "beforeCreate"))).await;
    assert_eq!(status, 200);
    h.certs
        .add_cert("new-kid", include_str!("fixtures/other-test-cert.pem"));
    let (status, body) = h
        .before_create(&sign_with(
            &claims("v2", "beforeCreate"),
            OTHER_KEY,
            Some("new-kid"),
        ))
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(h.certs.fetches(), 2);
}

#[tokio::test]
async fn routing_errors_are_json() {
    let h = Harness::start().await;
    let (status, body) = h.post("/nope", "{}").await;
    assert_eq!(status, 404);
    assert_eq!(body["error"]["status"], "NOT_FOUND");

    let resp = h
        .send(request(
            "GET",
            "/firebase/before-create",
            "",
            "application/json",
        ))
        .await;
    assert_eq!(resp.status, 405);
    assert_eq!(resp.allow.as_deref(), Some("POST"));

    let big = jwt_body(&"a".repeat(zuplo_auth_hooks::entry::http::MAX_BODY_BYTES));
    let (status, body) = h.post("/firebase/before-create", &big).await;
    assert_eq!(status, 413, "{body}");

    let resp = h
        .send(request(
            "POST",
            "/firebase/before-create",
            "jwt=x",
            "application/x-www-form-urlencoded",
        ))
        .await;
    assert_eq!(resp.status, 415);
    assert_eq!(resp.content_type, "application/json");
    assert_eq!(h.zuplo_calls() + h.secrets.calls(), 0);
}

#[tokio::test]
async fn firebase_routes_are_404_when_firebase_is_not_configured() {
    // Built by hand: the harness always configures Firebase.
    let zuplo_url = "http://127.0.0.1:9";
    let env = std::collections::HashMap::from([
        ("ZUPLO_API_URL", zuplo_url.to_owned()),
        ("ZUPLO_ACCOUNT", ACCOUNT.to_owned()),
        ("ZUPLO_BUCKET", BUCKET.to_owned()),
        ("ZUPLO_SECRET_ID", "unused".to_owned()),
    ]);
    let config = zuplo_auth_hooks::Config::from_lookup(|k| env.get(k).cloned()).unwrap();
    let app = zuplo_auth_hooks::App::new(&config, &sdk_config("http://127.0.0.1:9").await, http());
    let resp = answer(
        invoke(
            &app,
            request(
                "POST",
                "/firebase/before-create",
                &jwt_body("x"),
                "application/json",
            ),
        )
        .await,
    );
    assert_eq!(resp.status, 404);
    assert!(
        resp.text.contains("Firebase hooks are not enabled"),
        "{}",
        resp.text
    );
}

/// `<provider>:<project>:<tenant>:<uid>` must read back one way only: a uid may hold
/// `:` (custom authentication), a tenant may not, so tenant `t1:x` with uid `bob` can
/// never share a consumer (or a cache entry) with tenant `t1` and uid `x:bob`.
#[tokio::test]
async fn identities_whose_name_could_be_read_two_ways_are_refused() {
    let h = Harness::start().await;
    let mut colon_uid = claims("x:bob", "beforeCreate");
    colon_uid["tenant_id"] = json!("t1");
    colon_uid["user_record"]["tenant_id"] = json!("t1");
    let (status, body) = h.before_create(&sign(&colon_uid)).await;
    assert_eq!(status, 200, "{body}");
    let first = consumer_claim(&body).map(str::to_owned);
    assert!(first.is_some());

    let mut colon_tenant = claims("bob", "beforeCreate");
    colon_tenant["tenant_id"] = json!("t1:x");
    colon_tenant["user_record"]["tenant_id"] = json!("t1:x");
    let calls = h.zuplo_calls();
    let (status, body) = h.before_create(&sign(&colon_tenant)).await;
    assert_eq!(status, 400, "{body}");
    assert!(consumer_claim(&body).is_none());
    assert_eq!(
        h.zuplo_calls(),
        calls,
        "no Zuplo call for an ambiguous identity"
    );
    assert_eq!(h.zuplo.consumers().len(), 1);
}
