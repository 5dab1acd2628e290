//! A pass over a table (a backfill or a sync), which may span runs: a run stopped by its
//! deadline returns a [`Cursor`], and the next run given it continues exactly there. Over a
//! chain of resumed runs every partition is handled once: the walk's units go on from where
//! each stopped, partitions whose registration was cut or failed for a reason that may pass
//! are made sure of first, and what the walk showed empty is carried until the whole table
//! was walked, when pruning (with its re-check) may drop it.

use crate::partition::PartitionSpec;
use crate::walk::{Frontier, UnitState};
use serde::{Deserialize, Serialize};

/// Partitions shown empty that a cursor carries at most: what one pass prunes. More wait for
/// the next pass (the report says how many), so a cursor stays small enough for a state
/// machine to pass on (Step Functions carries at most 256 KiB between states).
pub const MAX_EMPTY: usize = 2000;
/// Runs a partition whose registration keeps failing for a reason that may pass is tried in,
/// before the pass reports it failed and goes on without it.
pub const MAX_ATTEMPTS: u32 = 3;

/// Where a pass stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    /// Walking the table's prefix and registering what it finds.
    Walk,
    /// Dropping partitions the walk showed empty, each checked again (`--prune`).
    Prune,
    /// Bringing partitions' schemas in line with the table's (`--update-schema`).
    Schema,
}

/// A partition to make sure of in the next run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Retry {
    #[serde(flatten)]
    pub partition: PartitionSpec,
    /// Runs that tried it already.
    pub attempts: u32,
}

/// Where the catalog read of `--update-schema` stands in one segment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SegmentCursor {
    pub segment: i32,
    pub total: i32,
    /// Glue's `NextToken` for this segment; `None` before its first page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_token: Option<String>,
}

/// Where a stopped pass goes on. Its JSON is the contract between runs: printed in the
/// report, taken by `--resume` and by the request's `resume`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Cursor {
    /// `database.table`: a cursor continues only its own table's pass.
    pub table: String,
    /// Runs of this pass so far (a state machine bounds it).
    pub runs: u32,
    /// The pass prunes: only such a pass gathers what is empty, so a cursor made without
    /// `--prune` cannot be resumed with it.
    #[serde(default)]
    pub prune: bool,
    #[serde(default)]
    pub update_schema: bool,
    pub phase: Phase,
    /// The walk has begun: its units are in `walk` (none left when it is over). Before, the
    /// next run cuts the table into units itself.
    #[serde(default)]
    pub started: bool,
    #[serde(default, skip_serializing_if = "Frontier::is_empty")]
    pub walk: Frontier,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub retry: Vec<Retry>,
    /// Values of the partitions the walk showed empty so far.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub empty: Vec<Vec<String>>,
    /// Partitions shown empty beyond [`MAX_EMPTY`]: a later pass prunes them.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub empty_left: u64,
    /// `--update-schema`: the catalog segments not read to the end.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub schema: Vec<SegmentCursor>,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// Why cursors cannot be taken.
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
    #[error("no cursor given")]
    Empty,
}

impl Cursor {
    /// A new pass.
    pub fn new(table: &str, prune: bool, update_schema: bool) -> Self {
        Self {
            table: table.to_owned(),
            runs: 0,
            prune,
            update_schema,
            phase: Phase::Walk,
            started: false,
            walk: Frontier::default(),
            retry: Vec::new(),
            empty: Vec::new(),
            empty_left: 0,
            schema: Vec::new(),
        }
    }

    /// Check that this cursor continues a pass of `table` with these options.
    pub fn check(&self, table: &str, prune: bool, update_schema: bool) -> Result<(), CursorError> {
        if self.table != table {
            return Err(CursorError::OtherTable {
                cursor: self.table.clone(),
                table: table.to_owned(),
            });
        }
        let made = |yes: bool| if yes { "with" } else { "without" };
        if self.prune != prune {
            return Err(CursorError::PruneMismatch {
                made: made(self.prune),
            });
        }
        if self.update_schema != update_schema {
            return Err(CursorError::SchemaMismatch {
                made: made(self.update_schema),
            });
        }
        Ok(())
    }

    /// One cursor from the cursors of a pass walked in separate invocations (a state
    /// machine's map over groups of units): their units, retries and empty partitions.
    pub fn merge(cursors: Vec<Cursor>) -> Result<Cursor, CursorError> {
        let mut cursors = cursors.into_iter();
        let mut merged = cursors.next().ok_or(CursorError::Empty)?;
        for c in cursors {
            c.check(&merged.table, merged.prune, merged.update_schema)?;
            merged.runs = merged.runs.max(c.runs);
            merged.phase = merged.phase.min(c.phase);
            merged.started |= c.started;
            merged.walk.units.extend(c.walk.units);
            merged.retry.extend(c.retry);
            merged.empty_left += c.empty_left;
            for values in c.empty {
                merged.note_empty(values);
            }
            if merged.schema.is_empty() {
                merged.schema = c.schema;
            }
        }
        merged
            .walk
            .units
            .sort_by(|a, b| position(a).cmp(&position(b)));
        Ok(merged)
    }

