/*
 * store_s3.c: the model store on an S3-compatible object store
 * (store_s3.h), through libforest/s3.c.
 *
 * S3 has no rename and no lock, so the filesystem store's guarantees are
 * rebuilt from conditional writes: a version's name is claimed by creating
 * its model.bin with If-None-Match: * (two trainers can never write into
 * one version), its other files follow, model.bin is read back and
 * checked, and only then is `current` written, so `current` never names a
 * version whose upload did not finish. A store that ignores the condition
 * loses only the first guarantee (see the README). Objects are small
 * enough to be held in memory whole (MODEL_MAX_BYTES at most).
 */
#define _GNU_SOURCE /* strptime, timegm */
#include "store_s3.h"

#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "file.h"
#include "model.h"
#include "s3.h"
#include "store.h"

#define LIST_MAX 200000          /* objects a store listing may hold */
#define CURRENT_MAX 4096         /* bytes of `current` read */
#define SWAP_TRIES 5             /* rounds of a pointer's read-then-write */

/* The store's bucket and key prefix ("" or "a/b", no slash at either
 * end), and a client. */
struct loc {
    struct s3_url url;
    struct s3_client *client;
};

static void loc_release(struct loc *l)
{
    s3_client_free(l->client);
    s3_url_release(&l->url);
    memset(l, 0, sizeof *l);
}

/* Parses url and makes a client from the environment. A prefix ending in
 * '/' or holding "//" is refused: keys built from it would not be the
 * ones the user meant. Returns 0 or -1 with err set (l released). */
static int loc_open(const char *url, struct loc *l, struct fr_error *err)
{
    struct s3_config cfg;
    size_t n;

    memset(l, 0, sizeof *l);
    if (s3_url_parse(url, &l->url, err) != 0)
        return -1;
    n = strlen(l->url.key);
    if ((n > 0 && (l->url.key[n - 1] == '/' || l->url.key[0] == '/')) ||
        strstr(l->url.key, "//") != NULL ||
        (n == 0 && url[strlen(url) - 1] == '/')) {
        fr_error_set(err, "'%s': write the store's location without a "
                     "trailing or doubled '/' (s3://bucket or "
                     "s3://bucket/prefix)", url);
        goto fail;
    }
    if (s3_config_from_env(&cfg, err) != 0)
        goto fail;
    l->client = s3_client_new(&cfg, err);
    s3_config_release(&cfg);
    if (l->client == NULL)
        goto fail;
    return 0;
fail:
    loc_release(l);
    return -1;
}

/* The key of rel ("current", "versions/v/model.bin") in the store. */
static int key_of(const struct loc *l, const char *rel, char *buf,
                  size_t len, struct fr_error *err)
{
    int n = l->url.key[0] ? snprintf(buf, len, "%s/%s", l->url.key, rel)
                          : snprintf(buf, len, "%s", rel);

    if (n < 0 || (size_t)n >= len || (size_t)n > S3_KEY_MAX) {
        fr_error_set(err, "key too long under 's3://%s/%s'", l->url.bucket,
                     l->url.key);
        return -1;
    }
    return 0;
}

/* Parses a pointer's body (`current`, `candidate`): exactly a valid
 * version name (a final newline tolerated, as `echo` writes it). */
static int parse_pointer(const struct loc *l, const char *name,
                         const uint8_t *body, size_t len, char *version,
                         struct fr_error *err)
{
    if (len > 0 && body[len - 1] == '\n')
        len--;
    if (len == 0 || len > STORE_VERSION_MAX ||
        memchr(body, '\0', len) != NULL) {
        fr_error_set(err, "'s3://%s/%s%s%s' does not hold a version "
                     "name", l->url.bucket, l->url.key,
                     l->url.key[0] ? "/" : "", name);
        return -1;
    }
    memcpy(version, body, len);
    version[len] = '\0';
    if (!store_version_valid(version)) {
        fr_error_set(err, "'s3://%s/%s%s%s' names '%.*s', not a valid "
                     "version", l->url.bucket, l->url.key,
                     l->url.key[0] ? "/" : "", name, 40, version);
        version[0] = '\0';
        return -1;
    }
    return 0;
}

