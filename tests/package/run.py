"""The shipped Lambda package, run as Lambda runs it (part of `make test`: `make package-run`).

Each zip is unzipped into a task root and its `bootstrap` started with no arguments, from the
task root, with the environment Lambda gives a provided.al2023 function: the Runtime API's
address (AWS_LAMBDA_RUNTIME_API, served on loopback by scripts/runtime_api.py), the function's
name, version, memory and log names, role credentials with a session token, and the variables
the Terraform module sets (terraform/main.tf, `local.environment`), AWS_ENDPOINT_URL aside,
which points at moto. A package built for this machine's architecture runs natively; one for
the other runs under qemu-user (`qemu-aarch64 -L /usr/aarch64-linux-gnu` for arm64 on x86_64,
the loader and libc from Debian's libc6-arm64-cross; `make package-run` installs both).

The function is handed the fixture SQS batches of events/, as the SQS event source mapping hands
them over: it must answer with the `batchItemFailures` that mapping reads (none for
sqs-s3.json; exactly the unparsable message for sqs-one-unparsable.json, on the warm process),
register the batch's partitions in moto's Glue with their locations, log an invocation summary
per invocation, and still be serving at the end.

Usage: run.py ZIP [ZIP...]
"""

import json
import os
import platform
import queue
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import uuid
import zipfile

import boto3

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "scripts"))
from local_moto import parquet_table, start_moto  # noqa: E402
from runtime_api import RuntimeApi  # noqa: E402

REGION = "us-east-1"
# What events/sqs-s3.json and events/sqs-one-unparsable.json name.
BUCKET = "example-data-lake"
DATABASE, TABLE = "analytics", "clickstream"
FUNCTION = "glue-partition-registrar"
# Seconds an invocation may take; an emulated cold start takes a few.
INVOCATION_TIMEOUT = 120

# ELF e_machine -> Lambda's name of the architecture, and how another machine runs it: qemu-user's
# binary, and the directory holding that architecture's loader and libc (Debian's cross libc).
EM_X86_64, EM_AARCH64 = 62, 183
ARCHITECTURES = {
    EM_AARCH64: ("arm64", "qemu-aarch64", "/usr/aarch64-linux-gnu", "lib/ld-linux-aarch64.so.1", "qemu-user libc6-arm64-cross"),
    EM_X86_64: ("x86_64", "qemu-x86_64", "/usr/x86_64-linux-gnu", "lib64/ld-linux-x86-64.so.2", "qemu-user libc6-amd64-cross"),
}
HOST = {"x86_64": "x86_64", "amd64": "x86_64", "aarch64": "arm64", "arm64": "arm64"}.get(platform.machine().lower())


def fail(message, function=None):
    if function is not None:
        print(f"--- bootstrap's output ({len(function.lines)} lines, the last 40):", file=sys.stderr)
        for line in function.lines[-40:]:
            print("  " + line.rstrip(), file=sys.stderr)
    sys.exit(f"FAIL: {message}")


def elf_machine(path):
    with open(path, "rb") as f:
        header = f.read(20)
    if header[:4] != b"\x7fELF":
        fail(f"{path} is not an ELF executable")
    return int.from_bytes(header[18:20], "little" if header[5] == 1 else "big")


def launcher(bootstrap):
    """The command that starts `bootstrap` on this machine, and how it runs (for the log)."""
    arch, qemu, sysroot, loader, debs = ARCHITECTURES.get(elf_machine(bootstrap), (None,) * 5)
    if arch is None:
        fail(f"{bootstrap} is built for neither x86_64 nor arm64")
    if arch == HOST:
        return arch, [bootstrap], "natively"
    emulator = shutil.which(qemu) or shutil.which(qemu + "-static")
    if emulator is None or not os.path.exists(os.path.join(sysroot, loader)):
        fail(f"the {arch} package cannot run on this {platform.machine()} machine without {qemu} and "
             f"{os.path.join(sysroot, loader)}: `make package-run` installs them, or as root "
             f"`apt-get update && apt-get install -y {debs}`")
    return arch, [emulator, "-L", sysroot, bootstrap], f"under {os.path.basename(emulator)} -L {sysroot}"


