/*
 * model.h: the model file, model.bin.
 *
 * Layout (all integers little-endian, floats IEEE-754):
 *
 *   header, 32 bytes
 *     0  magic "RFOREST\0"
 *     8  u32 format version (MODEL_FORMAT_VERSION)
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
 *     n_trees x (u32 index, u32 depth, u32 n_nodes,
 *                n_nodes x (u32 feature, f32 threshold, u32 left, f32 value))
 *
 * Loading trusts nothing: every length is checked against what remains,
 * both checksums must match, every child index must point forwards (so no
 * walk can loop) or be the node itself (a leaf), every feature must exist,
 * and the stored depth must be the real one, so prediction never reads out
 * of bounds whatever the file holds.
 */
#ifndef FR_MODEL_H
#define FR_MODEL_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "forest.h"

#define MODEL_FORMAT_VERSION 1
#define MODEL_HEADER_BYTES 32
#define MODEL_MAX_BYTES (1024ull * 1024 * 1024) /* refuse larger files */

struct cJSON;

/* Adds to the JSON object obj what the forest itself says about the model:
 * "mode", "features" (names in model order), "feature_importances",
 * "hyperparameters" and, for a series model, "series" (lags, windows,
 * covariates, history_days); "oob_rmse" inside "metrics" is the caller's.
 * The trainer's metadata.json and the server's description of a lone
 * model.bin both start from this, so the two cannot drift. Returns 0, or -1
 * when memory runs out (obj may then hold part of it). */
int model_describe(const struct forest *f, struct cJSON *obj);

/* Serialises f into a new malloc'd buffer. Returns 0 and sets *buf, *len and
 * *crc (the payload's CRC-32), or -1 with err set (no memory). */
int model_encode(const struct forest *f, uint8_t **buf, size_t *len,
                 uint32_t *crc, struct fr_error *err);

/* Parses and validates a whole model file held in memory. Returns the
 * forest (the caller frees it), or NULL with err saying what is wrong:
 * "truncated", "checksum mismatch", "format version 9 is not supported",
 * "tree 3 node 17: child 12 does not follow its parent", ... */
struct forest *model_decode(const uint8_t *buf, size_t len, uint32_t *crc,
                            struct fr_error *err);

/* Writes f to path durably: a temporary file in the same directory,
 * fsync, rename over path, fsync of the directory. Returns 0, or -1 with
 * err set (also when the model would exceed MODEL_MAX_BYTES); path then
 * holds the old file, or the whole new one if only the final directory
 * fsync failed. *crc may be NULL. */
int model_save(const struct forest *f, const char *path, uint32_t *crc,
               struct fr_error *err);

/* Reads and decodes path. Returns the forest or NULL with err set, naming
 * the file. *crc may be NULL. */
struct forest *model_load(const char *path, uint32_t *crc,
                          struct fr_error *err);

#endif
