//! The caller's deadline is never missed, whatever the dependencies do: faults are
//! injected through the stand-ins (Zuplo delays, errors, dropped connections; Secrets
//! Manager and the certificate endpoint going down), over loopback, and every answer
//! must arrive within the route's budget (+50 ms of slack for the test's own scheduling)
//! with the body its FAIL_MODE promises.

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use common::*;
use serde_json::{Value, json};
use zuplo_standin::{Fault, FaultAction};

const SLACK: Duration = Duration::from_millis(50);
const FIREBASE_BUDGET: Duration = Duration::from_millis(6000);
const SUPABASE_BUDGET: Duration = Duration::from_millis(4000);

#[derive(Debug, Clone, Copy, PartialEq)]
enum Route {
    BeforeCreate,
    BeforeSignIn,
    AccessToken,
}

impl Route {
    fn budget(self) -> Duration {
        match self {
            Route::AccessToken => SUPABASE_BUDGET,
            _ => FIREBASE_BUDGET,
        }
    }
}

/// Sends one request for a new user on `route`; returns the answer, how long it took,
/// and the consumer ID in it (if any).
async fn call(h: &Harness, route: Route, user: &str) -> (Answer, Duration, Option<String>) {
    let started = Instant::now();
    let answer = match route {
        Route::BeforeCreate => {
            let body = jwt_body(&sign(&claims(user, "beforeCreate")));
            h.send(request(
                "POST",
                "/firebase/before-create",
                &body,
                "application/json",
            ))
            .await
        }
        Route::BeforeSignIn => {
            let body = jwt_body(&sign(&claims(user, "beforeSignIn")));
            h.send(request(
                "POST",
                "/firebase/before-sign-in",
                &body,
                "application/json",
            ))
            .await
        }
        Route::AccessToken => {
            let body = access_token_body(user, &supabase_claims(user), "password");
            h.supabase(CAT, &body).await
        }
    };
    let elapsed = started.elapsed();
    let id = answer
        .json
        .pointer("/userRecord/customClaims/zuplo_consumer_id")
        .or_else(|| answer.json.pointer("/claims/zuplo_consumer_id"))
        .and_then(Value::as_str)
        .map(str::to_owned);
    (answer, elapsed, id)
}

/// The body FAIL_MODE promises when no consumer could be provisioned.
fn assert_failed_per_mode(route: Route, mode: &str, answer: &Answer, case: &str) {
    match (route, mode) {
        (Route::AccessToken, "open") => {
            assert_eq!(answer.status, 200, "{case}");
            supabase_accepts_claims(answer).unwrap_or_else(|e| panic!("{case}: {e}"));
            assert!(
                answer.json["claims"].get("zuplo_consumer_id").is_none(),
                "{case}"
            );
        }
        (Route::AccessToken, _) => {
            assert_eq!(answer.status, 200, "{case}");
            assert_eq!(answer.json["error"]["http_code"], 503, "{case}");
        }
        (_, "open") => {
            assert_eq!((answer.status, &answer.json), (200, &json!({})), "{case}")
        }
        (_, _) => {
            assert_eq!(answer.status, 503, "{case}");
            assert_eq!(answer.json["error"]["status"], "UNAVAILABLE", "{case}");
        }
    }
}

fn env(mode: &str) -> Vec<(&'static str, String)> {
    vec![("FAIL_MODE", mode.into())]
}

async fn warm(mode: &str) -> Harness {
    Harness::with(Options {
        env: env(mode),
        warm_up: true,
        ..Options::default()
    })
    .await
}

fn delay(ms: u64) -> Fault {
    Fault {
        method: None,
        delay_ms: ms,
        action: FaultAction::Pass,
    }
}

fn status(status: u16, retry_after: Option<u64>) -> Fault {
    Fault {
        method: None,
        delay_ms: 0,
        action: FaultAction::Status {
            status,
            retry_after,
        },
    }
}

fn action(method: &str, action: FaultAction) -> Fault {
    Fault {
        method: Some(method.into()),
        delay_ms: 0,
        action,
    }
}

