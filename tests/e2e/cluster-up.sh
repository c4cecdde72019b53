#!/usr/bin/env bash
# Start a one-node Kubernetes cluster from local processes for the e2e flow.
#
#   tests/e2e/cluster-up.sh         build (cached), then start everything
#
# etcd, kube-apiserver, kube-controller-manager, kube-scheduler, a private
# containerd (own socket, root and state: Docker's containerd is untouched),
# a kubelet on it, kube-proxy in iptables mode, CoreDNS and metrics-server,
# each a host process whose pid is recorded in $E2E_RUN/pids so
# cluster-down.sh stops exactly what this script started. Pods sit on the bridge e2e-br0;
# every listener is on 127.0.0.1 or on that bridge's address.
#
# Error contract: every step function returns non-zero at the first command
# that fails, with an explicit `|| return 1`: the steps run through `timed`,
# an `||` context in which bash ignores `set -e`.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/e2e/lib.sh
. "$here/lib.sh"

PKI="$E2E_STATE/pki"
LOGS="$E2E_STATE/logs"
CTR_SOCK="$E2E_RUN/containerd.sock"

# Debian packages the cluster runs on. The project's own files install them
# so that a fresh machine of this kind passes too.
HOST_PACKAGES=(containerd runc containernetworking-plugins iptables conntrack
	openssl busybox-static gcc libc6-dev curl)

install_host_packages() { install_packages "${HOST_PACKAGES[@]}"; }

# start_proc NAME CMD...: run CMD in its own session, log to $LOGS/NAME.log.
start_proc() {
	local name=$1
	shift
	[[ -x $1 ]] || command -v "$1" >/dev/null || {
		log "cannot start $name: no program $1"
		return 1
	}
	setsid "$@" >"$LOGS/$name.log" 2>&1 </dev/null &
	echo $! >"$E2E_RUN/pids/$name" || return 1
	echo "$name" >>"$E2E_RUN/pids/order" || return 1
}

# alive NAME: the process is still running (it did not die on a bad flag).
alive() { kill -0 "$(cat "$E2E_RUN/pids/$1")" 2>/dev/null; }

# wait_proc SECONDS NAME CMD...: wait for CMD, failing early if NAME died.
wait_proc() {
	local secs=$1 name=$2 deadline
	shift 2
	deadline=$(($(date +%s) + secs))
	until "$@" >/dev/null 2>&1; do
		if ! alive "$name"; then
			log "$name exited; last lines of its log:"
			tail -n 30 "$LOGS/$name.log" >&2
			return 1
		fi
		if (($(date +%s) >= deadline)); then
			log "$name not ready after ${secs}s; last lines of its log:"
			tail -n 30 "$LOGS/$name.log" >&2
			return 1
		fi
		sleep 1
	done
}

# Sysctls the kubelet and kube-proxy change; saved so teardown restores them.
SAVED_SYSCTLS=(net.ipv4.ip_forward net.ipv4.conf.all.route_localnet
	net.bridge.bridge-nf-call-iptables vm.overcommit_memory vm.panic_on_oom
	kernel.panic kernel.panic_on_oops kernel.keys.root_maxkeys
	kernel.keys.root_maxbytes)

