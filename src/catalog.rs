//! The Glue Data Catalog calls: where tables are read and `BatchCreatePartition` is called.
//! Every call names the configured catalog (`GLUE_CATALOG_ID`) and is bounded by the deadline.

use crate::aws::{CallError, ErrorKind, call};
use aws_sdk_glue::types::{
    BatchUpdatePartitionRequestEntry, ErrorDetail, PartitionInput, PartitionValueList,
    StorageDescriptor,
};
use futures_util::StreamExt;
use registrar_core::schema::Descriptor;
use registrar_core::table::{TEMPLATE_PARAMETER, Table, TableError};
use registrar_core::{Deadline, TableName};
use std::collections::HashMap;
use std::time::Duration;

/// `BatchCreatePartition` and `BatchUpdatePartition` take at most 100 entries per request.
pub const WRITE_CHUNK: usize = 100;
/// `BatchGetPartition` takes at most 1000 partitions per request.
const GET_CHUNK: usize = 1000;
/// Rounds of retry for per-partition transient errors inside a successful response.
const ENTRY_RETRIES: u32 = 4;
const GLUE: &str = "Glue";

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CatalogError {
    #[error("table {0} does not exist in the Glue Data Catalog (check GLUE_TABLES and AWS_REGION)")]
    TableNotFound(TableName),
    #[error(
        "database `{0}` does not exist in the Glue Data Catalog (check GLUE_DATABASES and AWS_REGION)"
    )]
    DatabaseNotFound(String),
    #[error(transparent)]
    Call(#[from] CallError),
    #[error(transparent)]
    Table(#[from] TableError),
}

impl CatalogError {
    /// A failure that may pass (Glue unreachable, throttled, the deadline), as opposed to
    /// a configuration that cannot work.
    pub fn is_transient(&self) -> bool {
        matches!(self, Self::Call(e) if e.kind.is_transient())
    }
}

/// A served table, with the storage descriptor its partitions copy.
#[derive(Debug, Clone)]
pub struct ServedTable {
    pub table: Table,
    pub descriptor: StorageDescriptor,
}

impl AsRef<Table> for ServedTable {
    fn as_ref(&self) -> &Table {
        &self.table
    }
}

impl ServedTable {
    /// The partition as a crawler would write it: the table's storage descriptor (columns,
    /// formats, SerDe) with the partition's own location.
    pub fn partition_input(&self, values: Vec<String>, location: String) -> PartitionInput {
        self.input(values, Some(location), None)
    }

    /// A registered partition brought in line with the table's descriptor, keeping its own
    /// location and parameters.
    pub fn realigned(&self, partition: &CatalogPartition) -> PartitionInput {
        self.input(
            partition.values.clone(),
            partition.location.clone(),
            partition.parameters.clone(),
        )
    }

    fn input(
        &self,
        values: Vec<String>,
        location: Option<String>,
        parameters: Option<HashMap<String, String>>,
    ) -> PartitionInput {
        let mut sd = self.descriptor.clone();
        sd.location = location;
        PartitionInput::builder()
            .set_values(Some(values))
            .storage_descriptor(sd)
            .set_parameters(parameters)
            .build()
    }
}

/// A partition as the catalog holds it.
#[derive(Debug, Clone, PartialEq)]
pub struct CatalogPartition {
    pub values: Vec<String>,
    /// The location the catalog has for it, which need not be where the layout puts it (a
    /// manual `ADD PARTITION ... LOCATION`, a crawler's `s3a://` path, an archive).
    pub location: Option<String>,
    /// Without columns when read without column schemas.
    pub descriptor: Option<StorageDescriptor>,
    /// The partition's own parameters (a crawler's statistics and the like), kept when
    /// its descriptor is replaced.
    pub parameters: Option<HashMap<String, String>>,
}

impl CatalogPartition {
    fn from_glue(p: &aws_sdk_glue::types::Partition) -> Self {
        Self {
            values: p.values().to_vec(),
            location: p
                .storage_descriptor()
                .and_then(|sd| sd.location().map(str::to_owned)),
            descriptor: p.storage_descriptor().cloned(),
            parameters: p.parameters().cloned(),
        }
    }
}

/// The parts of a storage descriptor that schema comparisons look at.
pub fn descriptor_of(sd: &StorageDescriptor) -> Descriptor {
    Descriptor {
        columns: sd
            .columns()
            .iter()
            .map(|c| (c.name().to_owned(), c.r#type().unwrap_or("").to_owned()))
            .collect(),
        input_format: sd.input_format().map(str::to_owned),
        output_format: sd.output_format().map(str::to_owned),
        serde_library: sd
            .serde_info()
            .and_then(|s| s.serialization_library())
            .map(str::to_owned),
        serde_parameters: sd
            .serde_info()
            .and_then(|s| s.parameters())
            .map(|p| p.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
            .unwrap_or_default(),
    }
}

/// How one partition's registration ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Registered {
    Created,
    Existing,
}

/// Read a Glue table into what the planner needs.
pub fn from_glue(
    database: &str,
    t: &aws_sdk_glue::types::Table,
) -> Result<ServedTable, TableError> {
    let name = TableName::new(database, t.name());
    let descriptor = t
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
    let table = Table::new(name, descriptor.location.as_deref(), &keys, template)?;
    Ok(ServedTable { table, descriptor })
}

/// A per-partition error inside a successful batch answer, classified like any other.
fn entry_error(operation: &'static str, detail: Option<&ErrorDetail>) -> CallError {
    CallError::from_code(
        GLUE,
        operation,
        detail
            .and_then(|d| d.error_code())
            .unwrap_or("UnknownError"),
        detail.and_then(|d| d.error_message()).unwrap_or(""),
    )
}

fn value_list(values: &[String]) -> PartitionValueList {
    PartitionValueList::builder()
        .set_values(Some(values.to_vec()))
        .build()
        .expect("values are set")
}

#[derive(Debug, Clone)]
pub struct Catalog {
    client: aws_sdk_glue::Client,
    catalog_id: Option<String>,
}

impl Catalog {
    pub fn new(client: aws_sdk_glue::Client, catalog_id: Option<String>) -> Self {
        Self { client, catalog_id }
    }

    pub async fn table(
        &self,
        name: &TableName,
        deadline: Deadline,
    ) -> Result<ServedTable, CatalogError> {
        let request = self
            .client
            .get_table()
            .set_catalog_id(self.catalog_id.clone())
            .database_name(&name.database)
            .name(&name.table)
            .send();
        let out = call(deadline, GLUE, "GetTable", request)
            .await
            .map_err(|e| match e.kind {
                ErrorKind::NotFound => CatalogError::TableNotFound(name.clone()),
                _ => e.into(),
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
        deadline: Deadline,
    ) -> Result<(Vec<ServedTable>, Vec<TableError>), CatalogError> {
        let mut served = Vec::new();
        let mut unserved = Vec::new();
        let mut token = None;
        loop {
            let request = self
                .client
                .get_tables()
                .set_catalog_id(self.catalog_id.clone())
                .database_name(database)
                .set_next_token(token.take())
                .send();
            let page = call(deadline, GLUE, "GetTables", request)
                .await
                .map_err(|e| match e.kind {
                    ErrorKind::NotFound => CatalogError::DatabaseNotFound(database.to_owned()),
                    _ => e.into(),
                })?;
            for t in page.table_list() {
                match from_glue(database, t) {
                    Ok(table) => served.push(table),
                    Err(e) => unserved.push(e),
                }
            }
            token = page.next_token().map(str::to_owned);
            if token.is_none() {
                return Ok((served, unserved));
            }
        }
    }

    /// Register partitions `(values, location)` of `table`, in chunks of at most 100,
    /// `concurrency` chunks in flight. Returns one result per partition, in order:
    /// `AlreadyExistsException` is `Existing`, transient per-partition errors are retried
    /// with backoff while the deadline allows. Each request builds its inputs from the
    /// table's descriptor as it is sent, so a descriptor is copied once per partition sent.
    pub async fn create_partitions(
        &self,
        table: &ServedTable,
        partitions: &[(Vec<String>, String)],
        concurrency: usize,
        deadline: Deadline,
    ) -> Vec<Result<Registered, CallError>> {
        let indices: Vec<usize> = (0..partitions.len()).collect();
        let mut results: Vec<Option<Result<Registered, CallError>>> = vec![None; partitions.len()];
        let mut done = futures_util::stream::iter(indices.chunks(WRITE_CHUNK))
            .map(|chunk| self.create_chunk(table, partitions, chunk.to_vec(), deadline))
            .buffer_unordered(concurrency.max(1));
        while let Some(chunk_results) = done.next().await {
            for (i, r) in chunk_results {
                results[i] = Some(r);
            }
        }
        results
            .into_iter()
            .map(|r| r.expect("every partition has a result"))
            .collect()
    }

    /// One chunk of `partitions`, by index.
    async fn create_chunk(
        &self,
        table: &ServedTable,
        partitions: &[(Vec<String>, String)],
        mut pending: Vec<usize>,
        deadline: Deadline,
    ) -> Vec<(usize, Result<Registered, CallError>)> {
        let name = &table.table.name;
        let mut results = Vec::with_capacity(pending.len());
        for round in 0..=ENTRY_RETRIES {
            if round > 0 {
                let wait = backoff(round);
                if !deadline.allows(wait) {
                    let e = CallError::deadline(GLUE, "BatchCreatePartition");
                    results.extend(pending.into_iter().map(|i| (i, Err(e.clone()))));
                    return results;
                }
                tokio::time::sleep(wait).await;
            }
            let inputs = pending
                .iter()
                .map(|&i| {
                    let (values, location) = &partitions[i];
                    table.partition_input(values.clone(), location.clone())
                })
                .collect();
            let request = self
                .client
                .batch_create_partition()
                .set_catalog_id(self.catalog_id.clone())
                .database_name(&name.database)
                .table_name(&name.table)
                .set_partition_input_list(Some(inputs))
                .send();
            let out = match call(deadline, GLUE, "BatchCreatePartition", request).await {
                Ok(out) => out,
                Err(e) => {
                    // The SDK has already retried throttling and transient failures.
                    results.extend(pending.into_iter().map(|i| (i, Err(e.clone()))));
                    return results;
                }
            };
            let errors: HashMap<&[String], CallError> = out
                .errors()
                .iter()
                .map(|e| {
                    let error = entry_error("BatchCreatePartition", e.error_detail());
                    (e.partition_values(), error)
                })
                .collect();
            let mut retry = Vec::new();
            for i in pending {
                match errors.get(partitions[i].0.as_slice()) {
                    None => results.push((i, Ok(Registered::Created))),
                    Some(e) if e.kind == ErrorKind::AlreadyExists => {
                        results.push((i, Ok(Registered::Existing)))
                    }
                    Some(e) if e.kind.is_transient() && round < ENTRY_RETRIES => retry.push(i),
                    Some(e) => results.push((i, Err(e.clone()))),
                }
            }
            if retry.is_empty() {
                break;
            }
            pending = retry;
        }
        results
    }

    /// Every partition of a table. Without `schemas`, column schemas are left out of the
    /// answer: a large table's partitions would otherwise each repeat every column.
    pub async fn partitions(
        &self,
        table: &TableName,
        schemas: bool,
        deadline: Deadline,
    ) -> Result<Vec<CatalogPartition>, CatalogError> {
        let mut out = Vec::new();
        let mut token = None;
        loop {
            let request = self
                .client
                .get_partitions()
                .set_catalog_id(self.catalog_id.clone())
                .database_name(&table.database)
                .table_name(&table.table)
                .exclude_column_schema(!schemas)
                .set_next_token(token.take())
                .send();
            let page = call(deadline, GLUE, "GetPartitions", request)
                .await
                .map_err(|e| match e.kind {
                    ErrorKind::NotFound => CatalogError::TableNotFound(table.clone()),
                    _ => e.into(),
                })?;
            out.extend(page.partitions().iter().map(CatalogPartition::from_glue));
            token = page.next_token().map(str::to_owned);
            if token.is_none() {
                return Ok(out);
            }
        }
    }

    /// The partitions the catalog has among `values` (read-only, 1000 per request).
    pub async fn get_partitions(
        &self,
        table: &TableName,
        values: &[Vec<String>],
        deadline: Deadline,
    ) -> Result<Vec<CatalogPartition>, CallError> {
        let mut found = Vec::new();
        for chunk in values.chunks(GET_CHUNK) {
            let request = self
                .client
                .batch_get_partition()
                .set_catalog_id(self.catalog_id.clone())
                .database_name(&table.database)
                .table_name(&table.table)
                .set_partitions_to_get(Some(chunk.iter().map(|v| value_list(v)).collect()))
                .send();
            let out = call(deadline, GLUE, "BatchGetPartition", request).await?;
            found.extend(out.partitions().iter().map(CatalogPartition::from_glue));
            if let Some(left) = out.unprocessed_keys().first() {
                return Err(CallError {
                    service: GLUE,
                    operation: "BatchGetPartition",
                    kind: ErrorKind::Throttled,
                    detail: format!(
                        "{} partitions left unprocessed (first {:?})",
                        out.unprocessed_keys().len(),
                        left.values()
                    ),
                });
            }
        }
        Ok(found)
    }

    /// Drop one partition. Returns false when it was not there (someone else dropped it).
    pub async fn delete_partition(
        &self,
        table: &TableName,
        values: &[String],
        deadline: Deadline,
    ) -> Result<bool, CallError> {
        let request = self
            .client
            .delete_partition()
            .set_catalog_id(self.catalog_id.clone())
            .database_name(&table.database)
            .table_name(&table.table)
            .set_partition_values(Some(values.to_vec()))
            .send();
        match call(deadline, GLUE, "DeletePartition", request).await {
            Ok(_) => Ok(true),
            Err(e) if e.kind == ErrorKind::NotFound => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Replace partitions' storage descriptors, up to 100 per request. Returns one result
    /// per entry, in order.
    pub async fn update_partitions(
        &self,
        table: &TableName,
        entries: Vec<(Vec<String>, PartitionInput)>,
        deadline: Deadline,
    ) -> Vec<Result<(), CallError>> {
        let mut results = Vec::with_capacity(entries.len());
        for chunk in entries.chunks(WRITE_CHUNK) {
            let request = self
                .client
                .batch_update_partition()
                .set_catalog_id(self.catalog_id.clone())
                .database_name(&table.database)
                .table_name(&table.table)
                .set_entries(Some(
                    chunk
                        .iter()
                        .map(|(values, input)| {
                            BatchUpdatePartitionRequestEntry::builder()
                                .set_partition_value_list(Some(values.clone()))
                                .partition_input(input.clone())
                                .build()
                                .expect("values and input are set")
                        })
                        .collect(),
                ))
                .send();
            match call(deadline, GLUE, "BatchUpdatePartition", request).await {
                Ok(out) => {
                    let errors: HashMap<&[String], CallError> = out
                        .errors()
                        .iter()
                        .map(|e| {
                            let error = entry_error("BatchUpdatePartition", e.error_detail());
                            (e.partition_value_list(), error)
                        })
                        .collect();
                    results.extend(chunk.iter().map(|(values, _)| {
                        errors.get(values.as_slice()).cloned().map_or(Ok(()), Err)
                    }));
                }
                Err(e) => results.extend(chunk.iter().map(|_| Err(e.clone()))),
            }
        }
        results
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

    fn served() -> ServedTable {
        let descriptor = StorageDescriptor::builder()
            .location("s3://b/t/")
            .input_format("in")
            .build();
        ServedTable {
            table: Table::new(
                TableName::new("d", "t"),
                Some("s3://b/t/"),
                &[("x".into(), "string".into())],
                None,
            )
            .unwrap(),
            descriptor,
        }
    }

    #[test]
    fn partition_input_copies_storage_but_for_location() {
        let p = served().partition_input(vec!["1".into()], "s3://b/t/x=1/".into());
        let psd = p.storage_descriptor().unwrap();
        assert_eq!(psd.location(), Some("s3://b/t/x=1/"));
        assert_eq!(psd.input_format(), Some("in"));
        assert_eq!(p.values(), ["1"]);
    }

    mod properties {
        use super::*;
        use aws_sdk_glue::types::Column;
        use proptest::prelude::*;

        fn text() -> impl Strategy<Value = String> {
            prop_oneof![
                Just("s3://b/t/".to_owned()),
                Just("s3a://b/".to_owned()),
                Just("s3://b/logs/${year}/${month}".to_owned()),
                Just("s3://other/${year}".to_owned()),
                Just("${".to_owned()),
                Just("year".to_owned()),
                Just("decimal(3,1)".to_owned()),
                "\\PC{0,24}",
            ]
        }

        proptest! {
            /// Whatever Glue answers (any location, key names and types, template), reading
            /// it gives a served table or a typed reason, never a panic.
            #[test]
            fn any_glue_table_is_read_or_refused_with_a_reason(
                name in "\\PC{0,12}",
                location in prop::option::of(text()),
                keys in prop::collection::vec((text(), prop::option::of(text())), 0..4),
                template in prop::option::of(text()),
            ) {
                let mut table = aws_sdk_glue::types::Table::builder()
                    .name(name)
                    .storage_descriptor(
                        StorageDescriptor::builder().set_location(location).build(),
                    )
                    .set_partition_keys(Some(
                        keys.into_iter()
                            .map(|(n, t)| Column::builder().name(n).set_type(t).build().unwrap())
                            .collect(),
                    ));
                if let Some(t) = template {
                    table = table.parameters(TEMPLATE_PARAMETER, t);
                }
                let _ = from_glue("db", &table.build().unwrap());
            }
        }
    }

    #[test]
    fn backoff_grows_and_stays_bounded() {
        assert!(backoff(1) <= Duration::from_millis(200));
        assert!(backoff(10) <= Duration::from_millis(6400));
    }
}
