//! The handler end to end: events in, partitions in the emulator's catalog out.

use crate::support::*;
use serde_json::json;

const K25: &[&str] = &["2026", "11", "25"];
const K26: &[&str] = &["2026", "11", "26"];

#[tokio::test]
async fn s3_notification_creates_its_partition() {
    let t = create_table(CLICKSTREAM, YMD, None).await;
    let out = registrar(&[&t])
        .handle_event(&fixture("s3-object-created.json"), false)
        .await
        .unwrap();
    assert_eq!(values(&out.report.created), strings(&[K25]));
    assert_eq!(
        out.report.created[0].location,
        "s3://example-data-lake/clickstream/year=2026/month=11/day=25/"
    );
    assert!(out.report.batch_item_failures.is_none());
    let stored = partitions(&t).await;
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].values(), K25);
}

#[tokio::test]
async fn sns_wrapped_event_creates_its_partition() {
    let t = create_table(CLICKSTREAM, YMD, None).await;
    let out = registrar(&[&t])
        .handle_event(&fixture("sns-s3.json"), false)
        .await
        .unwrap();
    assert_eq!(values(&out.report.created), strings(&[K25]));
}

#[tokio::test]
async fn sqs_wrapped_s3_events_create_their_partitions_and_ignore_the_test_event() {
    let t = create_table(CLICKSTREAM, YMD, None).await;
    let out = registrar(&[&t])
        .handle_event(&fixture("sqs-s3.json"), false)
        .await
        .unwrap();
    assert_eq!(values(&out.report.created), strings(&[K25, K26]));
    assert_eq!(out.report.batch_item_failures, Some(vec![]));
    assert!(out.report.skipped.is_empty() && out.report.failed.is_empty());
}

#[tokio::test]
async fn sns_in_sqs_event_creates_its_partition() {
    let t = create_table(CLICKSTREAM, YMD, None).await;
    let out = registrar(&[&t])
        .handle_event(&fixture("sqs-sns-s3.json"), false)
        .await
        .unwrap();
    assert_eq!(values(&out.report.created), strings(&[K25]));
    assert_eq!(out.report.batch_item_failures, Some(vec![]));
}

#[tokio::test]
async fn eventbridge_in_sqs_event_creates_its_partition() {
    let t = create_table(CLICKSTREAM, YMD, None).await;
    let out = registrar(&[&t])
        .handle_event(&fixture("sqs-eventbridge.json"), false)
        .await
        .unwrap();
    assert_eq!(values(&out.report.created), strings(&[K25]));
}

#[tokio::test]
async fn eventbridge_object_created_creates_its_partition() {
    let t = create_table(CLICKSTREAM, YMD, None).await;
    let out = registrar(&[&t])
        .handle_event(&fixture("eventbridge-object-created.json"), false)
        .await
        .unwrap();
    assert_eq!(values(&out.report.created), strings(&[K25]));
}

#[tokio::test]
async fn test_event_is_a_no_op_without_glue_requests() {
    let t = create_table(CLICKSTREAM, YMD, None).await;
    let out = registrar(&[&t])
        .handle_event(&fixture("s3-test-event.json"), false)
        .await
        .unwrap();
    assert_eq!(out.report, Default::default());
    assert_eq!(out.stats.glue_requests.total(), 0);
}

#[tokio::test]
async fn removal_is_skipped_when_deleting_is_off() {
    let t = create_table(CLICKSTREAM, YMD, None).await;
    for event in ["s3-object-removed.json", "eventbridge-object-deleted.json"] {
        let out = registrar(&[&t])
            .handle_event(&fixture(event), false)
            .await
            .unwrap();
        assert_eq!(out.report.skipped.len(), 1, "{event}");
        assert_eq!(out.report.skipped[0].kind, "removal_ignored");
    }
    assert!(partitions(&t).await.is_empty());
}

