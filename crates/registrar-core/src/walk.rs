//! The walk of a table's prefix for backfill and sync: which `ListObjectsV2` requests to send
//! and what each answer says. Pure; the I/O shell sends the requests and hands back pages.
//!
//! **Units.** The table's key space is cut into units, contiguous key ranges that are walked
//! at the same time: a listing has one request in flight, so a billion objects in one chain
//! of 1,000-key pages would take days. [`Split`] chooses the cuts, at directory boundaries of
//! the layout's leading levels (never inside a partition), from a few `Delimiter=/` listings
//! and the first page of the walk itself, which tells how dense the table is: a unit is given
//! about [`PAGES_PER_UNIT`] pages, because the last page of each unit is a partial one, so a
//! unit too small wastes requests. A small table stays one unit.
//!
//! **Within a unit** the walk reads flat, without a delimiter: one request visits 1,000 keys,
//! so a table of small partitions costs about one request per 1,000 objects, and every
//! partition it registers was seen to hold a data object (not only `_SUCCESS` or a folder
//! marker). When a page ends inside something whose fate is already known, the walk steps
//! over it with `StartAfter` instead of reading on:
//! - a hidden or foreign directory (`_temporary/`, `backup/`): past the directory;
//! - a large partition (at least half the page, so not a small one cut by the page end): its
//!   remaining siblings are listed with `Delimiter=/` (one request per 1,000 of them, as a
//!   delimiter walk would) and the flat walk resumes after their parent.
//!
//! A unit's requests are sent one after another, in key order, so how far a unit got is one
//! request: every request continues by `StartAfter` (never by an opaque continuation token),
//! and the requests a stopped walk had not sent are its [`Cursor`], from which a later run
//! continues exactly where this one stopped.
//!
//! Partitions found through a delimiter listing are registered on S3's word that some key
//! lies under their directory, as any delimiter walk does: that key may be only a marker.
//! [`Found::verified`] says which is which.

use crate::layout::{Rejected, Skip, accept, classify, marks, values};
use crate::table::{Registration, Table};
use serde::{Deserialize, Serialize};

/// Keys per page (S3's maximum, and what the walk asks for).
pub const PAGE: usize = 1000;
/// Pages a unit is given: the last page of a unit is partial, so units of about 20 pages
/// spend about one request in 40 on unit ends.
pub const PAGES_PER_UNIT: usize = 20;
/// Pages the walk reads as one unit before it cuts the table: a table of a few pages (most
/// tables of a lake) is walked as it is, with no listing spent on cutting it, and a large
/// one is cut from what its first pages say of its density.
pub const SPLIT_AFTER: usize = 3;

/// One `ListObjectsV2` request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListRequest {
    pub prefix: String,
    /// `Delimiter=/`: list the directories (common prefixes) and files directly under `prefix`.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub delimiter: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_after: Option<String>,
    /// The last key of the unit this request belongs to: anything after it is another unit's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub through: Option<String>,
    /// Fewer keys than a page: a split's sample wants only the first name after a point.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_keys: Option<u16>,
}

/// What S3 answered to a [`ListRequest`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListPage {
    pub keys: Vec<String>,
    /// Common prefixes (with `Delimiter=/` only), each ending in `/`.
    pub dirs: Vec<String>,
    /// More keys follow (`IsTruncated`).
    pub truncated: bool,
}

/// A partition directory the walk found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    /// The directory's key prefix, ending in `/`.
    pub dir: String,
    pub values: Vec<String>,
    /// A data object was seen in it; otherwise S3 only vouched that some key lies under it.
    pub verified: bool,
}

/// A key, or a directory (ending in `/`) when the verdict covers everything under it, that
/// the walk reports as skipped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skipped {
    pub key: String,
    pub skip: Skip,
}

/// What one page gave: partitions, keys or directories worth reporting as skipped (hidden
/// files and folder markers are not), and the requests that continue its unit, in key order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Step {
    pub found: Vec<Found>,
    pub skipped: Vec<Skipped>,
    pub next: Vec<ListRequest>,
}

/// The walk of one table.
pub struct Walk<'t> {
    table: &'t Table,
}

impl<'t> Walk<'t> {
    pub fn new(table: &'t Table) -> Self {
        Self { table }
    }

    /// Where the walk lists: the layout's fixed directories, or the table's location.
    pub fn scope(&self) -> &'t str {
        scope(self.table)
    }

    /// The first request of the whole key space (one unit).
    pub fn start(&self) -> ListRequest {
        flat(self.scope(), None, None)
    }

    /// The first request of the unit of keys after `after` (exclusive) through `through`
    /// (inclusive); `None` for the start and the end of the key space.
    pub fn unit(&self, after: Option<String>, through: Option<String>) -> ListRequest {
        flat(self.scope(), after, through)
    }

    /// The first request of a unit that is every key under `prefix` (a day of a windowed
    /// repair): listed under the prefix itself, and ending where keys under it end, so that
    /// stepping over a large partition's siblings never wanders out of it.
    pub fn prefix_unit(&self, prefix: &str) -> ListRequest {
        flat(prefix, None, Some(format!("{prefix}\u{10FFFF}")))
    }

    /// Read one page, answering `request`.
    pub fn on_page(&self, request: &ListRequest, page: &ListPage) -> Step {
        let mut step = Step::default();
        let within = |entry: &String| within(request, entry);
        if request.delimiter {
            let dirs: Vec<&String> = page.dirs.iter().take_while(|d| within(d)).collect();
            let keys: Vec<&String> = page.keys.iter().take_while(|k| within(k)).collect();
            for dir in &dirs {
                self.directory(dir, &mut step);
            }
            for key in &keys {
                self.key(key, &mut step);
            }
            let ended = dirs.len() < page.dirs.len() || keys.len() < page.keys.len();
            if page.truncated && !ended {
                let last_dir = dirs.last().map(|d| after(d));
                let last_key = keys.last().map(|k| (*k).clone());
                if let Some(from) = last_dir.into_iter().chain(last_key).max() {
                    step.next.extend(continued(request, from));
                }
            }
            return step;
        }
        let keys: &[String] = match page.keys.iter().position(|k| !within(k)) {
            Some(end) => &page.keys[..end],
            None => &page.keys,
        };
        let ended = keys.len() < page.keys.len();
        // Keys come in order, so a directory's keys are neighbours: each partition is found,
        // and each rejected directory reported, once per page.
        let mut last_partition: Option<&str> = None;
        let mut last_rejected: Option<&str> = None;
        let by_marker = self.table.completion.registration == Registration::Marker;
        for key in keys {
            match classify(self.table, key) {
                Ok(end) => {
                    // A partition is found by its data objects, or, for a table registered on
                    // completion, by its marker alone (a job that never finished writes none).
                    if marks(self.table, key) != by_marker {
                        continue;
                    }
                    let dir = &key[..end];
                    if last_partition != Some(dir) {
                        last_partition = Some(dir);
                        self.partition(dir, true, &mut step);
                    }
                }
                Err(rejected) => {
                    let reported = match rejected.dir_end {
                        Some(end) => {
                            let dir = &key[..end];
                            if last_rejected == Some(dir) {
                                continue;
                            }
                            last_rejected = Some(dir);
                            dir
                        }
                        None => key.as_str(),
                    };
                    if !rejected.skip.is_furniture() {
                        step.skipped.push(Skipped {
                            key: reported.to_owned(),
                            skip: rejected.skip,
                        });
                    }
                }
            }
        }
        if page.truncated
            && !ended
            && let Some(last) = keys.last()
        {
            step.next = self.after_page(request, keys, last);
        }
        step
    }

    /// How to go on after a page whose in-unit keys ended at `last`, with more to come.
    fn after_page(&self, request: &ListRequest, keys: &[String], last: &str) -> Vec<ListRequest> {
        let scope = request.prefix.as_str();
        let through = request.through.clone();
        match classify(self.table, last) {
            Ok(end) => {
                let dir = &last[..end];
                let in_dir = keys.iter().filter(|k| k.starts_with(dir)).count();
                let read = values(self.table, dir);
                if accept(self.table, &read, &self.table.location.uri_of(dir)).is_err() {
                    // Every key under a refused partition is skipped alike.
                    return flat_after(scope, after(dir), through);
                }
                if in_dir * 2 < keys.len()
                    || self.table.completion.registration == Registration::Marker
                {
                    // A small partition cut by the end of the page: read on. (A table
                    // registered on completion is read whole: each directory's marker must
                    // be seen, and a delimiter listing of siblings shows none.)
                    return continued(request, last.to_owned());
                }
                let parent = parent(dir);
                let mut next = vec![ListRequest {
                    prefix: parent.to_owned(),
                    delimiter: true,
                    start_after: Some(after(dir)),
                    through: through.clone(),
                    max_keys: None,
                }];
                if parent.len() > scope.len() {
                    next.extend(flat_after(scope, after(parent), through));
                }
                next
            }
            Err(Rejected {
                dir_end: Some(end), ..
            }) => flat_after(scope, after(&last[..end]), through),
            Err(_) => continued(request, last.to_owned()),
        }
    }

    /// A common prefix of a delimiter listing: a partition directory, or one to report.
    fn directory(&self, dir: &str, step: &mut Step) {
        // Classify the directory as the key of a file in it would be.
        let probe = format!("{dir}x");
        match classify(self.table, &probe) {
            Ok(end) if end == dir.len() => self.partition(dir, false, step),
            // A directory above the partition level: its own walk would be needed. The walk
            // lists siblings only at the partition level, so this is a file-less level.
            Ok(_) => {}
            Err(Rejected { skip, .. }) if !skip.is_furniture() => {
                if !matches!(skip, Skip::Incomplete { .. }) {
                    step.skipped.push(Skipped {
                        key: dir.to_owned(),
                        skip,
                    });
                }
            }
            Err(_) => {}
        }
    }

    fn key(&self, key: &str, step: &mut Step) {
        if let Err(Rejected { skip, .. }) = classify(self.table, key)
            && !skip.is_furniture()
        {
            step.skipped.push(Skipped {
                key: key.to_owned(),
                skip,
            });
        }
    }

    fn partition(&self, dir: &str, verified: bool, step: &mut Step) {
        let read = values(self.table, dir);
        match accept(self.table, &read, &self.table.location.uri_of(dir)) {
            Ok(()) => step.found.push(Found {
                dir: dir.to_owned(),
                values: read.iter().map(|v| v.to_string()).collect(),
                verified,
            }),
            Err(skip) => step.skipped.push(Skipped {
                key: dir.to_owned(),
                skip,
            }),
        }
    }
}

