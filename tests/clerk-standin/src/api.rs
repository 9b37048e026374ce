//! The Backend API surface: `GET /v1/users/{user_id}` and `PATCH /v1/users/{user_id}/metadata`.
//!
//! Routing is done by hand on the path so that every outcome, unknown routes and wrong
//! methods included, is a Clerk-shaped error (axum's own rejections are plain text).
//!
//! Each request runs through the same pipeline: record the call (and, for a metadata write,
//! its body), apply an injected fault, bearer auth, the route, the per-user rate limit, body
//! validation, then the operation. Faults come first so that "the next request fails" holds
//! regardless of auth or rate-limit state.

use std::sync::Arc;
use std::time::Duration;

use axum::Json;
use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::header::AUTHORIZATION;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::Value;

use crate::errors::{self, ClerkError};
use crate::metadata::{BodyError, parse_patch};
use crate::state::Shared;
use crate::{FaultAction, is_control_path};

/// Larger bodies are refused; a real write-back body is well under 100 bytes.
const MAX_BODY_BYTES: usize = 1 << 20;
const API_VERSION_HEADER: &str = "clerk-api-version";
const API_VERSION_QUERY: &str = "__clerk_api_version";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Route<'a> {
    /// `/v1/users/{user_id}`
    User(&'a str),
    /// `/v1/users/{user_id}/metadata`
    Metadata(&'a str),
    /// Anything else.
    NotModeled,
}

fn route(path: &str) -> Route<'_> {
    let Some(rest) = path.strip_prefix("/v1/users/") else {
        return Route::NotModeled;
    };
    let mut segments = rest.split('/');
    match (segments.next(), segments.next(), segments.next()) {
        (Some(id), None, None) if !id.is_empty() => Route::User(id),
        (Some(id), Some("metadata"), None) if !id.is_empty() => Route::Metadata(id),
        _ => Route::NotModeled,
    }
}

/// The header wins; Clerk forbids sending both, which is not enforced here.
fn api_version(headers: &HeaderMap, uri: &Uri) -> Option<String> {
    if let Some(value) = headers.get(API_VERSION_HEADER) {
        return Some(String::from_utf8_lossy(value.as_bytes()).into_owned());
    }
    uri.query()?.split('&').find_map(|pair| {
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        (name == API_VERSION_QUERY).then(|| value.to_owned())
    })
}

/// What to record for a body: its JSON, or its text as a JSON string if it is not JSON.
fn recorded_body(body: &Result<Bytes, String>) -> Value {
    match body {
        Ok(bytes) => serde_json::from_slice(bytes)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(bytes).into_owned())),
        Err(reason) => Value::String(format!("<unreadable body: {reason}>")),
    }
}

async fn read_body(body: Body) -> Result<Bytes, String> {
    axum::body::to_bytes(body, MAX_BODY_BYTES)
        .await
        .map_err(|e| format!("cannot read the request body (limit {MAX_BODY_BYTES} bytes): {e}"))
}

/// The fallback handler of the router: every request that is not a control endpoint.
pub(crate) async fn handle(State(shared): State<Arc<Shared>>, req: Request) -> Response {
    let path = req.uri().path().to_owned();
    if is_control_path(&path) {
        return errors::error(
            StatusCode::NOT_FOUND,
            "resource_not_found",
            "not found",
            "no such stand-in control endpoint",
        );
    }
    let (parts, body) = req.into_parts();
    let route = route(&path);
    let (call, fault) = shared.arrive(
        parts.method.as_str(),
        &path,
        api_version(&parts.headers, &parts.uri),
    );

    // Only a metadata write has a body worth reading; it is recorded before any fault acts so
    // that a test can see what was sent even when the answer was an injected error.
    let body = match route {
        Route::Metadata(user_id) if parts.method == Method::PATCH => {
            let body = read_body(body).await;
            shared.record_write(call, user_id, recorded_body(&body));
            Some(body)
        }
        _ => None,
    };

    if let Some(fault) = fault {
        if fault.delay_ms > 0 {
            tokio::time::sleep(Duration::from_millis(fault.delay_ms)).await;
        }
        if let FaultAction::Status {
            status,
            retry_after,
        } = fault.action
        {
            let response = match StatusCode::from_u16(status) {
                Ok(code) => {
                    let response = errors::injected(code);
                    match retry_after {
                        Some(seconds) => errors::with_retry_after(response, seconds),
                        None => response,
                    }
                }
                // Only reachable through the library, which cannot validate at push time.
                Err(_) => errors::error(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "standin_injected_fault",
                    "injected fault",
                    &format!("the injected fault has an invalid status {status}"),
                ),
            };
            shared.finish(call, response.status().as_u16());
            return response;
        }
    }

    let response = serve(&shared, &parts.method, &parts.headers, route, body);
    shared.finish(call, response.status().as_u16());
    response
}

