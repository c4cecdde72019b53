/*
 * auth.h: optional bearer-token authentication (API_TOKEN).
 *
 * Off unless a token is configured. When on, the prediction and model
 * endpoints need "Authorization: Bearer <token>"; the probes (/health,
 * /ready, and the V2 health paths) never do, and /metrics only when asked.
 * This is a shared secret for a cluster-internal Service, not a user
 * system: real exposure belongs behind TLS and authentication at an
 * Ingress.
 */
#ifndef FS_AUTH_H
#define FS_AUTH_H

#include <stddef.h>

#include "error.h"
#include "stats.h"

#define AUTH_TOKEN_MAX 4096 /* bytes of a token, or of its file */

struct auth {
    char *token;     /* the token, owned; NULL = authentication is off */
    size_t len;      /* bytes of token, >= 1 when on */
    int metrics;     /* /metrics needs the token too */
};

/* Sets up from the settings: token (API_TOKEN) or the contents of
 * token_file (API_TOKEN_FILE, as a mounted Secret holds it; trailing
 * whitespace and newlines are dropped), at most one of them; NULL for
 * both turns authentication off. Returns 0, or -1 with err set (both
 * given, an empty token, an unreadable file). auth_release frees it in
 * every case. */
int auth_init(struct auth *a, const char *token, const char *token_file,
              int metrics, struct fr_error *err);

/* Frees the token; safe on a zeroed or released struct. */
void auth_release(struct auth *a);

/* Whether requests to ep must carry the token. */
int auth_required(const struct auth *a, enum endpoint ep);

/* Checks an Authorization header value (NULL when absent). Returns 0 when
 * it is "Bearer <the token>" (the scheme in any case), -1 when absent or
 * of another scheme, -2 for a wrong token. The comparison takes the same
 * time whatever the token given, right or wrong, long or short. */
int auth_check(const struct auth *a, const char *authorization);

#endif