#[tokio::test]
async fn url_encoded_keys_are_decoded_once() {
    let t = create_table(CLICKSTREAM, YMD, None).await;
    let out = registrar(&[&t])
        .handle_event(&fixture("s3-encoded-keys.json"), false)
        .await
        .unwrap();
    assert!(out.report.skipped.is_empty(), "{:?}", out.report.skipped);
    assert_eq!(
        values(&out.report.created),
        strings(&[K25, K26, &["2026", "11", "27"]])
    );
    // `year%3D2026` is the encoded form of `year=2026`: the location uses the real key.
    assert!(
        out.report
            .created
            .iter()
            .any(|c| c.location == "s3://example-data-lake/clickstream/year=2026/month=11/day=26/")
    );
}

#[tokio::test]
async fn korean_and_spaced_values_are_registered_as_written() {
    let t = create_table(
        "s3://example-data-lake/places/",
        &[("city", "string")],
        None,
    )
    .await;
    let event = s3_event(&[
        "places/city=%EC%84%9C%EC%9A%B8/visits.json",
        "places/city=New+York/visits.json",
    ]);
    let out = registrar(&[&t]).handle_event(&event, false).await.unwrap();
    assert_eq!(
        values(&out.report.created),
        strings(&[&["New York"], &["서울"]])
    );
    let stored: Vec<String> = partitions(&t)
        .await
        .iter()
        .map(|p| p.values()[0].clone())
        .collect();
    assert_eq!(stored, ["New York", "서울"]);
}

#[tokio::test]
async fn every_skip_rule_gives_its_reason() {
    let t = create_table(CLICKSTREAM, YMD, None).await;
    let out = registrar(&[&t])
        .handle_event(&fixture("s3-skipped-keys.json"), false)
        .await
        .unwrap();
    let kinds: Vec<(&str, &str)> = out
        .report
        .skipped
        .iter()
        .map(|s| (s.key.as_str(), s.kind))
        .collect();
    assert_eq!(
        kinds,
        [
            ("clickstream/_SUCCESS", "hidden_segment"),
            ("clickstream/year=2026/month=11/day=25/", "folder_marker"),
            (
                "clickstream/year=2026/month=11/day=25_$folder$",
                "folder_marker"
            ),
            (
                "clickstream/year=2026/month=11/day=25/_temporary/0/part-0.parquet",
                "hidden_segment"
            ),
            (
                "clickstream/.spark-staging-7f2a/year=2026/month=11/day=25/part-0.parquet",
                "hidden_segment"
            ),
            (
                "clickstream/year=2026/month=11/part-0.parquet",
                "incomplete_path"
            ),
            (
                "clickstream_archive/year=2026/month=11/day=25/part-0.parquet",
                "outside_tables"
            ),
            (
                "other/year=2026/month=11/day=25/part-0.parquet",
                "outside_tables"
            ),
        ]
    );
    assert!(out.report.skipped.iter().all(|s| !s.reason.is_empty()));
    assert!(out.report.created.is_empty());
    assert!(partitions(&t).await.is_empty());
}

#[tokio::test]
async fn location_without_trailing_slash_does_not_match_its_sibling() {
    let t = create_table("s3://example-data-lake/events", &[("dt", "string")], None).await;
    let event = s3_event(&[
        "events/dt=2026-11-25/a.json",
        "events_archive/dt=2026-11-25/a.json",
    ]);
    let out = registrar(&[&t]).handle_event(&event, false).await.unwrap();
    assert_eq!(out.report.created.len(), 1);
    assert_eq!(
        out.report.created[0].location,
        "s3://example-data-lake/events/dt=2026-11-25/"
    );
    assert_eq!(
        out.report.skipped[0].key,
        "events_archive/dt=2026-11-25/a.json"
    );
    assert_eq!(out.report.skipped[0].kind, "outside_tables");
}

