//! Under faults and deadlines: Glue throttling, failing, resetting and stalling (through the
//! fault proxy), SQS redelivery played as Lambda's event source mapping does, and the Lambda
//! deadline. Nothing is lost, nothing is wrongly dropped, and what is not done is named.

use crate::moto::sdk_config_at;
use crate::proxy::{Fault, FaultProxy, Plan};
use crate::support::*;
use glue_partition_registrar::aws::{ClientOptions, Clients};
use glue_partition_registrar::config::{Config, TableName};
use glue_partition_registrar::core::Deadline;
use glue_partition_registrar::core::report::Report;
use glue_partition_registrar::handler::Registrar;
use glue_partition_registrar::lambda::invoke;
use glue_partition_registrar::metrics::MetricsConfig;
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::time::{Duration, Instant};

/// Clients that give up on an attempt after a second (the proxy delays by 1.5 s), with a
/// retry budget of their own: faults injected here must not drain other tests' budgets.
fn options(name: &'static str) -> ClientOptions {
    ClientOptions {
        attempt_timeout: Duration::from_secs(1),
        retry_partition: name,
        ..ClientOptions::default()
    }
}

fn registrar_via(proxy: &FaultProxy, config: Config, name: &'static str) -> Registrar {
    Registrar::new(
        Clients::with_options(&sdk_config_at(&proxy.endpoint), &options(name)),
        config,
    )
}

fn metrics() -> MetricsConfig {
    test_metrics()
}

/// An SQS message as Lambda delivers it: one S3 notification in its body.
struct Message {
    id: String,
    key: String,
    receives: u32,
}

fn sqs_batch(bucket: &str, messages: &[Message]) -> Value {
    json!({"Records": messages.iter().map(|m| json!({
        "messageId": m.id, "receiptHandle": format!("rh-{}", m.id),
        "body": s3_event_in(bucket, "ObjectCreated:Put", &[&m.key]).to_string(),
        "attributes": {"ApproximateReceiveCount": m.receives.to_string()},
        "messageAttributes": {}, "eventSource": "aws:sqs",
        "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:events", "awsRegion": "us-east-1"
    })).collect::<Vec<_>>()})
}

fn hour_key(p: usize, f: usize) -> (Vec<String>, String) {
    let (day, hour) = (p / 24 + 1, p % 24);
    let values = vec![
        "2026".to_owned(),
        "11".to_owned(),
        format!("{day:02}"),
        format!("{hour:02}"),
    ];
    let key =
        format!("clickstream/year=2026/month=11/day={day:02}/hour={hour:02}/part-{f:05}.parquet");
    (values, key)
}

const YMDH: &[(&str, &str)] = &[
    ("year", "string"),
    ("month", "string"),
    ("day", "string"),
    ("hour", "string"),
];

async fn catalog_values(t: &TableName) -> BTreeSet<Vec<String>> {
    partitions(t)
        .await
        .iter()
        .map(|p| p.values().to_vec())
        .collect()
}

/// Lambda's SQS event source mapping, played against several warm instances: batches of
/// `BATCH` messages, each invocation by the next instance; messages named in
/// `batchItemFailures` come back (up to `MAX_RECEIVES` deliveries, then the dead-letter
/// queue), the others are deleted, and each deleted message's partition must be registered.
#[tokio::test]
async fn a_storm_of_glue_faults_loses_no_message_and_registers_exactly_the_partitions() {
    const PARTITIONS: usize = 600;
    const OBJECTS: usize = 3000;
    const BATCH: usize = 100;
    const INSTANCES: usize = 5;
    const MAX_RECEIVES: u32 = 10;
    let bucket = create_bucket().await;
    let t = create_table(&format!("s3://{bucket}/clickstream/"), YMDH, None).await;
    let proxy = FaultProxy::start(Plan::storm(0.7), 7).await;
    let instances: Vec<Registrar> = (0..INSTANCES)
        .map(|i| {
            let name: &'static str = Box::leak(format!("storm-events-{i}").into_boxed_str());
            registrar_via(&proxy, Config::for_table(t.clone()), name)
        })
        .collect();

    let mut expected = BTreeSet::new();
    let mut partition_of = BTreeMap::new();
    // Object i lands in partition i mod 600: each partition's five objects come in five
    // batches, to different instances, each of which must make sure of the partition.
    let mut queue: VecDeque<Message> = (0..OBJECTS)
        .map(|i| {
            let (values, key) = hour_key(i % PARTITIONS, i);
            expected.insert(values.clone());
            partition_of.insert(key.clone(), values);
            Message {
                id: format!("m-{i}"),
                key,
                receives: 1,
            }
        })
        .collect();
    let (mut invocations, mut redelivered, mut dead) = (0, 0, Vec::new());
    while !queue.is_empty() {
        let n = queue.len().min(BATCH);
        let batch: Vec<Message> = queue.drain(..n).collect();
        let event = sqs_batch(&bucket, &batch).to_string();
        let instance = &instances[invocations % INSTANCES];
        invocations += 1;
        let response = invoke(
            instance,
            &metrics(),
            &event,
            &format!("req-{invocations}"),
            Deadline::after(Duration::from_secs(30)),
        )
        .await
        .expect("an SQS batch is always answered");
        let named: BTreeSet<String> = response["batchItemFailures"]
            .as_array()
            .expect("the response is batchItemFailures")
            .iter()
            .map(|f| f["itemIdentifier"].as_str().unwrap().to_owned())
            .collect();
        // Lambda deletes every message not named: its partition must be registered now.
        let registered = catalog_values(&t).await;
        for m in batch {
            if named.contains(&m.id) {
                redelivered += 1;
                if m.receives >= MAX_RECEIVES {
                    dead.push(m.id);
                } else {
                    queue.push_back(Message {
                        receives: m.receives + 1,
                        ..m
                    });
                }
            } else {
                assert!(
                    registered.contains(&partition_of[&m.key]),
                    "message {} was deleted but its partition is not registered",
                    m.id
                );
            }
        }
    }
    let tally = proxy.tally();
    let faulted: usize = tally.values().map(|t| t.1).sum();
    let answered: usize = tally.values().map(|t| t.0).sum();
    eprintln!(
        "storm: {OBJECTS} objects over {PARTITIONS} partitions, {invocations} invocations of {INSTANCES} instances, {redelivered} redeliveries; Glue calls answered/faulted {answered}/{faulted}: {tally:?}"
    );
    assert!(dead.is_empty(), "dead-lettered: {dead:?}");
    assert!(
        faulted * 2 > faulted + answered,
        "more than half the Glue calls faulted"
    );
    assert_eq!(catalog_values(&t).await, expected);
}

