/*
 * server.c: libmicrohttpd glue (see server.h).
 *
 * MHD calls the access handler several times per request: once when the
 * headers are in, once per chunk of body, and once more with no data when
 * the body is complete. The connection's state (`struct conn`, created and
 * freed by MHD's connection notifications) carries the body and the answer
 * between those calls and from one keep-alive request to the next, so a
 * steady client reuses its body and answer buffers (libmicrohttpd copies
 * each answer into its response).
 *
 * A body larger than MAX_BODY_BYTES is refused with 413: at once when its
 * Content-Length says so, or, for a chunked body, after the rest has been
 * read and thrown away (MHD can only answer between chunks by closing); a
 * chunked body past 8 x MAX_BODY_BYTES, or an upload still going after
 * CONNECTION_TIMEOUT_SECONDS, is cut off by closing the connection.
 *
 * Bodies share one budget, MAX_BODY_MEMORY_BYTES, so memory is bounded by
 * the server and not by how many clients upload at once: every byte of a
 * body buffer is counted in stats->body_memory (the /metrics gauge) before
 * it is allocated, all of a Content-Length at once when the headers are
 * in, a chunked body as it grows. A request that does not fit is answered
 * 503 with Retry-After. A buffer is given back when its request completes
 * (an idle keep-alive connection keeps at most BUF_KEEP_BYTES) or its
 * connection closes; when the budget empties after a burst, malloc_trim
 * hands the freed heap back to the system.
 */
#include "server.h"

#include <assert.h>
#include <limits.h>
#include <malloc.h>
#include <microhttpd.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "encoding.h"
#include "log.h"
#include "monotonic.h"

/* The policy of the pages (reply.page): everything from this origin,
 * images also as data: URIs (Swagger UI's icons), nothing else. */
#define PAGE_CSP "default-src 'none'; script-src 'self'; " \
                 "style-src 'self' 'unsafe-inline'; img-src 'self' data:; " \
                 "connect-src 'self'; base-uri 'none'; form-action 'none'; " \
                 "frame-ancestors 'none'"

/* Bursts that held at least this much body memory end in a malloc_trim. */
#define BODY_TRIM_AFTER (8u * 1024 * 1024)

struct conn {
    struct buf body;         /* the request body so far */
    size_t held;             /* body.cap, as counted in the budget */
    struct buf plain;        /* the body decompressed (Content-Encoding) */
    size_t plain_held;       /* plain.cap, as counted in the budget */
    enum encoding enc;       /* the body's Content-Encoding */
    struct buf out;          /* the answer */
    struct scratch sc;       /* rows and results */
    double start;            /* when the headers were in (monotonic s) */
    int refused;             /* 413 (past max_body) or 503 (past the body
                                budget): the answer once the body is in */
    size_t discarded;        /* bytes thrown away after that */
    int status;              /* the status sent, 0 until then */
    enum endpoint ep;        /* for the metrics */
    enum model_role role;    /* the model that answered, for the metrics */
};

static double since(double t0)
{
    return monotonic_seconds() - t0;
}

/* ---- the body budget ---------------------------------------------------- */

/* Takes n bytes from the body budget. Returns 0, or -1 when they would
 * take it past MAX_BODY_MEMORY_BYTES (nothing is taken then). */
static int budget_take(struct server *s, size_t n)
{
    _Atomic size_t *used = &s->app->stats->body_memory;
    size_t cur = atomic_load(used), limit = s->cfg.max_body_memory;

    do {
        if (n > limit || cur > limit - n)
            return -1;
    } while (!atomic_compare_exchange_weak(used, &cur, cur + n));
    if (cur + n >= BODY_TRIM_AFTER)
        atomic_store(&s->trim_due, 1);
    return 0;
}

/* Gives n bytes back. The free() calls before this have returned large
 * buffers to the system (they are mmap'd, see main.c); what a burst left
 * in malloc's heap goes back when the last body is gone. */
static void budget_give(struct server *s, size_t n)
{
    size_t before;

    if (n == 0)
        return;
    before = atomic_fetch_sub(&s->app->stats->body_memory, n);
    assert(before >= n);
    if (before == n && atomic_exchange(&s->trim_due, 0)) {
#ifdef __GLIBC__
        malloc_trim(0);
#endif
    }
}

