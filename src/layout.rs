//! Key → partition: where partition values are read out of an object key. Pure, no I/O.

use crate::decode::hive_unescape;
use crate::table::{Layout, Table};
use std::borrow::Cow;
use std::fmt;

/// Why an object is not registered. `kind` is a small fixed set, fit for a metric dimension.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Skip {
    OutsideTables,
    FolderMarker,
    HiddenSegment(String),
    Incomplete {
        missing: Vec<String>,
    },
    NotPartitionPath {
        expected: String,
        found: String,
    },
    NotTemplatePath,
    InvalidValue {
        key: String,
        value: String,
        problem: String,
    },
    /// The event names the object but does not create or remove it, or its key is unreadable.
    Ignored(String),
    /// An object was removed and `DELETE_EMPTY_PARTITIONS` is off.
    RemovalIgnored,
    /// An object was removed but its partition still holds data.
    PartitionNotEmpty,
    /// An object was removed from a partition the catalog does not have.
    NotRegistered,
}

impl Skip {
    pub fn kind(&self) -> &'static str {
        match self {
            Self::OutsideTables => "outside_tables",
            Self::FolderMarker => "folder_marker",
            Self::HiddenSegment(_) => "hidden_segment",
            Self::Incomplete { .. } => "incomplete_path",
            Self::NotPartitionPath { .. } => "not_partition_path",
            Self::NotTemplatePath => "not_template_path",
            Self::InvalidValue { .. } => "invalid_value",
            Self::Ignored(_) => "ignored_event",
            Self::RemovalIgnored => "removal_ignored",
            Self::PartitionNotEmpty => "partition_not_empty",
            Self::NotRegistered => "not_registered",
        }
    }
}

impl fmt::Display for Skip {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::OutsideTables => write!(f, "outside every served table's location"),
            Self::FolderMarker => write!(f, "folder marker"),
            Self::HiddenSegment(s) => write!(f, "hidden path segment `{s}`"),
            Self::Incomplete { missing } => write!(
                f,
                "incomplete partition path: no value for {}",
                missing.join(", ")
            ),
            Self::NotPartitionPath { expected, found } => write!(
                f,
                "not a partition path: expected `{expected}=...`, found `{found}`"
            ),
            Self::NotTemplatePath => {
                write!(f, "does not match the table's storage.location.template")
            }
            Self::InvalidValue {
                key,
                value,
                problem,
            } => write!(
                f,
                "invalid value for partition key `{key}`: `{value}` {problem}"
            ),
            Self::Ignored(reason) => write!(f, "{reason}"),
            Self::RemovalIgnored => write!(
                f,
                "object removed; partitions are kept (DELETE_EMPTY_PARTITIONS is off)"
            ),
            Self::PartitionNotEmpty => write!(f, "object removed; its partition still holds data"),
            Self::NotRegistered => write!(f, "object removed; its partition was not registered"),
        }
    }
}

/// Whether a key holds data as Hive sees it: not a folder marker, and no segment of `rest`
/// (the part of the key under a table or partition location) hidden by `_` or `.`.
pub fn data_key(key: &str, rest: &str) -> Result<(), Skip> {
    if key.ends_with('/') || key.ends_with("_$folder$") {
        return Err(Skip::FolderMarker);
    }
    match rest.split('/').find(|s| s.starts_with(['_', '.'])) {
        Some(hidden) => Err(Skip::HiddenSegment(hidden.to_owned())),
        None => Ok(()),
    }
}

/// Find the partition directory of `key`, which lies under `table`'s location:
/// `key[..end]` (ending in `/`). Values are read apart, by [`values`], once per directory:
/// most objects of an event share their directory with others.
pub fn locate(table: &Table, key: &str) -> Result<usize, Skip> {
    let prefix_len = table.location.prefix.len();
    data_key(key, &key[prefix_len..])?;
    match &table.layout {
        Layout::Hive => locate_hive(table, key, prefix_len),
        Layout::Template(template) => template
            .regex
            .find(key)
            .map(|m| m.end())
            .ok_or(Skip::NotTemplatePath),
    }
}

fn locate_hive(table: &Table, key: &str, prefix_len: usize) -> Result<usize, Skip> {
    let mut pos = prefix_len;
    for (i, pk) in table.keys.iter().enumerate() {
        // A segment is a directory only if a `/` follows it; the last segment is the file.
        let Some(len) = key[pos..].find('/') else {
            return Err(Skip::Incomplete {
                missing: table.keys[i..].iter().map(|k| k.name.clone()).collect(),
            });
        };
        let segment = &key[pos..pos + len];
        match segment.split_once('=') {
            Some((name, _)) if name.eq_ignore_ascii_case(&pk.name) => {}
            _ => {
                return Err(Skip::NotPartitionPath {
                    expected: pk.name.clone(),
                    found: segment.to_owned(),
                });
            }
        }
        pos += len + 1;
    }
    Ok(pos)
}

