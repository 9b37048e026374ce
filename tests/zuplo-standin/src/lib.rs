//! A local stand-in for the Zuplo Developer API's API-key consumer endpoints.
//!
//! Zuplo publishes no emulator, and the signup Lambda's hard paths (a lost response followed
//! by a 409, throttling, a truncated body, a dropped connection) cannot be provoked against
//! the real service on demand. This crate models the consumer endpoints of one account and
//! one bucket as `reference/zuplo.md` (§2–§6, §8) describes them, and lets tests inject those
//! failures and inspect what the client actually sent.
//!
//! Tests use it in-process through [`Standin`]; scripts and the quick start use the
//! `zuplo-standin` binary and the HTTP control endpoints under `/__standin/`:
//! `GET /__standin/calls`, `GET /__standin/consumers`, `POST /__standin/faults` (a [`Fault`]
//! as JSON) and `POST /__standin/reset`.
//!
//! Choices where Zuplo is silent: `key-format` defaults to `masked`; a `tag.*` mismatch on a
//! single consumer is 404; limit violations on tags and metadata are 400; lists are in
//! creation order and carry `total`; `metadata` is `{}` when not given.

mod api;
mod control;
mod mint;
mod problem;
mod server;
mod state;

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;

use tokio::net::TcpListener;

pub use mint::{is_valid_key, key_checksum, mint_key};

use state::Shared;

/// What one stand-in serves: a single account and bucket, and the accepted bearer tokens.
#[derive(Clone)]
pub struct StandinConfig {
    pub account: String,
    pub bucket: String,
    pub tokens: Vec<String>,
}

/// A running stand-in. Clones share the same server and state.
///
/// The server runs on the tokio runtime that called [`Standin::start`] and lives as long as
/// that runtime (dropping every `Standin` does not stop it).
#[derive(Clone)]
pub struct Standin {
    shared: Arc<Shared>,
    addr: SocketAddr,
}

/// One API request as received: `query` is the raw query string (without `?`), and `status`
/// is the status sent, or 0 while the request is in flight or when its connection was dropped.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Call {
    pub method: String,
    pub path: String,
    pub query: String,
    pub status: u16,
}

/// A consumer of the configured bucket, with its keys in full.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct StoredConsumer {
    pub id: String,
    pub name: String,
    pub description: Option<String>,
    /// Manager emails, invites and direct managers alike.
    pub managers: Vec<String>,
    pub metadata: serde_json::Value,
    pub tags: BTreeMap<String, String>,
    pub api_keys: Vec<StoredKey>,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct StoredKey {
    pub id: String,
    pub key: String,
}

/// A one-shot fault, consumed by the next API request it matches (FIFO among matches).
#[derive(Debug, Clone, Default, serde::Deserialize)]
pub struct Fault {
    /// Only requests with this method match (case-insensitive); `None` matches any.
    #[serde(default)]
    pub method: Option<String>,
    /// Wait this long before acting.
    #[serde(default)]
    pub delay_ms: u64,
    #[serde(default)]
    pub action: FaultAction,
}

#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum FaultAction {
    /// Behave normally (after the delay).
    #[default]
    Pass,
    /// A problem response with this status (and `retry-after` if given); no state change.
    Status {
        status: u16,
        #[serde(default)]
        retry_after: Option<u64>,
    },
    /// 200 with `content-type: application/json` and the truncated body `{"id": `.
    MalformedBody,
    /// Close the TCP connection without any response; no state change.
    DropConnection,
    /// Perform the request normally, then close the connection without sending the response.
    DropAfterWrite,
}

/// Paths reserved for test controls; they are never recorded or faulted.
pub(crate) fn is_control_path(path: &str) -> bool {
    path == "/__standin" || path.starts_with("/__standin/")
}

impl Standin {
    /// Binds `addr` (port 0 allowed), spawns the server on the current tokio runtime, returns at once.
    pub async fn start(config: StandinConfig, addr: SocketAddr) -> std::io::Result<Standin> {
        let listener = TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared::new(config.account, config.bucket, config.tokens));
        let router = control::router(Arc::clone(&shared));
        tokio::spawn(server::accept_loop(listener, router));
        Ok(Standin { shared, addr })
    }

    /// The base URL, e.g. `http://127.0.0.1:8787`. A wildcard bind address is reported as
    /// loopback, since that is what a local client can connect to.
    pub fn url(&self) -> String {
        let ip = match self.addr.ip() {
            IpAddr::V4(ip) if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
            IpAddr::V6(ip) if ip.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
            ip => ip,
        };
        format!("http://{}", SocketAddr::new(ip, self.addr.port()))
    }

    /// Every API request in arrival order (control requests are not included).
    pub fn calls(&self) -> Vec<Call> {
        self.shared.calls()
    }

    /// All consumers of the configured bucket, in creation order.
    pub fn consumers(&self) -> Vec<StoredConsumer> {
        self.shared.consumers()
    }

    /// Queues a one-shot fault for the next matching API request.
    pub fn push_fault(&self, fault: Fault) {
        self.shared.push_fault(fault);
    }

    /// Replaces the accepted bearer tokens.
    pub fn set_tokens(&self, tokens: Vec<String>) {
        self.shared.set_tokens(tokens);
    }

    /// `Some(n)`: at most `n` API requests per fixed one-second window, then 429 with
    /// `retry-after: 1`. `None` (the default) disables the limit.
    pub fn set_rate_limit(&self, per_second: Option<u32>) {
        self.shared.set_rate_limit(per_second);
    }

    /// Clears consumers, calls, faults and the rate limit. Tokens are kept.
    pub fn reset(&self) {
        self.shared.reset();
    }
}
