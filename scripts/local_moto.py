"""moto's server on a free loopback port, for the demo and the benchmark (the Rust tests
start their own, in tests/it/moto.rs)."""

import os
import socket
import subprocess
import sys
import time
import urllib.request


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def in_process_moto():
    """moto's server in this process, so that a benchmark can fill its models directly (a
    tree of 500,000 objects through the API would take longer than the benchmark). Returns the
    server and its port."""
    import logging

    from moto.moto_server.threaded_moto_server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    return server, server.get_host_and_port()[1]


def emulator_env(endpoint, **extra):
    """This process's environment, pointed at the emulator with its dummy credentials, for the
    registrar binary (and whatever `extra` adds)."""
    return dict(os.environ, AWS_ENDPOINT_URL=endpoint, AWS_REGION="us-east-1", AWS_ACCESS_KEY_ID="testing",
                AWS_SECRET_ACCESS_KEY="testing", AWS_EC2_METADATA_DISABLED="true", **extra)


def parquet_table(glue, database, name, location, keys, columns=("user_id", "url")):
    """A Hive-layout Parquet table as a crawler leaves it, with no partitions: string partition
    keys `keys` and string `columns`, at `location`. One that was there is replaced."""
    try:
        glue.delete_table(DatabaseName=database, Name=name)
    except glue.exceptions.EntityNotFoundException:
        pass
    glue.create_table(DatabaseName=database, TableInput={
        "Name": name, "TableType": "EXTERNAL_TABLE",
        "PartitionKeys": [{"Name": k, "Type": "string"} for k in keys],
        "StorageDescriptor": {
            "Columns": [{"Name": c, "Type": "string"} for c in columns], "Location": location,
            "InputFormat": "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat",
            "OutputFormat": "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat",
            "SerdeInfo": {"SerializationLibrary": "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe"}}})


# moto's server, answering calls as AWS documents them, where moto's server does not
# (those Terraform's AWS provider makes, and the one the deployment test checks rules with):
# - ValidateStateMachineDefinition (asked while planning a state machine): the definition is
#   run through moto's own ASL parser (its static analyser, the one moto executes state
#   machines with), and the answer is OK, or FAIL with the parser's message;
# - ListStateMachineVersions (read after creating one): the module publishes no versions of
#   its state machine, so the list is empty;
# - GetBucketNotificationConfiguration: moto stores a bucket's EventBridgeConfiguration but
#   leaves it out of the answer, so EventBridge delivery would read as off; the S3 API reference
#   (GetBucketNotificationConfiguration) returns it, as an empty element, when it is on;
# - TestEventPattern ({"Result": bool}, EventBridge API reference): moto leaves it unanswered;
#   it is answered with moto's own pattern matcher, the one its rules deliver events with;
# - CreatePartitionIndex, GetPartitionIndexes and DeletePartitionIndex (Glue API reference;
#   Terraform's aws_glue_partition_index makes them): moto keeps no index and answers none;
#   they are kept per table, on the table's partition keys (InvalidInputException for another
#   key), at most 3 a table (ResourceNumberLimitExceededException), each ACTIVE once created.
SERVER = """
import json, sys
from moto.server import main
from moto.core.responses import ActionResult, EmptyResult
from moto.s3.responses import S3Response
from moto.events.models import EventPattern
from moto.events.responses import EventsHandler
from moto.glue.exceptions import InvalidInputException, ResourceNumberLimitExceededException
from moto.glue.responses import GlueResponse
from moto.stepfunctions.parser.asl.static_analyser.static_analyser import StaticAnalyser
from moto.stepfunctions.responses import StepFunctionResponse

def validate_state_machine_definition(self):
    definition = self._get_param("definition")
    try:
        StaticAnalyser().analyse(definition)
        return json.dumps({"result": "OK", "diagnostics": [], "truncated": False})
    except Exception as e:
        diagnostic = {"severity": "ERROR", "code": "SCHEMA_VALIDATION_FAILED", "message": str(e)[:1000]}
        return json.dumps({"result": "FAIL", "diagnostics": [diagnostic], "truncated": False})

def list_state_machine_versions(self):
    return json.dumps({"stateMachineVersions": []})

def get_bucket_notification(self):
    config = self.backend.get_bucket_notification_configuration(self.bucket_name)
    if not config:
        return self.serialized(EmptyResult())

    def build(item, arn_key):
        entry = {"Id": item.id, arn_key: item.arn, "Events": item.events}
        if item.filters:
            entry["Filter"] = {"Key": {"FilterRules": item.filters["S3Key"]["FilterRule"]}}
        return entry

    result = {
        "TopicConfigurations": [build(t, "TopicArn") for t in config.topic],
        "QueueConfigurations": [build(q, "QueueArn") for q in config.queue],
        "LambdaFunctionConfigurations": [build(f, "LambdaFunctionArn") for f in config.cloud_function],
    }
    if config.event_bridge is not None:
        result["EventBridgeConfiguration"] = {}
    self.data["Action"] = "GetBucketNotificationConfiguration"
    return self.serialized(ActionResult(result))

def test_event_pattern(self):
    pattern = EventPattern.load(self._get_param("EventPattern"))
    return json.dumps({"Result": pattern.matches_event(json.loads(self._get_param("Event")))})

PARTITION_INDEXES = {}

def table_indexes(self):
    database, table = self._get_param("DatabaseName"), self._get_param("TableName")
    found = self.glue_backend.get_table(database, table)
    return found, PARTITION_INDEXES.setdefault((self.current_account, self.region, database, table), {})

def create_partition_index(self):
    table, indexes = table_indexes(self)
    types = {k["Name"]: k.get("Type", "string") for k in table.as_dict().get("PartitionKeys", [])}
    index = self._get_param("PartitionIndex")
    if not index.get("Keys") or any(k not in types for k in index["Keys"]):
        raise InvalidInputException("CreatePartitionIndex", "Partition index keys must be partition keys of the table")
    if len(indexes) >= 3:
        raise ResourceNumberLimitExceededException("A table has at most 3 partition indexes")
    indexes[index["IndexName"]] = [{"Name": k, "Type": types[k]} for k in index["Keys"]]
    return EmptyResult()

def get_partition_indexes(self):
    _, indexes = table_indexes(self)
    return ActionResult({"PartitionIndexDescriptorList": [
        {"IndexName": name, "Keys": keys, "IndexStatus": "ACTIVE"} for name, keys in indexes.items()]})

def delete_partition_index(self):
    _, indexes = table_indexes(self)
    indexes.pop(self._get_param("IndexName"), None)
    return EmptyResult()

GlueResponse.create_partition_index = create_partition_index
GlueResponse.get_partition_indexes = get_partition_indexes
GlueResponse.delete_partition_index = delete_partition_index
S3Response.get_bucket_notification = get_bucket_notification
EventsHandler.test_event_pattern = test_event_pattern
StepFunctionResponse.validate_state_machine_definition = validate_state_machine_definition
StepFunctionResponse.list_state_machine_versions = list_state_machine_versions
main(sys.argv[1:])
"""


def start_moto():
    """Start moto's server from this Python's environment; return (process, port)."""
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-c", SERVER, "-H", "127.0.0.1", "-p", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    for _ in range(200):
        try:
            urllib.request.urlopen(url + "/moto-api/data.json", timeout=1)
            return proc, port
        except OSError:
            time.sleep(0.05)
    proc.kill()
    sys.exit("moto did not start")
