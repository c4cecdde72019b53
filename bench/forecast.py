"""forecast.py: multi-day forecasts of the forest against classical methods,
side by side in one run (make bench-forecast; issue 12, item 7).

  /usr/bin/python3 bench/forecast.py [synth] [synth_x10] [bike] [chicago]

For each data set the trainer sees the first 80% of the days only (the CSV
is cut there), with default settings (REFIT default, i.e. true in series
mode); a real forest-serve then answers POST /forecast from rolling origins
over the last 20% of the days, 14 days ahead, with the 80% and the 90%
interval. Next to it, from the same origins and the same history:

  seasonal naive      last week repeated: y[o - 7 + (h - 1) mod 7]
  seasonal mean 4w    mean of the same weekday in the 4 weeks before o
  Holt-Winters        statsmodels ExponentialSmoothing, additive trend and
                      additive weekly season, fitted on all days before o
                      (refitted at every origin)

Data sets (none is ever written to the repository; they live in a temporary
directory removed at the end):

  synth      forest-train synth, 20 series x 730 days, AS_OF 2026-07-01,
             SEED 42; origins every 7 days, the first one staggered by the
             series' index mod 7 so that every weekday starts some forecasts
  synth_x10  the same demand times a ramp from 1 (first day) to 10 (last
             day) per series: the growth that locked the old gate
  bike       Capital Bikeshare daily rentals `cnt`, 2011-01-01..2012-12-31,
             from Debian's gretl-data (misc/bikesharing.gdt); step 1
  chicago    CTA "L" entries at Clark/Lake (thousands a day), the last 1096
             days (2013-08-29..2016-08-28) of modeldata's Chicago, from
             Debian's r-cran-modeldata (R lazy-load database read with
             python3-rdata, no R); step 3

The two real packages are fetched with `apt-get download` and unpacked with
`dpkg -x`, not installed. The synthetic sets give the forest the generator's
covariates (promo, holiday) of the forecast days, as a user would; the table
also has the forest without them, like for like with the baselines, which
never see covariates. The real sets are univariate.

Output: the tables (markdown) on stdout, everything per horizon in
build/bench-forecast.json (BENCH_FORECAST_JSON to change). Knobs:
BENCH_FORECAST_AS_OF (2026-07-01), BENCH_FORECAST_WORKERS (nproc, the
Holt-Winters refits' processes), BENCH_FORECAST_KEEP=1 keeps the temporary
directory (data, models, logs) and prints where it is.
BENCH_FORECAST_UPTO=0.8 keeps only the first 80% of every data set's days
(an earlier window, to choose a method without looking at the period the
standard run reports); BENCH_FORECAST_HW=0 leaves out the Holt-Winters
refits (the tables then have no "vs HW" column).
"""

import os
# Holt-Winters runs in one process per core: keep each one single-threaded.
for _k in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_k, "1")

import csv
import datetime
import gzip
import http.client
import json
import lzma
import bz2
import multiprocessing
import platform
import re
import shutil
import struct
import subprocess
import sys
import tempfile
import time
import warnings
import zlib

try:
    import numpy as np
    import statsmodels
    from statsmodels.tsa.holtwinters import ExponentialSmoothing
    import rdata
except ImportError as e:
    sys.exit("bench/forecast.py: error: %s; run scripts/install-deps.sh bench "
             "(needs Debian's python3-statsmodels and python3-rdata, under "
             "/usr/bin/python3)" % e)

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TRAIN = os.path.join(ROOT, "build", "forest-train")
SERVE = os.path.join(ROOT, "build", "forest-serve")
H = 14
LEVELS = (0.8, 0.9)
SHOW_H = (1, 2, 3, 7, 10, 14)          # the horizons the tables show
AS_OF = os.environ.get("BENCH_FORECAST_AS_OF", "2026-07-01")
JSON_OUT = os.environ.get("BENCH_FORECAST_JSON",
                          os.path.join(ROOT, "build", "bench-forecast.json"))
