#!/usr/bin/env bash
# Build KEDA's operator and metrics API server from the Go module proxy
# (github.com/kedacore/keda/v2) and cache them by version outside the
# repository, the way tests/s3/build-seaweedfs.sh builds weed.
#
#   tests/monitoring/build-keda.sh                       build if missing
#   E2E_CACHE=$(mktemp -d) tests/monitoring/build-keda.sh   the cold build
#
# Prints the output directory on stdout (progress on stderr). It holds
# `keda` (the operator), `keda-adapter` (the external metrics API server),
# the release's own manifests (config/ of the module tree: CRDs, RBAC, the
# two Deployments, the APIService; KEDA's, never copied into this
# repository), a kustomization.yaml that installs them with the local
# image (scripts/keda-install.sh applies it) and a .done stamp written
# last. The admission webhook is not built: it only
# validates ScaledObjects on admission, which the platform does not need.
# KEDA's go.mod replaces one module with another published one, which
# `go install pkg@version` refuses: it is built through a wrapper module
# that repeats the replace, as weed is.
#
# Error contract: every function returns non-zero on the first command that
# fails (`|| return 1`); the script exits non-zero then and writes no stamp.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
e2e=$(cd "$here/../e2e" && pwd)
# shellcheck source=tests/e2e/lib.sh
. "$e2e/lib.sh"
# shellcheck source=tests/e2e/build-lib.sh
. "$e2e/build-lib.sh"

: "${KEDA_VERSION:=v2.21.0}"
KEDA_MODULE=github.com/kedacore/keda/v2

export GOMODCACHE="$E2E_CACHE/gomod"
export GOCACHE="${GOCACHE:-$E2E_CACHE/gocache}"
export GOTOOLCHAIN=local
export GOFLAGS=-mod=mod
export CGO_ENABLED=0

build_keda() {
	local v=$KEDA_VERSION out="$E2E_CACHE/bin/keda-$KEDA_VERSION"
	is_built "$out" keda keda-adapter && [[ -f $out/kustomization.yaml ]] && return 0
	command -v go >/dev/null || {
		log "no go on the PATH"
		return 1
	}
	local src="$E2E_CACHE/src/keda-$v" gomod replaces=() line dir
	gomod=$(module_gomod "$KEDA_MODULE" "$v") || return 1
	while IFS= read -r line; do
		replaces+=("$line")
	done < <(sed -n 's|^replace[[:space:]]\{1,\}\([^ ]\{1,\} v[^ ]* => [^ ./][^ ]* v[^ ]*\)[[:space:]]*$|\1|p' "$gomod")
	if grep -q '^replace[[:space:]].*=>[[:space:]]*[./]' "$gomod"; then
		log "$gomod replaces a module with a local path; the wrapper cannot build it"
		return 1
	fi
	wrapper_module "$src" "$KEDA_MODULE" "$v" "${replaces[@]}" || return 1
	fresh_out "$out" || return 1
	# The version KEDA logs at start and exports as keda_build_info.
	local ld="-s -w -X $KEDA_MODULE/version.Version=${v#v} -X $KEDA_MODULE/version.GitCommit=$v"
	(cd "$src" && go build -trimpath -ldflags "$ld" -o "$out/keda" "$KEDA_MODULE/cmd/operator") ||
		return 1
	(cd "$src" && go build -trimpath -ldflags "$ld" -o "$out/keda-adapter" "$KEDA_MODULE/cmd/adapter") ||
		return 1
	dir=$(cd "$src" && go list -m -f '{{.Dir}}' "$KEDA_MODULE") || return 1
	cp -r "$dir/config" "$out/config" || return 1
	chmod -R u+w "$out/config" || return 1
	install_kustomization "$out" || return 1
	stamp_done "$out" keda keda-adapter
}

# install_kustomization DIR: KEDA as its config/default installs it, minus
# the admission webhooks (they only validate ScaledObjects on admission),
# with the image scripts/build-monitoring-images.sh makes (both programs
# in one image, at the paths KEDA's manifests run) and never pulled.
install_kustomization() {
	cat >"$1/kustomization.yaml" <<-EOF
	# Made by tests/monitoring/build-keda.sh; applied by scripts/keda-install.sh.
	apiVersion: kustomize.config.k8s.io/v1beta1
	kind: Kustomization
	resources:
	  - config/crd
	  - config/general
	  - config/rbac
	  - config/service_account
	  - config/manager
	  - config/metrics-server
	images:
	  - name: ghcr.io/kedacore/keda
	    newName: docker.io/mini-ml/keda
	    newTag: ${KEDA_VERSION#v}
	  - name: ghcr.io/kedacore/keda-metrics-apiserver
	    newName: docker.io/mini-ml/keda
	    newTag: ${KEDA_VERSION#v}
	patches:
	  - target: {kind: Deployment}
	    patch: |-
	      - op: replace
	        path: /spec/template/spec/containers/0/imagePullPolicy
	        value: Never
	EOF
}

main() {
	mkdir -p "$E2E_CACHE/bin" || die "cannot create $E2E_CACHE/bin"
	# A lock of its own: a second call (make e2e-multinode while .ci/run's
	# background build is still going) waits for the first, then trusts its
	# stamp. Not build-k8s.sh's lock: Go's module and build caches are safe
	# for concurrent builds, and KEDA's long build must not hold up the
	# cluster's.
	exec 9>"$E2E_CACHE/keda.lock"
	flock 9
	timed "build keda $KEDA_VERSION" build_keda || die "keda build failed"
	echo "$E2E_CACHE/bin/keda-$KEDA_VERSION"
}

main "$@"
