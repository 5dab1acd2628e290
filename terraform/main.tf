data "aws_caller_identity" "current" {}
data "aws_region" "current" {}
data "aws_partition" "current" {}

locals {
  account   = data.aws_caller_identity.current.account_id
  region    = data.aws_region.current.name
  partition = data.aws_partition.current.partition

  bucket_name = var.create_bucket ? aws_s3_bucket.data[0].id : var.bucket_name
  bucket_arn  = "arn:${local.partition}:s3:::${var.bucket_name}"
  key_prefix  = var.table_prefix == "" ? "" : "${var.table_prefix}/"
  location    = "s3://${var.bucket_name}/${local.key_prefix}"
  lambda_zip  = coalesce(var.lambda_zip, "${path.module}/../dist/bootstrap.zip")
  table       = "${var.database_name}.${var.table_name}"
  # The crawler names its table after the last folder of its target.
  crawler_table = reverse(split("/", var.table_prefix))[0]

  catalog_id = coalesce(var.catalog_id, local.account)
  databases  = distinct(concat([var.database_name], var.extra_databases))
  repairs    = var.repair_schedule != null

  # What the function calls decides what it may call (tests/deploy checks the two against
  # each other for every configuration it plans).
  lists_objects    = var.delete_empty_partitions || local.repairs
  drops_partitions = var.delete_empty_partitions || (local.repairs && var.repair_prune)
  glue_actions = concat(
    ["glue:GetTable", "glue:BatchCreatePartition"],
    length(var.extra_databases) > 0 ? ["glue:GetTables"] : [],
    local.repairs ? ["glue:GetPartitions"] : [],
    var.delete_empty_partitions ? ["glue:BatchGetPartition"] : [],
    local.drops_partitions ? ["glue:DeletePartition"] : [],
    local.repairs && var.repair_update_schema ? ["glue:BatchUpdatePartition"] : [],
  )

  formats = {
    parquet = {
      input  = "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat"
      output = "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat"
      serde  = "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe"
      params = { "serialization.format" = "1" }
    }
    json = {
      input  = "org.apache.hadoop.mapred.TextInputFormat"
      output = "org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat"
      serde  = "org.openx.data.jsonserde.JsonSerDe"
      params = {}
    }
    # Without field.delim LazySimpleSerDe splits on \001, and every row lands in the first
    # column. Partitions copy these parameters.
    csv = {
      input  = "org.apache.hadoop.mapred.TextInputFormat"
      output = "org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat"
      serde  = "org.apache.hadoop.hive.serde2.lazy.LazySimpleSerDe"
      params = { "field.delim" = var.csv_delimiter, "serialization.format" = var.csv_delimiter }
    }
  }

  notification_events = concat(
    ["s3:ObjectCreated:*"],
    var.delete_empty_partitions ? ["s3:ObjectRemoved:*"] : [],
  )
}

################################################################################
# Data bucket
################################################################################

resource "aws_s3_bucket" "data" {
  count = var.create_bucket ? 1 : 0

  # checkov:skip=CKV_AWS_18:Access logging needs a second bucket; enable it in your account's logging bucket if required.
  # checkov:skip=CKV_AWS_144:Cross-region replication is a data-durability choice of the user, not of this module.
  # checkov:skip=CKV_AWS_21:Versioning multiplies storage cost of a data lake; the registrar does not need it.
  # checkov:skip=CKV2_AWS_61:Lifecycle rules depend on the dataset's retention, which the user decides.
  # checkov:skip=CKV_AWS_145:SSE-S3 is the default; pass kms_key_arn for SSE-KMS.
  bucket = var.bucket_name
  tags   = var.tags
}

resource "aws_s3_bucket_public_access_block" "data" {
  count = var.create_bucket ? 1 : 0

  bucket                  = aws_s3_bucket.data[0].id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_server_side_encryption_configuration" "data" {
  count = var.create_bucket ? 1 : 0

  bucket = aws_s3_bucket.data[0].id

  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm     = var.kms_key_arn == null ? "AES256" : "aws:kms"
      kms_master_key_id = var.kms_key_arn
    }
    bucket_key_enabled = var.kms_key_arn != null
  }
}

data "aws_iam_policy_document" "tls_only" {
  statement {
    sid     = "DenyInsecureTransport"
    effect  = "Deny"
    actions = ["s3:*"]
    resources = [
      local.bucket_arn,
      "${local.bucket_arn}/*",
    ]

    principals {
      type        = "*"
      identifiers = ["*"]
    }

    condition {
      test     = "Bool"
      variable = "aws:SecureTransport"
      values   = ["false"]
    }
  }
}

