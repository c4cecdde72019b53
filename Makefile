# Mini ML Platform: plain Makefile.
#
#   make            build/forest-train and build/forest-serve (release)
#   make test       unit and program tests under ASan + UBSan
#   make run        install build packages, build, train on synthetic data, serve
#   make bench      compare with scikit-learn, XGBoost and FastAPI (bench/)
#   make bench-forecast  /forecast against seasonal naive and Holt-Winters
#   make images     container images (model/Dockerfile, api/Dockerfile)
#   make e2e        the whole platform on a real Kubernetes (tests/e2e)
#   make s3-test    the S3 client against a SeaweedFS built here (tests/s3)
#   make e2e-multinode  SeaweedFS and NetworkPolicies on a 3-node kind cluster
#   make monitoring-images  Prometheus and KEDA images for overlays/monitoring

CC      ?= cc
VERSION := $(shell git describe --tags --always --dirty 2>/dev/null || echo unknown)
OPT     ?= -O3 -g
WARN    := -std=c11 -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes
DEFS    := -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE \
           -DFR_VERSION='"$(VERSION)"'
CFLAGS  ?=
CFLAGS  += $(OPT) $(WARN) $(DEFS) -pthread -Ilibforest
LDLIBS  := -lcsv -lcjson -lcurl -lcrypto -lexpat -lz -lm -pthread
SAN     := -O1 -g -fsanitize=address,undefined -fno-sanitize-recover=undefined \
           -fno-omit-frame-pointer

LIB_SRC := libforest/error.c libforest/config.c libforest/csvfile.c \
           libforest/dataset.c libforest/series.c libforest/synth.c \
           libforest/parallel.c libforest/forest.c libforest/model.c \
           libforest/metrics.c libforest/store.c libforest/tabular.c \
           libforest/monotonic.c libforest/file.c libforest/calibration.c \
           libforest/profile.c libforest/forecast.c libforest/s3.c \
           libforest/explain.c libforest/store_s3.c libforest/xgboost.c
TRAIN_SRC := model/main.c model/train.c model/metadata.c model/report.c \
             model/backtest.c model/gate.c model/export.c
# The server's parsers, handlers and registry, without its shell (main.c,
# and server.c's libmicrohttpd): what tests/server/test_request.c and the
# fuzz targets link.
SERVE_CORE_SRC := api/handlers.c api/registry.c api/request.c api/stats.c \
                  api/encoding.c api/drift.c api/routes.c api/openapi.c \
                  api/pages.c \
                  api/log.c api/buf.c api/auth.c
SERVE_SRC := api/main.c api/server.c $(SERVE_CORE_SRC)
TEST_SRC  := tests/unit/main.c tests/unit/test_data.c tests/unit/test_forest.c \
             tests/unit/test_model.c tests/unit/test_store.c \
             tests/unit/test_metadata.c tests/unit/test_explain.c \
             tests/unit/test_xgboost.c

LIB_OBJ   := $(LIB_SRC:%.c=build/obj/%.o)
TRAIN_OBJ := $(TRAIN_SRC:%.c=build/obj/%.o)
SERVE_OBJ := $(SERVE_SRC:%.c=build/obj/%.o)
SAN_LIB_OBJ   := $(LIB_SRC:%.c=build/asan/%.o)
SAN_TRAIN_OBJ := $(TRAIN_SRC:%.c=build/asan/%.o)
SAN_SERVE_OBJ := $(SERVE_SRC:%.c=build/asan/%.o)
SAN_TEST_OBJ  := $(TEST_SRC:%.c=build/asan/%.o)
SAN_CORE_OBJ  := $(SERVE_CORE_SRC:%.c=build/asan/%.o)
# libFuzzer targets: clang, the same warnings and definitions, coverage
# instrumentation on everything they link.
FUZZ_CC       ?= clang
FUZZ_FLAGS    := -O1 -g $(WARN) $(DEFS) -pthread -Ilibforest -Iapi \
                 -fsanitize=address,undefined -fno-sanitize-recover=undefined \
                 -fno-omit-frame-pointer
FUZZ_OBJ      := $(patsubst %.c,build/fuzz/obj/%.o,$(LIB_SRC) $(SERVE_CORE_SRC))
FUZZ_TARGETS  := request model

