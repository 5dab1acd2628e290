################################################################################
# Alarms and dashboard: know within minutes that new data is not reaching the catalog
################################################################################

resource "aws_sns_topic" "alarms" {
  name              = "${var.name}-alarms"
  kms_master_key_id = "alias/aws/sns"
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
      description = "Events reached the dead-letter queue: their partitions may be missing. Fix the cause, then redrive the DLQ."
      namespace   = "AWS/SQS"
      metric      = "ApproximateNumberOfMessagesVisible"
      dimensions  = { QueueName = aws_sqs_queue.dlq.name }
    }
  }
}

resource "aws_cloudwatch_metric_alarm" "this" {
  for_each = local.alarms

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

resource "aws_cloudwatch_dashboard" "this" {
  dashboard_name = var.name
  dashboard_body = jsonencode({
    widgets = [
      {
        type = "metric", x = 0, y = 0, width = 12, height = 6
        properties = {
          title = "Objects and partitions", region = local.region, stat = "Sum", period = 300
          metrics = [for m in ["ObjectsSeen", "PartitionsCreated", "PartitionsExisting", "ObjectsSkipped", "ObjectsFailed"] :
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
          metrics = [for r in ["outside_tables", "folder_marker", "hidden_segment", "incomplete_path", "not_partition_path", "not_template_path", "invalid_value", "ignored_event", "removal_ignored"] :
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
