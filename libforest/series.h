/*
 * series.h: daily time series and the features built from them.
 *
 * A forecasting model sees, for day t of one series, only what was known
 * before t: the target at lags 1, 2, 3, 7, 14 and 28 days, the mean and
 * sample standard deviation of the previous 7 and 28 days, the calendar of
 * t (day of week, day of month, month) and the covariates of t (such as a
 * planned promotion). series_build_row() is the single place that turns a
 * history into a feature row: training uses it for every table row and the
 * server uses it for every forecast step, so the two cannot disagree.
 *
 * Two strategies forecast several days (theory/08, "Judging a forecast"):
 *
 * - recursive (formats 1 and 2): one model of the next day; day d of a
 *   forecast is predicted from a history whose last d - 1 days are the
 *   model's own forecasts, so errors compound with the horizon;
 * - direct (format 3, what this build trains): one row per (origin,
 *   horizon h): every feature is computed from values known at the origin
 *   (the last known day is origin - 1), plus h itself, the same weekday as
 *   the target day in the weeks before the origin, and the target day's
 *   calendar and covariates. The target is day origin + h - 1. No forecast
 *   feeds another; series_build_direct_row() builds those rows, and
 *   series_build_row() of a direct spec is its h = 1 row.
 */
#ifndef FR_SERIES_H
#define FR_SERIES_H

#include <stddef.h>
#include <stdint.h>

#include "dataset.h"
#include "error.h"

#define SERIES_MAX_LAGS 8
#define SERIES_MAX_WINDOWS 4
#define SERIES_MAX_COVARIATES 64
#define SERIES_SEASON 7 /* the seasonal-naive baseline predicts y[t-7] */
#define SERIES_NAME_MAX 255 /* bytes in a feature or covariate name */

#define SERIES_MAX_SPAN 3660 /* days back a lag or window may reach */
#define SERIES_MAX_WEEKDAY_LAGS 8
#define SERIES_MAX_HORIZON 366 /* days ahead a direct model may learn */
#define SERIES_WEEKDAY_LAGS 4  /* a direct spec's default: 4 weeks back */
#define SERIES_DIRECT_LEVEL 7  /* a direct spec's level: the last week */

/* What the trees learn: the value itself (format 1's models), or its
 * difference to the series' level, the mean of the level_window days
 * before the day (its roll_mean feature). Lags and rolling means are then
 * given to the trees as differences to the same level, and the level is
 * added back to the trees' answer. Trees cannot predict beyond the targets
 * they saw; differences to a moving level can, so a series that grows past
 * every value in its training days is forecast at its new level. */
enum series_target { SERIES_TARGET_VALUE = 0, SERIES_TARGET_DIFF = 1 };

/* How a forecast reaches day h (see the header comment). */
enum series_strategy { SERIES_RECURSIVE = 0, SERIES_DIRECT = 1 };

/* How feature rows are built from a series. Stored in the model file so the
 * server builds forecast rows exactly as training did. */
struct series_spec {
    uint32_t n_lags;                         /* <= SERIES_MAX_LAGS */
    uint32_t lags[SERIES_MAX_LAGS];          /* days back, each >= 1 */
    uint32_t n_windows;                      /* <= SERIES_MAX_WINDOWS */
    uint32_t windows[SERIES_MAX_WINDOWS];    /* rolling lengths, each >= 2 */
    uint32_t n_covariates;                   /* <= SERIES_MAX_COVARIATES */
    char *covariates[SERIES_MAX_COVARIATES]; /* owned names */
    uint32_t target;       /* enum series_target */
    uint32_t level_window; /* SERIES_TARGET_DIFF: one of windows[], whose
                              roll_mean is the level; else 0 */
    uint32_t strategy;     /* enum series_strategy; formats 1 and 2 are
                              SERIES_RECURSIVE */
    uint32_t horizon;      /* SERIES_DIRECT: days ahead the trees learned,
                              1..SERIES_MAX_HORIZON; recursive: 0 */
    uint32_t n_weekday_lags; /* SERIES_DIRECT: same-weekday lags, 1..
                                SERIES_MAX_WEEKDAY_LAGS; recursive: 0 */
};

