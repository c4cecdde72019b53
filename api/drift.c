/*
 * drift.c: the recent rows' bins and their population stability index
 * against training (drift.h).
 */
#include "drift.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "stats.h"

#define EMPTY 0xff /* a ring slot no row has filled yet */

int drift_init(struct drift *d, size_t window, struct fr_error *err)
{
    memset(d, 0, sizeof *d);
    d->window = window > 0 ? window : 1;
    d->loaded_at = -1.0;
    atomic_init(&d->rows, 0);
    if (pthread_rwlock_init(&d->lock, NULL) != 0) {
        fr_error_set(err, "cannot create the drift window's lock");
        return -1;
    }
    return 0;
}

void drift_release(struct drift *d)
{
    if (d == NULL)
        return;
    free(d->ring);
    free(d->counts);
    pthread_rwlock_destroy(&d->lock);
}

/* 1 when the window counts for s (under the lock, shared or not). */
static int is_for(const struct drift *d, const struct serving *s)
{
    return d->loaded_at == s->loaded_at && d->crc == s->crc &&
           strcmp(d->version, s->version) == 0;
}

/* Makes the window s's, empty, if s is at least as new as the model it
 * counts for now. Takes the lock exclusively, so it runs once per model,
 * on its first request. */
static void switch_to(struct drift *d, const struct serving *s)
{
    const struct feature_profile *p = &s->model->profile;
    size_t slots = d->window * p->n_features;

    pthread_rwlock_wrlock(&d->lock);
    if (is_for(d, s) || s->loaded_at < d->loaded_at) {
        pthread_rwlock_unlock(&d->lock);
        return;
    }
    free(d->ring);
    free(d->counts);
    d->ring = NULL;
    d->counts = NULL;
    d->n_features = 0;
    d->n_bins = p->n_bins;
    d->loaded_at = s->loaded_at;
    d->crc = s->crc;
    snprintf(d->version, sizeof d->version, "%s", s->version);
    atomic_store(&d->rows, 0);
    if (p->n_features > 0 && slots / p->n_features == d->window &&
        slots <= DRIFT_MAX_BYTES) {
        d->ring = malloc(slots * sizeof *d->ring);
        d->counts = calloc((size_t)p->n_features * p->n_bins,
                           sizeof *d->counts);
    }
    if (d->ring != NULL && d->counts != NULL) {
        for (size_t i = 0; i < slots; i++)
            atomic_init(&d->ring[i], EMPTY);
        for (size_t i = 0; i < (size_t)p->n_features * p->n_bins; i++)
            atomic_init(&d->counts[i], 0);
        d->n_features = p->n_features;
    }
    pthread_rwlock_unlock(&d->lock);
}

void drift_record(struct drift *d, const struct serving *s, const float *X,
                  size_t n)
{
    const struct feature_profile *p;
    uint64_t first;
    size_t nf, from;

    if (d == NULL || s->model->profile.n_bins == 0 || n == 0)
        return;
    p = &s->model->profile;
    pthread_rwlock_rdlock(&d->lock);
    if (!is_for(d, s)) {
        pthread_rwlock_unlock(&d->lock);
        switch_to(d, s);
        pthread_rwlock_rdlock(&d->lock);
        if (!is_for(d, s)) {
            /* A request finishing on an older model: not counted. */
            pthread_rwlock_unlock(&d->lock);
            return;
        }
    }
    nf = d->n_features;
    if (nf == 0) {
        pthread_rwlock_unlock(&d->lock);
        return;
    }
    /* Only the last `window` rows of a larger batch can stay. */
    from = n > d->window ? n - d->window : 0;
    first = atomic_fetch_add_explicit(&d->rows, n - from,
                                      memory_order_relaxed);
    for (size_t i = from; i < n; i++) {
        size_t slot = (size_t)((first + (i - from)) % d->window);
        atomic_uchar *bins = d->ring + slot * nf;
        const float *row = X + i * nf;
        for (size_t f = 0; f < nf; f++) {
            unsigned char b = (unsigned char)profile_bin(p, f, row[f]);
            unsigned char old;
            /* A row leaving the window from the bin the new one enters
             * changes no count: skip the -1 and +1, two locked adds on
             * lines the other threads write too, and the exchange itself
             * (a locked instruction as well) when a plain load already
             * shows the slot holds b: the exchange would leave it as it
             * is. */
            if (atomic_load_explicit(&bins[f], memory_order_relaxed) == b)
                continue;
            old = atomic_exchange_explicit(&bins[f], b, memory_order_relaxed);
            if (old == b)
                continue;
            if (old != EMPTY)
                atomic_fetch_sub_explicit(&d->counts[f * d->n_bins + old], 1,
                                          memory_order_relaxed);
            atomic_fetch_add_explicit(&d->counts[f * d->n_bins + b], 1,
                                      memory_order_relaxed);
        }
    }
    pthread_rwlock_unlock(&d->lock);
}

