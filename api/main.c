/*
 * main.c: forest-serve, the prediction server of the Mini ML Platform.
 *
 * Reads its settings (environment variables, or --long-flags which win),
 * starts the model registry's reload watcher and the HTTP server, then
 * waits for SIGTERM or SIGINT in this thread while the others serve:
 *
 *   signal       /ready turns 503 and answers say "Connection: close"
 *   DRAIN_SECONDS later (or at a second signal)
 *                the listening socket closes; requests in flight finish
 *                (for up to CONNECTION_TIMEOUT_SECONDS)
 *   then         exit 0
 *
 * SIGHUP makes the reload watchers check the model source at once. With
 * CANDIDATE_MODE shadow or canary a second registry follows
 * MODEL_DIR/candidate beside the one that follows current.
 *
 * Every signal is blocked before the first thread starts, so all threads
 * inherit the mask and only sigwait() here ever sees them.
 */
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "auth.h"
#include "config.h"
#include "handlers.h"
#include "log.h"
#include "pages.h"
#include "monotonic.h"
#include "registry.h"
#include "server.h"
#include "stats.h"

enum {
    EXIT_OK = 0,     /* served, then shut down cleanly on a signal */
    EXIT_ERROR = 1,  /* could not start: port in use, bad HOST, ... */
    EXIT_USAGE = 2   /* bad setting or command line */
};

/* Where api/Dockerfile puts Swagger UI's dist files (from Debian's
 * r-cran-swagger); make run and the tests point DOCS_DIR at the installed
 * package instead. */
#define DOCS_DIR_DEFAULT "/usr/share/forest-serve/swagger-ui"

#define RELOAD_INTERVAL_MIN 0.1 /* seconds; 0 (load once) is allowed too */

static struct {
    const char *host, *model_dir, *model_path, *model_name, *log_level;
    const char *api_token, *api_token_file, *docs_dir, *candidate_mode;
    unsigned long long port, threads, max_body, max_body_memory;
    unsigned long long max_connections, timeout;
    unsigned long long header_bytes, max_batch_rows, max_horizon;
    unsigned long long max_explain_rows;
    unsigned long long drift_window, shadow_max_rows;
    double reload_interval, drain_seconds, canary_percent;
    int metrics_token_required;
} S;

