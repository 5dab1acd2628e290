"""Scale benchmark: backfill under real AWS latency, beside glutil's Partitioner, and projected
to lakes of 10 million to 1 billion objects.

Every request of both tools goes through bench/latency_proxy.py in front of moto: 30 ms per
ListObjectsV2, 15 ms per other S3 call, 60 ms per Glue call (and the same runs with 80 ms per
listing, what real S3 takes for a 1,000-key page). Every tree is put into moto through its own
models and its listings answered from a sorted index in the proxy: stock moto costs O(bucket
keys) a listing (0.3 s a page at 10k objects, 0.5 s at 50k, measured here), far more than the
latency it stands for, so that at every size it, not either tool, set the wall time. Every
tree checks the index's answers against stock moto's on a sample of the listings the runs sent.

Trees: Hive dt=/hour= at 10k, 50k, 200k and 500k objects (10 objects a partition), 8 large
partitions (200k objects), and a template layout (200k objects). For each run: wall time, the
proxy's count of list, other S3 and Glue requests, the most in flight, the longest chain of
requests that ran one after another (each starting after the one before it had been answered:
the critical path latency cannot be spread over), the process's peak RSS and CPU, moto's own
share of the wall time (while at least one request was with moto), and whether the catalog ends
exactly as the tree says.

Our latency cost is the wall time at 30/15/60 ms minus the wall time of the same run at zero
latency, both taken net of moto's own time (moto's Glue handles a request in 5-20 ms of Python,
one at a time under its GIL, which varies from run to run by more than the latency costs); the
raw difference is printed beside it. A sequential walk pays every request's latency one after
another (pages x list latency + other S3 requests x 15 ms + Glue requests x 60 ms). Each of our
runs is the median of three.

Usage: scale.py BINARY [--smoke] [--results bench/results.json]
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "scripts"))
from backfill import run_measured, sync_summary  # noqa: E402
from local_moto import emulator_env, in_process_moto  # noqa: E402
from results import merge  # noqa: E402

REGION = "us-east-1"
ACCOUNT = "123456789012"
RUNS = 3
LATENCY = {"30 ms": {"list_ms": 30, "s3_ms": 15, "glue_ms": 60},
           "80 ms": {"list_ms": 80, "s3_ms": 15, "glue_ms": 60},
           "none": {"list_ms": 0, "s3_ms": 0, "glue_ms": 0}}


class Tree:
    def __init__(self, name, table, partitions, per_partition, template=False):
        self.name, self.table, self.template = name, table, template
        self.bucket = f"scale-{table.replace('_', '-')}"
        self.partitions = [self.values(p) for p in range(partitions)]
        self.per_partition = per_partition

    @staticmethod
    def values(p):
        day, hour = divmod(p, 24)
        return [time.strftime("%Y-%m-%d", time.gmtime(1577836800 + day * 86400)), f"{hour:02}"]

    def keys(self):
        for dt, hour in self.partitions:
            directory = f"{self.table}/{dt}/{hour}" if self.template else f"{self.table}/dt={dt}/hour={hour}"
            for f in range(self.per_partition):
                yield f"{directory}/part-{f:05}.parquet"

    @property
    def objects(self):
        return len(self.partitions) * self.per_partition


def trees(smoke):
    if smoke:
        return [Tree("Hive dt/hour, 2k objects", "hive_2k", 200, 10),
                Tree("template dt/hour, 1k objects, indexed", "tpl_1k", 100, 10, template=True)]
    return [Tree("Hive dt/hour, 10k objects", "hive_10k", 1_000, 10),
            Tree("Hive dt/hour, 50k objects", "hive_50k", 5_000, 10),
            Tree("Hive dt/hour, 200k objects", "hive_200k", 20_000, 10),
            Tree("Hive dt/hour, 500k objects", "hive_500k", 50_000, 10),
            Tree("8 large partitions, 200k objects", "large_200k", 8, 25_000),
            Tree("template dt/hour, 200k objects", "tpl_200k", 20_000, 10, template=True)]


# --- The emulator and the proxy ------------------------------------------------------------

def populate(tree):
    from moto.backends import get_backend

    s3 = get_backend("s3")[ACCOUNT]["global"]
    s3.create_bucket(tree.bucket, REGION)
    for key in tree.keys():
        s3.put_object(tree.bucket, key, b"x")


def drop(tree):
    from moto.backends import get_backend

    get_backend("s3")[ACCOUNT]["global"].buckets.pop(tree.bucket, None)


class ProxyProcess:
    def __init__(self, upstream_port):
        here = os.path.dirname(os.path.abspath(__file__))
        self.proc = subprocess.Popen([sys.executable, os.path.join(here, "latency_proxy.py"),
                                      "--upstream", f"127.0.0.1:{upstream_port}"],
                                     stdout=subprocess.PIPE, text=True)
        self.port = int(self.proc.stdout.readline())
        self.endpoint = f"http://127.0.0.1:{self.port}"

    def call(self, path, body=None):
        data = json.dumps(body).encode() if body is not None else None
        with urllib.request.urlopen(urllib.request.Request(self.endpoint + path, data=data,
                                                           method="POST" if data else "GET"), timeout=600) as r:
            return json.loads(r.read())

    def stop(self):
        self.proc.kill()
        self.proc.wait()


def create_table(glue, tree):
    try:
        glue.delete_table(DatabaseName="scale", Name=tree.table)
    except glue.exceptions.EntityNotFoundException:
        pass
    location = f"s3://{tree.bucket}/{tree.table}/"
    params = {"storage.location.template": f"{location}${{dt}}/${{hour}}"} if tree.template else {}
    glue.create_table(DatabaseName="scale", TableInput={
        "Name": tree.table, "TableType": "EXTERNAL_TABLE", "Parameters": params,
        "PartitionKeys": [{"Name": "dt", "Type": "string"}, {"Name": "hour", "Type": "string"}],
        "StorageDescriptor": {"Columns": [{"Name": "v", "Type": "string"}], "Location": location,
                              "InputFormat": "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat",
                              "OutputFormat": "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat",
                              "SerdeInfo": {"SerializationLibrary": "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe"}}})


def catalog_values(glue, tree):
    """Straight from moto, which answers every partition in one page."""
    got = glue.get_partitions(DatabaseName="scale", TableName=tree.table, ExcludeColumnSchema=True)
    return sorted(p["Values"] for p in got["Partitions"])


# --- One run -------------------------------------------------------------------------------

def longest_chain(requests):
    """The most requests that ran one after another: earliest-finishing first is optimal for
    a chain of disjoint intervals."""
    count, last_end = 0, float("-inf")
    for r in sorted(requests, key=lambda r: r["end"]):
        if r["start"] >= last_end:
            count, last_end = count + 1, r["end"]
    return count


def busy(requests):
    """Seconds during which at least one request was with moto (or the index)."""
    total, current_start, current_end = 0.0, None, None
    for s, e in sorted((r["moto_start"], r["moto_end"]) for r in requests if "moto_end" in r):
        if current_end is None or s > current_end:
            if current_end is not None:
                total += current_end - current_start
            current_start, current_end = s, e
        else:
            current_end = max(current_end, e)
    if current_end is not None:
        total += current_end - current_start
    return total


def measure(tool, tree, proxy, binary, latency, glue):
    create_table(glue, tree)
    proxy.call("/__proxy/reset", LATENCY[latency])
    env = emulator_env(proxy.endpoint, LOG_LEVEL="info", AWS_DEFAULT_REGION=REGION)
    if tool == "ours":
        result = run_measured([binary, "backfill", "--table", f"scale.{tree.table}"], env)
    else:
        result = run_measured([shutil.which("glutil", path=os.path.dirname(sys.executable)), "create-partitions", "scale",
                      tree.table], env)
    if result["status"] != 0:
        sys.exit(f"{tool} on {tree.name} exited {result['status']}: {result['stderr'][-3000:]}")
    stats = proxy.call("/__proxy/stats")
    requests = stats["requests"]
    by_kind = {k: [r for r in requests if r["kind"] == k] for k in ("list", "s3", "glue")}
    got = catalog_values(glue, tree)
    expected = sorted(tree.partitions)
    glue_ops = {}
    for r in by_kind["glue"]:
        glue_ops[r["op"]] = glue_ops.get(r["op"], 0) + 1
    figures = {
        "wall_s": round(result["wall_s"], 2),
        "list_requests": len(by_kind["list"]),
        "other_s3_requests": len(by_kind["s3"]),
        "glue_requests": len(by_kind["glue"]),
        "glue_ops": glue_ops,
        "max_in_flight": stats["max_in_flight"],
        "longest_chain": longest_chain(requests),
        "longest_list_chain": longest_chain(by_kind["list"]),
        "longest_glue_chain": longest_chain(by_kind["glue"]),
        "peak_rss_mib": round(result["peak_rss_mib"], 1),
        "cpu_s": round(result["cpu_s"], 2),
        "moto_busy_s": round(busy(requests), 2),
        "partitions_registered": len(got),
        "correct": got == expected,
    }
    if tool == "ours":
        summary = sync_summary(result["stderr"])
        figures["split_requests"] = summary["split_requests"]
        figures["units"] = summary["units"]
    lat = LATENCY[latency]
    figures["sequential_latency_s"] = round((figures["list_requests"] * lat["list_ms"] + figures["other_s3_requests"]
                                             * lat["s3_ms"] + figures["glue_requests"] * lat["glue_ms"]) / 1000, 2)
    samples = [r["query"] for r in by_kind["list"] if r.get("index") and "continuation-token" not in r["query"]]
    return figures, samples


def check_index(proxy, samples, tree):
    """The index's answers equal stock moto's, on up to 12 of the listings the runs sent."""
    if not samples:
        return 0
    step = max(1, len(samples) // 12)
    picked = samples[::step][:12]
    checked = proxy.call("/__proxy/compare", {"requests": [{"query": q} for q in picked]})
    if checked["mismatches"]:
        sys.exit(f"{tree.name}: the proxy's index answers differently from moto: {checked['mismatches'][:2]}")
    return checked["compared"]


# --- The projection ------------------------------------------------------------------------

def project(figures, objects, partitions, list_ms, glue_ms=60, concurrency=16, glue_concurrency=8):
    """Minutes one process takes for `objects` in `partitions`, from a measured run: the listing
    as many pages as the run sent per object, walked as many at once as the run's chain shows
    (pages / longest list chain), capped by the configured concurrency; creates likewise, 100 a
    request; CPU at the run's seconds per object; the three overlap, so the slowest binds; plus
    a repair's full catalog read (1,000 partitions a page in 10 segments)."""
    pages = figures["list_requests"] / figures["objects"] * objects
    list_width = min(concurrency, figures["list_requests"] / max(1, figures["longest_list_chain"]))
    creates = partitions / 100
    glue_width = min(glue_concurrency, figures["glue_ops"].get("BatchCreatePartition", 1)
                     / max(1, figures["create_chain"]))
    listing = pages / list_width * list_ms / 1000
    registering = creates / glue_width * glue_ms / 1000
    cpu = figures["cpu_s"] / figures["objects"] * objects
    catalog = -(-partitions // 10_000) * glue_ms / 1000
    return {"minutes": round((max(listing, registering, cpu) + catalog) / 60, 1),
            "listing_min": round(listing / 60, 1), "registering_min": round(registering / 60, 1),
            "cpu_min": round(cpu / 60, 1), "catalog_read_min": round(catalog / 60, 2),
            "list_width": round(list_width, 1), "glue_width": round(glue_width, 1)}


def main():
    args = argparse.ArgumentParser()
    args.add_argument("binary")
    args.add_argument("--smoke", action="store_true")
    args.add_argument("--results", default="bench/results.json")
    a = args.parse_args()
    binary = os.path.abspath(a.binary)

    import boto3

    server, moto_port = in_process_moto()
    proxy = ProxyProcess(moto_port)
    glue = boto3.client("glue", endpoint_url=f"http://127.0.0.1:{moto_port}", region_name=REGION,
                        aws_access_key_id="testing", aws_secret_access_key="testing")
    glue.create_database(DatabaseInput={"Name": "scale"})
    results = {}
    scratch = tempfile.mkdtemp()
    try:
        for tree in trees(a.smoke):
            populate(tree)
            indexed = not a.smoke or tree.template
            if indexed:
                path = os.path.join(scratch, tree.table)
                with open(path, "w", encoding="utf-8") as f:
                    f.writelines(k + "\n" for k in tree.keys())
                proxy.call("/__proxy/index", {"bucket": tree.bucket, "file": path})
            runs = [("ours", "none"), ("ours", "30 ms"), ("glutil", "30 ms")]
            if not a.smoke:
                runs.insert(2, ("ours", "80 ms"))
            entry = {"objects": tree.objects, "partitions": len(tree.partitions), "indexed": indexed}
            samples = []
            for tool, latency in runs:
                tries = [measure(tool, tree, proxy, binary, latency, glue)
                         for _ in range(RUNS if tool == "ours" and not a.smoke else 1)]
                figures, sampled = sorted(tries, key=lambda t: t[0]["wall_s"])[len(tries) // 2]
                samples += sampled
                entry[f"{tool} {latency}"] = figures
                print(f"  {tree.name}: {tool} at {latency}: {figures['wall_s']} s", file=sys.stderr)
            entry["index_checked_listings"] = check_index(proxy, samples, tree) if indexed else None
            ours, zero = entry["ours 30 ms"], entry["ours none"]
            entry["raw_latency_cost_s"] = round(ours["wall_s"] - zero["wall_s"], 2)
            entry["latency_cost_s"] = round((ours["wall_s"] - ours["moto_busy_s"]) - (zero["wall_s"] - zero["moto_busy_s"]), 2)
            entry["latency_cost_vs_sequential"] = round(entry["latency_cost_s"] / ours["sequential_latency_s"], 3)
            entry["faster_than_glutil"] = round(entry["glutil 30 ms"]["wall_s"] / ours["wall_s"], 1)
            entry["list_requests_vs_one_per_1000"] = round(
                (ours["list_requests"] - ours["split_requests"]) / -(-tree.objects // 1000), 3)
            results[tree.name] = entry
            if not ours["correct"]:
                sys.exit(f"{tree.name}: ours registered {ours['partitions_registered']}, expected {len(tree.partitions)}")
            proxy.call("/__proxy/index", {"bucket": tree.bucket, "file": None})
            drop(tree)
    finally:
        proxy.stop()
        server.stop()
        shutil.rmtree(scratch, ignore_errors=True)

    print_table(results)
    largest = max((r for n, r in results.items() if n.startswith("Hive")), key=lambda r: r["objects"])
    projection = {}
    for latency in ("30 ms", "80 ms") if not a.smoke else ("30 ms",):
        figures = dict(largest[f"ours {latency}"], objects=largest["objects"])
        figures["create_chain"] = figures["longest_glue_chain"]
        list_ms = LATENCY[latency]["list_ms"]
        for objects, partitions in ((10_000_000, 100_000), (100_000_000, 1_000_000), (1_000_000_000, 10_000_000)):
            projection[f"{objects:,} objects in {partitions:,} partitions at {latency}"] = project(
                figures, objects, partitions, list_ms)
    print("\nprojection (one process, from the largest tree's run: pages and creates per object, their width, CPU)")
    for name, p in projection.items():
        print(f"  {name}: {p['minutes']} min (listing {p['listing_min']}, registering {p['registering_min']}, "
              f"CPU {p['cpu_min']}, catalog read {p['catalog_read_min']}; {p['list_width']} listings and "
              f"{p['glue_width']} creates side by side)")
    if not a.smoke:
        merge(a.results, {"scale": {"trees": results, "projection": projection}})


def print_table(results):
    print("\nscale: backfill through the latency proxy (30 ms list, 15 ms other S3, 60 ms Glue; 80 ms list beside)")
    head = (f"{'tree':<38} {'run':<13} {'wall s':>7} {'moto s':>7} {'lists':>6} {'glue':>5} {'in flight':>9} "
            f"{'chain':>6} {'RSS MiB':>8} {'ok':>3}")
    print(head)
    for name, entry in results.items():
        for run_name in ("ours none", "ours 30 ms", "ours 80 ms", "glutil 30 ms"):
            f = entry.get(run_name)
            if not f:
                continue
            flight = f"{f['max_in_flight']['list']}/{f['max_in_flight']['glue']}"
            print(f"{name:<38} {run_name:<13} {f['wall_s']:>7} {f['moto_busy_s']:>7} {f['list_requests']:>6} "
                  f"{f['glue_requests']:>5} {flight:>9} {f['longest_chain']:>6} {f['peak_rss_mib']:>8} "
                  f"{'yes' if f['correct'] else 'NO':>3}")
        print(f"{'':<38} latency cost {entry['latency_cost_s']} s net of moto ({entry['raw_latency_cost_s']} s raw) = "
              f"{entry['latency_cost_vs_sequential']:.1%} of a sequential walk's "
              f"{entry['ours 30 ms']['sequential_latency_s']} s; {entry['faster_than_glutil']}x "
              f"glutil; lists {entry['list_requests_vs_one_per_1000']}x one per 1,000 objects "
              f"+ {entry['ours 30 ms']['split_requests']} split"
              + (f"; index = moto on {entry['index_checked_listings']} listings" if entry["indexed"] else ""))


if __name__ == "__main__":
    main()
