/*
 * test_forest.c: split finding, tree growth, bootstrap, feature
 * subsampling, determinism across threads, shards and prediction.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "forest.h"
#include "rng.h"
#include "test.h"

/* n rows of n_features uniform features in [0, 1); y from fn. */
static void make_table(struct dataset *ds, size_t n, size_t n_features,
                       double (*fn)(const float *x, struct rng *r),
                       uint64_t seed)
{
    static const char *names[] = {"a", "b", "c", "d", "e", "f"};
    struct fr_error err = {{0}};
    struct rng r;
    float x[6];

    rng_seed(&r, seed, 0);
    dataset_init(ds, n_features, names, n, 0, &err);
    for (size_t i = 0; i < n; i++) {
        for (size_t f = 0; f < n_features; f++)
            x[f] = (float)rng_uniform(&r);
        dataset_push(ds, x, fn(x, &r), 0, 0, 0.0, &err);
    }
}

static double step_on_a(const float *x, struct rng *r)
{
    (void)r;
    return x[0] <= 0.3f ? 10.0 : 20.0;
}

static double smooth(const float *x, struct rng *r)
{
    return 10.0 * sin(3.0 * x[0]) + 5.0 * x[1] * x[1] + 0.1 * rng_normal(r);
}

static double only_a_matters(const float *x, struct rng *r)
{
    (void)r;
    return 100.0 * x[0];
}

static struct forest *train(const struct dataset *ds, uint32_t trees,
                            uint32_t depth, void (*tweak)(struct forest_params *))
{
    struct forest_params p;
    struct fr_error err = {{0}};
    struct forest *f;

    forest_params_default(&p);
    p.n_trees = trees;
    p.max_depth = depth;
    p.n_threads = 2;
    if (tweak != NULL)
        tweak(&p);
    f = forest_train(ds, &p, NULL, NULL, &err);
    if (f == NULL)
        printf("  train failed: %s\n", err.msg);
    return f;
}

static int same_trees(const struct forest *a, const struct forest *b)
{
    if (a->n_trees != b->n_trees)
        return 0;
    for (uint32_t t = 0; t < a->n_trees; t++) {
        if (a->trees[t].n_nodes != b->trees[t].n_nodes ||
            a->trees[t].index != b->trees[t].index ||
            memcmp(a->trees[t].nodes, b->trees[t].nodes,
                   a->trees[t].n_nodes * sizeof(struct tree_node)) != 0)
            return 0;
    }
    return 1;
}

static void test_split_finding(void)
{
    struct dataset ds;
    struct forest *f;
    const struct tree_node *root;
    float lo[2] = {0.2f, 0.9f}, hi[2] = {0.4f, 0.1f};

    make_table(&ds, 2000, 2, step_on_a, 1);
    f = train(&ds, 1, 1, NULL);
    root = &f->trees[0].nodes[0];
    test_cond("split-1.1 a step in feature a is found at the root",
              f->trees[0].n_nodes == 3 && root->feature == 0 &&
                  root->threshold > 0.28f && root->threshold < 0.32f);
    /* 2000 distinct values in 256 quantile bins: the bin holding 0.3 may
     * mix a few rows of both steps, so the leaves are close, not exact. */
    test_cond("split-1.2 both sides predict their step",
              fabs(forest_predict_row(f, lo) - 10.0) < 0.1 &&
                  fabs(forest_predict_row(f, hi) - 20.0) < 0.1);
    forest_free(f);
    dataset_release(&ds);
}

/* The deepest leaf, found by walking the nodes (not the stored t->depth,
 * which is what is being checked): children follow their parent, and a
 * leaf points to itself. Returns -1 on a malformed tree. */
static int max_leaf_depth(const struct tree *t)
{
    int *depth = calloc(t->n_nodes, sizeof *depth);
    int deepest = -1;

    if (depth == NULL)
        return -1;
    for (uint32_t i = 0; i < t->n_nodes; i++) {
        uint32_t l = t->nodes[i].left;
        if (l == i) {
            if (depth[i] > deepest)
                deepest = depth[i];
        } else if (l > i && l + 1 < t->n_nodes) {
            depth[l] = depth[l + 1] = depth[i] + 1;
        } else {
            deepest = -1;
            break;
        }
    }
    free(depth);
    return deepest;
}

static void min_leaf_20(struct forest_params *p)
{
    p->min_samples_leaf = 20;
}

