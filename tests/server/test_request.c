/*
 * test_request.c: unit tests of the server's parts that need no socket:
 * the JSON writers (buf.c), the request parsers (request.c), the handlers
 * on hand-built forests whose answers are known exactly, and the
 * registry's reference counting. tests/server/run.sh builds it against
 * the ASan objects and runs it first.
 *
 * The forests are two stumps each, so every number can be worked out by
 * hand: tabular "a <= 10 ? 20 : 5" and "b <= 0 ? 0 : 100"; the series one
 * "lag_1 <= 10 ? 20 : 5" and "promo <= 0.5 ? 0 : 10". Without cover (as a
 * format-1 file) until covered() gives them one.
 */
#include <cjson/cJSON.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zlib.h>

#include "auth.h"
#include "buf.h"
#include "drift.h"
#include "encoding.h"
#include "handlers.h"
#include "registry.h"
#include "request.h"
#include "rng.h"
#include "routes.h"
#include "series.h"
#include "stats.h"

static int passed, failed;

/* A string literal and its length, for the parsers' (body, len). */
#define LIT(s) s, strlen(s)

#define check(name, cond)                                                   \
    do {                                                                    \
        if (cond) {                                                         \
            passed++;                                                       \
            printf("  ok    %s\n", name);                                   \
        } else {                                                            \
            failed++;                                                       \
            printf("  FAIL  %s  (%s:%d: %s)\n", name, __FILE__, __LINE__,   \
                   #cond);                                                  \
        }                                                                   \
    } while (0)

/* A stump: nodes[0] splits, nodes[1] and nodes[2] are leaves. */
static void stump(struct tree *t, uint32_t index, uint32_t feature,
                  float threshold, float left, float right)
{
    t->index = index;
    t->depth = 1;
    t->n_nodes = 3;
    t->nodes = calloc(3, sizeof *t->nodes);
    t->nodes[0] = (struct tree_node){feature, threshold, 1, 0.0f};
    t->nodes[1] = (struct tree_node){0, INFINITY, 1, left};
    t->nodes[2] = (struct tree_node){0, INFINITY, 2, right};
}

static struct forest *forest_of(const char *const *names, uint32_t nf)
{
    struct forest *f = calloc(1, sizeof *f);

    f->n_features = nf;
    f->n_trees = 2;
    f->trees = calloc(2, sizeof *f->trees);
    f->feature_names = calloc(nf, sizeof *f->feature_names);
    f->importances = calloc(nf, sizeof *f->importances);
    for (uint32_t i = 0; i < nf; i++)
        f->feature_names[i] = strdup(names[i]);
    forest_params_default(&f->params);
    f->params.n_trees = 2;
    f->oob_rmse = NAN;
    return f;
}

static struct model *tabular(void)
{
    static const char *const names[] = {"a", "b"};
    struct forest *f = forest_of(names, 2);

    static const double scores[9] = {9, 8, 7, 6, 5, 4, 3, 2, 1};
    static const uint32_t count = 9;
    struct model *m;

    stump(&f->trees[0], 0, 0, 10.0f, 20.0f, 5.0f);
    stump(&f->trees[1], 1, 1, 0.0f, 0.0f, 100.0f);
    m = model_new(f, NULL, NULL);
    calibration_build(&m->calibration, CALIBRATION_ABSOLUTE, 1, &count,
                      scores, NULL);
    return m;
}

static struct model *series(void)
{
    static const char *const names[] = {"lag_1", "day_of_week",
                                        "day_of_month", "month", "promo"};
    struct forest *f = forest_of(names, 5);
    struct model *m = model_new(f, NULL, NULL);

    m->has_series = 1;
    m->series.n_lags = 1;
    m->series.lags[0] = 1;
    m->series.n_covariates = 1;
    m->series.covariates[0] = strdup("promo");
    stump(&f->trees[0], 0, 0, 10.0f, 20.0f, 5.0f);
    stump(&f->trees[1], 1, 4, 0.5f, 0.0f, 10.0f);
    return m;
}

/* Gives both stumps cover: tree 0 3 | 1, tree 1 1 | 1. The base value is
 * then ((3 x 20 + 5) / 4 + (0 + 100) / 2) / 2 = 33.125, and row (1, 1)
 * (prediction 60) gets a: (20 - 16.25) / 2 = 1.875, b: (100 - 50) / 2 = 25.
 * A profile on 10 bins of a and b uniform on [0, 1) (fixed seed) makes
 * drift measurable. */
static struct model *covered(struct model *m)
{
    static const uint32_t c[2][3] = {{4, 3, 1}, {2, 1, 1}};
    struct fr_error err = {{0}};
    const char *names[2] = {"a", "b"};
    struct dataset ds;
    struct rng r;

    for (int t = 0; t < 2; t++) {
        m->forest->trees[t].cover = malloc(3 * sizeof(uint32_t));
        memcpy(m->forest->trees[t].cover, c[t], sizeof c[t]);
    }
    if (m->forest->n_features == 2) {
        dataset_init(&ds, 2, names, 5000, 0, &err);
        rng_seed(&r, 7, 0);
        for (int i = 0; i < 5000; i++) {
            float row[2] = {(float)rng_uniform(&r), (float)rng_uniform(&r)};
            dataset_push(&ds, row, 0.0, 0, 0, 0.0, &err);
        }
        profile_build(&m->profile, &ds, PROFILE_BINS, &err);
        dataset_release(&ds);
    }
    return m;
}

static struct registry registry;
static struct stats stats;
static struct drift drift;
static struct app app;
static struct scratch sc;
static struct buf out;
static struct reply reply;

/* POSTs body to path; returns the status, the answer is in out.data. */
static int post(const char *path, const char *body)
{
    buf_reset(&out);
    scratch_reset(&sc);
    handlers_dispatch(&app, "POST", path, NULL, body, strlen(body), &sc, &out,
                      &reply);
    return reply.status;
}

/* POSTs len raw bytes with an Inference-Header-Content-Length header. */
static int post_raw(const char *path, const char *header_len,
                    const char *body, size_t len)
{
    buf_reset(&out);
    scratch_reset(&sc);
    handlers_dispatch(&app, "POST", path, header_len, body, len, &sc, &out,
                      &reply);
    return reply.status;
}

static int get(const char *path)
{
    buf_reset(&out);
    handlers_dispatch(&app, "GET", path, NULL, NULL, 0, &sc, &out, &reply);
    return reply.status;
}

static void install(struct model *mod, const char *version)
{
    struct fr_error err = {{0}};
    struct serving *m = serving_new(mod, version, 0x1234abcd, "test", NULL, 0,
                                &err);

    if (m == NULL) {
        printf("  FAIL  serving_new: %s\n", err.msg);
        exit(1);
    }
    registry_install(&registry, m);
}

static void test_buf(void)
{
    struct buf b;

    buf_init(&b);
    buf_json_string(&b, "a\"b\\c\n\x01\xc3\xa9");
    check("buf: strings are escaped, UTF-8 passes through",
          strcmp(b.data, "\"a\\\"b\\\\c\\n\\u0001\xc3\xa9\"") == 0);
    buf_reset(&b);
    buf_json_double(&b, 0.1);
    buf_add(&b, " ", 1);
    buf_json_double(&b, 1.0 / 3.0);
    buf_add(&b, " ", 1);
    buf_json_double(&b, NAN);
    buf_add(&b, " ", 1);
    buf_json_double(&b, 1e300);
    check("buf: doubles are shortest round-trip, NaN is null",
          strcmp(b.data, "0.1 0.3333333333333333 null 1e+300") == 0);
    buf_reset(&b);
    {
        /* buf_json_double prints once and rounds the digits itself: its
         * text must be exactly what the loop of %.15g, %.16g, %.17g with
         * a read-back check printed, for doubles of every kind. */
        static const double SPECIAL[] = {
            0.0, -0.0, 1, -1, 0.1, 1e-5, 1e-4, 9.9999999999999995e-5, 1e15,
            1e16, 1e17, 123456789012345678.0, 5e-324, 1.7976931348623157e308,
            2.2250738585072014e-308, 0.30000000000000004, 99999999999999.99,
            999999999999999.9, 9999999999999999.0, 121.35122237965464, 0.5,
            100, 1e21, 1e22, 1e-300};
        struct rng r;
        char want[32];
        int same = 1;
        rng_seed(&r, 5, 1);
        for (int k = 0; k < 300000; k++) {
            uint64_t bits = rng_next(&r);
            double v;
            switch (k % 6) {
            case 0: memcpy(&v, &bits, sizeof v); break;
            case 1: v = (double)(int64_t)bits / 1e9; break;
            case 2: v = (double)(bits % 100000) / 100.0; break;
            case 3: v = ldexp((double)(bits >> 11), (int)(bits % 200) - 150);
                break;
            case 4: v = (double)(float)((double)(int64_t)bits / 1e15); break;
            default: v = pow(10.0, (double)((int)(bits % 600) - 300)) *
                         (double)(1 + (bits >> 60));
            }
            if (k < (int)(sizeof SPECIAL / sizeof *SPECIAL))
                v = SPECIAL[k];
            if (!isfinite(v))
                continue;
            for (int digits = 15; digits <= 17; digits++) {
                snprintf(want, sizeof want, "%.*g", digits, v);
                if (strtod(want, NULL) == v)
                    break;
            }
            buf_reset(&b);
            buf_json_double(&b, v);
            if (same && strcmp(b.data, want) != 0) {
                printf("  first difference: %a: %s, not %s\n", v, b.data,
                       want);
                same = 0;
            }
        }
        check("buf: doubles print as %.15g, %.16g or %.17g, the first that "
              "reads back", same);
    }
    buf_reset(&b);
    buf_json_float(&b, 0.1f);
    buf_add(&b, " ", 1);
    buf_json_float(&b, 108.33668f);
    check("buf: floats are shortest round-trip as float32",
          strcmp(b.data, "0.1 108.33668") == 0);
    buf_reset(&b);
    for (int i = 0; i < 100000; i++)
        buf_printf(&b, "%d,", i);
    check("buf: grows past BUF_KEEP_BYTES", !b.failed && b.len > 500000);
    buf_reset(&b);
    check("buf: reset frees a large buffer", b.cap == 0 && b.len == 0);
    buf_release(&b);
}

static void test_parsers(void)
{
    struct model *mod = tabular();
    struct forest *f = mod->forest;
    struct predict_request pr;
    struct infer_request ir;
    struct fr_error err = {{0}};
    int st;

    st = request_predict(LIT("{\"features\":{\"b\":2,\"a\":1}}"), f, 10,
                         &sc, &pr, &err);
    check("parse: named features land in model order",
          st == 0 && pr.n_rows == 1 && pr.X[0] == 1.0f && pr.X[1] == 2.0f);
    st = request_predict(LIT("{\"instances\":[[1,2],{\"a\":3,\"b\":4}]}"),
                         f, 10, &sc, &pr, &err);
    check("parse: a mixed batch", st == 0 && pr.batch && pr.n_rows == 2 &&
          pr.X[2] == 3.0f && pr.X[3] == 4.0f);
    /* Messages are formatted only when a value fails: they must still
     * say where it was. */
    st = request_predict(LIT("{\"instances\":[[1,2],[3,4],[5,\"x\"]]}"),
                         f, 10, &sc, &pr, &err);
    check("lazy-1.1 a bad value in a batch row array names its row and "
          "feature", st == 422 && strcmp(err.msg, "instances[2]: feature 1 "
          "('b') is not a number (got a string)") == 0);
    st = request_predict(LIT("{\"instances\":[{\"a\":1,\"b\":2},"
                             "{\"b\":1e39,\"a\":1}]}"), f, 10, &sc, &pr,
                         &err);
    check("lazy-1.2 a bad value in a row by name names its row and name",
          st == 422 && strcmp(err.msg, "instances[1]: feature 'b' is 1e+39, "
          "which overflows float32") == 0);
    st = request_predict(LIT("{\"instances\":[{\"a\":1,\"b\":2},"
                             "{\"a\":1}]}"), f, 10, &sc, &pr, &err);
    check("lazy-1.3 a missing name names its row",
          st == 422 && strcmp(err.msg, "instances[1]: missing feature 'b'") ==
              0);
    st = request_infer(LIT("{\"inputs\":[{\"name\":\"i\",\"shape\":[2,2],"
                           "\"datatype\":\"FP32\",\"data\":[1,2,3,null]}]}"),
                       NULL, 0, f, 10, &sc, &ir, &err);
    check("lazy-1.4 a bad V2 value names its place",
          st == 422 && strcmp(err.msg, "input 'data' value 3 (row 1, 'b') is "
          "not a number (got null)") == 0);
    st = request_predict(LIT("{\"instances\":[[1,2],[1,2],[1,2]]}"), f, 2,
                         &sc, &pr, &err);
    check("parse: MAX_BATCH_ROWS", st == 422 && strstr(err.msg, "limit"));
    /* The length is honoured: the bytes after it are never read. */
    st = request_predict("{\"features\":[1,2]}garbage", 18, f, 10, &sc, &pr,
                         &err);
    check("parse: only len bytes are read", st == 0 && pr.X[1] == 2.0f);
    st = request_predict(LIT("{\"features\":[1,2]"), f, 10, &sc, &pr, &err);
    check("parse: truncated JSON is 400", st == 400);
    st = request_predict(LIT("{\"features\":[1,inf]}"), f, 10, &sc, &pr,
                         &err);
    check("parse: a bare inf is 422 naming it",
          st == 422 && strstr(err.msg, "'inf'"));
    st = request_predict(LIT("{\"features\":[3.5e38,1]}"), f, 10, &sc, &pr,
                         &err);
    check("parse: 3.5e38 overflows float32",
          st == 422 && strstr(err.msg, "overflows float32"));
    st = request_predict(LIT("{\"features\":[3.4e38,-1e-50]}"), f, 10, &sc,
                         &pr, &err);
    check("parse: 3.4e38 and underflow are fine",
          st == 0 && isfinite(pr.X[0]));
    st = request_predict("{\"instances\":[[1,2],[1,2],[1,2],[1,2],[1,2]]}",
                         20, f, 100, &sc, &pr, &err);
    check("parse: a cut body is malformed", st == 400);
    st = request_infer(LIT("{\"id\":\"x\",\"inputs\":[{\"name\":\"i\","
                           "\"shape\":[2,2],\"datatype\":\"FP32\",\"data\":"
                           "[[1,2],[3,4]]}]}"), NULL, 0, f, 10, &sc, &ir,
                       &err);
    check("parse: V2 nested data",
          st == 0 && ir.n_rows == 2 && ir.X[3] == 4.0f && ir.has_id &&
          strcmp(ir.id, "x") == 0 && !ir.fp64);
    st = request_infer(LIT("{\"inputs\":[{\"name\":\"i\",\"shape\":"
                           "[100000,2],\"datatype\":\"FP32\",\"data\":[]}]}"),
                       NULL, 0, f, 1000000, &sc, &ir, &err);
    check("parse: a V2 shape the body cannot fill is refused before "
          "allocating", st == 422 && strstr(err.msg, "body can hold"));
    st = request_infer(LIT("{\"inputs\":[{\"name\":\"i\",\"shape\":[1,2],"
                           "\"datatype\":\"FP32\",\"data\":[1,2]}],"
                           "\"outputs\":[{\"name\":\"nope\"}]}"), NULL, 0,
                       f, 10, &sc, &ir, &err);
    check("v2req-1.1 an unknown output is 400 naming it",
          st == 400 && strstr(err.msg, "unknown output 'nope'"));
    st = request_infer(LIT("{\"inputs\":[{\"name\":\"i\",\"shape\":[1,2],"
                           "\"datatype\":\"FP32\",\"data\":[1,2]}],"
                           "\"Id\":\"7\"}"), NULL, 0, f, 10, &sc, &ir, &err);
    check("v2req-1.2 an unknown top-level key is 400 naming it",
          st == 400 && strstr(err.msg, "unknown key 'Id'"));
    st = request_infer(LIT("{\"id\":\"1\",\"id\":\"2\",\"inputs\":[]}"),
                       NULL, 0, f, 10, &sc, &ir, &err);
    check("v2req-1.3 a key given twice is 400",
          st == 400 && strstr(err.msg, "'id' is given twice"));
    st = request_infer(LIT("{\"inputs\":[{\"name\":\"i\",\"shape\":[1,2],"
                           "\"datatype\":\"FP32\",\"data\":[1,2]}],"
                           "\"outputs\":[{\"name\":\"predict\"}],"
                           "\"parameters\":{\"x\":1}}"), NULL, 0, f, 10,
                       &sc, &ir, &err);
    check("v2req-1.4 the model's output by name and parameters are taken",
          st == 0 && ir.n_rows == 1);
    model_free(mod);
}

/* The one-row fast path ({"features": [...]}, request.c) against the
 * cJSON path (the same numbers by name): every spelling of a number must
 * give the same float, bit for bit, and every body the fast path does not
 * take in full must still get the cJSON path's answer. */
static void test_fast_row(void)
{
    static const char *const SPELLED[] = {
        "0", "-0", "1", "-1", "120.5", "119.2", "2.1", "118.0", "3.3",
        "0.1", "0.30000000000000004", "1e22", "1e23", "-1e-22", "1e-23",
        "9007199254740992", "9007199254740993", "18446744073709551615",
        "18446744073709551616", "123456789012345678901234567890",
        "0.000000000000000000000000000000000000000000001401298464324817",
        "1.1754943508222875e-38", "3.4028234663852886e38",
        "-3.4028234e+38", "1E5", "1e+5", "2.5E-3", "0.0000001",
        "4.9406564584124654e-324", "1e-400", "100000000000000000000000",
        "12345678901234567890.123456789e-10", "7e0", "0e999999",
        "1.00000000000000011102230246251565404236316680908203125",
        /* Past 19 digits (strtod's path), around the tie between the
         * floats 1 and 1 + 2^-23. */
        "1.0000000596046447753906251", "1.0000000596046447753906249",
        "0.0000000596046447753906250001e7"};
    static const char *const NAMES[] = {"a", "b"};
    struct forest *f = forest_of(NAMES, 2);
    struct predict_request pr;
    struct fr_error err = {{0}};
    char fast[256], named[256];
    float want[2];
    struct rng r;
    int same = 1, all = 1;
    size_t n = sizeof SPELLED / sizeof *SPELLED;

    rng_seed(&r, 17, 1);
    for (size_t k = 0; k < n + 3000; k++) {
        char x[80], y[80];
        if (k < n) {
            snprintf(x, sizeof x, "%s", SPELLED[k]);
            snprintf(y, sizeof y, "%s", SPELLED[n - 1 - k]);
        } else {
            /* Random doubles in float32's range, in the formats clients
             * print: shortest-ish, fixed, exponent, few digits. */
            uint64_t bits = rng_next(&r);
            double v;
            memcpy(&v, &bits, sizeof v);
            if (!isfinite(v) || fabs(v) > 3.4e38)
                v = (double)(int64_t)bits / 1e12;
            static const char *const FMT[] = {"%.17g", "%.15g", "%.6g",
                                              "%.3f", "%e", "%.2e"};
            snprintf(x, sizeof x, FMT[k % 6], v);
            snprintf(y, sizeof y, FMT[(k / 6) % 6],
                     (double)(int64_t)(bits >> 7) / 1e4);
            if (k % 3 == 0) {
                /* A tie between two floats (an integer between 2^24 and
                 * 2^44) spelled with a scaled exponent, 1234500e-2: a
                 * double one ulp off the tie would round to the other
                 * float. */
                int e = 24 + (int)(bits % 20);
                double lo = ldexp(1.0, e) +
                            ldexp((double)((bits >> 41) & 0x7fffff), e - 23);
                snprintf(x, sizeof x, "%.0f00e-2", lo + ldexp(1.0, e - 24));
                snprintf(y, sizeof y, "%.0f000e-3", lo + ldexp(1.0, e - 24));
            }
        }
        snprintf(fast, sizeof fast, "{\"features\": [%s, %s]}", x, y);
        snprintf(named, sizeof named, "{\"features\":{\"a\":%s,\"b\":%s}}",
                 x, y);
        if (request_predict(named, strlen(named), f, 10, &sc, &pr, &err) != 0)
            continue;
        want[0] = pr.X[0];
        want[1] = pr.X[1];
        if (request_predict(fast, strlen(fast), f, 10, &sc, &pr, &err) != 0 ||
            memcmp(pr.X, want, sizeof want) != 0) {
            if (same)
                printf("  first difference: %s\n", fast);
            same = 0;
        }
    }
    check("fast-1.1 a row as an array reads every number as by name",
          same);
    /* Bodies near the fast path's shape: the cJSON path's answers. */
    all &= request_predict(LIT(" \r\n{ \"features\" :\t[ 1 , 2 ] } \n"), f,
                           10, &sc, &pr, &err) == 0 && pr.X[0] == 1.0f &&
           pr.X[1] == 2.0f && !pr.batch && pr.n_rows == 1;
    all &= request_predict(LIT("{\"features\":[01,2]}"), f, 10, &sc, &pr,
                           &err) == 0 && pr.X[0] == 1.0f;
    check("fast-1.2 whitespace and cJSON's leniencies read as before", all);
    check("fast-1.3 too many values is the same 422",
          request_predict(LIT("{\"features\":[1,2,3]}"), f, 10, &sc, &pr,
                          &err) == 422 &&
          strcmp(err.msg, "expected 2 features, got 3") == 0);
    check("fast-1.4 too few values is the same 422",
          request_predict(LIT("{\"features\":[1]}"), f, 10, &sc, &pr,
                          &err) == 422 &&
          strcmp(err.msg, "expected 2 features, got 1") == 0);
    check("fast-1.5 a string value is the same 422",
          request_predict(LIT("{\"features\":[1,\"2\"]}"), f, 10, &sc,
                          &pr, &err) == 422 &&
          strcmp(err.msg, "feature 1 ('b') is not a number (got a string)") ==
              0);
    check("fast-1.6 a second key is still checked",
          request_predict(LIT("{\"features\":[1,2],\"features\":[1,2]}"),
                          f, 10, &sc, &pr, &err) == 422 &&
          strcmp(err.msg, "key 'features' is given twice") == 0);
    check("fast-1.7 a trailing comma is malformed",
          request_predict(LIT("{\"features\":[1,2,]}"), f, 10, &sc, &pr,
                          &err) == 400);
    check("fast-1.8 1e39 overflows float32 as before",
          request_predict(LIT("{\"features\":[1e39,2]}"), f, 10, &sc, &pr,
                          &err) == 422 &&
          strcmp(err.msg, "feature 0 ('a') is 1e+39, which overflows "
                 "float32") == 0);
    forest_free(f);
}

/* zlib's deflate of n bytes into out (gzip when gz), as clients send. */
static size_t squeeze(const void *in, size_t n, int gz, unsigned char *dst,
                      size_t cap)
{
    z_stream zs;
    size_t got;

    memset(&zs, 0, sizeof zs);
    if (deflateInit2(&zs, 6, Z_DEFLATED, gz ? 15 + 16 : 15, 8,
                     Z_DEFAULT_STRATEGY) != Z_OK)
        return 0;
    zs.next_in = (Bytef *)(uintptr_t)in;
    zs.avail_in = (uInt)n;
    zs.next_out = dst;
    zs.avail_out = (uInt)cap;
    got = deflate(&zs, Z_FINISH) == Z_STREAM_END ? cap - zs.avail_out : 0;
    deflateEnd(&zs);
    return got;
}

static size_t room_calls, room_most;

/* encoding_room_fn without a budget; records the largest request. */
static int room(void *ctx, struct buf *b, size_t need)
{
    (void)ctx;
    room_calls++;
    if (need > room_most)
        room_most = need;
    return buf_grow_exact(b, need + 1) == 0 ? 0 : 500;
}

static int no_room(void *ctx, struct buf *b, size_t need)
{
    (void)ctx;
    (void)b;
    (void)need;
    return 503;
}

static void test_encoding(void)
{
    static const char text[] = "{\"features\":[1,2]}";
    static unsigned char z[64 * 1024], zeros[1 << 20];
    struct fr_error err = {{0}};
    enum encoding enc;
    struct buf b;
    size_t n;
    int st;

    buf_init(&b);
    check("enc-1.1 Content-Encoding names: gzip, x-gzip, deflate in any "
          "case, identity, empty and none",
          encoding_parse("gzip", &enc, &err) == 0 && enc == ENCODING_GZIP &&
          encoding_parse("x-gzip", &enc, &err) == 0 &&
          enc == ENCODING_GZIP &&
          encoding_parse(" Deflate ", &enc, &err) == 0 &&
          enc == ENCODING_DEFLATE &&
          encoding_parse("identity", &enc, &err) == 0 &&
          enc == ENCODING_IDENTITY &&
          encoding_parse("", &enc, &err) == 0 && enc == ENCODING_IDENTITY &&
          encoding_parse(NULL, &enc, &err) == 0 &&
          enc == ENCODING_IDENTITY);
    check("enc-1.2 br and a list of codings are refused, naming them",
          encoding_parse("br", &enc, &err) == -1 && strstr(err.msg, "'br'") &&
          encoding_parse("gzip, deflate", &enc, &err) == -1);
    n = squeeze(text, strlen(text), 1, z, sizeof z);
    st = encoding_decode(ENCODING_GZIP, (const char *)z, n, 1000, &b, room,
                         NULL, &err);
    check("enc-1.3 gzip round trip",
          st == 0 && b.len == strlen(text) && strcmp(b.data, text) == 0);
    buf_reset(&b);
    n = squeeze(text, strlen(text), 0, z, sizeof z);
    st = encoding_decode(ENCODING_DEFLATE, (const char *)z, n, 1000, &b,
                         room, NULL, &err);
    check("enc-1.4 deflate (zlib format) round trip",
          st == 0 && strcmp(b.data, text) == 0);
    buf_reset(&b);
    st = encoding_decode(ENCODING_GZIP, (const char *)z, n, 1000, &b, room,
                         NULL, &err);
    check("enc-1.5 zlib data labelled gzip is 400", st == 400);
    buf_reset(&b);
    n = squeeze(zeros, sizeof zeros, 1, z, sizeof z);
    room_calls = 0;
    room_most = 0;
    st = encoding_decode(ENCODING_GZIP, (const char *)z, n, 5000, &b, room,
                         NULL, &err);
    check("enc-1.6 a bomb (1 MiB of zeros) is 413, and the output never "
          "grew past max + 1",
          n > 0 && n < 2000 && st == 413 && room_most <= 5001 &&
          strstr(err.msg, "5000 bytes once decompressed"));
    buf_release(&b);
    n = squeeze(text, strlen(text), 1, z, sizeof z);
    st = encoding_decode(ENCODING_GZIP, (const char *)z, n - 5, 1000, &b,
                         room, NULL, &err);
    check("enc-1.7 a truncated stream is 400", st == 400 &&
          strstr(err.msg, "truncated"));
    buf_reset(&b);
    z[n] = 'x';
    st = encoding_decode(ENCODING_GZIP, (const char *)z, n + 1, 1000, &b,
                         room, NULL, &err);
    check("enc-1.8 a byte after the stream is 400", st == 400 &&
          strstr(err.msg, "1 bytes follow"));
    buf_reset(&b);
    z[10] ^= 0xff;
    st = encoding_decode(ENCODING_GZIP, (const char *)z, n, 1000, &b, room,
                         NULL, &err);
    check("enc-1.9 a corrupt stream is 400", st == 400);
    buf_release(&b);
    n = squeeze(text, strlen(text), 1, z, sizeof z);
    st = encoding_decode(ENCODING_GZIP, (const char *)z, n, 1000, &b,
                         no_room, NULL, &err);
    check("enc-1.10 no room in the budget: the room's status (503)",
          st == 503);
    buf_release(&b);
}

static void test_tabular(void)
{
    install(tabular(), "t1");
    check("predict: a <= 10, b > 0: (20 + 100) / 2",
          post("/predict", "{\"features\":{\"a\":1,\"b\":1}}") == 200 &&
          strcmp(out.data, "{\"prediction\":60,\"model_version\":\"t1\"}") ==
              0);
    check("predict: a > 10, b <= 0: (5 + 0) / 2",
          post("/predict", "{\"features\":[11,-1]}") == 200 &&
          strstr(out.data, "\"prediction\":2.5,"));
    check("predict: a batch takes the lane path and agrees",
          post("/predict", "{\"instances\":[[1,1],[11,-1],[10,0],[10.5,0.5],"
               "[1,1],[1,1],[1,1],[1,1],[11,-1]]}") == 200 &&
          strstr(out.data, "[60,2.5,10,52.5,60,60,60,60,2.5]"));
    check("predict: the spread of two trees at 0.5: quartiles 40 and 80",
          post("/predict", "{\"features\":[1,1],\"interval\":0.5}") == 200 &&
          strstr(out.data, "\"spread\":{\"lower\":40,\"upper\":80"));
    /* Scores 1..9: the 0.5 interval is the ceil(10 x 0.5) = 5th, 60 +- 5;
     * 0.9 the 9th. */
    check("predict: the conformal interval at 0.5 and 0.9",
          post("/predict", "{\"features\":[1,1],\"interval\":0.5}") == 200 &&
          strstr(out.data, "\"interval\":{\"level\":0.5,\"lower\":55,"
                           "\"upper\":65,\"calibrated\":true}") &&
          post("/predict", "{\"features\":[1,1],\"interval\":0.9}") == 200 &&
          strstr(out.data, "\"lower\":51,\"upper\":69,"));
    check("predict: a level the calibration cannot back is 422, saying how "
          "many scores it needs",
          post("/predict", "{\"features\":[1,1],\"interval\":0.95}") == 422 &&
          strstr(out.data, "needs at least 19"));
    check("infer: FP32 output",
          post("/v2/models/forest/infer", "{\"inputs\":[{\"name\":\"x\","
               "\"shape\":[2,2],\"datatype\":\"FP32\",\"data\":[1,1,11,-1]}]}")
              == 200 && strstr(out.data, "\"data\":[60,2.5]"));
    {
        /* Triton's binary data: a JSON header, then rows (1, 1) and
         * (11, -1) as little-endian FP32: 60 and 2.5. */
        static const char head[] = "{\"inputs\":[{\"name\":\"x\",\"shape\":"
            "[2,2],\"datatype\":\"FP32\",\"parameters\":"
            "{\"binary_data_size\":16}}],\"outputs\":[{\"name\":"
            "\"predict\",\"parameters\":{\"binary_data\":true}}]}";
        static const unsigned char rows[16] = {
            0, 0, 0x80, 0x3f, 0, 0, 0x80, 0x3f,    /* 1.0f, 1.0f */
            0, 0, 0x30, 0x41, 0, 0, 0x80, 0xbf};   /* 11.0f, -1.0f */
        /* 60.0f and 2.5f, little endian. */
        static const unsigned char want[8] = {0, 0, 0x70, 0x42,
                                              0, 0, 0x20, 0x40};
        char body[512], n[16];
        size_t hl = strlen(head);

        memcpy(body, head, hl);
        memcpy(body + hl, rows, sizeof rows);
        snprintf(n, sizeof n, "%zu", hl);
        check("v2bin-1.1 binary FP32 in, binary FP32 out: the JSON, then "
              "60 and 2.5 as little-endian bytes",
              post_raw("/v2/models/forest/infer", n, body, hl + 16) == 200 &&
              reply.json_len > 0 && out.len == reply.json_len + 8 &&
              memcmp(out.data + reply.json_len, want, 8) == 0 &&
              strcmp(reply.content_type, "application/octet-stream") == 0 &&
              strstr(out.data, "\"parameters\":{\"binary_data_size\":8}") &&
              !strstr(out.data, "\"data\""));
        check("v2bin-1.2 the header length past the body is 400",
              post_raw("/v2/models/forest/infer", "100000", body, hl + 16) ==
                  400 && reply.json_len == 0);
        check("v2bin-1.3 a header length that is not a number is 400",
              post_raw("/v2/models/forest/infer", "12x", body, hl + 16) ==
                  400);
        check("v2bin-1.4 one byte short of binary_data_size is 400",
              post_raw("/v2/models/forest/infer", n, body, hl + 15) == 400 &&
              strstr(out.data, "has 15 bytes"));
        check("v2bin-1.5 /predict ignores the header",
              post_raw("/predict", "3", "{\"features\":[1,1]}", 18) == 200);
    }
    check("v2bin-1.6 without binary parameters the answer is JSON as before",
          post("/v2/models/forest/infer", "{\"inputs\":[{\"name\":\"x\","
               "\"shape\":[1,2],\"datatype\":\"FP32\",\"data\":[1,1]}]}")
              == 200 && reply.json_len == 0 &&
          strcmp(reply.content_type, "application/json") == 0);
    check("forecast: a tabular model is 422",
          post("/forecast", "{\"history\":[],\"horizon\":1}") == 422);
    check("model: described from the forest",
          get("/model") == 200 && strstr(out.data, "\"mode\":\t\"tabular\"") &&
          strstr(out.data, "crc32:1234abcd"));
    check("v2 metadata: shape [-1, 2]",
          get("/v2/models/forest") == 200 &&
          strstr(out.data, "\"shape\":[-1,2]"));
    check("v2req-1.5 v2 metadata: parameters hold plain values",
          get("/v2/models/forest") == 200 &&
          strstr(out.data, "\"parameters\":{\"mode\":\"tabular\","
                 "\"n_features\":2,\"features\":\"a,b\"}"));
    check("v2req-1.6 /v2/ answers as /v2",
          get("/v2/") == 200 && strstr(out.data, "\"name\":\"forest-serve\""));
}

static void test_series(void)
{
    char body[2048];
    size_t n = 0;

    install(series(), "s1");
    /* 7 days of history (series_history is at least 7), last value 7. */
    n += (size_t)snprintf(body + n, sizeof body - n, "{\"history\":[");
    for (int d = 1; d <= 7; d++)
        n += (size_t)snprintf(body + n, sizeof body - n,
                              "%s{\"date\":\"2024-02-%02d\",\"value\":%d}",
                              d > 1 ? "," : "", 22 + d, d);
    snprintf(body + n, sizeof body - n, "],\"horizon\":3,\"covariates\":"
             "[{\"promo\":0},[1],{\"promo\":0}]}");
    /* Day 1: lag 7 -> 20, promo 0 -> 0: 10. Day 2: lag 10 -> 20, promo 1
     * -> 10: 15. Day 3: lag 15 -> 5, promo 0 -> 0: 2.5. */
    check("forecast: each day's prediction feeds the next day's lag",
          post("/forecast", body) == 200 &&
          strstr(out.data, "[{\"date\":\"2024-03-01\",\"value\":10},"
                 "{\"date\":\"2024-03-02\",\"value\":15},"
                 "{\"date\":\"2024-03-03\",\"value\":2.5}]"));
    check("forecast: counts its days as predictions",
          atomic_load(&stats.predictions) >= 3);
    snprintf(body + n, sizeof body - n, "],\"horizon\":3,\"interval\":0.8,"
             "\"covariates\":[{\"promo\":0},[1],{\"promo\":0}]}");
    check("forecast: a model without calibration (a format-1 file) says it "
          "has no calibrated intervals: 422",
          post("/forecast", body) == 422 &&
          strstr(out.data, "no calibrated intervals"));
    check("predict: the series model by name",
          post("/predict", "{\"features\":{\"lag_1\":11,\"day_of_week\":0,"
               "\"day_of_month\":1,\"month\":1,\"promo\":1}}") == 200 &&
          strstr(out.data, "\"prediction\":7.5,"));
}

static void test_auth(void)
{
    struct fr_error err = {{0}};
    struct auth a, off = {0};

    check("auth: a token with a space is refused",
          auth_init(&a, "a b", NULL, 0, &err) == -1);
    auth_release(&a);
    check("auth: METRICS_TOKEN_REQUIRED alone is refused",
          auth_init(&a, NULL, NULL, 1, &err) == -1);
    auth_release(&a);
    check("auth: off, nothing is required",
          auth_init(&off, NULL, NULL, 0, &err) == 0 &&
          !auth_required(&off, EP_PREDICT) && !auth_required(&off, EP_METRICS));
    check("auth: a token", auth_init(&a, "tok-123", NULL, 0, &err) == 0);
    check("auth: /predict, /model and V2 infer need it",
          auth_required(&a, EP_PREDICT) && auth_required(&a, EP_MODEL) &&
          auth_required(&a, EP_V2_INFER) && auth_required(&a, EP_V2_SERVER));
    check("auth: the probes and /metrics do not",
          !auth_required(&a, EP_HEALTH) && !auth_required(&a, EP_READY) &&
          !auth_required(&a, EP_V2_LIVE) && !auth_required(&a, EP_V2_READY) &&
          !auth_required(&a, EP_METRICS));
    check("auth: the right token", auth_check(&a, "Bearer tok-123") == 0);
    check("auth: any case of the scheme, more spaces",
          auth_check(&a, "bEaReR   tok-123") == 0);
    check("auth: no header", auth_check(&a, NULL) == -1);
    check("auth: another scheme", auth_check(&a, "Basic tok-123") == -1);
    check("auth: no space after the scheme",
          auth_check(&a, "Bearertok-123") == -1);
    check("auth: a wrong byte", auth_check(&a, "Bearer tok-124") == -2);
    check("auth: a prefix", auth_check(&a, "Bearer tok-12") == -2);
    check("auth: the token and more", auth_check(&a, "Bearer tok-1234") == -2);
    check("auth: empty", auth_check(&a, "Bearer ") == -2);
    auth_release(&a);
    auth_release(&off);
}

static void test_refcount(void)
{
    struct serving *held;

    install(tabular(), "r1");
    held = registry_acquire(&registry);
    install(tabular(), "r2");
    check("refcount: a held model outlives its swap",
          held != NULL && strcmp(held->version, "r1") == 0 &&
          forest_predict_row(held->model->forest, (const float[]){1, 1}) == 60.0);
    serving_release(held);
    held = registry_acquire(&registry);
    check("refcount: the registry serves the new one",
          held != NULL && strcmp(held->version, "r2") == 0);
    serving_release(held);
}

/* The PSI of feature `name` in GET /drift, or -1; *rows its window_rows. */
static double drift_of(const char *name, double *rows)
{
    cJSON *root, *f;
    double psi = -1;

    if (get("/drift") != 200)
        return -1;
    root = cJSON_Parse(out.data);
    *rows = cJSON_GetNumberValue(cJSON_GetObjectItem(root, "window_rows"));
    cJSON_ArrayForEach(f, cJSON_GetObjectItem(root, "features")) {
        if (strcmp(cJSON_GetStringValue(cJSON_GetObjectItem(f, "name")),
                   name) == 0) {
            cJSON *p = cJSON_GetObjectItem(f, "psi");
            psi = cJSON_IsNumber(p) ? p->valuedouble : -2;
        }
    }
    cJSON_Delete(root);
    return psi;
}

/* Posts n rows of (a, b) as V2 batches of 100: a uniform on
 * [shift, 1 + shift), b on [0, 1), from seed. */
static int post_rows(int n, double shift, uint64_t seed)
{
    static char body[8192];
    struct rng r;
    int ok = 1;

    rng_seed(&r, seed, 0);
    for (int done = 0; done < n; done += 100) {
        size_t len = (size_t)snprintf(body, sizeof body, "{\"inputs\":[{"
                                      "\"name\":\"x\",\"shape\":[100,2],"
                                      "\"datatype\":\"FP64\",\"data\":[");
        for (int i = 0; i < 100; i++)
            len += (size_t)snprintf(body + len, sizeof body - len,
                                    "%s%.6f,%.6f", i ? "," : "",
                                    rng_uniform(&r) + shift,
                                    rng_uniform(&r));
        snprintf(body + len, sizeof body - len, "]}]}");
        ok &= post("/v2/models/forest/infer", body) == 200;
    }
    return ok;
}

/* Sum of an explanation object's base and contributions. */
static double explained(const cJSON *e)
{
    const cJSON *c;
    double sum = cJSON_GetNumberValue(cJSON_GetObjectItem(e, "base_value"));

    cJSON_ArrayForEach(c, cJSON_GetObjectItem(e, "contributions"))
        sum += c->valuedouble;
    return sum;
}

static void test_explain(void)
{
    char body[2048];
    size_t n = 0;
    cJSON *root;
    int ok;

    install(tabular(), "x0");
    check("explain-2.1 a model without cover (a format-1 file) cannot "
          "explain: 422 saying to retrain",
          post("/predict", "{\"features\":[1,1],\"explain\":true}") == 422 &&
          strstr(out.data, "retrain") && strstr(out.data, "'x0'"));
    check("explain-2.2 ... nor V2 infer: 422",
          post("/v2/models/forest/infer", "{\"inputs\":[{\"name\":\"x\","
               "\"shape\":[1,2],\"datatype\":\"FP32\",\"data\":[1,1]}],"
               "\"parameters\":{\"explain\":true}}") == 422);
    check("explain-2.3 ... while explain false answers as before",
          post("/predict", "{\"features\":[1,1],\"explain\":false}") == 200 &&
          strcmp(out.data, "{\"prediction\":60,\"model_version\":\"x0\"}") ==
              0);
    install(covered(tabular()), "x1");
    check("explain-1.1 one row: base 33.125, a 1.875, b 25 (worked by hand "
          "from the covers), summing to the prediction 60",
          post("/predict", "{\"features\":{\"a\":1,\"b\":1},\"explain\":"
               "true}") == 200 &&
          strcmp(out.data, "{\"prediction\":60,\"explanation\":{"
                 "\"base_value\":33.125,\"contributions\":{\"a\":1.875,"
                 "\"b\":25}},\"model_version\":\"x1\"}") == 0);
    check("explain-1.2 a batch: explanations in row order, after the "
          "intervals",
          post("/predict", "{\"instances\":[[1,1],[11,-1]],\"interval\":0.5,"
               "\"explain\":true}") == 200 &&
          strstr(out.data, "\"explanations\":[{\"base_value\":33.125,"
                 "\"contributions\":{\"a\":1.875,\"b\":25}},{\"base_value\":"
                 "33.125,\"contributions\":{\"a\":-5.625,\"b\":-25}}]") &&
          strstr(out.data, "\"spreads\":["));
    check("explain-1.3 V2: an FP64 contributions tensor [N, F + 1], the "
          "base value last",
          post("/v2/models/forest/infer", "{\"inputs\":[{\"name\":\"x\","
               "\"shape\":[2,2],\"datatype\":\"FP32\",\"data\":[1,1,11,-1]}],"
               "\"parameters\":{\"explain\":true}}") == 200 &&
          strstr(out.data, "{\"name\":\"contributions\",\"datatype\":"
                 "\"FP64\",\"shape\":[2,3],\"data\":[1.875,25,33.125,"
                 "-5.625,-25,33.125]}]}"));
    {
        static const char head[] = "{\"inputs\":[{\"name\":\"x\",\"shape\":"
            "[1,2],\"datatype\":\"FP32\",\"parameters\":{\"binary_data_size"
            "\":8}}],\"parameters\":{\"binary_data_output\":true,"
            "\"explain\":true}}";
        static const unsigned char row[8] = {0, 0, 0x80, 0x3f,
                                             0, 0, 0x80, 0x3f};
        char raw[512], hl[16];
        double c[3];
        size_t len = strlen(head);
        memcpy(raw, head, len);
        memcpy(raw + len, row, 8);
        snprintf(hl, sizeof hl, "%zu", len);
        ok = post_raw("/v2/models/forest/infer", hl, raw, len + 8) == 200 &&
             out.len == reply.json_len + 4 + 24;
        if (ok)
            memcpy(c, out.data + reply.json_len + 4, 24); /* little endian
                                                             host */
        check("explain-1.4 V2 binary: the contributions' 24 bytes follow "
              "the prediction's 4",
              ok && c[0] == 1.875 && c[1] == 25 && c[2] == 33.125 &&
              strstr(out.data, "\"shape\":[1,3],\"parameters\":"
                     "{\"binary_data_size\":24}"));
    }
    check("explain-3.1 explain must be a boolean: a string is 422",
          post("/predict", "{\"features\":[1,1],\"explain\":\"yes\"}") ==
              422 && strstr(out.data, "'explain' must be true or false"));
    check("explain-3.2 ... 1 and null are 422 too",
          post("/predict", "{\"features\":[1,1],\"explain\":1}") == 422 &&
          post("/predict", "{\"features\":[1,1],\"explain\":null}") == 422);
    check("explain-3.3 ... given twice is 422",
          post("/predict", "{\"features\":[1,1],\"explain\":true,"
               "\"explain\":false}") == 422);
    check("explain-3.6 more rows than MAX_EXPLAIN_ROWS (4 here) is 422, "
          "naming the setting, before any tree walk",
          post("/predict", "{\"instances\":[[1,1],[1,1],[1,1],[1,1],[1,1]],"
               "\"explain\":true}") == 422 &&
          strstr(out.data, "MAX_EXPLAIN_ROWS (4)") &&
          post("/predict", "{\"instances\":[[1,1],[1,1],[1,1],[1,1]],"
               "\"explain\":true}") == 200);
    check("explain-3.4 V2: a parameter explain that is not a boolean is 400",
          post("/v2/models/forest/infer", "{\"inputs\":[{\"name\":\"x\","
               "\"shape\":[1,2],\"datatype\":\"FP32\",\"data\":[1,1]}],"
               "\"parameters\":{\"explain\":\"true\"}}") == 400);

    /* A series model: each forecast day explained on its own row. */
    install(covered(series()), "s2");
    n += (size_t)snprintf(body + n, sizeof body - n, "{\"history\":[");
    for (int d = 1; d <= 7; d++)
        n += (size_t)snprintf(body + n, sizeof body - n,
                              "%s{\"date\":\"2024-02-%02d\",\"value\":%d}",
                              d > 1 ? "," : "", 22 + d, d);
    snprintf(body + n, sizeof body - n, "],\"horizon\":3,\"explain\":true,"
             "\"covariates\":[{\"promo\":0},[1],{\"promo\":0}]}");
    ok = post("/forecast", body) == 200;
    root = cJSON_Parse(out.data);
    {
        const cJSON *day;
        int days = 0;
        cJSON_ArrayForEach(day, cJSON_GetObjectItem(root, "forecast")) {
            double v = cJSON_GetNumberValue(cJSON_GetObjectItem(day,
                                                                "value"));
            ok &= fabs(explained(cJSON_GetObjectItem(day, "explanation")) -
                       v) <= 1e-9 * (1 + fabs(v));
            days++;
        }
        ok &= days == 3;
    }
    cJSON_Delete(root);
    /* Day 2's lag_1 is day 1's forecast, 10 > 10 is false: 20, cover
     * 3/4 of 20 + 1/4 of 5 = 16.25; promo 1: 10 vs 5. */
    check("explain-1.5 /forecast: every day's base + contributions is its "
          "value, and day 2 is explained on the row with day 1's forecast "
          "as lag_1",
          ok && strstr(out.data, "{\"date\":\"2024-03-02\",\"value\":15,"
                       "\"explanation\":{\"base_value\":10.625,"
                       "\"contributions\":{\"lag_1\":1.875,\"day_of_week\":"
                       "0,\"day_of_month\":0,\"month\":0,\"promo\":2.5}}}"));
    check("explain-3.5 /forecast: explain must be a boolean",
          post("/forecast", "{\"history\":[],\"horizon\":1,\"explain\":"
               "[]}") == 422 && strstr(out.data, "'explain'"));
}

static void test_drift(void)
{
    double rows = 0, pa, pb;

    install(tabular(), "d0");
    check("drift-2.1 a model without a profile: /drift is 422 saying why",
          get("/drift") == 422 && strstr(out.data, "no training profile"));
    post("/predict", "{\"features\":[1,1]}");
    check("drift-2.2 ... and /metrics has no drift series",
          get("/metrics") == 200 && !strstr(out.data, "drift_psi"));
    install(covered(tabular()), "d1");
    pa = drift_of("a", &rows);
    check("drift-1.1 no rows yet: window_rows 0, psi null",
          pa == -2 && rows == 0 && strstr(out.data, "\"edges\":[") &&
          strstr(out.data, "\"training_share\":["));
    check("drift-1.2 rows drawn from the training distribution: PSI near 0 "
          "(< 0.05) for both features over 1000 rows",
          post_rows(1000, 0.0, 11) && (pa = drift_of("a", &rows)) >= 0 &&
          pa < 0.05 && (pb = drift_of("b", &rows)) >= 0 && pb < 0.05 &&
          rows == 1000);
    if (pa >= 0)
        printf("        (PSI a %.4f, b %.4f)\n", pa, drift_of("b", &rows));
    check("drift-1.3 feature a shifted by half its range: PSI of a large "
          "(> 1), b still near 0; the window keeps the last 1000 rows",
          post_rows(1000, 0.5, 12) && (pa = drift_of("a", &rows)) > 1.0 &&
          drift_of("b", &rows) < 0.05 && rows == 1000);
    check("drift-1.4 /metrics: forest_serve_feature_drift_psi per feature",
          get("/metrics") == 200 &&
          strstr(out.data, "forest_serve_feature_drift_psi{feature=\"a\"} ") &&
          strstr(out.data, "forest_serve_drift_window_rows 1000\n"));
    install(covered(tabular()), "d2");
    post("/predict", "{\"instances\":[[0.5,0.5],[0.5,0.5]]}");
    check("drift-1.5 a new model starts an empty window: 2 rows",
          drift_of("a", &rows) >= 0 && rows == 2);
    {
        /* All rows in one bin of ten: PSI = sum over bins by hand. */
        const double t[10] = {.1, .1, .1, .1, .1, .1, .1, .1, .1, .1};
        const int32_t c[10] = {0, 0, 0, 0, 10, 0, 0, 0, 0, 0};
        double e = 1e-4, z = 1 + 10 * e, want, got;
        want = 9 * ((e / z - (0.1 + e) / z) * log(e / (0.1 + e))) +
               ((1 + e) / z - (0.1 + e) / z) * log((1 + e) / (0.1 + e));
        got = drift_psi(t, c, 10, NULL);
        check("drift-1.6 the PSI formula with eps = 1e-4 smoothing, and "
              "bins empty on both sides add exactly 0",
              fabs(got - want) < 1e-12 &&
              drift_psi((const double[]){0.5, 0, 0.5},
                        (const int32_t[]){3, 0, 3}, 3, NULL) == 0.0);
    }
}

struct writer {
    const struct serving *s;
    uint64_t seed;
};

static void *write_rows(void *arg)
{
    const struct writer *w = arg;
    float X[2 * 7];
    struct rng r;

    rng_seed(&r, w->seed, 0);
    for (int i = 0; i < 3000; i++) {
        for (int k = 0; k < 14; k++)
            X[k] = (float)rng_uniform(&r);
        drift_record(&drift, w->s, X, 1 + (size_t)(i % 7));
    }
    return NULL;
}

static void test_drift_threads(void)
{
    struct serving *s;
    struct writer w[4];
    pthread_t th[4];
    int ok = 1;

    install(covered(tabular()), "d3");
    s = registry_acquire(&registry);
    for (int i = 0; i < 4; i++) {
        w[i].s = s;
        w[i].seed = 100 + (uint64_t)i;
        pthread_create(&th[i], NULL, write_rows, &w[i]);
    }
    for (int i = 0; i < 4; i++)
        pthread_join(th[i], NULL);
    for (uint32_t f = 0; f < 2; f++) {
        int64_t sum = 0;
        for (uint32_t k = 0; k < drift.n_bins; k++)
            sum += atomic_load(&drift.counts[f * drift.n_bins + k]);
        ok &= sum == (int64_t)drift.window;
    }
    check("drift-1.7 4 threads recording 48000 rows at once: every "
          "feature's counts still add up to the window", ok);
    serving_release(s);
}

/* Path of a route row with its {name}, {version} and {asset} filled in. */
static void route_path(const char *pat, const char *version, char *path,
                       size_t len)
{
    size_t n = 0;

    for (const char *p = pat; *p != '\0' && n + 40 < len; p++) {
        const char *v = NULL;
        if (strncmp(p, "{name}", 6) == 0)
            v = "forest";
        else if (strncmp(p, "{version}", 9) == 0)
            v = version;
        else if (strncmp(p, "{asset}", 7) == 0)
            v = "docs.js";
        if (v == NULL) {
            path[n++] = *p;
            continue;
        }
        n += (size_t)snprintf(path + n, len - n, "%s", v);
        p = strchr(p, '}');
    }
    path[n] = '\0';
}

/* 1 when schema's "properties" are exactly keys[0..n) (no more, no
 * fewer, order aside), and its "additionalProperties" is false, so a body
 * the document accepts has only keys request.c takes, and every key it
 * takes is documented. Prints the difference. */
static int same_keys(const cJSON *schemas, const char *name,
                     const char *const *keys, size_t n)
{
    const cJSON *schema = cJSON_GetObjectItemCaseSensitive(schemas, name);
    const cJSON *props = cJSON_GetObjectItemCaseSensitive(schema,
                                                          "properties");
    const cJSON *p;
    int ok = cJSON_IsObject(props) &&
             cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(
                 schema, "additionalProperties"));

    for (size_t k = 0; k < n; k++)
        if (cJSON_GetObjectItemCaseSensitive(props, keys[k]) == NULL) {
            printf("    %s lacks '%s', which request.c takes\n", name,
                   keys[k]);
            ok = 0;
        }
    cJSON_ArrayForEach(p, props) {
        size_t k = 0;
        while (k < n && strcmp(p->string, keys[k]) != 0)
            k++;
        if (k == n) {
            printf("    %s has '%s', which request.c refuses\n", name,
                   p->string);
            ok = 0;
        }
    }
    return ok;
}

