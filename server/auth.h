/* SigV4 checking for `ecrup serve`: the accepted key pair and the mapping of signer/'s
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

/* Accept one key pair (copied); `session_token` may be NULL. */
struct srv_auth *srv_auth_new(const char *access_key_id, const char *secret_access_key,
                              const char *session_token);
void srv_auth_free(struct srv_auth *a);

/* Check a request's signature. `payload_sha256` is the hex SHA-256 of the body as received,
 * or NULL when the body was not hashed (sink mode's UploadLayerPart): then everything but the
 * signature itself is checked (header form, key, token, date). Returns true when accepted;
 * otherwise fills `out` with ECR's refusal. */
bool srv_auth_check(const struct srv_auth *a, const char *method, const char *path,
                    const struct sigv4_header *headers, size_t n_headers,
                    const char *payload_sha256, time_t now, struct srv_reply *out);

#endif
