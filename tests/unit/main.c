/*
 * main.c: runs every unit-test suite and prints "N passed, N failed".
 *
 * Usage: test-unit [-v] [suite...]   (suites: data forest model store metadata
 *        explain xgboost)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "store.h"
#include "test.h"

int test_passed, test_failed, test_verbose;

static char temp_dir[256];

const char *test_temp_dir(void)
{
    if (temp_dir[0] == '\0') {
        snprintf(temp_dir, sizeof temp_dir, "/tmp/forest-unit-XXXXXX");
        if (mkdtemp(temp_dir) == NULL) {
            perror("mkdtemp");
            exit(2);
        }
    }
    return temp_dir;
}

const char *test_write_temp(const char *name, const char *text)
{
    static char path[512];
    FILE *fp;

    snprintf(path, sizeof path, "%s/%s", test_temp_dir(), name);
    fp = fopen(path, "w");
    if (fp == NULL) {
        perror(path);
        exit(2);
    }
    fputs(text, fp);
    fclose(fp);
    return path;
}

static const struct {
    const char *name;
    void (*fn)(void);
} SUITES[] = {
    {"data", test_data},
    {"forest", test_forest},
    {"model", test_model},
    {"store", test_store},
    {"metadata", test_metadata},
    {"explain", test_explain},
    {"xgboost", test_xgboost},
};

int main(int argc, char **argv)
{
    int selected = 0;

    for (int a = 1; a < argc; a++) {
        if (strcmp(argv[a], "-v") == 0)
            test_verbose = 1;
        else
            selected = 1;
    }
    for (size_t i = 0; i < sizeof SUITES / sizeof SUITES[0]; i++) {
        int run = !selected;
        for (int a = 1; a < argc; a++)
            run |= strcmp(argv[a], SUITES[i].name) == 0;
        if (!run)
            continue;
        printf("unit: %s\n", SUITES[i].name);
        SUITES[i].fn();
    }
    if (temp_dir[0] != '\0')
        store_remove_tree(temp_dir);
    printf("%d passed, %d failed\n", test_passed, test_failed);
    return test_failed ? 1 : 0;
}
