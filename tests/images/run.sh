#!/bin/sh
# Image test: builds both images and runs them the way a user would with
# plain Docker, hardened as on Kubernetes (non-root, --read-only, no
# capabilities, no new privileges):
#   - the images: non-root user, no missing shared library, no compiler;
#   - the trainer writes a model to a named volume (exit 0), refuses a bad
#     setting (exit 2), reports a model the gate refused (exit 3), and trains
#     a forest in shards that a merge promotes (the Indexed Job example);
#   - the API mounts the volume read-only and serves it on a published
#     127.0.0.1 port: /health, /ready, POST /predict, GET /model, the status
#     page and /docs (Swagger UI from the image); started on an
#     empty volume it is alive but not ready, and becomes ready once a trainer
#     writes a model; on SIGTERM it exits 0;
#   - compose.yaml: the trainer, then the API (when a compose tool is there).
# Prints "N passed, N failed" last; exits 1 when anything failed.
#
#   tests/images/run.sh            (make image-test)
#   SKIP_BUILD=1 tests/images/run.sh   use the images already built
set -u

cd "$(dirname "$0")/../.." || exit 1
TAG=${IMAGE_TAG:-dev}
TRAIN=mini-ml/forest-train:$TAG
SERVE=mini-ml/forest-serve:$TAG
RUN_ID=imgtest-$$
HARDEN="--read-only --cap-drop ALL --security-opt no-new-privileges"
SAMPLE='{"features": [52.1, 48.7, 50.3, 49.9, 47.2, 51.0, 50.4, 3.1, 49.8, 4.2, 51.5, 49.0, 50.2, 48.8, 49.875, 1, 2, 15, 6, 1, 0]}'
passed=0
failed=0
OUT=$(mktemp -d "${TMPDIR:-/tmp}/imgtest.XXXXXX")

test_cond() {
    if [ "$2" = 0 ]; then
        passed=$((passed + 1))
        echo "ok   $1"
    else
        failed=$((failed + 1))
        echo "FAIL $1"
        [ -n "${3:-}" ] && [ -s "$3" ] && sed 's/^/     | /' "$3" | tail -n 15
    fi
}

# test_rc NAME WANT LOG CMD...: run CMD, output to LOG, expect exit status WANT.
test_rc() {
    name=$1
    want=$2
    log=$3
    shift 3
    "$@" >"$log" 2>&1
    rc=$?
    [ "$rc" = "$want" ]
    test_cond "$name (exit $rc, want $want)" $? "$log"
}

