/*
 * s3.c: the S3 client (s3.h).
 *
 * One libcurl easy handle per client, reset between requests so its
 * connections are kept alive. libcurl signs every request with SigV4
 * (CURLOPT_AWS_SIGV4, provider "aws:amz:<region>:s3", which makes it send
 * x-amz-content-sha256); this file only prepares what bookworm's libcurl
 * 7.88 signs as given: the path is percent-encoded here segment by segment
 * (curl_easy_escape; CURLOPT_PATH_AS_IS keeps "." and ".." segments as
 * keys), and a ListObjectsV2 query is written already sorted by name and
 * encoded, since 7.88 neither sorts nor encodes it. 7.88 does not send
 * x-amz-content-sha256 by itself either (AWS requires it on every S3
 * request), but signs the payload hash given in that header: this file
 * computes it (SHA-256 of the body, OpenSSL's EVP) and sends it, so a PUT
 * body is covered by the signature and cannot be altered on the way.
 *
 * Bodies live in memory with a cap: a 2xx body at most the caller's limit
 * (refused from Content-Length before any byte is read when possible), an
 * error body at most ERROR_BODY_MAX, of which only the <Code> is used. XML
 * is parsed with expat (Debian's libexpat, maintained, fuzzed, with
 * billion-laughs protection since 2.4); a document type declaration is
 * refused outright, so no entity is ever expanded.
 *
 * Retries: up to max_attempts tries on connection errors, timeouts, 429 and
 * 5xx, sleeping backoff_ms, then twice that each time (capped at 5 s), with
 * jitter in [d/2, d]; never on another 4xx.
 */
#include "s3.h"

#include <ctype.h>
#include <errno.h>
#include <expat.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <curl/curl.h>
#include <openssl/evp.h>

#define ERROR_BODY_MAX (64 * 1024) /* bytes of an error body kept */
#define XML_TEXT_MAX 4096          /* bytes of one element's text */
#define BACKOFF_CAP_MS 5000
#define CREDENTIAL_MAX 8192        /* bytes of a key, secret or token */
#define REGION_MAX 32
#define SHOWN_KEY_MAX 200          /* bytes of a key quoted in a message */
/* SHA-256 of nothing: the payload hash of a GET, HEAD or DELETE. */
#define EMPTY_SHA256                                                          \
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

struct s3_client {
    struct s3_config cfg; /* a deep copy */
    CURL *easy;
    char provider[64];    /* "aws:amz:<region>:s3" */
    unsigned seed;        /* back-off jitter */
};

/* ---- small helpers ---------------------------------------------------- */

static char *dup_or_null(const char *s)
{
    return s ? strdup(s) : NULL;
}

/* Frees a string that may hold a secret, wiping it first. */
static void free_secret(char *s)
{
    if (s == NULL)
        return;
    explicit_bzero(s, strlen(s));
    free(s);
}

/* An environment variable, NULL when unset or empty. */
static const char *env_value(const char *name)
{
    const char *v = getenv(name);

    return v && *v ? v : NULL;
}

