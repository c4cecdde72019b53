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
#include "store_s3.h"

#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "file.h"
#include "model.h"
#include "s3.h"
#include "store.h"

#define LIST_MAX 200000          /* objects a store listing may hold */
#define CURRENT_MAX 4096         /* bytes of `current` read */

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

int s3store_pointer_set(const char *url, const char *name,
                        const char *version, struct fr_error *err)
{
    struct loc l;
    char key[S3_KEY_MAX + 1];
    int rc = -1;

    if (loc_open(url, &l, err) != 0)
        return -1;
    /* One PUT replaces the object whole: a reader sees the old body or
     * the new one. */
    if (key_of(&l, name, key, sizeof key, err) == 0 &&
        s3_put(l.client, l.url.bucket, key, version, strlen(version),
               "text/plain", NULL, NULL, NULL, err) == S3_OK)
        rc = 0;
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

/* Deletes the objects of list whose keys start with prefix. */
static int delete_under(struct loc *l, const struct s3_list *list,
                        const char *prefix, struct fr_error *err)
{
    size_t n = strlen(prefix);

    for (size_t i = 0; i < list->n; i++) {
        if (strncmp(list->entries[i].key, prefix, n) == 0 &&
            s3_delete(l->client, l->url.bucket, list->entries[i].key,
                      err) != S3_OK)
            return -1;
    }
    return 0;
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
                  struct fr_error *err)
{
    struct loc l;
    struct s3_list list = {0};
    struct version_entry *v = NULL;
    char current[STORE_VERSION_MAX + 1] = "", prefix[S3_KEY_MAX + 1];
    char candidate[STORE_VERSION_MAX + 1] = "";
    size_t n = 0, removable;
    int removed = -1;

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
        if ((size_t)snprintf(vprefix, sizeof vprefix, "%s%s/", prefix,
                             v[i].name) >= sizeof vprefix ||
            delete_under(&l, &list, vprefix, err) != 0) {
            fr_error_prefix(err, "cannot delete old version '%s'",
                            v[i].name);
            removed = -1;
            goto out;
        }
        removed++;
        removable--;
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
