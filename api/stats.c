/*
 * stats.c: Prometheus counters and their text exposition (see stats.h).
 *
 * Only series that have seen a request are printed, so a scrape stays a
 * few dozen lines instead of every endpoint x status code combination.
 */
#include "stats.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

static const char *const EP_NAMES[EP_COUNT] = {
    "health",   "ready",       "predict",   "forecast",       "model",
    "metrics",  "v2_server",   "v2_live",   "v2_ready",       "v2_model",
    "v2_model_ready",          "v2_infer",  "drift",     "status",
    "report",   "docs",        "openapi",   "model_candidate",
    "not_found"};

static const int CODES[STATS_N_CODES - 1] = {200, 400, 401, 404, 405,
                                             413, 422, 500, 503};

/* Upper bounds in seconds; the last bucket is +Inf. */
static const double BOUNDS[STATS_N_BUCKETS - 1] = {
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01,
    0.025,  0.05,    0.1,    0.25,  0.5,    1.0,   2.5};

/* The latency bucket of a duration: the first bound it does not pass. */
static int bucket_of(double seconds)
{
    int b = 0;

    while (b < STATS_N_BUCKETS - 1 && seconds > BOUNDS[b])
        b++;
    return b;
}

void stats_init(struct stats *s)
{
    for (int e = 0; e < EP_COUNT; e++) {
        for (int c = 0; c < STATS_N_CODES; c++)
            atomic_init(&s->requests[e][c], 0);
        for (int b = 0; b < STATS_N_BUCKETS; b++)
            atomic_init(&s->latency[e][b], 0);
        atomic_init(&s->latency_ns[e], 0);
    }
    for (int r = 0; r < ROLE_COUNT; r++) {
        atomic_init(&s->role_requests[r], 0);
        for (int b = 0; b < STATS_N_BUCKETS; b++)
            atomic_init(&s->role_latency[r][b], 0);
        atomic_init(&s->role_latency_ns[r], 0);
    }
    atomic_init(&s->shadow_rows, 0);
    atomic_init(&s->shadow_abs_diff_bits, 0); /* the bits of 0.0 */
    atomic_init(&s->shadow_skipped, 0);
    atomic_init(&s->in_flight, 0);
    atomic_init(&s->predictions, 0);
    atomic_init(&s->body_memory, 0);
}

const char *stats_endpoint_name(enum endpoint ep)
{
    return (unsigned)ep < EP_COUNT ? EP_NAMES[ep] : "unknown";
}

void stats_request_begin(struct stats *s)
{
    atomic_fetch_add_explicit(&s->in_flight, 1, memory_order_relaxed);
}

static int code_slot(int status)
{
    for (int i = 0; i < STATS_N_CODES - 1; i++) {
        if (CODES[i] == status)
            return i;
    }
    return STATS_N_CODES - 1;
}

void stats_request_end(struct stats *s, enum endpoint ep, int status,
                       double seconds)
{
    int b;

    atomic_fetch_sub_explicit(&s->in_flight, 1, memory_order_relaxed);
    if ((unsigned)ep >= EP_COUNT || status == 0)
        return;
    b = bucket_of(seconds);
    atomic_fetch_add_explicit(&s->requests[ep][code_slot(status)], 1,
                              memory_order_relaxed);
    atomic_fetch_add_explicit(&s->latency[ep][b], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&s->latency_ns[ep],
                              (uint64_t)(seconds > 0 ? seconds * 1e9 : 0),
                              memory_order_relaxed);
}

const char *stats_role_name(enum model_role role)
{
    return role == ROLE_CANDIDATE ? "candidate" : "current";
}

void stats_role_end(struct stats *s, enum model_role role, double seconds)
{
    if (role != ROLE_CURRENT && role != ROLE_CANDIDATE)
        return;
    atomic_fetch_add_explicit(&s->role_requests[role], 1,
                              memory_order_relaxed);
    atomic_fetch_add_explicit(&s->role_latency[role][bucket_of(seconds)], 1,
                              memory_order_relaxed);
    atomic_fetch_add_explicit(&s->role_latency_ns[role],
                              (uint64_t)(seconds > 0 ? seconds * 1e9 : 0),
                              memory_order_relaxed);
}

void stats_add_double(_Atomic uint64_t *bits, double v)
{
    uint64_t old = atomic_load_explicit(bits, memory_order_relaxed), next;
    double d;

    do {
        memcpy(&d, &old, sizeof d);
        d += v;
        memcpy(&next, &d, sizeof next);
    } while (!atomic_compare_exchange_weak_explicit(
        bits, &old, next, memory_order_relaxed, memory_order_relaxed));
}