/* The number at a path of object keys under root; NAN when missing. */
static double number_at(const cJSON *root, const char *const *path)
{
    for (; *path != NULL && root != NULL; path++)
        root = cJSON_GetObjectItemCaseSensitive(root, *path);
    return cJSON_IsNumber(root) ? root->valuedouble : NAN;
}

/* The route table drives the router, the OpenAPI document and the docs
 * page; the pages carry the security headers' flag, the API does not. */
static void test_routes_pages(void)
{
    cJSON *doc, *paths, *schemas, *fo, *fa;
    int all_route = 1, all_listed = 1;
    char path[256];

    install(tabular(), "t1");
    for (size_t i = 0; i < N_ROUTES; i++) {
        const struct route_def *d = &ROUTES[i];
        int st;
        route_path(d->path, "t1", path, sizeof path);
        st = strcmp(d->methods, ROUTES_POST) == 0 ? post(path, "{}")
                                                  : get(path);
        if (reply.endpoint != d->ep || st == 405) {
            printf("    %s -> endpoint %d, status %d\n", path,
                   (int)reply.endpoint, st);
            all_route = 0;
        }
    }
    check("routes-1.1 every row of the table dispatches to its endpoint",
          all_route);
    check("routes-1.2 a V2 model path with a trailing slash is 404",
          get("/v2/models/forest/") == 404 && get("/v2/models//ready") == 404);
    check("routes-1.3 an unknown docs file is 404, /docs/ too",
          get("/docs/nope.js") == 404 && get("/docs/") == 404 &&
          get("/docs/docs.js/x") == 404);
    check("routes-1.4 GET on a POST route is 405 with Allow: POST",
          get("/v2/models/forest/versions/t1/infer") == 405 &&
          strcmp(reply.allow, "POST") == 0);
    check("routes-1.5 /predict sends no page headers",
          post("/predict", "{\"features\":[1,1]}") == 200 && !reply.page);
    check("openapi-1.1 GET /openapi.json is JSON, a page",
          get("/openapi.json") == 200 && reply.page &&
          strcmp(reply.content_type, "application/json") == 0);
    doc = cJSON_Parse(out.data);
    paths = cJSON_GetObjectItemCaseSensitive(doc, "paths");
    schemas = cJSON_GetObjectItemCaseSensitive(
        cJSON_GetObjectItemCaseSensitive(doc, "components"), "schemas");
    for (size_t i = 0; i < N_ROUTES; i++) {
        cJSON *item = cJSON_GetObjectItemCaseSensitive(paths, ROUTES[i].path);
        const char *op = strcmp(ROUTES[i].methods, ROUTES_POST) == 0 ? "post"
                                                                     : "get";
        if (cJSON_GetObjectItemCaseSensitive(item, op) == NULL)
            all_listed = 0;
    }
    check("openapi-1.2 version 3.0.3, every route and nothing else",
          cJSON_IsString(cJSON_GetObjectItemCaseSensitive(doc, "openapi")) &&
          strcmp(cJSON_GetObjectItemCaseSensitive(doc, "openapi")->valuestring,
                 "3.0.3") == 0 &&
          all_listed && (size_t)cJSON_GetArraySize(paths) == N_ROUTES);
    fo = cJSON_GetObjectItemCaseSensitive(schemas, "FeatureObject");
    fa = cJSON_GetObjectItemCaseSensitive(schemas, "FeatureArray");
    check("openapi-1.3 features: the model's names, exactly 2 values",
          cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(fo, "required"))
              == 2 &&
          cJSON_GetObjectItemCaseSensitive(
              cJSON_GetObjectItemCaseSensitive(fo, "properties"), "b") &&
          cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(fa,
                                                                "maxItems"))
              == 2);
    {
        static const char *const HMAX[] = {"ForecastRequest", "properties",
            "history", "items", "properties", "value", "maximum", NULL};
        static const char *const HMIN[] = {"ForecastRequest", "properties",
            "history", "items", "properties", "value", "minimum", NULL};
        static const char *const IDLEN[] = {"V2InferRequest", "properties",
            "id", "maxLength", NULL};
        int pk = same_keys(schemas, "PredictRequest", REQUEST_PREDICT_KEYS,
                           REQUEST_PREDICT_N_KEYS);
        int ik = same_keys(schemas, "V2InferRequest", REQUEST_INFER_KEYS,
                           REQUEST_INFER_N_KEYS);
        int fk = same_keys(schemas, "ForecastRequest", REQUEST_FORECAST_KEYS,
                           REQUEST_FORECAST_N_KEYS);
        check("openapi-1.5 the request bodies' properties are request.c's "
              "keys, both ways (predict, V2 infer, forecast)", pk && ik && fk);
        check("openapi-1.6 the schemas' limits are request.h's "
              "(history value, V2 id length)",
              number_at(schemas, HMAX) == REQUEST_HISTORY_LIMIT &&
              number_at(schemas, HMIN) == -REQUEST_HISTORY_LIMIT &&
              number_at(schemas, IDLEN) == REQUEST_ID_MAX);
    }
    cJSON_Delete(doc);
    check("pages-1.1 / shows the version, no script, as a page",
          get("/") == 200 && reply.page &&
          strncmp(reply.content_type, "text/html", 9) == 0 &&
          strstr(out.data, "<dd id=\"version\">t1</dd>") &&
          !strstr(out.data, "<script"));
    check("pages-1.2 /report.svg of a version without one is 404",
          get("/report.svg") == 404 && !reply.page);
    check("pages-1.3 /docs without Swagger UI's files lists the endpoints "
          "and loads no script",
          get("/docs") == 200 && reply.page &&
          strstr(out.data, "<code>/v2/models/{name}/infer</code>") &&
          !strstr(out.data, "<script"));
    check("pages-1.4 /docs/docs.js is built in",
          get("/docs/docs.js") == 200 &&
          strstr(reply.content_type, "javascript") &&
          strstr(out.data, "SwaggerUIBundle"));
    registry_install(&registry, NULL);
    check("pages-1.5 no model: / says so, as a 200 page",
          get("/") == 200 && strstr(out.data, "No model yet"));
    check("openapi-1.4 no model: a generic document, no feature names",
          get("/openapi.json") == 200 && strstr(out.data, "\"3.0.3\"") &&
          !strstr(out.data, "\"required\":[\"a\",\"b\"]"));
}

