/*
 * synth.c: the synthetic demand generator (see synth.h).
 *
 * Each series' expected demand on day t (days since SYNTH_EPOCH) is
 *     level * (1 + trend * t) * weekly[dow] * yearly(t) * promo * holiday
 * and the observed demand is that expectation with multiplicative
 * log-normal noise plus Poisson-like count noise, rounded to whole units.
 * A series' shape comes from (SEED, series); each day's promotion and noise
 * from (SEED, series, day), so the value of a day never depends on which
 * days around it are generated.
 */
#include "synth.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rng.h"

struct holiday {
    int month, day;
    double effect; /* multiplier on demand */
};

static const struct holiday HOLIDAYS[] = {
    {1, 1, 0.45},  {2, 14, 1.25}, {5, 1, 0.8},   {7, 4, 1.35},
    {10, 31, 1.3}, {11, 27, 0.5}, {12, 24, 1.7}, {12, 25, 0.35},
    {12, 31, 1.45},
};

/* Shape of a week, Monday first: quiet early week, busy weekend. */
static const double WEEK[7] = {-0.12, -0.15, -0.06, 0.0, 0.14, 0.33, 0.2};

static double holiday_effect(int32_t day)
{
    int dow, dom, month;

    series_calendar(day, &dow, &dom, &month);
    for (size_t i = 0; i < sizeof HOLIDAYS / sizeof HOLIDAYS[0]; i++) {
        if (HOLIDAYS[i].month == month && HOLIDAYS[i].day == dom)
            return HOLIDAYS[i].effect;
    }
    return 1.0;
}

/* Randomness of one (series, day, purpose), from SEED alone: a stream per
 * (series, day) pair, so any day's value is the same whichever window of
 * days is generated (the weekly retraining sees the same past each time,
 * plus new days). */
static void day_rng(struct rng *r, uint64_t seed, size_t s, int32_t day,
                    uint64_t purpose)
{
    rng_seed(r, seed ^ (purpose * 0x9e3779b97f4a7c15ull),
             ((uint64_t)s << 32) ^ (uint32_t)day);
}

/* A promotion starts on a day with probability 0.03 and runs 3 to 7 days
 * (runs may overlap). Returns 1 when day is inside one. */
static int promo_on(uint64_t seed, size_t s, int32_t day)
{
    for (int32_t k = 0; k < 7; k++) {
        struct rng r;
        day_rng(&r, seed, s, day - k, 1);
        if (rng_uniform(&r) < 0.03 && 3 + (int32_t)rng_below(&r, 5) > k)
            return 1;
    }
    return 0;
}

int synth_generate(size_t n_series, size_t n_days, int32_t as_of,
                   uint64_t seed, struct series_data *data,
                   struct fr_error *err)
{
    size_t n_stores;
    int32_t epoch, first;
    struct rng r;

    memset(data, 0, sizeof *data);
    data->path = "synthetic data";
    if (n_series == 0 || n_days == 0 ||
        n_series > SYNTH_MAX_RECORDS / n_days) {
        fr_error_set(err, "synthetic data of %zu series x %zu days is out of "
                     "range (1 to %u records)", n_series, n_days,
                     SYNTH_MAX_RECORDS);
        return -1;
    }
    series_parse_date(SYNTH_EPOCH, &epoch);
    series_parse_date(SYNTH_MIN_DATE, &first);
    if ((int64_t)as_of - (int64_t)n_days + 1 < first) {
        fr_error_set(err, "%zu synthetic days up to day %d would start "
                     "before %s", n_days, as_of, SYNTH_MIN_DATE);
        return -1;
    }
    first = as_of - (int32_t)n_days + 1;
    n_stores = (size_t)ceil(sqrt((double)n_series));
    data->covariate_names = calloc(2, sizeof(char *));
    data->series_names = calloc(n_series, sizeof(char *));
    if (data->covariate_names == NULL || data->series_names == NULL)
        goto nomem;
    data->n_covariates = 2;
    data->covariate_names[0] = strdup("promo");
    data->covariate_names[1] = strdup("holiday");
    if (!data->covariate_names[0] || !data->covariate_names[1])
        goto nomem;
    for (size_t s = 0; s < n_series; s++) {
        char name[64];
        snprintf(name, sizeof name, "store%02zu-item%03zu", s % n_stores + 1,
                 s / n_stores + 1);
        data->series_names[s] = strdup(name);
        if (data->series_names[s] == NULL)
            goto nomem;
        data->n_series++;
    }
    for (size_t s = 0; s < n_series; s++) {
        double level, trend, week_amp, year_amp, year_phase, uplift;

        rng_seed(&r, seed, 1000003u + s);
        level = exp(3.2 + 0.6 * rng_normal(&r));
        trend = 0.0003 + 0.0004 * rng_normal(&r);
        week_amp = 0.5 + rng_uniform(&r);
        year_amp = 0.1 + 0.2 * rng_uniform(&r);
        year_phase = 365.25 * rng_uniform(&r);
        uplift = 1.3 + 0.3 * rng_uniform(&r);
        for (size_t i = 0; i < n_days; i++) {
            int32_t day = first + (int32_t)i;
            double t = (double)(day - epoch); /* days since the epoch */
            int dow, dom, month;
            double cov[2], mu, y;
            struct rng noise;

            series_calendar(day, &dow, &dom, &month);
            cov[0] = promo_on(seed, s, day);
            cov[1] = holiday_effect(day) != 1.0;
            mu = level * fmax(0.1, 1.0 + trend * t) *
                 (1.0 + week_amp * WEEK[dow]) *
                 (1.0 + year_amp * sin(6.283185307179586 *
                                       (t - year_phase) / 365.25)) *
                 (cov[0] ? uplift : 1.0) * holiday_effect(day);
            day_rng(&noise, seed, s, day, 2);
            y = mu * exp(0.1 * rng_normal(&noise)) +
                sqrt(mu) * rng_normal(&noise);
            y = fmax(0.0, round(y));
            if (series_data_push(data, (int32_t)s, day, y, cov, 0, err) != 0)
                goto fail;
        }
    }
    return 0;
nomem:
    fr_error_set(err, "out of memory generating synthetic data");
fail:
    series_data_release(data);
    return -1;
}
