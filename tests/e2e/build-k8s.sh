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
# a failed build is never cached as done. GOMODCACHE and GOCACHE live under
# $E2E_CACHE too: an interrupted build resumes where it stopped, and nothing
# is ever written into the repository.
#
# Error contract: every function returns non-zero on the first command that
# fails, explicitly (`|| return 1`). They run through `timed`, that is in an
# `||` context where bash ignores `set -e`, so set -e alone would let a
# failed `go build` fall through to the stamp.
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
	mkdir -p "$dir" || return 1
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
	} >"$dir/go.mod.new" || return 1
	# Keep the resolved go.mod/go.sum of an earlier run unless the pins changed.
	if ! cmp -s "$dir/go.mod.new" "$dir/go.mod.pins" 2>/dev/null; then
		cp "$dir/go.mod.new" "$dir/go.mod" || return 1
		cp "$dir/go.mod.new" "$dir/go.mod.pins" || return 1
		rm -f "$dir/go.sum" || return 1
	fi
	rm -f "$dir/go.mod.new"
}

# module_gomod MODULE VERSION: path of that release's own go.mod in the cache.
# Fails when the download fails or names no go.mod.
module_gomod() {
	local json path
	json=$(go mod download -json "$1@$2") || return 1
	path=$(sed -n 's/^[[:space:]]*"GoMod": "\(.*\)",$/\1/p' <<<"$json")
	[[ -n $path && -f $path ]] || {
		log "go mod download $1@$2 named no go.mod"
		return 1
	}
	echo "$path"
}

# The first line of every .done stamp. Stamps without it were written by
# the harness before its builds were checked (an empty `touch`), possibly
# after a failed build, and are not trusted.
STAMP_FORMAT="mini-ml-e2e build stamp 2"

# is_built DIR BINARY...: DIR holds a stamp of this format and every BINARY
# is still there and executable. Returns 1 otherwise (the caller rebuilds;
# Go's build cache makes a rebuild of an intact build quick).
is_built() {
	local dir=$1 bin
	shift
	[[ -f $dir/.done && $(head -n 1 "$dir/.done") == "$STAMP_FORMAT" ]] || return 1
	for bin in "$@"; do
		[[ -x $dir/$bin ]] || return 1
	done
}

# stamp_done DIR BINARY...: write DIR/.done once every BINARY in DIR exists,
# is executable and prints a version. A binary named "kubectl" is asked with
# `version --client`, every other with `--version`. Returns 1, writing no
# stamp, otherwise.
stamp_done() {
	local dir=$1 bin out
	shift
	for bin in "$@"; do
		[[ -x $dir/$bin ]] || {
			log "build produced no $dir/$bin"
			return 1
		}
		if [[ $bin == kubectl ]]; then
			out=$("$dir/$bin" version --client 2>&1) || out=""
		else
			out=$("$dir/$bin" --version 2>&1) || out=""
		fi
		[[ -n $out ]] || {
			log "$dir/$bin does not run (no answer to its version flag)"
			return 1
		}
		printf '%s: %s\n' "$bin" "$(head -n 1 <<<"$out")" >>"$dir/.done.new" || return 1
	done
	{ echo "$STAMP_FORMAT" && cat "$dir/.done.new"; } >"$dir/.done.tmp" &&
		rm -f "$dir/.done.new" &&
		mv "$dir/.done.tmp" "$dir/.done"
}

# fresh_out DIR: the output directory of a build that is about to run, with
# whatever a failed earlier attempt left in it removed.
fresh_out() {
	rm -rf "$1" && mkdir -p "$1"
}

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
