/*
 * handlers.c: every endpoint of forest-serve (see handlers.h and the
 * reference in api/README.md).
 *
 * A request takes one reference on the model when it starts and drops it
 * when its answer is written, so a reload in between cannot change the
 * model under it and every number in one answer comes from one version.
 * With a candidate (CANDIDATE_MODE), the model a request takes is picked
 * at its start (canary: a stable hash of X-Request-Id, else a random
 * draw) and every answer names its version. In shadow mode the candidate
 * scores the request's rows (at most SHADOW_MAX_ROWS of them) inline,
 * after the answer is computed and before it is written: the answer
 * itself cannot change, and the delay is bounded by that many rows of
 * the candidate's trees (bench/shadow.sh measures it).
 *
 * Answers are written straight into the connection's buffer with buf.h's
 * JSON writers instead of building a cJSON tree: the shapes are fixed and
 * this keeps the hot path to a few appends.
 */
#include "handlers.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "drift.h"
#include "explain.h"
#include "forecast.h"
#include "pages.h"
#include "rng.h"
#include "series.h"

#define JSON_TYPE "application/json"
/* A V2 answer with binary data, as Triton sends it. */
#define BINARY_TYPE "application/octet-stream"
#define METRICS_TYPE "text/plain; version=0.0.4; charset=utf-8"

void handlers_error(struct buf *out, const char *msg)
{
    buf_reset(out);
    buf_add(out, "{\"error\":", 9);
    buf_json_string(out, msg);
    buf_add(out, "}", 1);
}

static void fail(struct reply *r, struct buf *out, int status,
                 const char *msg)
{
    r->status = status;
    r->content_type = JSON_TYPE;
    handlers_error(out, msg);
}

static void no_model(struct reply *r, struct buf *out)
{
    fail(r, out, 503, "no model loaded yet");
}

/* ---- routing --------------------------------------------------------------- */

/* The rows and their matcher are routes.c's (the same table
 * /openapi.json is written from). */
static enum endpoint route_ep(const struct route_match *rt)
{
    return rt->def != NULL ? rt->def->ep : EP_NOT_FOUND;
}

enum endpoint handlers_route(const char *url)
{
    struct route_match rt;

    routes_match(url, &rt);
    return route_ep(&rt);
}

int handlers_takes_body(const char *method, const char *url)
{
    struct route_match rt;

    routes_match(url, &rt);
    return rt.def != NULL && strcmp(rt.def->methods, ROUTES_POST) == 0 &&
           strcmp(method, "POST") == 0;
}

/* ---- current and candidate -------------------------------------------------- */

/* A fraction in [0, 1) from 64 random bits: their top 53. */
static double unit_interval(uint64_t x)
{
    return (double)(x >> 11) * 0x1.0p-53;
}

int handlers_canary_pick(const char *request_id, double percent)
{
    /* Each thread draws from its own generator: no lock, no sharing. */
    static _Thread_local struct rng draw;
    static _Thread_local int seeded;
    uint64_t h;

    if (percent <= 0)
        return 0;
    if (request_id != NULL && request_id[0] != '\0') {
        /* FNV-1a, then splitmix64's finalizer: ids that differ in one
         * character (req-1, req-2) land far apart. */
        h = 0xcbf29ce484222325ull;
        for (const unsigned char *p = (const unsigned char *)request_id; *p;
             p++) {
            h ^= *p;
            h *= 0x100000001b3ull;
        }
        h = rng_splitmix64(&h);
    } else {
        if (!seeded) {
            struct timespec ts;
            clock_gettime(CLOCK_MONOTONIC, &ts);
            rng_seed(&draw, (uint64_t)ts.tv_nsec ^
                     ((uint64_t)ts.tv_sec << 32),
                     (uint64_t)(uintptr_t)&draw);
            seeded = 1;
        }
        h = rng_next(&draw);
    }
    return unit_interval(h) * 100.0 < percent;
}

/* The model a prediction request is answered with: in canary mode the
 * candidate for CANARY_PERCENT of requests (when one is loaded), else
 * the current model. Sets *role. Returns a reference (the caller drops
 * it) or NULL when no model is loaded. */
static struct serving *pick(struct app *app, const char *request_id,
                            enum model_role *role)
{
    struct serving *m;

    if (app->candidate_mode == CANDIDATE_CANARY && app->candidate != NULL &&
        handlers_canary_pick(request_id, app->canary_percent)) {
        m = registry_acquire(app->candidate);
        if (m != NULL) {
            *role = ROLE_CANDIDATE;
            return m;
        }
    }
    m = registry_acquire(app->registry);
    *role = m != NULL ? ROLE_CURRENT : ROLE_NONE;
    return m;
}

/* 1 when b reads the rows a was given: the same features in the same
 * order. */
static int same_features(const struct forest *a, const struct forest *b)
{
    if (a->n_features != b->n_features)
        return 0;
    for (uint32_t k = 0; k < a->n_features; k++) {
        if (strcmp(a->feature_names[k], b->feature_names[k]) != 0)
            return 0;
    }
    return 1;
}

/* Shadow mode: the candidate scores the first SHADOW_MAX_ROWS of the n
 * rows the current model answered (its predictions res[i * stride]) and
 * the absolute differences are counted. Runs after the answer is
 * computed and reads it only, so it cannot change it. Cannot fail: a
 * candidate that reads other features, or no memory, skips the rows. */
