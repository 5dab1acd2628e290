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
  # The state machine's input for every served table; a backfill on demand names its own.
  repair_input = {
    tables        = sort(keys(local.tables))
    prune         = var.repair_prune
    update_schema = var.repair_update_schema
  }
  # Lambda's errors a Task retries: the service's own, and throttling.
  lambda_transient = ["Lambda.ServiceException", "Lambda.AWSLambdaException", "Lambda.SdkClientException", "Lambda.TooManyRequestsException"]
  invoke = {
    Type     = "Task"
    Resource = "arn:${local.partition}:states:::lambda:invoke"
    Retry = [
      { ErrorEquals = local.lambda_transient, IntervalSeconds = 2, MaxAttempts = 6, BackoffRate = 2, JitterStrategy = "FULL" },
      # A run that failed as a whole (its catalog read, say) did nothing: run it again.
      { ErrorEquals = ["States.TaskFailed"], IntervalSeconds = 10, MaxAttempts = 2, BackoffRate = 2 },
    ]
  }
  # One run of the pass from the cursor in $.result (a group's walk, or the finish from the
  # groups' cursors merged); its cursor and counts replace it.
  resumed_run = merge(local.invoke, {
    Parameters = {
      FunctionName = aws_lambda_alias.repair.arn
      Payload = {
        sync = {
          "table.$"         = "$.table"
          "prune.$"         = "$.prune"
          "update_schema.$" = "$.update_schema"
          "resume.$"        = "$.result.cursor"
          summary           = true
        }
      }
    }
    ResultSelector = { "cursor.$" = "$.Payload.cursor", "counts.$" = "$.Payload.counts" }
    ResultPath     = "$.result"
  })
  # One table: cut into groups of units, each group walked in runs until its walk is over,
  # then the pass finished (prune, schemas) from the groups' cursors merged.
  table_machine = {
    StartAt = "Split"
    States = {
      Split = merge(local.invoke, {
        Parameters = {
          FunctionName = aws_lambda_alias.repair.arn
          Payload = {
            sync = {
              "table.$"         = "$.table"
              "prune.$"         = "$.prune"
              "update_schema.$" = "$.update_schema"
              split             = var.repair_groups
              summary           = true
            }
          }
        }
        ResultSelector = { "cursors.$" = "$.Payload.cursors" }
        ResultPath     = "$.split"
        Next           = "Walk"
      })
      Walk = {
        Type           = "Map"
        ItemsPath      = "$.split.cursors"
        MaxConcurrency = var.repair_concurrency
        ItemSelector = {
          "table.$"         = "$.table"
          "prune.$"         = "$.prune"
          "update_schema.$" = "$.update_schema"
          "result"          = { "cursor.$" = "$$.Map.Item.Value" }
        }
        ItemProcessor = {
          ProcessorConfig = { Mode = "INLINE" }
          StartAt         = "Run"
          States = {
            Run = merge(local.resumed_run, { Next = "Walked" })
            Walked = {
              Type = "Choice"
              Choices = [
                { Variable = "$.result.cursor", IsNull = true, Next = "GroupDone" },
                { Not = { Variable = "$.result.cursor.phase", StringEquals = "walk" }, Next = "GroupDone" },
                { Variable = "$.result.cursor.runs", NumericGreaterThanEquals = var.repair_max_runs, Next = "TooManyRuns" },
              ]
              Default = "Run"
            }
            TooManyRuns = {
              Type  = "Fail"
              Error = "RepairDidNotFinish"
              Cause = "A group of the table was not walked in repair_max_runs runs: read the repair function's `sync summary` lines."
            }
            GroupDone = { Type = "Succeed" }
          }
        }
        ResultSelector = { "cursors.$" = "$[*].result.cursor" }
        ResultPath     = "$.walked"
        Next           = "Gather"
      }
      # The groups' cursors, as one list the function merges (nulls, groups with nothing
      # left, are dropped).
      Gather = {
        Type       = "Pass"
        InputPath  = "$.walked.cursors"
        ResultPath = "$.result.cursor"
        Next       = "Finish"
      }
      Finish = merge(local.resumed_run, { Next = "Finished" })
      Finished = {
        Type = "Choice"
        Choices = [
          { Variable = "$.result.cursor", IsNull = true, Next = "TableDone" },
          { Variable = "$.result.cursor.runs", NumericGreaterThanEquals = var.repair_max_runs, Next = "FinishTooLong" },
        ]
        Default = "Finish"
      }
      FinishTooLong = {
        Type  = "Fail"
        Error = "RepairDidNotFinish"
        Cause = "The prune or the schema update of the table did not finish in repair_max_runs runs."
      }
      TableDone = { Type = "Succeed" }
    }
  }
  definition = {
    Comment = "Backfill and repair of the registrar's tables: each table cut into groups of units walked by runs of ${var.name}-repair that resume one another's cursor, then pruned and its schemas updated. Input: {\"tables\": [\"db.t\", ...], \"prune\": bool, \"update_schema\": bool}."
    StartAt = "Tables"
    States = {
      Tables = {
        Type           = "Map"
        ItemsPath      = "$.tables"
        MaxConcurrency = 2
        ItemSelector = {
          "table.$"         = "$$.Map.Item.Value"
          "prune.$"         = "$.prune"
          "update_schema.$" = "$.update_schema"
        }
        ItemProcessor = merge({ ProcessorConfig = { Mode = "INLINE" } }, local.table_machine)
        ResultPath    = null
        End           = true
      }
    }
  }
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
    variables = merge(local.environment, { DELETE_EMPTY_PARTITIONS = "false", SCHEMA_DRIFT_DETECTION = "false" })
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

