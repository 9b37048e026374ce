//! The CloudWatch Embedded Metric Format (EMF) document of one request.

use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{Map, Value, json};

use super::{Outcome, Report, RequestFacts};

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
            report.reject_reason.map_or("other", |r| r.as_str()).into(),
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
    use crate::provision::{self, FailMode};
    use crate::telemetry::RejectReason;
    use std::time::Duration;

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
        let mut report = Report::new(Outcome::Provisioned(provision::Outcome::Created));
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
            (
                Outcome::Provisioned(provision::Outcome::Reused),
                Some("ConsumerReused"),
            ),
            (
                Outcome::Provisioned(provision::Outcome::Cached),
                Some("ClaimCached"),
            ),
            (Outcome::Failed(FailMode::Open), Some("ProvisionFailedOpen")),
            (
                Outcome::Failed(FailMode::Closed),
                Some("ProvisionFailedClosed"),
            ),
            (Outcome::Deleted, Some("ConsumerDeleted")),
            (Outcome::Deferred, Some("RequestDeferred")),
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
        let mut report = Report::new(Outcome::Failed(FailMode::Open));
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
            &Report::rejected(RejectReason::Token, "x"),
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
            &Report::new(Outcome::Failed(FailMode::Open)),
            SystemTime::now(),
        );
        assert_valid_emf(&doc);
        assert_eq!(doc["DeadlineMissed"], 1);
        let doc = emf(
            "ZuploAuthHooks",
            &facts(false),
            &Report::new(Outcome::Provisioned(provision::Outcome::Created)),
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
            &Report::rejected(RejectReason::Route, "404"),
            SystemTime::now(),
        );
        assert_valid_emf(&doc);
        for d in doc["_aws"]["CloudWatchMetrics"].as_array().unwrap() {
            assert!(!d["Metrics"].as_array().unwrap().is_empty(), "{doc}");
        }
    }

    #[test]
    fn rejections_carry_their_reason_as_a_dimension() {
        let report = Report::rejected(RejectReason::Signature, "no v1 signature matches");
        let doc = emf("ZuploAuthHooks", &facts(false), &report, SystemTime::now());
        assert_valid_emf(&doc);
        assert_eq!(doc["RequestRejected"], 1);
        assert_eq!(doc["Reason"], "signature");
        // The free-text reason stays in the log line, out of the metrics.
        assert!(!doc.to_string().contains("no v1 signature"));
    }
}
