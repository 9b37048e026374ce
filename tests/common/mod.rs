//! Test support: real parts on loopback. Secrets Manager is a moto server (started by
//! `scripts/test.sh`, found through `MOTO_URL`) behind a counting proxy; Google's
//! certificate endpoint and the Zuplo Developer API are local servers of our own.
#![allow(dead_code)]

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use aws_config::{BehaviorVersion, Region};
use aws_sdk_secretsmanager::config::Credentials;
use axum::body::Bytes;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use jsonwebtoken::{EncodingKey, Header};
use lambda_runtime::{Context, Diagnostic, LambdaEvent};
use serde_json::{Value, json};
use zuplo_auth_hooks::clients::sdk_http;
use zuplo_auth_hooks::telemetry::MetricsSink;
use zuplo_auth_hooks::{App, Config, entry};

/// The function's HTTP client, as `main` builds it.
pub fn http() -> reqwest::Client {
    zuplo_auth_hooks::clients::http_client().unwrap()
}
use zuplo_standin::{Standin, StandinConfig};

pub const PROJECT: &str = "demo-project";
pub const AUD_CREATE: &str = "https://hooks.example.test/firebase/before-create";
pub const AUD_SIGN_IN: &str = "https://hooks.example.test/firebase/before-sign-in";
pub const ACCOUNT: &str = "demo-account";
pub const BUCKET: &str = "demo-bucket";
pub const KID: &str = "test-kid-1";

pub const SIGNING_KEY: &str = include_str!("../fixtures/google-test-key.pem");
pub const SIGNING_CERT: &str = include_str!("../fixtures/google-test-cert.pem");
pub const OTHER_KEY: &str = include_str!("../fixtures/other-test-key.pem");

pub fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

pub fn unique(prefix: &str) -> String {
    format!("{prefix}-{}", uuid_like())
}

fn uuid_like() -> String {
    static COUNTER: AtomicUsize = AtomicUsize::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let t = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    format!("{t:x}{n:x}{:x}", std::process::id())
}

async fn serve(router: axum::Router) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    addr
}

/// Google's x509 endpoint: `{"<kid>": "<PEM>"}` with a `Cache-Control: max-age`.
#[derive(Clone)]
pub struct CertServer {
    pub url: String,
    certs: Arc<Mutex<HashMap<String, String>>>,
    fetches: Arc<AtomicUsize>,
    down: Arc<AtomicBool>,
    max_age: Arc<AtomicU64>,
}

impl CertServer {
    pub async fn start() -> Self {
        let certs = Arc::new(Mutex::new(HashMap::from([(
            KID.to_owned(),
            SIGNING_CERT.to_owned(),
        )])));
        let fetches = Arc::new(AtomicUsize::new(0));
        let down = Arc::new(AtomicBool::new(false));
        let max_age = Arc::new(AtomicU64::new(3600));
        let (c, f, d, m) = (
            certs.clone(),
            fetches.clone(),
            down.clone(),
            max_age.clone(),
        );
        let router = axum::Router::new().route(
            "/certs",
            axum::routing::get(move || {
                let (c, f, d, m) = (c.clone(), f.clone(), d.clone(), m.clone());
                async move {
                    f.fetch_add(1, Ordering::SeqCst);
                    if d.load(Ordering::SeqCst) {
                        return (StatusCode::SERVICE_UNAVAILABLE, "down").into_response();
                    }
                    let body = serde_json::to_string(&*c.lock().unwrap()).unwrap();
                    let cache_control = format!(
                        "public, max-age={}, must-revalidate, no-transform",
                        m.load(Ordering::SeqCst)
                    );
                    (
                        [
                            ("content-type", "application/json; charset=UTF-8".to_owned()),
                            ("cache-control", cache_control),
                        ],
                        body,
                    )
                        .into_response()
                }
            }),
        );
        let addr = serve(router).await;
        CertServer {
            url: format!("http://{addr}/certs"),
            certs,
            fetches,
            down,
            max_age,
        }
    }

    /// The `max-age` of later responses, in seconds.
    pub fn set_max_age(&self, seconds: u64) {
        self.max_age.store(seconds, Ordering::SeqCst);
    }

    pub fn fetches(&self) -> usize {
        self.fetches.load(Ordering::SeqCst)
    }

