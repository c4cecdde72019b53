/*
 * handlers.h: the endpoints, from (method, path, body) to (status, JSON).
 *
 * Nothing here knows about HTTP connections: server.c hands over a whole
 * request and sends back what the handler wrote, so the tests and the fuzz
 * target can drive every endpoint without a socket.
 */
#ifndef FS_HANDLERS_H
#define FS_HANDLERS_H

#include <stdatomic.h>
#include <stddef.h>

#include "auth.h"
#include "buf.h"
#include "drift.h"
#include "registry.h"
#include "request.h"
#include "routes.h"
#include "stats.h"

struct docs;
/* CANDIDATE_MODE: what the candidate does. */
enum candidate_mode {
    CANDIDATE_OFF,    /* not loaded; the current model answers */
    CANDIDATE_SHADOW, /* the current model answers; the candidate scores
                         the same rows, compared in /metrics */
    CANDIDATE_CANARY  /* CANARY_PERCENT of requests get the candidate's
                         answer */
};

struct app {
    struct registry *registry;
    struct registry *candidate; /* follows MODEL_DIR/candidate; NULL when
                                   CANDIDATE_MODE is off */
    enum candidate_mode candidate_mode;
    double canary_percent;    /* 0-100: canary's share of requests */
    size_t shadow_max_rows;   /* rows of one request the candidate
                                 shadows, >= 1 */
    struct stats *stats;
    const char *model_name;   /* the model's name in the V2 protocol */
    size_t max_batch_rows;    /* rows in one /predict or infer request */
    size_t max_horizon;       /* days in one /forecast request */
    size_t max_explain_rows;  /* rows (or days) one request may explain */
    atomic_int draining;      /* set on SIGTERM: not ready any more */
    const struct auth *auth;  /* API_TOKEN; NULL or off: no tokens */
    struct drift *drift;      /* the recent rows' bins; NULL: not kept */
    const struct docs *docs;  /* Swagger UI's files (pages.h); NULL: none */
};

/* What to send back; the body is in the buffer passed to dispatch. */
struct reply {
    int status;               /* HTTP status code */
    enum endpoint endpoint;   /* for the metrics' label */
    const char *content_type; /* a static string */
    const char *allow;        /* the Allow header of a 405, else NULL */
    const char *retry_after;  /* the Retry-After header (seconds), or NULL */
    const char *challenge;    /* the WWW-Authenticate header of a 401, or
                                 NULL */
    int close;                /* end the connection after the answer */
    int page;                 /* a page or file for browsers: send the
                                 security headers (server.c) */
    enum model_role role;     /* the model that answered, for the
                                 role-labelled metrics (ROLE_NONE: none) */
    size_t json_len;          /* a V2 answer with binary data: the bytes
                                 of JSON before it (the answer's
                                 Inference-Header-Content-Length); 0 for
                                 an answer that is all JSON or text */
};

/* Answers one request: writes the body into out (which the caller has
 * reset) and fills reply. body may be NULL when len is 0. header_len is
 * the request's Inference-Header-Content-Length header (Triton's binary
 * data: the first bytes of the body are JSON, the rest tensor data), NULL
 * when absent; only V2 infer reads it. Cannot fail: every problem,
 * running out of memory included, becomes a status and an
 * {"error": "..."} body. */
void handlers_dispatch(struct app *app, const char *method, const char *url,
                       const char *header_len, const char *body, size_t len,
                       struct scratch *sc, struct buf *out,
                       struct reply *reply);

/* handlers_dispatch with the request's X-Request-Id header (NULL when
 * absent): in canary mode the same id always gets the same model. */
void handlers_serve(struct app *app, const char *method, const char *url,
                    const char *header_len, const char *request_id,
                    const char *body, size_t len, struct scratch *sc,
                    struct buf *out, struct reply *reply);

/* Whether a request with this X-Request-Id (NULL or "" for none: a random
 * draw) goes to the candidate when percent of requests should: a stable
 * 64-bit hash of the id, as a fraction of 2^64, below percent / 100.
 * Cannot fail. */
int handlers_canary_pick(const char *request_id, double percent);

/* Checks the token of a request to url (authorization is its
 * Authorization header, NULL when absent), before its body is read.
 * Returns 0 when it may go on, or 1 with a 401 answer written into out
 * and reply (with its WWW-Authenticate challenge). */
int handlers_authorize(struct app *app, const char *url,
                       const char *authorization, struct buf *out,
                       struct reply *reply);

/* The endpoint a path belongs to (EP_NOT_FOUND for none), whatever the
 * method: for the metrics of requests refused before dispatch. */
enum endpoint handlers_route(const char *url);

/* Whether a request of method to url has a use for a body: a POST to an
 * endpoint that takes one. The server answers any other request without
 * reading (or budgeting memory for) its body. Cannot fail. */
int handlers_takes_body(const char *method, const char *url);

/* Writes {"error": msg} into out (after resetting it). */
void handlers_error(struct buf *out, const char *msg);

#endif