static void shadow(struct app *app, enum model_role role, const struct serving *cur,
                   const float *X, size_t n, const double *res,
                   size_t stride, struct scratch *sc)
{
    struct serving *cand;
    const struct forest *f = cur->model->forest;
    size_t k = n < app->shadow_max_rows ? n : app->shadow_max_rows;
    double sum = 0.0, *pred = NULL;
    float *work = NULL;

    if (app->candidate_mode != CANDIDATE_SHADOW || app->candidate == NULL ||
        role != ROLE_CURRENT || n == 0)
        return;
    cand = registry_acquire(app->candidate);
    if (cand == NULL)
        return;
    /* The answer is in outs; work and fwork are free again. The batch
     * path (lanes down each tree) as the current model's answer took. */
    if (same_features(f, cand->model->forest)) {
        pred = scratch_work(sc, k);
        work = scratch_fwork(sc, model_relative(cand->model)
                                     ? k * f->n_features : f->n_features);
    }
    if (pred == NULL || work == NULL) {
        stats_add_shadow(app->stats, 0, 0.0, n);
        serving_release(cand);
        return;
    }
    if (k == 1)
        pred[0] = model_predict_row(cand->model, X, work);
    else
        model_predict(cand->model, X, k, 1, work, pred);
    for (size_t i = 0; i < k; i++)
        sum += fabs(pred[i] - res[i * stride]);
    stats_add_shadow(app->stats, k, sum, n - k);
    atomic_fetch_add_explicit(&cand->shadow_rows, k, memory_order_relaxed);
    stats_add_double(&cand->shadow_abs_diff_bits, sum);
    serving_release(cand);
}

/* ---- health and readiness ------------------------------------------------- */

static void ready(struct app *app, struct reply *r, struct buf *out)
{
    struct serving *m = registry_acquire(app->registry);
    int draining = atomic_load(&app->draining);

    r->status = m != NULL && !draining ? 200 : 503;
    if (r->status == 200)
        buf_puts(out, "{\"status\":\"ready\",\"model_loaded\":true,"
                 "\"model_version\":");
    else if (draining)
        buf_printf(out, "{\"status\":\"draining\",\"error\":\"shutting "
                   "down\",\"model_loaded\":%s,\"model_version\":",
                   m ? "true" : "false");
    else
        buf_puts(out, "{\"status\":\"not ready\",\"error\":\"no model "
                 "loaded yet\",\"model_loaded\":false,\"model_version\":");
    if (m != NULL)
        buf_json_string(out, m->version);
    else
        buf_puts(out, "null");
    buf_puts(out, "}");
    serving_release(m);
}

static void v2_ready(struct app *app, struct reply *r, struct buf *out)
{
    struct serving *m = registry_acquire(app->registry);

    if (m != NULL && !atomic_load(&app->draining)) {
        r->status = 200;
        buf_puts(out, "{\"ready\":true}");
    } else {
        r->status = 503;
        buf_printf(out, "{\"ready\":false,\"error\":\"%s\"}",
                   m ? "shutting down" : "no model loaded yet");
    }
    serving_release(m);
}

/* ---- /metrics --------------------------------------------------------------- */

static void metrics(struct app *app, struct reply *r, struct buf *out)
{
    struct serving *m = registry_acquire(app->registry), *cand;
    struct stats_model sm = {0};
    char current_named[STORE_VERSION_MAX + 1];

    registry_current_named(app->registry, current_named,
                           sizeof current_named);
    sm.current_named = current_named;
    sm.loaded = m != NULL;
    if (m != NULL) {
        sm.version = m->version;
        sm.checksum = m->checksum;
        sm.loaded_at = m->loaded_at;
        sm.load_seconds = m->load_seconds;
    }
    sm.reload_ok = atomic_load(&app->registry->loads_ok);
    sm.reload_failed = atomic_load(&app->registry->loads_failed);
    sm.remote = app->registry->cfg.model_path == NULL &&
                store_is_s3(app->registry->cfg.model_dir);
    sm.store_errors = atomic_load(&app->registry->store_errors);
    sm.draining = atomic_load(&app->draining);
    sm.candidate_mode = app->candidate_mode == CANDIDATE_SHADOW ? "shadow"
                        : app->candidate_mode == CANDIDATE_CANARY ? "canary"
                                                                  : "off";
    sm.canary_percent = app->canary_percent;
    cand = app->candidate != NULL ? registry_acquire(app->candidate) : NULL;
    if (cand != NULL) {
        sm.candidate_loaded = 1;
        sm.candidate_version = cand->version;
        sm.candidate_checksum = cand->checksum;
        sm.candidate_shadow_rows = atomic_load(&cand->shadow_rows);
        sm.candidate_abs_diff =
            stats_get_double(&cand->shadow_abs_diff_bits);
    }
    stats_render(app->stats, &sm, out);
    serving_release(cand);
    if (m != NULL)
        drift_render_metrics(app->drift, m, out);
    r->status = 200;
    r->content_type = METRICS_TYPE;
    serving_release(m);
}

/* ---- /drift -------------------------------------------------------------- */

