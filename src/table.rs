//! The served tables as the planner sees them: location, partition keys and layout,
//! read out of Glue's table metadata once and checked up front.

use crate::config::TableName;
use crate::types::KeyType;
use regex::Regex;

/// The table parameter (Athena partition projection's) that declares a non-Hive layout.
pub const TEMPLATE_PARAMETER: &str = "storage.location.template";

/// Why a Glue table cannot be served.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TableError {
    #[error("table {0} has no storage location")]
    NoLocation(TableName),
    #[error("table {table} has location `{location}`, which is not an s3://, s3a:// or s3n:// URI")]
    NotS3 { table: TableName, location: String },
    #[error("table {0} has no partition keys, so there is nothing to register")]
    Unpartitioned(TableName),
    #[error("table {}: {TEMPLATE_PARAMETER} `{}` {}", .0.table, .0.template, .0.problem)]
    BadTemplate(Box<TemplateProblem>),
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
#[derive(Debug, Clone, PartialEq, Eq)]
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
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartitionKey {
    pub name: String,
    pub ty: KeyType,
}

/// How partition values are laid out in keys.
#[derive(Debug, Clone)]
pub enum Layout {
    /// `name=value/` segments, in partition key order, right under the location.
    Hive,
    Template(Template),
}

/// A compiled `storage.location.template`.
#[derive(Debug, Clone)]
pub struct Template {
    /// Anchored at the start of the key; ends at a segment boundary (`/`).
    pub regex: Regex,
    /// For each partition key, the capture group that holds its value.
    pub groups: Vec<usize>,
}

/// A served table.
#[derive(Debug, Clone)]
pub struct Table {
    pub name: TableName,
    pub location: S3Location,
    pub keys: Vec<PartitionKey>,
    pub layout: Layout,
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
            return Err(TableError::Unpartitioned(name));
        }
        let keys: Vec<PartitionKey> = keys
            .iter()
            .map(|(n, t)| PartitionKey {
                name: n.to_ascii_lowercase(),
                ty: KeyType::parse(t),
            })
            .collect();
        let layout = match template.map(str::trim).filter(|t| !t.is_empty()) {
            None => Layout::Hive,
            Some(t) => Layout::Template(compile_template(&name, &location, &keys, t)?),
        };
        Ok(Self {
            name,
            location,
            keys,
            layout,
        })
    }
}

/// Turn `s3://bucket/logs/${year}/${month}/${day}` into a regex over keys. Each placeholder
/// matches within one path segment, every partition key must appear exactly once, and the
/// template must lie in the table's bucket.
fn compile_template(
    name: &TableName,
    location: &S3Location,
    keys: &[PartitionKey],
    template: &str,
) -> Result<Template, TableError> {
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
    let path = parsed.prefix;
    let mut pattern = String::from("^");
    let mut groups = vec![0usize; keys.len()];
    let mut seen = vec![false; keys.len()];
    let mut rest = path.as_str();
    let mut group = 0;
    while let Some(start) = rest.find("${") {
        pattern.push_str(&regex::escape(&rest[..start]));
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
        group += 1;
        groups[index] = group;
        pattern.push_str("([^/]+?)");
        rest = &after[end + 1..];
    }
    pattern.push_str(&regex::escape(rest));
    if !pattern.ends_with('/') {
        pattern.push('/');
    }
    if let Some(missing) = keys.iter().zip(&seen).find(|(_, s)| !**s) {
        return Err(bad(format!(
            "does not name partition key `{}`",
            missing.0.name
        )));
    }
    let regex = Regex::new(&pattern).map_err(|e| bad(format!("does not compile: {e}")))?;
    Ok(Template { regex, groups })
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
    fn table_without_partition_keys_is_rejected() {
        assert!(matches!(
            Table::new(name(), Some("s3://b/x"), &[], None),
            Err(TableError::Unpartitioned(_))
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
    fn template_compiles_to_an_anchored_segment_regex() {
        let t = Table::new(
            name(),
            Some("s3://b/logs/"),
            &keys(&["year", "month"]),
            Some("s3://b/logs/${year}/${month}"),
        )
        .unwrap();
        let Layout::Template(tpl) = t.layout else {
            panic!("expected a template layout")
        };
        assert!(tpl.regex.is_match("logs/2026/11/f"));
        assert!(!tpl.regex.is_match("x/logs/2026/11/f"));
    }
}
