/* DPoP proofs for the sign-in service. See dpop.h. */
#include "signer/dpop.h"

#include <cjson/cJSON.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define COORD_LEN 32 /* P-256 */

EVP_PKEY *dpop_key_load(const char *text)
{
    /* botocore keeps the lines that are not armour and base64-decodes their concatenation. */
    size_t cap = strlen(text);
    unsigned char *b64 = malloc(cap + 1), *der = malloc(cap + 1);
    EVP_PKEY *key = NULL;
    size_t n = 0;
    if (!b64 || !der)
        goto done;
    for (const char *line = text; *line;) {
        size_t len = strcspn(line, "\r\n");
        if (strncmp(line, "-----", 5) != 0)
            for (size_t i = 0; i < len; i++)
                if (line[i] != ' ' && line[i] != '\t')
                    b64[n++] = (unsigned char)line[i];
        line += len;
        line += strspn(line, "\r\n");
    }
    int outl = 0, fin = 0;
    EVP_ENCODE_CTX *ctx = EVP_ENCODE_CTX_new();
    bool decoded = ctx && n > 0 && (EVP_DecodeInit(ctx), 1) &&
                   EVP_DecodeUpdate(ctx, der, &outl, b64, (int)n) >= 0 &&
                   EVP_DecodeFinal(ctx, der + outl, &fin) == 1;
    EVP_ENCODE_CTX_free(ctx);
    if (!decoded)
        goto done;
    const unsigned char *p = der;
    long der_len = (long)outl + fin;
    key = d2i_AutoPrivateKey(NULL, &p, der_len);
    char group[32] = "";
    if (key && (p != der + der_len || !EVP_PKEY_is_a(key, "EC") ||
                !EVP_PKEY_get_utf8_string_param(key, OSSL_PKEY_PARAM_GROUP_NAME, group,
                                                sizeof group, NULL) ||
                (strcmp(group, "prime256v1") != 0 && strcmp(group, "P-256") != 0))) {
        EVP_PKEY_free(key);
        key = NULL;
    }
done:
    if (b64)
        OPENSSL_cleanse(b64, cap + 1);
    if (der)
        OPENSSL_cleanse(der, cap + 1);
    free(b64);
    free(der);
    return key;
}

void dpop_base64url(const unsigned char *in, size_t n, struct ebuf *out)
{
    static const char alphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    for (size_t i = 0; i < n; i += 3) {
        unsigned v = (unsigned)in[i] << 16;
        if (i + 1 < n)
            v |= (unsigned)in[i + 1] << 8;
        if (i + 2 < n)
            v |= in[i + 2];
        char quad[4] = {alphabet[(v >> 18) & 63], alphabet[(v >> 12) & 63], alphabet[(v >> 6) & 63],
                        alphabet[v & 63]};
        ebuf_append(out, quad, n - i >= 3 ? 4 : n - i + 1);
    }
}

bool dpop_der_to_jws(const unsigned char *der, size_t len, unsigned char out[64])
{
    const unsigned char *p = der;
    ECDSA_SIG *sig = len <= 512 ? d2i_ECDSA_SIG(NULL, &p, (long)len) : NULL;
    bool ok = false;
    if (sig && p == der + len) {
        const BIGNUM *r = NULL, *s = NULL;
        ECDSA_SIG_get0(sig, &r, &s);
        ok = !BN_is_negative(r) && !BN_is_negative(s) &&
             BN_bn2binpad(r, out, COORD_LEN) == COORD_LEN &&
             BN_bn2binpad(s, out + COORD_LEN, COORD_LEN) == COORD_LEN;
    }
    ECDSA_SIG_free(sig);
    return ok;
}

/* botocore's str(uuid.uuid4()). */
static bool random_uuid(char out[37])
{
    unsigned char b[16];
    if (RAND_bytes(b, sizeof b) != 1)
        return false;
    b[6] = (unsigned char)((b[6] & 0x0f) | 0x40);
    b[8] = (unsigned char)((b[8] & 0x3f) | 0x80);
    snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0],
             b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13],
             b[14], b[15]);
    return true;
}

