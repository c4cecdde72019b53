/*
 * test_xgboost.c: the XGBoost JSON export (xgboost.c) on a hand-built
 * forest whose every field is known, and the models it must refuse.
 * tests/export/run.sh loads real exports in XGBoost itself.
 */
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "dataset.h"
#include "model.h"
#include "test.h"
#include "xgboost.h"

#define NF 2

/* Two stumps on feature 0: a <= t0 ? 20 : 4 (covers 3 and 1), and
 * a <= t1 ? 10 : 30 (covers 1 and 1). */
static struct model *two_stumps(float t0, float t1)
{
    static const char *const names[NF] = {"a", "b"};
    struct forest *f = calloc(1, sizeof *f);
    const float thr[2] = {t0, t1};
    const float lo[2] = {20, 10}, hi[2] = {4, 30};
    const uint32_t clo[2] = {3, 1}, chi[2] = {1, 1};

    f->n_features = NF;
    f->n_trees = 2;
    f->trees = calloc(2, sizeof *f->trees);
    f->feature_names = calloc(NF, sizeof *f->feature_names);
    f->importances = calloc(NF, sizeof *f->importances);
    for (uint32_t i = 0; i < NF; i++)
        f->feature_names[i] = strdup(names[i]);
    forest_params_default(&f->params);
    f->params.n_trees = 2;
    f->oob_rmse = NAN;
    for (uint32_t t = 0; t < 2; t++) {
        struct tree *tr = &f->trees[t];
        tr->index = t;
        tr->depth = 1;
        tr->n_nodes = 3;
        tr->nodes = calloc(3, sizeof *tr->nodes);
        tr->cover = calloc(3, sizeof *tr->cover);
        tr->nodes[0] = (struct tree_node){0, thr[t], 1, 0.0f};
        tr->nodes[1] = (struct tree_node){0, INFINITY, 1, lo[t]};
        tr->nodes[2] = (struct tree_node){0, INFINITY, 2, hi[t]};
        tr->cover[0] = clo[t] + chi[t];
        tr->cover[1] = clo[t];
        tr->cover[2] = chi[t];
    }
    return model_new(f, NULL, NULL);
}

/* The exported document of m, parsed; NULL when export failed. */
static cJSON *export_json(const struct model *m)
{
    char *json = NULL;
    size_t len = 0;
    cJSON *doc;

    if (xgboost_encode(m, "v1", &json, &len, NULL) != 0)
        return NULL;
    doc = cJSON_ParseWithLength(json, len);
    free(json);
    return doc;
}

static const cJSON *path(const cJSON *doc, const char *const *keys)
{
    for (size_t i = 0; doc != NULL && keys[i] != NULL; i++)
        doc = cJSON_GetObjectItemCaseSensitive(doc, keys[i]);
    return doc;
}

static const cJSON *tree_field(const cJSON *doc, int t, const char *name)
{
    static const char *const keys[] = {"learner", "gradient_booster",
                                       "model", "trees", NULL};
    const cJSON *trees = path(doc, keys);

    return cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(trees, t),
                                            name);
}

/* 1 when the JSON array holds exactly the n numbers want; as float32
 * when as_float (what XGBoost reads its reals into: 9 digits are exact
 * as a float, not as a double). */
static int array_cmp(const cJSON *a, const double *want, int n, int as_float)
{
    if (!cJSON_IsArray(a) || cJSON_GetArraySize(a) != n)
        return 0;
    for (int i = 0; i < n; i++) {
        const cJSON *v = cJSON_GetArrayItem(a, i);
        if (!cJSON_IsNumber(v))
            return 0;
        if (as_float ? (float)v->valuedouble != (float)want[i]
                     : v->valuedouble != want[i])
            return 0;
    }
    return 1;
}

static int array_is(const cJSON *a, const double *want, int n)
{
    return array_cmp(a, want, n, 0);
}

static int floats_are(const cJSON *a, const double *want, int n)
{
    return array_cmp(a, want, n, 1);
}

static const char *param(const cJSON *doc, const char *obj, const char *key)
{
    const char *const keys[] = {"learner", obj, key, NULL};
    const cJSON *v = path(doc, keys);

    return cJSON_IsString(v) ? v->valuestring : "";
}

