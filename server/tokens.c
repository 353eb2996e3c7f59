/* The /v2 API's credentials. GetAuthorizationToken: passwords, "AWS:<password>" in base64 as
 * ECR gives them, valid for 12 hours; a password is 32 random bytes in hex that the registry
 * remembers, in memory only, until it expires. And the signatures of GetDownloadUrlForLayer's
 * URLs, under a key the registry makes once and keeps in memory: a restart voids the URLs, as
 * it forgets the passwords. */
#include "server/registry_impl.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/hex.h"

/* A client that logs in before every push stays far below this within 12 hours; past it the
 * oldest password is forgotten first. */
#define MAX_TOKENS 4096

static void prune_expired(struct registry *reg, double now)
{
    size_t kept = 0;
    for (size_t i = 0; i < reg->n_tokens; i++)
        if (reg->tokens[i].expires_at > now)
            reg->tokens[kept++] = reg->tokens[i];
    reg->n_tokens = kept;
}

void registry_authorization_token(struct registry *reg, int entries, struct srv_reply *out)
{
    unsigned char secret[32];
    struct auth_token tok;
    if (RAND_bytes(secret, sizeof secret) != 1) {
        srv_reply_error(out, 500, "ServerException", "could not make a password");
        return;
    }
    hex_encode(secret, sizeof secret, tok.password);
    OPENSSL_cleanse(secret, sizeof secret);
    double now = reg_now();
    tok.expires_at = now + REGISTRY_TOKEN_SECONDS;

    pthread_mutex_lock(&reg->mu);
    prune_expired(reg, now);
    if (reg->n_tokens == MAX_TOKENS) {
        memmove(&reg->tokens[0], &reg->tokens[1], (MAX_TOKENS - 1) * sizeof reg->tokens[0]);
        reg->n_tokens--;
    }
    GROW(reg->tokens, reg->n_tokens, reg->cap_tokens);
    reg->tokens[reg->n_tokens++] = tok;
    pthread_mutex_unlock(&reg->mu);

    char plain[4 + sizeof tok.password];
    memcpy(plain, "AWS:", 4);
    memcpy(plain + 4, tok.password, sizeof tok.password); /* NUL included */
    unsigned char b64[4 * ((sizeof plain + 2) / 3) + 1];
    EVP_EncodeBlock(b64, (const unsigned char *)plain, (int)strlen(plain));
    cJSON *o = cJSON_CreateObject();
    cJSON *list = cJSON_AddArrayToObject(o, "authorizationData");
    for (int i = 0; i < entries; i++) {
        cJSON *d = cJSON_CreateObject();
        cJSON_AddStringToObject(d, "authorizationToken", (const char *)b64);
        cJSON_AddNumberToObject(d, "expiresAt", tok.expires_at);
        cJSON_AddStringToObject(d, "proxyEndpoint", reg->base_url);
        cJSON_AddItemToArray(list, d);
    }
    OPENSSL_cleanse(plain, sizeof plain);
    OPENSSL_cleanse(&tok, sizeof tok);
    srv_reply_json(out, o);
    OPENSSL_cleanse(b64, sizeof b64);
}

bool registry_check_password(struct registry *reg, const char *password)
{
    if (strlen(password) != 64)
        return false;
    bool ok = false;
    double now = reg_now();
    pthread_mutex_lock(&reg->mu);
    for (size_t i = 0; i < reg->n_tokens; i++)
        if (reg->tokens[i].expires_at > now &&
            CRYPTO_memcmp(reg->tokens[i].password, password, 64) == 0)
            ok = true;
    pthread_mutex_unlock(&reg->mu);
    return ok;
}

bool reg_download_signature(struct registry *reg, const char *repo, const char *digest,
                            long long expires, char out[65])
{
    if (!reg->url_key_set) {
        if (RAND_bytes(reg->url_key, sizeof reg->url_key) != 1)
            return false;
        reg->url_key_set = true;
    }
    char msg[400];
    int n = snprintf(msg, sizeof msg, "%s\n%s\n%lld", repo, digest, expires);
    unsigned char mac[32];
    unsigned len = 0;
    if (n < 0 || (size_t)n >= sizeof msg ||
        !HMAC(EVP_sha256(), reg->url_key, sizeof reg->url_key, (const unsigned char *)msg,
              (size_t)n, mac, &len) ||
        len != sizeof mac)
        return false;
    hex_encode(mac, sizeof mac, out);
    return true;
}

bool registry_check_download(struct registry *reg, const char *repo, const char *digest,
                             const char *expires, const char *signature)
{
    char *end = NULL;
    long long t = expires ? strtoll(expires, &end, 10) : 0;
    if (!expires || !*expires || *end || !signature || strlen(signature) != 64 ||
        (double)t <= reg_now())
        return false;
    char want[65];
    pthread_mutex_lock(&reg->mu);
    bool ok = reg->url_key_set && reg_download_signature(reg, repo, digest, t, want);
    pthread_mutex_unlock(&reg->mu);
    return ok && CRYPTO_memcmp(want, signature, 64) == 0;
}
