/* The "sso" credential provider (IAM Identity Center), as botocore's SSOProvider,
 * SSOCredentialFetcher and SSOTokenProvider: a profile with sso_account_id and sso_role_name,
 * and either sso_session naming an [sso-session NAME] section (sso_start_url, sso_region) or
 * the legacy sso_start_url and sso_region in the profile itself. The token `aws sso login`
 * cached (sso_cache.c) buys the role's credentials from the portal's GetRoleCredentials; a
 * session token with under 15 minutes left is first refreshed through SSO OIDC's CreateToken
 * and the cache file rewritten. Legacy tokens are never refreshed, as in botocore.
 *
 * Tokens and secrets never reach a message: errors name the profile, session or file. */
#include "signer/cred_provider.h"

#include <cjson/cJSON.h>
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "signer/configured_endpoint.h"
#include "signer/cred_http.h"
#include "signer/endpoint.h"
#include "signer/profile.h"
#include "signer/sso_cache.h"
#include "util/json.h"

#define REFRESH_WINDOW  900 /* botocore's SSOTokenProvider._REFRESH_WINDOW */
#define PORTAL_ATTEMPTS 4   /* GetRoleCredentials tries, throttling and 5xx in between */

/* What the profile resolves to; strings borrowed from the profile set, and the endpoints
 * (borrowed from cred_provider_sso's buffers). */
struct sso_config {
    const char *profile;
    const char *session; /* NULL for the legacy form */
    const char *start_url, *region, *account_id, *role_name;
    const char *portal_url, *portal_source; /* without a trailing '/' */
    const char *oidc_url;
    const char *ca_bundle; /* NULL: libcurl's default */
};

/* A key from the profile, checked against the sso-session's (botocore refuses a mismatch). */
static ecrup_status merged(const struct profile_set *set, struct sso_config *s, const char *key,
                           const char **out, struct ebuf *err)
{
    const char *mine = profile_get(set, s->profile, key);
    const char *theirs = s->session ? profile_sso_session_get(set, s->session, key) : NULL;
    if (mine && theirs && strcmp(mine, theirs) != 0) {
        ebuf_printf(err, "profile \"%s\": %s differs between the profile and [sso-session %s]",
                    s->profile, key, s->session);
        return ECRUP_E_CONFIG;
    }
    *out = theirs ? theirs : mine;
    return ECRUP_OK;
}

