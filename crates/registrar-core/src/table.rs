//! The served tables as the planner sees them: location, partition keys and layout, read out
//! of Glue's table metadata once and checked up front.

use crate::name::TableName;
use crate::types::KeyType;

/// The table parameter (Athena partition projection's) that declares a non-Hive layout.
pub const TEMPLATE_PARAMETER: &str = "storage.location.template";
/// Table parameters of a table's registration policy (the module's `table_settings` set the
/// same per served table): `first_object` or `marker`, the marker's name, and how long after
/// a time partition's end it is complete for a table without markers.
pub const REGISTRATION_PARAMETER: &str = "registrar.registration";
pub const MARKER_PARAMETER: &str = "registrar.marker";
pub const COMPLETE_AFTER_PARAMETER: &str = "registrar.complete_after";
/// What Hadoop's, Spark's and EMRFS's committers write last into an output directory.
pub const DEFAULT_MARKER: &str = "_SUCCESS";

/// When a partition is registered.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Registration {
    /// With its first object: queryable in seconds, possibly half written (the default).
    #[default]
    FirstObject,
    /// With its completion marker: readers never see a partition whose job has not finished.
    Marker,
}

/// How a table's partitions are registered, and when they are complete.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Completion {
    pub registration: Registration,
    /// The file a job writes last into a partition's directory.
    pub marker: String,
    /// Completion is announced (a bus is configured): a marker then completes its partition
    /// in `first_object` mode too.
    pub announce: bool,
    /// Seconds after a time partition's end when it is complete, for tables without markers
    /// (the scheduled repair announces it).
    pub complete_after: Option<u64>,
}

impl Default for Completion {
    fn default() -> Self {
        Self {
            registration: Registration::FirstObject,
            marker: DEFAULT_MARKER.to_owned(),
            announce: false,
            complete_after: None,
        }
    }
}

/// A registration setting that cannot be used, as written.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SettingError {
    #[error("`{REGISTRATION_PARAMETER}` is `first_object` or `marker`, not `{0}`")]
    Registration(String),
    #[error("`{MARKER_PARAMETER}` is a file name (`_SUCCESS`, `_DONE`), not `{0}`")]
    Marker(String),
    #[error("`{COMPLETE_AFTER_PARAMETER}` is a duration such as `15m`, `2h` or `1d`, not `{0}`")]
    CompleteAfter(String),
}

impl Completion {
    /// The settings as a table's parameters (or the module's per-table settings) write them;
    /// absent ones keep their default.
    pub fn from_settings(
        registration: Option<&str>,
        marker: Option<&str>,
        complete_after: Option<&str>,
    ) -> Result<Self, SettingError> {
        let mut c = Self::default();
        match registration.map(str::trim) {
            None | Some("") | Some("first_object") => {}
            Some("marker") => c.registration = Registration::Marker,
            Some(other) => return Err(SettingError::Registration(other.to_owned())),
        }
        if let Some(m) = marker.map(str::trim).filter(|m| !m.is_empty()) {
            if m.contains('/') || m.len() > 255 {
                return Err(SettingError::Marker(m.to_owned()));
            }
            c.marker = m.to_owned();
        }
        if let Some(text) = complete_after.map(str::trim).filter(|t| !t.is_empty()) {
            c.complete_after =
                Some(seconds(text).ok_or_else(|| SettingError::CompleteAfter(text.to_owned()))?);
        }
        Ok(c)
    }

    /// Whether a marker file means something for this table: it registers the partition, or
    /// it completes it.
    pub fn reads_markers(&self) -> bool {
        self.registration == Registration::Marker || self.announce
    }
}

/// `15m`, `2h`, `1d`, `90s` as seconds.
fn seconds(text: &str) -> Option<u64> {
    let (number, unit) = text.split_at(text.find(|c: char| !c.is_ascii_digit())?);
    let n: u64 = number.parse().ok()?;
    let per = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => return None,
    };
    n.checked_mul(per)
}

