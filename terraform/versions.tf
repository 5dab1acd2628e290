terraform {
  # 1.5: strcontains() and startswith() in the variables' validation.
  required_version = ">= 1.5.0"

  required_providers {
    aws = {
      source = "hashicorp/aws"
      # 6.0 renamed data.aws_region's `name` (which this module reads) to `region`: within
      # 5.x the module plans without a deprecation warning.
      version = ">= 5.30, < 6.0"
    }
  }
}
