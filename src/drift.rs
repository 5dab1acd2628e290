//! Schema drift detection (opt-in, `SCHEMA_DRIFT_DETECTION=true`): the first object of each
//! partition the event path creates has its Parquet footer read with ranged GETs (never the
//! whole object) and its columns compared with the table's. A difference is reported, logged
//! and counted (`SchemaDrift`); the partition is registered all the same.

use crate::aws::CallError;
use crate::catalog::ServedTable;
use crate::storage::Storage;
use aws_sdk_glue::types::StorageDescriptor;
use futures_util::StreamExt;
use parquet::basic::{ConvertedType, LogicalType, Type as Physical};
use parquet::file::metadata::ParquetMetaDataReader;
use parquet::schema::types::Type;
use registrar_core::Deadline;
use registrar_core::event::ObjectEvent;
use registrar_core::report::DriftEntry;
use registrar_core::schema::column_drift;

/// Footers read at once.
const CONCURRENCY: usize = 4;

/// The first read takes the file's last 64 KiB: the footer of a typical file fits, so one
/// request answers; a larger footer costs a second one of exactly its size.
const FIRST_READ: u64 = 64 * 1024;
/// The largest footer read. The length comes from the file, which anyone who can write to
/// the bucket controls: unbounded, a footer "length" of 4 GiB would read the whole object
/// into a 128 MB function. A schema of thousands of columns fits in far less.
pub const MAX_FOOTER: u64 = 4 * 1024 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum FooterError {
    #[error(transparent)]
    Call(#[from] CallError),
    #[error("s3://{bucket}/{key} is not a Parquet file (no PAR1 magic at its end)")]
    NotParquet { bucket: String, key: String },
    #[error(
        "the Parquet footer of s3://{bucket}/{key} says it is {length} bytes long, more than the {MAX_FOOTER} read"
    )]
    FooterTooLarge {
        bucket: String,
        key: String,
        length: u64,
    },
    #[error("the Parquet footer of s3://{bucket}/{key} cannot be read: {message}")]
    Unreadable {
        bucket: String,
        key: String,
        message: String,
    },
}

