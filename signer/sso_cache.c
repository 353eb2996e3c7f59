/* The SSO token cache files: their names, reading them as botocore's SSOTokenLoader does, and
 * writing one back after a refresh. See sso_cache.h. */
#include "signer/sso_cache.h"

#include <cjson/cJSON.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "signer/cred_provider.h"
#include "signer/token_file.h"
#include "util/hex.h"
#include "util/json.h"

/* A cache file holds a few tokens; anything larger is not one. */

bool sso_cache_file_name(const char *key, char out[46])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    if (EVP_Digest(key, strlen(key), md, &n, EVP_sha1(), NULL) != 1 || n != 20)
        return false;
    hex_encode(md, 20, out);
    memcpy(out + 40, ".json", 6);
    return true;
}

char *sso_cache_path(const struct env_reader *env, const char *key)
{
    const char *home = env_get(env, "HOME");
    char name[46];
    if (!home || !*home || !sso_cache_file_name(key, name))
        return NULL;
    struct ebuf b = EBUF_INIT;
    ebuf_printf(&b, "%s%s.aws/sso/cache/%s", home, home[strlen(home) - 1] == '/' ? "" : "/", name);
    if (!ebuf_ok(&b)) {
        ebuf_free(&b);
        return NULL;
    }
    return ebuf_take(&b);
}

bool sso_parse_time(const char *s, time_t *out)
{
    char buf[64];
    size_t n = s ? strlen(s) : 0;
    if (n < 20 || n + 2 > sizeof buf)
        return false;
    memcpy(buf, s, n + 1);
    if (strcmp(buf + n - 3, "UTC") == 0) {
        memcpy(buf + n - 3, "Z", 2);
    } else if ((buf[n - 5] == '+' || buf[n - 5] == '-') && buf[n - 3] != ':') {
        /* "+0000": cred_parse_time wants the colon. */
        memmove(buf + n - 1, buf + n - 2, 3);
        buf[n - 2] = ':';
    }
    return cred_parse_time(buf, out);
}

void sso_wipe_json(cJSON *node)
{
    for (; node; node = node->next) {
        if (node->valuestring)
            explicit_bzero(node->valuestring, strlen(node->valuestring));
        sso_wipe_json(node->child);
    }
}

static char *dup_field(const cJSON *root, const char *name, bool *nomem)
{
    const char *v = json_string(root, name);
    if (!v)
        return NULL;
    char *d = strdup(v);
    if (!d)
        *nomem = true;
    return d;
}

ecrup_status sso_token_parse(const char *text, size_t len, const char *path, struct sso_token *out,
                             struct ebuf *err)
{
    memset(out, 0, sizeof *out);
    cJSON *root = cJSON_ParseWithLength(text, len);
    ecrup_status st = ECRUP_E_CONFIG;
    if (!cJSON_IsObject(root)) {
        ebuf_printf(err, "the SSO token cache file %s is not a JSON object", path);
        goto done;
    }
    const char *access = json_string(root, "accessToken");
    const char *expires = json_string(root, "expiresAt");
    if (!access || !*access || !expires) {
        ebuf_printf(err, "the SSO token cache file %s lacks %s", path,
                    !access || !*access ? "accessToken" : "expiresAt");
        goto done;
    }
    if (!sso_parse_time(expires, &out->expires_at)) {
        ebuf_printf(err, "the SSO token cache file %s: expiresAt is not an ISO 8601 time", path);
        goto done;
    }
    bool nomem = false;
    out->access_token = dup_field(root, "accessToken", &nomem);
    out->refresh_token = dup_field(root, "refreshToken", &nomem);
    out->client_id = dup_field(root, "clientId", &nomem);
    out->client_secret = dup_field(root, "clientSecret", &nomem);
    out->registration_expires_at = dup_field(root, "registrationExpiresAt", &nomem);
    out->start_url = dup_field(root, "startUrl", &nomem);
    out->region = dup_field(root, "region", &nomem);
    if (nomem) {
        ebuf_puts(err, "SSO token cache: out of memory");
        st = ECRUP_E_NOMEM;
        goto done;
    }
    st = ECRUP_OK;
done:
    if (st != ECRUP_OK)
        sso_token_cleanup(out);
    sso_wipe_json(root);
    cJSON_Delete(root);
    return st;
}

ecrup_status sso_token_load(const char *path, struct sso_token *out, struct ebuf *err)
{
    memset(out, 0, sizeof *out);
    char *data;
    size_t len;
    ecrup_status st = token_file_read(path, "SSO token cache", &data, &len, err);
    if (st != ECRUP_OK)
        return st;
    st = sso_token_parse(data, len, path, out, err);
    explicit_bzero(data, len);
    free(data);
    return st;
}

bool sso_token_refreshable(const struct sso_token *t, time_t now)
{
    time_t reg;
    return t->refresh_token && t->client_id && t->client_secret && t->registration_expires_at &&
           sso_parse_time(t->registration_expires_at, &reg) && reg > now;
}

static bool add_string(cJSON *o, const char *name, const char *value)
{
    return !value || cJSON_AddStringToObject(o, name, value);
}

/* The document botocore's _attempt_create_token builds, in its key order. */
static char *token_json(const struct sso_token *t)
{
    char expires[32];
    struct tm tm;
    gmtime_r(&t->expires_at, &tm);
    strftime(expires, sizeof expires, "%Y-%m-%dT%H:%M:%SZ", &tm);
    cJSON *o = cJSON_CreateObject();
    char *text = NULL;
    if (o && add_string(o, "startUrl", t->start_url) && add_string(o, "region", t->region) &&
        add_string(o, "accessToken", t->access_token) && add_string(o, "expiresAt", expires) &&
        add_string(o, "clientId", t->client_id) &&
        add_string(o, "clientSecret", t->client_secret) &&
        add_string(o, "registrationExpiresAt", t->registration_expires_at) &&
        add_string(o, "refreshToken", t->refresh_token))
        text = cJSON_Print(o);
    sso_wipe_json(o);
    cJSON_Delete(o);
    return text;
}

ecrup_status sso_token_save(const char *path, const struct sso_token *t, struct ebuf *err)
{
    return token_file_write(path, "SSO token cache", token_json(t), err);
}

void sso_token_cleanup(struct sso_token *t)
{
    cred_wipe_free(t->access_token);
    cred_wipe_free(t->refresh_token);
    free(t->client_id);
    cred_wipe_free(t->client_secret);
    free(t->registration_expires_at);
    free(t->start_url);
    free(t->region);
    memset(t, 0, sizeof *t);
}
