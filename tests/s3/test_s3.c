/*
 * test_s3.c: the S3 client (libforest/s3.c) against a real SeaweedFS S3
 * gateway, plus a tiny HTTP server on loopback for what a real store
 * cannot show: the headers the client sends, 5xx answers and an endpoint
 * that never answers.
 *
 * tests/s3/run.sh starts SeaweedFS and runs this with AWS_ENDPOINT_URL,
 * AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and S3_TEST_BUCKET (an existing,
 * empty bucket) set. Each check prints "ok" or "FAIL" with its name; the
 * last line is "N passed, N failed" and the exit status is 1 on a failure.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "s3.h"

static int passed, failed;

static void check(const char *name, int cond, const char *detail)
{
    if (cond) {
        passed++;
        printf("ok   %s\n", name);
    } else {
        failed++;
        printf("FAIL %s%s%s\n", name, detail ? ": " : "", detail ? detail : "");
    }
    fflush(stdout);
}

static double now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static const char *bucket;
static struct s3_config base_cfg; /* from the environment */

/* A client for base_cfg with a few fields changed; exits on failure. */
static struct s3_client *client_with(const char *endpoint, const char *key,
                                     const char *secret, const char *token,
                                     unsigned attempts, long timeout_ms)
{
    struct s3_config cfg = base_cfg;
    struct fr_error err = {{0}};
    struct s3_client *c;

    if (endpoint)
        cfg.endpoint = (char *)endpoint;
    if (key)
        cfg.access_key = (char *)key;
    if (secret)
        cfg.secret_key = (char *)secret;
    cfg.session_token = (char *)token;
    if (attempts)
        cfg.max_attempts = attempts;
    if (timeout_ms)
        cfg.timeout_ms = timeout_ms;
    cfg.backoff_ms = 100;
    c = s3_client_new(&cfg, &err);
    if (c == NULL) {
        fprintf(stderr, "test_s3: %s\n", err.msg);
        exit(2);
    }
    return c;
}

/* ---- a tiny HTTP server ---------------------------------------------- */

/* Answers connections one at a time with replies[i] for the i-th request
 * (the last one repeats); a NULL reply reads and never answers. Records
 * the last request's head. */
struct fake {
    int fd;
    int port;
    pthread_t thread;
    const char *replies[8];
    int n_replies;
    int requests;       /* requests seen */
    char head[16384];   /* the last request line and headers */
    volatile int stop;
};

static void *fake_run(void *arg)
{
    struct fake *f = arg;

    while (!f->stop) {
        struct pollfd p = {f->fd, POLLIN, 0};
        char buf[16384];
        size_t len = 0;
        const char *reply;
        int cfd;

        if (poll(&p, 1, 100) <= 0)
            continue;
        cfd = accept(f->fd, NULL, NULL);
        if (cfd < 0)
            continue;
        /* The head, then any body (Content-Length) is read and dropped. */
        for (;;) {
            struct pollfd q = {cfd, POLLIN, 0};
            ssize_t n;
            if (poll(&q, 1, 3000) <= 0)
                break;
            n = read(cfd, buf + len, sizeof buf - 1 - len);
            if (n <= 0)
                break;
            len += (size_t)n;
            buf[len] = '\0';
            if (strstr(buf, "\r\n\r\n") || len == sizeof buf - 1)
                break;
        }
        memcpy(f->head, buf, len + 1);
        reply = f->replies[f->requests < f->n_replies ? f->requests
                                                      : f->n_replies - 1];
        f->requests++;
        if (reply == NULL) {
            /* Silent: wait until the client gives up and closes. */
            struct pollfd q = {cfd, POLLIN, 0};
            while (!f->stop && poll(&q, 1, 5000) > 0 && read(cfd, buf, sizeof buf) > 0)
                ;
        } else {
            ssize_t w = write(cfd, reply, strlen(reply));
            (void)w;
        }
        close(cfd);
    }
    return NULL;
}

static void fake_start(struct fake *f, int n, ...)
{
    struct sockaddr_in a;
    socklen_t alen = sizeof a;
    va_list ap;

    memset(f, 0, sizeof *f);
    va_start(ap, n);
    for (int i = 0; i < n; i++)
        f->replies[i] = va_arg(ap, const char *);
    va_end(ap);
    f->n_replies = n;
    f->fd = socket(AF_INET, SOCK_STREAM, 0);
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (f->fd < 0 || bind(f->fd, (struct sockaddr *)&a, sizeof a) != 0
        || listen(f->fd, 8) != 0
        || getsockname(f->fd, (struct sockaddr *)&a, &alen) != 0
        || pthread_create(&f->thread, NULL, fake_run, f) != 0) {
        perror("test_s3: fake server");
        exit(2);
    }
    f->port = ntohs(a.sin_port);
}

static void fake_stop(struct fake *f)
{
    f->stop = 1;
    pthread_join(f->thread, NULL);
    close(f->fd);
}

static const char *fake_url(const struct fake *f)
{
    static char url[64];

    snprintf(url, sizeof url, "http://127.0.0.1:%d", f->port);
    return url;
}