int s3store_pointer_poll(const char *url, const char *name,
                         const char *if_none_match, char *version,
                         char *etag, size_t etag_len, struct fr_error *err)
{
    struct s3_object_info info;
    struct loc l;
    char key[S3_KEY_MAX + 1];
    uint8_t *body = NULL;
    size_t len = 0;
    int rc = -1, st;

    memset(&info, 0, sizeof info);
    if (loc_open(url, &l, err) != 0)
        return -1;
    if (key_of(&l, name, key, sizeof key, err) != 0)
        goto out;
    st = s3_get(l.client, l.url.bucket, key, CURRENT_MAX,
                if_none_match != NULL && if_none_match[0] ? if_none_match
                                                          : NULL,
                &body, &len, &info, err);
    if (st == S3_NOT_MODIFIED) {
        rc = 2;
    } else if (st == S3_NOT_FOUND) {
        rc = 0;
    } else if (st == S3_OK) {
        if (parse_pointer(&l, name, body, len, version, err) == 0) {
            rc = 1;
            if (etag != NULL)
                snprintf(etag, etag_len, "%s", info.etag);
        }
    }
out:
    free(body);
    loc_release(&l);
    return rc;
}

int s3store_pointer(const char *url, const char *name, char *version,
                    struct fr_error *err)
{
    return s3store_pointer_poll(url, name, NULL, version, NULL, 0, err);
}

int s3store_current(const char *url, char *version, struct fr_error *err)
{
    return s3store_pointer(url, "current", version, err);
}

int s3store_check(const char *url, struct fr_error *err)
{
    char version[STORE_VERSION_MAX + 1];

    return s3store_current(url, version, err) < 0 ? -1 : 0;
}

int s3store_version_exists(const char *url, const char *version,
                           struct fr_error *err)
{
    struct loc l;
    char rel[STORE_VERSION_MAX + 64], key[S3_KEY_MAX + 1];
    int rc = -1, st;

    if (loc_open(url, &l, err) != 0)
        return -1;
    snprintf(rel, sizeof rel, "versions/%s/model.bin", version);
    if (key_of(&l, rel, key, sizeof key, err) == 0) {
        st = s3_head(l.client, l.url.bucket, key, NULL, err);
        rc = st == S3_OK ? 1 : st == S3_NOT_FOUND ? 0 : -1;
    }
    loc_release(&l);
    return rc;
}

/* PUTs staging/name as versions/<version>/name; create_only claims the
 * key (If-None-Match: *). Returns 0, -2 when the key exists (err set), -1
 * with err set. The bytes sent are kept in *sent when sent is not NULL
 * (the caller frees them). */
static int upload(struct loc *l, const char *version, const char *staging,
                  const char *name, const char *type, int create_only,
                  uint8_t **sent, size_t *sent_len, struct fr_error *err)
{
    struct s3_object_info info;
    char path[4096], rel[STORE_VERSION_MAX + 64], key[S3_KEY_MAX + 1];
    uint8_t *buf = NULL, *back = NULL;
    size_t len = 0, back_len = 0;
    int rc = -1, st;

    memset(&info, 0, sizeof info);
    if ((size_t)snprintf(path, sizeof path, "%s/%s", staging, name) >=
        sizeof path) {
        fr_error_set(err, "path too long under '%s'", staging);
        return -1;
    }
    snprintf(rel, sizeof rel, "versions/%s/%s", version, name);
    if (key_of(l, rel, key, sizeof key, err) != 0 ||
        file_read_all(path, MODEL_MAX_BYTES, &buf, &len, err) != 0)
        goto out;
    st = s3_put(l->client, l->url.bucket, key, buf, len, type,
                create_only ? "*" : NULL, NULL, &info, err);
    if (st == S3_PRECONDITION_FAILED && info.attempts > 1 &&
        s3_get(l->client, l->url.bucket, key, len, NULL, &back, &back_len,
               NULL, err) == S3_OK &&
        back_len == len && memcmp(back, buf, len) == 0) {
        /* An earlier attempt of this PUT went through, its answer lost. */
        st = S3_OK;
    }
    if (st == S3_PRECONDITION_FAILED) {
        fr_error_set(err, "version '%s' already exists in 's3://%s/%s%s"
                     "versions'", version, l->url.bucket, l->url.key,
                     l->url.key[0] ? "/" : "");
        rc = -2;
        goto out;
    }
    if (st != S3_OK)
        goto out;
    rc = 0;
    if (sent != NULL) {
        *sent = buf;
        *sent_len = len;
        buf = NULL;
    }
out:
    free(back);
    free(buf);
    return rc;
}

