"""bench.py: our programs and the references side by side, a table a part.

Started by bench/run.sh (make bench) under Debian's /usr/bin/python3:

  bench.py [all | train | real | predict | serve]...

  train    forest-train (whole process, CSV parsing included) against the fit
           of scikit-learn's RandomForestRegressor (n_jobs=-1) and XGBoost's
           random-forest mode, 199,920 rows x 13 features, 100 trees of
           depth 10, the same time split, mean over BENCH_SEEDS
  real     test RMSE, forest-train against scikit-learn, on real public data
           shipped in Debian packages (diabetes in python3-sklearn, RAND HIE
           in python3-statsmodels when installed)
  predict  libforest's forest_predict (build/bench-predict) against
           scikit-learn's predict over the 39,984 test rows
  serve    forest-serve against the seed's FastAPI design (bench/reference),
           wrk on 127.0.0.1; cold start and resident memory

Every child is one process: its wall time is measured around fork and wait,
its peak RSS is the child's ru_maxrss from /usr/bin/time. Tables go to
stdout and to bench/out/results.md; raw records to bench/out/records.jsonl.

Knobs (environment): BENCH_SEEDS="1 2 3", BENCH_SKLEARN_SERIAL=0 (1 adds a
scikit-learn n_jobs=1 fit, about 100 s), BENCH_REAL_SEEDS="1 2 3 4 5",
BENCH_PREDICT_REPS=50, BENCH_SK_PREDICT_REPS=5, BENCH_WRK_DURATION=10,
BENCH_WRK_WARMUP=2, BENCH_WRK_CONNECTIONS=32, BENCH_WRK_THREADS=2,
BENCH_COLD_RUNS=7, BENCH_REF_COLD_RUNS=3, BENCH_OUT=bench/out.
"""

import csv
import datetime
import hashlib
import json
import os
import platform
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PY = "/usr/bin/python3"
TRAIN = os.path.join(ROOT, "build", "forest-train")
SERVE = os.path.join(ROOT, "build", "forest-serve")
PREDICT = os.path.join(ROOT, "build", "bench-predict")
REF = os.path.join(ROOT, "bench", "ref.py")
OUT = os.path.abspath(os.environ.get("BENCH_OUT",
                                     os.path.join(ROOT, "bench", "out")))

# AS_OF pinned: the same days on any date, so tables compare across runs.
SYNTH = {"SYNTH_SERIES": "280", "SYNTH_DAYS": "742", "AS_OF": "2026-07-01"}
DROP = ("promo", "holiday")   # 15 features -> the 13 of the comparison
TARGET = "demand"
TEST_FRACTION = 0.2
TREES, DEPTH = 100, 10

# Settings forest-train and forest-serve read from the environment; the
# benchmark passes what it means as flags and clears these so a stray export
# in the caller's shell cannot change the workload.
CONFIG_KEYS = (
    "DATA_PATH", "DATA_MODE", "DATE_COLUMN", "TARGET_COLUMN", "SERIES_COLUMN",
    "MODEL_DIR", "MODEL_VERSION", "N_ESTIMATORS", "MAX_DEPTH",
    "MIN_SAMPLES_LEAF", "MAX_FEATURES", "MAX_BINS", "SEED", "N_THREADS",
    "TEST_FRACTION", "PROMOTE_MAX_REGRESSION", "KEEP_VERSIONS",
    "SYNTH_SERIES", "SYNTH_DAYS", "AS_OF", "OOB_SCORE", "SHARD_INDEX",
    "SHARD_COUNT", "REFIT", "FORECAST_HORIZON", "GATE_MIN_ROWS",
    "GATE_ON_INCOMPATIBLE",
    "SHARD_RUN", "OUT", "QUIET", "JOB_COMPLETION_INDEX", "PORT", "HOST",
    "MODEL_PATH", "MODEL_NAME", "RELOAD_INTERVAL_SECONDS", "THREADS",
    "MAX_BODY_BYTES", "MAX_BATCH_ROWS", "MAX_HORIZON_DAYS", "DRAIN_SECONDS",
    "MAX_CONNECTIONS", "CONNECTION_TIMEOUT_SECONDS", "MAX_HEADER_BYTES",
    "LOG_LEVEL")
MODEL_NAME = "forest"
# A 1-minute load average above this before the run starts means other work
# shares the cores, and the tables say so. (During the run the benchmark's
# own processes keep both cores busy, so the load then says nothing.)
BUSY_LOAD = 0.8


def env_int(name, default):
    return int(os.environ.get(name, default))


def env_list(name, default):
    return [int(s) for s in os.environ.get(name, default).split()]


def clean_env(**extra):
    env = {k: v for k, v in os.environ.items() if k not in CONFIG_KEYS}
    env.update(extra)
    return env


def die(msg):
    sys.exit("bench: error: " + msg)


# ---- running children ------------------------------------------------------

