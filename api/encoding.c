/*
 * encoding.c: compressed request bodies (see encoding.h).
 *
 * zlib's inflate does the work: windowBits 15 + 16 reads gzip (RFC 1952)
 * only, 15 the zlib format (RFC 1950) only, so a body labelled with one
 * format and sent in the other is refused rather than guessed at. The
 * output grows by doubling from a guess of four times the input, capped
 * at max + 1 bytes: reaching max + 1 is how a body past the limit is
 * told, and inflating stops there.
 */
#include "encoding.h"

#include <limits.h>
#include <stdint.h>
#include <string.h>
#include <strings.h>
#include <zlib.h>

#define ENCODING_FIRST_GUESS 4096u /* bytes of output to start with */

int encoding_parse(const char *value, enum encoding *enc,
                   struct fr_error *err)
{
    static const struct {
        const char *name;
        enum encoding enc;
    } KNOWN[] = {
        {"identity", ENCODING_IDENTITY},
        {"gzip", ENCODING_GZIP},
        {"x-gzip", ENCODING_GZIP},
        {"deflate", ENCODING_DEFLATE},
    };
    const char *p = value, *end;

    *enc = ENCODING_IDENTITY;
    if (value == NULL)
        return 0;
    while (*p == ' ' || *p == '\t')
        p++;
    end = p + strlen(p);
    while (end > p && (end[-1] == ' ' || end[-1] == '\t'))
        end--;
    if (end == p)
        return 0;
    for (size_t i = 0; i < sizeof KNOWN / sizeof KNOWN[0]; i++) {
        if ((size_t)(end - p) == strlen(KNOWN[i].name) &&
            strncasecmp(p, KNOWN[i].name, (size_t)(end - p)) == 0) {
            *enc = KNOWN[i].enc;
            return 0;
        }
    }
    fr_error_set(err, "Content-Encoding '%.*s' is not supported: send the "
                 "body as is, or with gzip or deflate",
                 (int)(end - p > 40 ? 40 : end - p), p);
    return -1;
}

/* Room for the output: double what there is, at least `guess`, at most
 * max + 1. Returns 0 or the status room() gave. */
static int grow(struct buf *out, size_t guess, size_t max,
                encoding_room_fn room, void *ctx)
{
    size_t have = out->cap > 0 ? out->cap - 1 : 0, want;

    want = have >= guess ? 2 * have : guess;
    if (want < have || want > max + 1)
        want = max + 1;
    return room(ctx, out, want);
}

int encoding_decode(enum encoding enc, const char *in, size_t len,
                    size_t max, struct buf *out, encoding_room_fn room,
                    void *ctx, struct fr_error *err)
{
    size_t guess = len > SIZE_MAX / 4 ? SIZE_MAX : 4 * len;
    z_stream zs;
    int status = 400, zrc = Z_OK, ended = 0;

    if (guess < ENCODING_FIRST_GUESS)
        guess = ENCODING_FIRST_GUESS;
    if (max == SIZE_MAX)
        max = SIZE_MAX - 1;
    if (enc == ENCODING_IDENTITY) {
        if (len > max) {
            fr_error_set(err, "the request body is larger than %zu bytes",
                         max);
            return 413;
        }
        status = room(ctx, out, len);
        if (status != 0) {
            fr_error_set(err, "no memory for the request body");
            return status;
        }
        if (len > 0)
            memcpy(out->data, in, len);
        out->len = len;
        out->data[len] = '\0';
        return 0;
    }
    memset(&zs, 0, sizeof zs);
    if (inflateInit2(&zs, enc == ENCODING_GZIP ? 15 + 16 : 15) != Z_OK) {
        fr_error_set(err, "out of memory decompressing the body");
        return 500;
    }
    zs.next_in = (Bytef *)(uintptr_t)in;
    while (!ended) {
        size_t before;
        if (zs.avail_in == 0 && len > 0) {
            /* zlib counts in unsigned int: feed a large body in parts. */
            zs.avail_in = len > UINT_MAX ? UINT_MAX : (uInt)len;
            len -= zs.avail_in;
        }
        if (out->cap == 0 || out->len + 1 >= out->cap) {
            status = grow(out, guess, max, room, ctx);
            if (status == 0 && out->len + 1 >= out->cap)
                status = 500; /* a room that did not grow: never spin */
            if (status != 0) {
                fr_error_set(err, "no memory for the decompressed body");
                goto out;
            }
        }
        before = out->len;
        zs.next_out = (Bytef *)out->data + out->len;
        zs.avail_out = (uInt)(out->cap - 1 - out->len > UINT_MAX ?
                              UINT_MAX : out->cap - 1 - out->len);
        zrc = inflate(&zs, Z_NO_FLUSH);
        out->len = (size_t)((char *)zs.next_out - out->data);
        if (out->len > max) {
            status = 413;
            fr_error_set(err, "the request body is larger than %zu bytes "
                         "once decompressed", max);
            goto out;
        }
        switch (zrc) {
        case Z_STREAM_END:
            ended = 1;
            break;
        case Z_OK:
            break;
        case Z_BUF_ERROR:
            /* No progress: either the output is full (grow and go on)
             * or the input ran out before the stream's end. */
            if (zs.avail_in == 0 && len == 0 && out->len == before) {
                status = 400;
                fr_error_set(err, "the %s body is truncated",
                             enc == ENCODING_GZIP ? "gzip" : "deflate");
                goto out;
            }
            break;
        case Z_MEM_ERROR:
            status = 500;
            fr_error_set(err, "out of memory decompressing the body");
            goto out;
        default:
            status = 400;
            fr_error_set(err, "the body is not valid %s data (%s)",
                         enc == ENCODING_GZIP ? "gzip" :
                         "deflate (zlib format, RFC 1950)",
                         zs.msg != NULL ? zs.msg : "corrupt stream");
            goto out;
        }
    }
    if (zs.avail_in > 0 || len > 0) {
        status = 400;
        fr_error_set(err, "%zu bytes follow the end of the %s stream",
                     (size_t)zs.avail_in + len,
                     enc == ENCODING_GZIP ? "gzip" : "deflate");
        goto out;
    }
    out->data[out->len] = '\0';
    status = 0;
out:
    inflateEnd(&zs);
    return status;
}
