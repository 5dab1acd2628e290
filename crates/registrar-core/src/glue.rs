//! The Glue Data Catalog's documented input rules for what the registrar sends, checked before
//! sending: a partition that would break them is skipped with a reason naming the rule, and
//! never sent. Glue refuses such a request as a whole (`ValidationException` for the request,
//! naming no entry), so one hostile key would otherwise fail every partition sent with it.
//!
//! The rules (AWS Glue API reference, 2017-03-31):
//! - `PartitionInput.Values` and `PartitionValueList.Values`: each value of length 1 to 1,024;
//! - `StorageDescriptor.Location`: at most 2,056 long and matching
//!   `[\u0020-\uD7FF\uE000-\uFFFD\uD800\uDC00-\uDBFF\uDFFF\r\n\t]*` (no NUL or other control
//!   character but tab, CR and LF; no U+FFFE or U+FFFF);
//! - `BatchCreatePartition.PartitionInputList`, `BatchUpdatePartition.Entries`: at most 100;
//!   `BatchGetPartition.PartitionsToGet`: at most 1,000;
//! - `GetPartitions.MaxResults`: 1 to 1,000; `Segment.TotalSegments`: 1 to 10;
//! - a partition index's keys (AWS Glue Developer Guide, "Working with partition indexes",
//!   limitations: "After indexes are enabled, the addition of partitions with indexed key
//!   values having the characters U+0000, U+0001, and U+0002 will start to fail"): no value
//!   holds U+0000, U+0001 or U+0002. Whether a table has an index takes a request per table
//!   to learn (`GetPartitionIndexes`), so every value is held to it: no partition key is worth
//!   those three characters. The same section has indexed values checked against their keys'
//!   types, which `types.rs` does for every value already (reason `invalid_value`).
//!
//! Lengths are counted as the service counts them, in UTF-16 code units (a character outside
//! the Basic Multilingual Plane counts two), so a value this check accepts is never too long
//! for Glue. The emulator enforces none of this; the tests' proxy does, as documented.

use crate::reason::Reason;
use std::fmt;

/// `PartitionInput.Values`: each value at most this long.
pub const MAX_VALUE_LENGTH: usize = 1024;
/// `StorageDescriptor.Location`: at most this long.
pub const MAX_LOCATION_LENGTH: usize = 2056;
/// `BatchCreatePartition` and `BatchUpdatePartition`: entries per request.
pub const MAX_WRITE_BATCH: usize = 100;
/// `BatchGetPartition`: partitions per request.
pub const MAX_GET_BATCH: usize = 1000;
/// `GetPartitions`: partitions per page.
pub const MAX_PAGE: i32 = 1000;
/// `GetPartitions`: segments of a table's partitions read in parallel.
pub const MAX_SEGMENTS: i32 = 10;

/// A documented Glue input rule a partition would break.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GlueRule {
    /// A partition value is empty or longer than 1,024.
    ValueLength { key: String, length: usize },
    /// A partition value holds U+0000, U+0001 or U+0002, which Glue refuses in an indexed key.
    ValueCharacter {
        key: String,
        character: char,
        position: usize,
    },
    /// The partition's location is longer than 2,056.
    LocationLength { length: usize },
    /// The partition's location holds a character the location pattern excludes.
    LocationCharacter { character: char, position: usize },
}

impl Reason for GlueRule {
    fn kind(&self) -> &'static str {
        "glue_input_rule"
    }
}

impl fmt::Display for GlueRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::ValueLength { key, length } => write!(
                f,
                "Glue refuses this partition: the value of `{key}` is {length} long, and PartitionInput.Values entries must be 1 to {MAX_VALUE_LENGTH} long"
            ),
            Self::ValueCharacter {
                key,
                character,
                position,
            } => write!(
                f,
                "Glue refuses this partition once its table has a partition index: the value of `{key}` holds U+{:04X} at character {position}, and an indexed value may hold none of U+0000, U+0001, U+0002",
                u32::from(*character)
            ),
            Self::LocationLength { length } => write!(
                f,
                "Glue refuses this partition: its location is {length} long, and StorageDescriptor.Location is at most {MAX_LOCATION_LENGTH}"
            ),
            Self::LocationCharacter {
                character,
                position,
            } => write!(
                f,
                "Glue refuses this partition: its location holds U+{:04X} at character {position}, and StorageDescriptor.Location admits no control character but tab, CR and LF",
                u32::from(*character)
            ),
        }
    }
}