/// The token of `Authorization: Bearer <token>` (scheme case-insensitive, as HTTP says).
fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

/// The normal (fault-free) behaviour of one API request.
fn serve(
    shared: &Shared,
    method: &Method,
    headers: &HeaderMap,
    route: Route<'_>,
    body: Option<Result<Bytes, String>>,
) -> Response {
    if !bearer(headers).is_some_and(|key| shared.is_accepted_key(key)) {
        return errors::unauthenticated();
    }
    match (route, method) {
        (Route::User(user_id), &Method::GET) => {
            shared.ensure_auto_user(user_id);
            match shared.user(user_id) {
                Some(user) => (StatusCode::OK, Json(user)).into_response(),
                None => errors::not_found(),
            }
        }
        (Route::Metadata(user_id), &Method::PATCH) => {
            write_metadata(shared, user_id, body.unwrap_or_else(|| Ok(Bytes::new())))
        }
        // Real Clerk operations on these paths that the stand-in does not model: answering
        // 405 would tell the client the operation does not exist, which is wrong.
        (Route::User(_), &Method::PATCH | &Method::DELETE) | (Route::Metadata(_), &Method::PUT) => {
            errors::not_modeled(&format!(
                "{method} on this path exists in Clerk but is not modelled by the stand-in"
            ))
        }
        (Route::User(_), _) => errors::method_not_allowed("GET, PATCH, DELETE"),
        (Route::Metadata(_), _) => errors::method_not_allowed("PATCH, PUT"),
        (Route::NotModeled, _) => errors::not_modeled(
            "the stand-in models only GET /v1/users/{user_id} and PATCH /v1/users/{user_id}/metadata",
        ),
    }
}

fn write_metadata(shared: &Shared, user_id: &str, body: Result<Bytes, String>) -> Response {
    if let Err(retry_after) = shared.admit_write(user_id) {
        return errors::rate_limited(retry_after);
    }
    let body = match body {
        Ok(body) => body,
        Err(reason) => return errors::body_invalid(&reason),
    };
    let patch = match parse_patch(&body) {
        Ok(patch) => patch,
        Err(BodyError::Malformed(detail)) => return errors::body_invalid(&detail),
        Err(BodyError::Params(params)) => {
            return errors::errors(
                StatusCode::UNPROCESSABLE_ENTITY,
                params.into_iter().map(ClerkError::from).collect(),
            );
        }
    };
    shared.ensure_auto_user(user_id);
    match shared.apply_write(user_id, &patch) {
        Some(user) => (StatusCode::OK, Json(user)).into_response(),
        None => errors::not_found(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    #[test]
    fn routes_only_the_two_modelled_paths() {
        assert_eq!(route("/v1/users/user_1"), Route::User("user_1"));
        assert_eq!(
            route("/v1/users/user_1/metadata"),
            Route::Metadata("user_1")
        );
        for path in [
            "/v1/users",
            "/v1/users/",
            "/v1/users//metadata",
            "/v1/users/user_1/",
            "/v1/users/user_1/metadata/",
            "/v1/users/user_1/metadata/x",
            "/v1/user/user_1/metadata",
            "/users/user_1/metadata",
        ] {
            assert_eq!(route(path), Route::NotModeled, "{path}");
        }
    }

    #[test]
    fn api_version_from_header_then_query() {
        let uri: Uri = "/v1/users/u?a=1&__clerk_api_version=2025-11-10"
            .parse()
            .unwrap();
        let mut headers = HeaderMap::new();
        assert_eq!(api_version(&headers, &uri).as_deref(), Some("2025-11-10"));
        headers.insert(API_VERSION_HEADER, HeaderValue::from_static("2026-05-12"));
        assert_eq!(api_version(&headers, &uri).as_deref(), Some("2026-05-12"));
        let bare: Uri = "/v1/users/u".parse().unwrap();
        assert_eq!(api_version(&HeaderMap::new(), &bare), None);
    }

    #[test]
    fn bearer_needs_the_scheme_and_a_token() {
        let with = |value: &'static str| {
            let mut headers = HeaderMap::new();
            headers.insert(AUTHORIZATION, HeaderValue::from_static(value));
            bearer(&headers).map(str::to_owned)
        };
        assert_eq!(with("Bearer sk_test_1").as_deref(), Some("sk_test_1"));
        assert_eq!(with("bearer sk_test_1").as_deref(), Some("sk_test_1"));
        assert_eq!(with("Basic sk_test_1"), None);
        assert_eq!(with("Bearer "), None);
        assert_eq!(with("sk_test_1"), None);
        assert_eq!(bearer(&HeaderMap::new()), None);
    }
}
