//! The provisioning core: make sure exactly one Zuplo consumer exists for an identity.
//!
//! It knows nothing about HTTP requests or identity providers' wire formats: adapters
//! hand it an [`Identity`] and get back the consumer's ID.
//!
//! Idempotency comes from the consumer's name, derived from the identity alone (UUID v5).
//! A retried, concurrent or timed-out call that already created the consumer gets a
//! 409 from Zuplo, which turns into a lookup of the same consumer.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde_json::{Map, Value};
use uuid::Uuid;

use crate::deadline::Deadline;
use crate::secrets::{SecretError, SecretStore};
use crate::zuplo::{Consumer, Created, NewConsumer, ZuploClient, ZuploError};

/// The namespace of every consumer name this project derives. Changing it would
/// give every existing user a second consumer: never change it.
const NAME_NAMESPACE: Uuid = Uuid::from_u128(0x6d1c_6a2e_58b4_4f0a_9a39_7c1e_2f4b_8d05);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Provider {
    Firebase,
    Supabase,
}

impl Provider {
    pub fn as_str(self) -> &'static str {
        match self {
            Provider::Firebase => "firebase",
            Provider::Supabase => "supabase",
        }
    }
}

/// A verified user, as far as provisioning cares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    pub provider: Provider,
    /// Where the user id is unique: for Firebase `<project>:<tenant or empty>`.
    pub namespace: String,
    pub user_id: String,
    pub tenant: Option<String>,
    pub email: Option<String>,
    pub email_verified: bool,
    pub display_name: Option<String>,
}

