#!/usr/bin/env bash
# Installs KEDA v2.21.0 (CRDs, operator, external metrics API server) into
# the cluster kubectl talks to, from the release's own manifests with the
# local image; overlays/monitoring needs it. The image must already be in
# the cluster's image store (minikube: build it inside minikube's Docker,
# `eval $(minikube docker-env)` then scripts/build-monitoring-images.sh;
# kind: `kind load docker-image`).
#
#   scripts/keda-install.sh                 apply, wait for both to be ready
#   KUBECTL="kubectl --context x" scripts/keda-install.sh
#
# Server-side apply: the ScaledJob CRD is larger than the annotation a
# client-side apply keeps. Error contract: exits non-zero when the build,
# the apply or a rollout fails.
set -euo pipefail

cd "$(dirname "$0")/.."
: "${KUBECTL:=kubectl}"
log() { echo "keda-install: $*" >&2; }

dir=$(tests/monitoring/build-keda.sh) || {
	log "error: building KEDA failed"
	exit 1
}
# shellcheck disable=SC2086 # KUBECTL may carry flags
$KUBECTL apply --server-side --force-conflicts -k "$dir" >/dev/null
# The CRDs first: the ScaledObject of overlays/monitoring needs them.
# shellcheck disable=SC2086
$KUBECTL wait --for condition=established --timeout=60s \
	crd/scaledobjects.keda.sh crd/triggerauthentications.keda.sh >/dev/null
for d in keda-operator keda-metrics-apiserver; do
	# shellcheck disable=SC2086
	$KUBECTL -n keda rollout status "deployment/$d" --timeout=300s >/dev/null
done
# The HPA controller reads external metrics through this APIService.
# shellcheck disable=SC2086
$KUBECTL wait --for condition=Available --timeout=180s \
	apiservice/v1beta1.external.metrics.k8s.io >/dev/null
log "KEDA is ready (namespace keda)"
