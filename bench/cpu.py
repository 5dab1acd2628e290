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
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from local_moto import emulator_env, start_moto  # noqa: E402
from results import merge  # noqa: E402

REGION = "us-east-1"
BUCKET = "bench-bucket"


def batch(records, partitions):
    """The batch of the end-to-end benchmark (bench/e2e.py): about 5 MB of JSON."""
    from e2e import sqs_batch

    return sqs_batch(records, partitions, "clickstream")


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
        env = emulator_env(endpoint, LOG_LEVEL="warn")
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
        merge(a.results, {"process_cpu": result})


if __name__ == "__main__":
    main()