/* Gives back what the body buffers no longer hold (after a release or a
 * reset that freed them). */
static void body_sync(struct server *s, struct conn *cn)
{
    if (cn->held > cn->body.cap) {
        budget_give(s, cn->held - cn->body.cap);
        cn->held = cn->body.cap;
    }
    if (cn->plain_held > cn->plain.cap) {
        budget_give(s, cn->plain_held - cn->plain.cap);
        cn->plain_held = cn->plain.cap;
    }
}

/* Frees the body buffers and gives their bytes back. */
static void body_drop(struct server *s, struct conn *cn)
{
    buf_release(&cn->body);
    buf_release(&cn->plain);
    body_sync(s, cn);
}

/* Empties the body buffers for the next request (keeping small ones). */
static void body_reset(struct server *s, struct conn *cn)
{
    buf_reset(&cn->body);
    buf_reset(&cn->plain);
    body_sync(s, cn);
}

struct plain_room_ctx {
    struct server *s;
    struct conn *cn;
};

/* encoding_room_fn for the decompressed body: its growth is taken from
 * the budget before it is allocated, as a body's is. */
static int plain_room(void *ctx, struct buf *out, size_t need)
{
    struct plain_room_ctx *pr = ctx;
    struct conn *cn = pr->cn;
    size_t cap = need + 1;

    assert(out == &cn->plain);
    if (cap <= cn->plain.cap)
        return 0;
    if (budget_take(pr->s, cap - cn->plain_held) != 0)
        return 503;
    if (buf_grow_exact(&cn->plain, cap) != 0) {
        budget_give(pr->s, cap - cn->plain_held);
        return 500;
    }
    cn->plain_held = cap;
    return 0;
}

/* Makes the body buffer hold need bytes (and the buffer's NUL), taking the
 * growth from the budget first: exactly that for a Content-Length, else
 * doubling up to max_body so a chunked body costs few reallocations.
 * Returns 0, 503 when the budget is spent, or 500 when memory runs out. */
static int body_room(struct server *s, struct conn *cn, size_t need,
                     int exact)
{
    size_t want = need + 1, cap = want;

    if (want <= cn->body.cap)
        return 0;
    if (!exact && cn->body.cap <= (s->cfg.max_body + 1) / 2 &&
        2 * cn->body.cap > want)
        cap = 2 * cn->body.cap;
    if (budget_take(s, cap - cn->held) != 0)
        return 503;
    if (buf_grow_exact(&cn->body, cap) != 0) {
        budget_give(s, cap - cn->held);
        return 500;
    }
    cn->held = cap;
    return 0;
}

/* ---- answers ----------------------------------------------------------- */

static enum MHD_Result send_reply(struct server *s, struct MHD_Connection *c,
                                  struct conn *cn, const struct reply *r)
{
    struct MHD_Response *resp;
    enum MHD_Result ret;

    /* MHD sends from cn->out itself, not from a copy: the buffer is not
     * written again until completed() (the request's end, when MHD has
     * sent or dropped the reply) resets it, nor freed before the
     * connection is closed. */
    resp = MHD_create_response_from_buffer(cn->out.len, cn->out.data,
                                           MHD_RESPMEM_PERSISTENT);
    if (resp == NULL)
        return MHD_NO;
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE,
                            r->content_type);
    if (r->allow != NULL)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, r->allow);
    if (r->retry_after != NULL)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_RETRY_AFTER,
                                r->retry_after);
    if (r->challenge != NULL)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_WWW_AUTHENTICATE,
                                r->challenge);
    if (r->page) {
        /* Pages for browsers: this origin only, no inline script, no
         * framing, no guessing a type (the API's JSON answers need none of
         * it, and /predict stays as it was). Inline style is allowed:
         * Swagger UI sets it. */
        MHD_add_response_header(resp, "Content-Security-Policy", PAGE_CSP);
        MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
        MHD_add_response_header(resp, "X-Frame-Options", "DENY");
        MHD_add_response_header(resp, "Referrer-Policy", "no-referrer");
    }
    if (r->json_len > 0) {
        char n[24];
        snprintf(n, sizeof n, "%zu", r->json_len);
        MHD_add_response_header(resp, "Inference-Header-Content-Length", n);
    }
    /* While draining, ask keep-alive clients to reconnect: their next
     * connection goes to a pod that is still in the Service. MHD closes
     * the connection after an answer that says so. */
    if (r->close ||
        atomic_load_explicit(&s->app->draining, memory_order_relaxed))
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONNECTION, "close");
    ret = MHD_queue_response(c, (unsigned)r->status, resp);
    MHD_destroy_response(resp);
    cn->status = r->status;
    cn->role = r->role;
    cn->ep = r->endpoint;
    return ret;
}