resource "aws_s3_bucket_policy" "tls_only" {
  count = var.create_bucket && var.require_tls ? 1 : 0

  bucket     = aws_s3_bucket.data[0].id
  policy     = data.aws_iam_policy_document.tls_only.json
  depends_on = [aws_s3_bucket_public_access_block.data]
}

################################################################################
# Glue database and table (declared here, or discovered once by a crawler)
################################################################################

resource "aws_glue_catalog_database" "this" {
  count = var.create_database ? 1 : 0

  catalog_id = local.catalog_id
  name       = var.database_name
}

resource "aws_glue_catalog_table" "this" {
  count = var.schema_source == "terraform" ? 1 : 0

  catalog_id    = local.catalog_id
  name          = var.table_name
  database_name = var.create_database ? aws_glue_catalog_database.this[0].name : var.database_name
  table_type    = "EXTERNAL_TABLE"

  parameters = merge(
    { classification = var.data_format, EXTERNAL = "TRUE" },
    var.location_template == null ? {} : { "storage.location.template" = var.location_template },
    var.data_format == "csv" && var.csv_header ? { "skip.header.line.count" = "1" } : {},
  )

  storage_descriptor {
    location      = local.location
    input_format  = local.formats[var.data_format].input
    output_format = local.formats[var.data_format].output

    ser_de_info {
      serialization_library = local.formats[var.data_format].serde
      parameters            = local.formats[var.data_format].params
    }

    dynamic "columns" {
      for_each = var.columns
      content {
        name = columns.value.name
        type = columns.value.type
      }
    }
  }

  dynamic "partition_keys" {
    for_each = var.partition_keys
    content {
      name = partition_keys.value.name
      type = partition_keys.value.type
    }
  }
}

# Athena plans a query over many partitions by reading the index instead of listing them.
resource "aws_glue_partition_index" "this" {
  count = var.schema_source == "terraform" && length(var.partition_index_keys) > 0 ? 1 : 0

  catalog_id    = local.catalog_id
  database_name = aws_glue_catalog_table.this[0].database_name
  table_name    = aws_glue_catalog_table.this[0].name

  partition_index {
    index_name = "${var.table_name}_by_${join("_", var.partition_index_keys)}"
    keys       = var.partition_index_keys
  }

  lifecycle {
    precondition {
      condition     = alltrue([for i, k in var.partition_index_keys : try(var.partition_keys[i].name, null) == k])
      error_message = "partition_index_keys must be leading partition keys, in order (for year/month/day: [\"year\"] or [\"year\", \"month\"] ...)."
    }
  }
}

data "aws_iam_policy_document" "crawler_assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["glue.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "crawler" {
  count = var.schema_source == "crawler" ? 1 : 0

  name               = "${var.name}-crawler"
  assume_role_policy = data.aws_iam_policy_document.crawler_assume.json
  tags               = var.tags
}

resource "aws_iam_role_policy_attachment" "crawler_service" {
  count = var.schema_source == "crawler" ? 1 : 0

  role       = aws_iam_role.crawler[0].name
  policy_arn = "arn:${local.partition}:iam::aws:policy/service-role/AWSGlueServiceRole"
}

data "aws_iam_policy_document" "crawler_read" {
  statement {
    actions   = ["s3:GetObject"]
    resources = ["${local.bucket_arn}/${local.key_prefix}*"]
  }
  statement {
    actions   = ["s3:ListBucket"]
    resources = [local.bucket_arn]
  }
  # An SSE-KMS bucket's objects are unreadable without their key.
  dynamic "statement" {
    for_each = var.kms_key_arn == null ? [] : [var.kms_key_arn]
    content {
      actions   = ["kms:Decrypt"]
      resources = [statement.value]
    }
  }
}

resource "aws_iam_role_policy" "crawler_read" {
  count = var.schema_source == "crawler" ? 1 : 0

  name   = "read-table-data"
  role   = aws_iam_role.crawler[0].id
  policy = data.aws_iam_policy_document.crawler_read.json
}

