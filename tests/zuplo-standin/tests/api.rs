//! End-to-end behaviour of the stand-in over real HTTP, as a client of it would see it.

use std::time::{Duration, Instant};

use reqwest::{Client, Response, StatusCode};
use serde_json::{Value, json};
use zuplo_standin::{Fault, FaultAction, Standin, StandinConfig, is_valid_key};

const TOKEN: &str = "test-token";
const ACCOUNT: &str = "acct_1";
const BUCKET: &str = "bucket-1";

struct Harness {
    standin: Standin,
    client: Client,
}

async fn harness() -> Harness {
    let standin = Standin::start(
        StandinConfig {
            account: ACCOUNT.into(),
            bucket: BUCKET.into(),
            tokens: vec![TOKEN.into()],
        },
        "127.0.0.1:0".parse().unwrap(),
    )
    .await
    .unwrap();
    Harness {
        standin,
        client: Client::new(),
    }
}

impl Harness {
    fn consumers_url(&self) -> String {
        format!(
            "{}/v1/accounts/{ACCOUNT}/key-buckets/{BUCKET}/consumers",
            self.standin.url()
        )
    }

    async fn create(&self, body: Value, with_key: bool) -> Response {
        self.client
            .post(format!("{}?with-api-key={with_key}", self.consumers_url()))
            .bearer_auth(TOKEN)
            .json(&body)
            .send()
            .await
            .unwrap()
    }

    async fn get(&self, path_and_query: &str) -> Response {
        self.client
            .get(format!("{}{path_and_query}", self.consumers_url()))
            .bearer_auth(TOKEN)
            .send()
            .await
            .unwrap()
    }
}

/// Asserts a problem response and returns its body.
async fn expect_problem(response: Response, status: u16) -> Value {
    assert_eq!(response.status().as_u16(), status);
    assert_eq!(
        response.headers()["content-type"],
        "application/problem+json"
    );
    let path = response.url().path().to_owned();
    let body: Value = response.json().await.unwrap();
    assert_eq!(
        body["type"],
        format!("https://httpproblems.com/http-status/{status}")
    );
    assert_eq!(body["status"], status);
    assert_eq!(body["instance"], path);
    assert!(body["detail"].as_str().is_some_and(|d| !d.is_empty()));
    body
}

fn is_timestamp(value: &Value) -> bool {
    let Some(s) = value.as_str() else {
        return false;
    };
    let b = s.as_bytes();
    s.len() == 24
        && b.iter().enumerate().all(|(i, c)| match i {
            4 | 7 => *c == b'-',
            10 => *c == b'T',
            13 | 16 => *c == b':',
            19 => *c == b'.',
            23 => *c == b'Z',
            _ => c.is_ascii_digit(),
        })
}

fn has_id(value: &Value, prefix: &str) -> bool {
    value
        .as_str()
        .and_then(|s| s.strip_prefix(prefix))
        .is_some_and(|rest| rest.len() == 24 && rest.bytes().all(|b| b.is_ascii_alphanumeric()))
}

#[tokio::test]
async fn create_with_key_returns_the_consumer_and_a_valid_key() {
    let h = harness().await;
    let response = h
        .create(
            json!({
                "name": "c-3f0c1c9e-6a4b-4d0e-9c53-0b8f3f2a9d11",
                "description": "Consumer for alice@example.com",
                "managers": ["alice@example.com"],
                "metadata": {"userId": "u1", "plan": "free", "n": 3, "nested": {"a": [1]}},
                "tags": {"userId": "u1"}
            }),
            true,
        )
        .await;
    assert_eq!(
        response.status(),
        StatusCode::OK,
        "Zuplo answers 200, not 201"
    );
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/json")
    );
    let body: Value = response.json().await.unwrap();
    assert!(has_id(&body["id"], "csmr_"), "{body}");
    assert_eq!(body["name"], "c-3f0c1c9e-6a4b-4d0e-9c53-0b8f3f2a9d11");
    assert_eq!(body["description"], "Consumer for alice@example.com");
    assert!(is_timestamp(&body["createdOn"]), "{body}");
    assert_eq!(body["createdOn"], body["updatedOn"]);
    assert_eq!(body["tags"], json!({"userId": "u1"}));
    assert_eq!(body["metadata"]["nested"], json!({"a": [1]}));
    let keys = body["apiKeys"].as_array().unwrap();
    assert_eq!(keys.len(), 1);
    let key = &keys[0];
    assert!(has_id(&key["id"], "key_"), "{key}");
    assert!(key["expiresOn"].is_null() && key.get("expiresOn").is_some());
    assert!(key["description"].is_null());
    assert!(is_timestamp(&key["createdOn"]) && is_timestamp(&key["updatedOn"]));
    let secret = key["key"].as_str().unwrap();
    assert_eq!(secret.len(), 46);
    assert!(is_valid_key(secret), "{secret}");
    let body32 = &secret[5..37];
    assert_eq!(
        &secret[38..],
        format!("{:08x}", crc32fast_ieee(body32.as_bytes()))
    );

    let stored = h.standin.consumers();
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].id, body["id"].as_str().unwrap());
    assert_eq!(stored[0].managers, ["alice@example.com"]);
    assert_eq!(stored[0].api_keys[0].key, secret);
    assert_eq!(stored[0].api_keys[0].id, key["id"].as_str().unwrap());
    assert_eq!(stored[0].tags["userId"], "u1");
}