    pub fn add_cert(&self, kid: &str, pem: &str) {
        self.certs
            .lock()
            .unwrap()
            .insert(kid.to_owned(), pem.to_owned());
    }

    pub fn set_down(&self, down: bool) {
        self.down.store(down, Ordering::SeqCst);
    }
}

/// A pass-through proxy in front of moto that counts Secrets Manager calls and can
/// pretend to be down.
#[derive(Clone)]
pub struct SecretsProxy {
    pub url: String,
    calls: Arc<AtomicUsize>,
    down: Arc<AtomicBool>,
    delay_ms: Arc<AtomicU64>,
}

/// Stops this test binary at once, with one line, when something only
/// `scripts/test.sh` sets up is missing: a plain `cargo test` then ends with that line
/// instead of a panic per test.
pub fn require(what_is_missing: &str, present: bool) {
    if !present {
        stop_test_binary(&format!(
            "{what_is_missing}: run the tests with scripts/test.sh, which sets it up"
        ));
    }
}

pub fn moto_url() -> String {
    let url = std::env::var("MOTO_URL").ok();
    require(
        "MOTO_URL is not set (a local Secrets Manager, moto)",
        url.is_some(),
    );
    url.unwrap_or_default()
}

impl SecretsProxy {
    pub async fn start() -> Self {
        let upstream = moto_url();
        let calls = Arc::new(AtomicUsize::new(0));
        let down = Arc::new(AtomicBool::new(false));
        let delay_ms = Arc::new(AtomicU64::new(0));
        let client = reqwest::Client::new();
        let (c, d, w) = (calls.clone(), down.clone(), delay_ms.clone());
        let router = axum::Router::new().fallback(
            move |method: Method, uri: Uri, headers: HeaderMap, body: Bytes| {
                let (c, d, w, client, upstream) = (
                    c.clone(),
                    d.clone(),
                    w.clone(),
                    client.clone(),
                    upstream.clone(),
                );
                async move {
                    c.fetch_add(1, Ordering::SeqCst);
                    let wait = w.load(Ordering::SeqCst);
                    if wait > 0 {
                        tokio::time::sleep(std::time::Duration::from_millis(wait)).await;
                    }
                    if d.load(Ordering::SeqCst) {
                        return (StatusCode::SERVICE_UNAVAILABLE, "proxy down").into_response();
                    }
                    let mut req = client.request(method, format!("{upstream}{uri}"));
                    for (name, value) in &headers {
                        if name != "host" && name != "content-length" {
                            req = req.header(name, value);
                        }
                    }
                    match req.body(body).send().await {
                        Err(e) => (StatusCode::BAD_GATEWAY, e.to_string()).into_response(),
                        Ok(resp) => {
                            let status = resp.status();
                            let ct = resp
                                .headers()
                                .get("content-type")
                                .cloned()
                                .unwrap_or_else(|| "application/x-amz-json-1.1".parse().unwrap());
                            let bytes = resp.bytes().await.unwrap_or_default();
                            let mut r: Response = bytes.into_response();
                            *r.status_mut() = status;
                            r.headers_mut().insert("content-type", ct);
                            r
                        }
                    }
                }
            },
        );
        let addr = serve(router).await;
        SecretsProxy {
            url: format!("http://{addr}"),
            calls,
            down,
            delay_ms,
        }
    }

    /// Every later call waits this long before it is answered.
    pub fn set_delay_ms(&self, ms: u64) {
        self.delay_ms.store(ms, Ordering::SeqCst);
    }

    pub fn calls(&self) -> usize {
        self.calls.load(Ordering::SeqCst)
    }

    pub fn set_down(&self, down: bool) {
        self.down.store(down, Ordering::SeqCst);
    }
}

/// The SDK configured as the function configures it (sending through the function's
/// HTTP client), pointed at `endpoint`.
pub async fn sdk_config(endpoint: &str) -> aws_config::SdkConfig {
    aws_config::defaults(BehaviorVersion::latest())
        .http_client(sdk_http::sdk_http_client(http()))
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new("test", "test", None, None, "tests"))
        .endpoint_url(endpoint)
        .load()
        .await
}

/// Writes a secret straight to moto (not through the counting proxy).
pub async fn put_secret(name: &str, value: &str) {
    let client = aws_sdk_secretsmanager::Client::new(&sdk_config(&moto_url()).await);
    let exists = client
        .describe_secret()
        .secret_id(name)
        .send()
        .await
        .is_ok();
    if exists {
        client
            .put_secret_value()
            .secret_id(name)
            .secret_string(value)
            .send()
            .await
            .unwrap();
    } else {
        client
            .create_secret()
            .name(name)
            .secret_string(value)
            .send()
            .await
            .unwrap();
    }
}