/* ---- candidate: shadow, canary, swaps ---------------------------------- */

static struct registry cand_reg;

/* tabular() with tree 0's left leaf 30 instead of 20: row (1, 1) predicts
 * 65 instead of 60, row (11, -1) 2.5 like it. */
static struct model *tabular_b(void)
{
    struct model *m = tabular();

    m->forest->trees[0].nodes[1].value = 30.0f;
    return m;
}

static void install_in(struct registry *r, struct model *mod,
                       const char *version)
{
    struct fr_error err = {{0}};
    struct serving *m = serving_new(mod, version, 0x5678, "test", NULL, 0,
                                    &err);

    if (m == NULL) {
        printf("  FAIL  serving_new: %s\n", err.msg);
        exit(1);
    }
    registry_install(r, m);
}

/* POSTs body with an X-Request-Id header (NULL: none). */
static int post_id(const char *path, const char *id, const char *body)
{
    buf_reset(&out);
    scratch_reset(&sc);
    handlers_serve(&app, "POST", path, NULL, id, body, strlen(body), &sc,
                   &out, &reply);
    return reply.status;
}

static uint64_t shadow_rows(void)
{
    return atomic_load(&stats.shadow_rows);
}

/* Every answer of shadow mode, byte for byte, is the one with the mode
 * off: the candidate only reads what the current model computed. */