#[tokio::test]
async fn stalled_glue_is_answered_before_the_deadline_naming_the_messages_with_objects() {
    let bucket = create_bucket().await;
    let t = create_table(&format!("s3://{bucket}/clickstream/"), YMDH, None).await;
    let proxy = FaultProxy::start(Plan::stall(), 1).await;
    let r = registrar_via(&proxy, Config::for_table(t.clone()), "stall-cold");
    let (_, key) = hour_key(0, 0);
    let mut event = sqs_batch(
        &bucket,
        &[Message {
            id: "with-object".into(),
            key,
            receives: 1,
        }],
    );
    event["Records"].as_array_mut().unwrap().push(json!({
        "messageId": "test-event", "body": json!({"Event": "s3:TestEvent"}).to_string(),
        "eventSource": "aws:sqs"
    }));
    let started = Instant::now();
    let response = invoke(
        &r,
        &metrics(),
        &event.to_string(),
        "req",
        Deadline::after(Duration::from_secs(6)),
    )
    .await
    .unwrap();
    let took = started.elapsed();
    assert!(took < Duration::from_secs(6), "answered after {took:?}");
    assert_eq!(
        response,
        json!({"batchItemFailures": [{"itemIdentifier": "with-object"}]})
    );
}

#[tokio::test]
async fn a_stall_after_the_table_is_known_names_exactly_the_messages_of_unregistered_partitions() {
    let bucket = create_bucket().await;
    let t = create_table(&format!("s3://{bucket}/clickstream/"), YMDH, None).await;
    let proxy = FaultProxy::start(Plan::none(), 1).await;
    let r = registrar_via(&proxy, Config::for_table(t.clone()), "stall-warm");
    let (_, known) = hour_key(0, 0);
    let (_, new) = hour_key(1, 0);
    let first = sqs_batch(
        &bucket,
        &[Message {
            id: "first".into(),
            key: known.clone(),
            receives: 1,
        }],
    );
    invoke(&r, &metrics(), &first.to_string(), "r1", Deadline::NONE)
        .await
        .unwrap();
    proxy.set_plan(Plan::stall());
    let second = sqs_batch(
        &bucket,
        &[
            Message {
                id: "known".into(),
                key: known,
                receives: 1,
            },
            Message {
                id: "new".into(),
                key: new,
                receives: 1,
            },
        ],
    );
    let started = Instant::now();
    let response = invoke(
        &r,
        &metrics(),
        &second.to_string(),
        "r2",
        Deadline::after(Duration::from_secs(4)),
    )
    .await
    .unwrap();
    assert!(started.elapsed() < Duration::from_secs(4));
    assert_eq!(
        response,
        json!({"batchItemFailures": [{"itemIdentifier": "new"}]})
    );
}

/// Runs of a backfill or sync until one finishes clean, each under the storm; every run
/// must account for each partition it touched, or say what it did not do.
async fn until_clean(
    r: &Registrar,
    t: &TableName,
    options: &SyncOptions,
    runs: usize,
) -> Vec<Result<Report, String>> {
    let mut results = Vec::new();
    for _ in 0..runs {
        let result = r.sync(t, options).await.map_err(|e| e.to_string());
        let clean =
            matches!(&result, Ok(report) if report.failed.is_empty() && report.stopped.is_none());
        if let Ok(report) = &result {
            for f in &report.failed {
                assert!(!f.error.is_empty() && !f.key.is_empty(), "{f:?}");
            }
        }
        results.push(result);
        if clean {
            break;
        }
    }
    results
}