#[tokio::test]
async fn template_layout_reads_values_from_the_declared_positions() {
    let t = create_table(
        "s3://example-data-lake/logs/",
        &[("year", "int"), ("month", "int"), ("day", "int")],
        Some("s3://example-data-lake/logs/${year}/${month}/${day}"),
    )
    .await;
    let event = s3_event(&["logs/2026/11/25/app-1.log.gz", "logs/2026/11/app.log.gz"]);
    let out = registrar(&[&t]).handle_event(&event, false).await.unwrap();
    assert_eq!(values(&out.report.created), strings(&[K25]));
    assert_eq!(
        out.report.created[0].location,
        "s3://example-data-lake/logs/2026/11/25/"
    );
    assert_eq!(out.report.skipped[0].kind, "not_template_path");
}

#[tokio::test]
async fn wrong_typed_value_is_skipped_and_never_registered() {
    let t = create_table(
        "s3://example-data-lake/typed/",
        &[("dt", "date"), ("hour", "int")],
        None,
    )
    .await;
    let event = s3_event(&[
        "typed/dt=2026-11-25/hour=07/a.json",
        "typed/dt=2026-13-45/hour=07/a.json",
        "typed/dt=2026-11-25/hour=seven/a.json",
    ]);
    let out = registrar(&[&t]).handle_event(&event, false).await.unwrap();
    assert_eq!(
        values(&out.report.created),
        strings(&[&["2026-11-25", "07"]])
    );
    assert_eq!(out.report.skipped.len(), 2);
    assert!(out.report.skipped.iter().all(|s| s.kind == "invalid_value"));
    assert!(
        out.report.skipped[1].reason.contains("hour"),
        "{}",
        out.report.skipped[1].reason
    );
    assert_eq!(partitions(&t).await.len(), 1);
}

#[tokio::test]
async fn many_new_partitions_in_one_sqs_batch_are_created_in_chunks_of_100() {
    let t = create_table(CLICKSTREAM, YMD, None).await;
    let keys: Vec<String> = (0..250)
        .map(|i| {
            format!(
                "clickstream/year=2026/month={:02}/day={:02}/part-0.parquet",
                i / 28 + 1,
                i % 28 + 1
            )
        })
        .collect();
    let bodies: Vec<_> = keys.iter().map(|k| s3_event(&[k.as_str()])).collect();
    let out = registrar(&[&t])
        .handle_event(&sqs_event(&bodies), false)
        .await
        .unwrap();
    assert_eq!(out.report.created.len(), 250);
    assert_eq!(out.report.batch_item_failures, Some(vec![]));
    assert_eq!(out.stats.glue_requests.get("BatchCreatePartition"), 3);
    assert_eq!(out.stats.glue_requests.get("GetTable"), 1);
    assert_eq!(partitions(&t).await.len(), 250);
}

#[tokio::test]
async fn same_event_twice_reports_existing_and_leaves_the_catalog_unchanged() {
    let t = create_table(CLICKSTREAM, YMD, None).await;
    let event = fixture("sqs-s3.json");
    registrar(&[&t]).handle_event(&event, false).await.unwrap();
    let before = partitions(&t).await;
    // A new process (cold start) learns from Glue that they exist.
    let again = registrar(&[&t]).handle_event(&event, false).await.unwrap();
    assert!(again.report.created.is_empty());
    assert_eq!(values(&again.report.existing), strings(&[K25, K26]));
    assert_eq!(partitions(&t).await, before);
}

#[tokio::test]
async fn warm_process_makes_no_glue_call_for_a_partition_it_has_seen() {
    let t = create_table(CLICKSTREAM, YMD, None).await;
    let r = registrar(&[&t]);
    let event = fixture("sqs-s3.json");
    r.handle_event(&event, false).await.unwrap();
    let warm = r.handle_event(&event, false).await.unwrap();
    assert_eq!(values(&warm.report.existing), strings(&[K25, K26]));
    assert_eq!(warm.stats.glue_requests.total(), 0);
}