/* 1 when s is 1..max bytes of printable ASCII (no space if !spaces). */
static int printable(const char *s, size_t max, int spaces)
{
    size_t n = 0;

    for (; s[n]; n++) {
        unsigned char ch = (unsigned char)s[n];
        if (ch < 0x21 || ch > 0x7e) {
            if (!(spaces && ch == ' '))
                return 0;
        }
        if (n >= max)
            return 0;
    }
    return n > 0;
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

/* "s3://bucket/key" for messages: non-printable bytes as \xNN, the key cut
 * at SHOWN_KEY_MAX bytes with "...", so a message stays one line. */
static void object_name(char *out, size_t size, const char *bucket,
                        const char *key)
{
    size_t o = (size_t)snprintf(out, size, "s3://%s/", bucket);

    for (size_t i = 0; key[i] && o + 8 < size; i++) {
        unsigned char ch = (unsigned char)key[i];
        if (i == SHOWN_KEY_MAX) {
            memcpy(out + o, "...", 3);
            o += 3;
            break;
        }
        if (ch < 0x20 || ch == 0x7f || ch == '\\')
            o += (size_t)snprintf(out + o, size - o, "\\x%02x", ch);
        else
            out[o++] = (char)ch;
    }
    if (o < size)
        out[o] = '\0';
}

/* ---- settings ---------------------------------------------------------- */

/* Checks an endpoint URL and copies it without trailing slashes. A URL
 * with an '@' is not quoted in the message, so a user:password written into
 * it by mistake is never echoed. */
static char *endpoint_copy(const char *name, const char *url,
                           struct fr_error *err)
{
    const char *host;
    const char *why = NULL;
    size_t n = strlen(url);
    char *copy;

    if (strncmp(url, "http://", 7) == 0)
        host = url + 7;
    else if (strncmp(url, "https://", 8) == 0)
        host = url + 8;
    else
        why = "expected http:// or https://";
    if (why == NULL && (n > 2048 || !printable(url, 2048, 0)))
        why = "expected printable characters without spaces";
    if (why == NULL && strpbrk(url, "@?#") != NULL)
        why = "a user, query or fragment is not allowed";
    if (why == NULL && (*host == '\0' || *host == '/' || *host == ':'))
        why = "no host";
    if (why != NULL) {
        if (strchr(url, '@') != NULL)
            fr_error_set(err, "invalid %s: %s", name, why);
        else
            fr_error_set(err, "invalid %s '%.100s': %s", name, url, why);
        return NULL;
    }
    while (n > 0 && url[n - 1] == '/')
        n--;
    copy = strndup(url, n);
    if (copy == NULL)
        fr_error_set(err, "out of memory");
    return copy;
}

static int region_valid(const char *r)
{
    size_t n = strlen(r);

    if (n == 0 || n > REGION_MAX)
        return 0;
    for (size_t i = 0; i < n; i++) {
        if (!islower((unsigned char)r[i]) && !isdigit((unsigned char)r[i])
            && r[i] != '-')
            return 0;
    }
    return 1;
}

int s3_config_from_env(struct s3_config *cfg, struct fr_error *err)
{
    const char *endpoint_name = "AWS_ENDPOINT_URL_S3";
    const char *endpoint = env_value(endpoint_name);
    const char *region = env_value("AWS_REGION");
    const char *key = env_value("AWS_ACCESS_KEY_ID");
    const char *secret = env_value("AWS_SECRET_ACCESS_KEY");
    const char *token = env_value("AWS_SESSION_TOKEN");
    const char *attempts = env_value("AWS_MAX_ATTEMPTS");

    memset(cfg, 0, sizeof *cfg);
    cfg->connect_timeout_ms = 5000;
    cfg->timeout_ms = 120000;
    cfg->max_attempts = 3;
    cfg->backoff_ms = 200;
    if (endpoint == NULL) {
        endpoint_name = "AWS_ENDPOINT_URL";
        endpoint = env_value(endpoint_name);
    }
    if (endpoint != NULL) {
        cfg->endpoint = endpoint_copy(endpoint_name, endpoint, err);
        if (cfg->endpoint == NULL)
            goto fail;
    }
    if (region == NULL)
        region = "us-east-1";
    if (!region_valid(region)) {
        fr_error_set(err, "invalid AWS_REGION '%.40s': expected 1-%d "
                     "characters of a-z, 0-9 and '-'", region, REGION_MAX);
        goto fail;
    }
    /* Never quote a credential, valid or not. */
    if (key == NULL || secret == NULL) {
        fr_error_set(err, "%s is not set (an s3:// store needs "
                     "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY)",
                     key == NULL ? "AWS_ACCESS_KEY_ID"
                                 : "AWS_SECRET_ACCESS_KEY");
        goto fail;
    }
    if (!printable(key, CREDENTIAL_MAX, 0) || strchr(key, ':') != NULL) {
        fr_error_set(err, "invalid AWS_ACCESS_KEY_ID: expected printable "
                     "characters without spaces or ':'");
        goto fail;
    }
    if (!printable(secret, CREDENTIAL_MAX, 0)) {
        fr_error_set(err, "invalid AWS_SECRET_ACCESS_KEY: expected "
                     "printable characters without spaces");
        goto fail;
    }
    if (token != NULL && !printable(token, CREDENTIAL_MAX, 0)) {
        fr_error_set(err, "invalid AWS_SESSION_TOKEN: expected printable "
                     "characters without spaces");
        goto fail;
    }
    if (attempts != NULL) {
        char *end;
        unsigned long v;
        errno = 0;
        v = strtoul(attempts, &end, 10);
        if (!isdigit((unsigned char)attempts[0]) || *end != '\0'
            || errno != 0 || v < 1 || v > 10) {
            fr_error_set(err, "invalid AWS_MAX_ATTEMPTS '%.20s': expected "
                         "a whole number from 1 to 10", attempts);
            goto fail;
        }
        cfg->max_attempts = (unsigned)v;
    }
    cfg->region = strdup(region);
    cfg->access_key = strdup(key);
    cfg->secret_key = strdup(secret);
    cfg->session_token = dup_or_null(token);
    if (cfg->region == NULL || cfg->access_key == NULL
        || cfg->secret_key == NULL || (token && cfg->session_token == NULL)) {
        fr_error_set(err, "out of memory");
        goto fail;
    }
    return 0;

fail:
    s3_config_release(cfg);
    return -1;
}

void s3_config_release(struct s3_config *cfg)
{
    if (cfg == NULL)
        return;
    free(cfg->endpoint);
    free(cfg->region);
    free_secret(cfg->access_key);
    free_secret(cfg->secret_key);
    free_secret(cfg->session_token);
    memset(cfg, 0, sizeof *cfg);
}

/* ---- names --------------------------------------------------------------- */

static int is_ipv4(const char *s)
{
    int parts = 0;

    while (*s) {
        int digits = 0;
        while (isdigit((unsigned char)*s)) {
            s++;
            digits++;
        }
        if (digits == 0 || digits > 3)
            return 0;
        parts++;
        if (*s == '.')
            s++;
        else if (*s != '\0')
            return 0;
    }
    return parts == 4;
}

static int has_suffix(const char *s, size_t n, const char *suffix)
{
    size_t m = strlen(suffix);

    return n >= m && memcmp(s + n - m, suffix, m) == 0;
}

int s3_bucket_valid(const char *name)
{
    static const char *const prefixes[] = {"xn--", "sthree-",
                                           "amzn-s3-demo-"};
    static const char *const suffixes[] = {"-s3alias", "--ol-s3", ".mrap",
                                           "--x-s3", "--table-s3"};
    size_t n = strlen(name);

    if (n < 3 || n > S3_BUCKET_MAX)
        return 0;
    for (size_t i = 0; i < n; i++) {
        char ch = name[i];
        int alnum = islower((unsigned char)ch) || isdigit((unsigned char)ch);
        if (!alnum && ch != '.' && ch != '-')
            return 0;
        if ((i == 0 || i == n - 1) && !alnum)
            return 0;
        if (ch == '.' && name[i + 1] == '.')
            return 0;
    }
    if (is_ipv4(name))
        return 0;
    for (size_t i = 0; i < sizeof prefixes / sizeof prefixes[0]; i++) {
        if (strncmp(name, prefixes[i], strlen(prefixes[i])) == 0)
            return 0;
    }
    for (size_t i = 0; i < sizeof suffixes / sizeof suffixes[0]; i++) {
        if (has_suffix(name, n, suffixes[i]))
            return 0;
    }
    return 1;
}

/* 1 when s has no control character (bytes 0x01-0x1f and 0x7f). */
static int no_controls(const char *s)
{
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch < 0x20 || ch == 0x7f)
            return 0;
    }
    return 1;
}

int s3_key_valid(const char *key)
{
    size_t n = strlen(key);

    return n > 0 && n <= S3_KEY_MAX && no_controls(key);
}

int s3_url_parse(const char *url, struct s3_url *u, struct fr_error *err)
{
    const char *bucket, *slash, *key;
    size_t n;

    memset(u, 0, sizeof *u);
    if (strncmp(url, "s3://", 5) != 0) {
        fr_error_set(err, "invalid s3 URL '%.200s': expected "
                     "s3://bucket/prefix", url);
        return -1;
    }
    bucket = url + 5;
    slash = strchr(bucket, '/');
    n = slash ? (size_t)(slash - bucket) : strlen(bucket);
    key = slash ? slash + 1 : "";
    u->bucket = strndup(bucket, n);
    if (u->bucket == NULL) {
        fr_error_set(err, "out of memory");
        goto fail;
    }
    if (!s3_bucket_valid(u->bucket)) {
        fr_error_set(err, "invalid s3 URL '%.200s': '%.70s' is not a valid "
                     "bucket name (3-63 characters of a-z, 0-9, '.' and "
                     "'-', starting and ending with a letter or digit)",
                     url, u->bucket);
        goto fail;
    }
    if (strlen(key) > S3_KEY_MAX || !no_controls(key)) {
        fr_error_set(err, "invalid s3 URL '%.200s': the key is over %d "
                     "bytes or has a control character", url, S3_KEY_MAX);
        goto fail;
    }
    u->key = strdup(key);
    if (u->key == NULL) {
        fr_error_set(err, "out of memory");
        goto fail;
    }
    return 0;

fail:
    s3_url_release(u);
    return -1;
}

