/*
 * metrics.c: MAE, RMSE, MAPE and R^2 (see metrics.h).
 *
 * MAPE divides by the actual value, so days with zero demand would make it
 * infinite; they are left out and the count of rows used is reported, as
 * forecasting tools usually do.
 */
#include "metrics.h"

#include <math.h>

void metrics_compute(const double *actual, const double *predicted, size_t n,
                     struct metrics *m)
{
    double abs_sum = 0.0, sq_sum = 0.0, pct_sum = 0.0, mean = 0.0, sst = 0.0;
    size_t pct_n = 0;

    for (size_t i = 0; i < n; i++)
        mean += actual[i];
    mean = n ? mean / n : 0.0;
    for (size_t i = 0; i < n; i++) {
        double e = predicted[i] - actual[i];
        abs_sum += fabs(e);
        sq_sum += e * e;
        sst += (actual[i] - mean) * (actual[i] - mean);
        if (fabs(actual[i]) > 1e-12) {
            pct_sum += fabs(e / actual[i]);
            pct_n++;
        }
    }
    m->n = n;
    m->mae = n ? abs_sum / n : NAN;
    m->rmse = n ? sqrt(sq_sum / n) : NAN;
    m->mape = pct_n ? 100.0 * pct_sum / pct_n : NAN;
    m->mape_rows = pct_n;
    m->r2 = sst > 0.0 ? 1.0 - sq_sum / sst : NAN;
}