#[tokio::test]
async fn every_route_answers_within_its_budget_whatever_zuplo_delays() {
    let mut cases = Vec::new();
    for delay_s in [0u64, 1, 3, 5, 10, 30] {
        for route in [Route::BeforeCreate, Route::BeforeSignIn, Route::AccessToken] {
            for mode in ["open", "closed"] {
                let h = warm(mode).await;
                h.zuplo.push_fault(delay(delay_s * 1000));
                cases.push((delay_s, route, mode, h));
            }
        }
    }
    // All at once: each case is independent, and together they take one budget, not 36.
    let runs: Vec<_> = cases
        .into_iter()
        .map(|(delay_s, route, mode, h)| {
            tokio::spawn(async move {
                let user = format!("slow-{delay_s}-{route:?}-{mode}").to_lowercase();
                let (answer, elapsed, id) = call(&h, route, &user).await;
                (delay_s, route, mode, answer, elapsed, id)
            })
        })
        .collect();
    let mut lines = Vec::new();
    for run in runs {
        let (delay_s, route, mode, answer, elapsed, id) = run.await.expect("no panic");
        let case = format!("{route:?} {mode} delay {delay_s}s: {}", answer.text);
        assert!(
            elapsed <= route.budget() + SLACK,
            "{case}: answered after {elapsed:?}"
        );
        // Provisioning fits when the delay leaves a comfortable second of the budget.
        if Duration::from_secs(delay_s) + Duration::from_secs(1) <= route.budget() {
            assert!(id.is_some(), "{case}");
        } else {
            assert!(id.is_none(), "{case}");
            assert_failed_per_mode(route, mode, &answer, &case);
        }
        lines.push(format!(
            "{route:?}/{mode}/{delay_s}s: {} ms",
            elapsed.as_millis()
        ));
    }
    println!("{}", lines.join("\n"));
}

#[tokio::test]
async fn a_429_with_retry_after_1_is_waited_for_and_provisioned() {
    for route in [Route::BeforeCreate, Route::AccessToken] {
        let h = warm("closed").await;
        h.zuplo.push_fault(status(429, Some(1)));
        let (answer, elapsed, id) = call(&h, route, "throttled").await;
        assert!(id.is_some(), "{route:?}: {}", answer.text);
        assert!(elapsed >= Duration::from_secs(1), "{elapsed:?}");
        assert!(elapsed <= route.budget() + SLACK);
        assert_eq!(h.zuplo.consumers().len(), 1);
    }
}

#[tokio::test]
async fn a_429_with_retry_after_30_is_not_waited_for() {
    for route in [Route::BeforeCreate, Route::AccessToken] {
        for mode in ["open", "closed"] {
            let h = warm(mode).await;
            h.zuplo.push_fault(status(429, Some(30)));
            let before = h.zuplo_calls();
            let (answer, elapsed, id) = call(&h, route, "throttled-long").await;
            assert!(id.is_none());
            assert_failed_per_mode(route, mode, &answer, &format!("{route:?} {mode}"));
            // Answered at once, not at the end of the budget.
            assert!(elapsed < Duration::from_secs(1), "{elapsed:?}");
            assert_eq!(h.zuplo_calls() - before, 1);
        }
    }
}

#[tokio::test]
async fn server_errors_then_success_provision_one_consumer() {
    let h = warm("closed").await;
    for code in [500, 502, 503] {
        h.zuplo.push_fault(status(code, None));
    }
    let (answer, elapsed, id) = call(&h, Route::BeforeCreate, "flaky").await;
    assert!(id.is_some(), "{}", answer.text);
    assert!(elapsed <= FIREBASE_BUDGET);
    let statuses: Vec<u16> = h.zuplo.calls().iter().map(|c| c.status).collect();
    // The warm-up's who-am-i, then three failures and the create.
    assert_eq!(&statuses[statuses.len() - 4..], &[500, 502, 503, 200]);
    assert_eq!(h.zuplo.consumers().len(), 1);
}

#[tokio::test]
async fn a_client_error_is_not_retried() {
    let h = warm("closed").await;
    h.zuplo.push_fault(status(400, None));
    let before = h.zuplo_calls();
    let (answer, _, id) = call(&h, Route::AccessToken, "bad-request").await;
    assert!(id.is_none());
    assert_eq!(answer.json["error"]["http_code"], 503);
    assert_eq!(h.zuplo_calls() - before, 1);
}

#[tokio::test]
async fn a_reset_connection_is_retried() {
    let h = warm("closed").await;
    h.zuplo
        .push_fault(action("POST", FaultAction::DropConnection));
    let (answer, _, id) = call(&h, Route::AccessToken, "reset").await;
    assert!(id.is_some(), "{}", answer.text);
    assert_eq!(h.zuplo.consumers().len(), 1);
}

#[tokio::test]
async fn a_malformed_answer_is_retried() {
    let h = warm("closed").await;
    h.zuplo
        .push_fault(action("POST", FaultAction::MalformedBody));
    let (answer, _, id) = call(&h, Route::BeforeCreate, "garbled").await;
    assert!(id.is_some(), "{}", answer.text);
    let consumers = h.zuplo.consumers();
    assert_eq!(consumers.len(), 1);
    assert_eq!(id.as_deref(), Some(consumers[0].id.as_str()));
}

