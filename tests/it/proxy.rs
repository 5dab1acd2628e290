//! A loopback HTTP proxy in front of moto that makes it behave as AWS documents where moto
//! does not, and injects faults. The registrar's SDK points at it; it forwards every request
//! to moto, except that:
//!
//! - **Glue's input rules** are applied, as the Glue API reference documents them and moto
//!   does not: `PartitionInput.Values` entries 1 to 1,024 long, `StorageDescriptor.Location`
//!   at most 2,056 and matching `[\u0020-\uD7FF\uE000-\uFFFD\uD800\uDC00-\uDBFF\uDFFF\r\n\t]*`,
//!   at most 100 entries per `BatchCreatePartition`/`BatchUpdatePartition` and 1,000 keys per
//!   `BatchGetPartition`. A request that breaks one is refused as a whole with
//!   `ValidationException`, naming no entry, as Glue refuses it. A test may also name
//!   partitions Glue refuses for a reason of its own ([`Rules::refuse`]).
//! - **Partition indexes**, which moto does not keep (its `GetPartitionIndexes` answers none):
//!   the proxy answers `CreatePartitionIndex` (keys that are the table's partition keys, at
//!   most 3 indexes a table), `GetPartitionIndexes` and `DeletePartitionIndex` itself, and
//!   once a table has an index holds the partitions a `BatchCreatePartition` adds to it to
//!   what the AWS Glue Developer Guide ("Working with partition indexes", limitations) says
//!   Glue checks: "all new partitions added to the table will be validated for the data type
//!   checks for indexed keys", and values of indexed keys "having the characters U+0000,
//!   U+00001, and U+0002 will start to fail". The guide says such a creation fails, not how a
//!   batch reports it: the proxy fails the entry with `InvalidInputException` (an entry error,
//!   as Glue reports other per-partition failures) and forwards the rest.
//! - **`GetPartitions` pages** as Glue does (moto returns every partition at once, ignoring
//!   `MaxResults`, `NextToken` and `Segment`): at most `MaxResults` (1 to 1,000) per page with
//!   a `NextToken`, each of `TotalSegments` (1 to 10) segments holding its own share, and
//!   without column schemas under `ExcludeColumnSchema`.
//! - **Under load**, as Glue documents it may, `BatchGetPartition` leaves keys unprocessed
//!   (`UnprocessedKeys`) and `BatchUpdatePartition` fails single entries, at rates a test sets.
//! - **S3 latency**: a delay per `ListObjectsV2` and per other S3 request (real S3 answers a
//!   1,000-key page in about 80 ms); the most requests in flight at once is recorded.
//! - **Faults**: a chosen share of Glue calls is answered with an AWS error, a reset
//!   connection, a long delay, or nothing at all. moto itself cannot throttle; through this,
//!   the real SDK meets what a busy Glue does.

use crate::moto::moto;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// What a faulted call gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// 400 `ThrottlingException`, as Glue answers when its rate limit is hit.
    Throttle,
    /// 500 `InternalServiceException`.
    Internal,
    /// The connection is reset once the request has been read.
    Reset,
    /// The call is answered, late.
    Delay(Duration),
    /// The call is never answered.
    Stall,
}

/// Which Glue calls fail, and how: a share of them, each fault drawn from `faults`.
#[derive(Debug, Clone)]
pub struct Plan {
    pub rate: f64,
    pub faults: Vec<Fault>,
    /// Only these operations are faulted (`BatchCreatePartition`, ...); empty for all.
    pub operations: Vec<&'static str>,
}

impl Plan {
    pub fn none() -> Self {
        Self {
            rate: 0.0,
            faults: Vec::new(),
            operations: Vec::new(),
        }
    }

    pub fn storm(rate: f64) -> Self {
        Self {
            rate,
            faults: vec![
                Fault::Throttle,
                Fault::Throttle,
                Fault::Internal,
                Fault::Reset,
                Fault::Delay(Duration::from_millis(1500)),
            ],
            operations: Vec::new(),
        }
    }

    pub fn stall() -> Self {
        Self {
            rate: 1.0,
            faults: vec![Fault::Stall],
            operations: Vec::new(),
        }
    }
}

/// What the proxy does beyond forwarding, besides faults.
#[derive(Debug, Clone, Default)]
pub struct Rules {
    /// Partitions (by values) Glue refuses: a `BatchCreatePartition` or `BatchUpdatePartition`
    /// holding one is answered `ValidationException` for the whole request.
    pub refuse: Vec<Vec<String>>,
    /// Share of `BatchGetPartition` keys answered as `UnprocessedKeys`.
    pub unprocessed: f64,
    /// Share of `BatchUpdatePartition` entries answered with an `InternalServiceException`.
    pub update_errors: f64,
    /// `GetObject`'s `Range` header dropped: an endpoint that answers the whole object.
    pub ignore_range: bool,
    /// Added to every `ListObjectsV2`.
    pub list_latency: Duration,
    /// Added to every other S3 request.
    pub s3_latency: Duration,
    /// Added to every Glue request.
    pub glue_latency: Duration,
    /// `ListObjectsV2` of a prefix starting with this is refused (403 `AccessDenied`), as S3
    /// refuses a role without `s3:ListBucket` there.
    pub deny_listings_under: Option<String>,
    /// `ListObjectsV2` whose `start-after` is at or after this key is refused the same way:
    /// a walk that fails part of the way through.
    pub deny_listings_after: Option<String>,
    /// `GetPartitions` paged as Glue pages it, but every segment answered with the whole
    /// catalog: a service that ignores `Segment` (as moto, and LocalStack's Glue, which is
    /// moto's, do).
    pub ignore_segments: bool,
    /// `ListObjectsV2` of one prefix beyond this many a second is answered `503 SlowDown`,
    /// as S3 answers a prefix's request rate it has not scaled to
    /// (https://docs.aws.amazon.com/AmazonS3/latest/userguide/optimizing-performance.html).
    pub list_rate: Option<f64>,
}

