//! Every request is told exactly once: one log line (`request`, with the route, request
//! id, provider event id, consumer, outcome and time against the budget) and one
//! CloudWatch EMF document with the metric of its outcome. Driven through every route
//! and the main outcomes and faults.

mod common;

use common::*;
use serde_json::{Value, json};
use zuplo_standin::{Fault, FaultAction};

/// An event with the Lambda request id it is invoked under.
fn with_request_id(event: Value, id: &str) -> (Value, String) {
    (event, id.to_owned())
}

/// The metric names an EMF document publishes, by its directives.
fn metric_names(doc: &Value) -> Vec<String> {
    doc["_aws"]["CloudWatchMetrics"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|d| d["Metrics"].as_array().unwrap().iter())
        .map(|m| m["Name"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn each_request_gets_one_log_line_and_one_metrics_document() {
    let captured = capture_logs(tracing::Level::INFO);

    let h = Harness::with(Options {
        env: vec![("SIGNUP_ALLOWED_EMAIL_DOMAINS", "example.com".into())],
        warm_up: true,
        cold: true,
        ..Options::default()
    })
    .await;
    let firebase = |route: &str, jwt: String, id: &str| {
        with_request_id(
            request("POST", route, &jwt_body(&jwt), "application/json"),
            id,
        )
    };
    let supabase = |route: &str, body: String, id: &str| {
        with_request_id(signed_request(route, &body, HOOK_SECRET, now()), id)
    };
    let mut provisioned = claims("obs-b", "beforeSignIn");
    provisioned["user_record"]["custom_claims"] = json!({"zuplo_consumer_id": "csmr_x"});

    // (request, expected outcome, expected metric, expected Reason dimension)
    let mut expected: Vec<(&str, &str, Option<&str>)> = Vec::new();
    let mut send = async |(event, id): (Value, String),
                          outcome: &'static str,
                          metric: Option<&'static str>| {
        let mut context = context(10_000);
        context.request_id = id;
        zuplo_auth_hooks::entry::handle(&h.app, lambda_runtime::LambdaEvent::new(event, context))
            .await
            .unwrap();
        expected.push((outcome, metric.unwrap_or(""), None));
    };
    send(
        firebase(
            "/firebase/before-create",
            sign(&claims("obs-a", "beforeCreate")),
            "r1",
        ),
        "created",
        Some("ConsumerCreated"),
    )
    .await;
    send(
        firebase(
            "/firebase/before-create",
            sign(&claims("obs-a", "beforeCreate")),
            "r2",
        ),
        "cached",
        Some("ClaimCached"),
    )
    .await;
    send(
        firebase("/firebase/before-sign-in", sign(&provisioned), "r3"),
        "skipped",
        None,
    )
    .await;
    let cat = access_token_body("obs-c", &supabase_claims("obs-c"), "password");
    send(
        supabase(CAT, cat.clone(), "r4"),
        "created",
        Some("ConsumerCreated"),
    )
    .await;
    h.zuplo.push_fault(Fault {
        action: FaultAction::Status {
            status: 400,
            retry_after: None,
        },
        ..Fault::default()
    });
    let cat2 = access_token_body("obs-d", &supabase_claims("obs-d"), "password");
    send(
        supabase(CAT, cat2, "r5"),
        "failed_open",
        Some("ProvisionFailedOpen"),
    )
    .await;
    send(
        supabase(BUC, before_user_created_body("ok@example.com", false), "r6"),
        "allowed",
        None,
    )
    .await;
    send(
        supabase(BUC, before_user_created_body("no@evil.test", false), "r7"),
        "refused",
        None,
    )
    .await;
    // Rejections, each with its Reason dimension.
    let forged = signed_request(
        CAT,
        &cat,
        "v1,whsec_Zm9yZ2VkLXNlY3JldC1vZi0zMi1ieXRlcy1sb25nISE=",
        now(),
    );
    send(
        with_request_id(forged, "r8"),
        "rejected",
        Some("RequestRejected"),
    )
    .await;
    send(
        firebase(
            "/firebase/before-create",
            sign_with(&claims("obs-e", "beforeCreate"), OTHER_KEY, Some(KID)),
            "r9",
        ),
        "rejected",
        Some("RequestRejected"),
    )
    .await;
    send(
        with_request_id(request("POST", "/nowhere", "{}", "application/json"), "r10"),
        "rejected",
        Some("RequestRejected"),
    )
    .await;
    let reasons = ["signature", "token", "route"];

    let docs = h.metrics();
    assert_eq!(docs.len(), expected.len(), "{docs:#?}");
    let mut rejected = 0;
    for (i, (doc, (outcome, metric, _))) in docs.iter().zip(&expected).enumerate() {
        let id = format!("r{}", i + 1);
        assert_eq!(doc["requestId"], id.as_str());
        assert_eq!(doc["outcome"], *outcome, "{id}: {doc}");
        let names = metric_names(doc);
        if !metric.is_empty() {
            assert!(names.contains(&metric.to_string()), "{id}: {names:?}");
            assert_eq!(doc[*metric], 1, "{id}");
        }
        // The first request of the container is its cold start; no other is.
        assert_eq!(doc.get("ColdStart").is_some(), i == 0, "{id}");
        if *outcome == "rejected" {
            assert_eq!(doc["Reason"], reasons[rejected], "{id}");
            rejected += 1;
        } else {
            let headroom = doc["DeadlineHeadroomMs"].as_u64().unwrap();
            assert!(headroom > 0 && headroom <= 6000, "{id}: {headroom}");
        }
        if matches!(*outcome, "created" | "failed_open") {
            assert!(doc["ZuploLatencyMs"].is_u64(), "{id}");
        } else {
            assert!(doc.get("ZuploLatencyMs").is_none(), "{id}");
        }
        // Route is a fixed name, never the raw path.
        let route = doc["Route"].as_str().unwrap();
        assert!(
            [
                "firebase/before-create",
                "firebase/before-sign-in",
                "supabase/custom-access-token",
                "supabase/before-user-created",
                "unknown"
            ]
            .contains(&route),
            "{route}"
        );
    }

    let logs = captured.text();
    let lines: Vec<&str> = logs.lines().filter(|l| l.contains(" request ")).collect();
    assert_eq!(lines.len(), expected.len(), "{logs}");
    for (i, (line, (outcome, _, _))) in lines.iter().zip(&expected).enumerate() {
        assert!(
            line.contains(&format!("request_id=\"r{}\"", i + 1))
                || line.contains(&format!("request_id=r{}", i + 1)),
            "{line}"
        );
        assert!(
            line.contains(&format!("outcome=\"{outcome}\""))
                || line.contains(&format!("outcome={outcome}")),
            "{line}"
        );
        assert!(line.contains("elapsed_ms="), "{line}");
        assert!(line.contains("budget_ms="), "{line}");
    }
    // The created consumer's name and id, and the Supabase invocation id, are in its line.
    let consumer = &h.zuplo.consumers()[0];
    assert!(lines[0].contains(&consumer.id), "{}", lines[0]);
    assert!(lines[0].contains(&consumer.name), "{}", lines[0]);
    assert!(
        lines[0].contains("event_id=\"evt-obs-a\"") || lines[0].contains("event_id=evt-obs-a"),
        "{}",
        lines[0]
    );
    assert!(lines[4].contains("reason="), "{}", lines[4]);
}