/// Why a Glue table cannot be served.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TableError {
    #[error("table {0} has no storage location")]
    NoLocation(TableName),
    #[error("table {table} has location `{location}`, which is not an s3://, s3a:// or s3n:// URI")]
    NotS3 { table: TableName, location: String },
    #[error("table {table} has no partition keys, so there is nothing to register")]
    Unpartitioned {
        table: TableName,
        location: S3Location,
    },
    #[error("table {}: {TEMPLATE_PARAMETER} `{}` {}", .0.table, .0.template, .0.problem)]
    BadTemplate(Box<TemplateProblem>),
    #[error("table {}: {}", .0.table, .0.error)]
    BadSetting(Box<BadSetting>),
}

/// A registration setting a table cannot be served with, and where the table is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadSetting {
    pub table: TableName,
    pub location: S3Location,
    pub error: SettingError,
}

impl TableError {
    /// Where the table's objects are, when it has an S3 location at all: a table that cannot
    /// be served still owns the keys under it.
    pub fn location(&self) -> Option<&S3Location> {
        match self {
            Self::NoLocation(_) | Self::NotS3 { .. } => None,
            Self::Unpartitioned { location, .. } => Some(location),
            Self::BadTemplate(problem) => Some(&problem.location),
            Self::BadSetting(bad) => Some(&bad.location),
        }
    }
}

/// A `storage.location.template` that cannot be used, and where its table is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TemplateProblem {
    pub table: TableName,
    pub location: S3Location,
    pub template: String,
    pub problem: String,
}

/// An S3 location: the table's, or a partition's.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct S3Location {
    /// `s3`, `s3a` or `s3n`, kept as the table has it so partitions look like their table.
    pub scheme: String,
    pub bucket: String,
    /// Empty for a bucket root, otherwise ending in `/`: a location names a directory, so
    /// `events` must not match `events_archive/...`.
    pub prefix: String,
}

impl S3Location {
    pub fn parse(uri: &str) -> Option<Self> {
        let (scheme, rest) = uri.trim().split_once("://")?;
        let scheme = scheme.to_ascii_lowercase();
        if !matches!(scheme.as_str(), "s3" | "s3a" | "s3n") {
            return None;
        }
        let (bucket, path) = rest.split_once('/').unwrap_or((rest, ""));
        if bucket.is_empty() {
            return None;
        }
        let mut prefix = path.trim_start_matches('/').to_owned();
        if !prefix.is_empty() && !prefix.ends_with('/') {
            prefix.push('/');
        }
        Some(Self {
            scheme,
            bucket: bucket.to_owned(),
            prefix,
        })
    }

    /// The URI of a directory under this location's bucket.
    pub fn uri_of(&self, key_prefix: &str) -> String {
        format!("{}://{}/{}", self.scheme, self.bucket, key_prefix)
    }

    pub fn uri(&self) -> String {
        self.uri_of(&self.prefix)
    }

