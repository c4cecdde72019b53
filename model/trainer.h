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
#include "store.h"

/* Exit statuses, documented in the README and relied on by the Job's
 * podFailurePolicy: a gate refusal must not be retried. */
enum {
    EXIT_TRAINED = 0,      /* trained; promoted (or shard written) */
    EXIT_ERROR = 1,        /* bad data, unwritable store, ... */
    EXIT_USAGE = 2,        /* bad setting or command line */
    EXIT_NOT_PROMOTED = 3, /* trained and kept, but the gate refused it */
    EXIT_NOT_EXPORTABLE = 4 /* export: the model cannot be expressed in
                               EXPORT_FORMAT (xgboost_check) */
};

struct train_settings {
    const char *data_path;    /* NULL: synthetic data; a local file */
    const char *data_source;  /* what DATA_PATH said when it was s3://
                                 (data_path is then the downloaded copy),
                                 else NULL */
    const char *data_mode;    /* "series" or "tabular" */
    const char *date_column, *target_column, *series_column;
    const char *model_dir, *model_version;
    const char *shard_run;    /* groups the shards of one run */
    const char *copy_to;      /* copy-store's destination store */
    const char *out;          /* output of synth, table and export */
    const char *export_format; /* "xgboost" */
    const char *as_of;        /* last synthetic day, NULL = today (UTC) */
    unsigned long long n_estimators, max_depth, min_samples_leaf, max_bins;
    unsigned long long seed, n_threads, keep_versions;
    unsigned long long synth_series, synth_days;
    unsigned long long shard_index, shard_count;
    double max_features, test_fraction, promote_max_regression;
    unsigned long long forecast_horizon, gate_min_rows;
    const char *forecast_strategy; /* "direct" or "recursive" */
    unsigned long long direct_max_rows; /* 0: DIRECT_ROWS_PER_DAY x days */
    const char *refit;        /* "true", "false", NULL = series mode only */
    const char *gate_on_incompatible; /* "promote" or "refuse" */
    const char *promote_to;   /* "current" or "candidate": the pointer
                                 train, merge and promote move */
    int oob_score;
    int quiet;
};

/* The promotion gate's decision, as metadata.json records it under
 * "gate". */
struct gate {
    const char *metric;        /* "backtest_mae_mean" (series: the mean over
                                  horizons of each horizon's MAE) or
                                  "test_rmse" (tabular) */
    char champion_version[STORE_VERSION_MAX + 1]; /* "" without one */
    char champion_last_day[16]; /* the last day it learned (series) */
    double champion_score, challenger_score;
    double champion_rmse, challenger_rmse;
    size_t rows;               /* held-out days both were scored on */
    const char *decision;      /* promoted, refused, no_champion,
                                  too_few_rows, incompatible_promoted,
                                  incompatible_refused, candidate_no_gate
                                  (PROMOTE_TO=candidate: not run) */
    char reason[FR_ERROR_MAX + 128]; /* why too_few_rows or incompatible */
};

/* One point of the backtest: day origin + h - 1 of a series forecast at
 * horizon h from the actual days before origin. */
struct bt_point {
    uint32_t series;
    uint32_t h;          /* 1..horizon */
    int32_t origin;      /* the first forecast day */
    double actual;
    double forest;       /* the evaluated model's forecast */
    double naive;        /* seasonal naive: the same weekday of the last
                            week before the origin */
    double smean;        /* seasonal mean: the mean of that weekday over
                            the 4 weeks before the origin */
    double scale_level;  /* forecast_scale_level at the origin */
};

struct backtest {
    size_t horizon;
    struct bt_point *points;  /* by series, origin, horizon */
    size_t n_points, n_origins;
    double mase_scale;        /* mean |y[t] - y[t-7]| over training days */
    int32_t first_day, last_day; /* of the forecast days */
};

/* What evaluation found: the test split's one-day-ahead scores, and in
 * series mode the backtest and the intervals' measured coverage. */
struct evaluation {
    struct metrics model;
    struct metrics baseline;
    const char *baseline_name; /* "seasonal_naive_7" or "train_mean" */
    double *predicted;         /* test rows' predictions, owned */
    size_t train_rows, test_rows;
    double train_seconds;      /* forest growth, wall clock */
    double total_seconds;      /* since the program started */
    long peak_rss_kb;
    int has_backtest;
    struct backtest bt;        /* owned */
    double *coverage;          /* 2 x horizon: 80% then 90% intervals'
                                  coverage on the later origins, owned */
    int32_t calibration_until; /* origins before this day calibrated the
                                  coverage check; the rest scored it */
    size_t calibration_points, coverage_points;
    size_t folds, fold_points; /* calibration folds grown, their points */
    double scale_miss[2];      /* per calibration scale: mean squared
                                  distance from nominal of the folds'
                                  calibration on the earlier hold-out */
    struct gate gate;
    int refit;                 /* the published model learned every row */
    size_t learned_rows;       /* rows the published model learned */
    char last_day[16];         /* the last day it learned (series) */
    char test_first_day[16], test_last_day[16];
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
    const char *const *series_names; /* series mode: by series number */
    int series_mode;
    size_t model_bytes;
    unsigned model_crc;
    const struct evaluation *eval;
    const struct dataset *test; /* for the report */
};

