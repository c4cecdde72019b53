"""Runs the README's examples against a live server, so the docs cannot
drift from the code.

Every ```console block in README.md, then in api/README.md, is a
transcript: a line starting with
"$ " is a command (a trailing backslash continues it), the lines after it
until the next command are its expected output. "..." in an expected line
matches any text, and a line that is only "..." matches any number of lines
(as doctest's ELLIPSIS). Commands run in bash from the repository root with
build/ programs, MODEL_DIR set to a store holding a trained model, and the
servers listening where the README says (localhost:8000, in shadow mode,
and localhost:8001, in canary mode, are rewritten to the test's ports). Prints one line per command and "N passed, N failed".
"""
import os
import re
import subprocess
import sys

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))


def blocks(text):
    """Yields (line number, [(command, [expected lines])]) per console block."""
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        if lines[i].strip() != "```console":
            i += 1
            continue
        start = i + 1
        i += 1
        body = []
        while i < len(lines) and lines[i].strip() != "```":
            body.append(lines[i])
            i += 1
        steps, cmd, expected = [], None, []
        j = 0
        while j < len(body):
            line = body[j]
            if line.startswith("$ "):
                if cmd is not None:
                    steps.append((cmd, expected))
                cmd, expected = line[2:], []
                while cmd.endswith("\\") and j + 1 < len(body):
                    j += 1
                    cmd = cmd[:-1] + "\n" + body[j]
            elif cmd is not None:
                expected.append(line)
            j += 1
        if cmd is not None:
            steps.append((cmd, expected))
        yield start, steps


def line_matches(pattern, line):
    parts = [re.escape(p) for p in pattern.split("...")]
    return re.fullmatch(".*".join(parts), line) is not None


def output_matches(expected, actual):
    """Matches line by line; a lone "..." line swallows any lines."""
    if not expected:
        return not actual
    if expected[0].strip() == "...":
        return any(output_matches(expected[1:], actual[k:])
                   for k in range(len(actual) + 1))
    return bool(actual) and line_matches(expected[0], actual[0]) and \
        output_matches(expected[1:], actual[1:])


def main():
    port = os.environ["DOCS_PORT"]
    canary_port = os.environ.get("DOCS_CANARY_PORT", port)
    env = dict(os.environ)
    env["PATH"] = os.path.join(ROOT, "build") + ":" + env["PATH"]
    passed = failed = 0
    for doc in ("README.md", "api/README.md"):
        p, f = run_doc(doc, port, canary_port, env)
        passed += p
        failed += f
    print("%d passed, %d failed" % (passed, failed))
    return 1 if failed or passed == 0 else 0


def run_doc(doc, port, canary_port, env):
    """Runs one file's console blocks; returns (passed, failed)."""
    text = open(os.path.join(ROOT, doc)).read()
    passed = failed = 0
    for start, steps in blocks(text):
        for cmd, expected in steps:
            run = cmd.replace("localhost:8000", "localhost:" + port)
            run = run.replace("localhost:8001", "localhost:" + canary_port)
            proc = subprocess.run(["bash", "-c", run], cwd=ROOT, env=env,
                                  stdout=subprocess.PIPE,
                                  stderr=subprocess.STDOUT, text=True,
                                  timeout=60)
            actual = proc.stdout.rstrip("\n").splitlines()
            expected = list(expected)
            while expected and expected[-1] == "":
                expected.pop()
            name = "%s:%d $ %s" % (doc, start, cmd.splitlines()[0][:70])
            if output_matches(expected, actual):
                passed += 1
                print("  ok    " + name)
            else:
                failed += 1
                print("  FAIL  " + name)
                print("        expected:\n          " + "\n          ".join(expected))
                print("        got:\n          " + "\n          ".join(actual))
    return passed, failed


if __name__ == "__main__":
    sys.exit(main())
