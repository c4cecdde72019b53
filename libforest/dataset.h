/*
 * dataset.h: a supervised table (features and target) held in memory.
 *
 * X is row-major float32, as scikit-learn stores it for trees, so a row is
 * one contiguous run of n_features floats that prediction reads in one go.
 * Targets are double. In series mode each row also remembers its series and
 * day and the seasonal-naive forecast y[t-7], so evaluation can compare the
 * model against that baseline and the report can draw the test period.
 */
#ifndef FR_DATASET_H
#define FR_DATASET_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"

struct dataset {
    size_t n_rows;        /* rows, >= 0 */
    size_t n_features;    /* columns of X, >= 1 */
    size_t capacity;      /* rows allocated for X, y and the per-row arrays */
    float *X;             /* n_rows x n_features, row-major */
    double *y;            /* n_rows targets */
    char **feature_names; /* n_features owned strings */
    /* Series mode only (all NULL in tabular mode): */
    int32_t *series;      /* series number of each row, 0-based */
    int32_t *day;         /* days since 1970-01-01 of each row */
    double *baseline;     /* seasonal-naive forecast of each row */
    size_t n_series;      /* distinct series numbers */
    char **series_names;  /* n_series owned strings, or NULL */
};

/* Prepares an empty table with the given feature names (copied) and room
 * for `capacity` rows; with_series adds the series-mode arrays. Returns 0,
 * or -1 with err set when memory runs out or the sizes overflow. On failure
 * the table is released. */
int dataset_init(struct dataset *ds, size_t n_features,
                 const char *const *feature_names, size_t capacity,
                 int with_series, struct fr_error *err);

/* Makes room for at least `rows` rows. Returns 0 or -1 with err set. */
int dataset_reserve(struct dataset *ds, size_t rows, struct fr_error *err);

/* Appends one row (row has n_features values). Series fields are ignored in
 * tabular mode. Returns 0 or -1 with err set when memory runs out. */
int dataset_push(struct dataset *ds, const float *row, double y,
                 int32_t series, int32_t day, double baseline,
                 struct fr_error *err);

/* Frees what the table owns and zeroes it; safe on a zeroed table. */
void dataset_release(struct dataset *ds);

/* Splits time-ordered rows into train and test without shuffling: in
 * series mode the last test_fraction of each series' rows (rows of one
 * series must be in date order), otherwise the last test_fraction of the
 * table. Both parts keep at least one row. Returns 0, or -1 with err set
 * when either part would be empty or memory runs out; on failure both
 * outputs are released. */
int dataset_split(const struct dataset *ds, double test_fraction,
                  struct dataset *train, struct dataset *test,
                  struct fr_error *err);

/* dataset_split() for a caller that needs the table no more: in tabular
 * mode train takes ds's rows where they are and only the test rows are
 * copied, so the peak is the table plus its test part rather than twice
 * the table (at 1M rows of 19 features, 101 MB instead of 168 MB). The
 * same parts and errors as dataset_split(); ds is released either way. */
int dataset_split_take(struct dataset *ds, double test_fraction,
                       struct dataset *train, struct dataset *test,
                       struct fr_error *err);

#endif
