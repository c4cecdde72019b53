#!/usr/bin/env bash
# Builds the images of overlays/monitoring, cached by version:
#   mini-ml/prometheus:2.42.0   images/prometheus/Dockerfile (Debian's package)
#   mini-ml/keda:2.21.0         images/keda/Dockerfile, from the operator and
#                               metrics API server tests/monitoring/build-keda.sh
#                               builds from the Go module proxy (cached
#                               under E2E_CACHE)
# on the project's Debian base image (scripts/base-image.sh makes it when it
# cannot be pulled). An image whose label org.mini-ml.recipe matches what it
# would be built from (its Dockerfile, the package version or the binaries'
# stamp) is reused; anything else is rebuilt.
#
#   scripts/build-monitoring-images.sh                 both
#   scripts/build-monitoring-images.sh prometheus      one of them
#
# Error contract: exits non-zero, naming the image, when a build fails.
set -euo pipefail

cd "$(dirname "$0")/.."
: "${PROMETHEUS_DEB:=2.42.0+ds-5+deb12u1}"
: "${KEDA_VERSION:=v2.21.0}"
export KEDA_VERSION
PROMETHEUS_IMAGE="docker.io/mini-ml/prometheus:${PROMETHEUS_DEB%%+*}"
KEDA_IMAGE="docker.io/mini-ml/keda:${KEDA_VERSION#v}"

log() { echo "build-monitoring-images: $*" >&2; }
die() {
	log "error: $*"
	exit 1
}

# fresh IMAGE RECIPE: the image exists and was built from RECIPE.
fresh() {
	[[ $(docker image inspect -f '{{index .Config.Labels "org.mini-ml.recipe"}}' "$1" 2>/dev/null) == "$2" ]]
}

# build IMAGE RECIPE CONTEXT [BUILD-ARGS...]: docker build, output only on
# failure (the legacy builder's deprecation notice would fill every log).
build() {
	local image=$1 recipe=$2 ctx=$3 start
	shift 3
	start=$(date +%s)
	if ! docker build -q --pull=false --label "org.mini-ml.recipe=$recipe" "$@" \
		-t "$image" "$ctx" >"$ctx/build.log" 2>&1; then
		tail -n 30 "$ctx/build.log" >&2
		die "docker build of $image failed"
	fi
	log "built $image in $(($(date +%s) - start))s"
}

prometheus_image() {
	local df=images/prometheus/Dockerfile recipe ctx
	recipe="$PROMETHEUS_DEB $(sha256sum "$df" | cut -c1-16)"
	if fresh "$PROMETHEUS_IMAGE" "$recipe"; then
		log "$PROMETHEUS_IMAGE is up to date"
		return 0
	fi
	scripts/base-image.sh "$df"
	ctx=$(mktemp -d)
	cp "$df" "$ctx/Dockerfile"
	build "$PROMETHEUS_IMAGE" "$recipe" "$ctx" --build-arg PROMETHEUS_DEB="$PROMETHEUS_DEB" \
		--build-arg VERSION="$PROMETHEUS_DEB"
	rm -rf "$ctx"
}

keda_image() {
	local df=images/keda/Dockerfile dir recipe ctx
	dir=$(tests/monitoring/build-keda.sh) || die "building KEDA failed"
	recipe="$KEDA_VERSION $(cat "$df" "$dir/.done" | sha256sum | cut -c1-16)"
	if fresh "$KEDA_IMAGE" "$recipe"; then
		log "$KEDA_IMAGE is up to date"
		return 0
	fi
	scripts/base-image.sh "$df"
	ctx=$(mktemp -d)
	cp "$df" "$ctx/Dockerfile"
	cp "$dir/keda" "$dir/keda-adapter" "$ctx/"
	build "$KEDA_IMAGE" "$recipe" "$ctx" --build-arg VERSION="$KEDA_VERSION"
	rm -rf "$ctx"
}

command -v docker >/dev/null 2>&1 || die "docker is not installed"
for what in "${@:-prometheus keda}"; do
	for w in $what; do
		case $w in
		prometheus) prometheus_image ;;
		keda) keda_image ;;
		*) die "unknown image '$w' (prometheus, keda)" ;;
		esac
	done
done
