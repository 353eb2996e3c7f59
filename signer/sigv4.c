/* AWS Signature Version 4 header signing and verification. See docs/sigv4.md for the rules
 * chosen where the specification leaves room (path normalisation, query encoding). */
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
#include "util/hex.h"

#define ALGORITHM        "AWS4-HMAC-SHA256"
#define EMPTY_SHA256     "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
#define DEFAULT_MAX_SKEW 300
#define KEY_CACHE_SLOTS  8
#define SCOPE_FIELD_MAX  64

static const char hexdig_upper[] = "0123456789ABCDEF";

/* ---- small helpers ---------------------------------------------------------------------- */

static bool is_unreserved(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '.' || c == '_' || c == '~';
}

/* RFC 7230 tchar: what a header name or a method may contain. Anything else could not be
 * represented in the SignedHeaders list (';', ',', '=' and whitespace are separators). */
static bool is_tchar(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
           (c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

static bool is_token(const char *s)
{
    if (!s || !*s)
        return false;
    for (; *s; s++)
        if (!is_tchar((unsigned char)*s))
            return false;
    return true;
}

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

static bool is_ws(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' || c == '\f';
}

static void uri_encode(struct ebuf *out, const char *s, size_t n, bool keep_slash)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (is_unreserved(c) || (keep_slash && c == '/')) {
            ebuf_putc(out, (char)c);
        } else {
            char esc[3] = {'%', hexdig_upper[c >> 4], hexdig_upper[c & 15]};
            ebuf_append(out, esc, 3);
        }
    }
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Percent-decoding; a '%' not followed by two hex digits stays literal, '+' stays '+'. */
static void uri_decode(struct ebuf *out, const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        int hi, lo;
        if (s[i] == '%' && i + 2 < n && (hi = hexval(s[i + 1])) >= 0 &&
            (lo = hexval(s[i + 2])) >= 0) {
            ebuf_putc(out, (char)(hi * 16 + lo));
            i += 2;
        } else {
            ebuf_putc(out, s[i]);
        }
    }
}

/* ---- canonical request ------------------------------------------------------------------ */

struct span {
    size_t off, len;
};

/* botocore's remove_dot_segments: empty and "." segments go, ".." pops, a leading '/' and a
 * trailing '/' (when anything is left) are kept. */
static int append_canonical_path(struct ebuf *out, const char *path, bool normalize)
{
    if (!path || !*path) {
        ebuf_putc(out, '/');
        return 0;
    }
    size_t n = strlen(path);
    if (!normalize) {
        uri_encode(out, path, n, true);
        return 0;
    }
    struct span *seg = malloc((n / 2 + 2) * sizeof *seg);
    if (!seg)
        return -1;
    size_t nseg = 0;
    for (size_t i = 0; i <= n;) {
        size_t j = i;
        while (j < n && path[j] != '/')
            j++;
        size_t len = j - i;
        if (len == 0 || (len == 1 && path[i] == '.')) {
            /* skipped */
        } else if (len == 2 && path[i] == '.' && path[i + 1] == '.') {
            if (nseg)
                nseg--;
        } else {
            seg[nseg++] = (struct span){i, len};
        }
        i = j + 1;
    }
    size_t start = out->len;
    if (path[0] == '/')
        ebuf_putc(out, '/');
    for (size_t k = 0; k < nseg; k++) {
        if (k)
            ebuf_putc(out, '/');
        uri_encode(out, path + seg[k].off, seg[k].len, false);
    }
    if (path[n - 1] == '/' && nseg)
        ebuf_putc(out, '/');
    if (out->len == start)
        ebuf_putc(out, '/');
    free(seg);
    return 0;
}

struct qparam {
    size_t name_off, name_len, value_off, value_len;
};

static int cmp_span(const char *base, size_t ao, size_t al, size_t bo, size_t bl)
{
    size_t m = al < bl ? al : bl;
    int c = memcmp(base + ao, base + bo, m);
    if (c)
        return c;
    return al < bl ? -1 : al > bl;
}

static int qparam_cmp_r(const void *a, const void *b, void *arg)
{
    const struct qparam *x = a, *y = b;
    const char *base = arg;
    int c = cmp_span(base, x->name_off, x->name_len, y->name_off, y->name_len);
    if (c)
        return c;
    return cmp_span(base, x->value_off, x->value_len, y->value_off, y->value_len);
}

/* Each name and value is decoded, then encoded with every reserved character escaped, and the
 * pairs sorted by encoded name then value. Empty pieces ("a&&b") are dropped; a name without
 * '=' gets an empty value ("k="). */
