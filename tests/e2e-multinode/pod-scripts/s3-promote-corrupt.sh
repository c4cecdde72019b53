#!/bin/sh
# Run in a pod: publish a copy of the version PREFIX/current names, with one
# byte of its model.bin flipped, as version NEW, and point current at it,
# as a trainer that wrote a damaged file would: every API pod must refuse
# it at reload (checksum mismatch) and keep serving the old one. Prints the
# version it replaced. Signed as in s3-roundtrip.sh.
# Usage: s3-promote-corrupt.sh ENDPOINT BUCKET PREFIX NEW
set -eu
ep=$1 bucket=$2 prefix=$3 new=$4
empty=e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855
umask 077
conf=$(mktemp)
printf 'user = "%s:%s"\n' "$AWS_ACCESS_KEY_ID" "$AWS_SECRET_ACCESS_KEY" >"$conf"
. "$(dirname "$0")/store-wait.sh"
store_wait "$ep"
s3() { curl -sS -f --max-time 30 -K "$conf" --aws-sigv4 "aws:amz:us-east-1:s3" "$@"; }
get() { s3 -H "x-amz-content-sha256: $empty" -o "$2" "$ep/$bucket/$prefix/$1"; }
put() {
	s3 -o /dev/null -H "x-amz-content-sha256: $(sha256sum "$2" | cut -d' ' -f1)" \
		-T "$2" "$ep/$bucket/$prefix/$1"
}
dir=$(mktemp -d)
get current "$dir/current"
old=$(tr -d '\n' <"$dir/current")
get "versions/$old/model.bin" "$dir/model.bin"
get "versions/$old/metadata.json" "$dir/metadata.json"
size=$(stat -c %s "$dir/model.bin")
# One byte in the middle of the payload: the file's CRC-32 no longer holds.
printf '\377' | dd of="$dir/model.bin" bs=1 seek=$((size / 2)) conv=notrunc status=none
put "versions/$new/model.bin" "$dir/model.bin"
put "versions/$new/metadata.json" "$dir/metadata.json"
printf '%s\n' "$new" >"$dir/current"
put current "$dir/current"
echo "$old"