/// An independent bitwise CRC-32 (IEEE, reflected, poly 0xEDB88320) to cross-check the key.
fn crc32fast_ieee(bytes: &[u8]) -> u32 {
    let mut crc = 0xFFFF_FFFFu32;
    for &b in bytes {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

#[test]
fn documentation_key_validates() {
    assert!(is_valid_key(
        "zpka_d67b7e241bb948758f415b79aa8ec822_2efb7009"
    ));
    assert_eq!(
        zuplo_standin::key_checksum("d67b7e241bb948758f415b79aa8ec822"),
        "2efb7009"
    );
    assert_eq!(
        crc32fast_ieee(b"d67b7e241bb948758f415b79aa8ec822"),
        0x2efb_7009
    );
}

#[tokio::test]
async fn create_without_key_has_no_api_keys_and_null_description() {
    let h = harness().await;
    let response = h.create(json!({"name": "plain"}), false).await;
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().await.unwrap();
    assert!(body.get("apiKeys").is_none(), "{body}");
    assert!(body["description"].is_null() && body.get("description").is_some());
    assert_eq!(body["tags"], json!({}));
    assert_eq!(body["metadata"], json!({}));
    assert!(h.standin.consumers()[0].api_keys.is_empty());
}

#[tokio::test]
async fn name_rules_are_enforced() {
    let h = harness().await;
    for name in [
        json!("Upper"),
        json!("org_123"),
        json!(""),
        json!("x".repeat(129)),
        json!("has space"),
        json!(12),
        json!(null),
    ] {
        let response = h.create(json!({ "name": name }), false).await;
        expect_problem(response, 400).await;
    }
    let response = h.create(json!({"description": "no name"}), false).await;
    expect_problem(response, 400).await;
    assert!(h.standin.consumers().is_empty());

    for name in ["x".repeat(128), "0-a-9".to_owned()] {
        let response = h.create(json!({ "name": name }), false).await;
        assert_eq!(response.status(), StatusCode::OK, "{name}");
    }
    assert_eq!(h.standin.consumers().len(), 2);
}

#[tokio::test]
async fn body_must_be_a_json_object() {
    let h = harness().await;
    for raw in ["[1]", "\"name\"", "{not json", ""] {
        let response = h
            .client
            .post(h.consumers_url())
            .bearer_auth(TOKEN)
            .header("content-type", "application/json")
            .body(raw)
            .send()
            .await
            .unwrap();
        expect_problem(response, 400).await;
    }
}

#[tokio::test]
async fn tags_metadata_and_managers_are_validated() {
    let h = harness().await;
    let six: Value = (0..6).map(|i| (format!("k{i}"), json!("v"))).collect();
    let five: Value = (0..5).map(|i| (format!("k{i}"), json!("v"))).collect();
    let bad = [
        json!({"name": "a", "tags": six}),
        json!({"name": "a", "tags": {"n": 1}}),
        json!({"name": "a", "tags": ["x"]}),
        json!({"name": "a", "metadata": "str"}),
        json!({"name": "a", "metadata": {"big": "x".repeat(1100)}}),
        json!({"name": "a", "managers": ["not-an-email"]}),
        json!({"name": "a", "managers": [{"email": "a@b.c"}]}),
        json!({"name": "a", "managers": ["a@b.c", {"email": "d@e.f", "sub": "s"}]}),
        json!({"name": "a", "managers": "a@b.c"}),
        json!({"name": "a", "description": 5}),
    ];
    for body in bad {
        let response = h.create(body.clone(), false).await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{body}");
    }
    assert!(h.standin.consumers().is_empty());

    let response = h
        .create(
            json!({"name": "ok", "tags": five, "managers": [{"email": "m@x.io", "sub": "sub-oauth2|1"}]}),
            false,
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let stored = &h.standin.consumers()[0];
    assert_eq!(stored.tags.len(), 5);
    assert_eq!(stored.managers, ["m@x.io"]);

    let body: Value = h
        .get("/ok?include-managers=true")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(body["managers"][0]["email"], "m@x.io");
    assert_eq!(body["managers"][0]["sub"], "sub-oauth2|1");
    assert!(has_id(&body["managers"][0]["id"], "eusr_"), "{body}");
}

#[tokio::test]
async fn duplicate_name_is_a_conflict() {
    let h = harness().await;
    assert_eq!(
        h.create(json!({"name": "dup"}), true).await.status(),
        StatusCode::OK
    );
    let problem = expect_problem(h.create(json!({"name": "dup"}), true).await, 409).await;
    assert_eq!(problem["title"], "Conflict");
    let stored = h.standin.consumers();
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].api_keys.len(), 1, "the loser minted no key");
}

#[tokio::test]
async fn bearer_token_is_required() {
    let h = harness().await;
    let url = h.consumers_url();
    let requests = [
        h.client.get(&url),
        h.client.get(&url).bearer_auth("wrong"),
        h.client.get(&url).header("authorization", TOKEN),
        h.client
            .get(&url)
            .header("authorization", format!("Basic {TOKEN}")),
    ];
    for request in requests {
        let problem = expect_problem(request.send().await.unwrap(), 401).await;
        assert_eq!(problem["title"], "Unauthorized");
    }
    let response = h
        .client
        .post(&url)
        .json(&json!({"name": "sneaky"}))
        .send()
        .await
        .unwrap();
    expect_problem(response, 401).await;
    assert!(h.standin.consumers().is_empty());

    h.standin.set_tokens(vec!["rotated".into()]);
    expect_problem(h.get("").await, 401).await;
    let response = h
        .client
        .get(&url)
        .bearer_auth("rotated")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
}

#[tokio::test]
async fn unknown_account_bucket_and_route_are_not_found() {
    let h = harness().await;
    let base = h.standin.url();
    for path in [
        format!("/v1/accounts/other/key-buckets/{BUCKET}/consumers"),
        format!("/v1/accounts/{ACCOUNT}/key-buckets/other/consumers"),
        "/v1/nothing-here".to_owned(),
        "/".to_owned(),
    ] {
        let response = h
            .client
            .get(format!("{base}{path}"))
            .bearer_auth(TOKEN)
            .send()
            .await
            .unwrap();
        let problem = expect_problem(response, 404).await;
        assert_eq!(problem["title"], "Not Found");
    }
    let response = h
        .client
        .post(format!(
            "{base}/v1/accounts/{ACCOUNT}/key-buckets/other/consumers"
        ))
        .bearer_auth(TOKEN)
        .json(&json!({"name": "x"}))
        .send()
        .await
        .unwrap();
    expect_problem(response, 404).await;
    assert!(h.standin.consumers().is_empty());
}

#[tokio::test]
async fn unsupported_methods_and_operations_are_problems() {
    let h = harness().await;
    h.create(json!({"name": "a"}), false).await;
    let response = h
        .client
        .put(h.consumers_url())
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    let allow = response.headers()["allow"].to_str().unwrap().to_owned();
    expect_problem(response, 405).await;
    assert_eq!(allow, "GET, POST");
    let response = h
        .client
        .post(format!("{}/a/roll-key", h.consumers_url()))
        .bearer_auth(TOKEN)
        .json(&json!({"expiresOn": "2030-01-01T00:00:00.000Z"}))
        .send()
        .await
        .unwrap();
    expect_problem(response, 501).await;
}

#[tokio::test]
async fn get_by_name_honours_key_format_and_tags() {
    let h = harness().await;
    let created: Value = h
        .create(
            json!({"name": "kf", "tags": {"userId": "u1", "plan": "free"}}),
            true,
        )
        .await
        .json()
        .await
        .unwrap();
    let secret = created["apiKeys"][0]["key"].as_str().unwrap().to_owned();

    let visible: Value = h
        .get("/kf?include-api-keys=true&key-format=visible")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(visible["apiKeys"][0]["key"], secret);
    assert_eq!(visible["id"], created["id"]);

    let masked: Value = h
        .get("/kf?include-api-keys=true&key-format=masked")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        masked["apiKeys"][0]["key"],
        format!("****{}", &secret[secret.len() - 8..])
    );

    let default_format: Value = h
        .get("/kf?include-api-keys=true")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        default_format["apiKeys"][0]["key"], masked["apiKeys"][0]["key"],
        "default is masked"
    );

    let none: Value = h
        .get("/kf?include-api-keys=true&key-format=none")
        .await
        .json()
        .await
        .unwrap();
    assert!(none["apiKeys"][0].get("key").is_none(), "{none}");
    assert_eq!(none["apiKeys"][0]["id"], created["apiKeys"][0]["id"]);

    let without: Value = h.get("/kf").await.json().await.unwrap();
    assert!(without.get("apiKeys").is_none(), "{without}");
    assert_eq!(without["name"], "kf");

    let matching = h
        .get("/kf?tag.userId=u1&tag.plan=free&include-api-keys=true&key-format=visible")
        .await;
    assert_eq!(matching.status(), StatusCode::OK);
    expect_problem(h.get("/kf?tag.userId=u2").await, 404).await;
    expect_problem(h.get("/kf?tag.userId=u1&tag.plan=gold").await, 404).await;
    expect_problem(h.get("/kf?tag.missing=x").await, 404).await;
    expect_problem(h.get("/absent").await, 404).await;
    expect_problem(h.get("/kf?key-format=plain").await, 400).await;
    expect_problem(h.get("/kf?include-api-keys=yes").await, 400).await;
}

