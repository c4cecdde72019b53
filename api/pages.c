/*
 * pages.c: the status page, the report chart, the docs page and its
 * assets (see pages.h).
 *
 * The status page is written per request from the serving version's
 * metadata.json (parsed with cJSON: a few kilobytes), the server's own
 * counters and the drift window. It shows nothing /model does not (no
 * setting, no path), uses no script, and every value from the metadata is
 * HTML-escaped. The chart is an <img> of /report.svg, so an SVG from the
 * store is shown as an image and never runs as part of the page.
 */
#include "pages.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "file.h"
#include "openapi.h"
#include "routes.h"

#define HTML_TYPE "text/html; charset=utf-8"

/* Starts Swagger UI on this server's document. A file rather than an
 * inline script, so the pages' policy can forbid inline scripts. */
static const char DOCS_JS[] =
    "window.addEventListener('load', function () {\n"
    "  document.getElementById('endpoints').hidden = true;\n"
    "  window.ui = SwaggerUIBundle({\n"
    "    url: '/openapi.json',\n"
    "    dom_id: '#swagger-ui',\n"
    "    deepLinking: true,\n"
    "    validatorUrl: null,\n"
    "    presets: [SwaggerUIBundle.presets.apis],\n"
    "    layout: 'BaseLayout'\n"
    "  });\n"
    "});\n";

const struct docs_asset_def DOCS_ASSETS[] = {
    {"swagger-ui-bundle.js", "text/javascript; charset=utf-8", NULL},
    {"swagger-ui.css", "text/css; charset=utf-8", NULL},
    {"docs.js", "text/javascript; charset=utf-8", DOCS_JS},
};
const size_t N_DOCS_ASSETS = sizeof DOCS_ASSETS / sizeof DOCS_ASSETS[0];

/* ---- assets ------------------------------------------------------------ */

int docs_load(struct docs *d, const char *dir, struct fr_error *err)
{
    int missing = 0;

    memset(d, 0, sizeof *d);
    for (size_t i = 0; i < N_DOCS_ASSETS; i++) {
        char path[PATH_MAX];
        struct stat st;
        uint8_t *buf;

        if (DOCS_ASSETS[i].builtin != NULL)
            continue;
        if (snprintf(path, sizeof path, "%s/%s", dir, DOCS_ASSETS[i].name) >=
            (int)sizeof path) {
            fr_error_set(err, "DOCS_DIR '%.200s' is too long", dir);
            return -1;
        }
        if (stat(path, &st) != 0 && errno == ENOENT) {
            missing = 1;
            continue;
        }
        if (file_read_all(path, DOCS_ASSET_MAX_BYTES, &buf, &d->len[i],
                          err) != 0) {
            fr_error_prefix(err, "DOCS_DIR");
            return -1;
        }
        d->data[i] = (char *)buf;
    }
    d->complete = !missing;
    return missing;
}

void docs_release(struct docs *d)
{
    for (size_t i = 0; i < DOCS_MAX_ASSETS; i++)
        free(d->data[i]);
    memset(d, 0, sizeof *d);
}

/* ---- writing HTML ------------------------------------------------------- */

/* Appends s with the five HTML specials escaped. */
static void html(struct buf *out, const char *s)
{
    for (const char *p = s; *p != '\0'; p++) {
        switch (*p) {
        case '&': buf_puts(out, "&amp;"); break;
        case '<': buf_puts(out, "&lt;"); break;
        case '>': buf_puts(out, "&gt;"); break;
        case '"': buf_puts(out, "&quot;"); break;
        case '\'': buf_puts(out, "&#39;"); break;
        default: buf_add(out, p, 1); break;
        }
    }
}

/* A JSON value as text for a table cell: strings as they are, numbers
 * with 4 significant digits, anything else "-". */
static void cell(struct buf *out, const cJSON *v)
{
    if (cJSON_IsString(v))
        html(out, v->valuestring);
    else if (cJSON_IsNumber(v))
        buf_printf(out, "%.4g", v->valuedouble);
    else if (cJSON_IsBool(v))
        buf_puts(out, cJSON_IsTrue(v) ? "yes" : "no");
    else
        buf_puts(out, "-");
}

static const cJSON *get(const cJSON *o, const char *key)
{
    return cJSON_GetObjectItemCaseSensitive(o, key);
}

/* The pages' shared style: one column that fits a phone, tables that
 * scroll sideways rather than widen the page. */
