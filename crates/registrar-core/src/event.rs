//! Event normalisation: every shape AWS delivers, reduced to "this object in this bucket was
//! created/removed", each object knowing the SQS message it came in (so that failures map
//! back to messages).
//!
//! Documents are read field by field rather than through strict typed structs (such as
//! `aws_lambda_events`'): one odd record must give a reason for that record, not fail the
//! parse of a whole batch. An SQS batch of plain S3 notifications, the hot path, is read in
//! place: names borrow from the event text, and what must be unescaped or decoded is written
//! once into an arena that lives as long as the invocation, so reading a 10,000-record batch
//! makes no per-record heap allocation.

use crate::decode::decode_notification_key_in;
use bumpalo::Bump;
use serde_json::Value;

/// What happened to an object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    Created,
    Removed,
}

/// One object named by an event, with its key decoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ObjectEvent<'a> {
    pub bucket: &'a str,
    pub key: &'a str,
    pub change: Change,
    /// Index of the delivery unit ([`Normalised::messages`]) it came in.
    pub message: usize,
}

/// An object an event names but that the registrar will not act on, with why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ignored<'a> {
    pub bucket: &'a str,
    pub key: &'a str,
    pub reason: String,
    pub message: usize,
}

/// One delivery unit: an SQS message, or the whole event when not from SQS.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Message<'a> {
    /// The SQS `messageId`, the unit of `batchItemFailures`.
    pub id: Option<&'a str>,
    /// Set when the message could not be read at all; it must be retried and dead-lettered.
    pub error: Option<String>,
}

/// An event reduced to messages and the objects they name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Normalised<'a> {
    /// True for SQS events, whose response is `batchItemFailures`.
    pub from_sqs: bool,
    pub messages: Vec<Message<'a>>,
    pub objects: Vec<ObjectEvent<'a>>,
    pub ignored: Vec<Ignored<'a>>,
}

/// Why a whole event is unusable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EventError {
    #[error(
        "not an S3, SNS, SQS or EventBridge S3 event (top-level fields: {0}); see events/ for the accepted shapes"
    )]
    UnknownShape(String),
    #[error("malformed SQS event: {0}")]
    MalformedSqs(String),
    #[error("{0}")]
    Malformed(String),
    #[error("the event is not valid JSON: {0}")]
    NotJson(String),
}

/// How deep envelopes may nest (SQS → SNS → S3 is three); bounds work on hostile input.
const MAX_DEPTH: usize = 4;

/// Reduce any supported event document to messages. Names are copied into `arena`.
pub fn normalise<'a>(doc: &Value, arena: &'a Bump) -> Result<Normalised<'a>, EventError> {
    let mut out = Reader::new(arena);
    if is_sqs_event(doc) {
        let records = doc
            .get("Records")
            .and_then(Value::as_array)
            .ok_or_else(|| EventError::MalformedSqs("`Records` is not an array".to_owned()))?;
        out.from_sqs = true;
        for record in records {
            let id = record.get("messageId").and_then(Value::as_str);
            let body = record.get("body").and_then(Value::as_str);
            let m = out.message(id.map(|id| &*arena.alloc_str(id)));
            out.read_sqs_body(m, body.map(|b| &*arena.alloc_str(b)));
        }
        return Ok(out.finish());
    }
    let m = out.message(None);
    match out.read_document(doc, m, 0) {
        Ok(()) => Ok(out.finish()),
        Err(e) if recognised_shape(doc) => Err(EventError::Malformed(e)),
        Err(_) => Err(EventError::UnknownShape(top_level_fields(doc))),
    }
}

/// Reduce an event document given as text. An SQS batch (up to 10,000 records, megabytes) is
/// read in place, without building a JSON tree of it: that is the difference between a 128 MB
/// function and a larger one. Every other shape goes through [`normalise`].
pub fn normalise_text<'a>(text: &'a str, arena: &'a Bump) -> Result<Normalised<'a>, EventError> {
    if let Ok(batch) = fast::read_batch(text, arena)
        && !batch.is_empty()
        && batch.iter().all(|r| r.event_source == Some("aws:sqs"))
    {
        let mut out = Reader::new(arena);
        out.from_sqs = true;
        out.messages.reserve(batch.len());
        out.objects.reserve(batch.len());
        for record in batch {
            let m = out.message(record.message_id);
            out.read_sqs_body(m, record.body);
        }
        return Ok(out.finish());
    }
    let doc: Value = serde_json::from_str(text).map_err(|e| EventError::NotJson(e.to_string()))?;
    normalise(&doc, arena)
}