#[tokio::test]
async fn list_paginates_and_filters() {
    let h = harness().await;
    for i in 0..7 {
        let plan = if i % 2 == 0 { "free" } else { "gold" };
        let response = h
            .create(
                json!({"name": format!("c{i}"), "tags": {"plan": plan, "team": if i < 4 { "a" } else { "b" }}}),
                true,
            )
            .await;
        assert_eq!(response.status(), StatusCode::OK);
    }

    let all: Value = h.get("").await.json().await.unwrap();
    assert_eq!(all["total"], 7);
    assert_eq!(all["limit"], 1000);
    assert_eq!(all["offset"], 0);
    let names: Vec<&str> = all["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["c0", "c1", "c2", "c3", "c4", "c5", "c6"]);
    assert!(all["data"][0].get("apiKeys").is_none());

    let trailing: Value = h.get("/?limit=2&offset=3").await.json().await.unwrap();
    assert_eq!(trailing["total"], 7);
    assert_eq!(trailing["limit"], 2);
    assert_eq!(trailing["offset"], 3);
    assert_eq!(trailing["data"][0]["name"], "c3");
    assert_eq!(trailing["data"][1]["name"], "c4");
    assert_eq!(trailing["data"].as_array().unwrap().len(), 2);

    let filtered: Value = h
        .get("?tag.plan=free&tag.team=a&include-api-keys=true&key-format=visible")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(filtered["total"], 2);
    assert_eq!(filtered["data"][0]["name"], "c0");
    assert_eq!(filtered["data"][1]["name"], "c2");
    assert!(is_valid_key(
        filtered["data"][0]["apiKeys"][0]["key"].as_str().unwrap()
    ));

    let clamped: Value = h.get("?limit=5000").await.json().await.unwrap();
    assert_eq!(clamped["limit"], 1000);
    let clamped: Value = h.get("?limit=0").await.json().await.unwrap();
    assert_eq!(clamped["limit"], 1);
    assert_eq!(clamped["data"].as_array().unwrap().len(), 1);
    let past_end: Value = h.get("?offset=50").await.json().await.unwrap();
    assert_eq!(past_end["data"], json!([]));
    assert_eq!(past_end["total"], 7);

    expect_problem(h.get("?offset=-1").await, 400).await;
    expect_problem(h.get("?limit=ten").await, 400).await;
}

#[tokio::test]
async fn delete_removes_and_then_404s() {
    let h = harness().await;
    h.create(json!({"name": "gone", "tags": {"userId": "u1"}}), true)
        .await;
    let delete = |query: &'static str| {
        h.client
            .delete(format!("{}/gone{query}", h.consumers_url()))
            .bearer_auth(TOKEN)
            .send()
    };
    expect_problem(delete("?tag.userId=other").await.unwrap(), 404).await;
    assert_eq!(h.standin.consumers().len(), 1, "tag mismatch keeps it");

    let response = delete("?tag.userId=u1").await.unwrap();
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    assert!(response.bytes().await.unwrap().is_empty());
    assert!(h.standin.consumers().is_empty());

    expect_problem(delete("").await.unwrap(), 404).await;
    expect_problem(h.get("/gone").await, 404).await;
    assert_eq!(
        h.create(json!({"name": "gone"}), false).await.status(),
        StatusCode::OK,
        "the name is free again"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_creates_of_one_name_yield_one_consumer() {
    let h = harness().await;
    let url = format!("{}?with-api-key=true", h.consumers_url());
    let tasks: Vec<_> = (0..20)
        .map(|_| {
            // Separate clients so the requests really use separate connections.
            let client = Client::new();
            let url = url.clone();
            tokio::spawn(async move {
                client
                    .post(url)
                    .bearer_auth(TOKEN)
                    .json(&json!({"name": "race"}))
                    .send()
                    .await
                    .unwrap()
                    .status()
                    .as_u16()
            })
        })
        .collect();
    let mut statuses = Vec::new();
    for task in tasks {
        statuses.push(task.await.unwrap());
    }
    statuses.sort_unstable();
    assert_eq!(statuses.iter().filter(|s| **s == 200).count(), 1);
    assert_eq!(statuses.iter().filter(|s| **s == 409).count(), 19);
    assert_eq!(h.standin.consumers().len(), 1);
    assert_eq!(h.standin.calls().len(), 20);
}

#[tokio::test]
async fn status_fault_answers_a_problem_without_state_change() {
    let h = harness().await;
    h.standin.push_fault(Fault {
        method: Some("POST".into()),
        delay_ms: 0,
        action: FaultAction::Status {
            status: 503,
            retry_after: Some(7),
        },
    });
    // A GET does not match a POST fault and leaves it queued.
    assert_eq!(h.get("").await.status(), StatusCode::OK);

    let response = h.create(json!({"name": "f"}), true).await;
    assert_eq!(response.headers()["retry-after"], "7");
    let problem = expect_problem(response, 503).await;
    assert_eq!(problem["title"], "Service Unavailable");
    assert!(h.standin.consumers().is_empty());

    // One-shot: the retry goes through.
    assert_eq!(
        h.create(json!({"name": "f"}), true).await.status(),
        StatusCode::OK
    );
    let statuses: Vec<u16> = h.standin.calls().iter().map(|c| c.status).collect();
    assert_eq!(statuses, [200, 503, 200]);
}

#[tokio::test]
async fn faults_are_consumed_in_order() {
    let h = harness().await;
    for status in [500, 502] {
        h.standin.push_fault(Fault {
            action: FaultAction::Status {
                status,
                retry_after: None,
            },
            ..Fault::default()
        });
    }
    let first = h.get("").await;
    assert!(first.headers().get("retry-after").is_none());
    expect_problem(first, 500).await;
    expect_problem(h.get("").await, 502).await;
    assert_eq!(h.get("").await.status(), StatusCode::OK);
}

#[tokio::test]
async fn malformed_body_fault_truncates_json() {
    let h = harness().await;
    h.standin.push_fault(Fault {
        action: FaultAction::MalformedBody,
        ..Fault::default()
    });
    let response = h.create(json!({"name": "m"}), true).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["content-type"], "application/json");
    let text = response.text().await.unwrap();
    assert_eq!(text, r#"{"id": "#);
    assert!(serde_json::from_str::<Value>(&text).is_err());
    assert!(h.standin.consumers().is_empty(), "no state change");
}

#[tokio::test]
async fn drop_connection_fault_fails_the_request_without_state_change() {
    let h = harness().await;
    h.standin.push_fault(Fault {
        action: FaultAction::DropConnection,
        ..Fault::default()
    });
    let error = h
        .client
        .post(format!("{}?with-api-key=true", h.consumers_url()))
        .bearer_auth(TOKEN)
        .json(&json!({"name": "d"}))
        .send()
        .await
        .unwrap_err();
    assert!(!error.is_status(), "{error:?}");
    assert!(h.standin.consumers().is_empty());
    let calls = h.standin.calls();
    assert_eq!(calls.len(), 1);
    assert_eq!(calls[0].status, 0);
    assert_eq!(calls[0].method, "POST");

    // The server keeps serving on fresh connections.
    assert_eq!(
        h.create(json!({"name": "d"}), true).await.status(),
        StatusCode::OK
    );
}

/// Below the HTTP client: the socket must close with not a single response byte written.
#[tokio::test]
async fn dropped_connections_write_no_bytes() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    let h = harness().await;
    let addr = h.standin.url().trim_start_matches("http://").to_owned();
    let body = r#"{"name":"raw"}"#;
    let request = format!(
        "POST /v1/accounts/{ACCOUNT}/key-buckets/{BUCKET}/consumers HTTP/1.1\r\n\
         host: {addr}\r\nauthorization: Bearer {TOKEN}\r\ncontent-type: application/json\r\n\
         content-length: {}\r\n\r\n{body}",
        body.len()
    );
    for (action, created) in [
        (FaultAction::DropConnection, 0),
        (FaultAction::DropAfterWrite, 1),
    ] {
        h.standin.push_fault(Fault {
            action,
            ..Fault::default()
        });
        let mut stream = tokio::net::TcpStream::connect(&addr).await.unwrap();
        stream.write_all(request.as_bytes()).await.unwrap();
        let mut received = Vec::new();
        let read = tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut received))
            .await
            .unwrap();
        // A clean close (Ok) or a reset (Err) are both fine; a response is not.
        assert!(
            received.is_empty(),
            "{read:?} {}",
            String::from_utf8_lossy(&received)
        );
        assert_eq!(h.standin.consumers().len(), created);
    }
}

