//! Where a pass keeps what it must remember between runs: an S3 prefix the module owns
//! (`CHECKPOINT_URI=s3://bucket/prefix/`), or a local directory for the CLI (`file://...`,
//! by default under the system's temporary directory). Step Functions carries at most
//! 256 KiB from one state to the next; a cursor that grows with the table or with failures
//! lives here, and the state machine carries its name.
//!
//! Writes are conditional on S3 (`If-Match` on the version read, `If-None-Match` for a new
//! object): two runs of one group that overlap (a retried task whose first attempt was still
//! running) cannot silently undo each other's progress; the later writer is refused and
//! fails, and its task is tried again from what the earlier one wrote.

use crate::aws::{CallError, ErrorKind, call};
use registrar_core::Deadline;
use std::path::PathBuf;

const S3: &str = "S3";

/// Why the checkpoint store could not be used.
#[derive(Debug, thiserror::Error)]
pub enum CheckpointError {
    #[error(
        "CHECKPOINT_URI=`{0}` is neither s3://bucket/prefix/ nor file:///directory/: set it to where passes keep their checkpoints (the module's output `checkpoint_uri`)"
    )]
    BadUri(String),
    #[error("checkpoint {uri}: {source}")]
    Call {
        uri: String,
        #[source]
        source: CallError,
    },
    #[error("checkpoint {uri}: {error}")]
    Io { uri: String, error: std::io::Error },
    #[error(
        "checkpoint {uri} is not what this release writes ({error}): it was written by another version or by hand; start a new pass"
    )]
    Malformed { uri: String, error: String },
    #[error(
        "checkpoint {uri} was written by another run after this one read it (two runs of one group at once): this run's work is not recorded; the next run goes on from the other's"
    )]
    Conflict { uri: String },
}

impl CheckpointError {
    /// A failure that may pass on its own (the store answered slowly, or throttled).
    pub fn is_transient(&self) -> bool {
        match self {
            Self::Call { source, .. } => source.kind.is_transient(),
            Self::Conflict { .. } => true,
            _ => false,
        }
    }
}

/// What a conditional write expects to find.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Expect {
    /// Whatever is there.
    Any,
    /// Nothing: the object is new.
    Absent,
    /// The version this run read.
    Version(String),
}

/// An object read, with the version to write it back over.
#[derive(Debug, Clone)]
pub struct Read {
    pub bytes: Vec<u8>,
    pub version: Option<String>,
}

#[derive(Debug, Clone)]
enum Backend {
    S3 {
        client: aws_sdk_s3::Client,
        bucket: String,
        prefix: String,
    },
    Local {
        dir: PathBuf,
    },
}

/// The store: keys are relative to its prefix or directory.
#[derive(Debug, Clone)]
pub struct Store {
    backend: Backend,
}

impl Store {
    /// The store a `CHECKPOINT_URI` names; `None` is a directory under the system's temporary
    /// directory (the CLI's default: a run resumed on another machine needs the module's S3
    /// store, or a `file://` directory both can reach).
    pub fn from_uri(
        uri: Option<&str>,
        client: aws_sdk_s3::Client,
    ) -> Result<Self, CheckpointError> {
        let Some(uri) = uri.map(str::trim).filter(|u| !u.is_empty()) else {
            return Ok(Self {
                backend: Backend::Local {
                    dir: std::env::temp_dir().join("glue-partition-registrar"),
                },
            });
        };
        if uri.starts_with("s3://") {
            let registrar_core::table::S3Location { bucket, prefix, .. } =
                registrar_core::table::S3Location::parse(uri)
                    .ok_or_else(|| CheckpointError::BadUri(uri.to_owned()))?;
            return Ok(Self {
                backend: Backend::S3 {
                    client,
                    bucket,
                    prefix,
                },
            });
        }
        if let Some(path) = uri.strip_prefix("file://")
            && path.starts_with('/')
        {
            return Ok(Self {
                backend: Backend::Local { dir: path.into() },
            });
        }
        Err(CheckpointError::BadUri(uri.to_owned()))
    }

    /// The URI of a key, for people and for the state machine's `ItemReader`.
    pub fn uri(&self, key: &str) -> String {
        match &self.backend {
            Backend::S3 { bucket, prefix, .. } => format!("s3://{bucket}/{prefix}{key}"),
            Backend::Local { dir } => format!("file://{}", dir.join(key).display()),
        }
    }

    /// The bucket and full object key of a key, when the store is S3's.
    pub fn s3_object(&self, key: &str) -> Option<(String, String)> {
        match &self.backend {
            Backend::S3 { bucket, prefix, .. } => Some((bucket.clone(), format!("{prefix}{key}"))),
            Backend::Local { .. } => None,
        }
    }

