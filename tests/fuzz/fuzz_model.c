/*
 * fuzz_model.c: libFuzzer target for the model loader: model_decode()
 * (libforest/model.h), then what the server does with a model it accepts
 * (serving_new's checks and description, single, batch and spread
 * predictions, and a forecast row for a series model).
 *
 * Random bytes almost never pass the two CRC-32 checks, so the fuzzer
 * would spend its time on the first 32 bytes. The target therefore
 * rewrites the header's payload length and both checksums to match the
 * input before decoding: the mutations reach the payload parser, which is
 * where the interesting checks are. (The checksum code itself is a few
 * lines and covered by the unit tests.)
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "forest.h"
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
            uint32_t h = series_history(spec);
            double *past = calloc(h, sizeof *past);
            double cov[SERIES_MAX_COVARIATES] = {0};
            if (past != NULL) {
                series_build_row(spec, past, 19000, cov, rows);
                out[0] = forest_predict_row(f, rows);
            }
            free(past);
        }
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
