//! Google's signing certificates for blocking-function tokens, cached for the
//! `Cache-Control: max-age` the endpoint sends.
//!
//! When a refresh is due but the endpoint fails, the last good set keeps verifying for
//! a grace period (stale-while-revalidate): Google rotates keys over days, so an hour-old
//! set is still right, while refusing every sign-up during a blip is certainly wrong.
//! A `kid` that the set does not know is still refused.

use std::collections::HashMap;
use std::sync::Arc;
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

#[derive(Default)]
struct State {
    keys: Arc<HashMap<String, DecodingKey>>,
    expires_at: Option<Instant>,
    /// When an unknown kid last caused a refetch (not when the set was last fetched:
    /// a key rotated in just after a scheduled fetch must still be picked up).
    last_unknown_kid_refetch: Option<Instant>,
    last_failed_refresh: Option<Instant>,
}

pub struct CertCache {
    http: reqwest::Client,
    url: String,
    grace: Duration,
    // Held across the fetch so that concurrent misses share one call.
    state: Mutex<State>,
}

impl CertCache {
    /// `grace`: how long past expiry the last good set may be used while refreshes fail.
    pub fn new(http: reqwest::Client, url: String, grace: Duration) -> Self {
        CertCache {
            http,
            url,
            grace,
            state: Mutex::new(State::default()),
        }
    }

    /// The verification key for `kid`, from the cached set or a fresh one.
    pub async fn key(&self, kid: &str, deadline: Deadline) -> Result<DecodingKey, CertError> {
        let mut state = deadline
            .run(self.state.lock())
            .await
            .map_err(|_| CertError::Unavailable("deadline passed waiting for a refresh".into()))?;
        let now = Instant::now();
        if state.expires_at.is_some_and(|e| now < e) {
            if let Some(key) = state.keys.get(kid) {
                return Ok(key.clone());
            }
            // Google may have rotated keys before our copy expired; but only refetch
            // once in a while for kids we do not know.
            if state
                .last_unknown_kid_refetch
                .is_some_and(|t| now.duration_since(t) < UNKNOWN_KID_REFETCH_INTERVAL)
            {
                return Err(CertError::UnknownKid);
            }
            state.last_unknown_kid_refetch = Some(now);
            // No fallback here: a kid we do not know cannot be verified with what we have.
            self.refresh(&mut state, deadline).await?;
            return state.keys.get(kid).cloned().ok_or(CertError::UnknownKid);
        }

        let stale_usable = state.expires_at.is_some_and(|e| now < e + self.grace);
        if !stale_usable {
            self.refresh(&mut state, deadline).await?;
            return state.keys.get(kid).cloned().ok_or(CertError::UnknownKid);
        }
        let paused = state
            .last_failed_refresh
            .is_some_and(|t| now.duration_since(t) < FAILED_REFRESH_PAUSE);
        if !paused {
            let short = deadline.min(Deadline::after(STALE_REFRESH_BUDGET));
            match self.refresh(&mut state, short).await {
                Ok(()) => state.last_failed_refresh = None,
                Err(e) => {
                    tracing::warn!(reason = %e, "certificate refresh failed; verifying with the last good set");
                    state.last_failed_refresh = Some(now);
                }
            }
        }
        state.keys.get(kid).cloned().ok_or(CertError::UnknownKid)
    }

    /// Fetches the set now; used at init to warm the cache.
    pub async fn prefetch(&self, deadline: Deadline) -> Result<usize, CertError> {
        let mut state = deadline
            .run(self.state.lock())
            .await
            .map_err(|_| CertError::Unavailable("deadline passed waiting for a refresh".into()))?;
        self.refresh(&mut state, deadline).await?;
        Ok(state.keys.len())
    }

    async fn refresh(&self, state: &mut State, deadline: Deadline) -> Result<(), CertError> {
        let (keys, max_age) = deadline.run(self.fetch(deadline)).await.map_err(|_| {
            CertError::Unavailable("deadline passed fetching certificates".into())
        })??;
        tracing::info!(
            keys = keys.len(),
            max_age_s = max_age.as_secs(),
            "loaded signing certificates"
        );
        state.keys = Arc::new(keys);
        state.expires_at = Some(Instant::now() + max_age);
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
        let pem = include_str!("../../tests/fixtures/google-test-cert.pem");
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
