/* The "login" credential provider, as botocore's LoginProvider and LoginCredentialFetcher: a
 * profile with login_session, whose temporary credentials `aws login` cached with a refresh
 * token and the DPoP key it is bound to (login_cache.c). The cached pair is answered while it
 * has more than 5 minutes left; then the sign-in service's CreateOAuth2Token (rest-json, POST
 * /v1/token, unsigned, a DPoP proof from dpop.c in the DPoP header) trades the refresh token
 * for a new pair and a new refresh token, and the cache file is rewritten before answering:
 * the old refresh token may be spent, so a pair that cannot be kept is refused as botocore
 * refuses it.
 *
 * Tokens, keys and proofs never reach a message: errors name the profile, session or file. */
#include "signer/cred_provider.h"

#include <cjson/cJSON.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "signer/configured_endpoint.h"
#include "signer/cred_http.h"
#include "signer/dpop.h"
#include "signer/endpoint.h"
#include "signer/login_cache.h"
#include "signer/profile.h"
#include "signer/sso_cache.h"
#include "util/json.h"

#define REFRESH_THRESHOLD 300 /* botocore's LoginCredentialFetcher._REFRESH_THRESHOLD */
#define TOKEN_ATTEMPTS    3   /* CreateOAuth2Token tries, throttling, 5xx and transport */
#define MAX_EXPIRES_IN    86400

/* What the profile says; strings borrowed from the profile set. */
struct login_config {
    const struct profile_set *set;
    const char *profile, *session, *region, *use_fips, *use_dualstack, *ca_bundle;
};

ecrup_status cred_login_endpoint_for(const char *region, bool fips, bool dualstack,
                                     struct ebuf *url, struct ebuf *message)
{
    if (!region || !*region) {
        ebuf_puts(message, "no region is configured for the sign-in service (set region in the "
                           "profile, or AWS_REGION)");
        return ECRUP_E_NO_REGION;
    }
    if (!endpoint_region_valid(region)) {
        ebuf_printf(message, "invalid region \"%.64s\" for the sign-in service", region);
        return ECRUP_E_INVALID_ARGUMENT;
    }
    const struct endpoint_partition_info *p =
        endpoint_partition_named(endpoint_partition_of(region));
    static const struct {
        const char *partition, *host;
    } named[] = {{"aws", "signin.aws.amazon.com"},
                 {"aws-cn", "signin.amazonaws.cn"},
                 {"aws-us-gov", "signin.amazonaws-us-gov.com"}};
    for (size_t i = 0; !fips && !dualstack && i < sizeof named / sizeof *named; i++) {
        if (strcmp(p->name, named[i].partition) == 0) {
            ebuf_printf(url, "https://%s.%s", region, named[i].host);
            return ebuf_ok(url) ? ECRUP_OK : ECRUP_E_NOMEM;
        }
    }
    const char *missing = endpoint_partition_missing(p, fips, dualstack);
    if (missing) {
        ebuf_printf(message,
                    "partition %s (region %s) does not offer %s for the sign-in service: "
                    "unset AWS_USE_FIPS_ENDPOINT / AWS_USE_DUALSTACK_ENDPOINT or set "
                    "AWS_ENDPOINT_URL_SIGNIN",
                    p->name, region, missing);
        return ECRUP_E_ENDPOINT;
    }
    ebuf_printf(url, "https://%s.%s.%s", fips ? "signin-fips" : "signin", region,
                dualstack ? p->dualstack_dns_suffix : p->dns_suffix);
    return ebuf_ok(url) ? ECRUP_OK : ECRUP_E_NOMEM;
}

/* CreateOAuth2Token's URL: a configured endpoint (configured_endpoint.h, service "signin"),
 * else the ruleset's for the region: the caller's, AWS_REGION, AWS_DEFAULT_REGION, the
 * profile's. */
