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

  validation {
    condition     = can(regex("^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", var.bucket_name))
    error_message = "bucket_name must be a valid S3 bucket name: 3-63 lower-case letters, digits, dots and hyphens."
  }
}

variable "require_tls" {
  description = "Give a created bucket a policy that denies requests not made over TLS. Only a local emulator reached over plain http:// needs false."
  type        = bool
  default     = true
}

variable "kms_key_arn" {
  description = "KMS key of the bucket's default encryption (SSE-KMS): the created bucket uses it, and the crawler and drift detection are allowed to decrypt with it. null means SSE-S3 (AES256)."
  type        = string
  default     = null

  validation {
    condition     = var.kms_key_arn == null || can(regex("^arn:aws[a-z-]*:kms:", var.kms_key_arn))
    error_message = "kms_key_arn must be a KMS key ARN (arn:aws:kms:...)."
  }
}

# --- Glue table ----------------------------------------------------------------------------

variable "catalog_id" {
  description = "Account id of the Glue Data Catalog to register in (GLUE_CATALOG_ID), when the catalog is kept in a central account; null is this account's. The IAM policy names that catalog."
  type        = string
  default     = null

  validation {
    condition     = var.catalog_id == null || can(regex("^[0-9]{12}$", var.catalog_id))
    error_message = "catalog_id must be a 12-digit AWS account id."
  }
}

variable "create_database" {
  description = "Create the Glue database. Set false to use an existing one (creating it again fails with AlreadyExists)."
  type        = bool
  default     = true
}

variable "database_name" {
  description = "Glue database that holds the table."
  type        = string
  default     = "analytics"

  validation {
    condition     = can(regex("^[a-z0-9_]{1,255}$", var.database_name))
    error_message = "database_name must be lower-case letters, digits and underscores (Glue lower-cases names)."
  }
}

variable "table_name" {
  description = "Glue table the function registers partitions for. With schema_source = \"crawler\" it must be the last folder of table_prefix, the name the crawler gives the table."
  type        = string
  default     = "clickstream"

  validation {
    condition     = can(regex("^[a-z0-9_]{1,255}$", var.table_name))
    error_message = "table_name must be lower-case letters, digits and underscores (Glue lower-cases names)."
  }
}

variable "table_prefix" {
  description = "Key prefix of the table's data in the bucket, without leading or trailing slash; empty for the bucket root."
  type        = string
  default     = "clickstream"

  validation {
    condition     = !startswith(var.table_prefix, "/") && !endswith(var.table_prefix, "/") && !strcontains(var.table_prefix, "//")
    error_message = "table_prefix takes no leading or trailing slash (clickstream, or raw/clickstream); leave it empty for the bucket root."
  }
}

variable "schema_source" {
  description = "How the table's schema comes to be: \"terraform\" declares it from columns/partition_keys; \"crawler\" creates a Glue crawler without schedule, to run once by hand."
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

  validation {
    condition     = length(var.partition_keys) > 0
    error_message = "A partitioned table needs at least one partition key."
  }
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

variable "csv_delimiter" {
  description = "data_format = \"csv\": the field delimiter (LazySimpleSerDe's field.delim)."
  type        = string
  default     = ","

  validation {
    condition     = length(var.csv_delimiter) == 1
    error_message = "csv_delimiter is one character."
  }
}

variable "csv_header" {
  description = "data_format = \"csv\": the files start with a header line, which queries skip."
  type        = bool
  default     = false
}

variable "location_template" {
  description = "Optional storage.location.template for a non-Hive layout, e.g. s3://bucket/logs/$${year}/$${month}/$${day}. null keeps the Hive layout. Needs schema_source = \"terraform\"."
  type        = string
  default     = null

  validation {
    condition     = var.location_template == null || can(regex("^s3://", var.location_template))
    error_message = "location_template is an s3:// URI with $${key} placeholders."
  }
}

variable "partition_index_keys" {
  description = "Leading partition keys to build a Glue partition index on (e.g. [\"year\", \"month\"]), so that Athena plans queries over many partitions quickly; empty for none. schema_source = \"terraform\" only."
  type        = list(string)
  default     = []
}

# --- Function ------------------------------------------------------------------------------

variable "lambda_zip" {
  description = "Path of the deployment package that `make package` builds; null is dist/bootstrap.zip of this repository."
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

  validation {
    condition     = var.memory_size >= 128 && var.memory_size <= 10240
    error_message = "memory_size is 128 to 10240 MB."
  }
}

variable "timeout" {
  description = "Lambda timeout in seconds. The function stops its calls a second before it (five for a scheduled repair) and names what it did not do."
  type        = number
  default     = 60

  validation {
    condition     = var.timeout >= 3 && var.timeout <= 900
    error_message = "timeout is 3 to 900 seconds."
  }
}

variable "reserved_concurrency" {
  description = "Reserved concurrent executions; -1 leaves the function unreserved. A small number also caps Glue request rates."
  type        = number
  default     = -1

  validation {
    condition     = var.reserved_concurrency >= -1
    error_message = "reserved_concurrency is -1 (unreserved) or a count."
  }
}

variable "create_log_group" {
  description = "Create the function's log group /aws/lambda/<name>. Set false when it exists already (creating it again fails with AlreadyExists)."
  type        = bool
  default     = true
}

variable "log_level" {
  description = "LOG_LEVEL of the function: error, warn, info or debug."
  type        = string
  default     = "info"

  validation {
    condition     = contains(["error", "warn", "info", "debug"], var.log_level)
    error_message = "log_level is error, warn, info or debug."
  }
}

variable "log_retention_days" {
  description = "Retention of the function's log group, in days."
  type        = number
  default     = 30

  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.log_retention_days)
    error_message = "log_retention_days must be one CloudWatch Logs accepts (1, 3, 5, 7, 14, 30, 60, 90, ...)."
  }
}

