#!/usr/bin/env bash
# tests/fuzz/fuzz.sh: runs each libFuzzer target for a short time (make
# fuzz, which first builds build/fuzz/fuzz-<target> with clang and the
# Makefile's flags; clang's libFuzzer runtime is libclang-rt-14-dev).
#
#   FUZZ_SECONDS   seconds per target (default 25; two targets)
#   FUZZ_TARGETS   which to run (default "request model")
#
# New interesting inputs go to build/fuzz/corpus-<target>/ (not committed);
# the seeds are tests/fuzz/corpus/<target>/. A crash leaves its input as
# build/fuzz/crash-* and fails the run: copy it into the seed corpus once
# fixed, so it stays a regression case.
set -euo pipefail
cd "$(dirname "$0")/../.."

FUZZ_SECONDS=${FUZZ_SECONDS:-25}
FUZZ_TARGETS=${FUZZ_TARGETS:-request model}
OUT=build/fuzz

failed=0
for target in $FUZZ_TARGETS; do
    bin=$OUT/fuzz-$target
    if [ ! -x "$bin" ]; then
        echo "fuzz: $bin is not built (make fuzz builds it)" >&2
        exit 2
    fi
    mkdir -p "$OUT/corpus-$target"
    dict=()
    [ -e "tests/fuzz/$target.dict" ] && dict=(-dict="tests/fuzz/$target.dict")
    echo "fuzz: $target for ${FUZZ_SECONDS}s"
    if "$bin" -max_total_time="$FUZZ_SECONDS" -max_len=8192 -timeout=10 \
        -rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix="$OUT/" \
        "${dict[@]}" "$OUT/corpus-$target" "tests/fuzz/corpus/$target" \
        >"$OUT/$target.log" 2>&1; then
        echo "fuzz: $target ok: $(grep -E '^stat::number_of_executed_units' "$OUT/$target.log" | awk '{print $2}') runs, no crash"
    else
        echo "fuzz: $target FAILED (see $OUT/$target.log and $OUT/crash-*):"
        tail -30 "$OUT/$target.log"
        failed=1
    fi
done
exit $failed
