output "bucket_name" {
  description = "The data bucket; upload objects under table_prefix to register their partitions."
  value       = local.bucket_name
}

output "table" {
  description = "The Glue table the function serves, as database.table."
  value       = local.table
}

output "table_location" {
  description = "S3 location of the table's data."
  value       = local.location
}

output "function_name" {
  description = "Name of the registrar Lambda function."
  value       = aws_lambda_function.this.function_name
}

output "log_group" {
  description = "CloudWatch log group of the function (JSON lines, metrics in EMF)."
  value       = "/aws/lambda/${var.name}"
}

output "events_queue_url" {
  description = "URL of the S3 event queue (trigger_mode = \"sqs\"), else null."
  value       = var.trigger_mode == "sqs" ? aws_sqs_queue.events[0].url : null
}

output "dead_letter_queue_url" {
  description = "URL of the dead-letter queue: SQS messages that failed every delivery (trigger_mode \"sqs\"), or failure records of asynchronous invocations."
  value       = aws_sqs_queue.dlq.url
}

output "alarm_topic_arn" {
  description = "SNS topic the alarms notify."
  value       = aws_sns_topic.alarms.arn
}

output "crawler_name" {
  description = "The one-time crawler (schema_source = \"crawler\"), else null."
  value       = var.schema_source == "crawler" ? aws_glue_crawler.this[0].name : null
}

output "crawler_next_step" {
  description = "What to do before events can be registered, with schema_source = \"crawler\"."
  value       = var.schema_source == "crawler" ? "Run the crawler once, now: aws glue start-crawler --name ${aws_glue_crawler.this[0].name}. Until it has made ${local.table}, every event fails with 'table ${local.table} does not exist' and waits in the dead-letter queue; afterwards redrive it (or run a sync)." : null
}

output "repair_rule" {
  description = "The EventBridge rule of the scheduled repair, else null."
  value       = local.repairs ? aws_cloudwatch_event_rule.repair[0].name : null
}

output "athena_workgroup" {
  description = "Athena workgroup with its results location set (create_athena_workgroup), else null."
  value       = var.create_athena_workgroup ? aws_athena_workgroup.this[0].name : null
}

output "function_actions" {
  description = "The Glue and S3 actions the function's role allows in this configuration (exactly those it calls)."
  value = concat(
    local.glue_actions,
    local.lists_objects ? ["s3:ListBucket"] : [],
    var.schema_drift_detection ? ["s3:GetObject"] : [],
  )
}

output "example_upload" {
  description = "Upload a file into a new partition."
  value = var.location_template == null ? (
    "aws s3 cp part-0.${var.data_format} ${local.location}${join("/", [for k in var.partition_keys : "${k.name}=<${k.type}>"])}/part-0.${var.data_format}"
    ) : (
    "aws s3 cp part-0.${var.data_format} ${replace(replace(var.location_template, "$${", "<"), "}", ">")}/part-0.${var.data_format}"
  )
}

output "example_query" {
  description = "A ready-to-run Athena query over the newest partitions."
  value       = "aws athena start-query-execution ${var.create_athena_workgroup ? "--work-group ${aws_athena_workgroup.this[0].name}" : "--work-group <your workgroup>"} --query-string 'SELECT * FROM \"${var.database_name}\".\"${var.table_name}\" ORDER BY ${join(", ", [for k in var.partition_keys : "\"${k.name}\" DESC"])} LIMIT 10'"
}
