"""Loads an exported model in XGBoost and compares it with forest-serve.

Usage: compare.py LABEL MODEL.json URL CSV [--no-contribs] [-- LABEL ...]

Builds 1,000 float32 rows from the training CSV (the model's features,
by name): rows like the training data, rows exactly
on a split threshold (the float below each split_condition, which our
trees send left) and just above it (the split_condition itself, sent
right), and extreme values. Asks forest-serve (URL) for their predictions
and contributions (/predict with "explain": true) and
XGBoost (Booster(model_file=MODEL.json)) for predict and pred_contribs,
and compares. Rows with a missing value (NaN) go to XGBoost only: they
must predict what forest-serve predicts for -FLT_MAX, since both models
send a missing value left (XGBoost by default_left).

Prints "  ok    LABEL.n ..." or "  FAIL  LABEL.n ...: detail" per check
and exits 1 if any failed.
"""
import csv
import json
import math
import sys
import urllib.error
import urllib.request

import numpy as np
import xgboost as xgb

EPS32 = 2.0 ** -24  # float32's unit roundoff
N_ROWS = 1000
failed = 0


def check(name, ok, detail=""):
    global failed
    if ok:
        print(f"  ok    {name}" + (f" ({detail})" if detail else ""))
    else:
        failed += 1
        print(f"  FAIL  {name}: {detail}")


def post(url, body):
    req = urllib.request.Request(url, data=json.dumps(body).encode(),
                                 headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=300) as resp:
            return json.load(resp)
    except urllib.error.HTTPError as e:
        sys.exit(f"compare.py: error: {url} answered {e.code}: "
                 f"{e.read().decode(errors='replace')}")


def serve(url, rows, explain, names):
    """forest-serve's predictions (and contributions, N x (F+1), the last
    column the base value, XGBoost's layout) for float32 rows, from
    /predict, which answers in double precision."""
    n, f = rows.shape
    # A float32 as a Python float is exact, and json writes it exactly.
    body = {"instances": [[float(v) for v in row] for row in rows]}
    if explain:
        body["explain"] = True
    answer = post(url + "/predict", body)
    pred = np.array(answer["predictions"], dtype=np.float64)
    contribs = None
    if explain:
        contribs = np.array([[e["contributions"][k] for k in names] +
                             [e["base_value"]]
                             for e in answer["explanations"]],
                            dtype=np.float64)
    return pred, contribs


