/*
 * routes.h: the one table of forest-serve's endpoints.
 *
 * Each row is a method set, a path pattern, the endpoint it dispatches to,
 * and what the OpenAPI document says about it (summary, request and
 * response schemas). The router (handlers.c) matches requests against this
 * table and openapi.c writes /openapi.json from it, so the document cannot
 * name a path the server does not answer, or miss one it does.
 *
 * To add a route: add its enum endpoint (stats.h, with its metrics label in
 * stats.c), a row here in ROUTES (routes.c), its case in
 * handlers_dispatch, and, if it takes or returns a new JSON shape, a
 * schema id below with its schema in openapi.c. The OpenAPI test checks
 * that the document still validates.
 */
#ifndef FS_ROUTES_H
#define FS_ROUTES_H

#include <stddef.h>

#include "stats.h"

#define ROUTES_GET "GET, HEAD"
#define ROUTES_POST "POST"

/* The JSON shapes the document describes (openapi.c holds them). */
enum schema_id {
    SCHEMA_NONE,           /* no body */
    SCHEMA_HTML,           /* text/html page */
    SCHEMA_ASSET,          /* a static file of the docs page */
    SCHEMA_SVG,            /* image/svg+xml */
    SCHEMA_TEXT_METRICS,   /* Prometheus text exposition */
    SCHEMA_OPENAPI,        /* this document */
    SCHEMA_HEALTH,
    SCHEMA_READY,
    SCHEMA_PREDICT_REQUEST,
    SCHEMA_PREDICT_RESPONSE,
    SCHEMA_FORECAST_REQUEST,
    SCHEMA_FORECAST_RESPONSE,
    SCHEMA_MODEL,          /* metadata.json */
    SCHEMA_DRIFT,
    SCHEMA_V2_SERVER,
    SCHEMA_V2_LIVE,
    SCHEMA_V2_READY,
    SCHEMA_V2_MODEL,
    SCHEMA_V2_MODEL_READY,
    SCHEMA_V2_INFER_REQUEST,
    SCHEMA_V2_INFER_RESPONSE,
    SCHEMA_COUNT
};

struct route_def {
    const char *methods;     /* ROUTES_GET or ROUTES_POST: the Allow header */
    const char *path;        /* literal, with {name}, {version} or {asset}
                                standing for one non-empty path segment */
    enum endpoint ep;
    const char *tag;         /* the document's group */
    const char *summary;     /* one line for the document */
    enum schema_id request;  /* the body a POST takes */
    enum schema_id response; /* the body of a 200 */
};

extern const struct route_def ROUTES[];
extern const size_t N_ROUTES;

/* What a path matched: the row, and the segments its {name} ({asset})
 * and {version} stood for (pointers into the url, not NUL-ended). */
struct route_match {
    const struct route_def *def; /* NULL: no such path */
    const char *name;
    size_t name_len;
    const char *version;
    size_t version_len;
};

/* Finds url's row (the first that matches). Cannot fail: m->def is NULL
 * when no row matches. */
void routes_match(const char *url, struct route_match *m);

/* Whether method is one of def's methods (HEAD goes with GET). */
int routes_method_allowed(const struct route_def *def, const char *method);

#endif
