//! The window of a nightly repair: the key prefixes under which a table keeps its partitions
//! of the last few days, computed from its layout's leading date keys, so that the scheduled
//! repair lists what the days changed instead of the whole table (S3 charges per listing: a
//! billion objects are a million listings a night).
//!
//! The leading partition keys must be dates: `year`/`month`/`day` (Hive `year=2026/month=12/`
//! or a template's `${year}/${month}/${day}`), or one date key (`dt`, `date`, `ds`, a name
//! ending in `_date` or `_dt`, or a key of type `date` or `timestamp`). A key below the day
//! (`hour`) is left to the walk: a day's prefix covers it. Month and day are written both
//! zero-padded and not (`05` and `5`) when they differ, and a date key both `2026-12-04` and
//! `20261204` (as a prefix, so `2026-12-04-05` hourly values are covered): a prefix no key
//! lies under costs one empty listing, and the layout's own data decides which are real.

use crate::table::{Segment, Table};
use crate::time::{civil_from_days, days_from_civil};
use crate::types::KeyType;

/// Why a table has no window.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WindowError {
    #[error(
        "table {table}: its first partition key `{key}` is not a date (year/month/day, dt, date, ds, or a date-typed key), so a windowed repair cannot tell which directories hold recent days; it is repaired in full"
    )]
    NotTimePartitioned { table: String, key: String },
    #[error("a repair window is 1 to 366 days, not {0}")]
    Days(u32),
}

/// A calendar date, UTC.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Day {
    pub year: i64,
    pub month: i64,
    pub day: i64,
}

impl Day {
    /// The day of a time in milliseconds since the epoch, UTC.
    pub fn of_ms(ms: i64) -> Self {
        let (year, month, day) = civil_from_days(ms.div_euclid(86_400_000));
        Self { year, month, day }
    }

    /// `n` days earlier.
    pub fn minus(self, n: i64) -> Self {
        let (year, month, day) =
            civil_from_days(days_from_civil(self.year, self.month, self.day) - n);
        Self { year, month, day }
    }

    /// `YYYY-MM-DD`.
    pub fn iso(self) -> String {
        format!("{:04}-{:02}-{:02}", self.year, self.month, self.day)
    }
}

/// What a leading key says of a date.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Part {
    Year,
    Month,
    Day,
    /// A whole date in one value.
    Date,
}

fn part_of(name: &str, ty: &KeyType, seen: &[Part]) -> Option<Part> {
    let name = name.to_ascii_lowercase();
    if matches!(ty, KeyType::Date | KeyType::Timestamp) {
        return Some(Part::Date);
    }
    match name.as_str() {
        "year" | "yyyy" | "yr" => Some(Part::Year),
        "month" | "mm" | "mon" if seen.contains(&Part::Year) => Some(Part::Month),
        "day" | "dd" if seen.contains(&Part::Month) => Some(Part::Day),
        "dt" | "date" | "ds" | "ymd" => Some(Part::Date),
        n if n.ends_with("_date") || n.ends_with("_dt") => Some(Part::Date),
        _ => None,
    }
}

/// The ways a part of `day` may be written in a key.
fn written(part: Part, day: Day) -> Vec<String> {
    let both = |n: i64| {
        let padded = format!("{n:02}");
        let plain = n.to_string();
        if padded == plain {
            vec![padded]
        } else {
            vec![padded, plain]
        }
    };
    match part {
        Part::Year => vec![format!("{:04}", day.year)],
        Part::Month => both(day.month),
        Part::Day => both(day.day),
        Part::Date => vec![
            day.iso(),
            format!("{:04}{:02}{:02}", day.year, day.month, day.day),
        ],
    }
}

/// The key prefixes of the `days` days ending with `last`, sorted and without repeats.
pub fn prefixes(table: &Table, last: Day, days: u32) -> Result<Vec<String>, WindowError> {
    if !(1..=366).contains(&days) {
        return Err(WindowError::Days(days));
    }
    let mut all = Vec::new();
    for back in 0..i64::from(days) {
        all.extend(day_prefixes(table, last.minus(back))?);
    }
    all.sort();
    all.dedup();
    Ok(all)
}

