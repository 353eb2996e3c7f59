/* SigV4 signing: the derived-key cache, the HMAC chain, and sigv4_sign(), which adds the date
 * (and session token) headers to a request and produces its Authorization value. The verifier
 * only the server uses is in sigv4_verify.c, so the library's signing path does not carry it. */
#include "signer/sigv4.h"

#include <ctype.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#include "util/civil.h"
#include "signer/url.h"
#include "util/hex.h"

#define KEY_CACHE_SLOTS 8

/* A credential scope field (access key id, region, service) must survive being joined with
 * '/' and split back by a verifier. */
static bool is_scope_field(const char *s)
{
    if (!s || !*s)
        return false;
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c <= ' ' || c == 0x7f || c == '/' || c == ',' || c == ';' || c == '=')
            return false;
    }
    return true;
}
static EVP_MAC *hmac_alg;
static pthread_once_t hmac_once = PTHREAD_ONCE_INIT;

/* Fetched once: the implicit fetch inside every EVP_MAC_CTX would cost a provider lookup per
 * HMAC. The object is never freed (OpenSSL's own cleanup at exit owns the provider). */
static void fetch_hmac(void)
{
    hmac_alg = EVP_MAC_fetch(NULL, "HMAC", NULL);
}

static bool hmac_sha256(const void *key, size_t keylen, const void *data, size_t len,
                        unsigned char out[32])
{
    pthread_once(&hmac_once, fetch_hmac);
    if (!hmac_alg)
        return false;
    EVP_MAC_CTX *ctx = EVP_MAC_CTX_new(hmac_alg);
    if (!ctx)
        return false;
    static char digest[] = "SHA256";
    OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0),
                           OSSL_PARAM_construct_end()};
    size_t outlen = 0;
    bool ok = EVP_MAC_init(ctx, key, keylen, params) && EVP_MAC_update(ctx, data, len) &&
              EVP_MAC_final(ctx, out, &outlen, 32) && outlen == 32;
    EVP_MAC_CTX_free(ctx);
    return ok;
}

static bool derive_key(const char *secret, const char *date8, const char *region,
                       const char *service, unsigned char key[32])
{
    size_t slen = strlen(secret);
    unsigned char *k0 = malloc(slen + 4);
    if (!k0)
        return false;
    memcpy(k0, "AWS4", 4);
    memcpy(k0 + 4, secret, slen);
    unsigned char a[32], b[32];
    bool ok = hmac_sha256(k0, slen + 4, date8, 8, a) &&
              hmac_sha256(a, 32, region, strlen(region), b) &&
              hmac_sha256(b, 32, service, strlen(service), a) &&
              hmac_sha256(a, 32, "aws4_request", 12, key);
    OPENSSL_cleanse(k0, slen + 4);
    OPENSSL_cleanse(a, sizeof a);
    OPENSSL_cleanse(b, sizeof b);
    free(k0);
    return ok;
}

/* The cache holds no copy of a secret: slots are keyed by SHA-256(secret). */
struct key_slot {
    bool used;
    uint64_t last_use;
    unsigned char secret_id[32];
    char date[9];
    char region[SIGV4_SCOPE_FIELD_MAX];
    char service[SIGV4_SCOPE_FIELD_MAX];
    unsigned char key[32];
};

struct sigv4_key_cache {
    pthread_mutex_t lock; /* guards everything below */
    uint64_t tick;
    struct key_slot slot[KEY_CACHE_SLOTS];
};

struct sigv4_key_cache *sigv4_key_cache_new(void)
{
    struct sigv4_key_cache *c = calloc(1, sizeof *c);
    if (c && pthread_mutex_init(&c->lock, NULL) != 0) {
        free(c);
        return NULL;
    }
    return c;
}

void sigv4_key_cache_free(struct sigv4_key_cache *cache)
{
    if (!cache)
        return;
    pthread_mutex_destroy(&cache->lock);
    OPENSSL_cleanse(cache, sizeof *cache);
    free(cache);
}