/// One Glue request the proxy saw.
#[derive(Debug, Clone)]
pub struct Seen {
    pub operation: String,
    pub body: String,
    pub fault: Option<Fault>,
}

#[derive(Default)]
struct S3Ops {
    count: BTreeMap<String, u64>,
    in_flight: BTreeMap<String, u64>,
    max_in_flight: BTreeMap<String, u64>,
    /// When each listing S3 took (not slowed down) arrived, by prefix, for the rate.
    listings: BTreeMap<String, std::collections::VecDeque<std::time::Instant>>,
    /// Every listing taken, and every one slowed down, in order of arrival.
    taken: Vec<std::time::Instant>,
    slowed: Vec<std::time::Instant>,
}

struct State {
    plan: Plan,
    rules: Rules,
    rng: u64,
    seen: Vec<Seen>,
    s3: S3Ops,
    glue: S3Ops,
    /// moto's whole `GetPartitions` answer per paged read (request without its paging, and
    /// the segment), taken at the read's first page: later pages come from it, as from one
    /// snapshot, rather than asking moto for every partition once per page.
    snapshots: BTreeMap<String, Vec<Value>>,
    /// Partition indexes by `database.table`, with the table's partition keys (name, type)
    /// as they were when the first was created.
    indexes: BTreeMap<String, Indexed>,
}

/// A table's partition indexes, and its partition keys.
#[derive(Debug, Clone, Default)]
struct Indexed {
    keys: Vec<(String, String)>,
    indexes: Vec<(String, Vec<String>)>,
}

impl S3Ops {
    /// A request of `operation` begins: counted, and the most in flight kept.
    fn begin(&mut self, operation: &str) {
        *self.count.entry(operation.to_owned()).or_default() += 1;
        let n = self.in_flight.entry(operation.to_owned()).or_default();
        *n += 1;
        let now = *n;
        let max = self.max_in_flight.entry(operation.to_owned()).or_default();
        *max = (*max).max(now);
    }

    fn end(&mut self, operation: &str) {
        if let Some(n) = self.in_flight.get_mut(operation) {
            *n = n.saturating_sub(1);
        }
    }
}

impl State {
    /// xorshift64*: a seeded, repeatable draw without a dependency.
    fn draw(&mut self) -> f64 {
        self.rng ^= self.rng >> 12;
        self.rng ^= self.rng << 25;
        self.rng ^= self.rng >> 27;
        (self.rng.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 11) as f64 / (1u64 << 53) as f64
    }

    fn decide(&mut self, operation: &str) -> Option<Fault> {
        let plan = &self.plan;
        if plan.faults.is_empty()
            || !(plan.operations.is_empty() || plan.operations.contains(&operation))
        {
            return None;
        }
        if self.draw() >= self.plan.rate {
            return None;
        }
        let i = (self.draw() * self.plan.faults.len() as f64) as usize;
        Some(self.plan.faults[i.min(self.plan.faults.len() - 1)])
    }
}

pub struct Proxy {
    pub endpoint: String,
    state: Arc<Mutex<State>>,
}

/// The proxy of the fault tests; every proxy applies Glue's documented behaviour.
pub type FaultProxy = Proxy;

