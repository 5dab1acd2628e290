//! Settings from the environment, read once, in this one place, for the Lambda and the CLI:
//! everything else takes the values from here and reads no environment variable itself.
//!
//! Parsing is a pure function of a variable lookup, so it is tested without touching the
//! process environment.

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
    #[error(
        "TABLE_SETTINGS is not a JSON object of database.table to {{\"registration\", \"marker\", \"complete_after\"}}: {0}"
    )]
    TableSettings(String),
}

/// A served table's registration policy as the module's `table_settings` (`TABLE_SETTINGS`)
/// writes it; a field left out keeps the table's own parameter, or the default.
impl TableSetting {
    /// The table's policy with these settings over it.
    pub fn apply(
        &self,
        mut c: registrar_core::table::Completion,
    ) -> Result<registrar_core::table::Completion, registrar_core::table::SettingError> {
        let over = registrar_core::table::Completion::from_settings(
            self.registration.as_deref(),
            self.marker.as_deref(),
            self.complete_after.as_deref(),
        )?;
        if self.registration.is_some() {
            c.registration = over.registration;
        }
        if self.marker.is_some() {
            c.marker = over.marker;
        }
        if self.complete_after.is_some() {
            c.complete_after = over.complete_after;
        }
        Ok(c)
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TableSetting {
    pub registration: Option<String>,
    pub marker: Option<String>,
    pub complete_after: Option<String>,
}

/// What the registrar serves and how: the part of the settings the handler and sync take.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    pub tables: Vec<TableName>,
    /// `GLUE_TABLES=s3://bucket/key`: the served tables are listed in that object (one per
    /// line or comma-separated), read with the tables. Lambda holds 4 KB of environment in
    /// all, about a hundred table names: the module writes a longer list there.
    pub tables_uri: Option<String>,
    pub databases: Vec<String>,
    pub delete_empty_partitions: bool,
    /// How long table metadata stays cached in a warm process: schema changes made by a
    /// crawler or by Terraform are seen within this time.
    pub table_cache_ttl: Duration,
    /// Read the Parquet footer of the first object of each new partition and report columns
    /// that differ from the table's (`SCHEMA_DRIFT_DETECTION`).
    pub schema_drift: bool,
    /// The Data Catalog to register in: another account's, when the catalog is kept
    /// centrally (and governed by Lake Formation). `None` is the function's own account.
    pub catalog_id: Option<String>,
    /// Where passes keep their checkpoints (`CHECKPOINT_URI`: `s3://bucket/prefix/` or
    /// `file:///dir/`); `None` is a directory under the system's temporary directory.
    pub checkpoint: Option<String>,
    /// The EventBridge bus `Partition Complete` events go to (`COMPLETION_BUS`, a name or an
    /// ARN); `None` announces nothing.
    pub completion_bus: Option<String>,
    /// Per-table registration policies (`TABLE_SETTINGS`), over the tables' own parameters.
    pub table_settings: std::collections::BTreeMap<TableName, TableSetting>,
    /// The deployment's name (`POWERTOOLS_SERVICE_NAME`), in the events it puts.
    pub service: String,
}

/// Where the metrics go and how they are keyed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetricsConfig {
    pub namespace: String,
    /// The `service` dimension on every metric (Powertools' convention): several deployments
    /// can share one namespace and still be told apart.
    pub service: String,
    /// The value of the `FunctionName` dimension on invocation totals.
    pub function_name: String,
    /// Also emit per-table metrics, with a `Table` dimension (`database.table`).
    pub per_table: bool,
}

/// Everything read from the environment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    pub registrar: Config,
    pub metrics: MetricsConfig,
    /// `LOG_LEVEL`, when set.
    pub log_level: Option<String>,
    /// `AWS_ENDPOINT_URL`, when set: a plain `http://` one needs no TLS stack.
    pub endpoint: Option<String>,
    /// Started by the Lambda runtime (`AWS_LAMBDA_RUNTIME_API` is set).
    pub lambda_runtime: bool,
}

/// The variables the registrar itself reads (the AWS SDK reads the standard `AWS_*` ones).
/// In one place so that the CLI's help and the Terraform wiring test name them all.
pub const ENV_VARS: [&str; 13] = [
    "GLUE_TABLES",
    "GLUE_DATABASES",
    "GLUE_CATALOG_ID",
    "DELETE_EMPTY_PARTITIONS",
    "SCHEMA_DRIFT_DETECTION",
    "TABLE_CACHE_SECONDS",
    "LOG_LEVEL",
    "METRICS_NAMESPACE",
    "METRICS_PER_TABLE",
    "POWERTOOLS_SERVICE_NAME",
    "CHECKPOINT_URI",
    "COMPLETION_BUS",
    "TABLE_SETTINGS",
];

