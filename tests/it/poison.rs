//! No poison pills, no lost reports: Glue's input rules applied before sending, a partition
//! Glue refuses failing alone, every record of an event on its own, a missing table failing
//! only its own objects, bounded footer reads, and retried unprocessed keys and entries.

use crate::proxy::{Plan, Proxy, Rules};
use crate::support::*;
use glue_partition_registrar::config::{Config, TableName};
use glue_partition_registrar::core::Deadline;
use glue_partition_registrar::handler::Registrar;
use serde_json::{Value, json};
use std::time::Duration;

/// A registrar for `tables` through its own proxy.
fn through(proxy: &Proxy, tables: &[&TableName]) -> Registrar {
    let mut config = Config::for_table(tables[0].clone());
    config.tables = tables.iter().map(|t| (*t).clone()).collect();
    registrar_at(&proxy.endpoint, config)
}

#[tokio::test]
async fn a_directory_glue_would_refuse_is_skipped_with_the_rule_and_never_sent() {
    let t = create_table(CLICKSTREAM, YMD, None).await;
    let proxy = Proxy::start(Plan::none(), 1).await;
    let out = through(&proxy, &[&t])
        .handle_event(&fixture("s3-control-characters.json"), false)
        .await
        .unwrap();
    assert_eq!(
        values(&out.report.created),
        strings(&[&["2026", "11", "27"]])
    );
    assert!(out.report.failed.is_empty(), "{:?}", out.report.failed);
    let kinds: Vec<&str> = out.report.skipped.iter().map(|s| s.kind).collect();
    assert_eq!(kinds, ["glue_input_rule", "glue_input_rule"]);
    for s in &out.report.skipped {
        assert!(
            s.reason.contains("StorageDescriptor.Location"),
            "{}",
            s.reason
        );
    }
    assert!(out.report.skipped[0].reason.contains("U+0001"));
    assert!(out.report.skipped[1].reason.contains("U+001B"));
    // Never sent: the one create request holds only the good partition.
    let creates: Vec<_> = proxy
        .seen()
        .into_iter()
        .filter(|s| s.operation == "BatchCreatePartition")
        .collect();
    assert_eq!(creates.len(), 1);
    assert!(!creates[0].body.contains("\\u0001") && !creates[0].body.contains("\\u001b"));
    let metrics = glue_partition_registrar::metrics::documents(&test_metrics(), &out, 0, None);
    let by_rule = metrics
        .iter()
        .find(|d| d["Reason"] == "glue_input_rule")
        .expect("ObjectsSkipped by Reason");
    assert_eq!(by_rule["ObjectsSkipped"], 2.0);
}

#[tokio::test]
async fn a_backfill_skips_directories_glue_would_refuse_with_the_rule() {
    let bucket = create_bucket().await;
    let t = create_table(&format!("s3://{bucket}/clickstream/"), YMD, None).await;
    put_objects(
        &bucket,
        &[
            "clickstream/year=2026/month=11/day=2\u{1}5/part-0.json".to_owned(),
            "clickstream/year=2026/month=11/day=\u{FFFE}/part-0.json".to_owned(),
            "clickstream/year=2026/month=11/day=27/part-0.json".to_owned(),
        ],
    )
    .await;
    let report = registrar(&[&t])
        .sync(&t, &SyncOptions::default())
        .await
        .unwrap();
    assert_eq!(values(&report.created), strings(&[&["2026", "11", "27"]]));
    assert!(report.failed.is_empty(), "{:?}", report.failed);
    assert_eq!(report.skipped.len(), 2, "{:?}", report.skipped);
    assert!(report.skipped.iter().all(|s| s.kind == "glue_input_rule"));
}

