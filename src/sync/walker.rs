//! The walk of one run: many units listing at once, what they find checked against the
//! catalog and registered while the listings go on, and a drain at the deadline that hands
//! what is in flight to the group's cursor.
//!
//! The catalog is not read ahead: a run asks the catalog only about the partitions its own
//! listings found (`BatchGetPartition`, 1,000 a request), so a chain of resumed runs reads
//! the catalog about once a pass in all, whatever the table's size, and holds nothing of it
//! beyond a page.

use super::{Pass, SyncOptions};
use crate::aws::CallError;
use crate::catalog::{Lookup, Registered};
use futures_util::StreamExt;
use futures_util::stream::FuturesUnordered;
use registrar_core::Deadline;
use registrar_core::completion::{self, PartitionComplete};
use registrar_core::found::DirHasher;
use registrar_core::glue::{MAX_GET_BATCH, MAX_WRITE_BATCH};
use registrar_core::pace::Pace;
use registrar_core::partition::PartitionSpec;
use registrar_core::pass::{Cursor, DUE_HORIZON_MS, Due, Failed, MAX_ATTEMPTS, PassRecord, Retry};
use registrar_core::report::{Counts, PartitionEntry, Tally};
use registrar_core::table::Registration;
use registrar_core::walk::{
    Frontier, ListPage, ListRequest, SPLIT_AFTER, Split, SplitStep, UnitState, Walk,
};
use registrar_core::window::partition_end;
use std::collections::{HashMap, HashSet, VecDeque};
use std::future::Future;
use std::pin::Pin;
use std::time::{Duration, Instant};

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
    /// Listings in flight allowed at the end (the pace's width), and at most.
    pub width: usize,
    pub widest: usize,
    /// Listings S3 answered with `SlowDown` (or another throttle), retried by the SDK or not.
    pub slowed: u64,
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

/// Found partitions waiting to be checked or created, at most this many: the walk pauses
/// while Glue catches up, so memory stays flat however large the table.
const MAX_PENDING: usize = 2 * MAX_GET_BATCH;

type Boxed<'a, T> = Pin<Box<dyn Future<Output = T> + 'a>>;

/// A found partition on its way to the catalog, and how many runs tried it before.
#[derive(Debug, Clone)]
struct Pending {
    partition: PartitionSpec,
    attempts: u32,
}

/// Listings a walk starts with in flight; `--concurrency` is how far the pace may grow.
pub const START_WIDTH: usize = 16;

/// Times a listing S3 throttled (after the SDK's own retries) is sent again within a run, at
/// the pace's slower rate, before the run gives it back to the cursor.
const THROTTLED_AGAIN: u32 = 5;

/// One unit of the walk in this run.
struct Slot {
    state: UnitState,
    /// The request sent and not answered (a unit has at most one), and when it was sent.
    in_flight: Option<ListRequest>,
    sent: Option<Instant>,
    /// Waits for the split to say where it ends before listing on.
    held: bool,
    /// Its listing was throttled this many times in a row in this run.
    throttled: u32,
}

impl Slot {
    /// A unit not yet listed in this run.
    fn new(state: UnitState) -> Self {
        Self {
            state,
            in_flight: None,
            sent: None,
            held: false,
            throttled: 0,
        }
    }
}

/// Whether the walk still lists, or drains what it found before the deadline.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Listing,
    Draining,
}

/// Where the cut of the table stands (a fresh pass only).
enum Cutting<'w> {
    /// The first unit walks its first pages; their keys tell the split how dense the table
    /// is. A table that ends within them is never cut.
    Probing {
        pages: usize,
        keys: Vec<String>,
    },
    /// The split decides; the first unit waits.
    Deciding(Box<Split<'w>>),
    Done,
}

/// What the walk's loop waits for.
enum Event {
    Listed(usize, ListRequest, Result<ListPage, CallError>),
    SplitListed(ListRequest, Result<ListPage, CallError>),
    Checked(u64, Result<Lookup, CallError>),
    Created(u64, Vec<Result<Registered, CallError>>),
    /// The drain begins: stop listing, register what was found.
    Drain,
    /// The pace's gap since the last listing is over.
    Paced,
    /// The deadline: whatever is in flight now is cut.
    Deadline,
}

/// What a run's walk did, handed back once it is over.
pub(super) struct WalkDone {
    pub progress: WalkProgress,
    /// Units the split cut the table into, when this run cut it.
    pub split_units: Option<usize>,
    pub progressed: bool,
    /// The hashes of the directories found (a pruning pass).
    pub found: Option<Vec<u64>>,
}

