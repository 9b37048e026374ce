//! The sample events in `events/` are real Lambda Function URL events: each one parses
//! as the runtime parses it and gets the documented answer from the function.

mod common;

use common::*;
use serde_json::{Value, json};

fn load(name: &str) -> Value {
    let path = format!("{}/events/{name}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let event: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"));
    assert_eq!(
        zuplo_auth_hooks::entry::Envelope::of(&event),
        zuplo_auth_hooks::entry::Envelope::Http,
        "{path} is not a Function URL event"
    );
    event
}

fn body_json(resp: &Answer) -> Value {
    resp.json.clone()
}

async fn emulator_harness() -> Harness {
    Harness::with(Options {
        env: vec![("FIREBASE_AUTH_EMULATOR", "true".into())],
        ..Options::default()
    })
    .await
}

#[tokio::test]
async fn every_firebase_event_parses_and_is_answered() {
    let dir = format!("{}/events", env!("CARGO_MANIFEST_DIR"));
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.starts_with("firebase-") && n.ends_with(".json"))
        .collect();
    names.sort();
    assert!(names.len() >= 5, "{names:?}");
    let h = emulator_harness().await;
    for name in &names {
        let resp = h.send(load(name)).await;
        assert_eq!(resp.status, 200, "{name}: {:?}", resp.text);
        let body = body_json(&resp);
        if name.contains("provisioned") {
            assert_eq!(body, json!({}), "{name}");
        } else {
            let id = consumer_claim(&body).unwrap_or_else(|| panic!("{name}: {body}"));
            assert!(id.starts_with("csmr_"), "{name}: {id}");
        }
    }
}

#[tokio::test]
async fn sending_an_event_twice_returns_the_same_consumer() {
    let h = emulator_harness().await;
    let first = body_json(&h.send(load("firebase-before-create-email.json")).await);
    let second = body_json(&h.send(load("firebase-before-create-email.json")).await);
    assert_eq!(consumer_claim(&first), consumer_claim(&second));
    assert_eq!(h.zuplo.consumers().len(), 1);
}

#[tokio::test]
async fn the_provisioned_sign_in_event_makes_no_call() {
    let h = emulator_harness().await;
    let resp = h
        .send(load("firebase-before-sign-in-provisioned.json"))
        .await;
    assert_eq!(body_json(&resp), json!({}));
    assert_eq!(h.zuplo_calls(), 0);
    assert_eq!(h.secrets.calls(), 0);
}

#[tokio::test]
async fn sample_events_are_refused_outside_emulator_mode() {
    let h = Harness::start().await;
    let resp = h.send(load("firebase-before-create-email.json")).await;
    assert_eq!(resp.status, 401);
    assert_eq!(h.zuplo_calls(), 0);
}

/// Signs a Supabase sample event now, the way scripts/sign_event.py does before sending.
fn load_signed(name: &str) -> Value {
    let path = format!("{}/events/{name}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let mut event: Value = serde_json::from_str(&text).unwrap();
    let body = event["body"].as_str().unwrap().to_owned();
    let t = now();
    event["headers"]["webhook-id"] = json!("msg_sample");
    event["headers"]["webhook-timestamp"] = json!(t.to_string());
    event["headers"]["webhook-signature"] =
        json!(webhook_signature(HOOK_SECRET, "msg_sample", t, &body));
    event
}

fn supabase_event_names() -> Vec<String> {
    let dir = format!("{}/events", env!("CARGO_MANIFEST_DIR"));
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.starts_with("supabase-") && n.ends_with(".json"))
        .collect();
    names.sort();
    names
}

#[tokio::test]
async fn every_supabase_event_signed_now_gets_its_documented_answer() {
    let names = supabase_event_names();
    assert_eq!(names.len(), 7, "{names:?}");
    let h = Harness::with(Options {
        env: vec![("SIGNUP_ALLOWED_EMAIL_DOMAINS", "example.com".into())],
        ..Options::default()
    })
    .await;
    let mut ids = std::collections::HashMap::new();
    for name in &names {
        let resp = h.send(load_signed(name)).await;
        assert_eq!(resp.status, 200, "{name}: {:?}", resp.text);
        let body = body_json(&resp);
        let id = body.pointer("/claims/zuplo_consumer_id").cloned();
        match name
            .trim_start_matches("supabase-")
            .trim_end_matches(".json")
        {
            "before-user-created-allowed" => assert_eq!(body, json!({})),
            "before-user-created-rejected" => {
                assert_eq!(body["error"]["http_code"], 403, "{body}")
            }
            "custom-access-token-anonymous" => {
                assert!(body["claims"].is_object() && id.is_none(), "{body}")
            }
            "custom-access-token-provisioned" => {
                assert_eq!(id, Some(json!("csmr_AlreadyProvisioned000002")))
            }
            other => {
                let id = id.unwrap_or_else(|| panic!("{name}: {body}"));
                assert!(id.as_str().unwrap().starts_with("csmr_"), "{name}");
                ids.insert(other.to_owned(), id);
            }
        }
    }
    // The refresh is the email user's next token: same consumer, from the cache.
    assert_eq!(
        ids.get("custom-access-token-email"),
        ids.get("custom-access-token-refresh")
    );
    assert_eq!(h.zuplo.consumers().len(), 2);
}

