/*
 * openapi.c: /openapi.json from the route table (see openapi.h).
 *
 * The paths come from ROUTES, one operation per row, so a route added to
 * the table appears here with no other change. The bodies' shapes are the
 * JSON Schemas below, one per schema id of routes.h, written as JSON text
 * (parsed with cJSON at each request: a few kilobytes, and only people and
 * client generators ask); the parts that depend on the model serving (its
 * features, its covariates) are built from the model and replace the
 * generic ones. The schemas say what request.c checks: the same keys, each
 * feature a finite number within float32's range, an interval strictly
 * between 0 and 1, so a request the document accepts is one the parser
 * takes (the OpenAPI test checks the README's examples both ways).
 */
#include "openapi.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <string.h>

#include "auth.h"
#include "pages.h"
#include "request.h"
#include "routes.h"

/* A macro's value as a string literal, so that the limits request.h sets
 * are the ones the schemas below state (STR(REQUEST_ID_MAX) is "256"). */
#define STR_(x) #x
#define STR(x) STR_(x)

/* float32's largest finite value: request.c refuses what overflows it. */
#define F32_MAX "3.4028234663852886e38"
#define VALUE_SCHEMA "{\"type\":\"number\",\"minimum\":-" F32_MAX \
                     ",\"maximum\":" F32_MAX "}"

/* The components' schemas, generic in the model; FeatureObject,
 * FeatureArray and Covariates are replaced when the model is known. */
