/*
 * s3.h: a small client for S3-compatible object stores (AWS S3, SeaweedFS,
 * MinIO...), for the model store's s3://bucket/prefix backend.
 *
 * Objects are whole bodies in memory: GET (optionally conditional on an
 * ETag), HEAD, PUT (optionally conditional: If-None-Match: * to create
 * only, If-Match: <etag> to replace only what was read), DELETE and
 * ListObjectsV2. HTTP and SigV4 signing are libcurl's (CURLOPT_AWS_SIGV4);
 * error bodies and listings are XML, parsed with expat.
 *
 * Errors are one line naming the operation, the object and S3's error code,
 * "cannot GET s3://models/current: NoSuchBucket (404)", and never hold a
 * credential. A client is not thread-safe: use one per thread.
 */
#ifndef FR_S3_H
#define FR_S3_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"

#define S3_BUCKET_MAX 63  /* characters in a bucket name (S3's rule) */
#define S3_KEY_MAX 1024   /* bytes in an object key (S3's rule) */
#define S3_ETAG_MAX 200   /* bytes of an ETag kept, quotes included */

/* What an operation returned. Negative values are failures with err set;
 * S3_OK and S3_NOT_MODIFIED are not. */
enum s3_status {
    S3_OK = 0,
    S3_NOT_MODIFIED = 1,           /* conditional GET: the ETag still matches */
    S3_ERROR = -1,                 /* anything else (network, 403, 5xx...) */
    S3_NOT_FOUND = -2,             /* 404 NoSuchKey (not NoSuchBucket) */
    S3_PRECONDITION_FAILED = -3,   /* 412: If-Match / If-None-Match refused */
    S3_TOO_LARGE = -4              /* the object is over the caller's limit */
};

/* Settings, normally from the environment (s3_config_from_env). Strings are
 * owned by the struct (s3_config_release frees them). */
struct s3_config {
    char *endpoint;        /* "scheme://host[:port][/path]", no trailing '/';
                              NULL for AWS itself (s3.<region>.amazonaws.com) */
    char *region;          /* e.g. "us-east-1"; never NULL once loaded */
    char *access_key;      /* AWS_ACCESS_KEY_ID; never NULL once loaded */
    char *secret_key;      /* AWS_SECRET_ACCESS_KEY; never NULL once loaded */
    char *session_token;   /* AWS_SESSION_TOKEN, or NULL */
    long connect_timeout_ms; /* per attempt, > 0 */
    long timeout_ms;         /* per attempt, the whole transfer, > 0 */
    unsigned max_attempts;   /* tries per operation, 1 = no retry, <= 10 */
    long backoff_ms;         /* first back-off; doubles each retry, <= 5 s */
};

/* Loads the settings with the AWS SDKs' names: AWS_ENDPOINT_URL_S3, else
 * AWS_ENDPOINT_URL (a custom endpoint: path-style addressing);
 * AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (both required);
 * AWS_SESSION_TOKEN (optional); AWS_REGION (default us-east-1);
 * AWS_MAX_ATTEMPTS (default 3). Timeouts are 5 s to connect and 120 s per
 * attempt. Returns 0, or -1 with err set ("AWS_ACCESS_KEY_ID is not set",
 * "invalid AWS_ENDPOINT_URL 'x': ..."); cfg is then released. The message
 * never quotes a key or secret. */
int s3_config_from_env(struct s3_config *cfg, struct fr_error *err);

/* Frees cfg's strings and zeroes it (the secret's bytes first). cfg may be
 * NULL. Cannot fail. */
void s3_config_release(struct s3_config *cfg);

/* An s3:// URL split in two; both strings owned by the struct. */
struct s3_url {
    char *bucket; /* a valid bucket name (s3_bucket_valid) */
    char *key;    /* the rest after "bucket/", possibly "": a key or a
                     prefix, taken literally (no %-decoding, as the AWS
                     CLI does) */
};

/* Parses "s3://bucket", "s3://bucket/" or "s3://bucket/key/or/prefix".
 * Returns 0, or -1 with err set (not s3://, an invalid bucket name, a key
 * over S3_KEY_MAX bytes or with a control character); u is then zeroed. */
int s3_url_parse(const char *url, struct s3_url *u, struct fr_error *err);

/* Frees u's strings and zeroes it; u may be NULL. Cannot fail. */
void s3_url_release(struct s3_url *u);

/* 1 when name follows S3's general-purpose bucket rules: 3-63 characters
 * of [a-z0-9.-], a letter or digit first and last, no "..", not an IPv4
 * address, none of the reserved prefixes (xn--, sthree-, amzn-s3-demo-) or
 * suffixes (-s3alias, --ol-s3, .mrap, --x-s3, --table-s3); else 0. */
int s3_bucket_valid(const char *name);

/* 1 when key can name an object: 1 to S3_KEY_MAX bytes, no control
 * characters (they cannot be listed back in XML 1.0); else 0. */