/* The value of a header in a recorded request head, in a static buffer
 * ("" when absent). */
static const char *head_value(const char *head, const char *name)
{
    static char v[4096];
    const char *p = head;
    size_t n = strlen(name);

    v[0] = '\0';
    while ((p = strstr(p, "\r\n")) != NULL) {
        p += 2;
        if (strncasecmp(p, name, n) == 0 && p[n] == ':') {
            const char *s = p + n + 1;
            size_t len = strcspn(s, "\r\n");
            while (*s == ' ') {
                s++;
                len--;
            }
            if (len >= sizeof v)
                len = sizeof v - 1;
            memcpy(v, s, len);
            v[len] = '\0';
            break;
        }
    }
    return v;
}

/* A whole HTTP/1.1 answer with its Content-Length, in a static buffer per
 * slot (0-3). */
static const char *reply(int slot, const char *status, const char *extra,
                         const char *body)
{
    static char buf[4][1024];

    snprintf(buf[slot], sizeof buf[slot],
             "HTTP/1.1 %s\r\n%sContent-Length: %zu\r\nConnection: close\r\n"
             "\r\n%s", status, extra, strlen(body), body);
    return buf[slot];
}

#define REPLY_503                                                             \
    reply(0, "503 Service Unavailable", "Content-Type: application/xml\r\n",   \
          "<?xml version=\"1.0\"?><Error><Code>SlowDown</Code>"              \
          "<Message>slow down</Message></Error>")
#define REPLY_200 reply(1, "200 OK", "ETag: \"abc\"\r\n", "hello")
#define REPLY_400 reply(2, "400 Bad Request", "", "")

/* ---- cases ------------------------------------------------------------- */

static void test_names(void)
{
    struct s3_url u;
    struct fr_error err = {{0}};
    static const char *const good[] = {"abc", "my-bucket.v2", "a1b",
                                       "0models"};
    static const char *const bad[] = {"ab", "Abc", "-abc", "abc-",
                                      "a..b", "192.168.1.1", "xn--abc",
                                      "sthree-x", "abc-s3alias", "a_b",
                                      "abc.mrap", "amzn-s3-demo-x"};
    int all = 1;

    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++)
        all &= s3_bucket_valid(good[i]);
    check("names-1 valid bucket names are accepted", all, NULL);
    all = 1;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        all &= !s3_bucket_valid(bad[i]);
    check("names-2 invalid bucket names are refused (case, edges, "
          "'..', IPv4, reserved)", all, NULL);
    check("names-3 a 64-character bucket name is refused",
          !s3_bucket_valid("a123456789012345678901234567890123456789012345"
                           "678901234567890123"), NULL);
    check("names-4 s3://bucket/prefix parses",
          s3_url_parse("s3://models/team a/ü", &u, &err) == 0
              && strcmp(u.bucket, "models") == 0
              && strcmp(u.key, "team a/ü") == 0, err.msg);
    s3_url_release(&u);
    check("names-5 s3://bucket parses with an empty prefix",
          s3_url_parse("s3://models", &u, &err) == 0 && *u.key == '\0',
          err.msg);
    s3_url_release(&u);
    check("names-6 a URL that is not s3:// is refused",
          s3_url_parse("http://models/x", &u, &err) == -1
              && strstr(err.msg, "expected s3://bucket/prefix"), err.msg);
    check("names-7 an invalid bucket in a URL is named",
          s3_url_parse("s3://My_Bucket/x", &u, &err) == -1
              && strstr(err.msg, "'My_Bucket' is not a valid bucket name"),
          err.msg);
    check("names-8 a key with a control character is refused",
          s3_url_parse("s3://models/a\nb", &u, &err) == -1, err.msg);
}

