//! Backfill and sync: the crawler's last jobs, on the same core. Walk what is under a table's
//! location, register what the catalog lacks while the walk goes on, and (sync `--prune`)
//! drop what no longer has data, through the same partition writer as the event path.

use crate::aws::{CallError, ErrorKind};
use crate::catalog::{
    CatalogError, CatalogPartition, Registered, ServedTable, WRITE_CHUNK, descriptor_of,
};
use crate::handler::Registrar;
use crate::writer::Settled;
use futures_util::StreamExt;
use futures_util::stream::FuturesUnordered;
use registrar_core::report::{PartitionEntry, Report, UpdatedEntry};
use registrar_core::schema::descriptor_changes;
use registrar_core::walk::{Found, ListPage, ListRequest, Walk};
use registrar_core::{Deadline, TableName};
use std::collections::{HashMap, HashSet, VecDeque};
use std::future::Future;
use std::pin::Pin;

#[derive(Debug, Clone)]
pub struct SyncOptions {
    /// Plan and read, write nothing.
    pub dry_run: bool,
    /// Also drop catalog partitions whose location holds no data any more.
    pub prune: bool,
    /// Also bring every partition's storage descriptor (columns, formats, SerDe) in line
    /// with the table's, keeping each partition's location.
    pub update_schema: bool,
    /// S3 listings and Glue chunks in flight at once.
    pub concurrency: usize,
    /// Stop cleanly, reporting where, once this passes (the Lambda deadline).
    pub deadline: Deadline,
    /// Keys per listing page (S3's maximum, 1,000, unless a test wants smaller pages).
    pub page_size: i32,
}