pub struct Options {
    pub env: Vec<(&'static str, String)>,
    pub secret: Option<String>,
    pub warm_up: bool,
    /// Secrets Manager is unreachable when the function starts (and stays so).
    pub secrets_down: bool,
    /// Secrets Manager answers this slowly during init (a slow cold start).
    pub secrets_delay_ms: u64,
    /// `max-age` of the certificate set, in seconds.
    pub certs_max_age: u64,
    /// Leave the first request to pay for the time since the app was built, as after
    /// a cold start. Off by default: most tests measure a warm container.
    pub cold: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            env: Vec::new(),
            secret: Some(
                json!({"zuplo_api_key": ZUPLO_TOKEN, "supabase_hook_secret": HOOK_SECRET})
                    .to_string(),
            ),
            warm_up: false,
            secrets_down: false,
            secrets_delay_ms: 0,
            certs_max_age: 3600,
            cold: false,
        }
    }
}

pub const ZUPLO_TOKEN: &str = "zpka_test_developer_token";
/// 32 random bytes, in Supabase's `v1,whsec_<base64>` form.
pub const HOOK_SECRET: &str = "v1,whsec_dGVzdC1ob29rLXNlY3JldC0zMi1ieXRlcy1sb25nISE=";

/// Everything one test needs, each piece its own instance so tests run in parallel.
pub struct Harness {
    pub app: App,
    pub zuplo: Standin,
    pub certs: CertServer,
    pub secrets: SecretsProxy,
    pub secret_id: String,
    env: HashMap<&'static str, String>,
    metrics: Arc<Mutex<Vec<String>>>,
}

impl Harness {
    pub async fn start() -> Self {
        Self::with(Options::default()).await
    }

    pub async fn with(opts: Options) -> Self {
        let zuplo = Standin::start(
            StandinConfig {
                account: ACCOUNT.into(),
                bucket: BUCKET.into(),
                tokens: vec![ZUPLO_TOKEN.into()],
            },
            "127.0.0.1:0".parse().unwrap(),
        )
        .await
        .unwrap();
        let certs = CertServer::start().await;
        certs.set_max_age(opts.certs_max_age);
        let secrets = SecretsProxy::start().await;
        secrets.set_down(opts.secrets_down);
        secrets.set_delay_ms(opts.secrets_delay_ms);
        let secret_id = unique("zuplo-auth-hooks/test");
        if let Some(value) = &opts.secret {
            put_secret(&secret_id, value).await;
        }
        let mut env: HashMap<&str, String> = HashMap::from([
            ("ZUPLO_API_URL", zuplo.url()),
            ("ZUPLO_ACCOUNT", ACCOUNT.into()),
            ("ZUPLO_BUCKET", BUCKET.into()),
            ("ZUPLO_SECRET_ID", secret_id.clone()),
            ("FIREBASE_PROJECT_ID", PROJECT.into()),
            ("FIREBASE_AUDIENCE", format!("{AUD_CREATE},{AUD_SIGN_IN}")),
            ("FIREBASE_CERTS_URL", certs.url.clone()),
        ]);
        for (k, v) in opts.env {
            env.insert(k, v);
        }
        let config = Config::from_lookup(|k| env.get(k).cloned()).unwrap();
        let env: HashMap<&'static str, String> = env.into_iter().collect();
        let metrics = Arc::new(Mutex::new(Vec::new()));
        let app = App::with_metrics(
            &config,
            &sdk_config(&secrets.url).await,
            http(),
            MetricsSink::Memory(metrics.clone()),
        );
        if opts.warm_up {
            app.warm_up().await;
        }
        secrets.set_delay_ms(0);
        if !opts.cold {
            app.clock().mark_warm();
        }
        Harness {
            app,
            zuplo,
            certs,
            secrets,
            secret_id,
            env,
            metrics,
        }
    }

    /// The EMF documents the function has written, one per request.
    pub fn metrics(&self) -> Vec<Value> {
        self.metrics
            .lock()
            .unwrap()
            .iter()
            .map(|line| serde_json::from_str(line).unwrap())
            .collect()
    }

