/*
 * backtest.c: rolling-origin evaluation of a series model over the
 * held-out days (see trainer.h).
 *
 * Every held-out day of every series is an origin: the model forecasts the
 * next FORECAST_HORIZON days from the actual history before it, through
 * forecast_values(), the code path of the server's /forecast (a direct
 * model's rows from forecast_direct_rows, many origins' predicted at once:
 * the same values, see BT_BATCH). A single
 * split's one-day-ahead error says how good tomorrow's forecast is; users
 * ask for two weeks, and errors grow with the horizon, so every horizon is
 * scored on its own, against two classical baselines at the same points.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "forecast.h"
#include "parallel.h"
#include "trainer.h"

/* The days before record i of a series starting at record `start` are
 * complete for `need` days back. */
static int history_complete(const struct series_data *raw, size_t start,
                            size_t i, uint32_t need)
{
    return i >= start + need &&
           raw->day[i - need] == raw->day[i] - (int32_t)need;
}

/* Origins a worker forecasts together from a direct model: their rows
 * (up to BT_BATCH x horizon) go through the forest tree by tree
 * (model_predict), which walks 16 rows down a tree at once and keeps the
 * tree in cache for all of them, where one origin's forecast_values walks
 * each row through all the trees in turn, waiting on every node's load
 * (the backtests were a tenth of make run's training CPU). Each row's sum
 * is the same trees' values added in the same order, so the forecasts are
 * the same doubles. A recursive model's days feed each other: it keeps
 * forecast_values. */
#define BT_BATCH 128

/* A worker's scratch. */
struct bt_work {
    double *work;
    float *fwork;
    double *values;   /* BT_BATCH x horizon forecasts */
    float *rows;      /* direct: BT_BATCH x horizon feature rows */
    size_t *origin;   /* direct: the batch's origins (record indices) */
    size_t *nd;       /* and the days forecast from each */
};

/* The per-series job: one series' origins, into its own slice of points. */
struct bt_job {
    const struct model *m;
    const struct series_data *raw;
    const size_t *start;        /* n_series + 1 record offsets */
    const int32_t *cutoff;
    const int32_t *until;       /* NULL, or each series' end of origins */
    size_t horizon;
    struct bt_point *points;    /* slots, per series from slot[s] */
    const size_t *slot;
    size_t *filled;             /* points written per series */
    struct bt_work *w;          /* per worker */
};

/* The points of series s's origin at record i: nd days forecast as
 * values, with the baselines at the same days, from points[*at] on.
 * Cannot fail. */
static void bt_points(const struct bt_job *j, size_t s, size_t i, size_t nd,
                      const double *values, size_t *at)
{
    const struct series_data *raw = j->raw;
    uint32_t hist = series_history(&j->m->series);
    double level = forecast_scale_level(j->m, raw->y + (i - hist));

    for (size_t d = 0; d < nd; d++) {
        struct bt_point *p = &j->points[(*at)++];
        double smean = 0.0;
        for (size_t k = 1; k <= 4; k++)
            smean += raw->y[i + d % SERIES_SEASON - SERIES_SEASON * k];
        p->series = (uint32_t)s;
        p->h = (uint32_t)(d + 1);
        p->origin = raw->day[i];
        p->actual = raw->y[i + d];
        p->forest = values[d];
        /* Last week repeated: the same weekday before the origin. */
        p->naive = raw->y[i + d % SERIES_SEASON - SERIES_SEASON];
        p->smean = smean / 4.0;
        p->scale_level = level;
    }
}

/* Forecasts the n origins batched in w (direct, n_rows rows in all) and
 * writes their points in origin order. Cannot fail. */
static void bt_flush(const struct bt_job *j, struct bt_work *w, size_t s,
                     size_t n, size_t n_rows, size_t *at)
{
    size_t off = 0;

    /* One thread: the backtest already runs a series per worker. The rows
     * are their own relative work rows (model_predict allows it). */
    model_predict(j->m, w->rows, n_rows, 1, w->rows, w->values);
    for (size_t b = 0; b < n; b++) {
        bt_points(j, s, w->origin[b], w->nd[b], w->values + off, at);
        off += w->nd[b];
    }
}

