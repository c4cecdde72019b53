#!/bin/sh
# The whole platform on minikube, from nothing to a served prediction:
#   1. start minikube (if it is not running) with the metrics-server addon
#   2. build the images inside minikube's Docker (no registry needed)
#   3. kubectl apply -k k8s/
#   4. wait for the training Job, then for the API rollout
#   5. smoke-test POST /predict through the NodePort, print the URL
# Safe to run again: each step only does what is missing.
#
#   scripts/minikube-up.sh          (make minikube-up)
#   MINIKUBE_PROFILE=other MINIKUBE_START_FLAGS="--cpus=4 --memory=4096" scripts/minikube-up.sh
set -eu
# shellcheck source=scripts/minikube-lib.sh
. "$(dirname "$0")/minikube-lib.sh"

need curl "your package manager's curl"
if [ "$ON_MINIKUBE" = yes ]; then
    need minikube "https://minikube.sigs.k8s.io/docs/start/"
    need docker "Docker Desktop or Docker Engine"
fi

step "1/5 minikube (profile $PROFILE)"
if [ "$ON_MINIKUBE" = no ]; then
    require_cluster
    info "KUBE_CONTEXT=$CONTEXT: using that cluster as it is"
elif cluster_running; then
    info "already running"
else
    # 2 CPUs and 3 GB hold the system pods, the trainer and 5 API replicas.
    # shellcheck disable=SC2086 # MINIKUBE_START_FLAGS is a list of flags
    minikube -p "$PROFILE" start ${MINIKUBE_START_FLAGS:---cpus=2 --memory=3072} \
        --addons=metrics-server ||
        die "minikube start failed: see above; 'minikube logs -p $PROFILE', or start over with 'minikube delete -p $PROFILE'"
fi
if [ "$ON_MINIKUBE" = yes ]; then
    # The HPA reads pod CPU from metrics-server; enabling twice is harmless.
    minikube -p "$PROFILE" addons enable metrics-server
fi

step "2/5 images mini-ml/forest-train:dev and mini-ml/forest-serve:dev in minikube"
image_ids() {
    docker image inspect -f '{{.Id}}' mini-ml/forest-train:dev mini-ml/forest-serve:dev 2>/dev/null || true
}
before=""
after=""
if [ "$ON_MINIKUBE" = no ]; then
    info "KUBE_CONTEXT=$CONTEXT: not building; the cluster's runtime must already have the images (imagePullPolicy: Never)"
elif env_lines=$(minikube -p "$PROFILE" docker-env --shell sh 2>/dev/null); then
    # Build straight into the node's Docker: the kubelet finds them there.
    eval "$env_lines"
    before=$(image_ids)
    "$ROOT/scripts/build-images.sh" dev
    after=$(image_ids)
else
    # Not the docker runtime (containerd, cri-o): build here and copy in.
    info "minikube docker-env is not available: building locally, then minikube image load"
    before=$(image_ids)
    "$ROOT/scripts/build-images.sh" dev
    after=$(image_ids)
    for image in mini-ml/forest-train:dev mini-ml/forest-serve:dev; do
        info "minikube image load $image"
        minikube -p "$PROFILE" image load --overwrite=true "$image"
    done
fi

step "3/5 kubectl apply -k k8s/"
had_api=no
kc get deployment "$API" >/dev/null 2>&1 && had_api=yes
if ! kubectl_cmd apply -k "$ROOT/k8s/"; then
    cat >&2 <<EOF
A Job's pod template cannot change once created. If the error above says
"field is immutable" for job/model-training, delete it and run this again:
  kubectl -n $NS delete job model-training
EOF
    die "kubectl apply failed"
fi
if [ "$had_api" = yes ] && [ "$before" != "$after" ]; then
    info "the images changed: restarting the API pods on the new image"
    kc rollout restart deployment "$API"
fi

step "4/5 waiting for the training Job, then the API rollout"
wait_job model-training 600
kc logs job/model-training --tail=6 --pod-running-timeout=5s 2>/dev/null | sed 's/^/    /' || true
if ! kc rollout status deployment "$API" --timeout=180s; then
    diagnose
    die "deployment $API did not become ready: pods are ready once /ready answers 200, i.e. a model is loaded from the PVC"
fi

step "5/5 smoke test"
url=$(node_url)
if [ -n "$url" ] && curl -fsS --max-time 5 "$url/ready" >/dev/null 2>&1; then
    info "GET $url/ready: $(curl -fsS --max-time 5 "$url/ready")"
    answer=$(curl -fsS --max-time 10 -H 'Content-Type: application/json' \
        -d "$SAMPLE" "$url/predict") || { diagnose; die "POST $url/predict failed"; }
    info "POST $url/predict: $answer"
else
    # The Docker driver on macOS and Windows does not route to the node's IP.
    [ -n "$url" ] && warn "$url is not reachable from this machine (minikube's Docker driver on macOS/Windows?); testing through the API server instead"
    url=""
    pod=$(api_pods | head -n 1)
    [ -n "$pod" ] || { diagnose; die "no running API pod"; }
    answer=$(pod_predict "$pod") || { diagnose; die "POST /predict to pod $pod failed"; }
    info "POST /predict (pod $pod): $answer"
fi
case $answer in
*'"prediction"'*) ;;
*) diagnose; die "the answer has no prediction" ;;
esac

step "ready"
if [ -n "$url" ]; then
    echo "The API: $url"
    echo "  curl $url/model"
    echo "  curl -H 'Content-Type: application/json' -d '$SAMPLE' $url/predict"
elif [ "$ON_MINIKUBE" = yes ]; then
    echo "The API: run 'minikube -p $PROFILE service -n $NS $API --url' and keep it open; it prints the URL."
fi
echo "Next: make minikube-load (autoscaling), make minikube-retrain (new model, no restart), make minikube-down"
