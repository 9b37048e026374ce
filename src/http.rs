//! The HTTP entry point: routes a Lambda Function URL (or API Gateway v2) request to
//! the hook adapter that owns its path, and turns the adapter's [`Reply`] into a response.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use lambda_http::http::{Method, StatusCode, header};
use lambda_http::{Body, Request, RequestExt, Response};

use crate::app::App;
use crate::deadline::Deadline;
use crate::firebase::EventType;
use crate::reply::Reply;
use crate::supabase::{Delivery, Hook};

/// Hook bodies are small JSON documents, but a Supabase token's `user_metadata` is
/// written by the user and can grow: refusing it would lock that user out, so the
/// limit sits above the Auth server's own 200 KiB hook payload limit.
pub const MAX_BODY_BYTES: usize = 256 * 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Route {
    Firebase(EventType),
    Supabase(Hook),
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

pub async fn handle(app: &App, req: Request) -> Response<Body> {
    let started = tokio::time::Instant::now();
    let path = req.raw_http_path().to_owned();
    let reply = dispatch(app, &req, &path).await;
    tracing::debug!(
        path,
        status = reply.status,
        elapsed_ms = started.elapsed().as_millis() as u64,
        "answered"
    );
    let allow = (reply.status == 405).then_some("POST");
    respond(&reply, allow)
}

async fn dispatch(app: &App, req: &Request, path: &str) -> Reply {
    let Some(route) = route_for(path) else {
        return Reply::error(404, "Not Found");
    };
    if req.method() != Method::POST {
        return Reply::error(405, "Method Not Allowed: use POST");
    }
    let body = req.body().as_ref();
    if body.len() > MAX_BODY_BYTES {
        return Reply::error(413, "Payload Too Large");
    }
    let content_type = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if !content_type.is_empty() && !content_type.to_ascii_lowercase().contains("json") {
        return Reply::error(415, "Unsupported Media Type: send application/json");
    }
    match route {
        Route::Firebase(event) => match app.firebase() {
            None => Reply::error(404, "Not Found: Firebase hooks are not enabled"),
            Some(hooks) => {
                let deadline = request_deadline(app, req, hooks.budget());
                hooks.handle(event, body, deadline).await
            }
        },
        Route::Supabase(hook) => {
            let hooks = app.supabase();
            let deadline = request_deadline(app, req, hooks.budget());
            // Header lookups are case-insensitive: Supabase sends `Webhook-Id`.
            let header = |name: &str| req.headers().get(name).and_then(|v| v.to_str().ok());
            let delivery = Delivery {
                webhook_id: header("webhook-id"),
                webhook_timestamp: header("webhook-timestamp"),
                webhook_signature: header("webhook-signature"),
                body,
            };
            hooks.handle(hook, delivery, deadline).await
        }
    }
}

/// `min(now + budget, Lambda deadline − margin)`, shortened by the init time on a cold
/// start: the one deadline every step of the request runs under.
fn request_deadline(app: &App, req: &Request, budget: Duration) -> Deadline {
    let margin = app.deadline_margin();
    let mut own = Deadline::after(budget);
    if let Some(cold) = app.cold_start_deadline(budget) {
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
