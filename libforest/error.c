/*
 * error.c: formatting of library error messages (see error.h).
 */
#include "error.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

void fr_error_set(struct fr_error *err, const char *fmt, ...)
{
    va_list ap;

    if (err == NULL)
        return;
    va_start(ap, fmt);
    vsnprintf(err->msg, sizeof err->msg, fmt, ap);
    va_end(ap);
}

void fr_error_prefix(struct fr_error *err, const char *fmt, ...)
{
    char old[FR_ERROR_MAX];
    size_t room, n_old;
    va_list ap;
    int n;

    if (err == NULL)
        return;
    memcpy(old, err->msg, sizeof old);
    va_start(ap, fmt);
    n = vsnprintf(err->msg, sizeof err->msg, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n + 3 >= sizeof err->msg)
        return;
    /* "<prefix>: <old message>", the old message cut to what fits. */
    room = sizeof err->msg - (size_t)n - 3;
    n_old = strnlen(old, room);
    memcpy(err->msg + n, ": ", 2);
    memcpy(err->msg + n + 2, old, n_old);
    err->msg[n + 2 + n_old] = '\0';
}
