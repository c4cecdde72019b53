#!/usr/bin/env bash
# The S3 client (libforest/s3.c) against a real SeaweedFS: builds `weed`
# once into the e2e cache (build-seaweedfs.sh), starts `weed server -s3` on
# 127.0.0.1 with a throw-away S3 identity, creates a bucket and runs
# build/asan/test-s3 (make s3-test builds it). Everything the run makes is
# in one temporary directory, removed at the end with the server stopped.
#
#   make s3-test                  (or tests/s3/run.sh once build/asan/test-s3 exists)
#   S3_KEEP=1 tests/s3/run.sh     keep the temporary directory and its weed.log
#
# Closes with the test program's "N passed, N failed"; the exit status is
# non-zero when a check failed or the server could not be started.
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
start=$SECONDS
test_bin="$repo/build/asan/test-s3"
bucket=mini-ml-test
tmp=$(mktemp -d "${TMPDIR:-/tmp}/s3-test.XXXXXX")
weed_pid=""

log() { printf '[s3-test %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

cleanup() {
	if [[ -n $weed_pid ]] && kill -0 "$weed_pid" 2>/dev/null; then
		kill "$weed_pid" 2>/dev/null
		# weed stops its servers in a few seconds; never wait forever.
		for _ in $(seq 1 50); do
			kill -0 "$weed_pid" 2>/dev/null || break
			sleep 0.2
		done
		kill -9 "$weed_pid" 2>/dev/null
		wait "$weed_pid" 2>/dev/null
		# The master's gRPC socket has no flag: weed puts it in /tmp.
		local sock="/tmp/seaweedfs-master-grpc-$((master_port + 10000)).sock"
		[[ -S $sock ]] && rm -f "$sock"
	fi
	if [[ -n ${S3_KEEP:-} ]]; then
		log "kept $tmp"
	else
		rm -rf "$tmp"
	fi
}
trap cleanup EXIT

# Fails the run before any test: a closing line that counts it, weed's log.
fail_setup() {
	log "error: $*"
	if [[ -f $tmp/weed.log ]]; then
		log "the last lines of weed's log:"
		tail -n 20 "$tmp/weed.log" | sed 's/^/  | /' >&2
	fi
	echo "0 passed, 1 failed"
	exit 1
}

if [[ -z ${S3_RUN:-} ]]; then
	[[ -x $test_bin ]] || fail_setup "$test_bin is missing: run make s3-test"
	for b in forest-train forest-serve; do
		[[ -x $repo/build/asan/$b ]] || fail_setup "build/asan/$b is missing: run make s3-test"
	done
fi
command -v python3 >/dev/null || fail_setup "python3 is missing (the store tests' relay)"
command -v curl >/dev/null || fail_setup "curl is missing (scripts/install-deps.sh test)"

weed_dir=$("$here/build-seaweedfs.sh") || fail_setup "building weed failed"
weed="$weed_dir/weed"

# Four free ports in 20000-29999; weed puts each one's gRPC port at
# port + 10000, so those are checked too.
port_free() { [[ -z $(ss -Htln "sport = :$1") ]]; }
pick_ports() {
	local tries p q ports=()
	for tries in $(seq 1 200); do
		p=$((20000 + RANDOM % 10000))
		q=$((p + 10000))
		[[ " ${ports[*]} " == *" $p "* ]] && continue
		port_free "$p" && port_free "$q" && ports+=("$p")
		((${#ports[@]} == 4)) && break
	done
	((${#ports[@]} == 4)) || return 1
	echo "${ports[@]}"
}
read -r master_port volume_port filer_port s3_port < <(pick_ports) ||
	fail_setup "no four free ports found"

# A fresh identity for this run only; the secret is in a 0600 file and in
# the test's environment, never on a command line.
access_key="MINIML$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')"
secret_key=$(od -An -N24 -tx1 /dev/urandom | tr -d ' \n')
umask 077
cat >"$tmp/s3.json" <<EOF
{
  "identities": [
    {
      "name": "mini-ml-test",
      "credentials": [{"accessKey": "$access_key", "secretKey": "$secret_key"}],
      "actions": ["Admin", "Read", "Write", "List", "Tagging"]
    }
  ]
}
EOF
mkdir -p "$tmp/data"

# The S3 gateway and what it needs (master, volume, filer), all on
# loopback; buckets are never created by an upload, as on AWS; backslashes
# stay in keys, as on AWS; no telemetry, Iceberg or Lance listeners.
"$weed" server -ip=127.0.0.1 -ip.bind=127.0.0.1 -dir="$tmp/data" \
	-master.port="$master_port" -master.port.grpc=$((master_port + 10000)) \
	-master.telemetry=false -master.volumeSizeLimitMB=64 \
	-volume.port="$volume_port" -volume.port.grpc=$((volume_port + 10000)) \
	-volume.max=4 -volume.preStopSeconds=0 \
	-filer -filer.port="$filer_port" -filer.port.grpc=$((filer_port + 10000)) \
	-filer.localSocket="$tmp/filer.sock" -s3.localSocket="$tmp/s3.sock" \
	-s3 -s3.port="$s3_port" -s3.port.grpc=$((s3_port + 10000)) \
	-s3.port.iceberg=0 -s3.port.lance=0 -s3.config="$tmp/s3.json" \
	-s3.autoCreateBucket=false -s3.allowBackslashInKey \
	>"$tmp/weed.log" 2>&1 &
weed_pid=$!
endpoint="http://127.0.0.1:$s3_port"
log "weed server (pid $weed_pid): S3 on $endpoint, data in $tmp/data"

# Ready once a signed bucket creation succeeds (the gateway answers before
# the filer and volume server are up). curl reads the credentials from a
# file, never from its command line.
printf 'user = "%s:%s"\n' "$access_key" "$secret_key" >"$tmp/curl.conf"
deadline=$((SECONDS + 90))
while :; do
	kill -0 "$weed_pid" 2>/dev/null || fail_setup "weed server exited"
	code=$(curl -s -o "$tmp/create.out" -w '%{http_code}' -K "$tmp/curl.conf" \
		--aws-sigv4 "aws:amz:us-east-1:s3" -X PUT "$endpoint/$bucket") || code=000
	[[ $code == 200 ]] && break
	((SECONDS < deadline)) || fail_setup "bucket $bucket not created in 90 s (last HTTP $code)"
	sleep 1
done
log "bucket $bucket created after $((SECONDS - start))s"

# S3_RUN=COMMAND: run that against this store instead of the tests (with
# the same AWS_* settings and S3_TEST_BUCKET), e.g. bench/s3_serve.sh.
if [[ -n ${S3_RUN:-} ]]; then
	AWS_ENDPOINT_URL="$endpoint" AWS_ACCESS_KEY_ID="$access_key" \
		AWS_SECRET_ACCESS_KEY="$secret_key" AWS_REGION=us-east-1 \
		S3_TEST_BUCKET="$bucket" \
		env -u AWS_ENDPOINT_URL_S3 -u AWS_SESSION_TOKEN -u AWS_MAX_ATTEMPTS \
		$S3_RUN
	exit
fi

t0=$SECONDS
AWS_ENDPOINT_URL="$endpoint" AWS_ACCESS_KEY_ID="$access_key" \
	AWS_SECRET_ACCESS_KEY="$secret_key" AWS_REGION=us-east-1 \
	S3_TEST_BUCKET="$bucket" \
	ASAN_OPTIONS="detect_leaks=1:abort_on_error=0" \
	UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1" \
	env -u AWS_ENDPOINT_URL_S3 -u AWS_SESSION_TOKEN -u AWS_MAX_ATTEMPTS \
	"$test_bin" >"$tmp/test.out" 2>&1
rc=$?
log "client tests took $((SECONDS - t0))s"

# The model store on S3: forest-train and forest-serve against the bucket.
t1=$SECONDS
AWS_ENDPOINT_URL="$endpoint" AWS_ACCESS_KEY_ID="$access_key" \
	AWS_SECRET_ACCESS_KEY="$secret_key" AWS_REGION=us-east-1 \
	S3_TEST_BUCKET="$bucket" S3_TEST_TMP="$tmp" S3_TEST_PORT="$s3_port" \
	S3_TEST_CURL_CONF="$tmp/curl.conf" \
	env -u AWS_ENDPOINT_URL_S3 -u AWS_SESSION_TOKEN -u AWS_MAX_ATTEMPTS \
	"$here/store.sh" >"$tmp/store.out" 2>&1
store_rc=$?
log "store tests took $((SECONDS - t1))s; the whole run $((SECONDS - start))s"
store_closing=$(grep -E '^[0-9]+ passed, [0-9]+ failed$' "$tmp/store.out" | tail -n 1)
if [[ -z $store_closing ]]; then
	cat "$tmp/store.out"
	log "error: store.sh ended without its closing line (exit $store_rc)"
	store_closing="0 passed, 1 failed"
	store_rc=1
fi
closing=$(grep -E '^[0-9]+ passed, [0-9]+ failed$' "$tmp/test.out" | tail -n 1)
[[ -n $closing ]] || {
	cat "$tmp/test.out"
	log "error: the test program ended without its closing line (exit $rc)"
	echo "0 passed, 1 failed"
	exit 1
}
passed=${closing%% *}
failed=$(cut -d' ' -f3 <<<"$closing")
grep -vxF "$closing" "$tmp/test.out"
grep -vxF "$store_closing" "$tmp/store.out"
passed=$((passed + ${store_closing%% *}))
failed=$((failed + $(cut -d' ' -f3 <<<"$store_closing")))
# One more check here: nothing secret reached the output.
if grep -qF -e "$secret_key" "$tmp/test.out" "$tmp/store.out"; then
	echo "FAIL output-1 the test output contains the secret key"
	failed=$((failed + 1))
else
	echo "ok   output-1 the test output contains no secret key"
	passed=$((passed + 1))
fi
echo "$passed passed, $failed failed"
((rc == 0 && store_rc == 0 && failed == 0))
