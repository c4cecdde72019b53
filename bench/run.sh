#!/bin/sh
# run.sh: the benchmark suite (make bench). Runs our programs and the
# references side by side and prints one table per part; the tables are also
# saved to bench/out/results.md.
#
#   bench/run.sh [all|train|real|predict|serve]...   (default: all)
#
# Parts: train (issue 2: forest-train vs scikit-learn and XGBoost fit),
# real (RMSE on real public data), predict (forest_predict vs scikit-learn),
# serve (issue 3: forest-serve vs the FastAPI reference, with wrk). Knobs are
# environment variables, listed in bench/README.md; e.g. BENCH_SEEDS="1" for a
# quick run, BENCH_SKLEARN_SERIAL=1 to add scikit-learn's n_jobs=1 fit.
# Forecasting accuracy is a separate run: make bench-forecast (bench/forecast.py).
set -eu
cd "$(dirname "$0")/.."

for part in "${@:-all}"; do
    case $part in
    all|train|real|predict|serve) ;;
    -h|--help) sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "bench/run.sh: error: unknown part '$part'" >&2; exit 2 ;;
    esac
done

# The references need Debian's Python and its packages, not a pyenv one.
PY=/usr/bin/python3
if ! $PY -c 'import sklearn, xgboost, pandas, joblib' 2>/dev/null; then
    echo "bench/run.sh: error: $PY lacks scikit-learn, XGBoost or pandas;" \
        "run scripts/install-deps.sh bench" >&2
    exit 1
fi

if [ ! -x /usr/bin/time ]; then
    echo "bench/run.sh: error: /usr/bin/time is missing (package time);" \
        "run scripts/install-deps.sh bench" >&2
    exit 1
fi

# Build what the parts use. forest-serve may not be buildable yet: then the
# serve part says it was skipped and the others still run.
make -s build/forest-train build/bench-predict
case " ${*:-all} " in
*" all "*|*" serve "*)
    make -s build/forest-serve 2>/dev/null ||
        echo "bench/run.sh: build/forest-serve does not build yet;" \
            "the serve part will be skipped" >&2 ;;
esac

# OpenBLAS settings this machine may force slow numpy down; unset them for
# this command alone (never in tests).
BENCH_OPENBLAS="${OPENBLAS_CORETYPE:-unset} / ${OPENBLAS_L2_SIZE:-unset}"
export BENCH_OPENBLAS
exec env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE $PY bench/bench.py "$@"