def compare(label, model_file, url, csv_path, contribs_expected):
    doc = json.load(open(model_file))
    learner = doc["learner"]
    names = learner["feature_names"]
    trees = learner["gradient_booster"]["model"]["trees"]
    n_trees = len(trees)
    depth = 0

    # Leaves hold value / n_trees; M bounds |leaf value| of ours.
    leaf_max = 0.0
    splits = {i: [] for i in range(len(names))}
    for t in trees:
        left = t["left_children"]
        for i, child in enumerate(left):
            if child == -1:
                leaf_max = max(leaf_max, abs(t["split_conditions"][i]))
            else:
                splits[t["split_indices"][i]].append(
                    np.float32(t["split_conditions"][i]))
        # depth: longest root-to-leaf path, from the parents
        par = t["parents"]
        for i in range(len(par)):
            d, j = 0, i
            while par[j] != 2147483647:
                j, d = par[j], d + 1
            depth = max(depth, d)
    M = leaf_max * n_trees

    with open(csv_path) as fp:
        table = list(csv.DictReader(fp))
    data = np.array([[float(r[c]) for c in names] for r in table],
                    dtype=np.float32)
    rng = np.random.default_rng(1)

    def like_training(k):
        return data[rng.integers(0, len(data), k)].copy()

    rows = [like_training(400)]
    # On a threshold (the float below a split_condition: our trees go
    # left) and just above it (the split_condition: right), the same rows
    # and splits, one random split of a random feature per row.
    on = like_training(250)
    above = on.copy()
    for i in range(len(on)):
        f = int(rng.integers(0, len(names)))
        while not splits[f]:
            f = int(rng.integers(0, len(names)))
        sc = splits[f][int(rng.integers(0, len(splits[f])))]
        on[i, f] = np.nextafter(sc, np.float32(-np.inf))
        above[i, f] = sc
    rows += [on, above]
    # Extremes: every feature at the largest and least floats, 0 and -0.
    ext = like_training(100)
    specials = np.array([np.finfo(np.float32).max,
                         -np.finfo(np.float32).max, 0.0, -0.0],
                        dtype=np.float32)
    for i in range(100):
        f = i % len(names)
        ext[i, f] = specials[(i // len(names)) % len(specials)]
    rows.append(ext)
    X = np.concatenate(rows)
    assert X.shape == (N_ROWS, len(names))
    on_threshold = 250

    booster = xgb.Booster(model_file=model_file)
    check(f"{label}.1 XGBoost loads the export: its features, "
          f"{n_trees} trees",
          booster.feature_names == names and
          booster.num_features() == len(names) and
          booster.num_boosted_rounds() == n_trees,
          f"{booster.feature_names} {booster.num_boosted_rounds()}")
    dm = xgb.DMatrix(X, feature_names=names, missing=np.nan)
    px = booster.predict(dm).astype(np.float64)
    ps, cs = serve(url, X, contribs_expected, names)

    # XGBoost adds n_trees float32 leaves (each value / n_trees, rounded
    # once) in float32: each addition errs by at most EPS32 x the partial
    # sum, and every partial sum is at most M, so the total is within
    # (n_trees + 2) x EPS32 x M of the exact mean we compute in double
    # (+2: the leaves' rounding, the returned float32).
    tol = (n_trees + 2) * EPS32 * M
    err = np.abs(px - ps)
    check(f"{label}.2 {N_ROWS} rows ({on_threshold} exactly on a "
          f"threshold, {on_threshold} just above one, 100 extreme): "
          "XGBoost predicts what forest-serve does",
          bool(np.all(err <= tol)),
          f"largest difference {err.max():.3g}, allowed {tol:.3g}")
    # The rows on a threshold and their twins just above it must not all
    # answer alike, or taking a split the wrong way would go unseen.
    moved = np.abs(ps[400:400 + on_threshold] -
                   ps[400 + on_threshold:400 + 2 * on_threshold]) > 100 * tol
    check(f"{label}.3 a row moved from on a threshold to just above it "
          f"changes forest-serve's answer (so {label}.2 would see a split "
          "taken the wrong way)", int(moved.sum()) >= on_threshold // 10,
          f"{int(moved.sum())} of {on_threshold} rows changed")

    if contribs_expected:
        cx = booster.predict(dm, pred_contribs=True).astype(np.float64)
        # TreeSHAP in float32: the trees' values are added up like the
        # predictions, (n_trees + 2) x EPS32 x M, and within one tree a
        # contribution is leaf values times path weights that sum to at
        # most 1, each weight a chain of at most depth + 1 float32
        # multiply-adds (EXTEND, UNWIND): a factor depth + 2 on top.
        ctol = (n_trees + 2) * (depth + 2) * EPS32 * M
        cerr = np.abs(cx - cs)
        check(f"{label}.4 pred_contribs equal forest-serve's "
              f"contributions on the {N_ROWS} rows, the bias column its "
              "base value",
              cx.shape == cs.shape and bool(np.all(cerr <= ctol)),
              f"largest difference {cerr.max():.3g}, allowed {ctol:.3g}, "
              f"depth {depth}")
        check(f"{label}.5 XGBoost's contributions add up to its "
              "predictions",
              bool(np.all(np.abs(cx.sum(axis=1) - px) <= ctol)))
    else:
        cx = booster.predict(dm, pred_contribs=True)
        check(f"{label}.4 without cover (a format-1 file) XGBoost's "
              "contributions are NaN, not made up",
              bool(np.all(np.isnan(cx[:, :-1]))))

    # Missing values: NaN in XGBoost, -FLT_MAX at the server (JSON has no
    # NaN); both go left at every split.
    low = like_training(len(names))
    miss = low.copy()
    for f in range(len(names)):
        miss[f, f] = np.nan
        low[f, f] = -np.finfo(np.float32).max
    pm = booster.predict(xgb.DMatrix(miss, feature_names=names,
                                     missing=np.nan)).astype(np.float64)
    pl, _ = serve(url, low, False, names)
    check(f"{label}.6 a missing value (NaN) in XGBoost goes where our "
          "trees send it (left, as -FLT_MAX)",
          bool(np.all(np.abs(pm - pl) <= tol)),
          f"largest difference {np.abs(pm - pl).max():.3g}")


def main():
    # Jobs separated by "--": one import of XGBoost (seconds) for all.
    args = sys.argv[1:]
    while args:
        job = args[:args.index("--")] if "--" in args else args
        args = args[len(job) + 1:]
        compare(job[0], job[1], job[2], job[3], "--no-contribs" not in job)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
