# A lake's deployment: several tables (some existing, some defined here), a bucket this
# module creates and owns (so S3 → SQS notifications are its to write), deletions, the
# nightly repair with pruning and schema updates, a Glue Data Catalog kept in a central
# account and governed by Lake Formation, SSE-KMS, and the alarms a team is paged by.
#
#   make package FEATURES=schema-drift
#   terraform init && terraform apply

terraform {
  required_version = ">= 1.5.0"
  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = ">= 5.26, < 7.0"
    }
  }
}

provider "aws" {
  region = "eu-west-1"
}

variable "central_catalog" {
  description = "Account id of the central Glue Data Catalog."
  type        = string
  default     = "111122223333"
}

resource "aws_kms_key" "data" {
  description         = "Encrypts the data lake's objects"
  enable_key_rotation = true
}

module "registrar" {
  source = "../../terraform"

  name       = "lake-registrar"
  lambda_zip = "${path.module}/../../dist/bootstrap.zip"

  create_bucket = true
  bucket_name   = "example-lake-raw"
  kms_key_arn   = aws_kms_key.data.arn

  # Existing tables, read from the catalog, and tables defined here.
  tables = ["analytics.clickstream", "analytics.orders"]
  table_definitions = {
    "raw.app_logs" = {
      prefix = "logs/app"
      columns = [
        { name = "level", type = "string" },
        { name = "message", type = "string" },
      ]
      partition_keys = [
        { name = "year", type = "int" },
        { name = "month", type = "int" },
        { name = "day", type = "int" },
      ]
      data_format       = "json"
      location_template = "s3://example-lake-raw/logs/app/$${year}/$${month}/$${day}"
    }
    "raw.events" = {
      prefix = "events"
      columns = [
        { name = "user_id", type = "string" },
        { name = "ts", type = "timestamp" },
      ]
      partition_keys       = [{ name = "dt", type = "date" }, { name = "hour", type = "int" }]
      partition_index_keys = ["dt"]
    }
  }
  create_databases = ["raw"]
  # Athena and Spark read a large table's partitions through an index; added to an existing
  # table without recreating it.
  partition_indexes = {
    "analytics.clickstream" = [["year", "month", "day"]]
  }

  trigger_mode                = "sqs"
  manage_bucket_notifications = true
  sqs_batch_size              = 500
  sqs_batching_window_seconds = 20
  delete_empty_partitions     = true
  schema_drift_detection      = true

  # Nightly, the last three days; weekly, everything.
  repair_schedule      = "cron(0 3 * * ? *)"
  repair_window_days   = 3
  repair_full_schedule = "cron(0 4 ? * SUN *)"
  repair_prune         = true
  repair_update_schema = true

  # Orders are written by a Spark job: registered when its _SUCCESS lands, never half
  # written. App logs stream in: complete fifteen minutes after each day ends. Pipelines start
  # on Partition Complete (completion_event_pattern) instead of polling.
  completion_events = true
  table_settings = {
    "analytics.orders" = { registration = "marker" }
    "raw.app_logs"     = { complete_after = "15m" }
  }

  catalog_id                 = var.central_catalog
  lake_formation_permissions = true

  alarm_email              = "data-oncall@example.com"
  no_partition_alarm_hours = 26
  freshness_alarm_seconds  = 120

  tags = { team = "data-platform" }
}

output "role_arns" {
  description = "Grant these in the central catalog's Glue resource policy..."
  value       = [module.registrar.role_arn, module.registrar.repair_role_arn]
}

output "glue_resource_arns" {
  description = "...on these resources..."
  value       = module.registrar.glue_resource_arns
}

output "function_actions" {
  description = "...for these actions (the event function's) ..."
  value       = module.registrar.function_actions
}

output "repair_actions" {
  description = "...and these (the repair's)."
  value       = module.registrar.repair_actions
}

output "dead_letter_queue_arn" {
  value = module.registrar.dead_letter_queue_arn
}

output "state_machine_arn" {
  value = module.registrar.state_machine_arn
}

output "start_backfill_command" {
  value = module.registrar.start_backfill_command
}