int s3store_commit(const char *url, const char *version, const char *staging,
                   struct fr_error *err)
{
    struct loc l;
    struct model *m = NULL;
    char rel[STORE_VERSION_MAX + 64], key[S3_KEY_MAX + 1];
    uint8_t *sent = NULL, *back = NULL;
    size_t sent_len = 0, back_len = 0;
    uint32_t crc_sent = 0, crc_back = 0;
    int rc;

    if (loc_open(url, &l, err) != 0)
        return -1;
    /* model.bin first: creating it claims the name. */
    rc = upload(&l, version, staging, "model.bin", "application/octet-stream",
                1, &sent, &sent_len, err);
    if (rc == 0)
        rc = upload(&l, version, staging, "metadata.json",
                    "application/json", 0, NULL, NULL, err);
    if (rc == 0)
        rc = upload(&l, version, staging, "report.svg", "image/svg+xml", 0,
                    NULL, NULL, err);
    if (rc != 0)
        goto out;
    /* What a server will load is what was tested. */
    rc = -1;
    snprintf(rel, sizeof rel, "versions/%s/model.bin", version);
    if (key_of(&l, rel, key, sizeof key, err) != 0 ||
        s3_get(l.client, l.url.bucket, key, MODEL_MAX_BYTES, NULL, &back,
               &back_len, NULL, err) != S3_OK)
        goto out;
    m = model_decode(sent, sent_len, &crc_sent, err);
    model_free(m);
    m = model_decode(back, back_len, &crc_back, err);
    if (m == NULL || back_len != sent_len ||
        memcmp(back, sent, sent_len) != 0 || crc_back != crc_sent) {
        fr_error_set(err, "'s3://%s/%s' read back differs from what was "
                     "uploaded (crc32 %08x, %zu bytes, sent %08x, %zu)",
                     l.url.bucket, key, (unsigned)crc_back, back_len,
                     (unsigned)crc_sent, sent_len);
        goto out;
    }
    rc = 0;
out:
    model_free(m);
    free(sent);
    free(back);
    loc_release(&l);
    return rc;
}

/* 1 when a pointer's body names version (a final newline tolerated),
 * else 0. */
static int body_names(const uint8_t *body, size_t len, const char *version)
{
    size_t n = strlen(version);

    if (len > 0 && body[len - 1] == '\n')
        len--;
    return len == n && memcmp(body, version, n) == 0;
}

/* 1 when versions/<version>/model.bin exists, 0 when not, -1 with err
 * set. */
static int model_exists(struct loc *l, const char *version,
                        struct fr_error *err)
{
    char rel[STORE_VERSION_MAX + 64], key[S3_KEY_MAX + 1];
    int st;

    snprintf(rel, sizeof rel, "versions/%s/model.bin", version);
    if (key_of(l, rel, key, sizeof key, err) != 0)
        return -1;
    st = s3_head(l->client, l->url.bucket, key, NULL, err);
    return st == S3_OK ? 1 : st == S3_NOT_FOUND ? 0 : -1;
}

/* Reads pointer `key`: its body into *body (*len bytes; the caller frees
 * it, NULL when there is none) and ETag into etag. Returns 1, 0 when
 * there is no such object, -1 with err set. */
