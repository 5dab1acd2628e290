//! The S3 calls: where prefixes are listed (`ListObjectsV2`, so the function needs
//! `s3:ListBucket`) and, only for schema drift detection, where Parquet footers are read
//! with ranged `GetObject`s.

use crate::aws::{CallError, call};
use registrar_core::Deadline;
use registrar_core::layout::{data_key, hidden_directory};
use registrar_core::walk::{ListPage, ListRequest, after};

const S3: &str = "S3";

#[derive(Debug, Clone)]
pub struct Storage {
    client: aws_sdk_s3::Client,
}

impl Storage {
    pub fn new(client: aws_sdk_s3::Client) -> Self {
        Self { client }
    }

    /// One page of a listing.
    pub async fn list(
        &self,
        bucket: &str,
        request: &ListRequest,
        page_size: i32,
        deadline: Deadline,
    ) -> Result<ListPage, CallError> {
        let send = self
            .client
            .list_objects_v2()
            .bucket(bucket)
            .prefix(&request.prefix)
            .set_delimiter(request.delimiter.then(|| "/".to_owned()))
            .set_start_after(request.start_after.clone())
            .set_continuation_token(request.continuation.clone())
            .max_keys(page_size)
            .send();
        let page = call(deadline, S3, "ListObjectsV2", send)
            .await
            .map_err(|mut e| {
                e.detail = format!("s3://{bucket}/{}: {}", request.prefix, e.detail);
                e
            })?;
        Ok(ListPage {
            keys: page
                .contents()
                .iter()
                .filter_map(|o| o.key().map(str::to_owned))
                .collect(),
            dirs: page
                .common_prefixes()
                .iter()
                .filter_map(|p| p.prefix().map(str::to_owned))
                .collect(),
            next: page
                .next_continuation_token()
                .filter(|_| page.is_truncated() == Some(true))
                .map(str::to_owned),
        })
    }

    /// The last `bytes` bytes of an object (all of it when it is smaller): one ranged GET.
    #[cfg(feature = "schema-drift")]
    pub async fn read_tail(
        &self,
        bucket: &str,
        key: &str,
        bytes: u64,
        deadline: Deadline,
    ) -> Result<Vec<u8>, CallError> {
        let send = self
            .client
            .get_object()
            .bucket(bucket)
            .key(key)
            .range(format!("bytes=-{bytes}"))
            .send();
        let out = call(deadline, S3, "GetObject", send).await?;
        let body = out.body.collect().await.map_err(|e| CallError {
            service: S3,
            operation: "GetObject",
            kind: crate::aws::ErrorKind::Transient,
            detail: format!("s3://{bucket}/{key}: reading the body failed: {e}"),
        })?;
        Ok(body.into_bytes().to_vec())
    }

    /// Whether a partition directory holds data: any key under it that is not a folder
    /// marker or hidden (`_SUCCESS`, `_temporary/`, `.spark-staging-*`). A directory of a
    /// million objects costs one request when its first page answers the question; a hidden
    /// subdirectory is stepped over, not read through.
    pub async fn holds_data(
        &self,
        bucket: &str,
        dir: &str,
        deadline: Deadline,
    ) -> Result<bool, CallError> {
        let mut request = ListRequest {
            prefix: dir.to_owned(),
            delimiter: false,
            start_after: None,
            continuation: None,
        };
        loop {
            let page = self.list(bucket, &request, 1000, deadline).await?;
            if page
                .keys
                .iter()
                .any(|k| data_key(k, &k[dir.len()..]).is_ok())
            {
                return Ok(true);
            }
            let (Some(token), Some(last)) = (page.next, page.keys.last()) else {
                return Ok(false);
            };
            match hidden_directory(last, dir.len()) {
                Some(end) => {
                    request.start_after = Some(after(&last[..end]));
                    request.continuation = None;
                }
                None => request.continuation = Some(token),
            }
        }
    }
}
