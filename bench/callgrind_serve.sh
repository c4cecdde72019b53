#!/bin/bash
# callgrind_serve.sh: instructions per request of forest-serve, counted by
# valgrind's callgrind (load-independent, unlike req/s), split by function.
# One row of a 100-tree, depth-10 model (forest-train's defaults) POSTed to
# /predict N times over one keep-alive connection, and GET /health N times
# as the cheapest path through the same server (MHD, the access handler,
# stats, the reply) for comparison. Instrumentation is switched on only
# after the model is loaded and a warm-up request is answered, so the
# counts are the requests' alone.
#
#   bench/callgrind_serve.sh [BINARY]      BINARY defaults to build/forest-serve
#
# Knobs: N (requests per path, 2000), TOP (functions listed, 25), OUT (a
# directory to keep the callgrind.out files in; default a temporary one),
# MODEL_DIR (serve this store instead of one trained here, e.g. for an older
# release's server that reads only its own format) and BODY (the /predict
# request, for a model with other features).
# Needs valgrind (callgrind_control, callgrind_annotate) and python3.
set -eu
cd "$(dirname "$0")/.."
bin=${1:-build/forest-serve}
n=${N:-2000}
top=${TOP:-25}
for tool in valgrind callgrind_control callgrind_annotate python3; do
    command -v "$tool" >/dev/null || {
        echo "callgrind_serve: error: $tool is missing" >&2
        exit 1
    }
done

tmp=$(mktemp -d /tmp/callgrind-serve.XXXXXX)
out=${OUT:-$tmp}
mkdir -p "$out"
pid=""
cleanup() {
    [ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
    rm -rf "$tmp"
}
trap cleanup EXIT

[ "$bin" != build/forest-serve ] || make -s build/forest-serve
models=${MODEL_DIR:-}
if [ -z "$models" ]; then
    make -s build/forest-train
    models=$tmp/models
    mkdir -p "$models"
    AS_OF=2026-07-01 MODEL_VERSION=v1 QUIET=1 build/forest-train --model-dir "$models"
fi
body=${BODY:-'{"features": [120.5, 118, 119, 121, 117, 115, 119.2, 2.1, 118.0, 3.3, 121, 117, 119, 115, 118, 1, 2, 15, 3, 1, 0]}'}

# profile NAME METHOD PATH: one server under callgrind, N requests; prints
# "NAME instructions-per-request" and leaves $out/NAME.out.
profile() {
    local name=$1 method=$2 path=$3 port
    PORT=0 HOST=127.0.0.1 THREADS=1 DRAIN_SECONDS=0 MODEL_DIR="$models" \
        valgrind --tool=callgrind --instr-atstart=no \
        --callgrind-out-file="$out/$name.out" "$bin" >"$tmp/serve.log" 2>"$tmp/vg.log" &
    pid=$!
    for _ in $(seq 600); do
        grep -q '"event":"model_loaded"' "$tmp/serve.log" && break
        sleep 0.1
    done
    port=$(sed -n 's/.*"event":"listening".*"port":\([0-9]*\).*/\1/p' "$tmp/serve.log")
    [ -n "$port" ] || { echo "callgrind_serve: error: the server did not start" >&2; cat "$tmp/vg.log" >&2; exit 1; }
    # vgdb finds the server by a file named after HOST (and LOGNAME): the
    # client runs with the server's.
    HOST=127.0.0.1 BODY=$body python3 - "$port" "$method" "$path" "$n" "$pid" <<'EOF'
import http.client, os, subprocess, sys
port, method, path, n, pid = int(sys.argv[1]), sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5]
body = os.environ["BODY"] if method == "POST" else None
hdrs = {"Content-Type": "application/json"} if body else {}
c = http.client.HTTPConnection("127.0.0.1", port)
def one():
    c.request(method, path, body=body, headers=hdrs)
    r = c.getresponse()
    r.read()
    if r.status != 200:
        sys.exit("callgrind_serve: error: %s %s answered %d" % (method, path, r.status))
one()  # warm-up: the connection and the per-connection buffers exist now
subprocess.run(["callgrind_control", "-i", "on", pid], check=True, stdout=subprocess.DEVNULL)
for _ in range(n):
    one()
subprocess.run(["callgrind_control", "-i", "off", pid], check=True, stdout=subprocess.DEVNULL)
c.close()
EOF
    kill "$pid"
    wait "$pid" 2>/dev/null || true
    pid=""
    local total
    # "totals:" holds what was counted while instrumentation was on.
    total=$(sed -n 's/^totals: *//p' "$out/$name.out" | head -1)
    echo "$name $(awk -v t="$total" -v n="$n" 'BEGIN { printf "%.0f", t / n }')"
}

read -r _ ppr < <(profile predict POST /predict)
read -r _ hpr < <(profile health GET /health)
echo "instructions per request ($n requests, one keep-alive connection, THREADS=1):"
echo "  POST /predict (one row, 100 trees of depth 10): $ppr"
echo "  GET /health:                                    $hpr"
echo
# per_function [--inclusive=yes]: callgrind_annotate's table of the
# /predict run as instructions per request, one line per function.
per_function() {
    callgrind_annotate "$@" "$out/predict.out" 2>/dev/null |
        awk -v n="$n" -v top="$top" '
            /^-+$/ { dash++; next }
            dash >= 3 && NF >= 2 && $1 ~ /^[0-9,]+$/ {
                v = $1; gsub(",", "", v)
                f = $0; sub(/^ *[0-9,]+ +(\([^)]*\) +)?/, "", f); sub(/ \[[^]]*\]$/, "", f)
                sub(/^\/.*\/wt-[^\/]*\//, "", f); sub(/^\/work\/main\//, "", f)
                if (f in seen) next
                seen[f] = 1
                printf "%10.0f  %s\n", v / n, f
                if (++k >= top) exit
            }'
}
echo "POST /predict, inclusive instructions per request by function (top $top):"
per_function --inclusive=yes
echo
echo "POST /predict, self instructions per request by function (top $top):"
per_function