#[tokio::test]
async fn supabase_events_as_checked_in_are_unsigned_and_refused() {
    let h = Harness::start().await;
    for name in supabase_event_names() {
        let resp = h.send(load(&name)).await;
        assert_eq!(resp.status, 401, "{name}");
    }
    assert_eq!(h.zuplo_calls(), 0);
}

const CLERK_SECRET: &str = "whsec_c2FtcGxlLWNsZXJrLXNlY3JldC0yNGJ5";
const CLERK_KEY: &str = "sk_test_sample_events_key";
const AUTH0_SECRET: &str = "whsec_c2FtcGxlLWF1dGgwLXNlY3JldC0zMi1ieXRlcy1sb25nISE=";
const AUTH0_TOKEN: &str = "sample-events-token-0123456789";

/// A sample event with its signature (under `prefix`-* names) or token set now, as
/// scripts/sign_event.py sets them before sending.
fn load_as_sent(name: &str, prefix: &str, secret: &str) -> Value {
    let mut event = load(name);
    let body = event["body"].as_str().unwrap().to_owned();
    if prefix == "bearer" {
        event["headers"]["authorization"] = json!(format!("Bearer {secret}"));
        return event;
    }
    let t = now();
    event["headers"][format!("{prefix}-id")] = json!("msg_sample");
    event["headers"][format!("{prefix}-timestamp")] = json!(t.to_string());
    event["headers"][format!("{prefix}-signature")] =
        json!(webhook_signature(secret, "msg_sample", t, &body));
    event
}

#[tokio::test]
async fn the_clerk_and_auth0_events_get_their_documented_answers() {
    let clerk = clerk_standin::ClerkStandin::start(clerk_standin::StandinConfig {
        secret_keys: vec![CLERK_KEY.into()],
        ..Default::default()
    })
    .await;
    clerk.set_auto_users(true);
    let h = Harness::with(Options {
        secret: Some(
            json!({"zuplo_api_key": ZUPLO_TOKEN, "clerk_webhook_secret": CLERK_SECRET,
                   "clerk_secret_key": CLERK_KEY, "auth0_action_secret": AUTH0_SECRET,
                   "auth0_events_token": AUTH0_TOKEN})
            .to_string(),
        ),
        env: vec![("CLERK_API_URL", clerk.url())],
        ..Options::default()
    })
    .await;
    // As checked in, none is signed: all are refused.
    for name in [
        "clerk-user-created.json",
        "auth0-post-login.json",
        "auth0-user-deleted.json",
    ] {
        assert_eq!(h.send(load(name)).await.status, 401, "{name}");
    }
    assert_eq!(h.zuplo_calls(), 0);

    let send = async |name: &str, prefix: &str, secret: &str| {
        let resp = h.send(load_as_sent(name, prefix, secret)).await;
        assert_eq!(resp.status, 200, "{name}: {}", resp.text);
        resp.json
    };
    let created = send("clerk-user-created.json", "svix", CLERK_SECRET).await;
    assert!(
        created["consumer_id"]
            .as_str()
            .unwrap()
            .starts_with("csmr_")
    );
    let echo = send("clerk-user-updated-provisioned.json", "svix", CLERK_SECRET).await;
    assert_eq!(echo["status"], "already provisioned");
    let login = send("auth0-post-login.json", "webhook", AUTH0_SECRET).await;
    assert!(login["consumer_id"].as_str().unwrap().starts_with("csmr_"));
    assert_eq!(h.zuplo.consumers().len(), 2);

    let gone = send("clerk-user-deleted.json", "svix", CLERK_SECRET).await;
    assert_eq!(gone["status"], "deleted");
    let gone = send("auth0-user-deleted.json", "bearer", AUTH0_TOKEN).await;
    assert_eq!(gone["status"], "deleted");
    assert!(h.zuplo.consumers().is_empty());
}
