//! The report: what happened to every object of an event (or every partition of a backfill),
//! as `handle` prints it and the Lambda logs it. Its JSON shape is the contract documented in
//! the README ("The report"); the Lambda front end turns its failed messages into the SQS
//! batch response.

use crate::event::{Normalised, ObjectEvent};
use crate::name::TableName;
use crate::pass::CursorRef;
use serde::ser::SerializeSeq;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;

pub use crate::reason::Reason;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartitionEntry {
    pub database: String,
    pub table: String,
    pub values: Vec<String>,
    pub location: String,
    /// Created by an event: milliseconds from the event time of its first object to Glue's
    /// confirmation, how long new data waited to be queryable.
    #[serde(
        rename = "freshnessMs",
        skip_serializing_if = "Option::is_none",
        default
    )]
    pub freshness_ms: Option<u64>,
}

impl PartitionEntry {
    pub fn new(table: &TableName, values: &[String], location: &str) -> Self {
        Self {
            database: table.database.clone(),
            table: table.table.clone(),
            values: values.to_vec(),
            location: location.to_owned(),
            freshness_ms: None,
        }
    }

    /// `database.table`, as metrics name the table.
    pub fn table_name(&self) -> String {
        format!("{}.{}", self.database, self.table)
    }
}

/// How fresh an event's new partitions were: from the objects' event times to Glue's
/// confirmation, in milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Freshness {
    pub partitions: usize,
    #[serde(rename = "p50Ms")]
    pub p50_ms: u64,
    #[serde(rename = "p99Ms")]
    pub p99_ms: u64,
    #[serde(rename = "maxMs")]
    pub max_ms: u64,
}

impl Freshness {
    /// Nearest-rank percentiles of the created partitions' freshness; `None` without any.
    pub fn of(entries: &[PartitionEntry]) -> Option<Self> {
        let mut ms: Vec<u64> = entries.iter().filter_map(|e| e.freshness_ms).collect();
        if ms.is_empty() {
            return None;
        }
        ms.sort_unstable();
        let rank = |p: f64| ms[((p * ms.len() as f64).ceil() as usize).clamp(1, ms.len()) - 1];
        Some(Self {
            partitions: ms.len(),
            p50_ms: rank(0.50),
            p99_ms: rank(0.99),
            max_ms: ms[ms.len() - 1],
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SkippedEntry {
    pub bucket: String,
    pub key: String,
    pub reason: String,
    /// The reason's class, a bounded set for metric dimensions; not part of the JSON contract.
    #[serde(skip)]
    pub kind: &'static str,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FailedEntry {
    pub bucket: String,
    pub key: String,
    pub error: String,
}

/// A partition whose storage descriptor was brought in line with its table's.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UpdatedEntry {
    #[serde(flatten)]
    pub partition: PartitionEntry,
    /// What differed: `columns`, `input format`, `SerDe`, ...
    pub changes: Vec<String>,
}

/// An object whose columns differ from its table's.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DriftEntry {
    pub bucket: String,
    pub key: String,
    pub database: String,
    pub table: String,
    pub differences: Vec<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Report {
    pub created: Vec<PartitionEntry>,
    pub existing: Vec<PartitionEntry>,
    pub deleted: Vec<PartitionEntry>,
    pub skipped: Vec<SkippedEntry>,
    pub failed: Vec<FailedEntry>,
    /// `sync --update-schema` only.
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub updated: Vec<UpdatedEntry>,
    /// Partitions whose `Partition Complete` event was put on the bus.
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub completed: Vec<PartitionEntry>,
    /// Only with schema drift detection on.
    #[serde(rename = "schemaDrift", skip_serializing_if = "Vec::is_empty", default)]
    pub schema_drift: Vec<DriftEntry>,
    /// Present only for SQS events: the ids of the messages to retry, serialised as Lambda's
    /// `batchItemFailures` (`[{"itemIdentifier": id}]`).
    #[serde(
        rename = "batchItemFailures",
        skip_serializing_if = "Option::is_none",
        serialize_with = "item_identifiers::serialize",
        deserialize_with = "item_identifiers::deserialize",
        default
    )]
    pub batch_item_failures: Option<Vec<String>>,
    /// A failed SQS record had no `messageId`, so it cannot be named: only failing the whole
    /// batch brings it back.
    #[serde(
        rename = "retryWholeBatch",
        skip_serializing_if = "std::ops::Not::not",
        default
    )]
    pub retry_whole_batch: bool,
    /// Set when a backfill or sync stopped early (at the Lambda deadline): where, and how to go on.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub stopped: Option<String>,
    /// Set by `--dry-run`: `created`, `deleted` and `updated` are what would have been written.
    #[serde(rename = "dryRun", skip_serializing_if = "std::ops::Not::not", default)]
    pub dry_run: bool,
    /// Backfill and sync: the totals. Their lists hold at most [`MAX_LISTED`] entries each,
    /// so that the report of a pass over millions of partitions stays small.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub counts: Option<Counts>,
    /// Backfill and sync: partitions whose create request was in flight when the deadline
    /// came, and whose answer never did; the cursor makes sure of them first.
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub unconfirmed: Vec<PartitionEntry>,
    /// Backfill and sync that stopped before the end: where the next run continues
    /// (`--resume`, or the request's `resume`), by reference to the pass's checkpoints.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub cursor: Option<CursorRef>,
    /// A pass's last run: partitions the pass found and could not register (named in
    /// `failed`, kept for the next pass), and why, in one sentence for the operator.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub unregistered: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub cause: Option<String>,
    /// Some entries were counted but not listed: the lists are bounded by bytes, so that an
    /// answer stays far under Lambda's 6 MB response limit.
    #[serde(skip_serializing_if = "std::ops::Not::not", default)]
    pub truncated: bool,
    /// Events: how fresh the created partitions were (each entry has its own).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub freshness: Option<Freshness>,
}

