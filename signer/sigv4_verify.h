/* The SigV4 verifier the local endpoint (`ecrup serve`) checks requests with. It lives in the
 * server's objects only: the library signs and never verifies.
 *
 * Thread safety: sigv4_verify() is reentrant. */
#ifndef ECRUP_SIGNER_SIGV4_VERIFY_H
#define ECRUP_SIGNER_SIGV4_VERIFY_H

#include "signer/sigv4.h"

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

#endif
