#!/bin/bash
# s3_serve.sh: /predict from a model loaded from S3 against the same model
# loaded from a file (issue 13: serving from the object store costs nothing
# per request, since the model is decoded into memory either way). One
# forest-serve binary, the same model.bin, alternating rounds (file, S3,
# file, S3 ...) with wrk and bench/post.lua so a busy machine slows both
# alike; prints req/s per round, the medians and the ratio S3 / file.
#
#   bench/s3_serve.sh       starts a SeaweedFS of its own through
#                           tests/s3/run.sh (weed built once, cached), then
#                           runs against it; everything is removed after
#
# Knobs: ROUNDS (3 each), SECONDS_PER_ROUND (5), CONNS (16), THREADS (1).
set -eu
cd "$(dirname "$0")/.."
if [ -z "${AWS_ENDPOINT_URL:-}" ] || [ -z "${S3_TEST_BUCKET:-}" ]; then
    make -s build/forest-train build/forest-serve
    S3_RUN="$PWD/bench/s3_serve.sh" exec tests/s3/run.sh
fi
rounds=${ROUNDS:-3}
secs=${SECONDS_PER_ROUND:-5}
conns=${CONNS:-16}
threads=${THREADS:-1}
command -v wrk >/dev/null || { echo "s3_serve: error: wrk is missing (scripts/install-deps.sh test)" >&2; exit 1; }

tmp=$(mktemp -d /tmp/s3-serve.XXXXXX)
pid=""
cleanup() {
    [ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
    rm -rf "$tmp"
}
trap cleanup EXIT

mkdir -p "$tmp/models"
s3="s3://$S3_TEST_BUCKET/bench"
AS_OF=2026-07-01 MODEL_VERSION=v1 QUIET=1 build/forest-train --model-dir "$tmp/models"
# The same version on S3, each model.bin verified on the way.
QUIET=1 build/forest-train copy-store --model-dir "$tmp/models" --copy-to "$s3" >/dev/null
body='{"features": [120.5, 118, 119, 121, 117, 115, 119.2, 2.1, 118.0, 3.3, 121, 117, 119, 115, 118, 1, 2, 15, 3, 1, 0]}'

# round MODEL_DIR: starts the server on it, runs wrk once, stops it;
# prints req/s.
round() {
    PORT=0 HOST=127.0.0.1 THREADS=$threads DRAIN_SECONDS=0 MODEL_DIR="$1" \
        build/forest-serve >"$tmp/serve.log" 2>&1 &
    pid=$!
    for _ in $(seq 200); do
        grep -q '"event":"model_loaded"' "$tmp/serve.log" && break
        sleep 0.05
    done
    grep -q '"version":"v1"' "$tmp/serve.log" || { echo "s3_serve: error: v1 not loaded from $1" >&2; exit 1; }
    port=$(sed -n 's/.*"event":"listening".*"port":\([0-9]*\).*/\1/p' "$tmp/serve.log")
    out=$(BENCH_BODY=$body wrk -t1 -c"$conns" -d"${secs}s" -s bench/post.lua \
          "http://127.0.0.1:$port/predict")
    kill "$pid"
    wait "$pid" 2>/dev/null || true
    pid=""
    printf '%s\n' "$out" | sed -n 's/^BENCH //p' | jq -r '
        if .status_errors + .connect_errors + .read_errors + .write_errors + .timeouts > 0
        then error("errors in the run") else . end
        | (.requests / (.duration_us / 1e6)) | floor'
}

printf '%-6s %-6s %12s\n' round model "req/s"
file_rates="" s3_rates=""
for i in $(seq "$rounds"); do
    r=$(round "$tmp/models"); file_rates="$file_rates $r"
    printf '%-6s %-6s %12s\n' "$i" file "$r"
    r=$(round "$s3"); s3_rates="$s3_rates $r"
    printf '%-6s %-6s %12s\n' "$i" s3 "$r"
done
median() { printf '%s\n' $1 | sort -n | awk '{ a[NR] = $1 } END { print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }
mf=$(median "$file_rates")
ms=$(median "$s3_rates")
printf '\n| model loaded from | median req/s |\n|---|---|\n| a file (MODEL_DIR=dir) | %s |\n| S3 (MODEL_DIR=s3://, SeaweedFS on loopback) | %s |\n' "$mf" "$ms"
awk -v a="$mf" -v b="$ms" 'BEGIN { printf "\nS3 / file: %.3f\n", b / a }'
