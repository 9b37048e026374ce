//! Retries inside the request's deadline, with jittered exponential backoff.
//!
//! Only for calls that are safe to repeat: every Zuplo call this function makes is a
//! read, or a create under a deterministic name whose repeat answers 409 (which the
//! provisioning core turns into a lookup of the same consumer).

use std::future::Future;
use std::hash::{BuildHasher, Hasher};
use std::time::Duration;

use crate::deadline::Deadline;

/// Whether a failed attempt may be repeated, and after how long at least.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Repeating cannot help (a 4xx, a deadline).
    Final,
    /// Repeat after the backoff.
    Retry,
    /// Repeat after this long (the server said so) or not at all.
    RetryAfter(Duration),
}

pub trait Retryable {
    fn verdict(&self) -> Verdict;
}

#[derive(Debug, Clone, Copy)]
pub struct Backoff {
    pub first: Duration,
    pub cap: Duration,
    pub max_attempts: u32,
    /// No attempt starts with less than this left: it could not finish, and its
    /// failure would only eat the time kept for the answer.
    pub min_attempt: Duration,
}

/// Zuplo's Developer API answers in about 100-300 ms; five attempts fit easily in the
/// smallest route budget, and the deadline stops them anyway.
pub const ZUPLO: Backoff = Backoff {
    first: Duration::from_millis(100),
    cap: Duration::from_secs(1),
    max_attempts: 5,
    min_attempt: Duration::from_millis(100),
};

/// The outcome of the last attempt, or `None` if no attempt could start in time.
pub async fn retry<T, E, F, Fut>(
    policy: Backoff,
    deadline: Deadline,
    what: &'static str,
    mut attempt: F,
) -> Result<T, Option<E>>
where
    E: Retryable + std::fmt::Display,
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, E>>,
{
    let mut last = None;
    for n in 1..=policy.max_attempts {
        if deadline.remaining() < policy.min_attempt {
            break;
        }
        let error = match attempt().await {
            Ok(value) => return Ok(value),
            Err(e) => e,
        };
        let wait = match error.verdict() {
            Verdict::Final => return Err(Some(error)),
            Verdict::Retry => jitter(policy.first.saturating_mul(1 << (n - 1)).min(policy.cap)),
            // A little jitter on top, so that callers throttled together do not return together.
            Verdict::RetryAfter(after) => after + jitter(policy.first),
        };
        if n == policy.max_attempts || deadline.remaining() < wait + policy.min_attempt {
            return Err(Some(error));
        }
        tracing::info!(what, attempt = n, reason = %error, wait_ms = wait.as_millis() as u64, "retrying");
        tokio::time::sleep(wait).await;
        last = Some(error);
    }
    Err(last)
}

/// "Full jitter": uniform in `[0, max]`. Seeded per call by the standard library's
/// random hasher keys, which is plenty for spreading retries.
fn jitter(max: Duration) -> Duration {
    let random = std::collections::hash_map::RandomState::new()
        .build_hasher()
        .finish();
    let nanos = max.as_nanos() as u64;
    if nanos == 0 {
        return Duration::ZERO;
    }
    Duration::from_nanos(random % (nanos + 1))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU32, Ordering};

    #[derive(Debug, PartialEq)]
    struct E(Verdict);
    impl Retryable for E {
        fn verdict(&self) -> Verdict {
            self.0
        }
    }
    impl std::fmt::Display for E {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            write!(f, "{:?}", self.0)
        }
    }

    async fn run(verdicts: &[Verdict], budget: Duration) -> (Result<u32, Option<E>>, u32) {
        let calls = AtomicU32::new(0);
        let result = retry(ZUPLO, Deadline::after(budget), "test", || {
            let n = calls.fetch_add(1, Ordering::SeqCst) as usize;
            let verdict = verdicts.get(n).copied();
            async move {
                match verdict {
                    Some(v) => Err(E(v)),
                    None => Ok(n as u32),
                }
            }
        })
        .await;
        (result, calls.load(Ordering::SeqCst))
    }

    #[tokio::test(start_paused = true)]
    async fn retries_transient_failures_until_success() {
        let (result, calls) = run(&[Verdict::Retry, Verdict::Retry], Duration::from_secs(5)).await;
        assert_eq!(result.ok(), Some(2));
        assert_eq!(calls, 3);
    }

    #[tokio::test(start_paused = true)]
    async fn never_repeats_a_final_failure() {
        let (result, calls) = run(&[Verdict::Final], Duration::from_secs(5)).await;
        assert!(matches!(result, Err(Some(E(Verdict::Final)))));
        assert_eq!(calls, 1);
    }

    #[tokio::test(start_paused = true)]
    async fn waits_for_retry_after_only_when_it_fits() {
        let started = tokio::time::Instant::now();
        let second = Duration::from_secs(1);
        let (result, calls) = run(&[Verdict::RetryAfter(second)], Duration::from_secs(5)).await;
        assert_eq!(result.ok(), Some(1));
        assert_eq!(calls, 2);
        assert!(started.elapsed() >= second);

        let started = tokio::time::Instant::now();
        let (result, calls) = run(
            &[Verdict::RetryAfter(Duration::from_secs(30))],
            Duration::from_secs(5),
        )
        .await;
        assert!(result.is_err());
        assert_eq!(calls, 1);
        assert!(started.elapsed() < Duration::from_millis(10));
    }

    #[tokio::test(start_paused = true)]
    async fn stops_at_the_attempt_limit() {
        let (result, calls) = run(&[Verdict::Retry; 10], Duration::from_secs(60)).await;
        assert!(matches!(result, Err(Some(_))));
        assert_eq!(calls, ZUPLO.max_attempts);
    }

    #[tokio::test(start_paused = true)]
    async fn starts_nothing_without_time_for_it() {
        let (result, calls) = run(&[], Duration::from_millis(50)).await;
        assert!(matches!(result, Err(None)));
        assert_eq!(calls, 0);
    }

    #[test]
    fn jitter_stays_in_range() {
        for _ in 0..1000 {
            assert!(jitter(Duration::from_millis(100)) <= Duration::from_millis(100));
        }
        assert_eq!(jitter(Duration::ZERO), Duration::ZERO);
    }
}
