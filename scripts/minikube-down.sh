#!/bin/sh
# Removes the platform from minikube: the namespace and everything in it,
# trained models included (the PVC). minikube itself keeps running unless
# asked:
#   scripts/minikube-down.sh            the platform only   (make minikube-down)
#   scripts/minikube-down.sh --stop     then minikube stop
#   scripts/minikube-down.sh --delete   then minikube delete (the whole VM)
set -eu
# shellcheck source=scripts/minikube-lib.sh
. "$(dirname "$0")/minikube-lib.sh"

case ${1:-} in
"") ;;
--stop|--delete) [ "$ON_MINIKUBE" = yes ] || die "$1 is for minikube, not KUBE_CONTEXT=$CONTEXT" ;;
*) die "usage: $0 [--stop|--delete]" ;;
esac
[ "$ON_MINIKUBE" = no ] || need minikube "https://minikube.sigs.k8s.io/docs/start/"

if cluster_running; then
    step "deleting namespace $NS and everything in it"
    # The example Jobs and the load generator live in the namespace too.
    kubectl_cmd delete -k "$ROOT/k8s/" --ignore-not-found --wait=true --timeout=180s ||
        die "delete did not finish: 'kubectl get all -n $NS' shows what is left"
    info "done"
else
    info "the cluster (context $CONTEXT) is not running: nothing deployed to remove"
fi

case ${1:-} in
--stop)
    step "minikube stop"
    minikube -p "$PROFILE" stop ;;
--delete)
    step "minikube delete"
    minikube -p "$PROFILE" delete ;;
esac
