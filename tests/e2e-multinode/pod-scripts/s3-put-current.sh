#!/bin/sh
# Run in a pod: point PREFIX/current at VERSION (signed as in
# s3-roundtrip.sh). Usage: s3-put-current.sh ENDPOINT BUCKET PREFIX VERSION
set -eu
ep=$1 bucket=$2 prefix=$3 version=$4
umask 077
conf=$(mktemp)
printf 'user = "%s:%s"\n' "$AWS_ACCESS_KEY_ID" "$AWS_SECRET_ACCESS_KEY" >"$conf"
. "$(dirname "$0")/store-wait.sh"
store_wait "$ep"
body=$(mktemp)
printf '%s\n' "$version" >"$body"
curl -sS -f --max-time 30 -K "$conf" --aws-sigv4 "aws:amz:us-east-1:s3" -o /dev/null \
	-H "x-amz-content-sha256: $(sha256sum "$body" | cut -d' ' -f1)" \
	-T "$body" "$ep/$bucket/$prefix/current"
echo "current -> $version"
