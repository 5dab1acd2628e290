output "tables" {
  description = "The served tables, database.table => their s3:// location, as the function reads them."
  value       = { for k, t in local.tables : k => "s3://${t.bucket}/${t.prefix}" }
}

output "bucket_arns" {
  description = "ARNs of the buckets holding the served tables."
  value       = local.bucket_arns
}

output "bucket_name" {
  description = "The bucket the module created (create_bucket), else null."
  value       = var.create_bucket ? aws_s3_bucket.data[0].id : null
}

output "function_name" {
  description = "Name of the event function."
  value       = aws_lambda_function.this.function_name
}

output "function_arn" {
  description = "ARN of the event function."
  value       = aws_lambda_function.this.arn
}

output "function_alias_arn" {
  description = "ARN of the `live` alias every trigger invokes: roll back by pointing it at an earlier version."
  value       = aws_lambda_alias.live.arn
}

output "function_version" {
  description = "The version the `live` alias points at."
  value       = aws_lambda_alias.live.function_version
}

output "role_arn" {
  description = "ARN of the event function's role: a central catalog's Glue resource policy (and Lake Formation) must grant it."
  value       = aws_iam_role.function.arn
}

output "repair_function_arn" {
  description = "ARN of the repair function."
  value       = aws_lambda_function.repair.arn
}

output "repair_role_arn" {
  description = "ARN of the repair function's role: a central catalog must grant it too."
  value       = aws_iam_role.repair.arn
}

output "events_queue_arn" {
  description = "ARN of the queue events reach the function through (trigger_mode sqs and eventbridge), else null."
  value       = local.uses_sqs ? aws_sqs_queue.events[0].arn : null
}

output "events_queue_url" {
  description = "URL of that queue, else null."
  value       = local.uses_sqs ? aws_sqs_queue.events[0].url : null
}

output "dead_letter_queue_arn" {
  description = "ARN of the dead-letter queue: events that failed every delivery, or failure records of asynchronous invocations (an alarm's runbook asks for it)."
  value       = aws_sqs_queue.dlq.arn
}

output "dead_letter_queue_url" {
  description = "URL of the dead-letter queue."
  value       = aws_sqs_queue.dlq.url
}

output "event_rules" {
  description = "The EventBridge rule that takes each table's objects (trigger_mode eventbridge): database.table => rule name. A rule takes many tables of one bucket."
  value       = { for k, r in local.rule_of_table : k => aws_cloudwatch_event_rule.objects[r].name }
}

output "log_group_arns" {
  description = "ARNs of the functions' log groups (JSON lines, metrics in EMF) and the state machine's."
  value = {
    function      = "arn:${local.partition}:logs:${local.region}:${local.account}:log-group:/aws/lambda/${var.name}"
    repair        = "arn:${local.partition}:logs:${local.region}:${local.account}:log-group:/aws/lambda/${var.name}-repair"
    state_machine = aws_cloudwatch_log_group.states.arn
  }
}

output "state_machine_arn" {
  description = "ARN of the repair state machine: start an execution for a backfill on demand (see start_backfill_command)."
  value       = aws_sfn_state_machine.repair.arn
}

output "start_backfill_command" {
  description = "Start a backfill of one table (replace the table), as `make start-backfill` does."
  value       = "aws stepfunctions start-execution --state-machine-arn ${aws_sfn_state_machine.repair.arn} --input '{\"tables\": [\"${try(sort(keys(local.tables))[0], "db.table")}\"], \"prune\": false, \"update_schema\": false, \"window_days\": null}'"
}

output "repair_rule" {
  description = "The EventBridge rule of the scheduled repair, else null."
  value       = local.repairs ? aws_cloudwatch_event_rule.repair[0].name : null
}

output "repair_input" {
  description = "What the schedule starts the state machine with: every served table, by reference (the plan expands \"served\"), so it stays small whatever the number of tables."
  value       = local.repair_input
}

output "repair_full_rule" {
  description = "The EventBridge rule of the full repair (repair_full_schedule), else null."
  value       = var.repair_full_schedule != null ? aws_cloudwatch_event_rule.repair_full[0].name : null
}

output "checkpoint_uri" {
  description = "Where the repair keeps its checkpoints (CHECKPOINT_URI of the repair function): heads/ per table (the open pass, what the last pass could not register), runs/ per pass and execution (expired after checkpoint_retention_days)."
  value       = local.checkpoint_uri
}

output "checkpoint_bucket" {
  description = "The checkpoints' bucket (created by the module unless checkpoint_bucket was given)."
  value       = local.checkpoint_bucket
}

output "alarm_topic_arn" {
  description = "SNS topic the alarms notify."
  value       = aws_sns_topic.alarms.arn
}

output "crawler_next_steps" {
  description = "What to run before the tables a crawler makes can be served (table definitions with schema_source = \"crawler\")."
  value       = [for k, c in aws_glue_crawler.this : "Run the crawler once: aws glue start-crawler --name ${c.name}. Until it has made ${k}, its objects fail and wait in the dead-letter queue; then redrive it (or start a repair)."]
}

output "bucket_notifications_to_add" {
  description = "trigger_mode eventbridge on buckets whose notifications this module does not own: turn EventBridge delivery on where they are managed (`eventbridge = true` in that aws_s3_bucket_notification)."
  value       = var.trigger_mode == "eventbridge" ? [for b in local.buckets : b if !local.owns[b]] : []
}

output "athena_workgroup" {
  description = "Athena workgroup with its results location set (create_athena_workgroup), else null."
  value       = var.create_athena_workgroup ? aws_athena_workgroup.this[0].name : null
}

output "glue_resource_arns" {
  description = "The Glue resources both roles are granted on: the catalog, the served tables and their databases. A central catalog's Glue resource policy grants the roles these."
  value       = local.glue_resources
}

output "function_actions" {
  description = "The Glue and S3 actions the event function's role allows in this configuration (exactly those it calls)."
  value = concat(
    local.event_glue_actions,
    local.event_lists_objects ? ["s3:ListBucket"] : [],
    var.schema_drift_detection ? ["s3:GetObject"] : [],
  )
}

output "repair_actions" {
  description = "The Glue and S3 actions the repair function's role allows (exactly those it calls); its S3 reads and writes are of its checkpoint prefix only."
  value       = concat(distinct(concat(local.repair_glue_actions, length(var.extra_databases) > 0 ? ["glue:GetTables"] : [])), ["s3:ListBucket", "s3:GetObject", "s3:PutObject"])
}

output "completion_bus_arn" {
  description = "The EventBridge bus Partition Complete events go to (completion_events), else null."
  value       = local.completion_bus_arn
}

output "completion_event_pattern" {
  description = "The event pattern a consumer's rule on completion_bus_arn matches this deployment's Partition Complete events with (add detail.database, detail.table to narrow it)."
  value       = local.completion_events ? jsonencode(local.completion_event_pattern) : null
}
