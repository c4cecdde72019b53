#!/bin/bash
# Program tests of forest-train (the ASan + UBSan build): settings, bad
# input, the model store's promotion gate, pruning, crash safety, shards and
# every data path, run the way a user or a Kubernetes Job runs it.
# Prints one line per case and closes with "N passed, N failed".
set -u
cd "$(dirname "$0")/../.."
TRAIN=${FOREST_TRAIN:-build/asan/forest-train}
PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3
T=$(mktemp -d /tmp/forest-cli-XXXXXX)
trap 'rm -rf "$T"' EXIT
passed=0 failed=0

# Small and fast everywhere; each case overrides what it tests.
# AS_OF pins the synthetic days so no result depends on the calendar.
export SYNTH_SERIES=4 SYNTH_DAYS=200 N_ESTIMATORS=10 MAX_DEPTH=6 QUIET=true
export AS_OF=2026-07-01
export ASAN_OPTIONS=detect_leaks=1

# shellcheck source=tests/cli/lib.sh
. tests/cli/lib.sh
json() { # json FILE EXPR: evaluates a Python expression on the document d
    "$PY" -c "import json,sys; d=json.load(open('$1')); sys.exit(0 if ($2) else 1)"
}
current() { readlink "$1/current"; }
snapshot() { # every name, size and time under a store: "untouched" means equal
    (cd "$1" && find . -printf '%p %s %T@\n' | sort | md5sum)
}
fingerprint() { # what a reader of MODEL_DIR would see
    echo "$(current "$1") $(cksum <"$1/current/model.bin")"
}

echo "cli: settings"
run --n-estimators=-3
check "cli-1.1 N_ESTIMATORS=-3 exits 2 and names the setting" \
    eval 'exits 2 && says "invalid --n-estimators '"'"'-3'"'"'"'
MAX_DEPTH=ten run
check "cli-1.2 MAX_DEPTH=ten exits 2 and names the variable" \
    eval 'exits 2 && says "invalid MAX_DEPTH '"'"'ten'"'"': expected a whole number"'
DATA_MODE=images run
check "cli-1.3 DATA_MODE must be series or tabular" \
    eval 'exits 2 && says "expected one of series|tabular"'
run --no-such-flag
check "cli-1.4 an unknown flag is refused" \
    eval 'exits 2 && says "unknown flag '"'"'--no-such-flag'"'"'"'
run fly
check "cli-1.5 an unknown command is refused" \
    eval 'exits 2 && says "unknown command '"'"'fly'"'"'"'
run --help
check "cli-1.6 --help lists every setting with its default" \
    eval 'exits 0 && grep -q "N_ESTIMATORS *--n-estimators *default: 100" "$T/out" &&
          grep -q PROMOTE_MAX_REGRESSION "$T/out" && grep -q KEEP_VERSIONS "$T/out"'
run synth --out "$T/q.csv" --quiet false
check "cli-1.10 a boolean flag takes a following true/false (QUIET=true is overridden)" \
    eval 'exits 0 && grep -q "^forest-train: wrote" "$T/out"'
one_line() { [ "$(wc -l <"$T/err")" -eq 1 ]; }
TEST_FRACTION=1.5 run
check "cli-1.7 TEST_FRACTION out of range is refused" \
    eval 'exits 2 && one_line && says "invalid TEST_FRACTION '"'"'1.5'"'"'" && says "from 0.001 to 0.9"'
MAX_FEATURES=0 run
check "cli-1.8 MAX_FEATURES=0 is refused" \
    eval 'exits 2 && one_line && says "invalid MAX_FEATURES '"'"'0'"'"'"'
SHARD_COUNT=2 SHARD_INDEX=2 run --model-dir "$T"
check "cli-1.9 SHARD_INDEX must be below SHARD_COUNT" \
    eval 'exits 2 && one_line && says "shard 2 of 2 is not valid" && says "SHARD_INDEX < SHARD_COUNT"'
N_ESTIMATORS=' 12' run
check "cli-1.11 a number setting with a leading space is refused" \
    eval 'exits 2 && one_line && says "invalid N_ESTIMATORS '"'"' 12'"'"'"'
KEEP_VERSIONS='3 ' run
check "cli-1.12 a number setting with a trailing space is refused" \
    eval 'exits 2 && one_line && says "invalid KEEP_VERSIONS '"'"'3 '"'"'"'
PROMOTE_MAX_REGRESSION=0x10 run
check "cli-1.13 hexadecimal is not a decimal setting" \
    eval 'exits 2 && one_line && says "invalid PROMOTE_MAX_REGRESSION '"'"'0x10'"'"': expected a decimal number"'
run --test-fraction ' 0.3'
check "cli-1.14 a fraction with a leading space is refused" \
    eval 'exits 2 && one_line && says "invalid --test-fraction '"'"' 0.3'"'"'"'

echo "cli: training and the model store"
M=$T/models
mkdir "$M"
# v1 learns the days to 2026-06-01; the models after it see 30 new days
# (the weekly CronJob's situation), which is what the gate compares on.
MODEL_VERSION=v1 AS_OF=2026-06-01 run --model-dir "$M"
check "cli-2.1 synthetic training promotes version v1" \
    eval 'exits 0 && [ "$(current "$M")" = versions/v1 ]'
check "cli-2.2 the version holds model.bin, metadata.json and report.svg" \
    eval '[ -s "$M/versions/v1/model.bin" ] && grep -q "<svg" "$M/versions/v1/report.svg"'
