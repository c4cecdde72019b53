# Helpers to build Go programs from the Go module proxy into a cache with
# trusted .done stamps; sourced (after lib.sh, for log), never run. Used by
# tests/e2e/build-k8s.sh and tests/s3/build-seaweedfs.sh.
#
# Error contract: every function returns non-zero on the first command that
# fails, explicitly (`|| return 1`): callers run them through `timed`, in an
# `||` context where bash ignores `set -e`.

# wrapper_module DIR MODULE VERSION [REPLACES...]
# Writes a go.mod that requires MODULE@VERSION. Modules like k8s.io/kubernetes
# and go.etcd.io/etcd/server/v3 replace their siblings with local paths, which
# `go install pkg@version` refuses (golang/go#44840); a wrapper module that
# replaces each of them with its published version builds the same code.
wrapper_module() {
	local dir=$1 module=$2 version=$3
	shift 3
	mkdir -p "$dir" || return 1
	{
		echo "module mini-ml.local/e2e-wrapper"
		echo
		echo "go 1.24.0"
		echo
		echo "require $module $version"
		local r
		for r in "$@"; do
			echo "replace $r"
		done
	} >"$dir/go.mod.new" || return 1
	# Keep the resolved go.mod/go.sum of an earlier run unless the pins changed.
	if ! cmp -s "$dir/go.mod.new" "$dir/go.mod.pins" 2>/dev/null; then
		cp "$dir/go.mod.new" "$dir/go.mod" || return 1
		cp "$dir/go.mod.new" "$dir/go.mod.pins" || return 1
		rm -f "$dir/go.sum" || return 1
	fi
	rm -f "$dir/go.mod.new"
}

# module_gomod MODULE VERSION: path of that release's own go.mod in the cache.
# Fails when the download fails or names no go.mod.
module_gomod() {
	local json path
	json=$(go mod download -json "$1@$2") || return 1
	path=$(sed -n 's/^[[:space:]]*"GoMod": "\(.*\)",$/\1/p' <<<"$json")
	[[ -n $path && -f $path ]] || {
		log "go mod download $1@$2 named no go.mod"
		return 1
	}
	echo "$path"
}

# The first line of every .done stamp. Stamps without it were written by
# the harness before its builds were checked (an empty `touch`), possibly
# after a failed build, and are not trusted.
STAMP_FORMAT="mini-ml-e2e build stamp 2"

# is_built DIR BINARY...: DIR holds a stamp of this format and every BINARY
# is still there and executable. Returns 1 otherwise (the caller rebuilds;
# Go's build cache makes a rebuild of an intact build quick).
is_built() {
	local dir=$1 bin
	shift
	[[ -f $dir/.done && $(head -n 1 "$dir/.done") == "$STAMP_FORMAT" ]] || return 1
	for bin in "$@"; do
		[[ -x $dir/$bin ]] || return 1
	done
}

# stamp_done DIR BINARY...: write DIR/.done once every BINARY in DIR exists,
# is executable and prints a version. A binary named "kubectl" is asked with
# `version --client`, "weed" (SeaweedFS) and "kind" with `version`,
# "kubeadm" with `version -o short`, every other with `--version`; KEDA's
# "keda" and "keda-adapter" have no version flag (they start and look for
# a cluster), so `go version -m` reads the module version built into them. Returns
# 1, writing no stamp, otherwise.
stamp_done() {
	local dir=$1 bin out
	shift
	for bin in "$@"; do
		[[ -x $dir/$bin ]] || {
			log "build produced no $dir/$bin"
			return 1
		}
		case $bin in
		kubectl) out=$("$dir/$bin" version --client 2>&1) || out="" ;;
		weed | kind) out=$("$dir/$bin" version 2>&1) || out="" ;;
		kubeadm) out=$("$dir/$bin" version -o short 2>&1) || out="" ;;
		keda | keda-adapter)
			out=$(go version -m "$dir/$bin" 2>&1 | awk '$1 == "mod" { print $2, $3 }') || out=""
			;;
		*) out=$("$dir/$bin" --version 2>&1) || out="" ;;
		esac
		[[ -n $out ]] || {
			log "$dir/$bin does not run (no answer to its version flag)"
			return 1
		}
		printf '%s: %s\n' "$bin" "$(head -n 1 <<<"$out")" >>"$dir/.done.new" || return 1
	done
	{ echo "$STAMP_FORMAT" && cat "$dir/.done.new"; } >"$dir/.done.tmp" &&
		rm -f "$dir/.done.new" &&
		mv "$dir/.done.tmp" "$dir/.done"
}

# fresh_out DIR: the output directory of a build that is about to run, with
# whatever a failed earlier attempt left in it removed.
fresh_out() {
	rm -rf "$1" && mkdir -p "$1"
}
