//! The Glue Data Catalog calls: where tables are read and `BatchCreatePartition` is called.
//! Every call names the configured catalog (`GLUE_CATALOG_ID`) and is bounded by the deadline.

use crate::aws::{CallError, ErrorKind, call};
use aws_sdk_glue::types::{
    BatchUpdatePartitionRequestEntry, ErrorDetail, PartitionInput, PartitionValueList, Segment,
    StorageDescriptor,
};
use futures_util::StreamExt;
use registrar_core::glue::{MAX_GET_BATCH, MAX_PAGE, MAX_SEGMENTS, MAX_WRITE_BATCH};
use registrar_core::partition::PartitionSpec;
use registrar_core::pass::SegmentCursor;
use registrar_core::schema::Descriptor;
use registrar_core::table::{
    COMPLETE_AFTER_PARAMETER, Completion, MARKER_PARAMETER, REGISTRATION_PARAMETER,
    TEMPLATE_PARAMETER, Table, TableError,
};
use registrar_core::{Deadline, TableName};
use std::collections::HashMap;
use std::future::Future;
use std::time::Duration;

/// Rounds of retry for per-partition transient errors inside a successful response.
const ENTRY_RETRIES: u32 = 4;
/// Rounds of asking again for keys `BatchGetPartition` left unprocessed: Glue's load passes
/// quickly, and every key left costs its object a redelivery.
const UNPROCESSED_RETRIES: u32 = 8;
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
    pub fn partition_input(&self, partition: &PartitionSpec) -> PartitionInput {
        self.input(
            partition.values.clone(),
            Some(partition.location.clone()),
            None,
        )
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

/// What the configuration says of how tables are registered, applied as each is read: the
/// module's per-table settings over the tables' own parameters, and whether completion is
/// announced.
#[derive(Debug, Clone, Default)]
pub struct Policies {
    pub announce: bool,
    pub settings: std::collections::BTreeMap<TableName, crate::config::TableSetting>,
}

/// Read a Glue table into what the planner needs.
pub fn from_glue(
    database: &str,
    t: &aws_sdk_glue::types::Table,
) -> Result<ServedTable, TableError> {
    from_glue_with(database, t, &Policies::default())
}

/// [`from_glue`], with the configuration's policies.
pub fn from_glue_with(
    database: &str,
    t: &aws_sdk_glue::types::Table,
    policies: &Policies,
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
    let parameter = |name: &str| t.parameters().and_then(|p| p.get(name)).map(String::as_str);
    let table = Table::new(
        name.clone(),
        descriptor.location.as_deref(),
        &keys,
        parameter(TEMPLATE_PARAMETER),
    )?;
    let completion = Completion::from_settings(
        parameter(REGISTRATION_PARAMETER),
        parameter(MARKER_PARAMETER),
        parameter(COMPLETE_AFTER_PARAMETER),
    )
    .and_then(|c| match policies.settings.get(&name) {
        Some(setting) => setting.apply(c),
        None => Ok(c),
    })
    .map(|c| Completion {
        announce: policies.announce,
        ..c
    })
    .map_err(|error| {
        TableError::BadSetting(Box::new(registrar_core::table::BadSetting {
            table: name,
            location: table.location.clone(),
            error,
        }))
    })?;
    Ok(ServedTable {
        table: table.with_completion(completion),
        descriptor,
    })
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
    policies: std::sync::Arc<Policies>,
}

impl Catalog {
    pub fn new(client: aws_sdk_glue::Client, catalog_id: Option<String>) -> Self {
        Self {
            client,
            catalog_id,
            policies: Default::default(),
        }
    }

    /// Tables read with these registration policies.
    pub fn with_policies(mut self, policies: Policies) -> Self {
        self.policies = std::sync::Arc::new(policies);
        self
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
        Ok(from_glue_with(&name.database, table, &self.policies)?)
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
                match from_glue_with(database, t, &self.policies) {
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

    /// Register `partitions` of `table`, in requests of at most 100, `concurrency` requests
    /// in flight. Returns one result per partition, in order: `AlreadyExistsException` is
    /// `Existing`; transient per-partition errors are retried with backoff while the deadline
    /// allows; a request Glue refuses as a whole, naming no entry (a `ValidationException`),
    /// is split until the refused partitions stand alone, so that one bad partition never
    /// fails the others of its request.
    pub async fn create_partitions(
        &self,
        table: &ServedTable,
        partitions: &[PartitionSpec],
        concurrency: usize,
        deadline: Deadline,
    ) -> Vec<Result<Registered, CallError>> {
        let indices: Vec<usize> = (0..partitions.len()).collect();
        let mut results: Vec<Option<Result<Registered, CallError>>> = vec![None; partitions.len()];
        let mut done = futures_util::stream::iter(indices.chunks(MAX_WRITE_BATCH))
            .map(|chunk| {
                isolated(
                    chunk.to_vec(),
                    deadline,
                    "BatchCreatePartition",
                    move |group| self.send_create(table, partitions, group, deadline),
                )
            })
            .buffer_unordered(concurrency.max(1));
        while let Some(chunk_results) = done.next().await {
            for (i, r) in chunk_results {
                results[i] = Some(r.map(|created| {
                    if created {
                        Registered::Created
                    } else {
                        Registered::Existing
                    }
                }));
            }
        }
        results
            .into_iter()
            .map(|r| r.expect("every partition has a result"))
            .collect()
    }

    /// One `BatchCreatePartition` of `group` (indices into `partitions`): for each, whether
    /// it was created (`true`), already existed (`false`), or its entry's error.
    async fn send_create(
        &self,
        table: &ServedTable,
        partitions: &[PartitionSpec],
        group: Vec<usize>,
        deadline: Deadline,
    ) -> Result<Vec<(usize, Result<bool, CallError>)>, CallError> {
        let name = &table.table.name;
        let inputs = group
            .iter()
            .map(|&i| table.partition_input(&partitions[i]))
            .collect();
        let request = self
            .client
            .batch_create_partition()
            .set_catalog_id(self.catalog_id.clone())
            .database_name(&name.database)
            .table_name(&name.table)
            .set_partition_input_list(Some(inputs))
            .send();
        // The SDK has already retried throttling and transient failures of the request.
        let out = call(deadline, GLUE, "BatchCreatePartition", request).await?;
        let errors: HashMap<&[String], CallError> = out
            .errors()
            .iter()
            .map(|e| {
                let error = entry_error("BatchCreatePartition", e.error_detail());
                (e.partition_values(), error)
            })
            .collect();
        Ok(group
            .into_iter()
            .map(|i| {
                let result = match errors.get(partitions[i].values.as_slice()) {
                    None => Ok(true),
                    Some(e) if e.kind == ErrorKind::AlreadyExists => Ok(false),
                    Some(e) => Err(e.clone()),
                };
                (i, result)
            })
            .collect())
    }

    /// One page of a table's partitions (`GetPartitions`), in one segment of the table:
    /// Glue answers at most 1,000 per page and a `NextToken` while more follow. Without
    /// `schemas`, column schemas are left out of the answer (`ExcludeColumnSchema`): a large
    /// table's partitions would otherwise each repeat every column.
    pub async fn get_partitions(
        &self,
        table: &TableName,
        page: &SegmentCursor,
        schemas: bool,
        max_results: i32,
        deadline: Deadline,
    ) -> Result<PartitionsPage, CatalogError> {
        let segment = Segment::builder()
            .segment_number(page.segment)
            .total_segments(page.total)
            .build()
            .expect("segment number and total are set");
        let request = self
            .client
            .get_partitions()
            .set_catalog_id(self.catalog_id.clone())
            .database_name(&table.database)
            .table_name(&table.table)
            .exclude_column_schema(!schemas)
            .segment(segment)
            .max_results(max_results.clamp(1, MAX_PAGE))
            .set_next_token(page.next_token.clone())
            .send();
        let out = call(deadline, GLUE, "GetPartitions", request)
            .await
            .map_err(|e| match e.kind {
                ErrorKind::NotFound => CatalogError::TableNotFound(table.clone()),
                _ => e.into(),
            })?;
        Ok(PartitionsPage {
            partitions: out
                .partitions()
                .iter()
                .map(CatalogPartition::from_glue)
                .collect(),
            next: out.next_token().map(|token| SegmentCursor {
                next_token: Some(token.to_owned()),
                ..page.clone()
            }),
        })
    }

    /// [`Catalog::get_partitions`], a page whose request failed for a reason that may pass
    /// (after the SDK's own retries) asked again in rounds, with backoff, while the deadline
    /// allows: one page of a thousand should not fail a whole read.
    async fn get_partitions_retried(
        &self,
        table: &TableName,
        page: &SegmentCursor,
        schemas: bool,
        max_results: i32,
        deadline: Deadline,
    ) -> Result<PartitionsPage, CatalogError> {
        let mut round = 0;
        loop {
            match self
                .get_partitions(table, page, schemas, max_results, deadline)
                .await
            {
                Err(e) if e.is_transient() && round < ENTRY_RETRIES => {
                    round += 1;
                    let wait = backoff(round, jitter());
                    if !deadline.allows(wait) {
                        return Err(e);
                    }
                    tokio::time::sleep(wait).await;
                }
                other => return other,
            }
        }
    }

    /// Read every partition of a table, `segments` segments at once, each page by page,
    /// handing each page to `each` as it comes (nothing but what `each` keeps stays in
    /// memory).
    pub async fn read_partitions(
        &self,
        table: &TableName,
        schemas: bool,
        segments: i32,
        max_results: i32,
        deadline: Deadline,
        mut each: impl FnMut(Vec<CatalogPartition>),
    ) -> Result<u64, CatalogError> {
        let total = segments.clamp(1, MAX_SEGMENTS);
        let mut reads = futures_util::stream::FuturesUnordered::new();
        for segment in 0..total {
            let first = SegmentCursor {
                segment,
                total,
                next_token: None,
            };
            reads.push(Box::pin(async move {
                self.get_partitions_retried(table, &first, schemas, max_results, deadline)
                    .await
            }) as PageRead<'_>);
        }
        let mut pages = 0;
        while let Some(page) = reads.next().await {
            let page = page?;
            pages += 1;
            each(page.partitions);
            if let Some(next) = page.next {
                reads.push(Box::pin(async move {
                    self.get_partitions_retried(table, &next, schemas, max_results, deadline)
                        .await
                }));
            }
        }
        Ok(pages)
    }

    /// The partitions the catalog has among `values` (`BatchGetPartition`, read-only, 1,000
    /// per request). Glue may leave some keys unprocessed under load (`UnprocessedKeys`):
    /// they are asked again, with backoff, while the deadline allows; those still left are
    /// said apart, so that only their partitions fail.
    pub async fn batch_get_partition(
        &self,
        table: &TableName,
        values: &[Vec<String>],
        deadline: Deadline,
    ) -> Result<Lookup, CallError> {
        let mut lookup = Lookup::default();
        for chunk in values.chunks(MAX_GET_BATCH) {
            let mut asked: Vec<PartitionValueList> = chunk.iter().map(|v| value_list(v)).collect();
            for round in 0..=UNPROCESSED_RETRIES {
                if round > 0 {
                    let wait = backoff(round.min(4), jitter());
                    if !deadline.allows(wait) {
                        break;
                    }
                    tokio::time::sleep(wait).await;
                }
                let request = self
                    .client
                    .batch_get_partition()
                    .set_catalog_id(self.catalog_id.clone())
                    .database_name(&table.database)
                    .table_name(&table.table)
                    .set_partitions_to_get(Some(asked.clone()))
                    .send();
                let out = call(deadline, GLUE, "BatchGetPartition", request).await?;
                lookup
                    .found
                    .extend(out.partitions().iter().map(CatalogPartition::from_glue));
                asked = out.unprocessed_keys().to_vec();
                if asked.is_empty() {
                    break;
                }
            }
            if !asked.is_empty() {
                lookup
                    .unprocessed
                    .extend(asked.iter().map(|l| l.values().to_vec()));
                lookup.error = Some(CallError {
                    service: GLUE,
                    operation: "BatchGetPartition",
                    kind: ErrorKind::Throttled,
                    detail: format!(
                        "Glue left {} partitions unprocessed after every retry",
                        lookup.unprocessed.len()
                    ),
                });
            }
        }
        Ok(lookup)
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

    /// Replace partitions' storage descriptors (`BatchUpdatePartition`, up to 100 per
    /// request). Returns one result per entry, in order. Per-entry errors that may pass are
    /// retried with backoff while the deadline allows, and a request refused as a whole is
    /// split as [`Catalog::create_partitions`] splits one.
    pub async fn batch_update_partition(
        &self,
        table: &TableName,
        updates: &[PartitionUpdate],
        deadline: Deadline,
    ) -> Vec<Result<(), CallError>> {
        let mut results: Vec<Option<Result<(), CallError>>> = vec![None; updates.len()];
        let indices: Vec<usize> = (0..updates.len()).collect();
        for chunk in indices.chunks(MAX_WRITE_BATCH) {
            let done = isolated(chunk.to_vec(), deadline, "BatchUpdatePartition", |group| {
                self.send_update(table, updates, group, deadline)
            })
            .await;
            for (i, r) in done {
                results[i] = Some(r);
            }
        }
        results
            .into_iter()
            .map(|r| r.expect("every entry has a result"))
            .collect()
    }

    async fn send_update(
        &self,
        table: &TableName,
        updates: &[PartitionUpdate],
        group: Vec<usize>,
        deadline: Deadline,
    ) -> Result<Vec<(usize, Result<(), CallError>)>, CallError> {
        let entries = group
            .iter()
            .map(|&i| {
                BatchUpdatePartitionRequestEntry::builder()
                    .set_partition_value_list(Some(updates[i].values.clone()))
                    .partition_input(updates[i].input.clone())
                    .build()
                    .expect("values and input are set")
            })
            .collect();
        let request = self
            .client
            .batch_update_partition()
            .set_catalog_id(self.catalog_id.clone())
            .database_name(&table.database)
            .table_name(&table.table)
            .set_entries(Some(entries))
            .send();
        let out = call(deadline, GLUE, "BatchUpdatePartition", request).await?;
        let errors: HashMap<&[String], CallError> = out
            .errors()
            .iter()
            .map(|e| {
                let error = entry_error("BatchUpdatePartition", e.error_detail());
                (e.partition_value_list(), error)
            })
            .collect();
        Ok(group
            .into_iter()
            .map(|i| {
                let result = errors
                    .get(updates[i].values.as_slice())
                    .cloned()
                    .map_or(Ok(()), Err);
                (i, result)
            })
            .collect())
    }
}

type PageRead<'a> =
    std::pin::Pin<Box<dyn Future<Output = Result<PartitionsPage, CatalogError>> + Send + 'a>>;

/// A page of partitions, and where the segment goes on (`None` at its end).
#[derive(Debug, Clone)]
pub struct PartitionsPage {
    pub partitions: Vec<CatalogPartition>,
    pub next: Option<SegmentCursor>,
}

/// A registered partition's new input, for `BatchUpdatePartition`.
#[derive(Debug, Clone)]
pub struct PartitionUpdate {
    pub values: Vec<String>,
    pub input: PartitionInput,
}

/// What `BatchGetPartition` said of the partitions asked for.
#[derive(Debug, Clone, Default)]
pub struct Lookup {
    /// The partitions the catalog has.
    pub found: Vec<CatalogPartition>,
    /// Values Glue left unprocessed after every retry: nothing is known of them.
    pub unprocessed: Vec<Vec<String>>,
    /// Why, when some were left unprocessed: the error their partitions fail with.
    pub error: Option<CallError>,
}

impl Lookup {
    /// Whether these values were left unprocessed, with the error to fail them with.
    pub fn unknown(&self, values: &[String]) -> Option<&CallError> {
        self.error
            .as_ref()
            .filter(|_| self.unprocessed.iter().any(|v| v.as_slice() == values))
    }
}

/// Whether a request refused as a whole may be refused for one of its entries: the service
/// refused the input (a `ValidationException`, an `InvalidInputException`), rather than the
/// table (not found) or the caller (access denied), which no split changes, or a failure
/// the SDK already retried.
fn splits(error: &CallError) -> bool {
    error.kind == ErrorKind::Rejected
}

/// Send `items` as batch requests built by `send`, and settle each item: a request refused
/// as a whole for its input is split in halves, each sent on its own (at once), until a
/// refused item stands alone; per-item errors that may pass are sent again in rounds, with
/// backoff, while the deadline allows. One bad item in a hundred costs about fourteen more
/// requests, and fails alone.
async fn isolated<T, F, Fut>(
    items: Vec<usize>,
    deadline: Deadline,
    operation: &'static str,
    send: F,
) -> Vec<(usize, Result<T, CallError>)>
where
    F: Fn(Vec<usize>) -> Fut,
    Fut: Future<Output = Result<Vec<(usize, Result<T, CallError>)>, CallError>>,
{
    let mut settled = Vec::with_capacity(items.len());
    // Groups to send next, each with the retry round it is in.
    let mut groups: Vec<(Vec<usize>, u32)> = vec![(items, 0)];
    while !groups.is_empty() {
        if let Some(round) = groups.iter().map(|(_, r)| *r).max().filter(|r| *r > 0) {
            let wait = backoff(round, jitter());
            if !deadline.allows(wait) {
                let e = CallError::deadline(GLUE, operation);
                for (group, _) in groups {
                    settled.extend(group.into_iter().map(|i| (i, Err(e.clone()))));
                }
                break;
            }
            tokio::time::sleep(wait).await;
        }
        let answers =
            futures_util::future::join_all(groups.iter().map(|(group, _)| send(group.clone())))
                .await;
        let mut next = Vec::new();
        for ((group, round), answer) in groups.into_iter().zip(answers) {
            match answer {
                Err(e) if splits(&e) && group.len() > 1 => {
                    let (left, right) = group.split_at(group.len() / 2);
                    next.push((left.to_vec(), round));
                    next.push((right.to_vec(), round));
                }
                Err(e) => settled.extend(group.into_iter().map(|i| (i, Err(e.clone())))),
                Ok(results) => {
                    let mut retry = Vec::new();
                    for (i, result) in results {
                        match result {
                            Err(e) if e.kind.is_transient() && round < ENTRY_RETRIES => {
                                retry.push(i)
                            }
                            other => settled.push((i, other)),
                        }
                    }
                    if !retry.is_empty() {
                        next.push((retry, round + 1));
                    }
                }
            }
        }
        groups = next;
    }
    settled
}

/// Exponential backoff with jitter, so that concurrent functions do not retry in step:
/// half the base wait, plus a share of the other half given by `jitter` (0 to 1).
fn backoff(round: u32, jitter: f64) -> Duration {
    let base = 100u64 << round.min(6);
    let jitter = (jitter.clamp(0.0, 1.0) * (base / 2) as f64) as u64;
    Duration::from_millis(base / 2 + jitter)
}

/// A draw for [`backoff`], from the clock's nanoseconds: no generator needed for this.
fn jitter() -> f64 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    f64::from(nanos % 1_000_000) / 1_000_000.0
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
        let p = served().partition_input(&PartitionSpec::new(
            vec!["1".into()],
            "s3://b/t/x=1/".into(),
        ));
        let psd = p.storage_descriptor().unwrap();
        assert_eq!(psd.location(), Some("s3://b/t/x=1/"));
        assert_eq!(psd.input_format(), Some("in"));
        assert_eq!(p.values(), ["1"]);
    }

    mod properties {
        use super::*;
        use aws_sdk_glue::types::Column;
        use proptest::prelude::*;
        use registrar_core::table::S3Location;

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
            /// it gives a served table that is what Glue described, or the reason it cannot
            /// be served, and the reason is the one that applies.
            #[test]
            fn any_glue_table_is_read_or_refused_with_a_reason(
                name in "\\PC{0,12}",
                location in prop::option::of(text()),
                keys in prop::collection::vec((text(), prop::option::of(text())), 0..4),
                template in prop::option::of(text()),
            ) {
                let mut table = aws_sdk_glue::types::Table::builder()
                    .name(name.clone())
                    .storage_descriptor(
                        StorageDescriptor::builder().set_location(location.clone()).build(),
                    )
                    .set_partition_keys(Some(
                        keys.iter()
                            .map(|(n, t)| Column::builder().name(n).set_type(t.clone()).build().unwrap())
                            .collect(),
                    ));
                if let Some(t) = &template {
                    table = table.parameters(TEMPLATE_PARAMETER, t);
                }
                let location_text = location.as_deref().map(str::trim).filter(|l| !l.is_empty());
                match from_glue("db", &table.build().unwrap()) {
                    Ok(served) => {
                        let location = location_text.expect("served tables have a location");
                        let parsed = S3Location::parse(location).expect("served locations are S3");
                        prop_assert_eq!(&served.table.location, &parsed);
                        prop_assert_eq!(served.table.keys.len(), keys.len());
                        prop_assert!(!keys.is_empty());
                        prop_assert_eq!(served.table.name, TableName::new("db", &name));
                    }
                    Err(TableError::NoLocation(_)) => prop_assert!(location_text.is_none()),
                    Err(TableError::NotS3 { location: l, .. }) => {
                        prop_assert!(S3Location::parse(&l).is_none());
                    }
                    Err(TableError::BadSetting(_)) => {
                        prop_assert!(false, "no registration setting was written");
                    }
                    Err(TableError::Unpartitioned { .. }) => {
                        prop_assert!(keys.is_empty());
                        prop_assert!(location_text.is_some_and(|l| S3Location::parse(l).is_some()));
                    }
                    Err(TableError::BadTemplate(problem)) => {
                        // Read trimmed, as the location is.
                        prop_assert_eq!(Some(problem.template.as_str()), template.as_deref().map(str::trim));
                        prop_assert!(!keys.is_empty());
                    }
                }
            }
        }
    }

    #[test]
    fn backoff_doubles_each_round_and_stops_growing_at_round_six() {
        for jitter in [0.0, 0.5, 1.0] {
            for round in 1..6 {
                assert_eq!(
                    backoff(round + 1, jitter).as_millis(),
                    2 * backoff(round, jitter).as_millis(),
                    "round {round}, jitter {jitter}"
                );
            }
            assert_eq!(backoff(6, jitter), backoff(60, jitter));
        }
        // Jitter spreads a round over half its base wait.
        assert_eq!(backoff(1, 0.0), Duration::from_millis(100));
        assert_eq!(backoff(1, 1.0), Duration::from_millis(200));
        assert_eq!(backoff(6, 1.0), Duration::from_millis(6400));
    }
}
