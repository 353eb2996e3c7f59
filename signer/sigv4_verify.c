/* The SigV4 verifier behind `ecrup serve`: checks a received request's Authorization header
 * the way ECR answers it. Built into the server's objects only (server/CMakeLists.txt), never
 * into libecrup: the library signs, it does not verify. */
#include "signer/sigv4_verify.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>

#include "util/civil.h"

#define DEFAULT_MAX_SKEW 300

static const char *find_header(const struct sigv4_request *req, const char *name)
{
    for (size_t i = 0; i < req->n_headers; i++)
        if (req->headers[i].name && req->headers[i].value &&
            strcasecmp(req->headers[i].name, name) == 0)
            return req->headers[i].value;
    return NULL;
}

struct parsed_auth {
    const char *cred, *signed_headers, *signature;
    size_t cred_len, sh_len, sig_len;
};

static void trim_span(const char **s, size_t *n)
{
    while (*n && sigv4_is_ws(**s)) {
        (*s)++;
        (*n)--;
    }
    while (*n && sigv4_is_ws((*s)[*n - 1]))
        (*n)--;
}

/* "AWS4-HMAC-SHA256 Credential=..., SignedHeaders=..., Signature=..." in any order, ',' with
 * optional spaces between components. Borrowed spans into `v`. */
static bool parse_auth(const char *v, struct parsed_auth *pa, struct ebuf *message)
{
    memset(pa, 0, sizeof *pa);
    while (sigv4_is_ws(*v))
        v++;
    size_t alen = strlen(SIGV4_ALGORITHM);
    if (strncmp(v, SIGV4_ALGORITHM, alen) != 0 || !sigv4_is_ws(v[alen])) {
        if (message)
            ebuf_puts(message, "Unsupported authorization type; expected " SIGV4_ALGORITHM ".");
        return false;
    }
    const char *p = v + alen;
    while (*p) {
        const char *end = strchr(p, ',');
        size_t n = end ? (size_t)(end - p) : strlen(p);
        const char *part = p;
        trim_span(&part, &n);
        const char *eq = memchr(part, '=', n);
        if (eq) {
            size_t kl = (size_t)(eq - part), vl = n - kl - 1;
            const char **dst = NULL;
            size_t *dlen = NULL;
            if (kl == 10 && memcmp(part, "Credential", 10) == 0) {
                dst = &pa->cred;
                dlen = &pa->cred_len;
            } else if (kl == 13 && memcmp(part, "SignedHeaders", 13) == 0) {
                dst = &pa->signed_headers;
                dlen = &pa->sh_len;
            } else if (kl == 9 && memcmp(part, "Signature", 9) == 0) {
                dst = &pa->signature;
                dlen = &pa->sig_len;
            }
            if (dst) {
                if (*dst) {
                    if (message)
                        ebuf_printf(message,
                                    "Authorization header has a repeated '%.*s' "
                                    "parameter.",
                                    (int)kl, part);
                    return false;
                }
                *dst = eq + 1;
                *dlen = vl;
            }
        }
        if (!end)
            break;
        p = end + 1;
    }
    if (!pa->cred || !pa->signed_headers || !pa->signature || !pa->cred_len || !pa->sh_len) {
        if (message) {
            if (!pa->cred || !pa->cred_len)
                ebuf_puts(message, "Authorization header requires 'Credential' parameter. ");
            if (!pa->signed_headers || !pa->sh_len)
                ebuf_puts(message, "Authorization header requires 'SignedHeaders' parameter. ");
            if (!pa->signature)
                ebuf_puts(message, "Authorization header requires 'Signature' parameter. ");
            if (message->len && message->data[message->len - 1] == ' ')
                message->data[--message->len] = '\0';
        }
        return false;
    }
    return true;
}

static enum sigv4_verdict fail(struct ebuf *message, enum sigv4_verdict v, const char *text)
{
    if (message && text)
        ebuf_puts(message, text);
    return v;
}

/* Is `name` (lowercase) one of the ';'-separated names in the list? */
static bool in_list(const char *list, size_t n, const char *name)
{
    size_t nl = strlen(name);
    for (size_t i = 0; i <= n;) {
        size_t j = i;
        while (j < n && list[j] != ';')
            j++;
        if (j - i == nl && strncasecmp(list + i, name, nl) == 0)
            return true;
        i = j + 1;
    }
    return false;
}

