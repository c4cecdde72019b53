/*
 * test_explain.c: TreeSHAP (explain.c) against hand-worked stumps, a
 * brute-force Shapley reference on random small trees, and additivity
 * (base + contributions = prediction) on trained tabular and series
 * models.
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "explain.h"
#include "model.h"
#include "rng.h"
#include "test.h"

#define NF 4 /* features of the hand-built forests */

static struct forest *forest_new(uint32_t n_trees)
{
    static const char *const names[NF] = {"a", "b", "c", "d"};
    struct forest *f = calloc(1, sizeof *f);

    f->n_features = NF;
    f->n_trees = n_trees;
    f->trees = calloc(n_trees, sizeof *f->trees);
    f->feature_names = calloc(NF, sizeof *f->feature_names);
    f->importances = calloc(NF, sizeof *f->importances);
    for (uint32_t i = 0; i < NF; i++)
        f->feature_names[i] = strdup(names[i]);
    forest_params_default(&f->params);
    f->params.n_trees = n_trees;
    f->oob_rmse = NAN;
    return f;
}

/* Random tree of depth <= max_depth on NF features (repeats allowed, so
 * UNWIND is exercised), thresholds in [0, 1), leaf covers 1..10. Children
 * are appended after their parent. Returns the node's cover. */
static uint32_t grow(struct tree *t, struct rng *r, uint32_t node,
                     uint32_t depth, uint32_t max_depth)
{
    struct tree_node *nd = &t->nodes[node];

    if (depth > t->depth)
        t->depth = depth;
    if (depth == max_depth || (depth > 0 && rng_below(r, 4) == 0)) {
        *nd = (struct tree_node){0, INFINITY, node,
                                 (float)(rng_below(r, 1000)) / 10.0f};
        t->cover[node] = 1 + (uint32_t)rng_below(r, 10);
        return t->cover[node];
    }
    nd->feature = (uint32_t)rng_below(r, NF);
    nd->threshold = (float)rng_below(r, 1000) / 1000.0f;
    nd->left = t->n_nodes;
    nd->value = 0.0f;
    t->n_nodes += 2;
    t->cover[node] = grow(t, r, t->nodes[node].left, depth + 1, max_depth);
    t->cover[node] += grow(t, r, t->nodes[node].left + 1, depth + 1,
                           max_depth);
    return t->cover[node];
}

static void random_tree(struct tree *t, struct rng *r, uint32_t index,
                        uint32_t max_depth)
{
    uint32_t cap = (2u << max_depth) + 1;

    t->index = index;
    t->nodes = calloc(cap, sizeof *t->nodes);
    t->cover = calloc(cap, sizeof *t->cover);
    t->n_nodes = 1;
    t->depth = 0;
    grow(t, r, 0, 0, max_depth);
}

/* v(S) of one tree: the features in mask follow the row, the others both
 * children in proportion to cover. */
static double v_subset(const struct tree *t, uint32_t node, const float *x,
                       unsigned mask)
{
    const struct tree_node *nd = &t->nodes[node];
    double c = t->cover[node];

    if (nd->left == node)
        return nd->value;
    if (mask & (1u << nd->feature))
        return v_subset(t, nd->left + (x[nd->feature] > nd->threshold), x,
                        mask);
    return t->cover[nd->left] / c * v_subset(t, nd->left, x, mask) +
           t->cover[nd->left + 1] / c * v_subset(t, nd->left + 1, x, mask);
}

/* The Shapley values by their definition, over all 2^NF coalitions. */
static void brute_force(const struct forest *f, const float *x, double *phi)
{
    static const double fact[NF + 1] = {1, 1, 2, 6, 24};

    memset(phi, 0, NF * sizeof *phi);
    for (uint32_t t = 0; t < f->n_trees; t++) {
        for (int i = 0; i < NF; i++) {
            for (unsigned s = 0; s < (1u << NF); s++) {
                int size = __builtin_popcount(s);
                if (s & (1u << i))
                    continue;
                phi[i] += fact[size] * fact[NF - size - 1] / fact[NF] *
                          (v_subset(&f->trees[t], 0, x, s | (1u << i)) -
                           v_subset(&f->trees[t], 0, x, s)) /
                          f->n_trees;
            }
        }
    }
}

