//! Event normalisation: every shape AWS delivers, reduced to "this object in this bucket was
//! created/removed", grouped by the SQS message it came in (so failures map back to messages).
//!
//! Documents are read from `serde_json::Value` field by field rather than through strict
//! typed structs (such as `aws_lambda_events`'): one odd record must give a reason for that
//! record, not fail the parse of a whole batch. SQS bodies holding plain S3 notifications,
//! the hot path, are read into borrowed typed fields first.

use crate::decode::decode_notification_key;
use serde_json::Value;

/// What happened to an object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    Created,
    Removed,
}

/// One object named by an event, with its key decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectEvent {
    pub bucket: String,
    pub key: String,
    pub change: Change,
}

/// An object an event names but that the registrar will not act on, with why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ignored {
    pub bucket: String,
    pub key: String,
    pub reason: String,
}

/// The objects of one delivery unit: an SQS message, or the whole event when not from SQS.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Message {
    /// The SQS `messageId`, the unit of `batchItemFailures`.
    pub id: Option<String>,
    pub objects: Vec<ObjectEvent>,
    pub ignored: Vec<Ignored>,
    /// Set when the message could not be read at all; it must be retried and dead-lettered.
    pub error: Option<String>,
}

/// An event reduced to messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Normalised {
    /// True for SQS events, whose response is `batchItemFailures`.
    pub from_sqs: bool,
    pub messages: Vec<Message>,
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

/// Reduce any supported event document to messages.
pub fn normalise(doc: &Value) -> Result<Normalised, EventError> {
    if is_sqs_event(doc) {
        let records = doc
            .get("Records")
            .and_then(Value::as_array)
            .ok_or_else(|| EventError::MalformedSqs("`Records` is not an array".to_owned()))?;
        let messages = records.iter().map(read_sqs_message).collect();
        return Ok(Normalised {
            from_sqs: true,
            messages,
        });
    }
    let mut message = Message::default();
    match read_document(doc, &mut message, 0) {
        Ok(()) => Ok(Normalised {
            from_sqs: false,
            messages: vec![message],
        }),
        Err(e) if recognised_shape(doc) => Err(EventError::Malformed(e)),
        Err(_) => Err(EventError::UnknownShape(top_level_fields(doc))),
    }
}

/// Reduce an event document given as text. An SQS batch (up to 10,000 records, megabytes) is
/// read in place from the text, without building a JSON tree of it: that is the difference
/// between a 128 MB function and a larger one. Every other shape goes through [`normalise`].
pub fn normalise_text(text: &str) -> Result<Normalised, EventError> {
    if let Ok(batch) = serde_json::from_str::<fast::SqsBatch<'_>>(text)
        && !batch.records.is_empty()
        && batch
            .records
            .iter()
            .all(|r| r.event_source.as_deref() == Some("aws:sqs"))
    {
        let messages = batch
            .records
            .iter()
            .map(|r| read_sqs_fields(r.message_id.as_deref(), r.body.as_deref()))
            .collect();
        return Ok(Normalised {
            from_sqs: true,
            messages,
        });
    }
    let doc: Value = serde_json::from_str(text).map_err(|e| EventError::NotJson(e.to_string()))?;
    normalise(&doc)
}

fn read_sqs_message(record: &Value) -> Message {
    read_sqs_fields(
        record.get("messageId").and_then(Value::as_str),
        record.get("body").and_then(Value::as_str),
    )
}

/// One SQS record: only its id and body matter.
fn read_sqs_fields(id: Option<&str>, body: Option<&str>) -> Message {
    let mut message = Message {
        id: id.map(str::to_owned),
        ..Message::default()
    };
    let result = match body {
        Some(body) => read_body(body, &mut message),
        None => Err("SQS record has no `body` string".to_owned()),
    };
    if let Err(e) = result {
        message.error = Some(e);
    }
    message
}

/// An SQS body. Nearly always a plain S3 notification: that is read straight into borrowed
/// fields, without building a JSON tree; anything else takes the general path.
fn read_body(body: &str, message: &mut Message) -> Result<(), String> {
    if let Ok(n) = serde_json::from_str::<fast::Notification<'_>>(body)
        && n.records
            .iter()
            .all(|r| r.event_source.as_deref().is_none_or(|s| s == "aws:s3"))
    {
        for r in n.records {
            push_notification_key(message, &r.s3.bucket.name, &r.s3.object.key, &r.event_name);
        }
        return Ok(());
    }
    let inner: Value =
        serde_json::from_str(body).map_err(|e| format!("message body is not JSON: {e}"))?;
    read_document(&inner, message, 1)
}

