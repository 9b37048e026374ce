//! All mutable stand-in state behind one mutex.
//!
//! A single lock keeps the rules simple: the duplicate-name check and the insert of a create
//! happen in one critical section (so concurrent creates of one name yield exactly one
//! consumer), and test controls such as `reset` see a consistent snapshot. The lock is never
//! held across an `.await`, and a poisoned lock is recovered rather than propagated: the data
//! is plain values and a panicking test thread must not take the server down with it.

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use crate::{Call, Fault, StoredConsumer, StoredKey};

/// A consumer as the stand-in stores it (more detail than the public [`StoredConsumer`]).
#[derive(Debug, Clone)]
pub(crate) struct Consumer {
    pub(crate) id: String,
    pub(crate) name: String,
    pub(crate) description: Option<String>,
    pub(crate) created_on: String,
    pub(crate) updated_on: String,
    pub(crate) tags: BTreeMap<String, String>,
    pub(crate) metadata: serde_json::Value,
    pub(crate) managers: Vec<Manager>,
    pub(crate) keys: Vec<Key>,
}

/// A manager given on create: `sub` is `None` for an email-only invite.
#[derive(Debug, Clone)]
pub(crate) struct Manager {
    pub(crate) id: String,
    pub(crate) created_on: String,
    pub(crate) email: String,
    pub(crate) sub: Option<String>,
}

/// `expires_on` is stored already normalised (see [`crate::mint::normalize_date_time`]).
#[derive(Debug, Clone)]
pub(crate) struct Key {
    pub(crate) id: String,
    pub(crate) created_on: String,
    pub(crate) updated_on: String,
    pub(crate) expires_on: Option<String>,
    pub(crate) description: Option<String>,
    pub(crate) key: String,
}

impl Consumer {
    pub(crate) fn to_stored(&self) -> StoredConsumer {
        StoredConsumer {
            id: self.id.clone(),
            name: self.name.clone(),
            description: self.description.clone(),
            managers: self.managers.iter().map(|m| m.email.clone()).collect(),
            metadata: self.metadata.clone(),
            tags: self.tags.clone(),
            api_keys: self
                .keys
                .iter()
                .map(|k| StoredKey {
                    id: k.id.clone(),
                    key: k.key.clone(),
                    expires_on: k.expires_on.clone(),
                    description: k.description.clone(),
                })
                .collect(),
        }
    }

    /// Whether every `tag.<k>=<v>` filter matches this consumer's tags (AND).
    pub(crate) fn matches_tags(&self, filters: &[(String, String)]) -> bool {
        filters
            .iter()
            .all(|(k, v)| self.tags.get(k).is_some_and(|have| have == v))
    }
}

#[derive(Default)]
pub(crate) struct State {
    pub(crate) tokens: Vec<String>,
    /// In creation order, which is also the list order.
    pub(crate) consumers: Vec<Consumer>,
    /// Arrival order. The id lets a finishing request find its own entry (and none after a reset).
    calls: Vec<(u64, Call)>,
    next_call: u64,
    faults: VecDeque<Fault>,
    rate_limit: Option<u32>,
    window: Option<(Instant, u32)>,
}

/// What the server tasks share: fixed configuration plus the locked state.
pub(crate) struct Shared {
    pub(crate) account: String,
    pub(crate) bucket: String,
    state: Mutex<State>,
}

