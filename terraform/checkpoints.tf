################################################################################
# Where the repair keeps its checkpoints: a pass's cursors, what its walk found, the tables an
# execution repairs and what its map wrote. Step Functions carries at most 256 KiB from one
# state to the next; everything that grows with a table or with failures lives here and the
# state machine carries its name.
################################################################################

locals {
  checkpoint_bucket = var.checkpoint_bucket != null ? var.checkpoint_bucket : aws_s3_bucket.checkpoints[0].bucket
  checkpoint_prefix = "${var.name}/"
  checkpoint_uri    = "s3://${local.checkpoint_bucket}/${local.checkpoint_prefix}"
  checkpoint_arn    = "arn:${local.partition}:s3:::${local.checkpoint_bucket}"
  # Everything of one pass or one execution; the heads (what a pass could not register, the
  # pass an execution left open) stay, so that nothing is lost to expiry.
  checkpoint_runs = "${local.checkpoint_prefix}runs/"
}

resource "aws_s3_bucket" "checkpoints" {
  count = var.checkpoint_bucket == null ? 1 : 0

  # checkov:skip=CKV_AWS_18:Access logging needs a second bucket; the checkpoints hold table prefixes and partition values, read only by the repair.
  # checkov:skip=CKV_AWS_144:Checkpoints are rebuilt by the next repair; replicating them buys nothing.
  # checkov:skip=CKV_AWS_21:Writes are conditional on the version read (If-Match), which needs no object versioning; old versions would only cost storage.
  # checkov:skip=CKV_AWS_145:SSE-S3: the checkpoints hold table prefixes and partition values, no data, and a KMS key would need grants for the repair and Step Functions roles.
  # checkov:skip=CKV2_AWS_62:Nothing reacts to a checkpoint being written.
  # Named from the deployment, the account and the Region (unique, and known when planning:
  # the functions' environment names it).
  bucket        = substr(trimsuffix(lower("${var.name}-ckpt-${local.account}-${local.region}"), "-"), 0, 63)
  force_destroy = true
  tags          = var.tags
}

resource "aws_s3_bucket_public_access_block" "checkpoints" {
  count = var.checkpoint_bucket == null ? 1 : 0

  bucket                  = aws_s3_bucket.checkpoints[0].id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_ownership_controls" "checkpoints" {
  count = var.checkpoint_bucket == null ? 1 : 0

  bucket = aws_s3_bucket.checkpoints[0].id
  rule {
    object_ownership = "BucketOwnerEnforced"
  }
}

resource "aws_s3_bucket_server_side_encryption_configuration" "checkpoints" {
  count = var.checkpoint_bucket == null ? 1 : 0

  bucket = aws_s3_bucket.checkpoints[0].id

  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm = "AES256"
    }
  }
}

resource "aws_s3_bucket_lifecycle_configuration" "checkpoints" {
  count = var.checkpoint_bucket == null ? 1 : 0

  bucket = aws_s3_bucket.checkpoints[0].id

  rule {
    id     = "expire-runs"
    status = "Enabled"
    filter {
      prefix = local.checkpoint_runs
    }
    expiration {
      days = var.checkpoint_retention_days
    }
    abort_incomplete_multipart_upload {
      days_after_initiation = 1
    }
  }
}

data "aws_iam_policy_document" "checkpoints_tls_only" {
  count = var.checkpoint_bucket == null && var.require_tls ? 1 : 0

  statement {
    sid       = "DenyInsecureTransport"
    effect    = "Deny"
    actions   = ["s3:*"]
    resources = [aws_s3_bucket.checkpoints[0].arn, "${aws_s3_bucket.checkpoints[0].arn}/*"]

    principals {
      type        = "*"
      identifiers = ["*"]
    }

    condition {
      test     = "Bool"
      variable = "aws:SecureTransport"
      values   = ["false"]
    }
  }
}

resource "aws_s3_bucket_policy" "checkpoints" {
  count = var.checkpoint_bucket == null && var.require_tls ? 1 : 0

  bucket     = aws_s3_bucket.checkpoints[0].id
  policy     = data.aws_iam_policy_document.checkpoints_tls_only[0].json
  depends_on = [aws_s3_bucket_public_access_block.checkpoints]
}