static int pointer_read(struct loc *l, const char *key, uint8_t **body,
                        size_t *len, char *etag, struct fr_error *err)
{
    struct s3_object_info info;
    int st;

    memset(&info, 0, sizeof info);
    *body = NULL;
    *len = 0;
    etag[0] = '\0';
    st = s3_get(l->client, l->url.bucket, key, CURRENT_MAX, NULL, body, len,
                &info, err);
    if (st == S3_NOT_FOUND)
        return 0;
    if (st != S3_OK)
        return -1;
    snprintf(etag, S3_ETAG_MAX + 1, "%s", info.etag);
    if (etag[0] == '\0') {
        fr_error_set(err, "'s3://%s/%s' came without an ETag",
                     l->url.bucket, key);
        free(*body);
        *body = NULL;
        return -1;
    }
    return 1;
}

/* Writes version as the pointer `key`, replacing exactly the body it read
 * (If-Match on that ETag, or If-None-Match: * when there was none), so
 * *prev (*prev_len bytes, *had_prev 0 when there was none; the caller
 * frees it) is what this write replaced, and etag the new object's ETag.
 * Another writer between the read and the write (412) starts the round
 * again. Returns 0, or -1 with err set (the pointer as it was). */
static int pointer_swap(struct loc *l, const char *key, const char *version,
                        uint8_t **prev, size_t *prev_len, int *had_prev,
                        char *etag, struct fr_error *err)
{
    struct s3_object_info info;
    char old[S3_ETAG_MAX + 1], now[S3_ETAG_MAX + 1];
    uint8_t *again = NULL;
    size_t again_len = 0;
    int st, found;

    for (int round = 0; round < SWAP_TRIES; round++) {
        free(*prev);
        *had_prev = pointer_read(l, key, prev, prev_len, old, err);
        if (*had_prev < 0)
            return -1;
        memset(&info, 0, sizeof info);
        st = s3_put(l->client, l->url.bucket, key, version, strlen(version),
                    "text/plain", *had_prev ? NULL : "*",
                    *had_prev ? old : NULL, &info, err);
        if (st == S3_OK && info.etag[0] != '\0') {
            snprintf(etag, S3_ETAG_MAX + 1, "%s", info.etag);
            return 0;
        }
        if (st != S3_OK && st != S3_PRECONDITION_FAILED)
            return -1;
        /* A 412 after a retry may be an earlier attempt of this PUT that
         * went through, its answer lost; a 200 without an ETag needs one
         * for the restore below: either way, read what is there. */
        if (st == S3_OK || info.attempts > 1) {
            found = pointer_read(l, key, &again, &again_len, now, err);
            if (found < 0)
                return -1;
            if (found && body_names(again, again_len, version)) {
                free(again);
                snprintf(etag, S3_ETAG_MAX + 1, "%s", now);
                return 0;
            }
            free(again);
            again = NULL;
        }
    }
    fr_error_set(err, "'s3://%s/%s' changed under each of %d tries to "
                 "write it", l->url.bucket, key, SWAP_TRIES);
    return -1;
}

