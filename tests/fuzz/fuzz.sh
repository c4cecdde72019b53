#!/usr/bin/env bash
# tests/fuzz/fuzz.sh: builds the libFuzzer targets with clang and runs each
# for a short time (make fuzz). Needs clang and its libFuzzer runtime
# (libclang-rt-14-dev on Debian).
#
#   FUZZ_SECONDS   seconds per target (default 25; two targets)
#   FUZZ_TARGETS   which to run (default "request model")
#   CLANG          compiler (default clang)
#   LIB_SRC, SERVE_SRC   the Makefile's source lists (make passes them)
#
# New interesting inputs go to build/fuzz/corpus-<target>/ (not committed);
# the seeds are tests/fuzz/corpus/<target>/. A crash leaves its input as
# build/fuzz/crash-* and fails the run: copy it into the seed corpus once
# fixed, so it stays a regression case.
set -euo pipefail
cd "$(dirname "$0")/../.."

CLANG=${CLANG:-clang}
FUZZ_SECONDS=${FUZZ_SECONDS:-25}
FUZZ_TARGETS=${FUZZ_TARGETS:-request model}
LIB_SRC=${LIB_SRC:-$(ls libforest/*.c)}
SERVE_SRC=${SERVE_SRC:-$(ls api/*.c)}
OUT=build/fuzz
SAN="-fsanitize=address,undefined -fno-sanitize-recover=undefined"
CFLAGS="-std=c11 -g -O1 -fno-omit-frame-pointer -Wall -Wextra -pthread
        -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE -DFR_VERSION=\"fuzz\"
        -Ilibforest -Iapi"

if ! command -v "$CLANG" >/dev/null; then
    echo "fuzz: error: '$CLANG' not found (apt-get install clang libclang-rt-14-dev)" >&2
    exit 2
fi
mkdir -p "$OUT/obj"

# Everything the targets link, instrumented for coverage; main.c (main())
# and server.c (libmicrohttpd) are the server's shell, not parsers.
objs=()
for src in $LIB_SRC $SERVE_SRC; do
    case $src in api/main.c|api/server.c) continue ;; esac
    obj=$OUT/obj/${src//\//_}.o
    objs+=("$obj")
    if [ ! -e "$obj" ] || [ "$src" -nt "$obj" ] ||
       [ -n "$(find libforest api -name '*.h' -newer "$obj" -print -quit)" ]; then
        # shellcheck disable=SC2086
        "$CLANG" $CFLAGS $SAN -fsanitize=fuzzer-no-link -c -o "$obj" "$src"
    fi
done

failed=0
for target in $FUZZ_TARGETS; do
    bin=$OUT/fuzz-$target
    # shellcheck disable=SC2086
    "$CLANG" $CFLAGS $SAN -fsanitize=fuzzer -o "$bin" \
        "tests/fuzz/fuzz_$target.c" "${objs[@]}" -lcjson -lcsv -lz -lm
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