    /// Whether the object `bucket`/`key` lies under this location, whatever the scheme:
    /// `s3a://b/t/` and `s3://b/t/` name the same objects.
    pub fn holds(&self, bucket: &str, key: &str) -> bool {
        self.bucket == bucket && key.starts_with(&self.prefix)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartitionKey {
    pub name: String,
    pub ty: KeyType,
}

/// One directory level of a partition layout.
#[derive(Debug, Clone)]
pub enum Segment {
    /// `name=value`, for the partition key with this index.
    Hive(usize),
    /// A fixed directory name between placeholders (`${year}/data/${month}`).
    Literal(String),
    /// A directory name with placeholders (`${year}`, `m${month}`, `${year}-${month}`).
    Pattern(Pattern),
}

/// A directory name with placeholders: fixed text around and between them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pattern {
    /// The fixed text before, between and after the placeholders: one more than `keys`.
    pub literals: Vec<String>,
    /// For each placeholder in order, the index of its partition key.
    pub keys: Vec<usize>,
}

impl Pattern {
    /// Match a whole segment, calling `value(key, text)` for each placeholder. A placeholder
    /// takes at least one character, as few as let the next fixed text follow (the last one
    /// takes all that is left before the final fixed text), as the regex `(.+?)` would.
    pub fn read<'t>(&self, text: &'t str, mut value: impl FnMut(usize, &'t str)) -> bool {
        let n = self.keys.len();
        // `${year}` alone, the common case: the whole segment.
        if n == 1 && self.literals[0].is_empty() && self.literals[1].is_empty() {
            if text.is_empty() {
                return false;
            }
            value(self.keys[0], text);
            return true;
        }
        let Some(rest) = text.strip_prefix(self.literals[0].as_str()) else {
            return false;
        };
        let Some(mut rest) = rest.strip_suffix(self.literals[n].as_str()) else {
            return false;
        };
        for i in 0..n {
            let taken = if i + 1 == n {
                rest.len()
            } else {
                let next = self.literals[i + 1].as_str();
                // At least one character: the search starts past the first.
                let Some(first) = rest.chars().next() else {
                    return false;
                };
                match rest[first.len_utf8()..].find(next) {
                    Some(at) => at + first.len_utf8(),
                    None => return false,
                }
            };
            if taken == 0 {
                return false;
            }
            value(self.keys[i], &rest[..taken]);
            if i + 1 < n {
                rest = &rest[taken + self.literals[i + 1].len()..];
            }
        }
        true
    }

    pub fn matches(&self, text: &str) -> bool {
        self.read(text, |_, _| {})
    }
}

/// How partition values are laid out in keys: one [`Segment`] per directory level under
/// `base`. Matching segment by segment (rather than one regex over the key) tells a walk of
/// the bucket the whole directory whose keys can all be skipped.
#[derive(Debug, Clone)]
pub struct Layout {
    /// The key prefix under which the segments start (empty or ending in `/`): the table's
    /// prefix for Hive, the template's leading fixed directories otherwise.
    pub base: String,
    pub segments: Vec<Segment>,
    /// Declared by `storage.location.template` rather than Hive's `name=value`.
    pub templated: bool,
}

/// A served table.
#[derive(Debug, Clone)]
pub struct Table {
    pub name: TableName,
    pub location: S3Location,
    pub keys: Vec<PartitionKey>,
    pub layout: Layout,
    /// When its partitions are registered and complete.
    pub completion: Completion,
}

impl AsRef<Table> for Table {
    fn as_ref(&self) -> &Table {
        self
    }
}

impl Table {
    /// Build from what Glue holds: the location URI, partition keys `(name, type)` in order,
    /// and the template parameter if the table has one.
    pub fn new(
        name: TableName,
        location: Option<&str>,
        keys: &[(String, String)],
        template: Option<&str>,
    ) -> Result<Self, TableError> {
        let location_text = location
            .filter(|l| !l.trim().is_empty())
            .ok_or_else(|| TableError::NoLocation(name.clone()))?;
        let location = S3Location::parse(location_text).ok_or_else(|| TableError::NotS3 {
            table: name.clone(),
            location: location_text.to_owned(),
        })?;
        if keys.is_empty() {
            return Err(TableError::Unpartitioned {
                table: name,
                location,
            });
        }
        let keys: Vec<PartitionKey> = keys
            .iter()
            .map(|(n, t)| PartitionKey {
                name: n.to_ascii_lowercase(),
                ty: KeyType::parse(t),
            })
            .collect();
        let layout = match template.map(str::trim).filter(|t| !t.is_empty()) {
            None => Layout {
                base: location.prefix.clone(),
                segments: (0..keys.len()).map(Segment::Hive).collect(),
                templated: false,
            },
            Some(t) => compile_template(&name, &location, &keys, t)?,
        };
        Ok(Self {
            name,
            location,
            keys,
            layout,
            completion: Completion::default(),
        })
    }

    /// The table with its registration policy.
    pub fn with_completion(mut self, completion: Completion) -> Self {
        self.completion = completion;
        self
    }