def run(argv, env=None, cwd=ROOT, check=True):
    """Runs argv to completion. Returns (wall seconds, peak RSS in MiB,
    stdout, stderr). The wall time spans fork to reaping, so it is the
    whole process, start-up and exit included."""
    t0 = time.perf_counter()
    p = subprocess.Popen(argv, env=env, cwd=cwd, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
    out, err = p.communicate()
    wall = time.perf_counter() - t0
    if check and p.returncode != 0:
        die("'%s' exited %d:\n%s%s" % (" ".join(argv), p.returncode, out,
                                        err))
    return wall, out, err, p.returncode


def run_measured(argv, env=None, cwd=ROOT):
    """Like run(), and also returns the child's peak RSS in MiB (see
    run_measured_cpu)."""
    wall, rss, _, out, err = run_measured_cpu(argv, env=env, cwd=cwd)
    return wall, rss, out, err


def run_measured_cpu(argv, env=None, cwd=ROOT):
    """Runs argv; returns (wall seconds, peak RSS in MiB, CPU seconds (user
    + system, every thread), stdout, stderr).

    The peak comes from /usr/bin/time (package time), i.e. getrusage of
    the child: our own wait4 would not do, because Linux counts in a
    child's ru_maxrss the memory it had before exec, and a child forked
    (or vforked) from this Python process starts with all of its pages.
    Output goes to files so the child never blocks on a full pipe."""
    logs = os.path.join(OUT, "logs")
    os.makedirs(logs, exist_ok=True)
    log_out = os.path.join(logs, "last.out")
    log_err = os.path.join(logs, "last.err")
    log_rss = os.path.join(logs, "last.rss")
    timed = ["/usr/bin/time", "-f", "%M %U %S", "-o", log_rss] + argv
    with open(log_out, "w") as fo, open(log_err, "w") as fe:
        t0 = time.perf_counter()
        p = subprocess.Popen(timed, env=env, cwd=cwd, stdout=fo, stderr=fe)
        p.wait()
        wall = time.perf_counter() - t0
    with open(log_out) as f:
        out = f.read()
    with open(log_err) as f:
        err = f.read()
    if p.returncode != 0:
        die("'%s' exited %d:\n%s%s" % (" ".join(argv), p.returncode, out,
                                        err))
    with open(log_rss) as f:
        # the last line: "Command exited ..." may precede it
        rss_kib, user, system = f.read().splitlines()[-1].split()
    return wall, int(rss_kib) / 1024.0, float(user) + float(system), out, err


def ref(*args):
    """Runs bench/ref.py; returns its JSON record with the child's wall
    time and peak RSS added."""
    wall, rss, out, _ = run_measured([PY, REF] + [str(a) for a in args],
                                     env=clean_env())
    rec = json.loads(out.strip().splitlines()[-1])
    rec["process_s"] = wall
    rec["maxrss_mib"] = rss
    return rec


def train_forest(data, target, seed, model_dir):
    """Runs forest-train in tabular mode into a fresh model_dir. Returns
    wall time, peak RSS and the metadata.json it wrote."""
    wall, rss, _, meta = train_forest_cpu(data, target, seed, model_dir)
    return wall, rss, meta


def train_forest_cpu(data, target, seed, model_dir, binary=TRAIN,
                     threads=0):
    """train_forest() with the CPU time (user + system) too, and another
    forest-train binary (e.g. main's, for a before/after) or thread count
    if given. Returns wall, peak RSS, CPU seconds, metadata."""
    shutil.rmtree(model_dir, ignore_errors=True)
    os.makedirs(model_dir)
    argv = [binary, "--data-path", data, "--data-mode", "tabular",
            "--target-column", target, "--model-dir", model_dir,
            "--seed", str(seed), "--n-estimators", str(TREES),
            "--max-depth", str(DEPTH), "--min-samples-leaf", "1",
            "--max-features", "1.0", "--test-fraction", str(TEST_FRACTION),
            "--n-threads", str(threads)]
    wall, rss, cpu, _, _ = run_measured_cpu(argv, env=clean_env())
    with open(os.path.join(model_dir, "current", "metadata.json")) as f:
        meta = json.load(f)
    return wall, rss, cpu, meta


# ---- records and tables ----------------------------------------------------

RESULTS = []   # markdown blocks of this run, in order


def record(part, **fields):
    fields["part"] = part
    with open(os.path.join(OUT, "records.jsonl"), "a") as f:
        f.write(json.dumps(fields) + "\n")


def table(title, header, rows, notes=()):
    """Prints a markdown table and keeps it for results.md."""
    lines = ["### " + title, "",
             "| " + " | ".join(header) + " |",
             "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(str(c) for c in r) + " |" for r in rows]
    if notes:
        lines.append("")
        lines += ["- " + n for n in notes]
    block = "\n".join(lines) + "\n"
    print(block, flush=True)
    RESULTS.append(block)
    save_results()


def verdict(ok):
    return "PASS" if ok else "**MISS**"


def plural(n, word):
    return word if n == 1 else word + "s"


def mean(xs):
    return statistics.fmean(xs)


def spread(xs, fmt="%.2f"):
    if len(xs) < 2:
        return fmt % xs[0]
    return (fmt + "–" + fmt) % (min(xs), max(xs))


def read_first(path, prefix):
    try:
        with open(path) as f:
            for line in f:
                if line.startswith(prefix):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown"


def version_of(dist):
    try:
        import importlib.metadata
        return importlib.metadata.version(dist)
    except Exception:
        return "not installed"


MACHINE = []


def machine():
    cc = subprocess.run(["cc", "--version"], capture_output=True,
                        text=True).stdout.splitlines()
    git = subprocess.run(["git", "describe", "--tags", "--always", "--dirty"],
                         cwd=ROOT, capture_output=True, text=True).stdout
    load = open("/proc/loadavg").read().split()[:3]
    MACHINE[:] = [
        "## Benchmarks, %s" % datetime.datetime.now(
            datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "",
        "- machine: %d cores (nproc), %s, %s GiB RAM" % (
            len(os.sched_getaffinity(0)),
            read_first("/proc/cpuinfo", "model name"),
            round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
                  / 2**30)),
        "- kernel: %s %s; load average at start %s" % (
            platform.system(), platform.release(), " ".join(load)),
        "- code: %s; %s" % (git.strip() or "unknown",
                            cc[0] if cc else "cc unknown"),
        "- references: Python %s, scikit-learn %s, XGBoost %s, FastAPI %s, "
        "uvicorn %s, wrk %s" % (
            platform.python_version(), version_of("scikit-learn"),
            version_of("xgboost"), version_of("fastapi"),
            version_of("uvicorn"), wrk_version()),
        "- OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE in the caller: %s; the "
        "benchmark runs with both unset (numpy's BLAS then: %s)" % (
            os.environ.get("BENCH_OPENBLAS", "unknown"), blas()),
        ""]
    print("\n".join(MACHINE), flush=True)


def blas():
    """numpy's BLAS library, version and kernel as threadpoolctl sees it
    (the trees use no BLAS; this shows the OpenBLAS settings took)."""
    try:
        import numpy  # noqa: F401  (loads the BLAS library)
        import threadpoolctl
        for lib in threadpoolctl.threadpool_info():
            if lib.get("user_api") == "blas":
                return "%s %s, %s kernel, %s threads" % (
                    lib.get("internal_api"), lib.get("version"),
                    lib.get("architecture"), lib.get("num_threads"))
    except Exception as e:
        return "unknown (%s)" % e
    return "none found"


def loadavg():
    with open("/proc/loadavg") as f:
        return f.read().split()[0]


def wrk_version():
    if shutil.which("wrk") is None:
        return "not installed"
    p = subprocess.run(["wrk", "--version"], capture_output=True, text=True)
    first = (p.stdout + p.stderr).split()
    return first[1] if len(first) > 1 else "unknown"


def save_results():
    with open(os.path.join(OUT, "results.md"), "w") as f:
        f.write("\n".join(MACHINE) + "\n" + "\n".join(RESULTS))


# ---- data ------------------------------------------------------------------

def file_digest(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def test_rows(n):
    """The last ceil(n * 0.2) rows, as libforest's dataset_split counts."""
    import math
    t = math.ceil(n * TEST_FRACTION - 1e-9)
    return min(t, n - 1)


DATA = {}


def prepare_table():
    """Writes bench/out/table13.csv (199,920 rows, 13 features + demand) and
    test13.csv (its last 20%), outside any timed region. A cached
    scikit-learn model is dropped when the table changed."""
    if DATA:
        return DATA
    full = os.path.join(OUT, "full.csv")
    t13 = os.path.join(OUT, "table13.csv")
    test = os.path.join(OUT, "test13.csv")
    run([TRAIN, "table", "--out", full], env=clean_env(**SYNTH))
    with open(full, newline="") as fi, open(t13, "w", newline="") as fo:
        rd = csv.reader(fi)
        wr = csv.writer(fo, lineterminator="\n")
        header = next(rd)
        for name in DROP + (TARGET,):
            if name not in header:
                die("'%s' has no column '%s'" % (full, name))
        keep = [i for i, c in enumerate(header) if c not in DROP]
        wr.writerow([header[i] for i in keep])
        rows = 0
        for r in rd:
            wr.writerow([r[i] for i in keep])
            rows += 1
    n_test = test_rows(rows)
    with open(t13) as fi, open(test, "w") as fo:
        lines = fi.readlines()
        fo.write(lines[0])
        fo.writelines(lines[1 + rows - n_test:])
    digest = file_digest(t13)
    stamp = os.path.join(OUT, "table13.sha256")
    old = open(stamp).read().strip() if os.path.exists(stamp) else ""
    if old != digest:
        for stale in ("sk_model.joblib",):
            p = os.path.join(OUT, stale)
            if os.path.exists(p):
                os.remove(p)
        with open(stamp, "w") as f:
            f.write(digest + "\n")
    DATA.update(table=t13, test=test, rows=rows, n_test=n_test,
                features=len(header) - len(DROP) - 1)
    return DATA


def sk_model(seed):
    """The scikit-learn forest of the predict and serve parts (fitted with
    n_jobs=-1 on the training rows), cached as bench/out/sk_model.joblib."""
    path = os.path.join(OUT, "sk_model.joblib")
    if not os.path.exists(path):
        print("bench: fitting the scikit-learn model for predict/serve "
              "(~40 s)", flush=True)
        ref("fit", "--tool", "sklearn", "--data", DATA["table"],
            "--target", TARGET, "--seed", seed, "--n-jobs", -1,
            "--save", path)
    return path


def forest_model(seed):
    """Our model of the same size, trained afresh (a second) so it always
    comes from the forest-train just built. Returns the model directory."""
    d = os.path.join(OUT, "models", "forest")
    train_forest(DATA["table"], TARGET, seed, d)
    return d


# ---- part 1: training ------------------------------------------------------

def part_train():
    d = prepare_table()
    seeds = env_list("BENCH_SEEDS", "1 2 3")
    serial = env_int("BENCH_SKLEARN_SERIAL", 0)
    res = {"forest": [], "xgb": [], "sk": [], "sk1": []}
    for seed in seeds:
        print("bench: train, seed %d" % seed, flush=True)
        wall, rss, meta = train_forest(
            d["table"], TARGET, seed,
            os.path.join(OUT, "train", "seed-%d" % seed))
        if meta["training"]["test_rows"] != d["n_test"]:
            die("forest-train tested on %s rows, the references on %d" %
                (meta["training"]["test_rows"], d["n_test"]))
        res["forest"].append({"wall": wall, "rss": rss,
                              "rmse": meta["metrics"]["rmse"],
                              "inner": meta["training"]["total_seconds"]})
        record("train", tool="forest-train", seed=seed, wall_s=wall,
               maxrss_mib=rss, rmse=meta["metrics"]["rmse"],
               total_seconds=meta["training"]["total_seconds"])
        for tool, key in (("xgb", "xgb"), ("sklearn", "sk")):
            save = []
            if tool == "sklearn" and seed == seeds[0]:
                save = ["--save", os.path.join(OUT, "sk_model.joblib")]
            r = ref("fit", "--tool", tool, "--data", d["table"], "--target",
                    TARGET, "--seed", seed, "--n-jobs", -1, *save)
            if r["test_rows"] != d["n_test"]:
                die("ref.py split differs from forest-train's")
            res[key].append({"wall": r["fit_s"], "rss": r["maxrss_mib"],
                             "rmse": r["rmse"], "proc": r["process_s"]})
            record("train", **r)
            print("bench:   %-12s %7.2f s  RMSE %.4f" % (
                tool, r["fit_s"], r["rmse"]), flush=True)
        print("bench:   %-12s %7.2f s  RMSE %.4f" % (
            "forest-train", wall, meta["metrics"]["rmse"]), flush=True)
    if serial:
        print("bench: train, scikit-learn n_jobs=1, seed %d" % seeds[0],
              flush=True)
        r = ref("fit", "--tool", "sklearn", "--data", d["table"], "--target",
                TARGET, "--seed", seeds[0], "--n-jobs", 1)
        res["sk1"].append({"wall": r["fit_s"], "rss": r["maxrss_mib"],
                           "rmse": r["rmse"], "proc": r["process_s"]})
        record("train", **r)

    sk_t = mean([x["wall"] for x in res["sk"]])
    sk_rmse = mean([x["rmse"] for x in res["sk"]])

    def row(name, timed, xs):
        t = [x["wall"] for x in xs]
        return [name, timed, "%.2f" % mean(t), spread(t),
                "%.0f" % max(x["rss"] for x in xs),
                "%.3f" % mean([x["rmse"] for x in xs]),
                "%.1fx" % (sk_t / mean(t))]

    rows = [row("forest-train", "whole process (CSV, train, test, save)",
                res["forest"]),
            row("XGBoost RF (XGBRFRegressor, hist)", "fit()", res["xgb"]),
            row("scikit-learn RF, n_jobs=-1", "fit()", res["sk"])]
    if res["sk1"]:
        rows.append(row("scikit-learn RF, n_jobs=1 (seed %d only)" % seeds[0],
                        "fit()", res["sk1"]))
    ncpu = len(os.sched_getaffinity(0))
    table("Training: %d training / %d test rows, %d features, %d trees of "
          "depth %d, %s %s" % (d["rows"] - d["n_test"], d["n_test"],
                               d["features"], TREES, DEPTH,
                               plural(len(seeds), "seed"),
                               ", ".join(map(str, seeds))),
          ["tool", "timed", "wall (s), mean", "min–max (s)",
           "peak RSS (MiB)", "test RMSE, mean", "speed-up vs scikit-learn"],
          rows,
          ["forest-train is timed as a whole process (fork to exit: CSV "
           "parsing, training on all %d cores, test scoring, model save with "
           "fsync); the references time fit() alone on arrays already in "
           "memory (pandas read_csv outside the timed region)." % ncpu,
           "peak RSS: ru_maxrss of each child process (for Python: the "
           "interpreter, pandas, the data and the model).",
           "XGBoost: XGBRFRegressor(n_estimators=100, max_depth=10, "
           "learning_rate=1, subsample=0.8, colsample_bynode=1.0, "
           "tree_method='hist', n_jobs=%d); scikit-learn: "
           "RandomForestRegressor(100, max_depth=10, max_features=1.0)." %
           ncpu])
    f_t = mean([x["wall"] for x in res["forest"]])
    x_t = mean([x["wall"] for x in res["xgb"]])
    f_rmse = mean([x["rmse"] for x in res["forest"]])
    diff = (f_rmse / sk_rmse - 1) * 100
    table("Training targets (issue 2)",
          ["target", "measured", "verdict"],
          [["forest-train >= 20x faster than scikit-learn n_jobs=-1",
            "%.1fx" % (sk_t / f_t), verdict(sk_t / f_t >= 20)],
           ["forest-train <= 1.5x XGBoost RF fit time",
            "%.2fx (%.2f s vs %.2f s)" % (f_t / x_t, f_t, x_t),
            verdict(f_t / x_t <= 1.5)],
           ["test RMSE within 2%% of scikit-learn's (mean of %d %s)" % (
            len(seeds), plural(len(seeds), "seed")), "%.3f vs %.3f (%+.2f%%)" % (f_rmse, sk_rmse, diff),
            verdict(diff <= 2.0)]])


# ---- part 2: accuracy on real data -----------------------------------------

def part_real():
    seeds = env_list("BENCH_REAL_SEEDS", "1 2 3 4 5")
    sets = [("diabetes", "scikit-learn's load_diabetes (Efron et al. 2004), "
             "package python3-sklearn")]
    have_sm = subprocess.run([PY, "-c", "import statsmodels"],
                             capture_output=True).returncode == 0
    if have_sm:
        sets.append(("randhie", "RAND Health Insurance Experiment, outpatient "
                     "visits; statsmodels.datasets.randhie, package "
                     "python3-statsmodels"))
    rows, notes = [], []
    for name, source in sets:
        print("bench: real data, %s" % name, flush=True)
        path = os.path.join(OUT, "real-%s.csv" % name)
        info = ref("realdata", "--name", name, "--out", path)
        ours, theirs = [], []
        for seed in seeds:
            _, _, meta = train_forest(path, "target", seed,
                                      os.path.join(OUT, "real", name))
            r = ref("fit", "--tool", "sklearn", "--data", path, "--target",
                    "target", "--seed", seed, "--n-jobs", -1)
            if r["test_rows"] != meta["training"]["test_rows"]:
                die("split mismatch on %s" % name)
            ours.append(meta["metrics"]["rmse"])
            theirs.append(r["rmse"])
            record("real", dataset=name, seed=seed,
                   forest_rmse=meta["metrics"]["rmse"], sklearn_rmse=r["rmse"])
        diff = (mean(ours) / mean(theirs) - 1) * 100
        sd = (lambda xs: statistics.stdev(xs) if len(xs) > 1 else 0.0)
        rows.append([name, "%d x %d (test %d)" % (info["rows"],
                                                  info["features"],
                                                  r["test_rows"]),
                     "%.3f ± %.3f" % (mean(ours), sd(ours)),
                     "%.3f ± %.3f" % (mean(theirs), sd(theirs)),
                     "%+.2f%%" % diff, verdict(diff <= 2.0)])
        notes.append("%s: %s." % (name, source))
    if not have_sm:
        notes.append("randhie skipped: python3-statsmodels is not installed.")
    notes.append("Rows shuffled once (fixed seed 0) into one CSV that both "
                 "tools read; the last 20%% is the test set; 100 trees, depth "
                 "10, max_features 1.0; mean ± sd over seeds %s." %
                 ", ".join(map(str, seeds)))
    table("Accuracy on real public data: test RMSE, forest-train vs "
          "scikit-learn", ["data set", "rows x features", "forest-train RMSE",
                           "scikit-learn RMSE", "difference",
                           "within 2%"], rows, notes)


# ---- part 3: batch prediction ----------------------------------------------

def kv(line):
    return dict(p.split("=", 1) for p in line.split())


def part_predict():
    d = prepare_table()
    seed = env_list("BENCH_SEEDS", "1 2 3")[0]
    reps = env_int("BENCH_PREDICT_REPS", 50)
    sk_reps = env_int("BENCH_SK_PREDICT_REPS", 5)
    if not os.access(PREDICT, os.X_OK):
        die("%s is missing: run 'make build/bench-predict'" % PREDICT)
    print("bench: predict", flush=True)
    mdir = forest_model(seed)
    skm = sk_model(seed)
    model_bin = os.path.join(mdir, "current", "model.bin")
    ours = {}
    for threads in (0, 1):
        _, out, _, _ = run([PREDICT, model_bin, d["test"], "--target", TARGET,
                            "--reps", str(reps), "--threads", str(threads)])
        ours[threads] = kv(out.strip().splitlines()[-1])
        record("predict", tool="forest_predict", **ours[threads])
    sk = ref("predict", "--model", skm, "--data", d["test"], "--target",
             TARGET, "--reps", sk_reps, "--n-jobs", -1)
    record("predict", tool="sklearn", **sk)
    sk_best = sk["best_s"]
    rows = []
    for threads in (0, 1):
        o = ours[threads]
        rows.append(["libforest forest_predict", o["threads"],
                     "%.2f" % (float(o["best_s"]) * 1e3),
                     "%.2f" % (float(o["median_s"]) * 1e3),
                     "%.2fM" % (float(o["rows_per_s"]) / 1e6),
                     "%.3f" % float(o["us_per_row"]),
                     "%.1f" % float(o["single_row_us"]),
                     "%.1fx" % (sk_best / float(o["best_s"]))])
    rows.append(["scikit-learn predict, n_jobs=-1",
                 len(os.sched_getaffinity(0)), "%.2f" % (sk_best * 1e3),
                 "%.2f" % (sk["median_s"] * 1e3),
                 "%.2fM" % (sk["rows_per_s"] / 1e6),
                 "%.3f" % sk["us_per_row"],
                 "%.0f" % (sk["single_row_ms"] * 1e3), "1.0x"])
    o = ours[0]
    speed = sk_best / float(o["best_s"])
    table("Batch prediction: %s test rows x %d features, %d trees of depth %d"
          % (o["rows"], d["features"], TREES, DEPTH),
          ["predictor", "threads", "best batch (ms)", "median batch (ms)",
           "rows/s", "µs/row", "one row alone (µs)",
           "speed-up vs scikit-learn"], rows,
          ["best and median of %d (ours) and %d (scikit-learn) repetitions "
           "after one warm-up; the data is in memory (float32)." %
           (reps, sk_reps),
           "one row alone: forest_predict_row on the calling thread; "
           "scikit-learn predict() of a 1-row array with n_jobs=1, median "
           "of 200.",
           "check: the RMSE of our predictions on these rows is %s, the "
           "test RMSE forest-train reported." % o["rmse"],
           "target (issue 2): forest_predict >= 5x faster than scikit-learn: "
           "%.1fx, %s" % (speed, verdict(speed >= 5))])


# ---- part 4: serving -------------------------------------------------------

def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http(port, method, path, body=None, timeout=2.0):
    """One request on a fresh connection; returns (status, body) or
    (None, error text)."""
    import http.client
    try:
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
        headers = {"Content-Type": "application/json"} if body else {}
        c.request(method, path, body=body, headers=headers)
        r = c.getresponse()
        data = r.read().decode("utf-8", "replace")
        c.close()
        return r.status, data
    except OSError as e:
        return None, str(e)


def vmrss_kib(pid):
    kib = 0
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                kib = int(line.split()[1])
    return kib


RUNNING = []   # servers to stop if the benchmark dies half-way


class Server:
    """A server child on 127.0.0.1:port. start() returns the seconds from
    exec to the first 200 from the ready path, polled every millisecond."""

    def __init__(self, argv, env, port, ready_path, log):
        self.argv, self.env, self.port = argv, env, port
        self.ready_path, self.log = ready_path, log
        self.p = None
        RUNNING.append(self)

    def start(self, timeout=60.0):
        with open(self.log, "a") as log:
            t0 = time.perf_counter()
            self.p = subprocess.Popen(self.argv, env=self.env, cwd=ROOT,
                                      stdout=log, stderr=log,
                                      start_new_session=True)
        while True:
            status, _ = http(self.port, "GET", self.ready_path, timeout=0.5)
            if status == 200:
                return time.perf_counter() - t0
            if self.p.poll() is not None:
                die("'%s' exited %d before it was ready; see %s" % (
                    " ".join(self.argv), self.p.returncode, self.log))
            if time.perf_counter() - t0 > timeout:
                self.stop()
                die("'%s' not ready after %.0f s; see %s" % (
                    " ".join(self.argv), timeout, self.log))
            time.sleep(0.001)

    def rss_mib(self):
        return vmrss_kib(self.p.pid) / 1024.0

    def stop(self):
        if self in RUNNING:
            RUNNING.remove(self)
        if self.p is None or self.p.poll() is not None:
            return
        self.p.send_signal(signal.SIGTERM)
        try:
            self.p.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.p.kill()
            self.p.wait()


def check_alive(server, what):
    """Dies when the server exited during a measurement, which would make
    its figures meaningless (e.g. a test elsewhere that killed it)."""
    if server.p.poll() is not None:
        die("%s exited (status %s) during the measurement; see %s" % (
            what, server.p.returncode, server.log))


def wrk(port, path, body, seconds):
    """Runs wrk with bench/post.lua; returns its BENCH record."""
    threads = env_int("BENCH_WRK_THREADS", 2)
    conns = env_int("BENCH_WRK_CONNECTIONS", 32)
    env = dict(os.environ, BENCH_BODY=body or "")
    argv = ["wrk", "-t%d" % threads, "-c%d" % conns, "-d%ds" % seconds,
            "--latency", "--timeout", "5s", "-s",
            os.path.join(ROOT, "bench", "post.lua"),
            "http://127.0.0.1:%d%s" % (port, path)]
    p = subprocess.run(argv, env=env, capture_output=True, text=True)
    for line in p.stdout.splitlines():
        if line.startswith("BENCH "):
            rec = json.loads(line[6:])
            rec["rps"] = rec["requests"] / (rec["duration_us"] / 1e6)
            rec["errors"] = sum(rec[k] for k in (
                "status_errors", "connect_errors", "read_errors",
                "write_errors", "timeouts"))
            return rec
    die("wrk printed no result:\n%s%s" % (p.stdout, p.stderr))


def serve_help():
    p = subprocess.run([SERVE, "--help"], capture_output=True, text=True,
                       env=clean_env())
    return p.stdout + p.stderr


def forest_serve_argv(model_dir, port):
    """forest-serve's command line, defaults otherwise (threads: one per
    core); no drain on SIGTERM, since shutdown is not measured.
    BENCH_SERVE_ARGS adds flags."""
    argv = [SERVE, "--model-dir", model_dir, "--host", "127.0.0.1",
            "--port", str(port), "--model-name", MODEL_NAME,
            "--drain-seconds", "0"]
    extra = os.environ.get("BENCH_SERVE_ARGS", "").split()
    return argv + extra


def part_serve():
    d = prepare_table()
    if shutil.which("wrk") is None:
        die("wrk is not installed: scripts/install-deps.sh bench")
    if not os.access(SERVE, os.X_OK):
        table("Serving", ["status"],
              [["skipped: build/forest-serve is not built yet"]])
        return
    seed = env_list("BENCH_SEEDS", "1 2 3")[0]
    seconds = env_int("BENCH_WRK_DURATION", 10)
    warm = env_int("BENCH_WRK_WARMUP", 2)
    cold_runs = env_int("BENCH_COLD_RUNS", 7)
    ref_cold_runs = env_int("BENCH_REF_COLD_RUNS", 3)
    conns = env_int("BENCH_WRK_CONNECTIONS", 32)
    print("bench: serve", flush=True)
    mdir = forest_model(seed)
    skm = sk_model(seed)
    with open(d["test"]) as f:
        f.readline()
        first = f.readline().strip().split(",")
    feats = [float(v) for v in first[:-1]]
    body = json.dumps({"features": feats})
    v2 = json.dumps({"id": "1", "inputs": [{
        "name": "input-0", "shape": [1, len(feats)], "datatype": "FP32",
        "data": feats}]})
    logs = os.path.join(OUT, "logs")
    os.makedirs(logs, exist_ok=True)

    # Cold start and memory: exec to the first 200 from the ready path.
    ours_cold, ours_rss = [], []
    for _ in range(cold_runs):
        port = free_port()
        s = Server(forest_serve_argv(mdir, port), clean_env(), port,
                   "/ready", os.path.join(logs, "forest-serve.log"))
        ours_cold.append(s.start())
        ours_rss.append(s.rss_mib())
        s.stop()
    ref_cold, ref_rss = [], []
    ref_env = clean_env(MODEL_PATH=skm)
    for _ in range(ref_cold_runs):
        port = free_port()
        s = Server(reference_argv(port), ref_env, port, "/ready",
                   os.path.join(logs, "reference.log"))
        ref_cold.append(s.start())
        ref_rss.append(s.rss_mib())
        s.stop()

    # Throughput and latency, one server at a time.
    results = []
    port = free_port()
    s = Server(reference_argv(port), ref_env, port, "/ready",
               os.path.join(logs, "reference.log"))
    s.start()
    status, reply = http(port, "POST", "/predict", body)
    if status != 200:
        s.stop()
        die("reference POST /predict answered %s: %s" % (status, reply))
    ref_pred = json.loads(reply)["prediction"]
    wrk(port, "/predict", body, warm)
    r = wrk(port, "/predict", body, seconds)
    check_alive(s, "the reference")
    r["rss_after_mib"] = s.rss_mib()
    s.stop()
    results.append(("reference: FastAPI + uvicorn + scikit-learn",
                    "POST /predict", r))
    record("serve", server="reference", path="/predict", **r)

    port = free_port()
    s = Server(forest_serve_argv(mdir, port), clean_env(), port, "/ready",
               os.path.join(logs, "forest-serve.log"))
    s.start()
    status, reply = http(port, "POST", "/predict", body)
    if status != 200:
        s.stop()
        die("forest-serve POST /predict answered %s: %s" % (status, reply))
    our_pred = json.loads(reply)["prediction"]
    wrk(port, "/predict", body, warm)
    r = wrk(port, "/predict", body, seconds)
    check_alive(s, "forest-serve")
    r["rss_after_mib"] = s.rss_mib()
    results.append(("forest-serve", "POST /predict", r))
    record("serve", server="forest-serve", path="/predict", **r)
    # The same row through the Open Inference Protocol (KServe V2).
    path = "/v2/models/%s/infer" % MODEL_NAME
    status, reply = http(port, "POST", path, v2)
    if status != 200:
        s.stop()
        die("forest-serve POST %s answered %s: %s" % (path, status, reply))
    r = wrk(port, path, v2, seconds)
    check_alive(s, "forest-serve")
    r["rss_after_mib"] = s.rss_mib()
    results.append(("forest-serve", "POST " + path + " (V2)", r))
    record("serve", server="forest-serve", path=path, **r)
    s.stop()

    ref_rps = results[0][2]["rps"]
    rows = []
    for who, what, r in results:
        rows.append([who, what, "{:,.0f}".format(r["rps"]),
                     "%.2f" % (r["p50_us"] / 1e3),
                     "%.2f" % (r["p99_us"] / 1e3),
                     "%d (status %d, socket %d)" % (
                         r["errors"], r["status_errors"],
                         r["errors"] - r["status_errors"]),
                     "%.0f" % r["rss_after_mib"],
                     "%.1fx" % (r["rps"] / ref_rps)])
    table("Serving: wrk -t%d -c%d, %d s per run after a %d s warm-up, "
          "127.0.0.1" % (env_int("BENCH_WRK_THREADS", 2), conns, seconds,
                         warm),
          ["server", "request", "req/s", "p50 (ms)", "p99 (ms)",
           "errors", "RSS after (MiB)", "vs reference"], rows,
          ["body: one test row, %d features as JSON; the two servers "
           "answered %.4f (forest-serve) and %.4f (reference) for it." % (
               len(feats), our_pred, ref_pred),
           "models: both 100 trees of depth 10 on the same training rows "
           "(ours from forest-train --seed %d, the reference's "
           "RandomForestRegressor saved with joblib)." % seed])
    ours = [r for who, what, r in results if who == "forest-serve"][0]
    ratio = ours["rps"] / ref_rps
    table("Serving: cold start (exec to the first 200 from GET /ready) and "
          "memory", ["server", "runs", "cold start, median (ms)",
                     "min–max (ms)", "VmRSS when ready (MiB)"],
          [["forest-serve", cold_runs, "%.1f" % (
              statistics.median(ours_cold) * 1e3),
            spread([c * 1e3 for c in ours_cold], "%.1f"),
            "%.1f" % statistics.median(ours_rss)],
           ["reference", ref_cold_runs, "%.0f" % (
               statistics.median(ref_cold) * 1e3),
            spread([c * 1e3 for c in ref_cold], "%.0f"),
            "%.1f" % statistics.median(ref_rss)]],
          ["polled with a fresh HTTP connection every millisecond from the "
           "benchmark's own Python process, which also forks the server."])
    table("Serving targets (issue 3)", ["target", "measured", "verdict"],
          [[">= 100x the reference's throughput", "%.0fx" % ratio,
            verdict(ratio >= 100)],
           ["p99 < 10 ms at %d connections" % conns,
            "%.2f ms" % (ours["p99_us"] / 1e3), verdict(ours["p99_us"] <
                                                       10000)],
           ["zero errors", "%d" % ours["errors"],
            verdict(ours["errors"] == 0)]])


def reference_argv(port):
    return [PY, "-m", "uvicorn", "--app-dir",
            os.path.join(ROOT, "bench", "reference"), "app:app",
            "--host", "127.0.0.1", "--port", str(port),
            "--workers", "1", "--log-level", "warning", "--no-access-log"]


# ---- main ------------------------------------------------------------------

PARTS = {"train": part_train, "real": part_real, "predict": part_predict,
         "serve": part_serve}


def stop_all():
    for server in list(RUNNING):
        server.stop()


def main():
    import atexit
    atexit.register(stop_all)
    want = sys.argv[1:] or ["all"]
    parts = []
    for w in want:
        if w == "all":
            parts += list(PARTS)
        elif w in PARTS:
            parts.append(w)
        else:
            die("unknown part '%s' (all, %s)" % (w, ", ".join(PARTS)))
    if not os.access(TRAIN, os.X_OK):
        die("%s is missing: run 'make build/forest-train'" % TRAIN)
    os.makedirs(OUT, exist_ok=True)
    t0 = time.perf_counter()
    machine()
    # Other work on the machine skews every figure; say so if it was busy.
    busy = float(loadavg()) > BUSY_LOAD
    for p in parts:
        before = loadavg()
        PARTS[p]()
        after = loadavg()
        RESULTS.append("_load average (1 min) when the %s part started and "
                       "ended: %s, %s on %d cores (the benchmark's own "
                       "load)._%s\n" % (
                           p, before, after, len(os.sched_getaffinity(0)),
                           " **The machine was busy before the run: these "
                           "figures are noisy; re-run on a quiet machine.**"
                           if busy else ""))
        save_results()
    took = time.perf_counter() - t0
    RESULTS.append("_bench/run.sh %s took %.0f s._\n" % (" ".join(want),
                                                         took))
    save_results()
    print("bench: took %.0f s; tables saved to %s" % (
        took, os.path.join(OUT, "results.md")))


if __name__ == "__main__":
    main()
