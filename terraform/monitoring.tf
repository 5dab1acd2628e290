################################################################################
# Alarms and dashboard: know within minutes that new data is not reaching the catalog
################################################################################

# The AWS-managed alias/aws/sns key cannot be used here: its key policy does not admit
# CloudWatch, so an encrypted topic would silently drop every alarm. This key's policy does.
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
  }
}

resource "aws_kms_key" "alarms" {
  count = var.encrypt_alarm_topic ? 1 : 0

  description             = "${var.name}: encrypts the alarm topic; CloudWatch may use it to publish"
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
  function_dimensions = { FunctionName = aws_lambda_function.this.function_name }

  alarms = {
    errors = {
      description = "The function failed invocations: an event could not be handled (bad configuration, Glue unreachable) or objects failed and the event is being retried."
      namespace   = "AWS/Lambda"
      metric      = "Errors"
      dimensions  = local.function_dimensions
    }
    throttles = {
      description = "Lambda throttled the function: raise reserved_concurrency or the account's concurrency limit."
      namespace   = "AWS/Lambda"
      metric      = "Throttles"
      dimensions  = local.function_dimensions
    }
    objects_failed = {
      description = "Objects could not be registered after retries; their events go back to the queue and then to the DLQ. Read the function's 'object failed' log lines."
      namespace   = var.metrics_namespace
      metric      = "ObjectsFailed"
      dimensions  = local.function_dimensions
    }
    dead_letters = {
      description = var.trigger_mode == "sqs" ? "Events reached the dead-letter queue: their partitions may be missing. Fix the cause, then move them back to the events queue (aws sqs start-message-move-task --source-arn <DLQ ARN>) or run a sync." : "Failed invocations' records reached the dead-letter queue: their partitions may be missing. Fix the cause, then hand each record to `glue-partition-registrar handle` (it reads the event inside) or run a sync."
      namespace   = "AWS/SQS"
      metric      = "ApproximateNumberOfMessagesVisible"
      dimensions  = { QueueName = aws_sqs_queue.dlq.name }
    }
  }

  optional_alarms = merge(
    var.schema_drift_detection ? {
      schema_drift = {
        description = "New Parquet files have columns that differ from the table's: read the function's 'schema drift' log lines, then change the table and run sync --update-schema."
        namespace   = var.metrics_namespace
        metric      = "SchemaDrift"
        dimensions  = local.function_dimensions
      }
    } : {},
    local.repairs ? {
      repair_failures = {
        description = "The scheduled repair could not register, drop or update some partitions, or stopped at its deadline: read its 'sync summary' log line and the report."
        namespace   = var.metrics_namespace
        metric      = "RepairFailures"
        dimensions  = local.function_dimensions
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

resource "aws_cloudwatch_metric_alarm" "no_new_partition" {
  count = var.no_partition_alarm_hours == null ? 0 : 1

  alarm_name          = "${var.name}-no-new-partition"
  alarm_description   = "No partition was created for ${coalesce(var.no_partition_alarm_hours, 0)} hours: the upstream feed may have stopped, or its objects are skipped (see ObjectsSkipped by Reason)."
  namespace           = var.metrics_namespace
  metric_name         = "PartitionsCreated"
  dimensions          = local.function_dimensions
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

# A repair that never ran is a failure too: the schedule or its permission is broken.
resource "aws_cloudwatch_metric_alarm" "repair_missing" {
  count = local.repairs ? 1 : 0

  alarm_name          = "${var.name}-repair-missing"
  alarm_description   = "No scheduled repair ran for a day: check the EventBridge rule ${var.name}-repair and the function's errors."
  namespace           = var.metrics_namespace
  metric_name         = "RepairRuns"
  dimensions          = local.function_dimensions
  statistic           = "Sum"
  period              = 86400
  evaluation_periods  = 1
  threshold           = 1
  comparison_operator = "LessThanThreshold"
  treat_missing_data  = "breaching"
  alarm_actions       = [aws_sns_topic.alarms.arn]
  ok_actions          = [aws_sns_topic.alarms.arn]
  tags                = var.tags
}

resource "aws_cloudwatch_dashboard" "this" {
  dashboard_name = var.name
  dashboard_body = jsonencode({
    widgets = [
      {
        type = "metric", x = 0, y = 0, width = 12, height = 6
        properties = {
          title = "Objects and partitions", region = local.region, stat = "Sum", period = 300
          metrics = [for m in ["ObjectsSeen", "PartitionsCreated", "PartitionsExisting", "ObjectsSkipped", "ObjectsFailed", "SchemaDrift"] :
          [var.metrics_namespace, m, "FunctionName", aws_lambda_function.this.function_name]]
        }
      },
      {
        type = "metric", x = 12, y = 0, width = 12, height = 6
        properties = {
          title = "Glue requests and throttles", region = local.region, stat = "Sum", period = 300
          metrics = [for m in ["GlueRequests", "GlueThrottles"] :
          [var.metrics_namespace, m, "FunctionName", aws_lambda_function.this.function_name]]
        }
      },
      {
        type = "metric", x = 0, y = 6, width = 12, height = 6
        properties = {
          title = "Skipped objects by reason", region = local.region, stat = "Sum", period = 300
          metrics = [for r in ["outside_tables", "folder_marker", "hidden_segment", "incomplete_path", "not_partition_path", "not_template_path", "invalid_value", "ignored_event", "removal_ignored", "partition_not_empty", "not_registered", "registered_elsewhere", "location_not_s3"] :
          [var.metrics_namespace, "ObjectsSkipped", "Reason", r]]
        }
      },
      {
        type = "metric", x = 12, y = 6, width = 12, height = 6
        properties = {
          title = "Handler duration (ms)", region = local.region, period = 300
          metrics = [
            [var.metrics_namespace, "HandlerDuration", "FunctionName", aws_lambda_function.this.function_name, { stat = "p50" }],
            ["...", { stat = "p99" }],
            ["AWS/Lambda", "Duration", "FunctionName", aws_lambda_function.this.function_name, { stat = "p99" }],
          ]
        }
      },
      {
        type = "metric", x = 0, y = 12, width = 12, height = 6
        properties = {
          title = "Lambda errors and throttles", region = local.region, stat = "Sum", period = 300
          metrics = [
            ["AWS/Lambda", "Errors", "FunctionName", aws_lambda_function.this.function_name],
            [".", "Throttles", ".", "."],
            [".", "Invocations", ".", "."],
          ]
        }
      },
      {
        type = "metric", x = 12, y = 12, width = 12, height = 6
        properties = {
          title   = "Dead-letter queue depth", region = local.region, stat = "Maximum", period = 300
          metrics = [["AWS/SQS", "ApproximateNumberOfMessagesVisible", "QueueName", aws_sqs_queue.dlq.name]]
        }
      },
    ]
  })
}