void s3_url_release(struct s3_url *u)
{
    if (u == NULL)
        return;
    free(u->bucket);
    free(u->key);
    memset(u, 0, sizeof *u);
}

/* ---- the client ---------------------------------------------------------- */

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_rc = CURLE_FAILED_INIT;

static void curl_init(void)
{
    curl_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

struct s3_client *s3_client_new(const struct s3_config *cfg,
                                struct fr_error *err)
{
    struct s3_client *c = NULL;

    if (cfg->region == NULL || !region_valid(cfg->region)
        || cfg->access_key == NULL || cfg->secret_key == NULL) {
        fr_error_set(err, "incomplete S3 settings: a region, an access key "
                     "and a secret are needed");
        return NULL;
    }
    if (pthread_once(&curl_once, curl_init) != 0 || curl_init_rc != CURLE_OK) {
        fr_error_set(err, "cannot start libcurl");
        return NULL;
    }
    c = calloc(1, sizeof *c);
    if (c == NULL)
        goto oom;
    c->cfg = *cfg;
    c->cfg.endpoint = dup_or_null(cfg->endpoint);
    c->cfg.region = strdup(cfg->region);
    c->cfg.access_key = strdup(cfg->access_key);
    c->cfg.secret_key = strdup(cfg->secret_key);
    c->cfg.session_token = dup_or_null(cfg->session_token);
    if ((cfg->endpoint && c->cfg.endpoint == NULL) || c->cfg.region == NULL
        || c->cfg.access_key == NULL || c->cfg.secret_key == NULL
        || (cfg->session_token && c->cfg.session_token == NULL))
        goto oom;
    if (c->cfg.max_attempts < 1)
        c->cfg.max_attempts = 1;
    snprintf(c->provider, sizeof c->provider, "aws:amz:%s:s3", cfg->region);
    c->seed = (unsigned)time(NULL) ^ (unsigned)(uintptr_t)c;
    c->easy = curl_easy_init();
    if (c->easy == NULL) {
        fr_error_set(err, "cannot start libcurl");
        s3_client_free(c);
        return NULL;
    }
    return c;

oom:
    fr_error_set(err, "out of memory");
    s3_client_free(c);
    return NULL;
}

void s3_client_free(struct s3_client *c)
{
    if (c == NULL)
        return;
    if (c->easy != NULL)
        curl_easy_cleanup(c->easy);
    s3_config_release(&c->cfg);
    free(c);
}

/* ---- requests ------------------------------------------------------------ */

/* A growing buffer with a hard cap. */
struct body {
    uint8_t *data;
    size_t len, cap;
    size_t limit;     /* bytes kept, once limit_set */
    int limit_set;    /* limit chosen for the current answer's status */
    int over;         /* a 2xx body went over limit: transfer aborted */
};

struct request {
    const char *method;  /* "GET", "HEAD", "PUT", "DELETE" */
    const char *verb;    /* in messages: "GET", "LIST"... */
    const char *bucket;
    const char *key;     /* "" for the bucket itself */
    const char *query;   /* sorted and encoded, or NULL */
    const void *data;    /* PUT body */
    size_t data_len;
    const char *headers[4]; /* extra "Name: value" lines, NULL-ended */
    size_t max_len;      /* bytes of a 2xx body */
};

struct response {
    long status;          /* HTTP status of the last answer, 0 if none */
    char etag[S3_ETAG_MAX + 1];
    uint64_t content_length;
    int have_length;
    struct body body;     /* 2xx: up to max_len; else up to ERROR_BODY_MAX */
    size_t max_len;
    CURLcode cc;
    char errbuf[CURL_ERROR_SIZE];
    unsigned attempts;
};

static void response_reset(struct response *r)
{
    free(r->body.data);
    memset(&r->body, 0, sizeof r->body);
    r->status = 0;
    r->etag[0] = '\0';
    r->content_length = 0;
    r->have_length = 0;
    r->cc = CURLE_OK;
    r->errbuf[0] = '\0';
}

static int is_2xx(long status)
{
    return status >= 200 && status < 300;
}

static int body_grow(struct body *b, size_t want)
{
    size_t cap = b->cap ? b->cap : 4096;
    uint8_t *p;

    while (cap < want) {
        if (cap > SIZE_MAX / 2)
            return -1;
        cap *= 2;
    }
    if (cap == b->cap)
        return 0;
    p = realloc(b->data, cap);
    if (p == NULL)
        return -1;
    b->data = p;
    b->cap = cap;
    return 0;
}

static size_t on_body(char *ptr, size_t size, size_t nmemb, void *userdata)
{
    struct response *r = userdata;
    struct body *b = &r->body;
    size_t n = size * nmemb; /* libcurl: size is always 1 */

    if (!b->limit_set) {
        b->limit = is_2xx(r->status) ? r->max_len : ERROR_BODY_MAX;
        b->limit_set = 1;
        /* One allocation for the whole body when its length is known and
         * within the limit (checked before trusting it). */
        if (r->have_length && r->content_length < b->limit
            && body_grow(b, (size_t)r->content_length + 1) != 0)
            return 0;
    }
    if (n > b->limit - b->len) {
        if (is_2xx(r->status)) {
            b->over = 1;
            return 0; /* aborts the transfer: CURLE_WRITE_ERROR */
        }
        n = b->limit - b->len; /* an error body: keep its start */
    }
    if (n == 0)
        return size * nmemb;
    /* + 1: room for the NUL added at the end. */
    if (body_grow(b, b->len + n + 1) != 0)
        return 0;
    memcpy(b->data + b->len, ptr, n);
    b->len += n;
    return size * nmemb;
}

/* A header line "Name: value\r\n" (not NUL-terminated); 1 when it is
 * name, with its trimmed value in *value and its length in *len. */
static int header_is(const char *line, size_t n, const char *name,
                     const char **value, size_t *len)
{
    size_t m = strlen(name);
    const char *v;
    const char *end = line + n;

    if (n <= m || line[m] != ':' || strncasecmp(line, name, m) != 0)
        return 0;
    v = line + m + 1;
    while (v < end && (*v == ' ' || *v == '\t'))
        v++;
    while (end > v && (end[-1] == '\r' || end[-1] == '\n' || end[-1] == ' '))
        end--;
    *value = v;
    *len = (size_t)(end - v);
    return 1;
}

static size_t on_header(char *line, size_t size, size_t nitems,
                        void *userdata)
{
    struct response *r = userdata;
    size_t n = size * nitems;
    const char *v;
    size_t len;

    if (n > 5 && memcmp(line, "HTTP/", 5) == 0) {
        /* A new answer (after a 100 Continue, say): start over. */
        const char *sp = memchr(line, ' ', n);
        r->status = sp ? strtol(sp + 1, NULL, 10) : 0;
        r->etag[0] = '\0';
        r->have_length = 0;
        r->body.limit_set = 0;
        r->body.len = 0;
        return n;
    }
    if (header_is(line, n, "ETag", &v, &len)) {
        if (len > S3_ETAG_MAX)
            len = S3_ETAG_MAX;
        memcpy(r->etag, v, len);
        r->etag[len] = '\0';
    } else if (header_is(line, n, "Content-Length", &v, &len)) {
        char digits[24];
        if (len == 0 || len >= sizeof digits)
            return n;
        memcpy(digits, v, len);
        digits[len] = '\0';
        if (strspn(digits, "0123456789") != len)
            return n;
        r->content_length = strtoull(digits, NULL, 10);
        r->have_length = 1;
        /* Refuse an object over the limit before reading any of it. */
        if (is_2xx(r->status) && r->max_len != SIZE_MAX
            && r->content_length > r->max_len) {
            r->body.over = 1;
            return 0;
        }
    }
    return n;
}

/* Appends bucket and key to url as a path, each '/'-separated segment
 * percent-encoded (everything but A-Z a-z 0-9 - . _ ~). */
static int append_path(CURL *easy, char *url, size_t size, const char *bucket,
                       const char *key, int with_bucket)
{
    size_t o = strlen(url);
    const char *p = key;

    if (with_bucket) {
        if (o + strlen(bucket) + 2 >= size)
            return -1;
        o += (size_t)snprintf(url + o, size - o, "/%s", bucket);
    }
    if (*key == '\0' && with_bucket)
        return 0; /* the bucket itself: "/bucket" */
    for (;;) {
        size_t seg = strcspn(p, "/");
        char *enc = curl_easy_escape(easy, p, (int)seg);
        size_t m;
        if (enc == NULL)
            return -1;
        m = strlen(enc);
        if (o + m + 2 >= size) {
            curl_free(enc);
            return -1;
        }
        url[o++] = '/';
        memcpy(url + o, enc, m + 1);
        o += m;
        curl_free(enc);
        if (p[seg] == '\0')
            break;
        p += seg + 1;
    }
    return 0;
}

/* The request URL: path-style under a custom endpoint (or for a bucket
 * with dots on AWS, whose TLS certificate would not match), else AWS's
 * virtual-hosted style. */
static int build_url(struct s3_client *c, const struct request *req,
                     char *url, size_t size)
{
    int path_style = c->cfg.endpoint != NULL
                     || strchr(req->bucket, '.') != NULL;
    int n;

    if (c->cfg.endpoint != NULL)
        n = snprintf(url, size, "%s", c->cfg.endpoint);
    else if (path_style)
        n = snprintf(url, size, "https://s3.%s.amazonaws.com",
                     c->cfg.region);
    else
        n = snprintf(url, size, "https://%s.s3.%s.amazonaws.com",
                     req->bucket, c->cfg.region);
    if (n < 0 || (size_t)n >= size)
        return -1;
    if (append_path(c->easy, url, size, req->bucket, req->key, path_style))
        return -1;
    if (req->query != NULL) {
        size_t o = strlen(url);
        if (o + strlen(req->query) + 2 >= size)
            return -1;
        snprintf(url + o, size - o, "?%s", req->query);
    }
    return 0;
}

/* Writes "x-amz-content-sha256: <hex>" for len bytes of data into line
 * (128 bytes). libcurl signs that value as the payload hash. Returns 0, or
 * -1 when OpenSSL fails. */
static int payload_hash(const void *data, size_t len, char *line)
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int md_len = 0;
    int n = snprintf(line, 128, "x-amz-content-sha256: ");

    if (len == 0) {
        snprintf(line + n, 128 - (size_t)n, "%s", EMPTY_SHA256);
        return 0;
    }
    if (EVP_Digest(data, len, md, &md_len, EVP_sha256(), NULL) != 1
        || md_len != 32)
        return -1;
    for (unsigned i = 0; i < md_len; i++)
        n += snprintf(line + n, 128 - (size_t)n, "%02x", md[i]);
    return 0;
}

