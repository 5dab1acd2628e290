//! The walk of a table's prefix for backfill and sync: which `ListObjectsV2` requests to send
//! and what each answer says. Pure; the I/O shell sends the requests and hands back pages.
//!
//! The walk reads the prefix flat, without a delimiter: one request visits 1,000 keys, so a
//! table of small partitions costs about one request per 1,000 objects, and every partition
//! it registers was seen to hold a data object (not only `_SUCCESS` or a folder marker).
//! When a page ends inside something whose fate is already known, the walk steps over it with
//! `StartAfter` instead of reading on:
//! - a hidden or foreign directory (`_temporary/`, `backup/`): past the directory;
//! - a large partition (at least half the page, so not a small one cut by the page end): its
//!   remaining siblings are listed with `Delimiter=/` (one request per 1,000 of them, as a
//!   delimiter walk would) and the flat walk resumes after their parent.
//!
//! Partitions found through a delimiter listing are registered on S3's word that some key
//! lies under their directory, as any delimiter walk does: that key may be only a marker.
//! [`Found::verified`] says which is which.

use crate::layout::{Rejected, Skip, classify, validate, values};
use crate::table::Table;

/// One `ListObjectsV2` request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListRequest {
    pub prefix: String,
    /// `Delimiter=/`: list the directories (common prefixes) and files directly under `prefix`.
    pub delimiter: bool,
    pub start_after: Option<String>,
    pub continuation: Option<String>,
}

/// What S3 answered to a [`ListRequest`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListPage {
    pub keys: Vec<String>,
    /// Common prefixes (with `Delimiter=/` only), each ending in `/`.
    pub dirs: Vec<String>,
    /// The continuation token, when the listing goes on.
    pub next: Option<String>,
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

/// What one page gave: partitions, keys or directories worth reporting as skipped (hidden
/// files and folder markers are not), and the requests that continue the walk.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Step {
    pub found: Vec<Found>,
    /// A key, or a directory (ending in `/`) when the verdict covers everything under it.
    pub skipped: Vec<(String, Skip)>,
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
        let layout = &self.table.layout;
        if layout.base.starts_with(&self.table.location.prefix) {
            &layout.base
        } else {
            &self.table.location.prefix
        }
    }

    /// The first request.
    pub fn start(&self) -> ListRequest {
        flat(self.scope(), None)
    }

    /// Read one page, answering `request`.
    pub fn on_page(&self, request: &ListRequest, page: &ListPage) -> Step {
        let mut step = Step::default();
        if request.delimiter {
            for dir in &page.dirs {
                self.directory(dir, &mut step);
            }
            for key in &page.keys {
                self.key(key, &mut step);
            }
            if let Some(token) = &page.next {
                step.next.push(ListRequest {
                    continuation: Some(token.clone()),
                    ..request.clone()
                });
            }
            return step;
        }
        let mut last_dir: Option<&str> = None;
        for key in &page.keys {
            match classify(self.table, key) {
                Ok(end) => {
                    let dir = &key[..end];
                    if last_dir != Some(dir) {
                        last_dir = Some(dir);
                        self.partition(dir, true, &mut step);
                    }
                }
                Err(rejected) => {
                    let reported = match rejected.dir_end {
                        Some(end) => &key[..end],
                        None => key.as_str(),
                    };
                    if last_dir != Some(reported) {
                        last_dir = rejected.dir_end.map(|_| reported);
                        if !rejected.skip.is_furniture() {
                            step.skipped.push((reported.to_owned(), rejected.skip));
                        }
                    }
                }
            }
        }
        if let (Some(token), Some(last)) = (&page.next, page.keys.last()) {
            step.next = self.after_page(request, page, last, token);
        }
        step
    }

    /// How to go on after a page that ended at `last` with more to come.
    fn after_page(
        &self,
        request: &ListRequest,
        page: &ListPage,
        last: &str,
        token: &str,
    ) -> Vec<ListRequest> {
        let scope = request.prefix.as_str();
        match classify(self.table, last) {
            Ok(end) => {
                let dir = &last[..end];
                let in_dir = page.keys.iter().filter(|k| k.starts_with(dir)).count();
                let valid = validate(self.table, &values(self.table, dir)).is_ok();
                if !valid {
                    // Every key under an invalid partition is skipped alike.
                    return vec![flat(scope, Some(after(dir)))];
                }
                if in_dir * 2 < page.keys.len() {
                    // A small partition cut by the end of the page: read on.
                    return vec![continued(request, token)];
                }
                let parent = parent(dir);
                let mut next = vec![ListRequest {
                    prefix: parent.to_owned(),
                    delimiter: true,
                    start_after: Some(after(dir)),
                    continuation: None,
                }];
                if parent.len() > scope.len() {
                    next.push(flat(scope, Some(after(parent))));
                }
                next
            }
            Err(Rejected {
                dir_end: Some(end), ..
            }) => vec![flat(scope, Some(after(&last[..end])))],
            Err(_) => vec![continued(request, token)],
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
                    step.skipped.push((dir.to_owned(), skip));
                }
            }
            Err(_) => {}
        }
    }

    fn key(&self, key: &str, step: &mut Step) {
        if let Err(Rejected { skip, .. }) = classify(self.table, key)
            && !skip.is_furniture()
        {
            step.skipped.push((key.to_owned(), skip));
        }
    }

    fn partition(&self, dir: &str, verified: bool, step: &mut Step) {
        let read = values(self.table, dir);
        match validate(self.table, &read) {
            Ok(()) => step.found.push(Found {
                dir: dir.to_owned(),
                values: read.iter().map(|v| v.to_string()).collect(),
                verified,
            }),
            Err(skip) => step.skipped.push((dir.to_owned(), skip)),
        }
    }
}