static void test_shadow(void)
{
    static const char *const bodies[] = {
        "{\"features\":{\"a\":1,\"b\":1}}",
        "{\"features\":[11,-1]}",
        "{\"instances\":[[1,1],[11,-1],[10,0],[10.5,0.5],[1,1]]}",
        "{\"features\":[1,1],\"interval\":0.5}",
        "{\"instances\":[[1,1],[11,-1]],\"interval\":0.9}",
        "{\"features\":[1,1],\"explain\":true}",
    };
    static const char *const infer =
        "{\"inputs\":[{\"name\":\"x\",\"shape\":[2,2],\"datatype\":"
        "\"FP64\",\"data\":[1,1,11,-1]}],\"outputs\":[{\"name\":"
        "\"predict\",\"parameters\":{\"binary_data\":false}}]}";
    char want[4096];
    size_t n = sizeof bodies / sizeof bodies[0];
    int same = 1;
    uint64_t rows0;
    double diff0;

    install(covered(tabular()), "cur");
    install_in(&cand_reg, covered(tabular_b()), "cand");
    app.candidate = &cand_reg;
    for (size_t i = 0; i <= n; i++) {
        const char *path = i < n ? "/predict" : "/v2/models/forest/infer";
        const char *body = i < n ? bodies[i] : infer;
        int st;
        app.candidate_mode = CANDIDATE_OFF;
        st = post(path, body);
        snprintf(want, sizeof want, "%d %s", st, out.data);
        app.candidate_mode = CANDIDATE_SHADOW;
        st = post(path, body);
        {
            char got[4096];
            snprintf(got, sizeof got, "%d %s", st, out.data);
            if (strcmp(got, want) != 0 || st != 200) {
                printf("    shadow changed '%s': %s -> %s\n", body, want,
                       got);
                same = 0;
            }
        }
    }
    check("shadow-1.1 shadow mode never changes an answer (predict one "
          "row, a batch, intervals, explanations, V2 infer)", same);
    check("shadow-1.2 every answer is the current model's",
          strstr(out.data, "\"model_version\":\"cur\"") != NULL &&
              reply.role == ROLE_CURRENT);
    check("shadow-1.2a the status page names the candidate, not "
          "CANDIDATE_MODE (a setting /model does not show)",
          get("/") == 200 &&
              strstr(out.data, "<strong id=\"candidate-version\">cand"
                               "</strong> is loaded") != NULL &&
              strstr(out.data, "shadow") == NULL);
    app.candidate_mode = CANDIDATE_OFF;
    app.candidate = NULL;
    check("shadow-1.2b without a candidate the page has no candidate "
          "section", get("/") == 200 &&
              strstr(out.data, "candidate-version") == NULL);
    app.candidate = &cand_reg;
    app.candidate_mode = CANDIDATE_SHADOW;
    rows0 = shadow_rows();
    diff0 = stats_get_double(&stats.shadow_abs_diff_bits);
    post("/predict", "{\"instances\":[[1,1],[11,-1],[1,1]]}");
    check("shadow-1.3 the candidate scored the 3 rows: |65 - 60| twice, "
          "0 once",
          shadow_rows() == rows0 + 3 &&
              fabs(stats_get_double(&stats.shadow_abs_diff_bits) - diff0 -
                   10.0) < 1e-9);
    app.shadow_max_rows = 2;
    rows0 = shadow_rows();
    {
        uint64_t skipped0 = atomic_load(&stats.shadow_skipped);
        post("/predict", "{\"instances\":[[1,1],[11,-1],[1,1],[1,1],[1,1]]}");
        check("shadow-1.4 SHADOW_MAX_ROWS 2 bounds a batch of 5: 2 scored, "
              "3 skipped",
              shadow_rows() == rows0 + 2 &&
                  atomic_load(&stats.shadow_skipped) == skipped0 + 3);
    }
    app.shadow_max_rows = 100;
    check("shadow-1.5 /metrics has the shadow rows, their summed and mean "
          "difference, and both versions by role",
          get("/metrics") == 200 &&
              strstr(out.data, "forest_serve_shadow_rows_total ") &&
              strstr(out.data, "forest_serve_shadow_mean_abs_diff ") &&
              strstr(out.data, "forest_serve_model_role_info{role="
                               "\"candidate\",version=\"cand\"") &&
              strstr(out.data, "forest_serve_model_role_info{role="
                               "\"current\",version=\"cur\"") &&
              strstr(out.data, "mode=\"shadow\""));
    {
        static const char *const other[] = {"x", "y"};
        struct model *m = tabular();
        uint64_t skipped0 = atomic_load(&stats.shadow_skipped);
        free(m->forest->feature_names[0]);
        m->forest->feature_names[0] = strdup(other[0]);
        install_in(&cand_reg, m, "other");
        rows0 = shadow_rows();
        check("shadow-1.6 a candidate that reads other features is skipped, "
              "the answer the same",
              post("/predict", "{\"features\":[1,1]}") == 200 &&
                  strcmp(out.data, "{\"prediction\":60,\"model_version\":"
                                   "\"cur\"}") == 0 &&
                  shadow_rows() == rows0 &&
                  atomic_load(&stats.shadow_skipped) == skipped0 + 1);
    }
    registry_install(&cand_reg, NULL);
    check("shadow-1.7 without a candidate loaded, shadow mode just answers",
          post("/predict", "{\"features\":[1,1]}") == 200 &&
              strstr(out.data, "\"cur\""));
}