/* Answers a refused body: 413 (too large), 503 (the body budget is
 * spent: try again in a second) or 500 (out of memory). */
static enum MHD_Result refuse(struct server *s, struct MHD_Connection *c,
                              struct conn *cn, const char *url, int status)
{
    struct reply r = {.status = status, .endpoint = handlers_route(url),
                      .content_type = "application/json"};
    char msg[200];

    if (status == 413) {
        snprintf(msg, sizeof msg, "the request body is larger than %zu "
                 "bytes (MAX_BODY_BYTES)", s->cfg.max_body);
    } else if (status == 503) {
        snprintf(msg, sizeof msg, "the server holds as many request bodies "
                 "as it may (MAX_BODY_MEMORY_BYTES %zu): retry shortly",
                 s->cfg.max_body_memory);
        r.retry_after = "1";
        r.close = 1;
    } else {
        snprintf(msg, sizeof msg, "out of memory reading the body");
    }
    handlers_error(&cn->out, msg);
    return send_reply(s, c, cn, &r);
}

/* Answers status with {"error": msg}; a 503 (the body budget) also
 * carries Retry-After and closes the connection, as refuse() does. */
static enum MHD_Result answer_error(struct server *s, struct MHD_Connection *c,
                                    struct conn *cn, const char *url,
                                    int status, const char *msg)
{
    struct reply r = {.status = status, .endpoint = handlers_route(url),
                      .content_type = "application/json"};

    if (status == 503) {
        r.retry_after = "1";
        r.close = 1;
    }
    handlers_error(&cn->out, msg);
    return send_reply(s, c, cn, &r);
}

/* Decompresses a body sent with a Content-Encoding into cn->plain, then
 * frees the compressed one. Returns 0, or answers the error (400, 413,
 * 500, 503) and returns 1 with *ret set. */
static int decode_body(struct server *s, struct MHD_Connection *c,
                       struct conn *cn, const char *url,
                       enum MHD_Result *ret)
{
    struct plain_room_ctx pr = {s, cn};
    struct fr_error err = {{0}};
    char msg[FR_ERROR_MAX + 64];
    int status;

    status = encoding_decode(cn->enc, cn->body.data, cn->body.len,
                             s->cfg.max_body, &cn->plain, plain_room, &pr,
                             &err);
    buf_release(&cn->body);
    body_sync(s, cn);
    if (status == 0)
        return 0;
    if (status == 413)
        snprintf(msg, sizeof msg, "%s (MAX_BODY_BYTES)", err.msg);
    else if (status == 503)
        snprintf(msg, sizeof msg, "the server holds as many request bodies "
                 "as it may (MAX_BODY_MEMORY_BYTES %zu): retry shortly",
                 s->cfg.max_body_memory);
    else
        snprintf(msg, sizeof msg, "%s", err.msg);
    *ret = answer_error(s, c, cn, url, status, msg);
    return 1;
}

/* How often the framing headers occur in one request. */
struct framing {
    unsigned content_length;
    unsigned transfer_encoding;
};

static enum MHD_Result count_framing(void *cls, enum MHD_ValueKind kind,
                                     const char *key, const char *value)
{
    struct framing *fr = cls;

    (void)kind;
    (void)value;
    if (strcasecmp(key, MHD_HTTP_HEADER_CONTENT_LENGTH) == 0)
        fr->content_length++;
    else if (strcasecmp(key, MHD_HTTP_HEADER_TRANSFER_ENCODING) == 0)
        fr->transfer_encoding++;
    return MHD_YES;
}

