//! `Storage::list` reads `ListObjectsV2` pages itself (`registrar_core::listing`); before, the
//! SDK's XML decoder read them. These tests hold the new path to the old one: the same
//! answers through the real SDK both ways, compared whole (the page, or the error with its
//! kind and detail, and the warnings logged for names left out).
//!
//! The old path is [`listed_by_the_sdk`], `Storage::list` as it was (d0c907a). Real pages come
//! from moto. Pages moto would never write (XML escapes of every kind, entities, CDATA,
//! comments, malformed documents, values the SDK refuses, error answers) come from a loopback
//! server that answers each request with a given document ([`Documents`]): it stands for no
//! service's behaviour, it only hands both decoders the same bytes.

use crate::moto::{sdk_config, sdk_config_at};
use crate::support::*;
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::interceptors::context::AfterDeserializationInterceptorContextRef;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::ConfigBag;
use glue_partition_registrar::aws::{CallError, ClientOptions, Clients, ErrorKind, call};
use glue_partition_registrar::core::Deadline;
use glue_partition_registrar::core::decode::decode_notification_key;
use glue_partition_registrar::core::listing;
use glue_partition_registrar::core::walk::{ListPage, ListRequest, after};
use glue_partition_registrar::storage::Storage;
use proptest::prelude::*;
use std::collections::{BTreeMap, VecDeque};
use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

/// `Storage::list` as it was before the listing decoder (d0c907a), the SDK decoding the page.
async fn listed_by_the_sdk(
    client: &aws_sdk_s3::Client,
    bucket: &str,
    request: &ListRequest,
    page_size: i32,
    raw: Option<&Recorder>,
) -> Result<ListPage, CallError> {
    let mut send = client
        .list_objects_v2()
        .bucket(bucket)
        .prefix(&request.prefix)
        .set_delimiter(request.delimiter.then(|| "/".to_owned()))
        .set_start_after(request.start_after.clone())
        .encoding_type(aws_sdk_s3::types::EncodingType::Url)
        .max_keys(page_size)
        .customize();
    if let Some(recorder) = raw {
        send = send.interceptor(recorder.clone());
    }
    let page = call(Deadline::NONE, "S3", "ListObjectsV2", send.send())
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

/// The bodies of the answers an SDK call decoded, as they came.
#[derive(Debug, Clone, Default)]
struct Recorder(Arc<Mutex<Vec<Vec<u8>>>>);

impl Intercept for Recorder {
    fn name(&self) -> &'static str {
        "Recorder"
    }

    fn read_after_deserialization(
        &self,
        context: &AfterDeserializationInterceptorContextRef<'_>,
        _rc: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let body = context.response().body().bytes().unwrap_or_default();
        self.0.lock().unwrap().push(body.to_vec());
        Ok(())
    }
}

/// Every event logged while it is the thread's subscriber: level, then each field.
#[derive(Clone, Default)]
struct Logged(Arc<Mutex<Vec<BTreeMap<String, String>>>>);

impl Logged {
    /// The warnings logged while `run` ran.
    fn warnings<T>(&self, run: impl FnOnce() -> T) -> (T, Vec<BTreeMap<String, String>>) {
        use tracing_subscriber::layer::SubscriberExt;
        self.0.lock().unwrap().clear();
        let guard =
            tracing::subscriber::set_default(tracing_subscriber::registry().with(self.clone()));
        let out = run();
        drop(guard);
        let warnings = self
            .0
            .lock()
            .unwrap()
            .iter()
            .filter(|e| e["level"] == "WARN")
            .cloned()
            .collect();
        (out, warnings)
    }
}

impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for Logged {
    fn on_event(
        &self,
        event: &tracing::Event<'_>,
        _ctx: tracing_subscriber::layer::Context<'_, S>,
    ) {
        struct Fields(BTreeMap<String, String>);
        impl tracing::field::Visit for Fields {
            fn record_str(&mut self, field: &tracing::field::Field, value: &str) {
                self.0.insert(field.name().to_owned(), value.to_owned());
            }
            fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
                self.0.insert(field.name().to_owned(), format!("{value:?}"));
            }
        }
        let mut fields = Fields(BTreeMap::new());
        fields
            .0
            .insert("level".to_owned(), event.metadata().level().to_string());
        event.record(&mut fields);
        self.0.lock().unwrap().push(fields.0);
    }
}