UPTO = float(os.environ.get("BENCH_FORECAST_UPTO") or 1.0)
WITH_HW = os.environ.get("BENCH_FORECAST_HW", "1") != "0"
ALL = ("synth", "synth_x10", "bike", "chicago")
METHODS = ("forest", "forest_nocov", "snaive", "smean4", "hw")
LABEL = {"forest": "forest (forest-serve /forecast)",
         "forest_nocov": "forest, without covariates",
         "snaive": "seasonal naive (last week)",
         "smean4": "seasonal mean of 4 weeks",
         "hw": "Holt-Winters (add. trend + season 7)"}


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def run(cmd, **kw):
    p = subprocess.run(cmd, capture_output=True, text=True, **kw)
    if p.returncode != 0:
        raise RuntimeError("%s: exit %d: %s" % (" ".join(cmd), p.returncode,
                                                (p.stderr or p.stdout)[-2000:]))
    return p.stdout


def clean_env():
    """The environment without any setting forest-train or forest-serve reads
    (their --help lists them), so a stray export cannot change the run."""
    keys = set()
    for prog in (TRAIN, SERVE):
        out = subprocess.run([prog, "--help"], capture_output=True,
                             text=True)
        keys |= set(re.findall(r"^  ([A-Z][A-Z0-9_]+) ", out.stdout + out.stderr,
                               re.M))
    keys |= {"JOB_COMPLETION_INDEX"}
    return {k: v for k, v in os.environ.items() if k not in keys}


# ------------------------------------------------------------------ data
class Series:
    def __init__(self, name, dates, y, cov=None):
        self.name, self.dates, self.y = name, dates, np.asarray(y, float)
        self.cov = cov            # {name: np.array} or None


def synth(tmp, env, x10=False):
    path = os.path.join(tmp, "synth-generated.csv")
    if not os.path.exists(path):
        run([TRAIN, "synth", "--as-of", AS_OF, "--synth-series", "20",
             "--synth-days", "730", "--seed", "42", "--out", path, "--quiet"],
            env=env)
    by = {}
    with open(path) as f:
        for r in csv.DictReader(f):
            by.setdefault(r["series"], []).append(r)
    out = []
    for name in sorted(by):
        rows = sorted(by[name], key=lambda r: r["date"])
        y = np.array([float(r["demand"]) for r in rows])
        if x10:
            y = y * (1 + 9 * np.arange(len(y)) / (len(y) - 1))
        out.append(Series(name, [r["date"] for r in rows], y,
                          {c: np.array([float(r[c]) for r in rows])
                           for c in ("promo", "holiday")}))
    return out


def fetch_deb(tmp, package):
    """apt-get download PACKAGE into tmp, dpkg -x it; returns (root, version)."""
    debs = os.path.join(tmp, "debs")
    os.makedirs(debs, exist_ok=True)
    cmd = ["apt-get", "download", "-qq", package]
    p = subprocess.run(cmd, cwd=debs, capture_output=True, text=True)
    if p.returncode != 0:
        # A fresh machine may have no package lists yet.
        log("apt-get download %s failed (%s); running apt-get update" %
            (package, p.stderr.strip()[-200:]))
        sudo = [] if os.geteuid() == 0 else ["sudo"]
        subprocess.run(sudo + ["apt-get", "-o", "DPkg::Lock::Timeout=600",
                               "update", "-qq"], check=True)
        run(cmd, cwd=debs)
    deb = [f for f in os.listdir(debs) if f.startswith(package + "_")][0]
    deb = os.path.join(debs, deb)
    version = run(["dpkg-deb", "-f", deb, "Version"]).strip()
    root = os.path.join(tmp, "x", package)
    os.makedirs(root, exist_ok=True)
    run(["dpkg", "-x", deb, root])
    return root, version


