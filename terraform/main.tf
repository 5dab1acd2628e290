data "aws_caller_identity" "current" {}
data "aws_region" "current" {}
data "aws_partition" "current" {}

locals {
  account = data.aws_caller_identity.current.account_id
  # The 6.0 upgrade guide: "Data Source aws_region: `name` has been deprecated. Use `region`
  # instead." 5.x has no `region` attribute; `id` is the Region's name in both (5.x and 6.x
  # set it to the same value as `name` and `region`), deprecated in neither.
  region    = data.aws_region.current.id
  partition = data.aws_partition.current.partition

  catalog_id  = coalesce(var.catalog_id, local.account)
  glue_arn    = "arn:${local.partition}:glue:${local.region}:${local.catalog_id}"
  catalog_arn = "${local.glue_arn}:catalog"

  # The package, and what `make package` says of it beside the zip (bootstrap.json).
  manifest_path = var.lambda_zip == null ? null : "${trimsuffix(var.lambda_zip, ".zip")}.json"
  manifest      = local.manifest_path == null ? null : try(jsondecode(file(local.manifest_path)), null)
  features      = var.lambda_s3 != null ? var.lambda_s3.features : try(local.manifest.features, null)

  repairs   = var.repair_schedule != null
  uses_sqs  = contains(["sqs", "eventbridge"], var.trigger_mode)
  owns      = { for b in local.buckets : b => var.manage_bucket_notifications || (var.create_bucket && b == var.bucket_name) }
  by_bucket = { for b in local.buckets : b => { for k, t in local.tables : k => t if t.bucket == b } }

  notification_events = concat(
    ["s3:ObjectCreated:*"],
    var.delete_empty_partitions ? ["s3:ObjectRemoved:*"] : [],
  )
  detail_types = concat(["Object Created"], var.delete_empty_partitions ? ["Object Deleted"] : [])

  # What the event function calls decides what it may call (tests/deploy checks the two
  # against each other for every configuration it plans).
  event_glue_actions = concat(
    ["glue:GetTable", "glue:BatchCreatePartition"],
    length(var.extra_databases) > 0 ? ["glue:GetTables"] : [],
    var.delete_empty_partitions ? ["glue:BatchGetPartition", "glue:DeletePartition"] : [],
  )
  event_lists_objects = var.delete_empty_partitions

  # Exactly the served tables, their databases and the catalog; a database of
  # extra_databases has tables nobody names, so all of its tables. With iam_scope =
  # "database", every table of the served databases instead (policies sized by databases).
  glue_resources = concat(
    [local.catalog_arn],
    [for d in local.databases : "${local.glue_arn}:database/${d}"],
    var.iam_scope == "table" ? [for _, t in local.tables : "${local.glue_arn}:table/${t.database}/${t.name}"] : [],
    [for d in local.databases_whole : "${local.glue_arn}:table/${d}/*"],
  )
  databases_whole = distinct(concat(
    var.iam_scope == "database" ? [for t in local.tables : t.database] : [],
    var.extra_databases,
  ))
  bucket_arns = [for b in local.buckets : "arn:${local.partition}:s3:::${b}"]
  templates_outside = [
    for k, t in local.tables : k
    if t.template == null ? false : !startswith(t.template, "s3://${t.bucket}/${t.prefix}")
  ]
  # The tables' objects: each table's prefix, or (iam_scope = "database") its whole bucket.
  object_arns = distinct(var.iam_scope == "table" ? [
    for _, t in local.tables : "arn:${local.partition}:s3:::${t.bucket}/${t.prefix}*"
  ] : [for b in local.buckets : "arn:${local.partition}:s3:::${b}/*"])

  # The queues' ARNs as SQS forms them, so that the roles' policies are whole at plan time
  # (tests/deploy checks every policy's size on the plan).
  dlq_arn    = "arn:${local.partition}:sqs:${local.region}:${local.account}:${var.name}-dlq"
  events_arn = "arn:${local.partition}:sqs:${local.region}:${local.account}:${var.name}-events"

  # Lambda holds 4 KB of environment in all: a list of more than about a hundred tables goes
  # into the checkpoints' bucket, and GLUE_TABLES names it (completion.tf).
  tables_csv       = join(",", sort(keys(local.tables)))
  tables_listed    = length(local.tables_csv) > 2000
  tables_list_key  = "${local.checkpoint_prefix}config/tables.txt"
  tables_list_uri  = "s3://${local.checkpoint_bucket}/${local.tables_list_key}"
  tables_list_arn  = "${local.checkpoint_arn}/${local.tables_list_key}"
  glue_tables_env  = local.tables_listed ? local.tables_list_uri : local.tables_csv
  table_settings_v = { for k, v in var.table_settings : k => { for f, x in v : f => x if x != null } }

  environment = {
    GLUE_TABLES             = local.glue_tables_env
    GLUE_DATABASES          = join(",", var.extra_databases)
    GLUE_CATALOG_ID         = var.catalog_id == null ? "" : var.catalog_id
    DELETE_EMPTY_PARTITIONS = tostring(var.delete_empty_partitions)
    SCHEMA_DRIFT_DETECTION  = tostring(var.schema_drift_detection)
    LOG_LEVEL               = var.log_level
    TABLE_CACHE_SECONDS     = tostring(var.table_cache_seconds)
    METRICS_NAMESPACE       = var.metrics_namespace
    METRICS_PER_TABLE       = "true"
    POWERTOOLS_SERVICE_NAME = var.name
    COMPLETION_BUS          = local.completion_bus_name
    TABLE_SETTINGS          = length(local.table_settings_v) > 0 ? jsonencode(local.table_settings_v) : ""
  }
}

