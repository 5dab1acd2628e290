//! The crawler's last job without the crawler: schema changes reach the partitions, drift in
//! new files is noticed, and a central catalog in another account is used throughout.

use crate::moto::sdk_config_at;
use crate::proxy::{FaultProxy, Plan};
use crate::support::*;
use glue_partition_registrar::aws::Clients;
use glue_partition_registrar::config::{Config, TableName};
use glue_partition_registrar::handler::Registrar;
use std::collections::BTreeSet;

/// moto's account: the catalog id a cross-account configuration would name.
const CATALOG: &str = "123456789012";

#[tokio::test]
async fn every_glue_request_names_the_configured_catalog() {
    let bucket = create_bucket().await;
    let t = create_table(&format!("s3://{bucket}/clickstream/"), YMD, None).await;
    let keys = [
        "clickstream/year=2026/month=11/day=24/a.json".to_owned(),
        "clickstream/year=2026/month=11/day=25/a.json".to_owned(),
    ];
    put_objects(&bucket, &keys).await;
    let proxy = FaultProxy::start(Plan::none(), 1).await;
    let mut config = Config::for_table(t.clone());
    config.catalog_id = Some(CATALOG.to_owned());
    config.delete_empty_partitions = true;
    let r = Registrar::new(Clients::new(&sdk_config_at(&proxy.endpoint)), config);

    r.handle_event(
        &s3_event_in(&bucket, "ObjectCreated:Put", &[&keys[0]]),
        false,
    )
    .await
    .unwrap();
    delete_objects(&bucket, &keys[..1]).await;
    r.handle_event(
        &s3_event_in(&bucket, "ObjectRemoved:Delete", &[&keys[0]]),
        false,
    )
    .await
    .unwrap();
    let options = SyncOptions {
        prune: true,
        ..SyncOptions::default()
    };
    r.sync(&t, &options).await.unwrap();

    let seen = proxy.seen();
    let operations: BTreeSet<&str> = seen.iter().map(|s| s.operation.as_str()).collect();
    for op in [
        "GetTable",
        "BatchCreatePartition",
        "BatchGetPartition",
        "DeletePartition",
        "GetPartitions",
    ] {
        assert!(
            operations.contains(op),
            "{op} not exercised: {operations:?}"
        );
    }
    for s in &seen {
        let body: serde_json::Value = serde_json::from_str(&s.body).unwrap();
        assert_eq!(
            body["CatalogId"], CATALOG,
            "{} without the catalog id",
            s.operation
        );
    }
}

/// A Parquet file of one row with these columns (`message` fields, e.g.
/// `required binary user_id (STRING);`), as a writer such as Spark would leave it.
pub fn parquet_file(fields: &str) -> Vec<u8> {
    use parquet::column::writer::ColumnWriter;
    use parquet::data_type::ByteArray;
    use parquet::file::properties::WriterProperties;
    use parquet::file::writer::SerializedFileWriter;
    use std::sync::Arc;
    let schema = parquet::schema::parser::parse_message_type(&format!(
        "message spark_schema {{ {fields} }}"
    ))
    .unwrap();
    let mut out = Vec::new();
    let mut writer = SerializedFileWriter::new(
        &mut out,
        Arc::new(schema),
        Arc::new(WriterProperties::builder().build()),
    )
    .unwrap();
    let mut row_group = writer.next_row_group().unwrap();
    while let Some(mut column) = row_group.next_column().unwrap() {
        match column.untyped() {
            ColumnWriter::ByteArrayColumnWriter(w) => {
                w.write_batch(&[ByteArray::from("x")], None, None).unwrap();
            }
            ColumnWriter::Int64ColumnWriter(w) => {
                w.write_batch(&[1_795_000_000_000], None, None).unwrap();
            }
            ColumnWriter::Int32ColumnWriter(w) => {
                w.write_batch(&[1], None, None).unwrap();
            }
            ColumnWriter::DoubleColumnWriter(w) => {
                w.write_batch(&[1.5], None, None).unwrap();
            }
            _ => panic!("column type not used by these tests"),
        };
        column.close().unwrap();
    }
    row_group.close().unwrap();
    writer.close().unwrap();
    out
}

/// The columns of `storage()`: user_id string, url string, ts timestamp.
pub const CLICKSTREAM_FIELDS: &str = "required binary user_id (STRING); required binary url (STRING); required int64 ts (TIMESTAMP(MILLIS,true));";

fn column_names(p: &aws_sdk_glue::types::Partition) -> Vec<String> {
    p.storage_descriptor()
        .unwrap()
        .columns()
        .iter()
        .map(|c| c.name().to_owned())
        .collect()
}

