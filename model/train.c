/*
 * train.c: the training pipeline of forest-train (see trainer.h).
 *
 *   data (CSV or synthetic) -> feature table -> time-ordered split
 *   -> forest (or one shard of it) -> evaluation against a baseline
 *   -> staged version -> reload and verify -> commit -> gate -> promote
 *
 * Nothing under MODEL_DIR changes until a version is fully written and
 * verified; `current` changes only by an atomic rename, under a lock.
 */
#include <errno.h>
#include <glob.h>
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

__attribute__((constructor)) static void mark_start(void)
{
    program_start = monotonic_seconds();
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
 * mode *spec is set and *series_mode is 1. Returns 0 or -1 with err set. */
static int load_table(const struct train_settings *s, struct dataset *table,
                      struct series_spec *spec, int *series_mode,
                      struct fr_error *err)
{
    struct series_data raw;
    int rc = -1;

    memset(spec, 0, sizeof *spec);
    *series_mode = s->data_path == NULL || strcmp(s->data_mode, "series") == 0;
    if (!*series_mode) {
        if (tabular_read_csv(s->data_path, s->target_column, table, err) != 0)
            return -1;
        say(s, "read %zu rows x %zu features from '%s'", table->n_rows,
            table->n_features, s->data_path);
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
            raw.n_series, s->data_path);
    }
    if (series_spec_init(spec, raw.n_covariates,
                         (const char *const *)raw.covariate_names, err) != 0)
        goto out;
    if (series_build(&raw, spec, table, err) != 0)
        goto out;
    say(s, "built %zu rows x %zu features (rows need %u days of history)",
        table->n_rows, table->n_features, series_history(spec));
    rc = 0;
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
    struct dataset train, test;
    struct series_spec spec; /* valid in series mode */
    int series_mode;
    struct data_origin origin;
};

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

/* Loads the data, builds the features and splits them. Returns 0 or -1
 * with err set; on failure d holds nothing. */
static int run_data_load(const struct train_settings *s, struct run_data *d,
                         struct fr_error *err)
{
    struct dataset table = {0};
    int rc;

    memset(d, 0, sizeof *d);
    if (load_table(s, &table, &d->spec, &d->series_mode, err) != 0)
        return -1;
    /* After the parse, so a file that cannot be read is reported with the
     * parser's line and column; the checksum is of the bytes just read. */
    if (data_origin_read(s, &d->origin, err) != 0) {
        dataset_release(&table);
        if (d->series_mode)
            series_spec_release(&d->spec);
        return -1;
    }
    rc = dataset_split(&table, s->test_fraction, &d->train, &d->test, err);
    if (rc != 0)
        fr_error_prefix(err, "TEST_FRACTION");
    dataset_release(&table);
    if (rc != 0) {
        if (d->series_mode)
            series_spec_release(&d->spec);
        return -1;
    }
    say(s, "split by time: %zu training rows, %zu test rows "
        "(TEST_FRACTION %g)", d->train.n_rows, d->test.n_rows,
        s->test_fraction);
    return 0;
}

static void run_data_release(struct run_data *d)
{
    dataset_release(&d->train);
    dataset_release(&d->test);
    if (d->series_mode)
        series_spec_release(&d->spec);
}

/* ---- evaluation ------------------------------------------------------ */

static long peak_rss_kb(void)
{
    struct rusage ru;

    return getrusage(RUSAGE_SELF, &ru) == 0 ? ru.ru_maxrss : -1;
}

static int evaluate(const struct train_settings *s, const struct forest *f,
                    const struct dataset *train, const struct dataset *test,
                    struct evaluation *ev, struct fr_error *err)
{
    double *base = malloc(test->n_rows * sizeof *base);

    ev->predicted = malloc(test->n_rows * sizeof *ev->predicted);
    if (base == NULL || ev->predicted == NULL) {
        free(base);
        fr_error_set(err, "out of memory evaluating %zu rows", test->n_rows);
        return -1;
    }
    forest_predict(f, test->X, test->n_rows, s->n_threads, ev->predicted);
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
static int verify_staged(const char *path, const struct forest *f,
                         const struct dataset *test, uint32_t crc,
                         struct fr_error *err)
{
    uint32_t crc_read = 0;
    struct model *back = model_load(path, &crc_read, err);
    size_t n = test->n_rows < 1000 ? test->n_rows : 1000;
    int rc = 0;

