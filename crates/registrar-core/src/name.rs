//! Table names as the Glue Data Catalog stores them.

use std::fmt;

/// A `database.table` name. Glue lower-cases names, so they are kept lower-cased here too:
/// `Analytics.Events` in a configuration and `analytics.events` in the catalog are one table.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TableName {
    pub database: String,
    pub table: String,
}

/// A text that is not `database.table`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not a table name: expected database.table")]
pub struct NameError(pub String);

impl TableName {
    /// Parse `database.table`; the table part may not contain a dot, neither part may be empty.
    pub fn parse(text: &str) -> Result<Self, NameError> {
        let text = text.trim();
        match text.split_once('.') {
            Some((db, table)) if !db.is_empty() && !table.is_empty() && !table.contains('.') => {
                Ok(Self::new(db, table))
            }
            _ => Err(NameError(text.to_owned())),
        }
    }

    /// A name from its two parts, lower-cased as Glue stores them.
    pub fn new(database: &str, table: &str) -> Self {
        Self {
            database: database.to_ascii_lowercase(),
            table: table.to_ascii_lowercase(),
        }
    }
}

impl fmt::Display for TableName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.database, self.table)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_lower_cased() {
        assert_eq!(
            TableName::parse(" Analytics.Events ").unwrap().to_string(),
            "analytics.events"
        );
    }

    #[test]
    fn a_name_needs_both_parts_and_one_dot() {
        for bad in ["events", ".t", "d.", "a.b.c", ""] {
            assert!(TableName::parse(bad).is_err(), "{bad}");
        }
    }
}