int s3store_pointer_set(const char *url, const char *name,
                        const char *version, struct fr_error *err)
{
    struct loc l;
    char key[S3_KEY_MAX + 1], etag[S3_ETAG_MAX + 1] = "";
    char now[S3_ETAG_MAX + 1];
    uint8_t *prev = NULL, *body = NULL;
    size_t prev_len = 0, len = 0;
    int rc = -1, had_prev = 0, exists, st;

    if (loc_open(url, &l, err) != 0)
        return -1;
    /* One PUT replaces the object whole: a reader sees the old body or
     * the new one. */
    if (key_of(&l, name, key, sizeof key, err) != 0 ||
        pointer_swap(&l, key, version, &prev, &prev_len, &had_prev, etag,
                     err) != 0)
        goto out;
    /* S3 has no lock: another trainer's KEEP_VERSIONS pruning may have
     * deleted this version after it was uploaded, not knowing it was
     * about to be named (s3store_prune spares what was uploaded after
     * its own trainer started, so only a version whose trainer was slower
     * than a whole other run). Checked after the write, so a deletion
     * either comes first and is seen here, or comes after and sees the
     * pointer (s3store_prune reads it again around each deletion). */
    exists = model_exists(&l, version, err);
    if (exists != 0) {
        if (exists < 0)
            fr_error_prefix(err, "'s3://%s/%s' now names '%s', but the "
                            "version could not be checked", l.url.bucket,
                            key, version);
        rc = exists == 1 ? 0 : -1;
        goto out;
    }
    /* Put back what this write replaced, unless another writer came
     * since (If-Match on this write's ETag). */
    if (had_prev) {
        st = s3_put(l.client, l.url.bucket, key, prev, prev_len,
                    "text/plain", NULL, etag, NULL, err);
    } else if (pointer_read(&l, key, &body, &len, now, err) == 1 &&
               body_names(body, len, version)) {
        st = s3_delete(l.client, l.url.bucket, key, err);
    } else {
        st = S3_PRECONDITION_FAILED;
    }
    if (st != S3_OK && st != S3_PRECONDITION_FAILED) {
        fr_error_prefix(err, "version '%s' was deleted (by another trainer's "
                        "KEEP_VERSIONS pruning?) as 's3://%s/%s' was pointed "
                        "at it, and putting the pointer back failed",
                        version, l.url.bucket, key);
        goto out;
    }
    if (had_prev && prev_len > 0 && prev[prev_len - 1] == '\n')
        prev_len--;
    fr_error_set(err, "version '%s' was deleted (by another trainer's "
                 "KEEP_VERSIONS pruning?) as 's3://%s/%s' was pointed at it; "
                 "%s%.*s%s", version, l.url.bucket, key,
                 st == S3_PRECONDITION_FAILED
                     ? "another writer has set the pointer since"
                     : had_prev ? "set back to '" : "removed again",
                 st == S3_OK && had_prev ? (int)(prev_len < 64 ? prev_len : 64)
                                         : 0,
                 had_prev ? (const char *)prev : "",
                 st == S3_OK && had_prev ? "'" : "");
out:
    free(prev);
    free(body);
    loc_release(&l);
    return rc;
}

int s3store_pointer_clear(const char *url, const char *name,
                          struct fr_error *err)
{
    struct loc l;
    char key[S3_KEY_MAX + 1], version[STORE_VERSION_MAX + 1];
    int rc, st;

    /* S3's DELETE answers 204 whether or not the key existed: read first,
     * so the caller can say whether there was a candidate. */
    rc = s3store_pointer(url, name, version, err);
    if (rc <= 0)
        return rc;
    if (loc_open(url, &l, err) != 0)
        return -1;
    rc = -1;
    if (key_of(&l, name, key, sizeof key, err) == 0) {
        st = s3_delete(l.client, l.url.bucket, key, err);
        if (st == S3_OK || st == S3_NOT_FOUND)
            rc = 1;
    }
    loc_release(&l);
    return rc;
}

/* A version seen in a listing. */
struct version_entry {
    char name[STORE_VERSION_MAX + 1];
    char modified[32]; /* model.bin's LastModified, else its first
                          object's */
    int has_model;
};

static int older_first(const void *a, const void *b)
{
    const struct version_entry *x = a, *y = b;
    int c = strcmp(x->modified, y->modified);

    return c != 0 ? c : strcmp(x->name, y->name);
}

/* Deletes the objects of list whose keys start with prefix, model.bin
 * first: from the first DELETE on, the version no longer exists for
 * s3store_version_exists, s3store_pointer_set's check and servers. */
static int delete_under(struct loc *l, const struct s3_list *list,
                        const char *prefix, struct fr_error *err)
{
    size_t n = strlen(prefix);

    for (int pass = 0; pass < 2; pass++) {
        for (size_t i = 0; i < list->n; i++) {
            const char *key = list->entries[i].key;
            int is_model;
            if (strncmp(key, prefix, n) != 0)
                continue;
            is_model = strcmp(key + n, "model.bin") == 0;
            if (is_model != (pass == 0))
                continue;
            if (s3_delete(l->client, l->url.bucket, key, err) != S3_OK)
                return -1;
        }
    }
    return 0;
}

/* LastModified ("2026-11-27T21:30:00.000Z") as seconds since the epoch,
 * moved to the end of its second when it has no fraction (SeaweedFS
 * writes whole seconds), so a version uploaded within the second a
 * trainer started counts as possibly after it. Returns 0, or -1 when it
 * does not parse. */
