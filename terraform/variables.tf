variable "name" {
  description = "Name prefix for every resource (functions, queues, roles, state machine, alarms)."
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

# --- The package ---------------------------------------------------------------------------

variable "lambda_zip" {
  description = "Path of the deployment package (`make package` writes dist/bootstrap.zip, and dist/bootstrap.json beside it saying its architecture and features). Give this or lambda_s3."
  type        = string
  default     = null
}

variable "lambda_s3" {
  description = "The deployment package as an S3 object, instead of lambda_zip: its bucket, key, optional version, and the cargo features it was built with (\"schema-drift\")."
  type = object({
    bucket   = string
    key      = string
    version  = optional(string)
    features = optional(list(string), [])
  })
  default = null
}

variable "architecture" {
  description = "Lambda architecture of the package: arm64 (the default build, about 20 % cheaper per GB-second) or x86_64 (`make package ARCH=x86_64`)."
  type        = string
  default     = "arm64"

  validation {
    condition     = contains(["x86_64", "arm64"], var.architecture)
    error_message = "architecture is x86_64 or arm64."
  }
}

# --- Tables ----------------------------------------------------------------------------------

variable "tables" {
  description = "Existing Glue tables to serve, as database.table. Their locations, partition keys and layouts are read from the catalog at plan time: nobody types a prefix twice."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for t in var.tables : can(regex("^[a-z0-9_]{1,255}\\.[a-z0-9_]{1,255}$", t))])
    error_message = "Each table is database.table, in lower-case letters, digits and underscores: a Glue database name has no dot, and Glue lower-cases names."
  }
}

variable "table_definitions" {
  description = "Tables this module creates (Terraform owns their schema), keyed database.table: the bucket (default bucket_name) and key prefix of their data, columns, partition keys, format, and optionally a storage.location.template for a non-Hive layout, a partition index, or schema_source = \"crawler\" for a crawler (without schedule) that makes the table once."
  type = map(object({
    prefix               = string
    bucket               = optional(string)
    columns              = optional(list(object({ name = string, type = string })), [])
    partition_keys       = list(object({ name = string, type = string }))
    data_format          = optional(string, "parquet")
    csv_delimiter        = optional(string, ",")
    csv_header           = optional(bool, false)
    location_template    = optional(string)
    partition_index_keys = optional(list(string), [])
    schema_source        = optional(string, "terraform")
  }))
  default = {}

  validation {
    condition     = alltrue([for k, _ in var.table_definitions : can(regex("^[a-z0-9_]{1,255}\\.[a-z0-9_]{1,255}$", k))])
    error_message = "Each table definition is keyed database.table, in lower-case letters, digits and underscores: a Glue database name has no dot."
  }
  validation {
    condition     = alltrue([for _, d in var.table_definitions : !startswith(d.prefix, "/") && !endswith(d.prefix, "/") && !strcontains(d.prefix, "//")])
    error_message = "A table definition's prefix takes no leading or trailing slash (clickstream, or raw/clickstream); empty for the bucket root."
  }
  validation {
    condition     = alltrue([for _, d in var.table_definitions : contains(["parquet", "json", "csv"], d.data_format) && length(d.csv_delimiter) == 1 && contains(["terraform", "crawler"], d.schema_source) && length(d.partition_keys) > 0])
    error_message = "A table definition has data_format parquet, json or csv; a one-character csv_delimiter; schema_source terraform or crawler; and at least one partition key."
  }
  validation {
    condition     = alltrue([for _, d in var.table_definitions : d.location_template == null || d.schema_source == "terraform"])
    error_message = "location_template needs schema_source = \"terraform\": a crawler does not set storage.location.template on the tables it makes, so the function would read the layout as Hive's."
  }
  validation {
    condition = alltrue([for _, d in var.table_definitions : alltrue([for i, k in d.partition_index_keys : try(d.partition_keys[i].name, null) == k])])

    error_message = "partition_index_keys must be leading partition keys, in order (for year/month/day: [\"year\"] or [\"year\", \"month\"] ...)."
  }
}

