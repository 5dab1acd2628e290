"""The CLI's wheel as a Python user gets it (part of `make test`: `make wheel-test`).

The wheel is installed with pip into a fresh venv, offline and with nothing else, and run as
`glue-partition-registrar` from that venv's PATH; `uvx --from WHEEL` runs it too. Then, against
moto on loopback:
- `--version` names the crate's version, which is the wheel's;
- `explain` on the keys of fixture events (events/s3-object-created.json, the partition it maps
  to; events/s3-skipped-keys.json, each key's reason to be skipped), with SCHEMA_DRIFT_DETECTION
  on, which only a build with the default features accepts;
- `backfill --dry-run` over a table's objects reports the partitions it would create and
  writes none;
- the Airflow example (examples/airflow/glue_partition_sync.py) compiles, and its command,
  run by the installed CLI, registers them.

Usage: run.py WHEEL
"""

import ast
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import urllib.parse

import boto3

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "scripts"))
from local_moto import emulator_env, parquet_table, start_moto  # noqa: E402

COMMAND = "glue-partition-registrar"
REGION = "us-east-1"
# What the fixture events name.
BUCKET = "example-data-lake"
DATABASE, TABLE = "analytics", "clickstream"
DAYS = ("2026/11/23", "2026/11/24", "2026/11/25")
AIRFLOW_DAG = os.path.join(ROOT, "examples", "airflow", "glue_partition_sync.py")


def check(condition, message):
    if not condition:
        sys.exit(f"FAIL: {message}")


def run(argv, env, expect=0):
    done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=300)
    check(done.returncode == expect,
          f"`{shlex.join(argv)}` exited {done.returncode}, not {expect}:\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}")
    return done


def crate_version():
    with open(os.path.join(ROOT, "Cargo.toml")) as f:
        return re.search(r'^version = "([^"]+)"', f.read(), re.M).group(1)


def install(wheel, venv):
    """A fresh venv with the wheel and nothing else (offline, no index); its bin directory."""
    subprocess.run([sys.executable, "-m", "venv", venv], check=True)
    bin_dir = os.path.join(venv, "bin")
    run([os.path.join(bin_dir, "python"), "-m", "pip", "install", "--quiet", "--no-index", "--disable-pip-version-check",
         wheel], os.environ)
    listed = run([os.path.join(bin_dir, "python"), "-m", "pip", "list", "--format=json", "--disable-pip-version-check"],
                 os.environ).stdout
    names = {p["name"] for p in json.loads(listed)}
    check(names - {"pip", "setuptools"} == {COMMAND}, f"the venv holds {sorted(names)}: the wheel pulled in more")
    return bin_dir


def fixture_keys(name):
    """The object keys of a fixture S3 event, URL-decoded as S3 encodes them, as s3:// URIs."""
    with open(os.path.join(ROOT, "events", name)) as f:
        records = json.load(f)["Records"]
    return [f"s3://{r['s3']['bucket']['name']}/{urllib.parse.unquote_plus(r['s3']['object']['key'])}" for r in records]


def airflow_command():
    """The Airflow example compiled, and the command its task runs (its COMMAND)."""
    with open(AIRFLOW_DAG) as f:
        source = f.read()
    tree = ast.parse(compile(source, AIRFLOW_DAG, "exec", ast.PyCF_ONLY_AST), AIRFLOW_DAG)
    constants = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            value = node.value
            if isinstance(value, ast.JoinedStr):  # an f-string over the constants above it
                value = ast.Constant("".join(
                    str(constants[part.value.id]) if isinstance(part, ast.FormattedValue) else part.value
                    for part in value.values))
            try:
                constants[node.targets[0].id] = ast.literal_eval(value)
            except ValueError:
                pass
    used = [k.value.id for n in ast.walk(tree) if isinstance(n, ast.Call)
            for k in n.keywords if k.arg == "bash_command" and isinstance(k.value, ast.Name)]
    check(used == ["COMMAND"], f"the Airflow example's task runs {used}, not its COMMAND")
    return constants["COMMAND"]


def create_table(glue):
    glue.create_database(DatabaseInput={"Name": DATABASE})
    parquet_table(glue, DATABASE, TABLE, f"s3://{BUCKET}/{TABLE}/", ("year", "month", "day"))


