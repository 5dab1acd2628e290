//! The fields of an SQS batch and of an S3 notification the registrar reads, in one pass:
//! names are borrowed from the text where it holds them unescaped, bodies are read as their
//! records are met (from serde's scratch buffer when they had to be unescaped, which an SQS
//! body always has: it is JSON inside a JSON string), and everything else is skipped unread.
use super::{Reader, borrow, copy};
use bumpalo::Bump;
use serde::de::{DeserializeSeed, Deserializer, Error, IgnoredAny, MapAccess, SeqAccess, Visitor};
use std::fmt;

pub struct S3Record<'b> {
    pub event_name: &'b str,
    pub bucket: &'b str,
    pub key: &'b str,
    pub event_time: Option<&'b str>,
    /// `versionId`, else `eTag`: which write of the key this is.
    pub version: Option<&'b str>,
}

/// Read an SQS batch into `out`. `Ok(false)` when a record is not from SQS (the event is
/// some other shape, which the general path reads).
pub fn read_batch<'a>(text: &'a str, out: &mut Reader<'a>) -> serde_json::Result<bool> {
    let mut de = serde_json::Deserializer::from_str(text);
    let all_sqs = de.deserialize_map(Records(Batch { out, all_sqs: true }))?;
    de.end()?;
    Ok(all_sqs)
}

/// Read a plain S3 notification's records, each handed to `each` once all of it has been
/// read and found to be S3's. An error (another shape, another source) means the general
/// path must read the body.
pub fn read_notification<'b>(
    text: &'b str,
    arena: &'b Bump,
    each: impl FnMut(S3Record<'b>),
) -> serde_json::Result<()> {
    let mut de = serde_json::Deserializer::from_str(text);
    de.deserialize_map(Records(Notification { arena, each }))?;
    de.end()
}

/// What a `{"Records": [...]}` document's records are read into.
trait RecordSink<'de> {
    type Done;
    fn records<S: SeqAccess<'de>>(self, seq: S) -> Result<Self::Done, S::Error>;
}

/// `{"Records": [...]}`; other top-level fields are skipped.
struct Records<T>(T);

impl<'de, T: RecordSink<'de>> Visitor<'de> for Records<T> {
    type Value = T::Done;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an object with `Records`")
    }
    fn visit_map<M: MapAccess<'de>>(self, mut map: M) -> Result<T::Done, M::Error> {
        let mut sink = Some(self.0);
        let mut done = None;
        while let Some(key) = map.next_key::<&str>()? {
            match (key, sink.take()) {
                ("Records", Some(s)) => done = Some(map.next_value_seed(List(s))?),
                ("Records", None) => return Err(M::Error::duplicate_field("Records")),
                (_, s) => {
                    sink = s;
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        done.ok_or_else(|| M::Error::missing_field("Records"))
    }
}

struct List<T>(T);

impl<'de, T: RecordSink<'de>> DeserializeSeed<'de> for List<T> {
    type Value = T::Done;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<T::Done, D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de, T: RecordSink<'de>> Visitor<'de> for List<T> {
    type Value = T::Done;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an array of records")
    }
    fn visit_seq<S: SeqAccess<'de>>(self, seq: S) -> Result<T::Done, S::Error> {
        self.0.records(seq)
    }
}

struct Batch<'r, 'a> {
    out: &'r mut Reader<'a>,
    all_sqs: bool,
}

impl<'de: 'a, 'a> RecordSink<'de> for Batch<'_, 'a> {
    type Done = bool;
    fn records<S: SeqAccess<'de>>(mut self, mut seq: S) -> Result<bool, S::Error> {
        while let Some(sqs) = seq.next_element_seed(SqsRecord(self.out))? {
            self.all_sqs &= sqs;
        }
        Ok(self.all_sqs)
    }
}

/// One SQS record, read into a new message of `out`; says whether it came from SQS.
struct SqsRecord<'r, 'a>(&'r mut Reader<'a>);