    /// Another Lambda container of the same function: same settings and stand-ins,
    /// its own caches. Warmed up like a container that has served a request.
    pub async fn another_container(&self) -> App {
        let config = Config::from_lookup(|k| self.env.get(k).cloned()).unwrap();
        let app = App::with_metrics(
            &config,
            &sdk_config(&self.secrets.url).await,
            http(),
            MetricsSink::Memory(self.metrics.clone()),
        );
        app.warm_up().await;
        app.clock().mark_warm();
        app
    }

    pub async fn post(&self, path: &str, body: &str) -> (u16, Value) {
        let answer = self
            .send(request("POST", path, body, "application/json"))
            .await;
        (answer.status, answer.json)
    }

    pub async fn send(&self, event: Value) -> Answer {
        answer(invoke(&self.app, event).await)
    }

    /// A Supabase hook delivery signed now with [`HOOK_SECRET`], as the Auth server sends it.
    pub async fn supabase(&self, path: &str, body: &str) -> Answer {
        self.send(signed_request(path, body, HOOK_SECRET, now()))
            .await
    }

    pub async fn before_create(&self, jwt: &str) -> (u16, Value) {
        self.post("/firebase/before-create", &jwt_body(jwt)).await
    }

    pub async fn before_sign_in(&self, jwt: &str) -> (u16, Value) {
        self.post("/firebase/before-sign-in", &jwt_body(jwt)).await
    }

    /// Zuplo API calls made so far.
    pub fn zuplo_calls(&self) -> usize {
        self.zuplo.calls().len()
    }
}

pub fn jwt_body(jwt: &str) -> String {
    json!({"data": {"jwt": jwt}}).to_string()
}

pub struct Answer {
    pub status: u16,
    pub content_type: String,
    /// The `allow` header, on a 405.
    pub allow: Option<String>,
    pub text: String,
    pub json: Value,
}

/// A Lambda context as the runtime builds it, with a deadline `budget_ms` away.
pub fn context(budget_ms: u64) -> Context {
    let mut context = Context::default();
    context.request_id = unique("req");
    context.deadline = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
        + budget_ms;
    context
}

/// Runs one event through the handler the binary runs, with 10 s to go.
pub async fn invoke(app: &App, event: Value) -> Result<Value, Diagnostic> {
    entry::handle(app, LambdaEvent::new(event, context(10_000))).await
}

/// Reads a Function URL answer out of its envelope.
pub fn answer(result: Result<Value, Diagnostic>) -> Answer {
    let response = result.unwrap_or_else(|e| panic!("an HTTP event got a Lambda error: {e:?}"));
    let header = |name: &str| response["headers"][name].as_str().map(str::to_owned);
    let text = response["body"].as_str().unwrap_or_default().to_owned();
    assert_eq!(response["isBase64Encoded"], false);
    Answer {
        status: response["statusCode"].as_u64().unwrap_or(0) as u16,
        content_type: header("content-type").unwrap_or_default(),
        allow: header("allow"),
        json: serde_json::from_str(&text).unwrap_or(Value::String(text.clone())),
        text,
    }
}

/// A Lambda Function URL event (payload format 2.0), as Lambda hands it over.
pub fn request(method: &str, path: &str, body: &str, content_type: &str) -> Value {
    request_with_headers(
        method,
        path,
        body,
        &[("content-type", content_type.to_owned())],
    )
}

pub fn request_with_headers(
    method: &str,
    path: &str,
    body: &str,
    extra: &[(&str, String)],
) -> Value {
    // Function URLs hand header names over in lower case.
    let mut headers = json!({"host": "abc.lambda-url.us-east-1.on.aws"});
    for (name, value) in extra {
        headers[name.to_ascii_lowercase()] = Value::String(value.clone());
    }
    let event = json!({
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": path,
        "rawQueryString": "",
        "headers": headers,
        "requestContext": {
            "accountId": "anonymous",
            "apiId": "abc",
            "domainName": "abc.lambda-url.us-east-1.on.aws",
            "domainPrefix": "abc",
            "http": {"method": method, "path": path, "protocol": "HTTP/1.1", "sourceIp": "203.0.113.9", "userAgent": "test"},
            "requestId": "req-1",
            "routeKey": "$default",
            "stage": "$default",
            "time": "23/Nov/2026:01:00:00 +0000",
            "timeEpoch": 1795395600000u64
        },
        "body": body,
        "isBase64Encoded": false
    });
    event
}