/// The event being read: the output, and the arena names are kept in.
struct Reader<'a> {
    arena: &'a Bump,
    from_sqs: bool,
    messages: Vec<Message<'a>>,
    objects: Vec<ObjectEvent<'a>>,
    ignored: Vec<Ignored<'a>>,
}

impl<'a> Reader<'a> {
    fn new(arena: &'a Bump) -> Self {
        Self {
            arena,
            from_sqs: false,
            messages: Vec::new(),
            objects: Vec::new(),
            ignored: Vec::new(),
        }
    }

    fn finish(self) -> Normalised<'a> {
        Normalised {
            from_sqs: self.from_sqs,
            messages: self.messages,
            objects: self.objects,
            ignored: self.ignored,
        }
    }

    fn message(&mut self, id: Option<&'a str>) -> usize {
        self.messages.push(Message { id, error: None });
        self.messages.len() - 1
    }

    /// One SQS record's body: a plain S3 notification is read straight into borrowed fields;
    /// anything else (SNS, EventBridge, test events) takes the general path.
    fn read_sqs_body(&mut self, m: usize, body: Option<&'a str>) {
        let Some(body) = body else {
            self.messages[m].error = Some("SQS record has no `body` string".to_owned());
            return;
        };
        if let Ok(records) = fast::read_notification(body, self.arena)
            && records
                .iter()
                .all(|r| r.event_source.is_none_or(|s| s == "aws:s3"))
        {
            for r in records {
                self.notification_key(m, r.bucket, r.key, r.event_name);
            }
            return;
        }
        let result = serde_json::from_str::<Value>(body)
            .map_err(|e| format!("message body is not JSON: {e}"))
            .and_then(|inner| self.read_document(&inner, m, 1));
        if let Err(e) = result {
            self.messages[m].error = Some(e);
        }
    }

    /// Read one document (S3 notification, test event, SNS envelope or EventBridge event)
    /// into message `m`.
    fn read_document(&mut self, doc: &Value, m: usize, depth: usize) -> Result<(), String> {
        if depth > MAX_DEPTH {
            return Err("envelopes nested too deeply".to_owned());
        }
        if doc.get("Event").and_then(Value::as_str) == Some("s3:TestEvent") {
            return Ok(());
        }
        if let Some(records) = doc.get("Records") {
            let records = records.as_array().ok_or("`Records` is not an array")?;
            for (i, record) in records.iter().enumerate() {
                self.read_record(record, m, depth)
                    .map_err(|e| format!("record {i}: {e}"))?;
            }
            return Ok(());
        }
        if doc.get("Type").and_then(Value::as_str) == Some("Notification") {
            return self.read_embedded(doc.get("Message"), m, depth);
        }
        // A Lambda on-failure destination record (what the dead-letter queue holds in "s3"
        // trigger mode): the event that failed is its request payload.
        if let (Some(payload), Some(_)) = (doc.get("requestPayload"), doc.get("requestContext")) {
            return self.read_document(payload, m, depth + 1);
        }
        if doc.get("detail-type").is_some() {
            return self.read_eventbridge(doc, m);
        }
        Err(format!(
            "not an S3 notification, SNS notification or EventBridge event (fields: {})",
            top_level_fields(doc)
        ))
    }

    /// An SNS `Message` holds the wrapped document as a JSON string.
    fn read_embedded(
        &mut self,
        inner: Option<&Value>,
        m: usize,
        depth: usize,
    ) -> Result<(), String> {
        let text = inner
            .and_then(Value::as_str)
            .ok_or("SNS notification has no `Message` string")?;
        let doc: Value =
            serde_json::from_str(text).map_err(|e| format!("SNS `Message` is not JSON: {e}"))?;
        self.read_document(&doc, m, depth + 1)
    }

    fn read_record(&mut self, record: &Value, m: usize, depth: usize) -> Result<(), String> {
        if let Some(sns) = record.get("Sns") {
            return self.read_embedded(sns.get("Message"), m, depth);
        }
        let source = record.get("eventSource").and_then(Value::as_str);
        if source.is_some_and(|s| s != "aws:s3") {
            return Err(format!("unexpected eventSource `{}`", source.unwrap_or("")));
        }
        let event_name = record
            .get("eventName")
            .and_then(Value::as_str)
            .ok_or("S3 record has no `eventName`")?;
        let s3 = record.get("s3").ok_or("S3 record has no `s3` field")?;
        let bucket = s3
            .pointer("/bucket/name")
            .and_then(Value::as_str)
            .ok_or("S3 record has no `s3.bucket.name`")?;
        let raw_key = s3
            .pointer("/object/key")
            .and_then(Value::as_str)
            .ok_or("S3 record has no `s3.object.key`")?;
        let (bucket, raw_key) = (self.keep(bucket), self.keep(raw_key));
        self.notification_key(m, bucket, raw_key, event_name);
        Ok(())
    }

    fn keep(&self, text: &str) -> &'a str {
        self.arena.alloc_str(text)
    }

    /// An object named by an S3 notification: its key is URL-encoded.
    fn notification_key(&mut self, m: usize, bucket: &'a str, raw_key: &'a str, event_name: &str) {
        match decode_notification_key_in(raw_key, self.arena) {
            Ok(key) => self.push(m, bucket, key, notification_change(event_name), event_name),
            Err(e) => self.ignored.push(Ignored {
                bucket,
                key: raw_key,
                reason: e.to_string(),
                message: m,
            }),
        }
    }

    fn read_eventbridge(&mut self, doc: &Value, m: usize) -> Result<(), String> {
        let detail_type = doc
            .get("detail-type")
            .and_then(Value::as_str)
            .ok_or("`detail-type` is not a string")?;
        if doc.get("source").and_then(Value::as_str) != Some("aws.s3") {
            return Err(format!(
                "EventBridge event from `{}`, not aws.s3",
                doc.get("source").and_then(Value::as_str).unwrap_or("")
            ));
        }
        let bucket = doc
            .pointer("/detail/bucket/name")
            .and_then(Value::as_str)
            .ok_or("EventBridge event has no `detail.bucket.name`")?;
        // EventBridge delivers the key as stored, not URL-encoded.
        let key = doc
            .pointer("/detail/object/key")
            .and_then(Value::as_str)
            .ok_or("EventBridge event has no `detail.object.key`")?;
        let change = match detail_type {
            "Object Created" => Some(Change::Created),
            "Object Deleted" => Some(Change::Removed),
            _ => None,
        };
        let (bucket, key) = (self.keep(bucket), self.keep(key));
        self.push(m, bucket, key, change, detail_type);
        Ok(())
    }

    fn push(
        &mut self,
        m: usize,
        bucket: &'a str,
        key: &'a str,
        change: Option<Change>,
        what: &str,
    ) {
        match change {
            Some(change) => self.objects.push(ObjectEvent {
                bucket,
                key,
                change,
                message: m,
            }),
            None => self.ignored.push(Ignored {
                bucket,
                key,
                reason: format!("event `{what}` neither creates nor removes an object"),
                message: m,
            }),
        }
    }
}

