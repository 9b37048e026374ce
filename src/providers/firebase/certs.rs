//! Google's signing certificates for blocking-function tokens, cached for the
//! `Cache-Control: max-age` the endpoint sends.
//!
//! When a refresh is due but the endpoint fails, the last good set keeps verifying for
//! a grace period (stale-while-revalidate): Google rotates keys over days, so an hour-old
//! set is still right, while refusing every sign-up during a blip is certainly wrong.
//! A `kid` that the set does not know is still refused.

use std::collections::HashMap;
use std::sync::{Arc, PoisonError, RwLock};
use std::time::Duration;

use jsonwebtoken::DecodingKey;
use tokio::sync::Mutex;
use tokio::time::Instant;

use crate::deadline::Deadline;

/// An unknown `kid` refetches the set at most this often, so forged tokens with
/// random `kid`s cannot make every request call Google.
const UNKNOWN_KID_REFETCH_INTERVAL: Duration = Duration::from_secs(60);
/// Used when the response has no usable `max-age`.
const DEFAULT_MAX_AGE: Duration = Duration::from_secs(300);
const MAX_MAX_AGE: Duration = Duration::from_secs(24 * 3600);
/// With a stale set to fall back on, a refresh may take this long at most, so that
/// the request keeps its time for Zuplo.
const STALE_REFRESH_BUDGET: Duration = Duration::from_secs(1);
/// After a failed refresh, requests use the stale set without trying again for this long.
const FAILED_REFRESH_PAUSE: Duration = Duration::from_secs(10);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CertError {
    #[error("signing certificates unavailable: {0}")]
    Unavailable(String),
    #[error("no certificate for this kid")]
    UnknownKid,
}

/// The set in use. Read without waiting, so that a slow refresh (or a forged token
/// that triggers one) never holds up requests whose key is already known.
#[derive(Clone, Default)]
struct Snapshot {
    keys: Arc<HashMap<String, DecodingKey>>,
    expires_at: Option<Instant>,
}

#[derive(Default)]
struct RefreshState {
    /// When an unknown kid last caused a refetch (not when the set was last fetched:
    /// a key rotated in just after a scheduled fetch must still be picked up).
    last_unknown_kid_refetch: Option<Instant>,
    last_failed_refresh: Option<Instant>,
}

pub struct CertCache {
    http: reqwest::Client,
    url: String,
    grace: Duration,
    snapshot: RwLock<Snapshot>,
    // Held across the fetch, so that concurrent refreshes share one call.
    refresh: Mutex<RefreshState>,
}

/// With nothing usable cached, a failed fetch is repeated at most this often, so that a
/// flood of (possibly forged) tokens cannot turn into a flood of calls to Google.
const EMPTY_RETRY_PAUSE: Duration = Duration::from_secs(1);

fn unavailable(what: &str) -> CertError {
    CertError::Unavailable(what.to_owned())
}

impl CertCache {
    /// `grace`: how long past expiry the last good set may be used while refreshes fail.
    pub fn new(http: reqwest::Client, url: String, grace: Duration) -> Self {
        CertCache {
            http,
            url,
            grace,
            snapshot: RwLock::new(Snapshot::default()),
            refresh: Mutex::new(RefreshState::default()),
        }
    }

    fn snapshot(&self) -> Snapshot {
        self.snapshot
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    fn key_in(snapshot: &Snapshot, kid: &str) -> Result<DecodingKey, CertError> {
        snapshot.keys.get(kid).cloned().ok_or(CertError::UnknownKid)
    }

    /// The verification key for `kid`, from the cached set or a fresh one.
    pub async fn key(&self, kid: &str, deadline: Deadline) -> Result<DecodingKey, CertError> {
        let now = Instant::now();
        let snap = self.snapshot();
        let short = deadline.min(Deadline::after(STALE_REFRESH_BUDGET));

        if snap.expires_at.is_some_and(|e| now < e) {
            if let Ok(key) = Self::key_in(&snap, kid) {
                return Ok(key);
            }
            // Google may have rotated keys before our copy expired; but only refetch
            // once in a while for kids we do not know, and briefly.
            let mut state = self.lock(deadline).await?;
            if let Ok(key) = Self::key_in(&self.snapshot(), kid) {
                return Ok(key);
            }
            if state
                .last_unknown_kid_refetch
                .is_some_and(|t| now.duration_since(t) < UNKNOWN_KID_REFETCH_INTERVAL)
            {
                return Err(CertError::UnknownKid);
            }
            state.last_unknown_kid_refetch = Some(now);
            // No fallback here: a kid we do not know cannot be verified with what we have.
            self.refresh(&mut state, short).await?;
            return Self::key_in(&self.snapshot(), kid);
        }

        if snap.expires_at.is_some_and(|e| now < e + self.grace) {
            // Stale but usable: one request tries a short refresh, the others go on
            // with the set they have.
            if let Ok(mut state) = self.refresh.try_lock() {
                let paused = state
                    .last_failed_refresh
                    .is_some_and(|t| now.duration_since(t) < FAILED_REFRESH_PAUSE);
                if !paused && let Err(e) = self.refresh(&mut state, short).await {
                    tracing::warn!(reason = %e, "certificate refresh failed; verifying with the last good set");
                }
            }
            return Self::key_in(&self.snapshot(), kid);
        }

        // Nothing usable: wait for a fetch, shared with concurrent requests.
        let mut state = self.lock(deadline).await?;
        let snap = self.snapshot();
        if snap.expires_at.is_some_and(|e| Instant::now() < e) {
            return Self::key_in(&snap, kid);
        }
        if state
            .last_failed_refresh
            .is_some_and(|t| t.elapsed() < EMPTY_RETRY_PAUSE)
        {
            return Err(unavailable("the last fetch failed moments ago"));
        }
        self.refresh(&mut state, deadline).await?;
        Self::key_in(&self.snapshot(), kid)
    }

    /// Fetches the set now; used at init to warm the cache.
    pub async fn prefetch(&self, deadline: Deadline) -> Result<usize, CertError> {
        let mut state = self.lock(deadline).await?;
        if let Err(e) = self.refresh(&mut state, deadline).await {
            // Init's failure must not pause the first request's own attempt.
            state.last_failed_refresh = None;
            return Err(e);
        }
        Ok(self.snapshot().keys.len())
    }

    async fn lock(
        &self,
        deadline: Deadline,
    ) -> Result<tokio::sync::MutexGuard<'_, RefreshState>, CertError> {
        deadline
            .run(self.refresh.lock())
            .await
            .map_err(|_| unavailable("deadline passed waiting for a refresh"))
    }

