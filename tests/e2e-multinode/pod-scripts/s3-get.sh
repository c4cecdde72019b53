#!/bin/sh
# Run in a pod: print the body of s3://BUCKET/KEY (signed; see s3-roundtrip.sh
# for the header). Usage: s3-get.sh ENDPOINT BUCKET KEY
set -eu
ep=$1 bucket=$2 key=$3
umask 077
conf=$(mktemp)
printf 'user = "%s:%s"\n' "$AWS_ACCESS_KEY_ID" "$AWS_SECRET_ACCESS_KEY" >"$conf"
. "$(dirname "$0")/store-wait.sh"
store_wait "$ep"
curl -sS -f --max-time 20 -K "$conf" --aws-sigv4 "aws:amz:us-east-1:s3" \
	-H "x-amz-content-sha256: e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855" \
	"$ep/$bucket/$key"
