//! Key → partition: where partition values are read out of an object key, and the rules that
//! skip a key. Pure, no I/O.
//!
//! Keys are read one directory level at a time against the table's [`Layout`], so a rejection
//! also says how far it reaches: a hidden or foreign directory rejects every key under it,
//! which lets a walk of the bucket step over the whole directory in one request.
//!
//! [`Layout`]: crate::table::Layout

use crate::decode::hive_unescape;
use crate::glue::{GlueRule, check_partition};
use crate::reason::Reason;
use crate::table::{Segment, Table};
use std::borrow::Cow;
use std::fmt;

/// Why an object key is not a partition's. `kind` is a small fixed set, fit for a metric
/// dimension.
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
    /// Glue's documented input rules refuse the partition (a value too long or holding a
    /// character an indexed key may not hold, a control character in the location): it is
    /// never sent.
    GlueRule(GlueRule),
    /// A data object of a table that registers partitions on their completion marker: its
    /// partition is registered when the marker lands (not retried).
    AwaitingMarker {
        marker: String,
    },
    /// A completion marker not directly in a partition's directory (the table's root, a
    /// subdirectory of a partition): it completes nothing.
    MarkerNotInPartition {
        marker: String,
    },
}

impl Reason for Skip {
    fn kind(&self) -> &'static str {
        match self {
            Self::OutsideTables => "outside_tables",
            Self::FolderMarker => "folder_marker",
            Self::HiddenSegment(_) => "hidden_segment",
            Self::Incomplete { .. } => "incomplete_path",
            Self::NotPartitionPath { .. } => "not_partition_path",
            Self::NotTemplatePath => "not_template_path",
            Self::InvalidValue { .. } => "invalid_value",
            Self::Ignored(_) => "ignored_event",
            Self::GlueRule(rule) => rule.kind(),
            Self::AwaitingMarker { .. } => "awaiting_marker",
            Self::MarkerNotInPartition { .. } => "marker_not_partition",
        }
    }
}

impl Skip {
    /// Hidden files and folder markers are the normal furniture of a data lake: a walk of
    /// the bucket does not report them one by one.
    pub fn is_furniture(&self) -> bool {
        matches!(self, Self::HiddenSegment(_) | Self::FolderMarker)
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
            Self::GlueRule(rule) => write!(f, "{rule}"),
            Self::AwaitingMarker { marker } => write!(
                f,
                "the table registers a partition when its job's marker `{marker}` lands, not with its data objects (registrar.registration = marker)"
            ),
            Self::MarkerNotInPartition { marker } => write!(
                f,
                "completion marker `{marker}` not directly in a partition's directory: it completes nothing"
            ),
        }
    }
}

/// A key that is not in a partition, and how far that verdict reaches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejected {
    pub skip: Skip,
    /// `Some(end)`: every key that starts with `key[..end]` (a directory, ending in `/`) is
    /// rejected for the same reason. `None`: the verdict is about this key alone.
    pub dir_end: Option<usize>,
}

/// Whether a key holds data as Hive sees it: not a folder marker, and no segment of `rest`
/// (the part of the key under a table or partition location) hidden by `_` or `.`.
pub fn data_key(key: &str, rest: &str) -> Result<(), Skip> {
    if is_marker(key) {
        return Err(Skip::FolderMarker);
    }
    match rest.split('/').find(|s| is_hidden(s)) {
        Some(hidden) => Err(Skip::HiddenSegment(hidden.to_owned())),
        None => Ok(()),
    }
}

/// The end (past its `/`) of the first hidden directory in `key[from..]`: every key under
/// it is hidden too, so a listing can step over it.
pub fn hidden_directory(key: &str, from: usize) -> Option<usize> {
    let mut pos = from;
    while let Some(i) = key.get(pos..)?.find('/') {
        if is_hidden(&key[pos..pos + i]) {
            return Some(pos + i + 1);
        }
        pos += i + 1;
    }
    None
}

fn is_marker(key: &str) -> bool {
    key.ends_with('/') || key.ends_with("_$folder$")
}