/* Saves, sets and restores one environment variable around config loads. */
static void test_config(void)
{
    struct s3_config cfg;
    struct fr_error err = {{0}};
    char *saved_ep = getenv("AWS_ENDPOINT_URL") ? strdup(getenv("AWS_ENDPOINT_URL")) : NULL;
    char *saved_secret = strdup(getenv("AWS_SECRET_ACCESS_KEY"));

    setenv("AWS_ENDPOINT_URL_S3", "http://127.0.0.1:1/", 1);
    check("config-1 AWS_ENDPOINT_URL_S3 wins over AWS_ENDPOINT_URL, "
          "trailing '/' dropped",
          s3_config_from_env(&cfg, &err) == 0
              && strcmp(cfg.endpoint, "http://127.0.0.1:1") == 0, err.msg);
    check("config-2 AWS_REGION defaults to us-east-1",
          getenv("AWS_REGION") != NULL || strcmp(cfg.region, "us-east-1") == 0,
          cfg.region);
    s3_config_release(&cfg);
    unsetenv("AWS_ENDPOINT_URL_S3");

    setenv("AWS_ENDPOINT_URL", "http://user:hunter2@127.0.0.1:9", 1);
    check("config-3 an endpoint with a user:password is refused without "
          "echoing the password",
          s3_config_from_env(&cfg, &err) == -1 && !strstr(err.msg, "hunter2")
              && strstr(err.msg, "AWS_ENDPOINT_URL"), err.msg);
    setenv("AWS_ENDPOINT_URL", "ftp://127.0.0.1", 1);
    check("config-4 an endpoint that is not http(s) is refused",
          s3_config_from_env(&cfg, &err) == -1
              && strstr(err.msg, "expected http:// or https://"), err.msg);
    if (saved_ep)
        setenv("AWS_ENDPOINT_URL", saved_ep, 1);
    else
        unsetenv("AWS_ENDPOINT_URL");

    unsetenv("AWS_SECRET_ACCESS_KEY");
    check("config-5 a missing secret is named",
          s3_config_from_env(&cfg, &err) == -1
              && strstr(err.msg, "AWS_SECRET_ACCESS_KEY is not set"), err.msg);
    setenv("AWS_SECRET_ACCESS_KEY", "bad secret\n", 1);
    check("config-6 an invalid secret is refused without quoting it",
          s3_config_from_env(&cfg, &err) == -1 && !strstr(err.msg, "bad secret"),
          err.msg);
    setenv("AWS_SECRET_ACCESS_KEY", saved_secret, 1);
    setenv("AWS_MAX_ATTEMPTS", "0", 1);
    check("config-7 AWS_MAX_ATTEMPTS out of 1-10 is refused",
          s3_config_from_env(&cfg, &err) == -1
              && strstr(err.msg, "AWS_MAX_ATTEMPTS"), err.msg);
    unsetenv("AWS_MAX_ATTEMPTS");
    setenv("AWS_REGION", "us east", 1);
    check("config-8 an invalid AWS_REGION is refused",
          s3_config_from_env(&cfg, &err) == -1 && strstr(err.msg, "AWS_REGION"),
          err.msg);
    unsetenv("AWS_REGION");
    free(saved_ep);
    free(saved_secret);
}

static void test_round_trip(struct s3_client *c)
{
    struct fr_error err = {{0}};
    struct s3_object_info put, head, got;
    uint8_t *buf = NULL;
    size_t len = 0;
    static uint8_t data[1 << 20];
    uint32_t x = 12345;
    int rc;

    for (size_t i = 0; i < sizeof data; i++) {
        x = x * 1664525u + 1013904223u;
        data[i] = (uint8_t)(x >> 24);
    }
    data[10] = 0;
    rc = s3_put(c, bucket, "rt/model.bin", data, sizeof data, NULL, NULL,
                NULL, &put, &err);
    check("roundtrip-1 PUT of 1 MiB of binary (with NULs) succeeds",
          rc == S3_OK && put.etag[0] != '\0', err.msg);
    rc = s3_head(c, bucket, "rt/model.bin", &head, &err);
    check("roundtrip-2 HEAD gives the size and the PUT's ETag",
          rc == S3_OK && head.size == sizeof data
              && strcmp(head.etag, put.etag) == 0, err.msg);
    rc = s3_get(c, bucket, "rt/model.bin", sizeof data, NULL, &buf, &len,
                &got, &err);
    check("roundtrip-3 GET at exactly the size limit returns the same bytes",
          rc == S3_OK && len == sizeof data && memcmp(buf, data, len) == 0
              && buf[len] == '\0' && strcmp(got.etag, put.etag) == 0,
          err.msg);
    free(buf);
    rc = s3_put(c, bucket, "rt/empty", "", 0, "text/plain", NULL, NULL, NULL,
                &err);
    check("roundtrip-4 an empty object PUTs", rc == S3_OK, err.msg);
    rc = s3_get(c, bucket, "rt/empty", 10, NULL, &buf, &len, NULL, &err);
    check("roundtrip-5 ... and GETs back empty", rc == S3_OK && len == 0
              && buf != NULL && buf[0] == '\0', err.msg);
    free(buf);
    check("roundtrip-6 DELETE succeeds",
          s3_delete(c, bucket, "rt/model.bin", &err) == S3_OK, err.msg);
    rc = s3_get(c, bucket, "rt/model.bin", sizeof data, NULL, &buf, &len,
                NULL, &err);
    check("roundtrip-7 GET after DELETE: S3_NOT_FOUND, NoSuchKey (404), "
          "naming the object",
          rc == S3_NOT_FOUND && buf == NULL
              && strstr(err.msg, "cannot GET s3://") != NULL
              && strstr(err.msg, "/rt/model.bin: NoSuchKey (404)") != NULL,
          err.msg);
    rc = s3_head(c, bucket, "rt/model.bin", &head, &err);
    check("roundtrip-8 HEAD after DELETE: S3_NOT_FOUND", rc == S3_NOT_FOUND,
          err.msg);
    check("roundtrip-9 DELETE of a missing key succeeds (as S3 does)",
          s3_delete(c, bucket, "rt/model.bin", &err) == S3_OK, err.msg);
    s3_delete(c, bucket, "rt/empty", &err);
}

