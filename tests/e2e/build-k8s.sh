#!/usr/bin/env bash
# Build the pinned Kubernetes components for the e2e harness from the Go
# module proxy, and cache them outside the repository.
#
#   tests/e2e/build-k8s.sh          build what is missing, print the bin dir
#
# Every component lands in $E2E_CACHE/bin/<name>-<version>/ with a .done
# stamp written last, so a second run only checks stamps and takes seconds.
# GOMODCACHE and GOCACHE live under $E2E_CACHE too: a failed or interrupted
# build resumes where it stopped, and nothing is ever written into the repo.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/e2e/lib.sh
. "$here/lib.sh"

export GOMODCACHE="$E2E_CACHE/gomod"
export GOCACHE="$E2E_CACHE/gocache"
# The pinned releases say which Go they need; never fetch another toolchain.
export GOTOOLCHAIN=local
export GOFLAGS=-mod=mod
export CGO_ENABLED=0

# wrapper_module DIR MODULE VERSION [REPLACES...]
# Writes a go.mod that requires MODULE@VERSION. Modules like k8s.io/kubernetes
# and go.etcd.io/etcd/server/v3 replace their siblings with local paths, which
# `go install pkg@version` refuses (golang/go#44840); a wrapper module that
# replaces each of them with its published version builds the same code.
wrapper_module() {
	local dir=$1 module=$2 version=$3
	shift 3
	mkdir -p "$dir"
	{
		echo "module mini-ml.local/e2e-wrapper"
		echo
		echo "go 1.24.0"
		echo
		echo "require $module $version"
		local r
		for r in "$@"; do
			echo "replace $r"
		done
	} >"$dir/go.mod.new"
	# Keep the resolved go.mod/go.sum of an earlier run unless the pins changed.
	if ! cmp -s "$dir/go.mod.new" "$dir/go.mod.pins" 2>/dev/null; then
		cp "$dir/go.mod.new" "$dir/go.mod"
		cp "$dir/go.mod.new" "$dir/go.mod.pins"
		rm -f "$dir/go.sum"
	fi
	rm -f "$dir/go.mod.new"
}

# module_gomod MODULE VERSION: path of that release's own go.mod in the cache.
module_gomod() {
	go mod download -json "$1@$2" | sed -n 's/^[[:space:]]*"GoMod": "\(.*\)",$/\1/p'
}

build_kubernetes() {
	local v=$K8S_VERSION out="$E2E_CACHE/bin/kubernetes-$K8S_VERSION"
	[[ -f $out/.done ]] && return 0
	local src="$E2E_CACHE/src/kubernetes-$v" gomod staging minor
	minor=${v#v1.}
	minor=${minor%%.*}
	gomod=$(module_gomod k8s.io/kubernetes "$v")
	# Each `k8s.io/x => ./staging/src/k8s.io/x` line becomes
	# `k8s.io/x => k8s.io/x v0.<minor>.<patch>`: staging modules are
	# published with the same minor and patch as the release.
	mapfile -t staging < <(sed -n 's|^[[:space:]]*\(k8s.io/[^ ]*\) => ./staging/.*|\1|p' "$gomod")
	local replaces=() m
	for m in "${staging[@]}"; do
		replaces+=("$m => $m v0.${v#v1.}")
	done
	wrapper_module "$src" k8s.io/kubernetes "$v" "${replaces[@]}"
	# hack/lib/version.sh sets these so components report their release.
	local ld="-s -w" pkg
	for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
		ld+=" -X $pkg.gitVersion=$v -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor"
		ld+=" -X $pkg.gitTreeState=clean -X $pkg.buildDate=1970-01-01T00:00:00Z"
	done
	mkdir -p "$out"
	(cd "$src" && go build -trimpath -ldflags "$ld" -o "$out/" \
		k8s.io/kubernetes/cmd/kube-apiserver \
		k8s.io/kubernetes/cmd/kube-controller-manager \
		k8s.io/kubernetes/cmd/kube-scheduler \
		k8s.io/kubernetes/cmd/kubelet \
		k8s.io/kubernetes/cmd/kube-proxy \
		k8s.io/kubernetes/cmd/kubectl)
	touch "$out/.done"
}

build_etcd() {
	local v=$ETCD_VERSION out="$E2E_CACHE/bin/etcd-$ETCD_VERSION"
	[[ -f $out/.done ]] && return 0
	local src="$E2E_CACHE/src/etcd-$v" gomod m replaces=()
	gomod=$(module_gomod go.etcd.io/etcd/server/v3 "$v")
	# server/v3 replaces its sibling modules with ../api and the like.
	for m in $(sed -n 's|^[[:space:]]*\(go.etcd.io/etcd/[^ ]*\) => \.\./.*|\1|p' "$gomod"); do
		replaces+=("$m => $m $v")
	done
	wrapper_module "$src" go.etcd.io/etcd/server/v3 "$v" "${replaces[@]}"
	# etcd's own main.go is in the root module, which is not published
	# separately; it only calls etcdmain.Main.
	cat >"$src/main.go" <<-'EOF'
	package main

	import (
		"os"

		"go.etcd.io/etcd/server/v3/etcdmain"
	)

	func build_crictl() {
	local v=$CRICTL_VERSION out="$E2E_CACHE/bin/crictl-$CRICTL_VERSION"
	[[ -f $out/.done ]] && return 0
	mkdir -p "$out"
	# crictl lets teardown remove pods through the CRI (network and netns
	# included) after the kubelet is gone, and shows containers on failure.
	GOBIN="$out" GOFLAGS='' go install -trimpath -ldflags "-s -w" \
		"sigs.k8s.io/cri-tools/cmd/crictl@$v"
	touch "$out/.done"
}

main() { etcdmain.Main(os.Args) }
	EOF
	mkdir -p "$out"
	(cd "$src" && go build -trimpath -ldflags "-s -w" -o "$out/etcd" .)
	touch "$out/.done"
}

# A Go tool built with go install into the cache, once per version
# (go install pkg@version refuses -mod=mod, hence the empty GOFLAGS).
go_install_cached() { # NAME VERSION PACKAGE
	local out="$E2E_CACHE/bin/$1-$2"
	[[ -f $out/.done ]] && return 0
	mkdir -p "$out"
	GOBIN="$out" GOFLAGS='' go install -trimpath -ldflags "-s -w" "$3@$2"
	touch "$out/.done"
}

# metrics-server has no replace directives, so go install works as is.
build_metrics_server() {
	go_install_cached metrics-server "$METRICS_SERVER_VERSION" \
		sigs.k8s.io/metrics-server/cmd/metrics-server
}

# crictl lets teardown remove pods through the CRI (network and netns
# included) after the kubelet is gone, and shows containers on failure.
build_crictl() {
	go_install_cached crictl "$CRICTL_VERSION" sigs.k8s.io/cri-tools/cmd/crictl
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
}

main "$@"
