//! The one partition writer, used by the event path and by backfill and sync: make sure a
//! partition exists, and drop one only when the location the catalog has for it holds no
//! data. Every operation is idempotent, so a redelivered message or a second run ends in the
//! same catalog.

use crate::aws::CallError;
use crate::cache::ExpiringSet;
use crate::catalog::{Catalog, CatalogPartition, Registered, ServedTable};
use crate::storage::Storage;
use futures_util::StreamExt;
use registrar_core::partition::{PartitionSpec, Removal};
use registrar_core::report::Reason;
use registrar_core::table::S3Location;
use registrar_core::{Deadline, TableName};
use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How many partitions a warm process remembers as registered.
const KNOWN_CAPACITY: usize = 200_000;
/// How long it trusts that memory: a partition dropped elsewhere is re-created after this.
const KNOWN_TTL: Duration = Duration::from_secs(15 * 60);
/// Partitions settled at once after removals: each is a few listings and Glue calls.
const SETTLE_CONCURRENCY: usize = 4;

/// Called between dropping an empty partition and checking its location again; lets a
/// test put an object there at the worst moment.
pub type AfterDelete =
    Arc<dyn Fn(String) -> Pin<Box<dyn Future<Output = ()> + Send>> + Send + Sync>;

/// A partition identity in the known-partition cache.
type PartitionId = (TableName, Vec<String>);

/// Why a partition was left as it is after its objects were removed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Kept {
    /// Its location still holds data.
    NotEmpty,
    /// The catalog does not have it, and its directory holds no data.
    NotRegistered,
    /// The catalog has it at a location the removed objects were not under.
    RegisteredElsewhere(String),
    /// The catalog's location for it is not an S3 URI: nothing here can tell it is empty.
    LocationNotS3(String),
}

impl Reason for Kept {
    fn kind(&self) -> &'static str {
        match self {
            Self::NotEmpty => "partition_not_empty",
            Self::NotRegistered => "not_registered",
            Self::RegisteredElsewhere(_) => "registered_elsewhere",
            Self::LocationNotS3(_) => "location_not_s3",
        }
    }
}

impl fmt::Display for Kept {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NotEmpty => write!(f, "object removed; its partition still holds data"),
            Self::NotRegistered => write!(f, "object removed; its partition was not registered"),
            Self::RegisteredElsewhere(l) => write!(
                f,
                "object removed; its partition is registered at {l}, which the object was not under, so it is kept"
            ),
            Self::LocationNotS3(l) => {
                write!(f, "partition registered at `{l}`, not an S3 location; kept")
            }
        }
    }
}

/// How a partition ended after its objects were removed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Settled {
    Kept(Kept),
    /// Dropped (or, dry run, would be): its location held no data, before and after.
    Deleted {
        location: String,
    },
    /// Dropped, then an object arrived and it was created again.
    Recreated {
        location: String,
    },
    /// Not registered, but its directory holds data (a retry after a failed re-check, or a
    /// missed creation): created.
    Created,
}

pub struct PartitionWriter {
    catalog: Catalog,
    storage: Storage,
    known: Mutex<ExpiringSet<PartitionId>>,
    after_delete: Option<AfterDelete>,
}

impl PartitionWriter {
    /// `trust_memory`: remember registered partitions for a while. Off when partitions may
    /// be dropped (by this function's deletions, in other instances): then every partition
    /// is confirmed with Glue, whose `AlreadyExists` answer is cheap.
    pub fn new(catalog: Catalog, storage: Storage, trust_memory: bool) -> Self {
        let ttl = if trust_memory {
            KNOWN_TTL
        } else {
            Duration::ZERO
        };
        Self {
            catalog,
            storage,
            known: Mutex::new(ExpiringSet::new(KNOWN_CAPACITY, ttl)),
            after_delete: None,
        }
    }

    pub fn with_after_delete(mut self, hook: AfterDelete) -> Self {
        self.after_delete = Some(hook);
        self
    }

    /// Make sure each partition exists. Partitions this process registered lately are
    /// `Existing` without a call; a dry run asks Glue which exist.
    pub async fn ensure(
        &self,
        table: &ServedTable,
        partitions: &[PartitionSpec],
        concurrency: usize,
        dry_run: bool,
        deadline: Deadline,
    ) -> Vec<Result<Registered, CallError>> {
        let name = &table.table.name;
        let now = Instant::now();
        let mut results: Vec<Option<Result<Registered, CallError>>> = {
            let known = self.known.lock().expect("known-partition lock");
            partitions
                .iter()
                .map(|p| {
                    known
                        .contains(&(name.clone(), p.values.clone()), now)
                        .then_some(Ok(Registered::Existing))
                })
                .collect()
        };
        let pending: Vec<usize> = (0..partitions.len())
            .filter(|i| results[*i].is_none())
            .collect();
        if pending.is_empty() {
            return results.into_iter().flatten().collect();
        }
        if dry_run {
            let values: Vec<Vec<String>> = pending
                .iter()
                .map(|i| partitions[*i].values.clone())
                .collect();
            let answer = self
                .catalog
                .batch_get_partition(name, &values, deadline)
                .await;
            let existing: std::collections::HashSet<&[String]> = match &answer {
                Ok(lookup) => lookup.found.iter().map(|p| p.values.as_slice()).collect(),
                Err(_) => Default::default(),
            };
            for i in pending {
                let values = partitions[i].values.as_slice();
                results[i] = Some(match &answer {
                    Err(e) => Err(e.clone()),
                    Ok(lookup) => match lookup.unknown(values) {
                        Some(e) => Err(e.clone()),
                        None if existing.contains(values) => Ok(Registered::Existing),
                        None => Ok(Registered::Created),
                    },
                });
            }
        } else {
            let wanted: Vec<PartitionSpec> =
                pending.iter().map(|i| partitions[*i].clone()).collect();
            let created = self
                .catalog
                .create_partitions(table, &wanted, concurrency, deadline)
                .await;
            let mut known = self.known.lock().expect("known-partition lock");
            for (i, result) in pending.into_iter().zip(created) {
                if result.is_ok() {
                    known.insert((name.clone(), partitions[i].values.clone()), now);
                }
                results[i] = Some(result);
            }
        }
        results
            .into_iter()
            .map(|r| r.expect("every partition has a result"))
            .collect()
    }

