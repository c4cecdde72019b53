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

/* Writes "%.*g" of the p significant digits d (ASCII, d[0] nonzero unless
 * the value is 0) times 10^x, with sign, into out (at least 32 bytes):
 * fixed notation when -4 <= x < p, else d.ddde+XX, trailing zeros and a
 * bare point dropped, as printf's %g does. Returns the length. */
static size_t format_g(char *out, int neg, const char *d, int p, int x)
{
    size_t n = 0;
    int last = p - 1; /* the last digit kept: trailing zeros go */

    while (last > 0 && d[last] == '0')
        last--;
    if (neg)
        out[n++] = '-';
    if (x >= -4 && x < p) {
        if (x < 0) {
            out[n++] = '0';
            out[n++] = '.';
            for (int i = 0; i < -x - 1; i++)
                out[n++] = '0';
            for (int i = 0; i <= last; i++)
                out[n++] = d[i];
        } else {
            for (int i = 0; i <= x; i++)
                out[n++] = d[i];
            if (last > x) {
                out[n++] = '.';
                for (int i = x + 1; i <= last; i++)
                    out[n++] = d[i];
            }
        }
    } else {
        out[n++] = d[0];
        if (last > 0) {
            out[n++] = '.';
            for (int i = 1; i <= last; i++)
                out[n++] = d[i];
        }
        n += (size_t)sprintf(out + n, "e%c%02d", x < 0 ? '-' : '+',
                             x < 0 ? -x : x);
    }
    out[n] = '\0';
    return n;
}

/* The old way, and the way for the values the fast one cannot decide:
 * print with 15, 16, then 17 digits until the text reads back as v. */
static void json_double_slow(struct buf *b, double v)
{
    char tmp[32];

    for (int digits = 15; digits <= 17; digits++) {
        snprintf(tmp, sizeof tmp, "%.*g", digits, v);
        /* 17 significant digits always read back as v: no check. */
        if (digits == 17 || strtod(tmp, NULL) == v)
            break;
    }
    buf_puts(b, tmp);
}

/* 10^0 .. 10^22, each exact as a double (10^k = 5^k * 2^k and
 * 5^22 < 2^53): the powers by which one multiplication or division of an
 * exact integer is the correctly rounded value of their decimal text
 * (Clinger's fast path). */
static const double EXACT_P10[23] = {
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12,
    1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};

/* The 17 significant digits of a > 0 correctly rounded (to nearest, ties
 * to even), as "%.16e" prints them, into d[0..17) with d[17] = '\0', and
 * the decimal exponent into *x. Exact integer arithmetic: a = m * 2^q, and
 * a * 10^s = m * 10^s * 2^q with m * 10^s < 2^53 * 10^22 < 2^127. Returns
 * 0, or -1 (nothing written) outside 1e-6 <= a < 1e17, for subnormals, or
 * when 10^s would not fit (the caller prints those with printf). */
static int digits17(double a, char d[18], int *x)
{
    uint64_t bits, m, digits;
    unsigned __int128 n, rem, half;
    int e2, q, k, s, sh;

    memcpy(&bits, &a, sizeof bits);
    e2 = (int)((bits >> 52) & 0x7ff);
    if (e2 == 0 || a < 1e-6 || a >= 1e17)
        return -1;
    m = (bits & ((UINT64_C(1) << 52) - 1)) | (UINT64_C(1) << 52);
    e2 -= 1023;                /* 2^e2 <= a < 2^(e2 + 1) */
    q = e2 - 52;               /* a = m * 2^q */
    /* floor(e2 * log10(2)) for |e2| < 1650: 10^k <= a < 10^(k + 2), so
     * the exponent is k or k + 1. (The shift of a negative e2 rounds
     * down with GCC and Clang; were k ever off, the checks below would
     * see 18 or 16 digits and leave the value to printf.) */
    k = (int)(((int64_t)e2 * 78913) >> 18);
    for (int tries = 0; tries < 2; tries++, k++) {
        s = 16 - k;            /* a * 10^s has 17 digits when x == k */
        if (s < 0 || s > 22)
            return -1;
        n = m;
        for (int i = 0; i < s; i++)
            n *= 10;
        if (q >= 0) {
            /* a >= 2^52: an integer, below 10^17 < 2^57. */
            n <<= q;
            rem = 0;
            half = 1;
        } else {
            sh = -q;           /* a >= 1e-6: q >= -73 */
            rem = n & (((unsigned __int128)1 << sh) - 1);
            half = (unsigned __int128)1 << (sh - 1);
            n >>= sh;
        }
        if (n >= UINT64_C(100000000000000000))
            continue;          /* 18 digits: the exponent is k + 1 */
        if (n < UINT64_C(10000000000000000))
            return -1;         /* 16 digits: k was too high (never, for
                                  the range above; printf decides) */
        digits = (uint64_t)n;
        if (rem > half || (rem == half && (digits & 1) != 0))
            digits++;
        if (digits == UINT64_C(100000000000000000)) {
            /* 99..9.5 rounded up: 1 followed by zeros, one power higher. */
            digits = UINT64_C(10000000000000000);
            k++;
        }
        for (int i = 16; i >= 0; i--) {
            d[i] = (char)('0' + digits % 10);
            digits /= 10;
        }
        d[17] = '\0';
        *x = k;
        return 0;
    }
    return -1;
}