def bike(tmp):
    root, version = fetch_deb(tmp, "gretl-data")
    gdt = os.path.join(root, "usr/share/gretl/data/misc/bikesharing.gdt")
    txt = gzip.open(gdt).read().decode()
    names = re.findall(r'<variable name="([^"]+)"', txt)
    obs = [line.split() for line in re.findall(r"<obs>([^<]*)</obs>", txt)]
    cnt = [float(o[names.index("cnt")]) for o in obs]
    d0 = datetime.date(2011, 1, 1)        # the file's daily start (dteday)
    dates = [(d0 + datetime.timedelta(i)).isoformat() for i in range(len(cnt))]
    return [Series("bike_cnt", dates, cnt)], "gretl-data %s: %s, variable cnt" % (
        version, gdt[len(root):])


def _rdb_record(blob):
    """One record of an R lazy-load database: 4-byte big-endian length, then
    zlib data, or a type byte ('Z' raw LZMA2, '2' bzip2, '0' stored)."""
    n = struct.unpack(">I", blob[:4])[0]
    kind = blob[4:5]
    if kind == b"Z":
        out = lzma.decompress(blob[5:], format=lzma.FORMAT_RAW, filters=[
            {"id": lzma.FILTER_LZMA2, "preset": 9 | lzma.PRESET_EXTREME}])
    elif kind == b"2":
        out = bz2.decompress(blob[5:])
    elif kind == b"0":
        out = blob[5:]
    else:
        out = zlib.decompress(blob[4:])
    if len(out) != n:
        raise RuntimeError("R lazy-load record: %d bytes, expected %d" %
                           (len(out), n))
    return out


def _rdata(raw):
    # python3-rdata 0.5 reads the serialization format; its parser entry
    # point for an in-memory blob is internal.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")   # "Missing constructor for R class"
        return rdata.conversion.convert(
            rdata.parser._parser.parse_rdata_binary(memoryview(raw)))


def chicago(tmp, days=1096):
    root, version = fetch_deb(tmp, "r-cran-modeldata")
    base = os.path.join(root, "usr/lib/R/site-library/modeldata/data/Rdata")
    index = _rdata(gzip.decompress(open(base + ".rdx", "rb").read()))
    off, length = [int(v) for v in index["variables"]["Chicago"]]
    with open(base + ".rdb", "rb") as f:
        f.seek(off)
        df = _rdata(_rdb_record(f.read(length)))
    epoch = datetime.date(1970, 1, 1)
    dates = [(epoch + datetime.timedelta(int(d))).isoformat() for d in df["date"]]
    y = df["ridership"].astype(float).values
    dates, y = dates[-days:], y[-days:]
    return [Series("chicago_clark_lake", dates, y)], (
        "r-cran-modeldata %s: %s.rdb, object Chicago, column ridership, "
        "last %d days" % (version, base[len(root):], days))


def check_daily(series):
    for s in series:
        d = [datetime.date.fromisoformat(x) for x in s.dates]
        gaps = sum((b - a).days != 1 for a, b in zip(d, d[1:]))
        if gaps:
            raise RuntimeError("%s: %d gaps in the days" % (s.name, gaps))


def test_start(n):
    return n - int(round(0.2 * n))


# ------------------------------------------------------------------ the forest
def write_train_csv(series, path, covs):
    multi = len(series) > 1
    with open(path, "w") as f:
        f.write(",".join(["date"] + (["series"] if multi else []) + ["value"]
                         + list(covs)) + "\n")
        for s in series:
            for t in range(test_start(len(s.y))):
                cells = [s.dates[t]] + ([s.name] if multi else [])
                cells.append(repr(float(s.y[t])))
                cells += ["%g" % s.cov[c][t] for c in covs]
                f.write(",".join(cells) + "\n")


