//! CloudWatch metrics in Embedded Metric Format: JSON lines on stdout that CloudWatch Logs
//! turns into metrics, so metrics cost no API call and no latency in the function.

pub use crate::config::MetricsConfig;
use crate::handler::Outcome;
use registrar_core::report::Report;
use serde_json::{Value, json};
use std::collections::BTreeMap;

/// EMF takes at most 100 values of one metric in one document.
const MAX_VALUES: usize = 100;

/// One EMF document: `metrics` under the dimensions `service` and `dimension`. A metric's
/// value is one number, or several (each a sample CloudWatch keeps, so it can answer p50
/// and p99).
fn document(
    config: &MetricsConfig,
    timestamp_ms: u128,
    dimension: (&str, &str),
    metrics: &[(&str, &str, Value)],
) -> Value {
    let mut doc = json!({
        "_aws": {
            "Timestamp": timestamp_ms as u64,
            "CloudWatchMetrics": [{
                "Namespace": config.namespace,
                "Dimensions": [["service", dimension.0]],
                "Metrics": metrics.iter().map(|(name, unit, _)| json!({"Name": name, "Unit": unit})).collect::<Vec<_>>(),
            }]
        },
    });
    let map = doc.as_object_mut().expect("object");
    map.insert("service".to_owned(), json!(config.service));
    map.insert(dimension.0.to_owned(), json!(dimension.1));
    for (name, _, value) in metrics {
        map.insert((*name).to_owned(), value.clone());
    }
    doc
}

fn count(n: usize) -> Value {
    json!(n as f64)
}

