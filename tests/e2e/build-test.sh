#!/usr/bin/env bash
# Tests of the e2e build helper (tests/e2e/build-k8s.sh) with a fake `go`
# on the PATH: a build that fails, one that "succeeds" without writing its
# binaries, and one whose binaries do not run must each make `make e2e` fail
# and leave no .done stamp; a build that works stamps every component, and a
# second run trusts the stamps and calls go no more. The same for
# tests/s3/build-seaweedfs.sh, which shares the helpers (build-lib.sh).
#
#   tests/e2e/build-test.sh        (make e2e-build-test; as root, like make e2e)
#
# Everything lives in a temporary directory: its own E2E_CACHE, E2E_STATE and
# E2E_RUN, so the real cache and any real cluster are never touched. Nothing
# is downloaded and no cluster starts (the build fails before that). It takes
# a few seconds. Closes with "N passed, N failed".
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
tmp=$(mktemp -d "${TMPDIR:-/tmp}/e2e-build-test.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
passed=0
failed=0

check() {
	local name=$1
	shift
	if "$@"; then
		passed=$((passed + 1))
		echo "ok   $name"
	else
		failed=$((failed + 1))
		echo "FAIL $name"
		[[ -f $tmp/out ]] && tail -n 15 "$tmp/out" | sed 's/^/     | /'
	fi
}

# The fake go. FAKE_GO_MODE says what `go build` and `go install` do:
#   fail    print a compiler error and exit 1 (the heredoc bug of issue 9)
#   silent  exit 0 and write nothing
#   broken  write binaries that exit 1 without a word
#   ok      write binaries that print a version
# `go mod download -json` answers with a go.mod that has the replace lines
# build-k8s.sh looks for. Every call is logged to $FAKE_GO_LOG.
mkdir -p "$tmp/fakebin"
cat >"$tmp/fakebin/go" <<'EOF'
#!/usr/bin/env bash
echo "go $*" >>"$FAKE_GO_LOG"
write_bin() {
	mkdir -p "$(dirname "$1")"
	if [[ $FAKE_GO_MODE == ok ]]; then
		printf '#!/bin/sh\necho "%s fake version"\n' "$(basename "$1")" >"$1"
	else
		printf '#!/bin/sh\nexit 1\n' >"$1"
	fi
	chmod +x "$1"
}
case "$1 $2" in
"mod download")
	mkdir -p "$FAKE_GO_DIR"
	printf 'module fake\nreplace (\n\tk8s.io/api => ./staging/src/k8s.io/api\n\tgo.etcd.io/etcd/api/v3 => ../api\n)\nreplace example.com/a => example.com/b v1.0.0\n' >"$FAKE_GO_DIR/go.mod"
	printf '{\n\t"Path": "%s",\n\t"GoMod": "%s",\n}\n' "${3%@*}" "$FAKE_GO_DIR/go.mod"
	exit 0 ;;
esac
case $FAKE_GO_MODE in
fail)
	echo "./main.go:10:7: syntax error: unexpected name v at end of statement" >&2
	exit 1 ;;
silent) exit 0 ;;
esac
# broken and ok: write what the command names.
if [[ $1 == install ]]; then
	pkg=${*: -1}
	pkg=${pkg%@*}
	write_bin "$GOBIN/${pkg##*/}"
	exit 0
fi
out="" pkgs=()
shift
while (($#)); do
	case $1 in
	-o) out=$2; shift 2 ;;
	-ldflags) shift 2 ;;
	-*) shift ;;
	*) pkgs+=("$1"); shift ;;
	esac
done
if [[ $out == */ ]]; then
	for p in "${pkgs[@]}"; do write_bin "$out${p##*/}"; done
else
	write_bin "$out"
fi
EOF
chmod +x "$tmp/fakebin/go"

# run_with MODE CMD...: CMD with the fake go first on the PATH and its own
# cache and state directories; output in $tmp/out.
run_with() {
	local mode=$1
	shift
	rm -rf "$tmp/cache" "$tmp/state" "$tmp/run"
	: >"$tmp/go.log"
	PATH="$tmp/fakebin:$PATH" FAKE_GO_MODE=$mode FAKE_GO_LOG="$tmp/go.log" \
		FAKE_GO_DIR="$tmp/gomod" E2E_CACHE="$tmp/cache" E2E_STATE="$tmp/state" \
		E2E_RUN="$tmp/run" "$@" >"$tmp/out" 2>&1
}

no_stamp() { [[ -z $(find "$tmp/cache" -name .done 2>/dev/null) ]]; }
said() { grep -q -- "$1" "$tmp/out"; }
stamps() { [[ $(find "$tmp/cache/bin" -name .done | wc -l) == "$1" ]]; }

