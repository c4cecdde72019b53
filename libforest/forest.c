/*
 * forest.c: histogram-based random-forest regression (see forest.h).
 *
 * Training follows scikit-learn's RandomForestRegressor (bootstrap rows
 * weighted by how often they were drawn, squared-error CART splits, a random
 * feature subset per node) but finds splits on histograms, as LightGBM and
 * XGBoost's "hist" method do:
 *
 *  1. Each feature's training values are cut into at most max_bins bins at
 *     quantiles (exactly one bin per distinct value when there are few), and
 *     every cell of X becomes a one-byte bin number. Bins are stored
 *     row-major, so one row's bins share a cache line. Above bin_sample
 *     rows the quantiles come from a fixed-seed sample of rows, as
 *     LightGBM and XGBoost's sketches do: sorting every value was the one
 *     n log n step, and the sample moves test RMSE by far less than 0.5%
 *     (bench/README.md). The distinct values are still counted over every
 *     row, so a feature with few keeps one bin per value exactly.
 *  2. A node's histogram holds, per feature and bin, the bootstrap weight,
 *     the weighted target sum and the distinct-row count of its rows. The
 *     best split of a feature is one left-to-right scan of its bins, which
 *     maximises the squared-error reduction
 *         S_L^2 / W_L + S_R^2 / W_R - S^2 / W.
 *  3. Only the smaller child's histogram is built from rows; the larger one
 *     is the parent's minus the smaller's (the subtraction trick), and nodes
 *     that will be leaves get no histogram at all.
 *  4. Each tree keeps its in-bag rows, with their bins, weight and weighted
 *     target, in one block in node order (LightGBM and XGBoost keep row
 *     partitions and per-node ordered data the same way): partitioning a
 *     node moves its rows' entries, stably, so a node is a contiguous run
 *     of the block and every level below the root reads memory
 *     sequentially. Gathering bins[row] and y[row] from the whole table
 *     instead missed the last-level cache about 1.3 M times per tree at 1M
 *     rows, and made growth superlinear in rows (bench/README.md).
 *
 * Split thresholds are real values (the midpoint between the bins' values),
 * so prediction compares raw floats and needs no bins. Each tree draws from
 * its own random stream seeded by (seed, tree index), which makes the forest
 * the same for any thread count and lets shards of one forest be trained on
 * different machines and merged.
 */
#include "forest.h"

#include <assert.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "parallel.h"
#include "radix.h"
#include "rng.h"

/* GCC does not expand macros in "#pragma GCC unroll n", so the count goes
 * through _Pragma: a loop marked FR_UNROLL(LANES) is unrolled LANES times,
 * whatever LANES is. */
#define FR_STRINGIFY(x) #x
#define FR_UNROLL(n) _Pragma(FR_STRINGIFY(GCC unroll n))

/* Growing a tree (grow_tree and, flattened into it, everything it calls)
 * is also compiled for AVX2, picked at load time on a CPU that has it:
 * twice the doubles per vector instruction, so the gains' divisions and
 * the histogram subtraction take half the instructions (make run's
 * training about 8% less CPU). The same IEEE operations on the same values
 * in the same order: AVX2 alone brings no fused multiply-add to contract
 * expressions into, and nothing is reassociated, so the trees are the same
 * bits on any CPU. (AVX-512 measured no faster.)
 * flatten: a target clone does not inline functions compiled for the
 * default target, and split_candidates and partition stayed plain calls
 * without AVX2. Clang refuses target_clones together with flatten, so a
 * Clang build (the fuzzers) grows for the default target only; the trees
 * are the same bits either way. */
#if defined(__x86_64__) && defined(__has_attribute) && !defined(__clang__)
#if __has_attribute(target_clones)
#define FR_GROW_TARGETS \
    __attribute__((target_clones("avx2", "default"), flatten))
#endif
#endif
#ifndef FR_GROW_TARGETS
#define FR_GROW_TARGETS
#endif

/* ---- parameters ------------------------------------------------------ */

void forest_params_default(struct forest_params *p)
{
    memset(p, 0, sizeof *p);
    p->n_trees = 100;
    p->max_depth = 10;
    p->min_samples_leaf = 1;
    p->max_features = 1.0;
    p->max_bins = 256;
    /* LightGBM's bin_construct_sample_cnt: 256 quantiles from 200k values
     * are within about 0.2% of a bin's share of the exact ones. */
    p->bin_sample = 200000;
    p->seed = 42;
    p->shard_count = 1;
}

int forest_params_check(const struct forest_params *p, struct fr_error *err)
{
    if (p->n_trees < 1 || p->n_trees > FOREST_MAX_TREES) {
        fr_error_set(err, "n_trees must be 1 to %d, not %u", FOREST_MAX_TREES,
                     p->n_trees);
        return -1;
    }
    if (p->max_depth < 1 || p->max_depth > FOREST_MAX_DEPTH) {
        fr_error_set(err, "max_depth must be 1 to %d, not %u",
                     FOREST_MAX_DEPTH, p->max_depth);
        return -1;
    }
    if (p->min_samples_leaf < 1 ||
        p->min_samples_leaf > FOREST_MAX_MIN_SAMPLES_LEAF) {
        fr_error_set(err, "min_samples_leaf must be 1 to %d, not %u",
                     FOREST_MAX_MIN_SAMPLES_LEAF, p->min_samples_leaf);
        return -1;
    }
    if (!(p->max_features > 0.0 && p->max_features <= 1.0)) {
        fr_error_set(err, "max_features must be a fraction in (0, 1], not %g",
                     p->max_features);
        return -1;
    }
    if (p->max_bins < 2 || p->max_bins > FOREST_MAX_BINS) {
        fr_error_set(err, "max_bins must be 2 to %d, not %u", FOREST_MAX_BINS,
                     p->max_bins);
        return -1;
    }
    if (p->shard_count < 1 || p->shard_index >= p->shard_count ||
        p->shard_count > p->n_trees) {
        fr_error_set(err, "shard %u of %u is not valid for %u trees (need "
                     "shard_index < shard_count <= n_trees)",
                     p->shard_index, p->shard_count, p->n_trees);
        return -1;
    }
    return 0;
}

/* ---- binning --------------------------------------------------------- */

struct binner {
    size_t n_rows, n_features;
    const float *X;          /* training rows, row-major */
    uint32_t max_bins;
    uint32_t *n_bins;        /* per feature, 1..max_bins */
    float *edges;            /* n_features x max_bins: bin b holds values
                                with edges[b-1] < x <= edges[b]; the last
                                edge of a feature is +inf */
    float *padded;           /* n_features x FOREST_MAX_BINS: the edges,
                                then +inf (for bin_of) */
    size_t n_sample;         /* rows whose values place quantile edges */
    size_t *sample;          /* n_sample ascending row numbers, or NULL
                                when every row is used */
    float **scratch;         /* one n_sample column buffer per worker */
    uint32_t **keys;         /* per worker, 2 x n_sample: radix sort keys */
    size_t stride;           /* bytes per row of bins: n_features, at
                                least 8 (rows move as 8- or 16-byte
                                words: bins_copy) */
    uint8_t *bins;           /* n_rows x stride bin numbers; bytes past
                                n_features are zero */
};

static int cmp_float(const void *a, const void *b)
{
    float x = *(const float *)a, y = *(const float *)b;

    return (x > y) - (x < y);
}

/* Sorts col[0..n) ascending, with keys (2 x n) as scratch: an LSD radix
 * sort, four passes of 8 bits over keys that order as the floats do (the
 * sign bit flipped for positives, every bit for negatives). Sorting each
 * feature's column was a tenth of make run's training time with qsort's
 * comparisons; any sort gives the same edges (-0 and +0, the only equal
 * values with different keys, make the same midpoints). */
static void sort_floats(float *col, size_t n, uint32_t *keys)
{
    uint32_t *a = keys, *b = keys + n;

    for (size_t i = 0; i < n; i++) {
        uint32_t k;
        memcpy(&k, &col[i], sizeof k);
        a[i] = k & 0x80000000u ? ~k : k | 0x80000000u;
    }
    radix_sort_u32(a, b, n, 4);
    /* Four passes: the sorted keys are back in keys[0..n). */
    for (size_t i = 0; i < n; i++) {
        uint32_t k = a[i] & 0x80000000u ? a[i] & 0x7fffffffu : ~a[i];
        memcpy(&col[i], &k, sizeof k);
    }
}

/* A threshold between neighbouring values a < b. The midpoint can round up
 * to b in float, which would send b left; then a itself is used, as
 * scikit-learn does. */
static float midpoint(float a, float b)
{
    float m = (float)(((double)a + (double)b) / 2.0);

    return m >= b ? a : m;
}

/* Equal-count edges over the sorted values col[0..n): close a bin once it
 * holds its share of the values still unbinned, and only where the value
 * changes. Returns the number of edges written (at most max_bins - 1). */
static size_t quantile_edges(const float *col, size_t n, uint32_t max_bins,
                             float *edges)
{
    size_t start = 0, bins_left = max_bins, nb = 0;

    for (size_t i = 1; i < n && bins_left > 1; i++) {
        size_t share = (n - start) / bins_left;
        if (col[i] != col[i - 1] && i - start >= share) {
            edges[nb++] = midpoint(col[i - 1], col[i]);
            start = i;
            bins_left--;
        }
    }
    return nb;
}

#define DISTINCT_SLOTS 1024 /* a power of two above 2 * (FOREST_MAX_BINS + 1) */

