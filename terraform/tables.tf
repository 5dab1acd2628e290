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
        keys     = [for k in coalesce(t.partition_keys, []) : { name = k.name, type = k.type }]
      }
    },
    {
      for key, d in local.defined : key => {
        database = d.database
        name     = d.name
        location = d.location
        template = d.location_template
        keys     = [for k in d.partition_keys : { name = k.name, type = k.type }]
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

# Partition indexes of served tables (partition_indexes). The Glue Developer Guide ("Working
# with partition indexes"): at most 3 indexes a table, on its partition keys, of type string,
# char, varchar, int, bigint, long, tinyint, smallint or date; the separate resource adds an
# index to a table without recreating it, as an inline one would. Once one exists, Glue
# refuses a partition whose indexed value fails its key's type or holds U+0000-U+0002: the
# registrar never sends such a partition, index or not (glue.rs, types.rs).
locals {
  index_types = ["string", "char", "varchar", "int", "bigint", "long", "tinyint", "smallint", "date"]
  served_indexes = merge([
    for table, indexes in var.partition_indexes : {
      for keys in indexes : "${table}:${join(",", keys)}" => { table = table, keys = keys }
    }
  ]...)
  # Each served table's partition keys by name => type (lower case, without its arguments).
  key_types = {
    for k, t in local.tables : k => { for key in t.keys : key.name => lower(trimspace(split("(", key.type)[0])) }
  }
  # What is wrong with each index, for the plan's messages.
  index_checks = {
    for id, i in local.served_indexes : id => {
      keys    = keys(try(local.key_types[i.table], {}))
      unknown = [for k in i.keys : k if !contains(keys(try(local.key_types[i.table], {})), k)]
      untyped = [
        for k in i.keys : format("%s (%s)", k, local.key_types[i.table][k])
        if contains(keys(try(local.key_types[i.table], {})), k) && !contains(local.index_types, try(local.key_types[i.table][k], "string"))
      ]
      count = length(var.partition_indexes[i.table]) + (length(try(var.table_definitions[i.table].partition_index_keys, [])) > 0 ? 1 : 0)
    }
  }
}

resource "aws_glue_partition_index" "served" {
  for_each = local.served_indexes

  catalog_id    = local.catalog_id
  database_name = contains(keys(local.created), each.value.table) ? aws_glue_catalog_table.defined[each.value.table].database_name : split(".", each.value.table)[0]
  table_name    = contains(keys(local.created), each.value.table) ? aws_glue_catalog_table.defined[each.value.table].name : split(".", each.value.table)[1]

  partition_index {
    index_name = substr("${split(".", each.value.table)[1]}_by_${join("_", each.value.keys)}", 0, 255)
    keys       = each.value.keys
  }

  lifecycle {
    precondition {
      condition     = contains(keys(local.tables), each.value.table) && !contains(keys(local.crawled), each.value.table)
      error_message = "partition_indexes names ${each.value.table}, which is not a served table (of tables or table_definitions; a crawler's table exists only once it has run: index it then)."
    }
    precondition {
      condition     = length(local.index_checks[each.key].unknown) == 0
      error_message = "The partition index ${join(", ", each.value.keys)} of ${each.value.table}: ${join(", ", local.index_checks[each.key].unknown)} is not a partition key of the table, whose keys are ${join(", ", local.index_checks[each.key].keys)}. An index is made of partition keys only."
    }
    precondition {
      condition     = length(local.index_checks[each.key].untyped) == 0
      error_message = "The partition index ${join(", ", each.value.keys)} of ${each.value.table} has a key of a type Glue does not index: ${join(", ", local.index_checks[each.key].untyped)}. Glue indexes string, char, varchar, int, bigint, long, tinyint, smallint and date keys."
    }
    precondition {
      condition     = local.index_checks[each.key].count <= 3
      error_message = "${each.value.table} would have ${local.index_checks[each.key].count} partition indexes (its partition_index_keys counted): Glue takes at most 3 a table."
    }
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
