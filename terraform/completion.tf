################################################################################
# Partitions downstream can trust: the bus Partition Complete events go to, and the served
# tables' list when the environment cannot hold it
################################################################################

locals {
  completion_events   = var.completion_events || var.completion_bus_name != null
  completion_bus_name = local.completion_events ? coalesce(var.completion_bus_name, "${var.name}-completions") : ""
  completion_bus_arn = local.completion_events ? (
    startswith(local.completion_bus_name, "arn:") ? local.completion_bus_name :
    "arn:${local.partition}:events:${local.region}:${local.account}:event-bus/${local.completion_bus_name}"
  ) : null
  # What a consumer's rule matches: every completion, or narrowed to tables by `detail`.
  completion_event_pattern = {
    source        = ["glue-partition-registrar"]
    "detail-type" = ["Partition Complete"]
    detail        = { service = [var.name] }
  }
}

resource "aws_cloudwatch_event_bus" "completions" {
  count = var.completion_events && var.completion_bus_name == null ? 1 : 0

  name = "${var.name}-completions"
  tags = var.tags
}

resource "aws_s3_object" "tables_list" {
  count = local.tables_listed ? 1 : 0

  # checkov:skip=CKV_AWS_186:The list holds table names; the bucket encrypts at rest (SSE-S3).
  bucket       = local.checkpoint_bucket
  key          = local.tables_list_key
  content      = join("\n", sort(keys(local.tables)))
  content_type = "text/plain"
  tags         = var.tags
}
