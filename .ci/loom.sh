#!/usr/bin/env bash
# Loom model checking of the atomic protocols in freeze/src/sync.rs.
# Own target dir: `--cfg loom` rebuilds every crate and must not evict the
# main target dir's artifacts.
set -euo pipefail
cd "$(dirname "$0")/.."

start=$SECONDS
trap 'echo "loom: took $((SECONDS - start))s (build included)"' EXIT
RUSTFLAGS="--cfg loom" CARGO_TARGET_DIR=target/loom nice -n 10 \
    cargo test -p permafrost-freeze --lib --release sync::models
