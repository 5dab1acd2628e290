//! Configuration from the environment, the same for the Lambda and the CLI.
//!
//! Parsing is a pure function of a variable lookup so that it is tested without touching
//! the process environment.

pub use registrar_core::TableName;
use std::time::Duration;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    #[error(
        "no tables to serve: set GLUE_TABLES (comma-separated database.table) and/or GLUE_DATABASES (comma-separated databases)"
    )]
    NothingToServe,
    #[error("`{0}` is not a table name: GLUE_TABLES takes comma-separated database.table entries")]
    MalformedTable(String),
    #[error("`{0}` is not a database name in GLUE_DATABASES: names may not contain dots or spaces")]
    MalformedDatabase(String),
    #[error("{name}=`{value}` is not a boolean: use true or false")]
    NotABoolean { name: &'static str, value: String },
    #[error("{name}=`{value}` is not a whole number of seconds")]
    NotSeconds { name: &'static str, value: String },
    #[error("GLUE_CATALOG_ID=`{0}` is not an AWS account id (12 digits)")]
    NotAnAccount(String),
    #[error(
        "SCHEMA_DRIFT_DETECTION is on, but this build has no Parquet reader (build with the cargo feature schema-drift)"
    )]
    NoDriftDetection,
}

/// Everything the registrar reads from its environment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    pub tables: Vec<TableName>,
    pub databases: Vec<String>,
    pub delete_empty_partitions: bool,
    pub log_level: String,
    /// How long table metadata stays cached in a warm process: schema changes made by a
    /// crawler or by Terraform are seen within this time.
    pub table_cache_ttl: Duration,
    /// Read the Parquet footer of the first object of each new partition and report columns
    /// that differ from the table's (`SCHEMA_DRIFT_DETECTION`).
    pub schema_drift: bool,
    /// The Data Catalog to register in: another account's, when the catalog is kept
    /// centrally (and governed by Lake Formation). `None` is the function's own account.
    pub catalog_id: Option<String>,
}

/// Names of the variables, in one place so the Terraform wiring test can check them.
pub const ENV_VARS: [&str; 7] = [
    "GLUE_TABLES",
    "GLUE_DATABASES",
    "DELETE_EMPTY_PARTITIONS",
    "LOG_LEVEL",
    "TABLE_CACHE_SECONDS",
    "GLUE_CATALOG_ID",
    "SCHEMA_DRIFT_DETECTION",
];

const DEFAULT_TABLE_CACHE: Duration = Duration::from_secs(300);