/// The prefixes of one day.
fn day_prefixes(table: &Table, day: Day) -> Result<Vec<String>, WindowError> {
    let not_time = |key: usize| WindowError::NotTimePartitioned {
        table: table.name.to_string(),
        key: table.keys[key].name.clone(),
    };
    let mut prefixes = vec![table.layout.base.clone()];
    let mut seen: Vec<Part> = Vec::new();
    let extend = |prefixes: Vec<String>, texts: &[String]| -> Vec<String> {
        prefixes
            .iter()
            .flat_map(|p| texts.iter().map(move |t| format!("{p}{t}")))
            .collect()
    };
    for segment in &table.layout.segments {
        match segment {
            Segment::Literal(text) => {
                prefixes = extend(prefixes, &[format!("{text}/")]);
            }
            Segment::Hive(k) => {
                let key = &table.keys[*k];
                let Some(part) = part_of(&key.name, &key.ty, &seen) else {
                    if seen.is_empty() {
                        return Err(not_time(*k));
                    }
                    break;
                };
                seen.push(part);
                let end = if part == Part::Date { "" } else { "/" };
                let texts: Vec<String> = written(part, day)
                    .into_iter()
                    .map(|v| format!("{}={v}{end}", key.name))
                    .collect();
                prefixes = extend(prefixes, &texts);
                if matches!(part, Part::Day | Part::Date) {
                    break;
                }
            }
            Segment::Pattern(pattern) => {
                let mut texts = vec![pattern.literals[0].clone()];
                let mut last_part = None;
                for (i, k) in pattern.keys.iter().enumerate() {
                    let key = &table.keys[*k];
                    let Some(part) = part_of(&key.name, &key.ty, &seen) else {
                        return Err(not_time(*k));
                    };
                    seen.push(part);
                    last_part = Some(part);
                    let values = written(part, day);
                    texts = texts
                        .iter()
                        .flat_map(|t| {
                            values
                                .iter()
                                .map(move |v| format!("{t}{v}{}", pattern.literals[i + 1]))
                        })
                        .collect();
                }
                // A date ending the directory name is a prefix (hourly values continue it);
                // anything else is the whole directory.
                let open = last_part == Some(Part::Date)
                    && pattern.literals.last().is_some_and(String::is_empty);
                if !open {
                    texts.iter_mut().for_each(|t| t.push('/'));
                }
                prefixes = extend(prefixes, &texts);
                if seen.iter().any(|p| matches!(p, Part::Day | Part::Date)) {
                    break;
                }
            }
        }
    }
    Ok(prefixes)
}

