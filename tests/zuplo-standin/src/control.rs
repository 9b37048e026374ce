//! The `/__standin/*` control endpoints, and the router that puts them in front of the API.
//!
//! They mirror the library controls for tests that drive the binary from a script (the
//! quick start, shell-based checks), where there is no in-process [`crate::Standin`] handle.
//! They need no token and are neither recorded nor faulted, so that inspecting the stand-in
//! never changes what is being inspected.

use std::sync::Arc;

use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};

use crate::problem::problem;
use crate::state::Shared;
use crate::{Call, Fault, FaultAction, StoredConsumer, api};

pub(crate) fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/__standin/calls", get(calls))
        .route("/__standin/consumers", get(consumers))
        .route("/__standin/faults", post(push_fault))
        .route("/__standin/reset", post(reset))
        .fallback(api::handle)
        .with_state(shared)
}

async fn calls(State(shared): State<Arc<Shared>>) -> Json<Vec<Call>> {
    Json(shared.calls())
}

async fn consumers(State(shared): State<Arc<Shared>>) -> Json<Vec<StoredConsumer>> {
    Json(shared.consumers())
}

async fn push_fault(State(shared): State<Arc<Shared>>, body: Bytes) -> Response {
    const PATH: &str = "/__standin/faults";
    let fault: Fault = match serde_json::from_slice(&body) {
        Ok(fault) => fault,
        Err(e) => return problem(StatusCode::BAD_REQUEST, format!("invalid fault: {e}"), PATH),
    };
    if let FaultAction::Status { status, .. } = fault.action
        && StatusCode::from_u16(status).is_err()
    {
        return problem(
            StatusCode::BAD_REQUEST,
            format!("invalid fault: {status} is not an HTTP status code"),
            PATH,
        );
    }
    shared.push_fault(fault);
    StatusCode::NO_CONTENT.into_response()
}

async fn reset(State(shared): State<Arc<Shared>>) -> StatusCode {
    shared.reset();
    StatusCode::NO_CONTENT
}