/// Set by Lambda, read for the `FunctionName` dimension.
pub const LAMBDA_VARS: [&str; 2] = ["AWS_LAMBDA_FUNCTION_NAME", "AWS_LAMBDA_RUNTIME_API"];

pub const DEFAULT_NAMESPACE: &str = "GluePartitionRegistrar";
pub const DEFAULT_SERVICE: &str = "glue-partition-registrar";
const DEFAULT_TABLE_CACHE: Duration = Duration::from_secs(300);

/// One way to read a boolean, for every boolean variable.
fn boolean(name: &'static str, value: Option<String>, default: bool) -> Result<bool, ConfigError> {
    match value {
        None => Ok(default),
        Some(v) => match v.trim().to_ascii_lowercase().as_str() {
            "" => Ok(default),
            "false" | "0" | "no" | "off" => Ok(false),
            "true" | "1" | "yes" | "on" => Ok(true),
            _ => Err(ConfigError::NotABoolean { name, value: v }),
        },
    }
}

impl Settings {
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let text = |name: &str| lookup(name).filter(|v| !v.trim().is_empty());
        let registrar = Config::from_lookup(&lookup)?;
        Ok(Self {
            metrics: MetricsConfig {
                namespace: text("METRICS_NAMESPACE").unwrap_or_else(|| DEFAULT_NAMESPACE.into()),
                service: registrar.service.clone(),
                function_name: text("AWS_LAMBDA_FUNCTION_NAME").unwrap_or_else(|| "cli".into()),
                per_table: boolean("METRICS_PER_TABLE", lookup("METRICS_PER_TABLE"), true)?,
            },
            registrar,
            log_level: text("LOG_LEVEL"),
            endpoint: text("AWS_ENDPOINT_URL"),
            lambda_runtime: lookup("AWS_LAMBDA_RUNTIME_API").is_some(),
        })
    }
}

/// `TABLE_SETTINGS`: `{"db.t": {"registration": "marker", ...}}`; empty when unset.
fn table_settings(
    text: Option<String>,
) -> Result<std::collections::BTreeMap<TableName, TableSetting>, ConfigError> {
    let Some(text) = text.filter(|t| !t.trim().is_empty()) else {
        return Ok(Default::default());
    };
    let raw: std::collections::BTreeMap<String, TableSetting> =
        serde_json::from_str(&text).map_err(|e| ConfigError::TableSettings(e.to_string()))?;
    raw.into_iter()
        .map(|(name, setting)| {
            TableName::parse(&name)
                .map(|t| (t, setting))
                .map_err(|_| ConfigError::TableSettings(format!("`{name}` is not database.table")))
        })
        .collect()
}

