# The provider of the test root module: the bundled module (terraform/*.tf, copied beside
# this file by run.py) against the local AWS emulator on loopback. Never a real endpoint.

variable "emulator_endpoint" {
  description = "moto's server, e.g. http://127.0.0.1:5000."
  type        = string

  validation {
    condition     = can(regex("^http://127\\.0\\.0\\.1:[0-9]+$", var.emulator_endpoint))
    error_message = "The emulator listens on 127.0.0.1 only."
  }
}

provider "aws" {
  region                      = "us-east-1"
  access_key                  = "testing"
  secret_key                  = "testing"
  skip_credentials_validation = true
  skip_metadata_api_check     = true
  skip_region_validation      = true
  s3_use_path_style           = true

  endpoints {
    athena        = var.emulator_endpoint
    cloudwatch    = var.emulator_endpoint
    events        = var.emulator_endpoint
    glue          = var.emulator_endpoint
    iam           = var.emulator_endpoint
    kms           = var.emulator_endpoint
    lakeformation = var.emulator_endpoint
    lambda        = var.emulator_endpoint
    logs          = var.emulator_endpoint
    s3            = var.emulator_endpoint
    sns           = var.emulator_endpoint
    sqs           = var.emulator_endpoint
    sts           = var.emulator_endpoint
  }
}