    async fn refresh(&self, state: &mut RefreshState, deadline: Deadline) -> Result<(), CertError> {
        let fetched = deadline
            .run(self.fetch(deadline))
            .await
            .map_err(|_| unavailable("deadline passed fetching certificates"))
            .and_then(|r| r);
        let (keys, max_age) = match fetched {
            Ok(fetched) => fetched,
            Err(e) => {
                state.last_failed_refresh = Some(Instant::now());
                return Err(e);
            }
        };
        tracing::info!(
            keys = keys.len(),
            max_age_s = max_age.as_secs(),
            "loaded signing certificates"
        );
        state.last_failed_refresh = None;
        *self
            .snapshot
            .write()
            .unwrap_or_else(PoisonError::into_inner) = Snapshot {
            keys: Arc::new(keys),
            expires_at: Some(Instant::now() + max_age),
        };
        Ok(())
    }

    async fn fetch(
        &self,
        deadline: Deadline,
    ) -> Result<(HashMap<String, DecodingKey>, Duration), CertError> {
        let unavailable = |e: reqwest::Error| CertError::Unavailable(e.to_string());
        let response = self
            .http
            .get(&self.url)
            .timeout(deadline.remaining())
            .send()
            .await
            .map_err(unavailable)?;
        if !response.status().is_success() {
            return Err(CertError::Unavailable(format!(
                "certificate endpoint answered {}",
                response.status()
            )));
        }
        let max_age = response
            .headers()
            .get(reqwest::header::CACHE_CONTROL)
            .and_then(|v| v.to_str().ok())
            .and_then(parse_max_age)
            .unwrap_or(DEFAULT_MAX_AGE)
            .min(MAX_MAX_AGE);
        let body = response.bytes().await.map_err(unavailable)?;
        let keys = parse_cert_set(&body)?;
        Ok((keys, max_age))
    }
}

/// Parses Google's `{"<kid>": "<x509 PEM>", ...}`. One bad entry spoils the set: a
/// half-read set would reject valid tokens in confusing ways.
fn parse_cert_set(body: &[u8]) -> Result<HashMap<String, DecodingKey>, CertError> {
    let map: HashMap<String, String> = serde_json::from_slice(body).map_err(|e| {
        CertError::Unavailable(format!(
            "certificate set is not a JSON object of strings: {e}"
        ))
    })?;
    if map.is_empty() {
        return Err(CertError::Unavailable("certificate set is empty".into()));
    }
    map.into_iter()
        .map(|(kid, pem)| {
            DecodingKey::from_rsa_pem(pem.as_bytes())
                .map(|key| (kid.clone(), key))
                .map_err(|e| {
                    CertError::Unavailable(format!("certificate {kid:?} is unusable: {e}"))
                })
        })
        .collect()
}

fn parse_max_age(cache_control: &str) -> Option<Duration> {
    cache_control.split(',').find_map(|directive| {
        let (name, value) = directive.trim().split_once('=')?;
        if name.trim().eq_ignore_ascii_case("max-age") {
            value
                .trim()
                .trim_matches('"')
                .parse()
                .ok()
                .map(Duration::from_secs)
        } else {
            None
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn max_age_is_read_from_cache_control() {
        assert_eq!(
            parse_max_age("public, max-age=19302, must-revalidate, no-transform"),
            Some(Duration::from_secs(19302))
        );
        assert_eq!(parse_max_age("MAX-AGE=5"), Some(Duration::from_secs(5)));
        assert_eq!(parse_max_age("no-cache"), None);
        assert_eq!(parse_max_age("max-age=soon"), None);
    }

    #[test]
    fn cert_set_parses_x509_pems() {
        let pem = include_str!("../../../tests/fixtures/google-test-cert.pem");
        let body = serde_json::json!({ "k1": pem }).to_string();
        let keys = parse_cert_set(body.as_bytes()).unwrap();
        assert!(keys.contains_key("k1"));
    }

    #[test]
    fn bad_cert_sets_are_refused() {
        for body in ["[]", "{}", "{\"k\":\"not a pem\"}", "{\"k\":1}", "nope"] {
            assert!(parse_cert_set(body.as_bytes()).is_err(), "{body}");
        }
    }
}
