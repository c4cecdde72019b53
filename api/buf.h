/*
 * buf.h: a growable byte buffer that writes JSON and Prometheus text.
 *
 * The server keeps one output buffer per connection and reuses it for every
 * request on that connection, so answering a request costs no allocation
 * once the buffer has grown to the size of a typical answer. Writers never
 * fail one by one: a write that cannot grow the buffer sets `failed`, later
 * writes do nothing, and the caller checks the flag once at the end.
 */
#ifndef FS_BUF_H
#define FS_BUF_H

#include <stddef.h>

#define BUF_MAX_BYTES (256u * 1024 * 1024) /* refuse to grow past this */
/* Reset frees anything larger: every idle keep-alive connection keeps its
 * buffers, so this times MAX_CONNECTIONS must fit the pod (api/README.md,
 * Memory). Typical bodies and answers are under 1 KiB. */
#define BUF_KEEP_BYTES (16u * 1024)

struct buf {
    char *data;  /* NUL-terminated when cap > 0; NULL when cap == 0 */
    size_t len;  /* bytes written, excluding the NUL */
    size_t cap;  /* bytes allocated, 0 or > len */
    int failed;  /* a write ran out of memory or hit BUF_MAX_BYTES */
};

/* Prepares an empty buffer; allocates nothing, cannot fail. */
void buf_init(struct buf *b);

/* Frees the memory and leaves an empty buffer. */
void buf_release(struct buf *b);

/* Empties the buffer for the next request and clears `failed`; keeps the
 * memory unless it grew past BUF_KEEP_BYTES, so one huge request does not
 * pin memory on an idle keep-alive connection. */
void buf_reset(struct buf *b);

/* Makes room for `extra` more bytes (and the NUL). Returns 0, or -1 and
 * sets `failed` when memory runs out or the size would pass BUF_MAX_BYTES. */
int buf_reserve(struct buf *b, size_t extra);

/* Grows the memory to exactly cap bytes (the NUL included), for a caller
 * that accounts for it; does nothing when cap <= b->cap. Returns 0, or -1
 * and sets `failed` when memory runs out or cap passes BUF_MAX_BYTES. */
int buf_grow_exact(struct buf *b, size_t cap);

/* Appends n bytes. Sets `failed` on error. */
void buf_add(struct buf *b, const void *data, size_t n);

/* Appends a NUL-terminated string. Sets `failed` on error. */
void buf_puts(struct buf *b, const char *s);

/* Appends printf-style text. Sets `failed` on error. */
void buf_printf(struct buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Appends s as a quoted JSON string, escaping quotes, backslashes and
 * control characters (bytes >= 0x80 pass through: the input is UTF-8 that
 * came out of a JSON parser or out of our own files). */
void buf_json_string(struct buf *b, const char *s);

/* Appends the shortest of %.15g, %.16g, %.17g that reads back as v, or null
 * when v is not finite (JSON has no NaN). */
void buf_json_double(struct buf *b, double v);

/* Appends the shortest of %.6g .. %.9g that reads back as v (as a float),
 * or null when v is not finite: FP32 answers of the V2 protocol. */
void buf_json_float(struct buf *b, float v);

#endif