static const char STYLE[] =
    "<style>"
    "body{font-family:system-ui,sans-serif;margin:0;color:#222;"
    "background:#f6f7f9;line-height:1.4}"
    "main{max-width:60rem;margin:0 auto;padding:1rem}"
    "header h1{margin:0 0 .25rem;font-size:1.5rem}"
    "section{background:#fff;border:1px solid #ddd;border-radius:6px;"
    "padding:.75rem 1rem;margin:1rem 0}"
    "h2{font-size:1.15rem;margin:.2rem 0 .6rem}"
    "dl{display:grid;grid-template-columns:max-content 1fr;gap:.2rem 1rem;"
    "margin:0}dt{color:#555}dd{margin:0;overflow-wrap:anywhere}"
    ".scroll{overflow-x:auto}"
    "table{border-collapse:collapse;font-variant-numeric:tabular-nums}"
    "th,td{text-align:right;padding:.2rem .6rem;border-bottom:1px solid #eee}"
    "th:first-child,td:first-child{text-align:left}"
    "img,svg{max-width:100%;height:auto}"
    ".better{color:#1a7f37}.worse{color:#b42318}.note{color:#555}"
    "a{color:#0b57d0}"
    "</style>";

static void page_begin(struct buf *out, const char *title)
{
    buf_puts(out, "<!DOCTYPE html><html lang=\"en\"><head>"
             "<meta charset=\"utf-8\"><meta name=\"viewport\" "
             "content=\"width=device-width, initial-scale=1\">"
             "<title>");
    html(out, title);
    buf_puts(out, "</title>");
    buf_puts(out, STYLE);
    buf_puts(out, "</head><body><main>");
}

static void page_end(struct buf *out)
{
    buf_puts(out, "<footer class=\"note\"><p>forest-serve ");
    html(out, FR_VERSION);
    buf_puts(out, " &middot; <a href=\"/\">status</a> &middot; "
             "<a href=\"/docs\">API docs</a> &middot; "
             "<a href=\"/openapi.json\">OpenAPI document</a> &middot; "
             "<a href=\"/metrics\">metrics</a></p></footer>"
             "</main></body></html>\n");
}

static void page_reply(struct reply *r)
{
    r->status = 200;
    r->content_type = HTML_TYPE;
    r->page = 1;
}

/* ---- the status page ---------------------------------------------------- */

/* One row of the test-errors table: the model's value and the
 * baseline's, the better one marked (lower is better but for R2). */
static void error_row(struct buf *out, const char *label, const cJSON *model,
                      const cJSON *base, int higher_better)
{
    const cJSON *a = get(model, label), *b = get(base, label);

    buf_puts(out, "<tr><td>");
    html(out, label);
    buf_puts(out, "</td><td");
    if (cJSON_IsNumber(a) && cJSON_IsNumber(b)) {
        int better = higher_better ? a->valuedouble >= b->valuedouble
                                   : a->valuedouble <= b->valuedouble;
        buf_puts(out, better ? " class=\"better\"" : " class=\"worse\"");
    }
    buf_puts(out, ">");
    cell(out, a);
    buf_puts(out, "</td><td>");
    cell(out, b);
    buf_puts(out, "</td></tr>");
}

static void section_model(struct buf *out, const struct serving *m,
                          const cJSON *meta)
{
    static const char *const KEYS[][2] = {
        {"created_at", "trained at"},  {"data", "trained on"},
        {"target", "target"},          {"mode", "mode"},
        {"trainer_version", "trainer"}, {"checksum", "checksum"},
    };
    const cJSON *origin = get(meta, "data_origin"), *training;
    char when[32];
    time_t t = (time_t)m->loaded_at;
    struct tm tm;

    buf_puts(out, "<section id=\"model\"><h2>Serving model</h2><dl>"
             "<dt>version</dt><dd id=\"version\">");
    html(out, m->version);
    buf_puts(out, "</dd>");
    for (size_t i = 0; i < sizeof KEYS / sizeof KEYS[0]; i++) {
        const cJSON *v = get(meta, KEYS[i][0]);
        if (!cJSON_IsString(v))
            continue;
        buf_puts(out, "<dt>");
        html(out, KEYS[i][1]);
        buf_puts(out, "</dt><dd>");
        html(out, v->valuestring);
        if (strcmp(KEYS[i][0], "data") == 0 && cJSON_IsObject(origin)) {
            /* The origin's scalar fields: days, series, as_of, seed. */
            const cJSON *f;
            const char *sep = " (";
            cJSON_ArrayForEach(f, origin) {
                if (strcmp(f->string, "source") == 0 ||
                    (!cJSON_IsString(f) && !cJSON_IsNumber(f)))
                    continue;
                buf_puts(out, sep);
                html(out, f->string);
                buf_puts(out, " ");
                cell(out, f);
                sep = ", ";
            }
            if (strcmp(sep, ", ") == 0)
                buf_puts(out, ")");
        }
        buf_puts(out, "</dd>");
    }
    training = get(meta, "training");
    if (cJSON_IsObject(training)) {
        buf_puts(out, "<dt>training rows</dt><dd>");
        cell(out, get(training, "rows"));
        buf_puts(out, " (test ");
        cell(out, get(training, "test_rows"));
        buf_puts(out, ")</dd>");
    }
    buf_printf(out, "<dt>features</dt><dd>%u</dd><dt>trees</dt><dd>%u</dd>",
               m->model->forest->n_features, m->model->forest->n_trees);
    if (gmtime_r(&t, &tm) != NULL &&
        strftime(when, sizeof when, "%Y-%m-%d %H:%M:%S UTC", &tm) > 0) {
        buf_puts(out, "<dt>loaded at</dt><dd>");
        html(out, when);
        buf_puts(out, "</dd>");
    }
    buf_puts(out, "</dl></section>");
}

