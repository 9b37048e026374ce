//! End-to-end behaviour of the stand-in over real HTTP, as a Clerk Backend API client sees it.

use std::time::{Duration, Instant};

use clerk_standin::{ClerkStandin, Fault, FaultAction, MetadataWrite, StandinConfig};
use reqwest::{Client, Response, StatusCode};
use serde_json::{Value, json};

const KEY: &str = "sk_test_standin_1";
const OTHER_KEY: &str = "sk_test_standin_2";
const API_VERSION: &str = "2026-05-12";

struct Harness {
    standin: ClerkStandin,
    client: Client,
}

async fn harness_with(config: StandinConfig) -> Harness {
    Harness {
        standin: ClerkStandin::start(config).await,
        client: Client::new(),
    }
}

async fn harness() -> Harness {
    harness_with(StandinConfig {
        secret_keys: vec![KEY.into(), OTHER_KEY.into()],
        ..StandinConfig::default()
    })
    .await
}

impl Harness {
    fn user_url(&self, id: &str) -> String {
        format!("{}/v1/users/{id}", self.standin.url())
    }

    fn control(&self, path: &str) -> String {
        format!("{}/__standin/{path}", self.standin.url())
    }

    /// A metadata write as the hook sends it: bearer key and API version header.
    async fn patch(&self, id: &str, body: Value) -> Response {
        self.patch_raw(id, body.to_string(), Some(KEY)).await
    }

    async fn patch_raw(&self, id: &str, body: String, key: Option<&str>) -> Response {
        let mut request = self
            .client
            .patch(format!("{}/metadata", self.user_url(id)))
            .header("clerk-api-version", API_VERSION)
            .header("content-type", "application/json")
            .body(body);
        if let Some(key) = key {
            request = request.bearer_auth(key);
        }
        request.send().await.unwrap()
    }

    async fn get_user(&self, id: &str) -> Response {
        self.client
            .get(self.user_url(id))
            .bearer_auth(KEY)
            .send()
            .await
            .unwrap()
    }

    async fn control_json(&self, path: &str) -> Value {
        self.client
            .get(self.control(path))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }
}

/// Asserts a Clerk error response and returns its first error entry.
async fn expect_error(response: Response, status: u16, code: &str) -> Value {
    assert_eq!(response.status().as_u16(), status);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/json")
    );
    let body: Value = response.json().await.unwrap();
    let trace = body["clerk_trace_id"].as_str().unwrap_or_default();
    assert!(!trace.is_empty(), "{body}");
    let first = body["errors"][0].clone();
    assert_eq!(first["code"], code, "{body}");
    assert!(first["message"].as_str().is_some_and(|m| !m.is_empty()));
    assert!(
        first["long_message"]
            .as_str()
            .is_some_and(|m| !m.is_empty())
    );
    first
}

async fn expect_user(response: Response) -> Value {
    assert_eq!(response.status(), StatusCode::OK);
    let user: Value = response.json().await.unwrap();
    assert_eq!(user["object"], "user");
    user
}

#[tokio::test]
async fn patch_deep_merges_and_null_deletes_at_any_level() {
    let h = harness().await;
    assert!(h.standin.add_user("user_1"));
    let before = h.standin.user("user_1").unwrap();
    assert_eq!(before["public_metadata"], json!({}));
    assert_eq!(before["private_metadata"], json!({}));
    assert_eq!(before["unsafe_metadata"], json!({}));

    let user = expect_user(
        h.patch(
            "user_1",
            json!({
                "public_metadata": {"zuplo_consumer_id": "csmr_1", "prefs": {"theme": "dark", "lang": "en"}},
                "private_metadata": {"note": "keep", "tmp": 1}
            }),
        )
        .await,
    )
    .await;
    assert_eq!(user["id"], "user_1");
    assert_eq!(
        user["public_metadata"],
        json!({"zuplo_consumer_id": "csmr_1", "prefs": {"theme": "dark", "lang": "en"}})
    );

    let user = expect_user(
        h.patch(
            "user_1",
            json!({
                "public_metadata": {"prefs": {"lang": null, "tz": "UTC"}, "tags": ["a"]},
                "private_metadata": {"tmp": null},
                "unsafe_metadata": {"seen": true}
            }),
        )
        .await,
    )
    .await;
    assert_eq!(
        user["public_metadata"],
        json!({"zuplo_consumer_id": "csmr_1", "prefs": {"theme": "dark", "tz": "UTC"}, "tags": ["a"]}),
        "nested objects merge, a nested null deletes, untouched keys stay"
    );
    assert_eq!(user["private_metadata"], json!({"note": "keep"}));
    assert_eq!(user["unsafe_metadata"], json!({"seen": true}));
    assert!(user["updated_at"].as_i64() > before["updated_at"].as_i64());
    assert_eq!(user["created_at"], before["created_at"]);

    // The write is stored: the library view and GET agree with the last response.
    assert_eq!(h.standin.user("user_1").unwrap(), user);
    assert_eq!(expect_user(h.get_user("user_1").await).await, user);

    // An empty object changes nothing but is still a valid write.
    let again = expect_user(h.patch("user_1", json!({})).await).await;
    assert_eq!(again["public_metadata"], user["public_metadata"]);
}