static void test_size_limit(struct s3_client *c)
{
    struct fr_error err = {{0}};
    uint8_t *buf = (uint8_t *)"x";
    size_t len = 7;
    int rc;

    s3_put(c, bucket, "limit/obj", "0123456789", 10, NULL, NULL, NULL, NULL,
           &err);
    rc = s3_get(c, bucket, "limit/obj", 9, NULL, &buf, &len, NULL, &err);
    check("limit-1 an object one byte over the limit is refused: "
          "S3_TOO_LARGE, nothing returned",
          rc == S3_TOO_LARGE && buf == NULL && len == 0
              && strstr(err.msg, "over the limit of 9 bytes"), err.msg);
    s3_delete(c, bucket, "limit/obj", &err);
}

static void test_conditional(struct s3_client *c)
{
    struct fr_error err = {{0}};
    struct s3_object_info a, b, g;
    uint8_t *buf = NULL;
    size_t len = 0;
    int rc;

    rc = s3_put(c, bucket, "cond/current", "v1", 2, "text/plain", "*", NULL,
                &a, &err);
    check("cond-1 PUT If-None-Match: * of a new key succeeds", rc == S3_OK,
          err.msg);
    rc = s3_put(c, bucket, "cond/current", "v2", 2, "text/plain", "*", NULL,
                &b, &err);
    check("cond-2 PUT If-None-Match: * of an existing key: "
          "S3_PRECONDITION_FAILED (412)",
          rc == S3_PRECONDITION_FAILED && b.http_status == 412
              && strstr(err.msg, "(412)"), err.msg);
    rc = s3_get(c, bucket, "cond/current", 100, NULL, &buf, &len, &g, &err);
    check("cond-3 ... and the object is still the first one",
          rc == S3_OK && len == 2 && memcmp(buf, "v1", 2) == 0, err.msg);
    free(buf);
    rc = s3_put(c, bucket, "cond/current", "v3", 2, "text/plain", NULL,
                "\"0123456789abcdef0123456789abcdef\"", &b, &err);
    check("cond-4 PUT If-Match with a stale ETag: S3_PRECONDITION_FAILED",
          rc == S3_PRECONDITION_FAILED, err.msg);
    rc = s3_put(c, bucket, "cond/current", "v4", 2, "text/plain", NULL,
                g.etag, &b, &err);
    check("cond-5 PUT If-Match with the current ETag succeeds",
          rc == S3_OK && strcmp(b.etag, g.etag) != 0, err.msg);
    rc = s3_get(c, bucket, "cond/current", 100, b.etag, &buf, &len, &g,
                &err);
    check("cond-6 GET If-None-Match with the current ETag: "
          "S3_NOT_MODIFIED (304), no body, the ETag kept",
          rc == S3_NOT_MODIFIED && buf == NULL && g.http_status == 304
              && strcmp(g.etag, b.etag) == 0, err.msg);
    rc = s3_get(c, bucket, "cond/current", 100, a.etag, &buf, &len, &g,
                &err);
    check("cond-7 GET If-None-Match with an old ETag: the new body",
          rc == S3_OK && len == 2 && memcmp(buf, "v4", 2) == 0, err.msg);
    free(buf);
    s3_delete(c, bucket, "cond/current", &err);
    rc = s3_put(c, bucket, "cond/current", "v5", 2, "text/plain", NULL,
                b.etag, &b, &err);
    check("cond-8 PUT If-Match of a deleted key: S3_NOT_FOUND, "
          "NoSuchKey (404), as on AWS",
          rc == S3_NOT_FOUND && strstr(err.msg, "NoSuchKey (404)"), err.msg);
}

/* Racing conditional PUTs: RACERS threads, one client each, released
 * together; each PUTs its own body to one key. */
enum { RACERS = 8 };

struct racer {
    pthread_t thread;
    const char *key;
    const char *if_none_match, *if_match;
    char body[32];
    int rc;
    struct fr_error err;
};

static pthread_barrier_t race_start;

static void *race_run(void *arg)
{
    struct racer *r = arg;
    struct s3_client *c = client_with(NULL, NULL, NULL, NULL, 1, 0);

    pthread_barrier_wait(&race_start);
    r->rc = s3_put(c, bucket, r->key, r->body, strlen(r->body), NULL,
                   r->if_none_match, r->if_match, NULL, &r->err);
    s3_client_free(c);
    return NULL;
}

/* Runs the race; returns how many PUTs succeeded, and in *winner the body
 * of the last one that did; *refused counts the 412s. */
