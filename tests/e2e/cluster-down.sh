#!/usr/bin/env bash
# Stop the e2e cluster and remove everything cluster-up.sh created.
#
#   tests/e2e/cluster-down.sh
#
# Safe to run twice, or after a cluster-up that failed halfway: each step
# checks what exists. Processes are stopped by the pids cluster-up.sh
# recorded, in reverse start order; nothing is matched by name. The logs are
# kept in $E2E_CACHE/logs/last-run for a look after the fact.
# No -e: teardown goes on past a step that fails, to remove all it can.
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/e2e/lib.sh
. "$here/lib.sh"

CTR_SOCK="$E2E_RUN/containerd.sock"
PIDS="$E2E_RUN/pids"

# stop_proc NAME: TERM the recorded process group, KILL it after 15 s.
stop_proc() {
	local pidfile="$PIDS/$1" pid i
	[[ -f $pidfile ]] || return 0
	pid=$(cat "$pidfile")
	if kill -0 "$pid" 2>/dev/null; then
		# start_proc used setsid, so the pid is also the process group id.
		kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null
		for i in $(seq 30); do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.5
		done
		kill -KILL -- "-$pid" 2>/dev/null || true
	fi
	rm -f "$pidfile"
}

running() { [[ -f $PIDS/$1 ]] && kill -0 "$(cat "$PIDS/$1")" 2>/dev/null; }

# Pods first, while containerd still runs, through the CRI: it stops the
# containers and calls the CNI plugins to remove veths, addresses and
# network namespaces. The kubelet goes first so it restarts none of them
# (deleting namespaces through the API instead takes 30 s more).
remove_pods() {
	stop_proc kubelet
	if running containerd; then
		"$CRICTL_BIN/crictl" --runtime-endpoint "unix://$CTR_SOCK" rmp -af >/dev/null 2>&1 || true
	fi
}

stop_containerd() {
	stop_proc containerd
	# Each container's shim runs in its own session and outlives containerd;
	# find the ones started for our socket, and only those.
	local f pid
	for f in /proc/[0-9]*/cmdline; do
		pid=${f#/proc/}
		pid=${pid%/cmdline}
		[[ $(readlink "/proc/$pid/exe" 2>/dev/null) == */containerd-shim* ]] || continue
		grep -qF -- "$CTR_SOCK" "$f" 2>/dev/null && kill -KILL "$pid" 2>/dev/null
	done
	return 0
}

# Unmount whatever the kubelet and containerd left under our directories,
# deepest first.
unmount_all() {
	local m
	for m in $(awk -v a="$E2E_STATE" -v b="$E2E_RUN" '$2 ~ "^"a || $2 ~ "^"b {print $2}' /proc/mounts | sort -r); do
		umount -l "$m" 2>/dev/null || true
	done
}

# The kubelet creates kubepods/ in each cgroup v1 hierarchy; remove the
# empty directories left behind (rmdir never removes a busy cgroup).
remove_cgroups() {
	local d
	for d in /sys/fs/cgroup/*/kubepods /sys/fs/cgroup/*/kubepods.slice; do
		[[ -d $d ]] || continue
		find "$d" -depth -type d -exec rmdir {} \; 2>/dev/null || true
	done
}

# The kubelet writes its own chains (KUBE-FIREWALL, the canaries that tell
# it a firewall reload happened) that kube-proxy --cleanup leaves alone.
remove_kubelet_chains() {
	local ipt table chain hook
	for ipt in iptables ip6tables; do
		for table in filter nat mangle; do
			for hook in INPUT OUTPUT; do
				while "$ipt" -t "$table" -D "$hook" -j KUBE-FIREWALL 2>/dev/null; do :; done
			done
			for chain in KUBE-FIREWALL KUBE-KUBELET-CANARY KUBE-IPTABLES-HINT; do
				"$ipt" -t "$table" -F "$chain" 2>/dev/null && "$ipt" -t "$table" -X "$chain" 2>/dev/null
			done
		done
	done
	return 0
}

cleanup_network() {
	if [[ -x $K8S_BIN/kube-proxy ]]; then
		# Removes the KUBE-* chains and rules that kube-proxy wrote.
		"$K8S_BIN/kube-proxy" --cleanup >/dev/null 2>&1 || true
	fi
	remove_kubelet_chains
	local dir
	for dir in -i -o; do
		while iptables -D FORWARD "$dir" "$BRIDGE" -m comment --comment mini-ml-e2e -j ACCEPT 2>/dev/null; do :; done
	done
	ip link del "$BRIDGE" 2>/dev/null || true
	# libcni caches results in /var/lib/cni whatever the config says; drop
	# our network's entries and the directories if nothing else uses them.
	rm -f /var/lib/cni/results/mini-ml-e2e-*
	rmdir /var/lib/cni/results /var/lib/cni 2>/dev/null || true
	if [[ -f $E2E_STATE/sysctls.saved ]]; then
		local line
		while IFS= read -r line; do
			[[ $line == *= ]] && continue
			sysctl -qw "$line" 2>/dev/null || true
		done <"$E2E_STATE/sysctls.saved"
	fi
}

stop_control_plane() {
	local name
	for name in kube-scheduler kube-controller-manager kube-apiserver etcd; do
		stop_proc "$name"
	done
}

main() {
	[[ -d $E2E_STATE || -d $E2E_RUN ]] || {
		log "nothing to tear down"
		return 0
	}
	timed "remove pods" remove_pods
	local name
	for name in metrics-server coredns kube-proxy; do
		stop_proc "$name"
	done
	timed "stop containerd" stop_containerd
	timed "stop control plane" stop_control_plane
	unmount_all
	remove_cgroups
	timed "network cleanup" cleanup_network
	if [[ -d $E2E_STATE/logs ]]; then
		rm -rf "$E2E_CACHE/logs/last-run"
		mkdir -p "$E2E_CACHE/logs"
		cp -r "$E2E_STATE/logs" "$E2E_CACHE/logs/last-run"
	fi
	rm -rf "$E2E_STATE" "$E2E_RUN"
	# Images the harness built in Docker only to hand them to containerd.
	# The load generator's busybox tag only if it is ours (a laptop may
	# have pulled the real one).
	local smoke_id
	smoke_id=$(docker image inspect -f '{{.Id}}' "$SMOKE_IMAGE" 2>/dev/null || true)
	if [[ -n $smoke_id && $(docker image inspect -f '{{.Id}}' "$LOAD_IMAGE" 2>/dev/null) == "$smoke_id" ]]; then
		docker rmi "$LOAD_IMAGE" >/dev/null 2>&1 || true
	fi
	docker rmi -f "$PAUSE_IMAGE" "$SMOKE_IMAGE" >/dev/null 2>&1 || true
	log "cluster down (logs kept in $E2E_CACHE/logs/last-run)"
}

main "$@"