def train(series, tmp, tag, env, covs):
    data = os.path.join(tmp, tag + ".train.csv")
    write_train_csv(series, data, covs)
    store = os.path.join(tmp, "models-" + tag)
    os.makedirs(store, exist_ok=True)
    e = dict(env, DATA_PATH=data, TARGET_COLUMN="value", MODEL_DIR=store,
             MODEL_VERSION="v1")
    t0 = time.monotonic()
    out = subprocess.run([TRAIN], env=e, capture_output=True, text=True)
    seconds = time.monotonic() - t0
    with open(os.path.join(tmp, tag + ".train.log"), "w") as f:
        f.write(out.stdout + out.stderr)
    if out.returncode != 0:
        raise RuntimeError("forest-train on %s: exit %d:\n%s" % (
            tag, out.returncode, (out.stdout + out.stderr)[-3000:]))
    return store, seconds


class Server:
    def __init__(self, store, tmp, tag, env):
        self.logpath = os.path.join(tmp, tag + ".serve.log")
        self.logf = open(self.logpath, "w")
        e = dict(env, MODEL_DIR=store, PORT="0", HOST="127.0.0.1",
                 RELOAD_INTERVAL_SECONDS="0", DRAIN_SECONDS="0")
        self.proc = subprocess.Popen([SERVE], env=e, stdout=self.logf,
                                     stderr=subprocess.STDOUT)
        self.port = None
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and self.proc.poll() is None:
            for line in open(self.logpath):
                if '"event":"listening"' in line:
                    self.port = json.loads(line)["port"]
            if self.port:
                try:
                    status, _ = self.call("GET", "/ready")
                    if status == 200:
                        return
                except OSError:
                    pass
            time.sleep(0.05)
        self.stop()
        raise RuntimeError("forest-serve did not get ready; see %s:\n%s" % (
            self.logpath, open(self.logpath).read()[-2000:]))

    def call(self, method, path, body=None):
        if not hasattr(self, "conn") or self.conn is None:
            self.conn = http.client.HTTPConnection("127.0.0.1", self.port,
                                                   timeout=30)
        try:
            self.conn.request(method, path, body=body,
                              headers={"Content-Type": "application/json"})
            r = self.conn.getresponse()
            data = r.read()
        except (http.client.HTTPException, OSError):
            self.conn.close()
            self.conn = None
            raise
        return r.status, data

    def stop(self):
        if getattr(self, "conn", None):
            self.conn.close()
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.logf.close()


def forest_forecasts(server, jobs, covs):
    """Returns the forecasts (jobs x H) and {level: (lower, upper)}."""
    status, body = server.call("GET", "/model")
    meta = json.loads(body)
    hist_days = int(meta["series"]["history_days"])
    values = np.zeros((len(jobs), H))
    bounds = {lvl: (np.zeros((len(jobs), H)), np.zeros((len(jobs), H)))
              for lvl in LEVELS}
    for j, (s, o) in enumerate(jobs):
        req = {"history": [{"date": s.dates[t], "value": float(s.y[t])}
                           for t in range(o - hist_days, o)], "horizon": H}
        if covs:
            req["covariates"] = [{c: float(s.cov[c][t]) for c in covs}
                                 for t in range(o, o + H)]
        for lvl in LEVELS:
            req["interval"] = lvl
            status, body = server.call("POST", "/forecast",
                                       json.dumps(req).encode())
            if status != 200:
                raise RuntimeError("/forecast: %d %s" % (status, body[:300]))
            fc = json.loads(body)["forecast"]
            if len(fc) != H or fc[0]["date"] != s.dates[o]:
                raise RuntimeError("/forecast answered %d days from %s, "
                                   "expected %d from %s" % (
                                       len(fc), fc[0]["date"], H, s.dates[o]))
            v = np.array([d["value"] for d in fc])
            if lvl == LEVELS[0]:
                values[j] = v
            elif not np.array_equal(values[j], v):
                raise RuntimeError("/forecast values differ between levels")
            bounds[lvl][0][j] = [d["interval"]["lower"] for d in fc]
            bounds[lvl][1][j] = [d["interval"]["upper"] for d in fc]
    return values, bounds, meta


# ------------------------------------------------------------------ baselines
def snaive(jobs):
    return np.array([[s.y[o - 7 + h % 7] for h in range(H)] for s, o in jobs])


