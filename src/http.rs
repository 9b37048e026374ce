//! The HTTP entry point: routes a Lambda Function URL (or API Gateway v2) request to
//! the hook adapter that owns its path, turns the adapter's [`Reply`] into a response,
//! and records the request (one log line, one metrics document).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use lambda_http::http::{Method, StatusCode, header};
use lambda_http::{Body, Request, RequestExt, Response};

use crate::app::App;
use crate::deadline::Deadline;
use crate::firebase::EventType;
use crate::reply::Reply;
use crate::supabase::{Delivery, Hook};
use crate::telemetry::{Report, RequestFacts};

/// Hook bodies are small JSON documents, but a Supabase token's `user_metadata` is
/// written by the user and can grow: refusing it would lock that user out, so the
/// limit sits above the Auth server's own 200 KiB hook payload limit.
pub const MAX_BODY_BYTES: usize = 256 * 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Route {
    Firebase(EventType),
    Supabase(Hook),
}

impl Route {
    /// The metric dimension and log field: a fixed set, never the raw request path.
    fn name(self) -> &'static str {
        match self {
            Route::Firebase(EventType::BeforeCreate) => "firebase/before-create",
            Route::Firebase(EventType::BeforeSignIn) => "firebase/before-sign-in",
            Route::Supabase(Hook::CustomAccessToken) => "supabase/custom-access-token",
            Route::Supabase(Hook::BeforeUserCreated) => "supabase/before-user-created",
        }
    }
}

fn route_for(path: &str) -> Option<Route> {
    match path.trim_end_matches('/') {
        "/firebase/before-create" => Some(Route::Firebase(EventType::BeforeCreate)),
        "/firebase/before-sign-in" => Some(Route::Firebase(EventType::BeforeSignIn)),
        "/supabase/custom-access-token" => Some(Route::Supabase(Hook::CustomAccessToken)),
        "/supabase/before-user-created" => Some(Route::Supabase(Hook::BeforeUserCreated)),
        _ => None,
    }
}

/// What one request became, for its log line and metrics.
struct Handled {
    reply: Reply,
    report: Report,
    route: &'static str,
    budget: Duration,
    deadline: Option<Deadline>,
}

pub async fn handle(app: &App, req: Request) -> Response<Body> {
    let started = tokio::time::Instant::now();
    let cold_start = app.take_first_request();
    let handled = dispatch(app, &req, cold_start).await;
    let request_id = req
        .lambda_context_ref()
        .map(|c| c.request_id.as_str())
        .unwrap_or("");
    app.telemetry().record(
        &RequestFacts {
            route: handled.route,
            request_id,
            status: handled.reply.status,
            elapsed: started.elapsed(),
            budget: handled.budget,
            headroom: handled.deadline.map(Deadline::remaining),
            cold_start,
        },
        &handled.report,
    );
    let allow = (handled.reply.status == 405).then_some("POST");
    respond(&handled.reply, allow)
}

async fn dispatch(app: &App, req: &Request, cold_start: bool) -> Handled {
    let refuse = |route: &'static str, status: u16, message: &str, kind: &'static str| Handled {
        reply: Reply::error(status, message),
        report: Report::rejected(kind, message),
        route,
        budget: Duration::ZERO,
        deadline: None,
    };
    let Some(route) = route_for(req.raw_http_path()) else {
        return refuse("unknown", 404, "Not Found", "route");
    };
    let name = route.name();
    if req.method() != Method::POST {
        return refuse(name, 405, "Method Not Allowed: use POST", "method");
    }
    let body = req.body().as_ref();
    if body.len() > MAX_BODY_BYTES {
        return refuse(name, 413, "Payload Too Large", "size");
    }
    let content_type = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if !content_type.is_empty() && !content_type.to_ascii_lowercase().contains("json") {
        return refuse(
            name,
            415,
            "Unsupported Media Type: send application/json",
            "content_type",
        );
    }
    let (budget, deadline, (reply, report)) = match route {
        Route::Firebase(event) => {
            let Some(hooks) = app.firebase() else {
                return refuse(
                    name,
                    404,
                    "Not Found: Firebase hooks are not enabled",
                    "route",
                );
            };
            let budget = hooks.budget();
            let deadline = request_deadline(app, req, budget, cold_start);
            (budget, deadline, hooks.handle(event, body, deadline).await)
        }
        Route::Supabase(hook) => {
            let hooks = app.supabase();
            let budget = hooks.budget();
            let deadline = request_deadline(app, req, budget, cold_start);
            // Header lookups are case-insensitive: Supabase sends `Webhook-Id`.
            let header = |name: &str| req.headers().get(name).and_then(|v| v.to_str().ok());
            let delivery = Delivery {
                webhook_id: header("webhook-id"),
                webhook_timestamp: header("webhook-timestamp"),
                webhook_signature: header("webhook-signature"),
                body,
            };
            (
                budget,
                deadline,
                hooks.handle(hook, delivery, deadline).await,
            )
        }
    };
    Handled {
        reply,
        report,
        route: name,
        budget,
        deadline: Some(deadline),
    }
}

/// `min(now + budget, Lambda deadline − margin)`, shortened by the init time on a cold
/// start: the one deadline every step of the request runs under.
fn request_deadline(app: &App, req: &Request, budget: Duration, cold_start: bool) -> Deadline {
    let margin = app.deadline_margin();
    let mut own = Deadline::after(budget);
    if let Some(cold) = app.init_deadline(budget).filter(|_| cold_start) {
        own = own.min(cold);
    }
    let Some(ctx) = req.lambda_context_ref() else {
        return own;
    };
    let now_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64);
    if ctx.deadline == 0 || ctx.deadline <= now_ms {
        return own;
    }
    let left = Duration::from_millis(ctx.deadline - now_ms).saturating_sub(margin);
    own.min(Deadline::after(left))
}

fn respond(reply: &Reply, allow: Option<&str>) -> Response<Body> {
    let mut builder = Response::builder()
        .status(StatusCode::from_u16(reply.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR))
        .header(header::CONTENT_TYPE, "application/json");
    if let Some(allow) = allow {
        builder = builder.header(header::ALLOW, allow);
    }
    builder
        .body(Body::Text(reply.body.to_string()))
        .unwrap_or_else(|_| Response::new(Body::Empty))
}