/// Bytes a sync's report lists at most, across its lists: past it, entries are counted and
/// not listed (`truncated`). An answer stays under 1 MB however much a run did (Lambda
/// allows 6 MB; Step Functions passes 256 KiB, and the state machine asks for summaries).
pub const MAX_LISTED_BYTES: usize = 512 * 1024;

/// A backfill's or sync's totals.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counts {
    pub created: u64,
    pub existing: u64,
    pub deleted: u64,
    pub updated: u64,
    pub skipped: u64,
    pub failed: u64,
    pub unconfirmed: u64,
}

/// A backfill's or sync's report without its lists: what a state machine passes from one
/// run to the next (Step Functions carries at most 256 KiB between states).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Summary {
    pub counts: Counts,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub stopped: Option<String>,
    /// Where the pass goes on; `null` when this run's part is over (a group walked, a
    /// finish done).
    pub cursor: Option<CursorRef>,
    /// Partitions the pass could not register (its last run says; `0` otherwise).
    #[serde(default)]
    pub unregistered: u64,
    /// Why, for the operator; always present (`null`), as a state machine's paths need.
    #[serde(default)]
    pub cause: Option<String>,
    #[serde(rename = "dryRun", skip_serializing_if = "std::ops::Not::not", default)]
    pub dry_run: bool,
}

/// A table cut into units for separate invocations: the groups of units, by number (their
/// cursors are in the pass's checkpoints).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SplitPlan {
    pub table: String,
    /// The pass the groups belong to.
    pub pass: String,
    /// The groups with a walk left, each walked by its own chain of runs: a few numbers,
    /// whatever the table's size.
    pub groups: Vec<u32>,
    pub units: usize,
    /// Listings the split sent.
    pub requests: usize,
    /// An open pass of an earlier execution was resumed rather than cut anew.
    #[serde(default)]
    pub resumed: bool,
    /// This run's own counts (it walks the table's first pages: all of a small table).
    pub counts: Counts,
}

impl Report {
    pub fn has_failures(&self) -> bool {
        !self.failed.is_empty()
    }

    /// The report without its lists (backfill and sync).
    pub fn summary(&self) -> Summary {
        Summary {
            counts: self.counts.unwrap_or_default(),
            stopped: self.stopped.clone(),
            cursor: self.cursor.clone(),
            unregistered: self.unregistered.unwrap_or(0),
            cause: self.cause.clone(),
            dry_run: self.dry_run,
        }
    }

    pub fn skip(&mut self, bucket: &str, key: &str, reason: &dyn Reason) {
        self.skipped.push(SkippedEntry {
            bucket: bucket.to_owned(),
            key: key.to_owned(),
            reason: reason.to_string(),
            kind: reason.kind(),
        });
    }

