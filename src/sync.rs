//! Backfill and sync: the crawler's last jobs, on the same core. List what is under a
//! table's location, register what the catalog lacks, and (sync `--prune`) drop what no
//! longer has data.

use crate::catalog::{CatalogError, Registered, partition_input};
use crate::config::TableName;
use crate::handler::Registrar;
use crate::layout::{Skip, data_key};
use crate::plan::{TableIndex, plan};
use crate::report::{FailedEntry, PartitionEntry, Report, SkippedEntry};
use crate::storage::StorageError;
use crate::table::{Layout, S3Location, Table};
use futures_util::StreamExt;
use std::collections::{HashMap, HashSet};
use std::time::Instant;

#[derive(Debug, Clone)]
pub struct SyncOptions {
    /// Plan and read, write nothing.
    pub dry_run: bool,
    /// Also drop catalog partitions whose location holds no data any more.
    pub prune: bool,
    /// S3 listings and Glue chunks in flight at once.
    pub concurrency: usize,
    /// Stop cleanly, reporting where, once this instant is reached (the Lambda deadline).
    pub deadline: Option<Instant>,
}

impl Default for SyncOptions {
    fn default() -> Self {
        Self {
            dry_run: false,
            prune: false,
            concurrency: 8,
            deadline: None,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    #[error(transparent)]
    Catalog(#[from] CatalogError),
    #[error(transparent)]
    Storage(#[from] StorageError),
    #[error("table {0} is not served by this configuration (GLUE_TABLES / GLUE_DATABASES)")]
    NotServed(TableName),
}

/// Where a long run reports how far it got: a progress bar on a terminal, log lines otherwise.
pub trait Progress: Send + Sync {
    /// A new phase; `total` when known.
    fn phase(&self, name: &str, total: Option<u64>);
    fn advance(&self, n: u64);
}

/// Progress as log lines, for Lambda and for output that is not a terminal.
pub struct LogProgress;

impl Progress for LogProgress {
    fn phase(&self, name: &str, total: Option<u64>) {
        tracing::info!(phase = name, total, "backfill phase");
    }

    fn advance(&self, _n: u64) {}
}

impl Registrar {
    /// Register every partition under `table`'s location that the catalog lacks, and with
    /// `prune` drop those whose location is empty. Returns the report of DESIGN.md.
    pub async fn sync(
        &self,
        table: &TableName,
        options: &SyncOptions,
        progress: &dyn Progress,
    ) -> Result<Report, SyncError> {
        let served = self.served_tables().await?;
        let t = served
            .tables
            .iter()
            .position(|x| &x.name == table)
            .ok_or_else(|| SyncError::NotServed(table.clone()))?;
        let table = &served.tables[t];
        let mut report = Report {
            dry_run: options.dry_run,
            ..Report::default()
        };
        let bucket = table.location.bucket.as_str();

        progress.phase("listing S3", None);
        let samples = match &table.layout {
            Layout::Hive => self.walk_hive(table, options, progress).await?,
            Layout::Template(_) => self.storage.keys(bucket, &table.location.prefix).await?,
        };
        if out_of_time(options) {
            report.stopped = Some(format!(
                "stopped at the deadline while listing {}; nothing was registered, run again",
                table.location.uri()
            ));
            return Ok(report);
        }
        let tables = std::slice::from_ref(table);
        let index = TableIndex::new(tables);
        let plan = plan(&index, samples.iter().map(|k| (bucket, k.as_str())));
        for (i, skip) in &plan.skipped {
            // Hidden files and folder markers are the normal furniture of a data lake.
            if !matches!(skip, Skip::HiddenSegment(_) | Skip::FolderMarker) {
                report.skipped.push(SkippedEntry {
                    bucket: bucket.to_owned(),
                    key: samples[*i].clone(),
                    reason: skip.to_string(),
                    kind: skip.kind(),
                });
            }
        }

        progress.phase("reading the catalog", None);
        let catalog: HashMap<Vec<String>, Option<String>> = self
            .catalog
            .partitions(&table.name)
            .await?
            .into_iter()
            .collect();
        let entry =
            |values: &[String], location: &str| PartitionEntry::new(&table.name, values, location);
        let mut missing = Vec::new();
        for p in &plan.partitions {
            if catalog.contains_key(&p.values) {
                report.existing.push(entry(&p.values, &p.location));
            } else {
                missing.push(p);
            }
        }

        progress.phase("registering", Some(missing.len() as u64));
        let group = crate::catalog::CREATE_CHUNK * options.concurrency.max(1);
        for (done, batch) in missing.chunks(group).enumerate() {
            if out_of_time(options) {
                report.stopped = Some(format!(
                    "stopped before the deadline after {} of {} missing partitions; run again to continue",
                    done * group,
                    missing.len()
                ));
                return Ok(report);
            }
            if options.dry_run {
                report
                    .created
                    .extend(batch.iter().map(|p| entry(&p.values, &p.location)));
            } else {
                let inputs = batch
                    .iter()
                    .map(|p| {
                        partition_input(&served.storage[t], p.values.clone(), p.location.clone())
                    })
                    .collect();
                let results = self
                    .catalog
                    .create_partitions(&table.name, inputs, options.concurrency)
                    .await;
                let now = Instant::now();
                let mut known = self.known.lock().expect("known-partition lock");
                for (p, result) in batch.iter().zip(results) {
                    match result {
                        Ok(outcome) => {
                            known.insert((table.name.clone(), p.values.clone()), now);
                            match outcome {
                                Registered::Created => {
                                    report.created.push(entry(&p.values, &p.location))
                                }
                                Registered::Existing => {
                                    report.existing.push(entry(&p.values, &p.location))
                                }
                            }
                        }
                        Err(error) => report.failed.push(FailedEntry {
                            bucket: bucket.to_owned(),
                            key: p.location[table.location.uri_of("").len()..].to_owned(),
                            error,
                        }),
                    }
                }
            }
            progress.advance(batch.len() as u64);
        }

        if options.prune {
            let discovered: HashSet<&Vec<String>> =
                plan.partitions.iter().map(|p| &p.values).collect();
            let stale: Vec<(&Vec<String>, &Option<String>)> = catalog
                .iter()
                .filter(|(v, _)| !discovered.contains(v))
                .collect();
            progress.phase("pruning", Some(stale.len() as u64));
            for (values, location) in stale {
                if out_of_time(options) {
                    report.stopped = Some(
                        "stopped before the deadline while pruning; run again to continue"
                            .to_owned(),
                    );
                    return Ok(report);
                }
                progress.advance(1);
                let Some(location) = location.as_deref().and_then(S3Location::parse) else {
                    continue;
                };
                if self
                    .storage
                    .holds_data(&location.bucket, &location.prefix)
                    .await?
                {
                    continue;
                }
                let uri = location.uri();
                if !options.dry_run {
                    self.known
                        .lock()
                        .expect("known-partition lock")
                        .remove(&(table.name.clone(), values.clone()));
                    if !self.catalog.delete_partition(&table.name, values).await? {
                        continue;
                    }
                }
                report.deleted.push(entry(values, &uri));
            }
        }
        Ok(report)
    }

    /// Walk a Hive layout level by level with `Delimiter=/`: one listing per directory, so a
    /// table of millions of objects costs about as many requests as it has partitions.
    async fn walk_hive(
        &self,
        table: &Table,
        options: &SyncOptions,
        progress: &dyn Progress,
    ) -> Result<Vec<String>, StorageError> {
        let bucket = table.location.bucket.as_str();
        let concurrency = options.concurrency.max(1);
        let mut frontier = vec![table.location.prefix.clone()];
        for key in &table.keys {
            let wanted = format!("{}=", key.name);
            let levels: Vec<Result<crate::storage::Level, StorageError>> =
                futures_util::stream::iter(frontier)
                    .map(|dir| async move { self.storage.level(bucket, &dir, |_| false).await })
                    .buffer_unordered(concurrency)
                    .collect()
                    .await;
            frontier = Vec::new();
            for level in levels {
                frontier.extend(level?.dirs.into_iter().filter(|d| {
                    let name = d.trim_end_matches('/').rsplit('/').next().unwrap_or("");
                    name.len() >= wanted.len() && name[..wanted.len()].eq_ignore_ascii_case(&wanted)
                }));
            }
            progress.advance(1);
            if out_of_time(options) {
                return Ok(Vec::new());
            }
        }
        // Confirm each partition directory holds data (not only `_SUCCESS` or a marker), and
        // keep one key from it: the planner reads the partition's values from it.
        let samples: Vec<Result<Option<String>, StorageError>> =
            futures_util::stream::iter(frontier)
                .map(|dir| async move {
                    let is_data = |k: &str| data_key(k, &k[dir.len()..]).is_ok();
                    let visible_dir = |d: &str| !d[dir.len()..].starts_with(['_', '.']);
                    let level = self
                        .storage
                        .level(bucket, &dir, |l| {
                            l.keys.iter().any(|k| is_data(k))
                                || l.dirs.iter().any(|d| visible_dir(d))
                        })
                        .await?;
                    Ok(level
                        .keys
                        .iter()
                        .find(|k| is_data(k))
                        .cloned()
                        // Data only in subdirectories: the subdirectory stands for the object.
                        .or_else(|| {
                            level
                                .dirs
                                .iter()
                                .find(|d| visible_dir(d))
                                .map(|d| d.trim_end_matches('/').to_owned())
                        }))
                })
                .buffer_unordered(concurrency)
                .collect()
                .await;
        let mut found = Vec::new();
        for s in samples {
            found.extend(s?);
        }
        found.sort();
        Ok(found)
    }
}

fn out_of_time(options: &SyncOptions) -> bool {
    options.deadline.is_some_and(|d| Instant::now() >= d)
}
