//! A sign-up burst against a rate-limited Zuplo: 500 new users arrive as fast as 20
//! concurrent callers can send them (20 Lambda containers, each with its own caches,
//! since Lambda hands a container one event at a time), while the Zuplo stand-in admits
//! 100 requests per second and answers 429 `retry-after: 1` above that. A second wave
//! signs the same users in, which reconciles those whose sign-up failed open.
//!
//! It asserts what must never happen (a duplicate consumer, an answer after the
//! deadline, two ids for one user) and prints what the burst achieved. Run it alone
//! with `scripts/test.sh --test burst -- --nocapture` to see the figures.

mod common;

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use common::*;
use serde_json::{Value, json};
use zuplo_auth_hooks::App;

const USERS: usize = 500;
const CALLERS: usize = 20;
const ZUPLO_PER_SECOND: u32 = 100;
const BUDGET: Duration = Duration::from_millis(6000);
const SLACK: Duration = Duration::from_millis(50);

struct Outcome {
    user: usize,
    elapsed: Duration,
    status: u16,
    id: Option<String>,
}

/// Sends one request per user, `CALLERS` at a time, each caller its own container.
async fn wave(
    containers: &[Arc<App>],
    body_for: impl Fn(usize) -> (String, String) + Send + Sync + 'static,
) -> Vec<Outcome> {
    let next = Arc::new(AtomicUsize::new(0));
    let body_for = Arc::new(body_for);
    let callers: Vec<_> = containers
        .iter()
        .cloned()
        .map(|app| {
            let (next, body_for) = (next.clone(), body_for.clone());
            tokio::spawn(async move {
                let mut outcomes = Vec::new();
                loop {
                    let user = next.fetch_add(1, Ordering::SeqCst);
                    if user >= USERS {
                        return outcomes;
                    }
                    let (path, body) = body_for(user);
                    let started = Instant::now();
                    let resp = answer(
                        invoke(&app, request("POST", &path, &body, "application/json")).await,
                    );
                    let elapsed = started.elapsed();
                    let status = resp.status;
                    let json: Value = resp.json;
                    outcomes.push(Outcome {
                        user,
                        elapsed,
                        status,
                        id: consumer_claim(&json).map(str::to_owned),
                    });
                }
            })
        })
        .collect();
    let mut all = Vec::new();
    for caller in callers {
        all.extend(caller.await.expect("a caller panicked"));
    }
    all.sort_by_key(|o| o.user);
    all
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_of_500_sign_ups_against_a_rate_limited_zuplo() {
    let h = Harness::with(Options {
        env: vec![("FAIL_MODE", "open".into())],
        ..Options::default()
    })
    .await;
    let mut containers = Vec::new();
    for _ in 0..CALLERS {
        containers.push(Arc::new(h.another_container().await));
    }
    h.zuplo.set_rate_limit(Some(ZUPLO_PER_SECOND));
    let calls_before = h.zuplo_calls();
    let uid = |user: usize| format!("burst-{user:04}");

    let started = Instant::now();
    let first = wave(&containers, move |user| {
        let token = sign(&claims(&uid(user), "beforeCreate"));
        ("/firebase/before-create".to_owned(), jwt_body(&token))
    })
    .await;
    let first_wave_took = started.elapsed();

    // Sign-ins: users who got the claim present it (nothing to do); the others reconcile.
    let ids: Arc<HashMap<usize, String>> = Arc::new(
        first
            .iter()
            .filter_map(|o| o.id.clone().map(|id| (o.user, id)))
            .collect(),
    );
    let known = ids.clone();
    let started = Instant::now();
    let second = wave(&containers, move |user| {
        let mut c = claims(&uid(user), "beforeSignIn");
        if let Some(id) = known.get(&user) {
            c["user_record"]["custom_claims"] = json!({ "zuplo_consumer_id": id });
        }
        ("/firebase/before-sign-in".to_owned(), jwt_body(&sign(&c)))
    })
    .await;
    let second_wave_took = started.elapsed();

    // Never: an answer after the deadline, an error status under FAIL_MODE=open.
    for o in first.iter().chain(&second) {
        assert!(
            o.elapsed <= BUDGET + SLACK,
            "user {} answered after {:?}",
            o.user,
            o.elapsed
        );
        assert_eq!(o.status, 200, "user {}", o.user);
    }
    // Never: two consumers for one user, or a user told two different ids.
    let consumers = h.zuplo.consumers();
    let names: HashSet<_> = consumers.iter().map(|c| c.name.clone()).collect();
    assert_eq!(names.len(), consumers.len(), "duplicate consumer names");
    let mut per_user: HashMap<String, usize> = HashMap::new();
    for c in &consumers {
        *per_user
            .entry(c.metadata["userId"].as_str().unwrap_or("").to_owned())
            .or_default() += 1;
    }
    assert!(
        per_user.values().all(|n| *n == 1),
        "a user has two consumers"
    );
    let by_user: HashMap<&str, &str> = consumers
        .iter()
        .map(|c| (c.metadata["userId"].as_str().unwrap_or(""), c.id.as_str()))
        .collect();
    for o in first.iter().chain(&second) {
        if let Some(id) = &o.id {
            assert_eq!(
                by_user.get(uid(o.user).as_str()),
                Some(&id.as_str()),
                "user {}",
                o.user
            );
        }
    }

    let reconciled = second
        .iter()
        .filter(|o| o.id.is_some() && !ids.contains_key(&o.user))
        .count();
    let without = USERS - ids.len() - reconciled;
    let throttled = h.zuplo.calls()[calls_before..]
        .iter()
        .filter(|c| c.status == 429)
        .count();
    let mut latencies: Vec<Duration> = first.iter().map(|o| o.elapsed).collect();
    latencies.sort();
    println!(
        "burst: {USERS} users, {CALLERS} callers, Zuplo limited to {ZUPLO_PER_SECOND}/s\n\
         - consumer ID on the first call: {} ({:.1}%), sign-up wave took {:.1} s\n\
         - reconciled on sign-in: {reconciled}, sign-in wave took {:.1} s\n\
         - still without a consumer: {without}\n\
         - consumers in Zuplo: {}, duplicates: 0, answers after the deadline: 0\n\
         - Zuplo calls: {} ({throttled} answered 429)\n\
         - sign-up latency p50 {:?}, p99 {:?}, max {:?}",
        ids.len(),
        100.0 * ids.len() as f64 / USERS as f64,
        first_wave_took.as_secs_f64(),
        second_wave_took.as_secs_f64(),
        consumers.len(),
        h.zuplo_calls() - calls_before,
        percentile(&latencies, 0.5),
        percentile(&latencies, 0.99),
        latencies[latencies.len() - 1],
    );
    // Every user got a consumer once all is said and done, exactly one each.
    assert_eq!(without, 0);
    assert_eq!(consumers.len(), USERS);
}
