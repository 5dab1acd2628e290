"""The CLI's wheel around a binary already built, for `make test` (`make wheel-test`): the test
build's `target/debug/glue-partition-registrar`, so the wheel costs no second build of the
dependencies (`maturin build` resolves the crate's features without the dev-dependencies'
additions, serde's `alloc` among them, and so rebuilds 38 crates: minutes on 2 cores).

maturin still writes the metadata, as in the wheels it builds (`maturin pep517
write-dist-info`, the PEP 517 hook pip calls, from pyproject.toml and Cargo.toml): METADATA,
WHEEL and its tag, the license. The binary goes where maturin's `bindings = "bin"` wheels put
it, `{name}-{version}.data/scripts/`, which pip installs into the environment's bin directory;
RECORD lists every file's hash, as pip checks. `make wheel` builds the release wheel with
maturin itself.

Usage: wheel_of_build.py BINARY OUT_DIR [--maturin PATH]
"""

import argparse
import base64
import hashlib
import os
import subprocess
import tempfile
import zipfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def digest(data):
    return "sha256=" + base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()


def main():
    args = argparse.ArgumentParser()
    args.add_argument("binary")
    args.add_argument("out_dir")
    args.add_argument("--maturin", default="maturin")
    a = args.parse_args()

    with tempfile.TemporaryDirectory() as meta:
        subprocess.run([a.maturin, "pep517", "write-dist-info", "--metadata-directory", meta], cwd=ROOT, check=True,
                       stdout=subprocess.DEVNULL)
        (dist_info,) = [d for d in os.listdir(meta) if d.endswith(".dist-info")]
        dist = dist_info.removesuffix(".dist-info")
        files = []  # (name in the wheel, bytes, mode)
        with open(a.binary, "rb") as f:
            files.append((f"{dist}.data/scripts/{os.path.basename(a.binary)}", f.read(), 0o755))
        for directory, _, names in sorted(os.walk(os.path.join(meta, dist_info))):
            for name in sorted(names):
                path = os.path.join(directory, name)
                with open(path, "rb") as f:
                    files.append((os.path.relpath(path, meta).replace(os.sep, "/"), f.read(), 0o644))

    wheel_file = dict((n, d) for n, d, _ in files)[f"{dist_info}/WHEEL"].decode()
    (tag,) = [line.split(":", 1)[1].strip() for line in wheel_file.splitlines() if line.startswith("Tag:")]
    record_name = f"{dist_info}/RECORD"
    record = "".join(f"{n},{digest(d)},{len(d)}\n" for n, d, _ in files) + f"{record_name},,\n"
    files.append((record_name, record.encode(), 0o644))

    os.makedirs(a.out_dir, exist_ok=True)
    wheel = os.path.join(a.out_dir, f"{dist}-{tag}.whl")
    with zipfile.ZipFile(wheel, "w") as z:
        for name, data, mode in files:
            info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
            info.external_attr = (0o100000 | mode) << 16
            # Fast rather than small: the debug binary is tens of MiB and the wheel never leaves here.
            info.compress_type = zipfile.ZIP_DEFLATED
            z.writestr(info, data, compresslevel=1)
    print(f"{wheel}: {os.path.getsize(wheel) / 2**20:.1f} MiB, {os.path.basename(a.binary)} from {a.binary}")


if __name__ == "__main__":
    main()
