/*
 * report.c: report.svg, a self-contained picture of how the model did.
 *
 * Top: actual and predicted values over the test period. In series mode the
 * series are summed per day (total demand), which is what a planner looks
 * at; in tabular mode the last test rows are drawn in file order. Bottom:
 * feature importances as bars. Plain SVG text, no scripts or external
 * references, so any browser opens it from the volume.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "file.h"
#include "model.h"
#include "series.h"
#include "trainer.h"

#define W 960
#define PLOT_H 320
#define MARGIN 60
#define MAX_POINTS 1000

struct curve {
    size_t n;
    double *actual, *predicted;
    int dated;         /* series mode: points are days */
    int32_t first_day; /* the day of point 0, when dated */
};

/* Sums actual and predicted per day across series (series mode), or takes
 * the last MAX_POINTS rows (tabular). Returns 0 or -1 on no memory. */
static int make_curve(const struct dataset *test, const double *pred,
                      struct curve *c)
{
    memset(c, 0, sizeof *c);
    if (test->day != NULL) {
        int32_t lo = test->day[0], hi = test->day[0];
        for (size_t i = 1; i < test->n_rows; i++) {
            lo = test->day[i] < lo ? test->day[i] : lo;
            hi = test->day[i] > hi ? test->day[i] : hi;
        }
        c->n = (size_t)(hi - lo) + 1;
        if (c->n > 100000)
            c->n = 100000;
        c->actual = calloc(c->n, sizeof *c->actual);
        c->predicted = calloc(c->n, sizeof *c->predicted);
        if (c->actual == NULL || c->predicted == NULL)
            return -1;
        for (size_t i = 0; i < test->n_rows; i++) {
            size_t k = (size_t)(test->day[i] - lo);
            if (k >= c->n)
                continue;
            c->actual[k] += test->y[i];
            c->predicted[k] += pred[i];
        }
        c->first_day = lo;
        c->dated = 1;
        return 0;
    }
    c->n = test->n_rows < MAX_POINTS ? test->n_rows : MAX_POINTS;
    c->actual = malloc(c->n * sizeof *c->actual);
    c->predicted = malloc(c->n * sizeof *c->predicted);
    if (c->actual == NULL || c->predicted == NULL)
        return -1;
    memcpy(c->actual, test->y + (test->n_rows - c->n), c->n * sizeof(double));
    memcpy(c->predicted, pred + (test->n_rows - c->n), c->n * sizeof(double));
    return 0;
}

static void polyline(FILE *fp, const double *v, size_t n, double lo,
                     double hi, const char *colour)
{
    double span = hi > lo ? hi - lo : 1.0;

    fprintf(fp, "<polyline fill='none' stroke='%s' stroke-width='1.5' "
            "points='", colour);
    for (size_t i = 0; i < n; i++) {
        double x = MARGIN + (W - 2.0 * MARGIN) * (n > 1 ? (double)i / (n - 1)
                                                        : 0.5);
        double y = 40 + PLOT_H * (1.0 - (v[i] - lo) / span);
        fprintf(fp, "%.1f,%.1f ", x, y);
    }
    fprintf(fp, "'/>\n");
}

#define HZ_H 200 /* height of the error-by-horizon chart */

/* The backtest's MAE by days ahead for the forest and the two baselines,
 * in a box whose top is at y0. Returns 0, or -1 when memory runs out. */
static int horizon_chart(FILE *fp, const struct backtest *bt, int y0)
{
    static const char *const NAMES[3] = {"forest", "seasonal naive",
                                         "seasonal mean (4 weeks)"};
    static const char *const COLOURS[3] = {"#d95f02", "#7570b3", "#1b9e77"};
    size_t H = bt->horizon;
    double *mae = malloc(3 * H * sizeof *mae), hi = 0.0;

    if (mae == NULL)
        return -1;
    for (int w = 0; w < 3; w++) {
        backtest_mae(bt, w, mae + w * H);
        for (size_t h = 0; h < H; h++)
            hi = isfinite(mae[w * H + h]) ? fmax(hi, mae[w * H + h]) : hi;
    }
    fprintf(fp, "<text x='%d' y='%d' font-size='15'>Backtest: mean absolute "
            "error by days ahead (%zu origins)</text>\n", MARGIN, y0 - 10,
            bt->n_origins);
    fprintf(fp, "<rect x='%d' y='%d' width='%d' height='%d' fill='none' "
            "stroke='#ccc'/>\n", MARGIN, y0, W - 2 * MARGIN, HZ_H);
    for (int w = 0; w < 3; w++) {
        fprintf(fp, "<polyline fill='none' stroke='%s' stroke-width='2' "
                "points='", COLOURS[w]);
        for (size_t h = 0; h < H; h++) {
            double x = MARGIN + (W - 2.0 * MARGIN) *
                                    (H > 1 ? (double)h / (H - 1) : 0.5);
            double v = isfinite(mae[w * H + h]) ? mae[w * H + h] : 0.0;
            fprintf(fp, "%.1f,%.1f ", x,
                    y0 + HZ_H * (1.0 - (hi > 0 ? v / hi : 0.0)));
        }
        fprintf(fp, "'/>\n<text x='%d' y='%d'><tspan fill='%s'>&#9632; %s"
                "</tspan></text>\n", MARGIN + 230 * w, y0 + HZ_H + 36,
                COLOURS[w], NAMES[w]);
    }
    fprintf(fp, "<text x='6' y='%d'>%.1f</text><text x='6' y='%d'>0</text>"
            "<text x='%d' y='%d'>1 day</text><text x='%d' y='%d' "
            "text-anchor='end'>%zu days ahead</text>\n", y0 + 8, hi,
            y0 + HZ_H, MARGIN, y0 + HZ_H + 16, W - MARGIN, y0 + HZ_H + 16, H);
    free(mae);
    return 0;
}