/* The one list of settings: parsing, ranges and --help all come from it. */
static const struct config_option OPTIONS[] = {
    {"PORT", CONFIG_UINT, "8000", "TCP port; 0 = any free port (logged)",
     &S.port, 0, 65535, NULL},
    {"HOST", CONFIG_STRING, "0.0.0.0",
     "address to listen on (IPv4, IPv6 such as ::, or a host name)",
     &S.host, 0, 0, NULL},
    {"MODEL_DIR", CONFIG_STRING, "/models",
     "model store: serves MODEL_DIR/current -> versions/<v>/model.bin; "
     "a directory or s3://bucket/prefix",
     &S.model_dir, 0, 0, NULL},
    {"MODEL_PATH", CONFIG_STRING, NULL,
     "serve this model.bin instead of MODEL_DIR/current", &S.model_path, 0,
     0, NULL},
    {"MODEL_NAME", CONFIG_STRING, "forest",
     "the model's name in the V2 protocol (/v2/models/<name>)",
     &S.model_name, 0, 0, NULL},
    {"RELOAD_INTERVAL_SECONDS", CONFIG_DOUBLE, "2",
     "how often to look for a new model: 0.1 or more, or 0 = load once "
     "at start",
     &S.reload_interval, 0, 86400, NULL},
    {"THREADS", CONFIG_UINT, "0", "HTTP worker threads; 0 = one per core",
     &S.threads, 0, 1024, NULL},
    {"MAX_BODY_BYTES", CONFIG_UINT, "1048576",
     "largest request body; larger gets 413", &S.max_body, 64,
     BUF_MAX_BYTES - 2, NULL},
    {"MAX_BODY_MEMORY_BYTES", CONFIG_UINT, "67108864",
     "memory all request bodies may hold at once; past it 503 with "
     "Retry-After", &S.max_body_memory, 65, 68719476736ULL, NULL},
    {"MAX_BATCH_ROWS", CONFIG_UINT, "10000",
     "most rows in one /predict or V2 infer request", &S.max_batch_rows, 1,
     10000000, NULL},
    {"MAX_HORIZON_DAYS", CONFIG_UINT, "366",
     "most days in one /forecast request", &S.max_horizon, 1, 100000,
     NULL},
    {"MAX_EXPLAIN_ROWS", CONFIG_UINT, "100",
     "most rows (or forecast days) one request may ask to explain: an "
     "explanation costs milliseconds where a prediction costs microseconds",
     &S.max_explain_rows, 1, 10000000, NULL},
    {"DRIFT_WINDOW", CONFIG_UINT, "1000",
     "recent /predict and V2 infer rows whose feature bins drift (/drift, "
     "/metrics) compares with training", &S.drift_window, 10, 1000000,
     NULL},
    {"CANDIDATE_MODE", CONFIG_STRING, "off",
     "what MODEL_DIR/candidate does: off (not loaded), shadow (scores the "
     "rows the current model answers, compared in /metrics) or canary "
     "(answers CANARY_PERCENT of requests)", &S.candidate_mode, 0, 0,
     "off|shadow|canary"},
    {"CANARY_PERCENT", CONFIG_DOUBLE, "0",
     "canary: percent of requests the candidate answers, 0 to 100, "
     "fractions allowed; a stable hash of X-Request-Id picks them (random "
     "without one)", &S.canary_percent, 0, 100, NULL},
    {"SHADOW_MAX_ROWS", CONFIG_UINT, "100",
     "shadow: rows of one request the candidate scores, bounding what "
     "shadowing adds to the request's time", &S.shadow_max_rows, 1,
     10000000, NULL},
    {"DRAIN_SECONDS", CONFIG_DOUBLE, "5",
     "after SIGTERM, keep serving this long (not ready) before closing",
     &S.drain_seconds, 0, 3600, NULL},
    {"MAX_CONNECTIONS", CONFIG_UINT, "1024",
     "open connections at once; more are closed at once",
     &S.max_connections, 1, 1000000, NULL},
    {"CONNECTION_TIMEOUT_SECONDS", CONFIG_UINT, "15",
     "close a connection idle this long; also the most time in-flight "
     "requests get at shutdown", &S.timeout, 1, 86400, NULL},
    {"MAX_HEADER_BYTES", CONFIG_UINT, "16384",
     "memory per connection for the request line and headers",
     &S.header_bytes, 4096, 1048576, NULL},
    {"API_TOKEN", CONFIG_STRING, NULL,
     "bearer token that /predict, /forecast, /model and /v2 (but not "
     "/v2/health) require; unset = no authentication", &S.api_token, 0, 0,
     NULL},
    {"API_TOKEN_FILE", CONFIG_STRING, NULL,
     "read API_TOKEN from this file (a mounted Secret)", &S.api_token_file,
     0, 0, NULL},
    {"METRICS_TOKEN_REQUIRED", CONFIG_BOOL, "false",
     "/metrics requires the token too", &S.metrics_token_required, 0, 0,
     NULL},
    {"DOCS_DIR", CONFIG_STRING, DOCS_DIR_DEFAULT,
     "Swagger UI's files (swagger-ui-bundle.js, swagger-ui.css) for /docs, "
     "read once at start; without them /docs lists the endpoints",
     &S.docs_dir, 0, 0, NULL},
    {"LOG_LEVEL", CONFIG_STRING, "info",
     "debug (adds a line per request), info, warn or error", &S.log_level,
     0, 0, "debug|info|warn|error"},
};

#define N_OPTIONS (sizeof OPTIONS / sizeof OPTIONS[0])

static void usage(FILE *fp)
{
    fprintf(fp,
            "usage: forest-serve [--flag value]...\n"
            "\n"
            "Serves the model forest-train promoted over HTTP: /predict, "
            "/forecast,\n/health, /ready, /model, /metrics and the KServe V2 "
            "protocol under /v2.\nReloads the model when MODEL_DIR/current "
            "(or MODEL_PATH) changes; with\nCANDIDATE_MODE, also follows "
            "MODEL_DIR/candidate (shadow or canary).\n"
            "\n"
            "Settings (environment variable or flag; flags win):\n");
    config_usage(fp, OPTIONS, N_OPTIONS);
    fprintf(fp, "\nSignals: SIGTERM or SIGINT drains (see DRAIN_SECONDS) and "
            "exits; a second one\nskips the rest of the drain. SIGHUP "
            "checks the model source at once.\n"
            "Exit status: 0 clean shutdown, 1 could not start (port in use, "
            "bad HOST),\n2 bad setting.\n");
}

