# Shared settings and helpers for the e2e harness; sourced, never run.
#
# Pins: Kubernetes 1.34 is the newest release whose kubelet still runs on
# cgroup v1 by default (1.35 sets failCgroupV1: true) and still talks to
# containerd 1.6 (Debian bookworm's); k8s.io/kubernetes v1.34.4 is the newest
# 1.34 the Go module proxy serves here.

: "${E2E_CACHE:=/var/cache/mini-ml-e2e}"
: "${K8S_VERSION:=v1.34.4}"
: "${ETCD_VERSION:=v3.6.6}"
: "${METRICS_SERVER_VERSION:=v0.8.0}"
: "${CRICTL_VERSION:=v1.34.0}"
# The cluster DNS real clusters run (kubeadm, minikube): pods find Services
# by name, as the load generator finds forest-api.
: "${COREDNS_VERSION:=v1.12.4}"
# Everything a running cluster owns: certificates, logs, etcd data, the
# containerd root, pid files. Removed by cluster-down.sh.
: "${E2E_STATE:=/var/lib/mini-ml-e2e}"
: "${E2E_RUN:=/run/mini-ml-e2e}"

K8S_BIN="$E2E_CACHE/bin/kubernetes-$K8S_VERSION"
ETCD_BIN="$E2E_CACHE/bin/etcd-$ETCD_VERSION"
MS_BIN="$E2E_CACHE/bin/metrics-server-$METRICS_SERVER_VERSION"
CRICTL_BIN="$E2E_CACHE/bin/crictl-$CRICTL_VERSION"
COREDNS_BIN="$E2E_CACHE/bin/coredns-$COREDNS_VERSION"
KUBECONFIG_ADMIN="$E2E_STATE/pki/admin.kubeconfig"

# Addresses: host processes listen on 127.0.0.1 or on the address of the
# harness's own bridge e2e-br0 (the node IP: the kubelet refuses a loopback
# one); pods live on that bridge and services on a virtual range that
# kube-proxy rewrites. Nothing is sent to any other address.
BRIDGE=e2e-br0
NODE_NAME=e2e-node
NODE_IP=10.88.0.1
POD_CIDR=10.88.0.0/16
SERVICE_CIDR=10.96.0.0/16
# CoreDNS listens on the node IP, port 53; the kubelet names it to pods.
CLUSTER_DOMAIN=cluster.local
# Built locally from tests/e2e/images/pause.c: no registry to pull from.
PAUSE_IMAGE=docker.io/mini-ml-e2e/pause:1
# Debian's busybox-static in a FROM-scratch image, for the smoke pod.
SMOKE_IMAGE=docker.io/mini-ml-e2e/busybox:1
# The same busybox under the name k8s/examples/load-generator pulls on a
# laptop; here it is loaded, never pulled.
LOAD_IMAGE=docker.io/library/busybox:1.36.1
API_PORT=6443

log() { printf '[e2e %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() {
	log "error: $*"
	exit 1
}

# timed NAME CMD...: run one step, print its name and how long it took.
timed() {
	local name=$1 start rc=0
	shift
	start=$(date +%s)
	log "step: $name"
	"$@" || rc=$?
	log "step: $name: $([[ $rc == 0 ]] && echo ok || echo "FAILED (rc=$rc)") in $(($(date +%s) - start))s"
	return "$rc"
}

# wait_for SECONDS DESCRIPTION CMD...: poll CMD once a second until it succeeds.
wait_for() {
	local secs=$1 deadline=$(($(date +%s) + $1)) what=$2
	shift 2
	until "$@" >/dev/null 2>&1; do
		if (($(date +%s) >= deadline)); then
			log "timed out after ${secs}s waiting for $what; last attempt said:"
			"$@" 2>&1 | tail -n 5 | sed 's/^/  /' >&2 || true
			return 1
		fi
		sleep 1
	done
}

kc() { "$K8S_BIN/kubectl" --kubeconfig "$KUBECONFIG_ADMIN" "$@"; }

# install_packages PKG...: installs the Debian packages not installed yet,
# waiting for dpkg's lock if another apt holds it. Returns 0 or 1. (Read
# whole, then matched: dpkg-query's output is one line.)
install_packages() {
	local missing=() p status
	for p in "$@"; do
		status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
		[[ $status == *"ok installed"* ]] || missing+=("$p")
	done
	((${#missing[@]} == 0)) && return 0
	log "installing ${missing[*]}"
	apt-get -o DPkg::Lock::Timeout=600 update -qq || return 1
	DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 \
		install -y -qq "${missing[@]}" >/dev/null || return 1
}
