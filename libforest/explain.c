/*
 * explain.c: path-dependent TreeSHAP (explain.h).
 *
 * This is Algorithm 2 of Lundberg, Erion and Lee (2018), in the layout of
 * the reference implementation (shap's tree_shap_recursive): a recursion
 * over the tree that carries the "unique path" of features split on from
 * the root, each with
 *
 *   zero  the fraction of the training cover that goes this way when the
 *         feature is not in the coalition (product of cover ratios),
 *   one   1 when the row itself goes this way, else 0,
 *   weight the permutation weight of coalitions of each size,
 *
 * EXTEND adds a feature to the path, UNWIND takes one out (when a feature
 * is split on a second time, its earlier split is undone and folded into
 * the new one), and at each leaf the contribution of every feature on the
 * path is the unwound weight sum x (one - zero) x leaf value.
 *
 * Each recursion level copies the path into the next slice of one flat
 * array, so a tree of depth D needs (D+2)(D+3)/2 path elements and no
 * allocation. A path element is 4 doubles (the feature index is stored as
 * a double: exact below 2^53, and -1 marks the root's empty element).
 */
#include "explain.h"

#include <string.h>

struct path {
    double feature; /* split feature, -1 for the root element */
    double zero;    /* cover fraction when the feature is unknown */
    double one;     /* 1 if the row goes this way, else 0 */
    double weight;  /* permutation weight */
};

int explain_has_level(const struct model *m)
{
    return model_relative(m);
}

int explain_check(const struct model *m, struct fr_error *err)
{
    const struct forest *f = m->forest;

    for (uint32_t t = 0; t < f->n_trees; t++) {
        if (f->trees[t].cover == NULL) {
            fr_error_set(err, "this model cannot explain its predictions: "
                         "its file is format %u, which keeps no node cover "
                         "(the training weight TreeSHAP needs); retrain it "
                         "with this release to get explanations",
                         m->format_version);
            return -1;
        }
    }
    if (explain_has_level(m)) {
        for (uint32_t i = 0; i < f->n_features; i++) {
            if (strcmp(f->feature_names[i], EXPLAIN_LEVEL_NAME) == 0) {
                fr_error_set(err, "this model cannot explain its "
                             "predictions: a feature is named '%s', the "
                             "name of the level term",
                             EXPLAIN_LEVEL_NAME);
                return -1;
            }
        }
    }
    return 0;
}

size_t explain_work_doubles(const struct model *m)
{
    size_t d = 0;

    for (uint32_t t = 0; t < m->forest->n_trees; t++) {
        if (m->forest->trees[t].depth > d)
            d = m->forest->trees[t].depth;
    }
    return 4 * ((d + 2) * (d + 3) / 2);
}

/* The fraction of node's cover that reaches child; 0 for a node with no
 * cover (a decoded model has none, but a hand-built one might). */
static double cover_fraction(const struct tree *t, uint32_t node,
                             uint32_t child)
{
    return t->cover[node] > 0 ?
               (double)t->cover[child] / (double)t->cover[node] : 0.0;
}

/* E[tree] under the cover: sum over leaves of the product of cover
 * fractions down to it, times its value. */
static double expected_value(const struct tree *t, uint32_t node)
{
    const struct tree_node *nd = &t->nodes[node];

    if (nd->left == node)
        return nd->value;
    return cover_fraction(t, node, nd->left) *
               expected_value(t, nd->left) +
           cover_fraction(t, node, nd->left + 1) *
               expected_value(t, nd->left + 1);
}

double explain_base(const struct model *m)
{
    const struct forest *f = m->forest;
    double sum = 0.0;

    for (uint32_t t = 0; t < f->n_trees; t++)
        sum += expected_value(&f->trees[t], 0);
    return sum / f->n_trees;
}

/* EXTEND: appends (feature, zero, one) to a path of length depth and
 * updates the permutation weights of every coalition size. */
static void extend(struct path *p, uint32_t depth, double zero, double one,
                   double feature)
{
    p[depth].feature = feature;
    p[depth].zero = zero;
    p[depth].one = one;
    p[depth].weight = depth == 0 ? 1.0 : 0.0;
    for (int i = (int)depth - 1; i >= 0; i--) {
        p[i + 1].weight += one * p[i].weight * (i + 1) / (double)(depth + 1);
        p[i].weight = zero * p[i].weight * (depth - i) / (double)(depth + 1);
    }
}

/* UNWIND: removes element k from a path whose last index is depth,
 * inverting EXTEND for it. */
