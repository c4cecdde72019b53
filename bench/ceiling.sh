#!/bin/bash
# ceiling.sh: forest-serve's /predict against the loopback's ceiling, nginx
# answering the same POST with a constant reply of the same size (issue 17,
# item 5). One row of a model of 100 trees of depth 10 (the defaults of
# `forest-train`), the same wrk (2 threads, 32 keep-alive connections) for
# both, in alternating rounds (nginx, libmicrohttpd, ours, nginx, ...) so
# a busy machine slows all alike. The middle one is libmicrohttpd's own
# ceiling: bench-mhd-constant (bench/mhd_constant.c), a daemon started as
# forest-serve starts it answering the same constant reply, so the gap to
# nginx splits into the library's share and our request path's. Prints
# req/s and p99 per round, the medians and the ratios ours / nginx (the
# issue's), libmicrohttpd / nginx and ours / libmicrohttpd, and per request
# the server's CPU time (its threads' or workers' user + system, from
# /proc) and how often its threads were preempted (involuntary context
# switches): on 2 cores shared with wrk the server that spends more per
# request is also preempted more when its replies wake wrk, which costs
# both sides again.
#
#   bench/ceiling.sh
#
# Knobs: ROUNDS (3 each), SECONDS_PER_ROUND (10), CONNS (32), WRK_THREADS
# (2), THREADS (forest-serve's HTTP threads, 0: one per core), NGINX_WORKERS
# (2: one per core, as nginx's `auto` here).
# Needs nginx (Debian's nginx-light) and wrk: scripts/install-deps.sh bench.
set -eu
cd "$(dirname "$0")/.."
rounds=${ROUNDS:-3}
secs=${SECONDS_PER_ROUND:-10}
conns=${CONNS:-32}
wrk_threads=${WRK_THREADS:-2}
threads=${THREADS:-0}
workers=${NGINX_WORKERS:-2}
for tool in wrk nginx jq pgrep; do
    command -v "$tool" >/dev/null || PATH=$PATH:/usr/sbin command -v "$tool" >/dev/null || {
        echo "ceiling: error: $tool is missing (scripts/install-deps.sh bench)" >&2
        exit 1
    }
done
nginx=$(PATH=$PATH:/usr/sbin command -v nginx)

