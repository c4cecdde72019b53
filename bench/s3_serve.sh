#!/bin/bash
# s3_serve.sh: /predict from a model loaded from S3 against the same model
# loaded from a file (issue 13: serving from the object store costs nothing
# per request, since the model is decoded into memory either way). Trains
# one model into a directory, copies it to a bucket with copy-store (each
# model.bin verified), then runs bench/serve_ab.sh with the same binary on
# both: A serves the directory, B the s3:// copy, in alternating rounds.
#
#   bench/s3_serve.sh       starts a SeaweedFS of its own through
#                           tests/s3/run.sh (S3_RUN; weed built once,
#                           cached), runs against it, removes everything
#
# Knobs: those of bench/serve_ab.sh (ROUNDS, SECONDS_PER_ROUND, CONNS, THREADS).
set -eu
cd "$(dirname "$0")/.."
if [ -z "${AWS_ENDPOINT_URL:-}" ] || [ -z "${S3_TEST_BUCKET:-}" ]; then
    make -s build/forest-train build/forest-serve
    S3_RUN="$PWD/bench/s3_serve.sh" exec tests/s3/run.sh
fi
tmp=$(mktemp -d /tmp/s3-serve.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
s3="s3://$S3_TEST_BUCKET/bench"
AS_OF=2026-07-01 MODEL_VERSION=v1 QUIET=1 build/forest-train --model-dir "$tmp"
QUIET=1 build/forest-train copy-store --model-dir "$tmp" --copy-to "$s3" >/dev/null
MODEL_DIR_A=$tmp MODEL_DIR_B=$s3 bench/serve_ab.sh build/forest-serve build/forest-serve
