/*
 * model.h: the model, everything a trained model knows, and its file,
 * model.bin.
 *
 * A model is the forest (trees only) plus what the programs around it need
 * to use it well: the series feature spec (so the server builds forecast
 * rows exactly as training did), the conformal calibration of its
 * intervals, and each feature's training distribution (for drift). Both
 * programs load and save this one type; the codec below is its only file
 * format.
 *
 * Layout (all integers little-endian, floats IEEE-754):
 *
 *   header, 32 bytes
 *     0  magic "RFOREST\0"
 *     8  u32 format version: 3 (this build writes it; reads 1 to 3)
 *    12  u32 flags, 0
 *    16  u64 payload bytes
 *    24  u32 CRC-32 of the payload
 *    28  u32 CRC-32 of header bytes 0..27
 *   payload
 *     u32 n_features, u32 n_trees held, u32 n_trees in the forest,
 *     u32 max_depth, u32 min_samples_leaf, f64 max_features, u32 max_bins,
 *     u64 seed, u32 shard_index, u32 shard_count,
 *     n_features x (u16 length, name bytes), n_features x f64 importance,
 *     f64 oob_rmse (NaN when not computed),
 *     u8 has_series; if 1: u32 n_lags, lags, u32 n_windows, windows,
 *       u32 n_covariates, n_covariates x (u16 length, name bytes),
 *       [2] u32 target, u32 level_window,
 *       [3] u32 strategy (0 recursive, 1 direct), u32 horizon (direct:
 *           the days ahead its trees learned, 1..366; recursive: 0),
 *           u32 n_weekday_lags (direct: 1..8; recursive: 0); a direct
 *           spec's features are the lags, the windows, same_weekday_1..n,
 *           same_weekday_mean, horizon, the calendar and the covariates
 *           (series.h),
 *     [2] u8 has_cover (1: every tree has it, 0: none),
 *     n_trees x (u32 index, u32 depth, u32 n_nodes,
 *                n_nodes x (u32 feature, f32 threshold, u32 left, f32 value),
 *                [2] if has_cover: n_nodes x u32 cover),
 *     [2] u8 has_calibration; if 1: u32 scale, u32 n_horizons,
 *       n_horizons x u32 count, then each horizon's count x f32 scores,
 *     [2] u8 has_profile; if 1: u32 n_bins,
 *       n_features x (n_bins - 1) f32 edges, n_features x n_bins f64 shares
 *
 *   [2]: formats 2 and 3; [3]: format 3 only. A format-1 file loads with
 *   the series spec's format-1 meaning (the trees predict the value
 *   itself) and without cover, calibration or profile; what needs them
 *   says so. Format-1 and format-2 files are recursive models and keep
 *   forecasting recursively (forecast.h).
 *
 * Loading trusts nothing: every length is checked against what remains,
 * both checksums must match, every child index must point forwards (so no
 * walk can loop) or be the node itself (a leaf), every feature must exist,
 * the stored depth must be the real one, a node's cover must be the sum of
 * its children's, so prediction and explanation never read out of bounds
 * whatever the file holds. A format newer than this build's is refused by
 * number: servers are upgraded before trainers (README, "Upgrading").
 */
#ifndef FR_MODEL_H
#define FR_MODEL_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "forest.h"

#include "calibration.h"
#include "profile.h"
#include "series.h"

#define MODEL_FORMAT_VERSION 3     /* written by this build */
#define MODEL_FORMAT_OLDEST 1      /* the oldest it reads */
#define MODEL_HEADER_BYTES 32
#define MODEL_MAX_BYTES (1024ull * 1024 * 1024) /* refuse larger files */

struct cJSON;

struct model {
    struct forest *forest;          /* the trees; never NULL */
    int has_series;                 /* trained on a series: spec is valid */
    struct series_spec series;
    struct calibration calibration; /* n_horizons 0: none */
    struct feature_profile profile; /* n_bins 0: none */
    uint32_t format_version;        /* of the file it was read from, or
                                       MODEL_FORMAT_VERSION when built */
};

