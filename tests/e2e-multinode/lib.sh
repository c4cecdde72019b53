# shellcheck shell=bash disable=SC2034 # settings used by the scripts that source it
# Settings for the multi-node e2e (tests/e2e-multinode); sourced after
# tests/e2e/lib.sh, never run.
#
# Pins. kind v0.33.0 is the newest release on the Go module proxy; it still
# creates v1.34 clusters on a cgroup v1 host (its node images stopped testing
# cgroup v1 with 1.35, not the tool). kube-router v2.1.0 is the only release
# the proxy serves; security flaws are reported for it: it runs here only as
# the NetworkPolicy enforcer of a throw-away test cluster, never in k8s/.
: "${KIND_VERSION:=v0.33.0}"
: "${KUBE_ROUTER_VERSION:=v2.1.0}"
: "${SEAWEEDFS_VERSION:=v0.0.0-20261109003541-7506e5f91cd6}"
: "${MN_CLUSTER:=mini-ml-mn}"
# The multi-node run's own state (kubeconfig, logs); removed by teardown.
: "${MN_STATE:=/var/lib/mini-ml-e2e-multinode}"

KIND_BIN="$E2E_CACHE/bin/kind-$KIND_VERSION"
KUBEADM_BIN="$E2E_CACHE/bin/kubeadm-$K8S_VERSION"
KUBE_ROUTER_BIN="$E2E_CACHE/bin/kube-router-$KUBE_ROUTER_VERSION"
SEAWEEDFS_BIN="$E2E_CACHE/bin/seaweedfs-$SEAWEEDFS_VERSION"
MN_KUBECONFIG="$MN_STATE/kubeconfig"
# The Debian base every local image starts from (scripts/base-image.sh).
BASE_IMAGE=debian:12.11-slim
# Image names. Control-plane images carry the names kubeadm asks for
# (registry.k8s.io/...), with etcd's and CoreDNS's tags set to the versions
# really built (kubeadmConfigPatches in kind-config.yaml).
NODE_IMAGE_REPO=mini-ml-e2e/kind-node
KUBE_ROUTER_IMAGE=docker.io/mini-ml-e2e/kube-router:$KUBE_ROUTER_VERSION
SEAWEEDFS_IMAGE=docker.io/mini-ml/seaweedfs:${SEAWEEDFS_VERSION##*-}
# The pod network kind assigns per node (kubeadm's --pod-network-cidr).
MN_POD_SUBNET=10.244.0.0/16
MN_SERVICE_SUBNET=10.96.0.0/16

mkc() { "$K8S_BIN/kubectl" --kubeconfig "$MN_KUBECONFIG" "$@"; }
# kind, with tests/e2e-multinode/shim/docker as the `docker` it runs: that
# turns `docker run/exec --privileged` into what this host allows.
MN_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
kind() { PATH="$MN_DIR/shim:$PATH" "$KIND_BIN/kind" "$@"; }
CURL_IMAGE=docker.io/mini-ml-e2e/curl:1
