/* AWS Signature Version 4, header signing: pure functions with the time passed in.
 *
 * The client signs with sigv4_sign() just before each attempt; the local endpoint checks
 * requests with sigv4_verify() (sigv4_verify.h, server only). Both build the same canonical
 * request (sigv4_canonical.c), so a client and a server agree by construction; the official
 * test suite and botocore keep them honest.
 *
 * Thread safety: every function is reentrant. struct sigv4_key_cache is internally locked
 * and may be shared by all threads that sign with the same secret. */
#ifndef ECRUP_SIGNER_SIGV4_H
#define ECRUP_SIGNER_SIGV4_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "util/buf.h"

/* SHA-256 of the empty body, for requests without one. */
#define SIGV4_EMPTY_PAYLOAD_SHA256                                                                 \
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

#define SIGV4_ALGORITHM "AWS4-HMAC-SHA256"
/* Longest region or service name a key cache slot or the verifier holds, NUL included. */
#define SIGV4_SCOPE_FIELD_MAX 64

/* SigV4's whitespace: what trimall folds in header values and what separates the parts of an
 * Authorization header. */
static inline bool sigv4_is_ws(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' || c == '\f';
}

/* One request header. Name in any case; value as sent (trimmed and folded when signed). */
struct sigv4_header {
    const char *name;
    const char *value;
};

/* A request to sign or verify. Every pointer is borrowed for the duration of the call. */
struct sigv4_request {
    const char *method;                 /* "POST" */
    const char *path;                   /* raw path as sent: "/" for ECR */
    const char *query;                  /* raw query without '?'; NULL or "" when none */
    const struct sigv4_header *headers; /* headers to sign; must include host */
    size_t n_headers;
    const char *payload_sha256; /* 64 lowercase hex digits of SHA-256(body) */
    bool normalize_path;        /* true for every service but S3 */
};

struct sigv4_credentials {
    const char *access_key_id;
    const char *secret_access_key;
    const char *session_token; /* NULL when none */
};

/* What sigv4_sign() produces: the headers the caller must add to the request it sends. */
struct sigv4_signature {
    char amz_date[17];         /* X-Amz-Date value, "YYYYMMDDTHHMMSSZ" */
    char signature[65];        /* hex; a secret: never log it */
    struct ebuf authorization; /* Authorization header value; owned, free with ebuf_free */
};

/* Derived signing keys, cached per (secret, date, region, service). */
struct sigv4_key_cache;
struct sigv4_key_cache *sigv4_key_cache_new(void);
void sigv4_key_cache_free(struct sigv4_key_cache *cache);

/* The canonical request for `req` whose headers already include x-amz-date (and
 * x-amz-security-token when used). Appends to `out`; `signed_headers` (may be NULL) gets the
 * "a;b;c" list. Returns 0, or -1 when the request is malformed (e.g. no host header). */
int sigv4_canonical_request(const struct sigv4_request *req, struct ebuf *out,
                            struct ebuf *signed_headers);

/* The string to sign for a canonical request at `amz_date` in `region`/`service`. */
void sigv4_string_to_sign(const char *canonical_request, size_t len, const char *amz_date,
                          const char *region, const char *service, struct ebuf *out);

/* Sign `req` at time `now` (Unix seconds). The signer adds x-amz-date and, when
 * creds->session_token is set, x-amz-security-token to the signed headers itself (any
 * Authorization, X-Amz-Date or X-Amz-Security-Token in req->headers is ignored, so a retry
 * may pass the previous attempt's list); the caller sends them (X-Amz-Date: sig->amz_date,
 * X-Amz-Security-Token: the token) with `Authorization: sig->authorization`. `cache` may be
 * NULL. The access key id, region and service must not contain '/', ',', ';', '=' or
 * whitespace. `sig` is always initialised (free it either way). Returns 0 or -1. */
int sigv4_sign(const struct sigv4_request *req, const struct sigv4_credentials *creds,
               const char *region, const char *service, time_t now, struct sigv4_key_cache *cache,
               struct sigv4_signature *sig);
void sigv4_signature_free(struct sigv4_signature *sig);

/* The hex signature of the string to sign `sts` under the key derived from `secret` for the
 * date in `amz_date` ("YYYYMMDD..."), `region` and `service`, through `cache` (may be NULL).
 * What sigv4_sign() and sigv4_verify() both compute. False on a crypto or memory failure. */
bool sigv4_signature_hex(struct sigv4_key_cache *cache, const char *secret, const char *amz_date,
                         const char *region, const char *service, const struct ebuf *sts,
                         char out[65]);

/* "YYYYMMDDTHHMMSSZ" for `t`; parse the same back (false when malformed). */
void sigv4_format_amz_date(time_t t, char out[17]);
bool sigv4_parse_amz_date(const char *s, time_t *out);

/* The Host header value to send and sign for an endpoint URL, as botocore derives it:
 * lowercase host, IPv6 literal kept in brackets, userinfo dropped, port kept only when it
 * is not the scheme's default (80 for http, 443 for https). Replaces the contents of `out`.
 * Returns 0, or -1 when the URL has no scheme or host. The engine must send exactly this
 * value as Host (set it explicitly: libcurl would keep the URL's letter case). */
int sigv4_host_from_url(const char *url, struct ebuf *out);

#endif
