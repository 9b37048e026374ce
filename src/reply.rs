//! What a hook answers, independent of the transport that carries it.

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
    /// transport-level errors (404, 405, 413) on every route.
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

impl Reply {
    /// A Supabase hook's decision to refuse, in the shape the Auth server reads: always
    /// HTTP 200, since any other status reaches the user as an opaque 500.
    pub fn hook_error(http_code: u16, message: &str) -> Self {
        Reply {
            status: 200,
            body: json!({"error": {"http_code": http_code, "message": message}}),
        }
    }

    /// A Supabase-route failure that is not a decision (bad signature, misconfiguration):
    /// a real error status, with the same body shape.
    pub fn hook_failure(status: u16, message: &str) -> Self {
        Reply {
            status,
            body: json!({"error": {"http_code": status, "message": message}}),
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
