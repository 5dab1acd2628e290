"""make demo: the registrar end to end on the local AWS emulator, ending with SQL.

Starts moto on loopback and sets up what the bundled Terraform (or the one-time crawler) would
leave behind: a bucket, a Glue database and a partitioned Parquet table, an S3 -> SQS
notification. It writes a small clickstream dataset as real Parquet files, a day at a time,
as a pipeline would (two older days before the notification existed), then plays Lambda's
SQS event source mapping: it receives the notifications the emulator emitted, hands each
batch to the registrar exactly as Lambda would (`handle -`), and deletes only the messages
the registrar did not report in batchItemFailures. A one-time `backfill` registers the older
days. One more day is uploaded whose notification is lost on the way.

Each day's `_SUCCESS` marker completes its partition: the registrar puts a `Partition
Complete` event on an EventBridge bus, whose rule delivers it to a queue a downstream pipeline
reads (instead of polling the catalog); the demo reads it as that pipeline would.

Finally it asks Glue for the table and its partitions and runs SQL over exactly those
locations, as Athena would (scripts/catalog_query.py): rows and distinct users per day. The
day whose event was lost is not there, exactly as in Athena, until a sync repairs it.
"""

import json
import os
import random
import subprocess
import sys

import boto3

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "scripts"))
from catalog_query import CatalogQuery, parquet_file  # noqa: E402
from local_moto import emulator_env, start_moto  # noqa: E402

BINARY = sys.argv[1] if len(sys.argv) > 1 else "target/debug/glue-partition-registrar"
BUCKET = "demo-data-lake"
DATABASE = "analytics"
TABLE = "clickstream"
REGION = "us-east-1"
PAGES = ["/", "/search", "/product/42", "/cart", "/checkout"]
BUS = "demo-completions"


