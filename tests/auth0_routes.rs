//! Auth0's two routes, through the handler the binary runs: the post-login Action's
//! signed call, and the Event Stream's `user.deleted` with its bearer token.

mod common;

use common::*;
use serde_json::{Value, json};
use zuplo_auth_hooks::providers::auth0;
use zuplo_standin::{Fault, FaultAction};

/// 32 random bytes in the `whsec_` form the Action's `HOOK_SECRET` holds.
const ACTION_SECRET: &str = "whsec_YXV0aDAtYWN0aW9uLXNlY3JldC0zMi1ieXRlcy1sb25nIQ==";
const EVENTS_TOKEN: &str = "auth0-events-token-0123456789abcdef";
const TENANT: &str = "demo-tenant";

fn secret() -> String {
    json!({
        "zuplo_api_key": ZUPLO_TOKEN,
        "auth0_action_secret": ACTION_SECRET,
        "auth0_events_token": EVENTS_TOKEN,
    })
    .to_string()
}

async fn harness() -> Harness {
    Harness::with(Options {
        secret: Some(secret()),
        ..Options::default()
    })
    .await
}

fn login_body(user_id: &str) -> String {
    json!({
        "user_id": user_id,
        "email": "j+smith@example.com",
        "email_verified": true,
        "name": "John Smith",
        "connection": "Username-Password-Authentication",
        "tenant": TENANT,
    })
    .to_string()
}

async fn post_login(h: &Harness, body: &str) -> Answer {
    h.send(signed_request(
        "/auth0/post-login",
        body,
        ACTION_SECRET,
        now(),
    ))
    .await
}

fn deleted_event(user_id: &str) -> String {
    json!({
        "specversion": "1.0",
        "type": "user.deleted",
        "source": "urn:auth0:demo-tenant.auth0app.com",
        "id": unique("evt"),
        "time": "2026-12-02T12:34:56Z",
        "data": {
            "object": {"user_id": user_id, "email": "j+smith@example.com",
                       "app_metadata": {"zuplo_consumer_id": "csmr_x"},
                       "deleted_at": "2026-12-02T12:34:56Z"},
            "context": {"tenant": {"id": TENANT}}
        },
        "a0tenant": TENANT,
        "a0stream": "est_demo"
    })
    .to_string()
}

async fn event(h: &Harness, body: &str, token: &str) -> Answer {
    h.send(request_with_headers(
        "POST",
        "/auth0/events",
        body,
        &[
            ("content-type", "application/json".into()),
            ("authorization", format!("Bearer {token}")),
        ],
    ))
    .await
}

fn metric_count(h: &Harness, name: &str) -> usize {
    h.metrics()
        .iter()
        .filter(|doc| doc.get(name) == Some(&Value::from(1)))
        .count()
}

#[tokio::test]
async fn a_first_login_gets_one_consumer_and_a_repeat_gets_the_same() {
    let h = harness().await;
    let user = "auth0|5f7c8ec7c33c6c004bbafe82";
    let first = post_login(&h, &login_body(user)).await;
    assert_eq!(first.status, 200, "{}", first.text);
    let id = first.json["consumer_id"].as_str().unwrap().to_owned();
    let consumers = h.zuplo.consumers();
    assert_eq!(consumers.len(), 1);
    let consumer = &consumers[0];
    assert_eq!(consumer.id, id);
    assert_eq!(consumer.metadata["provider"], "auth0");
    assert_eq!(consumer.metadata["userId"], user);
    assert_eq!(consumer.metadata["tenant"], TENANT);
    assert_eq!(consumer.managers, ["j+smith@example.com"]);
    assert_eq!(consumer.tags["provider"], "auth0");
    // The name the route used is the one a deletion or a sync derives.
    assert_eq!(
        consumer.name,
        auth0::user_key(TENANT, user)
            .unwrap()
            .consumer_name()
            .as_str()
    );
    // Never the key: the answer carries only the consumer ID.
    assert_eq!(first.json.as_object().unwrap().len(), 1);
    assert!(!first.text.contains(&consumer.api_keys[0].key));

    // A lost setAppMetadata makes the Action call again, from another container too.
    let again = post_login(&h, &login_body(user)).await;
    assert_eq!(again.json["consumer_id"], id.as_str());
    let other = h.another_container().await;
    let elsewhere = answer(
        invoke(
            &other,
            signed_request("/auth0/post-login", &login_body(user), ACTION_SECRET, now()),
        )
        .await,
    );
    assert_eq!(elsewhere.json["consumer_id"], id.as_str());
    assert_eq!(h.zuplo.consumers().len(), 1);
}

