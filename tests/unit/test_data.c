/*
 * test_data.c: CSV parsing, dates, the feature builder (no look-ahead),
 * the time-ordered split and the metrics.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "csvfile.h"
#include "dataset.h"
#include "metrics.h"
#include "radix.h"
#include "rng.h"
#include "series.h"
#include "synth.h"
#include "tabular.h"
#include "test.h"

static int contains(const char *haystack, const char *needle)
{
    return strstr(haystack, needle) != NULL;
}

/* Reads text as a tabular CSV; returns the status and leaves the error. */
static int read_tab(const char *text, struct dataset *ds, struct fr_error *err)
{
    char path[512];

    snprintf(path, sizeof path, "%s", test_write_temp("t.csv", text));
    memset(err, 0, sizeof *err);
    return tabular_read_csv(path, "y", ds, err);
}

/* read_tab for text holding a NUL byte: len bytes are written as they are. */
static int read_tab_bytes(const char *text, size_t len, struct dataset *ds,
                          struct fr_error *err)
{
    char path[512];
    FILE *fp;

    snprintf(path, sizeof path, "%s/nul.csv", test_temp_dir());
    fp = fopen(path, "wb");
    fwrite(text, 1, len, fp);
    fclose(fp);
    memset(err, 0, sizeof *err);
    return tabular_read_csv(path, "y", ds, err);
}

/* A random decimal in one of the forms a table holds: integers, fixed
 * point, exponents, signs, leading zeros, "5." and ".5". */
static void random_decimal(struct rng *r, char *out, size_t cap)
{
    static const char *signs[] = {"", "", "-", "+"};
    unsigned long long m = rng_next(r) >> (rng_below(r, 64) | 1);
    int form = (int)rng_below(r, 6);

    switch (form) {
    case 0:
        snprintf(out, cap, "%s%llu", signs[rng_below(r, 4)], m);
        break;
    case 1:
        snprintf(out, cap, "%s%llu.%0*llu", signs[rng_below(r, 4)],
                 m % 100000, (int)rng_below(r, 12) + 1,
                 (unsigned long long)rng_below(r, 1000000000));
        break;
    case 2:
        snprintf(out, cap, "%s%llue%d", signs[rng_below(r, 4)], m % 1000000,
                 (int)rng_below(r, 60) - 30);
        break;
    case 3:
        snprintf(out, cap, "%.9g", (rng_uniform(r) - 0.5) *
                                       pow(10.0, (int)rng_below(r, 40) - 20));
        break;
    case 4:
        snprintf(out, cap, "00%llu.", m % 1000);
        break;
    default:
        snprintf(out, cap, "-.%llu", m % 100000000);
        break;
    }
}

/* Two files of the same cells: plain (split in place by csvfile.c) and
 * with every cell quoted or padded with spaces (parsed by libcsv). */
static void test_csv_paths(void)
{
    size_t rows = 60000, cap = 64 * rows * 4;
    char *plain = malloc(cap), *quoted = malloc(cap);
    size_t lp = 0, lq = 0;
    struct dataset a, b;
    struct fr_error err;
    char path[512];
    struct rng r;
    int exact = 1, read_a, read_b;

    rng_seed(&r, 17, 0);
    lp += (size_t)snprintf(plain + lp, cap - lp, "a,b,c,y\n");
    lq += (size_t)snprintf(quoted + lq, cap - lq, "a,b,c,y\n");
    for (size_t i = 0; i < rows; i++) {
        for (int c = 0; c < 4; c++) {
            char cell[64];
            random_decimal(&r, cell, sizeof cell);
            if (fabs(strtod(cell, NULL)) > 1e30)
                snprintf(cell, sizeof cell, "%d", c);
            lp += (size_t)snprintf(plain + lp, cap - lp, "%s%s", cell,
                                   c < 3 ? "," : "\n");
            lq += (size_t)snprintf(quoted + lq, cap - lq,
                                   i % 2 ? "\"%s\"%s" : " %s %s", cell,
                                   c < 3 ? "," : "\n");
        }
    }
    /* over 1 MiB, so lines also cross the reader's block boundary */
    snprintf(path, sizeof path, "%s", test_write_temp("plain.csv", plain));
    memset(&err, 0, sizeof err);
    read_a = tabular_read_csv(path, "y", &a, &err);
    snprintf(path, sizeof path, "%s",
             test_write_temp("quoted.csv", quoted));
    read_b = tabular_read_csv(path, "y", &b, &err);
    test_cond("csv-3.1 plain lines and libcsv's give the same table",
              read_a == 0 && read_b == 0 && lp > (1u << 20) &&
                  a.n_rows == rows && b.n_rows == rows &&
                  memcmp(a.X, b.X, rows * 3 * sizeof *a.X) == 0 &&
                  memcmp(a.y, b.y, rows * sizeof *a.y) == 0);
    dataset_release(&a);
    dataset_release(&b);

    /* Clinger's fast path must give strtod's double, bit for bit. */
    for (int i = 0; i < 200000 && exact; i++) {
        char cell[64];
        double got = 0.0, want;
        random_decimal(&r, cell, sizeof cell);
        want = strtod(cell, NULL);
        if (fabs(want) > 3e38)
            continue;
        memset(&err, 0, sizeof err);
        exact = csvfile_number(cell, "t.csv", 2, 1, "a", &got, &err) == 0 &&
                memcmp(&got, &want, sizeof got) == 0;
        if (!exact)
            printf("  '%s': %.17g, strtod %.17g\n", cell, got, want);
    }
    test_cond("csv-3.2 csvfile_number equals strtod on 200k decimals", exact);

    test_cond("csv-3.3 a plain line with too many columns names the line",
              read_tab("a,y\n1,2\n3,4,5\n", &a, &err) != 0 &&
                  contains(err.msg, "line 3: 3 columns, but the header has "
                                    "2"));
    test_cond("csv-3.4 a bad cell on a plain line names line and column",
              read_tab("a,b,y\n1,2,3\n4,1e,6\n", &a, &err) != 0 &&
                  contains(err.msg, "line 3 column 2 ('b'): '1e' is not a "
                                    "number"));
    test_cond("csv-3.5 a trailing comma is an empty last cell",
              read_tab("a,y\n1,2\n3,\n", &a, &err) != 0 &&
                  contains(err.msg, "line 3 column 2 ('y'): empty cell"));
    test_cond("csv-3.6 a 20-digit number is read as strtod reads it",
              read_tab("a,y\n12345678901234567890123,2\n", &a, &err) == 0 &&
                  a.X[0] == (float)1.2345678901234567890123e22);
    dataset_release(&a);
    free(plain);
    free(quoted);
}

