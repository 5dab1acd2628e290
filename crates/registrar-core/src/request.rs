//! What an invocation asks for: a maintenance request (`{"backfill": {...}}`, `{"sync":
//! {...}}`, as the CLI, a direct invocation and the repair's state machine send them), one of
//! the state machine's own steps (`{"plan": ...}`, `{"review": ...}`), or an event. One
//! function decides, for the Lambda and the CLI alike.

use crate::pass::CursorRef;
use serde::Deserialize;
use serde_json::Value;

/// What a payload is.
#[derive(Debug)]
pub enum Invocation<'p> {
    /// A backfill or sync request, or why one could not be read.
    Maintenance(Result<Maintenance, RequestError>),
    /// A step of the repair's state machine around the passes, or why it could not be read.
    Repair(Result<RepairStep, RequestError>),
    /// Anything else is an event (S3, SNS, SQS, EventBridge, a dead-letter record).
    Event(&'p str),
}

/// Decide what a payload is. Cheap on events: the first field of an event is not one of
/// the requests' names, and reading stops there.
pub fn classify(payload: &str) -> Invocation<'_> {
    match parse(payload) {
        Some(Parsed::Maintenance(request)) => Invocation::Maintenance(request),
        Some(Parsed::Repair(step)) => Invocation::Repair(step),
        None => Invocation::Event(payload),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Register what the catalog lacks.
    Backfill,
    /// A backfill that may also prune and update schemas.
    Sync,
}

impl Kind {
    pub fn name(self) -> &'static str {
        match self {
            Self::Backfill => "backfill",
            Self::Sync => "sync",
        }
    }
}

/// Which run of a pass a request asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// A new pass, walked by this run and, if it stops, by the runs its cursor resumes.
    Start,
    /// The first run of a pass a state machine walks in groups: begin the walk, cut the table
    /// into at most this many groups of units, and answer them; a pass still open with the
    /// same options (an execution that failed) is resumed instead of cut again.
    Split(usize),
    /// Walk on one group of a pass.
    Group { pass: String, group: u32 },
    /// Prune and update schemas once every group of the pass is walked, and say what the
    /// pass could not register.
    Finish { pass: String },
}

/// A backfill or sync of one table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Maintenance {
    pub kind: Kind,
    pub table: String,
    pub dry_run: bool,
    pub prune: bool,
    pub update_schema: bool,
    /// Walk only the partitions of the last this many days (tables whose leading keys are
    /// dates); `None` walks the whole table.
    pub window_days: Option<u32>,
    /// S3 listings in flight at once.
    pub concurrency: Option<usize>,
    /// Glue requests in flight at once.
    pub glue_concurrency: Option<usize>,
    pub step: Step,
    /// Answer counts and the cursor only (what a state machine passes on), not the lists.
    pub summary: bool,
}

impl Maintenance {
    /// Plan only, whatever the request says (`handle --dry-run`).
    pub fn dry_run(mut self, yes: bool) -> Self {
        self.dry_run |= yes;
        self
    }
}

/// The state machine's steps around the passes of its tables.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RepairStep {
    /// Write the tables to repair where the state machine's map reads its items: every
    /// served table, or the ones named. The execution's input names them by reference, so it
    /// stays small whatever the number of tables.
    Plan {
        tables: Tables,
        /// Where the items go: the execution's name makes the object's key.
        execution: String,
    },
    /// Read what the map over the tables wrote (its `ResultWriter` manifest) and say which
    /// tables were not repaired, and why.
    Review { bucket: String, key: String },
}

/// Which tables a repair covers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Tables {
    /// Every table the function serves (`GLUE_TABLES`, `GLUE_DATABASES`).
    Served,
    Named(Vec<String>),
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RequestError {
    #[error("malformed {kind} request: {message}")]
    Malformed { kind: &'static str, message: String },
}

/// The request's fields as JSON has them.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Fields {
    table: String,
    #[serde(default)]
    dry_run: bool,
    #[serde(default)]
    prune: bool,
    #[serde(default)]
    update_schema: bool,
    #[serde(default)]
    window_days: Option<u32>,
    #[serde(default)]
    concurrency: Option<usize>,
    #[serde(default)]
    glue_concurrency: Option<usize>,
    /// A report's cursor: where the pass goes on.
    #[serde(default)]
    resume: Option<CursorRef>,
    /// The state machine's way of saying the same: the pass, and a group or the finish.
    #[serde(default)]
    pass: Option<String>,
    #[serde(default)]
    group: Option<u32>,
    #[serde(default)]
    finish: bool,
    #[serde(default)]
    split: Option<usize>,
    #[serde(default)]
    summary: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PlanFields {
    tables: Value,
    execution: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "PascalCase")]