def smean4(jobs):
    return np.array([[np.mean([s.y[o - 7 * k + h % 7] for k in (1, 2, 3, 4)])
                      for h in range(H)] for s, o in jobs])


def _hw_one(y):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        m = ExponentialSmoothing(y, trend="add", seasonal="add",
                                 seasonal_periods=7).fit()
        return np.asarray(m.forecast(H), float)


def holt_winters(jobs, workers):
    ys = [s.y[:o] for s, o in jobs]
    with multiprocessing.get_context("fork").Pool(workers) as pool:
        return np.array(pool.map(_hw_one, ys, chunksize=4))


# ------------------------------------------------------------------ one data set
def origins(series, step, stagger):
    jobs = []
    for i, s in enumerate(series):
        n = len(s.y)
        first = test_start(n) + (i % step if stagger else 0)
        jobs += [(s, o) for o in range(first, n - H + 1, step)]
    return jobs


def evaluate(name, tmp, env, workers):
    t0 = time.monotonic()
    covs = ()
    if name in ("synth", "synth_x10"):
        series = synth(tmp, env, x10=name == "synth_x10")
        covs = ("promo", "holiday")
        step, stagger = 7, True
        source = ("forest-train synth, 20 series x 730 days, AS_OF %s, SEED 42"
                  % AS_OF) + (", demand x a ramp from 1 to 10 over the days"
                              if name == "synth_x10" else "")
    elif name == "bike":
        series, source = bike(tmp)
        step, stagger = 1, False
    else:
        series, source = chicago(tmp)
        step, stagger = 3, False
    if UPTO < 1.0:
        # An earlier window: the days a method is chosen on, never the
        # period the standard run reports.
        keep = int(round(UPTO * len(series[0].y)))
        for s in series:
            s.dates, s.y = s.dates[:keep], s.y[:keep]
            if s.cov:
                s.cov = {c: v[:keep] for c, v in s.cov.items()}
        source += ", the first %d%% of the days only" % round(100 * UPTO)
    check_daily(series)
    n = len(series[0].y)
    jobs = origins(series, step, stagger)
    actual = np.array([s.y[o:o + H] for s, o in jobs])
    timing = {"data": time.monotonic() - t0}

    preds, cover, train_s, meta = {}, {}, {}, None
    variants = [("forest", covs)] + ([("forest_nocov", ())] if covs else [])
    t = time.monotonic()
    for method, cv in variants:
        tag = name + ("" if method == "forest" else "-nocov")
        store, train_s[method] = train(series, tmp, tag, env, cv)
        server = Server(store, tmp, tag, env)
        try:
            preds[method], bounds, m = forest_forecasts(server, jobs, cv)
        finally:
            server.stop()
        if method == "forest":
            meta = m
        cover[method] = {
            str(lvl): ((bounds[lvl][0] <= actual) & (actual <= bounds[lvl][1]))
            .mean(0).tolist() for lvl in LEVELS}
    timing["forest (train + serve)"] = time.monotonic() - t
    t = time.monotonic()
    preds["snaive"], preds["smean4"] = snaive(jobs), smean4(jobs)
    timing["seasonal baselines"] = time.monotonic() - t
    if WITH_HW:
        t = time.monotonic()
        preds["hw"] = holt_winters(jobs, workers)
        timing["Holt-Winters refits"] = time.monotonic() - t
    timing["total"] = time.monotonic() - t0

    res = {"source": source, "series": len(series), "days": n,
           "first_day": series[0].dates[0], "last_day": series[0].dates[-1],
           "train_days": test_start(n), "train_last_day":
           series[0].dates[test_start(n) - 1], "covariates": list(covs),
           "origin_step": step, "staggered": stagger, "forecasts": len(jobs),
           "horizon": H, "seconds": timing, "train_seconds": train_s,
           "forest_model": {k: meta.get(k) for k in
                            ("version", "trainer_version", "series", "training")},
           "mae": {}, "mae_mean": {}, "coverage": cover}
    for m, p in preds.items():
        mae = np.abs(p - actual).mean(0)
        res["mae"][m] = mae.tolist()
        res["mae_mean"][m] = float(mae.mean())
    return res


