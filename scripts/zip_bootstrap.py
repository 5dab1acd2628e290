"""Zip a built binary as `bootstrap`, the name the provided.al2023 runtime executes.

Deterministic (fixed timestamp, fixed mode) so an unchanged binary gives an unchanged zip and
Terraform's source_code_hash does not force a redeploy.
"""

import os
import sys
import zipfile

binary, out = sys.argv[1], sys.argv[2]
os.makedirs(os.path.dirname(out) or ".", exist_ok=True)
info = zipfile.ZipInfo("bootstrap", date_time=(2020, 1, 1, 0, 0, 0))
info.external_attr = (0o100755 & 0xFFFF) << 16  # regular file, rwxr-xr-x
info.compress_type = zipfile.ZIP_DEFLATED
with open(binary, "rb") as f, zipfile.ZipFile(out, "w") as z:
    z.writestr(info, f.read(), compresslevel=9)
print(f"{out}: {os.path.getsize(out) / 1024 / 1024:.2f} MiB zipped, "
      f"binary {os.path.getsize(binary) / 1024 / 1024:.2f} MiB")