/* Collects feature f's distinct values over every row into out (room for
 * max_bins values) when there are at most max_bins of them. Returns how
 * many, or 0 when there are more. One pass with a small open-addressing
 * set: linear in the rows, where sorting them is not. */
static size_t few_distinct(const struct binner *b, size_t f, float *out)
{
    uint32_t keys[DISTINCT_SLOTS];
    uint8_t used[DISTINCT_SLOTS];
    size_t count = 0;

    memset(used, 0, sizeof used);
    for (size_t i = 0; i < b->n_rows; i++) {
        /* + 0.0f makes -0 into +0: the sort compares them equal too */
        float x = b->X[i * b->n_features + f] + 0.0f;
        uint32_t key, h;
        memcpy(&key, &x, sizeof key);
        h = (key * 2654435761u) >> 22; /* Knuth's multiplicative hash */
        while (used[h] && keys[h] != key)
            h = (h + 1) & (DISTINCT_SLOTS - 1);
        if (used[h])
            continue;
        if (count == b->max_bins)
            return 0;
        used[h] = 1;
        keys[h] = key;
        out[count++] = x;
    }
    return count;
}

static int bin_feature(void *ctx, size_t worker, size_t f)
{
    struct binner *b = ctx;
    float *col = b->scratch[worker];
    float *edges = b->edges + f * b->max_bins;
    size_t n = b->n_sample, distinct = 1, nb = 0;

    if (b->sample != NULL) {
        distinct = few_distinct(b, f, col);
        if (distinct != 0) {
            qsort(col, distinct, sizeof *col, cmp_float);
            n = distinct;
        } else {
            for (size_t i = 0; i < n; i++)
                col[i] = b->X[b->sample[i] * b->n_features + f];
            sort_floats(col, n, b->keys[worker]);
            distinct = b->max_bins + 1;
        }
    } else {
        for (size_t i = 0; i < n; i++)
            col[i] = b->X[i * b->n_features + f];
        sort_floats(col, n, b->keys[worker]);
        for (size_t i = 1; i < n; i++)
            distinct += col[i] != col[i - 1];
    }
    if (distinct <= b->max_bins) {
        /* One bin per distinct value: splits are as exact as sorting. */
        for (size_t i = 1; i < n; i++) {
            if (col[i] != col[i - 1])
                edges[nb++] = midpoint(col[i - 1], col[i]);
        }
    } else {
        nb = quantile_edges(col, n, b->max_bins, edges);
    }
    edges[nb++] = INFINITY;
    b->n_bins[f] = (uint32_t)nb;
    return 0;
}

/* The bin of x: the first b with x <= edges[b], that is the number of
 * edges below x. padded holds a feature's edges followed by +inf up to
 * FOREST_MAX_BINS, so the search takes log2(top) halving steps, top being
 * a power of two >= the feature's bins, and each is a compare and a
 * conditional move, not a branch the predictor misses on every other cell
 * (it was 14% of a one-stump run at 1M rows). x is finite (tables refuse
 * NaN), so the last edge, +inf, is never below it, and the answer is
 * below top. */
static uint8_t bin_of(const float *padded, uint32_t top, float x)
{
    uint32_t lo = 0;

    for (uint32_t step = top / 2; step > 0; step /= 2)
        lo += padded[lo + step - 1] < x ? step : 0;
    return (uint8_t)lo;
}

#define BIN_CHUNK 4096

/* Bins rows chunk * BIN_CHUNK onwards, a feature at a time: the searches
 * of one feature's values are independent, so the CPU overlaps them, and
 * a feature with few bins (a weekday, a month) takes only the steps its
 * bins need rather than eight. */
static int bin_rows(void *ctx, size_t worker, size_t chunk)
{
    struct binner *b = ctx;
    size_t lo = chunk * BIN_CHUNK, nf = b->n_features;
    size_t hi = lo + BIN_CHUNK < b->n_rows ? lo + BIN_CHUNK : b->n_rows;

    (void)worker;
    for (size_t f = 0; f < nf; f++) {
        const float *pad = b->padded + f * FOREST_MAX_BINS;
        uint32_t top = 1;
        while (top < b->n_bins[f])
            top *= 2;
        for (size_t i = lo; i < hi; i++)
            b->bins[i * b->stride + f] =
                bin_of(pad, top, b->X[i * nf + f]);
    }
    for (size_t i = lo; i < hi; i++) {
        for (size_t f = nf; f < b->stride; f++)
            b->bins[i * b->stride + f] = 0;
    }
    return 0;
}

static void binner_release(struct binner *b, size_t n_workers)
{
    if (b->scratch != NULL) {
        for (size_t w = 0; w < n_workers; w++)
            free(b->scratch[w]);
    }
    if (b->keys != NULL) {
        for (size_t w = 0; w < n_workers; w++)
            free(b->keys[w]);
    }
    free(b->scratch);
    free(b->keys);
    free(b->sample);
    free(b->n_bins);
    free(b->edges);
    free(b->padded);
    free(b->bins);
}

/* Draws m of rows 0..n-1 without replacement, in ascending order, into
 * out (Knuth's selection sampling, TAOCP 3.4.2 algorithm S): one pass,
 * and the gathers that follow walk X forwards. A fixed seed, so the edges
 * depend on the data alone: any thread count, and every shard of a
 * forest, bins the same rows the same way. */
static void sample_rows(size_t n, size_t m, size_t *out)
{
    struct rng r;
    size_t k = 0;

    rng_seed(&r, 0x62696e73ull /* "bins" */, 0);
    for (size_t i = 0; i < n && k < m; i++) {
        if (rng_below(&r, n - i) < m - k)
            out[k++] = i;
    }
}

/* Computes edges and bins of X, the edges from at most `sample` rows
 * (0 = all). Returns 0 or -1 when memory runs out. */
static int binner_build(struct binner *b, const struct dataset *ds,
                        uint32_t max_bins, uint32_t sample, size_t n_workers)
{
    size_t n = ds->n_rows, nf = ds->n_features, col;

    memset(b, 0, sizeof *b);
    b->n_rows = n;
    b->n_features = nf;
    b->X = ds->X;
    b->max_bins = max_bins;
    b->n_sample = sample != 0 && n > sample ? sample : n;
    b->stride = nf < 8 ? 8 : nf;
    if (nf > SIZE_MAX / max_bins || n > SIZE_MAX / b->stride ||
        n > SIZE_MAX / sizeof *b->sample)
        return -1;
    if (b->n_sample < n) {
        b->sample = malloc(b->n_sample * sizeof *b->sample);
        if (b->sample == NULL)
            return -1;
        sample_rows(n, b->n_sample, b->sample);
    }
    b->n_bins = calloc(nf, sizeof *b->n_bins);
    b->edges = calloc(nf * max_bins, sizeof *b->edges);
    b->padded = malloc(nf * FOREST_MAX_BINS * sizeof *b->padded);
    b->bins = malloc(n * b->stride);
    b->scratch = calloc(n_workers, sizeof *b->scratch);
    b->keys = calloc(n_workers, sizeof *b->keys);
    if (!b->n_bins || !b->edges || !b->padded || !b->bins || !b->scratch ||
        !b->keys)
        return -1;
    /* a column of the sample, or room for max_bins distinct values */
    col = b->n_sample > max_bins ? b->n_sample : max_bins;
    for (size_t w = 0; w < n_workers; w++) {
        b->scratch[w] = malloc(col * sizeof(float));
        b->keys[w] = malloc((2 * b->n_sample + 1) * sizeof(uint32_t));
        if (b->scratch[w] == NULL || b->keys[w] == NULL)
            return -1;
    }
    parallel_for(n_workers, nf, bin_feature, b);
    for (size_t f = 0; f < nf; f++) {
        float *pad = b->padded + f * FOREST_MAX_BINS;
        memcpy(pad, b->edges + f * max_bins, b->n_bins[f] * sizeof *pad);
        for (size_t k = b->n_bins[f]; k < FOREST_MAX_BINS; k++)
            pad[k] = INFINITY;
    }
    parallel_for(n_workers, (n + BIN_CHUNK - 1) / BIN_CHUNK, bin_rows, b);
    /* The sample and the column buffers are done with: growing the trees
     * is the peak of a run's memory, so they go before it starts. */
    for (size_t w = 0; w < n_workers; w++) {
        free(b->scratch[w]);
        b->scratch[w] = NULL;
        free(b->keys[w]);
        b->keys[w] = NULL;
    }
    free(b->sample);
    b->sample = NULL;
    return 0;
}

/* ---- growing one tree ------------------------------------------------ */

/* A node's histogram: for cell f * max_bins + b (feature f, bin b), the
 * weighted target sum, and the bootstrap weight (draws) and distinct-row
 * count packed into one 64-bit word, weight in the low half. Both counts are
 * at most n_rows < 2^31, and a child's counts never exceed its parent's, so
 * one 64-bit add or subtract updates both without carrying between halves.
 * The two words of a cell sit side by side (16 bytes, aligned), so adding a
 * row touches one cache line per feature, not two. */
struct hcell {
    double sum;    /* sum of weight * y */
    uint64_t wn;   /* (distinct rows << 32) | weight */
};

struct hist {
    struct hcell *c; /* hist_cells cells */
};

/* A cell as one 16-byte vector (GCC's vector extensions, plain SSE2 on
 * x86-64), to add or subtract a whole cell at once: the counts as an
 * unsigned integer lane, the sum as a scalar double operation on the other
 * lane, which leaves the counts' lane as it is. Each lane gets the one
 * operation the scalar code makes, so the results are the same bits; no
 * double operation reads the counts' bits (as doubles they are subnormal,
 * which some CPUs handle slowly). */
