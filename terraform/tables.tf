################################################################################
# The served tables: existing ones read from the catalog, defined ones created here
################################################################################

# Read at plan time: a table's location, layout and keys are the catalog's, typed nowhere else.
data "aws_glue_catalog_table" "served" {
  for_each = toset(var.tables)

  catalog_id    = local.catalog_id
  database_name = split(".", each.key)[0]
  name          = split(".", each.key)[1]
}

locals {
  defined = {
    for key, d in var.table_definitions : key => merge(d, {
      database = split(".", key)[0]
      name     = split(".", key)[1]
      bucket   = coalesce(d.bucket, var.bucket_name, "BUCKET-MISSING")
      location = "s3://${coalesce(d.bucket, var.bucket_name, "BUCKET-MISSING")}/${d.prefix == "" ? "" : "${d.prefix}/"}"
    })
  }

  # Every served table by database.table: where its objects are, and its layout's template.
  served = merge(
    {
      for key, t in data.aws_glue_catalog_table.served : key => {
        database = t.database_name
        name     = t.name
        location = try(t.storage_descriptor[0].location, "")
        template = lookup(coalesce(t.parameters, {}), "storage.location.template", null)
      }
    },
    {
      for key, d in local.defined : key => {
        database = d.database
        name     = d.name
        location = d.location
        template = d.location_template
      }
    },
  )

  # s3://bucket/prefix → bucket and key prefix (empty, or ending in /), as the function reads it.
  tables = {
    for key, t in local.served : key => merge(t, {
      bucket = try(regex("^s3[an]?://([^/]+)", t.location)[0], "")
      prefix = try(trimsuffix(regex("^s3[an]?://[^/]+/(.*)$", t.location)[0], "/"), "") == "" ? "" : "${trimsuffix(regex("^s3[an]?://[^/]+/(.*)$", t.location)[0], "/")}/"
    })
  }

  buckets = toset([for t in local.tables : t.bucket])

  databases = distinct(concat(
    [for t in local.tables : t.database],
    var.create_databases,
    var.extra_databases,
  ))

  crawled = { for key, d in local.defined : key => d if d.schema_source == "crawler" }
  created = { for key, d in local.defined : key => d if d.schema_source == "terraform" }

  formats = {
    parquet = {
      input  = "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat"
      output = "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat"
      serde  = "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe"
    }
    json = {
      input  = "org.apache.hadoop.mapred.TextInputFormat"
      output = "org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat"
      serde  = "org.openx.data.jsonserde.JsonSerDe"
    }
    # Without field.delim LazySimpleSerDe splits on \001, and every row lands in the first
    # column. Partitions copy these parameters.
    csv = {
      input  = "org.apache.hadoop.mapred.TextInputFormat"
      output = "org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat"
      serde  = "org.apache.hadoop.hive.serde2.lazy.LazySimpleSerDe"
    }
  }
}

resource "aws_glue_catalog_database" "this" {
  for_each = toset(var.create_databases)

  catalog_id = local.catalog_id
  name       = each.key
}

resource "aws_glue_catalog_table" "defined" {
  for_each = local.created

  catalog_id    = local.catalog_id
  name          = each.value.name
  database_name = each.value.database
  table_type    = "EXTERNAL_TABLE"

  parameters = merge(
    { classification = each.value.data_format, EXTERNAL = "TRUE" },
    each.value.location_template == null ? {} : { "storage.location.template" = each.value.location_template },
    each.value.data_format == "csv" && each.value.csv_header ? { "skip.header.line.count" = "1" } : {},
  )

  storage_descriptor {
    location      = each.value.location
    input_format  = local.formats[each.value.data_format].input
    output_format = local.formats[each.value.data_format].output

    ser_de_info {
      serialization_library = local.formats[each.value.data_format].serde
      parameters = each.value.data_format == "csv" ? {
        "field.delim"          = each.value.csv_delimiter
        "serialization.format" = each.value.csv_delimiter
      } : each.value.data_format == "parquet" ? { "serialization.format" = "1" } : {}
    }

    dynamic "columns" {
      for_each = each.value.columns
      content {
        name = columns.value.name
        type = columns.value.type
      }
    }
  }

  dynamic "partition_keys" {
    for_each = each.value.partition_keys
    content {
      name = partition_keys.value.name
      type = partition_keys.value.type
    }
  }

  depends_on = [aws_glue_catalog_database.this]

  lifecycle {
    precondition {
      condition     = each.value.location_template == null ? true : startswith(each.value.location_template, each.value.location)
      error_message = "The location_template of ${each.key} lies outside its location ${each.value.location}: the template must start with it, or its objects would never reach the function (its delivery filter is the table's prefix)."
    }
    precondition {
      condition     = each.value.bucket != "BUCKET-MISSING"
      error_message = "Table definition ${each.key} names no bucket: set its bucket, or bucket_name."
    }
  }
}