static void test_csv(void)
{
    struct dataset ds;
    struct fr_error err;

    test_cond("csv-1.1 quoted fields, CRLF and blank lines parse",
              read_tab("a,\"b\",y\r\n1,\"2.5\",3\r\n\r\n4,5,6\r\n", &ds,
                       &err) == 0 && ds.n_rows == 2 && ds.n_features == 2 &&
                  ds.X[1] == 2.5f && ds.y[1] == 6.0 &&
                  strcmp(ds.feature_names[1], "b") == 0);
    dataset_release(&ds);
    test_cond("csv-1.2 target column in the middle is taken out",
              read_tab("a,y,b\n1,2,3\n", &ds, &err) == 0 &&
                  ds.n_features == 2 && ds.X[0] == 1.0f && ds.X[1] == 3.0f &&
                  ds.y[0] == 2.0);
    dataset_release(&ds);
    test_cond("csv-1.3 no final newline is fine",
              read_tab("a,y\n1,2\n3,4", &ds, &err) == 0 && ds.n_rows == 2);
    dataset_release(&ds);

    test_cond("csv-2.1 empty file is an error",
              read_tab("", &ds, &err) != 0 && contains(err.msg, "is empty"));
    test_cond("csv-2.2 header only is an error",
              read_tab("a,y\n", &ds, &err) != 0 &&
                  contains(err.msg, "no data rows"));
    test_cond("csv-2.3 missing target column is named",
              read_tab("a,b\n1,2\n", &ds, &err) != 0 &&
                  contains(err.msg, "no target column 'y'"));
    test_cond("csv-2.4 non-numeric cell names line and column",
              read_tab("a,y\n1,2\n3,4\nabc,5\n", &ds, &err) != 0 &&
                  contains(err.msg, "line 4 column 1 ('a'): 'abc' is not a "
                                    "number"));
    test_cond("csv-2.5 wrong column count names the line",
              read_tab("a,y\n1,2\n3\n", &ds, &err) != 0 &&
                  contains(err.msg, "line 3: 1 columns, but the header has 2"));
    test_cond("csv-2.6 NaN is refused",
              read_tab("a,y\nnan,2\n", &ds, &err) != 0 &&
                  contains(err.msg, "not a finite number"));
    test_cond("csv-2.7 infinity is refused",
              read_tab("a,y\n1,inf\n", &ds, &err) != 0 &&
                  contains(err.msg, "not a finite number"));
    test_cond("csv-2.8 empty cell is refused",
              read_tab("a,y\n,2\n", &ds, &err) != 0 &&
                  contains(err.msg, "empty cell"));
    test_cond("csv-2.9 a feature beyond float range is refused",
              read_tab("a,y\n1e300,2\n", &ds, &err) != 0 &&
                  contains(err.msg, "float range"));
    test_cond("csv-2.10 a stray quote is a parse error with a line",
              read_tab("a,y\n1,2\n3,4\"x\n", &ds, &err) != 0 &&
                  contains(err.msg, "line 3"));
    test_cond("csv-2.11 a missing file names the file",
              tabular_read_csv("/nonexistent/x.csv", "y", &ds, &err) != 0 &&
                  contains(err.msg, "cannot open '/nonexistent/x.csv'"));
    test_cond("csv-2.12 only a target column is refused",
              read_tab("y\n1\n", &ds, &err) != 0 &&
                  contains(err.msg, "no feature columns"));
    test_cond("csv-2.13 duplicate column names are refused",
              read_tab("a,a,y\n1,2,3\n", &ds, &err) != 0 &&
                  contains(err.msg, "column 'a' appears twice (columns 1 and "
                                    "2)"));
    test_cond("csv-2.14 an empty column name is refused",
              read_tab("a,,y\n1,2,3\n", &ds, &err) != 0 &&
                  contains(err.msg, "line 1 column 2: a column name must be"));
    test_cond("csv-2.15 a target beyond float range is refused",
              read_tab("a,y\n1,1e39\n", &ds, &err) != 0 &&
                  contains(err.msg, "beyond the float range"));
    test_cond("csv-2.16 a NUL byte is refused with its line",
              read_tab_bytes("a,y\n1,2\n3\0,4\n", 13, &ds, &err) != 0 &&
                  contains(err.msg, "line 3: a NUL byte"));
    test_cond("csv-2.17 a UTF-8 byte order mark is not part of the name",
              read_tab("\xef\xbb\xbf" "a,y\n1,2\n", &ds, &err) == 0 &&
                  strcmp(ds.feature_names[0], "a") == 0);
    dataset_release(&ds);
    test_cond("csv-2.18 a header name that is not UTF-8 is refused with line "
              "and column",
              read_tab("a,b\xff,y\n1,2,3\n", &ds, &err) != 0 &&
                  contains(err.msg, "line 1 column 2: the column name is not "
                                    "valid UTF-8 (byte 2 of the name is "
                                    "0xff)"));
    test_cond("csv-2.19 overlong, surrogate and truncated UTF-8 are refused",
              read_tab("\xc0\xaf,y\n1,2\n", &ds, &err) != 0 &&
                  contains(err.msg, "not valid UTF-8") &&
                  read_tab("a\xed\xa0\x80,y\n1,2\n", &ds, &err) != 0 &&
                  contains(err.msg, "not valid UTF-8") &&
                  read_tab("y,a\xe2\x82\n1,2\n", &ds, &err) != 0 &&
                  contains(err.msg, "column 2: the column name is not valid"));
    test_cond("csv-2.20 a control character in a header name is refused",
              read_tab("\"a\tb\",y\n1,2\n", &ds, &err) != 0 &&
                  contains(err.msg, "line 1 column 1: the column name holds a "
                                    "control character (byte 2 of the name "
                                    "is 0x09)") &&
                  read_tab("a\xc2\x85,y\n1,2\n", &ds, &err) != 0 &&
                  contains(err.msg, "control character"));
    test_cond("csv-2.21 UTF-8 header names are kept as they are",
              read_tab("\xc3\xa9t\xc3\xa9 \xe2\x82\xac \xf0\x9f\x8c"
                       "\xb2,y\n1,2\n", &ds, &err) == 0 &&
                  strcmp(ds.feature_names[0], "\xc3\xa9t\xc3\xa9 \xe2\x82"
                                              "\xac \xf0\x9f\x8c\xb2") == 0);
    dataset_release(&ds);
    test_cond("csv-2.22 a hexadecimal cell is not a decimal number",
              read_tab("a,y\n1,2\n0x10,3\n", &ds, &err) != 0 &&
                  contains(err.msg, "line 3 column 1 ('a'): '0x10' is not a "
                                    "decimal number"));
    test_cond("csv-2.23 spaces and tabs around a number are allowed; "
              "exponents and signs too",
              read_tab("a,y\n 1.5 ,\t-2e-1\t\n.5,+3.\n", &ds, &err) == 0 &&
                  ds.X[0] == 1.5f && ds.y[0] == -0.2 && ds.X[1] == 0.5f &&
                  ds.y[1] == 3.0);
    dataset_release(&ds);
    test_cond("csv-2.24 a half number is refused",
              read_tab("a,y\n1e,2\n", &ds, &err) != 0 &&
                  contains(err.msg, "'1e' is not a number") &&
                  read_tab("a,y\n1 2,2\n", &ds, &err) != 0 &&
                  contains(err.msg, "'1 2' is not a number"));
}

