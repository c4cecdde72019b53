#!/bin/sh
# Run in a pod: put an object through the S3 Service, read it back, compare.
# curl 7.88 signs with --aws-sigv4 but does not add x-amz-content-sha256,
# which SeaweedFS requires: the header is set here, with the body's SHA-256.
# Credentials come from the Secret (env) and go to curl through a file,
# never its command line. Usage: s3-roundtrip.sh ENDPOINT BUCKET KEY
set -eu
ep=$1 bucket=$2 key=$3
empty=e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855
umask 077
conf=$(mktemp)
printf 'user = "%s:%s"\n' "$AWS_ACCESS_KEY_ID" "$AWS_SECRET_ACCESS_KEY" >"$conf"
# The policy controller lets a new pod in a moment after it starts.
. "$(dirname "$0")/store-wait.sh"
store_wait "$ep"
[ "$waited" = 0 ] || echo "store reachable after ${waited}s"
s3() { curl -sS --max-time 20 -K "$conf" --aws-sigv4 "aws:amz:us-east-1:s3" "$@"; }
code=$(s3 -o /tmp/mb.out -w '%{http_code}' -H "x-amz-content-sha256: $empty" -X PUT "$ep/$bucket")
case $code in
200 | 409) echo "bucket $bucket: HTTP $code" ;;
*) echo "create bucket $bucket: HTTP $code: $(cat /tmp/mb.out)"; exit 1 ;;
esac
body="object written by $(hostname) at $(date +%s)"
sha=$(printf '%s' "$body" | sha256sum | cut -d' ' -f1)
code=$(printf '%s' "$body" | s3 -o /tmp/put.out -w '%{http_code}' -H "x-amz-content-sha256: $sha" \
	-T - "$ep/$bucket/$key")
[ "$code" = 200 ] || { echo "PUT $bucket/$key: HTTP $code: $(cat /tmp/put.out)"; exit 1; }
echo "PUT $bucket/$key: HTTP 200 (${#body} bytes)"
got=$(s3 -f -H "x-amz-content-sha256: $empty" "$ep/$bucket/$key")
[ "$got" = "$body" ] || { echo "GET $bucket/$key returned '$got', want '$body'"; exit 1; }
echo "GET $bucket/$key: the same ${#body} bytes"
# Without a signature the store refuses (its only identity is the Secret's).
code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 20 "$ep/$bucket/$key")
[ "$code" = 403 ] || { echo "unsigned GET: HTTP $code, want 403"; exit 1; }
echo "unsigned GET: HTTP 403"
