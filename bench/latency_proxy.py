"""A loopback HTTP proxy in front of moto that makes it answer with real AWS latency, and
records every request it forwards.

    python bench/latency_proxy.py --upstream 127.0.0.1:PORT [--list-ms 30 --s3-ms 15 --glue-ms 60]

It prints its port on the first line of stdout, then serves until killed. Each request waits
its latency (ListObjectsV2, other S3 calls, Glue calls: X-Amz-Target AWSGlue.*) and is then
answered by moto, or, for a bucket given an index, a ListObjectsV2 is answered from a sorted
index of its keys: stock moto costs O(bucket keys) per listing (0.5 s a page at 10k objects,
1.2 s at 200k), far more than the latency it stands for. The index answers as S3 documents
ListObjectsV2 (Prefix, Delimiter, StartAfter, ContinuationToken, MaxKeys, EncodingType=url;
keys in UTF-8 binary order, CommonPrefixes rolled up from the keys after StartAfter), and
`/__proxy/compare` checks its answers against moto's own on a sample of the requests a run sent.

Control (bucket names cannot start with "_", so these never shadow S3):
- GET  /__proxy/stats   every request since the last reset: kind, op, arrival, answer, and the
                        time moto spent on it; the most in flight;
- POST /__proxy/reset   forget them; body {"list_ms", "s3_ms", "glue_ms"} sets the latencies,
                        {"throttle": {"rate": 0.5, "operations": ["BatchCreatePartition"]}}
                        answers that share of those Glue operations with ThrottlingException
                        (400, as Glue throttles), a storm (`"throttle": null` ends it);
- POST /__proxy/index   {"bucket", "file"}: answer that bucket's listings from the keys in file
                        (one per line); {"bucket", "file": null} drops it;
- POST /__proxy/compare {"requests": [{"bucket", "query"}]}: each listing answered by the index
                        and by moto, compared entry by entry; the mismatches;
- POST /__proxy/synthetic {"database", "table", "bucket", "prefix", "key", "partitions",
                        "objects", "days", "missing_every"}: a table of any size without moto
                        holding it (bench/lake.py: ten million partitions). Its bucket's
                        listings come from a generated sorted index (`SyntheticKeys`: `objects`
                        keys under each of `partitions` directories `prefix` + `key=<hex>/`,
                        or `dt=<date>/key=<hex>/` over the `days` up to today), and its
                        GetPartitions, BatchGetPartition and BatchCreatePartition from a
                        generated catalog of the same partitions (`SyntheticCatalog`), every
                        `missing_every`-th one absent until created (DeletePartition too); GetTable and the rest
                        still go to moto, which must hold the table. {"table": null} drops it;
                        {"table", "keep_catalog": true, "drop_every": k} empties every k-th
                        directory of the table's data and keeps its catalog (a prune's case).
"""

import argparse
import asyncio
import base64
import bisect
import calendar
import json
import random
import sys
import time
import urllib.parse
import xml.etree.ElementTree as ET

S3_NS = "{http://s3.amazonaws.com/doc/2006-03-01/}"
END = "\U0010ffff"


