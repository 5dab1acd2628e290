//! Test fixtures: tables created in the emulator as the one-time crawler would, events read
//! from `events/` or built in the shapes AWS sends.

use crate::moto::{sdk_config, sdk_config_at};
use crate::proxy::Proxy;
use aws_sdk_glue::types::{Column, Partition, SerDeInfo, StorageDescriptor, TableInput};
use glue_partition_registrar::aws::Clients;
use glue_partition_registrar::config::{Config, TableName};
use glue_partition_registrar::handler::{HandleError, Outcome, Registrar};
use serde_json::{Value, json};
use std::sync::atomic::{AtomicUsize, Ordering};

pub const BUCKET: &str = "example-data-lake";
pub const CLICKSTREAM: &str = "s3://example-data-lake/clickstream/";
pub const YMD: &[(&str, &str)] = &[("year", "string"), ("month", "string"), ("day", "string")];

/// A Glue client for the emulator, built as the registrar's own.
pub fn glue() -> aws_sdk_glue::Client {
    Clients::new(&sdk_config()).glue
}

/// A name no other test uses: tests share one emulator and run in parallel, and passes keep
/// checkpoints (by default in a directory that outlives the run) under their table's name,
/// so the name is this run's own too.
pub fn unique(prefix: &str) -> String {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    static RUN: std::sync::OnceLock<u32> = std::sync::OnceLock::new();
    let run = RUN.get_or_init(|| {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        (std::process::id() ^ nanos) % 100_000
    });
    format!("{prefix}_{run}_{}", NEXT.fetch_add(1, Ordering::Relaxed))
}

pub fn storage(location: &str) -> StorageDescriptor {
    StorageDescriptor::builder()
        .set_columns(Some(vec![
            Column::builder()
                .name("user_id")
                .r#type("string")
                .build()
                .unwrap(),
            Column::builder()
                .name("url")
                .r#type("string")
                .build()
                .unwrap(),
            Column::builder()
                .name("ts")
                .r#type("timestamp")
                .build()
                .unwrap(),
        ]))
        .location(location)
        .input_format("org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat")
        .output_format("org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat")
        .serde_info(
            SerDeInfo::builder()
                .serialization_library(
                    "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe",
                )
                .parameters("serialization.format", "1")
                .build(),
        )
        .compressed(false)
        .parameters("classification", "parquet")
        .build()
}

/// Create a database of its own and a partitioned table in it.
pub async fn create_table(
    location: &str,
    keys: &[(&str, &str)],
    template: Option<&str>,
) -> TableName {
    let glue = glue();
    let database = unique("db");
    glue.create_database()
        .database_input(
            aws_sdk_glue::types::DatabaseInput::builder()
                .name(&database)
                .build()
                .unwrap(),
        )
        .send()
        .await
        .expect("create database");
    let name = TableName {
        database,
        table: "clickstream".to_owned(),
    };
    create_table_in(&name, location, keys, template).await;
    name
}

pub async fn create_table_in(
    name: &TableName,
    location: &str,
    keys: &[(&str, &str)],
    template: Option<&str>,
) {
    let mut input = TableInput::builder()
        .name(&name.table)
        .table_type("EXTERNAL_TABLE")
        .storage_descriptor(storage(location))
        .set_partition_keys(Some(
            keys.iter()
                .map(|(n, t)| Column::builder().name(*n).r#type(*t).build().unwrap())
                .collect(),
        ))
        .parameters("classification", "parquet");
    if let Some(t) = template {
        input = input.parameters("storage.location.template", t);
    }
    glue()
        .create_table()
        .database_name(&name.database)
        .table_input(input.build().unwrap())
        .send()
        .await
        .expect("create table");
}

/// Every partition of a table, read back from the emulator.
pub async fn partitions(name: &TableName) -> Vec<Partition> {
    let mut out = Vec::new();
    let mut pages = glue()
        .get_partitions()
        .database_name(&name.database)
        .table_name(&name.table)
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        out.extend(page.expect("get partitions").partitions().iter().cloned());
    }
    out.sort_by(|a, b| a.values().cmp(b.values()));
    out
}

