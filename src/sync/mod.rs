//! Backfill and sync: the crawler's last jobs, on the same core, at lake scale.
//!
//! A **pass** walks what is under a table's location, registers what the catalog lacks while
//! the walk goes on, and (with `--prune`, `--update-schema`) finishes with one read of the
//! catalog that drops what no longer has data and brings schemas in line. A pass may take
//! many **runs**: each stops listing early enough before its deadline to register what it
//! found, and writes where it stopped to the pass's checkpoints (`checkpoints`), which the
//! next run reads. Driven by the repair's state machine, the table is cut into **groups** of
//! units walked by separate chains of runs at once, and the finish is its own run.
//!
//! The phases, a file each:
//! - `walker`: the walk of one run (many listings and Glue requests in flight, the cut of
//!   the table into units, the drain at the deadline);
//! - `finish`: prune and schema update, from one catalog read a pass, resumable;
//! - `checkpoints`: where a pass's state lives between runs.
//!
//! What a run answers is a reference to its pass (`CursorRef`), the same size whatever the
//! table holds or however much failed; what it could not do is named in the pass's
//! checkpoints and, at the finish, in the answer's `unregistered` and `cause`.

mod checkpoints;
mod finish;
mod walker;

pub use checkpoints::Checkpoints;
pub use walker::{LogProgress, Progress, WalkProgress};

use crate::catalog::{CatalogError, ServedTable};
use crate::checkpoint::{CheckpointError, Expect};
use crate::handler::Registrar;
use registrar_core::completion::PartitionComplete;
use registrar_core::found::DirHasher;
use registrar_core::pass::{
    Cursor, CursorError, CursorRef, DUE_HORIZON_MS, Due, Failed, Head, OpenPass, PassOptions,
    PassRecord, Retry, WindowScope,
};
use registrar_core::report::PartitionEntry;
use registrar_core::report::{Report, SplitPlan, Tally};
use registrar_core::request::Step;
use registrar_core::window::{self, Day};
use registrar_core::{Deadline, TableName};
use std::time::{Duration, Instant};

#[derive(Debug, Clone)]
pub struct SyncOptions {
    /// Plan and read, write nothing to the catalog.
    pub dry_run: bool,
    /// S3 listings in flight at most (`--concurrency`): the walk starts at
    /// `walker::START_WIDTH` and grows towards it while S3 keeps up, halving on `SlowDown`.
    pub concurrency: usize,
    /// Glue requests (checks, creates, deletes, updates) in flight at once.
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
    /// `GetPartitions` segments read at once once a catalog outgrows a page (Glue allows 10).
    pub catalog_segments: i32,
    /// The most units the table is cut into.
    pub max_units: usize,
    /// Now, in milliseconds since the epoch: the day a repair window ends (the core has no
    /// clock of its own).
    pub now_ms: i64,
}

/// Listings in flight at most by default: 64 requests of a 1,000-key page hold about 20 MB,
/// which a 128 MB function has; at 80 ms a page that is 800,000 keys a second, where the
/// walk's CPU binds first.
pub const DEFAULT_CONCURRENCY: usize = 64;
/// Glue requests in flight by default: Glue throttles a catalog's writes well before 10.
pub const DEFAULT_GLUE_CONCURRENCY: usize = 8;
/// The least a run needs beyond its drain to make progress: a few round trips.
pub const MIN_WORK: Duration = Duration::from_millis(500);
/// Time kept from a run's work for writing its checkpoints: at most this, and a tenth of the
/// run's time when that is shorter.
pub const CHECKPOINT_RESERVE: Duration = Duration::from_secs(2);

/// What a run with `left` before its deadline keeps for its checkpoints.
fn reserve(left: Option<Duration>) -> Duration {
    left.map_or(Duration::ZERO, |l| (l / 10).min(CHECKPOINT_RESERVE))
}

impl Default for SyncOptions {
    fn default() -> Self {
        Self {
            dry_run: false,
            concurrency: DEFAULT_CONCURRENCY,
            glue_concurrency: DEFAULT_GLUE_CONCURRENCY,
            deadline: Deadline::NONE,
            drain: Duration::from_secs(3),
            page_size: 1000,
            catalog_page_size: 1000,
            catalog_segments: 10,
            max_units: 128,
            now_ms: std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_millis() as i64),
        }
    }
}

