/*
 * series.c: dates, series CSV reading and the feature builder (series.h).
 *
 * Records are read in file order, then sorted by (series, day). A record
 * becomes a table row only when the H = series_history() days before it are
 * all present: the sorted record H places earlier is then exactly H days
 * earlier. Rows with a gap in their history are skipped rather than filled,
 * so no feature is ever invented.
 */
#include "series.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "csvfile.h"
#include "rng.h"

/* ---- dates ---------------------------------------------------------- */

static int is_leap(long y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int days_in_month(long y, int m)
{
    static const int days[12] = {31, 28, 31, 30, 31, 30,
                                 31, 31, 30, 31, 30, 31};
    return m == 2 && is_leap(y) ? 29 : days[m - 1];
}

/* Days since 1970-01-01 of a proleptic Gregorian date: count the days of
 * whole 400-year eras (146097 days each) from year 0, then the days of the
 * year within the era with March as the first month so leap days fall last. */
static int32_t days_from_civil(long y, int m, int d)
{
    long era, yoe, doy, doe;

    y -= m <= 2;
    era = (y >= 0 ? y : y - 399) / 400;
    yoe = y - era * 400;
    doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return (int32_t)(era * 146097 + doe - 719468);
}

/* The inverse of days_from_civil. */
static void civil_from_days(int32_t z32, long *y, int *m, int *d)
{
    long z = (long)z32 + 719468;
    long era = (z >= 0 ? z : z - 146096) / 146097;
    long doe = z - era * 146097;
    long yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    long doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    long mp = (5 * doy + 2) / 153;

    *d = (int)(doy - (153 * mp + 2) / 5 + 1);
    *m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = yoe + era * 400 + (*m <= 2);
}

static int digits(const char *s, int n, long *out)
{
    long v = 0;

    for (int i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return 0;
}

int series_parse_date(const char *text, int32_t *day)
{
    long y, m, d;

    while (*text == ' ')
        text++;
    if (strlen(text) < 10 || text[4] != '-' || text[7] != '-')
        return -1;
    if (digits(text, 4, &y) || digits(text + 5, 2, &m) ||
        digits(text + 8, 2, &d))
        return -1;
    for (const char *p = text + 10; *p; p++) {
        if (*p != ' ' && *p != '\r')
            return -1;
    }
    if (y < 1800 || m < 1 || m > 12 || d < 1 || d > days_in_month(y, (int)m))
        return -1;
    *day = days_from_civil(y, (int)m, (int)d);
    return 0;
}

void series_format_date(int32_t day, char *buf)
{
    long y;
    int m, d;

    civil_from_days(day, &y, &m, &d);
    /* Years outside 0-9999 cannot come from series_parse_date. */
    snprintf(buf, 11, "%04u-%02u-%02u", (unsigned)(y % 10000) % 10000u,
             (unsigned)m % 13u, (unsigned)d % 32u);
}

void series_calendar(int32_t day, int *dow, int *dom, int *month)
{
    long y;

    /* 1970-01-01 was a Thursday, day 3 when Monday is 0. */
    *dow = (int)(((day + 3) % 7 + 7) % 7);
    civil_from_days(day, &y, month, dom);
}

/* ---- the feature spec ----------------------------------------------- */

int series_spec_init(struct series_spec *s, size_t n_covariates,
                     const char *const *names, struct fr_error *err)
{
    static const uint32_t lags[] = {1, 2, 3, 7, 14, 28};
    static const uint32_t windows[] = {7, 28};

    memset(s, 0, sizeof *s);
    if (n_covariates > SERIES_MAX_COVARIATES) {
        fr_error_set(err, "%zu covariate columns; at most %d are supported",
                     n_covariates, SERIES_MAX_COVARIATES);
        return -1;
    }
    s->n_lags = sizeof lags / sizeof lags[0];
    memcpy(s->lags, lags, sizeof lags);
    s->n_windows = sizeof windows / sizeof windows[0];
    memcpy(s->windows, windows, sizeof windows);
    s->target = SERIES_TARGET_DIFF;
    s->level_window = 28;
    for (size_t i = 0; i < n_covariates; i++) {
        s->covariates[i] = strdup(names[i]);
        if (s->covariates[i] == NULL) {
            series_spec_release(s);
            fr_error_set(err, "out of memory");
            return -1;
        }
        s->n_covariates++;
    }
    return 0;
}

int series_spec_direct(struct series_spec *s, uint32_t horizon,
                       struct fr_error *err)
{
    if (horizon < 1 || horizon > SERIES_MAX_HORIZON) {
        fr_error_set(err, "a direct forecast of %u days: from 1 to %d are "
                     "supported", horizon, SERIES_MAX_HORIZON);
        return -1;
    }
    s->strategy = SERIES_DIRECT;
    s->horizon = horizon;
    s->n_weekday_lags = SERIES_WEEKDAY_LAGS;
    s->target = SERIES_TARGET_DIFF;
    s->level_window = SERIES_DIRECT_LEVEL;
    if (series_level_feature(s) != SIZE_MAX)
        return 0;
    if (s->n_windows == SERIES_MAX_WINDOWS) {
        fr_error_set(err, "no room for the level's window");
        return -1;
    }
    s->windows[s->n_windows++] = SERIES_DIRECT_LEVEL;
    return 0;
}

int series_spec_copy(struct series_spec *dst, const struct series_spec *src,
                     struct fr_error *err)
{
    if (series_spec_init(dst, src->n_covariates,
                         (const char *const *)src->covariates, err) != 0)
        return -1;
    dst->n_lags = src->n_lags;
    memcpy(dst->lags, src->lags, sizeof dst->lags);
    dst->n_windows = src->n_windows;
    memcpy(dst->windows, src->windows, sizeof dst->windows);
    dst->target = src->target;
    dst->level_window = src->level_window;
    dst->strategy = src->strategy;
    dst->horizon = src->horizon;
    dst->n_weekday_lags = src->n_weekday_lags;
    return 0;
}

int series_spec_check(const struct series_spec *s, struct fr_error *err)
{
    if (s->n_lags > SERIES_MAX_LAGS || s->n_windows > SERIES_MAX_WINDOWS ||
        s->n_covariates > SERIES_MAX_COVARIATES) {
        fr_error_set(err, "series spec: %u lags, %u windows, %u covariates",
                     s->n_lags, s->n_windows, s->n_covariates);
        return -1;
    }
    for (uint32_t i = 0; i < s->n_lags; i++) {
        if (s->lags[i] < 1 || s->lags[i] > SERIES_MAX_SPAN) {
            fr_error_set(err, "series spec: lag %u", s->lags[i]);
            return -1;
        }
    }
    for (uint32_t i = 0; i < s->n_windows; i++) {
        if (s->windows[i] < 2 || s->windows[i] > SERIES_MAX_SPAN) {
            fr_error_set(err, "series spec: window %u", s->windows[i]);
            return -1;
        }
    }
    if (s->target > SERIES_TARGET_DIFF ||
        (s->target == SERIES_TARGET_VALUE && s->level_window != 0) ||
        (s->target == SERIES_TARGET_DIFF &&
         series_level_feature(s) == SIZE_MAX)) {
        fr_error_set(err, "series spec: target %u with level window %u "
                     "(a difference target needs one of its windows)",
                     s->target, s->level_window);
        return -1;
    }
    if (s->strategy > SERIES_DIRECT ||
        (s->strategy == SERIES_RECURSIVE &&
         (s->horizon != 0 || s->n_weekday_lags != 0)) ||
        (s->strategy == SERIES_DIRECT &&
         (s->horizon < 1 || s->horizon > SERIES_MAX_HORIZON ||
          s->n_weekday_lags < 1 ||
          s->n_weekday_lags > SERIES_MAX_WEEKDAY_LAGS))) {
        fr_error_set(err, "series spec: strategy %u with horizon %u and %u "
                     "same-weekday lags", s->strategy, s->horizon,
                     s->n_weekday_lags);
        return -1;
    }
    return 0;
}

int series_spec_equal(const struct series_spec *a,
                      const struct series_spec *b)
{
    if (a->n_lags != b->n_lags || a->n_windows != b->n_windows ||
        a->n_covariates != b->n_covariates || a->target != b->target ||
        a->level_window != b->level_window || a->strategy != b->strategy ||
        a->horizon != b->horizon || a->n_weekday_lags != b->n_weekday_lags ||
        memcmp(a->lags, b->lags, a->n_lags * sizeof a->lags[0]) != 0 ||
        memcmp(a->windows, b->windows,
               a->n_windows * sizeof a->windows[0]) != 0)
        return 0;
    for (uint32_t i = 0; i < a->n_covariates; i++) {
        if (strcmp(a->covariates[i], b->covariates[i]) != 0)
            return 0;
    }
    return 1;
}

void series_spec_release(struct series_spec *s)
{
    for (uint32_t i = 0; i < s->n_covariates && i < SERIES_MAX_COVARIATES; i++)
        free(s->covariates[i]);
    memset(s, 0, sizeof *s);
}

uint32_t series_history(const struct series_spec *s)
{
    uint32_t h = SERIES_SEASON;

    for (uint32_t i = 0; i < s->n_lags; i++)
        h = s->lags[i] > h ? s->lags[i] : h;
    for (uint32_t i = 0; i < s->n_windows; i++)
        h = s->windows[i] > h ? s->windows[i] : h;
    /* The farthest same-weekday lag: 7 n days before the origin, at h = 1
     * (and at every h = 7k + 1). */
    if (s->strategy == SERIES_DIRECT && 7 * s->n_weekday_lags > h)
        h = 7 * s->n_weekday_lags;
    return h;
}

#define N_CALENDAR 3

/* Features between the windows and the calendar: a direct spec's
 * same-weekday lags, their mean and its horizon. */
static size_t n_direct(const struct series_spec *s)
{
    return s->strategy == SERIES_DIRECT ? s->n_weekday_lags + 2u : 0;
}

size_t series_n_features(const struct series_spec *s)
{
    return s->n_lags + 2u * s->n_windows + n_direct(s) + N_CALENDAR +
           s->n_covariates;
}

void series_feature_name(const struct series_spec *s, size_t i, char *buf,
                         size_t len)
{
    static const char *const calendar[N_CALENDAR] = {
        "day_of_week", "day_of_month", "month"};

    if (i < s->n_lags) {
        snprintf(buf, len, "lag_%u", s->lags[i]);
        return;
    }
    i -= s->n_lags;
    if (i < 2u * s->n_windows) {
        snprintf(buf, len, "%s_%u", i % 2 ? "roll_std" : "roll_mean",
                 s->windows[i / 2]);
        return;
    }
    i -= 2u * s->n_windows;
    if (i < n_direct(s)) {
        if (i < s->n_weekday_lags)
            snprintf(buf, len, "same_weekday_%zu", i + 1);
        else if (i == s->n_weekday_lags)
            snprintf(buf, len, "same_weekday_mean");
        else
            snprintf(buf, len, "horizon");
        return;
    }
    i -= n_direct(s);
    if (i < N_CALENDAR) {
        snprintf(buf, len, "%s", calendar[i]);
        return;
    }
    i -= N_CALENDAR;
    snprintf(buf, len, "%s", i < s->n_covariates ? s->covariates[i] : "?");
}

/* The lags and rolling windows of past (series_history(s) values, the
 * last one the day before `origin`) into row; returns the features
 * written. */
static size_t build_history(const struct series_spec *s, const double *past,
                            float *row)
{
    uint32_t h = series_history(s);
    size_t k = 0;

    for (uint32_t i = 0; i < s->n_lags; i++)
        row[k++] = (float)past[h - s->lags[i]];
    for (uint32_t i = 0; i < s->n_windows; i++) {
        uint32_t w = s->windows[i];
        const double *win = past + (h - w);
        double sum = 0.0, ss = 0.0, mean;

        for (uint32_t j = 0; j < w; j++)
            sum += win[j];
        mean = sum / w;
        for (uint32_t j = 0; j < w; j++)
            ss += (win[j] - mean) * (win[j] - mean);
        row[k++] = (float)mean;
        row[k++] = (float)sqrt(ss / (w - 1)); /* sample std, as pandas */
    }
    return k;
}

/* The calendar of `day` and its covariates into row. */
static void build_day(const struct series_spec *s, int32_t day,
                      const double *covariates, float *row)
{
    size_t k = 0;
    int dow, dom, month;

    series_calendar(day, &dow, &dom, &month);
    row[k++] = (float)dow;
    row[k++] = (float)dom;
    row[k++] = (float)month;
    for (uint32_t i = 0; i < s->n_covariates; i++)
        row[k++] = (float)covariates[i];
}

void series_build_row(const struct series_spec *s, const double *past,
                      int32_t day, const double *covariates, float *row)
{
    if (s->strategy == SERIES_DIRECT) {
        series_build_direct_row(s, past, day, 1, covariates, row);
        return;
    }
    build_day(s, day, covariates, row + build_history(s, past, row));
}

size_t series_history_features(const struct series_spec *s)
{
    return s->n_lags + 2u * (size_t)s->n_windows;
}

void series_build_direct_tail(const struct series_spec *s,
                              const double *past, int32_t origin, uint32_t h,
                              const double *covariates, float *row)
{
    uint32_t hist = series_history(s);
    uint32_t weeks = (h + SERIES_SEASON - 1) / SERIES_SEASON; /* ceil */
    size_t k = series_history_features(s);
    double sum = 0.0;

    /* Same weekday j weeks back from the target day t = origin + h - 1,
     * starting with the latest one before the origin: t - 7 weeks is
     * origin - (7 weeks - h + 1) days, at least 1 day back. Their mean is
     * the seasonal-mean forecast, a feature of its own since trees
     * average several columns only through many splits. */
    for (uint32_t j = 0; j < s->n_weekday_lags; j++) {
        uint32_t back = SERIES_SEASON * (weeks + j) - h + 1;
        row[k++] = (float)past[hist - back];
        sum += past[hist - back];
    }
    row[k++] = (float)(sum / s->n_weekday_lags);
    row[k++] = (float)h;
    build_day(s, origin + (int32_t)h - 1, covariates, row + k);
}

void series_build_direct_row(const struct series_spec *s, const double *past,
                             int32_t origin, uint32_t h,
                             const double *covariates, float *row)
{
    build_history(s, past, row);
    series_build_direct_tail(s, past, origin, h, covariates, row);
}

void series_build_direct_rows(const struct series_spec *s,
                              const double *past, int32_t origin,
                              uint32_t n_h, const double *covariates,
                              float *rows)
{
    size_t nf = series_n_features(s), k = series_history_features(s);

    for (uint32_t h = 1; h <= n_h; h++) {
        float *row = rows + (h - 1) * nf;
        if (h == 1)
            build_history(s, past, row);
        else
            memcpy(row, rows, k * sizeof *row);
        series_build_direct_tail(s, past, origin, h,
                                 covariates + (h - 1) * s->n_covariates, row);
    }
}

size_t series_level_feature(const struct series_spec *s)
{
    for (uint32_t i = 0; i < s->n_windows; i++) {
        if (s->windows[i] == s->level_window)
            return s->n_lags + 2u * i;
    }
    return SIZE_MAX;
}

double series_relative_row(const struct series_spec *s, const float *row,
                           float *out)
{
    size_t nf = series_n_features(s);
    float level;

    if (out != row)
        memcpy(out, row, nf * sizeof *out);
    if (s->target != SERIES_TARGET_DIFF)
        return 0.0;
    /* In float, from the row itself: training and serving then shift by
     * bit-identical amounts. */
    level = row[series_level_feature(s)];
    for (uint32_t i = 0; i < s->n_lags; i++)
        out[i] -= level;
    for (uint32_t i = 0; i < s->n_windows; i++)
        out[s->n_lags + 2u * i] -= level;
    if (s->strategy == SERIES_DIRECT) {
        /* The lags and their mean: values in the target's units. */
        for (uint32_t j = 0; j <= s->n_weekday_lags; j++)
            out[s->n_lags + 2u * s->n_windows + j] -= level;
    }
    return level;
}

int series_relative_dataset(const struct series_spec *s,
                            const struct dataset *src, struct dataset *dst,
                            struct fr_error *err)
{
    size_t nf = src->n_features;
    float *row = malloc(nf * sizeof *row);

    if (row == NULL || dataset_init(dst, nf,
                                    (const char *const *)src->feature_names,
                                    src->n_rows, 0, err) != 0) {
        free(row);
        if (row == NULL)
            fr_error_set(err, "out of memory");
        return -1;
    }
    for (size_t i = 0; i < src->n_rows; i++) {
        double level = series_relative_row(s, src->X + i * nf, row);
        if (dataset_push(dst, row, src->y[i] - level, 0, 0, 0.0, err) != 0) {
            free(row);
            dataset_release(dst);
            return -1;
        }
    }
    free(row);
    return 0;
}

/* ---- raw series ----------------------------------------------------- */

int series_data_push(struct series_data *d, int32_t series, int32_t day,
                     double y, const double *cov, size_t line,
                     struct fr_error *err)
{
    if (d->n == d->capacity) {
        size_t cap = d->capacity ? d->capacity * 2 : 1024;
        size_t nc = d->n_covariates;
        void *p;

        if (cap > SIZE_MAX / sizeof(double) / (nc ? nc : 1))
            goto nomem;
        if ((p = realloc(d->series, cap * sizeof *d->series)) == NULL)
            goto nomem;
        d->series = p;
        if ((p = realloc(d->day, cap * sizeof *d->day)) == NULL)
            goto nomem;
        d->day = p;
        if ((p = realloc(d->y, cap * sizeof *d->y)) == NULL)
            goto nomem;
        d->y = p;
        if ((p = realloc(d->line, cap * sizeof *d->line)) == NULL)
            goto nomem;
        d->line = p;
        if ((p = realloc(d->cov, cap * (nc ? nc : 1) * sizeof *d->cov)) == NULL)
            goto nomem;
        d->cov = p;
        d->capacity = cap;
    }
    d->series[d->n] = series;
    d->day[d->n] = day;
    d->y[d->n] = y;
    d->line[d->n] = line;
    if (d->n_covariates)
        memcpy(d->cov + d->n * d->n_covariates, cov,
               d->n_covariates * sizeof *cov);
    d->n++;
    return 0;
nomem:
    fr_error_set(err, "out of memory after %zu records", d->n);
    return -1;
}

void series_data_release(struct series_data *d)
{
    for (size_t i = 0; i < d->n_series; i++)
        free(d->series_names[i]);
    for (size_t i = 0; i < d->n_covariates; i++)
        free(d->covariate_names[i]);
    free(d->series_names);
    free(d->covariate_names);
    free(d->series);
    free(d->day);
    free(d->y);
    free(d->cov);
    free(d->line);
    memset(d, 0, sizeof *d);
}

/* A small open-addressing table from series name to series number; it
 * doubles at half load so probes stay short for thousands of series. */
struct name_table {
    size_t cap;      /* power of two */
    int32_t *slots;  /* series number + 1, 0 = empty */
};

static uint64_t hash_name(const char *s)
{
    uint64_t h = 1469598103934665603ull; /* FNV-1a */

    while (*s) {
        h ^= (unsigned char)*s++;
        h *= 1099511628211ull;
    }
    return h;
}

static int name_table_grow(struct name_table *t, char **names, size_t n)
{
    size_t cap = t->cap ? t->cap * 2 : 64;
    int32_t *slots = calloc(cap, sizeof *slots);

    if (slots == NULL)
        return -1;
    for (size_t i = 0; i < n; i++) {
        size_t j = hash_name(names[i]) & (cap - 1);
        while (slots[j] != 0)
            j = (j + 1) & (cap - 1);
        slots[j] = (int32_t)i + 1;
    }
    free(t->slots);
    t->slots = slots;
    t->cap = cap;
    return 0;
}

/* Returns the series number of name, adding it when new; -1 on no memory. */
static int32_t series_number(struct series_data *d, struct name_table *t,
                             const char *name)
{
    size_t j;
    char **names;

    if (2 * (d->n_series + 1) > t->cap &&
        name_table_grow(t, d->series_names, d->n_series) != 0)
        return -1;
    j = hash_name(name) & (t->cap - 1);
    while (t->slots[j] != 0) {
        int32_t s = t->slots[j] - 1;
        if (strcmp(d->series_names[s], name) == 0)
            return s;
        j = (j + 1) & (t->cap - 1);
    }
    if (d->n_series >= INT32_MAX - 1)
        return -1;
    names = realloc(d->series_names, (d->n_series + 1) * sizeof *names);
    if (names == NULL)
        return -1;
    d->series_names = names;
    names[d->n_series] = strdup(name);
    if (names[d->n_series] == NULL)
        return -1;
    t->slots[j] = (int32_t)d->n_series + 1;
    return (int32_t)d->n_series++;
}

struct series_reader {
    struct series_data *data;
    const struct series_columns *cols;
    struct name_table names;
    long date_col, target_col, series_col;
    long *cov_col;          /* n_covariates column numbers */
    double *cov;            /* scratch for one record */
};

static int find_column(const struct csvfile_row *row, const char *name)
{
    for (size_t i = 0; i < row->n_fields; i++) {
        if (strcmp(row->fields[i], name) == 0)
            return (int)i;
    }
    return -1;
}

/* Whether name is one the builder gives its own features (lag_1, month...):
 * a covariate of that name would make two features with one name. */
static int is_built_feature(const char *name)
{
    struct series_spec spec;
    char built[SERIES_NAME_MAX + 1];
    int found = 0;

    /* The direct spec's names include the recursive one's. */
    if (series_spec_init(&spec, 0, NULL, NULL) != 0 ||
        series_spec_direct(&spec, 1, NULL) != 0)
        return 0;
    spec.n_weekday_lags = SERIES_MAX_WEEKDAY_LAGS;
    for (size_t i = 0; i < series_n_features(&spec) && !found; i++) {
        series_feature_name(&spec, i, built, sizeof built);
        found = strcmp(built, name) == 0;
    }
    series_spec_release(&spec);
    return found;
}

static int series_header(struct series_reader *r, const struct csvfile_row *row,
                         struct fr_error *err)
{
    struct series_data *d = r->data;

    r->date_col = find_column(row, r->cols->date);
    r->target_col = find_column(row, r->cols->target);
    r->series_col = r->cols->series ? find_column(row, r->cols->series) : -1;
    if (r->date_col < 0 || r->target_col < 0) {
        fr_error_set(err, "'%s' has no %s column '%s' (a series needs a "
                     "date and a target column)", d->path,
                     r->date_col < 0 ? "date" : "target",
                     r->date_col < 0 ? r->cols->date : r->cols->target);
        return -1;
    }
    d->covariate_names = calloc(row->n_fields, sizeof(char *));
    r->cov_col = calloc(row->n_fields, sizeof *r->cov_col);
    r->cov = calloc(row->n_fields, sizeof *r->cov);
    if (!d->covariate_names || !r->cov_col || !r->cov)
        goto nomem;
    for (size_t i = 0; i < row->n_fields; i++) {
        if ((long)i == r->date_col || (long)i == r->target_col ||
            (long)i == r->series_col)
            continue;
        if (d->n_covariates == SERIES_MAX_COVARIATES) {
            fr_error_set(err, "'%s' has more than %d covariate columns",
                         d->path, SERIES_MAX_COVARIATES);
            return -1;
        }
        if (is_built_feature(row->fields[i])) {
            fr_error_set(err, "'%s' column %zu: a covariate cannot be called "
                         "'%s', the name of a feature built from the series",
                         d->path, i + 1, row->fields[i]);
            return -1;
        }
        r->cov_col[d->n_covariates] = (long)i;
        d->covariate_names[d->n_covariates] = strdup(row->fields[i]);
        if (d->covariate_names[d->n_covariates] == NULL)
            goto nomem;
        d->n_covariates++;
    }
    return 0;
nomem:
    fr_error_set(err, "out of memory reading '%s'", d->path);
    return -1;
}

static int series_row(const struct csvfile_row *row, int is_header, void *ctx,
                      struct fr_error *err)
{
    struct series_reader *r = ctx;
    struct series_data *d = r->data;
    int32_t day, s = 0;
    double y;

    if (is_header)
        return series_header(r, row, err);
    if (series_parse_date(row->fields[r->date_col], &day) != 0) {
        fr_error_set(err, "'%s' line %zu column %ld ('%s'): '%.40s' is not a "
                     "date (YYYY-MM-DD)", d->path, row->line, r->date_col + 1,
                     r->cols->date, row->fields[r->date_col]);
        return -1;
    }
    if (csvfile_number(row->fields[r->target_col], d->path, row->line,
                       (size_t)r->target_col + 1, r->cols->target, &y,
                       err) != 0)
        return -1;
    for (size_t i = 0; i < d->n_covariates; i++) {
        long c = r->cov_col[i];
        if (csvfile_number(row->fields[c], d->path, row->line, (size_t)c + 1,
                           row->header[c], &r->cov[i], err) != 0)
            return -1;
    }
    if (r->series_col >= 0) {
        s = series_number(d, &r->names, row->fields[r->series_col]);
        if (s < 0) {
            fr_error_set(err, "out of memory reading '%s'", d->path);
            return -1;
        }
    } else if (d->n_series == 0) {
        if (series_number(d, &r->names, "all") < 0) {
            fr_error_set(err, "out of memory reading '%s'", d->path);
            return -1;
        }
    }
    return series_data_push(d, s, day, y, r->cov, row->line, err);
}

int series_data_read_csv(const char *path, const struct series_columns *cols,
                         struct series_data *data, struct fr_error *err)
{
    struct series_reader r = {.data = data, .cols = cols};
    int rc = -1;

    memset(data, 0, sizeof *data);
    data->path = path;
    if (csvfile_read(path, series_row, &r, err) < 0)
        goto out;
    rc = 0;
out:
    free(r.cov_col);
    free(r.cov);
    free(r.names.slots);
    if (rc != 0)
        series_data_release(data);
    data->path = path;
    return rc;
}

int series_data_write_csv(const struct series_data *d, const char *path,
                          const char *target_name, struct fr_error *err)
{
    FILE *fp = csvfile_create(path, err);
    char date[16];

    if (fp == NULL)
        return -1;
    fprintf(fp, "date,series,%s", target_name);
    for (size_t c = 0; c < d->n_covariates; c++)
        fprintf(fp, ",%s", d->covariate_names[c]);
    fputc('\n', fp);
    for (size_t i = 0; i < d->n; i++) {
        series_format_date(d->day[i], date);
        fprintf(fp, "%s,%s,%.17g", date, d->series_names[d->series[i]],
                d->y[i]);
        for (size_t c = 0; c < d->n_covariates; c++)
            fprintf(fp, ",%.17g", d->cov[i * d->n_covariates + c]);
        fputc('\n', fp);
    }
    return csvfile_finish(fp, path, err);
}

/* ---- building the table --------------------------------------------- */

static const struct series_data *sort_data; /* qsort has no context arg */

static int by_series_day(const void *a, const void *b)
{
    size_t i = *(const size_t *)a, j = *(const size_t *)b;
    const struct series_data *d = sort_data;

    if (d->series[i] != d->series[j])
        return d->series[i] < d->series[j] ? -1 : 1;
    if (d->day[i] != d->day[j])
        return d->day[i] < d->day[j] ? -1 : 1;
    return i < j ? -1 : i > j;
}

/* Moves n elements of size sz of a into the order `order`, through tmp
 * (n * sz bytes). */
static void permute(void *a, const size_t *order, size_t n, size_t sz,
                    unsigned char *tmp)
{
    unsigned char *p = a;

    for (size_t k = 0; k < n; k++)
        memcpy(tmp + k * sz, p + order[k] * sz, sz);
    memcpy(p, tmp, n * sz);
}

int series_data_sort(struct series_data *d, struct fr_error *err)
{
    size_t n = d->n, nc = d->n_covariates ? d->n_covariates : 1;
    size_t *order = malloc((n ? n : 1) * sizeof *order);
    unsigned char *tmp = malloc((n ? n : 1) * nc * sizeof(double));

    if (order == NULL || tmp == NULL) {
        free(order);
        free(tmp);
        fr_error_set(err, "out of memory sorting %zu records", n);
        return -1;
    }
    for (size_t i = 0; i < n; i++)
        order[i] = i;
    sort_data = d;
    qsort(order, n, sizeof *order, by_series_day);
    sort_data = NULL;
    permute(d->series, order, n, sizeof *d->series, tmp);
    permute(d->day, order, n, sizeof *d->day, tmp);
    permute(d->y, order, n, sizeof *d->y, tmp);
    if (d->n_covariates)
        permute(d->cov, order, n, d->n_covariates * sizeof *d->cov, tmp);
    if (d->line != NULL)
        permute(d->line, order, n, sizeof *d->line, tmp);
    free(order);
    free(tmp);
    return 0;
}

int series_build(struct series_data *d, const struct series_spec *spec,
                 struct dataset *out, struct fr_error *err)
{
    size_t nf = series_n_features(spec);
    uint32_t h = series_history(spec);
    char **names = NULL;
    size_t *order = NULL;
    double *past = NULL;
    float *row = NULL;
    size_t longest = 0, run = 0;
    int rc = -1;

    memset(out, 0, sizeof *out);
    names = calloc(nf, sizeof *names);
    order = malloc((d->n ? d->n : 1) * sizeof *order);
    past = malloc(h * sizeof *past);
    row = malloc(nf * sizeof *row);
    if (names == NULL || order == NULL || past == NULL || row == NULL)
        goto nomem;
    for (size_t i = 0; i < nf; i++) {
        names[i] = malloc(SERIES_NAME_MAX + 1);
        if (names[i] == NULL)
            goto nomem;
        series_feature_name(spec, i, names[i], SERIES_NAME_MAX + 1);
    }
    if (dataset_init(out, nf, (const char *const *)names, d->n, 1, err) != 0)
        goto out;
    for (size_t i = 0; i < d->n; i++)
        order[i] = i;
    /* Sorting is single-threaded here, so the static context is safe. */
    sort_data = d;
    qsort(order, d->n, sizeof *order, by_series_day);
    sort_data = NULL;
    for (size_t k = 0; k < d->n; k++) {
        size_t i = order[k];
        int same = k > 0 && d->series[order[k - 1]] == d->series[i];

        if (same && d->day[order[k - 1]] == d->day[i]) {
            char date[16];
            series_format_date(d->day[i], date);
            fr_error_set(err, "'%s' line %zu: series '%s' has two rows for %s "
                         "(the other is line %zu)", d->path ? d->path : "data",
                         d->line[i], d->series_names[d->series[i]], date,
                         d->line[order[k - 1]]);
            goto out;
        }
        run = same && d->day[order[k - 1]] + 1 == d->day[i] ? run + 1 : 1;
        longest = run > longest ? run : longest;
        /* Enough history when the record h places back is h days back in
         * the same series; since days are unique and sorted, no day between
         * them can be missing. */
        if (k < h || d->series[order[k - h]] != d->series[i] ||
            d->day[order[k - h]] != d->day[i] - (int32_t)h)
            continue;
        for (uint32_t j = 0; j < h; j++)
            past[j] = d->y[order[k - h + j]];
        series_build_row(spec, past, d->day[i],
                         d->cov + i * d->n_covariates, row);
        if (dataset_push(out, row, d->y[i], d->series[i], d->day[i],
                         past[h - SERIES_SEASON], err) != 0)
            goto out;
    }
    if (out->n_rows == 0) {
        fr_error_set(err, "'%s': too few rows for the lags: each row needs "
                     "the %u days before it, but the longest gap-free run of "
                     "days in any series is %zu", d->path ? d->path : "data",
                     h, longest);
        goto out;
    }
    out->n_series = d->n_series;
    out->series_names = calloc(d->n_series ? d->n_series : 1, sizeof(char *));
    if (out->series_names == NULL)
        goto nomem;
    for (size_t s = 0; s < d->n_series; s++) {
        out->series_names[s] = strdup(d->series_names[s]);
        if (out->series_names[s] == NULL)
            goto nomem;
    }
    rc = 0;
    goto out;
nomem:
    fr_error_set(err, "out of memory building features for %zu records", d->n);
out:
    if (names != NULL) {
        for (size_t i = 0; i < nf; i++)
            free(names[i]);
    }
    free(names);
    free(order);
    free(past);
    free(row);
    if (rc != 0)
        dataset_release(out);
    return rc;
}

/* Whether row (series, origin, h) is kept when a fraction `keep` (scaled
 * to 2^64) of the rows is: a hash of the four, so the choice does not
 * depend on the order rows are built in. */
static int direct_keep(uint64_t seed, int32_t series, int32_t origin,
                       uint32_t h, uint64_t keep)
{
    uint64_t x = seed ^ ((uint64_t)(uint32_t)series << 40) ^
                 ((uint64_t)(uint32_t)origin << 9) ^ h;

    return rng_splitmix64(&x) < keep;
}

/* Calls row(i, h) for every direct row of records sorted by (series, day):
 * origin record i with `hist` gap-free days before it, target record
 * i + h - 1 gap-free after it and before the series' cutoff. Returns the
 * number of rows. */
static size_t direct_rows(const struct series_data *d, uint32_t hist,
                          uint32_t horizon, const int32_t *cutoff,
                          int (*row)(void *, size_t, uint32_t), void *ctx)
{
    size_t n = 0;

    for (size_t i = hist; i < d->n; i++) {
        if (d->series[i - hist] != d->series[i] ||
            d->day[i - hist] != d->day[i] - (int32_t)hist)
            continue;
        for (uint32_t h = 1; h <= horizon; h++) {
            size_t t = i + h - 1;
            if (t >= d->n || d->series[t] != d->series[i] ||
                d->day[t] != d->day[i] + (int32_t)(h - 1) ||
                (cutoff != NULL && d->day[t] >= cutoff[d->series[i]]))
                break;
            if (row != NULL && row(ctx, i, h) != 0)
                return SIZE_MAX;
            n++;
        }
    }
    return n;
}

struct direct_ctx {
    const struct series_data *d;
    const struct series_spec *spec;
    uint32_t hist;
    uint64_t seed, keep; /* keep: the fraction kept x 2^64, or 0 = all */
    float *row;
    size_t built;        /* the origin whose history row holds, or SIZE_MAX */
    struct dataset *out;
    struct fr_error *err;
};

static int direct_push(void *arg, size_t i, uint32_t h)
{
    struct direct_ctx *c = arg;
    const struct series_data *d = c->d;
    size_t t = i + h - 1, nc = d->n_covariates;
    uint32_t weeks = (h + SERIES_SEASON - 1) / SERIES_SEASON;

    if (c->keep != 0 && !direct_keep(c->seed, d->series[i], d->day[i], h,
                                     c->keep))
        return 0;
    /* An origin's kept rows come one after another: its history's
     * features, the same for all, are computed for the first. */
    if (c->built == i) {
        series_build_direct_tail(c->spec, d->y + (i - c->hist), d->day[i], h,
                                 d->cov + t * nc, c->row);
    } else {
        series_build_direct_row(c->spec, d->y + (i - c->hist), d->day[i], h,
                                d->cov + t * nc, c->row);
        c->built = i;
    }
    /* Seasonal naive at horizon h: the target's weekday in the last week
     * before the origin. */
    return dataset_push(c->out, c->row, d->y[t], d->series[i], d->day[t],
                        d->y[t - SERIES_SEASON * weeks], c->err);
}

int series_build_direct(const struct series_data *d,
                        const struct series_spec *spec, const int32_t *cutoff,
                        size_t max_rows, uint64_t seed, struct dataset *out,
                        struct fr_error *err)
{
    size_t nf = series_n_features(spec), total, expect;
    struct direct_ctx c = {.d = d, .spec = spec, .seed = seed, .out = out,
                           .built = SIZE_MAX, .err = err};
    char **names = NULL;
    int rc = -1;

    memset(out, 0, sizeof *out);
    c.hist = series_history(spec);
    total = direct_rows(d, c.hist, spec->horizon, cutoff, NULL, NULL);
    if (total == 0) {
        fr_error_set(err, "'%s': no day has the %u days of history a direct "
                     "forecast needs before it", d->path ? d->path : "data",
                     c.hist);
        return -1;
    }
    expect = total;
    if (max_rows > 0 && total > max_rows) {
        c.keep = (uint64_t)((double)max_rows / (double)total * 0x1p64);
        expect = max_rows + max_rows / 16; /* room for the draw's spread */
    }
    names = calloc(nf, sizeof *names);
    c.row = malloc(nf * sizeof *c.row);
    if (names == NULL || c.row == NULL)
        goto nomem;
    for (size_t i = 0; i < nf; i++) {
        names[i] = malloc(SERIES_NAME_MAX + 1);
        if (names[i] == NULL)
            goto nomem;
        series_feature_name(spec, i, names[i], SERIES_NAME_MAX + 1);
    }
    if (dataset_init(out, nf, (const char *const *)names, expect, 1,
                     err) != 0)
        goto out;
    if (direct_rows(d, c.hist, spec->horizon, cutoff, direct_push, &c) ==
        SIZE_MAX)
        goto out;
    if (out->n_rows == 0) {
        fr_error_set(err, "no direct row was kept of %zu", total);
        goto out;
    }
    out->n_series = d->n_series;
    rc = 0;
    goto out;
nomem:
    fr_error_set(err, "out of memory building direct rows for %zu records",
                 d->n);
out:
    if (names != NULL) {
        for (size_t i = 0; i < nf; i++)
            free(names[i]);
    }
    free(names);
    free(c.row);
    if (rc != 0)
        dataset_release(out);
    return rc;
}
