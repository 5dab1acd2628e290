//! Schemas compared: a partition's storage descriptor against its table's (what
//! `sync --update-schema` fixes), and a data file's columns against the table's (what drift
//! detection reports). Pure: the I/O side reads the descriptors and the Parquet footers.

use std::collections::BTreeMap;

/// The parts of a storage descriptor that decide how a query engine reads a partition.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Descriptor {
    /// `(name, type)` in order.
    pub columns: Vec<(String, String)>,
    pub input_format: Option<String>,
    pub output_format: Option<String>,
    pub serde_library: Option<String>,
    pub serde_parameters: BTreeMap<String, String>,
}

/// What differs between a partition's descriptor and its table's, by part: `columns`,
/// `input format`, `output format`, `SerDe`. Empty when they agree. Column names compare
/// case-insensitively and types ignoring case and spaces, as Hive does.
pub fn descriptor_changes(table: &Descriptor, partition: &Descriptor) -> Vec<&'static str> {
    let mut changes = Vec::new();
    let columns = |d: &Descriptor| -> Vec<(String, String)> {
        d.columns
            .iter()
            .map(|(n, t)| (n.to_ascii_lowercase(), normalise_type(t)))
            .collect()
    };
    if columns(table) != columns(partition) {
        changes.push("columns");
    }
    if table.input_format != partition.input_format {
        changes.push("input format");
    }
    if table.output_format != partition.output_format {
        changes.push("output format");
    }
    if table.serde_library != partition.serde_library
        || table.serde_parameters != partition.serde_parameters
    {
        changes.push("SerDe");
    }
    changes
}

/// `Decimal(10, 2)` and `decimal(10,2)` are one type.
fn normalise_type(t: &str) -> String {
    t.chars()
        .filter(|c| !c.is_whitespace())
        .collect::<String>()
        .to_ascii_lowercase()
}

/// How a data file's columns differ from its table's: one sentence per difference, naming
/// the column. `file` holds each top-level column with its type as Hive would name it.
pub fn column_drift(table: &[(String, String)], file: &[(String, String)]) -> Vec<String> {
    let table: BTreeMap<String, String> = table
        .iter()
        .map(|(n, t)| (n.to_ascii_lowercase(), normalise_type(t)))
        .collect();
    let mut seen = Vec::new();
    let mut drift = Vec::new();
    for (name, file_type) in file {
        let name = name.to_ascii_lowercase();
        let file_type = normalise_type(file_type);
        match table.get(&name) {
            None => drift.push(format!(
                "column `{name}` ({file_type}) is in the file, not in the table"
            )),
            Some(table_type) if !readable_as(&file_type, table_type) => drift.push(format!(
                "column `{name}` is {file_type} in the file, {table_type} in the table"
            )),
            Some(_) => {}
        }
        seen.push(name);
    }
    for name in table.keys() {
        if !seen.contains(name) {
            drift.push(format!(
                "column `{name}` of the table is not in the file (it reads as null)"
            ));
        }
    }
    drift
}

/// Whether a file column of type `file` reads correctly as the table's `table` type. Equal
/// types do, and so do the widenings Athena and Hive apply to Parquet: a smaller integer as a
/// larger one, float as double, any string as varchar or char. Nested types compare by kind
/// only (`struct<..>` as `struct<..>`): their fields are the table designer's business.
pub fn readable_as(file: &str, table: &str) -> bool {
    if file == table {
        return true;
    }
    let base = |t: &str| t.split(['(', '<']).next().unwrap_or("").to_owned();
    let rank = |t: &str| match t {
        "tinyint" => Some(1),
        "smallint" => Some(2),
        "int" | "integer" => Some(3),
        "bigint" => Some(4),
        _ => None,
    };
    let (fb, tb) = (base(file), base(table));
    match (fb.as_str(), tb.as_str()) {
        (f, t) if rank(f).zip(rank(t)).is_some_and(|(f, t)| f <= t) => true,
        ("float", "double") => true,
        ("string", "varchar" | "char" | "string") => true,
        ("struct", "struct") | ("array", "array") | ("map", "map") => true,
        ("decimal", "decimal") => file == table,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cols(c: &[(&str, &str)]) -> Vec<(String, String)> {
        c.iter()
            .map(|(n, t)| (n.to_string(), t.to_string()))
            .collect()
    }

    fn descriptor(c: &[(&str, &str)]) -> Descriptor {
        Descriptor {
            columns: cols(c),
            input_format: Some("in".into()),
            output_format: Some("out".into()),
            serde_library: Some("serde".into()),
            serde_parameters: BTreeMap::new(),
        }
    }

    #[test]
    fn an_added_column_is_a_columns_change() {
        let table = descriptor(&[("a", "string"), ("b", "int")]);
        let partition = descriptor(&[("a", "string")]);
        assert_eq!(descriptor_changes(&table, &partition), ["columns"]);
    }

    #[test]
    fn spelling_of_names_and_types_is_not_a_change() {
        let table = descriptor(&[("a", "decimal(10,2)")]);
        let partition = descriptor(&[("A", "Decimal(10, 2)")]);
        assert!(descriptor_changes(&table, &partition).is_empty());
    }

    #[test]
    fn formats_and_serde_are_compared() {
        let table = descriptor(&[("a", "string")]);
        let mut partition = table.clone();
        partition
            .serde_parameters
            .insert("field.delim".into(), ",".into());
        partition.input_format = None;
        assert_eq!(
            descriptor_changes(&table, &partition),
            ["input format", "SerDe"]
        );
    }

    #[test]
    fn a_new_column_in_a_file_is_drift() {
        let drift = column_drift(
            &cols(&[("user_id", "string")]),
            &cols(&[("user_id", "string"), ("country", "string")]),
        );
        assert_eq!(drift.len(), 1);
        assert!(drift[0].contains("`country`"), "{drift:?}");
    }

    #[test]
    fn a_retyped_column_is_drift_but_a_widening_is_not() {
        let table = cols(&[("n", "bigint"), ("x", "double"), ("s", "int")]);
        let file = cols(&[("n", "int"), ("x", "float"), ("s", "string")]);
        let drift = column_drift(&table, &file);
        assert_eq!(drift.len(), 1, "{drift:?}");
        assert!(drift[0].contains("`s` is string in the file, int in the table"));
    }

    #[test]
    fn a_column_missing_from_the_file_is_drift() {
        let drift = column_drift(
            &cols(&[("a", "string"), ("b", "int")]),
            &cols(&[("a", "string")]),
        );
        assert_eq!(drift.len(), 1);
        assert!(drift[0].contains("`b`"));
    }
}
