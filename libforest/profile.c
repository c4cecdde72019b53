/*
 * profile.c: training distributions on equal-mass bins (profile.h).
 */
#include "profile.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "rng.h"

/* The radix key of x: unsigned keys that order as the floats do (the sign
 * bit flipped for positives, every bit for negatives), with -0 given +0's
 * key, as the two compare equal. */
static uint32_t float_key(float x)
{
    uint32_t k;

    x += 0.0f; /* -0 + 0 is +0; every other value is unchanged */
    memcpy(&k, &x, sizeof k);
    return k & 0x80000000u ? ~k : k | 0x80000000u;
}

/* Sorts col[0..n) ascending, stably, with tmp (n floats) as scratch: an
 * LSD radix sort, four passes of 8 bits, that moves the values themselves.
 * It gives exactly what a stable comparison sort (glibc's qsort, a merge
 * sort, which this replaced) gives, -0 and +0 keeping their order, in a
 * tenth of the time: qsort's comparisons were the one serial step of
 * forest-train after growth that grew with the features (bench/README.md).
 * Values are finite or infinite, never NaN (tables refuse NaN). */
static void sort_floats(float *col, size_t n, float *tmp)
{
    float *a = col, *b = tmp;

    for (unsigned shift = 0; shift < 32; shift += 8) {
        size_t count[256] = {0}, pos = 0;
        float *swap;
        for (size_t i = 0; i < n; i++)
            count[(float_key(a[i]) >> shift) & 0xff]++;
        for (size_t d = 0; d < 256; d++) {
            size_t c = count[d];
            count[d] = pos;
            pos += c;
        }
        for (size_t i = 0; i < n; i++)
            b[count[(float_key(a[i]) >> shift) & 0xff]++] = a[i];
        swap = a;
        a = b;
        b = swap;
    }
    /* Four passes: the sorted values are back in col. */
}

uint32_t profile_bin(const struct feature_profile *p, size_t f, float x)
{
    const float *e = p->edges + f * (p->n_bins - 1);
    uint32_t lo = 0, hi = p->n_bins - 1;

    /* The first bin whose upper edge is >= x; binary search over 9 edges
     * is 4 comparisons. NaN compares false everywhere and ends last. */
    while (lo < hi) {
        uint32_t mid = (lo + hi) / 2;
        if (x <= e[mid])
            hi = mid;
        else
            lo = mid + 1;
    }
    return lo;
}

int profile_build(struct feature_profile *p, const struct dataset *ds,
                  uint32_t n_bins, struct fr_error *err)
{
    size_t n = ds->n_rows, nf = ds->n_features, m;
    size_t *pick = NULL;
    float *col = NULL, *tmp = NULL;
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
    tmp = malloc(m * sizeof *tmp);
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
        sort_floats(col, m, tmp);
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