#[tokio::test]
async fn backfill_under_a_storm_finishes_or_says_what_it_did_not_do() {
    let bucket = create_bucket().await;
    let t = create_table(&format!("s3://{bucket}/clickstream/"), YMDH, None).await;
    let mut keys = Vec::new();
    let mut expected = BTreeSet::new();
    for p in 0..200 {
        for f in 0..3 {
            let (values, key) = hour_key(p, f);
            expected.insert(values);
            keys.push(key);
        }
    }
    put_objects(&bucket, &keys).await;
    let proxy = FaultProxy::start(Plan::storm(0.6), 11).await;
    let r = registrar_via(&proxy, Config::for_table(t.clone()), "storm-backfill");
    let runs = until_clean(&r, &t, &SyncOptions::default(), 8).await;
    eprintln!("backfill storm: {} runs, {:?}", runs.len(), proxy.tally());
    let last = runs
        .last()
        .unwrap()
        .as_ref()
        .expect("the last run finished");
    assert!(last.failed.is_empty() && last.stopped.is_none());
    for run in runs.iter().flatten() {
        // A run says of each partition: created, existing, or failed, and nothing twice.
        let mut said = BTreeSet::new();
        for e in run.created.iter().chain(&run.existing) {
            assert!(
                said.insert(e.values.clone()),
                "{:?} reported twice",
                e.values
            );
        }
        assert!(said.len() + run.failed.len() <= expected.len());
    }
    assert_eq!(catalog_values(&t).await, expected);
}

#[tokio::test]
async fn sync_prune_under_a_storm_drops_exactly_the_emptied_partitions() {
    let bucket = create_bucket().await;
    let t = create_table(&format!("s3://{bucket}/clickstream/"), YMDH, None).await;
    let (mut kept, mut emptied) = (BTreeSet::new(), BTreeMap::new());
    let mut keys = Vec::new();
    for p in 0..120 {
        let (values, key) = hour_key(p, 0);
        if p % 3 == 0 {
            emptied.insert(values, key.clone());
        } else {
            kept.insert(values);
        }
        keys.push(key);
    }
    put_objects(&bucket, &keys).await;
    registrar(&[&t])
        .sync(&t, &SyncOptions::default())
        .await
        .unwrap();
    delete_objects(&bucket, &emptied.values().cloned().collect::<Vec<_>>()).await;

    let proxy = FaultProxy::start(Plan::storm(0.6), 13).await;
    let r = registrar_via(&proxy, Config::for_table(t.clone()), "storm-prune");
    let prune = SyncOptions {
        prune: true,
        ..SyncOptions::default()
    };
    let runs = until_clean(&r, &t, &prune, 8).await;
    eprintln!("prune storm: {} runs, {:?}", runs.len(), proxy.tally());
    assert!(runs.last().unwrap().is_ok());
    // Each emptied partition is reported dropped, or named as not pruned by the run that
    // met the failure (a drop whose answer was lost is gone by the next run); no partition
    // with data is ever dropped.
    for (values, key) in &emptied {
        let dir = &key[..key.rfind('/').unwrap() + 1];
        let said = runs.iter().flatten().any(|r| {
            r.deleted.iter().any(|d| &d.values == values)
                || r.failed.iter().any(|f| f.key.ends_with(dir))
        });
        assert!(said, "{values:?} neither dropped nor named");
    }
    for run in runs.iter().flatten() {
        assert!(run.deleted.iter().all(|d| emptied.contains_key(&d.values)));
    }
    assert_eq!(catalog_values(&t).await, kept);
}

#[tokio::test]
async fn throttled_answers_are_counted() {
    let bucket = create_bucket().await;
    let t = create_table(&format!("s3://{bucket}/clickstream/"), YMDH, None).await;
    let proxy = FaultProxy::start(
        Plan {
            rate: 0.3,
            faults: vec![Fault::Throttle],
            operations: vec!["BatchCreatePartition"],
        },
        3,
    )
    .await;
    let r = registrar_via(&proxy, Config::for_table(t.clone()), "throttle-count");
    let bodies: Vec<Value> = (0..20)
        .map(|p| s3_event_in(&bucket, "ObjectCreated:Put", &[&hour_key(p, 0).1]))
        .collect();
    let mut throttles = 0;
    for body in bodies {
        let out = r.handle_event(&body, false).await.unwrap();
        throttles += out.stats.glue_requests.throttles;
        assert!(
            out.report.failed.is_empty(),
            "{:?} {:?}",
            out.report.failed,
            proxy.tally()
        );
    }
    let faulted = proxy.tally()["BatchCreatePartition"].1;
    assert_eq!(throttles as usize, faulted);
    assert!(faulted > 0);
}