static void drift(struct app *app, struct reply *r, struct buf *out)
{
    struct serving *m = registry_acquire(app->registry);
    char msg[FR_ERROR_MAX];

    if (m == NULL) {
        no_model(r, out);
        return;
    }
    if (m->model->profile.n_bins == 0) {
        snprintf(msg, sizeof msg, "model '%s' has no training profile to "
                 "compare recent rows with: its file is format %u, from a "
                 "release before drift monitoring; retrain it to get drift",
                 m->version, m->model->format_version);
        fail(r, out, 422, msg);
    } else {
        drift_render_json(app->drift, m, out);
        r->status = 200;
    }
    serving_release(m);
}

/* ---- predictions ------------------------------------------------------------- */

/* Results per row with an interval: the prediction, the trees' spread
 * (std, lower, upper) and the conformal interval (lower, upper,
 * calibrated). */
enum { R_VALUE, R_STD, R_SPREAD_LO, R_SPREAD_HI, R_LOWER, R_UPPER, R_CAL,
       R_PER_ROW };

/* The spread of the trees for one row, into res[R_VALUE..R_SPREAD_HI]:
 * mean, std and the central `level` of their predictions (the 5th to 95th
 * percentile for 0.9). In the connection's scratch, so a steady client
 * allocates nothing. Returns 0, or -1 when memory runs out. */
static int spread(const struct model *m, const float *row, double level,
                  struct scratch *sc, double *res)
{
    double lo = (1.0 - level) / 2.0;
    double *work = scratch_work(sc, m->forest->n_trees);
    float *row_work = scratch_fwork(sc, m->forest->n_features);

    if (work == NULL || row_work == NULL)
        return -1;
    model_predict_spread(m, row, lo, 1.0 - lo, work, row_work,
                         &res[R_VALUE], &res[R_STD], &res[R_SPREAD_LO],
                         &res[R_SPREAD_HI]);
    return 0;
}

/* The conformal interval of one result: the calibrated bound. */
static void interval_obj(struct buf *out, double level, const double *res)
{
    buf_puts(out, "{\"level\":");
    buf_json_double(out, level);
    buf_puts(out, ",\"lower\":");
    buf_json_double(out, res[R_LOWER]);
    buf_puts(out, ",\"upper\":");
    buf_json_double(out, res[R_UPPER]);
    buf_puts(out, res[R_CAL] != 0.0 ? ",\"calibrated\":true}"
                                    : ",\"calibrated\":false}");
}

/* The trees' spread of one result: their disagreement, not a calibrated
 * bound, so it has a name of its own. */
static void spread_obj(struct buf *out, const double *res)
{
    buf_puts(out, "{\"lower\":");
    buf_json_double(out, res[R_SPREAD_LO]);
    buf_puts(out, ",\"upper\":");
    buf_json_double(out, res[R_SPREAD_HI]);
    buf_puts(out, ",\"std\":");
    buf_json_double(out, res[R_STD]);
    buf_puts(out, "}");
}

/* ,"interval":{...},"spread":{...} of one result. */
static void interval_json(struct buf *out, double level, const double *res)
{
    buf_puts(out, ",\"interval\":");
    interval_obj(out, level, res);
    buf_puts(out, ",\"spread\":");
    spread_obj(out, res);
}

/* Whether m can explain n rows; returns 0, or 422 with msg set: no cover
 * in the file, or more rows than MAX_EXPLAIN_ROWS (an explained row of 100
 * depth-10 trees costs milliseconds, a prediction microseconds, so a full
 * batch would hold a worker for minutes). Checked before any prediction,
 * so a refused request costs no tree walk. */
static int can_explain(const struct app *app, const struct serving *s,
                       size_t n, char *msg, size_t msg_len)
{
    struct fr_error err = {{0}};

    if (n > app->max_explain_rows) {
        snprintf(msg, msg_len, "explaining %zu rows is more than "
                 "MAX_EXPLAIN_ROWS (%zu) per request: an explanation costs "
                 "far more than a prediction; send fewer rows",
                 n, app->max_explain_rows);
        return 422;
    }
    if (explain_check(s->model, &err) == 0)
        return 0;
    snprintf(msg, msg_len, "model '%.100s': %.400s", s->version, err.msg);
    return 422;
}

/* The TreeSHAP contributions of n rows into phi, n x (n_features + 1)
 * (explain_row's layout, the level term last), with the path memory in
 * the connection's scratch (its work and the first n_features floats of
 * its fwork). Returns 0, or -1 when memory runs out. */
static int explain_rows(const struct model *m, const float *X, size_t n,
                        struct scratch *sc, double *phi)
{
    size_t nf = m->forest->n_features;
    double *work = scratch_work(sc, explain_work_doubles(m));
    float *row_work = scratch_fwork(sc, nf);

    if (work == NULL || row_work == NULL)
        return -1;
    for (size_t i = 0; i < n; i++)
        explain_row(m, X + i * nf, work, row_work, phi + i * (nf + 1));
    return 0;
}

/* {"base_value":b,"contributions":{"<feature>":c,...[,"level":l]}} of one
 * row's phi. */