static bool coordinate(EVP_PKEY *key, const char *param, struct ebuf *out)
{
    BIGNUM *bn = NULL;
    unsigned char bytes[COORD_LEN];
    bool ok = EVP_PKEY_get_bn_param(key, param, &bn) == 1 &&
              BN_bn2binpad(bn, bytes, COORD_LEN) == COORD_LEN;
    BN_free(bn);
    if (ok)
        dpop_base64url(bytes, COORD_LEN, out);
    return ok;
}

/* The two JSON parts, in botocore's key order, compact as its separators=(',', ':'). */
static char *part_json(EVP_PKEY *key, const char *url, time_t iat, const char *jti, bool header)
{
    cJSON *o = cJSON_CreateObject(), *jwk = NULL;
    struct ebuf x = EBUF_INIT, y = EBUF_INIT;
    char *text = NULL;
    bool ok = o != NULL;
    if (ok && header) {
        ok = coordinate(key, OSSL_PKEY_PARAM_EC_PUB_X, &x) &&
             coordinate(key, OSSL_PKEY_PARAM_EC_PUB_Y, &y) && ebuf_ok(&x) && ebuf_ok(&y) &&
             cJSON_AddStringToObject(o, "typ", "dpop+jwt") &&
             cJSON_AddStringToObject(o, "alg", "ES256") &&
             (jwk = cJSON_AddObjectToObject(o, "jwk")) != NULL &&
             cJSON_AddStringToObject(jwk, "kty", "EC") &&
             cJSON_AddStringToObject(jwk, "x", ebuf_str(&x)) &&
             cJSON_AddStringToObject(jwk, "y", ebuf_str(&y)) &&
             cJSON_AddStringToObject(jwk, "crv", "P-256");
    } else if (ok) {
        ok = cJSON_AddStringToObject(o, "htm", "POST") && cJSON_AddStringToObject(o, "htu", url) &&
             cJSON_AddNumberToObject(o, "iat", (double)iat) &&
             cJSON_AddStringToObject(o, "jti", jti);
    }
    if (ok)
        text = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    ebuf_free(&x);
    ebuf_free(&y);
    return text;
}

ecrup_status dpop_proof(EVP_PKEY *key, const char *url, time_t iat, const char *jti,
                        struct ebuf *out)
{
    char uuid[37];
    if (!jti) {
        if (!random_uuid(uuid))
            return ECRUP_E_CREDENTIALS;
        jti = uuid;
    }
    char *header = part_json(key, url, iat, jti, true);
    char *claims = part_json(key, url, iat, jti, false);
    struct ebuf input = EBUF_INIT;
    unsigned char der[128], raw[64];
    size_t der_len = sizeof der;
    ecrup_status st = ECRUP_E_NOMEM;
    if (header && claims) {
        dpop_base64url((const unsigned char *)header, strlen(header), &input);
        ebuf_putc(&input, '.');
        dpop_base64url((const unsigned char *)claims, strlen(claims), &input);
        st = ebuf_ok(&input) ? ECRUP_OK : ECRUP_E_NOMEM;
    } else if (!EVP_PKEY_is_a(key, "EC")) {
        st = ECRUP_E_CREDENTIALS; /* no EC coordinates to put in the jwk */
    }
    EVP_MD_CTX *md = st == ECRUP_OK ? EVP_MD_CTX_new() : NULL;
    if (st == ECRUP_OK &&
        (!md || EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, key) != 1 ||
         EVP_DigestSign(md, der, &der_len, (const unsigned char *)input.data, input.len) != 1 ||
         !dpop_der_to_jws(der, der_len, raw)))
        st = ECRUP_E_CREDENTIALS;
    EVP_MD_CTX_free(md);
    if (st == ECRUP_OK) {
        ebuf_append(out, input.data, input.len);
        ebuf_putc(out, '.');
        dpop_base64url(raw, sizeof raw, out);
        if (!ebuf_ok(out))
            st = ECRUP_E_NOMEM;
    }
    OPENSSL_cleanse(der, sizeof der);
    OPENSSL_cleanse(raw, sizeof raw);
    ebuf_free(&input);
    free(header);
    free(claims);
    return st;
}
