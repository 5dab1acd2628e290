"""End-to-end benchmark: the shipped Lambda binary against moto on loopback.

The binary runs exactly as on Lambda: started with AWS_LAMBDA_RUNTIME_API pointing at a small
implementation of the Lambda Runtime API served here, so cold start, warm invocations and the
process's peak memory are the real ones. Measured:

- start-up: from process start to its first Glue connection (a loopback TCP relay notes it),
  for a one-record event, with an https:// endpoint as on Lambda;
- a 10,000-record SQS batch over 1,000 new partitions: wall time, Glue requests by operation
  (from the function's own summary log line), then the same batch again on the warm process;
- the process's peak RSS (VmHWM) and the binary and zip sizes.

Usage: e2e.py BINARY [--smoke] [--results bench/results.json]
"""

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import threading
import time

import boto3

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "scripts"))
from local_moto import start_moto  # noqa: E402
from results import merge  # noqa: E402
from runtime_api import RuntimeApi  # noqa: E402

REGION = "us-east-1"
BUCKET = "bench-bucket"


class Relay:
    """Loopback TCP relay in front of moto that records when the first connection arrives."""

    def __init__(self, target_port):
        self.target = target_port
        self.first = None
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            client, _ = self.sock.accept()
            if self.first is None:
                self.first = time.perf_counter()
            upstream = socket.create_connection(("127.0.0.1", self.target))
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(src, dst):
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass


def s3_record(key):
    return {"eventVersion": "2.1", "eventSource": "aws:s3", "awsRegion": REGION, "eventTime": "2026-11-25T09:15:42.123Z",
            "eventName": "ObjectCreated:Put",
            "s3": {"s3SchemaVersion": "1.0", "bucket": {"name": BUCKET}, "object": {"key": key, "size": 1024, "sequencer": "00A1"}}}


def sqs_batch(records, partitions, table):
    out = []
    for i in range(records):
        p = i % partitions
        key = f"{table}/year=2026/month={p // 28 // 24 + 1:02}/day={p // 24 % 28 + 1:02}/hour={p % 24:02}/part-{i:05}.parquet"
        out.append({"messageId": f"m-{i}", "receiptHandle": "rh", "body": json.dumps({"Records": [s3_record(key)]}),
                    "attributes": {"ApproximateReceiveCount": "1"}, "messageAttributes": {}, "eventSource": "aws:sqs",
                    "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:q", "awsRegion": REGION})
    return {"Records": out}


def create_table(glue, name):
    glue.create_table(DatabaseName="bench", TableInput={
        "Name": name, "TableType": "EXTERNAL_TABLE",
        "PartitionKeys": [{"Name": k, "Type": "int"} for k in ("year", "month", "day", "hour")],
        "StorageDescriptor": {"Columns": [{"Name": "v", "Type": "string"}], "Location": f"s3://{BUCKET}/{name}/",
                              "InputFormat": "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat",
                              "OutputFormat": "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat",
                              "SerdeInfo": {"SerializationLibrary": "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe"}}})