/// One SQS message per partition, as S3 notifications arrive.
fn one_per_partition(days: std::ops::Range<u32>) -> Value {
    let bodies: Vec<Value> = days
        .map(|i| {
            let (month, day) = (i / 28 + 1, i % 28 + 1);
            s3_event(&[&format!(
                "clickstream/year=2026/month={month:02}/day={day:02}/part-0.parquet"
            )])
        })
        .collect();
    sqs_event(&bodies)
}

#[tokio::test]
async fn one_partition_glue_refuses_fails_alone_and_its_ninety_nine_neighbours_are_registered() {
    let t = create_table(CLICKSTREAM, YMD, None).await;
    let proxy = Proxy::start(Plan::none(), 1).await;
    // Message 37 holds month 02, day 10: Glue refuses that partition, naming no entry.
    proxy.set_rules(Rules {
        refuse: vec![strings(&[&["2026", "02", "10"]])[0].clone()],
        ..Rules::default()
    });
    let r = through(&proxy, &[&t]);
    let event = one_per_partition(0..100);
    let response = invoke(&r, &event).await.unwrap();
    assert_eq!(
        response,
        json!({"batchItemFailures": [{"itemIdentifier": "msg-37"}]})
    );
    assert_eq!(partitions(&t).await.len(), 99);
    // Halving isolates the culprit: one request, then two per level down to it.
    let creates = proxy.tally()["BatchCreatePartition"].0;
    assert!(creates <= 1 + 2 * 7, "{creates} create requests");
    // Redelivered, it fails alone again, and costs no request for the others (warm).
    let again = invoke(&r, &event).await.unwrap();
    assert_eq!(again, response);
}

#[tokio::test]
async fn a_direct_event_registers_its_good_records_and_fails_only_the_malformed_one() {
    let t = create_table(CLICKSTREAM, YMD, None).await;
    let r = registrar(&[&t]);
    let event = fixture("s3-one-malformed-record.json");
    let out = r.handle_event(&event, false).await.unwrap();
    assert_eq!(
        values(&out.report.created),
        strings(&[&["2026", "11", "24"], &["2026", "11", "25"]])
    );
    assert_eq!(out.report.failed.len(), 1);
    assert!(
        out.report.failed[0].error.contains("record 1")
            && out.report.failed[0].error.contains("s3.object.key"),
        "{}",
        out.report.failed[0].error
    );
    // The invocation fails, so Lambda retries it and finally dead-letters it; its good
    // records are already registered.
    assert!(invoke(&r, &event).await.is_err());
    assert_eq!(partitions(&t).await.len(), 2);
}

#[tokio::test]
async fn a_dead_letter_record_of_a_malformed_event_registers_the_rest_again() {
    let t = create_table(CLICKSTREAM, YMD, None).await;
    let record = json!({
        "version": "1.0", "timestamp": "2026-11-25T09:20:00.000Z",
        "requestContext": {"requestId": "r", "functionArn": "arn:aws:lambda:us-east-1:123456789012:function:f",
                           "condition": "RetriesExhausted", "approximateInvokeCount": 3},
        "requestPayload": fixture("s3-one-malformed-record.json"),
        "responseContext": {"statusCode": 200, "executedVersion": "$LATEST", "functionError": "Unhandled"},
        "responsePayload": {"errorMessage": "1 object(s) failed"}
    });
    let out = registrar(&[&t]).handle_event(&record, false).await.unwrap();
    assert_eq!(out.report.created.len(), 2);
    assert_eq!(out.report.failed.len(), 1);
}

