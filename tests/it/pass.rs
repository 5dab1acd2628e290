//! A pass's guarantees at lake scale: nothing it found is dropped, a run that cannot walk
//! says why instead of handing on its cursor, an execution that failed resumes from its
//! checkpoints, a nightly window lists only its days, and what a run answers stays small.

use crate::proxy::{Plan, Proxy, Rules};
use crate::support::*;
use glue_partition_registrar::config::{Config, TableName};
use glue_partition_registrar::core::Deadline;
use glue_partition_registrar::handler::Registrar;
use glue_partition_registrar::sync::{SyncError, head};
use serde_json::json;
use std::time::Duration;

fn day_keys(days: std::ops::RangeInclusive<u32>, month: u32) -> Vec<String> {
    days.map(|d| format!("clickstream/year=2026/month={month:02}/day={d:02}/part-0.json"))
        .collect()
}

async fn table(keys: &[String]) -> (String, TableName) {
    let bucket = create_bucket().await;
    let t = create_table(&format!("s3://{bucket}/clickstream/"), YMD, None).await;
    put_objects(&bucket, keys).await;
    (bucket, t)
}

/// A registrar whose checkpoints are in S3, as the module deploys the repair.
async fn with_checkpoints(endpoint: &str, t: &TableName) -> Registrar {
    let bucket = create_bucket().await;
    let mut config = Config::for_table(t.clone());
    config.checkpoint = Some(format!("s3://{bucket}/registrar/"));
    registrar_at(endpoint, config)
}

fn values(y: &str, m: &str, d: &str) -> Vec<String> {
    vec![y.into(), m.into(), d.into()]
}

#[tokio::test]
async fn a_pass_never_ends_done_with_a_partition_missing_and_the_next_pass_tries_it_first() {
    let keys = day_keys(1..=6, 11);
    let (_, t) = table(&keys).await;
    let proxy = Proxy::start(Plan::none(), 3).await;
    let refused = values("2026", "11", "04");
    proxy.set_rules(Rules {
        refuse: vec![refused.clone()],
        ..Rules::default()
    });
    let r = with_checkpoints(&proxy.endpoint, &t).await;
    let first = r.sync(&t, &SyncOptions::default()).await.unwrap();
    // The pass is over, and says what it could not register, and why, for the operator.
    assert!(first.cursor.is_none(), "{:?}", first.stopped);
    assert_eq!(first.unregistered, Some(1));
    let cause = first.cause.as_deref().unwrap();
    assert!(
        cause.contains(&t.to_string()) && cause.contains("1 partitions"),
        "{cause}"
    );
    assert_eq!(first.counts.unwrap().created, 5);
    // Kept where the next pass looks first.
    let h = head(&r, &t, Deadline::NONE).await.unwrap();
    assert_eq!(h.carry.len(), 1);
    assert_eq!(h.carry[0].partition.values, refused);
    assert!(h.open.is_empty(), "the pass is closed: {:?}", h.open);
    // Glue takes it again: the next pass registers it, and carries nothing on.
    proxy.set_rules(Rules::default());
    let second = r.sync(&t, &SyncOptions::default()).await.unwrap();
    assert_eq!(second.unregistered, None);
    assert!(second.created.iter().any(|e| e.values == refused));
    assert!(head(&r, &t, Deadline::NONE).await.unwrap().carry.is_empty());
    assert_eq!(partitions(&t).await.len(), 6);
}

#[tokio::test]
async fn a_run_given_less_time_than_its_drain_fails_saying_so_and_is_not_retried() {
    let (_, t) = table(&day_keys(1..=2, 11)).await;
    let r = registrar(&[&t]);
    let options = SyncOptions {
        deadline: Deadline::after(Duration::from_secs(3)),
        drain: Duration::from_secs(3),
        ..SyncOptions::default()
    };
    let e = r.sync(&t, &options).await.unwrap_err();
    assert!(matches!(e, SyncError::NoTime { .. }), "{e}");
    assert!(
        e.to_string().contains("raise the function's timeout"),
        "{e}"
    );
    // As Lambda reports it to the state machine: an error type its Retry leaves alone.
    let answer = glue_partition_registrar::lambda::invoke(
        &r,
        &test_metrics(),
        &json!({"sync": {"table": t.to_string(), "summary": true}}).to_string(),
        "req-short",
        Deadline::after(Duration::from_secs(8)),
    )
    .await
    .unwrap_err();
    assert_eq!(answer.error_type, "RepairNoTime", "{answer:?}");
}

