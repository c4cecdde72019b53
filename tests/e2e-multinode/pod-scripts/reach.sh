#!/bin/sh
# Run in a pod: can it open a connection to URL within SECONDS? Tries once
# a second; prints "reached HTTP nnn" at the first answer, or "blocked
# (curl exit N)" if none came; exits 0 either way, 2 on a DNS failure (which
# would prove nothing about a NetworkPolicy). The policy controller adds a
# new pod's address to its allowed set a moment after the pod starts, so an
# allowed pod may be refused at first; a denied one must stay refused.
# A denial by the pod's own egress policy starts only once the controller
# has programmed the new pod (kube-router: a few seconds), so such a test
# passes WAIT seconds first: before that, no policy applies to the pod yet.
# Usage: reach.sh URL SECONDS [WAIT]
url=$1 secs=${2:-15} wait=${3:-0}
sleep "$wait"
end=$(($(date +%s) + secs))
while :; do
	code=$(curl -s -o /dev/null -w '%{http_code}' --connect-timeout 3 --max-time 5 "$url")
	rc=$?
	case $rc in
	0) echo "reached HTTP $code after $((secs - (end - $(date +%s))))s"; exit 0 ;;
	6) echo "DNS failure (curl exit 6)"; exit 2 ;;
	esac
	[ "$(date +%s)" -lt "$end" ] || break
	sleep 1
done
echo "blocked (curl exit $rc) for ${secs}s"
