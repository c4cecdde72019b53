#!/usr/bin/env bash
# The model store on S3 (MODEL_DIR=s3://...) end to end, against the
# SeaweedFS that tests/s3/run.sh started: forest-train and forest-serve
# (the ASan builds) train into the bucket, serve from it, hot-reload, roll
# back, prune, try a candidate (shadow and canary's pointer), shard and
# merge, and meet the faults: wrong credentials, a
# missing bucket, the endpoint down at start and mid-serving, a corrupt
# model.bin, the store dying mid-upload. The endpoint's faults go through
# tests/s3/proxy.py, a TCP relay in front of the real store.
#
# Called by run.sh with AWS_ENDPOINT_URL, AWS_ACCESS_KEY_ID,
# AWS_SECRET_ACCESS_KEY, S3_TEST_BUCKET, S3_TEST_TMP (a private directory),
# S3_TEST_CURL_CONF (curl's credentials file) and S3_TEST_PORT (the S3
# port). Prints one line per check and closes with "N passed, N failed".
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
train="$repo/build/asan/forest-train"
serve="$repo/build/asan/forest-serve"
bucket=$S3_TEST_BUCKET
tmp=$S3_TEST_TMP/store
endpoint=$AWS_ENDPOINT_URL
store="s3://$bucket/store"
passed=0
failed=0
pids=()
mkdir -p "$tmp"

export ASAN_OPTIONS="detect_leaks=1:abort_on_error=0"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
# Small and quick: 4 series of 400 days, 10 trees; a generous gate so every
# retrain is promoted unless a check says otherwise.
export SYNTH_SERIES=4 SYNTH_DAYS=400 N_ESTIMATORS=10 AS_OF=2026-06-30 \
	PROMOTE_MAX_REGRESSION=1000 N_THREADS=2 MAX_DEPTH=6
unset MODEL_PATH DATA_PATH MODEL_VERSION KEEP_VERSIONS SHARD_RUN SHARD_COUNT \
	SHARD_INDEX QUIET

check() { # name, description, then a command whose status decides
	local name=$1 what=$2
	shift 2
	if "$@"; then
		echo "ok   $name $what"
		passed=$((passed + 1))
	else
		echo "FAIL $name $what"
		failed=$((failed + 1))
	fi
}

cleanup() {
	local p
	for p in "${pids[@]}"; do
		kill "$p" 2>/dev/null && wait "$p" 2>/dev/null
	done
}
trap cleanup EXIT

# Signed requests straight to the store (not through the code under test).
s3curl() { curl -s -K "$S3_TEST_CURL_CONF" --aws-sigv4 "aws:amz:us-east-1:s3" "$@"; }
s3get() { s3curl -f "$endpoint/$bucket/$1"; }
# curl 7.88 signs x-amz-content-sha256 only when given (tests/s3/README.md).
s3put() {
	s3curl -f -X PUT -H "x-amz-content-sha256: $(sha256sum <"$2" | cut -d' ' -f1)" \
		--data-binary "@$2" "$endpoint/$bucket/$1" >/dev/null
}
s3exists() { [[ $(s3curl -o /dev/null -w '%{http_code}' -I "$endpoint/$bucket/$1") == 200 ]]; }
current() { s3get store/current; }

free_port() {
	local p
	for _ in $(seq 1 200); do
		p=$((20000 + RANDOM % 10000))
		[[ -n $(ss -Htln "sport = :$p") ]] || { echo "$p"; return 0; }
	done
	return 1
}

wait_for() { # seconds, command...: polls every 0.2 s
	local deadline=$((SECONDS + $1))
	shift
	while ((SECONDS < deadline)); do
		"$@" && return 0
		sleep 0.2
	done
	"$@"
}

http_code() { curl -s -o /dev/null -w '%{http_code}' "$@"; }
served_version() { curl -s "http://127.0.0.1:$1/model" | sed -n 's/.*"version":[[:space:]]*"\([^"]*\)".*/\1/p' | head -n 1; }

start_proxy() { # listen port, extra args...
	local port=$1
	shift
	python3 "$here/proxy.py" "$port" "$S3_TEST_PORT" "$@" >"$tmp/proxy.$port.log" 2>&1 &
	proxy_pid=$!
	pids+=("$proxy_pid")
	wait_for 10 grep -q listening "$tmp/proxy.$port.log"
}
stop_proxy() { kill "$proxy_pid" 2>/dev/null; wait "$proxy_pid" 2>/dev/null; }

start_serve() { # name, port, endpoint
	MODEL_DIR=$store AWS_ENDPOINT_URL=$3 HOST=127.0.0.1 PORT=$2 \
		RELOAD_INTERVAL_SECONDS=0.5 "$serve" >"$tmp/$1.log" 2>&1 &
	pids+=($!)
	eval "$1_pid=$!"
}

