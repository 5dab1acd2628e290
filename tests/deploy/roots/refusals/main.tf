# Configurations that cannot work, each planned by the deployment test, which expects the
# plan to stop with a message saying what to change.

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
  type    = list(string)
  default = []
}

variable "table_definitions" {
  type    = any
  default = {}
}

variable "bucket_name" {
  type    = string
  default = null
}

variable "trigger_mode" {
  type    = string
  default = "eventbridge"
}

variable "architecture" {
  type    = string
  default = "arm64"
}

variable "schema_drift_detection" {
  type    = bool
  default = false
}

variable "repair_schedule" {
  type    = string
  default = null
}

variable "repair_interval_hours" {
  type    = number
  default = 24
}

variable "delete_empty_partitions" {
  type    = bool
  default = false
}

variable "iam_scope" {
  type    = string
  default = "table"
}

variable "managed_policies_per_role" {
  type    = number
  default = 10
}

variable "reserved_concurrency" {
  type    = number
  default = -1
}

variable "partition_indexes" {
  type    = map(list(list(string)))
  default = {}
}

module "registrar" {
  source = "../../terraform"

  name                   = "refused"
  lambda_zip             = "${path.module}/../../dist/bootstrap.zip"
  tables                 = var.tables
  table_definitions      = var.table_definitions
  bucket_name            = var.bucket_name
  trigger_mode           = var.trigger_mode
  architecture           = var.architecture
  schema_drift_detection = var.schema_drift_detection
  repair_schedule        = var.repair_schedule
  repair_interval_hours  = var.repair_interval_hours

  delete_empty_partitions   = var.delete_empty_partitions
  iam_scope                 = var.iam_scope
  managed_policies_per_role = var.managed_policies_per_role
  reserved_concurrency      = var.reserved_concurrency
  partition_indexes         = var.partition_indexes
}
