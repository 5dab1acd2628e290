# Applied and used end to end on the emulator: two tables this module defines in a bucket it
# creates, S3 → SQS notifications (the module owns the bucket's configuration), deletions,
# the nightly repair with pruning. The emulator is reached over http://, which the TLS-only
# bucket policy would deny.

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

module "registrar" {
  source = "../../terraform"

  name          = "deployed"
  lambda_zip    = "${path.module}/../../dist/bootstrap.zip"
  create_bucket = true
  bucket_name   = "deployed-data-lake"
  require_tls   = false

  create_databases = ["analytics"]
  table_definitions = {
    "analytics.clickstream" = {
      prefix         = "clickstream"
      columns        = [{ name = "user_id", type = "string" }]
      partition_keys = [{ name = "year", type = "string" }, { name = "month", type = "string" }, { name = "day", type = "string" }]
      data_format    = "json"
    }
    "analytics.logs" = {
      prefix            = "logs"
      columns           = [{ name = "message", type = "string" }]
      partition_keys    = [{ name = "year", type = "int" }, { name = "month", type = "int" }]
      data_format       = "json"
      location_template = "s3://deployed-data-lake/logs/$${year}/$${month}"
    }
  }

  partition_indexes = {
    "analytics.clickstream" = [["year", "month"]]
  }

  trigger_mode                = "sqs"
  sqs_batch_size              = 10
  sqs_batching_window_seconds = 0
  sqs_maximum_concurrency     = 3
  delete_empty_partitions     = true
  repair_schedule             = "cron(0 3 * * ? *)"
  repair_prune                = true
  completion_events           = true
}

output "registrar" {
  value = module.registrar
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
