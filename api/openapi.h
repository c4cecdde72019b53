/*
 * openapi.h: GET /openapi.json, an OpenAPI 3.0.3 document of every row of
 * the route table (routes.h), written per request.
 *
 * 3.0.3 rather than 3.1 because the Swagger UI that Debian ships (3.x)
 * renders 3.0 only. The document describes the model being served: the
 * schema of "features" names its features, and the V2 paths' {name} and
 * {version} take the model name and serving version. When the server
 * requires a token for /model (API_TOKEN), the document, which anyone may
 * read, leaves those out and describes any model.
 */
#ifndef FS_OPENAPI_H
#define FS_OPENAPI_H

#include "buf.h"
#include "handlers.h"

/* Writes the document into out (which the caller has reset) for the model
 * m serving now (NULL: none yet), with its feature names, model name and
 * version when details is 1. Returns 0, or -1 when memory runs out (out
 * may then hold part of it). */
int openapi_render(const struct app *app, const struct serving *m,
                   int details, struct buf *out);

#endif
