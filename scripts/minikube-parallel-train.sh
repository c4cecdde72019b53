#!/bin/sh
# Parallel training example (k8s/examples/parallel-training/): an Indexed Job
# of 4 pods, 2 at a time, each growing a quarter of the forest, then a Job
# that merges the shards, evaluates the whole forest and promotes it. The API
# hot-reloads the merged model. Runs again from the start when repeated.
#
#   scripts/minikube-parallel-train.sh     (make minikube-parallel-train)
set -eu
# shellcheck source=scripts/minikube-lib.sh
. "$(dirname "$0")/minikube-lib.sh"

require_platform
dir="$ROOT/k8s/examples/parallel-training"

step "removing the Jobs of an earlier run (a Job cannot be started twice)"
kc delete job model-training-shards model-training-merge --ignore-not-found --wait=true

step "1/2 shards: kubectl apply -f $dir/shards-job.yaml"
kubectl_cmd apply -f "$dir/shards-job.yaml"
wait_job model-training-shards 600
for pod in $(kc get pods -l batch.kubernetes.io/job-name=model-training-shards \
    -o 'jsonpath={range .items[?(@.status.phase=="Succeeded")]}{.metadata.name}{"\n"}{end}'); do
    kc logs "$pod" | grep 'wrote shard' | sed 's/^/    /' || true
done

step "2/2 merge: kubectl apply -f $dir/merge-job.yaml"
kubectl_cmd apply -f "$dir/merge-job.yaml"
wait_job model-training-merge 600
kc logs job/model-training-merge --tail=12 | sed 's/^/    /'

step "the API pods now serve"
sleep 5 # RELOAD_INTERVAL_SECONDS is 2
for pod in $(api_pods); do
    info "$pod: $(pod_predict "$pod" 2>/dev/null | json_version)"
done