#[tokio::test]
async fn a_dropped_table_fails_only_the_objects_it_may_hold_and_the_others_register() {
    let healthy = create_table(CLICKSTREAM, YMD, None).await;
    let gone = create_table("s3://example-data-lake/gone/", &[("dt", "string")], None).await;
    glue()
        .delete_table()
        .database_name(&gone.database)
        .name(&gone.table)
        .send()
        .await
        .unwrap();
    // A cold process: it never read the dropped table, so it cannot know its location.
    let r = registrar(&[&healthy, &gone]);
    let event = sqs_event(&[
        s3_event(&["clickstream/year=2026/month=11/day=25/a.parquet"]),
        s3_event(&["gone/dt=2026-11-25/a.parquet"]),
    ]);
    let out = r.handle_event(&event, false).await.unwrap();
    assert_eq!(
        values(&out.report.created),
        strings(&[&["2026", "11", "25"]])
    );
    assert_eq!(
        out.report.batch_item_failures,
        Some(vec!["msg-1".to_owned()])
    );
    assert!(
        out.report.failed[0]
            .error
            .contains(&format!("{gone} does not exist")),
        "{}",
        out.report.failed[0].error
    );
    assert_eq!(out.stats.tables_unreadable, 1);
    let metrics = glue_partition_registrar::metrics::documents(&test_metrics(), &out, 0, None);
    assert_eq!(metrics[0]["TablesUnreadable"], 1.0);
}

#[tokio::test]
async fn a_table_dropped_after_it_was_read_fails_its_own_objects_and_skips_strangers() {
    let healthy = create_table(CLICKSTREAM, YMD, None).await;
    let gone = create_table("s3://example-data-lake/gone/", &[("dt", "string")], None).await;
    let mut config = Config::for_table(healthy.clone());
    config.tables = vec![healthy.clone(), gone.clone()];
    config.table_cache_ttl = Duration::from_millis(100);
    let r = Registrar::new(clients(), config);
    r.served_tables().await;
    glue()
        .delete_table()
        .database_name(&gone.database)
        .name(&gone.table)
        .send()
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    let event = sqs_event(&[
        s3_event(&["clickstream/year=2026/month=11/day=25/a.parquet"]),
        s3_event(&["gone/dt=2026-11-25/a.parquet"]),
        s3_event(&["elsewhere/a.parquet"]),
    ]);
    let out = r.handle_event(&event, false).await.unwrap();
    assert_eq!(out.report.created.len(), 1);
    // Its last known location says which objects were its.
    assert_eq!(
        out.report.batch_item_failures,
        Some(vec!["msg-1".to_owned()])
    );
    assert_eq!(out.report.skipped[0].kind, "outside_tables");
}

#[tokio::test]
async fn served_tables_are_read_at_once() {
    let mut tables = Vec::new();
    for i in 0..4 {
        tables.push(create_table(&format!("s3://example-data-lake/t{i}/"), YMD, None).await);
    }
    let proxy = Proxy::start(Plan::none(), 1).await;
    proxy.set_rules(Rules {
        glue_latency: Duration::from_millis(300),
        ..Rules::default()
    });
    let refs: Vec<&TableName> = tables.iter().collect();
    let served = through(&proxy, &refs).served_tables().await;
    assert_eq!(served.tables.len(), 4);
    assert!(
        proxy.glue_max_in_flight("GetTable") >= 2,
        "tables read one after another"
    );
}

#[tokio::test]
async fn unprocessed_keys_are_asked_again_and_every_removal_is_settled() {
    let bucket = create_bucket().await;
    let t = create_table(&format!("s3://{bucket}/clickstream/"), YMD, None).await;
    let keys: Vec<String> = (1..=20)
        .map(|d| format!("clickstream/year=2026/month=11/day={d:02}/part-0.json"))
        .collect();
    put_objects(&bucket, &keys).await;
    registrar(&[&t])
        .sync(&t, &SyncOptions::default())
        .await
        .unwrap();
    delete_objects(&bucket, &keys).await;
    let proxy = Proxy::start(Plan::none(), 5).await;
    proxy.set_rules(Rules {
        unprocessed: 0.3,
        ..Rules::default()
    });
    let mut config = Config::for_table(t.clone());
    config.delete_empty_partitions = true;
    let r = registrar_at(&proxy.endpoint, config);
    let refs: Vec<&str> = keys.iter().map(String::as_str).collect();
    let out = r
        .handle_event(&s3_event_in(&bucket, "ObjectRemoved:Delete", &refs), false)
        .await
        .unwrap();
    assert!(out.report.failed.is_empty(), "{:?}", out.report.failed);
    assert_eq!(out.report.deleted.len(), 20);
    assert!(partitions(&t).await.is_empty());
    assert!(proxy.tally()["BatchGetPartition"].0 > 1, "asked once only");
}