impl Proxy {
    /// A proxy in front of the tests' moto, on its own loopback port, serving on the
    /// calling test's runtime.
    pub async fn start(plan: Plan, seed: u64) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind proxy");
        let (proxy, accept) = Self::serving(listener, plan, seed);
        tokio::spawn(accept);
        proxy
    }

    /// One proxy for every test, with no faults: Glue as documented, in front of moto. It
    /// serves from a thread of its own, so it outlives any one test's runtime.
    pub fn shared() -> &'static Proxy {
        static SHARED: OnceLock<Proxy> = OnceLock::new();
        SHARED.get_or_init(|| {
            let (tx, rx) = std::sync::mpsc::channel();
            std::thread::spawn(move || {
                let runtime = tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(2)
                    .enable_all()
                    .build()
                    .expect("the proxy's runtime");
                runtime.block_on(async move {
                    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind proxy");
                    let (proxy, accept) = Self::serving(listener, Plan::none(), 1);
                    tx.send(proxy).expect("hand the proxy over");
                    accept.await;
                });
            });
            rx.recv().expect("the shared proxy starts")
        })
    }

    fn serving(
        listener: TcpListener,
        plan: Plan,
        seed: u64,
    ) -> (Self, impl std::future::Future<Output = ()> + Send + 'static) {
        let endpoint = format!("http://{}", listener.local_addr().unwrap());
        let upstream = moto().endpoint.trim_start_matches("http://").to_owned();
        let state = Arc::new(Mutex::new(State {
            plan,
            rules: Rules::default(),
            rng: seed | 1,
            seen: Vec::new(),
            s3: S3Ops::default(),
            glue: S3Ops::default(),
            snapshots: BTreeMap::new(),
            indexes: BTreeMap::new(),
        }));
        let shared = state.clone();
        let accept = async move {
            while let Ok((client, _)) = listener.accept().await {
                tokio::spawn(serve(client, upstream.clone(), shared.clone()));
            }
        };
        (Self { endpoint, state }, accept)
    }

    pub fn set_plan(&self, plan: Plan) {
        self.state.lock().unwrap().plan = plan;
    }

    pub fn set_rules(&self, rules: Rules) {
        self.state.lock().unwrap().rules = rules;
    }

    /// The Glue requests seen so far.
    pub fn seen(&self) -> Vec<Seen> {
        self.state.lock().unwrap().seen.clone()
    }

    /// Glue requests by operation: (answered by moto, faulted).
    pub fn tally(&self) -> BTreeMap<String, (usize, usize)> {
        let mut tally: BTreeMap<String, (usize, usize)> = BTreeMap::new();
        for s in self.seen() {
            let t = tally.entry(s.operation).or_default();
            if s.fault.is_some() {
                t.1 += 1;
            } else {
                t.0 += 1;
            }
        }
        tally
    }

    /// S3 requests of an operation (`ListObjectsV2`, `GetObject`, ...) seen so far.
    pub fn s3_requests(&self, operation: &str) -> u64 {
        let state = self.state.lock().unwrap();
        state.s3.count.get(operation).copied().unwrap_or(0)
    }

    /// The most S3 requests of an operation that were in flight at once.
    /// When each listing answered `SlowDown` arrived, and each listing S3 took.
    pub fn listings_slowed(&self) -> (Vec<std::time::Instant>, Vec<std::time::Instant>) {
        let state = self.state.lock().unwrap();
        (state.s3.slowed.clone(), state.s3.taken.clone())
    }

    pub fn s3_max_in_flight(&self, operation: &str) -> u64 {
        let state = self.state.lock().unwrap();
        state.s3.max_in_flight.get(operation).copied().unwrap_or(0)
    }

    /// The most Glue requests of an operation that were in flight at once.
    pub fn glue_max_in_flight(&self, operation: &str) -> u64 {
        let state = self.state.lock().unwrap();
        state
            .glue
            .max_in_flight
            .get(operation)
            .copied()
            .unwrap_or(0)
    }
}

/// One client connection, one request: every response closes the connection, so the
/// client never reuses one the proxy is about to drop.
async fn serve(mut client: TcpStream, upstream: String, state: Arc<Mutex<State>>) {
    let Some((head, body)) = read_request(&mut client).await else {
        return;
    };
    // EventBridge passes through: the proxy makes Glue and S3 behave as documented.
    if header(&head, "x-amz-target").is_some_and(|t| t.starts_with("AWSEvents.")) {
        forward(&mut client, &upstream, &head, &body).await;
        return;
    }
    let operation = header(&head, "x-amz-target")
        .and_then(|t| t.strip_prefix("AWSGlue."))
        .map(str::to_owned);
    match operation {
        Some(op) => {
            state.lock().unwrap().glue.begin(&op);
            serve_glue(client, &upstream, &state, &op, &head, body).await;
            state.lock().unwrap().glue.end(&op);
        }
        None => serve_s3(client, &upstream, &state, head, body).await,
    }
}

