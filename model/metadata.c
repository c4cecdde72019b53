/*
 * metadata.c: metadata.json of a model version, written with cJSON.
 *
 * The server returns this file from GET /model and the promotion gate reads
 * metrics.rmse from it, so its keys are part of the model store's contract
 * (README, "The model store").
 */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "file.h"
#include "model.h"
#include "trainer.h"

/*
 * add_number, add_string: one key of an object. Return 0, or -1 when cJSON
 * could not allocate (or obj is NULL because an earlier allocation failed):
 * metadata.json is read back by the promotion gate, so a key silently left
 * out would change what the next run decides.
 */
static int add_number(cJSON *obj, const char *key, double value)
{
    return cJSON_AddNumberToObject(obj, key, value) != NULL ? 0 : -1;
}

static int add_string(cJSON *obj, const char *key, const char *value)
{
    return cJSON_AddStringToObject(obj, key, value) != NULL ? 0 : -1;
}

/* One metrics object; cJSON writes NaN as null, which is what JSON readers
 * expect. Returns 0, or -1 when out of memory. */
static int add_metrics(cJSON *obj, const struct metrics *m)
{
    if (add_number(obj, "mae", m->mae) != 0 ||
        add_number(obj, "rmse", m->rmse) != 0 ||
        add_number(obj, "mape", m->mape) != 0 ||
        add_number(obj, "r2", m->r2) != 0 ||
        add_number(obj, "rows", (double)m->n) != 0)
        return -1;
    return 0;
}

static int add_bool(cJSON *obj, const char *key, int value)
{
    return cJSON_AddBoolToObject(obj, key, value) != NULL ? 0 : -1;
}

/* An array of n numbers (NaN as null) under key. Returns 0 or -1. */
static int add_numbers(cJSON *obj, const char *key, const double *v,
                       size_t n)
{
    cJSON *a = cJSON_AddArrayToObject(obj, key);

    for (size_t i = 0; a != NULL && i < n; i++) {
        cJSON *x = isfinite(v[i]) ? cJSON_CreateNumber(v[i])
                                  : cJSON_CreateNull();
        if (x == NULL || !cJSON_AddItemToArray(a, x)) {
            cJSON_Delete(x);
            return -1;
        }
    }
    return a != NULL ? 0 : -1;
}

/* One forecaster's per-horizon scores: MAE, RMSE, WAPE (the sum of
 * absolute errors over the sum of actuals) and MASE (MAE over the training
 * days' seasonal-naive MAE). which: 0 forest, 1 seasonal naive, 2 seasonal
 * mean. Returns 0 or -1 (no memory). */
static int add_scores(cJSON *obj, const char *key, const struct backtest *bt,
                      int which)
{
    size_t H = bt->horizon;
    double *v = calloc(4 * H, sizeof *v), *ae, *se, *act;
    size_t *n = calloc(H, sizeof *n);
    double mean = 0.0;
    size_t used = 0;
    cJSON *o = cJSON_AddObjectToObject(obj, key);
    int rc = -1;

    if (v == NULL || n == NULL || o == NULL)
        goto out;
    ae = v + H;
    se = v + 2 * H;
    act = v + 3 * H;
    for (size_t i = 0; i < bt->n_points; i++) {
        const struct bt_point *p = &bt->points[i];
        double f = which == 0 ? p->forest : which == 1 ? p->naive : p->smean;
        double e = p->actual - f;
        ae[p->h - 1] += fabs(e);
        se[p->h - 1] += e * e;
        act[p->h - 1] += fabs(p->actual);
        n[p->h - 1]++;
    }
    for (size_t h = 0; h < H; h++) {
        double mae = n[h] ? ae[h] / n[h] : NAN;
        v[h] = mae;
        if (n[h]) {
            mean += mae;
            used++;
        }
    }
    if (add_numbers(o, "mae", v, H) != 0)
        goto out;
    for (size_t h = 0; h < H; h++)
        v[h] = n[h] ? sqrt(se[h] / n[h]) : NAN;
    if (add_numbers(o, "rmse", v, H) != 0)
        goto out;
    for (size_t h = 0; h < H; h++)
        v[h] = act[h] > 0 ? ae[h] / act[h] : NAN;
    if (add_numbers(o, "wape", v, H) != 0)
        goto out;
    for (size_t h = 0; h < H; h++)
        v[h] = n[h] && bt->mase_scale > 0 ? ae[h] / n[h] / bt->mase_scale
                                          : NAN;
    if (add_numbers(o, "mase", v, H) != 0 ||
        add_number(o, "mae_mean", used ? mean / used : NAN) != 0)
        goto out;
    rc = 0;
out:
    free(v);
    free(n);
    return rc;
}

