/*
 * store.c: staging, promotion and pruning of model versions (store.h).
 *
 * Each public function serves both backends: a MODEL_DIR starting with
 * s3:// goes to store_s3.c, anything else is a directory. On S3 a version
 * is still staged in a local directory (under TMPDIR), then uploaded by
 * store_stage_commit.
 */
#define _GNU_SOURCE /* nftw's FTW_PHYS and FTW_DEPTH */
#include "store.h"

#include <assert.h>
#include <cjson/cJSON.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <ftw.h>
#include <glob.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#include "file.h"
#include "model.h"
#include "store_s3.h"

#define STAGING_PREFIX ".staging-"
#define STALE_STAGING_SECONDS 3600

int store_is_s3(const char *location)
{
    return location != NULL && strncmp(location, "s3://", 5) == 0;
}

int store_read(const char *path, size_t max, uint8_t **buf, size_t *len,
               struct fr_error *err)
{
    struct stat st;

    if (store_is_s3(path))
        return s3store_read(path, max, buf, len, err);
    *buf = NULL;
    *len = 0;
    if (stat(path, &st) != 0 && errno == ENOENT) {
        fr_error_set(err, "cannot read '%s': %s", path, strerror(errno));
        return 1;
    }
    return file_read_all(path, max, buf, len, err);
}

int store_write(const char *path, const void *buf, size_t len,
                struct fr_error *err)
{
    if (store_is_s3(path))
        return s3store_write(path, buf, len, err);
    return file_write_atomic(path, buf, len, err);
}

struct model *store_model_load(const char *path, uint32_t *crc,
                               struct fr_error *err)
{
    uint8_t *buf = NULL;
    size_t len = 0;
    struct model *m;

    if (!store_is_s3(path))
        return model_load(path, crc, err);
    /* model_load's steps, with the bytes from the object store. */
    if (store_read(path, MODEL_MAX_BYTES, &buf, &len, err) != 0)
        return NULL;
    m = model_decode(buf, len, crc, err);
    if (m == NULL)
        fr_error_prefix(err, "cannot load model '%s'", path);
    free(buf);
    return m;
}

int store_list(const char *dir, const char *pattern, char ***paths,
               size_t *n, struct fr_error *err)
{
    char glob_pattern[PATH_MAX];
    glob_t g = {0};
    char **out;

    if (store_is_s3(dir))
        return s3store_list(dir, pattern, paths, n, err);
    *paths = NULL;
    *n = 0;
    if ((size_t)snprintf(glob_pattern, sizeof glob_pattern, "%s/%s", dir,
                         pattern) >= sizeof glob_pattern) {
        fr_error_set(err, "path too long under '%s'", dir);
        return -1;
    }
    if (glob(glob_pattern, 0, NULL, &g) != 0)
        return 0; /* no match, or an unreadable directory: nothing */
    out = calloc(g.gl_pathc, sizeof *out);
    if (out == NULL) {
        globfree(&g);
        fr_error_set(err, "out of memory listing '%s'", dir);
        return -1;
    }
    /* glob's own strings, taken over: globfree would free them. */
    for (size_t i = 0; i < g.gl_pathc; i++) {
        out[i] = strdup(g.gl_pathv[i]);
        if (out[i] == NULL) {
            store_paths_free(out, i);
            globfree(&g);
            fr_error_set(err, "out of memory listing '%s'", dir);
            return -1;
        }
    }
    *paths = out;
    *n = g.gl_pathc;
    globfree(&g);
    return 0;
}

void store_paths_free(char **paths, size_t n)
{
    if (paths == NULL)
        return;
    for (size_t i = 0; i < n; i++)
        free(paths[i]);
    free(paths);
}