for mode in fail silent broken; do
	run_with "$mode" make -s -C "$repo" e2e
	rc=$?
	check "$mode: make e2e fails (exit $rc)" test "$rc" != 0
	check "$mode: the build step is reported FAILED, not ok" said 'step: build etcd .*: FAILED'
	check "$mode: the run closes with a failed check" said '^[0-9]* passed, [1-9][0-9]* failed$'
	check "$mode: no .done stamp is left" no_stamp
done
run_with fail make -s -C "$repo" e2e
check "fail: the compiler's message is shown" said 'syntax error: unexpected name v'
run_with silent make -s -C "$repo" e2e
check "silent: the missing binary is named" said 'build produced no .*/etcd'
run_with broken make -s -C "$repo" e2e
check "broken: the binary that does not run is named" said 'etcd does not run'

# The control: with a go that works, every component is stamped, and a second
# run trusts the stamps (go is not called again).
run_with ok "$here/build-k8s.sh"
rc=$?
check "ok: build-k8s.sh succeeds (exit $rc)" test "$rc" == 0
check "ok: etcd, metrics-server, kubernetes, crictl and coredns are stamped" stamps 5
check "ok: all six Kubernetes commands were built" \
	test "$(find "$tmp/cache/bin" -path '*kubernetes-*' -type f -perm -u+x | wc -l)" == 6
# Same cache, a go that would fail: only the stamps can make this pass.
: >"$tmp/go.log"
PATH="$tmp/fakebin:$PATH" FAKE_GO_MODE=fail FAKE_GO_LOG="$tmp/go.log" \
	FAKE_GO_DIR="$tmp/gomod" E2E_CACHE="$tmp/cache" "$here/build-k8s.sh" >"$tmp/out" 2>&1
rc=$?
check "ok: a second run with the stamps in place succeeds (exit $rc)" test "$rc" == 0
check "ok: ... without calling go" test ! -s "$tmp/go.log"
check "ok: ... and reports each step ok" test "$(grep -c 'step: build .*: ok' "$tmp/out")" == 5

# A stamp the old harness wrote (an empty `touch`, possibly after a failed
# build) is not trusted, and neither is a stamp whose binary has gone.
rm -f "$tmp"/cache/bin/etcd-*/etcd
: >"$(echo "$tmp"/cache/bin/crictl-*)/.done"
: >"$tmp/go.log"
PATH="$tmp/fakebin:$PATH" FAKE_GO_MODE=ok FAKE_GO_LOG="$tmp/go.log" \
	FAKE_GO_DIR="$tmp/gomod" E2E_CACHE="$tmp/cache" "$here/build-k8s.sh" >"$tmp/out" 2>&1
rc=$?
check "stale: a run after a binary was deleted and an old-style stamp succeeds (exit $rc)" \
	test "$rc" == 0
check "stale: etcd, whose binary was gone, is rebuilt" grep -q 'go build.*-o .*/etcd' "$tmp/go.log"
check "stale: crictl, whose stamp was empty, is rebuilt" grep -q 'go install.*crictl' "$tmp/go.log"
check "stale: kubernetes and metrics-server are not" \
	test "$(grep -c 'kube-apiserver\|metrics-server' "$tmp/go.log")" == 0
check "stale: every component is stamped again" stamps 5

# tests/s3/build-seaweedfs.sh uses the same helpers: a failing build fails
# the script and stamps nothing; a working one stamps weed, whose wrapper
# module repeats the module's own replace; a second run calls go no more.
for mode in fail silent broken; do
	run_with "$mode" "$repo/tests/s3/build-seaweedfs.sh"
	rc=$?
	check "seaweedfs $mode: build-seaweedfs.sh fails (exit $rc)" test "$rc" != 0
	check "seaweedfs $mode: no .done stamp is left" no_stamp
done
run_with ok "$repo/tests/s3/build-seaweedfs.sh"
rc=$?
check "seaweedfs ok: build-seaweedfs.sh succeeds (exit $rc)" test "$rc" == 0
check "seaweedfs ok: weed is stamped" test -x "$(tail -n 1 "$tmp/out")/weed" -a \
	-f "$(tail -n 1 "$tmp/out")/.done"
check "seaweedfs ok: the wrapper module repeats the replace" \
	grep -q '^replace example.com/a => example.com/b v1.0.0$' "$tmp"/cache/src/seaweedfs-*/go.mod
: >"$tmp/go.log"
PATH="$tmp/fakebin:$PATH" FAKE_GO_MODE=fail FAKE_GO_LOG="$tmp/go.log" \
	FAKE_GO_DIR="$tmp/gomod" E2E_CACHE="$tmp/cache" "$repo/tests/s3/build-seaweedfs.sh" >"$tmp/out" 2>&1
rc=$?
check "seaweedfs ok: a second run succeeds (exit $rc) without calling go" \
	test "$rc" == 0 -a ! -s "$tmp/go.log"

echo "$passed passed, $failed failed"
((failed == 0))