static int modified_latest(const char *s, double *t)
{
    struct tm tm;
    const char *p;
    char *end;
    double frac = 1.0;

    memset(&tm, 0, sizeof tm);
    p = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
    if (p == NULL)
        return -1;
    if (*p == '.') {
        frac = strtod(p, &end);
        if (frac == 0.0)
            frac = 1.0; /* ".000": whole seconds */
        p = end;
    }
    if (strcmp(p, "Z") != 0)
        return -1;
    *t = (double)timegm(&tm) + frac;
    return 0;
}

/* The pointers `current` and `candidate` as read once: bodies (NULL when
 * absent) and ETags. */
struct pointers {
    uint8_t *body[2];
    size_t len[2];
    char etag[2][S3_ETAG_MAX + 1];
};

static const char *const pointer_names[2] = {"current", "candidate"};

static void pointers_release(struct pointers *p)
{
    for (int i = 0; i < 2; i++)
        free(p->body[i]);
    memset(p, 0, sizeof *p);
}

/* Reads both pointers. Returns 0, or -1 with err set (p released). */
static int pointers_read(struct loc *l, struct pointers *p,
                         struct fr_error *err)
{
    char key[S3_KEY_MAX + 1];

    memset(p, 0, sizeof *p);
    for (int i = 0; i < 2; i++) {
        if (key_of(l, pointer_names[i], key, sizeof key, err) != 0 ||
            pointer_read(l, key, &p->body[i], &p->len[i], p->etag[i],
                         err) < 0) {
            pointers_release(p);
            return -1;
        }
    }
    return 0;
}

/* The pointer of p (0 current, 1 candidate) naming version, or -1. */
static int pointer_naming(const struct pointers *p, const char *version)
{
    for (int i = 0; i < 2; i++)
        if (p->body[i] != NULL && body_names(p->body[i], p->len[i], version))
            return i;
    return -1;
}

/* Deletes version v (its objects in list, under vprefix), unless a
 * pointer names it when read just before. Read again just after: a
 * trainer that pointed at v in between, and whose own check
 * (s3store_pointer_set) came before the deletion, has its pointer put back
 * to what it said before (If-Match, so a later write stays), and the
 * deletion is an error. Returns 1 deleted, 0 spared, -1 with err set. */
static int delete_version(struct loc *l, const struct s3_list *list,
                          const char *vprefix, const char *v,
                          struct fr_error *err)
{
    struct pointers before, after;
    char key[S3_KEY_MAX + 1];
    int rc = -1, i, st;

    if (pointers_read(l, &before, err) != 0)
        return -1;
    if (pointer_naming(&before, v) >= 0) {
        pointers_release(&before);
        return 0;
    }
    if (delete_under(l, list, vprefix, err) != 0 ||
        pointers_read(l, &after, err) != 0) {
        pointers_release(&before);
        return -1;
    }
    i = pointer_naming(&after, v);
    if (i < 0) {
        rc = 1;
        goto out;
    }
    if (key_of(l, pointer_names[i], key, sizeof key, err) != 0)
        goto out;
    if (before.body[i] != NULL)
        st = s3_put(l->client, l->url.bucket, key, before.body[i],
                    before.len[i], "text/plain", NULL, after.etag[i], NULL,
                    err);
    else
        st = s3_delete(l->client, l->url.bucket, key, err);
    fr_error_set(err, "'%s' was made the %s while it was being deleted; "
                 "the pointer %s", v, pointer_names[i],
                 st == S3_OK ? "is put back as it was"
                 : st == S3_PRECONDITION_FAILED ? "has been written since"
                 : "could not be put back");
out:
    pointers_release(&before);
    pointers_release(&after);
    return rc;
}

/* Lists the objects under versions/ into list (their key prefix into
 * prefix) and the versions they belong to into *v (*n of them, by name;
 * the caller frees *v and releases list). No delimiter: SeaweedFS lists
 * emptied "directories" as common prefixes, which must not pass for
 * versions. Returns 0 or -1 with err set. */
