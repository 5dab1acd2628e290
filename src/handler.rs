//! The event path, shared by the Lambda and the CLI: normalise an event, resolve the served
//! tables, plan, hand the partitions to the writer, and account for every object.

use crate::aws::{Clients, RequestCounts};
use crate::catalog::{Catalog, Policies, Registered, ServedTable};
use crate::checkpoint::{CheckpointError, Store};
use crate::completion::Announcer;
use crate::config::{Config, TableName};
#[cfg(feature = "schema-drift")]
use crate::drift;
use crate::storage::Storage;
use crate::tables::{ServedTables, TableCache};
use crate::writer::{AfterDelete, PartitionWriter, Settled};
use bumpalo::Bump;
use registrar_core::Deadline;
use registrar_core::completion::{self, PartitionComplete};
use registrar_core::event::{Change, EventError, Normalised, ObjectEvent, normalise_text};
use registrar_core::layout::Skip;
use registrar_core::partition::{PartitionSpec, Removal};
use registrar_core::plan::{PlannedPartition, TableIndex, plan};
use registrar_core::report::{Ledger, PartitionEntry, Reason, Report};
use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Chunks of 100 partitions in flight at once for an event: enough to hide latency, few
/// enough not to be throttled when many functions run at once.
pub const CHUNK_CONCURRENCY: usize = 4;

#[derive(Debug, thiserror::Error)]
pub enum HandleError {
    /// The event as a whole cannot be read (not JSON, an unknown shape). Single records
    /// that cannot be read fail their message instead, and the others are handled.
    #[error(transparent)]
    Event(#[from] EventError),
}

/// An object was removed, and `DELETE_EMPTY_PARTITIONS` is off.
struct RemovalIgnored;

impl Reason for RemovalIgnored {
    fn kind(&self) -> &'static str {
        "removal_ignored"
    }
}

impl fmt::Display for RemovalIgnored {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "object removed; partitions are kept (DELETE_EMPTY_PARTITIONS is off)"
        )
    }
}

/// An object no healthy table holds, while a served table that may hold it cannot be read:
/// it fails (and comes back) rather than being skipped as outside every table.
struct TableUnreadable<'t>(&'t crate::tables::BrokenTable);

impl fmt::Display for TableUnreadable<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "served table {} cannot be read, and this object may be its: {}",
            self.0.name, self.0.error
        )
    }
}

/// What one invocation did, beyond the report: the figures for logs and metrics.
#[derive(Debug, Clone, Default)]
pub struct Stats {
    pub objects_seen: usize,
    pub glue_requests: RequestCounts,
    pub s3_requests: RequestCounts,
    /// `PutEvents` calls for `Partition Complete` events: what completion adds to a batch.
    pub events_requests: RequestCounts,
    pub duration: Duration,
    /// Served tables that could not be read for this invocation.
    pub tables_unreadable: usize,
}

#[derive(Debug, Clone)]
pub struct Outcome {
    pub report: Report,
    pub stats: Stats,
}

/// Where a key leads, as `explain` tells it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Explained {
    Partition {
        uri: String,
        table: String,
        values: Vec<String>,
        location: String,
    },
    Skipped {
        uri: String,
        reason: String,
    },
}

/// One per process: the clients, the table cache and the partition writer.
pub struct Registrar {
    clients: Clients,
    /// Where `Partition Complete` events go (`COMPLETION_BUS`).
    announcer: Announcer,
    catalog: Catalog,
    storage: Storage,
    /// Where passes keep their checkpoints: none for a bad `CHECKPOINT_URI`, which the first
    /// pass says, so that the event path is not stopped by a repair setting.
    store: Option<Store>,
    tables: TableCache,
    writer: PartitionWriter,
    config: Config,
}

