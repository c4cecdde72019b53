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

#include "model.h"
#include "trainer.h"

/* cJSON writes NaN as null, which is what JSON readers expect. */
static void add_metrics(cJSON *obj, const struct metrics *m)
{
    cJSON_AddNumberToObject(obj, "mae", m->mae);
    cJSON_AddNumberToObject(obj, "rmse", m->rmse);
    cJSON_AddNumberToObject(obj, "mape", m->mape);
    cJSON_AddNumberToObject(obj, "r2", m->r2);
    cJSON_AddNumberToObject(obj, "rows", (double)m->n);
}

int metadata_write(const char *path, const struct forest *f,
                   const struct run_info *info, struct fr_error *err)
{
    const struct train_settings *s = info->settings;
    const struct evaluation *ev = info->eval;
    cJSON *root = cJSON_CreateObject(), *o;
    char crc[16];
    char *text = NULL;
    int rc = -1;

    if (root == NULL)
        goto nomem;
    snprintf(crc, sizeof crc, "%08x", info->model_crc);
    cJSON_AddStringToObject(root, "version", info->version);
    cJSON_AddStringToObject(root, "created_at", info->created_at);
    cJSON_AddStringToObject(root, "trainer_version", FR_VERSION);
    cJSON_AddStringToObject(root, "target", s->target_column);
    cJSON_AddStringToObject(root, "data", info->data_source);
    if (model_describe(f, root) != 0)
        goto nomem;
    cJSON_AddNumberToObject(
        cJSON_GetObjectItemCaseSensitive(root, "hyperparameters"),
        "test_fraction", s->test_fraction);
    o = cJSON_AddObjectToObject(root, "metrics");
    if (o != NULL) {
        add_metrics(o, &ev->model);
        if (!isnan(f->oob_rmse))
            cJSON_AddNumberToObject(o, "oob_rmse", f->oob_rmse);
    }
    o = cJSON_AddObjectToObject(root, "baseline");
    if (o != NULL) {
        cJSON_AddStringToObject(o, "name", ev->baseline_name);
        add_metrics(o, &ev->baseline);
    }
    o = cJSON_AddObjectToObject(root, "training");
    if (o != NULL) {
        cJSON_AddNumberToObject(o, "rows", (double)ev->train_rows);
        cJSON_AddNumberToObject(o, "test_rows", (double)ev->test_rows);
        cJSON_AddNumberToObject(o, "seconds", ev->train_seconds);
        cJSON_AddNumberToObject(o, "total_seconds", ev->total_seconds);
        cJSON_AddNumberToObject(o, "peak_rss_kb", (double)ev->peak_rss_kb);
    }
    o = cJSON_AddObjectToObject(root, "model_file");
    if (o != NULL) {
        cJSON_AddStringToObject(o, "name", "model.bin");
        cJSON_AddNumberToObject(o, "bytes", (double)info->model_bytes);
        cJSON_AddNumberToObject(o, "format_version", MODEL_FORMAT_VERSION);
        cJSON_AddStringToObject(o, "crc32", crc);
    }
    {
        char sum[32];
        snprintf(sum, sizeof sum, "crc32:%s", crc);
        cJSON_AddStringToObject(root, "checksum", sum);
    }
    text = cJSON_Print(root);
    if (text == NULL)
        goto nomem;
    rc = model_write_file(path, text, strlen(text), err);
    goto out;
nomem:
    fr_error_set(err, "out of memory writing '%s'", path);
out:
    free(text);
    cJSON_Delete(root);
    return rc;
}
