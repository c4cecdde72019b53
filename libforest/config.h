/*
 * config.h: settings from environment variables and --long-flags.
 *
 * Each program describes its settings once, in a table; the same table
 * parses the environment (the Kubernetes ConfigMap's keys), then the command
 * line (flags win), checks ranges, and prints --help. A setting N_ESTIMATORS
 * has the flag --n-estimators.
 */
#ifndef FR_CONFIG_H
#define FR_CONFIG_H

#include <stddef.h>
#include <stdio.h>

#include "error.h"

enum config_type {
    CONFIG_STRING, /* target: const char ** (NULL when unset) */
    CONFIG_UINT,   /* target: unsigned long long *, decimal digits only,
                      in range */
    CONFIG_DOUBLE, /* target: double *, a plain decimal number (see
                      config_decimal_span), in range */
    CONFIG_BOOL    /* target: int *; true/false, 1/0, yes/no */
};

struct config_option {
    const char *env;       /* environment variable, e.g. "N_ESTIMATORS" */
    enum config_type type;
    const char *def;       /* default as text, or NULL for unset */
    const char *help;      /* one line */
    void *target;
    double min, max;       /* inclusive range for numbers */
    const char *choices;   /* for strings: "a|b|c" allowed values, or NULL */
};

/* Applies defaults, then the environment, then flags in argv[first..argc).
 * Arguments that are not flags are left for the caller: their indexes are
 * stored in positional[] (at most max_positional). Returns the number of
 * positional arguments, or -1 with err set ("invalid N_ESTIMATORS '-3':
 * expected a whole number from 1 to 100000", "unknown flag '--x'"). */
int config_load(const struct config_option *opts, size_t n_opts, int argc,
                char **argv, int first, int *positional, int max_positional,
                struct fr_error *err);

/* The length of the plain decimal number at the start of s: an optional
 * sign, digits with an optional decimal point (at least one digit), and an
 * optional exponent (e or E, an optional sign, digits); 0 when s does not
 * start with one. Settings and CSV cells accept only this form, so "0x10",
 * "inf" and " 12" are refused rather than read the way strtod would. Cannot
 * fail. */
size_t config_decimal_span(const char *s);

/* Prints every setting with its flag, default and help. */
void config_usage(FILE *fp, const struct config_option *opts, size_t n_opts);

#endif
