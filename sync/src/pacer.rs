//! Paces calls to Zuplo's Developer API: `rate` per second with a small burst, and
//! a pause for everyone when Zuplo answers 429 (its limit is per account, and the
//! live function shares it, so one throttled call means every worker should wait).

use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

pub struct Pacer {
    interval: Duration,
    /// How many calls may start back to back after an idle spell.
    burst: u32,
    state: Mutex<State>,
}

struct State {
    /// When the next call would start if calls came steadily (the GCRA's "theoretical
    /// arrival time").
    next: Instant,
    paused_until: Instant,
}

impl Pacer {
    /// `rate`: calls per second (> 0); `burst`: at least 1.
    pub fn new(rate: f64, burst: u32) -> Self {
        let now = Instant::now();
        let interval = Duration::from_secs_f64(1.0 / rate.max(0.001));
        let burst = burst.max(1);
        Pacer {
            interval,
            burst,
            // The burst is for catching up after an idle spell, not for the start: a run
            // that began with one would put rate + burst calls into Zuplo's first second.
            state: Mutex::new(State {
                next: now + interval * (burst - 1),
                paused_until: now,
            }),
        }
    }

    /// Waits for this call's turn.
    pub async fn acquire(&self) {
        let slot = {
            let mut state = self.lock();
            let now = Instant::now();
            let slack = self.interval * (self.burst - 1);
            let earliest = state.next.checked_sub(slack).unwrap_or(now);
            let slot = now.max(earliest).max(state.paused_until);
            state.next = state.next.max(slot) + self.interval;
            slot
        };
        tokio::time::sleep_until(slot).await;
    }

    /// Nobody starts a call for `wait` (Zuplo's `retry-after`; one second when it
    /// gave none).
    pub fn pause(&self, wait: Option<Duration>) {
        let wait = wait.unwrap_or(Duration::from_secs(1));
        let mut state = self.lock();
        state.paused_until = state.paused_until.max(Instant::now() + wait);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // A poisoned lock only means a panic between two plain assignments.
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn starts(pacer: &Pacer, n: usize) -> Duration {
        let t0 = Instant::now();
        for _ in 0..n {
            pacer.acquire().await;
        }
        t0.elapsed()
    }

    #[tokio::test(start_paused = true)]
    async fn calls_are_spaced_at_the_rate_after_the_burst() {
        let pacer = Pacer::new(50.0, 5);
        // From the start, one every 20 ms: 100 calls take 99 intervals.
        let took = starts(&pacer, 100).await;
        assert!(took >= Duration::from_millis(1979), "{took:?}");
        assert!(took <= Duration::from_millis(1981), "{took:?}");
        // After an idle spell, 5 at once, then the rate again: 10 calls, 5 intervals.
        tokio::time::sleep(Duration::from_secs(1)).await;
        let took = starts(&pacer, 10).await;
        assert!(took >= Duration::from_millis(99), "{took:?}");
        assert!(took <= Duration::from_millis(101), "{took:?}");
    }

    #[tokio::test(start_paused = true)]
    async fn a_pause_holds_every_caller() {
        let pacer = Pacer::new(1000.0, 1);
        pacer.pause(Some(Duration::from_secs(2)));
        let took = starts(&pacer, 1).await;
        assert!(took >= Duration::from_secs(2), "{took:?}");
        // A shorter pause does not shorten a longer one.
        pacer.pause(Some(Duration::from_secs(3)));
        pacer.pause(Some(Duration::from_millis(10)));
        assert!(starts(&pacer, 1).await >= Duration::from_secs(3));
    }
}