/* "example": one backtest forecast as the server's /forecast gives it:
 * the last origin of the first series with a whole horizon, so a test can
 * ask /forecast the same question and compare. Returns 0 or -1. */
static int add_example(cJSON *obj, const struct backtest *bt,
                       const struct run_info *info)
{
    size_t last = SIZE_MAX;
    char date[16];
    cJSON *o, *values;

    for (size_t i = 0; i < bt->n_points; i++) {
        if (bt->points[i].series == 0 && bt->points[i].h == bt->horizon)
            last = i + 1 - bt->horizon;
    }
    if (last == SIZE_MAX)
        return 0;
    o = cJSON_AddObjectToObject(obj, "example");
    series_format_date(bt->points[last].origin, date);
    if (o == NULL ||
        add_string(o, "series", info->series_names[0]) != 0 ||
        add_string(o, "first_day", date) != 0 ||
        (values = cJSON_AddArrayToObject(o, "forecast")) == NULL)
        return -1;
    for (size_t h = 0; h < bt->horizon; h++) {
        cJSON *x = cJSON_CreateNumber(bt->points[last + h].forest);
        if (x == NULL || !cJSON_AddItemToArray(values, x)) {
            cJSON_Delete(x);
            return -1;
        }
    }
    return 0;
}

/* "scale_miss_rms": {"absolute", "relative"}, each null when unknown. */
static int add_scale_miss(cJSON *obj, const double *rms)
{
    static const char *const NAMES[2] = {"absolute", "relative"};
    cJSON *o = cJSON_AddObjectToObject(obj, "scale_miss_rms");

    for (int i = 0; o != NULL && i < 2; i++) {
        cJSON *x = isfinite(rms[i]) ? cJSON_CreateNumber(rms[i])
                                    : cJSON_CreateNull();
        if (x == NULL || !cJSON_AddItemToObject(o, NAMES[i], x)) {
            cJSON_Delete(x);
            return -1;
        }
    }
    return o != NULL ? 0 : -1;
}

/* "backtest": rolling-origin scores by horizon for the forest and the two
 * baselines, and the measured coverage of the intervals. */