#[tokio::test]
async fn a_lost_answer_after_the_create_ends_with_the_same_single_consumer() {
    for route in [Route::BeforeCreate, Route::AccessToken] {
        let h = warm("closed").await;
        h.zuplo
            .push_fault(action("POST", FaultAction::DropAfterWrite));
        let (answer, _, id) = call(&h, route, "lost-answer").await;
        let consumers = h.zuplo.consumers();
        assert_eq!(consumers.len(), 1, "{route:?}");
        assert_eq!(
            id.as_deref(),
            Some(consumers[0].id.as_str()),
            "{}",
            answer.text
        );
        // The create that lost its answer, the retry's 409, and the lookup.
        let tail: Vec<(String, u16)> = h
            .zuplo
            .calls()
            .iter()
            .rev()
            .take(3)
            .rev()
            .map(|c| (c.method.clone(), c.status))
            .collect();
        assert_eq!(
            tail,
            vec![
                ("POST".to_owned(), 0),
                ("POST".to_owned(), 409),
                ("GET".to_owned(), 200)
            ]
        );
    }
}

#[tokio::test]
async fn a_409_whose_lookup_keeps_failing_fails_per_mode_in_budget() {
    for mode in ["open", "closed"] {
        // No memory, so the second request goes to Zuplo again.
        let h = Harness::with(Options {
            env: vec![
                ("FAIL_MODE", mode.into()),
                ("CONSUMER_CACHE_TTL_SECONDS", "0".into()),
            ],
            warm_up: true,
            ..Options::default()
        })
        .await;
        let (_, _, first) = call(&h, Route::BeforeCreate, "conflicted").await;
        assert!(first.is_some());
        for _ in 0..10 {
            h.zuplo.push_fault(Fault {
                method: Some("GET".into()),
                ..status(500, None)
            });
        }
        let (answer, elapsed, id) = call(&h, Route::BeforeCreate, "conflicted").await;
        assert!(id.is_none());
        assert_failed_per_mode(Route::BeforeCreate, mode, &answer, mode);
        assert!(elapsed <= FIREBASE_BUDGET + SLACK);
        assert_eq!(h.zuplo.consumers().len(), 1);
    }
}

#[tokio::test]
async fn secrets_manager_down_after_init_the_cached_token_still_serves() {
    let h = Harness::with(Options {
        env: vec![
            ("FAIL_MODE", "closed".into()),
            ("SECRET_TTL_SECONDS", "1".into()),
        ],
        warm_up: true,
        ..Options::default()
    })
    .await;
    h.secrets.set_down(true);
    tokio::time::sleep(Duration::from_millis(1100)).await;
    for (route, user) in [
        (Route::BeforeCreate, "stale-a"),
        (Route::AccessToken, "stale-b"),
    ] {
        let (answer, _, id) = call(&h, route, user).await;
        assert!(id.is_some(), "{route:?}: {}", answer.text);
    }
    // One failed refresh, then the stale copy is used without asking again for a while.
    let calls = h.secrets.calls();
    call(&h, Route::BeforeCreate, "stale-c").await;
    assert_eq!(h.secrets.calls(), calls);
}

#[tokio::test]
async fn without_a_grace_period_an_expired_secret_is_not_used() {
    let h = Harness::with(Options {
        env: vec![
            ("FAIL_MODE", "closed".into()),
            ("SECRET_TTL_SECONDS", "1".into()),
            ("SECRET_STALE_GRACE_SECONDS", "0".into()),
        ],
        warm_up: true,
        ..Options::default()
    })
    .await;
    h.secrets.set_down(true);
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let (answer, _, id) = call(&h, Route::BeforeCreate, "no-grace").await;
    assert!(id.is_none());
    assert_failed_per_mode(Route::BeforeCreate, "closed", &answer, "no grace");
    assert_eq!(h.zuplo_calls(), 1, "only the warm-up's who-am-i");
}

#[tokio::test]
async fn secrets_manager_down_at_init_is_retried_lazily() {
    for mode in ["open", "closed"] {
        let h = Harness::with(Options {
            env: env(mode),
            warm_up: true,
            secrets_down: true,
            ..Options::default()
        })
        .await;
        // Init survived; the first request tries again (it is not held back by init's
        // failure) and fails per FAIL_MODE. After that, with nothing cached, failed
        // reads are repeated at most once a second.
        let before = h.secrets.calls();
        let (answer, elapsed, id) = call(&h, Route::BeforeCreate, "lazy").await;
        assert!(
            h.secrets.calls() > before,
            "the first request read the secret again"
        );
        assert!(id.is_none());
        assert_failed_per_mode(Route::BeforeCreate, mode, &answer, mode);
        assert!(elapsed <= FIREBASE_BUDGET + SLACK);
        // Supabase cannot even verify the request without the secret.
        let (answer, _, _) = call(&h, Route::AccessToken, "lazy").await;
        assert_eq!(answer.status, 503, "{}", answer.text);
        assert_eq!(h.zuplo_calls(), 0);

        h.secrets.set_down(false);
        tokio::time::sleep(Duration::from_millis(1100)).await;
        let (answer, _, id) = call(&h, Route::BeforeCreate, "lazy").await;
        assert!(id.is_some(), "{mode}: {}", answer.text);
        let (_, _, id) = call(&h, Route::AccessToken, "lazy-sb").await;
        assert!(id.is_some());
    }
}