fn is_hidden(segment: &str) -> bool {
    segment.starts_with(['_', '.'])
}

/// Whether a file name is the table's completion marker, and the table reads markers.
pub fn is_completion_marker(table: &Table, name: &str) -> bool {
    table.completion.reads_markers() && name == table.completion.marker
}

/// Whether `key` (which [`classify`] put in a partition) is that partition's marker.
pub fn marks(table: &Table, key: &str) -> bool {
    is_completion_marker(table, key.rsplit('/').next().unwrap_or(key))
}

/// Find the partition directory of `key`, a key of `table`'s bucket: `key[..end]` (ending in
/// `/`). Values are read apart, by [`values`], once per directory: most objects of an event
/// share their directory with others.
pub fn locate(table: &Table, key: &str) -> Result<usize, Skip> {
    classify(table, key).map_err(|r| r.skip)
}

/// [`locate`], with how far a rejection reaches. Each directory level is checked in order,
/// hidden first, then against the layout, so the verdict is the first level that fails.
pub fn classify(table: &Table, key: &str) -> Result<usize, Rejected> {
    let reject = |skip, dir_end| Err(Rejected { skip, dir_end });
    let location = table.location.prefix.as_str();
    if !key.starts_with(location) {
        return reject(Skip::OutsideTables, None);
    }
    if is_marker(key) {
        return reject(Skip::FolderMarker, None);
    }
    let layout = &table.layout;
    // A template whose fixed directories lie outside the table's location matches nothing.
    if !layout.base.starts_with(location) {
        return reject(Skip::NotTemplatePath, None);
    }
    let mut pos = location.len();
    let mut level = 0;
    let mut partition_end = None;
    loop {
        let end = key.as_bytes()[pos..]
            .iter()
            .position(|&b| b == b'/')
            .map(|i| pos + i);
        let segment = &key[pos..end.unwrap_or(key.len())];
        // A completion marker is hidden (`_SUCCESS`) but, as a file, read as the table says.
        let marker = end.is_none() && is_completion_marker(table, segment);
        if is_hidden(segment) && !marker {
            return reject(Skip::HiddenSegment(segment.to_owned()), end.map(|e| e + 1));
        }
        // The last segment is the file name: only directories carry partition values.
        let Some(end) = end else { break };
        if partition_end.is_none() {
            if end < layout.base.len() {
                if !layout.base.starts_with(&key[..=end]) {
                    return reject(Skip::NotTemplatePath, Some(end + 1));
                }
            } else {
                if let Err(skip) = match_segment(table, &layout.segments[level], segment) {
                    return reject(skip, Some(end + 1));
                }
                level += 1;
                if level == layout.segments.len() {
                    partition_end = Some(end + 1);
                }
            }
        }
        pos = end + 1;
    }
    let file = &key[pos..];
    let marker = || Skip::MarkerNotInPartition {
        marker: file.to_owned(),
    };
    match partition_end {
        Some(end) if end != pos && is_completion_marker(table, file) => reject(marker(), None),
        Some(end) => Ok(end),
        None if is_completion_marker(table, file) => reject(marker(), None),
        None if layout.templated => reject(Skip::NotTemplatePath, None),
        None => reject(
            Skip::Incomplete {
                missing: table.keys_in(level),
            },
            None,
        ),
    }
}

fn match_segment(table: &Table, segment: &Segment, text: &str) -> Result<(), Skip> {
    let matched = match segment {
        Segment::Hive(k) => {
            let name = &table.keys[*k].name;
            let matched = text
                .split_once('=')
                .is_some_and(|(n, _)| n.eq_ignore_ascii_case(name));
            if !matched {
                return Err(Skip::NotPartitionPath {
                    expected: name.clone(),
                    found: text.to_owned(),
                });
            }
            true
        }
        Segment::Literal(literal) => literal == text,
        Segment::Pattern(pattern) => pattern.matches(text),
    };
    if matched {
        Ok(())
    } else {
        Err(Skip::NotTemplatePath)
    }
}