/// Valid claims of a blocking-function token for a new email user.
pub fn claims(uid: &str, event_type: &str) -> Value {
    let aud = if event_type == "beforeSignIn" {
        AUD_SIGN_IN
    } else {
        AUD_CREATE
    };
    let t = now();
    json!({
        "iss": format!("https://securetoken.google.com/{PROJECT}"),
        "aud": aud,
        "iat": t - 1,
        "exp": t + 3600,
        "sub": uid,
        "event_id": format!("evt-{uid}"),
        "event_type": event_type,
        "ip_address": "203.0.113.9",
        "user_agent": "test",
        "locale": "en",
        "sign_in_method": "password",
        "user_record": {
            "uid": uid,
            "email": format!("{uid}@example.com"),
            "email_verified": true,
            "display_name": "Ada Lovelace",
            "custom_claims": {},
            "metadata": {"creation_time": t * 1000}
        }
    })
}

pub fn sign_with(claims: &Value, key_pem: &str, kid: Option<&str>) -> String {
    let mut header = Header::new(jsonwebtoken::Algorithm::RS256);
    header.kid = kid.map(str::to_owned);
    jsonwebtoken::encode(
        &header,
        claims,
        &EncodingKey::from_rsa_pem(key_pem.as_bytes()).unwrap(),
    )
    .unwrap()
}

pub fn sign(claims: &Value) -> String {
    sign_with(claims, SIGNING_KEY, Some(KID))
}