impl<'de: 'a, 'a> DeserializeSeed<'de> for SqsRecord<'_, 'a> {
    type Value = bool;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<bool, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de: 'a, 'a> Visitor<'de> for SqsRecord<'_, 'a> {
    type Value = bool;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an SQS record")
    }
    fn visit_map<M: MapAccess<'de>>(self, mut map: M) -> Result<bool, M::Error> {
        let out = self.0;
        let m = out.message(None);
        let (mut source, mut body) = (None, false);
        while let Some(key) = map.next_key::<&str>()? {
            match key {
                "messageId" => out.messages[m].id = map.next_value_seed(Str(out.arena))?,
                "eventSource" => source = map.next_value_seed(Str(out.arena))?,
                // A repeated body would be read twice; JSON readers keep the last. Let the
                // general path read such a record.
                "body" if body => return Err(M::Error::duplicate_field("body")),
                "body" => body = map.next_value_seed(Body { out: &mut *out, m })?,
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        if !body {
            out.no_body(m);
        }
        Ok(source == Some("aws:sqs"))
    }
}

/// An SQS body, read as soon as it is met. Says whether there was one.
struct Body<'r, 'a> {
    out: &'r mut Reader<'a>,
    m: usize,
}

impl<'de: 'a, 'a> DeserializeSeed<'de> for Body<'_, 'a> {
    type Value = bool;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<bool, D::Error> {
        d.deserialize_option(self)
    }
}

impl<'de: 'a, 'a> Visitor<'de> for Body<'_, 'a> {
    type Value = bool;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a string")
    }
    fn visit_none<E>(self) -> Result<bool, E> {
        Ok(false)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<bool, D::Error> {
        d.deserialize_str(self)
    }
    fn visit_borrowed_str<E>(self, v: &'de str) -> Result<bool, E> {
        self.out.read_sqs_body(self.m, v, borrow);
        Ok(true)
    }
    fn visit_str<E>(self, v: &str) -> Result<bool, E> {
        self.out.read_sqs_body(self.m, v, copy);
        Ok(true)
    }
}

struct Notification<'b, F> {
    arena: &'b Bump,
    each: F,
}

impl<'de: 'b, 'b, F: FnMut(S3Record<'b>)> RecordSink<'de> for Notification<'b, F> {
    type Done = ();
    fn records<S: SeqAccess<'de>>(mut self, mut seq: S) -> Result<(), S::Error> {
        // Records are handed on only once every one of them was read as S3's: a body that
        // turns out to be another shape is read again by the general path.
        // Nearly every notification holds one record: it waits without a heap allocation.
        let mut first = None;
        let mut more = Vec::new();
        while let Some(r) = seq.next_element_seed(S3Seed(self.arena))? {
            match first {
                None => first = Some(r),
                Some(_) => more.push(r),
            }
        }
        first.into_iter().chain(more).for_each(&mut self.each);
        Ok(())
    }
}

/// A string (or null): borrowed from the text when it has no escapes, else written into
/// the arena.
#[derive(Clone, Copy)]
struct Str<'b>(&'b Bump);

impl<'de: 'b, 'b> DeserializeSeed<'de> for Str<'b> {
    type Value = Option<&'b str>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_option(self)
    }
}

impl<'de: 'b, 'b> Visitor<'de> for Str<'b> {
    type Value = Option<&'b str>;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a string")
    }
    fn visit_none<E>(self) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_str(StrValue(self.0)).map(Some)
    }
}

struct StrValue<'b>(&'b Bump);

impl<'de: 'b, 'b> Visitor<'de> for StrValue<'b> {
    type Value = &'b str;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a string")
    }
    fn visit_borrowed_str<E>(self, v: &'de str) -> Result<&'b str, E> {
        Ok(v)
    }
    fn visit_str<E>(self, v: &str) -> Result<&'b str, E> {
        Ok(self.0.alloc_str(v))
    }
}

fn required<'b, E: Error>(v: Option<&'b str>, name: &'static str) -> Result<&'b str, E> {
    v.ok_or_else(|| E::missing_field(name))
}

struct S3Seed<'b>(&'b Bump);