static void test_growth(void)
{
    struct dataset ds;
    struct forest *f;
    int ok = 1;

    make_table(&ds, 3000, 2, smooth, 2);
    f = train(&ds, 5, 4, NULL);
    for (uint32_t t = 0; t < f->n_trees; t++) {
        int d = max_leaf_depth(&f->trees[t]);
        /* 3000 smooth rows: every tree reaches the limit, none passes it. */
        ok &= d == 4 && (uint32_t)d == f->trees[t].depth &&
              f->trees[t].n_nodes <= 31;
    }
    test_cond("grow-1.1 trees stop at max_depth", ok);
    forest_free(f);

    /* A leaf's distinct rows: count rows landing in each leaf of tree 0
     * among the training rows (bootstrap rows are a subset, so every
     * leaf reached by training rows must hold at least 1 of them). */
    f = train(&ds, 1, 12, min_leaf_20);
    {
        uint32_t *hits = calloc(f->trees[0].n_nodes, sizeof *hits);
        const struct tree *t = &f->trees[0];
        int leaves_ok = 1;
        for (size_t i = 0; i < ds.n_rows; i++) {
            uint32_t k = 0;
            const float *x = ds.X + i * ds.n_features;
            while (t->nodes[k].left != k)
                k = t->nodes[k].left + (x[t->nodes[k].feature] >
                                        t->nodes[k].threshold);
            hits[k]++;
        }
        /* In-bag rows are ~63% of rows; a leaf with >= 20 distinct
         * in-bag rows holds >= 20 training rows. */
        for (uint32_t k = 0; k < t->n_nodes; k++) {
            if (t->nodes[k].left == k)
                leaves_ok &= hits[k] >= 20;
        }
        test_cond("grow-1.2 min_samples_leaf 20 leaves hold >= 20 rows",
                  leaves_ok);
        free(hits);
    }
    forest_free(f);

    f = train(&ds, 30, 10, NULL);
    {
        double se = 0.0;
        struct dataset test;
        make_table(&test, 500, 2, smooth, 99);
        for (size_t i = 0; i < test.n_rows; i++) {
            double e = forest_predict_row(f, test.X + i * 2) - test.y[i];
            se += e * e;
        }
        /* y spans about 15 units; a fitted forest is far below 1.0. */
        test_cond("grow-1.3 a smooth function is learned (test RMSE < 0.5)",
                  sqrt(se / test.n_rows) < 0.5);
        dataset_release(&test);
    }
    forest_free(f);
    dataset_release(&ds);
}

static void one_thread(struct forest_params *p)
{
    p->n_threads = 1;
}

static void other_seed(struct forest_params *p)
{
    p->seed = 7;
}

static void test_determinism(void)
{
    struct dataset ds;
    struct forest *a, *b, *c;

    make_table(&ds, 2000, 3, smooth, 3);
    a = train(&ds, 8, 6, NULL);
    b = train(&ds, 8, 6, one_thread);
    c = train(&ds, 8, 6, other_seed);
    test_cond("boot-1.1 same seed, same forest on 1 or 2 threads",
              same_trees(a, b));
    test_cond("boot-1.2 another seed, another forest", !same_trees(a, c));
    test_cond("boot-1.3 bootstrap makes trees differ within a forest",
              a->trees[0].n_nodes != a->trees[1].n_nodes ||
                  memcmp(a->trees[0].nodes, a->trees[1].nodes,
                         a->trees[0].n_nodes * sizeof(struct tree_node)));
    forest_free(a);
    forest_free(b);
    forest_free(c);
    dataset_release(&ds);
}

static void sample_300(struct forest_params *p)
{
    p->bin_sample = 300;
}

static void sample_300_one_thread(struct forest_params *p)
{
    p->bin_sample = 300;
    p->n_threads = 1;
}

static void sample_all(struct forest_params *p)
{
    p->bin_sample = 0;
}

/* Feature a takes 0..3 and, on one row only, 7; b is uniform. y is large
 * exactly where a is 7, so the best first split isolates that row. */
static double rare_a(const float *x, struct rng *r)
{
    (void)r;
    return x[0] == 7.0f ? 1000.0 : x[1];
}

