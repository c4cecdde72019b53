/*
 * model.c: encoding, decoding and durable writing of model.bin (model.h).
 *
 * Encoding appends to a growing byte buffer; decoding reads through a
 * cursor that refuses to move past the end, so a truncated or hostile file
 * becomes an error message, never an out-of-bounds read. CRC-32 comes from
 * zlib.
 */
#include "model.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "file.h"

static const char MAGIC[8] = {'R', 'F', 'O', 'R', 'E', 'S', 'T', '\0'};

#define MAX_FEATURES_IN_FILE 100000u
#define MAX_TREES_IN_FILE 100000u
#define MAX_NAME 255u

/* ---- encoding --------------------------------------------------------- */

struct out {
    uint8_t *buf;
    size_t len, cap;
    int failed;
};

static void put(struct out *o, const void *data, size_t n)
{
    if (o->failed)
        return;
    if (o->len + n > o->cap) {
        size_t cap = o->cap ? o->cap : 4096;
        uint8_t *p;
        while (cap < o->len + n)
            cap *= 2;
        p = realloc(o->buf, cap);
        if (p == NULL) {
            o->failed = 1;
            return;
        }
        o->buf = p;
        o->cap = cap;
    }
    memcpy(o->buf + o->len, data, n);
    o->len += n;
}

static void put_u8(struct out *o, uint8_t v)
{
    put(o, &v, 1);
}

static void put_u16(struct out *o, uint16_t v)
{
    uint8_t b[2] = {(uint8_t)v, (uint8_t)(v >> 8)};

    put(o, b, 2);
}

static void put_u32(struct out *o, uint32_t v)
{
    uint8_t b[4];

    for (int i = 0; i < 4; i++)
        b[i] = (uint8_t)(v >> (8 * i));
    put(o, b, 4);
}

static void put_u64(struct out *o, uint64_t v)
{
    put_u32(o, (uint32_t)v);
    put_u32(o, (uint32_t)(v >> 32));
}

static void put_f32(struct out *o, float v)
{
    uint32_t u;

    memcpy(&u, &v, 4);
    put_u32(o, u);
}

static void put_f64(struct out *o, double v)
{
    uint64_t u;

    memcpy(&u, &v, 8);
    put_u64(o, u);
}

static void put_name(struct out *o, const char *s)
{
    size_t n = strlen(s);

    if (n > MAX_NAME)
        n = MAX_NAME;
    put_u16(o, (uint16_t)n);
    put(o, s, n);
}

static void set_u32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static void encode_series(struct out *o, const struct series_spec *s)
{
    put_u32(o, s->n_lags);
    for (uint32_t i = 0; i < s->n_lags; i++)
        put_u32(o, s->lags[i]);
    put_u32(o, s->n_windows);
    for (uint32_t i = 0; i < s->n_windows; i++)
        put_u32(o, s->windows[i]);
    put_u32(o, s->n_covariates);
    for (uint32_t i = 0; i < s->n_covariates; i++)
        put_name(o, s->covariates[i]);
    put_u32(o, s->target);
    put_u32(o, s->level_window);
    put_u32(o, s->strategy);
    put_u32(o, s->horizon);
    put_u32(o, s->n_weekday_lags);
}

static void encode_tree(struct out *o, const struct tree *tree,
                        int has_cover)
{
    put_u32(o, tree->index);
    put_u32(o, tree->depth);
    put_u32(o, tree->n_nodes);
    for (uint32_t i = 0; i < tree->n_nodes; i++) {
        const struct tree_node *nd = &tree->nodes[i];
        put_u32(o, nd->feature);
        put_f32(o, nd->threshold);
        put_u32(o, nd->left);
        put_f32(o, nd->value);
    }
    for (uint32_t i = 0; has_cover && i < tree->n_nodes; i++)
        put_u32(o, tree->cover[i]);
}

/* 1 when every tree has cover: a forest merged from format-1 shards has
 * none, and explanations need all or nothing. */
static int forest_has_cover(const struct forest *f)
{
    for (uint32_t t = 0; t < f->n_trees; t++) {
        if (f->trees[t].cover == NULL)
            return 0;
    }
    return 1;
}

