/*
 * tabular.h: feature tables as CSV (DATA_MODE=tabular).
 *
 * Every column but the target is a numeric feature, used as is, in file
 * order; rows stay in file order, which is taken to be time order.
 */
#ifndef FR_TABULAR_H
#define FR_TABULAR_H

#include "dataset.h"
#include "error.h"

/* Reads path into out. Returns 0, or -1 with err naming file, line and
 * column (missing target column, no feature column, wrong column count,
 * non-numeric or non-finite cell, no data rows). */
int tabular_read_csv(const char *path, const char *target,
                     struct dataset *out, struct fr_error *err);

/* Writes ds as CSV to path ("-": standard output): the features then the
 * target column. In series mode
 * the rows are written ordered by day, then series, so the last part of
 * the file is the last part of time. Returns 0 or -1 with err set. */
int tabular_write_csv(const struct dataset *ds, const char *path,
                      const char *target, struct fr_error *err);

#endif
