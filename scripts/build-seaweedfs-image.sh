#!/usr/bin/env bash
# Builds the object store's image for k8s/overlays/object-store:
#   mini-ml/seaweedfs:<commit>   images/seaweedfs/Dockerfile
# from the `weed` that tests/s3/build-seaweedfs.sh builds (from the Go
# module proxy, cached under E2E_CACHE) on the project's Debian base image
# (scripts/base-image.sh makes it when it cannot be pulled).
#
#   scripts/build-seaweedfs-image.sh
set -euo pipefail

cd "$(dirname "$0")/.."
: "${SEAWEEDFS_VERSION:=v0.0.0-20261109003541-7506e5f91cd6}"
export SEAWEEDFS_VERSION
image="docker.io/mini-ml/seaweedfs:${SEAWEEDFS_VERSION##*-}"
dockerfile=images/seaweedfs/Dockerfile

weed_dir=$(tests/s3/build-seaweedfs.sh) || {
	echo "build-seaweedfs-image: error: building weed failed" >&2
	exit 1
}
scripts/base-image.sh "$dockerfile"
ctx=$(mktemp -d)
trap 'rm -rf "$ctx"' EXIT
cp "$weed_dir/weed" "$ctx/weed"
cp "$dockerfile" "$ctx/Dockerfile"
# Docker's output only on failure (the legacy builder's deprecation notice
# would otherwise fill the log of every run).
if ! docker build -q --pull=false --build-arg VERSION="$SEAWEEDFS_VERSION" \
	-t "$image" "$ctx" >"$ctx/build.log" 2>&1; then
	tail -n 30 "$ctx/build.log" >&2
	echo "build-seaweedfs-image: error: docker build of $image failed" >&2
	exit 1
fi
echo "build-seaweedfs-image: built $image" >&2
