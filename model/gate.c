/*
 * gate.c: the champion/challenger promotion gate (see trainer.h and the
 * README, "The promotion gate").
 *
 * A new model (the challenger) replaces the current one (the champion)
 * only if, scored on the same rows, rows neither of them learned, its
 * error is at most the champion's x (1 + PROMOTE_MAX_REGRESSION). Each
 * model builds its own features from the same raw rows: a champion with
 * other lags still forecasts the same days. Comparing the new model's
 * error on today's data with the champion's error on an older window
 * would refuse every model of a growing series forever, since errors grow
 * with the level.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store.h"
#include "trainer.h"

/* The champion can forecast from this data: the same covariates, in the
 * same order, since forecast_values reads the data's covariate columns.
 * Returns 1, or 0 with why in reason. */
static int series_compatible(const struct model *champ,
                             const struct series_data *raw, char *reason,
                             size_t len)
{
    if (!champ->has_series) {
        snprintf(reason, len, "it is a tabular model");
        return 0;
    }
    if (champ->series.n_covariates != raw->n_covariates) {
        snprintf(reason, len, "it uses %u covariates, the data has %zu",
                 champ->series.n_covariates, raw->n_covariates);
        return 0;
    }
    for (size_t i = 0; i < raw->n_covariates; i++) {
        if (strcmp(champ->series.covariates[i], raw->covariate_names[i])) {
            snprintf(reason, len, "its covariate %zu is '%s', the data's "
                     "is '%s'", i + 1, champ->series.covariates[i],
                     raw->covariate_names[i]);
            return 0;
        }
    }
    return 1;
}

static int tabular_compatible(const struct model *champ,
                              const struct dataset *test, char *reason,
                              size_t len)
{
    if (champ->has_series) {
        snprintf(reason, len, "it is a series model");
        return 0;
    }
    if (champ->forest->n_features != test->n_features) {
        snprintf(reason, len, "it has %u features, the data %zu",
                 champ->forest->n_features, test->n_features);
        return 0;
    }
    for (size_t i = 0; i < test->n_features; i++) {
        if (strcmp(champ->forest->feature_names[i], test->feature_names[i])) {
            snprintf(reason, len, "its feature %zu is '%s', the data's is "
                     "'%s'", i + 1, champ->forest->feature_names[i],
                     test->feature_names[i]);
            return 0;
        }
    }
    return 1;
}

/* Scores both models on the backtest points both forecast whose day is
 * after last_day: the mean over horizons of each horizon's MAE, and the
 * RMSE over all those points. Points are in (series, origin, horizon)
 * order in both backtests. */
static void score_series(const struct backtest *chal,
                         const struct backtest *champ, int32_t last_day,
                         struct gate *g)
{
    size_t H = chal->horizon, i = 0, j = 0;
    double *abs_c = calloc(2 * H, sizeof(double));
    size_t *n = calloc(H, sizeof(size_t));
    double sq_c = 0.0, sq_p = 0.0, mae_c = 0.0, mae_p = 0.0;
    size_t pairs = 0, horizons = 0;

    g->rows = 0;
    if (abs_c == NULL || n == NULL) {
        free(abs_c);
        free(n);
        g->challenger_score = g->champion_score = NAN;
        return;
    }
    while (i < chal->n_points && j < champ->n_points) {
        const struct bt_point *a = &chal->points[i], *b = &champ->points[j];
        int cmp = a->series != b->series ? (a->series < b->series ? -1 : 1)
                  : a->origin != b->origin ? (a->origin < b->origin ? -1 : 1)
                  : a->h != b->h ? (a->h < b->h ? -1 : 1) : 0;
        if (cmp < 0) {
            i++;
            continue;
        }
        if (cmp > 0) {
            j++;
            continue;
        }
        if (a->origin + (int32_t)a->h - 1 > last_day) {
            abs_c[a->h - 1] += fabs(a->actual - a->forest);
            abs_c[H + a->h - 1] += fabs(b->actual - b->forest);
            n[a->h - 1]++;
            sq_c += (a->actual - a->forest) * (a->actual - a->forest);
            sq_p += (b->actual - b->forest) * (b->actual - b->forest);
            pairs++;
            g->rows += a->h == 1; /* each day is horizon 1 once */
        }
        i++;
        j++;
    }
    for (size_t h = 0; h < H; h++) {
        if (n[h] == 0)
            continue;
        mae_c += abs_c[h] / n[h];
        mae_p += abs_c[H + h] / n[h];
        horizons++;
    }
    g->challenger_score = horizons ? mae_c / horizons : NAN;
    g->champion_score = horizons ? mae_p / horizons : NAN;
    g->challenger_rmse = pairs ? sqrt(sq_c / pairs) : NAN;
    g->champion_rmse = pairs ? sqrt(sq_p / pairs) : NAN;
    free(abs_c);
    free(n);
}

