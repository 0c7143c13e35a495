#!/usr/bin/env bash
# Runs every fuzz target (or the ones named) for SECONDS each, one after the other.
#
#   fuzz/run.sh SECONDS [TARGET...]
#
# Needs only the stable toolchain: cargo-fuzz is installed with `cargo install` if missing,
# and RUSTC_BOOTSTRAP=1 lets stable rustc take the -Z flags cargo-fuzz passes (sanitizer,
# coverage). FUZZ_SANITIZER=none builds without AddressSanitizer (default: address).
# Overflow checks and debug assertions are on (-a). The corpus grows in fuzz/corpus/TARGET
# (git-ignored), crashers land in fuzz/artifacts/TARGET, and each run's log in
# $CARGO_TARGET_DIR/logs/TARGET.log. Exits non-zero if any target found a crash, panic,
# mismatch, leak, out-of-memory or hang (any input running over FUZZ_TIMEOUT seconds).
set -euo pipefail

if [[ $# -lt 1 || ! $1 =~ ^[0-9]+$ ]]; then
    echo "usage: $0 SECONDS [TARGET...]" >&2
    exit 2
fi
seconds=$1
shift
here=$(cd "$(dirname "$0")" && pwd)
cd "$here"

export RUSTC_BOOTSTRAP=1
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$here/../target/fuzz-build}
sanitizer=${FUZZ_SANITIZER:-address}
timeout=${FUZZ_TIMEOUT:-20}

if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "== installing cargo-fuzz (once; about 3 minutes)"
    cargo install cargo-fuzz --locked
fi

if [[ $# -gt 0 ]]; then
    targets=("$@")
else
    mapfile -t targets < <(cargo fuzz list)
fi

echo "== building ${targets[*]} (sanitizer: $sanitizer)"
cargo fuzz build -a --sanitizer "$sanitizer"

mkdir -p "$CARGO_TARGET_DIR/logs"
failed=()
for t in "${targets[@]}"; do
    log=$CARGO_TARGET_DIR/logs/$t.log
    mkdir -p "corpus/$t"
    echo "== $t: ${seconds}s"
    if cargo fuzz run -a --sanitizer "$sanitizer" "$t" "corpus/$t" -- \
        -max_total_time="$seconds" -timeout="$timeout" -rss_limit_mb=4096 \
        -print_final_stats=1 >"$log" 2>&1; then
        grep -E '^(Done|stat::number_of_executed_units|stat::peak_rss_mb)' "$log" | sed "s/^/   /"
    else
        failed+=("$t")
        grep -E 'panicked|ERROR|SUMMARY|Test unit written' "$log" | head -20 | sed "s/^/   /"
        echo "   FAILED: see $log and fuzz/artifacts/$t/"
    fi
done

if [[ ${#failed[@]} -gt 0 ]]; then
    echo "== fuzzing found problems in: ${failed[*]}" >&2
    exit 1
fi
echo "== no crash, panic, mismatch or hang in ${targets[*]}"
