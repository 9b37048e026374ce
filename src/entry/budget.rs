//! The one deadline each request runs under: its provider's budget, cut short by the
//! Lambda invocation's own deadline and, after a cold start, by the time init took.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::time::Instant;

use crate::deadline::Deadline;

/// A first request that arrives later than this after init finished did not wait for
/// it: Lambda started the container ahead of demand. (After a real cold start the
/// runtime asks for the event right away, within a millisecond or two.)
const COLD_START_GAP: Duration = Duration::from_millis(100);

pub struct Clock {
    /// Kept back from the Lambda invocation's own deadline to send the answer.
    margin: Duration,
    /// The caller's clock started before our init did: the first request pays for it.
    init_started: Instant,
    /// When warm-up finished.
    ready_at: OnceLock<Instant>,
    first_request: AtomicBool,
}

impl Clock {
    pub fn new(margin: Duration) -> Self {
        Clock {
            margin,
            init_started: Instant::now(),
            ready_at: OnceLock::new(),
            first_request: AtomicBool::new(true),
        }
    }

    /// Init is over: a first request arriving much later was not waiting for it.
    pub fn ready(&self) {
        let _ = self.ready_at.set(Instant::now());
    }

    /// Treats the container as warm, as when Lambda starts it ahead of demand: no
    /// request pays for init.
    pub fn mark_warm(&self) {
        self.first_request.store(false, Ordering::Relaxed);
    }

    /// True for the container's first request only.
    pub fn take_first_request(&self) -> bool {
        self.first_request.swap(false, Ordering::Relaxed)
    }

    /// `min(now + budget, Lambda deadline − margin)`, and on a cold start no later than
    /// `budget` after init began: the callers' 7 s and 5 s include the cold start.
    /// `lambda_deadline_ms` is the invocation's deadline in Unix milliseconds (0: none).
    pub fn request_deadline(
        &self,
        budget: Duration,
        lambda_deadline_ms: u64,
        cold_start: bool,
    ) -> Deadline {
        let mut own = Deadline::after(budget);
        if cold_start {
            let ready = self.ready_at.get().copied().unwrap_or(self.init_started);
            if ready.elapsed() < COLD_START_GAP {
                own = own.min(Deadline::at(self.init_started + budget));
            }
        }
        let now_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64);
        if lambda_deadline_ms == 0 || lambda_deadline_ms <= now_ms {
            return own;
        }
        let left = Duration::from_millis(lambda_deadline_ms - now_ms).saturating_sub(self.margin);
        own.min(Deadline::after(left))
    }
}
