//! Backfill and sync: the crawler's last jobs, on the same core, at lake scale.
//!
//! A run walks what is under a table's location, many listings at once (the key space cut
//! into units by `registrar_core::walk::Split`), registers what the catalog lacks while the
//! walk goes on, and with `--prune` drops what no longer has data, through the same
//! partition writer as the event path. A run that meets its deadline stops listing early
//! enough to register what it found, and returns a cursor; the next run given it goes on
//! from there (`registrar_core::pass`). The catalog is read in parallel segments, page by
//! page, and kept as 16-byte fingerprints, so memory stays flat in the table's objects.

use crate::aws::{CallError, ErrorKind};
use crate::catalog::{
    CatalogError, CatalogPartition, PartitionUpdate, Registered, ServedTable, descriptor_of,
};
use crate::handler::Registrar;
use crate::writer::Settled;
use futures_util::StreamExt;
use futures_util::stream::FuturesUnordered;
use registrar_core::glue::MAX_WRITE_BATCH;
use registrar_core::partition::{FingerprintSet, Fingerprinter, PartitionSpec};
use registrar_core::pass::{
    Coverage, Cursor, CursorError, MAX_ATTEMPTS, Phase, Retry, SegmentCursor,
};
use registrar_core::report::{Counts, PartitionEntry, Report, SplitPlan, Tally, UpdatedEntry};
use registrar_core::schema::descriptor_changes;
use registrar_core::table::S3Location;
use registrar_core::walk::{
    Frontier, ListPage, ListRequest, Split, SplitStep, Unit, UnitState, Walk,
};
use registrar_core::{Deadline, TableName};
use std::collections::{HashMap, VecDeque};
use std::future::Future;
use std::pin::Pin;
use std::time::{Duration, Instant};

#[derive(Debug, Clone)]
pub struct SyncOptions {
    /// Plan and read, write nothing.
    pub dry_run: bool,
    /// Also drop catalog partitions whose location holds no data any more.
    pub prune: bool,
    /// Also bring every partition's storage descriptor (columns, formats, SerDe) in line
    /// with the table's, keeping each partition's location.
    pub update_schema: bool,
    /// S3 listings in flight at once: one per unit, so also how many units walk at once.
    pub concurrency: usize,
    /// Glue requests (creates, deletes, updates) in flight at once.
    pub glue_concurrency: usize,
    /// The run's deadline: every call has returned by then (the Lambda's, less its margin).
    pub deadline: Deadline,
    /// How long before the deadline the walk stops listing, so that what it found is
    /// registered by the deadline rather than cut off in flight.
    pub drain: Duration,
    /// Keys per listing page (S3's maximum, 1,000, unless a test wants smaller pages).
    pub page_size: i32,
    /// Partitions per `GetPartitions` page (Glue's maximum, 1,000).
    pub catalog_page_size: i32,
    /// `GetPartitions` segments read at once (Glue allows 10).
    pub catalog_segments: i32,
    /// The most units the table is cut into.
    pub max_units: usize,
    /// Continue a stopped pass from its cursor; `None` starts a new pass.
    pub resume: Option<Cursor>,
}

/// Listings in flight by default: 16 requests of a 1,000-key page each hold a few megabytes,
/// which a 128 MB function has, and at 80 ms a page walk 200,000 keys a second.
pub const DEFAULT_CONCURRENCY: usize = 16;
/// Glue requests in flight by default: Glue throttles a catalog's writes well before 10.
pub const DEFAULT_GLUE_CONCURRENCY: usize = 8;

