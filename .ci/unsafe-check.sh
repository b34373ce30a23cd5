#!/usr/bin/env bash
# Fails if `unsafe` appears in a source file outside the allowed list: new
# features must not add unsafe code in new places.
set -euo pipefail
cd "$(dirname "$0")/.."
allowed="freeze/src/body.rs freeze/src/copy.rs freeze/src/escape.rs freeze/src/freeze.rs
freeze/src/heap.rs freeze/src/hooks.rs freeze/src/modules.rs freeze/src/ops.rs freeze/src/raw.rs
freeze/src/repr.rs freeze/src/strdata.rs freeze/src/sync.rs freeze/src/transfer.rs
freeze/src/value.rs freeze/src/view.rs freeze/src/weak.rs"
bad=0
for f in $(git ls-files '*.rs' | grep -v '^fuzz/\|/tests/\|^tests/\|^bench/\|^examples/'); do
    # Code, not comments: lines whose first non-blank characters are not //.
    if grep -vE '^\s*//' "$f" | grep -qE '\bunsafe\b' && ! grep -qx "$f" <<<"$(tr ' ' '\n' <<<"$allowed")"; then
        echo "unsafe outside the allowed modules: $f"
        grep -nE '\bunsafe\b' "$f" | grep -vE '^[0-9]+:\s*//' | head -5
        bad=1
    fi
done
[ $bad = 0 ] && echo "unsafe only in the allowed modules"
exit $bad
