"""Check the Lambda package as Terraform deploys it: a zip holding an executable `bootstrap`
that Amazon Linux 2023 (glibc 2.34) can load, built for the architecture Terraform declares,
and a manifest beside it that says so. readelf reads any architecture's ELF, so an arm64
package is checked on this x86_64 machine as well."""

import json
import os
import re
import subprocess
import sys
import tempfile
import zipfile

MAX_GLIBC = (2, 34)
MACHINES = {"x86_64": "Advanced Micro Devices X86-64", "arm64": "AArch64"}

zip_path, arch = sys.argv[1], sys.argv[2] if len(sys.argv) > 2 else "arm64"
with zipfile.ZipFile(zip_path) as z:
    names = z.namelist()
    assert names == ["bootstrap"], f"the zip must hold exactly `bootstrap`, it holds {names}"
    mode = (z.getinfo("bootstrap").external_attr >> 16) & 0o777
    assert mode & 0o111, f"bootstrap is not executable (mode {oct(mode)})"
    with tempfile.NamedTemporaryFile() as tmp:
        tmp.write(z.read("bootstrap"))
        tmp.flush()
        header = subprocess.run(["readelf", "-h", tmp.name], capture_output=True, text=True, check=True).stdout
        versions_needed = subprocess.run(["readelf", "-V", tmp.name], capture_output=True, text=True, check=True).stdout

machine = re.search(r"Machine:\s+(.+)", header).group(1).strip()
assert machine == MACHINES[arch], f"bootstrap is built for {machine}, not {arch}"
versions = sorted({tuple(int(p) for p in v.split(".")) for v in re.findall(r"GLIBC_(\d+(?:\.\d+)+)", versions_needed)})
assert versions, "no GLIBC symbol versions found: is this a dynamically linked glibc binary?"
highest = versions[-1]
shown = ".".join(map(str, highest))
if highest > MAX_GLIBC:
    sys.exit(f"FAIL: bootstrap needs GLIBC_{shown}, Amazon Linux 2023 has 2.34")
manifest = json.load(open(os.path.splitext(zip_path)[0] + ".json"))
assert manifest["architecture"] == arch, f"bootstrap.json says {manifest['architecture']}, the binary is {arch}"
print(f"ok: {zip_path} holds an executable {arch} bootstrap needing at most GLIBC_{shown} (limit 2.34); "
      f"bootstrap.json agrees, features {manifest['features'] or 'none'}")