static void test_stump(void)
{
    struct forest *f = forest_new(1);
    struct tree *t = &f->trees[0];
    struct model *m;
    double phi[NF + 1], *work;
    float row[NF] = {1, 0, 0, 0}, rw[NF];

    /* a <= 10 ? 20 (cover 3) : 4 (cover 1): E = (3 x 20 + 4) / 4 = 16. */
    t->depth = 1;
    t->n_nodes = 3;
    t->nodes = calloc(3, sizeof *t->nodes);
    t->cover = calloc(3, sizeof *t->cover);
    t->nodes[0] = (struct tree_node){0, 10.0f, 1, 0.0f};
    t->nodes[1] = (struct tree_node){0, INFINITY, 1, 20.0f};
    t->nodes[2] = (struct tree_node){0, INFINITY, 2, 4.0f};
    t->cover[0] = 4;
    t->cover[1] = 3;
    t->cover[2] = 1;
    m = model_new(f, NULL, NULL);
    work = calloc(explain_work_doubles(m), sizeof *work);
    test_cond("explain-1.1 a stump's base is its cover-weighted mean leaf",
              explain_check(m, NULL) == 0 && explain_base(m) == 16.0);
    explain_row(m, row, work, rw, phi);
    test_cond("explain-1.2 a stump: the split feature gets prediction - "
              "base (20 - 16), the unused ones 0, no level",
              phi[0] == 4.0 && phi[1] == 0.0 && phi[2] == 0.0 &&
                  phi[3] == 0.0 && phi[NF] == 0.0 && !explain_has_level(m));
    row[0] = 11;
    explain_row(m, row, work, rw, phi);
    test_cond("explain-1.3 the other side: 4 - 16", phi[0] == -12.0);
    free(work);
    free(t->cover);
    t->cover = NULL;
    test_cond("explain-1.4 a tree without cover (format 1) cannot be "
              "explained, and the message says to retrain",
              explain_check(m, NULL) != 0);
    {
        struct fr_error err = {{0}};
        explain_check(m, &err);
        test_cond("explain-1.5 its message names the format",
                  strstr(err.msg, "format 2") != NULL ||
                      strstr(err.msg, "retrain") != NULL);
    }
    model_free(m);
}

/* Two features in an AND: x = (1, 1) on a tree where both must hold for
 * the high leaf. Known Shapley values with equal covers: each feature
 * gets half of (f(x) - E). */
static void test_and(void)
{
    struct forest *f = forest_new(1);
    struct tree *t = &f->trees[0];
    struct model *m;
    double phi[NF + 1], *work;
    float row[NF] = {1, 1, 0, 0}, rw[NF];

    /* a <= 0.5 ? 0 : (b <= 0.5 ? 0 : 100); covers 2 | (1 | 1). */
    t->depth = 2;
    t->n_nodes = 5;
    t->nodes = calloc(5, sizeof *t->nodes);
    t->cover = calloc(5, sizeof *t->cover);
    t->nodes[0] = (struct tree_node){0, 0.5f, 1, 0.0f};
    t->nodes[1] = (struct tree_node){0, INFINITY, 1, 0.0f};
    t->nodes[2] = (struct tree_node){1, 0.5f, 3, 0.0f};
    t->nodes[3] = (struct tree_node){0, INFINITY, 3, 0.0f};
    t->nodes[4] = (struct tree_node){0, INFINITY, 4, 100.0f};
    t->cover[0] = 4;
    t->cover[1] = 2;
    t->cover[2] = 2;
    t->cover[3] = 1;
    t->cover[4] = 1;
    m = model_new(f, NULL, NULL);
    work = calloc(explain_work_doubles(m), sizeof *work);
    explain_row(m, row, work, rw, phi);
    /* E = 25. v({a}) = 50, v({b}) = 50 (half the root's cover goes right
     * and then b holds), v({a,b}) = 100: phi_a = (50 - 25 + 100 - 50) / 2
     * = 37.5, phi_b likewise. */
    test_cond("explain-1.6 an AND of two features splits f(x) - E = 75 "
              "evenly: 37.5 each",
              explain_base(m) == 25.0 && fabs(phi[0] - 37.5) < 1e-12 &&
                  fabs(phi[1] - 37.5) < 1e-12 && phi[2] == 0.0);
    free(work);
    model_free(m);
}