pub fn b64url(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// A token as the Auth emulator makes it: `alg: none`, empty signature.
pub fn unsigned(claims: &Value) -> String {
    format!(
        "{}.{}.",
        b64url(br#"{"alg":"none","typ":"JWT"}"#),
        b64url(claims.to_string().as_bytes())
    )
}

pub fn consumer_claim(body: &Value) -> Option<&str> {
    body.pointer("/userRecord/customClaims/zuplo_consumer_id")
        .and_then(Value::as_str)
}

/// `v1,<base64 HMAC-SHA256(key, id.timestamp.body)>` for one `v1,whsec_<base64>` secret,
/// computed here with `hmac` directly rather than through the code under test.
pub fn webhook_signature(secret: &str, id: &str, timestamp: i64, body: &str) -> String {
    use base64::Engine;
    use hmac::Mac;
    let encoded = secret
        .trim_start_matches("v1,")
        .trim_start_matches("whsec_");
    let key = base64::engine::general_purpose::STANDARD
        .decode(encoded)
        .unwrap();
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(&key).unwrap();
    mac.update(format!("{id}.{timestamp}.{body}").as_bytes());
    format!(
        "v1,{}",
        base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
    )
}

/// A POST with the three Standard Webhooks headers, in the case Go puts on the wire.
pub fn signed_request(path: &str, body: &str, secret: &str, timestamp: i64) -> Value {
    let id = unique("msg");
    request_with_headers(
        "POST",
        path,
        body,
        &[
            ("Content-Type", "application/json".to_owned()),
            ("Webhook-Id", id.clone()),
            ("Webhook-Timestamp", timestamp.to_string()),
            (
                "Webhook-Signature",
                webhook_signature(secret, &id, timestamp, body),
            ),
        ],
    )
}

pub const CAT: &str = "/supabase/custom-access-token";
pub const BUC: &str = "/supabase/before-user-created";
pub const SUPABASE_ISS: &str = "https://demo-ref.supabase.co/auth/v1";

/// The claims Supabase puts in an access token for a confirmed email user.
pub fn supabase_claims(user_id: &str) -> Value {
    let t = now();
    json!({
        "iss": SUPABASE_ISS,
        "sub": user_id,
        "aud": "authenticated",
        "exp": t + 3600,
        "iat": t,
        "email": format!("{user_id}@example.com"),
        "phone": "",
        "app_metadata": {"provider": "email", "providers": ["email"]},
        "user_metadata": {"email": format!("{user_id}@example.com"), "email_verified": true, "phone_verified": false, "sub": user_id},
        "role": "authenticated",
        "aal": "aal1",
        "amr": [{"method": "password", "timestamp": t}],
        "session_id": format!("sess-{user_id}"),
        "is_anonymous": false
    })
}

/// A custom-access-token hook body, compact like Go's encoding/json.
pub fn access_token_body(user_id: &str, claims: &Value, method: &str) -> String {
    json!({
        "metadata": {
            "uuid": unique("inv"),
            "time": "2026-11-26T10:00:00.123456789Z",
            "name": "customize-access-token",
            "ip_address": "203.0.113.7"
        },
        "user_id": user_id,
        "claims": claims,
        "authentication_method": method
    })
    .to_string()
}

pub fn before_user_created_body(email: &str, anonymous: bool) -> String {
    json!({
        "metadata": {
            "uuid": unique("inv"),
            "time": "2026-11-26T10:00:00.123456789Z",
            "name": "before-user-created",
            "ip_address": "203.0.113.7"
        },
        "user": {
            "id": "3f2b8c1e-0000-4000-8000-000000000001",
            "aud": "authenticated",
            "role": "",
            "email": email,
            "phone": "",
            "app_metadata": if anonymous { json!({}) } else { json!({"provider": "email", "providers": ["email"]}) },
            "user_metadata": {},
            "identities": [],
            "created_at": "0001-01-01T00:00:00Z",
            "updated_at": "0001-01-01T00:00:00Z",
            "is_anonymous": anonymous
        }
    })
    .to_string()
}

/// The Auth server's check of a custom-access-token answer (its MinimumViableTokenSchema
/// and response rules): what a real Supabase would refuse, this refuses.
pub fn supabase_accepts_claims(answer: &Answer) -> Result<(), String> {
    if answer.status != 200 {
        return Err(format!("status {}", answer.status));
    }
    if !answer.content_type.starts_with("application/json") {
        return Err(format!("content-type {}", answer.content_type));
    }
    if answer
        .json
        .pointer("/error/message")
        .and_then(Value::as_str)
        .is_some_and(|m| !m.is_empty())
    {
        return Err(format!("error object {}", answer.json["error"]));
    }
    let claims = answer
        .json
        .get("claims")
        .and_then(Value::as_object)
        .ok_or("claims missing")?;
    for required in [
        "aud",
        "exp",
        "iat",
        "sub",
        "email",
        "phone",
        "role",
        "aal",
        "session_id",
        "is_anonymous",
    ] {
        if !claims.contains_key(required) {
            return Err(format!("required claim {required} missing"));
        }
    }
    let is_int = |k: &str| claims.get(k).is_none_or(|v| v.is_i64() || v.is_u64());
    let is_str = |k: &str| claims.get(k).is_none_or(Value::is_string);
    let is_obj = |k: &str| claims.get(k).is_none_or(Value::is_object);
    for k in ["exp", "iat", "nbf"] {
        if !is_int(k) {
            return Err(format!("{k} is not an integer"));
        }
    }
    for k in [
        "sub",
        "email",
        "phone",
        "role",
        "aal",
        "session_id",
        "client_id",
        "iss",
        "jti",
    ] {
        if !is_str(k) {
            return Err(format!("{k} is not a string"));
        }
    }
    for k in ["app_metadata", "user_metadata"] {
        if !is_obj(k) {
            return Err(format!("{k} is not an object"));
        }
    }
    if !claims["aud"].is_string() && !claims["aud"].is_array() {
        return Err("aud is neither a string nor an array".into());
    }
    Ok(())
}

/// Everything logged in this test binary from now on; `level` is the most verbose kept.
/// Installs the global subscriber, so a test binary calls it once.
pub fn capture_logs(level: tracing::Level) -> CapturedLogs {
    let captured = CapturedLogs::default();
    let writer = captured.clone();
    tracing::subscriber::set_global_default(
        tracing_subscriber::fmt()
            .with_max_level(level)
            .with_writer(move || writer.clone())
            .finish(),
    )
    .unwrap();
    captured
}

#[derive(Clone, Default)]
pub struct CapturedLogs(Arc<Mutex<Vec<u8>>>);

impl CapturedLogs {
    pub fn text(&self) -> String {
        String::from_utf8(self.0.lock().unwrap().clone()).unwrap()
    }
}

impl std::io::Write for CapturedLogs {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Prints one line and ends this test binary. The line is written to the real stderr:
/// the test harness captures `eprintln!` and would drop it with the process.
fn stop_test_binary(line: &str) -> ! {
    use std::io::Write;
    let _ = writeln!(std::io::stderr(), "\n{line}\n");
    std::process::exit(2);
}
