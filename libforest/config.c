/*
 * config.c: the settings table reader (see config.h).
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* "N_ESTIMATORS" -> "n-estimators" */
static void flag_name(const char *env, char *buf, size_t len)
{
    size_t i = 0;

    for (; env[i] && i + 1 < len; i++)
        buf[i] = env[i] == '_' ? '-' : (char)tolower((unsigned char)env[i]);
    buf[i] = '\0';
}

static int in_choices(const char *choices, const char *v)
{
    size_t n = strlen(v);
    const char *p = choices;

    while (*p) {
        const char *bar = strchr(p, '|');
        size_t len = bar ? (size_t)(bar - p) : strlen(p);
        if (len == n && strncmp(p, v, n) == 0)
            return 1;
        if (bar == NULL)
            break;
        p = bar + 1;
    }
    return 0;
}

static int is_bool_word(const char *v)
{
    static const char *const words[] = {"true", "false", "1", "0", "yes",
                                        "no"};

    for (size_t i = 0; i < sizeof words / sizeof words[0]; i++) {
        if (strcmp(v, words[i]) == 0)
            return 1;
    }
    return 0;
}

size_t config_decimal_span(const char *s)
{
    const char *p = s;
    size_t digits = 0;

    if (*p == '+' || *p == '-')
        p++;
    for (; isdigit((unsigned char)*p); p++)
        digits++;
    if (*p == '.') {
        p++;
        for (; isdigit((unsigned char)*p); p++)
            digits++;
    }
    if (digits == 0)
        return 0;
    /* An exponent counts only when digits follow: in "1e" the number is 1
     * and the "e" is left over, so the caller refuses the text. */
    if (*p == 'e' || *p == 'E') {
        const char *q = p + 1;
        if (*q == '+' || *q == '-')
            q++;
        if (isdigit((unsigned char)*q)) {
            while (isdigit((unsigned char)*q))
                q++;
            p = q;
        }
    }
    return (size_t)(p - s);
}

static int set_value(const struct config_option *o, const char *v,
                     const char *source, struct fr_error *err)
{
    char *end;

    switch (o->type) {
    case CONFIG_STRING:
        if (o->choices != NULL && !in_choices(o->choices, v)) {
            fr_error_set(err, "invalid %s '%s': expected one of %s", source, v,
                         o->choices);
            return -1;
        }
        *(const char **)o->target = v;
        return 0;
    case CONFIG_UINT: {
        unsigned long long x = 0;
        const char *p = v;
        /* Digits only: strtoull alone would also take leading spaces, a
         * sign or (with base 0) hexadecimal. */
        while (isdigit((unsigned char)*p))
            p++;
        if (p != v && *p == '\0') {
            errno = 0;
            x = strtoull(v, &end, 10);
        }
        if (p == v || *p != '\0' || errno == ERANGE || (double)x < o->min ||
            (double)x > o->max) {
            fr_error_set(err, "invalid %s '%s': expected a whole number from "
                         "%.0f to %.0f", source, v, o->min, o->max);
            return -1;
        }
        *(unsigned long long *)o->target = x;
        return 0;
    }
    case CONFIG_DOUBLE: {
        double x = 0.0;
        size_t span = config_decimal_span(v);
        if (span != 0 && v[span] == '\0')
            x = strtod(v, &end);
        if (span == 0 || v[span] != '\0' || !isfinite(x) || x < o->min ||
            x > o->max) {
            fr_error_set(err, "invalid %s '%s': expected a decimal number "
                         "from %g to %g", source, v, o->min, o->max);
            return -1;
        }
        *(double *)o->target = x;
        return 0;
    }
    case CONFIG_BOOL:
        if (!strcmp(v, "true") || !strcmp(v, "1") || !strcmp(v, "yes")) {
            *(int *)o->target = 1;
            return 0;
        }
        if (!strcmp(v, "false") || !strcmp(v, "0") || !strcmp(v, "no")) {
            *(int *)o->target = 0;
            return 0;
        }
        fr_error_set(err, "invalid %s '%s': expected true or false", source,
                     v);
        return -1;
    }
    return -1;
}

int config_load(const struct config_option *opts, size_t n_opts, int argc,
                char **argv, int first, int *positional, int max_positional,
                struct fr_error *err)
{
    int n_pos = 0;

    for (size_t i = 0; i < n_opts; i++) {
        const struct config_option *o = &opts[i];
        const char *env = getenv(o->env);
        if (o->type == CONFIG_STRING)
            *(const char **)o->target = o->def;
        else if (o->def != NULL && set_value(o, o->def, o->env, err) != 0)
            return -1;
        /* An empty variable counts as unset, as a ConfigMap key with an
         * empty value usually means "use the default". */
        if (env != NULL && *env != '\0' &&
            set_value(o, env, o->env, err) != 0)
            return -1;
    }
    for (int a = first; a < argc; a++) {
        const char *arg = argv[a], *value = NULL, *eq;
        char name[128], source[160];
        size_t i, len;

        if (strncmp(arg, "--", 2) != 0 || arg[2] == '\0') {
            if (n_pos == max_positional) {
                fr_error_set(err, "unexpected argument '%s'", arg);
                return -1;
            }
            positional[n_pos++] = a;
            continue;
        }
        eq = strchr(arg, '=');
        len = eq ? (size_t)(eq - arg - 2) : strlen(arg + 2);
        for (i = 0; i < n_opts; i++) {
            flag_name(opts[i].env, name, sizeof name);
            if (strlen(name) == len && strncmp(name, arg + 2, len) == 0)
                break;
        }
        if (i == n_opts) {
            fr_error_set(err, "unknown flag '%.*s' (see --help)",
                         (int)len + 2, arg);
            return -1;
        }
        if (eq != NULL)
            value = eq + 1;
        else if (opts[i].type == CONFIG_BOOL)
            /* "--quiet" alone is true; "--quiet false" takes the word. */
            value = a + 1 < argc && is_bool_word(argv[a + 1]) ? argv[++a]
                                                              : "true";
        else if (a + 1 < argc)
            value = argv[++a];
        else {
            fr_error_set(err, "flag '%s' needs a value", arg);
            return -1;
        }
        snprintf(source, sizeof source, "--%s", name);
        if (set_value(&opts[i], value, source, err) != 0)
            return -1;
    }
    return n_pos;
}

void config_usage(FILE *fp, const struct config_option *opts, size_t n_opts)
{
    for (size_t i = 0; i < n_opts; i++) {
        char name[128];
        flag_name(opts[i].env, name, sizeof name);
        fprintf(fp, "  %-24s --%-24s default: %s\n      %s\n", opts[i].env,
                name, opts[i].def ? opts[i].def : "(unset)", opts[i].help);
    }
}