static void test_config(void)
{
    unsigned long long n = 0;
    double x = 0.0;
    struct fr_error err = {{0}};
    const struct config_option opts[] = {
        {"FR_TEST_N", CONFIG_UINT, "7", "n", &n, 1, 1000, NULL},
        {"FR_TEST_X", CONFIG_DOUBLE, "0.5", "x", &x, 0, 100, NULL},
    };
    char a0[] = "prog", a1[32], a2[64];
    char *argv[] = {a0, a1, a2};
    int ok = 1;

    /* Settings are plain decimal: what strtol/strtod would also take
     * (spaces, hexadecimal, a sign on a count) is refused. */
    static const char *const bad_uint[] = {
        " 12", "12 ", "0x10", "+5", "-1", "1e2", "12.0", "",
        "99999999999999999999999", /* beyond unsigned long long */
    };
    static const char *const bad_double[] = {"0x10", " 1", "1 ", "inf",
                                             "nan", "1e", ".", "1,5", "+"};
    for (size_t i = 0; i < sizeof bad_uint / sizeof bad_uint[0]; i++) {
        snprintf(a1, sizeof a1, "--fr-test-n");
        snprintf(a2, sizeof a2, "%s", bad_uint[i]);
        ok &= config_load(opts, 2, 3, argv, 1, NULL, 0, &err) < 0 &&
              contains(err.msg, "expected a whole number");
    }
    test_cond("config-1.1 a whole-number setting takes digits only", ok);
    ok = 1;
    for (size_t i = 0; i < sizeof bad_double / sizeof bad_double[0]; i++) {
        snprintf(a1, sizeof a1, "--fr-test-x");
        snprintf(a2, sizeof a2, "%s", bad_double[i]);
        ok &= config_load(opts, 2, 3, argv, 1, NULL, 0, &err) < 0 &&
              contains(err.msg, "expected a decimal number");
    }
    test_cond("config-1.2 a number setting is plain decimal", ok);
    snprintf(a1, sizeof a1, "--fr-test-x");
    snprintf(a2, sizeof a2, "1.5e1");
    test_cond("config-1.3 decimals with an exponent are read",
              config_load(opts, 2, 3, argv, 1, NULL, 0, &err) == 0 &&
                  x == 15.0);
    snprintf(a1, sizeof a1, "--fr-test-n");
    snprintf(a2, sizeof a2, "0012");
    test_cond("config-1.4 leading zeros are still decimal",
              config_load(opts, 2, 3, argv, 1, NULL, 0, &err) == 0 && n == 12);
    test_cond("config-1.5 decimal spans",
              config_decimal_span("12") == 2 &&
                  config_decimal_span("-1.5e+3x") == 7 &&
                  config_decimal_span("1e") == 1 &&
                  config_decimal_span("0x10") == 1 &&
                  config_decimal_span(".") == 0 &&
                  config_decimal_span("e5") == 0);
}