variable "partition_indexes" {
  description = "Partition indexes of served tables, keyed database.table: each index the list of its partition keys, in order (at most 3 a table, the one of its partition_index_keys counted; keys of type string, char, varchar, int, bigint, long, tinyint, smallint or date). Athena, EMR and Spark filter a large table's partitions far faster through one. Added without recreating the table; once one exists Glue refuses a partition whose indexed value fails its key's type or holds U+0000-U+0002, and the registrar never sends one."
  type        = map(list(list(string)))
  default     = {}

  validation {
    condition     = alltrue([for k, indexes in var.partition_indexes : can(regex("^[a-z0-9_]{1,255}\\.[a-z0-9_]{1,255}$", k)) && length(indexes) <= 3])
    error_message = "partition_indexes is keyed database.table, with at most 3 indexes a table (Glue's limit)."
  }
  validation {
    condition     = alltrue(flatten([for k, indexes in var.partition_indexes : [for keys in indexes : length(keys) > 0 && length(distinct(keys)) == length(keys)]]))
    error_message = "A partition index names one or more partition keys, each once."
  }
  validation {
    condition     = alltrue([for k, indexes in var.partition_indexes : length(distinct([for keys in indexes : join(",", keys)])) == length(indexes)])
    error_message = "A table's partition indexes differ from one another."
  }
}

variable "create_databases" {
  description = "Glue databases this module creates (for table_definitions); the others must exist."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for d in var.create_databases : can(regex("^[a-z0-9_]{1,255}$", d))])
    error_message = "A database name is lower-case letters, digits and underscores: no dot."
  }
}

variable "extra_databases" {
  description = "GLUE_DATABASES: databases whose every partitioned table the function also serves (their tables are not known at plan time: the function's Glue grant covers every table of these databases, and their prefixes get no delivery filter of their own)."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for d in var.extra_databases : can(regex("^[a-z0-9_]{1,255}$", d))])
    error_message = "A database name is lower-case letters, digits and underscores: no dot."
  }
}

variable "catalog_id" {
  description = "Account id of the Glue Data Catalog to register in (GLUE_CATALOG_ID), when the catalog is kept in a central account; null is this account's. The IAM policies name that catalog."
  type        = string
  default     = null

  validation {
    condition     = var.catalog_id == null || can(regex("^[0-9]{12}$", var.catalog_id))
    error_message = "catalog_id must be a 12-digit AWS account id."
  }
}

variable "lake_formation_permissions" {
  description = "Grant the functions' roles the Lake Formation permissions they need on each served table (for a catalog governed by Lake Formation): DESCRIBE and INSERT, SELECT for repairs and deletions, DELETE for deletions and pruning, ALTER for schema updates."
  type        = bool
  default     = false
}

variable "iam_scope" {
  description = "What the functions' roles are granted on: \"table\", exactly the served tables and their prefixes; \"database\", every table of the served databases and every object of their buckets, in policies whose size grows with the databases and buckets instead of the tables (for lakes whose tables' ARNs do not fit managed_policies_per_role policies)."
  type        = string
  default     = "table"

  validation {
    condition     = contains(["table", "database"], var.iam_scope)
    error_message = "iam_scope is \"table\" or \"database\"."
  }
}

variable "managed_policies_per_role" {
  description = "IAM's quota of managed policies attached to a role in this account (10, or up to 20 on request): the grants that grow with the tables are managed policies of at most 6,144 characters, and a plan that needs more than this many for one role stops and says what to do."
  type        = number
  default     = 10

  validation {
    condition     = var.managed_policies_per_role >= 1 && var.managed_policies_per_role <= 20
    error_message = "managed_policies_per_role is 1 to 20 (IAM's quota is 10 by default, at most 20)."
  }
}

# --- The data bucket -----------------------------------------------------------------------

variable "create_bucket" {
  description = "Create the data bucket bucket_name (with public access blocked, default encryption and a TLS-only policy). Its notification configuration is then the module's own."
  type        = bool
  default     = false
}