/// An answer [`Documents`] gives: a status and a body, sent in chunks of `chunk` bytes.
#[derive(Debug, Clone)]
struct Answer {
    status: u16,
    body: Vec<u8>,
    chunk: usize,
}

#[derive(Default)]
struct Served {
    always: Option<Answer>,
    once: VecDeque<Answer>,
    requests: usize,
}

/// A loopback HTTP server that answers every request with the document it was given
/// (`once` answers first, in order), the body chunked as a server streaming it would send it.
#[derive(Clone)]
struct Documents {
    endpoint: String,
    served: Arc<Mutex<Served>>,
}

impl Documents {
    fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
        let endpoint = format!("http://{}", listener.local_addr().unwrap());
        let served = Arc::new(Mutex::new(Served::default()));
        let shared = served.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { continue };
                let served = shared.clone();
                std::thread::spawn(move || answer_all(stream, &served));
            }
        });
        Self { endpoint, served }
    }

    fn always(&self, answer: Answer) {
        self.served.lock().unwrap().always = Some(answer);
    }

    fn once(&self, answer: Answer) {
        self.served.lock().unwrap().once.push_back(answer);
    }

    fn requests(&self) -> usize {
        self.served.lock().unwrap().requests
    }

    fn clients(&self, max_attempts: u32) -> Clients {
        Clients::with_options(
            &sdk_config_at(&self.endpoint),
            &ClientOptions {
                max_attempts,
                attempt_timeout: Duration::from_secs(10),
                initial_backoff: Duration::from_millis(1),
                retry_partition: "listing-documents",
            },
        )
    }
}

/// Answer the requests of one connection (keep-alive) until the client closes it.
fn answer_all(stream: std::net::TcpStream, served: &Mutex<Served>) {
    let mut reader = BufReader::new(stream.try_clone().expect("clone the stream"));
    let mut writer = stream;
    loop {
        let mut line = String::new();
        loop {
            line.clear();
            match reader.read_line(&mut line) {
                Ok(0) | Err(_) => return,
                Ok(_) if line == "\r\n" => break,
                Ok(_) => {}
            }
        }
        let answer = {
            let mut served = served.lock().unwrap();
            served.requests += 1;
            match served.once.pop_front() {
                Some(answer) => answer,
                None => served.always.clone().expect("a document to serve"),
            }
        };
        let mut out = format!(
            "HTTP/1.1 {} Answer\r\ncontent-type: application/xml\r\ntransfer-encoding: chunked\r\n\r\n",
            answer.status
        )
        .into_bytes();
        for chunk in answer.body.chunks(answer.chunk.max(1)) {
            out.extend_from_slice(format!("{:x}\r\n", chunk.len()).as_bytes());
            out.extend_from_slice(chunk);
            out.extend_from_slice(b"\r\n");
        }
        out.extend_from_slice(b"0\r\n\r\n");
        if writer.write_all(&out).is_err() {
            return;
        }
    }
}

const BUCKET_NAME: &str = "listing-documents";

/// The root's namespace in the pages these tests build. Neither the reader nor the SDK's
/// decoder reads its value (S3 writes its 2006-03-01 document namespace there, and moto's own
/// pages, read in `moto_pages_are_read_as_the_sdk_reads_them`, carry it), so the pages here
/// name a namespace of their own rather than an AWS address.
macro_rules! xmlns {
    () => {
        "urn:glue-partition-registrar:listing-test"
    };
}

fn request(prefix: &str, delimiter: bool, start_after: Option<String>) -> ListRequest {
    ListRequest {
        prefix: prefix.to_owned(),
        delimiter,
        start_after,
        through: None,
        max_keys: None,
    }
}

/// A loopback server, clients on it and a runtime for the property test's cases.
struct Harness {
    /// One answer at a time: the tests that use the harness run in parallel.
    one: Mutex<()>,
    runtime: tokio::runtime::Runtime,
    documents: Documents,
    clients: Clients,
    logged: Logged,
}

fn harness() -> &'static Harness {
    static HARNESS: OnceLock<Harness> = OnceLock::new();
    HARNESS.get_or_init(|| {
        let documents = Documents::start();
        Harness {
            one: Mutex::new(()),
            runtime: tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap(),
            clients: documents.clients(1),
            documents,
            logged: Logged::default(),
        }
    })
}