typedef double hv_d __attribute__((vector_size(16)));
typedef uint64_t hv_i __attribute__((vector_size(16)));

#define WN_ROW(w) ((uint64_t)(w) | (1ull << 32)) /* one row of weight w */
#define WN_W(x) ((uint32_t)(x))
#define WN_N(x) ((uint32_t)((x) >> 32))

struct node_task {
    uint32_t node;     /* index in the tree's node array */
    uint32_t lo, hi;   /* the node's rows are rows[lo..hi) */
    uint32_t depth;
    int hist;          /* histogram slot, or -1 when it will be a leaf */
    double sum;        /* weighted target sum */
    uint32_t w, n;     /* weight and distinct rows */
    int sparse;        /* the histogram holds only the cells of the node's
                          own rows (see sparse_rows); the others are stale */
    int buf;           /* its rows are in the grower's blk[buf] */
};

struct trainer {
    const struct dataset *ds;
    const struct forest_params *p;
    struct binner bins;
    size_t n_features;
    size_t hist_cells;        /* n_features * max_bins */
    size_t n_try;             /* features tried per split */
    uint32_t *tree_ids;       /* global index of each tree to grow */
    struct tree *trees;       /* output, one per tree_ids entry */
    double *importances;      /* n_local_trees x n_features */
    uint8_t *inbag;           /* n_local_trees x n_rows bootstrap flags,
                                 only for the out-of-bag score */
    struct grower *growers;   /* one per worker */
    forest_progress_fn progress;
    void *progress_arg;
    pthread_mutex_t lock;
    uint32_t done, total;
};

/* In-bag rows with what growing reads of them, in node order: after a
 * node is partitioned its rows are entries lo..hi of the block, so every
 * deeper level reads them sequentially instead of gathering bins[row] and
 * y[row] from the whole table (at 1M rows that was 26 MB, beyond the last
 * level cache: bench/README.md, "Cache misses per level"). Within a node
 * the rows stay in ascending row order, so histogram sums are added in the
 * same order, and are the same doubles, as when rows were gathered. */
struct block {
    uint8_t *bins;    /* entries x stride: the row's bins (binner's rows) */
    double *wy;       /* bootstrap weight times target */
    uint32_t *w;      /* bootstrap weight (draws), >= 1 */
};

struct grower {
    uint32_t *count;          /* bootstrap draws of each row: blk[1]'s
                                 bins, which nothing else uses until the
                                 root has been partitioned (they hold at
                                 least n_rows * 4 bytes as stride >= 8) */
    struct block blk[2];      /* in-bag rows: a node's are entries lo..hi
                                 of blk[buf]. With two_blocks both have
                                 room for n_rows and its children's are
                                 in the other block; else blk[1] is the
                                 partition's spill buffer, room for
                                 n_rows / 2 + 1, and every node's rows
                                 are in blk[0] (see partition) */
    int two_blocks;
    struct hcell *hists;      /* n_slots x hist_cells */
    int *free_slots;
    int n_free;
    uint32_t *features;       /* feature order for sampling */
    uint64_t *cells;          /* n_features x FOREST_MAX_BINS / 64 bits:
                                 a sparse child's cells, for subtract_cells */
    /* find_split's candidates of one feature, max_bins each: the bin, the
     * left side's target sum, weight and distinct rows, and the gain */
    uint32_t *cand_bin, *cand_n;
    double *cand_sum, *cand_w, *cand_gain;
    struct node_task *stack;
    struct tree_node *nodes;
    uint32_t *cover;          /* bootstrap weight of each node */
    uint32_t cap_nodes;
};

static void block_release(struct block *b)
{
    free(b->bins);
    free(b->wy);
    free(b->w);
}

/* Room for n entries of stride bytes of bins. Returns 0 or -1. Only the
 * pages written become resident: about 63% of n for a bootstrap. */
static int block_init(struct block *b, size_t n, size_t stride)
{
    memset(b, 0, sizeof *b);
    if (n > SIZE_MAX / stride)
        return -1;
    b->bins = malloc(n * stride);
    b->wy = malloc(n * sizeof *b->wy);
    b->w = malloc(n * sizeof *b->w);
    return b->bins && b->wy && b->w ? 0 : -1;
}

static void grower_release(struct grower *g)
{
    block_release(&g->blk[0]);
    block_release(&g->blk[1]);
    free(g->hists);
    free(g->free_slots);
    free(g->features);
    free(g->cells);
    free(g->cand_bin);
    free(g->cand_n);
    free(g->cand_sum);
    free(g->cand_w);
    free(g->cand_gain);
    free(g->stack);
    free(g->nodes);
    free(g->cover);
}

static int grower_init(struct grower *g, const struct trainer *t)
{
    size_t n = t->ds->n_rows;
    int slots = (int)t->p->max_depth + 3;

    memset(g, 0, sizeof *g);
    g->two_blocks = n <= forest_two_blocks_rows;
    if (block_init(&g->blk[0], n, t->bins.stride) != 0 ||
        block_init(&g->blk[1], g->two_blocks ? n : n / 2 + 1,
                   t->bins.stride) != 0)
        return -1;
    /* (n / 2 + 1) * stride >= n * 4 bytes (stride >= 8), (n / 2 + 1)
     * doubles >= n * 4 bytes; malloc's alignment suits a uint32_t, and the
     * memory takes the type of what is stored last. */
    g->count = (uint32_t *)(void *)g->blk[1].bins;
    g->hists = malloc((size_t)slots * t->hist_cells * sizeof *g->hists);
    g->free_slots = malloc((size_t)slots * sizeof *g->free_slots);
    g->features = malloc(t->n_features * sizeof *g->features);
    g->cells = malloc(t->n_features * (FOREST_MAX_BINS / 64) *
                      sizeof *g->cells);
    g->cand_bin = malloc(t->p->max_bins * sizeof *g->cand_bin);
    g->cand_n = malloc(t->p->max_bins * sizeof *g->cand_n);
    g->cand_sum = malloc(t->p->max_bins * sizeof *g->cand_sum);
    g->cand_w = malloc(t->p->max_bins * sizeof *g->cand_w);
    g->cand_gain = malloc(t->p->max_bins * sizeof *g->cand_gain);
    g->stack = malloc((size_t)slots * sizeof *g->stack);
    g->cap_nodes = 256;
    g->nodes = malloc(g->cap_nodes * sizeof *g->nodes);
    g->cover = malloc(g->cap_nodes * sizeof *g->cover);
    if (!g->hists || !g->free_slots || !g->features ||
        !g->cells || !g->cand_bin || !g->cand_n || !g->cand_sum ||
        !g->cand_w || !g->cand_gain || !g->stack || !g->nodes ||
        !g->cover)
        return -1;
    return 0;
}

static struct hist slot(const struct trainer *t, struct grower *g, int s)
{
    struct hist h = {g->hists + (size_t)s * t->hist_cells};
    return h;
}

static int take_slot(struct grower *g)
{
    return g->free_slots[--g->n_free];
}

static void give_slot(struct grower *g, int s)
{
    if (s >= 0)
        g->free_slots[g->n_free++] = s;
}

/* Adds one row (its bins rb, weight w, weight times target wy). */
static inline __attribute__((always_inline)) void
hist_add_stride(struct hist h, size_t nf, size_t stride, const uint8_t *rb,
                uint32_t w, double wy)
{
    /* the sum's lane gets 0 added as an integer, which leaves it as is */
    const hv_i add_wn = {0, WN_ROW(w)};
    struct hcell *hf = h.c; /* feature f's cells */

    _Pragma("GCC unroll 4")
    for (size_t f = 0; f < nf; f++, hf += stride) {
        struct hcell *c = hf + rb[f];
        hv_i v;
        hv_d d;
        memcpy(&v, c, sizeof v);
        d = (hv_d)(v + add_wn);
        d[0] += wy;
        memcpy(c, &d, sizeof d);
    }
}

/* hist_add_stride, with the default 256 bins a constant: each cell's
 * address is then the row's bin plus a fixed offset, and with the loop
 * unrolled a cell takes 7 instructions instead of 10 (5% fewer for a
 * whole forest-train run, cachegrind). */
static inline void hist_add(struct hist h, size_t nf, size_t stride,
                            const uint8_t *rb, uint32_t w, double wy)
{
    if (stride == FOREST_MAX_BINS)
        hist_add_stride(h, nf, FOREST_MAX_BINS, rb, w, wy);
    else
        hist_add_stride(h, nf, stride, rb, w, wy);
}

/* Sparse histograms. A node with fewer rows than half the bins touches
 * few of its histogram's cells: clearing all of them (memset) and
 * subtracting all of them (the larger child) cost more than the rows
 * themselves, and at depth 8 and 9 that is most nodes. Such a node's
 * histogram is kept valid only at the cells of its own rows: cleared
 * there, its rows added in the same order, and a larger sibling's made by
 * subtracting it only there (elsewhere it is zero, and x - 0 is x). Every
 * cell a split reads holds the value the dense histogram would, bit for
 * bit; the splits read a sparse node's non-empty bins from its rows. The
 * root is never sparse (its rows reach the block when it is
 * partitioned). */
static int sparse_rows(const struct trainer *t, uint32_t n)
{
    return (size_t)n * 2 < t->p->max_bins;
}

/* The histogram of the node whose rows are entries lo..hi of the block
 * rows (three sequential reads per row): every cell, or with sparse only
 * the cells of these rows (the others are left as they were). */