static int append_canonical_query(struct ebuf *out, const char *query)
{
    if (!query || !*query)
        return 0;
    size_t n = strlen(query);
    size_t cap = 1;
    for (size_t i = 0; i < n; i++)
        cap += query[i] == '&';
    struct qparam *p = malloc(cap * sizeof *p);
    if (!p)
        return -1;
    struct ebuf enc = EBUF_INIT, tmp = EBUF_INIT;
    size_t np = 0;
    for (size_t i = 0; i <= n;) {
        size_t j = i;
        while (j < n && query[j] != '&')
            j++;
        if (j > i) {
            const char *eq = memchr(query + i, '=', j - i);
            size_t name_end = eq ? (size_t)(eq - query) : j;
            struct qparam q;
            ebuf_reset(&tmp);
            uri_decode(&tmp, query + i, name_end - i);
            q.name_off = enc.len;
            uri_encode(&enc, tmp.data ? tmp.data : "", tmp.len, false);
            q.name_len = enc.len - q.name_off;
            ebuf_reset(&tmp);
            if (eq)
                uri_decode(&tmp, eq + 1, j - name_end - 1);
            q.value_off = enc.len;
            uri_encode(&enc, tmp.data ? tmp.data : "", tmp.len, false);
            q.value_len = enc.len - q.value_off;
            p[np++] = q;
        }
        i = j + 1;
    }
    int rc = ebuf_ok(&enc) && ebuf_ok(&tmp) ? 0 : -1;
    if (rc == 0 && np) {
        /* "=" alone encodes to nothing: enc.data may still be NULL */
        char *base = (char *)(uintptr_t)ebuf_str(&enc);
        qsort_r(p, np, sizeof *p, qparam_cmp_r, base);
        for (size_t k = 0; k < np; k++) {
            if (k)
                ebuf_putc(out, '&');
            ebuf_append(out, base + p[k].name_off, p[k].name_len);
            ebuf_putc(out, '=');
            ebuf_append(out, base + p[k].value_off, p[k].value_len);
        }
    }
    ebuf_free(&enc);
    ebuf_free(&tmp);
    free(p);
    return rc;
}

struct hentry {
    char *name; /* lowercased copy */
    const char *value;
    size_t index; /* position in the request, so repeated headers keep their order */
};

static int hentry_cmp(const void *a, const void *b)
{
    const struct hentry *x = a, *y = b;
    int c = strcmp(x->name, y->name);
    if (c)
        return c;
    return x->index < y->index ? -1 : x->index > y->index;
}

/* Trimall: leading and trailing whitespace removed, inner runs (line breaks of obsolete
 * folded values included) become one space. */
static void append_trimmed(struct ebuf *out, const char *v)
{
    bool pending_space = false, any = false;
    for (; *v; v++) {
        if (is_ws(*v)) {
            pending_space = any;
            continue;
        }
        if (pending_space)
            ebuf_putc(out, ' ');
        pending_space = false;
        any = true;
        ebuf_putc(out, *v);
    }
}

int sigv4_canonical_request(const struct sigv4_request *req, struct ebuf *out,
                            struct ebuf *signed_headers)
{
    if (!req || !out || !is_token(req->method) || !req->payload_sha256 ||
        (req->n_headers && !req->headers))
        return -1;
    struct hentry *h = calloc(req->n_headers ? req->n_headers : 1, sizeof *h);
    if (!h)
        return -1;
    int rc = -1;
    bool have_host = false;
    size_t nh = 0;
    for (size_t i = 0; i < req->n_headers; i++, nh++) {
        const char *name = req->headers[i].name;
        if (!is_token(name) || !req->headers[i].value)
            goto done;
        size_t len = strlen(name);
        h[i].name = malloc(len + 1);
        if (!h[i].name)
            goto done;
        for (size_t k = 0; k <= len; k++)
            h[i].name[k] = (char)tolower((unsigned char)name[k]);
        h[i].value = req->headers[i].value;
        h[i].index = i;
        if (strcmp(h[i].name, "host") == 0)
            have_host = true;
    }
    if (!have_host)
        goto done;
    qsort(h, nh, sizeof *h, hentry_cmp);

    ebuf_puts(out, req->method);
    ebuf_putc(out, '\n');
    if (append_canonical_path(out, req->path, req->normalize_path) != 0)
        goto done;
    ebuf_putc(out, '\n');
    if (append_canonical_query(out, req->query) != 0)
        goto done;
    ebuf_putc(out, '\n');
    for (size_t i = 0; i < nh; i++) {
        bool first = i == 0 || strcmp(h[i].name, h[i - 1].name) != 0;
        bool last = i + 1 == nh || strcmp(h[i].name, h[i + 1].name) != 0;
        if (first) {
            ebuf_puts(out, h[i].name);
            ebuf_putc(out, ':');
        } else {
            ebuf_putc(out, ',');
        }
        append_trimmed(out, h[i].value);
        if (last)
            ebuf_putc(out, '\n');
    }
    ebuf_putc(out, '\n');
    size_t sh_start = out->len;
    for (size_t i = 0; i < nh; i++) {
        if (i && strcmp(h[i].name, h[i - 1].name) == 0)
            continue;
        if (out->len > sh_start)
            ebuf_putc(out, ';');
        ebuf_puts(out, h[i].name);
    }
    if (signed_headers && ebuf_ok(out))
        ebuf_append(signed_headers, out->data + sh_start, out->len - sh_start);
    ebuf_putc(out, '\n');
    ebuf_puts(out, req->payload_sha256);
    rc = ebuf_ok(out) && (!signed_headers || ebuf_ok(signed_headers)) ? 0 : -1;
done:
    for (size_t i = 0; i < nh; i++)
        free(h[i].name);
    free(h);
    return rc;
}