/// Where a table's walk lists.
fn scope(table: &Table) -> &str {
    let layout = &table.layout;
    if layout.base.starts_with(&table.location.prefix) {
        &layout.base
    } else {
        &table.location.prefix
    }
}

/// Whether a listed key or directory lies in the request's unit.
fn within(request: &ListRequest, entry: &str) -> bool {
    request.through.as_deref().is_none_or(|t| entry <= t)
}

fn flat(prefix: &str, start_after: Option<String>, through: Option<String>) -> ListRequest {
    ListRequest {
        prefix: prefix.to_owned(),
        delimiter: false,
        start_after,
        through,
        max_keys: None,
    }
}

/// The flat listing after `start_after`, unless that is already past the unit's end.
fn flat_after(prefix: &str, start_after: String, through: Option<String>) -> Vec<ListRequest> {
    if through
        .as_deref()
        .is_some_and(|t| start_after.as_str() >= t)
    {
        return Vec::new();
    }
    vec![flat(prefix, Some(start_after), through)]
}

/// The same listing, on after `from`, unless that is already past the unit's end.
fn continued(request: &ListRequest, from: String) -> Vec<ListRequest> {
    if request
        .through
        .as_deref()
        .is_some_and(|t| from.as_str() >= t)
    {
        return Vec::new();
    }
    vec![ListRequest {
        start_after: Some(from),
        ..request.clone()
    }]
}

/// The directory holding `dir` (both end in `/`).
fn parent(dir: &str) -> &str {
    let trimmed = &dir[..dir.len() - 1];
    trimmed.rfind('/').map_or("", |i| &dir[..=i])
}

/// A `StartAfter` that steps over every key under `dir`: `dir` with its final `/` (0x2F)
/// replaced by `0` (0x30), the next byte. The only key it also steps over is that exact
/// name, a file beside the directory, which can never be in a partition.
pub fn after(dir: &str) -> String {
    let mut s = String::with_capacity(dir.len());
    s.push_str(&dir[..dir.len() - 1]);
    s.push('0');
    s
}

/// The last key before every key under `dir`, as a unit's end: `dir` with its final `/`
/// replaced by `.` (0x2E, the byte before). Keys under `dir` all sort after it; keys beside
/// the directory that share its name and continue with a lower byte (`d=1.csv`) sort before.
pub fn before(dir: &str) -> String {
    let mut s = String::with_capacity(dir.len());
    s.push_str(&dir[..dir.len() - 1]);
    s.push('.');
    s
}

/// A unit of the key space: the keys after `after` (exclusive) through `through`
/// (inclusive), `None` meaning the start or the end.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Unit {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub through: Option<String>,
}

/// One unit's place in a walk: its requests not yet answered, in key order (the first one is
/// where the unit stands), and the last partition it found, which the next page may find
/// again when a partition's keys straddle the page end.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct UnitState {
    pub requests: Vec<ListRequest>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_found: Option<String>,
}

impl UnitState {
    pub fn new(first: ListRequest) -> Self {
        Self {
            requests: vec![first],
            last_found: None,
        }
    }

    pub fn is_done(&self) -> bool {
        self.requests.is_empty()
    }

    /// Take in a page's step: drop a partition this unit found already (the previous page
    /// ended inside it), remember the last one, and queue the follow-up requests first.
    pub fn absorb(&mut self, step: &mut Step) {
        if let Some(last) = &self.last_found {
            step.found.retain(|f| &f.dir != last);
        }
        if let Some(f) = step.found.last() {
            self.last_found = Some(f.dir.clone());
        }
        let rest = std::mem::take(&mut self.requests);
        self.requests = step.next.drain(..).chain(rest).collect();
    }
}

/// Where a stopped walk goes on: every unit not finished.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Frontier {
    pub units: Vec<UnitState>,
}

impl Frontier {
    pub fn is_empty(&self) -> bool {
        self.units.iter().all(UnitState::is_done)
    }

    /// Cut the frontier into at most `groups` frontiers of neighbouring units, for separate
    /// invocations to walk at once.
    pub fn groups(self, groups: usize) -> Vec<Frontier> {
        let units: Vec<UnitState> = self.units.into_iter().filter(|u| !u.is_done()).collect();
        let per = units.len().div_ceil(groups.max(1)).max(1);
        units
            .chunks(per)
            .map(|c| Frontier { units: c.to_vec() })
            .collect()
    }
}

/// Listings the split may send in all, whatever the table: cutting a level of ten million
/// directories costs what cutting a level of ten does, give or take a hundred requests, sent
/// many at once (a few round trips).
pub const MAX_SPLIT_REQUESTS: usize = 160;
/// Pages of one directory listing the split reads before it calls the level wide and
/// samples it instead of reading on (a level of ten million directories is 10,000 pages).
const LEVEL_PAGES: usize = 2;
/// Directories whose children a widening lists, at most: a level with more is cut itself.
const MAX_WIDEN: usize = 16;
/// Directories ahead whose size is measured before cutting, so that units hold about as
/// many keys when old data is sparse and new data dense.
const DENSITY_SAMPLES: usize = 8;
/// Points a wide level is sampled at, at most: as many as the most units a table is cut into.
const MAX_SAMPLES: usize = 127;
/// Characters of a directory name the sampling reads as a number (an `f64` holds about 15
/// decimal digits: 12 characters of a 16-letter alphabet, fewer of a larger one, is enough
/// to tell ten million names apart).
const SAMPLE_DIGITS: usize = 12;

/// How the key space is cut into units, decided from listings the shell sends: first the
/// scope's directories (`Delimiter=/`) beside the walk's own first pages (the probe), which
/// say how many keys the first directories hold; then, only if the table is large, the
/// directories of deeper levels until there are enough of them to cut at; then how many keys
/// a few of them hold, so that the cuts follow the data's density. A level too wide to list
/// (a first key of millions of values) is sampled at evenly spaced names instead. Every
/// step is bounded: the split sends at most [`MAX_SPLIT_REQUESTS`] listings.
pub struct Split<'t> {
    table: &'t Table,
    max_units: usize,
    /// Directory levels the cuts may go down to: the partition level at the deepest, so that
    /// no partition is ever cut.
    max_depth: usize,
    /// The probe's last key, once it answered; `None` inside when it held everything.
    probe: Option<Option<String>>,
    /// The probe's keys: how many keys the first directories hold.
    probe_keys: Vec<String>,
    /// Keys a page of the walk holds (S3 answers 1,000), as the probe's pages showed.
    page: usize,
    /// Directories found, by depth (1 = directly under the scope), sorted when used.
    levels: Vec<Vec<String>>,
    /// Depths listed only in part: more directories follow than the split read.
    wide: Vec<usize>,
    /// Pages read of each directory listing, by its prefix.
    pages: Vec<(String, usize)>,
    /// Listings sent and not yet answered.
    waiting: usize,
    /// The chain of directories holding the probe's last key, as far as it was listed.
    chain: Vec<String>,
    phase: SplitPhase,
    /// While weighing: the directories measured, and what their listings said.
    weights: Vec<Weight>,
    /// The weighing asked for more units than its level has directories, and the split
    /// looked a level deeper: it does so once.
    deepened: bool,
    /// While sampling a wide level: each sample's request and the directory it met.
    samples: Vec<(ListRequest, Option<String>)>,
    /// While sampling a wide level: the cuts in the part of it that was listed, which the
    /// samples (all past that part) do not reach.
    listed_points: Vec<String>,
    /// Listings the split sent: its own cost.
    pub requests: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SplitPhase {
    /// Listing the directories that hold the probe's end, one level after another.
    Estimating,
    /// Listing a level's children to have enough directories to cut at.
    Widening {
        depth: usize,
        wanted: usize,
    },
    /// Measuring a few directories ahead to cut where the keys are.
    Weighing {
        depth: usize,
        wanted: usize,
    },
    /// Sampling a level too wide to list.
    Sampling,
    Done,
}

