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

use crate::consumer_cache::ConsumerCache;
use crate::deadline::Deadline;
use crate::secrets::{Redacted, SecretError, SecretStore};
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

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// This call created the consumer.
    Created,
    /// The consumer existed already in Zuplo (a retry, a race, or a reconcile).
    Reused,
    /// Answered from this container's memory, with no Zuplo call.
    Cached,
}

/// Which Zuplo call to try first on a cache miss.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lookup {
    /// Sign-ups: the consumer almost never exists, so create (one call).
    CreateFirst,
    /// Refreshes of existing sessions: it almost always exists, so look it up (one call).
    FindFirst,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Provisioned {
    pub consumer_id: String,
    pub consumer_name: String,
    pub outcome: Outcome,
}

#[derive(Debug, thiserror::Error)]
pub enum ProvisionError {
    #[error("secret unavailable: {0}")]
    Secret(#[from] SecretError),
    #[error(transparent)]
    Zuplo(#[from] ZuploError),
    #[error("consumer {name} exists but belongs to another user")]
    NameTaken { name: String },
    #[error("consumer {name} vanished between a 409 and the lookup")]
    Vanished { name: String },
    #[error("another request for the same user did not finish before the deadline")]
    Busy,
}

pub struct Provisioner {
    zuplo: ZuploClient,
    secrets: Arc<SecretStore>,
    cache: ConsumerCache,
    require_verified_email: bool,
}

impl Provisioner {
    pub fn new(
        zuplo: ZuploClient,
        secrets: Arc<SecretStore>,
        cache: ConsumerCache,
        require_verified_email: bool,
    ) -> Self {
        Provisioner {
            zuplo,
            secrets,
            cache,
            require_verified_email,
        }
    }

    /// Ensures one consumer exists for `identity` and returns its ID.
    pub async fn ensure_consumer(
        &self,
        identity: &Identity,
        lookup: Lookup,
        deadline: Deadline,
    ) -> Result<Provisioned, ProvisionError> {
        let name = identity.consumer_name();
        let cached = |consumer_id| Provisioned {
            consumer_id,
            consumer_name: name.clone(),
            outcome: Outcome::Cached,
        };
        if let Some(id) = self.cache.get(&name) {
            return Ok(cached(id));
        }
        let _flight = self
            .cache
            .flight(&name, deadline)
            .await
            .map_err(|_| ProvisionError::Busy)?;
        // A request we waited for may have done the work.
        if let Some(id) = self.cache.get(&name) {
            return Ok(cached(id));
        }
        let provisioned = self.with_token(identity, lookup, deadline).await?;
        self.cache.put(&name, &provisioned.consumer_id);
        Ok(provisioned)
    }

    async fn with_token(
        &self,
        identity: &Identity,
        lookup: Lookup,
        deadline: Deadline,
    ) -> Result<Provisioned, ProvisionError> {
        let request = self.new_consumer(identity);
        let lease = self.secrets.current(deadline).await?;
        let token = &lease.secrets.zuplo_api_key;
        match self
            .find_or_create(token, identity, &request, lookup, deadline)
            .await
        {
            // The token may have been rotated since we cached it: fetch it again, once.
            Err(ProvisionError::Zuplo(ZuploError::Unauthorized)) => {
                tracing::warn!("Zuplo rejected the cached token; reading the secret again");
                let lease = self
                    .secrets
                    .refresh_after_rejection(&lease, deadline)
                    .await?;
                let token = &lease.secrets.zuplo_api_key;
                self.find_or_create(token, identity, &request, lookup, deadline)
                    .await
            }
            other => other,
        }
    }

    async fn find_or_create(
        &self,
        token: &Redacted,
        identity: &Identity,
        request: &NewConsumer,
        lookup: Lookup,
        deadline: Deadline,
    ) -> Result<Provisioned, ProvisionError> {
        if lookup == Lookup::FindFirst
            && let Some(found) = self.find(token, identity, &request.name, deadline).await?
        {
            return Ok(found);
        }
        match self.zuplo.create_consumer(token, request, deadline).await? {
            Created::New(consumer) => Ok(Provisioned {
                consumer_id: consumer.id,
                consumer_name: request.name.clone(),
                outcome: Outcome::Created,
            }),
            Created::AlreadyExists => self
                .find(token, identity, &request.name, deadline)
                .await?
                .ok_or_else(|| ProvisionError::Vanished {
                    name: request.name.clone(),
                }),
        }
    }

    async fn find(
        &self,
        token: &Redacted,
        identity: &Identity,
        name: &str,
        deadline: Deadline,
    ) -> Result<Option<Provisioned>, ProvisionError> {
        let Some(consumer) = self.zuplo.get_consumer(token, name, deadline).await? else {
            return Ok(None);
        };
        check_owner(&consumer, identity)?;
        Ok(Some(Provisioned {
            consumer_id: consumer.id,
            consumer_name: name.to_owned(),
            outcome: Outcome::Reused,
        }))
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

/// A consumer found under our deterministic name must carry our metadata. If it names
/// another user, or none, someone else created it: never hand its ID to this user.
fn check_owner(consumer: &Consumer, identity: &Identity) -> Result<(), ProvisionError> {
    let field = |name| {
        consumer
            .metadata
            .as_ref()
            .and_then(|m| m.get(name))
            .and_then(Value::as_str)
    };
    let ours = field("userId") == Some(identity.user_id.as_str())
        && field("provider").is_none_or(|p| p == identity.provider.as_str());
    if ours {
        Ok(())
    } else {
        Err(ProvisionError::NameTaken {
            name: consumer.name.clone(),
        })
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
        let other_provider = Consumer {
            metadata: Some(serde_json::json!({"userId": "uid-1", "provider": "supabase"})),
            ..mine.clone()
        };
        assert!(check_owner(&mine, &id).is_ok());
        for foreign in [&theirs, &bare, &other_provider] {
            assert!(matches!(
                check_owner(foreign, &id),
                Err(ProvisionError::NameTaken { .. })
            ));
        }
    }

    #[test]
    fn email_plausibility() {
        assert!(plausible_email("a@b.co"));
        for bad in ["", "a", "@b.co", "a@b", "a b@c.d", "a@b.co\n"] {
            assert!(!plausible_email(bad), "{bad:?}");
        }
    }
}
