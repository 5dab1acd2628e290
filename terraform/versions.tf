terraform {
  # 1.5: strcontains() and startswith() in the variables' validation.
  required_version = ">= 1.5.0"

  required_providers {
    aws = {
      source = "hashicorp/aws"
      # 5.26.0 is the first 5.x whose aws_lambda_function accepts runtime "provided.al2023"
      # (hashicorp/terraform-provider-aws#34360); every other argument the module sets is
      # older (scaling_config 4.51.0, data source aws_glue_catalog_table 4.46.0). 6.x: the
      # module reads and sets nothing the 6.0 upgrade guide removes, renames or deprecates
      # (tests/it/terraform.rs checks it). See README.md, "Provider versions".
      version = ">= 5.26, < 7.0"
    }
  }
}
