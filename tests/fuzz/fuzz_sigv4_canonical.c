/* Arbitrary bytes as a request: line 1 the method, 2 the path, 3 the query, 4 flags (bit 0:
 * normalize the path, bit 1: sign with a session token), then "name:value" header lines.
 * The canonical request builder and the verifier must survive anything, and whatever the
 * signer accepts the verifier must accept back (sign -> verify == SIGV4_OK). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "signer/sigv4_verify.h"

#define MAX_FIELDS 24
#define NOW        1440938160
#define EMPTY_HASH "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

static const char akid[] = "AKIDFUZZ";
static const char secret[] = "fuzz/secret+key";
static const char token[] = "fuzz+token/==";

static bool lookup(const char *id, const char **s, const char **t, void *user)
{
    const char *want_token = user;
    if (strcmp(id, akid) != 0)
        return false;
    *s = secret;
    *t = want_token;
    return true;
}

static bool owned_by_signer(const char *name)
{
    return strcasecmp(name, "authorization") == 0 || strcasecmp(name, "x-amz-date") == 0 ||
           strcasecmp(name, "x-amz-security-token") == 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *buf = malloc(size + 1);
    if (!buf)
        return 0;
    memcpy(buf, data, size);
    buf[size] = '\0';
    char *line[MAX_FIELDS + 4];
    size_t nl = 0;
    char *p = buf;
    while (nl < MAX_FIELDS + 4) {
        line[nl++] = p;
        char *e = strchr(p, '\n');
        if (!e)
            break;
        *e = '\0';
        p = e + 1;
    }
    if (nl < 4) {
        free(buf);
        return 0;
    }
    unsigned flags = (unsigned char)line[3][0];
    struct sigv4_header raw[MAX_FIELDS], kept[MAX_FIELDS + 3];
    size_t nraw = 0, nkept = 0;
    for (size_t i = 4; i < nl; i++) {
        char *colon = strchr(line[i], ':');
        if (!colon)
            continue;
        *colon = '\0';
        raw[nraw] = (struct sigv4_header){line[i], colon + 1};
        if (!owned_by_signer(line[i]))
            kept[nkept++] = raw[nraw];
        nraw++;
    }
    struct sigv4_request req = {line[0], line[1], line[2], raw, nraw, EMPTY_HASH, flags & 1};
    struct ebuf out = EBUF_INIT, sh = EBUF_INIT, msg = EBUF_INIT;
    if (sigv4_canonical_request(&req, &out, &sh) == 0 && out.len == 0)
        abort();
    (void)sigv4_verify(&req, "us-east-1", "ecr", NOW, 300, lookup, NULL, &msg);

    const char *tok = (flags & 2) ? token : NULL;
    struct sigv4_credentials creds = {akid, secret, tok};
    struct sigv4_request to_sign = req;
    to_sign.headers = kept;
    to_sign.n_headers = nkept;
    struct sigv4_signature sig;
    if (sigv4_sign(&to_sign, &creds, "us-east-1", "ecr", NOW, NULL, &sig) == 0) {
        kept[nkept++] = (struct sigv4_header){"X-Amz-Date", sig.amz_date};
        if (tok)
            kept[nkept++] = (struct sigv4_header){"X-Amz-Security-Token", tok};
        kept[nkept++] = (struct sigv4_header){"Authorization", ebuf_str(&sig.authorization)};
        struct sigv4_request rx = to_sign;
        rx.headers = kept;
        rx.n_headers = nkept;
        ebuf_reset(&msg);
        enum sigv4_verdict v = sigv4_verify(&rx, "us-east-1", "ecr", NOW + 10, 300, lookup,
                                            (void *)(uintptr_t)tok, &msg);
        if (v != SIGV4_OK) {
            fprintf(stderr, "signed request rejected (%d): %s\n", (int)v, ebuf_str(&msg));
            abort();
        }
        sigv4_signature_free(&sig);
    }
    ebuf_free(&out);
    ebuf_free(&sh);
    ebuf_free(&msg);
    free(buf);
    return 0;
}