double stats_get_double(_Atomic uint64_t *bits)
{
    uint64_t u = atomic_load_explicit(bits, memory_order_relaxed);
    double d;

    memcpy(&d, &u, sizeof d);
    return d;
}

void stats_add_shadow(struct stats *s, uint64_t n, double abs_diff,
                      uint64_t skipped)
{
    if (n > 0) {
        atomic_fetch_add_explicit(&s->shadow_rows, n, memory_order_relaxed);
        stats_add_double(&s->shadow_abs_diff_bits, abs_diff);
    }
    if (skipped > 0)
        atomic_fetch_add_explicit(&s->shadow_skipped, skipped,
                                  memory_order_relaxed);
}

void stats_add_predictions(struct stats *s, uint64_t n)
{
    atomic_fetch_add_explicit(&s->predictions, n, memory_order_relaxed);
}

int64_t stats_in_flight(struct stats *s)
{
    return atomic_load_explicit(&s->in_flight, memory_order_relaxed);
}

static uint64_t get(_Atomic uint64_t *v)
{
    return atomic_load_explicit(v, memory_order_relaxed);
}

static void render_requests(struct stats *s, struct buf *out)
{
    buf_puts(out,
             "# HELP forest_serve_requests_total HTTP requests answered, by "
             "endpoint and status code.\n"
             "# TYPE forest_serve_requests_total counter\n");
    for (int e = 0; e < EP_COUNT; e++) {
        for (int c = 0; c < STATS_N_CODES; c++) {
            uint64_t n = get(&s->requests[e][c]);
            char code[8];
            if (n == 0)
                continue;
            if (c < STATS_N_CODES - 1)
                snprintf(code, sizeof code, "%d", CODES[c]);
            else
                snprintf(code, sizeof code, "other");
            buf_printf(out,
                       "forest_serve_requests_total{endpoint=\"%s\",code="
                       "\"%s\"} %llu\n", EP_NAMES[e], code,
                       (unsigned long long)n);
        }
    }
}

static void render_latency(struct stats *s, struct buf *out)
{
    buf_puts(out,
             "# HELP forest_serve_request_duration_seconds Time from the "
             "request's headers to the end of its response.\n"
             "# TYPE forest_serve_request_duration_seconds histogram\n");
    for (int e = 0; e < EP_COUNT; e++) {
        uint64_t cum = 0;
        for (int b = 0; b < STATS_N_BUCKETS; b++)
            cum += get(&s->latency[e][b]);
        if (cum == 0)
            continue;
        cum = 0;
        for (int b = 0; b < STATS_N_BUCKETS; b++) {
            cum += get(&s->latency[e][b]);
            if (b < STATS_N_BUCKETS - 1)
                buf_printf(out,
                           "forest_serve_request_duration_seconds_bucket{"
                           "endpoint=\"%s\",le=\"%g\"} %llu\n", EP_NAMES[e],
                           BOUNDS[b], (unsigned long long)cum);
            else
                buf_printf(out,
                           "forest_serve_request_duration_seconds_bucket{"
                           "endpoint=\"%s\",le=\"+Inf\"} %llu\n",
                           EP_NAMES[e], (unsigned long long)cum);
        }
        buf_printf(out,
                   "forest_serve_request_duration_seconds_sum{endpoint="
                   "\"%s\"} %.9f\n"
                   "forest_serve_request_duration_seconds_count{endpoint="
                   "\"%s\"} %llu\n", EP_NAMES[e],
                   (double)get(&s->latency_ns[e]) / 1e9, EP_NAMES[e],
                   (unsigned long long)cum);
    }
}

/* Label values are version names ([A-Za-z0-9._-]) and checksums, but a
 * version read from a metadata.json could hold anything: escape it. */
void stats_label_value(struct buf *out, const char *v)
{
    buf_add(out, "\"", 1);
    for (const char *p = v; *p; p++) {
        if (*p == '"' || *p == '\\')
            buf_add(out, "\\", 1);
        if (*p == '\n')
            buf_add(out, "\\n", 2);
        else
            buf_add(out, p, 1);
    }
    buf_add(out, "\"", 1);
}

/* The role-labelled series: requests and latency by the model that
 * answered (versions are in forest_serve_model_role_info, so the labels
 * stay two), and what shadow mode measured. */
static void render_roles(struct stats *s, const struct stats_model *m,
                         struct buf *out)
{
    uint64_t rows = get(&s->shadow_rows);