/* Whether the p digits r (ASCII, p <= 17) times 10^x, read back, are a:
 * what strtod of their text gives, computed as one exact multiplication
 * or division when the digits fit in 53 bits and the power of ten is
 * exact (Clinger's fast path: one correctly rounded operation on exact
 * operands), else with strtod of cand, the same value spelled out. */
static int reads_back(const char *r, int p, int x, double a, const char *cand,
                      int neg)
{
    uint64_t n = 0;
    int e = x - (p - 1);   /* the value is n * 10^e */
    double got;

    for (int i = 0; i < p; i++)
        n = n * 10 + (uint64_t)(r[i] - '0');
    if (n <= (UINT64_C(1) << 53) && e >= -22 && e <= 22) {
        got = e >= 0 ? (double)n * EXACT_P10[e] : (double)n / EXACT_P10[-e];
        return got == a;
    }
    got = strtod(cand, NULL);
    return (neg ? -got : got) == a;
}

/* Prints the fewest digits (15 to 17) that read back as v, the text of
 * "%.15g", "%.16g" or "%.17g" exactly, with one printf instead of three:
 * v's 17 correctly rounded digits (%.16e) round to its 15 and 16 digits
 * as v itself does, unless the digits dropped are exactly a half ("50"
 * for 15, "5" for 16), where the digits printf never showed decide:
 * those values take the old loop. */
void buf_json_double(struct buf *b, double v)
{
    char e[40], d[18], cand[40], text[40];
    int x, neg;

    if (!isfinite(v)) {
        buf_add(b, "null", 4);
        return;
    }
    neg = signbit(v) != 0;
    if (digits17(fabs(v), d, &x) != 0) {
        snprintf(e, sizeof e, "%.16e", v);
        {
            const char *q = e + neg;
            d[0] = q[0];
            memcpy(d + 1, q + 2, 16); /* skip the point */
            d[17] = '\0';
            x = atoi(q + 19);          /* after "d.dddddddddddddddde" */
        }
    }
    for (int p = 15; p <= 16; p++) {
        char r[18];
        int rx = x, up;
        const char *tail = d + p;
        if (tail[0] == '5' && (p == 16 || tail[1] == '0')) {
            json_double_slow(b, v);
            return;
        }
        up = tail[0] >= '5';
        memcpy(r, d, (size_t)p);
        if (up) {
            int i = p - 1;
            while (i >= 0 && r[i] == '9')
                r[i--] = '0';
            if (i >= 0) {
                r[i]++;
            } else {
                /* 99..9 rounded up: 100..0 one power of ten higher. */
                r[0] = '1';
                rx++;
            }
        }
        r[p] = '\0';
        /* The value of the p digits, spelled simply, reads back as the
         * %.*g text of them would. */
        {
            char *c = cand;
            if (neg)
                *c++ = '-';
            *c++ = r[0];
            *c++ = '.';
            memcpy(c, r + 1, (size_t)p - 1);
            c += p - 1;
            *c++ = 'e';
            if (rx < 0)
                *c++ = '-';
            for (int k = 100, a = rx < 0 ? -rx : rx; k >= 1; k /= 10)
                *c++ = (char)('0' + a / k % 10);
            *c = '\0';
        }
        if (reads_back(r, p, rx, fabs(v), cand, neg)) {
            format_g(text, neg, r, p, rx);
            buf_puts(b, text);
            return;
        }
    }
    format_g(text, neg, d, 17, x);
    buf_puts(b, text);
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