#[tokio::test]
async fn a_column_added_to_the_table_reaches_every_partition_and_a_second_run_changes_nothing() {
    let bucket = create_bucket().await;
    let t = create_table(&format!("s3://{bucket}/clickstream/"), YMD, None).await;
    let keys: Vec<String> = (23..26)
        .map(|d| format!("clickstream/year=2026/month=11/day={d}/part-0.parquet"))
        .collect();
    put_objects(&bucket, &keys).await;
    let r = registrar(&[&t]);
    r.sync(&t, &SyncOptions::default()).await.unwrap();
    add_column(&t, "country", "string").await;

    let update = |dry_run| SyncOptions {
        update_schema: true,
        dry_run,
        ..SyncOptions::default()
    };
    let plan = r.sync(&t, &update(true)).await.unwrap();
    assert_eq!(plan.updated.len(), 3);
    assert!(plan.updated.iter().all(|u| u.changes == ["columns"]));
    assert!(
        partitions(&t)
            .await
            .iter()
            .all(|p| column_names(p).len() == 3)
    );

    let done = r.sync(&t, &update(false)).await.unwrap();
    assert_eq!(done.updated.len(), 3);
    for p in partitions(&t).await {
        assert_eq!(column_names(&p), ["user_id", "url", "ts", "country"]);
        let day = &p.values()[2];
        assert_eq!(
            p.storage_descriptor().unwrap().location(),
            Some(format!("s3://{bucket}/clickstream/year=2026/month=11/day={day}/").as_str()),
            "each partition keeps its own location"
        );
    }
    let again = r.sync(&t, &update(false)).await.unwrap();
    assert!(again.updated.is_empty(), "{:?}", again.updated);
}

#[tokio::test]
async fn new_partitions_get_a_changed_table_schema_once_the_table_cache_expires() {
    let t = create_table(CLICKSTREAM, YMD, None).await;
    let mut config = Config::for_table(t.clone());
    config.table_cache_ttl = std::time::Duration::from_millis(200);
    let r = Registrar::new(Clients::new(&crate::moto::sdk_config()), config);
    r.handle_event(
        &s3_event(&["clickstream/year=2026/month=11/day=24/a"]),
        false,
    )
    .await
    .unwrap();
    add_column(&t, "country", "string").await;
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    r.handle_event(
        &s3_event(&["clickstream/year=2026/month=11/day=25/a"]),
        false,
    )
    .await
    .unwrap();
    let stored = partitions(&t).await;
    assert_eq!(
        column_names(&stored[0]).len(),
        3,
        "registered before the change"
    );
    assert_eq!(column_names(&stored[1]).len(), 4, "registered after it");
}

fn drifting(t: &TableName) -> Registrar {
    let mut config = Config::for_table(t.clone());
    config.schema_drift = true;
    Registrar::new(Clients::new(&crate::moto::sdk_config()), config)
}

#[tokio::test]
async fn a_parquet_file_with_an_extra_column_raises_the_drift_metric() {
    let bucket = create_bucket().await;
    let t = create_table(&format!("s3://{bucket}/clickstream/"), YMD, None).await;
    let same = "clickstream/year=2026/month=11/day=24/part-0.parquet";
    let extra = "clickstream/year=2026/month=11/day=25/part-0.parquet";
    put_bytes(&bucket, same, parquet_file(CLICKSTREAM_FIELDS)).await;
    put_bytes(
        &bucket,
        extra,
        parquet_file(&format!(
            "{CLICKSTREAM_FIELDS} required binary country (STRING);"
        )),
    )
    .await;
    let out = drifting(&t)
        .handle_event(
            &s3_event_in(&bucket, "ObjectCreated:Put", &[same, extra]),
            false,
        )
        .await
        .unwrap();
    assert_eq!(out.report.created.len(), 2);
    assert_eq!(
        out.report.schema_drift.len(),
        1,
        "{:?}",
        out.report.schema_drift
    );
    let drift = &out.report.schema_drift[0];
    assert_eq!(drift.key, extra);
    assert!(
        drift.differences[0].contains("`country`"),
        "{:?}",
        drift.differences
    );
    // One ranged GET per new partition: footers are read, never whole objects.
    assert_eq!(out.stats.s3_requests.get("GetObject"), 2);
    let metrics = glue_partition_registrar::metrics::documents(&test_metrics(), &out, 0, None);
    assert_eq!(metrics[0]["SchemaDrift"], 1.0);
}

#[tokio::test]
async fn a_retyped_column_is_drift_and_an_unreadable_object_is_registered_all_the_same() {
    let bucket = create_bucket().await;
    let t = create_table(&format!("s3://{bucket}/clickstream/"), YMD, None).await;
    let retyped = "clickstream/year=2026/month=11/day=24/part-0.parquet";
    let not_parquet = "clickstream/year=2026/month=11/day=25/part-0.parquet";
    put_bytes(
        &bucket,
        retyped,
        parquet_file("required binary user_id (STRING); required binary url (STRING); required binary ts (STRING);"),
    )
    .await;
    put_bytes(&bucket, not_parquet, b"{\"user_id\": 1}".to_vec()).await;
    let out = drifting(&t)
        .handle_event(
            &s3_event_in(&bucket, "ObjectCreated:Put", &[retyped, not_parquet]),
            false,
        )
        .await
        .unwrap();
    assert_eq!(out.report.created.len(), 2);
    assert!(out.report.failed.is_empty());
    assert_eq!(out.report.schema_drift.len(), 1);
    assert!(
        out.report.schema_drift[0].differences[0]
            .contains("`ts` is string in the file, timestamp in the table")
    );
}