impl Identity {
    /// The deterministic consumer name: `c-` + UUID v5 over `<provider>:<namespace>:<user id>`.
    pub fn consumer_name(&self) -> String {
        let key = format!(
            "{}:{}:{}",
            self.provider.as_str(),
            self.namespace,
            self.user_id
        );
        format!("c-{}", Uuid::new_v5(&NAME_NAMESPACE, key.as_bytes()))
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Provisioned {
    pub consumer_id: String,
    pub consumer_name: String,
    /// False when the consumer existed already (a retry, a race, or a reconcile).
    pub created: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum ProvisionError {
    #[error("secret unavailable: {0}")]
    Secret(#[from] SecretError),
    #[error(transparent)]
    Zuplo(#[from] ZuploError),
    #[error("consumer {name} exists but belongs to another user")]
    NameTaken { name: String },
}

pub struct Provisioner {
    zuplo: ZuploClient,
    secrets: Arc<SecretStore>,
    require_verified_email: bool,
}

impl Provisioner {
    pub fn new(
        zuplo: ZuploClient,
        secrets: Arc<SecretStore>,
        require_verified_email: bool,
    ) -> Self {
        Provisioner {
            zuplo,
            secrets,
            require_verified_email,
        }
    }

    /// Ensures one consumer exists for `identity` and returns its ID.
    pub async fn ensure_consumer(
        &self,
        identity: &Identity,
        deadline: Deadline,
    ) -> Result<Provisioned, ProvisionError> {
        let request = self.new_consumer(identity);
        let lease = self.secrets.current(deadline).await?;
        match self
            .create_or_find(&lease.secrets.zuplo_api_key, identity, &request, deadline)
            .await
        {
            // The token may have been rotated since we cached it: fetch it again, once.
            Err(ProvisionError::Zuplo(ZuploError::Unauthorized)) => {
                tracing::warn!("Zuplo rejected the cached token; reading the secret again");
                let lease = self
                    .secrets
                    .refresh_after_rejection(&lease, deadline)
                    .await?;
                self.create_or_find(&lease.secrets.zuplo_api_key, identity, &request, deadline)
                    .await
            }
            other => other,
        }
    }

    async fn create_or_find(
        &self,
        token: &crate::secrets::Redacted,
        identity: &Identity,
        request: &NewConsumer,
        deadline: Deadline,
    ) -> Result<Provisioned, ProvisionError> {
        match self.zuplo.create_consumer(token, request, deadline).await? {
            Created::New(consumer) => Ok(Provisioned {
                consumer_id: consumer.id,
                consumer_name: request.name.clone(),
                created: true,
            }),
            Created::AlreadyExists => {
                let consumer = self
                    .zuplo
                    .get_consumer(token, &request.name, deadline)
                    .await?;
                check_owner(&consumer, identity)?;
                Ok(Provisioned {
                    consumer_id: consumer.id,
                    consumer_name: request.name.clone(),
                    created: false,
                })
            }
        }
    }

    fn new_consumer(&self, identity: &Identity) -> NewConsumer {
        let manager = identity
            .email
            .as_deref()
            .filter(|e| plausible_email(e))
            .filter(|_| identity.email_verified || !self.require_verified_email);
        let mut metadata = Map::new();
        metadata.insert("provider".into(), identity.provider.as_str().into());
        metadata.insert("userId".into(), identity.user_id.clone().into());
        if let Some(tenant) = &identity.tenant {
            metadata.insert("tenant".into(), tenant.clone().into());
        }
        let who = identity
            .email
            .as_deref()
            .or(identity.display_name.as_deref())
            .unwrap_or(&identity.user_id);
        NewConsumer {
            name: identity.consumer_name(),
            description: truncate(&format!("{} user {who}", identity.provider.as_str()), 200),
            managers: manager.map(str::to_owned).into_iter().collect(),
            metadata,
            tags: BTreeMap::from([("provider".to_owned(), identity.provider.as_str().to_owned())]),
        }
    }
}

/// A consumer found under our deterministic name should carry our metadata. If it
/// names another user, someone else created it: never hand its ID to this user.
fn check_owner(consumer: &Consumer, identity: &Identity) -> Result<(), ProvisionError> {
    let owner = consumer
        .metadata
        .as_ref()
        .and_then(|m| m.get("userId"))
        .and_then(Value::as_str);
    match owner {
        Some(owner) if owner != identity.user_id => Err(ProvisionError::NameTaken {
            name: consumer.name.clone(),
        }),
        _ => Ok(()),
    }
}

/// Zuplo sends an invitation to each manager address: skip values that cannot be one
/// rather than failing the whole sign-up on a 400.
fn plausible_email(e: &str) -> bool {
    e.len() <= 254
        && !e.chars().any(|c| c.is_whitespace() || c.is_control())
        && e.split_once('@')
            .is_some_and(|(local, domain)| !local.is_empty() && domain.contains('.'))
}

fn truncate(s: &str, max_chars: usize) -> String {
    s.chars().take(max_chars).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn identity(user: &str) -> Identity {
        Identity {
            provider: Provider::Firebase,
            namespace: "demo:".into(),
            user_id: user.into(),
            tenant: None,
            email: Some("a@example.com".into()),
            email_verified: true,
            display_name: None,
        }
    }

    #[test]
    fn consumer_names_are_deterministic_and_valid() {
        let a = identity("uid-1").consumer_name();
        assert_eq!(a, identity("uid-1").consumer_name());
        assert_ne!(a, identity("uid-2").consumer_name());
        assert_eq!(a.len(), 38);
        assert!(a.starts_with("c-"));
        assert!(
            a.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        );
    }

    #[test]
    fn names_differ_by_provider_namespace_and_tenant() {
        let base = identity("u");
        let mut other_ns = base.clone();
        other_ns.namespace = "demo:tenant-1".into();
        let mut other_provider = base.clone();
        other_provider.provider = Provider::Supabase;
        assert_ne!(base.consumer_name(), other_ns.consumer_name());
        assert_ne!(base.consumer_name(), other_provider.consumer_name());
    }

    #[test]
    fn name_is_pinned() {
        // Guards the namespace constant: a change would duplicate every user's consumer.
        let expected = Uuid::new_v5(&NAME_NAMESPACE, b"firebase:demo::uid-1");
        assert_eq!(identity("uid-1").consumer_name(), format!("c-{expected}"));
        assert_eq!(
            NAME_NAMESPACE.to_string(),
            "6d1c6a2e-58b4-4f0a-9a39-7c1e2f4b8d05"
        );
    }

    #[test]
    fn owner_check() {
        let id = identity("uid-1");
        let mine = Consumer {
            id: "csmr_1".into(),
            name: "c-x".into(),
            metadata: Some(serde_json::json!({"userId": "uid-1"})),
        };
        let theirs = Consumer {
            metadata: Some(serde_json::json!({"userId": "uid-2"})),
            ..mine.clone()
        };
        let bare = Consumer {
            metadata: None,
            ..mine.clone()
        };
        assert!(check_owner(&mine, &id).is_ok());
        assert!(check_owner(&bare, &id).is_ok());
        assert!(matches!(
            check_owner(&theirs, &id),
            Err(ProvisionError::NameTaken { .. })
        ));
    }

    #[test]
    fn email_plausibility() {
        assert!(plausible_email("a@b.co"));
        for bad in ["", "a", "@b.co", "a@b", "a b@c.d", "a@b.co\n"] {
            assert!(!plausible_email(bad), "{bad:?}");
        }
    }
}
