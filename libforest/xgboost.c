/*
 * xgboost.c: a model as an XGBoost JSON model (xgboost.h).
 *
 * The document is XGBoost 1.7.4's save_model layout: learner ->
 * gradient_booster (gbtree) -> model -> trees, one object per tree with
 * parallel arrays indexed by node id. Our trees already number their nodes
 * so that children follow their parent (left, then left + 1), with the
 * root at 0, so node i of ours is node i of XGBoost's and only the leaves'
 * encoding changes (XGBoost: children -1, the leaf value in
 * split_conditions).
 *
 * Size: a forest of 100 trees of depth 10 has about 150,000 nodes, 12
 * numbers each. As one cJSON item per number that is some 2 million
 * allocations of 64 bytes; instead each array is formatted here into one
 * text and attached whole (cJSON_CreateRaw), and cJSON builds the
 * document's frame. Floats are printed with 9 significant digits, which
 * read back to the same float32 (IEEE 754's round trip for binary32).
 */
#include "xgboost.h"

#include <float.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

/* XGBoost's marker for the root's parent (its kInvalidNodeId, as
 * save_model writes it). */
#define XGBOOST_NO_PARENT 2147483647u

/* Text that grows; a write that cannot grow it sets failed and later
 * writes do nothing, so the caller checks once. */
struct text {
    char *data;
    size_t len, cap;
    int failed;
};