static void build_hist(const struct trainer *t, const struct block *rows,
                       struct hist h, uint32_t lo, uint32_t hi, int sparse)
{
    size_t nf = t->n_features, stride = t->p->max_bins;
    size_t row_bytes = t->bins.stride;

    if (sparse) {
        for (uint32_t i = lo; i < hi; i++) {
            const uint8_t *rb = rows->bins + (size_t)i * row_bytes;
            for (size_t f = 0; f < nf; f++) {
                size_t cell = f * stride + rb[f];
                h.c[cell].sum = 0.0;
                h.c[cell].wn = 0;
            }
        }
    } else {
        memset(h.c, 0, t->hist_cells * sizeof *h.c);
    }
    for (uint32_t i = lo; i < hi; i++)
        hist_add(h, nf, stride, rows->bins + (size_t)i * row_bytes,
                 rows->w[i], rows->wy[i]);
}

#define BAG_CHUNK 2048 /* rows whose in-bag list is made at a time */

/* The in-bag rows among lo..hi (hi - lo <= BAG_CHUNK), ascending, into
 * out; returns how many. Without a branch: about a third of the rows are
 * out of bag, at random, and a branch on each mispredicted about every
 * other row in the root's histogram and partition. A chunk at a time on
 * the stack, so the list stays in L1 and costs no memory (a list of every
 * in-bag row in a block's spare room touched about 1 MiB more a worker at
 * 1M rows, past issue 17's 150 MiB). Cannot fail. */
static uint32_t bag_chunk(const uint32_t *count, size_t lo, size_t hi,
                          uint32_t *out)
{
    uint32_t k = 0;

    for (size_t i = lo; i < hi; i++) {
        out[k] = (uint32_t)i;
        k += count[i] != 0;
    }
    return k;
}

/* The root's histogram, straight from the binner's rows and the bootstrap
 * counts (the block is filled when the root is partitioned): the in-bag
 * rows in ascending order, as the block would hold them. */
static void build_root_hist(const struct trainer *t, const struct grower *g,
                            struct hist h)
{
    size_t nf = t->n_features, stride = t->p->max_bins;
    size_t row_bytes = t->bins.stride, n = t->ds->n_rows;
    const double *y = t->ds->y;
    uint32_t bag[BAG_CHUNK];

    memset(h.c, 0, t->hist_cells * sizeof *h.c);
    for (size_t lo = 0; lo < n; lo += BAG_CHUNK) {
        size_t hi = lo + BAG_CHUNK < n ? lo + BAG_CHUNK : n;
        uint32_t m = bag_chunk(g->count, lo, hi, bag);
        for (uint32_t k = 0; k < m; k++) {
            uint32_t i = bag[k], w = g->count[i];
            hist_add(h, nf, stride, t->bins.bins + (size_t)i * row_bytes,
                     w, w * y[i]);
        }
    }
}

/* parent -= child at the cells of the child's rows (entries lo..hi of
 * block blk[buf]) only, each
 * once: the child's other cells are zero (or, sparse, stale), where the
 * dense subtraction would leave the parent as it is. */
static void subtract_cells(const struct trainer *t, struct grower *g,
                           struct hist parent, struct hist child,
                           uint32_t lo, uint32_t hi, int buf)
{
    size_t nf = t->n_features, stride = t->p->max_bins;
    size_t words = FOREST_MAX_BINS / 64, row_bytes = t->bins.stride;
    const uint8_t *bins = g->blk[buf].bins;

    memset(g->cells, 0, nf * words * sizeof *g->cells);
    for (uint32_t i = lo; i < hi; i++) {
        const uint8_t *rb = bins + (size_t)i * row_bytes;
        for (size_t f = 0; f < nf; f++)
            g->cells[f * words + rb[f] / 64] |= 1ull << (rb[f] % 64);
    }
    for (size_t f = 0; f < nf; f++) {
        for (size_t w = 0; w < words; w++) {
            uint64_t bits = g->cells[f * words + w];
            while (bits != 0) {
                size_t cell = f * stride + w * 64 +
                              (size_t)__builtin_ctzll(bits);
                bits &= bits - 1;
                parent.c[cell].sum -= child.c[cell].sum;
                parent.c[cell].wn -= child.c[cell].wn;
            }
        }
    }
}

/* parent -= child, cell by cell: the larger child's histogram. A cell at a
 * time as a vector: the compiler's own vectorisation of the two fields
 * shuffles every word. */
static void subtract_hist(const struct trainer *t, struct hist parent,
                          struct hist child)
{
    size_t n = t->hist_cells;

    for (size_t i = 0; i < n; i++) {
        hv_i p, c;
        hv_d d;
        memcpy(&p, &parent.c[i], sizeof p);
        memcpy(&c, &child.c[i], sizeof c);
        d = (hv_d)(p - c);
        d[0] = ((hv_d)p)[0] - ((hv_d)c)[0];
        memcpy(&parent.c[i], &d, sizeof d);
    }
}

/* The larger child's histogram: parent minus the smaller child, every
 * cell when the smaller one is dense, its rows' cells when sparse. */
static void larger_hist(const struct trainer *t, struct grower *g,
                        struct hist parent, struct hist child,
                        const struct node_task *smaller)
{
    if (smaller->sparse)
        subtract_cells(t, g, parent, child, smaller->lo, smaller->hi,
                       smaller->buf);
    else
        subtract_hist(t, parent, child);
}

struct split {
    double gain;
    uint32_t feature, bin;
    double sum_left;
    uint32_t w_left, n_left;
};

/* The non-empty bins among feature f's first nb of a node into
 * mask[0..3] (bin b is bit b % 64 of word b / 64). A node with fewer rows
 * than half the bins (and a sparse one, whose other cells are stale) reads
 * its rows' bins; a larger one tests the cells. */
static void nonempty_bins(const struct trainer *t, const struct grower *g,
                          const struct node_task *task, uint32_t f,
                          const struct hcell *cells, uint32_t nb,
                          uint64_t *mask)
{
    memset(mask, 0, FOREST_MAX_BINS / 64 * sizeof *mask);
    /* Not the root (never sparse): its rows reach the block when it is
     * partitioned. */
    if (task->sparse ||
        (task->node != 0 && (size_t)(task->hi - task->lo) * 2 < nb)) {
        const uint8_t *bins = g->blk[task->buf].bins + f;
        size_t stride = t->bins.stride;
        for (uint32_t i = task->lo; i < task->hi; i++) {
            uint32_t b = bins[(size_t)i * stride];
            if (b < nb)
                mask[b / 64] |= 1ull << (b % 64);
        }
        return;
    }
    /* Each word in a register: or-ing into memory would chain every bin
     * through a store and a load. */
    for (uint32_t w0 = 0; w0 < nb; w0 += 64) {
        uint32_t end = nb - w0 < 64 ? nb : w0 + 64;
        uint64_t bits = 0;
        for (uint32_t b = w0; b < end; b++)
            bits |= (uint64_t)(cells[b].wn != 0) << (b - w0);
        mask[w0 / 64] = bits;
    }
}

/* The candidate splits of one feature: after each non-empty bin b but the
 * last (bin b and those before it go left), in ascending order, with the
 * left side's cumulative sum, weight and distinct rows; only those leaving
 * min_samples_leaf distinct rows on both sides. Returns how many.
 *
 * Deep nodes have a few dozen rows, so most of a feature's 256 bins are
 * empty: a branch per bin mispredicted on every non-empty one. Instead a
 * bitmask of the non-empty bins (nonempty_bins) is walked with ctz. The
 * sums are added in ascending bin order, exactly as a scan would, so the
 * candidates (and the trees) are bit for bit those of the scan. */
static uint32_t split_candidates(const struct trainer *t, struct grower *g,
                                 const struct node_task *task, uint32_t f,
                                 struct hist h)
{
    size_t stride = t->p->max_bins;
    const struct hcell *cells = h.c + f * stride;
    uint32_t nb = t->bins.n_bins[f] - 1, m = 0, lo = 0;
    uint32_t msl = t->p->min_samples_leaf;
    uint64_t mask[FOREST_MAX_BINS / 64];
    double sum_l = 0.0;
    uint64_t wn_l = 0;

    nonempty_bins(t, g, task, f, cells, nb, mask);
    for (uint32_t w = 0; w < FOREST_MAX_BINS / 64; w++) {
        uint64_t bits = mask[w];
        while (bits != 0) {
            uint32_t b = w * 64 + (uint32_t)__builtin_ctzll(bits);
            bits &= bits - 1;
            /* An empty bin's cells may hold a subtraction's rounding
             * residue: never added, as the scan skipped them. */
            sum_l += cells[b].sum;
            wn_l += cells[b].wn;
            g->cand_bin[m] = b;
            g->cand_sum[m] = sum_l;
            g->cand_w[m] = (double)WN_W(wn_l);
            g->cand_n[m] = WN_N(wn_l);
            m++;
        }
    }
    /* Distinct rows on the left only grow from one candidate to the next:
     * the valid ones are a run, those with n_left >= msl and
     * n - n_left >= msl. */
    while (lo < m && g->cand_n[lo] < msl)
        lo++;
    while (m > lo && task->n - g->cand_n[m - 1] < msl)
        m--;
    if (lo > 0) {
        memmove(g->cand_bin, g->cand_bin + lo, (m - lo) * sizeof *g->cand_bin);
        memmove(g->cand_n, g->cand_n + lo, (m - lo) * sizeof *g->cand_n);
        memmove(g->cand_sum, g->cand_sum + lo, (m - lo) * sizeof *g->cand_sum);
        memmove(g->cand_w, g->cand_w + lo, (m - lo) * sizeof *g->cand_w);
    }
    return m - lo;
}