#[tokio::test]
async fn partition_storage_descriptor_is_the_tables_but_for_its_location() {
    let t = create_table(CLICKSTREAM, YMD, None).await;
    registrar(&[&t])
        .handle_event(&fixture("s3-object-created.json"), false)
        .await
        .unwrap();
    let stored = partitions(&t).await;
    let mut expected = storage(CLICKSTREAM);
    expected.location =
        Some("s3://example-data-lake/clickstream/year=2026/month=11/day=25/".into());
    assert_eq!(stored[0].storage_descriptor(), Some(&expected));
}

#[tokio::test]
async fn unparsable_sqs_message_is_the_only_batch_item_failure() {
    let t = create_table(CLICKSTREAM, YMD, None).await;
    let event = fixture("sqs-one-unparsable.json");
    let out = registrar(&[&t]).handle_event(&event, false).await.unwrap();
    let failures = out.report.batch_item_failures.unwrap();
    assert_eq!(failures.len(), 1);
    assert_eq!(failures[0], event["Records"][1]["messageId"]);
    assert_eq!(values(&out.report.created), strings(&[K25, K26]));
}

#[tokio::test]
async fn glue_failure_fails_exactly_the_messages_of_its_objects() {
    let good = create_table(CLICKSTREAM, YMD, None).await;
    let doomed = create_table("s3://example-data-lake/doomed/", &[("dt", "string")], None).await;
    let r = registrar(&[&good, &doomed]);
    r.served_tables().await;
    // The table disappears after the process cached it: BatchCreatePartition will fail.
    glue()
        .delete_table()
        .database_name(&doomed.database)
        .name(&doomed.table)
        .send()
        .await
        .unwrap();
    let event = sqs_event(&[
        s3_event(&["clickstream/year=2026/month=11/day=25/a.parquet"]),
        s3_event(&["doomed/dt=2026-11-25/a.parquet"]),
    ]);
    let out = r.handle_event(&event, false).await.unwrap();
    assert_eq!(out.report.created.len(), 1);
    assert_eq!(out.report.failed.len(), 1);
    assert_eq!(out.report.failed[0].key, "doomed/dt=2026-11-25/a.parquet");
    let failures: Vec<_> = out
        .report
        .batch_item_failures
        .unwrap()
        .into_iter()
        .collect();
    assert_eq!(failures, ["msg-1"]);
}

#[tokio::test]
async fn dry_run_plans_but_writes_nothing() {
    let t = create_table(CLICKSTREAM, YMD, None).await;
    let out = registrar(&[&t])
        .handle_event(&fixture("sqs-s3.json"), true)
        .await
        .unwrap();
    assert!(out.report.dry_run);
    assert_eq!(values(&out.report.created), strings(&[K25, K26]));
    assert_eq!(out.stats.glue_requests.get("BatchCreatePartition"), 0);
    assert!(partitions(&t).await.is_empty());
}

#[tokio::test]
async fn databases_serve_every_partitioned_table_in_them() {
    let t = create_table(CLICKSTREAM, YMD, None).await;
    let mut config = glue_partition_registrar::config::Config::for_table(t.clone());
    config.tables.clear();
    config.databases = vec![t.database.clone()];
    let r = glue_partition_registrar::handler::Registrar::new(
        glue_partition_registrar::aws::Clients::new(&crate::moto::sdk_config()),
        config,
    );
    let out = r
        .handle_event(&fixture("s3-object-created.json"), false)
        .await
        .unwrap();
    assert_eq!(values(&out.report.created), strings(&[K25]));
    assert_eq!(out.report.created[0].database, t.database);
}

#[tokio::test]
async fn lambda_response_to_sqs_is_only_the_batch_item_failures() {
    let t = create_table(CLICKSTREAM, YMD, None).await;
    let response = invoke(&registrar(&[&t]), &fixture("sqs-one-unparsable.json"))
        .await
        .unwrap();
    assert_eq!(
        response,
        json!({"batchItemFailures": [{"itemIdentifier": "059f36b4-87a3-44ab-83d2-661975960001"}]})
    );
}