#[tokio::test]
async fn per_entry_update_errors_are_retried_and_every_schema_brought_in_line() {
    let bucket = create_bucket().await;
    let t = create_table(&format!("s3://{bucket}/clickstream/"), YMD, None).await;
    let keys: Vec<String> = (1..=30)
        .map(|d| format!("clickstream/year=2026/month=11/day={d:02}/part-0.json"))
        .collect();
    put_objects(&bucket, &keys).await;
    registrar(&[&t])
        .sync(&t, &SyncOptions::default())
        .await
        .unwrap();
    add_column(&t, "country", "string").await;
    let proxy = Proxy::start(Plan::none(), 9).await;
    proxy.set_rules(Rules {
        update_errors: 0.4,
        ..Rules::default()
    });
    let r = registrar_at(&proxy.endpoint, Config::for_table(t.clone()));
    let options = SyncOptions {
        update_schema: true,
        ..SyncOptions::default()
    };
    let report = r.sync(&t, &options).await.unwrap();
    assert!(report.failed.is_empty(), "{:?}", report.failed);
    assert_eq!(report.updated.len(), 30);
    assert!(proxy.tally()["BatchUpdatePartition"].0 > 1);
    for p in partitions(&t).await {
        assert_eq!(p.storage_descriptor().unwrap().columns().len(), 4);
    }
}

#[tokio::test]
async fn a_prune_after_a_failed_listing_deletes_nothing_says_why_and_the_resumed_pass_prunes() {
    let bucket = create_bucket().await;
    let t = create_table(&format!("s3://{bucket}/clickstream/"), YMD, None).await;
    let keys: Vec<String> = (1..=20)
        .map(|d| format!("clickstream/year=2026/month=11/day={d:02}/part-0.json"))
        .collect();
    put_objects(&bucket, &keys).await;
    registrar(&[&t])
        .sync(&t, &SyncOptions::default())
        .await
        .unwrap();
    // Days 3 and 15 lose their data.
    delete_objects(&bucket, &[keys[2].clone(), keys[14].clone()]).await;
    let proxy = Proxy::start(Plan::none(), 1).await;
    proxy.set_rules(Rules {
        deny_listings_after: Some("clickstream/year=2026/month=11/day=10".into()),
        ..Rules::default()
    });
    let r = registrar_at(&proxy.endpoint, Config::for_table(t.clone()));
    let prune = SyncOptions {
        prune: true,
        page_size: 4,
        ..SyncOptions::default()
    };
    let first = r.sync(&t, &prune).await.unwrap();
    assert!(first.deleted.is_empty(), "{:?}", first.deleted);
    assert_eq!(partitions(&t).await.len(), 20);
    let failed = &first.failed[0];
    assert!(
        failed.error.contains("AccessDenied") && failed.error.contains("not walked"),
        "{}",
        failed.error
    );
    let stopped = first.stopped.as_deref().unwrap();
    assert!(stopped.contains("failed"), "{stopped}");
    let cursor = first.cursor.clone().expect("a cursor to go on from");
    // Listing allowed again, the pass goes on from its cursor and prunes what it showed
    // empty, in both runs.
    proxy.set_rules(Rules::default());
    let second = r
        .sync(
            &t,
            &SyncOptions {
                resume: Some(cursor),
                ..prune.clone()
            },
        )
        .await
        .unwrap();
    assert!(second.cursor.is_none(), "{:?}", second.stopped);
    assert_eq!(
        values(&second.deleted),
        strings(&[&["2026", "11", "03"], &["2026", "11", "15"]])
    );
    assert_eq!(partitions(&t).await.len(), 18);
    let said: usize = [&first, &second]
        .iter()
        .map(|r| r.existing.len() + r.created.len())
        .sum();
    assert_eq!(
        said, 18,
        "each partition with data reported once over the pass"
    );
}

