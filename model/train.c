/*
 * train.c: the training pipeline of forest-train (see trainer.h).
 *
 *   data (CSV or synthetic) -> feature table -> time-ordered split
 *   -> forest (or one shard of it) -> evaluation against a baseline
 *   -> staged version -> reload and verify -> commit -> gate -> promote
 *
 * Nothing under MODEL_DIR changes until a version is fully written and
 * verified; `current` (and `candidate`) change only by an atomic rename,
 * under a lock. With PROMOTE_TO=candidate the new version becomes the
 * candidate instead and the gate does not run: live traffic (the
 * servers' shadow or canary mode) is its evaluation.
 */
#include <cjson/cJSON.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#include "file.h"
#include "model.h"
#include "monotonic.h"
#include "series.h"
#include "store.h"
#include "synth.h"
#include "tabular.h"
#include "trainer.h"

static double program_start;
/* The same moment by the wall clock, for store_prune on S3: versions
 * uploaded since are other trainers', perhaps not yet promoted. */
static double program_start_wall;

__attribute__((constructor)) static void mark_start(void)
{
    struct timespec ts;

    program_start = monotonic_seconds();
    if (clock_gettime(CLOCK_REALTIME, &ts) == 0)
        program_start_wall = (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void say(const struct train_settings *s, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void say(const struct train_settings *s, const char *fmt, ...)
{
    va_list ap;

    FILE *to;

    if (s->quiet)
        return;
    /* With --out - the data goes to standard output: keep it clean. */
    to = s->out != NULL && strcmp(s->out, "-") == 0 ? stderr : stdout;
    va_start(ap, fmt);
    fputs("forest-train: ", to);
    vfprintf(to, fmt, ap);
    fputc('\n', to);
    fflush(to);
    va_end(ap);
}

static void fail(const struct fr_error *err)
{
    fflush(stdout);
    fprintf(stderr, "forest-train: error: %s\n", err->msg);
}

/* ---- progress ------------------------------------------------------- */

struct progress {
    double start, last;
    int tty;
    int quiet;
};

/* On a terminal: one line rewritten in place. In a pod's log: a line every
 * five seconds, so a long run shows it is alive without flooding. */
static void on_progress(void *arg, uint32_t done, uint32_t total)
{
    struct progress *p = arg;
    double t = monotonic_seconds(), elapsed = t - p->start;
    double eta = done ? elapsed * (total - done) / done : 0.0;

    if (p->quiet)
        return;
    if (p->tty) {
        if (t - p->last < 0.1 && done != total)
            return;
        fprintf(stderr, "\rforest-train: trees %u/%u  elapsed %.1fs  "
                "left ~%.1fs   ", done, total, elapsed, eta);
        if (done == total)
            fputc('\n', stderr);
    } else {
        if (t - p->last < 5.0)
            return;
        printf("forest-train: trees %u/%u, elapsed %.1fs, about %.1fs left\n",
               done, total, elapsed, eta);
        fflush(stdout);
    }
    p->last = t;
}

/* ---- settings that need more than their own value ------------------- */

/* What a command is about to do, for check_settings. */
enum {
    WRITES_VERSION = 1, /* a new versions/<v>: MODEL_VERSION must be free */
    WRITES_SHARD = 2,   /* under shards/SHARD_RUN */
    READS_SHARDS = 4    /* from shards/SHARD_RUN */
};

/* The last synthetic day: AS_OF, or today in UTC. Returns 0 or -1 with
 * err naming the setting. */
static int synth_last_day(const struct train_settings *s, int32_t *day,
                          struct fr_error *err)
{
    if (s->as_of == NULL) {
        *day = (int32_t)(time(NULL) / 86400);
        return 0;
    }
    if (series_parse_date(s->as_of, day) != 0) {
        fr_error_set(err, "invalid AS_OF '%s': expected a date YYYY-MM-DD",
                     s->as_of);
        return -1;
    }
    return 0;
}

/* Each of SYNTH_SERIES and SYNTH_DAYS alone allows 10^11 records; the
 * generator takes SYNTH_MAX_RECORDS; AS_OF must be a date. Returns 0 or -1
 * with err set. */
static int check_synth_size(const struct train_settings *s,
                            struct fr_error *err)
{
    int32_t day;

    if (s->synth_series > SYNTH_MAX_RECORDS / s->synth_days) {
        fr_error_set(err, "invalid SYNTH_SERIES x SYNTH_DAYS: %llu x %llu is "
                     "over the %u records synthetic data can have",
                     s->synth_series, s->synth_days, SYNTH_MAX_RECORDS);
        return -1;
    }
    return synth_last_day(s, &day, err);
}

/* Generates the synthetic series the settings describe. Returns 0 or -1
 * with err set. */
static int synth_load(const struct train_settings *s,
                      struct series_data *raw, struct fr_error *err)
{
    int32_t last;

    if (synth_last_day(s, &last, err) != 0)
        return -1;
    return synth_generate(s->synth_series, s->synth_days, last, s->seed, raw,
                          err);
}

/* How messages and metadata name DATA_PATH: as the user wrote it. */
static const char *data_name(const struct train_settings *s)
{
    return s->data_source != NULL ? s->data_source : s->data_path;
}

int trainer_data_fetch(struct train_settings *s, char *local, size_t len,
                       struct fr_error *err)
{
    const char *tmp = getenv("TMPDIR");
    uint8_t *buf = NULL;
    size_t n = 0;
    int fd, rc = -1;

    local[0] = '\0';
    if (s->data_path == NULL || !store_is_s3(s->data_path))
        return 0;
    if (store_read(s->data_path, DATA_MAX_BYTES, &buf, &n, err) != 0) {
        fr_error_prefix(err, "DATA_PATH");
        return -1;
    }
    if ((size_t)snprintf(local, len, "%s/forest-train-data-XXXXXX",
                         tmp != NULL && tmp[0] ? tmp : "/tmp") >= len) {
        fr_error_set(err, "TMPDIR is too long");
        local[0] = '\0';
        goto out;
    }
    fd = mkstemp(local);
    if (fd < 0) {
        fr_error_set(err, "cannot create '%s': %s", local, strerror(errno));
        local[0] = '\0';
        goto out;
    }
    close(fd);
    if (file_write_atomic(local, buf, n, err) != 0)
        goto out;
    say(s, "downloaded %s (%zu bytes)", s->data_path, n);
    s->data_source = s->data_path;
    s->data_path = local;
    rc = 0;
out:
    free(buf);
    return rc;
}

/* Checks the settings whose faults would otherwise show only after the
 * data is loaded and the forest grown: MODEL_VERSION's syntax and, when
 * the command writes a version, that it is not taken yet; SHARD_RUN's
 * syntax when shards are used; SYNTH_SERIES x SYNTH_DAYS when synthetic
 * data is used. Returns 0, or -1 with err set to a message naming the
 * setting (the caller exits 2). A free MODEL_VERSION is checked again when
 * the version is committed, since another trainer may take it meanwhile. */
static int check_settings(const struct train_settings *s, int what,
                          struct fr_error *err)
{
    if (s->model_version != NULL) {
        char path[PATH_MAX];
        struct stat sb;

        if (!store_version_valid(s->model_version)) {
            fr_error_set(err, "invalid MODEL_VERSION '%s': expected 1 to %d "
                         "characters of A-Z a-z 0-9 . _ -, not starting with "
                         "a dot", s->model_version, STORE_VERSION_MAX);
            return -1;
        }
        if ((what & WRITES_VERSION) &&
            (size_t)snprintf(path, sizeof path, "%s/versions/%s",
                             s->model_dir, s->model_version) < sizeof path &&
            lstat(path, &sb) == 0) {
            fr_error_set(err, "invalid MODEL_VERSION '%s': version '%s' "
                         "already exists in '%s/versions'", s->model_version,
                         s->model_version, s->model_dir);
            return -1;
        }
    }
    if ((what & (WRITES_SHARD | READS_SHARDS)) &&
        !store_version_valid(s->shard_run)) {
        fr_error_set(err, "invalid SHARD_RUN '%s': expected 1 to %d "
                     "characters of A-Z a-z 0-9 . _ -, not starting with a "
                     "dot", s->shard_run, STORE_VERSION_MAX);
        return -1;
    }
    return s->data_path == NULL ? check_synth_size(s, err) : 0;
}

/* ---- data ----------------------------------------------------------- */

/* Loads the data the settings name and builds the feature table. In series
 * mode *spec is set, *series_mode is 1 and, when keep is not NULL, the
 * records sorted by (series, day) move to *keep. Returns 0 or -1 with err
 * set. */
static int load_table(const struct train_settings *s, struct dataset *table,
                      struct series_spec *spec, int *series_mode,
                      struct series_data *keep, struct fr_error *err)
{
    struct series_data raw;
    int rc = -1;

    memset(spec, 0, sizeof *spec);
    *series_mode = s->data_path == NULL || strcmp(s->data_mode, "series") == 0;
    if (!*series_mode) {
        if (tabular_read_csv(s->data_path, s->target_column, table, err) != 0)
            return -1;
        say(s, "read %zu rows x %zu features from '%s'", table->n_rows,
            table->n_features, data_name(s));
        return 0;
    }
    if (s->data_path == NULL) {
        char last[16];
        if (synth_load(s, &raw, err) != 0)
            return -1;
        series_format_date(raw.day[raw.n - 1], last);
        say(s, "generated synthetic data: %zu series x %llu days to %s "
            "(SEED %llu)", raw.n_series, s->synth_days, last, s->seed);
    } else {
        struct series_columns cols = {s->date_column, s->target_column,
                                      s->series_column};
        if (series_data_read_csv(s->data_path, &cols, &raw, err) != 0)
            return -1;
        say(s, "read %zu records of %zu series from '%s'", raw.n,
            raw.n_series, data_name(s));
    }
    if (series_spec_init(spec, raw.n_covariates,
                         (const char *const *)raw.covariate_names, err) != 0)
        goto out;
    if (strcmp(s->forecast_strategy, "direct") == 0 &&
        series_spec_direct(spec, (uint32_t)s->forecast_horizon, err) != 0)
        goto out;
    if (series_data_sort(&raw, err) != 0 ||
        series_build(&raw, spec, table, err) != 0)
        goto out;
    say(s, "built %zu rows x %zu features (rows need %u days of history)",
        table->n_rows, table->n_features, series_history(spec));
    rc = 0;
    if (keep != NULL) {
        *keep = raw;
        return 0;
    }
out:
    if (rc != 0)
        series_spec_release(spec);
    series_data_release(&raw);
    return rc;
}

static void params_from(const struct train_settings *s,
                        struct forest_params *p)
{
    forest_params_default(p);
    p->n_trees = (uint32_t)s->n_estimators;
    p->max_depth = (uint32_t)s->max_depth;
    p->min_samples_leaf = (uint32_t)s->min_samples_leaf;
    p->max_features = s->max_features;
    p->max_bins = (uint32_t)s->max_bins;
    p->seed = s->seed;
    p->n_threads = (uint32_t)s->n_threads;
    p->shard_index = (uint32_t)s->shard_index;
    p->shard_count = (uint32_t)s->shard_count;
    p->oob = s->oob_score;
}

/* The data side of a run: the feature table split by time. */
struct run_data {
    struct dataset table;     /* every row: what a refit learns */
    struct dataset train, test;
    struct series_data raw;   /* series mode: the records, sorted */
    int32_t *cutoff;          /* series mode: each series' first test day */
    struct series_spec spec;  /* valid in series mode */
    int series_mode;
    struct data_origin origin;
};

static void run_data_release(struct run_data *d)
{
    dataset_release(&d->table);
    dataset_release(&d->train);
    dataset_release(&d->test);
    series_data_release(&d->raw);
    free(d->cutoff);
    d->cutoff = NULL;
    if (d->series_mode)
        series_spec_release(&d->spec);
}

/* Fills o: for a file, its size and CRC-32 (read once more; zlib does 1
 * GB/s, well under the parse); for synthetic data, AS_OF. Returns 0 or -1
 * with err set. */
static int data_origin_read(const struct train_settings *s,
                            struct data_origin *o, struct fr_error *err)
{
    unsigned char chunk[1 << 16];
    uLong crc = crc32(0L, Z_NULL, 0);
    size_t n;
    FILE *fp;
    int32_t day;

    memset(o, 0, sizeof *o);
    if (s->data_path == NULL) {
        o->synthetic = 1;
        if (synth_last_day(s, &day, err) != 0)
            return -1;
        series_format_date(day, o->as_of);
        return 0;
    }
    fp = fopen(s->data_path, "rb");
    if (fp == NULL) {
        fr_error_set(err, "cannot open '%s': %s", s->data_path,
                     strerror(errno));
        return -1;
    }
    while ((n = fread(chunk, 1, sizeof chunk, fp)) > 0) {
        crc = crc32(crc, chunk, (uInt)n);
        o->bytes += n;
    }
    if (ferror(fp)) {
        fr_error_set(err, "cannot read '%s'", s->data_path);
        fclose(fp);
        return -1;
    }
    fclose(fp);
    o->crc = (unsigned)crc;
    return 0;
}

/* REFIT, or its default: refit in series mode, not in tabular mode. */
static int refit_wanted(const struct train_settings *s, int series_mode)
{
    if (s->refit == NULL)
        return series_mode;
    return strcmp(s->refit, "true") == 0;
}

/* Loads the data, builds the features and splits them. Returns 0 or -1
 * with err set; on failure d holds nothing. */
static int run_data_load(const struct train_settings *s, struct run_data *d,
                         struct fr_error *err)
{
    int rc;

    memset(d, 0, sizeof *d);
    if (load_table(s, &d->table, &d->spec, &d->series_mode, &d->raw,
                   err) != 0)
        return -1;
    /* After the parse, so a file that cannot be read is reported with the
     * parser's line and column; the checksum is of the bytes just read. */
    if (data_origin_read(s, &d->origin, err) != 0)
        goto fail;
    /* Every row together is needed only by a refit; without one the
     * training rows stay where they were read and only the test rows are
     * copied (issue 17: the copy was the peak of a 1M-row run). */
    if (refit_wanted(s, d->series_mode))
        rc = dataset_split(&d->table, s->test_fraction, &d->train, &d->test,
                           err);
    else
        rc = dataset_split_take(&d->table, s->test_fraction, &d->train,
                                &d->test, err);
    if (rc != 0) {
        fr_error_prefix(err, "TEST_FRACTION");
        goto fail;
    }
    if (d->series_mode) {
        /* Each series' first test day: the backtest's first origin. */
        d->cutoff = malloc((d->raw.n_series ? d->raw.n_series : 1) *
                           sizeof *d->cutoff);
        if (d->cutoff == NULL) {
            fr_error_set(err, "out of memory");
            goto fail;
        }
        for (size_t i = 0; i < d->raw.n_series; i++)
            d->cutoff[i] = INT32_MAX;
        for (size_t i = 0; i < d->test.n_rows; i++) {
            int32_t *c = &d->cutoff[d->test.series[i]];
            *c = d->test.day[i] < *c ? d->test.day[i] : *c;
        }
    }
    say(s, "split by time: %zu training rows, %zu test rows "
        "(TEST_FRACTION %g)", d->train.n_rows, d->test.n_rows,
        s->test_fraction);
    return 0;
fail:
    run_data_release(d);
    return -1;
}

/* ---- evaluation ------------------------------------------------------ */

static long peak_rss_kb(void)
{
    struct rusage ru;

    return getrusage(RUSAGE_SELF, &ru) == 0 ? ru.ru_maxrss : -1;
}

static int evaluate(const struct train_settings *s, const struct model *m,
                    const struct dataset *train, const struct dataset *test,
                    struct evaluation *ev, struct fr_error *err)
{
    double *base = malloc(test->n_rows * sizeof *base);
    float *work = NULL;

    if (model_relative(m) &&
        test->n_rows <= SIZE_MAX / sizeof(float) / test->n_features)
        work = malloc(test->n_rows * test->n_features * sizeof *work);
    ev->predicted = malloc(test->n_rows * sizeof *ev->predicted);
    if (base == NULL || ev->predicted == NULL ||
        (model_relative(m) && work == NULL)) {
        free(base);
        free(work);
        fr_error_set(err, "out of memory evaluating %zu rows", test->n_rows);
        return -1;
    }
    model_predict(m, test->X, test->n_rows, s->n_threads, work,
                  ev->predicted);
    free(work);
    metrics_compute(test->y, ev->predicted, test->n_rows, &ev->model);
    if (test->baseline != NULL) {
        /* Seasonal naive: the same weekday last week. */
        memcpy(base, test->baseline, test->n_rows * sizeof *base);
        ev->baseline_name = "seasonal_naive_7";
    } else {
        double mean = 0.0;
        for (size_t i = 0; i < train->n_rows; i++)
            mean += train->y[i];
        mean /= train->n_rows;
        for (size_t i = 0; i < test->n_rows; i++)
            base[i] = mean;
        ev->baseline_name = "train_mean";
    }
    metrics_compute(test->y, base, test->n_rows, &ev->baseline);
    free(base);
    ev->train_rows = train->n_rows;
    ev->test_rows = test->n_rows;
    return 0;
}

static void evaluation_release(struct evaluation *ev)
{
    free(ev->predicted);
    free(ev->coverage);
    backtest_release(&ev->bt);
    memset(ev, 0, sizeof *ev);
}

static void print_metrics(const struct train_settings *s,
                          const struct evaluation *ev)
{
    if (s->quiet)
        return;
    printf("forest-train: test split, %zu rows:\n", ev->test_rows);
    printf("    %-18s %10s %10s %8s %8s\n", "", "MAE", "RMSE", "MAPE%", "R2");
    printf("    %-18s %10.4f %10.4f %8.2f %8.4f\n", "forest", ev->model.mae,
           ev->model.rmse, ev->model.mape, ev->model.r2);
    printf("    %-18s %10.4f %10.4f %8.2f %8.4f\n", ev->baseline_name,
           ev->baseline.mae, ev->baseline.rmse, ev->baseline.mape,
           ev->baseline.r2);
    if (ev->baseline.rmse > 0.0)
        printf("forest-train: the forest's RMSE is %.1f%% %s the baseline's\n",
               100.0 * fabs(1.0 - ev->model.rmse / ev->baseline.rmse),
               ev->model.rmse <= ev->baseline.rmse ? "below" : "ABOVE");
    fflush(stdout);
}

/* ---- the model store ------------------------------------------------- */

/* Reloads the staged model file and checks it predicts the first 1000 test
 * rows exactly as the forest in memory (the CRC covers the rest): what gets
 * promoted is what was tested. */
static int verify_staged(const char *path, const struct model *m,
                         const struct dataset *test, uint32_t crc,
                         struct fr_error *err)
{
    float *work = malloc(test->n_features * sizeof *work);
    uint32_t crc_read = 0;
    struct model *back = model_load(path, &crc_read, err);
    size_t n = test->n_rows < 1000 ? test->n_rows : 1000;
    int rc = 0;

    if (back == NULL || work == NULL) {
        if (work == NULL)
            fr_error_set(err, "out of memory");
        free(work);
        model_free(back);
        return -1;
    }
    if (crc_read != crc) {
        fr_error_set(err, "'%s' changed on disk after writing", path);
        rc = -1;
    }
    for (size_t i = 0; i < n && rc == 0; i++) {
        const float *row = test->X + i * test->n_features;
        if (model_predict_row(back, row, work) !=
            model_predict_row(m, row, work)) {
            fr_error_set(err, "'%s' predicts test row %zu differently after "
                         "reloading", path, i);
            rc = -1;
        }
    }
    model_free(back);
    free(work);
    return rc;
}

/* Room for metadata.json and report.svg beside model.bin: under 10 KiB
 * with 15 features, but feature names (up to 255 bytes) appear in both. */
static unsigned long long version_extra_bytes(const struct forest *f)
{
    return 65536ull + 1024ull * f->n_features;
}

/* Encodes f for MODEL_DIR and checks that the file system has room for it
 * and `extra` bytes more before anything is written, so a full volume
 * leaves no half-written version behind; warns on stderr when `keep` such
 * versions could never fit. Returns 0 and sets *buf (the caller frees it),
 * *len and *crc, or -1 with err set. */
static int encode_for_store(const struct train_settings *s,
                            const struct model *m, unsigned long long extra,
                            unsigned keep, uint8_t **buf, size_t *len,
                            uint32_t *crc, struct fr_error *err)
{
    struct store_space sp;
    int crowded = 0;

    if (model_encode(m, buf, len, crc, err) != 0)
        return -1;
    if (store_space_read(s->model_dir, &sp, err) != 0 ||
        store_space_check(&sp, *len + extra, keep, &crowded, err) != 0) {
        fr_error_prefix(err, "cannot store the model in MODEL_DIR '%s'",
                        s->model_dir);
        free(*buf);
        *buf = NULL;
        return -1;
    }
    if (crowded) {
        /* Said even with QUIET: the volume will fill before long. */
        fflush(stdout);
        fprintf(stderr, "forest-train: warning: KEEP_VERSIONS %u versions of "
                "%llu bytes need more than the %llu bytes of the file system "
                "holding MODEL_DIR '%s'; lower KEEP_VERSIONS or make the "
                "model or the volume fit\n", keep, *len + extra,
                sp.total_bytes, s->model_dir);
    }
    return 0;
}

static void iso_now(char *buf, size_t len)
{
    time_t t = time(NULL);
    struct tm tm;

    gmtime_r(&t, &tm);
    strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* Prints the gate's decision. Returns 0 when it lets the new version be
 * promoted, -1 when it keeps it out (exit 3). */
static int report_gate(const struct train_settings *s,
                       const struct evaluation *ev, const char *version)
{
    const struct gate *g = &ev->gate;
    int keep_out = strcmp(g->decision, "refused") == 0 ||
                   strcmp(g->decision, "incompatible_refused") == 0;

    if (strcmp(g->decision, "no_champion") == 0)
        return 0;
    if (strcmp(g->decision, "promoted") == 0 ||
        strcmp(g->decision, "refused") == 0) {
        /* A refusal is said even with QUIET: it explains the exit status. */
        FILE *to = keep_out ? stderr : stdout;
        if (s->quiet && !keep_out)
            return 0;
        fflush(stdout);
        fprintf(to, "forest-train: gate %s: on the %zu held-out series-days newer "
                "than %s's training (to %s), %s %.4f for the new model, "
                "%.4f for %s (PROMOTE_MAX_REGRESSION %g)%s%s%s\n",
                keep_out ? "REFUSED" : "passed", g->rows,
                g->champion_version, g->champion_last_day[0] ?
                g->champion_last_day : "its test split", g->metric,
                g->challenger_score, g->champion_score, g->champion_version,
                s->promote_max_regression, keep_out ? "; " : "",
                keep_out ? version : "", keep_out ?
                " is kept in versions/, current unchanged" : "");
        return keep_out ? -1 : 0;
    }
    /* too_few_rows and incompatible_*: a warning either way. */
    fflush(stdout);
    fprintf(stderr, "forest-train: warning: gate %s: the current version %s "
            "cannot be compared: %s\n", g->decision, g->champion_version,
            g->reason);
    return keep_out ? -1 : 0;
}

/* PROMOTE_TO=candidate. */
static int to_candidate(const struct train_settings *s)
{
    return s->promote_to != NULL &&
           strcmp(s->promote_to, STORE_CANDIDATE) == 0;
}

/* The gate's record for a new candidate: nothing compared, and
 * metadata.json says why. Cannot fail. */
static void candidate_gate(const struct gate_data *gd, struct gate *g)
{
    memset(g, 0, sizeof *g);
    g->metric = gd->series_mode ? "backtest_mae_mean" : "test_rmse";
    g->champion_score = g->champion_rmse = NAN;
    g->challenger_score = g->challenger_rmse = NAN;
    g->decision = "candidate_no_gate";
    snprintf(g->reason, sizeof g->reason, "PROMOTE_TO=candidate: the gate "
             "does not run for a candidate; the servers' shadow or canary "
             "traffic evaluates it before 'forest-train promote' makes it "
             "current");
}

/* Writes and verifies the model, then, under the store's lock, names the
 * version, writes its metadata and report (they hold the name), commits it,
 * runs the promotion gate and prunes. Returns an exit status: a MODEL_VERSION
 * another trainer took meanwhile is EXIT_USAGE, as it would have been had
 * that trainer finished before this one started. */
static int publish(const struct train_settings *s, const struct model *m,
                   const struct run_data *d, struct evaluation *ev,
                   const struct gate_data *gd)
{
    const struct forest *f = m->forest;
    const struct dataset *test = &d->test;
    struct store_stage st;
    struct fr_error err = {{0}};
    char path[PATH_MAX], created[32], current[STORE_VERSION_MAX + 1];
    struct run_info info = {0};
    uint32_t crc = 0;
    uint8_t *buf = NULL;
    size_t len = 0;
    int lock = -1, have_current, status = EXIT_ERROR, n;

    memset(&st, 0, sizeof st); /* store_stage_abort on an early failure */
    if (encode_for_store(s, m, version_extra_bytes(f),
                         (unsigned)s->keep_versions, &buf, &len, &crc,
                         &err) != 0 ||
        store_stage_begin(s->model_dir, s->model_version, &st, &err) != 0)
        goto out;
    if (store_stage_file(&st, "model.bin", path, sizeof path, &err) != 0 ||
        file_write_atomic(path, buf, len, &err) != 0 ||
        verify_staged(path, m, test, crc, &err) != 0)
        goto out;
    /* A large model's buffer is not needed while the lock is held. */
    free(buf);
    buf = NULL;
    info.model_bytes = len;

    /* From naming to pruning, no other trainer touches the store: the name
     * picked is free until it is committed. */
    lock = store_lock(s->model_dir, &err);
    if (lock < 0)
        goto out;
    if (store_stage_name(&st, time(NULL), &err) != 0) {
        if (st.chosen) {
            fr_error_prefix(&err, "invalid MODEL_VERSION '%s'", st.version);
            status = EXIT_USAGE;
        }
        goto out;
    }
    /* The gate, under the lock: the champion cannot change meanwhile. */
    have_current = store_current(s->model_dir, current, &err);
    if (have_current < 0)
        goto out;
    if (to_candidate(s))
        candidate_gate(gd, &ev->gate);
    else if (gate_decide(s, have_current ? current : NULL, gd, &ev->gate,
                         &err) != 0)
        goto out;
    iso_now(created, sizeof created);
    info.settings = s;
    info.version = st.version;
    info.created_at = created;
    info.data_source = s->data_path ? data_name(s) : "synthetic";
    info.origin = &d->origin;
    info.series_names = (const char *const *)d->raw.series_names;
    info.series_mode = d->series_mode;
    info.model_crc = crc;
    ev->total_seconds = monotonic_seconds() - program_start;
    ev->peak_rss_kb = peak_rss_kb();
    info.eval = ev;
    info.test = test;
    if (store_stage_file(&st, "metadata.json", path, sizeof path, &err) != 0 ||
        metadata_write(path, m, &info, &err) != 0)
        goto out;
    if (store_stage_file(&st, "report.svg", path, sizeof path, &err) != 0 ||
        report_write(path, f, &info, &err) != 0)
        goto out;
    if (store_stage_commit(&st, &err) != 0)
        goto out;
    say(s, "wrote version %s (model.bin %zu bytes, crc32 %08x, verified)",
        st.version, info.model_bytes, crc);

    if (to_candidate(s)) {
        if (store_pointer_set(s->model_dir, STORE_CANDIDATE, st.version,
                              &err) != 0)
            goto out;
        say(s, "made %s the candidate (no gate: shadow or canary traffic "
            "evaluates it): %s/candidate -> versions/%s", st.version,
            s->model_dir, st.version);
        status = EXIT_TRAINED;
    } else if (report_gate(s, ev, st.version) != 0) {
        status = EXIT_NOT_PROMOTED;
    }
    if (status != EXIT_NOT_PROMOTED && !to_candidate(s)) {
        if (store_promote(s->model_dir, st.version, &err) != 0)
            goto out;
        say(s, "promoted %s: %s/current -> versions/%s", st.version,
            s->model_dir, st.version);
        status = EXIT_TRAINED;
    }
    n = store_prune(s->model_dir, (unsigned)s->keep_versions, st.version,
                    program_start_wall, &err);
    if (n < 0)
        say(s, "warning: %s", err.msg);
    else if (n > 0)
        say(s, "deleted %d old version%s (KEEP_VERSIONS %llu)", n,
            n == 1 ? "" : "s", s->keep_versions);
    store_unlock(lock);
    return status;
out:
    fail(&err);
    free(buf);
    store_stage_abort(&st);
    store_unlock(lock);
    return status == EXIT_USAGE ? EXIT_USAGE : EXIT_ERROR;
}

/* Direct rows a forest learns at most: DIRECT_MAX_ROWS, or by default
 * DIRECT_ROWS_PER_DAY per day row but never fewer than DIRECT_MIN_ROWS.
 * Every (origin, day ahead) pair is H rows a day, and nearby origins'
 * rows for one target day are much alike, so a sample loses little
 * (README, "Direct forecasts"). 2 a day, at least 30000, against 4 and
 * 40000 before: make run's training takes a fifth less CPU, and the
 * forecasting benchmark's mean MAE over 14 days moves by at most 0.6% on
 * the synthetic sets (bench/README.md, "Training time"); 2 and 20000
 * were faster still but cost 1.2% without covariates. A small data set
 * (one real series of a few years, under 30000 pairs) is cheap to learn
 * whole and needs every row it has. */
#define DIRECT_ROWS_PER_DAY 2
#define DIRECT_MIN_ROWS 30000

/* A fold that learns FOLD_FEW_ROWS rows or more grows N_ESTIMATORS /
 * FOLD_TREE_SHARE trees (at least FOLD_MIN_TREES, or all of a smaller
 * forest's). Its errors only calibrate: fewer trees make each forecast a
 * little noisier, so the intervals a little wider, but on make run's data
 * the shares they cover barely move (80% / 90% over the 14 horizons: 100
 * trees 80.0-82.2 / 89.2-91.6%, 10 trees 80.1-82.7 / 89.2-91.6%), while
 * two folds of 100 trees took over a third of its training time
 * (bench/README.md, "Training time"). A fold on fewer rows (one real
 * series of a few years: a few thousand) is cheap and keeps every tree:
 * there a single series' few errors are all the calibration has, and 10
 * trees moved the Chicago series' 80% coverage from 81.6 to 83.0%. make
 * run's folds learn about 30000 (a sample). */
#define FOLD_TREE_SHARE 10
#define FOLD_MIN_TREES 10
#define FOLD_FEW_ROWS 20000

/* The trees of a calibration fold that learns n_rows rows. Cannot fail. */
static uint32_t fold_trees(const struct train_settings *s, size_t n_rows)
{
    unsigned long long n = s->n_estimators / FOLD_TREE_SHARE;

    if (n_rows < FOLD_FEW_ROWS)
        return (uint32_t)s->n_estimators;
    /* A small forest's folds keep all its trees: with one tree in ten, a
     * forest of 10 would calibrate on the errors of single trees, far
     * noisier than its own. */
    if (n < FOLD_MIN_TREES)
        n = s->n_estimators < FOLD_MIN_TREES ? s->n_estimators
                                             : FOLD_MIN_TREES;
    return (uint32_t)n;
}

/* Grows a model on rows: in series mode on rows relative to the level
 * (series_relative_dataset), so the trees learn differences they can
 * apply at any level. A direct spec learns its (origin, day ahead) rows
 * instead, built from the records: those whose target day is before each
 * series' cutoff, or all of them when cutoff is NULL (a refit); rows then
 * only gives their count per day. A calibration fold (fold) grows
 * fold_trees of them. Returns the model or NULL with err set. */
static struct model *grow(const struct train_settings *s,
                          const struct run_data *d,
                          const struct dataset *rows, const int32_t *cutoff,
                          int fold, struct evaluation *ev,
                          struct fr_error *err)
{
    struct forest_params params;
    struct progress prog = {0};
    struct dataset rel = {0}, direct = {0};
    struct forest *f;
    double t0;

    params_from(s, &params);
    if (d->series_mode && d->spec.strategy == SERIES_DIRECT) {
        size_t cap = DIRECT_ROWS_PER_DAY * rows->n_rows;
        if (s->direct_max_rows)
            cap = (size_t)s->direct_max_rows;
        else if (cap < DIRECT_MIN_ROWS)
            cap = DIRECT_MIN_ROWS;
        if (series_build_direct(&d->raw, &d->spec, cutoff, cap, s->seed,
                                &direct, err) != 0)
            return NULL;
        say(s, "direct rows: %zu (origin, days ahead 1-%u) pairs from %zu "
            "days", direct.n_rows, d->spec.horizon, rows->n_rows);
        rows = &direct;
    }
    if (d->series_mode && d->spec.target == SERIES_TARGET_DIFF &&
        series_relative_dataset(&d->spec, rows, &rel, err) != 0) {
        dataset_release(&direct);
        return NULL;
    }
    dataset_release(&direct);
    if (fold)
        params.n_trees = fold_trees(s, rel.n_rows ? rel.n_rows
                                                  : rows->n_rows);
    say(s, "training %u of %u trees on %zu rows (depth %u, "
        "min_samples_leaf %u, max_features %g, %u bins, SEED %llu)",
        (params.n_trees - params.shard_index + params.shard_count - 1) /
            params.shard_count,
        params.n_trees, rel.n_rows ? rel.n_rows : rows->n_rows,
        params.max_depth, params.min_samples_leaf, params.max_features,
        params.max_bins, s->seed);
    prog.start = prog.last = t0 = monotonic_seconds();
    prog.tty = isatty(STDERR_FILENO);
    prog.quiet = s->quiet;
    f = forest_train(rel.n_rows ? &rel : rows, &params, on_progress, &prog,
                     err);
    dataset_release(&rel);
    if (f == NULL)
        return NULL;
    ev->train_seconds += monotonic_seconds() - t0;
    say(s, "grew %u trees in %.2fs", f->n_trees, monotonic_seconds() - t0);
    if (s->oob_score && !isnan(f->oob_rmse))
        say(s, "out-of-bag RMSE %.4f over %zu rows", f->oob_rmse, f->oob_rows);
    return model_new(f, d->series_mode ? &d->spec : NULL, err);
}

/* A backtest point's nonconformity score on a calibration scale. */
static double point_score(const struct bt_point *p, uint32_t scale)
{
    double err = fabs(p->actual - p->forest);

    return scale == CALIBRATION_RELATIVE ? err / p->scale_level : err;
}

/* Builds a calibration on `scale` from the points whose origin is in
 * [from, before), one set of scores per horizon. Returns 0, or -1 with err
 * set (no point at horizon 1, no memory). */
static int calibrate_points(const struct bt_point *pts, size_t n_pts,
                            size_t horizon, int32_t from, int32_t before,
                            uint32_t scale, struct calibration *c,
                            struct fr_error *err)
{
    size_t H = horizon, k = 0;
    uint32_t *counts = calloc(H, sizeof *counts);
    double *scores = malloc((n_pts ? n_pts : 1) * sizeof *scores);
    int rc = -1;

    if (counts == NULL || scores == NULL) {
        fr_error_set(err, "out of memory calibrating");
        goto out;
    }
    /* Sorted by horizon for calibration_build: one pass per horizon. */
    for (size_t h = 1; h <= H; h++) {
        size_t before_h = k;
        for (size_t i = 0; i < n_pts; i++) {
            const struct bt_point *p = &pts[i];
            if (p->h != h || p->origin >= before || p->origin < from)
                continue;
            scores[k++] = point_score(p, scale);
            counts[h - 1]++;
        }
        /* A test period shorter than the horizon leaves the far horizons
         * without points: calibrate those that have them (later days reuse
         * the last, saying "calibrated": false). */
        if (k == before_h) {
            H = h - 1;
            break;
        }
    }
    if (H == 0) {
        fr_error_set(err, "no forecast to calibrate the intervals on");
        goto out;
    }
    rc = calibration_build(c, scale, (uint32_t)H, counts, scores, err);
out:
    free(counts);
    free(scores);
    return rc;
}

/* The share of the points with origin in [from, before) that c's 80% and
 * 90% intervals contain, per horizon, into cov[2 x H] (80% first; NaN for
 * a horizon without points); the points scored into *n_scored. Returns
 * the mean squared distance of the shares from nominal (NaN: none). */
static double coverage_of(const struct calibration *c,
                          const struct bt_point *pts, size_t n_pts,
                          int32_t from, int32_t before, size_t H,
                          double *cov, size_t *n_scored)
{
    static const double LEVELS[2] = {0.8, 0.9};
    double miss = 0.0;
    size_t cells = 0;

    *n_scored = 0;
    for (size_t i = 0; i < 2 * H; i++)
        cov[i] = 0.0;
    for (size_t i = 0; i < n_pts; i++) {
        const struct bt_point *p = &pts[i];
        if (p->origin < from || p->origin >= before || p->h > H)
            continue;
        (*n_scored)++;
        for (int l = 0; l < 2; l++) {
            double half;
            int calibrated;
            struct fr_error ignore = {{0}};
            if (calibration_half_width(c, p->h, LEVELS[l], &half,
                                       &calibrated, &ignore) == 0 &&
                point_score(p, c->scale) <= half)
                cov[l * H + p->h - 1] += 1.0;
        }
    }
    for (size_t h = 1; h <= H; h++) {
        size_t n = 0;
        for (size_t i = 0; i < n_pts; i++)
            n += pts[i].h == h && pts[i].origin >= from &&
                 pts[i].origin < before;
        for (int l = 0; l < 2; l++) {
            double *x = &cov[l * H + h - 1];
            *x = n ? *x / n : NAN;
            if (n) {
                miss += (*x - LEVELS[l]) * (*x - LEVELS[l]);
                cells++;
            }
        }
    }
    return cells ? miss / cells : NAN;
}

/* The rows of src (series mode) whose day is before before[series], into
 * out. Returns 0 or -1 with err set (no memory); on failure out is
 * released. */
static int rows_before(const struct dataset *src, const int32_t *before,
                       struct dataset *out, struct fr_error *err)
{
    size_t nf = src->n_features;

    if (dataset_init(out, nf, (const char *const *)src->feature_names,
                     src->n_rows, 1, err) != 0)
        return -1;
    for (size_t i = 0; i < src->n_rows; i++) {
        if (src->day[i] >= before[src->series[i]])
            continue;
        if (dataset_push(out, src->X + i * nf, src->y[i], src->series[i],
                         src->day[i], src->baseline ? src->baseline[i] : 0.0,
                         err) != 0)
            return -1;
    }
    out->n_series = src->n_series;
    return 0;
}

/* Appends src's points to *all (n_all of them). Returns 0 or -1 with err
 * set. */
static int append_points(struct bt_point **all, size_t *n_all,
                         const struct backtest *src, struct fr_error *err)
{
    struct bt_point *grown;

    if (src->n_points > SIZE_MAX / sizeof **all - *n_all) {
        fr_error_set(err, "out of memory for the calibration points");
        return -1;
    }
    grown = realloc(*all, (*n_all + src->n_points + 1) * sizeof **all);
    if (grown == NULL) {
        fr_error_set(err, "out of memory for the calibration points");
        return -1;
    }
    memcpy(grown + *n_all, src->points, src->n_points * sizeof *grown);
    *all = grown;
    *n_all += src->n_points;
    return 0;
}

/* Calibration folds (cross-fitting over time): fold k = 1..CALIBRATION_FOLDS
 * learns the training days before cutoff - k x L (L: each series' held-out
 * days) and forecasts from the origins of the L days after that, days it
 * never learned. Their errors join the hold-out's, so the calibration sees
 * five times the origins of the hold-out's earlier half, over more of the
 * year: that half alone is a few weeks whose holidays and season may not
 * be those of the days the published model forecasts. A fold that would
 * learn less than FOLD_MIN_SHARE of the training rows is not grown (short
 * series get fewer folds, or none). */
#define CALIBRATION_FOLDS 2
#define FOLD_MIN_SHARE 0.4

/* Grows the calibration folds of the run and appends their backtest
 * points to *pts (*n_pts of them). Returns 0 or -1 with err set. */
static int calibration_folds(const struct train_settings *s,
                             const struct run_data *d, struct evaluation *ev,
                             struct bt_point **pts, size_t *n_pts,
                             struct fr_error *err)
{
    size_t ns = d->raw.n_series, H = (size_t)s->forecast_horizon;
    size_t bytes = (ns ? ns : 1) * sizeof(int32_t);
    int32_t *last = malloc(bytes), *fcut = malloc(bytes);
    int32_t *fend = malloc(bytes);
    int rc = -1;

    if (last == NULL || fcut == NULL || fend == NULL) {
        fr_error_set(err, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < ns; i++)
        last[i] = INT32_MIN;
    for (size_t i = 0; i < d->raw.n; i++) {
        int32_t *l = &last[d->raw.series[i]];
        *l = d->raw.day[i] > *l ? d->raw.day[i] : *l;
    }
    for (int k = 1; k <= CALIBRATION_FOLDS; k++) {
        struct dataset sub = {0};
        struct backtest fbt = {0};
        struct fr_error none = {{0}};
        struct model *fm;
        int bad;
        /* A series without test days (cutoff INT32_MAX) takes no part. */
        for (size_t i = 0; i < ns; i++) {
            int32_t c = d->cutoff[i];
            int32_t len = c == INT32_MAX ? 0 : last[i] - c + 1;
            fcut[i] = c == INT32_MAX ? INT32_MIN : c - k * len;
            fend[i] = c == INT32_MAX ? INT32_MIN : c - (k - 1) * len;
        }
        if (rows_before(&d->train, fcut, &sub, err) != 0)
            goto out;
        if ((double)sub.n_rows < FOLD_MIN_SHARE * (double)d->train.n_rows) {
            dataset_release(&sub);
            break;
        }
        say(s, "calibration fold %d: learning %zu of the %zu training rows",
            k, sub.n_rows, d->train.n_rows);
        fm = grow(s, d, &sub, fcut, 1, ev, err);
        dataset_release(&sub);
        if (fm == NULL)
            goto out;
        /* A fold with no origin that has the history a forecast needs
         * adds nothing, and is no error. */
        if (backtest_run(fm, &d->raw, fcut, fend, H, s->n_threads, &fbt,
                         &none) != 0) {
            model_free(fm);
            continue;
        }
        bad = append_points(pts, n_pts, &fbt, err);
        ev->folds++;
        ev->fold_points += fbt.n_points;
        backtest_release(&fbt);
        model_free(fm);
        if (bad)
            goto out;
    }
    rc = 0;
out:
    free(last);
    free(fcut);
    free(fend);
    return rc;
}

/* Series evaluation beyond the one-day-ahead test split: the backtest of
 * m, the published calibration and its coverage.
 *
 * The origins in time order: the calibration folds' (F, with_folds: not
 * for merged shards, whose data is too large to learn in one process), the
 * earlier half of the hold-out's (E), the later half (L). The scale of the
 * scores is chosen on F and E alone: calibrated on F, the scale whose
 * intervals cover E closer to nominal (mean squared distance over the
 * horizons at 80 and 90 %; relative without folds). Errors relative to
 * the level suit a series whose noise grows with its level; counts whose
 * noise grows more slowly (Poisson-like: the square root) get intervals
 * too narrow where the level is low and too wide where it grew, and then
 * absolute errors cover better. The intervals are calibrated on F and E,
 * their coverage scored on L, never on a point they calibrated on; that
 * calibration is the one published. A hold-out too short for that
 * calibrates on every origin and leaves the coverage unknown. Returns 0 or
 * -1 with err set. */
static int evaluate_series(const struct train_settings *s,
                           const struct model *m, const struct run_data *d,
                           int with_folds, struct evaluation *ev,
                           struct calibration *cal, struct fr_error *err)
{
    size_t H = (size_t)s->forecast_horizon, n_pts = 0, n_fold, scored;
    int32_t first = INT32_MAX, last = INT32_MIN;
    struct bt_point *pts = NULL;
    struct calibration early = {0};
    uint32_t scale = CALIBRATION_RELATIVE;
    int rc = -1;

    if (backtest_run(m, &d->raw, d->cutoff, NULL, H, s->n_threads, &ev->bt,
                     err) != 0)
        return -1;
    ev->has_backtest = 1;
    ev->scale_miss[0] = ev->scale_miss[1] = NAN;
    if (with_folds && calibration_folds(s, d, ev, &pts, &n_pts, err) != 0)
        goto out;
    n_fold = n_pts;
    if (append_points(&pts, &n_pts, &ev->bt, err) != 0)
        goto out;
    for (size_t i = 0; i < ev->bt.n_points; i++) {
        int32_t o = ev->bt.points[i].origin;
        first = o < first ? o : first;
        last = o > last ? o : last;
    }
    ev->calibration_until = first + (last - first + 1) / 2;
    ev->coverage = malloc(2 * H * sizeof *ev->coverage);
    if (ev->coverage == NULL) {
        fr_error_set(err, "out of memory");
        goto out;
    }
    /* The scale: the folds calibrate, the hold-out's earlier half judges
     * (ev->coverage is scratch space here). */
    for (uint32_t sc = CALIBRATION_ABSOLUTE; sc <= CALIBRATION_RELATIVE;
         sc++) {
        struct calibration c = {0};
        struct fr_error none = {{0}};
        if (n_fold > 0 && calibrate_points(pts, n_fold, H, INT32_MIN,
                                           INT32_MAX, sc, &c, &none) == 0)
            ev->scale_miss[sc] = coverage_of(&c, ev->bt.points,
                                             ev->bt.n_points, INT32_MIN,
                                             ev->calibration_until, H,
                                             ev->coverage, &scored);
        calibration_release(&c);
    }
    if (ev->scale_miss[CALIBRATION_ABSOLUTE] <
        ev->scale_miss[CALIBRATION_RELATIVE])
        scale = CALIBRATION_ABSOLUTE;
    for (size_t i = 0; i < 2 * H; i++)
        ev->coverage[i] = NAN;
    /* Too few early origins for a calibration (a short hold-out) leaves
     * the coverage unknown (null), not the run failed. */
    if (calibrate_points(pts, n_pts, H, INT32_MIN, ev->calibration_until,
                         scale, &early, err) != 0) {
        rc = calibrate_points(pts, n_pts, H, INT32_MIN, INT32_MAX, scale,
                              cal, err);
        ev->calibration_points = n_pts;
        goto out;
    }
    for (size_t i = 0; i < n_pts; i++)
        ev->calibration_points += pts[i].origin < ev->calibration_until;
    coverage_of(&early, ev->bt.points, ev->bt.n_points,
                ev->calibration_until, INT32_MAX, H, ev->coverage, &scored);
    ev->coverage_points = scored;
    /* What was scored is what is published. */
    *cal = early;
    memset(&early, 0, sizeof early);
    rc = 0;
out:
    calibration_release(&early);
    free(pts);
    return rc;
}

static void print_backtest(const struct train_settings *s,
                           const struct evaluation *ev)
{
    static const char *const NAMES[3] = {"forest", "seasonal_naive",
                                         "seasonal_mean_4w"};
    size_t H = ev->bt.horizon;
    double *mae = malloc(H * sizeof *mae);

    if (s->quiet || mae == NULL) {
        free(mae);
        return;
    }
    printf("forest-train: backtest, %zu origins over the test days, MAE by "
           "days ahead:\n    %-18s", ev->bt.n_origins, "");
    for (size_t h = 0; h < H; h++) {
        if (h < 3 || h == 6 || h == H - 1)
            printf(" %8zu", h + 1);
    }
    printf(" %8s\n", "mean");
    for (int w = 0; w < 3; w++) {
        double mean = backtest_mae(&ev->bt, w, mae);
        printf("    %-18s", NAMES[w]);
        for (size_t h = 0; h < H; h++) {
            if (h < 3 || h == 6 || h == H - 1)
                printf(" %8.3f", mae[h]);
        }
        printf(" %8.3f\n", mean);
    }
    if (!isnan(ev->coverage[0])) {
        char until[16];
        series_format_date(ev->calibration_until, until);
        printf("forest-train: intervals calibrated on %zu fold%s and the "
               "origins before %s, scored from it: 80%% covers %.1f%% at 1 "
               "day ahead, %.1f%% at %zu\n", ev->folds,
               ev->folds == 1 ? "" : "s", until, 100.0 * ev->coverage[0],
               100.0 * ev->coverage[H - 1], H);
    }
    if (!isnan(ev->scale_miss[0]) && !isnan(ev->scale_miss[1]))
        printf("forest-train: interval scale %s: on the earlier origins, "
               "calibrated on the folds, absolute errors miss nominal by "
               "%.1f points (rms), relative ones by %.1f\n",
               ev->scale_miss[0] < ev->scale_miss[1] ? "absolute"
                                                     : "relative",
               100.0 * sqrt(ev->scale_miss[0]),
               100.0 * sqrt(ev->scale_miss[1]));
    fflush(stdout);
    free(mae);
}

/* Split conformal for a table: the test rows' absolute errors, one
 * horizon. Returns 0 or -1 with err set. */
static int calibrate_tabular(const struct run_data *d,
                             const struct evaluation *ev,
                             struct calibration *cal, struct fr_error *err)
{
    size_t n = d->test.n_rows;
    double *scores;
    uint32_t count;
    int rc;

    if (n > UINT32_MAX) {
        fr_error_set(err, "%zu test rows are too many to calibrate", n);
        return -1;
    }
    scores = malloc((n ? n : 1) * sizeof *scores);
    if (scores == NULL) {
        fr_error_set(err, "out of memory calibrating %zu rows", n);
        return -1;
    }
    for (size_t i = 0; i < n; i++)
        scores[i] = fabs(d->test.y[i] - ev->predicted[i]);
    count = (uint32_t)n;
    rc = calibration_build(cal, CALIBRATION_ABSOLUTE, 1, &count, scores,
                           err);
    free(scores);
    return rc;
}


/* The last day a table's rows reach, as YYYY-MM-DD ("" in tabular mode). */
static void last_day_of(const struct dataset *rows, char *buf)
{
    int32_t last = INT32_MIN;

    buf[0] = '\0';
    if (rows->day == NULL)
        return;
    for (size_t i = 0; i < rows->n_rows; i++)
        last = rows->day[i] > last ? rows->day[i] : last;
    if (rows->n_rows > 0)
        series_format_date(last, buf);
}

/* Scores m on the test split (and in series mode the backtest), calibrates
 * its intervals, refits on every row when REFIT says so (may_refit: not
 * for merged shards), profiles the rows learned, and publishes. Returns an
 * exit status. */
static int evaluate_and_publish(const struct train_settings *s,
                                struct model *m, const struct run_data *d,
                                struct evaluation *ev, int may_refit)
{
    struct fr_error err = {{0}};
    struct calibration cal = {0};
    struct model *pub = m, *refit = NULL;
    struct gate_data gd = {0};
    int status = EXIT_ERROR;

    if (evaluate(s, m, &d->train, &d->test, ev, &err) != 0)
        goto out;
    print_metrics(s, ev);
    if (d->series_mode) {
        if (evaluate_series(s, m, d, may_refit, ev, &cal, &err) != 0)
            goto out;
        print_backtest(s, ev);
        last_day_of(&d->test, ev->test_last_day);
        series_format_date(ev->bt.first_day, ev->test_first_day);
    } else if (calibrate_tabular(d, ev, &cal, &err) != 0) {
        goto out;
    }
    ev->refit = may_refit && refit_wanted(s, d->series_mode);
    if (ev->refit) {
        say(s, "refit: learning all %zu rows for the published model",
            d->table.n_rows);
        refit = grow(s, d, &d->table, NULL, 0, ev, &err);
        if (refit == NULL)
            goto out;
        pub = refit;
    }
    ev->learned_rows = ev->refit ? d->table.n_rows : d->train.n_rows;
    last_day_of(ev->refit ? &d->table : &d->train, ev->last_day);
    pub->calibration = cal;
    memset(&cal, 0, sizeof cal);
    if (profile_build(&pub->profile, ev->refit ? &d->table : &d->train,
                      PROFILE_BINS, &err) != 0)
        goto out;
    gd.series_mode = d->series_mode;
    gd.raw = &d->raw;
    gd.cutoff = d->cutoff;
    gd.bt = &ev->bt;
    gd.test = &d->test;
    gd.test_pred = ev->predicted;
    status = publish(s, pub, d, ev, &gd);
    say(s, "done in %.2fs, peak memory %.1f MiB",
        monotonic_seconds() - program_start, peak_rss_kb() / 1024.0);
    goto done;
out:
    fail(&err);
done:
    calibration_release(&cal);
    model_free(refit);
    return status;
}

/* ---- shards ---------------------------------------------------------- */

static int shard_dir(const struct train_settings *s, char *buf, size_t len,
                     struct fr_error *err)
{
    if (!store_version_valid(s->shard_run)) {
        fr_error_set(err, "SHARD_RUN '%s' is not a valid name (letters, "
                     "digits, '.', '_', '-')", s->shard_run);
        return -1;
    }
    if ((size_t)snprintf(buf, len, "%s/shards/%s", s->model_dir, s->shard_run)
        >= len) {
        fr_error_set(err, "path too long under '%s'", s->model_dir);
        return -1;
    }
    return 0;
}

static int mkdir_p(const char *path, struct fr_error *err)
{
    char tmp[PATH_MAX];

    if (strlen(path) >= sizeof tmp) {
        fr_error_set(err, "path too long: '%s'", path);
        return -1;
    }
    strcpy(tmp, path);
    for (char *p = tmp + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(tmp, 0755) != 0 && errno != EEXIST)
            goto fail;
        *p = '/';
    }
    if (mkdir(tmp, 0755) != 0 && errno != EEXIST)
        goto fail;
    return 0;
fail:
    fr_error_set(err, "cannot create '%s': %s", tmp, strerror(errno));
    return -1;
}

static int write_shard(const struct train_settings *s, const struct model *m)
{
    struct fr_error err = {{0}};
    char dir[PATH_MAX], path[PATH_MAX + 64];
    uint8_t *buf = NULL;
    size_t len = 0;
    uint32_t crc;
    int status = EXIT_ERROR;

    /* keep 0: shards are merged and removed, not kept. */
    if (encode_for_store(s, m, 0, 0, &buf, &len, &crc, &err) != 0 ||
        shard_dir(s, dir, sizeof dir, &err) != 0 ||
        (!store_is_s3(dir) && mkdir_p(dir, &err) != 0))
        goto out;
    snprintf(path, sizeof path, "%s/shard-%llu-of-%llu.bin", dir,
             s->shard_index, s->shard_count);
    if (store_write(path, buf, len, &err) != 0)
        goto out;
    say(s, "wrote shard %llu of %llu (%u trees) to %s", s->shard_index,
        s->shard_count, m->forest->n_trees, path);
    status = EXIT_TRAINED;
out:
    if (status != EXIT_TRAINED)
        fail(&err);
    free(buf);
    return status;
}

/* ---- commands -------------------------------------------------------- */

int trainer_train(const struct train_settings *s)
{
    struct run_data d = {0};
    struct forest_params params;
    struct evaluation ev = {0};
    struct fr_error err = {{0}};
    struct model *m = NULL;
    int status = EXIT_ERROR;

    params_from(s, &params);
    /* In the settings' own names first; the library's check below then
     * only catches what no setting can express. */
    if (s->shard_index >= s->shard_count || s->shard_count > s->n_estimators) {
        fr_error_set(&err, "shard %llu of %llu is not valid for %llu trees "
                     "(need SHARD_INDEX < SHARD_COUNT <= N_ESTIMATORS)",
                     s->shard_index, s->shard_count, s->n_estimators);
        fail(&err);
        return EXIT_USAGE;
    }
    if (forest_params_check(&params, &err) != 0 ||
        check_settings(s, s->shard_count > 1 ? WRITES_SHARD : 0, &err) != 0) {
        fail(&err);
        return EXIT_USAGE;
    }
    if (store_check_dir(s->model_dir, &err) != 0) {
        fr_error_prefix(&err, "MODEL_DIR");
        goto out;
    }
    /* Only now that MODEL_DIR is known to be a store. */
    if (s->shard_count == 1 && check_settings(s, WRITES_VERSION, &err) != 0) {
        fail(&err);
        return EXIT_USAGE;
    }
    if (run_data_load(s, &d, &err) != 0)
        goto out;
    m = grow(s, &d, &d.train, d.cutoff, 0, &ev, &err);
    if (m == NULL)
        goto out;
    if (s->shard_count > 1)
        status = write_shard(s, m);
    else
        status = evaluate_and_publish(s, m, &d, &ev, 1);
    goto done;
out:
    fail(&err);
done:
    model_free(m);
    evaluation_release(&ev);
    run_data_release(&d);
    return status;
}

int trainer_merge(const struct train_settings *s)
{
    struct run_data d = {0};
    struct evaluation ev = {0};
    struct fr_error err = {{0}};
    struct model **shards = NULL;
    struct forest **forests = NULL;
    struct model *m = NULL;
    struct forest *merged;
    const struct forest *f;
    char dir[PATH_MAX], pattern[64];
    char **paths = NULL;
    size_t n_paths = 0;
    int status = EXIT_ERROR;

    if (check_settings(s, READS_SHARDS, &err) != 0) {
        fail(&err);
        return EXIT_USAGE;
    }
    if (store_check_dir(s->model_dir, &err) != 0) {
        fr_error_prefix(&err, "MODEL_DIR");
        goto out;
    }
    if (check_settings(s, WRITES_VERSION | READS_SHARDS, &err) != 0) {
        fail(&err);
        return EXIT_USAGE;
    }
    if (shard_dir(s, dir, sizeof dir, &err) != 0)
        goto out;
    /* Only this run's shard count: leftovers of a run split another way
     * under the same SHARD_RUN are not ours to merge. */
    snprintf(pattern, sizeof pattern, "shard-*-of-%llu.bin", s->shard_count);
    if (store_list(dir, pattern, &paths, &n_paths, &err) != 0)
        goto out;
    if (n_paths == 0) {
        fr_error_set(&err, "no shards of SHARD_COUNT %llu in '%s'",
                     s->shard_count, dir);
        goto out;
    }
    shards = calloc(n_paths, sizeof *shards);
    forests = calloc(n_paths, sizeof *forests);
    if (shards == NULL || forests == NULL) {
        fr_error_set(&err, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < n_paths; i++) {
        shards[i] = store_model_load(paths[i], NULL, &err);
        if (shards[i] == NULL)
            goto out;
        forests[i] = shards[i]->forest;
        if (shards[i]->has_series != shards[0]->has_series ||
            (shards[0]->has_series &&
             !series_spec_equal(&shards[i]->series, &shards[0]->series))) {
            fr_error_set(&err, "'%s' and '%s' were built from different "
                         "features", paths[0], paths[i]);
            goto out;
        }
    }
    merged = forest_merge(forests, n_paths, &err);
    if (merged == NULL)
        goto out;
    m = model_new(merged, shards[0]->has_series ? &shards[0]->series : NULL,
                  &err);
    if (m == NULL)
        goto out;
    f = m->forest;
    say(s, "merged %zu shards from %s into %u trees", n_paths, dir,
        f->n_trees);
    if (run_data_load(s, &d, &err) != 0)
        goto out;
    if (d.series_mode != m->has_series ||
        d.train.n_features != f->n_features ||
        (m->has_series && !series_spec_equal(&m->series, &d.spec))) {
        fr_error_set(&err, "the shards were trained on %u features (%s), "
                     "the data gives %zu (%s)", f->n_features,
                     m->has_series ? "series" : "tabular", d.train.n_features,
                     d.series_mode ? "series" : "tabular");
        goto out;
    }
    /* Same count is not enough: columns in another order would be scored
     * (and promoted) against the wrong features. */
    for (uint32_t i = 0; i < f->n_features; i++) {
        if (strcmp(f->feature_names[i], d.train.feature_names[i]) != 0) {
            fr_error_set(&err, "the shards' feature %u is '%s', the data's is "
                         "'%s'", i + 1, f->feature_names[i],
                         d.train.feature_names[i]);
            goto out;
        }
    }
    status = evaluate_and_publish(s, m, &d, &ev, 0);
    /* Only once the merged forest is a version: a refused MODEL_VERSION
     * (exit 2) stored nothing, and the shards can be merged again. */
    if ((status == EXIT_TRAINED || status == EXIT_NOT_PROMOTED) &&
        store_remove_tree(dir) == 0)
        say(s, "removed %s", dir);
    goto done;
out:
    fail(&err);
done:
    if (shards != NULL) {
        for (size_t i = 0; i < n_paths; i++)
            model_free(shards[i]);
    }
    free(shards);
    free(forests);
    store_paths_free(paths, n_paths);
    model_free(m);
    evaluation_release(&ev);
    run_data_release(&d);
    return status;
}

/* Points the pointer `to` at version, under the store's lock, after
 * checking the version's model loads (a rollback must not break the
 * servers that follow the pointer); with clear_candidate (the candidate
 * made current) also removes `candidate`. Returns an exit status. */
static int point(const struct train_settings *s, const char *to,
                 const char *version, int clear_candidate)
{
    struct fr_error err = {{0}};
    char path[PATH_MAX], previous[STORE_VERSION_MAX + 1] = "none";
    char candidate[STORE_VERSION_MAX + 1] = "";
    struct model *m = NULL;
    int lock = -1, status = EXIT_ERROR, found;

    /* Under the lock, so no trainer prunes the version between the check
     * and the switch, nor promotes meanwhile. */
    lock = store_lock(s->model_dir, &err);
    if (lock < 0)
        goto out;
    if (clear_candidate) {
        found = store_pointer(s->model_dir, STORE_CANDIDATE, candidate,
                              &err);
        if (found < 0)
            goto out;
        if (found == 0) {
            fprintf(stderr, "forest-train: error: promote without "
                    "MODEL_VERSION makes the candidate current, but '%s' "
                    "has no candidate (train with PROMOTE_TO=candidate, or "
                    "name a version with --model-version)\n", s->model_dir);
            status = EXIT_USAGE;
            goto done;
        }
        version = candidate;
    }
    if ((size_t)snprintf(path, sizeof path, "%s/versions/%s/model.bin",
                         s->model_dir, version) >= sizeof path) {
        fr_error_set(&err, "path too long under '%s'", s->model_dir);
        goto out;
    }
    m = store_model_load(path, NULL, &err);
    found = m == NULL ? -1 : store_pointer(s->model_dir, to, previous, &err);
    if (found < 0 || store_pointer_set(s->model_dir, to, version, &err) != 0)
        goto out;
    if (found == 0)
        snprintf(previous, sizeof previous, "none");
    if (strcmp(to, STORE_CURRENT) == 0)
        say(s, "promoted %s (was %s): %s/current -> versions/%s", version,
            previous, s->model_dir, version);
    else
        say(s, "made %s the candidate (was %s): %s/candidate -> "
            "versions/%s", version, previous, s->model_dir, version);
    /* `current` first: a server polling in between sees the version as
     * both current and candidate, never neither. */
    if (clear_candidate) {
        if (store_pointer_clear(s->model_dir, STORE_CANDIDATE, &err) < 0)
            goto out;
        say(s, "cleared the candidate: %s is current now", version);
    }
    status = EXIT_TRAINED;
    goto done;
out:
    fail(&err);
done:
    store_unlock(lock);
    model_free(m);
    return status;
}

int trainer_promote(const struct train_settings *s)
{
    const char *to = s->promote_to != NULL ? s->promote_to : STORE_CURRENT;

    if (s->model_version == NULL) {
        if (strcmp(to, STORE_CURRENT) != 0) {
            fprintf(stderr, "forest-train: error: promote with PROMOTE_TO="
                    "candidate needs MODEL_VERSION (--model-version), the "
                    "version to try\n");
            return EXIT_USAGE;
        }
        return point(s, STORE_CURRENT, NULL, 1);
    }
    if (!store_version_valid(s->model_version)) {
        fprintf(stderr, "forest-train: error: invalid MODEL_VERSION '%s': "
                "promote needs the name of a directory in "
                "MODEL_DIR/versions/\n", s->model_version);
        return EXIT_USAGE;
    }
    return point(s, to, s->model_version, 0);
}

int trainer_clear_candidate(const struct train_settings *s)
{
    struct fr_error err = {{0}};
    char version[STORE_VERSION_MAX + 1] = "";
    int lock, found = -1;

    lock = store_lock(s->model_dir, &err);
    if (lock >= 0)
        found = store_pointer(s->model_dir, STORE_CANDIDATE, version, &err);
    if (found > 0)
        found = store_pointer_clear(s->model_dir, STORE_CANDIDATE, &err);
    store_unlock(lock);
    if (found < 0) {
        fail(&err);
        return EXIT_ERROR;
    }
    /* Nothing to clear is no error: the command's outcome, no candidate,
     * holds either way (a retried Job must not fail). */
    if (found == 0)
        say(s, "no candidate in %s: nothing to clear", s->model_dir);
    else
        say(s, "cleared the candidate %s: %s/candidate removed, %s stays "
            "in versions/", version, s->model_dir, version);
    return EXIT_TRAINED;
}

/* Reads versions/<v>/<name> of dir (a file or an object). */
static int read_version_file(const char *dir, const char *v,
                             const char *name, size_t max, uint8_t **buf,
                             size_t *len, struct fr_error *err)
{
    char path[PATH_MAX];

    if ((size_t)snprintf(path, sizeof path, "%s/versions/%s/%s", dir, v,
                         name) >= sizeof path) {
        fr_error_set(err, "path too long under '%s'", dir);
        return -1;
    }
    return store_read(path, max, buf, len, err) == 0 ? 0 : -1;
}

/* Checks metadata.json's "checksum" is the model's, as the server will. */
static int check_checksum(const char *dir, const char *v, const uint8_t *meta,
                          size_t meta_len, uint32_t crc, struct fr_error *err)
{
    cJSON *doc = cJSON_ParseWithLength((const char *)meta, meta_len);
    const cJSON *sum = cJSON_GetObjectItemCaseSensitive(doc, "checksum");
    char want[24];
    int rc = 0;

    snprintf(want, sizeof want, "crc32:%08x", (unsigned)crc);
    if (!cJSON_IsString(sum) || strcmp(sum->valuestring, want) != 0) {
        fr_error_set(err, "'%s/versions/%s': metadata.json's checksum is "
                     "not model.bin's %s", dir, v, want);
        rc = -1;
    }
    cJSON_Delete(doc);
    return rc;
}

/* Copies one version: read and verify, stage, commit, read back. Returns
 * 1 when copied, 0 when the destination already has it (same model.bin),
 * -1 with err set. */
static int copy_version(const char *from, const char *to, const char *v,
                        struct fr_error *err)
{
    static const char *const files[] = {"model.bin", "metadata.json",
                                        "report.svg"};
    uint8_t *data[3] = {NULL, NULL, NULL}, *there = NULL;
    size_t len[3] = {0, 0, 0}, there_len = 0;
    char path[PATH_MAX];
    struct store_stage st;
    struct model *m = NULL;
    uint32_t crc = 0, crc_back = 0;
    int rc = -1, lock = -1;

    memset(&st, 0, sizeof st);
    for (int i = 0; i < 3; i++) {
        if (read_version_file(from, v, files[i], MODEL_MAX_BYTES, &data[i],
                              &len[i], err) != 0)
            goto out;
    }
    m = model_decode(data[0], len[0], &crc, err);
    if (m == NULL) {
        fr_error_prefix(err, "cannot load model '%s/versions/%s/model.bin'",
                        from, v);
        goto out;
    }
    model_free(m);
    m = NULL;
    if (check_checksum(from, v, data[1], len[1], crc, err) != 0)
        goto out;
    if (store_stage_begin(to, v, &st, err) != 0)
        goto out;
    for (int i = 0; i < 3; i++) {
        if (store_stage_file(&st, files[i], path, sizeof path, err) != 0 ||
            file_write_atomic(path, data[i], len[i], err) != 0)
            goto out;
    }
    lock = store_lock(to, err);
    if (lock < 0)
        goto out;
    if (store_stage_name(&st, time(NULL), err) != 0) {
        /* Taken: the same model is a copy made before, anything else is
         * a conflict to resolve by hand. */
        struct fr_error why = {{0}};
        if (read_version_file(to, v, "model.bin", MODEL_MAX_BYTES, &there,
                              &there_len, &why) == 0 &&
            there_len == len[0] && memcmp(there, data[0], len[0]) == 0)
            rc = 0;
        goto out;
    }
    if (store_stage_commit(&st, err) != 0)
        goto out;
    if (read_version_file(to, v, "model.bin", MODEL_MAX_BYTES, &there,
                          &there_len, err) != 0)
        goto out;
    m = model_decode(there, there_len, &crc_back, err);
    if (m == NULL || crc_back != crc) {
        fr_error_set(err, "'%s/versions/%s/model.bin' read back does not "
                     "match the source (crc32 %08x, %08x)", to, v,
                     (unsigned)crc_back, (unsigned)crc);
        goto out;
    }
    rc = 1;
out:
    store_unlock(lock);
    store_stage_abort(&st);
    model_free(m);
    free(there);
    for (int i = 0; i < 3; i++)
        free(data[i]);
    return rc;
}

int trainer_copy_store(const struct train_settings *s)
{
    struct fr_error err = {{0}};
    char current[STORE_VERSION_MAX + 1] = "";
    char candidate[STORE_VERSION_MAX + 1] = "";
    char **names = NULL;
    size_t n = 0, copied = 0, skipped = 0;
    int have_current, have_candidate, status = EXIT_ERROR;

    if (s->copy_to == NULL || s->copy_to[0] == '\0') {
        fprintf(stderr, "forest-train: error: copy-store needs COPY_TO "
                "(--copy-to), the store to copy MODEL_DIR into\n");
        return EXIT_USAGE;
    }
    if (strcmp(s->copy_to, s->model_dir) == 0) {
        fprintf(stderr, "forest-train: error: COPY_TO '%s' is MODEL_DIR\n",
                s->copy_to);
        return EXIT_USAGE;
    }
    if (store_check_dir(s->model_dir, &err) != 0) {
        fr_error_prefix(&err, "MODEL_DIR");
        goto out;
    }
    if (store_check_dir(s->copy_to, &err) != 0) {
        fr_error_prefix(&err, "COPY_TO");
        goto out;
    }
    have_current = store_current(s->model_dir, current, &err);
    if (have_current < 0 ||
        store_versions(s->model_dir, &names, &n, &err) != 0)
        goto out;
    for (size_t i = 0; i < n; i++) {
        int rc = copy_version(s->model_dir, s->copy_to, names[i], &err);
        if (rc < 0)
            goto out;
        if (rc == 0) {
            say(s, "%s is already in %s (the same model.bin)", names[i],
                s->copy_to);
            skipped++;
        } else {
            say(s, "copied %s to %s (model.bin verified)", names[i],
                s->copy_to);
            copied++;
        }
    }
    if (have_current) {
        if (store_promote(s->copy_to, current, &err) != 0)
            goto out;
        say(s, "promoted %s: %s/current -> versions/%s", current, s->copy_to,
            current);
    }
    have_candidate = store_pointer(s->model_dir, STORE_CANDIDATE, candidate,
                                   &err);
    if (have_candidate < 0 ||
        (have_candidate && store_pointer_set(s->copy_to, STORE_CANDIDATE,
                                             candidate, &err) != 0))
        goto out;
    if (have_candidate)
        say(s, "made %s the candidate: %s/candidate -> versions/%s",
            candidate, s->copy_to, candidate);
    say(s, "copied %zu version%s, %zu already there", copied,
        copied == 1 ? "" : "s", skipped);
    status = EXIT_TRAINED;
    goto done;
out:
    fail(&err);
done:
    store_paths_free(names, n);
    return status;
}

/* How messages name the output of synth and table: 'path', or standard
 * output for "-". Returns buf or a constant string. */
static const char *describe_out(const char *out, char *buf, size_t size)
{
    if (strcmp(out, "-") == 0)
        return "standard output";
    snprintf(buf, size, "'%s'", out);
    return buf;
}

int trainer_synth(const struct train_settings *s)
{
    char where[PATH_MAX + 2];
    struct series_data raw;
    struct fr_error err = {{0}};
    int rc;

    if (check_synth_size(s, &err) != 0) {
        fail(&err);
        return EXIT_USAGE;
    }
    if (synth_load(s, &raw, &err) != 0) {
        fail(&err);
        return EXIT_ERROR;
    }
    rc = series_data_write_csv(&raw, s->out, s->target_column, &err);
    if (rc == 0)
        say(s, "wrote %zu records of %zu series to %s", raw.n, raw.n_series,
            describe_out(s->out, where, sizeof where));
    else
        fail(&err);
    series_data_release(&raw);
    return rc == 0 ? EXIT_TRAINED : EXIT_ERROR;
}

int trainer_table(const struct train_settings *s)
{
    char where[PATH_MAX + 2];
    struct dataset table = {0};
    struct series_spec spec;
    struct fr_error err = {{0}};
    int series_mode = 0, rc;

    if (check_settings(s, 0, &err) != 0) {
        fail(&err);
        return EXIT_USAGE;
    }
    if (load_table(s, &table, &spec, &series_mode, NULL, &err) != 0) {
        fail(&err);
        return EXIT_ERROR;
    }
    rc = tabular_write_csv(&table, s->out, s->target_column, &err);
    if (rc == 0)
        say(s, "wrote %zu rows x %zu features to %s", table.n_rows,
            table.n_features, describe_out(s->out, where, sizeof where));
    else
        fail(&err);
    dataset_release(&table);
    if (series_mode)
        series_spec_release(&spec);
    return rc == 0 ? EXIT_TRAINED : EXIT_ERROR;
}