static void test_dates(void)
{
    int32_t d;
    char buf[16];
    int dow, dom, month;

    test_cond("date-1.1 epoch is day 0",
              series_parse_date("1970-01-01", &d) == 0 && d == 0);
    test_cond("date-1.2 leap day 2024 parses",
              series_parse_date("2024-02-29", &d) == 0);
    series_format_date(d, buf);
    test_cond("date-1.3 formatting inverts parsing",
              strcmp(buf, "2024-02-29") == 0);
    test_cond("date-1.4 2023-02-29 is not a date",
              series_parse_date("2023-02-29", &d) != 0);
    test_cond("date-1.5 1900-02-29 is not a date (century rule)",
              series_parse_date("1900-02-29", &d) != 0);
    test_cond("date-1.6 2000-02-29 is a date (400-year rule)",
              series_parse_date("2000-02-29", &d) == 0);
    test_cond("date-1.7 month 13 is refused",
              series_parse_date("2024-13-01", &d) != 0);
    test_cond("date-1.8 other formats are refused",
              series_parse_date("01/02/2024", &d) != 0 &&
                  series_parse_date("2024-1-2", &d) != 0 &&
                  series_parse_date("2024-01-02x", &d) != 0);
    series_parse_date("2026-11-27", &d);
    series_calendar(d, &dow, &dom, &month);
    test_cond("date-1.9 2026-11-27 is a Friday in November",
              dow == 4 && dom == 27 && month == 11);
}

/* A series whose value on day t is 1000 + t, one record per day. */
static void make_linear(struct series_data *d, int days, int32_t start)
{
    memset(d, 0, sizeof *d);
    d->series_names = calloc(1, sizeof(char *));
    d->series_names[0] = strdup("s");
    d->n_series = 1;
    for (int t = 0; t < days; t++)
        series_data_push(d, 0, start + t, 1000.0 + t, NULL, (size_t)t + 2,
                         NULL);
}

static void test_features(void)
{
    struct series_spec spec;
    struct series_data d;
    struct dataset ds;
    struct fr_error err = {{0}};
    int32_t start;
    int ok = 1;

    series_parse_date("2024-01-01", &start);
    series_spec_init(&spec, 0, NULL, &err);
    test_cond("feat-1.1 default spec has 13 features",
              series_n_features(&spec) == 13 && series_history(&spec) == 28);
    make_linear(&d, 60, start);
    test_cond("feat-1.2 builds one row per day with 28 days of history",
              series_build(&d, &spec, &ds, &err) == 0 && ds.n_rows == 32);
    /* Row r is day 28 + r, whose target is 1028 + r. */
    for (size_t r = 0; r < ds.n_rows && ok; r++) {
        const float *x = ds.X + r * ds.n_features;
        double t = 28.0 + (double)r;
        ok &= ds.y[r] == 1000.0 + t;
        ok &= x[0] == (float)(1000.0 + t - 1);  /* lag_1 */
        ok &= x[3] == (float)(1000.0 + t - 7);  /* lag_7 */
        ok &= x[5] == (float)(1000.0 + t - 28); /* lag_28 */
        /* mean of the previous 7 days: t-7 .. t-1 */
        ok &= fabsf(x[6] - (float)(1000.0 + t - 4)) < 1e-3f;
        ok &= ds.baseline[r] == 1000.0 + t - 7;
    }
    test_cond("feat-1.3 lags, rolling mean and baseline use past days only",
              ok);
    test_cond("feat-1.4 feature names in model order",
              strcmp(ds.feature_names[0], "lag_1") == 0 &&
                  strcmp(ds.feature_names[7], "roll_std_7") == 0 &&
                  strcmp(ds.feature_names[12], "month") == 0);

    /* No look-ahead: changing the future leaves earlier rows unchanged. */
    {
        struct dataset ds2;
        size_t nf = ds.n_features;
        d.y[59] = -5.0e6;
        series_build(&d, &spec, &ds2, &err);
        /* Every row, the last one included: its own target is the value
         * that changed, so a same-day leak would show in its features. */
        test_cond("feat-1.5 a changed future value changes no earlier row's "
                  "features",
                  ds2.n_rows == ds.n_rows &&
                      ds2.y[ds2.n_rows - 1] == -5.0e6 &&
                      memcmp(ds.X, ds2.X,
                             ds.n_rows * nf * sizeof(float)) == 0);
        dataset_release(&ds2);
    }
    dataset_release(&ds);

    /* A gap: day 40 missing removes the rows whose history spans it. */
    d.day[40] = d.day[59] + 100; /* move it far away */
    test_cond("feat-2.1 rows whose history has a gap are skipped",
              series_build(&d, &spec, &ds, &err) == 0 && ds.n_rows == 12);
    dataset_release(&ds);
    d.day[40] = d.day[39];
    test_cond("feat-2.2 two rows for one day are an error naming both lines",
              series_build(&d, &spec, &ds, &err) != 0 &&
                  contains(err.msg, "has two rows for") &&
                  contains(err.msg, "line 42"));
    series_data_release(&d);

    make_linear(&d, 20, start);
    test_cond("feat-2.3 too few rows for the lags is an error",
              series_build(&d, &spec, &ds, &err) != 0 &&
                  contains(err.msg, "too few rows for the lags"));
    series_data_release(&d);
    series_spec_release(&spec);
}

