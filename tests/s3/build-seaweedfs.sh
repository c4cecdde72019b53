#!/usr/bin/env bash
# Build SeaweedFS's `weed` (the object store whose S3 gateway the S3 client
# is tested against) from the Go module proxy, and cache it outside the
# repository, the way tests/e2e/build-k8s.sh builds Kubernetes.
#
#   tests/s3/build-seaweedfs.sh                       build it if missing
#   E2E_CACHE=$(mktemp -d) tests/s3/build-seaweedfs.sh   the whole cold build
#
# Prints the path of the directory holding `weed` on stdout (progress goes
# to stderr). The binary lands in $E2E_CACHE/bin/seaweedfs-<version>/ with
# a .done stamp written last, only once `weed version` answers: a second run
# only checks the stamp. GOMODCACHE lives under $E2E_CACHE; GOCACHE too
# unless it is set. github.com/seaweedfs/seaweedfs's go.mod has a replace
# directive (go-bip39 => cosmos/go-bip39), which `go install pkg@version`
# refuses, so it is built through a wrapper module that repeats it.
#
# Error contract: every function returns non-zero on the first command that
# fails (`|| return 1`, as in build-lib.sh); the script exits non-zero then
# and writes no stamp.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
e2e=$(cd "$here/../e2e" && pwd)
# shellcheck source=tests/e2e/lib.sh
. "$e2e/lib.sh"
# shellcheck source=tests/e2e/build-lib.sh
. "$e2e/build-lib.sh"

# A pseudo-version: SeaweedFS tags releases as 3.x/4.x without a Go major
# suffix, so the proxy serves it only by commit.
: "${SEAWEEDFS_VERSION:=v0.0.0-20261109003541-7506e5f91cd6}"
SEAWEEDFS_MODULE=github.com/seaweedfs/seaweedfs

export GOMODCACHE="$E2E_CACHE/gomod"
export GOCACHE="${GOCACHE:-$E2E_CACHE/gocache}"
export GOTOOLCHAIN=local
export GOFLAGS=-mod=mod
export CGO_ENABLED=0

build_seaweedfs() {
	local v=$SEAWEEDFS_VERSION out="$E2E_CACHE/bin/seaweedfs-$SEAWEEDFS_VERSION"
	is_built "$out" weed && return 0
	command -v go >/dev/null || {
		log "no go on the PATH"
		return 1
	}
	local src="$E2E_CACHE/src/seaweedfs-$v" gomod replaces=() line
	gomod=$(module_gomod "$SEAWEEDFS_MODULE" "$v") || return 1
	# Every module-to-module replace of its go.mod, one line each
	# (`replace a => b vX`); a replace to a local path could not be
	# repeated and fails the build instead of being dropped silently.
	while IFS= read -r line; do
		replaces+=("$line")
	done < <(sed -n 's|^replace[[:space:]]\{1,\}\([^ ]\{1,\} => [^ ./][^ ]* v[^ ]*\)[[:space:]]*$|\1|p' "$gomod")
	if grep -q '^replace[[:space:]].*=>[[:space:]]*[./]' "$gomod"; then
		log "$gomod replaces a module with a local path; the wrapper cannot build it"
		return 1
	fi
	((${#replaces[@]} > 0)) || {
		log "no replace directives found in $gomod (has the pin changed?)"
		return 1
	}
	wrapper_module "$src" "$SEAWEEDFS_MODULE" "$v" "${replaces[@]}" || return 1
	fresh_out "$out" || return 1
	(cd "$src" && go build -trimpath -ldflags "-s -w" -o "$out/weed" "$SEAWEEDFS_MODULE/weed") ||
		return 1
	stamp_done "$out" weed
}

main() {
	mkdir -p "$E2E_CACHE/bin" || die "cannot create $E2E_CACHE/bin"
	# One build at a time, shared with build-k8s.sh: the caches are shared.
	exec 9>"$E2E_CACHE/build.lock"
	flock 9
	timed "build seaweedfs $SEAWEEDFS_VERSION" build_seaweedfs || die "seaweedfs build failed"
	echo "$E2E_CACHE/bin/seaweedfs-$SEAWEEDFS_VERSION"
}

main "$@"
