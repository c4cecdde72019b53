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
    return add_string(obj, "source", s->data_path) != 0 ||
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
        add_number(o, "peak_rss_kb", (double)ev->peak_rss_kb) != 0)
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
