/*
 * request.c: parsing and checking of request bodies (see request.h).
 *
 * cJSON builds the tree; everything after that is checking it against the
 * model. The commonest /predict body, one row as an array, is read
 * without a tree when it is exactly that shape (one_row_fast below). Every value that becomes a feature must be a JSON number, finite,
 * and within float32's range, because the trees compare float32 features
 * and converting a larger double to float is undefined behaviour in C.
 *
 * Rows given by name are filled without a "seen" bitmap: the row starts as
 * all NaN (a value no request can put there, since NaN is refused), so a
 * name met twice finds a number already in place and a missing name leaves
 * a NaN behind.
 */
#include "request.h"

#include <cjson/cJSON.h>
#include <ctype.h>
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ---- scratch memory ------------------------------------------------------ */

void scratch_init(struct scratch *sc)
{
    memset(sc, 0, sizeof *sc);
}

void scratch_release(struct scratch *sc)
{
    free(sc->rows);
    free(sc->vals);
    free(sc->outs);
    free(sc->work);
    free(sc->fwork);
    scratch_init(sc);
}

void scratch_reset(struct scratch *sc)
{
    if (sc->rows_cap * sizeof(float) > SCRATCH_KEEP_BYTES) {
        free(sc->rows);
        sc->rows = NULL;
        sc->rows_cap = 0;
    }
    if (sc->vals_cap * sizeof(double) > SCRATCH_KEEP_BYTES) {
        free(sc->vals);
        sc->vals = NULL;
        sc->vals_cap = 0;
    }
    if (sc->outs_cap * sizeof(double) > SCRATCH_KEEP_BYTES) {
        free(sc->outs);
        sc->outs = NULL;
        sc->outs_cap = 0;
    }
    if (sc->work_cap * sizeof(double) > SCRATCH_KEEP_BYTES) {
        free(sc->work);
        sc->work = NULL;
        sc->work_cap = 0;
    }
    if (sc->fwork_cap * sizeof(float) > SCRATCH_KEEP_BYTES) {
        free(sc->fwork);
        sc->fwork = NULL;
        sc->fwork_cap = 0;
    }
}

/* Grows *p to hold n elements of elem bytes; old contents are dropped. */
static void *grow(void **p, size_t *cap, size_t n, size_t elem)
{
    void *q;

    if (n == 0)
        n = 1;
    if (n <= *cap)
        return *p;
    if (n > SIZE_MAX / elem)
        return NULL;
    q = malloc(n * elem);
    if (q == NULL)
        return NULL;
    free(*p);
    *p = q;
    *cap = n;
    return q;
}

float *scratch_rows(struct scratch *sc, size_t n)
{
    return grow((void **)&sc->rows, &sc->rows_cap, n, sizeof(float));
}

double *scratch_vals(struct scratch *sc, size_t n)
{
    return grow((void **)&sc->vals, &sc->vals_cap, n, sizeof(double));
}

double *scratch_outs(struct scratch *sc, size_t n)
{
    return grow((void **)&sc->outs, &sc->outs_cap, n, sizeof(double));
}

double *scratch_work(struct scratch *sc, size_t n)
{
    return grow((void **)&sc->work, &sc->work_cap, n, sizeof(double));
}

float *scratch_fwork(struct scratch *sc, size_t n)
{
    return grow((void **)&sc->fwork, &sc->fwork_cap, n, sizeof(float));
}

/* ---- JSON ---------------------------------------------------------------- */

/* Finds an escaped NUL (\u0000) in a JSON text: cJSON decodes it into
 * the string, and every C string comparison after that stops there, so
 * "lag_1\u0000junk" would read as "lag_1". Returns its byte offset, or
 * -1. A backslash counts as an escape only after an even run of them. */
static long escaped_nul(const char *body, size_t len)
{
    const char *p = body, *end = body + len;

    /* memchr jumps between backslashes: most bodies have none, and this
     * runs on every request. */
    while ((p = memchr(p, '\\', (size_t)(end - p))) != NULL) {
        const char *q = p;
        while (q < end && *q == '\\')
            q++;
        if ((q - p) % 2 == 1 && end - q >= 5 && *q == 'u' &&
            memcmp(q + 1, "0000", 4) == 0)
            return (long)(q - 1 - body);
        p = q;
    }
    return -1;
}

/* Parses the whole body. Returns the tree, or NULL with *status and err
 * set: 400 for malformed JSON, 422 when the only fault is a NaN or an
 * infinity written as a bare word (as Python's json.dumps does), which is
 * a bad value rather than bad syntax for the client's purposes, and when
 * a string holds an escaped NUL (see escaped_nul). */
static cJSON *parse(const char *body, size_t len, int *status,
                    struct fr_error *err)
{
    const char *end = NULL;
    cJSON *root;

