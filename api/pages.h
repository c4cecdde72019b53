/*
 * pages.h: what forest-serve shows people in a browser.
 *
 *   GET /              the status page: plain HTML, CSS and SVG, no script
 *   GET /report.svg    the serving version's chart, from the store
 *   GET /docs          Swagger UI on /openapi.json
 *   GET /docs/{asset}  its script and style sheet
 *   GET /openapi.json  the document (openapi.c)
 *
 * Swagger UI's files come from a Debian package (r-cran-swagger's dist3)
 * at image build time, and are read once at start from DOCS_DIR; nothing
 * is fetched at run time. Every page answer sets reply->page, so the
 * server adds the security headers (a Content-Security-Policy that allows
 * this origin only, nosniff) to these answers and to no other.
 */
#ifndef FS_PAGES_H
#define FS_PAGES_H

#include <stddef.h>

#include "buf.h"
#include "error.h"
#include "handlers.h"

/* The files under /docs/: from DOCS_DIR, or (source NULL) built in. */
struct docs_asset_def {
    const char *name;         /* the path segment after /docs/ */
    const char *content_type;
    const char *builtin;      /* the text of a file of our own, or NULL */
};

extern const struct docs_asset_def DOCS_ASSETS[];
extern const size_t N_DOCS_ASSETS;

#define DOCS_MAX_ASSETS 4
#define DOCS_ASSET_MAX_BYTES (8u << 20) /* refuse larger files */

/* Swagger UI's files, read from DOCS_DIR at start. */
struct docs {
    char *data[DOCS_MAX_ASSETS];  /* owned, NULL for a built-in one or
                                     one that was missing */
    size_t len[DOCS_MAX_ASSETS];  /* bytes of data */
    int complete;                 /* every file from DOCS_DIR was read */
};

/* Reads the assets from dir. Returns 0 with d->complete 1, 1 when some
 * are missing (d holds the others; /docs then lists the endpoints without
 * Swagger UI and says why), or -1 with err set when a file exists and
 * cannot be read (or is over DOCS_ASSET_MAX_BYTES). d needs docs_release
 * in every case. */
int docs_load(struct docs *d, const char *dir, struct fr_error *err);
void docs_release(struct docs *d);

/* The handlers of the pages: each writes out (reset by the caller) and
 * fills r's status, content type and page flag. Cannot fail: running out
 * of memory sets out->failed, which dispatch turns into a 500. */
void pages_status(struct app *app, struct buf *out, struct reply *r);
void pages_report(struct app *app, struct buf *out, struct reply *r);
void pages_docs(struct app *app, struct buf *out, struct reply *r);
void pages_asset(struct app *app, const char *name, size_t name_len,
                 struct buf *out, struct reply *r);
void pages_openapi(struct app *app, struct buf *out, struct reply *r);

#endif
