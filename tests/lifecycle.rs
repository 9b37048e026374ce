//! The rest of a key's life: trial keys that expire, and the tags every consumer
//! carries (the guard deletions go by), driven through the Auth0 route and the core.

mod common;

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use common::*;
use serde_json::json;
use zuplo_auth_hooks::clients::secrets::SecretStore;
use zuplo_auth_hooks::clients::zuplo::ZuploClient;
use zuplo_auth_hooks::deadline::Deadline;
use zuplo_auth_hooks::providers::auth0;
use zuplo_auth_hooks::provision::cache::ConsumerCache;
use zuplo_auth_hooks::provision::{Expect, Identity, Provisioner, Removed};
use zuplo_standin::{Fault, FaultAction};

const ACTION_SECRET: &str = "whsec_YXV0aDAtYWN0aW9uLXNlY3JldC0zMi1ieXRlcy1sb25nIQ==";
const TENANT: &str = "demo-tenant";
const DAY: u64 = 86_400;

async fn harness(env: Vec<(&'static str, String)>) -> Harness {
    Harness::with(Options {
        secret: Some(
            json!({"zuplo_api_key": ZUPLO_TOKEN, "auth0_action_secret": ACTION_SECRET}).to_string(),
        ),
        env,
        ..Options::default()
    })
    .await
}

async fn login(h: &Harness, user_id: &str) -> Answer {
    let body = json!({"user_id": user_id, "email": "t@example.com", "email_verified": true,
                      "name": "Trial User", "connection": "google-oauth2", "tenant": TENANT})
    .to_string();
    h.send(signed_request(
        "/auth0/post-login",
        &body,
        ACTION_SECRET,
        now(),
    ))
    .await
}

/// Seconds since the epoch of a `YYYY-MM-DDTHH:MM:SS.mmmZ` timestamp.
fn epoch_seconds(text: &str) -> u64 {
    let num = |range: std::ops::Range<usize>| text[range].parse::<i64>().unwrap();
    let (y, m, d) = (num(0..4), num(5..7), num(8..10));
    assert!(text.ends_with('Z'), "{text}");
    // Days from civil (Howard Hinnant), independent of the function's own formatter.
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    (days * DAY as i64 + num(11..13) * 3600 + num(14..16) * 60 + num(17..19)) as u64
}

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

#[tokio::test]
async fn a_trial_consumer_gets_one_key_that_expires_after_the_set_days() {
    let h = harness(vec![("KEY_EXPIRES_AFTER_DAYS", "14".into())]).await;
    let before = now_secs();
    let answer = login(&h, "auth0|trial").await;
    assert_eq!(answer.status, 200, "{}", answer.text);
    let consumers = h.zuplo.consumers();
    assert_eq!(consumers.len(), 1);
    let keys = &consumers[0].api_keys;
    assert_eq!(keys.len(), 1, "{keys:?}");
    let expires = epoch_seconds(keys[0].expires_on.as_deref().unwrap());
    assert!(
        (before + 14 * DAY..=now_secs() + 14 * DAY).contains(&expires),
        "{:?}",
        keys[0].expires_on
    );
    // Created without a key, then given one: two POSTs, the second to …/keys.
    let posts: Vec<String> = h
        .zuplo
        .calls()
        .iter()
        .filter(|c| c.method == "POST")
        .map(|c| format!("{}?{}", c.path, c.query))
        .collect();
    assert_eq!(posts.len(), 2, "{posts:?}");
    assert!(!posts[0].contains("with-api-key=true"), "{posts:?}");
    assert!(posts[1].ends_with("/keys?"), "{posts:?}");

    // Another login of the same user (another container): left as it is.
    let other = h.another_container().await;
    let body = json!({"user_id": "auth0|trial", "tenant": TENANT}).to_string();
    let again = answer_of(&other, &body).await;
    assert_eq!(again.json["consumer_id"], consumers[0].id.as_str());
    assert_eq!(h.zuplo.consumers()[0].api_keys.len(), 1);
}

async fn answer_of(app: &zuplo_auth_hooks::App, body: &str) -> Answer {
    answer(
        invoke(
            app,
            signed_request("/auth0/post-login", body, ACTION_SECRET, now()),
        )
        .await,
    )
}

#[tokio::test]
async fn without_the_setting_keys_never_expire() {
    let h = harness(Vec::new()).await;
    assert_eq!(login(&h, "auth0|forever").await.status, 200);
    let keys = &h.zuplo.consumers()[0].api_keys;
    assert_eq!(keys.len(), 1);
    assert_eq!(keys[0].expires_on, None);
}

#[tokio::test]
async fn a_key_creation_cut_short_is_completed_without_a_second_key() {
    let h = harness(vec![("KEY_EXPIRES_AFTER_DAYS", "7".into())]).await;
    // The consumer is created; the key is created but its answer is lost.
    h.zuplo.push_fault(Fault {
        method: Some("POST".into()),
        delay_ms: 0,
        action: FaultAction::Pass,
    });
    h.zuplo.push_fault(Fault {
        method: Some("POST".into()),
        delay_ms: 0,
        action: FaultAction::DropAfterWrite,
    });
    let answer = login(&h, "auth0|lost-answer").await;
    assert_eq!(answer.status, 200, "{}", answer.text);
    assert_eq!(
        h.zuplo.consumers()[0].api_keys.len(),
        1,
        "the look before a retry found the key"
    );

    // The key call fails outright, past the budget: the consumer stays keyless, and
    // the next attempt gives it its key.
    let user = "auth0|keyless";
    h.zuplo.push_fault(Fault {
        method: Some("POST".into()),
        delay_ms: 0,
        action: FaultAction::Pass,
    });
    for _ in 0..20 {
        h.zuplo.push_fault(Fault {
            method: Some("POST".into()),
            delay_ms: 0,
            action: FaultAction::Status {
                status: 500,
                retry_after: None,
            },
        });
    }
    let failed = login(&h, user).await;
    assert_eq!(failed.status, 503);
    let keyless = |h: &Harness| {
        h.zuplo
            .consumers()
            .into_iter()
            .find(|c| c.metadata["userId"] == user)
            .unwrap()
    };
    assert!(keyless(&h).api_keys.is_empty());
    // The outage is over; the Action calls again at the next login.
    h.zuplo.clear_faults();
    let retried = login(&h, user).await;
    assert_eq!(retried.status, 200, "{}", retried.text);
    assert_eq!(retried.json["consumer_id"], keyless(&h).id.as_str());
    assert_eq!(keyless(&h).api_keys.len(), 1);
    // The late key ends when the trial that began with the consumer ends, not a
    // full trial after the retry.
    let read: serde_json::Value = reqwest::Client::new()
        .get(format!(
            "{}/v1/accounts/{ACCOUNT}/key-buckets/{BUCKET}/consumers/{}?include-api-keys=true&key-format=none",
            h.zuplo.url(),
            keyless(&h).name
        ))
        .bearer_auth(ZUPLO_TOKEN)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let created = epoch_seconds(read["createdOn"].as_str().unwrap());
    let expires = epoch_seconds(read["apiKeys"][0]["expiresOn"].as_str().unwrap());
    assert_eq!(expires - created, 7 * DAY, "{read}");
}

#[tokio::test]
async fn consumers_carry_our_tag_their_provider_and_how_the_user_signed_up() {
    let h = harness(Vec::new()).await;
    assert_eq!(login(&h, "auth0|tagged").await.status, 200);
    let tags = &h.zuplo.consumers()[0].tags;
    assert_eq!(tags["managedBy"], "zuplo-auth-hooks");
    assert_eq!(tags["provider"], "auth0");
    assert_eq!(tags["signupMethod"], "google-oauth2");
    assert_eq!(tags.len(), 3);
}

#[tokio::test]
async fn a_consumer_made_before_the_managed_by_tag_is_still_deleted_as_ours() {
    let h = harness(Vec::new()).await;
    let user = "auth0|legacy";
    let key = auth0::user_key(TENANT, user).unwrap();
    // As earlier versions created it: our metadata, only the provider tag.
    let created = reqwest::Client::new()
        .post(format!(
            "{}/v1/accounts/{ACCOUNT}/key-buckets/{BUCKET}/consumers?with-api-key=true",
            h.zuplo.url()
        ))
        .bearer_auth(ZUPLO_TOKEN)
        .json(&json!({"name": key.consumer_name().as_str(),
                      "metadata": {"provider": "auth0", "userId": user, "tenant": TENANT},
                      "tags": {"provider": "auth0"}}))
        .send()
        .await
        .unwrap();
    assert!(created.status().is_success());
    let secrets = SecretStore::new(
        aws_sdk_secretsmanager::Client::new(&sdk_config(&h.secrets.url).await),
        h.secret_id.clone(),
        Duration::from_secs(300),
        Duration::from_secs(3600),
    );
    let p = Provisioner::new(
        ZuploClient::new(http(), &h.zuplo.url(), ACCOUNT, BUCKET),
        Arc::new(secrets),
        ConsumerCache::new(Duration::from_secs(60), 10),
        false,
    );
    let identity = Identity::new(key);
    let deadline = Deadline::after(Duration::from_secs(5));
    // Found and reused as ours …
    let found = p
        .ensure_consumer(&identity, Expect::ExistingUser, deadline)
        .await
        .unwrap();
    assert_eq!(found.consumer_id.as_str(), h.zuplo.consumers()[0].id);
    // … and deleted under the provider tag's guard.
    assert_eq!(
        p.remove(&identity, deadline).await.unwrap(),
        Removed::Deleted
    );
    let delete = h
        .zuplo
        .calls()
        .into_iter()
        .find(|c| c.method == "DELETE")
        .unwrap();
    assert_eq!(delete.query, "tag.provider=auth0");
    assert!(h.zuplo.consumers().is_empty());

    // A current consumer is deleted under managedBy.
    assert_eq!(login(&h, "auth0|current").await.status, 200);
    let current = Identity::new(auth0::user_key(TENANT, "auth0|current").unwrap());
    assert_eq!(
        p.remove(&current, deadline).await.unwrap(),
        Removed::Deleted
    );
    let last = h
        .zuplo
        .calls()
        .into_iter()
        .rev()
        .find(|c| c.method == "DELETE")
        .unwrap();
    assert_eq!(last.query, "tag.managedBy=zuplo-auth-hooks");
}