static void score_tabular(const struct model *champ,
                          const struct gate_data *gd, struct gate *g,
                          struct fr_error *err)
{
    const struct dataset *t = gd->test;
    double *pred = malloc((t->n_rows ? t->n_rows : 1) * sizeof *pred);
    struct metrics mc, mp;

    if (pred == NULL) {
        fr_error_set(err, "out of memory scoring the current version");
        g->champion_score = NAN;
        return;
    }
    model_predict(champ, t->X, t->n_rows, 0, NULL, pred);
    metrics_compute(t->y, pred, t->n_rows, &mp);
    metrics_compute(t->y, gd->test_pred, t->n_rows, &mc);
    free(pred);
    g->rows = t->n_rows;
    g->champion_score = g->champion_rmse = mp.rmse;
    g->challenger_score = g->challenger_rmse = mc.rmse;
}

int gate_decide(const struct train_settings *s, const char *current,
                const struct gate_data *gd, struct gate *g,
                struct fr_error *err)
{
    char path[PATH_MAX];
    struct model *champ = NULL;
    struct backtest bt = {0};
    struct fr_error why = {{0}};
    int32_t last_day = 0;
    int rc = -1, found;
    size_t min_rows = s->gate_min_rows ? s->gate_min_rows
                      : gd->series_mode ? 7 * gd->raw->n_series : 1;

    memset(g, 0, sizeof *g);
    g->metric = gd->series_mode ? "backtest_mae_mean" : "test_rmse";
    g->champion_score = g->champion_rmse = NAN;
    g->challenger_score = g->challenger_rmse = NAN;
    if (current == NULL || current[0] == '\0') {
        g->decision = "no_champion";
        return 0;
    }
    snprintf(g->champion_version, sizeof g->champion_version, "%s", current);
    if ((size_t)snprintf(path, sizeof path, "%s/versions/%s/model.bin",
                         s->model_dir, current) >= sizeof path) {
        fr_error_set(err, "path too long under '%s'", s->model_dir);
        return -1;
    }
    champ = store_model_load(path, NULL, &why);
    if (champ == NULL) {
        snprintf(g->reason, sizeof g->reason, "it does not load: %s",
                 why.msg);
        goto incompatible;
    }
    if (gd->series_mode) {
        if (!series_compatible(champ, gd->raw, g->reason, sizeof g->reason))
            goto incompatible;
        found = store_version_last_day(s->model_dir, current, &last_day,
                                       &why);
        if (found != 0) {
            snprintf(g->reason, sizeof g->reason, "%s", found > 0 ?
                     "its metadata does not say which days it learned "
                     "(trained by an earlier release)" : why.msg);
            goto incompatible;
        }
        if (backtest_run(champ, gd->raw, gd->cutoff, NULL, gd->bt->horizon,
                         s->n_threads, &bt, &why) != 0) {
            snprintf(g->reason, sizeof g->reason, "it cannot forecast the "
                     "held-out days: %s", why.msg);
            goto incompatible;
        }
        score_series(gd->bt, &bt, last_day, g);
        series_format_date(last_day, g->champion_last_day);
    } else {
        if (!tabular_compatible(champ, gd->test, g->reason,
                                sizeof g->reason))
            goto incompatible;
        score_tabular(champ, gd, g, err);
        if (isnan(g->champion_score))
            goto out;
    }
    if (g->rows < min_rows) {
        snprintf(g->reason, sizeof g->reason, "%zu held-out days are newer "
                 "than the champion's training, fewer than GATE_MIN_ROWS %zu",
                 g->rows, min_rows);
        g->decision = "too_few_rows";
    } else if (g->challenger_score <=
               g->champion_score * (1.0 + s->promote_max_regression)) {
        g->decision = "promoted";
    } else {
        g->decision = "refused";
    }
    rc = 0;
    goto out;
incompatible:
    g->decision = strcmp(s->gate_on_incompatible, "refuse") == 0
                      ? "incompatible_refused" : "incompatible_promoted";
    rc = 0;
out:
    backtest_release(&bt);
    model_free(champ);
    return rc;
}