predict='{"features": {"lag_1": 120.5, "lag_2": 118, "lag_3": 119, "lag_7": 121, "lag_14": 117, "lag_28": 115, "roll_mean_7": 119.2, "roll_std_7": 2.1, "roll_mean_28": 118.0, "roll_std_28": 3.3, "same_weekday_1": 121, "same_weekday_2": 117, "same_weekday_3": 119, "same_weekday_4": 115, "same_weekday_mean": 118, "horizon": 1, "day_of_week": 2, "day_of_month": 15, "month": 3, "promo": 1, "holiday": 0}}'
predicts() { [[ $(http_code -X POST "http://127.0.0.1:$1/predict" -d "$predict") == 200 ]]; }

# ---- train, serve, retrain, roll back -----------------------------------

MODEL_DIR=$store MODEL_VERSION=v1 "$train" >"$tmp/train-v1.out" 2>&1
check store-1 "train into $store: exit 0, current is v1" \
	test "$?-$(current)" == "0-v1"
check store-2 "v1 has model.bin, metadata.json and report.svg" \
	eval 's3exists store/versions/v1/model.bin && s3exists store/versions/v1/metadata.json && s3exists store/versions/v1/report.svg'
s3get store/versions/v1/metadata.json >"$tmp/v1.json"
crc_meta=$(sed -n 's/.*"checksum":[[:space:]]*"crc32:\([0-9a-f]*\)".*/\1/p' "$tmp/v1.json" | head -n 1)
check store-3 "the trainer says model.bin was read back and verified, its crc32 in metadata.json" \
	grep -q "wrote version v1 (model.bin .*crc32 $crc_meta, verified)" "$tmp/train-v1.out"

port=$(free_port)
start_serve serve "$port" "$endpoint"
check store-4 "forest-serve on MODEL_DIR=$store: /ready 200, serves v1" \
	wait_for 30 eval "[[ \$(http_code http://127.0.0.1:$port/ready) == 200 && \$(served_version $port) == v1 ]]"
check store-5 "POST /predict answers 200" predicts "$port"

MODEL_DIR=$store MODEL_VERSION=v2 "$train" >"$tmp/train-v2.out" 2>&1
check store-6 "retrain v2: current is v2, the server hot-reloads it" \
	wait_for 20 eval "[[ \$(current) == v2 && \$(served_version $port) == v2 ]]"
MODEL_DIR=$store MODEL_VERSION=v1 "$train" >"$tmp/train-again.out" 2>&1
rc=$?
check store-7 "MODEL_VERSION v1 again: exit 2, 'already exists', v1 unchanged" \
	eval "[[ $rc == 2 ]] && grep -q 'already exists' '$tmp/train-again.out' && s3get store/versions/v1/metadata.json | cmp -s - '$tmp/v1.json'"
MODEL_DIR=$store MODEL_VERSION=v1 "$train" promote >"$tmp/promote.out" 2>&1
check store-8 "promote v1 (rollback): current v1, the server serves v1" \
	wait_for 20 eval "[[ \$(current) == v1 && \$(served_version $port) == v1 ]]"
MODEL_DIR=$store MODEL_VERSION=nope "$train" promote >"$tmp/promote-nope.out" 2>&1
rc=$?
check store-9 "promote a version that does not exist: exit 1, current still v1" \
	eval "[[ $rc == 1 && \$(current) == v1 ]] && grep -q 'NoSuchKey' '$tmp/promote-nope.out'"

# ---- KEEP_VERSIONS -------------------------------------------------------

# v1, v2; v3 with KEEP_VERSIONS=2 is promoted, then the oldest, v1, goes
# (pruning follows promotion, as on the filesystem).
MODEL_DIR=$store MODEL_VERSION=v3 KEEP_VERSIONS=2 "$train" >"$tmp/train-v3.out" 2>&1
check store-10 "KEEP_VERSIONS=2: v1 (oldest) deleted whole, v2 and v3 (current) kept" \
	eval "! s3exists store/versions/v1/model.bin && ! s3exists store/versions/v1/metadata.json && ! s3exists store/versions/v1/report.svg && s3exists store/versions/v2/model.bin && s3exists store/versions/v3/model.bin && [[ \$(current) == v3 ]]"
# KEEP_VERSIONS=1 with v2 rolled back to: the new v4 and current v2 stay.
MODEL_DIR=$store MODEL_VERSION=v2 "$train" promote >/dev/null 2>&1
# A version uploaded within the second this trainer starts counts as
# another trainer's and is kept (SeaweedFS's LastModified has whole
# seconds; the trainers here take well under one).
sleep 1
MODEL_DIR=$store MODEL_VERSION=v4 KEEP_VERSIONS=1 PROMOTE_MAX_REGRESSION=0 \
	GATE_MIN_ROWS=1000000 "$train" >"$tmp/train-v4.out" 2>&1
