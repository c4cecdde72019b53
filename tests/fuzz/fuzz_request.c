/*
 * fuzz_request.c: libFuzzer target for the request bodies of /predict,
 * /forecast and the V2 infer endpoint, through handlers_dispatch(), the
 * same function the HTTP server calls.
 *
 * The first byte picks the endpoint ('f' forecast, 'i' infer, anything
 * else predict); the rest is the body. A small series forest (promo and
 * holiday covariates, so every parser path is reachable) is trained once
 * at start-up from the library's synthetic data. Besides the sanitizers,
 * the oracle is the server's promise: never a 5xx, and always a JSON body,
 * with an "error" key when the status is not 200.
 */
#include <cjson/cJSON.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dataset.h"
#include "forest.h"
#include "handlers.h"
#include "registry.h"
#include "series.h"
#include "stats.h"
#include "synth.h"

static struct registry registry;
static struct stats stats;
static struct app app;
static struct scratch scratch;
static struct buf out;

static struct forest *train(void)
{
    struct fr_error err = {{0}};
    struct series_data raw;
    struct series_spec spec;
    struct dataset table;
    struct forest_params p;
    struct forest *f;

    memset(&raw, 0, sizeof raw);
    memset(&spec, 0, sizeof spec);
    if (synth_generate(2, 90, 42, &raw, &err) != 0 ||
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
    f = forest_train(&table, &spec, &p, NULL, NULL, &err);
    if (f == NULL) {
        fprintf(stderr, "fuzz_request: cannot train: %s\n", err.msg);
        abort();
    }
    dataset_release(&table);
    series_spec_release(&spec);
    series_data_release(&raw);
    return f;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    struct registry_config cfg = {"/nonexistent", NULL, 0};
    struct fr_error err = {{0}};
    struct model *m;

    (void)argc;
    (void)argv;
    if (registry_init(&registry, &cfg, &err) != 0)
        abort();
    m = model_new(train(), "fuzz", 0, "fuzz", NULL, 0, &err);
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
    atomic_init(&app.draining, 0);
    scratch_init(&scratch);
    buf_init(&out);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *url = "/predict";
    struct reply r;
    cJSON *answer;

    if (size < 1)
        return 0;
    if (data[0] == 'f')
        url = "/forecast";
    else if (data[0] == 'i')
        url = "/v2/models/forest/infer";
    buf_reset(&out);
    scratch_reset(&scratch);
    /* The body is passed without a terminating NUL, as a chunk of the
     * fuzzer's exact-size buffer, so an over-read is caught by ASan. */
    handlers_dispatch(&app, "POST", url, (const char *)data + 1, size - 1,
                      &scratch, &out, &r);
    if (r.status != 200 && r.status != 400 && r.status != 422) {
        fprintf(stderr, "status %d: %s\n", r.status, out.data);
        abort();
    }
    answer = cJSON_ParseWithLength(out.data, out.len);
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