#[tokio::test]
async fn forged_or_unsigned_calls_never_reach_zuplo() {
    let h = harness().await;
    let body = login_body("auth0|forged");
    let other_secret = "whsec_b3RoZXItc2VjcmV0LW9mLXRoaXJ0eS10d28tYnl0ZXMhIQ==";
    let forged = h
        .send(signed_request(
            "/auth0/post-login",
            &body,
            other_secret,
            now(),
        ))
        .await;
    assert_eq!(forged.status, 401);
    assert!(forged.text.contains("no v1 signature"), "{}", forged.text);
    let unsigned = h.post("/auth0/post-login", &body).await;
    assert_eq!(unsigned.0, 401);
    let stale = h
        .send(signed_request(
            "/auth0/post-login",
            &body,
            ACTION_SECRET,
            now() - 400,
        ))
        .await;
    assert_eq!(stale.status, 401);
    assert_eq!(h.zuplo_calls(), 0);
    assert_eq!(metric_count(&h, "RequestRejected"), 3);
}

#[tokio::test]
async fn bad_bodies_are_refused_with_what_is_wrong() {
    let h = harness().await;
    for (body, expected) in [
        ("not json".to_owned(), "expected a JSON object"),
        (
            json!({"user_id": "auth0|1"}).to_string(),
            "expected a JSON object",
        ),
        (
            json!({"user_id": "", "tenant": TENANT}).to_string(),
            "user_id is empty",
        ),
        (
            json!({"user_id": "auth0|1", "tenant": "a:b"}).to_string(),
            "contains ':'",
        ),
        (
            json!({"user_id": "auth0|\u{7}", "tenant": TENANT}).to_string(),
            "control characters",
        ),
    ] {
        let answer = post_login(&h, &body).await;
        assert_eq!(answer.status, 400, "{body}");
        assert!(answer.text.contains(expected), "{body}: {}", answer.text);
    }
    assert_eq!(h.zuplo_calls(), 0);
}

#[tokio::test]
async fn without_their_secret_fields_the_routes_are_not_enabled() {
    let h = Harness::start().await;
    let login = post_login(&h, &login_body("auth0|1")).await;
    assert_eq!(login.status, 404);
    assert!(login.text.contains("Auth0 hooks are not enabled"));
    let deleted = event(&h, &deleted_event("auth0|1"), EVENTS_TOKEN).await;
    assert_eq!(deleted.status, 404);
    assert_eq!(h.zuplo_calls(), 0);
}

#[tokio::test]
async fn a_zuplo_outage_is_a_503_that_names_nothing_internal() {
    let h = harness().await;
    for _ in 0..20 {
        h.zuplo.push_fault(Fault {
            method: None,
            delay_ms: 0,
            action: FaultAction::Status {
                status: 503,
                retry_after: None,
            },
        });
    }
    let answer = post_login(&h, &login_body("auth0|outage")).await;
    assert_eq!(answer.status, 503);
    let text = answer.text.to_lowercase();
    assert!(!text.contains("zuplo") && !text.contains("c-"), "{text}");
    assert_eq!(metric_count(&h, "RequestDeferred"), 1);
    assert!(h.zuplo.consumers().is_empty());
}

#[tokio::test]
async fn user_deleted_removes_the_consumer_once() {
    let h = harness().await;
    let user = "google-oauth2|1234567890";
    let bystander = "auth0|bystander";
    assert_eq!(post_login(&h, &login_body(user)).await.status, 200);
    assert_eq!(post_login(&h, &login_body(bystander)).await.status, 200);

    let deleted = event(&h, &deleted_event(user), EVENTS_TOKEN).await;
    assert_eq!(deleted.status, 200, "{}", deleted.text);
    let left = h.zuplo.consumers();
    assert_eq!(left.len(), 1);
    assert_eq!(left[0].metadata["userId"], bystander);
    assert_eq!(metric_count(&h, "ConsumerDeleted"), 1);

    // A duplicate delivery finds nothing to delete and says so with a 2xx.
    let before = h.zuplo_calls();
    let repeat = event(&h, &deleted_event(user), EVENTS_TOKEN).await;
    assert_eq!(repeat.status, 200);
    let methods: Vec<String> = h.zuplo.calls()[before..]
        .iter()
        .map(|c| c.method.clone())
        .collect();
    assert_eq!(methods, ["GET"]);
}

