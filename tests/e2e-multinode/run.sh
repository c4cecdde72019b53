#!/usr/bin/env bash
# make e2e-multinode: the object store on a real multi-node Kubernetes.
#
#   tests/e2e-multinode/run.sh            build (cached), up, checks, down
#   MN_KEEP=1 tests/e2e-multinode/run.sh  leave the cluster up afterwards
#   export KUBECONFIG=/var/lib/mini-ml-e2e-multinode/kubeconfig
#   tests/e2e-multinode/run.sh down       remove a kept cluster
#
# A kind cluster (one control plane, two workers; each node a Docker
# container running systemd, containerd and a kubelet) from a node image
# built here offline (build.sh); the pod network is what kindnet does, done
# from outside: Debian's ptp and host-local CNI plugins on every node, and a
# route per node's podCIDR; NetworkPolicies are enforced by kube-router's
# policy controller. Then SeaweedFS from overlays/object-store/store, an
# S3 round trip through its Service from pods on both workers, and the
# NetworkPolicy: pods without the trainer's or the API's labels cannot
# reach the store's port. Then the platform itself on the store
# (platform.sh). Prints each step with its duration and closes with
# "N passed, N failed".
#
# Needs: root, Docker (no registry: every image is built here), the Go
# module proxy and Debian's mirror for the first build. Leaves alone every
# container, network and image it did not create; the single-node
# harness (tests/e2e) can run beside it.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
# shellcheck source=tests/e2e/lib.sh
. "$repo/tests/e2e/lib.sh"
# shellcheck source=tests/e2e-multinode/lib.sh
. "$here/lib.sh"

NS=ml-platform
STORE_EP=http://object-store:8333
BUCKET=e2e-multinode
passed=0
failed=0

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

node_names() { kind get nodes --name "$MN_CLUSTER" | sort; }
workers() { node_names | grep -- '-worker'; }
node_ip() { docker inspect -f '{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}' "$1"; }

cluster_exists() { grep -qx "$MN_CLUSTER" <(kind get clusters 2>/dev/null); }

# The kubelets set host-wide sysctls (vm.overcommit_memory, kernel.panic,
# ...: not namespaced), as on any kind host; saved before the cluster
# starts, restored at teardown, as tests/e2e/cluster-up.sh does.
HOST_SYSCTLS=(vm.overcommit_memory vm.panic_on_oom kernel.panic kernel.panic_on_oops
	kernel.keys.root_maxkeys kernel.keys.root_maxbytes)

save_sysctls() {
	local s
	mkdir -p "$MN_STATE" || return 1
	[[ -e $MN_STATE/sysctls.saved ]] && return 0
	for s in "${HOST_SYSCTLS[@]}"; do
		echo "$s=$(sysctl -n "$s")" || return 1
	done >"$MN_STATE/sysctls.saved"
}

restore_sysctls() {
	[[ -f $MN_STATE/sysctls.saved ]] || return 0
	sysctl -q -p "$MN_STATE/sysctls.saved" >/dev/null
}

cluster_down() {
	if cluster_exists; then
		kind delete cluster --name "$MN_CLUSTER" --kubeconfig "$MN_KUBECONFIG" || return 1
	fi
	restore_sysctls || return 1
	rm -rf "$MN_STATE" || return 1
}

torn_down() {
	! cluster_exists &&
		[[ -z $(docker ps -aq --filter "label=io.x-k8s.kind.cluster=$MN_CLUSTER") ]] &&
		[[ ! -e $MN_STATE ]]
}

