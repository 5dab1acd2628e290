"""Zip a built binary as `bootstrap`, the name the provided.al2023 runtime executes, and write
`bootstrap.json` beside the zip: the architecture and cargo features it was built with, which
the Terraform module reads to refuse a configuration the package cannot serve (drift
detection without the Parquet reader, an arm64 function given an x86_64 binary).

Deterministic (fixed timestamp, fixed mode) so an unchanged binary gives an unchanged zip and
Terraform's source_code_hash does not force a redeploy.

Usage: zip_bootstrap.py BINARY ZIP [--architecture arm64|x86_64] [--features "a b"]
"""

import argparse
import json
import os
import zipfile

args = argparse.ArgumentParser()
args.add_argument("binary")
args.add_argument("zip")
args.add_argument("--architecture", default="x86_64", choices=["x86_64", "arm64"])
args.add_argument("--features", default="")
a = args.parse_args()
os.makedirs(os.path.dirname(a.zip) or ".", exist_ok=True)
info = zipfile.ZipInfo("bootstrap", date_time=(2020, 1, 1, 0, 0, 0))
info.external_attr = (0o100755 & 0xFFFF) << 16  # regular file, rwxr-xr-x
info.compress_type = zipfile.ZIP_DEFLATED
with open(a.binary, "rb") as f, zipfile.ZipFile(a.zip, "w") as z:
    z.writestr(info, f.read(), compresslevel=9)
manifest = os.path.splitext(a.zip)[0] + ".json"
features = sorted(f for f in a.features.replace(",", " ").split() if f)
with open(manifest, "w") as f:
    json.dump({"architecture": a.architecture, "features": features}, f)
    f.write("\n")
print(f"{a.zip}: {os.path.getsize(a.zip) / 1024 / 1024:.2f} MiB zipped, "
      f"binary {os.path.getsize(a.binary) / 1024 / 1024:.2f} MiB, {a.architecture}, features {features or 'none'}")
