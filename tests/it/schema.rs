//! The crawler's last job without the crawler: schema changes reach the partitions, drift in
//! new files is noticed, and a central catalog in another account is used throughout.

use crate::faults::{FaultProxy, Plan};
use crate::moto::sdk_config_at;
use crate::support::*;
use glue_partition_registrar::aws::Clients;
use glue_partition_registrar::config::Config;
use glue_partition_registrar::handler::Registrar;
use glue_partition_registrar::sync::{LogProgress, SyncOptions};
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

    r.handle(
        &s3_event_in(&bucket, "ObjectCreated:Put", &[&keys[0]]),
        false,
    )
    .await
    .unwrap();
    delete_objects(&bucket, &keys[..1]).await;
    r.handle(
        &s3_event_in(&bucket, "ObjectRemoved:Delete", &[&keys[0]]),
        false,
    )
    .await
    .unwrap();
    let options = SyncOptions {
        prune: true,
        ..SyncOptions::default()
    };
    r.sync(&t, &options, &LogProgress).await.unwrap();

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