class Index:
    """One bucket's keys, sorted as S3 sorts them (UTF-8 bytes; Python's code-point order of
    str is the same order)."""

    def __init__(self, keys, presorted=False):
        # A generated index (SyntheticKeys) is already in order and too large to copy: any
        # sequence with len() and [] will do, since the listing only bisects and indexes.
        self.keys = keys if presorted else sorted(keys)

    def list(self, query):
        """(keys, common prefixes, truncated, next token) of one ListObjectsV2 request."""
        prefix = query.get("prefix", "")
        delimiter = query.get("delimiter", "")
        max_keys = min(int(query.get("max-keys", "1000")), 1000)
        token = query.get("continuation-token")
        after = query.get("start-after", "")
        if token:
            after = base64.urlsafe_b64decode(token.encode()).decode()
        start = max(bisect.bisect_right(self.keys, after), bisect.bisect_left(self.keys, prefix))
        contents, prefixes = [], []
        i = start
        last = None
        while i < len(self.keys):
            key = self.keys[i]
            if not key.startswith(prefix):
                break
            if len(contents) + len(prefixes) == max_keys:
                return contents, prefixes, True, base64.urlsafe_b64encode(last.encode()).decode()
            rest = key[len(prefix):]
            cut = rest.find(delimiter) if delimiter else -1
            if cut >= 0:
                common = prefix + rest[:cut + len(delimiter)]
                prefixes.append(common)
                # A common prefix stands for every key under it: the next entry is past them,
                # and a token after it means "after every key it rolls up".
                last = common + END
                i = bisect.bisect_left(self.keys, last)
            else:
                contents.append(key)
                last = key
                i += 1
        return contents, prefixes, False, None

    def answer(self, bucket, query):
        contents, prefixes, truncated, token = self.list(query)
        encode = query.get("encoding-type") == "url"

        def enc(text):
            return urllib.parse.quote(text, safe="/") if encode else xml_escape(text)

        parts = ['<?xml version="1.0" encoding="UTF-8"?>',
                 '<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">',
                 f"<Name>{xml_escape(bucket)}</Name>", f"<Prefix>{enc(query.get('prefix', ''))}</Prefix>",
                 f"<MaxKeys>{query.get('max-keys', '1000')}</MaxKeys>",
                 f"<KeyCount>{len(contents) + len(prefixes)}</KeyCount>",
                 f"<IsTruncated>{'true' if truncated else 'false'}</IsTruncated>"]
        if query.get("delimiter"):
            parts.append(f"<Delimiter>{enc(query['delimiter'])}</Delimiter>")
        if encode:
            parts.append("<EncodingType>url</EncodingType>")
        if query.get("start-after"):
            parts.append(f"<StartAfter>{enc(query['start-after'])}</StartAfter>")
        if query.get("continuation-token"):
            parts.append(f"<ContinuationToken>{xml_escape(query['continuation-token'])}</ContinuationToken>")
        if token:
            parts.append(f"<NextContinuationToken>{token}</NextContinuationToken>")
        for key in contents:
            parts.append(f"<Contents><Key>{enc(key)}</Key><LastModified>2026-11-25T09:15:42.000Z</LastModified>"
                         '<ETag>"9dd4e461268c8034f5c8564e155c67a6"</ETag><Size>1</Size>'
                         "<StorageClass>STANDARD</StorageClass></Contents>")
        for p in prefixes:
            parts.append(f"<CommonPrefixes><Prefix>{enc(p)}</Prefix></CommonPrefixes>")
        parts.append("</ListBucketResult>")
        return "".join(parts).encode()


def xml_escape(text):
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def parsed_listing(body, url_encoded):
    """The entries of a ListObjectsV2 answer, decoded: what a client makes of it."""
    root = ET.fromstring(body)

    def dec(text):
        text = text or ""
        return urllib.parse.unquote_plus(text) if url_encoded else text

    keys = [dec(c.find(f"{S3_NS}Key").text) for c in root.findall(f"{S3_NS}Contents")]
    prefixes = [dec(c.find(f"{S3_NS}Prefix").text) for c in root.findall(f"{S3_NS}CommonPrefixes")]
    truncated = root.find(f"{S3_NS}IsTruncated").text == "true"
    return {"keys": keys, "prefixes": prefixes, "truncated": truncated}


# --- A synthetic table: listings and catalog generated, for sizes moto cannot hold ---------

def hex_width(partitions):
    """Hex digits of a synthetic directory name: enough that names spread evenly over their
    name space (as random ids do) with room between neighbours."""
    width = 4
    while 16 ** width < partitions * 16:
        width += 1
    return width


