/*
 * predict_row.c: bench-predict-row, the tree walk of one unbatched
 * /predict row on its own: forest_predict_row, on the forest-wide copy of
 * the nodes forest-serve walks (forest_prepare_walk), against the plain
 * walk it replaced (one tree after another, each step waiting for the
 * last), in alternating rounds on this thread so a busy machine slows
 * both alike.
 *
 *   bench-predict-row MODEL.bin [--rows 500] [--rounds 15] [--reps 20000]
 *
 * Builds feature rows for the model from the library's synthetic series
 * (20 series x 730 days to 2026-07-01, SEED 42, as bench-explain does), so
 * MODEL.bin must be a series model (forest-train's default: 100 trees of
 * depth 10), and puts them through series_relative_row first when the
 * model is relative, so only the walk is timed. Two cases:
 *   same    one row --reps times (what bench/ceiling.sh sends: the nodes
 *           it visits stay in L1/L2, so the walk is bound by the latency
 *           of its dependent loads);
 *   varied  --rows different rows in turn, repeated to about --reps walks
 *           (different paths: more of the 100 x 2047 nodes, more misses).
 * Each round times both walks on the case with CLOCK_THREAD_CPUTIME_ID;
 * the best round of each is printed in microseconds per row. It also checks
 * that every row's prediction is bit-identical in both (the exit status is
 * 1 otherwise):
 *   same_ref_us=... same_us=... varied_ref_us=... varied_us=... identical=1
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "forest.h"
#include "model.h"
#include "series.h"
#include "synth.h"

static double cpu_now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* The walk forest_predict_row did before it interleaved trees: kept here
 * as the reference, same arithmetic in the same order. */
static double reference_row(const struct forest *f, const float *row)
{
    double sum = 0.0;

    for (uint32_t t = 0; t < f->n_trees; t++) {
        const struct tree_node *nodes = f->trees[t].nodes;
        uint32_t i = 0;
        for (uint32_t d = 0; d < f->trees[t].depth; d++)
            i = nodes[i].left + (row[nodes[i].feature] > nodes[i].threshold);
        sum += nodes[i].value;
    }
    return sum / f->n_trees;
}

/* Times `walks` predictions over rows[0..n) in turn; returns seconds of
 * this thread's CPU time. sink keeps the results alive. */
static double run(int reference, const struct forest *f, const float *rows,
                  size_t n, size_t walks, double *sink)
{
    size_t nf = f->n_features, i = 0;
    double t0 = cpu_now(), s = 0.0;

    for (size_t w = 0; w < walks; w++) {
        const float *row = rows + i * nf;
        s += reference ? reference_row(f, row) : forest_predict_row(f, row);
        i = i + 1 == n ? 0 : i + 1;
    }
    *sink += s;
    return cpu_now() - t0;
}

static unsigned long arg_ulong(const char *text)
{
    char *end = NULL;
    unsigned long v = strtoul(text, &end, 10);

    return end == text || *end != '\0' ? 0 : v;
}

int main(int argc, char **argv)
{
    struct fr_error err = {{0}};
    struct series_data raw;
    struct dataset table;
    struct model *m;
    const struct forest *f;
    unsigned long n = 500, rounds = 15, reps = 20000;
    double best[4] = {1e30, 1e30, 1e30, 1e30}, sink = 0.0;
    float *rows = NULL;
    size_t nf;
    int32_t as_of;
    int identical = 1, rc = 1;

    for (int a = 2; a + 1 < argc; a += 2) {
        unsigned long *p = strcmp(argv[a], "--rows") == 0 ? &n :
                           strcmp(argv[a], "--rounds") == 0 ? &rounds :
                           strcmp(argv[a], "--reps") == 0 ? &reps : NULL;
        if (p == NULL || (*p = arg_ulong(argv[a + 1])) == 0)
            argc = 0;
    }
    if (argc < 2 || argc % 2 != 0) {
        fprintf(stderr, "usage: bench-predict-row MODEL.bin [--rows N] "
                "[--rounds N] [--reps N]  (each N >= 1)\n");
        return 2;
    }
    memset(&raw, 0, sizeof raw);
    memset(&table, 0, sizeof table);
    m = model_load(argv[1], NULL, &err);
    if (m == NULL || !m->has_series) {
        fprintf(stderr, "bench-predict-row: error: %s\n",
                m == NULL ? err.msg : "not a series model");
        goto out;
    }
    /* As forest-serve prepares every model it serves (serving_new). */
    if (forest_prepare_walk(m->forest) != 0) {
        fprintf(stderr, "bench-predict-row: error: out of memory\n");
        goto out;
    }
    f = m->forest;
    nf = f->n_features;
    if (series_parse_date("2026-07-01", &as_of) != 0 ||
        synth_generate(20, 730, as_of, 42, &raw, &err) != 0 ||
        series_build(&raw, &m->series, &table, &err) != 0) {
        fprintf(stderr, "bench-predict-row: error: %s\n", err.msg);
        goto out;
    }
    if (table.n_features != nf) {
        fprintf(stderr, "bench-predict-row: error: the series give %zu "
                "features, the model has %zu\n", table.n_features, nf);
        goto out;
    }
    if (n > table.n_rows)
        n = table.n_rows;
    rows = malloc(n * nf * sizeof *rows);
    if (rows == NULL) {
        fprintf(stderr, "bench-predict-row: error: out of memory\n");
        goto out;
    }
    /* Rows spread over the table (every series, many days), as the
     * trees see them. */
    for (size_t i = 0; i < n; i++) {
        const float *src = table.X + (i * (table.n_rows / n)) * nf;
        if (model_relative(m))
            series_relative_row(&m->series, src, rows + i * nf);
        else
            memcpy(rows + i * nf, src, nf * sizeof *rows);
    }
    for (size_t i = 0; i < n; i++) {
        const float *row = rows + i * nf;
        identical &= forest_predict_row(f, row) == reference_row(f, row);
    }
    for (unsigned long r = 0; r < rounds; r++) {
        /* Alternate which walk goes first, so neither always gets the
         * caches the other warmed. */
        for (int k = 0; k < 2; k++) {
            int ref = (int)((r + (unsigned long)k) % 2);
            double same = run(ref, f, rows, 1, reps, &sink) / reps;
            double varied = run(ref, f, rows, n, reps, &sink) / reps;
            int at = ref ? 0 : 1;
            best[at] = same < best[at] ? same : best[at];
            best[at + 2] = varied < best[at + 2] ? varied : best[at + 2];
        }
    }
    printf("trees=%u features=%zu rows=%lu rounds=%lu reps=%lu "
           "same_ref_us=%.3f same_us=%.3f varied_ref_us=%.3f varied_us=%.3f "
           "identical=%d%s\n", f->n_trees, nf, n, rounds, reps,
           best[0] * 1e6, best[1] * 1e6, best[2] * 1e6, best[3] * 1e6,
           identical, sink == 0.0 ? " " : "");
    rc = identical ? 0 : 1;
out:
    free(rows);
    dataset_release(&table);
    series_data_release(&raw);
    model_free(m);
    return rc;
}