async fn serve_glue(
    mut client: TcpStream,
    upstream: &str,
    state: &Mutex<State>,
    operation: &str,
    head: &str,
    body: Vec<u8>,
) {
    let (fault, rules, latency) = {
        let mut state = state.lock().unwrap();
        let fault = state.decide(operation);
        state.seen.push(Seen {
            operation: operation.to_owned(),
            body: String::from_utf8_lossy(&body).into_owned(),
            fault,
        });
        let rules = state.rules.clone();
        (fault, rules, state.rules.glue_latency)
    };
    tokio::time::sleep(latency).await;
    match fault {
        Some(Fault::Throttle) => {
            return answer_error(&mut client, 400, "ThrottlingException", "Rate exceeded").await;
        }
        Some(Fault::Internal) => {
            return answer_error(&mut client, 500, "InternalServiceException", "injected").await;
        }
        Some(Fault::Reset) => {
            // A zero linger makes the close a reset (RST), which is the point; it does not
            // block.
            #[allow(deprecated)]
            let _ = client.set_linger(Some(Duration::ZERO));
            return;
        }
        Some(Fault::Stall) => {
            // Hold the connection until the client gives up on it.
            let mut sink = [0u8; 1];
            let _ = tokio::time::timeout(Duration::from_secs(600), client.read(&mut sink)).await;
            return;
        }
        Some(Fault::Delay(d)) => tokio::time::sleep(d).await,
        None => {}
    }
    let Ok(request) = serde_json::from_slice::<Value>(&body) else {
        return forward(&mut client, upstream, head, &body).await;
    };
    if let Err(message) = documented_rules(operation, &request, &rules) {
        return answer_error(&mut client, 400, "ValidationException", &message).await;
    }
    match operation {
        "CreatePartitionIndex" | "GetPartitionIndexes" | "DeletePartitionIndex" => {
            partition_indexes(&mut client, upstream, state, operation, head, &request).await
        }
        "BatchCreatePartition" if indexed(state, &request).is_some() => {
            let indexed = indexed(state, &request).unwrap();
            let mut request = request;
            let mut errors = Vec::new();
            if let Some(inputs) = request
                .get_mut("PartitionInputList")
                .and_then(Value::as_array_mut)
            {
                let mut sent = Vec::new();
                for input in inputs.drain(..) {
                    match index_refusal(&indexed, &input) {
                        Some(message) => errors.push(json!({"PartitionValues": input["Values"].clone(),
                            "ErrorDetail": {"ErrorCode": "InvalidInputException", "ErrorMessage": message}})),
                        None => sent.push(input),
                    }
                }
                *inputs = sent;
            }
            let body = serde_json::to_vec(&request).unwrap();
            let (status, response) = exchange(upstream, head, &body).await;
            let Some(mut response) = response else { return };
            let have = response
                .get("Errors")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            response["Errors"] = Value::Array(have.into_iter().chain(errors).collect());
            answer_json(&mut client, status, &response).await
        }
        "GetPartitions" => get_partitions(&mut client, upstream, state, head, request).await,
        "BatchGetPartition" if rules.unprocessed > 0.0 => {
            let (status, response) = exchange(upstream, head, &body).await;
            let Some(mut response) = response else { return };
            if let Some(found) = response.get_mut("Partitions").and_then(Value::as_array_mut) {
                let mut kept = Vec::new();
                let mut left = Vec::new();
                for p in found.drain(..) {
                    if state.lock().unwrap().draw() < rules.unprocessed {
                        left.push(json!({"Values": p["Values"].clone()}));
                    } else {
                        kept.push(p);
                    }
                }
                *found = kept;
                response["UnprocessedKeys"] = Value::Array(left);
            }
            answer_json(&mut client, status, &response).await
        }
        "BatchUpdatePartition" if rules.update_errors > 0.0 => {
            let mut request = request;
            let mut errors = Vec::new();
            if let Some(entries) = request.get_mut("Entries").and_then(Value::as_array_mut) {
                let mut sent = Vec::new();
                for e in entries.drain(..) {
                    if state.lock().unwrap().draw() < rules.update_errors {
                        errors.push(json!({"PartitionValueList": e["PartitionValueList"].clone(),
                            "ErrorDetail": {"ErrorCode": "InternalServiceException", "ErrorMessage": "injected by the test proxy"}}));
                    } else {
                        sent.push(e);
                    }
                }
                *entries = sent;
            }
            let body = serde_json::to_vec(&request).unwrap();
            let (status, response) = exchange(upstream, head, &body).await;
            let Some(mut response) = response else { return };
            let have = response
                .get("Errors")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            response["Errors"] = Value::Array(have.into_iter().chain(errors).collect());
            answer_json(&mut client, status, &response).await
        }
        _ => forward(&mut client, upstream, head, &body).await,
    }
}

/// The `database.table` a request names.
fn table_of(request: &Value) -> String {
    let field = |f: &str| request.get(f).and_then(Value::as_str).unwrap_or_default();
    format!("{}.{}", field("DatabaseName"), field("TableName"))
}

/// The indexes of the table a request names, if it has any.
fn indexed(state: &Mutex<State>, request: &Value) -> Option<Indexed> {
    let state = state.lock().unwrap();
    state
        .indexes
        .get(&table_of(request))
        .filter(|i| !i.indexes.is_empty())
        .cloned()
}

/// Why Glue refuses a new partition of an indexed table, if it does: a value of an indexed
/// key that holds U+0000, U+0001 or U+0002, or fails its key's type (the guide's types for
/// indexes: string, char, varchar; int, bigint, long, tinyint, smallint; date, yyyy-MM-dd).
fn index_refusal(indexed: &Indexed, input: &Value) -> Option<String> {
    let values: Vec<&str> = input["Values"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|v| v.as_str().unwrap_or_default())
        .collect();
    let keys: std::collections::BTreeSet<&str> = indexed
        .indexes
        .iter()
        .flat_map(|(_, k)| k.iter().map(String::as_str))
        .collect();
    for ((name, ty), value) in indexed.keys.iter().zip(values) {
        if !keys.contains(name.as_str()) {
            continue;
        }
        if let Some(c) = value
            .chars()
            .find(|c| matches!(c, '\u{0}' | '\u{1}' | '\u{2}'))
        {
            return Some(format!(
                "The value of indexed partition key {name} holds an unsupported character U+{:04X}",
                u32::from(c)
            ));
        }
        if !index_type_holds(ty, value) {
            return Some(format!(
                "The value of indexed partition key {name} is not a valid {ty}"
            ));
        }
    }
    None
}

