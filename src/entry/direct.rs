//! Direct invocations: events Lambda hands over without HTTP, recognised by their
//! shape (a Cognito user pool trigger by `triggerSource`, an EventBridge event by
//! `detail-type`). Their answer is the invocation's result; a refusal is a Lambda
//! error, which the invoking service reports as such.

use std::time::Duration;

use lambda_runtime::{Context, Diagnostic};
use serde_json::Value;

use crate::app::App;
use crate::telemetry::{Outcome, RejectReason, Report, RequestFacts};

/// `errorType` of an event no provider handles.
pub const UNSUPPORTED: &str = "UnsupportedEvent";

/// What kind of direct event this is, as far as its envelope tells.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// An Amazon Cognito user pool trigger, with its `triggerSource`.
    Cognito(String),
    /// An EventBridge event, with its `detail-type`.
    EventBridge(String),
    Unknown,
}

impl Source {
    pub fn of(event: &Value) -> Self {
        let text = |field: &str| event.get(field).and_then(Value::as_str).map(str::to_owned);
        if let Some(trigger) = text("triggerSource") {
            Source::Cognito(trigger)
        } else if let Some(detail_type) = text("detail-type") {
            Source::EventBridge(detail_type)
        } else {
            Source::Unknown
        }
    }
}

pub async fn handle(app: &App, event: Value, context: &Context) -> Result<Value, Diagnostic> {
    let started = tokio::time::Instant::now();
    let cold_start = app.clock().take_first_request();
    let taken = app
        .doors()
        .iter()
        .find_map(|door| door.direct_route(&event).map(|route| (door, route)));
    let Some((door, route)) = taken else {
        return unsupported(app, &event, context, started, cold_start);
    };
    let budget = door.budget();
    let deadline = app
        .clock()
        .request_deadline(budget, context.deadline, cold_start);
    let (answer, report) = door.handle_direct(route, event, deadline).await;
    // For the log line only: a direct invocation has no status of its own.
    let status = match (&answer, report.outcome) {
        (Ok(_), _) => 200,
        (Err(_), Outcome::Refused) => 403,
        (Err(_), Outcome::Failed(_)) => 503,
        (Err(_), _) => 400,
    };
    app.telemetry().record(
        &RequestFacts {
            route: route.name,
            request_id: &context.request_id,
            status,
            elapsed: started.elapsed(),
            budget,
            headroom: Some(deadline.remaining()),
            cold_start,
        },
        &report,
    );
    answer.map_err(|e| Diagnostic {
        error_type: e.error_type.to_owned(),
        error_message: e.message,
    })
}

fn unsupported(
    app: &App,
    event: &Value,
    context: &Context,
    started: tokio::time::Instant,
    cold_start: bool,
) -> Result<Value, Diagnostic> {
    let source = Source::of(event);
    // The log shows the event's shape (its top-level field names and the source's own
    // label), never its values.
    tracing::warn!(
        source = %describe(&source),
        fields = %shape(event),
        "unsupported direct invocation"
    );
    app.telemetry().record(
        &RequestFacts {
            route: "direct",
            request_id: &context.request_id,
            status: 400,
            elapsed: started.elapsed(),
            budget: Duration::ZERO,
            headroom: None,
            cold_start,
        },
        &Report::rejected(RejectReason::Payload, "unsupported direct invocation"),
    );
    Err(Diagnostic {
        error_type: UNSUPPORTED.to_owned(),
        error_message: "Unsupported event".to_owned(),
    })
}

/// A label for the log: the trigger or detail type when it looks like one (letters,
/// digits, `_`, `.`, `-`, space), else a placeholder, so nothing a caller wrote can
/// forge a log field.
fn describe(source: &Source) -> String {
    let label = |kind: &str, value: &str| {
        let plain = value.len() <= 64
            && value
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"_.- ".contains(&b));
        format!("{kind}:{}", if plain { value } else { "(unreadable)" })
    };
    match source {
        Source::Cognito(trigger) => label("cognito", trigger),
        Source::EventBridge(detail_type) => label("eventbridge", detail_type),
        Source::Unknown => "unknown".to_owned(),
    }
}

/// The top-level field names of a JSON object, or the JSON type of anything else.
fn shape(event: &Value) -> String {
    match event {
        Value::Object(map) => {
            let names: Vec<&str> = map
                .keys()
                .take(20)
                .map(|k| {
                    if k.len() <= 40 && k.bytes().all(|b| b.is_ascii_graphic()) {
                        k.as_str()
                    } else {
                        "?"
                    }
                })
                .collect();
            format!("{{{}}}", names.join(","))
        }
        Value::Array(_) => "array".to_owned(),
        Value::String(_) => "string".to_owned(),
        Value::Number(_) => "number".to_owned(),
        Value::Bool(_) => "bool".to_owned(),
        Value::Null => "null".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn sources_are_told_by_their_envelope() {
        assert_eq!(
            Source::of(&json!({"triggerSource": "PreSignUp_SignUp"})),
            Source::Cognito("PreSignUp_SignUp".into())
        );
        assert_eq!(
            Source::of(&json!({"detail-type": "AWS API Call via CloudTrail"})),
            Source::EventBridge("AWS API Call via CloudTrail".into())
        );
        assert_eq!(Source::of(&json!({"x": 1})), Source::Unknown);
        assert_eq!(Source::of(&json!([1])), Source::Unknown);
    }

    #[test]
    fn the_log_shows_shapes_never_values() {
        let event = json!({"triggerSource": "x\ny=1", "secret": "zpka_hidden"});
        assert_eq!(describe(&Source::of(&event)), "cognito:(unreadable)");
        let shown = shape(&event);
        assert!(
            shown.contains("secret") && !shown.contains("zpka_hidden"),
            "{shown}"
        );
        assert_eq!(shape(&json!("text")), "string");
    }
}