# The kind config: three nodes, no default CNI (kindnetd is not on the
# module proxy; the harness sets up the network instead), and what this
# machine needs.
write_kind_config() {
	local restrict=false
	# No CAP_SYS_RESOURCE (bit 24 of the bounding set): nobody may lower an
	# oom_score_adj, and runc fails the kubelet's -998 for pause containers.
	# containerd then clamps the value instead (tests/e2e/README.md).
	if (((0x$(awk '/^CapBnd/ {print $2}' /proc/self/status) >> 24 & 1) == 0)); then
		restrict=true
	fi
	mkdir -p "$MN_STATE" || return 1
	cat >"$MN_STATE/kind-config.yaml" <<-EOF || return 1
	kind: Cluster
	apiVersion: kind.x-k8s.io/v1alpha4
	networking:
	  disableDefaultCNI: true
	  kubeProxyMode: iptables
	  podSubnet: $MN_POD_SUBNET
	  serviceSubnet: $MN_SERVICE_SUBNET
	containerdConfigPatches:
	  - |-
	    [plugins."io.containerd.grpc.v1.cri"]
	      restrict_oom_score_adj = $restrict
	kubeadmConfigPatches:
	  # The etcd and CoreDNS images are the versions built here, not the
	  # ones kubeadm would pull.
	  - |
	    kind: ClusterConfiguration
	    etcd:
	      local:
	        imageTag: $ETCD_VERSION
	    dns:
	      imageTag: $COREDNS_VERSION
	nodes:
	  - role: control-plane
	  - role: worker
	  - role: worker
	EOF
}

cluster_up() {
	save_sysctls || return 1
	write_kind_config || return 1
	# Docker keeps images on fuse-overlayfs here: kind would pick its
	# fuse-overlayfs snapshotter, which the node image lacks. The nodes'
	# /var is a Docker volume on the host's disk, where overlayfs works.
	KIND_EXPERIMENTAL_CONTAINERD_SNAPSHOTTER=overlayfs \
		kind create cluster --name "$MN_CLUSTER" --image "$NODE_IMAGE_REPO:$K8S_VERSION" \
		--config "$MN_STATE/kind-config.yaml" --kubeconfig "$MN_KUBECONFIG" --retain --wait 0s ||
		return 1
}

# What kindnetd does, from outside: on each node a CNI config giving pods
# addresses from that node's podCIDR (ptp: one veth per pod, routed), and
# on every node a route to each other node's podCIDR via that node.
pod_network() {
	local n m cidr ip
	for n in $(node_names); do
		cidr=$(mkc get node "$n" -o jsonpath='{.spec.podCIDR}') || return 1
		[[ -n $cidr ]] || {
			log "node $n has no podCIDR"
			return 1
		}
		docker exec -i "$n" sh -c 'mkdir -p /etc/cni/net.d && cat >/etc/cni/net.d/10-mini-ml.conflist' <<-EOF || return 1
		{
		  "cniVersion": "1.0.0",
		  "name": "mini-ml-multinode",
		  "plugins": [
		    {
		      "type": "ptp",
		      "ipMasq": false,
		      "ipam": {
		        "type": "host-local",
		        "dataDir": "/run/cni-ipam-state",
		        "ranges": [[{"subnet": "$cidr"}]],
		        "routes": [{"dst": "0.0.0.0/0"}]
		      }
		    },
		    {"type": "portmap", "capabilities": {"portMappings": true}}
		  ]
		}
		EOF
		# A Service address kube-proxy has not translated (yet) must not
		# leave the node: this machine's default route answers any TCP
		# connection (its network's egress answers HTTPS with 404), so the
		# aggregator's first connection to metrics-server's Service, opened
		# before kube-proxy had its rules, reached that instead, stayed
		# open, and failed every discovery check with 404. A reset makes the
		# client retry, as an unroutable address would elsewhere.
		docker exec "$n" sh -c "iptables -I OUTPUT -d $MN_SERVICE_SUBNET -p tcp -j REJECT --reject-with tcp-reset &&
			iptables -I FORWARD -d $MN_SERVICE_SUBNET -p tcp -j REJECT --reject-with tcp-reset" || return 1
		ip=$(node_ip "$n") || return 1
		for m in $(node_names); do
			[[ $m == "$n" ]] && continue
			docker exec "$m" ip route replace "$cidr" via "$ip" || return 1
		done
		log "node $n: pods on $cidr, reached via $ip"
	done
}