#[tokio::test]
async fn certificate_endpoint_down_after_init_cached_certificates_still_verify() {
    let h = Harness::with(Options {
        env: env("closed"),
        warm_up: true,
        certs_max_age: 1,
        ..Options::default()
    })
    .await;
    h.certs.set_down(true);
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let (answer, _, id) = call(&h, Route::BeforeCreate, "certs-stale").await;
    assert!(id.is_some(), "{}", answer.text);
    // A kid the cached set does not know cannot be verified while the endpoint is down.
    let forged = sign_with(
        &claims("certs-unknown", "beforeCreate"),
        OTHER_KEY,
        Some("rotated-in-kid"),
    );
    let (status, body) = h.before_create(&forged).await;
    assert_eq!(status, 401, "{body}");
    assert_eq!(h.zuplo.consumers().len(), 1);
}

#[tokio::test]
async fn without_a_grace_period_expired_certificates_are_not_used() {
    let h = Harness::with(Options {
        env: vec![
            ("FAIL_MODE", "open".into()),
            ("CERTS_STALE_GRACE_SECONDS", "0".into()),
        ],
        warm_up: true,
        certs_max_age: 1,
        ..Options::default()
    })
    .await;
    h.certs.set_down(true);
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let (status, body) = h
        .before_create(&sign(&claims("certs-expired", "beforeCreate")))
        .await;
    assert_eq!(status, 401, "{body}");
    assert!(h.zuplo.consumers().is_empty());
}

#[tokio::test]
async fn the_first_request_after_a_cold_start_pays_for_the_init_time() {
    // Init takes 500 ms (a slow Secrets Manager), and the caller waits through it.
    let h = Harness::with(Options {
        env: vec![("FIREBASE_BUDGET_MS", "1500".into())],
        warm_up: true,
        cold: true,
        secrets_delay_ms: 500,
        ..Options::default()
    })
    .await;
    h.zuplo.push_fault(delay(10_000));
    let (answer, first, _) = call(&h, Route::BeforeCreate, "cold-1").await;
    assert_eq!(answer.json, json!({}));
    assert!(first <= Duration::from_millis(1000) + SLACK, "{first:?}");
    // Later requests get the whole budget.
    h.zuplo.push_fault(delay(10_000));
    let (_, second, _) = call(&h, Route::BeforeCreate, "cold-2").await;
    assert!(second >= Duration::from_millis(1450), "{second:?}");
    assert!(second <= Duration::from_millis(1500) + SLACK, "{second:?}");
}

#[tokio::test]
async fn a_container_started_ahead_of_demand_gives_its_first_request_the_whole_budget() {
    let h = Harness::with(Options {
        env: vec![("FIREBASE_BUDGET_MS", "1500".into())],
        warm_up: true,
        cold: true,
        secrets_delay_ms: 500,
        ..Options::default()
    })
    .await;
    // Nobody was waiting: the first request comes well after init.
    tokio::time::sleep(Duration::from_millis(700)).await;
    h.zuplo.push_fault(delay(10_000));
    let (answer, first, _) = call(&h, Route::BeforeCreate, "prewarmed").await;
    assert_eq!(answer.json, json!({}));
    assert!(first >= Duration::from_millis(1450), "{first:?}");
    assert!(first <= Duration::from_millis(1500) + SLACK, "{first:?}");
}

#[tokio::test]
async fn a_lambda_deadline_shorter_than_the_budget_wins() {
    // The invocation has 1 s left: the answer must come before that, minus the margin.
    let h = Arc::new(warm("open").await);
    h.zuplo.push_fault(delay(10_000));
    let body = jwt_body(&sign(&claims("short-lambda", "beforeCreate")));
    let req = request("POST", "/firebase/before-create", &body, "application/json");
    let started = Instant::now();
    let answer = common::answer(
        zuplo_auth_hooks::entry::handle(
            &h.app,
            lambda_runtime::LambdaEvent::new(req, common::context(1000)),
        )
        .await,
    );
    let elapsed = started.elapsed();
    assert_eq!((answer.status, answer.json), (200, json!({})));
    assert!(elapsed <= Duration::from_millis(800) + SLACK, "{elapsed:?}");
    assert!(elapsed >= Duration::from_millis(700), "{elapsed:?}");
}