/* Raw long-format series: one record per (series, day). */
struct series_data {
    size_t n;                 /* records */
    int32_t *series;          /* series number of each record */
    int32_t *day;             /* days since 1970-01-01 */
    double *y;                /* target */
    double *cov;              /* n x n_covariates, row-major */
    size_t *line;             /* CSV line of each record, or NULL */
    size_t n_series;
    char **series_names;      /* n_series owned names */
    size_t n_covariates;
    char **covariate_names;   /* n_covariates owned names */
    const char *path;         /* for messages; not owned */
    size_t capacity;
};

/* Column names for reading a series CSV. */
struct series_columns {
    const char *date;   /* required */
    const char *target; /* required */
    const char *series; /* optional: when the file has no such column, all
                           rows are one series */
};

/* Parses "YYYY-MM-DD" into days since 1970-01-01. Returns 0, or -1 when the
 * text is not a valid calendar date (month 1-12, day within the month). */
int series_parse_date(const char *text, int32_t *day);

/* Writes day as "YYYY-MM-DD" into buf (at least 11 bytes). */
void series_format_date(int32_t day, char *buf);

/* Day of week (0 = Monday .. 6 = Sunday), day of month (1-31), month (1-12). */
void series_calendar(int32_t day, int *dow, int *dom, int *month);

/* Sets the default spec (lags 1 2 3 7 14 28, windows 7 28) with covariates
 * copied from names. Returns 0 or -1 with err set (too many, no memory). */
int series_spec_init(struct series_spec *s, size_t n_covariates,
                     const char *const *names, struct fr_error *err);

/* Turns an initialised spec into the direct strategy for forecasts of
 * `horizon` days (1..SERIES_MAX_HORIZON): SERIES_WEEKDAY_LAGS same-weekday
 * lags and the difference to the last SERIES_DIRECT_LEVEL days' mean as
 * the target (a window of that length is added if the spec has none).
 * Returns 0, or -1 with err set (horizon out of range, no room for the
 * window). */
int series_spec_direct(struct series_spec *s, uint32_t horizon,
                       struct fr_error *err);

/* Deep copy. Returns 0 or -1 with err set. */
int series_spec_copy(struct series_spec *dst, const struct series_spec *src,
                     struct fr_error *err);

/* Checks a spec read from a file: counts, lag and window ranges, the
 * target and its level window. Returns 0 or -1 with err set. */
int series_spec_check(const struct series_spec *s, struct fr_error *err);

/* Returns 1 when a and b build the same rows (and 0 otherwise). */
int series_spec_equal(const struct series_spec *a,
                      const struct series_spec *b);

/* Frees the covariate names; safe on a zeroed spec. */
void series_spec_release(struct series_spec *s);

/* Past values a row needs: the longest lag or window. */
uint32_t series_history(const struct series_spec *s);

/* Features a row has. */
size_t series_n_features(const struct series_spec *s);

/* Writes feature i's name ("lag_7", "roll_mean_28", "day_of_week",
 * a covariate's name) into buf of size len. */
void series_feature_name(const struct series_spec *s, size_t i, char *buf,
                         size_t len);

/* Builds the feature row for day `day`. past holds series_history(s)
 * values, oldest first: past[H-1] is y[day-1], past[H-k] is y[day-k].
 * covariates holds s->n_covariates values of day `day`. For a direct spec
 * this is series_build_direct_row's row for origin `day`, h = 1. */
void series_build_row(const struct series_spec *s, const double *past,
                      int32_t day, const double *covariates, float *row);

/* Builds a direct spec's row for target day origin + h - 1 (h >= 1) from
 * what is known at the origin: past holds series_history(s) values, past[H-1]
 * being y[origin - 1]; covariates holds the target day's s->n_covariates
 * values. Features: lags and rolling windows of past (as
 * series_build_row), same_weekday_1..n (the target day's weekday in the
 * n weeks before the origin: y[target - 7 (ceil(h/7) + j - 1)]) and
 * same_weekday_mean (their mean), horizon (h), then the target day's
 * calendar and covariates. No value of past
 * after the origin exists, so none can leak in. Horizons beyond
 * s->horizon build rows the same way (the trees answer them as their last
 * learned horizon). */