/* Direct rows of one gap-free series of n days (no cutoff, no sample)
 * whose origin is at most day index k: origins start at 28, and origin i
 * has min(H, n - i) rows. */
static size_t direct_rows_upto(size_t n, size_t H, size_t k)
{
    size_t rows = 0;

    for (size_t i = 28; i <= k && i < n; i++)
        rows += n - i < H ? n - i : H;
    return rows;
}

static void test_direct_features(void)
{
    struct series_spec spec;
    struct series_data d;
    struct dataset ds, ds2;
    struct fr_error err = {{0}};
    int32_t start;
    size_t n = 70, nf, leaks = 0, row = 0;
    int ok = 1;

    series_parse_date("2024-01-01", &start);
    series_spec_init(&spec, 0, NULL, &err);
    test_cond("direct-1.1 a direct spec of 14 days: 19 features, 28 days "
              "of history, the level the last week's mean",
              series_spec_direct(&spec, 14, &err) == 0 &&
                  series_n_features(&spec) == 19 &&
                  series_history(&spec) == 28 && spec.level_window == 7 &&
                  series_spec_check(&spec, &err) == 0);
    make_linear(&d, (int)n, start);
    test_cond("direct-1.2 one row per origin and day ahead",
              series_build_direct(&d, &spec, NULL, 0, 1, &ds, &err) == 0 &&
                  ds.n_rows == direct_rows_upto(n, 14, n));
    nf = ds.n_features;
    test_cond("direct-1.3 feature names in model order",
              strcmp(ds.feature_names[10], "same_weekday_1") == 0 &&
                  strcmp(ds.feature_names[14], "same_weekday_mean") == 0 &&
                  strcmp(ds.feature_names[15], "horizon") == 0 &&
                  strcmp(ds.feature_names[16], "day_of_week") == 0);
    /* y(t) = 1000 + t: the row of origin i, day ahead h has target
     * 1000 + i + h - 1, lag_1 = 1000 + i - 1 (the day before the origin,
     * whatever h), same_weekday_1 = target - 7 ceil(h / 7). */
    for (size_t i = 28; i < n; i++) {
        for (size_t h = 1; h <= 14 && i + h - 1 < n; h++, row++) {
            const float *x = ds.X + row * nf;
            double target = 1000.0 + (double)(i + h - 1);
            double week = 7.0 * (double)((h + 6) / 7);
            int dow, dom, month;
            series_calendar(start + (int32_t)(i + h - 1), &dow, &dom, &month);
            ok &= ds.y[row] == target;
            ok &= ds.day[row] == start + (int32_t)(i + h - 1);
            ok &= x[0] == (float)(1000.0 + (double)i - 1);
            ok &= x[10] == (float)(target - week);
            ok &= x[13] == (float)(target - week - 21.0);
            ok &= fabsf(x[14] - (float)(target - week - 10.5)) < 1e-3f;
            ok &= x[15] == (float)h && x[16] == (float)dow;
            ok &= ds.baseline[row] == target - week;
        }
    }
    test_cond("direct-1.4 lags at the origin, same weekdays before it, the "
              "horizon and the target day's calendar", ok && row == ds.n_rows);
    /* series_build_direct_rows computes the history's features once for
     * all of an origin's horizons: the same rows as one at a time. */
    {
        float *rows = malloc(14 * nf * sizeof *rows);
        size_t at = 0;
        ok = rows != NULL;
        for (size_t i = 28; ok && i < n; i++) {
            uint32_t nh = (uint32_t)(n - i < 14 ? n - i : 14);
            series_build_direct_rows(&spec, d.y + (i - 28), d.day[i], nh,
                                     d.cov + i * d.n_covariates, rows);
            ok &= memcmp(rows, ds.X + at * nf, nh * nf * sizeof *rows) == 0;
            at += nh;
        }
        test_cond("direct-1.4b an origin's rows built together are those "
                  "built one by one", ok && at == ds.n_rows);
        free(rows);
    }
    /* No leakage: a row of origin i may use no value of day i or later.
     * Perturbing day k must leave every row of origin <= k unchanged. */
    for (size_t k = 0; k < n; k++) {
        double keep = d.y[k];
        size_t same = direct_rows_upto(n, 14, k);
        d.y[k] = -5.0e6;
        if (series_build_direct(&d, &spec, NULL, 0, 1, &ds2, &err) != 0 ||
            ds2.n_rows != ds.n_rows ||
            memcmp(ds.X, ds2.X, same * nf * sizeof(float)) != 0)
            leaks++;
        dataset_release(&ds2);
        d.y[k] = keep;
    }
    test_cond("direct-1.5 perturbing any day changes no feature of a row "
              "whose origin is that day or later", leaks == 0);
    {
        int32_t cutoff = start + 50;
        int before = 1;
        test_cond("direct-1.6 a cutoff keeps only target days before it",
                  series_build_direct(&d, &spec, &cutoff, 0, 1, &ds2,
                                      &err) == 0 && ds2.n_rows > 0);
        for (size_t r = 0; r < ds2.n_rows; r++)
            before &= ds2.day[r] < cutoff;
        test_cond("direct-1.6b ... every one of them", before);
        dataset_release(&ds2);
    }
    test_cond("direct-1.7 a sample of max_rows keeps about that many, the "
              "same for the same seed",
              series_build_direct(&d, &spec, NULL, 200, 7, &ds2, &err) == 0 &&
                  ds2.n_rows > 150 && ds2.n_rows < 250);
    {
        struct dataset ds3;
        test_cond("direct-1.8 ... the same rows for the same seed",
                  series_build_direct(&d, &spec, NULL, 200, 7, &ds3,
                                      &err) == 0 &&
                      ds3.n_rows == ds2.n_rows &&
                      memcmp(ds2.X, ds3.X,
                             ds2.n_rows * nf * sizeof(float)) == 0);
        dataset_release(&ds3);
    }
    /* The sample builds an origin's kept rows reusing its history's
     * features: each row is the full build's of its target day and h. */
    {
        size_t found = 0;
        for (size_t r = 0; r < ds2.n_rows; r++) {
            for (size_t q = 0; q < ds.n_rows; q++) {
                if (ds.day[q] == ds2.day[r] &&
                    ds.X[q * nf + 15] == ds2.X[r * nf + 15]) {
                    found += memcmp(ds.X + q * nf, ds2.X + r * nf,
                                    nf * sizeof(float)) == 0;
                    break;
                }
            }
        }
        test_cond("direct-1.8b every sampled row is the full build's row",
                  ds2.n_rows > 0 && found == ds2.n_rows);
    }
    dataset_release(&ds2);
    /* series_build with a direct spec: the h = 1 rows, one per day. */
    test_cond("direct-1.9 series_build of a direct spec: one row per day, "
              "the direct row of h = 1",
              series_build(&d, &spec, &ds2, &err) == 0 &&
                  ds2.n_rows == n - 28 && ds2.X[15] == 1.0f &&
                  memcmp(ds2.X, ds.X, nf * sizeof(float)) == 0);
    dataset_release(&ds2);
    dataset_release(&ds);
    spec.horizon = 0;
    test_cond("direct-2.1 a direct spec without a horizon is refused",
              series_spec_check(&spec, &err) != 0 &&
                  contains(err.msg, "strategy 1"));
    series_data_release(&d);
    series_spec_release(&spec);
}

