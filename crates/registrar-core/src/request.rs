//! What an invocation asks for: a maintenance request (`{"backfill": {...}}`, `{"sync":
//! {...}}`, as the scheduled repair and its state machine send them) or an event. One
//! function decides, for the Lambda and the CLI alike.

use crate::pass::Cursor;
use serde::Deserialize;
use serde_json::Value;

/// What a payload is.
#[derive(Debug)]
pub enum Invocation<'p> {
    /// A backfill or sync request, or why one could not be read.
    Maintenance(Result<Maintenance, RequestError>),
    /// Anything else is an event (S3, SNS, SQS, EventBridge, a dead-letter record).
    Event(&'p str),
}

/// Decide what a payload is. Cheap on events: the first field of an event is not
/// `backfill` or `sync`, and reading stops there.
pub fn classify(payload: &str) -> Invocation<'_> {
    match parse(payload) {
        Some(request) => Invocation::Maintenance(request),
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

/// A backfill or sync of one table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Maintenance {
    pub kind: Kind,
    pub table: String,
    pub dry_run: bool,
    pub prune: bool,
    pub update_schema: bool,
    /// S3 listings in flight at once.
    pub concurrency: Option<usize>,
    /// Glue requests in flight at once.
    pub glue_concurrency: Option<usize>,
    /// Continue a stopped pass: its cursor, or the cursors of the groups of a pass walked in
    /// separate invocations (merged; `null`s, groups with nothing left, are dropped). `None`
    /// starts a new pass; an empty list is a pass with nothing left to do.
    pub resume: Option<Vec<Cursor>>,
    /// Only cut the table into units, in at most this many groups, and answer each group's
    /// cursor: a state machine walks each group in its own invocations.
    pub split: Option<usize>,
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
    concurrency: Option<usize>,
    #[serde(default)]
    glue_concurrency: Option<usize>,
    #[serde(default)]
    resume: Option<OneOrMany>,
    #[serde(default)]
    split: Option<usize>,
    #[serde(default)]
    summary: bool,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum OneOrMany {
    One(Box<Cursor>),
    Many(Vec<Option<Cursor>>),
}

/// Only `backfill` or `sync` at the top: any other event fails this at its first field.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Envelope {
    backfill: Option<Value>,
    sync: Option<Value>,
}

/// `None` when the payload is not a maintenance request.
fn parse(payload: &str) -> Option<Result<Maintenance, RequestError>> {
    let envelope: Envelope = serde_json::from_str(payload).ok()?;
    let (kind, body) = match envelope {
        Envelope {
            backfill: Some(b), ..
        } => (Kind::Backfill, b),
        Envelope { sync: Some(b), .. } => (Kind::Sync, b),
        _ => return None,
    };
    let malformed = |message: String| RequestError::Malformed {
        kind: kind.name(),
        message,
    };
    let fields: Fields = match serde_json::from_value(body) {
        Ok(f) => f,
        Err(e) => return Some(Err(malformed(e.to_string()))),
    };
    if fields.split == Some(0) {
        return Some(Err(malformed("`split` is at least 1".to_owned())));
    }
    let sync = kind == Kind::Sync;
    Some(Ok(Maintenance {
        kind,
        table: fields.table,
        dry_run: fields.dry_run,
        // A backfill never prunes or rewrites: those are a sync's.
        prune: fields.prune && sync,
        update_schema: fields.update_schema && sync,
        concurrency: fields.concurrency,
        glue_concurrency: fields.glue_concurrency,
        resume: fields.resume.map(|r| match r {
            OneOrMany::One(c) => vec![*c],
            OneOrMany::Many(cs) => cs.into_iter().flatten().collect(),
        }),
        split: fields.split,
        summary: fields.summary,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn request(v: Value) -> Result<Maintenance, RequestError> {
        match classify(&v.to_string()) {
            Invocation::Maintenance(r) => r,
            Invocation::Event(_) => panic!("not a maintenance request: {v}"),
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

    #[test]
    fn resume_takes_one_cursor_or_many() {
        let cursor = serde_json::to_value(Cursor::new("d.t", false, false)).unwrap();
        let one = request(json!({"backfill": {"table": "d.t", "resume": cursor}})).unwrap();
        assert_eq!(one.resume.map(|r| r.len()), Some(1));
        let many = request(json!({"backfill": {"table": "d.t", "resume": [cursor, null, cursor]}}))
            .unwrap();
        assert_eq!(many.resume.map(|r| r.len()), Some(2));
        let none = request(json!({"backfill": {"table": "d.t"}})).unwrap();
        assert_eq!(none.resume, None);
        let done = request(json!({"backfill": {"table": "d.t", "resume": [null]}})).unwrap();
        assert_eq!(done.resume, Some(vec![]));
    }

    #[test]
    fn malformed_request_is_an_error_naming_it() {
        let err = request(json!({"sync": {"tabel": "d.t"}})).unwrap_err();
        assert!(err.to_string().contains("malformed sync request"), "{err}");
        let err = request(json!({"sync": {"table": "d.t", "split": 0}})).unwrap_err();
        assert!(err.to_string().contains("split"), "{err}");
    }
}
