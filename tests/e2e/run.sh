#!/usr/bin/env bash
# The end-to-end test: the whole platform on a one-node Kubernetes built from
# source (cluster-up.sh), driven the way a user drives it.
#
#   tests/e2e/run.sh                 (what `make e2e` runs)
#   E2E_KEEP=1 tests/e2e/run.sh      leave the cluster up afterwards
#   E2E_ONLY=smoke tests/e2e/run.sh  cluster + smoke pod only
#
# The platform is driven by the scripts the README tells users to run
# (scripts/minikube-*.sh, through their KUBE_CONTEXT hook), so a broken
# script fails here.
#
# Flow: cluster up (CoreDNS included) → smoke pod through a NodePort, its
# DNS and metrics → every manifest checked with --dry-run=server
# --validate=strict → images loaded → minikube-up.sh (apply k8s/, training
# Job, 2 Ready API replicas, /predict on NodePort 30800) → minikube-retrain.sh
# (a Job from the CronJob; the same pods serve the new version) →
# minikube-parallel-train.sh (4 shards + merge) → minikube-load.sh (the HPA
# to 5 Ready replicas) → the API token Secret turns on authentication →
# minikube-down.sh → teardown. Prints each step's duration, pod events and
# logs on failure, and closes with "N passed, N failed".
#
# Error contract: helpers run through `check` and `timed`, that is in a
# condition, where bash ignores `set -e`; each returns non-zero at the first
# command that fails with an explicit `|| return 1`.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
# shellcheck source=tests/e2e/lib.sh
. "$here/lib.sh"

NS=ml-platform
NODE_PORT=30800
OVERLAY="$here/overlay"
# The overlay's PersistentVolume points here (tests/e2e/overlay/pv.yaml).
PV_DIR="$E2E_STATE/pv/models"
: "${PREDICT_PATH:=/predict}"
: "${PREDICT_BODY_FILE:=$here/data/predict-request.json}"

passed=0
failed=0

# check NAME CMD...: one counted check of the flow.
check() {
	local name=$1
	shift
	if "$@"; then
		passed=$((passed + 1))
		log "ok: $name"
	else
		failed=$((failed + 1))
		log "FAIL: $name"
		return 1
	fi
}

# Pod events, descriptions and logs of a namespace: what one needs to see
# why a check failed without rerunning.
diagnose() {
	local ns=$1 pod
	log "diagnostics for namespace $ns"
	kc -n "$ns" get all,pvc,events -o wide 2>&1 | sed 's/^/  /' >&2 || true
	for pod in $(kc -n "$ns" get pods -o name 2>/dev/null); do
		log "--- describe $pod"
		kc -n "$ns" describe "$pod" 2>&1 | tail -n 25 | sed 's/^/  /' >&2 || true
		log "--- logs $pod"
		kc -n "$ns" logs "$pod" --all-containers --tail=40 2>&1 | sed 's/^/  /' >&2 || true
		kc -n "$ns" logs "$pod" --all-containers --previous --tail=20 2>/dev/null | sed 's/^/  (previous) /' >&2 || true
	done
}

