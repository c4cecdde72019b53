/*
 * profile.c: training distributions on equal-mass bins (profile.h).
 */
#include "profile.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "radix.h"
#include "rng.h"

static int cmp_float(const void *a, const void *b)
{
    float x = *(const float *)a, y = *(const float *)b;

    return (x > y) - (x < y);
}

uint32_t profile_bin(const struct feature_profile *p, size_t f, float x)
{
    const float *e = p->edges + f * (p->n_bins - 1);
    uint32_t bin = 0;

    /* The first bin whose upper edge is >= x. The edges ascend
     * (profile_check), so `x <= e[k]` turns true once and stays true: the
     * bin is the number of edges it is false for, and NaN, false for all,
     * ends last. Counted rather than binary-searched: a server bins every
     * feature of every row, rows fall anywhere, and the branches of a
     * search mispredict about half the time, each costing more than the
     * 9 comparisons this makes without a branch (PROFILE_BINS 10). */
    for (uint32_t k = 0; k + 1 < p->n_bins; k++)
        bin += !(x <= e[k]);
    return bin;
}

int profile_build(struct feature_profile *p, const struct dataset *ds,
                  uint32_t n_bins, struct fr_error *err)
{
    size_t n = ds->n_rows, nf = ds->n_features, m;
    size_t *pick = NULL;
    float *col = NULL;
    uint64_t *tmp = NULL;
    struct rng r;
    int rc = -1;

    memset(p, 0, sizeof *p);
    if (n == 0 || nf == 0 || nf > SIZE_MAX / PROFILE_MAX_BINS / 8 ||
        nf > UINT32_MAX || n_bins < 2 || n_bins > PROFILE_MAX_BINS) {
        fr_error_set(err, "cannot profile %zu rows x %zu features on %u bins",
                     n, nf, n_bins);
        return -1;
    }
    /* Above PROFILE_MAX_SAMPLE rows, a fixed-seed random sample: a stride
     * would line up with the weekly cycle of rows sorted by series and
     * day and see one weekday only. */
    m = n < PROFILE_MAX_SAMPLE ? n : PROFILE_MAX_SAMPLE;
    pick = malloc(m * sizeof *pick);
    rng_seed(&r, 0x70726f66696c65ull /* "profile" */, 0);
    for (size_t i = 0; pick != NULL && i < m; i++)
        pick[i] = m == n ? i : (size_t)rng_below(&r, n);
    col = malloc(m * sizeof *col);
    /* the radix sort's keys and scratch: 2 x m */
    if (m <= SIZE_MAX / 2 / sizeof *tmp)
        tmp = malloc(2 * m * sizeof *tmp);
    p->edges = malloc(nf * (n_bins - 1) * sizeof *p->edges);
    p->shares = calloc(nf * n_bins, sizeof *p->shares);
    if (pick == NULL || col == NULL || tmp == NULL || p->edges == NULL ||
        p->shares == NULL) {
        fr_error_set(err, "out of memory profiling %zu features", nf);
        goto out;
    }
    p->n_features = (uint32_t)nf;
    p->n_bins = n_bins;
    for (size_t f = 0; f < nf; f++) {
        float *e = p->edges + f * (n_bins - 1);
        double *share = p->shares + f * n_bins;
        for (size_t i = 0; i < m; i++)
            col[i] = ds->X[pick[i] * nf + f];
        if (radix_sort_floats(col, m, tmp) != 0)
            qsort(col, m, sizeof *col, cmp_float);
        for (uint32_t k = 1; k < n_bins; k++)
            e[k - 1] = col[(k * m) / n_bins - ((k * m) / n_bins > 0)];
        /* Counts first, one division each: m additions of 1/m can sum
         * past 1 (a constant feature, such as a direct model's horizon
         * in its h = 1 rows, puts every row in one bin). */
        for (size_t i = 0; i < m; i++)
            share[profile_bin(p, f, col[i])] += 1.0;
        for (uint32_t k = 0; k < n_bins; k++)
            share[k] /= (double)m;
    }
    rc = 0;
out:
    free(pick);
    free(col);
    free(tmp);
    if (rc != 0)
        profile_release(p);
    return rc;
}

int profile_check(const struct feature_profile *p, struct fr_error *err)
{
    uint32_t nb = p->n_bins;

    if (nb < 2 || nb > PROFILE_MAX_BINS) {
        fr_error_set(err, "feature profile: %u bins", nb);
        return -1;
    }
    for (uint32_t f = 0; f < p->n_features; f++) {
        const float *e = p->edges + (size_t)f * (nb - 1);
        const double *share = p->shares + (size_t)f * nb;
        double sum = 0.0;
        for (uint32_t k = 0; k + 1 < nb; k++) {
            if (isnan(e[k]) || (k > 0 && e[k] < e[k - 1])) {
                fr_error_set(err, "feature profile %u: edges out of order",
                             f);
                return -1;
            }
        }
        for (uint32_t k = 0; k < nb; k++) {
            if (!(share[k] >= 0.0 && share[k] <= 1.0)) {
                fr_error_set(err, "feature profile %u: share %g", f,
                             share[k]);
                return -1;
            }
            sum += share[k];
        }
        if (fabs(sum - 1.0) > 1e-6) {
            fr_error_set(err, "feature profile %u: shares sum to %g", f, sum);
            return -1;
        }
    }
    return 0;
}

void profile_release(struct feature_profile *p)
{
    free(p->edges);
    free(p->shares);
    memset(p, 0, sizeof *p);
}