struct ReviewFields {
    bucket: String,
    key: String,
}

/// Only a request's name at the top: any other event fails this at its first field.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Envelope {
    backfill: Option<Value>,
    sync: Option<Value>,
    plan: Option<Value>,
    review: Option<Value>,
}

enum Parsed {
    Maintenance(Result<Maintenance, RequestError>),
    Repair(Result<RepairStep, RequestError>),
}

/// `None` when the payload is not a request.
fn parse(payload: &str) -> Option<Parsed> {
    let envelope: Envelope = serde_json::from_str(payload).ok()?;
    let (kind, body) = match envelope {
        Envelope {
            backfill: Some(b), ..
        } => (Kind::Backfill, b),
        Envelope { sync: Some(b), .. } => (Kind::Sync, b),
        Envelope { plan: Some(b), .. } => return Some(Parsed::Repair(plan(b))),
        Envelope {
            review: Some(b), ..
        } => return Some(Parsed::Repair(review(b))),
        _ => return None,
    };
    Some(Parsed::Maintenance(maintenance(kind, body)))
}

fn maintenance(kind: Kind, body: Value) -> Result<Maintenance, RequestError> {
    let malformed = |message: String| RequestError::Malformed {
        kind: kind.name(),
        message,
    };
    let fields: Fields = serde_json::from_value(body).map_err(|e| malformed(e.to_string()))?;
    if fields.split == Some(0) {
        return Err(malformed("`split` is at least 1".to_owned()));
    }
    if let Some(days) = fields.window_days
        && !(1..=366).contains(&days)
    {
        return Err(malformed(format!("`window_days` is 1 to 366, not {days}")));
    }
    let step = match (
        &fields.resume,
        &fields.pass,
        fields.group,
        fields.finish,
        fields.split,
    ) {
        (None, None, None, false, None) => Step::Start,
        (None, None, None, false, Some(groups)) => Step::Split(groups),
        (Some(r), None, None, false, None) => match r.group {
            Some(group) => Step::Group {
                pass: r.pass.clone(),
                group,
            },
            None => Step::Finish {
                pass: r.pass.clone(),
            },
        },
        (None, Some(pass), Some(group), false, None) => Step::Group {
            pass: pass.clone(),
            group,
        },
        (None, Some(pass), None, true, None) => Step::Finish { pass: pass.clone() },
        _ => {
            return Err(malformed(
                "give one of: nothing (a new pass), `split` (a new pass cut into groups), `resume` (a report's cursor), `pass` with `group`, or `pass` with `finish`".to_owned(),
            ));
        }
    };
    if let Some(r) = &fields.resume
        && r.table != fields.table
    {
        return Err(malformed(
            crate::pass::CursorError::OtherTable {
                cursor: r.table.to_string(),
                table: fields.table.to_string(),
            }
            .to_string(),
        ));
    }
    let sync = kind == Kind::Sync;
    Ok(Maintenance {
        kind,
        table: fields.table,
        dry_run: fields.dry_run,
        // A backfill never prunes or rewrites: those are a sync's.
        prune: fields.prune && sync,
        update_schema: fields.update_schema && sync,
        window_days: fields.window_days,
        concurrency: fields.concurrency,
        glue_concurrency: fields.glue_concurrency,
        step,
        summary: fields.summary,
    })
}

fn plan(body: Value) -> Result<RepairStep, RequestError> {
    let malformed = |message: String| RequestError::Malformed {
        kind: "plan",
        message,
    };
    let fields: PlanFields = serde_json::from_value(body).map_err(|e| malformed(e.to_string()))?;
    let tables = match fields.tables {
        Value::String(s) if s == "served" => Tables::Served,
        Value::Array(names) => Tables::Named(
            names
                .into_iter()
                .map(|n| match n {
                    Value::String(s) => Ok(s),
                    other => Err(malformed(format!("a table is a string, not {other}"))),
                })
                .collect::<Result<_, _>>()?,
        ),
        other => {
            return Err(malformed(format!(
                "`tables` is \"served\" or a list of database.table names, not {other}"
            )));
        }
    };
    Ok(RepairStep::Plan {
        tables,
        execution: fields.execution,
    })
}