impl Shared {
    pub(crate) fn new(account: String, bucket: String, tokens: Vec<String>) -> Self {
        Shared {
            account,
            bucket,
            state: Mutex::new(State {
                tokens,
                ..State::default()
            }),
        }
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Records an API request on arrival (status 0 until it finishes) and takes the first
    /// queued fault whose method filter matches it.
    pub(crate) fn arrive(&self, method: &str, path: &str, query: &str) -> (u64, Option<Fault>) {
        let mut state = self.lock();
        let id = state.next_call;
        state.next_call += 1;
        state.calls.push((
            id,
            Call {
                method: method.to_owned(),
                path: path.to_owned(),
                query: query.to_owned(),
                status: 0,
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

    /// Stores the final status of a recorded call. A call reset away in the meantime is ignored.
    pub(crate) fn finish(&self, id: u64, status: u16) {
        let mut state = self.lock();
        if let Some((_, call)) = state.calls.iter_mut().find(|(i, _)| *i == id) {
            call.status = status;
        }
    }

    /// Counts a request against the fixed one-second window; `false` means "reject with 429".
    pub(crate) fn admit(&self) -> bool {
        let mut state = self.lock();
        let Some(limit) = state.rate_limit else {
            return true;
        };
        let now = Instant::now();
        let count = match state.window {
            Some((start, count)) if now.duration_since(start) < Duration::from_secs(1) => {
                count.saturating_add(1)
            }
            _ => {
                state.window = Some((now, 1));
                1
            }
        };
        if let Some((_, stored)) = state.window.as_mut() {
            *stored = count;
        }
        count <= limit
    }

    pub(crate) fn calls(&self) -> Vec<Call> {
        self.lock().calls.iter().map(|(_, c)| c.clone()).collect()
    }

    pub(crate) fn consumers(&self) -> Vec<StoredConsumer> {
        self.lock()
            .consumers
            .iter()
            .map(Consumer::to_stored)
            .collect()
    }

    pub(crate) fn push_fault(&self, fault: Fault) {
        self.lock().faults.push_back(fault);
    }

    pub(crate) fn clear_faults(&self) {
        self.lock().faults.clear();
    }

    pub(crate) fn set_tokens(&self, tokens: Vec<String>) {
        self.lock().tokens = tokens;
    }

    pub(crate) fn set_rate_limit(&self, per_second: Option<u32>) {
        let mut state = self.lock();
        state.rate_limit = per_second;
        state.window = None;
    }

    pub(crate) fn reset(&self) {
        let mut state = self.lock();
        state.consumers.clear();
        state.calls.clear();
        state.faults.clear();
        state.rate_limit = None;
        state.window = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::FaultAction;

    fn shared() -> Shared {
        Shared::new("a".into(), "b".into(), vec!["t".into()])
    }

    #[test]
    fn faults_are_taken_fifo_among_matching_methods() {
        let s = shared();
        let fault = |method: Option<&str>, delay_ms| Fault {
            method: method.map(str::to_owned),
            delay_ms,
            action: FaultAction::Pass,
        };
        s.push_fault(fault(Some("DELETE"), 1));
        s.push_fault(fault(None, 2));
        s.push_fault(fault(Some("post"), 3));
        let (_, f) = s.arrive("POST", "/x", "");
        assert_eq!(
            f.unwrap().delay_ms,
            2,
            "first matching fault, skipping DELETE"
        );
        let (_, f) = s.arrive("POST", "/x", "");
        assert_eq!(f.unwrap().delay_ms, 3, "method match is case-insensitive");
        let (_, f) = s.arrive("POST", "/x", "");
        assert!(f.is_none());
        let (_, f) = s.arrive("DELETE", "/x", "");
        assert_eq!(f.unwrap().delay_ms, 1);
    }

    #[test]
    fn calls_keep_arrival_order_and_final_status() {
        let s = shared();
        let (a, _) = s.arrive("GET", "/a", "q=1");
        let (b, _) = s.arrive("GET", "/b", "");
        s.finish(b, 404);
        s.finish(a, 200);
        let calls = s.calls();
        assert_eq!(calls.len(), 2);
        assert_eq!((calls[0].path.as_str(), calls[0].status), ("/a", 200));
        assert_eq!(calls[0].query, "q=1");
        assert_eq!((calls[1].path.as_str(), calls[1].status), ("/b", 404));
        s.reset();
        s.finish(a, 500);
        assert!(s.calls().is_empty());
    }

    #[test]
    fn rate_limit_window_admits_n_then_rejects() {
        let s = shared();
        assert!((0..10).all(|_| s.admit()), "no limit by default");
        s.set_rate_limit(Some(2));
        assert!(s.admit());
        assert!(s.admit());
        assert!(!s.admit());
        s.set_rate_limit(Some(0));
        assert!(!s.admit());
        s.reset();
        assert!(s.admit());
    }
}