#[tokio::test]
async fn a_run_whose_every_listing_fails_fails_rather_than_hand_on_the_same_cursor() {
    let (_, t) = table(&day_keys(1..=3, 11)).await;
    let proxy = Proxy::start(Plan::none(), 3).await;
    proxy.set_rules(Rules {
        deny_listings_under: Some("clickstream/".into()),
        ..Rules::default()
    });
    let r = registrar_at(&proxy.endpoint, Config::for_table(t.clone()));
    let e = r.sync(&t, &SyncOptions::default()).await.unwrap_err();
    assert!(matches!(e, SyncError::NoProgress { .. }), "{e}");
    assert!(e.to_string().contains("AccessDenied"), "{e}");
}

#[tokio::test]
async fn an_execution_that_failed_resumes_its_pass_from_the_checkpoints_not_from_the_split() {
    // Enough pages for the split to cut the table into groups.
    let keys: Vec<String> = (0..240)
        .flat_map(|d| {
            (0..3).map(move |f| {
                format!(
                    "clickstream/year={}/month={:02}/day={:02}/part-{f}.json",
                    2025 + d / 336,
                    (d / 28) % 12 + 1,
                    d % 28 + 1
                )
            })
        })
        .collect();
    let (_, t) = table(&keys).await;
    let proxy = Proxy::start(Plan::none(), 3).await;
    let r = with_checkpoints(&proxy.endpoint, &t).await;
    let table = t.to_string();
    let split = json!({"sync": {"table": table, "split": 4, "summary": true, "concurrency": 2}});
    // Small pages, so that the table is many pages and its units several groups.
    let first = invoke_paged(&r, &split, 20).await;
    let pass = first["pass"].as_str().unwrap().to_owned();
    let groups: Vec<u64> = first["groups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g.as_u64().unwrap())
        .collect();
    assert!(groups.len() >= 2, "{first}");
    // One group walked; then the execution fails (a group's task failed for good).
    let walked = groups[0];
    loop {
        let out = invoke_paged(
            &r,
            &json!({"sync": {"table": table, "pass": pass, "group": walked, "summary": true}}),
            20,
        )
        .await;
        if out["cursor"].is_null() {
            break;
        }
    }
    // The next execution's split finds the pass open and hands on the groups left.
    let again = invoke_paged(&r, &split, 20).await;
    assert_eq!(again["pass"], first["pass"], "{again}");
    assert_eq!(again["resumed"], true);
    let left: Vec<u64> = again["groups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g.as_u64().unwrap())
        .collect();
    assert_eq!(left, groups[1..].to_vec());
    assert!(proxy.s3_requests("ListObjectsV2") > 0);
}

/// A run as the state machine asks for it, with pages of `page` keys (the tests' own, to
/// make a small table many pages).
async fn invoke_paged(r: &Registrar, payload: &serde_json::Value, page: i32) -> serde_json::Value {
    use glue_partition_registrar::core::request::{Invocation, classify};
    use glue_partition_registrar::sync::{LogProgress, PassRequest, Ran, SyncOptions, run};
    let text = payload.to_string();
    let Invocation::Maintenance(Ok(request)) = classify(&text) else {
        panic!("not a request: {payload}");
    };
    let pass = PassRequest {
        table: TableName::parse(&request.table).unwrap(),
        prune: request.prune,
        update_schema: request.update_schema,
        window_days: request.window_days,
        step: request.step.clone(),
    };
    let options = SyncOptions {
        page_size: page,
        concurrency: request.concurrency.unwrap_or(2),
        ..SyncOptions::default()
    };
    match run(r, &pass, &options, &LogProgress::default())
        .await
        .unwrap()
    {
        Ran::Split(plan) => serde_json::to_value(plan).unwrap(),
        Ran::Report(report) => serde_json::to_value(report.summary()).unwrap(),
    }
}

#[tokio::test]
async fn a_windowed_repair_lists_only_the_days_of_its_window() {
    // Sixty days of November and December; the window is the last three of them.
    let mut keys = day_keys(1..=30, 11);
    keys.extend(day_keys(1..=30, 12));
    let (_, t) = table(&keys).await;
    let proxy = Proxy::start(Plan::none(), 3).await;
    let r = registrar_at(&proxy.endpoint, Config::for_table(t.clone()));
    let now_ms = registrar_core_time("2026-12-30T05:00:00Z");
    let options = SyncOptions {
        window_days: Some(3),
        now_ms,
        ..SyncOptions::default()
    };
    let report = r.sync(&t, &options).await.unwrap();
    let mut got = crate::support::values(&report.created);
    got.sort();
    assert_eq!(
        got,
        vec![
            values("2026", "12", "28"),
            values("2026", "12", "29"),
            values("2026", "12", "30")
        ]
    );
    // Each day is written two ways (`28`; `05` and `5` for days below ten): two listings a
    // day at most, whatever the table holds.
    let listings = proxy.s3_requests("ListObjectsV2");
    assert!(listings <= 6, "{listings} listings");
    assert_eq!(partitions(&t).await.len(), 3);
}

#[tokio::test]
async fn a_windowed_prune_drops_only_empty_partitions_of_its_days() {
    let keys = day_keys(1..=10, 12);
    let (bucket, t) = table(&keys).await;
    registrar(&[&t])
        .sync(&t, &SyncOptions::default())
        .await
        .unwrap();
    // Day 2 (outside the window) and day 9 (inside) lose their data.
    delete_objects(&bucket, &[keys[1].clone(), keys[8].clone()]).await;
    let r = registrar(&[&t]);
    let options = SyncOptions {
        prune: true,
        window_days: Some(3),
        now_ms: registrar_core_time("2026-12-10T05:00:00Z"),
        ..SyncOptions::default()
    };
    let report = r.sync(&t, &options).await.unwrap();
    assert_eq!(
        crate::support::values(&report.deleted),
        vec![values("2026", "12", "09")]
    );
    let left: Vec<Vec<String>> = partitions(&t)
        .await
        .iter()
        .map(|p| p.values().to_vec())
        .collect();
    assert!(
        left.contains(&values("2026", "12", "02")),
        "kept outside the window"
    );
    assert_eq!(left.len(), 9);
}

fn registrar_core_time(text: &str) -> i64 {
    glue_partition_registrar::core::time::parse(text).unwrap()
}

#[tokio::test]
async fn what_a_run_answers_does_not_grow_with_the_failures_it_met() {
    // Every create throttled for good: the retries and failures are in the checkpoints, the
    // answer names the pass.
    let keys = day_keys(1..=28, 11);
    let (_, t) = table(&keys).await;
    let proxy = Proxy::start(
        Plan {
            rate: 1.0,
            faults: vec![crate::proxy::Fault::Throttle],
            operations: vec!["BatchCreatePartition"],
        },
        3,
    )
    .await;
    let bucket = create_bucket().await;
    let mut config = Config::for_table(t.clone());
    config.checkpoint = Some(format!("s3://{bucket}/registrar/"));
    let options = glue_partition_registrar::aws::ClientOptions {
        max_attempts: 2,
        retry_partition: "pass-answer",
        ..Default::default()
    };
    let r = Registrar::new(
        glue_partition_registrar::aws::Clients::with_options(
            &crate::moto::sdk_config_at(&proxy.endpoint),
            &options,
        ),
        config,
    );
    let table = t.to_string();
    let first = invoke(&r, &json!({"sync": {"table": table, "summary": true}}))
        .await
        .unwrap();
    assert!(first.to_string().len() < 1024, "{first}");
    let cursor = &first["cursor"];
    assert!(!cursor.is_null(), "{first}");
    let retries = r
        .group_cursor(&t, &serde_json::from_value(cursor.clone()).unwrap())
        .await
        .retry
        .len();
    assert_eq!(retries, 28);
}

#[tokio::test]
async fn a_run_whose_glue_calls_outlast_its_deadline_still_writes_where_it_stopped() {
    // Glue answers after the run's deadline: its calls are given up while there is still
    // time to write the checkpoint, so the run answers a cursor instead of failing and
    // losing what it found, and the next run registers it.
    let keys = day_keys(1..=4, 11);
    let (_, t) = table(&keys).await;
    let proxy = Proxy::start(Plan::none(), 1).await;
    let r = with_checkpoints(&proxy.endpoint, &t).await;
    proxy.set_plan(Plan {
        rate: 1.0,
        faults: vec![crate::proxy::Fault::Stall],
        operations: vec!["BatchGetPartition", "BatchCreatePartition"],
    });
    let options = SyncOptions {
        deadline: Deadline::after(Duration::from_secs(6)),
        drain: Duration::from_secs(1),
        ..SyncOptions::default()
    };
    let stopped = r.sync(&t, &options).await.unwrap();
    assert!(stopped.cursor.is_some(), "{:?}", stopped.stopped);
    proxy.set_plan(Plan::none());
    loop {
        let run = r.sync(&t, &SyncOptions::default()).await.unwrap();
        if run.cursor.is_none() {
            break;
        }
    }
    assert_eq!(partitions(&t).await.len(), 4);
}