    /// The walk showed this partition empty: carry it to the prune, room permitting.
    pub fn note_empty(&mut self, values: Vec<String>) {
        if self.empty.len() < MAX_EMPTY {
            self.empty.push(values);
        } else {
            self.empty_left += 1;
        }
    }

    /// The walk found data for these values after all (the previous run's end fell inside
    /// the partition): it is not empty.
    pub fn found(&mut self, values: &[String]) {
        self.empty.retain(|v| v.as_slice() != values);
    }

    /// Whether the walk is over: begun, every unit walked and every retry settled.
    pub fn walked(&self) -> bool {
        self.started && self.walk.is_empty() && self.retry.is_empty()
    }
}

/// Where a unit stands, for ordering: its first request's `StartAfter`.
fn position(unit: &UnitState) -> Option<&str> {
    unit.requests.first().and_then(|r| r.start_after.as_deref())
}

/// The key ranges a run walked: one per unit, from where the unit stood when the run began
/// (exclusive) to where it stopped (inclusive; the end of the unit if it finished). A catalog
/// partition whose directory begins inside one was walked by this run: if the run found no
/// data in it, it is shown empty, exactly once over a pass.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Coverage {
    /// `(after, through)`, sorted, disjoint.
    ranges: Vec<(Option<String>, Option<String>)>,
}

impl Coverage {
    pub fn add(&mut self, after: Option<String>, through: Option<String>) {
        if let (Some(a), Some(t)) = (&after, &through)
            && a >= t
        {
            return;
        }
        self.ranges.push((after, through));
        self.ranges.sort();
    }

    /// Whether a directory (key prefix ending in `/`) begins in a walked range.
    pub fn covers(&self, dir: &str) -> bool {
        self.ranges.iter().any(|(after, through)| {
            after.as_deref().is_none_or(|a| dir > a) && through.as_deref().is_none_or(|t| dir <= t)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::walk::ListRequest;

    fn unit(after: &str) -> UnitState {
        UnitState::new(ListRequest {
            prefix: "t/".into(),
            delimiter: false,
            start_after: Some(after.into()),
            through: None,
        })
    }

    #[test]
    fn a_cursor_continues_only_its_own_table_and_options() {
        let c = Cursor::new("d.t", true, false);
        assert!(c.check("d.t", true, false).is_ok());
        assert!(matches!(
            c.check("d.other", true, false),
            Err(CursorError::OtherTable { .. })
        ));
        let e = c.check("d.t", false, false).unwrap_err();
        assert!(e.to_string().contains("with --prune"), "{e}");
    }

    #[test]
    fn the_json_of_a_cursor_round_trips() {
        let mut c = Cursor::new("d.t", true, true);
        c.walk.units.push(unit("t/y=1/"));
        c.note_empty(vec!["1".into()]);
        let back: Cursor = serde_json::from_str(&serde_json::to_string(&c).unwrap()).unwrap();
        assert_eq!(back, c);
    }

    #[test]
    fn cursors_of_one_pass_merge_in_key_order() {
        let mut a = Cursor::new("d.t", true, false);
        a.walk.units.push(unit("t/y=5/"));
        a.note_empty(vec!["1".into()]);
        a.runs = 3;
        let mut b = Cursor::new("d.t", true, false);
        b.walk.units.push(unit("t/y=2/"));
        b.note_empty(vec!["2".into()]);
        b.runs = 4;
        let m = Cursor::merge(vec![a, b]).unwrap();
        assert_eq!(m.runs, 4);
        assert_eq!(m.empty.len(), 2);
        assert_eq!(position(&m.walk.units[0]), Some("t/y=2/"));
        let other = Cursor::new("d.x", true, false);
        assert!(Cursor::merge(vec![m, other]).is_err());
    }

    #[test]
    fn a_cursor_carries_at_most_its_room_of_empty_partitions() {
        let mut c = Cursor::new("d.t", true, false);
        for i in 0..MAX_EMPTY + 5 {
            c.note_empty(vec![i.to_string()]);
        }
        assert_eq!(c.empty.len(), MAX_EMPTY);
        assert_eq!(c.empty_left, 5);
    }

    #[test]
    fn coverage_holds_directories_that_begin_in_a_walked_range() {
        let mut c = Coverage::default();
        c.add(Some("t/y=1/d=3/part-9".into()), Some("t/y=2.".into()));
        c.add(None, Some("t/y=1.".into()));
        assert!(c.covers("t/y=1/d=4/"));
        assert!(c.covers("t/y=0/d=1/"));
        // Begun before the range: its start was walked, and decided, by an earlier run.
        assert!(!c.covers("t/y=1/d=3/"));
        assert!(!c.covers("t/y=2/d=1/"));
    }
}