/* The squared-error reduction of each of m candidates,
 *     S_L^2 / W_L + S_R^2 / W_R - S^2 / W,
 * in a loop of its own: no branches, so the compiler divides two (or
 * more) candidates per instruction. IEEE division is correctly rounded,
 * so each gain is the value the scalar expression gives. */
static void split_gains(const double *restrict sum_l,
                        const double *restrict w_l, double *restrict gain,
                        uint32_t m, double sum, double w, double parent)
{
    for (uint32_t i = 0; i < m; i++) {
        double sum_r = sum - sum_l[i];
        gain[i] = sum_l[i] * sum_l[i] / w_l[i] +
                  sum_r * sum_r / (w - w_l[i]) - parent;
    }
}

/* Best split of the node over a random subset of n_try features: for each,
 * the gain of every candidate (split_candidates), the first highest kept. */
static int find_split(const struct trainer *t, struct grower *g,
                      struct rng *r, const struct node_task *task,
                      struct hist h, struct split *best)
{
    size_t nf = t->n_features, stride = t->p->max_bins;
    double parent = task->sum * task->sum / task->w;

    memset(best, 0, sizeof *best);
    /* Partial Fisher-Yates: the first n_try entries become the sample. */
    for (size_t k = 0; k < t->n_try; k++) {
        size_t j = k + (size_t)rng_below(r, nf - k);
        uint32_t swap = g->features[k];
        g->features[k] = g->features[j];
        g->features[j] = swap;
    }
    for (size_t k = 0; k < t->n_try; k++) {
        uint32_t f = g->features[k];
        uint32_t m = split_candidates(t, g, task, f, h);

        split_gains(g->cand_sum, g->cand_w, g->cand_gain, m, task->sum,
                    (double)task->w, parent);
        for (uint32_t i = 0; i < m; i++) {
            if (g->cand_gain[i] > best->gain) {
                best->gain = g->cand_gain[i];
                best->feature = f;
                best->bin = g->cand_bin[i];
                best->sum_left = g->cand_sum[i];
                best->w_left = (uint32_t)g->cand_w[i];
                best->n_left = g->cand_n[i];
            }
        }
    }
    /* A gain lost in rounding noise is no gain: such nodes stay leaves. */
    if (!(best->gain > 1e-12 * (fabs(parent) + 1e-300)))
        return -1;
    /* Every bin edge from the last left bin up to just before the first
     * non-empty right bin splits this node's rows the same way. Take the
     * middle one, as scikit-learn takes the midpoint between the node's
     * neighbouring values, so unseen values in the gap divide evenly. */
    if (task->sparse) {
        /* The first bin after best->bin that a row of the node is in, at
         * most the last bin: what the loop below finds in the cells. */
        const uint8_t *bins = g->blk[task->buf].bins + best->feature;
        uint32_t next = t->bins.n_bins[best->feature] - 1;
        for (uint32_t i = task->lo; i < task->hi; i++) {
            uint32_t b = bins[(size_t)i * t->bins.stride];
            if (b > best->bin && b < next)
                next = b;
        }
        best->bin = (best->bin + next) / 2;
    } else {
        const struct hcell *cells = h.c + best->feature * stride;
        uint32_t next = best->bin + 1;
        while (next + 1 < t->bins.n_bins[best->feature] &&
               cells[next].wn == 0)
            next++;
        best->bin = (best->bin + next) / 2;
    }
    return 0;
}

/* Copies one row of bins, stride >= 8 bytes, as a few wide moves; when
 * stride is not a multiple of the move the last one overlaps the one
 * before, so exactly stride bytes are written (19 features: two 16-byte
 * moves rather than 19 byte moves or a call). stride is fixed for a run,
 * so the branches are always predicted. */
static inline void bins_copy(uint8_t *dst, const uint8_t *src, size_t stride)
{
    unsigned char word[16];

    if (stride <= 16) {
        memcpy(word, src, 8);
        memcpy(dst, word, 8);
        memcpy(word, src + stride - 8, 8);
        memcpy(dst + stride - 8, word, 8);
    } else if (stride <= 32) {
        memcpy(word, src, 16);
        memcpy(dst, word, 16);
        memcpy(word, src + stride - 16, 16);
        memcpy(dst + stride - 16, word, 16);
    } else {
        size_t k;
        for (k = 0; k + 16 < stride; k += 16) {
            memcpy(word, src + k, 16);
            memcpy(dst + k, word, 16);
        }
        memcpy(word, src + stride - 16, 16);
        memcpy(dst + stride - 16, word, 16);
    }
}

/* Copies entry i of src to entry j of dst. */
static inline void entry_copy(struct block *dst, size_t j,
                              const struct block *src, size_t i,
                              size_t stride)
{
    bins_copy(dst->bins + j * stride, src->bins + i * stride, stride);
    dst->wy[j] = src->wy[i];
    dst->w[j] = src->w[i];
}

/* Up to this many training rows a grower keeps its rows in two blocks,
 * partitioning from one into the other (one copy of each row); above it,
 * in one block through a spill buffer of half the rows (two and a half
 * copies a row). Partitions were a tenth of make run's training (30000
 * rows: about 3% less CPU with two blocks); the second block holds the
 * bootstrap's larger half again, at most about 4 MiB a worker here, but
 * at 1M rows on two threads some 20 MiB, past issue 17's 150 MiB. */
size_t forest_two_blocks_rows = (size_t)1 << 18;

/* Stable partition of entries lo..hi of node's block blk[buf] on bin <=
 * split bin, n_left of them going left (the histogram counted them): the
 * left ones to entries lo.., the right ones to lo + n_left.., each side in
 * the order read, in the other block with two_blocks, else in place.
 * Stability keeps each node's rows in ascending row order, so the
 * histogram sums of a node are added in the same order whatever its
 * ancestors were. Branch-free: which side a row goes to is a coin flip to
 * the branch predictor, so only the positions move. */
static void partition(const struct trainer *t, struct grower *g,
                      uint32_t lo, uint32_t hi, int buf, uint32_t f,
                      uint32_t bin, uint32_t n_left)
{
    size_t stride = t->bins.stride, n_right = hi - lo - n_left;
    struct block *rows = &g->blk[0], *spill = &g->blk[1];

    if (g->two_blocks) {
        size_t l = lo, r = lo + n_left;
        const struct block *src = &g->blk[buf];
        struct block *dst = &g->blk[!buf];
        for (size_t i = lo; i < hi; i++) {
            size_t right = src->bins[i * stride + f] > bin;
            entry_copy(dst, right ? r : l, src, i, stride);
            l += 1 - right;
            r += right;
        }
        /* the histogram's count and the rows' bins agree */
        assert(l == lo + n_left && r == hi);
        return;
    }
    /* In place: the larger side is compacted and the smaller one goes
     * through the spill buffer and back, so the buffer needs half the
     * rows. When the right side is the larger, the scan runs backwards,
     * so the compaction only writes entries already read; both copies
     * happen for every row. */
    if (n_left >= n_right) {
        size_t l = lo, r = 0;
        for (size_t i = lo; i < hi; i++) {
            size_t right = rows->bins[i * stride + f] > bin;
            entry_copy(spill, r, rows, i, stride);
            entry_copy(rows, l, rows, i, stride);
            l += 1 - right;
            r += right;
        }
        assert(l == lo + n_left && r == n_right);
        for (size_t k = 0; k < n_right; k++)
            entry_copy(rows, lo + n_left + k, spill, k, stride);
    } else {
        /* spill[1..n_left] gets the left rows, from the top down; once
         * they are all placed, the rest are written to spill[0] unused. */
        size_t q = hi - 1, j = n_left;
        for (size_t i = hi; i-- > lo;) {
            size_t right = rows->bins[i * stride + f] > bin;
            entry_copy(spill, j, rows, i, stride);
            entry_copy(rows, q, rows, i, stride);
            q -= right;
            j -= 1 - right;
        }
        assert(j == 0 && q == lo + n_left - 1);
        for (size_t k = 0; k < n_left; k++)
            entry_copy(rows, lo + k, spill, k + 1, stride);
    }
}

/* Partitions the root: the in-bag rows go from the binner's rows straight
 * into blk[0], the n_left left ones to entries 0..n_left and the right
 * ones after them, both in ascending row order. The count array (in
 * blk[1]'s memory) is read here for the last time. */
static void partition_root(const struct trainer *t, struct grower *g,
                           uint32_t f, uint32_t bin, uint32_t n_left)
{
    size_t stride = t->bins.stride, l = 0, r = n_left, n = t->ds->n_rows;
    const double *y = t->ds->y;
    struct block *rows = &g->blk[0];
    uint32_t bag[BAG_CHUNK];

    for (size_t lo = 0; lo < n; lo += BAG_CHUNK) {
        size_t hi = lo + BAG_CHUNK < n ? lo + BAG_CHUNK : n;
        uint32_t m = bag_chunk(g->count, lo, hi, bag);
        for (uint32_t k = 0; k < m; k++) {
            size_t i = bag[k], right, at;
            uint32_t w = g->count[i];
            right = t->bins.bins[i * stride + f] > bin;
            at = right ? r : l;
            bins_copy(rows->bins + at * stride, t->bins.bins + i * stride,
                      stride);
            rows->wy[at] = w * y[i];
            rows->w[at] = w;
            l += 1 - right;
            r += right;
        }
    }
    assert(l == n_left);
}

