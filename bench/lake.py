"""Lake-scale benchmark (issue 23): the repair's costs measured on the shipped binary, and a
model of the state machine's executions projected from them to tables moto cannot hold.

Every request goes through bench/latency_proxy.py. Large trees are generated, not stored:
the proxy answers a synthetic table's listings from a generated sorted index (ten million
keys cost nothing to hold) and its GetPartitions, BatchGetPartition and BatchCreatePartition
from a generated catalog of the same partitions, as the Glue API reference documents them
(pages of at most MaxResults, disjoint Segments, at most 1,000 keys a BatchGetPartition).
GetTable and everything else is moto's, which holds each table.

Measured (the binary's own answers and the proxy's counts):
 1. split: the first run of a state machine's pass (`{"sync": {"split": 8}}`) over a table
    whose first partition key has 1,000 and 1,000,000 values (`customer_id=<hex>/`, one
    object each), and over the lake's tree (10 million partitions of 100 objects): listings
    the split sent (`requests`, at most MAX_SPLIT_REQUESTS = 160) and units;
 2. catalog reads: BatchGetPartition + GetPartitions of a backfill and of a `sync --prune`
    pass, against ceil(partitions / 1,000), at two tree sizes;
 3. memory: peak RSS (VmHWM) of one `sync --prune` process (walk and finish in one CLI run,
    file:// checkpoints) over a synthetic table of 10 million partitions, and the CPU a page
    costs when partitions hold 1 object and when they hold 100;
 4. answers: what the function answers to a split, a group's run (stopped at its deadline,
    and done) and a finish, run as Lambda runs it (Runtime API, a deadline) with S3
    checkpoints, with and without a Glue storm (60 % of BatchGetPartition and
    BatchCreatePartition throttled), and how many Glue attempts the storm costs.
Projected (a model, from those measurements; see project_repair):
 4. the largest state and the most history events of one execution for tables of 200,000 and
    2,000,000 partitions, with and without the storm;
 5. a billion objects in 10 million partitions with the module's defaults: wall time,
    executions, and the dollars of a full repair and of a windowed nightly one.

Usage: lake.py BINARY [--smoke] [--results bench/results.json] [--model-only]
(--model-only projects again from the measurements in the results file, measuring nothing.)
"""

import argparse
import json
import math
import os
import shutil
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "scripts"))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "deploy"))
from backfill import run_measured, sync_summary  # noqa: E402
from lambda_runtime import FunctionError, invoke  # noqa: E402
from local_moto import emulator_env, in_process_moto, parquet_table  # noqa: E402
from results import merge  # noqa: E402
from scale import ProxyProcess  # noqa: E402

REGION = "us-east-1"
ACCOUNT = "123456789012"
DATABASE = "lake"
BUCKET = "lake-data"
CHECKPOINTS = "lake-checkpoints"
# What AWS takes, as bench/scale.py has it: a 1,000-key page of ListObjectsV2 in about 80 ms.
AWS_LATENCY = {"list_ms": 80, "s3_ms": 15, "glue_ms": 60}
NO_LATENCY = {"list_ms": 0, "s3_ms": 0, "glue_ms": 0}
STORM = {"rate": 0.6, "operations": ["BatchGetPartition", "BatchCreatePartition"]}

# The module's defaults (terraform/variables.tf) and the function's own (src/sync/mod.rs,
# src/lambda.rs): a run's Glue and S3 work ends at its deadline (the timeout less
# REPAIR_MARGIN, 5 s) less what it keeps for its checkpoints (CHECKPOINT_RESERVE, 2 s), and
# it lists until its drain (3 s) before that; a walk's listings in flight start at 16 and
# grow to 64 (DEFAULT_CONCURRENCY) while S3 keeps up, one a unit; 8 Glue requests in flight;
# the table cut into at most 128 units.
DEFAULTS = {"repair_groups": 8, "repair_concurrency": 8, "repair_timeout": 900, "repair_memory_size": 1024}
MARGIN_S, RESERVE_S, DRAIN_S = 5, 2, 3
LISTINGS_IN_FLIGHT, GLUE_IN_FLIGHT = 64, 8
# What the split may send (crates/registrar-core/src/walk.rs).
MAX_SPLIT_REQUESTS = 160
# Lambda gives a function CPU in proportion to its memory: 1,769 MB is one vCPU
# (https://docs.aws.amazon.com/lambda/latest/dg/configuration-memory.html).
MB_PER_VCPU = 1769
# A run that goes on from a checkpoint pays a fresh process, the table read and the
# checkpoint's reads and writes, and Step Functions' own step: about a second (measured
# runs start walking within 0.2 s on loopback; the rest is allowance for AWS).
RUN_START_S = 1.0

# us-east-1 list prices, December 2026:
# - Lambda, arm64: $0.0000133334 per GB-second, $0.20 per million requests
#   (https://aws.amazon.com/lambda/pricing/);
# - Step Functions Standard: $0.025 per 1,000 state transitions, retries included
#   (https://aws.amazon.com/step-functions/pricing/);
# - S3 Standard: $0.005 per 1,000 PUT, COPY, POST or LIST requests, $0.0004 per 1,000 GET
#   (https://aws.amazon.com/s3/pricing/);
# - Glue Data Catalog: the first million requests a month free, then $1 per million
#   (https://aws.amazon.com/glue/pricing/).
PRICE = {"lambda_gb_s": 0.0000133334, "lambda_request": 0.20 / 1e6, "transition": 0.025 / 1000,
         "s3_list": 0.005 / 1000, "s3_put": 0.005 / 1000, "s3_get": 0.0004 / 1000, "glue_request": 1.0 / 1e6}

