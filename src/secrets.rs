//! The function's secrets, read from AWS Secrets Manager and cached across invocations.
//!
//! The secret's `SecretString` is either the bare Zuplo Developer API token or a JSON
//! object `{"zuplo_api_key": "...", "supabase_hook_secret": "..."}`. Values are wrapped
//! in [`Redacted`] so that no `Debug` or log line can print them.
//!
//! When the cached copy is due for a refresh and Secrets Manager fails, the last good
//! copy is used for a grace period (stale-while-revalidate): a Secrets Manager blip must
//! not fail sign-ups that the cached token would serve. A token Zuplo rejects is never
//! served stale.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use aws_sdk_secretsmanager::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use tokio::sync::Mutex;
use tokio::time::Instant;

use crate::deadline::Deadline;
use crate::supabase::signature::{KeyError, WebhookKeys};

/// A secret value that never shows itself in `Debug` or `Display`.
#[derive(Clone, PartialEq, Eq)]
pub struct Redacted(String);

impl Redacted {
    pub fn new(value: impl Into<String>) -> Self {
        Redacted(value.into())
    }

    /// The only way to read the value: grep for `expose` to audit every use.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Redacted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Redacted(***)")
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Secrets {
    pub zuplo_api_key: Redacted,
    /// The Supabase hook secret(s), parsed once per load. `None` when the field is
    /// absent; an error when it is malformed, kept apart so that a bad Supabase secret
    /// does not take the Zuplo token (and the Firebase routes) down with it.
    pub supabase_hook_keys: Option<Result<WebhookKeys, KeyError>>,
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
                supabase_hook_keys: None,
            });
        }
        // serde_json's syntax errors carry positions only, never input text.
        let value: serde_json::Value = serde_json::from_str(raw).map_err(|_| {
            SecretError::Malformed("SecretString starts with '{' but is not valid JSON")
        })?;
        let field = |name| match value.get(name) {
            None | Some(serde_json::Value::Null) => Ok(None),
            Some(serde_json::Value::String(s)) if !s.trim().is_empty() => {
                Ok(Some(Redacted::new(s.trim())))
            }
            Some(_) => Err(SecretError::Malformed(
                "secret fields must be non-empty strings",
            )),
        };
        let zuplo_api_key = field("zuplo_api_key")?.ok_or(SecretError::Malformed(
            "JSON secret has no zuplo_api_key field",
        ))?;
        let supabase_hook_keys =
            field("supabase_hook_secret")?.map(|secret| WebhookKeys::parse(secret.expose()));
        Ok(Secrets {
            zuplo_api_key,
            supabase_hook_keys,
        })
    }
}

/// Secrets plus the cache generation they came from, so that a caller who saw them
/// rejected can ask for a refresh without refreshing twice what others refreshed already.
#[derive(Debug, Clone)]
pub struct Lease {
    pub secrets: Arc<Secrets>,
    generation: u64,
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
    client: aws_sdk_secretsmanager::Client,
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
            client,
            secret_id,
            ttl,
            grace,
            state: Mutex::new(State::default()),
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
                // A timeout says more about the caller's deadline than about Secrets
                // Manager: only real failures pause the next attempts.
                if e != SecretError::Timeout {
                    state.last_failure = Some((Instant::now(), e.clone()));
                }
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
        // Said once per load, not on every (possibly unauthenticated) Supabase request.
        match &secrets.supabase_hook_keys {
            Some(Err(e)) => {
                tracing::error!(reason = %e, "supabase_hook_secret is malformed: the Supabase routes will refuse every request until it is fixed")
            }
            None => tracing::info!(
                "the secret has no supabase_hook_secret: the Supabase routes answer 404"
            ),
            Some(Ok(_)) => {}
        }
        Ok(Lease {
            secrets,
            generation,
        })
    }

    async fn fetch(&self, deadline: Deadline) -> Result<Secrets, SecretError> {
        let output = deadline
            .run(
                self.client
                    .get_secret_value()
                    .secret_id(&self.secret_id)
                    .send(),
            )
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
        assert_eq!(s.supabase_hook_keys, None);
    }

    #[test]
    fn json_object() {
        let s = Secrets::parse(
            r#"{"zuplo_api_key":"zpka_x","supabase_hook_secret":"v1,whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"}"#,
        )
        .unwrap();
        assert_eq!(s.zuplo_api_key.expose(), "zpka_x");
        assert!(matches!(s.supabase_hook_keys, Some(Ok(_))));
        assert_eq!(
            Secrets::parse(r#"{"zuplo_api_key":"zpka_x"}"#)
                .unwrap()
                .supabase_hook_keys,
            None
        );
    }

    #[test]
    fn a_malformed_hook_secret_keeps_the_zuplo_token() {
        let s =
            Secrets::parse(r#"{"zuplo_api_key":"zpka_x","supabase_hook_secret":"whsec_short"}"#)
                .unwrap();
        assert_eq!(s.zuplo_api_key.expose(), "zpka_x");
        assert!(matches!(s.supabase_hook_keys, Some(Err(_))));
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
        let s = Secrets::parse(r#"{"zuplo_api_key":"zpka_topsecret"}"#).unwrap();
        let shown = format!("{s:?}");
        assert!(!shown.contains("topsecret"), "{shown}");
        assert!(shown.contains("***"));
    }
}
