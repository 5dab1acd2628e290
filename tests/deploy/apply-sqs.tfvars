# Applied and used end to end on the emulator: SQS mode with deletions and the nightly repair.
# The emulator is reached over http://, which the TLS-only bucket policy would deny; and it
# cannot describe an Athena workgroup's tags, so the workgroup is not created.
bucket_name                 = "deployed-data-lake"
trigger_mode                = "sqs"
sqs_batch_size              = 10
sqs_batching_window_seconds = 0
data_format                 = "json"
delete_empty_partitions     = true
repair_schedule             = "cron(0 3 * * ? *)"
repair_prune                = true
create_athena_workgroup     = false
require_tls                 = false
