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

use crate::decode::{decode_notification_key_in, needs_decoding};
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
    /// When S3 says it happened, as the event has it (`eventTime` of an S3 record, `time` of
    /// an EventBridge event): read only for the partitions created, to say how fresh they
    /// are ([`crate::time::parse`]).
    pub time: Option<&'a str>,
    /// Which write of the key this is: its `versionId`, else its `eTag` (read for completion
    /// markers, whose events are told apart by it).
    pub version: Option<&'a str>,
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
    /// What in the message could not be read: the whole message, or single records of it
    /// (the other records are read all the same). A message with an error must come back:
    /// retried, and finally dead-lettered where a person sees it.
    pub errors: Vec<String>,
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
            let m = out.message(id.map(|id| &*arena.alloc_str(id)));
            match record.get("body").and_then(Value::as_str) {
                Some(body) => out.read_sqs_body(m, body, copy),
                None => out.no_body(m),
            }
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
/// read in one pass over the text, without building a JSON tree of it and without keeping
/// its bodies: each body is read as its record is, and only the names the objects need are
/// kept. Every other shape goes through [`normalise`].
pub fn normalise_text<'a>(text: &'a str, arena: &'a Bump) -> Result<Normalised<'a>, EventError> {
    let mut out = Reader::new(arena);
    if let Ok(true) = fast::read_batch(text, &mut out)
        && !out.messages.is_empty()
    {
        out.from_sqs = true;
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
        self.messages.push(Message {
            id,
            errors: Vec::new(),
        });
        self.messages.len() - 1
    }

    fn no_body(&mut self, m: usize) {
        self.messages[m]
            .errors
            .push("SQS record has no `body` string".to_owned());
    }

    /// One SQS record's body: a plain S3 notification is read straight into its fields;
    /// anything else (SNS, EventBridge, test events) takes the general path. `keep` makes a
    /// name of the body last as long as the event: the identity when the body is borrowed
    /// from the event text, a copy into the arena when it was unescaped into a scratch buffer.
    fn read_sqs_body<'b>(&mut self, m: usize, body: &'b str, keep: fn(&'a Bump, &'b str) -> &'a str)
    where
        'a: 'b,
    {
        let (objects, ignored) = (self.objects.len(), self.ignored.len());
        let arena = self.arena;
        let fast = fast::read_notification(body, arena, |r| {
            let bucket = self.keep_bucket(r.bucket, keep);
            let time = r.event_time.map(|t| keep(arena, t));
            let version = r.version.map(|v| keep(arena, v));
            self.notification_key(m, bucket, r.key, r.event_name, (time, version), keep);
        });
        if fast.is_ok() {
            return;
        }
        self.objects.truncate(objects);
        self.ignored.truncate(ignored);
        let result = serde_json::from_str::<Value>(body)
            .map_err(|e| format!("message body is not JSON: {e}"))
            .and_then(|inner| self.read_document(&inner, m, 1));
        if let Err(e) = result {
            self.messages[m].errors.push(e);
        }
    }

    /// A bucket name: batches name one bucket thousands of times, kept once.
    fn keep_bucket<'b>(
        &mut self,
        bucket: &'b str,
        keep: fn(&'a Bump, &'b str) -> &'a str,
    ) -> &'a str {
        match self.objects.last() {
            Some(o) if o.bucket == bucket => o.bucket,
            _ => keep(self.arena, bucket),
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
            // Every record on its own: one that cannot be read fails its message, and the
            // others are read all the same.
            for (i, record) in records.iter().enumerate() {
                if let Err(e) = self.read_record(record, m, depth) {
                    self.messages[m].errors.push(format!("record {i}: {e}"));
                }
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
        let bucket = self.keep(bucket);
        let time = record
            .get("eventTime")
            .and_then(Value::as_str)
            .map(|t| self.keep(t));
        let version = s3
            .pointer("/object/versionId")
            .and_then(Value::as_str)
            .filter(|v| !v.is_empty())
            .or_else(|| s3.pointer("/object/eTag").and_then(Value::as_str))
            .map(|v| self.keep(v));
        self.notification_key(m, bucket, raw_key, event_name, (time, version), copy);
        Ok(())
    }

    fn keep(&self, text: &str) -> &'a str {
        self.arena.alloc_str(text)
    }

    /// An object named by an S3 notification: its key is URL-encoded.
    fn notification_key<'b>(
        &mut self,
        m: usize,
        bucket: &'a str,
        raw_key: &'b str,
        event_name: &str,
        (time, version): (Option<&'a str>, Option<&'a str>),
        keep: fn(&'a Bump, &'b str) -> &'a str,
    ) {
        let decoded = if needs_decoding(raw_key) {
            decode_notification_key_in(raw_key, self.arena)
        } else {
            Ok(keep(self.arena, raw_key))
        };
        match decoded {
            Ok(key) => {
                let change = notification_change(event_name);
                self.push(m, bucket, key, change, event_name, (time, version))
            }
            Err(e) => {
                let key = keep(self.arena, raw_key);
                self.ignored.push(Ignored {
                    bucket,
                    key,
                    reason: e.to_string(),
                    message: m,
                })
            }
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
        let version = doc
            .pointer("/detail/object/version-id")
            .and_then(Value::as_str)
            .filter(|v| !v.is_empty())
            .or_else(|| doc.pointer("/detail/object/etag").and_then(Value::as_str))
            .map(|v| self.keep(v));
        // EventBridge's `time` is an RFC 3339 string; the emulator sends epoch seconds.
        let time = match doc.get("time") {
            Some(Value::String(t)) => Some(self.keep(t)),
            Some(Value::Number(n)) => Some(self.keep(&n.to_string())),
            _ => None,
        };
        self.push(m, bucket, key, change, detail_type, (time, version));
        Ok(())
    }

    fn push(
        &mut self,
        m: usize,
        bucket: &'a str,
        key: &'a str,
        change: Option<Change>,
        what: &str,
        (time, version): (Option<&'a str>, Option<&'a str>),
    ) {
        match change {
            Some(change) => self.objects.push(ObjectEvent {
                bucket,
                key,
                change,
                message: m,
                time,
                version,
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

/// A name that already lives as long as the event.
fn borrow<'a>(_: &'a Bump, text: &'a str) -> &'a str {
    text
}

/// A name copied into the event's arena.
fn copy<'a>(arena: &'a Bump, text: &str) -> &'a str {
    arena.alloc_str(text)
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

mod fast;

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
        assert!(n.messages[0].errors.is_empty());
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
        assert!(n.messages[0].errors.is_empty());
        assert_eq!(n.objects.len(), 1);
        assert_eq!(n.objects[0].message, 0);
        assert!(n.messages[1].errors[0].contains("not JSON"));
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

        /// A record as S3 writes it, for `key` (URL-safe, so it reads back as itself).
        fn good_record(key: &str) -> Value {
            json!({"eventVersion": "2.1", "eventSource": "aws:s3", "awsRegion": "us-east-1",
                   "eventTime": "2026-11-25T09:15:42.123Z", "eventName": "ObjectCreated:Put",
                   "s3": {"bucket": {"name": "b"}, "object": {"key": key, "size": 1}}})
        }

        /// Records broken in each way a record can be.
        fn bad_record() -> impl Strategy<Value = Value> + Clone {
            prop_oneof![
                Just(json!({"eventSource": "aws:s3", "eventName": "ObjectCreated:Put"})),
                Just(
                    json!({"eventSource": "aws:s3", "eventName": "ObjectCreated:Put",
                            "s3": {"bucket": {"name": "b"}}})
                ),
                Just(
                    json!({"eventSource": "aws:s3", "eventName": "ObjectCreated:Put",
                            "s3": {"bucket": {"name": "b"}, "object": {"key": 7}}})
                ),
                Just(
                    json!({"eventSource": "aws:s3", "eventName": "ObjectCreated:Put",
                            "s3": {"bucket": {"name": null}, "object": {"key": "k"}}})
                ),
                Just(json!({"eventSource": "aws:dynamodb", "eventName": "INSERT"})),
                Just(
                    json!({"eventSource": "aws:s3", "s3": {"bucket": {"name": "b"},
                            "object": {"key": "k"}}})
                ),
                Just(json!("not a record")),
                Just(json!(null)),
            ]
        }

        /// A record, good (with its key) or broken (`None`).
        fn record() -> impl Strategy<Value = (Value, Option<String>)> + Clone {
            prop_oneof![
                "[a-z]{1,3}/[a-z0-9=]{1,5}/[a-z]{1,4}".prop_map(|k| (good_record(&k), Some(k))),
                bad_record().prop_map(|r| (r, None)),
            ]
        }

        /// The objects and the errors an event's records must give, per message.
        #[derive(Debug, Default)]
        struct Expected {
            keys: Vec<(usize, String)>,
            errors: Vec<usize>,
        }

        /// An event of every shape mixing good and broken records: direct S3, SNS, an SQS
        /// batch whose bodies are S3 notifications, SNS envelopes or broken text.
        fn mixed_event() -> impl Strategy<Value = (Value, Expected)> {
            let records = prop::collection::vec(record(), 1..6);
            prop_oneof![
                records.clone().prop_map(|rs| {
                    let mut e = Expected { errors: vec![0], ..Expected::default() };
                    for (_, k) in &rs {
                        match k {
                            Some(k) => e.keys.push((0, k.clone())),
                            None => e.errors[0] += 1,
                        }
                    }
                    (json!({"Records": rs.into_iter().map(|r| r.0).collect::<Vec<_>>()}), e)
                }),
                records.clone().prop_map(|rs| {
                    let mut e = Expected { errors: vec![0], ..Expected::default() };
                    let mut sns = Vec::new();
                    for (r, k) in rs {
                        match k {
                            Some(k) => e.keys.push((0, k)),
                            None => e.errors[0] += 1,
                        }
                        let message = json!({"Records": [r]}).to_string();
                        sns.push(json!({"EventSource": "aws:sns", "Sns": {"Type": "Notification", "Message": message}}));
                    }
                    (json!({"Records": sns}), e)
                }),
                prop::collection::vec(prop_oneof![
                    records.clone().prop_map(|rs| (true, rs)),
                    records.prop_map(|rs| (false, rs)),
                ], 1..5).prop_map(|bodies| {
                    let mut e = Expected::default();
                    let mut sqs = Vec::new();
                    for (m, (direct, rs)) in bodies.into_iter().enumerate() {
                        e.errors.push(0);
                        for (_, k) in &rs {
                            match k {
                                Some(k) => e.keys.push((m, k.clone())),
                                None => e.errors[m] += 1,
                            }
                        }
                        let doc = json!({"Records": rs.into_iter().map(|r| r.0).collect::<Vec<_>>()});
                        let body = if direct {
                            doc.to_string()
                        } else {
                            json!({"Type": "Notification", "Message": doc.to_string()}).to_string()
                        };
                        sqs.push(json!({"eventSource": "aws:sqs", "messageId": format!("m{m}"), "body": body}));
                    }
                    (json!({"Records": sqs}), e)
                }),
            ]
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

            /// Every record on its own: in any shape, each good record gives its object in
            /// its message, each broken one an error of its message, and the event is never
            /// refused as a whole.
            #[test]
            fn good_records_are_read_and_each_broken_one_fails_only_its_message(
                (doc, expected) in mixed_event()
            ) {
                let n = norm_text(&doc.to_string()).expect("never refused as a whole");
                let got: Vec<(usize, String)> =
                    n.objects.iter().map(|o| (o.message, o.key.to_owned())).collect();
                prop_assert_eq!(got, expected.keys);
                let errors: Vec<usize> = n.messages.iter().map(|m| m.errors.len()).collect();
                prop_assert_eq!(errors, expected.errors);
            }

            /// The fast reader (what the Lambda and the CLI run on SQS batches) and the
            /// general one give the same messages, objects and ignored records.
            #[test]
            fn the_fast_reader_and_the_general_one_agree(
                (doc, _) in mixed_event(),
                extra in prop::collection::vec(json(), 0..3),
            ) {
                let mut doc = doc;
                if let Some(records) = doc.get_mut("Records").and_then(Value::as_array_mut)
                    && records.first().and_then(|r| r.get("eventSource")) == Some(&json!("aws:sqs"))
                {
                    for (i, body) in extra.into_iter().enumerate() {
                        records.push(json!({"eventSource": "aws:sqs", "messageId": format!("x{i}"), "body": body.to_string()}));
                    }
                }
                prop_assert_eq!(norm_text(&doc.to_string()).ok(), norm(&doc).ok());
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