static int add_nodes(struct grower *g, uint32_t n_nodes)
{
    if (n_nodes > g->cap_nodes) {
        uint32_t cap = g->cap_nodes * 2;
        struct tree_node *p = realloc(g->nodes, cap * sizeof *p);
        uint32_t *c;
        if (p == NULL)
            return -1;
        g->nodes = p;
        c = realloc(g->cover, cap * sizeof *c);
        if (c == NULL)
            return -1;
        g->cover = c;
        g->cap_nodes = cap;
    }
    return 0;
}

static void make_leaf(struct tree_node *node, uint32_t self, double value)
{
    node->feature = 0;
    node->threshold = INFINITY;
    node->left = self;
    node->value = (float)value;
}

static int needs_split(const struct trainer *t, uint32_t depth, uint32_t n)
{
    return depth < t->p->max_depth && n >= 2 * t->p->min_samples_leaf &&
           n >= 2;
}

/* Grows tree number `local` of this run. Returns 0 or -1 (no memory). */
FR_GROW_TARGETS
static int grow_tree(void *ctx, size_t worker, size_t local)
{
    struct trainer *t = ctx;
    struct grower *g = &t->growers[worker];
    struct tree *tree = &t->trees[local];
    double *imp = t->importances + local * t->n_features;
    size_t n = t->ds->n_rows, nf = t->n_features;
    const double *y = t->ds->y;
    uint32_t n_nodes = 1, depth = 0, in_bag = 0, top = 0;
    struct node_task root = {0};
    double imp_total = 0.0;
    struct rng r;

    tree->index = t->tree_ids[local];
    rng_seed(&r, t->p->seed, tree->index);
    /* Bootstrap: n draws with replacement, kept as per-row weights. */
    memset(g->count, 0, n * sizeof *g->count);
    for (size_t i = 0; i < n; i++)
        g->count[rng_below(&r, n)]++;
    for (size_t lo = 0; lo < n; lo += BAG_CHUNK) {
        size_t hi = lo + BAG_CHUNK < n ? lo + BAG_CHUNK : n;
        uint32_t bag[BAG_CHUNK];
        uint32_t m = bag_chunk(g->count, lo, hi, bag);
        for (uint32_t k = 0; k < m; k++) {
            root.sum += g->count[bag[k]] * y[bag[k]];
            root.w += g->count[bag[k]];
        }
        in_bag += m;
    }
    if (t->inbag != NULL) {
        uint8_t *flags = t->inbag + local * n;
        for (size_t i = 0; i < n; i++)
            flags[i] = g->count[i] != 0;
    }
    for (size_t f = 0; f < nf; f++)
        g->features[f] = (uint32_t)f;
    g->n_free = 0;
    for (int s = (int)t->p->max_depth + 2; s >= 0; s--)
        g->free_slots[g->n_free++] = s;

    root.hi = in_bag;
    root.n = in_bag;
    root.hist = -1;
    if (needs_split(t, 0, root.n)) {
        root.hist = take_slot(g);
        build_root_hist(t, g, slot(t, g, root.hist));
    }
    g->stack[top++] = root;
    while (top > 0) {
        struct node_task task = g->stack[--top];
        struct node_task kid[2];
        struct split best;
        uint32_t mid, f;
        int need[2], small, kb;

        depth = task.depth > depth ? task.depth : depth;
        g->cover[task.node] = task.w;
        if (task.hist < 0 ||
            find_split(t, g, &r, &task, slot(t, g, task.hist), &best) != 0) {
            make_leaf(&g->nodes[task.node], task.node, task.sum / task.w);
            give_slot(g, task.hist);
            continue;
        }
        if (add_nodes(g, n_nodes + 2) != 0)
            return -1;
        f = best.feature;
        g->nodes[task.node].feature = f;
        g->nodes[task.node].threshold =
            t->bins.edges[f * t->p->max_bins + best.bin];
        g->nodes[task.node].left = n_nodes;
        g->nodes[task.node].value = (float)(task.sum / task.w);
        imp[f] += best.gain;
        imp_total += best.gain;
        mid = task.lo + best.n_left;
        need[0] = needs_split(t, task.depth + 1, best.n_left);
        need[1] = needs_split(t, task.depth + 1, task.n - best.n_left);
        /* Children that will both be leaves never read their rows: at the
         * last level that is every node, a tenth of all partitioning. */
        if (need[0] || need[1]) {
            if (task.node == 0)
                partition_root(t, g, f, best.bin, best.n_left);
            else
                partition(t, g, task.lo, task.hi, task.buf, f, best.bin,
                          best.n_left);
        }

        /* The children's rows: in blk[0] from the root or without
         * two_blocks, else in the block the parent's were not. */
        kb = task.node == 0 || !g->two_blocks ? 0 : !task.buf;
        kid[0] = (struct node_task){n_nodes, task.lo, mid, task.depth + 1,
                                    -1, best.sum_left, best.w_left,
                                    best.n_left, 0, kb};
        kid[1] = (struct node_task){n_nodes + 1, mid, task.hi,
                                    task.depth + 1, -1,
                                    task.sum - best.sum_left,
                                    task.w - best.w_left,
                                    task.n - best.n_left, 0, kb};
        n_nodes += 2;
        small = kid[1].n < kid[0].n;
        /* The smaller child is built from its rows (sparse when small);
         * the larger one is the parent minus it, in the parent's slot,
         * valid where the parent's is (a sparse child has a sparse
         * parent's rows' cells or a dense parent's every cell). */
        kid[small].sparse = sparse_rows(t, kid[small].n);
        kid[!small].sparse = task.sparse;
        if (need[0] && need[1]) {
            kid[small].hist = take_slot(g);
            build_hist(t, &g->blk[kb], slot(t, g, kid[small].hist),
                       kid[small].lo, kid[small].hi, kid[small].sparse);
            larger_hist(t, g, slot(t, g, task.hist),
                        slot(t, g, kid[small].hist), &kid[small]);
            kid[!small].hist = task.hist;
        } else if (need[0] || need[1]) {
            int c = need[1];
            if (c == small) {
                build_hist(t, &g->blk[kb], slot(t, g, task.hist),
                           kid[c].lo, kid[c].hi, kid[c].sparse);
            } else {
                int s = take_slot(g);
                build_hist(t, &g->blk[kb], slot(t, g, s), kid[!c].lo,
                           kid[!c].hi, kid[!c].sparse);
                larger_hist(t, g, slot(t, g, task.hist), slot(t, g, s),
                            &kid[!c]);
                give_slot(g, s);
            }
            kid[c].hist = task.hist;
        } else {
            give_slot(g, task.hist);
        }
        g->stack[top++] = kid[1];
        g->stack[top++] = kid[0];
    }
    /* Per-tree importances sum to 1, as in scikit-learn. */
    if (imp_total > 0.0) {
        for (size_t f = 0; f < nf; f++)
            imp[f] /= imp_total;
    }
    tree->n_nodes = n_nodes;
    tree->depth = depth;
    tree->nodes = malloc(n_nodes * sizeof *tree->nodes);
    tree->cover = malloc(n_nodes * sizeof *tree->cover);
    if (tree->nodes == NULL || tree->cover == NULL)
        return -1;
    memcpy(tree->nodes, g->nodes, n_nodes * sizeof *tree->nodes);
    memcpy(tree->cover, g->cover, n_nodes * sizeof *tree->cover);
    if (t->progress != NULL) {
        pthread_mutex_lock(&t->lock);
        t->done++;
        t->progress(t->progress_arg, t->done, t->total);
        pthread_mutex_unlock(&t->lock);
    }
    return 0;
}

/* ---- prediction ------------------------------------------------------- */

static inline float tree_predict(const struct tree *tree, const float *row)
{
    const struct tree_node *nodes = tree->nodes;
    uint32_t i = 0;

    for (uint32_t d = 0; d < tree->depth; d++)
        i = nodes[i].left + (row[nodes[i].feature] > nodes[i].threshold);
    return nodes[i].value;
}

/* Above this many nodes (64 MiB of them) forest_prepare_walk makes no
 * copy: such a walk waits on memory rather than on instructions, and a
 * second copy would cost more than the instructions it saves. Below
 * UINT32_MAX / 2, so a walk position (twice the index) fits 32 bits. */
#define FOREST_WALK_MAX_NODES ((size_t)1 << 22)

#ifndef ROW_TREES
#define ROW_TREES 10 /* trees one row walks down together */
#endif

/* The leaf values of trees[0..n), 1 <= n <= ROW_TREES, for one row,
 * walked together: each tree's steps depend on each other but not on the
 * other trees', so the CPU overlaps ROW_TREES chains of node loads instead
 * of waiting out each load in turn. All take the deepest tree's steps: a
 * shallower tree's extra steps stay on its leaf (leaves point to
 * themselves, threshold +inf), so each value is the one tree_predict
 * gives. With n < ROW_TREES the spare lanes walk trees[n - 1] again, so
 * the loop keeps its fixed, unrolled shape; value[n..) is left alone. */
static inline void trees_predict(const struct tree *trees, uint32_t n,
                                 const float *row, float *value)
{
    const struct tree_node *nodes[ROW_TREES];
    uint32_t idx[ROW_TREES], depth = 0;

    for (uint32_t k = 0; k < ROW_TREES; k++) {
        const struct tree *tree = &trees[k < n ? k : n - 1];
        nodes[k] = tree->nodes;
        idx[k] = 0;
        depth = tree->depth > depth ? tree->depth : depth;
    }
    for (uint32_t d = 0; d < depth; d++) {
        FR_UNROLL(ROW_TREES)
        for (int k = 0; k < ROW_TREES; k++) {
            const struct tree_node *nd = &nodes[k][idx[k]];
            idx[k] = nd->left + (row[nd->feature] > nd->threshold);
        }
    }
    for (uint32_t k = 0; k < n; k++)
        value[k] = nodes[k][idx[k]].value;
}