    if (back == NULL)
        return -1;
    if (crc_read != crc) {
        fr_error_set(err, "'%s' changed on disk after writing", path);
        rc = -1;
    }
    for (size_t i = 0; i < n && rc == 0; i++) {
        const float *row = test->X + i * test->n_features;
        if (forest_predict_row(back->forest, row) !=
            forest_predict_row(f, row)) {
            fr_error_set(err, "'%s' predicts test row %zu differently after "
                         "reloading", path, i);
            rc = -1;
        }
    }
    model_free(back);
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

/* Writes and verifies the model, then, under the store's lock, names the
 * version, writes its metadata and report (they hold the name), commits it,
 * runs the promotion gate and prunes. Returns an exit status: a MODEL_VERSION
 * another trainer took meanwhile is EXIT_USAGE, as it would have been had
 * that trainer finished before this one started. */
static int publish(const struct train_settings *s, const struct model *m,
                   const struct dataset *test, struct evaluation *ev,
                   int series_mode, const struct data_origin *origin)
{
    const struct forest *f = m->forest;
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
        verify_staged(path, f, test, crc, &err) != 0)
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
    iso_now(created, sizeof created);
    info.settings = s;
    info.version = st.version;
    info.created_at = created;
    info.data_source = s->data_path ? s->data_path : "synthetic";
    info.origin = origin;
    info.series_mode = series_mode;
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

    have_current = store_current(s->model_dir, current, &err);
    if (have_current < 0)
        goto out;
    if (have_current) {
        double cur_rmse;
        if (store_version_rmse(s->model_dir, current, &cur_rmse, &err) != 0) {
            say(s, "warning: the current version's metrics are unreadable "
                "(%s); promoting the new one", err.msg);
        } else if (ev->model.rmse >
                   cur_rmse * (1.0 + s->promote_max_regression)) {
            /* Said even with QUIET: it explains the exit status. */
            fprintf(stderr, "forest-train: not promoted: test RMSE %.4f is "
                    "%.1f%% worse than current version %s's %.4f "
                    "(PROMOTE_MAX_REGRESSION %g); %s is kept in versions/ and "
                    "current still points at %s\n", ev->model.rmse,
                    100.0 * (ev->model.rmse / cur_rmse - 1.0), current,
                    cur_rmse, s->promote_max_regression, st.version, current);
            status = EXIT_NOT_PROMOTED;
        } else {
            say(s, "gate passed: test RMSE %.4f vs current %s's %.4f",
                ev->model.rmse, current, cur_rmse);
        }
    }
    if (status != EXIT_NOT_PROMOTED) {
        if (store_promote(s->model_dir, st.version, &err) != 0)
            goto out;
        say(s, "promoted %s: %s/current -> versions/%s", st.version,
            s->model_dir, st.version);
        status = EXIT_TRAINED;
    }
    n = store_prune(s->model_dir, (unsigned)s->keep_versions, st.version,
                    &err);
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

/* Adds to the model what the evaluation learned: the feature profile of
 * the training rows (for drift) and a horizon-1 split-conformal
 * calibration from the test rows' absolute errors, which the model never
 * learned. Returns 0 or -1 with err set. */
static int complete_model(struct model *m, const struct run_data *d,
                          const struct evaluation *ev, struct fr_error *err)
{
    double *scores = malloc(d->test.n_rows * sizeof *scores);
    uint32_t count = (uint32_t)d->test.n_rows;
    int rc = -1;

    if (scores == NULL || d->test.n_rows > UINT32_MAX) {
        fr_error_set(err, "out of memory calibrating %zu rows",
                     d->test.n_rows);
        goto out;
    }
    for (size_t i = 0; i < d->test.n_rows; i++)
        scores[i] = fabs(d->test.y[i] - ev->predicted[i]);
    if (profile_build(&m->profile, &d->train, PROFILE_BINS, err) != 0 ||
        calibration_build(&m->calibration, CALIBRATION_ABSOLUTE, 1, &count,
                          scores, err) != 0)
        goto out;
    rc = 0;
out:
    free(scores);
    return rc;
}

/* Scores f on the test split, prints the comparison with the baseline and
 * publishes the version. Returns an exit status. */
static int evaluate_and_publish(const struct train_settings *s,
                                struct model *m, const struct run_data *d,
                                struct evaluation *ev)
{
    struct fr_error err = {{0}};
    int status;