class SyntheticKeys:
    """The sorted keys of a generated tree, as a read-only sequence: `objects` keys
    (`part-00000.parquet`, ...) under each of `partitions` directories `prefix` + `key=<hex>/`,
    or, with `days`, `prefix` + `dt=<date>/key=<hex>/` (the days ending today, as many ids a
    day). An id is its index times a step, in hex, zero-padded: ascending (so the sequence is
    sorted without sorting it) and evenly spread over the names of its width, as random ids
    are. Ten million keys cost nothing to hold: a key is made when a listing looks at it."""

    def __init__(self, prefix, key, partitions, objects, days=0, drop_every=0):
        self.prefix, self.key, self.objects, self.days = prefix, key, objects, days
        # Every `drop_every`-th directory holds no object (its data deleted): a pruning pass
        # finds it empty. Directories keep their index i; the listing skips the empty ones.
        self.drop_every = drop_every
        self.per_day = partitions // days if days else partitions
        self.partitions = self.per_day * (days or 1)
        self.width = hex_width(self.per_day)
        self.step = 16 ** self.width // self.per_day
        today = int(time.time()) // 86400
        self.first_day = today - days + 1

    def values(self, i):
        """The partition values of directory i."""
        day, j = divmod(i, self.per_day)
        id_ = f"{j * self.step:0{self.width}x}"
        if not self.days:
            return [id_]
        return [time.strftime("%Y-%m-%d", time.gmtime((self.first_day + day) * 86400)), id_]

    def name(self, i):
        """Directory i under the prefix, without its trailing slash."""
        values = self.values(i)
        return (f"dt={values[0]}/" if self.days else "") + f"{self.key}={values[-1]}"

    def index_of(self, values):
        """The directory index of partition values, or None when no directory has them."""
        if len(values) != (2 if self.days else 1) or len(values[-1]) != self.width:
            return None
        day = 0
        if self.days:
            try:
                day = calendar.timegm(time.strptime(values[0], "%Y-%m-%d")) // 86400 - self.first_day
            except ValueError:
                return None
            if not 0 <= day < self.days:
                return None
        try:
            j, rest = divmod(int(values[-1], 16), self.step)
        except ValueError:
            return None
        return day * self.per_day + j if rest == 0 and 0 <= j < self.per_day else None

    def present(self):
        """Directories that hold objects."""
        return self.partitions - (self.partitions // self.drop_every if self.drop_every else 0)

    def __len__(self):
        return self.present() * self.objects

    def __getitem__(self, j):
        if not 0 <= j < len(self):
            raise IndexError(j)
        p, f = divmod(j, self.objects)
        if self.drop_every:
            # Of each run of `drop_every` directories, the first drop_every - 1 hold objects.
            block, at = divmod(p, self.drop_every - 1)
            p = block * self.drop_every + at
        return f"{self.prefix}{self.name(p)}/part-{f:05}.parquet"


# What Glue answers for one partition, as a JSON template: the fields GetPartitions and
# BatchGetPartition return (https://docs.aws.amazon.com/glue/latest/webapi/API_Partition.html),
# with a table's worth of columns. A template filled by string formatting, not a dict dumped
# per partition: a page of 1,000 is then a few milliseconds of Python, not tens.
COLUMNS = ",".join(json.dumps({"Name": n, "Type": t}) for n, t in (
    ("event_id", "string"), ("event_time", "timestamp"), ("user_id", "string"), ("session_id", "string"),
    ("page", "string"), ("referrer", "string"), ("country", "string"), ("amount", "double")))
PARTITION = ('{{"Values":[{value}],"DatabaseName":{database},"TableName":{table},"CreationTime":1764547200.0,'
             '"LastAccessTime":1764547200.0,"StorageDescriptor":{{{columns}"Location":{location},'
             '"InputFormat":"org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat",'
             '"OutputFormat":"org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat",'
             '"Compressed":false,"NumberOfBuckets":-1,"SerdeInfo":{{"SerializationLibrary":'
             '"org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe","Parameters":{{"serialization.format":"1"}}}},'
             '"BucketColumns":[],"SortColumns":[],"Parameters":{{}},"StoredAsSubDirectories":false}},'
             '"Parameters":{{}},"CatalogId":"123456789012"}}')


class SyntheticCatalog:
    """One table's partitions in Glue, generated: directory i of `keys` is a partition unless
    i is a multiple of `missing_every` (the partitions a repair must create) and was not
    created since. Answers GetPartitions, BatchGetPartition and BatchCreatePartition as the
    Glue API reference documents them, and DeletePartition; None for any other call (moto
    answers it)."""

    def __init__(self, database, table, bucket, keys, missing_every=0):
        self.database, self.table, self.bucket, self.keys = database, table, bucket, keys
        self.missing_every = missing_every
        self.created, self.deleted = set(), set()

    def exists(self, i):
        if i in self.deleted:
            return False
        return not (self.missing_every and i % self.missing_every == 0) or i in self.created

    def partition(self, i, columns=True):
        return PARTITION.format(
            value=",".join(json.dumps(v) for v in self.keys.values(i)), database=json.dumps(self.database),
            table=json.dumps(self.table), columns=f'"Columns":[{COLUMNS}],' if columns else "",
            location=json.dumps(f"s3://{self.bucket}/{self.keys.prefix}{self.keys.name(i)}/"))

    def answer(self, op, request):
        """(status, JSON body) for the table's own calls; None for calls moto answers."""
        if request.get("DatabaseName") != self.database or request.get("TableName") != self.table:
            return None
        if op == "GetPartitions":
            return self.get_partitions(request)
        if op == "BatchGetPartition":
            asked = request.get("PartitionsToGet", [])
            if len(asked) > 1000:
                return invalid("Value at 'partitionsToGet' failed to satisfy constraint: Member must have "
                               "length less than or equal to 1000")
            found = [self.partition(i) for i in (self.keys.index_of(v["Values"]) for v in asked)
                     if i is not None and self.exists(i)]
            return 200, '{"Partitions":[' + ",".join(found) + '],"UnprocessedKeys":[]}'
        if op == "BatchCreatePartition":
            errors = []
            for entry in request.get("PartitionInputList", []):
                values = entry["Values"]
                i = self.keys.index_of(values)
                if i is not None and self.exists(i):
                    errors.append({"PartitionValues": values, "ErrorDetail": {
                        "ErrorCode": "AlreadyExistsException", "ErrorMessage": "Partition already exists."}})
                elif i is not None:
                    self.created.add(i)
                    self.deleted.discard(i)
            return 200, json.dumps({"Errors": errors})
        if op == "DeletePartition":
            i = self.keys.index_of(request.get("PartitionValues", []))
            if i is None or not self.exists(i):
                return 400, json.dumps({"__type": "EntityNotFoundException", "message": "Partition not found."})
            self.deleted.add(i)
            return 200, "{}"
        return None

    def get_partitions(self, request):
        """A page of one segment. Segments are disjoint (partition i is in segment
        i mod TotalSegments) and pages follow in order; the token is the next index."""
        max_results = request.get("MaxResults", 1000)
        segment = request.get("Segment", {"SegmentNumber": 0, "TotalSegments": 1})
        number, total = segment.get("SegmentNumber", 0), segment.get("TotalSegments", 1)
        if not 1 <= max_results <= 1000:
            return invalid("Value at 'maxResults' failed to satisfy constraint: Member must have value "
                           "less than or equal to 1000 and greater than or equal to 1")
        if not (1 <= total <= 10 and 0 <= number < total):
            return invalid("Value at 'segment' failed to satisfy constraint: TotalSegments is 1 to 10 and "
                           "SegmentNumber below it")
        token = request.get("NextToken")
        start = int(token.split("-", 1)[1]) if token else number
        columns = not request.get("ExcludeColumnSchema", False)
        page, i = [], start
        while i < self.keys.partitions and len(page) < max_results:
            if self.exists(i):
                page.append(self.partition(i, columns))
            i += total
        body = '{"Partitions":[' + ",".join(page) + "]"
        if i < self.keys.partitions:
            body += f',"NextToken":"synthetic-{i}"'
        return 200, body + "}"


def invalid(message):
    return 400, json.dumps({"__type": "ValidationException", "message": f"1 validation error detected: {message}"})


class Proxy:
    def __init__(self, upstream, list_ms, s3_ms, glue_ms):
        self.upstream = upstream
        self.latency = {"list": list_ms, "s3": s3_ms, "glue": glue_ms}
        self.indexes = {}
        self.synthetic = None
        self.throttle = None
        self.random = random.Random(17)
        self.reset()

    def reset(self):
        self.records = []
        self.in_flight = 0
        self.max_in_flight = {"all": 0, "list": 0, "s3": 0, "glue": 0}
        self.kind_in_flight = {"list": 0, "s3": 0, "glue": 0}

    @staticmethod
    def classify(method, target, headers):
        glue = headers.get("x-amz-target", "")
        if glue.startswith("AWSGlue."):
            return "glue", glue.split(".", 1)[1]
        path, _, query = target.partition("?")
        params = urllib.parse.parse_qs(query, keep_blank_values=True)
        if method == "GET" and params.get("list-type") == ["2"]:
            return "list", "ListObjectsV2"
        return "s3", {"GET": "GetObject", "HEAD": "HeadObject", "PUT": "PutObject",
                      "DELETE": "DeleteObject"}.get(method, method)

    async def forward(self, method, target, headers, body):
        """moto's answer to one request: (status line, headers, body)."""
        host, port = self.upstream.split(":")
        reader, writer = await asyncio.open_connection(host, int(port))
        lines = [f"{method} {target} HTTP/1.1"]
        for k, v in headers.items():
            if k not in ("connection", "keep-alive", "proxy-connection", "expect"):
                lines.append(f"{k}: {v}")
        lines.append("connection: close")
        writer.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body)
        await writer.drain()
        raw = await reader.read()
        writer.close()
        head, _, rest = raw.partition(b"\r\n\r\n")
        status, *header_lines = head.decode("latin-1").split("\r\n")
        out_headers = []
        chunked = False
        for line in header_lines:
            k, _, v = line.partition(":")
            k, v = k.strip(), v.strip()
            if k.lower() == "transfer-encoding" and "chunked" in v.lower():
                chunked = True
                continue
            if k.lower() in ("content-length", "connection", "keep-alive"):
                continue
            out_headers.append((k, v))
        if chunked:
            rest = dechunk(rest)
        return status, out_headers, rest

    async def handle(self, reader, writer):
        try:
            while True:
                request_line = await reader.readline()
                if not request_line:
                    return
                method, target, _ = request_line.decode("latin-1").split(" ", 2)
                headers = {}
                while True:
                    line = (await reader.readline()).decode("latin-1")
                    if line in ("\r\n", "\n", ""):
                        break
                    k, _, v = line.partition(":")
                    headers[k.strip().lower()] = v.strip()
                if headers.get("expect", "").lower() == "100-continue":
                    writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
                    await writer.drain()
                if "chunked" in headers.get("transfer-encoding", "").lower():
                    body = await read_chunked(reader)
                    headers.pop("transfer-encoding")
                    headers["content-length"] = str(len(body))
                else:
                    body = await reader.readexactly(int(headers.get("content-length", "0")))
                if target.startswith("/__proxy/"):
                    status, out_headers, payload = self.control(method, target, body)
                    if target.startswith("/__proxy/compare"):
                        payload = json.dumps(await self.compare(json.loads(body))).encode()
                else:
                    status, out_headers, payload = await self.serve(method, target, headers, body)
                writer.write(f"{status}\r\n".encode("latin-1"))
                for k, v in out_headers:
                    writer.write(f"{k}: {v}\r\n".encode("latin-1"))
                writer.write(f"content-length: {len(payload)}\r\n\r\n".encode("latin-1") + payload)
                await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError):
            return
        finally:
            writer.close()

    async def serve(self, method, target, headers, body):
        kind, op = self.classify(method, target, headers)
        record = {"kind": kind, "op": op, "start": time.monotonic()}
        if kind == "list":
            record["query"] = target
        self.in_flight += 1
        self.kind_in_flight[kind] += 1
        self.max_in_flight["all"] = max(self.max_in_flight["all"], self.in_flight)
        self.max_in_flight[kind] = max(self.max_in_flight[kind], self.kind_in_flight[kind])
        try:
            await asyncio.sleep(self.latency[kind] / 1000)
            if (kind == "glue" and self.throttle and op in self.throttle["operations"]
                    and self.random.random() < self.throttle["rate"]):
                record["throttled"] = True
                return ("HTTP/1.1 400 Bad Request", [("content-type", "application/x-amz-json-1.1")],
                        json.dumps({"__type": "ThrottlingException", "message": "Rate exceeded"}).encode())
            record["moto_start"] = time.monotonic()
            bucket, query = bucket_and_query(target)
            if kind == "list" and bucket in self.indexes:
                status = "HTTP/1.1 200 OK"
                payload = self.indexes[bucket].answer(bucket, query)
                out_headers = [("content-type", "application/xml"), ("x-amz-request-id", "index")]
                record["index"] = True
            elif kind == "glue" and self.synthetic:
                status, out_headers, payload = await self.glue(method, target, headers, body, op, record)
            else:
                status, out_headers, payload = await self.forward(method, target, headers, body)
            record["moto_end"] = time.monotonic()
            return status, out_headers, payload
        finally:
            self.in_flight -= 1
            self.kind_in_flight[kind] -= 1
            record["end"] = time.monotonic()
            self.records.append(record)

    async def glue(self, method, target, headers, body, op, record):
        """A Glue call answered by the synthetic table (moto answers what it does not)."""
        answered = self.synthetic.answer(op, json.loads(body or b"{}"))
        if answered is None:
            return await self.forward(method, target, headers, body)
        record["synthetic"] = True
        status, payload = answered
        reason = "OK" if status == 200 else "Bad Request"
        return (f"HTTP/1.1 {status} {reason}", [("content-type", "application/x-amz-json-1.1")],
                payload.encode() if isinstance(payload, str) else payload)

    def control(self, method, target, body):
        ok = ("HTTP/1.1 200 OK", [("content-type", "application/json")])
        if target.startswith("/__proxy/stats"):
            return (*ok, json.dumps({"requests": self.records, "max_in_flight": self.max_in_flight}).encode())
        if target.startswith("/__proxy/reset"):
            settings = json.loads(body or b"{}")
            for kind in ("list", "s3", "glue"):
                if f"{kind}_ms" in settings:
                    self.latency[kind] = settings[f"{kind}_ms"]
            if "throttle" in settings:
                self.throttle = settings["throttle"]
            self.reset()
            return (*ok, b"{}")
        if target.startswith("/__proxy/index"):
            spec = json.loads(body)
            if spec.get("file"):
                with open(spec["file"], encoding="utf-8") as f:
                    self.indexes[spec["bucket"]] = Index(line.rstrip("\n") for line in f)
            else:
                self.indexes.pop(spec["bucket"], None)
            return (*ok, b"{}")
        if target.startswith("/__proxy/synthetic"):
            spec = json.loads(body)
            if spec.get("table") and spec.get("keep_catalog") and self.synthetic:
                # The same table and catalog, its data changed: some directories emptied.
                self.synthetic.keys.drop_every = spec.get("drop_every", 0)
            elif spec.get("table"):
                keys = SyntheticKeys(spec["prefix"], spec["key"], spec["partitions"], spec["objects"],
                                     spec.get("days", 0), spec.get("drop_every", 0))
                self.indexes[spec["bucket"]] = Index(keys, presorted=True)
                self.synthetic = SyntheticCatalog(spec["database"], spec["table"], spec["bucket"], keys,
                                                  spec.get("missing_every", 0))
            else:
                if self.synthetic:
                    self.indexes.pop(self.synthetic.bucket, None)
                self.synthetic = None
            return (*ok, b"{}")
        return (*ok, b"{}")

    async def compare(self, spec):
        mismatches = []
        for request in spec["requests"]:
            bucket, query = bucket_and_query(request["query"])
            mine = parsed_listing(self.indexes[bucket].answer(bucket, query), query.get("encoding-type") == "url")
            _, _, body = await self.forward("GET", request["query"], {"host": self.upstream}, b"")
            moto = parsed_listing(body, query.get("encoding-type") == "url")
            if mine != moto:
                mismatches.append({"query": request["query"], "index": summary(mine), "moto": summary(moto)})
        return {"compared": len(spec["requests"]), "mismatches": mismatches}


