#!/usr/bin/env bash
# Build what the multi-node e2e needs, offline, and cache it by version:
# the Go programs from the Go module proxy (kind, kubeadm, kube-router, and
# through the existing scripts Kubernetes, etcd, CoreDNS, crictl and
# SeaweedFS's weed), then the local images: the control-plane images
# kubeadm runs, kube-proxy, kube-router, the kind node image that carries
# them, SeaweedFS's image and a small curl image for the checks.
#
#   tests/e2e-multinode/build.sh                      build what is missing
#   E2E_CACHE=$(mktemp -d) tests/e2e-multinode/build.sh   the cold build
#
# Binaries land in $E2E_CACHE/bin/<name>-<version>/ with the trusted .done
# stamps of tests/e2e/build-lib.sh. The node image is tagged with its
# Kubernetes version and labelled with a hash of everything it is made of;
# an image with the same label is reused.
#
# Error contract: every function returns non-zero on the first command that
# fails (`|| return 1`): they run through `timed`, an `||` context in which
# bash ignores `set -e`.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
# shellcheck source=tests/e2e/lib.sh
. "$repo/tests/e2e/lib.sh"
# shellcheck source=tests/e2e/build-lib.sh
. "$repo/tests/e2e/build-lib.sh"
# shellcheck source=tests/e2e-multinode/lib.sh
. "$here/lib.sh"

export GOMODCACHE="$E2E_CACHE/gomod"
export GOCACHE="${GOCACHE:-$E2E_CACHE/gocache}"
export GOTOOLCHAIN=local
export GOFLAGS=-mod=mod
export CGO_ENABLED=0

HOST_PACKAGES=(gcc libc6-dev curl)

install_host_packages() { install_packages "${HOST_PACKAGES[@]}"; }

# The one-node harness's builds (Kubernetes, etcd, CoreDNS, crictl, ...)
# and weed: their own scripts, which cache and stamp them.
build_upstream() {
	"$repo/tests/e2e/build-k8s.sh" || return 1
	"$repo/tests/s3/build-seaweedfs.sh" >/dev/null || return 1
}

