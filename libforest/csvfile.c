/*
 * csvfile.c: CSV records with physical line numbers (see csvfile.h).
 *
 * The file is read in 1 MiB blocks and fed to libcsv one physical line at a
 * time (memchr for '\n'), so when libcsv reports the end of a record we know
 * which line it ended on. Fields are collected into one growing array per
 * record and handed to the callback when the record ends.
 *
 * Most lines of a numeric table are plain: no quote, space, tab, CR or NUL,
 * and exactly as many commas as the header has. libcsv would hand such a
 * line's fields over as the text between commas, so a data line that is
 * plain, whole in the block and starts a record is split in place instead
 * (commas become NULs) and the callback sees pointers into the block: no
 * per-field copy, malloc or free. Anything else (the header, quoted
 * fields, CRLF, blank lines, a wrong column count, a line split between
 * blocks) goes through libcsv as before, so its messages stay the same.
 * In the profile of a 200k-row table, libcsv and the per-field copies were
 * about a third of the reading's instructions (bench/README.md).
 *
 * Numbers take Clinger's exact fast path when they can (decimal_scan),
 * on a plain line in the same pass that finds the commas; strtod, which
 * was half of the reading, does the rest.
 */
#include "csvfile.h"

#include <csv.h>
#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"

#define READ_BLOCK (1u << 20)
#define MAX_FIELDS 4096 /* a wider file is surely not what we expect */
#define MAX_NAME 255    /* bytes in a column name, as the model file keeps */

struct reader {
    const char *path;
    csvfile_row_fn fn;
    void *ctx;
    struct fr_error *err;
    char **fields;      /* owned copies for the current record */
    size_t n_fields;
    size_t cap_fields;
    char **header;      /* the header record's fields, owned */
    size_t n_header;
    char **plain;       /* n_header pointers into the block for a plain
                           line's fields (not owned) */
    double *values;     /* n_header values of a plain line's fields */
    size_t line;        /* line being fed to libcsv */
    long records;       /* records delivered, header included */
    int failed;
};

static void on_field(void *data, size_t len, void *arg)
{
    struct reader *r = arg;
    char *copy;

    if (r->failed)
        return;
    if (r->n_fields == MAX_FIELDS) {
        fr_error_set(r->err, "'%s' line %zu: more than %d columns", r->path,
                     r->line, MAX_FIELDS);
        r->failed = 1;
        return;
    }
    if (r->n_fields == r->cap_fields) {
        size_t cap = r->cap_fields ? r->cap_fields * 2 : 16;
        char **f = realloc(r->fields, cap * sizeof *f);
        if (f == NULL)
            goto nomem;
        r->fields = f;
        r->cap_fields = cap;
    }
    if (len != 0 && memchr(data, '\0', len) != NULL) {
        fr_error_set(r->err, "'%s' line %zu: a NUL byte in a field (is this a "
                     "text file?)", r->path, r->line);
        r->failed = 1;
        return;
    }
    /* A UTF-8 byte order mark before the first header name is not part of
     * the name (spreadsheets write one). */
    if (r->records == 0 && r->n_fields == 0 && len >= 3 &&
        memcmp(data, "\xef\xbb\xbf", 3) == 0) {
        data = (char *)data + 3;
        len -= 3;
    }
    copy = malloc(len + 1);
    if (copy == NULL)
        goto nomem;
    if (len != 0)
        memcpy(copy, data, len);
    copy[len] = '\0';
    r->fields[r->n_fields++] = copy;
    return;
nomem:
    fr_error_set(r->err, "'%s' line %zu: out of memory", r->path, r->line);
    r->failed = 1;
}

static void clear_fields(struct reader *r)
{
    for (size_t i = 0; i < r->n_fields; i++)
        free(r->fields[i]);
    r->n_fields = 0;
}

/* The first byte of s[0..len) that is not part of UTF-8 text free of
 * control characters, or len when there is none. *control is set when
 * that byte starts a control character (C0, DEL or C1) rather than an
 * invalid sequence. Overlong forms, surrogates and code points above
 * U+10FFFF are invalid, as RFC 3629 says. */
