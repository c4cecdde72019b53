/*
 * registry.c: the served model, its reference count and the reload
 * watcher (see registry.h).
 *
 * The current pointer is guarded by a mutex rather than published with
 * atomics: taking a reference must read the pointer and increment its count
 * as one step, or a swap between the two could free the model first. The
 * lock is held for two instructions, so it costs an uncontended lock per
 * request. Loading (file read, decode, checks, metadata) happens entirely
 * in the watcher thread before the lock is taken for the swap.
 */
#include "registry.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "log.h"
#include "file.h"
#include "model.h"
#include "monotonic.h"
#include "store.h"

static double now_unix(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ---- the model ------------------------------------------------------- */

int serving_verify(const struct forest *f, struct fr_error *err)
{
    float *zero = NULL;
    double p;
    int rc = -1;

    if (f->n_features < 1 || f->n_trees < 1) {
        fr_error_set(err, "the model has %u features and %u trees",
                     f->n_features, f->n_trees);
        return -1;
    }
    /* Non-finite node values are model_decode()'s to refuse; one
     * prediction is the last check on the path every answer takes. */
    zero = calloc(f->n_features, sizeof *zero);
    if (zero == NULL) {
        fr_error_set(err, "out of memory verifying the model");
        return -1;
    }
    p = forest_predict_row(f, zero);
    if (!isfinite(p)) {
        fr_error_set(err, "a test prediction is not finite");
        goto out;
    }
    rc = 0;
out:
    free(zero);
    return rc;
}

/* A metadata.json-like description for a model file that came without
 * one (MODEL_PATH pointing at a lone model.bin). */
static char *describe(const struct model *mod, const char *version,
                      const char *checksum, const char *source)
{
    const struct forest *f = mod->forest;
    cJSON *root = cJSON_CreateObject();
    char *text = NULL;

    if (root == NULL)
        return NULL;
    if (cJSON_AddStringToObject(root, "version", version) &&
        cJSON_AddStringToObject(root, "checksum", checksum) &&
        cJSON_AddStringToObject(root, "source", source) &&
        cJSON_AddNumberToObject(root, "trees", f->n_trees) &&
        model_describe(mod, root) == 0 &&
        (!isfinite(f->oob_rmse) ||
         cJSON_AddNumberToObject(root, "oob_rmse", f->oob_rmse)))
        text = cJSON_Print(root);
    cJSON_Delete(root);
    return text;
}

struct serving *serving_new(struct model *mod, const char *version, uint32_t crc,
                        const char *source, const char *metadata,
                        size_t metadata_len, struct fr_error *err)
{
    struct serving *m = NULL;

    /* The one-row answers walk a forest-wide copy of the nodes; made
     * before the check below, so the check goes the way they go. */
    if (forest_prepare_walk(mod->forest) != 0)
        goto nomem;
    if (serving_verify(mod->forest, err) != 0)
        goto fail;
    if (strlen(version) > STORE_VERSION_MAX) {
        fr_error_set(err, "version name '%.40s...' is too long", version);
        goto fail;
    }
    m = calloc(1, sizeof *m);
    if (m == NULL)
        goto nomem;
    m->model = mod;
    mod = NULL;
    snprintf(m->version, sizeof m->version, "%s", version);
    snprintf(m->checksum, sizeof m->checksum, "crc32:%08x", (unsigned)crc);
    m->crc = crc;
    m->source = strdup(source);
    if (m->source == NULL)
        goto nomem;
    if (metadata != NULL) {
        m->metadata = malloc(metadata_len + 1);
        if (m->metadata == NULL)
            goto nomem;
        memcpy(m->metadata, metadata, metadata_len);
        m->metadata[metadata_len] = '\0';
        m->metadata_len = metadata_len;
    } else {
        /* cJSON_Print allocates with malloc (default hooks): free() is
         * the right release. */
        m->metadata = describe(m->model, m->version, m->checksum, source);
        if (m->metadata == NULL)
            goto nomem;
        m->metadata_len = strlen(m->metadata);
    }
    m->loaded_at = now_unix();
    atomic_init(&m->refs, 1);
    atomic_init(&m->shadow_rows, 0);
    atomic_init(&m->shadow_abs_diff_bits, 0); /* the bits of 0.0 */
    return m;
nomem:
    fr_error_set(err, "out of memory preparing the model");
fail:
    if (m != NULL) {
        atomic_init(&m->refs, 1);
        serving_release(m);
    }
    model_free(mod);
    return NULL;
}

void serving_release(struct serving *m)
{
    if (m == NULL)
        return;
    if (atomic_fetch_sub_explicit(&m->refs, 1, memory_order_acq_rel) != 1)
        return;
    model_free(m->model);
    free(m->source);
    free(m->metadata);
    free(m->report);
    free(m);
}

/* ---- loading ------------------------------------------------------------ */

/* Reads metadata.json when it exists (a file or an s3:// object). Returns
 * 1 with *text set (the caller frees it), 0 when there is none, -1 with
 * err set. */
static int read_metadata(const char *path, char **text, size_t *len,
                         struct fr_error *err)
{
    struct stat st;
    uint8_t *buf;
    int rc;

    *text = NULL;
    *len = 0;
    if (store_is_s3(path)) {
        rc = store_read(path, MODEL_METADATA_MAX, &buf, len, err);
        if (rc != 0)
            return rc > 0 ? 0 : -1;
        *text = (char *)buf;
        return 1;
    }
    if (stat(path, &st) != 0 && errno == ENOENT)
        return 0;
    if (file_read_all(path, MODEL_METADATA_MAX, &buf, len, err) != 0)
        return -1;
    *text = (char *)buf;
    return 1;
}

/* Reads report.svg, the trainer's chart, from beside metadata.json
 * (meta_path) into m for the status page. The chart is optional: a
 * missing, unreadable or too large one leaves m->report NULL and the page
 * says there is no chart; it never refuses the model. */
static void read_report(const char *meta_path, struct serving *m)
{
    static const char META[] = "metadata.json";
    size_t n = strlen(meta_path), dir_len;
    struct fr_error err = {{0}};
    char path[PATH_MAX];
    uint8_t *buf = NULL;
    size_t len = 0;

    if (n < sizeof META - 1 || strcmp(meta_path + n - (sizeof META - 1),
                                      META) != 0)
        return;
    dir_len = n - (sizeof META - 1);
    if (snprintf(path, sizeof path, "%.*sreport.svg", (int)dir_len,
                 meta_path) >= (int)sizeof path)
        return;
    if (store_read(path, MODEL_REPORT_MAX, &buf, &len, &err) != 0)
        return;
    m->report = (char *)buf;
    m->report_len = len;
}

/* Checks that metadata.json describes this model.bin: a version directory
 * whose two files disagree is half-written or tampered with, and one whose
 * metadata names no checksum cannot be told apart from that, so its
 * "checksum" must be a string equal to the model's ("crc32:xxxxxxxx", as
 * forest-train writes it). Copies the metadata's "version" into
 * version_out when version_out is not NULL and it has one. Returns 0, or
 * -1 with err set. */
static int check_metadata(const char *text, size_t len, uint32_t crc,
                          char *version_out, size_t version_len,
                          struct fr_error *err)
{
    cJSON *root = cJSON_ParseWithLength(text, len);
    const cJSON *sum, *v;
    char want[24];
    int rc = -1;

    if (!cJSON_IsObject(root)) {
        fr_error_set(err, "metadata.json is not a JSON object");
        goto out;
    }
    snprintf(want, sizeof want, "crc32:%08x", (unsigned)crc);
    sum = cJSON_GetObjectItemCaseSensitive(root, "checksum");
    if (!cJSON_IsString(sum)) {
        fr_error_set(err, "metadata.json has no string \"checksum\" (the "
                     "model.bin has '%s'), so it cannot be checked against "
                     "the model", want);
        goto out;
    }
    if (strcmp(sum->valuestring, want) != 0) {
        fr_error_set(err, "metadata.json says checksum '%.40s' but "
                     "model.bin has '%s'", sum->valuestring, want);
        goto out;
    }
    v = cJSON_GetObjectItemCaseSensitive(root, "version");
    if (version_out != NULL && cJSON_IsString(v) &&
        store_version_valid(v->valuestring))
        snprintf(version_out, version_len, "%s", v->valuestring);
    rc = 0;
out:
    cJSON_Delete(root);
    return rc;
}

/* Loads model.bin at path with the metadata.json at meta_path (optional),
 * files or s3:// objects. version may be NULL: the metadata's version,
 * else the checksum, names the model. Returns the model or NULL with err
 * set, and *transient 1 when the store failed to answer rather than the
 * model being wrong (S3 only: worth retrying), else 0. */
static struct serving *load(const char *path, const char *meta_path,
                          const char *version, int *transient,
                          struct fr_error *err)
{
    double t0 = monotonic_seconds();
    struct model *mod = NULL;
    struct serving *m = NULL;
    uint8_t *bin = NULL;
    char *meta = NULL;
    size_t bin_len, meta_len = 0;
    char name[STORE_VERSION_MAX + 1] = "";
    uint32_t crc = 0;
    int rc;

    *transient = 0;
    if (store_is_s3(path)) {
        rc = store_read(path, MODEL_MAX_BYTES, &bin, &bin_len, err);
        *transient = rc < 0;
        if (rc != 0)
            goto out;
    } else if (file_read_all(path, MODEL_MAX_BYTES, &bin, &bin_len,
                             err) != 0) {
        goto out;
    }
    mod = model_decode(bin, bin_len, &crc, err);
    if (mod == NULL) {
        fr_error_prefix(err, "cannot load model '%s'", path);
        goto out;
    }
    if (read_metadata(meta_path, &meta, &meta_len, err) < 0) {
        *transient = store_is_s3(meta_path);
        goto out;
    }
    if (meta != NULL && check_metadata(meta, meta_len, crc, name,
                                       sizeof name, err) != 0) {
        fr_error_prefix(err, "'%s'", meta_path);
        goto out;
    }
    if (version != NULL)
        snprintf(name, sizeof name, "%s", version);
    else if (name[0] == '\0')
        snprintf(name, sizeof name, "%08x", (unsigned)crc);
    m = serving_new(mod, name, crc, path, meta, meta_len, err);
    mod = NULL;
    if (m == NULL) {
        fr_error_prefix(err, "model '%s' refused", path);
        goto out;
    }
    read_report(meta_path, m);
    m->load_seconds = monotonic_seconds() - t0;
out:
    model_free(mod);
    free(bin);
    free(meta);
    return m;
}

/* ---- the registry -------------------------------------------------------- */

/* The pointer this registry follows. */
static const char *pointer(const struct registry *r)
{
    return r->cfg.pointer != NULL ? r->cfg.pointer : STORE_CURRENT;
}

static int is_candidate(const struct registry *r)
{
    return strcmp(pointer(r), STORE_CANDIDATE) == 0;
}

int registry_init(struct registry *r, const struct registry_config *cfg,
                  struct fr_error *err)
{
    pthread_condattr_t ca;
    int have_attr = 0, have_cond = 0, have_lock = 0, rc = -1;

    memset(r, 0, sizeof *r);
    r->cfg = *cfg;
    if (cfg->model_path == NULL && cfg->model_dir == NULL) {
        fr_error_set(err, "neither MODEL_DIR nor MODEL_PATH is set");
        return -1;
    }
    if (cfg->pointer != NULL && !store_pointer_valid(cfg->pointer)) {
        fr_error_set(err, "unknown store pointer '%.40s'", cfg->pointer);
        return -1;
    }
    if (is_candidate(r) && cfg->model_path != NULL) {
        fr_error_set(err, "a candidate comes from MODEL_DIR's `candidate`, "
                     "not from MODEL_PATH");
        return -1;
    }
    atomic_init(&r->loads_ok, 0);
    atomic_init(&r->loads_failed, 0);
    atomic_init(&r->store_errors, 0);
    /* The watcher sleeps on a monotonic clock so a wall-clock jump cannot
     * stall reloads. */
    have_attr = pthread_condattr_init(&ca) == 0;
    if (!have_attr || pthread_condattr_setclock(&ca, CLOCK_MONOTONIC) != 0)
        goto fail;
    have_cond = pthread_cond_init(&r->wake, &ca) == 0;
    if (!have_cond)
        goto fail;
    have_lock = pthread_mutex_init(&r->lock, NULL) == 0;
    if (!have_lock || pthread_mutex_init(&r->wake_lock, NULL) != 0)
        goto fail;
    rc = 0;
    goto out;
fail:
    fr_error_set(err, "cannot create the watcher's locks and condition "
                 "variable");
    if (have_lock)
        pthread_mutex_destroy(&r->lock);
    if (have_cond)
        pthread_cond_destroy(&r->wake);
out:
    if (have_attr)
        pthread_condattr_destroy(&ca);
    return rc;
}

struct serving *registry_acquire(struct registry *r)
{
    struct serving *m;

    pthread_mutex_lock(&r->lock);
    m = r->current;
    if (m != NULL)
        atomic_fetch_add_explicit(&m->refs, 1, memory_order_relaxed);
    pthread_mutex_unlock(&r->lock);
    return m;
}

void registry_current_named(struct registry *r, char *out, size_t len)
{
    pthread_mutex_lock(&r->lock);
    snprintf(out, len, "%s", r->current_named);
    pthread_mutex_unlock(&r->lock);
}

/* Records what `current` names now ("" when it is absent): the watcher
 * writes, /metrics reads, so under the lock. */
static void note_current(struct registry *r, const char *version)
{
    pthread_mutex_lock(&r->lock);
    snprintf(r->current_named, sizeof r->current_named, "%s", version);
    pthread_mutex_unlock(&r->lock);
}

void registry_install(struct registry *r, struct serving *m)
{
    struct serving *old;

    pthread_mutex_lock(&r->lock);
    old = r->current;
    r->current = m;
    pthread_mutex_unlock(&r->lock);
    /* Requests still holding the old model keep it alive; the last one
     * to finish frees it. */
    serving_release(old);
}

/* Where the model comes from now. Returns 1 with ident (what identifies
 * this source) and the paths filled, 0 when there is nothing to load, -1
 * when the source is unusable (err set; ident still identifies it). */
static int source(struct registry *r, char *ident, size_t ident_len,
                  char *path, char *meta_path, char *version,
                  struct fr_error *err)
{
    if (r->cfg.model_path != NULL) {
        const char *mp = r->cfg.model_path, *slash = strrchr(mp, '/');
        /* metadata.json beside the file: "m.bin" -> "metadata.json",
         * "/m.bin" -> "/metadata.json", "a/m.bin" -> "a/metadata.json". */
        int dir_len = slash == NULL ? 0 : (int)(slash - mp) + 1;
        struct stat st;

        if (stat(mp, &st) != 0)
            return 0;
        snprintf(ident, ident_len, "file:%llu:%llu:%lld:%lld.%09ld",
                 (unsigned long long)st.st_dev, (unsigned long long)st.st_ino,
                 (long long)st.st_size, (long long)st.st_mtim.tv_sec,
                 st.st_mtim.tv_nsec);
        if (snprintf(path, PATH_MAX, "%s", mp) >= PATH_MAX ||
            snprintf(meta_path, PATH_MAX, "%.*smetadata.json", dir_len, mp) >=
                PATH_MAX) {
            fr_error_set(err, "MODEL_PATH is too long");
            return -1;
        }
        version[0] = '\0';
        return 1;
    }
    switch (store_pointer(r->cfg.model_dir, pointer(r), version, err)) {
    case 0:
        return 0;
    case 1:
        break;
    default:
        snprintf(ident, ident_len, "bad:%s", err->msg);
        return -1;
    }
    snprintf(ident, ident_len, "version:%s", version);
    if (snprintf(path, PATH_MAX, "%s/versions/%s/model.bin",
                 r->cfg.model_dir, version) >= PATH_MAX ||
        snprintf(meta_path, PATH_MAX, "%s/versions/%s/metadata.json",
                 r->cfg.model_dir, version) >= PATH_MAX) {
        fr_error_set(err, "MODEL_DIR is too long");
        return -1;
    }
    return 1;
}

static void log_refused(struct registry *r, const char *what,
                        const struct fr_error *err)
{
    struct serving *cur = registry_acquire(r);
    struct log_line l;

    log_begin(&l, LOG_ERROR, "model_refused");
    log_str(&l, "role", pointer(r));
    log_str(&l, "source", what);
    log_str(&l, "error", err->msg);
    log_str(&l, "serving", cur ? cur->version : NULL);
    log_end(&l);
    serving_release(cur);
}

/* Logs once that there is no model to load yet. A candidate that was
 * loaded is dropped: clear-candidate (or its promotion) ends its trial,
 * whereas a `current` that disappears keeps serving. */
static void log_missing(struct registry *r)
{
    struct log_line l;
    struct serving *gone;

    r->seen_valid = 0;
    if (is_candidate(r)) {
        gone = registry_acquire(r);
        if (gone != NULL) {
            log_begin(&l, LOG_INFO, "candidate_cleared");
            log_str(&l, "version", gone->version);
            log_str(&l, "msg", "MODEL_DIR/candidate is gone: only the "
                    "current model answers");
            log_end(&l);
            serving_release(gone);
            registry_install(r, NULL);
        }
        r->missing_logged = 1;
        return;
    }
    if (!r->missing_logged) {
        log_begin(&l, LOG_WARN, "model_missing");
        log_str(&l, "source", r->cfg.model_path ? r->cfg.model_path :
                r->cfg.model_dir);
        log_str(&l, "msg", r->cfg.model_path ? "no model file yet" :
                "no current version yet (MODEL_DIR/current is absent)");
        log_end(&l);
        r->missing_logged = 1;
    }
}

/* Swaps in m, a model just loaded, unless it is the one serving. Returns
 * 1 when swapped, 0 when not. */
static int swap_in(struct registry *r, struct serving *m)
{
    struct serving *cur;
    struct log_line l;

    cur = registry_acquire(r);
    if (cur != NULL && cur->crc == m->crc &&
        strcmp(cur->version, m->version) == 0) {
        /* The file was rewritten with the same model (a copy, a touch):
         * keep the one serving rather than count a reload. */
        serving_release(cur);
        serving_release(m);
        return 0;
    }
    if (is_candidate(r))
        log_begin(&l, LOG_INFO, cur ? "candidate_reloaded" :
                  "candidate_loaded");
    else
        log_begin(&l, LOG_INFO, cur ? "model_reloaded" : "model_loaded");
    log_str(&l, "version", m->version);
    log_str(&l, "checksum", m->checksum);
    log_str(&l, "path", m->source);
    log_str(&l, "mode", m->model->has_series ? "series" : "tabular");
    log_int(&l, "features", m->model->forest->n_features);
    log_int(&l, "trees", m->model->forest->n_trees);
    log_int(&l, "format_version", m->model->format_version);
    log_num(&l, "load_ms", round(m->load_seconds * 1e6) / 1e3);
    log_str(&l, "previous", cur ? cur->version : NULL);
    log_end(&l);
    serving_release(cur);
    registry_install(r, m);
    atomic_fetch_add_explicit(&r->loads_ok, 1, memory_order_relaxed);
    return 1;
}

/* The S3 store failed to answer: counted every time, logged once per
 * outage. */
static void store_failed(struct registry *r, const struct fr_error *err)
{
    struct serving *cur;
    struct log_line l;

    atomic_fetch_add_explicit(&r->store_errors, 1, memory_order_relaxed);
    if (r->store_down)
        return;
    r->store_down = 1;
    cur = registry_acquire(r);
    log_begin(&l, LOG_ERROR, "store_unreachable");
    log_str(&l, "source", r->cfg.model_dir);
    log_str(&l, "error", err->msg);
    log_str(&l, "serving", cur ? cur->version : NULL);
    log_str(&l, "msg", "keeps serving; logged once until the store answers");
    log_end(&l);
    serving_release(cur);
}

/* registry_poll for an s3:// MODEL_DIR. */
static int poll_s3(struct registry *r)
{
    struct fr_error err = {{0}};
    char ident[sizeof r->seen], path[PATH_MAX], meta[PATH_MAX];
    char version[STORE_VERSION_MAX + 1] = "", etag[sizeof r->etag] = "";
    const char *dir = r->cfg.model_dir;
    struct serving *m;
    struct log_line l;
    int found, transient;

    found = store_pointer_poll(dir, pointer(r), r->etag, version, etag,
                               sizeof etag, &err);
    if (found < 0) {
        store_failed(r, &err);
        return 0;
    }
    if (r->store_down) {
        r->store_down = 0;
        log_begin(&l, LOG_INFO, "store_recovered");
        log_str(&l, "source", dir);
        log_int(&l, "store_errors", (long long)atomic_load(&r->store_errors));
        log_end(&l);
    }
    if (found == 2)
        return 0; /* 304: `current` unchanged since it was acted on */
    if (found == 0) {
        r->etag[0] = '\0';
        note_current(r, "");
        log_missing(r);
        return 0;
    }
    r->missing_logged = 0;
    note_current(r, version);
    snprintf(ident, sizeof ident, "version:%s", version);
    if (r->seen_valid && strcmp(ident, r->seen) == 0) {
        snprintf(r->etag, sizeof r->etag, "%s", etag);
        return 0;
    }
    if (snprintf(path, sizeof path, "%s/versions/%s/model.bin", dir,
                 version) >= (int)sizeof path ||
        snprintf(meta, sizeof meta, "%s/versions/%s/metadata.json", dir,
                 version) >= (int)sizeof meta) {
        fr_error_set(&err, "MODEL_DIR is too long");
        m = NULL;
        transient = 0;
    } else {
        m = load(path, meta, version, &transient, &err);
    }
    if (m == NULL && transient) {
        /* Neither seen nor its ETag kept: the next poll tries again. */
        store_failed(r, &err);
        return 0;
    }
    snprintf(r->seen, sizeof r->seen, "%s", ident);
    r->seen_valid = 1;
    snprintf(r->etag, sizeof r->etag, "%s", etag);
    if (m == NULL) {
        atomic_fetch_add_explicit(&r->loads_failed, 1, memory_order_relaxed);
        log_refused(r, path, &err);
        return -1;
    }
    return swap_in(r, m);
}

int registry_poll(struct registry *r)
{
    struct fr_error err = {{0}};
    char ident[sizeof r->seen], path[PATH_MAX], meta[PATH_MAX];
    char version[STORE_VERSION_MAX + 1] = "";
    struct serving *m;
    int found, transient;

    if (r->cfg.model_path == NULL && store_is_s3(r->cfg.model_dir))
        return poll_s3(r);
    found = source(r, ident, sizeof ident, path, meta, version, &err);
    /* Only a `current` that names a valid version is recorded: none with
     * MODEL_PATH, and one that could not be read names nothing. */
    note_current(r, found == 1 ? version : "");
    if (found == 0) {
        /* Nothing to load: keep serving what we have (the version
         * directory may have been pruned), and load whatever appears. */
        log_missing(r);
        return 0;
    }
    r->missing_logged = 0;
    if (r->seen_valid && strcmp(ident, r->seen) == 0)
        return 0;
    snprintf(r->seen, sizeof r->seen, "%s", ident);
    r->seen_valid = 1;
    if (found < 0) {
        atomic_fetch_add_explicit(&r->loads_failed, 1, memory_order_relaxed);
        log_refused(r, r->cfg.model_path ? r->cfg.model_path :
                    r->cfg.model_dir, &err);
        return -1;
    }
    m = load(path, meta, r->cfg.model_path ? NULL : version, &transient,
             &err);
    if (m == NULL) {
        atomic_fetch_add_explicit(&r->loads_failed, 1, memory_order_relaxed);
        log_refused(r, path, &err);
        return -1;
    }
    return swap_in(r, m);
}

static void *watch(void *arg)
{
    struct registry *r = arg;
    struct timespec deadline;

    pthread_mutex_lock(&r->wake_lock);
    while (!r->stopping) {
        /* Cleared before the poll: a wake during the poll polls again. */
        r->poke = 0;
        pthread_mutex_unlock(&r->wake_lock);
        registry_poll(r);
        pthread_mutex_lock(&r->wake_lock);
        if (r->stopping)
            break;
        if (r->cfg.interval <= 0) {
            /* Load once: sleep until shutdown or a wake. */
            while (!r->stopping && !r->poke)
                pthread_cond_wait(&r->wake, &r->wake_lock);
            continue;
        }
        clock_gettime(CLOCK_MONOTONIC, &deadline);
        {
            double whole = floor(r->cfg.interval);
            long ns = (long)((r->cfg.interval - whole) * 1e9);
            deadline.tv_sec += (time_t)whole;
            deadline.tv_nsec += ns;
            if (deadline.tv_nsec >= 1000000000L) {
                deadline.tv_sec++;
                deadline.tv_nsec -= 1000000000L;
            }
        }
        while (!r->stopping && !r->poke &&
               pthread_cond_timedwait(&r->wake, &r->wake_lock, &deadline) ==
                   0)
            ;
    }
    pthread_mutex_unlock(&r->wake_lock);
    return NULL;
}

int registry_start(struct registry *r, struct fr_error *err)
{
    int rc = pthread_create(&r->watcher, NULL, watch, r);

    if (rc != 0) {
        fr_error_set(err, "cannot start the reload watcher: %s",
                     strerror(rc));
        return -1;
    }
    r->watcher_started = 1;
    return 0;
}

void registry_wake(struct registry *r)
{
    pthread_mutex_lock(&r->wake_lock);
    r->poke = 1;
    pthread_cond_signal(&r->wake);
    pthread_mutex_unlock(&r->wake_lock);
}

void registry_stop(struct registry *r)
{
    if (!r->watcher_started)
        return;
    pthread_mutex_lock(&r->wake_lock);
    r->stopping = 1;
    pthread_cond_signal(&r->wake);
    pthread_mutex_unlock(&r->wake_lock);
    pthread_join(r->watcher, NULL);
    r->watcher_started = 0;
}

void registry_release(struct registry *r)
{
    registry_install(r, NULL);
    pthread_mutex_destroy(&r->lock);
    pthread_mutex_destroy(&r->wake_lock);
    pthread_cond_destroy(&r->wake);
}
