"""Captures every example request of api/README.md and README.md, for
tests/openapi (openapi-check) to validate against GET /openapi.json.

Each "$ " line of a code block that talks to localhost:8000 is run in
bash (localhost:8000 rewritten to the test's server, /tmp/docs and
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
request) means it must accept it.

    api_examples.py OUT.jsonl        capture (DOCS_PORT, TMPDIR set)
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

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
FILES = ["api/README.md", "README.md"]
# A setup command: one that writes a file the examples send.
WRITES = r"(>\s*|--out\s+)/tmp/(docs/|forecast\.json|synth\.csv)"
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
            if re.search(WRITES, cmd) and "localhost:8000" not in cmd:
                setup.append(cmd)
                continue
            if "curl" not in cmd or "localhost:8000" not in cmd:
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


def rewrite(cmd, port, tmp):
    cmd = cmd.replace("localhost:8000", "localhost:" + port)
    cmd = cmd.replace("/tmp/docs/", tmp + "/docs/")
    cmd = cmd.replace("/tmp/synth.csv", tmp + "/synth.csv")
    return cmd.replace("/tmp/forecast.json", tmp + "/forecast.json")


def capture(out_path):
    port = os.environ["DOCS_PORT"]
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
    open(out_path, "w").close()
    n = 0
    try:
        for path in FILES:
            for num, cmd, out, setup in commands(path):
                env["CAPTURE_WHERE"] = "%s:%d" % (path, num)
                env["CAPTURE_EXPECT"] = expectation(out)
                for s in setup:
                    subprocess.run(["bash", "-c", rewrite(s, port, tmp)],
                                   cwd=ROOT, env=dict(env, CAPTURE_OUT=""),
                                   stdout=subprocess.DEVNULL,
                                   stderr=subprocess.DEVNULL, timeout=60)
                subprocess.run(["bash", "-c", rewrite(cmd, port, tmp)],
                               cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL, timeout=60)
                n += 1
    finally:
        shutil.rmtree(tmp)
    print("api_examples: ran %d README commands that send requests" % n)


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
        rec = {"where": os.environ.get("CAPTURE_WHERE", "?"),
               "method": method or ("POST" if body is not None else "GET"),
               "path": path, "headers": headers,
               "body": base64.b64encode(body or b"").decode(),
               "expect": os.environ.get("CAPTURE_EXPECT", "valid")}
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
    capture(sys.argv[1])