/// Freshness samples in documents of at most [`MAX_VALUES`] each.
fn freshness_documents(
    config: &MetricsConfig,
    timestamp_ms: u128,
    dimension: (&str, &str),
    samples: &[u64],
) -> Vec<Value> {
    samples
        .chunks(MAX_VALUES)
        .map(|chunk| {
            document(
                config,
                timestamp_ms,
                dimension,
                &[("Freshness", "Milliseconds", json!(chunk))],
            )
        })
        .collect()
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
    let function = ("FunctionName", config.function_name.as_str());
    let mut docs = vec![document(
        config,
        timestamp_ms,
        function,
        &[
            ("ObjectsSeen", "Count", count(stats.objects_seen)),
            ("PartitionsCreated", "Count", count(report.created.len())),
            ("PartitionsExisting", "Count", count(report.existing.len())),
            ("PartitionsDeleted", "Count", count(report.deleted.len())),
            (
                "PartitionsCompleted",
                "Count",
                count(report.completed.len()),
            ),
            ("ObjectsSkipped", "Count", count(report.skipped.len())),
            ("ObjectsFailed", "Count", count(report.failed.len())),
            ("SchemaDrift", "Count", count(report.schema_drift.len())),
            ("TablesUnreadable", "Count", count(stats.tables_unreadable)),
            (
                "GlueRequests",
                "Count",
                json!(stats.glue_requests.total() as f64),
            ),
            (
                "GlueThrottles",
                "Count",
                json!(stats.glue_requests.throttles as f64),
            ),
            (
                "HandlerDuration",
                "Milliseconds",
                json!(stats.duration.as_secs_f64() * 1000.0),
            ),
        ],
    )];
    let samples: Vec<u64> = report
        .created
        .iter()
        .filter_map(|e| e.freshness_ms)
        .collect();
    docs.extend(freshness_documents(
        config,
        timestamp_ms,
        function,
        &samples,
    ));
    if config.per_table {
        #[derive(Default)]
        struct PerTable {
            created: usize,
            existing: usize,
            freshness: Vec<u64>,
        }
        let mut tables: BTreeMap<String, PerTable> = BTreeMap::new();
        for e in &report.created {
            let t = tables.entry(e.table_name()).or_default();
            t.created += 1;
            t.freshness.extend(e.freshness_ms);
        }
        for e in &report.existing {
            tables.entry(e.table_name()).or_default().existing += 1;
        }
        for (table, t) in tables {
            docs.push(document(
                config,
                timestamp_ms,
                ("Table", &table),
                &[
                    ("PartitionsCreated", "Count", count(t.created)),
                    ("PartitionsExisting", "Count", count(t.existing)),
                ],
            ));
            docs.extend(freshness_documents(
                config,
                timestamp_ms,
                ("Table", &table),
                &t.freshness,
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
            &[("ObjectsSkipped", "Count", count(n))],
        ));
    }
    if let Some(id) = request_id {
        for doc in &mut docs {
            doc["function_request_id"] = json!(id);
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
    // A run that stopped with a cursor is not a failure (the state machine goes on from
    // it); one that stopped without one is (it could not say where to go on).
    let counts = report.map(|r| r.counts.unwrap_or_default());
    let failures = match report {
        Some(r) => {
            let failed = counts.map_or(0, |c| c.failed as usize).max(r.failed.len());
            failed + usize::from(r.stopped.is_some() && r.cursor.is_none())
        }
        None => 1,
    };
    let total =
        |f: fn(&registrar_core::report::Counts) -> u64| json!(counts.map_or(0, |c| f(&c)) as f64);
    let mut doc = document(
        config,
        timestamp_ms,
        ("FunctionName", &config.function_name),
        &[
            ("RepairRuns", "Count", json!(1.0)),
            ("RepairFailures", "Count", json!(failures as f64)),
            ("RepairPartitionsCreated", "Count", total(|c| c.created)),
            ("RepairPartitionsDeleted", "Count", total(|c| c.deleted)),
            ("RepairPartitionsUpdated", "Count", total(|c| c.updated)),
        ],
    );
    if let Some(id) = request_id {
        doc["function_request_id"] = json!(id);
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
            service: "svc".into(),
            function_name: "fn".into(),
            per_table: true,
        }
    }

    fn outcome() -> Outcome {
        let p = PartitionEntry::new(
            &registrar_core::TableName::new("d", "t"),
            &["1".into()],
            "s3://b/t/x=1/",
        );
        let fresh = PartitionEntry {
            freshness_ms: Some(1500),
            ..p.clone()
        };
        let s = |kind| SkippedEntry {
            bucket: "b".into(),
            key: "k".into(),
            reason: "r".into(),
            kind,
        };
        Outcome {
            report: Report {
                created: vec![fresh],
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
        assert_eq!(declared["Dimensions"], json!([["service", "FunctionName"]]));
        assert_eq!(totals["service"], "svc");
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
        assert_eq!(
            doc["RepairFailures"], 2.0,
            "a failure, and a stop with no cursor"
        );
        report.cursor = Some(registrar_core::pass::CursorRef {
            table: "d.t".into(),
            pass: "p1".into(),
            group: Some(0),
            runs: 1,
            checkpoint: String::new(),
        });
        let doc = repair_document(&config(), Some(&report), 1, None);
        assert_eq!(doc["RepairFailures"], 1.0, "a stop with a cursor goes on");
        assert_eq!(
            repair_document(&config(), None, 1, None)["RepairFailures"],
            1.0
        );
    }

    #[test]
    fn every_document_carries_the_request_id() {
        let docs = documents(&config(), &outcome(), 1, Some("req-1"));
        assert!(docs.iter().all(|d| d["function_request_id"] == "req-1"));
    }

    #[test]
    fn freshness_is_a_metric_of_samples_per_function_and_per_table() {
        let docs = documents(&config(), &outcome(), 1, None);
        let samples: Vec<&Value> = docs
            .iter()
            .filter(|d| d.get("Freshness").is_some())
            .collect();
        assert_eq!(samples.len(), 2, "{docs:?}");
        assert!(samples.iter().all(|d| d["Freshness"] == json!([1500])));
        assert!(samples.iter().any(|d| d["Table"] == "d.t"));
        assert!(samples.iter().any(|d| d["FunctionName"] == "fn"));
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
