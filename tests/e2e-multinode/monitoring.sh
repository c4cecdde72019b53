# shellcheck shell=bash
# Prometheus, alert rules and KEDA's request-rate autoscaling on the
# multi-node cluster (issue 15): sourced by run.sh, run after the platform
# steps (platform.sh), on the platform they left running.
#   1. images: Prometheus (Debian's package) and KEDA (built from the Go
#      module proxy), scripts/build-monitoring-images.sh; metrics-server
#      (the CPU metric of KEDA's HPA: an HPA with a metric it cannot read
#      never scales down) from the binary build-k8s.sh built; all loaded
#      into the nodes;
#   2. metrics-server from its release's manifests, KEDA with
#      scripts/keda-install.sh;
#   3. the test overlay tests/e2e-multinode/monitoring (object store +
#      overlays/monitoring, a CPU target no load reaches, 5 req/s per
#      replica, a 30 s scale-down window); the base HPA deleted;
#   4. every API pod is an up target of Prometheus;
#   5. load on /predict raises the replicas above 2 through the request
#      rate, and after it they return to 2;
#   6. a promoted version whose model.bin is corrupt is refused by every
#      pod, and the alerts on it fire; current is then restored.
# Prometheus is asked with `promtool query` inside its own pod: no port of
# it is opened to the host.

# shellcheck disable=SC2154 # repo, here: set by run.sh
MON_OVERLAY="$here/monitoring"
METRICS_SERVER_IMAGE=docker.io/mini-ml-e2e/metrics-server:$METRICS_SERVER_VERSION
PROMETHEUS_IMAGE=docker.io/mini-ml/prometheus:2.42.0
KEDA_IMAGE=docker.io/mini-ml/keda:2.21.0

monitoring_images() {
	"$repo/scripts/build-monitoring-images.sh" || return 1
	# metrics-server alone in an image, as the pause image is made (the
	# legacy builder would build every stage of images/k8s before one).
	local ctx rc=0
	ctx=$(mktemp -d) || return 1
	cp "$MS_BIN/metrics-server" "$ctx/" &&
		printf 'FROM scratch\nCOPY metrics-server /metrics-server\nUSER 65532:65532\nENTRYPOINT ["/metrics-server"]\n' \
			>"$ctx/Dockerfile" &&
		docker build -q --pull=false -t "$METRICS_SERVER_IMAGE" "$ctx" >"$ctx/build.log" 2>&1 ||
		{
			tail -n 20 "$ctx/build.log" >&2
			rc=1
		}
	rm -rf "$ctx"
	((rc == 0)) || return 1
	local img
	for img in "$PROMETHEUS_IMAGE" "$KEDA_IMAGE" "$METRICS_SERVER_IMAGE"; do
		kind load docker-image --name "$MN_CLUSTER" "$img" >/dev/null || return 1
	done
}