cleanup() {
    docker ps -aq --filter "label=$RUN_ID" | xargs -r docker rm -f >/dev/null 2>&1
    if [ -n "${COMPOSE:-}" ]; then
        compose -p "$RUN_ID" down -v >/dev/null 2>&1
    fi
    docker volume ls -q --filter "label=$RUN_ID" | xargs -r docker volume rm >/dev/null 2>&1
    rm -rf "$OUT"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

volume() { docker volume create --label "$RUN_ID" "$RUN_ID-$1" >/dev/null && echo "$RUN_ID-$1"; }

# trainer VOLUME [docker run args...] -- [trainer args...]
trainer() {
    vol=$1
    shift
    # shellcheck disable=SC2086 # HARDEN is a list of flags
    docker run --rm --pull never --label "$RUN_ID" $HARDEN -v "$vol:/models" "$@"
}

# serve VOLUME NAME [env...]: starts the API, prints its container id.
serve() {
    vol=$1
    name=$2
    shift 2
    # shellcheck disable=SC2086 # HARDEN is a list of flags
    docker run -d --pull never --label "$RUN_ID" --name "$RUN_ID-$name" $HARDEN \
        -v "$vol:/models:ro" -p 127.0.0.1::8000 "$@" "$SERVE"
}

# The host port Docker published for a container's 8000.
port_of() { docker port "$1" 8000/tcp | head -n 1 | sed 's/.*://'; }

# wait_status URL CODE SECONDS: poll until GET URL answers CODE.
wait_status() {
    i=0
    while [ "$i" -lt $(($3 * 5)) ]; do
        [ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "$1")" = "$2" ] && return 0
        sleep 0.2
        i=$((i + 1))
    done
    return 1
}

status_of() { curl -s -o /dev/null -w '%{http_code}' --max-time 5 "$1"; }

# ---- build ----------------------------------------------------------------
if [ -z "${SKIP_BUILD:-}" ]; then
    test_rc "build both images (scripts/build-images.sh)" 0 "$OUT/build.log" \
        scripts/build-images.sh "$TAG"
fi
for image in "$TRAIN" "$SERVE"; do
    docker image inspect "$image" >/dev/null 2>&1
    test_cond "image $image exists" $?
done

# ---- the images -------------------------------------------------------------
for pair in "$TRAIN forest-train" "$SERVE forest-serve"; do
    image=${pair% *}
    bin=${pair#* }
    user=$(docker image inspect -f '{{.Config.User}}' "$image" 2>/dev/null)
    [ "$user" = "65532:65532" ]
    test_cond "$bin image runs as 65532:65532 (got '$user')" $?
    # No shell or ldd in the image: the program itself must start, which the
    # dynamic loader refuses when a shared library is missing.
    docker run --rm --pull never $HARDEN "$image" --version >"$OUT/version" 2>&1 &&
        grep -q "^$bin " "$OUT/version"
    test_cond "$bin starts in its image, every shared library found ($bin --version)" $? "$OUT/version"
    # What the image holds: the program, shared libraries, CA certificates,
    # passwd and group, Swagger UI's files for the server's /docs, and what
    # Docker adds to every container (.dockerenv, /etc/hosts, /dev, ...).
    # Nothing else: no shell, no compiler, no make.
    if cid=$(docker create --pull never --label "$RUN_ID" "$image" 2>"$OUT/files"); then
        docker export "$cid" | tar -t >"$OUT/files" 2>&1
        docker rm "$cid" >/dev/null 2>&1
        grep -v -x -E "usr/local/bin/$bin|(usr/)?lib(64|/x86_64-linux-gnu)/[^/]+\.so[.0-9]*|etc/(passwd|group|ssl/certs/ca-certificates\.crt)|usr/share/forest-serve/swagger-ui/[^/]+|\.dockerenv|etc/(hostname|hosts|resolv\.conf|mtab)|dev/console|.*/" \
            "$OUT/files" >"$OUT/extra"
        [ -s "$OUT/files" ] && grep -q -x "usr/local/bin/$bin" "$OUT/files" && [ ! -s "$OUT/extra" ]
        test_cond "$bin image holds only the program, its libraries, CA certificates, passwd and group" $? "$OUT/extra"
    else
        test_cond "docker create $image" 1 "$OUT/files"
    fi
    size=$(docker image inspect -f '{{.Size}}' "$image" 2>/dev/null || echo 0)
    echo "     $image: $((size / 1000000)) MB"
    [ "$size" -gt 0 ] && [ "$size" -le 25000000 ]
    test_cond "$bin image is at most 25 MB (issue 17)" $?
done

# ---- the trainer ------------------------------------------------------------
# Every setting of k8s/configmap.yaml, as the pods get them (envFrom).
sed -n '/^data:/,$p' k8s/configmap.yaml |
    sed -n 's/^  \([A-Z_][A-Z0-9_]*\): *"\{0,1\}\([^"]*\)"\{0,1\}$/\1=\2/p' >"$OUT/configmap.env"
grep -q '^N_ESTIMATORS=100$' "$OUT/configmap.env"
test_cond "k8s/configmap.yaml read as an env file" $? "$OUT/configmap.env"
models=$(volume models)
test_rc "forest-train --help" 0 "$OUT/help" trainer "$models" "$TRAIN" --help
# AS_OF a month back, so the refused model below has 30 new days that the
# gate compares both models on.
test_rc "train into a named volume, read-only root, the ConfigMap's settings" 0 "$OUT/train" \
    trainer "$models" --env-file "$OUT/configmap.env" -e AS_OF=2026-06-01 "$TRAIN"
grep -q 'promoted' "$OUT/train"
test_cond "the trainer promoted a version" $? "$OUT/train"
version=$(sed -n 's/.*promoted \([^:]*\):.*/\1/p' "$OUT/train" | head -n 1)
test_rc "a bad setting exits 2" 2 "$OUT/bad" \
    trainer "$models" -e N_ESTIMATORS=abc "$TRAIN"
test_rc "a model the gate refuses exits 3" 3 "$OUT/gate" \
    trainer "$models" -e N_ESTIMATORS=1 -e MAX_DEPTH=1 -e PROMOTE_MAX_REGRESSION=0 \
    -e AS_OF=2026-07-01 "$TRAIN"

# The parallel-training example: 4 shards (JOB_COMPLETION_INDEX as an Indexed
# Job sets it), then a merge that promotes.
shards=$(volume shards)
ok=0
for i in 0 1 2 3; do
    trainer "$shards" -e JOB_COMPLETION_INDEX=$i -e SHARD_COUNT=4 \
        -e SHARD_RUN=parallel-example "$TRAIN" >"$OUT/shard-$i" 2>&1 || ok=1
    grep -q "wrote shard $i of 4" "$OUT/shard-$i" || ok=1
done
test_cond "4 shards from JOB_COMPLETION_INDEX 0..3" $ok "$OUT/shard-3"
test_rc "merge the shards and promote" 0 "$OUT/merge" \
    trainer "$shards" -e SHARD_COUNT=4 -e SHARD_RUN=parallel-example "$TRAIN" merge
grep -q 'merged 4 shards' "$OUT/merge" && grep -q 'promoted' "$OUT/merge"
test_cond "the merge joined 4 shards and promoted them" $? "$OUT/merge"

# ---- the API ----------------------------------------------------------------
if cid=$(serve "$models" api --env-file "$OUT/configmap.env" 2>"$OUT/serve"); then
    port=$(port_of "$cid")
    url="http://127.0.0.1:$port"
    wait_status "$url/ready" 200 20
    test_cond "API on a read-only volume, the ConfigMap's settings: GET /ready 200" $? "$OUT/serve"
    [ "$(status_of "$url/health")" = 200 ]
    test_cond "GET /health 200" $?
    curl -s --max-time 5 -H 'Content-Type: application/json' -d "$SAMPLE" \
        "$url/predict" >"$OUT/predict" 2>&1
    grep -q '"prediction"' "$OUT/predict" && grep -q "\"model_version\"[[:space:]]*:[[:space:]]*\"$version\"" "$OUT/predict"
    test_cond "POST /predict answers with the promoted version $version" $? "$OUT/predict"
    curl -s --max-time 5 "$url/model" >"$OUT/model" 2>&1
    grep -q "$version" "$OUT/model"
    test_cond "GET /model describes $version" $? "$OUT/model"
    # /docs: Swagger UI's files copied from r-cran-swagger at build time.
    [ "$(status_of "$url/docs/swagger-ui-bundle.js")" = 200 ] &&
        [ "$(status_of "$url/docs/swagger-ui.css")" = 200 ] &&
        curl -s --max-time 5 "$url/docs" | grep -q 'swagger-ui-bundle.js'
    test_cond "GET /docs serves Swagger UI from the image (DOCS_DIR's default)" $?
    curl -s --max-time 5 "$url/" >"$OUT/status.html" 2>&1
    grep -q "<dd id=\"version\">$version</dd>" "$OUT/status.html" &&
        [ "$(status_of "$url/report.svg")" = 200 ]
    test_cond "GET / shows $version and its report.svg" $? "$OUT/status.html"
    uid=$(docker top "$cid" -o pid,uid,comm 2>/dev/null | awk '$3 == "forest-serve" { print $2 }')
    [ "$uid" = 65532 ]
    test_cond "the server process runs as uid 65532 (got '$uid')" $?
    docker stop -t 15 "$cid" >/dev/null 2>&1
    code=$(docker inspect -f '{{.State.ExitCode}}' "$cid")
    [ "$code" = 0 ]
    test_cond "on SIGTERM the server drains and exits 0 (got $code)" $? "$OUT/serve"
    docker logs "$cid" >"$OUT/serve.log" 2>&1
else
    test_cond "start the API container" 1 "$OUT/serve"
fi

# Started before any training, as the Deployment may be: alive, not ready,
# then ready once a trainer promotes a model into the shared volume.
empty=$(volume empty)
if cid=$(serve "$empty" waiting -e RELOAD_INTERVAL_SECONDS=1 2>"$OUT/serve2"); then
    port=$(port_of "$cid")
    url="http://127.0.0.1:$port"
    wait_status "$url/health" 200 20
    test_cond "API without a model: GET /health 200" $? "$OUT/serve2"
    [ "$(status_of "$url/ready")" = 503 ]
    test_cond "API without a model: GET /ready 503" $?
    test_rc "train while the API waits" 0 "$OUT/train2" trainer "$empty" "$TRAIN"
    wait_status "$url/ready" 200 15
    test_cond "the API hot-loads the first model: GET /ready 200" $?
    restarts=$(docker inspect -f '{{.RestartCount}} {{.State.Running}}' "$cid")
    [ "$restarts" = "0 true" ]
    test_cond "without a restart" $?
else
    test_cond "start the API container without a model" 1 "$OUT/serve2"
fi

# ---- compose ------------------------------------------------------------------
# compose ARGS...: Compose v2 (docker compose) or v1 (docker-compose).
compose() {
    if [ "$COMPOSE" = "docker compose" ]; then
        docker compose "$@"
    else
        docker-compose "$@"
    fi
}
COMPOSE=""
if docker compose version >/dev/null 2>&1; then
    COMPOSE="docker compose"
elif command -v docker-compose >/dev/null 2>&1; then
    COMPOSE="docker-compose"
fi
if [ -n "$COMPOSE" ]; then
    cport=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])' 2>/dev/null || echo 18765)
    export API_PORT="$cport" IMAGE_TAG="$TAG"
    test_rc "$COMPOSE config" 0 "$OUT/compose-config" compose -p "$RUN_ID" config -q
    test_rc "$COMPOSE up -d: the trainer, then the API" 0 "$OUT/compose-up" \
        compose -p "$RUN_ID" up -d --no-build
    wait_status "http://127.0.0.1:$cport/ready" 200 60
    test_cond "compose: the API on 127.0.0.1:$cport is ready" $? "$OUT/compose-up"
    curl -s --max-time 5 -H 'Content-Type: application/json' -d "$SAMPLE" \
        "http://127.0.0.1:$cport/predict" >"$OUT/compose-predict" 2>&1
    grep -q '"prediction"' "$OUT/compose-predict"
    test_cond "compose: POST /predict" $? "$OUT/compose-predict"
    compose -p "$RUN_ID" logs --no-color >"$OUT/compose.log" 2>&1
    test_rc "$COMPOSE down -v" 0 "$OUT/compose-down" compose -p "$RUN_ID" down -v
else
    echo "skip compose: neither 'docker compose' nor docker-compose is installed"
fi

echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
