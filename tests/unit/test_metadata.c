/*
 * test_metadata.c: metadata.json as the trainer writes it (model/metadata.c).
 *
 * The promotion gate reads metrics.rmse back from this file, so a key that
 * cJSON failed to add must fail the write rather than vanish. The test runs
 * metadata_write once with every cJSON allocation failing in turn (cJSON's
 * allocation hooks) and checks each run either fails with no file written,
 * or succeeds only when no allocation failed.
 */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dataset.h"
#include "model.h"
#include "test.h"
#include "trainer.h"

static long alloc_count;   /* cJSON allocations so far in this run */
static long alloc_fail_at; /* the allocation that fails; -1: none */
static int alloc_failed;   /* whether it was reached */

static void *failing_malloc(size_t n)
{
    if (alloc_count++ == alloc_fail_at) {
        alloc_failed = 1;
        return NULL;
    }
    return malloc(n);
}

/* Returns metadata_write's result with allocation number fail_at failing. */
static int write_with_failure(const char *path, const struct model *f,
                              const struct run_info *info, long fail_at)
{
    cJSON_Hooks hooks = {failing_malloc, free};
    struct fr_error err = {{0}};
    int rc;

    alloc_count = 0;
    alloc_fail_at = fail_at;
    alloc_failed = 0;
    cJSON_InitHooks(&hooks);
    rc = metadata_write(path, f, info, &err);
    cJSON_InitHooks(NULL);
    return rc;
}

void test_metadata(void)
{
    struct dataset rows;
    struct model *f = test_small_series_model(&rows);
    struct train_settings s = {.target_column = "demand", .test_fraction = 0.2};
    struct evaluation ev = {.baseline_name = "seasonal_naive_7",
                            .train_rows = 100, .test_rows = 20};
    struct run_info info = {.settings = &s, .version = "v1",
                            .created_at = "2026-01-01T00:00:00Z",
                            .data_source = "synthetic", .series_mode = 1,
                            .model_bytes = 1234, .model_crc = 0xdeadbeef,
                            .eval = &ev};
    char path[512];
    long k, failures_seen = 0, silent = 0, left_files = 0;
    int rc = -1;

    ev.model.rmse = 3.25;
    ev.model.n = 20;
    ev.baseline.rmse = 4.5;
    snprintf(path, sizeof path, "%s/metadata.json", test_temp_dir());

    for (k = 0; k < 100000; k++) {
        unlink(path);
        rc = write_with_failure(path, f, &info, k);
        if (!alloc_failed)
            break;
        failures_seen++;
        silent += rc == 0;
        left_files += access(path, F_OK) == 0;
    }
    test_cond("meta-1.1 a run with no failed allocation succeeds", rc == 0);
    test_cond("meta-1.2 every cJSON allocation of the write was made to fail",
              failures_seen > 30);
    test_cond("meta-1.3 a failed allocation always fails the write", silent == 0);
    test_cond("meta-1.4 ... and leaves no metadata.json behind", left_files == 0);

    {
        FILE *fp = fopen(path, "r");
        char buf[16384];
        size_t n = fp ? fread(buf, 1, sizeof buf - 1, fp) : 0;
        cJSON *doc, *rmse, *sum;

        if (fp)
            fclose(fp);
        buf[n] = '\0';
        doc = cJSON_Parse(buf);
        rmse = cJSON_GetObjectItemCaseSensitive(
            cJSON_GetObjectItemCaseSensitive(doc, "metrics"), "rmse");
        sum = cJSON_GetObjectItemCaseSensitive(doc, "checksum");
        test_cond("meta-1.5 metrics.rmse is written as a number",
                  cJSON_IsNumber(rmse) && rmse->valuedouble == 3.25);
        test_cond("meta-1.6 checksum names model.bin's crc32",
                  cJSON_IsString(sum) &&
                      strcmp(sum->valuestring, "crc32:deadbeef") == 0);
        cJSON_Delete(doc);
    }
    dataset_release(&rows);
    model_free(f);
}