#[tokio::test]
async fn a_footer_length_read_from_the_file_never_reads_past_the_object() {
    let bucket = create_bucket().await;
    // A file claiming a 4 GiB footer: with the object's size known from the first read's
    // Content-Range, no second read is made.
    let mut lying = vec![0u8; 100 * 1024];
    let n = lying.len();
    lying[n - 8..n - 4].copy_from_slice(&0xFFFF_FFF0u32.to_le_bytes());
    lying[n - 4..].copy_from_slice(b"PAR1");
    put_bytes(&bucket, "t/a.parquet", lying).await;
    let proxy = Proxy::start(Plan::none(), 1).await;
    let storage = glue_partition_registrar::storage::Storage::new(
        glue_partition_registrar::aws::Clients::new(&crate::moto::sdk_config_at(&proxy.endpoint))
            .s3,
    );
    let read = glue_partition_registrar::drift::file_columns(
        &storage,
        &bucket,
        "t/a.parquet",
        Deadline::NONE,
    )
    .await;
    assert!(
        matches!(
            read,
            Err(glue_partition_registrar::drift::FooterError::NotParquet { .. })
        ),
        "{read:?}"
    );
    assert_eq!(proxy.s3_requests("GetObject"), 1);
}

#[tokio::test]
async fn a_footer_larger_than_the_cap_is_not_read() {
    let bucket = create_bucket().await;
    let size = 6 * 1024 * 1024;
    let mut big = vec![0u8; size];
    big[size - 8..size - 4].copy_from_slice(&(5u32 * 1024 * 1024).to_le_bytes());
    big[size - 4..].copy_from_slice(b"PAR1");
    put_bytes(&bucket, "t/big.parquet", big).await;
    let proxy = Proxy::start(Plan::none(), 1).await;
    let storage = glue_partition_registrar::storage::Storage::new(
        glue_partition_registrar::aws::Clients::new(&crate::moto::sdk_config_at(&proxy.endpoint))
            .s3,
    );
    let read = glue_partition_registrar::drift::file_columns(
        &storage,
        &bucket,
        "t/big.parquet",
        Deadline::NONE,
    )
    .await;
    assert!(
        matches!(
            read,
            Err(glue_partition_registrar::drift::FooterError::FooterTooLarge { .. })
        ),
        "{read:?}"
    );
    assert_eq!(proxy.s3_requests("GetObject"), 1);
}

#[tokio::test]
async fn an_answer_that_ignores_the_range_is_refused_before_its_body_is_read() {
    let bucket = create_bucket().await;
    put_bytes(&bucket, "t/whole.parquet", vec![7u8; 200 * 1024]).await;
    let proxy = Proxy::start(Plan::none(), 1).await;
    proxy.set_rules(Rules {
        ignore_range: true,
        ..Rules::default()
    });
    let storage = glue_partition_registrar::storage::Storage::new(
        glue_partition_registrar::aws::Clients::new(&crate::moto::sdk_config_at(&proxy.endpoint))
            .s3,
    );
    let read = storage
        .read_tail(&bucket, "t/whole.parquet", 64 * 1024, Deadline::NONE)
        .await;
    let e = read.expect_err("a whole object is not taken for its tail");
    assert!(e.detail.contains("no byte range"), "{}", e.detail);
}

/// Glue through a proxy, built as the registrar's own.
fn glue_at(proxy: &Proxy) -> aws_sdk_glue::Client {
    glue_partition_registrar::aws::Clients::new(&crate::moto::sdk_config_at(&proxy.endpoint)).glue
}