/// Clients for the registrar under test: through the proxy that makes moto behave as Glue
/// documents (input rules, paging), so every test meets them.
pub fn clients() -> Clients {
    Clients::new(&sdk_config_at(&Proxy::shared().endpoint))
}

/// A registrar for `config`, its clients pointed at `endpoint` (a proxy of its own).
pub fn registrar_at(endpoint: &str, config: Config) -> Registrar {
    Registrar::new(Clients::new(&sdk_config_at(endpoint)), config)
}

pub fn registrar(tables: &[&TableName]) -> Registrar {
    let mut config = Config::for_table(tables[0].clone());
    config.tables = tables.iter().map(|t| (*t).clone()).collect();
    Registrar::new(clients(), config)
}

/// Metrics settings for tests that look at EMF documents.
pub fn test_metrics() -> glue_partition_registrar::metrics::MetricsConfig {
    glue_partition_registrar::metrics::MetricsConfig {
        namespace: "Test".into(),
        service: "test".into(),
        function_name: "test".into(),
        per_table: false,
    }
}

/// One Lambda invocation with this payload, as the runtime makes it: its answer, or the
/// error the runtime reports (which makes Lambda retry the event).
pub async fn invoke(
    registrar: &Registrar,
    payload: &Value,
) -> Result<Value, glue_partition_registrar::lambda::Diagnostic> {
    glue_partition_registrar::lambda::invoke(
        registrar,
        &test_metrics(),
        &payload.to_string(),
        "req-test",
        glue_partition_registrar::core::Deadline::after(std::time::Duration::from_secs(60)),
    )
    .await
}

/// The handler as the Lambda and the CLI call it: on the event's JSON text.
pub trait HandleExt {
    async fn handle_event(&self, event: &Value, dry_run: bool) -> Result<Outcome, HandleError>;
}

impl HandleExt for Registrar {
    async fn handle_event(&self, event: &Value, dry_run: bool) -> Result<Outcome, HandleError> {
        let text = event.to_string();
        self.handle_text(
            &text,
            dry_run,
            glue_partition_registrar::core::Deadline::NONE,
        )
        .await
    }
}

