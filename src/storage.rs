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

    /// List one level under `prefix` (delimiter `/`). `stop` is asked after every page and
    /// ends the listing early once it has seen enough: a directory with a million objects
    /// costs one request when its first page already answers the question.
    pub async fn level(
        &self,
        bucket: &str,
        prefix: &str,
        stop: impl Fn(&Level) -> bool,
    ) -> Result<Level, StorageError> {
        let mut level = Level::default();
        let mut token: Option<String> = None;
        loop {
            let page = self
                .client
                .list_objects_v2()
                .bucket(bucket)
                .prefix(prefix)
                .delimiter("/")
                .set_continuation_token(token.take())
                .send()
                .await
                .map_err(|e| self.error(bucket, prefix, &e))?;
            level.dirs.extend(
                page.common_prefixes()
                    .iter()
                    .filter_map(|p| p.prefix().map(str::to_owned)),
            );
            level.keys.extend(
                page.contents()
                    .iter()
                    .filter_map(|o| o.key().map(str::to_owned)),
            );
            token = page.next_continuation_token().map(str::to_owned);
            if token.is_none() || stop(&level) {
                return Ok(level);
            }
        }
    }

    /// Every key under `prefix` (no delimiter), for layouts that cannot be walked by level.
    pub async fn keys(&self, bucket: &str, prefix: &str) -> Result<Vec<String>, StorageError> {
        let mut keys = Vec::new();
        let mut pages = self
            .client
            .list_objects_v2()
            .bucket(bucket)
            .prefix(prefix)
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| self.error(bucket, prefix, &e))?;
            keys.extend(
                page.contents()
                    .iter()
                    .filter_map(|o| o.key().map(str::to_owned)),
            );
        }
        Ok(keys)
    }

    /// Whether any key under `prefix` satisfies `is_data`, stopping at the first page that
    /// holds one.
    pub async fn any_key(
        &self,
        bucket: &str,
        prefix: &str,
        is_data: impl Fn(&str) -> bool,
    ) -> Result<bool, StorageError> {
        let mut token: Option<String> = None;
        loop {
            let page = self
                .client
                .list_objects_v2()
                .bucket(bucket)
                .prefix(prefix)
                .set_continuation_token(token.take())
                .send()
                .await
                .map_err(|e| self.error(bucket, prefix, &e))?;
            if page.contents().iter().filter_map(|o| o.key()).any(&is_data) {
                return Ok(true);
            }
            match page.next_continuation_token() {
                Some(t) => token = Some(t.to_owned()),
                None => return Ok(false),
            }
        }
    }

    /// Whether a partition directory holds data: any key under it that is not a folder
    /// marker or hidden (`_SUCCESS`, `_temporary/`, `.spark-staging-*`).
    pub async fn holds_data(&self, bucket: &str, dir: &str) -> Result<bool, StorageError> {
        self.any_key(bucket, dir, |k| data_key(k, &k[dir.len()..]).is_ok())
            .await
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