def summary(listing):
    return {k: (v[:3] + ["..."] + v[-3:] if isinstance(v, list) and len(v) > 6 else v) for k, v in listing.items()}


def bucket_and_query(target):
    path, _, query = target.partition("?")
    bucket = urllib.parse.unquote(path.lstrip("/").split("/", 1)[0])
    params = {k: v[0] for k, v in urllib.parse.parse_qs(query, keep_blank_values=True).items()}
    return bucket, params


async def read_chunked(reader):
    body = b""
    while True:
        size = int((await reader.readline()).split(b";")[0].strip(), 16)
        if size == 0:
            await reader.readline()
            return body
        body += await reader.readexactly(size)
        await reader.readline()


def dechunk(data):
    out = b""
    while data:
        line, _, data = data.partition(b"\r\n")
        size = int(line.split(b";")[0].strip() or b"0", 16)
        if size == 0:
            break
        out += data[:size]
        data = data[size + 2:]
    return out


async def main():
    args = argparse.ArgumentParser()
    args.add_argument("--upstream", required=True)
    args.add_argument("--list-ms", type=float, default=30)
    args.add_argument("--s3-ms", type=float, default=15)
    args.add_argument("--glue-ms", type=float, default=60)
    a = args.parse_args()
    proxy = Proxy(a.upstream, a.list_ms, a.s3_ms, a.glue_ms)
    server = await asyncio.start_server(proxy.handle, "127.0.0.1", 0, limit=1 << 20)
    print(server.sockets[0].getsockname()[1], flush=True)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        sys.exit(0)