# ------------------------------------------------------------------ output
TITLE = {"synth": "Synthetic, 20 series",
         "synth_x10": "Synthetic x10 growth, 20 series",
         "bike": "Bike rentals (cnt), Capital Bikeshare",
         "chicago": "Chicago CTA, Clark/Lake, last 3 years"}


def table(name, r):
    lines = ["### %s" % TITLE[name], "",
             "%s. %d days (%s..%s); forest-train learned the first %d "
             "(to %s); %d forecasts of %d days from origins every %s "
             "over the last %d days%s." % (
                 r["source"], r["days"], r["first_day"], r["last_day"],
                 r["train_days"], r["train_last_day"], r["forecasts"], H,
                 "%d days" % r["origin_step"] if r["origin_step"] > 1
                 else "day",
                 r["days"] - r["train_days"],
                 " (first origin staggered by series)" if r["staggered"]
                 else ""), "",
             "| MAE | " + " | ".join("h%d" % h for h in SHOW_H)
             + " | mean h1-14 |" + (" vs HW |" if "hw" in r["mae"] else ""),
             "|---|" + "---|" * (len(SHOW_H) + 1 + ("hw" in r["mae"]))]
    hw = r["mae_mean"].get("hw")
    for m in METHODS:
        if m not in r["mae"]:
            continue
        mae = r["mae"][m]
        lines.append("| %s | %s | **%s** |%s" % (
            LABEL[m], " | ".join(fmt(mae[h - 1]) for h in SHOW_H),
            fmt(r["mae_mean"][m]), "" if hw is None else
            " %+.1f%% |" % (100 * (r["mae_mean"][m] / hw - 1))))
    lines.append("")
    for m in ("forest", "forest_nocov"):
        if m not in r["coverage"]:
            continue
        parts = []
        for lvl in LEVELS:
            c = np.array(r["coverage"][m][str(lvl)]) * 100
            parts.append("%d%%: %.1f%% (h1 %.1f, min..max %.1f..%.1f)" % (
                lvl * 100, c.mean(), c[0], c.min(), c.max()))
        lines.append("Coverage of the %s intervals over h1-14: %s." % (
            "forest's" if m == "forest" else "forest's (without covariates)",
            "; ".join(parts)))
    n = r["forecasts"]
    lines.append("(%d forecasts a horizon: a binomial standard error of "
                 "%.1f points at 80%% and %.1f at 90%%, more since nearby "
                 "origins share days.)" % (
                     n, 100 * (0.16 / n) ** 0.5, 100 * (0.09 / n) ** 0.5))
    lines.append("")
    lines.append(verdict(r))
    lines.append("")
    lines.append("Time: " + ", ".join("%s %.1f s" % kv
                                      for kv in r["seconds"].items()) + ".")
    return "\n".join(lines)


def fmt(x):
    return "%.0f" % x if abs(x) >= 100 else "%.2f" % x


def verdict(r):
    f = np.array(r["mae"]["forest"])
    out = []
    for m in ("snaive", "smean4", "hw"):
        if m not in r["mae"]:
            continue
        b = np.array(r["mae"][m])
        lose = [h + 1 for h in range(H) if f[h] > b[h]]
        mean = r["mae_mean"]["forest"] / r["mae_mean"][m] - 1
        out.append("%s: mean %s by %.1f%%, %s" % (
            LABEL[m].split(" (")[0], "wins" if mean <= 0 else "LOSES",
            abs(100 * mean), "loses at " + ranges(lose) if lose
            else "wins at every horizon"))
    return "Forest vs " + "; vs ".join(out) + "."


