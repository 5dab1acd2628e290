//! The Glue Data Catalog calls: where tables are read and `BatchCreatePartition` is called.

use crate::aws::describe;
use crate::config::TableName;
use crate::table::{TEMPLATE_PARAMETER, Table, TableError};
use aws_sdk_glue::types::{PartitionInput, PartitionValueList, StorageDescriptor};
use futures_util::StreamExt;
use std::collections::{HashMap, HashSet};
use std::time::Duration;

/// `BatchCreatePartition` takes at most 100 partitions per request.
pub const CREATE_CHUNK: usize = 100;
/// `BatchGetPartition` takes at most 1000 partitions per request.
const GET_CHUNK: usize = 1000;
/// Chunks in flight at once for an event: enough to hide latency, few enough not to be
/// throttled when many functions run at once.
pub const CHUNK_CONCURRENCY: usize = 4;
/// Rounds of retry for per-partition transient errors inside a successful response.
const ENTRY_RETRIES: u32 = 4;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CatalogError {
    #[error("table {0} does not exist in the Glue Data Catalog (check GLUE_TABLES and AWS_REGION)")]
    TableNotFound(TableName),
    #[error(
        "database `{0}` does not exist in the Glue Data Catalog (check GLUE_DATABASES and AWS_REGION)"
    )]
    DatabaseNotFound(String),
    #[error("Glue {operation} failed: {message}")]
    Api {
        operation: &'static str,
        message: String,
    },
    #[error(transparent)]
    Table(#[from] TableError),
}

/// A served table and the storage descriptor its partitions copy.
#[derive(Debug, Clone)]
pub struct CatalogTable {
    pub table: Table,
    pub storage: StorageDescriptor,
}

/// How one partition's registration ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Registered {
    Created,
    Existing,
}

/// Read a Glue table into what the planner needs.
pub fn from_glue(
    database: &str,
    t: &aws_sdk_glue::types::Table,
) -> Result<CatalogTable, TableError> {
    let name = TableName {
        database: database.to_ascii_lowercase(),
        table: t.name().to_ascii_lowercase(),
    };
    let storage = t
        .storage_descriptor()
        .cloned()
        .unwrap_or_else(|| StorageDescriptor::builder().build());
    let keys: Vec<(String, String)> = t
        .partition_keys()
        .iter()
        .map(|c| {
            (
                c.name().to_owned(),
                c.r#type().unwrap_or("string").to_owned(),
            )
        })
        .collect();
    let template = t
        .parameters()
        .and_then(|p| p.get(TEMPLATE_PARAMETER))
        .map(String::as_str);
    let table = Table::new(name, storage.location.as_deref(), &keys, template)?;
    Ok(CatalogTable { table, storage })
}

/// The partition as a crawler would write it: the table's storage descriptor (columns,
/// formats, SerDe) with the partition's own location.
pub fn partition_input(
    storage: &StorageDescriptor,
    values: Vec<String>,
    location: String,
) -> PartitionInput {
    let mut sd = storage.clone();
    sd.location = Some(location);
    PartitionInput::builder()
        .set_values(Some(values))
        .storage_descriptor(sd)
        .build()
}

fn transient(code: &str) -> bool {
    matches!(
        code,
        "ThrottlingException"
            | "InternalServiceException"
            | "OperationTimeoutException"
            | "ConcurrentModificationException"
    )
}

#[derive(Debug, Clone)]
pub struct Catalog {
    client: aws_sdk_glue::Client,
}

impl Catalog {
    pub fn new(client: aws_sdk_glue::Client) -> Self {
        Self { client }
    }

    pub async fn table(&self, name: &TableName) -> Result<CatalogTable, CatalogError> {
        let out = self
            .client
            .get_table()
            .database_name(&name.database)
            .name(&name.table)
            .send()
            .await
            .map_err(|e| match e.as_service_error() {
                Some(s) if s.is_entity_not_found_exception() => {
                    CatalogError::TableNotFound(name.clone())
                }
                _ => CatalogError::Api {
                    operation: "GetTable",
                    message: describe(&e),
                },
            })?;
        let table = out
            .table()
            .ok_or_else(|| CatalogError::TableNotFound(name.clone()))?;
        Ok(from_glue(&name.database, table)?)
    }

