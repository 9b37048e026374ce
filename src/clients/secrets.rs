//! The function's secrets, read from AWS Secrets Manager and cached across invocations.
//!
//! The secret's `SecretString` is either the bare Zuplo Developer API token or a JSON
//! object `{"zuplo_api_key": "...", "<field>": "...", ...}`. This module knows only the
//! Zuplo token: every other field is a named, optional, [`Redacted`] value that the
//! provider needing it reads and parses itself, once per load ([`PerLoad`]).
//!
//! When the cached copy is due for a refresh and Secrets Manager fails, the last good
//! copy is used for a grace period (stale-while-revalidate): a Secrets Manager blip must
//! not fail sign-ups that the cached token would serve. A token Zuplo rejects is never
//! served stale.
//!
//! Unsigned webhook requests need the secret before they can be verified, so reads are
//! throttled whatever their outcome: at most one is in flight per container (the state
//! mutex is held across it), and a read that failed or timed out is not repeated for
//! [`EMPTY_RETRY_PAUSE`]. Nobody can make this container call Secrets Manager at will.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use aws_sdk_secretsmanager::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use tokio::sync::Mutex;
use tokio::time::Instant;

use crate::deadline::Deadline;
pub use crate::redacted::Redacted;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Secrets {
    pub zuplo_api_key: Redacted,
    /// Every other non-null field of a JSON secret, by name (trimmed, never empty).
    fields: BTreeMap<String, Redacted>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SecretError {
    #[error("Secrets Manager call failed: {0}")]
    Fetch(String),
    #[error("Secrets Manager call did not finish before the request deadline")]
    Timeout,
    #[error("secret is malformed: {0}")]
    Malformed(&'static str),
    #[error("Zuplo rejects the token that was just read from Secrets Manager")]
    StillRejected,
}

impl Secrets {
    /// Parses a `SecretString`. Error messages never quote the value.
    pub fn parse(raw: &str) -> Result<Self, SecretError> {
        let raw = raw.trim();
        if raw.is_empty() {
            return Err(SecretError::Malformed("SecretString is empty"));
        }
        if !raw.starts_with('{') {
            if raw.chars().any(char::is_whitespace) {
                return Err(SecretError::Malformed(
                    "a bare token must not contain whitespace",
                ));
            }
            return Ok(Secrets {
                zuplo_api_key: Redacted::new(raw),
                fields: BTreeMap::new(),
            });
        }
        // serde_json's syntax errors carry positions only, never input text.
        let object: serde_json::Map<String, serde_json::Value> = serde_json::from_str(raw)
            .map_err(|_| {
                SecretError::Malformed("SecretString starts with '{' but is not a JSON object")
            })?;
        let mut fields = BTreeMap::new();
        for (name, value) in object {
            match value {
                serde_json::Value::Null => {}
                serde_json::Value::String(s) if !s.trim().is_empty() => {
                    fields.insert(name, Redacted::new(s.trim()));
                }
                _ => {
                    return Err(SecretError::Malformed(
                        "secret fields must be non-empty strings",
                    ));
                }
            }
        }
        let zuplo_api_key = fields
            .remove("zuplo_api_key")
            .ok_or(SecretError::Malformed(
                "JSON secret has no zuplo_api_key field",
            ))?;
        Ok(Secrets {
            zuplo_api_key,
            fields,
        })
    }

    /// A named field of a JSON secret, if present (a provider's signing secret, say).
    pub fn field(&self, name: &str) -> Option<&Redacted> {
        self.fields.get(name)
    }
}

/// Secrets plus the cache generation they came from, so that a caller who saw them
/// rejected can ask for a refresh without refreshing twice what others refreshed already.
#[derive(Debug, Clone)]
pub struct Lease {
    pub secrets: Arc<Secrets>,
    generation: u64,
}

impl Lease {
    /// Which load of the secret this is: changes whenever it is read again.
    pub fn generation(&self) -> u64 {
        self.generation
    }
}

/// A value derived from the secret (parsed signing keys, say), computed once per load
/// of the secret rather than once per request: parsing, and reporting a malformed
/// field, happen when the secret changes, not on every (possibly unsigned) request.
pub struct PerLoad<T> {
    cell: std::sync::Mutex<Option<(u64, Arc<T>)>>,
}

impl<T> Default for PerLoad<T> {
    fn default() -> Self {
        PerLoad {
            cell: std::sync::Mutex::new(None),
        }
    }
}

impl<T> PerLoad<T> {
    /// The value for `lease`'s load, from `derive` the first time that load is seen.
    pub fn get(&self, lease: &Lease, derive: impl FnOnce(&Secrets) -> T) -> Arc<T> {
        // A poisoned lock only means a panic mid-assignment of a plain Option.
        let mut cell = self
            .cell
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some((generation, value)) = cell.as_ref()
            && *generation == lease.generation
        {
            return value.clone();
        }
        let value = Arc::new(derive(&lease.secrets));
        *cell = Some((lease.generation, value.clone()));
        value
    }
}

struct Cached {
    secrets: Arc<Secrets>,
    fetched_at: Instant,
    generation: u64,
}

#[derive(Default)]
struct State {
    cached: Option<Cached>,
    /// The last failed fetch: it pauses further attempts for a while, so that a
    /// failing Secrets Manager is not called by every request (nor by every unsigned
    /// request, since Supabase requests need the secret before they can be verified).
    last_failure: Option<(Instant, SecretError)>,
    last_rejection_refresh: Option<Instant>,
}

/// With a stale copy to fall back on, a refresh may take this long at most, so that
/// the request keeps its time for Zuplo.
const STALE_REFRESH_BUDGET: Duration = Duration::from_secs(1);
/// After a failed refresh, requests use the stale copy without trying again for this long.
const STALE_RETRY_PAUSE: Duration = Duration::from_secs(10);
/// With nothing usable cached, a failed fetch is repeated at most this often.
const EMPTY_RETRY_PAUSE: Duration = Duration::from_secs(1);
/// A 401 re-reads the secret at most this often: while Zuplo rejects the token that is
/// current in Secrets Manager, re-reading it on every request would not help.
const REJECTION_REFRESH_INTERVAL: Duration = Duration::from_secs(5);

fn recent_failure(state: &State, within: Duration) -> Option<&(Instant, SecretError)> {
    state
        .last_failure
        .as_ref()
        .filter(|(t, _)| t.elapsed() < within)
}

pub struct SecretStore {
    /// `None` for a fixed secret (see [`SecretStore::fixed`]).
    client: Option<aws_sdk_secretsmanager::Client>,
    secret_id: String,
    ttl: Duration,
    grace: Duration,
    // A mutex, not a RwLock: holding it across the fetch makes concurrent misses wait
    // for one Secrets Manager call instead of each making their own.
    state: Mutex<State>,
}

impl SecretStore {
    /// `grace`: how long past the TTL the last good copy may be used while refreshes fail.
    pub fn new(
        client: aws_sdk_secretsmanager::Client,
        secret_id: String,
        ttl: Duration,
        grace: Duration,
    ) -> Self {
        SecretStore {
            client: Some(client),
            secret_id,
            ttl,
            grace,
            state: Mutex::new(State::default()),
        }
    }

    /// A secret given once and never read from Secrets Manager (a command-line run
    /// with the token in its environment).
    pub fn fixed(secrets: Secrets) -> Self {
        SecretStore {
            client: None,
            secret_id: String::new(),
            ttl: Duration::MAX,
            grace: Duration::ZERO,
            state: Mutex::new(State {
                cached: Some(Cached {
                    secrets: Arc::new(secrets),
                    fetched_at: Instant::now(),
                    generation: 1,
                }),
                ..State::default()
            }),
        }
    }

    /// The cached secrets, fetched first if absent or older than the TTL.
    pub async fn current(&self, deadline: Deadline) -> Result<Lease, SecretError> {
        let mut state = deadline
            .run(self.state.lock())
            .await
            .map_err(|_| SecretError::Timeout)?;
        if let Some(c) = &state.cached {
            let age = c.fetched_at.elapsed();
            let lease = Lease {
                secrets: c.secrets.clone(),
                generation: c.generation,
            };
            if age < self.ttl {
                return Ok(lease);
            }
            if age < self.ttl + self.grace {
                if recent_failure(&state, STALE_RETRY_PAUSE).is_some() {
                    return Ok(lease);
                }
                let short = deadline.min(Deadline::after(STALE_REFRESH_BUDGET));
                return match self.fetch_into(&mut state, short).await {
                    Ok(fresh) => Ok(fresh),
                    Err(e) => {
                        // Even a timeout pauses here: the short refresh budget ran out,
                        // and every request paying it again would only slow sign-ups.
                        state.last_failure = Some((Instant::now(), e.clone()));
                        tracing::warn!(reason = %e, age_s = age.as_secs(), "secret refresh failed; using the last good copy");
                        Ok(lease)
                    }
                };
            }
        }
        if let Some((_, e)) = recent_failure(&state, EMPTY_RETRY_PAUSE) {
            return Err(e.clone());
        }
        self.fetch_into(&mut state, deadline).await
    }

    /// Called when the secrets in `seen` were rejected (Zuplo answered 401): fetches them
    /// again unless another request has done so since `seen` was handed out.
    pub async fn refresh_after_rejection(
        &self,
        seen: &Lease,
        deadline: Deadline,
    ) -> Result<Lease, SecretError> {
        let mut state = deadline
            .run(self.state.lock())
            .await
            .map_err(|_| SecretError::Timeout)?;
        if let Some(c) = &state.cached {
            if c.generation != seen.generation {
                return Ok(Lease {
                    secrets: c.secrets.clone(),
                    generation: c.generation,
                });
            }
            if state
                .last_rejection_refresh
                .is_some_and(|t| t.elapsed() < REJECTION_REFRESH_INTERVAL)
            {
                return Err(SecretError::StillRejected);
            }
        }
        state.last_rejection_refresh = Some(Instant::now());
        self.fetch_into(&mut state, deadline).await
    }

    /// Forgets the last failure, so that the next request tries at once: init's
    /// warm-up calls it, because the first request was promised a retry.
    pub async fn forget_failure(&self) {
        self.state.lock().await.last_failure = None;
    }

    async fn fetch_into(
        &self,
        state: &mut State,
        deadline: Deadline,
    ) -> Result<Lease, SecretError> {
        let secrets = match self.fetch(deadline).await {
            Ok(secrets) => Arc::new(secrets),
            Err(e) => {
                // Timeouts pause the next attempts too: while Secrets Manager is slow,
                // unsigned requests must not each start a read of their own.
                state.last_failure = Some((Instant::now(), e.clone()));
                return Err(e);
            }
        };
        let generation = state.cached.as_ref().map_or(1, |c| c.generation + 1);
        state.cached = Some(Cached {
            secrets: secrets.clone(),
            fetched_at: Instant::now(),
            generation,
        });
        state.last_failure = None;
        tracing::info!(generation, "loaded secrets from Secrets Manager");
        Ok(Lease {
            secrets,
            generation,
        })
    }

    async fn fetch(&self, deadline: Deadline) -> Result<Secrets, SecretError> {
        let Some(client) = &self.client else {
            // A fixed secret has nothing to read again.
            return Err(SecretError::StillRejected);
        };
        let output = deadline
            .run(client.get_secret_value().secret_id(&self.secret_id).send())
            .await
            .map_err(|_| SecretError::Timeout)?
            .map_err(|e| SecretError::Fetch(describe(&e)))?;
        let raw = output.secret_string().ok_or(SecretError::Malformed(
            "secret has no SecretString (binary secrets are not supported)",
        ))?;
        Secrets::parse(raw)
    }
}

/// One line for the log. A service error is its code and message (the SDK's full
/// rendering adds the raw response); transport errors keep their cause chain. Neither
/// ever holds the secret's value.
fn describe<E: ProvideErrorMetadata + std::error::Error + 'static, R: std::fmt::Debug>(
    e: &SdkError<E, R>,
) -> String {
    match e {
        SdkError::ServiceError(service) => {
            let err = service.err();
            format!(
                "{}: {}",
                err.code().unwrap_or("service error"),
                err.message().unwrap_or("no message")
            )
        }
        other => DisplayErrorContext(other).to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bare_token() {
        let s = Secrets::parse("  zpka_abc_123\n").unwrap();
        assert_eq!(s.zuplo_api_key.expose(), "zpka_abc_123");
        assert_eq!(s.field("supabase_hook_secret"), None);
    }

    #[test]
    fn json_object() {
        let s = Secrets::parse(
            r#"{"zuplo_api_key":"zpka_x","supabase_hook_secret":" v1,whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw ","unused":null}"#,
        )
        .unwrap();
        assert_eq!(s.zuplo_api_key.expose(), "zpka_x");
        assert_eq!(
            s.field("supabase_hook_secret").map(Redacted::expose),
            Some("v1,whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
        );
        assert_eq!(s.field("unused"), None);
        assert_eq!(s.field("zuplo_api_key"), None, "the token is not a field");
        assert_eq!(
            Secrets::parse(r#"{"zuplo_api_key":"zpka_x"}"#)
                .unwrap()
                .field("supabase_hook_secret"),
            None
        );
    }

    #[test]
    fn malformed_secrets_are_refused_without_echoing_them() {
        for raw in [
            "",
            "   ",
            "two words",
            "{not json",
            r#"{"other":"zpka_hidden"}"#,
            r#"{"zuplo_api_key":""}"#,
            r#"{"zuplo_api_key":12345}"#,
            r#"{"zuplo_api_key":"zpka_ok","supabase_hook_secret":7}"#,
            r#"{"zuplo_api_key":"zpka_ok","clerk_webhook_secret":"  "}"#,
        ] {
            let e = Secrets::parse(raw).unwrap_err();
            let shown = e.to_string();
            assert!(matches!(e, SecretError::Malformed(_)), "{raw:?}");
            assert!(
                !shown.contains("hidden") && !shown.contains("12345"),
                "{shown}"
            );
        }
    }

    #[test]
    fn debug_never_shows_the_value() {
        let s = Secrets::parse(r#"{"zuplo_api_key":"zpka_topsecret","other":"hook_topsecret"}"#)
            .unwrap();
        let shown = format!("{s:?}");
        assert!(!shown.contains("topsecret"), "{shown}");
        assert!(shown.contains("***"));
    }

    #[test]
    fn per_load_values_are_derived_once_per_generation() {
        let secrets = Arc::new(Secrets::parse("zpka_x").unwrap());
        let first = Lease {
            secrets: secrets.clone(),
            generation: 1,
        };
        let second = Lease {
            secrets,
            generation: 2,
        };
        let derived = PerLoad::default();
        let mut calls = 0;
        for lease in [&first, &first, &second, &second, &first] {
            derived.get(lease, |_| {
                calls += 1;
                calls
            });
        }
        // Generation 1, then 2, then 1 again (a different load than the one cached).
        assert_eq!(calls, 3);
        assert_eq!(*derived.get(&first, |_| 99), 3);
    }
}