/* Errors worth another try: the network, not the request. */
static int transient_curl_error(CURLcode cc)
{
    switch (cc) {
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_CONNECT:
    case CURLE_OPERATION_TIMEDOUT:
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_PARTIAL_FILE:
        return 1;
    default:
        return 0;
    }
}

static int transient_status(long status)
{
    return status == 429 || (status >= 500 && status <= 599);
}

/* One attempt's options. Returns 0, or -1 when libcurl refused one. */
static int set_options(struct s3_client *c, const struct request *req,
                       const char *url, struct curl_slist *headers,
                       struct response *r)
{
    CURL *e = c->easy;
    CURLcode rc = CURLE_OK;

    curl_easy_reset(e);
#define SET(opt, val)                                                         \
    do {                                                                      \
        if (rc == CURLE_OK)                                                   \
            rc = curl_easy_setopt(e, opt, val);                               \
    } while (0)
    SET(CURLOPT_URL, url);
    SET(CURLOPT_PATH_AS_IS, 1L);
    SET(CURLOPT_PROTOCOLS_STR, "http,https");
    SET(CURLOPT_NOSIGNAL, 1L);
    SET(CURLOPT_AWS_SIGV4, c->provider);
    SET(CURLOPT_USERNAME, c->cfg.access_key);
    SET(CURLOPT_PASSWORD, c->cfg.secret_key);
    SET(CURLOPT_HTTPHEADER, headers);
    SET(CURLOPT_CONNECTTIMEOUT_MS, c->cfg.connect_timeout_ms);
    SET(CURLOPT_TIMEOUT_MS, c->cfg.timeout_ms);
    SET(CURLOPT_ERRORBUFFER, r->errbuf);
    SET(CURLOPT_WRITEFUNCTION, on_body);
    SET(CURLOPT_WRITEDATA, r);
    SET(CURLOPT_HEADERFUNCTION, on_header);
    SET(CURLOPT_HEADERDATA, r);
    if (strcmp(req->method, "HEAD") == 0) {
        SET(CURLOPT_NOBODY, 1L);
    } else if (strcmp(req->method, "PUT") == 0) {
        /* POSTFIELDS so libcurl can hash the payload for the signature. */
        SET(CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)req->data_len);
        SET(CURLOPT_POSTFIELDS, req->data_len ? req->data : "");
        SET(CURLOPT_CUSTOMREQUEST, "PUT");
    } else if (strcmp(req->method, "DELETE") == 0) {
        SET(CURLOPT_CUSTOMREQUEST, "DELETE");
    }