# kubeadm, which kind drives on every node, from the wrapper module
# build-k8s.sh made for the same release, with the same version ldflags.
build_kubeadm() {
	local v=$K8S_VERSION out=$KUBEADM_BIN src="$E2E_CACHE/src/kubernetes-$K8S_VERSION"
	is_built "$out" kubeadm && return 0
	[[ -f $src/go.mod ]] || {
		log "no wrapper module in $src (tests/e2e/build-k8s.sh makes it)"
		return 1
	}
	local minor=${v#v1.} ld="-s -w" pkg
	minor=${minor%%.*}
	for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
		ld+=" -X $pkg.gitVersion=$v -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor"
		ld+=" -X $pkg.gitTreeState=clean -X $pkg.buildDate=1970-01-01T00:00:00Z"
	done
	fresh_out "$out" || return 1
	(cd "$src" && go build -trimpath -ldflags "$ld" -o "$out/kubeadm" k8s.io/kubernetes/cmd/kubeadm) ||
		return 1
	stamp_done "$out" kubeadm
}

# go_install_cached NAME VERSION PACKAGE BINARY (as in build-k8s.sh).
go_install_cached() {
	local out="$E2E_CACHE/bin/$1-$2"
	is_built "$out" "$4" && return 0
	fresh_out "$out" || return 1
	GOBIN="$out" GOFLAGS='' go install -trimpath -ldflags "-s -w" "$3@$2" || return 1
	stamp_done "$out" "$4"
}

build_kind() {
	go_install_cached kind "$KIND_VERSION" sigs.k8s.io/kind kind
}

# Only its network-policy controller runs (--run-firewall), in the test
# cluster; see lib.sh for why this pin is acceptable there and only there.
build_kube_router() {
	go_install_cached kube-router "$KUBE_ROUTER_VERSION" \
		github.com/cloudnativelabs/kube-router/v2/cmd/kube-router kube-router
}

# The Debian base image every local image starts from.
base_image() {
	"$repo/scripts/base-image.sh" "$repo/images/seaweedfs/Dockerfile" >&2 || return 1
}

# quiet_build ARGS...: docker build ARGS; its output (and the legacy
# builder's deprecation notice) shown only when the build fails.
quiet_build() {
	local out rc=0
	out=$(mktemp) || return 1
	docker build "$@" >"$out" 2>&1 || rc=$?
	((rc == 0)) || tail -n 30 "$out" >&2
	rm -f "$out"
	return "$rc"
}

# dbuild TAG TARGET CONTEXT [BUILD-ARGS...]: one target of images/k8s.
dbuild() {
	local tag=$1 target=$2 ctx=$3
	shift 3
	quiet_build -q --pull=false -f "$here/images/k8s/Dockerfile" --target "$target" \
		"$@" -t "$tag" "$ctx" || {
		log "docker build of $tag failed"
		return 1
	}
}

# The images kubeadm names for v1.34 (etcd's and CoreDNS's tags are the
# versions built here: kind-config.yaml sets them), pause, kube-router.

build_component_images() {
	local ctx b rc=0
	ctx=$(mktemp -d) || return 1
	{
		for b in kube-apiserver kube-controller-manager kube-scheduler kube-proxy; do
			cp "$K8S_BIN/$b" "$ctx/" || return 1
		done
		cp "$ETCD_BIN/etcd" "$COREDNS_BIN/coredns" "$KUBE_ROUTER_BIN/kube-router" "$ctx/" || return 1
		for b in kube-apiserver kube-controller-manager kube-scheduler; do
			dbuild "registry.k8s.io/$b:$K8S_VERSION" static "$ctx" --build-arg BIN="$b" || return 1
		done
		dbuild "registry.k8s.io/kube-proxy:$K8S_VERSION" kube-proxy "$ctx" || return 1
		dbuild "registry.k8s.io/etcd:$ETCD_VERSION" static "$ctx" --build-arg BIN=etcd || return 1
		dbuild "registry.k8s.io/coredns/coredns:$COREDNS_VERSION" coredns "$ctx" || return 1
		dbuild "$KUBE_ROUTER_IMAGE" kube-router "$ctx" || return 1
		# The sandbox image, as tests/e2e/cluster-up.sh builds it.
		gcc -static -O2 -Wall -Wextra -Werror -o "$ctx/pause" "$repo/tests/e2e/images/pause.c" || return 1
		strip "$ctx/pause" || return 1
		printf 'FROM scratch\nCOPY pause /pause\nENTRYPOINT ["/pause"]\n' >"$ctx/Dockerfile.pause" || return 1
		quiet_build -q -f "$ctx/Dockerfile.pause" -t "$PAUSE_IMAGE" "$ctx" || return 1
	} || rc=1
	rm -rf "$ctx"
	return "$rc"
}
CP_IMAGES=("registry.k8s.io/kube-apiserver:$K8S_VERSION"
	"registry.k8s.io/kube-controller-manager:$K8S_VERSION"
	"registry.k8s.io/kube-scheduler:$K8S_VERSION"
	"registry.k8s.io/kube-proxy:$K8S_VERSION"
	"registry.k8s.io/etcd:$ETCD_VERSION"
	"registry.k8s.io/coredns/coredns:$COREDNS_VERSION"
	"$PAUSE_IMAGE" "$KUBE_ROUTER_IMAGE")

# node_image_hash: what the node image is made of, as one sha256.
node_image_hash() {
	local img
	{
		echo "kind $KIND_VERSION k8s $K8S_VERSION base $(docker image inspect -f '{{.Id}}' "$BASE_IMAGE")"
		(cd "$here/images/node" && find . -type f | sort | xargs sha256sum) || return 1
		cat "$K8S_BIN/.done" "$KUBEADM_BIN/.done" "$CRICTL_BIN/.done" || return 1
		for img in "${CP_IMAGES[@]}"; do
			docker image inspect -f "$img {{.Id}}" "$img" || return 1
		done
	} | sha256sum | cut -c1-16
}

node_image() { echo "$NODE_IMAGE_REPO:$K8S_VERSION"; }

build_node_image() {
	local hash ctx img kind_dir rc=0 tag old
	tag=$(node_image)
	hash=$(node_image_hash) || return 1
	if [[ $(docker image inspect -f '{{index .Config.Labels "mini-ml.inputs"}}' "$tag" 2>/dev/null) == "$hash" ]]; then
		log "$tag is up to date ($hash)"
		return 0
	fi
	old=$(docker image inspect -f '{{.Id}}' "$tag" 2>/dev/null) || old=""
	kind_dir="$GOMODCACHE/sigs.k8s.io/kind@$KIND_VERSION"
	[[ -d $kind_dir/images/base/files ]] || {
		GOFLAGS='' go mod download "sigs.k8s.io/kind@$KIND_VERSION" || return 1
	}
	ctx=$(mktemp -d) || return 1
	{
		cp -a "$here/images/node/." "$ctx/" || return 1
		cp -a "$kind_dir/images/base/files" "$ctx/kind-files" || return 1
		chmod -R u+w "$ctx/kind-files" || return 1
		mkdir -p "$ctx/bin" "$ctx/images" || return 1
		cp "$K8S_BIN/kubelet" "$K8S_BIN/kubectl" "$KUBEADM_BIN/kubeadm" "$CRICTL_BIN/crictl" "$ctx/bin/" ||
			return 1
		echo "$K8S_VERSION" >"$ctx/version" || return 1
		for img in "${CP_IMAGES[@]}"; do
			docker save -o "$ctx/images/$(tr -c 'A-Za-z0-9_.-' _ <<<"$img").tar" "$img" || return 1
		done
		quiet_build -q --pull=false --label "mini-ml.inputs=$hash" -t "$tag" "$ctx" || {
			log "docker build of $tag failed"
			return 1
		}
	} || rc=1
	rm -rf "$ctx"
	# The image it replaces (1.2 GB) would stay behind untagged.
	if ((rc == 0)) && [[ -n $old && $old != $(docker image inspect -f '{{.Id}}' "$tag") ]]; then
		docker rmi "$old" >/dev/null 2>&1 || true
	fi
	return "$rc"
}

build_seaweedfs_image() {
	"$repo/scripts/build-seaweedfs-image.sh" >&2
}

# Debian's curl (7.88, with --aws-sigv4) for the S3 and NetworkPolicy checks.
build_curl_image() {
	printf 'FROM %s\nRUN apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends curl ca-certificates && rm -rf /var/lib/apt/lists/*\nUSER 65532:65532\n' \
		"$BASE_IMAGE" | quiet_build -q --pull=false -t "$CURL_IMAGE" -
}

main() {
	mkdir -p "$E2E_CACHE/bin" || die "cannot create $E2E_CACHE/bin"
	local what=${1:-all}
	timed "host packages" install_host_packages || die "installing packages failed"
	if [[ $what == all || $what == binaries ]]; then
		timed "build kubernetes, etcd, coredns, crictl, metrics-server, weed" build_upstream ||
			die "the upstream builds failed"
		# One Go build at a time: the caches are shared with build-k8s.sh.
		exec 9>"$E2E_CACHE/build.lock"
		flock 9
		timed "build kubeadm $K8S_VERSION" build_kubeadm || die "kubeadm build failed"
		timed "build kind $KIND_VERSION" build_kind || die "kind build failed"
		timed "build kube-router $KUBE_ROUTER_VERSION" build_kube_router || die "kube-router build failed"
		exec 9>&-
	fi
	if [[ $what == all || $what == images ]]; then
		timed "base image $BASE_IMAGE" base_image || die "base image failed"
		timed "component images" build_component_images || die "component images failed"
		timed "node image $(node_image)" build_node_image || die "node image failed"
		timed "seaweedfs image" build_seaweedfs_image || die "seaweedfs image failed"
		timed "curl image" build_curl_image || die "curl image failed"
	fi
}

main "$@"
