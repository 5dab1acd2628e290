//! The handler shared by the Lambda and the CLI: normalise an event, resolve the served
//! tables, plan, register, and account for every object in the report.

use crate::aws::{Clients, RequestCounts};
use crate::cache::ExpiringSet;
use crate::catalog::{
    CHUNK_CONCURRENCY, Catalog, CatalogError, CatalogTable, Registered, partition_input,
};
use crate::config::{Config, TableName};
use crate::event::{Change, EventError, Normalised, normalise, normalise_text};
use crate::layout::Skip;
use crate::plan::{Plan, TableIndex, plan};
use crate::report::{FailedEntry, PartitionEntry, Report, SkippedEntry, batch_item_failure};
use crate::storage::Storage;
use crate::table::{S3Location, Table};
use serde_json::Value;
use std::collections::{BTreeMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How many partitions a warm process remembers as registered.
const KNOWN_CAPACITY: usize = 200_000;
/// How long it trusts that memory: a partition dropped elsewhere is re-created after this.
const KNOWN_TTL: Duration = Duration::from_secs(15 * 60);

#[derive(Debug, thiserror::Error)]
pub enum HandleError {
    #[error(transparent)]
    Event(#[from] EventError),
    #[error(transparent)]
    Catalog(#[from] CatalogError),
}

/// The tables this process serves, as of one read of the catalog.
#[derive(Debug, Default)]
pub struct ServedTables {
    pub tables: Vec<Table>,
    /// Parallel to `tables`.
    pub storage: Vec<aws_sdk_glue::types::StorageDescriptor>,
    /// Tables of a served database that cannot be served as declared (a bad template): keys
    /// under them fail, so that their data is not silently dropped.
    pub broken: Vec<(S3Location, String)>,
}

impl ServedTables {
    fn push(&mut self, t: CatalogTable) {
        if self.tables.iter().all(|have| have.name != t.table.name) {
            self.tables.push(t.table);
            self.storage.push(t.storage);
        }
    }

    fn broken_for(&self, bucket: &str, key: &str) -> Option<&str> {
        self.broken
            .iter()
            .filter(|(l, _)| l.bucket == bucket && key.starts_with(&l.prefix))
            .max_by_key(|(l, _)| l.prefix.len())
            .map(|(_, e)| e.as_str())
    }
}

/// What one invocation did, beyond the report: the figures for logs and metrics.
#[derive(Debug, Clone, Default)]
pub struct Stats {
    pub objects_seen: usize,
    pub glue_requests: RequestCounts,
    pub s3_requests: RequestCounts,
    pub duration: Duration,
}

#[derive(Debug, Clone)]
pub struct Outcome {
    pub report: Report,
    pub stats: Stats,
}

/// Called between dropping an empty partition and checking its location again; lets a
/// test put an object there at the worst moment.
pub type AfterDelete = Arc<
    dyn Fn(String) -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>> + Send + Sync,
>;

/// A partition identity in the known-partition cache.
pub(crate) type PartitionId = (TableName, Vec<String>);

/// One per process: holds the clients and the warm caches.
pub struct Registrar {
    clients: Clients,
    pub(crate) catalog: Catalog,
    pub(crate) storage: Storage,
    config: Config,
    tables: tokio::sync::Mutex<Option<(Instant, Arc<ServedTables>)>>,
    pub(crate) known: Mutex<ExpiringSet<PartitionId>>,
    after_delete: Option<AfterDelete>,
}

impl Registrar {
    pub fn new(clients: Clients, config: Config) -> Self {
        // Another warm process may drop a partition this one remembers; with deletions on,
        // every partition is confirmed with Glue (an `AlreadyExists` answer is cheap).
        let ttl = if config.delete_empty_partitions {
            Duration::ZERO
        } else {
            KNOWN_TTL
        };
        Self {
            catalog: Catalog::new(clients.glue.clone()),
            storage: Storage::new(clients.s3.clone()),
            clients,
            config,
            tables: tokio::sync::Mutex::new(None),
            known: Mutex::new(ExpiringSet::new(KNOWN_CAPACITY, ttl)),
            after_delete: None,
        }
    }

    /// Install a hook run after an empty partition is dropped (see [`AfterDelete`]).
    pub fn with_after_delete(mut self, hook: AfterDelete) -> Self {
        self.after_delete = Some(hook);
        self
    }

    pub fn clients(&self) -> &Clients {
        &self.clients
    }

    /// The served tables, read from Glue at most once per `table_cache_ttl`.
    pub async fn served_tables(&self) -> Result<Arc<ServedTables>, CatalogError> {
        let mut cached = self.tables.lock().await;
        if let Some((at, tables)) = cached.as_ref()
            && at.elapsed() < self.config.table_cache_ttl
        {
            return Ok(tables.clone());
        }
        let mut served = ServedTables::default();
        for name in &self.config.tables {
            served.push(self.catalog.table(name).await?);
        }
        for db in &self.config.databases {
            let (tables, unserved) = self.catalog.database_tables(db).await?;
            tables.into_iter().for_each(|t| served.push(t));
            for e in unserved {
                if let crate::table::TableError::BadTemplate(problem) = &e {
                    tracing::warn!(error = %e, "table not served");
                    served
                        .broken
                        .push((problem.location.clone(), e.to_string()));
                }
            }
        }
        let served = Arc::new(served);
        *cached = Some((Instant::now(), served.clone()));
        Ok(served)
    }

    /// Process one event document. `dry_run` plans and reads but writes nothing.
    pub async fn handle(&self, doc: &Value, dry_run: bool) -> Result<Outcome, HandleError> {
        let started = Instant::now();
        self.handle_event(normalise(doc)?, started, dry_run).await
    }

    /// Process one event document given as JSON text, as Lambda and the CLI receive it:
    /// large SQS batches are read without building a JSON tree.
    pub async fn handle_text(&self, text: &str, dry_run: bool) -> Result<Outcome, HandleError> {
        let started = Instant::now();
        self.handle_event(normalise_text(text)?, started, dry_run)
            .await
    }

    async fn handle_event(
        &self,
        event: Normalised,
        started: Instant,
        dry_run: bool,
    ) -> Result<Outcome, HandleError> {
        let glue_before = self.clients.glue_requests.snapshot();
        let s3_before = self.clients.s3_requests.snapshot();
        let mut acc = Accounting::new(event.messages.len());
        let mut created = Vec::new();
        let mut removed = Vec::new();
        for (m, message) in event.messages.iter().enumerate() {
            if let Some(error) = &message.error {
                let id = message.id.as_deref().unwrap_or("(no id)");
                acc.fail(
                    m,
                    "",
                    "",
                    format!("message {id} could not be read: {error}"),
                );
            }
            for ignored in &message.ignored {
                acc.skip(
                    &ignored.bucket,
                    &ignored.key,
                    &Skip::Ignored(ignored.reason.clone()),
                );
            }
            for object in &message.objects {
                acc.objects_seen += 1;
                match object.change {
                    Change::Created => created.push((m, object)),
                    Change::Removed if self.config.delete_empty_partitions => {
                        removed.push((m, object))
                    }
                    Change::Removed => acc.skip(&object.bucket, &object.key, &Skip::RemovalIgnored),
                }
            }
        }
        if created.is_empty() && removed.is_empty() {
            // A test event, or only ignored records: no table lookup needed.
            return Ok(self.finish(acc, &event, started, &glue_before, &s3_before, dry_run));
        }
        let served = self.served_tables().await?;
        let index = TableIndex::new(&served.tables);
        if !created.is_empty() {
            let plan = plan(
                &index,
                created
                    .iter()
                    .map(|(_, o)| (o.bucket.as_str(), o.key.as_str())),
            );
            for (i, skip) in &plan.skipped {
                let (m, o) = created[*i];
                match (skip, served.broken_for(&o.bucket, &o.key)) {
                    (Skip::OutsideTables, Some(error)) => {
                        acc.fail(m, &o.bucket, &o.key, error.to_owned())
                    }
                    _ => acc.skip(&o.bucket, &o.key, skip),
                }
            }
            self.register(&served, &plan, dry_run, &mut acc, |i| created[i])
                .await?;
        }
        if !removed.is_empty() {
            let plan = plan(
                &index,
                removed
                    .iter()
                    .map(|(_, o)| (o.bucket.as_str(), o.key.as_str())),
            );
            for (i, skip) in &plan.skipped {
                let (_, o) = removed[*i];
                acc.skip(&o.bucket, &o.key, skip);
            }
            for partition in &plan.partitions {
                self.drop_if_empty(&served, partition, dry_run, &mut acc, |i| removed[i])
                    .await;
            }
        }
        Ok(self.finish(acc, &event, started, &glue_before, &s3_before, dry_run))
    }

    /// The report, the invocation's figures, and its summary log line.
    fn finish(
        &self,
        acc: Accounting,
        event: &Normalised,
        started: Instant,
        glue_before: &RequestCounts,
        s3_before: &RequestCounts,
        dry_run: bool,
    ) -> Outcome {
        let objects_seen = acc.objects_seen;
        let report = acc.into_report(event, dry_run);
        let stats = Stats {
            objects_seen,
            glue_requests: self.clients.glue_requests.snapshot().since(glue_before),
            s3_requests: self.clients.s3_requests.snapshot().since(s3_before),
            duration: started.elapsed(),
        };
        tracing::info!(
            objects = stats.objects_seen,
            created = report.created.len(),
            existing = report.existing.len(),
            skipped = report.skipped.len(),
            failed = report.failed.len(),
            glue_requests = stats.glue_requests.total(),
            glue_ops = %stats.glue_requests,
            glue_throttles = stats.glue_requests.throttles,
            duration_ms = stats.duration.as_secs_f64() * 1000.0,
            dry_run,
            "invocation summary"
        );
        Outcome { report, stats }
    }

    async fn register<'e>(
        &self,
        served: &ServedTables,
        plan: &Plan,
        dry_run: bool,
        acc: &mut Accounting,
        object: impl Fn(usize) -> (usize, &'e crate::event::ObjectEvent),
    ) -> Result<(), HandleError> {
        let now = Instant::now();
        let mut pending: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
        {
            let known = self.known.lock().expect("known-partition lock");
            for (p, partition) in plan.partitions.iter().enumerate() {
                let id = (
                    served.tables[partition.table].name.clone(),
                    partition.values.clone(),
                );
                if known.contains(&id, now) {
                    acc.existing
                        .push(entry(&served.tables[partition.table], partition));
                } else {
                    pending.entry(partition.table).or_default().push(p);
                }
            }
        }
        for (t, partitions) in pending {
            let table = &served.tables[t];
            let results: Vec<Result<Registered, String>> = if dry_run {
                let values: Vec<Vec<String>> = partitions
                    .iter()
                    .map(|p| plan.partitions[*p].values.clone())
                    .collect();
                let existing = self.catalog.existing(&table.name, &values).await?;
                values
                    .iter()
                    .map(|v| {
                        Ok(if existing.contains(v) {
                            Registered::Existing
                        } else {
                            Registered::Created
                        })
                    })
                    .collect()
            } else {
                let inputs = partitions
                    .iter()
                    .map(|p| {
                        let partition = &plan.partitions[*p];
                        partition_input(
                            &served.storage[t],
                            partition.values.clone(),
                            partition.location.clone(),
                        )
                    })
                    .collect();
                self.catalog
                    .create_partitions(&table.name, inputs, CHUNK_CONCURRENCY)
                    .await
            };
            let mut known = self.known.lock().expect("known-partition lock");
            for (p, result) in partitions.iter().zip(results) {
                let partition = &plan.partitions[*p];
                match result {
                    Ok(outcome) => {
                        if !dry_run {
                            known.insert((table.name.clone(), partition.values.clone()), now);
                        }
                        let e = entry(table, partition);
                        match outcome {
                            Registered::Created => acc.created.push(e),
                            Registered::Existing => acc.existing.push(e),
                        }
                    }
                    Err(error) => {
                        for i in &partition.objects {
                            let (m, o) = object(*i);
                            acc.fail(m, &o.bucket, &o.key, error.clone());
                        }
                    }
                }
            }
        }
        Ok(())
    }

    /// Drop a partition whose last object was removed. The cache entry goes first, so this
    /// process re-registers the partition for any later object; after the delete the
    /// location is checked again and the partition re-created if an object arrived meanwhile,
    /// so a race never leaves data without its partition.
    async fn drop_if_empty<'e>(
        &self,
        served: &ServedTables,
        partition: &crate::plan::PlannedPartition,
        dry_run: bool,
        acc: &mut Accounting,
        object: impl Fn(usize) -> (usize, &'e crate::event::ObjectEvent),
    ) {
        let table = &served.tables[partition.table];
        let entry = entry(table, partition);
        let dir = &partition.location[table.location.uri_of("").len()..];
        let bucket = table.location.bucket.as_str();
        self.known
            .lock()
            .expect("known-partition lock")
            .remove(&(table.name.clone(), partition.values.clone()));
        let outcome: Result<Option<Skip>, String> = async {
            if self.storage.holds_data(bucket, dir).await.map_err(|e| e.to_string())? {
                return Ok(Some(Skip::PartitionNotEmpty));
            }
            if dry_run {
                acc.deleted.push(entry.clone());
                return Ok(None);
            }
            if !self.catalog.delete_partition(&table.name, &partition.values).await.map_err(|e| e.to_string())? {
                return Ok(Some(Skip::NotRegistered));
            }
            acc.deleted.push(entry.clone());
            if let Some(hook) = &self.after_delete {
                hook(partition.location.clone()).await;
            }
            if self.storage.holds_data(bucket, dir).await.map_err(|e| e.to_string())? {
                tracing::warn!(location = %partition.location, "an object arrived while the partition was dropped; re-creating it");
                let input = partition_input(&served.storage[partition.table], partition.values.clone(), partition.location.clone());
                match self.catalog.create_partitions(&table.name, vec![input], 1).await.remove(0) {
                    Ok(_) => acc.created.push(entry.clone()),
                    Err(e) => return Err(e),
                }
            }
            Ok(None)
        }
        .await;
        for i in &partition.objects {
            let (m, o) = object(*i);
            match &outcome {
                Ok(None) => {}
                Ok(Some(skip)) => acc.skip(&o.bucket, &o.key, skip),
                Err(e) => acc.fail(m, &o.bucket, &o.key, e.clone()),
            }
        }
    }

    /// Map keys of one table to partitions, as `handle` would, without writing anything.
    /// A key is `s3://bucket/key` or a key in the table's own bucket.
    pub async fn explain(&self, keys: &[String]) -> Result<Vec<Value>, HandleError> {
        let served = self.served_tables().await?;
        let default_bucket = served
            .tables
            .first()
            .map(|t| t.location.bucket.clone())
            .unwrap_or_default();
        let objects: Vec<(String, String)> = keys
            .iter()
            .map(|k| split_s3_uri(k).unwrap_or_else(|| (default_bucket.clone(), k.clone())))
            .collect();
        let index = TableIndex::new(&served.tables);
        let plan = plan(
            &index,
            objects.iter().map(|(b, k)| (b.as_str(), k.as_str())),
        );
        let mut lines: Vec<Value> = vec![Value::Null; keys.len()];
        for partition in &plan.partitions {
            let table = &served.tables[partition.table];
            for i in &partition.objects {
                lines[*i] = serde_json::json!({
                    "key": format!("s3://{}/{}", objects[*i].0, objects[*i].1),
                    "table": table.name.to_string(),
                    "values": partition.values,
                    "location": partition.location,
                });
            }
        }
        for (i, skip) in &plan.skipped {
            lines[*i] = serde_json::json!({
                "key": format!("s3://{}/{}", objects[*i].0, objects[*i].1),
                "skipped": skip.to_string(),
            });
        }
        Ok(lines)
    }
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

fn entry(table: &Table, partition: &crate::plan::PlannedPartition) -> PartitionEntry {
    PartitionEntry::new(&table.name, &partition.values, &partition.location)
}

/// Collects where every object ended and which messages must be retried.
struct Accounting {
    objects_seen: usize,
    created: Vec<PartitionEntry>,
    existing: Vec<PartitionEntry>,
    deleted: Vec<PartitionEntry>,
    skipped: Vec<SkippedEntry>,
    failed: Vec<FailedEntry>,
    failed_messages: Vec<bool>,
}

impl Accounting {
    fn new(messages: usize) -> Self {
        Self {
            objects_seen: 0,
            created: Vec::new(),
            existing: Vec::new(),
            deleted: Vec::new(),
            skipped: Vec::new(),
            failed: Vec::new(),
            failed_messages: vec![false; messages],
        }
    }

    fn skip(&mut self, bucket: &str, key: &str, skip: &Skip) {
        let reason = skip.to_string();
        tracing::info!(bucket, key, reason = %reason, kind = skip.kind(), "object skipped");
        self.skipped.push(SkippedEntry {
            bucket: bucket.to_owned(),
            key: key.to_owned(),
            reason,
            kind: skip.kind(),
        });
    }

    fn fail(&mut self, message: usize, bucket: &str, key: &str, error: String) {
        tracing::error!(bucket, key, error = %error, "object failed");
        self.failed_messages[message] = true;
        self.failed.push(FailedEntry {
            bucket: bucket.to_owned(),
            key: key.to_owned(),
            error,
        });
    }

    fn into_report(self, event: &crate::event::Normalised, dry_run: bool) -> Report {
        let batch_item_failures = event.from_sqs.then(|| {
            let mut seen = HashSet::new();
            event
                .messages
                .iter()
                .zip(&self.failed_messages)
                .filter(|(_, failed)| **failed)
                .filter_map(|(m, _)| m.id.clone())
                .filter(|id| seen.insert(id.clone()))
                .map(batch_item_failure)
                .collect()
        });
        Report {
            created: self.created,
            existing: self.existing,
            deleted: self.deleted,
            skipped: self.skipped,
            failed: self.failed,
            batch_item_failures,
            stopped: None,
            dry_run,
        }
    }
}
