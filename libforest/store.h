/*
 * store.h: the model store on the shared volume.
 *
 *   MODEL_DIR/versions/<version>/model.bin       the forest (model.h)
 *   MODEL_DIR/versions/<version>/metadata.json   what and how it was trained
 *   MODEL_DIR/versions/<version>/report.svg      accuracy report
 *   MODEL_DIR/current -> versions/<version>      the promoted version
 *   MODEL_DIR/candidate -> versions/<version>    optional: the version on
 *                                                trial (shadow, canary)
 *   MODEL_DIR/shards/<run>/shard-<i>-of-<n>.bin  trees of a sharded run
 *
 * A version is written in MODEL_DIR/.staging-<pid>-<random>/, every file
 * fsynced, then named and renamed into versions/ whole under the store's
 * lock, so two trainers never pick the same name; `current` (and
 * `candidate`, a pointer of the same kind) is switched by
 * creating a new symlink under a temporary name and renaming it over the old
 * one, which POSIX makes atomic. A reader following `current` therefore sees
 * the old version or the new one, never a mixture, and a crash at any point
 * leaves the previous `current` in place.
 *
 * MODEL_DIR may also be s3://bucket/prefix (store_s3.h): the same layout
 * as objects, `current` an object whose body is the version name. There a
 * version is staged locally and uploaded at commit, its model.bin created
 * with If-None-Match: * (which claims the name) and read back, `current`
 * written last; store_lock holds nothing. The credentials and endpoint
 * come from the AWS_* environment (s3.h). Every function below takes
 * either kind of MODEL_DIR, and a path under it, unless it says otherwise.
 */
#ifndef FR_STORE_H
#define FR_STORE_H

#include <limits.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "error.h"

#define STORE_VERSION_MAX 100 /* characters in a version name */

struct model;

/* 1 when location (a MODEL_DIR or a path) is an s3:// URL, else 0. */
int store_is_s3(const char *location);

/* Reads a file, or an s3://bucket/key object, of at most max bytes whole
 * into a malloc'd buffer with a NUL after the end (the caller frees *buf).
 * Returns 0; 1 when there is no such file or object (err says so); -1
 * with err set (unreadable, too large, the store failing). */
int store_read(const char *path, size_t max, uint8_t **buf, size_t *len,
               struct fr_error *err);

/* Writes a file atomically (file_write_atomic; its directory must exist)
 * or PUTs an object. Returns 0 or -1 with err set. */
int store_write(const char *path, const void *buf, size_t len,
                struct fr_error *err);

/* model_load for a path or an s3:// object. Returns the model (the caller
 * frees it) or NULL with err set, naming the path. *crc may be NULL. */
struct model *store_model_load(const char *path, uint32_t *crc,
                               struct fr_error *err);

/* The files directly in dir whose names match the fnmatch pattern, as
 * paths (dir + "/" + name) sorted by name; none when dir is missing.
 * Returns 0 with *paths (the caller frees them with store_paths_free), or
 * -1 with err set. */
int store_list(const char *dir, const char *pattern, char ***paths,
               size_t *n, struct fr_error *err);

/* The names of the versions in MODEL_DIR/versions/ (directories on a
 * filesystem; on S3, the versions whose model.bin exists), sorted.
 * Returns 0 with *names (free with store_paths_free), or -1 with err
 * set. */
int store_versions(const char *model_dir, char ***names, size_t *n,
                   struct fr_error *err);

/* Frees what store_list or store_versions returned; NULL does nothing. */
void store_paths_free(char **paths, size_t n);

struct store_stage {
    char model_dir[PATH_MAX];
    char version[STORE_VERSION_MAX + 1]; /* "" until named, unless the
                                            caller chose it */
    int chosen;             /* the caller chose the name (MODEL_VERSION) */
    char staging[PATH_MAX]; /* where files are written */
    char final[PATH_MAX];   /* versions/<version>, once named */
};

/* A version name is 1-100 characters of [A-Za-z0-9._-], not starting with
 * a dot. Returns 1 when valid. */
int store_version_valid(const char *version);

/* Checks that MODEL_DIR is a writable directory whose `current`, if any,
 * is a link into versions/, so a long training run fails before it starts
 * rather than after. Returns 0 or -1 with err set. */
int store_check_dir(const char *model_dir, struct fr_error *err);

/* Creates MODEL_DIR/versions when missing and a staging directory for a new
 * version, named `version`, or, when version is NULL, named later by
 * store_stage_name, which also checks a given name is free. Returns 0, or
 * -1 with err set: MODEL_DIR is missing or unwritable, the name is
 * invalid. */
int store_stage_begin(const char *model_dir, const char *version,
                      struct store_stage *st, struct fr_error *err);

/* Settles the staged version's name; the caller holds store_lock from here
 * to store_stage_commit, so no other trainer can take the name in between.
 * A name the caller chose must still be free; otherwise the name is the UTC
 * time `now` (20261127T213000Z), with -2, -3... when taken. Returns 0, or
 * -1 with err set: the chosen name is taken (perhaps by another trainer
 * while this one ran), or no free name was found. */
int store_stage_name(struct store_stage *st, time_t now,
                     struct fr_error *err);

/* Writes into buf the path of a file in the staging directory. Returns 0 or
 * -1 with err set when the path does not fit. */
int store_stage_file(const struct store_stage *st, const char *name,
                     char *buf, size_t len, struct fr_error *err);