pub fn fixture(name: &str) -> Value {
    let path = format!("{}/events/{name}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_json::from_str(&text).unwrap()
}

/// An S3 notification with one ObjectCreated:Put record per (already URL-encoded) key.
pub fn s3_event(keys: &[&str]) -> Value {
    json!({"Records": keys.iter().map(|k| json!({
        "eventVersion": "2.1", "eventSource": "aws:s3", "awsRegion": "us-east-1",
        "eventTime": "2026-11-25T09:15:42.123Z", "eventName": "ObjectCreated:Put",
        "s3": {"s3SchemaVersion": "1.0", "bucket": {"name": BUCKET, "arn": format!("arn:aws:s3:::{BUCKET}")},
               "object": {"key": k, "size": 1024, "sequencer": "0065F1A3B2C4D5E6F7"}}
    })).collect::<Vec<_>>()})
}

/// An SQS event whose messages carry these documents as bodies.
pub fn sqs_event(bodies: &[Value]) -> Value {
    json!({"Records": bodies.iter().enumerate().map(|(i, b)| json!({
        "messageId": format!("msg-{i}"), "receiptHandle": format!("rh-{i}"),
        "body": b.to_string(), "attributes": {"ApproximateReceiveCount": "1"},
        "messageAttributes": {}, "eventSource": "aws:sqs",
        "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:events", "awsRegion": "us-east-1"
    })).collect::<Vec<_>>()})
}

pub fn values(
    entries: &[glue_partition_registrar::core::report::PartitionEntry],
) -> Vec<Vec<String>> {
    let mut v: Vec<Vec<String>> = entries.iter().map(|e| e.values.clone()).collect();
    v.sort();
    v
}

pub fn strings(items: &[&[&str]]) -> Vec<Vec<String>> {
    items
        .iter()
        .map(|i| i.iter().map(|s| s.to_string()).collect())
        .collect()
}

/// An S3 client for the emulator (path-style, as the registrar's own).
pub fn s3() -> aws_sdk_s3::Client {
    Clients::new(&sdk_config()).s3
}

/// A bucket of its own, created in the emulator.
pub async fn create_bucket() -> String {
    let bucket = unique("bucket").replace('_', "-");
    s3().create_bucket()
        .bucket(&bucket)
        .send()
        .await
        .expect("create bucket");
    bucket
}

/// Upload empty objects, many at once.
pub async fn put_objects(bucket: &str, keys: &[String]) {
    use futures_util::StreamExt;
    let s3 = s3();
    futures_util::stream::iter(keys.to_vec())
        .map(|k| {
            let (s3, bucket) = (s3.clone(), bucket.to_owned());
            async move {
                s3.put_object()
                    .bucket(bucket)
                    .key(k)
                    .body(aws_sdk_s3::primitives::ByteStream::from_static(b"{}"))
                    .send()
                    .await
                    .expect("put object")
            }
        })
        .buffer_unordered(16)
        .collect::<Vec<_>>()
        .await;
}

pub async fn delete_objects(bucket: &str, keys: &[String]) {
    for k in keys {
        s3().delete_object()
            .bucket(bucket)
            .key(k)
            .send()
            .await
            .expect("delete object");
    }
}

/// A registrar for one table, with `DELETE_EMPTY_PARTITIONS` as given.
pub fn registrar_deleting(table: &TableName, delete_empty: bool) -> Registrar {
    let mut config = Config::for_table(table.clone());
    config.delete_empty_partitions = delete_empty;
    Registrar::new(clients(), config)
}

/// An S3 notification for objects of `bucket` (already URL-encoded keys).
pub fn s3_event_in(bucket: &str, event_name: &str, keys: &[&str]) -> Value {
    json!({"Records": keys.iter().map(|k| json!({
        "eventVersion": "2.1", "eventSource": "aws:s3", "awsRegion": "us-east-1",
        "eventTime": "2026-11-25T09:15:42.123Z", "eventName": event_name,
        "s3": {"s3SchemaVersion": "1.0", "bucket": {"name": bucket, "arn": format!("arn:aws:s3:::{bucket}")},
               "object": {"key": k, "sequencer": "0065F1A3B2C4D5E6F7"}}
    })).collect::<Vec<_>>()})
}

/// A backfill or sync as the tests ask for one: what the pass does (prune, update schemas,
/// a window), where it goes on (`resume`, a report's cursor), and how the run goes (the
/// production options).
#[derive(Debug, Clone)]
pub struct SyncOptions {
    pub prune: bool,
    pub update_schema: bool,
    pub window_days: Option<u32>,
    pub resume: Option<glue_partition_registrar::core::pass::CursorRef>,
    pub dry_run: bool,
    pub concurrency: usize,
    pub glue_concurrency: usize,
    pub deadline: glue_partition_registrar::core::Deadline,
    pub drain: std::time::Duration,
    pub page_size: i32,
    pub catalog_page_size: i32,
    pub catalog_segments: i32,
    pub max_units: usize,
    pub now_ms: i64,
}

impl Default for SyncOptions {
    fn default() -> Self {
        let o = glue_partition_registrar::sync::SyncOptions::default();
        Self {
            prune: false,
            update_schema: false,
            window_days: None,
            resume: None,
            dry_run: o.dry_run,
            concurrency: o.concurrency,
            glue_concurrency: o.glue_concurrency,
            deadline: o.deadline,
            drain: o.drain,
            page_size: o.page_size,
            catalog_page_size: o.catalog_page_size,
            catalog_segments: o.catalog_segments,
            max_units: o.max_units,
            now_ms: o.now_ms,
        }
    }
}

impl SyncOptions {
    /// The run of the pass this asks for, and the production options of the run.
    pub fn request(
        &self,
        table: &TableName,
    ) -> (
        glue_partition_registrar::sync::PassRequest,
        glue_partition_registrar::sync::SyncOptions,
    ) {
        use glue_partition_registrar::core::request::Step;
        let step = match &self.resume {
            None => Step::Start,
            Some(c) => match c.group {
                Some(group) => Step::Group {
                    pass: c.pass.clone(),
                    group,
                },
                None => Step::Finish {
                    pass: c.pass.clone(),
                },
            },
        };
        (
            glue_partition_registrar::sync::PassRequest {
                table: table.clone(),
                prune: self.prune,
                update_schema: self.update_schema,
                window_days: self.window_days,
                step,
            },
            glue_partition_registrar::sync::SyncOptions {
                dry_run: self.dry_run,
                concurrency: self.concurrency,
                glue_concurrency: self.glue_concurrency,
                deadline: self.deadline,
                drain: self.drain,
                page_size: self.page_size,
                catalog_page_size: self.catalog_page_size,
                catalog_segments: self.catalog_segments,
                max_units: self.max_units,
                now_ms: self.now_ms,
            },
        )
    }
}

/// `sync` as a method, as the tests read best: `registrar.sync(&table, &options)`, with
/// progress as log lines; a run of a pass, as the CLI and a direct invocation make it.
pub trait SyncExt {
    async fn sync(
        &self,
        table: &TableName,
        options: &SyncOptions,
    ) -> Result<
        glue_partition_registrar::core::report::Report,
        glue_partition_registrar::sync::SyncError,
    >;

    /// The cursor of a group of a pass, as its checkpoint holds it.
    async fn group_cursor(
        &self,
        table: &TableName,
        cursor: &glue_partition_registrar::core::pass::CursorRef,
    ) -> glue_partition_registrar::core::pass::Cursor;
}

impl SyncExt for Registrar {
    async fn sync(
        &self,
        table: &TableName,
        options: &SyncOptions,
    ) -> Result<
        glue_partition_registrar::core::report::Report,
        glue_partition_registrar::sync::SyncError,
    > {
        use glue_partition_registrar::sync::{LogProgress, Ran, run};
        let (request, options) = options.request(table);
        match Box::pin(run(self, &request, &options, &LogProgress::default())).await? {
            Ran::Report(report) => Ok(*report),
            Ran::Split(plan) => panic!("a run of a pass answered a split: {plan:?}"),
        }
    }

    async fn group_cursor(
        &self,
        table: &TableName,
        cursor: &glue_partition_registrar::core::pass::CursorRef,
    ) -> glue_partition_registrar::core::pass::Cursor {
        glue_partition_registrar::sync::Checkpoints::new(self.store().unwrap(), table)
            .group(
                &cursor.pass,
                cursor.group.expect("a group's cursor"),
                glue_partition_registrar::core::Deadline::NONE,
            )
            .await
            .unwrap()
            .value
    }
}

pub async fn put_bytes(bucket: &str, key: &str, bytes: Vec<u8>) {
    s3().put_object()
        .bucket(bucket)
        .key(key)
        .body(aws_sdk_s3::primitives::ByteStream::from(bytes))
        .send()
        .await
        .expect("put object");
}

/// Add a column to a table, as Terraform or one more crawler run would.
pub async fn add_column(t: &TableName, name: &str, ty: &str) {
    let table = glue()
        .get_table()
        .database_name(&t.database)
        .name(&t.table)
        .send()
        .await
        .unwrap()
        .table
        .unwrap();
    let mut sd = table.storage_descriptor.unwrap();
    sd.columns.get_or_insert_with(Vec::new).push(
        aws_sdk_glue::types::Column::builder()
            .name(name)
            .r#type(ty)
            .build()
            .unwrap(),
    );
    let input = aws_sdk_glue::types::TableInput::builder()
        .name(&t.table)
        .table_type("EXTERNAL_TABLE")
        .storage_descriptor(sd)
        .set_partition_keys(Some(table.partition_keys.unwrap_or_default()))
        .set_parameters(table.parameters)
        .build()
        .unwrap();
    glue()
        .update_table()
        .database_name(&t.database)
        .table_input(input)
        .send()
        .await
        .expect("update table");
}