rc=$?
check store-10b "KEEP_VERSIONS=1: v3 deleted, v4 (new) kept; no rows newer than v2's: too_few_rows, promoted with a warning (exit $rc)" \
	eval "[[ $rc == 0 && \$(current) == v4 ]] && ! s3exists store/versions/v3/model.bin && s3exists store/versions/v4/model.bin && grep -q 'warning: gate too_few_rows' '$tmp/train-v4.out'"

# ---- the gate on S3 ------------------------------------------------------

# A champion trained to 2026-06-01 in its own prefix; a crippled challenger
# trained to 2026-06-30 is scored on the 29 days between, which neither
# learned, against the champion read from the bucket, and refused.
gstore="s3://$bucket/gate"
MODEL_DIR=$gstore MODEL_VERSION=g1 AS_OF=2026-06-01 "$train" >"$tmp/train-g1.out" 2>&1
MODEL_DIR=$gstore MODEL_VERSION=g2 N_ESTIMATORS=1 MAX_DEPTH=1 PROMOTE_MAX_REGRESSION=0 \
	"$train" >"$tmp/train-g2.out" 2>&1
rc=$?
s3get gate/versions/g2/metadata.json >"$tmp/g2.json"
check store-45 "the gate on S3: a crippled challenger exits $rc (3), 'gate REFUSED' against g1, current still g1, g2 kept" \
	eval "[[ $rc == 3 && \$(s3get gate/current) == g1 ]] && grep -q 'gate REFUSED: on the .* newer than g1' '$tmp/train-g2.out' && s3exists gate/versions/g2/model.bin"
check store-46 "g2's metadata.json: gate decision refused, champion g1 (last day 2026-06-01), the challenger scored worse" \
	python3 -c "import json,sys; g=json.load(open(sys.argv[1]))['gate']; sys.exit(0 if g['decision']=='refused' and g['champion_version']=='g1' and g['champion_last_day']=='2026-06-01' and g['rows']>0 and g['challenger_score']>g['champion_score'] else 1)" "$tmp/g2.json"

# ---- two trainers at once, KEEP_VERSIONS=1 ----------------------------------

# S3 has no lock: each trainer uploads, then writes `current`, then prunes.
# A pruner must never delete the other's version between its upload and
# its `current`. A watcher reads race/current every 0.1 s and HEADs the
# version it names; a miss counts only if `current` still names it after.
rstore="s3://$bucket/race"
race_current() { s3get race/current; }
watch_race() { # file to count misses in, until the file "$1.stop" exists
	local v
	: >"$1"
	while [[ ! -e $1.stop ]]; do
		v=$(race_current)
		if [[ -n $v ]] && ! s3exists "race/versions/$v/model.bin" &&
			[[ $(race_current) == "$v" ]]; then
			echo "$v" >>"$1"
		fi
		sleep 0.1
	done
}
MODEL_DIR=$rstore MODEL_VERSION=r0 "$train" >/dev/null 2>&1
watch_race "$tmp/race.miss" &
watcher=$!
pids+=("$watcher")
ok=1
for round in 1 2 3 4; do
	MODEL_DIR=$rstore MODEL_VERSION=a$round KEEP_VERSIONS=1 "$train" >"$tmp/race-a$round.out" 2>&1 &
	a=$!
	MODEL_DIR=$rstore MODEL_VERSION=b$round KEEP_VERSIONS=1 "$train" >"$tmp/race-b$round.out" 2>&1 &
	b=$!
	wait "$a" || ok=0
	wait "$b" || ok=0
done
touch "$tmp/race.miss.stop"
wait "$watcher"
final=$(race_current)
check store-47 "two trainers at once, KEEP_VERSIONS=1, 4 rounds: all exit 0; current ($final) always named a version with model.bin ($(wc -l <"$tmp/race.miss") misses)" \
	eval "[[ $ok == 1 && ! -s '$tmp/race.miss' ]] && s3exists race/versions/$final/model.bin"

# Trainer A is held between its upload and `current` (its PUTs of
# race/current wait in a relay until the test lets them go); B, started
# just before A, is held before its upload until A's upload is done, then
# promotes and prunes while A waits. A's version was uploaded after B
# started: B keeps it (without that rule B deleted it and A's `current`
# named a deleted version).
# Lets trainer A's held PUTs go (touches $1), waits for A: its status in rc_a.
release_a() {
	touch "$1"
	wait "$a"
	rc_a=$?
	stop_proxy
}
bport=$(free_port)
start_proxy "$bport" --hold-put race/versions/fast1/model.bin "$tmp/go-b1"
bproxy=$proxy_pid
proxy_port=$(free_port)
start_proxy "$proxy_port" --hold-put race/current "$tmp/go-a1"
MODEL_DIR=$rstore MODEL_VERSION=fast1 KEEP_VERSIONS=1 AWS_ENDPOINT_URL="http://127.0.0.1:$bport" \
	"$train" >"$tmp/race-fast1.out" 2>&1 &