    if (len == 0) {
        *status = 400;
        fr_error_set(err, "malformed JSON: the body is empty");
        return NULL;
    }
    /* JSON has no raw NUL byte anywhere (RFC 8259 wants control characters
     * escaped), but cJSON copies one inside a string and compares names
     * with strcmp, so "lag_1<NUL>junk" would be read as lag_1. */
    {
        const char *nul = memchr(body, '\0', len);
        if (nul != NULL) {
            *status = 400;
            fr_error_set(err, "malformed JSON: a NUL byte at byte %zu",
                         (size_t)(nul - body));
            return NULL;
        }
    }
    root = cJSON_ParseWithLengthOpts(body, len, &end, 0);
    if (root != NULL) {
        /* Trailing data after the document: insist on using it all. */
        while (end < body + len && isspace((unsigned char)*end))
            end++;
        if (end == body + len) {
            long nul = escaped_nul(body, len);
            if (nul < 0)
                return root;
            cJSON_Delete(root);
            *status = 422;
            fr_error_set(err, "a string holds a NUL character (\\u0000 at "
                         "byte %ld), which no name or value may contain",
                         nul);
            return NULL;
        }
        cJSON_Delete(root);
        *status = 400;
        fr_error_set(err, "malformed JSON: unexpected data at byte %zu",
                     (size_t)(end - body));
        return NULL;
    }
    if (end != NULL && end >= body && end < body + len) {
        const char *p = end;
        size_t left = (size_t)(body + len - p);
        if (left > 0 && (*p == '-' || *p == '+')) {
            p++;
            left--;
        }
        if (left >= 3 && (strncasecmp(p, "nan", 3) == 0 ||
                          strncasecmp(p, "inf", 3) == 0)) {
            *status = 422;
            fr_error_set(err, "NaN and infinities are not valid values "
                         "(found '%.*s' at byte %zu)",
                         left >= 8 && strncasecmp(p, "infinity", 8) == 0 ?
                         (int)(p - end) + 8 : (int)(p - end) + 3,
                         end, (size_t)(end - body));
            return NULL;
        }
        *status = 400;
        fr_error_set(err, "malformed JSON near byte %zu",
                     (size_t)(end - body));
        return NULL;
    }
    *status = 400;
    fr_error_set(err, "malformed JSON");
    return NULL;
}

/* parse() for a body that must be a JSON object; `shape` names what the
 * object should hold, for the message. Returns the object, or NULL with
 * *status (400 or 422) and err set. */
static cJSON *parse_object(const char *body, size_t len, const char *shape,
                           int *status, struct fr_error *err)
{
    cJSON *root = parse(body, len, status, err);

    if (root != NULL && !cJSON_IsObject(root)) {
        *status = 422;
        fr_error_set(err, "the body must be a JSON object with %s", shape);
        cJSON_Delete(root);
        return NULL;
    }
    return root;
}

static const char *kind(const cJSON *v)
{
    if (cJSON_IsString(v))
        return "a string";
    if (cJSON_IsBool(v))
        return "a boolean";
    if (cJSON_IsNull(v))
        return "null";
    if (cJSON_IsArray(v))
        return "an array";
    if (cJSON_IsObject(v))
        return "an object";
    return "not a number";
}

/* Checks one value: a finite JSON number with |x| <= limit. Returns 0
 * with *out set, or -1 and sets nothing: the caller then formats where
 * the value was and calls number_error(). A batch of valid values formats
 * no message at all. */
static int number(const cJSON *v, double limit, double *out)
{
    if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble) ||
        fabs(v->valuedouble) > limit)
        return -1;
    *out = v->valuedouble;
    return 0;
}

/* Sets err for a value number() refused; `what` names it. */
static void number_error(const cJSON *v, double limit, const char *what,
                         struct fr_error *err)
{
    double x = cJSON_IsNumber(v) ? v->valuedouble : 0.0;

    if (!cJSON_IsNumber(v))
        fr_error_set(err, "%s is not a number (got %s)", what, kind(v));
    else if (!isfinite(x))
        fr_error_set(err, "%s is not finite (the number overflows a double)",
                     what);
    else if (limit == FLT_MAX)
        fr_error_set(err, "%s is %g, which overflows float32", what, x);
    else
        fr_error_set(err, "%s is %g, out of range (|x| <= %g)", what, x,
                     limit);
}

/* Where a row sits in the body, for messages: list[index], or the top
 * level when list is NULL. Formatted only when there is an error. */
struct where {
    const char *list;  /* "instances", "covariates", or NULL */
    size_t index;
};

/* The message prefix of w: "instances[3]: " or "". */
static const char *where_text(const struct where *w, char *buf, size_t len)
{
    if (w->list == NULL)
        return "";
    snprintf(buf, len, "%s[%zu]: ", w->list, w->index);
    return buf;
}

/* An optional "interval": level in (0, 1). Returns 0 or -1 with err set. */
static int interval(const cJSON *v, double *level, struct fr_error *err)
{
    if (!cJSON_IsNumber(v) || !(v->valuedouble > 0.0) ||
        !(v->valuedouble < 1.0)) {
        fr_error_set(err, "'interval' must be a number between 0 and 1 "
                     "(exclusive), such as 0.9 for the central 90%% of the "
                     "trees' predictions");
        return -1;
    }
    *level = v->valuedouble;
    return 0;
}

/* An optional "explain": a JSON boolean. Returns 0 or -1 with err set. */
static int explain_flag(const cJSON *v, int *explain, struct fr_error *err)
{
    if (v == NULL)
        return 0;
    if (!cJSON_IsBool(v)) {
        fr_error_set(err, "'explain' must be true or false (got %s)",
                     kind(v));
        return -1;
    }
    *explain = cJSON_IsTrue(v);
    return 0;
}

/* A whole number in [lo, hi]. */
static int whole(const cJSON *v, double lo, double hi, size_t *out)
{
    if (!cJSON_IsNumber(v) || !(v->valuedouble >= lo) ||
        !(v->valuedouble <= hi) || v->valuedouble != floor(v->valuedouble))
        return -1;
    *out = (size_t)v->valuedouble;
    return 0;
}

/* Index of key among names, trying position `hint` first: clients usually
 * send names in the model's order, which makes the lookup one strcmp. */
static long find_name(char *const *names, size_t n, const char *key,
                      size_t hint)
{
    if (hint < n && strcmp(names[hint], key) == 0)
        return (long)hint;
    for (size_t i = 0; i < n; i++) {
        if (strcmp(names[i], key) == 0)
            return (long)i;
    }
    return -1;
}