# Step Functions' history events per state, as tests/deploy/asl.py records them: a Task 5 and
# 3 more per retried attempt, a Choice or Succeed 2, a Distributed Map 6 in its parent, an
# execution 2 (https://docs.aws.amazon.com/step-functions/latest/dg/bp-history-limit.html).
EVENTS = {"task": 5, "retry": 3, "choice": 2, "succeed": 2, "distributed_map": 6, "execution": 2}
MAX_HISTORY = 25_000
MAX_STATE = 262_144


# --- The emulator, the proxy, and how a run is made ------------------------------------

class Lake:
    """moto (in this process, for its models), the proxy in front of it, a scratch folder."""

    def __init__(self, binary):
        import boto3

        self.binary = binary
        self.server, port = in_process_moto()
        self.proxy = ProxyProcess(port)
        self.moto = f"http://127.0.0.1:{port}"
        client = dict(endpoint_url=self.moto, region_name=REGION, aws_access_key_id="testing",
                      aws_secret_access_key="testing")
        self.glue = boto3.client("glue", **client)
        self.s3 = boto3.client("s3", **client)
        self.glue.create_database(DatabaseInput={"Name": DATABASE})
        for bucket in (BUCKET, CHECKPOINTS):
            self.s3.create_bucket(Bucket=bucket)
        self.scratch = tempfile.mkdtemp(prefix="lake-bench-")

    def stop(self):
        self.proxy.stop()
        self.server.stop()
        shutil.rmtree(self.scratch, ignore_errors=True)

    def table(self, name, keys, prefix=None):
        """A table in moto's Glue (the registrar reads it with GetTable), Hive-style under
        s3://BUCKET/<prefix>."""
        prefix = prefix or f"{name}/"
        parquet_table(self.glue, DATABASE, name, f"s3://{BUCKET}/{prefix}", keys, columns=("event_id",))
        return f"{DATABASE}.{name}"

    def synthetic(self, name, partitions, objects, key="customer_id", missing_every=0, days=0):
        """A table of `partitions` directories `key=<hex>/` (with `days`: `dt=<date>/key=<hex>/`,
        the days ending today) of `objects` keys each, listed and catalogued by the proxy's
        generators (every `missing_every`-th partition not yet in the catalog; 1: none is)."""
        table = self.table(name, (["dt"] if days else []) + [key])
        self.proxy.call("/__proxy/synthetic", {"database": DATABASE, "table": name, "bucket": BUCKET,
                                               "prefix": f"{name}/", "key": key, "partitions": partitions,
                                               "objects": objects, "missing_every": missing_every, "days": days})
        return table

    def env(self, table, **extra):
        return emulator_env(self.proxy.endpoint, GLUE_TABLES=table, LOG_LEVEL="info", AWS_DEFAULT_REGION=REGION,
                            **extra)

    def checkpoint_dir(self, name):
        path = os.path.join(self.scratch, "checkpoints", name)
        os.makedirs(path, exist_ok=True)
        return f"file://{path}/"

    def reset(self, latency, throttle=None):
        self.proxy.call("/__proxy/reset", dict(latency, throttle=throttle))

    def stats(self):
        """The proxy's counts since the last reset: requests by operation, attempts throttled."""
        stats = self.proxy.call("/__proxy/stats")
        ops = {}
        for r in stats["requests"]:
            ops[r["op"]] = ops.get(r["op"], 0) + 1
        throttled = sum(1 for r in stats["requests"] if r.get("throttled"))
        glue = sum(1 for r in stats["requests"] if r["kind"] == "glue")
        return {"ops": ops, "glue": glue, "throttled": throttled, "max_in_flight": stats["max_in_flight"]}

    def handle(self, table, request, **env):
        """`handle FILE` with one request: the binary's answer (what the state machine gets)."""
        path = os.path.join(self.scratch, "request.json")
        with open(path, "w") as f:
            json.dump(request, f)
        result = run_measured([self.binary, "handle", path], self.env(table, **env))
        if result["status"] not in (0, 1):
            sys.exit(f"handle {request} exited {result['status']}: {result['stderr'][-3000:]}")
        return json.loads(result["stdout"]), result


def glue_reads(ops):
    return ops.get("BatchGetPartition", 0) + ops.get("GetPartitions", 0)