#[tokio::test]
async fn drop_after_write_creates_then_fails_the_request() {
    let h = harness().await;
    h.standin.push_fault(Fault {
        method: Some("POST".into()),
        action: FaultAction::DropAfterWrite,
        ..Fault::default()
    });
    let result = h
        .client
        .post(format!("{}?with-api-key=true", h.consumers_url()))
        .bearer_auth(TOKEN)
        .json(&json!({"name": "daw", "tags": {"userId": "u1"}}))
        .send()
        .await;
    assert!(result.is_err(), "{result:?}");

    let stored = h.standin.consumers();
    assert_eq!(stored.len(), 1, "the write happened");
    assert_eq!(stored[0].api_keys.len(), 1);
    assert_eq!(h.standin.calls()[0].status, 0);

    // The client's recovery path: the retry conflicts, then the key is read back.
    expect_problem(h.create(json!({"name": "daw"}), true).await, 409).await;
    let body: Value = h
        .get("/daw?include-api-keys=true&key-format=visible&tag.userId=u1")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(body["apiKeys"][0]["key"], stored[0].api_keys[0].key);
}

#[tokio::test]
async fn delay_fault_delays_then_passes() {
    let h = harness().await;
    h.standin.push_fault(Fault {
        delay_ms: 300,
        ..Fault::default()
    });
    let started = Instant::now();
    let response = h.create(json!({"name": "slow"}), false).await;
    assert!(started.elapsed() >= Duration::from_millis(300));
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(h.standin.consumers().len(), 1);

    let started = Instant::now();
    h.get("").await;
    assert!(started.elapsed() < Duration::from_millis(300), "one-shot");
}