/* Refuses a request whose body length is ambiguous: two Content-Length
 * headers (even equal ones, which RFC 9112 section 6.3 would let a server
 * merge), two Transfer-Encoding headers, or both kinds together. MHD
 * 0.9.75 picks one and reads the rest of the bytes as the next request,
 * while a proxy in front may have picked the other: request smuggling.
 * The answer closes the connection so no leftover byte is ever parsed.
 * Returns MHD_YES when the request may go on (*answered stays 0). */
static enum MHD_Result check_framing(struct server *s,
                                     struct MHD_Connection *c,
                                     struct conn *cn, const char *url,
                                     int *answered)
{
    struct framing fr = {0, 0};
    struct reply r = {.status = 400, .endpoint = handlers_route(url),
                      .content_type = "application/json", .close = 1};

    *answered = 0;
    MHD_get_connection_values(c, MHD_HEADER_KIND, count_framing, &fr);
    if (fr.transfer_encoding == 1 && fr.content_length == 0) {
        /* MHD 0.9.75 reads any other coding as a body of unknown length
         * and never answers: say so at once (RFC 9112 section 6.1). */
        const char *te = MHD_lookup_connection_value(
            c, MHD_HEADER_KIND, MHD_HTTP_HEADER_TRANSFER_ENCODING);
        if (te == NULL || strcasecmp(te, "chunked") != 0) {
            *answered = 1;
            r.status = 501;
            handlers_error(&cn->out, "only Transfer-Encoding: chunked is "
                           "implemented");
            return send_reply(s, c, cn, &r);
        }
    }
    if (fr.content_length <= 1 && fr.transfer_encoding <= 1 &&
        (fr.content_length == 0 || fr.transfer_encoding == 0))
        return MHD_YES;
    *answered = 1;
    handlers_error(&cn->out, fr.content_length > 0 && fr.transfer_encoding > 0
                   ? "the request has both Content-Length and "
                     "Transfer-Encoding: its length is ambiguous"
                   : "the request repeats Content-Length or "
                     "Transfer-Encoding: its length is ambiguous");
    return send_reply(s, c, cn, &r);
}