#undef SET
    return rc == CURLE_OK ? 0 : -1;
}

/* Performs req with retries. Returns 0 once an HTTP answer that is not
 * worth retrying arrived (r->status says which; the last 5xx when every
 * try failed so), or -1 with err set when the network failed every time or
 * the body went over its limit (r->body.over set; err not set then). */
static int perform(struct s3_client *c, const struct request *req,
                   struct response *r, const char *name,
                   struct fr_error *err)
{
    char url[4096 + S3_KEY_MAX * 3];
    char hash_line[128];
    struct curl_slist *headers = NULL;
    int rc = -1;

    if (build_url(c, req, url, sizeof url) != 0) {
        fr_error_set(err, "cannot %s %s: the URL is too long", req->verb,
                     name);
        goto out;
    }
    if (payload_hash(req->data, req->data_len, hash_line) != 0) {
        fr_error_set(err, "cannot %s %s: cannot hash the body", req->verb,
                     name);
        goto out;
    }
    headers = curl_slist_append(NULL, hash_line);
    if (headers == NULL)
        goto oom;
    for (size_t i = 0; i < 4 && req->headers[i]; i++) {
        struct curl_slist *h = curl_slist_append(headers, req->headers[i]);
        if (h == NULL)
            goto oom;
        headers = h;
    }
    if (c->cfg.session_token != NULL) {
        /* Never logged: the list lives only for this call. */
        char *line;
        struct curl_slist *h;
        size_t n = strlen(c->cfg.session_token) + 32;
        line = malloc(n);
        if (line == NULL)
            goto oom;
        snprintf(line, n, "x-amz-security-token: %s", c->cfg.session_token);
        h = curl_slist_append(headers, line);
        free_secret(line);
        if (h == NULL)
            goto oom;
        headers = h;
    }
    r->max_len = req->max_len;
    for (r->attempts = 1;; r->attempts++) {
        long delay;
        response_reset(r);
        if (set_options(c, req, url, headers, r) != 0) {
            fr_error_set(err, "cannot %s %s: libcurl refused an option",
                         req->verb, name);
            goto out;
        }
        r->cc = curl_easy_perform(c->easy);
        if (r->body.over) {
            rc = -1;
            goto out;
        }
        if (r->cc == CURLE_OK && !transient_status(r->status)) {
            rc = 0;
            goto out;
        }
        if (r->cc != CURLE_OK && !transient_curl_error(r->cc))
            break;
        if (r->attempts >= c->cfg.max_attempts)
            break;
        delay = c->cfg.backoff_ms;
        for (unsigned i = 1; i < r->attempts && delay < BACKOFF_CAP_MS; i++)
            delay *= 2;
        if (delay > BACKOFF_CAP_MS)
            delay = BACKOFF_CAP_MS;
        /* Jitter in [delay/2, delay], so clients that failed together do
         * not come back together. */
        delay = delay / 2 + (long)(rand_r(&c->seed) % (unsigned)(delay / 2 + 1));
        sleep_ms(delay);
    }
    if (r->cc == CURLE_OK) {
        rc = 0; /* a 5xx every time: the caller reports it */
        goto out;
    }
    fr_error_set(err, "cannot %s %s: %s (%u %s)", req->verb, name,
                 r->errbuf[0] ? r->errbuf : curl_easy_strerror(r->cc),
                 r->attempts, r->attempts == 1 ? "attempt" : "attempts");
    goto out;

oom:
    fr_error_set(err, "cannot %s %s: out of memory", req->verb, name);
out:
    curl_slist_free_all(headers);
    return rc;
}

/* ---- XML ------------------------------------------------------------------- */

/* What the parser collects: an <Error>'s <Code>, or a ListBucketResult. */
struct xml_doc {
    XML_Parser parser;
    int depth;                 /* of the open element, root = 1 */
    char path[4][32];          /* names of the open elements, depth <= 4 */
    char text[XML_TEXT_MAX + 1];
    size_t text_len;
    int failed;                /* a DTD, a text too long, no memory */
    /* <Error> */
    char code[65];
    /* <ListBucketResult> */
    int is_list;
    int truncated;
    char *next_token;
    char *entry_key;           /* of the open <Contents> or <CommonPrefixes> */
    uint64_t entry_size;
    char entry_modified[32];   /* of the open <Contents>, "" if none */
    struct s3_list *list;
    size_t max_entries;
    int too_many;
};

static void xml_stop(struct xml_doc *d)
{
    d->failed = 1;
    XML_StopParser(d->parser, XML_FALSE);
}

static int at(const struct xml_doc *d, const char *a, const char *b,
              const char *c)
{
    int want = 1 + (b != NULL) + (c != NULL);

    return d->depth == want && strcmp(d->path[0], a) == 0
           && (b == NULL || strcmp(d->path[1], b) == 0)
           && (c == NULL || strcmp(d->path[2], c) == 0);
}

static void XMLCALL on_start(void *ud, const XML_Char *name,
                             const XML_Char **attrs)
{
    struct xml_doc *d = ud;

    (void)attrs;
    d->depth++;
    if (d->depth <= 4) {
        size_t n = strlen(name);
        /* Names we look for are short; a longer one matches none. */
        if (n >= sizeof d->path[0])
            n = 0;
        memcpy(d->path[d->depth - 1], name, n);
        d->path[d->depth - 1][n] = '\0';
    }
    d->text_len = 0;
    if (d->depth == 1 && strcmp(name, "ListBucketResult") == 0)
        d->is_list = 1;
}

