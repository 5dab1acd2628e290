# One of two deployments on one existing bucket that already notifies another team (the other
# is ../team_a, with its own state, as two teams would have): each serves its own tables
# through EventBridge, one rule per table, and neither writes the bucket's notification
# configuration (its owner turned EventBridge delivery on).

terraform {
  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = ">= 5.30, < 6.0"
    }
  }
}

provider "aws" {
  region = "us-east-1"
}

module "registrar" {
  source = "../../terraform"

  name       = "team-b"
  lambda_zip = "${path.module}/../../dist/bootstrap.zip"
  tables     = ["lake.b1", "lake.b2"]
}

output "registrar" {
  value = module.registrar
}
