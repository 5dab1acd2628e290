//! `Partition Complete`: what the registrar tells downstream when a partition is complete,
//! its job's marker having landed (or, for a table without markers, its time having passed
//! by the table's lateness). One EventBridge event a partition; S3 delivers at least once,
//! so an event may come twice, with the same `id`: consumers deduplicate on it.

use crate::found::DirHasher;
use crate::name::TableName;
use crate::table::Table;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The events' `source`.
pub const SOURCE: &str = "glue-partition-registrar";
/// The events' `detail-type`.
pub const DETAIL_TYPE: &str = "Partition Complete";

/// Whether the registrar registered the partition for this completion or found it there.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Registered {
    Created,
    Existing,
}

/// What completed it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CompletedBy {
    /// Its job's marker landed.
    Marker,
    /// Its time ended, and the table's lateness (`complete_after`) passed.
    Lateness,
}

/// The marker object whose arrival completed the partition.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Marker {
    pub bucket: String,
    pub key: String,
    /// Its `versionId`, else its `eTag`, as S3's event named it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// When S3 says it landed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event_time: Option<String>,
}

/// An event's `detail`. Its JSON is a contract (README, "Partitions downstream can trust";
/// events/partition-complete.json).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PartitionComplete {
    /// The same for every delivery of one completion: derived from the table, the values and
    /// the marker's version (or the partition's end).
    pub id: String,
    pub database: String,
    pub table: String,
    pub values: Vec<String>,
    /// The values by partition key.
    pub partition: BTreeMap<String, String>,
    pub location: String,
    pub registered: Registered,
    pub completed_by: CompletedBy,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub marker: Option<Marker>,
    /// A time partition's end (RFC 3339), when lateness completed it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub partition_end: Option<String>,
    /// The deployment that announced it (`POWERTOOLS_SERVICE_NAME`).
    pub service: String,
}

/// What completed a partition, as its event tells it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cause<'a> {
    /// This marker landed; `told_apart` tells this completion apart from another of the same
    /// partition (the marker's version or ETag, or what made it: see [`event_id`]).
    Marker { marker: Marker, told_apart: &'a str },
    /// The partition's time ended at `end_ms` (ms since the epoch), and the lateness passed.
    Lateness { end_ms: i64 },
}

impl PartitionComplete {
    /// The event of the partition of `table` with `values` at `location`.
    pub fn new(
        table: &Table,
        values: &[String],
        location: &str,
        registered: Registered,
        cause: Cause<'_>,
        service: &str,
    ) -> Self {
        let (completed_by, marker, partition_end, id) = match cause {
            Cause::Marker { marker, told_apart } => (
                CompletedBy::Marker,
                Some(marker),
                None,
                event_id(&table.name, values, told_apart),
            ),
            Cause::Lateness { end_ms } => (
                CompletedBy::Lateness,
                None,
                Some(crate::time::format(end_ms)),
                event_id(&table.name, values, &format!("end:{end_ms}")),
            ),
        };
        Self {
            id,
            database: table.name.database.clone(),
            table: table.name.table.clone(),
            values: values.to_vec(),
            partition: table
                .keys
                .iter()
                .map(|k| k.name.clone())
                .zip(values.iter().cloned())
                .collect(),
            location: location.to_owned(),
            registered,
            completed_by,
            marker,
            partition_end,
            service: service.to_owned(),
        }
    }
}

/// Two fixed seeds: ids are the same in every process and every release.
const SEEDS: (u64, u64) = (0x6770_7266_6e69_7368, 0x636f_6d70_6c65_7465);

/// The id of a completion: 32 hex digits of a 128-bit hash of the table, the values and what
/// told the partition apart as complete (the marker's version or ETag, or its end).
pub fn event_id(table: &TableName, values: &[String], version: &str) -> String {
    let mut text = format!("{}.{}", table.database, table.table);
    for v in values {
        text.push('\u{1f}');
        text.push_str(v);
    }
    text.push('\u{1e}');
    text.push_str(version);
    let (a, b) = (DirHasher::new(SEEDS.0), DirHasher::new(SEEDS.1));
    format!("{:016x}{:016x}", a.hash(&text), b.hash(&text))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn a_redelivered_marker_gives_the_same_id_and_a_new_write_another() {
        let t = TableName::new("analytics", "clickstream");
        let a = event_id(
            &t,
            &values(&["2026", "12", "04"]),
            "\"9b2cf535f27731c974343645a3985328\"",
        );
        assert_eq!(a.len(), 32);
        assert_eq!(
            a,
            event_id(
                &t,
                &values(&["2026", "12", "04"]),
                "\"9b2cf535f27731c974343645a3985328\""
            )
        );
        assert_ne!(a, event_id(&t, &values(&["2026", "12", "04"]), "\"0f1e\""));
        assert_ne!(
            a,
            event_id(
                &t,
                &values(&["2026", "12", "05"]),
                "\"9b2cf535f27731c974343645a3985328\""
            )
        );
        // Values are joined unambiguously: ["ab", "c"] is not ["a", "bc"].
        assert_ne!(
            event_id(&t, &values(&["ab", "c"]), "v"),
            event_id(&t, &values(&["a", "bc"]), "v")
        );
    }

    #[test]
    fn the_id_is_the_same_in_every_release() {
        let t = TableName::new("d", "t");
        assert_eq!(
            event_id(&t, &values(&["1"]), "v"),
            "f46ee220a5cfc23c3d2a546c3a09e9dc"
        );
    }
}