variable "bucket_name" {
  description = "The bucket to create (create_bucket), and the bucket of table_definitions that name none. Tables of var.tables name their own buckets."
  type        = string
  default     = null

  validation {
    condition     = var.bucket_name == null || can(regex("^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", var.bucket_name))
    error_message = "bucket_name must be a valid S3 bucket name: 3-63 lower-case letters, digits, dots and hyphens."
  }
}

variable "require_tls" {
  description = "Give a created bucket a policy that denies requests not made over TLS. Only a local emulator reached over plain http:// needs false."
  type        = bool
  default     = true
}

variable "kms_key_arn" {
  description = "KMS key of the data's encryption (SSE-KMS): a created bucket uses it, and the crawler and drift detection may decrypt with it. null means SSE-S3."
  type        = string
  default     = null

  validation {
    condition     = var.kms_key_arn == null || can(regex("^arn:aws[a-z-]*:kms:", var.kms_key_arn))
    error_message = "kms_key_arn must be a KMS key ARN (arn:aws:kms:...)."
  }
}

# --- Triggering ----------------------------------------------------------------------------

variable "trigger_mode" {
  description = "How object events reach the function. \"eventbridge\": the bucket's EventBridge delivery, rules per bucket matching its tables' prefixes, to SQS, then the function (shares a bucket with any other consumer). \"sqs\": S3 notifications to SQS, then the function. \"s3\": S3 invokes the function. s3 and sqs write the bucket's whole notification configuration: see manage_bucket_notifications."
  type        = string
  default     = "eventbridge"

  validation {
    condition     = contains(["s3", "sqs", "eventbridge"], var.trigger_mode)
    error_message = "trigger_mode is \"s3\", \"sqs\" or \"eventbridge\"."
  }
}

variable "manage_bucket_notifications" {
  description = "The module owns the notification configuration of the tables' buckets: S3 keeps one per bucket, and writing it removes every notification not in it. Needed for trigger_mode s3 and sqs on buckets this module did not create; in eventbridge mode it lets the module turn on the bucket's EventBridge delivery (else turn it on where the configuration is managed: `eventbridge = true` in its aws_s3_bucket_notification)."
  type        = bool
  default     = false
}

variable "filter_suffix" {
  description = "Only objects whose key ends with this reach the function (e.g. .parquet); empty for all."
  type        = string
  default     = ""
}

variable "delete_empty_partitions" {
  description = "DELETE_EMPTY_PARTITIONS: drop a partition when the location the catalog has for it holds no data any more (the function receives ObjectRemoved events too)."
  type        = bool
  default     = false
}

