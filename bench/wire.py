"""One process's backfill at AWS's latency on a table large enough to fill the walk: the
100-million-object projection of issue 25 from a measured run, not from a model's width.

scale.py measures trees moto holds (500k objects, about 25 units, so its runs never need more
than 25 listings at once) and projects their width to 100 million objects. Here the table is
the proxy's synthetic one (bench/lake.py's `Lake`: a generated sorted index, a generated
catalog): OBJECTS keys in partitions of 100 under `customer_id=<hex>/`, none registered, listed
at 80 ms a page, Glue at 60 ms. One `backfill` process walks it to the end; measured: wall,
CPU (user + system), the listings and the most in flight (the proxy's count), the partitions
created. The projection is linear in the pages: at this size the table is already cut into as
many units as a table may have (128), so a table ten times larger is walked as wide, each unit
ten times longer.

Usage: wire.py BINARY [--objects 10000000] [--smoke] [--results bench/results.json]
"""

import argparse
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "scripts"))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from backfill import run_measured, sync_summary  # noqa: E402
from lake import AWS_LATENCY, Lake  # noqa: E402
from results import merge  # noqa: E402

TARGET = 100_000_000
OBJECTS_A_PARTITION = 100


def main():
    args = argparse.ArgumentParser()
    args.add_argument("binary")
    args.add_argument("--objects", type=int, default=10_000_000)
    args.add_argument("--smoke", action="store_true")
    args.add_argument("--results", default="bench/results.json")
    a = args.parse_args()
    objects = 200_000 if a.smoke else a.objects
    partitions = objects // OBJECTS_A_PARTITION
    lake = Lake(os.path.abspath(a.binary))
    try:
        table = lake.synthetic("wire", partitions, OBJECTS_A_PARTITION, missing_every=1)
        lake.reset(AWS_LATENCY)
        run = run_measured([lake.binary, "backfill", "--table", table], lake.env(table))
        if run["status"] != 0:
            sys.exit(f"backfill failed: {run['stderr'][-3000:]}")
        summary = sync_summary(run["stderr"])
        stats = lake.stats()
    finally:
        lake.stop()
    created = int(summary["created"])
    if created != partitions:
        sys.exit(f"the backfill created {created} partitions, not {partitions}")
    scale = TARGET / objects
    r = {"objects": objects, "partitions": partitions, "list_ms": AWS_LATENCY["list_ms"],
         "glue_ms": AWS_LATENCY["glue_ms"], "wall_s": round(run["wall_s"], 1), "cpu_s": round(run["cpu_s"], 2),
         "cpu_us_per_object": round(run["cpu_s"] / objects * 1e6, 2),
         "units": int(summary["units"]), "listing_width_max": int(summary["listing_width_max"]),
         "listings": stats["ops"].get("ListObjectsV2", 0), "most_listings_in_flight": stats["max_in_flight"]["list"],
         "glue_requests": stats["glue"], "peak_rss_mib": round(run["peak_rss_mib"], 1),
         "projected_100m_min": round(run["wall_s"] * scale / 60, 1),
         "projected_100m_cpu_min": round(run["cpu_s"] * scale / 60, 1)}
    print(f"\nOne backfill process, {objects:,} objects in {partitions:,} partitions, "
          f"{r['list_ms']} ms a listing, {r['glue_ms']} ms a Glue call (measured)")
    print(f"  wall {r['wall_s']} s, CPU {r['cpu_s']} s ({r['cpu_us_per_object']} µs an object), "
          f"{r['units']} units, {r['listings']:,} listings, at most {r['most_listings_in_flight']} in flight "
          f"(the walk's widest: {r['listing_width_max']}), "
          f"{r['glue_requests']:,} Glue requests, peak RSS {r['peak_rss_mib']} MiB")
    if a.smoke:
        print("  (smoke: a table too small to fill the walk's units, so no projection)")
    else:
        print(f"  100 million objects, projected linearly: {r['projected_100m_min']} min "
              f"(CPU {r['projected_100m_cpu_min']} min; goal <= 10 min)")
    if not a.smoke:
        merge(a.results, {"wire": r})


if __name__ == "__main__":
    main()