class Function:
    """The binary started as Lambda starts it; its stdout (JSON logs, EMF) is collected."""

    def __init__(self, binary, endpoint_port, table, scheme="http", extra_env=None):
        self.api = RuntimeApi()
        env = {"PATH": os.environ.get("PATH", ""), "AWS_LAMBDA_RUNTIME_API": f"127.0.0.1:{self.api.port}",
               "AWS_ENDPOINT_URL": f"{scheme}://127.0.0.1:{endpoint_port}", "AWS_REGION": REGION,
               "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_EC2_METADATA_DISABLED": "true",
               "AWS_LAMBDA_FUNCTION_NAME": "bench", "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "128",
               "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST", "AWS_LAMBDA_LOG_STREAM_NAME": "bench", "AWS_LAMBDA_LOG_GROUP_NAME": "bench",
               "GLUE_TABLES": f"bench.{table}", "LOG_LEVEL": "info"}
        env.update(extra_env or {})
        self.lines = []
        self.started = time.perf_counter()
        self.proc = subprocess.Popen([binary], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        threading.Thread(target=lambda: self.lines.extend(self.proc.stdout), daemon=True).start()

    def log_lines(self):
        """The function's JSON log lines (tracing's, not EMF)."""
        return [d for d in map(parse_json, list(self.lines)) if isinstance(d, dict) and "level" in d]

    def summaries(self):
        return [d for d in self.log_lines() if d.get("message") == "invocation summary"]

    def cpu_ns(self):
        """CPU time the process has used so far (all its threads), in nanoseconds."""
        total = 0
        for task in os.listdir(f"/proc/{self.proc.pid}/task"):
            with open(f"/proc/{self.proc.pid}/task/{task}/schedstat") as f:
                total += int(f.read().split()[0])
        return total

    def peak_rss_kib(self):
        with open(f"/proc/{self.proc.pid}/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])

    def stop(self):
        self.proc.terminate()
        self.proc.wait()


def parse_json(line):
    try:
        return json.loads(line)
    except ValueError:
        return None


def wait_for(predicate, timeout=30):
    end = time.time() + timeout
    while time.time() < end:
        if predicate():
            return
        time.sleep(0.01)
    sys.exit("timed out waiting for the function's log")


def ops(summary):
    return dict(kv.split("=") for kv in summary.get("glue_ops", "").split() if "=" in kv)


def criterion(root, name):
    path = os.path.join(root, *name.split("/"), "new", "estimates.json")
    with open(path) as f:
        return json.load(f)["mean"]["point_estimate"]  # nanoseconds


def main():
    args = argparse.ArgumentParser()
    args.add_argument("binary")
    args.add_argument("--smoke", action="store_true", help="tiny sizes, no criterion figures, no results file")
    args.add_argument("--results", default="bench/results.json")
    args.add_argument("--zip", default="dist/bootstrap.zip")
    args.add_argument("--criterion", default="target/criterion", help="criterion's output directory")
    a = args.parse_args()
    records, partitions = (50, 5) if a.smoke else (10_000, 1_000)

    moto, moto_port = start_moto()
    try:
        kw = dict(endpoint_url=f"http://127.0.0.1:{moto_port}", region_name=REGION, aws_access_key_id="testing", aws_secret_access_key="testing")
        glue = boto3.client("glue", **kw)
        glue.create_database(DatabaseInput={"Name": "bench"})
        create_table(glue, "startup")
        create_table(glue, "clickstream")

        # Start-up: process start -> first Glue connection, through the relay, with an https://
        # endpoint as on Lambda, so that the TLS stack and its root certificates are loaded as
        # they are there. (The handshake then fails against the plain relay; only the time to
        # the first connection counts.)
        # The median of several starts: one start is at the mercy of the machine's other work.
        starts = []
        for _ in range(1 if a.smoke else 7):
            relay = Relay(moto_port)
            f = Function(a.binary, relay.port, "startup", scheme="https")
            f.api.invoke({"Records": [s3_record("startup/year=2026/month=11/day=25/hour=00/a.parquet")]},
                         answered=False)
            starts.append((relay.first - f.started) * 1000)
            f.stop()
        startup_ms = statistics.median(starts)

        # The batch, cold then warm, on one process talking to moto directly.
        f = Function(a.binary, moto_port, "clickstream")
        batch = sqs_batch(records, partitions, "clickstream")
        # Process start-up happens here, outside the batch's figures.
        f.api.invoke({"Service": "Amazon S3", "Event": "s3:TestEvent", "Bucket": BUCKET})
        cpu_before = f.cpu_ns()
        cold_done, cold_response = f.api.invoke(batch)
        cold_ms = (cold_done - f.api.delivered) * 1000
        cold_cpu_ms = (f.cpu_ns() - cpu_before) / 1e6
        cpu_before = f.cpu_ns()
        warm_done, warm_response = f.api.invoke(batch)
        warm_ms = (warm_done - f.api.delivered) * 1000
        warm_cpu_ms = (f.cpu_ns() - cpu_before) / 1e6
        wait_for(lambda: len(f.summaries()) >= 3)
        summaries = f.summaries()
        cold, warm = summaries[1], summaries[2]
        rss_kib = f.peak_rss_kib()
        missing = [l for l in f.log_lines() if not l.get("function_request_id")]
        assert not missing, f"log lines without the request id: {missing[:3]}"
        emf = [d for d in map(parse_json, list(f.lines)) if isinstance(d, dict) and "_aws" in d]
        assert emf and all(d.get("function_request_id") for d in emf), "EMF lines without the request id"
        f.stop()
    finally:
        moto.terminate()
        moto.wait()

    created = int(cold["created"])
    results = {
        "startup_to_first_glue_request_ms": round(startup_ms, 2),
        "batch": {"records": records, "partitions": partitions},
        "cold_batch": {"wall_ms": round(cold_ms, 1), "partitions_created": created, "glue_requests": int(cold["glue_requests"]), "glue_requests_by_operation": {k: int(v) for k, v in ops(cold).items()},
                       "handler_ms": round(float(cold["duration_ms"]), 1), "invocation_cpu_ms": round(cold_cpu_ms, 1)},
        "warm_batch": {"wall_ms": round(warm_ms, 1), "glue_requests": int(warm["glue_requests"]), "existing": int(warm["existing"]),
                       "handler_ms": round(float(warm["duration_ms"]), 1), "invocation_cpu_ms": round(warm_cpu_ms, 1)},
        "peak_rss_mib": round(rss_kib / 1024, 1),
        "binary_mib": round(os.path.getsize(a.binary) / 2**20, 2),
    }
    if os.path.exists(a.zip):
        results["zip_mib"] = round(os.path.getsize(a.zip) / 2**20, 2)
    assert cold_response == {"batchItemFailures": []}, cold_response
    assert created == partitions, cold
    assert results["cold_batch"]["glue_requests_by_operation"].get("BatchCreatePartition") == -(-partitions // 100), cold
    assert results["warm_batch"]["glue_requests"] == 0, warm

    if not a.smoke:
        ns_hive = criterion(a.criterion, "plan_keys/decode_match_parse_validate_dedupe/hive")
        ns_tpl = criterion(a.criterion, "plan_keys/decode_match_parse_validate_dedupe/template")
        ns_batch = criterion(a.criterion, "sqs_batch_10k_normalise_and_plan")
        with open(os.path.join(a.criterion, "sqs_batch_10k_allocations.json")) as f:
            allocations = json.load(f)["per_record"]
        results["planning"] = {
            "hive_keys_per_second": round(10_000 / (ns_hive / 1e9)),
            "template_keys_per_second": round(10_000 / (ns_tpl / 1e9)),
            "sqs_batch_10k_plan_ms": round(ns_hive / 1e6, 3),
            "sqs_batch_10k_normalise_and_plan_cpu_ms": round(ns_batch / 1e6, 3),
            "sqs_batch_10k_heap_allocations_per_record": allocations,
        }
        results["machine"] = {"cpus": os.cpu_count(), "cpu": cpu_model(), "date": time.strftime("%Y-%m-%d")}
        merge(a.results, results)
    print_table(results, a.smoke)


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown"


def print_table(r, smoke):
    rows = []
    if "planning" in r:
        p = r["planning"]
        rows += [("planning, Hive layout (keys/s, one core)", f"{p['hive_keys_per_second']:,}", ">= 2,000,000"),
                 ("planning, template layout (keys/s, one core)", f"{p['template_keys_per_second']:,}", ">= 2,000,000"),
                 ("10,000-record SQS batch: its keys planned (ms CPU)", f"{p['sqs_batch_10k_plan_ms']}", "< 5"),
                 ("  read from its 5 MB of JSON and planned (ms CPU)", f"{p['sqs_batch_10k_normalise_and_plan_cpu_ms']}", "<= 8"),
                 ("  heap allocations per record", f"{p['sqs_batch_10k_heap_allocations_per_record']}", "")]
    b = r["batch"]
    c, w = r["cold_batch"], r["warm_batch"]
    rows += [("start-up to first Glue connection (ms, https:// endpoint)", f"{r['startup_to_first_glue_request_ms']}", "<= 16.09 (before)"),
             (f"{b['records']:,}-record batch, {b['partitions']:,} new partitions: wall (ms)", f"{c['wall_ms']}", ""),
             ("  Glue requests", " ".join(f"{k}={v}" for k, v in sorted(c["glue_requests_by_operation"].items())), f"GetTable=1 BatchCreatePartition={-(-b['partitions'] // 100)}"),
             ("  the invocation's CPU (ms, user + system)", f"{c['invocation_cpu_ms']}", "<= 20"),
             ("same batch, warm process: wall (ms)", f"{w['wall_ms']}", ""),
             ("  the invocation's CPU (ms)", f"{w['invocation_cpu_ms']}", ""),
             ("  Glue requests", f"{w['glue_requests']}", "0"),
             ("peak RSS (MiB)", f"{r['peak_rss_mib']}", "< 32"),
             ("binary (MiB)", f"{r['binary_mib']}", "<= 8")]
    if "zip_mib" in r:
        rows.append(("zip (MiB)", f"{r['zip_mib']}", "<= 3.5"))
    width = max(len(x[0]) for x in rows)
    print(("smoke run: " if smoke else "") + "figures")
    print(f"{'measure':<{width}}  {'value':>34}  goal")
    for name, value, goal in rows:
        print(f"{name:<{width}}  {value:>34}  {goal}")


if __name__ == "__main__":
    main()