impl<'de: 'b, 'b> DeserializeSeed<'de> for S3Seed<'b> {
    type Value = S3Record<'b>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<S3Record<'b>, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de: 'b, 'b> Visitor<'de> for S3Seed<'b> {
    type Value = S3Record<'b>;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an S3 notification record")
    }
    fn visit_map<M: MapAccess<'de>>(self, mut map: M) -> Result<S3Record<'b>, M::Error> {
        let s = Str(self.0);
        let (mut source, mut event_name, mut entity, mut time) = (None, None, None, None);
        while let Some(key) = map.next_key::<&str>()? {
            match key {
                "eventSource" => source = map.next_value_seed(s)?,
                "eventName" => event_name = map.next_value_seed(s)?,
                "eventTime" => time = map.next_value_seed(s)?,
                "s3" => entity = Some(map.next_value_seed(Entity(self.0))?),
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        if source.is_some_and(|s| s != "aws:s3") {
            return Err(M::Error::custom("not an S3 record"));
        }
        let (bucket, (key, version)) = entity.ok_or_else(|| M::Error::missing_field("s3"))?;
        Ok(S3Record {
            event_name: required(event_name, "eventName")?,
            bucket,
            key,
            event_time: time,
            version,
        })
    }
}

/// `"s3": {"bucket": {"name": ..}, "object": {"key": .., "versionId"/"eTag": ..}}` →
/// (bucket, (key, version)).
struct Entity<'b>(&'b Bump);

type Named<'b> = (&'b str, (&'b str, Option<&'b str>));

impl<'de: 'b, 'b> DeserializeSeed<'de> for Entity<'b> {
    type Value = Named<'b>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de: 'b, 'b> Visitor<'de> for Entity<'b> {
    type Value = Named<'b>;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("the `s3` entity")
    }
    fn visit_map<M: MapAccess<'de>>(self, mut map: M) -> Result<Self::Value, M::Error> {
        let (mut bucket, mut object) = (None, None);
        while let Some(field) = map.next_key::<&str>()? {
            match field {
                "bucket" => bucket = map.next_value_seed(Field(self.0, "name"))?,
                "object" => object = Some(map.next_value_seed(ObjectSeed(self.0))?),
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        let (key, version) = object.ok_or_else(|| M::Error::missing_field("object"))?;
        Ok((
            required(bucket, "bucket")?,
            (required(key, "object")?, version),
        ))
    }
}

/// `"object": {"key": .., "versionId": .., "eTag": ..}` → (key, versionId else eTag).
struct ObjectSeed<'b>(&'b Bump);

impl<'de: 'b, 'b> DeserializeSeed<'de> for ObjectSeed<'b> {
    type Value = (Option<&'b str>, Option<&'b str>);
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de: 'b, 'b> Visitor<'de> for ObjectSeed<'b> {
    type Value = (Option<&'b str>, Option<&'b str>);
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an object with `key`")
    }
    fn visit_map<M: MapAccess<'de>>(self, mut map: M) -> Result<Self::Value, M::Error> {
        let s = Str(self.0);
        let (mut key, mut version, mut etag) = (None, None, None);
        while let Some(field) = map.next_key::<&str>()? {
            match field {
                "key" => key = map.next_value_seed(s)?,
                "versionId" => version = map.next_value_seed(s)?,
                "eTag" => etag = map.next_value_seed(s)?,
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok((key, version.filter(|v| !v.is_empty()).or(etag)))
    }
}

/// One string field of a small object (`{"name": ..}`, `{"key": ..}`).
struct Field<'b>(&'b Bump, &'static str);

impl<'de: 'b, 'b> DeserializeSeed<'de> for Field<'b> {
    type Value = Option<&'b str>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de: 'b, 'b> Visitor<'de> for Field<'b> {
    type Value = Option<&'b str>;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "an object with `{}`", self.1)
    }
    fn visit_map<M: MapAccess<'de>>(self, mut map: M) -> Result<Self::Value, M::Error> {
        let mut value = None;
        while let Some(field) = map.next_key::<&str>()? {
            if field == self.1 {
                value = map.next_value_seed(Str(self.0))?;
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok(value)
    }
}