    /// The partition key names whose values live in `segments[from..]`, in key order.
    pub fn keys_in(&self, from: usize) -> Vec<String> {
        let mut indices: Vec<usize> = self.layout.segments[from.min(self.layout.segments.len())..]
            .iter()
            .flat_map(|s| match s {
                Segment::Hive(k) => vec![*k],
                Segment::Literal(_) => vec![],
                Segment::Pattern(p) => p.keys.clone(),
            })
            .collect();
        indices.sort_unstable();
        indices
            .into_iter()
            .map(|k| self.keys[k].name.clone())
            .collect()
    }
}

/// Turn `s3://bucket/logs/${year}/${month}/${day}` into segments. Each placeholder matches
/// within one path segment, every partition key must appear exactly once, and the template
/// must lie in the table's bucket.
fn compile_template(
    name: &TableName,
    location: &S3Location,
    keys: &[PartitionKey],
    template: &str,
) -> Result<Layout, TableError> {
    let bad = |problem: String| {
        TableError::BadTemplate(Box::new(TemplateProblem {
            table: name.clone(),
            location: location.clone(),
            template: template.to_owned(),
            problem,
        }))
    };
    let parsed =
        S3Location::parse(template).ok_or_else(|| bad("is not an s3:// URI".to_owned()))?;
    if parsed.bucket != location.bucket {
        return Err(bad(format!(
            "is in bucket `{}`, not the table's bucket `{}`",
            parsed.bucket, location.bucket
        )));
    }
    let mut seen = vec![false; keys.len()];
    let mut base = String::new();
    let mut segments = Vec::new();
    for text in parsed.prefix.split_terminator('/') {
        if !text.contains("${") {
            if segments.is_empty() {
                base.push_str(text);
                base.push('/');
            } else {
                segments.push(Segment::Literal(text.to_owned()));
            }
            continue;
        }
        let mut literals = Vec::new();
        let mut segment_keys = Vec::new();
        let mut rest = text;
        while let Some(start) = rest.find("${") {
            literals.push(rest[..start].to_owned());
            let after = &rest[start + 2..];
            let end = after
                .find('}')
                .ok_or_else(|| bad("has an unclosed `${`".to_owned()))?;
            let placeholder = after[..end].trim().to_ascii_lowercase();
            let index = keys
                .iter()
                .position(|k| k.name == placeholder)
                .ok_or_else(|| {
                    bad(format!(
                        "names `{placeholder}`, which is not a partition key"
                    ))
                })?;
            if seen[index] {
                return Err(bad(format!("names `{placeholder}` twice")));
            }
            seen[index] = true;
            segment_keys.push(index);
            rest = &after[end + 1..];
        }
        literals.push(rest.to_owned());
        segments.push(Segment::Pattern(Pattern {
            literals,
            keys: segment_keys,
        }));
    }
    if let Some(missing) = keys.iter().zip(&seen).find(|(_, s)| !**s) {
        return Err(bad(format!(
            "does not name partition key `{}`",
            missing.0.name
        )));
    }
    Ok(Layout {
        base,
        segments,
        templated: true,
    })
}

#[cfg(test)]
mod completion_tests {
    use super::*;