static const char COMPONENTS[] =
    "{"
    "\"Error\":{\"type\":\"object\",\"required\":[\"error\"],"
    "\"properties\":{\"error\":{\"type\":\"string\"}}},"
    "\"Value\":" VALUE_SCHEMA ","
    "\"FeatureObject\":{\"type\":\"object\",\"description\":\"one row by "
    "feature name, any order\",\"minProperties\":1,"
    "\"additionalProperties\":{\"$ref\":\"#/components/schemas/Value\"}},"
    "\"FeatureArray\":{\"type\":\"array\",\"description\":\"one row in the "
    "model's feature order\",\"minItems\":1,"
    "\"items\":{\"$ref\":\"#/components/schemas/Value\"}},"
    "\"FeatureRow\":{\"oneOf\":["
    "{\"$ref\":\"#/components/schemas/FeatureObject\"},"
    "{\"$ref\":\"#/components/schemas/FeatureArray\"}]},"
    "\"Level\":{\"type\":\"number\",\"minimum\":0,\"exclusiveMinimum\":true,"
    "\"maximum\":1,\"exclusiveMaximum\":true,\"example\":0.9,\"description\":\"the central "
    "share of outcomes the interval should hold, e.g. 0.9\"},"
    "\"PredictRequest\":{\"type\":\"object\",\"additionalProperties\":false,"
    "\"properties\":{"
    "\"features\":{\"$ref\":\"#/components/schemas/FeatureRow\"},"
    "\"instances\":{\"type\":\"array\",\"minItems\":1,"
    "\"items\":{\"$ref\":\"#/components/schemas/FeatureRow\"}},"
    "\"interval\":{\"$ref\":\"#/components/schemas/Level\"},"
    "\"explain\":{\"type\":\"boolean\"}},"
    "\"oneOf\":[{\"required\":[\"features\"]},{\"required\":[\"instances\"]}]},"
    "\"Interval\":{\"type\":\"object\",\"required\":[\"level\",\"lower\","
    "\"upper\",\"calibrated\"],\"properties\":{\"level\":{\"type\":"
    "\"number\"},\"lower\":{\"type\":\"number\"},\"upper\":{\"type\":"
    "\"number\"},\"calibrated\":{\"type\":\"boolean\"}}},"
    "\"Spread\":{\"type\":\"object\",\"required\":[\"lower\",\"upper\","
    "\"std\"],\"properties\":{\"lower\":{\"type\":\"number\"},\"upper\":"
    "{\"type\":\"number\"},\"std\":{\"type\":\"number\"}}},"
    "\"Explanation\":{\"type\":\"object\",\"required\":[\"base_value\","
    "\"contributions\"],\"properties\":{\"base_value\":{\"type\":"
    "\"number\"},\"contributions\":{\"type\":\"object\","
    "\"additionalProperties\":{\"type\":\"number\"}}}},"
    "\"PredictResponse\":{\"type\":\"object\",\"required\":"
    "[\"model_version\"],\"properties\":{"
    "\"prediction\":{\"type\":\"number\"},"
    "\"interval\":{\"$ref\":\"#/components/schemas/Interval\"},"
    "\"spread\":{\"$ref\":\"#/components/schemas/Spread\"},"
    "\"explanation\":{\"$ref\":\"#/components/schemas/Explanation\"},"
    "\"predictions\":{\"type\":\"array\",\"items\":{\"type\":\"number\"}},"
    "\"intervals\":{\"type\":\"array\",\"items\":{\"$ref\":"
    "\"#/components/schemas/Interval\"}},"
    "\"spreads\":{\"type\":\"array\",\"items\":{\"$ref\":"
    "\"#/components/schemas/Spread\"}},"
    "\"explanations\":{\"type\":\"array\",\"items\":{\"$ref\":"
    "\"#/components/schemas/Explanation\"}},"
    "\"model_version\":{\"type\":\"string\"}}},"
    "\"Covariates\":{\"oneOf\":[{\"type\":\"object\",\"additionalProperties\":"
    "{\"$ref\":\"#/components/schemas/Value\"}},{\"type\":\"array\","
    "\"items\":{\"$ref\":\"#/components/schemas/Value\"}}]},"
    "\"ForecastRequest\":{\"type\":\"object\",\"additionalProperties\":false,"
    "\"required\":[\"history\",\"horizon\"],\"properties\":{"
    "\"history\":{\"type\":\"array\",\"minItems\":1,\"description\":"
    "\"consecutive days, oldest first\",\"items\":{\"type\":\"object\","
    "\"required\":[\"date\",\"value\"],\"properties\":{\"date\":{\"type\":"
    "\"string\",\"format\":\"date\"},\"value\":{\"type\":\"number\","
    "\"minimum\":-" STR(REQUEST_HISTORY_LIMIT) ",\"maximum\":"
    STR(REQUEST_HISTORY_LIMIT) "}}}},"
    "\"horizon\":{\"type\":\"integer\",\"minimum\":1},"
    "\"covariates\":{\"type\":\"array\",\"description\":\"one entry per "
    "forecast day\",\"items\":{\"$ref\":\"#/components/schemas/Covariates\"}},"
    "\"interval\":{\"$ref\":\"#/components/schemas/Level\"},"
    "\"explain\":{\"type\":\"boolean\"}}},"
    "\"ForecastResponse\":{\"type\":\"object\",\"required\":[\"forecast\","
    "\"model_version\"],\"properties\":{\"forecast\":{\"type\":\"array\","
    "\"items\":{\"type\":\"object\",\"required\":[\"date\",\"value\"],"
    "\"properties\":{\"date\":{\"type\":\"string\",\"format\":\"date\"},"
    "\"value\":{\"type\":\"number\"},"
    "\"interval\":{\"$ref\":\"#/components/schemas/Interval\"},"
    "\"spread\":{\"$ref\":\"#/components/schemas/Spread\"},"
    "\"explanation\":{\"$ref\":\"#/components/schemas/Explanation\"}}}},"
    "\"model_version\":{\"type\":\"string\"}}},"
    "\"Health\":{\"type\":\"object\",\"required\":[\"status\"],"
    "\"properties\":{\"status\":{\"type\":\"string\",\"enum\":"
    "[\"healthy\"]}}},"
    "\"Ready\":{\"type\":\"object\",\"required\":[\"status\",\"model_loaded\","
    "\"model_version\"],\"properties\":{\"status\":{\"type\":\"string\","
    "\"enum\":[\"ready\",\"not ready\",\"draining\"]},\"error\":{\"type\":"
    "\"string\"},\"model_loaded\":{\"type\":\"boolean\"},\"model_version\":"
    "{\"type\":\"string\",\"nullable\":true}}},"
    "\"Model\":{\"type\":\"object\",\"description\":\"metadata.json as the "
    "trainer wrote it\",\"required\":[\"version\"],\"properties\":"
    "{\"version\":{\"type\":\"string\"},\"features\":{\"type\":\"array\","
    "\"items\":{\"type\":\"string\"}}}},"
    "\"Drift\":{\"type\":\"object\",\"required\":[\"window_rows\","
    "\"features\",\"model_version\"],\"properties\":{\"window_rows\":"
    "{\"type\":\"integer\"},\"window\":{\"type\":\"integer\"},\"features\":"
    "{\"type\":\"array\",\"items\":{\"type\":\"object\",\"properties\":"
    "{\"name\":{\"type\":\"string\"},\"psi\":{\"type\":\"number\","
    "\"nullable\":true}}}},\"model_version\":{\"type\":\"string\"}}},"
    "\"V2Server\":{\"type\":\"object\",\"required\":[\"name\",\"version\","
    "\"extensions\"],\"properties\":{\"name\":{\"type\":\"string\"},"
    "\"version\":{\"type\":\"string\"},\"extensions\":{\"type\":\"array\","
    "\"items\":{\"type\":\"string\"}}}},"
    "\"V2Live\":{\"type\":\"object\",\"required\":[\"live\"],\"properties\":"
    "{\"live\":{\"type\":\"boolean\"}}},"
    "\"V2Ready\":{\"type\":\"object\",\"required\":[\"ready\"],"
    "\"properties\":{\"ready\":{\"type\":\"boolean\"},\"error\":{\"type\":"
    "\"string\"}}},"
    "\"V2Tensor\":{\"type\":\"object\",\"required\":[\"name\",\"datatype\","
    "\"shape\"],\"properties\":{\"name\":{\"type\":\"string\"},\"datatype\":"
    "{\"type\":\"string\"},\"shape\":{\"type\":\"array\",\"items\":{\"type\":"
    "\"integer\"}}}},"
    "\"V2Model\":{\"type\":\"object\",\"required\":[\"name\",\"versions\","
    "\"platform\",\"inputs\",\"outputs\"],\"properties\":{\"name\":{\"type\":"
    "\"string\"},\"versions\":{\"type\":\"array\",\"items\":{\"type\":"
    "\"string\"}},\"platform\":{\"type\":\"string\"},\"inputs\":{\"type\":"
    "\"array\",\"items\":{\"$ref\":\"#/components/schemas/V2Tensor\"}},"
    "\"outputs\":{\"type\":\"array\",\"items\":{\"$ref\":"
    "\"#/components/schemas/V2Tensor\"}},\"parameters\":{\"type\":"
    "\"object\"}}},"
    "\"V2ModelReady\":{\"type\":\"object\",\"required\":[\"name\",\"ready\"],"
    "\"properties\":{\"name\":{\"type\":\"string\"},\"ready\":{\"type\":"
    "\"boolean\"},\"error\":{\"type\":\"string\"}}},"
    "\"V2InferInput\":{\"type\":\"object\",\"required\":[\"name\",\"shape\","
    "\"datatype\"],\"properties\":{\"name\":{\"type\":\"string\"},\"shape\":"
    "{\"type\":\"array\",\"minItems\":1,\"maxItems\":2,\"items\":{\"type\":"
    "\"integer\",\"minimum\":1}},\"datatype\":{\"type\":\"string\",\"enum\":"
    "[\"FP32\",\"FP64\"]},\"data\":{\"type\":\"array\",\"description\":"
    "\"row-major numbers, flat or nested [batch][features]\",\"items\":"
    "{\"oneOf\":[{\"$ref\":\"#/components/schemas/Value\"},{\"type\":"
    "\"array\",\"items\":{\"$ref\":\"#/components/schemas/Value\"}}]}},"
    "\"parameters\":{\"type\":\"object\",\"properties\":"
    "{\"binary_data_size\":{\"type\":\"integer\",\"minimum\":0}}}}},"
    "\"V2InferRequest\":{\"type\":\"object\",\"additionalProperties\":false,"
    "\"required\":[\"inputs\"],\"properties\":{\"id\":{\"type\":\"string\","
    "\"maxLength\":" STR(REQUEST_ID_MAX) "},\"inputs\":{\"type\":"
    "\"array\",\"minItems\":1,\"maxItems\":1,\"items\":{\"$ref\":"
    "\"#/components/schemas/V2InferInput\"}},\"outputs\":{\"type\":"
    "\"array\",\"items\":{\"type\":\"object\",\"required\":[\"name\"],"
    "\"properties\":{\"name\":{\"type\":\"string\"},\"parameters\":{\"type\":"
    "\"object\",\"properties\":{\"binary_data\":{\"type\":\"boolean\"}}}}}},"
    "\"parameters\":{\"type\":\"object\",\"properties\":{\"explain\":"
    "{\"type\":\"boolean\"},\"binary_data_output\":{\"type\":\"boolean\"}}}}},"
    "\"V2InferResponse\":{\"type\":\"object\",\"required\":[\"model_name\","
    "\"model_version\",\"outputs\"],\"properties\":{\"model_name\":{\"type\":"
    "\"string\"},\"model_version\":{\"type\":\"string\"},\"id\":{\"type\":"
    "\"string\"},\"outputs\":{\"type\":\"array\",\"items\":{\"type\":"
    "\"object\",\"required\":[\"name\",\"datatype\",\"shape\"],"
    "\"properties\":{\"name\":{\"type\":\"string\"},\"datatype\":{\"type\":"
    "\"string\"},\"shape\":{\"type\":\"array\",\"items\":{\"type\":"
    "\"integer\"}},\"data\":{\"type\":\"array\",\"items\":{\"type\":"
    "\"number\"}},\"parameters\":{\"type\":\"object\"}}}}}},"
    "\"OpenAPI\":{\"type\":\"object\",\"required\":[\"openapi\",\"paths\"],"
    "\"properties\":{\"openapi\":{\"type\":\"string\"},\"paths\":{\"type\":"
    "\"object\"}}}"
    "}";

