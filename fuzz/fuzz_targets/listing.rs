//! Any bytes as a `ListObjectsV2` answer: the listing reader reads them or leaves them to the
//! SDK, never panics, and whatever it reads, the SDK's own decoder reads the same: the same
//! keys, prefixes and `IsTruncated`, and no error. The reference is the SDK's generated
//! decoder (aws-sdk-s3 1.157.0, `protocol_serde::shape_list_objects_v2` with `shape_object`,
//! `shape_owner`, `shape_restore_status` and `shape_common_prefix`) on aws-smithy-xml as it
//! runs it, keeping only what the walk uses; aws-sdk-s3 itself is too large to build under
//! the fuzzer.
#![no_main]

use aws_smithy_types::DateTime;
use aws_smithy_types::date_time::Format;
use aws_smithy_types::primitive::Parse;
use aws_smithy_xml::decode::{Document, ScopedDecoder, XmlDecodeError, try_data};
use libfuzzer_sys::fuzz_target;
use registrar_core::listing;

fuzz_target!(|body: &[u8]| {
    let Ok(read) = listing::read(body) else {
        return;
    };
    let fast = (
        read.keys.iter().map(|k| k.to_string()).collect::<Vec<_>>(),
        read.prefixes
            .iter()
            .map(|p| p.to_string())
            .collect::<Vec<_>>(),
        read.truncated,
    );
    match sdk(body) {
        Ok(sdk) => assert_eq!(fast, sdk, "{}", String::from_utf8_lossy(body)),
        Err(e) => panic!(
            "read {fast:?} where the SDK fails ({e}): {}",
            String::from_utf8_lossy(body)
        ),
    }
    let _ = read.decode();
});

type Page = (Vec<String>, Vec<String>, bool);

fn sdk(body: &[u8]) -> Result<Page, XmlDecodeError> {
    // `ListObjectsV2ResponseDeserializer`: a 200 whose root is <Error> is an error.
    if is_error(body)? {
        return Err(XmlDecodeError::custom("an error document"));
    }
    let mut doc = Document::try_from(body)?;
    let mut decoder = doc.root_element()?;
    if !decoder.start_el().matches("ListBucketResult") {
        return Err(XmlDecodeError::custom("not a ListBucketResult"));
    }
    let (mut keys, mut prefixes, mut truncated) = (Vec::new(), Vec::new(), None);
    while let Some(mut tag) = decoder.next_tag() {
        match tag.start_el() {
            s if s.matches("CommonPrefixes") => prefixes.extend(common_prefix(&mut tag)?),
            s if s.matches("NextContinuationToken")
                || s.matches("ContinuationToken")
                || s.matches("Delimiter")
                || s.matches("EncodingType")
                || s.matches("Prefix")
                || s.matches("Name")
                || s.matches("StartAfter") =>
            {
                try_data(&mut tag)?;
            }
            s if s.matches("IsTruncated") => truncated = Some(parse::<bool>(&mut tag)?),
            s if s.matches("MaxKeys") || s.matches("KeyCount") => {
                parse::<i32>(&mut tag)?;
            }
            s if s.matches("Contents") => keys.extend(object(&mut tag)?),
            _ => {}
        }
    }
    Ok((keys, prefixes, truncated == Some(true)))
}

fn is_error(body: &[u8]) -> Result<bool, XmlDecodeError> {
    let mut doc = Document::try_from(body)?;
    let scoped = doc.root_element()?;
    Ok(scoped.start_el().matches("Error"))
}

fn parse<T: Parse>(tag: &mut ScopedDecoder) -> Result<T, XmlDecodeError> {
    T::parse_smithy_primitive(try_data(tag)?.as_ref())
        .map_err(|_| XmlDecodeError::custom("expected a primitive"))
}

fn timestamp(tag: &mut ScopedDecoder) -> Result<(), XmlDecodeError> {
    DateTime::from_str(try_data(tag)?.as_ref(), Format::DateTimeWithOffset)
        .map(drop)
        .map_err(|_| XmlDecodeError::custom("expected a timestamp"))
}

fn object(decoder: &mut ScopedDecoder) -> Result<Option<String>, XmlDecodeError> {
    let mut key = None;
    while let Some(mut tag) = decoder.next_tag() {
        match tag.start_el() {
            s if s.matches("Key") => key = Some(try_data(&mut tag)?.into_owned()),
            s if s.matches("LastModified") => timestamp(&mut tag)?,
            s if s.matches("ETag")
                || s.matches("ChecksumAlgorithm")
                || s.matches("ChecksumType")
                || s.matches("StorageClass") =>
            {
                try_data(&mut tag)?;
            }
            s if s.matches("Size") => {
                parse::<i64>(&mut tag)?;
            }
            s if s.matches("Owner") => {
                while let Some(mut tag) = tag.next_tag() {
                    if tag.start_el().matches("DisplayName") || tag.start_el().matches("ID") {
                        try_data(&mut tag)?;
                    }
                }
            }
            s if s.matches("RestoreStatus") => {
                while let Some(mut tag) = tag.next_tag() {
                    if tag.start_el().matches("IsRestoreInProgress") {
                        parse::<bool>(&mut tag)?;
                    } else if tag.start_el().matches("RestoreExpiryDate") {
                        timestamp(&mut tag)?;
                    }
                }
            }
            _ => {}
        }
    }
    Ok(key)
}

fn common_prefix(decoder: &mut ScopedDecoder) -> Result<Option<String>, XmlDecodeError> {
    let mut prefix = None;
    while let Some(mut tag) = decoder.next_tag() {
        if tag.start_el().matches("Prefix") {
            prefix = Some(try_data(&mut tag)?.into_owned());
        }
    }
    Ok(prefix)
}