static void escape(FILE *fp, const char *s)
{
    for (; *s; s++) {
        if (*s == '<')
            fputs("&lt;", fp);
        else if (*s == '>')
            fputs("&gt;", fp);
        else if (*s == '&')
            fputs("&amp;", fp);
        else if (*s == '\'')
            fputs("&apos;", fp);
        else
            fputc(*s, fp);
    }
}

int report_write(const char *path, const struct forest *f,
                 const struct run_info *info, struct fr_error *err)
{
    const struct evaluation *ev = info->eval;
    struct curve c;
    uint32_t *order = NULL;
    double lo = INFINITY, hi = -INFINITY, top;
    size_t bars = f->n_features < 20 ? f->n_features : 20;
    int height = 40 + PLOT_H + 90 + (int)bars * 22 + 30;
    int chart_y = height + 30;

    if (ev->has_backtest)
        height += 30 + HZ_H + 50;
    FILE *fp = NULL;
    char *text = NULL;
    size_t len = 0;
    int rc = -1;

    if (make_curve(info->test, ev->predicted, &c) != 0)
        goto nomem;
    order = malloc(f->n_features * sizeof *order);
    if (order == NULL)
        goto nomem;
    for (size_t i = 0; i < c.n; i++) {
        lo = fmin(lo, fmin(c.actual[i], c.predicted[i]));
        hi = fmax(hi, fmax(c.actual[i], c.predicted[i]));
    }
    /* Drawn in memory, then written durably like every file of a version. */
    fp = open_memstream(&text, &len);
    if (fp == NULL)
        goto nomem;
    fprintf(fp, "<svg xmlns='http://www.w3.org/2000/svg' width='%d' "
            "height='%d' font-family='sans-serif' font-size='13'>\n"
            "<rect width='100%%' height='100%%' fill='white'/>\n", W, height);
    fprintf(fp, "<text x='%d' y='24' font-size='16'>Model ", MARGIN);
    escape(fp, info->version);
    fprintf(fp, ": test RMSE %.3f, MAE %.3f, R&#178; %.3f (%s RMSE %.3f)"
            "</text>\n", ev->model.rmse, ev->model.mae, ev->model.r2,
            ev->baseline_name, ev->baseline.rmse);
    fprintf(fp, "<rect x='%d' y='40' width='%d' height='%d' fill='none' "
            "stroke='#ccc'/>\n", MARGIN, W - 2 * MARGIN, PLOT_H);
    if (c.n > 0) {
        polyline(fp, c.actual, c.n, lo, hi, "#333333");
        polyline(fp, c.predicted, c.n, lo, hi, "#d95f02");
        fprintf(fp, "<text x='6' y='48'>%.0f</text><text x='6' y='%d'>%.0f"
                "</text>\n", hi, 40 + PLOT_H, lo);
    }
    if (c.dated) {
        char d0[16], d1[16];
        series_format_date(c.first_day, d0);
        series_format_date(c.first_day + (int32_t)c.n - 1, d1);
        fprintf(fp, "<text x='%d' y='%d'>%s</text><text x='%d' y='%d' "
                "text-anchor='end'>%s</text>\n", MARGIN, 58 + PLOT_H, d0,
                W - MARGIN, 58 + PLOT_H, d1);
    }
    fprintf(fp, "<text x='%d' y='%d'><tspan fill='#333333'>&#9632; actual"
            "</tspan> <tspan fill='#d95f02'>&#9632; predicted</tspan> %s"
            "</text>\n", MARGIN, 78 + PLOT_H,
            c.dated ? "(all series summed per day)"
                             : "(last test rows)");
    /* Importance bars, largest first (selection sort: n is small). */
    for (uint32_t i = 0; i < f->n_features; i++)
        order[i] = i;
    for (size_t i = 0; i < bars; i++) {
        for (size_t j = i + 1; j < f->n_features; j++) {
            if (f->importances[order[j]] > f->importances[order[i]]) {
                uint32_t t = order[i];
                order[i] = order[j];
                order[j] = t;
            }
        }
    }
    top = bars ? f->importances[order[0]] : 0.0;
    fprintf(fp, "<text x='%d' y='%d' font-size='15'>Feature importance "
            "(mean decrease in squared error)</text>\n", MARGIN,
            110 + PLOT_H);
    for (size_t i = 0; i < bars; i++) {
        double v = f->importances[order[i]];
        int y = 40 + PLOT_H + 90 + (int)i * 22;
        fprintf(fp, "<text x='%d' y='%d' text-anchor='end'>", MARGIN + 130,
                y + 13);
        escape(fp, f->feature_names[order[i]]);
        fprintf(fp, "</text><rect x='%d' y='%d' width='%.1f' height='16' "
                "fill='#1b9e77'/><text x='%.1f' y='%d'>%.3f</text>\n",
                MARGIN + 140, y, top > 0 ? 600.0 * v / top : 0.0,
                MARGIN + 146 + (top > 0 ? 600.0 * v / top : 0.0), y + 13, v);
    }
    if (ev->has_backtest && horizon_chart(fp, &ev->bt, chart_y) != 0)
        goto nomem;
    fprintf(fp, "</svg>\n");
    if (ferror(fp) | (fclose(fp) != 0)) {
        fp = NULL;
        goto nomem;
    }
    fp = NULL;
    rc = file_write_atomic(path, text, len, err);
    goto out;
nomem:
    fr_error_set(err, "out of memory drawing the report");
out:
    if (fp != NULL)
        fclose(fp);
    free(text);
    free(order);
    free(c.actual);
    free(c.predicted);
    return rc;
}
