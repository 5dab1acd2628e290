//! A pass's checkpoints, typed: where each piece lives in the store, and how it is read and
//! written. Layout, under the store's prefix:
//!
//! ```text
//! heads/<database>/<table>.json                     the open passes, what to carry over
//! runs/passes/<database>/<table>/<pass>/pass.json   the PassRecord
//!                                  .../group-0007.json   a group's Cursor
//!                                  .../finish.json       the Finish
//!                                  .../found/0007-0003-<nonce>.bin   found directories
//! runs/plans/<execution>.json                       the tables an execution repairs
//! runs/results/...                                  what the state machine's map wrote
//! ```
//!
//! Everything under `runs/` is for one pass or one execution and expires (the module's
//! lifecycle rule); the heads stay, so that what a pass could not register is never lost
//! to expiry.

use crate::checkpoint::{CheckpointError, Expect, Store};
use registrar_core::found::{FoundError, FoundSet};
use registrar_core::pass::{Cursor, Finish, Head, PassRecord};
use registrar_core::{Deadline, TableName};
use serde::Serialize;
use serde::de::DeserializeOwned;

/// A checkpoint read, and the version a write over it must find.
#[derive(Debug, Clone)]
pub struct Versioned<T> {
    pub value: T,
    pub expect: Expect,
}

/// One table's checkpoints.
pub struct Checkpoints<'s> {
    store: &'s Store,
    table: TableName,
}

impl<'s> Checkpoints<'s> {
    pub fn new(store: &'s Store, table: &TableName) -> Self {
        Self {
            store,
            table: table.clone(),
        }
    }

    fn head_key(&self) -> String {
        format!("heads/{}/{}.json", self.table.database, self.table.table)
    }

    /// The folder of a pass.
    pub fn pass_key(&self, pass: &str) -> String {
        format!(
            "runs/passes/{}/{}/{pass}/",
            self.table.database, self.table.table
        )
    }

    /// Where a pass's checkpoints are, for people.
    pub fn pass_uri(&self, pass: &str) -> String {
        self.store.uri(&self.pass_key(pass))
    }

    async fn read<T: DeserializeOwned>(
        &self,
        key: &str,
        deadline: Deadline,
    ) -> Result<Option<Versioned<T>>, CheckpointError> {
        let Some(read) = self.store.get(key, deadline).await? else {
            return Ok(None);
        };
        let value =
            serde_json::from_slice(&read.bytes).map_err(|e| CheckpointError::Malformed {
                uri: self.store.uri(key),
                error: e.to_string(),
            })?;
        let expect = read.version.map_or(Expect::Any, Expect::Version);
        Ok(Some(Versioned { value, expect }))
    }

    async fn write<T: Serialize>(
        &self,
        key: &str,
        value: &T,
        expect: &Expect,
        deadline: Deadline,
    ) -> Result<Expect, CheckpointError> {
        let bytes = serde_json::to_vec(value).expect("checkpoints serialise");
        let version = self.store.put(key, bytes, expect, deadline).await?;
        Ok(version.map_or(Expect::Any, Expect::Version))
    }

    fn missing(&self, key: &str, what: &str) -> CheckpointError {
        CheckpointError::Malformed {
            uri: self.store.uri(key),
            error: format!("{what} is not there (expired, or never written)"),
        }
    }

    pub async fn head(&self, deadline: Deadline) -> Result<Versioned<Head>, CheckpointError> {
        Ok(self
            .read(&self.head_key(), deadline)
            .await?
            .unwrap_or(Versioned {
                value: Head::default(),
                expect: Expect::Absent,
            }))
    }

    pub async fn put_head(
        &self,
        head: &Versioned<Head>,
        deadline: Deadline,
    ) -> Result<(), CheckpointError> {
        self.write(&self.head_key(), &head.value, &head.expect, deadline)
            .await
            .map(|_| ())
    }

    pub async fn record(
        &self,
        pass: &str,
        deadline: Deadline,
    ) -> Result<PassRecord, CheckpointError> {
        let key = format!("{}pass.json", self.pass_key(pass));
        match self.read(&key, deadline).await? {
            Some(v) => Ok(v.value),
            None => Err(self.missing(&key, "the pass's record")),
        }
    }

    pub async fn put_record(
        &self,
        record: &PassRecord,
        deadline: Deadline,
    ) -> Result<(), CheckpointError> {
        let key = format!("{}pass.json", self.pass_key(&record.pass));
        self.write(&key, record, &Expect::Any, deadline)
            .await
            .map(|_| ())
    }

    fn group_key(&self, pass: &str, group: u32) -> String {
        format!("{}group-{group:04}.json", self.pass_key(pass))
    }

    pub async fn group(
        &self,
        pass: &str,
        group: u32,
        deadline: Deadline,
    ) -> Result<Versioned<Cursor>, CheckpointError> {
        let key = self.group_key(pass, group);
        self.read(&key, deadline)
            .await?
            .ok_or_else(|| self.missing(&key, "the group's cursor"))
    }

    /// Write a group's cursor over the version read (or as a new object).
    pub async fn put_group(
        &self,
        cursor: &Cursor,
        expect: &Expect,
        deadline: Deadline,
    ) -> Result<Expect, CheckpointError> {
        let key = self.group_key(&cursor.pass, cursor.group);
        self.write(&key, cursor, expect, deadline).await
    }

    pub async fn finish(
        &self,
        pass: &str,
        deadline: Deadline,
    ) -> Result<Versioned<Finish>, CheckpointError> {
        let key = format!("{}finish.json", self.pass_key(pass));
        Ok(self.read(&key, deadline).await?.unwrap_or(Versioned {
            value: Finish::default(),
            expect: Expect::Absent,
        }))
    }

    pub async fn put_finish(
        &self,
        pass: &str,
        finish: &Versioned<Finish>,
        deadline: Deadline,
    ) -> Result<Expect, CheckpointError> {
        let key = format!("{}finish.json", self.pass_key(pass));
        self.write(&key, &finish.value, &finish.expect, deadline)
            .await
    }

    /// One run's found directories.
    pub async fn put_found(
        &self,
        pass: &str,
        name: &str,
        chunk: Vec<u8>,
        deadline: Deadline,
    ) -> Result<(), CheckpointError> {
        let key = format!("{}found/{name}.bin", self.pass_key(pass));
        self.store
            .put(&key, chunk, &Expect::Absent, deadline)
            .await
            .map(|_| ())
    }

    /// Every directory the pass's runs found, read at once.
    pub async fn found(&self, pass: &str, deadline: Deadline) -> Result<FoundSet, CheckpointError> {
        let folder = format!("{}found/", self.pass_key(pass));
        let keys = self.store.list(&folder, deadline).await?;
        let mut set = FoundSet::default();
        let mut reads = futures_util::stream::iter(keys.iter())
            .map(|key| async move { (key, self.store.get(key, deadline).await) })
            .buffer_unordered(8);
        use futures_util::StreamExt;
        while let Some((key, read)) = reads.next().await {
            let Some(read) = read? else { continue };
            set.add_chunk(&read.bytes)
                .map_err(|e: FoundError| CheckpointError::Malformed {
                    uri: self.store.uri(key),
                    error: e.to_string(),
                })?;
        }
        set.seal();
        Ok(set)
    }
}