static void explanation_obj(struct buf *out, const struct model *m,
                            double base, const double *phi)
{
    const struct forest *f = m->forest;

    buf_puts(out, "{\"base_value\":");
    buf_json_double(out, base);
    buf_puts(out, ",\"contributions\":{");
    for (uint32_t k = 0; k < f->n_features; k++) {
        if (k > 0)
            buf_add(out, ",", 1);
        buf_json_string(out, f->feature_names[k]);
        buf_add(out, ":", 1);
        buf_json_double(out, phi[k]);
    }
    if (explain_has_level(m)) {
        buf_puts(out, ",\"" EXPLAIN_LEVEL_NAME "\":");
        buf_json_double(out, phi[f->n_features]);
    }
    buf_puts(out, "}}");
}

/* Predicts the rows; with a level, res holds R_PER_ROW doubles per row,
 * else 1. Returns 0, 422 with msg set when the model cannot give the
 * interval asked for (no calibration, too few scores for the level), or
 * 500 when memory runs out. */
static int predict_rows(const struct model *m, const float *X, size_t n,
                        double level, struct scratch *sc, double *res,
                        char *msg, size_t msg_len)
{
    size_t nf = m->forest->n_features;
    float *work;

    if (level <= 0) {
        /* One row skips the batch machinery; a batch walks several rows
         * down each tree together (LANES in forest.c, forest_predict), on
         * this thread only: the server's threads already use every core. */
        work = scratch_fwork(sc, model_relative(m) ? n * nf : nf);
        if (work == NULL)
            return 500;
        if (n == 1)
            res[0] = model_predict_row(m, X, work);
        else
            model_predict(m, X, n, 1, work, res);
        return 0;
    }
    for (size_t i = 0; i < n; i++) {
        double *r = res + R_PER_ROW * i;
        const float *row = X + i * nf;
        struct fr_error err = {{0}};
        int calibrated = 0;
        if (spread(m, row, level, sc, r) != 0)
            return 500;
        if (forecast_interval(m, 1, r[R_VALUE], forecast_row_level(m, row),
                              level, &r[R_LOWER], &r[R_UPPER], &calibrated,
                              &err) != 0) {
            snprintf(msg, msg_len, "%s", err.msg);
            return 422;
        }
        r[R_CAL] = calibrated;
    }
    return 0;
}

static void predict(struct app *app, const char *request_id,
                    const char *body, size_t len, struct scratch *sc,
                    struct buf *out, struct reply *r)
{
    struct serving *m = pick(app, request_id, &r->role);
    struct predict_request req;
    struct fr_error err = {{0}};
    char msg[FR_ERROR_MAX + 64];
    size_t per, nf, n_phi;
    double *res, *phi, base = 0.0;
    int status;

    if (m == NULL) {
        no_model(r, out);
        return;
    }
    nf = m->model->forest->n_features;
    status = request_predict(body, len, m->model->forest,
                             app->max_batch_rows, sc, &req, &err);
    if (status != 0) {
        fail(r, out, status, err.msg);
        goto out;
    }
    if (req.explain && can_explain(app, m, req.n_rows, msg, sizeof msg) != 0) {
        fail(r, out, 422, msg);
        goto out;
    }
    per = req.level > 0 ? R_PER_ROW : 1;
    /* outs: per results a row, then with explain nf + 1 contributions. */
    n_phi = req.explain ? req.n_rows * (nf + 1) : 0;
    res = scratch_outs(sc, req.n_rows * per + n_phi);
    status = res == NULL ? 500 : predict_rows(m->model, req.X, req.n_rows,
                                              req.level, sc, res, msg,
                                              sizeof msg);
    phi = res != NULL ? res + req.n_rows * per : NULL;
    if (status == 0 && req.explain &&
        explain_rows(m->model, req.X, req.n_rows, sc, phi) != 0)
        status = 500;
    if (status != 0) {
        fail(r, out, status, status == 500 ?
             "out of memory for the predictions" : msg);
        goto out;
    }
    stats_add_predictions(app->stats, req.n_rows);
    drift_record(app->drift, m, req.X, req.n_rows);
    shadow(app, r->role, m, req.X, req.n_rows, res, per, sc);
    if (req.explain)
        base = explain_base(m->model);
    if (!req.batch) {
        buf_puts(out, "{\"prediction\":");
        buf_json_double(out, res[0]);
        if (req.level > 0)
            interval_json(out, req.level, res);
        if (req.explain) {
            buf_puts(out, ",\"explanation\":");
            explanation_obj(out, m->model, base, phi);
        }
    } else {
        buf_puts(out, "{\"predictions\":[");
        for (size_t i = 0; i < req.n_rows; i++) {
            if (i > 0)
                buf_add(out, ",", 1);
            buf_json_double(out, res[i * per]);
        }
        buf_puts(out, "]");
        if (req.level > 0) {
            buf_puts(out, ",\"intervals\":[");
            for (size_t i = 0; i < req.n_rows; i++) {
                if (i > 0)
                    buf_add(out, ",", 1);
                interval_obj(out, req.level, res + i * per);
            }
            buf_puts(out, "],\"spreads\":[");
            for (size_t i = 0; i < req.n_rows; i++) {
                if (i > 0)
                    buf_add(out, ",", 1);
                spread_obj(out, res + i * per);
            }
            buf_puts(out, "]");
        }
        if (req.explain) {
            buf_puts(out, ",\"explanations\":[");
            for (size_t i = 0; i < req.n_rows; i++) {
                if (i > 0)
                    buf_add(out, ",", 1);
                explanation_obj(out, m->model, base, phi + i * (nf + 1));
            }
            buf_puts(out, "]");
        }
    }
    buf_puts(out, ",\"model_version\":");
    buf_json_string(out, m->version);
    buf_puts(out, "}");
    r->status = 200;
out:
    serving_release(m);
}

