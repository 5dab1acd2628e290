################################################################################
# Alarms and dashboard: know within minutes that new data is not reaching the catalog
################################################################################

# The AWS-managed alias/aws/sns key cannot be used here: its key policy does not admit
# CloudWatch, so an encrypted topic would silently drop every alarm. This key's policy does,
# for this account's alarms only.
data "aws_iam_policy_document" "alarm_key" {
  # checkov:skip=CKV_AWS_109:A key policy's resource is always "*" (the key itself); the account root keeps administering the key, as AWS's default key policy does.
  # checkov:skip=CKV_AWS_111:A key policy's resource is always "*" (the key itself).
  # checkov:skip=CKV_AWS_356:A key policy's resource is always "*" (the key itself).
  statement {
    sid       = "AccountAdministers"
    actions   = ["kms:*"]
    resources = ["*"]
    principals {
      type        = "AWS"
      identifiers = ["arn:${local.partition}:iam::${local.account}:root"]
    }
  }

  statement {
    sid       = "CloudWatchPublishes"
    actions   = ["kms:Decrypt", "kms:GenerateDataKey*"]
    resources = ["*"]
    principals {
      type        = "Service"
      identifiers = ["cloudwatch.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account]
    }
  }
}

resource "aws_kms_key" "alarms" {
  count = var.encrypt_alarm_topic ? 1 : 0

  description             = "${var.name}: encrypts the alarm topic; this account's CloudWatch may use it to publish"
  enable_key_rotation     = true
  deletion_window_in_days = 7
  policy                  = data.aws_iam_policy_document.alarm_key.json
  tags                    = var.tags
}

resource "aws_sns_topic" "alarms" {
  # checkov:skip=CKV_AWS_26:Encrypted with a key of this module unless encrypt_alarm_topic is false.
  name              = "${var.name}-alarms"
  kms_master_key_id = var.encrypt_alarm_topic ? aws_kms_key.alarms[0].arn : null
  tags              = var.tags
}

resource "aws_sns_topic_subscription" "email" {
  count = var.alarm_email == null ? 0 : 1

  topic_arn = aws_sns_topic.alarms.arn
  protocol  = "email"
  endpoint  = var.alarm_email
}

locals {
  # Every metric of the functions carries `service`, so deployments can share a namespace.
  event_dimensions  = { service = var.name, FunctionName = aws_lambda_function.this.function_name }
  repair_dimensions = { service = var.name, FunctionName = aws_lambda_function.repair.function_name }
  lambda_dimensions = { FunctionName = aws_lambda_function.this.function_name }
  machine           = { StateMachineArn = aws_sfn_state_machine.repair.arn }

  # How often the schedule runs, at most, in hours: what the repair-missing alarm must wait.
  schedule = local.repairs ? regex("^(cron|rate)\\((.+)\\)$", var.repair_schedule) : ["rate", "1 day"]
  rate     = local.schedule[0] == "rate" ? regex("^([0-9]+) (minute|hour|day)s?$", trimspace(local.schedule[1])) : null
  cron     = local.schedule[0] == "cron" ? split(" ", trimspace(local.schedule[1])) : null
  repair_every_hours = local.rate != null ? (
    tonumber(local.rate[0]) * { minute = 1 / 60, hour = 1, day = 24 }[local.rate[1]]
    ) : (
    !contains(["*", "?"], try(local.cron[2], "*")) ? 744 : !contains(["*", "?"], try(local.cron[4], "*")) ? 168 : 24
  )

  alarms = {
    objects_failed = {
      description = "Objects could not be registered after retries; their events go back to the queue and then to the DLQ. Read the function's 'object failed' log lines."
      namespace   = var.metrics_namespace
      metric      = "ObjectsFailed"
      dimensions  = local.event_dimensions
    }
    throttles = {
      description = "Lambda throttled the function: the account's concurrency is used up, or reserved_concurrency is below the queue's sqs_maximum_concurrency. Throttled batches go back to the queue and towards the dead-letter queue: raise the account's limit or reserved_concurrency; to send Glue fewer requests, lower sqs_maximum_concurrency instead."
      namespace   = "AWS/Lambda"
      metric      = "Throttles"
      dimensions  = local.lambda_dimensions
    }
    dead_letters = {
      description = local.uses_sqs ? "Events reached the dead-letter queue ${aws_sqs_queue.dlq.arn}: their partitions may be missing. Fix the cause, then move them back (aws sqs start-message-move-task --source-arn ${aws_sqs_queue.dlq.arn}) or start a repair." : "Failed invocations' records reached the dead-letter queue ${aws_sqs_queue.dlq.arn}: their partitions may be missing. Fix the cause, then hand each record to `glue-partition-registrar handle` (it reads the event inside) or start a repair."
      namespace   = "AWS/SQS"
      metric      = "ApproximateNumberOfMessagesVisible"
      dimensions  = { QueueName = aws_sqs_queue.dlq.name }
    }
    repair_failures = {
      description = "A repair run could not register, drop or update some partitions: read the repair function's 'sync summary' lines and the execution of ${aws_sfn_state_machine.repair.name}."
      namespace   = var.metrics_namespace
      metric      = "RepairFailures"
      dimensions  = local.repair_dimensions
    }
    repair_executions_failed = {
      description = "A repair execution failed: its cause names each table not repaired and why (RepairPartitionsMissing: partitions Glue would not take, kept for the next pass; RepairDidNotFinish: a group or the finish ran out of repair_max_runs; RepairNoTime: raise repair_timeout; a run that kept failing). Open the execution in Step Functions."
      namespace   = "AWS/States"
      metric      = "ExecutionsFailed"
      dimensions  = local.machine
    }
    repair_executions_timed_out = {
      description = "A repair execution timed out. Open the execution in Step Functions."
      namespace   = "AWS/States"
      metric      = "ExecutionsTimedOut"
      dimensions  = local.machine
    }
    repair_executions_aborted = {
      description = "A repair execution was aborted (stopped by hand or by a redeployment)."
      namespace   = "AWS/States"
      metric      = "ExecutionsAborted"
      dimensions  = local.machine
    }
  }

  optional_alarms = merge(
    var.schema_drift_detection ? {
      schema_drift = {
        description = "New Parquet files have columns that differ from the table's: read the function's 'schema drift' log lines, then change the table and run sync --update-schema."
        namespace   = var.metrics_namespace
        metric      = "SchemaDrift"
        dimensions  = local.event_dimensions
      }
    } : {},
  )
}

resource "aws_cloudwatch_metric_alarm" "this" {
  for_each = merge(local.alarms, local.optional_alarms)

  alarm_name          = "${var.name}-${replace(each.key, "_", "-")}"
  alarm_description   = each.value.description
  namespace           = each.value.namespace
  metric_name         = each.value.metric
  dimensions          = each.value.dimensions
  statistic           = each.key == "dead_letters" ? "Maximum" : "Sum"
  period              = 300
  evaluation_periods  = 1
  threshold           = 0
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.alarms.arn]
  ok_actions          = [aws_sns_topic.alarms.arn]
  tags                = var.tags
}

