"""Start a backfill of a deployed registrar: an execution of its repair state machine.

    make start-backfill TABLE=analytics.clickstream [TF_DIR=examples/minimal] [PRUNE=true] [UPDATE_SCHEMA=true]

The state machine's ARN is the `state_machine_arn` output of the Terraform root in TF_DIR (at
its top level, or inside an output that is the whole module), unless --state-machine-arn names
it. AWS credentials and region come from the environment, as for the AWS CLI. Prints the
execution's ARN; the execution then runs on its own (Step Functions console, or
`aws stepfunctions describe-execution --execution-arn ...`).
"""

import argparse
import json
import shutil
import subprocess
import sys

import boto3


def state_machine_from(terraform, directory):
    result = subprocess.run([terraform, f"-chdir={directory}", "output", "-json"], capture_output=True,
                            text=True)
    if result.returncode != 0:
        sys.exit(f"`terraform output` in {directory} failed (apply the root first, or give "
                 f"--state-machine-arn): {result.stderr.strip()}")
    outputs = {k: v["value"] for k, v in json.loads(result.stdout).items()}
    if "state_machine_arn" in outputs:
        return outputs["state_machine_arn"]
    for value in outputs.values():
        if isinstance(value, dict) and "state_machine_arn" in value:
            return value["state_machine_arn"]
    sys.exit(f"the root in {directory} has no state_machine_arn output: add "
             "`output \"state_machine_arn\" { value = module.<name>.state_machine_arn }`, "
             "or give --state-machine-arn")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--table", action="append", required=True, metavar="DATABASE.TABLE",
                        help="a served table (repeat for several)")
    parser.add_argument("--state-machine-arn")
    parser.add_argument("--terraform-dir", default=".")
    parser.add_argument("--terraform", default=shutil.which("terraform") or "terraform")
    parser.add_argument("--prune", action="store_true", help="also drop partitions whose location is empty")
    parser.add_argument("--update-schema", action="store_true", help="also bring partitions' schemas in line")
    parser.add_argument("--window-days", type=int, default=None,
                        help="walk only the last N days (tables whose first keys are dates)")
    args = parser.parse_args()
    for table in args.table:
        if table.count(".") != 1:
            sys.exit(f"{table!r}: name a table as database.table")
    arn = args.state_machine_arn or state_machine_from(args.terraform, args.terraform_dir)
    execution = boto3.client("stepfunctions").start_execution(
        stateMachineArn=arn,
        input=json.dumps({"tables": args.table, "prune": args.prune, "update_schema": args.update_schema,
                          "window_days": args.window_days}))
    print(execution["executionArn"])


if __name__ == "__main__":
    main()