static void test_bin_sample(void)
{
    struct dataset ds, few;
    struct forest *a, *b, *c, *d, *e;
    struct fr_error err = {{0}};
    struct rng r;
    int isolated = 0;

    /* 2000 rows > a 300-row sample: b and c have 2000 distinct values,
     * so their edges come from the sample. */
    make_table(&ds, 2000, 3, smooth, 5);
    a = train(&ds, 6, 6, sample_300);
    b = train(&ds, 6, 6, sample_300_one_thread);
    c = train(&ds, 6, 6, sample_all);
    test_cond("bins-1.1 edges from a sample: same forest on 1 or 2 threads",
              same_trees(a, b));
    test_cond("bins-1.2 edges from a sample differ from sorting every row "
              "(the sample is used)", !same_trees(a, c));

    /* Few distinct values: counted over every row, so the rare 7 keeps its
     * own bin whatever the sample drew, and the forest is the exact one. */
    const char *names[] = {"a", "b"};
    dataset_init(&few, 2, names, 3000, 0, &err);
    rng_seed(&r, 11, 0);
    for (size_t i = 0; i < 3000; i++) {
        float x[2];
        x[0] = i == 1234 ? 7.0f : (float)(i % 4);
        x[1] = (float)(i % 5);
        dataset_push(&few, x, rare_a(x, &r), 0, 0, 0.0, &err);
    }
    d = train(&few, 8, 3, sample_300);
    e = train(&few, 8, 3, sample_all);
    test_cond("bins-1.3 a few distinct values: the sample changes nothing",
              same_trees(d, e));
    for (uint32_t t = 0; t < d->n_trees; t++)
        isolated += d->trees[t].nodes[0].feature == 0 &&
                    d->trees[t].nodes[0].threshold == 5.0f;
    test_cond("bins-1.4 a value on one row of 3000 keeps its own bin",
              isolated > 0);
    forest_free(a);
    forest_free(b);
    forest_free(c);
    forest_free(d);
    forest_free(e);
    dataset_release(&ds);
    dataset_release(&few);
}

static void one_feature(struct forest_params *p)
{
    p->max_features = 0.34; /* 1 of 3 features per split */
}

static int splits_on(const struct forest *f, uint32_t feature)
{
    int n = 0;

    for (uint32_t t = 0; t < f->n_trees; t++) {
        for (uint32_t k = 0; k < f->trees[t].n_nodes; k++) {
            const struct tree_node *nd = &f->trees[t].nodes[k];
            n += nd->left != k && nd->feature == feature;
        }
    }
    return n;
}

static void test_feature_sampling(void)
{
    struct dataset ds;
    struct forest *all, *sub;

    make_table(&ds, 2000, 3, only_a_matters, 4);
    all = train(&ds, 10, 3, NULL);
    sub = train(&ds, 10, 3, one_feature);
    test_cond("imp-1.1 with every feature tried, only the informative one "
              "is split on",
              splits_on(all, 0) > 0 && splits_on(all, 1) == 0 &&
                  splits_on(all, 2) == 0);
    test_cond("imp-1.2 with one random feature per split, the others are "
              "used too",
              splits_on(sub, 1) > 0 && splits_on(sub, 2) > 0);
    test_cond("imp-1.3 importances sum to 1 and favour the informative one",
              fabs(all->importances[0] + all->importances[1] +
                   all->importances[2] - 1.0) < 1e-9 &&
                  all->importances[0] > 0.99);
    forest_free(all);
    forest_free(sub);
    dataset_release(&ds);
}

static void test_prediction(void)
{
    struct dataset ds;
    struct forest *f;
    double *batch;
    double mean, sd, lo, hi;
    int ok = 1;

    make_table(&ds, 3000, 2, smooth, 5);
    f = train(&ds, 20, 8, NULL);
    batch = malloc(ds.n_rows * sizeof *batch);
    forest_predict(f, ds.X, ds.n_rows, 2, batch);
    for (size_t i = 0; i < ds.n_rows; i++)
        ok &= batch[i] == forest_predict_row(f, ds.X + i * 2);
    test_cond("pred-1.1 batch prediction equals row-by-row prediction", ok);
    test_cond("pred-1.2 the spread brackets the mean",
              forest_predict_spread(f, ds.X, 0.05, 0.95, &mean, &sd, &lo,
                                    &hi) == 0 &&
                  lo < mean && mean < hi && sd > 0.0 &&
                  mean == forest_predict_row(f, ds.X));
    free(batch);
    forest_free(f);
    dataset_release(&ds);
}

static void few_per_leaf(struct forest_params *p)
{
    p->min_samples_leaf = 150; /* leaves stop at different depths */
}

/* forest_prepare_walk's forest-wide copy gives the walk tree by tree's
 * bits: 23 trees (two full groups of ROW_TREES and a short one), of
 * depths that differ, on rows with NaN and infinities as well. */