/* trees_predict() for trees[t..t + n) of a prepared forest (f->walk): the
 * same steps from one base address, so the lanes' positions are the whole
 * state a step carries and stay in registers. Positions count 8-byte
 * units (twice the node's index, as forest_prepare_walk stores children):
 * x86 scales an index by 8 at most, so a 16-byte node's address is then
 * one addressing mode and the right child one lea (+2) away. */
static inline void walk_predict(const struct forest *f, uint32_t t,
                                uint32_t n, const float *row, float *value)
{
    const char *base = (const char *)f->walk;
    size_t at[ROW_TREES];
    uint32_t depth = 0;

    for (uint32_t k = 0; k < ROW_TREES; k++) {
        uint32_t tree = t + (k < n ? k : n - 1);
        at[k] = 2 * (size_t)f->walk_root[tree];
        depth = f->trees[tree].depth > depth ? f->trees[tree].depth : depth;
    }
    for (uint32_t d = 0; d < depth; d++) {
        FR_UNROLL(ROW_TREES)
        for (int k = 0; k < ROW_TREES; k++) {
            const struct tree_node *nd =
                (const struct tree_node *)(base + 8 * at[k]);
            at[k] = nd->left + 2 * (size_t)(row[nd->feature] > nd->threshold);
        }
    }
    for (uint32_t k = 0; k < n; k++)
        value[k] = f->walk[at[k] / 2].value;
}

/* The leaf values of trees[t..t + n), 1 <= n <= ROW_TREES, for one row,
 * from the forest-wide copy when there is one. */
static inline void group_predict(const struct forest *f, uint32_t t,
                                 uint32_t n, const float *row, float *value)
{
    if (f->walk != NULL)
        walk_predict(f, t, n, row, value);
    else
        trees_predict(&f->trees[t], n, row, value);
}

double forest_predict_row(const struct forest *f, const float *row)
{
    double sum = 0.0;

    /* Summed in tree order, as one tree at a time would: the same
     * double, bit for bit. */
    for (uint32_t t = 0; t < f->n_trees; t += ROW_TREES) {
        uint32_t n = f->n_trees - t < ROW_TREES ? f->n_trees - t : ROW_TREES;
        float v[ROW_TREES];
        group_predict(f, t, n, row, v);
        for (uint32_t k = 0; k < n; k++)
            sum += v[k];
    }
    return sum / f->n_trees;
}

int forest_prepare_walk(struct forest *f)
{
    size_t total = 0, at = 0;

    if (f->walk != NULL)
        return 0;
    for (uint32_t t = 0; t < f->n_trees; t++)
        total += f->trees[t].n_nodes;
    if (total > FOREST_WALK_MAX_NODES)
        return 0;
    f->walk = malloc((total ? total : 1) * sizeof *f->walk);
    f->walk_root = malloc((f->n_trees ? f->n_trees : 1) * sizeof *f->walk_root);
    if (f->walk == NULL || f->walk_root == NULL) {
        free(f->walk);
        free(f->walk_root);
        f->walk = NULL;
        f->walk_root = NULL;
        return -1;
    }
    for (uint32_t t = 0; t < f->n_trees; t++) {
        const struct tree *tree = &f->trees[t];
        f->walk_root[t] = (uint32_t)at;
        for (uint32_t i = 0; i < tree->n_nodes; i++) {
            f->walk[at + i] = tree->nodes[i];
            f->walk[at + i].left = 2 * (uint32_t)(at + tree->nodes[i].left);
        }
        at += tree->n_nodes;
    }
    return 0;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return (x > y) - (x < y);
}

static double quantile(const double *sorted, size_t n, double q)
{
    double pos = q * (double)(n - 1);
    size_t i = (size_t)pos;

    if (i + 1 >= n)
        return sorted[n - 1];
    return sorted[i] + (pos - (double)i) * (sorted[i + 1] - sorted[i]);
}

int forest_predict_spread(const struct forest *f, const float *row,
                          double q_lo, double q_hi, double *mean,
                          double *std, double *lo, double *hi)
{
    double *v = malloc(f->n_trees * sizeof *v);

    if (v == NULL)
        return -1;
    forest_predict_spread_into(f, row, q_lo, q_hi, v, mean, std, lo, hi);
    free(v);
    return 0;
}

void forest_predict_spread_into(const struct forest *f, const float *row,
                                double q_lo, double q_hi, double *v,
                                double *mean, double *std, double *lo,
                                double *hi)
{
    double sum = 0.0, ss = 0.0;

    for (uint32_t t = 0; t < f->n_trees; t += ROW_TREES) {
        uint32_t n = f->n_trees - t < ROW_TREES ? f->n_trees - t : ROW_TREES;
        float leaf[ROW_TREES];
        group_predict(f, t, n, row, leaf);
        for (uint32_t k = 0; k < n; k++) {
            v[t + k] = leaf[k];
            sum += v[t + k];
        }
    }
    *mean = sum / f->n_trees;
    for (uint32_t t = 0; t < f->n_trees; t++)
        ss += (v[t] - *mean) * (v[t] - *mean);
    *std = f->n_trees > 1 ? sqrt(ss / (f->n_trees - 1)) : 0.0;
    qsort(v, f->n_trees, sizeof *v, cmp_double);
    *lo = quantile(v, f->n_trees, q_lo);
    *hi = quantile(v, f->n_trees, q_hi);
}

struct batch {
    const struct forest *f;
    const float *X;
    size_t n_rows;
    double *out;
};

#define PREDICT_CHUNK 2048 /* rows a worker takes at a time */
#define LANES 16          /* rows walked down one tree together */

/* Walks LANES rows down a tree at once: their loads are independent, so
 * the CPU overlaps the memory latency of one row's step with the others'. */
static void predict_lanes(const struct tree *tree, const float *X, size_t nf,
                          double *acc)
{
    const struct tree_node *nodes = tree->nodes;
    uint32_t idx[LANES] = {0};

    for (uint32_t d = 0; d < tree->depth; d++) {
        FR_UNROLL(LANES)
        for (int k = 0; k < LANES; k++) {
            const struct tree_node *nd = &nodes[idx[k]];
            idx[k] = nd->left + (X[k * nf + nd->feature] > nd->threshold);
        }
    }
    for (int k = 0; k < LANES; k++)
        acc[k] += nodes[idx[k]].value;
}

static int predict_chunk(void *ctx, size_t worker, size_t chunk)
{
    struct batch *b = ctx;
    const struct forest *f = b->f;
    size_t nf = f->n_features;
    size_t lo = chunk * PREDICT_CHUNK;
    size_t hi = lo + PREDICT_CHUNK < b->n_rows ? lo + PREDICT_CHUNK : b->n_rows;
    double acc[PREDICT_CHUNK];
    size_t m = hi - lo;

    (void)worker;
    memset(acc, 0, sizeof acc);
    /* Tree-major over the chunk: a tree's nodes stay in cache for all
     * its rows, and the chunk's rows stay in cache for all trees. */
    for (uint32_t t = 0; t < f->n_trees; t++) {
        const struct tree *tree = &f->trees[t];
        size_t i = 0;
        for (; i + LANES <= m; i += LANES)
            predict_lanes(tree, b->X + (lo + i) * nf, nf, acc + i);
        for (; i < m; i++)
            acc[i] += tree_predict(tree, b->X + (lo + i) * nf);
    }
    for (size_t i = 0; i < m; i++)
        b->out[lo + i] = acc[i] / f->n_trees;
    return 0;
}

void forest_predict(const struct forest *f, const float *X, size_t n_rows,
                    size_t n_threads, double *out)
{
    struct batch b = {f, X, n_rows, out};
    size_t chunks = (n_rows + PREDICT_CHUNK - 1) / PREDICT_CHUNK;

    parallel_for(parallel_threads(n_threads), chunks, predict_chunk, &b);
}

/* ---- out-of-bag score ------------------------------------------------- */

struct oob {
    const struct trainer *t;
    double *sq_err;   /* per row, NaN when never out of bag */
};

static int oob_chunk(void *ctx, size_t worker, size_t chunk)
{
    struct oob *o = ctx;
    const struct trainer *t = o->t;
    size_t n = t->ds->n_rows, nf = t->n_features;
    size_t n_trees = t->total;
    size_t lo = chunk * PREDICT_CHUNK;
    size_t hi = lo + PREDICT_CHUNK < n ? lo + PREDICT_CHUNK : n;

    (void)worker;
    for (size_t i = lo; i < hi; i++) {
        double sum = 0.0;
        size_t k = 0;
        for (size_t tr = 0; tr < n_trees; tr++) {
            if (t->inbag[tr * n + i])
                continue;
            sum += tree_predict(&t->trees[tr], t->ds->X + i * nf);
            k++;
        }
        o->sq_err[i] = k ? (sum / k - t->ds->y[i]) * (sum / k - t->ds->y[i])
                         : NAN;
    }
    return 0;
}

static int compute_oob(struct trainer *t, struct forest *f, size_t workers)
{
    size_t n = t->ds->n_rows;
    struct oob o = {t, malloc(n * sizeof(double))};
    double total = 0.0;
    size_t rows = 0;

    if (o.sq_err == NULL)
        return -1;
    parallel_for(workers, (n + PREDICT_CHUNK - 1) / PREDICT_CHUNK, oob_chunk,
                 &o);
    for (size_t i = 0; i < n; i++) {
        if (isnan(o.sq_err[i]))
            continue;
        total += o.sq_err[i];
        rows++;
    }
    f->oob_rows = rows;
    f->oob_rmse = rows ? sqrt(total / rows) : NAN;
    free(o.sq_err);
    return 0;
}