/// The partition values of a directory found by [`locate`] (`dir` is `key[..end]`), in
/// partition key order.
pub fn values<'k>(table: &Table, dir: &'k str) -> Vec<Cow<'k, str>> {
    let layout = &table.layout;
    let Some(under) = dir.get(layout.base.len()..) else {
        return Vec::new();
    };
    let mut values = vec![Cow::Borrowed(""); table.keys.len()];
    for (segment, text) in layout.segments.iter().zip(under.split_terminator('/')) {
        match segment {
            Segment::Hive(k) => {
                values[*k] = hive_unescape(text.split_once('=').map_or("", |(_, v)| v));
            }
            Segment::Literal(_) => {}
            Segment::Pattern(pattern) => {
                pattern.read(text, |k, v| values[k] = Cow::Borrowed(v));
            }
        }
    }
    values
}

/// Whether a partition (the `values` read from its directory, and its `location`) may be
/// registered: values valid for their keys' types, and values and location within Glue's
/// documented input rules. Everything the registrar registers passes through here.
pub fn accept(table: &Table, values: &[Cow<'_, str>], location: &str) -> Result<(), Skip> {
    validate(table, values)?;
    let keys = table.keys.iter().map(|k| k.name.as_str());
    check_partition(keys, values, location).map_err(Skip::GlueRule)
}

/// Check values against their keys' types: Glue accepts any string, and Athena then fails on
/// the whole table.
pub fn validate(table: &Table, values: &[Cow<'_, str>]) -> Result<(), Skip> {
    for (pk, value) in table.keys.iter().zip(values) {
        if value.is_empty() {
            return Err(Skip::InvalidValue {
                key: pk.name.clone(),
                value: String::new(),
                problem: "is empty".to_owned(),
            });
        }
        pk.ty
            .validate(value)
            .map_err(|problem| Skip::InvalidValue {
                key: pk.name.clone(),
                value: value.to_string(),
                problem,
            })?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::name::TableName;

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
    fn a_hive_escaped_value_glue_refuses_in_an_index_is_skipped_with_the_rule() {
        use crate::report::Reason;
        let t = hive("s3://b/events/", &["city", "day"]);
        for (escaped, c, hex) in [
            ("%00", '\u{0}', "U+0000"),
            ("%01", '\u{1}', "U+0001"),
            ("%02", '\u{2}', "U+0002"),
        ] {
            let key = format!("events/city=x{escaped}y/day=25/part-0.parquet");
            let (read, dir) = located(&t, &key).unwrap();
            assert_eq!(read[0], format!("x{c}y"));
            // The location keeps the escape: only the value holds the character.
            let location = format!("s3://b/{dir}");
            assert!(location.is_ascii() && !location.bytes().any(|b| b < 0x20));
            let read: Vec<Cow<str>> = read.into_iter().map(Cow::Owned).collect();
            let skip = accept(&t, &read, &location).unwrap_err();
            assert_eq!(skip.kind(), "glue_input_rule");
            assert!(skip.to_string().contains(hex), "{skip}");
        }
        let fine: Vec<Cow<str>> = vec!["x%03y".into(), "25".into()];
        assert!(accept(&t, &fine, "s3://b/events/city=x%03y/day=25/").is_ok());
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

    #[test]
    fn a_hidden_directory_rejects_every_key_under_it() {
        let t = hive("s3://b/e/", &["year"]);
        let key = "e/_temporary/0/part-0";
        let r = classify(&t, key).unwrap_err();
        assert_eq!(&key[..r.dir_end.unwrap()], "e/_temporary/");
    }

    #[test]
    fn a_foreign_directory_rejects_every_key_under_it() {
        let t = hive("s3://b/e/", &["year", "month"]);
        let key = "e/year=2026/backup/f";
        let r = classify(&t, key).unwrap_err();
        assert_eq!(&key[..r.dir_end.unwrap()], "e/year=2026/backup/");
    }

    #[test]
    fn hidden_directories_are_found_below_a_prefix() {
        let key = "t/d=1/x/_temporary/0/f";
        assert_eq!(
            hidden_directory(key, 6).map(|e| &key[..e]),
            Some("t/d=1/x/_temporary/")
        );
        assert_eq!(hidden_directory("t/d=1/_SUCCESS", 6), None);
        assert_eq!(hidden_directory("t/d=1/f", 99), None);
    }

    #[test]
    fn a_file_verdict_reaches_no_further_than_the_file() {
        let t = hive("s3://b/e/", &["year"]);
        assert_eq!(classify(&t, "e/_SUCCESS").unwrap_err().dir_end, None);
        assert_eq!(classify(&t, "e/stray.csv").unwrap_err().dir_end, None);
    }

    #[test]
    fn multibyte_directory_names_are_read_without_panicking() {
        let t = hive("s3://b/e/", &["year"]);
        for key in [
            "e/é=1/f",
            "e/yé/f",
            "e/ye\u{300}ar=1/f",
            "e/서울/f",
            "e/ÿear=1/f",
        ] {
            assert!(classify(&t, key).is_err(), "{key}");
        }
    }

    mod properties {
        use super::*;
        use proptest::prelude::*;

        fn tables() -> Vec<Table> {
            let keys = |names: &[&str]| -> Vec<(String, String)> {
                names
                    .iter()
                    .map(|n| (n.to_string(), "string".to_string()))
                    .collect()
            };
            vec![
                hive("s3://b/t/", &["year", "month"]),
                Table::new(
                    TableName::parse("d.tpl").unwrap(),
                    Some("s3://b/t/"),
                    &keys(&["year", "month"]),
                    Some("s3://b/t/logs/${year}-x/m${month}"),
                )
                .unwrap(),
            ]
        }

        /// Directory names built from what matters (`=`, `/`, hidden markers, escapes,
        /// multi-byte text, empty segments) reach the deep branches random text rarely does.
        fn key() -> impl Strategy<Value = String> {
            let part = prop_oneof![
                Just("year=2026".to_owned()),
                Just("YEAR=é".to_owned()),
                Just("month=11".to_owned()),
                Just("logs".to_owned()),
                Just("2026-x".to_owned()),
                Just("m11".to_owned()),
                Just("_SUCCESS".to_owned()),
                Just(".x".to_owned()),
                Just("%FF%3D".to_owned()),
                Just("서울=1".to_owned()),
                Just(String::new()),
                "\\PC{0,12}",
            ];
            prop::collection::vec(part, 0..6).prop_map(|p| format!("t/{}", p.join("/")))
        }

        proptest! {
            #[test]
            fn any_key_is_classified_without_panicking(key in prop_oneof![key(), "\\PC{0,80}"]) {
                for t in tables() {
                    if let Ok(end) = classify(&t, &key) {
                        let _ = values(&t, &key[..end]);
                    }
                }
            }

            /// What a walk of the bucket relies on to step over a directory: every key under
            /// the directory a verdict names gets the same verdict.
            #[test]
            fn a_verdict_holds_for_every_key_under_its_directory(
                key in key(),
                suffix in prop_oneof![key(), "\\PC{0,20}"],
            ) {
                for t in tables() {
                    match classify(&t, &key) {
                        Ok(end) => {
                            let dir = &key[..end];
                            let other = format!("{dir}{}", suffix.trim_start_matches("t/"));
                            prop_assert!(dir.ends_with('/'));
                            if let Ok(other_end) = classify(&t, &other) {
                                prop_assert_eq!(other_end, end);
                            }
                        }
                        Err(Rejected { skip, dir_end: Some(end) }) => {
                            let dir = &key[..end];
                            prop_assert!(dir.ends_with('/'));
                            let other = format!("{dir}{}", suffix.trim_start_matches("t/"));
                            let verdict = classify(&t, &other);
                            prop_assert!(verdict.is_err(), "{other} accepted under rejected {dir}");
                            let other_skip = verdict.unwrap_err().skip;
                            // A folder marker is told apart before anything else.
                            if other_skip != Skip::FolderMarker {
                                prop_assert_eq!(other_skip.kind(), skip.kind());
                            }
                        }
                        Err(_) => {}
                    }
                }
            }
        }
    }
}
