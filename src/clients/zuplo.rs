//! Client for the Zuplo Developer API's API-key consumer endpoints.
//!
//! It knows consumers and HTTP, nothing about identity providers. Responses are read
//! into structs that only have the fields we need, so the API key that Zuplo returns
//! on creation is dropped at parse time and never stored.
//!
//! Every call is retried within the deadline on connection errors, unreadable answers,
//! 5xx and 429 (see [`crate::retry`]): all of them are safe to repeat.

use std::collections::BTreeMap;
use std::time::Duration;

use reqwest::StatusCode;
use serde::{Deserialize, Serialize};

use super::{SendError, send};
use crate::deadline::Deadline;
use crate::redacted::Redacted;
use crate::retry::{self, Retryable, Verdict};

#[derive(Debug, Clone, Serialize)]
pub struct NewConsumer {
    pub name: String,
    pub description: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub managers: Vec<String>,
    pub metadata: serde_json::Map<String, serde_json::Value>,
    pub tags: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
pub struct Consumer {
    pub id: String,
    pub name: String,
    #[serde(default)]
    pub metadata: Option<serde_json::Value>,
    #[serde(default)]
    pub tags: Option<BTreeMap<String, String>>,
    /// Present when asked for (`include-api-keys=true`), with the key values left out
    /// (`key-format=none`).
    #[serde(default, rename = "apiKeys")]
    pub api_keys: Option<Vec<KeyInfo>>,
    /// When Zuplo created it (RFC 3339).
    #[serde(default, rename = "createdOn")]
    pub created_on: Option<String>,
}

/// One page of `GET …/consumers`.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
pub struct ConsumerPage {
    pub data: Vec<Consumer>,
    #[serde(default)]
    pub total: Option<u64>,
}

/// A key as listed with `key-format=none`: never its value.
#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct KeyInfo {
    pub id: String,
    #[serde(default, rename = "expiresOn")]
    pub expires_on: Option<String>,
}

/// Whether a new consumer gets its key in the same call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WithKey {
    /// `?with-api-key=true`: one call, a key that never expires.
    Yes,
    /// No key: one is added afterwards (a trial key with an expiry).
    No,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Created {
    New(Consumer),
    /// 409: a consumer with that name exists already.
    AlreadyExists,
}

/// The fields of an RFC 7807 problem body worth keeping for the log.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
pub struct Problem {
    #[serde(default)]
    pub title: Option<String>,
    #[serde(default)]
    pub detail: Option<String>,
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ZuploError {
    #[error("Zuplo rejected the Developer API token (401)")]
    Unauthorized,
    #[error("Zuplo answered {status}: {}", problem_text(.problem))]
    Status { status: u16, problem: Problem },
    #[error("Zuplo is rate limiting us (429, retry-after {retry_after:?})")]
    RateLimited { retry_after: Option<Duration> },
    #[error("Zuplo could not be reached: {0}")]
    Transport(String),
    #[error("Zuplo did not answer before the request deadline")]
    Timeout,
    #[error("Zuplo's answer could not be read: {0}")]
    Decode(String),
}

impl Retryable for ZuploError {
    fn verdict(&self) -> Verdict {
        match self {
            // An unreadable answer to a create may hide a created consumer: the repeat
            // gets 409 and finds it.
            ZuploError::Transport(_) | ZuploError::Decode(_) => Verdict::Retry,
            ZuploError::Status { status, .. } if *status >= 500 => Verdict::Retry,
            ZuploError::RateLimited {
                retry_after: Some(after),
            } => Verdict::RetryAfter(*after),
            ZuploError::RateLimited { retry_after: None } => Verdict::Retry,
            ZuploError::Unauthorized | ZuploError::Status { .. } | ZuploError::Timeout => {
                Verdict::Final
            }
        }
    }
}

fn problem_text(p: &Problem) -> String {
    match (&p.title, &p.detail) {
        (Some(t), Some(d)) => format!("{t}: {d}"),
        (Some(t), None) => t.clone(),
        (None, Some(d)) => d.clone(),
        (None, None) => "no problem details".to_owned(),
    }
}

impl From<SendError> for ZuploError {
    fn from(e: SendError) -> Self {
        match e {
            SendError::Timeout => ZuploError::Timeout,
            SendError::Transport(text) => ZuploError::Transport(text),
        }
    }
}

/// Told of each 429 and its `retry-after`, so that a caller running many requests can
/// pause all of them, not only the one that was throttled.
pub type ThrottleObserver = std::sync::Arc<dyn Fn(Option<Duration>) + Send + Sync>;

#[derive(Clone)]
pub struct ZuploClient {
    http: reqwest::Client,
    consumers_url: String,
    who_am_i_url: String,
    on_throttle: Option<ThrottleObserver>,
}

impl ZuploClient {
    pub fn new(http: reqwest::Client, api_url: &str, account: &str, bucket: &str) -> Self {
        // account and bucket are validated at init to need no escaping.
        ZuploClient {
            http,
            consumers_url: format!(
                "{api_url}/v1/accounts/{account}/key-buckets/{bucket}/consumers"
            ),
            who_am_i_url: format!("{api_url}/v1/who-am-i"),
            on_throttle: None,
        }
    }