    if (evaluate(s, m->forest, &d->train, &d->test, ev, &err) != 0 ||
        complete_model(m, d, ev, &err) != 0) {
        fail(&err);
        return EXIT_ERROR;
    }
    print_metrics(s, ev);
    status = publish(s, m, &d->test, ev, d->series_mode, &d->origin);
    say(s, "done in %.2fs, peak memory %.1f MiB",
        monotonic_seconds() - program_start, peak_rss_kb() / 1024.0);
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
        shard_dir(s, dir, sizeof dir, &err) != 0 || mkdir_p(dir, &err) != 0)
        goto out;
    snprintf(path, sizeof path, "%s/shard-%llu-of-%llu.bin", dir,
             s->shard_index, s->shard_count);
    if (file_write_atomic(path, buf, len, &err) != 0)
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
    struct progress prog = {0};
    struct fr_error err = {{0}};
    struct forest *f = NULL;
    struct model *m = NULL;
    int status = EXIT_ERROR;
    double t0;

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
    say(s, "training %u of %u trees (depth %u, min_samples_leaf %u, "
        "max_features %g, %u bins, SEED %llu)",
        (params.n_trees - params.shard_index + params.shard_count - 1) /
            params.shard_count,
        params.n_trees, params.max_depth, params.min_samples_leaf,
        params.max_features, params.max_bins, s->seed);
    prog.start = prog.last = t0 = monotonic_seconds();
    prog.tty = isatty(STDERR_FILENO);
    prog.quiet = s->quiet;
    f = forest_train(&d.train, &params, on_progress, &prog, &err);
    if (f == NULL)
        goto out;
    ev.train_seconds = monotonic_seconds() - t0;
    say(s, "grew %u trees in %.2fs", f->n_trees, ev.train_seconds);
    if (s->oob_score && !isnan(f->oob_rmse))
        say(s, "out-of-bag RMSE %.4f over %zu rows", f->oob_rmse, f->oob_rows);
    m = model_new(f, d.series_mode ? &d.spec : NULL, &err);
    if (m == NULL)
        goto out;
    if (s->shard_count > 1)
        status = write_shard(s, m);
    else
        status = evaluate_and_publish(s, m, &d, &ev);
    goto done;
out:
    fail(&err);
done:
    model_free(m);
    free(ev.predicted);
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
    char dir[PATH_MAX], pattern[PATH_MAX + 32];
    glob_t g = {0};
    int status = EXIT_ERROR, globbed = 0;

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
    snprintf(pattern, sizeof pattern, "%s/shard-*-of-%llu.bin", dir,
             s->shard_count);
    if (glob(pattern, 0, NULL, &g) != 0) {
        fr_error_set(&err, "no shards of SHARD_COUNT %llu in '%s'",
                     s->shard_count, dir);
        goto out;
    }
    globbed = 1;
    shards = calloc(g.gl_pathc, sizeof *shards);
    forests = calloc(g.gl_pathc, sizeof *forests);
    if (shards == NULL || forests == NULL) {
        fr_error_set(&err, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < g.gl_pathc; i++) {
        shards[i] = model_load(g.gl_pathv[i], NULL, &err);
        if (shards[i] == NULL)
            goto out;
        forests[i] = shards[i]->forest;
        if (shards[i]->has_series != shards[0]->has_series ||
            (shards[0]->has_series &&
             !series_spec_equal(&shards[i]->series, &shards[0]->series))) {
            fr_error_set(&err, "'%s' and '%s' were built from different "
                         "features", g.gl_pathv[0], g.gl_pathv[i]);
            goto out;
        }
    }
    merged = forest_merge(forests, g.gl_pathc, &err);
    if (merged == NULL)
        goto out;
    m = model_new(merged, shards[0]->has_series ? &shards[0]->series : NULL,
                  &err);
    if (m == NULL)
        goto out;
    f = m->forest;
    say(s, "merged %zu shards from %s into %u trees", g.gl_pathc, dir,
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
    status = evaluate_and_publish(s, m, &d, &ev);
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
        for (size_t i = 0; i < g.gl_pathc; i++)
            model_free(shards[i]);
    }
    free(shards);
    free(forests);
    if (globbed)
        globfree(&g);
    model_free(m);
    free(ev.predicted);
    run_data_release(&d);
    return status;
}

int trainer_promote(const struct train_settings *s)
{
    struct fr_error err = {{0}};
    char path[PATH_MAX], previous[STORE_VERSION_MAX + 1] = "none";
    struct model *m = NULL;
    int lock = -1, status = EXIT_ERROR;

    if (s->model_version == NULL || !store_version_valid(s->model_version)) {
        fprintf(stderr, "forest-train: error: promote needs MODEL_VERSION "
                "(--model-version), the name of a directory in "
                "MODEL_DIR/versions/\n");
        return EXIT_USAGE;
    }
    if ((size_t)snprintf(path, sizeof path, "%s/versions/%s/model.bin",
                         s->model_dir, s->model_version) >= sizeof path) {
        fr_error_set(&err, "path too long under '%s'", s->model_dir);
        goto out;
    }
    /* Only a model that loads is ever pointed at: a rollback must not
     * break the servers that follow `current`. Under the lock, so no
     * trainer prunes the version between the check and the switch. */
    lock = store_lock(s->model_dir, &err);
    if (lock < 0)
        goto out;
    m = model_load(path, NULL, &err);
    if (m == NULL || store_current(s->model_dir, previous, &err) < 0 ||
        store_promote(s->model_dir, s->model_version, &err) != 0)
        goto out;
    say(s, "promoted %s (was %s): %s/current -> versions/%s",
        s->model_version, previous, s->model_dir, s->model_version);
    status = EXIT_TRAINED;
    goto done;
out:
    fail(&err);
done:
    store_unlock(lock);
    model_free(m);
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
    if (load_table(s, &table, &spec, &series_mode, &err) != 0) {
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