# Athena plans a query over many partitions by reading the index instead of listing them.
resource "aws_glue_partition_index" "this" {
  for_each = { for key, d in local.created : key => d if length(d.partition_index_keys) > 0 }

  catalog_id    = local.catalog_id
  database_name = aws_glue_catalog_table.defined[each.key].database_name
  table_name    = aws_glue_catalog_table.defined[each.key].name

  partition_index {
    index_name = "${each.value.name}_by_${join("_", each.value.partition_index_keys)}"
    keys       = each.value.partition_index_keys
  }
}

################################################################################
# A crawler, without schedule, to run once for each table so defined
################################################################################

data "aws_iam_policy_document" "crawler_assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["glue.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "crawler" {
  count = length(local.crawled) > 0 ? 1 : 0

  name               = "${var.name}-crawler"
  assume_role_policy = data.aws_iam_policy_document.crawler_assume.json
  tags               = var.tags
}

# A scoped-down AWSGlueServiceRole: the catalog calls a crawler makes, on its tables only,
# its own logs, and reading the tables' data. The grants that grow with the tables are
# managed policies (policies.tf); the logs and the key inline.
locals {
  crawler_statements = length(local.crawled) == 0 ? [] : [
    {
      sid = "CrawlerCatalog"
      actions = [
        "glue:GetDatabase", "glue:GetTable", "glue:GetTables", "glue:CreateTable", "glue:UpdateTable",
        "glue:GetPartition", "glue:GetPartitions", "glue:BatchGetPartition", "glue:CreatePartition",
        "glue:BatchCreatePartition", "glue:UpdatePartition", "glue:BatchUpdatePartition",
      ]
      resources = concat(
        [local.catalog_arn],
        distinct([for _, d in local.crawled : "${local.glue_arn}:database/${d.database}"]),
        [for _, d in local.crawled : "${local.glue_arn}:table/${d.database}/${d.name}"],
      )
    },
    {
      sid       = "ReadTableData"
      actions   = ["s3:GetObject"]
      resources = [for _, d in local.crawled : "arn:${local.partition}:s3:::${d.bucket}/${d.prefix == "" ? "" : "${d.prefix}/"}*"]
    },
    {
      sid       = "ListTableData"
      actions   = ["s3:ListBucket"]
      resources = distinct([for _, d in local.crawled : "arn:${local.partition}:s3:::${d.bucket}"])
    },
  ]
}

data "aws_iam_policy_document" "crawler" {
  statement {
    sid       = "CrawlerLogs"
    actions   = ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["arn:${local.partition}:logs:${local.region}:${local.account}:log-group:/aws-glue/crawlers:*"]
  }
  # An SSE-KMS bucket's objects are unreadable without their key.
  dynamic "statement" {
    for_each = var.kms_key_arn == null ? [] : [var.kms_key_arn]
    content {
      sid       = "DecryptTableData"
      actions   = ["kms:Decrypt"]
      resources = [statement.value]
    }
  }
}

resource "aws_iam_role_policy" "crawler" {
  count = length(local.crawled) > 0 ? 1 : 0

  name   = "crawl-tables"
  role   = aws_iam_role.crawler[0].id
  policy = data.aws_iam_policy_document.crawler.json

  # Shrunk only once the managed policies that take over its grants are attached.
  depends_on = [aws_iam_role_policy_attachment.scoped]
}

# Runs once, by hand (`aws glue start-crawler --name ...`): no schedule. Afterwards the
# registrar keeps partitions current and the crawler is never needed again. Until it has run,
# the table does not exist: its objects fail and wait in the dead-letter queue (see the
# crawler_next_steps output).
resource "aws_glue_crawler" "this" {
  # checkov:skip=CKV_AWS_195:The crawler only reads the data and writes catalog metadata: it has no output or job bookmarks for a security configuration to encrypt.
  for_each = local.crawled

  name          = "${var.name}-${each.value.database}-${each.value.name}"
  database_name = each.value.database
  role          = aws_iam_role.crawler[0].arn

  s3_target {
    path       = each.value.location
    exclusions = ["**/_*", "**/.*"]
  }

  schema_change_policy {
    update_behavior = "LOG"
    delete_behavior = "LOG"
  }

  recrawl_policy {
    recrawl_behavior = "CRAWL_EVERYTHING"
  }

  configuration = jsonencode({
    Version  = 1.0
    Grouping = { TableGroupingPolicy = "CombineCompatibleSchemas" }
  })

  tags       = var.tags
  depends_on = [aws_glue_catalog_database.this]

  lifecycle {
    precondition {
      condition     = each.value.prefix != "" && reverse(split("/", each.value.prefix))[0] == each.value.name
      error_message = "A crawler names its table after the last folder of its path: table definition ${each.key} with schema_source = \"crawler\" needs a prefix ending in /${each.value.name}, so that the function serves the table the crawler makes."
    }
  }
}
