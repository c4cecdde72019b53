#!/bin/sh
# Offline checks of everything under k8s/ (make manifest-test):
#   - one object per file, and every file listed in its kustomization.yaml;
#   - the base and each example render (kubectl kustomize, or kustomize);
#   - the rendered objects pass tests/manifests/k8scheck (strict schemas of
#     Kubernetes 1.34, the restricted Pod Security Standard, labels, requests).
# The checker is built with Go from the module proxy on first use.
# Prints "N passed, N failed" last; exits 1 when anything failed.
set -u
cd "$(dirname "$0")/../.." || exit 1
passed=0
failed=0
OUT=$(mktemp -d "${TMPDIR:-/tmp}/manifests.XXXXXX")
trap 'rm -rf "$OUT"' EXIT

test_cond() {
    if [ "$2" = 0 ]; then
        passed=$((passed + 1))
    else
        failed=$((failed + 1))
        echo "FAIL $1"
        [ -n "${3:-}" ] && [ -s "$3" ] && sed 's/^/     | /' "$3" | tail -n 20
    fi
}

if command -v kubectl >/dev/null 2>&1; then
    render() { kubectl kustomize "$1"; }
elif command -v kustomize >/dev/null 2>&1; then
    render() { kustomize build "$1"; }
else
    echo "manifests: error: neither kubectl nor kustomize is installed" >&2
    exit 1
fi

# One object per file; each file of a kustomization directory is listed in it.
for f in $(find k8s -name '*.yaml' ! -name kustomization.yaml | sort); do
    n=$(grep -c '^kind:' "$f")
    [ "$n" = 1 ]
    test_cond "$f holds one object (has $n)" $?
    k="$(dirname "$f")/kustomization.yaml"
    if [ -f "$k" ]; then
        grep -q "^  - $(basename "$f")\$" "$k"
        test_cond "$f is listed in $k" $?
    fi
done

# Render: the kustomizations, and the example Jobs applied with -f.
: >"$OUT/all.yaml"
for k in $(find k8s -name kustomization.yaml | sort); do
    d=$(dirname "$k")
    render "$d" >"$OUT/one.yaml" 2>&1
    test_cond "kustomize renders $d" $? "$OUT/one.yaml"
    { echo "---"; cat "$OUT/one.yaml"; } >>"$OUT/all.yaml"
done
for f in k8s/examples/parallel-training/*.yaml; do
    { echo "---"; cat "$f"; } >>"$OUT/all.yaml"
done
objects=$(grep -c '^kind:' "$OUT/all.yaml")
echo "manifests: $objects objects rendered"

# The checker: Go, built once into build/.
if [ ! -x build/k8scheck ] || [ -n "$(find tests/manifests/k8scheck -newer build/k8scheck -type f)" ]; then
    mkdir -p build
    (cd tests/manifests/k8scheck && go build -o ../../../build/k8scheck .) >"$OUT/go.log" 2>&1
    test_cond "build tests/manifests/k8scheck" $? "$OUT/go.log"
fi
if [ -x build/k8scheck ]; then
    build/k8scheck <"$OUT/all.yaml" >"$OUT/check.log" 2>&1
    rc=$?
    grep '^FAIL' "$OUT/check.log"
    p=$(sed -n 's/^\([0-9]*\) passed, \([0-9]*\) failed$/\1/p' "$OUT/check.log")
    f=$(sed -n 's/^\([0-9]*\) passed, \([0-9]*\) failed$/\2/p' "$OUT/check.log")
    passed=$((passed + ${p:-0}))
    failed=$((failed + ${f:-0}))
    [ -n "$p" ] || test_cond "k8scheck ran" 1 "$OUT/check.log"
    [ "$rc" = 0 ] || [ "${f:-0}" != 0 ] || test_cond "k8scheck exit status" 1 "$OUT/check.log"
fi

echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
