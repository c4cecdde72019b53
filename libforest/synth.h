/*
 * synth.h: a synthetic multi-series daily demand data set.
 *
 * Store x item series with a level, a slow trend, weekly and yearly
 * seasonality, promotions (a known-in-advance covariate with an uplift),
 * holidays (a covariate with spikes and drops) and noise. The same seed gives
 * the same data on every machine, so tests and benchmarks are repeatable.
 */
#ifndef FR_SYNTH_H
#define FR_SYNTH_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "series.h"

#define SYNTH_START "2023-01-01" /* first day of every series */
#define SYNTH_MAX_RECORDS 100000000u /* series x days */

/* Fills data with n_series series of n_days days each (covariates "promo"
 * and "holiday"). Returns 0, or -1 with err set (no memory, zero sizes, or
 * more than SYNTH_MAX_RECORDS records). */
int synth_generate(size_t n_series, size_t n_days, uint64_t seed,
                   struct series_data *data, struct fr_error *err);

#endif