variable "delete_empty_partitions" {
  description = "DELETE_EMPTY_PARTITIONS: drop a partition when the location the catalog has for it holds no data any more (subscribes to ObjectRemoved events too)."
  type        = bool
  default     = false
}

variable "schema_drift_detection" {
  description = "SCHEMA_DRIFT_DETECTION: read the Parquet footer of the first object of each new partition (ranged GETs) and report columns that differ from the table's; allows s3:GetObject on the table's prefix."
  type        = bool
  default     = false
}

variable "extra_databases" {
  description = "GLUE_DATABASES: further Glue databases whose every partitioned table in this bucket the function also serves. The IAM policy grants them too."
  type        = list(string)
  default     = []
}

variable "table_cache_seconds" {
  description = "TABLE_CACHE_SECONDS: how long a warm function trusts its copy of the table metadata (a new column reaches new partitions within this time)."
  type        = number
  default     = 300

  validation {
    condition     = var.table_cache_seconds >= 0
    error_message = "table_cache_seconds is a whole number of seconds."
  }
}

variable "lake_formation_permissions" {
  description = "Grant the function's role the Lake Formation permissions it needs on the table (for a catalog governed by Lake Formation): DESCRIBE and INSERT, SELECT for repairs and deletions, DELETE for deletions and pruning, ALTER for schema updates."
  type        = bool
  default     = false
}

# --- Triggering ----------------------------------------------------------------------------

variable "trigger_mode" {
  description = "\"s3\": S3 invokes the function directly (async retries, then the failure record goes to the dead-letter queue). \"sqs\": S3 -> SQS -> Lambda with batching and ReportBatchItemFailures, for busy buckets."
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
  description = "Lambda's retries of a failed asynchronous invocation (S3 events in trigger_mode \"s3\", scheduled repairs) before its failure record goes to the dead-letter queue (0-2)."
  type        = number
  default     = 2

  validation {
    condition     = var.async_retry_attempts >= 0 && var.async_retry_attempts <= 2
    error_message = "async_retry_attempts is 0, 1 or 2."
  }
}

variable "sqs_batch_size" {
  description = "trigger_mode \"sqs\": messages per invocation (1-10000; over 10 needs a batching window of at least 1 second)."
  type        = number
  default     = 100

  validation {
    condition     = var.sqs_batch_size >= 1 && var.sqs_batch_size <= 10000
    error_message = "sqs_batch_size is 1 to 10000."
  }
}

variable "sqs_batching_window_seconds" {
  description = "trigger_mode \"sqs\": how long Lambda gathers messages before invoking (0-300)."
  type        = number
  default     = 10

  validation {
    condition     = var.sqs_batching_window_seconds >= 0 && var.sqs_batching_window_seconds <= 300
    error_message = "sqs_batching_window_seconds is 0 to 300."
  }
}

variable "sqs_max_receive_count" {
  description = "trigger_mode \"sqs\": deliveries of a message before it moves to the dead-letter queue."
  type        = number
  default     = 5

  validation {
    condition     = var.sqs_max_receive_count >= 1 && var.sqs_max_receive_count <= 1000
    error_message = "sqs_max_receive_count is 1 to 1000."
  }
}

# --- Scheduled repair ----------------------------------------------------------------------

variable "repair_schedule" {
  description = "Invoke the function on a schedule with a sync request: the safety net for events lost upstream. null for none."
  type        = string
  default     = null

  validation {
    condition     = var.repair_schedule == null || can(regex("^(cron|rate)\\(.+\\)$", var.repair_schedule))
    error_message = "repair_schedule is an EventBridge schedule expression, e.g. cron(0 3 * * ? *) for nightly at 03:00 UTC."
  }
}

variable "repair_prune" {
  description = "The scheduled repair also drops partitions whose location holds no data (sync --prune)."
  type        = bool
  default     = false
}

variable "repair_update_schema" {
  description = "The scheduled repair also brings partitions' schemas in line with the table's (sync --update-schema)."
  type        = bool
  default     = false
}

# --- Monitoring ----------------------------------------------------------------------------

variable "metrics_namespace" {
  description = "CloudWatch namespace of the function's metrics (METRICS_NAMESPACE)."
  type        = string
  default     = "GluePartitionRegistrar"
}

variable "encrypt_alarm_topic" {
  description = "Encrypt the alarm topic with a customer-managed KMS key whose policy lets CloudWatch publish ($1 a month). The AWS-managed alias/aws/sns key cannot: its policy does not admit CloudWatch, so alarms would never arrive."
  type        = bool
  default     = true
}

variable "alarm_email" {
  description = "E-mail address subscribed to the alarm topic; null for none (subscribe something else to the topic output)."
  type        = string
  default     = null
}

variable "no_partition_alarm_hours" {
  description = "Alarm when no partition was created for this many hours (for feeds that must arrive daily, e.g. 26); null disables it. At most 168 (CloudWatch evaluates at most 7 days)."
  type        = number
  default     = null

  validation {
    condition     = var.no_partition_alarm_hours == null ? true : var.no_partition_alarm_hours >= 1 && var.no_partition_alarm_hours <= 168
    error_message = "no_partition_alarm_hours is 1 to 168."
  }
}

# --- Athena --------------------------------------------------------------------------------

variable "create_athena_workgroup" {
  description = "Create an Athena workgroup with its results location in the data bucket. Set false to use an existing workgroup."
  type        = bool
  default     = true
}

variable "athena_results_prefix" {
  description = "Key prefix in the data bucket for Athena query results (outside the table's prefix)."
  type        = string
  default     = "athena-results"
}
