#!/usr/bin/env bash
# Builds the C API (static library), compiles the C tests against include/hashembed.h and
# runs them; also runs the Rust-side C API tests. Usage, from anywhere:
#
#     bash tests/c/run.sh
#
# Environment: CARGO_TARGET_DIR (default target/capi, so it never waits on other builds'
# locks), CC (default cc), CXX (default c++; the header is also checked as C++ when found),
# HASHEMBED_C_LIBS (the system libraries the static library needs; default
# "-lpthread -ldl -lm"), HASHEMBED_C_SANITIZE=1 (also run the golden test built with
# -fsanitize=address,undefined), HASHEMBED_SKIP_CARGO_TEST=1 (skip the cargo test step).
# Ends with "N passed, M failed" (one count per step) and exits non-zero if any step failed.
set -uo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target/capi}"
CC="${CC:-cc}"
CXX="${CXX:-c++}"
LIBS="${HASHEMBED_C_LIBS:--lpthread -ldl -lm}"
CFLAGS=(-std=c11 -Wall -Wextra -Werror -O2 -Iinclude)
BUILD="$CARGO_TARGET_DIR/c-tests"
LIB="$CARGO_TARGET_DIR/release/libhashembed.a"
VECTORS="tests/golden/vectors.json"

passed=0
failed=0
failures=()

# step NAME COMMAND...: runs the command, counts it, shows its output only on failure
# (or always with VERBOSE=1).
step() {
    local name="$1"
    shift
    local log
    log="$(mktemp)"
    if "$@" >"$log" 2>&1; then
        passed=$((passed + 1))
        echo "ok    $name"
        [[ "${VERBOSE:-0}" == 1 ]] && sed 's/^/      /' "$log"
    else
        failed=$((failed + 1))
        failures+=("$name")
        echo "FAIL  $name"
        sed 's/^/      /' "$log" | tail -n 60
    fi
    rm -f "$log"
}

# The C API's Rust tests: its unit tests and the header consistency test.
cargo_tests() {
    cargo test --features capi --quiet --lib capi:: && cargo test --features capi --quiet --test capi_header
}

# The ```c block that follows "<!-- example: tests/c/example.c -->" in docs/c-api.md.
extract_example() {
    awk '
        index($0, "<!-- example: tests/c/example.c -->") { marked = 1; next }
        marked && !inside && $0 == "```c" { inside = 1; next }
        inside && $0 == "```" { exit }
        inside { print }
    ' docs/c-api.md
}

# The ```text block after the line "Its output:" that follows the example.
extract_example_output() {
    awk '
        index($0, "<!-- example: tests/c/example.c -->") { marked = 1 }
        marked && $0 == "Its output:" { found = 1; next }
        found && !inside && $0 == "```text" { inside = 1; next }
        inside && $0 == "```" { exit }
        inside { print }
    ' docs/c-api.md
}

# Runs the example and compares what it prints with the output shown in the docs.
run_example() {
    "$BUILD/example" >"$BUILD/example.out" || return 1
    cat "$BUILD/example.out"
    extract_example_output >"$BUILD/example.expected"
    diff -u "$BUILD/example.expected" "$BUILD/example.out"
}

# hashembed_version() against Cargo.toml, where the version is written once.
check_version() {
    local want got
    want="$(sed -n '/^\[package\]/,/^\[/s/^version = "\(.*\)"$/\1/p' Cargo.toml)"
    printf '#include <stdio.h>\n#include "hashembed.h"\nint main(void) { puts(hashembed_version()); return 0; }\n' \
        >"$BUILD/version.c"
    "$CC" "${CFLAGS[@]}" "$BUILD/version.c" "$LIB" $LIBS -o "$BUILD/version" || return 1
    got="$("$BUILD/version")" || return 1
    echo "hashembed_version() is \"$got\", Cargo.toml says \"$want\""
    [[ -n "$want" && "$got" == "$want" ]]
}

mkdir -p "$BUILD"
rm -f "$BUILD"/test_golden* "$BUILD/example" "$BUILD/version" # never run a binary left by an earlier run

step "cargo build --release --features capi (static library)" \
    cargo build --release --features capi --quiet
if [[ ! -f "$LIB" ]]; then
    echo "no static library at $LIB; stopping"
    echo "$passed passed, $((failed + 1)) failed"
    exit 1
fi

if [[ "${HASHEMBED_SKIP_CARGO_TEST:-0}" != 1 ]]; then
    step "cargo test --features capi (C API unit tests, header consistency)" cargo_tests
fi

extract_example >"$BUILD/example_from_doc.c"
step "docs/c-api.md example is tests/c/example.c verbatim" \
    diff -u tests/c/example.c "$BUILD/example_from_doc.c"

printf '#include "hashembed.h"\nint main(void) { return hashembed_dim(0) == 0 ? 0 : 1; }\n' \
    >"$BUILD/header_only.c"
step "header compiles as C99 with -pedantic" \
    "$CC" -std=c99 -pedantic -Wall -Wextra -Werror -Iinclude -fsyntax-only "$BUILD/header_only.c"
if command -v "$CXX" >/dev/null 2>&1; then
    step "header compiles as C++" \
        "$CXX" -x c++ -std=c++11 -Wall -Wextra -Werror -Iinclude -fsyntax-only "$BUILD/header_only.c"
fi

step "compile tests/c/test_golden.c" \
    "$CC" "${CFLAGS[@]}" tests/c/test_golden.c "$LIB" $LIBS -o "$BUILD/test_golden"
step "compile the docs/c-api.md example" \
    "$CC" "${CFLAGS[@]}" "$BUILD/example_from_doc.c" "$LIB" $LIBS -o "$BUILD/example"

step "hashembed_version() is the version in Cargo.toml" check_version

if [[ -x "$BUILD/test_golden" ]]; then
    # Every kernel gives the same bits; one this CPU lacks falls back to the best it has.
    VERBOSE=1 step "test_golden (best kernel)" "$BUILD/test_golden" "$VECTORS"
    for kernel in scalar avx2 avx512; do
        step "test_golden, HASHEMBED_KERNEL=$kernel" \
            env HASHEMBED_KERNEL="$kernel" "$BUILD/test_golden" "$VECTORS"
    done
fi

# The shared library exports the same functions: link the golden test against it too.
step "compile tests/c/test_golden.c against the shared library" \
    "$CC" "${CFLAGS[@]}" tests/c/test_golden.c -L"$CARGO_TARGET_DIR/release" -lhashembed \
    -Wl,-rpath,"$CARGO_TARGET_DIR/release" -o "$BUILD/test_golden_shared"

if [[ -x "$BUILD/test_golden_shared" ]]; then
    step "test_golden, shared library" "$BUILD/test_golden_shared" "$VECTORS"
fi
if [[ -x "$BUILD/example" ]]; then
    VERBOSE=1 step "run the docs/c-api.md example (output as documented)" run_example
fi

if [[ "${HASHEMBED_C_SANITIZE:-0}" == 1 ]]; then
    step "compile test_golden with ASan and UBSan" \
        "$CC" "${CFLAGS[@]}" -g -fsanitize=address,undefined -fno-sanitize-recover=all \
        tests/c/test_golden.c "$LIB" $LIBS -o "$BUILD/test_golden_san"
    if [[ -x "$BUILD/test_golden_san" ]]; then
        step "test_golden with ASan and UBSan" "$BUILD/test_golden_san" "$VECTORS"
    fi
fi

if ((failed)); then
    printf 'failed: %s\n' "${failures[@]}"
fi
echo "$passed passed, $failed failed"
((failed == 0))
