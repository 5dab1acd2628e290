//! The S3 calls: where prefixes are listed. Only `ListObjectsV2`, so the function needs
//! `s3:ListBucket` and never reads object data.

use crate::aws::describe;
use crate::layout::data_key;
use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("S3 ListObjectsV2 on s3://{bucket}/{prefix} failed: {message}")]
pub struct StorageError {
    pub bucket: String,
    pub prefix: String,
    pub message: String,
}

/// One level of a prefix tree: the "subdirectories" and the objects directly in it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Level {
    pub dirs: Vec<String>,
    pub keys: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct Storage {
    client: aws_sdk_s3::Client,
}

impl Storage {
    pub fn new(client: aws_sdk_s3::Client) -> Self {
        Self { client }
    }

    /// List under `prefix`, page by page, until the listing ends or `stop` (asked with each
    /// new page) says enough: a directory of a million objects costs one request when its
    /// first page already answers the question.
    async fn list(
        &self,
        bucket: &str,
        prefix: &str,
        delimiter: Option<&str>,
        mut stop: impl FnMut(&Level) -> bool,
    ) -> Result<Level, StorageError> {
        let mut all = Level::default();
        let mut token: Option<String> = None;
        loop {
            let page = self
                .client
                .list_objects_v2()
                .bucket(bucket)
                .prefix(prefix)
                .set_delimiter(delimiter.map(str::to_owned))
                .set_continuation_token(token.take())
                .send()
                .await
                .map_err(|e| self.error(bucket, prefix, &e))?;
            let new = Level {
                dirs: page
                    .common_prefixes()
                    .iter()
                    .filter_map(|p| p.prefix().map(str::to_owned))
                    .collect(),
                keys: page
                    .contents()
                    .iter()
                    .filter_map(|o| o.key().map(str::to_owned))
                    .collect(),
            };
            let done = stop(&new);
            all.dirs.extend(new.dirs);
            all.keys.extend(new.keys);
            token = page.next_continuation_token().map(str::to_owned);
            if done || token.is_none() {
                return Ok(all);
            }
        }
    }

    /// One level under `prefix` (delimiter `/`): its "subdirectories" and objects.
    pub async fn level(
        &self,
        bucket: &str,
        prefix: &str,
        stop: impl FnMut(&Level) -> bool,
    ) -> Result<Level, StorageError> {
        self.list(bucket, prefix, Some("/"), stop).await
    }

    /// Every key under `prefix` (no delimiter), for layouts that cannot be walked by level.
    pub async fn keys(&self, bucket: &str, prefix: &str) -> Result<Vec<String>, StorageError> {
        Ok(self.list(bucket, prefix, None, |_| false).await?.keys)
    }

    /// Whether a partition directory holds data: any key under it that is not a folder
    /// marker or hidden (`_SUCCESS`, `_temporary/`, `.spark-staging-*`).
    pub async fn holds_data(&self, bucket: &str, dir: &str) -> Result<bool, StorageError> {
        let is_data = |k: &String| data_key(k, &k[dir.len()..]).is_ok();
        let listed = self
            .list(bucket, dir, None, |page| page.keys.iter().any(is_data))
            .await?;
        Ok(listed.keys.iter().any(is_data))
    }

    fn error<E, R>(&self, bucket: &str, prefix: &str, e: &SdkError<E, R>) -> StorageError
    where
        E: ProvideErrorMetadata + std::error::Error + 'static,
        R: std::fmt::Debug,
    {
        StorageError {
            bucket: bucket.to_owned(),
            prefix: prefix.to_owned(),
            message: describe(e),
        }
    }
}
