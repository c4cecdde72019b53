#!/usr/bin/env bash
# shadow.sh: what CANDIDATE_MODE=shadow costs a request, side by side with
# CANDIDATE_MODE=off on the same store and the same bodies.
#
# Trains two 100-tree, depth-10 forests on the synthetic data (current and
# a candidate, different seeds), starts forest-serve (the release build)
# once per mode, and runs wrk with bench/post.lua against each in turn,
# alternating the modes for BENCH_ROUNDS rounds so drift of a shared
# machine hits both alike. Prints one table: the median over rounds of
# requests per second and latency percentiles, and the shadow/off ratio.
# Shadow scores up to SHADOW_MAX_ROWS (100) rows of each request inline,
# after the answer is computed: its cost is the candidate's trees on those
# rows, which is what the table measures.
#
#   bench/shadow.sh                       (make all first)
#   BENCH_SECONDS=5 BENCH_ROUNDS=3 BENCH_CONNECTIONS=4 bench/shadow.sh
set -euo pipefail
cd "$(dirname "$0")/.."

SECONDS_PER_RUN=${BENCH_SECONDS:-5}
ROUNDS=${BENCH_ROUNDS:-3}
CONNS=${BENCH_CONNECTIONS:-4}
TRAIN=build/forest-train
SERVE=build/forest-serve
for tool in wrk jq "$TRAIN" "$SERVE"; do
    if ! command -v "$tool" >/dev/null 2>&1 && [ ! -x "$tool" ]; then
        echo "bench/shadow.sh: error: '$tool' is missing (make all;" \
            "scripts/install-deps.sh bench)" >&2
        exit 1
    fi
done

TMP=$(mktemp -d "${TMPDIR:-/tmp}/bench-shadow.XXXXXX")
SERVER=""
cleanup() {
    [ -n "$SERVER" ] && kill "$SERVER" 2>/dev/null && wait "$SERVER" 2>/dev/null
    rm -rf "$TMP"
}
trap cleanup EXIT

export AS_OF=2026-07-01 QUIET=true N_ESTIMATORS=100 MAX_DEPTH=10
"$TRAIN" --model-dir "$TMP" --model-version current-v --seed 1
"$TRAIN" --model-dir "$TMP" --model-version candidate-v --seed 2 \
    --promote-to candidate

# start MODE: starts the server on a free port, sets SERVER and PORT.
start() {
    env PORT=0 HOST=127.0.0.1 MODEL_DIR="$TMP" CANDIDATE_MODE="$1" \
        DRAIN_SECONDS=0 THREADS=2 "$SERVE" >"$TMP/serve.log" 2>&1 &
    SERVER=$!
    for _ in $(seq 1 100); do
        if grep -q '"event":"listening"' "$TMP/serve.log" &&
            grep -q '"event":"model_loaded"' "$TMP/serve.log"; then
            break
        fi
        sleep 0.1
    done
    PORT=$(grep '"event":"listening"' "$TMP/serve.log" | jq -r .port)
    if [ "$1" = shadow ]; then
        for _ in $(seq 1 100); do
            grep -q '"event":"candidate_loaded"' "$TMP/serve.log" && break
            sleep 0.1
        done
    fi
}

stop() {
    kill "$SERVER" && wait "$SERVER" 2>/dev/null || true
    SERVER=""
}

# One row by name, and a batch of 100 rows (the features of /model).
start off
names=$(curl -s "http://127.0.0.1:$PORT/model" | jq -c .features)
stop
one=$(jq -nc --argjson n "$names" \
    '{features: ([$n[] | {(.): 1.5}] | add)}')
batch=$(jq -nc --argjson n "$names" \
    '{instances: [range(100) as $i | [range($n | length) as $k | ($i + $k) % 17 + 0.5]]}')

# run MODE BODY: one wrk run; prints "req/s p50 p99" (µs).
run() {
    local out
    start "$1"
    BENCH_BODY=$2 wrk -t1 -c"$CONNS" -d1s -s bench/post.lua \
        "http://127.0.0.1:$PORT/predict" >/dev/null 2>&1
    out=$(BENCH_BODY=$2 wrk -t1 -c"$CONNS" -d"${SECONDS_PER_RUN}s" \
        -s bench/post.lua "http://127.0.0.1:$PORT/predict" |
        sed -n 's/^BENCH //p')
    if [ "$1" = shadow ] &&
        [ "$(curl -s "http://127.0.0.1:$PORT/metrics" |
            awk '$1 == "forest_serve_shadow_rows_total" { print $2 }')" = 0 ]; then
        echo "bench/shadow.sh: error: the shadow server scored no row" >&2
        exit 1
    fi
    stop
    jq -r '"\(.requests / (.duration_us / 1e6)) \(.p50_us) \(.p99_us) \(.status_errors)"' <<<"$out"
}

median() { sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

printf '%s\n' "forest-serve CANDIDATE_MODE off vs shadow: 100 trees, depth 10," \
    "wrk -t1 -c$CONNS, ${SECONDS_PER_RUN} s per run, median of $ROUNDS rounds" \
    "(modes alternating), THREADS=2, $(nproc) cores"
printf '\n%-12s %-6s %10s %9s %9s %8s\n' body mode "req/s" "p50 µs" "p99 µs" "vs off"
for kind in one batch; do
    body=$one
    [ $kind = batch ] && body=$batch
    : >"$TMP/off" && : >"$TMP/shadow"
    for _ in $(seq 1 "$ROUNDS"); do
        for mode in off shadow; do
            r=$(run $mode "$body")
            if [ "$(cut -d' ' -f4 <<<"$r")" != 0 ]; then
                echo "bench/shadow.sh: error: $mode answered errors" >&2
                exit 1
            fi
            echo "$r" >>"$TMP/$mode"
        done
    done
    base=$(cut -d' ' -f1 "$TMP/off" | median)
    for mode in off shadow; do
        rps=$(cut -d' ' -f1 "$TMP/$mode" | median)
        p50=$(cut -d' ' -f2 "$TMP/$mode" | median)
        p99=$(cut -d' ' -f3 "$TMP/$mode" | median)
        label="1 row"
        [ $kind = batch ] && label="100 rows"
        printf '%-12s %-6s %10.0f %9s %9s %8.3f\n' "$label" "$mode" "$rps" \
            "$p50" "$p99" "$(awk -v a="$rps" -v b="$base" 'BEGIN { print a / b }')"
    done
done
