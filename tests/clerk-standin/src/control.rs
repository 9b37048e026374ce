//! The `/__standin/*` control endpoints, and the router that puts them in front of the API.
//!
//! They mirror the library controls for scripts driving the binary (the quick start,
//! shell-based checks), where there is no in-process [`crate::ClerkStandin`] handle. They need
//! no key and are neither recorded nor faulted, so that inspecting the stand-in never changes
//! what is being inspected.

use std::sync::Arc;

use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use serde_json::{Map, Value};

use crate::errors;
use crate::metadata::FIELDS;
use crate::state::{Metadata, Shared};
use crate::{Call, Fault, FaultAction, MetadataWrite, api};

pub(crate) fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/__standin/calls", get(calls))
        .route("/__standin/writes", get(writes))
        .route("/__standin/users", get(users).post(add_user))
        .route("/__standin/users/{id}", delete(remove_user))
        .route("/__standin/faults", post(push_fault))
        .route("/__standin/reset", post(reset))
        .fallback(api::handle)
        .with_state(shared)
}

async fn calls(State(shared): State<Arc<Shared>>) -> Json<Vec<Call>> {
    Json(shared.calls())
}

async fn writes(State(shared): State<Arc<Shared>>) -> Json<Vec<MetadataWrite>> {
    Json(shared.metadata_writes())
}

async fn users(State(shared): State<Arc<Shared>>) -> Json<Vec<Value>> {
    Json(shared.users())
}

fn control_error(status: StatusCode, detail: &str) -> Response {
    errors::error(
        status,
        "standin_control_invalid",
        "invalid control request",
        detail,
    )
}

/// `{"id":"user_…"}`, optionally with initial metadata objects under the API's field names.
fn parse_new_user(body: &[u8]) -> Result<(String, Metadata), String> {
    let value: Value =
        serde_json::from_slice(body).map_err(|e| format!("the body is not valid JSON: {e}"))?;
    let Value::Object(mut object) = value else {
        return Err("the body must be a JSON object like {\"id\":\"user_1\"}".to_owned());
    };
    let id = match object.remove("id") {
        Some(Value::String(id)) if !id.is_empty() && !id.contains('/') => id,
        _ => return Err("\"id\" must be a non-empty string without '/'".to_owned()),
    };
    let mut take = |name: &str| -> Result<Map<String, Value>, String> {
        match object.remove(name) {
            None => Ok(Map::new()),
            Some(Value::Object(map)) => Ok(map),
            Some(_) => Err(format!("\"{name}\" must be a JSON object")),
        }
    };
    let metadata = Metadata {
        public: take(FIELDS[0])?,
        private: take(FIELDS[1])?,
        unsafe_: take(FIELDS[2])?,
    };
    if let Some(unknown) = object.keys().next() {
        return Err(format!("unknown field \"{unknown}\""));
    }
    Ok((id, metadata))
}

async fn add_user(State(shared): State<Arc<Shared>>, body: Bytes) -> Response {
    let (id, metadata) = match parse_new_user(&body) {
        Ok(parsed) => parsed,
        Err(detail) => return control_error(StatusCode::BAD_REQUEST, &detail),
    };
    if !shared.add_user(&id, metadata) {
        return control_error(StatusCode::CONFLICT, &format!("user {id} already exists"));
    }
    match shared.user(&id) {
        Some(user) => (StatusCode::CREATED, Json(user)).into_response(),
        // Only if a concurrent reset or delete removed it in between.
        None => control_error(
            StatusCode::CONFLICT,
            &format!("user {id} was removed meanwhile"),
        ),
    }
}

async fn remove_user(State(shared): State<Arc<Shared>>, Path(id): Path<String>) -> Response {
    if shared.remove_user(&id) {
        StatusCode::NO_CONTENT.into_response()
    } else {
        errors::not_found()
    }
}

async fn push_fault(State(shared): State<Arc<Shared>>, body: Bytes) -> Response {
    let fault: Fault = match serde_json::from_slice(&body) {
        Ok(fault) => fault,
        Err(e) => return control_error(StatusCode::BAD_REQUEST, &format!("invalid fault: {e}")),
    };
    if let FaultAction::Status { status, .. } = fault.action
        && StatusCode::from_u16(status).is_err()
    {
        return control_error(
            StatusCode::BAD_REQUEST,
            &format!("invalid fault: {status} is not an HTTP status code"),
        );
    }
    shared.push_fault(fault);
    StatusCode::NO_CONTENT.into_response()
}

async fn reset(State(shared): State<Arc<Shared>>) -> StatusCode {
    shared.reset();
    StatusCode::NO_CONTENT
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn new_user_body_takes_an_id_and_optional_metadata() {
        let (id, metadata) = parse_new_user(br#"{"id":"user_1"}"#).unwrap();
        assert_eq!(id, "user_1");
        assert_eq!(metadata, Metadata::default());
        let (_, metadata) =
            parse_new_user(br#"{"id":"user_2","private_metadata":{"plan":"pro"}}"#).unwrap();
        assert_eq!(Value::Object(metadata.private), json!({"plan": "pro"}));
        for bad in [
            &b"nope"[..],
            b"[]",
            b"{}",
            br#"{"id":""}"#,
            br#"{"id":"a/b"}"#,
            br#"{"id":7}"#,
            br#"{"id":"u","public_metadata":[]}"#,
            br#"{"id":"u","extra":1}"#,
        ] {
            assert!(
                parse_new_user(bad).is_err(),
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
    }
}
