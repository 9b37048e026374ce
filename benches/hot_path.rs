//! In-process latency of the function's own work, with every dependency on loopback
//! and answering at once: Firebase token verification, Supabase webhook verification,
//! and whole requests (HTTP and direct invocations) through the handler. Prints p50/p99
//! per operation.
//!
//! Run with `scripts/bench.sh` (which starts moto), or
//! `MOTO_URL=http://127.0.0.1:PORT cargo bench --bench hot_path [-- --quick]`.
//! A plain loop with `Instant`, not criterion: the figures wanted are latency
//! percentiles of a request, and this keeps the build free of a benchmark framework.

#[path = "../tests/common/mod.rs"]
mod common;

use std::hint::black_box;
use std::time::{Duration, Instant, SystemTime};

use common::*;
use zuplo_auth_hooks::deadline::Deadline;
use zuplo_auth_hooks::providers::firebase::EventType;
use zuplo_auth_hooks::providers::firebase::certs::CertCache;
use zuplo_auth_hooks::providers::firebase::token::TokenVerifier;
use zuplo_auth_hooks::verify::standard_webhooks::WebhookKeys;

struct Figures {
    name: &'static str,
    samples: Vec<Duration>,
}

impl Figures {
    fn line(&mut self) -> String {
        self.samples.sort();
        let at = |p: f64| self.samples[((self.samples.len() - 1) as f64 * p).round() as usize];
        format!(
            "| {:<58} | {:>7} | {:>10.1} | {:>10.1} |",
            self.name,
            self.samples.len(),
            at(0.5).as_secs_f64() * 1e6,
            at(0.99).as_secs_f64() * 1e6
        )
    }
}

async fn measure<F, Fut>(name: &'static str, iterations: usize, mut op: F) -> Figures
where
    F: FnMut(usize) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    // Warm caches, connection pools and branch predictors first.
    for i in 0..iterations / 10 + 1 {
        op(usize::MAX - i).await;
    }
    let mut samples = Vec::with_capacity(iterations);
    for i in 0..iterations {
        let started = Instant::now();
        op(i).await;
        samples.push(started.elapsed());
    }
    Figures { name, samples }
}

fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    let n = if quick { 300 } else { 3000 };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    let mut results = runtime.block_on(run(n));
    println!("\n| operation | n | p50 µs | p99 µs |\n|---|---:|---:|---:|");
    for f in &mut results {
        println!("{}", f.line());
    }
}

async fn run(n: usize) -> Vec<Figures> {
    let mut out = Vec::new();

    // Token verification alone, certificates cached.
    let certs = CertServer::start().await;
    let verifier = TokenVerifier::new(
        CertCache::new(reqwest::Client::new(), certs.url.clone(), Duration::ZERO),
        PROJECT,
        vec![AUD_CREATE.to_owned()],
        false,
    );
    let token = sign(&claims("bench-user", "beforeCreate"));
    out.push(
        measure(
            "Firebase token verification (RS256, cached certs)",
            n,
            |_| {
                let (verifier, token) = (&verifier, &token);
                async move {
                    let deadline = Deadline::after(Duration::from_secs(5));
                    black_box(
                        verifier
                            .verify(token, EventType::BeforeCreate, deadline)
                            .await
                            .expect("valid token"),
                    );
                }
            },
        )
        .await,
    );

    // Webhook verification alone, over a typical access-token hook body.
    let keys = WebhookKeys::parse(HOOK_SECRET).expect("hook secret");
    let body = access_token_body("bench-user", &supabase_claims("bench-user"), "password");
    let t = now();
    let signature = webhook_signature(HOOK_SECRET, "msg_bench", t, &body);
    let ts = t.to_string();
    out.push(
        measure("Supabase webhook verification (HMAC-SHA256)", n, |_| {
            let (keys, body, signature, ts) = (&keys, &body, &signature, &ts);
            async move {
                let headers = [
                    ("webhook-id", "msg_bench"),
                    ("webhook-timestamp", ts.as_str()),
                    ("webhook-signature", signature.as_str()),
                ];
                keys.verify(&headers, body.as_bytes(), SystemTime::now())
                    .expect("valid signature");
            }
        })
        .await,
    );

    // Whole requests through the handler (routing, parsing, verification, provisioning).
    let h = Harness::with(Options {
        warm_up: true,
        ..Options::default()
    })
    .await;

    let mut provisioned = claims("bench-known", "beforeSignIn");
    provisioned["user_record"]["custom_claims"] =
        serde_json::json!({"zuplo_consumer_id": "csmr_bench"});
    let known = jwt_body(&sign(&provisioned));
    out.push(
        measure(
            "handler: Firebase beforeSignIn, claim present (no call)",
            n,
            |_| {
                let (h, known) = (&h, &known);
                async move {
                    let (status, _) = h.post("/firebase/before-sign-in", known).await;
                    assert_eq!(status, 200);
                }
            },
        )
        .await,
    );

    let refresh = access_token_body(
        "bench-cached",
        &supabase_claims("bench-cached"),
        "token_refresh",
    );
    out.push(
        measure(
            "handler: Supabase token refresh, cached user (no call)",
            n,
            |_| {
                let (h, refresh) = (&h, &refresh);
                async move {
                    let answer = h.supabase(CAT, refresh).await;
                    assert_eq!(answer.status, 200);
                }
            },
        )
        .await,
    );

    // A Cognito refresh of a user this container remembers: a direct invocation, no call.
    let pre_token: serde_json::Value = serde_json::from_str(include_str!(
        "../events/cognito-pre-token-generation-v2.json"
    ))
    .expect("sample event");
    out.push(
        measure(
            "handler: Cognito pre token generation, cached user (no call)",
            n,
            |_| {
                let (h, event) = (&h, pre_token.clone());
                async move {
                    let answer = invoke(&h.app, event).await.expect("an answer");
                    assert!(answer["response"]["claimsAndScopeOverrideDetails"].is_object());
                }
            },
        )
        .await,
    );

    // New users: one Zuplo create each. Tokens are signed beforehand so that the
    // test's own RSA signing is not measured.
    let tokens: Vec<String> = (0..n + n / 10 + 1)
        .map(|i| jwt_body(&sign(&claims(&format!("bench-new-{i}"), "beforeCreate"))))
        .collect();
    out.push(
        measure(
            "handler: Firebase beforeCreate, new user (1 Zuplo create)",
            n,
            |i| {
                // Warm-up calls count down from usize::MAX: give them the tokens after n.
                let index = if i > usize::MAX / 2 {
                    n + (usize::MAX - i)
                } else {
                    i
                };
                let body = &tokens[index];
                let h = &h;
                async move {
                    let (status, body) = h.post("/firebase/before-create", body).await;
                    assert_eq!(status, 200, "{body}");
                }
            },
        )
        .await,
    );

    // The stand-in's own share of the line above, to subtract.
    let client = reqwest::Client::new();
    let url = format!(
        "{}/v1/accounts/{ACCOUNT}/key-buckets/{BUCKET}/consumers?with-api-key=true",
        h.zuplo.url()
    );
    out.push(
        measure("Zuplo stand-in alone: one create over loopback", n, |i| {
            let (client, url) = (&client, &url);
            async move {
                let resp = client
                    .post(url)
                    .bearer_auth(ZUPLO_TOKEN)
                    .json(
                        &serde_json::json!({"name": format!("direct-{i}"), "description": "bench"}),
                    )
                    .send()
                    .await
                    .expect("stand-in");
                assert!(resp.status().is_success());
            }
        })
        .await,
    );
    out
}