int store_version_valid(const char *v)
{
    size_t n = strlen(v);

    if (n == 0 || n > STORE_VERSION_MAX || v[0] == '.')
        return 0;
    for (size_t i = 0; i < n; i++) {
        char c = v[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-'))
            return 0;
    }
    return 1;
}

/* snprintf into buf, failing when it does not fit. */
static int join(char *buf, size_t len, struct fr_error *err, const char *fmt,
                const char *a, const char *b)
{
    if ((size_t)snprintf(buf, len, fmt, a, b) >= len) {
        fr_error_set(err, "path too long under '%s'", a);
        return -1;
    }
    return 0;
}

static int exists(const char *path)
{
    struct stat st;

    return lstat(path, &st) == 0;
}

int store_check_dir(const char *model_dir, struct fr_error *err)
{
    char version[STORE_VERSION_MAX + 1];
    struct stat sb;

    if (store_is_s3(model_dir))
        return s3store_check(model_dir, err);
    if (stat(model_dir, &sb) != 0 || !S_ISDIR(sb.st_mode)) {
        fr_error_set(err, "'%s' is not a directory", model_dir);
        return -1;
    }
    if (access(model_dir, W_OK) != 0) {
        fr_error_set(err, "'%s' is not writable: %s", model_dir,
                     strerror(errno));
        return -1;
    }
    /* A `current` that is not our link would only fail after training. */
    return store_current(model_dir, version, err) < 0 ? -1 : 0;
}

int store_stage_begin(const char *model_dir, const char *version,
                      struct store_stage *st, struct fr_error *err)
{
    char versions[PATH_MAX];

    memset(st, 0, sizeof *st);
    if (store_check_dir(model_dir, err) != 0)
        return -1;
    if (strlen(model_dir) >= sizeof st->model_dir) {
        fr_error_set(err, "the store's path '%.64s...' is too long", model_dir);
        return -1;
    }
    strcpy(st->model_dir, model_dir);
    if (join(versions, sizeof versions, err, "%s/%s", model_dir, "versions"))
        return -1;
    if (!store_is_s3(model_dir) && mkdir(versions, 0755) != 0 &&
        errno != EEXIST) {
        fr_error_set(err, "cannot create '%s': %s", versions, strerror(errno));
        return -1;
    }
    if (version != NULL) {
        if (!store_version_valid(version)) {
            fr_error_set(err, "'%s' is not a valid version name "
                         "(1-%d characters of A-Z a-z 0-9 . _ -, not starting "
                         "with a dot)", version, STORE_VERSION_MAX);
            return -1;
        }
        /* Whether it is free is for store_stage_name to say, under the
         * lock: said here, it could change before the commit anyway. */
        strcpy(st->version, version);
        st->chosen = 1;
        if (join(st->final, sizeof st->final, err, "%s/versions/%s",
                 model_dir, st->version))
            return -1;
    }
    /* Unique without knowing the version: the name is settled at commit,
     * and a crashed run's directory is pruned when stale. On S3, a local
     * directory the upload reads from. */
    if (store_is_s3(model_dir)) {
        const char *tmp = getenv("TMPDIR");
        if ((size_t)snprintf(st->staging, sizeof st->staging,
                             "%s/forest-train%s%ld-XXXXXX",
                             tmp != NULL && tmp[0] ? tmp : "/tmp",
                             STAGING_PREFIX, (long)getpid()) >=
            sizeof st->staging) {
            fr_error_set(err, "TMPDIR is too long");
            st->staging[0] = '\0';
            return -1;
        }
    } else if ((size_t)snprintf(st->staging, sizeof st->staging,
                                "%s/%s%ld-XXXXXX", model_dir, STAGING_PREFIX,
                                (long)getpid()) >= sizeof st->staging) {
        fr_error_set(err, "path too long under '%s'", model_dir);
        st->staging[0] = '\0';
        return -1;
    }
    if (mkdtemp(st->staging) == NULL) {
        fr_error_set(err, "cannot create '%s': %s", st->staging,
                     strerror(errno));
        st->staging[0] = '\0';
        return -1;
    }
    /* mkdtemp makes it 0700; the server may run as another user. */
    if (chmod(st->staging, 0755) != 0) {
        fr_error_set(err, "cannot make '%s' readable: %s", st->staging,
                     strerror(errno));
        store_stage_abort(st);
        return -1;
    }
    return 0;
}

int store_stage_name(struct store_stage *st, time_t now,
                     struct fr_error *err)
{
    char stamp[32];
    struct tm tm;

    if (st->chosen) {
        int taken = store_is_s3(st->model_dir)
                        ? s3store_version_exists(st->model_dir, st->version,
                                                 err)
                        : exists(st->final);
        if (taken < 0)
            return -1;
        if (taken) {
            fr_error_set(err, "version '%s' already exists in '%s/versions'",
                         st->version, st->model_dir);
            return -1;
        }
        return 0;
    }
    gmtime_r(&now, &tm);
    strftime(stamp, sizeof stamp, "%Y%m%dT%H%M%SZ", &tm);
    /* Bounded so a store flooded with one second's names still ends. */
    for (int k = 1; k <= 10000; k++) {
        if (k == 1)
            snprintf(st->version, sizeof st->version, "%s", stamp);
        else
            snprintf(st->version, sizeof st->version, "%s-%d", stamp, k);
        if (join(st->final, sizeof st->final, err, "%s/versions/%s",
                 st->model_dir, st->version)) {
            st->version[0] = st->final[0] = '\0';
            return -1;
        }
        if (store_is_s3(st->model_dir)) {
            int taken = s3store_version_exists(st->model_dir, st->version,
                                               err);
            if (taken < 0) {
                st->version[0] = st->final[0] = '\0';
                return -1;
            }
            if (!taken)
                return 0;
        } else if (!exists(st->final)) {
            return 0;
        }
    }
    fr_error_set(err, "no free version name for %s in '%s/versions'", stamp,
                 st->model_dir);
    st->version[0] = st->final[0] = '\0';
    return -1;
}

int store_stage_file(const struct store_stage *st, const char *name,
                     char *buf, size_t len, struct fr_error *err)
{
    return join(buf, len, err, "%s/%s", st->staging, name);
}

int store_stage_commit(struct store_stage *st, struct fr_error *err)
{
    char versions[PATH_MAX];

    assert(st->final[0] != '\0'); /* store_stage_name came first */
    if (store_is_s3(st->model_dir)) {
        if (s3store_commit(st->model_dir, st->version, st->staging, err))
            return -1;
        store_stage_abort(st); /* the local copy, now uploaded */
        return 0;
    }
    if (join(versions, sizeof versions, err, "%s/%s", st->model_dir,
             "versions"))
        return -1;
    /* rename(2) would replace an empty directory of that name silently. */
    if (exists(st->final)) {
        fr_error_set(err, "version '%s' already exists in '%s'", st->version,
                     versions);
        return -1;
    }
    if (file_fsync_dir(st->staging) != 0 || rename(st->staging, st->final) != 0 ||
        file_fsync_dir(versions) != 0) {
        fr_error_set(err, "cannot move '%s' to '%s': %s", st->staging,
                     st->final, strerror(errno));
        return -1;
    }
    st->staging[0] = '\0';
    return 0;
}

void store_stage_abort(struct store_stage *st)
{
    if (st->staging[0] != '\0')
        store_remove_tree(st->staging);
    st->staging[0] = '\0';
}

int store_lock(const char *model_dir, struct fr_error *err)
{
    char path[PATH_MAX];
    int fd;

    if (store_is_s3(model_dir)) {
        /* No lock on S3: a descriptor that holds nothing, so callers
         * stay the same; conditional writes keep version names apart. */
        fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
        if (fd < 0)
            fr_error_set(err, "cannot open /dev/null: %s", strerror(errno));
        return fd;
    }
    if (join(path, sizeof path, err, "%s/%s", model_dir, ".lock"))
        return -1;
    fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0 || flock(fd, LOCK_EX) != 0) {
        fr_error_set(err, "cannot lock '%s': %s", path, strerror(errno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    return fd;
}

void store_unlock(int fd)
{
    if (fd >= 0)
        close(fd); /* closing releases the flock */
}

int store_pointer_valid(const char *name)
{
    return name != NULL && (strcmp(name, STORE_CURRENT) == 0 ||
                            strcmp(name, STORE_CANDIDATE) == 0);
}

int store_pointer(const char *model_dir, const char *name, char *version,
                  struct fr_error *err)
{
    char path[PATH_MAX], target[PATH_MAX];
    ssize_t n;

    assert(store_pointer_valid(name));
    if (store_is_s3(model_dir))
        return s3store_pointer(model_dir, name, version, err);
    if (join(path, sizeof path, err, "%s/%s", model_dir, name))
        return -1;
    n = readlink(path, target, sizeof target - 1);
    if (n < 0) {
        if (errno == ENOENT)
            return 0;
        fr_error_set(err, "'%s' is not a symbolic link: %s", path,
                     strerror(errno));
        return -1;
    }
    target[n] = '\0';
    if (strncmp(target, "versions/", 9) != 0 ||
        !store_version_valid(target + 9)) {
        fr_error_set(err, "'%s' points at '%s', not at versions/<version>",
                     path, target);
        return -1;
    }
    strcpy(version, target + 9);
    return 1;
}

int store_current(const char *model_dir, char *version, struct fr_error *err)
{
    return store_pointer(model_dir, STORE_CURRENT, version, err);
}

int store_pointer_poll(const char *model_dir, const char *name,
                       const char *if_none_match, char *version, char *etag,
                       size_t etag_len, struct fr_error *err)
{
    assert(store_is_s3(model_dir) && store_pointer_valid(name));
    return s3store_pointer_poll(model_dir, name, if_none_match, version,
                                etag, etag_len, err);
}

int store_current_poll(const char *model_dir, const char *if_none_match,
                       char *version, char *etag, size_t etag_len,
                       struct fr_error *err)
{
    return store_pointer_poll(model_dir, STORE_CURRENT, if_none_match,
                              version, etag, etag_len, err);
}

/* Reads and parses a version's metadata.json into *doc (the caller frees
 * it with cJSON_Delete), its path in path. Returns 0 or -1 with err set
 * (too long a path, unreadable, not JSON). */
static int read_metadata(const char *model_dir, const char *version,
                         char *path, size_t len, cJSON **doc,
                         struct fr_error *err)
{
    uint8_t *text = NULL;
    size_t n;

    if ((size_t)snprintf(path, len, "%s/versions/%s/metadata.json",
                         model_dir, version) >= len) {
        fr_error_set(err, "path too long under '%s'", model_dir);
        return -1;
    }
    if (store_read(path, 16u << 20, &text, &n, err) != 0)
        return -1;
    *doc = cJSON_ParseWithLength((const char *)text, n);
    free(text);
    if (*doc == NULL) {
        fr_error_set(err, "'%s' is not JSON", path);
        return -1;
    }
    return 0;
}

int store_version_last_day(const char *model_dir, const char *version,
                           int32_t *day, struct fr_error *err)
{
    char path[PATH_MAX];
    cJSON *doc = NULL;
    const cJSON *v;
    int rc = -1;

    if (read_metadata(model_dir, version, path, sizeof path, &doc, err) != 0)
        return -1;
    v = cJSON_GetObjectItemCaseSensitive(
        cJSON_GetObjectItemCaseSensitive(doc, "training"), "last_day");
    if (v == NULL) {
        rc = 1;
    } else if (!cJSON_IsString(v) ||
               series_parse_date(v->valuestring, day) != 0) {
        fr_error_set(err, "'%s': training.last_day is not a date", path);
    } else {
        rc = 0;
    }
    cJSON_Delete(doc);
    return rc;
}

int store_pointer_set(const char *model_dir, const char *name,
                      const char *version, struct fr_error *err)
{
    char link_tmp[PATH_MAX], link_path[PATH_MAX], target[PATH_MAX];

    assert(store_pointer_valid(name));
    if (store_is_s3(model_dir))
        return s3store_pointer_set(model_dir, name, version, err);
    if (join(target, sizeof target, err, "%s/%s", "versions", version) ||
        join(link_path, sizeof link_path, err, "%s/%s", model_dir, name))
        return -1;
    if ((size_t)snprintf(link_tmp, sizeof link_tmp, "%s/.%s.tmp.%ld",
                         model_dir, name, (long)getpid()) >=
        sizeof link_tmp) {
        fr_error_set(err, "path too long under '%s'", model_dir);
        return -1;
    }
    unlink(link_tmp);
    /* A relative target keeps working wherever the volume is mounted. */
    if (symlink(target, link_tmp) != 0) {
        fr_error_set(err, "cannot create link '%s': %s", link_tmp,
                     strerror(errno));
        return -1;
    }
    if (rename(link_tmp, link_path) != 0) {
        fr_error_set(err, "cannot switch '%s': %s", link_path,
                     strerror(errno));
        unlink(link_tmp);
        return -1;
    }
    if (file_fsync_dir(model_dir) != 0) {
        fr_error_set(err, "cannot sync '%s': %s", model_dir, strerror(errno));
        return -1;
    }
    return 0;
}

int store_promote(const char *model_dir, const char *version,
                  struct fr_error *err)
{
    return store_pointer_set(model_dir, STORE_CURRENT, version, err);
}

int store_pointer_clear(const char *model_dir, const char *name,
                        struct fr_error *err)
{
    char path[PATH_MAX], version[STORE_VERSION_MAX + 1];
    int found;

    assert(store_pointer_valid(name));
    if (store_is_s3(model_dir))
        return s3store_pointer_clear(model_dir, name, err);
    /* Only our own kind of link is removed: anything else under that
     * name is not the store's to delete. */
    found = store_pointer(model_dir, name, version, err);
    if (found <= 0)
        return found;
    if (join(path, sizeof path, err, "%s/%s", model_dir, name))
        return -1;
    if (unlink(path) != 0) {
        if (errno == ENOENT)
            return 0; /* another process cleared it meanwhile */
        fr_error_set(err, "cannot remove '%s': %s", path, strerror(errno));
        return -1;
    }
    if (file_fsync_dir(model_dir) != 0) {
        fr_error_set(err, "cannot sync '%s': %s", model_dir, strerror(errno));
        return -1;
    }
    return 1;
}

int store_space_read(const char *model_dir, struct store_space *sp,
                     struct fr_error *err)
{
    struct statvfs vfs;

    if (store_is_s3(model_dir)) {
        /* A bucket has no size to check. */
        sp->free_bytes = sp->total_bytes = ULLONG_MAX;
        return 0;
    }
    if (statvfs(model_dir, &vfs) != 0) {
        fr_error_set(err, "cannot read the free space of '%s': %s",
                     model_dir, strerror(errno));
        return -1;
    }
    sp->free_bytes = (unsigned long long)vfs.f_bavail * vfs.f_frsize;
    sp->total_bytes = (unsigned long long)vfs.f_blocks * vfs.f_frsize;
    return 0;
}

int store_space_check(const struct store_space *sp, unsigned long long bytes,
                      unsigned keep, int *crowded, struct fr_error *err)
{
    /* bytes * keep > total, without the product overflowing. */
    *crowded = keep > 0 && bytes > sp->total_bytes / keep;
    if (bytes > sp->free_bytes) {
        fr_error_set(err, "not enough space: the new version needs %llu "
                     "bytes, %llu are free", bytes, sp->free_bytes);
        return -1;
    }
    return 0;
}

static int remove_entry(const char *path, const struct stat *sb, int flag,
                        struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path) != 0 && errno != ENOENT ? -1 : 0;
}

int store_remove_tree(const char *path)
{
    struct fr_error err;

    if (store_is_s3(path))
        return s3store_remove_tree(path, &err);
    if (!exists(path))
        return 0;
    return nftw(path, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

struct entry {
    char name[STORE_VERSION_MAX + 1];
    struct timespec mtime;
};

static int older_first(const void *a, const void *b)
{
    const struct entry *x = a, *y = b;

    if (x->mtime.tv_sec != y->mtime.tv_sec)
        return x->mtime.tv_sec < y->mtime.tv_sec ? -1 : 1;
    if (x->mtime.tv_nsec != y->mtime.tv_nsec)
        return x->mtime.tv_nsec < y->mtime.tv_nsec ? -1 : 1;
    return strcmp(x->name, y->name);
}

static void prune_staging(const char *model_dir)
{
    DIR *d = opendir(model_dir);
    struct dirent *e;
    time_t now = time(NULL);

    if (d == NULL)
        return;
    while ((e = readdir(d)) != NULL) {
        char path[PATH_MAX];
        struct stat st;
        if (strncmp(e->d_name, STAGING_PREFIX, strlen(STAGING_PREFIX)) != 0)
            continue;
        if ((size_t)snprintf(path, sizeof path, "%s/%s", model_dir,
                             e->d_name) >= sizeof path)
            continue;
        if (lstat(path, &st) == 0 && now - st.st_mtime > STALE_STAGING_SECONDS)
            store_remove_tree(path);
    }
    closedir(d);
}

int store_prune(const char *model_dir, unsigned keep, const char *spare,
                double started, struct fr_error *err)
{
    char versions[PATH_MAX], current[STORE_VERSION_MAX + 1] = "";
    char candidate[STORE_VERSION_MAX + 1] = "";
    struct entry *list = NULL;
    char **names = NULL;
    size_t n_names = 0, n = 0, removable;
    int removed = 0;

    if (store_is_s3(model_dir))
        return s3store_prune(model_dir, keep, spare, started, err);
    prune_staging(model_dir);
    if (store_current(model_dir, current, err) < 0 ||
        store_pointer(model_dir, STORE_CANDIDATE, candidate, err) < 0)
        return -1;
    if (join(versions, sizeof versions, err, "%s/%s", model_dir, "versions") ||
        store_versions(model_dir, &names, &n_names, err) != 0)
        return -1;
    list = calloc(n_names ? n_names : 1, sizeof *list);
    if (list == NULL) {
        fr_error_set(err, "out of memory listing '%s'", versions);
        removed = -1;
        goto out;
    }
    for (size_t i = 0; i < n_names; i++) {
        char path[PATH_MAX];
        struct stat st;
        if ((size_t)snprintf(path, sizeof path, "%s/%s", versions,
                             names[i]) >= sizeof path ||
            lstat(path, &st) != 0 || !S_ISDIR(st.st_mode))
            continue;
        strcpy(list[n].name, names[i]);
        list[n].mtime = st.st_mtim;
        n++;
    }
    if (n <= keep)
        goto out;
    qsort(list, n, sizeof *list, older_first);
    removable = n - keep;
    for (size_t i = 0; i < n && removable > 0; i++) {
        char path[PATH_MAX];
        /* The version just written stays even beyond `keep`: one the
         * gate refused is kept for inspection, as the trainer says. The
         * candidate stays too: servers may be shadowing it. */
        if (strcmp(list[i].name, current) == 0 ||
            strcmp(list[i].name, candidate) == 0 ||
            (spare != NULL && strcmp(list[i].name, spare) == 0))
            continue;
        if (join(path, sizeof path, err, "%s/%s", versions, list[i].name) ||
            store_remove_tree(path) != 0) {
            fr_error_set(err, "cannot delete old version '%s'", path);
            removed = -1;
            goto out;
        }
        removed++;
        removable--;
    }
out:
    store_paths_free(names, n_names);
    free(list);
    return removed;
}

static int by_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int store_versions(const char *model_dir, char ***names, size_t *n,
                   struct fr_error *err)
{
    char versions[PATH_MAX];
    char **out = NULL;
    size_t k = 0, cap = 0;
    struct dirent *e;
    DIR *d;

    if (store_is_s3(model_dir))
        return s3store_versions(model_dir, names, n, err);
    *names = NULL;
    *n = 0;
    if (join(versions, sizeof versions, err, "%s/%s", model_dir, "versions"))
        return -1;
    d = opendir(versions);
    if (d == NULL) {
        fr_error_set(err, "cannot list '%s': %s", versions, strerror(errno));
        return -1;
    }
    while ((e = readdir(d)) != NULL) {
        char path[PATH_MAX];
        struct stat st;
        if (!store_version_valid(e->d_name) ||
            (size_t)snprintf(path, sizeof path, "%s/%s", versions,
                             e->d_name) >= sizeof path ||
            lstat(path, &st) != 0 || !S_ISDIR(st.st_mode))
            continue;
        if (k == cap) {
            char **p;
            cap = cap ? cap * 2 : 16;
            p = realloc(out, cap * sizeof *p);
            if (p == NULL)
                goto nomem;
            out = p;
        }
        out[k] = strdup(e->d_name);
        if (out[k] == NULL)
            goto nomem;
        k++;
    }
    closedir(d);
    if (k > 0)
        qsort(out, k, sizeof *out, by_name);
    *names = out;
    *n = k;
    return 0;
nomem:
    closedir(d);
    store_paths_free(out, k);
    fr_error_set(err, "out of memory listing '%s'", versions);
    return -1;
}
