# shellcheck shell=bash
# The forest-train suites' shared helpers (tests/cli, tests/export). The
# sourcing script sets T (its temporary directory), TRAIN (the binary) and
# passed=0 failed=0.

check() { # check NAME COMMAND...: the command's success is the verdict
    local name=$1
    shift
    if "$@"; then
        passed=$((passed + 1))
        echo "  ok    $name"
    else
        failed=$((failed + 1))
        echo "  FAIL  $name"
        [ -s "$T/err" ] && sed 's/^/        stderr: /' "$T/err" | head -5
    fi
}

run() { # run ARGS...: forest-train with stdout/stderr captured, sets $rc
    "$TRAIN" "$@" >"$T/out" 2>"$T/err"
    rc=$?
}

exits() { [ "$rc" -eq "$1" ]; }
says() { grep -qF -- "$1" "$T/err"; }
