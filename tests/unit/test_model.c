/*
 * test_model.c: model.bin round trips, and rejection of truncated,
 * corrupted, incompatible and hostile files.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "forecast.h"
#include "model.h"
#include "series.h"
#include "synth.h"
#include "test.h"

/* Declared in test.h. */
struct model *test_small_series_model(struct dataset *test_rows)
{
    static const uint32_t counts[2] = {3, 4};
    static const double scores[7] = {2.0, 1.0, 3.0, 0.5, 4.0, 1.5, 2.5};
    struct series_data raw;
    struct series_spec spec;
    struct dataset table, rel;
    struct forest_params p;
    struct fr_error err = {{0}};
    struct model *m;

    synth_generate(2, 90, 20635 /* 2026-07-01 */, 11, &raw, &err);
    series_spec_init(&spec, raw.n_covariates,
                     (const char *const *)raw.covariate_names, &err);
    series_build(&raw, &spec, &table, &err);
    forest_params_default(&p);
    p.n_trees = 5;
    p.max_depth = 4;
    series_relative_dataset(&spec, &table, &rel, &err);
    m = model_new(forest_train(&rel, &p, NULL, NULL, &err), &spec, &err);
    dataset_release(&rel);
    profile_build(&m->profile, &table, PROFILE_BINS, &err);
    calibration_build(&m->calibration, CALIBRATION_ABSOLUTE, 2, counts,
                      scores, &err);
    *test_rows = table;
    series_spec_release(&spec);
    series_data_release(&raw);
    return m;
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

/* Offset of tree 0's first node in an encoded model. */
static size_t first_node_offset(const struct model *m)
{
    const struct forest *f = m->forest;
    size_t off = MODEL_HEADER_BYTES + 4 * 3 + 4 * 2 + 8 + 4 + 8 + 4 * 2;

    for (uint32_t i = 0; i < f->n_features; i++)
        off += 2 + strlen(f->feature_names[i]);
    off += 8 * f->n_features + 8 + 1;
    if (m->has_series) {
        off += 4 + 4 * m->series.n_lags + 4 + 4 * m->series.n_windows + 4;
        for (uint32_t i = 0; i < m->series.n_covariates; i++)
            off += 2 + strlen(m->series.covariates[i]);
        off += 2 * 4; /* target, level window */
        off += 3 * 4; /* strategy, horizon, same-weekday lags */
    }
    off += 1; /* has_cover */
    return off + 12;
}

static void test_calibration_profile(void)
{
    static const uint32_t counts[2] = {9, 2};
    double scores[11] = {9, 1, 8, 2, 7, 3, 6, 4, 5, 10, 20};
    struct calibration c;
    struct feature_profile p;
    struct dataset ds;
    struct fr_error err = {{0}};
    const char *names[2] = {"uniform", "flag"};
    double half = 0;
    int cal = -1;

    test_cond("calib-1.1 build",
              calibration_build(&c, CALIBRATION_ABSOLUTE, 2, counts, scores,
                                &err) == 0 && calibration_check(&c, &err) == 0);
    /* n = 9: the 80% half-width is the ceil(10 * 0.8) = 8th smallest. */
    test_cond("calib-1.2 the conformal rank ceil((n+1) level)",
              calibration_half_width(&c, 1, 0.8, &half, &cal, &err) == 0 &&
                  half == 8.0 && cal == 1 &&
                  calibration_half_width(&c, 1, 0.9, &half, &cal, &err) == 0 &&
                  half == 9.0);
    test_cond("calib-1.3 too few scores for a level is an error naming how "
              "many it needs",
              calibration_half_width(&c, 1, 0.95, &half, &cal, &err) != 0 &&
                  strstr(err.msg, "needs at least 19"));
    test_cond("calib-1.4 a horizon beyond the calibrated ones reuses the "
              "last and says so",
              calibration_half_width(&c, 5, 0.5, &half, &cal, &err) == 0 &&
                  cal == 0 && half == 20.0);
    test_cond("calib-1.5 levels outside 0.5..0.99 are refused",
              calibration_half_width(&c, 1, 0.4, &half, &cal, &err) != 0 &&
                  calibration_half_width(&c, 1, 0.995, &half, &cal, &err) != 0);
    calibration_release(&c);
    scores[3] = -1;
    test_cond("calib-1.6 a negative score is refused",
              calibration_build(&c, CALIBRATION_ABSOLUTE, 2, counts, scores,
                                &err) != 0 && c.n_horizons == 0);

    dataset_init(&ds, 2, names, 1000, 0, &err);
    for (int i = 0; i < 1000; i++) {
        float row[2] = {(float)((i * 7919) % 1000), i % 10 == 0 ? 1.0f : 0.0f};
        dataset_push(&ds, row, 0.0, 0, 0, 0.0, &err);
    }
    test_cond("profile-1.1 build", profile_build(&p, &ds, 10, &err) == 0 &&
                                       profile_check(&p, &err) == 0);
    {
        int even = 1;
        for (int k = 0; k < 10; k++)
            even &= fabs(p.shares[k] - 0.1) < 1e-12;
        test_cond("profile-1.2 equal-mass bins: each holds a tenth of "
                  "0..999, edges at 99, 199, ...",
                  even && p.edges[0] == 99.0f && p.edges[8] == 899.0f &&
                      profile_bin(&p, 0, 99.0f) == 0 &&
                      profile_bin(&p, 0, 99.5f) == 1 &&
                      profile_bin(&p, 0, 1e9f) == 9);
    }
    test_cond("profile-1.3 a 0/1 flag keeps its counted shares (0.9, 0.1)",
              fabs(p.shares[10 + 0] - 0.9) < 1e-12 &&
                  fabs(p.shares[10 + 9] - 0.1) < 1e-12);
    {
        /* profile_bin counts edges; a binary search for the first edge
         * >= x is the definition it must agree with, on every edge (the
         * flag's repeat), between them, NaN and the infinities. */
        static const float odd[] = {NAN, INFINITY, -INFINITY, -0.0f, 0.0f,
                                    1.0f, 1e-30f, 899.0f, 899.00006f};
        int same = 1;
        for (int f = 0; f < 2; f++) {
            for (int i = -1; i < 2100 + (int)(sizeof odd / sizeof *odd); i++) {
                float x = i < 2100 ? (float)i / 2.0f - 50.0f : odd[i - 2100];
                const float *e = p.edges + f * 9;
                uint32_t lo = 0, hi = 9;
                while (lo < hi) {
                    uint32_t mid = (lo + hi) / 2;
                    if (x <= e[mid])
                        hi = mid;
                    else
                        lo = mid + 1;
                }
                same &= profile_bin(&p, (size_t)f, x) == lo;
            }
        }
        test_cond("profile-1.4 the bin is the first edge >= x, NaN last",
                  same && profile_bin(&p, 0, NAN) == 9 &&
                      profile_bin(&p, 1, 0.0f) == 0);
    }
    profile_release(&p);
    dataset_release(&ds);
}

/* The model file of the previous release (tests/data/README.md). */
static void test_previous_format(void)
{
    struct fr_error err = {{0}};
    struct model *m = model_load("tests/data/model-format1.bin", NULL, &err);
    struct model *again = NULL;
    double past[28], cov[2] = {1.0, 0.0}, got;
    float row[15];
    uint8_t *buf = NULL;
    size_t len = 0;
    int same = 1;

    test_cond("codec-4.1 a format-1 file of the previous release loads",
              m != NULL && m->format_version == 1);
    if (m == NULL) {
        fprintf(stderr, "    %s\n", err.msg);
        return;
    }
    test_cond("codec-4.2 it reads as a series model of the value itself, "
              "without cover, calibration or profile",
              m->has_series && m->series.target == SERIES_TARGET_VALUE &&
                  m->series.level_window == 0 &&
                  m->forest->trees[0].cover == NULL &&
                  m->calibration.n_horizons == 0 && m->profile.n_bins == 0);
    /* The first day of the forecast in scenario_previous_format: history
     * y(d) = 100 + 3d + 5(d mod 7) for 2024-01-01..31, promo 1. */
    for (int k = 0; k < 28; k++) {
        int d = 4 + k;
        past[k] = 100 + 3 * d + 5 * (d % 7);
    }
    series_build_row(&m->series, past, 19754 /* 2024-02-01 */, cov, row);
    got = forest_predict_row(m->forest, row);
    test_cond("codec-4.3 it predicts what the previous release predicted",
              got == 50.04571380615234);
    /* Re-encoded in this build's format, it predicts the same. */
    if (model_encode(m, &buf, &len, NULL, &err) == 0)
        again = model_decode(buf, len, NULL, &err);
    for (uint32_t t = 0; again != NULL && t < m->forest->n_trees; t++) {
        const struct tree *a = &m->forest->trees[t], *b = &again->forest->trees[t];
        same &= a->n_nodes == b->n_nodes && b->cover == NULL &&
                memcmp(a->nodes, b->nodes, a->n_nodes * sizeof *a->nodes) == 0;
    }
    test_cond("codec-4.4 re-encoded in this build's format, the trees are identical and "
              "still without cover",
              again != NULL && again->format_version == MODEL_FORMAT_VERSION &&
                  same);
    free(buf);
    model_free(again);
    model_free(m);
}

/* The format-2 file of the release before the direct strategy
 * (tests/data/README.md): it loads as a recursive model and forecasts
 * what that release's forest-serve answered. */
static void test_format2(void)
{
    /* forest-serve of commit ffdc874, for the request of
     * scenario_previous_format with "interval": 0.8. */
    static const double want[3] = {187.48928604125976, 161.9996826171875,
                                   164.2662657737732};
    static const double want_lo = 130.4473248630762,
                        want_hi = 244.53124721944332;
    struct fr_error err = {{0}};
    struct model *m = model_load("tests/data/model-format2.bin", NULL, &err);
    double past[28], cov[6] = {1, 0, 0, 0, 0, 1}, work[64], values[3];
    double lo = 0, hi = 0;
    float fwork[128];
    int same = 1, calibrated = 0;

    test_cond("codec-5.1 a format-2 file of the previous release loads as a "
              "recursive model with its calibration",
              m != NULL && m->format_version == 2 &&
                  m->series.strategy == SERIES_RECURSIVE &&
                  m->series.horizon == 0 &&
                  m->series.target == SERIES_TARGET_DIFF &&
                  m->calibration.n_horizons > 0);
    if (m == NULL) {
        fprintf(stderr, "    %s\n", err.msg);
        return;
    }
    for (int k = 0; k < 28; k++) {
        int d = 4 + k;
        past[k] = 100 + 3 * d + 5 * (d % 7);
    }
    forecast_values(m, past, 19754 /* 2024-02-01 */, cov, 3, work, fwork,
                    values);
    for (int d = 0; d < 3; d++)
        same &= fabs(values[d] - want[d]) <= 1e-12 * want[d];
    test_cond("codec-5.2 it forecasts (recursively) what the previous "
              "release forecast", same);
    test_cond("codec-5.3 ... with the same 80% interval",
              forecast_interval(m, 1, values[0],
                                forecast_scale_level(m, past), 0.8, &lo, &hi,
                                &calibrated, &err) == 0 &&
                  fabs(lo - want_lo) <= 1e-9 * want_lo &&
                  fabs(hi - want_hi) <= 1e-9 * want_hi && calibrated);
    model_free(m);
}

/* A 5-tree direct model of 7 days on the small synthetic data: format 3
 * survives a round trip, and forecast_values predicts each day from its
 * own direct row. */
static void test_format3(void)
{
    struct series_data raw;
    struct series_spec spec;
    struct dataset rows, rel;
    struct forest_params p;
    struct fr_error err = {{0}};
    struct model *m, *g = NULL;
    uint8_t *buf = NULL;
    size_t len = 0;
    double work[64], a[10], b[10];
    float fwork[128], row[64], rw[64];
    int same = 1, own = 1;

    synth_generate(2, 90, 20635 /* 2026-07-01 */, 11, &raw, &err);
    series_spec_init(&spec, raw.n_covariates,
                     (const char *const *)raw.covariate_names, &err);
    series_spec_direct(&spec, 7, &err);
    series_data_sort(&raw, &err);
    series_build_direct(&raw, &spec, NULL, 0, 11, &rows, &err);
    series_relative_dataset(&spec, &rows, &rel, &err);
    forest_params_default(&p);
    p.n_trees = 5;
    p.max_depth = 4;
    m = model_new(forest_train(&rel, &p, NULL, NULL, &err), &spec, &err);
    if (m != NULL && model_encode(m, &buf, &len, NULL, &err) == 0)
        g = model_decode(buf, len, NULL, &err);
    test_cond("codec-6.1 a direct model round-trips in format 3 with its "
              "strategy, horizon and same-weekday lags",
              g != NULL && g->format_version == 3 &&
                  g->series.strategy == SERIES_DIRECT &&
                  g->series.horizon == 7 && g->series.n_weekday_lags == 4 &&
                  series_spec_equal(&g->series, &m->series));
    /* Forecast 10 days (3 beyond the learned 7) from day 40 of series 0. */
    if (g != NULL) {
        forecast_values(m, raw.y + 40 - 28, raw.day[40], raw.cov + 40 * 2, 10,
                        work, fwork, a);
        forecast_values(g, raw.y + 40 - 28, raw.day[40], raw.cov + 40 * 2, 10,
                        work, fwork, b);
        for (uint32_t h = 1; h <= 10; h++) {
            series_build_direct_row(&g->series, raw.y + 40 - 28, raw.day[40],
                                    h, raw.cov + (40 + h - 1) * 2, row);
            same &= a[h - 1] == b[h - 1];
            own &= b[h - 1] == model_predict_row(g, row, rw);
        }
    }
    test_cond("codec-6.2 the loaded model forecasts identically", same);
    test_cond("codec-6.3 each day from its own direct row (no forecast "
              "feeds another)", own);
    /* The backtest's batch: the rows of forecast_direct_rows through
     * model_predict, tree by tree, are the same doubles. */
    same = g != NULL;
    if (g != NULL) {
        float batch[10 * 64];
        double c[10];
        forecast_direct_rows(g, raw.y + 40 - 28, raw.day[40],
                             raw.cov + 40 * 2, 10, batch);
        model_predict(g, batch, 10, 1, batch, c);
        for (size_t h = 0; h < 10; h++)
            same &= c[h] == b[h];
    }
    test_cond("codec-6.4 an origin's direct rows predicted together give "
              "forecast_values' values", same);
    free(buf);
    model_free(g);
    model_free(m);
    dataset_release(&rel);
    dataset_release(&rows);
    series_spec_release(&spec);
    series_data_release(&raw);
}

void test_model(void)
{
    struct dataset rows;
    struct model *f = test_small_series_model(&rows), *g;
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
        float w[64];
        ok &= model_predict_row(f, x, w) == model_predict_row(g, x, w);
    }
    test_cond("codec-1.3 the loaded forest predicts identically", g && ok);
    test_cond("codec-1.4 names, spec and hyperparameters survive",
              g != NULL && g->has_series && g->series.n_covariates == 2 &&
                  series_spec_equal(&g->series, &f->series) &&
                  strcmp(g->series.covariates[0], "promo") == 0 &&
                  strcmp(g->forest->feature_names[14], "holiday") == 0 &&
                  g->forest->params.n_trees == 5 &&
                  g->forest->params.max_depth == 4 &&
                  g->forest->importances[0] == f->forest->importances[0]);
    ok = g != NULL;
    for (uint32_t t = 0; ok && t < f->forest->n_trees; t++) {
        const struct tree *a = &f->forest->trees[t], *b = &g->forest->trees[t];
        ok &= a->cover != NULL && b->cover != NULL &&
              a->cover[0] == rows.n_rows &&
              memcmp(a->cover, b->cover, a->n_nodes * sizeof *a->cover) == 0;
    }
    test_cond("codec-1.7 node cover survives; a root's is the bootstrap's "
              "n draws", ok);
    test_cond("codec-1.8 calibration and profile survive",
              g != NULL && g->calibration.n_horizons == 2 &&
                  g->calibration.offsets[2] == 7 &&
                  g->calibration.scores[0] == 1.0f &&
                  g->calibration.scores[2] == 3.0f &&
                  g->profile.n_bins == PROFILE_BINS &&
                  memcmp(g->profile.shares, f->profile.shares,
                         15 * PROFILE_BINS * sizeof(double)) == 0);
    model_free(g);

