//! A local stand-in for the Zuplo Developer API's API-key consumer endpoints.
//!
//! Zuplo publishes no emulator, and the signup Lambda's hard paths (a lost response followed
//! by a 409, throttling, a truncated body, a dropped connection) cannot be provoked against
//! the real service on demand. This crate models the consumer endpoints (with each
//! consumer's key collection) of one account and one bucket as `reference/zuplo.md` (§2–§6,
//! §8) describes them, and lets tests inject those failures and inspect what the client
//! actually sent.
//!
//! Tests use it in-process through [`Standin`]; scripts and the quick start use the
//! `zuplo-standin` binary and the HTTP control endpoints under `/__standin/`:
//! `GET /__standin/calls`, `GET /__standin/consumers`, `POST /__standin/faults` (a [`Fault`]
//! as JSON) and `POST /__standin/reset`.
//!
//! Modelled: `GET`/`POST …/consumers`, `GET`/`DELETE …/consumers/{name}`,
//! `GET`/`POST …/consumers/{name}/keys` and `GET /v1/who-am-i`. Other Developer API routes
//! under the bucket (consumer PATCH, roll-key, single keys, `keys/$bulk`, managers) answer
//! 501.
//!
//! Choices where Zuplo is silent:
//! - `key-format` defaults to `masked`, on every route that takes it.
//! - `tag.<k>=<v>` parameters combine with AND. On the consumer list they filter; on a
//!   single consumer (read, delete, and both key routes) they guard, and a mismatch is 404,
//!   the same answer as for a consumer that does not exist. The spec lists no `tag.*`
//!   on the key routes, but Zuplo says most requests accept them, so they are honoured
//!   rather than ignored: a client's guard is never silently dropped.
//! - `limit` defaults to 1000 and is clamped into 1..=1000 (the spec says an excess becomes
//!   the maximum; 0 and negatives become 1 likewise); `offset` defaults to 0 and a negative
//!   one is 400. Both are optional although the spec marks them required, since Zuplo's own
//!   examples omit them. Lists are in creation order and carry `total`.
//! - Limit violations on tags and metadata are 400; `metadata` is `{}` when not given.
//! - `POST …/consumers` without `with-api-key=true` creates a consumer with no keys and its
//!   answer has no `apiKeys` (as when `include-api-keys` is false).
//! - A key's `expiresOn` is accepted as any RFC 3339 date-time (any offset, any fraction)
//!   and stored and returned in Zuplo's timestamp form, UTC with milliseconds; anything else
//!   is 400. Absent or `null` means "never" and is returned as `null`. A date in the past is
//!   accepted (Zuplo documents rolling keys to a past date to expire them at once).
//! - A caller-chosen `key` value is stored as given (no format check: Zuplo allows custom
//!   formats) but must be unique in the bucket, else 409; an empty one is 400.
//! - On `POST …/keys` the body is validated before the consumer is looked up (a bad body
//!   for a missing consumer is 400), and the consumer's `updatedOn` is not changed.

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

/// An API key of a consumer. `key` is the full value whatever `key-format` a client asked for.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct StoredKey {
    pub id: String,
    pub key: String,
    /// In Zuplo's timestamp form (UTC, milliseconds); `None` means the key never expires.
    pub expires_on: Option<String>,
    pub description: Option<String>,
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

    /// Drops the faults still queued.
    pub fn clear_faults(&self) {
        self.shared.clear_faults();
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