def main():
    proc, port = start_moto()
    endpoint = f"http://127.0.0.1:{port}"
    env = emulator_env(endpoint, GLUE_TABLES=f"{DATABASE}.{TABLE}", COMPLETION_BUS=BUS)
    os.environ.update({k: env[k] for k in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")})
    try:
        run(endpoint, env)
    finally:
        proc.terminate()
        proc.wait()
        print("\nmoto stopped.")


def clicks_parquet(day, rng):
    """One file of a day's clicks, written by DuckDB as a pipeline's Parquet writer would."""
    rows = [(f"u{rng.randint(1, 40):02d}", rng.choice(PAGES), f"2026-11-{day} {h:02d}:{m:02d}:00")
            for h in range(8, 20) for m in range(0, 60, rng.choice((10, 15, 20)))]
    return parquet_file("user_id VARCHAR, url VARCHAR, ts TIMESTAMP", rows), len(rows)


def upload_day(s3, day, rng, parts=2):
    prefix = f"{TABLE}/year=2026/month=11/day={day}/"
    rows = 0
    for part in range(parts):
        body, n = clicks_parquet(day, rng)
        s3.put_object(Bucket=BUCKET, Key=f"{prefix}part-{part:05d}.snappy.parquet", Body=body)
        rows += n
    s3.put_object(Bucket=BUCKET, Key=f"{prefix}_SUCCESS", Body=b"")
    return rows


def run(endpoint, env):
    kw = dict(endpoint_url=endpoint, region_name=REGION)
    s3, sqs, glue = boto3.client("s3", **kw), boto3.client("sqs", **kw), boto3.client("glue", **kw)
    events = boto3.client("events", **kw)
    rng = random.Random(25)
    print(f"moto is serving S3, SQS and Glue at {endpoint}\n")

    # What the bundled Terraform (or the one-time crawler) sets up.
    s3.create_bucket(Bucket=BUCKET)
    glue.create_database(DatabaseInput={"Name": DATABASE})
    glue.create_table(
        DatabaseName=DATABASE,
        TableInput={
            "Name": TABLE,
            "TableType": "EXTERNAL_TABLE",
            "Parameters": {"classification": "parquet"},
            "PartitionKeys": [{"Name": k, "Type": "string"} for k in ("year", "month", "day")],
            "StorageDescriptor": {
                "Columns": [
                    {"Name": "user_id", "Type": "string"},
                    {"Name": "url", "Type": "string"},
                    {"Name": "ts", "Type": "timestamp"},
                ],
                "Location": f"s3://{BUCKET}/{TABLE}/",
                "InputFormat": "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat",
                "OutputFormat": "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat",
                "SerdeInfo": {"SerializationLibrary": "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe"},
            },
        },
    )
    # Data that was there before the registrar: no notification will ever mention it.
    expected = {}
    for day in (19, 20):
        expected[str(day)] = upload_day(s3, day, rng)
    print("uploaded 2 days of older data, before any notification existed")

    queue_url = sqs.create_queue(QueueName="registrar-events")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    s3.put_bucket_notification_configuration(
        Bucket=BUCKET,
        NotificationConfiguration={
            "QueueConfigurations": [
                {
                    "QueueArn": queue_arn,
                    "Events": ["s3:ObjectCreated:*"],
                    "Filter": {"Key": {"FilterRules": [{"Name": "prefix", "Value": f"{TABLE}/"}]}},
                }
            ]
        },
    )
    print(f"created s3://{BUCKET}, Glue table {DATABASE}.{TABLE} (Parquet, year/month/day), S3 -> SQS notification")
    # Downstream: a pipeline that starts when a day is complete, on the module's event pattern.
    events.create_event_bus(Name=BUS)
    downstream = sqs.create_queue(QueueName="downstream-pipeline")["QueueUrl"]
    downstream_arn = sqs.get_queue_attributes(QueueUrl=downstream, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"]
    events.put_rule(Name="day-complete", EventBusName=BUS, EventPattern=json.dumps(
        {"source": ["glue-partition-registrar"], "detail-type": ["Partition Complete"]}))
    events.put_targets(Rule="day-complete", EventBusName=BUS, Targets=[{"Id": "pipeline", "Arn": downstream_arn}])
    print(f"created EventBridge bus {BUS}: Partition Complete -> the downstream pipeline's queue")

    # Five days of clickstream data, as a Spark job writes it (with its _SUCCESS markers).
    for day in range(21, 26):
        expected[str(day)] = upload_day(s3, day, rng)
    print("uploaded 5 days of Parquet files (2 parts and a _SUCCESS marker each)\n")

    totals = play_event_source_mapping(sqs, queue_url, queue_arn, env)
    print(f"\nall notifications consumed: {totals}\n")
    complete = []
    while True:
        got = sqs.receive_message(QueueUrl=downstream, MaxNumberOfMessages=10, WaitTimeSeconds=1).get("Messages", [])
        if not got:
            break
        complete += [json.loads(m["Body"]) for m in got]
        for m in got:
            sqs.delete_message(QueueUrl=downstream, ReceiptHandle=m["ReceiptHandle"])
    days = sorted("-".join(e["detail"]["values"]) for e in complete)
    print(f"the downstream pipeline received {len(complete)} Partition Complete events: {days}; the first:")
    print(json.dumps(complete[0], indent=2) if complete else "  (none)")
    print()

    explain = subprocess.run(
        [BINARY, "explain", "--table", f"{DATABASE}.{TABLE}", f"{TABLE}/year=2026/month=11/day=25/part-00000.snappy.parquet"],
        capture_output=True, text=True, env=env, check=True,
    )
    print("explain:", explain.stdout.strip(), "\n")

    # The older days: the one-time backfill that replaces the crawler's first run.
    backfill = subprocess.run(
        [BINARY, "backfill", "--table", f"{DATABASE}.{TABLE}"], capture_output=True, text=True, env=env, check=True
    )
    report = json.loads(backfill.stdout)
    print(f"backfill: created {[p['values'] for p in report['created']]}, "
          f"{len(report['existing'])} already registered by events\n")

    # One more day, whose notification is lost on the way (a message dropped upstream).
    upload_day(s3, 26, rng)
    sqs.purge_queue(QueueUrl=queue_url)
    print("uploaded day 26; its notifications were lost before reaching the registrar\n")

    partitions = glue.get_partitions(DatabaseName=DATABASE, TableName=TABLE)["Partitions"]
    print(f"Glue now lists {len(partitions)} partitions of {DATABASE}.{TABLE}:")
    for p in sorted(partitions, key=lambda p: p["Values"]):
        print(f"  {'/'.join(p['Values']):<12} {p['StorageDescriptor']['Location']}")

    # Query at once: SQL over exactly the partitions Glue lists, as Athena would.
    q = CatalogQuery(endpoint)
    q.register(DATABASE, TABLE)
    sql = (f"SELECT year || '-' || month || '-' || day AS day, count(*) AS rows, count(DISTINCT user_id) AS users, "
           f"min(ts)::TIME AS first_click, max(ts)::TIME AS last_click FROM {TABLE} GROUP BY ALL ORDER BY day")
    print(f"\nquery over the Glue table, as Athena would read it:\n  {sql}\n")
    print(q.table(sql))
    got = {day.split("-")[2]: rows for day, rows, *_ in q.rows(sql)}
    if len(complete) != 5:
        sys.exit(f"demo failed: {len(complete)} Partition Complete events for the 5 days the events carried")
    if len(partitions) != 7 or totals["failed"] or len(report["created"]) != 2 or got != expected:
        sys.exit(f"demo failed: expected 7 partitions with {expected} rows, got {len(partitions)} with {got}")
    print(f"\nevery row of the 7 registered days is there; day 26, never registered, is not "
          f"(a `sync --table {DATABASE}.{TABLE}`, or the nightly repair, would register it).")


def play_event_source_mapping(sqs, queue_url, queue_arn, env):
    """Lambda's SQS event source mapping, played by hand."""
    totals = {"created": 0, "existing": 0, "skipped": 0, "failed": 0}
    batches = 0
    while True:
        received = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=1)
        messages = received.get("Messages", [])
        if not messages:
            return totals
        event = {
            "Records": [
                {
                    "messageId": m["MessageId"],
                    "receiptHandle": m["ReceiptHandle"],
                    "body": m["Body"],
                    "attributes": {"ApproximateReceiveCount": "1"},
                    "messageAttributes": {},
                    "md5OfBody": m["MD5OfBody"],
                    "eventSource": "aws:sqs",
                    "eventSourceARN": queue_arn,
                    "awsRegion": REGION,
                }
                for m in messages
            ]
        }
        result = subprocess.run(
            [BINARY, "handle", "-"], input=json.dumps(event), capture_output=True, text=True, env=env
        )
        if result.returncode == 2:
            sys.exit(f"registrar refused the batch: {result.stderr}")
        report = json.loads(result.stdout)
        retry = {f["itemIdentifier"] for f in report["batchItemFailures"]}
        if not report.get("retryWholeBatch"):
            for m in messages:
                if m["MessageId"] not in retry:
                    sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=m["ReceiptHandle"])
        batches += 1
        for k in totals:
            totals[k] += len(report[k])
        print(
            f"batch {batches}: {len(messages)} messages -> created {len(report['created'])}, "
            f"existing {len(report['existing'])}, skipped {len(report['skipped'])}, "
            f"failed {len(report['failed'])}, messages to retry {len(retry)}"
        )
        for s in report["skipped"]:
            print(f"    skipped s3://{s['bucket']}/{s['key']}: {s['reason']}")


if __name__ == "__main__":
    main()