static int race(const char *key, const char *inm, const char *im,
                int *refused, char *winner)
{
    struct racer r[RACERS];
    int ok = 0;
    double t0 = now_s();

    *refused = 0;
    pthread_barrier_init(&race_start, NULL, RACERS);
    for (int i = 0; i < RACERS; i++) {
        memset(&r[i], 0, sizeof r[i]);
        r[i].key = key;
        r[i].if_none_match = inm;
        r[i].if_match = im;
        snprintf(r[i].body, sizeof r[i].body, "racer-%d", i);
        pthread_create(&r[i].thread, NULL, race_run, &r[i]);
    }
    for (int i = 0; i < RACERS; i++) {
        pthread_join(r[i].thread, NULL);
        if (r[i].rc == S3_OK) {
            ok++;
            strcpy(winner, r[i].body);
        } else if (r[i].rc == S3_PRECONDITION_FAILED) {
            (*refused)++;
        } else {
            printf("     racer %d: %s\n", i, r[i].err.msg);
        }
    }
    pthread_barrier_destroy(&race_start);
    printf("     (%s race on %s: %d of %d succeeded, %d got 412, %.2fs)\n",
           inm ? "If-None-Match: *" : "If-Match", key, ok, RACERS, *refused,
           now_s() - t0);
    return ok;
}