tmp=$(mktemp -d /tmp/ceiling.XXXXXX)
pid=""
cleanup() {
    [ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
    rm -rf "$tmp"
}
trap cleanup EXIT

make -s build/forest-train build/forest-serve build/bench-mhd-constant
mkdir -p "$tmp/models"
AS_OF=2026-07-01 MODEL_VERSION=v1 QUIET=1 build/forest-train --model-dir "$tmp/models"
body='{"features": [120.5, 118, 119, 121, 117, 115, 119.2, 2.1, 118.0, 3.3, 121, 117, 119, 115, 118, 1, 2, 15, 3, 1, 0]}'

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# start_ours: forest-serve on the model; sets pid and port.
start_ours() {
    port=$(free_port)
    PORT=$port HOST=127.0.0.1 THREADS=$threads DRAIN_SECONDS=0 \
        MODEL_DIR="$tmp/models" build/forest-serve >"$tmp/serve.log" 2>&1 &
    pid=$!
    for _ in $(seq 200); do
        curl -sf "http://127.0.0.1:$port/ready" >/dev/null && return 0
        sleep 0.05
    done
    echo "ceiling: error: forest-serve did not become ready" >&2
    exit 1
}

# wait_answering NAME LOG...: waits until a POST to $port/predict gets a
# 200; else prints the logs and exits.
wait_answering() {
    local name=$1
    shift
    for _ in $(seq 200); do
        [ "$(curl -s -o /dev/null -w '%{http_code}' -X POST "http://127.0.0.1:$port/predict")" = 200 ] &&
            return 0
        sleep 0.05
    done
    cat "$@" >&2 2>/dev/null
    echo "ceiling: error: $name did not start" >&2
    exit 1
}

# start_nginx: nginx in the foreground with `workers` workers, keep-alive,
# no logging, answering /predict with `reply` (ours, captured once); sets
# pid and port.
start_nginx() {
    port=$(free_port)
    cat >"$tmp/nginx.conf" <<EOF
daemon off;
worker_processes $workers;
pid $tmp/nginx.pid;
error_log $tmp/nginx-error.log;
events { worker_connections 1024; }
http {
    access_log off;
    keepalive_requests 1000000;
    client_body_temp_path $tmp/body;
    proxy_temp_path $tmp/proxy;
    fastcgi_temp_path $tmp/fastcgi;
    uwsgi_temp_path $tmp/uwsgi;
    scgi_temp_path $tmp/scgi;
    server {
        listen 127.0.0.1:$port;
        location = /predict {
            default_type application/json;
            return 200 '$reply';
        }
    }
}
EOF
    "$nginx" -c "$tmp/nginx.conf" -p "$tmp" 2>"$tmp/nginx.out" &
    pid=$!
    wait_answering nginx "$tmp/nginx.out" "$tmp/nginx-error.log"
}

# start_mhd: bench-mhd-constant with forest-serve's thread count, answering
# `reply`; sets pid and port.
start_mhd() {
    port=$(free_port)
    build/bench-mhd-constant "$port" "$reply" "$threads" 2>"$tmp/mhd.out" &
    pid=$!
    wait_answering bench-mhd-constant "$tmp/mhd.out"
}

stop() {
    kill "$pid"
    wait "$pid" 2>/dev/null || true
    pid=""
}

# usage SERVER: the server's CPU clock ticks (user + system) and
# involuntary context switches so far, summed over the threads of
# forest-serve or bench-mhd-constant, or nginx's workers (the children of
# $pid).
usage() {
    local procs task
    procs=$pid
    [ "$1" = nginx ] && procs=$(pgrep -P "$pid" | tr '\n' ' ')
    for p in $procs; do
        for task in /proc/"$p"/task/*; do
            awk '{print $14 + $15}' "$task/stat"
            awk '/^nonvoluntary_ctxt_switches/ {print "cs", $2}' "$task/status"
        done
    done | awk '$1 == "cs" {cs += $2; next} {ticks += $1} END {print ticks + 0, cs + 0}'
}

# measure SERVER: wrk against $port; prints "req/s p99_us cpu_us_per_request
# preemptions_per_request".
measure() {
    local out rec t0 c0 t1 c1
    read -r t0 c0 < <(usage "$1")
    out=$(BENCH_BODY=$body wrk -t"$wrk_threads" -c"$conns" -d"${secs}s" -s bench/post.lua \
        "http://127.0.0.1:$port/predict")
    read -r t1 c1 < <(usage "$1")
    rec=$(printf '%s\n' "$out" | sed -n 's/^BENCH //p')
    printf '%s\n' "$rec" | jq -r --argjson ticks $((t1 - t0)) --argjson cs $((c1 - c0)) \
        --argjson hz "$(getconf CLK_TCK)" '
        if .status_errors + .connect_errors + .read_errors + .write_errors + .timeouts > 0
        then error("errors in the run") else . end
        | "\((.requests / (.duration_us / 1e6)) | floor) \(.p99_us) " +
          "\($ticks / $hz / .requests * 1e7 | round / 10) " +
          "\($cs / .requests * 1000 | round / 1000)"'
}

start_ours
reply=$(curl -s -H 'Content-Type: application/json' --data-binary "$body" \
    "http://127.0.0.1:$port/predict")
stop
case $reply in
*"'"*) echo "ceiling: error: the reply has a quote nginx's config cannot hold" >&2; exit 1 ;;
esac

printf '%-6s %-14s %10s %10s %14s %16s\n' round server "req/s" "p99 us" "CPU us/req" "preempted/req"
n=() m=() o=() np=() mp=() op=() nc=() mc=() oc=() ni=() mi=() oi=()
for r in $(seq "$rounds"); do
    start_nginx
    read -r x xp xc xi < <(measure nginx)
    stop
    n+=("$x") np+=("$xp") nc+=("$xc") ni+=("$xi")
    printf '%-6s %-14s %10s %10s %14.1f %16.3f\n' "$r" nginx "$x" "$xp" "$xc" "$xi"
    start_mhd
    read -r x xp xc xi < <(measure mhd)
    stop
    m+=("$x") mp+=("$xp") mc+=("$xc") mi+=("$xi")
    printf '%-6s %-14s %10s %10s %14.1f %16.3f\n' "$r" libmicrohttpd "$x" "$xp" "$xc" "$xi"
    start_ours
    read -r y yp yc yi < <(measure ours)
    stop
    o+=("$y") op+=("$yp") oc+=("$yc") oi+=("$yi")
    printf '%-6s %-14s %10s %10s %14.1f %16.3f\n' "$r" forest-serve "$y" "$yp" "$yc" "$yi"
done
median() { printf '%s\n' "$@" | sort -n | awk '{v[NR] = $1} END {print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2}'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", b / a }'; }
mn=$(median "${n[@]}")
mm=$(median "${m[@]}")
mo=$(median "${o[@]}")
echo
echo "reply: ${#reply} bytes from all three ($reply)"
echo "wrk -t$wrk_threads -c$conns -d${secs}s; nginx $("$nginx" -v 2>&1 | sed 's/.*: //') with $workers workers; libmicrohttpd $(dpkg-query -W -f '${Version}' libmicrohttpd12 2>/dev/null || echo '?') and forest-serve with THREADS=$threads"
echo "machine: $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg)"
printf 'median req/s: nginx %s (p99 %s us), libmicrohttpd %s (p99 %s us), forest-serve %s (p99 %s us)\n' \
    "$mn" "$(median "${np[@]}")" "$mm" "$(median "${mp[@]}")" "$mo" "$(median "${op[@]}")"
printf 'forest-serve / nginx = %s; libmicrohttpd / nginx = %s; forest-serve / libmicrohttpd = %s\n' \
    "$(ratio "$mn" "$mo")" "$(ratio "$mn" "$mm")" "$(ratio "$mm" "$mo")"
printf 'median per request: server CPU nginx %s us, libmicrohttpd %s us, forest-serve %s us; preempted nginx %s, libmicrohttpd %s, forest-serve %s\n' \
    "$(median "${nc[@]}")" "$(median "${mc[@]}")" "$(median "${oc[@]}")" \
    "$(median "${ni[@]}")" "$(median "${mi[@]}")" "$(median "${oi[@]}")"
