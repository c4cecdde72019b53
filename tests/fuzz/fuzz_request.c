/*
 * fuzz_request.c: libFuzzer target for the request bodies of /predict,
 * /forecast and the V2 infer endpoint, through handlers_dispatch(), the
 * same function the HTTP server calls.
 *
 * The first four bytes are the request's head, the rest its body:
 *   byte 0     the endpoint ('f' forecast, 'i' infer, 'd' GET /drift,
 *              'c' GET /model/candidate, anything else predict)
 *   byte 1     bits 0-1: Content-Encoding (1 gzip, 2 deflate, else none),
 *              decoded by encoding_decode() as server.c does; bit 2: an
 *              Inference-Header-Content-Length header, of bytes 2-3
 *              (little endian), written as the decimal text a client sends;
 *              bits 3-4: CANDIDATE_MODE (0 off, 1 shadow, 2 canary at
 *              CANARY_PERCENT 50, 3 canary at 100) with a candidate
 *              loaded; bit 5: an X-Request-Id header, the body's first
 *              bytes (up to 64, to the first NUL)
 * A small series forest (promo and
 * holiday covariates, so every parser path is reachable) is trained once
 * at start-up from the library's synthetic data, with a feature profile
 * (so every scored row goes through the drift window, DRIFT_WINDOW 64 so
 * it wraps often) and node cover ("explain": true reaches TreeSHAP on
 * relative rows with the level term). Besides the sanitizers,
 * the oracle is the server's promise: never a 5xx, and always a JSON body,
 * with an "error" key when the status is not 200.
 */
#include <cjson/cJSON.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dataset.h"
#include "drift.h"
#include "encoding.h"
#include "forest.h"
#include "handlers.h"
#include "registry.h"
#include "series.h"
#include "stats.h"
#include "synth.h"

static struct registry registry, candidate;
static struct stats stats;
static struct drift drift;
static struct app app;
static struct scratch scratch;
static struct buf out;
static struct buf plain;

/* encoding_room_fn with no budget: the server's takes from it first. */
static int room(void *ctx, struct buf *b, size_t need)
{
    (void)ctx;
    return buf_grow_exact(b, need + 1) == 0 ? 0 : 500;
}

static struct model *train(void)
{
    struct fr_error err = {{0}};
    struct series_data raw;
    struct series_spec spec;
    struct dataset table;
    struct forest_params p;
    struct model *f;

    memset(&raw, 0, sizeof raw);
    memset(&spec, 0, sizeof spec);
    if (synth_generate(2, 90, 20635 /* 2026-07-01 */, 42, &raw, &err) != 0 ||
        series_spec_init(&spec, raw.n_covariates,
                         (const char *const *)raw.covariate_names,
                         &err) != 0 ||
        series_build(&raw, &spec, &table, &err) != 0) {
        fprintf(stderr, "fuzz_request: cannot build data: %s\n", err.msg);
        abort();
    }
    forest_params_default(&p);
    p.n_trees = 4;
    p.max_depth = 4;
    p.n_threads = 1;
    f = model_new(forest_train(&table, &p, NULL, NULL, &err), &spec, &err);
    if (f == NULL) {
        fprintf(stderr, "fuzz_request: cannot train: %s\n", err.msg);
        abort();
    }
    {
        /* Two horizons of relative scores, so interval requests reach the
         * conformal path (and its "too few scores" refusal above 0.95). */
        static const uint32_t counts[2] = {20, 20};
        double scores[40];
        for (int i = 0; i < 40; i++)
            scores[i] = 0.01 * (i % 20 + 1);
        if (calibration_build(&f->calibration, CALIBRATION_RELATIVE, 2,
                              counts, scores, &err) != 0) {
            fprintf(stderr, "fuzz_request: cannot calibrate: %s\n", err.msg);
            abort();
        }
    }
    if (profile_build(&f->profile, &table, PROFILE_BINS, &err) != 0) {
        fprintf(stderr, "fuzz_request: cannot profile: %s\n", err.msg);
        abort();
    }
    dataset_release(&table);
    series_spec_release(&spec);
    series_data_release(&raw);
    return f;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    struct registry_config cfg = {"/nonexistent", NULL, 0, NULL};
    struct registry_config ccfg = {"/nonexistent", NULL, 0, "candidate"};
    struct fr_error err = {{0}};
    struct serving *m;
    struct model *cand;

