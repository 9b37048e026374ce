//! Error responses in Clerk's shape (`ClerkErrors` in `bapi/2026-05-12.yml`):
//! `{"errors":[{"message","long_message","code"[,"meta"]}],"clerk_trace_id":"…"}`.
//!
//! The client under test decides retry vs. give-up from the status and may log `code` and
//! `long_message`, so every error the stand-in produces, injected faults included, goes
//! through here.

use std::hash::{BuildHasher, RandomState};
use std::sync::atomic::{AtomicU64, Ordering};

use axum::http::header::{ALLOW, CONTENT_TYPE, RETRY_AFTER};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::metadata::ParamError;

/// One entry of `errors`.
pub(crate) struct ClerkError {
    pub(crate) code: &'static str,
    pub(crate) message: &'static str,
    pub(crate) long_message: String,
    pub(crate) meta: Option<Value>,
}

impl ClerkError {
    pub(crate) fn new(code: &'static str, message: &'static str, long_message: &str) -> Self {
        ClerkError {
            code,
            message,
            long_message: long_message.to_owned(),
            meta: None,
        }
    }
}

impl From<ParamError> for ClerkError {
    fn from(e: ParamError) -> Self {
        ClerkError {
            code: e.code,
            message: e.message,
            long_message: e.long_message,
            meta: Some(json!({ "param_name": e.param_name })),
        }
    }
}

/// A fresh trace id per error, as Clerk sends one per request: 32 hex digits that differ
/// between calls (random keys per `RandomState`, plus a counter so two calls never collide).
fn trace_id() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let high = RandomState::new().hash_one(n);
    let low = RandomState::new().hash_one(n.wrapping_add(1));
    format!("{high:016x}{low:016x}")
}

/// A Clerk error response with these entries.
pub(crate) fn errors(status: StatusCode, entries: Vec<ClerkError>) -> Response {
    let entries: Vec<Value> = entries
        .into_iter()
        .map(|e| {
            let mut entry = json!({
                "message": e.message,
                "long_message": e.long_message,
                "code": e.code,
            });
            if let (Some(meta), Some(object)) = (e.meta, entry.as_object_mut()) {
                object.insert("meta".to_owned(), meta);
            }
            entry
        })
        .collect();
    let body = json!({ "errors": entries, "clerk_trace_id": trace_id() });
    let mut response = (status, body.to_string()).into_response();
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}

/// A Clerk error response with one entry.
pub(crate) fn error(
    status: StatusCode,
    code: &'static str,
    message: &'static str,
    long_message: &str,
) -> Response {
    errors(status, vec![ClerkError::new(code, message, long_message)])
}

pub(crate) fn unauthenticated() -> Response {
    error(
        StatusCode::UNAUTHORIZED,
        "authentication_invalid",
        "Invalid authentication",
        "Unable to authenticate the request, you need to supply an active API key",
    )
}

pub(crate) fn not_found() -> Response {
    error(
        StatusCode::NOT_FOUND,
        "resource_not_found",
        "not found",
        "Resource not found",
    )
}

pub(crate) fn rate_limited(retry_after_secs: u64) -> Response {
    with_retry_after(
        error(
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limit_exceeded",
            "Too many requests",
            "Too many requests, please try again later.",
        ),
        retry_after_secs,
    )
}

pub(crate) fn body_invalid(detail: &str) -> Response {
    error(
        StatusCode::BAD_REQUEST,
        "request_body_invalid",
        "Request body invalid",
        detail,
    )
}

pub(crate) fn not_modeled(detail: &str) -> Response {
    error(
        StatusCode::NOT_IMPLEMENTED,
        "standin_route_not_modeled",
        "not modeled by the stand-in",
        detail,
    )
}

pub(crate) fn method_not_allowed(allow: &'static str) -> Response {
    let mut response = error(
        StatusCode::METHOD_NOT_ALLOWED,
        "request_method_invalid",
        "method not allowed",
        &format!("This resource accepts only {allow}."),
    );
    response
        .headers_mut()
        .insert(ALLOW, HeaderValue::from_static(allow));
    response
}

/// An injected fault's response: the code a real Clerk error of that status would carry,
/// so a client that branches on `code` behaves as it would against Clerk.
pub(crate) fn injected(status: StatusCode) -> Response {
    let code = match status.as_u16() {
        401 => "authentication_invalid",
        404 => "resource_not_found",
        429 => "rate_limit_exceeded",
        500..=599 => "internal_clerk_error",
        _ => "standin_injected_fault",
    };
    error(status, code, "injected fault", "injected by the stand-in")
}

pub(crate) fn with_retry_after(mut response: Response, seconds: u64) -> Response {
    response
        .headers_mut()
        .insert(RETRY_AFTER, HeaderValue::from(seconds));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trace_ids_are_32_hex_digits_and_differ() {
        let a = trace_id();
        let b = trace_id();
        assert_eq!(a.len(), 32);
        assert!(a.bytes().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(a, b);
    }
}
