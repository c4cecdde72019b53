#!/bin/sh
# Runs the fast test suites and adds up their closing lines "N passed, N
# failed": lint (the shell scripts parse; no pipefail script pipes into
# grep -q), the unit tests (ASan + UBSan build), then tests/<suite>/run.sh for
# cli (forest-train), server (forest-serve), export (forest-train export
# against XGBoost), docs (the README's examples and the OpenAPI document),
# browser (the status page and /docs in headless Chromium) and monitoring
# (the Prometheus configuration and alert rules, promtool).
# The images, manifests and e2e suites are slow and run from their own make
# targets.
# Usage: tests/run.sh [suite...]   e.g. tests/run.sh unit cli
set -u
cd "$(dirname "$0")/.."

suites="${*:-lint unit cli server export docs browser monitoring}"
passed=0 failed=0 broken=""
out=$(mktemp)
trap 'rm -f "$out"' EXIT

for s in $suites; do
    echo "== $s"
    case $s in
    unit) cmd="build/asan/test-unit" ;;
    *) cmd="tests/$s/run.sh" ;;
    esac
    # Sanitizers: stop at the first error, report leaks.
    ASAN_OPTIONS="detect_leaks=1:abort_on_error=0" \
    UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1" \
        $cmd >"$out" 2>&1
    rc=$?
    cat "$out"
    line=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$out" | tail -n 1)
    if [ -z "$line" ]; then
        echo "$s: no closing line (exit $rc)"
        broken="$broken $s"
        continue
    fi
    p=$(echo "$line" | cut -d' ' -f1)
    f=$(echo "$line" | cut -d' ' -f3)
    passed=$((passed + p))
    failed=$((failed + f))
    [ "$rc" -ne 0 ] && [ "$f" -eq 0 ] && broken="$broken $s"
done

[ -n "$broken" ] && echo "suites that crashed or exited non-zero:$broken"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ] && [ -z "$broken" ]
