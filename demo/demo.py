"""make demo: the registrar end to end on the local AWS emulator.

Starts moto on loopback, sets up what the one-time crawler (or Terraform) would leave behind
(a bucket, a Glue database and partitioned table, an S3 -> SQS notification), uploads several
days of a clickstream dataset (plus two older days uploaded before the notification existed), then plays the part
of Lambda's SQS event source mapping: it
receives the notifications the emulator emitted, hands each batch to the registrar exactly as
Lambda would (`handle -`), and deletes only the messages the registrar did not report in
batchItemFailures. A one-time `backfill` registers the older days, and finally it lists the
table's partitions from Glue.
"""

import json
import os
import subprocess
import sys

import boto3

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "scripts"))
from local_moto import start_moto  # noqa: E402

BINARY = sys.argv[1] if len(sys.argv) > 1 else "target/debug/glue-partition-registrar"
BUCKET = "demo-data-lake"
DATABASE = "analytics"
TABLE = "clickstream"
REGION = "us-east-1"


def main():
    proc, port = start_moto()
    endpoint = f"http://127.0.0.1:{port}"
    env = dict(
        os.environ,
        AWS_ENDPOINT_URL=endpoint,
        AWS_REGION=REGION,
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",
        AWS_EC2_METADATA_DISABLED="true",
        GLUE_TABLES=f"{DATABASE}.{TABLE}",
    )
    os.environ.update({k: env[k] for k in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")})
    try:
        run(endpoint, env)
    finally:
        proc.terminate()
        proc.wait()
        print("\nmoto stopped.")


def run(endpoint, env):
    kw = dict(endpoint_url=endpoint, region_name=REGION)
    s3, sqs, glue = boto3.client("s3", **kw), boto3.client("sqs", **kw), boto3.client("glue", **kw)
    print(f"moto is serving S3, SQS and Glue at {endpoint}\n")

    # What the one-time crawler (or the bundled Terraform) sets up.
    s3.create_bucket(Bucket=BUCKET)
    glue.create_database(DatabaseInput={"Name": DATABASE})
    glue.create_table(
        DatabaseName=DATABASE,
        TableInput={
            "Name": TABLE,
            "TableType": "EXTERNAL_TABLE",
            "Parameters": {"classification": "json"},
            "PartitionKeys": [{"Name": k, "Type": "string"} for k in ("year", "month", "day")],
            "StorageDescriptor": {
                "Columns": [
                    {"Name": "user_id", "Type": "string"},
                    {"Name": "url", "Type": "string"},
                    {"Name": "ts", "Type": "timestamp"},
                ],
                "Location": f"s3://{BUCKET}/{TABLE}/",
                "InputFormat": "org.apache.hadoop.mapred.TextInputFormat",
                "OutputFormat": "org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat",
                "SerdeInfo": {"SerializationLibrary": "org.openx.data.jsonserde.JsonSerDe"},
            },
        },
    )
    # Data that was there before the registrar: no notification will ever mention it.
    for day in (19, 20):
        s3.put_object(Bucket=BUCKET, Key=f"{TABLE}/year=2026/month=11/day={day}/part-00000.json", Body=b"{}")
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
    print(f"created s3://{BUCKET}, Glue table {DATABASE}.{TABLE} (year/month/day), S3 -> SQS notification")

    # Several days of clickstream data, as a Spark job writes it (with its _SUCCESS markers).
    uploaded = 0
    for day in range(21, 26):
        prefix = f"{TABLE}/year=2026/month=11/day={day}/"
        for part in range(3):
            record = {"user_id": f"u{part}", "url": "/checkout", "ts": f"2026-11-{day} 10:0{part}:00"}
            s3.put_object(Bucket=BUCKET, Key=f"{prefix}part-{part:05d}.json", Body=json.dumps(record).encode())
            uploaded += 1
        s3.put_object(Bucket=BUCKET, Key=f"{prefix}_SUCCESS", Body=b"")
        uploaded += 1
    print(f"uploaded {uploaded} objects over 5 days\n")

    # Lambda's SQS event source mapping, played by hand.
    totals = {"created": 0, "existing": 0, "skipped": 0, "failed": 0}
    batches = 0
    while True:
        received = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=1)
        messages = received.get("Messages", [])
        if not messages:
            break
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
    print(f"\nall notifications consumed: {totals}\n")

    explain = subprocess.run(
        [BINARY, "explain", "--table", f"{DATABASE}.{TABLE}", f"{TABLE}/year=2026/month=11/day=25/part-00000.json"],
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

    partitions = glue.get_partitions(DatabaseName=DATABASE, TableName=TABLE)["Partitions"]
    print(f"Glue now lists {len(partitions)} partitions of {DATABASE}.{TABLE}:")
    for p in sorted(partitions, key=lambda p: p["Values"]):
        print(f"  {'/'.join(p['Values']):<12} {p['StorageDescriptor']['Location']}")
    if len(partitions) != 7 or totals["failed"] or len(report["created"]) != 2:
        sys.exit("demo failed: expected 7 partitions (5 from events, 2 from backfill) and no failures")


if __name__ == "__main__":
    main()