    snprintf(path, sizeof path, "%s/model.bin", test_temp_dir());
    test_cond("codec-1.5 save then load from disk",
              model_save(f, path, NULL, &err) == 0 &&
                  (g = model_load(path, NULL, &err)) != NULL);
    model_free(g);
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
    set_u32(copy + 8, 4);
    reseal(copy, len);
    test_cond("codec-2.5 a newer format is refused naming both versions",
              model_decode(copy, len, NULL, &err) == NULL &&
                  strstr(err.msg, "format version 4 is newer than this build "
                                  "reads (versions 1 to 3)"));
    set_u32(copy + 8, 0);
    reseal(copy, len);
    test_cond("codec-2.7 format 0 is refused as older",
              model_decode(copy, len, NULL, &err) == NULL &&
                  strstr(err.msg, "format version 0 is older"));

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
    memcpy(copy, buf, len);
    /* Tree 0's root cover, right after its nodes, one more than its
     * children's sum. */
    set_u32(copy + off + 16 * f->forest->trees[0].n_nodes,
            f->forest->trees[0].cover[0] + 1);
    reseal(copy, len);
    test_cond("codec-3.7 a cover that is not its children's sum is refused",
              model_decode(copy, len, NULL, &err) == NULL &&
                  strstr(err.msg, "tree 0 node 0: cover"));
    {
        /* The calibration's first score sits after the trees, its flag,
         * scale, horizon count and two counts; make it larger than the
         * next so the scores are out of order. */
        size_t cal = len - (1 + 4 + 15 * 9 * 4 + 15 * 10 * 8) - 7 * 4;
        memcpy(copy, buf, len);
        copy[cal + 3] = 0x4f; /* 1.0f becomes 2^32 */
        reseal(copy, len);
        test_cond("codec-3.8 calibration scores out of order are refused",
                  model_decode(copy, len, NULL, &err) == NULL &&
                      strstr(err.msg, "calibration: horizon 1 score 1"));
        /* The scale field (before the horizon count and two counts) made
         * relative, and the series target (before the strategy, horizon,
         * same-weekday lags, has_cover and tree 0's header) made the value
         * itself, which has no level. */
        memcpy(copy, buf, len);
        set_u32(copy + cal - 4 * 4, CALIBRATION_RELATIVE);
        set_u32(copy + off - 12 - 1 - 12 - 8, SERIES_TARGET_VALUE);
        set_u32(copy + off - 12 - 1 - 12 - 4, 0);
        reseal(copy, len);
        test_cond("codec-3.9 relative calibration without a series level is "
                  "refused",
                  model_decode(copy, len, NULL, &err) == NULL &&
                      strstr(err.msg, "relative scores without"));
    }
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
    model_free(f);
    dataset_release(&rows);
    test_previous_format();
    test_format2();
    test_format3();
    test_calibration_profile();
}