/* Moves the named staged version into versions/ (fsyncing the
 * directories), under store_lock. Returns 0, or -1 with err set: the name
 * exists after all (a writer that does not lock), or the rename failed. */
int store_stage_commit(struct store_stage *st, struct fr_error *err);

/* Removes the staging directory and what is in it. */
void store_stage_abort(struct store_stage *st);

/* Takes an exclusive lock on MODEL_DIR/.lock so two trainers never promote
 * or prune at once (blocks until free). Returns the lock's descriptor, or
 * -1 with err set. store_unlock(-1) does nothing. */
int store_lock(const char *model_dir, struct fr_error *err);
void store_unlock(int fd);

/* Reads the version `current` points at into version (STORE_VERSION_MAX+1
 * bytes). Returns 1 when found, 0 when there is no current version, -1 with
 * err set when `current` exists but is not a link into versions/. */
int store_current(const char *model_dir, char *version, struct fr_error *err);

/* For an S3 MODEL_DIR only: reads `current` with a conditional GET, so an
 * unchanged pointer costs a 304. if_none_match is the ETag of the last
 * read ("" or NULL for none). Returns 1 with version and etag (etag_len
 * bytes; may be NULL) set, 2 when `current` is unchanged, 0 when there is
 * none, -1 with err set (the store unreachable or refusing, `current` not
 * a version name). */
int store_current_poll(const char *model_dir, const char *if_none_match,
                       char *version, char *etag, size_t etag_len,
                       struct fr_error *err);

/* Reads training.last_day (the last day the version's model learned) of a
 * version's metadata.json. Returns 0 and sets *day, 1 when the metadata
 * has none (written by a release before the champion/challenger gate), or
 * -1 with err set (missing, unreadable, not a date). */
int store_version_last_day(const char *model_dir, const char *version,
                           int32_t *day, struct fr_error *err);


/* The store's pointers: `current` is what servers answer with,
 * `candidate` (optional) the version they try beside it. */
#define STORE_CURRENT "current"
#define STORE_CANDIDATE "candidate"

/* 1 when name is STORE_CURRENT or STORE_CANDIDATE. */
int store_pointer_valid(const char *name);

/* store_current for either pointer (name: STORE_CURRENT or
 * STORE_CANDIDATE). Returns 1 when found, 0 when absent, -1 with err set
 * (not a link into versions/, or on S3 not a version name). */
int store_pointer(const char *model_dir, const char *name, char *version,
                  struct fr_error *err);

/* store_current_poll for either pointer (S3 only). */
int store_pointer_poll(const char *model_dir, const char *name,
                       const char *if_none_match, char *version, char *etag,
                       size_t etag_len, struct fr_error *err);

/* store_promote for either pointer: points `name` at version atomically,
 * the same way. On S3, checks afterwards that the version still exists
 * (S3 has no lock: another trainer's pruning may have deleted it) and if
 * not puts the pointer back. Returns 0 or -1 with err set (the pointer as
 * it was, unless another writer set it meanwhile). */
int store_pointer_set(const char *model_dir, const char *name,
                      const char *version, struct fr_error *err);

/* Removes the pointer `name` (a link, or an object on S3) and syncs
 * MODEL_DIR. Returns 1 when it was removed, 0 when there was none, -1
 * with err set. */
int store_pointer_clear(const char *model_dir, const char *name,
                        struct fr_error *err);

/* Points `current` at version atomically (store_pointer_set). Returns 0
 * or -1 with err set; on failure `current` is unchanged, unless only the
 * final fsync of MODEL_DIR failed (then the switch happened but may not
 * survive a crash). */
int store_promote(const char *model_dir, const char *version,
                  struct fr_error *err);

/* Room on MODEL_DIR's file system, in bytes. */
struct store_space {
    unsigned long long free_bytes;  /* available to unprivileged writers */
    unsigned long long total_bytes; /* the file system's size */
};

/* Reads the room on MODEL_DIR's file system (statvfs). Returns 0 or -1
 * with err set. */
int store_space_read(const char *model_dir, struct store_space *sp,
                     struct fr_error *err);

/* Checks that a version of `bytes` (its files together) fits in sp's free
 * space, so a full volume is found before anything is written rather than
 * halfway. Returns 0 when it fits, or -1 with err set ("needs N bytes,
 * M are free"). Sets *crowded to 1 when `keep` versions of that size would
 * not fit even in the whole, empty file system (KEEP_VERSIONS is then
 * bound to fail later), else 0. Cannot fail otherwise. */
int store_space_check(const struct store_space *sp, unsigned long long bytes,
                      unsigned keep, int *crowded, struct fr_error *err);

/* Deletes the oldest versions (by modification time, then name) so at most
 * `keep` remain, and staging directories left by crashed runs more than an
 * hour old. Never deleted: the current version, the candidate (a server
 * may be trying it) and `spare` (the version
 * the caller has just written, promoted or not; NULL for none), so up to
 * keep + 2 can remain. On S3 (no lock: other trainers may be between
 * their upload and their promotion), also never a version uploaded after
 * `started` (seconds since the epoch, the caller's start; 0 for no such
 * bound), nor one a pointer names when read again just before its
 * deletion; in a directory the caller holds store_lock, so `started` is
 * not needed there. Returns the number of versions deleted, or -1 with
 * err set. */
int store_prune(const char *model_dir, unsigned keep, const char *spare,
                double started, struct fr_error *err);

/* Removes a directory tree (no links followed). Returns 0 or -1. */
int store_remove_tree(const char *path);

#endif