/// A run of a pass, as asked: which table, what the pass does, which run of it.
#[derive(Debug, Clone)]
pub struct PassRequest {
    pub table: TableName,
    pub prune: bool,
    pub update_schema: bool,
    /// Walk only the last this many days.
    pub window_days: Option<u32>,
    pub step: Step,
}

#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    #[error(transparent)]
    Catalog(#[from] CatalogError),
    #[error("table {0} is not served by this configuration (GLUE_TABLES / GLUE_DATABASES)")]
    NotServed(TableName),
    #[error(transparent)]
    Cursor(#[from] CursorError),
    #[error(transparent)]
    Checkpoint(#[from] CheckpointError),
    #[error(
        "the run had {had:.1} s before its deadline, which is not more than its {drain:.0} s drain and the {work:.0} s it needs to make progress: raise the function's timeout (the module's repair_timeout) so that every run walks"
    )]
    NoTime { had: f64, drain: f64, work: f64 },
    #[error(
        "the run made no progress on {table}: {why}; a run that cannot walk fails rather than hand on the same cursor"
    )]
    NoProgress { table: TableName, why: String },
}

impl SyncError {
    /// The error's name for a state machine's `Retry` (the Lambda's `errorType`).
    pub fn name(&self) -> &'static str {
        match self {
            Self::NoTime { .. } => "RepairNoTime",
            Self::NoProgress { .. } => "RepairNoProgress",
            Self::Checkpoint(CheckpointError::Conflict { .. }) => "RepairCheckpointConflict",
            Self::Checkpoint(e) if e.is_transient() => "RepairRunFailed",
            Self::Catalog(CatalogError::Call(e)) if e.kind.is_transient() => "RepairRunFailed",
            Self::Catalog(_) | Self::NotServed(_) | Self::Cursor(_) | Self::Checkpoint(_) => {
                "RepairRefused"
            }
        }
    }

    /// The input or the configuration cannot work (as opposed to a call that failed).
    pub fn is_unusable(&self) -> bool {
        !matches!(
            self.name(),
            "RepairRunFailed" | "RepairCheckpointConflict" | "RepairNoProgress"
        )
    }
}

/// What a run gave.
#[derive(Debug)]
pub enum Ran {
    /// A walk or a finish: what it did, and where the pass goes on.
    Report(Box<Report>),
    /// A pass's first run for a state machine: its groups.
    Split(SplitPlan),
}

/// One run of a pass over `request.table`, as `request.step` says.
pub async fn run(
    registrar: &Registrar,
    request: &PassRequest,
    options: &SyncOptions,
    progress: &dyn Progress,
) -> Result<Ran, SyncError> {
    let started = Instant::now();
    let glue_before = registrar.clients().glue_requests.snapshot();
    let s3_before = registrar.clients().s3_requests.snapshot();
    let table = &request.table;
    if !registrar.serves(table).await {
        return Err(SyncError::NotServed(table.clone()));
    }
    let reserve = reserve(options.deadline.remaining());
    if let Some(left) = options.deadline.remaining()
        && left <= options.drain + reserve + MIN_WORK
    {
        return Err(SyncError::NoTime {
            had: left.as_secs_f64(),
            drain: (options.drain + reserve).as_secs_f64(),
            work: MIN_WORK.as_secs_f64(),
        });
    }
    // Read afresh, not from the warm cache: a sync is the place where a changed table
    // (a new column) must be seen at once.
    let served = registrar.catalog().table(table, options.deadline).await?;
    let checkpoints = Checkpoints::new(registrar.store()?, table);
    let pass = Pass {
        registrar,
        served: &served,
        options,
        progress,
        checkpoints,
        reserve,
    };
    let mut walked = WalkProgress::default();
    let ran = match &request.step {
        Step::Start => pass.start(request, &mut walked).await?,
        Step::Split(groups) => pass.split(request, *groups, &mut walked).await?,
        Step::Group { pass: id, group } => pass.group(request, id, *group, &mut walked).await?,
        Step::Finish { pass: id } => pass.finish_step(request, id).await?,
    };
    let glue = registrar
        .clients()
        .glue_requests
        .snapshot()
        .since(&glue_before);
    let s3 = registrar.clients().s3_requests.snapshot().since(&s3_before);
    let (counts, stopped, cursor) = match &ran {
        Ran::Report(r) => (
            r.counts.unwrap_or_default(),
            r.stopped.clone(),
            r.cursor.as_ref().map(|c| c.pass.clone()),
        ),
        Ran::Split(p) => (p.counts, None, Some(p.pass.clone())),
    };
    tracing::info!(
        table = %table,
        step = ?request.step,
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
        listing_width = walked.width,
        listing_width_max = walked.widest,
        listings_slowed = walked.slowed,
        stopped = stopped.as_deref(),
        resumable = cursor.is_some(),
        glue_requests = glue.total(),
        glue_ops = %glue,
        s3_requests = s3.total(),
        s3_ops = %s3,
        list_requests = s3.get("ListObjectsV2"),
        duration_ms = started.elapsed().as_secs_f64() * 1000.0,
        "sync summary"
    );
    Ok(ran)
}