fn notification_change(event_name: &str) -> Option<Change> {
    let name = event_name.strip_prefix("s3:").unwrap_or(event_name);
    if name.starts_with("ObjectCreated:") {
        Some(Change::Created)
    } else if name.starts_with("ObjectRemoved:") || name.starts_with("LifecycleExpiration:") {
        Some(Change::Removed)
    } else {
        None
    }
}

/// The fields of an SQS batch and of an S3 notification the registrar reads, borrowed from
/// the text where it holds them unescaped and written into the arena where it does not (an
/// SQS body always: it is JSON inside a JSON string). Everything else is skipped unread.
mod fast {
    use bumpalo::Bump;
    use serde::de::{
        DeserializeSeed, Deserializer, Error, IgnoredAny, MapAccess, SeqAccess, Visitor,
    };
    use std::fmt;

    pub struct SqsRecord<'a> {
        pub message_id: Option<&'a str>,
        pub body: Option<&'a str>,
        pub event_source: Option<&'a str>,
    }

    pub struct S3Record<'a> {
        pub event_source: Option<&'a str>,
        pub event_name: &'a str,
        pub bucket: &'a str,
        pub key: &'a str,
    }

    pub fn read_batch<'a>(
        text: &'a str,
        arena: &'a Bump,
    ) -> serde_json::Result<Vec<SqsRecord<'a>>> {
        read(text, Records(arena, Kind::Sqs)).map(|r| match r {
            List::Sqs(v) => v,
            List::S3(_) => unreachable!("asked for SQS records"),
        })
    }

    pub fn read_notification<'a>(
        text: &'a str,
        arena: &'a Bump,
    ) -> serde_json::Result<Vec<S3Record<'a>>> {
        read(text, Records(arena, Kind::S3)).map(|r| match r {
            List::S3(v) => v,
            List::Sqs(_) => unreachable!("asked for S3 records"),
        })
    }

    fn read<'a>(text: &'a str, records: Records<'a>) -> serde_json::Result<List<'a>> {
        let mut de = serde_json::Deserializer::from_str(text);
        let list = de.deserialize_map(records)?;
        de.end()?;
        Ok(list)
    }

    #[derive(Clone, Copy)]
    enum Kind {
        Sqs,
        S3,
    }

    enum List<'a> {
        Sqs(Vec<SqsRecord<'a>>),
        S3(Vec<S3Record<'a>>),
    }

    /// A string (or null): borrowed from the text when it has no escapes, else written into
    /// the arena.
    #[derive(Clone, Copy)]
    struct Str<'a>(&'a Bump);

    impl<'de: 'a, 'a> DeserializeSeed<'de> for Str<'a> {
        type Value = Option<&'a str>;
        fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
            d.deserialize_any(self)
        }
    }

    impl<'de: 'a, 'a> Visitor<'de> for Str<'a> {
        type Value = Option<&'a str>;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("a string")
        }
        fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Self::Value, E> {
            Ok(Some(v))
        }
        fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
            Ok(Some(self.0.alloc_str(v)))
        }
        fn visit_unit<E>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
    }

    fn required<'a, E: Error>(v: Option<&'a str>, name: &'static str) -> Result<&'a str, E> {
        v.ok_or_else(|| E::missing_field(name))
    }

    /// `{"Records": [...]}`; other top-level fields are skipped.
    struct Records<'a>(&'a Bump, Kind);

    impl<'de: 'a, 'a> Visitor<'de> for Records<'a> {
        type Value = List<'a>;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("an object with `Records`")
        }
        fn visit_map<M: MapAccess<'de>>(self, mut map: M) -> Result<List<'a>, M::Error> {
            let mut list = None;
            while let Some(key) = map.next_key::<&str>()? {
                if key == "Records" && list.is_none() {
                    list = Some(map.next_value_seed(RecordList(self.0, self.1))?);
                } else {
                    map.next_value::<IgnoredAny>()?;
                }
            }
            list.ok_or_else(|| M::Error::missing_field("Records"))
        }
    }

    struct RecordList<'a>(&'a Bump, Kind);

    impl<'de: 'a, 'a> DeserializeSeed<'de> for RecordList<'a> {
        type Value = List<'a>;
        fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<List<'a>, D::Error> {
            d.deserialize_seq(self)
        }
    }

    impl<'de: 'a, 'a> Visitor<'de> for RecordList<'a> {
        type Value = List<'a>;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("an array of records")
        }
        fn visit_seq<S: SeqAccess<'de>>(self, mut seq: S) -> Result<List<'a>, S::Error> {
            let hint = seq.size_hint().unwrap_or(0);
            match self.1 {
                Kind::Sqs => {
                    let mut v = Vec::with_capacity(hint);
                    while let Some(r) = seq.next_element_seed(SqsSeed(self.0))? {
                        v.push(r);
                    }
                    Ok(List::Sqs(v))
                }
                Kind::S3 => {
                    let mut v = Vec::with_capacity(hint);
                    while let Some(r) = seq.next_element_seed(S3Seed(self.0))? {
                        v.push(r);
                    }
                    Ok(List::S3(v))
                }
            }
        }
    }

    struct SqsSeed<'a>(&'a Bump);

    impl<'de: 'a, 'a> DeserializeSeed<'de> for SqsSeed<'a> {
        type Value = SqsRecord<'a>;
        fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<SqsRecord<'a>, D::Error> {
            d.deserialize_map(self)
        }
    }

    impl<'de: 'a, 'a> Visitor<'de> for SqsSeed<'a> {
        type Value = SqsRecord<'a>;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("an SQS record")
        }
        fn visit_map<M: MapAccess<'de>>(self, mut map: M) -> Result<SqsRecord<'a>, M::Error> {
            let s = Str(self.0);
            let mut r = SqsRecord {
                message_id: None,
                body: None,
                event_source: None,
            };
            while let Some(key) = map.next_key::<&str>()? {
                match key {
                    "messageId" => r.message_id = map.next_value_seed(s)?,
                    "body" => r.body = map.next_value_seed(s)?,
                    "eventSource" => r.event_source = map.next_value_seed(s)?,
                    _ => {
                        map.next_value::<IgnoredAny>()?;
                    }
                }
            }
            Ok(r)
        }
    }

    struct S3Seed<'a>(&'a Bump);

    impl<'de: 'a, 'a> DeserializeSeed<'de> for S3Seed<'a> {
        type Value = S3Record<'a>;
        fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<S3Record<'a>, D::Error> {
            d.deserialize_map(self)
        }
    }

    impl<'de: 'a, 'a> Visitor<'de> for S3Seed<'a> {
        type Value = S3Record<'a>;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("an S3 notification record")
        }
        fn visit_map<M: MapAccess<'de>>(self, mut map: M) -> Result<S3Record<'a>, M::Error> {
            let s = Str(self.0);
            let (mut event_source, mut event_name, mut entity) = (None, None, None);
            while let Some(key) = map.next_key::<&str>()? {
                match key {
                    "eventSource" => event_source = map.next_value_seed(s)?,
                    "eventName" => event_name = map.next_value_seed(s)?,
                    "s3" => entity = Some(map.next_value_seed(Entity(self.0))?),
                    _ => {
                        map.next_value::<IgnoredAny>()?;
                    }
                }
            }
            let (bucket, key) = entity.ok_or_else(|| M::Error::missing_field("s3"))?;
            Ok(S3Record {
                event_source,
                event_name: required(event_name, "eventName")?,
                bucket,
                key,
            })
        }
    }

    /// `"s3": {"bucket": {"name": ..}, "object": {"key": ..}}` → (bucket, key).
    struct Entity<'a>(&'a Bump);

    impl<'de: 'a, 'a> DeserializeSeed<'de> for Entity<'a> {
        type Value = (&'a str, &'a str);
        fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
            d.deserialize_map(self)
        }
    }

    impl<'de: 'a, 'a> Visitor<'de> for Entity<'a> {
        type Value = (&'a str, &'a str);
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("the `s3` entity")
        }
        fn visit_map<M: MapAccess<'de>>(self, mut map: M) -> Result<Self::Value, M::Error> {
            let (mut bucket, mut key) = (None, None);
            while let Some(field) = map.next_key::<&str>()? {
                match field {
                    "bucket" => bucket = map.next_value_seed(Field(self.0, "name"))?,
                    "object" => key = map.next_value_seed(Field(self.0, "key"))?,
                    _ => {
                        map.next_value::<IgnoredAny>()?;
                    }
                }
            }
            Ok((required(bucket, "bucket")?, required(key, "object")?))
        }
    }

    /// One string field of a small object (`{"name": ..}`, `{"key": ..}`).
    struct Field<'a>(&'a Bump, &'static str);

    impl<'de: 'a, 'a> DeserializeSeed<'de> for Field<'a> {
        type Value = Option<&'a str>;
        fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
            d.deserialize_map(self)
        }
    }

    impl<'de: 'a, 'a> Visitor<'de> for Field<'a> {
        type Value = Option<&'a str>;
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
}