/// Whether a value is of the format of an indexed key's type.
fn index_type_holds(ty: &str, value: &str) -> bool {
    let base = ty
        .split('(')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    match base.as_str() {
        "tinyint" => value.parse::<i8>().is_ok(),
        "smallint" => value.parse::<i16>().is_ok(),
        "int" | "integer" => value.parse::<i32>().is_ok(),
        "bigint" | "long" => value.parse::<i64>().is_ok(),
        "date" => {
            let part = |r: std::ops::Range<usize>| {
                value
                    .get(r)
                    .filter(|p| p.bytes().all(|b| b.is_ascii_digit()))
                    .and_then(|p| p.parse::<u32>().ok())
            };
            let (Some(y), Some(m), Some(d)) = (part(0..4), part(5..7), part(8..10)) else {
                return false;
            };
            let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
            let days = match m {
                1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
                4 | 6 | 9 | 11 => 30,
                2 if leap => 29,
                2 => 28,
                _ => 0,
            };
            value.len() == 10
                && &value[4..5] == "-"
                && &value[7..8] == "-"
                && (1..=days).contains(&d)
        }
        _ => true,
    }
}

/// `CreatePartitionIndex`, `GetPartitionIndexes` and `DeletePartitionIndex`, kept by the
/// proxy as the Glue API reference describes them (moto keeps no index).
async fn partition_indexes(
    client: &mut TcpStream,
    upstream: &str,
    state: &Mutex<State>,
    operation: &str,
    head: &str,
    request: &Value,
) {
    let table = table_of(request);
    match operation {
        "CreatePartitionIndex" => {
            // The table's partition keys, from moto.
            let get =
                json!({"DatabaseName": request["DatabaseName"], "Name": request["TableName"]});
            let head = with_target(head, "AWSGlue.GetTable");
            let (status, response) =
                exchange(upstream, &head, &serde_json::to_vec(&get).unwrap()).await;
            let Some(response) = response else { return };
            if status != 200 {
                return answer_json(client, status, &response).await;
            }
            let keys: Vec<(String, String)> = response
                .pointer("/Table/PartitionKeys")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .map(|k| {
                    let field = |f: &str| k[f].as_str().unwrap_or_default().to_owned();
                    (field("Name"), field("Type"))
                })
                .collect();
            let index = &request["PartitionIndex"];
            let name = index["IndexName"].as_str().unwrap_or_default().to_owned();
            let wanted: Vec<String> = index["Keys"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|k| k.as_str().map(str::to_owned))
                .collect();
            if wanted.is_empty() || !wanted.iter().all(|w| keys.iter().any(|(k, _)| k == w)) {
                return answer_error(
                    client,
                    400,
                    "InvalidInputException",
                    "Partition index keys must be partition keys of the table",
                )
                .await;
            }
            let full = {
                let mut state = state.lock().unwrap();
                let entry = state.indexes.entry(table).or_insert_with(|| Indexed {
                    keys,
                    indexes: Vec::new(),
                });
                let full = entry.indexes.len() >= 3;
                if !full {
                    entry.indexes.push((name, wanted));
                }
                full
            };
            if full {
                return answer_error(
                    client,
                    400,
                    "ResourceNumberLimitExceededException",
                    "A table has at most 3 partition indexes",
                )
                .await;
            }
            answer_json(client, 200, &json!({})).await
        }
        "GetPartitionIndexes" => {
            let indexed = state
                .lock()
                .unwrap()
                .indexes
                .get(&table)
                .cloned()
                .unwrap_or_default();
            let list: Vec<Value> = indexed
                .indexes
                .iter()
                .map(|(name, keys)| {
                    let keys: Vec<Value> = keys
                        .iter()
                        .map(|k| {
                            let ty = indexed
                                .keys
                                .iter()
                                .find(|(n, _)| n == k)
                                .map(|(_, t)| t.clone());
                            json!({"Name": k, "Type": ty})
                        })
                        .collect();
                    json!({"IndexName": name, "Keys": keys, "IndexStatus": "ACTIVE"})
                })
                .collect();
            answer_json(client, 200, &json!({"PartitionIndexDescriptorList": list})).await
        }
        _ => {
            let name = request["IndexName"].as_str().unwrap_or_default();
            if let Some(indexed) = state.lock().unwrap().indexes.get_mut(&table) {
                indexed.indexes.retain(|(n, _)| n != name);
            }
            answer_json(client, 200, &json!({})).await
        }
    }
}

/// A request head with another `X-Amz-Target` (moto does not check signatures).
fn with_target(head: &str, target: &str) -> String {
    head.split("\r\n")
        .map(|line| match line.split_once(':') {
            Some((name, _)) if name.trim().eq_ignore_ascii_case("x-amz-target") => {
                format!("X-Amz-Target: {target}")
            }
            _ => line.to_owned(),
        })
        .collect::<Vec<_>>()
        .join("\r\n")
}

/// Length as Glue counts it: UTF-16 code units.
fn glue_length(text: &str) -> usize {
    text.chars().map(char::len_utf16).sum()
}

/// `StorageDescriptor.Location`'s pattern, character by character.
fn location_character(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}')
        || u32::from(c) >= 0x10000
}

