/*
 * synth.h: a synthetic multi-series daily demand data set.
 *
 * Store x item series with a level, a slow trend, weekly and yearly
 * seasonality, promotions (a known-in-advance covariate with an uplift),
 * holidays (a covariate with spikes and drops) and noise. The same seed and
 * the same AS_OF give the same data on every machine, so tests and
 * benchmarks are repeatable; a later AS_OF adds new days after the same
 * past, as real data does.
 */
#ifndef FR_SYNTH_H
#define FR_SYNTH_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "series.h"

#define SYNTH_EPOCH "2023-01-01"    /* day 0 of every series' trend */
#define SYNTH_MIN_DATE "1900-01-01" /* no synthetic day before this */
#define SYNTH_MAX_RECORDS 100000000u /* series x days */

/* Fills data with n_series series of the n_days days that end on day as_of
 * (days since 1970-01-01, inclusive), with covariates "promo" and
 * "holiday". The value of series s on day d depends only on (seed, s, d).
 * Returns 0, or -1 with err set (no memory, zero sizes, more than
 * SYNTH_MAX_RECORDS records, days before SYNTH_MIN_DATE). */
int synth_generate(size_t n_series, size_t n_days, int32_t as_of,
                   uint64_t seed, struct series_data *data,
                   struct fr_error *err);

#endif