static void forecast(struct app *app, const char *request_id,
                     const char *body, size_t len, struct scratch *sc,
                     struct buf *out, struct reply *r)
{
    struct serving *m = pick(app, request_id, &r->role);
    struct forecast_request req;
    struct fr_error err = {{0}};
    const struct model *mod;
    double *res, *work, *values, *phi = NULL, scale_level = 1.0, base = 0;
    float *fwork, *rows = NULL;
    size_t nf;
    int keep_rows;
    char msg[FR_ERROR_MAX + 64], date[16];
    int status;

    if (m == NULL) {
        no_model(r, out);
        return;
    }
    mod = m->model;
    if (!mod->has_series) {
        snprintf(msg, sizeof msg, "model '%s' was trained on a table, not "
                 "a series: /forecast needs a series model (use /predict)",
                 m->version);
        fail(r, out, 422, msg);
        goto out;
    }
    status = request_forecast(body, len, mod, app->max_horizon, sc, &req,
                              &err);
    if (status != 0) {
        fail(r, out, status, err.msg);
        goto out;
    }
    if (req.explain && can_explain(app, m, req.horizon, msg, sizeof msg) != 0) {
        fail(r, out, 422, msg);
        goto out;
    }
    nf = mod->forest->n_features;
    keep_rows = req.explain || req.level > 0;
    /* outs: R_PER_ROW results per day, the forecast's work, the values,
     * then with explain each day's nf + 1 contributions; fwork: the
     * forecast's floats, then with explain or an interval each day's
     * row. */
    res = scratch_outs(sc, R_PER_ROW * req.horizon +
                           forecast_work_doubles(mod) + req.horizon +
                           (req.explain ? req.horizon * (nf + 1) : 0));
    fwork = scratch_fwork(sc, forecast_work_floats(mod) +
                              (keep_rows ? req.horizon * nf : 0));
    if (res == NULL || fwork == NULL) {
        fail(r, out, 500, "out of memory for the forecast");
        goto out;
    }
    work = res + R_PER_ROW * req.horizon;
    values = work + forecast_work_doubles(mod);
    if (req.explain)
        phi = values + req.horizon;
    if (keep_rows)
        rows = fwork + forecast_work_floats(mod);
    /* The code path the trainer's backtest measured (keeping each day's
     * row, the same computation). */
    forecast_values_rows(mod, req.past, req.first_day, req.cov, req.horizon,
                         work, fwork, values, rows);
    for (size_t d = 0; d < req.horizon; d++)
        res[R_PER_ROW * d] = values[d];
    if (req.level > 0) {
        scale_level = forecast_scale_level(mod, req.past);
        /* The trees' spread on each day's own row, the one its forecast
         * was predicted from; spread() uses fwork's first nf floats. */
        for (size_t d = 0; d < req.horizon; d++) {
            double *day = res + R_PER_ROW * d;
            int calibrated = 0;
            if (spread(mod, rows + d * nf, req.level, sc, day) != 0) {
                fail(r, out, 500, "out of memory for the forecast");
                goto out;
            }
            day[R_VALUE] = values[d];
            if (forecast_interval(mod, (uint32_t)(d + 1), values[d],
                                  scale_level, req.level, &day[R_LOWER],
                                  &day[R_UPPER], &calibrated, &err) != 0) {
                fail(r, out, 422, err.msg);
                goto out;
            }
            day[R_CAL] = calibrated;
        }
    }
    /* Each day explained on the row its forecast was predicted from;
     * explain_rows uses only fwork's first nf floats, before the rows. */
    if (req.explain && explain_rows(mod, rows, req.horizon, sc, phi) != 0) {
        fail(r, out, 500, "out of memory for the explanations");
        goto out;
    }
    if (req.explain)
        base = explain_base(mod);
    stats_add_predictions(app->stats, req.horizon);
    buf_puts(out, "{\"forecast\":[");
    for (size_t d = 0; d < req.horizon; d++) {
        series_format_date(req.first_day + (int32_t)d, date);
        buf_printf(out, "%s{\"date\":\"%s\",\"value\":", d ? "," : "", date);
        buf_json_double(out, res[R_PER_ROW * d]);
        if (req.level > 0)
            interval_json(out, req.level, res + R_PER_ROW * d);
        if (req.explain) {
            buf_puts(out, ",\"explanation\":");
            explanation_obj(out, mod, base, phi + d * (nf + 1));
        }
        buf_puts(out, "}");
    }
    buf_puts(out, "],\"model_version\":");
    buf_json_string(out, m->version);
    buf_puts(out, "}");
    r->status = 200;
out:
    serving_release(m);
}

/* ---- V2 (Open Inference Protocol) ------------------------------------------ */

/* Checks the model name and version of a V2 path. Returns the model (a
 * reference the caller drops) or NULL with the error reply written. */
static struct serving *v2_model(struct app *app, const struct route_match *rt,
                              const char *request_id, struct buf *out,
                              struct reply *r)
{
    char msg[400];
    struct serving *m, *cand;

