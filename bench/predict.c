/*
 * predict.c: bench-predict, the batch-prediction benchmark of libforest.
 *
 *   bench-predict MODEL.bin DATA.csv [--target demand] [--reps 50]
 *                 [--threads 0] [--single 20000] [--skip-rows 0]
 *
 * Loads a model with model_load and a table with tabular_read_csv (the
 * target column is read too, so the run also checks the predictions: their
 * RMSE must be the test RMSE forest-train printed for the same rows), then
 * times forest_predict over all rows --reps times with CLOCK_MONOTONIC and
 * forest_predict_row over --single rows on this thread (a server without
 * batching). --skip-rows drops the first rows of the file, so the last 20%
 * of the full table can be used as is. Expected sizes: 40k rows x 13
 * features, 100 trees of depth 10; one repetition takes milliseconds.
 *
 * Prints one line of key=value pairs that bench/run.sh reads:
 *   rows=39984 features=13 trees=100 threads=2 reps=50 best_s=... ...
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dataset.h"
#include "error.h"
#include "forest.h"
#include "model.h"
#include "parallel.h"
#include "tabular.h"

struct options {
    const char *model_path;
    const char *data_path;
    const char *target;  /* target column of the CSV */
    unsigned long reps;  /* timed batch repetitions, >= 1 */
    unsigned long threads; /* forest_predict threads, 0 = all cores */
    unsigned long single;  /* rows timed one by one, 0 = none */
    unsigned long skip;    /* leading rows of the CSV to leave out */
};

static double now_seconds(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a;
    double y = *(const double *)b;

    return (x > y) - (x < y);
}

/* Parses a whole number flag value; returns 0, or -1 after printing. */
static int parse_ulong(const char *flag, const char *text, unsigned long *out)
{
    char *end = NULL;

    errno = 0;
    *out = strtoul(text, &end, 10);
    if (errno != 0 || end == text || *end != '\0' || text[0] == '-') {
        fprintf(stderr, "bench-predict: error: invalid %s '%s': expected a "
                "whole number\n", flag, text);
        return -1;
    }
    return 0;
}

static int parse_args(int argc, char **argv, struct options *o)
{
    int n_pos = 0;

    o->target = "demand";
    o->reps = 50;
    o->threads = 0;
    o->single = 20000;
    o->skip = 0;
    for (int a = 1; a < argc; a++) {
        const char *arg = argv[a];
        unsigned long *num = NULL;

        if (strcmp(arg, "--target") == 0 && a + 1 < argc) {
            o->target = argv[++a];
            continue;
        }
        if (strcmp(arg, "--reps") == 0)
            num = &o->reps;
        else if (strcmp(arg, "--threads") == 0)
            num = &o->threads;
        else if (strcmp(arg, "--single") == 0)
            num = &o->single;
        else if (strcmp(arg, "--skip-rows") == 0)
            num = &o->skip;
        if (num != NULL) {
            if (a + 1 >= argc) {
                fprintf(stderr, "bench-predict: error: '%s' needs a value\n",
                        arg);
                return -1;
            }
            if (parse_ulong(arg, argv[++a], num) != 0)
                return -1;
            continue;
        }
        if (arg[0] == '-' || n_pos == 2) {
            fprintf(stderr, "bench-predict: error: unexpected argument "
                    "'%s'\n", arg);
            return -1;
        }
        if (n_pos == 0)
            o->model_path = arg;
        else
            o->data_path = arg;
        n_pos++;
    }
    if (n_pos != 2 || o->reps == 0) {
        fprintf(stderr, "usage: bench-predict MODEL.bin DATA.csv [--target "
                "COL] [--reps N>=1] [--threads N] [--single N] "
                "[--skip-rows N]\n");
        return -1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    struct options o = {0};
    struct fr_error err = {{0}};
    struct dataset ds = {0};
    struct model *m = NULL;
    const struct forest *f = NULL;
    double *out = NULL;
    double *times = NULL;
    const float *X;
    size_t rows, single;
    double sq = 0.0, t_single, sink = 0.0;
    int rc = 1;

    if (parse_args(argc, argv, &o) != 0)
        return 2;
    m = model_load(o.model_path, NULL, &err);
    if (m == NULL) {
        fprintf(stderr, "bench-predict: error: %s\n", err.msg);
        goto out;
    }
    f = m->forest;
    if (tabular_read_csv(o.data_path, o.target, &ds, &err) != 0) {
        fprintf(stderr, "bench-predict: error: %s\n", err.msg);
        goto out;
    }
    if (ds.n_features != f->n_features) {
        fprintf(stderr, "bench-predict: error: '%s' has %zu features, the "
                "model %u\n", o.data_path, ds.n_features, f->n_features);
        goto out;
    }
    for (size_t j = 0; j < ds.n_features; j++) {
        if (strcmp(ds.feature_names[j], f->feature_names[j]) != 0) {
            fprintf(stderr, "bench-predict: error: column %zu of '%s' is "
                    "'%s', the model expects '%s'\n", j + 1, o.data_path,
                    ds.feature_names[j], f->feature_names[j]);
            goto out;
        }
    }
    if (o.skip >= ds.n_rows) {
        fprintf(stderr, "bench-predict: error: --skip-rows %lu leaves no "
                "rows of %zu\n", o.skip, ds.n_rows);
        goto out;
    }
    rows = ds.n_rows - o.skip;
    X = ds.X + o.skip * ds.n_features;
    out = malloc(rows * sizeof *out);
    times = malloc(o.reps * sizeof *times);
    if (out == NULL || times == NULL) {
        fprintf(stderr, "bench-predict: error: out of memory for %zu rows\n",
                rows);
        goto out;
    }

    /* One untimed pass warms the caches and starts the thread pool. */
    forest_predict(f, X, rows, o.threads, out);
    for (unsigned long r = 0; r < o.reps; r++) {
        double t0 = now_seconds();

        forest_predict(f, X, rows, o.threads, out);
        times[r] = now_seconds() - t0;
    }
    for (size_t i = 0; i < rows; i++) {
        double e = out[i] - ds.y[o.skip + i];

        sq += e * e;
    }

    /* Row by row on this thread: the latency of one unbatched request. */
    single = o.single < rows ? o.single : rows;
    t_single = now_seconds();
    for (size_t i = 0; i < single; i++)
        sink += forest_predict_row(f, X + i * ds.n_features);
    t_single = now_seconds() - t_single;

    qsort(times, o.reps, sizeof *times, cmp_double);
    printf("rows=%zu features=%zu trees=%u threads=%zu reps=%lu "
           "best_s=%.6f median_s=%.6f rows_per_s=%.0f us_per_row=%.4f "
           "single_rows=%zu single_row_us=%.3f rmse=%.4f sink=%.3g\n",
           rows, ds.n_features, f->n_trees, parallel_threads(o.threads),
           o.reps, times[0],
           times[o.reps / 2], (double)rows / times[0],
           times[0] / (double)rows * 1e6, single,
           single ? t_single / (double)single * 1e6 : 0.0,
           sqrt(sq / (double)rows), sink);
    rc = 0;
out:
    free(times);
    free(out);
    dataset_release(&ds);
    model_free(m);
    return rc;
}
