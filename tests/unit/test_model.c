/*
 * test_model.c: model.bin round trips, and rejection of truncated,
 * corrupted, incompatible and hostile files.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "model.h"
#include "series.h"
#include "synth.h"
#include "test.h"

/* Declared in test.h: a 5-tree forest on 2 synthetic series of 90 days, and
 * its feature table in *test_rows (the caller releases both). */
struct forest *test_small_series_forest(struct dataset *test_rows)
{
    struct series_data raw;
    struct series_spec spec;
    struct dataset table;
    struct forest_params p;
    struct fr_error err = {{0}};
    struct forest *f;

    synth_generate(2, 90, 11, &raw, &err);
    series_spec_init(&spec, raw.n_covariates,
                     (const char *const *)raw.covariate_names, &err);
    series_build(&raw, &spec, &table, &err);
    forest_params_default(&p);
    p.n_trees = 5;
    p.max_depth = 4;
    f = forest_train(&table, &spec, &p, NULL, NULL, &err);
    *test_rows = table;
    series_spec_release(&spec);
    series_data_release(&raw);
    return f;
}

static void set_u32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

/* Recomputes both checksums so a test can reach the structural checks. */
static void reseal(uint8_t *buf, size_t len)
{
    set_u32(buf + 24, (uint32_t)crc32(0L, buf + MODEL_HEADER_BYTES,
                                      (uInt)(len - MODEL_HEADER_BYTES)));
    set_u32(buf + 28, (uint32_t)crc32(0L, buf, 28));
}

/* Offset of tree 0's first node in an encoded forest. */
static size_t first_node_offset(const struct forest *f)
{
    size_t off = MODEL_HEADER_BYTES + 4 * 3 + 4 * 2 + 8 + 4 + 8 + 4 * 2;

    for (uint32_t i = 0; i < f->n_features; i++)
        off += 2 + strlen(f->feature_names[i]);
    off += 8 * f->n_features + 8 + 1;
    if (f->has_series) {
        off += 4 + 4 * f->series.n_lags + 4 + 4 * f->series.n_windows + 4;
        for (uint32_t i = 0; i < f->series.n_covariates; i++)
            off += 2 + strlen(f->series.covariates[i]);
    }
    return off + 12;
}