static void log_settings(const struct auth *auth)
{
    struct log_line l;

    log_begin(&l, LOG_INFO, "starting");
    log_str(&l, "version", FR_VERSION);
    log_int(&l, "port", (long long)S.port);
    log_str(&l, "host", S.host);
    if (S.model_path != NULL)
        log_str(&l, "model_path", S.model_path);
    else
        log_str(&l, "model_dir", S.model_dir);
    log_str(&l, "model_name", S.model_name);
    log_num(&l, "reload_interval_seconds", S.reload_interval);
    log_int(&l, "threads", (long long)S.threads);
    log_int(&l, "max_body_bytes", (long long)S.max_body);
    log_int(&l, "max_body_memory_bytes", (long long)S.max_body_memory);
    log_int(&l, "max_batch_rows", (long long)S.max_batch_rows);
    log_int(&l, "max_horizon_days", (long long)S.max_horizon);
    log_int(&l, "max_explain_rows", (long long)S.max_explain_rows);
    log_int(&l, "drift_window", (long long)S.drift_window);
    log_str(&l, "candidate_mode", S.candidate_mode);
    log_num(&l, "canary_percent", S.canary_percent);
    log_int(&l, "shadow_max_rows", (long long)S.shadow_max_rows);
    log_num(&l, "drain_seconds", S.drain_seconds);
    log_int(&l, "max_connections", (long long)S.max_connections);
    log_int(&l, "connection_timeout_seconds", (long long)S.timeout);
    log_int(&l, "max_header_bytes", (long long)S.header_bytes);
    /* Whether a token is required, never the token. */
    log_bool(&l, "api_token_required", auth->token != NULL);
    log_bool(&l, "metrics_token_required", auth->metrics);
    log_str(&l, "docs_dir", S.docs_dir);
    log_str(&l, "log_level", S.log_level);
    log_end(&l);
}

static struct timespec seconds_ts(double s)
{
    struct timespec ts;

    ts.tv_sec = (time_t)s;
    ts.tv_nsec = (long)((s - (double)ts.tv_sec) * 1e9);
    return ts;
}

/* The shutdown sequence of the file header. */
static void drain(struct server *srv, struct app *app, const sigset_t *sigs,
                  int sig)
{
    struct timespec wait = seconds_ts(S.drain_seconds);
    struct log_line l;
    double deadline;
    int64_t left;

    atomic_store(&app->draining, 1);
    log_begin(&l, LOG_INFO, "draining");
    log_str(&l, "signal", sig == SIGINT ? "SIGINT" : "SIGTERM");
    log_num(&l, "drain_seconds", S.drain_seconds);
    log_end(&l);
    /* Keep serving while Kubernetes takes the pod out of the Service; a
     * second signal means "now". */
    if (S.drain_seconds > 0 && sigtimedwait(sigs, NULL, &wait) > 0)
        log_msg(LOG_INFO, "drain_cut_short", "second signal");
    server_quiesce(srv);
    log_begin(&l, LOG_INFO, "listener_closed");
    log_int(&l, "in_flight", (long long)stats_in_flight(app->stats));
    log_end(&l);
    deadline = monotonic_seconds() + (double)S.timeout;
    left = stats_in_flight(app->stats);
    while (left > 0 && monotonic_seconds() < deadline) {
        struct timespec tick = seconds_ts(0.01);
        nanosleep(&tick, NULL);
        left = stats_in_flight(app->stats);
    }
    log_begin(&l, LOG_INFO, "stopping");
    log_int(&l, "in_flight_abandoned", (long long)(left > 0 ? left : 0));
    log_end(&l);
}