check "cli-2.3 metadata.json has the contract's keys" \
    json "$M/current/metadata.json" \
    "d['version']=='v1' and d['created_at'].endswith('Z') and len(d['features'])==21
     and d['features'][0]=='lag_1' and d['hyperparameters']['n_estimators']==10
     and d['metrics']['mae']>0 and d['metrics']['rmse']>0 and 'r2' in d['metrics']
     and d['baseline']['name']=='seasonal_naive_7' and d['baseline']['rmse']>0
     and d['training']['rows']>0 and d['training']['seconds']>=0
     and d['checksum'].startswith('crc32:') and d['model_file']['bytes']>0"
check "cli-2.4 the forest beats the seasonal-naive baseline" \
    json "$M/current/metadata.json" "d['metrics']['rmse'] < d['baseline']['rmse']"
before=$(fingerprint "$M")

MODEL_VERSION=v2 MAX_DEPTH=1 N_ESTIMATORS=2 run --model-dir "$M"
check "cli-3.1 a much worse model exits 3 (kept, not promoted)" \
    eval 'exits 3 && [ -d "$M/versions/v2" ] && says "gate REFUSED: on the 120 held-out series-days newer than v1" &&
          json "$M/versions/v2/metadata.json" "d[\"gate\"][\"decision\"]==\"refused\" and d[\"gate\"][\"champion_version\"]==\"v1\"
          and d[\"gate\"][\"rows\"]==120 and d[\"gate\"][\"challenger_score\"] > 1.1 * d[\"gate\"][\"champion_score\"]
          and d[\"gate\"][\"champion_last_day\"]==\"2026-06-01\" and d[\"gate\"][\"metric\"]==\"backtest_mae_mean\""'
check "cli-3.2 current still serves v1 after the refusal" \
    eval '[ "$(fingerprint "$M")" = "$before" ]'
MODEL_VERSION=v3 MAX_DEPTH=1 N_ESTIMATORS=2 PROMOTE_MAX_REGRESSION=1000 run --model-dir "$M"
check "cli-3.3 PROMOTE_MAX_REGRESSION lets it through" \
    eval 'exits 0 && [ "$(current "$M")" = versions/v3 ]'
snap=$(snapshot "$M")
MODEL_VERSION=v3 run --model-dir "$M" --quiet false
check "cli-3.4 an existing version name exits 2 before any work, nothing changes" \
    eval 'exits 2 && one_line && says "invalid MODEL_VERSION '"'"'v3'"'"': version '"'"'v3'"'"' already exists" &&
          [ ! -s "$T/out" ] && [ "$(snapshot "$M")" = "$snap" ]'
i=0
for v in a/b .. .hidden; do
    i=$((i + 1))
    MODEL_VERSION=$v run --model-dir "$M" --quiet false
    check "cli-3.11.$i MODEL_VERSION '$v' exits 2 before any work, nothing changes" \
        eval 'exits 2 && one_line && says "invalid MODEL_VERSION '"'"'$v'"'"'" &&
              [ ! -s "$T/out" ] && [ "$(snapshot "$M")" = "$snap" ]'
done
SYNTH_SERIES=1000000 SYNTH_DAYS=100000 run --model-dir "$M" --quiet false
check "cli-3.12 oversized SYNTH_SERIES x SYNTH_DAYS exits 2 before any work" \
    eval 'exits 2 && one_line && says "invalid SYNTH_SERIES x SYNTH_DAYS: 1000000 x 100000" &&
          [ ! -s "$T/out" ] && [ "$(snapshot "$M")" = "$snap" ]'
SYNTH_SERIES=1000000 SYNTH_DAYS=100000 run synth --out "$T/huge.csv"
check "cli-3.13 so does synth with them" \
    eval 'exits 2 && one_line && says "invalid SYNTH_SERIES x SYNTH_DAYS" && [ ! -e "$T/huge.csv" ]'
SHARD_COUNT=2 SHARD_RUN=../up run --model-dir "$M" --quiet false
check "cli-3.14 an invalid SHARD_RUN exits 2 before any work" \
    eval 'exits 2 && one_line && says "invalid SHARD_RUN '"'"'../up'"'"'" &&
          [ ! -s "$T/out" ] && [ "$(snapshot "$M")" = "$snap" ]'
MODEL_VERSION=v3 SHARD_COUNT=2 run merge --model-dir "$M"
check "cli-3.15 merge into an existing version exits 2" \
    eval 'exits 2 && one_line && says "invalid MODEL_VERSION '"'"'v3'"'"'" && [ "$(snapshot "$M")" = "$snap" ]'
for v in v4 v5 v6; do
    MODEL_VERSION=$v KEEP_VERSIONS=2 run --model-dir "$M"
done
check "cli-3.5 KEEP_VERSIONS=2 leaves two versions, current among them" \
    eval '[ "$(ls "$M/versions" | wc -l)" -eq 2 ] && [ "$(current "$M")" = versions/v6 ]'

P=$T/prune
mkdir "$P"
for v in p1 p2 p3; do
    MODEL_VERSION=$v AS_OF=2026-06-01 PROMOTE_MAX_REGRESSION=1000 run --model-dir "$P"
done
MODEL_VERSION=p4 MAX_DEPTH=1 N_ESTIMATORS=2 KEEP_VERSIONS=1 run --model-dir "$P"
check "cli-3.9 KEEP_VERSIONS=1 and a refused model: exit 3, the refused version stays whole" \
    eval 'exits 3 && [ -s "$P/versions/p4/model.bin" ] && [ -s "$P/versions/p4/metadata.json" ] &&
          says "p4 is kept in versions/"'
check "cli-3.10 current is unchanged and the older versions are pruned" \
    eval '[ "$(current "$P")" = versions/p3 ] && [ -s "$P/current/model.bin" ] &&
          [ "$(ls "$P/versions" | tr "\n" " ")" = "p3 p4 " ]'

MODEL_VERSION=v5 run promote --model-dir "$M"
check "cli-3.6 promote rolls current back to an older version" \
    eval 'exits 0 && [ "$(current "$M")" = versions/v5 ]'
cp "$M/versions/v6/model.bin" "$T/good.bin"
printf 'garbage' >"$M/versions/v6/model.bin"
MODEL_VERSION=v6 run promote --model-dir "$M"
check "cli-3.7 promote refuses a version whose model does not load" \
    eval 'exits 1 && says "not a model file" && [ "$(current "$M")" = versions/v5 ]'
cp "$T/good.bin" "$M/versions/v6/model.bin"
MODEL_VERSION=v6 run promote --model-dir "$M"
run promote --model-dir "$M"
check "cli-3.8 promote without MODEL_VERSION and no candidate is a usage error" \
    eval 'exits 2 && [ "$(current "$M")" = versions/v6 ] && says "has no candidate"'
# A FIFO where a store file should be: opening it for reading would wait
# for a writer forever, so it must be refused at once (timeout turns a hang
# into a failure).
F=$T/fifo-store
cp -a "$M" "$F"
mkdir "$F/versions/pipe"
mkfifo "$F/versions/pipe/model.bin"
cp "$F/versions/v6/metadata.json" "$F/versions/pipe/"
MODEL_VERSION=pipe timeout 30 "$TRAIN" promote --model-dir "$F" >"$T/out" 2>"$T/err"
rc=$?
check "cli-3.16 promote refuses a FIFO model.bin at once, current unchanged" \
    eval 'exits 1 && says "not a regular file" && [ "$(current "$F")" = versions/v6 ]'
rm "$F/versions/v6/metadata.json"
mkfifo "$F/versions/v6/metadata.json"
MODEL_VERSION=v7 QUIET=false timeout 60 "$TRAIN" --model-dir "$F" >"$T/out" 2>&1
rc=$?
check "cli-3.17 training does not hang on a FIFO as current's metadata.json (unreadable metrics: promoted with a warning)" \
    eval 'exits 0 && grep -q "gate incompatible_promoted: the current version v6 cannot be compared: .*not a regular file" "$T/out" &&
          [ "$(current "$F")" = versions/v7 ]'

echo "cli: bad input leaves the promoted model alone"
before=$(fingerprint "$M")
bad() { # bad NAME CSV-TEXT EXPECTED-MESSAGE [ENV...]
    local name=$1 text=$2 msg=$3
    shift 3
    printf '%b' "$text" >"$T/bad.csv"
    env "$@" "$TRAIN" --model-dir "$M" --data-path "$T/bad.csv" >"$T/out" 2>"$T/err"
    rc=$?
    check "$name" eval 'exits 1 && says "$msg" && [ "$(wc -l <"$T/err")" -eq 1 ] &&
                        [ "$(fingerprint "$M")" = "$before" ]'
}
bad "cli-4.1 empty file" "" "is empty"
bad "cli-4.2 header only" "date,demand\n" "has a header but no data rows"
bad "cli-4.3 no target column" "date,sales\n2024-01-01,3\n" "no target column 'demand'"
bad "cli-4.4 no date column" "day,demand\n2024-01-01,3\n" "no date column 'date'"
bad "cli-4.5 non-numeric cell with line and column" \
    "date,demand\n2024-01-01,3\n2024-01-02,lots\n" "line 3 column 2 ('demand'): 'lots' is not a number"
bad "cli-4.6 unparsable date with line and column" \
    "date,demand\n2024-01-01,3\n2024-13-02,4\n" "line 3 column 1 ('date'): '2024-13-02' is not a date"
bad "cli-4.7 too few rows for the lags" \
    "date,demand\n2024-01-01,3\n2024-01-02,4\n" "too few rows for the lags"
bad "cli-4.8 tabular non-numeric cell" "a,demand\n1,2\nx,3\n" \
    "line 3 column 1 ('a'): 'x' is not a number" DATA_MODE=tabular
bad "cli-4.9 ragged row" "a,demand\n1,2\n3\n" "line 3: 1 columns" DATA_MODE=tabular
bad "cli-4.15 a header name that is not UTF-8, with line and column" \
    "date,demand,pr\\xffmo\n2024-01-01,3,0\n" "line 1 column 3: the column name is not valid UTF-8"
bad "cli-4.16 a header name with a control character" \
    "a,\"x\\x1by\",demand\n1,2,3\n" "line 1 column 2: the column name holds a control character" DATA_MODE=tabular
bad "cli-4.17 a hexadecimal cell is not a decimal number" \
    "a,demand\n1,2\n0x10,3\n" "line 3 column 1 ('a'): '0x10' is not a decimal number" DATA_MODE=tabular
run --model-dir "$M" --data-path "$T/none.csv"
check "cli-4.10 a missing file is named" \
    eval 'exits 1 && says "cannot open '"'"'$T/none.csv'"'"'" && [ "$(fingerprint "$M")" = "$before" ]'
touch "$T/file"
run --model-dir "$T/file/models"
check "cli-4.11 an unusable MODEL_DIR is named" eval 'exits 1 && says "is not a directory"'

printf 'date,demand,lag_1\n2024-01-01,3,1\n' >"$T/bad.csv"
run --model-dir "$M" --data-path "$T/bad.csv"
check "cli-4.12 a covariate named like a built feature is refused" \
    eval 'exits 1 && says "a covariate cannot be called '"'"'lag_1'"'"'"'
printf 'date,demand,demand\n2024-01-01,3,3\n' >"$T/bad.csv"
run --model-dir "$M" --data-path "$T/bad.csv"
check "cli-4.13 a repeated target column is refused (it would leak the answer)" \
    eval 'exits 1 && says "column '"'"'demand'"'"' appears twice"'
mkdir -p "$T/odd/current"
run --model-dir "$T/odd"
check "cli-4.14 a current that is not a link fails before training" \
    eval 'exits 1 && says "is not a symbolic link" && [ ! -d "$T/odd/versions" ]'

echo "cli: a crash mid-training"
export -n QUIET
SYNTH_SERIES=60 SYNTH_DAYS=400 N_ESTIMATORS=400 MAX_DEPTH=12 MODEL_VERSION=big \
    "$TRAIN" --model-dir "$M" >"$T/crash.log" 2>&1 &
pid=$!
for _ in $(seq 200); do # wait until it is growing trees, then kill it hard
    grep -q "training " "$T/crash.log" && break
    sleep 0.05
done
sleep 0.3
kill -9 $pid 2>/dev/null
wait $pid 2>/dev/null
killed=$? # 137 = 128 + SIGKILL: the kill landed, not an exit after training
check "cli-5.1 SIGKILL during training leaves current and versions intact" \
    eval '[ "$killed" -eq 137 ] && grep -q "training " "$T/crash.log" &&
          ! grep -q "wrote version" "$T/crash.log" &&
          [ "$(fingerprint "$M")" = "$before" ] && [ ! -e "$M/versions/big" ]'
export QUIET=true

echo "cli: data paths agree"
D=$T/d
mkdir "$D"
MODEL_VERSION=synthetic run --model-dir "$D"
run synth --out "$T/series.csv"
check "cli-6.1 synth writes the series as CSV" \
    eval 'exits 0 && head -1 "$T/series.csv" | grep -q "^date,series,demand,promo,holiday$"'
# "-" is standard output, as everywhere else; messages go to stderr then.
QUIET=false "$TRAIN" synth --out - >"$T/series-stdout.csv" 2>"$T/err"
rc=$?
check "cli-6.7 synth --out - writes the same CSV to standard output" \
    eval 'exits 0 && cmp -s "$T/series.csv" "$T/series-stdout.csv" &&
          says "to standard output"'
QUIET=false "$TRAIN" table --data-path "$T/series.csv" --out - >"$T/table-stdout.csv" 2>"$T/err"
rc=$?
check "cli-6.8 table --out - writes the feature table to standard output" \
    eval 'exits 0 && head -1 "$T/table-stdout.csv" | grep -q "^lag_1,.*,demand$" &&
          ! grep -q "forest-train" "$T/table-stdout.csv" && says "to standard output"'
run synth --out /dev/full
check "cli-6.9 a full disk while writing the CSV exits 1 and says why" \
    eval 'exits 1 && says "cannot write '"'"'/dev/full'"'"': No space left on device"'
MODEL_VERSION=fromcsv PROMOTE_MAX_REGRESSION=1000 run --model-dir "$D" --data-path "$T/series.csv"
check "cli-6.2 training on the written CSV gives the same model" \
    eval 'exits 0 && cmp -s "$D/versions/synthetic/model.bin" "$D/versions/fromcsv/model.bin"'
run table --out "$T/table.csv"
check "cli-6.3 table writes the feature table" \
    eval 'exits 0 && head -1 "$T/table.csv" | grep -q "^lag_1,.*,holiday,demand$"'
MODEL_VERSION=tab PROMOTE_MAX_REGRESSION=1000 DATA_MODE=tabular run --model-dir "$D" --data-path "$T/table.csv"
check "cli-6.4 tabular training on the table works" \
    eval 'exits 0 && json "$D/versions/tab/metadata.json" "d[\"mode\"]==\"tabular\" and d[\"baseline\"][\"name\"]==\"train_mean\""'
printf 'date,store,demand\n' >"$T/two.csv"
for i in $(seq 0 59); do
    day=$(date -u -d "2024-01-01 + $i days" +%F)
    echo "$day,a,$((10 + i % 7))" >>"$T/two.csv"
    echo "$day,b,$((20 + i % 5))" >>"$T/two.csv"
done
MODEL_VERSION=two PROMOTE_MAX_REGRESSION=1000 SERIES_COLUMN=store run --model-dir "$D" --data-path "$T/two.csv"
check "cli-6.5 a two-series CSV with a series column trains" \
    eval 'exits 0 && json "$D/versions/two/metadata.json" "d[\"training\"][\"rows\"]+d[\"training\"][\"test_rows\"]==64"'

echo "cli: shards"
S=$T/s
mkdir "$S"
MODEL_VERSION=whole N_ESTIMATORS=9 run --model-dir "$S"
for i in 0 1 2; do
    JOB_COMPLETION_INDEX=$i SHARD_COUNT=3 SHARD_RUN=r1 N_ESTIMATORS=9 run --model-dir "$S"
done
check "cli-7.1 each indexed pod writes its shard" \
    eval 'exits 0 && [ "$(ls "$S/shards/r1" | wc -l)" -eq 3 ]'
MODEL_VERSION=merged SHARD_COUNT=3 SHARD_RUN=r1 N_ESTIMATORS=9 PROMOTE_MAX_REGRESSION=0 run merge --model-dir "$S"
# Same trees, so the same test metrics to the last bit (the unit tests
# compare the trees themselves).
check "cli-7.2 merged shards equal the forest trained in one piece" \
    eval 'exits 0 && json "$S/versions/merged/metadata.json" \
            "d[\"metrics\"]==json.load(open(\"$S/versions/whole/metadata.json\"))[\"metrics\"]" &&
          [ "$(current "$S")" = versions/merged ] && [ ! -d "$S/shards/r1" ]'
JOB_COMPLETION_INDEX=0 SHARD_COUNT=3 SHARD_RUN=r2 N_ESTIMATORS=9 run --model-dir "$S"
SHARD_COUNT=3 SHARD_RUN=r2 N_ESTIMATORS=9 run merge --model-dir "$S"
check "cli-7.3 merging with a shard missing is refused" \
    eval 'exits 1 && says "missing or repeated" && [ "$(current "$S")" = versions/merged ]'
JOB_COMPLETION_INDEX=1 SHARD_COUNT=3 SHARD_RUN=r2 N_ESTIMATORS=9 SEED=5 run --model-dir "$S"
JOB_COMPLETION_INDEX=2 SHARD_COUNT=3 SHARD_RUN=r2 N_ESTIMATORS=9 run --model-dir "$S"
SHARD_COUNT=3 SHARD_RUN=r2 N_ESTIMATORS=9 run merge --model-dir "$S"
check "cli-7.4 shards of another seed are refused by name" \
    eval 'exits 1 && says "do not belong to one forest" && [ "$(current "$S")" = versions/merged ]'
SHARD_COUNT=4 SHARD_RUN=r2 N_ESTIMATORS=9 run merge --model-dir "$S"
check "cli-7.5 merge only takes shards of its SHARD_COUNT" \
    eval 'exits 1 && says "no shards of SHARD_COUNT 4"'

SHARD_INDEX= JOB_COMPLETION_INDEX=2 SHARD_COUNT=3 SHARD_RUN=r3 N_ESTIMATORS=9 run --model-dir "$S"
check "cli-7.6 an empty SHARD_INDEX falls back to JOB_COMPLETION_INDEX" \
    eval 'exits 0 && [ -f "$S/shards/r3/shard-2-of-3.bin" ]'
printf 'a,b,demand\n' >"$T/ab.csv"
for i in $(seq 40); do echo "$i,$((i % 7)),$((i * 3 % 11))" >>"$T/ab.csv"; done
awk -F, 'BEGIN { OFS = "," } { print $2, $1, $3 }' "$T/ab.csv" >"$T/ba.csv"
for i in 0 1; do
    SHARD_INDEX=$i SHARD_COUNT=2 SHARD_RUN=ab DATA_MODE=tabular run --model-dir "$S" --data-path "$T/ab.csv"
done
SHARD_COUNT=2 SHARD_RUN=ab DATA_MODE=tabular run merge --model-dir "$S" --data-path "$T/ba.csv"
check "cli-7.7 merging against data with the columns in another order is refused" \
    eval 'exits 1 && says "the shards'"'"' feature 1 is '"'"'a'"'"', the data'"'"'s is '"'"'b'"'"'"'
for r in ra rb; do
    for i in 0 1; do
        SHARD_INDEX=$i SHARD_COUNT=2 SHARD_RUN=$r N_ESTIMATORS=4 run --model-dir "$S"
    done
done
for r in ra rb; do
    (MODEL_VERSION=onename SHARD_COUNT=2 SHARD_RUN=$r N_ESTIMATORS=4 PROMOTE_MAX_REGRESSION=1000 \
        "$TRAIN" merge --model-dir "$S" >"$T/m$r.out" 2>"$T/m$r.err"; echo $? >"$T/m$r.rc") &
done
wait
cat "$T"/m??.err >"$T/err"
# The winner's shards are merged and removed; the loser, refused up front or
# at commit, stored nothing and keeps its shards for another try.
loser_keeps_shards() {
    local r
    [ "$(sort "$T"/m??.rc | tr "\n" " ")" = "0 2 " ] || return 1
    for r in ra rb; do
        if [ "$(cat "$T/m$r.rc")" = 2 ]; then
            [ -f "$S/shards/$r/shard-1-of-2.bin" ] || return 1
        else
            [ ! -d "$S/shards/$r" ] || return 1
        fi
    done
}
check "cli-7.8 two merges into one MODEL_VERSION: the refused one (exit 2) keeps its shards" \
    loser_keeps_shards

echo "cli: trainers at once"
# Four trainers on one store, twice, with default (UTC time) version names:
# those finishing in the same second must still get distinct names.
C=$T/concurrent
mkdir "$C"
for r in 1 2; do
    for i in 1 2 3 4; do
        (KEEP_VERSIONS=100 "$TRAIN" --model-dir "$C" --data-path "$T/series.csv" \
            >"$T/c$r$i.out" 2>"$T/c$r$i.err"; echo $? >"$T/c$r$i.rc") &
    done
    wait
done
cat "$T"/c??.err >"$T/err"
check "cli-8.1 trainers started at once all exit 0 or 3, none 1" \
    eval '[ "$(cat "$T"/c??.rc | grep -cvE "^(0|3)$")" -eq 0 ] && [ "$(cat "$T"/c??.rc | wc -l)" -eq 8 ]'
complete() { # complete DIR: a whole version whose metadata names it
    [ -s "$1/model.bin" ] && [ -s "$1/report.svg" ] &&
        json "$1/metadata.json" "d['version']=='$(basename "$1")'"
}
all_complete() {
    local n=0 v
    for v in "$C"/versions/*; do
        complete "$v" || return 1
        n=$((n + 1))
    done
    [ "$n" -eq 8 ]
}
check "cli-8.2 eight distinct versions, each complete and named in its metadata" all_complete
check "cli-8.3 current points at a complete version, no staging left" \
    eval 'complete "$C/$(current "$C")" && [ -z "$(ls -A "$C" | grep staging)" ]'
# The same MODEL_VERSION twice at once: whichever names its version second,
# up front or at commit, is told the name is taken (exit 2), never exit 1.
for i in 1 2; do
    (MODEL_VERSION=same "$TRAIN" --model-dir "$C" --data-path "$T/series.csv" \
        >"$T/s$i.out" 2>"$T/s$i.err"; echo $? >"$T/s$i.rc") &
done
wait
# The gate's warning (no new days to compare on) is not the point here.
cat "$T"/s?.err | grep -v "warning: gate " >"$T/err"
check "cli-8.4 two trainers with one MODEL_VERSION: one exits 0, the other 2 naming it" \
    eval '[ "$(sort "$T"/s?.rc | tr "\n" " ")" = "0 2 " ] && one_line &&
          says "invalid MODEL_VERSION '"'"'same'"'"'" && complete "$C/versions/same"'

echo "cli: a small volume"
# A 1 MiB tmpfs in a private mount namespace (it vanishes with the shell,
# even on a crash): a tiny model fits, a 1.7 MB one is refused before
# anything is written, and keeping 5 of a 0.3 MB one draws a warning.
V=$T/volume
mkdir "$V"
if [ "$(id -u)" -eq 0 ]; then ns="unshare -m"; else ns="unshare -rm"; fi
$ns bash -c '
    set -u
    V=$1 TRAIN=$2 T=$3
    mount -t tmpfs -o size=1m tmpfs "$V" || exit 1
    snapshot() { (cd "$V" && find . -printf "%p %s %T@\n" | sort | md5sum); }
    MODEL_VERSION=tiny N_ESTIMATORS=2 MAX_DEPTH=2 "$TRAIN" --model-dir "$V" 2>"$T/v1.err"
    echo $? >"$T/v1.rc"
    readlink "$V/current" >"$T/v1.current"
    snapshot >"$T/v2.before"
    MODEL_VERSION=big N_ESTIMATORS=300 MAX_DEPTH=10 PROMOTE_MAX_REGRESSION=1000 \
        "$TRAIN" --model-dir "$V" 2>"$T/v2.err"
    echo $? >"$T/v2.rc"
    snapshot >"$T/v2.after"
    MODEL_VERSION=mid N_ESTIMATORS=25 MAX_DEPTH=10 PROMOTE_MAX_REGRESSION=1000 \
        "$TRAIN" --model-dir "$V" 2>"$T/v3.err"
    echo $? >"$T/v3.rc"
    readlink "$V/current" >"$T/v3.current"
' volume "$V" "$TRAIN" "$T"
cp "$T/v1.err" "$T/err" 2>/dev/null
check "cli-9.1 a tiny model fits a 1 MiB volume, without a warning" \
    eval '[ "$(cat "$T/v1.rc")" = 0 ] && [ "$(cat "$T/v1.current")" = versions/tiny ] && [ ! -s "$T/v1.err" ]'
cp "$T/v2.err" "$T/err" 2>/dev/null
check "cli-9.2 a model bigger than the free space exits 1 before writing anything" \
    eval '[ "$(cat "$T/v2.rc")" = 1 ] && one_line &&
          says "cannot store the model in MODEL_DIR '"'"'$V'"'"': not enough space: the new version needs" &&
          [ "$(cat "$T/v2.before")" = "$(cat "$T/v2.after")" ]'
grep -v "warning: gate " "$T/v3.err" >"$T/err" 2>/dev/null
check "cli-9.3 KEEP_VERSIONS versions that cannot fit the volume draw one warning" \
    eval '[ "$(cat "$T/v3.rc")" = 0 ] && [ "$(cat "$T/v3.current")" = versions/mid ] && one_line &&
          says "warning: KEEP_VERSIONS 5 versions of" && says "need more than the 1048576 bytes"'

echo "cli: the champion/challenger gate, refit, backtest and AS_OF"
G=$T/gate
mkdir "$G"
"$TRAIN" synth --as-of 2026-06-01 --out "$T/june.csv"
"$TRAIN" synth --out "$T/july.csv"
# The same series x10 from July: the old gate compared the new model's
# error on x10 data with the champion's on x1 data and refused forever.
awk -F, 'NR == 1 { print; next } { $3 = $3 * 10; print }' OFS=, "$T/july.csv" >"$T/july10.csv"
MODEL_VERSION=g1 run --model-dir "$G" --data-path "$T/june.csv"
MODEL_VERSION=g2 run --model-dir "$G" --data-path "$T/july10.csv"
check "cli-10.1 demand x10: the new model is compared on the new days and promoted" \
    eval 'exits 0 && [ "$(current "$G")" = versions/g2 ] &&
          json "$G/versions/g2/metadata.json" "d[\"gate\"][\"decision\"]==\"promoted\" and d[\"gate\"][\"rows\"]==120
          and d[\"gate\"][\"challenger_score\"] < d[\"gate\"][\"champion_score\"]"'
check "cli-10.2 metadata says what trained the model: the file, its size and CRC-32" \
    json "$G/versions/g2/metadata.json" \
    "d['data_origin']['source'].endswith('july10.csv') and d['data_origin']['bytes']==$(stat -c %s "$T/july10.csv")
     and len(d['data_origin']['crc32'])==8"
check "cli-10.3 refit: the published model learned every row, to the last day" \
    json "$G/versions/g2/metadata.json" \
    "d['training']['refit'] and d['training']['learned_rows']==d['training']['rows']+d['training']['test_rows']
     and d['training']['last_day']=='2026-07-01'"
MODEL_VERSION=g3 REFIT=false PROMOTE_MAX_REGRESSION=1000 run --model-dir "$G" --data-path "$T/july10.csv"
check "cli-10.4 REFIT=false: the published model learned the training split only" \
    json "$G/versions/g3/metadata.json" \
    "not d['training']['refit'] and d['training']['learned_rows']==d['training']['rows']
     and d['training']['last_day'] < d['backtest']['first_day']"
check "cli-10.5 the backtest scores every horizon for the forest and both baselines" \
    json "$G/versions/g3/metadata.json" \
    "all(len(d['backtest'][k][m])==14 for k in ('forest','seasonal_naive','seasonal_mean_4w') for m in ('mae','rmse','wape','mase'))
     and d['backtest']['forest']['mae_mean'] < d['backtest']['seasonal_naive']['mae_mean']
     and len(d['backtest']['example']['forecast'])==14"
"$TRAIN" table --data-path "$T/july.csv" --out "$T/table.csv"
MODEL_VERSION=g4 GATE_ON_INCOMPATIBLE=refuse DATA_MODE=tabular run --model-dir "$G" --data-path "$T/table.csv"
check "cli-10.6 a tabular challenger of a series champion, GATE_ON_INCOMPATIBLE=refuse: exit 3" \
    eval 'exits 3 && [ "$(current "$G")" = versions/g3 ] && says "gate incompatible_refused" &&
          json "$G/versions/g4/metadata.json" "d[\"gate\"][\"decision\"]==\"incompatible_refused\" and \"tabular\" not in d[\"gate\"][\"reason\"]"'
MODEL_VERSION=g5 DATA_MODE=tabular run --model-dir "$G" --data-path "$T/table.csv"
check "cli-10.7 ... by default promoted, with a warning and the reason recorded" \
    eval 'exits 0 && [ "$(current "$G")" = versions/g5 ] && says "gate incompatible_promoted" &&
          json "$G/versions/g5/metadata.json" "d[\"gate\"][\"decision\"]==\"incompatible_promoted\" and \"series model\" in d[\"gate\"][\"reason\"]
          and not d[\"training\"][\"refit\"]"'
MODEL_VERSION=g6 run --model-dir "$G" --data-path "$T/table.csv" --data-mode tabular
check "cli-10.8 tabular against a tabular champion: scored on the same test rows (no new days needed)" \
    json "$G/versions/g6/metadata.json" \
    "d['gate']['metric']=='test_rmse' and d['gate']['rows']==d['training']['test_rows'] and d['gate']['decision'] in ('promoted','refused')"
# The intervals' scale is chosen per model, on the calibration folds and
# the earlier held-out origins: the synthetic data's count noise grows
# like the square root of the level, and absolute errors cover better
# (tests/server, scenario_backtest); demand ramped from x1 to x10 over the
# days, noise and all, needs errors relative to the level.
awk -F, 'NR == 1 { print; next } { n[$2]++; $3 = $3 * (1 + 9 * (n[$2] - 1) / 729); print }' OFS=, \
    "$T/july.csv" >"$T/ramp.csv"
mkdir "$T/ramp"
MODEL_VERSION=r1 QUIET=true run --model-dir "$T/ramp" --data-path "$T/ramp.csv"
check "cli-10.13 demand ramped x1 to x10: intervals relative to the level, chosen on 2 calibration folds" \
    json "$T/ramp/versions/r1/metadata.json" \
    "d['intervals']['scale']=='relative' and d['intervals']['folds']==2
     and d['intervals']['scale_miss_rms']['relative'] < d['intervals']['scale_miss_rms']['absolute']"
# A format-2 (recursive) champion from the previous release against a
# format-3 (direct) challenger: each forecasts the same held-out days of
# both series (19 each, all newer than the champion's training) through
# its own strategy (tests/data/README.md).
F=$T/format2
mkdir -p "$F/versions/old"
cp tests/data/model-format2.bin "$F/versions/old/model.bin"
cp tests/data/model-format2.json "$F/versions/old/metadata.json"
ln -s versions/old "$F/current"
MODEL_VERSION=new AS_OF=2026-07-31 SYNTH_SERIES=2 SYNTH_DAYS=120 SEED=11 N_ESTIMATORS=5 MAX_DEPTH=4 \
    run --model-dir "$F"
check "cli-10.12 a format-2 (recursive) champion and a format-3 (direct) challenger compare on the same new days" \
    json "$F/versions/new/metadata.json" \
    "d['gate']['champion_version']=='old' and d['gate']['decision'] in ('promoted','refused')
     and d['gate']['rows']==38 and d['gate']['champion_score'] > 0 and d['gate']['challenger_score'] > 0
     and d['series']['strategy']=='direct' and d['capabilities']['format_version']==3"
"$TRAIN" synth --out "$T/a.csv"
"$TRAIN" synth --out "$T/b.csv"
AS_OF=2026-07-08 "$TRAIN" synth --out "$T/c.csv"
check "cli-10.9 AS_OF: the same days every run; a week later, the shared days unchanged" \
    eval 'cmp -s "$T/a.csv" "$T/b.csv" && [ "$(tail -1 "$T/a.csv" | cut -d, -f1)" = 2026-07-01 ] &&
          [ "$(grep -c "^2026-06-2" "$T/a.csv")" -gt 0 ] &&
          [ "$(grep ",store01-item001," "$T/a.csv" | tail -20 | head -13)" = "$(grep ",store01-item001," "$T/c.csv" | tail -27 | head -13)" ]'
MODEL_VERSION=g7 AS_OF=2026-13-01 run --model-dir "$G"
check "cli-10.10 an AS_OF that is not a date exits 2 naming it" \
    eval 'exits 2 && one_line && says "invalid AS_OF '"'"'2026-13-01'"'"'"'

echo "cli: the candidate pointer (PROMOTE_TO, promote, clear-candidate)"
K=$T/cand
mkdir -p "$K"
candidate() { readlink "$1/candidate"; }
MODEL_VERSION=k1 run --model-dir "$K"
MODEL_VERSION=k2 PROMOTE_TO=candidate MAX_DEPTH=1 N_ESTIMATORS=2 run --model-dir "$K"
check "cli-11.1 PROMOTE_TO=candidate: a much worse model still exits 0, current unchanged, candidate set" \
    eval 'exits 0 && [ "$(current "$K")" = versions/k1 ] && [ "$(candidate "$K")" = versions/k2 ]'
check "cli-11.2 the gate did not run for it, and its metadata says so" \
    json "$K/versions/k2/metadata.json" \
    "d['gate']['decision']=='candidate_no_gate' and d['gate']['champion_score'] is None and 'PROMOTE_TO=candidate' in d['gate']['reason']"
for v in k3 k4 k5; do
    MODEL_VERSION=$v KEEP_VERSIONS=1 run --model-dir "$K"
done
check "cli-11.3 KEEP_VERSIONS=1 never deletes the candidate (the oldest but one)" \
    eval '[ -f "$K/versions/k2/model.bin" ] && [ ! -e "$K/versions/k1" ] && [ "$(candidate "$K")" = versions/k2 ] &&
          [ "$(ls "$K/versions" | tr "\n" " ")" = "k2 k5 " ]'
QUIET=false run promote --model-dir "$K"
check "cli-11.4 promote without MODEL_VERSION makes the candidate current and clears it" \
    eval 'exits 0 && [ "$(current "$K")" = versions/k2 ] && [ ! -e "$K/candidate" ] && [ ! -L "$K/candidate" ] &&
          grep -q "cleared the candidate: k2 is current now" "$T/out"'
QUIET=false run promote --model-dir "$K"
check "cli-11.5 ... and a second time there is none: exit 2, current unchanged" \
    eval 'exits 2 && [ "$(current "$K")" = versions/k2 ] && says "has no candidate"'
MODEL_VERSION=k5 PROMOTE_TO=candidate QUIET=false run promote --model-dir "$K"
check "cli-11.6 promote --model-version with PROMOTE_TO=candidate points the candidate at an existing version" \
    eval 'exits 0 && [ "$(candidate "$K")" = versions/k5 ] && [ "$(current "$K")" = versions/k2 ] &&
          grep -q "made k5 the candidate (was none)" "$T/out"'
MODEL_VERSION=k2 run promote --model-dir "$K"
check "cli-11.7 promote --model-version keeps its meaning: a rollback of current, the candidate untouched" \
    eval 'exits 0 && [ "$(current "$K")" = versions/k2 ] && [ "$(candidate "$K")" = versions/k5 ]'
PROMOTE_TO=candidate run promote --model-dir "$K"
check "cli-11.8 promote to the candidate without MODEL_VERSION is a usage error" \
    eval 'exits 2 && says "needs MODEL_VERSION" && [ "$(candidate "$K")" = versions/k5 ]'
PROMOTE_TO=shadow run promote --model-dir "$K"
check "cli-11.9 PROMOTE_TO must be current or candidate" \
    eval 'exits 2 && one_line && says "invalid PROMOTE_TO '"'"'shadow'"'"': expected one of current|candidate"'
mkdir -p "$K/versions/broken" && echo junk >"$K/versions/broken/model.bin"
MODEL_VERSION=broken PROMOTE_TO=candidate run promote --model-dir "$K"
check "cli-11.10 a candidate whose model does not load is refused, the old candidate kept" \
    eval 'exits 1 && [ "$(candidate "$K")" = versions/k5 ]'
QUIET=false run clear-candidate --model-dir "$K"
check "cli-11.11 clear-candidate removes the pointer, the version stays" \
    eval 'exits 0 && [ ! -L "$K/candidate" ] && [ -f "$K/versions/k5/model.bin" ] && [ "$(current "$K")" = versions/k2 ] &&
          grep -q "cleared the candidate k5" "$T/out"'
QUIET=false run clear-candidate --model-dir "$K"
check "cli-11.12 clear-candidate with none is no error (a retried Job succeeds)" \
    eval 'exits 0 && grep -q "no candidate in" "$T/out"'
ln -s /etc "$K/candidate"
run clear-candidate --model-dir "$K"
check "cli-11.13 a candidate that is not a link into versions/ is an error, left alone" \
    eval 'exits 1 && says "not at versions/<version>" && [ "$(readlink "$K/candidate")" = /etc ]'
rm -rf "$K/candidate" "$K/versions/broken"
C2=$T/cand-copy
mkdir -p "$C2"
MODEL_VERSION=k5 PROMOTE_TO=candidate run promote --model-dir "$K"
run copy-store --model-dir "$K" --copy-to "$C2"
check "cli-11.14 copy-store carries the candidate over" \
    eval 'exits 0 && [ "$(candidate "$C2")" = versions/k5 ] && [ "$(current "$C2")" = versions/k2 ]'

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