static enum MHD_Result access_handler(void *cls, struct MHD_Connection *c,
                                      const char *url, const char *method,
                                      const char *version,
                                      const char *upload_data,
                                      size_t *upload_size, void **req_cls)
{
    struct server *s = cls;
    struct conn *cn = *req_cls;
    const char *header_len, *request_id;
    struct reply r;

    (void)version;
    if (cn == NULL) {
        const union MHD_ConnectionInfo *ci =
            MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
        const char *len;
        enum MHD_Result ret;
        int answered, has_body;

        cn = ci != NULL ? ci->socket_context : NULL;
        if (cn == NULL)
            return MHD_NO; /* no memory for the connection: drop it */
        body_reset(s, cn);
        buf_reset(&cn->out);
        scratch_reset(&cn->sc);
        cn->refused = 0;
        cn->enc = ENCODING_IDENTITY;
        cn->discarded = 0;
        cn->status = 0;
        cn->role = ROLE_NONE;
        cn->ep = EP_NOT_FOUND;
        cn->start = monotonic_seconds();
        stats_request_begin(s->app->stats);
        *req_cls = cn;
        ret = check_framing(s, c, cn, url, &answered);
        if (answered)
            return ret;
        /* Before the body: a client without the token gets no memory. */
        if (handlers_authorize(s->app, url,
                               MHD_lookup_connection_value(
                                   c, MHD_HEADER_KIND,
                                   MHD_HTTP_HEADER_AUTHORIZATION),
                               &cn->out, &r) != 0)
            return send_reply(s, c, cn, &r);
        len = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
                                          MHD_HTTP_HEADER_CONTENT_LENGTH);
        /* An announced empty body (Content-Length: 0, which some clients
         * always send) is no body: nothing below concerns it. */
        has_body = (len != NULL && strtoull(len, NULL, 10) > 0) ||
                   MHD_lookup_connection_value(
                       c, MHD_HEADER_KIND,
                       MHD_HTTP_HEADER_TRANSFER_ENCODING) != NULL;
        if (!has_body)
            return MHD_YES;
        /* A body nothing would read (a 404, a 405, a GET with a body) is
         * never buffered nor budgeted: the answer comes at once and the
         * connection closes, so its bytes are never parsed either. */
        if (!handlers_takes_body(method, url)) {
            handlers_dispatch(s->app, method, url, NULL, NULL, 0, &cn->sc,
                              &cn->out, &r);
            r.close = 1;
            return send_reply(s, c, cn, &r);
        }
        /* An encoding the server cannot decode is refused before the
         * body is read (RFC 9110 section 15.5.16: 415). */
        {
            struct fr_error err = {{0}};
            if (encoding_parse(MHD_lookup_connection_value(
                                   c, MHD_HEADER_KIND,
                                   MHD_HTTP_HEADER_CONTENT_ENCODING),
                               &cn->enc, &err) != 0)
                return answer_error(s, c, cn, url, 415, err.msg);
        }
        if (len != NULL) {
            unsigned long long n = strtoull(len, NULL, 10);
            int status;
            if (n > s->cfg.max_body)
                return refuse(s, c, cn, url, 413);
            /* The whole body is counted now, before a byte of it is
             * read, so a client cannot hold memory it was not given. */
            status = n > 0 ? body_room(s, cn, (size_t)n, 1) : 0;
            if (status != 0)
                return refuse(s, c, cn, url, status);
        }
        return MHD_YES;
    }
    if (*upload_size > 0) {
        /* The idle timeout misses a client that trickles its body a byte at
         * a time to hold a connection: uploads get the same budget in all. */
        if (since(cn->start) > s->cfg.timeout)
            return MHD_NO;
        if (!cn->refused) {
            size_t need = cn->body.len + *upload_size;
            cn->refused = need > s->cfg.max_body ? 413 :
                          body_room(s, cn, need, 0);
            if (cn->refused)
                body_drop(s, cn);
        }
        if (!cn->refused) {
            buf_add(&cn->body, upload_data, *upload_size);
        } else {
            /* Swallowing the rest lets the 413 arrive in order; a client
             * that keeps streaming far past the limit is cut off. */
            cn->discarded += *upload_size;
            if (cn->discarded / 8 > s->cfg.max_body)
                return MHD_NO;
        }
        *upload_size = 0;
        return MHD_YES;
    }
    if (cn->status != 0)
        return MHD_YES; /* answered early (by Content-Length) */
    if (cn->refused)
        return refuse(s, c, cn, url, cn->refused);
    if (cn->body.failed)
        return refuse(s, c, cn, url, 500);
    header_len = MHD_lookup_connection_value(
        c, MHD_HEADER_KIND, "Inference-Header-Content-Length");
    request_id = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
                                             "X-Request-Id");
    if (cn->enc != ENCODING_IDENTITY && strcmp(method, "POST") == 0) {
        enum MHD_Result ret;
        if (decode_body(s, c, cn, url, &ret) != 0)
            return ret;
        handlers_serve(s->app, method, url, header_len, request_id,
                       cn->plain.data, cn->plain.len, &cn->sc, &cn->out, &r);
        return send_reply(s, c, cn, &r);
    }
    handlers_serve(s->app, method, url, header_len, request_id,
                   cn->body.data, cn->body.len, &cn->sc, &cn->out, &r);
    return send_reply(s, c, cn, &r);
}

static void completed(void *cls, struct MHD_Connection *c, void **req_cls,
                      enum MHD_RequestTerminationCode toe)
{
    struct server *s = cls;
    struct conn *cn = *req_cls;
    double secs;

    (void)c;
    if (cn == NULL)
        return;
    secs = since(cn->start);
    stats_request_end(s->app->stats, cn->ep,
                      toe == MHD_REQUEST_TERMINATED_COMPLETED_OK ?
                      cn->status : 0, secs);
    /* Without a candidate the role series are not shown: no adds. */
    if (toe == MHD_REQUEST_TERMINATED_COMPLETED_OK && s->app->candidate != NULL)
        stats_role_end(s->app->stats, cn->role, secs);
    if (s->cfg.log_requests) {
        struct log_line l;
        log_begin(&l, LOG_DEBUG, "request");
        log_str(&l, "endpoint", stats_endpoint_name(cn->ep));
        log_int(&l, "status", cn->status);
        log_bool(&l, "completed", toe == MHD_REQUEST_TERMINATED_COMPLETED_OK);
        log_num(&l, "ms", secs * 1e3);
        log_end(&l);
    }
    /* MHD is done with the answer (sent from cn->out): let a large
     * request's buffers go now, not when (if ever) the next request
     * arrives. */
    body_reset(s, cn);
    buf_reset(&cn->out);
    scratch_reset(&cn->sc);
    *req_cls = NULL;
}