static ecrup_status read_config(struct cred_chain *c, const struct profile_set *set,
                                struct sso_config *s, struct ebuf *err)
{
    s->session = profile_get(set, s->profile, "sso_session");
    s->account_id = profile_get(set, s->profile, "sso_account_id");
    s->role_name = profile_get(set, s->profile, "sso_role_name");
    if (!s->account_id && !s->role_name) {
        /* botocore's trigger; a profile naming a session without a role would otherwise fall
         * through to "no credentials" with the reason lost, unless it has keys of its own. */
        bool sso = s->session || profile_get(set, s->profile, "sso_start_url");
        bool other = profile_get(set, s->profile, "aws_access_key_id") ||
                     profile_get(set, s->profile, "credential_process");
        if (sso && !other) {
            ebuf_printf(err, "profile \"%s\" uses SSO but lacks sso_account_id, sso_role_name",
                        s->profile);
            return ECRUP_E_CONFIG;
        }
        cred_note(c, "sso: profile \"%s\" has no sso_account_id or sso_role_name", s->profile);
        return ECRUP_E_NO_CREDENTIALS;
    }
    if (s->session && !profile_sso_session_exists(set, s->session)) {
        ebuf_printf(err, "profile \"%s\": sso_session \"%s\" has no [sso-session %s] section",
                    s->profile, s->session, s->session);
        return ECRUP_E_CONFIG;
    }
    ecrup_status st = merged(set, s, "sso_start_url", &s->start_url, err);
    if (st == ECRUP_OK)
        st = merged(set, s, "sso_region", &s->region, err);
    if (st != ECRUP_OK)
        return st;
    const char *const keys[] = {"sso_role_name", "sso_account_id", "sso_start_url", "sso_region"};
    const char *const vals[] = {s->role_name, s->account_id, s->start_url, s->region};
    struct ebuf missing = EBUF_INIT;
    for (size_t i = 0; i < 4; i++)
        if (!vals[i] || !*vals[i])
            ebuf_printf(&missing, "%s%s", missing.len ? ", " : "", keys[i]);
    /* botocore's SSOTokenProvider reads the session's URL and region from its section only. */
    for (size_t i = 2; s->session && !missing.len && st == ECRUP_OK && i < 4; i++) {
        if (!profile_sso_session_get(set, s->session, keys[i])) {
            ebuf_printf(err, "profile \"%s\": [sso-session %s] lacks %s", s->profile, s->session,
                        keys[i]);
            st = ECRUP_E_CONFIG;
        }
    }
    if (st != ECRUP_OK) {
        ebuf_free(&missing);
        return st;
    }
    if (missing.len) {
        ebuf_printf(err, "profile \"%s\" uses SSO but lacks %s", s->profile, ebuf_str(&missing));
        st = ECRUP_E_CONFIG;
    } else if (strspn(s->region, "abcdefghijklmnopqrstuvwxyz0123456789-") != strlen(s->region)) {
        ebuf_printf(err, "profile \"%s\": sso_region \"%.40s\" is not a region name", s->profile,
                    s->region);
        st = ECRUP_E_CONFIG;
    }
    ebuf_free(&missing);
    return st;
}

static ecrup_status expired(const struct sso_config *s, struct ebuf *err)
{
    if (s->session)
        ebuf_printf(err,
                    "the SSO session \"%s\" has expired or was never started: run aws sso login "
                    "--sso-session %s",
                    s->session, s->session);
    else
        ebuf_printf(err,
                    "the SSO login for profile \"%s\" has expired or was never started: run aws "
                    "sso login --profile %s",
                    s->profile, s->profile);
    return ECRUP_E_CREDENTIALS;
}

/* Where one of the SSO services is: its configured endpoint (configured_endpoint.h), else the
 * default in sso_region (botocore's SSO clients are made with sso_region, whatever the session's
 * region). Appends the URL without a trailing '/' to `url` and where it came from to `source`. */
static ecrup_status service_url(const struct cred_chain *c, const struct profile_set *set,
                                const struct sso_config *s, const char *service,
                                const char *host_prefix, struct ebuf *url, struct ebuf *source,
                                struct ebuf *err)
{
    struct configured_endpoint_values v;
    configured_endpoint_read(set, s->profile, service, &v);
    const char *configured = NULL;
    struct ebuf why = EBUF_INIT;
    ecrup_status st = configured_endpoint(c->cfg->env, service, &v, &configured, source, &why);
    if (st == ECRUP_OK && configured) {
        struct endpoint_url parsed;
        st = endpoint_parse_url(configured, &parsed, &why);
        if (st == ECRUP_OK)
            endpoint_url_free(&parsed);
        else
            ebuf_printf(&why, " (from %s)", ebuf_str(source));
        size_t n = strlen(configured);
        while (n && configured[n - 1] == '/')
            n--;
        ebuf_append(url, configured, n);
    } else if (st == ECRUP_OK) {
        ebuf_printf(url, "https://%s.%s.amazonaws.com", host_prefix, s->region);
        ebuf_puts(source, "the default for sso_region");
    }
    if (st != ECRUP_OK)
        ebuf_printf(err, "sso: %s", ebuf_str(&why));
    else if (!ebuf_ok(url) || !ebuf_ok(source))
        st = ECRUP_E_NOMEM;
    ebuf_free(&why);
    return st;
}

/* The CA bundle the SSO calls trust, as botocore's clients get theirs: the caller's, else
 * AWS_CA_BUNDLE, else the profile's ca_bundle. */
