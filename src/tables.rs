//! The tables this process serves, read from Glue and kept for `TABLE_CACHE_SECONDS`: a warm
//! Lambda makes no table lookup per event, and still sees a changed table (a new column, a
//! new template) within that time.
//!
//! Tables are read at once, and each on its own: a table that was dropped, or that Glue does
//! not answer for, is set apart with its reason, and only objects that may be its fail (so
//! they come back), while every other table keeps registering.

use crate::catalog::{Catalog, CatalogError, ServedTable};
use futures_util::StreamExt;
use registrar_core::table::{S3Location, TableError};
use registrar_core::{Deadline, TableName};
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Tables (and databases) read at once.
const READ_CONCURRENCY: usize = 8;
/// How long a read with a broken table is trusted: the table may be back soon (Glue
/// answering again, a table re-created), and a read costs one request per table.
const BROKEN_TTL: Duration = Duration::from_secs(30);

/// A table of the configuration that cannot be served now, and why.
#[derive(Debug, Clone)]
pub struct BrokenTable {
    /// The table, or the database of `GLUE_DATABASES` that could not be listed.
    pub name: String,
    pub holds: Holds,
    pub error: String,
}

/// Which objects a broken table may own.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Holds {
    /// Those under its location: known from the table itself (a bad template, no partition
    /// keys) or from its last good read in this process.
    At(S3Location),
    /// Unknown (never read by this process): any object no healthy table holds may be its.
    Unknown,
    /// None: it has no S3 location.
    Nothing,
}

/// The tables this process serves, as of one read of the catalog.
#[derive(Debug, Default)]
pub struct ServedTables {
    pub tables: Vec<ServedTable>,
    /// Tables of the configuration that cannot be served (missing, unreadable, a bad
    /// template): objects that may be theirs fail, so that their data is not silently dropped.
    pub broken: Vec<BrokenTable>,
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

    /// Why an object no healthy table holds cannot be skipped: the broken table whose
    /// location holds it (the longest), or else a broken table whose location is unknown,
    /// which may hold it.
    pub fn broken_for(&self, bucket: &str, key: &str) -> Option<&BrokenTable> {
        let at = |b: &BrokenTable| match &b.holds {
            Holds::At(l) if l.holds(bucket, key) => Some(l.prefix.len()),
            _ => None,
        };
        self.broken
            .iter()
            .filter(|b| at(b).is_some())
            .max_by_key(|b| at(b))
            .or_else(|| self.broken.iter().find(|b| b.holds == Holds::Unknown))
    }
}

/// The served tables, read at most once per time-to-live.
pub struct TableCache {
    catalog: Catalog,
    names: Vec<TableName>,
    /// Where more names are listed (`GLUE_TABLES=s3://...`), read with the tables.
    list: Option<(aws_sdk_s3::Client, String, String)>,
    databases: Vec<String>,
    ttl: Duration,
    cached: tokio::sync::Mutex<Option<Cached>>,
}

struct Cached {
    at: Instant,
    ttl: Duration,
    tables: Arc<ServedTables>,
}

