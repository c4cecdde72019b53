/*
 * forecast.h: multi-day forecasts of one series, the single code path of
 * the server's /forecast and the trainer's backtest, so what the backtest
 * measured is what users get.
 *
 * A direct model (format 3) predicts day d from its own row,
 * series_build_direct_row of the known history with horizon d; a
 * recursive one (formats 1 and 2) builds day d's row by series_build_row
 * from the history with days 1..d-1 filled by their own forecasts. Either
 * way a row is predicted by model_predict_row (trees on rows relative to
 * the level, the level added back).
 */
#ifndef FR_FORECAST_H
#define FR_FORECAST_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "model.h"

/* Scratch forecast_values needs: doubles and floats. */
size_t forecast_work_doubles(const struct model *m);
size_t forecast_work_floats(const struct model *m);

/* Forecasts `horizon` days of a series model, the first on first_day.
 * past holds series_history() values, oldest first (past[H-1] is the day
 * before first_day); cov holds horizon x n_covariates values. work and
 * fwork hold forecast_work_doubles() and forecast_work_floats(). Writes
 * horizon values. Cannot fail. */
void forecast_values(const struct model *m, const double *past,
                     int32_t first_day, const double *cov, size_t horizon,
                     double *work, float *fwork, double *values);

/* forecast_values that also keeps each day's feature row, the row its
 * forecast was predicted from, in rows (horizon x n_features floats),
 * for an explanation of each day. Computes the same values. */
void forecast_values_rows(const struct model *m, const double *past,
                          int32_t first_day, const double *cov,
                          size_t horizon, double *work, float *fwork,
                          double *values, float *rows);

/* The rows a direct model (SERIES_DIRECT) predicts its `horizon` days
 * from, into rows (horizon x n_features floats): the rows
 * forecast_values predicts one at a time, for a caller that predicts many
 * origins' rows at once with model_predict (tree by tree, the same sums:
 * the trainer's backtest). past, first_day and cov as forecast_values.
 * Cannot fail. */
void forecast_direct_rows(const struct model *m, const double *past,
                          int32_t first_day, const double *cov,
                          size_t horizon, float *rows);

/* The level a relative calibration scales by: the mean of the last
 * level_window values of past (observed days only), at least 1e-9 so a
 * series of zeros still gets a finite interval. */
double forecast_scale_level(const struct model *m, const double *past);

/* The level a relative calibration scales a /predict row's interval by:
 * the row's own level feature (roll_mean over the level window) for a
 * series model whose trees see rows relative to it, else 1. */
double forecast_row_level(const struct model *m, const float *row);

/* The conformal interval around value for the given horizon (1 = the next
 * day) at confidence `level` (0.5..0.99); scale_level is
 * forecast_scale_level's (or, for /predict, the row's level feature) and
 * matters only for relative calibration. Sets *calibrated to 0 beyond the
 * calibrated horizons. Returns 0, or -1 with err set: the model has no
 * calibration (a format-1 file), too few scores for that level. */
int forecast_interval(const struct model *m, uint32_t horizon, double value,
                      double scale_level, double level, double *lower,
                      double *upper, int *calibrated, struct fr_error *err);

#endif
