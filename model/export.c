/*
 * export.c: forest-train export, a stored version in another program's
 * model format, so other servers (Triton's FIL backend, KServe's XGBoost
 * server) can serve it.
 *
 * One format today, EXPORT_FORMAT=xgboost (libforest/xgboost.h). The
 * version comes from the store through its API, so a directory or an
 * s3:// MODEL_DIR both work, and OUT is written whole or not at all: a
 * file through a temporary file and a rename, an s3:// object by one PUT,
 * "-" to standard output.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store.h"
#include "trainer.h"
#include "xgboost.h"

static void say(const struct train_settings *s, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* A progress line; on standard error when the model goes to standard
 * output, so that stays a clean document. */
static void say(const struct train_settings *s, const char *fmt, ...)
{
    FILE *to = strcmp(s->out, "-") == 0 ? stderr : stdout;
    va_list ap;

    if (s->quiet)
        return;
    va_start(ap, fmt);
    fputs("forest-train: ", to);
    vfprintf(to, fmt, ap);
    fputc('\n', to);
    fflush(to);
    va_end(ap);
}

/* Loads versions/<version>/model.bin of MODEL_DIR. Returns the model, or
 * NULL with err set ("MODEL_DIR '/models' has no version 'v9'" when its
 * model.bin does not exist). */
static struct model *load_version(const char *model_dir, const char *version,
                                  struct fr_error *err)
{
    char path[4096];
    uint8_t *buf = NULL;
    size_t len = 0;
    struct model *m = NULL;
    int rc;

    if ((size_t)snprintf(path, sizeof path, "%s/versions/%s/model.bin",
                         model_dir, version) >= sizeof path) {
        fr_error_set(err, "path too long under '%s'", model_dir);
        return NULL;
    }
    rc = store_read(path, MODEL_MAX_BYTES, &buf, &len, err);
    if (rc == 1)
        fr_error_set(err, "MODEL_DIR '%s' has no version '%s' (no %s)",
                     model_dir, version, path);
    if (rc != 0)
        goto out;
    m = model_decode(buf, len, NULL, err);
    if (m == NULL)
        fr_error_prefix(err, "cannot load model '%s'", path);
out:
    free(buf);
    return m;
}

int trainer_export(const struct train_settings *s)
{
    struct fr_error err = {{0}};
    char version[STORE_VERSION_MAX + 1];
    struct model *m = NULL;
    char *json = NULL;
    size_t len = 0;
    int status = EXIT_ERROR;

    /* main() checked OUT is set; config_load that EXPORT_FORMAT is one
     * this build writes. */
    if (s->model_version != NULL) {
        if (!store_version_valid(s->model_version)) {
            fprintf(stderr, "forest-train: error: invalid MODEL_VERSION "
                    "'%s': a version name is 1-100 characters of "
                    "[A-Za-z0-9._-], not starting with a dot\n",
                    s->model_version);
            return EXIT_USAGE;
        }
        snprintf(version, sizeof version, "%s", s->model_version);
    } else {
        int rc = store_current(s->model_dir, version, &err);
        if (rc < 0)
            goto fail;
        if (rc == 0) {
            fr_error_set(&err, "MODEL_DIR '%s' has no current version; "
                         "name one with MODEL_VERSION (--model-version)",
                         s->model_dir);
            goto fail;
        }
    }
    m = load_version(s->model_dir, version, &err);
    if (m == NULL)
        goto fail;
    if (xgboost_check(m, &err) != 0) {
        fprintf(stderr, "forest-train: error: cannot export version '%s' "
                "to XGBoost: %s\n", version, err.msg);
        status = EXIT_NOT_EXPORTABLE;
        goto out;
    }
    if (xgboost_encode(m, version, &json, &len, &err) != 0)
        goto fail;
    if (!xgboost_has_cover(m))
        fprintf(stderr, "forest-train: warning: version '%s' is a format-%u "
                "file, which keeps no node cover: XGBoost predicts what it "
                "does, but its pred_contribs are NaN; retrain with this "
                "release for them\n", version, m->format_version);
    if (strcmp(s->out, "-") == 0) {
        if (fwrite(json, 1, len, stdout) != len || fflush(stdout) != 0) {
            fr_error_set(&err, "cannot write the model to standard output");
            goto fail;
        }
    } else if (store_write(s->out, json, len, &err) != 0) {
        goto fail;
    }
    if (strcmp(s->out, "-") == 0)
        say(s, "exported version %s (%u trees, %u features) as an XGBoost "
            "model to standard output, %zu bytes", version,
            m->forest->n_trees, m->forest->n_features, len);
    else
        say(s, "exported version %s (%u trees, %u features) as an XGBoost "
            "model to '%s', %zu bytes", version, m->forest->n_trees,
            m->forest->n_features, s->out, len);
    status = EXIT_TRAINED;
    goto out;
fail:
    fflush(stdout);
    fprintf(stderr, "forest-train: error: %s\n", err.msg);
out:
    free(json);
    model_free(m);
    return status;
}