variable "schema_drift_detection" {
  description = "SCHEMA_DRIFT_DETECTION: read the Parquet footer of the first object of each new partition (ranged GETs) and report columns that differ from the table's; allows s3:GetObject on the tables' prefixes. Needs a package built with `make package FEATURES=schema-drift`."
  type        = bool
  default     = false
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

variable "async_retry_attempts" {
  description = "Lambda's retries of a failed asynchronous invocation (trigger_mode \"s3\") before its failure record goes to the dead-letter queue (0-2)."
  type        = number
  default     = 2

  validation {
    condition     = var.async_retry_attempts >= 0 && var.async_retry_attempts <= 2
    error_message = "async_retry_attempts is 0, 1 or 2."
  }
}

variable "sqs_batch_size" {
  description = "trigger_mode \"sqs\" and \"eventbridge\": messages per invocation (1-10000; over 10 needs a batching window of at least 1 second)."
  type        = number
  default     = 100

  validation {
    condition     = var.sqs_batch_size >= 1 && var.sqs_batch_size <= 10000
    error_message = "sqs_batch_size is 1 to 10000."
  }
}

variable "sqs_batching_window_seconds" {
  description = "trigger_mode \"sqs\" and \"eventbridge\": how long Lambda gathers messages before invoking (0-300)."
  type        = number
  default     = 10

  validation {
    condition     = var.sqs_batching_window_seconds >= 0 && var.sqs_batching_window_seconds <= 300
    error_message = "sqs_batching_window_seconds is 0 to 300."
  }
}

variable "sqs_maximum_concurrency" {
  description = "trigger_mode \"sqs\" and \"eventbridge\": invocations of the event function at once from the queue, at most (Lambda's maximum concurrency of an SQS event source, 2-1000). The brake on the function's Glue requests, which Glue throttles per account and Region: a backlog waits in the queue instead of being throttled back to it (and on to the dead-letter queue), as it would be with reserved_concurrency."
  type        = number
  default     = 10

  validation {
    condition     = var.sqs_maximum_concurrency >= 2 && var.sqs_maximum_concurrency <= 1000
    error_message = "sqs_maximum_concurrency is 2 to 1000 (Lambda's range for an SQS event source's maximum concurrency)."
  }
}

variable "sqs_max_receive_count" {
  description = "trigger_mode \"sqs\" and \"eventbridge\": deliveries of a message before it moves to the dead-letter queue."
  type        = number
  default     = 5

  validation {
    condition     = var.sqs_max_receive_count >= 1 && var.sqs_max_receive_count <= 1000
    error_message = "sqs_max_receive_count is 1 to 1000."
  }
}

# --- The function --------------------------------------------------------------------------

variable "memory_size" {
  description = "The event function's memory in MB; 128 is enough (README, Performance)."
  type        = number
  default     = 128

  validation {
    condition     = var.memory_size >= 128 && var.memory_size <= 10240
    error_message = "memory_size is 128 to 10240 MB."
  }
}

variable "timeout" {
  description = "The event function's timeout in seconds. It stops its calls a second before it and names what it did not do."
  type        = number
  default     = 60

  validation {
    condition     = var.timeout >= 3 && var.timeout <= 900
    error_message = "timeout is 3 to 900 seconds."
  }
}

variable "reserved_concurrency" {
  description = "Reserved concurrent executions of the event function; -1 leaves it unreserved. Not the brake on Glue with a queue (that is sqs_maximum_concurrency: Lambda throttles an SQS batch over the reserved concurrency back to the queue, towards the dead-letter queue); if set, at least sqs_maximum_concurrency."
  type        = number
  default     = -1

  validation {
    condition     = var.reserved_concurrency >= -1
    error_message = "reserved_concurrency is -1 (unreserved) or a count."
  }
}

variable "create_log_group" {
  description = "Create the functions' log groups /aws/lambda/<name> (and <name>-repair). Set false when they exist already."
  type        = bool
  default     = true
}

variable "log_level" {
  description = "LOG_LEVEL of the functions: error, warn, info or debug."
  type        = string
  default     = "info"

  validation {
    condition     = contains(["error", "warn", "info", "debug"], var.log_level)
    error_message = "log_level is error, warn, info or debug."
  }
}

variable "log_retention_days" {
  description = "Retention of the log groups, in days."
  type        = number
  default     = 30

  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.log_retention_days)
    error_message = "log_retention_days must be one CloudWatch Logs accepts (1, 3, 5, 7, 14, 30, 60, 90, ...)."
  }
}

# --- The repair ----------------------------------------------------------------------------

variable "repair_schedule" {
  description = "Start the repair state machine on a schedule, for every served table: the safety net for events lost upstream. An EventBridge schedule expression, e.g. cron(0 3 * * ? *); null for none (the state machine is deployed all the same, for backfills on demand)."
  type        = string
  default     = null

  validation {
    condition     = var.repair_schedule == null || can(regex("^(cron|rate)\\(.+\\)$", var.repair_schedule))
    error_message = "repair_schedule is an EventBridge schedule expression, e.g. cron(0 3 * * ? *) for nightly at 03:00 UTC."
  }
}

variable "repair_interval_hours" {
  description = "Hours between two scheduled repairs, at most: the repair-missing alarm's window. 24 suits a daily schedule; a weekly cron needs 168."
  type        = number
  default     = 24

  validation {
    condition     = var.repair_interval_hours >= 1 && var.repair_interval_hours <= 168
    error_message = "repair_interval_hours is 1 to 168 (CloudWatch evaluates at most 7 days)."
  }
}

