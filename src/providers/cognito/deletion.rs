//! Cognito has no delete trigger. An EventBridge rule on CloudTrail's `AdminDeleteUser`
//! and `DeleteUser` records invokes the function directly (the SAM template's optional
//! `CognitoDeletionRule`); IAM decides who may invoke, so there is no signature.
//!
//! Best effort, as AWS says of CloudTrail events, and limited by what a record names:
//! the user pool (`requestParameters.userPoolId`) and the user's `sub`
//! (`additionalEventData.sub`, or a username that is a `sub`, as in pools whose
//! usernames are generated). A record that names neither is logged and left to a prune.

use std::sync::Arc;

use serde_json::{Value, json};

use crate::deadline::Deadline;
use crate::providers::deletion::Deletion;
use crate::providers::{DirectAnswer, DirectError};
use crate::provision::{Identity, Provisioner};
use crate::telemetry::{Outcome, Report};

/// The EventBridge envelope of a CloudTrail record.
pub const DETAIL_TYPE: &str = "AWS API Call via CloudTrail";
pub const SOURCE: &str = "aws.cognito-idp";
const DELETIONS: [&str; 2] = ["AdminDeleteUser", "DeleteUser"];

/// Whether `event` is an EventBridge delivery of a Cognito CloudTrail record.
pub fn is_cloudtrail_event(event: &Value) -> bool {
    event.get("source").and_then(Value::as_str) == Some(SOURCE)
        && event.get("detail-type").and_then(Value::as_str) == Some(DETAIL_TYPE)
        && event.get("detail").is_some_and(Value::is_object)
}

pub struct CognitoDeletion {
    provisioner: Arc<Provisioner>,
}

impl CognitoDeletion {
    pub fn new(provisioner: Arc<Provisioner>) -> Self {
        CognitoDeletion { provisioner }
    }

    pub async fn handle(&self, event: Value, deadline: Deadline) -> (DirectAnswer, Report) {
        let record = &event["detail"];
        let event_id = event.get("id").and_then(Value::as_str);
        let text = |pointer: &str| {
            record
                .pointer(pointer)
                .and_then(Value::as_str)
                .filter(|s| !s.is_empty())
        };
        let skipped = |status: &str, reason: String| {
            (
                Ok(json!({"status": status})),
                Report::new(Outcome::Skipped).reason(reason).event(event_id),
            )
        };
        let name = text("/eventName").unwrap_or("");
        if !DELETIONS.contains(&name) {
            return skipped(
                "ignored",
                format!("CloudTrail event {name} is not a deletion"),
            );
        }
        if let Some(code) = text("/errorCode") {
            // CloudTrail records failed calls too: this user still exists.
            return skipped(
                "ignored",
                format!("{name} failed ({code}): nothing was deleted"),
            );
        }
        let (Some(pool), Some(sub)) = (text("/requestParameters/userPoolId"), user_sub(record))
        else {
            tracing::warn!(
                event = name,
                "a Cognito deletion names no user pool or no sub: its consumer is left for a prune"
            );
            return skipped(
                "unresolved",
                format!("{name} names no user pool id or sub; left for a prune"),
            );
        };
        let identity = match super::user_key(pool, sub) {
            Ok(key) => Identity::new(key),
            Err(e) => return skipped("unresolved", e.to_string()),
        };
        let deletion = Deletion::run(&self.provisioner, &identity, deadline).await;
        let failed = matches!(deletion, Deletion::Failed(_));
        let (reply, report) = deletion.answer(&identity, "");
        let answer = if failed {
            // A function error makes Lambda retry the asynchronous invocation.
            Err(DirectError {
                error_type: "Unavailable",
                message: "the consumer could not be deleted now".into(),
            })
        } else {
            Ok(reply.body)
        };
        (answer, report.event(event_id))
    }
}

/// The deleted user's `sub`: named by CloudTrail, or the username when it is one.
fn user_sub(record: &Value) -> Option<&str> {
    record
        .pointer("/additionalEventData/sub")
        .and_then(Value::as_str)
        .filter(|s| looks_like_sub(s))
        .or_else(|| {
            record
                .pointer("/requestParameters/username")
                .and_then(Value::as_str)
                .filter(|s| looks_like_sub(s))
        })
}

/// A `sub` is a UUID: 36 characters, hex digits and four dashes.
fn looks_like_sub(s: &str) -> bool {
    s.len() == 36
        && s.char_indices().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => c == '-',
            _ => c.is_ascii_hexdigit(),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sub_comes_from_the_record_or_a_uuid_username() {
        let sub = "3f0c5a2e-9b1d-4c7a-8e6f-2a1b0c9d8e7f";
        assert_eq!(
            user_sub(
                &json!({"additionalEventData": {"sub": sub}, "requestParameters": {"username": "ada"}})
            ),
            Some(sub)
        );
        assert_eq!(
            user_sub(&json!({"requestParameters": {"username": sub}})),
            Some(sub)
        );
        assert_eq!(
            user_sub(&json!({"requestParameters": {"username": "ada@example.com"}})),
            None
        );
        assert_eq!(
            user_sub(&json!({"requestParameters": {"username": "HIDDEN_DUE_TO_SECURITY_REASONS"}})),
            None
        );
        assert!(!looks_like_sub("3f0c5a2e-9b1d-4c7a-8e6f-2a1b0c9d8e7"));
        assert!(!looks_like_sub("3f0c5a2e_9b1d-4c7a-8e6f-2a1b0c9d8e7f"));
    }

    #[test]
    fn only_cloudtrail_records_from_cognito_are_taken() {
        let record = json!({"source": SOURCE, "detail-type": DETAIL_TYPE, "detail": {}});
        assert!(is_cloudtrail_event(&record));
        let mut other = record.clone();
        other["source"] = "aws.s3".into();
        assert!(!is_cloudtrail_event(&other));
        assert!(!is_cloudtrail_event(
            &json!({"source": SOURCE, "detail-type": DETAIL_TYPE})
        ));
    }
}