    pub fn with_throttle_observer(mut self, observer: ThrottleObserver) -> Self {
        self.on_throttle = Some(observer);
        self
    }

    /// `GET …/consumers?tag.<k>=<v>…&limit=&offset=`: one page of the consumers carrying
    /// every tag in `tags`, without their keys. Tag names and values are ours: nothing
    /// to escape.
    pub async fn list_consumers(
        &self,
        token: &Redacted,
        tags: &[(&str, &str)],
        limit: u32,
        offset: u64,
        deadline: Deadline,
    ) -> Result<ConsumerPage, ZuploError> {
        let filter: String = tags.iter().map(|(k, v)| format!("&tag.{k}={v}")).collect();
        let url = format!(
            "{}?limit={limit}&offset={offset}&include-api-keys=false&key-format=none{filter}",
            self.consumers_url
        );
        self.with_retries(deadline, "list consumers", || async {
            let response = send(self.http.get(&url).bearer_auth(token.expose()), deadline)
                .await
                .map_err(ZuploError::from)?;
            if response.status().is_success() {
                read_json(response, deadline).await
            } else {
                Err(error_from(response, deadline).await)
            }
        })
        .await
    }

    /// `POST …/consumers`, with `?with-api-key=true` for [`WithKey::Yes`].
    pub async fn create_consumer(
        &self,
        token: &Redacted,
        consumer: &NewConsumer,
        with_key: WithKey,
        deadline: Deadline,
    ) -> Result<Created, ZuploError> {
        self.with_retries(deadline, "create consumer", || {
            self.create_once(token, consumer, with_key, deadline)
        })
        .await
    }

    async fn create_once(
        &self,
        token: &Redacted,
        consumer: &NewConsumer,
        with_key: WithKey,
        deadline: Deadline,
    ) -> Result<Created, ZuploError> {
        let url = match with_key {
            WithKey::Yes => format!("{}?with-api-key=true", self.consumers_url),
            WithKey::No => self.consumers_url.clone(),
        };
        let request = self
            .http
            .post(url)
            .bearer_auth(token.expose())
            .json(consumer);
        let response = send(request, deadline).await.map_err(ZuploError::from)?;
        match response.status() {
            StatusCode::CONFLICT => Ok(Created::AlreadyExists),
            s if s.is_success() => Ok(Created::New(read_json(response, deadline).await?)),
            _ => Err(error_from(response, deadline).await),
        }
    }

    /// `GET …/consumers/{name}`; with `include_keys`, its keys without their values
    /// (`key-format=none`). `None` on 404.
    pub async fn get_consumer(
        &self,
        token: &Redacted,
        name: &str,
        include_keys: bool,
        deadline: Deadline,
    ) -> Result<Option<Consumer>, ZuploError> {
        self.with_retries(deadline, "get consumer", || {
            self.get_once(token, name, include_keys, deadline)
        })
        .await
    }

    async fn get_once(
        &self,
        token: &Redacted,
        name: &str,
        include_keys: bool,
        deadline: Deadline,
    ) -> Result<Option<Consumer>, ZuploError> {
        let request = self
            .http
            .get(format!(
                "{}/{name}?include-api-keys={include_keys}&key-format=none",
                self.consumers_url
            ))
            .bearer_auth(token.expose());
        let response = send(request, deadline).await.map_err(ZuploError::from)?;
        match response.status() {
            StatusCode::NOT_FOUND => Ok(None),
            s if s.is_success() => read_json(response, deadline).await.map(Some),
            _ => Err(error_from(response, deadline).await),
        }
    }

    /// `DELETE …/consumers/{name}?tag.<key>=<value>`: Zuplo deletes the consumer (with
    /// its keys) only if it carries that tag. `false` when there was none to delete (404),
    /// which is what a repeated delete finds.
    pub async fn delete_consumer(
        &self,
        token: &Redacted,
        name: &str,
        tag: (&str, &str),
        deadline: Deadline,
    ) -> Result<bool, ZuploError> {
        self.with_retries(deadline, "delete consumer", || {
            self.delete_once(token, name, tag, deadline)
        })
        .await
    }

