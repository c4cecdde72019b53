/*
 * xgboost.h: a model written as an XGBoost JSON model (the format
 * XGBoost 1.7's Booster.save_model writes and Booster(model_file=) loads,
 * which Triton's FIL backend and KServe's XGBoost server also read).
 *
 * XGBoost adds up its trees' leaves to base_score; our forest averages
 * them. So every tree is written with its values divided by the number of
 * trees, base_score is 0 and the objective reg:squarederror (the identity
 * link): XGBoost then computes the same mean, in float32 where we use
 * double. Three more differences are bridged:
 *
 *   - we go left when x <= threshold, XGBoost when x < split_condition:
 *     split_condition is the next float above the threshold,
 *     nextafterf(threshold, +inf), so for every float x both go the same
 *     way, a row exactly on a threshold included;
 *   - a missing value (NaN) goes left in our trees (NaN > threshold is
 *     false): every split has default_left = 1, so XGBoost sends a missing
 *     value, NaN or an absent sparse entry, left too;
 *   - XGBoost's TreeSHAP (pred_contribs) weighs paths by each node's
 *     sum_hessian: it is our cover, the bootstrap draws reaching the node,
 *     so its contributions are ours (explain.h). A format-1 file kept no
 *     cover: sum_hessian is then 0 and XGBoost's contributions NaN, while
 *     its predictions are still ours.
 *
 * Not every model can be written: xgboost_check says which cannot.
 */
#ifndef FR_XGBOOST_H
#define FR_XGBOOST_H

#include <stddef.h>

#include "error.h"
#include "model.h"

/* Whether m can be written as an XGBoost model, whose prediction is a
 * function of the feature row alone: not a series model whose trees see
 * the row relative to a level (SERIES_TARGET_DIFF: XGBoost cannot add the
 * level back), nor any series target but the value itself; feature names
 * XGBoost accepts (no '[', ']' or '<'); every split threshold below
 * FLT_MAX (its next float must be finite, JSON has no
 * infinity). Returns 0, or -1 with err saying why not, in one line.
 * Cannot fail otherwise. */
int xgboost_check(const struct model *m, struct fr_error *err);

/* 1 when every tree of m keeps its cover, so XGBoost's pred_contribs of
 * the export are m's explanations; 0 for a format-1 file (they are NaN).
 * Cannot fail. */
int xgboost_has_cover(const struct model *m);

/* Writes m, which must pass xgboost_check, as an XGBoost JSON model into
 * a new malloc'd, NUL-terminated buffer (*len bytes without the NUL; the
 * caller frees *json). version (NULL for none) is recorded in the
 * learner's attributes as "model_version". Returns 0, or -1 with err set
 * (no memory, or the document would pass XGBOOST_MAX_BYTES). */
#define XGBOOST_MAX_BYTES (1024ull * 1024 * 1024)
int xgboost_encode(const struct model *m, const char *version, char **json,
                   size_t *len, struct fr_error *err);

#endif