def pages_of(n):
    return -(-n // 1000)


# --- 1. The split -------------------------------------------------------------------------

# The lake of the projection: a billion objects in 10 million partitions of 100, three years
# of days (1,095) with 9,132 ids a day, or the same ids first with no date (a wide first level).
LAKE_DAYS = 1_095
LAKE = (10_000_000, 100)
LAKE_SIZE = (10_000_000, 1_000_000_000)


def split_listings(lake, smoke):
    """The split run of a state machine's pass (a first backfill: the catalog is empty) at
    AWS's latency: the listings it sent (`requests`) and the units it cut."""
    # The two first levels of the issue; a narrow level of large directories; the tables the
    # model projects (their units), up to the lake's billion objects in both layouts.
    trees = [("1,000 values, 1 object each", 1_000, 1, 0),
             ("1,000,000 values, 1 object each", 1_000_000, 1, 0),
             ("1,000 values, 100 objects each", 1_000, 100, 0),
             ("200,000 values, 100 objects each", 200_000, 100, 0),
             ("2,000,000 values, 100 objects each", 2_000_000, 100, 0),
             ("lake, ids first: 10,000,000 x 100 objects", *LAKE, 0),
             ("lake, dt first: 1,095 days x 9,132 ids x 100", *LAKE, LAKE_DAYS)]
    if smoke:
        trees = [("1,000 values, 1 object each", 1_000, 1, 0), ("20,000 values, 1 object each", 20_000, 1, 0),
                 ("dt first: 30 days x 100 ids x 100", 3_000, 100, 30)]
    out = {}
    for label, values, objects, days in trees:
        table = lake.synthetic(f"wide_{values}_{objects}_{days}", values, objects, missing_every=1, days=days)
        lake.reset(AWS_LATENCY)
        answer, run = lake.handle(table, {"sync": {"table": table, "split": 8, "summary": True}},
                                  CHECKPOINT_URI=lake.checkpoint_dir(f"split-{values}-{objects}-{days}"))
        stats = lake.stats()
        out[label] = {"partitions": values, "objects": values * objects, "days": days, "requests": answer["requests"],
                      "units": answer["units"], "groups": len(answer["groups"]),
                      "listings": stats["ops"].get("ListObjectsV2", 0), "wall_s": round(run["wall_s"], 2),
                      "bounded": answer["requests"] <= MAX_SPLIT_REQUESTS}
        print(f"  split of {label}: {answer['requests']} split listings, {answer['units']} units", file=sys.stderr)
    return out


def nightly(lake, smoke):
    """The windowed nightly repair's walk on the lake (dt first), measured: the split run of
    a pass with window_days 3 walks the window's day prefixes itself (nothing to cut), every
    partition already registered, at AWS's latency."""
    partitions, objects, days = (3_000, 100, 30) if smoke else (*LAKE, LAKE_DAYS)
    table = lake.synthetic("nightly", partitions, objects, days=days)
    lake.reset(AWS_LATENCY)
    answer, run = lake.handle(table, {"sync": {"table": table, "split": 8, "window_days": 3, "summary": True}},
                              CHECKPOINT_URI=lake.checkpoint_dir("nightly"))
    stats = lake.stats()
    # Each unit (a window prefix) starts with a listing that has no StartAfter.
    requests = lake.proxy.call("/__proxy/stats")["requests"]
    prefixes = sum(1 for r in requests if r["kind"] == "list" and "start-after" not in r["query"])
    window = {"partitions": partitions // days * 3, "objects": partitions // days * 3 * objects}
    if answer["counts"]["existing"] != window["partitions"]:
        sys.exit(f"the nightly walk found {answer['counts']['existing']} partitions registered, not {window['partitions']}")
    return {"table_partitions": partitions, "table_objects": partitions * objects, "days": days,
            "window": window, "wall_s": round(run["wall_s"], 1), "cpu_s": round(run["cpu_s"], 2),
            "listings": stats["ops"].get("ListObjectsV2", 0), "glue_requests": stats["glue"],
            "glue_ops": {k: v for k, v in stats["ops"].items() if k[0].isupper() and "Object" not in k},
            "groups_left": len(answer["groups"]), "units": prefixes, "counts": answer["counts"]}


# --- 2. Catalog reads per pass -------------------------------------------------------------

def catalog_reads(lake, smoke):
    """A backfill into an empty catalog, then a `sync --prune` pass after every hundredth
    partition lost its data: the Glue reads of each against one 1,000-partition page for
    every partition read once. The catalog is the proxy's (moto's GetPartitions answers a
    table's every partition at once, ignoring paging and segments, and takes longer than the
    SDK's 10 s attempt timeout to at 50,000)."""
    sizes = (300, 2_500) if smoke else (5_000, 50_000)
    out = {}
    for partitions in sizes:
        name = f"reads_{partitions}"
        # dt=<date>/customer_id=<hex>/, 100 ids a day, 2 objects each; an empty catalog.
        table = lake.synthetic(name, partitions, 2, missing_every=1, days=partitions // 100)
        runs = {}
        for kind, drop_every in (("backfill", 0), ("sync --prune", 100)):
            if drop_every:
                lake.proxy.call("/__proxy/synthetic", {"table": name, "keep_catalog": True, "drop_every": drop_every})
            lake.reset(NO_LATENCY)
            command = [lake.binary, *kind.split(), "--table", table, "--checkpoint", lake.checkpoint_dir(f"{name}-{kind}")]
            result = run_measured(command, lake.env(table))
            if result["status"] != 0:
                sys.exit(f"{kind} of {table} exited {result['status']}: {result['stderr'][-3000:]}")
            counts = json.loads(result["stdout"])["counts"]
            ops = lake.stats()["ops"]
            runs[kind] = {"glue_reads": glue_reads(ops), "BatchGetPartition": ops.get("BatchGetPartition", 0),
                          "GetPartitions": ops.get("GetPartitions", 0), "one_read": pages_of(partitions),
                          "ratio": round(glue_reads(ops) / pages_of(partitions), 2),
                          "created": counts["created"], "existing": counts["existing"], "deleted": counts["deleted"],
                          "glue_ops": {k: v for k, v in ops.items() if k[0].isupper() and "Object" not in k}}
            print(f"  {kind} of {partitions:,} partitions: {glue_reads(ops)} Glue reads", file=sys.stderr)
        if runs["backfill"]["created"] != partitions or runs["sync --prune"]["deleted"] != partitions // 100:
            sys.exit(f"{table}: created {runs['backfill']['created']} of {partitions}, pruned "
                     f"{runs['sync --prune']['deleted']} of {partitions // 100}")
        out[f"{partitions:,} partitions"] = dict(runs, partitions=partitions)
    return out


# --- 3. Memory, and the CPU a page costs ---------------------------------------------------

def memory(lake, smoke):
    """One `sync --prune` process over a synthetic table of 10 million partitions (walk and
    finish), its peak RSS; and the CPU per page of repairs over 1-object and 100-object
    partitions (every partition registered already: what a repair finds)."""
    out = {}
    partitions = 20_000 if smoke else 10_000_000
    table = lake.synthetic("rss", partitions, 1)
    lake.reset(NO_LATENCY)
    command = [lake.binary, "sync", "--prune", "--table", table, "--checkpoint", lake.checkpoint_dir("rss")]
    result = run_measured(command, lake.env(table))
    if result["status"] != 0:
        sys.exit(f"sync --prune of {partitions:,} partitions exited {result['status']}: {result['stderr'][-3000:]}")
    counts = json.loads(result["stdout"])["counts"]
    summary = sync_summary(result["stderr"])
    ops = lake.stats()["ops"]
    if counts["existing"] != partitions or counts["created"] or counts["deleted"]:
        sys.exit(f"sync --prune of {partitions:,} partitions: {counts}")
    out["sync --prune"] = {"partitions": partitions, "objects": partitions, "peak_rss_mib": round(result["peak_rss_mib"], 1),
                           "goal_mib": 256, "wall_s": round(result["wall_s"], 1), "cpu_s": round(result["cpu_s"], 1),
                           "pages": summary["pages"], "glue_reads": glue_reads(ops), "glue_ops": ops,
                           "existing": counts["existing"], "deleted": counts["deleted"]}
    print(f"  sync --prune of {partitions:,} partitions: {out['sync --prune']['peak_rss_mib']} MiB, "
          f"{out['sync --prune']['wall_s']} s", file=sys.stderr)
    # CPU per page: a backfill that finds everything registered, at 1 and 100 objects a
    # partition (1,000 and 10 partitions a page); the split's own listings are few. The
    # machine is shared: the median of three runs (one in smoke).
    for label, n, objects in (("1 object a partition", 2_000 if smoke else 1_000_000, 1),
                              ("100 objects a partition", 20 if smoke else 20_000, 100)):
        table = lake.synthetic(f"cpu_{objects}", n, objects)
        tries = []
        for attempt in range(1 if smoke else 3):
            lake.reset(NO_LATENCY)
            command = [lake.binary, "backfill", "--table", table,
                       "--checkpoint", lake.checkpoint_dir(f"cpu-{objects}-{attempt}")]
            result = run_measured(command, lake.env(table))
            if result["status"] != 0:
                sys.exit(f"backfill of {table} exited {result['status']}: {result['stderr'][-3000:]}")
            tries.append((result["cpu_s"], sync_summary(result["stderr"])["pages"], result))
        cpu_s, pages, result = sorted(tries, key=lambda t: t[0])[len(tries) // 2]
        out[label] = {"partitions": n, "objects": n * objects, "pages": pages, "cpu_s": round(cpu_s, 2),
                      "cpu_ms_per_page": round(cpu_s / max(1, pages) * 1000, 3),
                      "cpu_s_tries": [round(t[0], 2) for t in tries],
                      "peak_rss_mib": round(result["peak_rss_mib"], 1), "wall_s": round(result["wall_s"], 1)}
    return out


# --- 4. What the function answers, as Lambda runs it ---------------------------------------

def answers(lake, smoke, storm):
    """A pass driven as the state machine drives it (split, each group's runs until its
    cursor is null, the finish), each run a fresh process under the Runtime API with
    `timeout` seconds, so that group runs stop at their deadline and go on from S3
    checkpoints. The largest answer of each kind, runs, function errors, Glue attempts."""
    partitions, objects = (2_000, 10) if smoke else (200_000, 10)
    # Names of one length, so that the answers of the two passes compare byte for byte.
    name = "answers_storm" if storm else "answers_quiet"
    # A tenth of the partitions missing from the catalog: the runs create them (and, in the
    # storm, retry and name what stays throttled).
    table = lake.synthetic(name, partitions, objects, missing_every=10)
    env = lake.env(table, CHECKPOINT_URI=f"s3://{CHECKPOINTS}/registrar/")
    lake.reset(AWS_LATENCY, throttle=STORM if storm else None)
    fields = {"table": table, "prune": False, "update_schema": False, "window_days": None, "summary": True}
    sizes, errors, messages, runs = {}, {}, {}, {"group": 0, "finish": 0}
    # 1.5 s to list after the 5 s margin, the checkpoints' half second and the 3 s drain:
    # groups stop and go on.
    timeout = 10.0

    def call(kind, payload, seconds):
        # A run that failed for a reason the definition retries is run again, as its Retry
        # would; anything else ends the measurement.
        for _ in range(8):
            try:
                answer = invoke(lake.binary, env, payload, timeout=seconds)
                sizes[kind] = max(sizes.get(kind, 0), size({"Payload": answer}))
                return answer
            except FunctionError as e:
                errors[e.error] = errors.get(e.error, 0) + 1
                messages.setdefault(e.error, e.message[:400])
                if e.error not in ("RepairRunFailed", "RepairCheckpointConflict", "RepairNoProgress", "Lambda.Unknown"):
                    sys.exit(f"{kind} run failed: {e}")
        sys.exit(f"{kind} kept failing: {errors}")

    plan = call("plan", {"plan": {"tables": [table], "execution": f"bench-{name}"}}, 60)
    split = call("split", {"sync": dict(fields, split=8)}, 120)
    for group in split["groups"]:
        while True:
            runs["group"] += 1
            answer = call("group", {"sync": dict(fields, group=group, **{"pass": split["pass"]})}, timeout)
            if answer.get("cursor") is None:
                break
            stopped = size({"Payload": answer})
            sizes["group (stopped)"] = max(sizes.get("group (stopped)", 0), stopped)
    while True:
        runs["finish"] += 1
        finish = call("finish", {"sync": dict(fields, finish=True, **{"pass": split["pass"]})}, 120)
        if finish.get("cursor") is None:
            break
    stats = lake.stats()
    if not storm and finish.get("unregistered"):
        sys.exit(f"the pass without a storm left {finish['unregistered']} partitions unregistered: {finish}")
    return {"partitions": partitions, "objects": partitions * objects, "answer_bytes": sizes, "plan": plan, "split": split, "finish": finish,
            "groups": len(split["groups"]), "units": split["units"], "runs": runs, "function_errors": errors,
            "function_error_messages": messages,
            "glue_ops": stats["ops"], "glue_requests": stats["glue"], "throttled": stats["throttled"], "unregistered": finish.get("unregistered", 0)}


# --- The model of a repair -----------------------------------------------------------------

class Costs:
    """What the model takes from the measurements."""

    def __init__(self, mem, calm, storm):
        # CPU a page costs, as a line in the partitions a page holds: measured at 1,000 (one
        # object a partition) and at 10 (100 objects a partition).
        sparse = mem["1 object a partition"]["cpu_ms_per_page"] / 1000
        dense = mem["100 objects a partition"]["cpu_ms_per_page"] / 1000
        self.cpu_per_partition = max(0.0, (sparse - dense) / 990)
        self.cpu_per_page = max(0.0, dense - 10 * self.cpu_per_partition)
        self.calm, self.storm = calm, storm
        # What a storm costs Glue: requests (attempts) per request the same pass sent without it.
        self.storm_attempts = storm["glue_requests"] / max(1, calm["glue_requests"])
        # Runs the storm failed (and the state machine's Retry ran again), per run.
        runs = storm["runs"]["group"] + storm["runs"]["finish"] + 2
        self.storm_errors_per_run = sum(storm["function_errors"].values()) / runs

    def cpu_page_s(self, partitions_per_page):
        return self.cpu_per_page + self.cpu_per_partition * partitions_per_page


def project_repair(costs, partitions, objects, settings, split, storm=False, prune=False):
    """One execution repairing one table with `settings`, its split as measured (`split`: its
    units, listings and wall time): the walk, runs, history, largest state, wall time, cost.

    The split's units are dealt to `repair_groups` groups; a group walks its units at once
    (one listing in flight per unit, at most 64), at 80 ms a listing, unless its CPU (the
    function's share of a vCPU at the measured seconds per page) or Glue (8 requests in
    flight at 60 ms; in a storm as many attempts per request as measured) binds; a run walks
    until 10 s before its timeout, the next goes on from the checkpoint; `repair_concurrency`
    groups run at once. The catalog is complete (a repair): a check per 1,000 partitions."""
    groups, concurrency = settings["repair_groups"], settings["repair_concurrency"]
    timeout, memory = settings["repair_timeout"], settings["repair_memory_size"]
    vcpu = memory / MB_PER_VCPU
    per_page = min(1000, 1000 * partitions / objects)
    glue_factor = costs.storm_attempts if storm else 1.0
    walk_per_run = timeout - MARGIN_S - RESERVE_S - DRAIN_S - RUN_START_S
    units = split["units"]
    pages = pages_of(objects) + units  # a unit's last page is partial
    walked_groups = min(groups, units)
    in_flight = min(LISTINGS_IN_FLIGHT, units / walked_groups)
    group_pages = pages / walked_groups
    bound = {"listing_s": group_pages * AWS_LATENCY["list_ms"] / 1000 / in_flight,
             "cpu_s": group_pages * costs.cpu_page_s(per_page) / vcpu,
             "glue_s": pages_of(partitions / walked_groups) * glue_factor * AWS_LATENCY["glue_ms"] / 1000 / GLUE_IN_FLIGHT}
    seconds = max(bound.values())
    runs_per_group = max(1, math.ceil(seconds / walk_per_run))
    # Each run after the first pays its start and the drain of the one before.
    group_s = seconds + runs_per_group * RUN_START_S + (runs_per_group - 1) * DRAIN_S
    if storm:
        # A run the storm failed is run again from its checkpoint after the Retry's 10 s:
        # its time again, at the measured rate of failed runs.
        group_s += costs.storm_errors_per_run * (group_s + 10 * runs_per_group)
    waves = math.ceil(walked_groups / concurrency)
    # The finish: with prune, one read of the catalog (1,000 a page, 8 pages in flight).
    finish_s = RUN_START_S + (pages_of(partitions) * AWS_LATENCY["glue_ms"] / 1000 / GLUE_IN_FLIGHT if prune else 0)
    finish_runs = max(1, math.ceil(finish_s / walk_per_run))
    wall_s = RUN_START_S + split["wall_s"] + waves * group_s + finish_s + RUN_START_S  # plan ... review
    retried = (lambda runs: math.ceil(runs * costs.storm_errors_per_run)) if storm else (lambda runs: 0)
    measured = costs.storm if storm else costs.calm
    return dict(cost(measured, settings, storm, prune, retried, walked=walked_groups, runs_per_group=runs_per_group,
                     finish_runs=finish_runs, lambda_s=2 * 0.5 + split["wall_s"] + walked_groups * group_s + finish_s,
                     listings=pages + split["requests"], glue=pages_of(partitions) * glue_factor,
                     catalog_pages=pages_of(partitions) if prune else 0),
                partitions=partitions, objects=objects, pages=pages, units=units, groups_walked=walked_groups,
                runs_per_group=runs_per_group, finish_runs=finish_runs, waves=waves,
                walk_bound={k: round(v, 1) for k, v in bound.items()}, wall_min=round(wall_s / 60, 1))


def cost(measured, settings, storm, prune, retried, walked, runs_per_group, finish_runs, lambda_s, listings, glue,
         catalog_pages):
    """An execution's history, largest state and dollars, from its runs."""
    e = EVENTS
    # History events of each execution (tests/deploy/asl.py's accounting): the top one (Plan,
    # the tables' Distributed Map, Review, Reviewed, Repaired), a table's child (Split, the
    # groups' Distributed Map, Finish and Finished per finish run, TableDone), a group's
    # child (Run and Walked per run, GroupDone); 3 more per retried attempt.
    top = e["execution"] + e["task"] + e["distributed_map"] + e["task"] + e["choice"] + e["succeed"]
    table = (e["execution"] + e["task"] + e["distributed_map"] + finish_runs * (e["task"] + e["choice"])
             + e["succeed"] + e["retry"] * (retried(1) + retried(finish_runs)))
    group = (e["execution"] + runs_per_group * (e["task"] + e["choice"]) + e["succeed"]
             + e["retry"] * retried(runs_per_group)) if walked else 0
    # The largest state: every state's data composed from the measured answers as the
    # definition's paths place them (terraform/repair_machine.tf), the split's groups as many
    # as the setting allows, a cursor as large as a group's after 500 runs.
    name = measured["split"]["table"]
    fields = {"table": name, "prune": prune, "update_schema": False, "window_days": None}
    groups = list(range(1, max(1, walked)))
    in_table = dict(fields, split={"pass": measured["split"]["pass"], "groups": groups})
    cursor = {"table": name, "pass": measured["split"]["pass"], "group": settings["repair_groups"] - 1, "runs": 500,
              "checkpoint": f"s3://{CHECKPOINTS}/registrar/runs/passes/{name.replace('.', '/')}/{measured['split']['pass']}/"}
    states = {
        "a table's state after its finish": size(dict(in_table, finish={k: measured["finish"].get(k) for k in
                                                                         ("cursor", "unregistered", "cause")})),
        "a group's state after a stopped run": size(dict(fields, group=settings["repair_groups"] - 1,
                                                         run={"cursor": cursor}, **{"pass": measured["split"]["pass"]})),
        "the split's answer": size({"Payload": dict(measured["split"], groups=groups)}),
    }
    for kind, n in measured["answer_bytes"].items():
        states[f"the {kind} answer (measured)"] = n
    largest = max(states.items(), key=lambda kv: kv[1])
    # Dollars: every invocation, state transition (retries included), listing, checkpoint
    # request (a run reads the head, record and cursor and writes its cursor and found chunk:
    # about 3 GETs and 2 PUTs) and Glue request (a GetTable a run, the checks, the finish's
    # read with prune).
    group_runs = walked * runs_per_group
    runs = 3 + group_runs + finish_runs
    extra = retried(group_runs + finish_runs + 1)
    transitions = 5 + (1 + 1 + 2 * finish_runs + 1) + walked * (2 * runs_per_group + 1) + extra
    glue_requests = glue + runs + extra + (catalog_pages + 10 if prune else 0)
    gb_s = settings["repair_memory_size"] / 1024 * lambda_s
    dollars = {"lambda": gb_s * PRICE["lambda_gb_s"] + (runs + extra) * PRICE["lambda_request"],
               "step_functions": transitions * PRICE["transition"],
               "s3_list": listings * PRICE["s3_list"],
               "s3_checkpoints": (runs + extra) * (3 * PRICE["s3_get"] + 2 * PRICE["s3_put"]),
               "glue": glue_requests * PRICE["glue_request"]}
    dollars["total"] = sum(dollars.values())
    return {"executions": 1, "child_executions": 1 + walked,
            "history": {"top": top, "table": table, "group": group, "most": max(top, table, group), "quota": MAX_HISTORY},
            "largest_state": {"bytes": largest[1], "which": largest[0], "quota": MAX_STATE, "all": states},
            "invocations": runs + extra, "lambda_gb_s": round(gb_s, 1), "state_transitions": transitions,
            "listings": int(listings), "glue_requests": round(glue_requests),
            "dollars": {k: round(v, 4) for k, v in dollars.items()}}


def project_nightly(costs, night, settings):
    """The windowed nightly repair on the lake: its walk as measured (the split run walked the
    window; nothing left for groups), the finish, and what they cost."""
    lambda_s = 2 * 0.5 + night["wall_s"] + RUN_START_S
    out = cost(costs.calm, settings, False, False, lambda runs: 0, walked=night["groups_left"], runs_per_group=1,
               finish_runs=1, lambda_s=lambda_s, listings=night["listings"], glue=night["glue_requests"], catalog_pages=0)
    return dict(out, partitions=night["window"]["partitions"], objects=night["window"]["objects"],
                pages=night["listings"], units=night["units"], groups_walked=night["groups_left"], runs_per_group=0,
                finish_runs=1, waves=0, wall_min=round((night["wall_s"] + 3 * RUN_START_S) / 60, 1))


def size(value):
    return len(json.dumps(value, separators=(",", ":")).encode())


def fastest_settings(costs, partitions, objects, split, goal_min):
    """The fewest invocations at once (then groups) that meet the wall-time goal."""
    for concurrency in range(DEFAULTS["repair_concurrency"], 41):
        for groups in range(DEFAULTS["repair_groups"], 41):
            settings = dict(DEFAULTS, repair_groups=groups, repair_concurrency=concurrency)
            p = project_repair(costs, partitions, objects, settings, split)
            if p["wall_min"] <= goal_min:
                return settings, p
    return None, None


# --- Tables --------------------------------------------------------------------------------

def print_tables(out):
    print("\nlake 1. the split run of a state machine's pass, at 80 ms a listing: listings it sent (at most 160) and units"
          " (measured)")
    print(f"{'tree':<44} {'objects':>13} {'split listings':>15} {'units':>6} {'groups':>7} {'wall s':>7}")
    for label, r in out["split"].items():
        print(f"{label:<44} {r['objects']:>13,} {r['requests']:>15} {r['units']:>6} {r['groups']:>7} {r['wall_s']:>7}")

    print("\nlake 2. Glue reads (BatchGetPartition + GetPartitions) per pass vs ceil(partitions / 1,000) (measured)")
    print(f"{'tree':<20} {'pass':<14} {'BatchGet':>9} {'GetPartitions':>14} {'reads':>6} {'ceil(n/1000)':>13} "
          f"{'ratio':>6} {'created':>8} {'pruned':>7}")
    for label, r in out["catalog_reads"].items():
        for kind in ("backfill", "sync --prune"):
            k = r[kind]
            print(f"{label:<20} {kind:<14} {k['BatchGetPartition']:>9} {k['GetPartitions']:>14} {k['glue_reads']:>6} "
                  f"{k['one_read']:>13} {k['ratio']:>6} {k['created']:>8} {k['deleted']:>7}")

    m = out["memory"]["sync --prune"]
    print("\nlake 3. one `sync --prune` process over a synthetic catalog (walk + finish, file:// checkpoints) (measured)")
    print(f"{'partitions':>12} {'peak RSS MiB':>13} {'goal':>5} {'wall s':>7} {'CPU s':>6} {'pages':>7} {'Glue reads':>11}")
    print(f"{m['partitions']:>12,} {m['peak_rss_mib']:>13} {m['goal_mib']:>5} {m['wall_s']:>7} {m['cpu_s']:>6} "
          f"{m['pages']:>7} {m['glue_reads']:>11}")
    for label in ("1 object a partition", "100 objects a partition"):
        c = out["memory"][label]
        print(f"  CPU per page, {label}: {c['cpu_ms_per_page']} ms ({c['pages']:,} pages, {c['cpu_s']} s CPU, "
              f"peak RSS {c['peak_rss_mib']} MiB)")

    print("\nlake 4. the state machine's executions: answers measured (runs as Lambda runs them), executions projected")
    for storm in ("calm", "storm"):
        a = out["answers"][storm]
        print(f"  measured, {a['partitions']:,} partitions of {a['objects'] // a['partitions']} objects"
              f"{' in a Glue storm' if storm == 'storm' else ''}: answers "
              + ", ".join(f"{k} {v} B" for k, v in a["answer_bytes"].items())
              + f"; {a['runs']['group']} group runs, {a['runs']['finish']} finish runs, function errors "
              f"{a['function_errors'] or 0}, {a['glue_requests']} Glue requests ({a['throttled']} throttled), "
              f"unregistered {a['unregistered']}")
    print(f"{'table (100 objects a partition)':<36} {'largest state B':>16} {'quota':>7} {'most events':>12} {'quota':>6} "
          f"{'units':>6} {'runs/group':>11} {'wall min':>9}")
    for label, p in out["executions"].items():
        print(f"{label:<36} {p['largest_state']['bytes']:>16} {p['largest_state']['quota']:>7} "
              f"{p['history']['most']:>12} {p['history']['quota']:>6} {p['units']:>6} {p['runs_per_group']:>11} "
              f"{p['wall_min']:>9}")

    print("\nlake 5. a billion objects in 10 million partitions, module defaults unless named (projected; the nightly "
          "walk measured)")
    print(f"{'repair':<44} {'wall min':>9} {'units':>6} {'runs':>5} {'GB-s':>8} {'transitions':>12} {'listings':>10} "
          f"{'Glue':>7} {'$ total':>8} {'$ Lambda':>9} {'$ SFN':>7} {'$ S3':>7} {'$ Glue':>7}")
    for label, p in out["projection"]["repairs"].items():
        d = p["dollars"]
        print(f"{label:<44} {p['wall_min']:>9} {p['units']:>6} {p['invocations']:>5} {p['lambda_gb_s']:>8} "
              f"{p['state_transitions']:>12} {p['listings']:>10,} {p['glue_requests']:>7,} {d['total']:>8.4f} "
              f"{d['lambda']:>9.4f} {d['step_functions']:>7.4f} {d['s3_list'] + d['s3_checkpoints']:>7.4f} "
              f"{d['glue']:>7.4f}")
    for verdict in out["projection"]["verdicts"]:
        print(f"  {verdict}")


# --- The run -------------------------------------------------------------------------------

def measure_all(binary, smoke):
    """Every measurement, and the seconds each took."""
    lake = Lake(binary)
    out, took = {}, {}
    try:
        for name, measure in (("split", split_listings), ("catalog_reads", catalog_reads), ("memory", memory),
                              ("nightly", nightly)):
            t = time.perf_counter()
            out[name] = measure(lake, smoke)
            took[name] = round(time.perf_counter() - t, 1)
        t = time.perf_counter()
        out["answers"] = {"calm": answers(lake, smoke, storm=False), "storm": answers(lake, smoke, storm=True)}
        took["answers"] = round(time.perf_counter() - t, 1)
    finally:
        lake.stop()
    return out, took


def main():
    args = argparse.ArgumentParser()
    args.add_argument("binary")
    args.add_argument("--smoke", action="store_true")
    args.add_argument("--results", default="bench/results.json")
    # The model again over the measurements a run saved (seconds, not minutes): for changing
    # the model, not the figures it starts from.
    args.add_argument("--model-only", action="store_true")
    a = args.parse_args()
    started = time.perf_counter()
    if a.model_only:
        with open(a.results) as f:
            saved = json.load(f)["lake"]
        out = {k: v for k, v in saved.items() if k in ("split", "catalog_reads", "memory", "nightly", "answers")}
        took = {k: v for k, v in saved["took_s"].items() if k != "total"}
    else:
        out, took = measure_all(os.path.abspath(a.binary), a.smoke)
    costs = Costs(out["memory"], out["answers"]["calm"], out["answers"]["storm"])
    out["model"] = {"cpu_ms_per_page": round(costs.cpu_per_page * 1000, 4),
                    "cpu_ms_per_partition": round(costs.cpu_per_partition * 1000, 5),
                    "storm_glue_attempts": round(costs.storm_attempts, 2),
                    "storm_function_errors_per_run": round(costs.storm_errors_per_run, 3),
                    "list_ms": AWS_LATENCY["list_ms"], "glue_ms": AWS_LATENCY["glue_ms"],
                    "listings_in_flight": LISTINGS_IN_FLIGHT, "glue_in_flight": GLUE_IN_FLIGHT,
                    "walk_s_per_run": DEFAULTS["repair_timeout"] - MARGIN_S - RESERVE_S - DRAIN_S - RUN_START_S,
                    "vcpu": round(DEFAULTS["repair_memory_size"] / MB_PER_VCPU, 3), "settings": DEFAULTS,
                    "prices": PRICE}
    # 4. Tables of 200,000 and 2,000,000 partitions (their splits measured above).
    splits = list(out["split"].values())
    tables = ([("200,000 partitions", out["split"]["200,000 values, 100 objects each"]),
               ("2,000,000 partitions", out["split"]["2,000,000 values, 100 objects each"])] if not a.smoke else
              [(f"{r['partitions']:,} partitions", r) for r in splits[-2:]])
    out["executions"] = {}
    for label, split in tables:
        for storm in (False, True):
            out["executions"][label + (", Glue storm" if storm else "")] = project_repair(
                costs, split["partitions"], split["objects"], DEFAULTS, split, storm=storm)
    # 5. The lake, in both layouts, with the defaults; the nightly repair; what meets the goal.
    goal = 15
    layouts = ([("dt first", out["split"]["lake, dt first: 1,095 days x 9,132 ids x 100"]),
                ("ids first", out["split"]["lake, ids first: 10,000,000 x 100 objects"])] if not a.smoke else
               [("dt first", splits[-1]), ("ids first", splits[-2])])
    repairs, verdicts = {}, []
    for layout, split in layouts:
        full = project_repair(costs, *LAKE_SIZE, DEFAULTS, split)
        repairs[f"full repair, {layout}"] = full
        repairs[f"full repair with prune, {layout}"] = project_repair(costs, *LAKE_SIZE, DEFAULTS, split, prune=True)
        settings, fast = fastest_settings(costs, *LAKE_SIZE, split, goal)
        if full["wall_min"] <= goal:
            verdicts.append(f"{layout}: the defaults meet the {goal}-minute goal: {full['wall_min']} min, one execution")
            continue
        why = (f"{full['units']} units in {full['groups_walked']} groups, {full['waves']} waves of "
               f"{DEFAULTS['repair_concurrency']} at once; a unit's listings follow one another, so the walk takes "
               f"at least {math.ceil(full['pages'] / full['units']):,} pages x 80 ms = "
               f"{full['pages'] / full['units'] * AWS_LATENCY['list_ms'] / 60000:.1f} min")
        if fast:
            label = f"full repair, {layout}, groups {settings['repair_groups']}, concurrency {settings['repair_concurrency']}"
            repairs[label] = fast
            verdicts.append(f"{layout}: the defaults miss the {goal}-minute goal by {full['wall_min'] - goal:.1f} min "
                            f"({full['wall_min']} min: {why}); repair_groups {settings['repair_groups']} with "
                            f"repair_concurrency {settings['repair_concurrency']} meets it ({fast['wall_min']} min)")
        else:
            verdicts.append(f"{layout}: the defaults miss the {goal}-minute goal by {full['wall_min'] - goal:.1f} min "
                            f"({full['wall_min']} min: {why}); no setting up to 40 groups and 40 at once meets it")
    repairs["nightly repair, 3 days of 1,095 (measured walk)"] = project_nightly(costs, out["nightly"], DEFAULTS)
    out["projection"] = {"lake": {"partitions": LAKE_SIZE[0], "objects": LAKE_SIZE[1], "days": LAKE_DAYS},
                         "repairs": repairs, "verdicts": verdicts}
    # Which figures are the binary's own, and which the model's.
    out["kinds"] = {"measured": ["split", "catalog_reads", "memory", "nightly", "answers"],
                    "projected": ["model (inputs: measured costs and AWS latencies)", "executions", "projection"]}
    out["took_s"] = dict(took, total=(saved["took_s"]["total"] if a.model_only
                                      else round(time.perf_counter() - started, 1)))
    print_tables(out)
    print(f"\n(the lake benchmark took {out['took_s']['total']} s: "
          + ", ".join(f"{k} {v} s" for k, v in took.items()) + ")")
    if not a.smoke:
        merge(a.results, {"lake": out})


if __name__ == "__main__":
    main()