static const char *ca_bundle(const struct cred_chain *c, const struct profile_set *set,
                             const char *profile)
{
    if (c->cfg->ca_bundle && *c->cfg->ca_bundle)
        return c->cfg->ca_bundle;
    const char *v = cred_env(c, "AWS_CA_BUNDLE");
    if (!v)
        v = profile_get(set, profile, "ca_bundle");
    return v && *v ? v : NULL;
}

/* SSO OIDC CreateToken with the refresh token. ECRUP_OK with `t` updated in place; anything
 * else leaves `t` alone (the caller keeps the old token while it is valid). */
static ecrup_status refresh_token(struct cred_chain *c, const struct sso_config *s,
                                  struct sso_token *t, time_t now)
{
    struct ebuf url = EBUF_INIT, reply = EBUF_INIT, detail = EBUF_INIT;
    ebuf_printf(&url, "%s/token", s->oidc_url);
    cJSON *req = cJSON_CreateObject();
    char *body = NULL;
    if (req && cJSON_AddStringToObject(req, "grantType", "refresh_token") &&
        cJSON_AddStringToObject(req, "clientId", t->client_id) &&
        cJSON_AddStringToObject(req, "clientSecret", t->client_secret) &&
        cJSON_AddStringToObject(req, "refreshToken", t->refresh_token))
        body = cJSON_PrintUnformatted(req);
    sso_wipe_json(req);
    cJSON_Delete(req);
    ecrup_status st = ECRUP_E_NOMEM;
    if (!body || !ebuf_ok(&url))
        goto done;
    struct cred_http_call call = {
        .method = "POST",
        .url = ebuf_str(&url),
        .headers = {"Content-Type: application/json", "Accept: application/json", NULL},
        .ca_bundle = s->ca_bundle,
        .connect_ms = c->connect_ms,
        .timeout_ms = c->timeout_ms,
        .body = body,
        .body_len = strlen(body)};
    long status = 0;
    st = cred_http_fetch(&call, &status, &reply, &detail);
    if (st != ECRUP_OK || status != 200) {
        st = ECRUP_E_CREDENTIALS;
        goto done;
    }
    cJSON *root = cJSON_ParseWithLength(ebuf_str(&reply), reply.len);
    const char *access = json_string(root, "accessToken");
    const char *refresh = json_string(root, "refreshToken");
    const cJSON *expires_in = cJSON_GetObjectItemCaseSensitive(root, "expiresIn");
    st = ECRUP_E_CREDENTIALS;
    if (access && *access && cJSON_IsNumber(expires_in) && expires_in->valuedouble > 0 &&
        expires_in->valuedouble < 1e9) {
        char *a = strdup(access), *r = refresh ? strdup(refresh) : NULL;
        if (a && (!refresh || r)) {
            cred_wipe_free(t->access_token);
            t->access_token = a;
            if (r) {
                cred_wipe_free(t->refresh_token);
                t->refresh_token = r;
            }
            t->expires_at = now + (time_t)expires_in->valuedouble;
            st = ECRUP_OK;
        } else {
            cred_wipe_free(a);
            cred_wipe_free(r);
            st = ECRUP_E_NOMEM;
        }
    }
    sso_wipe_json(root);
    cJSON_Delete(root);
done:
    cred_wipe_free(body);
    cred_wipe_ebuf(&reply);
    ebuf_free(&url);
    ebuf_free(&detail);
    return st;
}