/// Length as Glue counts it: UTF-16 code units. Never more than the UTF-8 length, so a text
/// that short in bytes is within any limit at or above it without being counted: the check
/// runs for every new directory of every event, and nearly all are ASCII.
fn glue_length(text: &str) -> usize {
    if text.is_ascii() {
        return text.len();
    }
    text.chars().map(char::len_utf16).sum()
}

/// Whether `text` is within `limit` UTF-16 units, and its length when it is not.
fn over_limit(text: &str, limit: usize) -> Option<usize> {
    if text.len() <= limit {
        return None;
    }
    Some(glue_length(text)).filter(|&length| length > limit)
}

/// Whether a character matches the location pattern
/// `[\u0020-\uD7FF\uE000-\uFFFD\uD800\uDC00-\uDBFF\uDFFF\r\n\t]` (a Rust `char` is never a
/// lone surrogate, and every supplementary character is a valid surrogate pair).
fn location_character(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}')
        || u32::from(c) >= 0x10000
}

/// Check a partition's values (named by their keys) and location against Glue's rules.
pub fn check_partition<'v>(
    keys: impl IntoIterator<Item = &'v str> + Clone,
    values: &[impl AsRef<str>],
    location: &str,
) -> Result<(), GlueRule> {
    for (key, value) in keys.clone().into_iter().zip(values) {
        let value = value.as_ref();
        let length = match value.is_empty() {
            true => Some(0),
            false => over_limit(value, MAX_VALUE_LENGTH),
        };
        if let Some(length) = length {
            return Err(GlueRule::ValueLength {
                key: key.to_owned(),
                length,
            });
        }
    }
    // The rules of every table first; then the one of indexed tables (a value that breaks
    // both is refused for the first, which holds whatever the table).
    check_location(location)?;
    for (key, value) in keys.into_iter().zip(values) {
        // Those three are single bytes below 3 in UTF-8, and no other character has one.
        let value = value.as_ref();
        if let Some(at) = value.bytes().position(|b| b <= 2) {
            return Err(GlueRule::ValueCharacter {
                key: key.to_owned(),
                character: char::from(value.as_bytes()[at]),
                position: value[..at].chars().count(),
            });
        }
    }
    Ok(())
}