int main(int argc, char **argv)
{
    struct fr_error err = {{0}};
    struct registry registry, candidate;
    struct registry_config rcfg, ccfg;
    int with_candidate;
    struct server_config scfg;
    struct server srv;
    struct stats stats;
    struct drift drift;
    struct app app;
    struct auth auth = {0};
    struct docs docs;
    enum log_level level;
    sigset_t sigs, all;
    int positional[1], sig = 0, rc = EXIT_ERROR;
    struct log_line l;

    for (int a = 1; a < argc; a++) {
        if (strcmp(argv[a], "--help") == 0 || strcmp(argv[a], "-h") == 0) {
            usage(stdout);
            return EXIT_OK;
        }
        if (strcmp(argv[a], "--version") == 0) {
            printf("forest-serve %s\n", FR_VERSION);
            return EXIT_OK;
        }
    }
    if (config_load(OPTIONS, N_OPTIONS, argc, argv, 1, positional, 0,
                    &err) < 0) {
        fprintf(stderr, "forest-serve: error: %s\n", err.msg);
        return EXIT_USAGE;
    }
    /* A poll costs a readlink and a stat; far below a tenth of a second
     * the watcher would only spin a core while idle. */
    if (S.reload_interval > 0 && S.reload_interval < RELOAD_INTERVAL_MIN) {
        fprintf(stderr, "forest-serve: error: invalid "
                "RELOAD_INTERVAL_SECONDS '%g': expected 0 (load once) or "
                "from %g to 86400\n", S.reload_interval,
                RELOAD_INTERVAL_MIN);
        return EXIT_USAGE;
    }
    /* One whole body, and for a compressed one its decoded copy too (up to
     * MAX_BODY_BYTES + 1 while the limit is being detected): otherwise such
     * a body could never fit and would get 503 on every retry. */
    if (S.max_body_memory < 2 * S.max_body + 3) {
        fprintf(stderr, "forest-serve: error: invalid MAX_BODY_MEMORY_BYTES "
                "'%llu': it must hold one whole body and its decompressed "
                "copy, so at least 2 x MAX_BODY_BYTES + 3 (%llu)\n",
                S.max_body_memory, 2 * S.max_body + 3);
        return EXIT_USAGE;
    }
    if (S.model_name[0] == '\0' || strchr(S.model_name, '/') != NULL) {
        fprintf(stderr, "forest-serve: error: invalid MODEL_NAME '%s': it "
                "is a path segment, so not empty and no '/'\n",
                S.model_name);
        return EXIT_USAGE;
    }
    /* The candidate is a pointer in a store; a lone model file has
     * none. */
    if (strcmp(S.candidate_mode, "off") != 0 && S.model_path != NULL) {
        fprintf(stderr, "forest-serve: error: invalid CANDIDATE_MODE '%s': "
                "a candidate comes from MODEL_DIR/candidate, and MODEL_PATH "
                "serves a single file (unset MODEL_PATH or set "
                "CANDIDATE_MODE=off)\n", S.candidate_mode);
        return EXIT_USAGE;
    }
    if (auth_init(&auth, S.api_token, S.api_token_file,
                  S.metrics_token_required, &err) != 0) {
        fprintf(stderr, "forest-serve: error: %s\n", err.msg);
        auth_release(&auth);
        return EXIT_USAGE;
    }
    log_parse_level(S.log_level, &level); /* choices were checked */
    log_set_level(level);
    log_settings(&auth);

    /* Before any thread exists, so every thread inherits the mask. The
     * drain waits for a second SIGTERM or SIGINT only (stop); SIGHUP's
     * default action would kill the server without a drain, so it is
     * blocked too and taken by the wait below. */
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGINT);
    all = sigs;
    sigaddset(&all, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &all, NULL);
    signal(SIGPIPE, SIG_IGN);

#ifdef __GLIBC__
    /* glibc raises its mmap threshold to the size of each large block
     * freed, so after one burst of 1 MiB bodies every later body comes
     * from the heap, and a heap that grew for a burst stays resident. A
     * fixed threshold keeps request bodies and answers over 128 KiB in
     * their own mappings, which free() returns to the system at once. */
    mallopt(M_MMAP_THRESHOLD, 128 * 1024);
