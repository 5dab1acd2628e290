"""CPU of the whole process on a 10,000-record SQS batch (5 MB of JSON, 1,000 partitions).

At 128 MB Lambda gives a function about 1/14 of a vCPU, so CPU time is billed roughly 14 times
over: this measures the shipped binary's user + system time (as /usr/bin/time would, from the
kernel's accounting of the child) for `handle BATCH` creating the 1,000 partitions on moto,
and for the same with `--dry-run`. Each figure is the median of several runs; every run of the
real case registers into a fresh table, so each creates all 1,000 partitions.

Usage: cpu.py BINARY [--smoke] [--results bench/results.json]
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile

import boto3

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "scripts"))
from local_moto import start_moto  # noqa: E402

REGION = "us-east-1"
BUCKET = "bench-bucket"


def batch(records, partitions):
    out = []
    for i in range(records):
        p = i % partitions
        key = f"clickstream/year=2026/month={p // 28 // 24 + 1:02}/day={p // 24 % 28 + 1:02}/hour={p % 24:02}/part-{i:05}%2Bsnappy.parquet"
        body = {"Records": [{"eventVersion": "2.1", "eventSource": "aws:s3", "awsRegion": REGION,
                             "eventTime": "2026-11-25T09:15:42.123Z", "eventName": "ObjectCreated:Put",
                             "userIdentity": {"principalId": "AWS:AIDAEXAMPLE"},
                             "requestParameters": {"sourceIPAddress": "203.0.113.10"},
                             "responseElements": {"x-amz-request-id": "C3D13FE58DE4C810", "x-amz-id-2": "FMyUVURIY8/IgAtTv8xRjskZQpcIZ9KG4V5Wp6S7S"},
                             "s3": {"s3SchemaVersion": "1.0", "configurationId": "registrar",
                                    "bucket": {"name": BUCKET, "ownerIdentity": {"principalId": "A3NL1KOZZKExample"}, "arn": f"arn:aws:s3:::{BUCKET}"},
                                    "object": {"key": key, "size": 1024, "eTag": "d41d8cd98f00b204e9800998ecf8427e", "sequencer": "0065F1A3B2C4D5E6F7"}}}]}
        out.append({"messageId": f"059f36b4-87a3-44ab-83d2-6619759{i:05}", "receiptHandle": "AQEBwJnKyrHigUMZj6rYigCgxlaS3SLy0a",
                    "body": json.dumps(body), "attributes": {"ApproximateReceiveCount": "1", "SentTimestamp": "1795769436091",
                                                              "SenderId": "AIDAIENQZJOLO23YVJ4VO", "ApproximateFirstReceiveTimestamp": "1795769436093"},
                    "messageAttributes": {}, "md5OfBody": "e4e68fb7bd0e697a0ae8f1bb342846b3", "eventSource": "aws:sqs",
                    "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:registrar-events", "awsRegion": REGION})
    return {"Records": out}


def create_table(glue, name):
    glue.create_table(DatabaseName="bench", TableInput={
        "Name": name, "TableType": "EXTERNAL_TABLE",
        "PartitionKeys": [{"Name": k, "Type": "int"} for k in ("year", "month", "day", "hour")],
        "StorageDescriptor": {"Columns": [{"Name": c, "Type": "string"} for c in ("user_id", "url", "referrer")],
                              "Location": f"s3://{BUCKET}/clickstream/",
                              "InputFormat": "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat",
                              "OutputFormat": "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat",
                              "SerdeInfo": {"SerializationLibrary": "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe"}}})


def cpu_ms(binary, env, args):
    proc = subprocess.Popen([binary, *args], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        sys.exit(f"{args} failed: {proc.stderr.read().decode()[-2000:]}")
    return (usage.ru_utime + usage.ru_stime) * 1000


def main():
    a = argparse.ArgumentParser()
    a.add_argument("binary")
    a.add_argument("--smoke", action="store_true")
    a.add_argument("--results", default="bench/results.json")
    a = a.parse_args()
    records, partitions, runs = (200, 20, 1) if a.smoke else (10_000, 1_000, 7)
    moto, port = start_moto()
    size = 0
    try:
        endpoint = f"http://127.0.0.1:{port}"
        glue = boto3.client("glue", endpoint_url=endpoint, region_name=REGION,
                            aws_access_key_id="testing", aws_secret_access_key="testing")
        glue.create_database(DatabaseInput={"Name": "bench"})
        with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
            json.dump(batch(records, partitions), f)
            path = f.name
        size = os.path.getsize(path)
        env = dict(os.environ, AWS_ENDPOINT_URL=endpoint, AWS_REGION=REGION, AWS_ACCESS_KEY_ID="testing",
                   AWS_SECRET_ACCESS_KEY="testing", AWS_EC2_METADATA_DISABLED="true", LOG_LEVEL="warn")
        create_table(glue, "dry")
        dry = [cpu_ms(a.binary, dict(env, GLUE_TABLES="bench.dry"), ["handle", "--dry-run", path]) for _ in range(runs)]
        real = []
        for i in range(runs):
            create_table(glue, f"t{i}")
            real.append(cpu_ms(a.binary, dict(env, GLUE_TABLES=f"bench.t{i}"), ["handle", path]))
            got = len(glue.get_partitions(DatabaseName="bench", TableName=f"t{i}")["Partitions"])
            if got != partitions:
                sys.exit(f"the batch registered {got} partitions, {partitions} expected")
        os.unlink(path)
    finally:
        moto.terminate()
        moto.wait()
    result = {"records": records, "partitions": partitions, "runs": runs,
              "create_cpu_ms": round(statistics.median(real), 1), "dry_run_cpu_ms": round(statistics.median(dry), 1),
              "batch_bytes": size}
    print(f"whole process, {records:,}-record SQS batch, {partitions:,} partitions: "
          f"CPU (user + sys) {result['create_cpu_ms']} ms creating them, {result['dry_run_cpu_ms']} ms dry run "
          f"(median of {runs}; goal <= 20 ms)")
    if not a.smoke:
        with open(a.results) as f:
            everything = json.load(f)
        everything["process_cpu"] = result
        with open(a.results, "w") as f:
            json.dump(everything, f, indent=2)
            f.write("\n")


if __name__ == "__main__":
    main()