b=$!
MODEL_DIR=$rstore MODEL_VERSION=slow1 KEEP_VERSIONS=1 AWS_ENDPOINT_URL="http://127.0.0.1:$proxy_port" \
	"$train" >"$tmp/race-slow1.out" 2>&1 &
a=$!
wait_for 120 s3exists race/versions/slow1/report.svg
touch "$tmp/go-b1"
wait "$b"
rc_b=$?
b_left=$(s3exists race/versions/slow1/model.bin && echo yes || echo no)
release_a "$tmp/go-a1"
kill "$bproxy" 2>/dev/null
wait "$bproxy" 2>/dev/null
check store-48 "B (exit $rc_b) prunes while A waits to write current: A's newer version kept ($b_left); A exits $rc_a (0), current slow1 (its If-Match failed once, B wrote meanwhile)" \
	eval "[[ $rc_a == 0 && $rc_b == 0 && $b_left == yes && \$(race_current) == slow1 ]] && s3exists race/versions/slow1/model.bin && s3exists race/versions/fast1/model.bin && grep -q 'promoted fast1' '$tmp/race-fast1.out'"

# Now B starts only after A's upload finished, so A's version is older than
# B and B deletes it; A's `current` is let go after B is done. A sees its
# version gone, puts `current` back to B's and exits 1.
start_proxy "$proxy_port" --hold-put race/current "$tmp/go-a2"
MODEL_DIR=$rstore MODEL_VERSION=slow2 KEEP_VERSIONS=1 AWS_ENDPOINT_URL="http://127.0.0.1:$proxy_port" \
	"$train" >"$tmp/race-slow2.out" 2>&1 &
a=$!
wait_for 120 s3exists race/versions/slow2/report.svg
sleep 1
MODEL_DIR=$rstore MODEL_VERSION=fast2 KEEP_VERSIONS=1 "$train" >"$tmp/race-fast2.out" 2>&1
rc_b=$?
b_pruned=$(s3exists race/versions/slow2/model.bin && echo no || echo yes)
release_a "$tmp/go-a2"
check store-49 "B (exit $rc_b) prunes A's older, unpromoted version (deleted: $b_pruned); A's late current is put back: A exits $rc_a (1) naming it, current fast2" \
	eval "[[ $rc_a == 1 && $rc_b == 0 && $b_pruned == yes && \$(race_current) == fast2 ]] && s3exists race/versions/fast2/model.bin && grep -q \"version 'slow2' was deleted .* set back to 'fast2'\" '$tmp/race-slow2.out'"

# ---- the candidate pointer (shadow and canary) ----------------------------

# Its own prefix, so the checks above and below keep their state.
cstore="s3://$bucket/cand"
candidate_of() { s3get cand/candidate; }
MODEL_DIR=$cstore MODEL_VERSION=c1 "$train" >/dev/null 2>&1
MODEL_DIR=$cstore MODEL_VERSION=c2 PROMOTE_TO=candidate PROMOTE_MAX_REGRESSION=0 \
	"$train" >"$tmp/train-c2.out" 2>&1
rc=$?
check store-30 "PROMOTE_TO=candidate: exit $rc, the candidate object names c2, current still c1, no gate" \
	eval "[[ $rc == 0 && \$(candidate_of) == c2 && \$(s3get cand/current) == c1 ]] && grep -q '\"candidate_no_gate\"' <(s3get cand/versions/c2/metadata.json)"
cport=$(free_port)
MODEL_DIR=$cstore HOST=127.0.0.1 PORT=$cport RELOAD_INTERVAL_SECONDS=0.5 DRAIN_SECONDS=0 \
	CANDIDATE_MODE=canary CANARY_PERCENT=100 "$serve" >"$tmp/cserve.log" 2>&1 &
pids+=($!)
cserve_pid=$!
cand_version() { curl -s "http://127.0.0.1:$cport/model/candidate" | sed -n 's/.*"version":[[:space:]]*"\([^"]*\)".*/\1/p' | head -n 1; }
answered_by() { curl -s -X POST "http://127.0.0.1:$cport/predict" -d "$predict" | sed -n 's/.*"model_version":"\([^"]*\)".*/\1/p'; }
check store-31 "forest-serve loads the candidate from S3 beside current: /model c1, /model/candidate c2, canary 100% answers with c2" \
	wait_for 30 eval "[[ \$(served_version $cport) == c1 && \$(cand_version) == c2 && \$(answered_by) == c2 ]]"
