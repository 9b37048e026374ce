//! What each request did, told once: one log line and one CloudWatch Embedded Metric
//! Format (EMF) document per request, both built from the same [`Report`].
//!
//! EMF is written by hand rather than through `metrics_cloudwatch_embedded`: that crate
//! brings the `metrics` facade and its own Lambda service wrapper for what is, here, one
//! JSON object per request with a fixed set of metrics.

mod emf;

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use crate::provision::{self, Attempt, ConsumerName, FailMode, Removed};
pub use emf::emf;

/// How a request ended. Each has a metric, except the decisions that need none.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Outcome {
    /// A consumer is ready: created, reused or cached (the core's own outcome).
    Provisioned(provision::Outcome),
    /// Nothing to provision: the claim was present, or the user is anonymous.
    Skipped,
    /// A sign-up policy decision.
    Allowed,
    Refused,
    /// Refused before provisioning: bad route, token, signature or payload.
    #[default]
    Rejected,
    /// Provisioning failed; the answer followed `FAIL_MODE`.
    Failed(FailMode),
    /// A deleted user's consumer was deleted.
    Deleted,
    /// Provisioning, a write-back or a deletion failed, and the answer (a 503) tells
    /// the sender to try again: Svix and Auth0 redeliver, and the Auth0 Action applies
    /// its own fail mode.
    Deferred,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Provisioned(provision::Outcome::Created) => "created",
            Outcome::Provisioned(provision::Outcome::Reused) => "reused",
            Outcome::Provisioned(provision::Outcome::Cached) => "cached",
            Outcome::Skipped => "skipped",
            Outcome::Allowed => "allowed",
            Outcome::Refused => "refused",
            Outcome::Rejected => "rejected",
            Outcome::Failed(FailMode::Open) => "failed_open",
            Outcome::Failed(FailMode::Closed) => "failed_closed",
            Outcome::Deleted => "deleted",
            Outcome::Deferred => "deferred",
        }
    }

    fn metric(self) -> Option<&'static str> {
        match self {
            Outcome::Provisioned(provision::Outcome::Created) => Some("ConsumerCreated"),
            Outcome::Provisioned(provision::Outcome::Reused) => Some("ConsumerReused"),
            Outcome::Provisioned(provision::Outcome::Cached) => Some("ClaimCached"),
            Outcome::Failed(FailMode::Open) => Some("ProvisionFailedOpen"),
            Outcome::Failed(FailMode::Closed) => Some("ProvisionFailedClosed"),
            Outcome::Rejected => Some("RequestRejected"),
            Outcome::Deleted => Some("ConsumerDeleted"),
            Outcome::Deferred => Some("RequestDeferred"),
            Outcome::Skipped | Outcome::Allowed | Outcome::Refused => None,
        }
    }
}

/// Why a request was rejected: the `Reason` dimension of `RequestRejected`, a fixed
/// set by construction so that no typo makes a new CloudWatch dimension value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RejectReason {
    /// No such route.
    Route,
    /// Not a POST.
    Method,
    /// Body over the limit.
    Size,
    /// Not JSON.
    ContentType,
    /// Not the request shape, or an event type we do not handle.
    Payload,
    /// A blocking-function token of the wrong event type.
    EventType,
    /// A token that does not verify.
    Token,
    /// The signing keys for tokens are out of reach.
    CertsUnavailable,
    /// A webhook signature that does not verify.
    Signature,
    /// The secret needed to verify is out of reach.
    SecretUnavailable,
    /// The provider is not enabled.
    NotEnabled,
    /// The provider is misconfigured.
    Config,
}

impl RejectReason {
    pub fn as_str(self) -> &'static str {
        match self {
            RejectReason::Route => "route",
            RejectReason::Method => "method",
            RejectReason::Size => "size",
            RejectReason::ContentType => "content_type",
            RejectReason::Payload => "payload",
            RejectReason::EventType => "event_type",
            RejectReason::Token => "token",
            RejectReason::CertsUnavailable => "certs_unavailable",
            RejectReason::Signature => "signature",
            RejectReason::SecretUnavailable => "secret_unavailable",
            RejectReason::NotEnabled => "not_enabled",
            RejectReason::Config => "config",
        }
    }
}

/// What an adapter tells about the request it handled. Values are identifiers and
/// reasons only: never a token, key, signature or secret.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Report {
    pub outcome: Outcome,
    /// Why it was rejected or failed, for the log.
    pub reason: Option<String>,
    /// The category of a rejection, the metric dimension.
    pub reject_reason: Option<RejectReason>,
    /// Firebase `event_id`, or Supabase `metadata.uuid` (the same across retries).
    pub event_id: Option<String>,
    pub user_id: Option<String>,
    pub consumer_name: Option<String>,
    pub consumer_id: Option<String>,
    /// Time spent provisioning when Zuplo was called.
    pub zuplo: Option<Duration>,
}

impl Report {
    pub fn new(outcome: Outcome) -> Self {
        Report {
            outcome,
            ..Report::default()
        }
    }

    pub fn rejected(kind: RejectReason, reason: impl Into<String>) -> Self {
        Report {
            outcome: Outcome::Rejected,
            reject_reason: Some(kind),
            reason: Some(reason.into()),
            ..Report::default()
        }
    }

    pub fn reason(mut self, reason: impl Into<String>) -> Self {
        self.reason = Some(reason.into());
        self
    }

    pub fn event(mut self, event_id: Option<&str>) -> Self {
        self.event_id = event_id.filter(|e| !e.is_empty()).map(str::to_owned);
        self
    }

    pub fn user(mut self, user_id: &str) -> Self {
        self.user_id = Some(user_id.to_owned());
        self
    }