static void test_prepared_walk(void)
{
    static const float odd[][2] = {
        {NAN, 0.5f}, {0.5f, NAN}, {INFINITY, -INFINITY}, {-INFINITY, 2.0f},
        {0.0f, 1.0f}, {-0.0f, 0.999f},
    };
    struct dataset ds;
    struct forest *f;
    double *before, mean[2], sd[2], lo[2], hi[2];
    size_t n_rows, n_odd = sizeof odd / sizeof *odd;
    uint32_t min_depth = UINT32_MAX, max_depth = 0;
    int ok = 1, spread_ok;

    make_table(&ds, 3000, 2, smooth, 9);
    f = train(&ds, 23, 9, few_per_leaf);
    n_rows = ds.n_rows + n_odd;
    before = malloc(n_rows * sizeof *before);
    if (f == NULL || before == NULL) {
        test_cond("walk-1.0 trained", 0);
        goto done;
    }
    for (uint32_t t = 0; t < f->n_trees; t++) {
        min_depth = f->trees[t].depth < min_depth ? f->trees[t].depth : min_depth;
        max_depth = f->trees[t].depth > max_depth ? f->trees[t].depth : max_depth;
    }
    for (size_t i = 0; i < n_rows; i++)
        before[i] = forest_predict_row(f, i < ds.n_rows ? ds.X + i * 2
                                                        : odd[i - ds.n_rows]);
    spread_ok = forest_predict_spread(f, odd[0], 0.1, 0.9, &mean[0], &sd[0],
                                      &lo[0], &hi[0]) == 0;
    test_cond("walk-1.1 the trees' depths differ", min_depth < max_depth);
    test_cond("walk-1.2 prepared, twice",
              f->walk == NULL && forest_prepare_walk(f) == 0 &&
                  f->walk != NULL && forest_prepare_walk(f) == 0);
    for (size_t i = 0; i < n_rows; i++)
        ok &= before[i] == forest_predict_row(f, i < ds.n_rows
                                                     ? ds.X + i * 2
                                                     : odd[i - ds.n_rows]);
    test_cond("walk-1.3 the same bits on every row, NaN and infinities too",
              ok);
    spread_ok &= forest_predict_spread(f, odd[0], 0.1, 0.9, &mean[1], &sd[1],
                                       &lo[1], &hi[1]) == 0;
    test_cond("walk-1.4 the same spread",
              spread_ok && mean[0] == mean[1] && sd[0] == sd[1] &&
                  lo[0] == lo[1] && hi[0] == hi[1]);
done:
    free(before);
    forest_free(f);
    dataset_release(&ds);
}

static void test_shards(void)
{
    struct dataset ds;
    struct forest_params p;
    struct fr_error err = {{0}};
    struct forest *whole, *shard[3], *merged, *swapped[3], *other;

    make_table(&ds, 1500, 2, smooth, 6);
    forest_params_default(&p);
    p.n_trees = 7;
    p.max_depth = 5;
    whole = forest_train(&ds, &p, NULL, NULL, &err);
    p.shard_count = 3;
    for (uint32_t i = 0; i < 3; i++) {
        p.shard_index = i;
        shard[i] = forest_train(&ds, &p, NULL, NULL, &err);
    }
    test_cond("shard-1.1 shards split the trees 3/2/2",
              shard[0]->n_trees == 3 && shard[1]->n_trees == 2 &&
                  shard[2]->n_trees == 2);
    merged = forest_merge(shard, 3, &err);
    test_cond("shard-1.2 merged shards are exactly the whole forest",
              merged != NULL && same_trees(whole, merged));
    forest_free(merged);
    /* Bin edges from a sample of 300 of the 1500 rows: each shard draws
     * the same sample, so the merge is still exactly the whole forest. */
    {
        struct forest *sampled, *part[3], *joined;
        uint32_t bin_sample = p.bin_sample;
        p.bin_sample = 300;
        p.shard_count = 1;
        p.shard_index = 0;
        sampled = forest_train(&ds, &p, NULL, NULL, &err);
        p.shard_count = 3;
        for (uint32_t i = 0; i < 3; i++) {
            p.shard_index = i;
            p.n_threads = 1 + i % 2;
            part[i] = forest_train(&ds, &p, NULL, NULL, &err);
        }
        joined = forest_merge(part, 3, &err);
        test_cond("shard-1.5 with sampled bin edges, merged shards are "
                  "exactly the whole forest",
                  joined != NULL && same_trees(sampled, joined) &&
                      !same_trees(sampled, whole));
        forest_free(joined);
        for (int i = 0; i < 3; i++)
            forest_free(part[i]);
        forest_free(sampled);
        p.bin_sample = bin_sample;
        p.n_threads = 0;
        p.shard_count = 3;
    }
    test_cond("shard-1.3 a missing shard is refused",
              forest_merge(shard, 2, &err) == NULL &&
                  strstr(err.msg, "missing or repeated") != NULL);
    /* Shard 1 of another run (another seed) has the right tree count, so
     * only the check that the shards belong to one forest can refuse it. */
    p.seed += 1;
    p.shard_index = 1;
    other = forest_train(&ds, &p, NULL, NULL, &err);
    swapped[0] = shard[0];
    swapped[1] = other;
    swapped[2] = shard[2];
    test_cond("shard-1.4 shards of different runs are refused",
              other != NULL && other->n_trees == shard[1]->n_trees &&
                  forest_merge(swapped, 3, &err) == NULL &&
                  strstr(err.msg, "do not belong to one forest") != NULL);
    forest_free(other);
    for (int i = 0; i < 3; i++)
        forest_free(shard[i]);
    forest_free(whole);
    dataset_release(&ds);
}