static void text_printf(struct text *t, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void text_printf(struct text *t, const char *fmt, ...)
{
    va_list ap;
    int n;

    if (t->failed)
        return;
    va_start(ap, fmt);
    n = vsnprintf(t->data == NULL ? NULL : t->data + t->len,
                  t->data == NULL ? 0 : t->cap - t->len, fmt, ap);
    va_end(ap);
    if (n < 0) {
        t->failed = 1;
        return;
    }
    if (t->data == NULL || t->len + (size_t)n + 1 > t->cap) {
        size_t cap = t->cap == 0 ? 4096 : t->cap;
        char *grown;
        while (cap < t->len + (size_t)n + 1) {
            if (cap > XGBOOST_MAX_BYTES) {
                t->failed = 1;
                return;
            }
            cap *= 2;
        }
        grown = realloc(t->data, cap);
        if (grown == NULL) {
            t->failed = 1;
            return;
        }
        t->data = grown;
        t->cap = cap;
        va_start(ap, fmt);
        vsnprintf(t->data + t->len, t->cap - t->len, fmt, ap);
        va_end(ap);
    }
    t->len += (size_t)n;
}

/* A float32 as a JSON number that reads back to the same float: 9
 * significant digits, and always a fraction or exponent, so that readers
 * which tell integers from reals (XGBoost's does) see a real. v must be
 * finite (xgboost_check). */
static void text_float(struct text *t, float v)
{
    char num[32];

    snprintf(num, sizeof num, "%.9g", (double)v);
    if (strpbrk(num, ".e") == NULL)
        text_printf(t, "%s.0", num);
    else
        text_printf(t, "%s", num);
}

/* What XGBoost's split_condition must be for our split to go the same way:
 * the least float above the threshold, so x < it exactly when x <= the
 * threshold, for every float x. */
static float split_condition(float threshold)
{
    return nextafterf(threshold, INFINITY);
}

static int is_leaf(const struct tree *tree, uint32_t i)
{
    return tree->nodes[i].left == i;
}

int xgboost_check(const struct model *m, struct fr_error *err)
{
    const struct forest *f = m->forest;

    if (m->has_series && m->series.target != SERIES_TARGET_VALUE) {
        /* Only a value target is a function of the row alone; a target
         * added later is refused until this says otherwise. */
        fr_error_set(err, "the model predicts %s: its answer is the trees' "
                     "plus a level computed from the row, which XGBoost's "
                     "trees cannot express",
                     m->series.target == SERIES_TARGET_DIFF ?
                         "the difference to a level (series target diff)" :
                         "a transformed target");
        return -1;
    }
    for (uint32_t i = 0; i < f->n_features; i++) {
        const char *name = f->feature_names[i];
        if (strpbrk(name, "[]<") != NULL) {
            fr_error_set(err, "feature '%s' cannot be named in XGBoost, "
                         "whose names may not contain '[', ']' or '<'",
                         name);
            return -1;
        }
    }
    for (uint32_t t = 0; t < f->n_trees; t++) {
        const struct tree *tree = &f->trees[t];
        for (uint32_t i = 0; i < tree->n_nodes; i++) {
            if (is_leaf(tree, i))
                continue;
            if (!isfinite(split_condition(tree->nodes[i].threshold))) {
                fr_error_set(err, "tree %u node %u: threshold %g has no "
                             "finite float above it, so XGBoost's '<' "
                             "cannot express the split", tree->index, i,
                             (double)tree->nodes[i].threshold);
                return -1;
            }
        }
    }
    return 0;
}

/* One array of a tree: fills t with "[v0,v1,...]" where what(i) is node
 * i's value. Kinds of values: */
enum field {
    F_BASE_WEIGHT,     /* the node's value / n_trees */
    F_DEFAULT_LEFT,    /* 1 at a split, 0 at a leaf */
    F_LEFT,            /* left child, -1 at a leaf */
    F_RIGHT,           /* right child, -1 at a leaf */
    F_LOSS_CHANGE,     /* not kept: 0.0 */
    F_PARENT,          /* parent id, XGBOOST_NO_PARENT at the root */
    F_SPLIT_CONDITION, /* split_condition, the leaf value at a leaf */
    F_SPLIT_INDEX,     /* split feature, 0 at a leaf */
    F_SPLIT_TYPE,      /* 0: numerical */
    F_SUM_HESSIAN      /* the node's cover, 0 when not kept */
};

static void tree_array(struct text *t, const struct tree *tree,
                       const uint32_t *parent, double scale, enum field fd)
{
    text_printf(t, "[");
    for (uint32_t i = 0; i < tree->n_nodes; i++) {
        const struct tree_node *nd = &tree->nodes[i];
        int leaf = is_leaf(tree, i);
        if (i > 0)
            text_printf(t, ",");
        switch (fd) {
        case F_BASE_WEIGHT:
            text_float(t, (float)(nd->value * scale));
            break;
        case F_DEFAULT_LEFT:
            text_printf(t, "%d", leaf ? 0 : 1);
            break;
        case F_LEFT:
            text_printf(t, "%lld", leaf ? -1ll : (long long)nd->left);
            break;
        case F_RIGHT:
            text_printf(t, "%lld", leaf ? -1ll : (long long)nd->left + 1);
            break;
        case F_LOSS_CHANGE:
            text_printf(t, "0.0");
            break;
        case F_PARENT:
            text_printf(t, "%u", parent[i]);
            break;
        case F_SPLIT_CONDITION:
            text_float(t, leaf ? (float)(nd->value * scale)
                               : split_condition(nd->threshold));
            break;
        case F_SPLIT_INDEX:
            text_printf(t, "%u", leaf ? 0u : nd->feature);
            break;
        case F_SPLIT_TYPE:
            text_printf(t, "0");
            break;
        case F_SUM_HESSIAN:
            /* No cover (format 1): 0, which makes XGBoost's TreeSHAP
             * divide 0 by 0, so its pred_contribs say NaN rather than
             * something made up; its predictions do not use it. */
            text_float(t, tree->cover == NULL ? 0.0f : (float)tree->cover[i]);
            break;
        }
    }
    text_printf(t, "]");
}

/* Adds t's text to obj as the raw JSON value `name` and empties t.
 * Returns 0, or -1 when memory ran out (now or while t was written). */
static int add_raw(cJSON *obj, const char *name, struct text *t)
{
    int rc = 0;

    if (t->failed || cJSON_AddRawToObject(obj, name, t->data) == NULL)
        rc = -1;
    t->len = 0;
    if (t->data != NULL)
        t->data[0] = '\0';
    return rc;
}

/* Adds an object of string-valued parameters, as XGBoost writes its
 * *_param objects. pairs is name, value, ..., NULL. Returns the object or
 * NULL when memory runs out. */
static cJSON *add_params(cJSON *obj, const char *name,
                         const char *const *pairs)
{
    cJSON *p = cJSON_AddObjectToObject(obj, name);

    for (size_t i = 0; p != NULL && pairs[i] != NULL; i += 2) {
        if (cJSON_AddStringToObject(p, pairs[i], pairs[i + 1]) == NULL)
            return NULL;
    }
    return p;
}

/* The JSON object of tree number id. Returns it, or NULL when memory runs
 * out. */
static cJSON *tree_json(const struct tree *tree, uint32_t id,
                        uint32_t n_features, double scale, struct text *t)
{
    static const struct {
        const char *name;
        enum field fd;
    } arrays[] = {
        {"base_weights", F_BASE_WEIGHT},
        {"default_left", F_DEFAULT_LEFT},
        {"left_children", F_LEFT},
        {"loss_changes", F_LOSS_CHANGE},
        {"parents", F_PARENT},
        {"right_children", F_RIGHT},
        {"split_conditions", F_SPLIT_CONDITION},
        {"split_indices", F_SPLIT_INDEX},
        {"split_type", F_SPLIT_TYPE},
        {"sum_hessian", F_SUM_HESSIAN},
    };
    static const char *const empty[] = {"categories", "categories_nodes",
                                        "categories_segments",
                                        "categories_sizes"};
    char nodes[16], features[16];
    uint32_t *parent = NULL;
    cJSON *obj = cJSON_CreateObject();
    int ok = obj != NULL;

    /* n_nodes was checked against the model file's size when decoded,
     * and a 32-bit count of 4-byte ids cannot overflow a 64-bit size. */
    if (ok)
        parent = calloc(tree->n_nodes, sizeof *parent);
    ok = ok && parent != NULL;
    if (ok) {
        parent[0] = XGBOOST_NO_PARENT;
        for (uint32_t i = 0; i < tree->n_nodes; i++) {
            if (is_leaf(tree, i))
                continue;
            /* Checked by the decoder: children follow i, in bounds. */
            parent[tree->nodes[i].left] = i;
            parent[tree->nodes[i].left + 1] = i;
        }
    }
    for (size_t a = 0; ok && a < sizeof arrays / sizeof arrays[0]; a++) {
        tree_array(t, tree, parent, scale, arrays[a].fd);
        ok = add_raw(obj, arrays[a].name, t) == 0;
    }
    for (size_t a = 0; ok && a < sizeof empty / sizeof empty[0]; a++)
        ok = cJSON_AddArrayToObject(obj, empty[a]) != NULL;
    ok = ok && cJSON_AddNumberToObject(obj, "id", id) != NULL;
    snprintf(nodes, sizeof nodes, "%u", tree->n_nodes);
    snprintf(features, sizeof features, "%u", n_features);
    if (ok) {
        const char *const param[] = {"num_deleted", "0",
                                     "num_feature", features,
                                     "num_nodes", nodes,
                                     "size_leaf_vector", "0", NULL};
        ok = add_params(obj, "tree_param", param) != NULL;
    }
    free(parent);
    if (!ok) {
        cJSON_Delete(obj);
        return NULL;
    }
    return obj;
}

/* The learner's frame, everything but the trees, into learner. Returns 0
 * or -1 when memory runs out. */
static int learner_json(const struct forest *f, const char *version,
                        cJSON *learner)
{
    char n_features[16], n_trees[16];
    cJSON *attrs, *names;

    snprintf(n_features, sizeof n_features, "%u", f->n_features);
    snprintf(n_trees, sizeof n_trees, "%u", f->n_trees);
    attrs = cJSON_AddObjectToObject(learner, "attributes");
    if (attrs == NULL)
        return -1;
    if (version != NULL &&
        cJSON_AddStringToObject(attrs, "model_version", version) == NULL)
        return -1;
    names = cJSON_AddArrayToObject(learner, "feature_names");
    if (names == NULL)
        return -1;
    for (uint32_t i = 0; i < f->n_features; i++) {
        cJSON *s = cJSON_CreateString(f->feature_names[i]);
        if (s == NULL || !cJSON_AddItemToArray(names, s)) {
            cJSON_Delete(s);
            return -1;
        }
    }
    /* As XGBoost writes a model whose features were given no types: every
     * feature numerical. */
    if (cJSON_AddArrayToObject(learner, "feature_types") == NULL)
        return -1;
    {
        /* base_score 0: the trees carry the whole prediction. */
        const char *const param[] = {"base_score", "0E0",
                                     "boost_from_average", "0",
                                     "num_class", "0",
                                     "num_feature", n_features,
                                     "num_target", "1", NULL};
        if (add_params(learner, "learner_model_param", param) == NULL)
            return -1;
    }
    {
        cJSON *obj = cJSON_AddObjectToObject(learner, "objective");
        const char *const param[] = {"scale_pos_weight", "1", NULL};
        if (obj == NULL ||
            cJSON_AddStringToObject(obj, "name", "reg:squarederror") ==
                NULL ||
            add_params(obj, "reg_loss_param", param) == NULL)
            return -1;
    }
    return 0;
}

int xgboost_has_cover(const struct model *m)
{
    for (uint32_t t = 0; t < m->forest->n_trees; t++) {
        if (m->forest->trees[t].cover == NULL)
            return 0;
    }
    return 1;
}

int xgboost_encode(const struct model *m, const char *version, char **json,
                   size_t *len, struct fr_error *err)
{
    const struct forest *f = m->forest;
    double scale = 1.0 / f->n_trees; /* the mean as a sum */
    struct text t = {0};
    cJSON *doc = cJSON_CreateObject();
    cJSON *learner = NULL, *booster = NULL, *model = NULL, *trees = NULL;
    cJSON *info = NULL, *ver = NULL;
    char n_trees[16];
    int rc = -1;

    *json = NULL;
    *len = 0;
    snprintf(n_trees, sizeof n_trees, "%u", f->n_trees);
    if (doc != NULL)
        learner = cJSON_AddObjectToObject(doc, "learner");
    if (learner == NULL || learner_json(f, version, learner) != 0)
        goto nomem;
    booster = cJSON_AddObjectToObject(learner, "gradient_booster");
    if (booster == NULL ||
        cJSON_AddStringToObject(booster, "name", "gbtree") == NULL)
        goto nomem;
    model = cJSON_AddObjectToObject(booster, "model");
    if (model == NULL)
        goto nomem;
    {
        const char *const param[] = {"num_parallel_tree", "1",
                                     "num_trees", n_trees,
                                     "size_leaf_vector", "0", NULL};
        if (add_params(model, "gbtree_model_param", param) == NULL)
            goto nomem;
    }
    /* tree_info: each tree's output group, 0 for a single target. */
    info = cJSON_AddArrayToObject(model, "tree_info");
    trees = cJSON_AddArrayToObject(model, "trees");
    if (info == NULL || trees == NULL)
        goto nomem;
    for (uint32_t i = 0; i < f->n_trees; i++) {
        cJSON *zero = cJSON_CreateNumber(0);
        cJSON *tj;
        if (zero == NULL || !cJSON_AddItemToArray(info, zero)) {
            cJSON_Delete(zero);
            goto nomem;
        }
        tj = tree_json(&f->trees[i], i, f->n_features, scale, &t);
        if (tj == NULL || !cJSON_AddItemToArray(trees, tj)) {
            cJSON_Delete(tj);
            goto nomem;
        }
    }
    {
        const int v[3] = {1, 7, 4}; /* the release whose layout this is */
        ver = cJSON_CreateIntArray(v, 3);
        if (ver == NULL || !cJSON_AddItemToObject(doc, "version", ver)) {
            cJSON_Delete(ver);
            goto nomem;
        }
    }
    *json = cJSON_PrintUnformatted(doc);
    if (*json == NULL)
        goto nomem;
    *len = strlen(*json);
    if (*len > XGBOOST_MAX_BYTES) {
        fr_error_set(err, "the XGBoost model would be %zu bytes, more than "
                     "the %llu allowed", *len, XGBOOST_MAX_BYTES);
        free(*json);
        *json = NULL;
        *len = 0;
        goto out;
    }
    rc = 0;
    goto out;
nomem:
    fr_error_set(err, "out of memory writing the XGBoost model (%u trees)",
                 f->n_trees);
out:
    free(t.data);
    cJSON_Delete(doc);
    return rc;
}