static void test_layout(void)
{
    struct model *m = two_stumps(10.0f, 0.0f);
    cJSON *doc = export_json(m);
    const double split0[3] = {(double)nextafterf(10.0f, INFINITY), 10, 2};
    /* 0.0's next float up is the least subnormal, 2^-149. */
    const double split1[3] = {ldexp(1.0, -149), 5, 15};
    const double dleft[3] = {1, 0, 0}, left[3] = {1, -1, -1};
    const double right[3] = {2, -1, -1};
    const double parents[3] = {2147483647.0, 0, 0};
    const double hess0[3] = {4, 3, 1}, index[3] = {0, 0, 0};
    const double base0[3] = {0, 10, 2};

    test_cond("xgboost-1.1 the export parses as JSON", doc != NULL);
    test_cond("xgboost-1.2 split_condition is the next float above the "
              "threshold (we go left on <=, XGBoost on <); a leaf holds "
              "its value / n_trees (XGBoost sums, we average)",
              floats_are(tree_field(doc, 0, "split_conditions"), split0,
                         3));
    test_cond("xgboost-1.3 a threshold of 0 becomes 2^-149, so 0 still "
              "goes left",
              floats_are(tree_field(doc, 1, "split_conditions"), split1,
                         3) &&
                  (float)ldexp(1.0, -149) > 0.0f);
    test_cond("xgboost-1.4 default_left 1 at the split (NaN goes left in "
              "our trees), children -1 at leaves, parents, the root's "
              "2147483647",
              array_is(tree_field(doc, 0, "default_left"), dleft, 3) &&
                  array_is(tree_field(doc, 0, "left_children"), left, 3) &&
                  array_is(tree_field(doc, 0, "right_children"), right, 3) &&
                  array_is(tree_field(doc, 0, "parents"), parents, 3) &&
                  array_is(tree_field(doc, 0, "split_indices"), index, 3));
    test_cond("xgboost-1.5 sum_hessian is the cover, base_weights the "
              "node values / n_trees",
              array_is(tree_field(doc, 0, "sum_hessian"), hess0, 3) &&
                  array_is(tree_field(doc, 0, "base_weights"), base0, 3));
    {
        const char *const names_at[] = {"learner", "feature_names", NULL};
        const char *const obj_at[] = {"learner", "objective", "name", NULL};
        const char *const attr_at[] = {"learner", "attributes",
                                       "model_version", NULL};
        const char *const info_at[] = {"learner", "gradient_booster",
                                       "model", "tree_info", NULL};
        const cJSON *names = path(doc, names_at);
        const cJSON *obj = path(doc, obj_at);
        const cJSON *attr = path(doc, attr_at);
        test_cond("xgboost-1.6 the learner: base_score 0, num_feature, "
                  "feature_names, reg:squarederror, the version, one "
                  "tree_info per tree",
                  strcmp(param(doc, "learner_model_param", "base_score"),
                         "0E0") == 0 &&
                      strcmp(param(doc, "learner_model_param",
                                   "num_feature"), "2") == 0 &&
                      cJSON_GetArraySize(names) == 2 &&
                      strcmp(cJSON_GetArrayItem(names, 1)->valuestring,
                             "b") == 0 &&
                      cJSON_IsString(obj) &&
                      strcmp(obj->valuestring, "reg:squarederror") == 0 &&
                      cJSON_IsString(attr) &&
                      strcmp(attr->valuestring, "v1") == 0 &&
                      cJSON_GetArraySize(path(doc, info_at)) == 2);
    }
    cJSON_Delete(doc);
    {
        /* Why default_left is 1: NaN > threshold is false, so our walk
         * goes left, where -FLT_MAX goes. */
        float nan_row[NF] = {NAN, 0}, low_row[NF] = {-FLT_MAX, 0};
        float high_row[NF] = {FLT_MAX, 0};
        test_cond("xgboost-1.7 our trees send NaN left, as default_left "
                  "says",
                  forest_predict_row(m->forest, nan_row) ==
                          forest_predict_row(m->forest, low_row) &&
                      forest_predict_row(m->forest, nan_row) !=
                          forest_predict_row(m->forest, high_row));
    }
    model_free(m);
}

static void test_refusals(void)
{
    struct fr_error err = {{0}};
    struct dataset rows;
    struct model *m = test_small_series_model(&rows);

    test_cond("xgboost-2.1 a series model predicting relative to a level "
              "is refused, saying why",
              model_relative(m) && xgboost_check(m, &err) != 0 &&
                  strstr(err.msg, "level") != NULL &&
                  strchr(err.msg, '\n') == NULL);
    m->series.target = SERIES_TARGET_VALUE;
    m->series.level_window = 0;
    test_cond("xgboost-2.2 a series model predicting the value itself "
              "(format 1's meaning) is a function of its row: accepted",
              xgboost_check(m, NULL) == 0);
    m->series.target = 7; /* a target this build does not know */
    test_cond("xgboost-2.3 an unknown target is refused",
              xgboost_check(m, NULL) != 0);
    model_free(m);
    dataset_release(&rows);

    m = two_stumps(FLT_MAX, 1.0f);
    test_cond("xgboost-2.4 a threshold of FLT_MAX has no finite float "
              "above it: refused",
              xgboost_check(m, &err) != 0 &&
                  strstr(err.msg, "tree 0 node 0") != NULL);
    model_free(m);

    m = two_stumps(1.0f, 2.0f);
    free(m->forest->feature_names[1]);
    m->forest->feature_names[1] = strdup("x<1");
    test_cond("xgboost-2.5 a feature name XGBoost refuses ('<') is refused "
              "by name", xgboost_check(m, &err) != 0 &&
                             strstr(err.msg, "'x<1'") != NULL);
    model_free(m);

    m = two_stumps(1.0f, 2.0f);
    for (uint32_t t = 0; t < 2; t++) {
        free(m->forest->trees[t].cover);
        m->forest->trees[t].cover = NULL;
    }
    {
        const double zeros[3] = {0, 0, 0};
        cJSON *doc = export_json(m);
        test_cond("xgboost-2.6 a model without cover (format 1) exports, "
                  "sum_hessian 0 (XGBoost's contributions NaN)",
                  !xgboost_has_cover(m) && xgboost_check(m, NULL) == 0 &&
                      array_is(tree_field(doc, 1, "sum_hessian"), zeros,
                               3));
        cJSON_Delete(doc);
    }
    model_free(m);
}

void test_xgboost(void)
{
    test_layout();
    test_refusals();
}