# Errors: invocations that failed, and served tables the function could not read (a table
# dropped or renamed, a permission missing): either way events are not being registered.
resource "aws_cloudwatch_metric_alarm" "errors" {
  alarm_name          = "${var.name}-errors"
  alarm_description   = "The function failed invocations (failed objects in a direct invocation are retried) or could not read a served table: read its ERROR lines ('served table unreadable' names the table); fix the table or the permissions."
  comparison_operator = "GreaterThanThreshold"
  evaluation_periods  = 1
  threshold           = 0
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.alarms.arn]
  ok_actions          = [aws_sns_topic.alarms.arn]
  tags                = var.tags

  metric_query {
    id          = "errors"
    expression  = "FILL(invocations, 0) + FILL(tables, 0)"
    label       = "Failed invocations and unreadable tables"
    return_data = true
  }

  metric_query {
    id = "invocations"
    metric {
      namespace   = "AWS/Lambda"
      metric_name = "Errors"
      dimensions  = local.lambda_dimensions
      period      = 300
      stat        = "Sum"
    }
  }

  metric_query {
    id = "tables"
    metric {
      namespace   = var.metrics_namespace
      metric_name = "TablesUnreadable"
      dimensions  = local.event_dimensions
      period      = 300
      stat        = "Maximum"
    }
  }
}