static size_t text_bad_byte(const unsigned char *s, size_t len, int *control)
{
    size_t i = 0;

    *control = 0;
    while (i < len) {
        unsigned char b = s[i];
        unsigned char lo = 0x80, hi = 0xbf; /* allowed second byte */
        size_t n;

        if (b < 0x80) {
            if (b < 0x20 || b == 0x7f) {
                *control = 1;
                return i;
            }
            i++;
            continue;
        }
        if (b >= 0xc2 && b <= 0xdf)
            n = 2;
        else if (b >= 0xe0 && b <= 0xef)
            n = 3;
        else if (b >= 0xf0 && b <= 0xf4)
            n = 4;
        else
            return i;
        if (b == 0xe0)
            lo = 0xa0; /* overlong below U+0800 */
        else if (b == 0xed)
            hi = 0x9f; /* surrogates U+D800..U+DFFF */
        else if (b == 0xf0)
            lo = 0x90; /* overlong below U+10000 */
        else if (b == 0xf4)
            hi = 0x8f; /* above U+10FFFF */
        if (i + n > len || s[i + 1] < lo || s[i + 1] > hi)
            return i;
        for (size_t k = 2; k < n; k++) {
            if (s[i + k] < 0x80 || s[i + k] > 0xbf)
                return i;
        }
        if (b == 0xc2 && s[i + 1] <= 0x9f) {
            *control = 1; /* C1 controls U+0080..U+009F */
            return i;
        }
        i += n;
    }
    return len;
}

/* A header's names must be usable as feature names: non-empty, at most
 * MAX_NAME bytes, UTF-8 text without control characters (they go into
 * metadata.json and clients send them back as JSON keys), each once.
 * Returns 0 or -1 with err set. */
static int check_header(struct reader *r)
{
    for (size_t i = 0; i < r->n_header; i++) {
        size_t len = strlen(r->header[i]), bad;
        int control;
        if (len == 0 || len > MAX_NAME) {
            fr_error_set(r->err, "'%s' line %zu column %zu: a column name "
                         "must be 1 to %d bytes, not %zu", r->path, r->line,
                         i + 1, MAX_NAME, len);
            return -1;
        }
        bad = text_bad_byte((const unsigned char *)r->header[i], len,
                            &control);
        if (bad < len) {
            /* The name itself is not quoted: it is what cannot be shown. */
            fr_error_set(r->err, "'%s' line %zu column %zu: the column name "
                         "%s (byte %zu of the name is 0x%02x)", r->path,
                         r->line, i + 1,
                         control ? "holds a control character"
                                 : "is not valid UTF-8",
                         bad + 1, (unsigned char)r->header[i][bad]);
            return -1;
        }
        for (size_t j = 0; j < i; j++) {
            if (strcmp(r->header[i], r->header[j]) == 0) {
                fr_error_set(r->err, "'%s' line %zu: column '%s' appears twice "
                             "(columns %zu and %zu)", r->path, r->line,
                             r->header[i], j + 1, i + 1);
                return -1;
            }
        }
    }
    return 0;
}

/* Hands one data record to the callback after checking its width.
 * Returns 0, or -1 with err set (and r->failed). */
static int deliver(struct reader *r, char **fields, const double *values,
                   size_t n_fields)
{
    struct csvfile_row row;

    if (n_fields != r->n_header) {
        fr_error_set(r->err, "'%s' line %zu: %zu columns, but the header has "
                     "%zu", r->path, r->line, n_fields, r->n_header);
        r->failed = 1;
        return -1;
    }
    row.n_fields = n_fields;
    row.fields = fields;
    row.values = values;
    row.header = r->header;
    row.line = r->line;
    r->records++;
    if (r->fn(&row, 0, r->ctx, r->err) != 0) {
        r->failed = 1;
        return -1;
    }
    return 0;
}