/// One run of a pass: what its steps share.
struct Pass<'r> {
    registrar: &'r Registrar,
    served: &'r ServedTable,
    options: &'r SyncOptions,
    progress: &'r dyn Progress,
    checkpoints: Checkpoints<'r>,
    /// Kept from the work for writing the checkpoints.
    reserve: Duration,
}

/// What one walk of a group did.
struct Walked {
    progress: WalkProgress,
    /// The split's units, when this run cut the table (the first run of a pass).
    split_units: Option<usize>,
    /// Something happened: a page answered, a partition checked or registered.
    progressed: bool,
}

impl Pass<'_> {
    fn name(&self) -> TableName {
        self.served.table.name.clone()
    }

    /// The options a request asks for, its window fixed to today's days.
    fn options_of(&self, request: &PassRequest) -> PassOptions {
        let window = request.window_days.and_then(|days| {
            let last = Day::of_ms(self.options.now_ms);
            match window::prefixes(&self.served.table, last, days) {
                Ok(prefixes) => Some(WindowScope {
                    days,
                    through: last.iso(),
                    prefixes,
                }),
                Err(e) => {
                    tracing::warn!(table = %self.name(), reason = %e, "no repair window");
                    None
                }
            }
        });
        PassOptions {
            prune: request.prune,
            update_schema: request.update_schema,
            window,
        }
    }

    /// A new pass: its record, its first group, and its place in the table's head (with the
    /// partitions the last pass could not register, tried first).
    async fn begin(
        &self,
        options: PassOptions,
        split: bool,
    ) -> Result<(PassRecord, Cursor), SyncError> {
        let deadline = self.options.deadline;
        let table = self.name().to_string();
        let seed = fresh_seed();
        let pass = format!(
            "{}-{:016x}",
            registrar_core::time::format(self.options.now_ms)
                .replace([':', '-'], "")
                .split('.')
                .next()
                .unwrap_or_default(),
            seed
        );
        let record = PassRecord {
            table: table.clone(),
            pass: pass.clone(),
            options: options.clone(),
            seed,
            groups: 1,
            split,
            dry_run: self.options.dry_run,
        };
        let mut cursor = Cursor::new(&table, &pass, 0);
        if !self.options.dry_run {
            let mut head = self.checkpoints.head(deadline).await?;
            cursor.carry(head.value.carry.clone());
            head.value
                .open
                .retain(|o| !o.options.continued_by(&options));
            head.value.open.push(OpenPass {
                pass: pass.clone(),
                options,
            });
            self.checkpoints.put_head(&head, deadline).await?;
        }
        self.checkpoints.put_record(&record, deadline).await?;
        Ok((record, cursor))
    }

    /// A new pass, walked by this run and, if it stops, by the runs its cursor resumes.
    async fn start(
        &self,
        request: &PassRequest,
        walked: &mut WalkProgress,
    ) -> Result<Ran, SyncError> {
        let (record, cursor) = self.begin(self.options_of(request), false).await?;
        let version = Expect::Absent;
        self.walk_group(&record, cursor, version, walked).await
    }

    /// The first run of a pass a state machine walks in groups; or the open pass of an
    /// earlier execution with the same options, whose groups still to walk are answered.
    async fn split(
        &self,
        request: &PassRequest,
        groups: usize,
        walked: &mut WalkProgress,
    ) -> Result<Ran, SyncError> {
        let deadline = self.options.deadline;
        let options = self.options_of(request);
        if !self.options.dry_run {
            let head = self.checkpoints.head(deadline).await?;
            let open = head
                .value
                .open
                .iter()
                .find(|o| o.options.continued_by(&options));
            if let Some(open) = open
                && let Ok(record) = self.checkpoints.record(&open.pass, deadline).await
                && record.split
            {
                return self.resume_split(&record).await;
            }
        }
        let (mut record, cursor) = self.begin(options, true).await?;
        let mut tally = Tally::new(self.options.dry_run);
        let (mut cursor, did) = self
            .walk_run(&record, cursor, &mut tally, Some(groups))
            .await?;
        *walked = did.progress;
        // The units cut into groups: the first holds the first unit, which this run walked.
        let frontier = std::mem::take(&mut cursor.walk);
        let parts = frontier.groups(groups.max(1));
        let mut parts = parts.into_iter();
        cursor.walk = parts.next().unwrap_or_default();
        let mut written = vec![cursor];
        for (i, walk) in parts.enumerate() {
            let mut group = Cursor::new(&record.table, &record.pass, i as u32 + 1);
            group.started = true;
            group.walk = walk;
            written.push(group);
        }
        record.groups = written.len() as u32;
        self.checkpoints.put_record(&record, deadline).await?;
        let mut left = Vec::new();
        for group in &written {
            self.checkpoints
                .put_group(group, &Expect::Absent, deadline)
                .await?;
            if !group.walked() {
                left.push(group.group);
            }
        }
        let report = tally.finish(None);
        Ok(Ran::Split(SplitPlan {
            table: record.table.clone(),
            pass: record.pass.clone(),
            groups: left,
            units: did.split_units.unwrap_or(1),
            requests: walked.split_requests,
            resumed: false,
            counts: report.counts.unwrap_or_default(),
        }))
    }

    /// An open pass resumed: its groups with a walk left.
    async fn resume_split(&self, record: &PassRecord) -> Result<Ran, SyncError> {
        let deadline = self.options.deadline;
        let mut left = Vec::new();
        let mut units = 0;
        for g in 0..record.groups {
            let cursor = self.checkpoints.group(&record.pass, g, deadline).await?;
            units += cursor.value.walk.units.len();
            if !cursor.value.walked() {
                left.push(g);
            }
        }
        tracing::info!(table = %self.name(), pass = %record.pass, groups = left.len(), "an open pass resumed from its checkpoints");
        Ok(Ran::Split(SplitPlan {
            table: record.table.clone(),
            pass: record.pass.clone(),
            groups: left,
            units,
            requests: 0,
            resumed: true,
            counts: Default::default(),
        }))
    }

    /// Walk on one group of a pass.
    async fn group(
        &self,
        request: &PassRequest,
        pass: &str,
        group: u32,
        walked: &mut WalkProgress,
    ) -> Result<Ran, SyncError> {
        let deadline = self.options.deadline;
        let record = self.checkpoints.record(pass, deadline).await?;
        record.check(&self.name().to_string(), &self.options_of(request))?;
        if group >= record.groups {
            return Err(CursorError::NoGroup {
                pass: pass.to_owned(),
                group,
                groups: record.groups,
            }
            .into());
        }
        let cursor = self.checkpoints.group(pass, group, deadline).await?;
        self.walk_group(&record, cursor.value, cursor.expect, walked)
            .await
    }

    /// One run of a group's walk, its cursor written back; a pass walked as one chain goes
    /// on into its finish once the walk is over.
    async fn walk_group(
        &self,
        record: &PassRecord,
        cursor: Cursor,
        version: Expect,
        walked: &mut WalkProgress,
    ) -> Result<Ran, SyncError> {
        let deadline = self.options.deadline;
        let mut tally = Tally::new(self.options.dry_run);
        let (cursor, did) = self.walk_run(record, cursor, &mut tally, None).await?;
        *walked = did.progress;
        self.checkpoints
            .put_group(&cursor, &version, deadline)
            .await?;
        if !did.progressed && !cursor.walked() {
            return Err(SyncError::NoProgress {
                table: self.name(),
                why: tally.first_failure().unwrap_or_else(|| {
                    "no listing or registration answered before the deadline".to_owned()
                }),
            });
        }
        if !cursor.walked() {
            let why = if tally.counts().failed > 0 && !self.soft().passed() {
                format!(
                    "{} listings or registrations failed; run again with the cursor to retry them",
                    tally.counts().failed
                )
            } else {
                walker::stopped_walk(&did.progress, tally.counts(), &record.table)
            };
            tally.stopped(&why);
            let next = self.cursor_ref(record, Some(cursor.group), cursor.runs);
            return Ok(Ran::Report(Box::new(tally.finish(Some(next)))));
        }
        if record.split {
            // The state machine runs the finish once every group is walked.
            return Ok(Ran::Report(Box::new(tally.finish(None))));
        }
        self.finish_run(record, &mut tally).await?;
        Ok(Ran::Report(Box::new(tally.finish(None))))
    }

    /// The walk of one run of a group: read, walk, drain. With `split`, the run stops once
    /// the table is cut (its first run for a state machine).
    async fn walk_run(
        &self,
        record: &PassRecord,
        mut cursor: Cursor,
        tally: &mut Tally,
        split: Option<usize>,
    ) -> Result<(Cursor, Walked), SyncError> {
        cursor.runs += 1;
        let fresh = !cursor.started;
        cursor.started = true;
        let hasher = record.options.prune.then(|| DirHasher::new(record.seed));
        let mut walker =
            walker::Walker::new(self, record, &mut cursor, fresh, split.is_some(), hasher);
        self.progress.phase(
            &format!(
                "walking {}",
                self.served.table.location.uri_of(walker.scope())
            ),
            None,
        );
        walker.run(tally).await;
        let did = walker.finish();
        self.announce(&mut cursor.announce, tally).await;
        if let Some(found) = did.found
            && !found.is_empty()
        {
            let name = format!(
                "{:04}-{:04}-{:016x}",
                cursor.group,
                cursor.runs,
                fresh_seed()
            );
            self.checkpoints
                .put_found(
                    &record.pass,
                    &name,
                    registrar_core::found::encode(found),
                    self.options.deadline,
                )
                .await?;
        }
        Ok((
            cursor,
            Walked {
                progress: did.progress,
                split_units: did.split_units,
                progressed: did.progressed,
            },
        ))
    }

    /// Put the completions a walk made on the bus; what EventBridge did not take stays for the
    /// next run.
    async fn announce(&self, events: &mut Vec<PartitionComplete>, tally: &mut Tally) {
        if events.is_empty() || self.options.dry_run {
            return;
        }
        let results = self
            .registrar
            .announcer()
            .announce(events, self.work())
            .await;
        let table = &self.served.table;
        let mut left = Vec::new();
        for (event, result) in events.drain(..).zip(results) {
            match result {
                Ok(()) => tally.completed(PartitionEntry::new(
                    &table.name,
                    &event.values,
                    &event.location,
                )),
                Err(e) => {
                    tally.fail(
                        &table.location.bucket,
                        &event.location,
                        &format!("{e}; its Partition Complete event is put again by the next run"),
                    );
                    left.push(event);
                }
            }
        }
        *events = left;
    }

    /// The time partitions the groups found complete by their lateness and not announced yet:
    /// announced once, remembered in the table's head.
    async fn announce_due(&self, due: Vec<Due>, head: &mut Head, tally: &mut Tally) {
        let now = self.options.now_ms;
        head.announced.retain(|a| a.end_ms >= now - DUE_HORIZON_MS);
        let mut seen: std::collections::BTreeSet<Vec<String>> =
            head.announced.iter().map(|a| a.values.clone()).collect();
        let due: Vec<Due> = due
            .into_iter()
            .filter(|d| seen.insert(d.partition.values.clone()))
            .collect();
        if due.is_empty() || self.options.dry_run {
            return;
        }
        let table = &self.served.table;
        let mut events: Vec<PartitionComplete> = due
            .iter()
            .map(|d| {
                PartitionComplete::new(
                    table,
                    &d.partition.values,
                    &d.partition.location,
                    registrar_core::completion::Registered::Existing,
                    registrar_core::completion::Cause::Lateness { end_ms: d.end_ms },
                    &self.registrar.config().service,
                )
            })
            .collect();
        let before: std::collections::BTreeSet<Vec<String>> =
            events.iter().map(|e| e.values.clone()).collect();
        self.announce(&mut events, tally).await;
        let failed: std::collections::BTreeSet<Vec<String>> =
            events.iter().map(|e| e.values.clone()).collect();
        for d in due {
            if before.contains(&d.partition.values) && !failed.contains(&d.partition.values) {
                head.announced.push(registrar_core::pass::Announced {
                    values: d.partition.values,
                    end_ms: d.end_ms,
                });
            }
        }
    }

    /// The finish as its own request (a state machine's), once every group is walked.
    async fn finish_step(&self, request: &PassRequest, pass: &str) -> Result<Ran, SyncError> {
        let record = self.checkpoints.record(pass, self.options.deadline).await?;
        record.check(&self.name().to_string(), &self.options_of(request))?;
        let mut tally = Tally::new(self.options.dry_run);
        let next = self.finish_run(&record, &mut tally).await?;
        Ok(Ran::Report(Box::new(tally.finish(next))))
    }

    /// Prune and update schemas (once a pass), then say what the pass could not register
    /// and hand it to the next pass. `Some` cursor when the finish stopped before its end.
    async fn finish_run(
        &self,
        record: &PassRecord,
        tally: &mut Tally,
    ) -> Result<Option<CursorRef>, SyncError> {
        let deadline = self.options.deadline;
        let mut failed: Vec<Failed> = Vec::new();
        let mut due: Vec<Due> = Vec::new();
        for g in 0..record.groups {
            let cursor = self
                .checkpoints
                .group(&record.pass, g, deadline)
                .await?
                .value;
            due.extend(cursor.due.iter().cloned());
            if !cursor.walked() {
                return Err(CursorError::NotWalked {
                    pass: record.pass.clone(),
                    group: g,
                    units: cursor.walk.units.len(),
                    retries: cursor.retry.len(),
                }
                .into());
            }
            failed.extend(cursor.failed);
        }
        let mut state = self.checkpoints.finish(&record.pass, deadline).await?;
        state.value.runs += 1;
        if record.options.reads_catalog() && !state.value.done {
            let progressed = finish::Finisher::new(self, record)
                .run(&mut state.value, tally)
                .await?;
            state.expect = self
                .checkpoints
                .put_finish(&record.pass, &state, deadline)
                .await?;
            if !state.value.done {
                if !progressed {
                    return Err(SyncError::NoProgress {
                        table: self.name(),
                        why: tally.first_failure().unwrap_or_else(|| {
                            "no page of the catalog was read before the deadline".to_owned()
                        }),
                    });
                }
                tally.stopped(&format!(
                    "stopped while reading the catalog for the finish of pass {}; run again with the cursor to continue",
                    record.pass
                ));
                return Ok(Some(self.cursor_ref(record, None, state.value.runs)));
            }
        } else {
            state.value.done = true;
            self.checkpoints
                .put_finish(&record.pass, &state, deadline)
                .await?;
        }
        let unregistered = failed.len() as u64;
        if unregistered > 0 {
            let first = failed
                .first()
                .map(|f| format!(" (first: {:?}, {})", f.partition.values, f.error))
                .unwrap_or_default();
            tally.unregistered(
                unregistered,
                format!(
                    "{}: {} partitions found by pass {} could not be registered or pruned after every retry{first}; they are kept in {} and tried first by the next pass",
                    record.table,
                    unregistered,
                    record.pass,
                    self.checkpoints.pass_uri(&record.pass)
                ),
            );
        }
        if !record.dry_run {
            let mut head = self.checkpoints.head(deadline).await?;
            self.announce_due(due, &mut head.value, tally).await;
            head.value.open.retain(|o| o.pass != record.pass);
            head.value.carry = failed
                .into_iter()
                .map(|f| Retry {
                    partition: f.partition,
                    attempts: 0,
                })
                .collect();
            self.checkpoints.put_head(&head, deadline).await?;
        }
        Ok(None)
    }

    fn cursor_ref(&self, record: &PassRecord, group: Option<u32>, runs: u32) -> CursorRef {
        CursorRef {
            table: record.table.clone(),
            pass: record.pass.clone(),
            group,
            runs,
            checkpoint: self.checkpoints.pass_uri(&record.pass),
        }
    }

    /// When the walk stops listing (and the finish stops starting work): the work's deadline
    /// less the drain.
    fn soft(&self) -> Deadline {
        self.work().earlier(self.options.drain)
    }

    /// When the run's Glue and S3 work must have stopped: the deadline less what writing the
    /// checkpoints takes, so that what the run did is always recorded (a run that kept its
    /// Glue calls to the end would find no time left to say where it stopped).
    fn work(&self) -> Deadline {
        self.options.deadline.earlier(self.reserve)
    }
}

/// A random 64-bit number (a pass's seed and id, a chunk's name), from the process's hasher
/// seeds and the clock: unique enough for names, and not chosen by anyone who names keys.
fn fresh_seed() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos()),
    );
    h.finish()
}

/// A table's head, for tests and the operator's tooling.
pub async fn head(
    registrar: &Registrar,
    table: &TableName,
    deadline: Deadline,
) -> Result<Head, SyncError> {
    Ok(Checkpoints::new(registrar.store()?, table)
        .head(deadline)
        .await?
        .value)
}