sleep 1 # c1 must be older than c3's trainer by a whole second (store-10b)
MODEL_DIR=$cstore MODEL_VERSION=c3 KEEP_VERSIONS=1 "$train" >/dev/null 2>&1
check store-32 "KEEP_VERSIONS=1: c1 deleted, the candidate c2 and the new current c3 kept" \
	eval "! s3exists cand/versions/c1/model.bin && s3exists cand/versions/c2/model.bin && s3exists cand/versions/c3/model.bin && [[ \$(candidate_of) == c2 ]]"
MODEL_DIR=$cstore MODEL_VERSION=c3 PROMOTE_TO=candidate "$train" promote >/dev/null 2>&1
check store-33 "promote c3 to the candidate: the server follows the candidate's ETag to c3" \
	wait_for 20 eval "[[ \$(candidate_of) == c3 && \$(cand_version) == c3 ]]"
MODEL_DIR=$cstore MODEL_VERSION=c2 PROMOTE_TO=candidate "$train" promote >/dev/null 2>&1
MODEL_DIR=$cstore "$train" promote >"$tmp/promote-cand.out" 2>&1
rc=$?
check store-34 "promote without MODEL_VERSION: exit $rc, current c2, the candidate object deleted; the server serves c2, /model/candidate 404" \
	wait_for 20 eval "[[ $rc == 0 && \$(s3get cand/current) == c2 ]] && ! s3exists cand/candidate && [[ \$(served_version $cport) == c2 && \$(http_code http://127.0.0.1:$cport/model/candidate) == 404 ]]"
MODEL_DIR=$cstore "$train" promote >"$tmp/promote-none.out" 2>&1
rc=$?
check store-35 "promote again with no candidate: exit 2, current still c2" \
	eval "[[ $rc == 2 && \$(s3get cand/current) == c2 ]] && grep -q 'has no candidate' '$tmp/promote-none.out'"
MODEL_DIR=$cstore MODEL_VERSION=c3 PROMOTE_TO=candidate "$train" promote >/dev/null 2>&1
wait_for 20 eval "[[ \$(cand_version) == c3 ]]"
MODEL_DIR=$cstore "$train" clear-candidate >"$tmp/clear.out" 2>&1
rc=$?
check store-36 "clear-candidate: exit $rc, the object deleted, c3 kept; the server drops the candidate (candidate_cleared)" \
	wait_for 20 eval "[[ $rc == 0 ]] && ! s3exists cand/candidate && s3exists cand/versions/c3/model.bin && [[ \$(http_code http://127.0.0.1:$cport/model/candidate) == 404 ]] && grep -q '\"event\":\"candidate_cleared\"' '$tmp/cserve.log'"
kill "$cserve_pid" 2>/dev/null
wait "$cserve_pid"
rc=$?
check store-37 "the candidate server exits 0 on SIGTERM, no sanitizer report" \
	eval "[[ $rc == 0 ]] && ! grep -q 'Sanitizer' '$tmp/cserve.log'"

# ---- shards and merge ----------------------------------------------------

ok=1
for i in 0 1; do
	MODEL_DIR=$store SHARD_RUN=r1 SHARD_COUNT=2 SHARD_INDEX=$i "$train" >"$tmp/shard-$i.out" 2>&1 || ok=0
done
check store-11 "two shards written to store/shards/r1/" \
	eval "[[ $ok == 1 ]] && s3exists store/shards/r1/shard-0-of-2.bin && s3exists store/shards/r1/shard-1-of-2.bin"
MODEL_DIR=$store SHARD_RUN=r1 SHARD_COUNT=2 MODEL_VERSION=merged "$train" merge >"$tmp/merge.out" 2>&1
rc=$?
check store-12 "merge: version 'merged' promoted, the shards removed" \
	eval "[[ $rc == 0 && \$(current) == merged ]] && ! s3exists store/shards/r1/shard-0-of-2.bin && ! s3exists store/shards/r1/shard-1-of-2.bin"

# ---- DATA_PATH on S3 -----------------------------------------------------

"$train" synth --out "$tmp/demand.csv" >/dev/null 2>&1
s3put data/demand.csv "$tmp/demand.csv"
MODEL_DIR=$store MODEL_VERSION=fromcsv DATA_PATH="s3://$bucket/data/demand.csv" \
	"$train" >"$tmp/train-csv.out" 2>&1
rc=$?
check store-13 "DATA_PATH=s3://$bucket/data/demand.csv: trained (exit $rc), the source recorded as the URL" \
	eval "[[ $rc == 0 ]] && grep -q '\"source\":[[:space:]]*\"s3://$bucket/data/demand.csv\"' <(s3get store/versions/fromcsv/metadata.json)"