/// Both paths on one answer: `Storage::list` and the SDK's decoder, each with its warnings.
type Both = (
    (Result<ListPage, CallError>, Vec<BTreeMap<String, String>>),
    (Result<ListPage, CallError>, Vec<BTreeMap<String, String>>),
);

fn both_on(answer: Answer) -> Both {
    let h = harness();
    let _one = h.one.lock().unwrap_or_else(|e| e.into_inner());
    h.documents.always(answer);
    let storage = Storage::new(h.clients.s3.clone());
    let r = request("t/", false, None);
    let new = h.logged.warnings(|| {
        h.runtime
            .block_on(storage.list(BUCKET_NAME, &r, 1000, Deadline::NONE))
    });
    let old = h.logged.warnings(|| {
        h.runtime.block_on(listed_by_the_sdk(
            &h.clients.s3,
            BUCKET_NAME,
            &r,
            1000,
            None,
        ))
    });
    (new, old)
}

// --- Generated answers ---------------------------------------------------------------------

/// Part of a generated document: its XML, and whether it is XML as S3 writes it (then the
/// new reader must read it itself, not leave it to the SDK).
#[derive(Debug, Clone)]
struct Xml {
    text: String,
    s3: bool,
}

impl Xml {
    fn s3(text: impl Into<String>) -> Self {
        Self {
            text: text.into(),
            s3: true,
        }
    }
}

fn key_char() -> impl Strategy<Value = char> {
    prop_oneof![
        10 => proptest::char::range('a', 'z'),
        3 => Just('/'),
        2 => Just('='),
        1 => Just('0'),
        1 => Just(' '),
        1 => Just('+'),
        1 => Just('%'),
        1 => Just('&'),
        1 => Just('<'),
        1 => Just('>'),
        1 => Just(']'),
        1 => Just('"'),
        1 => Just('\''),
        1 => Just('é'),
        1 => Just('서'),
        1 => Just('😀'),
        1 => Just('\t'),
        1 => Just('\u{7f}'),
        1 => Just('\u{1}'),
    ]
}