/* The mean of a JSON array of numbers (NAN when it has none). */
static double array_mean(const cJSON *a)
{
    const cJSON *v;
    double sum = 0;
    int n = 0;

    cJSON_ArrayForEach(v, a) {
        if (cJSON_IsNumber(v)) {
            sum += v->valuedouble;
            n++;
        }
    }
    return n > 0 ? sum / n : NAN;
}

static void section_errors(struct buf *out, const cJSON *meta)
{
    const cJSON *metrics = get(meta, "metrics"), *base = get(meta, "baseline");
    const cJSON *bt = get(meta, "backtest"), *name = get(base, "name");
    const cJSON *method;

    buf_puts(out, "<section id=\"errors\"><h2>Errors on the test days</h2>");
    if (!cJSON_IsObject(metrics)) {
        buf_puts(out, "<p class=\"note\">The metadata has no test "
                 "metrics.</p></section>");
        return;
    }
    buf_puts(out, "<div class=\"scroll\"><table><thead><tr><th>metric</th>"
             "<th>model</th><th>");
    if (cJSON_IsString(name))
        html(out, name->valuestring);
    else
        buf_puts(out, "baseline");
    buf_puts(out, "</th></tr></thead><tbody>");
    error_row(out, "mae", metrics, base, 0);
    error_row(out, "rmse", metrics, base, 0);
    error_row(out, "mape", metrics, base, 0);
    error_row(out, "r2", metrics, base, 1);
    buf_puts(out, "</tbody></table></div>");
    if (cJSON_IsObject(bt)) {
        buf_puts(out, "<h3>Backtest</h3><p class=\"note\">Mean absolute "
                 "error over ");
        cell(out, get(bt, "origins"));
        buf_puts(out, " forecast origins, ");
        cell(out, get(bt, "horizon"));
        buf_puts(out, " days ahead each (");
        cell(out, get(bt, "first_day"));
        buf_puts(out, " to ");
        cell(out, get(bt, "last_day"));
        buf_puts(out, ").</p><div class=\"scroll\"><table><thead><tr>"
                 "<th>method</th><th>MAE, mean of horizons</th><th>day 1"
                 "</th><th>last day</th></tr></thead><tbody>");
        cJSON_ArrayForEach(method, bt) {
            const cJSON *mae = get(method, "mae");
            int n = cJSON_GetArraySize(mae);
            if (!cJSON_IsObject(method) || !cJSON_IsArray(mae) || n == 0)
                continue;
            buf_puts(out, "<tr><td>");
            html(out, method->string);
            buf_printf(out, "</td><td>%.4g</td><td>", array_mean(mae));
            cell(out, cJSON_GetArrayItem(mae, 0));
            buf_puts(out, "</td><td>");
            cell(out, cJSON_GetArrayItem(mae, n - 1));
            buf_puts(out, "</td></tr>");
        }
        buf_puts(out, "</tbody></table></div>");
    }
    buf_puts(out, "</section>");
}

static void section_chart(struct buf *out, const struct serving *m)
{
    buf_puts(out, "<section id=\"chart\"><h2>Report</h2>");
    if (m->report != NULL)
        buf_puts(out, "<a href=\"/report.svg\"><img id=\"report\" "
                 "src=\"/report.svg\" width=\"960\" alt=\"The trainer's "
                 "report: actual against predicted over the test days\">"
                 "</a>");
    else
        buf_puts(out, "<p class=\"note\">This version has no report.svg."
                 "</p>");
    buf_puts(out, "</section>");
}