impl Registrar {
    pub fn new(clients: Clients, config: Config) -> Self {
        let catalog =
            Catalog::new(clients.glue.clone(), config.catalog_id.clone()).with_policies(Policies {
                announce: config.completion_bus.is_some(),
                settings: config.table_settings.clone(),
            });
        let storage = Storage::new(clients.s3.clone());
        let store = Store::from_uri(config.checkpoint.as_deref(), clients.s3.clone()).ok();
        Self {
            store,
            announcer: Announcer::new(clients.events.clone(), config.completion_bus.clone()),
            tables: {
                let cache = TableCache::new(
                    catalog.clone(),
                    config.tables.clone(),
                    config.databases.clone(),
                    config.table_cache_ttl,
                );
                match &config.tables_uri {
                    Some(uri) => cache.with_list(clients.s3.clone(), uri),
                    None => cache,
                }
            },
            writer: PartitionWriter::new(
                catalog.clone(),
                storage.clone(),
                !config.delete_empty_partitions,
            ),
            catalog,
            storage,
            clients,
            config,
        }
    }

    /// Install a hook run after an empty partition is dropped (see [`AfterDelete`]).
    pub fn with_after_delete(mut self, hook: AfterDelete) -> Self {
        self.writer = self.writer.with_after_delete(hook);
        self
    }

    pub fn clients(&self) -> &Clients {
        &self.clients
    }

    pub fn catalog(&self) -> &Catalog {
        &self.catalog
    }

    pub fn storage(&self) -> &Storage {
        &self.storage
    }

    /// The checkpoint store, or why `CHECKPOINT_URI` cannot be used.
    pub fn store(&self) -> Result<&Store, CheckpointError> {
        self.store.as_ref().ok_or_else(|| {
            CheckpointError::BadUri(self.config.checkpoint.clone().unwrap_or_default())
        })
    }

    pub fn writer(&self) -> &PartitionWriter {
        &self.writer
    }

