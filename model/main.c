/*
 * main.c: forest-train, the training program of the Mini ML Platform.
 *
 * Reads settings from the environment (the ConfigMap's keys) and
 * --long-flags, then runs one command:
 *
 *   forest-train [train]        train, evaluate, store and promote a model
 *   forest-train merge          join the shards of a SHARD_RUN and promote
 *   forest-train promote        point PROMOTE_TO at MODEL_VERSION (rollback),
 *                               or without it make the candidate current
 *   forest-train clear-candidate  remove the `candidate` pointer
 *   forest-train copy-store     copy MODEL_DIR into COPY_TO (verified)
 *   forest-train export --out F write a version as an XGBoost model
 *   forest-train synth --out F  write the synthetic series as CSV
 *   forest-train table --out F  write the feature table the model sees
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "forest.h"
#include "trainer.h"

static struct train_settings S;

/* The one list of settings: parsing, ranges and --help all come from it. */
static const struct config_option OPTIONS[] = {
    {"DATA_PATH", CONFIG_STRING, NULL,
     "CSV to train on; unset = built-in synthetic demand data", &S.data_path,
     0, 0, NULL},
    {"DATA_MODE", CONFIG_STRING, "series",
     "series: build lag/rolling/calendar features from a date column; "
     "tabular: every column but the target is a feature", &S.data_mode, 0, 0,
     "series|tabular"},
    {"DATE_COLUMN", CONFIG_STRING, "date", "date column (YYYY-MM-DD), series",
     &S.date_column, 0, 0, NULL},
    {"TARGET_COLUMN", CONFIG_STRING, "demand", "column to predict",
     &S.target_column, 0, 0, NULL},
    {"SERIES_COLUMN", CONFIG_STRING, "series",
     "series id column, series mode; absent from the file = one series",
     &S.series_column, 0, 0, NULL},
    {"MODEL_DIR", CONFIG_STRING, "/models",
     "model store: versions/<v>/, current -> versions/<v>", &S.model_dir, 0,
     0, NULL},
    {"MODEL_VERSION", CONFIG_STRING, NULL,
     "train, merge: name of the new version; unset = UTC time when stored, "
     "e.g. 20261127T213000Z (-2, -3... if taken); promote: the version to "
     "point current at; export: the version to export, unset = current",
     &S.model_version, 0, 0, NULL},
    {"N_ESTIMATORS", CONFIG_UINT, "100", "trees in the forest",
     &S.n_estimators, 1, FOREST_MAX_TREES, NULL},
    {"MAX_DEPTH", CONFIG_UINT, "10", "maximum tree depth (root = 0)",
     &S.max_depth, 1, FOREST_MAX_DEPTH, NULL},
    {"MIN_SAMPLES_LEAF", CONFIG_UINT, "1", "minimum distinct rows in a leaf",
     &S.min_samples_leaf, 1, FOREST_MAX_MIN_SAMPLES_LEAF, NULL},
    {"MAX_FEATURES", CONFIG_DOUBLE, "1.0",
     "fraction of features tried at each split (scikit-learn's regressor "
     "default 1.0)", &S.max_features, 1e-9, 1, NULL},
    {"MAX_BINS", CONFIG_UINT, "256",
     "histogram bins per feature (split candidates)", &S.max_bins, 2,
     FOREST_MAX_BINS, NULL},
    {"SEED", CONFIG_UINT, "42", "random seed: same seed, same model",
     &S.seed, 0, 9.2e18, NULL},
    {"N_THREADS", CONFIG_UINT, "0", "training threads; 0 = all cores",
     &S.n_threads, 0, 1024, NULL},
    {"TEST_FRACTION", CONFIG_DOUBLE, "0.2",
     "last fraction of time held out for testing", &S.test_fraction, 0.001,
     0.9, NULL},
    {"PROMOTE_MAX_REGRESSION", CONFIG_DOUBLE, "0.1",
     "promote only if the new model's error <= the current model's x "
     "(1 + this), both scored on the same held-out days neither learned",
     &S.promote_max_regression, 0, 1e9, NULL},
    {"GATE_MIN_ROWS", CONFIG_UINT, "0",
     "held-out days newer than the current model's training needed to "
     "compare; fewer promotes with a warning; 0 = one week of every series",
     &S.gate_min_rows, 0, 1e12, NULL},
    {"GATE_ON_INCOMPATIBLE", CONFIG_STRING, "promote",
     "when the current model cannot score the new data (other features or "
     "mode): promote with a warning, or refuse (exit 3)",
     &S.gate_on_incompatible, 0, 0, "promote|refuse"},
    {"FORECAST_HORIZON", CONFIG_UINT, "14",
     "series: days ahead the backtest scores and the intervals calibrate",
     &S.forecast_horizon, 1, CALIBRATION_MAX_HORIZONS, NULL},
    {"FORECAST_STRATEGY", CONFIG_STRING, "direct",
     "series: direct (one row per origin and day ahead, every feature "
     "known at the origin) or recursive (one model of the next day, its "
     "forecasts fed back as lags: the format-2 models' way)",
     &S.forecast_strategy, 0, 0, "direct|recursive"},
    {"DIRECT_MAX_ROWS", CONFIG_UINT, "0",
     "series, direct: (origin, day ahead) rows a forest learns at most, a "
     "seeded sample when there are more; 0 = 2 per day of data, at least "
     "30000",
     &S.direct_max_rows, 0, 1e12, NULL},
    {"REFIT", CONFIG_STRING, NULL,
     "after evaluation, learn every row for the published model; unset = "
     "true in series mode, false in tabular mode",
     &S.refit, 0, 0, "true|false"},
    {"PROMOTE_TO", CONFIG_STRING, "current",
     "the pointer train, merge and promote move: current (through the "
     "gate), or candidate (no gate: servers shadow or canary it)",
     &S.promote_to, 0, 0, "current|candidate"},
    {"KEEP_VERSIONS", CONFIG_UINT, "5",
     "versions kept on the volume (the current one, the candidate and "
     "the one just written always stay)",
     &S.keep_versions, 1, 10000, NULL},
    {"SYNTH_SERIES", CONFIG_UINT, "20", "synthetic data: store x item series",
     &S.synth_series, 1, 1e6, NULL},
    {"SYNTH_DAYS", CONFIG_UINT, "730", "synthetic data: days per series",
     &S.synth_days, 30, 1e5, NULL},
    {"AS_OF", CONFIG_STRING, NULL,
     "synthetic data: last day generated (YYYY-MM-DD); unset = today, UTC, "
     "so each run sees the days since the last", &S.as_of, 0, 0, NULL},
    {"OOB_SCORE", CONFIG_BOOL, "false", "also compute the out-of-bag RMSE",
     &S.oob_score, 0, 0, NULL},
    {"SHARD_INDEX", CONFIG_UINT, "0",
     "this pod's shard (default: JOB_COMPLETION_INDEX of an Indexed Job)",
     &S.shard_index, 0, 100000, NULL},
    {"SHARD_COUNT", CONFIG_UINT, "1",
     "shards the forest is split into; > 1 writes a shard, see merge",
     &S.shard_count, 1, 100000, NULL},
    {"SHARD_RUN", CONFIG_STRING, "shards",
     "name grouping one run's shards under MODEL_DIR/shards/", &S.shard_run,
     0, 0, NULL},
    {"COPY_TO", CONFIG_STRING, NULL,
     "copy-store: the store to copy MODEL_DIR into (a directory or "
     "s3://bucket/prefix)", &S.copy_to, 0, 0, NULL},
    {"OUT", CONFIG_STRING, NULL,
     "output of synth, table and export: a file ('-': standard output; "
     "export: also s3://bucket/key)", &S.out, 0, 0, NULL},
    {"EXPORT_FORMAT", CONFIG_STRING, "xgboost",
     "export: the format written, XGBoost's JSON model (1.7)",
     &S.export_format, 0, 0, "xgboost"},
    {"QUIET", CONFIG_BOOL, "false", "print errors only", &S.quiet, 0, 0,
     NULL},
};