    if (strlen(app->model_name) != rt->name_len ||
        strncmp(app->model_name, rt->name, rt->name_len) != 0) {
        snprintf(msg, sizeof msg, "unknown model '%.*s' (this server serves "
                 "'%s')", (int)(rt->name_len > 100 ? 100 : rt->name_len),
                 rt->name, app->model_name);
        fail(r, out, 404, msg);
        return NULL;
    }
    /* A path that names the candidate's version reaches it in either
     * mode; one without a version is the current model, or in canary mode
     * the draw's. */
    cand = rt->version != NULL && app->candidate != NULL
               ? registry_acquire(app->candidate) : NULL;
    if (cand != NULL && strlen(cand->version) == rt->version_len &&
        strncmp(cand->version, rt->version, rt->version_len) == 0) {
        r->role = ROLE_CANDIDATE;
        return cand;
    }
    serving_release(cand);
    m = rt->version == NULL && route_ep(rt) == EP_V2_INFER
            ? pick(app, request_id, &r->role)
            : registry_acquire(app->registry);
    if (m == NULL) {
        no_model(r, out);
        return NULL;
    }
    if (r->role == ROLE_NONE)
        r->role = ROLE_CURRENT;
    if (rt->version != NULL && (strlen(m->version) != rt->version_len ||
                                strncmp(m->version, rt->version,
                                        rt->version_len) != 0)) {
        snprintf(msg, sizeof msg, "model '%s' has no version '%.*s' (serving "
                 "'%s')", app->model_name,
                 (int)(rt->version_len > 100 ? 100 : rt->version_len),
                 rt->version, m->version);
        fail(r, out, 404, msg);
        serving_release(m);
        return NULL;
    }
    return m;
}

static void v2_metadata(struct app *app, const struct route_match *rt,
                        struct buf *out, struct reply *r)
{
    struct serving *m = v2_model(app, rt, NULL, out, r);
    struct buf names;

    if (m == NULL)
        return;
    buf_puts(out, "{\"name\":");
    buf_json_string(out, app->model_name);
    buf_puts(out, ",\"versions\":[");
    buf_json_string(out, m->version);
    buf_puts(out, "],\"platform\":\"forest-serve\",\"inputs\":[{\"name\":"
             "\"input-0\",\"datatype\":\"FP32\",\"shape\":[-1,");
    buf_printf(out, "%u", m->model->forest->n_features);
    buf_puts(out, "]}],\"outputs\":[{\"name\":\"" REQUEST_OUTPUT_NAME
             "\",\"datatype\":\"FP32\",\"shape\":[-1,1]}],\"parameters\":"
             "{\"mode\":");
    buf_puts(out, m->model->has_series ? "\"series\"" : "\"tabular\"");
    buf_printf(out, ",\"n_features\":%u,\"features\":",
               m->model->forest->n_features);
    /* The protocol's parameter values are strings, numbers or booleans,
     * not arrays: the names in model order, joined with commas (GET
     * /model has them as an array). */
    buf_init(&names);
    for (uint32_t i = 0; i < m->model->forest->n_features; i++) {
        if (i > 0)
            buf_add(&names, ",", 1);
        buf_puts(&names, m->model->forest->feature_names[i]);
    }
    if (names.failed)
        out->failed = 1;
    else
        buf_json_string(out, names.data);
    buf_release(&names);
    buf_puts(out, "}}");
    r->status = 200;
    serving_release(m);
}

static void v2_model_ready(struct app *app, const struct route_match *rt,
                           struct buf *out, struct reply *r)
{
    struct serving *m = v2_model(app, rt, NULL, out, r);
    int ok = m != NULL && !atomic_load(&app->draining);

    if (m == NULL && r->status == 404)
        return;
    buf_reset(out);
    r->status = ok ? 200 : 503;
    buf_puts(out, "{\"name\":");
    buf_json_string(out, app->model_name);
    buf_printf(out, ",\"ready\":%s", ok ? "true" : "false");
    if (!ok)
        buf_printf(out, ",\"error\":\"%s\"",
                   m ? "shutting down" : "no model loaded yet");
    buf_puts(out, "}");
    serving_release(m);
}

/* Reads an Inference-Header-Content-Length value: the bytes of JSON at
 * the start of a body of len bytes. Returns 0 with *n set, or -1 with
 * msg written (a 400). */
static int header_length(const char *value, size_t len, size_t *n, char *msg,
                         size_t msg_len)
{
    unsigned long long v = 0;
    const char *p = value;

    while (*p >= '0' && *p <= '9' && v <= len) {
        v = v * 10 + (unsigned)(*p - '0');
        p++;
    }
    if (p == value || *p != '\0' || v > len) {
        snprintf(msg, msg_len, "Inference-Header-Content-Length '%.24s' is "
                 "not a byte count within the body's %zu bytes", value, len);
        return -1;
    }
    *n = (size_t)v;
    return 0;
}

/* Appends v as binary tensor data: little endian, as the protocol has
 * it whatever the host's byte order. */
