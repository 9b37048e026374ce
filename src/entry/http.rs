//! Function URL (and API Gateway v2) requests: reads the HTTP envelope, finds the
//! provider route that owns the path, applies the transport checks (404, 405, 413,
//! 415), and writes the answer back into the envelope Lambda expects. Records each
//! request: one log line, one metrics document.

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use lambda_runtime::Context;
use serde::Deserialize;
use serde_json::{Map, Value, json};

use crate::app::App;
use crate::deadline::Deadline;
use crate::providers::{Door, Route};
use crate::reply::Reply;
use crate::request::HttpRequest;
use crate::telemetry::{RejectReason, Report, RequestFacts};
use crate::verify::standard_webhooks::Headers;

/// Hook bodies are small JSON documents, but a Supabase token's `user_metadata` is
/// written by the user and can grow: refusing it would lock that user out, so the
/// limit sits above the Auth server's own 200 KiB hook payload limit.
pub const MAX_BODY_BYTES: usize = 256 * 1024;

/// The parts of a payload-format-2.0 event that routing needs.
#[derive(Deserialize)]
struct Envelope {
    #[serde(rename = "rawPath", default)]
    raw_path: Option<String>,
    #[serde(rename = "requestContext")]
    request_context: RequestContext,
    #[serde(default)]
    headers: Option<Map<String, Value>>,
    #[serde(default)]
    body: Option<String>,
    #[serde(rename = "isBase64Encoded", default)]
    is_base64_encoded: bool,
}

#[derive(Deserialize)]
struct RequestContext {
    http: HttpContext,
}

#[derive(Deserialize)]
struct HttpContext {
    method: String,
    #[serde(default)]
    path: Option<String>,
}

/// Reads the request out of its envelope. Never panics: whatever a caller sent, the
/// worst outcome is a 400.
fn read(event: &Value) -> Result<HttpRequest, &'static str> {
    let envelope = Envelope::deserialize(event).map_err(|_| "not a Function URL event")?;
    let body = match envelope.body {
        None => Vec::new(),
        Some(text) if envelope.is_base64_encoded => STANDARD
            .decode(text.as_bytes())
            .map_err(|_| "the body is not valid base64")?,
        Some(text) => text.into_bytes(),
    };
    let headers = envelope
        .headers
        .unwrap_or_default()
        .into_iter()
        .filter_map(|(name, value)| match value {
            Value::String(v) => Some((name, v)),
            _ => None,
        });
    let path = envelope
        .raw_path
        .or(envelope.request_context.http.path)
        .unwrap_or_default();
    Ok(HttpRequest::new(
        envelope.request_context.http.method,
        path,
        headers,
        body,
    ))
}

/// What one request became, for its log line and metrics.
struct Handled {
    reply: Reply,
    report: Report,
    route: &'static str,
    budget: Duration,
    deadline: Option<Deadline>,
}

impl Handled {
    fn refused(route: &'static str, status: u16, message: &str, reason: RejectReason) -> Self {
        Handled {
            reply: Reply::error(status, message),
            report: Report::rejected(reason, message),
            route,
            budget: Duration::ZERO,
            deadline: None,
        }
    }
}

pub async fn handle(app: &App, event: &Value, context: &Context) -> Value {
    let started = tokio::time::Instant::now();
    let cold_start = app.clock().take_first_request();
    let handled = match read(event) {
        Ok(request) => dispatch(app, &request, context, cold_start).await,
        Err(problem) => Handled::refused(
            "unknown",
            400,
            &format!("Bad Request: {problem}"),
            RejectReason::Payload,
        ),
    };
    app.telemetry().record(
        &RequestFacts {
            route: handled.route,
            request_id: &context.request_id,
            status: handled.reply.status,
            elapsed: started.elapsed(),
            budget: handled.budget,
            headroom: handled.deadline.map(Deadline::remaining),
            cold_start,
        },
        &handled.report,
    );
    respond(&handled.reply)
}

fn find<'a>(doors: &'a [Box<dyn Door>], path: &str) -> Option<(&'a dyn Door, &'static Route)> {
    let path = path.trim_end_matches('/');
    doors.iter().find_map(|door| {
        door.routes()
            .iter()
            .find(|route| route.path == path)
            .map(|route| (door.as_ref(), route))
    })
}

async fn dispatch(
    app: &App,
    request: &HttpRequest,
    context: &Context,
    cold_start: bool,
) -> Handled {
    let Some((door, route)) = find(app.doors(), &request.path) else {
        return Handled::refused("unknown", 404, "Not Found", RejectReason::Route);
    };
    let name = route.name;
    if request.method != "POST" {
        return Handled::refused(
            name,
            405,
            "Method Not Allowed: use POST",
            RejectReason::Method,
        );
    }
    if request.body.len() > MAX_BODY_BYTES {
        return Handled::refused(name, 413, "Payload Too Large", RejectReason::Size);
    }
    let content_type = request.header("content-type").unwrap_or("");
    if !content_type.is_empty() && !content_type.to_ascii_lowercase().contains("json") {
        return Handled::refused(
            name,
            415,
            "Unsupported Media Type: send application/json",
            RejectReason::ContentType,
        );
    }
    if !door.enabled() {
        let (reply, report) = crate::providers::not_enabled(door.title());
        return Handled {
            reply,
            report,
            route: name,
            budget: Duration::ZERO,
            deadline: None,
        };
    }
    let budget = door.budget();
    let deadline = app
        .clock()
        .request_deadline(budget, context.deadline, cold_start);
    let (reply, report) = door.handle(route, request, deadline).await;
    Handled {
        reply,
        report,
        route: name,
        budget,
        deadline: Some(deadline),
    }
}

/// The answer in the shape Function URLs and API Gateway v2 read. The empty
/// `multiValueHeaders` and `cookies` are what `lambda_http` writes too, and what
/// `cargo lambda watch` needs to read the answer.
fn respond(reply: &Reply) -> Value {
    let mut headers = json!({"content-type": "application/json"});
    if reply.status == 405 {
        headers["allow"] = "POST".into();
    }
    json!({
        "statusCode": reply.status,
        "headers": headers,
        "multiValueHeaders": {},
        "body": reply.body.to_string(),
        "isBase64Encoded": false,
        "cookies": [],
    })
}