    pub fn announcer(&self) -> &Announcer {
        &self.announcer
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The served tables, read from Glue at most once per `TABLE_CACHE_SECONDS`.
    pub async fn served_tables(&self) -> Arc<ServedTables> {
        self.tables.get(Deadline::NONE).await
    }

    /// Whether this function serves `table`: named, in a served database, or in the served
    /// tables' list (`GLUE_TABLES=s3://...`).
    pub async fn serves(&self, table: &TableName) -> bool {
        if self.config.serves(table) {
            return true;
        }
        if self.config.tables_uri.is_none() {
            return false;
        }
        let served = self.served_tables().await;
        let name = table.to_string();
        served.tables.iter().any(|t| &t.table.name == table)
            || served.broken.iter().any(|b| b.name == name)
    }

    /// Process one event document given as JSON text, as Lambda and the CLI receive it
    /// (large SQS batches are read in place), stopping by `deadline`: what is not done by
    /// then is reported failed, so exactly its messages come back. `dry_run` plans and reads
    /// but writes nothing.
    pub async fn handle_text(
        &self,
        text: &str,
        dry_run: bool,
        deadline: Deadline,
    ) -> Result<Outcome, HandleError> {
        let started = Instant::now();
        let arena = Bump::new();
        let event = normalise_text(text, &arena)?;
        Ok(self.handle_event(&event, dry_run, deadline, started).await)
    }

    async fn handle_event(
        &self,
        event: &Normalised<'_>,
        dry_run: bool,
        deadline: Deadline,
        started: Instant,
    ) -> Outcome {
        let glue_before = self.clients.glue_requests.snapshot();
        let s3_before = self.clients.s3_requests.snapshot();
        let events_before = self.clients.events_requests.snapshot();
        let mut ledger = Ledger::new(event);
        for (m, message) in event.messages.iter().enumerate() {
            for error in &message.errors {
                let error = match message.id {
                    Some(id) => format!("message {id} could not be read: {error}"),
                    None => format!("could not be read: {error}"),
                };
                ledger.fail_message(m, "", "", &error);
            }
        }
        for ignored in &event.ignored {
            let skip = Skip::Ignored(ignored.reason.clone());
            ledger.skip(ignored.bucket, ignored.key, &skip);
        }
        let mut created = Vec::new();
        let mut removed = Vec::new();
        for object in &event.objects {
            match object.change {
                Change::Created => created.push(object),
                Change::Removed if self.config.delete_empty_partitions => removed.push(object),
                Change::Removed => ledger.skip(object.bucket, object.key, &RemovalIgnored),
            }
        }
        let mut tables_unreadable = 0;
        if !created.is_empty() || !removed.is_empty() {
            let served = self.tables.get(deadline).await;
            tables_unreadable = served.broken.len();
            let index = TableIndex::new(&served.tables);
            self.register(&served, &index, &created, dry_run, deadline, &mut ledger)
                .await;
            self.settle(&served, &index, &removed, dry_run, deadline, &mut ledger)
                .await;
        }
        let report = ledger.finish(dry_run);
        let stats = Stats {
            objects_seen: event.objects.len(),
            glue_requests: self.clients.glue_requests.snapshot().since(&glue_before),
            s3_requests: self.clients.s3_requests.snapshot().since(&s3_before),
            events_requests: self
                .clients
                .events_requests
                .snapshot()
                .since(&events_before),
            duration: started.elapsed(),
            tables_unreadable,
        };
        log_outcome(&report, &stats, dry_run);
        Outcome { report, stats }
    }

    /// Skipped objects go to the ledger; an object outside every healthy table that a
    /// broken table may hold fails instead.
    fn skipped(
        served: &ServedTables,
        skipped: &[(&&ObjectEvent<'_>, Skip)],
        ledger: &mut Ledger<'_, '_>,
    ) {
        for (o, skip) in skipped {
            let o: &ObjectEvent<'_> = o;
            match (skip, served.broken_for(o.bucket, o.key)) {
                (Skip::OutsideTables, Some(broken)) => ledger.fail(o, &TableUnreadable(broken)),
                _ => ledger.skip(o.bucket, o.key, skip),
            }
        }
    }

    async fn register(
        &self,
        served: &ServedTables,
        index: &TableIndex<'_, ServedTable>,
        objects: &[&ObjectEvent<'_>],
        dry_run: bool,
        deadline: Deadline,
        ledger: &mut Ledger<'_, '_>,
    ) {
        if objects.is_empty() {
            return;
        }
        let plan = plan(index, objects);
        Self::skipped(served, &plan.skipped, ledger);
        for (t, partitions) in by_table(&plan.partitions) {
            let table = &served.tables[t];
            let wanted: Vec<PartitionSpec> = partitions
                .iter()
                .map(|p| PartitionSpec::new(p.values.clone(), p.location.clone()))
                .collect();
            let results = self
                .writer
                .ensure(table, &wanted, CHUNK_CONCURRENCY, dry_run, deadline)
                .await;
            let confirmed = now_ms();
            let mut created = Vec::new();
            let mut completions = Vec::new();
            for (partition, result) in partitions.iter().zip(results) {
                let mut entry =
                    PartitionEntry::new(&table.table.name, &partition.values, &partition.location);
                let all = || partition.objects.iter().chain(&partition.markers);
                let registered = match result {
                    Ok(Registered::Created) => {
                        entry.freshness_ms = freshness(all().map(|o| o.time), confirmed);
                        ledger.created(entry);
                        if let Some(first) = partition.objects.first() {
                            created.push(**first);
                        }
                        completion::Registered::Created
                    }
                    Ok(Registered::Existing) => {
                        ledger.existing(entry);
                        completion::Registered::Existing
                    }
                    Err(e) => {
                        all().for_each(|o| ledger.fail(o, &e));
                        continue;
                    }
                };
                if let Some(marker) = partition.markers.first()
                    && self.announcer.enabled()
                    && !dry_run
                {
                    completions.push((
                        completed(&self.config, table, partition, marker, registered),
                        *partition,
                    ));
                }
            }
            if !completions.is_empty() {
                let events: Vec<PartitionComplete> =
                    completions.iter().map(|(e, _)| e.clone()).collect();
                let results = self.announcer.announce(&events, deadline).await;
                for ((event, partition), result) in completions.iter().zip(results) {
                    match result {
                        Ok(()) => ledger.completed(PartitionEntry::new(
                            &table.table.name,
                            &event.values,
                            &event.location,
                        )),
                        Err(e) => partition.markers.iter().for_each(|o| ledger.fail(o, &e)),
                    }
                }
            }
            #[cfg(feature = "schema-drift")]
            if self.config.schema_drift && !dry_run && drift::is_parquet(&table.descriptor) {
                for entry in drift::check(&self.storage, table, &created, deadline).await {
                    ledger.drift(entry);
                }
            }
            #[cfg(not(feature = "schema-drift"))]
            let _ = created;
        }
    }

    /// Removed objects (with `DELETE_EMPTY_PARTITIONS`): their partitions are settled by
    /// the writer.
    async fn settle(
        &self,
        served: &ServedTables,
        index: &TableIndex<'_, ServedTable>,
        objects: &[&ObjectEvent<'_>],
        dry_run: bool,
        deadline: Deadline,
        ledger: &mut Ledger<'_, '_>,
    ) {
        if objects.is_empty() {
            return;
        }
        let plan = plan(index, objects);
        Self::skipped(served, &plan.skipped, ledger);
        for (t, partitions) in by_table(&plan.partitions) {
            let table = &index.tables[t];
            let removals: Vec<Removal<'_>> = partitions
                .iter()
                .map(|p| Removal {
                    partition: PartitionSpec::new(p.values.clone(), p.location.clone()),
                    removed: p.objects.iter().map(|o| o.key).collect(),
                })
                .collect();
            let results = self
                .writer
                .settle_removed(table, &removals, dry_run, deadline)
                .await;
            for (partition, result) in partitions.iter().zip(results) {
                let entry = |location: &str| {
                    PartitionEntry::new(&table.table.name, &partition.values, location)
                };
                match result {
                    Ok(Settled::Kept(kept)) => partition
                        .objects
                        .iter()
                        .for_each(|o| ledger.skip(o.bucket, o.key, &kept)),
                    Ok(Settled::Deleted { location }) => ledger.deleted(entry(&location)),
                    Ok(Settled::Recreated { location }) => {
                        ledger.deleted(entry(&location));
                        ledger.created(entry(&location));
                    }
                    Ok(Settled::Created) => ledger.created(entry(&partition.location)),
                    Err(e) => partition.objects.iter().for_each(|o| ledger.fail(o, &e)),
                }
            }
        }
    }

    /// Map keys to partitions, as `handle` would, without writing anything. A key is
    /// `s3://bucket/key` or a key in the first served table's bucket.
    pub async fn explain(&self, keys: &[String]) -> Vec<Explained> {
        let served = self.served_tables().await;
        let default_bucket = served
            .tables
            .first()
            .map(|t| t.table.location.bucket.clone())
            .unwrap_or_default();
        let objects: Vec<(String, String)> = keys
            .iter()
            .map(|k| split_s3_uri(k).unwrap_or_else(|| (default_bucket.clone(), k.clone())))
            .collect();
        let refs: Vec<(&str, &str)> = objects
            .iter()
            .map(|(b, k)| (b.as_str(), k.as_str()))
            .collect();
        let index = TableIndex::new(&served.tables);
        let plan = plan(&index, &refs);
        let uri = |o: &(&str, &str)| format!("s3://{}/{}", o.0, o.1);
        let position = |o: &(&str, &str)| {
            refs.iter()
                .position(|r| std::ptr::eq(r, o))
                .expect("planned objects are the given ones")
        };
        let mut lines: Vec<Option<Explained>> = vec![None; keys.len()];
        for partition in &plan.partitions {
            let table = &served.tables[partition.table].table;
            for o in &partition.objects {
                lines[position(o)] = Some(Explained::Partition {
                    uri: uri(o),
                    table: table.name.to_string(),
                    values: partition.values.clone(),
                    location: partition.location.clone(),
                });
            }
        }
        for (o, skip) in &plan.skipped {
            let reason = match (skip, served.broken_for(o.0, o.1)) {
                (Skip::OutsideTables, Some(broken)) => TableUnreadable(broken).to_string(),
                _ => skip.to_string(),
            };
            lines[position(o)] = Some(Explained::Skipped {
                uri: uri(o),
                reason,
            });
        }
        lines
            .into_iter()
            .map(|l| l.expect("every key is planned"))
            .collect()
    }
}

/// The `Partition Complete` event of a partition its marker completed.
fn completed(
    config: &Config,
    table: &ServedTable,
    partition: &PlannedPartition<'_, &ObjectEvent<'_>>,
    marker: &ObjectEvent<'_>,
    registered: completion::Registered,
) -> PartitionComplete {
    PartitionComplete::new(
        &table.table,
        &partition.values,
        &partition.location,
        registered,
        completion::Cause::Marker {
            marker: completion::Marker {
                bucket: marker.bucket.to_owned(),
                key: marker.key.to_owned(),
                version: marker.version.map(str::to_owned),
                event_time: marker.time.map(str::to_owned),
            },
            told_apart: marker.version.or(marker.time).unwrap_or(marker.key),
        },
        &config.service,
    )
}
/// Milliseconds from the earliest event time among a partition's objects to `confirmed`.
fn freshness<'t>(times: impl Iterator<Item = Option<&'t str>>, confirmed: i64) -> Option<u64> {
    let earliest = times
        .filter_map(|t| t.and_then(registrar_core::time::parse))
        .min()?;
    Some(confirmed.saturating_sub(earliest).max(0) as u64)
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// Planned partitions grouped by table, in table order.
fn by_table<'p, 'o, O>(
    partitions: &'p [PlannedPartition<'o, O>],
) -> BTreeMap<usize, Vec<&'p PlannedPartition<'o, O>>> {
    let mut grouped: BTreeMap<usize, Vec<_>> = BTreeMap::new();
    for p in partitions {
        grouped.entry(p.table).or_default().push(p);
    }
    grouped
}

/// `s3://bucket/key` (or s3a/s3n) split into bucket and key.
fn split_s3_uri(text: &str) -> Option<(String, String)> {
    let (scheme, rest) = text.split_once("://")?;
    if !matches!(scheme, "s3" | "s3a" | "s3n") {
        return None;
    }
    let (bucket, key) = rest.split_once('/')?;
    Some((bucket.to_owned(), key.to_owned()))
}

/// One line per skipped or failed object, and the invocation's summary.
fn log_outcome(report: &Report, stats: &Stats, dry_run: bool) {
    for s in &report.skipped {
        tracing::info!(bucket = %s.bucket, key = %s.key, reason = %s.reason, kind = s.kind, "object skipped");
    }
    for f in &report.failed {
        tracing::error!(bucket = %f.bucket, key = %f.key, error = %f.error, "object failed");
    }
    let freshness = report.freshness;
    tracing::info!(
        objects = stats.objects_seen,
        created = report.created.len(),
        existing = report.existing.len(),
        skipped = report.skipped.len(),
        failed = report.failed.len(),
        tables_unreadable = stats.tables_unreadable,
        freshness_p50_ms = freshness.map(|f| f.p50_ms),
        freshness_p99_ms = freshness.map(|f| f.p99_ms),
        freshness_max_ms = freshness.map(|f| f.max_ms),
        glue_requests = stats.glue_requests.total(),
        glue_ops = %stats.glue_requests,
        glue_throttles = stats.glue_requests.throttles,
        events_requests = stats.events_requests.total(),
        duration_ms = stats.duration.as_secs_f64() * 1000.0,
        dry_run,
        "invocation summary"
    );
}
