"""Checks that every manifest the docs quote still says what the docs say.

A quoted block is a ```yaml fence on the line right after a marker naming
the file it comes from (path from the repository root):

    <!-- quote: k8s/api-deployment.yaml -->
    ```yaml
    ...
    ```

The block must be an excerpt of that file. A line that is only "..." or
"# ..." (any indentation) marks an omission; the lines between omissions
form runs, each run must appear in the file as consecutive lines, and the
runs must appear in the file's order. Lines compare exactly, except for
trailing whitespace, so a changed value, comment or indentation fails the
check. A fence indented inside a list item has its indentation removed
first. YAML blocks without a marker are examples, not quotes, and are not
checked; a marker not followed by a ```yaml fence is an error.

Prints one line per quote and a closing "quotes: N passed, N failed";
exits 1 if any quote failed (or none was found).
Usage: quotes.py [FILE...]      (default: README.md theory/*.md)
"""
import glob
import os
import re
import sys

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
MARKER = re.compile(r"^\s*<!--\s*quote:\s*(\S+)\s*-->\s*$")
OMISSION = re.compile(r"^\s*(#\s*)?\.\.\.\s*$")


def quotes(lines):
    """Yields (marker line number, source path, block lines or None)."""
    for i, line in enumerate(lines):
        m = MARKER.match(line)
        if not m:
            continue
        fence = lines[i + 1] if i + 1 < len(lines) else ""
        if fence.strip() != "```yaml":
            yield i + 1, m.group(1), None
            continue
        indent = len(fence) - len(fence.lstrip())
        body = []
        j = i + 2
        while j < len(lines) and lines[j].strip() != "```":
            body.append(lines[j][indent:] if lines[j][:indent].strip() == ""
                        else lines[j])
            j += 1
        yield i + 1, m.group(1), body


def runs(block):
    """Splits a block at its omission lines into runs of lines."""
    out, cur = [], []
    for line in block:
        if OMISSION.match(line):
            if cur:
                out.append(cur)
            cur = []
        else:
            cur.append(line.rstrip())
    if cur:
        out.append(cur)
    return out


def find_run(src, run, start):
    """Index of the first place at or after start where run appears, or -1."""
    n = len(run)
    for k in range(start, len(src) - n + 1):
        if src[k:k + n] == run:
            return k
    return -1


def explain(src, run, start):
    """Says which line of a run that is not in src went wrong."""
    best_len, best_at = 0, -1
    for k in range(start, len(src)):
        m = 0
        while m < len(run) and k + m < len(src) and src[k + m] == run[m]:
            m += 1
        if m > best_len:
            best_len, best_at = m, k
    if best_at < 0:
        return "not in the file (searched from its line %d): %r" % (start + 1, run[0])
    got = src[best_at + best_len] if best_at + best_len < len(src) else "<end of file>"
    return ("the file matches %d line(s) from its line %d, then differs:\n"
            "          quoted: %r\n          file:   %r"
            % (best_len, best_at + 1, run[best_len], got))


def check(block, path):
    """Returns None if block is an excerpt of path, else a reason."""
    full = os.path.join(ROOT, path)
    if not os.path.isfile(full):
        return "no such file: %s" % path
    src = [line.rstrip() for line in open(full).read().splitlines()]
    parts = runs(block)
    if not parts:
        return "the quote is empty"
    pos = 0
    for run in parts:
        k = find_run(src, run, pos)
        if k < 0:
            return explain(src, run, pos)
        pos = k + len(run)
    return None


def main(argv):
    files = argv or ["README.md"] + sorted(
        os.path.relpath(p, ROOT) for p in glob.glob(os.path.join(ROOT, "theory", "*.md")))
    passed = failed = 0
    for doc in files:
        lines = open(os.path.join(ROOT, doc)).read().splitlines()
        for lineno, path, block in quotes(lines):
            name = "%s:%d quotes %s" % (doc, lineno, path)
            why = "the marker is not followed by a ```yaml block" if block is None \
                else check(block, path)
            if why is None:
                passed += 1
                print("  ok    " + name)
            else:
                failed += 1
                print("  FAIL  " + name)
                print("        " + why)
    print("quotes: %d passed, %d failed" % (passed, failed))
    return 1 if failed or passed == 0 else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