/* Forecasts, from every held-out day of every series (records sorted by
 * series and day; cutoff[s] is series s's first held-out day, until[s] the
 * day its origins stop before, or no end when until is NULL) that has the
 * history the model and the baselines need, up to `horizon` days ahead,
 * through forecast_values. Returns 0, or -1 with err set (no memory, no
 * origin with enough history). */
int backtest_run(const struct model *m, const struct series_data *raw,
                 const int32_t *cutoff, const int32_t *until, size_t horizon,
                 size_t n_threads, struct backtest *bt, struct fr_error *err);

/* Mean absolute error per horizon of one forecaster (0 the forest, 1
 * seasonal naive, 2 seasonal mean) into mae[horizon] (NaN where a horizon
 * has no point); returns the mean over horizons. Cannot fail. */
double backtest_mae(const struct backtest *bt, int which, double *mae);

void backtest_release(struct backtest *bt);

/* What the gate compares the champion on. */
struct gate_data {
    int series_mode;
    const struct series_data *raw;  /* series: the sorted records */
    const int32_t *cutoff;          /* series: first held-out day each */
    const struct backtest *bt;      /* series: the challenger's backtest */
    const struct dataset *test;     /* tabular: the test rows */
    const double *test_pred;        /* tabular: the challenger's answers */
};

/* Scores the current version (`current`, "" or NULL for none) against the
 * challenger on rows neither learned and fills g: series models on the
 * backtest points whose day is after the champion's training.last_day,
 * tabular ones on the test rows. A champion that does not load or cannot
 * score this data is "incompatible_*" as GATE_ON_INCOMPATIBLE says.
 * Returns 0, or -1 with err set (a store or memory error). */
int gate_decide(const struct train_settings *s, const char *current,
                const struct gate_data *gd, struct gate *g,
                struct fr_error *err);

/* When DATA_PATH is s3://bucket/key, downloads the object (at most
 * DATA_MAX_BYTES) to a new file under TMPDIR, whose path is written into
 * local (len bytes), and points s->data_path at it, s->data_source at the
 * URL. Does nothing (local "") for any other DATA_PATH. Returns 0, or -1
 * with err set; the caller unlinks local when it is not "". */
#define DATA_MAX_BYTES (4ull << 30)
int trainer_data_fetch(struct train_settings *s, char *local, size_t len,
                       struct fr_error *err);

/* copy-store: copies every version of MODEL_DIR into COPY_TO (either a
 * directory or s3://), each model.bin decoded and checked against its
 * metadata.json's checksum before it is written and read back after, then
 * points COPY_TO's current where MODEL_DIR's points. A version already in
 * COPY_TO with the same model.bin is skipped; with another, it is an
 * error. Returns an exit status. */
int trainer_copy_store(const struct train_settings *s);

/* The commands; each returns an exit status and prints its own errors. */
int trainer_train(const struct train_settings *s);
int trainer_merge(const struct train_settings *s);
int trainer_promote(const struct train_settings *s);
/* clear-candidate: removes MODEL_DIR/candidate (its version stays). */
int trainer_clear_candidate(const struct train_settings *s);
int trainer_synth(const struct train_settings *s);
int trainer_table(const struct train_settings *s);

/* export: writes MODEL_VERSION (unset: the version `current` names) of
 * MODEL_DIR to OUT in EXPORT_FORMAT, whole or not at all. Returns
 * EXIT_TRAINED, EXIT_USAGE (an invalid version name), EXIT_NOT_EXPORTABLE
 * or EXIT_ERROR (no such version, unreadable store, unwritable OUT). */
int trainer_export(const struct train_settings *s);

/* Writes metadata.json. Returns 0 or -1 with err set. */
int metadata_write(const char *path, const struct model *m,
                   const struct run_info *info, struct fr_error *err);

/* Writes report.svg: actual vs predicted over the test period and the
 * feature importances. Returns 0 or -1 with err set. */
int report_write(const char *path, const struct forest *f,
                 const struct run_info *info, struct fr_error *err);

#endif
