//! The core operation that deletes a user's consumer (for providers' deletion events and
//! a later prune): it deletes only a consumer we created for that very user, makes no
//! delete call when there is nothing to delete, and is safe to repeat.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::*;
use zuplo_auth_hooks::clients::secrets::SecretStore;
use zuplo_auth_hooks::clients::zuplo::ZuploClient;
use zuplo_auth_hooks::deadline::Deadline;
use zuplo_auth_hooks::provision::cache::ConsumerCache;
use zuplo_auth_hooks::provision::{
    ColonIn, Expect, Identity, Outcome, Provider, ProvisionError, Provisioner, Removed, UserKey,
};
use zuplo_standin::{Fault, FaultAction};

const PROVIDER: Provider = Provider::new("cognito", 1, ColonIn::Nowhere);

async fn provisioner(h: &Harness) -> Provisioner {
    let secrets = SecretStore::new(
        aws_sdk_secretsmanager::Client::new(&sdk_config(&h.secrets.url).await),
        h.secret_id.clone(),
        Duration::from_secs(300),
        Duration::from_secs(3600),
    );
    Provisioner::new(
        ZuploClient::new(http(), &h.zuplo.url(), ACCOUNT, BUCKET),
        Arc::new(secrets),
        ConsumerCache::new(Duration::from_secs(3600), 100),
        false,
    )
}

fn identity(user: &str) -> Identity {
    let mut identity = Identity::new(UserKey::new(PROVIDER, &["us-east-1_Pool"], user).unwrap());
    identity.email = Some(format!("{user}@example.com"));
    identity
}

fn deadline() -> Deadline {
    Deadline::after(Duration::from_secs(5))
}

/// The methods of the Zuplo calls made since `before`.
fn methods_since(h: &Harness, before: usize) -> Vec<String> {
    h.zuplo.calls()[before..]
        .iter()
        .map(|c| c.method.clone())
        .collect()
}

#[tokio::test]
async fn a_users_consumer_is_deleted_once_and_a_repeat_finds_nothing() {
    let h = Harness::start().await;
    let p = provisioner(&h).await;
    let ada = identity("ada");
    p.ensure_consumer(&ada, Expect::NewUser, deadline())
        .await
        .unwrap();
    p.ensure_consumer(&identity("grace"), Expect::NewUser, deadline())
        .await
        .unwrap();
    assert_eq!(h.zuplo.consumers().len(), 2);

    let before = h.zuplo.calls().len();
    assert_eq!(p.remove(&ada, deadline()).await.unwrap(), Removed::Deleted);
    assert_eq!(methods_since(&h, before), ["GET", "DELETE"]);
    let left = h.zuplo.consumers();
    assert_eq!(left.len(), 1, "only Ada's consumer is gone");
    assert_eq!(left[0].metadata["userId"], "grace");

    let before = h.zuplo.calls().len();
    assert_eq!(p.remove(&ada, deadline()).await.unwrap(), Removed::Absent);
    assert_eq!(
        methods_since(&h, before),
        ["GET"],
        "no delete call for nothing"
    );

    // The container forgot her consumer: provisioning her again creates a new one.
    let again = p
        .ensure_consumer(&ada, Expect::ExistingUser, deadline())
        .await
        .unwrap();
    assert_eq!(again.outcome, Outcome::Created);
}

#[tokio::test]
async fn a_consumer_we_did_not_create_is_never_deleted() {
    let h = Harness::start().await;
    let p = provisioner(&h).await;
    let ada = identity("ada");
    // Somebody else's consumer under the name our function derives for Ada.
    let name = ada.consumer_name();
    let created = reqwest::Client::new()
        .post(format!(
            "{}/v1/accounts/{ACCOUNT}/key-buckets/{BUCKET}/consumers",
            h.zuplo.url()
        ))
        .bearer_auth(ZUPLO_TOKEN)
        .json(&serde_json::json!({"name": name.as_str(), "metadata": {"userId": "someone-else"}}))
        .send()
        .await
        .unwrap();
    assert!(created.status().is_success());

    let before = h.zuplo.calls().len();
    let refused = p.remove(&ada, deadline()).await;
    assert!(
        matches!(refused, Err(ProvisionError::NameTaken { .. })),
        "{refused:?}"
    );
    assert_eq!(methods_since(&h, before), ["GET"]);
    assert_eq!(h.zuplo.consumers().len(), 1, "still there");
}

#[tokio::test]
async fn a_failing_delete_is_retried_within_the_deadline() {
    let h = Harness::start().await;
    let p = provisioner(&h).await;
    let ada = identity("ada");
    p.ensure_consumer(&ada, Expect::NewUser, deadline())
        .await
        .unwrap();
    h.zuplo.push_fault(Fault {
        method: Some("DELETE".into()),
        delay_ms: 0,
        action: FaultAction::Status {
            status: 503,
            retry_after: None,
        },
    });
    assert_eq!(p.remove(&ada, deadline()).await.unwrap(), Removed::Deleted);
    assert!(h.zuplo.consumers().is_empty());
    let deletes = h
        .zuplo
        .calls()
        .iter()
        .filter(|c| c.method == "DELETE")
        .map(|c| c.status)
        .collect::<Vec<_>>();
    assert_eq!(deletes, [503, 204]);
}
