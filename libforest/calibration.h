/*
 * calibration.h: conformal prediction intervals, per forecast horizon.
 *
 * Split conformal prediction (Vovk et al. 2005; Lei et al. 2018): keep the
 * nonconformity scores |actual - predicted| of forecasts the model made for
 * days it never learned, one set per horizon (1 = the next day). For a new
 * forecast at that horizon, the interval predicted +- q, with q the
 * ceil((n + 1) * level)-th smallest of the n scores, covers the actual value
 * with probability at least `level` when the scored days are exchangeable
 * with the new one. Relative scores divide by the forecast's level (the
 * recent mean of the series) so one calibration serves a series that grows.
 */
#ifndef FR_CALIBRATION_H
#define FR_CALIBRATION_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"

#define CALIBRATION_MAX_HORIZONS 366
#define CALIBRATION_MAX_SCORES 4096 /* kept per horizon: rank-even sample */
#define CALIBRATION_MIN_LEVEL 0.5
#define CALIBRATION_MAX_LEVEL 0.99

enum calibration_scale {
    CALIBRATION_ABSOLUTE = 0, /* score = |actual - predicted| */
    CALIBRATION_RELATIVE = 1  /* score = |actual - predicted| / level */
};

struct calibration {
    uint32_t n_horizons; /* 0: the model has no calibration */
    uint32_t scale;      /* enum calibration_scale */
    uint32_t *offsets;   /* n_horizons + 1: horizon h's scores are
                            scores[offsets[h - 1] .. offsets[h]) */
    float *scores;       /* ascending within each horizon, finite, >= 0 */
};

/* Sets c from n_horizons runs of scores, run h (1-based) holding
 * counts[h - 1] values, concatenated in `scores`. Copies and sorts them,
 * keeping at most CALIBRATION_MAX_SCORES per horizon (every k-th rank, so
 * quantiles are kept). Returns 0, or -1 with err set: no horizon, a horizon
 * without scores, a negative or non-finite score, no memory. */
int calibration_build(struct calibration *c, uint32_t scale,
                      uint32_t n_horizons, const uint32_t *counts,
                      const double *scores, struct fr_error *err);

/* Checks what a decoder read: sizes, offsets, order, values. Returns 0 or
 * -1 with err set. */
int calibration_check(const struct calibration *c, struct fr_error *err);

/* The conformal half-width for `horizon` (1-based) at `level` (0.5..0.99):
 * *half is in the units of the scores (multiply by the level for
 * CALIBRATION_RELATIVE). Horizons beyond n_horizons use the last one's
 * scores and set *calibrated to 0 (else 1). Returns 0, or -1 with err set
 * when the horizon has too few scores for that level (ceil((n + 1) *
 * level) > n: the interval would be unbounded) or level is out of range. */
int calibration_half_width(const struct calibration *c, uint32_t horizon,
                           double level, double *half, int *calibrated,
                           struct fr_error *err);

/* Frees what c owns and zeroes it; safe on a zeroed calibration. */
void calibration_release(struct calibration *c);

#endif