# Runs once, by hand (`aws glue start-crawler --name ...`): no schedule. Afterwards the
# registrar keeps partitions current and the crawler is never needed again. Until it has run,
# the table does not exist: every event fails (TableNotFound) and waits in the dead-letter
# queue (see the crawler_next_step output).
resource "aws_glue_crawler" "this" {
  # checkov:skip=CKV_AWS_195:The crawler only reads the data and writes catalog metadata: it has no output or job bookmarks for a security configuration to encrypt.
  count = var.schema_source == "crawler" ? 1 : 0

  name          = "${var.name}-${var.table_name}"
  database_name = var.create_database ? aws_glue_catalog_database.this[0].name : var.database_name
  role          = aws_iam_role.crawler[0].arn

  s3_target {
    path       = local.location
    exclusions = ["**/_*", "**/.*"]
  }

  schema_change_policy {
    update_behavior = "LOG"
    delete_behavior = "LOG"
  }

  recrawl_policy {
    recrawl_behavior = "CRAWL_EVERYTHING"
  }

  configuration = jsonencode({
    Version  = 1.0
    Grouping = { TableGroupingPolicy = "CombineCompatibleSchemas" }
  })

  tags = var.tags

  lifecycle {
    precondition {
      condition     = var.table_prefix != "" && local.crawler_table == var.table_name
      error_message = "A crawler names its table after the last folder of its path: with schema_source = \"crawler\", set table_name = \"${local.crawler_table}\" (or a table_prefix ending in /${var.table_name}), so that the function serves the table the crawler makes."
    }
    precondition {
      condition     = var.location_template == null
      error_message = "location_template needs schema_source = \"terraform\": a crawler does not set storage.location.template on the tables it makes, so the function would read the layout as Hive's."
    }
  }
}

################################################################################
# The function
################################################################################

resource "aws_cloudwatch_log_group" "lambda" {
  # checkov:skip=CKV_AWS_158:Logs hold object keys and partition values, no secrets; CloudWatch encrypts at rest by default.
  # checkov:skip=CKV_AWS_338:Retention is a cost choice, set by log_retention_days.
  count = var.create_log_group ? 1 : 0

  name              = "/aws/lambda/${var.name}"
  retention_in_days = var.log_retention_days
  tags              = var.tags
}

data "aws_iam_policy_document" "lambda_assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["lambda.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "lambda" {
  name               = var.name
  assume_role_policy = data.aws_iam_policy_document.lambda_assume.json
  tags               = var.tags
}

# Least privilege: exactly the Glue and S3 actions the function calls in this configuration,
# on this catalog's databases and tables and this bucket only.
data "aws_iam_policy_document" "lambda" {
  statement {
    sid     = "GlueCatalog"
    actions = local.glue_actions
    resources = concat(
      ["arn:${local.partition}:glue:${local.region}:${local.catalog_id}:catalog"],
      [for db in local.databases : "arn:${local.partition}:glue:${local.region}:${local.catalog_id}:database/${db}"],
      [for db in local.databases : "arn:${local.partition}:glue:${local.region}:${local.catalog_id}:table/${db}/*"],
    )
  }

  dynamic "statement" {
    for_each = local.lists_objects ? [1] : []
    content {
      sid       = "ListTableData"
      actions   = ["s3:ListBucket"]
      resources = [local.bucket_arn]
    }
  }

  dynamic "statement" {
    for_each = var.schema_drift_detection ? [1] : []
    content {
      sid       = "ReadParquetFooters"
      actions   = ["s3:GetObject"]
      resources = ["${local.bucket_arn}/${local.key_prefix}*"]
    }
  }

  dynamic "statement" {
    for_each = var.schema_drift_detection && var.kms_key_arn != null ? [var.kms_key_arn] : []
    content {
      sid       = "DecryptParquetFooters"
      actions   = ["kms:Decrypt"]
      resources = [statement.value]
    }
  }

  statement {
    sid       = "Logs"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["arn:${local.partition}:logs:${local.region}:${local.account}:log-group:/aws/lambda/${var.name}:*"]
  }

  # Failed asynchronous invocations' records go to the dead-letter queue (the on-failure
  # destination); SQS mode also reads its queue.
  statement {
    sid       = "DeadLetter"
    actions   = ["sqs:SendMessage"]
    resources = [aws_sqs_queue.dlq.arn]
  }

  dynamic "statement" {
    for_each = var.trigger_mode == "sqs" ? [1] : []
    content {
      sid       = "ConsumeEvents"
      actions   = ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes", "sqs:ChangeMessageVisibility"]
      resources = [aws_sqs_queue.events[0].arn]
    }
  }
}