static void test_brute_force(void)
{
    struct rng r;
    int worst_ok = 1, sum_ok = 1;

    rng_seed(&r, 1234, 0);
    for (int trial = 0; trial < 200; trial++) {
        struct forest *f = forest_new(3);
        struct model *m;
        double phi[NF + 1], want[NF], *work, sum;
        float row[NF], rw[NF];

        for (uint32_t t = 0; t < 3; t++)
            random_tree(&f->trees[t], &r, t, 1 + (uint32_t)(trial % 6));
        m = model_new(f, NULL, NULL);
        work = malloc(explain_work_doubles(m) * sizeof *work);
        for (int i = 0; i < NF; i++)
            row[i] = (float)rng_below(&r, 1000) / 1000.0f;
        explain_row(m, row, work, rw, phi);
        brute_force(f, row, want);
        sum = explain_base(m);
        for (int i = 0; i < NF; i++) {
            worst_ok &= fabs(phi[i] - want[i]) <= 1e-9 * (1 + fabs(want[i]));
            sum += phi[i];
        }
        sum_ok &= fabs(sum - forest_predict_row(f, row)) <=
                  1e-9 * (1 + fabs(sum));
        free(work);
        model_free(m);
    }
    test_cond("explain-1.7 200 random trees of depth 1..6 with repeated "
              "features: TreeSHAP equals the Shapley values by definition "
              "(all 16 coalitions)", worst_ok);
    test_cond("explain-1.8 ... and base + contributions = prediction",
              sum_ok);
}

/* base + sum(phi) against model_predict_row on every row of X. */
static int additive(const struct model *m, const float *X, size_t n,
                    double *worst)
{
    size_t nf = m->forest->n_features;
    double *work = malloc(explain_work_doubles(m) * sizeof *work);
    double *phi = malloc((nf + 1) * sizeof *phi);
    float *rw = malloc(nf * sizeof *rw);
    double base = explain_base(m);
    int ok = 1;

    *worst = 0;
    for (size_t i = 0; i < n; i++) {
        double pred = model_predict_row(m, X + i * nf, rw), sum = base, rel;
        explain_row(m, X + i * nf, work, rw, phi);
        for (size_t k = 0; k <= nf; k++)
            sum += phi[k];
        rel = fabs(sum - pred) / (fabs(pred) > 1 ? fabs(pred) : 1);
        if (rel > *worst)
            *worst = rel;
        ok &= rel <= 1e-6;
    }
    free(work);
    free(phi);
    free(rw);
    return ok;
}

static void test_additivity(void)
{
    struct fr_error err = {{0}};
    struct dataset rows, ds;
    struct forest_params p;
    struct model *m = test_small_series_model(&rows);
    const char *names[3] = {"x", "y", "z"};
    struct rng r;
    double worst;

    test_cond("explain-2.1 a trained series model (relative to its level) "
              "has cover and a level term",
              explain_check(m, &err) == 0 && explain_has_level(m));
    test_cond("explain-2.2 series: base + contributions + level = "
              "prediction to 1e-6 on every row",
              additive(m, rows.X, rows.n_rows, &worst));
    if (test_verbose)
        printf("  series rows %zu, worst relative error %.3g\n",
               rows.n_rows, worst);
    {
        /* The level term is the row's roll_mean_28, and roll_mean_28
         * itself is 0 in the relative row the trees see. */
        size_t nf = m->forest->n_features, lf = series_level_feature(
                                                   &m->series);
        double *work = malloc(explain_work_doubles(m) * sizeof *work);
        double phi[64];
        float rw[64];
        explain_row(m, rows.X, work, rw, phi);
        test_cond("explain-2.3 the level term is the row's level feature, "
                  "whose own contribution is 0",
                  nf < 64 && phi[nf] == (double)rows.X[lf] && phi[lf] == 0.0);
        free(work);
    }
    dataset_release(&rows);
    model_free(m);

    dataset_init(&ds, 3, names, 2000, 0, &err);
    rng_seed(&r, 99, 0);
    for (int i = 0; i < 2000; i++) {
        float row[3];
        for (int k = 0; k < 3; k++)
            row[k] = (float)rng_below(&r, 100000) / 1000.0f;
        dataset_push(&ds, row, 3.0 * row[0] - row[1] * row[2] / 10.0, 0, 0,
                     0.0, &err);
    }
    forest_params_default(&p);
    p.n_trees = 20;
    p.max_depth = 10;
    p.n_threads = 1;
    m = model_new(forest_train(&ds, &p, NULL, NULL, &err), NULL, &err);
    test_cond("explain-2.4 tabular, 20 trees of depth 10: base + "
              "contributions = prediction to 1e-6 on 2000 rows",
              m != NULL && !explain_has_level(m) &&
                  additive(m, ds.X, ds.n_rows, &worst));
    if (test_verbose)
        printf("  tabular worst relative error %.3g\n", worst);
    model_free(m);
    dataset_release(&ds);
}

void test_explain(void)
{
    test_stump();
    test_and();
    test_brute_force();
    test_additivity();
}
