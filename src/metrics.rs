//! CloudWatch metrics in Embedded Metric Format: JSON lines on stdout that CloudWatch Logs
//! turns into metrics, so metrics cost no API call and no latency in the function.

use crate::handler::Outcome;
use registrar_core::report::Report;
use serde_json::{Value, json};
use std::collections::BTreeMap;

pub const DEFAULT_NAMESPACE: &str = "GluePartitionRegistrar";

/// The variables read here (besides `AWS_LAMBDA_FUNCTION_NAME`, which Lambda sets).
pub const ENV_VARS: [&str; 2] = ["METRICS_NAMESPACE", "METRICS_PER_TABLE"];

/// Where metrics go and how they are keyed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetricsConfig {
    pub namespace: String,
    /// The value of the `FunctionName` dimension on invocation totals.
    pub function_name: String,
    /// Also emit per-table partition counts, with a `Table` dimension (`database.table`).
    pub per_table: bool,
}

impl MetricsConfig {
    /// `METRICS_NAMESPACE`, `METRICS_PER_TABLE` and the function name Lambda sets.
    pub fn from_env() -> Self {
        let var = |n: &str| std::env::var(n).ok().filter(|v| !v.trim().is_empty());
        Self {
            namespace: var("METRICS_NAMESPACE").unwrap_or_else(|| DEFAULT_NAMESPACE.to_owned()),
            function_name: var("AWS_LAMBDA_FUNCTION_NAME").unwrap_or_else(|| "cli".to_owned()),
            per_table: var("METRICS_PER_TABLE")
                .is_none_or(|v| v.trim().eq_ignore_ascii_case("true")),
        }
    }
}

fn document(
    config: &MetricsConfig,
    timestamp_ms: u128,
    dimension: (&str, &str),
    metrics: &[(&str, &str, f64)],
) -> Value {
    let mut doc = json!({
        "_aws": {
            "Timestamp": timestamp_ms as u64,
            "CloudWatchMetrics": [{
                "Namespace": config.namespace,
                "Dimensions": [[dimension.0]],
                "Metrics": metrics.iter().map(|(name, unit, _)| json!({"Name": name, "Unit": unit})).collect::<Vec<_>>(),
            }]
        },
    });
    let map = doc.as_object_mut().expect("object");
    map.insert(dimension.0.to_owned(), json!(dimension.1));
    for (name, _, value) in metrics {
        map.insert((*name).to_owned(), json!(value));
    }
    doc
}

/// The EMF documents for one invocation: totals by function, partitions by table, skipped
/// objects by reason (a bounded set, so the dimension stays cheap). `request_id`, when given,
/// rides along as a plain property so a metric can be traced to its invocation's logs.
pub fn documents(
    config: &MetricsConfig,
    outcome: &Outcome,
    timestamp_ms: u128,
    request_id: Option<&str>,
) -> Vec<Value> {
    let report = &outcome.report;
    let stats = &outcome.stats;
    let mut docs = vec![document(
        config,
        timestamp_ms,
        ("FunctionName", &config.function_name),
        &[
            ("ObjectsSeen", "Count", stats.objects_seen as f64),
            ("PartitionsCreated", "Count", report.created.len() as f64),
            ("PartitionsExisting", "Count", report.existing.len() as f64),
            ("PartitionsDeleted", "Count", report.deleted.len() as f64),
            ("ObjectsSkipped", "Count", report.skipped.len() as f64),
            ("ObjectsFailed", "Count", report.failed.len() as f64),
            ("SchemaDrift", "Count", report.schema_drift.len() as f64),
            ("GlueRequests", "Count", stats.glue_requests.total() as f64),
            (
                "GlueThrottles",
                "Count",
                stats.glue_requests.throttles as f64,
            ),
            (
                "HandlerDuration",
                "Milliseconds",
                stats.duration.as_secs_f64() * 1000.0,
            ),
        ],
    )];
    if config.per_table {
        let mut tables: BTreeMap<String, (usize, usize)> = BTreeMap::new();
        for e in &report.created {
            tables
                .entry(format!("{}.{}", e.database, e.table))
                .or_default()
                .0 += 1;
        }
        for e in &report.existing {
            tables
                .entry(format!("{}.{}", e.database, e.table))
                .or_default()
                .1 += 1;
        }
        for (table, (created, existing)) in tables {
            docs.push(document(
                config,
                timestamp_ms,
                ("Table", &table),
                &[
                    ("PartitionsCreated", "Count", created as f64),
                    ("PartitionsExisting", "Count", existing as f64),
                ],
            ));
        }
    }
    let mut reasons: BTreeMap<&str, usize> = BTreeMap::new();
    for s in &report.skipped {
        *reasons.entry(s.kind).or_default() += 1;
    }
    for (reason, n) in reasons {
        docs.push(document(
            config,
            timestamp_ms,
            ("Reason", reason),
            &[("ObjectsSkipped", "Count", n as f64)],
        ));
    }
    if let Some(id) = request_id {
        for doc in &mut docs {
            doc["requestId"] = json!(id);
        }
    }
    docs
}

