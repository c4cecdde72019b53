# Shared helpers of the scripts/minikube-*.sh workflow; sourced, never run.
# POSIX sh, so that it runs as it is on Linux and macOS laptops.
# shellcheck shell=sh disable=SC2034 # the variables are for the scripts that source this

NS=ml-platform
PROFILE=${MINIKUBE_PROFILE:-minikube}
# KUBE_CONTEXT=NAME runs the workflow against that kubectl context instead
# (a test cluster): the minikube-only steps (start, addons, building into
# minikube, minikube ip) are skipped; API_URL=http://HOST:PORT names the
# NodePort URL there. Without it, everything goes to minikube's context.
if [ -n "${KUBE_CONTEXT:-}" ]; then
    CONTEXT=$KUBE_CONTEXT
    ON_MINIKUBE=no
else
    CONTEXT=$PROFILE
    ON_MINIKUBE=yes
fi
NODE_PORT=30800
API=forest-api
ROOT=$(cd "$(dirname "$0")/.." && pwd)
API_SELECTOR=app.kubernetes.io/name=forest-serve,app.kubernetes.io/instance=ml-platform
# One row of the default synthetic series model, features in order:
# lag_1 lag_2 lag_3 lag_7 lag_14 lag_28 roll_mean_7 roll_std_7 roll_mean_28
# roll_std_28 day_of_week day_of_month month promo holiday
SAMPLE='{"features": [52.1, 48.7, 50.3, 49.9, 47.2, 51.0, 50.4, 3.1, 49.8, 4.2, 51.5, 49.0, 50.2, 48.8, 49.875, 1, 2, 15, 6, 1, 0]}'

step() { printf '\n==> %s\n' "$*"; }
info() { printf '    %s\n' "$*"; }
warn() { printf 'warning: %s\n' "$*" >&2; }
die() {
    printf 'error: %s\n' "$*" >&2
    exit 1
}

need() {
    command -v "$1" >/dev/null 2>&1 || die "'$1' is not installed ($2)"
}

# kubectl, or minikube's own copy when there is none on the PATH. Always
# with an explicit context: never whatever cluster happens to be current.
if command -v kubectl >/dev/null 2>&1; then
    kubectl_cmd() { kubectl --context "$CONTEXT" "$@"; }
elif [ "$ON_MINIKUBE" = yes ]; then
    kubectl_cmd() { minikube -p "$PROFILE" kubectl -- "$@"; }
else
    die "kubectl is not installed"
fi
kc() { kubectl_cmd -n "$NS" "$@"; }

cluster_running() {
    if [ "$ON_MINIKUBE" = yes ]; then
        [ "$(minikube -p "$PROFILE" status --format '{{.APIServer}}' 2>/dev/null)" = Running ]
    else
        kubectl_cmd get --raw /readyz >/dev/null 2>&1
    fi
}

require_cluster() {
    if [ "$ON_MINIKUBE" = yes ]; then
        need minikube "https://minikube.sigs.k8s.io/docs/start/"
        cluster_running || die "minikube (profile $PROFILE) is not running: run scripts/minikube-up.sh first"
    else
        cluster_running || die "the cluster of context $CONTEXT does not answer"
    fi
}

require_platform() {
    require_cluster
    kc get deployment "$API" >/dev/null 2>&1 ||
        die "the platform is not deployed in namespace $NS: run scripts/minikube-up.sh first"
}

# Prints what to look at when something went wrong: pod states, the reasons
# of waiting or terminated containers (OOMKilled, ErrImageNeverPull, ...),
# recent events, the PVC and the last log lines of failing pods.
diagnose() {
    printf '\n---- diagnosis (namespace %s) ----\n' "$NS" >&2
    kc get pods -o wide >&2 2>&1 || true
    printf '\n# container states (waiting / last terminated reasons, exit codes):\n' >&2
    kc get pods -o 'jsonpath={range .items[*]}{.metadata.name}{"\t"}{range .status.containerStatuses[*]}{.state.waiting.reason}{.state.terminated.reason}{" exit="}{.state.terminated.exitCode}{" last="}{.lastState.terminated.reason}{" restarts="}{.restartCount}{end}{"\n"}{end}' >&2 2>&1 || true
    printf '\n# the model-store PVC (must be Bound):\n' >&2
    kc get pvc >&2 2>&1 || true
    printf '\n# recent events:\n' >&2
    kc get events --sort-by=.lastTimestamp 2>&1 | tail -n 15 >&2 || true
    for p in $(kc get pods -o 'jsonpath={range .items[*]}{.metadata.name}{" "}{.status.phase}{" "}{.status.containerStatuses[*].ready}{"\n"}{end}' 2>/dev/null |
        awk '$2 != "Succeeded" && !($2 == "Running" && $3 == "true") { print $1 }'); do
        printf '\n# last log lines of %s:\n' "$p" >&2
        kc logs "$p" --all-containers --tail=15 >&2 2>&1 || true
    done
    cat >&2 <<EOF

What to check next:
  kubectl -n $NS get pods                      state of every pod
  kubectl -n $NS describe pod POD              events: scheduling, probes, image, volume
  kubectl -n $NS logs POD [--previous]         the program's own messages
  kubectl -n $NS get pvc                       model-store must be Bound
  OOMKilled above: raise the memory limit (training-job.yaml, api-deployment.yaml)
  ErrImageNeverPull: the image is not in minikube's Docker: rerun scripts/minikube-up.sh
  Pending: not enough CPU or memory on the node: kubectl describe node
EOF
}