variable "repair_prune" {
  description = "The repair also drops partitions whose location holds no data (sync --prune), once a whole pass has shown them empty."
  type        = bool
  default     = false
}

variable "repair_update_schema" {
  description = "The repair also brings partitions' schemas in line with their table's (sync --update-schema)."
  type        = bool
  default     = false
}

variable "repair_timeout" {
  description = "The repair function's timeout in seconds: each run lists until about 10 seconds before it (its Glue calls until 7, its checkpoint written by 5) and returns a cursor the state machine goes on from."
  type        = number
  default     = 900

  validation {
    condition     = var.repair_timeout >= 30 && var.repair_timeout <= 900
    error_message = "repair_timeout is 30 to 900 seconds."
  }
}

variable "repair_memory_size" {
  description = "The repair function's memory in MB (CPU comes with it: 1769 MB is one vCPU)."
  type        = number
  default     = 1024

  validation {
    condition     = var.repair_memory_size >= 128 && var.repair_memory_size <= 10240
    error_message = "repair_memory_size is 128 to 10240 MB."
  }
}

variable "repair_groups" {
  description = "A table is cut into units of its key space, walked in this many groups by separate invocations at once (the state machine's map)."
  type        = number
  default     = 8

  validation {
    condition     = var.repair_groups >= 1 && var.repair_groups <= 40
    error_message = "repair_groups is 1 to 40."
  }
}

variable "repair_concurrency" {
  description = "Invocations of the repair function at once, per table: at the default, every group of the default repair_groups at once (a billion objects in about 11 minutes; at 4, about 21)."
  type        = number
  default     = 8

  validation {
    condition     = var.repair_concurrency >= 1 && var.repair_concurrency <= 40
    error_message = "repair_concurrency is 1 to 40."
  }
}

variable "repair_max_runs" {
  description = "Runs of one group of a table, at most, before the execution fails (a run that makes no progress must not loop for ever)."
  type        = number
  default     = 50

  validation {
    condition     = var.repair_max_runs >= 1 && var.repair_max_runs <= 500
    error_message = "repair_max_runs is 1 to 500."
  }
}

variable "completion_events" {
  description = "Put a Partition Complete event on an EventBridge bus the module creates (<name>-completions) when a partition's job marker lands (either registration policy), or its lateness passes (table_settings' complete_after): pipelines start on it instead of polling. See completion_event_pattern."
  type        = bool
  default     = false
}

variable "completion_bus_name" {
  description = "An existing EventBridge bus (name or ARN) for Partition Complete events, instead of one the module creates; setting it turns completion_events on."
  type        = string
  default     = null
}

variable "table_settings" {
  description = "Per served table (database.table), how its partitions are registered and when complete: registration (first_object, the default, or marker: only when the job's marker lands), marker (default _SUCCESS), complete_after (a lateness such as 15m or 2h for tables without markers). Over the tables' own registrar.* parameters."
  type = map(object({
    registration   = optional(string)
    marker         = optional(string)
    complete_after = optional(string)
  }))
  default = {}

  validation {
    condition     = alltrue([for k, v in var.table_settings : v.registration == null || contains(["first_object", "marker"], coalesce(v.registration, "first_object"))])
    error_message = "table_settings' registration is first_object or marker."
  }

  validation {
    condition     = alltrue([for k, v in var.table_settings : v.complete_after == null || can(regex("^[0-9]+[smhd]$", coalesce(v.complete_after, "0s")))])
    error_message = "table_settings' complete_after is a duration such as 15m, 2h or 1d."
  }

  validation {
    condition     = alltrue([for k, v in var.table_settings : v.marker == null || can(regex("^[^/]{1,255}$", coalesce(v.marker, "_SUCCESS")))])
    error_message = "table_settings' marker is a file name such as _SUCCESS or _DONE."
  }
}

