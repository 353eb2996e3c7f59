/* The `aws login` token cache files: their names, reading one, and writing it back after a
 * refresh with the keys ecrup does not know kept. See login_cache.h. */
#include "signer/login_cache.h"

#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

#include "signer/cred_provider.h"
#include "signer/sso_cache.h"
#include "signer/token_file.h"
#include "util/hex.h"
#include "util/json.h"

/* A cache file holds a key and a few tokens; anything larger is not one. */

bool login_cache_file_name(const char *session, char out[70])
{
    if (!sha256_hex(session, strlen(session), out))
        return false;
    memcpy(out + 64, ".json", 6);
    return true;
}

char *login_cache_path(const struct env_reader *env, const char *session)
{
    const char *home = env_get(env, "HOME");
    const char *dir = env_get(env, "AWS_LOGIN_CACHE_DIRECTORY");
    char name[70];
    if (!login_cache_file_name(session, name))
        return NULL;
    struct ebuf b = EBUF_INIT;
    if (dir && *dir) {
        /* botocore expands a leading "~" (os.path.expanduser); "~user" is left as it is. */
        if (dir[0] == '~' && (dir[1] == '/' || dir[1] == '\0')) {
            if (!home || !*home)
                return NULL;
            ebuf_puts(&b, home);
            dir++;
        }
        ebuf_puts(&b, dir);
    } else {
        if (!home || !*home)
            return NULL;
        ebuf_printf(&b, "%s%s.aws/login/cache", home, home[strlen(home) - 1] == '/' ? "" : "/");
    }
    if (b.len && b.data[b.len - 1] != '/')
        ebuf_putc(&b, '/');
    ebuf_puts(&b, name);
    if (!ebuf_ok(&b)) {
        ebuf_free(&b);
        return NULL;
    }
    return ebuf_take(&b);
}

static const char *nonempty_string(const cJSON *o, const char *name)
{
    const char *v = json_string(o, name);
    return v && *v ? v : NULL;
}

ecrup_status login_token_parse(const char *text, size_t len, const char *path,
                               struct login_token *out, struct ebuf *err)
{
    memset(out, 0, sizeof *out);
    cJSON *root = cJSON_ParseWithLength(text, len);
    if (!cJSON_IsObject(root)) {
        ebuf_printf(err, "the login token cache file %s is not a JSON object", path);
        sso_wipe_json(root);
        cJSON_Delete(root);
        return ECRUP_E_CONFIG;
    }
    const cJSON *access = cJSON_GetObjectItemCaseSensitive(root, "accessToken");
    out->access_key_id = nonempty_string(access, "accessKeyId");
    out->secret_access_key = nonempty_string(access, "secretAccessKey");
    out->session_token = nonempty_string(access, "sessionToken");
    out->account_id = nonempty_string(access, "accountId");
    out->refresh_token = nonempty_string(root, "refreshToken");
    out->client_id = nonempty_string(root, "clientId");
    out->dpop_key = nonempty_string(root, "dpopKey");
    const char *expires = nonempty_string(access, "expiresAt");
    const char *missing = !cJSON_IsObject(access)   ? "accessToken"
                          : !out->access_key_id     ? "accessToken.accessKeyId"
                          : !out->secret_access_key ? "accessToken.secretAccessKey"
                          : !out->session_token     ? "accessToken.sessionToken"
                          : !out->account_id        ? "accessToken.accountId"
                          : !expires                ? "accessToken.expiresAt"
                          : !out->refresh_token     ? "refreshToken"
                          : !out->client_id         ? "clientId"
                          : !out->dpop_key          ? "dpopKey"
                                                    : NULL;
    out->doc = root;
    if (missing) {
        ebuf_printf(err, "the login token cache file %s lacks %s (a non-empty string)", path,
                    missing);
        login_token_cleanup(out);
        return ECRUP_E_CONFIG;
    }
    if (!sso_parse_time(expires, &out->expires_at)) {
        ebuf_printf(err,
                    "the login token cache file %s: accessToken.expiresAt is not an ISO 8601 "
                    "time",
                    path);
        login_token_cleanup(out);
        return ECRUP_E_CONFIG;
    }
    return ECRUP_OK;
}

ecrup_status login_token_load(const char *path, struct login_token *out, struct ebuf *err)
{
    memset(out, 0, sizeof *out);
    char *data;
    size_t len;
    ecrup_status st = token_file_read(path, "login token cache", &data, &len, err);
    if (st != ECRUP_OK)
        return st;
    st = login_token_parse(data, len, path, out, err);
    explicit_bzero(data, len);
    free(data);
    return st;
}

ecrup_status login_token_update(struct login_token *t, const struct login_refresh *r)
{
    char expires[32];
    struct tm tm;
    gmtime_r(&r->expires_at, &tm);
    strftime(expires, sizeof expires, "%Y-%m-%dT%H:%M:%SZ", &tm);
    /* botocore replaces the whole accessToken object, keeping only accountId. */
    cJSON *access = cJSON_CreateObject();
    cJSON *refresh = cJSON_CreateString(r->refresh_token);
    if (!access || !refresh || !cJSON_AddStringToObject(access, "accessKeyId", r->access_key_id) ||
        !cJSON_AddStringToObject(access, "secretAccessKey", r->secret_access_key) ||
        !cJSON_AddStringToObject(access, "sessionToken", r->session_token) ||
        !cJSON_AddStringToObject(access, "accountId", t->account_id) ||
        !cJSON_AddStringToObject(access, "expiresAt", expires)) {
        sso_wipe_json(access);
        cJSON_Delete(access);
        sso_wipe_json(refresh);
        cJSON_Delete(refresh);
        return ECRUP_E_NOMEM;
    }
    sso_wipe_json(cJSON_GetObjectItemCaseSensitive(t->doc, "accessToken")->child);
    cJSON *old_refresh = cJSON_GetObjectItemCaseSensitive(t->doc, "refreshToken");
    explicit_bzero(old_refresh->valuestring, strlen(old_refresh->valuestring));
    cJSON_ReplaceItemInObjectCaseSensitive(t->doc, "accessToken", access);
    cJSON_ReplaceItemInObjectCaseSensitive(t->doc, "refreshToken", refresh);
    t->access_key_id = json_string(access, "accessKeyId");
    t->secret_access_key = json_string(access, "secretAccessKey");
    t->session_token = json_string(access, "sessionToken");
    t->account_id = json_string(access, "accountId");
    t->refresh_token = refresh->valuestring;
    t->expires_at = r->expires_at;
    return ECRUP_OK;
}

char *login_token_json(const struct login_token *t)
{
    return cJSON_Print(t->doc);
}

ecrup_status login_token_save(const char *path, const struct login_token *t, struct ebuf *err)
{
    return token_file_write(path, "login token cache", login_token_json(t), err);
}

void login_token_cleanup(struct login_token *t)
{
    sso_wipe_json(t->doc);
    cJSON_Delete(t->doc);
    memset(t, 0, sizeof *t);
}