resource "aws_cloudwatch_metric_alarm" "no_new_partition" {
  count = var.no_partition_alarm_hours == null ? 0 : 1

  alarm_name          = "${var.name}-no-new-partition"
  alarm_description   = "No partition was created for ${coalesce(var.no_partition_alarm_hours, 0)} hours: the upstream feed may have stopped, or its objects are skipped (see ObjectsSkipped by Reason)."
  namespace           = var.metrics_namespace
  metric_name         = "PartitionsCreated"
  dimensions          = local.event_dimensions
  statistic           = "Sum"
  period              = 3600
  evaluation_periods  = coalesce(var.no_partition_alarm_hours, 1)
  datapoints_to_alarm = coalesce(var.no_partition_alarm_hours, 1)
  threshold           = 1
  comparison_operator = "LessThanThreshold"
  treat_missing_data  = "breaching"
  alarm_actions       = [aws_sns_topic.alarms.arn]
  ok_actions          = [aws_sns_topic.alarms.arn]
  tags                = var.tags
}

# New data's age: the p99 of the time from an object's event to its partition's creation.
resource "aws_cloudwatch_metric_alarm" "freshness" {
  count = var.freshness_alarm_seconds == null ? 0 : 1

  alarm_name          = "${var.name}-freshness"
  alarm_description   = "New partitions took more than ${coalesce(var.freshness_alarm_seconds, 0)} s (p99) from their object's event to Glue's confirmation: look at the queue's age of oldest message, the batching window, throttles and Glue latency."
  namespace           = var.metrics_namespace
  metric_name         = "Freshness"
  dimensions          = local.event_dimensions
  extended_statistic  = "p99"
  period              = 300
  evaluation_periods  = 1
  threshold           = coalesce(var.freshness_alarm_seconds, 0) * 1000
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.alarms.arn]
  ok_actions          = [aws_sns_topic.alarms.arn]
  tags                = var.tags
}

# A repair that never succeeded is a failure too: the schedule, its role or the state
# machine is broken.
resource "aws_cloudwatch_metric_alarm" "repair_missing" {
  count = local.repairs ? 1 : 0

  alarm_name          = "${var.name}-repair-missing"
  alarm_description   = "No repair execution succeeded for ${var.repair_interval_hours} hours: check the EventBridge rule ${var.name}-repair, its role, and the executions of ${aws_sfn_state_machine.repair.name}."
  namespace           = "AWS/States"
  metric_name         = "ExecutionsSucceeded"
  dimensions          = local.machine
  statistic           = "Sum"
  period              = 3600
  evaluation_periods  = var.repair_interval_hours
  datapoints_to_alarm = var.repair_interval_hours
  threshold           = 1
  comparison_operator = "LessThanThreshold"
  treat_missing_data  = "breaching"
  alarm_actions       = [aws_sns_topic.alarms.arn]
  ok_actions          = [aws_sns_topic.alarms.arn]
  tags                = var.tags

  lifecycle {
    precondition {
      condition     = local.repair_every_hours <= var.repair_interval_hours
      error_message = "repair_schedule \"${coalesce(var.repair_schedule, "-")}\" runs about every ${local.repair_every_hours} hours, but the repair-missing alarm gives up after repair_interval_hours = ${var.repair_interval_hours}: set repair_interval_hours to at least ${local.repair_every_hours} (at most 168), or schedule the repair more often."
    }
  }
}

