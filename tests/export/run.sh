#!/bin/bash
# tests/export/run.sh: forest-train export (the ASan + UBSan builds) against
# XGBoost itself (Debian's python3-xgboost 1.7.4, scripts/install-deps.sh
# test): a tabular model exported, loaded by xgboost.Booster, and compared
# on 1,000 rows with forest-serve's predictions and explanations
# (compare.py); the first release's format-1 series model likewise,
# predictions only; then every refusal and error, each leaving no file.
# Prints one line per check and closes with "N passed, N failed".
set -u
cd "$(dirname "$0")/../.."
TRAIN=${FOREST_TRAIN:-build/asan/forest-train}
SERVE=${FOREST_SERVE:-build/asan/forest-serve}
PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3
T=$(mktemp -d /tmp/forest-export-XXXXXX)
cleanup() {
    local pid
    for pid in "${PIDS[@]}"; do
        kill "$pid" 2>/dev/null
    done
    rm -rf "$T"
}
trap cleanup EXIT
passed=0 failed=0

export QUIET=true AS_OF=2026-07-01 ASAN_OPTIONS=detect_leaks=1
# OpenBLAS (numpy's) may be tuned for another core in a CI environment.
unset OPENBLAS_CORETYPE OPENBLAS_L2_SIZE

# shellcheck source=tests/cli/lib.sh
. tests/cli/lib.sh
one_line() { [ "$(wc -l <"$T/err")" -eq 1 ]; }
listing() { ls -A "$T/outdir"; }

# start_server NAME VAR=value...: forest-serve on a port the kernel
# picks; sets URL[NAME].
declare -A URL PIDS
start_server() {
    local name=$1
    shift
    env PORT=0 HOST=127.0.0.1 DRAIN_SECONDS=0 MAX_EXPLAIN_ROWS=1000 "$@" \
        "$SERVE" >"$T/$name.out" 2>"$T/$name.err" &
    PIDS[$name]=$!
    for _ in $(seq 300); do
        grep -q '"event":"listening"' "$T/$name.out" && break
        sleep 0.1
    done
    URL[$name]="http://127.0.0.1:$(grep '"event":"listening"' "$T/$name.out" |
        "$PY" -c 'import json,sys; print(json.loads(sys.stdin.readline())["port"])')"
}

# stop_servers: SIGTERM, and each must exit 0 with nothing on stderr (no
# sanitizer report).
stop_servers() {
    local name status
    for name in "${!PIDS[@]}"; do
        kill "${PIDS[$name]}"
        wait "${PIDS[$name]}"
        status=$?
        unset "PIDS[$name]"
        check "server '$name' exits 0, stderr empty" \
            eval '[ "$status" -eq 0 ] && [ ! -s "$T/$name.err" ]'
    done
}

# compare ARGS...: compare.py's checks (its usage), counted here.
compare() {
    local status
    "$PY" tests/export/compare.py "$@" >"$T/cmp" 2>&1
    status=$?
    cat "$T/cmp"
    passed=$((passed + $(grep -c '^  ok ' "$T/cmp")))
    failed=$((failed + $(grep -c '^  FAIL ' "$T/cmp")))
    if [ "$status" -ne 0 ] && ! grep -q '^  FAIL ' "$T/cmp"; then
        failed=$((failed + 1))
        echo "  FAIL  compare.py stopped (exit $status)"
    fi
}

for tool in "$TRAIN" "$SERVE"; do
    if [ ! -x "$tool" ]; then
        echo "export: error: '$tool' is missing (make $tool)"
        echo "0 passed, 1 failed"
        exit 1
    fi
done
if ! "$PY" -c 'import xgboost' 2>/dev/null; then
    echo "export: error: python3-xgboost is missing (scripts/install-deps.sh test)"
    echo "0 passed, 1 failed"
    exit 1
fi

echo "export: a tabular model in XGBoost"
# a: integers (thresholds at .5), b: 3 decimals, c: -1 or 1 (a threshold
# at 0), d: negative and positive reals.
awk 'BEGIN { srand(7); print "a,b,c,d,y";
    for (i = 0; i < 1000; i++) { a = int(rand() * 11) - 5; b = rand() * 100;
        c = rand() < 0.5 ? -1 : 1; d = (rand() - 0.5) * 8;
        printf "%d,%.3f,%d,%.4f,%.4f\n", a, b, c, d,
               3 * a + 0.1 * b + 2 * c + d * d + rand() } }' >"$T/tab.csv"
M=$T/models
mkdir -p "$M" "$T/outdir"
MODEL_VERSION=t1 N_ESTIMATORS=30 MAX_DEPTH=6 run --model-dir "$M" \
    --data-path "$T/tab.csv" --data-mode tabular --target-column y
check "export-1.1 a tabular model trains" exits 0
run export --model-dir "$M" --out "$T/outdir/t1.json" --quiet false
check "export-1.2 export without MODEL_VERSION writes the current version" \
    eval 'exits 0 && grep -q "exported version t1 (30 trees, 4 features)" "$T/out" &&
          [ "$(listing)" = t1.json ]'
run export --model-dir "$M" --model-version t1 --export-format xgboost --out -
check "export-1.3 --out - writes the same document to standard output" \
    eval 'exits 0 && cmp -s "$T/out" "$T/outdir/t1.json" && [ ! -s "$T/err" ]'