setup_network() {
	local s
	for s in "${SAVED_SYSCTLS[@]}"; do
		echo "$s=$(sysctl -n "$s" 2>/dev/null || true)"
	done >"$E2E_STATE/sysctls.saved" || return 1
	# Service traffic from a pod to another pod on the same bridge must pass
	# kube-proxy's iptables rules.
	modprobe br_netfilter 2>/dev/null || true
	sysctl -qw net.ipv4.ip_forward=1 net.bridge.bridge-nf-call-iptables=1 || return 1
	# The bridge exists before the cluster so its address can be the node's
	# address: the kubelet refuses a loopback node IP, and this one never
	# leaves the machine. The CNI bridge plugin reuses it.
	if ! ip link show "$BRIDGE" >/dev/null 2>&1; then
		ip link add "$BRIDGE" type bridge || return 1
		ip addr add "$NODE_IP/${POD_CIDR#*/}" dev "$BRIDGE" || return 1
	fi
	ip link set "$BRIDGE" up || return 1
	# Docker sets the FORWARD policy to DROP and bridged frames go through
	# iptables (br_netfilter): accept what comes from or goes to our bridge.
	local dir
	for dir in -i -o; do
		iptables -C FORWARD "$dir" "$BRIDGE" -m comment --comment mini-ml-e2e -j ACCEPT 2>/dev/null ||
			iptables -I FORWARD 1 "$dir" "$BRIDGE" -m comment --comment mini-ml-e2e -j ACCEPT ||
			return 1
	done
	mkdir -p "$E2E_STATE/cni/net.d" || return 1
	# As hack/local-up-cluster.sh writes it: bridge + host-local + portmap.
	cat >"$E2E_STATE/cni/net.d/10-e2e.conflist" <<-EOF || return 1
	{
	  "cniVersion": "1.0.0",
	  "name": "mini-ml-e2e",
	  "plugins": [
	    {
	      "type": "bridge",
	      "bridge": "$BRIDGE",
	      "isGateway": true,
	      "ipMasq": false,
	      "hairpinMode": true,
	      "ipam": {
	        "type": "host-local",
	        "dataDir": "$E2E_STATE/cni/ipam",
	        "ranges": [[{"subnet": "$POD_CIDR", "gateway": "$NODE_IP"}]],
	        "routes": [{"dst": "0.0.0.0/0"}]
	      }
	    },
	    {"type": "portmap", "capabilities": {"portMappings": true}}
	  ]
	}
	EOF
}

# cert NAME CN [O] [SAN]: a key and a certificate signed by the cluster CA.
cert() {
	local name=$1 cn=$2 org=${3:-} san=${4:-} ca=${5:-ca} subj="/CN=$2"
	if [[ -n $org ]]; then subj="/O=$org/CN=$cn"; fi
	openssl genrsa -out "$PKI/$name.key" 2048 2>/dev/null || return 1
	openssl req -new -key "$PKI/$name.key" -subj "$subj" -out "$PKI/$name.csr" 2>/dev/null || return 1
	{
		echo "basicConstraints=CA:FALSE"
		echo "keyUsage=critical,digitalSignature,keyEncipherment"
		echo "extendedKeyUsage=serverAuth,clientAuth"
		if [[ -n $san ]]; then echo "subjectAltName=$san"; fi
	} >"$PKI/$name.ext" || return 1
	openssl x509 -req -in "$PKI/$name.csr" -CA "$PKI/$ca.crt" -CAkey "$PKI/$ca.key" \
		-CAcreateserial -days 2 -extfile "$PKI/$name.ext" -out "$PKI/$name.crt" 2>/dev/null || return 1
}

# kubeconfig NAME: a kubeconfig that authenticates with NAME's certificate.
kubeconfig() {
	cat >"$PKI/$1.kubeconfig" <<-EOF || return 1
	apiVersion: v1
	kind: Config
	clusters:
	- name: e2e
	  cluster:
	    server: https://$NODE_IP:$API_PORT
	    certificate-authority: $PKI/ca.crt
	users:
	- name: $1
	  user:
	    client-certificate: $PKI/$1.crt
	    client-key: $PKI/$1.key
	contexts:
	- name: e2e
	  context: {cluster: e2e, user: $1}
	current-context: e2e
	EOF
}

