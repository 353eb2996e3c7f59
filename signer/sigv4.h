/* AWS Signature Version 4, header signing: pure functions with the time passed in.
 *
 * The client signs with sigv4_sign() just before each attempt; the local endpoint checks
 * requests with sigv4_verify(). Both build the same canonical request, so a client and a
 * server built from this file agree by construction; the official test suite and botocore
 * keep them honest.
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

/* Outcome of checking a received request, as ECR would answer it. */
enum sigv4_verdict {
    SIGV4_OK = 0,
    SIGV4_MISSING_AUTH,   /* no Authorization header: MissingAuthenticationTokenException */
    SIGV4_MALFORMED_AUTH, /* unparsable Authorization or scope: IncompleteSignatureException */
    SIGV4_MISSING_DATE,   /* no X-Amz-Date: IncompleteSignatureException */
    SIGV4_UNKNOWN_KEY,    /* access key not accepted: UnrecognizedClientException */
    SIGV4_BAD_TOKEN,      /* session token missing or wrong: UnrecognizedClientException */
    SIGV4_STALE,          /* X-Amz-Date more than max_skew off: InvalidSignatureException
                             ("Signature expired") */
    SIGV4_BAD_SIGNATURE,  /* InvalidSignatureException */
    SIGV4_WRONG_SCOPE,    /* region or service in the scope does not match */
};

/* Looks up the secret (and the session token that must accompany it, or NULL) for an
 * access key id; returns false when the key is unknown. */
typedef bool (*sigv4_secret_lookup)(const char *access_key_id, const char **secret,
                                    const char **session_token, void *user);

/* Check a received request. `req->headers` are all headers as received (the verifier picks
 * the ones the Authorization header lists); `req->payload_sha256` is the hash of the body
 * as received. `region`/`service` NULL accept any scope. `max_skew_seconds` <= 0 means 300
 * (ECR's 5 minutes). A session token header must equal the one the lookup returns (signed
 * or not), and must be absent when the lookup returns none. `message` (may be NULL) gets an
 * ECR-style explanation appended, never containing a secret, token or signature. */
enum sigv4_verdict sigv4_verify(const struct sigv4_request *req, const char *region,
                                const char *service, time_t now, int max_skew_seconds,
                                sigv4_secret_lookup lookup, void *lookup_user,
                                struct ebuf *message);

/* The ECR exception name for a verdict ("InvalidSignatureException", ...); "" for SIGV4_OK. */
const char *sigv4_verdict_exception(enum sigv4_verdict v);

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