/// The walk of one run: units listing at once, one request in flight per unit, found
/// partitions checked and registered in batches while the listings go on.
///
/// Its invariants: every found partition is reported once (created, existing, failed or
/// unconfirmed) or carried in the cursor (to retry, or failed for good); every unit not
/// finished is in the cursor with exactly the requests it had not had answered; a listing in
/// flight when the drain begins is given back to its unit; a create in flight when the
/// deadline comes is reported unconfirmed and retried by the next run.
pub(super) struct Walker<'w, 'r> {
    pass: &'w Pass<'r>,
    cursor: &'w mut Cursor,
    walk: Walk<'w>,
    bucket: &'w str,
    units: Vec<Slot>,
    /// Units with a request to send and none in flight, in turn.
    ready: VecDeque<usize>,
    lists: FuturesUnordered<Boxed<'w, Event>>,
    cutting: Cutting<'w>,
    /// Stop listing once the table is cut: the state machine walks the units in groups.
    stop_after_split: bool,
    split_units: Option<usize>,
    split_queue: VecDeque<ListRequest>,
    split_lists: FuturesUnordered<Boxed<'w, Event>>,
    /// Checks (`BatchGetPartition`) and creates in flight.
    glue: FuturesUnordered<Boxed<'w, Event>>,
    /// Batches sent and not answered, by id: retried by the next run if the deadline cuts
    /// them (creates are reported unconfirmed).
    checking: HashMap<u64, Vec<Pending>>,
    creating: HashMap<u64, Vec<Pending>>,
    next_batch: u64,
    /// Found, not yet asked about.
    unchecked: Vec<Pending>,
    /// The catalog lacks them: to create.
    pending: Vec<Pending>,
    /// Hashes of the directories found (pruning), and the hasher.
    hasher: Option<DirHasher>,
    found: Vec<u64>,
    state: State,
    /// When listing stops: the deadline less the drain.
    stop: Deadline,
    /// How many listings may be in flight: grows while S3 keeps up, halves when it slows us.
    pace: Pace,
    /// Throttled S3 answers counted so far (the clients' counter): new ones slow the pace.
    throttles: u64,
    /// When the last listing was sent, and when the next may be (the pace's gap).
    last_listing: Option<Instant>,
    paced_until: Option<Instant>,
    progress: WalkProgress,
    progressed: bool,
    started: Instant,
}

impl<'w, 'r> Walker<'w, 'r> {
    pub(super) fn new(
        pass: &'w Pass<'r>,
        record: &PassRecord,
        cursor: &'w mut Cursor,
        fresh: bool,
        stop_after_split: bool,
        hasher: Option<DirHasher>,
    ) -> Self {
        let table = &pass.served.table;
        let walk = Walk::new(table);
        let mut units = Vec::new();
        let mut cutting = Cutting::Done;
        if fresh {
            match &record.options.window {
                // A windowed pass walks its days, each a unit: nothing to cut.
                Some(window) => {
                    for prefix in &window.prefixes {
                        units.push(Slot::new(UnitState::new(walk.prefix_unit(prefix))));
                    }
                }
                None => {
                    units.push(Slot::new(UnitState::new(walk.start())));
                    cutting = Cutting::Probing {
                        pages: 0,
                        keys: Vec::new(),
                    };
                }
            }
        } else {
            for state in std::mem::take(&mut cursor.walk.units) {
                units.push(Slot::new(state));
            }
        }
        // Retries go straight to their create: `AlreadyExists` tells what a check would.
        let pending = std::mem::take(&mut cursor.retry)
            .into_iter()
            .map(|r| Pending {
                partition: r.partition,
                attempts: r.attempts,
            })
            .collect();
        let ready = (0..units.len()).collect();
        let progress = WalkProgress {
            units: units.len(),
            ..WalkProgress::default()
        };
        Self {
            pass,
            cursor,
            walk,
            bucket: table.location.bucket.as_str(),
            units,
            ready,
            lists: FuturesUnordered::new(),
            cutting,
            stop_after_split,
            split_units: None,
            split_queue: VecDeque::new(),
            split_lists: FuturesUnordered::new(),
            glue: FuturesUnordered::new(),
            checking: HashMap::new(),
            creating: HashMap::new(),
            next_batch: 0,
            unchecked: Vec::new(),
            pending,
            hasher,
            found: Vec::new(),
            state: State::Listing,
            stop: pass.soft(),
            pace: Pace::new(
                START_WIDTH.min(pass.options.concurrency),
                pass.options.concurrency,
            ),
            throttles: pass.registrar.clients().s3_requests.throttles(),
            last_listing: None,
            paced_until: None,
            progress,
            progressed: false,
            started: Instant::now(),
        }
    }