static void put_le(struct buf *out, double v, int fp64)
{
    unsigned char b[8];
    uint64_t u;

    if (fp64) {
        memcpy(&u, &v, sizeof u);
    } else {
        float x = (float)v;
        uint32_t w;
        memcpy(&w, &x, sizeof w);
        u = w;
    }
    for (int k = 0; k < 8; k++)
        b[k] = (unsigned char)(u >> (8 * k));
    buf_add(out, b, fp64 ? 8 : 4);
}

static void v2_infer(struct app *app, const struct route_match *rt,
                     const char *header_len, const char *request_id,
                     const char *body, size_t len, struct scratch *sc,
                     struct buf *out, struct reply *r)
{
    struct serving *m = v2_model(app, rt, request_id, out, r);
    struct infer_request req;
    struct fr_error err = {{0}};
    size_t json_len = len, nf, width;
    double *res, *phi = NULL, base = 0.0;
    char msg[FR_ERROR_MAX + 64];
    int status;

    if (m == NULL)
        return;
    nf = m->model->forest->n_features;
    width = nf + 1;
    if (header_len != NULL &&
        header_length(header_len, len, &json_len, msg, sizeof msg) != 0) {
        fail(r, out, 400, msg);
        goto out;
    }
    status = request_infer(body, json_len, body + json_len, len - json_len,
                           m->model->forest, app->max_batch_rows, sc, &req, &err);
    if (status != 0) {
        fail(r, out, status, err.msg);
        goto out;
    }
    if (req.explain && can_explain(app, m, req.n_rows, msg, sizeof msg) != 0) {
        fail(r, out, 422, msg);
        goto out;
    }
    /* outs: the predictions, then with explain n x (nf + 1) contributions
     * (explain_rows' layout, rewritten in place to the tensor's). */
    res = scratch_outs(sc, req.n_rows + (req.explain ? req.n_rows * width :
                                                       0));
    if (res == NULL) {
        fail(r, out, 500, "out of memory for the predictions");
        goto out;
    }
    if (predict_rows(m->model, req.X, req.n_rows, 0, sc, res, msg,
                     sizeof msg) != 0 ||
        (req.explain && explain_rows(m->model, req.X, req.n_rows, sc,
                                     res + req.n_rows) != 0)) {
        fail(r, out, 500, "out of memory for the predictions");
        goto out;
    }
    if (req.explain) {
        /* XGBoost's pred_contribs layout: nf feature columns, then the
         * bias column, the base value plus, for a model relative to a
         * level, that row's level (so each row still sums to its
         * prediction). */
        phi = res + req.n_rows;
        base = explain_base(m->model);
        for (size_t i = 0; i < req.n_rows; i++)
            phi[i * width + nf] += base;
    }
    stats_add_predictions(app->stats, req.n_rows);
    drift_record(app->drift, m, req.X, req.n_rows);
    shadow(app, r->role, m, req.X, req.n_rows, res, 1, sc);
    buf_puts(out, "{\"model_name\":");
    buf_json_string(out, app->model_name);
    buf_puts(out, ",\"model_version\":");
    buf_json_string(out, m->version);
    if (req.has_id) {
        buf_puts(out, ",\"id\":");
        buf_json_string(out, req.id);
    }
    buf_printf(out, ",\"outputs\":[{\"name\":\"" REQUEST_OUTPUT_NAME
               "\",\"datatype\":\"%s\",\"shape\":[%zu,1],",
               req.fp64 ? "FP64" : "FP32", req.n_rows);
    if (req.binary_output) {
        /* The JSON says how many bytes each output has; they follow it,
         * in the outputs' order. */
        buf_printf(out, "\"parameters\":{\"binary_data_size\":%zu}}",
                   req.n_rows * (req.fp64 ? 8 : 4));
        if (req.explain)
            buf_printf(out, ",{\"name\":\"" REQUEST_CONTRIB_NAME "\","
                       "\"datatype\":\"FP64\",\"shape\":[%zu,%zu],"
                       "\"parameters\":{\"binary_data_size\":%zu}}",
                       req.n_rows, width, req.n_rows * width * 8);
        buf_puts(out, "]}");
        r->json_len = out->len;
        r->content_type = BINARY_TYPE;
        for (size_t i = 0; i < req.n_rows; i++)
            put_le(out, res[i], req.fp64);
        for (size_t i = 0; req.explain && i < req.n_rows * width; i++)
            put_le(out, phi[i], 1);
        r->status = 200;
        goto out;
    }
    buf_puts(out, "\"data\":[");
    for (size_t i = 0; i < req.n_rows; i++) {
        if (i > 0)
            buf_add(out, ",", 1);
        if (req.fp64)
            buf_json_double(out, res[i]);
        else
            buf_json_float(out, (float)res[i]);
    }
    buf_puts(out, "]}");
    if (req.explain) {
        buf_printf(out, ",{\"name\":\"" REQUEST_CONTRIB_NAME "\","
                   "\"datatype\":\"FP64\",\"shape\":[%zu,%zu],\"data\":[",
                   req.n_rows, width);
        for (size_t i = 0; i < req.n_rows * width; i++) {
            if (i > 0)
                buf_add(out, ",", 1);
            buf_json_double(out, phi[i]);
        }
        buf_puts(out, "]}");
    }
    buf_puts(out, "]}");
    r->status = 200;
out:
    serving_release(m);
}

/* ---- authentication ------------------------------------------------------- */