static int add_backtest(cJSON *root, const struct evaluation *ev,
                        const struct run_info *info, const struct model *m)
{
    const struct backtest *bt = &ev->bt;
    cJSON *o = cJSON_AddObjectToObject(root, "backtest"), *cov;
    char first[16], last[16], until[16], method[512];
    /* How far the folds' calibration covered the earlier origins from
     * nominal, absolute then relative scores (null: no fold). */
    double rms[2] = {sqrt(ev->scale_miss[0]), sqrt(ev->scale_miss[1])};
    int relative;

    if (o == NULL)
        return -1;
    series_format_date(bt->first_day, first);
    series_format_date(bt->last_day, last);
    series_format_date(ev->calibration_until, until);
    if (add_number(o, "horizon", (double)bt->horizon) != 0 ||
        add_number(o, "origins", (double)bt->n_origins) != 0 ||
        add_number(o, "points", (double)bt->n_points) != 0 ||
        add_string(o, "first_day", first) != 0 ||
        add_string(o, "last_day", last) != 0 ||
        add_number(o, "mase_scale", bt->mase_scale) != 0 ||
        add_string(o, "gate_metric", "mae_mean of forest") != 0 ||
        add_scores(o, "forest", bt, 0) != 0 ||
        add_scores(o, "seasonal_naive", bt, 1) != 0 ||
        add_scores(o, "seasonal_mean_4w", bt, 2) != 0 ||
        (info->series_names != NULL &&
         add_example(o, bt, info) != 0))
        return -1;
    relative = m->calibration.scale == CALIBRATION_RELATIVE;
    snprintf(method, sizeof method, "split conformal, per horizon, scores "
             "|actual - forecast|%s%s of the origins of %zu calibration "
             "folds (models that learned the days before earlier cutoffs) "
             "and of the backtest's origins before "
             "coverage_calibrated_before",
             relative ? " / level (the mean of the days before the origin, "
                        "series.level_window)" : "",
             relative ? "" : " (absolute)", ev->folds);
    cov = cJSON_AddObjectToObject(root, "intervals");
    if (cov == NULL ||
        add_string(cov, "method", method) != 0 ||
        add_string(cov, "scale", relative ? "relative" : "absolute") != 0 ||
        add_number(cov, "folds", (double)ev->folds) != 0 ||
        add_number(cov, "fold_points", (double)ev->fold_points) != 0 ||
        add_scale_miss(cov, rms) != 0 ||
        add_number(cov, "calibration_points",
                   (double)ev->calibration_points) != 0 ||
        add_string(cov, "coverage_calibrated_before", until) != 0 ||
        add_number(cov, "coverage_calibration_points",
                   (double)ev->calibration_points) != 0 ||
        add_number(cov, "coverage_points", (double)ev->coverage_points) != 0 ||
        add_numbers(cov, "coverage_80", ev->coverage, bt->horizon) != 0 ||
        add_numbers(cov, "coverage_90", ev->coverage + bt->horizon,
                    bt->horizon) != 0)
        return -1;
    return 0;
}

/* "gate": what the promotion gate compared and decided. */
static int add_gate(cJSON *root, const struct gate *g)
{
    cJSON *o = cJSON_AddObjectToObject(root, "gate");

    if (o == NULL || g->decision == NULL)
        return o == NULL ? -1 : 0;
    if (add_string(o, "metric", g->metric) != 0 ||
        add_string(o, "decision", g->decision) != 0 ||
        add_number(o, "rows", (double)g->rows) != 0 ||
        add_number(o, "champion_score", g->champion_score) != 0 ||
        add_number(o, "challenger_score", g->challenger_score) != 0 ||
        add_number(o, "champion_rmse", g->champion_rmse) != 0 ||
        add_number(o, "challenger_rmse", g->challenger_rmse) != 0)
        return -1;
    if (g->champion_version[0] ? add_string(o, "champion_version",
                                            g->champion_version) != 0
                               : cJSON_AddNullToObject(o, "champion_version")
                                     == NULL)
        return -1;
    if (g->champion_last_day[0] &&
        add_string(o, "champion_last_day", g->champion_last_day) != 0)
        return -1;
    if (g->reason[0] && add_string(o, "reason", g->reason) != 0)
        return -1;
    return 0;
}

/* "data_origin": what trained the model. Returns 0, or -1 when out of
 * memory. */
static int add_origin(cJSON *root, const struct run_info *info)
{
    const struct data_origin *o = info->origin;
    const struct train_settings *s = info->settings;
    cJSON *obj = cJSON_AddObjectToObject(root, "data_origin");
    char crc[16];

    if (obj == NULL || o == NULL)
        return obj == NULL ? -1 : 0;
    if (o->synthetic)
        return add_string(obj, "source", "synthetic") != 0 ||
               add_number(obj, "series", (double)s->synth_series) != 0 ||
               add_number(obj, "days", (double)s->synth_days) != 0 ||
               add_string(obj, "as_of", o->as_of) != 0 ||
               add_number(obj, "seed", (double)s->seed) != 0 ? -1 : 0;
    snprintf(crc, sizeof crc, "%08x", o->crc);
    return add_string(obj, "source", s->data_source != NULL ?
                      s->data_source : s->data_path) != 0 ||
           add_number(obj, "bytes", (double)o->bytes) != 0 ||
           add_string(obj, "crc32", crc) != 0 ? -1 : 0;
}

