/*
 * test.h: the unit tests' tiny runner (after redis' testhelp.h).
 *
 * test_cond("name", expr) records one check and prints it when it fails
 * (or always with -v); main() prints "N passed, N failed" at the end.
 */
#ifndef FR_TEST_H
#define FR_TEST_H

#include <stdio.h>

extern int test_passed, test_failed, test_verbose;

#define test_cond(name, cond)                                                 \
    do {                                                                      \
        if (cond) {                                                           \
            test_passed++;                                                    \
            if (test_verbose)                                                 \
                printf("  ok    %s\n", name);                                 \
        } else {                                                              \
            test_failed++;                                                    \
            printf("  FAIL  %s  (%s:%d: %s)\n", name, __FILE__, __LINE__,     \
                   #cond);                                                    \
        }                                                                     \
    } while (0)

/* Each test file registers one suite function. */
void test_data(void);
void test_forest(void);
void test_model(void);
void test_store(void);
void test_metadata(void);
void test_explain(void);
void test_xgboost(void);

struct dataset;
struct model;
/* A 5-tree series model on a small synthetic data set, with a feature
 * profile and a 2-horizon calibration, and its feature table in *rows; the
 * caller frees both (test_model.c). */
struct model *test_small_series_model(struct dataset *rows);

/* Writes text to a new file in the temporary directory and returns its
 * path, in a static buffer that the next call overwrites: copy it to keep
 * it. Exits the test program if the file cannot be written. */
const char *test_write_temp(const char *name, const char *text);

/* A fresh temporary directory for this process. */
const char *test_temp_dir(void);

#endif
