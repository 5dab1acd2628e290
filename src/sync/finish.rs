//! The finish of a pass: one read of the catalog, once every group's walk is over, that drops
//! the partitions whose directory the walk found no data in (`--prune`) and brings schemas in
//! line with the table's (`--update-schema`). It resumes like the walk: a page is recorded
//! in the finish's checkpoint until everything it asked for is settled.
//!
//! How the catalog is read: a first page without segments, which is the whole catalog of
//! most tables (one request); a catalog that outgrows it is read in up to ten segments at
//! once. Glue's segments are disjoint, but a service that ignores `Segment` (the emulator
//! many teams try AWS code on first answers every segment with the whole catalog) would
//! have each partition handled ten times: the segments' first pages are compared before any
//! is handled, and a read whose segments overlap goes on as one segment.

use super::{Pass, SyncError};
use crate::aws::CallError;
use crate::catalog::{
    CatalogError, CatalogPartition, PartitionUpdate, PartitionsPage, descriptor_of,
};
use crate::writer::Settled;
use futures_util::StreamExt;
use futures_util::stream::FuturesUnordered;
use registrar_core::found::{DirHasher, FoundSet};
use registrar_core::pass::{Finish, PassRecord, SegmentCursor};
use registrar_core::report::{PartitionEntry, Tally, UpdatedEntry};
use registrar_core::schema::{Descriptor, descriptor_changes};
use registrar_core::table::S3Location;
use registrar_core::walk::Walk;
use std::collections::HashSet;
use std::future::Future;
use std::pin::Pin;

type Boxed<'a, T> = Pin<Box<dyn Future<Output = T> + 'a>>;

/// What handling one page left: settled, or to read again by the next run.
struct PageDone {
    settled: bool,
}

pub(super) struct Finisher<'f, 'r> {
    pass: &'f Pass<'r>,
    record: &'f PassRecord,
    /// Where the pass's partitions lie: the walk's scope, or its window's days.
    scopes: Vec<String>,
    hasher: DirHasher,
    found: FoundSet,
    wanted: Descriptor,
}

impl<'f, 'r> Finisher<'f, 'r> {
    pub(super) fn new(pass: &'f Pass<'r>, record: &'f PassRecord) -> Self {
        let table = &pass.served.table;
        let scopes = match &record.options.window {
            Some(w) => w.prefixes.clone(),
            None => vec![Walk::new(table).scope().to_owned()],
        };
        Self {
            pass,
            record,
            scopes,
            hasher: DirHasher::new(record.seed),
            found: FoundSet::default(),
            wanted: descriptor_of(&pass.served.descriptor),
        }
    }

    /// Read on from where the finish stands; `true` when this run read any page.
    pub(super) async fn run(
        mut self,
        finish: &mut Finish,
        tally: &mut Tally,
    ) -> Result<bool, SyncError> {
        let deadline = self.pass.options.deadline;
        if self.record.options.prune {
            self.pass
                .progress
                .phase("reading what the walk found", None);
            self.found = self
                .pass
                .checkpoints
                .found(&self.record.pass, deadline)
                .await?;
        }
        self.pass.progress.phase("reading the catalog", None);
        let mut progressed = false;
        if finish.segments.is_none() {
            let first = SegmentCursor::first(0, 1);
            let page = self.read(&first).await?;
            progressed = true;
            match page.next {
                None => {
                    finish.segments = Some(1);
                    let done = self.handle(page.partitions, tally).await;
                    if done.settled {
                        finish.done = true;
                    } else {
                        finish.pages = vec![first];
                    }
                    return Ok(progressed);
                }
                Some(_) => {
                    // More than a page: read in segments, checked to be disjoint first.
                    let total = self.pass.options.catalog_segments.clamp(1, 10);
                    let (segments, pages) = self.first_pages(total).await?;
                    finish.segments = Some(segments);
                    finish.pages = Vec::new();
                    for (cursor, page) in pages {
                        let done = self.handle(page.partitions, tally).await;
                        if !done.settled {
                            finish.pages.push(cursor);
                        } else if let Some(next) = page.next {
                            finish.pages.push(next);
                        }
                    }
                }
            }
        }
        progressed |= self.read_on(finish, tally).await?;
        finish.done = finish.pages.is_empty();
        Ok(progressed)
    }

