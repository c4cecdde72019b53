# shellcheck shell=sh
# Sourced by the pod scripts that talk to the store (s3-*.sh). A new pod's
# first packets can be refused until the NetworkPolicy enforcer has its
# rules for it, so each waits for the store before its first request.

# store_wait ENDPOINT: polls ENDPOINT/healthz once a second; exits the
# script with status 1 when it has not answered in 30 s. Sets `waited` to
# the seconds it waited.
store_wait() {
	waited=0
	until curl -s -o /dev/null --connect-timeout 2 --max-time 5 "$1/healthz"; do
		waited=$((waited + 1))
		[ "$waited" -lt 30 ] || {
			echo "store $1 unreachable for 30 s"
			exit 1
		}
		sleep 1
	done
}
