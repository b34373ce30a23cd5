#!/usr/bin/env bash
# AddressSanitizer (with LeakSanitizer) over the test binaries of freeze/
# and runtime/. The toolchain is stable: RUSTC_BOOTSTRAP=1 lets it accept
# `-Zsanitizer=address`; the explicit `--target` keeps the sanitizer flags
# off build scripts and proc macros. std itself is not instrumented (that
# would need -Zbuild-std and the rust-src component), so this checks the
# project's own code and its dependencies.
set -euo pipefail
cd "$(dirname "$0")/.."
start=$(date +%s)
target=$(rustc -vV | sed -n 's/^host: //p')
export RUSTC_BOOTSTRAP=1
export RUSTFLAGS="-Zsanitizer=address"
export RUSTDOCFLAGS="-Zsanitizer=address"
export ASAN_OPTIONS="detect_leaks=1:abort_on_error=1"
export CARGO_TARGET_DIR=target/asan
export PERMAFROST_CHAIN_NODES=${PERMAFROST_CHAIN_NODES:-1000000}
cargo test -p permafrost-freeze -p permafrost-runtime --target "$target" --tests
echo "asan: took $(( $(date +%s) - start )) s"
