# Plan 1: SQS mode, a new bucket, the schema declared here (Parquet, Hive layout), deletions,
# drift detection, the nightly repair with pruning and schema updates, a partition index,
# Lake Formation grants and a central catalog.
bucket_name                 = "plan-sqs-everything"
trigger_mode                = "sqs"
sqs_batch_size              = 500
sqs_batching_window_seconds = 20
data_format                 = "parquet"
delete_empty_partitions     = true
schema_drift_detection      = true
repair_schedule             = "cron(0 3 * * ? *)"
repair_prune                = true
repair_update_schema        = true
partition_index_keys        = ["year", "month"]
lake_formation_permissions  = true
catalog_id                  = "123456789012"
no_partition_alarm_hours    = 26
alarm_email                 = "data-oncall@example.com"
