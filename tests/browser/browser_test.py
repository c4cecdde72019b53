"""The status page and the API docs in a real browser: Debian's chromium,
headless, driven over the DevTools protocol (python3-websocket).

Against a live forest-serve (the ASan build) holding a small series model,
with Swagger UI's files from Debian's r-cran-swagger:

  /        shows the serving version, the report chart (loaded), the
           feature importances and the error tables, and /predict's
           request count, refusals and mean latency and the most drifted
           features as /metrics and /drift give them; fits a phone's
           width; reads the same with JavaScript off
  /docs    Swagger UI lists every path of /openapi.json; "Try it out" and
           "Execute" on POST /predict get a 200 with a prediction; with
           JavaScript off the page lists the endpoints itself
  both     the browser reports no Content-Security-Policy violation
and against a server with no model: / says "No model yet".

Screenshots go to OUT_DIR (tests/out/browser); with UPDATE_SCREENSHOTS=1
the README's copies (docs/screenshots/) are replaced too. Prints one line
per check and "N passed, N failed".

  SERVE=path  the server (default build/asan/forest-serve)
  TRAIN=path  the trainer (default build/asan/forest-train)
  DOCS_DIR    Swagger UI's files (default: r-cran-swagger's dist3)
  CHROMIUM    the browser (default chromium)
"""
import base64
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

import websocket

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
SERVE = os.environ.get("SERVE", "build/asan/forest-serve")
TRAIN = os.environ.get("TRAIN", "build/asan/forest-train")
DOCS_DIR = os.environ.get("DOCS_DIR", "/usr/lib/R/site-library/swagger/dist3")
CHROMIUM = os.environ.get("CHROMIUM", "chromium")
OUT_DIR = os.environ.get("OUT_DIR", os.path.join(ROOT, "tests/out/browser"))
SHOTS = os.path.join(ROOT, "docs/screenshots")

passed = failed = 0


def check(name, ok, detail=""):
    global passed, failed
    if ok:
        passed += 1
        print("  ok    " + name)
    else:
        failed += 1
        print("  FAIL  " + name + (": " + str(detail)[:600] if detail else ""))
    sys.stdout.flush()


def wait_for(pred, seconds, step=0.1):
    """Polls pred() until it is truthy; returns its last value."""
    deadline = time.monotonic() + seconds
    while True:
        v = pred()
        if v or time.monotonic() > deadline:
            return v
        time.sleep(step)


class Server:
    """forest-serve on a port the kernel picks (PORT=0; read from its log)."""

    def __init__(self, tmp, name, model_dir):
        self.out = os.path.join(tmp, name + ".out")
        self.err = os.path.join(tmp, name + ".err")
        env = dict(os.environ, PORT="0", HOST="127.0.0.1", DRAIN_SECONDS="0",
                   MODEL_DIR=model_dir, DOCS_DIR=DOCS_DIR,
                   RELOAD_INTERVAL_SECONDS="0.2")
        self.proc = subprocess.Popen([SERVE], cwd=ROOT, env=env,
                                     stdout=open(self.out, "w"),
                                     stderr=open(self.err, "w"))
        self.port = wait_for(self._port, 30)
        if not self.port:
            raise RuntimeError("forest-serve did not start: " +
                               open(self.err).read()[-2000:])
        self.base = "http://127.0.0.1:%d" % self.port

    def _port(self):
        for line in open(self.out):
            if '"event":"listening"' in line:
                return json.loads(line)["port"]
        return None

    def stop(self):
        """SIGTERM; returns (exit status, stderr)."""
        self.proc.send_signal(signal.SIGTERM)
        rc = self.proc.wait(timeout=30)
        return rc, open(self.err).read()


