"""scale.py: how training scales with rows (issue 17), run by bench/scale.sh.

For each size (200k, 1M, 5M, 10M rows of the demand table, 19 features,
generated here by forest-train table and never committed), side by side in
one run:

  1. bench-scale (bench/scale.c): reading the CSV and binning, each alone,
     binning with edges from the default 200k-row sample and from every row
     sorted, and with BENCH_SCALE_RMSE=1 (the default) the test RMSE of 100
     trees grown both ways (bench-scale --trees 100);
  2. forest-train, the whole process (read, split, bin, grow, test, save),
     wall time and peak RSS from /usr/bin/time;
  3. XGBoost-RF fit (bench/ref.py fit --tool xgb) and, up to 1M rows,
     scikit-learn's RandomForestRegressor fit, wall time of the fit alone and
     the process's peak RSS.

Then one table with the growth factor over the size before (5x rows from
200k to 1M and from 1M to 5M, 2x from 5M to 10M). Tables go to stdout and
bench/out/scale.md. 100 trees of depth 10, all features per split, 2 cores.
forest-train runs on every core and again on one thread; each run's CPU time
(user + system) is reported beside its wall time, and XGBoost's fit CPU time
(every thread's) beside its wall time: on a shared machine CPU time is the
steadier figure. BENCH_SCALE_BEFORE=/path/to/forest-train times another
build (e.g. main's) the same way in the same run, for a before/after.
"""

import json
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench  # noqa: E402  (run(), run_measured(), ref(), clean_env())

ROOT = bench.ROOT
OUT = bench.OUT
SCALE = os.path.join(ROOT, "build", "bench-scale")
# rows of the table for each size: series x (742 days - 28 of history)
SIZES = {"200k": 280, "1M": 1400, "5M": 7000, "10M": 14000}
# scikit-learn only up to 1M rows (issue 17, item 4); BENCH_SCALE_SKLEARN_MAX
# =200k stops it earlier (its 1M fit takes tens of minutes on a busy machine),
# =none leaves it out.
SKLEARN_MAX = dict(SIZES, none=0)[os.environ.get("BENCH_SCALE_SKLEARN_MAX",
                                                 "1M")]
BEFORE = os.environ.get("BENCH_SCALE_BEFORE", "")


def table_for(size):
    """Writes bench/out/scale-SIZE.csv (the table's features but promo and
    holiday, + demand; 19 features today) unless it is
    there already; returns its path."""
    path = os.path.join(OUT, "scale-%s.csv" % size)
    if os.path.exists(path):
        return path
    full = os.path.join(OUT, "scale-%s-full.csv" % size)
    env = bench.clean_env(SYNTH_SERIES=str(SIZES[size]), SYNTH_DAYS="742",
                          AS_OF="2026-07-01")
    bench.run([bench.TRAIN, "table", "--out", full], env=env)
    with open(full) as f:
        header = f.readline().strip().split(",")
    drop = [str(header.index(c) + 1) for c in bench.DROP]
    with open(path + ".tmp", "w") as fo:
        subprocess.run(["cut", "-d,", "--complement", "-f", ",".join(drop),
                        full], stdout=fo, check=True)
    os.rename(path + ".tmp", path)
    os.remove(full)
    return path


RESULTS = []


