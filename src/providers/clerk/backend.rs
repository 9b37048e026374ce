//! The one Clerk Backend API call the function makes: `PATCH /v1/users/{id}/metadata`,
//! which deep-merges into the user's metadata. Writing the same value twice is
//! harmless, so the call is retried like any idempotent one, inside the deadline.
//!
//! API version 2026-05-12 removed metadata from `PATCH /v1/users/{id}`; the dedicated
//! endpoint is in every version, and the version header pins what we were tested with.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::clients::{SendError, send};
use crate::deadline::Deadline;
use crate::redacted::Redacted;
use crate::retry::{self, Backoff, Retryable, Verdict};

pub const API_VERSION: &str = "2026-05-12";

/// Clerk allows 10 metadata writes per 10 s per user; a 429 says how long to wait.
const CLERK: Backoff = Backoff {
    first: Duration::from_millis(200),
    cap: Duration::from_secs(2),
    max_attempts: 4,
    min_attempt: Duration::from_millis(200),
};

/// What a write-back found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Written {
    Done,
    /// 404: the user was deleted before the write.
    UserGone,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ClerkError {
    #[error("Clerk rejected clerk_secret_key (HTTP {0})")]
    Rejected(u16),
    #[error("Clerk rate-limited the metadata write")]
    RateLimited { retry_after: Option<Duration> },
    #[error("Clerk answered HTTP {status} ({code})")]
    Status { status: u16, code: String },
    #[error("Clerk is unreachable: {0}")]
    Transport(String),
    #[error("Clerk did not answer before the deadline")]
    Timeout,
}

impl ClerkError {
    /// Whether redelivering later may succeed without anybody changing anything.
    pub fn is_transient(&self) -> bool {
        matches!(self.verdict(), Verdict::Retry | Verdict::RetryAfter(_))
            || *self == ClerkError::Timeout
    }
}

impl Retryable for ClerkError {
    fn verdict(&self) -> Verdict {
        match self {
            ClerkError::RateLimited {
                retry_after: Some(after),
            } => Verdict::RetryAfter(*after),
            ClerkError::RateLimited { retry_after: None } | ClerkError::Transport(_) => {
                Verdict::Retry
            }
            ClerkError::Status { status, .. } if *status >= 500 => Verdict::Retry,
            ClerkError::Status { .. } | ClerkError::Rejected(_) | ClerkError::Timeout => {
                Verdict::Final
            }
        }
    }
}

impl From<SendError> for ClerkError {
    fn from(e: SendError) -> Self {
        match e {
            SendError::Timeout => ClerkError::Timeout,
            SendError::Transport(text) => ClerkError::Transport(text),
        }
    }
}

#[derive(Clone)]
pub struct ClerkBackend {
    http: reqwest::Client,
    users_url: String,
}

impl ClerkBackend {
    pub fn new(http: reqwest::Client, api_url: &str) -> Self {
        ClerkBackend {
            http,
            users_url: format!("{}/v1/users", api_url.trim_end_matches('/')),
        }
    }

    /// Sets `public_metadata.<key>` to `value`, leaving the rest of the metadata as it is.
    /// `user_id` must be URL-safe (checked by the caller).
    pub async fn set_public_metadata(
        &self,
        secret_key: &Redacted,
        user_id: &str,
        key: &str,
        value: &str,
        deadline: Deadline,
    ) -> Result<Written, ClerkError> {
        let body = json!({"public_metadata": {key: value}});
        retry::retry(CLERK, deadline, "clerk metadata write", || {
            self.patch_once(secret_key, user_id, &body, deadline)
        })
        .await
        .map_err(|last| last.unwrap_or(ClerkError::Timeout))
    }

    async fn patch_once(
        &self,
        secret_key: &Redacted,
        user_id: &str,
        body: &Value,
        deadline: Deadline,
    ) -> Result<Written, ClerkError> {
        let request = self
            .http
            .patch(format!("{}/{user_id}/metadata", self.users_url))
            .bearer_auth(secret_key.expose())
            .header("clerk-api-version", API_VERSION)
            .json(body);
        let response = send(request, deadline).await?;
        let status = response.status();
        match status {
            s if s.is_success() => Ok(Written::Done),
            StatusCode::NOT_FOUND => Ok(Written::UserGone),
            StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => {
                Err(ClerkError::Rejected(status.as_u16()))
            }
            StatusCode::TOO_MANY_REQUESTS => {
                let retry_after = response
                    .headers()
                    .get(reqwest::header::RETRY_AFTER)
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.trim().parse::<u64>().ok())
                    .map(Duration::from_secs);
                Err(ClerkError::RateLimited { retry_after })
            }
            _ => {
                // Clerk's errors are `{"errors":[{"code", "message", …}]}`; the code
                // names the problem without echoing anything we sent.
                let code = match deadline.run(response.bytes()).await {
                    Ok(Ok(bytes)) => serde_json::from_slice::<Value>(&bytes)
                        .ok()
                        .and_then(|v| v["errors"][0]["code"].as_str().map(str::to_owned)),
                    _ => None,
                };
                Err(ClerkError::Status {
                    status: status.as_u16(),
                    code: code.unwrap_or_else(|| "no error code".into()),
                })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_transient_failures_are_retried() {
        let after = Duration::from_secs(3);
        assert_eq!(
            ClerkError::RateLimited {
                retry_after: Some(after)
            }
            .verdict(),
            Verdict::RetryAfter(after)
        );
        for transient in [
            ClerkError::RateLimited { retry_after: None },
            ClerkError::Transport("reset".into()),
            ClerkError::Status {
                status: 502,
                code: "x".into(),
            },
        ] {
            assert_eq!(transient.verdict(), Verdict::Retry, "{transient}");
            assert!(transient.is_transient());
        }
        for last in [
            ClerkError::Rejected(401),
            ClerkError::Status {
                status: 422,
                code: "form_param_unknown".into(),
            },
        ] {
            assert_eq!(last.verdict(), Verdict::Final, "{last}");
            assert!(!last.is_transient());
        }
        // A timeout is final within this request, yet a later delivery may succeed.
        assert!(ClerkError::Timeout.is_transient());
    }
}
