#!/bin/sh
# Run in a pod: point PREFIX/current at VERSION (signed as in
# s3-roundtrip.sh). Usage: s3-put-current.sh ENDPOINT BUCKET PREFIX VERSION
set -eu
ep=$1 bucket=$2 prefix=$3 version=$4
umask 077
conf=$(mktemp)
printf 'user = "%s:%s"\n' "$AWS_ACCESS_KEY_ID" "$AWS_SECRET_ACCESS_KEY" >"$conf"
# A new pod's first packets can be refused until the NetworkPolicy
# enforcer has its rules for it: wait for the store, as the others do.
i=0
until curl -s -o /dev/null --connect-timeout 2 --max-time 5 "$ep/healthz"; do
	i=$((i + 1))
	[ "$i" -lt 30 ] || { echo "store $ep unreachable for 30 s"; exit 1; }
	sleep 1
done
body=$(mktemp)
printf '%s\n' "$version" >"$body"
curl -sS -f --max-time 30 -K "$conf" --aws-sigv4 "aws:amz:us-east-1:s3" -o /dev/null \
	-H "x-amz-content-sha256: $(sha256sum "$body" | cut -d' ' -f1)" \
	-T "$body" "$ep/$bucket/$prefix/current"
echo "current -> $version"
