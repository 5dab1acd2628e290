//! Backfill and repair at lake scale: many listings in flight, the catalog read in segments
//! and pages, runs that stop at their deadline and the runs that resume them, as the state
//! machine drives them.

use crate::proxy::{Fault, Plan, Proxy, Rules};
use crate::support::*;
use glue_partition_registrar::aws::{ClientOptions, Clients};
use glue_partition_registrar::config::{Config, TableName};
use glue_partition_registrar::core::Deadline;
use glue_partition_registrar::core::pass::CursorRef;
use glue_partition_registrar::core::report::Report;
use glue_partition_registrar::handler::Registrar;
use serde_json::{Value, json};
use std::collections::BTreeSet;
use std::time::{Duration, Instant};

/// Keys of Hive y/m/d: `days` days from 2025-01-01 on, `files` objects each.
fn tree(days: u32, files: u32) -> (Vec<String>, BTreeSet<Vec<String>>) {
    let mut keys = Vec::new();
    let mut expected = BTreeSet::new();
    for d in 0..days {
        let (year, month, day) = (2025 + d / 336, (d / 28) % 12 + 1, d % 28 + 1);
        let values = vec![year.to_string(), format!("{month:02}"), format!("{day:02}")];
        for f in 0..files {
            keys.push(format!(
                "clickstream/year={year}/month={month:02}/day={day:02}/part-{f:03}.json"
            ));
        }
        expected.insert(values);
    }
    (keys, expected)
}

async fn table_with(keys: &[String]) -> (String, TableName) {
    let bucket = create_bucket().await;
    let t = create_table(&format!("s3://{bucket}/clickstream/"), YMD, None).await;
    put_objects(&bucket, keys).await;
    (bucket, t)
}

async fn catalog(t: &TableName) -> BTreeSet<Vec<String>> {
    partitions(t)
        .await
        .iter()
        .map(|p| p.values().to_vec())
        .collect()
}

/// Every partition a chain of runs reported created or existing, and whether any was
/// reported twice.
fn said(runs: &[Report]) -> (BTreeSet<Vec<String>>, Vec<Vec<String>>) {
    let mut all = BTreeSet::new();
    let mut twice = Vec::new();
    for r in runs {
        for e in r.created.iter().chain(&r.existing) {
            if !all.insert(e.values.clone()) {
                twice.push(e.values.clone());
            }
        }
    }
    (all, twice)
}

