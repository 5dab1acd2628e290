//! Partitions downstream can trust: a table registered on its jobs' markers, and `Partition
//! Complete` events delivered through an EventBridge rule to a queue, read as a consumer
//! reads them.

use crate::support::*;
use aws_sdk_glue::types::{Column, TableInput};
use glue_partition_registrar::config::{Config, TableName};
use glue_partition_registrar::core::completion::PartitionComplete;
use glue_partition_registrar::handler::Registrar;
use serde_json::{Value, json};

/// A bus, and a rule on it delivering `Partition Complete` to a queue: the module's output
/// `completion_event_pattern`, as a consumer wires it.
struct Consumer {
    bus: String,
    queue: String,
    sqs: aws_sdk_sqs::Client,
}

async fn consumer() -> Consumer {
    let config = crate::moto::sdk_config();
    let events = glue_partition_registrar::aws::Clients::new(&config).events;
    let sqs = aws_sdk_sqs::Client::from_conf(
        aws_sdk_sqs::config::Builder::from(&config)
            .http_client(aws_smithy_http_client::Builder::new().build_http())
            .build(),
    );
    let bus = unique("completions").replace('_', "-");
    events.create_event_bus().name(&bus).send().await.unwrap();
    let queue = sqs
        .create_queue()
        .queue_name(&bus)
        .send()
        .await
        .unwrap()
        .queue_url
        .unwrap();
    let arn = sqs
        .get_queue_attributes()
        .queue_url(&queue)
        .attribute_names(aws_sdk_sqs::types::QueueAttributeName::QueueArn)
        .send()
        .await
        .unwrap()
        .attributes
        .unwrap()[&aws_sdk_sqs::types::QueueAttributeName::QueueArn]
        .clone();
    let pattern =
        json!({"source": ["glue-partition-registrar"], "detail-type": ["Partition Complete"]});
    events
        .put_rule()
        .name("complete")
        .event_bus_name(&bus)
        .event_pattern(pattern.to_string())
        .send()
        .await
        .unwrap();
    events
        .put_targets()
        .rule("complete")
        .event_bus_name(&bus)
        .targets(
            aws_sdk_eventbridge::types::Target::builder()
                .id("queue")
                .arn(arn)
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    Consumer { bus, queue, sqs }
}

impl Consumer {
    /// Every event delivered so far: the EventBridge envelopes.
    async fn received(&self) -> Vec<Value> {
        let mut out = Vec::new();
        loop {
            let got = self
                .sqs
                .receive_message()
                .queue_url(&self.queue)
                .max_number_of_messages(10)
                .send()
                .await
                .unwrap();
            let messages = got.messages.unwrap_or_default();
            if messages.is_empty() {
                return out;
            }
            for m in messages {
                out.push(serde_json::from_str(m.body.as_deref().unwrap()).unwrap());
                self.sqs
                    .delete_message()
                    .queue_url(&self.queue)
                    .receipt_handle(m.receipt_handle.unwrap())
                    .send()
                    .await
                    .unwrap();
            }
        }
    }
}

/// A table of `dt` partitions, with these table parameters.
async fn table(bucket: &str, parameters: &[(&str, &str)]) -> TableName {
    let t = create_table(&format!("s3://{bucket}/events/"), &[("dt", "string")], None).await;
    let glue = glue();
    let current = glue
        .get_table()
        .database_name(&t.database)
        .name(&t.table)
        .send()
        .await
        .unwrap()
        .table
        .unwrap();
    let mut input = TableInput::builder()
        .name(&t.table)
        .table_type("EXTERNAL_TABLE")
        .set_storage_descriptor(current.storage_descriptor)
        .partition_keys(
            Column::builder()
                .name("dt")
                .r#type("string")
                .build()
                .unwrap(),
        )
        .set_parameters(current.parameters);
    for (k, v) in parameters {
        input = input.parameters(*k, *v);
    }
    glue.update_table()
        .database_name(&t.database)
        .table_input(input.build().unwrap())
        .send()
        .await
        .unwrap();
    t
}

fn announcing(t: &TableName, bus: &str) -> Registrar {
    let mut config = Config::for_table(t.clone());
    config.completion_bus = Some(bus.to_owned());
    Registrar::new(clients(), config)
}

/// An S3 notification of `keys` of `bucket`, each with an eTag.
fn uploaded(bucket: &str, keys: &[&str]) -> Value {
    let mut event = s3_event_in(bucket, "ObjectCreated:Put", keys);
    for (i, r) in event["Records"]
        .as_array_mut()
        .unwrap()
        .iter_mut()
        .enumerate()
    {
        r["s3"]["object"]["eTag"] = json!(format!("etag-{i}"));
    }
    event
}

#[tokio::test]
async fn in_marker_mode_a_partition_waits_for_its_marker_and_is_announced_once() {
    let bucket = create_bucket().await;
    let t = table(&bucket, &[("registrar.registration", "marker")]).await;
    let consumer = consumer().await;
    let r = announcing(&t, &consumer.bus);
    // A Spark-shaped write: the files, then `_SUCCESS`.
    let files: Vec<String> = (0..3)
        .map(|i| format!("events/dt=2026-12-04/part-{i:05}.parquet"))
        .collect();
    put_objects(&bucket, &files).await;
    let refs: Vec<&str> = files.iter().map(String::as_str).collect();
    let out = r
        .handle_event(&uploaded(&bucket, &refs), false)
        .await
        .unwrap();
    assert!(out.report.created.is_empty());
    assert_eq!(out.report.skipped.len(), 3);
    assert!(
        out.report
            .skipped
            .iter()
            .all(|s| s.kind == "awaiting_marker")
    );
    assert!(out.report.failed.is_empty(), "not retried");
    assert!(
        partitions(&t).await.is_empty(),
        "not visible before its marker"
    );
    assert!(consumer.received().await.is_empty());
    // The marker lands: registered, and complete.
    let marker = ["events/dt=2026-12-04/_SUCCESS"];
    put_objects(&bucket, &[marker[0].to_owned()]).await;
    let out = r
        .handle_event(&uploaded(&bucket, &marker), false)
        .await
        .unwrap();
    assert_eq!(values(&out.report.created), strings(&[&["2026-12-04"]]));
    assert_eq!(values(&out.report.completed), strings(&[&["2026-12-04"]]));
    assert_eq!(partitions(&t).await.len(), 1);
    let events = consumer.received().await;
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0]["source"], "glue-partition-registrar");
    assert_eq!(events[0]["detail-type"], "Partition Complete");
    let detail: PartitionComplete = serde_json::from_value(events[0]["detail"].clone()).unwrap();
    assert_eq!(detail.values, ["2026-12-04"]);
    assert_eq!(detail.partition["dt"], "2026-12-04");
    assert_eq!(
        detail.location,
        format!("s3://{bucket}/events/dt=2026-12-04/")
    );
    assert_eq!(serde_json::to_value(detail.registered).unwrap(), "created");
    assert_eq!(
        detail.marker.as_ref().unwrap().key,
        "events/dt=2026-12-04/_SUCCESS"
    );
    // S3 delivers at least once: the marker again gives the same event id.
    let again = r
        .handle_event(&uploaded(&bucket, &marker), false)
        .await
        .unwrap();
    assert_eq!(values(&again.report.existing), strings(&[&["2026-12-04"]]));
    let events = consumer.received().await;
    assert_eq!(events.len(), 1);
    assert_eq!(events[0]["detail"]["id"], json!(detail.id));
    assert_eq!(events[0]["detail"]["registered"], "existing");
}