static void XMLCALL on_text(void *ud, const XML_Char *s, int len)
{
    struct xml_doc *d = ud;

    if (len < 0 || (size_t)len > XML_TEXT_MAX - d->text_len) {
        /* Only a text we keep may not be cut: keys and tokens. */
        if (d->depth <= 3)
            xml_stop(d);
        return;
    }
    memcpy(d->text + d->text_len, s, (size_t)len);
    d->text_len += (size_t)len;
}

static int list_push(struct xml_doc *d, char *key, uint64_t size,
                     const char *modified, int is_prefix)
{
    struct s3_list *l = d->list;

    if (l->n >= d->max_entries) {
        d->too_many = 1;
        return -1;
    }
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 256;
        struct s3_list_entry *e;
        if (cap > SIZE_MAX / sizeof *e)
            return -1;
        e = realloc(l->entries, cap * sizeof *e);
        if (e == NULL)
            return -1;
        l->entries = e;
        l->cap = cap;
    }
    l->entries[l->n].key = key;
    l->entries[l->n].size = size;
    l->entries[l->n].is_prefix = is_prefix;
    snprintf(l->entries[l->n].modified, sizeof l->entries[l->n].modified,
             "%s", modified);
    l->n++;
    return 0;
}

static void XMLCALL on_end(void *ud, const XML_Char *name)
{
    struct xml_doc *d = ud;
    const char *t;

    (void)name;
    d->text[d->text_len] = '\0';
    t = d->text;
    if (at(d, "Error", "Code", NULL)) {
        if (strlen(t) < sizeof d->code)
            memcpy(d->code, t, strlen(t) + 1);
    } else if (d->is_list && at(d, "ListBucketResult", "IsTruncated", NULL)) {
        d->truncated = strcmp(t, "true") == 0;
    } else if (d->is_list
               && at(d, "ListBucketResult", "NextContinuationToken", NULL)) {
        free(d->next_token);
        d->next_token = strdup(t);
        if (d->next_token == NULL)
            xml_stop(d);
    } else if (d->is_list && (at(d, "ListBucketResult", "Contents", "Key")
                              || at(d, "ListBucketResult", "CommonPrefixes",
                                    "Prefix"))) {
        free(d->entry_key);
        d->entry_key = strdup(t);
        if (d->entry_key == NULL)
            xml_stop(d);
    } else if (d->is_list && at(d, "ListBucketResult", "Contents", "Size")) {
        if (*t == '\0' || strspn(t, "0123456789") != strlen(t)
            || strlen(t) > 19)
            xml_stop(d);
        else
            d->entry_size = strtoull(t, NULL, 10);
    } else if (d->is_list
               && at(d, "ListBucketResult", "Contents", "LastModified")) {
        /* Longer than any ISO 8601 time: ignored rather than cut. */
        if (strlen(t) < sizeof d->entry_modified)
            memcpy(d->entry_modified, t, strlen(t) + 1);
    } else if (d->is_list && (at(d, "ListBucketResult", "Contents", NULL)
                              || at(d, "ListBucketResult", "CommonPrefixes",
                                    NULL))) {
        int is_prefix = strcmp(d->path[1], "CommonPrefixes") == 0;
        if (d->entry_key == NULL) {
            xml_stop(d);
        } else if (list_push(d, d->entry_key, is_prefix ? 0 : d->entry_size,
                             is_prefix ? "" : d->entry_modified,
                             is_prefix) != 0) {
            xml_stop(d);
        } else {
            d->entry_key = NULL;
        }
        d->entry_size = 0;
        d->entry_modified[0] = '\0';
    }
    d->text_len = 0;
    d->depth--;
}

static void XMLCALL on_doctype(void *ud, const XML_Char *name,
                               const XML_Char *sysid, const XML_Char *pubid,
                               int has_internal_subset)
{
    (void)name;
    (void)sysid;
    (void)pubid;
    (void)has_internal_subset;
    xml_stop(ud);
}

/* Parses len bytes of XML into d (zeroed but for list and max_entries).
 * Returns 0, or -1 when the document is not well-formed, has a DTD, or
 * broke a limit. */
static int xml_parse(struct xml_doc *d, const uint8_t *data, size_t len)
{
    enum XML_Status st;
    int rc = -1;

    if (len > INT32_MAX)
        return -1;
    d->parser = XML_ParserCreate("UTF-8");
    if (d->parser == NULL)
        return -1;
    XML_SetUserData(d->parser, d);
    XML_SetElementHandler(d->parser, on_start, on_end);
    XML_SetCharacterDataHandler(d->parser, on_text);
    XML_SetStartDoctypeDeclHandler(d->parser, on_doctype);
    st = XML_Parse(d->parser, (const char *)data, (int)len, XML_TRUE);
    if (st == XML_STATUS_OK && !d->failed)
        rc = 0;
    XML_ParserFree(d->parser);
    d->parser = NULL;
    return rc;
}

static void xml_release(struct xml_doc *d)
{
    free(d->next_token);
    free(d->entry_key);
    d->next_token = NULL;
    d->entry_key = NULL;
}

/* ---- answers to errors ----------------------------------------------------- */

/* S3's error code from an error body, if it has a plausible one
 * ([A-Za-z0-9.]+). Only the code is ever shown: messages can quote the
 * request (a SignatureDoesNotMatch body holds the string to sign and the
 * access key id). */
static void error_code(const struct response *r, char *code, size_t size)
{
    struct xml_doc d;

    code[0] = '\0';
    if (r->body.len == 0)
        return;
    memset(&d, 0, sizeof d);
    xml_parse(&d, r->body.data, r->body.len);
    xml_release(&d);
    if (d.code[0] != '\0' && strspn(d.code, "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                            "abcdefghijklmnopqrstuvwxyz"
                                            "0123456789.")
                                 == strlen(d.code))
        snprintf(code, size, "%s", d.code);
}

/* Sets err for an HTTP answer that is a failure and says which status it
 * is: S3_NOT_FOUND for NoSuchKey (or a HEAD's 404), S3_PRECONDITION_FAILED
 * for 412, else S3_ERROR. */