/// Check a location against `StorageDescriptor.Location`'s length and pattern.
pub fn check_location(location: &str) -> Result<(), GlueRule> {
    // Only a byte below 0x20 or a non-ASCII character can break the pattern.
    let suspect = location
        .bytes()
        .position(|b| (b < 0x20 && !matches!(b, b'\t' | b'\n' | b'\r')) || !b.is_ascii());
    if let Some(start) = suspect
        && let Some((position, character)) = location[start..]
            .chars()
            .enumerate()
            .find(|(_, c)| !location_character(*c))
    {
        return Err(GlueRule::LocationCharacter {
            character,
            position: location[..start].chars().count() + position,
        });
    }
    if let Some(length) = over_limit(location, MAX_LOCATION_LENGTH) {
        return Err(GlueRule::LocationLength { length });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(values: &[&str], location: &str) -> Result<(), GlueRule> {
        check_partition(["k"; 4], values, location)
    }

    #[test]
    fn ordinary_partitions_pass() {
        assert_eq!(check(&["2026", "서울"], "s3://b/t/y=2026/c=서울/"), Ok(()));
        assert_eq!(check(&["a\tb"], "s3://b/t/x=a\tb/"), Ok(()));
    }

    #[test]
    fn a_value_over_1024_is_refused_and_1024_is_not() {
        let long = "v".repeat(1025);
        assert!(matches!(
            check(&[&long], "s3://b/t/"),
            Err(GlueRule::ValueLength { length: 1025, .. })
        ));
        assert_eq!(check(&[&long[..1024]], "s3://b/t/"), Ok(()));
    }

    #[test]
    fn supplementary_characters_count_two_as_glue_counts_them() {
        let emoji = "\u{1F600}".repeat(513);
        assert!(matches!(
            check(&[&emoji], "s3://b/t/"),
            Err(GlueRule::ValueLength { length: 1026, .. })
        ));
    }

    #[test]
    fn an_empty_value_is_refused() {
        assert!(matches!(
            check(&[""], "s3://b/t/"),
            Err(GlueRule::ValueLength { length: 0, .. })
        ));
    }

    #[test]
    fn a_value_holding_u0000_to_u0002_is_refused_as_glue_refuses_it_in_an_indexed_key() {
        for (c, hex) in [
            ('\u{0}', "U+0000"),
            ('\u{1}', "U+0001"),
            ('\u{2}', "U+0002"),
        ] {
            let value = format!("서울{c}x");
            let e = check_partition(["year", "city"], &["2026", value.as_str()], "s3://b/t/")
                .unwrap_err();
            assert_eq!(
                e,
                GlueRule::ValueCharacter {
                    key: "city".into(),
                    character: c,
                    position: 2
                }
            );
            assert_eq!(e.kind(), "glue_input_rule");
            assert!(e.to_string().contains(hex), "{e}");
            assert!(e.to_string().contains("partition index"), "{e}");
        }
    }

    #[test]
    fn other_control_characters_in_a_value_are_glue_s_to_take() {
        for c in ['\u{3}', '\t', '\u{1B}', '\u{7F}'] {
            assert_eq!(check(&[&format!("a{c}b")], "s3://b/t/"), Ok(()));
        }
    }

    #[test]
    fn control_characters_in_the_location_are_refused_but_tab_cr_lf() {
        for c in ['\u{0}', '\u{1}', '\u{1B}', '\u{1F}', '\u{FFFE}', '\u{FFFF}'] {
            let location = format!("s3://b/t/x=a{c}b/");
            assert!(
                matches!(
                    check_location(&location),
                    Err(GlueRule::LocationCharacter { position: 12, .. })
                ),
                "U+{:04X}",
                u32::from(c)
            );
        }
        for c in ['\t', '\r', '\n', '\u{7F}', '\u{FFFD}', '\u{10FFFF}'] {
            assert_eq!(check_location(&format!("s3://b/t/x={c}/")), Ok(()));
        }
    }

    #[test]
    fn a_location_over_2056_is_refused() {
        let location = format!("s3://b/{}/", "d".repeat(2049));
        assert!(matches!(
            check_location(&location),
            Err(GlueRule::LocationLength { length: 2057 })
        ));
    }

    #[test]
    fn the_reason_names_the_rule() {
        let e = check_location("s3://b/\u{1}/").unwrap_err();
        assert_eq!(e.kind(), "glue_input_rule");
        assert!(e.to_string().contains("StorageDescriptor.Location"), "{e}");
        assert!(e.to_string().contains("U+0001"), "{e}");
    }

    /// The characters Glue refuses in an indexed partition key's value.
    fn index_character(c: char) -> bool {
        matches!(c, '\u{0}' | '\u{1}' | '\u{2}')
    }

    /// The rules as the API reference and the partition index guide state them, character by
    /// character: the fast paths above must answer exactly this.
    fn by_the_reference(values: &[String], location: &str) -> Result<(), GlueRule> {
        for value in values {
            let length: usize = value.chars().map(char::len_utf16).sum();
            if length == 0 || length > MAX_VALUE_LENGTH {
                return Err(GlueRule::ValueLength {
                    key: "k".into(),
                    length,
                });
            }
        }
        if let Some((position, character)) = location
            .chars()
            .enumerate()
            .find(|(_, c)| !location_character(*c))
        {
            return Err(GlueRule::LocationCharacter {
                character,
                position,
            });
        }
        let length: usize = location.chars().map(char::len_utf16).sum();
        if length > MAX_LOCATION_LENGTH {
            return Err(GlueRule::LocationLength { length });
        }
        for value in values {
            if let Some((position, character)) =
                value.chars().enumerate().find(|(_, c)| index_character(*c))
            {
                return Err(GlueRule::ValueCharacter {
                    key: "k".into(),
                    character,
                    position,
                });
            }
        }
        Ok(())
    }

    proptest::proptest! {
        #[test]
        fn the_checks_answer_what_the_reference_says(
            values in proptest::collection::vec("(\\PC|[\u{0}-\u{1f}\u{fffe}\u{ffff}]){0,8}|v{1020,1030}|\u{1F600}{510,515}", 1..3),
            location in "s3://b/(\\PC|[\u{0}-\u{1f}\u{fffe}]){0,40}|s3://b/[a-z=/\u{E9}]{0,10}[\u{FFFE}\u{FFFF}\u{0}-\u{1F}][a-z]{0,5}|s3://b/x{2040,2060}|s3://b/\u{E9}{1020,1030}",
        ) {
            proptest::prop_assert_eq!(check(&values.iter().map(String::as_str).collect::<Vec<_>>(), &location),
                by_the_reference(&values, &location));
        }
    }
}
