//! Backfill, sync --prune and DELETE_EMPTY_PARTITIONS against the emulator's S3 and Glue.

use crate::support::*;
use glue_partition_registrar::config::TableName;
use std::sync::Arc;

fn day_keys(prefix: &str, month: u32, day: u32, files: u32) -> Vec<String> {
    (0..files)
        .map(|f| format!("{prefix}/year=2026/month={month:02}/day={day:02}/part-{f:05}.json"))
        .collect()
}

async fn table_in(bucket: &str) -> TableName {
    create_table(&format!("s3://{bucket}/clickstream/"), YMD, None).await
}

/// `sync --prune`.
fn pruning() -> SyncOptions {
    SyncOptions {
        prune: true,
        ..options()
    }
}

fn options() -> SyncOptions {
    SyncOptions::default()
}

#[tokio::test]
async fn backfill_lists_about_once_per_thousand_objects() {
    let bucket = create_bucket().await;
    let t = table_in(&bucket).await;
    let mut keys = Vec::new();
    for month in 1..=10 {
        for day in 1..=30 {
            keys.extend(day_keys("clickstream", month, day, 10));
            keys.push(format!(
                "clickstream/year=2026/month={month:02}/day={day:02}/_SUCCESS"
            ));
        }
    }
    // Noise a crawler trips over: staging output and a partition holding only a marker.
    keys.push("clickstream/_temporary/0/part-0.json".into());
    keys.push("clickstream/year=2026/month=11/day=01/_SUCCESS".into());
    put_objects(&bucket, &keys).await;
    let objects = keys.len();

    let r = registrar(&[&t]);
    // 50 partitions are already registered: only the difference is created.
    let first = s3_event_in(
        &bucket,
        "ObjectCreated:Put",
        &keys
            .iter()
            .step_by(66)
            .map(String::as_str)
            .collect::<Vec<_>>(),
    );
    r.handle_event(&first, false).await.unwrap();
    let before_s3 = r.clients().s3_requests.snapshot();
    let before_glue = r.clients().glue_requests.snapshot();

    let report = r.sync(&t, &options()).await.unwrap();
    let s3_requests = r.clients().s3_requests.snapshot().since(&before_s3);
    let glue_requests = r.clients().glue_requests.snapshot().since(&before_glue);

    let already = partitions(&t).await.len() - report.created.len();
    assert_eq!(report.created.len() + report.existing.len(), 300);
    assert_eq!(report.existing.len(), already);
    assert!(report.failed.is_empty() && report.skipped.is_empty());
    assert_eq!(partitions(&t).await.len(), 300);
    // A flat walk: one listing per 1,000 keys, markers and staging output included, and
    // the split's one listing of the table's directories (too few keys to cut it).
    let lists = s3_requests.get("ListObjectsV2");
    assert_eq!(
        lists,
        (objects as u64).div_ceil(1000) + 1,
        "listings for {objects} objects"
    );
    assert_eq!(
        glue_requests.get("BatchCreatePartition"),
        (report.created.len() as u64).div_ceil(100)
    );
}

#[tokio::test]
async fn backfill_reads_template_layouts_by_listing_objects() {
    let bucket = create_bucket().await;
    let t = create_table(
        &format!("s3://{bucket}/logs/"),
        &[("year", "int"), ("month", "int")],
        Some(&format!("s3://{bucket}/logs/${{year}}/${{month}}")),
    )
    .await;
    put_objects(
        &bucket,
        &[
            "logs/2026/10/a.gz".into(),
            "logs/2026/11/a.gz".into(),
            "logs/2026/11/b.gz".into(),
            "logs/2026/xx/a.gz".into(),
        ],
    )
    .await;
    let report = registrar(&[&t]).sync(&t, &options()).await.unwrap();
    assert_eq!(
        values(&report.created),
        strings(&[&["2026", "10"], &["2026", "11"]])
    );
    assert_eq!(report.skipped.len(), 1);
    assert_eq!(report.skipped[0].kind, "invalid_value");
}

#[tokio::test]
async fn backfill_dry_run_writes_nothing() {
    let bucket = create_bucket().await;
    let t = table_in(&bucket).await;
    put_objects(&bucket, &day_keys("clickstream", 11, 25, 2)).await;
    let report = registrar(&[&t])
        .sync(
            &t,
            &SyncOptions {
                dry_run: true,
                ..options()
            },
        )
        .await
        .unwrap();
    assert!(report.dry_run);
    assert_eq!(report.created.len(), 1);
    assert!(partitions(&t).await.is_empty());
}