/* The cached token, refreshed when botocore would; ECRUP_OK with a token valid at `now`. */
static ecrup_status load_token(struct cred_chain *c, const struct sso_config *s, time_t now,
                               struct sso_token *t, struct ebuf *err)
{
    char *path = sso_cache_path(c->cfg->env, s->session ? s->session : s->start_url);
    if (!path) {
        ebuf_puts(err, "sso: HOME is not set, so the SSO token cache cannot be found");
        return ECRUP_E_CREDENTIALS;
    }
    ecrup_status st = sso_token_load(path, t, err);
    if (st == ECRUP_E_NOT_FOUND)
        st = expired(s, err);
    if (st == ECRUP_OK && s->session && t->expires_at - now < REFRESH_WINDOW &&
        sso_token_refreshable(t, now) && refresh_token(c, s, t, now) == ECRUP_OK) {
        /* The new token is good whether or not it can be kept for the next run. The file
         * names the configured session's URL and region, as botocore writes it. */
        struct ebuf ignored = EBUF_INIT;
        free(t->start_url);
        free(t->region);
        t->start_url = strdup(s->start_url);
        t->region = strdup(s->region);
        (void)sso_token_save(path, t, &ignored);
        ebuf_free(&ignored);
    }
    if (st == ECRUP_OK && t->expires_at <= now)
        st = expired(s, err);
    free(path);
    return st;
}

static void append_encoded(struct ebuf *b, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        if ((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
            ch == '-' || ch == '_' || ch == '.' || ch == '~') {
            ebuf_putc(b, (char)ch);
        } else {
            char enc[3] = {'%', hex[ch >> 4], hex[ch & 15]};
            ebuf_append(b, enc, 3);
        }
    }
}

/* The portal's roleCredentials as a snapshot. */
static ecrup_status parse_role_credentials(const struct ebuf *reply, const char *who,
                                           struct cred_snapshot **out, struct ebuf *err)
{
    cJSON *root = cJSON_ParseWithLength(ebuf_str(reply), reply->len);
    const cJSON *rc = cJSON_GetObjectItemCaseSensitive(root, "roleCredentials");
    const char *akid = json_string(rc, "accessKeyId");
    const char *secret = json_string(rc, "secretAccessKey");
    const char *token = json_string(rc, "sessionToken");
    const cJSON *exp = cJSON_GetObjectItemCaseSensitive(rc, "expiration");
    ecrup_status st = ECRUP_E_CREDENTIALS;
    if (!cJSON_IsObject(rc))
        ebuf_printf(err, "%s: the reply has no roleCredentials object", who);
    else if (!akid || !*akid || !secret || !*secret || !token || !*token)
        ebuf_printf(err, "%s: the reply lacks %s", who,
                    !akid || !*akid       ? "accessKeyId"
                    : !secret || !*secret ? "secretAccessKey"
                                          : "sessionToken");
    else if (!cJSON_IsNumber(exp) || exp->valuedouble <= 0 || exp->valuedouble > 1e15)
        ebuf_printf(err, "%s: roleCredentials.expiration is not epoch milliseconds", who);
    else if (!(*out = cred_snapshot_new(akid, secret, token, (time_t)(exp->valuedouble / 1000),
                                        "sso")))
        st = ECRUP_E_NOMEM;
    else
        st = ECRUP_OK;
    sso_wipe_json(root);
    cJSON_Delete(root);
    return st;
}