    /// Where the walk lists.
    pub(super) fn scope(&self) -> &'w str {
        self.walk.scope()
    }

    fn options(&self) -> &'w SyncOptions {
        self.pass.options
    }

    /// The loop: send what may be sent, wait for the next event, handle it; until nothing
    /// is in flight or waiting.
    pub(super) async fn run(&mut self, tally: &mut Tally) {
        let hard = self.pass.work();
        let soft = self.stop;
        loop {
            self.launch();
            if self.idle() {
                break;
            }
            let listing = self.state == State::Listing;
            let paced = self.paced_until.filter(|_| listing);
            let event = tokio::select! {
                biased;
                // The deadline first: nothing answered after it counts.
                () = sleep_until(hard) => Event::Deadline,
                // Glue's answers before more listings: they free room for the walk.
                Some(e) = self.glue.next(), if !self.glue.is_empty() => e,
                Some(e) = self.lists.next(), if !self.lists.is_empty() => e,
                Some(e) = self.split_lists.next(), if !self.split_lists.is_empty() => e,
                // The drain, while listing: stop sending listings in time to register.
                () = sleep_until(soft), if listing => Event::Drain,
                // The pace's gap between listings is over: send the next.
                () = tokio::time::sleep_until(paced.unwrap_or_else(Instant::now).into()), if paced.is_some() => Event::Paced,
            };
            match event {
                Event::Listed(unit, request, page) => self.on_listed(unit, request, page, tally),
                Event::SplitListed(request, page) => self.on_split_listed(request, page),
                Event::Checked(batch, lookup) => self.on_checked(batch, lookup, tally),
                Event::Created(batch, results) => self.on_created(batch, results, tally),
                Event::Drain => self.on_drain(),
                Event::Paced => self.paced_until = None,
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
            && self.glue.is_empty()
            && self.pending.is_empty()
            && self.unchecked.is_empty()
            && (self.state == State::Draining
                || (self.ready.is_empty() && self.split_queue.is_empty()))
    }

    /// Whether listings may still find partitions.
    fn finding(&self) -> bool {
        self.state == State::Listing
            && !(self.lists.is_empty()
                && self.split_lists.is_empty()
                && self.ready.is_empty()
                && self.split_queue.is_empty())
    }

    /// Send listings while there is room (and found partitions do not pile up), checks of
    /// full batches of found partitions, and creates of full chunks of missing ones; or of
    /// what is left when nothing more will be found.
    fn launch(&mut self) {
        let options = self.options();
        if self.state == State::Listing {
            while self.lists.len() + self.split_lists.len() < self.pace.width() {
                if let Some(request) = self.split_queue.pop_front() {
                    let storage = self.pass.registrar.storage();
                    let (bucket, size, deadline) =
                        (self.bucket, options.page_size, self.pass.work());
                    self.split_lists.push(Box::pin(async move {
                        let size = request.max_keys.map_or(size, i32::from);
                        let page = storage.list(bucket, &request, size, deadline).await;
                        Event::SplitListed(request, page)
                    }));
                    continue;
                }
                if self.pending.len() + self.unchecked.len() >= MAX_PENDING {
                    break;
                }
                let gap = self.pace.gap();
                if let Some(last) = self.last_listing
                    && gap > Duration::ZERO
                    && last.elapsed() < gap
                {
                    if !self.ready.is_empty() {
                        self.paced_until = Some(last + gap);
                    }
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
                slot.sent = Some(Instant::now());
                self.last_listing = slot.sent;
                let storage = self.pass.registrar.storage();
                let (bucket, size, deadline) = (self.bucket, options.page_size, self.pass.work());
                self.lists.push(Box::pin(async move {
                    let page = storage.list(bucket, &request, size, deadline).await;
                    Event::Listed(unit, request, page)
                }));
            }
        }
        let finding = self.finding();
        let room = |w: &Self| w.glue.len() < options.glue_concurrency.max(1);
        // Creates first: they are what the run is for, and they free the walk's room.
        while room(self)
            && (self.pending.len() >= MAX_WRITE_BATCH || (!finding && !self.pending.is_empty()))
        {
            let chunk: Vec<Pending> = self
                .pending
                .drain(..self.pending.len().min(MAX_WRITE_BATCH))
                .collect();
            let wanted: Vec<PartitionSpec> = chunk.iter().map(|p| p.partition.clone()).collect();
            let id = self.next_batch;
            self.next_batch += 1;
            self.creating.insert(id, chunk);
            let (writer, served, deadline, dry_run) = (
                self.pass.registrar.writer(),
                self.pass.served,
                self.pass.work(),
                options.dry_run,
            );
            self.glue.push(Box::pin(async move {
                let results = writer.ensure(served, &wanted, 1, dry_run, deadline).await;
                Event::Created(id, results)
            }));
        }
        while room(self)
            && (self.unchecked.len() >= MAX_GET_BATCH || (!finding && !self.unchecked.is_empty()))
        {
            let batch: Vec<Pending> = self
                .unchecked
                .drain(..self.unchecked.len().min(MAX_GET_BATCH))
                .collect();
            let values: Vec<Vec<String>> =
                batch.iter().map(|p| p.partition.values.clone()).collect();
            let id = self.next_batch;
            self.next_batch += 1;
            self.checking.insert(id, batch);
            let (catalog, name, deadline) = (
                self.pass.registrar.catalog(),
                &self.pass.served.table.name,
                self.pass.work(),
            );
            self.glue.push(Box::pin(async move {
                let lookup = catalog.batch_get_partition(name, &values, deadline).await;
                Event::Checked(id, lookup)
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
        let sent = self.units[unit].sent.take();
        // One answer, one step of the pace: throttled (the SDK's retries met a SlowDown, or
        // the listing failed on one or on another transient error) or timed.
        let throttles = self.pass.registrar.clients().s3_requests.throttles();
        let throttled = throttles > self.throttles;
        if throttled {
            self.progress.slowed += throttles - self.throttles;
            self.throttles = throttles;
        }
        if throttled || matches!(&page, Err(e) if e.kind.is_transient()) {
            self.pace.slow_down();
        } else if let (Ok(_), Some(sent)) = (&page, sent) {
            self.pace.answered(sent.elapsed());
        }
        self.progress.width = self.pace.width();
        self.progress.widest = self.progress.widest.max(self.progress.width);
        let page = match page {
            Ok(page) => page,
            Err(e) => {
                let slot = &mut self.units[unit];
                if e.kind == crate::aws::ErrorKind::Throttled && slot.throttled < THROTTLED_AGAIN {
                    // S3 asked to slow down: sent again, at the slower pace.
                    slot.throttled += 1;
                    slot.state.requests.insert(0, request);
                    self.ready.push_back(unit);
                    return;
                }
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
        self.progressed = true;
        self.units[unit].throttled = 0;
        self.progress.pages += 1;
        self.progress.objects += (page.keys.len() + page.dirs.len()) as u64;
        let mut step = self.walk.on_page(&request, &page);
        self.units[unit].state.absorb(&mut step);
        for s in step.skipped {
            tally.skip(self.bucket, &s.key, &s.skip);
        }
        for found in step.found {
            self.on_found(found.dir, found.values);
        }
        let probed = unit == 0 && self.probe(&request, &page);
        let slot = &mut self.units[unit];
        if slot.state.is_done() {
            self.progress.units_done += 1;
            if unit == 0 && matches!(self.cutting, Cutting::Probing { .. }) {
                // The whole table in the first unit's first pages: never cut.
                self.cutting = Cutting::Done;
            }
        } else if probed {
            // The first unit waits for the split to say where it ends.
            slot.held = true;
        } else if !slot.held {
            self.ready.push_back(unit);
        }
        self.progress.elapsed = self.started.elapsed();
        self.pass.progress.walk(&self.progress);
    }

    /// The first unit's pages while the table may still be cut: after [`SPLIT_AFTER`] of
    /// them with more to come, the split begins. `true` when it did.
    fn probe(&mut self, request: &ListRequest, page: &ListPage) -> bool {
        let Cutting::Probing { pages, keys } = &mut self.cutting else {
            return false;
        };
        *pages += 1;
        if !request.delimiter {
            keys.extend(page.keys.iter().cloned());
        }
        if *pages < SPLIT_AFTER || !page.truncated || self.state != State::Listing {
            return false;
        }
        let probe = ListPage {
            keys: std::mem::take(keys),
            dirs: Vec::new(),
            truncated: true,
        };
        let pages = *pages;
        let mut split = Split::new(&self.pass.served.table, self.options().max_units);
        self.split_queue.extend(split.start());
        let step = split.on_probe(&probe, pages);
        self.cutting = Cutting::Deciding(Box::new(split));
        self.on_split(step);
        true
    }

    fn on_found(&mut self, dir: String, values: Vec<String>) {
        if let Some(hasher) = &self.hasher {
            self.found.push(hasher.hash(&dir));
        }
        let location = self.pass.served.table.location.uri_of(&dir);
        self.unchecked.push(Pending {
            partition: PartitionSpec::new(values, location),
            attempts: 0,
        });
    }

    fn on_split_listed(&mut self, request: ListRequest, page: Result<ListPage, CallError>) {
        let step = match page {
            Ok(page) => match &mut self.cutting {
                Cutting::Deciding(split) => split.on_page(&request, &page),
                _ => return,
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
        let Cutting::Deciding(split) = std::mem::replace(&mut self.cutting, Cutting::Done) else {
            return;
        };
        self.progress.split_requests = split.requests;
        self.split_units = Some(units.len().max(1));
        self.split_queue.clear();
        let first = &mut self.units[0];
        first.held = false;
        if let Some(u) = units.first() {
            for r in &mut first.state.requests {
                r.through = u.through.clone();
            }
        }
        if !first.state.is_done() && first.in_flight.is_none() {
            self.ready.push_back(0);
        }
        for u in units.into_iter().skip(1) {
            self.units.push(Slot::new(UnitState::new(
                self.walk.unit(u.after, u.through),
            )));
            self.ready.push_back(self.units.len() - 1);
        }
        self.progress.units = self.units.len();
        if self.stop_after_split {
            // The groups walk the units in their own invocations.
            self.on_drain();
        }
    }

    fn on_checked(&mut self, batch: u64, lookup: Result<Lookup, CallError>, tally: &mut Tally) {
        let Some(partitions) = self.checking.remove(&batch) else {
            return;
        };
        self.progressed = true;
        let table = &self.pass.served.table;
        let lookup = match lookup {
            Ok(lookup) => lookup,
            Err(e) => {
                // The check failed: the creates tell (an existing partition answers
                // `AlreadyExists`).
                tracing::warn!(error = %e, "a check of found partitions failed; creating them instead");
                self.pending.extend(partitions);
                return;
            }
        };
        let registered: HashSet<&[String]> =
            lookup.found.iter().map(|p| p.values.as_slice()).collect();
        let mut missing = Vec::new();
        for p in partitions {
            if registered.contains(p.partition.values.as_slice()) {
                tally.existing(PartitionEntry::new(
                    &table.name,
                    &p.partition.values,
                    &p.partition.location,
                ));
                self.progress.partitions += 1;
                self.registered(&p.partition, completion::Registered::Existing);
            } else if self.options().dry_run && lookup.unknown(&p.partition.values).is_none() {
                tally.created(PartitionEntry::new(
                    &table.name,
                    &p.partition.values,
                    &p.partition.location,
                ));
                self.progress.partitions += 1;
            } else {
                missing.push(p);
            }
        }
        if self.options().dry_run {
            // Unprocessed in a dry run: counted as created, the create would tell.
            for p in missing {
                tally.created(PartitionEntry::new(
                    &table.name,
                    &p.partition.values,
                    &p.partition.location,
                ));
            }
            return;
        }
        self.pending.extend(missing);
    }

    fn on_created(
        &mut self,
        batch: u64,
        results: Vec<Result<Registered, CallError>>,
        tally: &mut Tally,
    ) {
        let table = &self.pass.served.table;
        let Some(partitions) = self.creating.remove(&batch) else {
            return;
        };
        for (p, result) in partitions.into_iter().zip(results) {
            let entry =
                PartitionEntry::new(&table.name, &p.partition.values, &p.partition.location);
            match result {
                Ok(Registered::Created) => {
                    self.progressed = true;
                    tally.created(entry);
                    self.progress.partitions += 1;
                    self.registered(&p.partition, completion::Registered::Created);
                }
                Ok(Registered::Existing) => {
                    self.progressed = true;
                    tally.existing(entry);
                    self.progress.partitions += 1;
                    self.registered(&p.partition, completion::Registered::Existing);
                }
                Err(e) => {
                    let attempts = p.attempts + 1;
                    let retried = e.kind.is_transient() && attempts < MAX_ATTEMPTS;
                    let then = if retried {
                        "; the cursor tries it again"
                    } else {
                        "; the pass names it failed and the next pass tries it first"
                    };
                    let error = format!("{e}{then}");
                    tally.fail(self.bucket, dir_of(&p.partition.location), &error);
                    if retried {
                        self.cursor.retry.push(Retry {
                            partition: p.partition,
                            attempts,
                        });
                    } else {
                        self.progressed = true;
                        self.cursor.failed.push(Failed {
                            partition: p.partition,
                            error: e.to_string(),
                        });
                    }
                }
            }
        }
    }

    /// A partition the catalog holds now: a table registered on completion announces the ones
    /// this walk registered on their marker (their marker's event was lost); a table with a
    /// lateness notes the time partitions it completed.
    fn registered(&mut self, partition: &PartitionSpec, registered: completion::Registered) {
        if self.options().dry_run {
            return;
        }
        let table = &self.pass.served.table;
        let announcer = self.pass.registrar.announcer();
        if table.completion.registration == Registration::Marker
            && registered == completion::Registered::Created
            && announcer.enabled()
        {
            let dir = dir_of(&partition.location);
            self.cursor.announce.push(PartitionComplete::new(
                table,
                &partition.values,
                &partition.location,
                registered,
                completion::Cause::Marker {
                    marker: completion::Marker {
                        bucket: table.location.bucket.clone(),
                        key: format!("{dir}{}", table.completion.marker),
                        version: None,
                        event_time: None,
                    },
                    // No version in a listing: what tells this completion apart is that
                    // the repair made it.
                    told_apart: "repair",
                },
                &self.pass.registrar.config().service,
            ));
        }
        if let Some(lateness) = table.completion.complete_after
            && announcer.enabled()
            && let Some(end) = partition_end(table, &partition.values)
        {
            let now = self.options().now_ms;
            if end + (lateness as i64) * 1000 <= now && end >= now - DUE_HORIZON_MS {
                self.cursor.due.push(Due {
                    partition: partition.clone(),
                    end_ms: end,
                });
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
        if let Cutting::Deciding(_) | Cutting::Probing { .. } = self.cutting {
            self.cutting = Cutting::Done;
            self.units[0].held = false;
        }
        for slot in &mut self.units {
            if let Some(request) = slot.in_flight.take() {
                slot.state.requests.insert(0, request);
            }
            slot.sent = None;
        }
    }

    /// The deadline: creates in flight are cut, their outcome unknown; they are reported
    /// unconfirmed and, with what was found and not sent, made sure of by the next run.
    fn on_deadline(&mut self, tally: &mut Tally) {
        self.on_drain();
        self.glue = FuturesUnordered::new();
        let table = &self.pass.served.table;
        let mut cut: Vec<(u64, Vec<Pending>)> = self.creating.drain().collect();
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
        let mut checks: Vec<(u64, Vec<Pending>)> = self.checking.drain().collect();
        checks.sort_by_key(|(id, _)| *id);
        let left = checks
            .into_iter()
            .flat_map(|(_, ps)| ps)
            .chain(self.unchecked.drain(..))
            .chain(self.pending.drain(..));
        for p in left {
            self.cursor.retry.push(Retry {
                partition: p.partition,
                attempts: p.attempts,
            });
        }
    }

    /// Hand the units not finished to the cursor, and what the walk did to the pass.
    pub(super) fn finish(self) -> WalkDone {
        let left: Vec<UnitState> = self
            .units
            .into_iter()
            .map(|s| s.state)
            .filter(|s| !s.is_done())
            .collect();
        self.cursor.walk = Frontier { units: left };
        WalkDone {
            progress: WalkProgress {
                elapsed: self.started.elapsed(),
                ..self.progress
            },
            split_units: self.split_units,
            progressed: self.progressed,
            found: self.hasher.map(|_| self.found),
        }
    }
}

/// A partition location's key prefix, as the report names a failed partition.
fn dir_of(location: &str) -> &str {
    location.splitn(4, '/').nth(3).unwrap_or(location)
}

/// Wait for the deadline; forever when there is none.
pub(super) async fn sleep_until(deadline: Deadline) {
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