/// One measured directory: its first flat page (keys in it, whether more followed, how many
/// of its children the page reached) and, for a directory above the partition level, how
/// many children it has.
#[derive(Debug, Clone)]
struct Weight {
    index: usize,
    dir: String,
    flat: Option<(usize, bool, usize)>,
    children: Option<usize>,
}

impl Weight {
    /// Keys the directory holds, as far as its listings tell.
    fn keys(&self) -> f64 {
        let Some((keys, truncated, reached)) = self.flat else {
            return 1.0;
        };
        if !truncated {
            return keys.max(1) as f64;
        }
        match self.children {
            // The page ran through `reached - 1` whole children: keys per child, times them all.
            Some(children) if reached >= 2 => {
                keys as f64 / (reached - 1) as f64 * children.max(reached) as f64
            }
            Some(children) => keys as f64 * children.max(1) as f64,
            None => keys as f64,
        }
    }
}

/// What the split wants next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SplitStep {
    /// Send these listings, and hand their pages back.
    List(Vec<ListRequest>),
    /// Wait for listings (or the probe) still out.
    Wait,
    /// The units, in key order: the first continues the probe's own unit from its last key.
    Units(Vec<Unit>),
}

impl<'t> Split<'t> {
    pub fn new(table: &'t Table, max_units: usize) -> Self {
        Self {
            table,
            max_units: max_units.max(1),
            max_depth: table.layout.segments.len(),
            probe: None,
            probe_keys: Vec::new(),
            page: PAGE,
            levels: Vec::new(),
            wide: Vec::new(),
            pages: Vec::new(),
            waiting: 0,
            chain: Vec::new(),
            phase: SplitPhase::Estimating,
            weights: Vec::new(),
            deepened: false,
            samples: Vec::new(),
            listed_points: Vec::new(),
            requests: 0,
        }
    }

    /// The first listing: the scope's directories. Send it once the walk's first pages (the
    /// probe) showed the table is more than a few pages, and before handing them to
    /// [`Split::on_probe`].
    pub fn start(&mut self) -> Vec<ListRequest> {
        let scope = scope(self.table).to_owned();
        self.listings(vec![scope])
    }

    /// The walk's first `pages` pages (of the whole key space), as one page: their keys, and
    /// whether more followed.
    pub fn on_probe(&mut self, page: &ListPage, pages: usize) -> SplitStep {
        let last = page.truncated.then(|| page.keys.last().cloned()).flatten();
        self.probe = Some(last);
        self.probe_keys = page.keys.clone();
        self.page = (page.keys.len() / pages.max(1)).max(1);
        self.decide()
    }

    /// A listing the split asked for answered.
    pub fn on_page(&mut self, request: &ListRequest, page: &ListPage) -> SplitStep {
        match self.phase {
            SplitPhase::Weighing { .. } => {
                self.waiting = self.waiting.saturating_sub(1);
                if let Some(w) = self.weights.iter_mut().find(|w| w.dir == request.prefix) {
                    if request.delimiter {
                        w.children = Some(page.dirs.len() + page.keys.len());
                    } else {
                        let reached = page
                            .keys
                            .iter()
                            .filter_map(|k| {
                                k[w.dir.len()..].find('/').map(|i| &k[..w.dir.len() + i])
                            })
                            .fold((0, None), |(n, last): (usize, Option<&str>), c| {
                                if last == Some(c) {
                                    (n, last)
                                } else {
                                    (n + 1, Some(c))
                                }
                            })
                            .0;
                        w.flat = Some((page.keys.len(), page.truncated, reached));
                    }
                }
                return self.decide();
            }
            SplitPhase::Sampling => {
                self.waiting = self.waiting.saturating_sub(1);
                let met = page.dirs.first().or(page.keys.first()).map(|entry| {
                    match entry[request.prefix.len()..].find('/') {
                        Some(i) => entry[..request.prefix.len() + i + 1].to_owned(),
                        None => entry.clone(),
                    }
                });
                if let Some(s) = self.samples.iter_mut().find(|(r, _)| r == request) {
                    s.1 = met;
                }
                return self.decide();
            }
            _ => {}
        }
        let depth = self.depth_of(&request.prefix) + 1;
        if self.levels.len() < depth {
            self.levels.resize(depth, Vec::new());
        }
        self.levels[depth - 1].extend(page.dirs.iter().cloned());
        let read = match self.pages.iter_mut().find(|(p, _)| *p == request.prefix) {
            Some((_, n)) => {
                *n += 1;
                *n
            }
            None => {
                self.pages.push((request.prefix.clone(), 1));
                1
            }
        };
        if page.truncated {
            let last_dir = page.dirs.last().map(|d| after(d));
            let last_key = page.keys.last().cloned();
            let from = last_dir.into_iter().chain(last_key).max();
            match from {
                Some(from) if read < LEVEL_PAGES && self.requests < MAX_SPLIT_REQUESTS => {
                    self.requests += 1;
                    return SplitStep::List(vec![ListRequest {
                        start_after: Some(from),
                        ..request.clone()
                    }]);
                }
                _ => {
                    if !self.wide.contains(&depth) {
                        self.wide.push(depth);
                    }
                }
            }
        }
        self.waiting = self.waiting.saturating_sub(1);
        self.decide()
    }

    fn depth_of(&self, prefix: &str) -> usize {
        let base = scope(self.table);
        prefix[base.len()..].matches('/').count()
    }

    fn listings(&mut self, dirs: Vec<String>) -> Vec<ListRequest> {
        self.waiting += dirs.len();
        self.requests += dirs.len();
        dirs.into_iter()
            .map(|d| ListRequest {
                prefix: d,
                delimiter: true,
                start_after: None,
                through: None,
                max_keys: None,
            })
            .collect()
    }

    /// Room left in the split's budget of listings.
    fn budget(&self) -> usize {
        MAX_SPLIT_REQUESTS.saturating_sub(self.requests)
    }

    fn decide(&mut self) -> SplitStep {
        if self.waiting > 0 || self.phase == SplitPhase::Done {
            return SplitStep::Wait;
        }
        let Some(probe) = self.probe.clone() else {
            return SplitStep::Wait;
        };
        let Some(probe) = probe else {
            // The probe held every key: nothing left to cut.
            return self.finish(Vec::new());
        };
        for level in &mut self.levels {
            level.sort();
            level.dedup();
        }
        match self.phase {
            SplitPhase::Estimating => self.estimate(&probe),
            SplitPhase::Widening { depth, wanted } => self.widen(&probe, depth, wanted),
            SplitPhase::Weighing { depth, wanted } => self.cut_by_weight(&probe, depth, wanted),
            SplitPhase::Sampling => self.cut_by_samples(&probe),
            SplitPhase::Done => SplitStep::Wait,
        }
    }