/* ---- string to sign, keys ------------------------------------------------------------- */

void sigv4_string_to_sign(const char *canonical_request, size_t len, const char *amz_date,
                          const char *region, const char *service, struct ebuf *out)
{
    char hash[65];
    if (!sha256_hex(canonical_request, len, hash)) {
        out->oom = true;
        return;
    }
    ebuf_printf(out, ALGORITHM "\n%s\n%.8s/%s/%s/aws4_request\n%s", amz_date, amz_date, region,
                service, hash);
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
    char region[SCOPE_FIELD_MAX];
    char service[SCOPE_FIELD_MAX];
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
    if (!cache || rl >= SCOPE_FIELD_MAX || sl >= SCOPE_FIELD_MAX ||
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

/* Hex signature of `sts` under the derived key; false on a crypto failure. */
static bool compute_signature(struct sigv4_key_cache *cache, const char *secret,
                              const char *amz_date, const char *region, const char *service,
                              const struct ebuf *sts, char out[65])
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
    if (!ebuf_ok(&sts) || !compute_signature(cache, creds->secret_access_key, sig->amz_date, region,
                                             service, &sts, sig->signature))
        goto done;
    ebuf_printf(&sig->authorization,
                ALGORITHM " Credential=%s/%.8s/%s/%s/aws4_request, SignedHeaders=%s, "
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

/* ---- verification --------------------------------------------------------------------- */

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
    while (*n && is_ws(**s)) {
        (*s)++;
        (*n)--;
    }
    while (*n && is_ws((*s)[*n - 1]))
        (*n)--;
}

/* "AWS4-HMAC-SHA256 Credential=..., SignedHeaders=..., Signature=..." in any order, ',' with
 * optional spaces between components. Borrowed spans into `v`. */
static bool parse_auth(const char *v, struct parsed_auth *pa, struct ebuf *message)
{
    memset(pa, 0, sizeof *pa);
    while (is_ws(*v))
        v++;
    size_t alen = strlen(ALGORITHM);
    if (strncmp(v, ALGORITHM, alen) != 0 || !is_ws(v[alen])) {
        if (message)
            ebuf_puts(message, "Unsupported authorization type; expected " ALGORITHM ".");
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
        fl[2] >= SCOPE_FIELD_MAX || fl[3] >= SCOPE_FIELD_MAX)
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

    char akid[256], cregion[SCOPE_FIELD_MAX], cservice[SCOPE_FIELD_MAX];
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
        !compute_signature(NULL, secret, amz_date, cregion, cservice, &sts, want)) {
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

/* ---- host from URL ---------------------------------------------------------------------- */

int sigv4_host_from_url(const char *url, struct ebuf *out)
{
    if (!url || !out)
        return -1;
    ebuf_reset(out);
    const char *sep = strstr(url, "://");
    if (!sep || sep == url)
        return -1;
    size_t slen = (size_t)(sep - url);
    const char *auth = sep + 3;
    size_t alen = strcspn(auth, "/?#");
    /* userinfo ends at the last '@' of the authority */
    for (size_t i = alen; i > 0; i--) {
        if (auth[i - 1] == '@') {
            auth += i;
            alen -= i;
            break;
        }
    }
    const char *host = auth, *port = NULL;
    size_t hlen, plen = 0;
    if (alen && auth[0] == '[') {
        const char *close = memchr(auth, ']', alen);
        if (!close)
            return -1;
        hlen = (size_t)(close - auth) + 1;
        if (hlen < alen) {
            if (auth[hlen] != ':')
                return -1;
            port = auth + hlen + 1;
            plen = alen - hlen - 1;
        }
    } else {
        const char *colon = memchr(auth, ':', alen);
        hlen = colon ? (size_t)(colon - auth) : alen;
        if (colon) {
            port = colon + 1;
            plen = alen - hlen - 1;
        }
    }
    if (hlen == 0 || (host[0] == '[' && hlen <= 2))
        return -1;
    long portnum = -1;
    if (port && plen) {
        if (plen > 5)
            return -1;
        portnum = 0;
        for (size_t i = 0; i < plen; i++) {
            if (port[i] < '0' || port[i] > '9')
                return -1;
            portnum = portnum * 10 + (port[i] - '0');
        }
        if (portnum > 65535)
            return -1;
    }
    for (size_t i = 0; i < hlen; i++)
        ebuf_putc(out, (char)tolower((unsigned char)host[i]));
    bool is_default = (slen == 4 && strncasecmp(url, "http", 4) == 0 && portnum == 80) ||
                      (slen == 5 && strncasecmp(url, "https", 5) == 0 && portnum == 443);
    if (portnum >= 0 && !is_default)
        ebuf_printf(out, ":%ld", portnum);
    return ebuf_ok(out) ? 0 : -1;
}
