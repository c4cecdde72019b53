#!/bin/sh
# Installs the Debian packages a task needs, only those missing, so it is
# quick when everything is there. Usage: install-deps.sh build|test|bench|images
set -eu

# test: prometheus is there for promtool (tests/monitoring). On a machine
# run by systemd, Debian's package also starts a local Prometheus on :9090
# (`systemctl disable --now prometheus` stops it); containers and CI, with
# no init system or a policy-rc.d, start nothing.

build="build-essential libmicrohttpd-dev libcjson-dev libcsv-dev libcurl4-openssl-dev \
libexpat1-dev libssl-dev zlib1g-dev"
# chromium, python3-websocket: the browser test (tests/browser);
# r-cran-swagger: Swagger UI's files for /docs (DOCS_DIR in the tests and
# make run); python3-xgboost: the export test (tests/export); golang-go is
# not listed: Go comes from /usr/local/go.
test="$build clang libclang-rt-14-dev curl wrk jq python3 chromium \
python3-websocket r-cran-swagger python3-xgboost prometheus"
bench="$test python3-sklearn python3-pandas python3-joblib \
python3-fastapi uvicorn python3-statsmodels python3-rdata time nginx-light"
images="debootstrap"

case "${1:-build}" in
build) want=$build ;;
test) want=$test ;;
bench) want=$bench ;;
images) want=$images ;;
*) echo "usage: $0 build|test|bench|images" >&2; exit 2 ;;
esac

missing=""
for p in $want; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" ||
        missing="$missing $p"
done
[ -z "$missing" ] && exit 0
echo "install-deps: installing$missing"
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
# Another apt (unattended-upgrades on a fresh machine, a parallel job) may
# hold dpkg's lock: wait for it rather than fail.
lock="-o DPkg::Lock::Timeout=600"
$sudo apt-get $lock update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get $lock install -y -qq --no-install-recommends $missing >/dev/null
