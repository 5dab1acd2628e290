variable "name" {
  description = "Name prefix for every resource (function, queues, roles, alarms)."
  type        = string
  default     = "glue-partition-registrar"

  validation {
    condition     = can(regex("^[a-zA-Z0-9-]{1,40}$", var.name))
    error_message = "Use 1-40 letters, digits and hyphens."
  }
}

variable "tags" {
  description = "Tags added to every resource that takes tags."
  type        = map(string)
  default     = {}
}

# --- Data bucket -------------------------------------------------------------------------

variable "create_bucket" {
  description = "Create the data bucket. Set false and give bucket_name to use an existing bucket."
  type        = bool
  default     = true
}

variable "bucket_name" {
  description = "Name of the data bucket: the one to create, or the existing one when create_bucket is false."
  type        = string
}

variable "kms_key_arn" {
  description = "KMS key for the created bucket's default encryption; null uses SSE-S3 (AES256)."
  type        = string
  default     = null
}

# --- Glue table ----------------------------------------------------------------------------

variable "database_name" {
  description = "Glue database that holds the table."
  type        = string
  default     = "analytics"
}

variable "table_name" {
  description = "Glue table the function registers partitions for."
  type        = string
  default     = "clickstream"
}

variable "table_prefix" {
  description = "Key prefix of the table's data in the bucket, without leading or trailing slash."
  type        = string
  default     = "clickstream"
}

variable "schema_source" {
  description = "How the table's schema comes to be: \"terraform\" declares it from columns/partition_keys; \"crawler\" creates a Glue crawler without schedule to run once by hand."
  type        = string
  default     = "terraform"

  validation {
    condition     = contains(["terraform", "crawler"], var.schema_source)
    error_message = "schema_source is \"terraform\" or \"crawler\"."
  }
}

variable "columns" {
  description = "Data columns of the table (name and Hive/Athena type), when schema_source is \"terraform\"."
  type        = list(object({ name = string, type = string }))
  default = [
    { name = "user_id", type = "string" },
    { name = "url", type = "string" },
    { name = "ts", type = "timestamp" },
  ]
}

variable "partition_keys" {
  description = "Partition keys in path order (name and type). With the default Hive layout keys look like year=2026/month=11/day=25/."
  type        = list(object({ name = string, type = string }))
  default = [
    { name = "year", type = "string" },
    { name = "month", type = "string" },
    { name = "day", type = "string" },
  ]
}

variable "data_format" {
  description = "Storage format of the table's files: parquet, json or csv."
  type        = string
  default     = "parquet"

  validation {
    condition     = contains(["parquet", "json", "csv"], var.data_format)
    error_message = "data_format is parquet, json or csv."
  }
}

variable "location_template" {
  description = "Optional storage.location.template for a non-Hive layout, e.g. s3://bucket/logs/$${year}/$${month}/$${day}. null keeps the Hive layout."
  type        = string
  default     = null
}

# --- Function ------------------------------------------------------------------------------

variable "lambda_zip" {
  description = "Path of the deployment package that `make package` builds."
  type        = string
  default     = null
}

variable "architecture" {
  description = "Lambda architecture matching the package: x86_64 (the default build) or arm64 (cheaper; build with `make package ARCH=arm64`)."
  type        = string
  default     = "x86_64"

  validation {
    condition     = contains(["x86_64", "arm64"], var.architecture)
    error_message = "architecture is x86_64 or arm64."
  }
}

variable "memory_size" {
  description = "Lambda memory in MB; 128 is enough (see README, Performance)."
  type        = number
  default     = 128
}

variable "timeout" {
  description = "Lambda timeout in seconds."
  type        = number
  default     = 60
}

variable "reserved_concurrency" {
  description = "Reserved concurrent executions; -1 leaves the function unreserved. A small number also caps Glue request rates."
  type        = number
  default     = -1
}

variable "log_level" {
  description = "LOG_LEVEL of the function: error, warn, info or debug."
  type        = string
  default     = "info"
}

variable "log_retention_days" {
  description = "Retention of the function's log group, in days."
  type        = number
  default     = 30
}

variable "delete_empty_partitions" {
  description = "DELETE_EMPTY_PARTITIONS: drop a partition when its last object is removed (subscribes to ObjectRemoved events too)."
  type        = bool
  default     = false
}

variable "extra_databases" {
  description = "GLUE_DATABASES: further Glue databases whose every partitioned table in this bucket the function also serves. The IAM policy grants them too."
  type        = list(string)
  default     = []
}

variable "table_cache_seconds" {
  description = "TABLE_CACHE_SECONDS: how long a warm function trusts its copy of the table metadata."
  type        = number
  default     = 300
}

# --- Triggering ----------------------------------------------------------------------------

variable "trigger_mode" {
  description = "\"s3\": S3 invokes the function directly (async retries, failures to the DLQ). \"sqs\": S3 -> SQS -> Lambda with batching, for busy buckets."
  type        = string
  default     = "s3"

  validation {
    condition     = contains(["s3", "sqs"], var.trigger_mode)
    error_message = "trigger_mode is \"s3\" or \"sqs\"."
  }
}

variable "filter_suffix" {
  description = "Only objects whose key ends with this trigger the function (e.g. .parquet); empty for all."
  type        = string
  default     = ""
}

variable "async_retry_attempts" {
  description = "trigger_mode \"s3\": Lambda's retries of a failed asynchronous invocation before it goes to the DLQ (0-2)."
  type        = number
  default     = 2
}

variable "sqs_batch_size" {
  description = "trigger_mode \"sqs\": messages per invocation (up to 10000 with a batching window)."
  type        = number
  default     = 100
}

variable "sqs_batching_window_seconds" {
  description = "trigger_mode \"sqs\": how long Lambda gathers messages before invoking (0-300)."
  type        = number
  default     = 10
}

variable "sqs_max_receive_count" {
  description = "trigger_mode \"sqs\": deliveries of a message before it moves to the DLQ."
  type        = number
  default     = 5
}

# --- Monitoring ----------------------------------------------------------------------------

variable "metrics_namespace" {
  description = "CloudWatch namespace of the function's metrics (METRICS_NAMESPACE)."
  type        = string
  default     = "GluePartitionRegistrar"
}

variable "alarm_email" {
  description = "E-mail address subscribed to the alarm topic; null for none (subscribe something else to the topic output)."
  type        = string
  default     = null
}

variable "no_partition_alarm_hours" {
  description = "Alarm when no partition was created for this many hours (for feeds that must arrive daily, e.g. 26); null disables it."
  type        = number
  default     = null
}

# --- Athena --------------------------------------------------------------------------------

variable "athena_results_prefix" {
  description = "Key prefix in the data bucket for Athena query results (outside the table's prefix)."
  type        = string
  default     = "athena-results"
}