/// Compare the first object of each new partition with its table: one entry per object
/// whose columns differ, each also logged. A footer that cannot be read is logged, never a
/// failure: the partition is registered all the same.
pub async fn check(
    storage: &Storage,
    table: &ServedTable,
    objects: &[&ObjectEvent<'_>],
    deadline: Deadline,
) -> Vec<DriftEntry> {
    let columns = table_columns(&table.descriptor);
    let name = &table.table.name;
    let mut found = Vec::new();
    let mut checks = futures_util::stream::iter(objects)
        .map(|o| async move { (*o, file_columns(storage, o.bucket, o.key, deadline).await) })
        .buffer_unordered(CONCURRENCY);
    while let Some((object, read)) = checks.next().await {
        match read {
            Ok(file) => {
                let differences = column_drift(&columns, &file);
                if differences.is_empty() {
                    continue;
                }
                tracing::warn!(
                    bucket = object.bucket,
                    key = object.key,
                    table = %name,
                    differences = ?differences,
                    "schema drift"
                );
                found.push(DriftEntry {
                    bucket: object.bucket.to_owned(),
                    key: object.key.to_owned(),
                    database: name.database.clone(),
                    table: name.table.clone(),
                    differences,
                });
            }
            Err(e) => tracing::warn!(
                bucket = object.bucket,
                key = object.key,
                error = %e,
                "schema drift not checked"
            ),
        }
    }
    found
}

/// Whether a table's files are Parquet (its input format or SerDe says so).
pub fn is_parquet(descriptor: &StorageDescriptor) -> bool {
    let mentions = |s: Option<&str>| s.is_some_and(|s| s.to_ascii_lowercase().contains("parquet"));
    mentions(descriptor.input_format())
        || mentions(
            descriptor
                .serde_info()
                .and_then(|s| s.serialization_library()),
        )
}

/// The table's columns as `(name, type)`.
pub fn table_columns(descriptor: &StorageDescriptor) -> Vec<(String, String)> {
    descriptor
        .columns()
        .iter()
        .map(|c| {
            (
                c.name().to_owned(),
                c.r#type().unwrap_or("string").to_owned(),
            )
        })
        .collect()
}

/// The top-level columns of a Parquet object, with their types as Hive names them.
pub async fn file_columns(
    storage: &Storage,
    bucket: &str,
    key: &str,
    deadline: Deadline,
) -> Result<Vec<(String, String)>, FooterError> {
    let not_parquet = || FooterError::NotParquet {
        bucket: bucket.to_owned(),
        key: key.to_owned(),
    };
    let tail = storage.read_tail(bucket, key, FIRST_READ, deadline).await?;
    let bytes = &tail.bytes;
    let n = bytes.len();
    if n < 8 || &bytes[n - 4..] != b"PAR1" {
        return Err(not_parquet());
    }
    let length = u64::from(u32::from_le_bytes(
        bytes[n - 8..n - 4].try_into().expect("4 bytes"),
    ));
    if length + 8 > tail.size {
        return Err(not_parquet());
    }
    let footer = if length + 8 <= n as u64 {
        bytes[n - 8 - length as usize..n - 8].to_vec()
    } else {
        if length > MAX_FOOTER {
            return Err(FooterError::FooterTooLarge {
                bucket: bucket.to_owned(),
                key: key.to_owned(),
                length,
            });
        }
        let whole = storage.read_tail(bucket, key, length + 8, deadline).await?;
        let w = whole.bytes.len();
        if w as u64 != length + 8 {
            return Err(not_parquet());
        }
        whole.bytes[..w - 8].to_vec()
    };
    let schema =
        ParquetMetaDataReader::decode_schema(&footer).map_err(|e| FooterError::Unreadable {
            bucket: bucket.to_owned(),
            key: key.to_owned(),
            message: e.to_string(),
        })?;
    Ok(schema
        .root_schema()
        .get_fields()
        .iter()
        .map(|f| (f.name().to_owned(), hive_type(f)))
        .collect())
}

/// A Parquet field's type as Hive and Athena name it. Nested types give their kind only.
pub fn hive_type(field: &Type) -> String {
    let info = field.get_basic_info();
    let logical = info.logical_type_ref();
    let converted = info.converted_type();
    if !field.is_primitive() {
        return match (logical, converted) {
            (Some(LogicalType::List), _) | (_, ConvertedType::LIST) => "array<..>",
            (Some(LogicalType::Map), _)
            | (_, ConvertedType::MAP | ConvertedType::MAP_KEY_VALUE) => "map<..>",
            _ => "struct<..>",
        }
        .to_owned();
    }
    let Type::PrimitiveType {
        physical_type,
        scale,
        precision,
        ..
    } = field
    else {
        unreachable!("a primitive field")
    };
    let decimal = || format!("decimal({precision},{scale})");
    match (physical_type, logical, converted) {
        (_, Some(LogicalType::Decimal { scale, precision }), _) => {
            format!("decimal({precision},{scale})")
        }
        (_, _, ConvertedType::DECIMAL) => decimal(),
        (Physical::BOOLEAN, ..) => "boolean".to_owned(),
        (Physical::INT32, Some(LogicalType::Date), _)
        | (Physical::INT32, _, ConvertedType::DATE) => "date".to_owned(),
        (Physical::INT32, Some(LogicalType::Integer { bit_width: 8, .. }), _)
        | (Physical::INT32, _, ConvertedType::INT_8) => "tinyint".to_owned(),
        (Physical::INT32, Some(LogicalType::Integer { bit_width: 16, .. }), _)
        | (Physical::INT32, _, ConvertedType::INT_16) => "smallint".to_owned(),
        (Physical::INT32, ..) => "int".to_owned(),
        (Physical::INT64, Some(LogicalType::Timestamp { .. }), _)
        | (Physical::INT64, _, ConvertedType::TIMESTAMP_MILLIS | ConvertedType::TIMESTAMP_MICROS) => {
            "timestamp".to_owned()
        }
        (Physical::INT64, ..) => "bigint".to_owned(),
        (Physical::INT96, ..) => "timestamp".to_owned(),
        (Physical::FLOAT, ..) => "float".to_owned(),
        (Physical::DOUBLE, ..) => "double".to_owned(),
        (
            Physical::BYTE_ARRAY,
            Some(LogicalType::String | LogicalType::Enum | LogicalType::Json),
            _,
        )
        | (
            Physical::BYTE_ARRAY,
            _,
            ConvertedType::UTF8 | ConvertedType::ENUM | ConvertedType::JSON,
        ) => "string".to_owned(),
        (Physical::FIXED_LEN_BYTE_ARRAY, Some(LogicalType::Uuid), _) => "string".to_owned(),
        _ => "binary".to_owned(),
    }
}
