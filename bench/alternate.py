"""Two builds of the binary, one backfill after the other, on the same tree in the same run: the
CPU per listed object of each (user + system, as the kernel accounts the process), and the
100-million-object projection of scale.py from each build's median run.

A machine's speed drifts by more than a change is worth (other work, frequency, caches), so
figures of two builds are only comparable when measured side by side: the runs alternate,
BEFORE then AFTER, ROUNDS times. The tree and the latency proxy are scale.py's (the tree put
into moto through its models, its listings answered from a sorted index in the proxy); each
run registers into a fresh table, so every run lists and registers the whole tree.

Usage: alternate.py BEFORE AFTER [--objects 500000] [--rounds 3] [--latency "80 ms" [--latency none ...]]
"""

import argparse
import os
import shutil
import statistics
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "scripts"))
from local_moto import in_process_moto  # noqa: E402
from scale import LATENCY, REGION, ProxyProcess, Tree, drop, measure, populate, project  # noqa: E402


def main():
    args = argparse.ArgumentParser()
    args.add_argument("before")
    args.add_argument("after")
    args.add_argument("--objects", type=int, default=500_000)
    args.add_argument("--rounds", type=int, default=3)
    args.add_argument("--latency", action="append", choices=sorted(LATENCY),
                      help="each latency in turn (default: 80 ms, scale.py's projection)")
    a = args.parse_args()
    binaries = {"before": os.path.abspath(a.before), "after": os.path.abspath(a.after)}

    import boto3

    server, moto_port = in_process_moto()
    proxy = ProxyProcess(moto_port)
    glue = boto3.client("glue", endpoint_url=f"http://127.0.0.1:{moto_port}", region_name=REGION,
                        aws_access_key_id="testing", aws_secret_access_key="testing")
    glue.create_database(DatabaseInput={"Name": "scale"})
    tree = Tree(f"Hive dt/hour, {a.objects:,} objects", f"hive_{a.objects}", a.objects // 10, 10)
    scratch = tempfile.mkdtemp()
    latencies = a.latency or ["80 ms"]
    runs = {(latency, name): [] for latency in latencies for name in binaries}
    try:
        populate(tree)
        path = os.path.join(scratch, tree.table)
        with open(path, "w", encoding="utf-8") as f:
            f.writelines(k + "\n" for k in tree.keys())
        proxy.call("/__proxy/index", {"bucket": tree.bucket, "file": path})
        for latency in latencies:
            for round_ in range(a.rounds):
                for name, binary in binaries.items():
                    figures, _ = measure("ours", tree, proxy, binary, latency, glue)
                    if not figures["correct"]:
                        sys.exit(f"{name} registered {figures['partitions_registered']} of {len(tree.partitions)}")
                    runs[(latency, name)].append(figures)
                    print(f"{latency} round {round_ + 1} {name}: {figures['cpu_s']} s CPU, "
                          f"{figures['cpu_s'] / tree.objects * 1e6:.2f} µs an object, {figures['wall_s']} s wall, "
                          f"{figures['list_requests']} lists", file=sys.stderr, flush=True)
        drop(tree)
    finally:
        proxy.stop()
        server.stop()
        shutil.rmtree(scratch, ignore_errors=True)

    for latency in latencies:
        print(f"\n{tree.name} at {latency} latency, {a.rounds} alternating rounds (median; every run)")
        for name in binaries:
            report(runs[(latency, name)], name, tree, latency)


def report(figures, name, tree, latency):
    cpu = [f["cpu_s"] for f in figures]
    per_object = [c / tree.objects * 1e6 for c in cpu]
    print(f"  {name:<6} CPU {statistics.median(cpu):.2f} s = {statistics.median(per_object):.2f} µs an object "
          f"({', '.join(f'{p:.2f}' for p in per_object)}); wall {statistics.median(f['wall_s'] for f in figures):.2f} s; "
          f"peak RSS {statistics.median(f['peak_rss_mib'] for f in figures):.1f} MiB")
    median = sorted(figures, key=lambda f: f["cpu_s"])[len(figures) // 2]
    median = dict(median, objects=tree.objects, create_chain=median["longest_glue_chain"])
    list_ms = LATENCY[latency]["list_ms"]
    if list_ms:
        p = project(median, 100_000_000, 1_000_000, list_ms)
        print(f"         100 million objects at {list_ms} ms a listing: {p['minutes']} min "
              f"(listing {p['listing_min']}, registering {p['registering_min']}, CPU {p['cpu_min']})")
    else:
        print(f"         100 million objects: {median['cpu_s'] / tree.objects * 1e8 / 60:.1f} min of CPU")


if __name__ == "__main__":
    main()
