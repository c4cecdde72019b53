#!/bin/sh
# tests/browser/run.sh: the status page and /docs in headless Chromium
# (browser_test.py says what it checks). Part of make test: about 15
# seconds. Needs chromium, python3-websocket and r-cran-swagger
# (scripts/install-deps.sh test); a missing one fails the suite.
cd "$(dirname "$0")/../.." || exit 1
PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3
exec "$PY" tests/browser/browser_test.py