void test_model(void)
{
    struct dataset rows;
    struct forest *f = test_small_series_forest(&rows), *g;
    struct fr_error err = {{0}};
    uint8_t *buf = NULL, *copy;
    size_t len = 0, off;
    uint32_t crc = 0, crc2 = 0;
    char path[512];
    int ok = 1;

    test_cond("codec-1.1 encode", model_encode(f, &buf, &len, &crc, &err) == 0);
    g = model_decode(buf, len, &crc2, &err);
    test_cond("codec-1.2 decode what was encoded", g != NULL && crc == crc2);
    for (size_t i = 0; g != NULL && i < rows.n_rows; i++) {
        const float *x = rows.X + i * rows.n_features;
        ok &= forest_predict_row(f, x) == forest_predict_row(g, x);
    }
    test_cond("codec-1.3 the loaded forest predicts identically", g && ok);
    test_cond("codec-1.4 names, spec and hyperparameters survive",
              g != NULL && g->has_series && g->series.n_covariates == 2 &&
                  strcmp(g->series.covariates[0], "promo") == 0 &&
                  strcmp(g->feature_names[14], "holiday") == 0 &&
                  g->params.n_trees == 5 && g->params.max_depth == 4 &&
                  g->importances[0] == f->importances[0]);
    forest_free(g);

    snprintf(path, sizeof path, "%s/model.bin", test_temp_dir());
    test_cond("codec-1.5 save then load from disk",
              model_save(f, path, NULL, &err) == 0 &&
                  (g = model_load(path, NULL, &err)) != NULL);
    forest_free(g);
    test_cond("codec-1.6 a missing file names the path",
              model_load("/nonexistent/model.bin", NULL, &err) == NULL &&
                  strstr(err.msg, "/nonexistent/model.bin") != NULL);

    /* Every truncation is refused. */
    ok = 1;
    for (size_t cut = 0; cut < len; cut += (cut < 64 ? 1 : 97))
        ok &= model_decode(buf, cut, NULL, &err) == NULL;
    test_cond("codec-2.1 every truncated prefix is refused", ok);
    model_decode(buf, len - 1, NULL, &err);
    test_cond("codec-2.2 truncation says so", strstr(err.msg, "truncated"));

    /* Every single flipped byte is refused (the CRCs catch it). */
    copy = malloc(len);
    ok = 1;
    for (size_t i = 0; i < len; i += (i < 64 ? 1 : 31)) {
        memcpy(copy, buf, len);
        copy[i] ^= 0x40;
        ok &= model_decode(copy, len, NULL, &err) == NULL;
    }
    test_cond("codec-2.3 every flipped byte is refused", ok);
    memcpy(copy, buf, len);
    copy[len - 3] ^= 1;
    test_cond("codec-2.4 payload corruption says checksum",
              model_decode(copy, len, NULL, &err) == NULL &&
                  strstr(err.msg, "checksum mismatch"));

    memcpy(copy, buf, len);
    set_u32(copy + 8, 9);
    reseal(copy, len);
    test_cond("codec-2.5 another format version is refused by name",
              model_decode(copy, len, NULL, &err) == NULL &&
                  strstr(err.msg, "format version 9 is not supported"));

    memcpy(copy, buf, len);
    copy[0] = 'X';
    test_cond("codec-2.6 a file that is not a model says so",
              model_decode(copy, len, NULL, &err) == NULL &&
                  strstr(err.msg, "bad magic"));

    /* Hostile files with valid checksums. */
    off = first_node_offset(f);
    memcpy(copy, buf, len);
    set_u32(copy + off + 8, 0); /* root's left child -> itself: a "leaf" */
    reseal(copy, len);
    test_cond("codec-3.1 a root pointing at itself without being a leaf is "
              "refused",
              model_decode(copy, len, NULL, &err) == NULL &&
                  strstr(err.msg, "tree 0 node 0"));
    memcpy(copy, buf, len);
    set_u32(copy + off + 8, 0xfffffff0u); /* child far out of range */
    reseal(copy, len);
    test_cond("codec-3.2 a child beyond the tree is refused",
              model_decode(copy, len, NULL, &err) == NULL &&
                  strstr(err.msg, "does not follow its parent"));
    memcpy(copy, buf, len);
    set_u32(copy + off, 999); /* split on a feature that does not exist */
    reseal(copy, len);
    test_cond("codec-3.3 a split on a missing feature is refused",
              model_decode(copy, len, NULL, &err) == NULL &&
                  strstr(err.msg, "bad split on feature 999"));
    memcpy(copy, buf, len);
    set_u32(copy + off - 8, 7); /* stored depth (really 4) */
    reseal(copy, len);
    test_cond("codec-3.4 a wrong stored depth is refused",
              model_decode(copy, len, NULL, &err) == NULL &&
                  strstr(err.msg, "stored depth"));
    memcpy(copy, buf, len);
    set_u32(copy + off - 4, 0x7fffffffu); /* node count */
    reseal(copy, len);
    test_cond("codec-3.5 a node count beyond the file is refused",
              model_decode(copy, len, NULL, &err) == NULL);
    {
        /* Four bytes more in the payload, with the header's payload length
         * and both checksums made to agree: only the decoder's walk of the
         * trees can tell they are not part of the model. */
        uint8_t *longer = malloc(len + 4);
        uint64_t payload = len + 4 - MODEL_HEADER_BYTES;
        memcpy(longer, buf, len);
        memset(longer + len, 0, 4);
        set_u32(longer + 16, (uint32_t)payload);
        set_u32(longer + 20, (uint32_t)(payload >> 32));
        reseal(longer, len + 4);
        test_cond("codec-3.6 trailing bytes are refused",
                  model_decode(longer, len + 4, NULL, &err) == NULL &&
                      strstr(err.msg, "4 unexplained bytes") != NULL);
        free(longer);
    }
    free(copy);
    free(buf);
    forest_free(f);
    dataset_release(&rows);
}
