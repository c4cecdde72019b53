/*
 * explain.h: exact per-prediction explanations of a model (TreeSHAP).
 *
 * Path-dependent TreeSHAP (Lundberg, Erion and Lee 2018, "Consistent
 * individualized feature attribution for tree ensembles", Algorithm 2):
 * for each tree, the Shapley values of the features for one row, where a
 * feature outside the coalition is integrated out by following both
 * children in proportion to their training cover. A forest's values are
 * the mean of its trees'. The values add up exactly (to rounding) to the
 * prediction minus the base value, the cover-weighted mean leaf value:
 *
 *   prediction = base + sum over features of phi[f]  (+ phi[level])
 *
 * A series model whose target is the difference to a level (model_relative:
 * the trees see series_relative_row, the level, roll_mean over
 * level_window, subtracted from the lags and rolling means) is explained
 * on that relative row, and the level it adds back is a term of its own,
 * phi[n_features], named EXPLAIN_LEVEL_NAME: the trees explain value -
 * level, the level term carries the rest. For every other model that term
 * is 0 and is not reported.
 *
 * Cost: O(leaves x depth^2) per tree and row; no allocation (the caller
 * passes the path memory, explain_work_doubles()).
 */
#ifndef FR_EXPLAIN_H
#define FR_EXPLAIN_H

#include <stddef.h>

#include "error.h"
#include "model.h"

#define EXPLAIN_LEVEL_NAME "level"

/* Whether m can be explained: every tree keeps its cover (a format-2
 * file), and for a relative model no feature is named
 * EXPLAIN_LEVEL_NAME. Returns 0, or -1 with err saying why not. */
int explain_check(const struct model *m, struct fr_error *err);

/* 1 when explanations of m carry the level term phi[n_features]. */
int explain_has_level(const struct model *m);

/* Doubles of path memory explain_row needs for m: 4 x (D+2)(D+3)/2 for
 * the deepest tree's depth D. */
size_t explain_work_doubles(const struct model *m);

/* The base value: the mean over trees of each tree's cover-weighted mean
 * leaf value, what the model predicts knowing no feature. O(nodes); the
 * same for every row, so compute it once per request. m must pass
 * explain_check. Cannot fail. */
double explain_base(const struct model *m);

/* The contributions of one row (as model_predict_row takes it) into phi,
 * n_features + 1 doubles: phi[f] for each feature, phi[n_features] the
 * level term (0 unless explain_has_level). work holds
 * explain_work_doubles() doubles, row_work n_features floats (both
 * overwritten). m must pass explain_check. Cannot fail; allocates
 * nothing. */
void explain_row(const struct model *m, const float *row, double *work,
                 float *row_work, double *phi);

#endif