static void connection_event(void *cls, struct MHD_Connection *c,
                             void **socket_context,
                             enum MHD_ConnectionNotificationCode toe)
{
    struct server *s = cls;
    struct conn *cn;

    (void)c;
    if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
        atomic_fetch_add(&s->connections, 1);
        cn = calloc(1, sizeof *cn);
        if (cn != NULL) {
            buf_init(&cn->body);
            buf_init(&cn->plain);
            buf_init(&cn->out);
            scratch_init(&cn->sc);
        }
        *socket_context = cn;
        return;
    }
    atomic_fetch_sub(&s->connections, 1);
    cn = *socket_context;
    if (cn != NULL) {
        body_drop(s, cn);
        buf_release(&cn->out);
        scratch_release(&cn->sc);
        free(cn);
    }
    *socket_context = NULL;
}

/* MAX_CONNECTIONS: a connection past the limit is accepted and closed at
 * once, so its client learns at once and can go elsewhere. (MHD's own
 * limit stops accepting instead, and the client waits in the listen
 * backlog until a slot frees up or it gives up.) Connections are counted
 * when MHD starts them, so threads accepting at the same moment can pass
 * the limit by at most THREADS - 1. */
static enum MHD_Result accept_policy(void *cls, const struct sockaddr *addr,
                                     socklen_t addrlen)
{
    struct server *s = cls;

    (void)addr;
    (void)addrlen;
    return atomic_load(&s->connections) < (long)s->cfg.max_connections ?
           MHD_YES : MHD_NO;
}

/* Decodes the %-escapes of a path (and of query arguments) with MHD's own
 * decoder, except in a string whose escapes would hide a NUL or a '/':
 * "/v2/models/forest%00x" would read as "/v2/models/forest" (a C string
 * ends at the NUL) and "forest%2Fready" as "forest/ready" (the router
 * splits at '/'). Such a path is left as it came, so it names no endpoint
 * and model and gets 404. Returns the length of the string left in s. */
static size_t unescape(void *cls, struct MHD_Connection *c, char *s)
{
    (void)cls;
    (void)c;
    for (const char *p = strchr(s, '%'); p != NULL; p = strchr(p + 1, '%')) {
        if ((p[1] == '0' && p[2] == '0') ||
            (p[1] == '2' && (p[2] == 'f' || p[2] == 'F')))
            return strlen(s);
    }
    return MHD_http_unescape(s);
}

/* MHD's own complaints (a client that broke the protocol, a failed
 * accept) go to the JSON log rather than stderr, at most MHD_LOG_PER_SECOND
 * lines a second so a hostile client cannot flood the log. */
#define MHD_LOG_PER_SECOND 20

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
    static _Atomic long window;   /* the second being counted */
    static atomic_int in_window;  /* lines logged in it */
    struct timespec now;
    char msg[512];
    size_t n;

    (void)cls;
    clock_gettime(CLOCK_MONOTONIC, &now);
    if (atomic_exchange(&window, (long)now.tv_sec) != (long)now.tv_sec)
        atomic_store(&in_window, 0);
    if (atomic_fetch_add(&in_window, 1) >= MHD_LOG_PER_SECOND)
        return;
    vsnprintf(msg, sizeof msg, fmt, ap);
    n = strlen(msg);
    while (n > 0 && (msg[n - 1] == '\n' || msg[n - 1] == '\r'))
        msg[--n] = '\0';
    log_msg(LOG_WARN, "http", msg);
}

