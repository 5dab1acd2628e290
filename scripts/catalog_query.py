"""Query a Glue table as Athena would, on the local emulator.

Athena's semantics for a partitioned table are simple: its rows are the rows of the files
under the locations of its *registered* partitions, each with the partition values as
columns. A file in a directory the catalog does not list is invisible, and so are files whose
name starts with `_` or `.` (markers, staging output). This reads the table and its
partitions from Glue, lists each partition's location in S3, and has DuckDB read exactly those
files from moto's S3 over loopback (the httpfs extension comes from PyPI's duckdb-ext-httpfs,
so nothing is downloaded at run time).

What it proves: what the catalog says is queryable with the data's own columns and the
partition values, as an engine that trusts the catalog would see it. What it does not: Athena
itself (its SQL dialect, its SerDe quirks) is not emulated.

    q = CatalogQuery("http://127.0.0.1:5000")
    q.register("analytics", "clickstream")          # a view named clickstream
    q.rows("SELECT day, count(*) FROM clickstream GROUP BY day ORDER BY day")
"""

import glob
import os
import tempfile

import boto3
import duckdb

REGION = "us-east-1"

HIVE_TO_DUCKDB = {
    "string": "VARCHAR", "varchar": "VARCHAR", "char": "VARCHAR", "tinyint": "TINYINT",
    "smallint": "SMALLINT", "int": "INTEGER", "integer": "INTEGER", "bigint": "BIGINT",
    "float": "FLOAT", "double": "DOUBLE", "boolean": "BOOLEAN", "date": "DATE",
    "timestamp": "TIMESTAMP", "binary": "BLOB",
}


def duckdb_type(hive_type):
    t = hive_type.strip().lower()
    if t.startswith("decimal"):
        return t.upper()
    return HIVE_TO_DUCKDB.get(t.split("(")[0], "VARCHAR")


def quote(text):
    return "'" + text.replace("'", "''") + "'"


def ident(name):
    return '"' + name.replace('"', '""') + '"'


class CatalogQuery:
    def __init__(self, endpoint, region=REGION):
        kw = dict(endpoint_url=endpoint, region_name=region, aws_access_key_id="testing",
                  aws_secret_access_key="testing")
        self.glue = boto3.client("glue", **kw)
        self.s3 = boto3.client("s3", **kw)
        self.db = duckdb.connect()
        self.db.execute(f"LOAD {quote(httpfs_extension())}")
        host = endpoint.split("://", 1)[1]
        self.db.execute(
            f"CREATE SECRET emulator (TYPE s3, KEY_ID 'testing', SECRET 'testing', REGION {quote(region)}, "
            f"ENDPOINT {quote(host)}, URL_STYLE 'path', USE_SSL false)"
        )

    def partitions(self, database, table):
        """(values, location) of every registered partition."""
        out = []
        for page in self.glue.get_paginator("get_partitions").paginate(DatabaseName=database, TableName=table):
            out += [(p["Values"], p["StorageDescriptor"]["Location"]) for p in page["Partitions"]]
        return sorted(out)

    def files(self, location):
        """The files Athena reads at a location: directly under it, not hidden."""
        bucket, prefix = location.split("://", 1)[1].split("/", 1)
        keys = []
        for page in self.s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix, Delimiter="/"):
            for obj in page.get("Contents", []):
                name = obj["Key"][len(prefix):]
                if name and not name.startswith(("_", ".")) and obj["Size"] > 0:
                    keys.append(f"s3://{bucket}/{obj['Key']}")
        return keys

    def register(self, database, table, view=None):
        """A view over the table's registered partitions, as Athena would read it."""
        t = self.glue.get_table(DatabaseName=database, Name=table)["Table"]
        sd = t["StorageDescriptor"]
        columns = [(c["Name"], duckdb_type(c["Type"])) for c in sd["Columns"]]
        keys = [(k["Name"], duckdb_type(k["Type"])) for k in t["PartitionKeys"]]
        reader = self._reader(sd, t.get("Parameters", {}), columns)
        selects = []
        for values, location in self.partitions(database, table):
            files = self.files(location)
            if not files:
                continue
            cols = ", ".join(ident(name) for name, _ in columns)
            parts = ", ".join(f"CAST({quote(v)} AS {ty}) AS {ident(name)}" for (name, ty), v in zip(keys, values))
            selects.append(f"SELECT {cols}, {parts} FROM {reader([quote(f) for f in files])}")
        if not selects:
            empty = ", ".join(f"CAST(NULL AS {ty}) AS {ident(n)}" for n, ty in columns + keys)
            selects.append(f"SELECT {empty} WHERE false")
        self.db.execute(f"CREATE OR REPLACE VIEW {ident(view or table)} AS " + " UNION ALL ".join(selects))

    @staticmethod
    def _reader(sd, parameters, columns):
        serde = sd.get("SerdeInfo", {})
        library = serde.get("SerializationLibrary", "").lower()
        typed = "{" + ", ".join(f"{quote(n)}: {quote(t)}" for n, t in columns) + "}"
        if "parquet" in library or "parquet" in sd.get("InputFormat", "").lower():
            return lambda files: f"read_parquet([{', '.join(files)}])"
        if "json" in library:
            return lambda files: f"read_json([{', '.join(files)}], columns = {typed})"
        delimiter = serde.get("Parameters", {}).get("field.delim", "\x01")
        header = parameters.get("skip.header.line.count", "0") != "0"
        return lambda files: (f"read_csv([{', '.join(files)}], delim = {quote(delimiter)}, "
                              f"header = {str(header).lower()}, columns = {typed})")

    def rows(self, sql):
        return self.db.execute(sql).fetchall()

    def table(self, sql):
        """The result as a readable text table."""
        cursor = self.db.execute(sql)
        names = [d[0] for d in cursor.description]
        rows = [[str(v) for v in r] for r in cursor.fetchall()]
        widths = [max(len(n), *(len(r[i]) for r in rows)) if rows else len(n) for i, n in enumerate(names)]
        line = lambda cells: "  ".join(c.rjust(w) if c.replace(".", "").isdigit() else c.ljust(w)
                                       for c, w in zip(cells, widths)).rstrip()
        return "\n".join([line(names), line(["-" * w for w in widths]), *map(line, rows)])


def parquet_file(columns, rows):
    """The bytes of a Parquet file of `rows`, as a pipeline writes it (DuckDB's writer).
    `columns` is the column list in SQL, e.g. "user_id VARCHAR, url VARCHAR"."""
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "part.parquet")
        con = duckdb.connect()
        con.execute(f"CREATE TABLE t ({columns})")
        con.executemany(f"INSERT INTO t VALUES ({', '.join('?' * len(rows[0]))})", rows)
        con.execute(f"COPY t TO '{path}' (FORMAT parquet)")
        with open(path, "rb") as f:
            return f.read()


def httpfs_extension():
    """The httpfs extension file that PyPI's duckdb-ext-httpfs ships, for this duckdb."""
    import duckdb_ext  # noqa: F401  (the package is a namespace holding the files)

    roots = [os.path.join(p, "extensions") for p in duckdb_ext.__path__]
    found = [f for r in roots for f in glob.glob(os.path.join(r, f"v{duckdb.__version__}", "*", "httpfs.duckdb_extension"))]
    if not found:
        raise SystemExit(f"no httpfs extension for duckdb {duckdb.__version__}: install duckdb-ext-httpfs of the same version")
    return found[0]