    buf_puts(out,
             "# HELP forest_serve_model_requests_total Requests a model "
             "answered (/predict, /forecast, V2 infer), by its role.\n"
             "# TYPE forest_serve_model_requests_total counter\n");
    for (int r = ROLE_CURRENT; r < ROLE_COUNT; r++)
        buf_printf(out, "forest_serve_model_requests_total{role=\"%s\"} "
                   "%llu\n", stats_role_name((enum model_role)r),
                   (unsigned long long)get(&s->role_requests[r]));
    buf_puts(out,
             "# HELP forest_serve_model_request_duration_seconds Time from "
             "the request's headers to the end of its response, by the "
             "role of the model that answered.\n"
             "# TYPE forest_serve_model_request_duration_seconds "
             "histogram\n");
    for (int r = ROLE_CURRENT; r < ROLE_COUNT; r++) {
        const char *name = stats_role_name((enum model_role)r);
        uint64_t cum = 0;
        for (int b = 0; b < STATS_N_BUCKETS; b++) {
            cum += get(&s->role_latency[r][b]);
            if (b < STATS_N_BUCKETS - 1)
                buf_printf(out, "forest_serve_model_request_duration_seconds"
                           "_bucket{role=\"%s\",le=\"%g\"} %llu\n", name,
                           BOUNDS[b], (unsigned long long)cum);
            else
                buf_printf(out, "forest_serve_model_request_duration_seconds"
                           "_bucket{role=\"%s\",le=\"+Inf\"} %llu\n", name,
                           (unsigned long long)cum);
        }
        buf_printf(out,
                   "forest_serve_model_request_duration_seconds_sum{role="
                   "\"%s\"} %.9f\n"
                   "forest_serve_model_request_duration_seconds_count{role="
                   "\"%s\"} %llu\n", name,
                   (double)get(&s->role_latency_ns[r]) / 1e9, name,
                   (unsigned long long)cum);
    }
    buf_puts(out,
             "# HELP forest_serve_model_role_info The version in each "
             "role: current answers, candidate is tried (CANDIDATE_MODE).\n"
             "# TYPE forest_serve_model_role_info gauge\n");
    if (m->loaded) {
        buf_puts(out, "forest_serve_model_role_info{role=\"current\","
                 "version=");
        stats_label_value(out, m->version);
        buf_puts(out, ",checksum=");
        stats_label_value(out, m->checksum);
        buf_puts(out, "} 1\n");
    }
    if (m->candidate_loaded) {
        buf_puts(out, "forest_serve_model_role_info{role=\"candidate\","
                 "version=");
        stats_label_value(out, m->candidate_version);
        buf_puts(out, ",checksum=");
        stats_label_value(out, m->candidate_checksum);
        buf_puts(out, "} 1\n");
    }
    buf_printf(out,
               "# HELP forest_serve_candidate_loaded 1 while a candidate "
               "is loaded.\n"
               "# TYPE forest_serve_candidate_loaded gauge\n"
               "forest_serve_candidate_loaded %d\n"
               "# HELP forest_serve_candidate_mode_info CANDIDATE_MODE and "
               "CANARY_PERCENT.\n"
               "# TYPE forest_serve_candidate_mode_info gauge\n"
               "forest_serve_candidate_mode_info{mode=\"%s\","
               "canary_percent=\"%g\"} 1\n"
               "# HELP forest_serve_shadow_rows_total Rows the candidate "
               "scored in shadow mode beside the current model.\n"
               "# TYPE forest_serve_shadow_rows_total counter\n"
               "forest_serve_shadow_rows_total %llu\n"
               "# HELP forest_serve_shadow_skipped_rows_total Rows shadow "
               "mode did not score: the candidate takes other features, "
               "or past SHADOW_MAX_ROWS in one request.\n"
               "# TYPE forest_serve_shadow_skipped_rows_total counter\n"
               "forest_serve_shadow_skipped_rows_total %llu\n"
               "# HELP forest_serve_shadow_abs_diff_total Sum over shadowed "
               "rows of |candidate - current|; divided by "
               "forest_serve_shadow_rows_total, the mean absolute "
               "difference.\n"
               "# TYPE forest_serve_shadow_abs_diff_total counter\n"
               "forest_serve_shadow_abs_diff_total %.9g\n",
               m->candidate_loaded ? 1 : 0,
               m->candidate_mode ? m->candidate_mode : "off",
               m->canary_percent, (unsigned long long)rows,
               (unsigned long long)get(&s->shadow_skipped),
               stats_get_double(&s->shadow_abs_diff_bits));
    if (m->candidate_loaded && m->candidate_shadow_rows > 0)
        buf_printf(out,
                   "# HELP forest_serve_shadow_mean_abs_diff Mean "
                   "|candidate - current| over the rows this candidate "
                   "shadowed since it was loaded.\n"
                   "# TYPE forest_serve_shadow_mean_abs_diff gauge\n"
                   "forest_serve_shadow_mean_abs_diff %.9g\n",
                   m->candidate_abs_diff / (double)m->candidate_shadow_rows);
}