static void test_series_csv(void)
{
    struct series_columns cols = {"date", "demand", "store"};
    struct series_data d;
    struct fr_error err = {{0}};
    char path[512];

    snprintf(path, sizeof path, "%s",
             test_write_temp("s.csv", "store,date,demand,promo\n"
                                      "a,2024-01-01,5,0\n"
                                      "b,2024-01-01,7,1\n"
                                      "a,2024-01-02,6,1\n"));
    test_cond("scsv-1.1 series, date, target and a covariate are read",
              series_data_read_csv(path, &cols, &d, &err) == 0 && d.n == 3 &&
                  d.n_series == 2 && d.n_covariates == 1 &&
                  strcmp(d.covariate_names[0], "promo") == 0 &&
                  d.series[2] == 0 && d.cov[1] == 1.0);
    series_data_release(&d);
    snprintf(path, sizeof path, "%s",
             test_write_temp("s.csv", "date,demand\n2024-01-01,5\n"
                                      "2024-02-30,6\n"));
    test_cond("scsv-1.2 an impossible date names line and column",
              series_data_read_csv(path, &cols, &d, &err) != 0 &&
                  contains(err.msg, "line 3 column 1 ('date'): '2024-02-30' "
                                    "is not a date"));
    snprintf(path, sizeof path, "%s",
             test_write_temp("s.csv", "day,demand\n2024-01-01,5\n"));
    test_cond("scsv-1.3 a missing date column is named",
              series_data_read_csv(path, &cols, &d, &err) != 0 &&
                  contains(err.msg, "no date column 'date'"));
    snprintf(path, sizeof path, "%s",
             test_write_temp("s.csv", "date,demand,promo\n2024-01-01,5,x\n"));
    test_cond("scsv-1.4 a non-numeric covariate names line and column",
              series_data_read_csv(path, &cols, &d, &err) != 0 &&
                  contains(err.msg, "line 2 column 3 ('promo')"));
}