    /// Follow the probe's last key down the levels until a level shows how many of its
    /// directories the probe passed; from that, how many keys the table holds.
    fn estimate(&mut self, probe: &str) -> SplitStep {
        let depth = self.chain.len() + 1;
        let Some(level) = self.levels.get(depth - 1) else {
            return self.finish(Vec::new());
        };
        let here: Vec<&String> = level
            .iter()
            .filter(|d| self.chain.last().is_none_or(|c| d.starts_with(c.as_str())))
            .collect();
        let passed = here.iter().filter(|d| after(d).as_str() <= probe).count();
        let holder = here.iter().find(|d| probe.starts_with(d.as_str())).cloned();
        if passed == 0
            && let Some(holder) = holder
            && depth < self.max_depth
            && self.expandable(holder)
            && self.budget() > 0
        {
            // One directory holds more than the probe: look inside it.
            self.chain.push(holder.clone());
            let request = self.listings(vec![holder.clone()]);
            return SplitStep::List(request);
        }
        // Keys per directory at this depth: the probe's keys in the directories it passed;
        // if it passed none, one directory holds more than the probe.
        let probe_len = self.probe_keys.len().max(1) as f64;
        let in_passed = self
            .probe_keys
            .iter()
            .filter(|k| {
                here.iter()
                    .any(|d| k.starts_with(d.as_str()) && after(d).as_str() <= probe)
            })
            .count();
        let per_dir = if passed == 0 {
            probe_len
        } else {
            in_passed.max(1) as f64 / passed as f64
        };
        if depth == 1 && self.wide.contains(&1) {
            return self.sample(probe, per_dir);
        }
        // Keys per directory at this depth, times the directories at every level above: a
        // first guess, from the oldest data; the weighing corrects it with newer data.
        let mut estimate = per_dir * here.len().max(1) as f64;
        for d in (1..depth).rev() {
            let parent = d.checked_sub(2).and_then(|i| self.chain.get(i));
            let siblings = self.levels[d - 1]
                .iter()
                .filter(|x| parent.is_none_or(|p| x.starts_with(p.as_str())))
                .count();
            estimate *= siblings.max(1) as f64;
        }
        let wanted = self.wanted(estimate);
        self.widen(probe, 1, wanted)
    }

    /// Units for `keys` keys: about [`PAGES_PER_UNIT`] pages each.
    fn wanted(&self, keys: f64) -> usize {
        ((keys / (self.page * PAGES_PER_UNIT) as f64).ceil() as usize).clamp(1, self.max_units)
    }

    /// Have `wanted` directories ahead of the probe to cut at, listing a level deeper while
    /// there are too few, the partition level is not reached, and a handful of directories
    /// holds them; then measure and cut.
    fn widen(&mut self, probe: &str, depth: usize, wanted: usize) -> SplitStep {
        let ahead = self.ahead(probe, depth);
        if ahead.len() + 1 >= wanted || depth >= self.max_depth {
            return self.weigh(probe, depth, wanted);
        }
        // List every expandable directory ahead at this depth not listed yet, and the ones
        // holding the probe (only their part ahead counts).
        let listed_parents: Vec<String> = self
            .levels
            .get(depth)
            .map(|next| next.iter().map(|d| parent(d).to_owned()).collect())
            .unwrap_or_default();
        let to_list: Vec<String> = self.levels[depth - 1]
            .iter()
            .filter(|d| after(d).as_str() > probe)
            .filter(|d| !listed_parents.iter().any(|p| p == *d))
            .filter(|d| self.expandable(d))
            .cloned()
            .collect();
        if to_list.len() > MAX_WIDEN.min(self.budget()) {
            // Too many to look into: cut at this level, as finely as it allows.
            return self.weigh(probe, depth, wanted);
        }
        self.phase = SplitPhase::Widening {
            depth: depth + 1,
            wanted,
        };
        if to_list.is_empty() {
            return self.decide();
        }
        SplitStep::List(self.listings(to_list))
    }