variable "repair_table_concurrency" {
  description = "Tables repaired at once by one execution (the state machine's map over the tables)."
  type        = number
  default     = 4

  validation {
    condition     = var.repair_table_concurrency >= 1 && var.repair_table_concurrency <= 100
    error_message = "repair_table_concurrency is 1 to 100."
  }
}

variable "repair_window_days" {
  description = "The scheduled repair walks only the partitions of the last N days, for tables whose first partition keys are dates (year/month/day, dt, date, ...), so that a nightly repair lists what the days changed rather than the whole table; other tables are walked whole. null walks every table whole. Pair it with repair_full_schedule."
  type        = number
  default     = null

  validation {
    condition     = var.repair_window_days == null || (coalesce(var.repair_window_days, 1) >= 1 && coalesce(var.repair_window_days, 1) <= 366)
    error_message = "repair_window_days is 1 to 366, or null."
  }
}

variable "repair_full_schedule" {
  description = "A second, rarer schedule for a repair of every table whole (e.g. cron(0 4 ? * SUN *)), beside a windowed repair_schedule; null for none (a full repair then runs only on demand)."
  type        = string
  default     = null

  validation {
    condition     = var.repair_full_schedule == null || can(regex("^(cron|rate)\\(.+\\)$", var.repair_full_schedule))
    error_message = "repair_full_schedule is an EventBridge schedule expression, e.g. cron(0 4 ? * SUN *)."
  }
}

variable "checkpoint_bucket" {
  description = "An existing bucket for the repair's checkpoints (under the prefix <name>/); null creates one. The functions may read and write only that prefix."
  type        = string
  default     = null
}

variable "checkpoint_retention_days" {
  description = "Days a pass's checkpoints and an execution's items and results are kept (a lifecycle rule on the created bucket; set your own on checkpoint_bucket). Longer than the longest repair."
  type        = number
  default     = 30

  validation {
    condition     = var.checkpoint_retention_days >= 2
    error_message = "checkpoint_retention_days is at least 2."
  }
}

# --- Monitoring ----------------------------------------------------------------------------

variable "metrics_namespace" {
  description = "CloudWatch namespace of the functions' metrics (METRICS_NAMESPACE). Several deployments may share one: every metric carries the `service` dimension, the deployment's name."
  type        = string
  default     = "GluePartitionRegistrar"
}

variable "encrypt_alarm_topic" {
  description = "Encrypt the alarm topic with a customer-managed KMS key whose policy lets this account's CloudWatch publish ($1 a month). The AWS-managed alias/aws/sns key cannot: its policy does not admit CloudWatch."
  type        = bool
  default     = true
}

variable "alarm_email" {
  description = "E-mail address subscribed to the alarm topic; null for none."
  type        = string
  default     = null
}

variable "no_partition_alarm_hours" {
  description = "Alarm when no partition was created for this many hours (for feeds that must arrive daily, e.g. 26); null disables it. At most 168."
  type        = number
  default     = null

  validation {
    condition     = var.no_partition_alarm_hours == null ? true : var.no_partition_alarm_hours >= 1 && var.no_partition_alarm_hours <= 168
    error_message = "no_partition_alarm_hours is 1 to 168."
  }
}

variable "freshness_alarm_seconds" {
  description = "Alarm when the p99 of new partitions' freshness (from the object's event time to Glue's confirmation) is over this many seconds in five minutes; null disables it."
  type        = number
  default     = null

  validation {
    condition     = var.freshness_alarm_seconds == null ? true : var.freshness_alarm_seconds > 0
    error_message = "freshness_alarm_seconds is a number of seconds over 0."
  }
}

# --- Athena --------------------------------------------------------------------------------

variable "create_athena_workgroup" {
  description = "Create an Athena workgroup with its results location (athena_results_bucket, default bucket_name)."
  type        = bool
  default     = false
}

variable "athena_results_bucket" {
  description = "Bucket of the workgroup's query results; null is bucket_name."
  type        = string
  default     = null
}

variable "athena_results_prefix" {
  description = "Key prefix of Athena query results (outside every table's prefix)."
  type        = string
  default     = "athena-results"
}
