#!/bin/sh
# scale.sh: how training scales with rows (issue 17): reading and binning
# measured alone, and forest-train against XGBoost-RF and scikit-learn at
# 200k, 1M, 5M and 10M rows, with growth over the size before and peak
# memory. The tables are printed and saved to bench/out/scale.md; the data
# is generated into bench/out (never committed).
#
#   bench/scale.sh [200k] [1M] [5M] [10M]   (default: 200k 1M)
#
# BENCH_SCALE_RMSE=0 skips growing 100 trees twice (bin edges from the
# sample and from every row) for the test RMSE comparison;
# BENCH_SCALE_SKLEARN_MAX=200k runs scikit-learn at 200k rows only (none:
# not at all); BENCH_SCALE_BEFORE=PATH times another forest-train too.
set -eu
cd "$(dirname "$0")/.."

for size in "$@"; do
    case $size in
    200k|1M|5M|10M) ;;
    -h|--help) sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "bench/scale.sh: error: unknown size '$size'" >&2; exit 2 ;;
    esac
done

PY=/usr/bin/python3
if ! $PY -c 'import sklearn, xgboost, pandas' 2>/dev/null; then
    echo "bench/scale.sh: error: $PY lacks scikit-learn, XGBoost or pandas;" \
        "run scripts/install-deps.sh bench" >&2
    exit 1
fi
if [ ! -x /usr/bin/time ]; then
    echo "bench/scale.sh: error: /usr/bin/time is missing (package time);" \
        "run scripts/install-deps.sh bench" >&2
    exit 1
fi
make -s build/forest-train build/bench-scale
exec env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE $PY bench/scale.py "$@"