static void encode_calibration(struct out *o, const struct calibration *c)
{
    put_u8(o, c->n_horizons > 0);
    if (c->n_horizons == 0)
        return;
    put_u32(o, c->scale);
    put_u32(o, c->n_horizons);
    for (uint32_t h = 0; h < c->n_horizons; h++)
        put_u32(o, c->offsets[h + 1] - c->offsets[h]);
    for (uint32_t i = 0; i < c->offsets[c->n_horizons]; i++)
        put_f32(o, c->scores[i]);
}

static void encode_profile(struct out *o, const struct feature_profile *p)
{
    put_u8(o, p->n_bins > 0);
    if (p->n_bins == 0)
        return;
    put_u32(o, p->n_bins);
    for (size_t i = 0; i < (size_t)p->n_features * (p->n_bins - 1); i++)
        put_f32(o, p->edges[i]);
    for (size_t i = 0; i < (size_t)p->n_features * p->n_bins; i++)
        put_f64(o, p->shares[i]);
}

int model_encode(const struct model *m, uint8_t **buf, size_t *len,
                 uint32_t *crc, struct fr_error *err)
{
    struct out o = {0};
    const struct forest *f = m->forest;
    const struct forest_params *p = &f->params;
    uint32_t payload_crc;
    uint8_t header[MODEL_HEADER_BYTES] = {0};
    int has_cover;

    put(&o, header, sizeof header); /* filled in below */
    put_u32(&o, f->n_features);
    put_u32(&o, f->n_trees);
    put_u32(&o, p->n_trees);
    put_u32(&o, p->max_depth);
    put_u32(&o, p->min_samples_leaf);
    put_f64(&o, p->max_features);
    put_u32(&o, p->max_bins);
    put_u64(&o, p->seed);
    put_u32(&o, p->shard_index);
    put_u32(&o, p->shard_count);
    for (uint32_t i = 0; i < f->n_features; i++)
        put_name(&o, f->feature_names[i]);
    for (uint32_t i = 0; i < f->n_features; i++)
        put_f64(&o, f->importances[i]);
    put_f64(&o, f->oob_rmse);
    put_u8(&o, (uint8_t)(m->has_series != 0));
    if (m->has_series)
        encode_series(&o, &m->series);
    has_cover = forest_has_cover(f);
    put_u8(&o, (uint8_t)has_cover);
    for (uint32_t t = 0; t < f->n_trees; t++)
        encode_tree(&o, &f->trees[t], has_cover);
    encode_calibration(&o, &m->calibration);
    encode_profile(&o, &m->profile);
    if (o.failed) {
        free(o.buf);
        fr_error_set(err, "out of memory encoding the model");
        return -1;
    }
    if (o.len > MODEL_MAX_BYTES) {
        free(o.buf);
        fr_error_set(err, "the model would be %zu bytes, over the %llu the "
                     "loader accepts: use fewer or shallower trees", o.len,
                     (unsigned long long)MODEL_MAX_BYTES);
        return -1;
    }
    payload_crc = (uint32_t)crc32_z(0L, o.buf + MODEL_HEADER_BYTES,
                                    o.len - MODEL_HEADER_BYTES);
    memcpy(o.buf, MAGIC, 8);
    set_u32(o.buf + 8, MODEL_FORMAT_VERSION);
    set_u32(o.buf + 12, 0);
    set_u32(o.buf + 16, (uint32_t)(o.len - MODEL_HEADER_BYTES));
    set_u32(o.buf + 20, (uint32_t)((uint64_t)(o.len - MODEL_HEADER_BYTES) >> 32));
    set_u32(o.buf + 24, payload_crc);
    set_u32(o.buf + 28, (uint32_t)crc32(0L, o.buf, 28));
    *buf = o.buf;
    *len = o.len;
    if (crc != NULL)
        *crc = payload_crc;
    return 0;
}

/* ---- decoding --------------------------------------------------------- */

struct in {
    const uint8_t *p;
    size_t left;
    int short_read;   /* set once a read ran past the end */
};

static const uint8_t *take(struct in *in, size_t n)
{
    const uint8_t *p;

    if (in->short_read || n > in->left) {
        in->short_read = 1;
        return NULL;
    }
    p = in->p;
    in->p += n;
    in->left -= n;
    return p;
}