/// The fields of an SQS batch and an S3 notification the registrar reads, borrowed from the
/// text where it holds them unescaped.
mod fast {
    use serde::Deserialize;
    use std::borrow::Cow;

    #[derive(Deserialize)]
    pub struct SqsBatch<'a> {
        #[serde(rename = "Records", borrow)]
        pub records: Vec<SqsRecord<'a>>,
    }

    #[derive(Deserialize)]
    pub struct SqsRecord<'a> {
        #[serde(rename = "messageId", borrow, default)]
        pub message_id: Option<Cow<'a, str>>,
        #[serde(borrow, default)]
        pub body: Option<Cow<'a, str>>,
        #[serde(rename = "eventSource", borrow, default)]
        pub event_source: Option<Cow<'a, str>>,
    }

    #[derive(Deserialize)]
    pub struct Notification<'a> {
        #[serde(rename = "Records", borrow)]
        pub records: Vec<Record<'a>>,
    }

    #[derive(Deserialize)]
    pub struct Record<'a> {
        #[serde(rename = "eventSource", borrow, default)]
        pub event_source: Option<Cow<'a, str>>,
        #[serde(rename = "eventName", borrow)]
        pub event_name: Cow<'a, str>,
        #[serde(borrow)]
        pub s3: Entity<'a>,
    }

    #[derive(Deserialize)]
    pub struct Entity<'a> {
        #[serde(borrow)]
        pub bucket: Named<'a>,
        #[serde(borrow)]
        pub object: Keyed<'a>,
    }

    #[derive(Deserialize)]
    pub struct Named<'a> {
        #[serde(borrow)]
        pub name: Cow<'a, str>,
    }

    #[derive(Deserialize)]
    pub struct Keyed<'a> {
        #[serde(borrow)]
        pub key: Cow<'a, str>,
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

/// Read one document (S3 notification, test event, SNS envelope or EventBridge event)
/// into `message`.
fn read_document(doc: &Value, message: &mut Message, depth: usize) -> Result<(), String> {
    if depth > MAX_DEPTH {
        return Err("envelopes nested too deeply".to_owned());
    }
    if doc.get("Event").and_then(Value::as_str) == Some("s3:TestEvent") {
        return Ok(());
    }
    if let Some(records) = doc.get("Records") {
        let records = records.as_array().ok_or("`Records` is not an array")?;
        for (i, record) in records.iter().enumerate() {
            read_record(record, message, depth).map_err(|e| format!("record {i}: {e}"))?;
        }
        return Ok(());
    }
    if doc.get("Type").and_then(Value::as_str) == Some("Notification") {
        return read_embedded(doc.get("Message"), message, depth);
    }
    if doc.get("detail-type").is_some() {
        return read_eventbridge(doc, message);
    }
    Err(format!(
        "not an S3 notification, SNS notification or EventBridge event (fields: {})",
        top_level_fields(doc)
    ))
}

/// An SNS `Message` holds the wrapped document as a JSON string.
fn read_embedded(inner: Option<&Value>, message: &mut Message, depth: usize) -> Result<(), String> {
    let text = inner
        .and_then(Value::as_str)
        .ok_or("SNS notification has no `Message` string")?;
    let doc: Value =
        serde_json::from_str(text).map_err(|e| format!("SNS `Message` is not JSON: {e}"))?;
    read_document(&doc, message, depth + 1)
}