#[tokio::test]
async fn first_object_mode_is_unchanged_but_for_the_completion_event() {
    let bucket = create_bucket().await;
    let t = table(&bucket, &[]).await;
    let consumer = consumer().await;
    let r = announcing(&t, &consumer.bus);
    let file = ["events/dt=2026-12-04/part-0.parquet"];
    let out = r
        .handle_event(&uploaded(&bucket, &file), false)
        .await
        .unwrap();
    assert_eq!(values(&out.report.created), strings(&[&["2026-12-04"]]));
    let glue = out.stats.glue_requests.clone();
    assert!(consumer.received().await.is_empty(), "no marker, no event");
    let out = r
        .handle_event(
            &uploaded(&bucket, &["events/dt=2026-12-04/_SUCCESS"]),
            false,
        )
        .await
        .unwrap();
    assert_eq!(values(&out.report.existing), strings(&[&["2026-12-04"]]));
    assert_eq!(
        out.stats.glue_requests.total(),
        0,
        "the warm process knows the partition: only the event is added ({glue})"
    );
    let events = consumer.received().await;
    assert_eq!(events.len(), 1);
    assert_eq!(events[0]["detail"]["registered"], "existing");
}

#[tokio::test]
async fn a_completion_that_cannot_be_put_fails_its_marker_so_its_message_comes_back() {
    let bucket = create_bucket().await;
    let t = table(&bucket, &[("registrar.registration", "marker")]).await;
    // A bus that does not exist: EventBridge refuses the events.
    let r = announcing(&t, "no-such-bus");
    let marker = ["events/dt=2026-12-04/_SUCCESS"];
    let batch = sqs_event(&[uploaded(&bucket, &marker)]);
    let out = r.handle_event(&batch, false).await.unwrap();
    assert_eq!(out.report.failed.len(), 1, "{:?}", out.report.failed);
    assert_eq!(
        out.report.batch_item_failures,
        Some(vec!["msg-0".to_owned()])
    );
    // Registered all the same: the redelivered marker finds it and announces it.
    assert_eq!(partitions(&t).await.len(), 1);
}