/* Reads n named values: an object {"name": number, ...} with every name
 * exactly once, or an array of n numbers in order. `w` says where the row
 * is, for messages ("instances[3]: "), `noun` names the things
 * ("feature", "covariate"). Returns 0 or -1 with err set. */
static int named_values(const cJSON *item, char *const *names, size_t n,
                        double limit, const struct where *w,
                        const char *noun, double *out, struct fr_error *err)
{
    char what[160], pre[48];
    size_t i = 0;
    const cJSON *v;

    if (cJSON_IsArray(item)) {
        size_t got = (size_t)cJSON_GetArraySize(item);
        if (got != n) {
            fr_error_set(err, "%sexpected %zu %ss, got %zu",
                         where_text(w, pre, sizeof pre), n, noun, got);
            return -1;
        }
        cJSON_ArrayForEach(v, item) {
            if (number(v, limit, &out[i]) != 0) {
                snprintf(what, sizeof what, "%s%s %zu ('%s')",
                         where_text(w, pre, sizeof pre), noun, i, names[i]);
                number_error(v, limit, what, err);
                return -1;
            }
            i++;
        }
        return 0;
    }
    if (!cJSON_IsObject(item)) {
        fr_error_set(err, "%sexpected an object of named %ss or an array of "
                     "%zu numbers, got %s", where_text(w, pre, sizeof pre),
                     noun, n, kind(item));
        return -1;
    }
    for (i = 0; i < n; i++)
        out[i] = NAN;
    i = 0;
    cJSON_ArrayForEach(v, item) {
        long k = find_name(names, n, v->string, i++);
        if (k < 0) {
            fr_error_set(err, "%sunknown %s '%.64s'",
                         where_text(w, pre, sizeof pre), noun, v->string);
            return -1;
        }
        if (!isnan(out[k])) {
            fr_error_set(err, "%s%s '%s' is given twice",
                         where_text(w, pre, sizeof pre), noun, names[k]);
            return -1;
        }
        if (number(v, limit, &out[k]) != 0) {
            snprintf(what, sizeof what, "%s%s '%s'",
                     where_text(w, pre, sizeof pre), noun, names[k]);
            number_error(v, limit, what, err);
            return -1;
        }
    }
    for (i = 0; i < n; i++) {
        if (isnan(out[i])) {
            size_t missing = 0;
            for (size_t j = i; j < n; j++)
                missing += isnan(out[j]) != 0;
            if (missing > 1)
                fr_error_set(err, "%smissing %s '%s' (and %zu more)",
                             where_text(w, pre, sizeof pre), noun, names[i],
                             missing - 1);
            else
                fr_error_set(err, "%smissing %s '%s'",
                             where_text(w, pre, sizeof pre), noun, names[i]);
            return -1;
        }
    }
    return 0;
}

/* One feature row of f into row (float32, range already checked). */
static int feature_row(const cJSON *item, const struct forest *f,
                       const struct where *w, double *tmp, float *row,
                       struct fr_error *err)
{
    if (named_values(item, f->feature_names, f->n_features, FLT_MAX, w,
                     "feature", tmp, err) != 0)
        return -1;
    for (uint32_t i = 0; i < f->n_features; i++)
        row[i] = (float)tmp[i];
    return 0;
}

const char *const REQUEST_PREDICT_KEYS[REQUEST_PREDICT_N_KEYS] = {
    "features", "instances", "interval", "explain"};
const char *const REQUEST_INFER_KEYS[REQUEST_INFER_N_KEYS] = {
    "id", "parameters", "inputs", "outputs"};
const char *const REQUEST_FORECAST_KEYS[REQUEST_FORECAST_N_KEYS] = {
    "history", "horizon", "covariates", "interval", "explain"};

/* Rejects keys outside allowed[] and keys given twice (cJSON keeps both,
 * and silently using one would hide a client's bug). */
static int check_keys(const cJSON *root, const char *const *allowed,
                      size_t n_allowed, const char *hint,
                      struct fr_error *err)
{
    unsigned seen = 0;
    const cJSON *v;

    cJSON_ArrayForEach(v, root) {
        size_t k = 0;
        while (k < n_allowed && strcmp(v->string, allowed[k]) != 0)
            k++;
        if (k == n_allowed) {
            fr_error_set(err, "unknown key '%.64s' (%s)", v->string, hint);
            return -1;
        }
        if (seen & (1u << k)) {
            fr_error_set(err, "key '%s' is given twice", allowed[k]);
            return -1;
        }
        seen |= 1u << k;
    }
    return 0;
}

/* ---- /predict's one-row fast path ------------------------------------------ */

/* Most /predict bodies are one row as an array, {"features": [x, ...]}.
 * Building and freeing a cJSON tree for it (a node per number, a malloc
 * each) cost more instructions than the model's 100 trees
 * (bench/callgrind_serve.sh). The fast path below reads exactly that shape
 * and nothing else, with JSON's own grammar, which is stricter than
 * cJSON's: anything it does not accept in full, valid or not, goes to the
 * cJSON path, so every error message and status stays where it was and
 * the fast path only ever answers bodies the cJSON path would answer
 * with the same row. */

/* JSON's whitespace (RFC 8259: space, tab, LF, CR). cJSON and the trailing
 * check skip more (any control character, \v, \f): such bodies take the
 * cJSON path. */
static const char *json_ws(const char *p, const char *end)
{
    while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r'))
        p++;
    return p;
}

