# Plan 3: S3 mode, a new SSE-KMS bucket, CSV files with a header in a non-Hive layout declared
# by storage.location.template, the bucket root as table location, no encryption of the
# alarm topic.
bucket_name         = "plan-template-csv"
kms_key_arn         = "arn:aws:kms:us-east-1:123456789012:key/66666666-7777-8888-9999-000000000000"
table_prefix        = ""
table_name          = "logs"
data_format         = "csv"
csv_delimiter       = "|"
csv_header          = true
location_template   = "s3://plan-template-csv/$${year}/$${month}/$${day}"
encrypt_alarm_topic = false
partition_keys = [
  { name = "year", type = "int" },
  { name = "month", type = "int" },
  { name = "day", type = "int" },
]
