/* SigV4 checking for `ecrup serve` (auth.h): the accepted key pairs, from the environment and
 * --keys files, and ECR's refusals for each of signer/'s verdicts. */
#include "server/auth.h"

#include "signer/sigv4_verify.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

struct srv_key {
    char *akid;
    char *secret;
    char *token;
};

struct srv_auth {
    struct srv_key *keys;
    size_t n, cap;
};

struct srv_auth *srv_auth_new(const char *access_key_id, const char *secret_access_key,
                              const char *session_token)
{
    struct srv_auth *a = calloc(1, sizeof *a);
    if (!a)
        return NULL;
    if (access_key_id && srv_auth_add(a, access_key_id, secret_access_key, session_token) != 0) {
        srv_auth_free(a);
        return NULL;
    }
    return a;
}

static void wipe_free(char *p)
{
    if (p) {
        explicit_bzero(p, strlen(p));
        free(p);
    }
}

int srv_auth_add(struct srv_auth *a, const char *access_key_id, const char *secret_access_key,
                 const char *session_token)
{
    if (a->n == a->cap) {
        size_t cap = a->cap ? 2 * a->cap : 4;
        struct srv_key *k = realloc(a->keys, cap * sizeof *k);
        if (!k)
            return -1;
        a->keys = k;
        a->cap = cap;
    }
    struct srv_key *k = &a->keys[a->n];
    k->akid = strdup(access_key_id);
    k->secret = strdup(secret_access_key);
    k->token = session_token && *session_token ? strdup(session_token) : NULL;
    if (!k->akid || !k->secret || (session_token && *session_token && !k->token)) {
        free(k->akid);
        wipe_free(k->secret);
        wipe_free(k->token);
        return -1;
    }
    a->n++;
    return 0;
}

int srv_auth_load_file(struct srv_auth *a, const char *path, struct ebuf *err)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        ebuf_printf(err, "--keys %s: %s", path, strerror(errno));
        return -1;
    }
    /* getline, not a fixed buffer: a long session token would be cut into two lines. The line
     * buffer starts as large as the file and stdio keeps no buffer of its own, so no copy of
     * a secret is left behind in memory that was grown away from or never wiped. */
    setvbuf(f, NULL, _IONBF, 0);
    struct stat st;
    size_t cap = fstat(fileno(f), &st) == 0 && st.st_size > 0 ? (size_t)st.st_size + 2 : 256;
    char *line = malloc(cap);
    if (!line) {
        fclose(f);
        ebuf_printf(err, "out of memory");
        return -1;
    }
    int lineno = 0, rc = 0;
    size_t before = a->n;
    while (rc == 0 && getline(&line, &cap, f) >= 0) {
        lineno++;
        char *save = NULL;
        char *fields[4] = {NULL, NULL, NULL, NULL};
        int n = 0;
        for (char *t = strtok_r(line, " \t\r\n", &save); t && n < 4;
             t = strtok_r(NULL, " \t\r\n", &save))
            fields[n++] = t;
        if (n == 0 || fields[0][0] == '#')
            continue;
        if (n < 2 || n > 3) {
            /* The line may hold a secret: name the line only. */
            ebuf_printf(err,
                        "--keys %s line %d: want ACCESS_KEY_ID SECRET_ACCESS_KEY "
                        "[SESSION_TOKEN]",
                        path, lineno);
            rc = -1;
        } else if (srv_auth_add(a, fields[0], fields[1], fields[2]) != 0) {
            ebuf_printf(err, "out of memory");
            rc = -1;
        }
    }
    if (line)
        explicit_bzero(line, cap);
    free(line);
    fclose(f);
    if (rc == 0 && a->n == before) {
        ebuf_printf(err, "--keys %s: no key pairs in the file", path);
        rc = -1;
    }
    return rc;
}

size_t srv_auth_count(const struct srv_auth *a)
{
    return a->n;
}

void srv_auth_free(struct srv_auth *a)
{
    if (!a)
        return;
    for (size_t i = 0; i < a->n; i++) {
        free(a->keys[i].akid);
        wipe_free(a->keys[i].secret);
        wipe_free(a->keys[i].token);
    }
    free(a->keys);
    free(a);
}

static bool lookup(const char *akid, const char **secret, const char **token, void *user)
{
    const struct srv_auth *a = user;
    for (size_t i = 0; i < a->n; i++)
        if (strcmp(akid, a->keys[i].akid) == 0) {
            *secret = a->keys[i].secret;
            *token = a->keys[i].token;
            return true;
        }
    return false;
}

/* The endpoint serves every region, so it verifies against whichever one the client chose. */
void srv_auth_scope_region(const struct sigv4_header *h, size_t n, char out[64])
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
    srv_auth_scope_region(headers, n_headers, region);
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