static void on_record(int terminator, void *arg)
{
    struct reader *r = arg;
    struct csvfile_row row;

    (void)terminator;
    if (r->failed) {
        clear_fields(r);
        return;
    }
    if (r->records > 0) {
        deliver(r, r->fields, NULL, r->n_fields);
        clear_fields(r);
        return;
    }
    /* The header: keep its fields, since every data row is checked against
     * them and hands them to the callback for its messages. */
    r->header = r->fields;
    r->n_header = r->n_fields;
    r->fields = NULL;
    r->n_fields = r->cap_fields = 0;
    r->plain = malloc(r->n_header * sizeof *r->plain);
    r->values = malloc(r->n_header * sizeof *r->values);
    if (r->plain == NULL || r->values == NULL) {
        fr_error_set(r->err, "'%s' line %zu: out of memory", r->path,
                     r->line);
        r->failed = 1;
        return;
    }
    if (check_header(r) != 0) {
        r->failed = 1;
        return;
    }
    row.n_fields = r->n_header;
    row.fields = r->header;
    row.values = NULL;
    row.header = r->header;
    row.line = r->line;
    r->records++;
    if (r->fn(&row, 1, r->ctx, r->err) != 0)
        r->failed = 1;
}

/* What each byte means to a plain line: 0 text, PLAIN_COMMA a field's
 * end, PLAIN_OTHER a byte that makes the line not plain (libcsv quotes
 * with '"', trims spaces and tabs around unquoted fields, ends records at
 * CR, and NUL is an error with its own message). A table rather than five
 * comparisons: this test runs on every byte of the file. */
enum { PLAIN_COMMA = 1, PLAIN_OTHER = 2 };
static const unsigned char plain_class[256] = {
    ['\0'] = PLAIN_OTHER, ['\t'] = PLAIN_OTHER, ['\r'] = PLAIN_OTHER,
    [' '] = PLAIN_OTHER,  ['"'] = PLAIN_OTHER,  [','] = PLAIN_COMMA,
};

/* Clinger's fast path (W. D. Clinger, "How to read floating point numbers
 * accurately", PLDI 1990): when a decimal's digits make an integer m below
 * 2^53 and its power of ten e is within 10^22, both m and 10^|e| are exact
 * doubles, so one IEEE multiply or divide rounds m * 10^e once, correctly,
 * and gives exactly the double strtod gives. A table's cells ("38",
 * "6.96248436") nearly all qualify, and this skips strtod's general
 * big-number machinery (half of the reading's instructions before).
 * Reads the grammar of config_decimal_span from p, without spaces, up to
 * the first byte outside it. Returns that byte's address and sets *out, or
 * NULL when the text is outside the fast path (not an error: strtod and
 * the careful checks of csvfile_number decide). */
static const char *decimal_scan(const char *p, double *out)
{
    static const double pow10[] = {
        1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,  1e8,  1e9,  1e10, 1e11,
        1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};
    const char *first;
    uint64_t m = 0;
    int neg = 0, scale = 0, exp10 = 0;
    size_t digits;
    double v;

    if (*p == '+' || *p == '-') {
        neg = *p == '-';
        p++;
    }
    /* m wraps (harmlessly: unsigned) past 19 digits; such text is
     * refused below before m is used. Digits are counted from pointers:
     * a counter in the loop was a third of its instructions. */
    first = p;
    for (; (unsigned)(*p - '0') < 10; p++)
        m = m * 10 + (uint64_t)(*p - '0');
    digits = (size_t)(p - first);
    if (*p == '.') {
        first = ++p;
        for (; (unsigned)(*p - '0') < 10; p++)
            m = m * 10 + (uint64_t)(*p - '0');
        scale = (int)(p - first);
        digits += (size_t)scale;
    }
    if (digits == 0 || digits > 19 || m > (1ull << 53))
        return NULL;
    if (*p == 'e' || *p == 'E') {
        int eneg = 0, edigits = 0;
        p++;
        if (*p == '+' || *p == '-') {
            eneg = *p == '-';
            p++;
        }
        for (; (unsigned)(*p - '0') < 10; p++, edigits++) {
            if (edigits == 3)
                return NULL;
            exp10 = exp10 * 10 + (*p - '0');
        }
        if (edigits == 0)
            return NULL;
        if (eneg)
            exp10 = -exp10;
    }
    exp10 -= scale;
    if (exp10 < -22 || exp10 > 22)
        return NULL;
    v = (double)m;
    v = exp10 < 0 ? v / pow10[-exp10] : v * pow10[exp10];
    /* features are float32: a larger value takes the careful path, which
     * says it is beyond the float range */
    if (fabs(v) > FLT_MAX)
        return NULL;
    *out = neg ? -v : v;
    return p;
}