/// One configured name's read.
enum Read {
    Table(TableName, Box<Result<ServedTable, CatalogError>>),
    Database(
        String,
        Result<(Vec<ServedTable>, Vec<TableError>), CatalogError>,
    ),
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
            list: None,
            databases,
            ttl,
            cached: tokio::sync::Mutex::new(None),
        }
    }

    /// Serve also the tables listed in `s3://bucket/key` (one per line, or comma-separated).
    pub fn with_list(mut self, s3: aws_sdk_s3::Client, uri: &str) -> Self {
        let rest = uri.strip_prefix("s3://").unwrap_or(uri);
        let (bucket, key) = rest.split_once('/').unwrap_or((rest, ""));
        self.list = Some((s3, bucket.to_owned(), key.to_owned()));
        self
    }

    /// The names the list holds.
    async fn listed(&self, deadline: Deadline) -> Result<Vec<TableName>, String> {
        let Some((s3, bucket, key)) = &self.list else {
            return Ok(Vec::new());
        };
        let uri = format!("s3://{bucket}/{key}");
        let send = s3.get_object().bucket(bucket).key(key).send();
        let out = crate::aws::call(deadline, "S3", "GetObject", send)
            .await
            .map_err(|e| format!("the served tables' list {uri} could not be read: {e}"))?;
        let body = out
            .body
            .collect()
            .await
            .map_err(|e| format!("the served tables' list {uri} could not be read: {e}"))?;
        let text = String::from_utf8_lossy(&body.into_bytes()).into_owned();
        text.split([',', '\n', ' ', '\t', '\r'])
            .filter(|n| !n.is_empty())
            .map(|n| {
                TableName::parse(n).map_err(|_| {
                    format!("`{n}` in the served tables' list {uri} is not database.table")
                })
            })
            .collect()
    }

    pub async fn get(&self, deadline: Deadline) -> Arc<ServedTables> {
        let mut cached = self.cached.lock().await;
        if let Some(c) = cached.as_ref()
            && c.at.elapsed() < c.ttl
        {
            return c.tables.clone();
        }
        let previous = cached.as_ref().map(|c| c.tables.clone());
        let mut names = self.names.clone();
        let mut unlisted = None;
        match self.listed(deadline).await {
            Ok(listed) => names.extend(listed),
            Err(e) => unlisted = Some(e),
        }
        names.sort();
        names.dedup();
        let reads = names
            .iter()
            .map(|name| {
                let name = name.clone();
                Box::pin(async move {
                    let read = self.catalog.table(&name, deadline).await;
                    Read::Table(name, Box::new(read))
                }) as std::pin::Pin<Box<dyn Future<Output = Read> + Send + '_>>
            })
            .chain(self.databases.iter().map(|db| {
                let db = db.clone();
                Box::pin(async move {
                    let read = self.catalog.database_tables(&db, deadline).await;
                    Read::Database(db, read)
                }) as std::pin::Pin<Box<dyn Future<Output = Read> + Send + '_>>
            }));
        // In configuration order, whatever order the answers come in.
        let reads: Vec<Read> = futures_util::stream::iter(reads)
            .buffered(READ_CONCURRENCY)
            .collect()
            .await;
        let mut served = ServedTables::default();
        if let Some(error) = unlisted {
            served.broken.push(BrokenTable {
                name: "the served tables' list".to_owned(),
                holds: Holds::Unknown,
                error,
            });
        }
        let known = |name: &TableName| -> Option<S3Location> {
            previous
                .as_ref()?
                .tables
                .iter()
                .find(|t| &t.table.name == name)
                .map(|t| t.table.location.clone())
        };
        for read in reads {
            match read {
                Read::Table(name, read) => match *read {
                    Ok(table) => served.push(table),
                    Err(e) => served.broken.push(BrokenTable {
                        holds: match &e {
                            CatalogError::Table(t) => match t.location() {
                                Some(l) => Holds::At(l.clone()),
                                None => Holds::Nothing,
                            },
                            _ => known(&name).map_or(Holds::Unknown, Holds::At),
                        },
                        name: name.to_string(),
                        error: e.to_string(),
                    }),
                },
                Read::Database(_, Ok((tables, unserved))) => {
                    tables.into_iter().for_each(|t| served.push(t));
                    for e in unserved {
                        // Views and unpartitioned tables are not served, as designed; a
                        // table that means to be (a template) but cannot, is broken.
                        let meant = match &e {
                            TableError::BadTemplate(p) => Some((&p.table, &p.location)),
                            TableError::BadSetting(b) => Some((&b.table, &b.location)),
                            _ => None,
                        };
                        if let Some((table, location)) = meant {
                            served.broken.push(BrokenTable {
                                name: table.to_string(),
                                holds: Holds::At(location.clone()),
                                error: e.to_string(),
                            });
                        }
                    }
                }
                Read::Database(db, Err(e)) => served.broken.push(BrokenTable {
                    name: format!("database {db}"),
                    holds: Holds::Unknown,
                    error: e.to_string(),
                }),
            }
        }
        for b in &served.broken {
            let location = match &b.holds {
                Holds::At(l) => l.uri(),
                Holds::Unknown => "unknown".to_owned(),
                Holds::Nothing => "none".to_owned(),
            };
            tracing::error!(
                table = %b.name,
                error = %b.error,
                location,
                "served table unreadable"
            );
        }
        let ttl = if served.broken.is_empty() {
            self.ttl
        } else {
            self.ttl.min(BROKEN_TTL)
        };
        let served = Arc::new(served);
        *cached = Some(Cached {
            at: Instant::now(),
            ttl,
            tables: served.clone(),
        });
        served
    }
}