nodes_ready() {
	[[ $(mkc get nodes -o jsonpath='{range .items[*]}{.status.conditions[?(@.type=="Ready")].status}{"\n"}{end}' |
		grep -cx True) == 3 ]]
}

kube_router_up() {
	sed -e "s|KUBE_ROUTER_IMAGE|$KUBE_ROUTER_IMAGE|" -e "s|SERVICE_SUBNET|$MN_SERVICE_SUBNET|" \
		"$here/manifests/kube-router.yaml" | mkc apply -f - >/dev/null || return 1
	mkc -n kube-system rollout status daemonset/kube-router --timeout=120s
}

system_ready() {
	mkc -n kube-system rollout status deployment/coredns --timeout=120s >/dev/null &&
		mkc -n kube-system rollout status daemonset/kube-proxy --timeout=60s >/dev/null
}

load_images() {
	local img
	for img in "$SEAWEEDFS_IMAGE" "$CURL_IMAGE"; do
		kind load docker-image --name "$MN_CLUSTER" "$img" >/dev/null || return 1
	done
}

# The store's volume: a local PersistentVolume on the first worker (the
# default StorageClass of this cluster has no provisioner: none can be
# pulled here), which the StatefulSet's claim binds.
store_volume() {
	local w
	w=$(workers | head -n 1) || return 1
	docker exec "$w" mkdir -p /var/local-pv/object-store-0 || return 1
	mkc apply -f - >/dev/null <<-EOF || return 1
	apiVersion: v1
	kind: PersistentVolume
	metadata:
	  name: mn-object-store-0
	spec:
	  capacity: {storage: 2Gi}
	  accessModes: [ReadWriteOnce]
	  persistentVolumeReclaimPolicy: Retain
	  storageClassName: standard
	  local: {path: /var/local-pv/object-store-0}
	  nodeAffinity:
	    required:
	      nodeSelectorTerms:
	        - matchExpressions:
	            - {key: kubernetes.io/hostname, operator: In, values: [$w]}
	EOF
}

store_up() {
	mkc apply -f "$repo/k8s/namespace.yaml" >/dev/null || return 1
	# Credentials made for this run only; the overlay ships none.
	mkc -n "$NS" create secret generic object-store-credentials \
		--from-literal=AWS_ACCESS_KEY_ID="e2e$(openssl rand -hex 8)" \
		--from-literal=AWS_SECRET_ACCESS_KEY="$(openssl rand -hex 20)" \
		--dry-run=client -o yaml | mkc apply -f - >/dev/null || return 1
	store_volume || return 1
	mkc apply -k "$repo/overlays/object-store/store" >/dev/null || return 1
	mkc -n "$NS" create configmap mn-pod-scripts --from-file="$here/pod-scripts" \
		--dry-run=client -o yaml | mkc apply -f - >/dev/null || return 1
	mkc -n "$NS" rollout status statefulset/object-store --timeout=180s
}