#[tokio::test]
async fn unknown_or_deleted_user_is_404() {
    let h = harness().await;
    let write = json!({"public_metadata": {"zuplo_consumer_id": "csmr_1"}});
    expect_error(
        h.patch("user_missing", write.clone()).await,
        404,
        "resource_not_found",
    )
    .await;
    expect_error(h.get_user("user_missing").await, 404, "resource_not_found").await;
    assert!(
        h.standin.user("user_missing").is_none(),
        "a 404 creates nothing"
    );

    h.standin.add_user("user_gone");
    assert!(h.standin.remove_user("user_gone"));
    assert!(!h.standin.remove_user("user_gone"));
    expect_error(
        h.patch("user_gone", write.clone()).await,
        404,
        "resource_not_found",
    )
    .await;

    assert_eq!(
        h.standin.metadata_writes(),
        vec![
            MetadataWrite {
                user_id: "user_missing".into(),
                body: write.clone(),
                status: 404
            },
            MetadataWrite {
                user_id: "user_gone".into(),
                body: write,
                status: 404
            },
        ]
    );
}

#[tokio::test]
async fn missing_or_wrong_key_is_401_and_changes_nothing() {
    let h = harness().await;
    h.standin.add_user("user_1");
    let body = json!({"public_metadata": {"x": 1}}).to_string();
    for key in [None, Some("sk_test_wrong"), Some("")] {
        let response = h.patch_raw("user_1", body.clone(), key).await;
        expect_error(response, 401, "authentication_invalid").await;
    }
    let basic = h
        .client
        .get(h.user_url("user_1"))
        .header("authorization", format!("Basic {KEY}"))
        .send()
        .await
        .unwrap();
    expect_error(basic, 401, "authentication_invalid").await;
    assert_eq!(
        h.standin.user("user_1").unwrap()["public_metadata"],
        json!({})
    );

    // Any configured key is accepted; rotating the keys revokes the old one.
    expect_user(h.patch_raw("user_1", body.clone(), Some(OTHER_KEY)).await).await;
    h.standin.set_secret_keys(vec!["sk_test_rotated".into()]);
    expect_error(
        h.patch_raw("user_1", body.clone(), Some(KEY)).await,
        401,
        "authentication_invalid",
    )
    .await;
    expect_user(h.patch_raw("user_1", body, Some("sk_test_rotated")).await).await;

    let statuses: Vec<u16> = h.standin.calls().iter().map(|c| c.status).collect();
    assert_eq!(statuses, [401, 401, 401, 401, 200, 401, 200]);
    let recorded = serde_json::to_string(&h.standin.calls()).unwrap()
        + &serde_json::to_string(&h.standin.metadata_writes()).unwrap();
    for key in [KEY, OTHER_KEY, "sk_test_wrong", "sk_test_rotated"] {
        assert!(!recorded.contains(key), "a key leaked into the records");
    }
}

#[tokio::test]
async fn invalid_bodies_are_400_or_422_and_change_nothing() {
    let h = harness().await;
    h.standin.add_user("user_1");

    let unknown = h
        .patch(
            "user_1",
            json!({"publicMetadata": {"x": 1}, "public_metadata": {"x": 1}}),
        )
        .await;
    let error = expect_error(unknown, 422, "form_param_unknown").await;
    assert_eq!(error["meta"]["param_name"], "publicMetadata");

    let mistyped = h
        .patch("user_1", json!({"public_metadata": "csmr_1"}))
        .await;
    let error = expect_error(mistyped, 422, "form_param_format_invalid").await;
    assert_eq!(error["meta"]["param_name"], "public_metadata");

    for body in ["{not json", "[]", "\"x\"", ""] {
        let response = h.patch_raw("user_1", body.to_owned(), Some(KEY)).await;
        expect_error(response, 400, "request_body_invalid").await;
    }
    assert_eq!(
        h.standin.user("user_1").unwrap()["public_metadata"],
        json!({})
    );

    let writes = h.standin.metadata_writes();
    assert_eq!(writes.len(), 6);
    assert_eq!(
        writes[2].body,
        json!("{not json"),
        "non-JSON is kept as text"
    );
    assert_eq!(
        writes.iter().map(|w| w.status).collect::<Vec<_>>(),
        [422, 422, 400, 400, 400, 400]
    );
}

