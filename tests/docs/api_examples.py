"""Captures every example request of api/README.md and README.md, for
tests/openapi (openapi-check) to validate against GET /openapi.json.

Each "$ " line of a code block that talks to localhost:8000 or
localhost:8001 is run in bash (localhost:8000 rewritten to the test's
server, localhost:8001 to its canary server, /tmp/docs and
/tmp/forecast.json to the test's directory), with the lines before it in
its block that write those files (the forecast history, the binary
tensor, the synthetic data they come from) run first. `curl` is this script in capture mode: it records the
method, path, headers and body it was asked to send, then runs the real
curl with them, so what is validated is byte for byte what the README's
command sends.

What the README shows as the answer says what the document must do:
a client error (400, 404, 405, 413, 415, 422, shown as " NNN" after the
body, an "HTTP/1.1 NNN" line, or an {"error": ...} body with no code
shown) means the document must reject the request too; anything else
(including 401 and 503, which depend on the server's state, not on the
request) means it must accept it. A version named in a V2 path of an
example shown succeeding is recorded as the version serving at capture:
which versions exist is the server's state when the README runs it (its
canary example names v3, trained later in its flow), not the request's
shape; an example shown refused keeps its path.

Exits 1 when a command sent no request (the README's command broke before
curl, or no longer reaches the server), so the check cannot pass empty.

    api_examples.py OUT.jsonl        capture (DOCS_PORT, DOCS_CANARY_PORT)
    api_examples.py --curl ARGS...   (internal) the curl stand-in
"""
import base64
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import urllib.request

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
FILES = ["api/README.md", "README.md"]
# A setup command: one that writes a file the examples send.
WRITES = r"(>\s*|--out\s+)/tmp/(docs/|forecast\.json|synth\.csv)"
# The README's servers: port 8000 (shadow) and 8001 (canary).
SERVERS = re.compile(r"localhost:800[01]\b")
# A V2 path's version segment.
VERSION_PATH = re.compile(r"^(/v2/models/[^/]+/versions/)([^/]+)(/|$)")
CLIENT_ERRORS = {"400", "404", "405", "413", "415", "422"}


def commands(path):
    """Yields (line number, command, expected output, setup commands)."""
    lines = open(os.path.join(ROOT, path)).read().splitlines()
    i = 0
    while i < len(lines):
        if not lines[i].startswith("```"):
            i += 1
            continue
        i += 1
        block = []
        while i < len(lines) and not lines[i].startswith("```"):
            block.append((i + 1, lines[i]))
            i += 1
        i += 1
        setup = []
        for k, (num, line) in enumerate(block):
            if not line.startswith("$ "):
                continue
            cmd = line[2:]
            if re.search(WRITES, cmd) and not SERVERS.search(cmd):
                setup.append(cmd)
                continue
            if "curl" not in cmd or not SERVERS.search(cmd):
                continue
            out = []
            for _, nxt in block[k + 1:]:
                if nxt.startswith("$ "):
                    break
                out.append(nxt)
            yield num, cmd, out, list(setup)


# A 404 that reports the server's state, not a malformed request: the
# request is well formed, there is just no candidate loaded at the moment.
STATE_404 = ('{"error":"no candidate',)


def expectation(out):
    """'invalid' when the README shows a client error, else 'valid'."""
    text = [o for o in out if o.strip()]
    if not text:
        return "valid"
    if text[0].startswith(STATE_404) and text[0].rstrip().endswith(" 404"):
        return "valid"
    m = re.match(r"HTTP/1\.1 (\d{3})", text[0])
    if m:
        return "invalid" if m.group(1) in CLIENT_ERRORS else "valid"
    m = re.search(r" (\d{3})$", text[0])
    if m:
        return "invalid" if m.group(1) in CLIENT_ERRORS else "valid"
    return "invalid" if text[0].startswith('{"error"') else "valid"


def rewrite(cmd, port, canary_port, tmp):
    cmd = cmd.replace("localhost:8000", "localhost:" + port)
    cmd = cmd.replace("localhost:8001", "localhost:" + canary_port)
    cmd = cmd.replace("/tmp/docs/", tmp + "/docs/")
    cmd = cmd.replace("/tmp/synth.csv", tmp + "/synth.csv")
    return cmd.replace("/tmp/forecast.json", tmp + "/forecast.json")


