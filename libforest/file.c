/*
 * file.c: whole-file reads and atomic writes for the model store (file.h).
 *
 * One place for the rules every store file follows, whatever it holds
 * (model.bin, metadata.json, report.svg, shards, a token file): writes go
 * to a temporary file that is fsynced and renamed over the target, then the
 * directory is fsynced; reads never block on something that is not a
 * regular file and never take more than the caller's limit.
 */
#include "file.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int file_fsync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    int rc;

    if (fd < 0)
        return -1;
    rc = fsync(fd);
    close(fd);
    return rc;
}

/* fsyncs the directory that holds path, so a rename into it is durable. */
static int fsync_dir_of(const char *path)
{
    char *copy = strdup(path);
    int rc;

    if (copy == NULL)
        return -1;
    rc = file_fsync_dir(dirname(copy));
    free(copy);
    return rc;
}

int file_write_atomic(const char *path, const void *data, size_t len,
                     struct fr_error *err)
{
    char tmp[4096];
    const uint8_t *p = data;
    int fd = -1;

    if ((size_t)snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid())
        >= sizeof tmp) {
        fr_error_set(err, "path too long: '%s'", path);
        return -1;
    }
    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        goto fail;
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            goto fail;
        p += n;
        len -= (size_t)n;
    }
    if (fsync(fd) != 0)
        goto fail;
    if (close(fd) != 0) {
        fd = -1;
        goto fail;
    }
    fd = -1;
    if (rename(tmp, path) != 0)
        goto fail;
    if (fsync_dir_of(path) != 0)
        goto fail;
    return 0;
fail:
    fr_error_set(err, "cannot write '%s': %s", path, strerror(errno));
    if (fd >= 0)
        close(fd); /* after the message: close may change errno */
    unlink(tmp);
    return -1;
}

int file_read_all(const char *path, size_t max_len, uint8_t **buf,
                    size_t *len, struct fr_error *err)
{
    struct stat st;
    uint8_t *data = NULL;
    size_t got = 0;
    int fd;

    /* O_NONBLOCK: opening a FIFO for reading blocks until a writer comes,
     * which would hang the caller (a reload thread, a promote) before the
     * check below could refuse it. For a regular file the flag changes
     * nothing, and it is cleared once the file is known to be one. */
    fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
    if (fd < 0) {
        fr_error_set(err, "cannot open '%s': %s", path, strerror(errno));
        return -1;
    }
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        fr_error_set(err, "cannot read '%s': not a regular file", path);
        goto fail;
    }
    if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK) != 0) {
        fr_error_set(err, "cannot read '%s': %s", path, strerror(errno));
        goto fail;
    }
    if ((uint64_t)st.st_size > max_len) {
        fr_error_set(err, "'%s' is %lld bytes, over the limit of %zu", path,
                     (long long)st.st_size, max_len);
        goto fail;
    }
    data = malloc((size_t)st.st_size + 1);
    if (data == NULL) {
        fr_error_set(err, "cannot read '%s': out of memory", path);
        goto fail;
    }
    while (got < (size_t)st.st_size) {
        ssize_t n = read(fd, data + got, (size_t)st.st_size - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            fr_error_set(err, "cannot read '%s': %s", path, strerror(errno));
            goto fail;
        }
        if (n == 0)
            break; /* shrank while reading: decoding will say truncated */
        got += (size_t)n;
    }
    data[got] = '\0';
    close(fd);
    *buf = data;
    *len = got;
    return 0;
fail:
    free(data);
    close(fd);
    return -1;
}