static void test_split(void)
{
    struct dataset ds, train, test;
    struct fr_error err = {{0}};
    const char *names[] = {"x"};
    float x;
    int ok = 1;

    dataset_init(&ds, 1, names, 4, 1, &err);
    /* Two series of 10 days, interleaved as a date-ordered file would be. */
    for (int t = 0; t < 10; t++) {
        for (int s = 0; s < 2; s++) {
            x = (float)t;
            dataset_push(&ds, &x, s * 100 + t, s, t, 0.0, &err);
        }
    }
    ds.n_series = 2;
    test_cond("tsplit-1.1 series split keeps the last 20% of each series",
              dataset_split(&ds, 0.2, &train, &test, &err) == 0 &&
                  train.n_rows == 16 && test.n_rows == 4);
    for (size_t i = 0; i < test.n_rows; i++)
        ok &= test.day[i] >= 8;
    for (size_t i = 0; i < train.n_rows; i++)
        ok &= train.day[i] < 8;
    test_cond("tsplit-1.2 every test day is after every training day", ok);
    dataset_release(&train);
    dataset_release(&test);
    free(ds.series);
    ds.series = NULL;
    free(ds.day);
    ds.day = NULL;
    free(ds.baseline);
    ds.baseline = NULL;
    test_cond("split-1.3 tabular split takes the last rows of the file",
              dataset_split(&ds, 0.25, &train, &test, &err) == 0 &&
                  test.n_rows == 5 && test.X[0] == 7.0f &&
                  train.n_rows == 15);
    dataset_release(&train);
    dataset_release(&test);
    {
        /* The taking split gives the same parts and leaves ds empty. */
        struct dataset copy = {0}, train2 = {0}, test2 = {0};
        int same;
        dataset_init(&copy, 1, names, 4, 0, &err);
        for (size_t i = 0; i < ds.n_rows; i++)
            dataset_push(&copy, ds.X + i, ds.y[i], 0, 0, 0.0, &err);
        dataset_split(&ds, 0.25, &train, &test, &err);
        test_cond("split-1.5 the taking split keeps the same rows",
                  dataset_split_take(&copy, 0.25, &train2, &test2,
                                     &err) == 0 &&
                      train2.n_rows == train.n_rows &&
                      test2.n_rows == test.n_rows && copy.X == NULL &&
                      copy.n_rows == 0);
        same = train2.n_rows == train.n_rows && test2.n_rows == test.n_rows;
        for (size_t i = 0; same && i < train.n_rows; i++)
            same = train2.X[i] == train.X[i] && train2.y[i] == train.y[i];
        for (size_t i = 0; same && i < test.n_rows; i++)
            same = test2.X[i] == test.X[i] && test2.y[i] == test.y[i];
        test_cond("split-1.6 ... value for value, and takes more rows", same &&
                  dataset_push(&train2, ds.X, 1.0, 0, 0, 0.0, &err) == 0 &&
                  train2.n_rows == train.n_rows + 1 &&
                  train2.X[train.n_rows] == ds.X[0]);
        dataset_release(&train);
        dataset_release(&test);
        dataset_release(&train2);
        dataset_release(&test2);
        dataset_init(&copy, 1, names, 4, 0, &err);
        dataset_push(&copy, ds.X, 1.0, 0, 0, 0.0, &err);
        test_cond("split-1.7 the taking split of one row fails as the copy "
                  "does, and releases the table",
                  dataset_split_take(&copy, 0.2, &train2, &test2, &err) != 0 &&
                      contains(err.msg, "too few rows") && copy.X == NULL &&
                      train2.X == NULL && test2.X == NULL);
    }
    ds.n_rows = 1;
    test_cond("split-1.4 one row cannot be split",
              dataset_split(&ds, 0.2, &train, &test, &err) != 0 &&
                  contains(err.msg, "too few rows"));
    dataset_release(&ds);
}

static void test_metrics(void)
{
    double actual[] = {1, 2, 0, 4};
    double pred[] = {2, 2, 1, 2};
    struct metrics m;

    metrics_compute(actual, pred, 4, &m);
    test_cond("score-1.1 MAE", fabs(m.mae - 1.0) < 1e-12);
    test_cond("score-1.2 RMSE", fabs(m.rmse - sqrt(6.0 / 4)) < 1e-12);
    /* MAPE skips the zero actual: (100% + 0% + 50%) / 3. */
    test_cond("score-1.3 MAPE leaves out zero actuals",
              fabs(m.mape - 50.0) < 1e-9 && m.mape_rows == 3);
    /* mean 1.75; SST = 0.5625+0.0625+3.0625+5.0625 = 8.75; SSE = 6 */
    test_cond("score-1.4 R2", fabs(m.r2 - (1.0 - 6.0 / 8.75)) < 1e-12);
    metrics_compute(pred + 1, pred + 1, 1, &m);
    test_cond("score-1.5 constant actuals give R2 NaN, perfect RMSE 0",
              isnan(m.r2) && m.rmse == 0.0);
}

/* Day number of a date the tests pin synthetic data to. */
#define AS_OF 20635 /* 2026-07-01 */