def capture(out_path):
    port = os.environ["DOCS_PORT"]
    canary_port = os.environ["DOCS_CANARY_PORT"]
    with urllib.request.urlopen("http://localhost:%s/ready" % port,
                                timeout=10) as r:
        serving = json.load(r)["model_version"]
    tmp = tempfile.mkdtemp(prefix="api-examples-")
    os.makedirs(os.path.join(tmp, "docs"))
    bindir = os.path.join(tmp, "bin")
    os.makedirs(bindir)
    stand_in = os.path.join(bindir, "curl")
    with open(stand_in, "w") as f:
        f.write("#!/bin/sh\nexec %s %s --curl \"$@\"\n"
                % (sys.executable, os.path.abspath(__file__)))
    os.chmod(stand_in, 0o755)
    env = dict(os.environ)
    env["PATH"] = bindir + ":" + os.path.join(ROOT, "build") + ":" + \
        env["PATH"]
    env["CAPTURE_OUT"] = out_path
    env["CAPTURE_VERSION"] = serving
    open(out_path, "w").close()
    n = 0
    silent = []
    try:
        for path in FILES:
            for num, cmd, out, setup in commands(path):
                env["CAPTURE_WHERE"] = "%s:%d" % (path, num)
                env["CAPTURE_EXPECT"] = expectation(out)
                for s in setup:
                    subprocess.run(["bash", "-c",
                                    rewrite(s, port, canary_port, tmp)],
                                   cwd=ROOT, env=dict(env, CAPTURE_OUT=""),
                                   stdout=subprocess.DEVNULL,
                                   stderr=subprocess.DEVNULL, timeout=60)
                before = records(out_path)
                subprocess.run(["bash", "-c",
                                rewrite(cmd, port, canary_port, tmp)],
                               cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL, timeout=60)
                if records(out_path) == before:
                    silent.append(env["CAPTURE_WHERE"])
                n += 1
    finally:
        shutil.rmtree(tmp)
    for where in silent:
        print("FAIL api_examples: %s sent no request" % where)
    print("api_examples: ran %d README commands that send requests, "
          "%d of them sent none" % (n, len(silent)))
    return 1 if silent or n == 0 else 0


def records(path):
    """The number of requests captured so far."""
    with open(path) as f:
        return sum(1 for _ in f)


def curl_stand_in(args):
    """Records the request curl is asked for, then runs the real curl."""
    real = ["/usr/bin/curl"]
    temps = []
    method, url, headers, body = None, None, {}, None
    i = 0
    while i < len(args):
        a = args[i]
        if a in ("-d", "--data", "--data-binary", "--data-raw"):
            v = args[i + 1]
            if v.startswith("@") and a != "--data-raw":
                src = v[1:]
                data = sys.stdin.buffer.read() if src == "-" else \
                    open(src, "rb").read()
                # curl -d strips newlines from a file; --data-binary not.
                if a != "--data-binary":
                    data = data.replace(b"\r", b"").replace(b"\n", b"")
                fd, keep = tempfile.mkstemp()
                os.write(fd, data)
                os.close(fd)
                temps.append(keep)
                real += [a, "@" + keep]
            else:
                data = v.encode()
                real += [a, v]
            body = (body or b"") + data
            i += 2
            continue
        if a in ("-H", "--header"):
            k, _, v = args[i + 1].partition(":")
            headers[k.strip()] = v.strip()
        elif a in ("-X", "--request"):
            method = args[i + 1]
        if a in ("-H", "--header", "-X", "--request", "-w", "-o", "-D",
                 "--write-out", "--output", "--dump-header"):
            real += [a, args[i + 1]]
            i += 2
            continue
        if not a.startswith("-"):
            url = a
        real.append(a)
        i += 1
    out = os.environ.get("CAPTURE_OUT")
    if out and url is not None:
        path = "/" + url.split("://", 1)[-1].split("/", 1)[1] \
            if "/" in url.split("://", 1)[-1] else "/"
        expect = os.environ.get("CAPTURE_EXPECT", "valid")
        serving = os.environ.get("CAPTURE_VERSION")
        if expect == "valid" and serving:
            path = VERSION_PATH.sub(lambda m: m.group(1) + serving +
                                    m.group(3), path)
        rec = {"where": os.environ.get("CAPTURE_WHERE", "?"),
               "method": method or ("POST" if body is not None else "GET"),
               "path": path, "headers": headers,
               "body": base64.b64encode(body or b"").decode(),
               "expect": expect}
        with open(out, "a") as f:
            f.write(json.dumps(rec) + "\n")
    try:
        return subprocess.run(real).returncode
    finally:
        for t in temps:
            os.unlink(t)


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--curl":
        sys.exit(curl_stand_in(sys.argv[2:]))
    sys.exit(capture(sys.argv[1]))