int s3_key_valid(const char *key);

struct s3_client;

/* A client for cfg (copied: cfg can be released afterwards). Returns NULL
 * with err set when cfg lacks a valid region, the access key or the
 * secret, libcurl cannot start, or memory runs out. The caller frees it
 * with s3_client_free. */
struct s3_client *s3_client_new(const struct s3_config *cfg,
                                struct fr_error *err);

/* Closes connections and frees everything (the secret's bytes zeroed);
 * NULL does nothing. */
void s3_client_free(struct s3_client *c);

/* What S3 said about an object: filled by GET, HEAD and PUT once they sent
 * a request (success or not; left as it was when the arguments were
 * refused before any request). It may hold the ETag passed to the same
 * call as a condition. */
struct s3_object_info {
    char etag[S3_ETAG_MAX + 1]; /* as sent, quotes included; "" if none */
    uint64_t size;              /* Content-Length (GET, HEAD), bytes */
    int http_status;            /* of the last attempt; 0 if none answered */
    unsigned attempts;          /* tries made, >= 1 */
};

/* GETs bucket/key into a malloc'd buffer of *len bytes plus a NUL (the
 * caller frees *buf). An object over max_len bytes is refused (from its
 * Content-Length before reading, or as soon as the body passes max_len):
 * S3_TOO_LARGE. With if_none_match (an ETag from an earlier GET, or NULL)
 * S3 answers 304 when the object is unchanged: S3_NOT_MODIFIED, *buf NULL,
 * info->etag still set. Returns S3_OK, S3_NOT_MODIFIED, or S3_NOT_FOUND
 * (no such key), S3_TOO_LARGE or S3_ERROR with err set and *buf NULL.
 * info may be NULL. */
int s3_get(struct s3_client *c, const char *bucket, const char *key,
           size_t max_len, const char *if_none_match, uint8_t **buf,
           size_t *len, struct s3_object_info *info, struct fr_error *err);

/* HEADs bucket/key: size and ETag into info (may be NULL). Returns S3_OK,
 * or S3_NOT_FOUND or S3_ERROR with err set (a HEAD answer has no body, so
 * the message names the HTTP status, not an S3 code). */
int s3_head(struct s3_client *c, const char *bucket, const char *key,
            struct s3_object_info *info, struct fr_error *err);

/* PUTs len bytes as bucket/key, the payload's SHA-256 signed
 * (x-amz-content-sha256), so S3 refuses a body altered on the way.
 * Conditions, each NULL for none: if_none_match "*" writes only if no
 * object has the key; if_match writes only over the object with that
 * ETag. info (may be NULL) gets the new ETag. Returns S3_OK, or
 * S3_PRECONDITION_FAILED (412: the condition did not hold) or S3_ERROR
 * with err set. After a retried attempt (info->attempts > 1) a 412 may
 * mean an earlier attempt of this same call succeeded: read the object
 * back to tell. */
int s3_put(struct s3_client *c, const char *bucket, const char *key,
           const void *data, size_t len, const char *content_type,
           const char *if_none_match, const char *if_match,
           struct s3_object_info *info, struct fr_error *err);

/* DELETEs bucket/key; S3 answers success whether or not it existed.
 * Returns S3_OK, or S3_ERROR with err set. */
int s3_delete(struct s3_client *c, const char *bucket, const char *key,
              struct fr_error *err);

/* One entry of a listing. */
struct s3_list_entry {
    char *key;      /* the full key; or with a delimiter, a common prefix
                       ending in it */
    uint64_t size;  /* bytes; 0 for a common prefix */
    char modified[32]; /* LastModified as S3 wrote it, ISO 8601 UTC
                          ("2026-11-27T21:30:00.000Z": sorts as text);
                          "" for a common prefix or when absent */
    int is_prefix;  /* 1 for a common prefix (a "directory") */
};

struct s3_list {
    struct s3_list_entry *entries; /* n of them, in S3's order (by key) */
    size_t n;
    size_t cap;                    /* allocated entries, >= n */
    unsigned pages;                /* ListObjectsV2 requests it took */
};

/* Lists the keys under prefix ("" for all) with ListObjectsV2, following
 * continuation tokens page after page. With a delimiter (e.g. "/", or
 * NULL for none) keys below it are rolled up into common prefixes. At most
 * max_entries entries are kept: a larger listing fails rather than grow
 * without bound. page_size is max-keys per request (0: S3's default,
 * 1000). out must be zeroed (or released) before the call; on success the
 * caller releases it with s3_list_release. Returns S3_OK, or S3_TOO_LARGE
 * or S3_ERROR with err set (out released). */
int s3_list_objects(struct s3_client *c, const char *bucket,
                    const char *prefix, const char *delimiter,
                    size_t max_entries, unsigned page_size,
                    struct s3_list *out, struct fr_error *err);

/* Frees the entries and zeroes l; l may be NULL. Cannot fail. */
void s3_list_release(struct s3_list *l);

#endif
