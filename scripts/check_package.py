"""Check the Lambda package as Terraform deploys it: a zip holding an executable `bootstrap`
that Amazon Linux 2023 (glibc 2.34) can load, for the architecture Terraform declares."""

import re
import subprocess
import sys
import tempfile
import zipfile

MAX_GLIBC = (2, 34)
ARCHES = {"x86_64": "x86-64", "arm64": "aarch64"}

zip_path, arch = sys.argv[1], sys.argv[2] if len(sys.argv) > 2 else "x86_64"
with zipfile.ZipFile(zip_path) as z:
    names = z.namelist()
    assert names == ["bootstrap"], f"the zip must hold exactly `bootstrap`, it holds {names}"
    mode = (z.getinfo("bootstrap").external_attr >> 16) & 0o777
    assert mode & 0o111, f"bootstrap is not executable (mode {oct(mode)})"
    with tempfile.NamedTemporaryFile() as tmp:
        tmp.write(z.read("bootstrap"))
        tmp.flush()
        header = subprocess.run(["objdump", "-f", tmp.name], capture_output=True, text=True, check=True).stdout
        symbols = subprocess.run(["objdump", "-T", tmp.name], capture_output=True, text=True, check=True).stdout

assert ARCHES[arch] in header, f"bootstrap is not built for {arch}:\n{header}"
versions = sorted({tuple(int(p) for p in v.split(".")) for v in re.findall(r"GLIBC_(\d+(?:\.\d+)+)", symbols)})
assert versions, "no GLIBC symbol versions found: is this a dynamically linked glibc binary?"
highest = versions[-1]
shown = ".".join(map(str, highest))
if highest > MAX_GLIBC:
    sys.exit(f"FAIL: bootstrap needs GLIBC_{shown}, Amazon Linux 2023 has 2.34")
print(f"ok: {zip_path} holds an executable {arch} bootstrap needing at most GLIBC_{shown} (limit 2.34)")
