output "bucket_name" {
  description = "The data bucket; upload objects under table_prefix to register their partitions."
  value       = local.bucket_name
}

output "table" {
  description = "The Glue table the function serves, as database.table."
  value       = "${var.database_name}.${var.table_name}"
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
  value       = aws_cloudwatch_log_group.lambda.name
}

output "events_queue_url" {
  description = "URL of the S3 event queue (trigger_mode = \"sqs\"), else null."
  value       = var.trigger_mode == "sqs" ? aws_sqs_queue.events[0].url : null
}

output "dead_letter_queue_url" {
  description = "URL of the dead-letter queue: events that could not be handled after retries."
  value       = aws_sqs_queue.dlq.url
}

output "alarm_topic_arn" {
  description = "SNS topic the alarms notify."
  value       = aws_sns_topic.alarms.arn
}

output "crawler_name" {
  description = "The one-time crawler (schema_source = \"crawler\"): run it once with `aws glue start-crawler --name <this>`."
  value       = var.schema_source == "crawler" ? aws_glue_crawler.this[0].name : null
}

output "athena_workgroup" {
  description = "Athena workgroup with its results location set."
  value       = aws_athena_workgroup.this.name
}

output "example_upload" {
  description = "Upload a file into a new partition."
  value       = "aws s3 cp part-0.${var.data_format} s3://${var.bucket_name}/${var.table_prefix}/${join("/", [for k in var.partition_keys : "${k.name}=<${k.type}>"])}/part-0.${var.data_format}"
}

output "example_query" {
  description = "A ready-to-run Athena query over the newest partitions."
  value       = "aws athena start-query-execution --work-group ${aws_athena_workgroup.this.name} --query-string 'SELECT * FROM \"${var.database_name}\".\"${var.table_name}\" ORDER BY ${join(", ", [for k in var.partition_keys : "\"${k.name}\" DESC"])} LIMIT 10'"
}
