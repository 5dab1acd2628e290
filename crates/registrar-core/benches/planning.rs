//! Planning throughput: decode + match + parse + validate + dedupe, on one core.
//! `make bench` runs it; `cargo test --benches` (in `make test`) runs each case once.

use bumpalo::Bump;
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use registrar_core::TableName;
use registrar_core::decode::decode_notification_key;
use registrar_core::event::normalise_text;
use registrar_core::plan::{TableIndex, plan};
use registrar_core::table::Table;
use serde_json::{Value, json};
use std::hint::black_box;

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

fn planning(c: &mut Criterion) {
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
    c.bench_function("sqs_batch_10k/normalise_and_plan", |b| {
        b.iter(|| {
            let arena = Bump::new();
            let event = normalise_text(black_box(&batch), &arena).unwrap();
            let p = plan(&index, &event.objects);
            assert_eq!(p.partitions.len(), PARTITIONS);
            black_box(&p);
        })
    });
}

criterion_group!(benches, planning);
criterion_main!(benches);