static int backtest_series(void *ctx, size_t worker, size_t s)
{
    struct bt_job *j = ctx;
    struct bt_work *w = &j->w[worker];
    const struct series_data *raw = j->raw;
    const struct model *m = j->m;
    size_t start = j->start[s], end = j->start[s + 1];
    size_t nc = raw->n_covariates, at = j->slot[s];
    size_t nf = m->forest->n_features, batched = 0, batched_rows = 0;
    uint32_t hist = series_history(&m->series);
    uint32_t need = hist > 4 * SERIES_SEASON ? hist : 4 * SERIES_SEASON;
    int direct = m->series.strategy == SERIES_DIRECT;

    for (size_t i = start; i < end; i++) {
        size_t nd = 0;

        if (raw->day[i] < j->cutoff[s] ||
            (j->until != NULL && raw->day[i] >= j->until[s]) ||
            !history_complete(raw, start, i, need))
            continue;
        while (nd < j->horizon && i + nd < end &&
               raw->day[i + nd] == raw->day[i] + (int32_t)nd)
            nd++;
        if (!direct) {
            forecast_values(m, raw->y + (i - hist), raw->day[i],
                            raw->cov + i * nc, nd, w->work, w->fwork,
                            w->values);
            bt_points(j, s, i, nd, w->values, &at);
            continue;
        }
        forecast_direct_rows(m, raw->y + (i - hist), raw->day[i],
                             raw->cov + i * nc, nd,
                             w->rows + batched_rows * nf);
        w->origin[batched] = i;
        w->nd[batched] = nd;
        batched++;
        batched_rows += nd;
        if (batched == BT_BATCH) {
            bt_flush(j, w, s, batched, batched_rows, &at);
            batched = batched_rows = 0;
        }
    }
    if (batched > 0)
        bt_flush(j, w, s, batched, batched_rows, &at);
    j->filled[s] = at - j->slot[s];
    return 0;
}