.PHONY: all deps test run bench bench-forecast images image-test manifest-test e2e e2e-build-test \
        s3-test e2e-multinode seaweedfs-image monitoring-images fuzz clean

all: build/forest-train build/forest-serve

build/obj/%.o: %.c $(wildcard libforest/*.h api/*.h model/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c -o $@ $<

build/asan/%.o: %.c $(wildcard libforest/*.h api/*.h model/*.h tests/unit/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(SAN) -Imodel -Iapi -c -o $@ $<

build/fuzz/obj/%.o: %.c $(wildcard libforest/*.h api/*.h)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_FLAGS) -fsanitize=fuzzer-no-link -c -o $@ $<

build/fuzz/fuzz-%: tests/fuzz/fuzz_%.c $(FUZZ_OBJ)
	$(FUZZ_CC) $(FUZZ_FLAGS) -fsanitize=fuzzer -o $@ $^ $(LDLIBS)

build/libforest.a: $(LIB_OBJ)
	ar rcs $@ $^

build/asan/libforest.a: $(SAN_LIB_OBJ)
	ar rcs $@ $^

build/forest-train: $(TRAIN_OBJ) build/libforest.a
	$(CC) $(CFLAGS) -o $@ $^ $(LDLIBS)

build/forest-serve: $(SERVE_OBJ) build/libforest.a
	$(CC) $(CFLAGS) -o $@ $^ -lmicrohttpd $(LDLIBS)

# Batch-prediction benchmark (bench/predict.c), used by make bench.
build/bench-predict: bench/predict.c build/libforest.a
	$(CC) $(CFLAGS) -o $@ $^ $(LDLIBS)

# Loading and binning on their own (bench/scale.c), used by bench/scale.sh.
build/bench-scale: bench/scale.c build/libforest.a
	$(CC) $(CFLAGS) -o $@ $^ $(LDLIBS)

# One row's tree walk alone (bench/predict_row.c): forest_predict_row
# against the plain walk, µs per row.
build/bench-predict-row: bench/predict_row.c build/libforest.a
	$(CC) $(CFLAGS) -o $@ $^ $(LDLIBS)

# libmicrohttpd's own ceiling (bench/mhd_constant.c): a constant reply
# from a daemon started as forest-serve starts it, for bench/ceiling.sh.
build/bench-mhd-constant: bench/mhd_constant.c
	@mkdir -p build
	$(CC) $(CFLAGS) -o $@ $^ -lmicrohttpd -pthread

# The cost of an explanation (bench/explain.c): µs per TreeSHAP row.
build/bench-explain: bench/explain.c build/libforest.a
	$(CC) $(CFLAGS) -o $@ $^ $(LDLIBS)

build/asan/forest-train: $(SAN_TRAIN_OBJ) build/asan/libforest.a
	$(CC) $(CFLAGS) $(SAN) -o $@ $^ $(LDLIBS)

build/asan/forest-serve: $(SAN_SERVE_OBJ) build/asan/libforest.a
	$(CC) $(CFLAGS) $(SAN) -o $@ $^ -lmicrohttpd $(LDLIBS)

# metadata.c is the trainer's, but its failure paths are tested as a unit.
# The server's request, handler and registry tests, without a socket.
build/asan/test-request: build/asan/tests/server/test_request.o $(SAN_CORE_OBJ) \
                         build/asan/libforest.a
	$(CC) $(CFLAGS) $(SAN) -o $@ $^ $(LDLIBS)

build/asan/test-unit: $(SAN_TEST_OBJ) build/asan/model/metadata.o build/asan/libforest.a
	$(CC) $(CFLAGS) $(SAN) -o $@ $^ $(LDLIBS)

# The S3 client's test program; tests/s3/run.sh runs it against SeaweedFS.
build/asan/test-s3: build/asan/tests/s3/test_s3.o build/asan/libforest.a
	$(CC) $(CFLAGS) $(SAN) -o $@ $^ $(LDLIBS)

# The OpenAPI checker (tests/openapi, kin-openapi from the Go module
# proxy; go.sum pins it). The docs test runs it on /openapi.json and the
# READMEs' example requests.
GO ?= $(shell command -v go 2>/dev/null || echo /usr/local/go/bin/go)
build/openapi-check: tests/openapi/main.go tests/openapi/go.mod tests/openapi/go.sum
	@mkdir -p build
	cd tests/openapi && GOFLAGS=-mod=mod GOTOOLCHAIN=local $(GO) build -o ../../$@ .

deps:
	scripts/install-deps.sh build

# The unit, program, server and README suites under ASan + UBSan; each
# prints "N passed, N failed" and tests/run.sh adds them up. The slower
# image-test, manifest-test and e2e are separate targets (CI runs them all).
test: build/asan/test-unit build/asan/test-request build/asan/forest-train \
      build/asan/forest-serve
	tests/run.sh

run: deps all
	scripts/run.sh

bench: all build/bench-predict
	bench/run.sh

# Multi-day forecasts: forest-serve's /forecast against seasonal naive, the
# seasonal mean of 4 weeks and statsmodels Holt-Winters, on the synthetic
# series and two real ones (downloaded with apt-get download, not installed);
# bench/forecast.py, about 2 minutes on 2 cores. Results also in
# build/bench-forecast.json.
bench-forecast: all
	env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE /usr/bin/python3 bench/forecast.py

# libFuzzer targets (clang) for request bodies and model files, a short run;
# FUZZ_SECONDS per target (tests/fuzz/fuzz.sh; not a run.sh, so make test
# does not fuzz).
fuzz: $(FUZZ_TARGETS:%=build/fuzz/fuzz-%)
	FUZZ_TARGETS="$(FUZZ_TARGETS)" tests/fuzz/fuzz.sh

clean:
	rm -rf build

# A one-node Kubernetes built from the Go module proxy (cached under
# /var/cache/mini-ml-e2e), the whole user flow on it, then teardown.
e2e:
	tests/e2e/run.sh

# A kind cluster (1 control plane, 2 workers) from a node image built here
# offline, NetworkPolicies enforced (kube-router), SeaweedFS from
# overlays/object-store, checks, teardown (tests/e2e-multinode/run.sh).
e2e-multinode:
	tests/e2e-multinode/run.sh

# The object store's image for overlays/object-store (images/seaweedfs).
seaweedfs-image:
	scripts/build-seaweedfs-image.sh

# Prometheus (Debian's package) and KEDA (from the Go module proxy, cached
# under E2E_CACHE) for overlays/monitoring (scripts/build-monitoring-images.sh).
monitoring-images:
	scripts/build-monitoring-images.sh

# The S3 client against a real SeaweedFS on loopback, built from the Go
# module proxy into the e2e cache (tests/s3/run.sh; not part of make test).
s3-test: build/asan/test-s3 build/asan/forest-train build/asan/forest-serve
	tests/s3/run.sh

# The e2e build helper against a fake go: a failing build step must fail
# make e2e and leave no .done stamp (tests/e2e/build-test.sh, seconds).
e2e-build-test:
	tests/e2e/build-test.sh

# Container images (model/Dockerfile, api/Dockerfile), tagged IMAGE_TAG and
# the git describe version; missing base images are made locally.
IMAGE_TAG ?= dev
.PHONY: minikube-up minikube-load minikube-retrain minikube-parallel-train \
        minikube-down
images:
	scripts/build-images.sh $(IMAGE_TAG) $(VERSION)

# Builds both images and runs them with plain Docker and compose (slow).
image-test:
	IMAGE_TAG=$(IMAGE_TAG) tests/images/run.sh

# Renders k8s/ and its examples and checks them offline (schemas, the
# restricted Pod Security Standard, labels, requests).
manifest-test:
	tests/manifests/run.sh

# The minikube workflow: up (start, build, apply, train, smoke test), load
# (the HPA from 2 to 5), retrain (new model, no restart), the parallel
# training example, down (remove the platform).
minikube-up:
	scripts/minikube-up.sh
minikube-load:
	scripts/minikube-load.sh
minikube-retrain:
	scripts/minikube-retrain.sh
minikube-parallel-train:
	scripts/minikube-parallel-train.sh
minikube-down:
	scripts/minikube-down.sh
