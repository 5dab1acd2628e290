//! Partition key types and validation of values against them.
//!
//! Glue accepts any string as a partition value, whatever the key's type; Athena then fails
//! on the whole table (`HIVE_BAD_DATA`) when a value cannot be read as its type. So a value
//! is checked here and rejected with a reason instead of being registered.

/// The partition key types that constrain values; anything else is accepted as text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyType {
    Integer {
        bits: u32,
    },
    Boolean,
    Date,
    Timestamp,
    Float,
    Decimal {
        precision: u32,
        scale: u32,
    },
    /// `varchar(n)` / `char(n)`: at most n characters.
    Bounded(usize),
    Text,
}

/// The value Hive writes for a null partition value; valid for every type.
pub const HIVE_DEFAULT_PARTITION: &str = "__HIVE_DEFAULT_PARTITION__";

impl KeyType {
    /// Read a Glue/Hive type name such as `int`, `varchar(10)` or `decimal(10,2)`.
    pub fn parse(type_name: &str) -> Self {
        let t = type_name.trim().to_ascii_lowercase();
        let (base, args) = match t.split_once('(') {
            Some((base, rest)) => (base.trim(), rest.trim_end_matches(')')),
            None => (t.as_str(), ""),
        };
        let numbers: Vec<u32> = args
            .split(',')
            .filter_map(|a| a.trim().parse().ok())
            .collect();
        match base {
            "tinyint" => Self::Integer { bits: 8 },
            "smallint" => Self::Integer { bits: 16 },
            "int" | "integer" => Self::Integer { bits: 32 },
            // `long`: Glue's name for it among the types a partition index takes.
            "bigint" | "long" => Self::Integer { bits: 64 },
            "boolean" => Self::Boolean,
            "date" => Self::Date,
            "timestamp" => Self::Timestamp,
            "float" | "double" | "real" => Self::Float,
            "decimal" | "numeric" => Self::Decimal {
                precision: numbers.first().copied().unwrap_or(10),
                scale: numbers.get(1).copied().unwrap_or(0),
            },
            "varchar" | "char" => match numbers.first() {
                Some(n) => Self::Bounded(*n as usize),
                None => Self::Text,
            },
            _ => Self::Text,
        }
    }

    /// Check that `value` can be read as this type; the error completes "value `v` ...".
    pub fn validate(&self, value: &str) -> Result<(), String> {
        if value == HIVE_DEFAULT_PARTITION {
            return Ok(());
        }
        match self {
            Self::Integer { bits } => {
                let n: i128 = value
                    .parse()
                    .map_err(|_| "is not a whole number".to_owned())?;
                let max = (1i128 << (bits - 1)) - 1;
                if n > max || n < -max - 1 {
                    return Err(format!("does not fit a {bits}-bit integer"));
                }
                Ok(())
            }
            Self::Boolean => match value.to_ascii_lowercase().as_str() {
                "true" | "false" => Ok(()),
                _ => Err("is not true or false".to_owned()),
            },
            Self::Date => valid_date(value)
                .then_some(())
                .ok_or_else(|| "is not a date (YYYY-MM-DD)".to_owned()),
            Self::Timestamp => valid_timestamp(value)
                .then_some(())
                .ok_or_else(|| "is not a timestamp (YYYY-MM-DD HH:MM:SS[.fff])".to_owned()),
            Self::Float => value
                .parse::<f64>()
                .map(|_| ())
                .map_err(|_| "is not a number".to_owned()),
            Self::Decimal { precision, scale } => valid_decimal(value, *precision, *scale),
            Self::Bounded(n) => {
                if value.chars().count() <= *n {
                    Ok(())
                } else {
                    Err(format!("is longer than {n} characters"))
                }
            }
            Self::Text => Ok(()),
        }
    }
}

fn digits(s: &str, n: usize) -> Option<u32> {
    (s.len() == n && s.bytes().all(|b| b.is_ascii_digit())).then(|| s.parse().ok())?
}

fn valid_date(value: &str) -> bool {
    let mut parts = value.split('-');
    let (Some(y), Some(m), Some(d), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return false;
    };
    let (Some(y), Some(m), Some(d)) = (digits(y, 4), digits(m, 2), digits(d, 2)) else {
        return false;
    };
    let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    let days = match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return false,
    };
    (1..=days).contains(&d)
}