fn flat(prefix: &str, start_after: Option<String>) -> ListRequest {
    ListRequest {
        prefix: prefix.to_owned(),
        delimiter: false,
        start_after,
        continuation: None,
    }
}

fn continued(request: &ListRequest, token: &str) -> ListRequest {
    ListRequest {
        continuation: Some(token.to_owned()),
        ..request.clone()
    }
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::name::TableName;
    use std::collections::BTreeSet;

    fn hive(keys: &[&str]) -> Table {
        let keys: Vec<(String, String)> = keys
            .iter()
            .map(|k| (k.to_string(), "int".to_string()))
            .collect();
        Table::new(TableName::new("d", "t"), Some("s3://b/t/"), &keys, None).unwrap()
    }

    /// Answers requests over a sorted set of keys as S3 does: keys after `StartAfter` (or
    /// the continuation token, here the last key returned), grouped by `/` under the prefix
    /// when asked, at most `page` per answer. A model for checking the pure walk, not a
    /// stand-in for S3 in any test of I/O.
    struct Listing {
        keys: BTreeSet<String>,
        page: usize,
    }

    impl Listing {
        fn answer(&self, r: &ListRequest) -> ListPage {
            let from = r.continuation.clone().or(r.start_after.clone());
            let mut page = ListPage::default();
            let mut count = 0;
            let mut last = None;
            for key in self.keys.iter().filter(|k| k.starts_with(&r.prefix)) {
                if from.as_ref().is_some_and(|f| key <= f) {
                    continue;
                }
                if count == self.page {
                    page.next = last.clone();
                    break;
                }
                let rest = &key[r.prefix.len()..];
                match rest.find('/').filter(|_| r.delimiter) {
                    Some(i) => {
                        let dir = format!("{}{}", r.prefix, &rest[..=i]);
                        if page.dirs.last() != Some(&dir) {
                            page.dirs.push(dir.clone());
                            count += 1;
                        }
                        // The continuation of a delimiter listing resumes after the directory.
                        last = Some(format!("{}\u{10FFFF}", &dir));
                    }
                    None => {
                        page.keys.push(key.clone());
                        count += 1;
                        last = Some(key.clone());
                    }
                }
            }
            page
        }

        /// Run a walk to the end: what it found and how many requests it sent.
        fn walk(&self, table: &Table) -> (Vec<Found>, Vec<(String, Skip)>, usize) {
            let walk = Walk::new(table);
            let mut queue = vec![walk.start()];
            let (mut found, mut skipped, mut requests) = (Vec::new(), Vec::new(), 0);
            while let Some(r) = queue.pop() {
                requests += 1;
                let step = walk.on_page(&r, &self.answer(&r));
                found.extend(step.found);
                skipped.extend(step.skipped);
                queue.extend(step.next);
            }
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
        assert_eq!(skipped[0].0, "t/y=1/backup/");
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
        assert_eq!(skipped[0].0, "t/y=1/d=x/");
    }

    #[test]
    fn stepping_after_a_directory_skips_exactly_its_keys() {
        let start = after("t/d=1/");
        assert!(start.as_str() >= "t/d=1/\u{10FFFF}");
        assert!(start.as_str() < "t/d=1a");
        assert!(start.as_str() < "t/d=10/x");
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
                1 => Just(String::new()),
                2 => "\\PC{0,6}",
                2 => "[a-z0-9]{1,4}",
            ];
            prop::collection::vec(part, 1..5).prop_map(|p| format!("t/{}", p.join("/")))
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
                for key in &keys {
                    if let Ok(end) = crate::layout::locate(&table, key)
                        && validate(&table, &values(&table, &key[..end])).is_ok()
                    {
                        prop_assert!(found.contains(&key[..end]), "{key} not found");
                    }
                }
                for dir in &found {
                    prop_assert!(keys.iter().any(|k| k.starts_with(dir.as_str())), "{dir} has no key");
                }
                prop_assert!(requests <= 3 * keys.len() + 1, "{requests} requests");
            }
        }
    }
}
