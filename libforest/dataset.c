/*
 * dataset.c: growth, splitting and release of in-memory tables.
 *
 * Rows are appended with amortised doubling; every size is checked for
 * overflow before it is multiplied, since row counts come from user files.
 */
#include "dataset.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static void *grow(void *p, size_t count, size_t size)
{
    if (count != 0 && size > SIZE_MAX / count)
        return NULL;
    return realloc(p, count * size == 0 ? 1 : count * size);
}

int dataset_reserve(struct dataset *ds, size_t rows, struct fr_error *err)
{
    size_t cap = ds->capacity ? ds->capacity : 64;
    void *p;

    if (rows <= ds->capacity)
        return 0;
    while (cap < rows) {
        if (cap > SIZE_MAX / 2)
            goto nomem;
        cap *= 2;
    }
    if (ds->n_features != 0 && cap > SIZE_MAX / ds->n_features)
        goto nomem;
    p = grow(ds->X, cap * ds->n_features, sizeof *ds->X);
    if (p == NULL)
        goto nomem;
    ds->X = p;
    p = grow(ds->y, cap, sizeof *ds->y);
    if (p == NULL)
        goto nomem;
    ds->y = p;
    if (ds->series != NULL) {
        p = grow(ds->series, cap, sizeof *ds->series);
        if (p == NULL)
            goto nomem;
        ds->series = p;
        p = grow(ds->day, cap, sizeof *ds->day);
        if (p == NULL)
            goto nomem;
        ds->day = p;
        p = grow(ds->baseline, cap, sizeof *ds->baseline);
        if (p == NULL)
            goto nomem;
        ds->baseline = p;
    }
    ds->capacity = cap;
    return 0;
nomem:
    fr_error_set(err, "out of memory for %zu rows of %zu features", rows,
                 ds->n_features);
    return -1;
}

int dataset_init(struct dataset *ds, size_t n_features,
                 const char *const *feature_names, size_t capacity,
                 int with_series, struct fr_error *err)
{
    memset(ds, 0, sizeof *ds);
    ds->n_features = n_features;
    ds->feature_names = calloc(n_features ? n_features : 1, sizeof(char *));
    if (ds->feature_names == NULL)
        goto nomem;
    for (size_t i = 0; i < n_features; i++) {
        ds->feature_names[i] = strdup(feature_names[i]);
        if (ds->feature_names[i] == NULL)
            goto nomem;
    }
    if (with_series) {
        ds->series = malloc(sizeof *ds->series);
        ds->day = malloc(sizeof *ds->day);
        ds->baseline = malloc(sizeof *ds->baseline);
        if (ds->series == NULL || ds->day == NULL || ds->baseline == NULL)
            goto nomem;
    }
    if (dataset_reserve(ds, capacity, err) != 0)
        goto fail;
    return 0;
nomem:
    fr_error_set(err, "out of memory for a table of %zu features", n_features);
fail:
    dataset_release(ds);
    return -1;
}

int dataset_push(struct dataset *ds, const float *row, double y,
                 int32_t series, int32_t day, double baseline,
                 struct fr_error *err)
{
    if (ds->n_rows == ds->capacity &&
        dataset_reserve(ds, ds->n_rows + 1, err) != 0)
        return -1;
    memcpy(ds->X + ds->n_rows * ds->n_features, row,
           ds->n_features * sizeof *row);
    ds->y[ds->n_rows] = y;
    if (ds->series != NULL) {
        ds->series[ds->n_rows] = series;
        ds->day[ds->n_rows] = day;
        ds->baseline[ds->n_rows] = baseline;
    }
    ds->n_rows++;
    return 0;
}

void dataset_release(struct dataset *ds)
{
    if (ds->feature_names != NULL) {
        for (size_t i = 0; i < ds->n_features; i++)
            free(ds->feature_names[i]);
    }
    if (ds->series_names != NULL) {
        for (size_t i = 0; i < ds->n_series; i++)
            free(ds->series_names[i]);
    }
    free(ds->feature_names);
    free(ds->series_names);
    free(ds->X);
    free(ds->y);
    free(ds->series);
    free(ds->day);
    free(ds->baseline);
    memset(ds, 0, sizeof *ds);
}

static int push_from(struct dataset *dst, const struct dataset *src, size_t i,
                     struct fr_error *err)
{
    const float *row = src->X + i * src->n_features;

    if (src->series != NULL)
        return dataset_push(dst, row, src->y[i], src->series[i], src->day[i],
                            src->baseline[i], err);
    return dataset_push(dst, row, src->y[i], 0, 0, 0.0, err);
}