static void test_params(void)
{
    struct forest_params p;
    struct fr_error err = {{0}};

    forest_params_default(&p);
    p.n_trees = 0;
    test_cond("param-1.1 zero trees is refused naming n_trees, in the "
              "library's terms, not a setting of one program",
              forest_params_check(&p, &err) != 0 &&
                  strstr(err.msg, "n_trees must be 1 to 100000") != NULL &&
                  strstr(err.msg, "N_ESTIMATORS") == NULL);
    forest_params_default(&p);
    p.max_features = 0.0;
    test_cond("param-1.2 max_features 0 is refused",
              forest_params_check(&p, &err) != 0);
    forest_params_default(&p);
    p.shard_index = 2;
    p.shard_count = 2;
    test_cond("param-1.3 shard index beyond the count is refused",
              forest_params_check(&p, &err) != 0);
}

/* Rows of 3, 12, 19 and 40 features: each width moves a row of bins in
 * the partition differently (padded to 8 bytes, two 8- or 16-byte moves, a
 * loop). y steps on the first and the last feature only, so a row whose
 * bins were moved wrong, or kept apart from its target, would show in the
 * leaves. */
static void test_row_widths(void)
{
    static const size_t widths[] = {3, 12, 19, 40};
    char name_buf[40][16];
    const char *names[40];
    struct fr_error err = {{0}};

    for (int f = 0; f < 40; f++) {
        snprintf(name_buf[f], sizeof name_buf[f], "x%d", f);
        names[f] = name_buf[f];
    }
    for (size_t k = 0; k < sizeof widths / sizeof *widths; k++) {
        size_t nf = widths[k];
        struct dataset ds;
        struct forest *a, *b;
        struct rng r;
        float x[40];
        int ok = 1;

        rng_seed(&r, 11, nf);
        dataset_init(&ds, nf, names, 3000, 0, &err);
        for (size_t i = 0; i < 3000; i++) {
            for (size_t f = 0; f < nf; f++)
                x[f] = (float)rng_uniform(&r);
            dataset_push(&ds, x, 10.0 * (x[nf - 1] > 0.5f) +
                                     5.0 * (x[0] > 0.3f),
                         0, 0, 0.0, &err);
        }
        a = train(&ds, 4, 3, NULL);
        b = train(&ds, 4, 3, one_thread);
        for (int c = 0; c < 4; c++) {
            float lo0 = c & 1 ? 0.9f : 0.1f, hi = c & 2 ? 0.9f : 0.1f;
            double want = 10.0 * (hi > 0.5f) + 5.0 * (lo0 > 0.3f);
            for (size_t f = 0; f < nf; f++)
                x[f] = 0.5f;
            x[0] = lo0;
            x[nf - 1] = hi;
            ok &= fabs(forest_predict_row(a, x) - want) < 0.5;
        }
        printf("  %zu features:\n", nf);
        test_cond("width-1.1 both steps are learned", a && ok);
        test_cond("width-1.2 same forest on 1 or 2 threads",
                  a && b && same_trees(a, b));
        forest_free(b);
        /* Partitions in place through the spill buffer, as above
         * forest_two_blocks_rows, rather than block to block. */
        {
            size_t keep = forest_two_blocks_rows;
            forest_two_blocks_rows = 0;
            b = train(&ds, 4, 3, NULL);
            forest_two_blocks_rows = keep;
        }
        test_cond("width-1.3 same forest partitioned in one block or two",
                  a && b && same_trees(a, b));
        forest_free(a);
        forest_free(b);
        dataset_release(&ds);
    }
}

void test_forest(void)
{
    test_split_finding();
    test_growth();
    test_determinism();
    test_bin_sample();
    test_feature_sampling();
    test_prediction();
    test_prepared_walk();
    test_shards();
    test_params();
    test_row_widths();
}