    pub fn fail(&mut self, bucket: &str, key: &str, error: &dyn fmt::Display) {
        self.failed.push(FailedEntry {
            bucket: bucket.to_owned(),
            key: key.to_owned(),
            error: error.to_string(),
        });
    }
}

mod item_identifiers {
    use super::*;

    #[derive(Serialize, Deserialize)]
    struct Item<T> {
        #[serde(rename = "itemIdentifier")]
        item_identifier: T,
    }

    pub fn serialize<S: Serializer>(ids: &Option<Vec<String>>, s: S) -> Result<S::Ok, S::Error> {
        let ids = ids.as_deref().unwrap_or_default();
        let mut seq = s.serialize_seq(Some(ids.len()))?;
        for id in ids {
            seq.serialize_element(&Item {
                item_identifier: id,
            })?;
        }
        seq.end()
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Vec<String>>, D::Error> {
        let items = Option::<Vec<Item<String>>>::deserialize(d)?;
        Ok(items.map(|v| v.into_iter().map(|i| i.item_identifier).collect()))
    }
}

/// Where every object of one event ended, and which of its messages must come back.
pub struct Ledger<'e, 'a> {
    event: &'e Normalised<'a>,
    report: Report,
    failed_messages: Vec<bool>,
}

impl<'e, 'a> Ledger<'e, 'a> {
    pub fn new(event: &'e Normalised<'a>) -> Self {
        Self {
            event,
            report: Report::default(),
            failed_messages: vec![false; event.messages.len()],
        }
    }

    pub fn created(&mut self, entry: PartitionEntry) {
        self.report.created.push(entry);
    }

    pub fn existing(&mut self, entry: PartitionEntry) {
        self.report.existing.push(entry);
    }

    /// A partition announced complete.
    pub fn completed(&mut self, entry: PartitionEntry) {
        self.report.completed.push(entry);
    }

    pub fn deleted(&mut self, entry: PartitionEntry) {
        self.report.deleted.push(entry);
    }

    pub fn drift(&mut self, entry: DriftEntry) {
        self.report.schema_drift.push(entry);
    }

    pub fn skip(&mut self, bucket: &str, key: &str, reason: &dyn Reason) {
        self.report.skip(bucket, key, reason);
    }

    /// An object failed: it and its message go back to be retried.
    pub fn fail(&mut self, object: &ObjectEvent<'_>, error: &dyn fmt::Display) {
        self.fail_message(object.message, object.bucket, object.key, error);
    }

    /// A message failed (a failed object in it, or it could not be read at all).
    pub fn fail_message(
        &mut self,
        message: usize,
        bucket: &str,
        key: &str,
        error: &dyn fmt::Display,
    ) {
        self.failed_messages[message] = true;
        self.report.fail(bucket, key, error);
    }

    /// The report. For SQS, `batchItemFailures` names each failed message once; a failed
    /// message without an id makes the whole batch come back.
    pub fn finish(mut self, dry_run: bool) -> Report {
        if self.event.from_sqs {
            let mut ids: Vec<String> = Vec::new();
            for (message, failed) in self.event.messages.iter().zip(&self.failed_messages) {
                match (failed, message.id) {
                    (false, _) => {}
                    (true, Some(id)) if !ids.iter().any(|have| have == id) => {
                        ids.push(id.to_owned())
                    }
                    (true, Some(_)) => {}
                    (true, None) => self.report.retry_whole_batch = true,
                }
            }
            self.report.batch_item_failures = Some(ids);
        }
        self.report.dry_run = dry_run;
        self.report.freshness = Freshness::of(&self.report.created);
        self.report
    }
}

/// Where every partition of a backfill or sync ended: the report of a pass's run, with its
/// totals, listing at most [`MAX_LISTED`] entries of each kind. The only writer of a sync's
/// report, as the [`Ledger`] is of an event's.
#[derive(Debug, Default)]
pub struct Tally {
    report: Report,
    counts: Counts,
    /// Bytes listed so far, about as JSON writes them.
    listed: usize,
}

/// About how many bytes an entry takes in the report's JSON.
trait Listed {
    fn bytes(&self) -> usize;
}

impl Listed for PartitionEntry {
    fn bytes(&self) -> usize {
        80 + self.database.len()
            + self.table.len()
            + self.location.len()
            + self.values.iter().map(|v| v.len() + 3).sum::<usize>()
    }
}

impl Listed for UpdatedEntry {
    fn bytes(&self) -> usize {
        self.partition.bytes() + self.changes.iter().map(|c| c.len() + 3).sum::<usize>()
    }
}

impl Listed for SkippedEntry {
    fn bytes(&self) -> usize {
        40 + self.bucket.len() + self.key.len() + self.reason.len()
    }
}

impl Listed for FailedEntry {
    fn bytes(&self) -> usize {
        40 + self.bucket.len() + self.key.len() + self.error.len()
    }
}

impl Tally {
    pub fn new(dry_run: bool) -> Self {
        Self {
            report: Report {
                dry_run,
                ..Report::default()
            },
            counts: Counts::default(),
            listed: 0,
        }
    }

