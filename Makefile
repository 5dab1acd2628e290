# The two commands of the README: `make test` and `make demo`. Both set up what they need.
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
# Where cargo builds: `target/` unless CARGO_TARGET_DIR (or a config) says otherwise.
TARGET_DIR := $(shell cargo metadata --format-version 1 --no-deps 2>/dev/null | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')
BIN := $(TARGET_DIR)/debug/glue-partition-registrar

# The Lambda package: provided.al2023 runs Amazon Linux 2023, whose glibc is 2.34. It is
# built without the CLI's profile credentials; `make package FEATURES=schema-drift` adds the
# Parquet reader for SCHEMA_DRIFT_DETECTION (about 0.9 MiB more).
FEATURES ?=
ARCH ?= x86_64
GLIBC := 2.34
TRIPLE := $(ARCH)-unknown-linux-gnu
LAMBDA_BIN := target/lambda/$(TRIPLE)/release/glue-partition-registrar
ZIP := dist/bootstrap.zip
# cargo-zigbuild and zig come from the venv (PyPI: cargo-zigbuild, ziglang).
ZIG_PATH := PATH="$(CURDIR)/$(VENV)/bin:$$PATH"

.PHONY: test demo bench bench-smoke lint unit terraform-check deploy-test query-test fuzz package check-package venv clean

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
	$(VENV)/bin/checkov --directory terraform --framework terraform --quiet --compact --skip-download

# The module initialised, validated, planned for three configurations, applied on the
# emulator, used end to end and destroyed (tests/deploy/run.py). Needs the binary that
# `cargo test` builds.
deploy-test: venv unit
	$(PY) tests/deploy/run.py $(BIN)

package: venv
	$(ZIG_PATH) cargo zigbuild --release --locked --no-default-features $(if $(FEATURES),--features $(FEATURES)) --target $(TRIPLE).$(GLIBC) --target-dir target/lambda
	$(PY) scripts/zip_bootstrap.py $(LAMBDA_BIN) $(ZIP)

check-package: package
	$(PY) scripts/check_package.py $(ZIP) $(ARCH)

# Each benchmark once at tiny sizes, so they cannot rot (figures come from `make bench`).
# The binary comes from the test build (`cargo test` builds it for the CLI tests), so the
# dependencies are not built a second time with other features.
bench-smoke: venv
	cargo test -p registrar-core --bench planning --locked
	$(PY) bench/e2e.py $(BIN) --smoke
	$(PY) bench/backfill.py $(BIN) --smoke
	$(PY) bench/cpu.py $(BIN) --smoke

# Query at once: Hive and template layouts registered, then read back with SQL over exactly
# the partitions Glue lists (tests/query/run.py).
query-test: venv unit
	$(PY) tests/query/run.py $(BIN)

# Fuzzing for a bounded time (FUZZ_SECONDS per target): event documents and listed names, the
# inputs nobody controls. cargo-fuzz is installed into the venv; libFuzzer's sanitizer flags
# need RUSTC_BOOTSTRAP on a stable toolchain. The seeds are the fixture events.
FUZZ_SECONDS ?= 30
CARGO_FUZZ := $(VENV)/cargo/bin/cargo-fuzz

$(CARGO_FUZZ): | venv
	cargo install cargo-fuzz --locked --version 0.13.2 --root $(VENV)/cargo

fuzz: $(CARGO_FUZZ)
	mkdir -p fuzz/corpus/event
	cd fuzz && RUSTC_BOOTSTRAP=1 ../$(CARGO_FUZZ) run event corpus/event ../events -- -max_total_time=$(FUZZ_SECONDS)
	cd fuzz && RUSTC_BOOTSTRAP=1 ../$(CARGO_FUZZ) run key -- -max_total_time=$(FUZZ_SECONDS)

test: venv lint unit terraform-check deploy-test query-test fuzz check-package bench-smoke

# The figures of README's "Performance": criterion for planning (CPU time), then the shipped
# binary against moto: as Lambda runs it, backfilling three trees, and its whole process's
# CPU on a 10,000-record batch. Writes bench/results.json.
bench: venv package
	CRITERION_HOME=$(TARGET_DIR)/criterion cargo bench -p registrar-core --bench planning --locked
	$(PY) bench/e2e.py $(LAMBDA_BIN) --criterion $(TARGET_DIR)/criterion --results bench/results.json
	$(PY) bench/backfill.py $(LAMBDA_BIN) --results bench/results.json
	$(PY) bench/cpu.py $(LAMBDA_BIN) --results bench/results.json

demo: venv
	cargo build --locked
	$(PY) demo/demo.py $(BIN)

clean:
	cargo clean
	rm -rf $(VENV) dist
