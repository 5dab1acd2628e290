//! Planning throughput (decode + match + parse + validate + dedupe), and reading a 10,000-record
//! SQS batch and planning it, measured as CPU time (user + system) of this thread, with the
//! heap allocations it makes per record. `make bench` runs it; `make test` runs each case once.

use bumpalo::Bump;
use criterion::measurement::{Measurement, ValueFormatter};
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use registrar_core::TableName;
use registrar_core::decode::decode_notification_key;
use registrar_core::event::normalise_text;
use registrar_core::plan::{TableIndex, plan};
use registrar_core::table::Table;
use serde_json::{Value, json};
use std::alloc::{GlobalAlloc, Layout, System};
use std::hint::black_box;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Counts heap allocations, to report them per record.
struct Counting;

static ALLOCATIONS: AtomicU64 = AtomicU64::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// CPU time (user + system) of the calling thread: what Lambda bills, whatever else the
/// machine is doing.
struct CpuTime;

fn thread_cpu() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes the timespec it is given.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

impl Measurement for CpuTime {
    type Intermediate = Duration;
    type Value = Duration;
    fn start(&self) -> Duration {
        thread_cpu()
    }
    fn end(&self, start: Duration) -> Duration {
        thread_cpu() - start
    }
    fn add(&self, a: &Duration, b: &Duration) -> Duration {
        *a + *b
    }
    fn zero(&self) -> Duration {
        Duration::ZERO
    }
    fn to_f64(&self, d: &Duration) -> f64 {
        d.as_nanos() as f64
    }
    fn formatter(&self) -> &dyn ValueFormatter {
        &CpuFormatter
    }
}

struct CpuFormatter;

impl ValueFormatter for CpuFormatter {
    fn scale_values(&self, ns: f64, values: &mut [f64]) -> &'static str {
        let (factor, unit) = if ns < 1e3 {
            (1.0, "ns cpu")
        } else if ns < 1e6 {
            (1e-3, "µs cpu")
        } else {
            (1e-6, "ms cpu")
        };
        values.iter_mut().for_each(|v| *v *= factor);
        unit
    }
    fn scale_throughputs(&self, _: f64, t: &Throughput, values: &mut [f64]) -> &'static str {
        if let Throughput::Elements(n) = t {
            values.iter_mut().for_each(|v| *v = *n as f64 * 1e9 / *v);
        }
        "elem/s cpu"
    }
    fn scale_for_machines(&self, _: &mut [f64]) -> &'static str {
        "ns"
    }
}

const RECORDS: usize = 10_000;
const PARTITIONS: usize = 1_000;

fn table(template: bool) -> Table {
    let keys = [
        ("year".to_owned(), "int".to_owned()),
        ("month".to_owned(), "int".to_owned()),
        ("day".to_owned(), "int".to_owned()),
        ("hour".to_owned(), "int".to_owned()),
    ];
    let tpl = "s3://bench-bucket/logs/${year}/${month}/${day}/${hour}";
    let (location, template) = if template {
        ("s3://bench-bucket/logs/", Some(tpl))
    } else {
        ("s3://bench-bucket/clickstream/", None)
    };
    Table::new(
        TableName::parse("bench.t").unwrap(),
        Some(location),
        &keys,
        template,
    )
    .unwrap()
}

/// Keys as S3 notifications carry them (URL-encoded), `RECORDS` objects over `PARTITIONS`.
fn encoded_keys(template: bool) -> Vec<String> {
    (0..RECORDS)
        .map(|i| {
            let p = i % PARTITIONS;
            let (day, hour) = (p / 24 + 1, p % 24);
            if template {
                format!("logs/2026/11/{day:02}/{hour:02}/app+{i}.log.gz")
            } else {
                format!("clickstream/year=2026/month=11/day={day:02}/hour={hour:02}/part-{i:05}%2Bsnappy.parquet")
            }
        })
        .collect()
}

/// A 10,000-record SQS batch, each message one S3 notification, as Lambda delivers it.
pub fn sqs_batch() -> Value {
    let records: Vec<Value> = encoded_keys(false)
        .iter()
        .enumerate()
        .map(|(i, key)| {
            let body = json!({"Records": [{
                "eventVersion": "2.1", "eventSource": "aws:s3", "awsRegion": "us-east-1",
                "eventTime": "2026-11-25T09:15:42.123Z", "eventName": "ObjectCreated:Put",
                "s3": {"s3SchemaVersion": "1.0", "bucket": {"name": "bench-bucket"},
                       "object": {"key": key, "size": 1024, "sequencer": "0065F1A3B2C4D5E6F7"}}}]});
            json!({"messageId": format!("m-{i}"), "receiptHandle": "rh", "body": body.to_string(),
                   "attributes": {}, "messageAttributes": {}, "eventSource": "aws:sqs",
                   "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:q", "awsRegion": "us-east-1"})
        })
        .collect();
    json!({ "Records": records })
}

fn planning(c: &mut Criterion<CpuTime>) {
    let mut group = c.benchmark_group("plan_keys");
    group.throughput(Throughput::Elements(RECORDS as u64));
    for template in [false, true] {
        let tables = [table(template)];
        let index = TableIndex::new(&tables);
        let keys = encoded_keys(template);
        let name = if template { "template" } else { "hive" };
        group.bench_function(
            BenchmarkId::new("decode_match_parse_validate_dedupe", name),
            |b| {
                b.iter(|| {
                    let decoded: Vec<(&str, std::borrow::Cow<'_, str>)> = keys
                        .iter()
                        .map(|k| ("bench-bucket", decode_notification_key(k).unwrap()))
                        .collect();
                    let objects: Vec<(&str, &str)> =
                        decoded.iter().map(|(b, k)| (*b, k.as_ref())).collect();
                    let p = plan(&index, &objects);
                    assert_eq!(p.partitions.len(), PARTITIONS);
                    black_box(&p);
                })
            },
        );
    }
    group.finish();

    // As Lambda hands it over: JSON text.
    let batch = sqs_batch().to_string();
    let tables = [table(false)];
    let index = TableIndex::new(&tables);
    let read_and_plan = || {
        let arena = Bump::new();
        let event = normalise_text(black_box(&batch), &arena).unwrap();
        let p = plan(&index, &event.objects);
        assert_eq!(p.partitions.len(), PARTITIONS);
        black_box(&p);
    };
    c.bench_function("sqs_batch_10k/normalise_and_plan", |b| {
        b.iter(read_and_plan)
    });

    // Heap allocations of one reading and planning of the batch, per record, beside
    // criterion's figures (bench/e2e.py reports them).
    let before = ALLOCATIONS.load(Ordering::Relaxed);
    read_and_plan();
    let per_record = (ALLOCATIONS.load(Ordering::Relaxed) - before) as f64 / RECORDS as f64;
    println!("sqs_batch_10k/normalise_and_plan: {per_record:.2} heap allocations per record");
    if let Ok(dir) = std::env::var("CRITERION_HOME") {
        let path = std::path::Path::new(&dir).join("sqs_batch_10k_allocations.json");
        let _ = std::fs::write(path, format!("{{\"per_record\": {per_record:.3}}}\n"));
    }
}

fn cpu_time() -> Criterion<CpuTime> {
    Criterion::default().with_measurement(CpuTime)
}

criterion_group! {
    name = benches;
    config = cpu_time();
    targets = planning
}
criterion_main!(benches);
