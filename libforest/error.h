/*
 * error.h: the one way library code reports a failure.
 *
 * Library functions never print and never exit. A function that can fail
 * takes a `struct fr_error *` last, returns a status (0 / -1) or NULL, and on
 * failure writes one lowercase message with no final full stop into it, such
 * as "cannot read 'data.csv' line 17 column 3: 'abc' is not a number".
 * main() decides what to print and which exit status to use.
 */
#ifndef FR_ERROR_H
#define FR_ERROR_H

#define FR_ERROR_MAX 512

struct fr_error {
    char msg[FR_ERROR_MAX]; /* NUL-terminated, empty when no error was set */
};

/* Formats a message into err (truncating at FR_ERROR_MAX); err may be NULL. */
void fr_error_set(struct fr_error *err, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Prefixes err's message with "prefix: "; used to add context as an error
 * travels up ("cannot load model 'x': <cause>"). err may be NULL. */
void fr_error_prefix(struct fr_error *err, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#endif