# metrics-server's own manifests (manifests/base of its module), with the
# local image, and the kubelets' self-signed serving certificates accepted
# (kind's kubelets have no CA-signed ones).
metrics_server_up() {
	local json dir tmp rc=0
	json=$(cd "$E2E_CACHE" && GOMODCACHE="$E2E_CACHE/gomod" GOFLAGS=-mod=mod \
		go mod download -json "sigs.k8s.io/metrics-server@$METRICS_SERVER_VERSION") || return 1
	dir=$(sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p' <<<"$json")
	[[ -d $dir/manifests/base ]] || return 1
	tmp=$(mktemp -d) || return 1
	cp -r "$dir/manifests/base" "$tmp/base" && chmod -R u+w "$tmp/base" || rc=1
	cat >"$tmp/kustomization.yaml" <<-EOF || rc=1
	apiVersion: kustomize.config.k8s.io/v1beta1
	kind: Kustomization
	resources: [base]
	images:
	  - name: gcr.io/k8s-staging-metrics-server/metrics-server
	    newName: ${METRICS_SERVER_IMAGE%:*}
	    newTag: $METRICS_SERVER_VERSION
	patches:
	  - target: {kind: Deployment, name: metrics-server}
	    patch: |-
	      - op: replace
	        path: /spec/template/spec/containers/0/imagePullPolicy
	        value: Never
	      - op: add
	        path: /spec/template/spec/containers/0/args/-
	        value: --kubelet-insecure-tls
	EOF
	((rc == 0)) && mkc apply -k "$tmp" >/dev/null || rc=1
	rm -rf "$tmp"
	((rc == 0)) || return 1
	mkc -n kube-system rollout status deployment/metrics-server --timeout=180s >/dev/null || return 1
	mkc wait --for condition=Available --timeout=120s apiservice/v1beta1.metrics.k8s.io >/dev/null
}

keda_up() {
	KUBECTL="$K8S_BIN/kubectl --kubeconfig $MN_KUBECONFIG" "$repo/scripts/keda-install.sh"
}

# Prometheus's TSDB: a local PersistentVolume on the first worker, owned by
# the user Prometheus runs as (the store_volume of run.sh, for this claim).
prometheus_volume() {
	local w
	w=$(workers | head -n 1) || return 1
	docker exec "$w" sh -c 'mkdir -p /var/local-pv/prometheus && chown 65532:65532 /var/local-pv/prometheus' ||
		return 1
	mkc apply -f - >/dev/null <<-EOF
	apiVersion: v1
	kind: PersistentVolume
	metadata:
	  name: mn-prometheus-data
	spec:
	  capacity: {storage: 1Gi}
	  accessModes: [ReadWriteOnce]
	  persistentVolumeReclaimPolicy: Retain
	  storageClassName: standard
	  claimRef: {namespace: $NS, name: prometheus-data}
	  local: {path: /var/local-pv/prometheus}
	  nodeAffinity:
	    required:
	      nodeSelectorTerms:
	        - matchExpressions:
	            - {key: kubernetes.io/hostname, operator: In, values: [$w]}
	EOF
}

# The overlay replaces the HPA with the ScaledObject; `kubectl apply` does
# not remove what a rendering no longer has, so the HPA is deleted first.
monitoring_apply() {
	prometheus_volume || return 1
	mkc -n "$NS" delete hpa forest-api --ignore-not-found >/dev/null || return 1
	mkc apply -k "$MON_OVERLAY" >/dev/null || return 1
	mkc -n "$NS" rollout status deployment/prometheus --timeout=180s >/dev/null || return 1
	wait_for 120 "KEDA's HPA keda-hpa-forest-api" mkc -n "$NS" get hpa keda-hpa-forest-api || return 1
	mkc -n "$NS" wait --for condition=Ready --timeout=120s scaledobject/forest-api >/dev/null
}

# promql QUERY: the instant query's result, one line per series
# (`promtool query instant`, in the Prometheus pod).
promql() {
	mkc -n "$NS" exec deploy/prometheus -- promtool query instant http://127.0.0.1:9090 "$1"
}

api_pod_ips() {
	mkc -n "$NS" get pods -l app.kubernetes.io/name=forest-serve \
		--field-selector=status.phase=Running -o jsonpath='{range .items[*]}{.status.podIP}{"\n"}{end}' | sort
}

# Every running API pod's address, and only those, is an up target.
targets_match_pods() {
	local pods up
	pods=$(api_pod_ips) || return 1
	up=$(promql 'up{job="forest-serve"} == 1' | sed -n 's/.*instance="\([0-9.]*\):8000".*/\1/p' | sort) ||
		return 1
	[[ -n $pods && $pods == "$up" ]]
}

every_pod_up() {
	wait_for 90 "every API pod an up target" targets_match_pods || return 1
	log "up targets: $(api_pod_ips | tr '\n' ' ')"
}

replicas() { mkc -n "$NS" get deployment forest-api -o jsonpath='{.spec.replicas}'; }

# What the HPA KEDA made sees now: each metric's current value.
hpa_metrics() {
	mkc -n "$NS" get hpa keda-hpa-forest-api -o jsonpath='{range .status.currentMetrics[*]}{.type}: {.external.current.averageValue}{.resource.current.averageUtilization}{"  "}{end}'
}

replicas_above() { (($(replicas) > $1)); }
replicas_are() { (($(replicas) == $1)); }

# load_predict STOPFILE: /predict through the control plane's NodePort, 25
# requests per curl, until STOPFILE is removed; prints requests and
# failures.
load_predict() {
	local ip total=0 fails=0 codes ok
	ip=$(node_ip "$(node_names | head -n 1)")
	# curl's -o names the output of one URL: each needs its own.
	local urls=()
	for _ in $(seq 25); do urls+=(-o /dev/null "http://$ip:$NODE_PORT/predict"); done
	while [[ -e $1 ]]; do
		codes=$(curl -s -w '%{http_code}\n' --max-time 5 \
			-H 'Content-Type: application/json' --data-binary "@$PREDICT_BODY" "${urls[@]}") || true
		total=$((total + 25))
		ok=$(grep -c '^200$' <<<"$codes") || ok=0
		fails=$((fails + 25 - ok))
	done
	echo "$total $fails"
}

scale_on_request_rate() {
	local stop out rc=0 t0 total fails total2 fails2
	stop=$(mktemp) || return 1
	out=$(mktemp) || return 1
	t0=$(date +%s)
	load_predict "$stop" >"$out" &
	local loader=$! loader2
	load_predict "$stop" >"$out.2" &
	loader2=$!
	wait_for 240 "replicas above 2 under load" replicas_above 2 || rc=1
	log "under load after $(($(date +%s) - t0))s: $(replicas) replicas; HPA sees $(hpa_metrics)"
	rm -f "$stop"
	wait "$loader" "$loader2" || true
	read -r total fails <"$out" || rc=1
	read -r total2 fails2 <"$out.2" || rc=1
	total=$((total + total2))
	fails=$((fails + fails2))
	log "load: $total requests, $fails not answered 200"
	rm -f "$out" "$out.2"
	# A load the API refuses (a body that no longer matches the model's
	# features) would still count as requests: the answers must be 200s,
	# but for the odd one lost while pods come and go (at most 1%).
	((total > 0 && fails * 100 <= total)) || {
		log "error: $fails of $total requests were not answered 200"
		rc=1
	}
	# The CPU target (1000% of the request) is what the pods could never
	# reach: the scale-up came from the External metric.
	((rc == 0))
}

back_to_two() {
	local t0
	t0=$(date +%s)
	wait_for 300 "replicas back to 2 after the load" replicas_are 2 || return 1
	log "back to 2 replicas $(($(date +%s) - t0))s after the load stopped"
}

# alert_firing NAME: Prometheus's ALERTS series has NAME firing.
alert_firing() {
	local out
	out=$(promql "ALERTS{alertname=\"$1\",alertstate=\"firing\"}") || return 1
	[[ $out == *"alertname=\"$1\""* ]]
}

refused_version_alerts() {
	local w old rc=0
	w=$(workers | tail -n 1)
	pod_run s3-corrupt "$w" "$TRAINER_LABELS" sh /scripts/s3-promote-corrupt.sh \
		"$STORE_EP" "$MODEL_BUCKET" "$MODEL_PREFIX" corrupt-e2e >/dev/null 2>&1 || return 1
	old=$(mkc -n "$NS" logs s3-corrupt | tail -n 1)
	log "promoted corrupt-e2e (a copy of $old with a flipped byte)"
	wait_for 120 "ForestServeModelReloadRefused firing" alert_firing ForestServeModelReloadRefused || rc=1
	wait_for 150 "ForestServeModelVersionMismatch firing" alert_firing ForestServeModelVersionMismatch || rc=1
	log "firing: $(promql 'ALERTS{alertstate="firing"}' | sed -n 's/.*alertname="\([A-Za-z]*\)".*/\1/p' | sort | uniq -c | tr -s ' \n' ' ')"
	all_serve "$old" || rc=1
	pod_run s3-restore "$w" "$TRAINER_LABELS" sh /scripts/s3-put-current.sh \
		"$STORE_EP" "$MODEL_BUCKET" "$MODEL_PREFIX" "$old" >/dev/null 2>&1 || rc=1
	((rc == 0))
}

monitoring_flow() {
	check "monitoring images (Prometheus, KEDA, metrics-server) loaded" \
		timed "monitoring images" monitoring_images || return 1
	check "metrics-server serves the resource metrics API" timed "metrics-server" metrics_server_up || return 1
	check "KEDA operator and metrics API server Ready (scripts/keda-install.sh)" timed "KEDA" keda_up || return 1
	check "monitoring overlay applied: Prometheus Ready, KEDA's HPA replaces the base HPA" \
		timed "apply monitoring overlay" monitoring_apply || return 1
	check "Prometheus: every API pod is an up target" timed "targets" every_pod_up || true
	check "load on /predict (99% answered 200): replicas above 2 through the request rate (CPU target 1000%)" \
		timed "scale up" scale_on_request_rate || true
	check "after the load: back to 2 replicas (30 s scale-down window)" timed "scale down" back_to_two || true
	check "a corrupt promoted model: refused, the alerts fire, the old one serves" \
		timed "alerts" refused_version_alerts || true
}