resource "aws_iam_role_policy" "lambda" {
  name   = "registrar"
  role   = aws_iam_role.lambda.id
  policy = data.aws_iam_policy_document.lambda.json
}

# A catalog governed by Lake Formation checks its own permissions besides IAM's.
resource "aws_lakeformation_permissions" "table" {
  count = var.lake_formation_permissions ? 1 : 0

  catalog_id = local.catalog_id
  principal  = aws_iam_role.lambda.arn
  permissions = distinct(concat(
    ["DESCRIBE", "INSERT"],
    local.repairs || var.delete_empty_partitions ? ["SELECT"] : [],
    local.drops_partitions ? ["DELETE"] : [],
    local.repairs && var.repair_update_schema ? ["ALTER"] : [],
  ))

  table {
    catalog_id    = local.catalog_id
    database_name = var.database_name
    name          = var.table_name
  }
}

resource "aws_lambda_function" "this" {
  # checkov:skip=CKV_AWS_117:The function calls only Glue and S3 public endpoints; a VPC would add NAT cost and cold-start time for no isolation gain.
  # checkov:skip=CKV_AWS_173:The environment holds table names and flags, no secrets.
  # checkov:skip=CKV_AWS_272:Code signing needs a signing profile the user may not have; the package is built from source by `make package`.
  # checkov:skip=CKV_AWS_116:Failures reach the dead-letter queue through the on-failure destination (with the error) or the SQS redrive policy; a function DLQ as well would deliver each failure twice.
  function_name    = var.name
  description      = "Registers Glue partitions for objects landing under ${local.location}"
  role             = aws_iam_role.lambda.arn
  runtime          = "provided.al2023"
  handler          = "bootstrap"
  architectures    = [var.architecture]
  filename         = local.lambda_zip
  source_code_hash = fileexists(local.lambda_zip) ? filebase64sha256(local.lambda_zip) : null
  memory_size      = var.memory_size
  timeout          = var.timeout

  reserved_concurrent_executions = var.reserved_concurrency

  environment {
    variables = {
      GLUE_TABLES             = local.table
      GLUE_DATABASES          = join(",", var.extra_databases)
      GLUE_CATALOG_ID         = var.catalog_id == null ? "" : var.catalog_id
      DELETE_EMPTY_PARTITIONS = tostring(var.delete_empty_partitions)
      SCHEMA_DRIFT_DETECTION  = tostring(var.schema_drift_detection)
      LOG_LEVEL               = var.log_level
      TABLE_CACHE_SECONDS     = tostring(var.table_cache_seconds)
      METRICS_NAMESPACE       = var.metrics_namespace
      METRICS_PER_TABLE       = "true"
      POWERTOOLS_SERVICE_NAME = var.name
    }
  }

  tracing_config {
    mode = "PassThrough"
  }

  tags       = var.tags
  depends_on = [aws_cloudwatch_log_group.lambda, aws_iam_role_policy.lambda]

  lifecycle {
    precondition {
      condition     = fileexists(local.lambda_zip)
      error_message = "No deployment package at ${local.lambda_zip}: run `make package` in the repository first (or set lambda_zip)."
    }
  }
}

# Asynchronous invocations (S3 events in "s3" mode, scheduled repairs): retried, then their
# failure record, which holds the event, goes to the dead-letter queue.
resource "aws_lambda_function_event_invoke_config" "this" {
  function_name                = aws_lambda_function.this.function_name
  maximum_retry_attempts       = var.async_retry_attempts
  maximum_event_age_in_seconds = 21600

  destination_config {
    on_failure {
      destination = aws_sqs_queue.dlq.arn
    }
  }
}

################################################################################
# Triggering: S3 -> Lambda, or S3 -> SQS -> Lambda
################################################################################

resource "aws_sqs_queue" "dlq" {
  name                      = "${var.name}-dlq"
  message_retention_seconds = 1209600
  sqs_managed_sse_enabled   = true
  tags                      = var.tags
}

# trigger_mode = "s3"
resource "aws_lambda_permission" "s3" {
  count = var.trigger_mode == "s3" ? 1 : 0

  statement_id   = "AllowS3Invoke"
  action         = "lambda:InvokeFunction"
  function_name  = aws_lambda_function.this.function_name
  principal      = "s3.amazonaws.com"
  source_arn     = local.bucket_arn
  source_account = local.account
}

