//! A pass over a table (a backfill or a sync), which may span many runs and, driven by a
//! state machine, many invocations at once. Everything a pass must remember between runs is
//! kept in a checkpoint store the shell owns (an S3 prefix, or a local directory for the
//! CLI), never in what a run answers: an answer names the pass and its group
//! ([`CursorRef`]), so it stays the same few hundred bytes whatever the table's size and
//! however many partitions failed. Step Functions carries at most 256 KiB between states;
//! what grows with the table or with failures lives here, by reference.
//!
//! A pass is written down as:
//! - its [`PassRecord`]: the table, the options, how many groups its units were cut into;
//! - one [`Cursor`] per group: the group's units, the creates to retry, and the partitions
//!   that failed for good, which the finish names;
//! - the directories its walk found, as [`found`](crate::found) hash chunks (pruning passes);
//! - its [`Finish`]: the catalog read of prune and schema update, once a pass;
//! - and, per table, a [`Head`]: the pass still open (a failed execution resumes it) and the
//!   partitions the last pass could not register, which the next pass tries first.

use crate::completion::PartitionComplete;
use crate::partition::PartitionSpec;
use crate::walk::Frontier;
use serde::{Deserialize, Serialize};

/// Runs a partition whose registration keeps failing for a reason that may pass is tried in,
/// before the pass names it failed (the finish reports it, and the next pass tries it first).
pub const MAX_ATTEMPTS: u32 = 3;
/// How far back a table's lateness (`complete_after`) announces time partitions: a backfill
/// of years of history does not flood downstream with old completions.
pub const DUE_HORIZON_MS: i64 = 7 * 86_400_000;

/// What a pass does besides registering; a run resumes only a pass of the same options.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PassOptions {
    /// Drop partitions whose location holds no data any more (`--prune`).
    #[serde(default)]
    pub prune: bool,
    /// Bring partitions' schemas in line with the table's (`--update-schema`).
    #[serde(default)]
    pub update_schema: bool,
    /// Walk only the recent days (`--window-days`); `None` walks the whole table.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub window: Option<WindowScope>,
}

impl PassOptions {
    /// Whether a run asked with `other` continues this pass: the same prune and schema
    /// options, and the same window length (the days it covers are the pass's own).
    pub fn continued_by(&self, other: &PassOptions) -> bool {
        self.prune == other.prune
            && self.update_schema == other.update_schema
            && self.window.as_ref().map(|w| w.days) == other.window.as_ref().map(|w| w.days)
    }

    /// Whether the pass has a finish to run: a catalog read for prune or schema.
    pub fn reads_catalog(&self) -> bool {
        self.prune || self.update_schema
    }
}

/// The days a windowed pass walks, fixed when the pass begins so that a pass spanning
/// midnight walks one window.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WindowScope {
    pub days: u32,
    /// The last day of the window (`YYYY-MM-DD`, UTC).
    pub through: String,
    /// The key prefixes the window's partitions lie under: each is walked as a unit, and
    /// only partitions under them may be pruned.
    pub prefixes: Vec<String>,
}

/// A pass as it began: what every run of it reads first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PassRecord {
    /// `database.table`.
    pub table: String,
    /// The pass's id: unique per table, the name of its checkpoint folder.
    pub pass: String,
    pub options: PassOptions,
    /// Seed of the found directories' hashes (they leave the process, so the seed travels
    /// with them; a pass's hashes are comparable only with each other).
    pub seed: u64,
    /// Groups of units, each walked by its own chain of runs.
    pub groups: u32,
    /// The groups run in separate invocations and the finish is its own request (a state
    /// machine); otherwise the run that ends the walk goes on into the finish.
    pub split: bool,
    #[serde(default)]
    pub dry_run: bool,
}

impl PassRecord {
    /// Check that a run asked with these options continues this pass of `table`.
    pub fn check(&self, table: &str, options: &PassOptions) -> Result<(), CursorError> {
        if self.table != table {
            return Err(CursorError::OtherTable {
                cursor: self.table.clone(),
                table: table.to_owned(),
            });
        }
        let made = |yes: bool| if yes { "with" } else { "without" };
        if self.options.prune != options.prune {
            return Err(CursorError::PruneMismatch {
                made: made(self.options.prune),
            });
        }
        if self.options.update_schema != options.update_schema {
            return Err(CursorError::SchemaMismatch {
                made: made(self.options.update_schema),
            });
        }
        Ok(())
    }
}

/// A partition to make sure of in the next run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Retry {
    #[serde(flatten)]
    pub partition: PartitionSpec,
    /// Runs that tried it already.
    pub attempts: u32,
}