#[tokio::test]
async fn a_backfill_in_marker_mode_registers_only_marked_directories_and_announces_them() {
    let bucket = create_bucket().await;
    let t = table(&bucket, &[("registrar.registration", "marker")]).await;
    let consumer = consumer().await;
    let mut keys = Vec::new();
    for day in 1..=4 {
        keys.push(format!("events/dt=2026-12-0{day}/part-0.parquet"));
        if day != 3 {
            // Day 3's job never finished.
            keys.push(format!("events/dt=2026-12-0{day}/_SUCCESS"));
        }
    }
    keys.push("events/_SUCCESS".to_owned());
    put_objects(&bucket, &keys).await;
    let r = announcing(&t, &consumer.bus);
    let report = r.sync(&t, &SyncOptions::default()).await.unwrap();
    assert_eq!(
        values(&report.created),
        strings(&[&["2026-12-01"], &["2026-12-02"], &["2026-12-04"]])
    );
    assert_eq!(report.completed.len(), 3);
    let events = consumer.received().await;
    assert_eq!(events.len(), 3);
    assert!(
        events
            .iter()
            .all(|e| e["detail"]["registered"] == "created")
    );
}

#[tokio::test]
async fn a_table_without_markers_is_announced_complete_once_its_lateness_has_passed() {
    let bucket = create_bucket().await;
    let t = table(&bucket, &[("registrar.complete_after", "15m")]).await;
    let consumer = consumer().await;
    let keys: Vec<String> = ["2026-12-02", "2026-12-03", "2026-12-04"]
        .iter()
        .map(|d| format!("events/dt={d}/part-0.json"))
        .collect();
    put_objects(&bucket, &keys).await;
    let r = announcing(&t, &consumer.bus);
    // 00:10 on the 4th: the 3rd ended ten minutes ago, not yet fifteen.
    let at = |time: &str| SyncOptions {
        now_ms: glue_partition_registrar::core::time::parse(time).unwrap(),
        ..SyncOptions::default()
    };
    r.sync(&t, &at("2026-12-04T00:10:00Z")).await.unwrap();
    let days = |events: &[Value]| -> Vec<String> {
        let mut d: Vec<String> = events
            .iter()
            .map(|e| e["detail"]["values"][0].as_str().unwrap().to_owned())
            .collect();
        d.sort();
        d
    };
    let first = consumer.received().await;
    assert_eq!(days(&first), ["2026-12-02"]);
    assert_eq!(first[0]["detail"]["completedBy"], "lateness");
    assert_eq!(
        first[0]["detail"]["partitionEnd"],
        "2026-12-03T00:00:00.000Z"
    );
    // Later that day: the 3rd is complete; the 2nd was announced already.
    r.sync(&t, &at("2026-12-04T00:20:00Z")).await.unwrap();
    assert_eq!(days(&consumer.received().await), ["2026-12-03"]);
    r.sync(&t, &at("2026-12-04T00:30:00Z")).await.unwrap();
    assert!(consumer.received().await.is_empty());
}

#[test]
fn the_documented_event_is_what_the_function_puts() {
    let doc: Value = serde_json::from_str(
        &std::fs::read_to_string(format!(
            "{}/events/partition-complete.json",
            env!("CARGO_MANIFEST_DIR")
        ))
        .unwrap(),
    )
    .unwrap();
    assert_eq!(doc["source"], "glue-partition-registrar");
    assert_eq!(doc["detail-type"], "Partition Complete");
    let detail: PartitionComplete = serde_json::from_value(doc["detail"].clone()).unwrap();
    assert_eq!(serde_json::to_value(&detail).unwrap(), doc["detail"]);
}