# ---- faults at the trainer -----------------------------------------------

before=$(current)
MODEL_DIR=$store MODEL_VERSION=w1 AWS_SECRET_ACCESS_KEY=not-the-secret-0123456789 \
	"$train" >"$tmp/wrong.out" 2>"$tmp/wrong.err"
rc=$?
check store-14 "wrong secret: exit 1, one line naming s3://$bucket/store/current and SignatureDoesNotMatch, no secret" \
	eval "[[ $rc == 1 && \$(wc -l <'$tmp/wrong.err') == 1 ]] && grep -q 's3://$bucket/store/current.*SignatureDoesNotMatch (403)' '$tmp/wrong.err' && ! grep -q not-the-secret '$tmp/wrong.err' '$tmp/wrong.out' && ! grep -q training '$tmp/wrong.out'"
MODEL_DIR="s3://no-such-bucket-$RANDOM/store" "$train" >"$tmp/nobucket.out" 2>"$tmp/nobucket.err"
rc=$?
check store-15 "missing bucket: exit 1, NoSuchBucket (404) named" \
	eval "[[ $rc == 1 ]] && grep -q 'NoSuchBucket (404)' '$tmp/nobucket.err'"
down_port=$(free_port)
t0=$SECONDS
MODEL_DIR=$store AWS_ENDPOINT_URL="http://127.0.0.1:$down_port" "$train" >"$tmp/down.out" 2>"$tmp/down.err"
rc=$?
check store-16 "endpoint down at start: exit 1 before training, in $((SECONDS - t0)) s" \
	eval "[[ $rc == 1 ]] && ! grep -q 'training' '$tmp/down.out' && grep -q 'cannot GET s3://$bucket/store/current' '$tmp/down.err'"

# The store dies while model.bin is being uploaded.
proxy_port=$(free_port)
start_proxy "$proxy_port" --die-on-put versions/killed/model.bin
MODEL_DIR=$store MODEL_VERSION=killed AWS_ENDPOINT_URL="http://127.0.0.1:$proxy_port" \
	"$train" >"$tmp/killed.out" 2>"$tmp/killed.err"
rc=$?
wait "$proxy_pid" 2>/dev/null
check store-17 "store killed mid-upload: exit $rc (non-zero), current still $before" \
	eval "[[ $rc != 0 && \$(current) == '$before' ]] && grep -q 'killed' '$tmp/killed.err'"

# ---- copy-store: S3 -> directory -> S3 ------------------------------------

mkdir -p "$tmp/copy"
MODEL_DIR=$store COPY_TO="$tmp/copy" "$train" copy-store >"$tmp/copy-out.out" 2>&1
rc=$?
n_src=$(grep -c '^forest-train: copied .* to ' "$tmp/copy-out.out")
check store-25 "copy-store to a directory: exit $rc, $n_src versions, current -> versions/$(current)" \
	eval "[[ $rc == 0 && $n_src -ge 3 && \$(readlink '$tmp/copy/current') == versions/\$(current) ]]"
MODEL_DIR="$tmp/copy" COPY_TO="s3://$bucket/store2" "$train" copy-store >"$tmp/copy-back.out" 2>&1
rc=$?
check store-26 "copy-store back to s3://$bucket/store2: exit $rc, the same versions and current" \
	eval "[[ $rc == 0 && \$(grep -c '^forest-train: copied .* to ' '$tmp/copy-back.out') == $n_src && \$(s3get store2/current) == \$(current) ]]"
MODEL_DIR="$tmp/copy" COPY_TO="s3://$bucket/store2" "$train" copy-store >"$tmp/copy-again.out" 2>&1
rc=$?
check store-27 "copy-store again: exit $rc, every version already there" \
	eval "[[ $rc == 0 ]] && grep -q 'copied 0 versions, $n_src already there' '$tmp/copy-again.out'"

# ---- faults at the server ------------------------------------------------

# A corrupt model.bin named by current: refused, the old model kept.
served=$(served_version "$port")
s3get store/versions/$before/model.bin | head -c 1000 >"$tmp/truncated.bin"
s3put store/versions/bad/model.bin "$tmp/truncated.bin"
s3get store/versions/$before/metadata.json >"$tmp/bad.json"
s3put store/versions/bad/metadata.json "$tmp/bad.json"
s3get store/versions/$before/report.svg >"$tmp/bad.svg"
s3put store/versions/bad/report.svg "$tmp/bad.svg"
printf bad >"$tmp/current-bad"
s3put store/current "$tmp/current-bad"
check store-18 "a truncated model.bin named by current: refused (model_refused), still serving $served" \
	wait_for 20 eval "grep -q '\"model_refused\".*versions/bad/model.bin' '$tmp/serve.log' && [[ \$(served_version $port) == '$served' ]] && predicts $port"
