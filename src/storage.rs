//! The S3 calls: where prefixes are listed (`ListObjectsV2`, so the function needs
//! `s3:ListBucket`) and, only for schema drift detection, where Parquet footers are read
//! with ranged `GetObject`s.

use crate::aws::{CallError, call};
use registrar_core::Deadline;
use registrar_core::decode::decode_notification_key;
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

    /// One page of a listing. Every page is asked for by `StartAfter`, never by a
    /// continuation token: a request says by itself where it is, so a stopped walk's
    /// requests are where the next run continues. Keys come URL-encoded
    /// (`EncodingType=url`) and are decoded here: a key holding a character XML 1.0 cannot
    /// carry (a control character, which anyone who can write to the bucket can put in a key)
    /// would otherwise make the page unreadable, and with it every key on it.
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
            .encoding_type(aws_sdk_s3::types::EncodingType::Url)
            .max_keys(page_size)
            .send();
        let page = call(deadline, S3, "ListObjectsV2", send)
            .await
            .map_err(|mut e| {
                e.detail = format!("s3://{bucket}/{}: {}", request.prefix, e.detail);
                e
            })?;
        let decoded = |name: &str| -> Option<String> {
            match decode_notification_key(name) {
                Ok(key) => Some(key.into_owned()),
                Err(e) => {
                    tracing::warn!(bucket, name, error = %e, "a listed name cannot be decoded; left out");
                    None
                }
            }
        };
        Ok(ListPage {
            keys: page
                .contents()
                .iter()
                .filter_map(|o| o.key().and_then(decoded))
                .collect(),
            dirs: page
                .common_prefixes()
                .iter()
                .filter_map(|p| p.prefix().and_then(decoded))
                .collect(),
            truncated: page.is_truncated() == Some(true),
        })
    }

    /// The last `bytes` bytes of an object (all of it when it is smaller): one ranged GET,
    /// and never more than `bytes` read. S3 must answer the range (206 with a
    /// `Content-Range`): an answer that ignored it is refused before its body is read.
    #[cfg(feature = "schema-drift")]
    pub async fn read_tail(
        &self,
        bucket: &str,
        key: &str,
        bytes: u64,
        deadline: Deadline,
    ) -> Result<Tail, CallError> {
        let send = self
            .client
            .get_object()
            .bucket(bucket)
            .key(key)
            .range(format!("bytes=-{bytes}"))
            .send();
        let mut out = call(deadline, S3, "GetObject", send).await?;
        let failed = |detail: String| CallError {
            service: S3,
            operation: "GetObject",
            kind: crate::aws::ErrorKind::Rejected,
            detail: format!("s3://{bucket}/{key}: {detail}"),
        };
        let range = out.content_range().map(str::to_owned);
        let Some((start, end, size)) = range.as_deref().and_then(content_range) else {
            return Err(failed(format!(
                "the answer to a ranged GET of the last {bytes} bytes had no byte range (Content-Range {range:?}): the object is not read whole"
            )));
        };
        let length = end - start + 1;
        if length > bytes || end + 1 != size {
            return Err(failed(format!(
                "asked for the last {bytes} bytes, S3 answered bytes {start}-{end} of {size}"
            )));
        }
        let mut body = Vec::with_capacity(length as usize);
        while let Some(chunk) = out.body.next().await {
            let chunk = chunk.map_err(|e| CallError {
                service: S3,
                operation: "GetObject",
                kind: crate::aws::ErrorKind::Transient,
                detail: format!("s3://{bucket}/{key}: reading the body failed: {e}"),
            })?;
            if body.len() + chunk.len() > length as usize {
                return Err(failed(format!(
                    "the body is longer than the {length} bytes its range announced"
                )));
            }
            body.extend_from_slice(&chunk);
        }
        Ok(Tail { bytes: body, size })
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
            through: None,
            max_keys: None,
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
            let Some(last) = page.keys.last().filter(|_| page.truncated) else {
                return Ok(false);
            };
            request.start_after = Some(match hidden_directory(last, dir.len()) {
                Some(end) => after(&last[..end]),
                None => last.clone(),
            });
        }
    }
}

/// The end of an object, and the object's whole size.
#[cfg(feature = "schema-drift")]
#[derive(Debug, Clone)]
pub struct Tail {
    pub bytes: Vec<u8>,
    pub size: u64,
}

/// `bytes 100-199/200` → (100, 199, 200).
#[cfg(any(feature = "schema-drift", test))]
fn content_range(header: &str) -> Option<(u64, u64, u64)> {
    let rest = header.trim().strip_prefix("bytes ")?;
    let (range, size) = rest.split_once('/')?;
    let (start, end) = range.split_once('-')?;
    let (start, end, size) = (
        start.trim().parse().ok()?,
        end.trim().parse().ok()?,
        size.trim().parse().ok()?,
    );
    (start <= end && end < size).then_some((start, end, size))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_content_range_is_read_and_checked() {
        assert_eq!(content_range("bytes 100-199/200"), Some((100, 199, 200)));
        assert_eq!(content_range("bytes 0-0/1"), Some((0, 0, 1)));
        for bad in [
            "bytes */200",
            "bytes 5-4/200",
            "bytes 0-200/200",
            "items 0-1/2",
            "",
        ] {
            assert_eq!(content_range(bad), None, "{bad}");
        }
    }
}
