/*
 * encoding.h: request bodies sent compressed (Content-Encoding: gzip or
 * deflate, as Triton's clients send them), decoded with zlib.
 *
 * The decoder never holds more than max bytes of output plus one: it
 * stops as soon as the output passes max, so a small body that inflates
 * to gigabytes (a decompression bomb) costs at most max bytes. The output
 * buffer grows through a callback, so the server can take each growth
 * from its body budget before the memory is allocated.
 */
#ifndef FS_ENCODING_H
#define FS_ENCODING_H

#include <stddef.h>

#include "buf.h"
#include "error.h"

enum encoding {
    ENCODING_IDENTITY, /* no header, "identity" or empty */
    ENCODING_GZIP,     /* "gzip" or "x-gzip": RFC 1952 */
    ENCODING_DEFLATE   /* "deflate": the zlib format of RFC 1950, which is
                          what HTTP's "deflate" means and what Triton's
                          client sends (Python's zlib.compress) */
};

/* Reads a Content-Encoding header value (NULL: none). Returns 0 with *enc
 * set, or -1 with err set for a coding the server does not take (several
 * codings, "br", ...): the caller answers 415. */
int encoding_parse(const char *value, enum encoding *enc,
                   struct fr_error *err);

/* Makes out hold at least need bytes and its NUL (cap >= need + 1).
 * Returns 0, or the HTTP status to answer: 503 when the body budget is
 * spent, 500 when memory runs out. */
typedef int (*encoding_room_fn)(void *ctx, struct buf *out, size_t need);

/* Decodes len bytes of in into out (empty; the caller resets it), at most
 * max bytes. Returns 0 with out->len the decoded size (NUL-terminated), or
 * with err set: 400 for a corrupt or truncated stream or bytes after it,
 * 413 when the output would pass max (decoding stops there), the status
 * room returned, or 500 when zlib has no memory. ENCODING_IDENTITY copies. */
int encoding_decode(enum encoding enc, const char *in, size_t len,
                    size_t max, struct buf *out, encoding_room_fn room,
                    void *ctx, struct fr_error *err);

#endif
