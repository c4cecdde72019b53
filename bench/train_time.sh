#!/bin/bash
# train_time.sh: `make run`'s training (the synthetic data, default
# settings) by this tree's forest-train and by the releases named, in
# alternating rounds so a busy machine slows all alike; prints wall and
# user + system CPU seconds per round, the medians and each one's CPU time
# over the first release's (issue 12 allows at most 3x that of 4765800,
# the release before it).
#
#   bench/train_time.sh [REV...]       default: 4765800 ffdc874
#
# Each REV is built from `git archive REV` in a temporary directory.
# Knob: ROUNDS (5).
set -eu
cd "$(dirname "$0")/.."
rounds=${ROUNDS:-5}
[ $# -gt 0 ] || set -- 4765800 ffdc874
[ -x /usr/bin/time ] || { echo "train_time: error: /usr/bin/time is missing (scripts/install-deps.sh bench)" >&2; exit 1; }

tmp=$(mktemp -d /tmp/train-time.XXXXXX)
trap 'rm -rf "$tmp"' EXIT

make -s build/forest-train
names=() bins=()
for rev in "$@"; do
    mkdir -p "$tmp/$rev"
    git archive "$rev" | tar -x -C "$tmp/$rev"
    make -s -C "$tmp/$rev" build/forest-train >/dev/null
    names+=("$rev") bins+=("$tmp/$rev/build/forest-train")
done
names+=("this tree ($(git describe --always --dirty))") bins+=("build/forest-train")

# run BIN: one training into a new store; prints "wall cpu".
run() {
    local store
    store=$(mktemp -d "$tmp/store.XXXXXX")
    env AS_OF=2026-07-01 QUIET=true MODEL_DIR="$store" /usr/bin/time -f '%e %U %S' \
        "$1" >/dev/null 2>"$tmp/time"
    rm -rf "$store"
    tail -n 1 "$tmp/time" | awk '{ printf "%.2f %.2f\n", $1, $2 + $3 }'
}

median() { printf '%s\n' "$@" | sort -n | awk '{v[NR] = $1} END {print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2}'; }

declare -A wall cpu
echo "load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
printf '%-6s %-40s %8s %8s\n' round build "wall s" "CPU s"
for r in $(seq "$rounds"); do
    for i in "${!bins[@]}"; do
        read -r w c < <(run "${bins[$i]}")
        wall[$i]="${wall[$i]:-} $w"
        cpu[$i]="${cpu[$i]:-} $c"
        printf '%-6s %-40s %8s %8s\n' "$r" "${names[$i]}" "$w" "$c"
    done
done
echo
echo "load average at end: $(cut -d' ' -f1-3 /proc/loadavg)"
printf '| build | wall s (median) | CPU s (median) | CPU / %s |\n|---|---|---|---|\n' "${names[0]}"
base=$(median ${cpu[0]})
for i in "${!bins[@]}"; do
    c=$(median ${cpu[$i]})
    printf '| %s | %s | %s | %s |\n' "${names[$i]}" "$(median ${wall[$i]})" "$c" \
        "$(awk -v a="$base" -v b="$c" 'BEGIN { printf "%.1f", b / a }')"
done
