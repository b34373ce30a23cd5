#!/usr/bin/env bash
# Fuzz smoke run: build every cargo-fuzz target (libFuzzer + AddressSanitizer,
# on the stable toolchain), replay the saved regressions, then fuzz each target
# for FUZZ_SECONDS (default 60) starting from a temporary copy of the committed
# corpus. Fails on any crash, panic, sanitizer report (LeakSanitizer
# included), timeout or out-of-memory.
#
# Needs: rustup's stable toolchain and a C++ compiler (libfuzzer-sys builds
# libFuzzer from source). Installs the pinned cargo-fuzz if it is missing.
#
# Environment:
#   FUZZ_SECONDS    seconds of fuzzing per target (default 60)
#   FUZZ_TARGETS    targets to run (default: every target in fuzz/Cargo.toml)
#   FUZZ_TIMEOUT    seconds one input may take before it counts as a hang (25)
#   FUZZ_ARTIFACTS  where crash reproducers go (default: a temp dir, printed)
#   FUZZ_NICE       niceness for the build and the runs (default 10)
set -euo pipefail

CARGO_FUZZ_VERSION=0.13.2
FUZZ_SECONDS=${FUZZ_SECONDS:-60}
FUZZ_TIMEOUT=${FUZZ_TIMEOUT:-25}
FUZZ_NICE=${FUZZ_NICE:-10}

cd "$(dirname "$0")"
export CARGO_TERM_COLOR=never

# cargo-fuzz passes `-Zsanitizer=address`; RUSTC_BOOTSTRAP=1 makes the stable
# compiler accept it (the sancov `-C` flags are stable already).
export RUSTC_BOOTSTRAP=1
# What `cargo fuzz run` would set for AddressSanitizer.
export ASAN_OPTIONS="detect_odr_violation=0${ASAN_OPTIONS:+:$ASAN_OPTIONS}"

run() { nice -n "$FUZZ_NICE" "$@"; }

if [ "$(cargo fuzz --version 2>/dev/null || true)" != "cargo-fuzz $CARGO_FUZZ_VERSION" ]; then
    echo "== installing cargo-fuzz $CARGO_FUZZ_VERSION"
    run cargo install cargo-fuzz --version "$CARGO_FUZZ_VERSION" --locked --force
    export PATH="${CARGO_INSTALL_ROOT:-${CARGO_HOME:-$HOME/.cargo}}/bin:$PATH"
fi

host=$(rustc -vV | sed -n 's/^host: //p')
targets=${FUZZ_TARGETS:-$(cargo fuzz list)}

echo "== building the fuzz targets ($(rustc --version), $host)"
# A build once tried without RUSTC_BOOTSTRAP leaves a failed target probe in
# cargo's cache (the cache key does not include RUSTC_BOOTSTRAP); drop it.
rm -f target/.rustc_info.json
build_start=$SECONDS
run cargo fuzz build
echo "build: $((SECONDS - build_start)) s"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/permafrost-fuzz.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
artifacts=${FUZZ_ARTIFACTS:-$tmp/artifacts}

failed=0
report_failure() { # target log
    local t=$1 log=$2
    echo "!! $t FAILED; the report:"
    grep -a -E -A40 "ERROR: (libFuzzer|AddressSanitizer|LeakSanitizer)|panicked at|==[0-9]+== ERROR|SUMMARY" "$log" \
        | grep -a -v -E "^\s+at /rustc/" | head -80 || tail -40 "$log"
    for f in "$artifacts/$t"/*; do
        [ -e "$f" ] || continue
        case "$(basename "$f")" in slow-unit-*) continue ;; esac
        echo "reproducer: $f ($(wc -c <"$f") bytes, base64 $(base64 -w0 "$f"))"
    done
    if [ -z "${FUZZ_ARTIFACTS:-}" ]; then
        echo "(set FUZZ_ARTIFACTS=DIR to keep the reproducers)"
    fi
    failed=1
}

for t in $targets; do
    bin=target/$host/release/$t
    mkdir -p "$artifacts/$t" "$tmp/corpus/$t"
    if [ -d "regressions/$t" ] && [ -n "$(ls -A "regressions/$t")" ]; then
        echo "== $t: replaying $(ls "regressions/$t" | wc -l) saved regression inputs"
        if ! run "$bin" -timeout="$FUZZ_TIMEOUT" -artifact_prefix="$artifacts/$t/" \
            regressions/"$t"/* >"$tmp/$t.regressions.log" 2>&1; then
            report_failure "$t" "$tmp/$t.regressions.log"
            continue
        fi
    fi
    if [ -d "corpus/$t" ]; then
        cp -R "corpus/$t/." "$tmp/corpus/$t/"
    fi
    echo "== $t: fuzzing for $FUZZ_SECONDS s from $(ls "$tmp/corpus/$t" | wc -l) corpus inputs"
    log=$tmp/$t.log
    rc=0
    run "$bin" -max_total_time="$FUZZ_SECONDS" -timeout="$FUZZ_TIMEOUT" -print_final_stats=1 \
        -artifact_prefix="$artifacts/$t/" "$tmp/corpus/$t" >"$log" 2>&1 || rc=$?
    execs=$(grep -a '^stat::number_of_executed_units:' "$log" | awk '{print $2}' | tail -1)
    rate=$(grep -a '^stat::average_exec_per_sec:' "$log" | awk '{print $2}' | tail -1)
    last=$(grep -a -E '^#[0-9]+[[:space:]]+(DONE|INITED|NEW|REDUCE|pulse)' "$log" | tail -1 || true)
    echo "$t: executions ${execs:-?} (${rate:-?}/s), corpus now $(ls "$tmp/corpus/$t" | wc -l) files"
    echo "$t: final: ${last:-no coverage line}"
    if [ "$rc" -ne 0 ] || grep -a -q -E "ERROR: (libFuzzer|AddressSanitizer|LeakSanitizer)|panicked at" "$log"; then
        report_failure "$t" "$log"
    fi
done

if [ "$failed" -ne 0 ]; then
    echo "fuzz smoke run: FAILED"
    exit 1
fi
echo "fuzz smoke run: ok ($SECONDS s in all)"