# Waits for a Job to succeed; diagnoses and fails if it fails, if a pod is
# stuck (image missing, bad config) or after $2 seconds (default 600).
wait_job() {
    job=$1
    limit=${2:-600}
    start=$(date +%s)
    last=""
    while :; do
        succeeded=$(kc get job "$job" -o 'jsonpath={.status.succeeded}' 2>/dev/null) ||
            { diagnose; die "job $job does not exist"; }
        completions=$(kc get job "$job" -o 'jsonpath={.spec.completions}')
        [ "${succeeded:-0}" -ge "${completions:-1}" ] && return 0
        failed=$(kc get job "$job" -o 'jsonpath={.status.conditions[?(@.type=="Failed")].status}')
        if [ "$failed" = True ]; then
            why=$(kc get job "$job" -o 'jsonpath={.status.conditions[?(@.type=="Failed")].reason}: {.status.conditions[?(@.type=="Failed")].message}')
            kc logs "job/$job" --tail=20 --pod-running-timeout=2s >&2 2>&1 || true
            diagnose
            case $why in
            *"exit code 3"*|*"exitCode 3"*)
                die "job $job: the promotion gate refused the new model (exit 3); the current one keeps serving ($why)" ;;
            *"exit code 2"*|*"exitCode 2"*)
                die "job $job: a bad setting (exit 2): check k8s/configmap.yaml ($why)" ;;
            *) die "job $job failed: $why" ;;
            esac
        fi
        stuck=$(kc get pods -l "batch.kubernetes.io/job-name=$job" -o 'jsonpath={.items[*].status.containerStatuses[*].state.waiting.reason}' 2>/dev/null || true)
        case $stuck in
        *ErrImageNeverPull*|*ImagePullBackOff*|*ErrImagePull*|*CreateContainerConfigError*|*InvalidImageName*)
            diagnose
            die "job $job: its pod cannot start ($stuck)" ;;
        esac
        now=$(date +%s)
        if [ $((now - start)) -ge "$limit" ]; then
            diagnose
            die "job $job did not finish in ${limit}s"
        fi
        state=$(kc get pods -l "batch.kubernetes.io/job-name=$job" -o 'jsonpath={range .items[*]}{.status.phase}{" "}{end}' 2>/dev/null || true)
        if [ "$state" != "$last" ]; then
            info "job $job: ${succeeded:-0}/${completions:-1} done; pods: ${state:-none yet}"
            last=$state
        fi
        sleep 3
    done
}

# Names of the API pods, one a line.
api_pods() {
    kc get pods -l "$API_SELECTOR" --field-selector=status.phase=Running \
        -o 'jsonpath={range .items[*]}{.metadata.name}{"\n"}{end}'
}

# POST /predict to one pod through the API server's proxy: works whatever the
# network between this machine and the node. Prints the JSON answer.
pod_predict() {
    printf '%s' "$SAMPLE" |
        kubectl_cmd create --raw "/api/v1/namespaces/$NS/pods/http:$1:8000/proxy/predict" -f -
}

# The "model_version" of a JSON answer on stdin.
json_version() {
    sed -n 's/.*"model_version"[[:space:]]*:[[:space:]]*"\([^"]*\)".*/\1/p' | head -n 1
}

# The URL users call: the NodePort on the minikube node's address (or
# API_URL). Empty when unknown.
node_url() {
    if [ -n "${API_URL:-}" ]; then
        echo "$API_URL"
    elif [ "$ON_MINIKUBE" = yes ]; then
        echo "http://$(minikube -p "$PROFILE" ip):$NODE_PORT"
    fi
}