    pub async fn get(
        &self,
        key: &str,
        deadline: Deadline,
    ) -> Result<Option<Read>, CheckpointError> {
        let uri = self.uri(key);
        match &self.backend {
            Backend::S3 {
                client,
                bucket,
                prefix,
            } => {
                let send = client
                    .get_object()
                    .bucket(bucket)
                    .key(format!("{prefix}{key}"))
                    .send();
                let out = match call(deadline, S3, "GetObject", send).await {
                    Ok(out) => out,
                    Err(e) if e.kind == ErrorKind::NotFound => return Ok(None),
                    Err(source) => return Err(CheckpointError::Call { uri, source }),
                };
                let version = out.e_tag().map(str::to_owned);
                let bytes = out
                    .body
                    .collect()
                    .await
                    .map_err(|e| CheckpointError::Call {
                        uri: uri.clone(),
                        source: CallError {
                            service: S3,
                            operation: "GetObject",
                            kind: ErrorKind::Transient,
                            detail: format!("reading the body failed: {e}"),
                        },
                    })?;
                Ok(Some(Read {
                    bytes: bytes.into_bytes().to_vec(),
                    version,
                }))
            }
            Backend::Local { dir } => match tokio::fs::read(dir.join(key)).await {
                Ok(bytes) => Ok(Some(Read {
                    bytes,
                    version: None,
                })),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
                Err(error) => Err(CheckpointError::Io { uri, error }),
            },
        }
    }

    /// Write `bytes` at `key` if `expect` holds; returns the new version.
    pub async fn put(
        &self,
        key: &str,
        bytes: Vec<u8>,
        expect: &Expect,
        deadline: Deadline,
    ) -> Result<Option<String>, CheckpointError> {
        let uri = self.uri(key);
        match &self.backend {
            Backend::S3 {
                client,
                bucket,
                prefix,
            } => {
                let mut put = client
                    .put_object()
                    .bucket(bucket)
                    .key(format!("{prefix}{key}"))
                    .body(bytes.into());
                put = match expect {
                    Expect::Any => put,
                    Expect::Absent => put.if_none_match("*"),
                    Expect::Version(v) => put.if_match(v),
                };
                match call(deadline, S3, "PutObject", put.send()).await {
                    Ok(out) => Ok(out.e_tag().map(str::to_owned)),
                    Err(e)
                        if e.detail.contains("PreconditionFailed")
                            || e.detail.contains("NoSuchKey") =>
                    {
                        Err(CheckpointError::Conflict { uri })
                    }
                    Err(source) => Err(CheckpointError::Call { uri, source }),
                }
            }
            Backend::Local { dir } => {
                let path = dir.join(key);
                let write = async {
                    if let Some(parent) = path.parent() {
                        tokio::fs::create_dir_all(parent).await?;
                    }
                    // Written aside and renamed: a reader never sees half a checkpoint.
                    let aside = path.with_extension("partial");
                    tokio::fs::write(&aside, &bytes).await?;
                    tokio::fs::rename(&aside, &path).await
                };
                write
                    .await
                    .map_err(|error| CheckpointError::Io { uri, error })?;
                Ok(None)
            }
        }
    }

    /// The keys under `prefix` (relative to the store), sorted.
    pub async fn list(
        &self,
        prefix: &str,
        deadline: Deadline,
    ) -> Result<Vec<String>, CheckpointError> {
        let uri = self.uri(prefix);
        match &self.backend {
            Backend::S3 {
                client,
                bucket,
                prefix: root,
            } => {
                let mut keys = Vec::new();
                let mut token: Option<String> = None;
                loop {
                    let send = client
                        .list_objects_v2()
                        .bucket(bucket)
                        .prefix(format!("{root}{prefix}"))
                        .set_continuation_token(token.clone())
                        .send();
                    let out =
                        call(deadline, S3, "ListObjectsV2", send)
                            .await
                            .map_err(|source| CheckpointError::Call {
                                uri: uri.clone(),
                                source,
                            })?;
                    keys.extend(
                        out.contents()
                            .iter()
                            .filter_map(|o| o.key())
                            .filter_map(|k| k.strip_prefix(root.as_str()))
                            .map(str::to_owned),
                    );
                    token = out.next_continuation_token().map(str::to_owned);
                    if token.is_none() {
                        break;
                    }
                }
                keys.sort();
                Ok(keys)
            }
            Backend::Local { dir } => {
                let base = dir.join(prefix);
                let mut keys = Vec::new();
                let mut entries = match tokio::fs::read_dir(&base).await {
                    Ok(e) => e,
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(keys),
                    Err(error) => return Err(CheckpointError::Io { uri, error }),
                };
                while let Some(entry) =
                    entries
                        .next_entry()
                        .await
                        .map_err(|error| CheckpointError::Io {
                            uri: uri.clone(),
                            error,
                        })?
                {
                    if let Some(name) = entry.file_name().to_str()
                        && !name.ends_with(".partial")
                    {
                        keys.push(format!("{prefix}{name}"));
                    }
                }
                keys.sort();
                Ok(keys)
            }
        }
    }
}