    async fn delete_once(
        &self,
        token: &Redacted,
        name: &str,
        (key, value): (&str, &str),
        deadline: Deadline,
    ) -> Result<bool, ZuploError> {
        // Names and tag values are ours (`c-<uuid>`, a provider name): nothing to escape.
        let request = self
            .http
            .delete(format!("{}/{name}?tag.{key}={value}", self.consumers_url))
            .bearer_auth(token.expose());
        let response = send(request, deadline).await.map_err(ZuploError::from)?;
        match response.status() {
            StatusCode::NOT_FOUND => Ok(false),
            s if s.is_success() => Ok(true),
            _ => Err(error_from(response, deadline).await),
        }
    }

    /// `POST …/consumers/{name}/keys` with an expiry. A repeat would mint a second key,
    /// so a failed attempt is retried only after a look at the consumer's keys shows
    /// that it really failed. The answer carries the key: its body is never read.
    pub async fn create_key(
        &self,
        token: &Redacted,
        name: &str,
        expires_on: &str,
        deadline: Deadline,
    ) -> Result<(), ZuploError> {
        let body = serde_json::json!({"description": "trial", "expiresOn": expires_on});
        let mut attempt = || async {
            match self.create_key_once(token, name, &body, deadline).await {
                Err(e) if e.verdict() != Verdict::Final => {
                    match self.get_once(token, name, true, deadline).await {
                        Ok(Some(c)) if c.api_keys.as_ref().is_some_and(|k| !k.is_empty()) => Ok(()),
                        _ => Err(e),
                    }
                }
                other => other,
            }
        };
        self.with_retries(deadline, "create key", &mut attempt)
            .await
    }

    async fn create_key_once(
        &self,
        token: &Redacted,
        name: &str,
        body: &serde_json::Value,
        deadline: Deadline,
    ) -> Result<(), ZuploError> {
        let request = self
            .http
            .post(format!("{}/{name}/keys", self.consumers_url))
            .bearer_auth(token.expose())
            .json(body);
        let response = send(request, deadline).await.map_err(ZuploError::from)?;
        if response.status().is_success() {
            Ok(())
        } else {
            Err(error_from(response, deadline).await)
        }
    }

    /// `GET /v1/who-am-i`: a cheap authenticated call that checks the token.
    pub async fn who_am_i(&self, token: &Redacted, deadline: Deadline) -> Result<(), ZuploError> {
        let response = send(
            self.http
                .get(&self.who_am_i_url)
                .bearer_auth(token.expose()),
            deadline,
        )
        .await
        .map_err(ZuploError::from)?;
        if response.status().is_success() {
            Ok(())
        } else {
            Err(error_from(response, deadline).await)
        }
    }
}

impl ZuploClient {
    async fn with_retries<T, F, Fut>(
        &self,
        deadline: Deadline,
        what: &'static str,
        mut attempt: F,
    ) -> Result<T, ZuploError>
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Result<T, ZuploError>>,
    {
        retry::retry(retry::ZUPLO, deadline, what, || {
            let outcome = attempt();
            async move {
                let outcome = outcome.await;
                if let (Err(ZuploError::RateLimited { retry_after }), Some(observe)) =
                    (&outcome, &self.on_throttle)
                {
                    observe(*retry_after);
                }
                outcome
            }
        })
        .await
        .map_err(|last| last.unwrap_or(ZuploError::Timeout))
    }
}

async fn read_json<T: serde::de::DeserializeOwned>(
    response: reqwest::Response,
    deadline: Deadline,
) -> Result<T, ZuploError> {
    let body = deadline
        .run(response.bytes())
        .await
        .map_err(|_| ZuploError::Timeout)?
        .map_err(|e| ZuploError::Transport(super::error_chain(&e)))?;
    // The creation body holds the minted key: the error must not quote it, and
    // serde_json's messages carry only positions and type names.
    serde_json::from_slice(&body)
        .map_err(|e| ZuploError::Decode(format!("{:?} at column {}", e.classify(), e.column())))
}

async fn error_from(response: reqwest::Response, deadline: Deadline) -> ZuploError {
    let status = response.status();
    if status == StatusCode::UNAUTHORIZED {
        return ZuploError::Unauthorized;
    }
    if status == StatusCode::TOO_MANY_REQUESTS {
        // Delay-seconds only; an HTTP-date is rare from APIs and falls back to backoff.
        let retry_after = response
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(Duration::from_secs);
        return ZuploError::RateLimited { retry_after };
    }
    let problem = match deadline.run(response.bytes()).await {
        Ok(Ok(body)) => serde_json::from_slice(&body).unwrap_or_default(),
        _ => Problem::default(),
    };
    ZuploError::Status {
        status: status.as_u16(),
        problem,
    }
}