#define N_OPTIONS (sizeof OPTIONS / sizeof OPTIONS[0])

static void usage(FILE *fp)
{
    fprintf(fp,
            "usage: forest-train [train|merge|promote|clear-candidate|"
            "copy-store|export|synth|table] "
            "[--flag value]...\n"
            "\n"
            "Trains a random-forest regressor and publishes it to the model "
            "store.\n"
            "  train   (default) train, evaluate, write MODEL_DIR/versions/<v>/,"
            " promote\n"
            "  merge   join MODEL_DIR/shards/SHARD_RUN/*.bin, evaluate, "
            "promote\n"
            "  promote point PROMOTE_TO at --model-version V, e.g. to roll "
            "back;\n"
            "          without V, make the candidate current\n"
            "  clear-candidate  remove MODEL_DIR/candidate (the version "
            "stays)\n"
            "  copy-store  copy MODEL_DIR's versions and current to "
            "--copy-to STORE,\n"
            "          each model verified (a directory or s3://)\n"
            "  export  write --model-version V (default: current) to --out "
            "FILE as an\n"
            "          XGBoost JSON model (--export-format xgboost)\n"
            "  synth   write the synthetic series to --out FILE\n"
            "  table   write the feature table to --out FILE (for tabular "
            "mode)\n"
            "\n"
            "Settings (environment variable or flag; flags win):\n");
    config_usage(fp, OPTIONS, N_OPTIONS);
    fprintf(fp, "\nExit status: 0 trained and promoted (or shard written, "
            "or exported), 1 error,\n2 bad setting (or promote without "
            "MODEL_VERSION and no candidate),\n3 trained but not promoted by "
            "the gate, 4 export: the model cannot be expressed\nin "
            "EXPORT_FORMAT (e.g. a series model predicting relative to a "
            "level).\n");
}

