# Planned, not applied, by the deployment test: a lake of hundreds of existing tables in a
# few databases and buckets, EventBridge delivery with a suffix filter, deletions. The test
# checks every IAM policy of the plan against IAM's size limits and every rule against
# EventBridge's quotas.

terraform {
  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = ">= 5.26, < 7.0"
    }
  }
}

provider "aws" {
  region = "us-east-1"
}

variable "tables" {
  description = "The lake's tables, as database.table."
  type        = list(string)
}

module "registrar" {
  source = "../../terraform"

  name                    = "lake"
  lambda_zip              = "${path.module}/../../dist/bootstrap.zip"
  tables                  = var.tables
  filter_suffix           = ".parquet"
  delete_empty_partitions = true
  repair_schedule         = "cron(0 3 * * ? *)"
  repair_window_days      = 3
  repair_full_schedule    = "cron(0 4 ? * SUN *)"
  repair_interval_hours   = 24
  completion_events       = true
}

output "event_rules" {
  value = module.registrar.event_rules
}

output "tables" {
  value = module.registrar.tables
}

# Known at plan time, for the test's check of the plan.
output "function_actions" {
  value = module.registrar.function_actions
}

output "repair_actions" {
  value = module.registrar.repair_actions
}

output "glue_resource_arns" {
  value = module.registrar.glue_resource_arns
}
