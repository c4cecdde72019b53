/*
 * buf.c: the growable output buffer (see buf.h).
 *
 * Growth doubles the capacity so a response of n bytes costs O(log n)
 * reallocations the first time and none afterwards on the same connection.
 * Numbers are printed with the fewest digits (15 to 17) that read back as
 * the same double, as Python's repr does, so answers read back exactly.
 */
#include "buf.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <stdint.h>
#include <string.h>

void buf_init(struct buf *b)
{
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
    b->failed = 0;
}

void buf_release(struct buf *b)
{
    free(b->data);
    buf_init(b);
}

void buf_reset(struct buf *b)
{
    if (b->cap > BUF_KEEP_BYTES) {
        buf_release(b);
        return;
    }
    b->len = 0;
    b->failed = 0;
    if (b->data != NULL)
        b->data[0] = '\0';
}

int buf_reserve(struct buf *b, size_t extra)
{
    size_t need, cap;
    char *p;

    if (b->failed)
        return -1;
    if (extra > BUF_MAX_BYTES || b->len + extra + 1 > BUF_MAX_BYTES) {
        b->failed = 1;
        return -1;
    }
    need = b->len + extra + 1;
    if (need <= b->cap)
        return 0;
    cap = b->cap ? b->cap : 256;
    while (cap < need)
        cap *= 2;
    if (cap > BUF_MAX_BYTES)
        cap = BUF_MAX_BYTES;
    p = realloc(b->data, cap);
    if (p == NULL) {
        b->failed = 1;
        return -1;
    }
    b->data = p;
    b->cap = cap;
    return 0;
}

int buf_grow_exact(struct buf *b, size_t cap)
{
    char *p;

    if (b->failed)
        return -1;
    if (cap <= b->cap)
        return 0;
    if (cap > BUF_MAX_BYTES) {
        b->failed = 1;
        return -1;
    }
    p = realloc(b->data, cap);
    if (p == NULL) {
        b->failed = 1;
        return -1;
    }
    if (b->data == NULL)
        p[0] = '\0';
    b->data = p;
    b->cap = cap;
    return 0;
}

void buf_add(struct buf *b, const void *data, size_t n)
{
    if (buf_reserve(b, n) != 0)
        return;
    memcpy(b->data + b->len, data, n);
    b->len += n;
    b->data[b->len] = '\0';
}

void buf_puts(struct buf *b, const char *s)
{
    buf_add(b, s, strlen(s));
}

void buf_printf(struct buf *b, const char *fmt, ...)
{
    va_list ap;
    int n;

    if (b->failed)
        return;
    /* Most writes are short: try the room there is, grow once if needed. */
    if (b->cap - b->len < 128 && buf_reserve(b, 128) != 0)
        return;
    va_start(ap, fmt);
    n = vsnprintf(b->data + b->len, b->cap - b->len, fmt, ap);
    va_end(ap);
    if (n < 0) {
        b->failed = 1;
        return;
    }
    if ((size_t)n >= b->cap - b->len) {
        if (buf_reserve(b, (size_t)n) != 0)
            return;
        va_start(ap, fmt);
        vsnprintf(b->data + b->len, b->cap - b->len, fmt, ap);
        va_end(ap);
    }
    b->len += (size_t)n;
}

/* Length of the well-formed UTF-8 sequence at p (1 to 4 bytes), or 0 when
 * it is not one: a stray continuation byte, a sequence cut short (a URL's
 * %FF, a message truncated with %.64s), an overlong form or a surrogate. */
static size_t utf8_len(const unsigned char *p)
{
    static const uint32_t min[5] = {0, 0, 0x80, 0x800, 0x10000};
    size_t n;
    uint32_t cp;

    if (p[0] < 0x80)
        return 1;
    if ((p[0] & 0xe0) == 0xc0)
        n = 2;
    else if ((p[0] & 0xf0) == 0xe0)
        n = 3;
    else if ((p[0] & 0xf8) == 0xf0)
        n = 4;
    else
        return 0;
    cp = p[0] & (0x7fu >> n);
    for (size_t i = 1; i < n; i++) {
        if ((p[i] & 0xc0) != 0x80) /* also stops at the NUL */
            return 0;
        cp = cp << 6 | (p[i] & 0x3fu);
    }
    if (cp < min[n] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
        return 0;
    return n;
}

void buf_json_string(struct buf *b, const char *s)
{
    static const char hex[] = "0123456789abcdef";
    const unsigned char *p = (const unsigned char *)s;

    /* Worst case every byte becomes \u00XX: reserve once, write directly. */
    if (buf_reserve(b, strlen(s) * 6 + 2) != 0)
        return;
    b->data[b->len++] = '"';
    for (; *p; p++) {
        char *o = b->data + b->len;
        switch (*p) {
        case '"':
        case '\\':
            o[0] = '\\';
            o[1] = (char)*p;
            b->len += 2;
            break;
        case '\n':
            memcpy(o, "\\n", 2);
            b->len += 2;
            break;
        case '\r':
            memcpy(o, "\\r", 2);
            b->len += 2;
            break;
        case '\t':
            memcpy(o, "\\t", 2);
            b->len += 2;
            break;
        default:
            if (*p < 0x20) {
                memcpy(o, "\\u00", 4);
                o[4] = hex[*p >> 4];
                o[5] = hex[*p & 15];
                b->len += 6;
            } else if (*p < 0x80) {
                o[0] = (char)*p;
                b->len++;
            } else {
                /* JSON must be UTF-8: bytes that are not become U+FFFD. */
                size_t n = utf8_len(p);
                if (n == 0) {
                    memcpy(o, "\\ufffd", 6);
                    b->len += 6;
                } else {
                    memcpy(o, p, n);
                    b->len += n;
                    p += n - 1;
                }
            }
        }
    }
    b->data[b->len++] = '"';
    b->data[b->len] = '\0';
}

void buf_json_double(struct buf *b, double v)
{
    char tmp[32];

    if (!isfinite(v)) {
        buf_add(b, "null", 4);
        return;
    }
    for (int digits = 15; digits <= 17; digits++) {
        snprintf(tmp, sizeof tmp, "%.*g", digits, v);
        /* 17 significant digits always read back as v: no check. */
        if (digits == 17 || strtod(tmp, NULL) == v)
            break;
    }
    buf_puts(b, tmp);
}

void buf_json_float(struct buf *b, float v)
{
    char tmp[32];

    if (!isfinite(v)) {
        buf_add(b, "null", 4);
        return;
    }
    for (int digits = 6; digits <= 9; digits++) {
        snprintf(tmp, sizeof tmp, "%.*g", digits, (double)v);
        if (strtof(tmp, NULL) == v)
            break;
    }
    buf_puts(b, tmp);
}