/* Splits line[0..len) (its '\n' at line[len]) in place and delivers it
 * when it is plain: no special byte and exactly n_header fields. A field
 * that is a plain decimal is parsed in the same pass (decimal_scan) and
 * handed over in values; any other field's value is NaN, for the callback
 * to parse or refuse. Returns 1 when the line was taken (delivered, or the
 * callback failed), 0 when it must go to libcsv; then the line is
 * unchanged. */
static int take_plain(struct reader *r, char *line, size_t len)
{
    const char *end = line + len;
    char *p = line;
    size_t k = 0;

    if (len == 0)
        return 0; /* a blank line: libcsv skips it */
    for (;;) {
        const char *q;
        double v;
        if (k == r->n_header)
            return 0; /* too many fields: libcsv says so */
        r->plain[k] = p;
        q = decimal_scan(p, &v);
        if (q == NULL || (*q != ',' && q != end)) {
            v = NAN;
            for (q = p; q < end; q++) {
                unsigned char c = plain_class[(unsigned char)*q];
                if (c == PLAIN_COMMA)
                    break;
                if (c != 0)
                    return 0; /* libcsv decides */
            }
        }
        r->values[k++] = v;
        if (q == end)
            break;
        p = line + (q - line) + 1;
    }
    if (k != r->n_header)
        return 0;
    for (size_t j = 1; j < k; j++)
        r->plain[j][-1] = '\0';
    line[len] = '\0';
    deliver(r, r->plain, r->values, k);
    return 1;
}

/* libcsv's state between records (ROW_NOT_BEGUN in libcsv.c): csv_init
 * sets it, and the parser returns to it after each record and blank line.
 * Any other state means a record (say, a quoted field) is still open. */
#define CSV_BETWEEN_RECORDS 0

static int feed(struct csv_parser *p, struct reader *r, char *buf, size_t len)
{
    while (len > 0 && !r->failed) {
        char *nl = memchr(buf, '\n', len);
        size_t n = nl ? (size_t)(nl - buf) + 1 : len;

        if (nl != NULL && r->records > 0 &&
            p->pstate == CSV_BETWEEN_RECORDS &&
            take_plain(r, buf, n - 1)) {
            /* delivered without libcsv */
        } else if (csv_parse(p, buf, n, on_field, on_record, r) != n) {
            fr_error_set(r->err, "'%s' line %zu: %s", r->path, r->line,
                         csv_strerror(csv_error(p)));
            return -1;
        }
        if (nl != NULL)
            r->line++;
        buf += n;
        len -= n;
    }
    return r->failed ? -1 : 0;
}

long csvfile_read(const char *path, csvfile_row_fn fn, void *ctx,
                  struct fr_error *err)
{
    struct csv_parser parser;
    struct reader r = {.path = path, .fn = fn, .ctx = ctx, .err = err,
                       .line = 1};
    int parser_ready = 0;
    char *buf = NULL;
    FILE *fp = NULL;
    long rc = -1;
    size_t n;

    fp = fopen(path, "rb");
    if (fp == NULL) {
        fr_error_set(err, "cannot open '%s': %s", path, strerror(errno));
        goto out;
    }
    buf = malloc(READ_BLOCK);
    if (buf == NULL) {
        fr_error_set(err, "cannot read '%s': out of memory", path);
        goto out;
    }
    /* Strict mode rejects a quote in the middle of an unquoted field instead
     * of guessing; APPEND_NULL is not needed since fields are copied. */
    if (csv_init(&parser, CSV_STRICT | CSV_STRICT_FINI) != 0) {
        fr_error_set(err, "cannot read '%s': out of memory", path);
        goto out;
    }
    parser_ready = 1;
    while ((n = fread(buf, 1, READ_BLOCK, fp)) > 0) {
        if (feed(&parser, &r, buf, n) != 0)
            goto out;
    }
    if (ferror(fp)) {
        fr_error_set(err, "cannot read '%s': %s", path, strerror(errno));
        goto out;
    }
    if (csv_fini(&parser, on_field, on_record, &r) != 0) {
        fr_error_set(err, "'%s' line %zu: %s", path, r.line,
                     csv_strerror(csv_error(&parser)));
        goto out;
    }
    if (r.failed)
        goto out;
    if (r.records == 0) {
        fr_error_set(err, "'%s' is empty", path);
        goto out;
    }
    if (r.records == 1) {
        fr_error_set(err, "'%s' has a header but no data rows", path);
        goto out;
    }
    rc = r.records - 1;
out:
    clear_fields(&r);
    free(r.fields);
    for (size_t i = 0; i < r.n_header; i++)
        free(r.header[i]);
    free(r.header);
    free(r.plain);
    free(r.values);
    if (parser_ready)
        csv_free(&parser);
    free(buf);
    if (fp != NULL)
        fclose(fp);
    return rc;
}

