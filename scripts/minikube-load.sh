#!/bin/sh
# Drives the HPA from 2 to 5 API replicas: starts the in-cluster load
# generator (k8s/examples/load-generator), shows the HPA and the API pods
# every 15 s until 5 replicas are ready (or LOAD_TIMEOUT seconds pass), then
# stops the load. The HPA scales back to 2 about 2 minutes after the load
# stops (its scale-down stabilization window); WATCH_SCALE_DOWN=1 waits for it.
#
#   scripts/minikube-load.sh        (make minikube-load)
set -eu
# shellcheck source=scripts/minikube-lib.sh
. "$(dirname "$0")/minikube-lib.sh"

require_platform
timeout=${LOAD_TIMEOUT:-420}

show() {
    printf '    %s  hpa: cpu %s, replicas %s (desired %s)\n' "$(date +%H:%M:%S)" \
        "$(kc get hpa "$API" -o 'jsonpath={.status.currentMetrics[0].resource.current.averageUtilization}% of {.spec.metrics[0].resource.target.averageUtilization}%' 2>/dev/null)" \
        "$(kc get hpa "$API" -o 'jsonpath={.status.currentReplicas}' 2>/dev/null)" \
        "$(kc get hpa "$API" -o 'jsonpath={.status.desiredReplicas}' 2>/dev/null)"
    kc get pods -l "$API_SELECTOR" --no-headers 2>/dev/null | sed 's/^/              /'
}

stop_load() {
    kc delete job load-generator --ignore-not-found --wait=false >/dev/null 2>&1 || true
}

step "waiting for metrics-server to report the API pods' CPU (the HPA needs it)"
i=0
until kc get hpa "$API" -o 'jsonpath={.status.currentMetrics[0].resource.current.averageUtilization}' 2>/dev/null | grep -q '[0-9]'; do
    i=$((i + 1))
    if [ $i -gt 40 ]; then
        kc describe hpa "$API" | tail -n 12 >&2
        die "no CPU metrics after 2 minutes: check 'minikube addons enable metrics-server' and 'kubectl top pods -n $NS'"
    fi
    sleep 3
done
show

step "starting the load: kubectl apply -k k8s/examples/load-generator"
stop_load
kc wait --for=delete job/load-generator --timeout=60s >/dev/null 2>&1 || true
kubectl_cmd apply -k "$ROOT/k8s/examples/load-generator"
trap 'stop_load' EXIT
trap 'exit 1' INT TERM

step "watching the HPA scale the API (up to ${timeout}s)"
start=$(date +%s)
reached=no
while [ $(($(date +%s) - start)) -lt "$timeout" ]; do
    show
    ready=$(kc get deployment "$API" -o 'jsonpath={.status.readyReplicas}')
    if [ "${ready:-0}" -ge 5 ]; then
        reached=yes
        break
    fi
    phases=$(kc get pods -l app.kubernetes.io/name=load-generator -o 'jsonpath={.items[*].status.phase}' 2>/dev/null || true)
    case $phases in
    *Failed*)
        kc logs -l app.kubernetes.io/name=load-generator --tail=3 2>/dev/null | sed 's/^/    /' >&2 || true
        die "the load generator failed (its log is above): no load, so no scaling" ;;
    esac
    waiting=$(kc get pods -l app.kubernetes.io/name=load-generator -o 'jsonpath={.items[*].status.containerStatuses[*].state.waiting.reason}' 2>/dev/null || true)
    case $waiting in
    *ImagePull*|*ErrImage*)
        diagnose
        die "the load generator cannot pull busybox:1.36.1 ($waiting): does minikube reach Docker Hub?" ;;
    esac
    sleep 15
done

step "stopping the load"
stop_load
kc logs -l app.kubernetes.io/name=load-generator --tail=2 2>/dev/null | sed 's/^/    /' || true
trap - EXIT
if [ "$reached" = no ]; then
    kc describe hpa "$API" | tail -n 12 >&2
    die "the API did not reach 5 ready replicas in ${timeout}s: see the HPA's events above; 'kubectl -n $NS get pods' (Pending pods: the node is out of CPU or memory)"
fi
info "5 replicas ready: the HPA scaled the API from 2 to 5"

if [ -n "${WATCH_SCALE_DOWN:-}" ]; then
    step "waiting for the scale-down to 2 (stabilization window 120 s, then the HPA steps down)"
    start=$(date +%s)
    while [ $(($(date +%s) - start)) -lt 600 ]; do
        show
        [ "$(kc get deployment "$API" -o 'jsonpath={.spec.replicas}')" = 2 ] && break
        sleep 20
    done
else
    info "the HPA scales back to 2 a few minutes after the load stops:"
    info "  kubectl -n $NS get hpa $API --watch"
fi