resource "aws_cloudwatch_dashboard" "this" {
  dashboard_name = var.name
  dashboard_body = jsonencode({
    widgets = [
      {
        type = "metric", x = 0, y = 0, width = 12, height = 6
        properties = {
          title = "Objects and partitions", region = local.region, stat = "Sum", period = 300
          metrics = [for m in ["ObjectsSeen", "PartitionsCreated", "PartitionsExisting", "PartitionsCompleted", "ObjectsSkipped", "ObjectsFailed", "SchemaDrift", "TablesUnreadable"] :
          [var.metrics_namespace, m, "service", var.name, "FunctionName", aws_lambda_function.this.function_name]]
        }
      },
      {
        type = "metric", x = 12, y = 0, width = 12, height = 6
        properties = {
          title = "Freshness: event to Glue (ms)", region = local.region, period = 300
          metrics = [
            [var.metrics_namespace, "Freshness", "service", var.name, "FunctionName", aws_lambda_function.this.function_name, { stat = "p50" }],
            ["...", { stat = "p99" }],
          ]
        }
      },
      {
        type = "metric", x = 0, y = 6, width = 12, height = 6
        properties = {
          title   = "Freshness p99 by table (ms)", region = local.region, period = 300, stat = "p99"
          metrics = [for t in sort(keys(local.tables)) : [var.metrics_namespace, "Freshness", "service", var.name, "Table", t]]
        }
      },
      {
        type = "metric", x = 12, y = 6, width = 12, height = 6
        properties = {
          title   = "Partitions created by table", region = local.region, stat = "Sum", period = 300
          metrics = [for t in sort(keys(local.tables)) : [var.metrics_namespace, "PartitionsCreated", "service", var.name, "Table", t]]
        }
      },
      {
        type = "metric", x = 0, y = 12, width = 12, height = 6
        properties = {
          title = "Skipped objects by reason", region = local.region, stat = "Sum", period = 300
          metrics = [for r in ["outside_tables", "folder_marker", "hidden_segment", "incomplete_path", "not_partition_path", "not_template_path", "invalid_value", "glue_input_rule", "ignored_event", "removal_ignored", "partition_not_empty", "not_registered", "registered_elsewhere", "location_not_s3", "awaiting_marker", "marker_not_partition"] :
          [var.metrics_namespace, "ObjectsSkipped", "service", var.name, "Reason", r]]
        }
      },
      {
        type = "metric", x = 12, y = 12, width = 12, height = 6
        properties = {
          title = "Glue requests and throttles", region = local.region, stat = "Sum", period = 300
          metrics = [for m in ["GlueRequests", "GlueThrottles"] :
          [var.metrics_namespace, m, "service", var.name, "FunctionName", aws_lambda_function.this.function_name]]
        }
      },
      {
        type = "metric", x = 0, y = 18, width = 12, height = 6
        properties = {
          title = "Lambda errors, throttles, duration p99", region = local.region, period = 300
          metrics = [
            ["AWS/Lambda", "Errors", "FunctionName", aws_lambda_function.this.function_name, { stat = "Sum" }],
            [".", "Throttles", ".", ".", { stat = "Sum" }],
            [".", "Duration", ".", ".", { stat = "p99" }],
          ]
        }
      },
      {
        type = "metric", x = 12, y = 18, width = 12, height = 6
        properties = {
          title = "Repair executions and dead letters", region = local.region, stat = "Sum", period = 3600
          metrics = [
            ["AWS/States", "ExecutionsSucceeded", "StateMachineArn", aws_sfn_state_machine.repair.arn],
            [".", "ExecutionsFailed", ".", "."],
            [".", "ExecutionsTimedOut", ".", "."],
            ["AWS/SQS", "ApproximateNumberOfMessagesVisible", "QueueName", aws_sqs_queue.dlq.name, { stat = "Maximum" }],
          ]
        }
      },
    ]
  })
}
