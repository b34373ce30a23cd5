#!/usr/bin/env bash
# valgrind memcheck over every test binary of freeze/ and runtime/: any
# memory error (invalid read/write, use of uninitialised memory, invalid
# free) or definite leak fails the run.
set -euo pipefail
cd "$(dirname "$0")/.."
start=$(date +%s)

if ! command -v valgrind >/dev/null 2>&1; then
    echo "== installing valgrind"
    if [ "$(id -u)" = 0 ]; then sudo=""; else sudo="sudo"; fi
    $sudo apt-get update -qq
    $sudo apt-get install -y -qq valgrind >/dev/null
fi

# The walks are the same code at any length; memcheck is ~50x slower.
export PERMAFROST_CHAIN_NODES=${PERMAFROST_CHAIN_NODES:-200000}
# Spinning hand-offs between threads cost a scheduling slice each.
export PERMAFROST_RACE_ROUNDS=${PERMAFROST_RACE_ROUNDS:-300}

bins=$(cargo test -p permafrost-freeze -p permafrost-runtime --no-run --message-format=json 2>/dev/null |
    grep -o '"executable":"[^"]*"' | sed 's/"executable":"\(.*\)"/\1/')
[ -n "$bins" ] || { echo "no test binaries found" >&2; exit 1; }

failed=0
for b in $bins; do
    t0=$(date +%s)
    if valgrind --tool=memcheck --fair-sched=yes --error-exitcode=97 --leak-check=full \
        --errors-for-leak-kinds=definite --show-leak-kinds=definite --quiet \
        --suppressions=.ci/valgrind.supp \
        "$b" --test-threads=2 -q >/tmp/valgrind-test.log 2>&1; then
        echo "valgrind ok   $(basename "$b") ($(( $(date +%s) - t0 )) s)"
    else
        echo "valgrind FAIL $(basename "$b")"
        tail -60 /tmp/valgrind-test.log
        failed=1
    fi
done
echo "valgrind: took $(( $(date +%s) - start )) s"
exit $failed
