//! The tables this process serves, read from Glue and kept for `TABLE_CACHE_SECONDS`: a warm
//! Lambda makes no table lookup per event, and still sees a changed table (a new column, a
//! new template) within that time.

use crate::catalog::{Catalog, CatalogError, ServedTable};
use registrar_core::table::{S3Location, TableError};
use registrar_core::{Deadline, TableName};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The tables this process serves, as of one read of the catalog.
#[derive(Debug, Default)]
pub struct ServedTables {
    pub tables: Vec<ServedTable>,
    /// Tables of a served database that cannot be served as declared (a bad template): keys
    /// under them fail, so that their data is not silently dropped.
    pub broken: Vec<(S3Location, String)>,
}

impl ServedTables {
    fn push(&mut self, t: ServedTable) {
        if self
            .tables
            .iter()
            .all(|have| have.table.name != t.table.name)
        {
            self.tables.push(t);
        }
    }

    /// Why keys under this object's location cannot be served, if a broken table holds it.
    pub fn broken_for(&self, bucket: &str, key: &str) -> Option<&str> {
        self.broken
            .iter()
            .filter(|(l, _)| l.holds(bucket, key))
            .max_by_key(|(l, _)| l.prefix.len())
            .map(|(_, e)| e.as_str())
    }
}

/// The served tables, read at most once per time-to-live.
pub struct TableCache {
    catalog: Catalog,
    names: Vec<TableName>,
    databases: Vec<String>,
    ttl: Duration,
    cached: tokio::sync::Mutex<Option<(Instant, Arc<ServedTables>)>>,
}

impl TableCache {
    pub fn new(
        catalog: Catalog,
        names: Vec<TableName>,
        databases: Vec<String>,
        ttl: Duration,
    ) -> Self {
        Self {
            catalog,
            names,
            databases,
            ttl,
            cached: tokio::sync::Mutex::new(None),
        }
    }

    pub async fn get(&self, deadline: Deadline) -> Result<Arc<ServedTables>, CatalogError> {
        let mut cached = self.cached.lock().await;
        if let Some((at, tables)) = cached.as_ref()
            && at.elapsed() < self.ttl
        {
            return Ok(tables.clone());
        }
        let mut served = ServedTables::default();
        for name in &self.names {
            served.push(self.catalog.table(name, deadline).await?);
        }
        for db in &self.databases {
            let (tables, unserved) = self.catalog.database_tables(db, deadline).await?;
            tables.into_iter().for_each(|t| served.push(t));
            for e in unserved {
                if let TableError::BadTemplate(problem) = &e {
                    tracing::warn!(error = %e, "table not served");
                    served
                        .broken
                        .push((problem.location.clone(), e.to_string()));
                }
            }
        }
        let served = Arc::new(served);
        *cached = Some((Instant::now(), served.clone()));
        Ok(served)
    }
}