int main(int argc, char **argv)
{
    struct fr_error err = {{0}};
    const char *command = "train";
    int positional[1], n_pos;

    for (int a = 1; a < argc; a++) {
        if (strcmp(argv[a], "--help") == 0 || strcmp(argv[a], "-h") == 0) {
            usage(stdout);
            return 0;
        }
        if (strcmp(argv[a], "--version") == 0) {
            printf("forest-train %s\n", FR_VERSION);
            return 0;
        }
    }
    /* An Indexed Job tells each pod its index; it is the default shard. */
    {
        const char *shard = getenv("SHARD_INDEX");
        const char *index = getenv("JOB_COMPLETION_INDEX");
        if ((shard == NULL || *shard == '\0') && index != NULL)
            setenv("SHARD_INDEX", index, 1);
    }
    n_pos = config_load(OPTIONS, N_OPTIONS, argc, argv, 1, positional, 1,
                        &err);
    if (n_pos < 0) {
        fprintf(stderr, "forest-train: error: %s\n", err.msg);
        return EXIT_USAGE;
    }
    if (n_pos == 1)
        command = argv[positional[0]];
    if ((strcmp(command, "synth") == 0 || strcmp(command, "table") == 0 ||
         strcmp(command, "export") == 0) &&
        S.out == NULL) {
        fprintf(stderr, "forest-train: error: '%s' needs --out FILE\n",
                command);
        return EXIT_USAGE;
    }
    if (strcmp(command, "train") == 0 || strcmp(command, "merge") == 0 ||
        strcmp(command, "table") == 0) {
        char local[4096];
        int status;
        if (trainer_data_fetch(&S, local, sizeof local, &err) != 0) {
            fprintf(stderr, "forest-train: error: %s\n", err.msg);
            if (local[0] != '\0')
                unlink(local); /* a partial download */
            return EXIT_ERROR;
        }
        status = strcmp(command, "train") == 0   ? trainer_train(&S)
                 : strcmp(command, "merge") == 0 ? trainer_merge(&S)
                                                 : trainer_table(&S);
        if (local[0] != '\0')
            unlink(local);
        return status;
    }
    if (strcmp(command, "promote") == 0)
        return trainer_promote(&S);
    if (strcmp(command, "clear-candidate") == 0)
        return trainer_clear_candidate(&S);
    if (strcmp(command, "copy-store") == 0)
        return trainer_copy_store(&S);
    if (strcmp(command, "export") == 0)
        return trainer_export(&S);
    if (strcmp(command, "synth") == 0)
        return trainer_synth(&S);
    if (strcmp(command, "table") == 0)
        return trainer_table(&S);
    fprintf(stderr, "forest-train: error: unknown command '%s' (train, merge, "
            "promote, clear-candidate, copy-store, export, synth or table; "
            "see --help)\n", command);
    return EXIT_USAGE;
}