static uint32_t get_u32(struct in *in)
{
    const uint8_t *b = take(in, 4);

    if (b == NULL)
        return 0;
    return (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 |
           (uint32_t)b[3] << 24;
}

static uint64_t get_u64(struct in *in)
{
    uint64_t lo = get_u32(in);

    return lo | (uint64_t)get_u32(in) << 32;
}

static uint16_t get_u16(struct in *in)
{
    const uint8_t *b = take(in, 2);

    return b ? (uint16_t)(b[0] | b[1] << 8) : 0;
}

static uint8_t get_u8(struct in *in)
{
    const uint8_t *b = take(in, 1);

    return b ? b[0] : 0;
}

static float get_f32(struct in *in)
{
    uint32_t u = get_u32(in);
    float v;

    memcpy(&v, &u, 4);
    return v;
}

static double get_f64(struct in *in)
{
    uint64_t u = get_u64(in);
    double v;

    memcpy(&v, &u, 8);
    return v;
}

/* Reads a length-prefixed name into a new string; NULL when truncated,
 * empty, too long, holding a NUL or out of memory. */
static char *get_name(struct in *in)
{
    uint16_t n = get_u16(in);
    const uint8_t *b;
    char *s;

    if (n == 0 || n > MAX_NAME)
        return NULL;
    b = take(in, n);
    if (b == NULL || memchr(b, '\0', n) != NULL)
        return NULL;
    s = malloc((size_t)n + 1);
    if (s == NULL)
        return NULL;
    memcpy(s, b, n);
    s[n] = '\0';
    return s;
}

/* Checks one tree's structure. Returns 0 or -1 with err set. */
static int check_tree(const struct tree *tree, uint32_t n_features,
                      uint32_t t, struct fr_error *err)
{
    uint32_t *depth_of = NULL;
    uint32_t max_depth = 0;
    int rc = -1;

    depth_of = calloc(tree->n_nodes, sizeof *depth_of);
    if (depth_of == NULL) {
        fr_error_set(err, "out of memory checking tree %u", t);
        return -1;
    }
    for (uint32_t i = 0; i < tree->n_nodes; i++) {
        const struct tree_node *nd = &tree->nodes[i];
        if (!isfinite(nd->value)) {
            fr_error_set(err, "tree %u node %u: value is not finite", t, i);
            goto out;
        }
        if (nd->left == i) {
            if (nd->threshold != INFINITY || nd->feature != 0) {
                fr_error_set(err, "tree %u node %u: malformed leaf", t, i);
                goto out;
            }
            max_depth = depth_of[i] > max_depth ? depth_of[i] : max_depth;
            continue;
        }
        /* Children after their parent: walks only move forwards. */
        if (nd->left <= i || nd->left >= tree->n_nodes - 1) {
            fr_error_set(err, "tree %u node %u: child %u does not follow its "
                         "parent within %u nodes", t, i, nd->left,
                         tree->n_nodes);
            goto out;
        }
        if (nd->feature >= n_features || isnan(nd->threshold)) {
            fr_error_set(err, "tree %u node %u: bad split on feature %u", t,
                         i, nd->feature);
            goto out;
        }
        depth_of[nd->left] = depth_of[i] + 1;
        depth_of[nd->left + 1] = depth_of[i] + 1;
    }
    /* Prediction takes exactly `depth` steps; fewer would stop above a
     * leaf. More is harmless (leaves loop), but a wrong number means a
     * wrong file. */
    if (tree->depth != max_depth) {
        fr_error_set(err, "tree %u: stored depth %u, real depth %u", t,
                     tree->depth, max_depth);
        goto out;
    }
    rc = 0;
out:
    free(depth_of);
    return rc;
}

/* Reads the series spec (format 1 had only lags, windows and covariates:
 * a raw target forecast recursively; format 2 added the target and its
 * level, still recursive; format 3 the strategy). Returns 0 or -1 with err
 * set. */
static int decode_series(struct in *in, struct model *m, uint32_t version,
                         struct fr_error *err)
{
    struct series_spec *s = &m->series;
    const struct forest *f = m->forest;
    char name[SERIES_NAME_MAX + 1];
    uint32_t n_cov;

    m->has_series = 1; /* from here model_free releases what was read */
    s->n_lags = get_u32(in);
    if (s->n_lags > SERIES_MAX_LAGS)
        goto bad;
    for (uint32_t i = 0; i < s->n_lags; i++)
        s->lags[i] = get_u32(in);
    s->n_windows = get_u32(in);
    if (s->n_windows > SERIES_MAX_WINDOWS)
        goto bad;
    for (uint32_t i = 0; i < s->n_windows; i++)
        s->windows[i] = get_u32(in);
    n_cov = get_u32(in);
    if (n_cov > SERIES_MAX_COVARIATES)
        goto bad;
    for (uint32_t i = 0; i < n_cov; i++) {
        s->covariates[i] = get_name(in);
        if (s->covariates[i] == NULL)
            goto bad;
        s->n_covariates++;
    }
    if (version >= 2) {
        s->target = get_u32(in);
        s->level_window = get_u32(in);
    } else {
        s->target = SERIES_TARGET_VALUE;
        s->level_window = 0;
    }
    if (version >= 3) {
        s->strategy = get_u32(in);
        s->horizon = get_u32(in);
        s->n_weekday_lags = get_u32(in);
    } else {
        s->strategy = SERIES_RECURSIVE;
        s->horizon = 0;
        s->n_weekday_lags = 0;
    }
    if (in->short_read || series_spec_check(s, err) != 0)
        goto bad;
    /* The names must be the spec's, or the server would build forecast
     * rows in another order than the trees expect. */
    if (series_n_features(s) != f->n_features)
        goto bad;
    for (uint32_t i = 0; i < f->n_features; i++) {
        series_feature_name(s, i, name, sizeof name);
        if (strcmp(name, f->feature_names[i]) != 0)
            goto bad;
    }
    return 0;
bad:
    fr_error_set(err, "%s", in->short_read ? "truncated" :
                 "malformed series feature description");
    return -1;
}

/* Reads format 2's cover of a checked tree: every node is reached by some
 * weight and holds exactly its children's, which TreeSHAP's divisions rely
 * on. Returns 0 or -1 with err set. */
static int decode_cover(struct in *in, struct tree *tree, uint32_t t,
                        struct fr_error *err)
{
    if (tree->n_nodes > in->left / 4) {
        fr_error_set(err, "tree %u: truncated", t);
        return -1;
    }
    tree->cover = malloc((size_t)tree->n_nodes * sizeof *tree->cover);
    if (tree->cover == NULL) {
        fr_error_set(err, "out of memory loading the model");
        return -1;
    }
    for (uint32_t i = 0; i < tree->n_nodes; i++)
        tree->cover[i] = get_u32(in);
    for (uint32_t i = 0; i < tree->n_nodes; i++) {
        const struct tree_node *nd = &tree->nodes[i];
        if (tree->cover[i] == 0 ||
            (nd->left != i && (uint64_t)tree->cover[nd->left] +
                                  tree->cover[nd->left + 1] !=
                              tree->cover[i])) {
            fr_error_set(err, "tree %u node %u: cover %u is not its "
                         "children's sum", t, i, tree->cover[i]);
            return -1;
        }
    }
    return 0;
}

static int decode_tree(struct in *in, struct tree *tree,
                       const struct forest *f, uint32_t t, int has_cover,
                       struct fr_error *err)
{
    tree->index = get_u32(in);
    tree->depth = get_u32(in);
    tree->n_nodes = get_u32(in);
    /* Each node is 16 bytes: a count beyond what remains is a lie. */
    if (in->short_read || tree->n_nodes < 1 ||
        tree->n_nodes > in->left / 16 || tree->index >= f->params.n_trees ||
        tree->depth > FOREST_MAX_DEPTH) {
        fr_error_set(err, "tree %u: %s", t, in->short_read ? "truncated" :
                     "bad header (index, depth or node count)");
        return -1;
    }
    tree->nodes = malloc((size_t)tree->n_nodes * sizeof *tree->nodes);
    if (tree->nodes == NULL) {
        fr_error_set(err, "out of memory loading the model");
        return -1;
    }
    for (uint32_t i = 0; i < tree->n_nodes; i++) {
        tree->nodes[i].feature = get_u32(in);
        tree->nodes[i].threshold = get_f32(in);
        tree->nodes[i].left = get_u32(in);
        tree->nodes[i].value = get_f32(in);
    }
    if (check_tree(tree, f->n_features, t, err) != 0)
        return -1;
    if (has_cover && decode_cover(in, tree, t, err) != 0)
        return -1;
    if (t > 0 && tree->index <= f->trees[t - 1].index) {
        fr_error_set(err, "tree %u: trees are not in index order", t);
        return -1;
    }
    return 0;
}

static int decode_calibration(struct in *in, struct calibration *c,
                              struct fr_error *err)
{
    uint32_t n, total = 0;

    if (get_u8(in) == 0)
        return 0;
    c->scale = get_u32(in);
    n = get_u32(in);
    if (in->short_read || n < 1 || n > CALIBRATION_MAX_HORIZONS) {
        fr_error_set(err, "calibration: %s", in->short_read ? "truncated" :
                     "bad horizon count");
        return -1;
    }
    c->offsets = malloc(((size_t)n + 1) * sizeof *c->offsets);
    if (c->offsets == NULL)
        goto nomem;
    c->n_horizons = n;
    c->offsets[0] = 0;
    for (uint32_t h = 0; h < n; h++) {
        uint32_t count = get_u32(in);
        if (count > CALIBRATION_MAX_SCORES) {
            fr_error_set(err, "calibration: horizon %u holds %u scores",
                         h + 1, count);
            return -1;
        }
        total += count;
        c->offsets[h + 1] = total;
    }
    if (in->short_read || total > in->left / 4) {
        fr_error_set(err, "calibration: truncated");
        return -1;
    }
    c->scores = malloc((total ? total : 1) * sizeof *c->scores);
    if (c->scores == NULL)
        goto nomem;
    for (uint32_t i = 0; i < total; i++)
        c->scores[i] = get_f32(in);
    return calibration_check(c, err);
nomem:
    fr_error_set(err, "out of memory loading the model");
    return -1;
}

static int decode_profile(struct in *in, struct feature_profile *p,
                          uint32_t n_features, struct fr_error *err)
{
    size_t n_edges, n_shares;

    if (get_u8(in) == 0)
        return 0;
    p->n_bins = get_u32(in);
    p->n_features = n_features;
    if (in->short_read || p->n_bins < 2 || p->n_bins > PROFILE_MAX_BINS) {
        fr_error_set(err, "feature profile: %s", in->short_read ?
                     "truncated" : "bad bin count");
        p->n_bins = 0;
        return -1;
    }
    n_edges = (size_t)n_features * (p->n_bins - 1);
    n_shares = (size_t)n_features * p->n_bins;
    if (n_edges > in->left / 4 || n_shares > (in->left - 4 * n_edges) / 8) {
        fr_error_set(err, "feature profile: truncated");
        return -1;
    }
    p->edges = malloc(n_edges * sizeof *p->edges);
    p->shares = malloc(n_shares * sizeof *p->shares);
    if (p->edges == NULL || p->shares == NULL) {
        fr_error_set(err, "out of memory loading the model");
        return -1;
    }
    for (size_t i = 0; i < n_edges; i++)
        p->edges[i] = get_f32(in);
    for (size_t i = 0; i < n_shares; i++)
        p->shares[i] = get_f64(in);
    return profile_check(p, err);
}

/* Relative scores need a level to scale back by, which only a series
 * model whose target is relative to one has; a table has one horizon.
 * Returns 0 or -1 with err set. */
static int check_calibration_fits(const struct model *m,
                                  struct fr_error *err)
{
    const struct calibration *c = &m->calibration;

    if (c->n_horizons == 0)
        return 0;
    if (c->scale == CALIBRATION_RELATIVE &&
        !(m->has_series && m->series.level_window >= 1)) {
        fr_error_set(err, "calibration: relative scores without a series "
                     "level");
        return -1;
    }
    if (!m->has_series && c->n_horizons != 1) {
        fr_error_set(err, "calibration: %u horizons for a tabular model",
                     c->n_horizons);
        return -1;
    }
    return 0;
}

struct model *model_decode(const uint8_t *buf, size_t len, uint32_t *crc,
                           struct fr_error *err)
{
    struct in in;
    struct model *m = NULL;
    struct forest *f;
    uint64_t payload;
    uint32_t version, payload_crc, n_features, n_trees;
    int has_cover;

    if (len < MODEL_HEADER_BYTES) {
        fr_error_set(err, "truncated: %zu bytes, not a model file", len);
        return NULL;
    }
    if (memcmp(buf, MAGIC, 8) != 0) {
        fr_error_set(err, "not a model file (bad magic)");
        return NULL;
    }
    in = (struct in){buf + 8, len - 8, 0};
    version = get_u32(&in);
    (void)get_u32(&in); /* flags */
    payload = get_u64(&in);
    payload_crc = get_u32(&in);
    if (get_u32(&in) != (uint32_t)crc32(0L, buf, 28)) {
        fr_error_set(err, "header checksum mismatch: the file is corrupted");
        return NULL;
    }
    if (version > MODEL_FORMAT_VERSION) {
        fr_error_set(err, "format version %u is newer than this build reads "
                     "(versions %d to %d): upgrade forest-serve before "
                     "forest-train", version, MODEL_FORMAT_OLDEST,
                     MODEL_FORMAT_VERSION);
        return NULL;
    }
    if (version < MODEL_FORMAT_OLDEST) {
        fr_error_set(err, "format version %u is older than this build reads "
                     "(versions %d to %d)", version, MODEL_FORMAT_OLDEST,
                     MODEL_FORMAT_VERSION);
        return NULL;
    }
    if (payload != len - MODEL_HEADER_BYTES) {
        fr_error_set(err, "%s: the header promises %llu payload bytes, the "
                     "file has %zu", payload > len - MODEL_HEADER_BYTES ?
                     "truncated" : "trailing bytes",
                     (unsigned long long)payload, len - MODEL_HEADER_BYTES);
        return NULL;
    }
    if ((uint32_t)crc32_z(0L, buf + MODEL_HEADER_BYTES, (size_t)payload) !=
        payload_crc) {
        fr_error_set(err, "payload checksum mismatch: the file is corrupted");
        return NULL;
    }
    in = (struct in){buf + MODEL_HEADER_BYTES, (size_t)payload, 0};
    n_features = get_u32(&in);
    n_trees = get_u32(&in);
    if (n_features < 1 || n_features > MAX_FEATURES_IN_FILE || n_trees < 1 ||
        n_trees > MAX_TREES_IN_FILE) {
        fr_error_set(err, "implausible size: %u features, %u trees",
                     n_features, n_trees);
        return NULL;
    }
    m = calloc(1, sizeof *m);
    if (m == NULL)
        goto nomem;
    m->format_version = version;
    f = m->forest = calloc(1, sizeof *f);
    if (f == NULL)
        goto nomem;
    f->trees = calloc(n_trees, sizeof *f->trees);
    f->feature_names = calloc(n_features, sizeof *f->feature_names);
    f->importances = calloc(n_features, sizeof *f->importances);
    if (!f->trees || !f->feature_names || !f->importances)
        goto nomem;
    f->n_trees = n_trees;
    f->n_features = n_features;
    f->params.n_trees = get_u32(&in);
    f->params.max_depth = get_u32(&in);
    f->params.min_samples_leaf = get_u32(&in);
    f->params.max_features = get_f64(&in);
    f->params.max_bins = get_u32(&in);
    f->params.seed = get_u64(&in);
    f->params.shard_index = get_u32(&in);
    f->params.shard_count = get_u32(&in);
    if (forest_params_check(&f->params, err) != 0) {
        fr_error_prefix(err, "bad hyperparameters");
        goto fail;
    }
    if (n_trees > f->params.n_trees) {
        fr_error_set(err, "holds %u trees of a %u-tree forest", n_trees,
                     f->params.n_trees);
        goto fail;
    }
    for (uint32_t i = 0; i < n_features; i++) {
        f->feature_names[i] = get_name(&in);
        if (f->feature_names[i] == NULL) {
            if (in.short_read)
                fr_error_set(err, "truncated");
            else
                fr_error_set(err, "feature name %u is empty, too long or "
                             "unreadable", i);
            goto fail;
        }
        for (uint32_t j = 0; j < i; j++) {
            if (strcmp(f->feature_names[i], f->feature_names[j]) == 0) {
                fr_error_set(err, "feature name '%s' appears twice",
                             f->feature_names[i]);
                goto fail;
            }
        }
    }
    for (uint32_t i = 0; i < n_features; i++)
        f->importances[i] = get_f64(&in);
    f->oob_rmse = get_f64(&in);
    if (get_u8(&in) != 0 && decode_series(&in, m, version, err) != 0)
        goto fail;
    has_cover = version >= 2 && get_u8(&in) != 0;
    for (uint32_t t = 0; t < n_trees; t++) {
        if (decode_tree(&in, &f->trees[t], f, t, has_cover, err) != 0)
            goto fail;
    }
    if (version >= 2 &&
        (decode_calibration(&in, &m->calibration, err) != 0 ||
         decode_profile(&in, &m->profile, n_features, err) != 0 ||
         check_calibration_fits(m, err) != 0))
        goto fail;
    if (in.short_read) {
        fr_error_set(err, "truncated");
        goto fail;
    }
    if (in.left != 0) {
        fr_error_set(err, "%zu unexplained bytes after the model", in.left);
        goto fail;
    }
    if (crc != NULL)
        *crc = payload_crc;
    return m;
nomem:
    fr_error_set(err, "out of memory loading the model");
fail:
    model_free(m);
    return NULL;
}

/* ---- the model --------------------------------------------------------- */

int model_relative(const struct model *m)
{
    return m->has_series && m->series.target == SERIES_TARGET_DIFF;
}

double model_predict_row(const struct model *m, const float *row,
                         float *work)
{
    double level;

    if (!model_relative(m))
        return forest_predict_row(m->forest, row);
    level = series_relative_row(&m->series, row, work);
    return forest_predict_row(m->forest, work) + level;
}

void model_predict(const struct model *m, const float *X, size_t n_rows,
                   size_t n_threads, float *work, double *out)
{
    size_t nf = m->forest->n_features;
    enum { CHUNK = 256 };
    double level[CHUNK], pred[CHUNK];

    if (!model_relative(m)) {
        forest_predict(m->forest, X, n_rows, n_threads, out);
        return;
    }
    /* In chunks, so the levels fit on the stack and out is written only
     * once each (work may be X itself). */
    for (size_t at = 0; at < n_rows; at += CHUNK) {
        size_t k = n_rows - at < CHUNK ? n_rows - at : CHUNK;
        for (size_t i = 0; i < k; i++)
            level[i] = series_relative_row(&m->series, X + (at + i) * nf,
                                           work + (at + i) * nf);
        forest_predict(m->forest, work + at * nf, k, n_threads, pred);
        for (size_t i = 0; i < k; i++)
            out[at + i] = pred[i] + level[i];
    }
}

void model_predict_spread(const struct model *m, const float *row,
                          double q_lo, double q_hi, double *work,
                          float *row_work, double *mean, double *std,
                          double *lo, double *hi)
{
    double level = 0.0;

    if (model_relative(m))
        level = series_relative_row(&m->series, row, row_work);
    forest_predict_spread_into(m->forest, model_relative(m) ? row_work : row,
                               q_lo, q_hi, work, mean, std, lo, hi);
    *mean += level;
    *lo += level;
    *hi += level;
}

struct model *model_new(struct forest *f, const struct series_spec *spec,
                        struct fr_error *err)
{
    struct model *m;

    if (f == NULL)
        return NULL; /* err says why the forest could not be made */
    m = calloc(1, sizeof *m);
    if (m == NULL) {
        forest_free(f);
        fr_error_set(err, "out of memory");
        return NULL;
    }
    m->forest = f;
    m->format_version = MODEL_FORMAT_VERSION;
    if (spec != NULL) {
        if (series_spec_copy(&m->series, spec, err) != 0) {
            model_free(m);
            return NULL;
        }
        m->has_series = 1;
    }
    return m;
}

void model_free(struct model *m)
{
    if (m == NULL)
        return;
    forest_free(m->forest);
    if (m->has_series)
        series_spec_release(&m->series);
    calibration_release(&m->calibration);
    profile_release(&m->profile);
    free(m);
}

/* ---- description ------------------------------------------------------ */

static cJSON *uint_array(const uint32_t *v, uint32_t n)
{
    cJSON *a = cJSON_CreateArray();

    for (uint32_t i = 0; a != NULL && i < n; i++) {
        if (!cJSON_AddItemToArray(a, cJSON_CreateNumber(v[i]))) {
            cJSON_Delete(a);
            return NULL;
        }
    }
    return a;
}

/* Adds item under key, or frees it: cJSON leaves an item it could not
 * attach to the caller. Returns 0, or -1 when item is NULL or the key could
 * not be allocated. */
static int add_owned_item(cJSON *obj, const char *key, cJSON *item)
{
    if (item == NULL)
        return -1;
    if (!cJSON_AddItemToObject(obj, key, item)) {
        cJSON_Delete(item);
        return -1;
    }
    return 0;
}

static const char *const TARGET_NAMES[] = {"value", "difference_to_level"};
static const char *const STRATEGY_NAMES[] = {"recursive", "direct"};

static int describe_series(const struct series_spec *s, cJSON *obj)
{
    cJSON *series = cJSON_AddObjectToObject(obj, "series");

    if (series == NULL ||
        add_owned_item(series, "lags", uint_array(s->lags, s->n_lags)) != 0 ||
        add_owned_item(series, "windows",
                       uint_array(s->windows, s->n_windows)) != 0 ||
        add_owned_item(series, "covariates",
                       cJSON_CreateStringArray(
                           (const char *const *)s->covariates,
                           (int)s->n_covariates)) != 0 ||
        !cJSON_AddNumberToObject(series, "history_days", series_history(s)) ||
        !cJSON_AddStringToObject(series, "target", TARGET_NAMES[s->target]) ||
        !cJSON_AddNumberToObject(series, "level_window", s->level_window) ||
        !cJSON_AddStringToObject(series, "strategy",
                                 STRATEGY_NAMES[s->strategy]) ||
        !cJSON_AddNumberToObject(series, "horizon", s->horizon) ||
        !cJSON_AddNumberToObject(series, "weekday_lags", s->n_weekday_lags))
        return -1;
    return 0;
}

int model_describe(const struct model *m, cJSON *obj)
{
    const struct forest *f = m->forest;
    const struct forest_params *p = &f->params;
    cJSON *names, *imp, *hp, *cap;

    if (!cJSON_AddStringToObject(obj, "mode",
                                 m->has_series ? "series" : "tabular"))
        return -1;
    names = cJSON_AddArrayToObject(obj, "features");
    imp = cJSON_AddObjectToObject(obj, "feature_importances");
    if (names == NULL || imp == NULL)
        return -1;
    for (uint32_t i = 0; i < f->n_features; i++) {
        cJSON *name = cJSON_CreateString(f->feature_names[i]);
        if (name == NULL)
            return -1;
        if (!cJSON_AddItemToArray(names, name)) {
            cJSON_Delete(name);
            return -1;
        }
        if (!cJSON_AddNumberToObject(imp, f->feature_names[i],
                                     f->importances[i]))
            return -1;
    }
    hp = cJSON_AddObjectToObject(obj, "hyperparameters");
    if (hp == NULL || !cJSON_AddNumberToObject(hp, "n_estimators", p->n_trees) ||
        !cJSON_AddNumberToObject(hp, "max_depth", p->max_depth) ||
        !cJSON_AddNumberToObject(hp, "min_samples_leaf", p->min_samples_leaf) ||
        !cJSON_AddNumberToObject(hp, "max_features", p->max_features) ||
        !cJSON_AddNumberToObject(hp, "max_bins", p->max_bins) ||
        !cJSON_AddNumberToObject(hp, "seed", (double)p->seed) ||
        !cJSON_AddBoolToObject(hp, "bootstrap", 1))
        return -1;
    if (m->has_series && describe_series(&m->series, obj) != 0)
        return -1;
    /* What the file kept, so a client learns before asking that a model
     * from an older release has no calibrated intervals, for example. */
    cap = cJSON_AddObjectToObject(obj, "capabilities");
    if (cap == NULL ||
        !cJSON_AddNumberToObject(cap, "format_version", m->format_version) ||
        !cJSON_AddBoolToObject(cap, "calibrated_intervals",
                               m->calibration.n_horizons > 0) ||
        !cJSON_AddNumberToObject(cap, "calibrated_horizons",
                                 m->calibration.n_horizons) ||
        !cJSON_AddBoolToObject(cap, "explanations", forest_has_cover(f)) ||
        !cJSON_AddBoolToObject(cap, "drift", m->profile.n_bins > 0))
        return -1;
    return 0;
}

/* ---- files ------------------------------------------------------------ */

int model_save(const struct model *m, const char *path, uint32_t *crc,
               struct fr_error *err)
{
    uint8_t *buf = NULL;
    size_t len;
    int rc;

    if (model_encode(m, &buf, &len, crc, err) != 0)
        return -1;
    rc = file_write_atomic(path, buf, len, err);
    free(buf);
    return rc;
}

struct model *model_load(const char *path, uint32_t *crc,
                         struct fr_error *err)
{
    uint8_t *buf = NULL;
    size_t len;
    struct model *m;

    if (file_read_all(path, MODEL_MAX_BYTES, &buf, &len, err) != 0)
        return NULL;
    m = model_decode(buf, len, crc, err);
    if (m == NULL)
        fr_error_prefix(err, "cannot load model '%s'", path);
    free(buf);
    return m;
}
