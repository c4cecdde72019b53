/*
 * csvfile.h: streaming CSV reading on top of libcsv, with line numbers.
 *
 * libcsv parses the bytes (quoting, escaped quotes, CRLF); this module adds
 * what error messages need: the physical line each record ends on, and a
 * row callback that sees the whole record at once. The first record is the
 * header: its names must be 1-255 bytes of UTF-8 text without control
 * characters, and unique (a UTF-8 byte order mark before it is dropped),
 * and every data record must have as many fields.
 * Blank lines are skipped; a NUL byte is an error.
 */
#ifndef FR_CSVFILE_H
#define FR_CSVFILE_H

#include <stddef.h>
#include <stdio.h>

#include "error.h"

struct csvfile_row {
    size_t n_fields;      /* fields in this record; a data record has
                             exactly as many as the header */
    char **fields;        /* NUL-terminated field texts */
    const double *values; /* NULL, or n_fields values: values[i] is what
                             csvfile_number reads from fields[i], or NaN
                             when the reader did not parse it (call
                             csvfile_number then) */
    char *const *header;  /* the header's n_fields names (for messages) */
    size_t line;          /* 1-based physical line the record ends on */
};

/* Called once per record, header included (is_header != 0). Returns 0 to go
 * on, or -1 after setting err to stop reading. */
typedef int (*csvfile_row_fn)(const struct csvfile_row *row, int is_header,
                              void *ctx, struct fr_error *err);

/* Reads path record by record. Returns the number of data records (header
 * excluded, at least 1) or -1 with err set: the file is missing or
 * unreadable, it is empty or has only a header, a header name is empty,
 * too long, not UTF-8 text, holds a control character or is repeated, a
 * record has another number of fields than the
 * header, it is not valid CSV, or the callback stopped. */
long csvfile_read(const char *path, csvfile_row_fn fn, void *ctx,
                  struct fr_error *err);

/* Parses a whole field as a plain decimal number (config_decimal_span:
 * "12", "-0.5", "1e-05"; spaces and tabs around it are allowed, hexadecimal,
 * inf and nan are not) within float32's range (features are float32, and so
 * are the trees' leaf values). Returns 0, or -1 with err set to "'path' line
 * L column C ('name'): 'text' is not a number" or the like. */
int csvfile_number(const char *text, const char *path, size_t line,
                   size_t column, const char *column_name, double *out,
                   struct fr_error *err);

/* Opens path for writing a CSV file; "-" means standard output, as it does
 * for the command-line tools that write one. Returns the stream, or NULL
 * with err set ("cannot write 'path': reason"). Close it with
 * csvfile_finish. */
FILE *csvfile_create(const char *path, struct fr_error *err);

/* Flushes and closes a stream of csvfile_create (standard output is flushed
 * and left open). Returns 0, or -1 with err set when any write failed. */
int csvfile_finish(FILE *fp, const char *path, struct fr_error *err);

#endif
