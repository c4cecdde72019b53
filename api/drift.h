/*
 * drift.h: input drift of the serving model, from the rows it scores.
 *
 * The model file keeps each feature's training distribution on equal-mass
 * bins (libforest/profile.h). The server keeps the bins of the last
 * DRIFT_WINDOW rows that /predict and V2 infer scored, and reports each
 * feature's population stability index against training:
 *
 *   PSI = sum over bins k of (r_k - t_k) ln(r_k / t_k)
 *
 * with both shares smoothed the same way, p'_k = (p_k + eps) / (1 + B eps),
 * eps = DRIFT_EPSILON, so an empty bin gives a finite term and a bin empty
 * on both sides (a repeated edge) gives exactly 0. Rows drawn from the
 * training distribution give about (B - 1) / window (0.009 for 10 bins and
 * 1000 rows); 0.1 is the usual "look at it", 0.25 "it moved".
 *
 * The window is a ring of one bin byte per feature per row; a row takes a
 * slot with one atomic add, and each feature's byte is swapped in with an
 * atomic exchange, whose old value's count goes down as the new one's goes
 * up, so concurrent writers keep every count equal to the ring's contents
 * without a lock (a count can be -1 for an instant; readers clamp it).
 * A read-write lock guards only the switch to a new model: requests hold
 * it shared. Cost per scored row: one profile_bin (binary search over 9
 * edges), one exchange and two atomic adds per feature.
 *
 * The window belongs to one serving version, keyed by its load time,
 * checksum and version name: the first request of a newer model clears it;
 * requests still finishing on an older one are not counted.
 */
#ifndef FS_DRIFT_H
#define FS_DRIFT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "registry.h"

#define DRIFT_EPSILON 1e-4        /* share added to every bin */
#define DRIFT_MAX_BYTES (256u << 20) /* window x features bytes at most */

struct drift {
    pthread_rwlock_t lock;     /* shared: recording, reading; exclusive:
                                  switching model */
    size_t window;             /* DRIFT_WINDOW rows, >= 1 */
    /* The model the window counts for (under the lock): */
    double loaded_at;          /* its serving's swap time, -1: none yet */
    uint32_t crc;
    char version[STORE_VERSION_MAX + 1];
    uint32_t n_features;       /* 0: nothing counted (no profile, or no
                                  memory for the ring) */
    uint32_t n_bins;
    _Atomic uint64_t rows;     /* rows recorded since the switch */
    atomic_uchar *ring;        /* window x n_features bins, 0xff: empty */
    _Atomic int32_t *counts;   /* n_features x n_bins rows per bin */
};

/* Prepares d for a window of `window` rows (>= 1). Returns 0, or -1 with
 * err set (the lock cannot be made). */
int drift_init(struct drift *d, size_t window, struct fr_error *err);

/* Frees the ring; d may be NULL. */
void drift_release(struct drift *d);

/* Counts n scored rows of X (row-major, s's features) in the window of
 * serving version s. Does nothing when d is NULL or s's model has no
 * profile. Cannot fail (without memory for a new model's ring, that model
 * is not counted). */
void drift_record(struct drift *d, const struct serving *s, const float *X,
                  size_t n);

/* PSI of one feature: training shares t and recent counts c over n_bins,
 * smoothed as above; writes recent shares c / sum(c) (0 when no rows)
 * into recent when not NULL. Returns NaN when c sums to 0. */
double drift_psi(const double *t, const int32_t *c, uint32_t n_bins,
                 double *recent);

/* Appends forest_serve_feature_drift_psi{feature="..."} gauges and
 * forest_serve_drift_window_rows for serving version s, when its model
 * has a profile and the window holds rows of it; else nothing. */
void drift_render_metrics(struct drift *d, const struct serving *s,
                          struct buf *out);

/* Appends GET /drift's object for s: {"window_rows", "window",
 * "features": [{"name", "psi", "edges", "training_share",
 * "recent_share"}], "model_version"}. s's model must have a profile. */
void drift_render_json(struct drift *d, const struct serving *s,
                       struct buf *out);

#endif