impl Default for SyncOptions {
    fn default() -> Self {
        Self {
            dry_run: false,
            prune: false,
            update_schema: false,
            concurrency: 8,
            deadline: Deadline::NONE,
            page_size: 1000,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    #[error(transparent)]
    Catalog(#[from] CatalogError),
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
        tracing::info!(phase = name, total, "sync phase");
    }

    fn advance(&self, _n: u64) {}
}

/// Found partitions waiting for a create request, at most this many: the walk pauses while
/// Glue catches up, so memory stays flat however large the table.
const MAX_PENDING: usize = 10 * WRITE_CHUNK;

type Listed = (ListRequest, Result<ListPage, CallError>);
type Created = (Vec<Found>, Vec<Result<Registered, CallError>>);
type Boxed<'a, T> = Pin<Box<dyn Future<Output = T> + 'a>>;

/// Register every partition under `table`'s location that the catalog lacks, and with
/// `prune` drop those whose location is empty. Returns the report; what it could not do is
/// in `failed` and `stopped`.
pub async fn sync(
    registrar: &Registrar,
    table: &TableName,
    options: &SyncOptions,
    progress: &dyn Progress,
) -> Result<Report, SyncError> {
    let started = std::time::Instant::now();
    let glue_before = registrar.clients().glue_requests.snapshot();
    let s3_before = registrar.clients().s3_requests.snapshot();
    let mut report = Report {
        dry_run: options.dry_run,
        ..Report::default()
    };
    match run(registrar, table, options, progress, &mut report).await {
        Ok(()) => {}
        Err(SyncError::Catalog(CatalogError::Call(e))) if e.kind == ErrorKind::Deadline => {
            report.stopped = Some(format!(
                "stopped at the deadline while reading {table} from the catalog; nothing was registered, run again"
            ));
        }
        Err(e) => return Err(e),
    }
    let glue = registrar
        .clients()
        .glue_requests
        .snapshot()
        .since(&glue_before);
    let s3 = registrar.clients().s3_requests.snapshot().since(&s3_before);
    tracing::info!(
        table = %table,
        created = report.created.len(),
        existing = report.existing.len(),
        deleted = report.deleted.len(),
        updated = report.updated.len(),
        skipped = report.skipped.len(),
        failed = report.failed.len(),
        stopped = report.stopped.as_deref(),
        glue_requests = glue.total(),
        glue_ops = %glue,
        s3_requests = s3.total(),
        s3_ops = %s3,
        duration_ms = started.elapsed().as_secs_f64() * 1000.0,
        "sync summary"
    );
    Ok(report)
}

async fn run(
    registrar: &Registrar,
    table: &TableName,
    options: &SyncOptions,
    progress: &dyn Progress,
    report: &mut Report,
) -> Result<(), SyncError> {
    let deadline = options.deadline;
    if !registrar.config().serves(table) {
        return Err(SyncError::NotServed(table.clone()));
    }
    // Read afresh, not from the warm cache: a sync is the place where a changed table
    // (a new column) must be seen at once.
    let served = &registrar.catalog().table(table, deadline).await?;

    progress.phase("reading the catalog", None);
    let catalog: HashMap<Vec<String>, CatalogPartition> = registrar
        .catalog()
        .partitions(table, options.update_schema, deadline)
        .await?
        .into_iter()
        .map(|p| (p.values.clone(), p))
        .collect();

    let run = Run {
        registrar,
        served,
        catalog: &catalog,
        options,
        progress,
    };
    let walked = run.walk(report).await;
    if options.update_schema {
        run.update_schemas(report).await;
    }
    if options.prune {
        match walked {
            Ok(seen) => run.prune(&seen, report).await,
            Err(()) => {
                let why = report.stopped.get_or_insert_with(String::new);
                why.push_str(if why.is_empty() { "" } else { "; " });
                why.push_str("nothing was pruned: the walk did not see the whole table");
            }
        }
    }
    Ok(())
}

/// One sync of one table: what its steps share.
struct Run<'r> {
    registrar: &'r Registrar,
    served: &'r ServedTable,
    catalog: &'r HashMap<Vec<String>, CatalogPartition>,
    options: &'r SyncOptions,
    progress: &'r dyn Progress,
}

impl Run<'_> {
    /// The walk, and registration of what it finds as it goes. Returns the values of every
    /// partition found, or `Err` when part of the table was not walked (a listing failed, or
    /// the deadline came).
    async fn walk(&self, report: &mut Report) -> Result<HashSet<Vec<String>>, ()> {
        let table = &self.served.table;
        let bucket = table.location.bucket.as_str();
        let walk = Walk::new(table);
        let deadline = self.options.deadline;
        let concurrency = self.options.concurrency.max(1);
        self.progress.phase(
            &format!("walking {}", table.location.uri_of(walk.scope())),
            None,
        );

        let mut queue = VecDeque::from([walk.start()]);
        let mut lists: FuturesUnordered<Boxed<'_, Listed>> = FuturesUnordered::new();
        let mut creates: FuturesUnordered<Boxed<'_, Created>> = FuturesUnordered::new();
        let mut pending: Vec<Found> = Vec::new();
        let mut seen: HashSet<Vec<String>> = HashSet::new();
        let mut reported: HashSet<String> = HashSet::new();
        let (mut listed, mut complete) = (0u64, true);
        let entry =
            |f: &Found| PartitionEntry::new(&table.name, &f.values, &table.location.uri_of(&f.dir));
        loop {
            while lists.len() < concurrency && pending.len() < MAX_PENDING {
                let Some(request) = queue.pop_front() else {
                    break;
                };
                lists.push(Box::pin(async move {
                    let page = self
                        .registrar
                        .storage()
                        .list(bucket, &request, self.options.page_size, deadline)
                        .await;
                    (request, page)
                }));
            }
            let walking = !lists.is_empty() || !queue.is_empty();
            while creates.len() < concurrency
                && (pending.len() >= WRITE_CHUNK || (!walking && !pending.is_empty()))
            {
                let chunk: Vec<Found> = pending.drain(..pending.len().min(WRITE_CHUNK)).collect();
                let wanted: Vec<(Vec<String>, String)> = chunk
                    .iter()
                    .map(|f| (f.values.clone(), table.location.uri_of(&f.dir)))
                    .collect();
                creates.push(Box::pin(async move {
                    let results = self
                        .registrar
                        .writer()
                        .ensure(self.served, &wanted, 1, false, deadline)
                        .await;
                    (chunk, results)
                }));
            }
            if lists.is_empty() && creates.is_empty() {
                break;
            }
            tokio::select! {
                Some((request, page)) = lists.next(), if !lists.is_empty() => match page {
                    Ok(page) => {
                        listed += page.keys.len() as u64 + page.dirs.len() as u64;
                        self.progress.advance(page.keys.len() as u64 + page.dirs.len() as u64);
                        let step = walk.on_page(&request, &page);
                        for (key, skip) in step.skipped {
                            if reported.insert(key.clone()) {
                                report.skip(bucket, &key, &skip);
                            }
                        }
                        for found in step.found {
                            if !seen.insert(found.values.clone()) {
                                continue;
                            }
                            if self.catalog.contains_key(&found.values) {
                                report.existing.push(entry(&found));
                            } else if self.options.dry_run {
                                report.created.push(entry(&found));
                            } else {
                                pending.push(found);
                            }
                        }
                        queue.extend(step.next);
                    }
                    Err(e) => {
                        complete = false;
                        let from = request.start_after.as_deref().map(|s| format!(" after `{s}`")).unwrap_or_default();
                        report.fail(bucket, &request.prefix, &format!("{e}; the keys under this prefix{from} were not walked"));
                    }
                },
                Some((chunk, results)) = creates.next(), if !creates.is_empty() => {
                    for (found, result) in chunk.iter().zip(results) {
                        match result {
                            Ok(Registered::Created) => report.created.push(entry(found)),
                            Ok(Registered::Existing) => report.existing.push(entry(found)),
                            Err(e) => report.fail(bucket, &found.dir, &e),
                        }
                    }
                },
                () = sleep_until(deadline) => {
                    complete = false;
                    let left = pending.len() + creates.len() * WRITE_CHUNK;
                    report.stopped = Some(format!(
                        "stopped at the deadline after listing {listed} keys of {}; partitions found and registered so far are in the report, about {left} found were not registered yet; run again to continue",
                        table.location.uri()
                    ));
                    break;
                }
            }
        }
        if complete { Ok(seen) } else { Err(()) }
    }