static bool signing_key(struct sigv4_key_cache *cache, const char *secret, const char *date8,
                        const char *region, const char *service, unsigned char key[32])
{
    size_t rl = strlen(region), sl = strlen(service);
    unsigned char id[32];
    unsigned int idlen = 0;
    if (!cache || rl >= SIGV4_SCOPE_FIELD_MAX || sl >= SIGV4_SCOPE_FIELD_MAX ||
        !EVP_Digest(secret, strlen(secret), id, &idlen, EVP_sha256(), NULL))
        return derive_key(secret, date8, region, service, key);

    pthread_mutex_lock(&cache->lock);
    for (size_t i = 0; i < KEY_CACHE_SLOTS; i++) {
        struct key_slot *s = &cache->slot[i];
        if (s->used && memcmp(s->secret_id, id, 32) == 0 && memcmp(s->date, date8, 8) == 0 &&
            strcmp(s->region, region) == 0 && strcmp(s->service, service) == 0) {
            s->last_use = ++cache->tick;
            memcpy(key, s->key, 32);
            pthread_mutex_unlock(&cache->lock);
            return true;
        }
    }
    pthread_mutex_unlock(&cache->lock);

    /* Derived outside the lock; two threads missing at once both derive, which is harmless. */
    if (!derive_key(secret, date8, region, service, key))
        return false;

    pthread_mutex_lock(&cache->lock);
    struct key_slot *victim = &cache->slot[0];
    for (size_t i = 0; i < KEY_CACHE_SLOTS; i++) {
        struct key_slot *s = &cache->slot[i];
        if (!s->used) {
            victim = s;
            break;
        }
        if (s->last_use < victim->last_use)
            victim = s;
    }
    OPENSSL_cleanse(victim, sizeof *victim);
    victim->used = true;
    victim->last_use = ++cache->tick;
    memcpy(victim->secret_id, id, 32);
    memcpy(victim->date, date8, 8);
    memcpy(victim->region, region, rl + 1);
    memcpy(victim->service, service, sl + 1);
    memcpy(victim->key, key, 32);
    pthread_mutex_unlock(&cache->lock);
    return true;
}

bool sigv4_signature_hex(struct sigv4_key_cache *cache, const char *secret, const char *amz_date,
                         const char *region, const char *service, const struct ebuf *sts,
                         char out[65])
{
    char date8[9];
    memcpy(date8, amz_date, 8);
    date8[8] = '\0';
    unsigned char key[32], mac[32];
    bool ok = signing_key(cache, secret, date8, region, service, key) &&
              hmac_sha256(key, 32, ebuf_str(sts), sts->len, mac);
    if (ok)
        hex_encode(mac, 32, out);
    OPENSSL_cleanse(key, sizeof key);
    OPENSSL_cleanse(mac, sizeof mac);
    return ok;
}

/* ---- dates ---------------------------------------------------------------------------- */

void sigv4_format_amz_date(time_t t, char out[17])
{
    struct tm tm;
    if (!gmtime_r(&t, &tm) || tm.tm_year + 1900 < 0 || tm.tm_year + 1900 > 9999) {
        memcpy(out, "19700101T000000Z", 17);
        return;
    }
    int f[6] = {tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec};
    char *p = out;
    for (int i = 0; i < 6; i++) {
        int width = i == 0 ? 4 : 2, v = f[i];
        for (int k = width - 1; k >= 0; k--, v /= 10)
            p[k] = (char)('0' + v % 10);
        p += width;
        if (i == 2)
            *p++ = 'T';
    }
    *p++ = 'Z';
    *p = '\0';
}

bool sigv4_parse_amz_date(const char *s, time_t *out)
{
    int y, mo, d, h, mi, se;
    return s && strlen(s) == 16 && s[8] == 'T' && s[15] == 'Z' && civil_digits(s, 4, &y) &&
           civil_digits(s + 4, 2, &mo) && civil_digits(s + 6, 2, &d) &&
           civil_digits(s + 9, 2, &h) && civil_digits(s + 11, 2, &mi) &&
           civil_digits(s + 13, 2, &se) && civil_to_unix(y, mo, d, h, mi, se, out);
}

/* ---- signing -------------------------------------------------------------------------- */

