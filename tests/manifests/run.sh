#!/bin/sh
# Offline checks of everything under k8s/ and overlays/ (make manifest-test):
#   - one object per file, and every file listed in its kustomization.yaml;
#   - the base and each example render (kubectl kustomize, or kustomize);
#   - the rendered objects pass tests/manifests/k8scheck: strict decoding
#     into the Kubernetes 1.34 Go types, the OpenAPI schema of each supported
#     minor (SCHEMA_VERSIONS below), the restricted Pod Security Standard,
#     labels, requests;
#   - custom resources (KEDA's ScaledObject) against their CRD, from the
#     KEDA module of the Go module proxy;
#   - k8scheck rejects each broken manifest of tests/manifests/testdata/ with
#     the failures its "# expect:" lines name (and none of "# expect-not:").
# The checker, its modules and each release's k8s.io/kubernetes module (for
# api/openapi-spec/swagger.json) come from the Go module proxy on first use,
# into the e2e harness's module cache, ${E2E_CACHE:-/var/cache/mini-ml-e2e}/gomod
# (or ~/.cache/mini-ml-e2e/gomod when that is not writable).
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
for f in $(find k8s overlays -name '*.yaml' ! -name kustomization.yaml | sort); do
    n=$(grep -c '^kind:' "$f")
    [ "$n" = 1 ]
    test_cond "$f holds one object (has $n)" $?
    k="$(dirname "$f")/kustomization.yaml"
    if [ -f "$k" ]; then
        grep -q "^  - $(basename "$f")\$" "$k"
        test_cond "$f is listed in $k" $?
    fi
done

# Render the kustomizations (k8s/examples/parallel-training has one too).
: >"$OUT/all.yaml"
for k in $(find k8s overlays -name kustomization.yaml | sort); do
    d=$(dirname "$k")
    render "$d" >"$OUT/one.yaml" 2>&1
    test_cond "kustomize renders $d" $? "$OUT/one.yaml"
    { echo "---"; echo "# k8scheck: rendering $d"; echo "---"; cat "$OUT/one.yaml"; } >>"$OUT/all.yaml"
done
objects=$(grep -c '^kind:' "$OUT/all.yaml")
echo "manifests: $objects objects rendered"

# Go modules are downloaded once per machine, shared with tests/e2e (which
# already fetches k8s.io/kubernetes v1.34.4 there). -modcacherw keeps the
# cache removable without chmod; GOTOOLCHAIN=local never fetches a Go.
cache=${E2E_CACHE:-/var/cache/mini-ml-e2e}
if ! mkdir -p "$cache/gomod" 2>/dev/null || [ ! -w "$cache/gomod" ]; then
    cache="${XDG_CACHE_HOME:-$HOME/.cache}/mini-ml-e2e"
    mkdir -p "$cache/gomod"
fi
export GOMODCACHE="$cache/gomod" GOFLAGS=-modcacherw GOTOOLCHAIN=local

# The newest patch of each supported minor (1.31: podFailurePolicy is GA)
# that the module proxy serves: `go list -m -versions k8s.io/kubernetes`.
# The fixtures in testdata/ name some of them.
SCHEMA_VERSIONS="v1.31.14 v1.32.13 v1.33.13 v1.34.4"
schemas=""
for v in $SCHEMA_VERSIONS; do
    (cd "$OUT" && go mod download -json "k8s.io/kubernetes@$v") >"$OUT/dl.json" 2>&1
    dir=$(sed -n 's/^[[:space:]]*"Dir": "\(.*\)",*$/\1/p' "$OUT/dl.json")
    json="$dir/api/openapi-spec/swagger.json"
    [ -n "$dir" ] && [ -s "$json" ]
    test_cond "k8s.io/kubernetes@$v has api/openapi-spec/swagger.json" $? "$OUT/dl.json"
    [ -s "$json" ] && schemas="$schemas -schema $v=$json"
done

# KEDA's ScaledObject (overlays/monitoring) is checked against the CRD of
# the KEDA release the overlay runs: the one tests/monitoring/build-keda.sh
# builds, from the same module.
KEDA_VERSION=${KEDA_VERSION:-v2.21.0}
(cd "$OUT" && go mod download -json "github.com/kedacore/keda/v2@$KEDA_VERSION") >"$OUT/dl.json" 2>&1
dir=$(sed -n 's/^[[:space:]]*"Dir": "\(.*\)",*$/\1/p' "$OUT/dl.json")
crd="$dir/config/crd/bases/keda.sh_scaledobjects.yaml"
[ -n "$dir" ] && [ -s "$crd" ]
test_cond "github.com/kedacore/keda/v2@$KEDA_VERSION has the ScaledObject CRD" $? "$OUT/dl.json"
[ -s "$crd" ] && schemas="$schemas -crd $crd"

# The checker: Go, built once into build/.
if [ ! -x build/k8scheck ] || [ -n "$(find tests/manifests/k8scheck -newer build/k8scheck -type f)" ]; then
    mkdir -p build
    rm -f build/k8scheck
    (cd tests/manifests/k8scheck && go build -o ../../../build/k8scheck .) >"$OUT/go.log" 2>&1
    test_cond "build tests/manifests/k8scheck" $? "$OUT/go.log"
fi
if [ -x build/k8scheck ]; then
    # $schemas is a list of arguments without spaces: split on purpose.
    # shellcheck disable=SC2086
    build/k8scheck $schemas <"$OUT/all.yaml" >"$OUT/check.log" 2>&1
    rc=$?
    grep '^FAIL' "$OUT/check.log"
    p=$(sed -n 's/^\([0-9]*\) passed, \([0-9]*\) failed$/\1/p' "$OUT/check.log")
    f=$(sed -n 's/^\([0-9]*\) passed, \([0-9]*\) failed$/\2/p' "$OUT/check.log")
    passed=$((passed + ${p:-0}))
    failed=$((failed + ${f:-0}))
    [ -n "$p" ] || test_cond "k8scheck ran" 1 "$OUT/check.log"
    [ "$rc" = 0 ] || [ "${f:-0}" != 0 ] || test_cond "k8scheck exit status" 1 "$OUT/check.log"

    # The checker can fail: each fixture is a broken manifest it must reject.
    for t in tests/manifests/testdata/*.yaml; do
        # shellcheck disable=SC2086
        build/k8scheck $schemas <"$t" >"$OUT/fixture.log" 2>&1
        rc=$?
        ok=0
        [ "$rc" = 1 ] || { ok=1; echo "exit status $rc, want 1" >>"$OUT/fixture.log"; }
        sed -n 's/^# expect: //p' "$t" >"$OUT/want"
        sed -n 's/^# expect-not: //p' "$t" >"$OUT/want-not"
        [ -s "$OUT/want" ] || { ok=1; echo "no '# expect:' line in $t" >>"$OUT/fixture.log"; }
        while IFS= read -r w; do
            grep -qF -- "$w" "$OUT/fixture.log" || { ok=1; echo "missing: $w" >>"$OUT/fixture.log"; }
        done <"$OUT/want"
        while IFS= read -r w; do
            ! grep -qF -- "$w" "$OUT/fixture.log" || { ok=1; echo "unexpected: $w" >>"$OUT/fixture.log"; }
        done <"$OUT/want-not"
        test_cond "k8scheck rejects $t as expected" $ok "$OUT/fixture.log"
    done
fi

echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