void series_build_direct_row(const struct series_spec *s, const double *past,
                             int32_t origin, uint32_t h,
                             const double *covariates, float *row);

/* series_build_direct_row for h = 1..n_h from one origin into rows (n_h x
 * series_n_features floats), covariates holding n_h days of
 * s->n_covariates values: the same rows, the lags and rolling windows of
 * past, the same for every h, computed once (a backtest's 14 rows an
 * origin computed them 14 times). Cannot fail. */
void series_build_direct_rows(const struct series_spec *s,
                              const double *past, int32_t origin,
                              uint32_t n_h, const double *covariates,
                              float *rows);

/* series_build_direct_row's features after the history's: what depends on
 * h and the target day, written from row[series_history_features(s)] on;
 * the history's are the row's first series_history_features(s). Neither
 * can fail. */
size_t series_history_features(const struct series_spec *s);
void series_build_direct_tail(const struct series_spec *s,
                              const double *past, int32_t origin, uint32_t h,
                              const double *covariates, float *row);

/* The index of the level's feature (roll_mean_<level_window>), or SIZE_MAX
 * when the spec has no such window. */
size_t series_level_feature(const struct series_spec *s);

/* What the trees see of a feature row built by series_build_row: for
 * SERIES_TARGET_DIFF, the lags and rolling means minus the level (the rest
 * as is) written to out, and the level returned, to be added back to the
 * trees' answer; for SERIES_TARGET_VALUE, a copy and 0. row and out may
 * be the same. */
double series_relative_row(const struct series_spec *s, const float *row,
                           float *out);

/* The table the trees learn from: a copy of src (rows built by
 * series_build) with every row through series_relative_row and each
 * target minus its row's level. Returns 0, or -1 with err set (no
 * memory); on failure dst is released. */
int series_relative_dataset(const struct series_spec *s,
                            const struct dataset *src, struct dataset *dst,
                            struct fr_error *err);

/* Reads a long-format CSV: a date column, the target, an optional series
 * column, and any other columns as numeric covariates. Returns 0, or -1
 * with err naming file, line and column. On failure data is released. */
int series_data_read_csv(const char *path, const struct series_columns *cols,
                         struct series_data *data, struct fr_error *err);

/* Writes the data as CSV with columns date, series, target, covariates, to
 * path ("-": standard output). Returns 0 or -1 with err set on a write
 * error. */
int series_data_write_csv(const struct series_data *data, const char *path,
                          const char *target_name, struct fr_error *err);

/* Appends one record. Returns 0 or -1 with err set. */
int series_data_push(struct series_data *data, int32_t series, int32_t day,
                     double y, const double *cov, size_t line,
                     struct fr_error *err);

void series_data_release(struct series_data *data);

/* Sorts the records by (series, day), stably. Returns 0 or -1 with err set
 * (no memory). */
int series_data_sort(struct series_data *d, struct fr_error *err);

/* Builds the supervised table: one row per record that has a complete,
 * gap-free history of series_history() days, in (series, day) order, with
 * the seasonal-naive baseline y[t-7]. Records are sorted first; two records
 * of one series on one day are an error. Returns 0, or -1 with err set
 * (duplicates, no row with enough history, no memory). */
int series_build(struct series_data *data, const struct series_spec *spec,
                 struct dataset *out, struct fr_error *err);

/* Builds a direct spec's training table from records sorted by (series,
 * day): one row per origin (a record with series_history() gap-free days
 * before it) and horizon h = 1..spec->horizon whose target day exists
 * (gap-free from the origin) and, when cutoff is not NULL, is before
 * cutoff[series]. Each row's day is its target day, its baseline the
 * seasonal naive forecast for that horizon (the same weekday of the last
 * week before the origin). When there are more than max_rows such rows
 * (0: no limit), each is kept with probability max_rows / total, by a hash
 * of (seed, series, origin, h): the same rows for the same data and seed.
 * Returns 0, or -1 with err set (no row, no memory); on failure out is
 * released. */
int series_build_direct(const struct series_data *data,
                        const struct series_spec *spec, const int32_t *cutoff,
                        size_t max_rows, uint64_t seed, struct dataset *out,
                        struct fr_error *err);

#endif
