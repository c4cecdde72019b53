#!/bin/sh
# Retrains now, from the weekly CronJob, and shows the API switching to the
# new model without a restart: every API pod answers with the new
# model_version, and the pods and their restart counts are unchanged.
#
#   scripts/minikube-retrain.sh     (make minikube-retrain)
set -eu
# shellcheck source=scripts/minikube-lib.sh
. "$(dirname "$0")/minikube-lib.sh"

require_platform

# "pod restarts" for each running API pod, sorted.
pod_restarts() {
    kc get pods -l "$API_SELECTOR" --field-selector=status.phase=Running \
        -o 'jsonpath={range .items[*]}{.metadata.name}{" "}{.status.containerStatuses[0].restartCount}{"\n"}{end}' | sort
}

# "pod version" for each API pod: what it serves right now.
served_versions() {
    for pod in $(api_pods); do
        echo "$pod $(pod_predict "$pod" 2>/dev/null | json_version)"
    done
}

step "before: the model each API pod serves, and restart counts"
before_versions=$(served_versions)
before_restarts=$(pod_restarts)
echo "$before_versions" | sed 's/^/    /'
old=$(echo "$before_versions" | awk 'NR == 1 { print $2 }')
[ -n "$old" ] || { diagnose; die "no API pod answers /predict: is the platform up (make minikube-up)?"; }

job=retrain-$(date +%Y%m%d-%H%M%S)
step "kubectl create job $job --from=cronjob/model-retraining"
# kubectl makes the CronJob the Job's controller (an ownerReference with
# controller: true), so the CronJob's history limits clean it up with the
# scheduled runs: no TTL of its own. It never enters the CronJob's
# status.active, so concurrencyPolicy: Forbid does not see it.
kc create job "$job" --from=cronjob/model-retraining
wait_job "$job" 600
kc logs "job/$job" --tail=8 | sed 's/^/    /'

step "waiting for every API pod to hot-reload (RELOAD_INTERVAL_SECONDS)"
new=""
i=0
while [ $i -lt 30 ]; do
    after_versions=$(served_versions)
    if ! echo "$after_versions" | awk -v old="$old" '$2 == old || $2 == "" { bad = 1 } END { exit bad }'; then
        i=$((i + 1))
        sleep 2
        continue
    fi
    new=$(echo "$after_versions" | awk 'NR == 1 { print $2 }')
    break
done
echo "$after_versions" | sed 's/^/    /'
[ -n "$new" ] || { diagnose; die "the API pods still serve $old after 60s: check 'kubectl -n $NS logs -l $API_SELECTOR' for model_load errors"; }

step "after: restart counts"
after_restarts=$(pod_restarts)
echo "$after_restarts" | sed 's/^/    /'
if [ "$before_restarts" = "$after_restarts" ]; then
    info "same pods, no restarts: the model changed from $old to $new while serving"
else
    warn "the API pods or their restart counts changed (the HPA may have scaled meanwhile); before:"
    echo "$before_restarts" | sed 's/^/    /' >&2
fi