    /// List `entry` in the list `pick` names while the report's lists stay under
    /// [`MAX_LISTED_BYTES`]; past it, it is only counted (by the caller) and the report says
    /// so (`truncated`).
    fn list<T: Listed>(&mut self, pick: fn(&mut Report) -> &mut Vec<T>, entry: T) {
        let bytes = entry.bytes();
        if self.listed + bytes <= MAX_LISTED_BYTES {
            self.listed += bytes;
            pick(&mut self.report).push(entry);
        } else {
            self.report.truncated = true;
        }
    }

    pub fn created(&mut self, entry: PartitionEntry) {
        self.counts.created += 1;
        self.list(|r| &mut r.created, entry);
    }

    pub fn existing(&mut self, entry: PartitionEntry) {
        self.counts.existing += 1;
        self.list(|r| &mut r.existing, entry);
    }

    pub fn deleted(&mut self, entry: PartitionEntry) {
        self.counts.deleted += 1;
        self.list(|r| &mut r.deleted, entry);
    }

    pub fn updated(&mut self, entry: UpdatedEntry) {
        self.counts.updated += 1;
        self.list(|r| &mut r.updated, entry);
    }

    /// A partition announced complete.
    pub fn completed(&mut self, entry: PartitionEntry) {
        self.list(|r| &mut r.completed, entry);
    }

    pub fn unconfirmed(&mut self, entry: PartitionEntry) {
        self.counts.unconfirmed += 1;
        self.list(|r| &mut r.unconfirmed, entry);
    }

    pub fn skip(&mut self, bucket: &str, key: &str, reason: &dyn Reason) {
        self.counts.skipped += 1;
        let entry = SkippedEntry {
            bucket: bucket.to_owned(),
            key: key.to_owned(),
            reason: reason.to_string(),
            kind: reason.kind(),
        };
        self.list(|r| &mut r.skipped, entry);
    }

    pub fn fail(&mut self, bucket: &str, key: &str, error: &dyn fmt::Display) {
        self.counts.failed += 1;
        let entry = FailedEntry {
            bucket: bucket.to_owned(),
            key: key.to_owned(),
            error: error.to_string(),
        };
        self.list(|r| &mut r.failed, entry);
    }

    /// Say why the run stopped early, or what it left undone; several reasons are joined.
    pub fn stopped(&mut self, why: &str) {
        let stopped = self.report.stopped.get_or_insert_with(String::new);
        if !stopped.is_empty() {
            stopped.push_str("; ");
        }
        stopped.push_str(why);
    }

    pub fn counts(&self) -> &Counts {
        &self.counts
    }

    /// The first failure listed, as the report says it: why a run made no progress.
    pub fn first_failure(&self) -> Option<String> {
        self.report
            .failed
            .first()
            .map(|f| format!("{}: {}", f.key, f.error))
    }

    /// What the pass could not register, named by its last run.
    pub fn unregistered(&mut self, count: u64, cause: String) {
        self.report.unregistered = Some(count);
        self.report.cause = Some(cause);
    }

