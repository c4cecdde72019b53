/*
 * metrics.h: regression metrics on a test split.
 */
#ifndef FR_METRICS_H
#define FR_METRICS_H

#include <stddef.h>

struct metrics {
    double mae;       /* mean absolute error */
    double rmse;      /* root mean squared error */
    double mape;      /* mean absolute percentage error in %, over rows
                         whose actual value is not zero; NaN if none */
    double r2;        /* 1 - SSE / SST; NaN when the actuals are constant */
    size_t n;         /* rows compared */
    size_t mape_rows; /* rows MAPE was computed over */
};

/* Compares predictions with actuals (n >= 1). Cannot fail. */
void metrics_compute(const double *actual, const double *predicted, size_t n,
                     struct metrics *m);

#endif
