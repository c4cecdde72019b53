/*
 * scale.c: bench-scale, the loading and binning benchmark of libforest.
 *
 *   bench-scale DATA.csv [--target demand] [--trees 0] [--threads 0]
 *
 * Times the fixed costs before the first split, each on its own:
 *   read   tabular_read_csv of the whole file (one thread);
 *   split  dataset_split at a test fraction of 0.2, as forest-train does;
 *   bin    a forest_train of one stump on one thread, twice: with bin edges
 *          from the default sample of rows and from every row sorted
 *          (bin_sample = 0). A stump is binning plus one histogram pass, so
 *          it is binning's cost to within that pass.
 * With --trees N > 0 it also grows N trees of depth 10 both ways on
 * --threads threads and prints each forest's test RMSE on the held-out
 * rows, so that the sample's effect on accuracy is measured, not assumed.
 *
 * Each step reports wall time (CLOCK_MONOTONIC) and this process's CPU time
 * (CLOCK_PROCESS_CPUTIME_ID): on a shared machine the CPU time of a
 * one-thread step is the steadier figure. Prints key=value lines that
 * bench/scale.sh reads:
 *   step=read rows=999600 features=13 bytes=69558137 wall_s=... cpu_s=...
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "dataset.h"
#include "error.h"
#include "forest.h"
#include "tabular.h"

struct options {
    const char *data_path;
    const char *target;    /* target column of the CSV */
    unsigned long trees;   /* trees grown both ways for the RMSE, 0 = none */
    unsigned long threads; /* threads for those trees, 0 = all cores */
};

struct clocks {
    double wall, cpu; /* seconds */
};

static double seconds(clockid_t id)
{
    struct timespec ts;

    clock_gettime(id, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static struct clocks clocks_now(void)
{
    struct clocks c = {seconds(CLOCK_MONOTONIC),
                       seconds(CLOCK_PROCESS_CPUTIME_ID)};
    return c;
}

static struct clocks clocks_since(struct clocks t0)
{
    struct clocks t = clocks_now();

    t.wall -= t0.wall;
    t.cpu -= t0.cpu;
    return t;
}

static void usage(FILE *fp)
{
    fprintf(fp, "usage: bench-scale DATA.csv [--target demand] [--trees 0] "
                "[--threads 0]\n");
}

/* Parses argv into o. Returns 0, or -1 after printing why. */
static int parse_args(int argc, char **argv, struct options *o)
{
    o->target = "demand";
    o->trees = 0;
    o->threads = 0;
    o->data_path = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        char *end;
        if (a[0] != '-') {
            if (o->data_path != NULL)
                goto bad;
            o->data_path = a;
            continue;
        }
        if (i + 1 == argc)
            goto bad;
        if (strcmp(a, "--target") == 0) {
            o->target = argv[++i];
            continue;
        }
        errno = 0;
        if (strcmp(a, "--trees") == 0)
            o->trees = strtoul(argv[++i], &end, 10);
        else if (strcmp(a, "--threads") == 0)
            o->threads = strtoul(argv[++i], &end, 10);
        else
            goto bad;
        if (errno != 0 || *end != '\0' || o->trees > 10000 ||
            o->threads > 1024)
            goto bad;
    }
    if (o->data_path == NULL)
        goto bad;
    return 0;
bad:
    usage(stderr);
    return -1;
}

static double test_rmse(const struct forest *f, const struct dataset *test)
{
    double se = 0.0;

    for (size_t i = 0; i < test->n_rows; i++) {
        double d = forest_predict_row(f, test->X + i * test->n_features) -
                   test->y[i];
        se += d * d;
    }
    return sqrt(se / (double)test->n_rows);
}

/* Trains on train with bin_sample (0 = exact) and prints one line. Returns
 * 0, or -1 after printing the error. */
static int train_once(const char *step, const struct dataset *train,
                      const struct dataset *test, uint32_t trees,
                      uint32_t depth, uint32_t threads, uint32_t bin_sample)
{
    struct forest_params p;
    struct fr_error err = {0};
    struct forest *f;
    struct clocks t0;

    forest_params_default(&p);
    p.n_trees = trees;
    p.max_depth = depth;
    p.n_threads = threads;
    p.bin_sample = bin_sample;
    t0 = clocks_now();
    f = forest_train(train, &p, NULL, NULL, &err);
    if (f == NULL) {
        fprintf(stderr, "bench-scale: error: %s\n", err.msg);
        return -1;
    }
    {
        struct clocks t = clocks_since(t0);
        printf("step=%s bin_sample=%u trees=%u depth=%u threads=%u "
               "wall_s=%.4f cpu_s=%.4f test_rmse=%.6f\n", step, bin_sample,
               trees, depth, threads, t.wall, t.cpu, test_rmse(f, test));
    }
    forest_free(f);
    return 0;
}

int main(int argc, char **argv)
{
    struct options o;
    struct dataset ds = {0}, train = {0}, test = {0};
    struct fr_error err = {0};
    struct forest_params def;
    struct clocks t0, t;
    struct stat st;
    int rc = 1;

    if (parse_args(argc, argv, &o) != 0)
        return 2;
    if (stat(o.data_path, &st) != 0) {
        fprintf(stderr, "bench-scale: error: cannot read '%s': %s\n",
                o.data_path, strerror(errno));
        return 1;
    }
    t0 = clocks_now();
    if (tabular_read_csv(o.data_path, o.target, &ds, &err) != 0) {
        fprintf(stderr, "bench-scale: error: %s\n", err.msg);
        return 1;
    }
    t = clocks_since(t0);
    printf("step=read rows=%zu features=%zu bytes=%lld wall_s=%.4f "
           "cpu_s=%.4f mb_per_s=%.1f\n", ds.n_rows, ds.n_features,
           (long long)st.st_size, t.wall, t.cpu,
           (double)st.st_size / 1e6 / t.wall);
    t0 = clocks_now();
    if (dataset_split(&ds, 0.2, &train, &test, &err) != 0) {
        fprintf(stderr, "bench-scale: error: %s\n", err.msg);
        goto out;
    }
    t = clocks_since(t0);
    printf("step=split train_rows=%zu test_rows=%zu wall_s=%.4f cpu_s=%.4f\n",
           train.n_rows, test.n_rows, t.wall, t.cpu);
    forest_params_default(&def);
    if (train_once("bin", &train, &test, 1, 1, 1, def.bin_sample) != 0 ||
        train_once("bin", &train, &test, 1, 1, 1, 0) != 0)
        goto out;
    if (o.trees > 0 &&
        (train_once("forest", &train, &test, (uint32_t)o.trees, 10,
                    (uint32_t)o.threads, def.bin_sample) != 0 ||
         train_once("forest", &train, &test, (uint32_t)o.trees, 10,
                    (uint32_t)o.threads, 0) != 0))
        goto out;
    rc = 0;
out:
    dataset_release(&test);
    dataset_release(&train);
    dataset_release(&ds);
    return rc;
}