#endif
    stats_init(&stats);
    /* The docs page is not worth refusing to serve predictions over:
     * without its files it lists the endpoints and says why. */
    if (docs_load(&docs, S.docs_dir, &err) != 0) {
        log_begin(&l, LOG_WARN, "docs_assets_missing");
        log_str(&l, "docs_dir", S.docs_dir);
        log_str(&l, "msg", err.msg[0] != '\0' ? err.msg :
                "swagger-ui-bundle.js or swagger-ui.css is missing: /docs "
                "shows the endpoint list only");
        log_end(&l);
        err.msg[0] = '\0';
    }
    rcfg.model_dir = S.model_dir;
    rcfg.model_path = S.model_path;
    rcfg.interval = S.reload_interval;
    if (drift_init(&drift, (size_t)S.drift_window, &err) != 0) {
        log_msg(LOG_ERROR, "start_failed", err.msg);
        docs_release(&docs);
        auth_release(&auth);
        return EXIT_ERROR;
    }
    if (registry_init(&registry, &rcfg, &err) != 0) {
        log_msg(LOG_ERROR, "start_failed", err.msg);
        docs_release(&docs);
        drift_release(&drift);
        auth_release(&auth);
        return EXIT_ERROR;
    }
    with_candidate = strcmp(S.candidate_mode, "off") != 0;
    ccfg = rcfg;
    ccfg.pointer = STORE_CANDIDATE;
    if (with_candidate && registry_init(&candidate, &ccfg, &err) != 0) {
        log_msg(LOG_ERROR, "start_failed", err.msg);
        registry_release(&registry);
        drift_release(&drift);
        auth_release(&auth);
        return EXIT_ERROR;
    }
    memset(&app, 0, sizeof app);
    app.registry = &registry;
    app.candidate = with_candidate ? &candidate : NULL;
    app.candidate_mode = strcmp(S.candidate_mode, "shadow") == 0
                             ? CANDIDATE_SHADOW
                         : strcmp(S.candidate_mode, "canary") == 0
                             ? CANDIDATE_CANARY
                             : CANDIDATE_OFF;
    app.canary_percent = S.canary_percent;
    app.shadow_max_rows = (size_t)S.shadow_max_rows;
    app.stats = &stats;
    app.model_name = S.model_name;
    app.max_batch_rows = (size_t)S.max_batch_rows;
    app.max_horizon = (size_t)S.max_horizon;
    app.max_explain_rows = (size_t)S.max_explain_rows;
    app.auth = &auth;
    app.drift = &drift;
    app.docs = &docs;
    atomic_init(&app.draining, 0);

    scfg.host = S.host;
    scfg.port = (unsigned)S.port;
    scfg.threads = (unsigned)S.threads;
    scfg.max_body = (size_t)S.max_body;
    scfg.max_body_memory = (size_t)S.max_body_memory;
    scfg.max_connections = (unsigned)S.max_connections;
    scfg.timeout = (unsigned)S.timeout;
    scfg.header_memory = (size_t)S.header_bytes;
    scfg.log_requests = log_enabled(LOG_DEBUG);
    if (server_start(&srv, &app, &scfg, &err) != 0) {
        log_msg(LOG_ERROR, "start_failed", err.msg);
        goto out_registry;
    }
    if (registry_start(&registry, &err) != 0 ||
        (with_candidate && registry_start(&candidate, &err) != 0)) {
        log_msg(LOG_ERROR, "start_failed", err.msg);
        server_stop(&srv);
        registry_stop(&registry);
        goto out_registry;
    }
    log_begin(&l, LOG_INFO, "listening");
    log_str(&l, "host", S.host);
    log_int(&l, "port", srv.port);
    log_end(&l);

    for (;;) {
        if (sigwait(&all, &sig) != 0)
            continue;
        if (sig != SIGHUP)
            break;
        /* The conventional "reread your configuration": look at the
         * model store now rather than at the next poll. */
        log_begin(&l, LOG_INFO, "reload_requested");
        log_str(&l, "signal", "SIGHUP");
        log_str(&l, "msg", "checking the model source now");
        log_end(&l);
        registry_wake(&registry);
        if (with_candidate)
            registry_wake(&candidate);
    }
    drain(&srv, &app, &sigs, sig);
    server_stop(&srv);
    registry_stop(&registry);
    if (with_candidate)
        registry_stop(&candidate);
    log_msg(LOG_INFO, "stopped", "clean shutdown");
    rc = EXIT_OK;
out_registry:
    if (with_candidate) {
        registry_stop(&candidate); /* safe when it never started */
        registry_release(&candidate);
    }
    registry_release(&registry);
    docs_release(&docs);
    drift_release(&drift);
    auth_release(&auth);
    return rc;
}