static void test_race(struct s3_client *c)
{
    struct fr_error err = {{0}};
    struct s3_object_info info;
    char winner[32] = "", etag[S3_ETAG_MAX + 1];
    uint8_t *buf = NULL;
    size_t len = 0;
    int ok, refused, rounds = 5, exact = 1, kept = 1;

    /* Several rounds: one lucky interleaving proves little. */
    for (int round = 0; round < rounds; round++) {
        char key[64];
        snprintf(key, sizeof key, "race/create-%d", round);
        ok = race(key, "*", NULL, &refused, winner);
        exact &= ok == 1 && refused == RACERS - 1;
        if (s3_get(c, bucket, key, 100, NULL, &buf, &len, NULL, &err) != S3_OK
            || strcmp((char *)buf, winner) != 0)
            kept = 0;
        free(buf);
        s3_delete(c, bucket, key, &err);
    }
    check("cond-9 8 concurrent PUTs If-None-Match: * of one new key, 5 "
          "rounds: exactly one succeeds each time, the others get 412",
          exact, NULL);
    check("cond-10 ... and the object holds the winner's body", kept, NULL);

    exact = 1;
    kept = 1;
    for (int round = 0; round < rounds; round++) {
        s3_put(c, bucket, "race/current", "v0", 2, NULL, NULL, NULL, &info,
               &err);
        snprintf(etag, sizeof etag, "%s", info.etag);
        ok = race("race/current", NULL, etag, &refused, winner);
        exact &= ok == 1 && refused == RACERS - 1;
        if (s3_get(c, bucket, "race/current", 100, NULL, &buf, &len, NULL,
                   &err) != S3_OK || strcmp((char *)buf, winner) != 0)
            kept = 0;
        free(buf);
    }
    s3_delete(c, bucket, "race/current", &err);
    check("cond-11 8 concurrent PUTs If-Match of the same ETag, 5 rounds: "
          "exactly one succeeds each time, the others get 412", exact, NULL);
    check("cond-12 ... and the object holds the winner's body", kept, NULL);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static void test_keys(struct s3_client *c)
{
    static const char *const keys[] = {
        "keys/with space/and  two",
        "keys/ünïcödé/日本語/模型.bin",
        "keys/plus+equals=amp&query?hash#percent%20",
        "keys/tilde~star*paren(x)'quote\"!$,;:@",
        "keys/brackets[]{}<>^`|\\",
    };
    size_t n = sizeof keys / sizeof keys[0];
    struct fr_error err = {{0}};
    struct s3_list l;
    int all_put = 1, all_get = 1, listed;
    const char *sorted[8];

    for (size_t i = 0; i < n; i++) {
        if (s3_put(c, bucket, keys[i], keys[i], strlen(keys[i]), NULL, NULL,
                   NULL, NULL, &err) != S3_OK) {
            all_put = 0;
            printf("     PUT %s: %s\n", keys[i], err.msg);
        }
    }
    check("keys-1 keys with spaces, UTF-8 and reserved characters PUT",
          all_put, NULL);
    for (size_t i = 0; i < n; i++) {
        uint8_t *buf = NULL;
        size_t len = 0;
        int rc = s3_get(c, bucket, keys[i], 1000, NULL, &buf, &len, NULL, &err);
        if (rc != S3_OK || len != strlen(keys[i])
            || memcmp(buf, keys[i], len) != 0) {
            all_get = 0;
            printf("     GET %s: %s\n", keys[i], err.msg);
        }
        free(buf);
    }
    check("keys-2 ... and GET back under the same key", all_get, NULL);
    memset(&l, 0, sizeof l);
    memcpy(sorted, keys, n * sizeof *keys);
    qsort(sorted, n, sizeof *sorted, cmp_str);
    listed = s3_list_objects(c, bucket, "keys/", NULL, 100, 0, &l, &err)
             == S3_OK && l.n == n;
    for (size_t i = 0; listed && i < n; i++)
        listed = strcmp(l.entries[i].key, sorted[i]) == 0
                 && l.entries[i].size == strlen(sorted[i]);
    check("keys-3 ... and list back byte for byte, in order, with sizes",
          listed, err.msg);
    s3_list_release(&l);
    listed = s3_list_objects(c, bucket, "keys/ünïcödé/日本語/", NULL, 100, 0,
                             &l, &err) == S3_OK && l.n == 1;
    check("keys-4 a UTF-8 prefix lists (the query is signed encoded)",
          listed, err.msg);
    s3_list_release(&l);
    for (size_t i = 0; i < n; i++)
        s3_delete(c, bucket, keys[i], &err);
}

static void test_list(struct s3_client *c)
{
    enum { N = 1005 };
    struct fr_error err = {{0}};
    struct s3_list l;
    char key[64];
    int all = 1, ordered = 1;
    double t0 = now_s();
    int rc;

    for (int i = 0; i < N && all; i++) {
        snprintf(key, sizeof key, "many/k%05d", i);
        all = s3_put(c, bucket, key, "x", 1, NULL, NULL, NULL, NULL, &err)
              == S3_OK;
    }
    printf("     (%d PUTs in %.1fs)\n", N, now_s() - t0);
    check("list-1 1005 objects PUT", all, err.msg);
    s3_put(c, bucket, "many-not/x", "x", 1, NULL, NULL, NULL, NULL, &err);
    memset(&l, 0, sizeof l);
    rc = s3_list_objects(c, bucket, "many/", NULL, 5000, 0, &l, &err);
    for (size_t i = 0; rc == S3_OK && i < l.n; i++) {
        snprintf(key, sizeof key, "many/k%05zu", i);
        ordered &= strcmp(l.entries[i].key, key) == 0
                   && l.entries[i].size == 1 && !l.entries[i].is_prefix;
    }
    check("list-2 a listing of 1005 keys follows the continuation token "
          "(2 pages of S3's default 1000)",
          rc == S3_OK && l.n == N && l.pages == 2 && ordered, err.msg);
    s3_list_release(&l);
    rc = s3_list_objects(c, bucket, "many/", NULL, 5000, 300, &l, &err);
    check("list-3 max-keys 300: 4 pages, every key once",
          rc == S3_OK && l.n == N && l.pages == 4, err.msg);
    s3_list_release(&l);
    rc = s3_list_objects(c, bucket, "many/", NULL, 1000, 0, &l, &err);
    check("list-4 more entries than max_entries: S3_TOO_LARGE, named",
          rc == S3_TOO_LARGE && l.n == 0 && strstr(err.msg, "more than 1000"),
          err.msg);
    {
        static const char *const tree[] = {"tree/a/1", "tree/a/2", "tree/b",
                                           "tree/c/x"};
        for (size_t i = 0; i < 4; i++)
            s3_put(c, bucket, tree[i], "t", 1, NULL, NULL, NULL, NULL, &err);
        rc = s3_list_objects(c, bucket, "tree/", "/", 100, 0, &l, &err);
        check("list-5 delimiter '/': objects, then the common prefixes",
              rc == S3_OK && l.n == 3 && strcmp(l.entries[0].key, "tree/b") == 0
                  && !l.entries[0].is_prefix
                  && strcmp(l.entries[1].key, "tree/a/") == 0
                  && l.entries[1].is_prefix
                  && strcmp(l.entries[2].key, "tree/c/") == 0
                  && l.entries[2].is_prefix, err.msg);
        s3_list_release(&l);
        for (size_t i = 0; i < 4; i++)
            s3_delete(c, bucket, tree[i], &err);
    }
    rc = s3_list_objects(c, bucket, "nothing-here/", NULL, 10, 0, &l, &err);
    check("list-6 an empty prefix lists nothing", rc == S3_OK && l.n == 0,
          err.msg);
    s3_list_release(&l);
    t0 = now_s();
    for (int i = 0; i < N; i++) {
        snprintf(key, sizeof key, "many/k%05d", i);
        s3_delete(c, bucket, key, &err);
    }
    s3_delete(c, bucket, "many-not/x", &err);
    printf("     (%d DELETEs in %.1fs)\n", N, now_s() - t0);
    rc = s3_list_objects(c, bucket, "many/", NULL, 5000, 0, &l, &err);
    check("list-7 once every object under a prefix is deleted, it lists "
          "no object", rc == S3_OK && l.n == 0, err.msg);
    s3_list_release(&l);
    /* Not asserted, reported: SeaweedFS keeps the emptied "directories" a
     * while, and a delimiter listing shows them as common prefixes. */
    t0 = now_s();
    for (;;) {
        int lingering = 0;
        rc = s3_list_objects(c, bucket, "", "/", 100, 0, &l, &err);
        for (size_t i = 0; rc == S3_OK && i < l.n; i++)
            lingering |= strcmp(l.entries[i].key, "many/") == 0;
        s3_list_release(&l);
        if (!lingering || now_s() - t0 > 3.0) {
            printf("     note: the emptied prefix many/ %s in a delimiter "
                   "listing after %.1fs\n",
                   lingering ? "is still listed" : "is gone", now_s() - t0);
            break;
        }
        usleep(200000);
    }
}

static void test_errors(void)
{
    struct fr_error err = {{0}};
    struct s3_client *c;
    struct s3_object_info info;
    struct s3_list l;
    uint8_t *buf = NULL;
    size_t len = 0;
    const char *wrong_secret = "wrong-secret-0123456789";
    double t0, dt;
    int rc;

    c = client_with(NULL, NULL, wrong_secret, NULL, 0, 0);
    rc = s3_get(c, bucket, "x/y", 100, NULL, &buf, &len, &info, &err);
    check("errors-1 a wrong secret: S3_ERROR, 403, naming the object and "
          "SignatureDoesNotMatch",
          rc == S3_ERROR && info.http_status == 403
              && strstr(err.msg, "/x/y: SignatureDoesNotMatch (403)")
              && info.attempts == 1, err.msg);
    check("errors-2 ... with no credential in the message",
          !strstr(err.msg, wrong_secret) && !strstr(err.msg, base_cfg.secret_key)
              && !strstr(err.msg, base_cfg.access_key), err.msg);
    s3_client_free(c);

    c = client_with(NULL, "NOSUCHKEYID0000000", NULL, NULL, 0, 0);
    rc = s3_put(c, bucket, "x/y", "a", 1, NULL, NULL, NULL, &info, &err);
    check("errors-3 an unknown access key: InvalidAccessKeyId (403), no "
          "credential in the message",
          rc == S3_ERROR && strstr(err.msg, "InvalidAccessKeyId (403)")
              && !strstr(err.msg, "NOSUCHKEYID") && !strstr(err.msg, base_cfg.secret_key),
          err.msg);
    s3_client_free(c);

    c = client_with(NULL, NULL, NULL, NULL, 0, 0);
    rc = s3_get(c, "no-such-bucket-here", "current", 100, NULL, &buf, &len,
                NULL, &err);
    check("errors-4 a missing bucket: S3_ERROR (not NOT_FOUND), "
          "'s3://no-such-bucket-here/current: NoSuchBucket (404)'",
          rc == S3_ERROR
              && strstr(err.msg,
                        "s3://no-such-bucket-here/current: NoSuchBucket (404)"),
          err.msg);
    memset(&l, 0, sizeof l);
    rc = s3_list_objects(c, "no-such-bucket-here", "v/", NULL, 10, 0, &l,
                         &err);
    check("errors-5 listing a missing bucket: NoSuchBucket (404)",
          rc == S3_ERROR && strstr(err.msg, "cannot LIST "
                                            "s3://no-such-bucket-here/v/: "
                                            "NoSuchBucket (404)"), err.msg);
    s3_client_free(c);

    /* A port nothing listens on: bind one, note it, close it. */
    {
        struct fake f;
        char url[64];
        fake_start(&f, 1, REPLY_200);
        snprintf(url, sizeof url, "%s", fake_url(&f));
        fake_stop(&f);
        c = client_with(url, NULL, NULL, NULL, 3, 0);
    }
    t0 = now_s();
    rc = s3_get(c, bucket, "current", 100, NULL, &buf, &len, &info, &err);
    dt = now_s() - t0;
    printf("     (endpoint down: %.2fs)\n", dt);
    check("errors-6 endpoint down: S3_ERROR after 3 attempts, said so",
          rc == S3_ERROR && info.attempts == 3
              && strstr(err.msg, "(3 attempts)")
              && strstr(err.msg, "onnect"), err.msg);
    /* Back-offs of 100 then 200 ms, each jittered into [d/2, d]. */
    check("errors-7 ... in bounded time: between 0.15 and 2 s", dt >= 0.15
              && dt < 2.0, NULL);
    s3_client_free(c);
}

static void test_fake(void)
{
    struct fr_error err = {{0}};
    struct s3_client *c;
    struct s3_object_info info;
    struct fake f;
    uint8_t *buf = NULL;
    size_t len = 0;
    double t0, dt;
    int rc;

    fake_start(&f, 1, REPLY_200);
    c = client_with(fake_url(&f), NULL, NULL, "session-token-xyz/+=", 1, 0);
    rc = s3_put(c, "bucket", "a b/ü+x", "hi", 2, NULL, "*", NULL, &info,
                &err);
    check("fake-1 the path is percent-encoded per segment",
          rc == S3_OK
              && strncmp(f.head, "PUT /bucket/a%20b/%C3%BC%2Bx HTTP/1.1\r\n",
                         38) == 0, f.head);
    check("fake-2 x-amz-security-token is sent with the session token",
          strcmp(head_value(f.head, "x-amz-security-token"),
                 "session-token-xyz/+=") == 0, f.head);
    check("fake-3 ... and signed (in the Authorization's SignedHeaders)",
          strstr(head_value(f.head, "Authorization"),
                 "x-amz-security-token") != NULL, f.head);
    check("fake-4 the payload hash is signed, not UNSIGNED-PAYLOAD "
          "(sha256 of \"hi\")",
          strcmp(head_value(f.head, "x-amz-content-sha256"),
                 "8f434346648f6b96df89dda901c5176b10a6d83961dd3c1ac88b59b2dc"
                 "327aa4") == 0, f.head);
    check("fake-5 the credential scope is the region and s3",
          strstr(head_value(f.head, "Authorization"),
                 "/us-east-1/s3/aws4_request") != NULL, f.head);
    check("fake-6 If-None-Match: * is sent and signed",
          strcmp(head_value(f.head, "If-None-Match"), "*") == 0
              && strstr(head_value(f.head, "Authorization"), "if-none-match"),
          f.head);
    s3_client_free(c);
    fake_stop(&f);

    fake_start(&f, 3, REPLY_503, REPLY_503, REPLY_200);
    c = client_with(fake_url(&f), NULL, NULL, NULL, 3, 0);
    rc = s3_get(c, "bucket", "k", 100, NULL, &buf, &len, &info, &err);
    check("fake-7 503, 503, then 200: retried, the body returned",
          rc == S3_OK && info.attempts == 3 && f.requests == 3 && len == 5
              && memcmp(buf, "hello", 5) == 0, err.msg);
    free(buf);
    s3_client_free(c);
    fake_stop(&f);

    fake_start(&f, 1, REPLY_503);
    c = client_with(fake_url(&f), NULL, NULL, NULL, 4, 0);
    rc = s3_get(c, "bucket", "k", 100, NULL, &buf, &len, &info, &err);
    check("fake-8 503 every time: S3_ERROR after exactly 4 attempts, "
          "'SlowDown (503) after retries'",
          rc == S3_ERROR && info.attempts == 4 && f.requests == 4
              && strstr(err.msg, "s3://bucket/k: SlowDown (503) after retries"),
          err.msg);
    s3_client_free(c);
    fake_stop(&f);

    fake_start(&f, 1, REPLY_400);
    c = client_with(fake_url(&f), NULL, NULL, NULL, 4, 0);
    rc = s3_get(c, "bucket", "k", 100, NULL, &buf, &len, &info, &err);
    check("fake-9 a 4xx is not retried", rc == S3_ERROR && f.requests == 1
              && strstr(err.msg, "HTTP 400"), err.msg);
    s3_client_free(c);
    fake_stop(&f);

    /* No Content-Length: the limit is enforced while the body streams. */
    fake_start(&f, 1, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n"
                      "Connection: close\r\n\r\n5\r\nhello\r\n5\r\nworld\r\n"
                      "0\r\n\r\n");
    c = client_with(fake_url(&f), NULL, NULL, NULL, 3, 0);
    rc = s3_get(c, "bucket", "k", 7, NULL, &buf, &len, &info, &err);
    check("fake-10 a chunked body over the limit: S3_TOO_LARGE, not retried",
          rc == S3_TOO_LARGE && buf == NULL && f.requests == 1, err.msg);
    s3_client_free(c);
    fake_stop(&f);

    /* An error body with a DTD (entity expansion) is not parsed. */
    fake_start(&f, 1,
               reply(3, "404 Not Found", "",
                     "<?xml version=\"1.0\"?><!DOCTYPE e [<!ENTITY a "
                     "\"aaaaaaaa\"><!ENTITY b \"&a;&a;&a;&a;&a;&a;&a;\">]>"
                     "<Error><Code>&b;</Code></Error>"));
    c = client_with(fake_url(&f), NULL, NULL, NULL, 1, 0);
    rc = s3_get(c, "bucket", "k", 100, NULL, &buf, &len, &info, &err);
    check("fake-11 an error body with a DTD: refused, the code not shown "
          "(HTTP 404, S3_ERROR)",
          rc == S3_ERROR && strstr(err.msg, "s3://bucket/k: HTTP 404")
              && !strstr(err.msg, "aaaa"), err.msg);
    s3_client_free(c);
    fake_stop(&f);

    fake_start(&f, 1, NULL);
    c = client_with(fake_url(&f), NULL, NULL, NULL, 2, 300);
    t0 = now_s();
    rc = s3_get(c, "bucket", "k", 100, NULL, &buf, &len, &info, &err);
    dt = now_s() - t0;
    printf("     (silent endpoint: %.2fs)\n", dt);
    check("fake-12 an endpoint that never answers: timed out, 2 attempts, "
          "within 0.6-2 s",
          rc == S3_ERROR && info.attempts == 2 && strstr(err.msg, "imed out")
              && dt >= 0.6 && dt < 2.0, err.msg);
    s3_client_free(c);
    fake_stop(&f);
}

int main(void)
{
    struct fr_error err = {{0}};
    struct s3_client *c;

    bucket = getenv("S3_TEST_BUCKET");
    if (bucket == NULL) {
        fprintf(stderr, "test_s3: S3_TEST_BUCKET is not set (run "
                        "tests/s3/run.sh)\n");
        return 2;
    }
    test_names();
    test_config();
    if (s3_config_from_env(&base_cfg, &err) != 0) {
        fprintf(stderr, "test_s3: %s\n", err.msg);
        return 2;
    }
    c = client_with(NULL, NULL, NULL, NULL, 0, 0);
    test_round_trip(c);
    test_size_limit(c);
    test_conditional(c);
    test_race(c);
    test_keys(c);
    test_list(c);
    s3_client_free(c);
    test_errors();
    test_fake();
    s3_config_release(&base_cfg);
    printf("%d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
