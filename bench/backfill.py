"""Backfill benchmark: the shipped binary's `backfill` over trees built in moto.

Trees (objects put straight into moto's S3 backend, in this process, so that building 100,000
objects takes seconds, not minutes; the binary reaches moto over loopback as usual):
- many small partitions: Hive year/month/day/hour, 10 objects and a _SUCCESS marker each;
- the same shape at 300 partitions x 10 objects, the tree of the side-by-side comparison;
- a few large partitions: 8 of 5,000 objects each, over two days;
- a template layout (logs/${year}/${month}/${day}/${hour}), many small partitions.

For each: ListObjectsV2 requests, Glue requests, wall time and the process's peak RSS, beside
what a delimiter walk that trusts prefixes would send (one request per directory above the
partition level, per 1,000 entries) and one request per 1,000 objects.

Usage: backfill.py BINARY [--smoke] [--results bench/results.json]
"""

import argparse
import json
import os
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "scripts"))
from local_moto import emulator_env, in_process_moto  # noqa: E402
from results import merge  # noqa: E402

REGION = "us-east-1"
ACCOUNT = "123456789012"
BUCKET = "backfill-bench"


def hive_key(table, p, f, name="part"):
    day, hour = divmod(p, 24)
    month, day = divmod(day, 28)
    year, month = divmod(month, 12)
    return f"{table}/year={2020 + year}/month={month + 1:02}/day={day + 1:02}/hour={hour:02}/{name}-{f:05}.parquet"


def template_key(table, p, f):
    day, hour = divmod(p, 24)
    month, day = divmod(day, 28)
    year, month = divmod(month, 12)
    return f"{table}/{2020 + year}/{month + 1:02}/{day + 1:02}/{hour:02}/app-{f:05}.log.gz"


