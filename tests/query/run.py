"""Query at once, as a test (part of `make test`): Parquet objects uploaded under a Hive layout
and under a template layout, their S3 events handed to the registrar binary, and then the
tables queried as Athena would (scripts/catalog_query.py): every row comes back with its
partition values right, and a file in a day whose event was lost does not.

Usage: run.py BINARY
"""

import json
import os
import subprocess
import sys

import boto3

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "scripts"))
from catalog_query import CatalogQuery, parquet_file  # noqa: E402
from local_moto import emulator_env, start_moto  # noqa: E402

BUCKET = "query-test"
REGION = "us-east-1"
PARQUET = {
    "InputFormat": "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat",
    "OutputFormat": "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat",
    "SerdeInfo": {"SerializationLibrary": "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe"},
}
COLUMNS = [{"Name": "user_id", "Type": "string"}, {"Name": "url", "Type": "string"}]


def check(condition, message):
    if not condition:
        sys.exit(f"FAIL: {message}")


def parquet(rows):
    """A Parquet file of (user_id, url) rows, as a pipeline writes it."""
    return parquet_file("user_id VARCHAR, url VARCHAR", rows)


def event(keys):
    return {"Records": [{"eventVersion": "2.1", "eventSource": "aws:s3", "awsRegion": REGION,
                         "eventName": "ObjectCreated:Put",
                         "s3": {"bucket": {"name": BUCKET}, "object": {"key": k, "size": 1}}} for k in keys]}


def main():
    binary = os.path.abspath(sys.argv[1])
    moto, port = start_moto()
    endpoint = f"http://127.0.0.1:{port}"
    try:
        kw = dict(endpoint_url=endpoint, region_name=REGION, aws_access_key_id="testing", aws_secret_access_key="testing")
        s3, glue = boto3.client("s3", **kw), boto3.client("glue", **kw)
        s3.create_bucket(Bucket=BUCKET)
        glue.create_database(DatabaseInput={"Name": "analytics"})
        glue.create_table(DatabaseName="analytics", TableInput={
            "Name": "clicks", "TableType": "EXTERNAL_TABLE",
            "PartitionKeys": [{"Name": k, "Type": "string"} for k in ("year", "month", "day")],
            "StorageDescriptor": {"Columns": COLUMNS, "Location": f"s3://{BUCKET}/clicks/", **PARQUET}})
        glue.create_table(DatabaseName="analytics", TableInput={
            "Name": "logs", "TableType": "EXTERNAL_TABLE",
            "Parameters": {"storage.location.template": f"s3://{BUCKET}/logs/${{year}}/${{month}}/${{day}}"},
            "PartitionKeys": [{"Name": k, "Type": "int"} for k in ("year", "month", "day")],
            "StorageDescriptor": {"Columns": COLUMNS, "Location": f"s3://{BUCKET}/logs/", **PARQUET}})

        uploads = {
            "clicks/year=2026/month=11/day=24/part-0.parquet": [("u1", "/a"), ("u2", "/b"), ("u1", "/c")],
            "clicks/year=2026/month=11/day=25/part-0.parquet": [("u3", "/a")],
            "clicks/year=2026/month=11/day=25/part-1.parquet": [("u3", "/d")],
            "logs/2026/11/24/app-0.parquet": [("u9", "/x"), ("u8", "/y")],
            "logs/2026/11/25/app-0.parquet": [("u7", "/z")],
        }
        for key, rows in uploads.items():
            s3.put_object(Bucket=BUCKET, Key=key, Body=parquet(rows))
        s3.put_object(Bucket=BUCKET, Key="clicks/year=2026/month=11/day=25/_SUCCESS", Body=b"")
        # A day whose event was lost upstream: its partition is never registered.
        s3.put_object(Bucket=BUCKET, Key="clicks/year=2026/month=11/day=26/part-0.parquet",
                      Body=parquet([("lost", "/nowhere")]))

        env = emulator_env(endpoint, GLUE_TABLES="analytics.clicks,analytics.logs")
        result = subprocess.run([binary, "handle", "-"], input=json.dumps(event(list(uploads))),
                                capture_output=True, text=True, env=env)
        check(result.returncode == 0, f"the registrar failed: {result.stderr}")
        check(len(json.loads(result.stdout)["created"]) == 4, result.stdout)

        q = CatalogQuery(endpoint)
        q.register("analytics", "clicks")
        q.register("analytics", "logs")
        by_day = q.rows("SELECT year, month, day, count(*), count(DISTINCT user_id) FROM clicks GROUP BY ALL ORDER BY ALL")
        check(by_day == [("2026", "11", "24", 3, 2), ("2026", "11", "25", 2, 1)], f"clicks by day: {by_day}")
        every = q.rows("SELECT user_id, url, day FROM clicks ORDER BY url, user_id")
        want = sorted((u, url, k.split("day=")[1][:2]) for k, rows in uploads.items() if k.startswith("clicks/")
                      for u, url in rows)
        check(sorted(every) == want, f"clicks rows: {every}")
        logs = q.rows("SELECT year, month, day, user_id FROM logs ORDER BY user_id")
        check(logs == [(2026, 11, 25, "u7"), (2026, 11, 24, "u8"), (2026, 11, 24, "u9")], f"logs: {logs}")
        print(q.table("SELECT year, month, day, count(*) AS rows, count(DISTINCT user_id) AS users "
                      "FROM clicks GROUP BY ALL ORDER BY ALL"))
        print("query test: every registered row read back with its partition values; the lost day is not there")
    finally:
        moto.terminate()
        moto.wait()


if __name__ == "__main__":
    main()