    /// After objects were removed: each partition is dropped if the location the catalog
    /// has for it is empty, kept if not, and created if the catalog lacks it while its
    /// directory holds data.
    pub async fn settle_removed(
        &self,
        table: &ServedTable,
        removals: &[Removal<'_>],
        dry_run: bool,
        deadline: Deadline,
    ) -> Vec<Result<Settled, CallError>> {
        let name = &table.table.name;
        let values: Vec<Vec<String>> = removals
            .iter()
            .map(|r| r.partition.values.clone())
            .collect();
        let lookup = match self
            .catalog
            .batch_get_partition(name, &values, deadline)
            .await
        {
            Ok(lookup) => lookup,
            Err(e) => return removals.iter().map(|_| Err(e.clone())).collect(),
        };
        let registered: HashMap<&[String], &CatalogPartition> = lookup
            .found
            .iter()
            .map(|p| (p.values.as_slice(), p))
            .collect();
        let bucket = table.table.location.bucket.as_str();
        let lookup = &lookup;
        futures_util::stream::iter(removals)
            .map(|removal| {
                let values = removal.partition.values.as_slice();
                let registered = registered.get(values).copied();
                async move {
                    if let Some(e) = lookup.unknown(values) {
                        return Err(e.clone());
                    }
                    match registered {
                        Some(p) => {
                            let removed = Some((bucket, removal.removed.as_slice()));
                            self.drop_if_empty(table, p, removed, dry_run, deadline)
                                .await
                        }
                        None => {
                            self.create_if_data(table, &removal.partition, dry_run, deadline)
                                .await
                        }
                    }
                }
            })
            .buffered(SETTLE_CONCURRENCY)
            .collect()
            .await
    }

    async fn create_if_data(
        &self,
        table: &ServedTable,
        partition: &PartitionSpec,
        dry_run: bool,
        deadline: Deadline,
    ) -> Result<Settled, CallError> {
        let location = partition.location.as_str();
        let Some(dir) = S3Location::parse(location) else {
            return Ok(Settled::Kept(Kept::LocationNotS3(location.to_owned())));
        };
        if !self
            .storage
            .holds_data(&dir.bucket, &dir.prefix, deadline)
            .await?
        {
            return Ok(Settled::Kept(Kept::NotRegistered));
        }
        tracing::warn!(
            location,
            "partition missing while its directory holds data; creating it"
        );
        match self
            .ensure(table, std::slice::from_ref(partition), 1, dry_run, deadline)
            .await
            .remove(0)?
        {
            Registered::Created => Ok(Settled::Created),
            // Created meanwhile by another delivery: nothing left to do.
            Registered::Existing => Ok(Settled::Kept(Kept::NotEmpty)),
        }
    }

    /// Drop a registered partition whose location holds no data. `removed` (the bucket and
    /// the keys whose removal prompted this) must lie under that location, or the partition
    /// is someone else's and kept. The cache entry goes first, so this process registers the
    /// partition again for any later object; after the delete the location is checked again
    /// and the partition re-created (with the table's descriptor, at the same location) if an
    /// object arrived meanwhile, so a race never leaves data without its partition.
    pub async fn drop_if_empty(
        &self,
        table: &ServedTable,
        partition: &CatalogPartition,
        removed: Option<(&str, &[&str])>,
        dry_run: bool,
        deadline: Deadline,
    ) -> Result<Settled, CallError> {
        let text = partition.location.clone().unwrap_or_default();
        let Some(location) = S3Location::parse(&text) else {
            return Ok(Settled::Kept(Kept::LocationNotS3(text)));
        };
        if let Some((bucket, keys)) = removed
            && !keys.iter().any(|k| location.holds(bucket, k))
        {
            return Ok(Settled::Kept(Kept::RegisteredElsewhere(text)));
        }
        let (bucket, dir) = (location.bucket.as_str(), location.prefix.as_str());
        if self.storage.holds_data(bucket, dir, deadline).await? {
            return Ok(Settled::Kept(Kept::NotEmpty));
        }
        if dry_run {
            return Ok(Settled::Deleted { location: text });
        }
        let name = &table.table.name;
        self.known
            .lock()
            .expect("known-partition lock")
            .remove(&(name.clone(), partition.values.clone()));
        // "Not found" means it is gone all the same: dropped by another delivery, or by an
        // earlier attempt of this very call whose answer was lost. The re-check still runs.
        self.catalog
            .delete_partition(name, &partition.values, deadline)
            .await?;
        if let Some(hook) = &self.after_delete {
            hook(text.clone()).await;
        }
        if !self.storage.holds_data(bucket, dir, deadline).await? {
            return Ok(Settled::Deleted { location: text });
        }
        tracing::warn!(location = %text, "an object arrived while the partition was dropped; re-creating it");
        let wanted = [PartitionSpec::new(partition.values.clone(), text.clone())];
        self.catalog
            .create_partitions(table, &wanted, 1, deadline)
            .await
            .remove(0)?;
        Ok(Settled::Recreated { location: text })
    }
}