def table(title, header, rows, notes=()):
    """Prints a markdown table and keeps it for scale.md (bench.table would
    write into make bench's results.md)."""
    lines = ["### " + title, "",
             "| " + " | ".join(header) + " |",
             "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(str(c) for c in r) + " |" for r in rows]
    lines += [""] + ["- " + n for n in notes] if notes else []
    block = "\n".join(lines) + "\n"
    print(block, flush=True)
    RESULTS.append(block)


def kv_lines(text):
    return [dict(w.split("=", 1) for w in line.split())
            for line in text.splitlines() if line.startswith("step=")]


def growth(xs, i):
    if i == 0 or xs[i] is None or xs[i - 1] is None:
        return ""
    return " (%.1fx)" % (xs[i] / xs[i - 1])


def main():
    sizes = sys.argv[1:] or ["200k", "1M"]
    for s in sizes:
        if s not in SIZES:
            bench.die("unknown size '%s' (200k, 1M, 5M or 10M)" % s)
    os.makedirs(OUT, exist_ok=True)
    rmse_both = os.environ.get("BENCH_SCALE_RMSE", "1") == "1"
    loads = []
    rows_io, rows_bin, rows_rmse, res = [], [], [], []
    for s in sizes:
        data = table_for(s)
        loads.append("%s at %s" % (bench.loadavg(), s))
        argv = [SCALE, data, "--target", "demand"]
        if rmse_both:
            argv += ["--trees", str(bench.TREES), "--threads", "0"]
        _, out, _, _ = bench.run(argv, env=bench.clean_env())
        steps = kv_lines(out)
        rd = steps[0]
        bins = [x for x in steps if x["step"] == "bin"]
        forests = [x for x in steps if x["step"] == "forest"]
        mb = int(rd["bytes"]) / 1e6
        rows_io.append([s, "{:,}".format(int(rd["rows"])), "%.1f" % mb,
                        "%.2f" % float(rd["wall_s"]),
                        "%.2f" % float(rd["cpu_s"]),
                        "%.0f" % (mb / float(rd["cpu_s"]))])
        rows_bin.append([s] + ["%.3f / %.3f" % (float(b["wall_s"]),
                                                float(b["cpu_s"]))
                               for b in bins])
        if forests:
            a, b = float(forests[0]["test_rmse"]), float(forests[1]["test_rmse"])
            rows_rmse.append([s, "%.4f" % a, "%.4f" % b,
                              "%+.3f%%" % (100.0 * (a - b) / b)])

        model_dir = os.path.join(OUT, "scale-model")
        wall, rss, cpu, meta = bench.train_forest_cpu(data, bench.TARGET, 1,
                                                      model_dir)
        _, rss1, cpu1, _ = bench.train_forest_cpu(data, bench.TARGET, 1,
                                                  model_dir, threads=1)
        before = None
        if BEFORE:
            bw, brss, bcpu, bmeta = bench.train_forest_cpu(
                data, bench.TARGET, 1, model_dir, binary=BEFORE)
            before = dict(wall=bw, rss=brss, cpu=bcpu,
                          rmse=bmeta["metrics"]["rmse"])
        xgb = bench.ref("fit", "--tool", "xgb", "--data", data, "--target",
                        bench.TARGET, "--seed", 1, "--n-jobs", -1)
        sk = None
        if SIZES[s] <= SKLEARN_MAX:
            sk = bench.ref("fit", "--tool", "sklearn", "--data", data,
                           "--target", bench.TARGET, "--seed", 1,
                           "--n-jobs", -1)
        res.append(dict(size=s, ft=wall, ft_rss=rss, ft_cpu=cpu,
                        ft1_cpu=cpu1, ft1_rss=rss1, before=before,
                        ft_rmse=meta["metrics"]["rmse"],
                        xgb=xgb["fit_s"], xgb_cpu=xgb.get("fit_cpu_s"),
                        xgb_rss=xgb["maxrss_mib"],
                        xgb_rmse=xgb["rmse"],
                        sk=sk["fit_s"] if sk else None,
                        sk_rss=sk["maxrss_mib"] if sk else None,
                        sk_rmse=sk["rmse"] if sk else None))
        # each size's raw figures as soon as they exist, so a run cut short
        # still leaves what it measured
        with open(os.path.join(OUT, "scale.jsonl"), "a") as f:
            f.write(json.dumps(dict(res[-1], read=rd, bins=bins,
                                    forests=forests,
                                    load=loads[-1])) + "\n")

    load = ", ".join(loads)
    note = ("2 cores shared with other work: the 1-minute load average was "
            "%s when each size started; wall times are only comparable "
            "within a row, CPU times of one-thread steps are steadier." % load)
    table("Reading the CSV (tabular_read_csv, one thread)",
                ["rows", "rows read", "MB", "wall s", "CPU s",
                 "MB/s of CPU time"], rows_io, [note])
    table("Binning (a one-stump forest_train, one thread), wall / CPU s",
                ["rows", "edges from a 200k-row sample",
                 "edges from every row sorted"], rows_bin, [note])
    if rows_rmse:
        table("Test RMSE of %d trees of depth %d, bin edges from the "
                    "sample vs every row" % (bench.TREES, bench.DEPTH),
                    ["rows", "sample", "every row", "difference"], rows_rmse,
                    ["The same seed and trees; only the bin edges differ."])
    ft = [r["ft"] for r in res]
    ftc = [r["ft_cpu"] for r in res]
    ft1 = [r["ft1_cpu"] for r in res]
    xg = [r["xgb"] for r in res]
    xgc = [r["xgb_cpu"] for r in res]
    sk = [r["sk"] for r in res]
    rows = []
    for i, r in enumerate(res):
        rows.append([r["size"],
                     "%.2f s%s (CPU %.2f s%s), %.0f MiB" % (
                         r["ft"], growth(ft, i), r["ft_cpu"], growth(ftc, i),
                         r["ft_rss"]),
                     "CPU %.2f s%s, %.0f MiB" % (r["ft1_cpu"], growth(ft1, i),
                                                 r["ft1_rss"]),
                     "%.2f s%s (CPU %.2f s%s), %.0f MiB" % (
                         r["xgb"], growth(xg, i), r["xgb_cpu"],
                         growth(xgc, i), r["xgb_rss"]),
                     "%.2f s%s, %.0f MiB" % (r["sk"], growth(sk, i),
                                             r["sk_rss"])
                     if r["sk"] is not None else "-",
                     "%.2fx" % (r["ft"] / r["xgb"]),
                     "%.3f / %.3f / %s" % (
                         r["ft_rmse"], r["xgb_rmse"],
                         "%.3f" % r["sk_rmse"] if r["sk_rmse"] else "-")])
    with open(table_for(sizes[0])) as f:
        n_features = len(f.readline().split(",")) - 1
    table("Scaling: %d trees of depth %d, %d features, 80%% of rows "
                "trained (growth over the size before in brackets)"
                % (bench.TREES, bench.DEPTH, n_features),
                ["rows", "forest-train (whole process), peak RSS",
                 "forest-train on one thread",
                 "XGBoost-RF fit, process peak RSS",
                 "scikit-learn fit, process peak RSS",
                 "forest-train / XGBoost", "test RMSE ours / XGB / sklearn"],
                rows, [note, "Peak RSS from /usr/bin/time (ru_maxrss); the "
                       "references' includes pandas and the Python runtime."])
    if BEFORE:
        bw = [r["before"]["wall"] for r in res]
        bc = [r["before"]["cpu"] for r in res]
        rows = []
        for i, r in enumerate(res):
            b = r["before"]
            rows.append([r["size"],
                         "%.2f s%s (CPU %.2f s%s), %.0f MiB" % (
                             b["wall"], growth(bw, i), b["cpu"],
                             growth(bc, i), b["rss"]),
                         "%.2f s (CPU %.2f s), %.0f MiB" % (
                             r["ft"], r["ft_cpu"], r["ft_rss"]),
                         "%.2fx / %.2fx" % (b["wall"] / r["xgb"],
                                            r["ft"] / r["xgb"]),
                         "%.3f / %.3f" % (b["rmse"], r["ft_rmse"])])
        table("Before and after: %s against build/forest-train, every core"
              % BEFORE,
              ["rows", "before (whole process), peak RSS",
               "after (from the table above)",
               "wall / XGBoost-RF fit, before / after",
               "test RMSE before / after"], rows, [note])
    with open(os.path.join(OUT, "scale.md"), "w") as f:
        f.write("\n".join(RESULTS))


if __name__ == "__main__":
    main()
