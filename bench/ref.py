"""ref.py: the reference side of the benchmarks (scikit-learn and XGBoost).

Run with Debian's /usr/bin/python3 (python3-sklearn 1.2.1, python3-xgboost
1.7.4, python3-pandas), one process per measurement so that peak RSS
(ru_maxrss) belongs to one tool. Every command prints one JSON object on
stdout; bench/run.sh turns them into tables.

  ref.py fit --tool sklearn|xgb --data T.csv --target demand --seed S
             [--n-jobs N] [--save model.joblib]
      fits on the first rows and scores the last TEST_FRACTION of the file,
      the split forest-train makes (dataset_split in libforest/dataset.c)
  ref.py predict --model model.joblib --data test.csv --target demand
             [--reps N] [--n-jobs N]
      times RandomForestRegressor.predict over every row of the file
  ref.py realdata --name diabetes|randhie --out data.csv
      writes a real public data set shipped in a Debian package as a CSV
      (features, then the column 'target'), rows in a fixed shuffled order
"""

import argparse
import json
import math
import os
import resource
import statistics
import sys
import time

import numpy as np
import pandas as pd

TEST_FRACTION = 0.2


def test_rows(n, fraction=TEST_FRACTION):
    """Rows held out: the last ceil(n * fraction), as libforest counts."""
    t = math.ceil(n * fraction - 1e-9)
    if t >= n:
        t = n - 1 if n > 1 else 0
    return t


def maxrss_mib():
    """Peak resident memory of this process so far (ru_maxrss is KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def load(path, target):
    """Features as float32 (what both libraries use for trees), target as
    float64, in file order."""
    df = pd.read_csv(path)
    if target not in df.columns:
        sys.exit("ref.py: error: no column '%s' in '%s'" % (target, path))
    y = df[target].to_numpy(dtype=np.float64)
    X = df.drop(columns=[target]).to_numpy(dtype=np.float32)
    return X, y


def rmse(pred, y):
    return float(np.sqrt(np.mean((np.asarray(pred, np.float64) - y) ** 2)))


def cmd_fit(a):
    t0 = time.perf_counter()
    X, y = load(a.data, a.target)
    load_s = time.perf_counter() - t0
    n_test = test_rows(len(y))
    n_train = len(y) - n_test
    Xtr, ytr, Xte, yte = X[:n_train], y[:n_train], X[n_train:], y[n_train:]
    n_jobs = a.n_jobs if a.n_jobs > 0 else os.cpu_count()
    if a.tool == "sklearn":
        from sklearn.ensemble import RandomForestRegressor
        model = RandomForestRegressor(n_estimators=a.trees,
                                      max_depth=a.max_depth,
                                      max_features=1.0, bootstrap=True,
                                      n_jobs=a.n_jobs, random_state=a.seed)
    elif a.tool == "xgb":
        import xgboost as xgb
        # Random-forest mode: one boosting round of num_parallel_tree trees,
        # learning rate 1, rows subsampled per tree, every feature at every
        # split (scikit-learn's regressor default max_features=1.0).
        model = xgb.XGBRFRegressor(n_estimators=a.trees,
                                   max_depth=a.max_depth, learning_rate=1.0,
                                   subsample=0.8, colsample_bynode=1.0,
                                   tree_method="hist", n_jobs=n_jobs,
                                   random_state=a.seed)
    else:
        sys.exit("ref.py: error: unknown tool '%s'" % a.tool)
    t0 = time.perf_counter()
    c0 = time.process_time()  # every thread's CPU time, OpenMP's included
    model.fit(Xtr, ytr)
    fit_cpu_s = time.process_time() - c0
    fit_s = time.perf_counter() - t0
    score = rmse(model.predict(Xte), yte)
    if a.save:
        import joblib
        joblib.dump(model, a.save)
    print(json.dumps({"tool": a.tool, "seed": a.seed, "n_jobs": n_jobs,
                      "load_s": load_s, "fit_s": fit_s,
                      "fit_cpu_s": fit_cpu_s, "rmse": score,
                      "train_rows": n_train, "test_rows": n_test,
                      "maxrss_mib": maxrss_mib()}))


def cmd_predict(a):
    import joblib
    X, _ = load(a.data, a.target)
    model = joblib.load(a.model)
    model.set_params(n_jobs=a.n_jobs)
    model.predict(X[:1000])  # warm the thread pool
    times = []
    for _ in range(a.reps):
        t0 = time.perf_counter()
        model.predict(X)
        times.append(time.perf_counter() - t0)
    # One row at a time, as a server without batching predicts.
    model.set_params(n_jobs=1)
    single = []
    for i in range(min(a.single, len(X))):
        t0 = time.perf_counter()
        model.predict(X[i:i + 1])
        single.append(time.perf_counter() - t0)
    best = min(times)
    print(json.dumps({"rows": len(X), "reps": a.reps, "best_s": best,
                      "median_s": statistics.median(times),
                      "rows_per_s": len(X) / best,
                      "us_per_row": best / len(X) * 1e6,
                      "single_row_ms": statistics.median(single) * 1e3
                      if single else None,
                      "maxrss_mib": maxrss_mib()}))


def cmd_realdata(a):
    if a.name == "diabetes":
        # Efron et al. (2004), 442 patients, 10 baseline variables, disease
        # progression after one year; shipped inside python3-sklearn.
        from sklearn.datasets import load_diabetes
        d = load_diabetes(as_frame=True, scaled=False)
        df = d.frame.rename(columns={"target": "target"})
    elif a.name == "randhie":
        # RAND Health Insurance Experiment, 20,190 person-years, outpatient
        # visits (mdvis) from 9 covariates; shipped in python3-statsmodels.
        import statsmodels.api as sm
        df = sm.datasets.randhie.load_pandas().data
        df = df[[c for c in df.columns if c != "mdvis"] + ["mdvis"]]
        df = df.rename(columns={"mdvis": "target"})
    else:
        sys.exit("ref.py: error: unknown data set '%s'" % a.name)
    # These tables are not in time order; one fixed shuffle makes "the last
    # 20% of rows" a fair test set, and both tools read this same file.
    order = np.random.RandomState(0).permutation(len(df))
    df = df.iloc[order].reset_index(drop=True)
    df.to_csv(a.out, index=False, float_format="%.9g")
    print(json.dumps({"name": a.name, "rows": len(df),
                      "features": len(df.columns) - 1, "out": a.out}))


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    f = sub.add_parser("fit")
    f.add_argument("--tool", required=True)
    f.add_argument("--data", required=True)
    f.add_argument("--target", default="demand")
    f.add_argument("--seed", type=int, default=1)
    f.add_argument("--n-jobs", type=int, default=-1)
    f.add_argument("--trees", type=int, default=100)
    f.add_argument("--max-depth", type=int, default=10)
    f.add_argument("--save")
    pr = sub.add_parser("predict")
    pr.add_argument("--model", required=True)
    pr.add_argument("--data", required=True)
    pr.add_argument("--target", default="demand")
    pr.add_argument("--reps", type=int, default=5)
    pr.add_argument("--single", type=int, default=200)
    pr.add_argument("--n-jobs", type=int, default=-1)
    r = sub.add_parser("realdata")
    r.add_argument("--name", required=True)
    r.add_argument("--out", required=True)
    a = p.parse_args()
    cmds = {"fit": cmd_fit, "predict": cmd_predict, "realdata": cmd_realdata}
    cmds[a.cmd](a)


if __name__ == "__main__":
    main()