/// The EMF document of a scheduled repair (a backfill or sync request): that it ran, and
/// how many partitions it could not handle (a failed run counts one), so an alarm can tell
/// a repair that failed or never ran.
pub fn repair_document(
    config: &MetricsConfig,
    report: Option<&Report>,
    timestamp_ms: u128,
    request_id: Option<&str>,
) -> Value {
    let failures = report.map_or(1, |r| r.failed.len() + usize::from(r.stopped.is_some()));
    let count = |f: fn(&Report) -> usize| report.map_or(0, f) as f64;
    let mut doc = document(
        config,
        timestamp_ms,
        ("FunctionName", &config.function_name),
        &[
            ("RepairRuns", "Count", 1.0),
            ("RepairFailures", "Count", failures as f64),
            (
                "RepairPartitionsCreated",
                "Count",
                count(|r| r.created.len()),
            ),
            (
                "RepairPartitionsDeleted",
                "Count",
                count(|r| r.deleted.len()),
            ),
            (
                "RepairPartitionsUpdated",
                "Count",
                count(|r| r.updated.len()),
            ),
        ],
    );
    if let Some(id) = request_id {
        doc["requestId"] = json!(id);
    }
    doc
}

/// Print a repair's EMF document.
pub fn emit_repair(config: &MetricsConfig, report: Option<&Report>, request_id: Option<&str>) {
    println!("{}", repair_document(config, report, now_ms(), request_id));
}

fn now_ms() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis())
}

/// Print the invocation's EMF documents, one JSON line each.
pub fn emit(config: &MetricsConfig, outcome: &Outcome, request_id: Option<&str>, to_stderr: bool) {
    for doc in documents(config, outcome, now_ms(), request_id) {
        if to_stderr {
            eprintln!("{doc}");
        } else {
            println!("{doc}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::handler::Stats;
    use registrar_core::report::{FailedEntry, PartitionEntry, SkippedEntry};

    fn config() -> MetricsConfig {
        MetricsConfig {
            namespace: "Ns".into(),
            function_name: "fn".into(),
            per_table: true,
        }
    }

    fn outcome() -> Outcome {
        let p = PartitionEntry {
            database: "d".into(),
            table: "t".into(),
            values: vec!["1".into()],
            location: "s3://b/t/x=1/".into(),
        };
        let s = |kind| SkippedEntry {
            bucket: "b".into(),
            key: "k".into(),
            reason: "r".into(),
            kind,
        };
        Outcome {
            report: Report {
                created: vec![p.clone()],
                existing: vec![p],
                skipped: vec![s("folder_marker"), s("folder_marker"), s("hidden_segment")],
                ..Report::default()
            },
            stats: Stats::default(),
        }
    }

    #[test]
    fn totals_document_declares_every_metric_it_carries() {
        let docs = documents(&config(), &outcome(), 1, None);
        let totals = &docs[0];
        let declared = &totals["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(declared["Namespace"], "Ns");
        assert_eq!(declared["Dimensions"], json!([["FunctionName"]]));
        for m in declared["Metrics"].as_array().unwrap() {
            assert!(totals[m["Name"].as_str().unwrap()].is_number());
        }
        assert_eq!(totals["PartitionsCreated"], 1.0);
        assert_eq!(totals["ObjectsSkipped"], 3.0);
    }

    #[test]
    fn skipped_objects_are_counted_per_reason() {
        let docs = documents(&config(), &outcome(), 1, None);
        let folder = docs
            .iter()
            .find(|d| d["Reason"] == "folder_marker")
            .unwrap();
        assert_eq!(folder["ObjectsSkipped"], 2.0);
    }

    #[test]
    fn a_repair_counts_its_failures_and_a_failed_run_as_one() {
        let mut report = Report::default();
        report.failed.push(FailedEntry {
            bucket: "b".into(),
            key: "k".into(),
            error: "e".into(),
        });
        report.stopped = Some("deadline".into());
        let doc = repair_document(&config(), Some(&report), 1, None);
        assert_eq!(doc["RepairRuns"], 1.0);
        assert_eq!(doc["RepairFailures"], 2.0);
        assert_eq!(
            repair_document(&config(), None, 1, None)["RepairFailures"],
            1.0
        );
    }

    #[test]
    fn every_document_carries_the_request_id() {
        let docs = documents(&config(), &outcome(), 1, Some("req-1"));
        assert!(docs.iter().all(|d| d["requestId"] == "req-1"));
    }

    #[test]
    fn per_table_documents_can_be_turned_off() {
        let mut c = config();
        c.per_table = false;
        assert!(
            documents(&c, &outcome(), 1, None)
                .iter()
                .all(|d| d.get("Table").is_none())
        );
        assert!(
            documents(&config(), &outcome(), 1, None)
                .iter()
                .any(|d| d["Table"] == "d.t")
        );
    }
}