fn review(body: Value) -> Result<RepairStep, RequestError> {
    let fields: ReviewFields =
        serde_json::from_value(body).map_err(|e| RequestError::Malformed {
            kind: "review",
            message: e.to_string(),
        })?;
    Ok(RepairStep::Review {
        bucket: fields.bucket,
        key: fields.key,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn request(v: Value) -> Result<Maintenance, RequestError> {
        match classify(&v.to_string()) {
            Invocation::Maintenance(r) => r,
            _ => panic!("not a maintenance request: {v}"),
        }
    }

    #[test]
    fn events_are_events() {
        for event in [
            json!({"Records": []}),
            json!({"detail-type": "Object Created"}),
            json!({}),
        ] {
            assert!(matches!(classify(&event.to_string()), Invocation::Event(_)));
        }
        assert!(matches!(classify("not json"), Invocation::Event(_)));
    }

    #[test]
    fn backfill_never_prunes() {
        let r = request(json!({"backfill": {"table": "d.t", "prune": true}})).unwrap();
        assert!(!r.prune);
        assert_eq!((r.kind, r.table.as_str()), (Kind::Backfill, "d.t"));
    }

    #[test]
    fn sync_may_prune() {
        let r = request(json!({"sync": {"table": "d.t", "prune": true, "dry_run": true}})).unwrap();
        assert!(r.prune && r.dry_run);
    }

    fn request_ok(v: Value) -> Maintenance {
        request(v).unwrap()
    }

    #[test]
    fn a_request_names_the_run_of_a_pass_it_asks_for() {
        let start = request_ok(json!({"backfill": {"table": "d.t"}}));
        assert_eq!(start.step, Step::Start);
        let split = request_ok(json!({"sync": {"table": "d.t", "split": 8}}));
        assert_eq!(split.step, Step::Split(8));
        let group = request_ok(json!({"sync": {"table": "d.t", "pass": "p1", "group": 3}}));
        assert_eq!(
            group.step,
            Step::Group {
                pass: "p1".into(),
                group: 3
            }
        );
        let finish = request_ok(json!({"sync": {"table": "d.t", "pass": "p1", "finish": true}}));
        assert_eq!(finish.step, Step::Finish { pass: "p1".into() });
    }

    #[test]
    fn a_reports_cursor_resumes_its_group_or_its_finish() {
        let cursor = json!({"table": "d.t", "pass": "p1", "group": 0, "runs": 2});
        let r = request_ok(json!({"backfill": {"table": "d.t", "resume": cursor}}));
        assert_eq!(
            r.step,
            Step::Group {
                pass: "p1".into(),
                group: 0
            }
        );
        let cursor = json!({"table": "d.t", "pass": "p1", "runs": 1});
        let r = request_ok(json!({"sync": {"table": "d.t", "resume": cursor}}));
        assert_eq!(r.step, Step::Finish { pass: "p1".into() });
        let other = json!({"table": "d.x", "pass": "p1", "runs": 1});
        let e = request(json!({"sync": {"table": "d.t", "resume": other}})).unwrap_err();
        assert!(e.to_string().contains("table d.x, not d.t"), "{e}");
    }

    #[test]
    fn the_state_machines_steps_are_read_as_such() {
        let Invocation::Repair(Ok(RepairStep::Plan { tables, execution })) =
            classify(&json!({"plan": {"tables": "served", "execution": "e1"}}).to_string())
        else {
            panic!("not a plan");
        };
        assert_eq!((tables, execution.as_str()), (Tables::Served, "e1"));
        let Invocation::Repair(Ok(RepairStep::Review { bucket, key })) =
            classify(&json!({"review": {"Bucket": "b", "Key": "k/manifest.json"}}).to_string())
        else {
            panic!("not a review");
        };
        assert_eq!((bucket.as_str(), key.as_str()), ("b", "k/manifest.json"));
    }

    #[test]
    fn malformed_request_is_an_error_naming_it() {
        let err = request(json!({"sync": {"tabel": "d.t"}})).unwrap_err();
        assert!(err.to_string().contains("malformed sync request"), "{err}");
        let err = request(json!({"sync": {"table": "d.t", "split": 0}})).unwrap_err();
        assert!(err.to_string().contains("split"), "{err}");
        let err = request(json!({"sync": {"table": "d.t", "group": 1}})).unwrap_err();
        assert!(err.to_string().contains("`pass` with `group`"), "{err}");
        let err = request(json!({"sync": {"table": "d.t", "window_days": 0}})).unwrap_err();
        assert!(err.to_string().contains("window_days"), "{err}");
    }
}