echo "export: the first release's format-1 series model"
# Format 1 predicts the value itself from the row, so it can be exported;
# it kept no cover, so XGBoost's contributions are NaN and it says so.
F1=$T/format1
mkdir -p "$F1/versions/old"
cp tests/data/model-format1.bin "$F1/versions/old/model.bin"
run export --model-dir "$F1" --model-version old --out "$T/outdir/old.json"
check "export-1.4 a format-1 model exports with a one-line warning" \
    eval 'exits 0 && one_line && says "warning: version '"'"'old'"'"' is a format-1 file" &&
          says "pred_contribs are NaN"'
SYNTH_SERIES=2 SYNTH_DAYS=90 run table --out "$T/series.csv"

echo "export: XGBoost against forest-serve, 1,000 rows each"
start_server tabular MODEL_DIR="$M"
start_server format1 MODEL_PATH="$F1/versions/old/model.bin"
compare export-2 "$T/outdir/t1.json" "${URL[tabular]}" "$T/tab.csv" -- \
    export-3 "$T/outdir/old.json" "${URL[format1]}" "$T/series.csv" --no-contribs
stop_servers

echo "export: refusals and errors leave no file"
rm -f "$T/outdir"/*
printf 'keep' >"$T/outdir/keep.json"
S=$T/series
mkdir -p "$S"
MODEL_VERSION=s1 SYNTH_SERIES=2 SYNTH_DAYS=90 N_ESTIMATORS=3 MAX_DEPTH=3 \
    run --model-dir "$S"
run export --model-dir "$S" --out "$T/outdir/keep.json"
check "export-4.1 a series model predicting relative to a level is refused: exit 4, one line, the old OUT untouched" \
    eval 'exits 4 && one_line &&
          says "cannot export version '"'"'s1'"'"' to XGBoost: the model predicts the difference to a level" &&
          [ "$(cat "$T/outdir/keep.json")" = keep ] && [ "$(listing)" = keep.json ]'
EXPORT_FORMAT=onnx run export --model-dir "$M" --out "$T/outdir/x.json"
check "export-4.2 an unknown EXPORT_FORMAT exits 2 naming the choices" \
    eval 'exits 2 && one_line && says "invalid EXPORT_FORMAT '"'"'onnx'"'"'" &&
          says "xgboost" && [ "$(listing)" = keep.json ]'
run export --model-dir "$M" --model-version nope --out "$T/outdir/x.json"
check "export-4.3 a version that does not exist exits 1 naming it" \
    eval 'exits 1 && one_line && says "has no version '"'"'nope'"'"'" &&
          [ "$(listing)" = keep.json ]'
mkdir -p "$T/empty"
run export --model-dir "$T/empty" --out "$T/outdir/x.json"
check "export-4.4 a store without current exits 1 and says to name a version" \
    eval 'exits 1 && one_line && says "has no current version; name one with MODEL_VERSION" &&
          [ "$(listing)" = keep.json ]'
run export --model-dir "$M" --model-version ../t1 --out "$T/outdir/x.json"
check "export-4.5 an invalid version name exits 2" \
    eval 'exits 2 && one_line && says "invalid MODEL_VERSION '"'"'../t1'"'"'" &&
          [ "$(listing)" = keep.json ]'
run export --model-dir "$M"
check "export-4.6 export without OUT exits 2" \
    eval 'exits 2 && one_line && says "'"'"'export'"'"' needs --out FILE"'
run export --model-dir "$M" --out "$T/outdir/no/such/dir.json"
check "export-4.7 an OUT in a missing directory exits 1 naming it" \
    eval 'exits 1 && one_line && says "cannot write" && says "no/such/dir.json" &&
          [ "$(listing)" = keep.json ]'
mkdir "$T/outdir/adir"
run export --model-dir "$M" --out "$T/outdir/adir"
check "export-4.8 an OUT that is a directory exits 1, no temporary file left" \
    eval 'exits 1 && one_line && says "cannot write" &&
          [ "$(listing | tr "\n" " ")" = "adir keep.json " ] && [ -z "$(ls -A "$T/outdir/adir")" ]'
printf 'x<1,b,y\n1,2,3\n2,3,4\n3,1,5\n4,5,6\n5,4,7\n6,6,8\n7,2,9\n8,8,10\n' >"$T/bad.csv"
B=$T/badname
mkdir -p "$B"
MODEL_VERSION=b1 N_ESTIMATORS=2 run --model-dir "$B" --data-path "$T/bad.csv" \
    --data-mode tabular --target-column y
run export --model-dir "$B" --out "$T/outdir/x.json"
check "export-4.9 a feature name XGBoost refuses exits 4 naming it" \
    eval 'exits 4 && one_line && says "feature '"'"'x<1'"'"' cannot be named in XGBoost" &&
          [ ! -e "$T/outdir/x.json" ]'
run --help
check "export-4.10 --help describes export, EXPORT_FORMAT and exit status 4" \
    eval 'exits 0 && grep -q "^  export " "$T/out" && grep -q "EXPORT_FORMAT *--export-format *default: xgboost" "$T/out" &&
          grep -q "4 export: the model" "$T/out"'

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