    /// The first page of each of `total` segments: the pages, and the segments to go on in
    /// (one, from the start, when the service answered segments that overlap).
    async fn first_pages(
        &self,
        total: i32,
    ) -> Result<(i32, Vec<(SegmentCursor, PartitionsPage)>), SyncError> {
        let mut reads = FuturesUnordered::new();
        for cursor in SegmentCursor::all(total) {
            reads.push(async move {
                let page = self.read(&cursor).await;
                (cursor, page)
            });
        }
        let mut pages = Vec::new();
        while let Some((cursor, page)) = reads.next().await {
            pages.push((cursor, page?));
        }
        let mut seen: HashSet<&[String]> = HashSet::new();
        let overlap = pages
            .iter()
            .flat_map(|(_, p)| p.partitions.iter())
            .any(|p| !seen.insert(p.values.as_slice()));
        if overlap {
            tracing::warn!(
                table = %self.pass.name(),
                "the catalog answered overlapping segments (the service ignores Segment): read as one segment"
            );
            let first = SegmentCursor::first(0, 1);
            let page = self.read(&first).await?;
            return Ok((1, vec![(first, page)]));
        }
        pages.sort_by_key(|(c, _)| c.segment);
        Ok((total, pages))
    }

    /// Read the pages left, segments at once, each handled before its next is read, until
    /// the read is over or the run's soft deadline; what is left stays in `finish.pages`.
    async fn read_on(&self, finish: &mut Finish, tally: &mut Tally) -> Result<bool, SyncError> {
        let soft = self.pass.soft();
        let mut waiting: Vec<SegmentCursor> = std::mem::take(&mut finish.pages);
        let mut running: FuturesUnordered<
            Boxed<'_, (SegmentCursor, Result<PartitionsPage, CatalogError>)>,
        > = FuturesUnordered::new();
        let mut left = Vec::new();
        let mut progressed = false;
        loop {
            while !soft.passed() && running.len() < self.pass.options.glue_concurrency.max(1) {
                let Some(cursor) = waiting.pop() else { break };
                running.push(Box::pin(async move {
                    let page = self.read(&cursor).await;
                    (cursor, page)
                }));
            }
            let Some((cursor, page)) = running.next().await else {
                break;
            };
            let page = match page {
                Ok(page) => page,
                Err(CatalogError::Call(e)) if e.kind.is_transient() => {
                    tally.fail(
                        &self.pass.served.table.location.bucket,
                        &self.pass.served.table.location.prefix,
                        &format!("{e}; the finish reads this page of the catalog again"),
                    );
                    left.push(cursor);
                    continue;
                }
                Err(e) => return Err(e.into()),
            };
            progressed = true;
            let next = page.next.clone();
            let done = self.handle(page.partitions, tally).await;
            match (done.settled, next) {
                (false, _) => left.push(cursor),
                (true, Some(next)) => waiting.push(next),
                (true, None) => {}
            }
        }
        left.extend(waiting);
        finish.pages = left;
        Ok(progressed)
    }

    async fn read(&self, cursor: &SegmentCursor) -> Result<PartitionsPage, CatalogError> {
        self.pass
            .registrar
            .catalog()
            .get_partitions(
                &self.pass.served.table.name,
                cursor,
                self.record.options.update_schema,
                self.pass.options.catalog_page_size,
                self.pass.work(),
            )
            .await
    }

    /// Whether the pass may prune this partition: its location lies where the pass walked,
    /// and the walk found no data there.
    fn empty(&self, p: &CatalogPartition) -> bool {
        if !self.record.options.prune {
            return false;
        }
        let table = &self.pass.served.table;
        let Some(location) = p.location.as_deref().and_then(S3Location::parse) else {
            return false;
        };
        let dir = location.prefix.as_str();
        location.bucket == table.location.bucket
            && self.scopes.iter().any(|s| dir.starts_with(s.as_str()))
            && !self.found.contains(self.hasher.hash(dir))
    }

