/*
 * registry.h: the model being served, and its hot reload.
 *
 * The registry holds one reference-counted `struct serving`. A request takes
 * a reference with registry_acquire() and drops it with serving_release()
 * when its answer is written, so a swap never pulls a forest out from under
 * a request: the old model is freed by whoever drops the last reference.
 *
 * The server keeps two registries when CANDIDATE_MODE is not off: one
 * follows `current`, the other `candidate` (registry_config.pointer), each
 * with its own watcher, loaded and verified the same way. A candidate
 * that disappears (clear-candidate, or promoted) is dropped; a `current`
 * that disappears keeps serving.
 *
 * A watcher thread polls the source every RELOAD_INTERVAL_SECONDS:
 *   MODEL_DIR   the target of MODEL_DIR/current (versions/<v>) changed
 *   MODEL_DIR=s3://bucket/prefix   the body of the `current` object
 *               changed (a conditional GET with its ETag: 304 otherwise);
 *               model.bin and metadata.json are downloaded into memory
 *   MODEL_PATH  the file's device, inode, size or mtime changed
 * and then loads, decodes and verifies the new model off the request path.
 * A model that fails is refused, logged and counted, and the old one keeps
 * serving; the same source is not retried until it changes again. An S3
 * store that cannot be reached (or refuses the credentials) is an outage,
 * not a refusal: the model keeps serving, the outage is logged once
 * (store_unreachable, then store_recovered), every failed poll is counted
 * in store_errors, and the download is retried at the next poll.
 */
#ifndef FS_REGISTRY_H
#define FS_REGISTRY_H

#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "forest.h"
#include "model.h"
#include "store.h"

#define MODEL_METADATA_MAX (16u << 20) /* refuse larger metadata.json */
#define MODEL_REPORT_MAX (4u << 20)    /* skip a larger report.svg */

struct serving {
    struct model *model;              /* owned, verified */
    /* "v1", "20261127T213000Z", ...: the store's limit on version names */
    char version[STORE_VERSION_MAX + 1];
    char checksum[24];                /* "crc32:749c94f8" */
    uint32_t crc;                     /* CRC-32 of model.bin's payload */
    char *source;                     /* the model.bin it came from, owned */
    char *metadata;                   /* JSON text for GET /model, owned */
    size_t metadata_len;              /* bytes of metadata, no NUL */
    char *report;                     /* report.svg beside metadata.json,
                                         owned; NULL when there is none */
    size_t report_len;                /* bytes of report */
    double loaded_at;                 /* Unix time of the swap */
    double load_seconds;              /* read + decode + verify */
    atomic_uint refs;                 /* >= 1 while reachable */
    /* As a candidate in shadow mode: rows scored beside the current model
     * and their summed |candidate - current| (stats_add_double's bits),
     * since this version was loaded. */
    _Atomic uint64_t shadow_rows;
    _Atomic uint64_t shadow_abs_diff_bits;
};

/* Checks the model before it serves: it has features and trees, and a
 * prediction of a zero row is finite. Non-finite node values are
 * model_decode()'s to refuse, so f should come from it (the tests' and
 * the fuzz target's hand-built forests have finite leaves). Returns 0, or
 * -1 with err saying what is wrong. */
int serving_verify(const struct forest *f, struct fr_error *err);

/* Wraps a decoded model for serving: lays its trees out for one-row walks
 * (forest_prepare_walk), verifies its forest, keeps metadata (a
 * JSON text of metadata_len bytes, copied) or, when metadata is NULL,
 * builds a small JSON description from the model. Takes ownership of mod
 * in every case (freed on failure). Returns the serving version with one
 * reference, or NULL with err set. */
struct serving *serving_new(struct model *mod, const char *version, uint32_t crc,
                        const char *source, const char *metadata,
                        size_t metadata_len, struct fr_error *err);

/* Drops one reference; the last one frees the model. NULL does nothing. */
void serving_release(struct serving *m);

struct registry_config {
    const char *model_dir;  /* serve model_dir/current (when no path) */
    const char *model_path; /* serve this model.bin; wins over model_dir */
    double interval;        /* seconds between polls; 0 = load once */
    const char *pointer;    /* the store pointer followed: STORE_CURRENT
                               (NULL means it too) or STORE_CANDIDATE,
                               with model_dir only */
};

struct registry {
    struct registry_config cfg;
    pthread_mutex_t lock;       /* guards current and current_named */
    struct serving *current;      /* NULL until a model loads */
    /* The version MODEL_DIR/current named when the watcher last read it,
     * whether or not it loaded: "" before the first read, while current
     * is absent, and with MODEL_PATH. Differs from current->version while
     * a promoted model is refused (the alert on it: overlays/monitoring). */
    char current_named[STORE_VERSION_MAX + 1];
    pthread_mutex_t wake_lock;  /* guards stopping; with wake */
    pthread_cond_t wake;        /* signalled by registry_stop */
    int stopping;
    int poke;                   /* registry_wake asked for a poll now */
    pthread_t watcher;
    int watcher_started;
    char seen[PATH_MAX + 128];  /* identity of the source last tried */
    int seen_valid;             /* seen holds something */
    int missing_logged;         /* "no model" was logged for this absence */
    _Atomic uint64_t loads_ok;  /* models swapped in */
    _Atomic uint64_t loads_failed; /* models refused */
    char etag[256];             /* S3: ETag of the `current` last acted on */
    int store_down;             /* S3: store_unreachable logged, no
                                   recovery since */
    _Atomic uint64_t store_errors; /* S3: polls or downloads that failed */
};

/* Prepares the registry; loads nothing yet. Returns 0, or -1 with err set
 * (neither source given, a candidate pointer with model_path or an
 * unknown pointer, threads primitives unavailable), having released
 * whatever it had created: nothing to call registry_release() for. */
int registry_init(struct registry *r, const struct registry_config *cfg,
                  struct fr_error *err);

/* Starts the watcher thread, whose first poll happens at once. Returns 0,
 * or -1 with err set. */
int registry_start(struct registry *r, struct fr_error *err);

/* Polls the source once and loads it when it changed. Returns 1 when a new
 * model was swapped in, 0 when nothing changed (or no model exists yet),
 * -1 when a new model was refused. Logs what it did. */
int registry_poll(struct registry *r);

/* Swaps m in (the registry takes the caller's reference) and drops the
 * registry's reference on the previous model. */
void registry_install(struct registry *r, struct serving *m);

/* Takes a reference on the model serving now, or returns NULL when none
 * is loaded. The caller drops it with serving_release(). */
struct serving *registry_acquire(struct registry *r);

/* Copies the version the store's `current` named at the last read (see
 * current_named above) into out, len >= STORE_VERSION_MAX + 1 bytes; ""
 * when none. Cannot fail. */
void registry_current_named(struct registry *r, char *out, size_t len);

/* Asks the watcher to poll the source at once instead of at the end of
 * its interval (also when the interval is 0, "load once"): SIGHUP. A
 * source that has not changed is not reloaded. Cannot fail; does nothing
 * visible when the watcher never started. */
void registry_wake(struct registry *r);

/* Stops and joins the watcher thread; safe when it never started. */
void registry_stop(struct registry *r);

/* Drops the current model and frees the locks. Call after registry_stop. */
void registry_release(struct registry *r);

#endif