static void test_canary(void)
{
    char id[32];
    int to_candidate = 0, stable = 1, random_hits = 0;
    const int n = 10000;

    install(covered(tabular()), "cur");
    install_in(&cand_reg, covered(tabular_b()), "cand");
    app.candidate = &cand_reg;
    app.candidate_mode = CANDIDATE_CANARY;
    /* A share no number on the page would print by chance. */
    app.canary_percent = 12.3456;
    check("canary-1.0 the status page names the candidate, not "
          "CANARY_PERCENT or CANDIDATE_MODE (settings /model does not show)",
          get("/") == 200 &&
              strstr(out.data, "id=\"candidate-version\">cand<") != NULL &&
              strstr(out.data, "12.3456") == NULL &&
              strstr(out.data, "canary") == NULL);
    app.canary_percent = 25;
    for (int i = 0; i < n; i++) {
        snprintf(id, sizeof id, "req-%d", i);
        if (post_id("/predict", id, "{\"features\":[1,1]}") != 200)
            stable = 0;
        if (reply.role == ROLE_CANDIDATE) {
            to_candidate++;
            if (strcmp(out.data, "{\"prediction\":65,\"model_version\":"
                                 "\"cand\"}") != 0)
                stable = 0;
        }
    }
    /* Binomial(10000, 0.25): mean 2500, sd 43.3; +-4.5 sd. */
    printf("    canary 25%%: %d of %d ids to the candidate\n", to_candidate,
           n);
    check("canary-1.1 CANARY_PERCENT 25 over 10000 request ids: the "
          "candidate's share within binomial bounds (2305 to 2695)",
          to_candidate >= 2305 && to_candidate <= 2695 && stable);
    for (int i = 0; i < 200; i++) {
        int first;
        snprintf(id, sizeof id, "user-%d", i);
        post_id("/predict", id, "{\"features\":[1,1]}");
        first = reply.role;
        for (int k = 0; k < 3; k++) {
            post_id("/predict", id, "{\"features\":[1,1]}");
            stable &= (int)reply.role == first;
        }
    }
    check("canary-1.2 the same X-Request-Id always gets the same model",
          stable);
    for (int i = 0; i < n; i++) {
        post_id("/predict", NULL, "{\"features\":[1,1]}");
        random_hits += reply.role == ROLE_CANDIDATE;
    }
    printf("    canary 25%%, no id: %d of %d to the candidate\n",
           random_hits, n);
    check("canary-1.3 without an id the draw is random, its share within "
          "binomial bounds", random_hits >= 2305 && random_hits <= 2695);
    {
        int zero = 0, all = 0, half = 0;
        for (int i = 0; i < n; i++) {
            snprintf(id, sizeof id, "r%d", i);
            zero += handlers_canary_pick(id, 0);
            all += handlers_canary_pick(id, 100);
            half += handlers_canary_pick(id, 0.5);
        }
        /* Binomial(10000, 0.005): mean 50, sd 7.05. */
        check("canary-1.4 0% never, 100% always, 0.5% (a fraction) within "
              "binomial bounds (18 to 82)",
              zero == 0 && all == n && half >= 18 && half <= 82);
    }
    {
        /* What a client may put in the header: anything but NUL. */
        static char longest[16384];
        static const char *const odd[] = {"", " ", "\xff\xfe\x01", "caf\xc3\xa9",
                                          "\"};{", "id\twith\ttabs", longest};
        int ok = 1;
        memset(longest, 'x', sizeof longest - 1);
        for (size_t i = 0; i < sizeof odd / sizeof odd[0]; i++) {
            int first, again;
            ok &= post_id("/predict", odd[i], "{\"features\":[1,1]}") == 200;
            first = reply.role;
            ok &= post_id("/predict", odd[i], "{\"features\":[1,1]}") == 200;
            again = reply.role;
            /* "" is no id: a random draw each time. */
            ok &= i == 0 || first == again;
        }
        check("canary-1.12 hostile X-Request-Id values (empty, bytes above "
              "0x7f, quotes, 16 KiB) are answered 200, each non-empty one "
              "stable", ok);
    }
    app.canary_percent = 100;
    check("canary-1.5 /forecast, V2 infer and /predict all follow the draw; "
          "each answer names its version",
          post_id("/v2/models/forest/infer", "x",
                  "{\"inputs\":[{\"name\":\"x\",\"shape\":[1,2],"
                  "\"datatype\":\"FP32\",\"data\":[1,1]}]}") == 200 &&
              strstr(out.data, "\"model_version\":\"cand\"") &&
              strstr(out.data, "[65]") && reply.role == ROLE_CANDIDATE &&
              post_id("/forecast", "x", "{\"history\":[1,2,3]}") == 422 &&
              strstr(out.data, "'cand'") && reply.role == ROLE_CANDIDATE);
    check("canary-1.6 a V2 path naming the current version reaches it, "
          "whatever the draw",
          post_id("/v2/models/forest/versions/cur/infer", "x",
                  "{\"inputs\":[{\"name\":\"x\",\"shape\":[1,2],"
                  "\"datatype\":\"FP32\",\"data\":[1,1]}]}") == 200 &&
              strstr(out.data, "[60]") && reply.role == ROLE_CURRENT);
    app.canary_percent = 0;
    check("canary-1.7 ... and one naming the candidate's version reaches "
          "the candidate",
          post_id("/v2/models/forest/versions/cand/infer", "x",
                  "{\"inputs\":[{\"name\":\"x\",\"shape\":[1,2],"
                  "\"datatype\":\"FP32\",\"data\":[1,1]}]}") == 200 &&
              strstr(out.data, "[65]") && reply.role == ROLE_CANDIDATE);
    check("canary-1.8 /model stays the current model's, /model/candidate "
          "describes the candidate",
          get("/model") == 200 && strstr(out.data, "\"cur\"") &&
              !strstr(out.data, "\"cand\"") &&
              get("/model/candidate") == 200 &&
              strstr(out.data, "\"cand\"") && !strstr(out.data, "\"cur\""));
    app.canary_percent = 100;
    registry_install(&cand_reg, NULL);
    check("canary-1.9 with no candidate loaded the current model answers, "
          "and /model/candidate is 404 with an error",
          post_id("/predict", "x", "{\"features\":[1,1]}") == 200 &&
              strstr(out.data, "\"cur\"") && reply.role == ROLE_CURRENT &&
              get("/model/candidate") == 404 &&
              strstr(out.data, "{\"error\":\"no candidate loaded"));
    app.candidate = NULL;
    app.candidate_mode = CANDIDATE_OFF;
    check("canary-1.10 with CANDIDATE_MODE off /model/candidate is 404 and "
          "says why",
          get("/model/candidate") == 404 &&
              strstr(out.data, "CANDIDATE_MODE is off"));
    check("canary-1.11 with the mode off /metrics has no role series",
          get("/metrics") == 200 &&
              strstr(out.data, "forest_serve_model_role_info") == NULL);
    app.canary_percent = 0;
}

