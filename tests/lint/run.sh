#!/bin/bash
# Checks on the project's own shell scripts, one check per script:
# - each parses (bash -n, or sh -n for #!/bin/sh scripts);
# - a script that sets pipefail pipes nothing into grep -q (or -l), which is
#   only ever run for its status: grep exits at the first match, possibly
#   before the writer has written everything; the writer then dies of
#   SIGPIPE and pipefail turns the match into a failure (or, under !, a
#   failure into a pass). CI failed on exactly
#   this (tests/s3/store.sh, store-13). Read from <(cmd), a file or
#   "$(cmd)" instead.
# Closes with "N passed, N failed".
set -u
cd "$(dirname "$0")/../.." || exit 1
passed=0 failed=0
check() { # description, then a command whose status decides
    local what=$1
    shift
    if "$@"; then
        passed=$((passed + 1))
    else
        echo "FAIL $what"
        failed=$((failed + 1))
    fi
}
pipes_into_grep_q() { # file -> prints offending lines, status 0 if none
    ! grep -nE '\|[[:space:]]*grep[[:space:]]+-[a-zA-Z]*[ql]' "$1" |
        grep -v '^[0-9]*:[[:space:]]*#'
}
scripts=$(git ls-files '*.sh' .ci/run)
for f in $scripts; do
    shell=bash
    head -n 1 "$f" | grep '^#!/bin/sh' >/dev/null && shell=sh
    check "$f does not parse ($shell -n)" "$shell" -n "$f"
    if grep -qE '^[[:space:]]*set .*pipefail' "$f"; then
        check "$f sets pipefail and pipes into grep -q (lines above)" \
            pipes_into_grep_q "$f"
    fi
done
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