mkdir -p "$tmp/copy2"
MODEL_DIR=$store COPY_TO="$tmp/copy2" "$train" copy-store >"$tmp/copy-bad.out" 2>&1
rc=$?
check store-28 "copy-store refuses the truncated version: exit $rc, naming versions/bad" \
	eval "[[ $rc == 1 ]] && grep -q 'versions/bad/model.bin' '$tmp/copy-bad.out'"
printf '%s' "$before" >"$tmp/current-good"
s3put store/current "$tmp/current-good"

# Endpoint down when the server starts: not ready, then ready once it is up.
proxy_port=$(free_port)
port2=$(free_port)
start_serve serve2 "$port2" "http://127.0.0.1:$proxy_port"
sleep 3
check store-19 "endpoint down at the server's start: /ready 503" \
	test "$(http_code "http://127.0.0.1:$port2/ready")" == 503
start_proxy "$proxy_port"
check store-20 "the store comes up: /ready 200 and /predict answers" \
	wait_for 30 eval "[[ \$(http_code http://127.0.0.1:$port2/ready) == 200 ]] && predicts $port2"

# Down while serving: keeps serving, logs once, counts every failed poll.
stop_proxy
sleep 3
errors=$(curl -s "http://127.0.0.1:$port2/metrics" | sed -n 's/^forest_serve_model_store_errors_total //p')
check store-21 "endpoint down mid-serving: /predict still 200, /ready 200" \
	eval "predicts $port2 && [[ \$(http_code http://127.0.0.1:$port2/ready) == 200 ]]"
check store-22 "each outage logged once (store_unreachable: the one at start, this one) while forest_serve_model_store_errors_total counts $errors failed polls" \
	eval "[[ \$(grep -c '\"store_unreachable\"' '$tmp/serve2.log') == 2 && \${errors:-0} -ge 3 ]]"
start_proxy "$proxy_port"
check store-23 "the store back: store_recovered logged" \
	wait_for 20 grep -q '"store_recovered"' "$tmp/serve2.log"

# ---- 5xx answers (proxy.py --fail) -------------------------------------------

# The trainer through a relay of its own (serve2's stays as it is).
# Transient: the first two PUTs of t503's model.bin answered 503; the
# client's third attempt (AWS_MAX_ATTEMPTS 3) goes through.
serve_proxy=$proxy_pid
tport=$(free_port)
start_proxy "$tport" --fail PUT versions/t503/model.bin 2
MODEL_DIR=$store MODEL_VERSION=t503 AWS_ENDPOINT_URL="http://127.0.0.1:$tport" \
	"$train" >"$tmp/t503.out" 2>&1
rc=$?
n503=$(grep -c '^503 PUT' "$tmp/proxy.$tport.log")
stop_proxy
check store-50 "two 503s on model.bin's PUT, then success: exit $rc (0) after $n503 503s, current t503" \
	eval "[[ $rc == 0 && $n503 == 2 && \$(current) == t503 ]] && s3exists store/versions/t503/model.bin"
# Persistent: every PUT under the store answered 503.
before=$(current)
start_proxy "$tport" --fail PUT /store/ -1
MODEL_DIR=$store MODEL_VERSION=p503 AWS_ENDPOINT_URL="http://127.0.0.1:$tport" \
	"$train" >"$tmp/p503.out" 2>"$tmp/p503.err"
rc=$?
n503=$(grep -c '^503 PUT' "$tmp/proxy.$tport.log")
stop_proxy
check store-51 "every PUT answered 503: exit $rc (1) naming ServiceUnavailable (503) after retries ($n503 503s), current still $before, no p503" \
	eval "[[ $rc == 1 && $n503 -ge 3 && \$(current) == '$before' ]] && grep -q 'ServiceUnavailable (503) after retries' '$tmp/p503.err' && ! s3exists store/versions/p503/model.bin"
# Persistent on the server's polls: every GET of store/current answered
# 503 for 4 s; the server keeps serving, logs the outage once and counts
# every failed poll, then recovers when the 503s stop.
proxy_pid=$serve_proxy
wait_for 20 eval "[[ \$(served_version $port2) == \$(current) ]]"
outages=$(grep -c '"store_unreachable"' "$tmp/serve2.log")
recovered=$(grep -c '"store_recovered"' "$tmp/serve2.log")
errors0=$(curl -s "http://127.0.0.1:$port2/metrics" | sed -n 's/^forest_serve_model_store_errors_total //p')
stop_proxy
start_proxy "$proxy_port" --fail GET /store/current -1
sleep 4
errors1=$(curl -s "http://127.0.0.1:$port2/metrics" | sed -n 's/^forest_serve_model_store_errors_total //p')
check store-52 "GET of current answered 503 for 4 s ($(grep -c '^503 GET' "$tmp/proxy.$proxy_port.log") times): /predict and /ready still 200" \
	eval "predicts $port2 && [[ \$(http_code http://127.0.0.1:$port2/ready) == 200 ]]"