static int list_versions(struct loc *l, struct s3_list *list, char *prefix,
                         size_t prefix_len, struct version_entry **v,
                         size_t *n, struct fr_error *err)
{
    size_t plen;

    *v = NULL;
    *n = 0;
    if (key_of(l, "versions/", prefix, prefix_len, err) != 0 ||
        s3_list_objects(l->client, l->url.bucket, prefix, NULL, LIST_MAX, 0,
                        list, err) != S3_OK)
        return -1;
    plen = strlen(prefix);
    *v = calloc(list->n ? list->n : 1, sizeof **v);
    if (*v == NULL) {
        fr_error_set(err, "out of memory listing 's3://%s/%s'",
                     l->url.bucket, prefix);
        return -1;
    }
    for (size_t i = 0; i < list->n; i++) {
        const struct s3_list_entry *e = &list->entries[i];
        const char *name = e->key + plen, *slash = strchr(name, '/');
        struct version_entry *last = *n ? &(*v)[*n - 1] : NULL;
        size_t len;
        if (slash == NULL || (size_t)(slash - name) > STORE_VERSION_MAX)
            continue;
        len = (size_t)(slash - name);
        /* Keys are sorted: a version's objects are together. */
        if (last == NULL || strncmp(last->name, name, len) != 0 ||
            last->name[len] != '\0') {
            last = &(*v)[*n];
            memcpy(last->name, name, len);
            last->name[len] = '\0';
            if (!store_version_valid(last->name))
                continue;
            snprintf(last->modified, sizeof last->modified, "%s",
                     e->modified);
            (*n)++;
        }
        if (strcmp(slash + 1, "model.bin") == 0) {
            snprintf(last->modified, sizeof last->modified, "%s",
                     e->modified);
            last->has_model = 1;
        }
    }
    return 0;
}

int s3store_prune(const char *url, unsigned keep, const char *spare,
                  double started, struct fr_error *err)
{
    struct loc l;
    struct s3_list list = {0};
    struct version_entry *v = NULL;
    char current[STORE_VERSION_MAX + 1] = "", prefix[S3_KEY_MAX + 1];
    char candidate[STORE_VERSION_MAX + 1] = "";
    size_t n = 0, removable;
    int removed = -1, done;
    double t;

    if (s3store_current(url, current, err) < 0 ||
        s3store_pointer(url, "candidate", candidate, err) < 0)
        return -1;
    if (loc_open(url, &l, err) != 0)
        return -1;
    if (list_versions(&l, &list, prefix, sizeof prefix, &v, &n, err) != 0)
        goto out;
    removed = 0;
    if (n <= keep)
        goto out;
    qsort(v, n, sizeof *v, older_first);
    removable = n - keep;
    for (size_t i = 0; i < n && removable > 0; i++) {
        char vprefix[S3_KEY_MAX + 1];
        if (strcmp(v[i].name, current) == 0 ||
            strcmp(v[i].name, candidate) == 0 ||
            (spare != NULL && strcmp(v[i].name, spare) == 0))
            continue;
        /* Uploaded since this trainer started: another trainer's, which
         * may be about to name it in `current` (S3 has no lock to keep
         * trainers apart). An unreadable time counts as old. */
        if (started > 0 && modified_latest(v[i].modified, &t) == 0 &&
            t > started)
            continue;
        if ((size_t)snprintf(vprefix, sizeof vprefix, "%s%s/", prefix,
                             v[i].name) >= sizeof vprefix) {
            fr_error_set(err, "key too long under '%s'", prefix);
            done = -1;
        } else {
            done = delete_version(&l, &list, vprefix, v[i].name, err);
        }
        if (done < 0) {
            fr_error_prefix(err, "cannot delete old version '%s'",
                            v[i].name);
            removed = -1;
            goto out;
        }
        removed += done;
        removable -= (size_t)done;
    }
out:
    free(v);
    s3_list_release(&list);
    loc_release(&l);
    return removed;
}

int s3store_versions(const char *url, char ***names, size_t *n,
                     struct fr_error *err)
{
    struct loc l;
    struct s3_list list = {0};
    struct version_entry *v = NULL;
    char prefix[S3_KEY_MAX + 1];
    char **out = NULL;
    size_t nv = 0, k = 0;
    int rc = -1;