int server_start(struct server *s, struct app *app,
                 const struct server_config *cfg, struct fr_error *err)
{
    struct addrinfo hints, *ai = NULL;
    unsigned flags = MHD_USE_EPOLL | MHD_USE_INTERNAL_POLLING_THREAD |
                     MHD_USE_ERROR_LOG | MHD_USE_ITC | MHD_USE_TURBO;
    unsigned threads = cfg->threads, mhd_limit;
    unsigned long long limit;
    const union MHD_DaemonInfo *info;
    char port[16];
    int rc;

    memset(s, 0, sizeof *s);
    s->app = app;
    s->cfg = *cfg;
    s->quiesced_fd = -1;
    atomic_init(&s->trim_due, 0);
    atomic_init(&s->connections, 0);
    if (threads == 0) {
        long n = sysconf(_SC_NPROCESSORS_ONLN);
        threads = n > 0 ? (unsigned)n : 1;
    }
    /* Each thread may hold all the connections, and one more so its
     * accept reaches the policy. */
    limit = ((unsigned long long)cfg->max_connections + 1) * threads;
    mhd_limit = limit > UINT_MAX ? UINT_MAX : (unsigned)limit;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    snprintf(port, sizeof port, "%u", cfg->port);
    rc = getaddrinfo(cfg->host, port, &hints, &ai);
    if (rc != 0) {
        fr_error_set(err, "cannot use HOST '%s': %s", cfg->host,
                     gai_strerror(rc));
        return -1;
    }
    if (ai->ai_family == AF_INET6) {
        const struct sockaddr_in6 *a6 = (const void *)ai->ai_addr;
        /* "::" means every address, as 0.0.0.0 does: take IPv4 too. */
        flags |= IN6_IS_ADDR_UNSPECIFIED(&a6->sin6_addr) ? MHD_USE_DUAL_STACK
                                                         : MHD_USE_IPv6;
    }
    s->daemon = MHD_start_daemon(
        flags, (uint16_t)cfg->port, accept_policy, s, access_handler, s,
        /* First, so MHD routes even its option errors here. */
        MHD_OPTION_EXTERNAL_LOGGER, mhd_log, s,
        MHD_OPTION_SOCK_ADDR, ai->ai_addr,
        MHD_OPTION_THREAD_POOL_SIZE, threads,
        /* Never reached: MHD splits its limit between the threads, so
         * accept_policy keeps the real one, for all of them together. */
        MHD_OPTION_CONNECTION_LIMIT, mhd_limit,
        MHD_OPTION_CONNECTION_TIMEOUT, cfg->timeout,
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, cfg->header_memory,
        MHD_OPTION_LISTEN_BACKLOG_SIZE, 1024u,
        MHD_OPTION_NOTIFY_COMPLETED, completed, s,
        MHD_OPTION_NOTIFY_CONNECTION, connection_event, s,
        MHD_OPTION_UNESCAPE_CALLBACK, unescape, s,
        MHD_OPTION_END);
    freeaddrinfo(ai);
    if (s->daemon == NULL) {
        fr_error_set(err, "cannot listen on %s port %u (in use, or not an "
                     "address of this host)", cfg->host, cfg->port);
        return -1;
    }
    info = MHD_get_daemon_info(s->daemon, MHD_DAEMON_INFO_BIND_PORT);
    s->port = info != NULL ? info->port : cfg->port;
    return 0;
}

void server_quiesce(struct server *s)
{
    if (s->daemon == NULL || s->quiesced_fd >= 0)
        return;
    s->quiesced_fd = MHD_quiesce_daemon(s->daemon);
    /* MHD no longer accepts, but the socket would still complete
     * handshakes into its backlog and leave those clients hanging. On
     * Linux, shutdown() of a listening socket closes it for the network
     * (new connections are refused at once) while the descriptor stays
     * valid, so no MHD thread can see it reused before server_stop. */
    if (s->quiesced_fd >= 0)
        shutdown(s->quiesced_fd, SHUT_RDWR);
}

void server_stop(struct server *s)
{
    if (s->daemon == NULL)
        return;
    MHD_stop_daemon(s->daemon);
    s->daemon = NULL;
    /* MHD hands the listening socket over on quiesce; close it only now
     * that no MHD thread can touch it. */
    if (s->quiesced_fd >= 0)
        close(s->quiesced_fd);
    s->quiesced_fd = -1;
}
