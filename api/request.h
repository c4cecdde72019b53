/*
 * request.h: request bodies of /predict, /forecast and V2 infer, parsed
 * and checked against a model, with no HTTP involved.
 *
 * Each parser takes the body as bytes, returns 0 with the rows ready for
 * the forest, or the HTTP status to answer (400 malformed JSON, or for V2
 * a request that does not follow the protocol; 422 a request that is JSON
 * but wrong for this model; 500 out of memory) with a message for the
 * {"error": ...} body. The unit tests and the fuzz target
 * call them directly.
 *
 * Row data lands in a `struct scratch` that the server keeps per connection
 * and reuses, intervals' per-row work included, so a keep-alive client's
 * rows, results and intervals cost no allocation per request after its
 * first. The JSON tree itself is cJSON's, allocated per request.
 */
#ifndef FS_REQUEST_H
#define FS_REQUEST_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "forest.h"
#include "model.h"

#define REQUEST_ID_MAX 256           /* bytes of a V2 request id */
#define REQUEST_HISTORY_LIMIT 1e37   /* |value| of a forecast history day */
#define REQUEST_OUTPUT_NAME "predict" /* the V2 model's output */
/* The V2 output "parameters": {"explain": true} adds: FP64 [N, F + 1]. */
#define REQUEST_CONTRIB_NAME "contributions"
/* The top-level keys each body may hold; request.c refuses any other.
 * openapi.c's PredictRequest, V2InferRequest and ForecastRequest list the
 * same properties, and use the limits above, so the document and the parser
 * cannot drift apart unnoticed (unit test openapi-1.5 compares them both
 * ways). */
#define REQUEST_PREDICT_N_KEYS 4
#define REQUEST_INFER_N_KEYS 4
#define REQUEST_FORECAST_N_KEYS 5
extern const char *const REQUEST_PREDICT_KEYS[REQUEST_PREDICT_N_KEYS];
extern const char *const REQUEST_INFER_KEYS[REQUEST_INFER_N_KEYS];
extern const char *const REQUEST_FORECAST_KEYS[REQUEST_FORECAST_N_KEYS];
/* Reset frees larger regions; kept per connection, as BUF_KEEP_BYTES. */
#define SCRATCH_KEEP_BYTES (16u * 1024)

/* Reusable memory for one request at a time. */
struct scratch {
    float *rows;      /* feature rows, row-major */
    size_t rows_cap;  /* floats allocated */
    double *vals;     /* parsed values (history, covariates, a row) */
    size_t vals_cap;  /* doubles allocated */
    double *outs;     /* results (predictions, intervals) */
    size_t outs_cap;  /* doubles allocated */
    double *work;     /* an interval's per-tree predictions */
    size_t work_cap;  /* doubles allocated */
    float *fwork;     /* rows as the trees see them (relative to the
                         level), a forecast's rows */
    size_t fwork_cap; /* floats allocated */
};

void scratch_init(struct scratch *sc);
void scratch_release(struct scratch *sc);

/* Frees regions that grew past SCRATCH_KEEP_BYTES; keeps the rest. */
void scratch_reset(struct scratch *sc);

/* Room for n floats / doubles in a region, grown as needed (contents are
 * not kept). Return NULL when n is too large or memory runs out. */
float *scratch_rows(struct scratch *sc, size_t n);
double *scratch_vals(struct scratch *sc, size_t n);
double *scratch_outs(struct scratch *sc, size_t n);
double *scratch_work(struct scratch *sc, size_t n);
float *scratch_fwork(struct scratch *sc, size_t n);

/* POST /predict:
 *   {"features": {"lag_1": 120.5, ...}}   one row by name, any order
 *   {"features": [120.5, ...]}            one row in model order
 *   {"instances": [[...], {...}, ...]}    a batch; rows in either form
 * plus optionally "interval": 0.9 (the central 90% of the trees) and
 * "explain": true (each row's TreeSHAP contributions). */
struct predict_request {
    const float *X;   /* n_rows x n_features, in the scratch's rows */
    size_t n_rows;    /* 1..max_rows */
    int batch;        /* 1 for "instances": answer with "predictions" */
    double level;     /* interval level in (0, 1); 0 = no interval */
    int explain;      /* "explain": true */
};

/* Parses a /predict body for forest f. Returns 0, or 400/422/500 with err
 * set. */
int request_predict(const char *body, size_t len, const struct forest *f,
                    size_t max_rows, struct scratch *sc,
                    struct predict_request *out, struct fr_error *err);

/* POST /v2/models/{name}/infer, the Open Inference Protocol:
 *   {"id": "42", "inputs": [{"name": "input-0", "shape": [2, N],
 *    "datatype": "FP32", "data": [...]}]}
 * data is flat row-major or nested [batch][N]. With Triton's binary data
 * extension the input has "parameters": {"binary_data_size": B} instead
 * of data, and its B bytes (row-major, little endian) follow the JSON. */
struct infer_request {
    const float *X;               /* n_rows x n_features, scratch's rows */
    size_t n_rows;                /* 1..max_rows */
    int fp64;                     /* answer in FP64 rather than FP32 */
    int has_id;                   /* the request had an "id" */
    char id[REQUEST_ID_MAX + 1];  /* echoed in the answer */
    int binary_output;            /* answer the output as binary data:
                                     "binary_data_output" or the output's
                                     "binary_data" */
    int explain;                  /* "parameters": {"explain": true}: add
                                     the "contributions" output */
};

/* Parses a V2 infer request for forest f: len bytes of JSON, then
 * binary_len bytes of binary tensor data (0 without the extension).
 * Returns 0, or with err set 400 (malformed JSON, or the request does not
 * follow the protocol: unknown or repeated keys, an unknown output, binary
 * sizes that do not add up), 422 (it does, but does not fit the model) or
 * 500 (out of memory). */
int request_infer(const char *body, size_t len, const char *binary,
                  size_t binary_len, const struct forest *f,
                  size_t max_rows, struct scratch *sc,
                  struct infer_request *out, struct fr_error *err);

/* POST /forecast, for a forest trained on a series (f->has_series):
 *   {"history": [{"date": "2024-03-01", "value": 118.0}, ...],
 *    "horizon": 7,
 *    "covariates": [{"promo": 1, "holiday": 0}, ...],   one per day ahead
 *    "interval": 0.9,                                   optional
 *    "explain": true}                                   optional
 * history: consecutive days, oldest first, at least series_history() of
 * them; the forecast starts the day after the last. */
struct forecast_request {
    const double *past;  /* the last series_history() values, oldest first,
                            in the scratch's vals */
    int32_t first_day;   /* days since 1970-01-01 of the first forecast */
    size_t horizon;      /* days to forecast, 1..max_horizon */
    const double *cov;   /* horizon x n_covariates, in the scratch's vals */
    double level;        /* interval level in (0, 1); 0 = no interval */
    int explain;         /* "explain": true: each day's contributions */
};

/* Parses a /forecast body for forest f (which must have a series). Returns
 * 0, or 400/422/500 with err set. */
int request_forecast(const char *body, size_t len, const struct model *m,
                     size_t max_horizon, struct scratch *sc,
                     struct forecast_request *out, struct fr_error *err);

#endif
