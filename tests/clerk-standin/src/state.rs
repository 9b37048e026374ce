//! All mutable stand-in state behind one mutex.
//!
//! A single lock keeps the rules simple: the rate-limit check, the user lookup and the merge of
//! one write can each be done in a consistent snapshot, and test controls such as `reset` never
//! see half a write. The lock is never held across an `.await`, and a poisoned lock is
//! recovered rather than propagated: the data is plain values and a panicking test thread must
//! not take the server down with it.

use std::collections::{HashMap, VecDeque};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::{Map, Value, json};
use tokio::sync::mpsc::{self, UnboundedReceiver, UnboundedSender};
use tokio::time::Instant;

use crate::metadata::{MetadataPatch, deep_merge};
use crate::{Call, Fault, MetadataWrite, StandinConfig};

/// A user's three metadata objects.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Metadata {
    pub(crate) public: Map<String, Value>,
    pub(crate) private: Map<String, Value>,
    pub(crate) unsafe_: Map<String, Value>,
}

#[derive(Debug, Clone)]
struct User {
    id: String,
    /// Unix milliseconds, like every Clerk timestamp.
    created_at: i64,
    updated_at: i64,
    metadata: Metadata,
}

impl User {
    /// The User object as `GET /v1/users/{id}` renders it. Every field Clerk's schema marks
    /// required is present, with the value a user created through the Backend API with no
    /// identifiers would have, so a client that deserializes the full object works.
    fn render(&self) -> Value {
        json!({
            "object": "user",
            "id": self.id,
            "external_id": null,
            "primary_email_address_id": null,
            "primary_phone_number_id": null,
            "primary_web3_wallet_id": null,
            "username": null,
            "first_name": null,
            "last_name": null,
            "image_url": "",
            "has_image": false,
            "public_metadata": self.metadata.public,
            "private_metadata": self.metadata.private,
            "unsafe_metadata": self.metadata.unsafe_,
            "email_addresses": [],
            "phone_numbers": [],
            "web3_wallets": [],
            "passkeys": [],
            "password_enabled": false,
            "two_factor_enabled": false,
            "totp_enabled": false,
            "backup_code_enabled": false,
            "mfa_enabled_at": null,
            "mfa_disabled_at": null,
            "external_accounts": [],
            "saml_accounts": [],
            "enterprise_accounts": [],
            "last_sign_in_at": null,
            "banned": false,
            "locked": false,
            "lockout_expires_in_seconds": null,
            "verification_attempts_remaining": null,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
            "delete_self_enabled": true,
            "create_organization_enabled": true,
            "last_active_at": null,
            "legal_accepted_at": null,
        })
    }
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// Whole seconds to wait for `remaining`, rounded up and at least 1, as `Retry-After` wants.
pub(crate) fn retry_after_secs(remaining: Duration) -> u64 {
    let millis = remaining.as_millis();
    u64::try_from(millis.div_ceil(1000))
        .unwrap_or(u64::MAX)
        .max(1)
}

struct State {
    secret_keys: Vec<String>,
    auto_users: bool,
    /// In creation order, which is also the order of `GET /__standin/users`.
    users: Vec<User>,
    /// Arrival order. The id lets a finishing request find its own entries (and none after a
    /// reset).
    calls: Vec<(u64, Call)>,
    writes: Vec<(u64, MetadataWrite)>,
    next_call: u64,
    faults: VecDeque<Fault>,
    /// Per user: when each write still inside the window was admitted, oldest first.
    admitted: HashMap<String, VecDeque<Instant>>,
    call_log: Option<UnboundedSender<Call>>,
}

/// What the server tasks share: fixed limits plus the locked state.
pub(crate) struct Shared {
    per_user_limit: u32,
    window: Duration,
    state: Mutex<State>,
}

impl Shared {
    pub(crate) fn new(config: StandinConfig) -> Self {
        Shared {
            per_user_limit: config.per_user_limit,
            window: config.window,
            state: Mutex::new(State {
                secret_keys: config.secret_keys,
                auto_users: false,
                users: Vec::new(),
                calls: Vec::new(),
                writes: Vec::new(),
                next_call: 0,
                faults: VecDeque::new(),
                admitted: HashMap::new(),
                call_log: None,
            }),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Records an API request on arrival (status 0 until it finishes) and takes the first
    /// queued fault whose method filter matches it.
    pub(crate) fn arrive(
        &self,
        method: &str,
        path: &str,
        api_version: Option<String>,
    ) -> (u64, Option<Fault>) {
        let mut state = self.lock();
        let id = state.next_call;
        state.next_call += 1;
        state.calls.push((
            id,
            Call {
                method: method.to_owned(),
                path: path.to_owned(),
                status: 0,
                api_version,
            },
        ));
        let position = state.faults.iter().position(|f| {
            f.method
                .as_deref()
                .is_none_or(|m| m.eq_ignore_ascii_case(method))
        });
        let fault = position.and_then(|i| state.faults.remove(i));
        (id, fault)
    }

    /// Records the metadata write that call `id` carries (status 0 until it finishes).
    pub(crate) fn record_write(&self, id: u64, user_id: &str, body: Value) {
        self.lock().writes.push((
            id,
            MetadataWrite {
                user_id: user_id.to_owned(),
                body,
                status: 0,
            },
        ));
    }

    /// Stores the final status of call `id` (and of its write, if any) and feeds the call log.
    /// A call reset away in the meantime is ignored.
    pub(crate) fn finish(&self, id: u64, status: u16) {
        let mut state = self.lock();
        if let Some((_, write)) = state.writes.iter_mut().find(|(i, _)| *i == id) {
            write.status = status;
        }
        let finished = state
            .calls
            .iter_mut()
            .find(|(i, _)| *i == id)
            .map(|(_, call)| {
                call.status = status;
                call.clone()
            });
        if let (Some(call), Some(log)) = (finished, state.call_log.as_ref())
            && log.send(call).is_err()
        {
            // The subscriber went away; stop cloning calls for nobody.
            state.call_log = None;
        }
    }

    pub(crate) fn is_accepted_key(&self, key: &str) -> bool {
        self.lock().secret_keys.iter().any(|k| k == key)
    }

    /// Counts a metadata write to `user_id` against its sliding window. `Err(seconds)` means
    /// "reject with 429 and this `Retry-After`"; a rejected write takes no slot.
    pub(crate) fn admit_write(&self, user_id: &str) -> Result<(), u64> {
        let now = Instant::now();
        let window = self.window;
        let limit = usize::try_from(self.per_user_limit).unwrap_or(usize::MAX);
        let mut state = self.lock();
        let admitted = state.admitted.entry(user_id.to_owned()).or_default();
        while admitted
            .front()
            .is_some_and(|at| now.saturating_duration_since(*at) >= window)
        {
            admitted.pop_front();
        }
        if admitted.len() < limit {
            admitted.push_back(now);
            return Ok(());
        }
        // With a limit of 0 there is no oldest write; a whole window is the honest answer.
        let remaining = admitted.front().map_or(window, |oldest| {
            window.saturating_sub(now.saturating_duration_since(*oldest))
        });
        Err(retry_after_secs(remaining))
    }

    /// With auto-users on, creates an unknown `user_…` id with empty metadata.
    pub(crate) fn ensure_auto_user(&self, id: &str) {
        let mut state = self.lock();
        if state.auto_users && id.starts_with("user_") && !state.users.iter().any(|u| u.id == id) {
            insert_user(&mut state, id, Metadata::default());
        }
    }

    /// `false` if the id is taken (the existing user is left unchanged).
    pub(crate) fn add_user(&self, id: &str, metadata: Metadata) -> bool {
        let mut state = self.lock();
        if state.users.iter().any(|u| u.id == id) {
            return false;
        }
        insert_user(&mut state, id, metadata);
        true
    }

    pub(crate) fn remove_user(&self, id: &str) -> bool {
        let mut state = self.lock();
        let before = state.users.len();
        state.users.retain(|u| u.id != id);
        state.users.len() != before
    }

    pub(crate) fn user(&self, id: &str) -> Option<Value> {
        self.lock()
            .users
            .iter()
            .find(|u| u.id == id)
            .map(User::render)
    }

    pub(crate) fn users(&self) -> Vec<Value> {
        self.lock().users.iter().map(User::render).collect()
    }

    /// Deep-merges `patch` into the user's metadata and returns the updated User object, or
    /// `None` if there is no such user.
    pub(crate) fn apply_write(&self, id: &str, patch: &MetadataPatch) -> Option<Value> {
        let mut state = self.lock();
        let user = state.users.iter_mut().find(|u| u.id == id)?;
        for (target, change) in [
            (&mut user.metadata.public, &patch.public),
            (&mut user.metadata.private, &patch.private),
            (&mut user.metadata.unsafe_, &patch.unsafe_),
        ] {
            if let Some(change) = change {
                deep_merge(target, change);
            }
        }
        user.updated_at = now_ms().max(user.updated_at.saturating_add(1));
        Some(user.render())
    }

    pub(crate) fn calls(&self) -> Vec<Call> {
        self.lock().calls.iter().map(|(_, c)| c.clone()).collect()
    }

    pub(crate) fn metadata_writes(&self) -> Vec<MetadataWrite> {
        self.lock().writes.iter().map(|(_, w)| w.clone()).collect()
    }

    pub(crate) fn push_fault(&self, fault: Fault) {
        self.lock().faults.push_back(fault);
    }

    pub(crate) fn set_secret_keys(&self, secret_keys: Vec<String>) {
        self.lock().secret_keys = secret_keys;
    }

    pub(crate) fn set_auto_users(&self, on: bool) {
        self.lock().auto_users = on;
    }

    pub(crate) fn subscribe_calls(&self) -> UnboundedReceiver<Call> {
        let (sender, receiver) = mpsc::unbounded_channel();
        self.lock().call_log = Some(sender);
        receiver
    }

    pub(crate) fn reset(&self) {
        let mut state = self.lock();
        state.users.clear();
        state.calls.clear();
        state.writes.clear();
        state.faults.clear();
        state.admitted.clear();
    }
}

fn insert_user(state: &mut State, id: &str, metadata: Metadata) {
    let now = now_ms();
    state.users.push(User {
        id: id.to_owned(),
        created_at: now,
        updated_at: now,
        metadata,
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::FaultAction;

    fn shared(per_user_limit: u32, window: Duration) -> Shared {
        Shared::new(StandinConfig {
            secret_keys: vec!["sk_test_1".into()],
            per_user_limit,
            window,
        })
    }

    #[test]
    fn faults_are_taken_fifo_among_matching_methods() {
        let s = shared(10, Duration::from_secs(10));
        let fault = |method: Option<&str>, delay_ms| Fault {
            method: method.map(str::to_owned),
            delay_ms,
            action: FaultAction::Pass,
        };
        s.push_fault(fault(Some("GET"), 1));
        s.push_fault(fault(None, 2));
        s.push_fault(fault(Some("patch"), 3));
        let (_, f) = s.arrive("PATCH", "/x", None);
        assert_eq!(f.map(|f| f.delay_ms), Some(2), "first match, skipping GET");
        let (_, f) = s.arrive("PATCH", "/x", None);
        assert_eq!(f.map(|f| f.delay_ms), Some(3), "method is case-insensitive");
        assert!(s.arrive("PATCH", "/x", None).1.is_none());
        assert_eq!(s.arrive("GET", "/x", None).1.map(|f| f.delay_ms), Some(1));
    }

    #[test]
    fn finish_sets_the_status_of_the_call_and_its_write() {
        let s = shared(10, Duration::from_secs(10));
        let (a, _) = s.arrive("PATCH", "/a", Some("2026-05-12".into()));
        s.record_write(a, "user_a", json!({}));
        let (b, _) = s.arrive("GET", "/b", None);
        s.finish(b, 404);
        assert_eq!(s.metadata_writes()[0].status, 0, "in flight");
        s.finish(a, 200);
        let calls = s.calls();
        assert_eq!((calls[0].path.as_str(), calls[0].status), ("/a", 200));
        assert_eq!(calls[0].api_version.as_deref(), Some("2026-05-12"));
        assert_eq!((calls[1].path.as_str(), calls[1].status), ("/b", 404));
        assert_eq!(s.metadata_writes()[0].status, 200);
        s.reset();
        s.finish(a, 500);
        assert!(s.calls().is_empty() && s.metadata_writes().is_empty());
    }

    #[tokio::test(start_paused = true)]
    async fn sliding_window_admits_the_limit_then_names_the_wait() {
        let s = shared(2, Duration::from_secs(10));
        assert_eq!(s.admit_write("user_a"), Ok(()));
        tokio::time::advance(Duration::from_millis(2_500)).await;
        assert_eq!(s.admit_write("user_a"), Ok(()));
        assert_eq!(s.admit_write("user_b"), Ok(()), "limits are per user");
        // The first write leaves the window 7.5 s from now: rounded up to 8.
        assert_eq!(s.admit_write("user_a"), Err(8));
        tokio::time::advance(Duration::from_millis(7_499)).await;
        assert_eq!(s.admit_write("user_a"), Err(1), "never 0");
        tokio::time::advance(Duration::from_millis(1)).await;
        assert_eq!(s.admit_write("user_a"), Ok(()), "a 429 took no slot");
        assert_eq!(s.admit_write("user_a"), Err(3));
    }

    #[tokio::test(start_paused = true)]
    async fn a_zero_limit_rejects_for_a_whole_window() {
        let s = shared(0, Duration::from_millis(1_200));
        assert_eq!(s.admit_write("user_a"), Err(2));
    }

    #[test]
    fn retry_after_rounds_up_to_whole_seconds() {
        assert_eq!(retry_after_secs(Duration::ZERO), 1);
        assert_eq!(retry_after_secs(Duration::from_millis(1)), 1);
        assert_eq!(retry_after_secs(Duration::from_millis(1_000)), 1);
        assert_eq!(retry_after_secs(Duration::from_millis(1_001)), 2);
    }

    #[test]
    fn updated_at_increases_on_every_write() {
        let s = shared(10, Duration::from_secs(10));
        assert!(s.add_user("user_a", Metadata::default()));
        assert!(!s.add_user("user_a", Metadata::default()));
        let created = s.user("user_a").unwrap()["updated_at"].as_i64().unwrap();
        let patch = MetadataPatch::default();
        let first = s.apply_write("user_a", &patch).unwrap()["updated_at"]
            .as_i64()
            .unwrap();
        let second = s.apply_write("user_a", &patch).unwrap()["updated_at"]
            .as_i64()
            .unwrap();
        assert!(
            created < first && first < second,
            "{created} {first} {second}"
        );
        assert!(s.apply_write("user_b", &patch).is_none());
    }
}
