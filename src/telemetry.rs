//! What each request did, told once: one log line and one CloudWatch Embedded Metric
//! Format (EMF) document per request, both built from the same [`Report`].
//!
//! EMF is written by hand rather than through `metrics_cloudwatch_embedded`: that crate
//! brings the `metrics` facade and its own Lambda service wrapper for what is, here, one
//! JSON object per request with a fixed set of metrics.

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::{Map, Value, json};

use crate::config::FailMode;
use crate::provision::{self, Provisioned};

/// How a request ended. Each has a metric, except the decisions that need none.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Outcome {
    /// A consumer was created for this user.
    Created,
    /// The user's consumer existed in Zuplo already.
    Reused,
    /// Answered from the container's memory.
    Cached,
    /// Nothing to provision: the claim was present, or the user is anonymous.
    Skipped,
    /// A before-user-created decision.
    Allowed,
    Refused,
    /// Refused before provisioning: bad route, token, signature or payload.
    #[default]
    Rejected,
    /// Provisioning failed; the answer followed `FAIL_MODE`.
    FailedOpen,
    FailedClosed,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Created => "created",
            Outcome::Reused => "reused",
            Outcome::Cached => "cached",
            Outcome::Skipped => "skipped",
            Outcome::Allowed => "allowed",
            Outcome::Refused => "refused",
            Outcome::Rejected => "rejected",
            Outcome::FailedOpen => "failed_open",
            Outcome::FailedClosed => "failed_closed",
        }
    }

    fn metric(self) -> Option<&'static str> {
        match self {
            Outcome::Created => Some("ConsumerCreated"),
            Outcome::Reused => Some("ConsumerReused"),
            Outcome::Cached => Some("ClaimCached"),
            Outcome::FailedOpen => Some("ProvisionFailedOpen"),
            Outcome::FailedClosed => Some("ProvisionFailedClosed"),
            Outcome::Rejected => Some("RequestRejected"),
            Outcome::Skipped | Outcome::Allowed | Outcome::Refused => None,
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
    /// A short, fixed category of a rejection (`signature`, `token`, `payload`, …),
    /// the metric dimension: low cardinality by construction.
    pub reject_kind: Option<&'static str>,
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

    pub fn rejected(kind: &'static str, reason: impl Into<String>) -> Self {
        Report {
            outcome: Outcome::Rejected,
            reject_kind: Some(kind),
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

    /// A consumer is ready; `took` is the time the provisioning core spent.
    pub fn provisioned(p: &Provisioned, took: Duration) -> Self {
        let outcome = match p.outcome {
            provision::Outcome::Created => Outcome::Created,
            provision::Outcome::Reused => Outcome::Reused,
            provision::Outcome::Cached => Outcome::Cached,
        };
        Report {
            outcome,
            consumer_name: Some(p.consumer_name.clone()),
            consumer_id: Some(p.consumer_id.clone()),
            zuplo: (outcome != Outcome::Cached).then_some(took),
            ..Report::default()
        }
    }

    /// Provisioning failed and the answer followed `mode`.
    pub fn failed(mode: FailMode, consumer_name: String, reason: String, took: Duration) -> Self {
        Report {
            outcome: match mode {
                FailMode::Open => Outcome::FailedOpen,
                FailMode::Closed => Outcome::FailedClosed,
            },
            consumer_name: Some(consumer_name),
            reason: Some(reason),
            zuplo: Some(took),
            ..Report::default()
        }
    }
}

/// The request-level facts the HTTP layer adds to an adapter's [`Report`].
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

    pub fn set_sink(&mut self, sink: MetricsSink) {
        self.sink = sink;
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
            Outcome::FailedOpen | Outcome::FailedClosed | Outcome::Rejected => line!(warn),
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

/// The EMF document of one request. Every metric is published without dimensions (for
/// alarms and dashboards over the whole function: the alarms depend on the `[]` set)
/// and per `Route`; `RequestRejected` also per `Reason`.
pub fn emf(namespace: &str, facts: &RequestFacts<'_>, report: &Report, now: SystemTime) -> Value {
    let mut values = Map::new();
    let mut metrics = Vec::new();
    let mut put = |name: &str, unit: &str, value: u64| {
        metrics.push(json!({"Name": name, "Unit": unit}));
        values.insert(name.to_owned(), value.into());
    };
    let rejected = report.outcome == Outcome::Rejected;
    if let Some(name) = report.outcome.metric().filter(|_| !rejected) {
        put(name, "Count", 1);
    }
    if let Some(zuplo) = report.zuplo {
        put("ZuploLatencyMs", "Milliseconds", zuplo.as_millis() as u64);
    }
    if let Some(headroom) = facts.headroom {
        put(
            "DeadlineHeadroomMs",
            "Milliseconds",
            headroom.as_millis() as u64,
        );
        // Headroom stops at zero: an answer at or past the deadline is counted apart.
        if headroom.is_zero() {
            put("DeadlineMissed", "Count", 1);
        }
    }
    if facts.cold_start {
        put("ColdStart", "Count", 1);
    }
    let mut directives = Vec::new();
    if !metrics.is_empty() {
        directives.push(json!({
            "Namespace": namespace,
            "Dimensions": [[], ["Route"]],
            "Metrics": metrics,
        }));
    }
    if rejected {
        directives.push(json!({
            "Namespace": namespace,
            "Dimensions": [[], ["Route"], ["Reason"]],
            "Metrics": [{"Name": "RequestRejected", "Unit": "Count"}],
        }));
        values.insert("RequestRejected".into(), 1.into());
        values.insert(
            "Reason".into(),
            report.reject_kind.unwrap_or("other").into(),
        );
    }
    let timestamp = now
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64);
    let mut document = Map::new();
    document.insert(
        "_aws".into(),
        json!({"Timestamp": timestamp, "CloudWatchMetrics": directives}),
    );
    document.insert("Route".into(), facts.route.into());
    document.insert("requestId".into(), facts.request_id.into());
    document.insert("outcome".into(), report.outcome.as_str().into());
    document.extend(values);
    Value::Object(document)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts(cold_start: bool) -> RequestFacts<'static> {
        RequestFacts {
            route: "supabase/custom-access-token",
            request_id: "req-1",
            status: 200,
            elapsed: Duration::from_millis(120),
            budget: Duration::from_millis(4000),
            headroom: Some(Duration::from_millis(3880)),
            cold_start,
        }
    }

    /// Every metric named in a directive has a numeric value at the top level, and
    /// every dimension named has a string value: what CloudWatch requires to extract.
    fn assert_valid_emf(doc: &Value) {
        let directives = doc["_aws"]["CloudWatchMetrics"].as_array().unwrap();
        assert!(doc["_aws"]["Timestamp"].as_u64().unwrap() > 1_700_000_000_000);
        for d in directives {
            assert_eq!(d["Namespace"], "ZuploAuthHooks");
            for metric in d["Metrics"].as_array().unwrap() {
                let name = metric["Name"].as_str().unwrap();
                assert!(doc[name].is_u64(), "{name} has no value in {doc}");
            }
            for set in d["Dimensions"].as_array().unwrap() {
                for dim in set.as_array().unwrap() {
                    assert!(doc[dim.as_str().unwrap()].is_string(), "{dim}");
                }
            }
        }
    }

    #[test]
    fn a_created_consumer_counts_with_latency_and_headroom() {
        let mut report = Report::new(Outcome::Created);
        report.zuplo = Some(Duration::from_millis(87));
        let doc = emf("ZuploAuthHooks", &facts(true), &report, SystemTime::now());
        assert_valid_emf(&doc);
        assert_eq!(doc["ConsumerCreated"], 1);
        assert_eq!(doc["ZuploLatencyMs"], 87);
        assert_eq!(doc["DeadlineHeadroomMs"], 3880);
        assert_eq!(doc["ColdStart"], 1);
        assert_eq!(doc["Route"], "supabase/custom-access-token");
        assert!(doc.get("RequestRejected").is_none());
    }

    #[test]
    fn each_outcome_maps_to_its_metric() {
        for (outcome, metric) in [
            (Outcome::Reused, Some("ConsumerReused")),
            (Outcome::Cached, Some("ClaimCached")),
            (Outcome::FailedOpen, Some("ProvisionFailedOpen")),
            (Outcome::FailedClosed, Some("ProvisionFailedClosed")),
            (Outcome::Skipped, None),
            (Outcome::Allowed, None),
        ] {
            let doc = emf(
                "ZuploAuthHooks",
                &facts(false),
                &Report::new(outcome),
                SystemTime::now(),
            );
            assert_valid_emf(&doc);
            if let Some(metric) = metric {
                assert_eq!(doc[metric], 1, "{outcome:?}");
            }
            assert!(doc.get("ColdStart").is_none());
            assert!(doc.get("ZuploLatencyMs").is_none());
        }
    }

    /// Which dimension sets publish `metric` in `doc`.
    fn dimension_sets(doc: &Value, metric: &str) -> Vec<Value> {
        doc["_aws"]["CloudWatchMetrics"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|d| {
                d["Metrics"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|m| m["Name"] == metric)
            })
            .flat_map(|d| d["Dimensions"].as_array().unwrap().clone())
            .collect()
    }

    #[test]
    fn every_metric_is_published_without_dimensions_and_per_route() {
        let mut report = Report::new(Outcome::FailedOpen);
        report.zuplo = Some(Duration::from_millis(5));
        let doc = emf("ZuploAuthHooks", &facts(true), &report, SystemTime::now());
        for metric in [
            "ProvisionFailedOpen",
            "ZuploLatencyMs",
            "DeadlineHeadroomMs",
            "ColdStart",
        ] {
            let sets = dimension_sets(&doc, metric);
            assert!(
                sets.contains(&json!([])),
                "{metric}: the alarms need the [] set"
            );
            assert!(sets.contains(&json!(["Route"])), "{metric}");
        }
        let rejected = emf(
            "ZuploAuthHooks",
            &facts(false),
            &Report::rejected("token", "x"),
            SystemTime::now(),
        );
        let sets = dimension_sets(&rejected, "RequestRejected");
        for set in [json!([]), json!(["Route"]), json!(["Reason"])] {
            assert!(sets.contains(&set), "{set}");
        }
    }

    #[test]
    fn an_answer_with_no_time_left_counts_as_a_missed_deadline() {
        let mut late = facts(false);
        late.headroom = Some(Duration::ZERO);
        let doc = emf(
            "ZuploAuthHooks",
            &late,
            &Report::new(Outcome::FailedOpen),
            SystemTime::now(),
        );
        assert_valid_emf(&doc);
        assert_eq!(doc["DeadlineMissed"], 1);
        let doc = emf(
            "ZuploAuthHooks",
            &facts(false),
            &Report::new(Outcome::Created),
            SystemTime::now(),
        );
        assert!(doc.get("DeadlineMissed").is_none());
    }

    #[test]
    fn a_request_refused_before_routing_has_no_empty_directive() {
        let mut unrouted = facts(false);
        unrouted.headroom = None;
        unrouted.route = "unknown";
        let doc = emf(
            "ZuploAuthHooks",
            &unrouted,
            &Report::rejected("route", "404"),
            SystemTime::now(),
        );
        assert_valid_emf(&doc);
        for d in doc["_aws"]["CloudWatchMetrics"].as_array().unwrap() {
            assert!(!d["Metrics"].as_array().unwrap().is_empty(), "{doc}");
        }
    }

    #[test]
    fn rejections_carry_their_reason_as_a_dimension() {
        let report = Report::rejected("signature", "no v1 signature matches");
        let doc = emf("ZuploAuthHooks", &facts(false), &report, SystemTime::now());
        assert_valid_emf(&doc);
        assert_eq!(doc["RequestRejected"], 1);
        assert_eq!(doc["Reason"], "signature");
        // The free-text reason stays in the log line, out of the metrics.
        assert!(!doc.to_string().contains("no v1 signature"));
    }

    #[test]
    fn the_memory_sink_collects_one_document_per_request() {
        let lines = Arc::new(Mutex::new(Vec::new()));
        let telemetry = Telemetry::new("ZuploAuthHooks".into(), MetricsSink::Memory(lines.clone()));
        telemetry.record(&facts(false), &Report::new(Outcome::Cached));
        telemetry.record(&facts(false), &Report::new(Outcome::Created));
        let lines = lines.lock().unwrap();
        assert_eq!(lines.len(), 2);
        let doc: Value = serde_json::from_str(&lines[0]).unwrap();
        assert_eq!(doc["ClaimCached"], 1);
    }
}