    *names = NULL;
    *n = 0;
    if (loc_open(url, &l, err) != 0)
        return -1;
    if (list_versions(&l, &list, prefix, sizeof prefix, &v, &nv, err) != 0)
        goto out;
    out = calloc(nv ? nv : 1, sizeof *out);
    if (out == NULL)
        goto nomem;
    for (size_t i = 0; i < nv; i++) {
        if (!v[i].has_model)
            continue;
        out[k] = strdup(v[i].name);
        if (out[k] == NULL)
            goto nomem;
        k++;
    }
    *names = out;
    *n = k;
    out = NULL;
    rc = 0;
    goto out;
nomem:
    fr_error_set(err, "out of memory listing '%s'", url);
out:
    store_paths_free(out, k);
    free(v);
    s3_list_release(&list);
    loc_release(&l);
    return rc;
}

int s3store_read(const char *path, size_t max, uint8_t **buf, size_t *len,
                 struct fr_error *err)
{
    struct loc l;
    int st;

    *buf = NULL;
    *len = 0;
    if (loc_open(path, &l, err) != 0)
        return -1;
    st = s3_get(l.client, l.url.bucket, l.url.key, max, NULL, buf, len, NULL,
                err);
    loc_release(&l);
    return st == S3_OK ? 0 : st == S3_NOT_FOUND ? 1 : -1;
}

int s3store_write(const char *path, const void *buf, size_t len,
                  struct fr_error *err)
{
    struct loc l;
    int st;

    if (loc_open(path, &l, err) != 0)
        return -1;
    st = s3_put(l.client, l.url.bucket, l.url.key, buf, len,
                "application/octet-stream", NULL, NULL, NULL, err);
    loc_release(&l);
    return st == S3_OK ? 0 : -1;
}

int s3store_list(const char *dir, const char *pattern, char ***paths,
                 size_t *n, struct fr_error *err)
{
    struct loc l;
    struct s3_list list = {0};
    char prefix[S3_KEY_MAX + 1];
    char **out = NULL;
    size_t plen, k = 0;
    int rc = -1;

    *paths = NULL;
    *n = 0;
    if (loc_open(dir, &l, err) != 0)
        return -1;
    if ((size_t)snprintf(prefix, sizeof prefix, "%s/", l.url.key) >=
            sizeof prefix ||
        s3_list_objects(l.client, l.url.bucket, prefix, "/", LIST_MAX, 0,
                        &list, err) != S3_OK)
        goto out;
    plen = strlen(prefix);
    out = calloc(list.n ? list.n : 1, sizeof *out);
    if (out == NULL)
        goto nomem;
    for (size_t i = 0; i < list.n; i++) {
        const char *name = list.entries[i].key + plen;
        size_t need;
        if (list.entries[i].is_prefix || fnmatch(pattern, name, 0) != 0)
            continue;
        need = strlen(dir) + strlen(name) + 2;
        out[k] = malloc(need);
        if (out[k] == NULL)
            goto nomem;
        snprintf(out[k], need, "%s/%s", dir, name);
        k++;
    }
    *paths = out;
    *n = k;
    out = NULL;
    rc = 0;
    goto out;
nomem:
    fr_error_set(err, "out of memory listing '%s'", dir);
out:
    if (out != NULL) {
        for (size_t i = 0; i < k; i++)
            free(out[i]);
        free(out);
    }
    s3_list_release(&list);
    loc_release(&l);
    return rc;
}

int s3store_remove_tree(const char *dir, struct fr_error *err)
{
    struct loc l;
    struct s3_list list = {0};
    char prefix[S3_KEY_MAX + 1];
    int rc = -1;

    if (loc_open(dir, &l, err) != 0)
        return -1;
    if ((size_t)snprintf(prefix, sizeof prefix, "%s/", l.url.key) <
            sizeof prefix &&
        s3_list_objects(l.client, l.url.bucket, prefix, NULL, LIST_MAX, 0,
                        &list, err) == S3_OK &&
        delete_under(&l, &list, prefix, err) == 0)
        rc = 0;
    s3_list_release(&list);
    loc_release(&l);
    return rc;
}
