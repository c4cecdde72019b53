#!/bin/sh
# Run in a pod: can it open a connection to URL? Prints "reached HTTP nnn"
# or "blocked (curl exit N)"; exits 0 either way, 2 on a DNS failure (which
# would prove nothing about a NetworkPolicy). Usage: reach.sh URL
url=$1
code=$(curl -s -o /dev/null -w '%{http_code}' --connect-timeout 5 --max-time 10 "$url")
rc=$?
case $rc in
0) echo "reached HTTP $code" ;;
6) echo "DNS failure (curl exit 6)"; exit 2 ;;
*) echo "blocked (curl exit $rc)" ;;
esac
