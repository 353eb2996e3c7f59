#include "server/auth.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

struct srv_auth {
    char *akid;
    char *secret;
    char *token;
};

struct srv_auth *srv_auth_new(const char *access_key_id, const char *secret_access_key,
                              const char *session_token)
{
    struct srv_auth *a = calloc(1, sizeof *a);
    if (!a)
        return NULL;
    a->akid = strdup(access_key_id);
    a->secret = strdup(secret_access_key);
    a->token = session_token && *session_token ? strdup(session_token) : NULL;
    if (!a->akid || !a->secret || (session_token && *session_token && !a->token)) {
        srv_auth_free(a);
        return NULL;
    }
    return a;
}

void srv_auth_free(struct srv_auth *a)
{
    if (!a)
        return;
    free(a->akid);
    if (a->secret) {
        explicit_bzero(a->secret, strlen(a->secret));
        free(a->secret);
    }
    free(a->token);
    free(a);
}

static bool lookup(const char *akid, const char **secret, const char **token, void *user)
{
    const struct srv_auth *a = user;
    if (strcmp(akid, a->akid) != 0)
        return false;
    *secret = a->secret;
    *token = a->token;
    return true;
}

/* The region the client signed for: the third field of the Credential scope. The endpoint
 * serves every region, so it verifies against whichever one the client chose. */
static void scope_region(const struct sigv4_header *h, size_t n, char out[64])
{
    out[0] = '\0';
    for (size_t i = 0; i < n; i++) {
        if (strcasecmp(h[i].name, "authorization") != 0)
            continue;
        const char *c = strstr(h[i].value, "Credential=");
        if (!c)
            return;
        c += strlen("Credential=");
        for (int field = 0; field < 2; field++) {
            c = strchr(c, '/');
            if (!c)
                return;
            c++;
        }
        size_t len = strcspn(c, "/,");
        if (len < 64) {
            memcpy(out, c, len);
            out[len] = '\0';
        }
        return;
    }
}

bool srv_auth_check(const struct srv_auth *a, const char *method, const char *path,
                    const struct sigv4_header *headers, size_t n_headers,
                    const char *payload_sha256, time_t now, struct srv_reply *out)
{
    char region[64];
    scope_region(headers, n_headers, region);
    /* An unhashed body: any hash will do, a signature mismatch is then not held against it. */
    static const char placeholder[] =
        "0000000000000000000000000000000000000000000000000000000000000000";
    struct sigv4_request req = {
        .method = method,
        .path = path,
        .query = NULL,
        .headers = headers,
        .n_headers = n_headers,
        .payload_sha256 = payload_sha256 ? payload_sha256 : placeholder,
        .normalize_path = true,
    };
    struct ebuf msg = EBUF_INIT;
    enum sigv4_verdict v = sigv4_verify(&req, region[0] ? region : "us-east-1", "ecr", now,
                                        SRV_AUTH_MAX_SKEW, lookup, (void *)(uintptr_t)a, &msg);
    if (v == SIGV4_BAD_SIGNATURE && !payload_sha256)
        v = SIGV4_OK;
    const char *m = msg.len ? ebuf_str(&msg) : NULL;
    switch (v) {
    case SIGV4_OK:
        break;
    case SIGV4_MISSING_AUTH:
        srv_reply_error(out, 403, "MissingAuthenticationTokenException", "%s",
                        m ? m : "Missing Authentication Token");
        break;
    case SIGV4_MALFORMED_AUTH:
    case SIGV4_MISSING_DATE:
        srv_reply_error(out, 403, "IncompleteSignatureException", "%s",
                        m ? m : "The request signature is incomplete");
        break;
    case SIGV4_UNKNOWN_KEY:
    case SIGV4_BAD_TOKEN:
        srv_reply_error(out, 403, "UnrecognizedClientException", "%s",
                        m ? m : "The security token included in the request is invalid.");
        break;
    case SIGV4_STALE:
        srv_reply_error(out, 403, "InvalidSignatureException", "%s", m ? m : "Signature expired");
        break;
    case SIGV4_BAD_SIGNATURE:
    case SIGV4_WRONG_SCOPE:
    default:
        srv_reply_error(out, 403, "InvalidSignatureException", "%s",
                        m ? m
                          : "The request signature we calculated does not match the signature "
                            "you provided.");
        break;
    }
    ebuf_free(&msg);
    return v == SIGV4_OK;
}
