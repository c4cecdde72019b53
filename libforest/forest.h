/*
 * forest.h: random-forest regression: training, prediction, shards.
 *
 * A forest is a set of CART regression trees (squared error), each grown on
 * a bootstrap sample with a random subset of features tried at every split,
 * and predicts the mean of its trees. The API mirrors scikit-learn's
 * RandomForestRegressor so results can be compared one to one.
 */
#ifndef FR_FOREST_H
#define FR_FOREST_H

#include <stddef.h>
#include <stdint.h>

#include "dataset.h"
#include "error.h"

/* The hyperparameters' ranges: one table for the trainer's settings (its
 * config table uses these bounds) and for the model decoder's checks. */
#define FOREST_MAX_TREES 100000
#define FOREST_MAX_DEPTH 64
#define FOREST_MAX_MIN_SAMPLES_LEAF 1000000000
#define FOREST_MAX_BINS 256

struct forest_params {
    uint32_t n_trees;          /* trees in the whole forest,
                                  1..FOREST_MAX_TREES */
    uint32_t max_depth;        /* 1..FOREST_MAX_DEPTH; the root is depth 0 */
    uint32_t min_samples_leaf; /* distinct rows in each leaf,
                                  1..FOREST_MAX_MIN_SAMPLES_LEAF */
    double max_features;       /* (0, 1]: fraction of features tried per
                                  split, at least one */
    uint32_t max_bins;         /* 2..FOREST_MAX_BINS histogram bins */
    uint32_t bin_sample;       /* with more training rows than this, a
                                  feature with more than max_bins distinct
                                  values gets its bin edges from this many
                                  rows drawn with a fixed seed; 0 = sort
                                  every row */
    uint64_t seed;             /* same seed, same forest, any thread count */
    uint32_t n_threads;        /* 0 = one per core */
    uint32_t shard_index;      /* this run grows trees t with */
    uint32_t shard_count;      /*   t % shard_count == shard_index; >= 1 */
    int oob;                   /* compute the out-of-bag score */
};

/* One node of a tree. A leaf points to itself (left == its own index) and
 * has threshold +inf, so prediction can take exactly `depth` steps with no
 * branch: i = nodes[i].left + (x[nodes[i].feature] > nodes[i].threshold). */
struct tree_node {
    uint32_t feature;  /* split feature; 0 in a leaf */
    float threshold;   /* go left when x[feature] <= threshold */
    uint32_t left;     /* left child; the right child is left + 1 */
    float value;       /* mean target of the node's bootstrap sample */
};

struct tree {
    uint32_t index;          /* the tree's number in the full forest */
    uint32_t depth;          /* longest root-to-leaf path, in edges */
    uint32_t n_nodes;        /* >= 1; nodes[0] is the root */
    struct tree_node *nodes; /* children always follow their parent */
    uint32_t *cover;         /* n_nodes bootstrap weights (draws) of the rows
                                reaching each node, the "cover" TreeSHAP
                                weighs paths by; a node's is the sum of its
                                children's. NULL when read from a model file
                                that predates it (format 1). Kept apart from
                                nodes so prediction walks 16-byte nodes. */
};

struct forest {
    uint32_t n_features;      /* >= 1 */
    uint32_t n_trees;         /* trees held (all of them, or one shard's) */
    struct tree *trees;       /* n_trees, ordered by index */
    char **feature_names;     /* n_features owned, unique */
    double *importances;      /* n_features impurity importances, sum 1 */
    struct forest_params params;
    double oob_rmse;          /* out-of-bag RMSE, or NaN when not computed */
    size_t oob_rows;          /* rows that were out of bag at least once */
    struct tree_node *walk;   /* every tree's nodes in one array, children
                                 as positions in it, or NULL: see
                                 forest_prepare_walk */
    uint32_t *walk_root;      /* n_trees: each tree's root in walk */
};

/* Default hyperparameters: scikit-learn's, except max_depth 10 where
 * scikit-learn grows without limit (the seed plan's setting, and a bounded
 * model size). */
void forest_params_default(struct forest_params *p);

/* Checks every field against the ranges above; returns 0, or -1 with err
 * naming the field in the library's terms (n_trees, max_depth, ...), since
 * the caller may be the trainer or a decoder reading a model file. */
int forest_params_check(const struct forest_params *p, struct fr_error *err);

/* Progress callback, called after each tree from a worker thread while the
 * library holds a lock, so it needs no locking of its own. */
typedef void (*forest_progress_fn)(void *arg, uint32_t done, uint32_t total);

/* Training rows up to which each growing thread keeps its rows in two
 * blocks, partitioning one into the other, faster but with more memory
 * (forest.c, partition); above it, one block and a spill buffer. The trees
 * are the same bits either way: only the unit tests change it, to compare
 * the two. */
extern size_t forest_two_blocks_rows;

/* Grows the trees of params' shard on train. Returns the forest, or NULL
 * with err set (bad parameters, no memory). The caller frees it. */
struct forest *forest_train(const struct dataset *train,
                            const struct forest_params *params,
                            forest_progress_fn progress, void *progress_arg,
                            struct fr_error *err);

/* Prediction of one row of n_features values: the mean over trees. */
double forest_predict_row(const struct forest *f, const float *row);

/* Copies every tree's nodes into one forest-wide array (f->walk) for the
 * one-row walks (forest_predict_row, forest_predict_spread*): with one
 * base address for all trees instead of one a tree, the walk of ROW_TREES
 * trees at once keeps its positions in registers, 8 instructions a step
 * instead of about 10. The answers are the same bits with or without it.
 * It costs a second copy of the nodes (16 bytes each), so a forest of
 * more than 4M nodes (64 MiB) is left walking tree by tree. Call it once
 * the trees are final; again is a no-op. Returns 0, or -1 when memory
 * runs out (the forest then walks tree by tree, as before). */
int forest_prepare_walk(struct forest *f);

/* Mean, standard deviation and the q_lo/q_hi quantiles (e.g. 0.05 and
 * 0.95, linear interpolation as numpy's default) of the trees' predictions
 * for one row: the spread of the forest's opinion. Returns 0, or -1 when
 * memory runs out. */
int forest_predict_spread(const struct forest *f, const float *row,
                          double q_lo, double q_hi, double *mean,
                          double *std, double *lo, double *hi);

/* forest_predict_spread() in the caller's memory: work holds n_trees
 * doubles (its contents are overwritten). Cannot fail; allocates nothing,
 * for a server that keeps work per connection. */
void forest_predict_spread_into(const struct forest *f, const float *row,
                                double q_lo, double q_hi, double *work,
                                double *mean, double *std, double *lo,
                                double *hi);

/* Predicts n_rows rows of X (row-major) into out on n_threads threads
 * (0 = all cores). Cannot fail. */
void forest_predict(const struct forest *f, const float *X, size_t n_rows,
                    size_t n_threads, double *out);

/* Joins shards (each holding the trees t % shard_count == shard_index of one
 * forest) into the whole forest, trees ordered by index. Returns NULL with
 * err set when the shards disagree on features or hyperparameters, or a
 * tree is missing or repeated. The shards are left as they were. */
struct forest *forest_merge(struct forest *const *shards, size_t n_shards,
                            struct fr_error *err);

void forest_free(struct forest *f);

#endif