/// S3's `EncodingType=url`: every byte but unreserved ones and `/` as `%XX`, a space as `+`
/// or `%20`.
fn url_encoded(key: &str, plus: bool) -> String {
    let mut out = String::new();
    for b in key.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'/' => {
                out.push(b as char)
            }
            b' ' if plus => out.push('+'),
            b => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// A listed name: a key URL-encoded as S3 encodes it, or as a writer that does not (stray
/// `%` and `+`), or with an escape that decodes to no UTF-8; written into XML with escapes and
/// character references of every kind, chosen character by character.
fn name() -> impl Strategy<Value = Xml> {
    (
        proptest::collection::vec(key_char(), 0..16),
        0..6u8,
        proptest::collection::vec(any::<u8>(), 1..8),
    )
        .prop_map(|(chars, form, how)| {
            let key: String = chars.into_iter().collect();
            let listed = match form {
                0 | 1 => url_encoded(&key, form == 0),
                2 | 3 => key,
                4 => format!("{}%FF", url_encoded(&key, true)),
                _ => format!("{key}%C3%"),
            };
            let mut s3 = true;
            let mut text = String::new();
            for (i, c) in listed.chars().enumerate() {
                let h = usize::from(how[i % how.len()]);
                match c {
                    '&' => text.push_str(["&amp;", "&#38;", "&#x26;"][h % 3]),
                    '<' => text.push_str(["&lt;", "&#60;", "&#x3c;"][h % 3]),
                    '>' => text.push_str([">", "&gt;"][h % 2]),
                    '"' => text.push_str(["\"", "&quot;", "&#34;"][h % 3]),
                    '\'' => text.push_str(["'", "&apos;"][h % 2]),
                    '\t' => text.push_str(["\t", "&#9;", "&#x9;"][h % 3]),
                    '\u{1}' => {
                        // A character XML 1.0 does not allow, raw or as a reference.
                        s3 = false;
                        text.push_str(["\u{1}", "&#1;"][h % 2]);
                    }
                    c if !c.is_ascii() => match h % 3 {
                        0 => text.push(c),
                        1 => text.push_str(&format!("&#x{:X};", c as u32)),
                        _ => text.push_str(&format!("&#{};", c as u32)),
                    },
                    c => text.push(c),
                }
            }
            s3 &= !text.contains("]]>");
            Xml { text, s3 }
        })
}

/// A timestamp as S3 writes it, now and then one the SDK refuses.
fn last_modified() -> impl Strategy<Value = Xml> {
    prop_oneof![
        20 => Just(Xml::s3("2026-11-25T09:15:42.000Z")),
        3 => Just(Xml::s3("2024-02-29T23:59:59Z")),
        1 => Just(Xml { text: "2026-02-29T00:00:00Z".into(), s3: false }),
        1 => Just(Xml { text: "yesterday".into(), s3: false }),
        1 => Just(Xml { text: "2026-11-25T09:15:42+01:00".into(), s3: false }),
    ]
}

/// One `<Contents>`: a key (now and then none, or two), and the members S3 writes beside it.
fn contents() -> impl Strategy<Value = Xml> {
    (
        proptest::option::weighted(0.95, name()),
        proptest::option::weighted(0.05, name()),
        last_modified(),
        any::<bool>(),
        any::<bool>(),
        prop_oneof![
            20 => Just(Xml::s3("")),
            1 => Just(Xml::s3("<Owner><ID>o&amp;id</ID><DisplayName>d</DisplayName></Owner>")),
            1 => Just(Xml::s3("<RestoreStatus><IsRestoreInProgress>false</IsRestoreInProgress><RestoreExpiryDate>2026-12-01T00:00:00.000Z</RestoreExpiryDate></RestoreStatus>")),
            1 => Just(Xml::s3("<Unknown><Deeper>x</Deeper></Unknown>")),
            1 => Just(Xml { text: "<Unknown a=\"1\">x</Unknown>".into(), s3: false }),
            1 => Just(Xml::s3("<Future><Nested>x &lt; y</Nested></Future>")),
            1 => Just(Xml { text: "<Size>-1</Size>".into(), s3: false }),
            1 => Just(Xml { text: "<Size>1.5</Size>".into(), s3: false }),
            1 => Just(Xml { text: "<!-- a comment -->".into(), s3: false }),
            1 => Just(Xml { text: "<Key><![CDATA[t/cdata]]></Key>".into(), s3: false }),
            1 => Just(Xml { text: "<Key>t/<b/>x</Key>".into(), s3: false }),
            1 => Just(Xml { text: "<Key>&nbsp;</Key>".into(), s3: false }),
            1 => Just(Xml { text: "<Key>&#xD800;</Key>".into(), s3: false }),
            1 => Just(Xml { text: "<ETag>&amp</ETag>".into(), s3: false }),
        ],
        any::<bool>(),
    )
        .prop_map(|(key, second, modified, pretty, checksum, extra, key_last)| {
            let gap = if pretty { "\n      " } else { "" };
            let mut s3 = modified.s3 && extra.s3;
            let mut members = Vec::new();
            if let Some(key) = &key {
                s3 &= key.s3;
                members.push(format!("<Key>{}</Key>", key.text));
            }
            members.push(format!("<LastModified>{}</LastModified>", modified.text));
            members.push("<ETag>&quot;9dd4e461268c8034f5c8564e155c67a6&quot;</ETag>".into());
            if checksum {
                members.push(
                    "<ChecksumAlgorithm>CRC64NVME</ChecksumAlgorithm><ChecksumType>FULL_OBJECT</ChecksumType>"
                        .into(),
                );
            }
            members.push("<Size>1</Size>".into());
            members.push("<StorageClass>STANDARD</StorageClass>".into());
            members.push(extra.text);
            if let Some(second) = &second {
                s3 &= second.s3;
                members.push(format!("<Key>{}</Key>", second.text));
            }
            if key_last {
                members.rotate_left(1);
            }
            let text = format!(
                "<Contents>{gap}{}{gap}</Contents>",
                members.join(gap)
            );
            Xml { text, s3 }
        })
}

fn common_prefix() -> impl Strategy<Value = Xml> {
    (name(), any::<bool>()).prop_map(|(prefix, empty)| {
        let text = if empty {
            "<CommonPrefixes><Prefix/></CommonPrefixes>".to_owned()
        } else {
            format!(
                "<CommonPrefixes><Prefix>{}/</Prefix></CommonPrefixes>",
                prefix.text
            )
        };
        Xml {
            text,
            s3: prefix.s3,
        }
    })
}

/// What spoils a document now and then: XML S3 does not write, malformed XML, values the SDK
/// refuses, error documents, bodies cut short or not UTF-8.
#[derive(Debug, Clone, Copy)]
enum Spoil {
    None,
    Declaration,
    ByteOrderMark,
    ProcessingInstruction,
    Doctype,
    Comment,
    Prefixed,
    TrailingComment,
    TruncatedFlag,
    KeyCountReference,
    MismatchedTag,
    CutAt(usize),
    NotUtf8,
    ErrorIn200,
    Deep,
}

fn spoil() -> impl Strategy<Value = Spoil> {
    prop_oneof![
        40 => Just(Spoil::None),
        1 => Just(Spoil::Declaration),
        1 => Just(Spoil::ByteOrderMark),
        1 => Just(Spoil::ProcessingInstruction),
        1 => Just(Spoil::Doctype),
        1 => Just(Spoil::Comment),
        1 => Just(Spoil::Prefixed),
        1 => Just(Spoil::TrailingComment),
        1 => Just(Spoil::TruncatedFlag),
        1 => Just(Spoil::KeyCountReference),
        1 => Just(Spoil::MismatchedTag),
        2 => (0..4000usize).prop_map(Spoil::CutAt),
        1 => Just(Spoil::NotUtf8),
        1 => Just(Spoil::ErrorIn200),
        1 => Just(Spoil::Deep),
    ]
}

/// A whole answer: a page of contents and common prefixes in any order, with or without a
/// declaration, pretty-printed or not, truncated or not; now and then spoiled, or an error.
fn answer() -> impl Strategy<Value = (Answer, bool)> {
    (
        proptest::collection::vec(prop_oneof![3 => contents(), 1 => common_prefix()], 0..12),
        prop_oneof![Just(None), Just(Some(true)), Just(Some(false))],
        any::<bool>(),
        any::<bool>(),
        spoil(),
        prop_oneof![
            30 => Just(200u16),
            1 => Just(503u16),
            1 => Just(403u16),
            1 => Just(500u16),
        ],
        prop_oneof![Just(1usize), 1..64usize, 64..100_000usize],
    )
        .prop_map(|(entries, truncated, declaration, pretty, spoil, status, chunk)| {
            let gap = if pretty { "\n  " } else { "" };
            let mut s3 = entries.iter().all(|e| e.s3);
            let mut body = String::new();
            match spoil {
                Spoil::ByteOrderMark => body.push('\u{FEFF}'),
                Spoil::Declaration => body.push_str("<?xml version=\"1.0\" encoding='UTF-8' standalone=\"yes\" ?>\n"),
                _ if declaration => body.push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"),
                _ => {}
            }
            match spoil {
                Spoil::ProcessingInstruction => body.push_str("<?xml-stylesheet href=\"x\"?>"),
                Spoil::Doctype => body.push_str("<!DOCTYPE ListBucketResult>"),
                _ => {}
            }
            let root = match spoil {
                Spoil::Prefixed => "s3:ListBucketResult",
                Spoil::ErrorIn200 => "Error",
                _ => "ListBucketResult",
            };
            body.push_str(&format!(
                "<{root} xmlns=\"{}\">{gap}<Name>{BUCKET_NAME}</Name>{gap}<Prefix>t/</Prefix>{gap}<KeyCount>{}</KeyCount>{gap}<MaxKeys>1000</MaxKeys>{gap}<EncodingType>url</EncodingType>",
                xmlns!(),
                entries.len()
            ));
            if let Some(t) = truncated {
                body.push_str(&format!("{gap}<IsTruncated>{t}</IsTruncated>"));
            }
            match spoil {
                Spoil::TruncatedFlag => body.push_str("<IsTruncated>yes</IsTruncated>"),
                Spoil::KeyCountReference => body.push_str("<KeyCount>&#49;</KeyCount>"),
                Spoil::Comment => body.push_str("<!-- between -->"),
                Spoil::MismatchedTag => body.push_str("<Name>x</Nam>"),
                Spoil::Deep => body.push_str(&format!("{}{}", "<a>".repeat(40), "</a>".repeat(40))),
                _ => {}
            }
            for entry in &entries {
                body.push_str(gap);
                body.push_str(&entry.text);
            }
            if truncated == Some(true) {
                body.push_str(&format!("{gap}<NextContinuationToken>1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM=</NextContinuationToken>"));
            }
            body.push_str(&format!("\n</{root}>\n"));
            if matches!(spoil, Spoil::TrailingComment) {
                body.push_str("<!-- after -->");
            }
            let mut body = body.into_bytes();
            match spoil {
                Spoil::CutAt(at) => body.truncate(at.min(body.len().saturating_sub(1))),
                Spoil::NotUtf8 => {
                    let at = body.len() / 2;
                    body[at] = 0xFF;
                }
                _ => {}
            }
            s3 &= matches!(spoil, Spoil::None | Spoil::Declaration);
            if status != 200 {
                let code = match status {
                    503 => "SlowDown",
                    403 => "AccessDenied",
                    _ => "InternalError",
                };
                body = format!("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>{code}</Code><Message>m &amp; m</Message><RequestId>r</RequestId></Error>").into_bytes();
            }
            (Answer { status, body, chunk }, s3 && status == 200)
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    /// Every generated answer gets from `Storage::list` exactly what the SDK's decoder made
    /// of it: the page or the error, and the same warnings; and a page as S3 writes it is
    /// read by the new reader itself.
    #[test]
    fn every_answer_is_read_as_the_sdk_reads_it((answer, s3) in answer()) {
        if s3 {
            let read = listing::read(&answer.body);
            prop_assert!(read.is_ok(), "{read:?}\n{}", String::from_utf8_lossy(&answer.body));
        }
        let (new, old) = both_on(answer.clone());
        prop_assert_eq!(new, old, "{}", String::from_utf8_lossy(&answer.body));
    }
}

fn page_answer(body: &str) -> Answer {
    Answer {
        status: 200,
        body: body.as_bytes().to_vec(),
        chunk: 7,
    }
}

const PAGE: &str = concat!(
    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<ListBucketResult xmlns=\"",
    xmlns!(),
    "\">\
<Name>listing-documents</Name><Prefix>t/</Prefix><KeyCount>3</KeyCount><MaxKeys>1000</MaxKeys><EncodingType>url</EncodingType><IsTruncated>true</IsTruncated>\
<Contents><Key>t/dt%3D1/a+b.parquet</Key><LastModified>2026-11-25T09:15:42.000Z</LastModified><Size>1</Size></Contents>\
<Contents><Key>t/%FF</Key><LastModified>2026-11-25T09:15:42.000Z</LastModified><Size>1</Size></Contents>\
<Contents><Key>t/q&amp;a</Key><LastModified>2026-11-25T09:15:42.000Z</LastModified><Size>1</Size></Contents>\
</ListBucketResult>"
);

#[test]
fn a_name_that_cannot_be_decoded_is_left_out_with_the_same_warning() {
    let ((new, new_warnings), (old, old_warnings)) = both_on(page_answer(PAGE));
    let page = new.unwrap();
    assert_eq!(page.keys, ["t/dt=1/a b.parquet", "t/q&a"]);
    assert!(page.truncated);
    assert_eq!(Ok(page), old);
    assert_eq!(new_warnings.len(), 1, "{new_warnings:?}");
    assert_eq!(new_warnings[0]["name"], "t/%FF");
    assert_eq!(new_warnings[0]["bucket"], BUCKET_NAME);
    assert_eq!(new_warnings, old_warnings);
}

#[test]
fn an_error_document_in_a_200_is_the_sdks_error() {
    let body = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>InternalError</Code><Message>We encountered an internal error.</Message></Error>";
    let ((new, _), (old, _)) = both_on(page_answer(body));
    let e = new.unwrap_err();
    assert_eq!(e.kind, ErrorKind::Transient);
    assert_eq!(Err(e), old);
}

#[tokio::test]
async fn a_throttled_listing_is_retried_and_the_next_answer_read() {
    let documents = Documents::start();
    let slow_down = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message></Error>";
    documents.once(Answer {
        status: 503,
        body: slow_down.as_bytes().to_vec(),
        chunk: 4096,
    });
    documents.always(page_answer(PAGE));
    let storage = Storage::new(documents.clients(3).s3);
    let page = storage
        .list(
            BUCKET_NAME,
            &request("t/", false, None),
            1000,
            Deadline::NONE,
        )
        .await
        .unwrap();
    assert_eq!(page.keys, ["t/dt=1/a b.parquet", "t/q&a"]);
    assert_eq!(documents.requests(), 2);
}

#[tokio::test]
async fn a_listing_throttled_on_every_attempt_is_a_throttled_error() {
    let documents = Documents::start();
    let slow_down = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message></Error>";
    documents.always(Answer {
        status: 503,
        body: slow_down.as_bytes().to_vec(),
        chunk: 4096,
    });
    let storage = Storage::new(documents.clients(2).s3);
    let e = storage
        .list(
            BUCKET_NAME,
            &request("t/", false, None),
            1000,
            Deadline::NONE,
        )
        .await
        .unwrap_err();
    assert_eq!(e.kind, ErrorKind::Throttled, "{e}");
    assert_eq!(documents.requests(), 2);
}

/// Keys as people name them and as nobody should: everything S3 must escape in a listing.
fn awkward_keys() -> Vec<String> {
    [
        "t/dt=2026-11-25/part-00000.parquet",
        "t/dt=2026-11-25/a b.parquet",
        "t/dt=2026-11-25/1+1=2.csv",
        "t/dt=2026-11-25/100%.csv",
        "t/dt=2026-11-25/%41%zz%",
        "t/dt=2026-11-26/q&a/<tag>.json",
        "t/dt=2026-11-26/quote\"s'/f",
        "t/dt=2026-11-26/]]>",
        "t/city=서울/é😀.txt",
        // (A newline too, but moto's server cannot route a key with one.)
        "t/tab\tkey/f",
        // (A control character too, but moto fails a listing that starts after one.)
        "t/delete\u{7f}/f",
        "t/_SUCCESS",
        "t/~!@#$^*()[]{}|;:,?.txt",
        "t/trailing space /f",
    ]
    .iter()
    .map(|k| k.to_string())
    .collect()
}

#[tokio::test]
async fn moto_pages_are_read_as_the_sdk_reads_them() {
    let bucket = create_bucket().await;
    let keys = awkward_keys();
    put_objects(&bucket, &keys).await;
    let client = Clients::new(&sdk_config()).s3;
    let storage = Storage::new(client.clone());
    let recorder = Recorder::default();
    let mut listed = Vec::new();
    for delimiter in [false, true] {
        for page_size in [1, 3, 1000] {
            let mut r = request("t/", delimiter, None);
            loop {
                let new = storage.list(&bucket, &r, page_size, Deadline::NONE).await;
                let old = listed_by_the_sdk(&client, &bucket, &r, page_size, Some(&recorder)).await;
                assert_eq!(new, old, "{r:?}");
                let page = new.unwrap_or_else(|e| panic!("{r:?}: {e}"));
                if !delimiter {
                    listed.extend(page.keys.iter().cloned());
                }
                if !page.truncated {
                    break;
                }
                let next = page
                    .keys
                    .last()
                    .cloned()
                    .max(page.dirs.last().map(|d| after(d)));
                r.start_after = next;
            }
        }
    }
    let mut all = keys.clone();
    all.sort();
    let flat: Vec<String> = listed.iter().take(keys.len()).cloned().collect();
    assert_eq!(
        flat, all,
        "the flat walk of one key a page lists every key once"
    );
    let bodies = recorder.0.lock().unwrap();
    assert!(bodies.len() > 20);
    for body in bodies.iter() {
        let read = listing::read(body);
        assert!(read.is_ok(), "{read:?}\n{}", String::from_utf8_lossy(body));
    }
}

#[tokio::test]
async fn a_listing_of_a_missing_bucket_is_not_found() {
    let client = Clients::new(&sdk_config()).s3;
    let r = request("t/", false, None);
    let new = Storage::new(client.clone())
        .list("no-such-bucket-here", &r, 1000, Deadline::NONE)
        .await;
    let old = listed_by_the_sdk(&client, "no-such-bucket-here", &r, 1000, None).await;
    assert_eq!(new.as_ref().unwrap_err().kind, ErrorKind::NotFound);
    assert_eq!(new, old);
}