int handlers_authorize(struct app *app, const char *url,
                       const char *authorization, struct buf *out,
                       struct reply *r)
{
    enum endpoint ep = handlers_route(url);
    int rc;

    if (!auth_required(app->auth, ep))
        return 0;
    rc = auth_check(app->auth, authorization);
    if (rc == 0)
        return 0;
    memset(r, 0, sizeof *r);
    r->endpoint = ep;
    /* RFC 6750: a wrong token says so; a missing one only asks. */
    r->challenge = rc == -2 ? "Bearer realm=\"forest-serve\", "
                              "error=\"invalid_token\"" :
                              "Bearer realm=\"forest-serve\"";
    fail(r, out, 401, rc == -2 ? "the bearer token is not valid" :
         "this endpoint needs an 'Authorization: Bearer <token>' header "
         "(API_TOKEN)");
    return 1;
}

/* ---- dispatch ----------------------------------------------------------------- */

void handlers_dispatch(struct app *app, const char *method, const char *url,
                       const char *header_len, const char *body, size_t len,
                       struct scratch *sc, struct buf *out, struct reply *r)
{
    handlers_serve(app, method, url, header_len, NULL, body, len, sc, out,
                   r);
}

/* GET /model/candidate: the candidate's metadata.json, as GET /model has
 * the current model's. */
static void model_candidate(struct app *app, struct reply *r,
                            struct buf *out)
{
    struct serving *m = app->candidate != NULL
                            ? registry_acquire(app->candidate) : NULL;

    if (m == NULL) {
        fail(r, out, 404, app->candidate == NULL
                              ? "no candidate: CANDIDATE_MODE is off"
                              : "no candidate loaded (MODEL_DIR/candidate "
                                "is absent or its model was refused)");
        return;
    }
    r->status = 200;
    buf_add(out, m->metadata, m->metadata_len);
    serving_release(m);
}

void handlers_serve(struct app *app, const char *method, const char *url,
                    const char *header_len, const char *request_id,
                    const char *body, size_t len, struct scratch *sc,
                    struct buf *out, struct reply *r)
{
    struct route_match rt;
    char msg[200];

    r->status = 500;
    r->content_type = JSON_TYPE;
    r->allow = NULL;
    r->retry_after = NULL;
    r->challenge = NULL;
    r->close = 0;
    r->page = 0;
    r->json_len = 0;
    r->role = ROLE_NONE;
    routes_match(url, &rt);
    r->endpoint = route_ep(&rt);
    if (rt.def == NULL) {
        snprintf(msg, sizeof msg, "no such endpoint '%.100s'", url);
        fail(r, out, 404, msg);
        return;
    }
    if (!routes_method_allowed(rt.def, method)) {
        snprintf(msg, sizeof msg, "method %.20s is not allowed on '%.100s' "
                 "(allowed: %s)", method, url, rt.def->methods);
        fail(r, out, 405, msg);
        r->allow = rt.def->methods;
        return;
    }
    switch (rt.def->ep) {
    case EP_HEALTH:
        r->status = 200;
        buf_puts(out, "{\"status\":\"healthy\"}");
        break;
    case EP_READY:
        ready(app, r, out);
        break;
    case EP_PREDICT:
        predict(app, request_id, body, len, sc, out, r);
        break;
    case EP_FORECAST:
        forecast(app, request_id, body, len, sc, out, r);
        break;
    case EP_MODEL: {
        struct serving *m = registry_acquire(app->registry);
        if (m == NULL) {
            no_model(r, out);
            break;
        }
        r->status = 200;
        buf_add(out, m->metadata, m->metadata_len);
        serving_release(m);
        break;
    }
    case EP_MODEL_CANDIDATE:
        model_candidate(app, r, out);
        break;
    case EP_METRICS:
        metrics(app, r, out);
        break;
    case EP_DRIFT:
        drift(app, r, out);
        break;
    case EP_V2_SERVER:
        r->status = 200;
        buf_puts(out, "{\"name\":\"forest-serve\",\"version\":");
        buf_json_string(out, FR_VERSION);
        buf_puts(out, ",\"extensions\":[]}");
        break;
    case EP_V2_LIVE:
        r->status = 200;
        buf_puts(out, "{\"live\":true}");
        break;
    case EP_V2_READY:
        v2_ready(app, r, out);
        break;
    case EP_V2_MODEL:
        v2_metadata(app, &rt, out, r);
        break;
    case EP_V2_MODEL_READY:
        v2_model_ready(app, &rt, out, r);
        break;
    case EP_V2_INFER:
        v2_infer(app, &rt, header_len, request_id, body, len, sc, out, r);
        break;
    case EP_STATUS:
        pages_status(app, out, r);
        break;
    case EP_REPORT:
        pages_report(app, out, r);
        break;
    case EP_DOCS:
        if (rt.name != NULL)
            pages_asset(app, rt.name, rt.name_len, out, r);
        else
            pages_docs(app, out, r);
        break;
    case EP_OPENAPI:
        pages_openapi(app, out, r);
        break;
    default:
        fail(r, out, 404, "no such endpoint");
        break;
    }
    if (out->failed) {
        r->status = 500;
        r->content_type = JSON_TYPE;
        r->page = 0;
        r->json_len = 0;
        buf_release(out);
        buf_puts(out, "{\"error\":\"out of memory writing the answer\"}");
    }
}