/* Wraps a trained forest into a model, taking ownership of f whatever the
 * outcome; spec (NULL in tabular mode) is copied. Returns the model, or
 * NULL with err set (no memory); f NULL returns NULL and leaves err as the
 * call that failed to make f set it, so model_new(forest_train(...)) reads
 * as one step. */
struct model *model_new(struct forest *f, const struct series_spec *spec,
                        struct fr_error *err);

/* Frees the model and everything it owns; model_free(NULL) does nothing. */
void model_free(struct model *m);

/* Prediction of one feature row, as series_build_row or a client builds
 * it, in the target's units: the trees' answer on the row they see
 * (series_relative_row) plus the level it subtracted. work holds
 * n_features floats (its contents are overwritten). Cannot fail. */
double model_predict_row(const struct model *m, const float *row,
                         float *work);

/* Predicts n_rows rows of X (row-major) into out on n_threads threads (0 =
 * all cores). work holds n_rows x n_features floats for a model whose
 * trees see relative rows (model_relative), else may be NULL; it may be X
 * itself, which is then overwritten. Cannot fail. */
void model_predict(const struct model *m, const float *X, size_t n_rows,
                   size_t n_threads, float *work, double *out);

/* 1 when the trees see rows relative to a level (a SERIES_TARGET_DIFF
 * series model), so model_predict needs work. */
int model_relative(const struct model *m);

/* forest_predict_spread_into for one row, in the target's units: mean,
 * standard deviation and q_lo/q_hi quantiles of the trees' predictions.
 * work holds n_trees doubles, row_work n_features floats. */
void model_predict_spread(const struct model *m, const float *row,
                          double q_lo, double q_hi, double *work,
                          float *row_work, double *mean, double *std,
                          double *lo, double *hi);

/* Adds to the JSON object obj what the model itself says about itself:
 * "mode", "features" (names in model order), "feature_importances",
 * "hyperparameters" and, for a series model, "series" (lags, windows,
 * covariates, history_days, target, level_window, strategy, horizon,
 * weekday_lags), and
 * "capabilities" (intervals, explanations, drift: what its file kept);
 * "oob_rmse" inside "metrics" is the caller's. The trainer's metadata.json
 * and the server's description of a lone model.bin both start from this,
 * so the two cannot drift. Returns 0, or -1 when memory runs out (obj may
 * then hold part of it). */
int model_describe(const struct model *m, struct cJSON *obj);

/* Serialises m (in the current format) into a new malloc'd buffer.
 * Returns 0 and sets *buf, *len and *crc (the payload's CRC-32), or -1 with
 * err set (no memory, or larger than MODEL_MAX_BYTES). */
int model_encode(const struct model *m, uint8_t **buf, size_t *len,
                 uint32_t *crc, struct fr_error *err);

/* Parses and validates a whole model file held in memory, of any format
 * from MODEL_FORMAT_OLDEST to MODEL_FORMAT_VERSION. Returns the model (the
 * caller frees it), or NULL with err saying what is wrong: "truncated",
 * "checksum mismatch", "format version 4 is newer than this build reads
 * (versions 1 to 3): upgrade forest-serve before forest-train", "tree 3
 * node 17: child 12 does not follow its parent", ... */
struct model *model_decode(const uint8_t *buf, size_t len, uint32_t *crc,
                           struct fr_error *err);

/* Writes m to path durably (file_write_atomic). Returns 0, or -1 with err
 * set; path then holds the old file, or the whole new one if only the
 * final directory fsync failed. *crc may be NULL. */
int model_save(const struct model *m, const char *path, uint32_t *crc,
               struct fr_error *err);

/* Reads and decodes path. Returns the model or NULL with err set, naming
 * the file. *crc may be NULL. */
struct model *model_load(const char *path, uint32_t *crc,
                         struct fr_error *err);

#endif