/* Each schema id: its media type and component (NULL: a plain string). */
static const struct {
    const char *media;
    const char *component;
} SCHEMAS[SCHEMA_COUNT] = {
    [SCHEMA_NONE] = {NULL, NULL},
    [SCHEMA_HTML] = {"text/html", NULL},
    [SCHEMA_ASSET] = {"text/javascript", NULL},
    [SCHEMA_SVG] = {"image/svg+xml", NULL},
    [SCHEMA_TEXT_METRICS] = {"text/plain", NULL},
    [SCHEMA_OPENAPI] = {"application/json", "OpenAPI"},
    [SCHEMA_HEALTH] = {"application/json", "Health"},
    [SCHEMA_READY] = {"application/json", "Ready"},
    [SCHEMA_PREDICT_REQUEST] = {"application/json", "PredictRequest"},
    [SCHEMA_PREDICT_RESPONSE] = {"application/json", "PredictResponse"},
    [SCHEMA_FORECAST_REQUEST] = {"application/json", "ForecastRequest"},
    [SCHEMA_FORECAST_RESPONSE] = {"application/json", "ForecastResponse"},
    [SCHEMA_MODEL] = {"application/json", "Model"},
    [SCHEMA_DRIFT] = {"application/json", "Drift"},
    [SCHEMA_V2_SERVER] = {"application/json", "V2Server"},
    [SCHEMA_V2_LIVE] = {"application/json", "V2Live"},
    [SCHEMA_V2_READY] = {"application/json", "V2Ready"},
    [SCHEMA_V2_MODEL] = {"application/json", "V2Model"},
    [SCHEMA_V2_MODEL_READY] = {"application/json", "V2ModelReady"},
    [SCHEMA_V2_INFER_REQUEST] = {"application/json", "V2InferRequest"},
    [SCHEMA_V2_INFER_RESPONSE] = {"application/json", "V2InferResponse"},
};