static ecrup_status token_url(struct cred_chain *c, const struct login_config *l, struct ebuf *url,
                              struct ebuf *err)
{
    struct configured_endpoint_values v;
    configured_endpoint_read(l->set, l->profile, CONFIGURED_ENDPOINT_SIGNIN, &v);
    const char *configured = NULL;
    struct ebuf source = EBUF_INIT, why = EBUF_INIT;
    ecrup_status st = configured_endpoint(c->cfg->env, CONFIGURED_ENDPOINT_SIGNIN, &v, &configured,
                                          &source, &why);
    ebuf_free(&source);
    if (st != ECRUP_OK) {
        ebuf_printf(err, "login: %s", ebuf_str(&why));
        ebuf_free(&why);
        return st;
    }
    if (configured) {
        size_t n = strlen(configured);
        while (n && configured[n - 1] == '/')
            n--;
        ebuf_append(url, configured, n);
    } else {
        const char *region = c->cfg->region && *c->cfg->region ? c->cfg->region : NULL;
        if (!region)
            region = cred_env(c, "AWS_REGION");
        if (!region)
            region = cred_env(c, "AWS_DEFAULT_REGION");
        if (!region)
            region = l->region;
        st = cred_login_endpoint_for(
            region,
            endpoint_parse_bool(
                endpoint_setting(c->cfg->env, "AWS_USE_FIPS_ENDPOINT", l->use_fips)),
            endpoint_parse_bool(
                endpoint_setting(c->cfg->env, "AWS_USE_DUALSTACK_ENDPOINT", l->use_dualstack)),
            url, &why);
        if (st != ECRUP_OK) {
            ebuf_printf(err, "profile \"%s\": %s", l->profile, ebuf_str(&why));
            ebuf_free(&why);
            return st == ECRUP_E_NOMEM ? st : ECRUP_E_CONFIG;
        }
    }
    ebuf_free(&why);
    ebuf_puts(url, "/v1/token");
    return ebuf_ok(url) ? ECRUP_OK : ECRUP_E_NOMEM;
}

/* botocore's LoginRefreshRequired, with the command that starts a new session. */
static ecrup_status relogin(const struct login_config *l, const char *why, struct ebuf *err)
{
    ebuf_printf(err, "the login session \"%s\" %s: run `aws login --profile %s`", l->session, why,
                l->profile);
    return ECRUP_E_CREDENTIALS;
}

/* The reply's tokenOutput (the operation's payload: the body itself) into `t`, then the file.
 * The strings are borrowed from the parsed reply until login_token_update copies them. */
static ecrup_status take_reply(const struct ebuf *reply, const char *who, const char *path,
                               struct login_token *t, time_t now, struct ebuf *err)
{
    cJSON *root = cJSON_ParseWithLength(ebuf_str(reply), reply->len);
    const cJSON *access = cJSON_GetObjectItemCaseSensitive(root, "accessToken");
    const cJSON *expires_in = cJSON_GetObjectItemCaseSensitive(root, "expiresIn");
    struct login_refresh r = {.access_key_id = json_string(access, "accessKeyId"),
                              .secret_access_key = json_string(access, "secretAccessKey"),
                              .session_token = json_string(access, "sessionToken"),
                              .refresh_token = json_string(root, "refreshToken")};
    const char *missing = !cJSON_IsObject(access)                 ? "accessToken"
                          : !r.access_key_id || !*r.access_key_id ? "accessToken.accessKeyId"
                          : !r.secret_access_key || !*r.secret_access_key
                              ? "accessToken.secretAccessKey"
                          : !r.session_token || !*r.session_token ? "accessToken.sessionToken"
                          : !r.refresh_token || !*r.refresh_token ? "refreshToken"
                          : !cJSON_IsNumber(expires_in) || expires_in->valuedouble < 1 ||
                                  expires_in->valuedouble > MAX_EXPIRES_IN
                              ? "expiresIn (seconds)"
                              : NULL;
    ecrup_status st;
    if (missing) {
        ebuf_printf(err, "%s: the reply lacks %s; run `aws login` again if this persists", who,
                    missing);
        st = ECRUP_E_PROTOCOL;
    } else {
        r.expires_at = now + (time_t)expires_in->valuedouble;
        st = login_token_update(t, &r);
        if (st == ECRUP_E_NOMEM)
            ebuf_puts(err, "login: out of memory");
        else
            st = login_token_save(path, t, err);
    }
    sso_wipe_json(root);
    cJSON_Delete(root);
    return st;
}

