#!/bin/bash
# Four checks that the docs still match the project, each quote, command
# or request one check, with one closing "N passed, N failed" for all:
# - quotes.py: every YAML block in README.md and theory/*.md marked
#   <!-- quote: k8s/FILE --> is still an excerpt of that manifest;
# - readme_examples.py: the console examples of README.md and then
#   api/README.md, run against a live forest-serve holding a freshly trained
#   model (CANDIDATE_MODE=shadow), and a second one in canary mode. Uses the
#   release build, as a reader of the README would.
# - bodies: the request bodies outside the READMEs (load generator,
#   scripts, compose.yaml, e2e) answered 200 by a default model;
# - openapi-check (tests/openapi): that server's /openapi.json validates
#   (kin-openapi), and every request the examples of api/README.md and
#   README.md send to either server (captured by api_examples.py, which
#   fails when a command sent no request) passes it, or is refused by it
#   where the README shows the server refusing it.
set -u
cd "$(dirname "$0")/../.." || exit 1
PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3
T=$(mktemp -d /tmp/forest-docs-XXXXXX)
server="" canary=""
cleanup() {
    [ -n "$server" ] && kill "$server" 2>/dev/null && wait "$server" 2>/dev/null
    [ -n "$canary" ] && kill "$canary" 2>/dev/null && wait "$canary" 2>/dev/null
    rm -rf "$T"
}
trap cleanup EXIT

# "N passed, N failed" (or "quotes: N passed, N failed") -> "N N".
counts() { sed -n -E 's/^(quotes: |bodies: )?([0-9]+) passed, ([0-9]+) failed$/\2 \3/p' "$1" | tail -n 1; }

"$PY" tests/docs/quotes.py | tee "$T/quotes.out"
quotes_rc=${PIPESTATUS[0]}

make -s build/forest-train build/forest-serve build/openapi-check >/dev/null ||
    exit 1
export MODEL_DIR=$T/models
# The README's examples pin the synthetic days (they say --as-of too).
export AS_OF=2026-07-01
mkdir -p "$MODEL_DIR"
MODEL_VERSION=v1 QUIET=true build/forest-train || exit 1
# Free ports: let the kernel pick them, then use them. The README's server
# (localhost:8000) shadows a candidate; its canary example runs against a
# second server (localhost:8001) on the same store.
free_port() { $PY -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
DOCS_PORT=$(free_port)
DOCS_CANARY_PORT=$(free_port)
export DOCS_PORT DOCS_CANARY_PORT
PORT=$DOCS_PORT HOST=127.0.0.1 CANDIDATE_MODE=shadow build/forest-serve >"$T/server.log" 2>&1 &
server=$!
PORT=$DOCS_CANARY_PORT HOST=127.0.0.1 CANDIDATE_MODE=canary CANARY_PERCENT=50 \
    build/forest-serve >"$T/canary.log" 2>&1 &
canary=$!
for _ in $(seq 100); do
    curl -sf "localhost:$DOCS_PORT/ready" >/dev/null &&
        curl -sf "localhost:$DOCS_CANARY_PORT/ready" >/dev/null && break
    sleep 0.05
done
# The document and the requests first, while v1 (which the examples'
# version paths name) serves: the README's own flow trains v2 later.
curl -sf "localhost:$DOCS_PORT/openapi.json" >"$T/openapi.json"
"$PY" tests/docs/api_examples.py "$T/requests.jsonl" | tee "$T/capture.out"
capture_rc=${PIPESTATUS[0]}
# The README's python3 is Debian's, with python3-xgboost (install-deps.sh
# test), ahead of any other python3 on PATH.
PATH=/usr/bin:$PATH "$PY" tests/docs/readme_examples.py | tee "$T/examples.out"
examples_rc=${PIPESTATUS[0]}

build/openapi-check "$T/openapi.json" "$T/requests.jsonl" | tee "$T/openapi.out"
openapi_rc=${PIPESTATUS[0]}

# The request bodies that live outside the READMEs (the load generator's
# row, the minikube scripts' and compose.yaml's sample, e2e's request) are
# answered 200 by a model trained with the defaults: when the feature list
# changes they must change with it (a refused load scales nothing).
bodies() {
    local p=0 f=0 name body code
    while IFS='|' read -r name body; do
        code=$(curl -s -o "$T/body.out" -w '%{http_code}' -H 'Content-Type: application/json' \
            --data-binary "$body" "localhost:$DOCS_PORT/predict")
        if [ "$code" = 200 ]; then
            echo "ok   body: $name"
            p=$((p + 1))
        else
            echo "FAIL body: $name: $code $(head -c 300 "$T/body.out")"
            f=$((f + 1))
        fi
    done <<EOF2
k8s/examples/load-generator/load-job.yaml|{"instances": [$(sed -n "s/^ *row='\(.*\)'$/\1/p" k8s/examples/load-generator/load-job.yaml)]}
scripts/minikube-lib.sh|$(sed -n "s/^SAMPLE='\(.*\)'$/\1/p" scripts/minikube-lib.sh)
tests/images/run.sh|$(sed -n "s/^SAMPLE='\(.*\)'$/\1/p" tests/images/run.sh)
compose.yaml|$(sed -n "s/^#     -d '\(.*\)' \\\\$/\1/p" compose.yaml)
tests/e2e/data/predict-request.json|$(cat tests/e2e/data/predict-request.json)
EOF2
    echo "bodies: $p passed, $f failed"
    [ "$f" -eq 0 ]
}
bodies | tee "$T/bodies.out"
bodies_rc=${PIPESTATUS[0]}

read -r qp qf <<<"$(counts "$T/quotes.out")"
read -r ep ef <<<"$(counts "$T/examples.out")"
read -r op of <<<"$(counts "$T/openapi.out")"
read -r bp bf <<<"$(counts "$T/bodies.out")"
# The capture is one check: every README command that talks to a server
# sent its request (else openapi-check would pass on fewer of them).
cp=1 cf=0
[ "$capture_rc" -eq 0 ] || { cp=0 cf=1; }
echo "$((${qp:-0} + ${ep:-0} + ${op:-0} + ${bp:-0} + cp)) passed," \
     "$((${qf:-1} + ${ef:-1} + ${of:-1} + ${bf:-1} + cf)) failed"
[ "$quotes_rc" -eq 0 ] && [ "$examples_rc" -eq 0 ] && [ "$openapi_rc" -eq 0 ] &&
    [ "$bodies_rc" -eq 0 ] && [ "$capture_rc" -eq 0 ]
