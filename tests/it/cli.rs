//! The command line contract (README, "The command line"): output and exit statuses.

use crate::moto;
use crate::support::*;
use std::io::Write;
use std::process::{Command, Output, Stdio};

fn run(args: &[&str], tables: Option<&str>, stdin: Option<&str>) -> Output {
    run_with_env(args, tables, stdin, &[])
}

fn run_with_env(
    args: &[&str],
    tables: Option<&str>,
    stdin: Option<&str>,
    env: &[(&str, &str)],
) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_glue-partition-registrar"));
    cmd.args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .envs(moto::env())
        .env_remove("GLUE_TABLES")
        .env_remove("GLUE_DATABASES")
        .env_remove("AWS_LAMBDA_RUNTIME_API")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .env_remove("LOG_LEVEL")
        .envs(env.iter().copied());
    if let Some(t) = tables {
        cmd.env("GLUE_TABLES", t);
    }
    let mut child = cmd.spawn().expect("run the binary");
    if let Some(text) = stdin {
        child
            .stdin
            .take()
            .unwrap()
            .write_all(text.as_bytes())
            .unwrap();
    }
    drop(child.stdin.take());
    child.wait_with_output().unwrap()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[tokio::test]
async fn handle_prints_the_report_and_exits_0() {
    let t = create_table(CLICKSTREAM, YMD, None).await;
    let out = run(
        &["handle", "events/s3-object-created.json"],
        Some(&t.to_string()),
        None,
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        report["created"][0]["values"],
        serde_json::json!(["2026", "11", "25"])
    );
    assert!(report.get("batchItemFailures").is_none());
}

#[tokio::test]
async fn handle_reads_stdin_and_dry_run_writes_nothing() {
    let t = create_table(CLICKSTREAM, YMD, None).await;
    let event =
        std::fs::read_to_string(format!("{}/events/sqs-s3.json", env!("CARGO_MANIFEST_DIR")))
            .unwrap();
    let out = run(
        &["handle", "--dry-run", "-"],
        Some(&t.to_string()),
        Some(&event),
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["dryRun"], true);
    assert_eq!(report["created"].as_array().unwrap().len(), 2);
    assert!(partitions(&t).await.is_empty());
}

#[tokio::test]
async fn handle_exits_1_when_an_object_failed() {
    let t = create_table(CLICKSTREAM, YMD, None).await;
    let out = run(
        &["handle", "events/sqs-one-unparsable.json"],
        Some(&t.to_string()),
        None,
    );
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["batchItemFailures"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn handle_exits_2_on_unreadable_json() {
    let out = run(&["handle", "-"], Some("db.t"), Some("{\"Records\": ["));
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("not valid JSON"), "{}", stderr(&out));
}

#[tokio::test]
async fn handle_exits_2_on_an_unknown_event_shape() {
    let t = create_table(CLICKSTREAM, YMD, None).await;
    let out = run(
        &["handle", "-"],
        Some(&t.to_string()),
        Some("{\"hello\": \"world\"}"),
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("hello"), "{}", stderr(&out));
}

#[tokio::test]
async fn handle_exits_2_without_configuration() {
    let out = run(&["handle", "events/s3-object-created.json"], None, None);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("GLUE_TABLES"), "{}", stderr(&out));
}

#[tokio::test]
async fn handle_fails_the_objects_a_missing_table_may_hold_naming_it_and_exits_1() {
    let out = run(
        &["handle", "events/s3-object-created.json"],
        Some("nowhere.nothing"),
        None,
    );
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let error = report["failed"][0]["error"].as_str().unwrap();
    assert!(error.contains("nowhere.nothing does not exist"), "{error}");
    let logged = log_lines(&out);
    assert!(
        logged
            .iter()
            .any(|l| l["level"] == "ERROR" && l["message"] == "served table unreadable"),
        "{}",
        stderr(&out)
    );
}

/// Log lines in the shape AWS Lambda Powertools writes, so the same queries find them.
#[tokio::test]
async fn log_lines_have_powertools_flat_keys() {
    let t = create_table(CLICKSTREAM, YMD, None).await;
    let out = run_with_env(
        &["handle", "events/s3-skipped-keys.json"],
        Some(&t.to_string()),
        None,
        &[
            ("LOG_LEVEL", "info"),
            ("POWERTOOLS_SERVICE_NAME", "lake-ingest"),
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let summary = log_lines(&out)
        .into_iter()
        .find(|l| l["message"] == "invocation summary")
        .expect("a summary line");
    assert_eq!(summary["level"], "INFO");
    assert_eq!(summary["service"], "lake-ingest");
    let ts = summary["timestamp"].as_str().unwrap();
    assert!(
        glue_partition_registrar::core::time::parse(ts).is_some(),
        "{ts}"
    );
    assert!(summary["objects"].is_number());
}

#[tokio::test]
async fn explain_prints_one_line_per_key() {
    let t = create_table(CLICKSTREAM, YMD, None).await;
    let out = run(
        &[
            "explain",
            "--table",
            &t.to_string(),
            "clickstream/year=2026/month=11/day=25/part-0.parquet",
            "s3://example-data-lake/clickstream/_SUCCESS",
        ],
        None,
        None,
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let lines: Vec<serde_json::Value> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[0]["values"], serde_json::json!(["2026", "11", "25"]));
    assert_eq!(
        lines[0]["location"],
        "s3://example-data-lake/clickstream/year=2026/month=11/day=25/"
    );
    assert!(lines[1]["skipped"].as_str().unwrap().contains("hidden"));
    assert!(partitions(&t).await.is_empty());
}

#[test]
fn no_subcommand_outside_lambda_is_an_error() {
    let out = run(&[], None, None);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("--help"));
}

/// A laptop with no AWS configuration: one line saying what to set, not the SDK's account of
/// every credential and region provider it tried. (Instance metadata is switched off: the
/// tests reach nothing but loopback.)
#[test]
fn without_a_region_the_cli_says_so_in_one_line() {
    let home = std::env::temp_dir().join(format!("registrar-no-region-{}", std::process::id()));
    std::fs::create_dir_all(&home).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_glue-partition-registrar"))
        .args(["backfill", "--table", "analytics.clickstream"])
        .env_clear()
        .env("HOME", &home)
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let text = stderr(&out);
    assert_eq!(text.lines().count(), 1, "{text}");
    assert!(text.contains("no AWS region: set AWS_REGION"), "{text}");
}

/// The EMF lines among what `handle --metrics` wrote to stderr.
fn emf_lines(o: &Output) -> Vec<serde_json::Value> {
    json_lines_with(o, "_aws")
}

/// The JSON lines on stderr that have `field` at the top: EMF (`_aws`) or logs (`level`).
fn json_lines_with(o: &Output, field: &str) -> Vec<serde_json::Value> {
    stderr(o)
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|v| v.get(field).is_some())
        .collect()
}