fn is_sqs_event(doc: &Value) -> bool {
    first_record(doc)
        .and_then(|r| r.get("eventSource"))
        .and_then(Value::as_str)
        == Some("aws:sqs")
}

fn first_record(doc: &Value) -> Option<&Value> {
    doc.get("Records")?.as_array()?.first()
}

fn recognised_shape(doc: &Value) -> bool {
    doc.get("Records").is_some()
        || doc.get("requestPayload").is_some()
        || doc.get("Event").is_some()
        || doc.get("detail-type").is_some()
        || doc.get("Type").is_some()
}

fn top_level_fields(doc: &Value) -> String {
    match doc.as_object() {
        Some(map) if !map.is_empty() => map.keys().cloned().collect::<Vec<_>>().join(", "),
        Some(_) => "none".to_owned(),
        None => format!("not a JSON object but {}", json_kind(doc)),
    }
}

fn json_kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    thread_local! {
        static ARENA: &'static Bump = Box::leak(Box::new(Bump::new()));
    }

    /// Tests keep what they normalise for the whole run: a leaked arena per thread.
    fn arena() -> &'static Bump {
        ARENA.with(|a| *a)
    }

    fn norm(doc: &Value) -> Result<Normalised<'static>, EventError> {
        normalise(doc, arena())
    }

    fn norm_text(text: &str) -> Result<Normalised<'static>, EventError> {
        normalise_text(arena().alloc_str(text), arena())
    }

    fn s3_record(name: &str, bucket: &str, key: &str) -> Value {
        json!({"eventSource": "aws:s3", "eventName": name,
               "s3": {"bucket": {"name": bucket}, "object": {"key": key}}})
    }

    #[test]
    fn s3_notification_keys_are_decoded() {
        let doc = json!({"Records": [s3_record("ObjectCreated:Put", "b", "t/a+b%3D1/f")]});
        let n = norm(&doc).unwrap();
        assert!(!n.from_sqs);
        assert_eq!(n.objects[0].key, "t/a b=1/f");
        assert_eq!(n.objects[0].change, Change::Created);
    }

    #[test]
    fn a_failure_record_gives_the_event_that_failed() {
        let doc = json!({"version": "1.0", "requestContext": {"condition": "RetriesExhausted"},
                         "requestPayload": {"Records": [s3_record("ObjectCreated:Put", "b", "t/k")]},
                         "responsePayload": {"errorMessage": "boom"}});
        assert_eq!(norm(&doc).unwrap().objects[0].key, "t/k");
    }

    #[test]
    fn removal_events_are_removals() {
        let doc = json!({"Records": [s3_record("ObjectRemoved:Delete", "b", "k")]});
        assert_eq!(norm(&doc).unwrap().objects[0].change, Change::Removed);
    }

    #[test]
    fn test_event_is_a_no_op() {
        let doc = json!({"Service": "Amazon S3", "Event": "s3:TestEvent", "Bucket": "b"});
        let n = norm(&doc).unwrap();
        assert!(n.objects.is_empty());
        assert!(n.messages[0].error.is_none());
    }

    #[test]
    fn other_s3_events_are_ignored_with_a_reason() {
        let doc = json!({"Records": [s3_record("ObjectTagging:Put", "b", "k")]});
        let n = norm(&doc).unwrap();
        assert!(n.objects.is_empty());
        assert!(n.ignored[0].reason.contains("ObjectTagging:Put"));
    }

    #[test]
    fn eventbridge_keys_are_not_decoded() {
        let doc = json!({"version": "0", "detail-type": "Object Created", "source": "aws.s3",
                         "detail": {"bucket": {"name": "b"}, "object": {"key": "t/a+b"}}});
        assert_eq!(norm(&doc).unwrap().objects[0].key, "t/a+b");
    }

    #[test]
    fn sqs_body_that_is_not_json_marks_only_its_message() {
        let good = json!({"Records": [s3_record("ObjectCreated:Put", "b", "k")]}).to_string();
        let doc = json!({"Records": [
            {"eventSource": "aws:sqs", "messageId": "m1", "body": good},
            {"eventSource": "aws:sqs", "messageId": "m2", "body": "{not json"}
        ]});
        let n = norm(&doc).unwrap();
        assert!(n.from_sqs);
        assert!(n.messages[0].error.is_none());
        assert_eq!(n.objects.len(), 1);
        assert_eq!(n.objects[0].message, 0);
        assert!(n.messages[1].error.as_deref().unwrap().contains("not JSON"));
    }

    #[test]
    fn text_and_tree_give_the_same_messages() {
        let body = json!({"Records": [s3_record("ObjectCreated:Put", "b", "t/a+b")]}).to_string();
        let doc = json!({"Records": [
            {"eventSource": "aws:sqs", "messageId": "m1", "body": body},
            {"eventSource": "aws:sqs", "messageId": "m2", "body": "{not json"},
            {"eventSource": "aws:sqs", "messageId": "m3", "body": json!({"Event": "s3:TestEvent"}).to_string()}
        ]});
        assert_eq!(norm_text(&doc.to_string()).unwrap(), norm(&doc).unwrap());
    }

    #[test]
    fn text_that_is_not_json_is_an_error() {
        assert!(matches!(
            norm_text("{\"Records\": ["),
            Err(EventError::NotJson(_))
        ));
    }

    #[test]
    fn unknown_document_is_an_error_naming_its_fields() {
        let err = norm(&json!({"hello": 1})).unwrap_err();
        assert!(err.to_string().contains("hello"));
    }

    #[test]
    fn invalid_utf8_key_is_ignored_with_a_reason() {
        let doc = json!({"Records": [s3_record("ObjectCreated:Put", "b", "t/%FF")]});
        let n = norm(&doc).unwrap();
        assert!(n.objects.is_empty());
        assert!(n.ignored[0].reason.contains("UTF-8"));
    }

    mod properties {
        use super::*;
        use proptest::prelude::*;

        fn json() -> impl Strategy<Value = Value> {
            let leaf = prop_oneof![
                Just(Value::Null),
                any::<bool>().prop_map(Value::Bool),
                any::<i64>().prop_map(Value::from),
                prop_oneof![
                    Just("aws:sqs".to_owned()),
                    Just("aws:s3".to_owned()),
                    Just("Notification".to_owned()),
                    Just("s3:TestEvent".to_owned()),
                    Just("ObjectCreated:Put".to_owned()),
                    ".{0,10}"
                ]
                .prop_map(Value::String),
            ];
            leaf.prop_recursive(5, 64, 6, |inner| {
                let key = prop_oneof![
                    Just("Records".to_owned()),
                    Just("eventSource".to_owned()),
                    Just("eventName".to_owned()),
                    Just("body".to_owned()),
                    Just("s3".to_owned()),
                    Just("Sns".to_owned()),
                    Just("Message".to_owned()),
                    Just("Type".to_owned()),
                    Just("detail-type".to_owned()),
                    Just("detail".to_owned()),
                    Just("Event".to_owned()),
                    ".{0,6}"
                ];
                prop_oneof![
                    prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
                    prop::collection::btree_map(key, inner, 0..5)
                        .prop_map(|m| Value::Object(m.into_iter().collect())),
                ]
            })
        }

        proptest! {
            #[test]
            fn arbitrary_json_never_panics(doc in json()) {
                let _ = norm(&doc);
                let _ = norm_text(&doc.to_string());
            }

            #[test]
            fn arbitrary_text_never_panics(
                text in prop_oneof![
                    "\\PC{0,200}",
                    prop::collection::vec(any::<u8>(), 0..200)
                        .prop_map(|b| String::from_utf8_lossy(&b).into_owned()),
                    json().prop_map(|v| format!("{{\"Records\": [{{\"eventSource\": \"aws:sqs\", \"body\": {}}}]}}", serde_json::to_string(&v.to_string()).unwrap())),
                ]
            ) {
                let _ = norm_text(&text);
            }

            #[test]
            fn arbitrary_sqs_bodies_never_panic_and_keep_their_message(body in prop_oneof![
                json().prop_map(|v| v.to_string()),
                ".{0,40}"
            ]) {
                let doc = json!({"Records": [{"eventSource": "aws:sqs", "messageId": "m", "body": body}]});
                let n = norm(&doc).unwrap();
                prop_assert_eq!(n.messages.len(), 1);
                prop_assert_eq!(n.messages[0].id, Some("m"));
            }
        }
    }
}
