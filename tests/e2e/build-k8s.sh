#!/usr/bin/env bash
# Build the pinned Kubernetes components for the e2e harness from the Go
# module proxy, and cache them outside the repository.
#
#   tests/e2e/build-k8s.sh                       build what is missing
#   E2E_CACHE=$(mktemp -d) tests/e2e/build-k8s.sh   the whole cold build
#
# Every component lands in $E2E_CACHE/bin/<name>-<version>/ with a .done
# stamp written last, and only after each expected binary exists and
# answers --version: a second run only checks stamps and takes seconds, and
# a failed build is never cached as done. GOMODCACHE lives under $E2E_CACHE
# too, and GOCACHE unless it is set (as in the other build scripts, so
# kubeadm, kind, weed and KEDA reuse what this build compiled): an
# interrupted build resumes where it stopped, and nothing is ever written
# into the repository.
#
# Error contract: every function returns non-zero on the first command that
# fails, explicitly (`|| return 1`). They run through `timed`, that is in an
# `||` context where bash ignores `set -e`, so set -e alone would let a
# failed `go build` fall through to the stamp.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/e2e/lib.sh
. "$here/lib.sh"
# shellcheck source=tests/e2e/build-lib.sh
. "$here/build-lib.sh"

export GOMODCACHE="$E2E_CACHE/gomod"
export GOCACHE="${GOCACHE:-$E2E_CACHE/gocache}"
# The pinned releases say which Go they need; never fetch another toolchain.
export GOTOOLCHAIN=local
export GOFLAGS=-mod=mod
export CGO_ENABLED=0

K8S_COMMANDS=(kube-apiserver kube-controller-manager kube-scheduler kubelet kube-proxy kubectl)

build_kubernetes() {
	local v=$K8S_VERSION out="$E2E_CACHE/bin/kubernetes-$K8S_VERSION"
	is_built "$out" "${K8S_COMMANDS[@]}" && return 0
	local src="$E2E_CACHE/src/kubernetes-$v" gomod staging minor
	minor=${v#v1.}
	minor=${minor%%.*}
	gomod=$(module_gomod k8s.io/kubernetes "$v") || return 1
	# Each `k8s.io/x => ./staging/src/k8s.io/x` line becomes
	# `k8s.io/x => k8s.io/x v0.<minor>.<patch>`: staging modules are
	# published with the same minor and patch as the release.
	mapfile -t staging < <(sed -n 's|^[[:space:]]*\(k8s.io/[^ ]*\) => ./staging/.*|\1|p' "$gomod")
	((${#staging[@]} > 0)) || {
		log "no staging replaces in $gomod"
		return 1
	}
	local replaces=() m
	for m in "${staging[@]}"; do
		replaces+=("$m => $m v0.${v#v1.}")
	done
	wrapper_module "$src" k8s.io/kubernetes "$v" "${replaces[@]}" || return 1
	# hack/lib/version.sh sets these so components report their release.
	local ld="-s -w" pkg pkgs=()
	for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
		ld+=" -X $pkg.gitVersion=$v -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor"
		ld+=" -X $pkg.gitTreeState=clean -X $pkg.buildDate=1970-01-01T00:00:00Z"
	done
	for m in "${K8S_COMMANDS[@]}"; do
		pkgs+=("k8s.io/kubernetes/cmd/$m")
	done
	fresh_out "$out" || return 1
	(cd "$src" && go build -trimpath -ldflags "$ld" -o "$out/" "${pkgs[@]}") || return 1
	stamp_done "$out" "${K8S_COMMANDS[@]}"
}

build_etcd() {
	local v=$ETCD_VERSION out="$E2E_CACHE/bin/etcd-$ETCD_VERSION"
	is_built "$out" etcd && return 0
	local src="$E2E_CACHE/src/etcd-$v" gomod m replaces=()
	gomod=$(module_gomod go.etcd.io/etcd/server/v3 "$v") || return 1
	# server/v3 replaces its sibling modules with ../api and the like.
	for m in $(sed -n 's|^[[:space:]]*\(go.etcd.io/etcd/[^ ]*\) => \.\./.*|\1|p' "$gomod"); do
		replaces+=("$m => $m $v")
	done
	wrapper_module "$src" go.etcd.io/etcd/server/v3 "$v" "${replaces[@]}" || return 1
	# etcd's own main.go is in the root module, which is not published
	# separately; it only calls etcdmain.Main. (A quoted heredoc: nothing in
	# it is expanded, and nothing but Go belongs between its markers.)
	cat >"$src/main.go" <<-'EOF' || return 1
	package main

	import (
		"os"

		"go.etcd.io/etcd/server/v3/etcdmain"
	)

	func main() { etcdmain.Main(os.Args) }
	EOF
	fresh_out "$out" || return 1
	(cd "$src" && go build -trimpath -ldflags "-s -w" -o "$out/etcd" .) || return 1
	stamp_done "$out" etcd
}

# go_install_cached NAME VERSION PACKAGE BINARY: a Go tool built with go
# install into the cache, once per version (go install pkg@version refuses
# -mod=mod, hence the empty GOFLAGS).
go_install_cached() {
	local out="$E2E_CACHE/bin/$1-$2"
	is_built "$out" "$4" && return 0
	fresh_out "$out" || return 1
	GOBIN="$out" GOFLAGS='' go install -trimpath -ldflags "-s -w" "$3@$2" || return 1
	stamp_done "$out" "$4"
}

# metrics-server has no replace directives, so go install works as is.
build_metrics_server() {
	go_install_cached metrics-server "$METRICS_SERVER_VERSION" \
		sigs.k8s.io/metrics-server/cmd/metrics-server metrics-server
}

# crictl lets teardown remove pods through the CRI (network and netns
# included) after the kubelet is gone, and shows containers on failure.
build_crictl() {
	go_install_cached crictl "$CRICTL_VERSION" sigs.k8s.io/cri-tools/cmd/crictl crictl
}

# CoreDNS's main package is its module's root and it has no replace
# directives, so go install builds it as released.
build_coredns() {
	go_install_cached coredns "$COREDNS_VERSION" github.com/coredns/coredns coredns
}

main() {
	mkdir -p "$E2E_CACHE/bin"
	# One build at a time: two harness runs must not race on the same dirs.
	exec 9>"$E2E_CACHE/build.lock"
	flock 9
	timed "build etcd $ETCD_VERSION" build_etcd
	timed "build metrics-server $METRICS_SERVER_VERSION" build_metrics_server
	timed "build kubernetes $K8S_VERSION" build_kubernetes
	timed "build crictl $CRICTL_VERSION" build_crictl
	timed "build coredns $COREDNS_VERSION" build_coredns
}

main "$@"
