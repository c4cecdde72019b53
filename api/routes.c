/*
 * routes.c: the endpoint table and its matcher (see routes.h).
 *
 * About 25 rows, matched in order with a comparison per character, so
 * /predict (the first row) costs one string comparison, as it did when
 * the router was a list of literal paths. The order is also the order of
 * the OpenAPI document.
 */
#include "routes.h"

#include <string.h>

const struct route_def ROUTES[] = {
    {ROUTES_POST, "/predict", EP_PREDICT, "predictions",
     "Predict one row or a batch, with an optional interval and "
     "explanation", SCHEMA_PREDICT_REQUEST, SCHEMA_PREDICT_RESPONSE},
    {ROUTES_POST, "/forecast", EP_FORECAST, "predictions",
     "Forecast the next days of a series from its recent history",
     SCHEMA_FORECAST_REQUEST, SCHEMA_FORECAST_RESPONSE},
    {ROUTES_GET, "/health", EP_HEALTH, "operations",
     "Liveness: depends on nothing but the process", SCHEMA_NONE,
     SCHEMA_HEALTH},
    {ROUTES_GET, "/ready", EP_READY, "operations",
     "Readiness: a model is loaded and the server is not draining",
     SCHEMA_NONE, SCHEMA_READY},
    {ROUTES_GET, "/model", EP_MODEL, "model",
     "The serving model's metadata.json", SCHEMA_NONE, SCHEMA_MODEL},
    {ROUTES_GET, "/model/candidate", EP_MODEL_CANDIDATE, "model",
     "The candidate's metadata.json (shadow and canary; 404 when there is "
     "none)", SCHEMA_NONE, SCHEMA_MODEL},
    {ROUTES_GET, "/drift", EP_DRIFT, "model",
     "Each feature's recent distribution against training (PSI)",
     SCHEMA_NONE, SCHEMA_DRIFT},
    {ROUTES_GET, "/metrics", EP_METRICS, "operations",
     "Prometheus metrics", SCHEMA_NONE, SCHEMA_TEXT_METRICS},
    {ROUTES_GET, "/v2", EP_V2_SERVER, "v2", "V2 server metadata",
     SCHEMA_NONE, SCHEMA_V2_SERVER},
    /* Only this path takes a trailing slash: a client that builds the
     * server's URL as a base ends it with one. (Triton takes none;
     * "/v2/models/forest/" stays 404 as there.) */
    {ROUTES_GET, "/v2/", EP_V2_SERVER, "v2",
     "V2 server metadata (the base URL form)", SCHEMA_NONE,
     SCHEMA_V2_SERVER},
    {ROUTES_GET, "/v2/health/live", EP_V2_LIVE, "v2", "V2 liveness",
     SCHEMA_NONE, SCHEMA_V2_LIVE},
    {ROUTES_GET, "/v2/health/ready", EP_V2_READY, "v2", "V2 readiness",
     SCHEMA_NONE, SCHEMA_V2_READY},
    {ROUTES_GET, "/v2/models/{name}", EP_V2_MODEL, "v2",
     "V2 model metadata", SCHEMA_NONE, SCHEMA_V2_MODEL},
    {ROUTES_GET, "/v2/models/{name}/ready", EP_V2_MODEL_READY, "v2",
     "V2 model readiness", SCHEMA_NONE, SCHEMA_V2_MODEL_READY},
    {ROUTES_POST, "/v2/models/{name}/infer", EP_V2_INFER, "v2",
     "V2 inference (Open Inference Protocol)", SCHEMA_V2_INFER_REQUEST,
     SCHEMA_V2_INFER_RESPONSE},
    {ROUTES_GET, "/v2/models/{name}/versions/{version}", EP_V2_MODEL, "v2",
     "V2 model metadata of one version", SCHEMA_NONE, SCHEMA_V2_MODEL},
    {ROUTES_GET, "/v2/models/{name}/versions/{version}/ready",
     EP_V2_MODEL_READY, "v2", "V2 readiness of one version", SCHEMA_NONE,
     SCHEMA_V2_MODEL_READY},
    {ROUTES_POST, "/v2/models/{name}/versions/{version}/infer", EP_V2_INFER,
     "v2", "V2 inference on one version", SCHEMA_V2_INFER_REQUEST,
     SCHEMA_V2_INFER_RESPONSE},
    {ROUTES_GET, "/", EP_STATUS, "pages",
     "Status page: the serving model, its errors, chart and traffic (HTML)",
     SCHEMA_NONE, SCHEMA_HTML},
    {ROUTES_GET, "/report.svg", EP_REPORT, "pages",
     "The serving version's report.svg chart", SCHEMA_NONE, SCHEMA_SVG},
    {ROUTES_GET, "/docs", EP_DOCS, "pages",
     "Interactive API docs (Swagger UI)", SCHEMA_NONE, SCHEMA_HTML},
    {ROUTES_GET, "/docs/{asset}", EP_DOCS, "pages",
     "The docs page's script and style sheet", SCHEMA_NONE, SCHEMA_ASSET},
    {ROUTES_GET, "/openapi.json", EP_OPENAPI, "pages",
     "This OpenAPI 3.0.3 document", SCHEMA_NONE, SCHEMA_OPENAPI},
};

const size_t N_ROUTES = sizeof ROUTES / sizeof ROUTES[0];

/* Matches url against one pattern, filling m's captures. Returns 1 on a
 * match. A {...} takes one non-empty segment (up to the next '/'). */
static int match_one(const char *pat, const char *url, struct route_match *m)
{
    while (*pat != '\0') {
        if (*pat == '{') {
            const char *end = strchr(pat, '}');
            size_t n = strcspn(url, "/");
            if (n == 0)
                return 0;
            if (strncmp(pat, "{version}", 9) == 0) {
                m->version = url;
                m->version_len = n;
            } else {
                m->name = url;
                m->name_len = n;
            }
            url += n;
            pat = end + 1;
            continue;
        }
        if (*pat != *url)
            return 0;
        pat++;
        url++;
    }
    return *url == '\0';
}

void routes_match(const char *url, struct route_match *m)
{
    for (size_t i = 0; i < N_ROUTES; i++) {
        memset(m, 0, sizeof *m);
        if (match_one(ROUTES[i].path, url, m)) {
            m->def = &ROUTES[i];
            return;
        }
    }
    memset(m, 0, sizeof *m);
}

int routes_method_allowed(const struct route_def *def, const char *method)
{
    if (strcmp(def->methods, ROUTES_POST) == 0)
        return strcmp(method, "POST") == 0;
    return strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0;
}
