//! The repair state machine's own steps around the passes of its tables:
//!
//! - **plan**: the tables an execution repairs, written where the state machine's
//!   Distributed Map reads its items (`ItemReader`), so that the execution's input names them
//!   by reference (`"tables": "served"`) and stays small whatever the number of tables;
//! - **review**: what the map over the tables wrote (`ResultWriter`'s manifest and its
//!   result files), read once every table's repair ended, so that the execution fails with a
//!   cause that names each table not repaired and why, while every other table was repaired.

use crate::aws::{CallError, call};
use crate::checkpoint::{CheckpointError, Expect};
use crate::handler::Registrar;
use registrar_core::Deadline;
use registrar_core::request::Tables;
use serde::{Deserialize, Serialize};

/// A cause says at most this much (Step Functions keeps 32,768 characters of a cause).
const MAX_CAUSE: usize = 8 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum RepairError {
    #[error(transparent)]
    Checkpoint(#[from] CheckpointError),
    #[error(
        "the repair's state machine reads its items from S3: CHECKPOINT_URI must be an s3:// location (it is {0})"
    )]
    NotS3(String),
    #[error("the map's results could not be read: {0}")]
    Results(#[from] CallError),
    #[error(
        "the map's result manifest s3://{bucket}/{key} is not what Step Functions writes: {error}"
    )]
    Manifest {
        bucket: String,
        key: String,
        error: String,
    },
}

/// Where the plan put its items, in the shape `ItemReader`'s `Parameters` take.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Planned {
    #[serde(rename = "Bucket")]
    pub bucket: String,
    #[serde(rename = "Key")]
    pub key: String,
    pub tables: usize,
}

/// One item of the map over the tables.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Item {
    table: String,
}

/// Write the tables an execution repairs as the map's items.
pub async fn plan(
    registrar: &Registrar,
    tables: &Tables,
    execution: &str,
    deadline: Deadline,
) -> Result<Planned, RepairError> {
    let store = registrar.store()?;
    let names: Vec<String> = match tables {
        Tables::Named(names) => names.clone(),
        Tables::Served => {
            let served = registrar.served_tables().await;
            let mut names: Vec<String> = served
                .tables
                .iter()
                .map(|t| t.table.name.to_string())
                .chain(
                    served
                        .broken
                        .iter()
                        .filter(|b| b.name.contains('.'))
                        .map(|b| b.name.clone()),
                )
                .collect();
            names.sort();
            names.dedup();
            names
        }
    };
    let safe: String = execution
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "-_.".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect();
    let key = format!("runs/plans/{safe}.json");
    let (bucket, object) = store
        .s3_object(&key)
        .ok_or_else(|| RepairError::NotS3(store.uri("")))?;
    let items: Vec<Item> = names.iter().map(|t| Item { table: t.clone() }).collect();
    let bytes = serde_json::to_vec(&items).expect("items serialise");
    store.put(&key, bytes, &Expect::Any, deadline).await?;
    Ok(Planned {
        bucket,
        key: object,
        tables: names.len(),
    })
}

/// What the review found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reviewed {
    /// Tables whose repair failed.
    pub failed: usize,
    /// Tables whose repair ended.
    pub tables: usize,
    /// One sentence per failed table, for the execution's cause; `null` when none failed.
    pub cause: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Manifest {
    #[serde(default)]
    destination_bucket: Option<String>,
    result_files: ResultFiles,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "UPPERCASE")]
struct ResultFiles {
    #[serde(default)]
    failed: Vec<ResultFile>,
    #[serde(default)]
    succeeded: Vec<ResultFile>,
    #[serde(default)]
    pending: Vec<ResultFile>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ResultFile {
    key: String,
}

/// A child execution as a result file lists it.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Child {
    #[serde(default)]
    error: Option<String>,
    #[serde(default)]
    cause: Option<String>,
    #[serde(default)]
    input: Option<String>,
}

/// Read the map's results: which tables failed, and why.
pub async fn review(
    registrar: &Registrar,
    bucket: &str,
    key: &str,
    deadline: Deadline,
) -> Result<Reviewed, RepairError> {
    let manifest: Manifest = serde_json::from_slice(&get(registrar, bucket, key, deadline).await?)
        .map_err(|e| RepairError::Manifest {
            bucket: bucket.to_owned(),
            key: key.to_owned(),
            error: e.to_string(),
        })?;
    let bucket = manifest.destination_bucket.as_deref().unwrap_or(bucket);
    let files = &manifest.result_files;
    let mut tables = 0;
    let mut reasons: Vec<String> = Vec::new();
    for (file, failed) in files
        .failed
        .iter()
        .map(|f| (f, true))
        .chain(files.succeeded.iter().map(|f| (f, false)))
        .chain(files.pending.iter().map(|f| (f, true)))
    {
        let children: Vec<Child> = serde_json::from_slice(
            &get(registrar, bucket, &file.key, deadline).await?,
        )
        .map_err(|e| RepairError::Manifest {
            bucket: bucket.to_owned(),
            key: file.key.clone(),
            error: e.to_string(),
        })?;
        tables += children.len();
        if !failed {
            continue;
        }
        for child in children {
            let table = child
                .input
                .as_deref()
                .and_then(|i| serde_json::from_str::<serde_json::Value>(i).ok())
                .and_then(|v| v.get("table").and_then(|t| t.as_str()).map(str::to_owned))
                .unwrap_or_else(|| "a table".to_owned());
            let error = child.error.unwrap_or_else(|| "did not finish".to_owned());
            let cause = child.cause.map(|c| cause_text(&c)).unwrap_or_default();
            reasons.push(format!(
                "{table} ({error}{}{cause})",
                if cause.is_empty() { "" } else { ": " }
            ));
        }
    }
    let failed = reasons.len();
    let cause = (failed > 0).then(|| {
        let mut text = format!("{failed} of {tables} tables were not repaired: ");
        for (i, r) in reasons.iter().enumerate() {
            if text.len() + r.len() > MAX_CAUSE {
                text.push_str(&format!("; and {} more", failed - i));
                break;
            }
            if i > 0 {
                text.push_str("; ");
            }
            text.push_str(r);
        }
        text
    });
    Ok(Reviewed {
        failed,
        tables,
        cause,
    })
}

/// A child's cause as people read it: a Lambda error's `errorMessage` when the cause is the
/// function's error document.
fn cause_text(cause: &str) -> String {
    serde_json::from_str::<serde_json::Value>(cause)
        .ok()
        .and_then(|v| {
            v.get("errorMessage")
                .and_then(|m| m.as_str())
                .map(str::to_owned)
        })
        .unwrap_or_else(|| cause.to_owned())
}

async fn get(
    registrar: &Registrar,
    bucket: &str,
    key: &str,
    deadline: Deadline,
) -> Result<Vec<u8>, RepairError> {
    let send = registrar
        .clients()
        .s3
        .get_object()
        .bucket(bucket)
        .key(key)
        .send();
    let out = call(deadline, "S3", "GetObject", send).await?;
    let bytes = out.body.collect().await.map_err(|e| CallError {
        service: "S3",
        operation: "GetObject",
        kind: crate::aws::ErrorKind::Transient,
        detail: format!("s3://{bucket}/{key}: reading the body failed: {e}"),
    })?;
    Ok(bytes.into_bytes().to_vec())
}