# pod_run NAME NODE LABELS ARGS...: run the curl image on NODE with LABELS
# (a YAML map) and ARGS (sh and a script of pod-scripts/), wait for it to
# finish; prints its log; succeeds when the pod did.
pod_run() {
	local name=$1 node=$2 labels=$3 arg args="" phase
	shift 3
	for arg in "$@"; do args+="\"$arg\", "; done
	mkc -n "$NS" delete pod "$name" --ignore-not-found --wait=true >/dev/null || return 1
	mkc apply -f - >/dev/null <<-EOF || return 1
	apiVersion: v1
	kind: Pod
	metadata:
	  name: $name
	  namespace: $NS
	  labels: $labels
	spec:
	  nodeName: $node
	  restartPolicy: Never
	  automountServiceAccountToken: false
	  securityContext:
	    runAsNonRoot: true
	    runAsUser: 65532
	    runAsGroup: 65532
	    seccompProfile: {type: RuntimeDefault}
	  containers:
	    - name: client
	      image: $CURL_IMAGE
	      imagePullPolicy: Never
	      command: [${args%, }]
	      env:
	        - name: AWS_ACCESS_KEY_ID
	          valueFrom: {secretKeyRef: {name: object-store-credentials, key: AWS_ACCESS_KEY_ID}}
	        - name: AWS_SECRET_ACCESS_KEY
	          valueFrom: {secretKeyRef: {name: object-store-credentials, key: AWS_SECRET_ACCESS_KEY}}
	      securityContext:
	        allowPrivilegeEscalation: false
	        capabilities: {drop: [ALL]}
	      resources:
	        requests: {cpu: 10m, memory: 16Mi}
	        limits: {memory: 64Mi}
	      volumeMounts:
	        - {name: scripts, mountPath: /scripts, readOnly: true}
	  volumes:
	    - name: scripts
	      configMap: {name: mn-pod-scripts}
	EOF
	for _ in $(seq 120); do
		phase=$(mkc -n "$NS" get pod "$name" -o jsonpath='{.status.phase}') || phase=""
		[[ $phase == Succeeded || $phase == Failed ]] && break
		sleep 1
	done
	mkc -n "$NS" logs "$name" 2>&1 | sed "s/^/  [$name] /" >&2 || true
	[[ $phase == Succeeded ]] || {
		log "pod $name ended as '${phase:-unknown}'"
		mkc -n "$NS" describe pod "$name" 2>&1 | tail -n 12 | sed 's/^/  /' >&2 || true
		return 1
	}
}

# The labels of the pods the store lets in, and of one it does not.
TRAINER_LABELS='{app.kubernetes.io/name: forest-train, app.kubernetes.io/instance: ml-platform, app.kubernetes.io/component: trainer}'
API_LABELS='{app.kubernetes.io/name: forest-serve, app.kubernetes.io/instance: ml-platform, app.kubernetes.io/component: api}'
OTHER_LABELS='{app.kubernetes.io/name: e2e-intruder, app.kubernetes.io/instance: ml-platform}'
CLIENT_LABELS='{app.kubernetes.io/name: e2e-client, app.kubernetes.io/instance: ml-platform, mini-ml-platform/api-client: "true"}'

# s3_roundtrip LABELS NODE: PUT then GET an object from a pod on NODE.
s3_roundtrip() {
	pod_run "s3-$3" "$2" "$1" sh /scripts/s3-roundtrip.sh "$STORE_EP" "$BUCKET" "probe/$3"
}

# reach NAME NODE LABELS URL SECONDS: the pod's verdict ("reached ...",
# "blocked ...") after trying for up to SECONDS.
reach() {
	pod_run "$1" "$2" "$3" sh /scripts/reach.sh "$4" "$5" "${6:-0}" >/dev/null 2>&1 || return 1
	mkc -n "$NS" logs "$1" | tail -n 1
}