impl Default for SyncOptions {
    fn default() -> Self {
        Self {
            dry_run: false,
            prune: false,
            update_schema: false,
            concurrency: DEFAULT_CONCURRENCY,
            glue_concurrency: DEFAULT_GLUE_CONCURRENCY,
            deadline: Deadline::NONE,
            drain: Duration::from_secs(3),
            page_size: 1000,
            catalog_page_size: 1000,
            catalog_segments: 10,
            max_units: 128,
            resume: None,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    #[error(transparent)]
    Catalog(#[from] CatalogError),
    #[error("table {0} is not served by this configuration (GLUE_TABLES / GLUE_DATABASES)")]
    NotServed(TableName),
    #[error(transparent)]
    Cursor(#[from] CursorError),
}

/// How far a walk got, for progress lines.
#[derive(Debug, Clone, Copy, Default)]
pub struct WalkProgress {
    pub units: usize,
    pub units_done: usize,
    /// Listings the split sent to cut the table into units.
    pub split_requests: usize,
    pub pages: u64,
    pub objects: u64,
    /// Partitions created or found registered.
    pub partitions: u64,
    pub elapsed: Duration,
}

impl WalkProgress {
    /// Objects listed per second.
    pub fn rate(&self) -> f64 {
        self.objects as f64 / self.elapsed.as_secs_f64().max(0.001)
    }
}

/// Where a long run reports how far it got: a progress bar on a terminal, log lines otherwise.
pub trait Progress: Send + Sync {
    /// A new phase; `total` when known.
    fn phase(&self, name: &str, total: Option<u64>);
    fn advance(&self, n: u64);
    /// The walk went on (after every page).
    fn walk(&self, at: &WalkProgress);
}

/// Progress as log lines, for Lambda and for output that is not a terminal: the walk logs a
/// line every ten seconds.
#[derive(Default)]
pub struct LogProgress {
    last: std::sync::Mutex<Option<Instant>>,
}

impl Progress for LogProgress {
    fn phase(&self, name: &str, total: Option<u64>) {
        tracing::info!(phase = name, total, "sync phase");
    }

    fn advance(&self, _n: u64) {}

    fn walk(&self, at: &WalkProgress) {
        let mut last = self.last.lock().unwrap_or_else(|e| e.into_inner());
        if last.is_some_and(|t| t.elapsed() < Duration::from_secs(10)) {
            return;
        }
        *last = Some(Instant::now());
        tracing::info!(
            units_done = at.units_done,
            units = at.units,
            objects = at.objects,
            partitions = at.partitions,
            objects_per_second = at.rate().round(),
            "sync progress"
        );
    }
}

/// Found partitions waiting for a create request, at most this many: the walk pauses while
/// Glue catches up, so memory stays flat however large the table.
const MAX_PENDING: usize = 10 * MAX_WRITE_BATCH;

type Boxed<'a, T> = Pin<Box<dyn Future<Output = T> + 'a>>;

/// One run of a pass over `table` (a new pass, or `options.resume`'s): walk and register,
/// then prune and update schemas once the walk is whole. Returns the report; what it could
/// not do is in `failed` and `stopped`, and where to go on in `cursor`.
pub async fn sync(
    registrar: &Registrar,
    table: &TableName,
    options: &SyncOptions,
    progress: &dyn Progress,
) -> Result<Report, SyncError> {
    let started = Instant::now();
    let glue_before = registrar.clients().glue_requests.snapshot();
    let s3_before = registrar.clients().s3_requests.snapshot();
    if !registrar.config().serves(table) {
        return Err(SyncError::NotServed(table.clone()));
    }
    let name = table.to_string();
    let mut cursor = match &options.resume {
        Some(c) => {
            c.check(&name, options.prune, options.update_schema)?;
            c.clone()
        }
        None => Cursor::new(&name, options.prune, options.update_schema),
    };
    cursor.runs += 1;
    let mut tally = Tally::new(options.dry_run);
    let mut walked = WalkProgress::default();
    let done = match pass(
        registrar,
        table,
        options,
        progress,
        &mut cursor,
        &mut tally,
        &mut walked,
    )
    .await
    {
        Ok(done) => done,
        Err(SyncError::Catalog(CatalogError::Call(e))) if e.kind == ErrorKind::Deadline => {
            tally.stopped(&format!(
                "stopped at the deadline while reading {table} from the catalog; run again with the cursor to continue"
            ));
            false
        }
        Err(e) => return Err(e),
    };
    let glue = registrar
        .clients()
        .glue_requests
        .snapshot()
        .since(&glue_before);
    let s3 = registrar.clients().s3_requests.snapshot().since(&s3_before);
    let report = tally.finish((!done).then_some(cursor));
    let counts = report.counts.unwrap_or_default();
    tracing::info!(
        table = %table,
        created = counts.created,
        existing = counts.existing,
        deleted = counts.deleted,
        updated = counts.updated,
        skipped = counts.skipped,
        failed = counts.failed,
        unconfirmed = counts.unconfirmed,
        units = walked.units,
        units_done = walked.units_done,
        split_requests = walked.split_requests,
        pages = walked.pages,
        objects = walked.objects,
        stopped = report.stopped.as_deref(),
        resumable = report.cursor.is_some(),
        glue_requests = glue.total(),
        glue_ops = %glue,
        s3_requests = s3.total(),
        s3_ops = %s3,
        duration_ms = started.elapsed().as_secs_f64() * 1000.0,
        "sync summary"
    );
    Ok(report)
}

/// The phases of one run; `true` when the pass is over.
async fn pass(
    registrar: &Registrar,
    table: &TableName,
    options: &SyncOptions,
    progress: &dyn Progress,
    cursor: &mut Cursor,
    tally: &mut Tally,
    walked: &mut WalkProgress,
) -> Result<bool, SyncError> {
    let deadline = options.deadline;
    // Read afresh, not from the warm cache: a sync is the place where a changed table
    // (a new column) must be seen at once.
    let served = registrar.catalog().table(table, deadline).await?;
    let run = Run {
        registrar,
        served: &served,
        options,
        progress,
        fingerprints: Fingerprinter::default(),
        soft: deadline.earlier(options.drain),
    };
    if cursor.phase == Phase::Walk {
        *walked = run.walk(cursor, tally).await?;
        if !cursor.walked() {
            let why = if run.soft.passed() || tally.counts().failed == 0 {
                stopped_walk(walked, tally.counts(), &table.to_string())
            } else {
                format!(
                    "{} listings or registrations failed; run again with the cursor to retry them",
                    tally.counts().failed
                )
            };
            tally.stopped(&why);
            return Ok(false);
        }
        if cursor.empty_left > 0 {
            tally.stopped(&format!(
                "{} more partitions the walk showed empty did not fit in the cursor; a later pass prunes them",
                cursor.empty_left
            ));
        }
        match next_phase(Phase::Walk, cursor) {
            Some(p) => cursor.phase = p,
            None => return Ok(true),
        }
    }
    if cursor.phase == Phase::Prune {
        if !run.prune(cursor, tally).await {
            return Ok(false);
        }
        match next_phase(Phase::Prune, cursor) {
            Some(p) => cursor.phase = p,
            None => return Ok(true),
        }
    }
    if cursor.phase == Phase::Schema {
        return Ok(run.update_schemas(cursor, tally).await?);
    }
    Ok(true)
}

/// The phase after `phase`, as the pass's options ask; `None` when the pass is over.
fn next_phase(phase: Phase, cursor: &Cursor) -> Option<Phase> {
    match phase {
        Phase::Walk if cursor.prune => Some(Phase::Prune),
        Phase::Walk | Phase::Prune if cursor.update_schema => Some(Phase::Schema),
        _ => None,
    }
}

/// Cut `table` into units and answer them in at most `groups` cursors, for a state machine
/// to walk each group in its own invocations (and to merge their cursors for the prune and
/// the schema update). Lists directories only.
pub async fn split(
    registrar: &Registrar,
    table: &TableName,
    options: &SyncOptions,
    groups: usize,
) -> Result<SplitPlan, SyncError> {
    if !registrar.config().serves(table) {
        return Err(SyncError::NotServed(table.clone()));
    }
    let served = registrar.catalog().table(table, options.deadline).await?;
    let t = &served.table;
    let walk = Walk::new(t);
    let storage = registrar.storage();
    let bucket = t.location.bucket.as_str();
    let list = |r: ListRequest| async move {
        let page = storage
            .list(bucket, &r, options.page_size, options.deadline)
            .await;
        (r, page)
    };
    let mut cut = Split::new(t, options.max_units);
    let mut lists: FuturesUnordered<Boxed<'_, (ListRequest, Result<ListPage, CallError>)>> =
        FuturesUnordered::new();
    for r in cut.start() {
        lists.push(Box::pin(list(r)));
    }
    let probe = storage
        .list(bucket, &walk.start(), options.page_size, options.deadline)
        .await
        .map_err(CatalogError::Call)?;
    let mut step = cut.on_probe(&probe);
    let units: Vec<Unit> = loop {
        match step {
            SplitStep::Units(units) => break units,
            SplitStep::List(more) => more.into_iter().for_each(|r| lists.push(Box::pin(list(r)))),
            SplitStep::Wait => {}
        }
        let Some((request, page)) = lists.next().await else {
            break Vec::new();
        };
        step = cut.on_page(&request, &page.map_err(CatalogError::Call)?);
    };
    // The probe's page is walked again by the first unit, from the start of the table.
    let mut frontier = Frontier::default();
    if units.is_empty() {
        frontier.units.push(UnitState::new(walk.start()));
    }
    for (i, u) in units.iter().enumerate() {
        let after = if i == 0 { None } else { u.after.clone() };
        frontier
            .units
            .push(UnitState::new(walk.unit(after, u.through.clone())));
    }
    let name = table.to_string();
    let unit_count = frontier.units.len();
    let cursors = frontier
        .groups(groups)
        .into_iter()
        .map(|walk| Cursor {
            walk,
            started: true,
            ..Cursor::new(&name, options.prune, options.update_schema)
        })
        .collect();
    Ok(SplitPlan {
        table: name,
        units: unit_count,
        requests: cut.requests + 1,
        cursors,
    })
}

/// One run of a pass: what its phases share.
struct Run<'r> {
    registrar: &'r Registrar,
    served: &'r ServedTable,
    options: &'r SyncOptions,
    progress: &'r dyn Progress,
    fingerprints: Fingerprinter,
    /// When the walk stops listing (and the prune and schema phases stop starting work):
    /// the deadline less the drain.
    soft: Deadline,
}

impl Run<'_> {
    /// The catalog's partitions, as fingerprints of their values.
    async fn catalog_index(&self) -> Result<FingerprintSet, CatalogError> {
        let name = &self.served.table.name;
        self.progress.phase("reading the catalog", None);
        let mut index = FingerprintSet::default();
        self.registrar
            .catalog()
            .read_partitions(
                name,
                false,
                self.options.catalog_segments,
                self.options.catalog_page_size,
                self.options.deadline,
                |page| {
                    for p in page {
                        index.insert(self.fingerprints.values(&p.values));
                    }
                },
            )
            .await?;
        Ok(index)
    }

    /// The walk, and registration of what it finds as it goes.
    async fn walk(
        &self,
        cursor: &mut Cursor,
        tally: &mut Tally,
    ) -> Result<WalkProgress, SyncError> {
        let reading = Instant::now();
        let catalog = self.catalog_index().await?;
        // A pruning pass reads the catalog again at the end, to note what the walk showed
        // empty: the walk stops listing early enough for that read too.
        let stop = match self.options.prune {
            true => self.soft.earlier(reading.elapsed().mul_f64(1.5)),
            false => self.soft,
        };
        let table = &self.served.table;
        let fresh = !cursor.started;
        cursor.started = true;
        let mut walker = Walker::new(self, &catalog, cursor, fresh, stop);
        self.progress.phase(
            &format!("walking {}", table.location.uri_of(walker.walk.scope())),
            None,
        );
        walker.run(tally).await;
        let coverage = walker.coverage();
        let found_dirs = std::mem::take(&mut walker.found_dirs);
        let progress = walker.progress();
        walker.finish();
        if self.options.prune
            && let Err(e) = self.note_empty(cursor, &coverage, &found_dirs).await
        {
            // Safe: what this run showed empty is not pruned by this pass, only later.
            tally.stopped(&format!(
                "the partitions this run showed empty could not be noted ({e}); a later pass prunes them"
            ));
        }
        Ok(progress)
    }

    /// The catalog's partitions whose directory this run walked and found no data in:
    /// shown empty, carried in the cursor to the prune.
    async fn note_empty(
        &self,
        cursor: &mut Cursor,
        coverage: &Coverage,
        found: &FingerprintSet,
    ) -> Result<(), CatalogError> {
        let table = &self.served.table;
        let scope = Walk::new(table).scope().to_owned();
        let mut empty = Vec::new();
        self.registrar
            .catalog()
            .read_partitions(
                &table.name,
                false,
                self.options.catalog_segments,
                self.options.catalog_page_size,
                self.options.deadline,
                |page| {
                    for p in page {
                        let Some(location) = p.location.as_deref().and_then(S3Location::parse)
                        else {
                            continue;
                        };
                        let dir = location.prefix.as_str();
                        if location.bucket == table.location.bucket
                            && dir.starts_with(&scope)
                            && coverage.covers(dir)
                            && !found.contains(&self.fingerprints.dir(dir))
                        {
                            empty.push(p.values);
                        }
                    }
                },
            )
            .await?;
        empty.sort();
        for values in empty {
            cursor.note_empty(values);
        }
        Ok(())
    }

    /// Drop the partitions the walk showed empty, each checked again by the writer (its
    /// registered location listed; re-created if data arrived meanwhile). `true` when every
    /// one was settled; the rest stay in the cursor.
    async fn prune(&self, cursor: &mut Cursor, tally: &mut Tally) -> bool {
        let table = &self.served.table;
        let candidates = std::mem::take(&mut cursor.empty);
        self.progress
            .phase("pruning", Some(candidates.len() as u64));
        let deadline = self.options.deadline;
        let registered = match self
            .registrar
            .catalog()
            .batch_get_partition(&table.name, &candidates, deadline)
            .await
        {
            // Unprocessed ones are asked again by the next run.
            Ok(lookup) => {
                cursor.empty.extend(lookup.unprocessed);
                lookup.found
            }
            Err(e) => {
                tally.fail(
                    &table.location.bucket,
                    table.location.prefix.as_str(),
                    &format!("{e}; nothing was pruned, the cursor prunes again"),
                );
                cursor.empty = candidates;
                return false;
            }
        };
        let mut unchecked: Vec<Vec<String>> = Vec::new();
        let mut settled = futures_util::stream::iter(&registered)
            .map(|p| async move {
                if self.soft.passed() {
                    return (p, None);
                }
                let result = self
                    .registrar
                    .writer()
                    .drop_if_empty(self.served, p, None, self.options.dry_run, deadline)
                    .await;
                (p, Some(result))
            })
            .buffer_unordered(self.options.glue_concurrency.max(1));
        while let Some((p, result)) = settled.next().await {
            self.progress.advance(1);
            let Some(result) = result else {
                unchecked.push(p.values.clone());
                continue;
            };
            let entry = |location: &str| PartitionEntry::new(&table.name, &p.values, location);
            match result {
                Ok(Settled::Deleted { location }) => tally.deleted(entry(&location)),
                Ok(Settled::Recreated { location }) => {
                    tally.deleted(entry(&location));
                    tally.created(entry(&location));
                }
                Ok(Settled::Kept(_) | Settled::Created) => {}
                Err(e) if e.kind.is_transient() => {
                    tally.fail(
                        &table.location.bucket,
                        p.location.as_deref().unwrap_or_default(),
                        &format!(
                            "{e}; partition {:?} was not pruned, the cursor prunes it again",
                            p.values
                        ),
                    );
                    unchecked.push(p.values.clone());
                }
                Err(e) => tally.fail(
                    &table.location.bucket,
                    p.location.as_deref().unwrap_or_default(),
                    &format!("{e}; partition {:?} was not pruned", p.values),
                ),
            }
        }
        if !unchecked.is_empty() {
            tally.stopped(&format!(
                "stopped while pruning: {} partitions were not checked; run again with the cursor to continue",
                unchecked.len()
            ));
        }
        cursor.empty.extend(unchecked);
        cursor.empty.is_empty()
    }

    /// Bring registered partitions whose descriptor differs from the table's in line with
    /// it: the catalog read in segments with columns, page by page, each page's stale
    /// partitions updated (`BatchUpdatePartition`, 100 per request) before the next is read.
    /// `true` when every segment was read to its end; the rest stay in the cursor.
    async fn update_schemas(
        &self,
        cursor: &mut Cursor,
        tally: &mut Tally,
    ) -> Result<bool, CatalogError> {
        let table = &self.served.table;
        let wanted = descriptor_of(&self.served.descriptor);
        if cursor.schema.is_empty() {
            let total = self.options.catalog_segments.clamp(1, 10);
            cursor.schema = (0..total)
                .map(|segment| SegmentCursor {
                    segment,
                    total,
                    next_token: None,
                })
                .collect();
        }
        self.progress.phase("updating schemas", None);
        let mut segments: VecDeque<SegmentCursor> = std::mem::take(&mut cursor.schema).into();
        let mut running: FuturesUnordered<Boxed<'_, SchemaPage>> = FuturesUnordered::new();
        let mut left: Vec<SegmentCursor> = Vec::new();
        loop {
            while !self.soft.passed() && running.len() < self.options.glue_concurrency.max(1) {
                let Some(segment) = segments.pop_front() else {
                    break;
                };
                let wanted = &wanted;
                running.push(Box::pin(async move {
                    let (next, updated) = match self.schema_page(&segment, wanted).await {
                        Ok((next, updated)) => (Ok(next), updated),
                        Err(e) => (Err(e), Vec::new()),
                    };
                    (segment, next, updated)
                }));
            }
            let Some((segment, next, updated)) = running.next().await else {
                break;
            };
            for (entry, error) in updated {
                match error {
                    None => tally.updated(entry),
                    Some(e) => tally.fail(
                        &table.location.bucket,
                        &entry.partition.location,
                        &format!(
                            "{e}; partition {:?} keeps its old schema",
                            entry.partition.values
                        ),
                    ),
                }
            }
            match next {
                Ok(Some(next)) => segments.push_back(next),
                Ok(None) => {}
                Err(CatalogError::Call(e)) if e.kind.is_transient() => {
                    tally.fail(
                        &table.location.bucket,
                        &table.location.prefix,
                        &format!("{e}; the cursor reads this segment again"),
                    );
                    left.push(segment);
                }
                Err(e) => return Err(e),
            }
        }
        left.extend(segments);
        let done = left.is_empty();
        if !done {
            tally.stopped(&format!(
                "stopped while updating schemas: {} catalog segments not read to the end; run again with the cursor to continue",
                left.len()
            ));
        }
        cursor.schema = left;
        Ok(done)
    }

    /// One page of a segment with columns: its stale partitions updated (or, dry run,
    /// listed). Returns where the segment goes on, and each partition it changed.
    async fn schema_page(
        &self,
        segment: &SegmentCursor,
        wanted: &registrar_core::schema::Descriptor,
    ) -> Result<
        (
            Option<SegmentCursor>,
            Vec<(UpdatedEntry, Option<CallError>)>,
        ),
        CatalogError,
    > {
        let table = &self.served.table;
        let page = self
            .registrar
            .catalog()
            .get_partitions(
                &table.name,
                segment,
                true,
                self.options.catalog_page_size,
                self.options.deadline,
            )
            .await?;
        let mut stale: Vec<(CatalogPartition, Vec<&'static str>)> = page
            .partitions
            .into_iter()
            .filter_map(|p| {
                let have = descriptor_of(p.descriptor.as_ref()?);
                let changes = descriptor_changes(wanted, &have);
                (!changes.is_empty()).then_some((p, changes))
            })
            .collect();
        stale.sort_by(|a, b| a.0.values.cmp(&b.0.values));
        let entry = |p: &CatalogPartition, changes: &[&str]| UpdatedEntry {
            partition: PartitionEntry::new(
                &table.name,
                &p.values,
                p.location.as_deref().unwrap_or_default(),
            ),
            changes: changes.iter().map(|c| c.to_string()).collect(),
        };
        if self.options.dry_run {
            let updated = stale.iter().map(|(p, c)| (entry(p, c), None)).collect();
            return Ok((page.next, updated));
        }
        let updates: Vec<PartitionUpdate> = stale
            .iter()
            .map(|(p, _)| PartitionUpdate {
                values: p.values.clone(),
                input: self.served.realigned(p),
            })
            .collect();
        let results = self
            .registrar
            .catalog()
            .batch_update_partition(&table.name, &updates, self.options.deadline)
            .await;
        let updated = stale
            .iter()
            .zip(results)
            .map(|((p, c), r)| (entry(p, c), r.err()))
            .collect();
        Ok((page.next, updated))
    }
}

/// A segment's page of the schema phase: the segment, where it goes on (`None` at its end),
/// and each partition changed, with its error if its update failed.
type SchemaPage = (
    SegmentCursor,
    Result<Option<SegmentCursor>, CatalogError>,
    Vec<(UpdatedEntry, Option<CallError>)>,
);

/// A found partition waiting for its create request, and how many runs tried it before.
#[derive(Debug, Clone)]
struct Pending {
    partition: PartitionSpec,
    attempts: u32,
}

/// One unit of the walk in this run.
struct Slot {
    state: UnitState,
    /// The request sent and not answered (a unit has at most one).
    in_flight: Option<ListRequest>,
    /// Where the unit stood when the run began: the start of what this run walks of it.
    start: Option<String>,
    /// The unit's end; `None` for the end of the table.
    through: Option<String>,
    /// Waits for the split to say where it ends before listing on.
    held: bool,
}

/// Whether the walk still lists, or drains what it found before the deadline.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Listing,
    Draining,
}

/// What the walk's loop waits for.
enum Event {
    Listed(usize, ListRequest, Result<ListPage, CallError>),
    SplitListed(ListRequest, Result<ListPage, CallError>),
    Created(u64, Vec<Result<Registered, CallError>>),
    /// The drain begins: stop listing, register what was found.
    Drain,
    /// The deadline: whatever is in flight now is cut.
    Deadline,
}

/// The walk of one run: units listing at once, one request in flight per unit, found
/// partitions registered in chunks while the listings go on.
///
/// Its invariants: every found partition is reported once (created, existing, failed or
/// unconfirmed) or carried in the cursor's retries; every unit not finished is in the
/// cursor with exactly the requests it had not had answered; a listing in flight when the
/// drain begins is given back to its unit; a create in flight when the deadline comes is
/// reported unconfirmed and retried by the next run.
struct Walker<'w, 'r> {
    run: &'w Run<'r>,
    catalog: &'w FingerprintSet,
    cursor: &'w mut Cursor,
    walk: Walk<'w>,
    bucket: &'w str,
    units: Vec<Slot>,
    /// Units with a request to send and none in flight, in turn.
    ready: VecDeque<usize>,
    lists: FuturesUnordered<Boxed<'w, Event>>,
    /// The split, while it decides (a fresh pass only); its listings wait here to be sent.
    split: Option<Split<'w>>,
    split_queue: VecDeque<ListRequest>,
    split_lists: FuturesUnordered<Boxed<'w, Event>>,
    creates: FuturesUnordered<Boxed<'w, Event>>,
    /// Chunks sent and not answered, by id: reported unconfirmed if the deadline cuts them.
    in_flight: HashMap<u64, Vec<Pending>>,
    next_chunk: u64,
    pending: Vec<Pending>,
    /// Directories the walk found data in (for pruning).
    found_dirs: FingerprintSet,
    state: State,
    /// When listing stops: the deadline less the drain (and, pruning, the catalog read).
    stop: Deadline,
    progress: WalkProgress,
    started: Instant,
}

impl<'w, 'r> Walker<'w, 'r> {
    fn new(
        run: &'w Run<'r>,
        catalog: &'w FingerprintSet,
        cursor: &'w mut Cursor,
        fresh: bool,
        stop: Deadline,
    ) -> Self {
        let table = &run.served.table;
        let walk = Walk::new(table);
        let mut units = Vec::new();
        let mut split = None;
        if fresh {
            // The first page of the table is the probe: walked as the first unit, and told to
            // the split, which holds the unit until it says where the unit ends.
            let mut s = Split::new(table, run.options.max_units);
            let first = s.start();
            units.push(Slot {
                state: UnitState::new(walk.start()),
                in_flight: None,
                start: None,
                through: None,
                held: false,
            });
            split = Some((s, first));
        } else {
            for state in std::mem::take(&mut cursor.walk.units) {
                let first = state.requests.first();
                units.push(Slot {
                    start: first.and_then(|r| r.start_after.clone()),
                    through: first.and_then(|r| r.through.clone()),
                    state,
                    in_flight: None,
                    held: false,
                });
            }
        }
        let pending = std::mem::take(&mut cursor.retry)
            .into_iter()
            .map(|r| Pending {
                partition: r.partition,
                attempts: r.attempts,
            })
            .collect();
        let (split, split_queue) = match split {
            Some((s, first)) => (Some(s), first.into()),
            None => (None, VecDeque::new()),
        };
        let ready = (0..units.len()).collect();
        let progress = WalkProgress {
            units: units.len(),
            ..WalkProgress::default()
        };
        Self {
            run,
            catalog,
            cursor,
            walk,
            bucket: table.location.bucket.as_str(),
            units,
            ready,
            lists: FuturesUnordered::new(),
            split,
            split_queue,
            split_lists: FuturesUnordered::new(),
            creates: FuturesUnordered::new(),
            in_flight: HashMap::new(),
            next_chunk: 0,
            pending,
            found_dirs: FingerprintSet::default(),
            state: State::Listing,
            stop,
            progress,
            started: Instant::now(),
        }
    }

    fn options(&self) -> &'w SyncOptions {
        self.run.options
    }

    /// The loop: send what may be sent, wait for the next event, handle it; until nothing
    /// is in flight or waiting.
    async fn run(&mut self, tally: &mut Tally) {
        let hard = self.options().deadline;
        let soft = self.stop;
        loop {
            self.launch();
            if self.idle() {
                break;
            }
            let listing = self.state == State::Listing;
            let event = tokio::select! {
                biased;
                () = sleep_until(hard) => Event::Deadline,
                Some(e) = self.creates.next(), if !self.creates.is_empty() => e,
                Some(e) = self.lists.next(), if !self.lists.is_empty() => e,
                Some(e) = self.split_lists.next(), if !self.split_lists.is_empty() => e,
                () = sleep_until(soft), if listing => Event::Drain,
            };
            match event {
                Event::Listed(unit, request, page) => self.on_listed(unit, request, page, tally),
                Event::SplitListed(request, page) => self.on_split_listed(request, page),
                Event::Created(chunk, results) => self.on_created(chunk, results, tally),
                Event::Drain => self.on_drain(),
                Event::Deadline => {
                    self.on_deadline(tally);
                    break;
                }
            }
        }
    }

    /// Nothing in flight, nothing to send.
    fn idle(&self) -> bool {
        self.lists.is_empty()
            && self.split_lists.is_empty()
            && self.creates.is_empty()
            && self.pending.is_empty()
            && (self.state == State::Draining
                || (self.ready.is_empty() && self.split_queue.is_empty()))
    }

    /// Send listings while there is room (and found partitions do not pile up), and create
    /// requests for full chunks, or for what is left when nothing more will be found.
    fn launch(&mut self) {
        let options = self.options();
        if self.state == State::Listing {
            while self.lists.len() + self.split_lists.len() < options.concurrency.max(1) {
                if let Some(request) = self.split_queue.pop_front() {
                    let storage = self.run.registrar.storage();
                    let (bucket, size, deadline) =
                        (self.bucket, options.page_size, options.deadline);
                    self.split_lists.push(Box::pin(async move {
                        let page = storage.list(bucket, &request, size, deadline).await;
                        Event::SplitListed(request, page)
                    }));
                    continue;
                }
                if self.pending.len() >= MAX_PENDING {
                    break;
                }
                let Some(unit) = self.ready.pop_front() else {
                    break;
                };
                let slot = &mut self.units[unit];
                if slot.held || slot.state.is_done() || slot.in_flight.is_some() {
                    continue;
                }
                let request = slot.state.requests.remove(0);
                slot.in_flight = Some(request.clone());
                let storage = self.run.registrar.storage();
                let (bucket, size, deadline) = (self.bucket, options.page_size, options.deadline);
                self.lists.push(Box::pin(async move {
                    let page = storage.list(bucket, &request, size, deadline).await;
                    Event::Listed(unit, request, page)
                }));
            }
        }
        let finding = self.state == State::Listing
            && !(self.lists.is_empty()
                && self.split_lists.is_empty()
                && self.ready.is_empty()
                && self.split_queue.is_empty());
        while self.creates.len() < options.glue_concurrency.max(1)
            && (self.pending.len() >= MAX_WRITE_BATCH || (!finding && !self.pending.is_empty()))
        {
            let chunk: Vec<Pending> = self
                .pending
                .drain(..self.pending.len().min(MAX_WRITE_BATCH))
                .collect();
            let wanted: Vec<PartitionSpec> = chunk.iter().map(|p| p.partition.clone()).collect();
            let id = self.next_chunk;
            self.next_chunk += 1;
            self.in_flight.insert(id, chunk);
            let (writer, served, deadline) = (
                self.run.registrar.writer(),
                self.run.served,
                options.deadline,
            );
            let dry_run = options.dry_run;
            self.creates.push(Box::pin(async move {
                let results = writer.ensure(served, &wanted, 1, dry_run, deadline).await;
                Event::Created(id, results)
            }));
        }
    }

    fn on_listed(
        &mut self,
        unit: usize,
        request: ListRequest,
        page: Result<ListPage, CallError>,
        tally: &mut Tally,
    ) {
        self.units[unit].in_flight = None;
        let page = match page {
            Ok(page) => page,
            Err(e) => {
                // Given back to the unit: the next run (the cursor) lists it again.
                let from = request
                    .start_after
                    .as_deref()
                    .map(|s| format!(" after `{s}`"))
                    .unwrap_or_default();
                tally.fail(
                    self.bucket,
                    &request.prefix,
                    &format!("{e}; the keys under this prefix{from} were not walked, the cursor lists them again"),
                );
                self.units[unit].state.requests.insert(0, request);
                return;
            }
        };
        self.progress.pages += 1;
        self.progress.objects += (page.keys.len() + page.dirs.len()) as u64;
        let probe = unit == 0
            && self.split.is_some()
            && request.start_after.is_none()
            && !request.delimiter;
        let mut step = self.walk.on_page(&request, &page);
        self.units[unit].state.absorb(&mut step);
        for s in step.skipped {
            tally.skip(self.bucket, &s.key, &s.skip);
        }
        for found in step.found {
            self.on_found(found.dir, found.values, tally);
        }
        let slot = &mut self.units[unit];
        if slot.state.is_done() {
            self.progress.units_done += 1;
        } else if probe {
            // The first unit waits for the split to say where it ends.
            slot.held = true;
        } else if !slot.held {
            self.ready.push_back(unit);
        }
        if probe {
            let decided = self.split.as_mut().map(|s| s.on_probe(&page));
            if let Some(decided) = decided {
                self.on_split(decided);
            }
        }
        self.progress.elapsed = self.started.elapsed();
        self.run.progress.walk(&self.progress);
    }

    fn on_found(&mut self, dir: String, values: Vec<String>, tally: &mut Tally) {
        let table = &self.run.served.table;
        let fingerprints = &self.run.fingerprints;
        if self.options().prune {
            self.found_dirs.insert(fingerprints.dir(&dir));
            self.cursor.found(&values);
        }
        let location = table.location.uri_of(&dir);
        let entry = || PartitionEntry::new(&table.name, &values, &location);
        if self.catalog.contains(&fingerprints.values(&values)) {
            tally.existing(entry());
            self.progress.partitions += 1;
        } else if self.options().dry_run {
            tally.created(entry());
            self.progress.partitions += 1;
        } else {
            self.pending.push(Pending {
                partition: PartitionSpec::new(values, location),
                attempts: 0,
            });
        }
    }

    fn on_split_listed(&mut self, request: ListRequest, page: Result<ListPage, CallError>) {
        let step = match page {
            Ok(page) => match self.split.as_mut() {
                Some(split) => split.on_page(&request, &page),
                None => return,
            },
            Err(e) => {
                tracing::warn!(error = %e, "a listing of the split failed; the table is walked as one unit");
                SplitStep::Units(Vec::new())
            }
        };
        self.on_split(step);
    }

    /// The split's next step: more listings, or the units, which release the first unit.
    fn on_split(&mut self, step: SplitStep) {
        let units = match step {
            SplitStep::List(more) => {
                self.split_queue.extend(more);
                return;
            }
            SplitStep::Wait => return,
            SplitStep::Units(units) => units,
        };
        let Some(split) = self.split.take() else {
            return;
        };
        self.progress.split_requests = split.requests;
        self.split_queue.clear();
        let first = &mut self.units[0];
        first.held = false;
        if let Some(u) = units.first() {
            first.through = u.through.clone();
            for r in &mut first.state.requests {
                r.through = u.through.clone();
            }
        }
        if !first.state.is_done() && first.in_flight.is_none() {
            self.ready.push_back(0);
        }
        for u in units.into_iter().skip(1) {
            self.units.push(Slot {
                state: UnitState::new(self.walk.unit(u.after.clone(), u.through.clone())),
                in_flight: None,
                start: u.after,
                through: u.through,
                held: false,
            });
            self.ready.push_back(self.units.len() - 1);
        }
        self.progress.units = self.units.len();
    }

    fn on_created(
        &mut self,
        chunk: u64,
        results: Vec<Result<Registered, CallError>>,
        tally: &mut Tally,
    ) {
        let table = &self.run.served.table;
        let Some(partitions) = self.in_flight.remove(&chunk) else {
            return;
        };
        for (p, result) in partitions.into_iter().zip(results) {
            let entry =
                PartitionEntry::new(&table.name, &p.partition.values, &p.partition.location);
            match result {
                Ok(Registered::Created) => {
                    tally.created(entry);
                    self.progress.partitions += 1;
                }
                Ok(Registered::Existing) => {
                    tally.existing(entry);
                    self.progress.partitions += 1;
                }
                Err(e) => {
                    let attempts = p.attempts + 1;
                    let retried = e.kind.is_transient() && attempts < MAX_ATTEMPTS;
                    let then = if retried {
                        "; the cursor tries it again"
                    } else {
                        ""
                    };
                    tally.fail(
                        self.bucket,
                        dir_of(&p.partition.location),
                        &format!("{e}{then}"),
                    );
                    if retried {
                        self.cursor.retry.push(Retry {
                            partition: p.partition,
                            attempts,
                        });
                    }
                }
            }
        }
    }

    /// Stop listing: listings in flight are given back to their units (a listing has no
    /// effect, so it is simply sent again by the next run), and what was found is sent.
    fn on_drain(&mut self) {
        self.state = State::Draining;
        self.lists = FuturesUnordered::new();
        self.split_lists = FuturesUnordered::new();
        self.split_queue.clear();
        for slot in &mut self.units {
            if let Some(request) = slot.in_flight.take() {
                slot.state.requests.insert(0, request);
            }
        }
    }

    /// The deadline: creates in flight are cut, their outcome unknown; they are reported
    /// unconfirmed and, with what was found and not sent, made sure of by the next run.
    fn on_deadline(&mut self, tally: &mut Tally) {
        self.on_drain();
        self.creates = FuturesUnordered::new();
        let table = &self.run.served.table;
        let mut cut: Vec<(u64, Vec<Pending>)> = self.in_flight.drain().collect();
        cut.sort_by_key(|(id, _)| *id);
        for p in cut.into_iter().flat_map(|(_, ps)| ps) {
            tally.unconfirmed(PartitionEntry::new(
                &table.name,
                &p.partition.values,
                &p.partition.location,
            ));
            self.cursor.retry.push(Retry {
                partition: p.partition,
                attempts: p.attempts + 1,
            });
        }
        for p in self.pending.drain(..) {
            self.cursor.retry.push(Retry {
                partition: p.partition,
                attempts: p.attempts,
            });
        }
    }

    /// What this run walked, unit by unit.
    fn coverage(&self) -> Coverage {
        let mut coverage = Coverage::default();
        for slot in &self.units {
            let end = match slot.state.requests.first() {
                // Finished: walked to its end.
                None => slot.through.clone(),
                // Not moved in this run.
                Some(r) if r.start_after == slot.start => continue,
                Some(r) => r.start_after.clone(),
            };
            coverage.add(slot.start.clone(), end);
        }
        coverage
    }

    fn progress(&self) -> WalkProgress {
        WalkProgress {
            elapsed: self.started.elapsed(),
            ..self.progress
        }
    }

    /// Hand the units not finished to the cursor, and say why the walk stopped.
    fn finish(self) {
        let left: Vec<UnitState> = self
            .units
            .into_iter()
            .map(|s| s.state)
            .filter(|s| !s.is_done())
            .collect();
        self.cursor.walk = Frontier { units: left };
    }
}

/// A partition location's key prefix, as the report names a failed partition.
fn dir_of(location: &str) -> &str {
    location.splitn(4, '/').nth(3).unwrap_or(location)
}

/// Wait for the deadline; forever when there is none.
async fn sleep_until(deadline: Deadline) {
    match deadline.instant() {
        Some(at) => tokio::time::sleep_until(at.into()).await,
        None => std::future::pending().await,
    }
}

/// What a stopped run says of where it stopped, for `stopped`.
pub fn stopped_walk(progress: &WalkProgress, counts: &Counts, table: &str) -> String {
    format!(
        "stopped at the deadline after listing {} keys of {table} in {} of {} units ({} partitions registered or found registered); the cursor continues from there",
        progress.objects,
        progress.units_done,
        progress.units,
        counts.created + counts.existing
    )
}