struct importance {
    const char *name;
    double value;
};

static int by_value_desc(const void *a, const void *b)
{
    double x = ((const struct importance *)a)->value;
    double y = ((const struct importance *)b)->value;

    return (x < y) - (x > y);
}

/* Feature importances as an SVG bar chart, largest first. */
static void section_importances(struct buf *out, const cJSON *meta)
{
    const cJSON *imp = get(meta, "feature_importances"), *v;
    struct importance *rows;
    size_t n = 0, cap = (size_t)cJSON_GetArraySize(imp);
    double top = 0;

    if (!cJSON_IsObject(imp) || cap == 0)
        return;
    rows = calloc(cap, sizeof *rows);
    if (rows == NULL) {
        out->failed = 1;
        return;
    }
    cJSON_ArrayForEach(v, imp) {
        if (cJSON_IsNumber(v) && n < cap) {
            rows[n].name = v->string;
            rows[n].value = v->valuedouble;
            if (v->valuedouble > top)
                top = v->valuedouble;
            n++;
        }
    }
    qsort(rows, n, sizeof *rows, by_value_desc);
    buf_puts(out, "<section id=\"importances\"><h2>Feature importances"
             "</h2>");
    buf_printf(out, "<svg id=\"importance-chart\" viewBox=\"0 0 600 %zu\" "
               "width=\"600\" height=\"%zu\" role=\"img\" "
               "aria-label=\"feature importances\" font-size=\"12\">",
               n * 20 + 4, n * 20 + 4);
    for (size_t i = 0; i < n; i++) {
        double w = top > 0 ? rows[i].value / top * 330 : 0;
        buf_printf(out, "<text x=\"0\" y=\"%zu\">", i * 20 + 15);
        html(out, rows[i].name);
        buf_printf(out, "</text><rect x=\"170\" y=\"%zu\" width=\"%.1f\" "
                   "height=\"14\" fill=\"#4c78a8\"/><text x=\"%.1f\" "
                   "y=\"%zu\">%.3f</text>", i * 20 + 3, w, 176 + w,
                   i * 20 + 15, rows[i].value);
    }
    buf_puts(out, "</svg></section>");
    free(rows);
}

/* Requests per endpoint since start, from the /metrics counters. */
static void section_traffic(struct buf *out, struct stats *s)
{
    int any = 0;

    buf_puts(out, "<section id=\"traffic\"><h2>Requests since start</h2>");
    for (int e = 0; e < EP_COUNT && !any; e++) {
        for (int c = 0; c < STATS_N_CODES; c++)
            any |= atomic_load_explicit(&s->requests[e][c],
                                        memory_order_relaxed) > 0;
    }
    if (any)
        buf_puts(out, "<div class=\"scroll\"><table><thead><tr>"
                 "<th>endpoint</th><th>requests</th><th>not 2xx</th>"
                 "<th>mean ms</th></tr></thead><tbody>");
    for (int e = 0; any && e < EP_COUNT; e++) {
        uint64_t n = 0, ok, ns;
        for (int c = 0; c < STATS_N_CODES; c++)
            n += atomic_load_explicit(&s->requests[e][c],
                                      memory_order_relaxed);
        if (n == 0)
            continue;
        ok = atomic_load_explicit(&s->requests[e][0], memory_order_relaxed);
        ns = atomic_load_explicit(&s->latency_ns[e], memory_order_relaxed);
        buf_puts(out, "<tr><td>");
        html(out, stats_endpoint_name((enum endpoint)e));
        buf_printf(out, "</td><td>%llu</td><td>%llu</td><td>%.3f</td></tr>",
                   (unsigned long long)n, (unsigned long long)(n - ok),
                   (double)ns / 1e6 / (double)n);
    }
    if (any)
        buf_puts(out, "</tbody></table></div>");
    else
        buf_puts(out, "<p class=\"note\">No request has completed yet.</p>");
    buf_printf(out, "<p class=\"note\">Rows predicted: %llu. In flight now: "
               "%lld.</p></section>",
               (unsigned long long)atomic_load(&s->predictions),
               (long long)stats_in_flight(s));
}