#[tokio::test]
async fn delayed_request_times_out_on_the_client() {
    let h = harness().await;
    h.standin.push_fault(Fault {
        delay_ms: 2_000,
        action: FaultAction::Status {
            status: 500,
            retry_after: None,
        },
        ..Fault::default()
    });
    let error = h
        .client
        .get(h.consumers_url())
        .bearer_auth(TOKEN)
        .timeout(Duration::from_millis(200))
        .send()
        .await
        .unwrap_err();
    assert!(error.is_timeout(), "{error:?}");
}

#[tokio::test]
async fn rate_limit_answers_429_with_retry_after() {
    let h = harness().await;
    h.standin.set_rate_limit(Some(3));
    let mut statuses = Vec::new();
    let mut limited = None;
    for _ in 0..5 {
        let response = h.get("").await;
        statuses.push(response.status().as_u16());
        if response.status() == StatusCode::TOO_MANY_REQUESTS {
            limited = Some(response);
        }
    }
    assert_eq!(statuses, [200, 200, 200, 429, 429]);
    let limited = limited.unwrap();
    assert_eq!(limited.headers()["retry-after"], "1");
    let problem = expect_problem(limited, 429).await;
    assert_eq!(problem["title"], "Too Many Requests");

    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_eq!(h.get("").await.status(), StatusCode::OK, "a new window");

    h.standin.set_rate_limit(None);
    for _ in 0..10 {
        assert_eq!(h.get("").await.status(), StatusCode::OK);
    }
}

