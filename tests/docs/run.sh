#!/bin/bash
# Runs the README's console examples against a live forest-serve holding a
# freshly trained model (see readme_examples.py). Uses the release build, as
# a reader of the README would.
set -u
cd "$(dirname "$0")/../.."
PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3
T=$(mktemp -d /tmp/forest-docs-XXXXXX)
server=""
cleanup() {
    [ -n "$server" ] && kill "$server" 2>/dev/null && wait "$server" 2>/dev/null
    rm -rf "$T"
}
trap cleanup EXIT

make -s build/forest-train build/forest-serve >/dev/null || exit 1
export MODEL_DIR=$T/models
mkdir -p "$MODEL_DIR"
MODEL_VERSION=v1 QUIET=true build/forest-train || exit 1
# A free port: let the kernel pick one, then use it.
DOCS_PORT=$($PY -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
export DOCS_PORT
PORT=$DOCS_PORT HOST=127.0.0.1 build/forest-serve >"$T/server.log" 2>&1 &
server=$!
for _ in $(seq 100); do
    curl -sf "localhost:$DOCS_PORT/ready" >/dev/null && break
    sleep 0.05
done
"$PY" tests/docs/readme_examples.py
