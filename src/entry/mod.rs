//! How an event gets in: the only code that knows Lambda's envelopes.
//!
//! Lambda hands the function a JSON event. A Function URL (or API Gateway v2) request
//! always arrives wrapped in an HTTP envelope with `requestContext.http`, whatever its
//! caller put in the path or body; anything else was invoked directly (a Cognito user
//! pool trigger carries `triggerSource`, an EventBridge event `detail-type`). The
//! dispatch looks at that envelope only, never at a path, so no HTTP caller can make
//! its request look like a direct invocation.
//!
//! The event stays a JSON value until a provider reads it: no conversion into a typed
//! HTTP request that could panic on an odd header (`lambda_http` 1.3.2 does, on some
//! `Host` and `X-Forwarded-Proto` values), so a malformed request costs one error
//! answer, never the process.

pub mod budget;
pub mod direct;
pub mod http;

use lambda_runtime::{Diagnostic, LambdaEvent};
use serde_json::Value;

use crate::app::App;

/// What Lambda handed over, told apart by its envelope.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Envelope {
    /// A Function URL or API Gateway v2 request.
    Http,
    /// Anything else: an event Lambda was invoked with directly.
    Direct,
}

impl Envelope {
    pub fn of(event: &Value) -> Self {
        if event
            .get("requestContext")
            .and_then(|c| c.get("http"))
            .is_some_and(Value::is_object)
        {
            Envelope::Http
        } else {
            Envelope::Direct
        }
    }
}

/// The function's one handler: the binary runs it for every event.
pub async fn handle(app: &App, event: LambdaEvent<Value>) -> Result<Value, Diagnostic> {
    let (payload, context) = event.into_parts();
    match Envelope::of(&payload) {
        Envelope::Http => Ok(http::handle(app, &payload, &context).await),
        Envelope::Direct => direct::handle(app, payload, &context).await,
    }
}
