# shellcheck shell=bash
# The platform on the object store, on the multi-node cluster: sourced by
# run.sh.

MODEL_BUCKET=models
MODEL_PREFIX=platform
NODE_PORT=30800
# shellcheck disable=SC2154 # repo: set by run.sh
PREDICT_BODY="$repo/tests/e2e/data/predict-request.json"

platform_images() {
	make -s -C "$repo" images >/dev/null || return 1
	local img
	for img in mini-ml/forest-train:dev mini-ml/forest-serve:dev; do
		kind load docker-image --name "$MN_CLUSTER" "$img" >/dev/null || return 1
	done
}

platform_apply() {
	local w
	w=$(workers | tail -n 1) || return 1
	# The bucket first, as k8s/README tells a user to: the trainer reads
	# `current` before writing anything, and a missing bucket is an error
	# (NoSuchBucket), not something it creates.
	# SeaweedFS can answer a first PUT into a bucket made a moment before
	# with 500 InternalError; S3 clients retry 5xx, and so does this.
	local try
	for try in 1 2 3; do
		pod_run s3-mkbucket "$w" "$TRAINER_LABELS" sh /scripts/s3-roundtrip.sh \
			"$STORE_EP" "$MODEL_BUCKET" "probe/bucket" >/dev/null && break
		((try < 3)) || return 1
		sleep 2
	done
	mkc apply -k "$repo/overlays/object-store" >/dev/null
}

# current_version: the body of s3://models/platform/current, read from a
# trainer-labelled pod (the only kind the store lets in, with the API's).
current_version() {
	local w
	w=$(workers | tail -n 1)
	pod_run s3-current "$w" "$TRAINER_LABELS" sh /scripts/s3-get.sh "$STORE_EP" \
		"$MODEL_BUCKET" "$MODEL_PREFIX/current" >/dev/null 2>&1 || return 1
	mkc -n "$NS" logs s3-current | tail -n 1
}

training_writes_bucket() {
	mkc -n "$NS" wait --for=condition=Complete job/model-training --timeout=300s >/dev/null || return 1
	V1=$(current_version) || return 1
	log "current in the bucket: $V1"
	[[ -n $V1 ]]
}

api_ready_on_nodes() {
	mkc -n "$NS" rollout status deployment/forest-api --timeout=180s >/dev/null || return 1
	local nodes
	wait_for 120 "2 Ready API replicas" api_two_ready || return 1
	nodes=$(mkc -n "$NS" get pods -l app.kubernetes.io/name=forest-serve \
		-o jsonpath='{range .items[*]}{.spec.nodeName}{"\n"}{end}' | sort -u | grep -c .)
	log "API pods on $nodes nodes"
	((nodes >= 2))
}

api_two_ready() {
	(($(mkc -n "$NS" get deployment forest-api -o jsonpath='{.status.readyReplicas}') >= 2))
}

# predict_on IP: /predict through that node's NodePort; prints model_version.
predict_on() {
	curl -fsS --max-time 5 -H 'Content-Type: application/json' --data-binary "@$PREDICT_BODY" \
		"http://$1:$NODE_PORT/predict" | sed -n 's/.*"model_version" *: *"\([^"]*\)".*/\1/p'
}

predict_every_node() {
	local n v
	for n in $(node_names); do
		v=$(predict_on "$(node_ip "$n")") || return 1
		log "/predict through $n:$NODE_PORT: model_version $v"
		[[ $v == "$1" ]] || return 1
	done
}

restarts() {
	mkc -n "$NS" get pods -l app.kubernetes.io/name=forest-serve \
		-o jsonpath='{range .items[*]}{.metadata.name}={.status.containerStatuses[0].restartCount}{"\n"}{end}' | sort
}

# all_serve V: 20 answers in a row through the Service all carry V.
all_serve() {
	local ip
	ip=$(node_ip "$(node_names | head -n 1)")
	for _ in $(seq 20); do
		[[ $(predict_on "$ip") == "$1" ]] || return 1
	done
}

retrain_promotes() {
	local before v2
	before=$(restarts)
	mkc -n "$NS" delete job retrain-e2e --ignore-not-found >/dev/null || return 1
	mkc -n "$NS" create job --from=cronjob/model-retraining retrain-e2e >/dev/null || return 1
	mkc -n "$NS" wait --for=condition=Complete job/retrain-e2e --timeout=300s >/dev/null || return 1
	v2=$(current_version) || return 1
	log "retrained: current $V1 -> $v2"
	[[ -n $v2 && $v2 != "$V1" ]] || return 1
	wait_for 60 "every replica serves $v2" all_serve "$v2" || return 1
	[[ $(restarts) == "$before" ]] || {
		log "restart counts changed: $before -> $(restarts)"
		return 1
	}
	V1=$v2
}

PARALLEL="$repo/overlays/object-store/parallel-training"