    /// Prune and update what a page holds; settled when nothing is left to retry.
    async fn handle(&self, partitions: Vec<CatalogPartition>, tally: &mut Tally) -> PageDone {
        let (empty, kept): (Vec<CatalogPartition>, Vec<CatalogPartition>) =
            partitions.into_iter().partition(|p| self.empty(p));
        let mut settled = self.prune(&empty, tally).await;
        if self.record.options.update_schema {
            settled &= self.update(kept, tally).await;
        }
        PageDone { settled }
    }

    /// Drop what the walk showed empty, each checked again by the writer (its registered
    /// location listed; re-created if data arrived meanwhile).
    async fn prune(&self, empty: &[CatalogPartition], tally: &mut Tally) -> bool {
        let table = &self.pass.served.table;
        let options = self.pass.options;
        let mut settled = true;
        let mut drops = futures_util::stream::iter(empty)
            .map(|p| async move {
                let result = self
                    .pass
                    .registrar
                    .writer()
                    .drop_if_empty(self.pass.served, p, None, options.dry_run, self.pass.work())
                    .await;
                (p, result)
            })
            .buffer_unordered(options.glue_concurrency.max(1));
        while let Some((p, result)) = drops.next().await {
            self.pass.progress.advance(1);
            let entry = |location: &str| PartitionEntry::new(&table.name, &p.values, location);
            match result {
                Ok(Settled::Deleted { location }) => tally.deleted(entry(&location)),
                Ok(Settled::Recreated { location }) => {
                    tally.deleted(entry(&location));
                    tally.created(entry(&location));
                }
                Ok(Settled::Kept(_) | Settled::Created) => {}
                Err(e) if e.kind.is_transient() => {
                    settled = false;
                    tally.fail(
                        &table.location.bucket,
                        p.location.as_deref().unwrap_or_default(),
                        &format!(
                            "{e}; partition {:?} was not pruned, the finish reads its page again",
                            p.values
                        ),
                    );
                }
                Err(e) => tally.fail(
                    &table.location.bucket,
                    p.location.as_deref().unwrap_or_default(),
                    &format!("{e}; partition {:?} was not pruned", p.values),
                ),
            }
        }
        settled
    }

    /// Bring the page's partitions whose descriptor differs from the table's in line with it
    /// (`BatchUpdatePartition`, 100 per request), keeping each one's location.
    async fn update(&self, partitions: Vec<CatalogPartition>, tally: &mut Tally) -> bool {
        let table = &self.pass.served.table;
        let mut stale: Vec<(CatalogPartition, Vec<&'static str>)> = partitions
            .into_iter()
            .filter_map(|p| {
                let have = descriptor_of(p.descriptor.as_ref()?);
                let changes = descriptor_changes(&self.wanted, &have);
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
        if self.pass.options.dry_run {
            for (p, c) in &stale {
                tally.updated(entry(p, c));
            }
            return true;
        }
        let updates: Vec<PartitionUpdate> = stale
            .iter()
            .map(|(p, _)| PartitionUpdate {
                values: p.values.clone(),
                input: self.pass.served.realigned(p),
            })
            .collect();
        let results: Vec<Result<(), CallError>> = self
            .pass
            .registrar
            .catalog()
            .batch_update_partition(&table.name, &updates, self.pass.work())
            .await;
        let mut settled = true;
        for ((p, c), result) in stale.iter().zip(results) {
            match result {
                Ok(()) => tally.updated(entry(p, c)),
                Err(e) => {
                    settled &= !e.kind.is_transient();
                    tally.fail(
                        &table.location.bucket,
                        p.location.as_deref().unwrap_or_default(),
                        &format!("{e}; partition {:?} keeps its old schema", p.values),
                    );
                }
            }
        }
        settled
    }
}
