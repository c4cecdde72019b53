/*
 * stats.h: the server's Prometheus metrics.
 *
 * Counters are relaxed atomics updated on the request path (a handful of
 * uncontended adds per request) and read only when /metrics renders them,
 * so no lock is ever taken for them. Latency buckets are stored
 * non-cumulative and summed at render time.
 */
#ifndef FS_STATS_H
#define FS_STATS_H

#include <stdatomic.h>
#include <stdint.h>

#include "buf.h"

/* What a request was for: the `endpoint` label. */
enum endpoint {
    EP_HEALTH,
    EP_READY,
    EP_PREDICT,
    EP_FORECAST,
    EP_MODEL,
    EP_METRICS,
    EP_V2_SERVER,
    EP_V2_LIVE,
    EP_V2_READY,
    EP_V2_MODEL,
    EP_V2_MODEL_READY,
    EP_V2_INFER,
    EP_DRIFT,
    EP_STATUS,    /* GET /, the status page */
    EP_REPORT,    /* GET /report.svg */
    EP_DOCS,      /* GET /docs and its assets */
    EP_OPENAPI,   /* GET /openapi.json */
    EP_MODEL_CANDIDATE,
    EP_NOT_FOUND, /* no such path */
    EP_COUNT
};

/* Which model answered a request: the `role` label. */
enum model_role {
    ROLE_NONE,      /* no model answered (probes, errors before one) */
    ROLE_CURRENT,   /* MODEL_DIR/current */
    ROLE_CANDIDATE, /* MODEL_DIR/candidate (canary, or its version named
                       in a V2 path) */
    ROLE_COUNT
};

#define STATS_N_CODES 10   /* 200 400 401 404 405 413 422 500 503 other */
#define STATS_N_BUCKETS 15 /* latency bucket upper bounds, +Inf last */

struct stats {
    _Atomic uint64_t requests[EP_COUNT][STATS_N_CODES];
    _Atomic uint64_t latency[EP_COUNT][STATS_N_BUCKETS]; /* per bucket */
    _Atomic uint64_t latency_ns[EP_COUNT];               /* sum, ns */
    _Atomic int64_t in_flight;      /* requests begun and not completed */
    _Atomic uint64_t predictions;   /* rows predicted, forecast steps too */
    _Atomic size_t body_memory;     /* bytes of request-body buffers held
                                       now, <= MAX_BODY_MEMORY_BYTES (the
                                       server keeps this budget) */
    /* Requests a model answered, by role (ROLE_CURRENT, ROLE_CANDIDATE;
     * [ROLE_NONE] unused), and their latency as above. */
    _Atomic uint64_t role_requests[ROLE_COUNT];
    _Atomic uint64_t role_latency[ROLE_COUNT][STATS_N_BUCKETS];
    _Atomic uint64_t role_latency_ns[ROLE_COUNT];
    /* Shadow mode: rows the candidate scored beside the current model,
     * the sum of |candidate - current| over them (a double's bits,
     * added with compare-and-swap), and rows not scored (the candidate
     * takes other features, or past SHADOW_MAX_ROWS in one request). */
    _Atomic uint64_t shadow_rows;
    _Atomic uint64_t shadow_abs_diff_bits;
    _Atomic uint64_t shadow_skipped;
};

/* What /metrics says about the model; filled by the caller. */
struct stats_model {
    int loaded;              /* a model is serving */
    const char *version;     /* when loaded */
    const char *checksum;    /* "crc32:xxxxxxxx", when loaded */
    double loaded_at;        /* Unix time of the swap, when loaded */
    double load_seconds;     /* read + decode + verify, when loaded */
    uint64_t reload_ok;      /* loads that succeeded, the first included */
    uint64_t reload_failed;  /* loads refused */
    const char *current_named; /* the version the store's `current` named
                                  at the last read; NULL or "": unknown */
    int remote;              /* the store is S3: store_errors is shown */
    uint64_t store_errors;   /* polls or downloads the store failed */
    int draining;            /* shutting down */
    const char *candidate_mode; /* "off", "shadow" or "canary"; NULL is
                                   off: no role or shadow series shown */
    double canary_percent;   /* CANARY_PERCENT */
    int candidate_loaded;    /* a candidate is loaded */
    const char *candidate_version;  /* when candidate_loaded */
    const char *candidate_checksum; /* when candidate_loaded */
    uint64_t candidate_shadow_rows; /* rows this candidate shadowed */
    double candidate_abs_diff;      /* their sum of |candidate - current| */
};

/* Zeroes every counter; cannot fail. */
void stats_init(struct stats *s);

/* The name used in the `endpoint` label ("predict", "v2_infer", ...). */
const char *stats_endpoint_name(enum endpoint ep);

/* A request has begun (headers read): the in-flight gauge goes up. */
void stats_request_begin(struct stats *s);

/* A request has completed with this status after `seconds`: the gauge goes
 * down and the counters and histogram take it. Status 0 (the client went
 * away before an answer was made) only lowers the gauge. */
void stats_request_end(struct stats *s, enum endpoint ep, int status,
                       double seconds);

/* A request answered by a model in `role` (ROLE_NONE does nothing)
 * took `seconds`. Cannot fail. */
void stats_role_end(struct stats *s, enum model_role role, double seconds);

/* Adds v to a double kept as the bits of an _Atomic uint64_t (a
 * compare-and-swap loop: C11 has no atomic double add). Cannot fail. */
void stats_add_double(_Atomic uint64_t *bits, double v);

/* Reads such a double. */
double stats_get_double(_Atomic uint64_t *bits);

/* Counts shadowed rows: n scored with abs_diff their summed absolute
 * difference, skipped not scored. Cannot fail. */
void stats_add_shadow(struct stats *s, uint64_t n, double abs_diff,
                      uint64_t skipped);

/* The `role` label's value ("current", "candidate"). */
const char *stats_role_name(enum model_role role);

/* Counts n predicted rows. */
void stats_add_predictions(struct stats *s, uint64_t n);

/* Requests begun and not yet completed. */
int64_t stats_in_flight(struct stats *s);

/* Appends v as a Prometheus label value: quoted, with ", \\ and newlines
 * escaped. */
void stats_label_value(struct buf *out, const char *v);

/* Appends the Prometheus text exposition (format 0.0.4) to out. Sets
 * out->failed when memory runs out. */
void stats_render(struct stats *s, const struct stats_model *m,
                  struct buf *out);

#endif