    (void)argc;
    (void)argv;
    if (registry_init(&registry, &cfg, &err) != 0 ||
        registry_init(&candidate, &ccfg, &err) != 0)
        abort();
    /* The same forest with its first leaf moved: shadow's differences
     * are not all zero. */
    cand = train();
    cand->forest->trees[0].nodes[cand->forest->trees[0].n_nodes - 1].value +=
        1.0f;
    m = serving_new(cand, "fuzz-candidate", 1, "fuzz", NULL, 0, &err);
    if (m == NULL) {
        fprintf(stderr, "fuzz_request: %s\n", err.msg);
        abort();
    }
    registry_install(&candidate, m);
    m = serving_new(train(), "fuzz", 0, "fuzz", NULL, 0, &err);
    if (m == NULL) {
        fprintf(stderr, "fuzz_request: %s\n", err.msg);
        abort();
    }
    registry_install(&registry, m);
    stats_init(&stats);
    app.registry = &registry;
    app.stats = &stats;
    app.model_name = "forest";
    app.max_batch_rows = 1000;
    app.max_horizon = 366;
    app.max_explain_rows = 100;
    app.shadow_max_rows = 16;
    if (drift_init(&drift, 64, &err) != 0)
        abort();
    app.drift = &drift;
    atomic_init(&app.draining, 0);
    scratch_init(&scratch);
    buf_init(&out);
    buf_init(&plain);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const enum encoding ENC[4] = {ENCODING_IDENTITY, ENCODING_GZIP,
                                         ENCODING_DEFLATE,
                                         ENCODING_IDENTITY};
    static const enum candidate_mode MODE[4] = {
        CANDIDATE_OFF, CANDIDATE_SHADOW, CANDIDATE_CANARY, CANDIDATE_CANARY};
    const char *url = "/predict", *method = "POST", *header = NULL, *body;
    char request_id[65], *rid = NULL;
    char *exact = NULL; /* the decoded body, exactly its size */
    struct fr_error err = {{0}};
    char header_text[8];
    struct reply r;
    cJSON *answer;
    size_t len;
    int status;

    if (size < 4)
        return 0;
    if (data[0] == 'f')
        url = "/forecast";
    else if (data[0] == 'i')
        url = "/v2/models/forest/infer";
    else if (data[0] == 'd') {
        url = "/drift";
        method = "GET";
    } else if (data[0] == 'c') {
        url = "/model/candidate";
        method = "GET";
    }
    app.candidate_mode = MODE[(data[1] >> 3) & 3];
    app.candidate = app.candidate_mode != CANDIDATE_OFF ? &candidate : NULL;
    app.canary_percent = ((data[1] >> 3) & 3) == 3 ? 100 : 50;
    if (data[1] & 32) {
        size_t k = 0;
        while (k < size - 4 && k < sizeof request_id - 1 && data[4 + k])
            k++;
        memcpy(request_id, data + 4, k);
        request_id[k] = '\0';
        rid = request_id;
    }
    if (data[1] & 4) {
        snprintf(header_text, sizeof header_text, "%u",
                 (unsigned)data[2] | (unsigned)data[3] << 8);
        header = header_text;
    }
    buf_reset(&out);
    buf_reset(&plain);
    scratch_reset(&scratch);
    /* The body is passed without a terminating NUL, as a chunk of the
     * fuzzer's exact-size buffer, so an over-read is caught by ASan. */
    body = (const char *)data + 4;
    len = size - 4;
    if (ENC[data[1] & 3] != ENCODING_IDENTITY) {
        status = encoding_decode(ENC[data[1] & 3], body, len, 1 << 20,
                                 &plain, room, NULL, &err);
        if (status != 0) {
            if (status != 400 && status != 413) {
                fprintf(stderr, "decode status %d: %s\n", status, err.msg);
                abort();
            }
            return 0;
        }
        /* An exact-size copy, so ASan sees an over-read of the decoded
         * body too (plain has spare room and a NUL after it). */
        exact = malloc(plain.len > 0 ? plain.len : 1);
        if (exact == NULL)
            return 0;
        memcpy(exact, plain.data, plain.len);
        body = exact;
        len = plain.len;
    }
    handlers_serve(&app, method, url, header, rid, body, len, &scratch, &out,
                   &r);
    free(exact);
    exact = NULL;
    if (r.status != 200 && r.status != 400 && r.status != 422 &&
        !(r.status == 404 && data[0] == 'c' &&
          app.candidate_mode == CANDIDATE_OFF)) {
        fprintf(stderr, "status %d: %s\n", r.status, out.data);
        abort();
    }
    /* A binary answer's JSON is its first json_len bytes. */
    answer = cJSON_ParseWithLength(out.data, r.json_len > 0 ? r.json_len :
                                                            out.len);
    if (answer == NULL ||
        (r.status != 200 && !cJSON_IsString(cJSON_GetObjectItemCaseSensitive(
                                answer, "error")))) {
        fprintf(stderr, "status %d, not the promised JSON: %s\n", r.status,
                out.data);
        abort();
    }
    cJSON_Delete(answer);
    return 0;
}