static void test_synth(void)
{
    struct series_data a, b;
    struct fr_error err = {{0}};
    int same, later_same = 1, promos = 0;

    synth_generate(3, 100, AS_OF, 7, &a, &err);
    synth_generate(3, 100, AS_OF, 7, &b, &err);
    same = a.n == b.n && memcmp(a.y, b.y, a.n * sizeof *a.y) == 0;
    test_cond("synth-1.1 same seed and AS_OF, same data", same && a.n == 300);
    test_cond("synth-1.5 the days end on AS_OF",
              a.day[99] == AS_OF && a.day[0] == AS_OF - 99 &&
                  a.day[100] == AS_OF - 99);
    series_data_release(&b);
    synth_generate(3, 100, AS_OF, 8, &b, &err);
    test_cond("synth-1.2 another seed, other data",
              memcmp(a.y, b.y, a.n * sizeof *a.y) != 0);
    series_data_release(&b);
    /* A week later: the 93 shared days are identical, 7 new ones follow. */
    synth_generate(3, 100, AS_OF + 7, 7, &b, &err);
    for (size_t s = 0; s < 3; s++) {
        for (size_t i = 7; i < 100; i++) {
            later_same &= b.y[s * 100 + i - 7] == a.y[s * 100 + i] &&
                          b.cov[2 * (s * 100 + i - 7)] ==
                              a.cov[2 * (s * 100 + i)];
        }
    }
    test_cond("synth-1.6 a later AS_OF keeps every shared day's values "
              "(they depend on SEED, series and day only)",
              later_same && b.day[99] == AS_OF + 7);
    for (size_t i = 0; i < a.n; i++)
        promos += a.cov[2 * i] != 0.0;
    test_cond("synth-1.7 promotions cover some days, not most",
              promos > 10 && promos < 150);
    test_cond("synth-1.3 demand is whole and non-negative",
              a.y[17] >= 0 && a.y[17] == floor(a.y[17]));
    series_data_release(&a);
    series_data_release(&b);
    test_cond("synth-1.4 zero series is refused",
              synth_generate(0, 100, AS_OF, 7, &a, &err) != 0);
    test_cond("synth-1.8 days before 1900 are refused",
              synth_generate(1, 100, -25500, 7, &a, &err) != 0 &&
                  strstr(err.msg, "1900-01-01"));
}

/* radix.h against qsort: the same order, and -0 or NaN refused. */
static int cmp_f(const void *a, const void *b)
{
    float x = *(const float *)a, y = *(const float *)b;
    return (x > y) - (x < y);
}

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static void test_radix(void)
{
    enum { N = 3001 };
    float *f = malloc(N * sizeof *f), *f2 = malloc(N * sizeof *f2);
    double *v = malloc(N * sizeof *v), *v2 = malloc(N * sizeof *v2);
    uint64_t *tmp = malloc(2 * N * sizeof *tmp);
    struct rng r;
    int ok;

    if (!f || !f2 || !v || !v2 || !tmp) {
        test_cond("radix-0 memory", 0);
        goto out;
    }
    rng_seed(&r, 5, 0);
    for (size_t i = 0; i < N; i++) {
        /* negatives, positives, +0, repeats and a wide range of exponents */
        f[i] = i % 7 == 0 ? 0.0f
                          : (float)((rng_uniform(&r) - 0.4) *
                                    pow(10.0, (double)(i % 13) - 6.0));
        f[i] = i % 5 == 0 ? f[i / 2] : f[i];
        v[i] = i % 11 == 0 ? 0.0 : fabs((double)f[i]) * 1.000001;
    }
    memcpy(f2, f, N * sizeof *f);
    memcpy(v2, v, N * sizeof *v);
    qsort(f2, N, sizeof *f2, cmp_f);
    qsort(v2, N, sizeof *v2, cmp_d);
    ok = radix_sort_floats(f, N, tmp) == 0 &&
         memcmp(f, f2, N * sizeof *f) == 0;
    test_cond("radix-1.1 floats sort as qsort sorts them", ok);
    ok = radix_sort_nonneg_doubles(v, N, tmp) == 0 &&
         memcmp(v, v2, N * sizeof *v) == 0;
    test_cond("radix-1.2 non-negative doubles sort as qsort sorts them", ok);
    f2[N / 2] = -0.0f;
    memcpy(f, f2, N * sizeof *f);
    test_cond("radix-1.3 a -0 among the floats is left to qsort, untouched",
              radix_sort_floats(f, N, tmp) != 0 &&
                  memcmp(f, f2, N * sizeof *f) == 0);
    v2[N / 3] = -0.0;
    memcpy(v, v2, N * sizeof *v);
    test_cond("radix-1.4 a -0 among the doubles is left to qsort",
              radix_sort_nonneg_doubles(v, N, tmp) != 0 &&
                  memcmp(v, v2, N * sizeof *v) == 0);
    v2[N / 3] = NAN;
    f2[N / 2] = NAN;
    test_cond("radix-1.5 NaN is left to qsort",
              radix_sort_nonneg_doubles(v2, N, tmp) != 0 &&
                  radix_sort_floats(f2, N, tmp) != 0);
out:
    free(f);
    free(f2);
    free(v);
    free(v2);
    free(tmp);
}

void test_data(void)
{
    test_radix();
    test_csv();
    test_csv_paths();
    test_config();
    test_dates();
    test_features();
    test_direct_features();
    test_series_csv();
    test_split();
    test_metrics();
    test_synth();
}
