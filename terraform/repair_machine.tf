################################################################################
# The repair's state machine. An execution names its tables by reference ("served", or a
# list for a backfill on demand); the plan writes them where a Distributed Map reads its
# items. Each table is a child execution: its first run cuts it into groups of units, each
# group a child execution of its own that runs the function until the group's walk is over,
# then the finish (prune, schemas) runs once. Every execution's history stays bounded
# whatever the table (a Distributed Map's children each have their own 25,000 events), and
# every state carries names and counts: the passes' state is in the checkpoints.
################################################################################

locals {
  # What an execution of the schedule is given; a backfill on demand names its tables.
  repair_input = {
    tables        = "served"
    prune         = var.repair_prune
    update_schema = var.repair_update_schema
    window_days   = var.repair_window_days
  }
  repair_full_input = merge(local.repair_input, { window_days = null })
  # A schedule of either kind starts executions with the schedule's role.
  schedules          = local.repairs || var.repair_full_schedule != null
  state_machine_name = "${var.name}-repair"
  state_machine_arn  = "arn:${local.partition}:states:${local.region}:${local.account}:stateMachine:${local.state_machine_name}"
  # Lambda's errors a Task retries: the service's own, and throttling.
  lambda_transient = ["Lambda.ServiceException", "Lambda.AWSLambdaException", "Lambda.SdkClientException", "Lambda.TooManyRequestsException"]
  invoke = {
    Type     = "Task"
    Resource = "arn:${local.partition}:states:::lambda:invoke"
    Retry = [
      { ErrorEquals = local.lambda_transient, IntervalSeconds = 2, MaxAttempts = 6, BackoffRate = 2, JitterStrategy = "FULL" },
      # A run that failed for a reason that may pass (a call that kept failing, a run that
      # met another's checkpoint, a function cut off): run it again from the checkpoint. A
      # run refused (RepairRefused) or given too little time (RepairNoTime) is not retried.
      { ErrorEquals = ["RepairRunFailed", "RepairCheckpointConflict", "RepairNoProgress", "Lambda.Unknown"], IntervalSeconds = 10, MaxAttempts = 2, BackoffRate = 2, JitterStrategy = "FULL" },
    ]
  }
  # What every run of a table's pass is asked with.
  pass_fields = {
    "table.$"         = "$.table"
    "prune.$"         = "$.prune"
    "update_schema.$" = "$.update_schema"
    "window_days.$"   = "$.window_days"
    summary           = true
  }
  distributed = { Mode = "DISTRIBUTED", ExecutionType = "STANDARD" }
  # One table (a child execution): split, walk the groups, finish.
  table_machine = {
    StartAt = "Split"
    States = {
      Split = merge(local.invoke, {
        Parameters = {
          FunctionName = aws_lambda_alias.repair.arn
          Payload      = { sync = merge(local.pass_fields, { split = var.repair_groups }) }
        }
        ResultSelector = { "pass.$" = "$.Payload.pass", "groups.$" = "$.Payload.groups" }
        ResultPath     = "$.split"
        Next           = "Walk"
      })
      Walk = {
        Type           = "Map"
        ItemsPath      = "$.split.groups"
        MaxConcurrency = var.repair_concurrency
        # A group that does not finish fails its own execution; the finish then names it
        # (every other group is walked first). (A count rather than a percentage of 100: the
        # emulator's ASL grammar reads only fractions there.)
        ToleratedFailureCount = var.repair_groups
        ItemSelector = {
          "table.$"         = "$.table"
          "prune.$"         = "$.prune"
          "update_schema.$" = "$.update_schema"
          "window_days.$"   = "$.window_days"
          "pass.$"          = "$.split.pass"
          "group.$"         = "$$.Map.Item.Value"
        }
        ItemProcessor = {
          ProcessorConfig = local.distributed
          StartAt         = "Run"
          States = {
            Run = merge(local.invoke, {
              Parameters = {
                FunctionName = aws_lambda_alias.repair.arn
                Payload      = { sync = merge(local.pass_fields, { "pass.$" = "$.pass", "group.$" = "$.group" }) }
              }
              ResultSelector = { "cursor.$" = "$.Payload.cursor" }
              ResultPath     = "$.run"
              Next           = "Walked"
            })
            Walked = {
              Type = "Choice"
              Choices = [
                { Variable = "$.run.cursor", IsNull = true, Next = "GroupDone" },
                { Variable = "$.run.cursor.runs", NumericGreaterThanEquals = var.repair_max_runs, Next = "TooManyRuns" },
              ]
              Default = "Run"
            }
            TooManyRuns = {
              Type      = "Fail"
              Error     = "RepairDidNotFinish"
              CausePath = "States.Format('group {} of {} was not walked in {} runs (repair_max_runs): read the sync summary lines of the repair function for pass {}', $.group, $.table, $.run.cursor.runs, $.pass)"
            }
            GroupDone = { Type = "Succeed" }
          }
        }
        ResultPath = null
        Next       = "Finish"
      }
      Finish = merge(local.invoke, {
        Parameters = {
          FunctionName = aws_lambda_alias.repair.arn
          Payload      = { sync = merge(local.pass_fields, { "pass.$" = "$.split.pass", finish = true }) }
        }
        ResultSelector = { "cursor.$" = "$.Payload.cursor", "unregistered.$" = "$.Payload.unregistered", "cause.$" = "$.Payload.cause" }
        ResultPath     = "$.finish"
        Next           = "Finished"
      })
      Finished = {
        Type = "Choice"
        Choices = [
          {
            And  = [{ Variable = "$.finish.cursor", IsNull = false }, { Variable = "$.finish.cursor.runs", NumericGreaterThanEquals = var.repair_max_runs }]
            Next = "FinishTooLong"
          },
          { Variable = "$.finish.cursor", IsNull = false, Next = "Finish" },
          { Variable = "$.finish.unregistered", NumericGreaterThan = 0, Next = "PartitionsMissing" },
        ]
        Default = "TableDone"
      }
      # Never "done" with partitions missing: the execution fails naming the table and how
      # many, the alarm fires, and the next pass tries them first.
      PartitionsMissing = {
        Type      = "Fail"
        Error     = "RepairPartitionsMissing"
        CausePath = "$.finish.cause"
      }
      FinishTooLong = {
        Type      = "Fail"
        Error     = "RepairDidNotFinish"
        CausePath = "States.Format('the prune or the schema update of {} did not finish in {} runs (repair_max_runs)', $.table, $.finish.cursor.runs)"
      }
      TableDone = { Type = "Succeed" }
    }
  }
  definition = {
    Comment = "Backfill and repair of the registrar's tables by runs of ${var.name}-repair. Input: {\"tables\": \"served\" or [\"db.t\", ...], \"prune\": bool, \"update_schema\": bool, \"window_days\": null or days}."
    StartAt = "Plan"
    States = {
      Plan = merge(local.invoke, {
        Parameters = {
          FunctionName = aws_lambda_alias.repair.arn
          Payload      = { plan = { "tables.$" = "$.tables", "execution.$" = "$$.Execution.Name" } }
        }
        ResultSelector = { "Bucket.$" = "$.Payload.Bucket", "Key.$" = "$.Payload.Key", "tables.$" = "$.Payload.tables" }
        ResultPath     = "$.plan"
        Next           = "Tables"
      })
      Tables = {
        Type = "Map"
        ItemReader = {
          Resource     = "arn:${local.partition}:states:::s3:getObject"
          ReaderConfig = { InputType = "JSON" }
          Parameters   = { "Bucket.$" = "$.plan.Bucket", "Key.$" = "$.plan.Key" }
        }
        MaxConcurrency = var.repair_table_concurrency
        # Every table is repaired whatever another's fate; the review says which failed.
        ToleratedFailureCountPath = "$.plan.tables"
        ItemSelector = {
          "table.$"         = "$$.Map.Item.Value.table"
          "prune.$"         = "$.prune"
          "update_schema.$" = "$.update_schema"
          "window_days.$"   = "$.window_days"
        }
        ItemProcessor = merge({ ProcessorConfig = local.distributed }, local.table_machine)
        ResultWriter = {
          Resource   = "arn:${local.partition}:states:::s3:putObject"
          Parameters = { Bucket = local.checkpoint_bucket, Prefix = "${local.checkpoint_runs}results" }
        }
        ResultPath = "$.repaired"
        Next       = "Review"
      }
      Review = merge(local.invoke, {
        Parameters = {
          FunctionName = aws_lambda_alias.repair.arn
          Payload      = { "review.$" = "$.repaired.ResultWriterDetails" }
        }
        ResultSelector = { "failed.$" = "$.Payload.failed", "cause.$" = "$.Payload.cause" }
        ResultPath     = "$.review"
        Next           = "Reviewed"
      })
      Reviewed = {
        Type    = "Choice"
        Choices = [{ Variable = "$.review.failed", NumericGreaterThan = 0, Next = "NotRepaired" }]
        Default = "Repaired"
      }
      NotRepaired = {
        Type      = "Fail"
        Error     = "RepairIncomplete"
        CausePath = "$.review.cause"
      }
      Repaired = { Type = "Succeed" }
    }
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
  # The Distributed Maps: child executions of this state machine
  # (https://docs.aws.amazon.com/step-functions/latest/dg/iam-policies-eg-dist-map.html).
  statement {
    sid       = "ChildExecutions"
    actions   = ["states:StartExecution"]
    resources = [local.state_machine_arn]
  }
  statement {
    sid       = "ManageChildExecutions"
    actions   = ["states:DescribeExecution", "states:StopExecution"]
    resources = ["arn:${local.partition}:states:${local.region}:${local.account}:execution:${local.state_machine_name}/*"]
  }
  # The map's items (the plan) and results, in the checkpoints' runs/ prefix only.
  statement {
    sid       = "MapItemsAndResults"
    actions   = ["s3:GetObject", "s3:PutObject", "s3:ListMultipartUploadParts", "s3:AbortMultipartUpload"]
    resources = ["${local.checkpoint_arn}/${local.checkpoint_runs}*"]
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
  name       = local.state_machine_name
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
  count = local.schedules ? 1 : 0

  name               = "${var.name}-schedule"
  assume_role_policy = data.aws_iam_policy_document.events_assume.json
  tags               = var.tags
}

resource "aws_iam_role_policy" "schedule" {
  count = local.schedules ? 1 : 0

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

# The full repair on its own, rarer schedule, beside a windowed nightly one.
resource "aws_cloudwatch_event_rule" "repair_full" {
  count = var.repair_full_schedule != null ? 1 : 0

  name                = "${var.name}-repair-full"
  description         = "Starts a repair of every table the registrar serves, walked whole."
  schedule_expression = var.repair_full_schedule
  tags                = var.tags
}

resource "aws_cloudwatch_event_target" "repair_full" {
  count = var.repair_full_schedule != null ? 1 : 0

  rule     = aws_cloudwatch_event_rule.repair_full[0].name
  arn      = aws_sfn_state_machine.repair.arn
  role_arn = aws_iam_role.schedule[0].arn
  input    = jsonencode(local.repair_full_input)
}
