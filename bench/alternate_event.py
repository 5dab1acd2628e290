"""The event path of two builds, by turns in one run: criterion's planning figures (thread CPU)
and the whole process's CPU on a 10,000-record SQS batch as a dry run (bench/cpu.py's batch).

The machine's speed drifts by more than a change is worth (see bench/alternate.py), so each
round runs BEFORE then AFTER: each build's planning benchmark (its own
`crates/registrar-core/benches/planning.rs`, so each build is measured by the benchmark of its
own day), then each binary's `handle --dry-run` on the batch, RUNS times.

Usage: alternate_event.py BEFORE_BIN AFTER_BIN --before-bench PLANNING --after-bench PLANNING
       [--rounds 3] [--runs 7]

PLANNING is a build's planning benchmark: its executable (what `cargo bench --no-run -p
registrar-core --bench planning` prints, target/release/deps/planning-<hash>), or the build's
checkout, where it is built so (`make bench-compare` passes checkouts).
"""

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile

import boto3

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "scripts"))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cpu import REGION, batch, cpu_ms, create_table  # noqa: E402
from local_moto import emulator_env, start_moto  # noqa: E402

# criterion's line for a benchmark's time: "time:   [2.1194 ms cpu 2.1335 ms cpu 2.1505 ms cpu]".
TIME = re.compile(r"^(\S+)\s*\n?\s*time:\s+\[\S+ \S+ cpu (\S+) (\S+) cpu", re.M)
UNIT = {"ns": 1e-6, "µs": 1e-3, "us": 1e-3, "ms": 1.0, "s": 1e3}
PLANNING_KEYS = 10_000


def planning_bench(path):
    """The planning benchmark's executable: PATH itself, or built in the checkout PATH names."""
    if not os.path.isdir(path):
        return os.path.abspath(path)
    out = subprocess.run(["cargo", "bench", "--no-run", "--locked", "-p", "registrar-core", "--bench", "planning",
                          "--message-format", "json"], cwd=path, capture_output=True, text=True, check=True).stdout
    executables = [m["executable"] for m in map(json.loads, out.splitlines()) if m.get("executable")]
    if not executables:
        sys.exit(f"cargo built no planning benchmark in {path}")
    return executables[-1]


def planning(bench):
    """criterion's middle estimates of one planning benchmark executable, in ms of CPU."""
    out = subprocess.run([bench, "--bench", "--warm-up-time", "1", "--measurement-time", "3"],
                         capture_output=True, text=True, check=True).stdout
    return {name: float(value) * UNIT[unit] for name, value, unit in TIME.findall(out)}


def main():
    a = argparse.ArgumentParser()
    a.add_argument("before")
    a.add_argument("after")
    a.add_argument("--before-bench", required=True)
    a.add_argument("--after-bench", required=True)
    a.add_argument("--rounds", type=int, default=3)
    a.add_argument("--runs", type=int, default=7)
    a = a.parse_args()
    builds = {"before": (os.path.abspath(a.before), planning_bench(a.before_bench)),
              "after": (os.path.abspath(a.after), planning_bench(a.after_bench))}
    moto, port = start_moto()
    bench_ms = {name: [] for name in builds}
    process_ms = {name: [] for name in builds}
    try:
        endpoint = f"http://127.0.0.1:{port}"
        glue = boto3.client("glue", endpoint_url=endpoint, region_name=REGION,
                            aws_access_key_id="testing", aws_secret_access_key="testing")
        glue.create_database(DatabaseInput={"Name": "bench"})
        create_table(glue, "dry")
        with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
            json.dump(batch(10_000, 1_000), f)
            path = f.name
        env = dict(emulator_env(endpoint, LOG_LEVEL="warn"), GLUE_TABLES="bench.dry")
        for round_ in range(a.rounds):
            for name, (binary, bench) in builds.items():
                figures = planning(bench)
                bench_ms[name].append(figures)
                runs = [cpu_ms(binary, env, ["handle", "--dry-run", path]) for _ in range(a.runs)]
                process_ms[name].append(statistics.median(runs))
                print(f"round {round_ + 1} {name}: " + ", ".join(f"{k} {v:.3f} ms" for k, v in figures.items())
                      + f"; whole process, dry run {statistics.median(runs):.1f} ms", file=sys.stderr, flush=True)
        os.unlink(path)
    finally:
        moto.terminate()
        moto.wait()

    print(f"\nthe event path, {a.rounds} alternating rounds (median of the rounds; every round)")
    for name in builds:
        print(f"  {name}")
        for bench in sorted({k for r in bench_ms[name] for k in r}):
            values = [r[bench] for r in bench_ms[name] if bench in r]
            line = f"    {bench:<58} {statistics.median(values):7.3f} ms CPU ({', '.join(f'{v:.2f}' for v in values)})"
            if bench.startswith("plan_keys/"):
                line += f" = {PLANNING_KEYS / statistics.median(values) * 1000 / 1e6:.2f} million keys/s"
            print(line)
        values = process_ms[name]
        print(f"    {'whole process, handle --dry-run on the 10,000-record batch':<58} "
              f"{statistics.median(values):7.1f} ms CPU ({', '.join(f'{v:.1f}' for v in values)})")


if __name__ == "__main__":
    main()
