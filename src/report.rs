//! The report: what happened to every object of an event, as `handle` prints it and the
//! Lambda logs it (DESIGN.md, "The report").

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartitionEntry {
    pub database: String,
    pub table: String,
    pub values: Vec<String>,
    pub location: String,
}

impl PartitionEntry {
    pub fn new(table: &crate::config::TableName, values: &[String], location: &str) -> Self {
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

/// Lambda's own type for a message to retry: `{"itemIdentifier": "<messageId>"}`.
pub use aws_lambda_events::event::sqs::{BatchItemFailure, SqsBatchResponse};

/// A batch item failure naming one SQS message.
pub fn batch_item_failure(message_id: String) -> BatchItemFailure {
    let mut failure = BatchItemFailure::default();
    failure.item_identifier = message_id;
    failure
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Report {
    pub created: Vec<PartitionEntry>,
    pub existing: Vec<PartitionEntry>,
    pub deleted: Vec<PartitionEntry>,
    pub skipped: Vec<SkippedEntry>,
    pub failed: Vec<FailedEntry>,
    /// Present only for SQS events: the messages to retry.
    #[serde(
        rename = "batchItemFailures",
        skip_serializing_if = "Option::is_none",
        default
    )]
    pub batch_item_failures: Option<Vec<BatchItemFailure>>,
    /// Set when a backfill or sync stopped early (at the Lambda deadline): where, and how to go on.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub stopped: Option<String>,
    /// Set by `--dry-run`: `created` and `deleted` are what would have been written.
    #[serde(rename = "dryRun", skip_serializing_if = "std::ops::Not::not", default)]
    pub dry_run: bool,
}

impl Report {
    pub fn has_failures(&self) -> bool {
        !self.failed.is_empty()
    }

    /// The Lambda's response to an SQS event: exactly the messages to retry, nothing else.
    pub fn sqs_response(&self) -> serde_json::Value {
        let mut response = SqsBatchResponse::default();
        response.batch_item_failures = self.batch_item_failures.clone().unwrap_or_default();
        serde_json::to_value(response).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
    fn report_has_every_section_even_when_empty() {
        let v = serde_json::to_value(Report::default()).unwrap();
        for section in ["created", "existing", "deleted", "skipped", "failed"] {
            assert!(v[section].is_array(), "{section}");
        }
    }
}