/// The partition values of a directory found by [`locate`] (`dir` is `key[..end]`).
pub fn values<'k>(table: &Table, dir: &'k str) -> Vec<Cow<'k, str>> {
    match &table.layout {
        Layout::Hive => dir[table.location.prefix.len()..]
            .split_terminator('/')
            .map(|segment| hive_unescape(segment.split_once('=').map_or("", |(_, v)| v)))
            .collect(),
        Layout::Template(template) => match template.regex.captures(dir) {
            Some(caps) => template
                .groups
                .iter()
                .map(|g| Cow::Borrowed(caps.get(*g).map_or("", |m| m.as_str())))
                .collect(),
            None => Vec::new(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::TableName;

    fn hive(location: &str, keys: &[&str]) -> Table {
        let keys: Vec<(String, String)> = keys
            .iter()
            .map(|k| (k.to_string(), "string".to_string()))
            .collect();
        Table::new(
            TableName::parse("d.t").unwrap(),
            Some(location),
            &keys,
            None,
        )
        .unwrap()
    }

    /// The values and the directory of a key, as the planner reads them.
    fn located(t: &Table, key: &str) -> Result<(Vec<String>, String), Skip> {
        let end = locate(t, key)?;
        let dir = &key[..end];
        Ok((
            values(t, dir).iter().map(|v| v.to_string()).collect(),
            dir.to_owned(),
        ))
    }

    #[test]
    fn hive_segments_give_values_and_directory() {
        let t = hive("s3://b/events/", &["year", "month"]);
        let key = "events/year=2026/month=11/part-0.parquet";
        let (values, dir) = located(&t, key).unwrap();
        assert_eq!(values, ["2026", "11"]);
        assert_eq!(dir, "events/year=2026/month=11/");
    }

    #[test]
    fn hive_names_compare_case_insensitively() {
        let t = hive("s3://b/e/", &["year"]);
        assert_eq!(located(&t, "e/YEAR=2026/f").unwrap().0, ["2026"]);
    }

    #[test]
    fn hive_values_are_unescaped() {
        let t = hive("s3://b/e/", &["ts"]);
        assert_eq!(located(&t, "e/ts=12%3A00/f").unwrap().0, ["12:00"]);
    }

    #[test]
    fn file_in_a_partial_path_is_incomplete() {
        let t = hive("s3://b/e/", &["year", "month"]);
        assert_eq!(
            located(&t, "e/year=2026/f.csv"),
            Err(Skip::Incomplete {
                missing: vec!["month".into()]
            })
        );
    }

    #[test]
    fn wrong_key_order_is_not_a_partition_path() {
        let t = hive("s3://b/e/", &["year", "month"]);
        assert!(matches!(
            locate(&t, "e/month=11/year=2026/f"),
            Err(Skip::NotPartitionPath { .. })
        ));
    }

    #[test]
    fn folder_markers_are_skipped() {
        let t = hive("s3://b/e/", &["year"]);
        assert_eq!(locate(&t, "e/year=2026/"), Err(Skip::FolderMarker));
        assert_eq!(locate(&t, "e/year=2026_$folder$"), Err(Skip::FolderMarker));
    }

    #[test]
    fn hidden_segments_are_skipped() {
        let t = hive("s3://b/e/", &["year"]);
        assert!(matches!(
            locate(&t, "e/_SUCCESS"),
            Err(Skip::HiddenSegment(_))
        ));
        assert!(matches!(
            locate(&t, "e/year=2026/_temporary/0/f"),
            Err(Skip::HiddenSegment(_))
        ));
        assert!(matches!(
            locate(&t, "e/.spark-staging-1/year=2026/f"),
            Err(Skip::HiddenSegment(_))
        ));
    }

    #[test]
    fn template_layout_reads_values() {
        let t = Table::new(
            TableName::parse("d.t").unwrap(),
            Some("s3://b/logs/"),
            &[
                ("year".into(), "int".into()),
                ("month".into(), "int".into()),
            ],
            Some("s3://b/logs/${year}/${month}"),
        )
        .unwrap();
        let key = "logs/2026/11/app.log.gz";
        let (values, dir) = located(&t, key).unwrap();
        assert_eq!(values, ["2026", "11"]);
        assert_eq!(dir, "logs/2026/11/");
        assert_eq!(located(&t, "logs/2026/app.log"), Err(Skip::NotTemplatePath));
    }
}
