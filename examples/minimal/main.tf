# The smallest deployment: one existing Glue table, events through EventBridge.
#
# EventBridge delivery is the one way many consumers share a bucket, each with its own rule:
# nothing here writes the bucket's notification configuration. Turn EventBridge on where that
# configuration is managed, with one line (`eventbridge = true` in its
# aws_s3_bucket_notification, or the console's "Send notifications to Amazon EventBridge").
#
#   make package                  # in the repository: dist/bootstrap.zip, arm64
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

module "registrar" {
  source = "../../terraform"

  lambda_zip = "${path.module}/../../dist/bootstrap.zip"
  tables     = ["analytics.clickstream"]
}

output "function_alias_arn" {
  value = module.registrar.function_alias_arn
}

output "tables" {
  value = module.registrar.tables
}

output "function_name" {
  value = module.registrar.function_name
}

output "event_rules" {
  value = module.registrar.event_rules
}

output "events_queue_url" {
  value = module.registrar.events_queue_url
}

output "bucket_notifications_to_add" {
  description = "Buckets whose EventBridge delivery must be turned on where their notifications are managed."
  value       = module.registrar.bucket_notifications_to_add
}