# shards_merge_through_bucket: the object-store variant of the
# parallel-training example, as its kustomization tells a user to run it:
# the Indexed Job's shards (on both workers) write to the bucket, the merge
# Job joins them and promotes a version that every replica then serves.
shards_merge_through_bucket() {
	local nodes out v
	mkc -n "$NS" delete job model-training-shards model-training-merge \
		--ignore-not-found --wait=true >/dev/null || return 1
	mkc apply -k "$PARALLEL" -l ml-platform/step=shards >/dev/null || return 1
	mkc -n "$NS" wait --for=condition=Complete job/model-training-shards --timeout=600s >/dev/null || return 1
	nodes=$(mkc -n "$NS" get pods -l batch.kubernetes.io/job-name=model-training-shards \
		-o jsonpath='{range .items[*]}{.spec.nodeName}{"\n"}{end}' | sort -u | tr '\n' ' ') || return 1
	log "shard pods ran on: $nodes"
	(($(wc -w <<<"$nodes") >= 2)) || return 1
	mkc apply -k "$PARALLEL" -l ml-platform/step=merge >/dev/null || return 1
	mkc -n "$NS" wait --for=condition=Complete job/model-training-merge --timeout=300s >/dev/null || return 1
	# Read whole, then matched (pipefail).
	out=$(mkc -n "$NS" logs job/model-training-merge) || return 1
	grep -q "merged 4 shards" <<<"$out" || {
		log "merge log: $out"
		return 1
	}
	v=$(current_version) || return 1
	log "merged: current $V1 -> $v"
	[[ -n $v && $v != "$V1" ]] || return 1
	wait_for 60 "every replica serves $v" all_serve "$v" || return 1
	V1=$v
}

# Drain the worker without the store (its volume is local to the other)
# while a client sends /predict through the control plane's NodePort.
drain_under_load() {
	local w ip failures=0 total=0 stop
	w=$(workers | tail -n 1)
	ip=$(node_ip "$(node_names | head -n 1)")
	stop=$(mktemp) || return 1
	(
		f=0 t=0
		while [[ -e $stop ]]; do
			t=$((t + 1))
			curl -fsS -o /dev/null --max-time 5 -H 'Content-Type: application/json' \
				--data-binary "@$PREDICT_BODY" "http://$ip:$NODE_PORT/predict" || f=$((f + 1))
			sleep 0.05
		done
		echo "$t $f" >"$stop.result"
	) &
	local client=$!
	sleep 3
	local rc=0
	mkc drain "$w" --ignore-daemonsets --delete-emptydir-data --timeout=180s >/dev/null || rc=1
	wait_for 120 "2 Ready API replicas after the drain" api_two_ready || rc=1
	sleep 3
	rm -f "$stop"
	wait "$client" || true
	read -r total failures <"$stop.result" || rc=1
	rm -f "$stop.result"
	mkc uncordon "$w" >/dev/null || rc=1
	log "drain of $w: $total requests, $failures failed"
	((rc == 0 && total > 0 && failures == 0))
}

# The trainer's egress is the store and DNS only: not the API.
trainer_cannot_reach_api() {
	local w ip out
	w=$(workers | tail -n 1)
	ip=$(mkc -n "$NS" get pods -l app.kubernetes.io/name=forest-serve -o jsonpath='{.items[0].status.podIP}') || return 1
	# The trainer's own egress policy denies it; kube-router programs a new
	# pod's egress chain a few seconds after it starts, so wait 15 s first.
	out=$(reach np-trainer-api "$w" "$TRAINER_LABELS" "http://$ip:8000/health" 15 15) || return 1
	log "trainer-labelled pod -> API pod :8000: $out"
	[[ $out == blocked* ]]
}

# The API's ingress: a pod without the client label is refused at an API
# pod and through the Service; one with it gets through.
only_clients_reach_api() {
	local w ip out
	w=$(workers | tail -n 1)
	ip=$(mkc -n "$NS" get pods -l app.kubernetes.io/name=forest-serve -o jsonpath='{.items[0].status.podIP}') || return 1
	out=$(reach np-other-api "$w" "$OTHER_LABELS" "http://$ip:8000/health" 15) || return 1
	log "unlabelled pod -> API pod :8000: $out"
	[[ $out == blocked* ]] || return 1
	out=$(reach np-other-api-svc "$w" "$OTHER_LABELS" "http://forest-api.$NS:8000/health" 10) || return 1
	log "unlabelled pod -> Service forest-api:8000: $out"
	[[ $out == blocked* ]] || return 1
	out=$(reach np-client-api "$w" "$CLIENT_LABELS" "http://$ip:8000/health" 30) || return 1
	log "api-client pod -> API pod :8000: $out"
	[[ $out == "reached HTTP 200"* ]]
}

platform_flow() {
	check "platform images loaded (make images, kind load)" timed "platform images" platform_images || return 1
	check "overlays/object-store applied" timed "apply overlay" platform_apply || return 1
	check "training Job writes its model to the bucket" timed "training" training_writes_bucket || return 1
	check "API replicas Ready on >= 2 nodes" timed "API spread" api_ready_on_nodes || return 1
	check "/predict through every node's NodePort serves $V1" timed "predict" predict_every_node "$V1" || true
	check "Indexed Job shards on both workers merge through the bucket; every replica serves the merge" timed "shards + merge" shards_merge_through_bucket || true
	check "a Job from the CronJob promotes a version every replica serves, no restart" timed "retrain" retrain_promotes || true
	check "drain of a worker under load: the PDB holds, no request fails" timed "drain" drain_under_load || true
	check "NetworkPolicy: the trainer cannot reach the API" timed "policy trainer -> API" trainer_cannot_reach_api || true
	check "NetworkPolicy: only pods labelled api-client reach the API (pod and Service)" timed "policy others -> API" only_clients_reach_api || true
}