/* ---- the forest ------------------------------------------------------ */

/* A forest with names copied and arrays for n_trees trees. */
static struct forest *forest_alloc(uint32_t n_features,
                                   char *const *names, uint32_t n_trees)
{
    struct forest *f = calloc(1, sizeof *f);

    if (f == NULL)
        return NULL;
    f->n_features = n_features;
    f->oob_rmse = NAN;
    f->trees = calloc(n_trees ? n_trees : 1, sizeof *f->trees);
    f->feature_names = calloc(n_features, sizeof *f->feature_names);
    f->importances = calloc(n_features, sizeof *f->importances);
    if (!f->trees || !f->feature_names || !f->importances)
        goto fail;
    f->n_trees = n_trees;
    for (uint32_t i = 0; i < n_features; i++) {
        f->feature_names[i] = strdup(names[i]);
        if (f->feature_names[i] == NULL)
            goto fail;
    }
    return f;
fail:
    forest_free(f);
    return NULL;
}

struct forest *forest_train(const struct dataset *train,
                            const struct forest_params *params,
                            forest_progress_fn progress, void *progress_arg,
                            struct fr_error *err)
{
    struct trainer t;
    struct forest *f = NULL;
    size_t workers = 0, n_local = 0;
    int lock_ready = 0, ok = 0;

    memset(&t, 0, sizeof t);
    if (forest_params_check(params, err) != 0)
        return NULL;
    if (train->n_rows < 2 || train->n_rows > UINT32_MAX / 2) {
        fr_error_set(err, "cannot train on %zu training rows (need 2 to %u): "
                     "give more training rows",
                     train->n_rows, UINT32_MAX / 2);
        return NULL;
    }
    if (train->n_features < 1 || train->n_features > UINT32_MAX / 256) {
        fr_error_set(err, "cannot train on %zu features", train->n_features);
        return NULL;
    }
    t.ds = train;
    t.p = params;
    t.n_features = train->n_features;
    t.hist_cells = t.n_features * params->max_bins;
    t.n_try = (size_t)(params->max_features * (double)t.n_features);
    if (t.n_try < 1)
        t.n_try = 1;
    if (t.n_try > t.n_features)
        t.n_try = t.n_features;
    for (uint32_t i = params->shard_index; i < params->n_trees;
         i += params->shard_count)
        n_local++;
    t.total = (uint32_t)n_local;
    t.progress = progress;
    t.progress_arg = progress_arg;
    workers = parallel_threads(params->n_threads);
    if (workers > n_local)
        workers = n_local;

    f = forest_alloc((uint32_t)t.n_features, train->feature_names,
                     (uint32_t)n_local);
    t.tree_ids = malloc(n_local * sizeof *t.tree_ids);
    t.importances = calloc(n_local * t.n_features, sizeof *t.importances);
    t.growers = calloc(workers, sizeof *t.growers);
    if (params->oob && n_local > SIZE_MAX / train->n_rows)
        goto nomem;
    if (params->oob)
        t.inbag = malloc(n_local * train->n_rows);
    if (!f || !t.tree_ids || !t.importances || !t.growers ||
        (params->oob && !t.inbag))
        goto nomem;
    t.trees = f->trees;
    for (size_t k = 0, i = params->shard_index; k < n_local;
         k++, i += params->shard_count)
        t.tree_ids[k] = (uint32_t)i;
    if (pthread_mutex_init(&t.lock, NULL) != 0)
        goto nomem;
    lock_ready = 1;
    if (binner_build(&t.bins, train, params->max_bins,
                     params->bin_sample, workers) != 0)
        goto nomem;
    for (size_t w = 0; w < workers; w++) {
        if (grower_init(&t.growers[w], &t) != 0)
            goto nomem;
    }
    if (parallel_for(workers, n_local, grow_tree, &t) != 0)
        goto nomem;
    /* Mean of per-tree importances, summed in tree order so the result
     * does not depend on which thread grew which tree. */
    for (size_t k = 0; k < n_local; k++) {
        for (size_t j = 0; j < t.n_features; j++)
            f->importances[j] += t.importances[k * t.n_features + j];
    }
    {
        double total = 0.0;
        for (size_t j = 0; j < t.n_features; j++)
            total += f->importances[j];
        for (size_t j = 0; total > 0.0 && j < t.n_features; j++)
            f->importances[j] /= total;
    }
    f->params = *params;
    f->params.n_threads = 0;
    if (params->oob && compute_oob(&t, f, workers) != 0)
        goto nomem;
    ok = 1;
    goto out;
nomem:
    fr_error_set(err, "out of memory training %zu trees on %zu rows x %zu "
                 "features", n_local, train->n_rows, train->n_features);
out:
    if (t.growers != NULL) {
        for (size_t w = 0; w < workers; w++)
            grower_release(&t.growers[w]);
    }
    free(t.growers);
    binner_release(&t.bins, workers);
    free(t.tree_ids);
    free(t.importances);
    free(t.inbag);
    if (lock_ready)
        pthread_mutex_destroy(&t.lock);
    if (!ok) {
        forest_free(f);
        return NULL;
    }
    return f;
}

static int same_forest_kind(const struct forest *a, const struct forest *b)
{
    const struct forest_params *p = &a->params, *q = &b->params;

    if (a->n_features != b->n_features)
        return 0;
    for (uint32_t i = 0; i < a->n_features; i++) {
        if (strcmp(a->feature_names[i], b->feature_names[i]) != 0)
            return 0;
    }
    return p->n_trees == q->n_trees && p->max_depth == q->max_depth &&
           p->min_samples_leaf == q->min_samples_leaf &&
           p->max_features == q->max_features &&
           p->max_bins == q->max_bins && p->seed == q->seed &&
           p->shard_count == q->shard_count;
}

struct forest *forest_merge(struct forest *const *shards, size_t n_shards,
                            struct fr_error *err)
{
    const struct forest *first;
    struct forest *f = NULL;
    uint32_t total;
    size_t held = 0;

    if (n_shards == 0) {
        fr_error_set(err, "no shards to merge");
        goto fail;
    }
    first = shards[0];
    total = first->params.n_trees;
    for (size_t s = 0; s < n_shards; s++) {
        if (!same_forest_kind(first, shards[s])) {
            fr_error_set(err, "shard %u of %u and shard %u of %u do not "
                         "belong to one forest (features, hyperparameters, "
                         "seed or shard count differ)",
                         first->params.shard_index, first->params.shard_count,
                         shards[s]->params.shard_index,
                         shards[s]->params.shard_count);
            goto fail;
        }
        held += shards[s]->n_trees;
    }
    if (held != total) {
        fr_error_set(err, "the shards hold %zu trees, the forest has %u: "
                     "a shard is missing or repeated", held, total);
        goto fail;
    }
    f = forest_alloc(first->n_features, first->feature_names, total);
    if (f == NULL)
        goto nomem;
    for (size_t s = 0; s < n_shards; s++) {
        for (uint32_t k = 0; k < shards[s]->n_trees; k++) {
            const struct tree *src = &shards[s]->trees[k];
            struct tree *dst;
            if (src->index >= total || f->trees[src->index].nodes != NULL) {
                fr_error_set(err, "tree %u appears in two shards or is out "
                             "of range", src->index);
                goto fail;
            }
            dst = &f->trees[src->index];
            *dst = *src;
            dst->nodes = malloc(src->n_nodes * sizeof *dst->nodes);
            dst->cover = NULL;
            if (src->cover != NULL)
                dst->cover = malloc(src->n_nodes * sizeof *dst->cover);
            if (dst->nodes == NULL ||
                (src->cover != NULL && dst->cover == NULL))
                goto nomem;
            memcpy(dst->nodes, src->nodes, src->n_nodes * sizeof *dst->nodes);
            if (src->cover != NULL)
                memcpy(dst->cover, src->cover,
                       src->n_nodes * sizeof *dst->cover);
        }
        /* Forest importances are the mean over trees of per-tree ones. */
        for (uint32_t j = 0; j < f->n_features; j++)
            f->importances[j] += shards[s]->importances[j] *
                                 shards[s]->n_trees / total;
    }
    f->params = first->params;
    f->params.shard_index = 0;
    f->params.shard_count = 1;
    /* Cover is all or nothing: shards from a file format without it leave
     * the merged forest without it, rather than some trees explainable. */
    for (uint32_t t = 0; t < total; t++) {
        if (f->trees[t].cover != NULL)
            continue;
        for (uint32_t u = 0; u < total; u++) {
            free(f->trees[u].cover);
            f->trees[u].cover = NULL;
        }
        break;
    }
    return f;
nomem:
    fr_error_set(err, "out of memory merging %zu shards", n_shards);
fail:
    forest_free(f);
    return NULL;
}

void forest_free(struct forest *f)
{
    if (f == NULL)
        return;
    if (f->trees != NULL) {
        for (uint32_t t = 0; t < f->n_trees; t++) {
            free(f->trees[t].nodes);
            free(f->trees[t].cover);
        }
    }
    if (f->feature_names != NULL) {
        for (uint32_t i = 0; i < f->n_features; i++)
            free(f->feature_names[i]);
    }
    free(f->trees);
    free(f->feature_names);
    free(f->importances);
    free(f->walk);
    free(f->walk_root);
    free(f);
}