fn valid_timestamp(value: &str) -> bool {
    let Some((date, time)) = value.split_once([' ', 'T']) else {
        return valid_date(value);
    };
    if !valid_date(date) {
        return false;
    }
    let (hms, fraction) = match time.split_once('.') {
        Some((hms, f)) => (hms, Some(f)),
        None => (time, None),
    };
    let mut parts = hms.split(':');
    let ok = match (parts.next(), parts.next(), parts.next(), parts.next()) {
        (Some(h), Some(m), Some(s), None) => matches!(
            (digits(h, 2), digits(m, 2), digits(s, 2)),
            (Some(h), Some(m), Some(s)) if h < 24 && m < 60 && s < 60
        ),
        _ => false,
    };
    ok && fraction
        .is_none_or(|f| !f.is_empty() && f.len() <= 9 && f.bytes().all(|b| b.is_ascii_digit()))
}

fn valid_decimal(value: &str, precision: u32, scale: u32) -> Result<(), String> {
    let unsigned = value.strip_prefix(['-', '+']).unwrap_or(value);
    let (int, frac) = unsigned.split_once('.').unwrap_or((unsigned, ""));
    let all_digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if int.is_empty() && frac.is_empty() || !all_digits(int) || !all_digits(frac) {
        return Err("is not a decimal number".to_owned());
    }
    let int_digits = int.trim_start_matches('0').len() as u32;
    if frac.len() as u32 > scale || int_digits > precision.saturating_sub(scale) {
        return Err(format!("does not fit decimal({precision},{scale})"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn int_accepts_whole_numbers_with_leading_zeros() {
        assert!(KeyType::parse("int").validate("09").is_ok());
        assert!(KeyType::parse("int").validate("-12").is_ok());
    }

    #[test]
    fn int_rejects_text() {
        assert!(KeyType::parse("int").validate("2026a").is_err());
        assert!(KeyType::parse("bigint").validate("").is_err());
    }

    #[test]
    fn long_is_a_64_bit_integer_as_glue_s_partition_indexes_read_it() {
        assert!(
            KeyType::parse("long")
                .validate("9223372036854775807")
                .is_ok()
        );
        assert!(
            KeyType::parse("long")
                .validate("9223372036854775808")
                .is_err()
        );
        assert!(KeyType::parse("long").validate("foo").is_err());
    }

    #[test]
    fn tinyint_rejects_out_of_range() {
        assert!(KeyType::parse("tinyint").validate("127").is_ok());
        assert!(KeyType::parse("tinyint").validate("128").is_err());
    }

    #[test]
    fn date_must_be_a_calendar_date() {
        let date = KeyType::parse("date");
        assert!(date.validate("2024-02-29").is_ok());
        assert!(date.validate("2026-02-29").is_err());
        assert!(date.validate("2026-11-5").is_err());
        assert!(date.validate("20261125").is_err());
    }

    #[test]
    fn boolean_is_true_or_false() {
        assert!(KeyType::parse("boolean").validate("TRUE").is_ok());
        assert!(KeyType::parse("boolean").validate("yes").is_err());
    }

    #[test]
    fn varchar_bounds_length_in_characters() {
        assert!(KeyType::parse("varchar(2)").validate("서울").is_ok());
        assert!(KeyType::parse("varchar(2)").validate("abc").is_err());
    }

    #[test]
    fn decimal_checks_scale_and_precision() {
        let d = KeyType::parse("decimal(5,2)");
        assert!(d.validate("123.45").is_ok());
        assert!(d.validate("1234.5").is_err());
        assert!(d.validate("1.234").is_err());
    }

    #[test]
    fn timestamp_accepts_hive_format() {
        let t = KeyType::parse("timestamp");
        assert!(t.validate("2026-11-25 13:05:00").is_ok());
        assert!(t.validate("2026-11-25 13:05:00.123").is_ok());
        assert!(t.validate("2026-11-25 25:00:00").is_err());
    }

    #[test]
    fn hive_null_partition_is_valid_for_every_type() {
        assert!(
            KeyType::parse("int")
                .validate(HIVE_DEFAULT_PARTITION)
                .is_ok()
        );
        assert!(
            KeyType::parse("date")
                .validate(HIVE_DEFAULT_PARTITION)
                .is_ok()
        );
    }

    #[test]
    fn unknown_types_accept_any_value() {
        assert!(KeyType::parse("string").validate("anything").is_ok());
        assert!(KeyType::parse("struct<a:int>").validate("x").is_ok());
    }
}