#[tokio::test]
async fn default_limit_is_ten_writes_per_user_then_429() {
    let config = StandinConfig::default();
    assert_eq!(config.per_user_limit, 10);
    assert_eq!(config.window, Duration::from_secs(10));
    let h = harness().await;
    h.standin.add_user("user_1");
    h.standin.add_user("user_2");
    for n in 0..10 {
        let response = h
            .patch("user_1", json!({"public_metadata": {"n": n}}))
            .await;
        assert_eq!(response.status(), StatusCode::OK, "write {n}");
    }
    let limited = h
        .patch("user_1", json!({"public_metadata": {"n": 10}}))
        .await;
    let retry_after: u64 = limited.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=10).contains(&retry_after), "{retry_after}");
    expect_error(limited, 429, "rate_limit_exceeded").await;
    assert_eq!(h.standin.user("user_1").unwrap()["public_metadata"]["n"], 9);

    // The limit is per user, and reads are not limited.
    expect_user(h.patch("user_2", json!({})).await).await;
    expect_user(h.get_user("user_1").await).await;
}

#[tokio::test]
async fn write_succeeds_after_the_retry_after_of_a_429() {
    let h = harness_with(StandinConfig {
        secret_keys: vec![KEY.into()],
        per_user_limit: 2,
        window: Duration::from_secs(1),
    })
    .await;
    h.standin.add_user("user_1");
    expect_user(
        h.patch("user_1", json!({"public_metadata": {"n": 1}}))
            .await,
    )
    .await;
    // Writes that fail still use a slot: the limiter sits in front of the operation.
    expect_error(
        h.patch("user_1", json!({"bogus": 1})).await,
        422,
        "form_param_unknown",
    )
    .await;

    let limited = h
        .patch("user_1", json!({"public_metadata": {"n": 3}}))
        .await;
    assert_eq!(limited.headers()["retry-after"], "1");
    expect_error(limited, 429, "rate_limit_exceeded").await;

    tokio::time::sleep(Duration::from_secs(1)).await;
    let user = expect_user(
        h.patch("user_1", json!({"public_metadata": {"n": 4}}))
            .await,
    )
    .await;
    assert_eq!(user["public_metadata"]["n"], 4);
    let statuses: Vec<u16> = h
        .standin
        .metadata_writes()
        .iter()
        .map(|w| w.status)
        .collect();
    assert_eq!(statuses, [200, 422, 429, 200]);
}

#[tokio::test]
async fn status_fault_answers_a_clerk_error_without_state_change() {
    let h = harness().await;
    h.standin.add_user("user_1");
    h.standin.push_fault(Fault {
        method: Some("PATCH".into()),
        delay_ms: 0,
        action: FaultAction::Status {
            status: 503,
            retry_after: Some(2),
        },
    });
    // A GET does not match a PATCH fault and leaves it queued.
    expect_user(h.get_user("user_1").await).await;

    let write = json!({"public_metadata": {"zuplo_consumer_id": "csmr_1"}});
    let failed = h.patch("user_1", write.clone()).await;
    assert_eq!(failed.headers()["retry-after"], "2");
    expect_error(failed, 503, "internal_clerk_error").await;
    assert_eq!(
        h.standin.user("user_1").unwrap()["public_metadata"],
        json!({})
    );
    assert_eq!(
        h.standin.metadata_writes(),
        [MetadataWrite {
            user_id: "user_1".into(),
            body: write.clone(),
            status: 503
        }]
    );

    // Consumed: the retry goes through.
    let user = expect_user(h.patch("user_1", write).await).await;
    assert_eq!(user["public_metadata"]["zuplo_consumer_id"], "csmr_1");

    // A fault applies before auth, so it fails even a request with no key.
    h.standin.push_fault(Fault {
        action: FaultAction::Status {
            status: 429,
            retry_after: None,
        },
        ..Fault::default()
    });
    let unauthenticated = h.client.get(h.user_url("user_1")).send().await.unwrap();
    assert!(unauthenticated.headers().get("retry-after").is_none());
    expect_error(unauthenticated, 429, "rate_limit_exceeded").await;
}

