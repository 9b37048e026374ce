//! The provisioning core: make sure exactly one Zuplo consumer exists for an identity.
//!
//! It knows nothing about HTTP requests or identity providers' wire formats: adapters
//! hand it an [`Identity`] and get back an [`Attempt`]: the consumer, or a failure
//! that [`Attempt::decide`] turns into the fail-open / fail-closed decision.
//!
//! Idempotency comes from the consumer's name, derived from the identity alone (UUID v5).
//! A retried, concurrent or timed-out call that already created the consumer gets a
//! 409 from Zuplo, which turns into a lookup of the same consumer.

pub mod cache;
pub mod identity;
pub mod outcome;

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use tokio::time::Instant;

use crate::clients::secrets::{Redacted, SecretStore};
use crate::clients::zuplo::{Consumer, Created, NewConsumer, WithKey, ZuploClient, ZuploError};
use crate::deadline::Deadline;
use crate::time::{format_rfc3339, parse_rfc3339};
use cache::ConsumerCache;
pub use identity::{
    ColonIn, ConsumerId, ConsumerMetadata, ConsumerName, Identity, KeyError, MANAGED_BY_TAG,
    PROVIDER_TAG, Provider, SIGNUP_METHOD_TAG, UserKey, consumer_tags,
};
pub use outcome::{
    Attempt, Decision, Expect, FailMode, Outcome, ProvisionError, Provisioned, Removed,
};