def ranges(hs):
    out, i = [], 0
    while i < len(hs):
        j = i
        while j + 1 < len(hs) and hs[j + 1] == hs[j] + 1:
            j += 1
        out.append("h%d" % hs[i] if i == j else "h%d-%d" % (hs[i], hs[j]))
        i = j + 1
    return ", ".join(out)


def pkg_version(p):
    out = subprocess.run(["dpkg-query", "-W", "-f", "${Version}", p],
                         capture_output=True, text=True)
    return out.stdout.strip() if out.returncode == 0 else "not installed"


def machine():
    cpu = "unknown"
    for line in open("/proc/cpuinfo"):
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2 ** 30
    distro = "unknown"
    if os.path.exists("/etc/os-release"):
        for line in open("/etc/os-release"):
            if line.startswith("PRETTY_NAME="):
                distro = line.split("=", 1)[1].strip().strip('"')
    git = subprocess.run(["git", "describe", "--tags", "--always", "--dirty"],
                         cwd=ROOT, capture_output=True, text=True).stdout.strip()
    return {"date": datetime.datetime.now(datetime.timezone.utc)
            .strftime("%Y-%m-%d %H:%M UTC"),
            "nproc": len(os.sched_getaffinity(0)), "cpu": cpu,
            "memory_gib": round(mem), "os": distro,
            "kernel": platform.release(),
            "load_average_at_start": open("/proc/loadavg").read().split()[:3],
            "code": git or "unknown", "python": platform.python_version(),
            "packages": {p: pkg_version(p) for p in (
                "python3-statsmodels", "python3-numpy", "python3-scipy",
                "python3-rdata")},
            "statsmodels": statsmodels.__version__, "numpy": np.__version__}


def main(argv):
    names = argv or list(ALL)
    for n in names:
        if n not in ALL:
            sys.exit("bench/forecast.py: error: unknown data set '%s' "
                     "(one of %s)" % (n, ", ".join(ALL)))
    t_start = time.monotonic()
    subprocess.run(["make", "-s", "-C", ROOT, "all"], check=True)
    env = clean_env()
    workers = int(os.environ.get("BENCH_FORECAST_WORKERS") or
                  len(os.sched_getaffinity(0)))
    mach = machine()
    head = ["## Forecasting benchmark, %s" % mach["date"], "",
            "- machine: %d cores (nproc), %s, %d GiB RAM, %s, kernel %s; "
            "load average at start %s" % (
                mach["nproc"], mach["cpu"], mach["memory_gib"], mach["os"],
                mach["kernel"], " ".join(mach["load_average_at_start"])),
            "- code: %s; Python %s; %s" % (
                mach["code"], mach["python"], ", ".join(
                    "%s %s" % kv for kv in mach["packages"].items())),
            "- command: %s (Holt-Winters in %d processes)" % (
                " ".join(["bench/forecast.py"] + argv), workers), ""]
    print("\n".join(head), flush=True)
    tmp = tempfile.mkdtemp(prefix="bench-forecast-")
    results = {"machine": mach, "command": ["bench/forecast.py"] + argv,
               "horizon": H, "levels": LEVELS, "data_sets": {}}
    try:
        for name in names:
            log("bench-forecast: %s ..." % name)
            r = evaluate(name, tmp, env, workers)
            results["data_sets"][name] = r
            print(table(name, r) + "\n", flush=True)
    finally:
        if os.environ.get("BENCH_FORECAST_KEEP") == "1":
            log("bench-forecast: data, models and logs kept in %s" % tmp)
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    results["seconds"] = time.monotonic() - t_start
    os.makedirs(os.path.dirname(JSON_OUT), exist_ok=True)
    with open(JSON_OUT, "w") as f:
        json.dump(results, f, indent=1)
    print("Total %.0f s; per horizon and per method in %s." % (
        results["seconds"], os.path.relpath(JSON_OUT, ROOT)
        if JSON_OUT.startswith(ROOT) else JSON_OUT))


if __name__ == "__main__":
    main(sys.argv[1:])