impl Config {
    fn from_lookup(lookup: &impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let list = |name: &str| -> Vec<String> {
            lookup(name)
                .unwrap_or_default()
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect()
        };
        let tables_uri = lookup("GLUE_TABLES")
            .map(|v| v.trim().to_owned())
            .filter(|v| v.starts_with("s3://"));
        let mut tables = list("GLUE_TABLES")
            .iter()
            .filter(|t| tables_uri.is_none() && !t.starts_with("s3://"))
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
        let schema_drift = boolean(
            "SCHEMA_DRIFT_DETECTION",
            lookup("SCHEMA_DRIFT_DETECTION"),
            false,
        )?;
        if schema_drift && !cfg!(feature = "schema-drift") {
            return Err(ConfigError::NoDriftDetection);
        }
        let table_cache_ttl = match lookup("TABLE_CACHE_SECONDS").filter(|v| !v.trim().is_empty()) {
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
            tables_uri,
            databases,
            delete_empty_partitions: boolean(
                "DELETE_EMPTY_PARTITIONS",
                lookup("DELETE_EMPTY_PARTITIONS"),
                false,
            )?,
            schema_drift,
            catalog_id,
            table_cache_ttl,
            checkpoint: lookup("CHECKPOINT_URI")
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty()),
            completion_bus: lookup("COMPLETION_BUS")
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty()),
            table_settings: table_settings(lookup("TABLE_SETTINGS"))?,
            service: lookup("POWERTOOLS_SERVICE_NAME")
                .filter(|v| !v.trim().is_empty())
                .unwrap_or_else(|| DEFAULT_SERVICE.into()),
        })
    }

    /// The event path needs something to serve.
    pub fn require_tables(&self) -> Result<(), ConfigError> {
        if self.tables.is_empty() && self.databases.is_empty() && self.tables_uri.is_none() {
            return Err(ConfigError::NothingToServe);
        }
        Ok(())
    }

    /// Whether this configuration serves the table: named in `GLUE_TABLES`, or in one of
    /// `GLUE_DATABASES`.
    pub fn serves(&self, table: &TableName) -> bool {
        self.tables.contains(table) || self.databases.contains(&table.database)
    }

    /// The same settings serving exactly `table`, as `explain`, `backfill` and `sync` need;
    /// the rest (`GLUE_CATALOG_ID`, `DELETE_EMPTY_PARTITIONS`, ...) still applies.
    pub fn serving_only(mut self, table: TableName) -> Self {
        self.tables = vec![table];
        self.tables_uri = None;
        self.databases.clear();
        self
    }

    /// A configuration serving exactly one table, and nothing else set.
    pub fn for_table(table: TableName) -> Self {
        Self {
            tables: vec![table],
            tables_uri: None,
            databases: Vec::new(),
            delete_empty_partitions: false,
            table_cache_ttl: DEFAULT_TABLE_CACHE,
            schema_drift: false,
            catalog_id: None,
            checkpoint: None,
            completion_bus: None,
            table_settings: Default::default(),
            service: DEFAULT_SERVICE.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn settings(vars: &[(&str, &str)]) -> Result<Settings, ConfigError> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Settings::from_lookup(|k| map.get(k).cloned())
    }

    fn parse(vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
        settings(vars).map(|s| s.registrar)
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
    fn the_event_path_needs_tables_or_databases() {
        assert_eq!(
            parse(&[]).unwrap().require_tables(),
            Err(ConfigError::NothingToServe)
        );
        assert_eq!(
            parse(&[("GLUE_TABLES", " , ")]).unwrap().require_tables(),
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
        assert!(c.require_tables().is_ok());
    }

    #[test]
    fn every_boolean_is_read_the_same_way() {
        for (text, want) in [
            ("TRUE", true),
            ("1", true),
            ("yes", true),
            ("0", false),
            ("false", false),
        ] {
            let s = settings(&[
                ("DELETE_EMPTY_PARTITIONS", text),
                ("METRICS_PER_TABLE", text),
            ])
            .unwrap();
            assert_eq!(s.registrar.delete_empty_partitions, want, "{text}");
            assert_eq!(s.metrics.per_table, want, "METRICS_PER_TABLE={text}");
        }
        for name in [
            "DELETE_EMPTY_PARTITIONS",
            "METRICS_PER_TABLE",
            "SCHEMA_DRIFT_DETECTION",
        ] {
            assert!(
                matches!(
                    settings(&[(name, "maybe")]),
                    Err(ConfigError::NotABoolean { .. })
                ),
                "{name}"
            );
        }
    }

    #[test]
    fn per_table_metrics_are_on_unless_turned_off() {
        assert!(settings(&[]).unwrap().metrics.per_table);
    }

    #[test]
    fn catalog_id_must_be_an_account_id() {
        let c = parse(&[("GLUE_CATALOG_ID", "111122223333")]).unwrap();
        assert_eq!(c.catalog_id.as_deref(), Some("111122223333"));
        assert!(matches!(
            parse(&[("GLUE_CATALOG_ID", "central")]),
            Err(ConfigError::NotAnAccount(_))
        ));
    }

    #[test]
    fn table_cache_seconds_is_read() {
        let c = parse(&[("TABLE_CACHE_SECONDS", "7")]).unwrap();
        assert_eq!(c.table_cache_ttl, Duration::from_secs(7));
    }

    #[test]
    fn metrics_and_logs_settings_are_read_here() {
        let s = settings(&[
            ("METRICS_NAMESPACE", "Lake"),
            ("POWERTOOLS_SERVICE_NAME", "ingest"),
            ("AWS_LAMBDA_FUNCTION_NAME", "fn"),
            ("LOG_LEVEL", "debug"),
            ("AWS_ENDPOINT_URL", "http://127.0.0.1:5000"),
        ])
        .unwrap();
        assert_eq!(s.metrics.namespace, "Lake");
        assert_eq!(s.metrics.service, "ingest");
        assert_eq!(s.metrics.function_name, "fn");
        assert_eq!(s.log_level.as_deref(), Some("debug"));
        assert_eq!(s.endpoint.as_deref(), Some("http://127.0.0.1:5000"));
        assert!(!s.lambda_runtime);
    }
}