policy_blocks_others() {
	local node out
	node=$(workers | tail -n 1) || return 1
	# The same pod reaches CoreDNS's metrics across the pod network (its
	# DNS and network work), but not the store.
	out=$(reach np-other-dns "$node" "$OTHER_LABELS" http://kube-dns.kube-system:9153/metrics 15) || return 1
	log "unlabelled pod -> CoreDNS metrics: $out"
	[[ $out == reached* ]] || return 1
	out=$(reach np-other-store "$node" "$OTHER_LABELS" "$STORE_EP/healthz" 15) || return 1
	log "unlabelled pod -> store :8333: $out"
	[[ $out == blocked* ]]
}

policy_allows() {
	local node out
	node=$(workers | tail -n 1) || return 1
	out=$(reach "np-$1-store" "$node" "$2" "$STORE_EP/healthz" 30) || return 1
	log "$1-labelled pod -> store :8333: $out"
	[[ $out == "reached HTTP 200"* ]]
}

# The platform steps (platform.sh): the binaries of this tree on the
# object store.
# shellcheck source=tests/e2e-multinode/platform.sh
. "$here/platform.sh"

# Prometheus, alerts and KEDA on the platform platform.sh leaves running.
# shellcheck source=tests/e2e-multinode/monitoring.sh
. "$here/monitoring.sh"

finish() {
	local rc=$?
	trap - EXIT
	if [[ ${MN_KEEP:-} == 1 ]]; then
		log "MN_KEEP=1: the cluster stays up (KUBECONFIG=$MN_KUBECONFIG; tests/e2e-multinode/run.sh down)"
	else
		check "teardown" timed "teardown" cluster_down || true
		check "nothing left (no node container, no state)" torn_down || true
	fi
	log "total: $(($(date +%s) - t0))s"
	echo "$passed passed, $failed failed"
	if ((failed > 0 || rc != 0)); then exit 1; fi
	exit 0
}

diagnose() {
	log "diagnostics"
	mkc get nodes -o wide 2>&1 | sed 's/^/  /' >&2 || true
	mkc get pods -A -o wide 2>&1 | sed 's/^/  /' >&2 || true
	mkc get events -A --sort-by=.lastTimestamp 2>&1 | tail -n 25 | sed 's/^/  /' >&2 || true
}

flow() {
	check "build (binaries and images)" timed "build" "$here/build.sh" || return 1
	check "kind cluster up: 1 control plane, 2 workers" timed "cluster up" cluster_up || return 1
	check "pod network: ptp + host-local, a route per podCIDR, untranslated Service addresses refused" timed "pod network" pod_network || return 1
	check "3 nodes Ready" timed "nodes Ready" wait_for 120 "3 Ready nodes" nodes_ready || return 1
	check "CoreDNS and kube-proxy Ready" timed "system pods" system_ready || return 1
	check "kube-router policy controller on every node" timed "NetworkPolicy enforcer" kube_router_up || return 1
	check "images loaded into every node" timed "kind load" load_images || return 1
	check "SeaweedFS Ready (overlays/object-store/store)" timed "object store" store_up || return 1
	local w1 w2
	w1=$(workers | head -n 1)
	w2=$(workers | tail -n 1)
	check "S3 put/get from a trainer-labelled pod on the store's node" \
		timed "S3 round trip ($w1)" s3_roundtrip "$TRAINER_LABELS" "$w1" trainer-w1 || true
	check "S3 put/get from an API-labelled pod on the other worker" \
		timed "S3 round trip ($w2)" s3_roundtrip "$API_LABELS" "$w2" api-w2 || true
	check "NetworkPolicy: an unlabelled pod cannot reach the store (but reaches CoreDNS)" \
		timed "policy denies" policy_blocks_others || true
	check "NetworkPolicy: a trainer-labelled pod reaches the store" \
		timed "policy allows trainer" policy_allows trainer "$TRAINER_LABELS" || true
	check "NetworkPolicy: an API-labelled pod reaches the store" \
		timed "policy allows API" policy_allows api "$API_LABELS" || true
	timed "platform on the object store" platform_flow || true
	timed "monitoring: Prometheus, alerts, KEDA" monitoring_flow || true
}

main() {
	if [[ ${1:-} == down ]]; then
		cluster_down
		exit $?
	fi
	t0=$(date +%s)
	trap finish EXIT
	trap 'exit 130' INT
	trap 'exit 143' TERM
	if cluster_exists || [[ -e $MN_STATE ]]; then
		log "removing what an earlier run left behind"
		cluster_down || die "cannot remove the earlier cluster"
	fi
	flow || {
		diagnose
		return 0
	}
	((failed == 0)) || diagnose
}

# Sourced (for a step by hand on a kept cluster), it only defines.
if [[ ${BASH_SOURCE[0]} == "$0" ]]; then main "$@"; fi