/// A partition the pass could not register: Glue refused it, or it kept failing for
/// [`MAX_ATTEMPTS`] runs. The finish names it, and the next pass tries it first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Failed {
    #[serde(flatten)]
    pub partition: PartitionSpec,
    /// The last error, as the report says it.
    pub error: String,
}

/// Where a group of a pass stands: its walk, what to retry, what failed for good.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Cursor {
    pub table: String,
    pub pass: String,
    pub group: u32,
    /// Runs of this group so far (a state machine bounds it).
    pub runs: u32,
    /// The walk has begun: its units are in `walk` (none left when it is over). Before, the
    /// run cuts the table into units itself.
    #[serde(default)]
    pub started: bool,
    #[serde(default, skip_serializing_if = "Frontier::is_empty")]
    pub walk: Frontier,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub retry: Vec<Retry>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub failed: Vec<Failed>,
    /// Completions to put on the bus (partitions a walk registered on their marker): kept
    /// until EventBridge took them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub announce: Vec<PartitionComplete>,
    /// Time partitions found registered whose lateness has passed: the finish announces the
    /// ones not announced yet.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub due: Vec<Due>,
}

/// A time partition complete by its lateness.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Due {
    #[serde(flatten)]
    pub partition: PartitionSpec,
    /// When its period ended (milliseconds since the epoch).
    pub end_ms: i64,
}

/// A time partition announced complete.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Announced {
    pub values: Vec<String>,
    pub end_ms: i64,
}

impl Cursor {
    /// A group of a new pass.
    pub fn new(table: &str, pass: &str, group: u32) -> Self {
        Self {
            table: table.to_owned(),
            pass: pass.to_owned(),
            group,
            runs: 0,
            started: false,
            walk: Frontier::default(),
            retry: Vec::new(),
            failed: Vec::new(),
            announce: Vec::new(),
            due: Vec::new(),
        }
    }

    /// Whether the group's walk is over: begun, every unit walked and every retry settled
    /// (registered, or failed for good).
    pub fn walked(&self) -> bool {
        self.started && self.walk.is_empty() && self.retry.is_empty() && self.announce.is_empty()
    }

    /// Take over the partitions an earlier pass could not register: tried first, afresh.
    pub fn carry(&mut self, partitions: Vec<Retry>) {
        self.retry
            .extend(partitions.into_iter().map(|r| Retry { attempts: 0, ..r }));
    }
}

/// Where the catalog read of `--update-schema` and `--prune` stands in one segment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SegmentCursor {
    pub segment: i32,
    pub total: i32,
    /// Glue's `NextToken` for this segment; `None` before its first page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_token: Option<String>,
}

impl SegmentCursor {
    /// The first page of segment `segment` of `total`.
    pub fn first(segment: i32, total: i32) -> Self {
        Self {
            segment,
            total,
            next_token: None,
        }
    }

    /// The first page of a read in `total` segments.
    pub fn all(total: i32) -> Vec<Self> {
        (0..total).map(|s| Self::first(s, total)).collect()
    }
}

/// The finish of a pass: prune and schema update, from one read of the catalog, once every
/// group's walk is over. It resumes like the walk, from the segments not read to the end.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Finish {
    pub runs: u32,
    /// How the catalog is read: `None` before the first page; one segment for a catalog
    /// that fits in a page (or a service that ignores `Segment`), more once it did not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub segments: Option<i32>,
    /// Pages still to read, each a segment's next page. A page is recorded here until
    /// everything it asked for (drops, updates) is settled, so a stopped finish reads it
    /// again rather than skipping it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub pages: Vec<SegmentCursor>,
    /// The read is over.
    #[serde(default)]
    pub done: bool,
}

/// What a run answers for the next run: where the pass's state is, by reference. Its JSON is
/// the contract between runs (`--resume @report.json`, the request's `resume`), and its size
/// does not depend on the table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CursorRef {
    pub table: String,
    pub pass: String,
    /// The group to walk on; `None` for the finish.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<u32>,
    /// Runs of that group (or of the finish) so far.
    pub runs: u32,
    /// Where the pass's checkpoints are (`s3://...` or a local directory), for people.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub checkpoint: String,
}

/// Per table: the passes still open (one per kind: a full repair, a windowed one), and what
/// the last finished pass could not register.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Head {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub open: Vec<OpenPass>,
    /// Partitions the last finished pass could not register: the next pass tries them first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub carry: Vec<Retry>,
    /// Time partitions announced complete by their lateness, within [`DUE_HORIZON_MS`].
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub announced: Vec<Announced>,
}