/* The exact powers of ten a double holds (10^22 = 2^22 x 5^22, and
 * 5^22 < 2^53). */
static const double EXACT_POW10[] = {
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11,
    1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};

/* Reads one JSON number (RFC 8259's grammar: -?(0|[1-9][0-9]*)(.[0-9]+)?
 * ([eE][+-]?[0-9]+)?) at p into *out. Returns the byte after it, or NULL
 * when p holds no such number or one longer than the 63 bytes cJSON
 * reads (those take the cJSON path).
 *
 * The value is the double nearest the decimal number, as strtod (which
 * cJSON calls) gives it: when the significant digits fit in 2^53 and the
 * decimal exponent is within 22, both the digits and the power of ten
 * are exact doubles and one IEEE multiplication or division rounds their
 * product correctly (Clinger's fast path); anything else goes to strtod
 * itself. */
static const char *json_number(const char *p, const char *end, double *out)
{
    const char *start = p;
    uint64_t mant = 0;
    int digits = 0;      /* significant digits in mant (leading 0s skipped) */
    long exp10 = 0;      /* the value is mant x 10^exp10 */
    int neg = 0;
    char tmp[64];

    if (p < end && *p == '-') {
        neg = 1;
        p++;
    }
    if (p >= end || *p < '0' || *p > '9')
        return NULL;
    if (*p == '0') {
        p++;
    } else {
        while (p < end && *p >= '0' && *p <= '9') {
            if (digits < 19) {
                mant = mant * 10 + (uint64_t)(*p - '0');
                digits += mant != 0;
            } else {
                exp10++;
                digits++;
            }
            p++;
        }
    }
    if (p < end && *p == '.') {
        p++;
        if (p >= end || *p < '0' || *p > '9')
            return NULL;
        while (p < end && *p >= '0' && *p <= '9') {
            if (digits < 19) {
                mant = mant * 10 + (uint64_t)(*p - '0');
                digits += mant != 0;
                exp10--;
            } else {
                digits++;
            }
            p++;
        }
    }
    if (p < end && (*p == 'e' || *p == 'E')) {
        long e = 0;
        int eneg = 0;
        p++;
        if (p < end && (*p == '+' || *p == '-')) {
            eneg = *p == '-';
            p++;
        }
        if (p >= end || *p < '0' || *p > '9')
            return NULL;
        while (p < end && *p >= '0' && *p <= '9') {
            if (e < 100000)
                e = e * 10 + (*p - '0');
            p++;
        }
        exp10 += eneg ? -e : e;
    }
    if (p - start > 63)
        return NULL;
    if (digits <= 19 && mant <= (UINT64_C(1) << 53) && exp10 >= -22 &&
        exp10 <= 22) {
        double x = (double)mant;
        x = exp10 < 0 ? x / EXACT_POW10[-exp10] : x * EXACT_POW10[exp10];
        *out = neg ? -x : x;
        return p;
    }
    memcpy(tmp, start, (size_t)(p - start));
    tmp[p - start] = '\0';
    *out = strtod(tmp, NULL);
    return p;
}

/* Reads a body of exactly the shape {"features": [n numbers]} into row,
 * each number finite and within float32's range. Returns 1 when it did,
 * 0 when the body is anything else (row may then hold anything). */
static int one_row_fast(const char *body, size_t len, size_t n, float *row)
{
    static const char KEY[] = "\"features\"";
    const char *p = body, *end = body + len;
    size_t i = 0;

    p = json_ws(p, end);
    if (p >= end || *p != '{')
        return 0;
    p = json_ws(p + 1, end);
    if ((size_t)(end - p) < sizeof KEY - 1 ||
        memcmp(p, KEY, sizeof KEY - 1) != 0)
        return 0;
    p = json_ws(p + sizeof KEY - 1, end);
    if (p >= end || *p != ':')
        return 0;
    p = json_ws(p + 1, end);
    if (p >= end || *p != '[')
        return 0;
    p = json_ws(p + 1, end);
    for (;;) {
        double x;
        if (i == n)
            return 0;
        p = json_number(p, end, &x);
        if (p == NULL || !isfinite(x) || fabs(x) > FLT_MAX)
            return 0;
        row[i++] = (float)x;
        p = json_ws(p, end);
        if (p < end && *p == ',') {
            p = json_ws(p + 1, end);
            continue;
        }
        break;
    }
    if (i != n || p >= end || *p != ']')
        return 0;
    p = json_ws(p + 1, end);
    if (p >= end || *p != '}')
        return 0;
    return json_ws(p + 1, end) == end;
}

/* ---- /predict ------------------------------------------------------------ */

int request_predict(const char *body, size_t len, const struct forest *f,
                    size_t max_rows, struct scratch *sc,
                    struct predict_request *out, struct fr_error *err)
{
    const cJSON *features, *instances, *lvl, *v;
    const struct where top = {NULL, 0};
    size_t nf = f->n_features, n, i = 0;
    double *tmp;
    float *rows;
    cJSON *root;
    int status = 422;

