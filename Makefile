# The two commands of the README: `make test` and `make demo`. Both set up what they need.
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
BIN := target/debug/glue-partition-registrar

.PHONY: test demo lint unit venv clean

# A Python venv with moto's server, the local AWS emulator the tests and the demo use.
$(VENV)/.installed: requirements-dev.txt
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install --quiet -r requirements-dev.txt
	touch $@

venv: $(VENV)/.installed

lint:
	cargo fmt --check
	cargo clippy --all-targets --locked -- -D warnings

unit: $(VENV)/.installed
	cargo test --locked

test: $(VENV)/.installed lint unit

demo: $(VENV)/.installed
	cargo build --locked
	$(PY) demo/demo.py $(BIN)

clean:
	cargo clean
	rm -rf $(VENV) dist