/* Clients hammering /predict while the main thread swaps current and
 * candidate, and drops the candidate, as promote and clear-candidate do. */
struct client {
    int ok, bad, id;
};

static atomic_int swapping;

static void *client_loop(void *arg)
{
    struct client *c = arg;
    struct scratch s;
    struct buf o;
    struct reply rp;
    char id[32];
    int i = 0;

    scratch_init(&s);
    buf_init(&o);
    while (atomic_load(&swapping)) {
        static const char body[] = "{\"instances\":[[1,1],[11,-1]]}";
        snprintf(id, sizeof id, "c%d-%d", c->id, i++);
        buf_reset(&o);
        scratch_reset(&s);
        handlers_serve(&app, "POST", "/predict", NULL, id, body,
                       sizeof body - 1, &s, &o, &rp);
        if (rp.status == 200 && (strstr(o.data, "\"model_version\":\"s1\"") ||
                                 strstr(o.data, "\"model_version\":\"s2\"")))
            c->ok++;
        else
            c->bad++;
    }
    scratch_release(&s);
    buf_release(&o);
    return NULL;
}

static void test_swaps(void)
{
    struct client c[3] = {{0, 0, 0}, {0, 0, 1}, {0, 0, 2}};
    pthread_t th[3];
    int total = 0, bad = 0;

    install(covered(tabular()), "s1");
    install_in(&cand_reg, covered(tabular_b()), "s2");
    app.candidate = &cand_reg;
    app.candidate_mode = CANDIDATE_CANARY;
    app.canary_percent = 50;
    atomic_store(&swapping, 1);
    for (int i = 0; i < 3; i++)
        pthread_create(&th[i], NULL, client_loop, &c[i]);
    for (int k = 0; k < 300; k++) {
        /* promote: the candidate becomes current, then is cleared; then a
         * new candidate; every few rounds shadow instead of canary. */
        install(k % 2 ? covered(tabular()) : covered(tabular_b()),
                k % 2 ? "s1" : "s2");
        registry_install(&cand_reg, NULL);
        install_in(&cand_reg, k % 2 ? covered(tabular_b()) :
                   covered(tabular()), k % 2 ? "s2" : "s1");
        app.candidate_mode = k % 3 ? CANDIDATE_CANARY : CANDIDATE_SHADOW;
    }
    atomic_store(&swapping, 0);
    for (int i = 0; i < 3; i++) {
        pthread_join(th[i], NULL);
        total += c[i].ok + c[i].bad;
        bad += c[i].bad;
    }
    printf("    %d requests across 300 swaps\n", total);
    check("swap-1.1 swapping current and candidate (and dropping the "
          "candidate) under load: every request answered 200 by a version "
          "that was loaded", total > 0 && bad == 0);
    registry_install(&cand_reg, NULL);
    app.candidate = NULL;
    app.candidate_mode = CANDIDATE_OFF;
}

