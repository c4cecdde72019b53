#!/bin/bash
# serve_ab.sh: one /predict request per call, two forest-serve binaries side
# by side with wrk and bench/post.lua, in alternating rounds (A B A B ...)
# so a busy machine slows both alike. Prints a table of req/s per round,
# the medians and the ratio B / A.
#
#   bench/serve_ab.sh BASE [NEW]      NEW defaults to build/forest-serve
#
# e.g. the server of main against this tree's:
#   git archive main | tar -x -C /tmp/base && make -C /tmp/base build/forest-serve
#   bench/serve_ab.sh /tmp/base/build/forest-serve
#
# Knobs: ROUNDS (3 per binary), SECONDS_PER_ROUND (5), CONNS (16),
# THREADS (server threads, 1: one core serves, one runs wrk); MODEL_DIR_A and
# MODEL_DIR_B, the store each side serves (default: one model trained here;
# bench/s3_serve.sh sets them to a directory and an s3:// copy of it); BODY,
# the request (default: one row of the 21 features of a direct model; an
# older release's model, which both servers can load, takes its own row).
set -eu
cd "$(dirname "$0")/.."
base=${1:?usage: bench/serve_ab.sh BASE [NEW]}
new=${2:-build/forest-serve}
rounds=${ROUNDS:-3}
secs=${SECONDS_PER_ROUND:-5}
conns=${CONNS:-16}
threads=${THREADS:-1}
command -v wrk >/dev/null || { echo "serve_ab: error: wrk is missing (scripts/install-deps.sh test)" >&2; exit 1; }

tmp=$(mktemp -d /tmp/serve-ab.XXXXXX)
pid=""
cleanup() {
    [ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
    rm -rf "$tmp"
}
trap cleanup EXIT

if [ -z "${MODEL_DIR_A:-}" ] || [ -z "${MODEL_DIR_B:-}" ]; then
    make -s build/forest-train
    mkdir -p "$tmp/models"
    AS_OF=2026-07-01 MODEL_VERSION=v1 QUIET=1 build/forest-train --model-dir "$tmp/models"
fi
dir_a=${MODEL_DIR_A:-$tmp/models}
dir_b=${MODEL_DIR_B:-$tmp/models}
body=${BODY:-'{"features": [120.5, 118, 119, 121, 117, 115, 119.2, 2.1, 118.0, 3.3, 121, 117, 119, 115, 118, 1, 2, 15, 3, 1, 0]}'}

# round BINARY MODEL_DIR: starts it, runs wrk once, stops it; prints req/s.
round() {
    PORT=0 HOST=127.0.0.1 THREADS=$threads DRAIN_SECONDS=0 MODEL_DIR="$2" \
        "$1" >"$tmp/serve.log" 2>&1 &
    pid=$!
    # The port is logged on its own line, which may come after the model's.
    for _ in $(seq 200); do
        grep -q '"event":"model_loaded"' "$tmp/serve.log" &&
            grep -q '"event":"listening"' "$tmp/serve.log" && break
        sleep 0.05
    done
    grep -q '"event":"model_loaded"' "$tmp/serve.log" ||
        { echo "serve_ab: error: no model loaded from $2" >&2; exit 1; }
    port=$(sed -n 's/.*"event":"listening".*"port":\([0-9]*\).*/\1/p' "$tmp/serve.log")
    out=$(BENCH_BODY=$body wrk -t1 -c"$conns" -d"${secs}s" -s bench/post.lua \
          "http://127.0.0.1:$port/predict")
    kill "$pid"
    wait "$pid" 2>/dev/null || true
    pid=""
    rec=$(printf '%s\n' "$out" | sed -n 's/^BENCH //p')
    printf '%s\n' "$rec" | jq -r '
        if .status_errors + .connect_errors + .read_errors + .write_errors + .timeouts > 0
        then error("errors in the run") else . end
        | (.requests / (.duration_us / 1e6)) | floor'
}

printf '%-6s %-10s %12s\n' round binary "req/s"
a=() b=()
for r in $(seq "$rounds"); do
    x=$(round "$base" "$dir_a"); a+=("$x"); printf '%-6s %-10s %12s\n' "$r" A "$x"
    y=$(round "$new" "$dir_b"); b+=("$y"); printf '%-6s %-10s %12s\n' "$r" B "$y"
done
median() { printf '%s\n' "$@" | sort -n | awk '{v[NR] = $1} END {print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2}'; }
ma=$(median "${a[@]}")
mb=$(median "${b[@]}")
echo
printf 'A %s (MODEL_DIR %s)\nB %s (MODEL_DIR %s)\n' "$base" "$dir_a" "$new" "$dir_b"
printf 'median req/s: A %s, B %s; B / A = %s\n' "$ma" "$mb" \
    "$(awk -v a="$ma" -v b="$mb" 'BEGIN { printf "%.3f", b / a }')"
