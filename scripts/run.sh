#!/bin/sh
# make run: train on the built-in synthetic data into ./models, then serve
# it on http://127.0.0.1:${PORT:-8000} until Ctrl-C.
set -eu
cd "$(dirname "$0")/.."
MODEL_DIR=${MODEL_DIR:-$PWD/models}
PORT=${PORT:-8000}
# The same synthetic days on every machine and every day, so the numbers
# match the README's; the CronJob leaves AS_OF empty to get new days.
AS_OF=${AS_OF:-2026-07-01}
# /docs: Swagger UI's files from Debian's r-cran-swagger when installed
# (the image has its own copy; without them /docs lists the endpoints).
if [ -z "${DOCS_DIR:-}" ] && [ -d /usr/lib/R/site-library/swagger/dist3 ]; then
    DOCS_DIR=/usr/lib/R/site-library/swagger/dist3
    export DOCS_DIR
fi
export MODEL_DIR PORT AS_OF
mkdir -p "$MODEL_DIR"

echo "run: training on synthetic data into $MODEL_DIR"
# Exit 3 means "trained but not promoted": the model already there is
# better, and it is what gets served.
status=0
build/forest-train || status=$?
[ "$status" -eq 0 ] || [ "$status" -eq 3 ] || exit "$status"

cat <<EOT

run: serving $MODEL_DIR/current on http://127.0.0.1:$PORT (Ctrl-C stops)
  status page  http://127.0.0.1:$PORT/    API docs  http://127.0.0.1:$PORT/docs
  curl -s localhost:$PORT/ready
  curl -s localhost:$PORT/model
  curl -s -X POST localhost:$PORT/predict -H 'Content-Type: application/json' \\
    -d '{"features": [120, 118, 131, 125, 119, 117, 122.4, 5.1, 121.8, 6.3, 125, 119, 128, 121, 123.25, 1, 4, 27, 11, 0, 0]}'

EOT
exec build/forest-serve