def partitions(glue):
    pages = glue.get_paginator("get_partitions").paginate(DatabaseName=DATABASE, TableName=TABLE)
    return sorted(tuple(p["Values"]) for page in pages for p in page["Partitions"])


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    wheel = os.path.abspath(sys.argv[1])
    version = crate_version()
    name = os.path.basename(wheel)
    check(name.startswith(f"glue_partition_registrar-{version}-py3-none-"),
          f"{name}: not a py3-none wheel of glue_partition_registrar {version}")
    dag_command = airflow_command()

    with tempfile.TemporaryDirectory(prefix="wheel-test-") as tmp:
        bin_dir = install(wheel, os.path.join(tmp, "venv"))
        path = bin_dir + os.pathsep + os.environ.get("PATH", "")
        found = shutil.which(COMMAND, path=path)
        check(found == os.path.join(bin_dir, COMMAND), f"{COMMAND} on the venv's PATH is {found}")
        with open(found, "rb") as f:
            check(f.read(4) == b"\x7fELF", f"{found} is not the binary (a script?)")

        env = dict(os.environ, PATH=path)
        shown = run([COMMAND, "--version"], env).stdout.strip()
        check(shown == f"{COMMAND} {version}", f"--version says {shown!r}, the crate is {version}")

        # uvx, from the wheel: offline, its cache in the temporary directory, no Python downloads.
        uvx = os.path.join(os.path.dirname(sys.executable), "uvx")
        uv_env = dict(env, UV_CACHE_DIR=os.path.join(tmp, "uv-cache"), UV_TOOL_DIR=os.path.join(tmp, "uv-tools"),
                      UV_PYTHON_DOWNLOADS="never", UV_NO_CONFIG="1", UV_OFFLINE="1")
        by_uvx = run([uvx, "--from", wheel, COMMAND, "--version"], uv_env).stdout.strip()
        check(by_uvx == shown, f"uvx --from the wheel says {by_uvx!r}, pip's install {shown!r}")

        moto, port = start_moto()
        endpoint = f"http://127.0.0.1:{port}"
        try:
            kw = dict(endpoint_url=endpoint, region_name=REGION, aws_access_key_id="testing", aws_secret_access_key="testing")
            s3, glue = boto3.client("s3", **kw), boto3.client("glue", **kw)
            s3.create_bucket(Bucket=BUCKET)
            create_table(glue)
            aws = emulator_env(endpoint, PATH=path)

            # explain: the keys of a fixture event, one line each. With drift detection on, as a
            # build without the default feature schema-drift refuses to start.
            created = fixture_keys("s3-object-created.json")
            skipped = fixture_keys("s3-skipped-keys.json")
            out = run([COMMAND, "explain", "--table", f"{DATABASE}.{TABLE}", *created, *skipped],
                      dict(aws, SCHEMA_DRIFT_DETECTION="true")).stdout
            lines = [json.loads(line) for line in out.splitlines()]
            check([line["key"] for line in lines] == created + skipped, f"explain answered for other keys: {out}")
            check(lines[0].get("values") == ["2026", "11", "25"] and lines[0].get("table") == f"{DATABASE}.{TABLE}"
                  and lines[0].get("location") == f"s3://{BUCKET}/{TABLE}/year=2026/month=11/day=25/",
                  f"explain maps {created[0]} to {lines[0]}")
            reasons = [line.get("skipped") for line in lines[1:]]
            check(all(reasons), f"explain registers a key of s3-skipped-keys.json: {out}")

            # backfill --dry-run over three days of objects (and the markers a pipeline leaves).
            for day in DAYS:
                y, m, d = day.split("/")
                prefix = f"{TABLE}/year={y}/month={m}/day={d}/"
                s3.put_object(Bucket=BUCKET, Key=prefix + "part-00000.snappy.parquet", Body=b"PAR1")
                s3.put_object(Bucket=BUCKET, Key=prefix + "_SUCCESS", Body=b"")
            done = run([COMMAND, "backfill", "--table", f"{DATABASE}.{TABLE}", "--dry-run"], aws)
            report = json.loads(done.stdout)
            check(report.get("dryRun") is True, f"the report is not a dry run's: {done.stdout[:1000]}")
            check(report["counts"]["created"] == len(DAYS) and report["counts"]["failed"] == 0,
                  f"backfill --dry-run counts {report['counts']}, expected {len(DAYS)} to create")
            check(partitions(glue) == [], "backfill --dry-run wrote partitions")
            summary = done.stderr.strip().splitlines()[-1]

            # The Airflow example's command, as its task runs it (bash on the worker's PATH).
            run(["bash", "-c", dag_command], aws)
            expected = sorted(tuple(day.split("/")) for day in DAYS)
            check(partitions(glue) == expected, f"the Airflow example's command left {partitions(glue)}")
        finally:
            moto.terminate()
            moto.wait()

    print(f"ok: {name} installed by pip into a fresh venv puts {COMMAND} {version} on its PATH "
          f"(uvx --from the wheel too); explain on the fixture events' {len(created) + len(skipped)} keys; "
          f"backfill --dry-run: {summary}; the Airflow example compiles and its `{dag_command}` registered "
          f"{len(expected)} partitions")


if __name__ == "__main__":
    main()