    /// Bring registered partitions whose descriptor differs from the table's in line with it:
    /// `BatchUpdatePartition`, 100 per request, each partition keeping its own location.
    async fn update_schemas(&self, report: &mut Report) {
        let table = &self.served.table;
        let wanted = descriptor_of(&self.served.descriptor);
        let mut stale: Vec<(&CatalogPartition, Vec<&'static str>)> = self
            .catalog
            .values()
            .filter_map(|p| {
                let have = descriptor_of(p.descriptor.as_ref()?);
                let changes = descriptor_changes(&wanted, &have);
                (!changes.is_empty()).then_some((p, changes))
            })
            .collect();
        stale.sort_by(|a, b| a.0.values.cmp(&b.0.values));
        self.progress
            .phase("updating schemas", Some(stale.len() as u64));
        let entry = |p: &CatalogPartition, changes: &[&str]| UpdatedEntry {
            partition: PartitionEntry::new(
                &table.name,
                &p.values,
                p.location.as_deref().unwrap_or_default(),
            ),
            changes: changes.iter().map(|c| c.to_string()).collect(),
        };
        if self.options.dry_run {
            report
                .updated
                .extend(stale.iter().map(|(p, changes)| entry(p, changes)));
            self.progress.advance(stale.len() as u64);
            return;
        }
        for chunk in stale.chunks(WRITE_CHUNK * self.options.concurrency.max(1)) {
            let inputs = chunk
                .iter()
                .map(|(p, _)| (p.values.clone(), self.served.realigned(p)))
                .collect();
            let results = self
                .registrar
                .catalog()
                .update_partitions(&table.name, inputs, self.options.deadline)
                .await;
            for ((p, changes), result) in chunk.iter().zip(results) {
                match result {
                    Ok(()) => report.updated.push(entry(p, changes)),
                    Err(e) => report.fail(
                        &table.location.bucket,
                        p.location.as_deref().unwrap_or_default(),
                        &format!("{e}; partition {:?} keeps its old schema", p.values),
                    ),
                }
            }
            self.progress.advance(chunk.len() as u64);
        }
    }

    /// Drop the catalog's partitions the walk did not find, when their locations hold no data.
    async fn prune(&self, seen: &HashSet<Vec<String>>, report: &mut Report) {
        let table = &self.served.table;
        let stale: Vec<&CatalogPartition> = self
            .catalog
            .values()
            .filter(|p| !seen.contains(&p.values))
            .collect();
        self.progress.phase("pruning", Some(stale.len() as u64));
        let mut unchecked = 0;
        let mut settled = futures_util::stream::iter(stale)
            .map(|p| async move {
                if self.options.deadline.passed() {
                    return (p, None);
                }
                let result = self
                    .registrar
                    .writer()
                    .drop_if_empty(
                        self.served,
                        p,
                        None,
                        self.options.dry_run,
                        self.options.deadline,
                    )
                    .await;
                (p, Some(result))
            })
            .buffer_unordered(self.options.concurrency.max(1));
        while let Some((p, result)) = settled.next().await {
            self.progress.advance(1);
            let Some(result) = result else {
                unchecked += 1;
                continue;
            };
            let entry = |location: &str| PartitionEntry::new(&table.name, &p.values, location);
            match result {
                Ok(Settled::Deleted { location }) => report.deleted.push(entry(&location)),
                Ok(Settled::Recreated { location }) => {
                    report.deleted.push(entry(&location));
                    report.created.push(entry(&location));
                }
                Ok(Settled::Kept(_) | Settled::Created) => {}
                Err(e) => {
                    let location = p.location.clone().unwrap_or_default();
                    report.fail(
                        &table.location.bucket,
                        &location,
                        &format!("{e}; partition {:?} was not pruned", p.values),
                    );
                }
            }
        }
        if unchecked > 0 {
            report.stopped = Some(format!(
                "stopped at the deadline while pruning: {unchecked} partitions were not checked; run again to continue"
            ));
        }
    }
}

/// Wait for the deadline; forever when there is none.
async fn sleep_until(deadline: Deadline) {
    match deadline.instant() {
        Some(at) => tokio::time::sleep_until(at.into()).await,
        None => std::future::pending().await,
    }
}
