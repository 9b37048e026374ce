//! A local stand-in for the part of Clerk's Backend API that the Clerk hook uses: writing a
//! user's metadata (`PATCH /v1/users/{user_id}/metadata`) and reading the user back
//! (`GET /v1/users/{user_id}`).
//!
//! Clerk publishes no emulator, and the client's hard paths (the user deleted before the
//! write-back, the per-user rate limit, a rotated secret key, a slow or failing API) cannot be
//! provoked against the real service on demand. This crate models those two operations as
//! Clerk's OpenAPI (`bapi/2026-05-12.yml`, operations `UpdateUserMetadata` and `GetUser`) and
//! its `system-limits` page describe them (notes in `reference/clerk-auth0.md` §3.1), and lets
//! tests inject failures and inspect what the client sent.
//!
//! What is modelled:
//! - Bearer auth against a list of secret keys: a missing, malformed or unknown key is 401
//!   `authentication_invalid`. The key's `sk_<env>_` format is not checked, so tests may use
//!   any string.
//! - The metadata write: a **deep merge** of each of `public_metadata`, `private_metadata` and
//!   `unsafe_metadata` into the stored value, nested objects merged recursively and a `null`
//!   at any level deleting that key (JSON Merge Patch, RFC 7396, per field). Arrays and
//!   scalars replace what was there.
//! - Users must exist: both operations answer 404 `resource_not_found` for an unknown id.
//! - The metadata-write rate limit, 10 requests per 10 s per user by default
//!   ([`StandinConfig`]), answered with 429 `rate_limit_exceeded` and `Retry-After`.
//! - Error bodies in Clerk's shape:
//!   `{"errors":[{"message","long_message","code"[,"meta"]}],"clerk_trace_id":"…"}`.
//!
//! Choices where Clerk is silent:
//! - Status codes stay within the ones Clerk documents for the operation (200, 400, 401, 404,
//!   422, 429). A body that is not JSON, not a JSON object, empty or over 1 MiB is 400
//!   `request_body_invalid`. An unknown top-level key is 422 `form_param_unknown` and a
//!   metadata field that is not an object (`null` included, since the schema types it as an
//!   object) is 422 `form_param_format_invalid`, both with `meta.param_name`, as Clerk does for
//!   form-parameter errors. Validation happens before the user lookup.
//! - The rate limit is a sliding window over admitted writes: a write is admitted while fewer
//!   than `per_user_limit` writes to that user were admitted in the last `window`.
//!   `Retry-After` is the whole seconds until the oldest of them leaves the window (at least
//!   1). Every authenticated metadata write to a modelled path counts, whatever its outcome
//!   (404 and 4xx included); 429s do not. Reads are not limited, and the per-instance limit
//!   (1000 / 10 s) is not modelled.
//! - The window runs on tokio's clock, so a test on a paused clock can advance through it.
//! - `Clerk-API-Version` (or the `__clerk_api_version` query parameter when the header is
//!   absent) is recorded in [`Call::api_version`] but not validated.
//! - Clerk's 8 KB metadata size limit is not enforced.
//! - Routes the stand-in does not model answer 501 `standin_route_not_modeled` rather than 404,
//!   so a mis-built URL fails loudly instead of looking like "user deleted". A modelled path
//!   with another method is 405 with `Allow`.
//! - `updated_at` (Unix milliseconds) strictly increases on every write, even within one
//!   millisecond, so a test can see that a write happened.
//!
//! Tests use it in-process through [`ClerkStandin`]; scripts and the quick start use the
//! `clerk-standin` binary and the HTTP control endpoints (no auth, never recorded, never
//! faulted): `GET /__standin/calls`, `GET /__standin/writes`, `GET /__standin/users`,
//! `POST /__standin/users` (`{"id":"user_…"}`, optionally with initial `public_metadata`,
//! `private_metadata`, `unsafe_metadata`; 201, or 409 if it exists),
//! `DELETE /__standin/users/{id}` (204 or 404), `POST /__standin/faults` (a [`Fault`] as JSON)
//! and `POST /__standin/reset`.
//!
//! Auto-users ([`ClerkStandin::set_auto_users`], the binary's `--auto-users`) is a convenience
//! real Clerk does not have: a `GET`, or a metadata write that passes auth, the rate limit and
//! validation, for an unknown `user_…` id creates that user (empty metadata) before it is
//! served. It exists for the quick start, where users exist only in sample webhook events.

mod api;
mod control;
mod errors;
mod metadata;
mod state;

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::mpsc::UnboundedReceiver;

use state::Shared;

/// What one stand-in accepts and how hard it limits metadata writes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StandinConfig {
    /// Accepted `Authorization: Bearer` values (Clerk secret keys, `sk_test_…`).
    pub secret_keys: Vec<String>,
    /// Metadata writes admitted per user within one `window` (Clerk: 10).
    pub per_user_limit: u32,
    /// The rate-limit window (Clerk: 10 s).
    pub window: Duration,
}

