# Plan 2: S3 mode on an existing SSE-KMS bucket, the schema found by a one-time crawler (JSON
# files), further databases served, an existing database and log group reused.
bucket_name             = "plan-existing-bucket"
create_bucket           = false
kms_key_arn             = "arn:aws:kms:us-east-1:123456789012:key/11111111-2222-3333-4444-555555555555"
schema_source           = "crawler"
data_format             = "json"
table_prefix            = "raw/clickstream"
table_name              = "clickstream"
create_database         = false
create_log_group        = false
extra_databases         = ["raw", "curated"]
trigger_mode            = "s3"
filter_suffix           = ".json"
create_athena_workgroup = false