int backtest_run(const struct model *m, const struct series_data *raw,
                 const int32_t *cutoff, const int32_t *until, size_t horizon,
                 size_t n_threads, struct backtest *bt, struct fr_error *err)
{
    size_t ns = raw->n_series, workers = parallel_threads(n_threads);
    size_t *start = NULL, *slot = NULL, *filled = NULL, total = 0, k = 0;
    struct bt_job j = {0};
    double scale = 0.0;
    size_t scale_n = 0;
    int rc = -1;

    memset(bt, 0, sizeof *bt);
    bt->horizon = horizon;
    start = calloc(ns + 1, sizeof *start);
    slot = calloc(ns + 1, sizeof *slot);
    filled = calloc(ns ? ns : 1, sizeof *filled);
    j.w = calloc(workers, sizeof *j.w);
    if (!start || !slot || !filled || !j.w)
        goto nomem;
    /* Records are sorted by (series, day): series s is one run. */
    for (size_t i = 0; i < raw->n; i++)
        start[raw->series[i] + 1]++;
    for (size_t s = 0; s < ns; s++)
        start[s + 1] += start[s];
    /* Upper bound of each series' points: its held-out records x horizon;
     * the MASE scale from its training days. */
    for (size_t s = 0; s < ns; s++) {
        size_t held = 0;
        for (size_t i = start[s]; i < start[s + 1]; i++) {
            if (raw->day[i] >= cutoff[s]) {
                held += until == NULL || raw->day[i] < until[s];
            } else if (history_complete(raw, start[s], i, SERIES_SEASON)) {
                scale += fabs(raw->y[i] - raw->y[i - SERIES_SEASON]);
                scale_n++;
            }
        }
        slot[s] = total;
        if (held > (SIZE_MAX / sizeof(struct bt_point) - total) / horizon)
            goto nomem;
        total += held * horizon;
    }
    bt->mase_scale = scale_n ? scale / scale_n : NAN;
    bt->points = malloc((total ? total : 1) * sizeof *bt->points);
    if (bt->points == NULL)
        goto nomem;
    /* A batch's rows: BT_BATCH x horizon x n_features floats. */
    if (horizon > 0 &&
        (horizon > SIZE_MAX / BT_BATCH / sizeof(double) ||
         m->forest->n_features >
             SIZE_MAX / sizeof(float) / (BT_BATCH * horizon)))
        goto nomem;
    for (size_t w = 0; w < workers; w++) {
        struct bt_work *bw = &j.w[w];
        bw->work = malloc(forecast_work_doubles(m) * sizeof(double));
        bw->fwork = malloc(forecast_work_floats(m) * sizeof(float));
        bw->values = malloc(BT_BATCH * horizon * sizeof(double));
        bw->rows = malloc(BT_BATCH * horizon * m->forest->n_features *
                          sizeof(float));
        bw->origin = malloc(BT_BATCH * sizeof *bw->origin);
        bw->nd = malloc(BT_BATCH * sizeof *bw->nd);
        if (!bw->work || !bw->fwork || !bw->values || !bw->rows ||
            !bw->origin || !bw->nd)
            goto nomem;
    }
    j.m = m;
    j.raw = raw;
    j.start = start;
    j.cutoff = cutoff;
    j.until = until;
    j.horizon = horizon;
    j.points = bt->points;
    j.slot = slot;
    j.filled = filled;
    parallel_for(workers, ns, backtest_series, &j);
    /* Compact the slices in series order: the same points in the same
     * order for any thread count. */
    for (size_t s = 0; s < ns; s++) {
        memmove(bt->points + k, bt->points + slot[s],
                filled[s] * sizeof *bt->points);
        k += filled[s];
    }
    bt->n_points = k;
    bt->first_day = INT32_MAX;
    bt->last_day = INT32_MIN;
    for (size_t i = 0; i < k; i++) {
        const struct bt_point *p = &bt->points[i];
        int32_t day = p->origin + (int32_t)p->h - 1;
        bt->n_origins += p->h == 1;
        bt->first_day = day < bt->first_day ? day : bt->first_day;
        bt->last_day = day > bt->last_day ? day : bt->last_day;
    }
    if (k == 0) {
        fr_error_set(err, "no held-out day has the %u days of history a "
                     "forecast needs: give longer series or a larger "
                     "TEST_FRACTION", series_history(&m->series));
        goto out;
    }
    rc = 0;
    goto out;
nomem:
    fr_error_set(err, "out of memory for the backtest");
out:
    for (size_t w = 0; j.w != NULL && w < workers; w++) {
        free(j.w[w].work);
        free(j.w[w].fwork);
        free(j.w[w].values);
        free(j.w[w].rows);
        free(j.w[w].origin);
        free(j.w[w].nd);
    }
    free(j.w);
    free(start);
    free(slot);
    free(filled);
    if (rc != 0)
        backtest_release(bt);
    return rc;
}

/* Mean absolute error per horizon of one forecaster (0 forest, 1 seasonal
 * naive, 2 seasonal mean) into mae[H]; returns the mean over horizons. */
double backtest_mae(const struct backtest *bt, int which, double *mae)
{
    size_t H = bt->horizon, horizons = 0;
    double mean = 0.0;

    for (size_t h = 0; h < H; h++) {
        double sum = 0.0;
        size_t k = 0;
        for (size_t i = 0; i < bt->n_points; i++) {
            const struct bt_point *p = &bt->points[i];
            double f = which == 0 ? p->forest : which == 1 ? p->naive
                                                           : p->smean;
            if (p->h != h + 1)
                continue;
            sum += fabs(p->actual - f);
            k++;
        }
        mae[h] = k ? sum / k : NAN;
        if (k) {
            mean += mae[h];
            horizons++;
        }
    }
    return horizons ? mean / horizons : NAN;
}

void backtest_release(struct backtest *bt)
{
    free(bt->points);
    memset(bt, 0, sizeof *bt);
}