def trees(smoke):
    """name -> (table, template?, keys, partitions)."""
    small, small_files = (60, 3) if smoke else (10_000, 10)
    large, large_files = (4, 1200) if smoke else (8, 5_000)
    out = {}
    keys = [hive_key("small", p, f) for p in range(small) for f in range(small_files)]
    keys += [hive_key("small", p, 0, "_SUCCESS") for p in range(small)]
    out["many small partitions (Hive y/m/d/h)"] = ("small", False, keys, small)
    if not smoke:
        keys = [hive_key("compare", p, f) for p in range(300) for f in range(10)]
        out["300 partitions x 10 objects (Hive y/m/d/h)"] = ("compare", False, keys, 300)
    # Two days, hours 0.. of each: p = day * 24 + hour.
    parts = [d * 24 + h for d in range(2) for h in range(large // 2)]
    keys = [hive_key("large", p, f) for p in parts for f in range(large_files)]
    out[f"{large} partitions of {large_files:,} objects (Hive y/m/d/h)"] = ("large", False, keys, large)
    keys = [template_key("tpl", p, f) for p in range(small) for f in range(small_files)]
    out["template layout (logs/${year}/${month}/${day}/${hour})"] = ("tpl", True, keys, small)
    return out


def delimiter_walk(table, keys, depth):
    """Requests of a delimiter walk that trusts prefixes: one per directory above the partition
    level, per 1,000 entries listed in it."""
    children = {}
    for key in keys:
        parts = key[len(table) + 1:].split("/")
        for level in range(depth):
            parent = "/".join(parts[:level])
            children.setdefault(parent, set()).add(parts[level])
    return sum(-(-len(c) // 1000) for c in children.values())


def populate(keys):
    from moto.backends import get_backend

    s3 = get_backend("s3")[ACCOUNT]["global"]
    if BUCKET not in s3.buckets:
        s3.create_bucket(BUCKET, REGION)
    for key in keys:
        s3.put_object(BUCKET, key, b"x")


def create_table(glue, table, template):
    params = {"storage.location.template": f"s3://{BUCKET}/{table}/${{year}}/${{month}}/${{day}}/${{hour}}"} if template else {}
    glue.create_table(DatabaseName="bench", TableInput={
        "Name": table, "TableType": "EXTERNAL_TABLE", "Parameters": params,
        "PartitionKeys": [{"Name": k, "Type": "int"} for k in ("year", "month", "day", "hour")],
        "StorageDescriptor": {"Columns": [{"Name": "v", "Type": "string"}], "Location": f"s3://{BUCKET}/{table}/",
                              "InputFormat": "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat",
                              "OutputFormat": "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat",
                              "SerdeInfo": {"SerializationLibrary": "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe"}}})


def ops(text):
    return dict(kv.split("=") for kv in text.split() if "=" in kv)


def watch_peak_rss(pid, out):
    """The process's own high-water mark (VmHWM), read until it exits. (getrusage's maxrss
    of a child would count this Python process too, inherited at fork.)"""
    while True:
        try:
            with open(f"/proc/{pid}/status") as f:
                for line in f:
                    if line.startswith("VmHWM:"):
                        out["hwm_kib"] = max(out["hwm_kib"], int(line.split()[1]))
        except OSError:
            return
        time.sleep(0.005)


def run_measured(command, env):
    """Run `command` to its end: its exit status, wall time, output, peak RSS and CPU (user +
    system, as the kernel accounts the process)."""
    started = time.perf_counter()
    proc = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    out = {"hwm_kib": 0}
    threading.Thread(target=lambda: out.update(stdout=proc.stdout.read()), daemon=True).start()
    threading.Thread(target=watch_peak_rss, args=(proc.pid, out), daemon=True).start()
    stderr = proc.stderr.read()
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - started
    while "stdout" not in out:
        time.sleep(0.01)
    return {"status": os.waitstatus_to_exitcode(status), "wall_s": wall, "stderr": stderr,
            "stdout": out["stdout"], "peak_rss_mib": out["hwm_kib"] / 1024,
            "cpu_s": usage.ru_utime + usage.ru_stime}


def sync_summary(stderr):
    """The run's `sync summary` log line."""
    return next(json.loads(l) for l in stderr.splitlines()
                if l.startswith("{") and json.loads(l).get("message") == "sync summary")


def backfill(binary, endpoint, table):
    r = run_measured([binary, "backfill", "--table", f"bench.{table}"], emulator_env(endpoint, LOG_LEVEL="info"))
    if r["status"] != 0:
        sys.exit(f"backfill of {table} failed: {r['stderr'][-2000:]}")
    summary = sync_summary(r["stderr"])
    report = json.loads(r["stdout"])
    return {
        # The totals: a report's lists are bounded by bytes (MAX_LISTED_BYTES), its counts are not.
        "created": report["counts"]["created"],
        "list_requests": int(ops(summary["s3_ops"]).get("ListObjectsV2", 0)),
        "glue_requests": {k: int(v) for k, v in ops(summary["glue_ops"]).items()},
        "wall_s": round(r["wall_s"], 2),
        "peak_rss_mib": round(r["peak_rss_mib"], 1),
        "cpu_s": round(r["cpu_s"], 2),
    }


def main():
    args = argparse.ArgumentParser()
    args.add_argument("binary")
    args.add_argument("--smoke", action="store_true")
    args.add_argument("--results", default="bench/results.json")
    a = args.parse_args()
    binary = os.path.abspath(a.binary)

    import boto3

    server, port = in_process_moto()
    endpoint = f"http://127.0.0.1:{port}"
    results = {}
    try:
        glue = boto3.client("glue", endpoint_url=endpoint, region_name=REGION,
                            aws_access_key_id="testing", aws_secret_access_key="testing")
        glue.create_database(DatabaseInput={"Name": "bench"})
        for name, (table, template, keys, partitions) in trees(a.smoke).items():
            populate(keys)
            create_table(glue, table, template)
            r = backfill(binary, endpoint, table)
            objects = len(keys)
            r.update(objects=objects, partitions=partitions,
                     delimiter_walk_requests=delimiter_walk(table, keys, 4),
                     one_per_1000_objects=-(-objects // 1000))
            if r["created"] != partitions:
                sys.exit(f"{name}: {r['created']} partitions registered, {partitions} expected")
            if r["list_requests"] > r["delimiter_walk_requests"] and not a.smoke:
                print(f"note: {name}: {r['list_requests']} listings, more than a delimiter walk's {r['delimiter_walk_requests']}")
            results[name] = r
    finally:
        server.stop()

    width = max(map(len, results))
    print(f"{'backfill tree':<{width}}  objects  partitions  lists (delimiter walk, 1/1000 obj)  glue  wall s  RSS MiB")
    for name, r in results.items():
        glue_total = sum(r["glue_requests"].values())
        print(f"{name:<{width}}  {r['objects']:>7,}  {r['partitions']:>10,}  {r['list_requests']:>5} "
              f"({r['delimiter_walk_requests']:>4}, {r['one_per_1000_objects']:>4})          {glue_total:>4}  {r['wall_s']:>6}  {r['peak_rss_mib']:>7}")
    if not a.smoke:
        merge(a.results, {"backfill": results})


if __name__ == "__main__":
    main()
