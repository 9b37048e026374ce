//! Clerk's webhook, end to end through the handler the binary runs: Svix-signed
//! deliveries, the Zuplo stand-in, and the Clerk Backend API stand-in that records the
//! metadata write-back and can rate-limit it.

mod common;

use clerk_standin::{
    ClerkStandin, Fault as ClerkFault, FaultAction as ClerkFaultAction, StandinConfig,
};
use common::*;
use serde_json::{Value, json};
use zuplo_auth_hooks::providers::clerk;
use zuplo_standin::{Fault, FaultAction};

/// 24 random bytes, the form of a Svix signing secret.
const WEBHOOK_SECRET: &str = "whsec_Y2xlcmstd2ViaG9vay1zZWNyZXQtMjRi";
const SECRET_KEY: &str = "sk_test_clerk_backend_key_0123456789";
const INSTANCE: &str = "ins_2g7np7Hrk0SN6kj5EDMLDaKNL0S";

struct Clerk {
    h: Harness,
    api: ClerkStandin,
}

async fn clerk_with(secret: Value, env: Vec<(&'static str, String)>) -> Clerk {
    let api = ClerkStandin::start(StandinConfig {
        secret_keys: vec![SECRET_KEY.into()],
        ..StandinConfig::default()
    })
    .await;
    let mut env = env;
    env.push(("CLERK_API_URL", api.url()));
    let h = Harness::with(Options {
        secret: Some(secret.to_string()),
        env,
        ..Options::default()
    })
    .await;
    Clerk { h, api }
}

fn full_secret() -> Value {
    json!({
        "zuplo_api_key": ZUPLO_TOKEN,
        "clerk_webhook_secret": WEBHOOK_SECRET,
        "clerk_secret_key": SECRET_KEY,
    })
}

async fn clerk() -> Clerk {
    clerk_with(full_secret(), Vec::new()).await
}

/// A `user.*` event shaped like Clerk's documented samples.
fn user_event(kind: &str, user_id: &str, public_metadata: Value) -> String {
    json!({
        "data": {
            "object": "user",
            "id": user_id,
            "first_name": "Example",
            "last_name": "Example",
            "username": null,
            "primary_email_address_id": "idn_29w83yL7CwVlJXylYLxcslromF1",
            "email_addresses": [{
                "id": "idn_29w83yL7CwVlJXylYLxcslromF1",
                "object": "email_address",
                "email_address": format!("{}@example.org", user_id.to_lowercase()),
                "linked_to": [],
                "verification": {"status": "verified", "strategy": "ticket"}
            }],
            "public_metadata": public_metadata,
            "private_metadata": null,
            "unsafe_metadata": {},
            "created_at": 1716883200000u64,
            "updated_at": 1716883200000u64
        },
        "event_attributes": {"http_request": {"client_ip": "192.168.1.100", "user_agent": "Mozilla/5.0"}},
        "instance_id": INSTANCE,
        "object": "event",
        "timestamp": 1716883200,
        "type": kind
    })
    .to_string()
}

fn deleted_event(user_id: &str) -> String {
    json!({
        "data": {"object": "user", "id": user_id, "deleted": true, "external_id": null},
        "instance_id": INSTANCE,
        "object": "event",
        "timestamp": 1716883200,
        "type": "user.deleted"
    })
    .to_string()
}

/// A delivery as Svix sends it: the Standard Webhooks signature under `svix-*` names.
fn svix_request(body: &str, secret: &str, timestamp: i64) -> Value {
    let id = unique("msg");
    request_with_headers(
        "POST",
        "/clerk/webhook",
        body,
        &[
            ("content-type", "application/json".into()),
            ("svix-id", id.clone()),
            ("svix-timestamp", timestamp.to_string()),
            (
                "svix-signature",
                webhook_signature(secret, &id, timestamp, body),
            ),
        ],
    )
}

impl Clerk {
    async fn deliver(&self, body: &str) -> Answer {
        self.h.send(svix_request(body, WEBHOOK_SECRET, now())).await
    }

    fn writes(&self) -> Vec<(String, Value, u16)> {
        self.api
            .metadata_writes()
            .into_iter()
            .map(|w| (w.user_id, w.body, w.status))
            .collect()
    }

    fn claim_of(&self, user_id: &str) -> Option<String> {
        self.api.user(user_id)?["public_metadata"]["zuplo_consumer_id"]
            .as_str()
            .map(str::to_owned)
    }
}

fn zuplo_outage(h: &Harness, status: u16) {
    for _ in 0..20 {
        h.zuplo.push_fault(Fault {
            method: None,
            delay_ms: 0,
            action: FaultAction::Status {
                status,
                retry_after: None,
            },
        });
    }
}

#[tokio::test]
async fn user_created_provisions_and_writes_the_consumer_id_back() {
    let c = clerk().await;
    let user = "user_29w83sxmDNGwOuEthce5gg56FcC";
    c.api.add_user(user);
    let answer = c
        .deliver(&user_event("user.created", user, json!({})))
        .await;
    assert_eq!(answer.status, 200, "{}", answer.text);

    let consumers = c.h.zuplo.consumers();
    assert_eq!(consumers.len(), 1);
    let consumer = &consumers[0];
    assert_eq!(consumer.metadata["provider"], "clerk");
    assert_eq!(consumer.metadata["userId"], user);
    assert_eq!(consumer.metadata["tenant"], INSTANCE);
    assert_eq!(
        consumer.managers,
        [format!("{}@example.org", user.to_lowercase())]
    );
    // The webhook, the deletion and a later sync derive one name.
    assert_eq!(
        consumer.name,
        clerk::user_key(INSTANCE, user)
            .unwrap()
            .consumer_name()
            .as_str()
    );
    assert_eq!(answer.json["consumer_id"], consumer.id.as_str());
    assert!(!answer.text.contains(&consumer.api_keys[0].key));

    assert_eq!(
        c.writes(),
        [(
            user.to_owned(),
            json!({"public_metadata": {"zuplo_consumer_id": consumer.id}}),
            200
        )]
    );
    assert_eq!(c.claim_of(user).as_deref(), Some(consumer.id.as_str()));
    let call = &c.api.calls()[0];
    assert_eq!(call.method, "PATCH");
    assert_eq!(call.api_version.as_deref(), Some("2026-05-12"));

    // Our own write-back makes Clerk send user.updated with the claim: nothing to do.
    let zuplo_before = c.h.zuplo_calls();
    let echo = c
        .deliver(&user_event(
            "user.updated",
            user,
            json!({"zuplo_consumer_id": consumer.id, "plan": "free"}),
        ))
        .await;
    assert_eq!(echo.status, 200);
    assert_eq!(echo.json["status"], "already provisioned");
    assert_eq!(c.h.zuplo_calls(), zuplo_before);
    assert_eq!(c.writes().len(), 1, "no write loop");
}

#[tokio::test]
async fn redeliveries_and_a_lost_user_created_converge_on_one_consumer() {
    let c = clerk().await;
    let user = "user_2g7np7Hrk0SN6kj5EDMLDaKNL0S";
    c.api.add_user(user);
    // user.created was lost; a later user.updated (say, a name change) reconciles.
    let updated = c
        .deliver(&user_event(
            "user.updated",
            user,
            json!({"department": "engineering"}),
        ))
        .await;
    assert_eq!(updated.status, 200, "{}", updated.text);
    let id = c.claim_of(user).unwrap();
    // The lost user.created, redelivered late and to another container.
    let other = c.h.another_container().await;
    let late = answer(
        invoke(
            &other,
            svix_request(
                &user_event("user.created", user, json!({})),
                WEBHOOK_SECRET,
                now(),
            ),
        )
        .await,
    );
    assert_eq!(late.status, 200);
    assert_eq!(late.json["consumer_id"], id.as_str());
    assert_eq!(c.h.zuplo.consumers().len(), 1);
    assert_eq!(c.claim_of(user).as_deref(), Some(id.as_str()));
    // The metadata was merged, not replaced.
    assert_eq!(
        c.api.user(user).unwrap()["public_metadata"]
            .as_object()
            .unwrap()
            .len(),
        1
    );
}

#[tokio::test]
async fn user_deleted_removes_only_that_users_consumer() {
    let c = clerk().await;
    for user in ["user_a", "user_b"] {
        c.api.add_user(user);
        assert_eq!(
            c.deliver(&user_event("user.created", user, json!({})))
                .await
                .status,
            200
        );
    }
    let deleted = c.deliver(&deleted_event("user_a")).await;
    assert_eq!(deleted.status, 200, "{}", deleted.text);
    let left = c.h.zuplo.consumers();
    assert_eq!(left.len(), 1);
    assert_eq!(left[0].metadata["userId"], "user_b");
    let docs = c.h.metrics();
    assert!(
        docs.iter()
            .any(|d| d.get("ConsumerDeleted") == Some(&json!(1)))
    );
    // Svix redelivers: nothing left to delete, still a 2xx.
    let again = c.deliver(&deleted_event("user_a")).await;
    assert_eq!(again.status, 200);
    assert_eq!(c.h.zuplo.consumers().len(), 1);
}

#[tokio::test]
async fn a_user_deleted_before_the_write_back_keeps_no_consumer() {
    let c = clerk().await;
    // Not in the Backend API: the write-back finds 404.
    let answer = c
        .deliver(&user_event("user.created", "user_gone", json!({})))
        .await;
    assert_eq!(answer.status, 200, "{}", answer.text);
    assert_eq!(c.writes()[0].2, 404);
    assert!(
        c.h.zuplo.consumers().is_empty(),
        "the consumer went with the user"
    );
}

#[tokio::test]
async fn the_rate_limit_is_waited_out_inside_the_budget_or_left_to_svix() {
    let c = clerk().await;
    let user = "user_throttled";
    c.api.add_user(user);
    c.api.push_fault(ClerkFault {
        method: Some("PATCH".into()),
        delay_ms: 0,
        action: ClerkFaultAction::Status {
            status: 429,
            retry_after: Some(1),
        },
    });
    let started = std::time::Instant::now();
    let answer = c
        .deliver(&user_event("user.created", user, json!({})))
        .await;
    assert_eq!(answer.status, 200, "{}", answer.text);
    assert!(started.elapsed() >= std::time::Duration::from_secs(1));
    let statuses: Vec<u16> = c.api.calls().iter().map(|call| call.status).collect();
    assert_eq!(statuses, [429, 200]);

    // A wait longer than the budget: 503 at once, and Svix's redelivery completes it.
    let other = "user_throttled_long";
    c.api.add_user(other);
    c.api.push_fault(ClerkFault {
        method: Some("PATCH".into()),
        delay_ms: 0,
        action: ClerkFaultAction::Status {
            status: 429,
            retry_after: Some(60),
        },
    });
    let started = std::time::Instant::now();
    let deferred = c
        .deliver(&user_event("user.created", other, json!({})))
        .await;
    assert_eq!(deferred.status, 503);
    assert!(started.elapsed() < std::time::Duration::from_secs(5));
    assert!(
        c.h.metrics()
            .iter()
            .any(|d| d.get("RequestDeferred") == Some(&json!(1)))
    );
    assert_eq!(c.claim_of(other), None);
    let redelivered = c
        .deliver(&user_event("user.created", other, json!({})))
        .await;
    assert_eq!(redelivered.status, 200);
    assert!(c.claim_of(other).is_some());
    assert_eq!(c.h.zuplo.consumers().len(), 2);
}

#[tokio::test]
async fn a_zuplo_outage_is_a_503_with_no_write_back() {
    let c = clerk().await;
    c.api.add_user("user_outage");
    zuplo_outage(&c.h, 503);
    let answer = c
        .deliver(&user_event("user.created", "user_outage", json!({})))
        .await;
    assert_eq!(answer.status, 503);
    assert!(c.api.calls().is_empty());
}

#[tokio::test]
async fn forged_stale_or_unsigned_deliveries_reach_neither_zuplo_nor_clerk() {
    let c = clerk().await;
    c.api.add_user("user_x");
    let body = user_event("user.created", "user_x", json!({}));
    let other_secret = "whsec_b3RoZXItc2VjcmV0LW9mLTI0LWJ5dGVz";
    for (event, why) in [
        (svix_request(&body, other_secret, now()), "no v1 signature"),
        (svix_request(&body, WEBHOOK_SECRET, now() - 301), "old"),
        (svix_request(&body, WEBHOOK_SECRET, now() + 301), "future"),
        (
            request("POST", "/clerk/webhook", &body, "application/json"),
            "missing",
        ),
    ] {
        let answer = c.h.send(event).await;
        assert_eq!(answer.status, 401, "{why}");
        assert!(answer.text.contains(why), "{}", answer.text);
    }
    // A body changed after signing.
    let mut tampered = svix_request(&body, WEBHOOK_SECRET, now());
    tampered["body"] = body.replace("user_x", "user_y").into();
    assert_eq!(c.h.send(tampered).await.status, 401);
    assert_eq!(c.h.zuplo_calls(), 0);
    assert!(c.api.calls().is_empty());
}

#[tokio::test]
async fn missing_or_rejected_secrets_say_which_field_to_fix() {
    // No clerk_webhook_secret: the route is not enabled.
    let c = clerk_with(json!({"zuplo_api_key": ZUPLO_TOKEN}), Vec::new()).await;
    let answer = c
        .deliver(&user_event("user.created", "user_1", json!({})))
        .await;
    assert_eq!(answer.status, 404);
    assert!(answer.text.contains("Clerk hooks are not enabled"));

    // No clerk_secret_key: refused before any consumer is made.
    let c = clerk_with(
        json!({"zuplo_api_key": ZUPLO_TOKEN, "clerk_webhook_secret": WEBHOOK_SECRET}),
        Vec::new(),
    )
    .await;
    let answer = c
        .deliver(&user_event("user.created", "user_1", json!({})))
        .await;
    assert_eq!(answer.status, 500);
    assert!(answer.text.contains("clerk_secret_key"), "{}", answer.text);
    assert_eq!(c.h.zuplo_calls(), 0);
    // Deletions need no Backend API key.
    assert_eq!(c.deliver(&deleted_event("user_1")).await.status, 200);

    // A key Clerk rejects.
    let c = clerk().await;
    c.api.add_user("user_2");
    c.api.set_secret_keys(vec!["sk_test_rotated".into()]);
    let answer = c
        .deliver(&user_event("user.created", "user_2", json!({})))
        .await;
    assert_eq!(answer.status, 500);
    assert_eq!(c.api.calls().len(), 1, "a rejected key is not retried");
}

#[tokio::test]
async fn the_namespace_is_the_instance_unless_overridden() {
    let c = clerk_with(
        full_secret(),
        vec![("CLERK_NAMESPACE", "shared-users".into())],
    )
    .await;
    c.api.add_user("user_ns");
    assert_eq!(
        c.deliver(&user_event("user.created", "user_ns", json!({})))
            .await
            .status,
        200
    );
    assert_eq!(
        c.h.zuplo.consumers()[0].name,
        clerk::user_key("shared-users", "user_ns")
            .unwrap()
            .consumer_name()
            .as_str()
    );

    // Without the override, an event with no instance_id cannot be named.
    let c = clerk().await;
    let mut event: Value =
        serde_json::from_str(&user_event("user.created", "user_1", json!({}))).unwrap();
    event.as_object_mut().unwrap().remove("instance_id");
    let answer = c.deliver(&event.to_string()).await;
    assert_eq!(answer.status, 400);
    assert!(answer.text.contains("CLERK_NAMESPACE"));
    assert_eq!(c.h.zuplo_calls(), 0);
}

#[tokio::test]
async fn unusable_or_unhandled_events_are_answered_without_side_effects() {
    let c = clerk().await;
    let session = json!({"type": "session.created", "object": "event", "instance_id": INSTANCE,
                         "data": {"object": "session", "id": "sess_1"}});
    let answer = c.deliver(&session.to_string()).await;
    assert_eq!(answer.status, 200);
    assert_eq!(answer.json["status"], "ignored");
    for (body, expected) in [
        ("[]".to_owned(), "expected a Clerk webhook event"),
        (user_event("user.created", "../../v1/sessions", json!({})), "not a Clerk user id"),
        (json!({"type": "user.created", "instance_id": INSTANCE, "data": {"object": "user"}}).to_string(), "not a Clerk user object"),
        (json!({"type": "user.deleted", "instance_id": INSTANCE, "data": {"object": "user", "deleted": true}}).to_string(), "no data.id"),
    ] {
        let answer = c.deliver(&body).await;
        assert_eq!(answer.status, 400, "{body}");
        assert!(answer.text.contains(expected), "{}", answer.text);
    }
    assert_eq!(c.h.zuplo_calls(), 0);
    assert!(c.api.calls().is_empty());
}
