//! The report: what happened to every object of an event (or every partition of a backfill),
//! as `handle` prints it and the Lambda logs it. Its JSON shape is the contract documented in
//! the README ("The report"); the Lambda front end turns its failed messages into the SQS
//! batch response.

use crate::event::{Normalised, ObjectEvent};
use crate::name::TableName;
use serde::ser::SerializeSeq;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;

/// A reason an object is not registered: a sentence for people, and a kind from a small
/// fixed set, fit for a metric dimension. Reasons that only I/O can produce (a partition
/// still holds data) live with the code that does the I/O and implement this too.
pub trait Reason: fmt::Display {
    fn kind(&self) -> &'static str;
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartitionEntry {
    pub database: String,
    pub table: String,
    pub values: Vec<String>,
    pub location: String,
}

impl PartitionEntry {
    pub fn new(table: &TableName, values: &[String], location: &str) -> Self {
        Self {
            database: table.database.clone(),
            table: table.table.clone(),
            values: values.to_vec(),
            location: location.to_owned(),
        }
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
}

impl Report {
    pub fn has_failures(&self) -> bool {
        !self.failed.is_empty()
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
                    error: None,
                })
                .collect(),
            objects: (0..ids.len())
                .map(|m| ObjectEvent {
                    bucket: "b",
                    key: "k",
                    change: Change::Created,
                    message: m,
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