/* {"$ref": "#/components/schemas/<name>"}, or NULL without memory. */
static cJSON *ref(const char *name)
{
    char path[128];
    cJSON *o = cJSON_CreateObject();

    snprintf(path, sizeof path, "#/components/schemas/%s", name);
    if (o != NULL && cJSON_AddStringToObject(o, "$ref", path) == NULL) {
        cJSON_Delete(o);
        return NULL;
    }
    return o;
}

/* Adds key: {"$ref": ... name} to o. Returns 0, or -1 without memory. */
static int add_ref(cJSON *o, const char *key, const char *name)
{
    cJSON *r = ref(name);

    if (r == NULL)
        return -1;
    if (!cJSON_AddItemToObject(o, key, r)) {
        cJSON_Delete(r);
        return -1;
    }
    return 0;
}

/* Appends s to the array a. Returns 0, or -1 without memory. */
static int add_string(cJSON *a, const char *s)
{
    cJSON *v = cJSON_CreateString(s);

    if (v == NULL)
        return -1;
    if (!cJSON_AddItemToArray(a, v)) {
        cJSON_Delete(v);
        return -1;
    }
    return 0;
}

/* A {"description", "content": {media: {"schema": ...}}} response or
 * request body for schema id, or NULL without memory. */
static cJSON *body_of(enum schema_id id, const char *description)
{
    cJSON *o = cJSON_CreateObject(), *content, *media, *schema;

    if (o == NULL)
        return NULL;
    if (description != NULL &&
        cJSON_AddStringToObject(o, "description", description) == NULL)
        goto fail;
    if (SCHEMAS[id].media == NULL)
        return o;
    content = cJSON_AddObjectToObject(o, "content");
    media = content ? cJSON_AddObjectToObject(content, SCHEMAS[id].media)
                    : NULL;
    if (media == NULL)
        goto fail;
    if (SCHEMAS[id].component != NULL) {
        schema = ref(SCHEMAS[id].component);
    } else {
        schema = cJSON_CreateObject();
        if (schema != NULL &&
            cJSON_AddStringToObject(schema, "type", "string") == NULL) {
            cJSON_Delete(schema);
            schema = NULL;
        }
    }
    if (schema == NULL)
        goto fail;
    cJSON_AddItemToObject(media, "schema", schema);
    if (id == SCHEMA_ASSET) {
        /* The style sheet is the other asset. */
        cJSON *css = cJSON_AddObjectToObject(content, "text/css");
        cJSON *s = css ? cJSON_AddObjectToObject(css, "schema") : NULL;
        if (s == NULL || cJSON_AddStringToObject(s, "type", "string") == NULL)
            goto fail;
    }
    return o;
fail:
    cJSON_Delete(o);
    return NULL;
}