#[tokio::test]
async fn sync_prune_removes_exactly_the_emptied_partitions() {
    let bucket = create_bucket().await;
    let t = table_in(&bucket).await;
    let (d23, d24, d25) = (
        day_keys("clickstream", 11, 23, 2),
        day_keys("clickstream", 11, 24, 2),
        day_keys("clickstream", 11, 25, 2),
    );
    put_objects(&bucket, &[d23.clone(), d24.clone(), d25.clone()].concat()).await;
    let r = registrar(&[&t]);
    assert_eq!(r.sync(&t, &options()).await.unwrap().created.len(), 3);

    delete_objects(&bucket, &d23).await;
    // d24 keeps only its marker: no data any more.
    delete_objects(&bucket, &d24).await;
    put_objects(
        &bucket,
        &["clickstream/year=2026/month=11/day=24/_SUCCESS".into()],
    )
    .await;

    let without_prune = r.sync(&t, &options()).await.unwrap();
    assert!(without_prune.deleted.is_empty());
    assert_eq!(partitions(&t).await.len(), 3);

    let dry = r
        .sync(
            &t,
            &SyncOptions {
                prune: true,
                dry_run: true,
                ..options()
            },
        )
        .await
        .unwrap();
    assert_eq!(
        values(&dry.deleted),
        strings(&[&["2026", "11", "23"], &["2026", "11", "24"]])
    );
    assert_eq!(partitions(&t).await.len(), 3);

    let pruned = r.sync(&t, &pruning()).await.unwrap();
    assert_eq!(
        values(&pruned.deleted),
        strings(&[&["2026", "11", "23"], &["2026", "11", "24"]])
    );
    let left: Vec<Vec<String>> = partitions(&t)
        .await
        .iter()
        .map(|p| p.values().to_vec())
        .collect();
    assert_eq!(left, strings(&[&["2026", "11", "25"]]));
}

#[tokio::test]
async fn removing_the_last_object_drops_the_partition() {
    let bucket = create_bucket().await;
    let t = table_in(&bucket).await;
    let keys = day_keys("clickstream", 11, 25, 2);
    put_objects(&bucket, &keys).await;
    let r = registrar_deleting(&t, true);
    r.handle_event(
        &s3_event_in(&bucket, "ObjectCreated:Put", &[&keys[0]]),
        false,
    )
    .await
    .unwrap();

    delete_objects(&bucket, &keys[..1]).await;
    let still = r
        .handle_event(
            &s3_event_in(&bucket, "ObjectRemoved:Delete", &[&keys[0]]),
            false,
        )
        .await
        .unwrap();
    assert_eq!(still.report.skipped[0].kind, "partition_not_empty");
    assert_eq!(partitions(&t).await.len(), 1);

    delete_objects(&bucket, &keys[1..]).await;
    let last = r
        .handle_event(
            &s3_event_in(&bucket, "ObjectRemoved:Delete", &[&keys[1]]),
            false,
        )
        .await
        .unwrap();
    assert_eq!(
        values(&last.report.deleted),
        strings(&[&["2026", "11", "25"]])
    );
    assert!(partitions(&t).await.is_empty());
}

#[tokio::test]
async fn object_arriving_while_its_partition_is_dropped_keeps_the_partition() {
    let bucket = create_bucket().await;
    let t = table_in(&bucket).await;
    let keys = day_keys("clickstream", 11, 25, 1);
    put_objects(&bucket, &keys).await;
    let late = "clickstream/year=2026/month=11/day=25/late-arrival.json".to_owned();
    let hook_bucket = bucket.clone();
    let r = registrar_deleting(&t, true).with_after_delete(Arc::new(move |_location| {
        let (bucket, late) = (hook_bucket.clone(), late.clone());
        Box::pin(async move { put_objects(&bucket, &[late]).await })
    }));
    r.handle_event(
        &s3_event_in(&bucket, "ObjectCreated:Put", &[&keys[0]]),
        false,
    )
    .await
    .unwrap();
    delete_objects(&bucket, &keys).await;

    let out = r
        .handle_event(
            &s3_event_in(&bucket, "ObjectRemoved:Delete", &[&keys[0]]),
            false,
        )
        .await
        .unwrap();
    assert_eq!(out.report.deleted.len(), 1);
    assert_eq!(
        values(&out.report.created),
        strings(&[&["2026", "11", "25"]])
    );
    assert_eq!(
        partitions(&t).await.len(),
        1,
        "the late object's partition must exist"
    );
}

/// Register a partition at a location of one's choosing, as `ALTER TABLE ADD PARTITION ...
/// LOCATION` or a crawler would.
async fn add_partition(t: &TableName, values: &[&str], location: &str) {
    let input = aws_sdk_glue::types::PartitionInput::builder()
        .set_values(Some(values.iter().map(|v| v.to_string()).collect()))
        .storage_descriptor(storage(location))
        .build();
    glue()
        .create_partition()
        .database_name(&t.database)
        .table_name(&t.table)
        .partition_input(input)
        .send()
        .await
        .expect("create partition");
}

