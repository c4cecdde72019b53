/*
 * forecast.c: multi-day forecasts, direct or recursive as the model's spec
 * says, and their conformal intervals (forecast.h).
 */
#include "forecast.h"

#include <string.h>

size_t forecast_work_doubles(const struct model *m)
{
    return series_history(&m->series);
}

size_t forecast_work_floats(const struct model *m)
{
    return 2 * (size_t)m->forest->n_features;
}

void forecast_values(const struct model *m, const double *past,
                     int32_t first_day, const double *cov, size_t horizon,
                     double *work, float *fwork, double *values)
{
    forecast_values_rows(m, past, first_day, cov, horizon, work, fwork,
                         values, NULL);
}

void forecast_direct_rows(const struct model *m, const double *past,
                          int32_t first_day, const double *cov,
                          size_t horizon, float *rows)
{
    series_build_direct_rows(&m->series, past, first_day, (uint32_t)horizon,
                             cov, rows);
}

void forecast_values_rows(const struct model *m, const double *past,
                          int32_t first_day, const double *cov,
                          size_t horizon, double *work, float *fwork,
                          double *values, float *rows)
{
    const struct series_spec *s = &m->series;
    uint32_t h = series_history(s);
    size_t nf = m->forest->n_features;
    float *row_work = fwork + nf;

    if (s->strategy == SERIES_DIRECT) {
        /* Every day from the same known history: nothing feeds back. */
        for (size_t d = 0; d < horizon; d++) {
            float *row = rows != NULL ? rows + d * nf : fwork;
            series_build_direct_row(s, past, first_day, (uint32_t)(d + 1),
                                    cov + d * s->n_covariates, row);
            values[d] = model_predict_row(m, row, row_work);
        }
        return;
    }
    memcpy(work, past, h * sizeof *work);
    for (size_t d = 0; d < horizon; d++) {
        /* Without rows, each day's row is built in fwork. */
        float *row = rows != NULL ? rows + d * nf : fwork;
        series_build_row(s, work, first_day + (int32_t)d,
                         cov + d * s->n_covariates, row);
        values[d] = model_predict_row(m, row, row_work);
        /* The forecast becomes the newest past value of the next day. */
        memmove(work, work + 1, (h - 1) * sizeof *work);
        work[h - 1] = values[d];
    }
}

double forecast_scale_level(const struct model *m, const double *past)
{
    uint32_t h = series_history(&m->series), w = m->series.level_window;
    double sum = 0.0;

    if (w == 0 || w > h)
        return 1.0;
    for (uint32_t i = h - w; i < h; i++)
        sum += past[i];
    return sum / w > 1e-9 ? sum / w : 1e-9;
}

double forecast_row_level(const struct model *m, const float *row)
{
    double level;

    if (!model_relative(m))
        return 1.0;
    level = row[series_level_feature(&m->series)];
    return level > 1e-9 ? level : 1e-9;
}

int forecast_interval(const struct model *m, uint32_t horizon, double value,
                      double scale_level, double level, double *lower,
                      double *upper, int *calibrated, struct fr_error *err)
{
    double half;

    if (m->calibration.n_horizons == 0) {
        fr_error_set(err, "this model has no calibrated intervals: its file "
                     "is format %u, from a release before conformal "
                     "calibration; retrain it to get intervals",
                     m->format_version);
        return -1;
    }
    if (calibration_half_width(&m->calibration, horizon, level, &half,
                               calibrated, err) != 0)
        return -1;
    if (m->calibration.scale == CALIBRATION_RELATIVE)
        half *= scale_level > 1e-9 ? scale_level : 1e-9;
    *lower = value - half;
    *upper = value + half;
    return 0;
}