/* Adds an error response (the {"error": ...} shape) under status. */
static int add_error(cJSON *responses, const char *status,
                     const char *description)
{
    cJSON *r = cJSON_CreateObject(), *content, *media, *schema;

    if (r == NULL)
        return -1;
    cJSON_AddItemToObject(responses, status, r);
    if (cJSON_AddStringToObject(r, "description", description) == NULL)
        return -1;
    content = cJSON_AddObjectToObject(r, "content");
    media = content ? cJSON_AddObjectToObject(content, "application/json")
                    : NULL;
    schema = media ? ref("Error") : NULL;
    if (schema == NULL)
        return -1;
    cJSON_AddItemToObject(media, "schema", schema);
    return 0;
}

/* A path parameter: {"name", "in": "path", "required": true, "schema":
 * {"type": "string"[, "enum": [value]]}}. value NULL: any. */
static int add_path_param(cJSON *params, const char *name, const char *value)
{
    cJSON *p = cJSON_CreateObject(), *schema, *e;

    if (p == NULL)
        return -1;
    cJSON_AddItemToArray(params, p);
    if (cJSON_AddStringToObject(p, "name", name) == NULL ||
        cJSON_AddStringToObject(p, "in", "path") == NULL ||
        cJSON_AddTrueToObject(p, "required") == NULL)
        return -1;
    schema = cJSON_AddObjectToObject(p, "schema");
    if (schema == NULL ||
        cJSON_AddStringToObject(schema, "type", "string") == NULL)
        return -1;
    if (value == NULL)
        return 0;
    e = cJSON_AddArrayToObject(schema, "enum");
    if (e == NULL)
        return -1;
    return add_string(e, value);
}

/* An optional header parameter of type string (enum values, NULL-ended,
 * or none) or integer (values NULL and integer 1). */
static int add_header_param(cJSON *params, const char *name,
                            const char *const *values, int integer)
{
    cJSON *p = cJSON_CreateObject(), *schema, *e;

    if (p == NULL)
        return -1;
    cJSON_AddItemToArray(params, p);
    if (cJSON_AddStringToObject(p, "name", name) == NULL ||
        cJSON_AddStringToObject(p, "in", "header") == NULL)
        return -1;
    schema = cJSON_AddObjectToObject(p, "schema");
    if (schema == NULL || cJSON_AddStringToObject(
                              schema, "type",
                              integer ? "integer" : "string") == NULL)
        return -1;
    if (values == NULL)
        return 0;
    e = cJSON_AddArrayToObject(schema, "enum");
    if (e == NULL)
        return -1;
    for (; *values != NULL; values++) {
        if (add_string(e, *values) != 0)
            return -1;
    }
    return 0;
}