/* GetRoleCredentials, unsigned, the token in x-amz-sso_bearer_token. */
static ecrup_status get_role_credentials(struct cred_chain *c, const struct sso_config *s,
                                         const char *token, struct cred_snapshot **out,
                                         struct ebuf *err)
{
    struct ebuf url = EBUF_INIT, bearer = EBUF_INIT, reply = EBUF_INIT, detail = EBUF_INIT;
    ebuf_printf(&url, "%s/federation/credentials?role_name=", s->portal_url);
    append_encoded(&url, s->role_name);
    ebuf_puts(&url, "&account_id=");
    append_encoded(&url, s->account_id);
    ebuf_printf(&bearer, "x-amz-sso_bearer_token: %s", token);
    char host[128], who[400];
    cred_url_host(ebuf_str(&url), host, sizeof host);
    snprintf(who, sizeof who, "SSO GetRoleCredentials at %s (from %s) for profile \"%s\"", host,
             s->portal_source, s->profile);
    ecrup_status st = ECRUP_E_NOMEM;
    if (!ebuf_ok(&url) || !ebuf_ok(&bearer)) {
        ebuf_puts(err, "sso: out of memory");
        goto done;
    }
    struct cred_http_call call = {.method = "GET",
                                  .url = ebuf_str(&url),
                                  .headers = {ebuf_str(&bearer), "Accept: application/json", NULL},
                                  .ca_bundle = s->ca_bundle,
                                  .connect_ms = c->connect_ms,
                                  .timeout_ms = c->timeout_ms};
    long status = 0;
    for (int attempt = 1;; attempt++) {
        st = cred_http_fetch(&call, &status, &reply, &detail);
        bool throttled = st == ECRUP_OK && (status == 429 || status >= 500 ||
                                            strstr(ebuf_str(&reply), "TooManyRequestsException"));
        if (st == ECRUP_OK && status == 200)
            break;
        if (attempt == PORTAL_ATTEMPTS || !(throttled || st == ECRUP_E_NETWORK))
            break;
        cred_pause_ms(100L << attempt);
    }
    if (st != ECRUP_OK) {
        ebuf_printf(err, "%s: %s", who, ebuf_str(&detail));
        if (st == ECRUP_E_NETWORK)
            st = ECRUP_E_CREDENTIALS;
    } else if (status == 401 || status == 403) {
        st = expired(s, err);
    } else if (status != 200) {
        ebuf_printf(err, "%s: HTTP %ld", who, status);
        st = ECRUP_E_CREDENTIALS;
    } else {
        st = parse_role_credentials(&reply, who, out, err);
    }
done:
    cred_wipe_ebuf(&bearer);
    cred_wipe_ebuf(&reply);
    ebuf_free(&url);
    ebuf_free(&detail);
    return st;
}

ecrup_status cred_provider_sso(struct cred_chain *c, struct cred_snapshot **out, struct ebuf *err)
{
    char *cfg_path = profile_config_path(c->cfg->env);
    char *cred_path = profile_credentials_path(c->cfg->env);
    struct sso_config s = {.profile = profile_name(c->cfg->env, c->cfg->profile)};
    struct sso_token t = {0};
    struct ebuf portal = EBUF_INIT, portal_source = EBUF_INIT, oidc = EBUF_INIT;
    struct ebuf oidc_source = EBUF_INIT;
    ecrup_status st;
    struct profile_set *set = profile_load(cfg_path, cred_path, err);
    if (!set) {
        st = ECRUP_E_CONFIG; /* profile_load said which line */
    } else if (!profile_exists(set, s.profile)) {
        cred_note(c, "sso: profile \"%s\" is not defined", s.profile);
        st = ECRUP_E_NO_CREDENTIALS;
    } else if ((st = read_config(c, set, &s, err)) == ECRUP_OK &&
               (st = service_url(c, set, &s, CONFIGURED_ENDPOINT_SSO, "portal.sso", &portal,
                                 &portal_source, err)) == ECRUP_OK &&
               (st = service_url(c, set, &s, CONFIGURED_ENDPOINT_SSO_OIDC, "oidc", &oidc,
                                 &oidc_source, err)) == ECRUP_OK) {
        s.portal_url = ebuf_str(&portal);
        s.portal_source = ebuf_str(&portal_source);
        s.oidc_url = ebuf_str(&oidc);
        s.ca_bundle = ca_bundle(c, set, s.profile);
        if ((st = load_token(c, &s, time(NULL), &t, err)) == ECRUP_OK)
            st = get_role_credentials(c, &s, t.access_token, out, err);
    }
    if (st == ECRUP_E_NOMEM && !err->len)
        ebuf_puts(err, "sso: out of memory");
    ebuf_free(&portal);
    ebuf_free(&portal_source);
    ebuf_free(&oidc);
    ebuf_free(&oidc_source);
    sso_token_cleanup(&t);
    profile_set_free(set);
    free(cfg_path);
    free(cred_path);
    return st;
}