#[tokio::test]
async fn a_large_table_is_walked_by_many_listings_at_once() {
    // 672 days x 3 files, in pages of 20: about 100 pages, cut into units of about 20.
    let (keys, expected) = tree(672, 3);
    let (_, t) = table_with(&keys).await;
    let proxy = Proxy::start(Plan::none(), 1).await;
    proxy.set_rules(Rules {
        list_latency: Duration::from_millis(30),
        ..Rules::default()
    });
    let r = registrar_at(&proxy.endpoint, Config::for_table(t.clone()));
    let report = r
        .sync(
            &t,
            &SyncOptions {
                page_size: 20,
                ..SyncOptions::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(catalog(&t).await, expected);
    assert_eq!(report.created.len(), expected.len());
    let in_flight = proxy.s3_max_in_flight("ListObjectsV2");
    assert!(in_flight >= 3, "{in_flight} listings in flight at most");
    // Pages, plus the split's own: its directory listings and a partial page per unit.
    let pages = (keys.len() as u64).div_ceil(20);
    let lists = proxy.s3_requests("ListObjectsV2");
    assert!(
        lists <= pages + 2 * 12 + 30,
        "{lists} listings for {pages} pages"
    );
}

/// The Glue requests a proxy saw of `operation`, their bodies.
fn glue_bodies(proxy: &Proxy, operation: &str) -> Vec<Value> {
    proxy
        .seen()
        .iter()
        .filter(|s| s.operation == operation)
        .map(|s| serde_json::from_str(&s.body).unwrap())
        .collect()
}

#[tokio::test]
async fn a_run_asks_the_catalog_only_about_the_partitions_its_listings_found() {
    let (keys, expected) = tree(60, 1);
    let (_, t) = table_with(&keys).await;
    registrar(&[&t])
        .sync(&t, &SyncOptions::default())
        .await
        .unwrap();
    let proxy = Proxy::start(Plan::none(), 1).await;
    let r = registrar_at(&proxy.endpoint, Config::for_table(t.clone()));
    let report = r.sync(&t, &SyncOptions::default()).await.unwrap();
    // Every partition was found registered: none created again, and the catalog was not
    // read whole, only asked about what the walk found.
    assert_eq!(report.existing.len(), expected.len());
    assert!(report.created.is_empty(), "{:?}", report.created);
    assert!(glue_bodies(&proxy, "GetPartitions").is_empty());
    let checks = glue_bodies(&proxy, "BatchGetPartition");
    assert_eq!(checks.len(), 1, "60 partitions, one request");
    assert_eq!(checks[0]["PartitionsToGet"].as_array().unwrap().len(), 60);
}

#[tokio::test]
async fn the_finish_reads_the_catalog_in_segments_page_by_page_without_column_schemas() {
    let (keys, expected) = tree(60, 1);
    let (_, t) = table_with(&keys).await;
    registrar(&[&t])
        .sync(&t, &SyncOptions::default())
        .await
        .unwrap();
    let proxy = Proxy::start(Plan::none(), 1).await;
    let r = registrar_at(&proxy.endpoint, Config::for_table(t.clone()));
    let options = SyncOptions {
        prune: true,
        catalog_page_size: 5,
        catalog_segments: 3,
        ..SyncOptions::default()
    };
    let report = r.sync(&t, &options).await.unwrap();
    assert!(report.deleted.is_empty(), "{:?}", report.deleted);
    assert_eq!(catalog(&t).await, expected);
    let reads = glue_bodies(&proxy, "GetPartitions");
    // A first page of the whole catalog, which says it is more than a page; then three
    // segments, each page by page.
    assert_eq!(reads[0]["Segment"]["TotalSegments"], 1);
    assert!(reads.len() > 60 / 5, "{} pages", reads.len());
    let segments: BTreeSet<i64> = reads[1..]
        .iter()
        .map(|b| b["Segment"]["SegmentNumber"].as_i64().unwrap())
        .collect();
    assert_eq!(segments, [0, 1, 2].into());
    assert!(
        reads[1..]
            .iter()
            .all(|b| b["Segment"]["TotalSegments"] == 3)
    );
    assert!(reads.iter().any(|b| b.get("NextToken").is_some()));
    assert!(reads.iter().all(|b| b["ExcludeColumnSchema"] == true));
    assert!(reads.iter().all(|b| b["MaxResults"] == 5));
}

#[tokio::test]
async fn a_catalog_that_fits_a_page_is_read_in_one_request() {
    let (keys, _) = tree(30, 1);
    let (_, t) = table_with(&keys).await;
    let proxy = Proxy::start(Plan::none(), 1).await;
    let r = registrar_at(&proxy.endpoint, Config::for_table(t.clone()));
    let options = SyncOptions {
        prune: true,
        ..SyncOptions::default()
    };
    r.sync(&t, &options).await.unwrap();
    assert_eq!(glue_bodies(&proxy, "GetPartitions").len(), 1);
}

#[tokio::test]
async fn a_catalog_whose_segments_overlap_is_read_as_one_and_each_partition_handled_once() {
    // A service that pages but ignores `Segment` answers every segment with the whole
    // catalog: the finish sees it in the first pages and reads one segment instead.
    let (keys, _) = tree(40, 1);
    let (bucket, t) = table_with(&keys).await;
    registrar(&[&t])
        .sync(&t, &SyncOptions::default())
        .await
        .unwrap();
    delete_objects(&bucket, &keys[..1]).await;
    let proxy = Proxy::start(Plan::none(), 1).await;
    proxy.set_rules(Rules {
        ignore_segments: true,
        ..Rules::default()
    });
    let r = registrar_at(&proxy.endpoint, Config::for_table(t.clone()));
    let options = SyncOptions {
        prune: true,
        catalog_page_size: 10,
        ..SyncOptions::default()
    };
    let report = r.sync(&t, &options).await.unwrap();
    assert_eq!(report.deleted.len(), 1, "{:?}", report.deleted);
    assert_eq!(report.counts.unwrap().deleted, 1);
    assert_eq!(glue_bodies(&proxy, "DeletePartition").len(), 1);
}

#[tokio::test]
async fn on_the_stock_emulator_one_empty_partition_is_pruned_with_one_delete_and_counted_once() {
    // moto ignores `Segment` and paging alike, as LocalStack's Glue does: straight at it.
    let (keys, _) = tree(6, 1);
    let (bucket, t) = table_with(&keys).await;
    registrar(&[&t])
        .sync(&t, &SyncOptions::default())
        .await
        .unwrap();
    delete_objects(&bucket, &keys[..1]).await;
    let r = Registrar::new(
        Clients::new(&crate::moto::sdk_config()),
        Config::for_table(t.clone()),
    );
    let before = r.clients().glue_requests.snapshot();
    let options = SyncOptions {
        prune: true,
        ..SyncOptions::default()
    };
    let report = r.sync(&t, &options).await.unwrap();
    let glue = r.clients().glue_requests.snapshot().since(&before);
    assert_eq!(report.counts.unwrap().deleted, 1, "{:?}", report.deleted);
    assert_eq!(glue.get("DeletePartition"), 1, "{glue}");
    assert_eq!(glue.get("GetPartitions"), 1, "{glue}");
}

#[tokio::test]
async fn sync_stops_cleanly_at_the_deadline_and_says_where() {
    let (keys, _) = tree(300, 2);
    let (_, t) = table_with(&keys).await;
    let proxy = Proxy::start(Plan::none(), 1).await;
    proxy.set_rules(Rules {
        list_latency: Duration::from_millis(150),
        ..Rules::default()
    });
    let r = registrar_at(&proxy.endpoint, Config::for_table(t.clone()));
    let options = SyncOptions {
        page_size: 10,
        concurrency: 2,
        deadline: Deadline::after(Duration::from_millis(2500)),
        drain: Duration::from_millis(800),
        ..SyncOptions::default()
    };
    let started = Instant::now();
    let report = r.sync(&t, &options).await.unwrap();
    assert!(started.elapsed() < Duration::from_millis(2700));
    let stopped = report.stopped.as_deref().expect("stopped");
    assert!(
        stopped.contains("after listing") && stopped.contains("cursor"),
        "{stopped}"
    );
    let cursor = report.cursor.as_ref().expect("a cursor");
    assert!(!r.group_cursor(&t, cursor).await.walk.units.is_empty());
    // It walked, and what it found was registered before the deadline, not cut in flight.
    let counts = report.counts.unwrap();
    assert!(counts.created > 0, "{counts:?}");
    assert_eq!(counts.unconfirmed, 0, "{:?}", report.unconfirmed);
    assert_eq!(catalog(&t).await.len() as u64, counts.created);
}

#[tokio::test]
async fn creates_in_flight_at_the_deadline_are_reported_unconfirmed_and_the_next_run_confirms_them()
{
    let (keys, expected) = tree(150, 1);
    let (_, t) = table_with(&keys).await;
    let proxy = Proxy::start(
        Plan {
            rate: 1.0,
            faults: vec![Fault::Delay(Duration::from_millis(2500))],
            operations: vec!["BatchCreatePartition"],
        },
        1,
    )
    .await;
    let r = registrar_at(&proxy.endpoint, Config::for_table(t.clone()));
    let first = r
        .sync(
            &t,
            &SyncOptions {
                deadline: Deadline::after(Duration::from_millis(1500)),
                drain: Duration::ZERO,
                ..SyncOptions::default()
            },
        )
        .await
        .unwrap();
    let unconfirmed = first.counts.unwrap().unconfirmed;
    assert!(unconfirmed > 0, "{:?}", first.counts);
    assert!(first.created.is_empty(), "nothing confirmed in time");
    assert!(first.stopped.is_some());
    let cursor = first.cursor.clone().unwrap();
    assert_eq!(
        r.group_cursor(&t, &cursor).await.retry.len() as u64,
        unconfirmed
    );
    // The cut requests land; the next run makes sure of them first.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    proxy.set_plan(Plan::none());
    let second = r
        .sync(
            &t,
            &SyncOptions {
                resume: Some(cursor),
                ..SyncOptions::default()
            },
        )
        .await
        .unwrap();
    assert!(second.cursor.is_none(), "{:?}", second.stopped);
    let (reported, twice) = said(&[first, second]);
    assert!(twice.is_empty(), "reported twice: {twice:?}");
    assert_eq!(reported, expected);
    assert_eq!(catalog(&t).await, expected);
}

/// Runs of a pass, each with `budget`, until it is over (at most `max`): the reports. A run
/// that fails as a whole (its catalog read failed) is run again with the same cursor, as the
/// state machine retries a failed task.
async fn chain(
    r: &Registrar,
    t: &TableName,
    options: &SyncOptions,
    budget: Duration,
    max: usize,
) -> Vec<Report> {
    let mut runs = Vec::new();
    let mut cursor: Option<CursorRef> = None;
    for _ in 0..max {
        let run = r
            .sync(
                t,
                &SyncOptions {
                    deadline: Deadline::after(budget),
                    resume: cursor.clone(),
                    ..options.clone()
                },
            )
            .await;
        let Ok(report) = run else {
            eprintln!("a run failed: {:?}", run.err());
            continue;
        };
        cursor = report.cursor.clone();
        let over = cursor.is_none();
        runs.push(report);
        if over {
            break;
        }
    }
    runs
}

#[tokio::test]
async fn a_repair_too_big_for_one_run_finishes_in_k_plus_one_resumed_runs_with_the_exact_catalog() {
    // One listing in flight at 100 ms a page of 10: a walk of several seconds. The same
    // tree twice: one walked in one run without a deadline, to measure how long the repair
    // takes (k = that over the budget), the other in runs of the budget, each resuming the
    // last one's cursor.
    let (keys, expected) = tree(240, 3);
    let (_, whole) = table_with(&keys).await;
    let (_, t) = table_with(&keys).await;
    // A proxy for each walk, with the same latency: each counts its own walk's listings.
    let (one, many) = (
        Proxy::start(Plan::none(), 1).await,
        Proxy::start(Plan::none(), 1).await,
    );
    for proxy in [&one, &many] {
        proxy.set_rules(Rules {
            list_latency: Duration::from_millis(100),
            ..Rules::default()
        });
    }
    // moto answers every partition on every page, one request at a time: one segment here,
    // so that its catalog reads, which each resumed run makes, stay small beside the walk.
    let options = SyncOptions {
        page_size: 10,
        concurrency: 1,
        max_units: 1,
        catalog_segments: 1,
        drain: Duration::from_millis(200),
        prune: true,
        ..SyncOptions::default()
    };
    let budget = Duration::from_secs(5);
    // How long the whole repair takes in one run, measured beside the chain, under the same
    // load (the machine and the emulator are shared with other tests).
    let whole_run = async {
        let started = Instant::now();
        registrar_at(&one.endpoint, Config::for_table(whole.clone()))
            .sync(&whole, &options)
            .await
            .unwrap();
        started.elapsed()
    };
    let r = registrar_at(&many.endpoint, Config::for_table(t.clone()));
    let (took, runs) = tokio::join!(whole_run, chain(&r, &t, &options, budget, 12));
    let k = (took.as_secs_f64() / budget.as_secs_f64()).ceil() as usize;
    let (lists_one, lists_many) = (
        one.s3_requests("ListObjectsV2"),
        many.s3_requests("ListObjectsV2"),
    );
    eprintln!(
        "k = {k} ({took:?}), {} runs, {lists_many} listings against {lists_one}",
        runs.len()
    );
    assert!(k >= 2, "the table fits one run (k = {k})");
    assert!(runs.len() <= k + 1, "{} runs for k = {k}", runs.len());
    assert!(runs.last().unwrap().cursor.is_none());
    // Each run goes on from the last one's cursor: no page is listed twice but the one a
    // run had in flight when it stopped.
    assert!(
        lists_many <= lists_one + runs.len() as u64,
        "{lists_many} listings in the chain, {lists_one} in one run"
    );
    let (reported, twice) = said(&runs);
    assert!(twice.is_empty(), "reported twice: {twice:?}");
    assert_eq!(reported, expected);
    assert_eq!(catalog(&t).await, expected);
    assert!(runs.iter().all(|r| r.deleted.is_empty()));
}

#[tokio::test]
async fn under_a_glue_storm_a_chain_of_resumed_runs_ends_in_the_exact_catalog() {
    let (keys, expected) = tree(200, 3);
    let (_, t) = table_with(&keys).await;
    let proxy = Proxy::start(Plan::storm(0.5), 17).await;
    proxy.set_rules(Rules {
        list_latency: Duration::from_millis(100),
        ..Rules::default()
    });
    let options = ClientOptions {
        attempt_timeout: Duration::from_secs(1),
        retry_partition: "scale-storm",
        ..ClientOptions::default()
    };
    let r = Registrar::new(
        Clients::with_options(&crate::moto::sdk_config_at(&proxy.endpoint), &options),
        Config::for_table(t.clone()),
    );
    let sync = SyncOptions {
        page_size: 10,
        concurrency: 1,
        max_units: 1,
        catalog_segments: 1,
        drain: Duration::from_millis(500),
        ..SyncOptions::default()
    };
    let runs = chain(&r, &t, &sync, Duration::from_secs(6), 12).await;
    eprintln!("storm chain: {} runs, {:?}", runs.len(), proxy.tally());
    assert!(
        runs.last().unwrap().cursor.is_none(),
        "{:?}",
        runs.last().unwrap().stopped
    );
    let (reported, twice) = said(&runs);
    assert!(twice.is_empty(), "reported twice: {twice:?}");
    assert_eq!(reported, expected);
    assert_eq!(catalog(&t).await, expected);
}

/// The state machine's loop, played with the function's own inputs and outputs: the first
/// run cuts the table into groups, each group is walked in runs until its walk is over, then
/// the pass is finished (prune) once; the state between runs is in the checkpoint store (S3,
/// as the module deploys it), and every answer names it by reference.
#[tokio::test]
async fn the_state_machine_loop_split_walk_groups_and_finish_ends_in_the_exact_catalog() {
    let (keys, expected) = tree(672, 3);
    let (bucket, t) = table_with(&keys).await;
    let checkpoints = create_bucket().await;
    let mut config = Config::for_table(t.clone());
    config.checkpoint = Some(format!("s3://{checkpoints}/registrar/"));
    let r = Registrar::new(clients(), config);
    // A stale partition whose data is gone: the finish prunes it. (Registered by another
    // process: this one's warm cache would vouch for the partition deleted below.)
    registrar(&[&t])
        .sync(&t, &SyncOptions::default())
        .await
        .unwrap();
    let stale = &keys[..3];
    delete_objects(&bucket, stale).await;
    let mut expected = expected;
    expected.remove(&strings(&[&["2025", "01", "01"]])[0]);
    // A day registered by nobody: the walk creates it.
    glue()
        .batch_delete_partition()
        .database_name(&t.database)
        .table_name(&t.table)
        .partitions_to_delete(
            aws_sdk_glue::types::PartitionValueList::builder()
                .set_values(Some(strings(&[&["2025", "05", "10"]])[0].clone()))
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    let table = t.to_string();
    let plan = invoke(
        &r,
        &json!({"sync": {"table": table, "prune": true, "split": 4, "summary": true, "concurrency": 4}}),
    )
    .await
    .unwrap();
    let pass = plan["pass"].as_str().unwrap().to_owned();
    let groups = plan["groups"].as_array().unwrap().clone();
    assert!(groups.len() <= 4, "{plan}");
    let mut largest = plan.to_string().len();
    for group in groups {
        for run in 1.. {
            let out = invoke(
                &r,
                &json!({"sync": {"table": table, "prune": true, "pass": pass, "group": group, "summary": true}}),
            )
            .await
            .unwrap();
            largest = largest.max(out.to_string().len());
            if out["cursor"].is_null() {
                break;
            }
            assert!(run < 10, "{out}");
        }
    }
    loop {
        let out = invoke(
            &r,
            &json!({"sync": {"table": table, "prune": true, "pass": pass, "finish": true, "summary": true}}),
        )
        .await
        .unwrap();
        largest = largest.max(out.to_string().len());
        if out["cursor"].is_null() {
            assert_eq!(out["unregistered"], 0, "{out}");
            break;
        }
    }
    assert_eq!(catalog(&t).await, expected);
    assert!(largest < 2048, "an answer of {largest} bytes");
}

#[tokio::test]
async fn under_s3_slow_down_the_walk_settles_under_the_prefix_rate_and_loses_nothing() {
    // Four hundred pages of five (twenty units) at 50 ms a listing, a walk that would send
    // 16 listings at once (320 a second), and a prefix S3 takes 12 listings a second of:
    // past that it answers 503 SlowDown. About one in flight is what the prefix takes.
    let (keys, expected) = tree(1000, 2);
    let (_, t) = table_with(&keys).await;
    let proxy = Proxy::start(Plan::none(), 1).await;
    let rate = 12.0;
    proxy.set_rules(Rules {
        list_latency: Duration::from_millis(50),
        list_rate: Some(rate),
        ..Rules::default()
    });
    let options = ClientOptions {
        retry_partition: "scale-slow-down",
        ..ClientOptions::default()
    };
    let r = Registrar::new(
        Clients::with_options(&crate::moto::sdk_config_at(&proxy.endpoint), &options),
        Config::for_table(t.clone()),
    );
    let report = r
        .sync(
            &t,
            &SyncOptions {
                page_size: 5,
                concurrency: 32,
                ..SyncOptions::default()
            },
        )
        .await
        .unwrap();
    // Finished, nothing lost.
    assert!(
        report.cursor.is_none(),
        "{:?}: {:?}",
        report.stopped,
        report.failed
    );
    assert!(report.failed.is_empty(), "{:?}", report.failed);
    assert_eq!(catalog(&t).await, expected);
    // Settled: after the walk's first second, when it met the limit and halved, S3 took more
    // of its listings than it slowed down (each SlowDown counted, the SDK's own retries
    // included), where a walk at a fixed width of 16 loses listings to SlowDown outright.
    let (slowed, taken) = proxy.listings_slowed();
    assert!(!slowed.is_empty(), "the walk never met the limit");
    let start = taken[0] + Duration::from_secs(1);
    let later = |times: &[std::time::Instant]| times.iter().filter(|t| **t > start).count();
    let (slowed_later, taken_later) = (later(&slowed), later(&taken));
    eprintln!(
        "{} SlowDowns, {} taken; after the first second {slowed_later} and {taken_later}",
        slowed.len(),
        taken.len()
    );
    assert!(
        slowed_later <= taken_later,
        "{slowed_later} SlowDowns for {taken_later} listings taken after the first second"
    );
}

#[tokio::test]
async fn a_small_table_costs_three_listings_and_five_glue_requests() {
    // 300 partitions of 10 objects: three pages. No split, no catalog read beyond asking
    // about what was found.
    let keys: Vec<String> = (0..300)
        .flat_map(|p| {
            (0..10).map(move |f| {
                format!(
                    "clickstream/year=2026/month={:02}/day={:02}/part-{f:02}.json",
                    p / 28 + 1,
                    p % 28 + 1
                )
            })
        })
        .collect();
    let (_, t) = table_with(&keys).await;
    let proxy = Proxy::start(Plan::none(), 1).await;
    let r = registrar_at(&proxy.endpoint, Config::for_table(t.clone()));
    let glue_before = r.clients().glue_requests.snapshot();
    let report = r.sync(&t, &SyncOptions::default()).await.unwrap();
    assert_eq!(report.counts.unwrap().created, 300);
    let glue = r.clients().glue_requests.snapshot().since(&glue_before);
    assert_eq!(proxy.s3_requests("ListObjectsV2"), 3);
    assert!(glue.total() <= 5, "{glue}");
}