    memset(out, 0, sizeof *out);
    rows = scratch_rows(sc, nf);
    if (rows != NULL && one_row_fast(body, len, nf, rows)) {
        out->X = rows;
        out->n_rows = 1;
        return 0;
    }
    root = parse_object(body, len, "'features' or 'instances'", &status,
                        err);
    if (root == NULL)
        return status;
    status = 422;
    if (check_keys(root, REQUEST_PREDICT_KEYS, REQUEST_PREDICT_N_KEYS,
                   "expected 'features' or 'instances', "
                   "and optionally 'interval' and 'explain'", err) != 0 ||
        explain_flag(cJSON_GetObjectItemCaseSensitive(root, "explain"),
                     &out->explain, err) != 0)
        goto out;
    features = cJSON_GetObjectItemCaseSensitive(root, "features");
    instances = cJSON_GetObjectItemCaseSensitive(root, "instances");
    lvl = cJSON_GetObjectItemCaseSensitive(root, "interval");
    if ((features == NULL) == (instances == NULL)) {
        fr_error_set(err, features ? "give either 'features' (one row) or "
                     "'instances' (a batch), not both" :
                     "the body needs 'features' (one row) or 'instances' "
                     "(a batch of rows)");
        goto out;
    }
    if (lvl != NULL && interval(lvl, &out->level, err) != 0)
        goto out;
    tmp = scratch_vals(sc, nf);
    if (tmp == NULL)
        goto nomem;
    if (features != NULL) {
        rows = scratch_rows(sc, nf);
        if (rows == NULL)
            goto nomem;
        if (feature_row(features, f, &top, tmp, rows, err) != 0)
            goto out;
        out->X = rows;
        out->n_rows = 1;
        status = 0;
        goto out;
    }
    if (!cJSON_IsArray(instances)) {
        fr_error_set(err, "'instances' must be an array of rows, got %s",
                     kind(instances));
        goto out;
    }
    n = (size_t)cJSON_GetArraySize(instances);
    if (n == 0) {
        fr_error_set(err, "'instances' is empty");
        goto out;
    }
    if (n > max_rows) {
        fr_error_set(err, "'instances' has %zu rows, more than the limit of "
                     "%zu (MAX_BATCH_ROWS)", n, max_rows);
        goto out;
    }
    /* Every value takes at least two bytes ("1,"), so a body of len bytes
     * holds fewer than len values: more rows than that cannot be complete,
     * and refusing them first keeps a short body from reserving memory
     * for a huge batch. */
    if (n > len / nf) {
        fr_error_set(err, "'instances' has %zu rows, which cannot each hold "
                     "%zu features in a %zu-byte body", n, nf, len);
        goto out;
    }
    rows = scratch_rows(sc, n * nf);
    if (rows == NULL)
        goto nomem;
    cJSON_ArrayForEach(v, instances) {
        struct where w = {"instances", i};
        if (feature_row(v, f, &w, tmp, rows + i * nf, err) != 0)
            goto out;
        i++;
    }
    out->X = rows;
    out->n_rows = n;
    out->batch = 1;
    status = 0;
    goto out;
nomem:
    status = 500;
    fr_error_set(err, "out of memory for the request's rows");
out:
    cJSON_Delete(root);
    return status;
}

/* ---- V2 infer ------------------------------------------------------------ */

/* Reads the data of a [batch, nf] input, flat or nested, into rows. */
static int infer_data(const cJSON *data, size_t batch, const struct forest *f,
                      float *rows, struct fr_error *err)
{
    size_t nf = f->n_features, i = 0;
    const cJSON *v, *w;
    char what[160];
    double x;

    if (!cJSON_IsArray(data)) {
        fr_error_set(err, "input 'data' must be an array, got %s", kind(data));
        return -1;
    }
    if (cJSON_IsArray(data->child)) {
        if ((size_t)cJSON_GetArraySize(data) != batch) {
            fr_error_set(err, "input 'data' has %d rows, the shape says %zu",
                         cJSON_GetArraySize(data), batch);
            return -1;
        }
        cJSON_ArrayForEach(v, data) {
            size_t j = 0;
            if (!cJSON_IsArray(v) || (size_t)cJSON_GetArraySize(v) != nf) {
                fr_error_set(err, "input 'data' row %zu must be an array of "
                             "%zu numbers", i, nf);
                return -1;
            }
            cJSON_ArrayForEach(w, v) {
                if (number(w, FLT_MAX, &x) != 0) {
                    snprintf(what, sizeof what, "input 'data' row %zu value "
                             "%zu ('%s')", i, j, f->feature_names[j]);
                    number_error(w, FLT_MAX, what, err);
                    return -1;
                }
                rows[i * nf + j] = (float)x;
                j++;
            }
            i++;
        }
        return 0;
    }
    if ((size_t)cJSON_GetArraySize(data) != batch * nf) {
        fr_error_set(err, "input 'data' has %d values, the shape [%zu, %zu] "
                     "needs %zu", cJSON_GetArraySize(data), batch, nf,
                     batch * nf);
        return -1;
    }
    cJSON_ArrayForEach(v, data) {
        if (number(v, FLT_MAX, &x) != 0) {
            snprintf(what, sizeof what, "input 'data' value %zu (row %zu, "
                     "'%s')", i, i / nf, f->feature_names[i % nf]);
            number_error(v, FLT_MAX, what, err);
            return -1;
        }
        rows[i] = (float)x;
        i++;
    }
    return 0;
}

/* An optional boolean parameter `key` of a "parameters" object (which
 * may be NULL): sets *value when present. Returns 0 or -1 with err set. */
static int bool_parameter(const cJSON *params, const char *key,
                          const char *where, int *value,
                          struct fr_error *err)
{
    const cJSON *v;

    if (params == NULL)
        return 0;
    if (!cJSON_IsObject(params)) {
        fr_error_set(err, "%s 'parameters' must be an object", where);
        return -1;
    }
    v = cJSON_GetObjectItemCaseSensitive(params, key);
    if (v == NULL)
        return 0;
    if (!cJSON_IsBool(v)) {
        fr_error_set(err, "%s parameter '%s' must be true or false", where,
                     key);
        return -1;
    }
    *value = cJSON_IsTrue(v);
    return 0;
}