/// Glue's documented constraints on the requests the registrar sends (AWS Glue API
/// reference: PartitionInput, StorageDescriptor, BatchCreatePartition, BatchUpdatePartition,
/// BatchGetPartition, GetPartitions, Segment), and a test's own refused partitions. The
/// message is Glue's: which member broke which rule.
fn documented_rules(operation: &str, request: &Value, rules: &Rules) -> Result<(), String> {
    let array = |field: &str| -> Vec<Value> {
        request
            .get(field)
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default()
    };
    let check_input = |member: &str, input: &Value| -> Result<(), String> {
        for (i, v) in input["Values"].as_array().into_iter().flatten().enumerate() {
            let len = v.as_str().map_or(0, glue_length);
            if !(1..=1024).contains(&len) {
                return Err(format!(
                    "1 validation error detected: Value at '{member}.values.{}.member' failed to satisfy constraint: Member must have length less than or equal to 1024 and greater than or equal to 1",
                    i + 1
                ));
            }
        }
        if let Some(location) = input
            .pointer("/StorageDescriptor/Location")
            .and_then(Value::as_str)
        {
            if glue_length(location) > 2056 {
                return Err(format!(
                    "1 validation error detected: Value at '{member}.storageDescriptor.location' failed to satisfy constraint: Member must have length less than or equal to 2056"
                ));
            }
            if !location.chars().all(location_character) {
                return Err(format!(
                    "1 validation error detected: Value at '{member}.storageDescriptor.location' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\u0020-\\uD7FF\\uE000-\\uFFFD\\uD800\\uDC00-\\uDBFF\\uDFFF\\r\\n\\t]*"
                ));
            }
        }
        let values: Vec<String> = input["Values"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|v| v.as_str().map(str::to_owned))
            .collect();
        if rules.refuse.contains(&values) {
            return Err(format!(
                "One or more inputs failed validation: partition {values:?} is refused"
            ));
        }
        Ok(())
    };
    match operation {
        "BatchCreatePartition" => {
            let inputs = array("PartitionInputList");
            if inputs.len() > 100 {
                return Err("1 validation error detected: Value at 'partitionInputList' failed to satisfy constraint: Member must have length less than or equal to 100".into());
            }
            for (i, input) in inputs.iter().enumerate() {
                check_input(&format!("partitionInputList.{}.member", i + 1), input)?;
            }
        }
        "BatchUpdatePartition" => {
            let entries = array("Entries");
            if entries.len() > 100 {
                return Err("1 validation error detected: Value at 'entries' failed to satisfy constraint: Member must have length less than or equal to 100".into());
            }
            for (i, e) in entries.iter().enumerate() {
                check_input(
                    &format!("entries.{}.member.partitionInput", i + 1),
                    &e["PartitionInput"],
                )?;
            }
        }
        "BatchGetPartition" if array("PartitionsToGet").len() > 1000 => {
            return Err("1 validation error detected: Value at 'partitionsToGet' failed to satisfy constraint: Member must have length less than or equal to 1000".into());
        }
        "GetPartitions" => {
            if let Some(max) = request.get("MaxResults").and_then(Value::as_i64)
                && !(1..=1000).contains(&max)
            {
                return Err("1 validation error detected: Value at 'maxResults' failed to satisfy constraint: Member must have value less than or equal to 1000 and greater than or equal to 1".into());
            }
            if let Some(segment) = request.get("Segment") {
                let total = segment["TotalSegments"].as_i64().unwrap_or(0);
                let number = segment["SegmentNumber"].as_i64().unwrap_or(-1);
                if !(1..=10).contains(&total) || !(0..total).contains(&number) {
                    return Err("1 validation error detected: Value at 'segment' failed to satisfy constraint: TotalSegments is 1 to 10 and SegmentNumber below it".into());
                }
            }
        }
        _ => {}
    }
    Ok(())
}

/// A partition's segment: a stable hash of its values, as Glue spreads a table's partitions
/// over the segments of a parallel read.
fn segment_of(values: &Value, total: u64) -> u64 {
    let text = values.to_string();
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in text.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x100_0000_01b3);
    }
    h % total
}