static void unwind(struct path *p, uint32_t depth, uint32_t k)
{
    double one = p[k].one, zero = p[k].zero, next = p[depth].weight;

    for (int i = (int)depth - 1; i >= 0; i--) {
        if (one != 0.0) {
            double w = p[i].weight;
            p[i].weight = next * (depth + 1) / ((i + 1) * one);
            next = w - p[i].weight * zero * (depth - i) / (double)(depth + 1);
        } else {
            p[i].weight = p[i].weight * (depth + 1) / (zero * (depth - i));
        }
    }
    for (uint32_t i = k; i < depth; i++) {
        p[i].feature = p[i + 1].feature;
        p[i].zero = p[i + 1].zero;
        p[i].one = p[i + 1].one;
    }
}

/* The total weight of the path with element k unwound, without changing
 * it. The hot loop of TreeSHAP (depth^2 per leaf): in path-dependent
 * TreeSHAP a one fraction is exactly 0 or 1, so the reference's division
 * by it is a branch, and the loop-carried chain through `next` holds only
 * multiplications (bench-explain: 25.5 ms a row before, 15.7 after). */
static double unwound_sum(const struct path *p, uint32_t depth, uint32_t k)
{
    double zero = p[k].zero, next = p[depth].weight, total = 0.0;
    double len = (double)(depth + 1), inv_len = 1.0 / len;

    if (p[k].one != 0.0) {
        for (int i = (int)depth - 1; i >= 0; i--) {
            /* Brackets keep the divisions off the chain through next. */
            double w = next * (len / (double)(i + 1));
            total += w;
            next = p[i].weight - w * (zero * (double)(depth - i) * inv_len);
        }
    } else if (zero != 0.0) {
        double inv_zero = 1.0 / zero;
        for (int i = (int)depth - 1; i >= 0; i--)
            total += p[i].weight * inv_zero * len / (double)(depth - i);
    }
    return total;
}

/* One level of the recursion: node is reached with the parent's path
 * (depth elements at parent), extended by (feature, zero, one); phi takes
 * scale x the tree's contributions. */
static void recurse(const struct tree *t, const float *x, double scale,
                    double *phi, uint32_t node, struct path *parent,
                    uint32_t depth, double zero, double one, double feature)
{
    const struct tree_node *nd = &t->nodes[node];
    struct path *p = parent + depth + 1;
    uint32_t hot, cold, k;
    double in_zero = 1.0, in_one = 1.0;

    /* The parent's elements 0..depth-1; extend writes element depth. */
    memcpy(p, parent, depth * sizeof *p);
    extend(p, depth, zero, one, feature);
    if (nd->left == node) {
        for (uint32_t i = 1; i <= depth; i++) {
            double w = unwound_sum(p, depth, i);
            phi[(size_t)p[i].feature] +=
                w * (p[i].one - p[i].zero) * nd->value * scale;
        }
        return;
    }
    /* The row's way, as tree_predict goes: left when x <= threshold. */
    hot = nd->left + (x[nd->feature] > nd->threshold);
    cold = hot == nd->left ? nd->left + 1 : nd->left;
    /* A feature split on before: undo that split and fold its fractions
     * into this one. */
    for (k = 1; k <= depth; k++) {
        if (p[k].feature == (double)nd->feature)
            break;
    }
    if (k <= depth) {
        in_zero = p[k].zero;
        in_one = p[k].one;
        unwind(p, depth, k);
        depth--;
    }
    recurse(t, x, scale, phi, hot, p, depth + 1,
            cover_fraction(t, node, hot) * in_zero, in_one, nd->feature);
    /* A cold child no coalition reaches (no cover) adds nothing; skipping
     * it avoids dividing by its zero fractions. */
    if (cover_fraction(t, node, cold) * in_zero != 0.0)
        recurse(t, x, scale, phi, cold, p, depth + 1,
                cover_fraction(t, node, cold) * in_zero, 0.0, nd->feature);
}

void explain_row(const struct model *m, const float *row, double *work,
                 float *row_work, double *phi)
{
    const struct forest *f = m->forest;
    const float *x = row;
    struct path *path = (struct path *)work;

    memset(phi, 0, (f->n_features + 1) * sizeof *phi);
    if (explain_has_level(m)) {
        phi[f->n_features] = series_relative_row(&m->series, row, row_work);
        x = row_work;
    }
    for (uint32_t t = 0; t < f->n_trees; t++)
        recurse(&f->trees[t], x, 1.0 / f->n_trees, phi, 0, path, 0, 1.0,
                1.0, -1.0);
}