class Function:
    """`bootstrap` started as Lambda starts it; its output (JSON log lines, EMF) collected."""

    def __init__(self, command, task_root, endpoint):
        self.api = RuntimeApi(function_arn=f"arn:aws:lambda:{REGION}:123456789012:function:{FUNCTION}")
        env = {
            # Set by Lambda for every function on an OS-only runtime.
            "AWS_LAMBDA_RUNTIME_API": f"127.0.0.1:{self.api.port}",
            "AWS_LAMBDA_FUNCTION_NAME": FUNCTION, "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "128", "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
            "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{FUNCTION}",
            "AWS_LAMBDA_LOG_STREAM_NAME": "2026/11/25/[$LATEST]2f1b6b0c5d3e4a7f8e9d0c1b2a3f4e5d",
            "_HANDLER": "bootstrap", "LAMBDA_TASK_ROOT": task_root, "LAMBDA_RUNTIME_DIR": "/var/runtime",
            "AWS_REGION": REGION, "AWS_DEFAULT_REGION": REGION, "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing", "AWS_SESSION_TOKEN": "testing",
            "TZ": ":UTC", "LANG": "en_US.UTF-8", "PATH": "/usr/local/bin:/usr/bin/:/bin:/opt/bin",
            "LD_LIBRARY_PATH": f"/var/lang/lib:/lib64:/usr/lib64:/var/runtime:/var/runtime/lib:{task_root}:{task_root}/lib:/opt/lib",
            # The function's configuration, as the Terraform module sets it with its defaults.
            "GLUE_TABLES": f"{DATABASE}.{TABLE}", "GLUE_DATABASES": "", "GLUE_CATALOG_ID": "",
            "DELETE_EMPTY_PARTITIONS": "false", "SCHEMA_DRIFT_DETECTION": "false", "LOG_LEVEL": "info",
            "TABLE_CACHE_SECONDS": "300", "METRICS_NAMESPACE": "GluePartitionRegistrar",
            "METRICS_PER_TABLE": "true", "POWERTOOLS_SERVICE_NAME": FUNCTION,
            # The one difference: AWS is moto, on loopback.
            "AWS_ENDPOINT_URL": endpoint,
        }
        self.lines = []
        self.proc = subprocess.Popen(command, cwd=task_root, env=env, stdin=subprocess.DEVNULL,
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        threading.Thread(target=lambda: self.lines.extend(self.proc.stdout), daemon=True).start()

    def invoke(self, event):
        """Hand over one event; its request id and the answer posted to the Runtime API."""
        request_id = str(uuid.uuid4())
        self.api.events.put((request_id, event))
        end = time.monotonic() + INVOCATION_TIMEOUT
        while True:
            try:
                _, path, body = self.api.responses.get(timeout=0.2)
                break
            except queue.Empty:
                if self.proc.poll() is not None:
                    fail(f"bootstrap exited with status {self.proc.returncode} before answering", self)
                if time.monotonic() > end:
                    fail(f"no answer within {INVOCATION_TIMEOUT} s", self)
        if not path.endswith(f"/invocation/{request_id}/response"):
            fail(f"the invocation failed: POST {path}: {body[:500]!r}", self)
        return request_id, json.loads(body)

    def log(self):
        """Its JSON log lines (tracing's, not EMF), as they stand."""
        out = []
        for line in list(self.lines):
            try:
                doc = json.loads(line)
            except ValueError:
                continue
            if isinstance(doc, dict) and "level" in doc:
                out.append(doc)
        return out

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def fixture(name):
    with open(os.path.join(ROOT, "events", name)) as f:
        return json.load(f)


def is_json(text):
    try:
        json.loads(text)
        return True
    except ValueError:
        return False


def keys_of(batch):
    """The object keys an SQS batch of S3 notifications names (bodies that are not JSON aside)."""
    keys = []
    for record in batch["Records"]:
        if is_json(record["body"]):
            keys += [r["s3"]["object"]["key"] for r in json.loads(record["body"]).get("Records", [])]
    return keys


def fresh_table(glue):
    """analytics.clickstream as a crawler leaves it (Hive layout, Parquet), with no partitions."""
    parquet_table(glue, DATABASE, TABLE, f"s3://{BUCKET}/{TABLE}/", ("year", "month", "day"))


def partitions(glue):
    pages = glue.get_paginator("get_partitions").paginate(DatabaseName=DATABASE, TableName=TABLE)
    return {tuple(p["Values"]): p["StorageDescriptor"]["Location"] for page in pages for p in page["Partitions"]}


def run_package(zip_path, glue, endpoint):
    with tempfile.TemporaryDirectory(prefix="task-") as task_root:
        with zipfile.ZipFile(zip_path) as z:
            if z.namelist() != ["bootstrap"]:
                fail(f"{zip_path} holds {z.namelist()}, not exactly `bootstrap`")
            z.extract("bootstrap", task_root)
            mode = (z.getinfo("bootstrap").external_attr >> 16) & 0o777
        bootstrap = os.path.join(task_root, "bootstrap")
        # Lambda keeps the zip's mode; zipfile does not restore it.
        os.chmod(bootstrap, mode)
        arch, command, how = launcher(bootstrap)
        fresh_table(glue)
        started = time.monotonic()
        function = Function(command, task_root, endpoint)
        try:
            # A batch of two S3 notifications and the test event S3 sends on configuration.
            batch = fixture("sqs-s3.json")
            expected = {}
            for key in keys_of(batch):
                directory = key.rsplit("/", 1)[0]
                values = tuple(part.split("=", 1)[1] for part in directory.split("/")[1:])
                expected[values] = f"s3://{BUCKET}/{directory}"
            first_id, answer = function.invoke(batch)
            cold = time.monotonic() - started
            if answer != {"batchItemFailures": []}:
                fail(f"sqs-s3.json: the answer is {answer}, not an empty batchItemFailures", function)
            registered = partitions(glue)
            if set(registered) != set(expected):
                fail(f"Glue holds partitions {sorted(registered)}, expected {sorted(expected)}", function)
            for values, location in expected.items():
                if registered[values].rstrip("/") != location:
                    fail(f"partition {values} is registered at {registered[values]}, not {location}/", function)

            # The warm process: a batch with one message whose body is cut short.
            broken = fixture("sqs-one-unparsable.json")
            unparsable = [r["messageId"] for r in broken["Records"] if not is_json(r["body"])]
            second_id, answer = function.invoke(broken)
            if answer != {"batchItemFailures": [{"itemIdentifier": m} for m in unparsable]}:
                fail(f"sqs-one-unparsable.json: the answer is {answer}, expected exactly {unparsable}", function)

            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                summaries = [d for d in function.log() if d.get("message") == "invocation summary"]
                if len(summaries) >= 2:
                    break
                time.sleep(0.05)
            else:
                fail("no `invocation summary` log line for each invocation", function)
            ids = [s.get("function_request_id") for s in summaries]
            if ids != [first_id, second_id]:
                fail(f"the summaries name requests {ids}, not {[first_id, second_id]}", function)
            if int(summaries[0]["created"]) != len(expected):
                fail(f"the first summary reports {summaries[0]['created']} created, not {len(expected)}", function)
            if function.proc.poll() is not None:
                fail(f"bootstrap exited (status {function.proc.returncode}) after answering", function)
            if any("panicked" in line for line in function.lines):
                fail("bootstrap panicked", function)
        finally:
            function.stop()
        print(f"ok: {zip_path} ({arch}, {how}): cold start and a 3-message SQS batch in {cold * 1000:.0f} ms, "
              f"batchItemFailures empty, {len(expected)} partitions registered in Glue at their locations; "
              f"warm, the unparsable message alone named in batchItemFailures")


def main():
    zips = sys.argv[1:]
    if not zips:
        sys.exit(__doc__)
    if HOST is None:
        fail(f"this machine's architecture ({platform.machine()}) is neither x86_64 nor arm64")
    moto, port = start_moto()
    endpoint = f"http://127.0.0.1:{port}"
    try:
        kw = dict(endpoint_url=endpoint, region_name=REGION, aws_access_key_id="testing", aws_secret_access_key="testing")
        s3, glue = boto3.client("s3", **kw), boto3.client("glue", **kw)
        s3.create_bucket(Bucket=BUCKET)
        glue.create_database(DatabaseInput={"Name": DATABASE})
        for key in keys_of(fixture("sqs-s3.json")) + keys_of(fixture("sqs-one-unparsable.json")):
            s3.put_object(Bucket=BUCKET, Key=key, Body=b"PAR1")
        for zip_path in zips:
            run_package(zip_path, glue, endpoint)
    finally:
        moto.terminate()
        moto.wait()


if __name__ == "__main__":
    main()