/// When a time partition ends (milliseconds since the epoch, UTC): the start of the period
/// after the one its date keys name (`year`, `month`, `day`, `hour`, or a date key whose value
/// is `YYYY-MM-DD` or `YYYYMMDD`, optionally followed by an hour). `None` for a partition
/// without a year or a date.
pub fn partition_end(table: &Table, values: &[String]) -> Option<i64> {
    let (mut year, mut month, mut day, mut hour) = (None, None, None, None);
    let mut seen: Vec<Part> = Vec::new();
    for (key, value) in table.keys.iter().zip(values) {
        let name = key.name.to_ascii_lowercase();
        if matches!(name.as_str(), "hour" | "hh" | "hr") && (day.is_some()) {
            hour = value.parse::<i64>().ok().filter(|h| (0..24).contains(h));
            continue;
        }
        let Some(part) = part_of(&key.name, &key.ty, &seen) else {
            continue;
        };
        seen.push(part);
        let number = |text: &str| text.parse::<i64>().ok();
        match part {
            Part::Year => year = number(value),
            Part::Month => month = number(value).filter(|m| (1..=12).contains(m)),
            Part::Day => day = number(value).filter(|d| (1..=31).contains(d)),
            Part::Date => {
                let digits: String = value.chars().filter(char::is_ascii_digit).collect();
                if digits.len() < 8 {
                    return None;
                }
                year = number(&digits[..4]);
                month = number(&digits[4..6]).filter(|m| (1..=12).contains(m));
                day = number(&digits[6..8]).filter(|d| (1..=31).contains(d));
                if digits.len() >= 10 {
                    hour = number(&digits[8..10]).filter(|h| (0..24).contains(h));
                }
            }
        }
    }
    let year = year?;
    let start = days_from_civil(year, month.unwrap_or(1), day.unwrap_or(1));
    let days = match (month, day, hour) {
        (None, _, _) => days_from_civil(year + 1, 1, 1) - start,
        (Some(m), None, _) => {
            let (y, m) = if m == 12 {
                (year + 1, 1)
            } else {
                (year, m + 1)
            };
            days_from_civil(y, m, 1) - start
        }
        (Some(_), Some(_), None) => 1,
        (Some(_), Some(_), Some(h)) => return Some((start * 24 + h + 1) * 3_600_000),
    };
    Some((start + days) * 86_400_000)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::name::TableName;

    fn table(keys: &[(&str, &str)], template: Option<&str>) -> Table {
        let keys: Vec<(String, String)> = keys
            .iter()
            .map(|(k, t)| (k.to_string(), t.to_string()))
            .collect();
        Table::new(TableName::new("d", "t"), Some("s3://b/t/"), &keys, template).unwrap()
    }

    const DEC_4: Day = Day {
        year: 2026,
        month: 12,
        day: 4,
    };

    #[test]
    fn hive_year_month_day_gives_each_days_directory_in_both_spellings() {
        let t = table(
            &[
                ("year", "string"),
                ("month", "string"),
                ("day", "string"),
                ("hour", "string"),
            ],
            None,
        );
        assert_eq!(
            prefixes(&t, DEC_4, 2).unwrap(),
            vec![
                "t/year=2026/month=12/day=03/",
                "t/year=2026/month=12/day=04/",
                "t/year=2026/month=12/day=3/",
                "t/year=2026/month=12/day=4/",
            ]
        );
    }

    #[test]
    fn a_date_key_is_a_prefix_that_covers_hourly_values() {
        let t = table(&[("dt", "string"), ("hour", "int")], None);
        assert_eq!(
            prefixes(&t, DEC_4, 1).unwrap(),
            vec!["t/dt=2026-12-04", "t/dt=20261204"]
        );
    }

    #[test]
    fn a_window_crosses_months_and_years() {
        let t = table(&[("event_date", "date")], None);
        let p = prefixes(
            &t,
            Day {
                year: 2027,
                month: 1,
                day: 1,
            },
            2,
        )
        .unwrap();
        assert!(p.contains(&"t/event_date=2026-12-31".to_owned()), "{p:?}");
        assert!(p.contains(&"t/event_date=2027-01-01".to_owned()), "{p:?}");
    }

    #[test]
    fn a_template_layout_is_written_as_its_template_says() {
        let t = table(
            &[("year", "string"), ("month", "string"), ("day", "string")],
            Some("s3://b/t/logs/${year}/${month}/${day}"),
        );
        let p = prefixes(&t, DEC_4, 1).unwrap();
        assert_eq!(p, vec!["t/logs/2026/12/04/", "t/logs/2026/12/4/"]);
    }

    #[test]
    fn a_monthly_table_walks_the_months_the_window_touches() {
        let t = table(&[("year", "int"), ("month", "int")], None);
        let p = prefixes(
            &t,
            Day {
                year: 2026,
                month: 12,
                day: 1,
            },
            2,
        )
        .unwrap();
        assert_eq!(p, vec!["t/year=2026/month=11/", "t/year=2026/month=12/"]);
    }

    #[test]
    fn a_table_led_by_another_key_has_no_window_and_says_why() {
        let t = table(&[("region", "string"), ("dt", "string")], None);
        let e = prefixes(&t, DEC_4, 3).unwrap_err();
        assert!(e.to_string().contains("`region`"), "{e}");
    }

    #[test]
    fn a_partition_ends_when_its_period_does() {
        let ms = |t: &str| crate::time::parse(t).unwrap();
        let v = |x: &[&str]| x.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let ymdh = table(
            &[
                ("year", "string"),
                ("month", "string"),
                ("day", "string"),
                ("hour", "string"),
            ],
            None,
        );
        assert_eq!(
            partition_end(&ymdh, &v(&["2026", "12", "04", "05"])),
            Some(ms("2026-12-04T06:00:00Z"))
        );
        let ym = table(&[("year", "int"), ("month", "int")], None);
        assert_eq!(
            partition_end(&ym, &v(&["2026", "12"])),
            Some(ms("2027-01-01T00:00:00Z"))
        );
        let dt = table(&[("dt", "string")], None);
        assert_eq!(
            partition_end(&dt, &v(&["2026-02-28"])),
            Some(ms("2026-03-01T00:00:00Z"))
        );
        assert_eq!(
            partition_end(&dt, &v(&["2026-02-28-23"])),
            Some(ms("2026-03-01T00:00:00Z"))
        );
        let other = table(&[("region", "string")], None);
        assert_eq!(partition_end(&other, &v(&["eu"])), None);
    }

    #[test]
    fn a_window_is_one_to_366_days() {
        let t = table(&[("dt", "string")], None);
        assert!(matches!(prefixes(&t, DEC_4, 0), Err(WindowError::Days(0))));
    }
}