/// `GetPartitions` as Glue pages it: moto's whole answer, cut into the request's segment
/// and page; the token is the proxy's own (`proxy-OFFSET`).
async fn get_partitions(
    client: &mut TcpStream,
    upstream: &str,
    state: &Mutex<State>,
    head: &str,
    request: Value,
) {
    let max = request
        .get("MaxResults")
        .and_then(Value::as_u64)
        .unwrap_or(1000) as usize;
    let (number, total) = match request.get("Segment") {
        Some(s) => (
            s["SegmentNumber"].as_u64().unwrap_or(0),
            s["TotalSegments"].as_u64().unwrap_or(1),
        ),
        None => (0, 1),
    };
    let offset = match request.get("NextToken").and_then(Value::as_str) {
        None => 0,
        Some(token) => match token.strip_prefix("proxy-").and_then(|n| n.parse().ok()) {
            Some(n) => n,
            None => {
                return answer_error(client, 400, "InvalidInputException", "Invalid NextToken")
                    .await;
            }
        },
    };
    let exclude = request.get("ExcludeColumnSchema").and_then(Value::as_bool) == Some(true);
    let ignore_segments = state.lock().unwrap().rules.ignore_segments;
    let mut upstream_request = request.clone();
    if let Some(o) = upstream_request.as_object_mut() {
        for field in ["NextToken", "MaxResults", "Segment"] {
            o.remove(field);
        }
    }
    let read = format!("{upstream_request}#{number}/{total}");
    let cached = match offset {
        0 => None,
        _ => state.lock().unwrap().snapshots.get(&read).cloned(),
    };
    let all = match cached {
        Some(all) => all,
        None => {
            let body = serde_json::to_vec(&upstream_request).unwrap();
            let (status, response) = exchange(upstream, head, &body).await;
            let Some(mut response) = response else { return };
            if status != 200 {
                return answer_json(client, status, &response).await;
            }
            let mut all: Vec<Value> = response
                .get_mut("Partitions")
                .and_then(Value::as_array_mut)
                .map(std::mem::take)
                .unwrap_or_default()
                .into_iter()
                .filter(|p| ignore_segments || segment_of(&p["Values"], total) == number)
                .collect();
            all.sort_by_key(|p| p["Values"].to_string());
            state
                .lock()
                .unwrap()
                .snapshots
                .insert(read.clone(), all.clone());
            all
        }
    };
    let page: Vec<Value> = all
        .iter()
        .skip(offset)
        .take(max)
        .cloned()
        .map(|mut p| {
            if exclude
                && let Some(sd) = p
                    .get_mut("StorageDescriptor")
                    .and_then(Value::as_object_mut)
            {
                sd.remove("Columns");
            }
            p
        })
        .collect();
    let mut answer = json!({"Partitions": page});
    if offset + max < all.len() {
        answer["NextToken"] = json!(format!("proxy-{}", offset + max));
    } else {
        state.lock().unwrap().snapshots.remove(&read);
    }
    answer_json(client, 200, &answer).await
}

/// The S3 operation of a request, as the counters name it.
fn s3_operation(head: &str) -> String {
    let line = head.lines().next().unwrap_or("");
    let mut parts = line.split_whitespace();
    let (method, target) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let object = path.trim_start_matches('/').contains('/');
    match method {
        "GET" if query.contains("list-type=2") => "ListObjectsV2",
        "GET" if object => "GetObject",
        "HEAD" if object => "HeadObject",
        "PUT" if object => "PutObject",
        "DELETE" if object => "DeleteObject",
        m => return format!("{m} {}", if object { "object" } else { "bucket" }),
    }
    .to_owned()
}

async fn serve_s3(
    mut client: TcpStream,
    upstream: &str,
    state: &Mutex<State>,
    mut head: String,
    body: Vec<u8>,
) {
    let operation = s3_operation(&head);
    let (latency, ignore_range, denied, slow_down) = {
        let mut state = state.lock().unwrap();
        state.s3.begin(&operation);
        let mut slow_down = false;
        if operation == "ListObjectsV2"
            && let Some(rate) = state.rules.list_rate
        {
            let now = std::time::Instant::now();
            let times = state
                .s3
                .listings
                .entry(query_param(&head, "prefix"))
                .or_default();
            while times
                .front()
                .is_some_and(|t| now.duration_since(*t) > Duration::from_secs(1))
            {
                times.pop_front();
            }
            if times.len() as f64 >= rate {
                slow_down = true;
            } else {
                times.push_back(now);
            }
            if slow_down {
                state.s3.slowed.push(now);
            } else {
                state.s3.taken.push(now);
            }
        }
        let rules = &state.rules;
        let latency = if operation == "ListObjectsV2" {
            rules.list_latency
        } else {
            rules.s3_latency
        };
        let denied = operation == "ListObjectsV2"
            && (rules
                .deny_listings_under
                .as_deref()
                .is_some_and(|p| query_param(&head, "prefix").starts_with(p))
                || rules.deny_listings_after.as_deref().is_some_and(|k| {
                    let after = query_param(&head, "start-after");
                    !after.is_empty() && after.as_str() >= k
                }));
        (
            latency,
            rules.ignore_range && operation == "GetObject",
            denied,
            slow_down,
        )
    };
    tokio::time::sleep(latency).await;
    if slow_down {
        let body = "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message></Error>";
        let response = format!(
            "HTTP/1.1 503 Slow Down\r\nContent-Type: application/xml\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        );
        let _ = client.write_all(response.as_bytes()).await;
        let _ = client.shutdown().await;
    } else if denied {
        let body = "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>AccessDenied</Code><Message>Access Denied</Message></Error>";
        let response = format!(
            "HTTP/1.1 403 Forbidden\r\nContent-Type: application/xml\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        );
        let _ = client.write_all(response.as_bytes()).await;
        let _ = client.shutdown().await;
    } else {
        if ignore_range {
            head = head
                .split("\r\n")
                .filter(|l| !l.to_ascii_lowercase().starts_with("range:"))
                .collect::<Vec<_>>()
                .join("\r\n");
        }
        forward(&mut client, upstream, &head, &body).await;
    }
    state.lock().unwrap().s3.end(&operation);
}

/// A query parameter of the request, decoded (empty when absent).
fn query_param(head: &str, name: &str) -> String {
    let target = head
        .lines()
        .next()
        .unwrap_or("")
        .split_whitespace()
        .nth(1)
        .unwrap_or("");
    let query = target.split_once('?').map_or("", |(_, q)| q);
    let raw = query
        .split('&')
        .find_map(|kv| kv.strip_prefix(name)?.strip_prefix('='))
        .unwrap_or("");
    let mut out = Vec::new();
    let bytes = raw.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("");
                out.push(u8::from_str_radix(hex, 16).unwrap_or(b'?'));
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

async fn read_request(client: &mut TcpStream) -> Option<(String, Vec<u8>)> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    let head_end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        let n = client.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    let length: usize = header(&head, "content-length")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let mut body = buf[head_end..].to_vec();
    while body.len() < length {
        let n = client.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        body.extend_from_slice(&chunk[..n]);
    }
    Some((head, body))
}

fn header<'h>(head: &'h str, name: &str) -> Option<&'h str> {
    head.lines().find_map(|line| {
        let (n, v) = line.split_once(':')?;
        n.trim().eq_ignore_ascii_case(name).then(|| v.trim())
    })
}