    /// What a provisioning attempt did, and how `mode` answered a failure.
    pub fn attempt(attempt: &Attempt, mode: FailMode) -> Self {
        match &attempt.result {
            Ok(p) => Report {
                outcome: Outcome::Provisioned(p.outcome),
                consumer_name: Some(p.consumer_name.to_string()),
                consumer_id: Some(p.consumer_id.to_string()),
                zuplo: (p.outcome != provision::Outcome::Cached).then_some(attempt.took),
                ..Report::default()
            },
            Err(e) => Report {
                outcome: Outcome::Failed(mode),
                consumer_name: Some(attempt.consumer_name.to_string()),
                reason: Some(e.to_string()),
                zuplo: Some(attempt.took),
                ..Report::default()
            },
        }
    }
}

impl Report {
    /// What a provisioning attempt did, for a route whose failures are the sender's to
    /// retry (a 503) rather than `FAIL_MODE`'s to decide.
    pub fn deferred_attempt(attempt: &Attempt) -> Self {
        let report = Report::attempt(attempt, FailMode::Closed);
        match report.outcome {
            Outcome::Failed(_) => Report {
                outcome: Outcome::Deferred,
                ..report
            },
            _ => report,
        }
    }

    /// A failure the sender is told to retry.
    pub fn deferred(reason: impl Into<String>) -> Self {
        Report::new(Outcome::Deferred).reason(reason)
    }

    /// What removing a consumer did; a failure is for the caller to report.
    pub fn removal(consumer_name: &ConsumerName, removed: Removed) -> Self {
        let report = match removed {
            Removed::Deleted => Report::new(Outcome::Deleted),
            Removed::Absent => Report::new(Outcome::Skipped).reason("no consumer to delete"),
        };
        Report {
            consumer_name: Some(consumer_name.to_string()),
            ..report
        }
    }
}

/// The request-level facts the entry layer adds to an adapter's [`Report`].
#[derive(Debug, Clone)]
pub struct RequestFacts<'a> {
    pub route: &'a str,
    pub request_id: &'a str,
    pub status: u16,
    pub elapsed: Duration,
    pub budget: Duration,
    /// Time left before the request's deadline when the answer was ready (none for
    /// requests refused before a deadline was set).
    pub headroom: Option<Duration>,
    pub cold_start: bool,
}

/// Where EMF documents go: stdout in Lambda (CloudWatch Logs extracts the metrics),
/// a buffer in tests, nowhere when disabled.
#[derive(Clone, Default)]
pub enum MetricsSink {
    #[default]
    Stdout,
    Memory(Arc<Mutex<Vec<String>>>),
    Off,
}

pub struct Telemetry {
    namespace: String,
    sink: MetricsSink,
}

impl Telemetry {
    pub fn new(namespace: String, sink: MetricsSink) -> Self {
        Telemetry { namespace, sink }
    }

    /// The request's one log line and one EMF document.
    pub fn record(&self, facts: &RequestFacts<'_>, report: &Report) {
        let ms = |d: Duration| d.as_millis() as u64;
        let message = "request";
        let fields = (
            facts.route,
            facts.request_id,
            facts.status,
            report.outcome.as_str(),
        );
        macro_rules! line {
            ($level:ident) => {
                tracing::$level!(
                    route = fields.0,
                    request_id = fields.1,
                    status = fields.2,
                    outcome = fields.3,
                    reason = report.reason.as_deref(),
                    event_id = report.event_id.as_deref(),
                    user_id = report.user_id.as_deref(),
                    consumer = report.consumer_name.as_deref(),
                    consumer_id = report.consumer_id.as_deref(),
                    zuplo_ms = report.zuplo.map(ms),
                    elapsed_ms = ms(facts.elapsed),
                    budget_ms = ms(facts.budget),
                    headroom_ms = facts.headroom.map(ms),
                    cold_start = facts.cold_start,
                    "{message}"
                )
            };
        }
        match report.outcome {
            Outcome::Failed(_) | Outcome::Rejected | Outcome::Deferred => line!(warn),
            _ => line!(info),
        }
        if matches!(self.sink, MetricsSink::Off) {
            return;
        }
        let document = emf(&self.namespace, facts, report, SystemTime::now()).to_string();
        match &self.sink {
            MetricsSink::Stdout => {
                // One write of a whole line, so that it is never interleaved with a log line.
                let mut out = std::io::stdout().lock();
                let _ = out.write_all(format!("{document}\n").as_bytes());
                let _ = out.flush();
            }
            MetricsSink::Memory(lines) => {
                if let Ok(mut lines) = lines.lock() {
                    lines.push(document);
                }
            }
            MetricsSink::Off => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_memory_sink_collects_one_document_per_request() {
        let lines = Arc::new(Mutex::new(Vec::new()));
        let telemetry = Telemetry::new("ZuploAuthHooks".into(), MetricsSink::Memory(lines.clone()));
        let facts = RequestFacts {
            route: "supabase/custom-access-token",
            request_id: "req-1",
            status: 200,
            elapsed: Duration::from_millis(120),
            budget: Duration::from_millis(4000),
            headroom: Some(Duration::from_millis(3880)),
            cold_start: false,
        };
        telemetry.record(
            &facts,
            &Report::new(Outcome::Provisioned(provision::Outcome::Cached)),
        );
        telemetry.record(
            &facts,
            &Report::new(Outcome::Provisioned(provision::Outcome::Created)),
        );
        let lines = lines.lock().unwrap();
        assert_eq!(lines.len(), 2);
        let doc: serde_json::Value = serde_json::from_str(&lines[0]).unwrap();
        assert_eq!(doc["ClaimCached"], 1);
    }
}