/* The drift window against training, the most shifted features first. */
static void section_drift(struct buf *out, struct app *app,
                          const struct serving *m)
{
    struct buf tmp;
    cJSON *d = NULL;
    const cJSON *f, *rows;
    struct importance *psi = NULL;
    size_t n = 0, cap;

    buf_puts(out, "<section id=\"drift\"><h2>Drift</h2>");
    if (app->drift == NULL || m->model->profile.n_bins == 0) {
        buf_puts(out, "<p class=\"note\">This model has no training "
                 "profile to compare recent rows with.</p></section>");
        return;
    }
    buf_init(&tmp);
    drift_render_json(app->drift, m, &tmp);
    if (!tmp.failed)
        d = cJSON_ParseWithLength(tmp.data, tmp.len);
    buf_release(&tmp);
    rows = get(d, "window_rows");
    cap = (size_t)cJSON_GetArraySize(get(d, "features"));
    if (!cJSON_IsNumber(rows) || rows->valuedouble <= 0 || cap == 0) {
        buf_puts(out, "<p class=\"note\">No rows scored yet.</p>");
        goto out;
    }
    psi = calloc(cap, sizeof *psi);
    if (psi == NULL) {
        out->failed = 1;
        goto out;
    }
    cJSON_ArrayForEach(f, get(d, "features")) {
        const cJSON *name = get(f, "name"), *p = get(f, "psi");
        if (cJSON_IsString(name) && cJSON_IsNumber(p) && n < cap) {
            psi[n].name = name->valuestring;
            psi[n].value = p->valuedouble;
            n++;
        }
    }
    qsort(psi, n, sizeof *psi, by_value_desc);
    buf_printf(out, "<p class=\"note\">Population stability index of the "
               "last %.0f scored rows against training (above 0.2: the "
               "feature has shifted).</p><div class=\"scroll\"><table>"
               "<thead><tr><th>feature</th><th>PSI</th></tr></thead><tbody>",
               rows->valuedouble);
    for (size_t i = 0; i < n && i < 5; i++) {
        buf_puts(out, "<tr><td>");
        html(out, psi[i].name);
        buf_printf(out, "</td><td%s>%.3f</td></tr>",
                   psi[i].value > 0.2 ? " class=\"worse\"" : "",
                   psi[i].value);
    }
    buf_puts(out, "</tbody></table></div>");
out:
    free(psi);
    cJSON_Delete(d);
    buf_puts(out, "</section>");
}

/* The candidate: its version and where its metadata and its comparison
 * with the serving model are. Nothing when CANDIDATE_MODE is off or none
 * is loaded. Neither CANDIDATE_MODE nor CANARY_PERCENT is named: they are
 * settings, and the page shows nothing /model does not (issue 18 item 5);
 * as in KServe, where the traffic split is the InferenceService's, not the
 * model server's, an operator reads them from the deployment or /metrics
 * (forest_serve_candidate_mode_info). */
static void section_candidate(struct buf *out, struct app *app)
{
    struct serving *c;

    if (app->candidate == NULL)
        return;
    c = registry_acquire(app->candidate);
    if (c == NULL)
        return;
    buf_puts(out, "<section id=\"candidate\"><h2>Candidate</h2><p>Version "
             "<strong id=\"candidate-version\">");
    html(out, c->version);
    buf_puts(out, "</strong> is loaded beside the serving model, to be "
             "tried before it is promoted.");
    buf_puts(out, " Its metadata: <a href=\"/model/candidate\">"
             "/model/candidate</a>; the comparison: <a href=\"/metrics\">"
             "/metrics</a>.</p></section>");
    serving_release(c);
}

void pages_status(struct app *app, struct buf *out, struct reply *r)
{
    struct serving *m = registry_acquire(app->registry);
    cJSON *meta;
    char title[STORE_VERSION_MAX + 32];

    page_reply(r);
    if (m == NULL) {
        page_begin(out, "forest-serve: no model yet");
        buf_puts(out, "<header><h1>forest-serve</h1></header>"
                 "<section id=\"no-model\"><h2>No model yet</h2><p>The "
                 "server is running, but no model has been loaded: "
                 "<code>forest-train</code> has not promoted one to the "
                 "model store yet. This page shows it as soon as it "
                 "loads (the server checks the store every few "
                 "seconds).</p></section>");
        section_traffic(out, app->stats);
        page_end(out);
        return;
    }
    meta = cJSON_ParseWithLength(m->metadata, m->metadata_len);
    snprintf(title, sizeof title, "forest-serve: model %s", m->version);
    page_begin(out, title);
    buf_puts(out, "<header><h1>forest-serve</h1><p>Serving model <strong>");
    html(out, m->version);
    buf_puts(out, "</strong>");
    if (atomic_load(&app->draining))
        buf_puts(out, " (shutting down)");
    buf_puts(out, "</p></header>");
    section_model(out, m, meta);
    section_candidate(out, app);
    section_errors(out, meta);
    section_chart(out, m);
    section_importances(out, meta);
    section_traffic(out, app->stats);
    section_drift(out, app, m);
    page_end(out);
    cJSON_Delete(meta);
    serving_release(m);
}

