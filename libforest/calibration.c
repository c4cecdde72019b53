/*
 * calibration.c: conformal interval scores per horizon (calibration.h).
 */
#include "calibration.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "radix.h"

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return (x > y) - (x < y);
}

int calibration_build(struct calibration *c, uint32_t scale,
                      uint32_t n_horizons, const uint32_t *counts,
                      const double *scores, struct fr_error *err)
{
    size_t total = 0, kept = 0, longest = 0, at = 0;
    double *sorted = NULL;
    uint64_t *tmp = NULL;

    memset(c, 0, sizeof *c);
    if (n_horizons < 1 || n_horizons > CALIBRATION_MAX_HORIZONS) {
        fr_error_set(err, "calibration needs 1 to %d horizons, got %u",
                     CALIBRATION_MAX_HORIZONS, n_horizons);
        return -1;
    }
    for (uint32_t h = 0; h < n_horizons; h++) {
        if (counts[h] == 0) {
            fr_error_set(err, "calibration: horizon %u has no scores", h + 1);
            return -1;
        }
        total += counts[h];
        kept += counts[h] < CALIBRATION_MAX_SCORES ? counts[h]
                                                   : CALIBRATION_MAX_SCORES;
        longest = counts[h] > longest ? counts[h] : longest;
    }
    for (size_t i = 0; i < total; i++) {
        if (!isfinite(scores[i]) || scores[i] < 0.0) {
            fr_error_set(err, "calibration: score %zu is %g (need a finite "
                         "value >= 0)", i, scores[i]);
            return -1;
        }
    }
    c->offsets = malloc(((size_t)n_horizons + 1) * sizeof *c->offsets);
    c->scores = malloc(kept * sizeof *c->scores);
    sorted = malloc(longest * sizeof *sorted);
    /* the radix sort's keys and scratch: 2 x longest */
    if (longest <= SIZE_MAX / 2 / sizeof *tmp)
        tmp = malloc(2 * longest * sizeof *tmp);
    if (c->offsets == NULL || c->scores == NULL || sorted == NULL ||
        tmp == NULL) {
        free(sorted);
        free(tmp);
        calibration_release(c);
        fr_error_set(err, "out of memory calibrating %zu scores", total);
        return -1;
    }
    c->n_horizons = n_horizons;
    c->scale = scale;
    c->offsets[0] = 0;
    for (uint32_t h = 0; h < n_horizons; h++) {
        size_t n = counts[h];
        size_t keep = n < CALIBRATION_MAX_SCORES ? n : CALIBRATION_MAX_SCORES;
        memcpy(sorted, scores + at, n * sizeof *sorted);
        /* Scores are >= 0 (checked above); a -0 goes to qsort. */
        if (radix_sort_nonneg_doubles(sorted, n, tmp) != 0)
            qsort(sorted, n, sizeof *sorted, cmp_double);
        /* Rank-even thinning, rounding ranks up: kept rank k stands for
         * rank ceil(k (n - 1) / (keep - 1)) of the n, so a conformal rank
         * among the kept is never below the same rank among all (at most
         * one rank wider), and the largest score is kept. */
        for (size_t k = 0; k < keep; k++) {
            size_t r = keep == n ? k
                                 : (k * (n - 1) + keep - 2) / (keep - 1);
            c->scores[c->offsets[h] + k] = (float)sorted[r];
        }
        c->offsets[h + 1] = c->offsets[h] + (uint32_t)keep;
        at += n;
    }
    free(sorted);
    free(tmp);
    return 0;
}

int calibration_check(const struct calibration *c, struct fr_error *err)
{
    if (c->n_horizons < 1 || c->n_horizons > CALIBRATION_MAX_HORIZONS ||
        c->scale > CALIBRATION_RELATIVE) {
        fr_error_set(err, "calibration: %u horizons, scale %u", c->n_horizons,
                     c->scale);
        return -1;
    }
    if (c->offsets[0] != 0) {
        fr_error_set(err, "calibration: offsets do not start at 0");
        return -1;
    }
    for (uint32_t h = 0; h < c->n_horizons; h++) {
        uint32_t lo = c->offsets[h], hi = c->offsets[h + 1];
        if (hi <= lo || hi - lo > CALIBRATION_MAX_SCORES) {
            fr_error_set(err, "calibration: horizon %u holds %d scores", h + 1,
                         (int)(hi - lo));
            return -1;
        }
        for (uint32_t i = lo; i < hi; i++) {
            float v = c->scores[i];
            if (!isfinite(v) || v < 0.0f ||
                (i > lo && v < c->scores[i - 1])) {
                fr_error_set(err, "calibration: horizon %u score %u is "
                             "negative, not finite or out of order", h + 1,
                             i - lo);
                return -1;
            }
        }
    }
    return 0;
}

int calibration_half_width(const struct calibration *c, uint32_t horizon,
                           double level, double *half, int *calibrated,
                           struct fr_error *err)
{
    uint32_t h, n;
    double k;

    if (!(level >= CALIBRATION_MIN_LEVEL && level <= CALIBRATION_MAX_LEVEL)) {
        fr_error_set(err, "interval level %g is outside %g..%g", level,
                     CALIBRATION_MIN_LEVEL, CALIBRATION_MAX_LEVEL);
        return -1;
    }
    if (c->n_horizons == 0) {
        fr_error_set(err, "the model has no interval calibration");
        return -1;
    }
    if (horizon < 1) {
        fr_error_set(err, "horizon 0: horizons start at 1");
        return -1;
    }
    h = horizon;
    *calibrated = h <= c->n_horizons;
    if (h > c->n_horizons)
        h = c->n_horizons;
    n = c->offsets[h] - c->offsets[h - 1];
    /* The conformal rank; the small slack keeps levels such as 0.9 from
     * rounding up a whole rank through binary representation. */
    k = ceil((n + 1.0) * level - 1e-9);
    if (k > n) {
        fr_error_set(err, "a %g interval at horizon %u needs at least %.0f "
                     "calibration scores, the model has %u: use a lower "
                     "level", level, h, ceil(level / (1.0 - level) - 1e-9),
                     n);
        return -1;
    }
    *half = c->scores[c->offsets[h - 1] + (uint32_t)k - 1];
    return 0;
}

void calibration_release(struct calibration *c)
{
    free(c->offsets);
    free(c->scores);
    memset(c, 0, sizeof *c);
}