/* The optional "outputs": [{"name": "predict", "parameters": {...}}].
 * Every name must be the model's one output (Triton refuses an unknown
 * one too, rather than answer without it). An output's "binary_data"
 * parameter overrides the request's "binary_data_output" in *binary.
 * Returns 0 or -1 with err set (a 400: the request does not follow the
 * protocol). */
static int infer_outputs(const cJSON *outputs, int *binary,
                         struct fr_error *err)
{
    const cJSON *o, *name;

    if (outputs == NULL)
        return 0;
    if (!cJSON_IsArray(outputs)) {
        fr_error_set(err, "'outputs' must be an array of {\"name\": "
                     "\"%s\"}", REQUEST_OUTPUT_NAME);
        return -1;
    }
    cJSON_ArrayForEach(o, outputs) {
        name = cJSON_GetObjectItemCaseSensitive(o, "name");
        if (!cJSON_IsObject(o) || !cJSON_IsString(name)) {
            fr_error_set(err, "each of 'outputs' must be an object with a "
                         "string 'name'");
            return -1;
        }
        if (strcmp(name->valuestring, REQUEST_OUTPUT_NAME) != 0) {
            fr_error_set(err, "unknown output '%.64s' requested (the model "
                         "has one output, '%s')", name->valuestring,
                         REQUEST_OUTPUT_NAME);
            return -1;
        }
        if (bool_parameter(cJSON_GetObjectItemCaseSensitive(o, "parameters"),
                           "binary_data", "output", binary, err) != 0)
            return -1;
    }
    return 0;
}

/* Little-endian reads of the binary tensor data (Triton's extension):
 * the byte order is the protocol's, whatever the host's. */