/* CreateOAuth2Token with the refresh token and a DPoP proof; `t` and the file updated. */
static ecrup_status refresh(struct cred_chain *c, const struct login_config *l, const char *path,
                            struct login_token *t, time_t now, struct ebuf *err)
{
    EVP_PKEY *key = dpop_key_load(t->dpop_key);
    if (!key) {
        ebuf_printf(err, "the login token cache file %s: dpopKey is not an EC P-256 private key",
                    path);
        return ECRUP_E_CONFIG;
    }
    struct ebuf url = EBUF_INIT, proof = EBUF_INIT, header = EBUF_INIT, reply = EBUF_INIT,
                detail = EBUF_INIT;
    char *body = NULL;
    ecrup_status st = token_url(c, l, &url, err);
    char host[128], who[256];
    cred_url_host(ebuf_str(&url), host, sizeof host);
    snprintf(who, sizeof who, "sign-in CreateOAuth2Token at %s for login session \"%s\"", host,
             l->session);
    if (st == ECRUP_OK) {
        cJSON *req = cJSON_CreateObject();
        if (req && cJSON_AddStringToObject(req, "clientId", t->client_id) &&
            cJSON_AddStringToObject(req, "refreshToken", t->refresh_token) &&
            cJSON_AddStringToObject(req, "grantType", "refresh_token"))
            body = cJSON_PrintUnformatted(req);
        sso_wipe_json(req);
        cJSON_Delete(req);
        if (!body) {
            ebuf_puts(err, "login: out of memory");
            st = ECRUP_E_NOMEM;
        }
    }
    const char *ca_bundle = c->cfg->ca_bundle && *c->cfg->ca_bundle ? c->cfg->ca_bundle : NULL;
    if (!ca_bundle)
        ca_bundle = cred_env(c, "AWS_CA_BUNDLE");
    if (!ca_bundle && l->ca_bundle && *l->ca_bundle)
        ca_bundle = l->ca_bundle;
    long status = 0;
    for (int attempt = 1; st == ECRUP_OK; attempt++) {
        /* A fresh proof each attempt: a server may refuse a jti it has seen. */
        cred_wipe_ebuf(&proof);
        cred_wipe_ebuf(&header);
        st = dpop_proof(key, ebuf_str(&url), time(NULL), NULL, &proof);
        ebuf_printf(&header, "DPoP: %s", ebuf_str(&proof));
        if (st != ECRUP_OK || !ebuf_ok(&header)) {
            ebuf_printf(err,
                        "the login token cache file %s: cannot sign a DPoP proof with its "
                        "dpopKey",
                        path);
            st = st == ECRUP_E_NOMEM ? st : ECRUP_E_CREDENTIALS;
            break;
        }
        struct cred_http_call call = {
            .method = "POST",
            .url = ebuf_str(&url),
            .headers = {"Content-Type: application/json", "Accept: application/json",
                        ebuf_str(&header), NULL},
            .connect_ms = c->connect_ms,
            .timeout_ms = c->timeout_ms,
            .allow_proxy = true, /* a public endpoint, reached as the ECR API is */
            .ca_bundle = ca_bundle,
            .attempts = 1,
            .body = body,
            .body_len = strlen(body)};
        ebuf_free(&detail);
        st = cred_http_fetch(&call, &status, &reply, &detail);
        bool again = st == ECRUP_E_NETWORK || (st == ECRUP_OK && (status == 429 || status >= 500));
        if (!again || attempt == TOKEN_ATTEMPTS)
            break;
        st = ECRUP_OK;
        cred_pause_ms(100L << attempt);
    }
    if (st == ECRUP_E_NETWORK) {
        ebuf_printf(err, "%s: %s", who, ebuf_str(&detail));
        st = ECRUP_E_CREDENTIALS;
    } else if (st != ECRUP_OK) {
        if (detail.len)
            ebuf_printf(err, "%s: %s", who, ebuf_str(&detail));
    } else if (status == 200) {
        st = take_reply(&reply, who, path, t, now, err);
    } else {
        /* The model's errors carry an OAuth2ErrorCode in "error"; AccessDeniedException comes
         * as 401 (TOKEN_EXPIRED) or 403 (USER_CREDENTIALS_CHANGED, INSUFFICIENT_PERMISSIONS). */
        cJSON *root = cJSON_ParseWithLength(ebuf_str(&reply), reply.len);
        const char *code = json_string(root, "error");
        code = code ? code : "";
        if (strcmp(code, "TOKEN_EXPIRED") == 0) {
            st = relogin(l, "has expired", err);
        } else if (strcmp(code, "USER_CREDENTIALS_CHANGED") == 0) {
            st = relogin(l, "ended because the user's credentials changed", err);
        } else if (strcmp(code, "INSUFFICIENT_PERMISSIONS") == 0) {
            ebuf_printf(err,
                        "%s: HTTP %ld, the user may lack permission for "
                        "signin:CreateOAuth2Token",
                        who, status);
            st = ECRUP_E_CREDENTIALS;
        } else {
            bool printable =
                strlen(code) < 40 && strspn(code, "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                                  "abcdefghijklmnopqrstuvwxyz_") == strlen(code);
            ebuf_printf(err, "%s: HTTP %ld%s%s", who, status, *code && printable ? " " : "",
                        printable ? code : "");
            st = status == 429   ? ECRUP_E_THROTTLED
                 : status >= 500 ? ECRUP_E_SERVER
                                 : ECRUP_E_CREDENTIALS;
        }
        sso_wipe_json(root);
        cJSON_Delete(root);
    }
    EVP_PKEY_free(key);
    cred_wipe_free(body);
    cred_wipe_ebuf(&proof);
    cred_wipe_ebuf(&header);
    cred_wipe_ebuf(&reply);
    ebuf_free(&url);
    ebuf_free(&detail);
    return st;
}

static ecrup_status from_cache(struct cred_chain *c, const struct login_config *l,
                               struct cred_snapshot **out, struct ebuf *err)
{
    char *path = login_cache_path(c->cfg->env, l->session);
    if (!path) {
        ebuf_puts(err, "login: neither HOME nor AWS_LOGIN_CACHE_DIRECTORY is set, so the login "
                       "token cache cannot be found");
        return ECRUP_E_CREDENTIALS;
    }
    struct login_token t = {0};
    time_t now = time(NULL);
    ecrup_status st = login_token_load(path, &t, err);
    if (st == ECRUP_E_NOT_FOUND) {
        ebuf_printf(err, "no login session \"%s\" is cached (%s): run `aws login --profile %s`",
                    l->session, path, l->profile);
        st = ECRUP_E_CREDENTIALS;
    }
    if (st == ECRUP_OK && t.expires_at - now <= REFRESH_THRESHOLD)
        st = refresh(c, l, path, &t, now, err);
    if (st == ECRUP_OK && !(*out = cred_snapshot_new(t.access_key_id, t.secret_access_key,
                                                     t.session_token, t.expires_at, "login")))
        st = ECRUP_E_NOMEM;
    login_token_cleanup(&t);
    free(path);
    return st;
}

ecrup_status cred_provider_login(struct cred_chain *c, struct cred_snapshot **out, struct ebuf *err)
{
    char *cfg_path = profile_config_path(c->cfg->env);
    char *cred_path = profile_credentials_path(c->cfg->env);
    struct login_config l = {.profile = profile_name(c->cfg->env, c->cfg->profile)};
    ecrup_status st;
    struct profile_set *set = profile_load(cfg_path, cred_path, err);
    if (!set) {
        st = ECRUP_E_CONFIG; /* profile_load said which line */
    } else if (!profile_exists(set, l.profile)) {
        cred_note(c, "login: profile \"%s\" is not defined", l.profile);
        st = ECRUP_E_NO_CREDENTIALS;
    } else if (!(l.session = profile_get(set, l.profile, "login_session"))) {
        cred_note(c, "login: profile \"%s\" has no login_session", l.profile);
        st = ECRUP_E_NO_CREDENTIALS;
    } else if (!*l.session) {
        ebuf_printf(err, "profile \"%s\": login_session is empty", l.profile);
        st = ECRUP_E_CONFIG;
    } else {
        l.set = set;
        l.region = profile_get(set, l.profile, "region");
        l.use_fips = profile_get(set, l.profile, "use_fips_endpoint");
        l.use_dualstack = profile_get(set, l.profile, "use_dualstack_endpoint");
        l.ca_bundle = profile_get(set, l.profile, "ca_bundle");
        st = from_cache(c, &l, out, err);
    }
    profile_set_free(set);
    free(cfg_path);
    free(cred_path);
    return st;
}