enum sigv4_verdict sigv4_verify(const struct sigv4_request *req, const char *region,
                                const char *service, time_t now, int max_skew_seconds,
                                sigv4_secret_lookup lookup, void *lookup_user, struct ebuf *message)
{
    if (!req || !lookup || (req->n_headers && !req->headers))
        return fail(message, SIGV4_MALFORMED_AUTH, "Malformed request.");
    const char *auth = find_header(req, "authorization");
    if (!auth)
        return fail(message, SIGV4_MISSING_AUTH, "Missing Authentication Token");
    struct parsed_auth pa;
    if (!parse_auth(auth, &pa, message))
        return SIGV4_MALFORMED_AUTH;

    /* Credential=AKID/YYYYMMDD/region/service/aws4_request */
    const char *f[5];
    size_t fl[5], nf = 0, slashes = 0;
    for (size_t i = 0; i < pa.cred_len; i++)
        slashes += pa.cred[i] == '/';
    if (slashes == 4) {
        size_t k = 0, start = 0;
        for (size_t i = 0; i <= pa.cred_len; i++) {
            if (i == pa.cred_len || pa.cred[i] == '/') {
                f[k] = pa.cred + start;
                fl[k++] = i - start;
                start = i + 1;
            }
        }
        nf = k;
    }
    int dummy;
    if (nf != 5 || fl[0] == 0 || fl[1] != 8 || !civil_digits(f[1], 8, &dummy) || fl[2] == 0 ||
        fl[3] == 0 || fl[4] != 12 || memcmp(f[4], "aws4_request", 12) != 0 || fl[0] >= 256 ||
        fl[2] >= SIGV4_SCOPE_FIELD_MAX || fl[3] >= SIGV4_SCOPE_FIELD_MAX)
        return fail(message, SIGV4_MALFORMED_AUTH,
                    "Credential should be of the form "
                    "ACCESS_KEY_ID/YYYYMMDD/region/service/aws4_request.");
    if (!in_list(pa.signed_headers, pa.sh_len, "host"))
        return fail(message, SIGV4_MALFORMED_AUTH,
                    "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization.");

    const char *amz_date = find_header(req, "x-amz-date");
    if (!amz_date)
        return fail(message, SIGV4_MISSING_DATE,
                    "Authorization header requires existence of a 'X-Amz-Date' header.");
    time_t t;
    if (!sigv4_parse_amz_date(amz_date, &t))
        return fail(message, SIGV4_MALFORMED_AUTH,
                    "X-Amz-Date must be in ISO-8601 'basic format' (YYYYMMDDTHHMMSSZ).");
    long long skew = max_skew_seconds > 0 ? max_skew_seconds : DEFAULT_MAX_SKEW;
    if ((long long)t < (long long)now - skew || (long long)t > (long long)now + skew) {
        if (message) {
            char nowstr[17], limit[17];
            sigv4_format_amz_date(now, nowstr);
            bool past = (long long)t < (long long)now - skew;
            sigv4_format_amz_date(past ? (time_t)(now - skew) : (time_t)(now + skew), limit);
            if (past)
                ebuf_printf(message,
                            "Signature expired: %s is now earlier than %s (%s - %lld min.)",
                            amz_date, limit, nowstr, skew / 60);
            else
                ebuf_printf(message,
                            "Signature not yet current: %s is still later than %s (%s + %lld "
                            "min.)",
                            amz_date, limit, nowstr, skew / 60);
        }
        return SIGV4_STALE;
    }

    char akid[256], cregion[SIGV4_SCOPE_FIELD_MAX], cservice[SIGV4_SCOPE_FIELD_MAX];
    memcpy(akid, f[0], fl[0]);
    akid[fl[0]] = '\0';
    memcpy(cregion, f[2], fl[2]);
    cregion[fl[2]] = '\0';
    memcpy(cservice, f[3], fl[3]);
    cservice[fl[3]] = '\0';

    const char *secret = NULL, *want_token = NULL;
    if (!lookup(akid, &secret, &want_token, lookup_user) || !secret)
        return fail(message, SIGV4_UNKNOWN_KEY,
                    "The security token included in the request is invalid.");
    const char *token = find_header(req, "x-amz-security-token");
    if (want_token || token) {
        size_t wl = want_token ? strlen(want_token) : 0, tl = token ? strlen(token) : 0;
        if (!want_token || !token || wl != tl || CRYPTO_memcmp(want_token, token, wl) != 0)
            return fail(message, SIGV4_BAD_TOKEN,
                        "The security token included in the request is invalid.");
    }

    if (memcmp(f[1], amz_date, 8) != 0) {
        if (message)
            ebuf_printf(message,
                        "Date in Credential scope does not match YYYYMMDD from ISO-8601 version "
                        "of date from HTTP: '%.8s' != '%.8s', from '%s'.",
                        f[1], amz_date, amz_date);
        return SIGV4_WRONG_SCOPE;
    }
    if (region && strcmp(cregion, region) != 0) {
        if (message)
            ebuf_printf(message, "Credential should be scoped to a valid region, not '%s'.",
                        cregion);
        return SIGV4_WRONG_SCOPE;
    }
    if (service && strcmp(cservice, service) != 0) {
        if (message)
            ebuf_printf(message, "Credential should be scoped to correct service: '%s'.", service);
        return SIGV4_WRONG_SCOPE;
    }

    /* Rebuild the request from the headers the client says it signed. */
    struct sigv4_header *hs = calloc(req->n_headers ? req->n_headers : 1, sizeof *hs);
    if (!hs)
        return fail(message, SIGV4_MALFORMED_AUTH, "Out of memory.");
    size_t n = 0;
    for (size_t i = 0; i < req->n_headers; i++)
        if (req->headers[i].name && req->headers[i].value &&
            in_list(pa.signed_headers, pa.sh_len, req->headers[i].name))
            hs[n++] = req->headers[i];
    struct sigv4_request r = *req;
    r.headers = hs;
    r.n_headers = n;
    struct ebuf creq = EBUF_INIT, sts = EBUF_INIT;
    enum sigv4_verdict v = SIGV4_BAD_SIGNATURE;
    char want[65];
    if (sigv4_canonical_request(&r, &creq, NULL) != 0) {
        v = fail(message, SIGV4_MALFORMED_AUTH, "The signed headers could not be canonicalised.");
        goto done;
    }
    sigv4_string_to_sign(creq.data, creq.len, amz_date, cregion, cservice, &sts);
    if (!ebuf_ok(&sts) ||
        !sigv4_signature_hex(NULL, secret, amz_date, cregion, cservice, &sts, want)) {
        v = fail(message, SIGV4_MALFORMED_AUTH, "Internal error while checking the signature.");
        goto done;
    }
    if (pa.sig_len == 64 && CRYPTO_memcmp(want, pa.signature, 64) == 0) {
        v = SIGV4_OK;
    } else if (message) {
        ebuf_printf(message,
                    "The request signature we calculated does not match the signature you "
                    "provided. Check your AWS Secret Access Key and signing method. Consult the "
                    "service documentation for details.\n\nThe String-to-Sign should have "
                    "been\n'%s'\n",
                    ebuf_str(&sts));
    }
    OPENSSL_cleanse(want, sizeof want);
done:
    if (creq.data)
        OPENSSL_cleanse(creq.data, creq.len);
    ebuf_free(&creq);
    ebuf_free(&sts);
    free(hs);
    return v;
}

const char *sigv4_verdict_exception(enum sigv4_verdict v)
{
    switch (v) {
    case SIGV4_OK:
        return "";
    case SIGV4_MISSING_AUTH:
        return "MissingAuthenticationTokenException";
    case SIGV4_MALFORMED_AUTH:
    case SIGV4_MISSING_DATE:
        return "IncompleteSignatureException";
    case SIGV4_UNKNOWN_KEY:
    case SIGV4_BAD_TOKEN:
        return "UnrecognizedClientException";
    case SIGV4_STALE:
    case SIGV4_BAD_SIGNATURE:
    case SIGV4_WRONG_SCOPE:
        return "InvalidSignatureException";
    }
    return "InvalidSignatureException";
}
