/*
 * file.h: whole-file reads and atomic writes, for every file of the model
 * store and the programs' other inputs (a token file).
 */
#ifndef FR_FILE_H
#define FR_FILE_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"

/* Writes len bytes to path through a temporary file beside it, fsync and
 * rename, then fsyncs the directory, so readers see the old file or the
 * whole new one and a crash loses neither. Returns 0, or -1 with err set
 * ("cannot write 'path': reason"); the temporary file is removed. */
int file_write_atomic(const char *path, const void *data, size_t len,
                      struct fr_error *err);

/* Reads a whole file of at most max_len bytes into a malloc'd buffer with a
 * NUL after the end (*len excludes it; the caller frees *buf). Anything but
 * a regular file (a FIFO, a device, a directory) is refused without
 * blocking. Returns 0, or -1 with err set. */
int file_read_all(const char *path, size_t max_len, uint8_t **buf,
                  size_t *len, struct fr_error *err);

/* fsyncs a directory, so renames and unlinks in it are durable. Returns 0,
 * or -1 with errno set. */
int file_fsync_dir(const char *dir);

#endif