static double read_le(const unsigned char *p, int fp64)
{
    uint64_t u = 0;

    if (!fp64) {
        uint32_t w = (uint32_t)p[0] | (uint32_t)p[1] << 8 |
                     (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
        float x;
        memcpy(&x, &w, sizeof x);
        return x;
    }
    for (int k = 7; k >= 0; k--)
        u = u << 8 | p[k];
    {
        double x;
        memcpy(&x, &u, sizeof x);
        return x;
    }
}

/* Reads a [batch, nf] input of binary tensor data (row-major, little
 * endian FP32 or FP64; its size already checked) into rows. The values
 * are checked as JSON ones are. Returns 0 or -1 with err set (422). */
static int infer_binary(const unsigned char *bin, size_t batch, int fp64,
                        const struct forest *f, float *rows,
                        struct fr_error *err)
{
    size_t nf = f->n_features, n = batch * nf, step = fp64 ? 8 : 4;

    for (size_t i = 0; i < n; i++) {
        double x = read_le(bin + i * step, fp64);
        if (!isfinite(x) || fabs(x) > FLT_MAX) {
            /* The context is formatted only now that there is an error. */
            fr_error_set(err, "input binary value %zu (row %zu, '%s') is "
                         "%g: %s", i, i / nf, f->feature_names[i % nf], x,
                         isfinite(x) ? "it overflows float32" :
                         "NaN and infinities are not valid values");
            return -1;
        }
        rows[i] = (float)x;
    }
    return 0;
}

int request_infer(const char *body, size_t len, const char *binary,
                  size_t binary_len, const struct forest *f,
                  size_t max_rows, struct scratch *sc,
                  struct infer_request *out, struct fr_error *err)
{
    const cJSON *id, *inputs, *in, *name, *shape, *dtype, *data, *params;
    const cJSON *bsize = NULL;
    size_t nf = f->n_features, batch = 0, width = 0, size = 0;
    float *rows;
    cJSON *root;
    int status = 422;

    memset(out, 0, sizeof *out);
    rows = scratch_rows(sc, nf);
    if (rows != NULL && one_row_fast(body, len, nf, rows)) {
        out->X = rows;
        out->n_rows = 1;
        return 0;
    }
    root = parse_object(body, len, "'inputs'", &status, err);
    if (root == NULL)
        return status;
    /* Keys the protocol does not have, a key given twice and an output
     * the model does not have make a request that does not follow the
     * protocol: 400, as Triton answers them. */
    status = 400;
    if (check_keys(root, REQUEST_INFER_KEYS, REQUEST_INFER_N_KEYS,
                   "expected 'inputs', and optionally "
                   "'id', 'parameters' and 'outputs'", err) != 0 ||
        bool_parameter(cJSON_GetObjectItemCaseSensitive(root, "parameters"),
                       "binary_data_output", "the request's",
                       &out->binary_output, err) != 0 ||
        bool_parameter(cJSON_GetObjectItemCaseSensitive(root, "parameters"),
                       "explain", "the request's", &out->explain,
                       err) != 0 ||
        infer_outputs(cJSON_GetObjectItemCaseSensitive(root, "outputs"),
                      &out->binary_output, err) != 0)
        goto out;
    status = 422;
    id = cJSON_GetObjectItemCaseSensitive(root, "id");
    if (id != NULL) {
        if (!cJSON_IsString(id) || strlen(id->valuestring) > REQUEST_ID_MAX) {
            fr_error_set(err, "'id' must be a string of at most %d bytes",
                         REQUEST_ID_MAX);
            goto out;
        }
        snprintf(out->id, sizeof out->id, "%s", id->valuestring);
        out->has_id = 1;
    }
    inputs = cJSON_GetObjectItemCaseSensitive(root, "inputs");
    if (!cJSON_IsArray(inputs) || cJSON_GetArraySize(inputs) != 1) {
        fr_error_set(err, "'inputs' must be an array of exactly one input "
                     "tensor of shape [batch, %zu]", nf);
        goto out;
    }
    in = inputs->child;
    if (!cJSON_IsObject(in)) {
        fr_error_set(err, "the input must be an object with 'name', "
                     "'shape', 'datatype' and 'data'");
        goto out;
    }
    name = cJSON_GetObjectItemCaseSensitive(in, "name");
    if (name != NULL && !cJSON_IsString(name)) {
        fr_error_set(err, "input 'name' must be a string");
        goto out;
    }
    /* Binary tensor data: "parameters": {"binary_data_size": B}, and the
     * bytes after the JSON. Framing errors are 400, as Triton's. */
    params = cJSON_GetObjectItemCaseSensitive(in, "parameters");
    if (params != NULL && !cJSON_IsObject(params)) {
        status = 400;
        fr_error_set(err, "input 'parameters' must be an object");
        goto out;
    }
    bsize = cJSON_GetObjectItemCaseSensitive(params, "binary_data_size");
    if (bsize != NULL && whole(bsize, 0, 1e15, &size) != 0) {
        status = 400;
        fr_error_set(err, "input parameter 'binary_data_size' must be a "
                     "whole number of bytes");
        goto out;
    }
    if (bsize == NULL && binary_len > 0) {
        status = 400;
        fr_error_set(err, "%zu bytes of binary data follow the JSON, but "
                     "no input has a 'binary_data_size' parameter",
                     binary_len);
        goto out;
    }
    dtype = cJSON_GetObjectItemCaseSensitive(in, "datatype");
    if (!cJSON_IsString(dtype)) {
        fr_error_set(err, "input 'datatype' is missing: use FP32 or FP64");
        goto out;
    }
    if (strcmp(dtype->valuestring, "FP64") == 0) {
        out->fp64 = 1;
    } else if (strcmp(dtype->valuestring, "FP32") != 0) {
        if (bsize != NULL)
            status = 400;
        fr_error_set(err, "input datatype '%.32s' is not supported%s: use "
                     "FP32 or FP64", dtype->valuestring,
                     bsize != NULL ? " as binary data" : "");
        goto out;
    }
    shape = cJSON_GetObjectItemCaseSensitive(in, "shape");
    if (!cJSON_IsArray(shape) || cJSON_GetArraySize(shape) != 2 ||
        whole(shape->child, 0, 1e15, &batch) != 0 ||
        whole(shape->child->next, 0, 1e15, &width) != 0) {
        fr_error_set(err, "input 'shape' must be [batch, %zu]", nf);
        goto out;
    }
    if (width != nf) {
        fr_error_set(err, "input shape [%zu, %zu] does not fit the model, "
                     "which takes [batch, %zu]", batch, width, nf);
        goto out;
    }
    if (batch == 0 || batch > max_rows) {
        fr_error_set(err, "input batch size %zu is out of range 1..%zu "
                     "(MAX_BATCH_ROWS)", batch, max_rows);
        goto out;
    }
    data = cJSON_GetObjectItemCaseSensitive(in, "data");
    if (bsize != NULL) {
        /* batch <= max_rows and nf are small: the product cannot wrap. */
        size_t need = batch * nf * (out->fp64 ? 8 : 4);
        status = 400;
        if (data != NULL) {
            fr_error_set(err, "input has both 'data' and a "
                         "'binary_data_size': give one");
            goto out;
        }
        if (size != need) {
            fr_error_set(err, "input binary_data_size %zu does not fit its "
                         "shape [%zu, %zu] of %s: that takes %zu bytes",
                         size, batch, nf, out->fp64 ? "FP64" : "FP32",
                         need);
            goto out;
        }
        if (size != binary_len) {
            fr_error_set(err, "the binary data after the JSON has %zu "
                         "bytes, but the inputs' binary_data_size add up to "
                         "%zu", binary_len, size);
            goto out;
        }
        status = 422;
        rows = scratch_rows(sc, batch * nf);
        if (rows == NULL) {
            status = 500;
            fr_error_set(err, "out of memory for the request's rows");
            goto out;
        }
        if (infer_binary((const unsigned char *)binary, batch, out->fp64, f,
                         rows, err) != 0)
            goto out;
        out->X = rows;
        out->n_rows = batch;
        status = 0;
        goto out;
    }
    if (data == NULL) {
        fr_error_set(err, "input 'data' is missing");
        goto out;
    }
    /* As for /predict: the body must be able to hold the values before
     * memory is reserved for them. */
    if (batch > len / nf) {
        fr_error_set(err, "input shape [%zu, %zu] needs more values than a "
                     "%zu-byte body can hold", batch, nf, len);
        goto out;
    }
    rows = scratch_rows(sc, batch * nf);
    if (rows == NULL) {
        status = 500;
        fr_error_set(err, "out of memory for the request's rows");
        goto out;
    }
    if (infer_data(data, batch, f, rows, err) != 0)
        goto out;
    out->X = rows;
    out->n_rows = batch;
    status = 0;
out:
    cJSON_Delete(root);
    return status;
}

/* ---- /forecast ----------------------------------------------------------- */

static int history(const cJSON *hist, uint32_t h, double *past,
                   int32_t *last_day, struct fr_error *err)
{
    size_t n, i = 0;
    int32_t prev = 0;
    const cJSON *v;

    if (!cJSON_IsArray(hist)) {
        fr_error_set(err, "'history' must be an array of {\"date\": "
                     "\"YYYY-MM-DD\", \"value\": number}, oldest first");
        return -1;
    }
    n = (size_t)cJSON_GetArraySize(hist);
    if (n < h) {
        fr_error_set(err, "'history' has %zu days, the model needs the %u "
                     "consecutive days before the first forecast day", n, h);
        return -1;
    }
    cJSON_ArrayForEach(v, hist) {
        const cJSON *date = cJSON_GetObjectItemCaseSensitive(v, "date");
        const cJSON *value = cJSON_GetObjectItemCaseSensitive(v, "value");
        char what[64], text[16];
        int32_t day;
        double x;

        if (!cJSON_IsObject(v) || !cJSON_IsString(date)) {
            fr_error_set(err, "history[%zu] must be an object with \"date\" "
                         "(YYYY-MM-DD) and \"value\"", i);
            return -1;
        }
        if (series_parse_date(date->valuestring, &day) != 0) {
            fr_error_set(err, "history[%zu]: '%.32s' is not a date "
                         "(YYYY-MM-DD)", i, date->valuestring);
            return -1;
        }
        if (i > 0 && day != prev + 1) {
            series_format_date(prev, text);
            fr_error_set(err, "history[%zu]: '%.32s' does not follow '%s': "
                         "the history must be consecutive days, oldest "
                         "first", i, date->valuestring, text);
            return -1;
        }
        if (value == NULL) {
            fr_error_set(err, "history[%zu] has no \"value\"", i);
            return -1;
        }
        if (number(value, REQUEST_HISTORY_LIMIT, &x) != 0) {
            snprintf(what, sizeof what, "history[%zu] value", i);
            number_error(value, REQUEST_HISTORY_LIMIT, what, err);
            return -1;
        }
        if (i >= n - h)
            past[i - (n - h)] = x;
        prev = day;
        i++;
    }
    *last_day = prev;
    return 0;
}

int request_forecast(const char *body, size_t len, const struct model *m,
                     size_t max_horizon, struct scratch *sc,
                     struct forecast_request *out, struct fr_error *err)
{
    const struct series_spec *s = &m->series;
    const cJSON *hist, *hor, *cov, *lvl, *v;
    uint32_t h = series_history(s);
    size_t nc = s->n_covariates, i = 0;
    int32_t last_day = 0, max_day;
    double *vals;
    cJSON *root;
    int status = 422;

    memset(out, 0, sizeof *out);
    root = parse_object(body, len, "'history' and 'horizon'", &status, err);
    if (root == NULL)
        return status;
    status = 422;
    if (check_keys(root, REQUEST_FORECAST_KEYS, REQUEST_FORECAST_N_KEYS,
                   "expected 'history', 'horizon', "
                   "'covariates', 'interval' and 'explain'", err) != 0 ||
        explain_flag(cJSON_GetObjectItemCaseSensitive(root, "explain"),
                     &out->explain, err) != 0)
        goto out;
    hist = cJSON_GetObjectItemCaseSensitive(root, "history");
    hor = cJSON_GetObjectItemCaseSensitive(root, "horizon");
    cov = cJSON_GetObjectItemCaseSensitive(root, "covariates");
    lvl = cJSON_GetObjectItemCaseSensitive(root, "interval");
    if (hist == NULL) {
        fr_error_set(err, "'history' is missing: give the last %u days as "
                     "[{\"date\": \"YYYY-MM-DD\", \"value\": number}, ...]",
                     h);
        goto out;
    }
    if (hor == NULL || whole(hor, 1, (double)max_horizon, &out->horizon)) {
        fr_error_set(err, "'horizon' must be a whole number of days from 1 "
                     "to %zu", max_horizon);
        goto out;
    }
    if (lvl != NULL && interval(lvl, &out->level, err) != 0)
        goto out;
    if (nc == 0 && cov != NULL) {
        fr_error_set(err, "the model has no covariates: leave out "
                     "'covariates'");
        goto out;
    }
    if (nc > 0 && cov == NULL) {
        fr_error_set(err, "'covariates' is missing: the model needs '%s'%s "
                     "for each of the %zu forecast days", s->covariates[0],
                     nc > 1 ? " and the other covariates" : "", out->horizon);
        goto out;
    }
    if (nc > 0 && (!cJSON_IsArray(cov) ||
                   (size_t)cJSON_GetArraySize(cov) != out->horizon)) {
        fr_error_set(err, "'covariates' must be an array with one entry per "
                     "forecast day (%zu)", out->horizon);
        goto out;
    }
    /* vals: the past window, then horizon x nc covariates. max_horizon and
     * nc are small, h <= 3660. */
    vals = scratch_vals(sc, h + out->horizon * nc);
    if (vals == NULL) {
        status = 500;
        fr_error_set(err, "out of memory for the forecast");
        goto out;
    }
    if (history(hist, h, vals, &last_day, err) != 0)
        goto out;
    if (nc > 0) {
        cJSON_ArrayForEach(v, cov) {
            struct where w = {"covariates", i};
            if (named_values(v, s->covariates, nc, FLT_MAX, &w, "covariate",
                             vals + h + i * nc, err) != 0)
                goto out;
            i++;
        }
    }
    /* Dates are written as YYYY-MM-DD: a forecast that would run past
     * year 9999 cannot be written truthfully, so it is refused. */
    if (series_parse_date("9999-12-31", &max_day) != 0 ||
        (int64_t)last_day + (int64_t)out->horizon > (int64_t)max_day) {
        fr_error_set(err, "a forecast of %zu days after the last history "
                     "day would run past 9999-12-31", out->horizon);
        goto out;
    }
    out->past = vals;
    out->cov = vals + h;
    out->first_day = last_day + 1;
    status = 0;
out:
    cJSON_Delete(root);
    return status;
}