#[tokio::test]
async fn lambda_fails_a_direct_invocation_with_failed_objects_so_it_is_retried() {
    let t = create_table(CLICKSTREAM, YMD, None).await;
    let r = registrar(&[&t]);
    r.served_tables().await;
    glue()
        .delete_table()
        .database_name(&t.database)
        .name(&t.table)
        .send()
        .await
        .unwrap();
    assert!(
        invoke(&r, &fixture("s3-object-created.json"))
            .await
            .is_err()
    );
}

#[tokio::test]
async fn a_failed_sqs_record_without_a_message_id_brings_the_whole_batch_back() {
    let t = create_table(CLICKSTREAM, YMD, None).await;
    let event = json!({"Records": [
        {"messageId": "fine", "eventSource": "aws:sqs",
         "body": s3_event(&["clickstream/year=2026/month=11/day=25/a.parquet"]).to_string()},
        {"eventSource": "aws:sqs", "body": "{not json"}
    ]});
    let r = registrar(&[&t]);
    let out = r.handle_event(&event, false).await.unwrap();
    assert!(out.report.retry_whole_batch);
    let err = invoke(&r, &event).await.unwrap_err();
    assert!(err.error_message.contains("no messageId"), "{err:?}");
}

#[tokio::test]
async fn an_invocation_is_a_function_of_the_payload_and_the_deadline() {
    let t = create_table(CLICKSTREAM, YMD, None).await;
    let metrics = test_metrics();
    let payload = std::fs::read_to_string(format!(
        "{}/events/sqs-one-unparsable.json",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap();
    let response = glue_partition_registrar::lambda::invoke(
        &registrar(&[&t]),
        &metrics,
        &payload,
        "req-1",
        glue_partition_registrar::core::Deadline::after(std::time::Duration::from_secs(30)),
    )
    .await
    .unwrap();
    assert_eq!(
        response,
        json!({"batchItemFailures": [{"itemIdentifier": "059f36b4-87a3-44ab-83d2-661975960001"}]})
    );
    assert_eq!(partitions(&t).await.len(), 2);
}

#[tokio::test]
async fn a_dead_letter_failure_record_registers_the_event_that_failed() {
    let t = create_table(CLICKSTREAM, YMD, None).await;
    let out = registrar(&[&t])
        .handle_event(&fixture("lambda-destination-failure.json"), false)
        .await
        .unwrap();
    assert_eq!(values(&out.report.created), strings(&[K25]));
}

#[tokio::test]
async fn tables_listed_in_an_object_are_served_as_if_named() {
    // Lambda holds 4 KB of environment: hundreds of tables are listed in an object instead.
    let bucket = create_bucket().await;
    let t = create_table(&format!("s3://{bucket}/clickstream/"), YMD, None).await;
    let lists = create_bucket().await;
    put_bytes(
        &lists,
        "config/tables.txt",
        format!("other.table\n{t}\n").into_bytes(),
    )
    .await;
    let config = glue_partition_registrar::config::Settings::from_lookup(|name| match name {
        "GLUE_TABLES" => Some(format!("s3://{lists}/config/tables.txt")),
        _ => None,
    })
    .unwrap()
    .registrar;
    let r = glue_partition_registrar::handler::Registrar::new(clients(), config);
    let key = "clickstream/year=2026/month=11/day=25/part-0.json";
    let out = r
        .handle_event(&s3_event_in(&bucket, "ObjectCreated:Put", &[key]), false)
        .await
        .unwrap();
    assert_eq!(
        values(&out.report.created),
        strings(&[&["2026", "11", "25"]])
    );
    assert!(r.serves(&t).await);
    assert!(
        !r.serves(&glue_partition_registrar::config::TableName::new(
            "some", "stranger"
        ))
        .await
    );
}
