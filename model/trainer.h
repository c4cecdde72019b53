/*
 * trainer.h: the pieces of forest-train (model/).
 *
 * main.c reads the settings and picks a command; train.c runs the pipeline
 * (data -> features -> split -> forest -> evaluation -> model store);
 * metadata.c and report.c write metadata.json and report.svg.
 */
#ifndef FR_TRAINER_H
#define FR_TRAINER_H

#include <stddef.h>

#include "dataset.h"
#include "error.h"
#include "forest.h"
#include "metrics.h"
#include "model.h"

/* Exit statuses, documented in the README and relied on by the Job's
 * podFailurePolicy: a gate refusal must not be retried. */
enum {
    EXIT_TRAINED = 0,      /* trained; promoted (or shard written) */
    EXIT_ERROR = 1,        /* bad data, unwritable store, ... */
    EXIT_USAGE = 2,        /* bad setting or command line */
    EXIT_NOT_PROMOTED = 3  /* trained and kept, but the gate refused it */
};

struct train_settings {
    const char *data_path;    /* NULL: synthetic data */
    const char *data_mode;    /* "series" or "tabular" */
    const char *date_column, *target_column, *series_column;
    const char *model_dir, *model_version;
    const char *shard_run;    /* groups the shards of one run */
    const char *out;          /* output file of synth and table */
    const char *as_of;        /* last synthetic day, NULL = today (UTC) */
    unsigned long long n_estimators, max_depth, min_samples_leaf, max_bins;
    unsigned long long seed, n_threads, keep_versions;
    unsigned long long synth_series, synth_days;
    unsigned long long shard_index, shard_count;
    double max_features, test_fraction, promote_max_regression;
    int oob_score;
    int quiet;
};

/* What evaluation found on the test split. */
struct evaluation {
    struct metrics model;
    struct metrics baseline;
    const char *baseline_name; /* "seasonal_naive_7" or "train_mean" */
    double *predicted;         /* test rows' predictions, owned */
    size_t train_rows, test_rows;
    double train_seconds;      /* forest growth, wall clock */
    double total_seconds;      /* since the program started */
    long peak_rss_kb;
};

/* What the model learned from: a file (its size and CRC-32, so a later
 * reader can tell whether the same bytes would train the same model) or
 * the synthetic generator (its settings, AS_OF included). */
struct data_origin {
    int synthetic;
    unsigned long long bytes;  /* file size */
    unsigned crc;              /* CRC-32 of the file */
    char as_of[16];            /* last synthetic day, YYYY-MM-DD */
};

/* Everything metadata.json records besides the forest itself. */
struct run_info {
    const struct train_settings *settings;
    const char *version;
    const char *created_at;    /* ISO 8601 UTC */
    const char *data_source;   /* a path or "synthetic" */
    const struct data_origin *origin;
    int series_mode;
    size_t model_bytes;
    unsigned model_crc;
    const struct evaluation *eval;
    const struct dataset *test; /* for the report */
};

/* The commands; each returns an exit status and prints its own errors. */
int trainer_train(const struct train_settings *s);
int trainer_merge(const struct train_settings *s);
int trainer_promote(const struct train_settings *s);
int trainer_synth(const struct train_settings *s);
int trainer_table(const struct train_settings *s);

/* Writes metadata.json. Returns 0 or -1 with err set. */
int metadata_write(const char *path, const struct model *m,
                   const struct run_info *info, struct fr_error *err);

/* Writes report.svg: actual vs predicted over the test period and the
 * feature importances. Returns 0 or -1 with err set. */
int report_write(const char *path, const struct forest *f,
                 const struct run_info *info, struct fr_error *err);

#endif
