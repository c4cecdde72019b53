/*
 * store_s3.h: the model store's S3 backend (store.h's functions call these
 * when MODEL_DIR is s3://bucket/prefix). Not for other callers: use
 * store.h, which picks the backend.
 *
 *   prefix/versions/<version>/model.bin      written first, If-None-Match: *
 *   prefix/versions/<version>/metadata.json
 *   prefix/versions/<version>/report.svg
 *   prefix/current                           body: the version name, written
 *                                            last
 *   prefix/candidate                         optional, the same body
 *   prefix/shards/<run>/shard-<i>-of-<n>.bin
 *
 * Every call makes its own client from the AWS_* environment
 * (s3_config_from_env): a trainer makes a handful of calls, the server one
 * per poll.
 */
#ifndef FR_STORE_S3_H
#define FR_STORE_S3_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"

/* See store_check_dir: parses the URL, then reads `current` (the store
 * answers, the credentials hold, the bucket exists, `current` names a
 * valid version). Returns 0 or -1 with err set. */
int s3store_check(const char *url, struct fr_error *err);

/* See store_current. */
int s3store_current(const char *url, char *version, struct fr_error *err);

/* See store_pointer (name: "current" or "candidate"). */
int s3store_pointer(const char *url, const char *name, char *version,
                    struct fr_error *err);

/* See store_pointer_poll. */
int s3store_pointer_poll(const char *url, const char *name,
                         const char *if_none_match, char *version,
                         char *etag, size_t etag_len, struct fr_error *err);

/* See store_pointer_set: reads the pointer, PUTs the version with
 * If-Match on what it read (If-None-Match: * when there was none), then
 * HEADs the version's model.bin: when another trainer's pruning deleted
 * it meanwhile, the pointer is put back as it was (If-Match on the new
 * ETag: a later writer's pointer stays) and -1 is returned with err
 * naming the version. */
int s3store_pointer_set(const char *url, const char *name,
                        const char *version, struct fr_error *err);

/* See store_pointer_clear: DELETEs the pointer. */
int s3store_pointer_clear(const char *url, const char *name,
                          struct fr_error *err);

/* 1 when versions/<version>/model.bin exists, 0 when not, -1 with err
 * set. */
int s3store_version_exists(const char *url, const char *version,
                           struct fr_error *err);

/* Uploads staging/{model.bin,metadata.json,report.svg} as
 * versions/<version>/, model.bin first and only if no object has its key,
 * then reads model.bin back and checks it is the bytes sent and decodes.
 * Returns 0, -2 with err set when the version exists, or -1 with err
 * set. */
int s3store_commit(const char *url, const char *version, const char *staging,
                   struct fr_error *err);

/* See store_prune: versions ordered by their model.bin's LastModified;
 * one uploaded after `started` (LastModified, the store's clock) is kept.
 * Each version is deleted model.bin first, between two reads of the
 * pointers: one named before is kept, one named meanwhile is put back and
 * the prune fails. */
int s3store_prune(const char *url, unsigned keep, const char *spare,
                  double started, struct fr_error *err);

/* GETs an s3:// object whole. Returns 0, 1 when there is no such key
 * (err set too), -1 with err set. */
int s3store_read(const char *path, size_t max, uint8_t **buf, size_t *len,
                 struct fr_error *err);

/* PUTs an s3:// object. Returns 0 or -1 with err set. */
int s3store_write(const char *path, const void *buf, size_t len,
                  struct fr_error *err);

/* Lists the objects directly under the s3:// "directory" dir whose name
 * matches the fnmatch pattern, as s3:// paths sorted by key. Returns 0
 * with *paths (n of them; free with store_paths_free), or -1 with err
 * set. */
int s3store_list(const char *dir, const char *pattern, char ***paths,
                 size_t *n, struct fr_error *err);

/* See store_versions: the versions whose model.bin exists. */
int s3store_versions(const char *url, char ***names, size_t *n,
                     struct fr_error *err);

/* Deletes every object under dir + "/". Returns 0 or -1 with err set. */
int s3store_remove_tree(const char *dir, struct fr_error *err);

#endif