#[tokio::test]
async fn removal_keeps_a_partition_registered_at_another_location_that_holds_data() {
    let bucket = create_bucket().await;
    let t = table_in(&bucket).await;
    // The partition's data lives in an archive prefix; its usual directory is empty.
    put_objects(&bucket, &["archive/2026/11/25/part-0.json".to_owned()]).await;
    add_partition(
        &t,
        &["2026", "11", "25"],
        &format!("s3://{bucket}/archive/2026/11/25/"),
    )
    .await;
    let removed = "clickstream/year=2026/month=11/day=25/part-0.json";
    let out = registrar_deleting(&t, true)
        .handle_event(
            &s3_event_in(&bucket, "ObjectRemoved:Delete", &[removed]),
            false,
        )
        .await
        .unwrap();
    assert!(out.report.deleted.is_empty());
    assert_eq!(out.report.skipped[0].kind, "registered_elsewhere");
    assert_eq!(partitions(&t).await.len(), 1);
}

#[tokio::test]
async fn removal_checks_the_location_the_catalog_has_whatever_its_scheme() {
    let bucket = create_bucket().await;
    let t = table_in(&bucket).await;
    let keys = day_keys("clickstream", 11, 25, 2);
    put_objects(&bucket, &keys).await;
    // A crawler registered it with an s3a:// location; one object is removed, one is left.
    add_partition(
        &t,
        &["2026", "11", "25"],
        &format!("s3a://{bucket}/clickstream/year=2026/month=11/day=25/"),
    )
    .await;
    delete_objects(&bucket, &keys[..1]).await;
    let r = registrar_deleting(&t, true);
    let out = r
        .handle_event(
            &s3_event_in(&bucket, "ObjectRemoved:Delete", &[&keys[0]]),
            false,
        )
        .await
        .unwrap();
    assert_eq!(out.report.skipped[0].kind, "partition_not_empty");
    delete_objects(&bucket, &keys[1..]).await;
    let out = r
        .handle_event(
            &s3_event_in(&bucket, "ObjectRemoved:Delete", &[&keys[1]]),
            false,
        )
        .await
        .unwrap();
    assert_eq!(out.report.deleted.len(), 1);
    assert!(out.report.deleted[0].location.starts_with("s3a://"));
    assert!(partitions(&t).await.is_empty());
}

#[tokio::test]
async fn a_redelivered_removal_recreates_a_partition_dropped_while_its_data_came_back() {
    let bucket = create_bucket().await;
    let t = table_in(&bucket).await;
    let keys = day_keys("clickstream", 11, 25, 2);
    put_objects(&bucket, &keys[1..]).await;
    // The state a failed re-check leaves behind: the partition dropped, data in its
    // directory (an object arrived after the check that found it empty).
    let message = s3_event_in(&bucket, "ObjectRemoved:Delete", &[&keys[0]]);
    let out = registrar_deleting(&t, true)
        .handle_event(&message, false)
        .await
        .unwrap();
    assert_eq!(
        values(&out.report.created),
        strings(&[&["2026", "11", "25"]])
    );
    assert_eq!(partitions(&t).await.len(), 1);
}

#[tokio::test]
async fn sync_prune_rechecks_after_dropping_and_recreates_on_a_race() {
    let bucket = create_bucket().await;
    let t = table_in(&bucket).await;
    let keys = day_keys("clickstream", 11, 25, 1);
    put_objects(&bucket, &keys).await;
    let late = "clickstream/year=2026/month=11/day=25/late-arrival.json".to_owned();
    let hook_bucket = bucket.clone();
    let r = registrar(&[&t]).with_after_delete(Arc::new(move |_location| {
        let (bucket, late) = (hook_bucket.clone(), late.clone());
        Box::pin(async move { put_objects(&bucket, &[late]).await })
    }));
    r.sync(&t, &options()).await.unwrap();
    delete_objects(&bucket, &keys).await;
    let pruned = r.sync(&t, &pruning()).await.unwrap();
    assert_eq!(pruned.deleted.len(), 1);
    assert_eq!(pruned.created.len(), 1, "re-created after the race");
    assert_eq!(partitions(&t).await.len(), 1);
}

#[tokio::test]
async fn backfill_walks_past_folders_with_multibyte_names() {
    let bucket = create_bucket().await;
    let t = table_in(&bucket).await;
    let mut keys = day_keys("clickstream", 11, 25, 2);
    for stray in [
        "clickstream/yé=1/a.json",
        "clickstream/ye\u{301}ar=2026/a.json",
        "clickstream/年=2026/month=11/day=25/a.json",
        "clickstream/year=2026/mönth=11/a.json",
        "clickstream/year=2026/month=11/день=25/a.json",
        "clickstream/\u{1F600}/x",
    ] {
        keys.push(stray.to_owned());
    }
    put_objects(&bucket, &keys).await;
    for page_size in [1000, 2] {
        let report = registrar(&[&t])
            .sync(
                &t,
                &SyncOptions {
                    page_size,
                    dry_run: true,
                    ..options()
                },
            )
            .await
            .unwrap();
        assert_eq!(report.created.len(), 1, "page size {page_size}");
        assert_eq!(report.skipped.len(), 6, "{:?}", report.skipped);
    }
}
