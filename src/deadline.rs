//! One deadline per request, passed down to every outbound call.
//!
//! Callers (Firebase, Supabase) have a hard time limit after which the sign-up fails,
//! so no step may outlive the request's budget: each step runs under
//! [`Deadline::run`], which cancels it when the budget is spent.

use std::future::Future;
use std::time::Duration;
use tokio::time::Instant;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Deadline(Instant);

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("deadline exceeded")]
pub struct DeadlineExceeded;

impl Deadline {
    pub fn after(budget: Duration) -> Self {
        Deadline(Instant::now() + budget)
    }

    pub fn at(instant: Instant) -> Self {
        Deadline(instant)
    }

    pub fn instant(self) -> Instant {
        self.0
    }

    /// The earlier of the two.
    pub fn min(self, other: Deadline) -> Self {
        std::cmp::min(self, other)
    }

    pub fn remaining(self) -> Duration {
        self.0.saturating_duration_since(Instant::now())
    }

    pub fn expired(self) -> bool {
        self.remaining().is_zero()
    }

    /// Runs `fut` until it completes or the deadline passes, whichever is first.
    pub async fn run<F: Future>(self, fut: F) -> Result<F::Output, DeadlineExceeded> {
        tokio::time::timeout_at(self.0, fut)
            .await
            .map_err(|_| DeadlineExceeded)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn run_cancels_work_that_outlives_the_deadline() {
        let d = Deadline::after(Duration::from_millis(100));
        let slow = d.run(tokio::time::sleep(Duration::from_secs(5))).await;
        assert_eq!(slow, Err(DeadlineExceeded));
        assert!(d.expired());
    }

    #[tokio::test(start_paused = true)]
    async fn run_returns_work_that_finishes_in_time() {
        let d = Deadline::after(Duration::from_secs(1));
        let fast = d.run(async { 7 }).await;
        assert_eq!(fast, Ok(7));
        assert!(d.remaining() > Duration::from_millis(900));
    }

    #[tokio::test(start_paused = true)]
    async fn min_picks_the_earlier() {
        let a = Deadline::after(Duration::from_secs(1));
        let b = Deadline::after(Duration::from_secs(2));
        assert_eq!(a.min(b), a);
        assert_eq!(b.min(a), a);
    }
}