# trigger_mode = "sqs"
resource "aws_sqs_queue" "events" {
  count = var.trigger_mode == "sqs" ? 1 : 0

  name = "${var.name}-events"
  # Lambda's advice: six times the function's timeout, plus the batching window.
  visibility_timeout_seconds = var.timeout * 6 + var.sqs_batching_window_seconds
  message_retention_seconds  = 345600
  sqs_managed_sse_enabled    = true
  redrive_policy = jsonencode({
    deadLetterTargetArn = aws_sqs_queue.dlq.arn
    maxReceiveCount     = var.sqs_max_receive_count
  })
  tags = var.tags
}

data "aws_iam_policy_document" "events_queue" {
  count = var.trigger_mode == "sqs" ? 1 : 0

  statement {
    actions   = ["sqs:SendMessage"]
    resources = [aws_sqs_queue.events[0].arn]
    principals {
      type        = "Service"
      identifiers = ["s3.amazonaws.com"]
    }
    condition {
      test     = "ArnEquals"
      variable = "aws:SourceArn"
      values   = [local.bucket_arn]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account]
    }
  }
}

resource "aws_sqs_queue_policy" "events" {
  count = var.trigger_mode == "sqs" ? 1 : 0

  queue_url = aws_sqs_queue.events[0].id
  policy    = data.aws_iam_policy_document.events_queue[0].json
}

resource "aws_lambda_event_source_mapping" "sqs" {
  count = var.trigger_mode == "sqs" ? 1 : 0

  event_source_arn                   = aws_sqs_queue.events[0].arn
  function_name                      = aws_lambda_function.this.arn
  batch_size                         = var.sqs_batch_size
  maximum_batching_window_in_seconds = var.sqs_batching_window_seconds
  function_response_types            = ["ReportBatchItemFailures"]

  lifecycle {
    precondition {
      condition     = var.sqs_batch_size <= 10 || var.sqs_batching_window_seconds >= 1
      error_message = "Lambda takes more than 10 SQS messages per invocation only with a batching window: set sqs_batching_window_seconds to at least 1, or sqs_batch_size to at most 10."
    }
  }
}

resource "aws_s3_bucket_notification" "this" {
  bucket = local.bucket_name

  dynamic "lambda_function" {
    for_each = var.trigger_mode == "s3" ? [1] : []
    content {
      lambda_function_arn = aws_lambda_function.this.arn
      events              = local.notification_events
      filter_prefix       = local.key_prefix
      filter_suffix       = var.filter_suffix
    }
  }

  dynamic "queue" {
    for_each = var.trigger_mode == "sqs" ? [1] : []
    content {
      queue_arn     = aws_sqs_queue.events[0].arn
      events        = local.notification_events
      filter_prefix = local.key_prefix
      filter_suffix = var.filter_suffix
    }
  }

  depends_on = [aws_lambda_permission.s3, aws_sqs_queue_policy.events]
}

################################################################################
# Scheduled repair: a sync on a schedule, the safety net for events lost upstream
################################################################################

resource "aws_cloudwatch_event_rule" "repair" {
  count = local.repairs ? 1 : 0

  name                = "${var.name}-repair"
  description         = "Runs a sync of ${local.table}: registers partitions whose events were lost."
  schedule_expression = var.repair_schedule
  tags                = var.tags
}

resource "aws_cloudwatch_event_target" "repair" {
  count = local.repairs ? 1 : 0

  rule = aws_cloudwatch_event_rule.repair[0].name
  arn  = aws_lambda_function.this.arn
  input = jsonencode({
    sync = {
      table         = local.table
      prune         = var.repair_prune
      update_schema = var.repair_update_schema
    }
  })
}

resource "aws_lambda_permission" "repair" {
  count = local.repairs ? 1 : 0

  statement_id  = "AllowScheduledRepair"
  action        = "lambda:InvokeFunction"
  function_name = aws_lambda_function.this.function_name
  principal     = "events.amazonaws.com"
  source_arn    = aws_cloudwatch_event_rule.repair[0].arn
}

################################################################################
# Athena: query the new partitions at once
################################################################################

resource "aws_athena_workgroup" "this" {
  count = var.create_athena_workgroup ? 1 : 0

  name          = var.name
  force_destroy = true

  configuration {
    enforce_workgroup_configuration    = true
    publish_cloudwatch_metrics_enabled = true

    result_configuration {
      output_location = "s3://${var.bucket_name}/${var.athena_results_prefix}/"

      encryption_configuration {
        encryption_option = "SSE_S3"
      }
    }
  }

  tags = var.tags
}