impl Config {
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let list = |name: &str| -> Vec<String> {
            lookup(name)
                .unwrap_or_default()
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect()
        };
        let mut tables = list("GLUE_TABLES")
            .iter()
            .map(|t| TableName::parse(t).map_err(|_| ConfigError::MalformedTable(t.clone())))
            .collect::<Result<Vec<_>, _>>()?;
        tables.sort();
        tables.dedup();
        let mut databases = Vec::new();
        for db in list("GLUE_DATABASES") {
            if db.contains(['.', ' ']) {
                return Err(ConfigError::MalformedDatabase(db));
            }
            databases.push(db.to_ascii_lowercase());
        }
        databases.sort();
        databases.dedup();
        if tables.is_empty() && databases.is_empty() {
            return Err(ConfigError::NothingToServe);
        }
        let flag = |name: &'static str| -> Result<bool, ConfigError> {
            match lookup(name) {
                None => Ok(false),
                Some(v) => match v.trim().to_ascii_lowercase().as_str() {
                    "" | "false" | "0" | "no" => Ok(false),
                    "true" | "1" | "yes" => Ok(true),
                    _ => Err(ConfigError::NotABoolean { name, value: v }),
                },
            }
        };
        let delete_empty_partitions = flag("DELETE_EMPTY_PARTITIONS")?;
        let schema_drift = flag("SCHEMA_DRIFT_DETECTION")?;
        if schema_drift && !cfg!(feature = "schema-drift") {
            return Err(ConfigError::NoDriftDetection);
        }
        let table_cache_ttl = match lookup("TABLE_CACHE_SECONDS") {
            None => DEFAULT_TABLE_CACHE,
            Some(v) => {
                Duration::from_secs(v.trim().parse().map_err(|_| ConfigError::NotSeconds {
                    name: "TABLE_CACHE_SECONDS",
                    value: v.clone(),
                })?)
            }
        };
        let catalog_id = match lookup("GLUE_CATALOG_ID").map(|v| v.trim().to_owned()) {
            None => None,
            Some(v) if v.is_empty() => None,
            Some(v) if v.len() == 12 && v.bytes().all(|b| b.is_ascii_digit()) => Some(v),
            Some(v) => return Err(ConfigError::NotAnAccount(v)),
        };
        Ok(Self {
            tables,
            databases,
            delete_empty_partitions,
            schema_drift,
            catalog_id,
            log_level: lookup("LOG_LEVEL")
                .filter(|s| !s.trim().is_empty())
                .unwrap_or_else(|| "info".to_owned()),
            table_cache_ttl,
        })
    }

    /// Whether this configuration serves the table: named in `GLUE_TABLES`, or in one of
    /// `GLUE_DATABASES`.
    pub fn serves(&self, table: &TableName) -> bool {
        self.tables.contains(table) || self.databases.contains(&table.database)
    }

    /// Serving exactly one table, as `explain`, `backfill` and `sync` need; the rest of the
    /// environment (`GLUE_CATALOG_ID`, `DELETE_EMPTY_PARTITIONS`, ...) still applies.
    pub fn for_table_from_env(table: &TableName) -> Result<Self, ConfigError> {
        let name = table.to_string();
        Self::from_lookup(|var| match var {
            "GLUE_TABLES" => Some(name.clone()),
            "GLUE_DATABASES" => None,
            _ => std::env::var(var).ok(),
        })
    }

    /// A configuration serving exactly one table, and nothing else set.
    pub fn for_table(table: TableName) -> Self {
        Self {
            tables: vec![table],
            databases: Vec::new(),
            delete_empty_partitions: false,
            log_level: "info".to_owned(),
            table_cache_ttl: DEFAULT_TABLE_CACHE,
            schema_drift: false,
            catalog_id: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn parse(vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Config::from_lookup(|k| map.get(k).cloned())
    }

    #[test]
    fn tables_are_parsed_trimmed_and_lowercased() {
        let c = parse(&[("GLUE_TABLES", " Analytics.Events , db.t2")]).unwrap();
        assert_eq!(
            c.tables,
            vec![
                TableName::parse("analytics.events").unwrap(),
                TableName::parse("db.t2").unwrap()
            ]
        );
    }

    #[test]
    fn neither_tables_nor_databases_is_an_error() {
        assert_eq!(parse(&[]), Err(ConfigError::NothingToServe));
        assert_eq!(
            parse(&[("GLUE_TABLES", " , ")]),
            Err(ConfigError::NothingToServe)
        );
    }

    #[test]
    fn table_without_database_is_an_error() {
        assert!(matches!(
            parse(&[("GLUE_TABLES", "events")]),
            Err(ConfigError::MalformedTable(_))
        ));
    }

    #[test]
    fn databases_alone_are_enough() {
        let c = parse(&[("GLUE_DATABASES", "raw,curated")]).unwrap();
        assert_eq!(c.databases, vec!["curated", "raw"]);
        assert!(!c.delete_empty_partitions);
        assert_eq!(c.log_level, "info");
    }

    #[test]
    fn delete_empty_partitions_must_be_a_boolean() {
        assert!(
            parse(&[("GLUE_DATABASES", "d"), ("DELETE_EMPTY_PARTITIONS", "TRUE")])
                .unwrap()
                .delete_empty_partitions
        );
        assert!(matches!(
            parse(&[
                ("GLUE_DATABASES", "d"),
                ("DELETE_EMPTY_PARTITIONS", "maybe")
            ]),
            Err(ConfigError::NotABoolean { .. })
        ));
    }

    #[test]
    fn catalog_id_must_be_an_account_id() {
        let c = parse(&[("GLUE_DATABASES", "d"), ("GLUE_CATALOG_ID", "111122223333")]).unwrap();
        assert_eq!(c.catalog_id.as_deref(), Some("111122223333"));
        assert!(matches!(
            parse(&[("GLUE_DATABASES", "d"), ("GLUE_CATALOG_ID", "central")]),
            Err(ConfigError::NotAnAccount(_))
        ));
    }

    #[test]
    fn table_cache_seconds_is_read() {
        let c = parse(&[("GLUE_DATABASES", "d"), ("TABLE_CACHE_SECONDS", "7")]).unwrap();
        assert_eq!(c.table_cache_ttl, Duration::from_secs(7));
    }
}