int sigv4_sign(const struct sigv4_request *req, const struct sigv4_credentials *creds,
               const char *region, const char *service, time_t now, struct sigv4_key_cache *cache,
               struct sigv4_signature *sig)
{
    if (!sig)
        return -1;
    memset(sig, 0, sizeof *sig);
    ebuf_init(&sig->authorization);
    if (!req || !creds || !is_scope_field(creds->access_key_id) || !creds->secret_access_key ||
        !is_scope_field(region) || !is_scope_field(service) || (req->n_headers && !req->headers))
        return -1;

    sigv4_format_amz_date(now, sig->amz_date);
    struct sigv4_header *hs = calloc(req->n_headers + 2, sizeof *hs);
    if (!hs)
        return -1;
    size_t n = 0;
    /* The signer owns these three: a retry may hand back the previous attempt's headers. */
    for (size_t i = 0; i < req->n_headers; i++) {
        const char *name = req->headers[i].name;
        if (name &&
            (strcasecmp(name, "authorization") == 0 || strcasecmp(name, "x-amz-date") == 0 ||
             strcasecmp(name, "x-amz-security-token") == 0))
            continue;
        hs[n++] = req->headers[i];
    }
    hs[n++] = (struct sigv4_header){"x-amz-date", sig->amz_date};
    if (creds->session_token)
        hs[n++] = (struct sigv4_header){"x-amz-security-token", creds->session_token};
    struct sigv4_request r = *req;
    r.headers = hs;
    r.n_headers = n;

    struct ebuf creq = EBUF_INIT, sh = EBUF_INIT, sts = EBUF_INIT;
    int rc = -1;
    if (sigv4_canonical_request(&r, &creq, &sh) != 0)
        goto done;
    sigv4_string_to_sign(creq.data, creq.len, sig->amz_date, region, service, &sts);
    if (!ebuf_ok(&sts) || !sigv4_signature_hex(cache, creds->secret_access_key, sig->amz_date,
                                               region, service, &sts, sig->signature))
        goto done;
    ebuf_printf(&sig->authorization,
                SIGV4_ALGORITHM " Credential=%s/%.8s/%s/%s/aws4_request, SignedHeaders=%s, "
                                "Signature=%s",
                creds->access_key_id, sig->amz_date, region, service, ebuf_str(&sh),
                sig->signature);
    rc = ebuf_ok(&sig->authorization) ? 0 : -1;
done:
    if (creq.data)
        OPENSSL_cleanse(creq.data, creq.len); /* holds the session token */
    ebuf_free(&creq);
    ebuf_free(&sh);
    ebuf_free(&sts);
    free(hs);
    if (rc != 0)
        sigv4_signature_free(sig);
    return rc;
}

void sigv4_signature_free(struct sigv4_signature *sig)
{
    if (!sig)
        return;
    if (sig->authorization.data)
        OPENSSL_cleanse(sig->authorization.data, sig->authorization.len);
    ebuf_free(&sig->authorization);
    OPENSSL_cleanse(sig->signature, sizeof sig->signature);
}

/* ---- host from URL ---------------------------------------------------------------------- */

int sigv4_host_from_url(const char *url, struct ebuf *out)
{
    if (!url || !out)
        return -1;
    ebuf_reset(out);
    struct url_parts u;
    if (!url_split(url, &u) || u.scheme_len == 0 || u.problem != URL_HOST_FINE || u.host_len == 0 ||
        (u.bracketed && u.host_len <= 2))
        return -1;
    /* "host:" with nothing after the colon means no port, as botocore reads it. */
    bool has_port = u.port && u.port_len;
    unsigned port = 0;
    if (has_port && !url_port_number(u.port, u.port_len, &port))
        return -1;
    for (size_t i = 0; i < u.host_len; i++)
        ebuf_putc(out, (char)tolower((unsigned char)u.host[i]));
    bool is_default = (u.scheme_len == 4 && strncasecmp(url, "http", 4) == 0 && port == 80) ||
                      (u.scheme_len == 5 && strncasecmp(url, "https", 5) == 0 && port == 443);
    if (has_port && !is_default)
        ebuf_printf(out, ":%u", port);
    return ebuf_ok(out) ? 0 : -1;
}