    #[test]
    fn settings_read_as_written_and_refused_with_what_to_write() {
        let c = Completion::from_settings(Some("marker"), Some("_DONE"), Some("15m")).unwrap();
        assert_eq!(c.registration, Registration::Marker);
        assert_eq!((c.marker.as_str(), c.complete_after), ("_DONE", Some(900)));
        let d = Completion::from_settings(None, None, None).unwrap();
        assert_eq!(d, Completion::default());
        assert_eq!(d.marker, "_SUCCESS");
        let e = Completion::from_settings(Some("on_marker"), None, None).unwrap_err();
        assert!(e.to_string().contains("`first_object` or `marker`"), "{e}");
        assert!(Completion::from_settings(None, Some("a/b"), None).is_err());
        assert!(Completion::from_settings(None, None, Some("soon")).is_err());
        assert_eq!(
            Completion::from_settings(None, None, Some("1d"))
                .unwrap()
                .complete_after,
            Some(86_400)
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name() -> TableName {
        TableName::parse("d.t").unwrap()
    }

    fn keys(names: &[&str]) -> Vec<(String, String)> {
        names
            .iter()
            .map(|n| (n.to_string(), "string".to_string()))
            .collect()
    }

    #[test]
    fn location_gets_a_trailing_slash() {
        let l = S3Location::parse("s3://b/events").unwrap();
        assert_eq!(l.prefix, "events/");
        assert_eq!(l.uri(), "s3://b/events/");
    }

    #[test]
    fn s3a_and_s3n_locations_count() {
        assert_eq!(S3Location::parse("s3a://b/x/").unwrap().scheme, "s3a");
        assert_eq!(S3Location::parse("s3n://b").unwrap().prefix, "");
        assert!(S3Location::parse("hdfs://b/x").is_none());
        assert!(S3Location::parse("s3:///x").is_none());
    }

    #[test]
    fn a_location_holds_keys_under_it_whatever_its_scheme() {
        let l = S3Location::parse("s3a://b/t/dt=1").unwrap();
        assert!(l.holds("b", "t/dt=1/f"));
        assert!(!l.holds("b", "t/dt=10/f"));
        assert!(!l.holds("c", "t/dt=1/f"));
    }

    #[test]
    fn table_without_partition_keys_is_rejected() {
        assert!(matches!(
            Table::new(name(), Some("s3://b/x"), &[], None),
            Err(TableError::Unpartitioned { .. })
        ));
    }

    #[test]
    fn template_must_name_every_key() {
        let err = Table::new(
            name(),
            Some("s3://b/logs/"),
            &keys(&["year", "month"]),
            Some("s3://b/logs/${year}"),
        )
        .unwrap_err();
        assert!(
            err.to_string()
                .contains("does not name partition key `month`")
        );
    }

    #[test]
    fn template_must_not_name_unknown_keys() {
        let err = Table::new(
            name(),
            Some("s3://b/logs/"),
            &keys(&["year"]),
            Some("s3://b/logs/${year}/${hour}"),
        )
        .unwrap_err();
        assert!(err.to_string().contains("`hour`"));
    }

    #[test]
    fn template_compiles_to_a_base_and_one_segment_per_directory() {
        let t = Table::new(
            name(),
            Some("s3://b/logs/"),
            &keys(&["year", "month"]),
            Some("s3://b/logs/${year}/data/m${month}"),
        )
        .unwrap();
        assert_eq!(t.layout.base, "logs/");
        assert_eq!(t.layout.segments.len(), 3);
        let Segment::Pattern(pattern) = &t.layout.segments[2] else {
            panic!("expected a pattern")
        };
        assert_eq!(pattern.keys, [1]);
        assert!(pattern.matches("m11"));
        assert!(!pattern.matches("11"));
        assert!(!pattern.matches("m"));
    }

    fn read(p: &Pattern, text: &str) -> Option<Vec<String>> {
        let mut values = Vec::new();
        p.read(text, |_, v| values.push(v.to_owned()))
            .then_some(values)
    }

    #[test]
    fn a_pattern_reads_each_placeholder_as_the_shortest_value_before_the_next_text() {
        let p = Pattern {
            literals: vec!["d".into(), "-".into(), ".x".into()],
            keys: vec![0, 1],
        };
        assert_eq!(
            read(&p, "d2026-11-25.x"),
            Some(vec!["2026".into(), "11-25".into()])
        );
        assert_eq!(
            read(&p, "d-11.x"),
            None,
            "a value takes at least one character"
        );
        assert_eq!(read(&p, "d2026.x"), None);
        assert_eq!(read(&p, "d.x"), None);
        assert_eq!(read(&p, "é-ü.x"), None);
        assert_eq!(read(&p, "dé-ü.x"), Some(vec!["é".into(), "ü".into()]));
    }

    #[test]
    fn hive_layout_starts_at_the_table_location() {
        let t = Table::new(name(), Some("s3://b/e"), &keys(&["a", "b"]), None).unwrap();
        assert_eq!(t.layout.base, "e/");
        assert_eq!(t.keys_in(1), ["b"]);
    }
}