double drift_psi(const double *t, const int32_t *c, uint32_t n_bins,
                 double *recent)
{
    const double eps = DRIFT_EPSILON, norm = 1.0 + n_bins * eps;
    double n = 0.0, psi = 0.0;

    for (uint32_t k = 0; k < n_bins; k++)
        n += c[k] > 0 ? c[k] : 0;
    for (uint32_t k = 0; k < n_bins; k++) {
        double r = n > 0 && c[k] > 0 ? c[k] / n : 0.0;
        double rs = (r + eps) / norm, ts = (t[k] + eps) / norm;
        if (recent != NULL)
            recent[k] = r;
        psi += (rs - ts) * log(rs / ts);
    }
    return n > 0 ? psi : NAN;
}

/* One feature's counts, read relaxed into c (clamped at 0). */
static void read_counts(struct drift *d, size_t f, int32_t *c)
{
    for (uint32_t k = 0; k < d->n_bins; k++) {
        int32_t v = atomic_load_explicit(&d->counts[f * d->n_bins + k],
                                         memory_order_relaxed);
        c[k] = v > 0 ? v : 0;
    }
}

/* Rows in the window for s, under the shared lock; 0 when it counts for
 * another model or for none. */
static uint64_t window_rows(struct drift *d, const struct serving *s)
{
    uint64_t rows;

    if (!is_for(d, s) || d->n_features == 0)
        return 0;
    rows = atomic_load_explicit(&d->rows, memory_order_relaxed);
    return rows < d->window ? rows : d->window;
}

void drift_render_metrics(struct drift *d, const struct serving *s,
                          struct buf *out)
{
    const struct feature_profile *p = &s->model->profile;
    int32_t c[PROFILE_MAX_BINS];
    uint64_t rows;

    if (d == NULL || p->n_bins == 0)
        return;
    pthread_rwlock_rdlock(&d->lock);
    rows = window_rows(d, s);
    if (rows > 0) {
        buf_printf(out,
                   "# HELP forest_serve_drift_window_rows Recent scored rows "
                   "the drift index is computed on (at most DRIFT_WINDOW).\n"
                   "# TYPE forest_serve_drift_window_rows gauge\n"
                   "forest_serve_drift_window_rows %llu\n"
                   "# HELP forest_serve_feature_drift_psi Population "
                   "stability index of each feature's recent values against "
                   "training.\n"
                   "# TYPE forest_serve_feature_drift_psi gauge\n",
                   (unsigned long long)rows);
        for (size_t f = 0; f < d->n_features; f++) {
            read_counts(d, f, c);
            buf_puts(out, "forest_serve_feature_drift_psi{feature=");
            stats_label_value(out, s->model->forest->feature_names[f]);
            buf_printf(out, "} %.6g\n", drift_psi(p->shares + f * p->n_bins,
                                                  c, p->n_bins, NULL));
        }
    }
    pthread_rwlock_unlock(&d->lock);
}

void drift_render_json(struct drift *d, const struct serving *s,
                       struct buf *out)
{
    const struct feature_profile *p = &s->model->profile;
    int32_t c[PROFILE_MAX_BINS];
    double recent[PROFILE_MAX_BINS];
    uint64_t rows = 0;

    if (d != NULL)
        pthread_rwlock_rdlock(&d->lock);
    if (d != NULL)
        rows = window_rows(d, s);
    buf_printf(out, "{\"window_rows\":%llu,\"window\":%zu,\"bins\":%u,"
               "\"smoothing\":", (unsigned long long)rows,
               d != NULL ? d->window : 0, p->n_bins);
    buf_json_double(out, DRIFT_EPSILON);
    buf_puts(out, ",\"features\":[");
    for (size_t f = 0; f < p->n_features; f++) {
        double psi = NAN;
        memset(c, 0, sizeof c);
        if (rows > 0)
            read_counts(d, f, c);
        psi = drift_psi(p->shares + f * p->n_bins, c, p->n_bins, recent);
        buf_puts(out, f > 0 ? ",{\"name\":" : "{\"name\":");
        buf_json_string(out, s->model->forest->feature_names[f]);
        buf_puts(out, ",\"psi\":");
        buf_json_double(out, psi); /* NaN (no rows yet) is null */
        buf_puts(out, ",\"edges\":[");
        for (uint32_t k = 0; k + 1 < p->n_bins; k++) {
            if (k > 0)
                buf_add(out, ",", 1);
            buf_json_float(out, p->edges[f * (p->n_bins - 1) + k]);
        }
        buf_puts(out, "],\"training_share\":[");
        for (uint32_t k = 0; k < p->n_bins; k++) {
            if (k > 0)
                buf_add(out, ",", 1);
            buf_json_double(out, p->shares[f * p->n_bins + k]);
        }
        buf_puts(out, "],\"recent_share\":[");
        for (uint32_t k = 0; k < p->n_bins; k++) {
            if (k > 0)
                buf_add(out, ",", 1);
            buf_json_double(out, recent[k]);
        }
        buf_puts(out, "]}");
    }
    buf_puts(out, "],\"model_version\":");
    buf_json_string(out, s->version);
    buf_puts(out, "}");
    if (d != NULL)
        pthread_rwlock_unlock(&d->lock);
}
