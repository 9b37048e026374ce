//! The answer every deletion signal gets, whoever sends it (Svix, an Auth0 Event
//! Stream, a Postgres trigger, a Cloud Functions forwarder): a 2xx when the consumer
//! is gone, was never there, or is not ours (repeating cannot change that, so the
//! sender should stop), and a 503 when trying again later may succeed.

use serde_json::json;

use crate::deadline::Deadline;
use crate::provision::{Identity, ProvisionError, Provisioner, Removed};
use crate::reply::Reply;
use crate::telemetry::{Outcome, Report};

/// What removing one identity's consumer came to.
#[derive(Debug)]
pub enum Deletion {
    Done(Removed),
    /// A consumer under the identity's name that another user or another tool owns.
    NotOurs(ProvisionError),
    /// Zuplo or the secret failed; the sender should retry.
    Failed(ProvisionError),
}

impl Deletion {
    pub async fn run(provisioner: &Provisioner, identity: &Identity, deadline: Deadline) -> Self {
        match provisioner.remove(identity, deadline).await {
            Ok(removed) => Deletion::Done(removed),
            Err(e @ ProvisionError::NameTaken { .. }) => Deletion::NotOurs(e),
            Err(e) => Deletion::Failed(e),
        }
    }

    /// The HTTP answer, and the report for the log line and metrics. `context`
    /// prefixes the report's reason (why a deletion happened outside a deletion event).
    pub fn answer(self, identity: &Identity, context: &str) -> (Reply, Report) {
        let name = identity.consumer_name();
        let prefixed = |reason: String| format!("{context}{reason}");
        let (reply, report) = match self {
            Deletion::Done(removed) => {
                let report = Report::removal(&name, removed);
                let reason = prefixed(report.reason.clone().unwrap_or_default());
                let report = if reason.is_empty() {
                    report
                } else {
                    report.reason(reason)
                };
                (Reply::ok(json!({"status": removed.as_str()})), report)
            }
            Deletion::NotOurs(e) => (
                Reply::ok(json!({"status": "not ours"})),
                Report::new(Outcome::Refused).reason(prefixed(e.to_string())),
            ),
            Deletion::Failed(e) => (
                Reply::error(
                    503,
                    "Service Unavailable: the consumer could not be deleted now",
                ),
                Report::deferred(prefixed(e.to_string())),
            ),
        };
        let report = Report {
            consumer_name: Some(name.to_string()),
            ..report
        };
        (reply, report.user(identity.key.user_id()))
    }
}