#[tokio::test]
async fn faults_are_consumed_one_per_request_in_order() {
    let h = harness().await;
    h.standin.add_user("user_1");
    for status in [500, 502] {
        h.standin.push_fault(Fault {
            action: FaultAction::Status {
                status,
                retry_after: None,
            },
            ..Fault::default()
        });
    }
    let mut statuses = Vec::new();
    for _ in 0..3 {
        statuses.push(h.get_user("user_1").await.status().as_u16());
    }
    assert_eq!(statuses, [500, 502, 200]);
}

#[tokio::test]
async fn delay_fault_delays_then_passes() {
    let h = harness().await;
    h.standin.add_user("user_1");
    h.standin.push_fault(Fault {
        delay_ms: 300,
        ..Fault::default()
    });
    let started = Instant::now();
    let user = expect_user(
        h.patch("user_1", json!({"public_metadata": {"a": 1}}))
            .await,
    )
    .await;
    assert!(started.elapsed() >= Duration::from_millis(300));
    assert_eq!(user["public_metadata"]["a"], 1);

    // A client that gives up sooner sees a timeout.
    h.standin.push_fault(Fault {
        delay_ms: 2_000,
        ..Fault::default()
    });
    let error = h
        .client
        .get(h.user_url("user_1"))
        .bearer_auth(KEY)
        .timeout(Duration::from_millis(200))
        .send()
        .await
        .unwrap_err();
    assert!(error.is_timeout(), "{error}");
}

#[tokio::test]
async fn calls_record_method_path_status_and_api_version() {
    let h = harness().await;
    h.standin.add_user("user_1");
    h.patch("user_1", json!({})).await;
    h.client
        .get(format!(
            "{}?__clerk_api_version=2025-11-10",
            h.user_url("user_1")
        ))
        .bearer_auth(KEY)
        .send()
        .await
        .unwrap();
    h.client.get(h.user_url("user_1")).send().await.unwrap();

    let calls = h.standin.calls();
    let summary: Vec<_> = calls
        .iter()
        .map(|c| {
            (
                c.method.as_str(),
                c.path.as_str(),
                c.status,
                c.api_version.as_deref(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            ("PATCH", "/v1/users/user_1/metadata", 200, Some(API_VERSION)),
            ("GET", "/v1/users/user_1", 200, Some("2025-11-10")),
            ("GET", "/v1/users/user_1", 401, None),
        ]
    );
}

#[tokio::test]
async fn unmodelled_routes_are_501_and_wrong_methods_405() {
    let h = harness().await;
    h.standin.add_user("user_1");
    let base = h.standin.url();
    let put = h
        .client
        .put(format!("{base}/v1/users/user_1/metadata"))
        .bearer_auth(KEY)
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    expect_error(put, 501, "standin_route_not_modeled").await;
    let typo = h
        .client
        .patch(format!("{base}/v1/user/user_1/metadata"))
        .bearer_auth(KEY)
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    expect_error(typo, 501, "standin_route_not_modeled").await;
    let post = h
        .client
        .post(format!("{base}/v1/users/user_1/metadata"))
        .bearer_auth(KEY)
        .send()
        .await
        .unwrap();
    assert_eq!(post.headers()["allow"], "PATCH, PUT");
    expect_error(post, 405, "request_method_invalid").await;
}

#[tokio::test]
async fn auto_users_creates_unknown_user_ids_on_demand() {
    let h = harness().await;
    h.standin.set_auto_users(true);
    let user = expect_user(
        h.patch(
            "user_auto",
            json!({"public_metadata": {"zuplo_consumer_id": "csmr_9"}}),
        )
        .await,
    )
    .await;
    assert_eq!(user["id"], "user_auto");
    assert_eq!(user["public_metadata"]["zuplo_consumer_id"], "csmr_9");
    expect_user(h.get_user("user_seen_by_get").await).await;
    assert!(h.standin.user("user_seen_by_get").is_some());
    // Only Clerk-shaped ids are created.
    expect_error(h.get_user("someone").await, 404, "resource_not_found").await;
    h.standin.set_auto_users(false);
    expect_error(h.get_user("user_other").await, 404, "resource_not_found").await;
}

#[tokio::test]
async fn control_endpoints_work_over_http() {
    let h = harness().await;

    let created = h
        .client
        .post(h.control("users"))
        .json(&json!({"id": "user_c", "public_metadata": {"plan": "free", "nested": {"a": 1}}}))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), StatusCode::CREATED);
    let created: Value = created.json().await.unwrap();
    assert_eq!(created["id"], "user_c");
    let duplicate = h
        .client
        .post(h.control("users"))
        .json(&json!({"id": "user_c"}))
        .send()
        .await
        .unwrap();
    expect_error(duplicate, 409, "standin_control_invalid").await;
    let bad = h
        .client
        .post(h.control("users"))
        .json(&json!({"name": "user_c"}))
        .send()
        .await
        .unwrap();
    expect_error(bad, 400, "standin_control_invalid").await;

    // Seeded metadata is merged into like any other.
    let user = expect_user(
        h.patch("user_c", json!({"public_metadata": {"nested": {"b": 2}}}))
            .await,
    )
    .await;
    assert_eq!(
        user["public_metadata"],
        json!({"plan": "free", "nested": {"a": 1, "b": 2}})
    );

    let users = h.control_json("users").await;
    assert_eq!(users.as_array().unwrap().len(), 1);
    assert_eq!(users[0], user);

    let writes = h.control_json("writes").await;
    assert_eq!(
        writes,
        json!([{"user_id": "user_c", "body": {"public_metadata": {"nested": {"b": 2}}}, "status": 200}])
    );

    let response = h
        .client
        .post(h.control("faults"))
        .json(&json!({"method": "patch", "action": {"kind": "status", "status": 503, "retry_after": 4}}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    let faulted = h.patch("user_c", json!({})).await;
    assert_eq!(faulted.headers()["retry-after"], "4");
    expect_error(faulted, 503, "internal_clerk_error").await;
    for bad in [
        json!({"action": {"kind": "explode"}}),
        json!({"action": {"kind": "status", "status": 42}}),
        json!({"delay_ms": "soon"}),
    ] {
        let response = h
            .client
            .post(h.control("faults"))
            .json(&bad)
            .send()
            .await
            .unwrap();
        expect_error(response, 400, "standin_control_invalid").await;
    }

    let calls = h.control_json("calls").await;
    assert_eq!(
        calls,
        json!([
            {"method": "PATCH", "path": "/v1/users/user_c/metadata", "status": 200, "api_version": API_VERSION},
            {"method": "PATCH", "path": "/v1/users/user_c/metadata", "status": 503, "api_version": API_VERSION},
        ]),
        "control requests are never recorded"
    );

    let deleted = h
        .client
        .delete(h.control("users/user_c"))
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), StatusCode::NO_CONTENT);
    let again = h
        .client
        .delete(h.control("users/user_c"))
        .send()
        .await
        .unwrap();
    expect_error(again, 404, "resource_not_found").await;
    expect_error(h.get_user("user_c").await, 404, "resource_not_found").await;

    h.standin.push_fault(Fault {
        action: FaultAction::Status {
            status: 500,
            retry_after: None,
        },
        ..Fault::default()
    });
    h.standin.add_user("user_r");
    let reset = h.client.post(h.control("reset")).send().await.unwrap();
    assert_eq!(reset.status(), StatusCode::NO_CONTENT);
    assert!(h.standin.calls().is_empty());
    assert!(h.standin.metadata_writes().is_empty());
    assert_eq!(h.control_json("users").await, json!([]));
    // No fault left, and the keys are kept.
    h.standin.add_user("user_r");
    expect_user(h.get_user("user_r").await).await;

    let unknown = h.client.get(h.control("nope")).send().await.unwrap();
    expect_error(unknown, 404, "resource_not_found").await;
    assert_eq!(h.standin.calls().len(), 1, "only the GET after the reset");
}