static int fail_status(const struct request *req, const struct response *r,
                       const char *name, struct fr_error *err)
{
    char code[65];
    const char *attempts = r->attempts > 1 ? " after retries" : "";

    error_code(r, code, sizeof code);
    if (code[0] != '\0')
        fr_error_set(err, "cannot %s %s: %s (%ld)%s", req->verb, name, code,
                     r->status, attempts);
    else if (strcmp(req->method, "HEAD") == 0 && r->status == 404)
        fr_error_set(err, "cannot %s %s: not found (404)", req->verb, name);
    else
        fr_error_set(err, "cannot %s %s: HTTP %ld%s", req->verb, name,
                     r->status, attempts);
    if (r->status == 412)
        return S3_PRECONDITION_FAILED;
    if (r->status == 404
        && (strcmp(code, "NoSuchKey") == 0
            || (strcmp(req->method, "HEAD") == 0 && code[0] == '\0')))
        return S3_NOT_FOUND;
    return S3_ERROR;
}

static void fill_info(struct s3_object_info *info, const struct response *r)
{
    if (info == NULL)
        return;
    snprintf(info->etag, sizeof info->etag, "%s", r->etag);
    info->size = r->have_length ? r->content_length : r->body.len;
    info->http_status = (int)r->status;
    info->attempts = r->attempts;
}

/* Checks the object's name before a request. */
static int check_object(const char *verb, const char *bucket,
                        const char *key, int key_required,
                        struct fr_error *err)
{
    if (!s3_bucket_valid(bucket)) {
        fr_error_set(err, "cannot %s: '%.70s' is not a valid bucket name",
                     verb, bucket);
        return -1;
    }
    if (key_required ? !s3_key_valid(key)
                     : (strlen(key) > S3_KEY_MAX || !no_controls(key))) {
        fr_error_set(err, "cannot %s in s3://%s: invalid key (1-%d bytes "
                     "without control characters)", verb, bucket,
                     S3_KEY_MAX);
        return -1;
    }
    return 0;
}

/* 1 when a header value can be sent: NULL (no header), or 1-511 bytes
 * without CR or LF (libcurl would drop an empty one after signing it). */
static int header_value_ok(const char *v)
{
    return v == NULL
           || (*v != '\0' && strlen(v) < 512 && strpbrk(v, "\r\n") == NULL);
}

/* ---- operations ------------------------------------------------------------ */

int s3_get(struct s3_client *c, const char *bucket, const char *key,
           size_t max_len, const char *if_none_match, uint8_t **buf,
           size_t *len, struct s3_object_info *info, struct fr_error *err)
{
    struct request req = {"GET", "GET", bucket, key, NULL, NULL, 0,
                          {NULL}, max_len};
    struct response r;
    char name[SHOWN_KEY_MAX + S3_BUCKET_MAX + 64];
    char cond[600];
    int rc = S3_ERROR;

    memset(&r, 0, sizeof r);
    *buf = NULL;
    *len = 0;
    if (check_object("GET", bucket, key, 1, err) != 0)
        goto out;
    object_name(name, sizeof name, bucket, key);
    if (!header_value_ok(if_none_match)) {
        fr_error_set(err, "cannot GET %s: invalid If-None-Match", name);
        goto out;
    }
    if (if_none_match != NULL) {
        snprintf(cond, sizeof cond, "If-None-Match: %s", if_none_match);
        req.headers[0] = cond;
    }
    /* if_none_match may point into *info: it is filled only from here. */
    if (perform(c, &req, &r, name, err) != 0) {
        fill_info(info, &r);
        if (r.body.over) {
            fr_error_set(err, "cannot GET %s: the object is over the "
                         "limit of %zu bytes", name, max_len);
            rc = S3_TOO_LARGE;
        }
        goto out;
    }
    fill_info(info, &r);
    if (r.status == 304) {
        rc = S3_NOT_MODIFIED;
        goto out;
    }
    if (r.status != 200) {
        rc = fail_status(&req, &r, name, err);
        goto out;
    }
    if (body_grow(&r.body, r.body.len + 1) != 0) {
        fr_error_set(err, "cannot GET %s: out of memory", name);
        goto out;
    }
    r.body.data[r.body.len] = '\0';
    *buf = r.body.data;
    *len = r.body.len;
    r.body.data = NULL;
    rc = S3_OK;

out:
    response_reset(&r);
    return rc;
}

int s3_head(struct s3_client *c, const char *bucket, const char *key,
            struct s3_object_info *info, struct fr_error *err)
{
    struct request req = {"HEAD", "HEAD", bucket, key, NULL, NULL, 0,
                          {NULL}, 0};
    struct response r;
    char name[SHOWN_KEY_MAX + S3_BUCKET_MAX + 64];
    int rc = S3_ERROR;

    memset(&r, 0, sizeof r);
    if (check_object("HEAD", bucket, key, 1, err) != 0)
        return S3_ERROR;
    object_name(name, sizeof name, bucket, key);
    /* A HEAD has no body: no size limit applies to its Content-Length. */
    req.max_len = SIZE_MAX;
    rc = perform(c, &req, &r, name, err);
    fill_info(info, &r);
    if (rc != 0) {
        rc = S3_ERROR;
        goto out;
    }
    if (r.status != 200) {
        rc = fail_status(&req, &r, name, err);
        goto out;
    }
    rc = S3_OK;

out:
    response_reset(&r);
    return rc;
}

int s3_put(struct s3_client *c, const char *bucket, const char *key,
           const void *data, size_t len, const char *content_type,
           const char *if_none_match, const char *if_match,
           struct s3_object_info *info, struct fr_error *err)
{
    struct request req = {"PUT", "PUT", bucket, key, NULL, data, len,
                          {NULL}, 0};
    struct response r;
    char name[SHOWN_KEY_MAX + S3_BUCKET_MAX + 64];
    char type[600], inm[600], im[600];
    size_t h = 0;
    int rc = S3_ERROR;

    memset(&r, 0, sizeof r);
    if (check_object("PUT", bucket, key, 1, err) != 0)
        goto out;
    object_name(name, sizeof name, bucket, key);
    if (!header_value_ok(content_type) || !header_value_ok(if_none_match)
        || !header_value_ok(if_match)) {
        fr_error_set(err, "cannot PUT %s: a header value is empty, has a "
                     "line break or is too long", name);
        goto out;
    }
    snprintf(type, sizeof type, "Content-Type: %s",
             content_type ? content_type : "application/octet-stream");
    req.headers[h++] = type;
    if (if_none_match != NULL) {
        snprintf(inm, sizeof inm, "If-None-Match: %s", if_none_match);
        req.headers[h++] = inm;
    }
    if (if_match != NULL) {
        snprintf(im, sizeof im, "If-Match: %s", if_match);
        req.headers[h++] = im;
    }
    /* The conditions may point into *info: it is filled only from here. */
    /* An answer body (an error) is read up to ERROR_BODY_MAX; a 2xx PUT
     * answer has none worth keeping. */
    req.max_len = ERROR_BODY_MAX;
    if (perform(c, &req, &r, name, err) != 0) {
        fill_info(info, &r);
        if (r.body.over)
            fr_error_set(err, "cannot PUT %s: the answer is too long", name);
        goto out;
    }
    fill_info(info, &r);
    if (!is_2xx(r.status)) {
        rc = fail_status(&req, &r, name, err);
        goto out;
    }
    if (info != NULL)
        info->size = len;
    rc = S3_OK;

out:
    response_reset(&r);
    return rc;
}

