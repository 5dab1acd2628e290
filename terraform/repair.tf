################################################################################
# The repair: a second function from the same package, with its own timeout and memory,
# run by a Step Functions state machine that loops on its cursor
################################################################################

locals {
  repair_glue_actions = concat(
    ["glue:GetTable", "glue:GetPartitions", "glue:BatchCreatePartition", "glue:BatchGetPartition"],
    var.repair_prune ? ["glue:DeletePartition"] : [],
    var.repair_update_schema ? ["glue:BatchUpdatePartition"] : [],
  )
}

resource "aws_iam_role" "repair" {
  name               = "${var.name}-repair"
  assume_role_policy = data.aws_iam_policy_document.lambda_assume.json
  tags               = var.tags
}

# The grants that grow with the tables, as managed policies (policies.tf); the logs inline.
locals {
  repair_statements = [
    { sid = "GlueCatalog", actions = distinct(concat(local.repair_glue_actions, length(var.extra_databases) > 0 ? ["glue:GetTables"] : [])), resources = local.glue_resources },
    { sid = "ListTableData", actions = ["s3:ListBucket"], resources = local.bucket_arns },
  ]
}

data "aws_iam_policy_document" "repair" {
  statement {
    sid       = "Logs"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["arn:${local.partition}:logs:${local.region}:${local.account}:log-group:/aws/lambda/${var.name}-repair:*"]
  }

  # The checkpoints: its own prefix only (the passes' state, the plans, the map's results).
  statement {
    sid       = "Checkpoints"
    actions   = ["s3:GetObject", "s3:PutObject"]
    resources = ["${local.checkpoint_arn}/${local.checkpoint_prefix}*"]
  }

  statement {
    sid       = "ListCheckpoints"
    actions   = ["s3:ListBucket"]
    resources = [local.checkpoint_arn]
    condition {
      test     = "StringLike"
      variable = "s3:prefix"
      values   = ["${local.checkpoint_prefix}*"]
    }
  }

  # Partition Complete events of partitions a repair registered or completed by lateness.
  dynamic "statement" {
    for_each = local.completion_events ? [1] : []
    content {
      sid       = "AnnounceCompletion"
      actions   = ["events:PutEvents"]
      resources = [local.completion_bus_arn]
    }
  }
}

resource "aws_iam_role_policy" "repair" {
  name   = "repair"
  role   = aws_iam_role.repair.id
  policy = data.aws_iam_policy_document.repair.json

  # Shrunk only once the managed policies that take over its grants are attached.
  depends_on = [aws_iam_role_policy_attachment.scoped]
}

resource "aws_lambda_function" "repair" {
  # checkov:skip=CKV_AWS_117:The function calls only Glue and S3 public endpoints; a VPC would add NAT cost and cold-start time for no isolation gain.
  # checkov:skip=CKV_AWS_173:The environment holds table names and flags, no secrets.
  # checkov:skip=CKV_AWS_272:Code signing needs a signing profile the user may not have; the package is built from source by `make package`.
  # checkov:skip=CKV_AWS_116:The state machine invokes it synchronously and retries it; a failed execution raises an alarm.
  # checkov:skip=CKV_AWS_115:Runs only when the state machine starts it, at most repair_concurrency at once per table.
  function_name     = "${var.name}-repair"
  description       = "Backfill and repair runs of the registrar's tables, driven by the state machine ${var.name}-repair"
  role              = aws_iam_role.repair.arn
  runtime           = "provided.al2023"
  handler           = "bootstrap"
  architectures     = [var.architecture]
  filename          = var.lambda_zip
  source_code_hash  = aws_lambda_function.this.source_code_hash
  s3_bucket         = try(var.lambda_s3.bucket, null)
  s3_key            = try(var.lambda_s3.key, null)
  s3_object_version = try(var.lambda_s3.version, null)
  memory_size       = var.repair_memory_size
  timeout           = var.repair_timeout
  publish           = true

  environment {
    variables = merge(local.environment, { DELETE_EMPTY_PARTITIONS = "false", SCHEMA_DRIFT_DETECTION = "false", CHECKPOINT_URI = local.checkpoint_uri })
  }

  tracing_config {
    mode = "PassThrough"
  }

  tags       = var.tags
  depends_on = [aws_cloudwatch_log_group.function, aws_iam_role_policy.repair, aws_iam_role_policy_attachment.scoped]
}

resource "aws_lambda_alias" "repair" {
  name             = "live"
  description      = "What the state machine invokes: move it to roll back."
  function_name    = aws_lambda_function.repair.function_name
  function_version = aws_lambda_function.repair.version
}

resource "aws_lakeformation_permissions" "repair" {
  for_each = var.lake_formation_permissions ? local.tables : {}

  catalog_id = local.catalog_id
  principal  = aws_iam_role.repair.arn
  permissions = distinct(concat(
    ["DESCRIBE", "INSERT", "SELECT"],
    var.repair_prune ? ["DELETE"] : [],
    var.repair_update_schema ? ["ALTER"] : [],
  ))

  table {
    catalog_id    = local.catalog_id
    database_name = each.value.database
    name          = each.value.name
  }
}