/*
 * Writes metadata.json for version info->version to path (atomically, via
 * file_write_atomic). Returns 0, or -1 with err set; every key is checked,
 * so a file is written whole or not at all.
 */
int metadata_write(const char *path, const struct model *m,
                   const struct run_info *info, struct fr_error *err)
{
    const struct forest *f = m->forest;
    const struct train_settings *s = info->settings;
    const struct evaluation *ev = info->eval;
    cJSON *root = cJSON_CreateObject(), *o;
    char crc[16], sum[32];
    char *text = NULL;
    int rc = -1;

    if (root == NULL)
        goto nomem;
    snprintf(crc, sizeof crc, "%08x", info->model_crc);
    snprintf(sum, sizeof sum, "crc32:%s", crc);
    if (add_string(root, "version", info->version) != 0 ||
        add_string(root, "created_at", info->created_at) != 0 ||
        add_string(root, "trainer_version", FR_VERSION) != 0 ||
        add_string(root, "target", s->target_column) != 0 ||
        add_string(root, "data", info->data_source) != 0)
        goto nomem;
    if (add_origin(root, info) != 0 || model_describe(m, root) != 0)
        goto nomem;
    if (add_number(cJSON_GetObjectItemCaseSensitive(root, "hyperparameters"),
                   "test_fraction", s->test_fraction) != 0)
        goto nomem;
    o = cJSON_AddObjectToObject(root, "metrics");
    if (add_metrics(o, &ev->model) != 0)
        goto nomem;
    if (!isnan(f->oob_rmse) && add_number(o, "oob_rmse", f->oob_rmse) != 0)
        goto nomem;
    o = cJSON_AddObjectToObject(root, "baseline");
    if (add_string(o, "name", ev->baseline_name) != 0 ||
        add_metrics(o, &ev->baseline) != 0)
        goto nomem;
    o = cJSON_AddObjectToObject(root, "training");
    if (add_number(o, "rows", (double)ev->train_rows) != 0 ||
        add_number(o, "test_rows", (double)ev->test_rows) != 0 ||
        add_number(o, "seconds", ev->train_seconds) != 0 ||
        add_number(o, "total_seconds", ev->total_seconds) != 0 ||
        add_number(o, "peak_rss_kb", (double)ev->peak_rss_kb) != 0 ||
        add_bool(o, "refit", ev->refit) != 0 ||
        add_number(o, "learned_rows", (double)ev->learned_rows) != 0 ||
        add_string(o, "metrics_rows", ev->refit ?
                   "the test rows, scored by a model fitted before the "
                   "refit that never learned them" :
                   "the test rows, which the model never learned") != 0 ||
        (ev->last_day[0] && add_string(o, "last_day", ev->last_day) != 0))
        goto nomem;
    if (ev->has_backtest && add_backtest(root, ev, info, m) != 0)
        goto nomem;
    if (add_gate(root, &ev->gate) != 0)
        goto nomem;
    o = cJSON_AddObjectToObject(root, "model_file");
    if (add_string(o, "name", "model.bin") != 0 ||
        add_number(o, "bytes", (double)info->model_bytes) != 0 ||
        add_number(o, "format_version", MODEL_FORMAT_VERSION) != 0 ||
        add_string(o, "crc32", crc) != 0)
        goto nomem;
    if (add_string(root, "checksum", sum) != 0)
        goto nomem;
    text = cJSON_Print(root);
    if (text == NULL)
        goto nomem;
    rc = file_write_atomic(path, text, strlen(text), err);
    goto out;
nomem:
    fr_error_set(err, "out of memory writing '%s'", path);
out:
    free(text);
    cJSON_Delete(root);
    return rc;
}