#[tokio::test]
async fn the_events_route_checks_its_token_before_anything_else() {
    let h = harness().await;
    assert_eq!(post_login(&h, &login_body("auth0|kept")).await.status, 200);
    let before = h.zuplo_calls();
    let wrong = event(
        &h,
        &deleted_event("auth0|kept"),
        "auth0-events-token-0123456789abcdeX",
    )
    .await;
    assert_eq!(wrong.status, 401);
    let missing = h.post("/auth0/events", &deleted_event("auth0|kept")).await;
    assert_eq!(missing.0, 401);
    let basic = h
        .send(request_with_headers(
            "POST",
            "/auth0/events",
            &deleted_event("auth0|kept"),
            &[
                ("content-type", "application/json".into()),
                ("authorization", format!("Basic {EVENTS_TOKEN}")),
            ],
        ))
        .await;
    assert_eq!(basic.status, 401);
    assert_eq!(h.zuplo_calls(), before);
    assert_eq!(h.zuplo.consumers().len(), 1);
}

#[tokio::test]
async fn other_events_and_test_deliveries_change_nothing() {
    let h = harness().await;
    assert_eq!(post_login(&h, &login_body("auth0|stays")).await.status, 200);
    let before = h.zuplo_calls();
    let mut test_delivery: Value = serde_json::from_str(&deleted_event("auth0|stays")).unwrap();
    test_delivery["a0purpose"] = "test".into();
    let mut created: Value = serde_json::from_str(&deleted_event("auth0|stays")).unwrap();
    created["type"] = "user.created".into();
    for body in [test_delivery.to_string(), created.to_string()] {
        let answer = event(&h, &body, EVENTS_TOKEN).await;
        assert_eq!(answer.status, 200);
        assert_eq!(answer.json["status"], "ignored");
    }
    let mut no_user: Value = serde_json::from_str(&deleted_event("x")).unwrap();
    no_user["data"]["object"] = json!({});
    let refused = event(&h, &no_user.to_string(), EVENTS_TOKEN).await;
    assert_eq!(refused.status, 400);
    assert_eq!(h.zuplo_calls(), before);
    assert_eq!(h.zuplo.consumers().len(), 1);
}

#[tokio::test]
async fn a_consumer_of_someone_else_is_never_deleted_and_outages_are_retried() {
    let h = harness().await;
    let user = "auth0|victim";
    let name = auth0::user_key(TENANT, user).unwrap().consumer_name();
    let created = reqwest::Client::new()
        .post(format!(
            "{}/v1/accounts/{ACCOUNT}/key-buckets/{BUCKET}/consumers",
            h.zuplo.url()
        ))
        .bearer_auth(ZUPLO_TOKEN)
        .json(&json!({"name": name.as_str(), "metadata": {"userId": "someone-else"}}))
        .send()
        .await
        .unwrap();
    assert!(created.status().is_success());
    let answer = event(&h, &deleted_event(user), EVENTS_TOKEN).await;
    assert_eq!(answer.status, 200);
    assert_eq!(answer.json["status"], "not ours");
    assert_eq!(h.zuplo.consumers().len(), 1);
    assert!(h.zuplo.calls().iter().all(|c| c.method != "DELETE"));

    // Zuplo down: 503, so that the stream retries (a 4xx would drop the event).
    for _ in 0..20 {
        h.zuplo.push_fault(Fault {
            method: None,
            delay_ms: 0,
            action: FaultAction::Status {
                status: 502,
                retry_after: None,
            },
        });
    }
    let down = event(&h, &deleted_event("auth0|other"), EVENTS_TOKEN).await;
    assert_eq!(down.status, 503);
    assert_eq!(metric_count(&h, "RequestDeferred"), 1);
}
