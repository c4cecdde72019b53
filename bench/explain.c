/*
 * explain.c: bench-explain, the cost of an explanation (TreeSHAP,
 * libforest/explain.h) against a plain prediction.
 *
 *   bench-explain MODEL.bin [--rows 500]
 *
 * Builds feature rows for the model from the library's synthetic series
 * (20 series x 730 days to 2026-07-01, SEED 42: what make run trains on),
 * so MODEL.bin must be a series model (models/current/model.bin after make
 * run: 100 trees of depth 10). Times model_predict_row and explain_row on
 * the first --rows rows, one at a time on this thread, with
 * CLOCK_MONOTONIC (best of 3), and checks base + contributions =
 * prediction on each. Prints one line of key=value pairs:
 *   rows=500 trees=100 depth=10 leaves_per_tree=... predict_us=...
 *   explain_us=... worst_rel_error=...
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "explain.h"
#include "model.h"
#include "series.h"
#include "synth.h"

static double now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
    struct fr_error err = {{0}};
    struct series_data raw;
    struct dataset table;
    struct model *m;
    size_t n = 500, nf, leaves = 0, depth = 0;
    double *work, *phi, best_p = 1e30, best_e = 1e30, worst = 0, sink = 0;
    float *rw;
    int32_t as_of;

    if (argc < 2 || (argc == 4 && strcmp(argv[2], "--rows") != 0) ||
        (argc != 2 && argc != 4)) {
        fprintf(stderr, "usage: bench-explain MODEL.bin [--rows N]\n");
        return 2;
    }
    if (argc == 4)
        n = strtoul(argv[3], NULL, 10);
    m = model_load(argv[1], NULL, &err);
    if (m == NULL || !m->has_series || explain_check(m, &err) != 0) {
        fprintf(stderr, "bench-explain: error: %s\n",
                m == NULL || m->has_series ? err.msg :
                "not a series model");
        model_free(m);
        return 1;
    }
    memset(&raw, 0, sizeof raw);
    if (series_parse_date("2026-07-01", &as_of) != 0 ||
        synth_generate(20, 730, as_of, 42, &raw, &err) != 0 ||
        series_build(&raw, &m->series, &table, &err) != 0) {
        fprintf(stderr, "bench-explain: error: %s\n", err.msg);
        model_free(m);
        return 1;
    }
    nf = m->forest->n_features;
    if (table.n_features != nf || n == 0 || n > table.n_rows)
        n = table.n_rows;
    for (uint32_t t = 0; t < m->forest->n_trees; t++) {
        const struct tree *tr = &m->forest->trees[t];
        for (uint32_t i = 0; i < tr->n_nodes; i++)
            leaves += tr->nodes[i].left == i;
        depth = tr->depth > depth ? tr->depth : depth;
    }
    work = malloc(explain_work_doubles(m) * sizeof *work);
    phi = malloc((nf + 1) * sizeof *phi);
    rw = malloc(nf * sizeof *rw);
    for (int rep = 0; rep < 3; rep++) {
        double t0 = now(), t1;
        for (size_t i = 0; i < n; i++)
            sink += model_predict_row(m, table.X + i * nf, rw);
        t1 = now();
        best_p = t1 - t0 < best_p ? t1 - t0 : best_p;
        t0 = now();
        for (size_t i = 0; i < n; i++) {
            explain_row(m, table.X + i * nf, work, rw, phi);
            sink += phi[0];
        }
        t1 = now();
        best_e = t1 - t0 < best_e ? t1 - t0 : best_e;
    }
    for (size_t i = 0; i < n; i++) {
        double pred = model_predict_row(m, table.X + i * nf, rw);
        double sum = explain_base(m), rel;
        explain_row(m, table.X + i * nf, work, rw, phi);
        for (size_t k = 0; k <= nf; k++)
            sum += phi[k];
        rel = fabs(sum - pred) / (fabs(pred) > 1 ? fabs(pred) : 1);
        worst = rel > worst ? rel : worst;
    }
    printf("rows=%zu trees=%u depth=%zu leaves_per_tree=%.0f "
           "predict_us=%.2f explain_us=%.1f worst_rel_error=%.2g%s\n", n,
           m->forest->n_trees, depth, (double)leaves / m->forest->n_trees,
           best_p / n * 1e6, best_e / n * 1e6, worst, sink == 0 ? " " : "");
    free(work);
    free(phi);
    free(rw);
    dataset_release(&table);
    series_data_release(&raw);
    model_free(m);
    return worst <= 1e-6 ? 0 : 1;
}