fn read_record(record: &Value, message: &mut Message, depth: usize) -> Result<(), String> {
    if let Some(sns) = record.get("Sns") {
        return read_embedded(sns.get("Message"), message, depth);
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
    push_notification_key(message, bucket, raw_key, event_name);
    Ok(())
}

/// An object named by an S3 notification: its key is URL-encoded.
fn push_notification_key(message: &mut Message, bucket: &str, raw_key: &str, event_name: &str) {
    match decode_notification_key(raw_key) {
        Ok(key) => push(
            message,
            bucket,
            key,
            notification_change(event_name),
            event_name,
        ),
        Err(e) => message.ignored.push(Ignored {
            bucket: bucket.to_owned(),
            key: raw_key.to_owned(),
            reason: e.to_string(),
        }),
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

fn read_eventbridge(doc: &Value, message: &mut Message) -> Result<(), String> {
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
    push(message, bucket, key.to_owned(), change, detail_type);
    Ok(())
}

fn push(message: &mut Message, bucket: &str, key: String, change: Option<Change>, what: &str) {
    match change {
        Some(change) => message.objects.push(ObjectEvent {
            bucket: bucket.to_owned(),
            key,
            change,
        }),
        None => message.ignored.push(Ignored {
            bucket: bucket.to_owned(),
            key,
            reason: format!("event `{what}` neither creates nor removes an object"),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn s3_record(name: &str, bucket: &str, key: &str) -> Value {
        json!({"eventSource": "aws:s3", "eventName": name,
               "s3": {"bucket": {"name": bucket}, "object": {"key": key}}})
    }

    #[test]
    fn s3_notification_keys_are_decoded() {
        let doc = json!({"Records": [s3_record("ObjectCreated:Put", "b", "t/a+b%3D1/f")]});
        let n = normalise(&doc).unwrap();
        assert!(!n.from_sqs);
        assert_eq!(n.messages[0].objects[0].key, "t/a b=1/f");
        assert_eq!(n.messages[0].objects[0].change, Change::Created);
    }

    #[test]
    fn removal_events_are_removals() {
        let doc = json!({"Records": [s3_record("ObjectRemoved:Delete", "b", "k")]});
        assert_eq!(
            normalise(&doc).unwrap().messages[0].objects[0].change,
            Change::Removed
        );
    }

    #[test]
    fn test_event_is_a_no_op() {
        let doc = json!({"Service": "Amazon S3", "Event": "s3:TestEvent", "Bucket": "b"});
        let n = normalise(&doc).unwrap();
        assert!(n.messages[0].objects.is_empty());
        assert!(n.messages[0].error.is_none());
    }

    #[test]
    fn other_s3_events_are_ignored_with_a_reason() {
        let doc = json!({"Records": [s3_record("ObjectTagging:Put", "b", "k")]});
        let n = normalise(&doc).unwrap();
        assert!(n.messages[0].objects.is_empty());
        assert!(
            n.messages[0].ignored[0]
                .reason
                .contains("ObjectTagging:Put")
        );
    }

    #[test]
    fn eventbridge_keys_are_not_decoded() {
        let doc = json!({"version": "0", "detail-type": "Object Created", "source": "aws.s3",
                         "detail": {"bucket": {"name": "b"}, "object": {"key": "t/a+b"}}});
        assert_eq!(normalise(&doc).unwrap().messages[0].objects[0].key, "t/a+b");
    }

    #[test]
    fn sqs_body_that_is_not_json_marks_only_its_message() {
        let good = json!({"Records": [s3_record("ObjectCreated:Put", "b", "k")]}).to_string();
        let doc = json!({"Records": [
            {"eventSource": "aws:sqs", "messageId": "m1", "body": good},
            {"eventSource": "aws:sqs", "messageId": "m2", "body": "{not json"}
        ]});
        let n = normalise(&doc).unwrap();
        assert!(n.from_sqs);
        assert!(n.messages[0].error.is_none());
        assert_eq!(n.messages[0].objects.len(), 1);
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
        assert_eq!(
            normalise_text(&doc.to_string()).unwrap(),
            normalise(&doc).unwrap()
        );
    }

    #[test]
    fn text_that_is_not_json_is_an_error() {
        assert!(matches!(
            normalise_text("{\"Records\": ["),
            Err(EventError::NotJson(_))
        ));
    }

    #[test]
    fn unknown_document_is_an_error_naming_its_fields() {
        let err = normalise(&json!({"hello": 1})).unwrap_err();
        assert!(err.to_string().contains("hello"));
    }

    #[test]
    fn invalid_utf8_key_is_ignored_with_a_reason() {
        let doc = json!({"Records": [s3_record("ObjectCreated:Put", "b", "t/%FF")]});
        let n = normalise(&doc).unwrap();
        assert!(n.messages[0].objects.is_empty());
        assert!(n.messages[0].ignored[0].reason.contains("UTF-8"));
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
                let _ = normalise(&doc);
                let _ = normalise_text(&doc.to_string());
            }

            #[test]
            fn arbitrary_sqs_bodies_never_panic_and_keep_their_message(body in prop_oneof![
                json().prop_map(|v| v.to_string()),
                ".{0,40}"
            ]) {
                let doc = json!({"Records": [{"eventSource": "aws:sqs", "messageId": "m", "body": body}]});
                let n = normalise(&doc).unwrap();
                prop_assert_eq!(n.messages.len(), 1);
                prop_assert_eq!(n.messages[0].id.as_deref(), Some("m"));
            }
        }
    }
}