#[tokio::test]
async fn values_glue_refuses_once_a_table_has_a_partition_index_are_skipped_and_never_sent() {
    use aws_sdk_glue::types::{PartitionIndex, PartitionInput};
    let t = create_table(CLICKSTREAM, &[("city", "string"), ("day", "date")], None).await;
    let proxy = Proxy::start(Plan::none(), 1).await;
    let glue = glue_at(&proxy);
    glue.create_partition_index()
        .database_name(&t.database)
        .table_name(&t.table)
        .partition_index(
            PartitionIndex::builder()
                .index_name("by_city_day")
                .keys("city")
                .keys("day")
                .build()
                .unwrap(),
        )
        .send()
        .await
        .expect("create the partition index");
    let listed = glue
        .get_partition_indexes()
        .database_name(&t.database)
        .table_name(&t.table)
        .send()
        .await
        .unwrap();
    assert_eq!(listed.partition_index_descriptor_list().len(), 1);
    // Sent anyway, as Glue answers once the index exists (moto alone takes both).
    let input = |values: [&str; 2]| {
        PartitionInput::builder()
            .set_values(Some(values.map(str::to_owned).to_vec()))
            .storage_descriptor(storage(&format!("{CLICKSTREAM}sent/")))
            .build()
    };
    let sent = glue
        .batch_create_partition()
        .database_name(&t.database)
        .table_name(&t.table)
        .partition_input_list(input(["x\u{1}y", "2026-11-25"]))
        .partition_input_list(input(["rome", "2026-11-31"]))
        .send()
        .await
        .unwrap();
    let codes: Vec<_> = sent
        .errors()
        .iter()
        .map(|e| {
            e.error_detail()
                .and_then(|d| d.error_code())
                .unwrap_or_default()
        })
        .collect();
    assert_eq!(codes, ["InvalidInputException", "InvalidInputException"]);
    assert!(partitions(&t).await.is_empty());

    // The registrar never sends them: a value holding U+0000-U+0002 (Hive-escaped in the key,
    // so only the value holds it) is skipped with Glue's rule, a date that is none with the
    // key's type.
    let event = s3_event(&[
        "clickstream/city=paris/day=2026-11-25/a.json",
        "clickstream/city=x%2500y/day=2026-11-25/a.json",
        "clickstream/city=x%2501y/day=2026-11-25/a.json",
        "clickstream/city=x%2502y/day=2026-11-25/a.json",
        "clickstream/city=rome/day=2026-11-31/a.json",
    ]);
    let before = proxy.tally()["BatchCreatePartition"].0;
    let out = through(&proxy, &[&t])
        .handle_event(&event, false)
        .await
        .unwrap();
    assert_eq!(
        values(&out.report.created),
        strings(&[&["paris", "2026-11-25"]])
    );
    assert!(out.report.failed.is_empty(), "{:?}", out.report.failed);
    let kinds: Vec<&str> = out.report.skipped.iter().map(|s| s.kind).collect();
    assert_eq!(
        kinds,
        [
            "glue_input_rule",
            "glue_input_rule",
            "glue_input_rule",
            "invalid_value"
        ]
    );
    for (skipped, hex) in out
        .report
        .skipped
        .iter()
        .zip(["U+0000", "U+0001", "U+0002"])
    {
        assert!(
            skipped.reason.contains(hex) && skipped.reason.contains("partition index"),
            "{}",
            skipped.reason
        );
    }
    let creates: Vec<_> = proxy
        .seen()
        .into_iter()
        .filter(|s| s.operation == "BatchCreatePartition")
        .skip(before)
        .collect();
    assert_eq!(creates.len(), 1);
    for refused in ["\\u0000", "\\u0001", "\\u0002", "2026-11-31"] {
        assert!(!creates[0].body.contains(refused), "{}", creates[0].body);
    }
    assert_eq!(partitions(&t).await.len(), 1);
}
