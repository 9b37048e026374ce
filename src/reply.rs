//! What a request is answered with, independent of the transport that carries it.

use serde_json::{Value, json};

#[derive(Debug, Clone, PartialEq)]
pub struct Reply {
    pub status: u16,
    pub body: Value,
}

impl Reply {
    pub fn ok(body: Value) -> Self {
        Reply { status: 200, body }
    }

    /// The error shape of Google's blocking functions (`HttpsError`), also used for
    /// transport-level errors (400, 404, 405, 413, 415) on every route.
    pub fn error(status: u16, message: &str) -> Self {
        Reply {
            status,
            body: json!({
                "error": {
                    "code": status,
                    "status": status_name(status),
                    "message": message,
                }
            }),
        }
    }
}

fn status_name(status: u16) -> &'static str {
    match status {
        400 | 413 | 415 => "INVALID_ARGUMENT",
        401 => "UNAUTHENTICATED",
        403 => "PERMISSION_DENIED",
        404 => "NOT_FOUND",
        405 => "UNIMPLEMENTED",
        409 => "ALREADY_EXISTS",
        429 => "RESOURCE_EXHAUSTED",
        503 => "UNAVAILABLE",
        504 => "DEADLINE_EXCEEDED",
        _ => "INTERNAL",
    }
}