void stats_render(struct stats *s, const struct stats_model *m,
                  struct buf *out)
{
    render_requests(s, out);
    render_latency(s, out);
    buf_printf(out,
               "# HELP forest_serve_requests_in_flight Requests being "
               "served now.\n"
               "# TYPE forest_serve_requests_in_flight gauge\n"
               "forest_serve_requests_in_flight %lld\n"
               "# HELP forest_serve_body_memory_bytes Memory held by request "
               "bodies now (at most MAX_BODY_MEMORY_BYTES).\n"
               "# TYPE forest_serve_body_memory_bytes gauge\n"
               "forest_serve_body_memory_bytes %zu\n"
               "# HELP forest_serve_predictions_total Rows predicted "
               "(each forecast day counts as one).\n"
               "# TYPE forest_serve_predictions_total counter\n"
               "forest_serve_predictions_total %llu\n",
               (long long)stats_in_flight(s),
               atomic_load_explicit(&s->body_memory, memory_order_relaxed),
               (unsigned long long)get(&s->predictions));
    buf_printf(out,
               "# HELP forest_serve_model_loaded 1 while a model is "
               "serving.\n"
               "# TYPE forest_serve_model_loaded gauge\n"
               "forest_serve_model_loaded %d\n", m->loaded ? 1 : 0);
    if (m->loaded) {
        buf_puts(out,
                 "# HELP forest_serve_model_info The model serving now.\n"
                 "# TYPE forest_serve_model_info gauge\n"
                 "forest_serve_model_info{version=");
        stats_label_value(out, m->version);
        buf_puts(out, ",checksum=");
        stats_label_value(out, m->checksum);
        buf_printf(out,
                   "} 1\n"
                   "# HELP forest_serve_model_load_timestamp_seconds When "
                   "the serving model was swapped in (Unix time).\n"
                   "# TYPE forest_serve_model_load_timestamp_seconds gauge\n"
                   "forest_serve_model_load_timestamp_seconds %.3f\n"
                   "# HELP forest_serve_model_load_duration_seconds Time to "
                   "read, decode and verify the serving model.\n"
                   "# TYPE forest_serve_model_load_duration_seconds gauge\n"
                   "forest_serve_model_load_duration_seconds %.6f\n",
                   m->loaded_at, m->load_seconds);
    }
    /* Beside model_info: an alert compares the two (a promoted version
     * that this pod does not serve). */
    if (m->current_named != NULL && m->current_named[0] != '\0') {
        buf_puts(out,
                 "# HELP forest_serve_store_current_info The version the "
                 "store's current named when the server last read it.\n"
                 "# TYPE forest_serve_store_current_info gauge\n"
                 "forest_serve_store_current_info{version=");
        stats_label_value(out, m->current_named);
        buf_puts(out, "} 1\n");
    }
    buf_printf(out,
               "# HELP forest_serve_model_reloads_total Model loads "
               "(the first included), by result.\n"
               "# TYPE forest_serve_model_reloads_total counter\n"
               "forest_serve_model_reloads_total{result=\"success\"} %llu\n"
               "forest_serve_model_reloads_total{result=\"failure\"} %llu\n"
               "# HELP forest_serve_draining 1 after SIGTERM, while "
               "shutting down.\n"
               "# TYPE forest_serve_draining gauge\n"
               "forest_serve_draining %d\n",
               (unsigned long long)m->reload_ok,
               (unsigned long long)m->reload_failed, m->draining ? 1 : 0);
    /* Without a candidate every request is the current model's: the
     * role series would repeat the endpoint ones. */
    if (m->candidate_mode != NULL && strcmp(m->candidate_mode, "off") != 0)
        render_roles(s, m, out);
    if (m->remote)
        buf_printf(out,
                   "# HELP forest_serve_model_store_errors_total Polls of "
                   "the S3 model store (or downloads from it) that failed; "
                   "the loaded model kept serving.\n"
                   "# TYPE forest_serve_model_store_errors_total counter\n"
                   "forest_serve_model_store_errors_total %llu\n",
                   (unsigned long long)m->store_errors);
}
