"""Airflow: keep one table's partitions in line with S3 from a DAG, through the installed CLI.

The registrar's Lambda registers partitions as objects land; this task is the scheduled repair
for a table that is loaded by a pipeline Airflow already runs (or that has no event function at
all): `glue-partition-registrar sync` walks the table's location and registers every partition
the catalog lacks. It runs on the worker, with the worker's AWS credentials and region (its
role, or AWS_PROFILE / AWS_REGION in its environment); nothing but the command is needed there:

    pip install glue-partition-registrar      # in the worker image, or MWAA's requirements.txt

Exit status 0: nothing failed; 1: an object or a call failed (the task fails and is retried:
registering is idempotent); 2: the table or the configuration cannot work (a retry will not
help: fix the table name, the region or the permissions). The report (JSON) and the one-line
summary land in the task's log. Add `--prune` to also drop partitions whose data is gone.

Works with Airflow 2.4+ and 3.
"""

from datetime import datetime, timedelta

try:  # Airflow 3
    from airflow.providers.standard.operators.bash import BashOperator
    from airflow.sdk import DAG
except ImportError:  # Airflow 2
    from airflow import DAG
    from airflow.operators.bash import BashOperator

# The table, as database.table.
TABLE = "analytics.clickstream"
COMMAND = f"glue-partition-registrar sync --table {TABLE}"

with DAG(
    dag_id="glue_partition_sync",
    description=f"Register the partitions of {TABLE} that the Glue Data Catalog lacks",
    schedule="@hourly",
    start_date=datetime(2026, 1, 1),
    catchup=False,
    # One walk of the table at a time.
    max_active_runs=1,
    default_args={"retries": 2, "retry_delay": timedelta(minutes=5)},
    tags=["glue", "partitions"],
) as dag:
    BashOperator(
        task_id="sync_partitions",
        bash_command=COMMAND,
        # Progress as log lines in the task's log; the rest of the environment is the worker's.
        env={"LOG_LEVEL": "info"},
        append_env=True,
        # The report is many lines of JSON: the log holds it, XCom would keep only its last line.
        do_xcom_push=False,
        execution_timeout=timedelta(hours=1),
    )