pub struct Provisioner {
    zuplo: ZuploClient,
    secrets: Arc<SecretStore>,
    cache: ConsumerCache,
    require_verified_email: bool,
    /// `KEY_EXPIRES_AFTER_DAYS`: trial keys that expire this long after creation.
    key_expiry: Option<Duration>,
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
            key_expiry: None,
        }
    }

    /// New consumers get one key that expires `after` its creation (trial keys),
    /// instead of one that never expires.
    pub fn with_key_expiry(mut self, after: Option<Duration>) -> Self {
        self.key_expiry = after;
        self
    }

    /// Provisions under the request's deadline, for an adapter: never outlives it.
    pub async fn attempt(
        &self,
        identity: &Identity,
        expect: Expect,
        deadline: Deadline,
    ) -> Attempt {
        let started = Instant::now();
        let result = match deadline
            .run(self.ensure_consumer(identity, expect, deadline))
            .await
        {
            Ok(result) => result,
            Err(_) => Err(ProvisionError::Deadline),
        };
        Attempt {
            consumer_name: identity.consumer_name(),
            result,
            took: started.elapsed(),
        }
    }

    /// Ensures one consumer exists for `identity` and returns its ID.
    pub async fn ensure_consumer(
        &self,
        identity: &Identity,
        expect: Expect,
        deadline: Deadline,
    ) -> Result<Provisioned, ProvisionError> {
        let name = identity.consumer_name();
        let key = identity.key.as_str();
        let cached = |consumer_id| Provisioned {
            consumer_id,
            consumer_name: name.clone(),
            outcome: Outcome::Cached,
        };
        if let Some(id) = self.cache.get(&name, key) {
            return Ok(cached(id));
        }
        let _flight = self
            .cache
            .flight(&name, deadline)
            .await
            .map_err(|_| ProvisionError::Busy)?;
        // A request we waited for may have done the work.
        if let Some(id) = self.cache.get(&name, key) {
            return Ok(cached(id));
        }
        let request = self.new_consumer(identity);
        let provisioned = self
            .with_token(deadline, |token| {
                let request = &request;
                async move {
                    self.find_or_create(&token, identity, request, expect, deadline)
                        .await
                }
            })
            .await?;
        self.cache.put(&name, key, &provisioned.consumer_id);
        Ok(provisioned)
    }

    /// Deletes `identity`'s consumer, and only if it is ours: found under the
    /// identity's name, carrying our metadata for this very user, and tagged with its
    /// provider. Makes no delete call when there is nothing to delete; safe to repeat.
    pub async fn remove(
        &self,
        identity: &Identity,
        deadline: Deadline,
    ) -> Result<Removed, ProvisionError> {
        let name = identity.consumer_name();
        // Not while a request of this container provisions the same user.
        let _flight = self
            .cache
            .flight(&name, deadline)
            .await
            .map_err(|_| ProvisionError::Busy)?;
        let removed = self
            .with_token(deadline, |token| async move {
                self.remove_with(&token, identity, deadline).await
            })
            .await?;
        self.cache.forget(&name);
        Ok(removed)
    }

    async fn remove_with(
        &self,
        token: &Redacted,
        identity: &Identity,
        deadline: Deadline,
    ) -> Result<Removed, ProvisionError> {
        let name = identity.consumer_name();
        let Some(consumer) = self
            .zuplo
            .get_consumer(token, name.as_str(), false, deadline)
            .await?
        else {
            return Ok(Removed::Absent);
        };
        // Never delete a consumer we did not create for this user.
        check_owner(&consumer, identity)?;
        // And say so to Zuplo too: the delete only goes through if the consumer carries
        // our tag (or, made before that tag existed, its provider's).
        let managed = consumer
            .tags
            .as_ref()
            .and_then(|t| t.get(MANAGED_BY_TAG.0))
            .is_some_and(|v| v == MANAGED_BY_TAG.1);
        let guard = if managed {
            MANAGED_BY_TAG
        } else {
            (PROVIDER_TAG, identity.key.provider().name())
        };
        let deleted = self
            .zuplo
            .delete_consumer(token, name.as_str(), guard, deadline)
            .await?;
        Ok(if deleted {
            Removed::Deleted
        } else {
            Removed::Absent
        })
    }

    /// Runs `call` with the Zuplo token; when Zuplo rejects it (it may have been rotated
    /// since it was cached), reads the secret again and runs `call` once more.
    async fn with_token<T, F, Fut>(&self, deadline: Deadline, call: F) -> Result<T, ProvisionError>
    where
        F: Fn(Redacted) -> Fut,
        Fut: std::future::Future<Output = Result<T, ProvisionError>>,
    {
        let lease = self.secrets.current(deadline).await?;
        match call(lease.secrets.zuplo_api_key.clone()).await {
            Err(ProvisionError::Zuplo(ZuploError::Unauthorized)) => {
                tracing::warn!("Zuplo rejected the cached token; reading the secret again");
                let lease = self
                    .secrets
                    .refresh_after_rejection(&lease, deadline)
                    .await?;
                call(lease.secrets.zuplo_api_key.clone()).await
            }
            other => other,
        }
    }

    async fn find_or_create(
        &self,
        token: &Redacted,
        identity: &Identity,
        request: &NewConsumer,
        expect: Expect,
        deadline: Deadline,
    ) -> Result<Provisioned, ProvisionError> {
        if expect == Expect::ExistingUser
            && let Some(found) = self.find(token, identity, &request.name, deadline).await?
        {
            return Ok(found);
        }
        let with_key = match self.key_expiry {
            Some(_) => WithKey::No,
            None => WithKey::Yes,
        };
        match self
            .zuplo
            .create_consumer(token, request, with_key, deadline)
            .await?
        {
            Created::New(consumer) => {
                if let Some(after) = self.key_expiry {
                    // Should this fail, the next attempt finds the consumer keyless
                    // (after a 409) and gives it its key then.
                    let ends = format_rfc3339(SystemTime::now() + after);
                    self.zuplo
                        .create_key(token, &request.name, &ends, deadline)
                        .await?;
                }
                Ok(Provisioned {
                    consumer_id: ConsumerId::new(consumer.id),
                    consumer_name: identity.consumer_name(),
                    outcome: Outcome::Created,
                })
            }
            Created::AlreadyExists => self
                .find(token, identity, &request.name, deadline)
                .await?
                .ok_or_else(|| ProvisionError::Vanished {
                    name: identity.consumer_name(),
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
        let trial = self.key_expiry;
        let Some(consumer) = self
            .zuplo
            .get_consumer(token, name, trial.is_some(), deadline)
            .await?
        else {
            return Ok(None);
        };
        check_owner(&consumer, identity)?;
        // A consumer whose key creation was cut short gets its key now; one with any
        // key is left as it is. The key ends when the trial that began with the
        // consumer ends, so deleting an expired trial key never buys a new trial.
        if let Some(after) = trial
            && consumer
                .api_keys
                .as_ref()
                .is_none_or(|keys| keys.is_empty())
        {
            let began = consumer
                .created_on
                .as_deref()
                .and_then(parse_rfc3339)
                .unwrap_or_else(SystemTime::now);
            let ends = began + after;
            if ends > SystemTime::now() {
                self.zuplo
                    .create_key(token, name, &format_rfc3339(ends), deadline)
                    .await?;
            }
        }
        Ok(Some(Provisioned {
            consumer_id: ConsumerId::new(consumer.id),
            consumer_name: identity.consumer_name(),
            outcome: Outcome::Reused,
        }))
    }

    fn new_consumer(&self, identity: &Identity) -> NewConsumer {
        let manager = identity
            .email
            .as_deref()
            .filter(|e| plausible_email(e))
            .filter(|_| identity.email_verified || !self.require_verified_email);
        let metadata = match serde_json::to_value(ConsumerMetadata::for_identity(identity)) {
            Ok(serde_json::Value::Object(map)) => map,
            // A struct of strings always serialises to an object.
            _ => serde_json::Map::new(),
        };
        let provider = identity.key.provider().name();
        let who = identity
            .email
            .as_deref()
            .or(identity.display_name.as_deref())
            .unwrap_or(identity.key.user_id());
        NewConsumer {
            name: identity.consumer_name().as_str().to_owned(),
            description: truncate(&format!("{provider} user {who}"), 200),
            managers: manager.map(str::to_owned).into_iter().collect(),
            metadata,
            tags: consumer_tags(identity),
        }
    }
}

/// A consumer found under our deterministic name must carry our metadata. If it names
/// another user, or none, someone else created it: never hand its ID to this user.
fn check_owner(consumer: &Consumer, identity: &Identity) -> Result<(), ProvisionError> {
    let ours = consumer
        .metadata
        .clone()
        .and_then(|m| serde_json::from_value::<ConsumerMetadata>(m).ok())
        .is_some_and(|m| m.belongs_to(identity));
    if ours {
        Ok(())
    } else {
        Err(ProvisionError::NameTaken {
            name: identity.consumer_name(),
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
        let provider = Provider::new("firebase", 2, ColonIn::UserId);
        let mut identity = Identity::new(UserKey::new(provider, &["demo", ""], user).unwrap());
        identity.email = Some("a@example.com".into());
        identity.email_verified = true;
        identity
    }

    #[test]
    fn owner_check() {
        let id = identity("uid-1");
        let mine = Consumer {
            id: "csmr_1".into(),
            name: "c-x".into(),
            metadata: Some(serde_json::json!({"userId": "uid-1"})),
            ..Consumer::default()
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
        let not_strings = Consumer {
            metadata: Some(serde_json::json!({"userId": 1})),
            ..mine.clone()
        };
        assert!(check_owner(&mine, &id).is_ok());
        for foreign in [&theirs, &bare, &other_provider, &not_strings] {
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