/// A pass that began and has not finished: a new execution with the same options resumes it
/// from its checkpoints instead of cutting the table again.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OpenPass {
    pub pass: String,
    pub options: PassOptions,
}

/// Why a pass cannot be continued.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CursorError {
    #[error("the cursor is for table {cursor}, not {table}: resume a pass with its own cursor")]
    OtherTable { cursor: String, table: String },
    #[error(
        "the cursor was made by a pass {made} --prune: resume it with the same options, or start a new pass without --resume"
    )]
    PruneMismatch { made: &'static str },
    #[error(
        "the cursor was made by a pass {made} --update-schema: resume it with the same options, or start a new pass without --resume"
    )]
    SchemaMismatch { made: &'static str },
    #[error("pass {pass} has {groups} groups: there is no group {group}")]
    NoGroup {
        pass: String,
        group: u32,
        groups: u32,
    },
    #[error(
        "group {group} of pass {pass} has not finished its walk ({units} units and {retries} retries left): the finish runs once every group is walked"
    )]
    NotWalked {
        pass: String,
        group: u32,
        units: usize,
        retries: usize,
    },
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::walk::{ListRequest, UnitState};

    fn unit(after: &str) -> UnitState {
        UnitState::new(ListRequest {
            prefix: "t/".into(),
            delimiter: false,
            start_after: Some(after.into()),
            through: None,
            max_keys: None,
        })
    }

    fn record(prune: bool) -> PassRecord {
        PassRecord {
            table: "d.t".into(),
            pass: "p1".into(),
            options: PassOptions {
                prune,
                ..PassOptions::default()
            },
            seed: 7,
            groups: 1,
            split: false,
            dry_run: false,
        }
    }

    #[test]
    fn a_pass_continues_only_its_own_table_and_options() {
        let r = record(true);
        let prune = PassOptions {
            prune: true,
            ..PassOptions::default()
        };
        assert!(r.check("d.t", &prune).is_ok());
        assert!(matches!(
            r.check("d.other", &prune),
            Err(CursorError::OtherTable { .. })
        ));
        let e = r.check("d.t", &PassOptions::default()).unwrap_err();
        assert!(e.to_string().contains("with --prune"), "{e}");
    }

    #[test]
    fn the_json_of_a_cursor_round_trips() {
        let mut c = Cursor::new("d.t", "p1", 2);
        c.started = true;
        c.walk.units.push(unit("t/y=1/"));
        c.failed.push(Failed {
            partition: PartitionSpec::new(vec!["1".into()], "s3://b/t/y=1/".into()),
            error: "refused".into(),
        });
        let back: Cursor = serde_json::from_str(&serde_json::to_string(&c).unwrap()).unwrap();
        assert_eq!(back, c);
    }

    #[test]
    fn a_group_is_walked_only_when_its_units_and_retries_are_settled() {
        let mut c = Cursor::new("d.t", "p1", 0);
        assert!(!c.walked(), "not begun");
        c.started = true;
        assert!(c.walked());
        c.carry(vec![Retry {
            partition: PartitionSpec::new(vec!["1".into()], "s3://b/t/y=1/".into()),
            attempts: 3,
        }]);
        assert!(!c.walked(), "a carried partition is tried first");
        assert_eq!(
            c.retry[0].attempts, 0,
            "carried partitions are tried afresh"
        );
        c.retry.clear();
        c.failed.push(Failed {
            partition: PartitionSpec::new(vec!["2".into()], "s3://b/t/y=2/".into()),
            error: "refused".into(),
        });
        assert!(
            c.walked(),
            "what failed for good waits for the finish to name it"
        );
    }

    #[test]
    fn a_reference_to_a_group_is_small_whatever_the_group_holds() {
        let r = CursorRef {
            table: "analytics.clickstream".into(),
            pass: "20261204T193000Z-0123456789abcdef".into(),
            group: Some(39),
            runs: 500,
            checkpoint: "s3://registrar-state-123456789012/repair/runs/analytics/clickstream/20261204T193000Z-0123456789abcdef/".into(),
        };
        assert!(serde_json::to_string(&r).unwrap().len() < 512);
    }

    #[test]
    fn a_window_of_the_same_length_continues_a_windowed_pass() {
        let window = |through: &str| WindowScope {
            days: 3,
            through: through.into(),
            prefixes: vec![],
        };
        let a = PassOptions {
            window: Some(window("2026-12-03")),
            ..PassOptions::default()
        };
        let b = PassOptions {
            window: Some(window("2026-12-04")),
            ..PassOptions::default()
        };
        assert!(a.continued_by(&b));
        assert!(!a.continued_by(&PassOptions::default()));
    }
}