/// The head with its `Connection` header replaced by `Connection: close`, and, when the
/// body changed, its length.
fn closing(head: &str, length: Option<usize>) -> String {
    let mut out = String::with_capacity(head.len() + 20);
    for line in head.trim_end().lines() {
        let name = line.split(':').next().unwrap_or("").trim();
        let drop = name.eq_ignore_ascii_case("connection")
            || name.eq_ignore_ascii_case("keep-alive")
            || (length.is_some()
                && (name.eq_ignore_ascii_case("content-length")
                    || name.eq_ignore_ascii_case("transfer-encoding")));
        if !drop {
            out.push_str(line);
            out.push_str("\r\n");
        }
    }
    if let Some(n) = length {
        out.push_str(&format!("Content-Length: {n}\r\n"));
    }
    out.push_str("Connection: close\r\n\r\n");
    out
}

/// Send a request to moto and read the whole response: (head, body, whether the body was
/// sent in chunks and is now whole).
async fn upstream_response(
    upstream: &str,
    head: &str,
    body: &[u8],
) -> Option<(String, Vec<u8>, bool)> {
    let mut server = TcpStream::connect(upstream).await.ok()?;
    let mut request = closing(head, Some(body.len())).into_bytes();
    request.extend_from_slice(body);
    server.write_all(&request).await.ok()?;
    let mut response = Vec::new();
    server.read_to_end(&mut response).await.ok()?;
    let end = response.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = String::from_utf8_lossy(&response[..end + 4]).into_owned();
    let mut body = response[end + 4..].to_vec();
    let chunked =
        header(&head, "transfer-encoding").is_some_and(|t| t.eq_ignore_ascii_case("chunked"));
    if chunked {
        body = dechunk(&body)?;
    }
    Some((head, body, chunked))
}

fn dechunk(mut data: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    loop {
        let line_end = data.windows(2).position(|w| w == b"\r\n")?;
        let size =
            usize::from_str_radix(std::str::from_utf8(&data[..line_end]).ok()?.trim(), 16).ok()?;
        data = &data[line_end + 2..];
        if size == 0 {
            return Some(out);
        }
        out.extend_from_slice(data.get(..size)?);
        data = data.get(size + 2..)?;
    }
}

async fn forward(client: &mut TcpStream, upstream: &str, head: &str, body: &[u8]) {
    let Some((head, body, chunked)) = upstream_response(upstream, head, body).await else {
        return;
    };
    let mut out = closing(&head, chunked.then_some(body.len())).into_bytes();
    out.extend_from_slice(&body);
    let _ = client.write_all(&out).await;
    let _ = client.shutdown().await;
}

/// Send a Glue request to moto and read its JSON answer: (status, body).
async fn exchange(upstream: &str, head: &str, body: &[u8]) -> (u16, Option<Value>) {
    let Some((head, body, _)) = upstream_response(upstream, head, body).await else {
        return (502, None);
    };
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(502);
    (status, serde_json::from_slice(&body).ok())
}

async fn answer_json(client: &mut TcpStream, status: u16, body: &Value) {
    let body = serde_json::to_vec(body).unwrap();
    let response = format!(
        "HTTP/1.1 {status} OK\r\nContent-Type: application/x-amz-json-1.1\r\nx-amzn-RequestId: 00000000-0000-0000-0000-000000000000\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    let _ = client.write_all(response.as_bytes()).await;
    let _ = client.write_all(&body).await;
    let _ = client.shutdown().await;
}

async fn answer_error(client: &mut TcpStream, status: u16, code: &str, message: &str) {
    let body = json!({"__type": code, "message": message}).to_string();
    let reason = if status == 400 {
        "Bad Request"
    } else {
        "Internal Server Error"
    };
    let response = format!(
        "HTTP/1.1 {status} {reason}\r\nContent-Type: application/x-amz-json-1.1\r\nx-amzn-ErrorType: {code}\r\nx-amzn-RequestId: 00000000-0000-0000-0000-000000000000\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = client.write_all(response.as_bytes()).await;
    let _ = client.shutdown().await;
}
