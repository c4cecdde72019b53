/*
 * tabular.c: reading and writing feature tables (see tabular.h).
 */
#include "tabular.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "csvfile.h"

struct tab_reader {
    const char *path;
    const char *target;
    struct dataset *ds;
    long target_col;
    float *row;
};

static int tab_header(struct tab_reader *r, const struct csvfile_row *row,
                      struct fr_error *err)
{
    const char **names = NULL;
    size_t k = 0;
    int rc = -1;

    r->target_col = -1;
    for (size_t i = 0; i < row->n_fields; i++) {
        if (strcmp(row->fields[i], r->target) == 0)
            r->target_col = (long)i;
    }
    if (r->target_col < 0) {
        fr_error_set(err, "'%s' has no target column '%s'",
                     r->path, r->target);
        return -1;
    }
    if (row->n_fields < 2) {
        fr_error_set(err, "'%s' has no feature columns besides '%s'", r->path,
                     r->target);
        return -1;
    }
    names = calloc(row->n_fields, sizeof *names);
    r->row = calloc(row->n_fields, sizeof *r->row);
    if (names == NULL || r->row == NULL)
        goto nomem;
    for (size_t i = 0; i < row->n_fields; i++) {
        if ((long)i != r->target_col)
            names[k++] = row->fields[i];
    }
    if (dataset_init(r->ds, k, names, 1024, 0, err) != 0)
        goto out;
    rc = 0;
    goto out;
nomem:
    fr_error_set(err, "out of memory reading '%s'", r->path);
out:
    free(names);
    return rc;
}

static int tab_row(const struct csvfile_row *row, int is_header, void *ctx,
                   struct fr_error *err)
{
    struct tab_reader *r = ctx;
    double y = 0.0;
    size_t k = 0;

    if (is_header)
        return tab_header(r, row, err);
    for (size_t i = 0; i < row->n_fields; i++) {
        double v = row->values != NULL ? row->values[i] : NAN;
        if (isnan(v) && csvfile_number(row->fields[i], r->path, row->line,
                                       i + 1, row->header[i], &v, err) != 0)
            return -1;
        if ((long)i == r->target_col)
            y = v;
        else
            r->row[k++] = (float)v;
    }
    return dataset_push(r->ds, r->row, y, 0, 0, 0.0, err);
}

int tabular_read_csv(const char *path, const char *target,
                     struct dataset *out, struct fr_error *err)
{
    struct tab_reader r = {.path = path, .target = target, .ds = out};
    int rc = -1;

    memset(out, 0, sizeof *out);
    if (csvfile_read(path, tab_row, &r, err) < 0)
        goto out;
    rc = 0;
out:
    free(r.row);
    if (rc != 0)
        dataset_release(out);
    return rc;
}

static const struct dataset *order_ds; /* qsort has no context argument */

static int by_day_series(const void *a, const void *b)
{
    size_t i = *(const size_t *)a, j = *(const size_t *)b;

    if (order_ds->day[i] != order_ds->day[j])
        return order_ds->day[i] < order_ds->day[j] ? -1 : 1;
    if (order_ds->series[i] != order_ds->series[j])
        return order_ds->series[i] < order_ds->series[j] ? -1 : 1;
    return 0;
}

int tabular_write_csv(const struct dataset *ds, const char *path,
                      const char *target, struct fr_error *err)
{
    size_t *order = malloc((ds->n_rows ? ds->n_rows : 1) * sizeof *order);
    FILE *fp = NULL;
    int rc = -1;

    if (order == NULL) {
        fr_error_set(err, "out of memory writing '%s'", path);
        return -1;
    }
    for (size_t i = 0; i < ds->n_rows; i++)
        order[i] = i;
    if (ds->day != NULL) {
        order_ds = ds;
        qsort(order, ds->n_rows, sizeof *order, by_day_series);
        order_ds = NULL;
    }
    fp = csvfile_create(path, err);
    if (fp == NULL)
        goto out;
    for (size_t f = 0; f < ds->n_features; f++)
        fprintf(fp, "%s,", ds->feature_names[f]);
    fprintf(fp, "%s\n", target);
    for (size_t k = 0; k < ds->n_rows; k++) {
        const float *row = ds->X + order[k] * ds->n_features;
        for (size_t f = 0; f < ds->n_features; f++)
            fprintf(fp, "%.9g,", row[f]);
        fprintf(fp, "%.17g\n", ds->y[order[k]]);
    }
    rc = csvfile_finish(fp, path, err);
out:
    free(order);
    return rc;
}
