/*
 * auth.c: bearer tokens (see auth.h).
 *
 * The token is compared in constant time: every byte of the configured
 * token is compared with the byte at the same place of the one given (or
 * with 0 past its end) and the differences are ORed, with no early exit,
 * so the time taken depends on the configured token's length only and
 * tells a client nothing about how much of its guess was right. The token
 * is never logged.
 */
#include "auth.h"

#include <ctype.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "file.h"
#include "model.h"

int auth_init(struct auth *a, const char *token, const char *token_file,
              int metrics, struct fr_error *err)
{
    uint8_t *text = NULL;
    size_t len = 0;
    int rc = -1;

    memset(a, 0, sizeof *a);
    a->metrics = metrics;
    if (token != NULL && token_file != NULL) {
        fr_error_set(err, "give API_TOKEN or API_TOKEN_FILE, not both");
        goto out;
    }
    if (token == NULL && token_file == NULL) {
        if (metrics) {
            fr_error_set(err, "METRICS_TOKEN_REQUIRED needs API_TOKEN or "
                         "API_TOKEN_FILE");
            goto out;
        }
        rc = 0;
        goto out;
    }
    if (token_file != NULL) {
        if (file_read_all(token_file, AUTH_TOKEN_MAX, &text, &len,
                            err) != 0) {
            fr_error_prefix(err, "API_TOKEN_FILE");
            goto out;
        }
        token = (const char *)text;
    } else {
        len = strlen(token);
    }
    /* A Secret made from a file written with echo ends in a newline,
     * whether it arrives as a file or through secretKeyRef as API_TOKEN. */
    while (len > 0 && isspace((unsigned char)token[len - 1]))
        len--;
    if (len == 0 || len > AUTH_TOKEN_MAX) {
        fr_error_set(err, "the API token is empty or longer than %d bytes",
                     AUTH_TOKEN_MAX);
        goto out;
    }
    for (size_t i = 0; i < len; i++) {
        /* RFC 6750's b64token characters, and no NUL that would end it. */
        /* strchr would find a NUL byte: it matches the set's own end. */
        if (token[i] == '\0' || (!isalnum((unsigned char)token[i]) &&
                                 strchr("-._~+/=", token[i]) == NULL)) {
            fr_error_set(err, "the API token may hold only letters, digits "
                         "and -._~+/= (byte %zu is not one)", i);
            goto out;
        }
    }
    a->token = strndup(token, len);
    if (a->token == NULL) {
        fr_error_set(err, "out of memory for the API token");
        goto out;
    }
    a->len = len;
    rc = 0;
out:
    if (text != NULL) {
        /* The file's copy of the secret is not left behind in the heap. */
        memset(text, 0, len);
        free(text);
    }
    return rc;
}

void auth_release(struct auth *a)
{
    if (a->token != NULL) {
        memset(a->token, 0, a->len);
        free(a->token);
    }
    a->token = NULL;
    a->len = 0;
}

int auth_required(const struct auth *a, enum endpoint ep)
{
    if (a == NULL || a->token == NULL)
        return 0;
    switch (ep) {
    case EP_PREDICT:
    case EP_FORECAST:
    case EP_MODEL:
    case EP_MODEL_CANDIDATE:
    case EP_DRIFT:
    case EP_STATUS: /* the status page and chart show what /model does */
    case EP_REPORT:
    case EP_V2_SERVER:
    case EP_V2_MODEL:
    case EP_V2_MODEL_READY:
    case EP_V2_INFER:
        return 1;
    case EP_METRICS:
        return a->metrics;
    default:
        /* The probes, and paths that serve nothing (404). */
        return 0;
    }
}

/* 1 when got (got_len bytes) equals want (want_len >= 1 bytes), in a time
 * that depends on want_len only. */
static int same_token(const char *want, size_t want_len, const char *got,
                      size_t got_len)
{
    volatile unsigned char diff = (unsigned char)(want_len != got_len);

    for (size_t i = 0; i < want_len; i++) {
        /* Past the end of got, compare with 0: a shorter guess costs the
         * same time as one of the right length. */
        unsigned char g = i < got_len ? (unsigned char)got[i] : 0;
        diff |= (unsigned char)((unsigned char)want[i] ^ g);
    }
    return diff == 0;
}

int auth_check(const struct auth *a, const char *authorization)
{
    const char *p = authorization;

    if (p == NULL || strncasecmp(p, "Bearer", 6) != 0 ||
        (p[6] != ' ' && p[6] != '\t'))
        return -1;
    p += 6;
    while (*p == ' ' || *p == '\t')
        p++;
    return same_token(a->token, a->len, p, strlen(p)) ? 0 : -2;
}
