//! RFC 7807 problem responses in the shape Zuplo-built gateways return.
//!
//! The client under test decides retry vs. give-up from the status and may log `title` and
//! `detail`, so every error the stand-in produces, including injected faults, goes through
//! here. The content type is `application/problem+json` (Zuplo's platform default) so the
//! client is exercised against the stricter of the two types it must accept (zuplo.md §1, §4).

use axum::http::header::{CONTENT_TYPE, RETRY_AFTER};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

pub(crate) const PROBLEM_JSON: &str = "application/problem+json";

/// A problem response with the standard reason phrase as `title`.
pub(crate) fn problem(status: StatusCode, detail: impl Into<String>, instance: &str) -> Response {
    let code = status.as_u16();
    let body = serde_json::json!({
        "type": format!("https://httpproblems.com/http-status/{code}"),
        "title": status.canonical_reason().unwrap_or("Unknown Status"),
        "status": code,
        "detail": detail.into(),
        "instance": instance,
    });
    let mut response = (status, body.to_string()).into_response();
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON));
    response
}

/// A problem response carrying `retry-after: <seconds>`.
pub(crate) fn with_retry_after(mut response: Response, seconds: u64) -> Response {
    response
        .headers_mut()
        .insert(RETRY_AFTER, HeaderValue::from(seconds));
    response
}