make_pki() {
	mkdir -p "$PKI" || return 1
	openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=mini-ml-e2e-ca \
		-keyout "$PKI/ca.key" -out "$PKI/ca.crt" 2>/dev/null || return 1
	# The aggregation layer authenticates itself to metrics-server with a
	# separate CA, as kubeadm sets it up.
	openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=mini-ml-e2e-front-proxy-ca \
		-keyout "$PKI/front-proxy-ca.key" -out "$PKI/front-proxy-ca.crt" 2>/dev/null || return 1
	local svc_ip=${SERVICE_CIDR%.*/*}.1
	cert apiserver kube-apiserver "" \
		"IP:$NODE_IP,IP:127.0.0.1,IP:$svc_ip,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local" ||
		return 1
	cert admin e2e-admin system:masters || return 1
	cert controller-manager system:kube-controller-manager || return 1
	cert scheduler system:kube-scheduler || return 1
	cert kube-proxy system:kube-proxy || return 1
	cert kubelet "system:node:$NODE_NAME" system:nodes || return 1
	cert front-proxy-client front-proxy-client "" "" front-proxy-ca || return 1
	local k
	for k in admin controller-manager scheduler kube-proxy kubelet; do
		kubeconfig "$k" || return 1
	done
	openssl genrsa -out "$PKI/sa.key" 2048 2>/dev/null || return 1
	openssl rsa -in "$PKI/sa.key" -pubout -out "$PKI/sa.pub" 2>/dev/null || return 1
}

start_etcd() {
	mkdir -p "$E2E_STATE/etcd" || return 1
	chmod 0700 "$E2E_STATE/etcd" || return 1
	# A throwaway test store: fsync buys nothing and costs seconds.
	start_proc etcd "$ETCD_BIN/etcd" --name e2e --data-dir "$E2E_STATE/etcd" \
		--listen-client-urls http://127.0.0.1:2379 --advertise-client-urls http://127.0.0.1:2379 \
		--listen-peer-urls http://127.0.0.1:2380 --initial-advertise-peer-urls http://127.0.0.1:2380 \
		--initial-cluster e2e=http://127.0.0.1:2380 --listen-metrics-urls http://127.0.0.1:2381 \
		--unsafe-no-fsync --log-level warn || return 1
	wait_proc 30 etcd curl -fsS http://127.0.0.1:2381/health
}

start_apiserver() {
	start_proc kube-apiserver "$K8S_BIN/kube-apiserver" \
		--etcd-servers http://127.0.0.1:2379 \
		--bind-address "$NODE_IP" --advertise-address "$NODE_IP" --secure-port "$API_PORT" \
		--tls-cert-file "$PKI/apiserver.crt" --tls-private-key-file "$PKI/apiserver.key" \
		--client-ca-file "$PKI/ca.crt" \
		--service-account-issuer https://kubernetes.default.svc.cluster.local \
		--service-account-key-file "$PKI/sa.pub" --service-account-signing-key-file "$PKI/sa.key" \
		--service-cluster-ip-range "$SERVICE_CIDR" \
		--authorization-mode Node,RBAC --allow-privileged=true \
		--enable-admission-plugins NodeRestriction \
		--kubelet-client-certificate "$PKI/admin.crt" --kubelet-client-key "$PKI/admin.key" \
		--requestheader-client-ca-file "$PKI/front-proxy-ca.crt" \
		--requestheader-allowed-names front-proxy-client \
		--requestheader-username-headers X-Remote-User \
		--requestheader-group-headers X-Remote-Group \
		--requestheader-extra-headers-prefix X-Remote-Extra- \
		--proxy-client-cert-file "$PKI/front-proxy-client.crt" \
		--proxy-client-key-file "$PKI/front-proxy-client.key" \
		--enable-aggregator-routing=true \
		--kubelet-preferred-address-types InternalIP || return 1
	wait_proc 90 kube-apiserver kc get --raw /readyz
}

start_controllers() {
	# --use-service-account-credentials: each controller acts with its own
	# RBAC role, so a missing permission shows up here as it would elsewhere.
	start_proc kube-controller-manager "$K8S_BIN/kube-controller-manager" \
		--kubeconfig "$PKI/controller-manager.kubeconfig" \
		--authentication-kubeconfig "$PKI/controller-manager.kubeconfig" \
		--authorization-kubeconfig "$PKI/controller-manager.kubeconfig" \
		--bind-address 127.0.0.1 --leader-elect=false \
		--service-account-private-key-file "$PKI/sa.key" --root-ca-file "$PKI/ca.crt" \
		--use-service-account-credentials=true \
		--cluster-signing-cert-file "$PKI/ca.crt" --cluster-signing-key-file "$PKI/ca.key" || return 1
	start_proc kube-scheduler "$K8S_BIN/kube-scheduler" \
		--kubeconfig "$PKI/scheduler.kubeconfig" \
		--authentication-kubeconfig "$PKI/scheduler.kubeconfig" \
		--authorization-kubeconfig "$PKI/scheduler.kubeconfig" \
		--bind-address 127.0.0.1 --leader-elect=false || return 1
	wait_proc 60 kube-controller-manager curl -fsSk https://127.0.0.1:10257/healthz || return 1
	wait_proc 60 kube-scheduler curl -fsSk https://127.0.0.1:10259/healthz
}

# CoreDNS as a host process on the node IP, answering for the cluster
# domain from the API (its kubernetes plugin, with the admin kubeconfig) and
# for nothing else: no forward plugin, so no query leaves the machine.
start_coredns() {
	mkdir -p "$E2E_STATE/coredns" || return 1
	cat >"$E2E_STATE/coredns/Corefile" <<-EOF || return 1
	.:53 {
	    bind $NODE_IP
	    errors
	    ready 127.0.0.1:8181
	    kubernetes $CLUSTER_DOMAIN in-addr.arpa ip6.arpa {
	        kubeconfig $KUBECONFIG_ADMIN e2e
	        pods insecure
	    }
	    cache 5
	}
	EOF
	start_proc coredns "$COREDNS_BIN/coredns" -conf "$E2E_STATE/coredns/Corefile" || return 1
	wait_proc 60 coredns curl -fsS http://127.0.0.1:8181/ready
}

start_containerd() {
	mkdir -p "$E2E_STATE/containerd" || return 1
	local RESTRICT_OOM=false
	# CAP_SYS_RESOURCE is bit 24 of the bounding set.
	if (( (0x$(awk '/^CapBnd/ {print $2}' /proc/self/status) >> 24 & 1) == 0 )); then
		RESTRICT_OOM=true
	fi
	# A private containerd: its own root, state, socket and CRI settings,
	# so Docker's containerd (/run/docker/containerd) is never touched.
	cat >"$E2E_STATE/containerd/config.toml" <<-EOF || return 1
	version = 2
	root = "$E2E_STATE/containerd/root"
	state = "$E2E_RUN/containerd/state"
	[grpc]
	  address = "$CTR_SOCK"
	[ttrpc]
	  address = "$CTR_SOCK.ttrpc"
	[plugins."io.containerd.internal.v1.opt"]
	  path = "$E2E_STATE/containerd/opt"
	[plugins."io.containerd.grpc.v1.cri"]
	  sandbox_image = "$PAUSE_IMAGE"
	  # This machine's root lacks CAP_SYS_RESOURCE, so no process may lower
	  # its oom_score_adj; the kubelet asks -998 for every pause container
	  # and runc would fail ("failed to update /proc/self/oom_score_adj").
	  # Clamp requests to containerd's own score instead.
	  restrict_oom_score_adj = $RESTRICT_OOM
	  [plugins."io.containerd.grpc.v1.cri".containerd]
	    snapshotter = "overlayfs"
	    default_runtime_name = "runc"
	    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
	      runtime_type = "io.containerd.runc.v2"
	      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
	        # PID 1 is not systemd here: cgroups are plain directories.
	        SystemdCgroup = false
	        # runc's state apart from Docker's and any other containerd's.
	        Root = "$E2E_RUN/runc"
	  [plugins."io.containerd.grpc.v1.cri".cni]
	    bin_dir = "/usr/lib/cni"
	    conf_dir = "$E2E_STATE/cni/net.d"
	EOF
	start_proc containerd containerd --config "$E2E_STATE/containerd/config.toml" || return 1
	wait_proc 30 containerd ctr --address "$CTR_SOCK" version
}

# image_from_dir NAME DIR: build a FROM-scratch image with Docker and load it
# into our containerd. Docker only builds; it never pulls anything here.
image_from_dir() {
	local name=$1 dir=$2
	printf 'FROM scratch\nCOPY . /\n' >"$dir/Dockerfile" || return 1
	docker build -q -t "$name" "$dir" >/dev/null || return 1
	load_image "$name"
}

# load_image NAME: copy a Docker image into our containerd's CRI namespace.
load_image() {
	docker save "$1" | ctr --address "$CTR_SOCK" -n k8s.io images import - >/dev/null
}

load_pause_image() {
	local dir
	dir=$(mktemp -d) || return 1
	local rc=0
	{
		gcc -static -O2 -Wall -Wextra -Werror -o "$dir/pause" "$here/images/pause.c" &&
			strip "$dir/pause" &&
			printf 'FROM scratch\nCOPY pause /pause\nENTRYPOINT ["/pause"]\n' >"$dir/Dockerfile" &&
			docker build -q -t "$PAUSE_IMAGE" "$dir" >/dev/null
	} || rc=1
	rm -rf "$dir"
	((rc == 0)) || return 1
	load_image "$PAUSE_IMAGE"
}

start_kubelet() {
	mkdir -p "$E2E_STATE/kubelet" || return 1
	cat >"$E2E_STATE/kubelet/config.yaml" <<-EOF || return 1
	apiVersion: kubelet.config.k8s.io/v1beta1
	kind: KubeletConfiguration
	# cgroup v1 (hybrid layout) and no systemd: plain cgroupfs. 1.34 still
	# runs on cgroup v1 by default; say so explicitly for when the pin moves.
	cgroupDriver: cgroupfs
	failCgroupV1: false
	failSwapOn: false
	containerRuntimeEndpoint: unix://$CTR_SOCK
	address: $NODE_IP
	healthzBindAddress: 127.0.0.1
	readOnlyPort: 0
	authentication:
	  anonymous: {enabled: false}
	  webhook: {enabled: false}
	  x509: {clientCAFile: $PKI/ca.crt}
	# A test node: anyone holding a certificate from the test CA may use it.
	authorization: {mode: AlwaysAllow}
	# The test disk may be small or full of other builds: never evict pods
	# or collect the images the harness loaded (they cannot be pulled back).
	evictionHard: {memory.available: 100Mi, nodefs.available: 1%, imagefs.available: 1%, nodefs.inodesFree: 1%}
	imageGCHighThresholdPercent: 100
	imageGCLowThresholdPercent: 99
	# Pods resolve Service names through CoreDNS on the node IP.
	clusterDNS: [$NODE_IP]
	clusterDomain: $CLUSTER_DOMAIN
	# Faster status and metrics for the HPA step.
	nodeStatusUpdateFrequency: 4s
	serializeImagePulls: false
	EOF
	start_proc kubelet "$K8S_BIN/kubelet" \
		--config "$E2E_STATE/kubelet/config.yaml" \
		--kubeconfig "$PKI/kubelet.kubeconfig" \
		--root-dir "$E2E_STATE/kubelet/root" --cert-dir "$E2E_STATE/kubelet/pki" \
		--hostname-override "$NODE_NAME" --node-ip "$NODE_IP" \
		--pod-infra-container-image "$PAUSE_IMAGE" || return 1
	wait_proc 120 kubelet node_ready
}

node_ready() {
	[[ $(kc get node "$NODE_NAME" -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}') == True ]]
}

start_kube_proxy() {
	mkdir -p "$E2E_STATE/kube-proxy" || return 1
	cat >"$E2E_STATE/kube-proxy/config.yaml" <<-EOF || return 1
	apiVersion: kubeproxy.config.k8s.io/v1alpha1
	kind: KubeProxyConfiguration
	mode: iptables
	clientConnection: {kubeconfig: $PKI/kube-proxy.kubeconfig}
	hostnameOverride: $NODE_NAME
	clusterCIDR: $POD_CIDR
	bindAddress: 127.0.0.1
	healthzBindAddress: 127.0.0.1:10256
	metricsBindAddress: 127.0.0.1:10249
	# NodePorts answer on the bridge address and on 127.0.0.1 only.
	nodePortAddresses: ["$NODE_IP/32", "127.0.0.1/32"]
	# Leave the host's conntrack table size alone (local-up-cluster does too).
	conntrack: {maxPerCore: 0}
	EOF
	start_proc kube-proxy "$K8S_BIN/kube-proxy" --config "$E2E_STATE/kube-proxy/config.yaml" || return 1
	wait_proc 60 kube-proxy curl -fsS http://127.0.0.1:10256/healthz
}

start_metrics_server() {
	mkdir -p "$E2E_STATE/metrics-server" || return 1
	# A host process, reached by the aggregator through a selector-less
	# Service whose endpoint is the bridge address (endpoints cannot be
	# loopback addresses).
	start_proc metrics-server "$MS_BIN/metrics-server" \
		--kubeconfig "$KUBECONFIG_ADMIN" \
		--authentication-kubeconfig "$KUBECONFIG_ADMIN" \
		--authorization-kubeconfig "$KUBECONFIG_ADMIN" \
		--bind-address "$NODE_IP" --secure-port 4443 \
		--cert-dir "$E2E_STATE/metrics-server" \
		--kubelet-insecure-tls --kubelet-preferred-address-types InternalIP \
		--kubelet-use-node-status-port --metric-resolution 15s || return 1
	kc apply -f - >/dev/null <<-EOF || return 1
	apiVersion: v1
	kind: Service
	metadata: {name: metrics-server, namespace: kube-system}
	spec:
	  ports: [{name: https, port: 443, targetPort: 4443}]
	---
	apiVersion: discovery.k8s.io/v1
	kind: EndpointSlice
	metadata:
	  name: metrics-server-host
	  namespace: kube-system
	  labels: {kubernetes.io/service-name: metrics-server}
	addressType: IPv4
	endpoints: [{addresses: ["$NODE_IP"]}]
	ports: [{name: https, port: 4443, protocol: TCP}]
	---
	apiVersion: apiregistration.k8s.io/v1
	kind: APIService
	metadata: {name: v1beta1.metrics.k8s.io}
	spec:
	  service: {name: metrics-server, namespace: kube-system, port: 443}
	  group: metrics.k8s.io
	  version: v1beta1
	  insecureSkipTLSVerify: true
	  groupPriorityMinimum: 100
	  versionPriority: 100
	EOF
	wait_proc 120 metrics-server kc get --raw /apis/metrics.k8s.io/v1beta1/nodes/"$NODE_NAME"
}

main() {
	[[ $(id -u) == 0 ]] || die "must run as root (it starts a kubelet and changes iptables)"
	if [[ -f $E2E_RUN/pids/order ]]; then
		die "a cluster is already up ($E2E_RUN/pids); run tests/e2e/cluster-down.sh first"
	fi
	# The build first: it needs only Go, and a broken build should fail the
	# run before anything is installed or started.
	timed "build components" "$here/build-k8s.sh"
	timed "host packages" install_host_packages
	mkdir -p "$E2E_STATE" "$LOGS" "$E2E_RUN/pids"
	timed "network: bridge $BRIDGE, CNI config, forward rules" setup_network
	timed "certificates and kubeconfigs" make_pki
	timed "etcd" start_etcd
	timed "kube-apiserver" start_apiserver
	timed "kube-controller-manager and kube-scheduler" start_controllers
	timed "coredns (cluster DNS on $NODE_IP:53)" start_coredns
	timed "containerd" start_containerd
	timed "pause image" load_pause_image
	timed "kubelet: node Ready" start_kubelet
	timed "kube-proxy" start_kube_proxy
	timed "metrics-server and its APIService" start_metrics_server
	log "cluster up: export KUBECONFIG=$KUBECONFIG_ADMIN (kubectl: $K8S_BIN/kubectl)"
}

main "$@"