data "aws_iam_policy_document" "states_assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["states.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account]
    }
  }
}

resource "aws_iam_role" "states" {
  name               = "${var.name}-states"
  assume_role_policy = data.aws_iam_policy_document.states_assume.json
  tags               = var.tags
}

data "aws_iam_policy_document" "states" {
  # checkov:skip=CKV_AWS_111:Step Functions' log delivery and X-Ray's actions take no resource but "*" (AWS documents them so).
  # checkov:skip=CKV_AWS_356:Step Functions' log delivery and X-Ray's actions take no resource but "*" (AWS documents them so).
  statement {
    sid       = "InvokeRepair"
    actions   = ["lambda:InvokeFunction"]
    resources = [aws_lambda_alias.repair.arn]
  }
  # Execution logs, as Step Functions writes them (its log delivery is account-wide).
  statement {
    sid = "ExecutionLogs"
    actions = [
      "logs:CreateLogDelivery", "logs:GetLogDelivery", "logs:UpdateLogDelivery", "logs:DeleteLogDelivery",
      "logs:ListLogDeliveries", "logs:PutResourcePolicy", "logs:DescribeResourcePolicies", "logs:DescribeLogGroups",
    ]
    resources = ["*"]
  }
  # Traces of executions (X-Ray takes no resource but "*").
  statement {
    sid       = "Traces"
    actions   = ["xray:PutTraceSegments", "xray:PutTelemetryRecords", "xray:GetSamplingRules", "xray:GetSamplingTargets"]
    resources = ["*"]
  }
}

resource "aws_iam_role_policy" "states" {
  name   = "run-repair"
  role   = aws_iam_role.states.id
  policy = data.aws_iam_policy_document.states.json
}

resource "aws_cloudwatch_log_group" "states" {
  # checkov:skip=CKV_AWS_158:Execution logs hold table names and counts, no secrets; CloudWatch encrypts at rest by default.
  # checkov:skip=CKV_AWS_338:Retention is a cost choice, set by log_retention_days.
  name              = "/aws/vendedlogs/states/${var.name}-repair"
  retention_in_days = var.log_retention_days
  tags              = var.tags
}

resource "aws_sfn_state_machine" "repair" {
  name       = "${var.name}-repair"
  role_arn   = aws_iam_role.states.arn
  type       = "STANDARD"
  definition = jsonencode(local.definition)

  # Failed states are logged with their input and output: the cursor a run failed on, which
  # names table prefixes and counts, nothing secret.
  logging_configuration {
    log_destination        = "${aws_cloudwatch_log_group.states.arn}:*"
    include_execution_data = true
    level                  = "ERROR"
  }

  tracing_configuration {
    enabled = true
  }

  tags       = var.tags
  depends_on = [aws_iam_role_policy.states]
}

# The schedule starts an execution for every served table.
resource "aws_cloudwatch_event_rule" "repair" {
  count = local.repairs ? 1 : 0

  name                = "${var.name}-repair"
  description         = "Starts the repair of every table the registrar serves: registers partitions whose events were lost."
  schedule_expression = var.repair_schedule
  tags                = var.tags
}

data "aws_iam_policy_document" "events_assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["events.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "schedule" {
  count = local.repairs ? 1 : 0

  name               = "${var.name}-schedule"
  assume_role_policy = data.aws_iam_policy_document.events_assume.json
  tags               = var.tags
}

resource "aws_iam_role_policy" "schedule" {
  count = local.repairs ? 1 : 0

  name = "start-repair"
  role = aws_iam_role.schedule[0].id
  policy = jsonencode({
    Version   = "2012-10-17"
    Statement = [{ Effect = "Allow", Action = "states:StartExecution", Resource = aws_sfn_state_machine.repair.arn }]
  })
}

resource "aws_cloudwatch_event_target" "repair" {
  count = local.repairs ? 1 : 0

  rule     = aws_cloudwatch_event_rule.repair[0].name
  arn      = aws_sfn_state_machine.repair.arn
  role_arn = aws_iam_role.schedule[0].arn
  input    = jsonencode(local.repair_input)
}
