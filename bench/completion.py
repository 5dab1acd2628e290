"""What completion adds to the event path: Glue and EventBridge requests per 10,000-record batch.

The shipped binary, started as Lambda starts it (bench/e2e.py's Runtime API), handles one
10,000-record SQS batch over 1,000 new partitions (bench/e2e.py's batch) in each registration
mode, each into a fresh table, with `COMPLETION_BUS` set as the module sets it:

- `first_object`, data objects only: the batch of the event-path benchmark;
- `first_object` with markers: the same partitions, each with 9 data objects and then its
  `_SUCCESS` (a Spark job's files, then its committer's marker), 10,000 records in all;
- `marker` (`registrar.registration = marker`): that batch again.

The counts are the function's own (its invocation summary's `glue_ops` and
`events_requests`). Goal (issue 24): one `PutEvents` per 10 completed partitions, and nothing
else added in `first_object` mode without markers.

Usage: completion.py BINARY [--smoke] [--results bench/results.json]
"""

import argparse
import json
import os
import sys

import boto3

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "scripts"))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from e2e import REGION, Function, create_table, ops, s3_record, sqs_batch, wait_for  # noqa: E402
from local_moto import start_moto  # noqa: E402
from results import merge  # noqa: E402

BUS = "bench-completions"


def marked_batch(records, partitions, table):
    """Each partition's data objects, then its `_SUCCESS`: the batch's last `partitions` records
    are the markers, one a partition."""
    batch = sqs_batch(records, partitions, table)
    for i, record in enumerate(batch["Records"][records - partitions:], start=records - partitions):
        body = json.loads(record["body"])
        key = body["Records"][0]["s3"]["object"]["key"]
        marker = s3_record(key.rsplit("/", 1)[0] + "/_SUCCESS")
        marker["s3"]["object"]["eTag"] = f"etag-{i}"
        record["body"] = json.dumps({"Records": [marker]})
    return batch


def measure(binary, port, glue, table, batch, parameters):
    """One cold invocation on a fresh table: what the function's summary says it sent."""
    create_table(glue, table)
    if parameters:
        current = glue.get_table(DatabaseName="bench", Name=table)["Table"]
        table_input = {k: current[k] for k in ("Name", "TableType", "StorageDescriptor", "PartitionKeys")}
        table_input["Parameters"] = dict(current.get("Parameters", {}), **parameters)
        glue.update_table(DatabaseName="bench", TableInput=table_input)
    f = Function(binary, port, table, extra_env={"COMPLETION_BUS": BUS})
    try:
        _, response = f.api.invoke(batch)
        wait_for(lambda: f.summaries())
        summary = f.summaries()[0]
    finally:
        f.stop()
    assert response == {"batchItemFailures": []}, response
    glue_ops = {k: int(v) for k, v in ops(summary).items()}
    return {"created": int(summary["created"]), "skipped": int(summary["skipped"]),
            "glue_requests": glue_ops, "put_events": int(summary["events_requests"])}


def main():
    args = argparse.ArgumentParser()
    args.add_argument("binary")
    args.add_argument("--smoke", action="store_true", help="tiny sizes, no results file")
    args.add_argument("--results", default="bench/results.json")
    a = args.parse_args()
    records, partitions = (50, 5) if a.smoke else (10_000, 1_000)

    moto, port = start_moto()
    try:
        kw = dict(endpoint_url=f"http://127.0.0.1:{port}", region_name=REGION, aws_access_key_id="testing",
                  aws_secret_access_key="testing")
        glue = boto3.client("glue", **kw)
        glue.create_database(DatabaseInput={"Name": "bench"})
        boto3.client("events", **kw).create_event_bus(Name=BUS)
        modes = {
            "first_object, no markers": ("plain", sqs_batch(records, partitions, "plain"), {}),
            "first_object, markers": ("eager", marked_batch(records, partitions, "eager"), {}),
            "marker": ("marked", marked_batch(records, partitions, "marked"),
                       {"registrar.registration": "marker"}),
        }
        figures = {name: measure(a.binary, port, glue, table, batch, parameters)
                   for name, (table, batch, parameters) in modes.items()}
    finally:
        moto.terminate()
        moto.wait()

    creates = -(-partitions // 100)
    plain = figures["first_object, no markers"]
    assert plain == {"created": partitions, "skipped": 0, "put_events": 0,
                     "glue_requests": {"GetTable": 1, "BatchCreatePartition": creates}}, plain
    eager = figures["first_object, markers"]
    assert eager["glue_requests"] == plain["glue_requests"] and eager["created"] == partitions, eager
    marked = figures["marker"]
    assert marked["glue_requests"] == plain["glue_requests"] and marked["created"] == partitions, marked
    assert marked["skipped"] == records - partitions, marked
    for name in ("first_object, markers", "marker"):
        assert figures[name]["put_events"] == -(-partitions // 10), (name, figures[name])

    print(f"\nCompletion: Glue and EventBridge requests for a {records:,}-record batch over {partitions:,} new partitions")
    print(f"  {'mode':<26} {'created':>8} {'skipped':>8}  {'Glue requests':<36} {'PutEvents':>9}")
    for name, f in figures.items():
        glue_text = " ".join(f"{k} {v}" for k, v in sorted(f["glue_requests"].items()))
        print(f"  {name:<26} {f['created']:>8,} {f['skipped']:>8,}  {glue_text:<36} {f['put_events']:>9}")
    print(f"  goal: one PutEvents per 10 completed partitions ({-(-partitions // 10)}), "
          "nothing added without markers")
    if not a.smoke:
        merge(a.results, {"completion": {"records": records, "partitions": partitions, "modes": figures}})


if __name__ == "__main__":
    main()
