/* SigV4 checking for `ecrup serve`: the accepted key pairs and the mapping of signer/'s
 * verdicts to the errors ECR answers. Immutable after creation; any thread may call it. */
#ifndef ECRUP_SERVER_AUTH_H
#define ECRUP_SERVER_AUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "server/registry.h"
#include "signer/sigv4.h"

#define SRV_AUTH_MAX_SKEW 300 /* seconds, as AWS allows */

struct srv_auth;

/* Accept one key pair (copied); `session_token` may be NULL. A NULL `access_key_id` starts
 * with no pair (add them with the calls below before serving). */
struct srv_auth *srv_auth_new(const char *access_key_id, const char *secret_access_key,
                              const char *session_token);
/* Accept one more pair (copied). Only before the server starts: not thread-safe. 0 or -1. */
int srv_auth_add(struct srv_auth *a, const char *access_key_id, const char *secret_access_key,
                 const char *session_token);
/* Accept every pair in a file of `ACCESS_KEY_ID SECRET_ACCESS_KEY [SESSION_TOKEN]` lines
 * (blank lines and lines starting with # skipped). 0, or -1 with a message (never a secret)
 * in err. Only before the server starts. */
int srv_auth_load_file(struct srv_auth *a, const char *path, struct ebuf *err);
size_t srv_auth_count(const struct srv_auth *a);
void srv_auth_free(struct srv_auth *a);

/* Check a request's signature. `payload_sha256` is the hex SHA-256 of the body as received,
 * or NULL when the body was not hashed (sink mode's UploadLayerPart): then everything but the
 * signature itself is checked (header form, key, token, date). Returns true when accepted;
 * otherwise fills `out` with ECR's refusal. */
bool srv_auth_check(const struct srv_auth *a, const char *method, const char *path,
                    const struct sigv4_header *headers, size_t n_headers,
                    const char *payload_sha256, time_t now, struct srv_reply *out);

/* The region a request was signed for: the third field of its Authorization header's
 * Credential scope, or "" when there is none (or it is 64 bytes or longer). */
void srv_auth_scope_region(const struct sigv4_header *headers, size_t n_headers, char out[64]);

#endif