void pages_report(struct app *app, struct buf *out, struct reply *r)
{
    struct serving *m = registry_acquire(app->registry);

    if (m == NULL || m->report == NULL) {
        r->status = m == NULL ? 503 : 404;
        r->content_type = "application/json";
        handlers_error(out, m == NULL ? "no model loaded yet"
                                      : "this version has no report.svg");
        serving_release(m);
        return;
    }
    r->status = 200;
    r->content_type = "image/svg+xml";
    r->page = 1;
    buf_add(out, m->report, m->report_len);
    serving_release(m);
}

/* /docs: Swagger UI, and under it the endpoint list from the route
 * table, which is what a reader without JavaScript (or without the
 * assets) sees; docs.js hides it once Swagger UI runs. */
void pages_docs(struct app *app, struct buf *out, struct reply *r)
{
    const struct docs *d = app->docs;
    int ui = d != NULL && d->complete;

    page_reply(r);
    buf_puts(out, "<!DOCTYPE html><html lang=\"en\"><head>"
             "<meta charset=\"utf-8\"><meta name=\"viewport\" "
             "content=\"width=device-width, initial-scale=1\">"
             "<title>forest-serve API docs</title>");
    if (ui)
        buf_puts(out, "<link rel=\"stylesheet\" "
                 "href=\"/docs/swagger-ui.css\">");
    buf_puts(out, STYLE);
    buf_puts(out, "</head><body><div id=\"swagger-ui\"></div><main "
             "id=\"endpoints\"><header><h1>forest-serve API</h1><p>The "
             "OpenAPI 3.0.3 document is <a href=\"/openapi.json\">"
             "/openapi.json</a>.");
    if (!ui)
        buf_puts(out, " Swagger UI's files are not installed here "
                 "(DOCS_DIR), so this is the plain list.");
    buf_puts(out, "</p></header><section><div class=\"scroll\"><table>"
             "<thead><tr><th>method</th><th>path</th><th>what it does</th>"
             "</tr></thead><tbody>");
    for (size_t i = 0; i < N_ROUTES; i++) {
        buf_puts(out, "<tr><td>");
        buf_puts(out, strcmp(ROUTES[i].methods, ROUTES_POST) == 0 ? "POST"
                                                                  : "GET");
        buf_puts(out, "</td><td><code>");
        html(out, ROUTES[i].path);
        buf_puts(out, "</code></td><td>");
        html(out, ROUTES[i].summary);
        buf_puts(out, "</td></tr>");
    }
    buf_puts(out, "</tbody></table></div></section></main>");
    if (ui)
        buf_puts(out, "<script src=\"/docs/swagger-ui-bundle.js\"></script>"
                 "<script src=\"/docs/docs.js\"></script>");
    buf_puts(out, "</body></html>\n");
}

void pages_asset(struct app *app, const char *name, size_t name_len,
                 struct buf *out, struct reply *r)
{
    for (size_t i = 0; i < N_DOCS_ASSETS; i++) {
        const struct docs_asset_def *a = &DOCS_ASSETS[i];
        if (strlen(a->name) != name_len ||
            strncmp(a->name, name, name_len) != 0)
            continue;
        if (a->builtin != NULL) {
            buf_puts(out, a->builtin);
        } else if (app->docs != NULL && app->docs->data[i] != NULL) {
            buf_add(out, app->docs->data[i], app->docs->len[i]);
        } else {
            break;
        }
        r->status = 200;
        r->content_type = a->content_type;
        r->page = 1;
        return;
    }
    r->status = 404;
    r->content_type = "application/json";
    handlers_error(out, "no such file under /docs/");
}

void pages_openapi(struct app *app, struct buf *out, struct reply *r)
{
    struct serving *m = registry_acquire(app->registry);
    /* The document is public; the model's names only when /model is. */
    int details = !auth_required(app->auth, EP_MODEL);

    if (openapi_render(app, m, details, out) != 0)
        out->failed = 1;
    r->status = 200;
    r->content_type = "application/json";
    r->page = 1;
    serving_release(m);
}