    pub fn finish(mut self, cursor: Option<CursorRef>) -> Report {
        self.report.counts = Some(self.counts);
        self.report.cursor = cursor;
        self.report
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{Change, Message};

    #[test]
    fn batch_item_failures_appear_only_for_sqs() {
        let direct = serde_json::to_value(Report::default()).unwrap();
        assert!(direct.get("batchItemFailures").is_none());
        let sqs = Report {
            batch_item_failures: Some(vec![]),
            ..Report::default()
        };
        let sqs = serde_json::to_value(sqs).unwrap();
        assert_eq!(sqs["batchItemFailures"], serde_json::json!([]));
    }

    #[test]
    fn batch_item_failures_are_lambdas_item_identifiers() {
        let report = Report {
            batch_item_failures: Some(vec!["m1".into()]),
            ..Report::default()
        };
        let json = serde_json::to_value(&report).unwrap();
        assert_eq!(
            json["batchItemFailures"],
            serde_json::json!([{"itemIdentifier": "m1"}])
        );
        let back: Report = serde_json::from_value(json).unwrap();
        assert_eq!(back.batch_item_failures, report.batch_item_failures);
    }

    #[test]
    fn freshness_is_summarised_by_nearest_rank() {
        let entries: Vec<PartitionEntry> = (1..=100u64)
            .map(|ms| PartitionEntry {
                freshness_ms: Some(ms * 10),
                ..PartitionEntry::new(&TableName::new("d", "t"), &[], "s3://b/t/")
            })
            .collect();
        let f = Freshness::of(&entries).unwrap();
        assert_eq!(
            (f.partitions, f.p50_ms, f.p99_ms, f.max_ms),
            (100, 500, 990, 1000)
        );
        assert_eq!(Freshness::of(&entries[..0]), None);
    }

    #[test]
    fn a_tally_counts_everything_and_lists_at_most_its_bytes() {
        let mut t = Tally::new(false);
        let entry = PartitionEntry::new(
            &TableName::new("d", "t"),
            &["2026".into(), "12".into(), "04".into()],
            "s3://example-data-lake/clickstream/year=2026/month=12/day=04/",
        );
        let failed = "x".repeat(2000);
        for _ in 0..20_000 {
            t.created(entry.clone());
            t.fail("example-data-lake", "clickstream/year=2026/", &failed);
        }
        t.stopped("at the deadline");
        t.stopped("nothing pruned");
        let report = t.finish(None);
        assert!(report.truncated);
        assert_eq!(report.counts.unwrap().created, 20_000);
        assert_eq!(report.counts.unwrap().failed, 20_000);
        let bytes = serde_json::to_string(&report).unwrap().len();
        assert!(bytes <= 1024 * 1024, "{bytes} bytes");
        assert_eq!(
            report.stopped.as_deref(),
            Some("at the deadline; nothing pruned")
        );
    }

    #[test]
    fn report_has_every_section_even_when_empty() {
        let v = serde_json::to_value(Report::default()).unwrap();
        for section in ["created", "existing", "deleted", "skipped", "failed"] {
            assert!(v[section].is_array(), "{section}");
        }
    }

    fn sqs(ids: &[Option<&'static str>]) -> Normalised<'static> {
        Normalised {
            from_sqs: true,
            messages: ids
                .iter()
                .map(|id| Message {
                    id: *id,
                    errors: Vec::new(),
                })
                .collect(),
            objects: (0..ids.len())
                .map(|m| ObjectEvent {
                    bucket: "b",
                    key: "k",
                    change: Change::Created,
                    message: m,
                    time: None,
                    version: None,
                })
                .collect(),
            ignored: Vec::new(),
        }
    }

    #[test]
    fn a_message_with_two_failed_objects_is_named_once() {
        let event = sqs(&[Some("m0"), Some("m1")]);
        let mut ledger = Ledger::new(&event);
        ledger.fail(&event.objects[1], &"boom");
        ledger.fail(&event.objects[1], &"boom");
        let report = ledger.finish(false);
        assert_eq!(report.batch_item_failures, Some(vec!["m1".to_owned()]));
        assert!(!report.retry_whole_batch);
    }

    #[test]
    fn a_failed_message_without_an_id_brings_the_whole_batch_back() {
        let event = sqs(&[Some("m0"), None]);
        let mut ledger = Ledger::new(&event);
        ledger.fail(&event.objects[1], &"boom");
        let report = ledger.finish(false);
        assert!(report.retry_whole_batch);
        assert_eq!(report.failed.len(), 1);
    }
}
