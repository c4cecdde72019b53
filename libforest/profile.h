/*
 * profile.h: each feature's training distribution, for drift monitoring.
 *
 * Equal-mass bins: the edges are the training values' deciles (for the
 * default 10 bins), so every bin holds about a tenth of the training rows
 * and a window of recent rows drawn from the same distribution fills each
 * bin with enough rows for a stable population stability index. Features
 * with repeated values (a 0/1 promotion flag) get repeated edges and empty
 * bins; shares are counted, not assumed.
 */
#ifndef FR_PROFILE_H
#define FR_PROFILE_H

#include <stddef.h>
#include <stdint.h>

#include "dataset.h"
#include "error.h"

#define PROFILE_BINS 10
#define PROFILE_MAX_BINS 64
#define PROFILE_MAX_SAMPLE 200000 /* rows sorted per feature for the edges */

struct feature_profile {
    uint32_t n_features;
    uint32_t n_bins;  /* 0: the model has no profile; else 2..MAX_BINS */
    float *edges;     /* n_features x (n_bins - 1), ascending per feature:
                         bin k holds edges[k-1] < x <= edges[k] */
    double *shares;   /* n_features x n_bins training shares, each feature's
                         summing to 1 */
};

/* Profiles the rows of ds on n_bins bins (all rows, or a fixed-seed random
 * sample of PROFILE_MAX_SAMPLE of them). Returns 0, or -1 with err set
 * (no rows, bad bin count, no memory). */
int profile_build(struct feature_profile *p, const struct dataset *ds,
                  uint32_t n_bins, struct fr_error *err);

/* Checks what a decoder read: edges ascending and not NaN, shares in [0, 1]
 * summing to 1. Returns 0 or -1 with err set. */
int profile_check(const struct feature_profile *p, struct fr_error *err);

/* The bin of value x of feature f (NaN falls in the last bin). */
uint32_t profile_bin(const struct feature_profile *p, size_t f, float x);

/* Frees what p owns and zeroes it; safe on a zeroed profile. */
void profile_release(struct feature_profile *p);

#endif