#[tokio::test]
async fn reset_clears_rate_limit_windows() {
    let h = harness_with(StandinConfig {
        secret_keys: vec![KEY.into()],
        per_user_limit: 1,
        window: Duration::from_secs(60),
    })
    .await;
    h.standin.add_user("user_1");
    expect_user(h.patch("user_1", json!({})).await).await;
    let limited = h.patch("user_1", json!({})).await;
    assert_eq!(limited.headers()["retry-after"], "60");
    expect_error(limited, 429, "rate_limit_exceeded").await;
    h.standin.reset();
    h.standin.add_user("user_1");
    expect_user(h.patch("user_1", json!({})).await).await;
}

#[tokio::test]
async fn user_object_carries_clerks_required_fields() {
    let h = harness().await;
    h.standin.add_user("user_shape");
    let user = expect_user(h.get_user("user_shape").await).await;
    for field in [
        "id",
        "object",
        "username",
        "first_name",
        "last_name",
        "has_image",
        "primary_email_address_id",
        "email_addresses",
        "external_accounts",
        "public_metadata",
        "private_metadata",
        "unsafe_metadata",
        "external_id",
        "banned",
        "locked",
        "created_at",
        "updated_at",
    ] {
        assert!(user.get(field).is_some(), "{field} missing from {user}");
    }
    let created_at = user["created_at"].as_i64().unwrap();
    assert!(
        created_at > 1_700_000_000_000,
        "Unix milliseconds: {created_at}"
    );
}