int csvfile_number(const char *text, const char *path, size_t line,
                   size_t column, const char *column_name, double *out,
                   struct fr_error *err)
{
    const char *end;
    size_t span;
    double v;

    /* The common case; anything unusual, including every error, takes the
     * careful path below. */
    end = decimal_scan(text, &v);
    if (end != NULL && *end == '\0') {
        *out = v;
        return 0;
    }
    while (*text == ' ' || *text == '\t')
        text++;
    if (*text == '\0') {
        fr_error_set(err, "'%s' line %zu column %zu ('%s'): empty cell", path,
                     line, column, column_name);
        return -1;
    }
    span = config_decimal_span(text);
    end = text + span;
    while (*end == ' ' || *end == '\t' || *end == '\r')
        end++;
    if (span == 0 || *end != '\0') {
        /* Say why strtod's extras are refused: "nan" and "inf" are not
         * finite, "0x10" is a number but not a decimal one. */
        char *stop;
        v = strtod(text, &stop);
        while (*stop == ' ' || *stop == '\t' || *stop == '\r')
            stop++;
        if (stop == text || *stop != '\0')
            fr_error_set(err, "'%s' line %zu column %zu ('%s'): '%.40s' is "
                         "not a number", path, line, column, column_name,
                         text);
        else if (!isfinite(v))
            fr_error_set(err, "'%s' line %zu column %zu ('%s'): '%.40s' is "
                         "not a finite number", path, line, column,
                         column_name, text);
        else
            fr_error_set(err, "'%s' line %zu column %zu ('%s'): '%.40s' is "
                         "not a decimal number", path, line, column,
                         column_name, text);
        return -1;
    }
    errno = 0;
    v = strtod(text, NULL);
    if (!isfinite(v) || (errno == ERANGE && fabs(v) > 1.0)) {
        fr_error_set(err, "'%s' line %zu column %zu ('%s'): '%.40s' is not a "
                     "finite number", path, line, column, column_name, text);
        return -1;
    }
    if (fabs(v) > FLT_MAX) {
        fr_error_set(err, "'%s' line %zu column %zu ('%s'): %g is beyond the "
                     "float range of the model", path, line, column,
                     column_name, v);
        return -1;
    }
    *out = v;
    return 0;
}

static int is_stdout(const char *path)
{
    return strcmp(path, "-") == 0;
}

FILE *csvfile_create(const char *path, struct fr_error *err)
{
    FILE *fp = is_stdout(path) ? stdout : fopen(path, "w");

    if (fp == NULL)
        fr_error_set(err, "cannot write '%s': %s", path, strerror(errno));
    return fp;
}

int csvfile_finish(FILE *fp, const char *path, struct fr_error *err)
{
    int failed = ferror(fp) != 0, closing;

    /* errno is only meaningful for the flush or close itself: an earlier
     * write's reason is gone, so that case says "write error". */
    errno = 0;
    closing = is_stdout(path) ? fflush(fp) : fclose(fp);
    if (failed || closing != 0) {
        fr_error_set(err, "cannot write '%s': %s",
                     is_stdout(path) ? "standard output" : path,
                     closing != 0 && errno != 0 ? strerror(errno) :
                                                  "write error");
        return -1;
    }
    return 0;
}
