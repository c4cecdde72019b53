/*
 * fuzz_model.c: libFuzzer target for the model loader: model_decode()
 * (libforest/model.h), then what the server does with a model it accepts
 * (serving_new's checks and description, single, batch and spread
 * predictions, a forecast row for a series model, and TreeSHAP on any
 * model whose file keeps cover, whose contributions must add up to the
 * prediction).
 *
 * Random bytes almost never pass the two CRC-32 checks, so the fuzzer
 * would spend its time on the first 32 bytes. The target therefore
 * rewrites the header's payload length and both checksums to match the
 * input before decoding: the mutations reach the payload parser, which is
 * where the interesting checks are. (The checksum code itself is a few
 * lines and covered by the unit tests.)
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "explain.h"
#include "forest.h"
#include "forecast.h"
#include "model.h"
#include "registry.h"
#include "series.h"

static void put_u32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static void put_u64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

/* Explains the 3 rows; aborts when base + contributions is not the
 * prediction (to 1e-6 of the largest magnitude involved, since hostile
 * leaves may cancel). */
static void explain_rows(const struct model *m, const float *rows)
{
    size_t nf = m->forest->n_features;
    double *work = malloc(explain_work_doubles(m) * sizeof *work);
    double *phi = malloc((nf + 1) * sizeof *phi);
    float *rw = malloc(nf * sizeof *rw);
    double base = explain_base(m);

    for (size_t i = 0; work && phi && rw && i < 3; i++) {
        double pred = model_predict_row(m, rows + i * nf, rw);
        double sum = base, scale = fabs(base) + fabs(pred) + 1.0;
        explain_row(m, rows + i * nf, work, rw, phi);
        for (size_t k = 0; k <= nf; k++) {
            sum += phi[k];
            scale += fabs(phi[k]);
        }
        if (isfinite(scale) && !(fabs(sum - pred) <= 1e-6 * scale)) {
            fprintf(stderr, "row %zu: base + contributions %.17g, "
                    "prediction %.17g\n", i, sum, pred);
            abort();
        }
    }
    free(work);
    free(phi);
    free(rw);
}

static void exercise(struct model *mod)
{
    struct fr_error err = {{0}};
    struct serving *m;
    const struct forest *f = mod->forest;
    const struct series_spec *spec;
    size_t nf = f->n_features;
    float *rows;
    double out[3], mean, std, lo, hi;

    m = serving_new(mod, "fuzz", 0, "fuzz", NULL, 0, &err);
    if (m == NULL)
        return;
    f = m->model->forest;
    spec = &m->model->series;
    rows = calloc(3 * nf, sizeof *rows);
    if (rows != NULL) {
        rows[nf] = 1e30f;
        rows[2 * nf] = -1e30f;
        out[0] = forest_predict_row(f, rows);
        forest_predict(f, rows, 3, 1, out);
        forest_predict_spread(f, rows, 0.05, 0.95, &mean, &std, &lo, &hi);
        if (m->model->has_series) {
            /* A 3-day forecast, the /forecast path, with its intervals. */
            uint32_t h = series_history(spec);
            double *past = calloc(h, sizeof *past);
            double *work = calloc(forecast_work_doubles(m->model),
                                  sizeof *work);
            float *fwork = calloc(forecast_work_floats(m->model),
                                  sizeof *fwork);
            double cov[3 * SERIES_MAX_COVARIATES] = {0}, values[3];
            if (past != NULL && work != NULL && fwork != NULL) {
                for (uint32_t i = 0; i < h; i++)
                    past[i] = 100.0 + i % 7;
                forecast_values(m->model, past, 19000, cov, 3, work, fwork,
                                values);
                for (uint32_t d = 1; d <= 3; d++) {
                    double below, above;
                    int cal;
                    forecast_interval(m->model, d, values[d - 1],
                                      forecast_scale_level(m->model, past),
                                      0.9, &below, &above, &cal, &err);
                }
            }
            free(past);
            free(work);
            free(fwork);
        } else {
            double below, above;
            int cal;
            forecast_interval(m->model, 1, out[0], 1.0, 0.8, &below, &above,
                              &cal, &err);
        }
        if (explain_check(m->model, &err) == 0)
            explain_rows(m->model, rows);
        for (uint32_t i = 0; m->model->profile.n_bins && i < nf; i++)
            (void)profile_bin(&m->model->profile, i, rows[i]);
        (void)out;
    }
    free(rows);
    serving_release(m);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fr_error err = {{0}};
    struct model *f;
    uint8_t *buf;

    buf = malloc(size ? size : 1);
    if (buf == NULL)
        return 0;
    memcpy(buf, data, size);
    if (size >= MODEL_HEADER_BYTES) {
        size_t payload = size - MODEL_HEADER_BYTES;
        put_u64(buf + 16, payload);
        put_u32(buf + 24, (uint32_t)crc32(0L, buf + MODEL_HEADER_BYTES,
                                          (uInt)payload));
        put_u32(buf + 28, (uint32_t)crc32(0L, buf, 28));
    }
    f = model_decode(buf, size, NULL, &err);
    if (f != NULL)
        exercise(f); /* takes f */
    free(buf);
    return 0;
}