/* "get_v2_models_name_ready" for GET /v2/models/{name}/ready; "/" is
 * "get_status". Unique because (method, path) is. */
static void operation_id(const char *method, const char *path, char *id,
                         size_t len)
{
    size_t n = (size_t)snprintf(id, len, "%s", method);

    if (strcmp(path, "/") == 0) {
        snprintf(id + n, len - n, "_status");
        return;
    }
    for (const char *p = path; *p != '\0' && n + 2 < len; p++) {
        if (*p == '{' || *p == '}')
            continue;
        if (p[1] == '\0' && *p == '/') {
            snprintf(id + n, len - n, "_base");
            return;
        }
        id[n++] = (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ?
                  *p : '_';
    }
    id[n] = '\0';
}

static int add_operation(cJSON *paths, const struct route_def *d,
                         const struct app *app, const struct serving *m,
                         int details)
{
    static const char *const ENCODINGS[] = {"identity", "gzip", "x-gzip",
                                            "deflate", NULL};
    int post = strcmp(d->methods, ROUTES_POST) == 0;
    cJSON *item = cJSON_GetObjectItemCaseSensitive(paths, d->path);
    cJSON *op, *tags, *params, *responses, *resp;
    char id[128];

    if (item == NULL)
        item = cJSON_AddObjectToObject(paths, d->path);
    op = item ? cJSON_AddObjectToObject(item, post ? "post" : "get") : NULL;
    if (op == NULL)
        return -1;
    operation_id(post ? "post" : "get", d->path, id, sizeof id);
    tags = cJSON_AddArrayToObject(op, "tags");
    if (tags == NULL || cJSON_AddStringToObject(op, "operationId", id) == NULL ||
        cJSON_AddStringToObject(op, "summary", d->summary) == NULL)
        return -1;
    if (add_string(tags, d->tag) != 0)
        return -1;
    params = cJSON_AddArrayToObject(op, "parameters");
    if (params == NULL)
        return -1;
    if (strstr(d->path, "{name}") != NULL &&
        add_path_param(params, "name", details ? app->model_name : NULL) != 0)
        return -1;
    if (strstr(d->path, "{version}") != NULL &&
        add_path_param(params, "version",
                       details && m != NULL ? m->version : NULL) != 0)
        return -1;
    if (strstr(d->path, "{asset}") != NULL) {
        cJSON *p, *schema, *e;
        if (add_path_param(params, "asset", NULL) != 0)
            return -1;
        p = cJSON_GetArrayItem(params, cJSON_GetArraySize(params) - 1);
        schema = cJSON_GetObjectItemCaseSensitive(p, "schema");
        e = cJSON_AddArrayToObject(schema, "enum");
        if (e == NULL)
            return -1;
        for (size_t i = 0; i < N_DOCS_ASSETS; i++) {
            if (add_string(e, DOCS_ASSETS[i].name) != 0)
                return -1;
        }
    }
    if (post && add_header_param(params, "Content-Encoding", ENCODINGS, 0) != 0)
        return -1;
    if (d->request == SCHEMA_V2_INFER_REQUEST &&
        add_header_param(params, "Inference-Header-Content-Length", NULL,
                         1) != 0)
        return -1;
    if (post) {
        cJSON *rb = body_of(d->request, NULL);
        if (rb == NULL)
            return -1;
        cJSON_AddItemToObject(op, "requestBody", rb);
        if (cJSON_AddTrueToObject(rb, "required") == NULL)
            return -1;
        if (d->request == SCHEMA_V2_INFER_REQUEST) {
            /* Triton's binary data: JSON, then the tensors' bytes. */
            cJSON *content = cJSON_GetObjectItemCaseSensitive(rb, "content");
            cJSON *bin = cJSON_AddObjectToObject(content,
                                                 "application/octet-stream");
            cJSON *s = bin ? cJSON_AddObjectToObject(bin, "schema") : NULL;
            if (s == NULL ||
                cJSON_AddStringToObject(s, "type", "string") == NULL ||
                cJSON_AddStringToObject(s, "format", "binary") == NULL)
                return -1;
        }
    }
    if (auth_required(app->auth, d->ep)) {
        cJSON *sec = cJSON_AddArrayToObject(op, "security"), *b;
        b = cJSON_CreateObject();
        if (sec == NULL || b == NULL) {
            cJSON_Delete(b);
            return -1;
        }
        cJSON_AddItemToArray(sec, b);
        if (cJSON_AddArrayToObject(b, "bearer") == NULL)
            return -1;
    }
    responses = cJSON_AddObjectToObject(op, "responses");
    resp = responses ? body_of(d->response, "success") : NULL;
    if (resp == NULL)
        return -1;
    cJSON_AddItemToObject(responses, "200", resp);
    if (post && (add_error(responses, "400", "malformed request") != 0 ||
                 add_error(responses, "413", "body larger than "
                           "MAX_BODY_BYTES") != 0 ||
                 add_error(responses, "415", "unknown Content-Encoding") != 0 ||
                 add_error(responses, "422", "a request that does not fit "
                           "the model") != 0))
        return -1;
    if (auth_required(app->auth, d->ep) &&
        add_error(responses, "401", "missing or wrong bearer token") != 0)
        return -1;
    if (strchr(d->path, '{') != NULL &&
        add_error(responses, "404", "unknown model, version or asset") != 0)
        return -1;
    if (d->response == SCHEMA_READY || d->response == SCHEMA_V2_READY ||
        d->response == SCHEMA_V2_MODEL_READY) {
        cJSON *r503 = body_of(d->response, "not ready");
        if (r503 == NULL)
            return -1;
        cJSON_AddItemToObject(responses, "503", r503);
    } else if (add_error(responses, "503", "no model loaded yet, or the "
                         "body budget is spent (Retry-After)") != 0) {
        return -1;
    }
    return add_error(responses, "default", "an error");
}

/* Replaces schemas[name] with item (which it takes). */
static int replace(cJSON *schemas, const char *name, cJSON *item)
{
    if (item == NULL)
        return -1;
    cJSON_ReplaceItemInObjectCaseSensitive(schemas, name, item);
    return 0;
}

/* The features' schemas for the model: an object with exactly its
 * feature names, an array of exactly n_features values; and, for a
 * series model, its covariates by name or in order. */
static int model_schemas(cJSON *schemas, const struct model *mod)
{
    const struct forest *f = mod->forest;
    cJSON *obj = cJSON_CreateObject(), *arr = cJSON_CreateObject();
    cJSON *props, *req, *pred, *example, *row;

    if (replace(schemas, "FeatureObject", obj) != 0 ||
        replace(schemas, "FeatureArray", arr) != 0)
        return -1;
    props = cJSON_AddObjectToObject(obj, "properties");
    req = cJSON_AddArrayToObject(obj, "required");
    if (props == NULL || req == NULL ||
        cJSON_AddStringToObject(obj, "type", "object") == NULL ||
        cJSON_AddStringToObject(obj, "description", "one row by feature "
                                "name, any order") == NULL ||
        cJSON_AddFalseToObject(obj, "additionalProperties") == NULL ||
        cJSON_AddStringToObject(arr, "type", "array") == NULL ||
        cJSON_AddStringToObject(arr, "description", "one row in the model's "
                                "feature order (see FeatureObject)") == NULL ||
        cJSON_AddNumberToObject(arr, "minItems", f->n_features) == NULL ||
        cJSON_AddNumberToObject(arr, "maxItems", f->n_features) == NULL)
        return -1;
    if (add_ref(arr, "items", "Value") != 0)
        return -1;
    /* The example "Try it out" starts from: one row by name. (A sample
     * built from the schema would send both "features" and "instances".) */
    pred = cJSON_GetObjectItemCaseSensitive(schemas, "PredictRequest");
    example = cJSON_CreateObject();
    row = example ? cJSON_AddObjectToObject(example, "features") : NULL;
    if (row == NULL) {
        cJSON_Delete(example);
        return -1;
    }
    cJSON_AddItemToObject(pred, "example", example);
    for (uint32_t i = 0; i < f->n_features; i++) {
        if (add_ref(props, f->feature_names[i], "Value") != 0 ||
            add_string(req, f->feature_names[i]) != 0 ||
            cJSON_AddNumberToObject(row, f->feature_names[i], 1) == NULL)
            return -1;
    }
    if (mod->has_series) {
        const struct series_spec *s = &mod->series;
        cJSON *cov = cJSON_CreateObject(), *one, *cobj, *cprops, *creq, *carr;
        if (replace(schemas, "Covariates", cov) != 0)
            return -1;
        one = cJSON_AddArrayToObject(cov, "oneOf");
        cobj = cJSON_CreateObject();
        carr = cJSON_CreateObject();
        if (one == NULL || cobj == NULL || carr == NULL) {
            cJSON_Delete(cobj);
            cJSON_Delete(carr);
            return -1;
        }
        cJSON_AddItemToArray(one, cobj);
        cJSON_AddItemToArray(one, carr);
        cprops = cJSON_AddObjectToObject(cobj, "properties");
        creq = cJSON_AddArrayToObject(cobj, "required");
        if (cprops == NULL || creq == NULL ||
            cJSON_AddStringToObject(cobj, "type", "object") == NULL ||
            cJSON_AddFalseToObject(cobj, "additionalProperties") == NULL ||
            cJSON_AddStringToObject(carr, "type", "array") == NULL ||
            cJSON_AddNumberToObject(carr, "minItems", s->n_covariates) ==
                NULL ||
            cJSON_AddNumberToObject(carr, "maxItems", s->n_covariates) ==
                NULL)
            return -1;
        if (add_ref(carr, "items", "Value") != 0)
            return -1;
        for (uint32_t i = 0; i < s->n_covariates; i++) {
            if (add_ref(cprops, s->covariates[i], "Value") != 0 ||
                add_string(creq, s->covariates[i]) != 0)
                return -1;
        }
    }
    return 0;
}

int openapi_render(const struct app *app, const struct serving *m,
                   int details, struct buf *out)
{
    cJSON *doc = cJSON_CreateObject(), *info, *paths, *comp, *schemas;
    cJSON *sec, *bearer;
    char *text = NULL;
    int rc = -1;

    if (doc == NULL)
        goto out;
    info = cJSON_AddObjectToObject(doc, "info");
    if (cJSON_AddStringToObject(doc, "openapi", "3.0.3") == NULL ||
        info == NULL ||
        cJSON_AddStringToObject(info, "title", "forest-serve") == NULL ||
        cJSON_AddStringToObject(info, "version", FR_VERSION) == NULL ||
        cJSON_AddStringToObject(
            info, "description",
            details && m != NULL ?
            "The prediction server of the Mini ML Platform. The schemas of "
            "features and covariates are those of the model serving now "
            "(model_version in each answer)." :
            "The prediction server of the Mini ML Platform. No model's "
            "features are shown: none is loaded yet, or /model needs a "
            "token.") == NULL)
        goto out;
    paths = cJSON_AddObjectToObject(doc, "paths");
    comp = cJSON_AddObjectToObject(doc, "components");
    if (paths == NULL || comp == NULL)
        goto out;
    schemas = cJSON_Parse(COMPONENTS);
    if (schemas == NULL)
        goto out;
    cJSON_AddItemToObject(comp, "schemas", schemas);
    if (details && m != NULL && model_schemas(schemas, m->model) != 0)
        goto out;
    sec = cJSON_AddObjectToObject(comp, "securitySchemes");
    bearer = sec ? cJSON_AddObjectToObject(sec, "bearer") : NULL;
    if (bearer == NULL ||
        cJSON_AddStringToObject(bearer, "type", "http") == NULL ||
        cJSON_AddStringToObject(bearer, "scheme", "bearer") == NULL)
        goto out;
    for (size_t i = 0; i < N_ROUTES; i++) {
        if (add_operation(paths, &ROUTES[i], app, m, details) != 0)
            goto out;
    }
    text = cJSON_PrintUnformatted(doc);
    if (text == NULL)
        goto out;
    buf_puts(out, text);
    rc = out->failed ? -1 : 0;
out:
    cJSON_free(text);
    cJSON_Delete(doc);
    return rc;
}
