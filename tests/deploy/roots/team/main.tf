# A team's deployment on an existing bucket that already notifies another team. The
# deployment test applies this root twice, as team-a and team-b, each in its own copy with its
# own state, as two teams would have: each serves its own tables through EventBridge, its own
# rules matching its tables' prefixes, and neither writes the bucket's notification
# configuration (its owner turned EventBridge delivery on).

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

variable "name" {
  description = "The deployment's name."
  type        = string
}

variable "tables" {
  description = "The tables this team serves."
  type        = list(string)
}

module "registrar" {
  source = "../../terraform"

  name       = var.name
  lambda_zip = "${path.module}/../../dist/bootstrap.zip"
  tables     = var.tables
}

output "registrar" {
  value = module.registrar
}