    /// Every table of a database that has an S3 location and partition keys; the others
    /// (views, unpartitioned tables, tables elsewhere) are not served and are returned apart.
    pub async fn database_tables(
        &self,
        database: &str,
    ) -> Result<(Vec<CatalogTable>, Vec<TableError>), CatalogError> {
        let mut pages = self
            .client
            .get_tables()
            .database_name(database)
            .into_paginator()
            .send();
        let mut served = Vec::new();
        let mut unserved = Vec::new();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| match e.as_service_error() {
                Some(s) if s.is_entity_not_found_exception() => {
                    CatalogError::DatabaseNotFound(database.to_owned())
                }
                _ => CatalogError::Api {
                    operation: "GetTables",
                    message: describe(&e),
                },
            })?;
            for t in page.table_list() {
                match from_glue(database, t) {
                    Ok(table) => served.push(table),
                    Err(e) => unserved.push(e),
                }
            }
        }
        Ok((served, unserved))
    }

    /// Register partitions, in chunks of at most 100, `concurrency` chunks in flight. Returns one
    /// result per input, in input order; `AlreadyExistsException` is `Existing`, transient
    /// per-partition errors are retried with backoff, and the rest are the error text.
    pub async fn create_partitions(
        &self,
        table: &TableName,
        inputs: Vec<PartitionInput>,
        concurrency: usize,
    ) -> Vec<Result<Registered, String>> {
        let total = inputs.len();
        let chunks: Vec<Vec<(usize, PartitionInput)>> = inputs
            .into_iter()
            .enumerate()
            .collect::<Vec<_>>()
            .chunks(CREATE_CHUNK)
            .map(<[_]>::to_vec)
            .collect();
        let mut results: Vec<Result<Registered, String>> = vec![Err(String::new()); total];
        let mut done = futures_util::stream::iter(chunks)
            .map(|chunk| self.create_chunk(table, chunk))
            .buffer_unordered(concurrency.max(1));
        while let Some(chunk_results) = done.next().await {
            for (i, r) in chunk_results {
                results[i] = r;
            }
        }
        results
    }

    async fn create_chunk(
        &self,
        table: &TableName,
        mut pending: Vec<(usize, PartitionInput)>,
    ) -> Vec<(usize, Result<Registered, String>)> {
        let mut results = Vec::with_capacity(pending.len());
        for round in 0..=ENTRY_RETRIES {
            if round > 0 {
                tokio::time::sleep(backoff(round)).await;
            }
            let sent = self
                .client
                .batch_create_partition()
                .database_name(&table.database)
                .table_name(&table.table)
                .set_partition_input_list(Some(pending.iter().map(|(_, p)| p.clone()).collect()))
                .send()
                .await;
            let out = match sent {
                Ok(out) => out,
                Err(e) => {
                    // The SDK has already retried throttling and transient failures.
                    let message = format!("Glue BatchCreatePartition failed: {}", describe(&e));
                    results.extend(pending.into_iter().map(|(i, _)| (i, Err(message.clone()))));
                    return results;
                }
            };
            let mut errors: HashMap<&[String], (&str, &str)> = HashMap::new();
            for e in out.errors() {
                let detail = e.error_detail();
                errors.insert(
                    e.partition_values(),
                    (
                        detail
                            .and_then(|d| d.error_code())
                            .unwrap_or("UnknownError"),
                        detail.and_then(|d| d.error_message()).unwrap_or(""),
                    ),
                );
            }
            let mut retry = Vec::new();
            for (i, input) in pending {
                match errors.get(input.values()) {
                    None => results.push((i, Ok(Registered::Created))),
                    Some(("AlreadyExistsException", _)) => {
                        results.push((i, Ok(Registered::Existing)))
                    }
                    Some((code, _)) if transient(code) && round < ENTRY_RETRIES => {
                        retry.push((i, input))
                    }
                    Some((code, message)) => results.push((
                        i,
                        Err(format!("Glue BatchCreatePartition: {code}: {message}")),
                    )),
                }
            }
            if retry.is_empty() {
                break;
            }
            pending = retry;
        }
        results
    }

    /// Every partition of a table: values and location. Column schemas are left out of the
    /// answer: a large table's partitions would otherwise each repeat every column.
    pub async fn partitions(
        &self,
        table: &TableName,
    ) -> Result<Vec<(Vec<String>, Option<String>)>, CatalogError> {
        let mut pages = self
            .client
            .get_partitions()
            .database_name(&table.database)
            .table_name(&table.table)
            .exclude_column_schema(true)
            .into_paginator()
            .send();
        let mut out = Vec::new();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| match e.as_service_error() {
                Some(s) if s.is_entity_not_found_exception() => {
                    CatalogError::TableNotFound(table.clone())
                }
                _ => CatalogError::Api {
                    operation: "GetPartitions",
                    message: describe(&e),
                },
            })?;
            out.extend(page.partitions().iter().map(|p| {
                (
                    p.values().to_vec(),
                    p.storage_descriptor()
                        .and_then(|sd| sd.location().map(str::to_owned)),
                )
            }));
        }
        Ok(out)
    }

    /// Drop one partition. Returns false when it was not there (someone else dropped it).
    pub async fn delete_partition(
        &self,
        table: &TableName,
        values: &[String],
    ) -> Result<bool, CatalogError> {
        match self
            .client
            .delete_partition()
            .database_name(&table.database)
            .table_name(&table.table)
            .set_partition_values(Some(values.to_vec()))
            .send()
            .await
        {
            Ok(_) => Ok(true),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_entity_not_found_exception()) =>
            {
                Ok(false)
            }
            Err(e) => Err(CatalogError::Api {
                operation: "DeletePartition",
                message: describe(&e),
            }),
        }
    }

    /// Which of these partitions the catalog already has (read-only; for `--dry-run`).
    pub async fn existing(
        &self,
        table: &TableName,
        values: &[Vec<String>],
    ) -> Result<HashSet<Vec<String>>, CatalogError> {
        let mut found = HashSet::new();
        for chunk in values.chunks(GET_CHUNK) {
            let entries = chunk
                .iter()
                .map(|v| {
                    PartitionValueList::builder()
                        .set_values(Some(v.clone()))
                        .build()
                })
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| CatalogError::Api {
                    operation: "BatchGetPartition",
                    message: e.to_string(),
                })?;
            let out = self
                .client
                .batch_get_partition()
                .database_name(&table.database)
                .table_name(&table.table)
                .set_partitions_to_get(Some(entries))
                .send()
                .await
                .map_err(|e| CatalogError::Api {
                    operation: "BatchGetPartition",
                    message: describe(&e),
                })?;
            found.extend(out.partitions().iter().map(|p| p.values().to_vec()));
        }
        Ok(found)
    }
}

/// Exponential backoff with jitter, so that concurrent functions do not retry in step.
fn backoff(round: u32) -> Duration {
    let base = 100u64 << round.min(6);
    let jitter = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::from(d.subsec_nanos()) % base);
    Duration::from_millis(base / 2 + jitter / 2)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partition_input_copies_storage_but_for_location() {
        let sd = StorageDescriptor::builder()
            .location("s3://b/t/")
            .input_format("in")
            .build();
        let p = partition_input(&sd, vec!["1".into()], "s3://b/t/x=1/".into());
        let psd = p.storage_descriptor().unwrap();
        assert_eq!(psd.location(), Some("s3://b/t/x=1/"));
        assert_eq!(psd.input_format(), Some("in"));
        assert_eq!(p.values(), ["1"]);
    }

    #[test]
    fn backoff_grows_and_stays_bounded() {
        assert!(backoff(1) <= Duration::from_millis(200));
        assert!(backoff(10) <= Duration::from_millis(6400));
    }

    #[test]
    fn only_transient_codes_are_retried() {
        assert!(transient("ThrottlingException"));
        assert!(!transient("InvalidInputException"));
        assert!(!transient("AlreadyExistsException"));
    }
}