################################################################################
# The data bucket, when the module creates it
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

  lifecycle {
    precondition {
      condition     = var.bucket_name != null
      error_message = "create_bucket needs bucket_name."
    }
  }
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
  count = var.create_bucket && var.require_tls ? 1 : 0

  statement {
    sid       = "DenyInsecureTransport"
    effect    = "Deny"
    actions   = ["s3:*"]
    resources = [aws_s3_bucket.data[0].arn, "${aws_s3_bucket.data[0].arn}/*"]

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
  policy     = data.aws_iam_policy_document.tls_only[0].json
  depends_on = [aws_s3_bucket_public_access_block.data]
}

################################################################################
# The event function: one for every served table
################################################################################

resource "aws_cloudwatch_log_group" "function" {
  # checkov:skip=CKV_AWS_158:Logs hold object keys and partition values, no secrets; CloudWatch encrypts at rest by default.
  # checkov:skip=CKV_AWS_338:Retention is a cost choice, set by log_retention_days.
  for_each = var.create_log_group ? toset(["", "-repair"]) : toset([])

  name              = "/aws/lambda/${var.name}${each.key}"
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

resource "aws_iam_role" "function" {
  name               = var.name
  assume_role_policy = data.aws_iam_policy_document.lambda_assume.json
  tags               = var.tags
}

# Least privilege: exactly the Glue and S3 actions the event function calls in this
# configuration, on the served tables, their databases and their buckets only. The grants
# that grow with the tables are customer-managed policies cut to IAM's size limit
# (policies.tf); the inline policy holds the rest, whose size does not depend on them.
locals {
  function_statements = concat(
    [{ sid = "GlueCatalog", actions = local.event_glue_actions, resources = local.glue_resources }],
    local.event_lists_objects ? [{ sid = "ListTableData", actions = ["s3:ListBucket"], resources = local.bucket_arns }] : [],
    var.schema_drift_detection ? [{ sid = "ReadParquetFooters", actions = ["s3:GetObject"], resources = local.object_arns }] : [],
  )
}

data "aws_iam_policy_document" "function" {
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
  # destination); with a queue, the function also reads it.
  statement {
    sid       = "DeadLetter"
    actions   = ["sqs:SendMessage"]
    resources = [local.dlq_arn]
  }

  dynamic "statement" {
    for_each = local.uses_sqs ? [1] : []
    content {
      sid       = "ConsumeEvents"
      actions   = ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes", "sqs:ChangeMessageVisibility"]
      resources = [local.events_arn]
    }
  }

  # Partition Complete events, on the completion bus only.
  dynamic "statement" {
    for_each = local.completion_events ? [1] : []
    content {
      sid       = "AnnounceCompletion"
      actions   = ["events:PutEvents"]
      resources = [local.completion_bus_arn]
    }
  }

  # The served tables' list, when there are too many for the environment.
  dynamic "statement" {
    for_each = local.tables_listed ? [1] : []
    content {
      sid       = "ServedTablesList"
      actions   = ["s3:GetObject"]
      resources = [local.tables_list_arn]
    }
  }
}

resource "aws_iam_role_policy" "function" {
  name   = "registrar"
  role   = aws_iam_role.function.id
  policy = data.aws_iam_policy_document.function.json

  # Shrunk only once the managed policies that take over its grants are attached.
  depends_on = [aws_iam_role_policy_attachment.scoped]
}

resource "aws_lambda_function" "this" {
  # checkov:skip=CKV_AWS_117:The function calls only Glue and S3 public endpoints; a VPC would add NAT cost and cold-start time for no isolation gain.
  # checkov:skip=CKV_AWS_173:The environment holds table names and flags, no secrets.
  # checkov:skip=CKV_AWS_272:Code signing needs a signing profile the user may not have; the package is built from source by `make package`.
  # checkov:skip=CKV_AWS_116:Failures reach the dead-letter queue through the on-failure destination (with the error) or the SQS redrive policy; a function DLQ as well would deliver each failure twice.
  function_name     = var.name
  description       = "Registers Glue partitions the moment objects land, for ${length(local.tables)} tables"
  role              = aws_iam_role.function.arn
  runtime           = "provided.al2023"
  handler           = "bootstrap"
  architectures     = [var.architecture]
  filename          = var.lambda_zip
  source_code_hash  = var.lambda_zip != null && fileexists(coalesce(var.lambda_zip, "-")) ? filebase64sha256(var.lambda_zip) : null
  s3_bucket         = try(var.lambda_s3.bucket, null)
  s3_key            = try(var.lambda_s3.key, null)
  s3_object_version = try(var.lambda_s3.version, null)
  memory_size       = var.memory_size
  timeout           = var.timeout
  # Every change is a new version, and every trigger targets the `live` alias: rolling back
  # is moving the alias to the version before.
  publish = true

  reserved_concurrent_executions = var.reserved_concurrency

  environment {
    variables = local.environment
  }

  tracing_config {
    mode = "PassThrough"
  }

  tags       = var.tags
  depends_on = [aws_cloudwatch_log_group.function, aws_iam_role_policy.function, aws_iam_role_policy_attachment.scoped]

  lifecycle {
    precondition {
      condition     = (var.lambda_zip == null) != (var.lambda_s3 == null)
      error_message = "Give the package as exactly one of lambda_zip (a path; `make package` writes dist/bootstrap.zip) and lambda_s3 (an S3 object)."
    }
    precondition {
      condition     = var.lambda_zip == null || fileexists(coalesce(var.lambda_zip, "-"))
      error_message = "No deployment package at ${coalesce(var.lambda_zip, "-")}: run `make package` in the repository first, or point lambda_zip at the zip."
    }
    precondition {
      condition     = local.manifest == null || try(local.manifest.architecture, var.architecture) == var.architecture
      error_message = "The package is built for ${try(local.manifest.architecture, "?")}, not architecture = \"${var.architecture}\": build it with `make package ARCH=${var.architecture}`, or set architecture to match."
    }
    precondition {
      condition     = !var.schema_drift_detection || contains(coalesce(local.features, ["unknown"]), "schema-drift")
      error_message = "schema_drift_detection needs a package with the Parquet reader: build it with `make package FEATURES=schema-drift` (for lambda_s3, list \"schema-drift\" in its features)."
    }
    precondition {
      condition     = length(local.tables) + length(var.extra_databases) > 0
      error_message = "Nothing to serve: name existing tables in tables, define some in table_definitions, or serve whole databases with extra_databases."
    }
    precondition {
      condition     = alltrue([for k, t in local.tables : t.bucket != ""])
      error_message = "Every served table needs an s3:// location; these have none: ${join(", ", [for k, t in local.tables : k if t.bucket == ""])}."
    }
    precondition {
      condition     = length(local.templates_outside) == 0
      error_message = "A storage.location.template lies outside its table's location (so its objects would never pass the table's delivery filter): ${join(", ", local.templates_outside)}."
    }
  }
}

resource "aws_lambda_alias" "live" {
  name             = "live"
  description      = "What every trigger invokes: move it to roll back."
  function_name    = aws_lambda_function.this.function_name
  function_version = aws_lambda_function.this.version
}

# Asynchronous invocations (S3 events in "s3" mode): retried, then their failure record,
# which holds the event, goes to the dead-letter queue.
resource "aws_lambda_function_event_invoke_config" "this" {
  function_name                = aws_lambda_function.this.function_name
  qualifier                    = aws_lambda_alias.live.name
  maximum_retry_attempts       = var.async_retry_attempts
  maximum_event_age_in_seconds = 21600

  destination_config {
    on_failure {
      destination = aws_sqs_queue.dlq.arn
    }
  }
}

################################################################################
# Triggering: S3 → Lambda, S3 → SQS → Lambda, or S3 → EventBridge → SQS → Lambda
################################################################################

resource "aws_sqs_queue" "dlq" {
  name                      = "${var.name}-dlq"
  message_retention_seconds = 1209600
  sqs_managed_sse_enabled   = true
  tags                      = var.tags
}

resource "aws_sqs_queue" "events" {
  count = local.uses_sqs ? 1 : 0

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
  count = local.uses_sqs ? 1 : 0

  dynamic "statement" {
    for_each = var.trigger_mode == "sqs" ? [1] : []
    content {
      sid       = "S3Notifications"
      actions   = ["sqs:SendMessage"]
      resources = [aws_sqs_queue.events[0].arn]
      principals {
        type        = "Service"
        identifiers = ["s3.amazonaws.com"]
      }
      condition {
        test     = "ArnEquals"
        variable = "aws:SourceArn"
        values   = local.bucket_arns
      }
      condition {
        test     = "StringEquals"
        variable = "aws:SourceAccount"
        values   = [local.account]
      }
    }
  }

  dynamic "statement" {
    for_each = var.trigger_mode == "eventbridge" ? [1] : []
    content {
      sid       = "EventBridgeRules"
      actions   = ["sqs:SendMessage"]
      resources = [aws_sqs_queue.events[0].arn]
      principals {
        type        = "Service"
        identifiers = ["events.amazonaws.com"]
      }
      condition {
        test     = "ArnEquals"
        variable = "aws:SourceArn"
        values   = [for r in aws_cloudwatch_event_rule.objects : r.arn]
      }
    }
  }
}

resource "aws_sqs_queue_policy" "events" {
  count = local.uses_sqs ? 1 : 0

  queue_url = aws_sqs_queue.events[0].id
  policy    = data.aws_iam_policy_document.events_queue[0].json
}

resource "aws_lambda_event_source_mapping" "sqs" {
  count = local.uses_sqs ? 1 : 0

  event_source_arn                   = aws_sqs_queue.events[0].arn
  function_name                      = aws_lambda_alias.live.arn
  batch_size                         = var.sqs_batch_size
  maximum_batching_window_in_seconds = var.sqs_batching_window_seconds
  function_response_types            = ["ReportBatchItemFailures"]

  # Glue throttles per account and Region: the queue holds a backlog (a replay, a backfill
  # upload) while at most this many invocations send Glue requests, instead of Lambda
  # scaling the pollers to 1,000 and more. Reserved concurrency would throttle the batches
  # back to the queue instead (https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-scaling.html).
  scaling_config {
    maximum_concurrency = var.sqs_maximum_concurrency
  }

  lifecycle {
    precondition {
      condition     = var.sqs_batch_size <= 10 || var.sqs_batching_window_seconds >= 1
      error_message = "Lambda takes more than 10 SQS messages per invocation only with a batching window: set sqs_batching_window_seconds to at least 1, or sqs_batch_size to at most 10."
    }
    precondition {
      condition     = var.reserved_concurrency == -1 || var.reserved_concurrency >= var.sqs_maximum_concurrency
      error_message = "reserved_concurrency (${var.reserved_concurrency}) is below sqs_maximum_concurrency (${var.sqs_maximum_concurrency}): Lambda would throttle the queue's batches back to it, and on to the dead-letter queue. Lower sqs_maximum_concurrency (the brake on Glue), or leave reserved_concurrency at -1."
    }
  }
}

resource "aws_lambda_permission" "s3" {
  for_each = var.trigger_mode == "s3" ? local.buckets : toset([])

  statement_id   = "AllowS3Invoke-${each.key}"
  action         = "lambda:InvokeFunction"
  function_name  = aws_lambda_function.this.function_name
  qualifier      = aws_lambda_alias.live.name
  principal      = "s3.amazonaws.com"
  source_arn     = "arn:${local.partition}:s3:::${each.key}"
  source_account = local.account
}

# S3 keeps one notification configuration per bucket: writing it replaces every other
# notification of the bucket. The module writes it only where the caller said the module
# owns it (manage_bucket_notifications, or a bucket it created); otherwise a plan stops
# (s3 and sqs modes need it), or EventBridge delivery is left to whoever owns the bucket's
# configuration (eventbridge mode: one line there, `eventbridge = true`).
resource "aws_s3_bucket_notification" "this" {
  for_each = {
    for b in local.buckets : b => b
    if local.owns[b] || var.trigger_mode != "eventbridge"
  }

  bucket      = each.key
  eventbridge = var.trigger_mode == "eventbridge" ? true : null

  dynamic "lambda_function" {
    for_each = var.trigger_mode == "s3" ? local.by_bucket[each.key] : {}
    content {
      id                  = lambda_function.key
      lambda_function_arn = aws_lambda_alias.live.arn
      events              = local.notification_events
      filter_prefix       = lambda_function.value.prefix
      filter_suffix       = var.filter_suffix
    }
  }

  dynamic "queue" {
    for_each = var.trigger_mode == "sqs" ? local.by_bucket[each.key] : {}
    content {
      id            = queue.key
      queue_arn     = aws_sqs_queue.events[0].arn
      events        = local.notification_events
      filter_prefix = queue.value.prefix
      filter_suffix = var.filter_suffix
    }
  }

  depends_on = [aws_lambda_permission.s3, aws_sqs_queue_policy.events, aws_s3_bucket.data]

  lifecycle {
    precondition {
      condition     = local.owns[each.key]
      error_message = "trigger_mode = \"${var.trigger_mode}\" writes the whole notification configuration of bucket ${each.key}, which removes every notification of other consumers there. Set manage_bucket_notifications = true if this module owns that configuration, or use trigger_mode = \"eventbridge\", which shares the bucket (with `eventbridge = true` set where its notifications are managed)."
    }
    precondition {
      condition = alltrue(flatten([
        for a, ta in local.by_bucket[each.key] : [
          for b, tb in local.by_bucket[each.key] : a == b || !startswith(tb.prefix, ta.prefix)
        ]
      ]))
      error_message = "In bucket ${each.key}, one table's prefix holds another's: S3 refuses overlapping notification filters. Use trigger_mode = \"eventbridge\", which filters per rule."
    }
  }
}

# EventBridge delivery: rules per bucket, each matching many tables' prefixes, within
# EventBridge's quotas (https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-quota.html):
# an event pattern holds at most 2,048 characters; a bus takes 300 rules (adjustable), of
# which at most 30 may hold a wildcard (not adjustable).
locals {
  pattern_chars = 2048

  # Each table's key filter as JSON: its prefix, or with filter_suffix its prefix and suffix
  # as a wildcard (`*` and `\` in them escaped); null for a table at the bucket's root
  # without a suffix (every key).
  key_filters = {
    for k, t in local.tables : k => (
      var.filter_suffix != "" ? jsonencode({ wildcard = "${replace(replace(t.prefix, "\\", "\\\\"), "*", "\\*")}*${replace(replace(var.filter_suffix, "\\", "\\\\"), "*", "\\*")}" }) :
      t.prefix != "" ? jsonencode({ prefix = t.prefix }) : null
    )
  }
  # A bucket's filters, sorted and distinct; none where one table takes every key.
  bucket_filters = {
    for b in local.buckets : b => (
      anytrue([for k, t in local.by_bucket[b] : local.key_filters[k] == null]) ? [] :
      sort(distinct([for k, t in local.by_bucket[b] : local.key_filters[k]]))
    )
  }
  # The pattern without filters, and how many filters fit beside it: n filters of at most
  # m characters add at most n * (m + 1) - 1 (commas between them).
  pattern_base = {
    for b in local.buckets : b => length(jsonencode({
      source = ["aws.s3"], detail-type = local.detail_types
      detail = { bucket = { name = [b] }, object = { key = [] } }
    }))
  }
  filters_per_rule = {
    for b in local.buckets : b => length(local.bucket_filters[b]) == 0 ? 1 : max(1, floor(
      (local.pattern_chars - local.pattern_base[b]) / (max([for f in local.bucket_filters[b] : length(f)]...) + 1)
    ))
  }
  rules = var.trigger_mode != "eventbridge" ? {} : merge([
    for b in local.buckets : {
      for i, chunk in(length(local.bucket_filters[b]) == 0 ? [[]] : chunklist(local.bucket_filters[b], local.filters_per_rule[b])) :
      "${b}/${i + 1}" => { bucket = b, number = i + 1, filters = chunk }
    }
  ]...)
  # The rule that takes each table's objects.
  rule_of_table = var.trigger_mode != "eventbridge" ? {} : {
    for k, t in local.tables : k => "${t.bucket}/${length(local.bucket_filters[t.bucket]) == 0 ? 1 : floor(index(local.bucket_filters[t.bucket], local.key_filters[k]) / local.filters_per_rule[t.bucket]) + 1}"
  }
}

# Created (and deleted) objects of a bucket under any of a chunk of its tables' prefixes.
resource "aws_cloudwatch_event_rule" "objects" {
  for_each = local.rules

  name        = "${var.name}-${substr(md5(each.value.bucket), 0, 8)}-${each.value.number}"
  description = "Objects of ${length([for k, r in local.rule_of_table : k if r == each.key])} tables in s3://${each.value.bucket} to the registrar's queue (rule ${each.value.number} of the bucket)."
  event_pattern = jsonencode({
    source      = ["aws.s3"]
    detail-type = local.detail_types
    detail = merge(
      { bucket = { name = [each.value.bucket] } },
      length(each.value.filters) > 0 ? { object = { key = [for f in each.value.filters : jsondecode(f)] } } : {},
    )
  })
  tags = var.tags

  lifecycle {
    precondition {
      condition     = var.filter_suffix == "" || length(local.rules) <= 30
      error_message = "With filter_suffix, every rule holds a wildcard, and EventBridge takes at most 30 such rules per event bus (not adjustable); these tables need ${length(local.rules)}. Set filter_suffix = \"\" (prefix rules), or serve the tables from more than one deployment."
    }
    precondition {
      condition     = local.pattern_base[each.value.bucket] + max(concat([0], [for f in each.value.filters : length(f) + 1])...) <= local.pattern_chars
      error_message = "A table's prefix in s3://${each.value.bucket} is too long for an EventBridge event pattern (2,048 characters at most)."
    }
  }
}

resource "aws_cloudwatch_event_target" "objects" {
  for_each = aws_cloudwatch_event_rule.objects

  rule = each.value.name
  arn  = aws_sqs_queue.events[0].arn

  dead_letter_config {
    arn = aws_sqs_queue.dlq.arn
  }
}

################################################################################
# Lake Formation and Athena
################################################################################

# A catalog governed by Lake Formation checks its own permissions besides IAM's.
resource "aws_lakeformation_permissions" "function" {
  for_each = var.lake_formation_permissions ? local.tables : {}

  catalog_id = local.catalog_id
  principal  = aws_iam_role.function.arn
  permissions = distinct(concat(
    ["DESCRIBE", "INSERT"],
    var.delete_empty_partitions ? ["SELECT", "DELETE"] : [],
  ))

  table {
    catalog_id    = local.catalog_id
    database_name = each.value.database
    name          = each.value.name
  }
}

resource "aws_athena_workgroup" "this" {
  count = var.create_athena_workgroup ? 1 : 0

  name          = var.name
  force_destroy = true

  configuration {
    enforce_workgroup_configuration    = true
    publish_cloudwatch_metrics_enabled = true

    result_configuration {
      output_location = "s3://${coalesce(var.athena_results_bucket, var.bucket_name, "-")}/${var.athena_results_prefix}/"

      encryption_configuration {
        encryption_option = "SSE_S3"
      }
    }
  }

  tags = var.tags
}