# Host side of a failure: the last lines of each component's log.
diagnose_components() {
	local f
	for f in "$E2E_STATE"/logs/*.log; do
		[[ -f $f ]] || continue
		log "--- last lines of $(basename "$f")"
		tail -n 15 "$f" | sed 's/^/  /' >&2
	done
}

finish() {
	local rc=$?
	if ((failed > 0 || rc != 0)); then
		if [[ -f $KUBECONFIG_ADMIN ]]; then
			diagnose e2e-smoke
			diagnose "$NS"
		fi
		diagnose_components
	fi
	if [[ ${E2E_KEEP:-0} == 1 ]]; then
		log "E2E_KEEP=1: cluster left up; KUBECONFIG=$KUBECONFIG_ADMIN; tests/e2e/cluster-down.sh stops it"
	else
		timed "teardown" "$here/cluster-down.sh" || true
		check "teardown left no process, bridge, mount, iptables chain or state behind" torn_down || true
	fi
	log "total $(($(date +%s) - t0))s"
	echo "$passed passed, $failed failed"
	((failed == 0 && rc == 0))
}

torn_down() {
	local left=""
	[[ -e $E2E_STATE || -e $E2E_RUN ]] && left+=" state-dirs"
	ip link show "$BRIDGE" >/dev/null 2>&1 && left+=" bridge"
	grep -qE "$E2E_STATE|$E2E_RUN" /proc/mounts && left+=" mounts"
	# Read whole, then grep: with pipefail an early grep -q exit is a failure.
	local rules
	rules=$(iptables-save 2>/dev/null || true)
	grep -q -- '-A KUBE-\|:KUBE-' <<<"$rules" && left+=" iptables-KUBE-chains"
	local exe
	for exe in /proc/[0-9]*/exe; do
		[[ $(readlink "$exe" 2>/dev/null) == "$E2E_CACHE"/bin/* ]] && left+=" process:${exe//[^0-9]/}"
	done
	[[ -z $left ]] || log "left behind:$left"
	[[ -z $left ]]
}

# --- smoke: kubelet, CNI, kube-proxy and metrics with a trivial pod ---------

load_smoke_image() {
	local dir rc=0
	dir=$(mktemp -d) || return 1
	{
		mkdir -p "$dir/bin" "$dir/www" &&
			cp /bin/busybox "$dir/bin/busybox" &&
			(cd "$dir/bin" && for a in $(./busybox --list); do
				[[ $a == busybox ]] || ln -s busybox "$a" || exit 1
			done) &&
			echo smoke-ok >"$dir/www/index.html" &&
			printf 'FROM scratch\nCOPY . /\nUSER 65534\n' >"$dir/Dockerfile" &&
			docker build -q -t "$SMOKE_IMAGE" "$dir" >/dev/null
	} || rc=1
	rm -rf "$dir"
	((rc == 0)) || return 1
	# The same busybox under the name k8s/examples/load-generator uses (its
	# pull policy is IfNotPresent, so the loaded image is used as is).
	docker tag "$SMOKE_IMAGE" "$LOAD_IMAGE" || return 1
	docker save "$SMOKE_IMAGE" "$LOAD_IMAGE" |
		ctr --address "$E2E_RUN/containerd.sock" -n k8s.io images import - >/dev/null
}

smoke_apply() {
	kc apply -f - >/dev/null <<-EOF
	apiVersion: v1
	kind: Namespace
	metadata: {name: e2e-smoke}
	---
	apiVersion: v1
	kind: Pod
	metadata: {name: web, namespace: e2e-smoke, labels: {app: web}}
	spec:
	  automountServiceAccountToken: false
	  # busybox httpd as PID 1 ignores SIGTERM; do not wait 30 s for it.
	  terminationGracePeriodSeconds: 1
	  containers:
	  - name: web
	    image: $SMOKE_IMAGE
	    imagePullPolicy: Never
	    command: [/bin/httpd, -f, -p, "8080", -h, /www]
	    ports: [{name: http, containerPort: 8080}]
	    readinessProbe: {httpGet: {path: /, port: http}, periodSeconds: 2}
	    resources: {requests: {cpu: 10m, memory: 16Mi}}
	    securityContext: {runAsNonRoot: true, allowPrivilegeEscalation: false, readOnlyRootFilesystem: true}
	---
	apiVersion: v1
	kind: Service
	metadata: {name: web, namespace: e2e-smoke}
	spec:
	  type: NodePort
	  selector: {app: web}
	  ports: [{port: 80, targetPort: http, nodePort: 30801}]
	EOF
}

pod_ready() { kc -n "$1" wait --for=condition=Ready "pod/$2" --timeout=5s; }
smoke_nodeport() { [[ $(curl -fsS --max-time 3 http://127.0.0.1:30801/) == smoke-ok ]]; }
smoke_metrics() { kc top pod -n e2e-smoke web --no-headers; }
# The pod resolves the API server's Service name through CoreDNS.
smoke_dns() {
	local out
	out=$(kc -n e2e-smoke exec web -- nslookup "kubernetes.default.svc.$CLUSTER_DOMAIN") || return 1
	grep -q "${SERVICE_CIDR%.*/*}.1" <<<"$out"
}

smoke() {
	check "smoke image (busybox-static, FROM scratch) loaded" timed "smoke image" load_smoke_image || return 1
	check "smoke pod objects accepted" smoke_apply || return 1
	check "smoke pod Ready within 90s" wait_for 90 "smoke pod" pod_ready e2e-smoke web || return 1
	check "smoke pod answers on 127.0.0.1:30801 through kube-proxy" wait_for 30 "NodePort 30801" smoke_nodeport
	check "the pod resolves kubernetes.default through CoreDNS" wait_for 30 "cluster DNS" smoke_dns
	check "metrics-server reports the smoke pod within 120s" wait_for 120 "pod metrics" smoke_metrics
	kc delete namespace e2e-smoke --wait=false >/dev/null || return 1
}

# --- the platform's own flow -------------------------------------------------

# validate_manifests: every file in k8s/ and the overlay, one check each,
# against the real API server with strict field validation. The namespaces
# exist first so that namespaced objects can be dry-run at all.
validate_manifests() {
	local ns f
	local namespaces
	namespaces=$(kc kustomize "$repo/k8s" | awk '/^kind: Namespace$/{n=1} n && /^  name:/{print $2; n=0}') || return 1
	for ns in $namespaces; do
		kc create namespace "$ns" --dry-run=client -o yaml | kc apply -f - >/dev/null || return 1
	done
	# Every YAML file, k8s/examples/ included; kustomization.yaml files are
	# checked as the kustomizations they are.
	while IFS= read -r f; do
		if [[ $(basename "$f") == kustomization.yaml ]]; then
			check "kustomization ${f#"$repo"/} passes --dry-run=server --validate=strict" \
				kc apply --dry-run=server --validate=strict -k "$(dirname "$f")" >/dev/null || true
		else
			check "manifest ${f#"$repo"/} passes --dry-run=server --validate=strict" \
				kc apply --dry-run=server --validate=strict -f "$f" >/dev/null || true
		fi
	done < <(find "$repo/k8s" "$OVERLAY" -name '*.yaml' | sort)
}

# The images the manifests name, built by `make images` and copied into the
# cluster's containerd (the pods use imagePullPolicy: Never).
load_project_images() {
	make -C "$repo" images || return 1
	local img images
	images=$(kc kustomize "$OVERLAY" | sed -n 's/^ *image: *//p' | tr -d '"' | sort -u) || return 1
	[[ -n $images ]] || {
		log "the overlay names no image"
		return 1
	}
	for img in $images; do
		docker image inspect "$img" >/dev/null || {
			log "image $img named by the manifests does not exist after make images"
			return 1
		}
		docker save "$img" | ctr --address "$E2E_RUN/containerd.sock" -n k8s.io images import - >/dev/null ||
			return 1
		log "loaded $img"
	done
}

# The hostPath PV's directory; pods run as non-root and hostPath volumes
# ignore fsGroup, so it is writable by all (inside the test state dir only).
prepare_pv() {
	mkdir -p "$PV_DIR" && chmod 0777 "$PV_DIR"
}

# kind_name KIND: the name of the (first) object of that kind in $NS.
kind_name() { kc -n "$NS" get "$1" -o jsonpath='{.items[0].metadata.name}'; }

job_complete() { kc -n "$NS" wait --for=condition=Complete "job/$1" --timeout="$2s"; }
model_on_pvc() { [[ -f $PV_DIR/current/model.bin ]]; }
current_version() { basename "$(readlink "$PV_DIR/current")"; }

# 2 is the HPA's minReplicas: the Deployment sets no replicas of its own.
api_ready() {
	local d ready
	d=$(kind_name deployments)
	kc -n "$NS" rollout status "deployment/$d" --timeout=5s >/dev/null || return 1
	ready=$(kc -n "$NS" get "deployment/$d" -o jsonpath='{.status.readyReplicas}')
	[[ $ready == 2 ]]
}

predict() {
	curl -fsS --max-time 5 -H 'Content-Type: application/json' \
		--data-binary "@$PREDICT_BODY_FILE" "http://127.0.0.1:$NODE_PORT$PREDICT_PATH"
}

# The version the API reports in its /predict answer ("model_version").
served_version() { predict | sed -n 's/.*"model_version" *: *"\([^"]*\)".*/\1/p'; }
serves_version() { [[ $(served_version) == "$1" ]]; }

# uid:restarts of each API pod, to show that retraining restarts none.
api_pods_state() {
	kc -n "$NS" get pods -l app.kubernetes.io/component=api \
		-o jsonpath='{range .items[*]}{.metadata.uid}:{.status.containerStatuses[0].restartCount} {end}'
}

# user_script NAME [ARGS...]: one of the scripts the README tells users to
# run (scripts/minikube-*.sh), against this cluster through their
# KUBE_CONTEXT hook, with this cluster's kubectl first on the PATH. Its
# output goes to $E2E_STATE/NAME.log and, indented, to the harness's log.
# Returns the script's exit status.
user_script() {
	local name=$1 rc=0
	shift
	log "running scripts/$name $*"
	PATH="$K8S_BIN:$PATH" KUBECONFIG="$KUBECONFIG_ADMIN" KUBE_CONTEXT=e2e \
		API_URL="http://127.0.0.1:$NODE_PORT" "$repo/scripts/$name" "$@" \
		>"$E2E_STATE/$name.log" 2>&1 </dev/null || rc=$?
	sed 's/^/    | /' "$E2E_STATE/$name.log" >&2
	return "$rc"
}

# scripts/minikube-retrain.sh: a Job from the CronJob promotes a new version
# and the same pods serve it without a restart.
retrain() {
	local v1=$1 v2 before after
	before=$(api_pods_state)
	check "scripts/minikube-retrain.sh succeeds" user_script minikube-retrain.sh || return 1
	v2=$(current_version)
	check "retraining promoted a new version ($v1 -> $v2)" test "$v2" != "$v1" || return 1
	check "API serves $v2 within 120s" wait_for 120 "version $v2" serves_version "$v2"
	after=$(api_pods_state)
	check "the API pods were not restarted or replaced" test "$after" == "$before" || {
		log "pods uid:restarts before: $before; after: $after; last terminations:"
		kc -n "$NS" get pods -l app.kubernetes.io/component=api -o jsonpath='{range .items[*]}{.metadata.name}: {.status.containerStatuses[0].lastState.terminated}{"\n"}{end}' >&2
	}
}

# The merge Job's log says it joined 4 shards. Read whole first: with
# pipefail, grep -q quitting early would fail the pipeline on SIGPIPE.
merge_joined_4() {
	local out
	out=$(kc -n "$NS" logs job/model-training-merge) || return 1
	grep -q "merged 4 shards" <<<"$out"
}

# scripts/minikube-parallel-train.sh: the Indexed Job's 4 shards and the
# merge Job (k8s/examples/parallel-training) promote a merged forest.
parallel_train() {
	local v_before=$1 v
	check "scripts/minikube-parallel-train.sh succeeds" user_script minikube-parallel-train.sh || return 1
	check "the merge Job joined 4 shards" merge_joined_4
	v=$(current_version)
	check "the merged forest is promoted ($v_before -> $v)" test "$v" != "$v_before" || return 1
	check "API serves the merged version $v within 120s" wait_for 120 "version $v" serves_version "$v"
}

api_scaled_ready() {
	local n
	n=$(kc -n "$NS" get "deployment/$(kind_name deployments)" -o jsonpath='{.status.readyReplicas}')
	[[ -n $n && $n -gt 2 ]]
}

# scripts/minikube-load.sh: the load generator (k8s/examples/load-generator,
# which finds the API by its Service name through CoreDNS) drives the HPA
# from 2 to 5 Ready replicas; the script fails otherwise.
hpa() {
	check "scripts/minikube-load.sh: the HPA scales the API to 5 Ready replicas" \
		user_script minikube-load.sh || return 1
	check "more than 2 API replicas are Ready" api_scaled_ready
}

# Bearer-token authentication as k8s/api-deployment.yaml documents it: the
# Secret it names (optional, so absent until now), a rollout restart, then
# prediction needs the token and the probes do not.
E2E_TOKEN=e2e-token.fixed+for/this=test
status_of() { curl -s -o /dev/null -w '%{http_code}' --max-time 5 "$@"; }
auth() {
	local d
	d=$(kind_name deployments) || return 1
	check "secret forest-api-token created" \
		kc -n "$NS" create secret generic forest-api-token --from-literal=token="$E2E_TOKEN" >/dev/null || return 1
	check "rollout restart of deployment/$d completes within 240s" \
		eval 'kc -n "$NS" rollout restart "deployment/$d" >/dev/null &&
			kc -n "$NS" rollout status "deployment/$d" --timeout=240s >/dev/null' || return 1
	# Old pods (no token yet) drain for DRAIN_SECONDS after the rollout and
	# may still answer: wait until only new pods do.
	check "/predict without the token: 401 within 30s" \
		wait_for 30 "/predict 401 without a token" predict_refused_without_token
	check "/predict with the token: 200" \
		test "$(status_of -H 'Content-Type: application/json' -H "Authorization: Bearer $E2E_TOKEN" \
			--data-binary "@$PREDICT_BODY_FILE" "http://127.0.0.1:$NODE_PORT$PREDICT_PATH")" == 200
	# Old pods drain for DRAIN_SECONDS after the rollout and answer /ready
	# with 503 meanwhile (by design), so wait for a new pod's 200; with the
	# token wrongly required it would stay 401.
	check "/ready without the token: 200 within 30s" \
		wait_for 30 "/ready 200 without a token" ready_without_token
}
predict_refused_without_token() {
	[[ $(status_of -H 'Content-Type: application/json' --data-binary "@$PREDICT_BODY_FILE" \
		"http://127.0.0.1:$NODE_PORT$PREDICT_PATH") == 401 ]]
}
ready_without_token() { [[ $(status_of "http://127.0.0.1:$NODE_PORT/ready") == 200 ]]; }

namespace_gone() { ! kc get namespace "$NS" >/dev/null 2>&1; }

# scripts/minikube-down.sh removes the platform and its namespace.
down() {
	check "scripts/minikube-down.sh succeeds" user_script minikube-down.sh || return 1
	check "namespace $NS is gone within 120s" wait_for 120 "namespace $NS deleted" namespace_gone
}

# The user's flow, by the user's scripts. What minikube would provide and k8s/
# leaves out (a default StorageClass and a volume for the PVC) comes from the
# e2e overlay first; minikube-up.sh then applies k8s/ itself.
platform() {
	[[ -f $repo/k8s/kustomization.yaml ]] || {
		check "k8s/kustomization.yaml exists" false
		return 1
	}
	timed "server-side validation of every manifest" validate_manifests
	check "make images and load them into the cluster" timed "images" load_project_images || return 1
	check "the PersistentVolume's directory exists" prepare_pv || return 1
	check "what minikube provides: a default StorageClass and a PersistentVolume" \
		kc apply -f "$OVERLAY/storageclass.yaml" -f "$OVERLAY/persistentvolume.yaml" >/dev/null || return 1
	check "scripts/minikube-up.sh: apply k8s/, training Job, API rollout, smoke test" \
		timed "minikube-up.sh" user_script minikube-up.sh || return 1
	check "the job wrote a model to the PVC" model_on_pvc || return 1
	local v1 v2
	v1=$(current_version)
	check "API deployment has 2 Ready replicas within 180s" timed "API rollout" wait_for 180 "API Ready" api_ready || return 1
	check "/predict answers through NodePort $NODE_PORT" timed "predict" wait_for 30 "/predict" predict || return 1
	check "API serves the trained version $v1" serves_version "$v1" || true
	timed "retrain from the CronJob (minikube-retrain.sh)" retrain "$v1" || true
	v2=$(current_version)
	timed "parallel training (minikube-parallel-train.sh)" parallel_train "$v2" || true
	timed "HPA scale-up under load (minikube-load.sh)" hpa || true
	timed "bearer-token authentication from the Secret" auth || true
	timed "remove the platform (minikube-down.sh)" down || true
}

main() {
	t0=$(date +%s)
	trap finish EXIT
	# Without these, a SIGTERM (CI's timeout) would skip the EXIT trap and
	# leave the cluster running.
	trap 'exit 130' INT
	trap 'exit 143' TERM
	# A run that was killed (CI timeout, ^C twice) leaves its cluster up.
	if [[ -e $E2E_STATE || -e $E2E_RUN ]]; then
		log "removing what an earlier run left behind"
		"$here/cluster-down.sh"
	fi
	check "cluster up" timed "cluster up" "$here/cluster-up.sh" || return 1
	timed "smoke test" smoke || true
	[[ ${E2E_ONLY:-} == smoke ]] && return 0
	timed "platform flow" platform || true
}

main "$@"