class Browser:
    """One headless chromium and one page, over the DevTools protocol."""

    def __init__(self, tmp):
        self.proc = subprocess.Popen(
            [CHROMIUM, "--headless=new", "--no-sandbox", "--disable-gpu",
             "--no-first-run", "--no-default-browser-check",
             "--disable-extensions", "--disable-background-networking",
             "--remote-debugging-port=0", "--remote-allow-origins=*",
             "--user-data-dir=" + os.path.join(tmp, "profile"),
             "--window-size=1280,900", "about:blank"],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        ws_url = None
        deadline = time.monotonic() + 60
        while ws_url is None and time.monotonic() < deadline:
            line = self.proc.stderr.readline()
            if not line:
                break
            m = re.search(r"DevTools listening on (ws://\S+)", line)
            if m:
                ws_url = m.group(1)
        if ws_url is None:
            raise RuntimeError("chromium did not start its DevTools server")
        port = re.match(r"ws://[^:]+:(\d+)/", ws_url).group(1)
        pages = json.load(urllib.request.urlopen(
            "http://127.0.0.1:%s/json/list" % port))
        page = [p for p in pages if p["type"] == "page"][0]
        self.ws = websocket.create_connection(page["webSocketDebuggerUrl"],
                                              timeout=30,
                                              suppress_origin=True)
        self.next_id = 0
        self.events = []
        self.call("Page.enable")
        self.call("Runtime.enable")
        self.call("Log.enable")

    def call(self, method, **params):
        self.next_id += 1
        my = self.next_id
        self.ws.send(json.dumps({"id": my, "method": method,
                                 "params": params}))
        while True:
            msg = json.loads(self.ws.recv())
            if msg.get("id") == my:
                if "error" in msg:
                    raise RuntimeError("%s: %s" % (method, msg["error"]))
                return msg.get("result", {})
            if "method" in msg:
                self.events.append(msg)

    def load(self, url, seconds=30):
        """Navigates and waits for the load event."""
        self.events = [e for e in self.events
                       if e["method"] != "Page.loadEventFired"]
        self.call("Page.navigate", url=url)
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if any(e["method"] == "Page.loadEventFired" for e in self.events):
                return True
            self.ws.settimeout(max(0.1, deadline - time.monotonic()))
            try:
                msg = json.loads(self.ws.recv())
            except websocket.WebSocketTimeoutException:
                break
            if "method" in msg:
                self.events.append(msg)
        return False

    def js(self, expr):
        r = self.call("Runtime.evaluate", expression=expr, returnByValue=True,
                      awaitPromise=True)
        if "exceptionDetails" in r:
            raise RuntimeError(r["exceptionDetails"].get("text", "error"))
        return r["result"].get("value")

    def wait_js(self, expr, seconds=20):
        return wait_for(lambda: self.js(expr), seconds, 0.2)

    def viewport(self, width, height, mobile=False):
        self.call("Emulation.setDeviceMetricsOverride", width=width,
                  height=height, deviceScaleFactor=1, mobile=mobile)

    def screenshot(self, name, full=True):
        params = {"format": "png"}
        if full:
            params["captureBeyondViewport"] = True
            size = self.call("Page.getLayoutMetrics")["cssContentSize"]
            params["clip"] = {"x": 0, "y": 0, "width": size["width"],
                              "height": min(size["height"], 4000),
                              "scale": 1}
        data = base64.b64decode(self.call("Page.captureScreenshot",
                                          **params)["data"])
        path = os.path.join(OUT_DIR, name)
        with open(path, "wb") as f:
            f.write(data)
        return path

    def csp_violations(self):
        """Console and log messages that report a blocked resource."""
        bad = []
        for e in self.events:
            text = ""
            if e["method"] == "Log.entryAdded":
                text = e["params"]["entry"].get("text", "")
            elif e["method"] == "Runtime.consoleAPICalled":
                text = " ".join(str(a.get("value", ""))
                                for a in e["params"].get("args", []))
            if "Content Security Policy" in text or "Refused to" in text:
                bad.append(text)
        return bad

    def close(self):
        try:
            self.ws.close()
        finally:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def is_ready(base):
    try:
        return urllib.request.urlopen(base + "/ready").status == 200
    except OSError:  # 503 until the model loads
        return False


def train(model_dir):
    os.makedirs(model_dir)
    env = dict(os.environ, N_ESTIMATORS="10", MAX_DEPTH="4",
               SYNTH_SERIES="3", SYNTH_DAYS="120", SEED="1",
               MODEL_VERSION="v1", PROMOTE_MAX_REGRESSION="1000",
               QUIET="1", AS_OF="2026-07-01")
    subprocess.run([TRAIN, "--model-dir", model_dir], cwd=ROOT, env=env,
                   check=True)


def status_page(b, srv):
    b.viewport(1100, 900)
    check("/ loads", b.load(srv.base + "/"))
    check("/ shows the serving version",
          b.js("document.getElementById('version').textContent") == "v1")
    check("/ shows the report chart, loaded from /report.svg",
          b.wait_js("(() => { const i = document.getElementById('report');"
                    " return i !== null && i.complete && "
                    "i.naturalWidth > 0; })()", 10))
    # One bar per feature the model has (its metadata, through /model).
    with urllib.request.urlopen(srv.base + "/model") as r:
        n_features = len(json.load(r)["feature_importances"])
    check("/ shows the feature importances as SVG bars",
          n_features > 0 and
          b.js("document.querySelectorAll('#importance-chart rect').length")
          == n_features)
    check("/ compares the test errors with the baseline",
          "seasonal_naive_7" in b.js("document.getElementById('errors')"
                                     ".textContent"))
    check("/ shows the backtest against its baselines",
          "seasonal_mean_4w" in b.js("document.getElementById('errors')"
                                     ".textContent"))
    traffic_and_drift(b, srv, n_features)
    b.screenshot("status.png")
    b.viewport(390, 844, mobile=True)
    b.load(srv.base + "/")
    width = b.js("document.documentElement.scrollWidth")
    check("/ fits a phone's width (390 px) without sideways scrolling",
          width is not None and width <= 390, "scrollWidth %s" % width)
    b.screenshot("status-phone.png")
    b.viewport(1100, 900)
    b.call("Emulation.setScriptExecutionDisabled", value=True)
    b.load(srv.base + "/")
    check("/ reads the same with JavaScript off",
          b.js("document.getElementById('version').textContent") == "v1")
    b.call("Emulation.setScriptExecutionDisabled", value=False)


def fetch(url, body=None):
    """(status, body text) of a GET, or of a POST when body is given."""
    req = urllib.request.Request(url, data=body)
    try:
        with urllib.request.urlopen(req) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def prom(text):
    """{(name, {labels}) as 'name{labels}': value} of a /metrics text."""
    out = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            key, _, value = line.rpartition(" ")
            out[key] = float(value)
    return out


def traffic_and_drift(b, srv, n_features):
    """The page's request counts, latency and drift are the server's own:
    after 3 answered /predict rows and one refused request, the page's
    predict row and drift table match /metrics and /drift, read after it
    (nothing predicts in between, so neither moves)."""
    row = json.dumps({"features": [1.0] * n_features}).encode()
    codes = [fetch(srv.base + "/predict", row)[0] for _ in range(3)]
    codes.append(fetch(srv.base + "/predict", b'{"features": []}')[0])
    check("3 rows predicted and one request refused before / loads",
          codes == [200, 200, 200, 422], codes)
    b.load(srv.base + "/")
    rows = b.js("[...document.querySelectorAll('#traffic tbody tr')]"
                ".map(tr => [...tr.cells].map(c => c.textContent))") or []
    predict = [r for r in rows if r and r[0] == "predict"]
    metrics = prom(fetch(srv.base + "/metrics")[1])
    pre = 'forest_serve_requests_total{endpoint="predict",code="'
    total = sum(v for k, v in metrics.items() if k.startswith(pre))
    not_ok = sum(v for k, v in metrics.items()
                 if k.startswith(pre) and not k[len(pre)] == "2")
    lat = 'forest_serve_request_duration_seconds_%s{endpoint="predict"}'
    mean_ms = (metrics.get(lat % "sum", 0) * 1000 /
               max(metrics.get(lat % "count", 0), 1))
    shown = predict[0] if predict else None
    check("/ counts /predict's requests and refusals as /metrics does "
          "(4, 1 not 2xx)",
          shown is not None and int(shown[1]) == 4 == total and
          int(shown[2]) == 1 == not_ok, "page %s, /metrics %s and %s"
          % (shown, total, not_ok))
    check("/ shows /predict's mean latency from /metrics' sum and count",
          shown is not None and abs(float(shown[3]) - mean_ms) <= 0.001,
          "page %s ms, /metrics %.6f ms" % (shown and shown[3], mean_ms))
    drift = json.loads(fetch(srv.base + "/drift")[1])
    psi = {f["name"]: f["psi"] for f in drift["features"]}
    table = b.js("[...document.querySelectorAll('#drift tbody tr')]"
                 ".map(tr => [...tr.cells].map(c => c.textContent))") or []
    note = b.js("document.querySelector('#drift .note').textContent") or ""
    top = sorted(psi.values(), reverse=True)[:5]
    check("/ shows the 5 most shifted features of /drift, with their PSI",
          len(table) == min(5, len(psi)) > 0 and
          all(name in psi and value == "%.3f" % psi[name]
              for name, value in table) and
          [float(v) for _, v in table] == [float("%.3f" % v) for v in top],
          "page %s, /drift %s" % (table, sorted(psi.items(),
                                               key=lambda kv: -kv[1])[:5]))
    check("/ says how many scored rows the drift window holds (3)",
          drift["window_rows"] == 3 and "last 3 scored rows" in note,
          "page %r, /drift %s" % (note, drift["window_rows"]))


def docs_page(b, srv):
    paths = sorted(json.load(urllib.request.urlopen(
        srv.base + "/openapi.json"))["paths"].keys())
    b.viewport(1280, 900)
    check("/docs loads", b.load(srv.base + "/docs"))
    n = b.wait_js("document.querySelectorAll('.opblock').length >= %d && "
                  "document.querySelectorAll('.opblock').length"
                  % len(paths), 30)
    check("/docs renders Swagger UI with an operation per path", bool(n),
          "%s operations" % n)
    shown = b.js("[...document.querySelectorAll('.opblock-summary-path')]"
                 ".map(e => e.getAttribute('data-path') || "
                 "e.textContent.trim())")
    missing = [p for p in paths if p not in (shown or [])]
    check("/docs lists every path of /openapi.json", not missing,
          "missing %s" % missing)
    b.screenshot("docs.png", full=False)
    # Send a request from the page: open POST /predict, Try it out,
    # Execute, read the live response.
    op = "#operations-predictions-post_predict"
    b.js("document.querySelector('%s .opblock-summary').click()" % op)
    ok = b.wait_js("document.querySelector('%s .try-out__btn') !== null"
                   % op, 10)
    if ok:
        b.js("document.querySelector('%s .try-out__btn').click()" % op)
        ok = b.wait_js("document.querySelector('%s .execute') !== null"
                       % op, 10)
    if ok:
        b.js("document.querySelector('%s .execute').click()" % op)
    status = b.wait_js(
        "(() => { const c = document.querySelector('%s .live-responses-table"
        " tbody .response-col_status'); return c ? c.textContent.trim() : ''; })()"
        % op, 15)
    body = b.js("(() => { const c = document.querySelector('%s "
                ".live-responses-table .response-col_description pre');"
                " return c ? c.textContent : ''; })()" % op) or ""
    check("/docs sends POST /predict from 'Try it out' and gets 200",
          status == "200", "status %r" % status)
    check("/docs shows the prediction that came back",
          '"prediction"' in body and '"model_version"' in body, body[:200])
    b.js("document.querySelector('%s').scrollIntoView()" % op)
    b.screenshot("docs-try-it-out.png", full=False)
    check("/ and /docs break no Content-Security-Policy rule",
          not b.csp_violations(), b.csp_violations())
    b.call("Emulation.setScriptExecutionDisabled", value=True)
    b.load(srv.base + "/docs")
    rows = b.js("document.querySelectorAll('#endpoints tbody tr').length")
    check("/docs lists the endpoints with JavaScript off",
          rows == len(paths),
          "%s rows for %d paths" % (rows, len(paths)))
    b.call("Emulation.setScriptExecutionDisabled", value=False)


def no_model_page(b, srv):
    b.viewport(1100, 700)
    check("/ loads with no model", b.load(srv.base + "/"))
    text = b.js("document.body.innerText") or ""
    check("/ says 'No model yet' when none is loaded",
          b.js("document.getElementById('no-model') !== null") and
          "No model yet" in text, text[:200])
    b.screenshot("no-model.png")


def main():
    os.makedirs(OUT_DIR, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix="forest-browser-")
    servers, browser = [], None
    try:
        train(os.path.join(tmp, "models"))
        os.makedirs(os.path.join(tmp, "empty"))
        srv = Server(tmp, "model", os.path.join(tmp, "models"))
        servers.append(srv)
        check("the server loads the model",
              wait_for(lambda: is_ready(srv.base), 10))
        empty = Server(tmp, "empty", os.path.join(tmp, "empty"))
        servers.append(empty)
        browser = Browser(tmp)
        status_page(browser, srv)
        docs_page(browser, srv)
        no_model_page(browser, empty)
    except Exception as e:  # a crash is a failure, not a skip
        check("the browser test runs to the end", False, repr(e))
    finally:
        if browser is not None:
            browser.close()
        for s in servers:
            rc, err = s.stop()
            check("server exits 0 with an empty stderr (no sanitizer "
                  "report)", rc == 0 and err == "", err[-1000:])
        shutil.rmtree(tmp, ignore_errors=True)
    if os.environ.get("UPDATE_SCREENSHOTS") == "1" and failed == 0:
        os.makedirs(SHOTS, exist_ok=True)
        for name in ("status.png", "docs.png", "docs-try-it-out.png",
                     "status-phone.png", "no-model.png"):
            shutil.copy(os.path.join(OUT_DIR, name), SHOTS)
        print("screenshots copied to docs/screenshots/")
    print("%d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
