#!/bin/sh
# The monitoring overlay's Prometheus files, offline (part of make test):
#   - promtool check config: overlays/monitoring/prometheus/prometheus.yml
#     (and the rule file it loads);
#   - promtool check rules: alerts.yml;
#   - promtool test rules: alerts-test.yml, each alert provoked and quiet;
#   - every alert of alerts.yml has a unit test;
#   - every forest_serve_* metric the alerts and the ScaledObject's query
#     use is one the server exports (api/*.c), so a renamed metric fails
#     here rather than leaving an alert that can never fire.
# promtool comes from Debian's prometheus package (install-deps.sh test).
# Prints "N passed, N failed" last; exits 1 when anything failed.
set -u
cd "$(dirname "$0")/../.." || exit 1
passed=0
failed=0
out=$(mktemp)
trap 'rm -f "$out"' EXIT
dir=overlays/monitoring/prometheus

check() {
    name=$1
    shift
    if "$@" >"$out" 2>&1; then
        passed=$((passed + 1))
    else
        failed=$((failed + 1))
        echo "FAIL $name"
        sed 's/^/     | /' "$out" | tail -n 30
    fi
}

if ! command -v promtool >/dev/null 2>&1; then
    echo "FAIL promtool is not installed (scripts/install-deps.sh test)"
    echo "0 passed, 1 failed"
    exit 1
fi

check "promtool check config $dir/prometheus.yml" promtool check config "$dir/prometheus.yml"
check "promtool check rules $dir/alerts.yml" promtool check rules "$dir/alerts.yml"
check "promtool test rules tests/monitoring/alerts-test.yml" \
    promtool test rules tests/monitoring/alerts-test.yml

for a in $(sed -n 's/^[[:space:]]*- alert:[[:space:]]*//p' "$dir/alerts.yml"); do
    check "alert $a has a unit test" grep -q "alertname: $a\$" tests/monitoring/alerts-test.yml
done

# As the server prints them: a name, then its labels or its value.
metrics=$(cat "$dir/alerts.yml" overlays/monitoring/scaling/api-scaledobject.yaml |
    grep -o 'forest_serve_[a-z_]*' | sort -u)
for m in $metrics; do
    check "metric $m is exported by forest-serve (api/)" grep -q "\"$m[{ ]" api/stats.c api/drift.c
done

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