#[tokio::test]
async fn calls_are_recorded_in_arrival_order() {
    let h = harness().await;
    h.create(json!({"name": "r"}), true).await;
    h.get("/r?include-api-keys=true&key-format=visible").await;
    h.client.get(h.consumers_url()).send().await.unwrap();
    // Control requests are not recorded.
    h.client
        .get(format!("{}/__standin/calls", h.standin.url()))
        .send()
        .await
        .unwrap();

    let calls = h.standin.calls();
    let path = format!("/v1/accounts/{ACCOUNT}/key-buckets/{BUCKET}/consumers");
    let summary: Vec<(&str, &str, &str, u16)> = calls
        .iter()
        .map(|c| {
            (
                c.method.as_str(),
                c.path.as_str(),
                c.query.as_str(),
                c.status,
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            ("POST", path.as_str(), "with-api-key=true", 200),
            (
                "GET",
                format!("{path}/r").as_str(),
                "include-api-keys=true&key-format=visible",
                200
            ),
            ("GET", path.as_str(), "", 401),
        ]
    );
}

#[tokio::test]
async fn who_am_i_reports_the_account() {
    let h = harness().await;
    let url = format!("{}/v1/who-am-i", h.standin.url());
    let body: Value = h
        .client
        .get(&url)
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(body["account"], ACCOUNT);
    assert!(body["sub"].as_str().is_some_and(|s| !s.is_empty()));
    expect_problem(h.client.get(&url).send().await.unwrap(), 401).await;
}

#[tokio::test]
async fn control_endpoints_work_over_http() {
    let h = harness().await;
    let control = |path: &str| format!("{}/__standin/{path}", h.standin.url());

    let response = h
        .client
        .post(control("faults"))
        .json(&json!({"method": "POST", "action": {"kind": "status", "status": 429, "retry_after": 2}}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    let limited = h.create(json!({"name": "x"}), true).await;
    assert_eq!(limited.headers()["retry-after"], "2");
    expect_problem(limited, 429).await;

    for bad in [
        json!({"action": {"kind": "explode"}}),
        json!({"action": {"kind": "status", "status": 42}}),
        json!({"delay_ms": "soon"}),
    ] {
        let response = h
            .client
            .post(control("faults"))
            .json(&bad)
            .send()
            .await
            .unwrap();
        expect_problem(response, 400).await;
    }

    h.create(json!({"name": "x", "tags": {"k": "v"}}), true)
        .await;
    let consumers: Value = h
        .client
        .get(control("consumers"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(consumers[0]["name"], "x");
    assert_eq!(consumers[0]["tags"], json!({"k": "v"}));
    assert!(is_valid_key(
        consumers[0]["api_keys"][0]["key"].as_str().unwrap()
    ));

    let calls: Value = h
        .client
        .get(control("calls"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(calls.as_array().unwrap().len(), 2);
    assert_eq!(calls[0]["status"], 429);
    assert_eq!(calls[1]["method"], "POST");
    assert_eq!(calls[1]["status"], 200);

    let response = h.client.post(control("reset")).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    assert!(h.standin.consumers().is_empty());
    assert!(h.standin.calls().is_empty());

    let unknown = h.client.get(control("nope")).send().await.unwrap();
    expect_problem(unknown, 404).await;
    assert!(
        h.standin.calls().is_empty(),
        "control paths are never recorded"
    );
}

#[tokio::test]
async fn reset_clears_state_but_keeps_tokens() {
    let h = harness().await;
    h.create(json!({"name": "r"}), true).await;
    h.standin.set_rate_limit(Some(0));
    h.standin.push_fault(Fault {
        action: FaultAction::DropConnection,
        ..Fault::default()
    });
    h.standin.reset();
    assert!(h.standin.consumers().is_empty());
    assert!(h.standin.calls().is_empty());
    // No fault, no rate limit, token still accepted.
    assert_eq!(h.get("").await.status(), StatusCode::OK);
    assert_eq!(
        h.create(json!({"name": "r"}), true).await.status(),
        StatusCode::OK
    );
}

impl Harness {
    fn keys_url(&self, consumer: &str) -> String {
        format!("{}/{consumer}/keys", self.consumers_url())
    }

    /// `query` is appended as is (empty, or starting with `?`).
    async fn create_key(&self, consumer: &str, query: &str, body: Value) -> Response {
        self.client
            .post(format!("{}{query}", self.keys_url(consumer)))
            .bearer_auth(TOKEN)
            .json(&body)
            .send()
            .await
            .unwrap()
    }

    async fn create_key_raw(&self, consumer: &str, raw: &'static str) -> Response {
        self.client
            .post(self.keys_url(consumer))
            .bearer_auth(TOKEN)
            .header("content-type", "application/json")
            .body(raw)
            .send()
            .await
            .unwrap()
    }
}

/// lifecycle.md §1.2: a consumer created without a key, then a trial key added to it.
#[tokio::test]
async fn trial_key_is_added_to_a_keyless_consumer() {
    let h = harness().await;
    let consumer: Value = h
        .create(json!({"name": "trial", "tags": {"userId": "u1"}}), false)
        .await
        .json()
        .await
        .unwrap();
    assert!(consumer.get("apiKeys").is_none(), "{consumer}");
    let before: Value = h
        .get("/trial?include-api-keys=true&key-format=visible")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(before["apiKeys"], json!([]), "zero keys is visible as such");

    let response = h
        .create_key(
            "trial",
            "",
            json!({"description": "trial", "expiresOn": "2026-12-16T00:00:00.000Z"}),
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK, "200, not 201");
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/json")
    );
    let key: Value = response.json().await.unwrap();
    assert!(has_id(&key["id"], "key_"), "{key}");
    assert!(is_timestamp(&key["createdOn"]), "{key}");
    assert_eq!(key["createdOn"], key["updatedOn"]);
    assert_eq!(key["expiresOn"], "2026-12-16T00:00:00.000Z");
    assert_eq!(key["description"], "trial");
    let secret = key["key"].as_str().unwrap();
    assert!(is_valid_key(secret), "minted like the others: {secret}");
    assert_eq!(
        key.as_object().unwrap().len(),
        6,
        "exactly the ApiKey fields: {key}"
    );

    let stored = &h.standin.consumers()[0];
    assert_eq!(stored.api_keys.len(), 1);
    assert_eq!(stored.api_keys[0].id, key["id"].as_str().unwrap());
    assert_eq!(stored.api_keys[0].key, secret);
    assert_eq!(
        stored.api_keys[0].expires_on.as_deref(),
        Some("2026-12-16T00:00:00.000Z")
    );
    assert_eq!(stored.api_keys[0].description.as_deref(), Some("trial"));

    // Read back through the consumer, as the 409 recovery path does.
    let after: Value = h
        .get("/trial?include-api-keys=true&key-format=visible&tag.userId=u1")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(after["apiKeys"], json!([key]));
    assert_eq!(
        after["updatedOn"], consumer["updatedOn"],
        "a new key does not touch the consumer"
    );
    let masked: Value = h
        .get("/trial?include-api-keys=true&key-format=masked")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        masked["apiKeys"][0]["expiresOn"],
        "2026-12-16T00:00:00.000Z"
    );
    assert_eq!(
        masked["apiKeys"][0]["key"],
        format!("****{}", &secret[secret.len() - 8..])
    );
}

#[tokio::test]
async fn created_keys_default_to_no_expiry_and_normalise_expires_on() {
    let h = harness().await;
    h.create(json!({"name": "k"}), true).await;

    let plain: Value = h.create_key("k", "", json!({})).await.json().await.unwrap();
    assert!(plain.get("expiresOn").is_some() && plain["expiresOn"].is_null());
    assert!(plain.get("description").is_some() && plain["description"].is_null());
    assert!(is_valid_key(plain["key"].as_str().unwrap()));

    let nulls: Value = h
        .create_key("k", "", json!({"expiresOn": null, "description": null}))
        .await
        .json()
        .await
        .unwrap();
    assert!(nulls["expiresOn"].is_null() && nulls["description"].is_null());

    for (given, stored) in [
        ("2026-12-16T01:30:00+02:00", "2026-12-15T23:30:00.000Z"),
        ("2026-12-16t00:00:00.123456z", "2026-12-16T00:00:00.123Z"),
        ("2020-01-01T00:00:00Z", "2020-01-01T00:00:00.000Z"),
    ] {
        let key: Value = h
            .create_key("k", "", json!({ "expiresOn": given }))
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(key["expiresOn"], stored, "{given}");
    }

    let ids: Vec<&str> = [&plain, &nulls]
        .iter()
        .map(|k| k["id"].as_str().unwrap())
        .collect();
    assert_ne!(ids[0], ids[1]);
    let stored = &h.standin.consumers()[0];
    assert_eq!(stored.api_keys.len(), 6, "the create key and five more");
    assert_eq!(stored.api_keys[1].id, ids[0], "kept in creation order");
    assert_eq!(stored.api_keys[0].expires_on, None);
    assert_eq!(
        stored.api_keys[5].expires_on.as_deref(),
        Some("2020-01-01T00:00:00.000Z"),
        "a past date is accepted"
    );
}

#[tokio::test]
async fn custom_key_values_are_kept_and_must_be_unique() {
    let h = harness().await;
    let created: Value = h
        .create(json!({"name": "a"}), true)
        .await
        .json()
        .await
        .unwrap();
    h.create(json!({"name": "b"}), false).await;
    let minted = created["apiKeys"][0]["key"].as_str().unwrap().to_owned();

    let custom: Value = h
        .create_key("a", "", json!({"key": "my-own-key-1"}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(custom["key"], "my-own-key-1");

    for taken in ["my-own-key-1", minted.as_str()] {
        let problem =
            expect_problem(h.create_key("b", "", json!({ "key": taken })).await, 409).await;
        assert_eq!(problem["title"], "Conflict");
    }
    expect_problem(h.create_key("b", "", json!({"key": ""})).await, 400).await;
    let stored = h.standin.consumers();
    assert_eq!(stored[0].api_keys[1].key, "my-own-key-1");
    assert!(stored[1].api_keys.is_empty());
}

#[tokio::test]
async fn create_key_refuses_malformed_bodies() {
    let h = harness().await;
    h.create(json!({"name": "v"}), false).await;
    for raw in ["", "{not json", "[1]", "\"key\"", "null"] {
        expect_problem(h.create_key_raw("v", raw).await, 400).await;
    }
    for body in [
        json!({"expiresOn": "2026-12-16"}),
        json!({"expiresOn": "2026-12-16T00:00:00"}),
        json!({"expiresOn": "2026-12-16 00:00:00Z"}),
        json!({"expiresOn": "2026-02-30T00:00:00Z"}),
        json!({"expiresOn": "tomorrow"}),
        json!({"expiresOn": ""}),
        json!({"expiresOn": 1_800_000_000}),
        json!({"description": 5}),
        json!({"key": 5}),
        json!({"key": ["zpka_x"]}),
    ] {
        let problem = expect_problem(h.create_key("v", "", body.clone()).await, 400).await;
        assert_eq!(problem["title"], "Bad Request", "{body}");
    }
    assert!(h.standin.consumers()[0].api_keys.is_empty());
    // The body is judged before the consumer is looked up.
    expect_problem(h.create_key_raw("absent", "{not json").await, 400).await;
}

#[tokio::test]
async fn create_key_needs_an_existing_consumer_and_matching_tags() {
    let h = harness().await;
    h.create(
        json!({"name": "t", "tags": {"userId": "u1", "plan": "free"}}),
        false,
    )
    .await;

    let problem = expect_problem(h.create_key("absent", "", json!({})).await, 404).await;
    assert_eq!(problem["title"], "Not Found");
    for query in [
        "?tag.userId=u2",
        "?tag.userId=u1&tag.plan=gold",
        "?tag.missing=x",
    ] {
        expect_problem(h.create_key("t", query, json!({})).await, 404).await;
    }
    expect_problem(h.create_key("t", "?tag.=x", json!({})).await, 400).await;
    assert!(
        h.standin.consumers()[0].api_keys.is_empty(),
        "guards kept it keyless"
    );

    let response = h
        .create_key(
            "t",
            "?tag.userId=u1&tag.plan=free",
            json!({"description": "ok"}),
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(h.standin.consumers()[0].api_keys.len(), 1);

    let response = h
        .client
        .post(format!(
            "{}/v1/accounts/{ACCOUNT}/key-buckets/other/consumers/t/keys",
            h.standin.url()
        ))
        .bearer_auth(TOKEN)
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    expect_problem(response, 404).await;
}

#[tokio::test]
async fn list_keys_pages_and_honours_key_format() {
    let h = harness().await;
    let created: Value = h
        .create(json!({"name": "l", "tags": {"userId": "u1"}}), true)
        .await
        .json()
        .await
        .unwrap();
    let mut keys = vec![created["apiKeys"][0].clone()];
    for i in 0..4 {
        let key: Value = h
            .create_key(
                "l",
                "",
                json!({"description": format!("k{i}"), "expiresOn": "2030-01-01T00:00:00Z"}),
            )
            .await
            .json()
            .await
            .unwrap();
        keys.push(key);
    }
    h.create(json!({"name": "empty"}), false).await;

    let response = h.get("/l/keys").await;
    assert_eq!(response.status(), StatusCode::OK);
    let all: Value = response.json().await.unwrap();
    assert_eq!(all["total"], 5);
    assert_eq!(all["limit"], 1000);
    assert_eq!(all["offset"], 0);
    let data = all["data"].as_array().unwrap();
    assert_eq!(data.len(), 5);
    for (listed, made) in data.iter().zip(&keys) {
        assert_eq!(listed["id"], made["id"], "creation order");
        assert_eq!(listed["expiresOn"], made["expiresOn"]);
        assert_eq!(listed["description"], made["description"]);
        let secret = made["key"].as_str().unwrap();
        assert_eq!(
            listed["key"],
            format!("****{}", &secret[secret.len() - 8..]),
            "masked by default"
        );
    }
    assert!(data[0]["expiresOn"].is_null() && data[0].get("expiresOn").is_some());
    assert_eq!(data[1]["expiresOn"], "2030-01-01T00:00:00.000Z");

    let visible: Value = h
        .get("/l/keys?key-format=visible&limit=1000&offset=0")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(visible["data"], json!(keys), "visible is the create answer");
    let none: Value = h.get("/l/keys?key-format=none").await.json().await.unwrap();
    assert!(
        none["data"]
            .as_array()
            .unwrap()
            .iter()
            .all(|k| k.get("key").is_none())
    );

    let page: Value = h
        .get("/l/keys/?limit=2&offset=3")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        (page["limit"].clone(), page["offset"].clone()),
        (json!(2), json!(3))
    );
    assert_eq!(page["total"], 5);
    assert_eq!(page["data"][0]["id"], keys[3]["id"]);
    assert_eq!(page["data"][1]["id"], keys[4]["id"]);
    assert_eq!(page["data"].as_array().unwrap().len(), 2);
    let clamped: Value = h.get("/l/keys?limit=5000").await.json().await.unwrap();
    assert_eq!(clamped["limit"], 1000);
    let clamped: Value = h.get("/l/keys?limit=0").await.json().await.unwrap();
    assert_eq!(clamped["limit"], 1);
    assert_eq!(clamped["data"].as_array().unwrap().len(), 1);
    let past_end: Value = h.get("/l/keys?offset=9").await.json().await.unwrap();
    assert_eq!(
        (past_end["data"].clone(), past_end["total"].clone()),
        (json!([]), json!(5))
    );

    let empty: Value = h.get("/empty/keys").await.json().await.unwrap();
    assert_eq!(
        empty,
        json!({"data": [], "limit": 1000, "offset": 0, "total": 0})
    );

    let guarded = h.get("/l/keys?tag.userId=u1&key-format=visible").await;
    assert_eq!(guarded.status(), StatusCode::OK);
    expect_problem(h.get("/l/keys?tag.userId=u2").await, 404).await;
    expect_problem(h.get("/absent/keys").await, 404).await;
    expect_problem(h.get("/l/keys?offset=-1").await, 400).await;
    expect_problem(h.get("/l/keys?limit=ten").await, 400).await;
    expect_problem(h.get("/l/keys?key-format=plain").await, 400).await;
}

#[tokio::test]
async fn key_routes_are_authenticated_recorded_and_faulted() {
    let h = harness().await;
    h.create(json!({"name": "f"}), false).await;

    for request in [
        h.client.get(h.keys_url("f")),
        h.client.post(h.keys_url("f")).json(&json!({})),
        h.client
            .post(h.keys_url("f"))
            .bearer_auth("wrong")
            .json(&json!({})),
    ] {
        expect_problem(request.send().await.unwrap(), 401).await;
    }
    assert!(h.standin.consumers()[0].api_keys.is_empty());

    let response = h
        .client
        .put(h.keys_url("f"))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["allow"], "GET, POST");
    expect_problem(response, 405).await;
    for path in ["/f/keys/$bulk", "/f/keys/key_AM7eAiR0BiaXTam951XmC9kK"] {
        expect_problem(h.get(path).await, 501).await;
    }

    h.standin.push_fault(Fault {
        method: Some("POST".into()),
        action: FaultAction::Status {
            status: 429,
            retry_after: Some(3),
        },
        ..Fault::default()
    });
    let limited = h.create_key("f", "", json!({"description": "x"})).await;
    assert_eq!(limited.headers()["retry-after"], "3");
    expect_problem(limited, 429).await;
    assert!(
        h.standin.consumers()[0].api_keys.is_empty(),
        "no state change"
    );

    // A lost answer: the key exists, and listing the keys is how a client finds it.
    h.standin.push_fault(Fault {
        method: Some("POST".into()),
        action: FaultAction::DropAfterWrite,
        ..Fault::default()
    });
    let lost = h
        .client
        .post(h.keys_url("f"))
        .bearer_auth(TOKEN)
        .json(&json!({"expiresOn": "2026-12-16T00:00:00Z"}))
        .send()
        .await;
    assert!(lost.is_err(), "{lost:?}");
    let stored = h.standin.consumers()[0].api_keys.clone();
    assert_eq!(stored.len(), 1, "the write happened");
    let listed: Value = h
        .get("/f/keys?key-format=visible")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(listed["data"][0]["key"], stored[0].key);
    assert_eq!(listed["data"][0]["expiresOn"], "2026-12-16T00:00:00.000Z");

    let path = format!("/v1/accounts/{ACCOUNT}/key-buckets/{BUCKET}/consumers/f/keys");
    let key_calls: Vec<(String, String, u16)> = h
        .standin
        .calls()
        .into_iter()
        .filter(|c| c.path == path)
        .map(|c| (c.method, c.query, c.status))
        .collect();
    let expected: Vec<(String, String, u16)> = [
        ("GET", "", 401),
        ("POST", "", 401),
        ("POST", "", 401),
        ("PUT", "", 405),
        ("POST", "", 429),
        ("POST", "", 0),
        ("GET", "key-format=visible", 200),
    ]
    .into_iter()
    .map(|(m, q, s)| (m.to_owned(), q.to_owned(), s))
    .collect();
    assert_eq!(key_calls, expected);
}

#[tokio::test]
async fn list_consumers_combines_tag_filters_and_shows_key_expiry() {
    let h = harness().await;
    for (name, tags) in [
        ("x1", json!({"org": "o1", "env": "prod"})),
        ("x2", json!({"org": "o1", "env": "dev"})),
        ("x3", json!({"org": "o2", "env": "prod"})),
        ("x4", json!({})),
    ] {
        h.create(json!({"name": name, "tags": tags}), false).await;
    }
    h.create_key(
        "x1",
        "",
        json!({"expiresOn": "2026-12-16T00:00:00Z", "description": "trial"}),
    )
    .await;

    let names = |body: &Value| -> Vec<String> {
        body["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["name"].as_str().unwrap().to_owned())
            .collect()
    };
    let both: Value = h
        .get("?tag.org=o1&tag.env=prod")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(names(&both), ["x1"], "AND, not OR");
    assert_eq!(both["total"], 1);
    let one: Value = h.get("?tag.env=prod").await.json().await.unwrap();
    assert_eq!(names(&one), ["x1", "x3"]);
    let none: Value = h.get("?tag.org=o1&tag.org=o2").await.json().await.unwrap();
    assert_eq!(none["total"], 0, "one tag cannot equal two values");
    let paged: Value = h
        .get("?tag.env=prod&limit=1&offset=1")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(names(&paged), ["x3"]);
    assert_eq!(
        paged["total"], 2,
        "total counts the filtered set, not the page"
    );
    let negative: Value = h.get("?limit=-5").await.json().await.unwrap();
    assert_eq!(negative["limit"], 1);
    expect_problem(h.get("?tag.=x").await, 400).await;

    let with_keys: Value = h
        .get("?include-api-keys=true&key-format=visible")
        .await
        .json()
        .await
        .unwrap();
    let stored = &h.standin.consumers()[0].api_keys[0];
    assert_eq!(with_keys["data"][0]["apiKeys"][0]["key"], stored.key);
    assert_eq!(
        with_keys["data"][0]["apiKeys"][0]["expiresOn"],
        "2026-12-16T00:00:00.000Z"
    );
    assert_eq!(with_keys["data"][0]["apiKeys"][0]["description"], "trial");
    assert_eq!(with_keys["data"][1]["apiKeys"], json!([]));
    let hidden: Value = h
        .get("?include-api-keys=true&key-format=none")
        .await
        .json()
        .await
        .unwrap();
    assert!(hidden["data"][0]["apiKeys"][0].get("key").is_none());
    let without: Value = h.get("?include-api-keys=false").await.json().await.unwrap();
    assert!(
        without["data"]
            .as_array()
            .unwrap()
            .iter()
            .all(|c| c.get("apiKeys").is_none())
    );
}