int main(void)
{
    struct registry_config cfg = {"/nonexistent", NULL, 0, NULL};
    struct fr_error err = {{0}};

    struct registry_config ccfg = {"/nonexistent", NULL, 0, STORE_CANDIDATE};

    if (registry_init(&registry, &cfg, &err) != 0 ||
        registry_init(&cand_reg, &ccfg, &err) != 0)
        return 1;
    stats_init(&stats);
    app.shadow_max_rows = 100;
    app.registry = &registry;
    app.stats = &stats;
    app.model_name = "forest";
    app.max_batch_rows = 100;
    app.max_horizon = 10;
    app.max_explain_rows = 4;
    atomic_init(&app.draining, 0);
    if (drift_init(&drift, 1000, &err) != 0)
        return 1;
    app.drift = &drift;
    scratch_init(&sc);
    buf_init(&out);

    test_buf();
    test_parsers();
    test_fast_row();
    test_encoding();
    test_tabular();
    test_routes_pages();
    test_series();
    test_refcount();
    test_auth();
    test_explain();
    test_drift();
    test_drift_threads();
    test_shadow();
    test_canary();
    test_swaps();

    registry_release(&cand_reg);
    registry_release(&registry);
    drift_release(&drift);
    scratch_release(&sc);
    buf_release(&out);
    printf("%d passed, %d failed\n", passed, failed);
    return failed != 0;
}