/// The invocation totals among the EMF lines.
fn totals(docs: &[serde_json::Value]) -> &serde_json::Value {
    docs.iter()
        .find(|d| d.get("FunctionName").is_some())
        .expect("totals line")
}

#[tokio::test]
async fn handle_metrics_are_embedded_metric_format_with_the_right_counts() {
    let t = create_table(CLICKSTREAM, YMD, None).await;
    let out = run(
        &["handle", "--metrics", "events/s3-skipped-keys.json"],
        Some(&t.to_string()),
        None,
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let docs = emf_lines(&out);
    let totals = totals(&docs);
    assert_eq!(
        totals["_aws"]["CloudWatchMetrics"][0]["Namespace"],
        "GluePartitionRegistrar"
    );
    assert_eq!(totals["ObjectsSeen"], 8.0);
    assert_eq!(totals["ObjectsSkipped"], 8.0);
    assert_eq!(totals["PartitionsCreated"], 0.0);
    assert_eq!(totals["ObjectsFailed"], 0.0);
    assert_eq!(totals["GlueRequests"], 1.0);
    let hidden = docs
        .iter()
        .find(|d| d["Reason"] == "hidden_segment")
        .expect("per-reason line");
    assert_eq!(hidden["ObjectsSkipped"], 3.0);
    let outside = docs
        .iter()
        .find(|d| d["Reason"] == "outside_tables")
        .expect("per-reason line");
    assert_eq!(outside["ObjectsSkipped"], 2.0);
}

#[tokio::test]
async fn handle_metrics_count_created_partitions_per_table() {
    let t = create_table(CLICKSTREAM, YMD, None).await;
    let out = run(
        &["handle", "--metrics", "events/sqs-s3.json"],
        Some(&t.to_string()),
        None,
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let docs = emf_lines(&out);
    let totals = totals(&docs);
    assert_eq!(totals["PartitionsCreated"], 2.0);
    assert_eq!(totals["GlueRequests"], 2.0);
    let per_table = docs
        .iter()
        .find(|d| d["Table"] == t.to_string())
        .expect("per-table line");
    assert_eq!(per_table["PartitionsCreated"], 2.0);
}

/// The JSON log lines (not EMF) among what the binary wrote to stderr.
fn log_lines(o: &Output) -> Vec<serde_json::Value> {
    json_lines_with(o, "level")
}

#[tokio::test]
async fn each_skipped_object_is_logged_with_its_reason_and_one_summary_per_invocation() {
    let t = create_table(CLICKSTREAM, YMD, None).await;
    let out = run_with_env(
        &["handle", "events/s3-skipped-keys.json"],
        Some(&t.to_string()),
        None,
        &[("LOG_LEVEL", "info")],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let lines = log_lines(&out);
    let skipped: Vec<_> = lines
        .iter()
        .filter(|l| l["message"] == "object skipped")
        .collect();
    assert_eq!(skipped.len(), 8);
    assert!(
        skipped
            .iter()
            .all(|l| l["reason"].is_string() && l["key"].is_string())
    );
    let summaries = lines
        .iter()
        .filter(|l| l["message"] == "invocation summary")
        .count();
    assert_eq!(summaries, 1);
}

#[tokio::test]
async fn log_level_is_honoured() {
    let t = create_table(CLICKSTREAM, YMD, None).await;
    let out = run_with_env(
        &["handle", "events/s3-skipped-keys.json"],
        Some(&t.to_string()),
        None,
        &[("LOG_LEVEL", "error")],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(log_lines(&out).is_empty(), "{}", stderr(&out));
}

#[tokio::test]
async fn handle_runs_a_repair_request_as_the_schedule_sends_it() {
    let bucket = create_bucket().await;
    let t = create_table(&format!("s3://{bucket}/clickstream/"), YMD, None).await;
    put_objects(
        &bucket,
        &["clickstream/year=2026/month=11/day=25/part-0.json".to_owned()],
    )
    .await;
    let request = serde_json::json!({"sync": {"table": t.to_string(), "prune": true}});
    let out = run(
        &["handle", "-"],
        Some(&t.to_string()),
        Some(&request.to_string()),
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["created"].as_array().unwrap().len(), 1);
    assert_eq!(partitions(&t).await.len(), 1);
}

#[tokio::test]
async fn handle_exits_2_on_a_malformed_repair_request() {
    let out = run(
        &["handle", "-"],
        Some("db.t"),
        Some("{\"sync\": {\"tabel\": \"db.t\"}}"),
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("malformed sync request"),
        "{}",
        stderr(&out)
    );
}