check store-53 "the 5xx outage logged once (store_unreachable naming ServiceUnavailable (503)); forest_serve_model_store_errors_total $errors0 -> $errors1" \
	eval "[[ \$(grep -c '\"store_unreachable\"' '$tmp/serve2.log') == $((outages + 1)) && \${errors1:-0} -ge \$((${errors0:-0} + 2)) ]] && grep -q 'ServiceUnavailable (503)' <(grep '\"store_unreachable\"' '$tmp/serve2.log' | tail -n 1)"
stop_proxy
start_proxy "$proxy_port"
check store-54 "the 503s stop: store_recovered logged again" \
	wait_for 20 eval "[[ \$(grep -c '\"store_recovered\"' '$tmp/serve2.log') == $((recovered + 1)) ]]"

# ---- export to XGBoost, from and to the bucket -----------------------------

# A tabular model in its own store (series models predict a difference to
# a level, which XGBoost cannot express: export refuses them, exit 4),
# exported through the S3 API to a local file and to an object: both are
# the same document, and an export that cannot be written leaves no object.
tstore="s3://$bucket/tabular"
awk 'BEGIN { srand(7); print "a,b,y";
	for (i = 0; i < 500; i++) { a = int(rand() * 11) - 5; b = rand() * 100;
		printf "%d,%.3f,%.4f\n", a, b, 3 * a + 0.1 * b + rand() } }' >"$tmp/tab.csv"
MODEL_DIR=$tstore MODEL_VERSION=t1 DATA_PATH=$tmp/tab.csv DATA_MODE=tabular TARGET_COLUMN=y \
	"$train" >"$tmp/train-tab.out" 2>&1
rc=$?
MODEL_DIR=$tstore "$train" export --out "$tmp/export.json" >"$tmp/export.out" 2>&1
rc2=$?
check store-40 "export from MODEL_DIR=$tstore (trained: exit $rc): exit $rc2, its current t1 written to a file" \
	eval "[[ $rc == 0 && $rc2 == 0 ]] && grep -q 'exported version t1 (' '$tmp/export.out' && grep -q '\"learner\"' '$tmp/export.json'"
MODEL_DIR=$tstore MODEL_VERSION=t1 "$train" export --out "s3://$bucket/exports/model.json" \
	>"$tmp/export-s3.out" 2>&1
rc=$?
check store-41 "export OUT=s3://$bucket/exports/model.json: exit $rc, the object is the same document" \
	eval "[[ $rc == 0 ]] && s3get exports/model.json | cmp -s - '$tmp/export.json'"
MODEL_DIR=$store "$train" export --out "s3://$bucket/exports/series.json" >"$tmp/export-series.out" 2>&1
rc=$?
check store-42 "export a series model from $store: exit $rc (4), the reason named, no object" \
	eval "[[ $rc == 4 ]] && grep -q 'cannot export version' '$tmp/export-series.out' && ! s3exists exports/series.json"
MODEL_DIR=$tstore MODEL_VERSION=no-such-version "$train" export --out "$tmp/none.json" \
	>"$tmp/export-none.out" 2>&1
rc=$?
check store-43 "export a version the bucket does not hold: exit $rc (1), named, no file" \
	eval "[[ $rc == 1 ]] && grep -q \"has no version 'no-such-version'\" '$tmp/export-none.out' && [[ ! -e '$tmp/none.json' ]]"
MODEL_DIR=$tstore AWS_SECRET_ACCESS_KEY=not-the-secret-0123456789 "$train" export \
	--model-version t1 --out "s3://$bucket/exports/denied.json" >"$tmp/export-denied.out" 2>&1
rc=$?
check store-44 "export with a wrong secret: exit $rc (1), SignatureDoesNotMatch, no object" \
	eval "[[ $rc == 1 ]] && grep -q 'SignatureDoesNotMatch (403)' '$tmp/export-denied.out' && ! s3exists exports/denied.json"

# ---- no secret anywhere --------------------------------------------------

check store-24 "no output, log or answer holds the secret key" \
	eval "! grep -rqF -e '$AWS_SECRET_ACCESS_KEY' '$tmp' && ! grep -qF -e '$AWS_SECRET_ACCESS_KEY' <(curl -s http://127.0.0.1:$port/model)"

echo "$passed passed, $failed failed"
((failed == 0))