/* Number of test rows out of n: the last ceil(n * fraction), but always
 * leaving at least one training row when n >= 2. */
static size_t test_rows(size_t n, double fraction)
{
    /* ceil, forgiving the rounding of n * fraction (10 * 0.2 is 2, not 3) */
    size_t t = (size_t)ceil((double)n * fraction - 1e-9);

    if (t >= n)
        t = n > 1 ? n - 1 : 0;
    return t;
}

int dataset_split(const struct dataset *ds, double test_fraction,
                  struct dataset *train, struct dataset *test,
                  struct fr_error *err)
{
    int with_series = ds->series != NULL;
    size_t *per_series = NULL;
    size_t *seen = NULL;
    int rc = -1;

    memset(train, 0, sizeof *train);
    memset(test, 0, sizeof *test);
    if (dataset_init(train, ds->n_features,
                     (const char *const *)ds->feature_names, ds->n_rows,
                     with_series, err) != 0)
        goto out;
    if (dataset_init(test, ds->n_features,
                     (const char *const *)ds->feature_names,
                     (size_t)((double)ds->n_rows * test_fraction) + 1,
                     with_series, err) != 0)
        goto out;
    if (!with_series) {
        size_t n_test = test_rows(ds->n_rows, test_fraction);
        for (size_t i = 0; i < ds->n_rows; i++) {
            struct dataset *dst = i < ds->n_rows - n_test ? train : test;
            if (push_from(dst, ds, i, err) != 0)
                goto out;
        }
    } else {
        size_t ns = ds->n_series ? ds->n_series : 1;
        per_series = calloc(ns, sizeof *per_series);
        seen = calloc(ns, sizeof *seen);
        if (per_series == NULL || seen == NULL) {
            fr_error_set(err, "out of memory splitting %zu series", ns);
            goto out;
        }
        for (size_t i = 0; i < ds->n_rows; i++)
            per_series[ds->series[i]]++;
        for (size_t i = 0; i < ds->n_rows; i++) {
            size_t s = (size_t)ds->series[i];
            size_t n_test = test_rows(per_series[s], test_fraction);
            struct dataset *dst =
                seen[s] < per_series[s] - n_test ? train : test;
            seen[s]++;
            if (push_from(dst, ds, i, err) != 0)
                goto out;
        }
        train->n_series = test->n_series = ds->n_series;
    }
    if (train->n_rows == 0 || test->n_rows == 0) {
        fr_error_set(err,
                     "too few rows to split: %zu rows give %zu for training "
                     "and %zu for testing at a test fraction of %g",
                     ds->n_rows, train->n_rows, test->n_rows, test_fraction);
        goto out;
    }
    rc = 0;
out:
    free(per_series);
    free(seen);
    if (rc != 0) {
        dataset_release(train);
        dataset_release(test);
    }
    return rc;
}

int dataset_split_take(struct dataset *ds, double test_fraction,
                       struct dataset *train, struct dataset *test,
                       struct fr_error *err)
{
    size_t n_test, n_train;
    int rc = -1;

    memset(train, 0, sizeof *train);
    memset(test, 0, sizeof *test);
    n_test = test_rows(ds->n_rows, test_fraction);
    n_train = ds->n_rows - n_test;
    /* Series mode interleaves the two parts, and a split that leaves
     * either part empty fails with dataset_split's message: both go the
     * copying way. */
    if (ds->series != NULL || n_train == 0 || n_test == 0) {
        rc = dataset_split(ds, test_fraction, train, test, err);
        goto out;
    }
    if (dataset_init(test, ds->n_features,
                     (const char *const *)ds->feature_names, n_test, 0,
                     err) != 0)
        goto out;
    for (size_t i = n_train; i < ds->n_rows; i++) {
        if (push_from(test, ds, i, err) != 0) {
            dataset_release(test);
            goto out;
        }
    }
    /* The training rows are the table's first rows, where they are. */
    *train = *ds;
    memset(ds, 0, sizeof *ds);
    train->n_rows = n_train;
    {
        /* Hand back the test rows' pages. A failed shrink keeps the larger
         * block, which holds n_train rows all the same. */
        float *x = realloc(train->X, n_train * train->n_features *
                                         sizeof *train->X);
        double *y = realloc(train->y, n_train * sizeof *train->y);
        if (x != NULL)
            train->X = x;
        if (y != NULL)
            train->y = y;
        train->capacity = n_train;
    }
    rc = 0;
out:
    dataset_release(ds);
    return rc;
}