    /// Directories at `depth` whose cut point lies ahead of the probe.
    fn ahead(&self, probe: &str, depth: usize) -> Vec<String> {
        self.levels
            .get(depth - 1)
            .map(|l| {
                l.iter()
                    .filter(|d| before(d).as_str() >= probe)
                    .cloned()
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Measure a few directories ahead (a flat page of each, and its children), or cut at
    /// once when every directory is its own unit anyway. A table the probe says is small is
    /// measured at its first and last directory only: the newest data is often the densest.
    fn weigh(&mut self, probe: &str, depth: usize, wanted: usize) -> SplitStep {
        let ahead = self.ahead(probe, depth);
        if ahead.is_empty() {
            return self.finish(Vec::new());
        }
        if ahead.len() < wanted {
            let points = ahead.iter().map(|d| before(d)).collect();
            return self.finish(points);
        }
        let expandable = depth < self.max_depth;
        let per = if expandable { 2 } else { 1 };
        let samples = if wanted <= 1 { 2 } else { DENSITY_SAMPLES };
        let n = samples.min(self.budget() / per).min(ahead.len());
        if n < 2 && wanted <= 1 {
            return self.finish(Vec::new());
        }
        if n < 2 {
            return self.cut(&ahead, &vec![1.0; ahead.len()], wanted);
        }
        self.weights = (0..n)
            .map(|i| {
                let index = i * (ahead.len() - 1) / (n - 1);
                Weight {
                    index,
                    dir: ahead[index].clone(),
                    flat: None,
                    children: None,
                }
            })
            .collect();
        self.weights.dedup_by_key(|w| w.index);
        let mut requests = Vec::new();
        for w in &self.weights {
            requests.push(ListRequest {
                prefix: w.dir.clone(),
                delimiter: false,
                start_after: None,
                through: None,
                max_keys: None,
            });
            if expandable {
                requests.push(ListRequest {
                    prefix: w.dir.clone(),
                    delimiter: true,
                    start_after: None,
                    through: None,
                    max_keys: None,
                });
            }
        }
        self.waiting += requests.len();
        self.requests += requests.len();
        self.phase = SplitPhase::Weighing { depth, wanted };
        SplitStep::List(requests)
    }

    /// Cut the directories ahead where the measured keys say, each directory between two
    /// measured ones weighed by the straight line between them; as many units as the
    /// measured keys ask for, looking a level deeper (once) when this level has too few
    /// directories for them.
    fn cut_by_weight(&mut self, probe: &str, depth: usize, wanted: usize) -> SplitStep {
        let ahead = self.ahead(probe, depth);
        let measured: Vec<(usize, f64)> =
            self.weights.iter().map(|w| (w.index, w.keys())).collect();
        let weights: Vec<f64> = (0..ahead.len())
            .map(|i| {
                let next = measured.iter().position(|(at, _)| *at >= i);
                match next {
                    Some(0) | None => measured
                        .get(next.unwrap_or(measured.len().saturating_sub(1)))
                        .map_or(1.0, |m| m.1),
                    Some(j) => {
                        let (a, wa) = measured[j - 1];
                        let (b, wb) = measured[j];
                        if b == a {
                            wb
                        } else {
                            wa + (wb - wa) * (i - a) as f64 / (b - a) as f64
                        }
                    }
                }
            })
            .collect();
        let total = weights.iter().sum::<f64>() + self.probe_keys.len() as f64;
        let wanted = self.wanted(total).max(wanted.min(ahead.len() + 1));
        if wanted <= 1 {
            return self.finish(Vec::new());
        }
        if ahead.len() + 1 < wanted && depth < self.max_depth && !self.deepened {
            self.deepened = true;
            self.weights.clear();
            return self.widen(probe, depth, wanted);
        }
        self.cut(&ahead, &weights, wanted)
    }

    /// Cut `dirs` into `wanted` runs of about equal weight.
    fn cut(&mut self, dirs: &[String], weights: &[f64], wanted: usize) -> SplitStep {
        let total: f64 = weights.iter().sum();
        let step = total / wanted.max(1) as f64;
        let mut points = Vec::new();
        let mut done = 0.0;
        let mut next = step;
        for (i, (dir, w)) in dirs.iter().zip(weights).enumerate() {
            if i > 0 && done >= next - 1e-9 && points.len() + 1 < wanted {
                points.push(before(dir));
                while next <= done {
                    next += step;
                }
            }
            done += w;
        }
        points.dedup();
        self.finish(points)
    }

    /// A level too wide to list: cut the part of it that was listed at its own directories,
    /// then read its names as numbers in their own alphabet and list one directory after
    /// each of evenly spaced points past what was listed. The listed part is cut on its own:
    /// names that are not spread over their alphabet (dates: `dt=2019-…` to `dt=2026-…`, none
    /// past `dt=3`) leave the samples little to meet, and the listed part may be most of the
    /// table.
    fn sample(&mut self, probe: &str, per_dir: f64) -> SplitStep {
        let ahead = self.ahead(probe, 1);
        let listed_units = self
            .wanted(per_dir * ahead.len() as f64)
            .min(ahead.len() + 1);
        self.listed_points = (1..listed_units)
            .map(|i| before(&ahead[i * ahead.len() / listed_units]))
            .collect();
        self.listed_points.dedup();
        let level = &self.levels[0];
        let Some(model) = NameSpace::of(scope(self.table), level) else {
            let points = std::mem::take(&mut self.listed_points);
            return self.finish(points);
        };
        let first = model.value(&level[0]);
        let last = model.value(level.last().expect("a level with names"));
        let from = last.max(model.value(probe));
        // Directories per unit of the name space, from the part listed.
        let density = if last > first {
            level.len() as f64 / (last - first)
        } else {
            level.len() as f64
        };
        let dirs = level.len() as f64 + density * (1.0 - from);
        let wanted = self.wanted(per_dir * dirs);
        let n = (wanted.saturating_sub(1))
            .min(MAX_SAMPLES)
            .min(self.budget());
        if n == 0 {
            let points = std::mem::take(&mut self.listed_points);
            return self.finish(points);
        }
        let scope = scope(self.table).to_owned();
        self.samples = (1..=n)
            .map(|k| {
                let at = from + (1.0 - from) * k as f64 / (n + 1) as f64;
                let request = ListRequest {
                    prefix: scope.clone(),
                    delimiter: true,
                    start_after: Some(model.name(at)),
                    through: None,
                    max_keys: Some(1),
                };
                (request, None)
            })
            .collect();
        self.samples.dedup_by(|a, b| a.0 == b.0);
        let requests: Vec<ListRequest> = self.samples.iter().map(|s| s.0.clone()).collect();
        self.waiting += requests.len();
        self.requests += requests.len();
        self.phase = SplitPhase::Sampling;
        SplitStep::List(requests)
    }

    /// Cut the rest at the directories the samples met (evenly spaced in the name space, so
    /// about as many directories lie between each two), and the listed part where
    /// [`Split::sample`] chose, with as many of those cuts as the units a table may have
    /// leave room for: a level whose samples met as many directories as it may have units
    /// (ids spread over their alphabet) keeps its cuts there.
    fn cut_by_samples(&mut self, probe: &str) -> SplitStep {
        let mut met: Vec<String> = self
            .samples
            .iter()
            .filter_map(|(_, dir)| dir.clone())
            .filter(|d| d.ends_with('/') && before(d).as_str() >= probe)
            .collect();
        met.sort();
        met.dedup();
        let listed = std::mem::take(&mut self.listed_points);
        let room = self
            .max_units
            .saturating_sub(1 + met.len())
            .min(listed.len());
        let mut points: Vec<String> = (0..room)
            .map(|i| listed[i * listed.len() / room].clone())
            .collect();
        points.extend(met.iter().map(|d| before(d)));
        points.sort();
        points.dedup();
        self.finish(points)
    }

    fn finish(&mut self, points: Vec<String>) -> SplitStep {
        self.phase = SplitPhase::Done;
        let probe = self.probe.clone().flatten();
        if probe.is_none() {
            return SplitStep::Units(Vec::new());
        }
        let mut units = Vec::with_capacity(points.len() + 1);
        let mut from = probe;
        for point in points {
            if from.as_ref().is_some_and(|f| f >= &point) {
                continue;
            }
            units.push(Unit {
                after: from,
                through: Some(point.clone()),
            });
            from = Some(point);
        }
        units.push(Unit {
            after: from,
            through: None,
        });
        SplitStep::Units(units)
    }

    /// Whether a directory's children are worth listing: it is on the layout's path (not
    /// hidden or foreign), above the partition level.
    fn expandable(&self, dir: &str) -> bool {
        let probe = format!("{dir}x");
        match classify(self.table, &probe) {
            Err(Rejected { skip, dir_end }) => {
                matches!(skip, Skip::Incomplete { .. } | Skip::NotTemplatePath)
                    && dir_end.is_none_or(|e| e > dir.len())
            }
            Ok(_) => false,
        }
    }
}

/// Directory names of one level read as numbers in `[0, 1)`, in the alphabet the listed
/// names use after what they all share (`customer_id=` and then hex digits, say), so that
/// evenly spaced numbers are evenly spaced names and the listing after each meets a
/// directory about as far into the level as the number says.
struct NameSpace {
    /// What every directory name of the level begins with: the scope and the shared text.
    stem: String,
    alphabet: Vec<u8>,
}

impl NameSpace {
    fn of(scope: &str, dirs: &[String]) -> Option<Self> {
        let names: Vec<&str> = dirs.iter().map(|d| &d[scope.len()..]).collect();
        let first = names.first()?;
        let shared = names.iter().fold(first.len(), |n, name| {
            first
                .bytes()
                .zip(name.bytes())
                .take(n)
                .take_while(|(a, b)| a == b)
                .count()
        });
        // What the names share by their scheme (`customer=`), not by where the listed part
        // of the level happens to lie (`customer=00`): up to the last character that is not
        // a letter or a digit.
        let shared = first.as_bytes()[..shared]
            .iter()
            .rposition(|b| !b.is_ascii_alphanumeric())
            .map_or(0, |i| i + 1);
        let mut alphabet: Vec<u8> = names
            .iter()
            .flat_map(|n| n[shared..].bytes())
            .filter(|b| *b != b'/')
            .collect();
        alphabet.sort_unstable();
        alphabet.dedup();
        if alphabet.is_empty() {
            return None;
        }
        Some(Self {
            stem: format!("{scope}{}", &first[..shared]),
            alphabet,
        })
    }

    fn base(&self) -> f64 {
        (self.alphabet.len() + 1) as f64
    }

    /// A key or directory as a number: each byte its place in the alphabet (0 for none).
    fn value(&self, key: &str) -> f64 {
        let rest = key.strip_prefix(self.stem.as_str()).unwrap_or("");
        let mut value = 0.0;
        let mut scale = 1.0;
        for b in rest.bytes().take_while(|b| *b != b'/').take(SAMPLE_DIGITS) {
            scale /= self.base();
            let place = match self.alphabet.binary_search(&b) {
                Ok(i) => i + 1,
                Err(i) => i.min(self.alphabet.len()),
            };
            value += place as f64 * scale;
        }
        value
    }

    /// The name at a number, as a `StartAfter`.
    fn name(&self, mut at: f64) -> String {
        let mut name = self.stem.clone();
        let mut bytes = Vec::new();
        for _ in 0..SAMPLE_DIGITS {
            at *= self.base();
            let digit = (at.floor() as usize).min(self.alphabet.len());
            at -= digit as f64;
            if digit == 0 {
                break;
            }
            bytes.push(self.alphabet[digit - 1]);
        }
        name.push_str(&String::from_utf8_lossy(&bytes));
        name
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::name::TableName;
    use std::collections::{BTreeMap, BTreeSet};

    fn hive(keys: &[&str]) -> Table {
        let keys: Vec<(String, String)> = keys
            .iter()
            .map(|k| (k.to_string(), "int".to_string()))
            .collect();
        Table::new(TableName::new("d", "t"), Some("s3://b/t/"), &keys, None).unwrap()
    }

    /// Answers requests over a sorted set of keys as S3 documents `ListObjectsV2`: keys
    /// after `StartAfter`, grouped by `/` under the prefix when asked, at most `page` entries
    /// (keys and common prefixes) per answer. A model for checking the pure walk, not a
    /// stand-in for S3 in any test of I/O.
    struct Listing {
        keys: BTreeSet<String>,
        page: usize,
    }

    impl Listing {
        fn answer(&self, r: &ListRequest) -> ListPage {
            use std::ops::Bound;
            let from = r.start_after.clone();
            let limit = r
                .max_keys
                .map_or(self.page, |m| (m as usize).min(self.page));
            let mut page = ListPage::default();
            let mut count = 0;
            let lower = match &from {
                Some(f) if f.as_str() >= r.prefix.as_str() => Bound::Excluded(f.clone()),
                _ => Bound::Included(r.prefix.clone()),
            };
            for key in self
                .keys
                .range((lower, Bound::Unbounded))
                .take_while(|k| k.starts_with(&r.prefix))
            {
                let rest = &key[r.prefix.len()..];
                let entry = match rest.find('/').filter(|_| r.delimiter) {
                    Some(i) => {
                        let dir = format!("{}{}", r.prefix, &rest[..=i]);
                        if page.dirs.last() == Some(&dir) {
                            continue;
                        }
                        // A common prefix at or before StartAfter is not listed again.
                        if from.as_ref().is_some_and(|f| dir.as_str() <= f.as_str()) {
                            continue;
                        }
                        Err(dir)
                    }
                    None => Ok(key.clone()),
                };
                if count == limit {
                    page.truncated = true;
                    break;
                }
                count += 1;
                match entry {
                    Ok(k) => page.keys.push(k),
                    Err(d) => page.dirs.push(d),
                }
            }
            page
        }

        /// Walk `units` to the end, or until `budget` requests were answered: what was
        /// found, skipped, how many requests, and the frontier left.
        fn walk_units(
            &self,
            table: &Table,
            mut units: Vec<UnitState>,
            budget: usize,
        ) -> (Vec<Found>, Vec<Skipped>, usize, Frontier) {
            let walk = Walk::new(table);
            let (mut found, mut skipped, mut requests) = (Vec::new(), Vec::new(), 0);
            // Round-robin over units, one request of each at a time, as the shell does.
            loop {
                let mut progressed = false;
                for unit in units.iter_mut() {
                    if requests == budget || unit.is_done() {
                        continue;
                    }
                    let r = unit.requests.remove(0);
                    progressed = true;
                    requests += 1;
                    let mut step = walk.on_page(&r, &self.answer(&r));
                    unit.absorb(&mut step);
                    found.extend(step.found);
                    skipped.extend(step.skipped);
                }
                if !progressed || requests == budget {
                    break;
                }
            }
            (found, skipped, requests, Frontier { units })
        }

        /// Split and walk the whole table, as the walker does: the first unit's first pages
        /// (the probe), then the split, then every unit, the first going on from the probe:
        /// found, skipped, requests (walk and split).
        fn walk_split(
            &self,
            table: &Table,
            max_units: usize,
        ) -> (Vec<Found>, Vec<Skipped>, usize, usize) {
            let walk = Walk::new(table);
            let (units, split) = self.run_split(table, max_units);
            let mut state = UnitState::new(walk.start());
            let (mut found, mut skipped, mut requests) = (Vec::new(), Vec::new(), 0);
            // The probe's pages, walked by the first unit before the split decides.
            let mut pages = 0;
            while pages < SPLIT_AFTER
                && let Some(r) = state.requests.first().cloned()
            {
                state.requests.remove(0);
                let page = self.answer(&r);
                pages += 1;
                requests += 1;
                let mut step = walk.on_page(&r, &page);
                state.absorb(&mut step);
                found.extend(step.found);
                skipped.extend(step.skipped);
                if !page.truncated || r.delimiter {
                    break;
                }
            }
            let mut queues: Vec<UnitState> = Vec::new();
            if units.is_empty() {
                queues.push(state.clone());
            }
            for (i, u) in units.iter().enumerate() {
                if i == 0 {
                    // The first unit continues the probe's own requests, cut at its end.
                    for r in &mut state.requests {
                        r.through = u.through.clone();
                    }
                    queues.push(state.clone());
                } else {
                    queues.push(UnitState::new(
                        walk.unit(u.after.clone(), u.through.clone()),
                    ));
                }
            }
            let (more, skips, more_requests, _) = self.walk_units(table, queues, usize::MAX);
            found.extend(more);
            skipped.extend(skips);
            (found, skipped, requests + more_requests, split)
        }

        /// The units a split of this listing gives.
        fn split(&self, table: &Table, max_units: usize) -> Vec<Unit> {
            self.run_split(table, max_units).0
        }

        fn split_requests(&self, table: &Table, max_units: usize) -> usize {
            self.run_split(table, max_units).1
        }

        /// The probe as the walker makes it: the first unit's pages, up to [`SPLIT_AFTER`],
        /// as one page; and how many pages that was.
        fn probe(&self, table: &Table) -> (ListPage, usize) {
            let walk = Walk::new(table);
            let mut unit = UnitState::new(walk.start());
            let mut probe = ListPage::default();
            let mut pages = 0;
            while pages < SPLIT_AFTER
                && let Some(r) = unit.requests.first().cloned()
            {
                unit.requests.remove(0);
                let page = self.answer(&r);
                pages += 1;
                probe.keys.extend(page.keys.iter().cloned());
                probe.truncated = page.truncated;
                let mut step = walk.on_page(&r, &page);
                unit.absorb(&mut step);
                if !page.truncated || r.delimiter {
                    break;
                }
            }
            (probe, pages)
        }

        fn run_split(&self, table: &Table, max_units: usize) -> (Vec<Unit>, usize) {
            let mut split = Split::new(table, max_units);
            let (probe, pages) = self.probe(table);
            if !probe.truncated {
                return (Vec::new(), 0);
            }
            let mut queue = split.start();
            let mut step = split.on_probe(&probe, pages);
            let units = loop {
                match step {
                    SplitStep::Units(units) => break units,
                    SplitStep::List(more) => queue.extend(more),
                    SplitStep::Wait => {}
                }
                let r = queue.remove(0);
                step = split.on_page(&r, &self.answer(&r));
            };
            (units, split.requests)
        }

        /// Keys in each unit's range.
        fn keys_per_unit(&self, units: &[Unit]) -> Vec<usize> {
            use std::ops::Bound;
            units
                .iter()
                .map(|u| {
                    let lower = u.after.clone().map_or(Bound::Unbounded, Bound::Excluded);
                    let upper = u.through.clone().map_or(Bound::Unbounded, Bound::Included);
                    self.keys.range((lower, upper)).count()
                })
                .collect()
        }

        fn walk(&self, table: &Table) -> (Vec<Found>, Vec<Skipped>, usize) {
            let start = vec![UnitState::new(Walk::new(table).start())];
            let (found, skipped, requests, _) = self.walk_units(table, start, usize::MAX);
            (found, skipped, requests)
        }
    }

    fn tree(partitions: &[&str], files: usize) -> BTreeSet<String> {
        partitions
            .iter()
            .flat_map(|p| (0..files).map(move |f| format!("t/{p}/part-{f:05}")))
            .collect()
    }

    #[test]
    fn small_partitions_cost_about_one_request_per_page_of_objects() {
        let dirs: Vec<String> = (0..100).map(|d| format!("y=1/d={d}")).collect();
        let dirs: Vec<&str> = dirs.iter().map(String::as_str).collect();
        let listing = Listing {
            keys: tree(&dirs, 10),
            page: 100,
        };
        let (found, _, requests) = listing.walk(&hive(&["y", "d"]));
        assert_eq!(found.len(), 100);
        assert!(found.iter().all(|f| f.verified));
        assert_eq!(requests, 10, "1,000 objects in pages of 100");
    }

    #[test]
    fn large_partitions_are_stepped_over_and_their_siblings_listed() {
        let listing = Listing {
            keys: tree(
                &["y=1/d=1", "y=1/d=2", "y=1/d=3", "y=2/d=1", "y=2/d=2"],
                500,
            ),
            page: 100,
        };
        let (found, _, requests) = listing.walk(&hive(&["y", "d"]));
        let dirs: BTreeSet<&str> = found.iter().map(|f| f.dir.as_str()).collect();
        assert_eq!(
            dirs,
            [
                "t/y=1/d=1/",
                "t/y=1/d=2/",
                "t/y=1/d=3/",
                "t/y=2/d=1/",
                "t/y=2/d=2/"
            ]
            .into()
        );
        // Per parent: the page that lands in its first partition and the siblings' listing;
        // then the flat walk resuming after the last parent, which finds nothing.
        assert_eq!(requests, 5);
    }

    #[test]
    fn hidden_and_foreign_directories_are_stepped_over_in_one_request() {
        let mut keys = tree(&["y=1/d=1"], 3);
        keys.extend((0..1000).map(|i| format!("t/_temporary/0/task-{i:04}")));
        keys.extend((0..1000).map(|i| format!("t/y=1/backup/old-{i:04}")));
        let listing = Listing { keys, page: 100 };
        let (found, skipped, requests) = listing.walk(&hive(&["y", "d"]));
        assert_eq!(found.len(), 1);
        assert_eq!(requests, 3, "a page into each, and the last");
        assert_eq!(skipped.len(), 1, "{skipped:?}");
        assert_eq!(skipped[0].key, "t/y=1/backup/");
    }

    #[test]
    fn a_partition_holding_only_markers_is_not_found() {
        let mut keys = tree(&["y=1/d=1"], 2);
        keys.insert("t/y=1/d=2/_SUCCESS".to_owned());
        keys.insert("t/y=1/d=3/".to_owned());
        let listing = Listing { keys, page: 1000 };
        let (found, skipped, _) = listing.walk(&hive(&["y", "d"]));
        assert_eq!(found.len(), 1);
        assert!(skipped.is_empty(), "{skipped:?}");
    }

    #[test]
    fn invalid_values_are_reported_once_per_directory() {
        let listing = Listing {
            keys: tree(&["y=1/d=x", "y=1/d=2"], 3),
            page: 1000,
        };
        let (found, skipped, _) = listing.walk(&hive(&["y", "d"]));
        assert_eq!(found.len(), 1);
        assert_eq!(skipped.len(), 1);
        assert_eq!(skipped[0].key, "t/y=1/d=x/");
    }

    #[test]
    fn a_directory_glue_would_refuse_is_skipped_with_the_rule() {
        let table = Table::new(
            TableName::new("d", "t"),
            Some("s3://b/t/"),
            &[("c".into(), "string".into())],
            None,
        )
        .unwrap();
        let listing = Listing {
            keys: tree(&["c=ok", "c=a\u{1}b"], 2),
            page: 1000,
        };
        let (found, skipped, _) = listing.walk(&table);
        assert_eq!(found.len(), 1);
        assert_eq!(skipped.len(), 1);
        assert_eq!(
            crate::report::Reason::kind(&skipped[0].skip),
            "glue_input_rule"
        );
    }

    #[test]
    fn stepping_after_a_directory_skips_exactly_its_keys() {
        let start = after("t/d=1/");
        assert!(start.as_str() >= "t/d=1/\u{10FFFF}");
        assert!(start.as_str() < "t/d=1a");
        assert!(start.as_str() < "t/d=10/x");
    }

    #[test]
    fn a_unit_end_lies_before_every_key_of_its_directory() {
        let end = before("t/d=2/");
        assert!(end.as_str() < "t/d=2/");
        assert!(end.as_str() > "t/d=1/zzz");
        assert!(end.as_str() > "t/d=2-x/a");
    }

    /// Every key of Hive y/m/d with `files` objects per day, for `years`.
    fn ymd(years: u32, months: u32, days: u32, files: u32) -> BTreeSet<String> {
        let mut keys = BTreeSet::new();
        for y in 0..years {
            for m in 1..=months {
                for d in 1..=days {
                    for f in 0..files {
                        keys.insert(format!("t/y={}/m={m:02}/d={d:02}/part-{f:03}", 2020 + y));
                    }
                }
            }
        }
        keys
    }

    #[test]
    fn a_small_table_is_not_split() {
        let listing = Listing {
            keys: ymd(1, 2, 10, 3),
            page: 1000,
        };
        let (found, _, requests, split) = listing.walk_split(&hive(&["y", "m", "d"]), 64);
        assert_eq!(found.len(), 20);
        assert_eq!((requests, split), (1, 0), "the probe alone");
    }

    #[test]
    fn a_large_table_is_split_into_units_of_about_twenty_pages() {
        // 2 years x 12 months x 28 days x 30 files = 20,160 keys; pages of 50: 404 pages, so
        // about 20 units of 20 pages.
        let listing = Listing {
            keys: ymd(2, 12, 28, 30),
            page: 50,
        };
        let table = hive(&["y", "m", "d"]);
        let units = listing.split(&table, 64);
        assert!((10..=40).contains(&units.len()), "{} units", units.len());
        // Units are in order and meet end to end, from the probe's last key to the end.
        assert!(units[0].after.is_some());
        assert!(units.last().unwrap().through.is_none());
        for pair in units.windows(2) {
            assert_eq!(pair[0].through, pair[1].after);
            assert!(pair[0].after < pair[0].through);
        }
        // The scope's years, the year and month holding the probe's end, the months of every
        // year, then a flat page and the children of a few months ahead, to cut where the
        // keys are: a few dozen listings for four hundred pages.
        let split = listing.split_requests(&table, 64);
        assert!(
            split <= 1 + 2 + 2 + 2 * DENSITY_SAMPLES,
            "{split} split listings"
        );
        let (found, _, requests, _) = listing.walk_split(&table, 64);
        assert_eq!(found.len(), 2 * 12 * 28);
        assert!(requests <= 404 + units.len(), "{requests} listings");
    }

    #[test]
    fn the_split_never_cuts_below_the_partition_level() {
        // One partition key: the cuts are at partitions, never inside one.
        let keys: BTreeSet<String> = (0..200)
            .flat_map(|d| (0..30).map(move |f| format!("t/d={d:03}/part-{f:02}")))
            .collect();
        let listing = Listing { keys, page: 50 };
        let table = hive(&["d"]);
        for u in listing.split(&table, 64) {
            if let Some(t) = &u.through {
                assert!(t.ends_with('.') && t.matches('/').count() == 1, "{t}");
            }
        }
    }

    #[test]
    fn a_table_of_a_few_pages_is_walked_without_cutting() {
        // 300 partitions of 10 objects: three pages, the whole table in the probe.
        let dirs: Vec<String> = (0..300).map(|d| format!("y=1/d={d:03}")).collect();
        let dirs: Vec<&str> = dirs.iter().map(String::as_str).collect();
        let listing = Listing {
            keys: tree(&dirs, 10),
            page: 1000,
        };
        let (units, requests) = listing.run_split(&hive(&["y", "d"]), 128);
        assert_eq!((units.len(), requests), (0, 0));
    }

    /// A first level of `n` customers, `files` objects each, under hex names as ids are.
    fn customers(n: u64, files: u32) -> BTreeSet<String> {
        let mut keys = BTreeSet::new();
        for i in 0..n {
            // Spread over the name space as hashed ids are: a bijection of 0..2^32.
            let id = (i.wrapping_mul(0x9E37_79B9) ^ (i >> 7)) as u32;
            for f in 0..files {
                keys.insert(format!("t/customer={id:08x}/part-{f}"));
            }
        }
        keys
    }

    #[test]
    fn cutting_a_wide_first_level_costs_a_bounded_number_of_listings() {
        let table = hive(&["customer"]);
        let mut costs = Vec::new();
        for n in [1_000, 1_000_000] {
            let listing = Listing {
                keys: customers(n, 1),
                page: 1000,
            };
            let (units, requests) = listing.run_split(&table, 128);
            assert!(requests <= MAX_SPLIT_REQUESTS, "{n}: {requests} listings");
            costs.push(requests);
            if n == 1_000_000 {
                // Ten million... a million keys are a thousand pages: about 50 units of
                // twenty, spread over the whole name space.
                assert!(units.len() >= 20, "{} units", units.len());
                let keys = listing.keys_per_unit(&units);
                let mean = keys.iter().sum::<usize>() as f64 / keys.len() as f64;
                let max = *keys.iter().max().unwrap() as f64;
                assert!(max <= 3.0 * mean, "largest unit {max} keys, mean {mean}");
            }
        }
        assert!(costs[1] <= MAX_SPLIT_REQUESTS, "{costs:?}");
    }

    #[test]
    fn a_wide_level_is_cut_into_as_many_units_as_a_table_may_have() {
        // A million directories in pages of 100: ten thousand pages, far more than 128 units
        // of a few pages. The sampled level gives the table its full parallelism, so that no
        // unit is a chain of listings the others wait for.
        let listing = Listing {
            keys: customers(1_000_000, 1),
            page: 100,
        };
        let (units, requests) = listing.run_split(&hive(&["customer"]), 128);
        assert!(requests <= MAX_SPLIT_REQUESTS, "{requests} listings");
        assert!(units.len() >= 100, "{} units", units.len());
        let keys = listing.keys_per_unit(&units);
        let mean = keys.iter().sum::<usize>() as f64 / keys.len() as f64;
        let max = *keys.iter().max().unwrap() as f64;
        assert!(max <= 3.0 * mean, "largest unit {max} keys, mean {mean}");
    }

    #[test]
    fn a_wide_level_of_dates_is_cut_across_the_part_that_was_listed() {
        // Seven years of days, more than the split lists of a level: dates are not spread over
        // their alphabet as hashed ids are, so samples past the listed days meet almost
        // nothing, and the listed days are most of the table.
        let mut keys = BTreeSet::new();
        for i in 0..2_500 {
            let (y, m, d) = (2019 + i / 336, i / 28 % 12 + 1, i % 28 + 1);
            for f in 0..24 {
                keys.insert(format!("t/dt={y}-{m:02}-{d:02}/part-{f:02}"));
            }
        }
        let listing = Listing { keys, page: 1000 };
        let (units, requests) = listing.run_split(&hive(&["dt"]), 128);
        assert!(requests <= MAX_SPLIT_REQUESTS, "{requests} listings");
        // 60,000 keys: three units of twenty pages at least.
        assert!(units.len() >= 3, "{} units: {units:?}", units.len());
        let keys = listing.keys_per_unit(&units);
        let total = keys.iter().sum::<usize>() as f64;
        let max = *keys.iter().max().unwrap() as f64;
        assert!(
            max <= total / 2.0,
            "largest unit {max} keys of {total}: {keys:?}"
        );
    }

    #[test]
    fn units_stay_balanced_when_old_data_is_sparse_and_new_data_dense() {
        // 60 days of 24 hours: the first 40 days one object an hour, the last 20 forty.
        let mut keys = BTreeSet::new();
        for day in 1..=60 {
            let files = if day <= 40 { 1 } else { 40 };
            for hour in 0..24 {
                for f in 0..files {
                    keys.insert(format!("t/dt={day:02}/hour={hour:02}/part-{f:02}"));
                }
            }
        }
        let listing = Listing { keys, page: 100 };
        let table = hive(&["dt", "hour"]);
        let (units, requests) = listing.run_split(&table, 64);
        assert!(requests <= MAX_SPLIT_REQUESTS);
        // 20,160 keys in pages of 100: about ten units of twenty pages.
        assert!(units.len() >= 5, "{} units: {units:?}", units.len());
        let keys = listing.keys_per_unit(&units);
        let mean = keys.iter().sum::<usize>() as f64 / keys.len() as f64;
        let max = *keys.iter().max().unwrap() as f64;
        assert!(
            max <= 3.0 * mean,
            "largest unit {max} keys, mean {mean}: {keys:?}"
        );
    }

    #[test]
    fn a_prefix_unit_walks_only_its_prefix() {
        let mut keys = ymd(1, 2, 28, 30);
        keys.insert("t/y=2020/m=02/d=280/part-0".into());
        let listing = Listing { keys, page: 50 };
        let table = hive(&["y", "m", "d"]);
        let walk = Walk::new(&table);
        let unit = UnitState::new(walk.prefix_unit("t/y=2020/m=02/d=14/"));
        let (found, _, _, left) = listing.walk_units(&table, vec![unit], usize::MAX);
        assert!(left.is_empty());
        let dirs: Vec<&str> = found.iter().map(|f| f.dir.as_str()).collect();
        assert_eq!(dirs, vec!["t/y=2020/m=02/d=14/"]);
    }

    fn by_marker(table: Table) -> Table {
        let completion = crate::table::Completion {
            registration: Registration::Marker,
            ..Default::default()
        };
        table.with_completion(completion)
    }

    #[test]
    fn a_table_registered_on_completion_finds_only_directories_holding_the_marker() {
        let mut keys = tree(&["y=1/d=1", "y=1/d=2", "y=2/d=1"], 600);
        keys.insert("t/y=1/d=1/_SUCCESS".into());
        keys.insert("t/y=2/d=1/_SUCCESS".into());
        keys.insert("t/y=2/d=1/_temporary/0/_SUCCESS".into());
        let listing = Listing { keys, page: 100 };
        let (found, skipped, requests) = listing.walk(&by_marker(hive(&["y", "d"])));
        let dirs: Vec<&str> = found.iter().map(|f| f.dir.as_str()).collect();
        assert_eq!(dirs, vec!["t/y=1/d=1/", "t/y=2/d=1/"]);
        assert!(skipped.is_empty(), "{skipped:?}");
        // Large partitions are read whole, not stepped over: their markers must be seen.
        assert!(requests >= 1800 / 100, "{requests} requests");
    }

    #[test]
    fn in_first_object_mode_a_marker_alone_is_no_partition() {
        let mut keys = tree(&["y=1/d=1"], 2);
        keys.insert("t/y=1/d=2/_SUCCESS".into());
        let table = hive(&["y", "d"]).with_completion(crate::table::Completion {
            announce: true,
            ..Default::default()
        });
        let listing = Listing { keys, page: 1000 };
        let (found, _, _) = listing.walk(&table);
        assert_eq!(found.len(), 1);
    }

    /// Reference: the partition directories holding a data key, as a model reads them.
    fn partitions_with_data(table: &Table, keys: &BTreeSet<String>) -> BTreeSet<String> {
        keys.iter()
            .filter_map(|k| {
                let end = crate::layout::locate(table, k).ok()?;
                let dir = &k[..end];
                accept(table, &values(table, dir), &table.location.uri_of(dir))
                    .ok()
                    .map(|()| dir.to_owned())
            })
            .collect()
    }

    mod properties {
        use super::*;
        use proptest::prelude::*;

        fn key() -> impl Strategy<Value = String> {
            let part = prop_oneof![
                3 => (0..4u8).prop_map(|v| format!("y={v}")),
                3 => (0..6u8).prop_map(|v| format!("d={v}")),
                1 => Just("_SUCCESS".to_owned()),
                1 => Just("_tmp".to_owned()),
                1 => Just(".x".to_owned()),
                1 => Just("y=é".to_owned()),
                1 => Just("d=".to_owned()),
                1 => Just("y=1.csv".to_owned()),
                1 => Just(String::new()),
                2 => "\\PC{0,6}",
                2 => "[a-z0-9]{1,4}",
            ];
            prop::collection::vec(part, 1..5).prop_map(|p| format!("t/{}", p.join("/")))
        }

        /// Each directory found, with how often.
        fn tally(found: &[Found]) -> BTreeMap<String, usize> {
            let mut t = BTreeMap::new();
            for f in found {
                *t.entry(f.dir.clone()).or_insert(0) += 1;
            }
            t
        }

        proptest! {
            /// The walk finds every partition directory that holds a data object, and only
            /// directories under which some key lies, whatever the names in the bucket.
            #[test]
            fn the_walk_finds_every_partition_with_data_and_nothing_without_keys(
                keys in prop::collection::btree_set(key(), 0..120),
                page in 1usize..12,
            ) {
                let table = hive(&["y", "d"]);
                let listing = Listing { keys: keys.clone(), page };
                let (found, _, requests) = listing.walk(&table);
                let found: BTreeSet<String> = found.into_iter().map(|f| f.dir).collect();
                for dir in partitions_with_data(&table, &keys) {
                    prop_assert!(found.contains(&dir), "{dir} not found");
                }
                for dir in &found {
                    prop_assert!(keys.iter().any(|k| k.starts_with(dir.as_str())), "{dir} has no key");
                }
                prop_assert!(requests <= 3 * keys.len() + 1, "{requests} requests");
            }

            /// Cut into units, the walk finds every partition with data, each in exactly one
            /// unit (a partition found twice is one a unit boundary cut), and differs from
            /// the uncut walk only in partitions a delimiter listing vouched for (where the
            /// pages end decides which directories a walk steps over).
            #[test]
            fn split_units_find_every_partition_once(
                keys in prop::collection::btree_set(key(), 0..160),
                page in 1usize..8,
                max_units in 1usize..9,
            ) {
                let table = hive(&["y", "d"]);
                let listing = Listing { keys: keys.clone(), page };
                let (found, _, _, _) = listing.walk_split(&table, max_units);
                let tally = tally(&found);
                prop_assert!(tally.values().all(|n| *n == 1), "found twice: {tally:?}");
                let (whole, _, _) = listing.walk(&table);
                let verified = |fs: &[Found], dir: &str| fs.iter().any(|f| f.dir == dir && f.verified);
                for f in &found {
                    if !whole.iter().any(|w| w.dir == f.dir) {
                        prop_assert!(!f.verified, "{} found only when split", f.dir);
                    }
                }
                for w in &whole {
                    if !found.iter().any(|f| f.dir == w.dir) {
                        prop_assert!(!verified(&whole, &w.dir), "{} missed when split", w.dir);
                    }
                }
                let got: BTreeSet<String> = tally.keys().cloned().collect();
                for dir in partitions_with_data(&table, &keys) {
                    prop_assert!(got.contains(&dir), "{dir} not found");
                }
                for dir in &got {
                    prop_assert!(keys.iter().any(|k| k.starts_with(dir.as_str())), "{dir} has no key");
                }
            }

            /// Stopped after any number of requests and resumed from its frontier (as a
            /// later run resumes from the cursor), the walk finds what one uninterrupted walk
            /// finds, and no partition in both parts.
            #[test]
            fn a_stopped_walk_resumes_from_its_frontier_and_misses_nothing(
                keys in prop::collection::btree_set(key(), 0..120),
                page in 1usize..8,
                stop in 0usize..30,
            ) {
                let table = hive(&["y", "d"]);
                let listing = Listing { keys: keys.clone(), page };
                let start = vec![UnitState::new(Walk::new(&table).start())];
                let (first, _, _, frontier) = listing.walk_units(&table, start, stop);
                let json = serde_json::to_string(&frontier).unwrap();
                let frontier: Frontier = serde_json::from_str(&json).unwrap();
                let (second, _, _, left) = listing.walk_units(&table, frontier.units, usize::MAX);
                prop_assert!(left.is_empty());
                let mut all: BTreeSet<String> = first.iter().map(|f| f.dir.clone()).collect();
                all.extend(second.iter().map(|f| f.dir.clone()));
                for dir in partitions_with_data(&table, &keys) {
                    prop_assert!(all.contains(&dir), "{dir} not found");
                }
                let again: Vec<&Found> = first.iter().filter(|f| second.iter().any(|s| s.dir == f.dir)).collect();
                prop_assert!(again.is_empty(), "found on both sides of the stop: {again:?}");
            }
        }
    }
}