impl Default for StandinConfig {
    /// Clerk's documented limit and no accepted keys (every request is 401 until keys are set).
    fn default() -> Self {
        StandinConfig {
            secret_keys: Vec::new(),
            per_user_limit: 10,
            window: Duration::from_secs(10),
        }
    }
}

/// A running stand-in. Clones share the same server and state.
///
/// The server runs on the tokio runtime that started it and lives as long as that runtime
/// (dropping every `ClerkStandin` does not stop it).
#[derive(Clone)]
pub struct ClerkStandin {
    shared: Arc<Shared>,
    addr: SocketAddr,
}

/// One API request as received. The `Authorization` value is never recorded; whether it was
/// accepted shows in `status` (401 when not). `status` is 0 while the request is in flight.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Call {
    pub method: String,
    /// Without the query string.
    pub path: String,
    pub status: u16,
    /// The `Clerk-API-Version` header, else the `__clerk_api_version` query parameter.
    pub api_version: Option<String>,
}

/// One `PATCH` to a user's metadata path as received, with the status answered (0 while in
/// flight). Recorded whatever the outcome, faulted and unauthenticated requests included.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct MetadataWrite {
    pub user_id: String,
    /// The body as JSON; a body that is not JSON is kept as a JSON string of its text.
    pub body: serde_json::Value,
    pub status: u16,
}

/// A one-shot fault, consumed by the next API request it matches (FIFO among matches).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Deserialize)]
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

#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum FaultAction {
    /// Behave normally (after the delay).
    #[default]
    Pass,
    /// A Clerk-shaped error with this status (and `Retry-After` if given); no state change and
    /// no rate-limit slot used.
    Status {
        status: u16,
        #[serde(default)]
        retry_after: Option<u64>,
    },
}

/// Paths reserved for test controls; they are never recorded or faulted.
pub(crate) fn is_control_path(path: &str) -> bool {
    path == "/__standin" || path.starts_with("/__standin/")
}

impl ClerkStandin {
    /// Binds `127.0.0.1:0`, spawns the server on the current tokio runtime and returns at once.
    ///
    /// # Panics
    /// If no loopback port can be bound, which leaves a test nothing to run against.
    pub async fn start(config: StandinConfig) -> ClerkStandin {
        let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, 0));
        match ClerkStandin::bind(config, addr).await {
            Ok(standin) => standin,
            Err(e) => panic!("clerk-standin: cannot bind {addr}: {e}"),
        }
    }

    /// Binds `addr` (port 0 = any free port) and spawns the server on the current runtime.
    pub async fn bind(config: StandinConfig, addr: SocketAddr) -> std::io::Result<ClerkStandin> {
        let listener = TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared::new(config));
        let router = control::router(Arc::clone(&shared));
        tokio::spawn(async move {
            // Only fails if accepting fails for good; there is nobody to report it to, and the
            // test then sees connection errors.
            let _ = axum::serve(listener, router).await;
        });
        Ok(ClerkStandin { shared, addr })
    }

    /// The base URL without a trailing slash, e.g. `http://127.0.0.1:8788`; the client
    /// appends `/v1/…`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Adds a user with empty metadata. `false` if a user with this id already exists
    /// (it is left unchanged).
    pub fn add_user(&self, id: &str) -> bool {
        self.shared.add_user(id, state::Metadata::default())
    }

    /// Deletes a user, as deleting it in Clerk's dashboard would. `false` if there was none.
    pub fn remove_user(&self, id: &str) -> bool {
        self.shared.remove_user(id)
    }

    /// The stored user as the API renders it (`object:"user"`, `id`, the three metadata
    /// objects, `created_at`, `updated_at`, …), or `None`.
    pub fn user(&self, id: &str) -> Option<serde_json::Value> {
        self.shared.user(id)
    }

    /// Every API request in arrival order (control requests are not included).
    pub fn calls(&self) -> Vec<Call> {
        self.shared.calls()
    }

    /// Every metadata `PATCH` in arrival order, with the status answered.
    pub fn metadata_writes(&self) -> Vec<MetadataWrite> {
        self.shared.metadata_writes()
    }

    /// Queues a one-shot fault for the next matching API request.
    pub fn push_fault(&self, fault: Fault) {
        self.shared.push_fault(fault);
    }

    /// Replaces the accepted secret keys, as rotating the key in Clerk's dashboard would.
    pub fn set_secret_keys(&self, secret_keys: Vec<String>) {
        self.shared.set_secret_keys(secret_keys);
    }

    /// When on, a `GET` or a valid metadata write for an unknown id starting with `user_`
    /// creates that user first. Real Clerk has no such thing; it exists for the quick start.
    /// Off by default.
    pub fn set_auto_users(&self, on: bool) {
        self.shared.set_auto_users(on);
    }

    /// A feed of every API call once answered, for the binary's log. Only the latest
    /// subscriber receives; an earlier receiver sees its channel closed.
    pub fn subscribe_calls(&self) -> UnboundedReceiver<Call> {
        self.shared.subscribe_calls()
    }

    /// Clears users, calls, metadata writes, faults and rate-limit windows. Secret keys, the
    /// limit and auto-users are kept.
    pub fn reset(&self) {
        self.shared.reset();
    }
}