int s3_delete(struct s3_client *c, const char *bucket, const char *key,
              struct fr_error *err)
{
    struct request req = {"DELETE", "DELETE", bucket, key, NULL, NULL, 0,
                          {NULL}, ERROR_BODY_MAX};
    struct response r;
    char name[SHOWN_KEY_MAX + S3_BUCKET_MAX + 64];
    int rc = S3_ERROR;

    memset(&r, 0, sizeof r);
    if (check_object("DELETE", bucket, key, 1, err) != 0)
        return S3_ERROR;
    object_name(name, sizeof name, bucket, key);
    if (perform(c, &req, &r, name, err) != 0) {
        if (r.body.over)
            fr_error_set(err, "cannot DELETE %s: the answer is too long",
                         name);
        goto out;
    }
    if (!is_2xx(r.status)) {
        rc = fail_status(&req, &r, name, err);
        goto out;
    }
    rc = S3_OK;

out:
    response_reset(&r);
    return rc;
}

/* Appends "name=<value percent-encoded>" (with a leading '&' unless
 * first) to q. Returns 0, or -1 when it does not fit or memory runs out. */
static int query_add(CURL *easy, char *q, size_t size, const char *name,
                     const char *value)
{
    char *enc = curl_easy_escape(easy, value, 0);
    size_t o = strlen(q);
    int n;

    if (enc == NULL)
        return -1;
    n = snprintf(q + o, size - o, "%s%s=%s", o ? "&" : "", name, enc);
    curl_free(enc);
    return n < 0 || (size_t)n >= size - o ? -1 : 0;
}

int s3_list_objects(struct s3_client *c, const char *bucket,
                    const char *prefix, const char *delimiter,
                    size_t max_entries, unsigned page_size,
                    struct s3_list *out, struct fr_error *err)
{
    struct request req = {"GET", "LIST", bucket, "", NULL, NULL, 0,
                          {NULL}, 0};
    struct response r;
    struct xml_doc d;
    char name[SHOWN_KEY_MAX + S3_BUCKET_MAX + 64];
    char query[8192 + S3_KEY_MAX * 3];
    char *token = NULL;
    char max_keys[16];
    int rc = S3_ERROR;

    memset(&r, 0, sizeof r);
    memset(&d, 0, sizeof d);
    s3_list_release(out);
    if (prefix == NULL)
        prefix = "";
    if (check_object("LIST", bucket, prefix, 0, err) != 0)
        return S3_ERROR;
    object_name(name, sizeof name, bucket, prefix);
    if (delimiter != NULL && (*delimiter == '\0' || !s3_key_valid(delimiter)
                              || strlen(delimiter) > 16)) {
        fr_error_set(err, "cannot LIST %s: invalid delimiter", name);
        return S3_ERROR;
    }
    snprintf(max_keys, sizeof max_keys, "%u", page_size);
    /* A large answer body is a page of up to 1000 keys of 1 KiB each. */
    req.max_len = 16u * 1024 * 1024;
    for (;;) {
        /* Sorted by name, each value encoded: what libcurl 7.88 signs as
         * is. The canonical query needs "name=" even for empty values. */
        query[0] = '\0';
        if ((token != NULL
             && query_add(c->easy, query, sizeof query, "continuation-token",
                          token) != 0)
            || (delimiter != NULL
                && query_add(c->easy, query, sizeof query, "delimiter",
                             delimiter) != 0)
            || query_add(c->easy, query, sizeof query, "list-type", "2") != 0
            || (page_size > 0
                && query_add(c->easy, query, sizeof query, "max-keys",
                             max_keys) != 0)
            || (*prefix != '\0'
                && query_add(c->easy, query, sizeof query, "prefix",
                             prefix) != 0)) {
            fr_error_set(err, "cannot LIST %s: the query is too long", name);
            goto out;
        }
        req.query = query;
        if (perform(c, &req, &r, name, err) != 0) {
            if (r.body.over)
                fr_error_set(err, "cannot LIST %s: a page is over %zu bytes",
                             name, req.max_len);
            goto out;
        }
        out->pages++;
        if (r.status != 200) {
            rc = fail_status(&req, &r, name, err);
            goto out;
        }
        memset(&d, 0, sizeof d);
        d.list = out;
        d.max_entries = max_entries;
        if (xml_parse(&d, r.body.data, r.body.len) != 0 || !d.is_list) {
            if (d.too_many) {
                fr_error_set(err, "cannot LIST %s: more than %zu entries",
                             name, max_entries);
                rc = S3_TOO_LARGE;
            } else {
                fr_error_set(err, "cannot LIST %s: the answer is not a "
                             "ListBucketResult", name);
            }
            goto out;
        }
        if (!d.truncated)
            break;
        /* Each page must move on: a missing or repeated token, or more
         * pages than entries, would otherwise loop forever. */
        if (d.next_token == NULL || *d.next_token == '\0'
            || (token != NULL && strcmp(token, d.next_token) == 0)
            || out->pages > max_entries + 1) {
            fr_error_set(err, "cannot LIST %s: a truncated page without a "
                         "new continuation token", name);
            goto out;
        }
        free(token);
        token = d.next_token;
        d.next_token = NULL;
        xml_release(&d);
    }
    rc = S3_OK;

out:
    xml_release(&d);
    free(token);
    response_reset(&r);
    if (rc != S3_OK) {
        unsigned pages = out->pages;
        s3_list_release(out);
        out->pages = pages;
    }
    return rc;
}

void s3_list_release(struct s3_list *l)
{
    if (l == NULL)
        return;
    for (size_t i = 0; i < l->n; i++)
        free(l->entries[i].key);
    free(l->entries);
    memset(l, 0, sizeof *l);
}
