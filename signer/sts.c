/* The STS client: where STS is (botocore's endpoint ruleset for sts, on endpoint.c's partition
 * table), the query-protocol calls, their retries, and the reply turned into a credential
 * snapshot or a status. The XML itself is sts_xml.c's. */
#include "signer/sts.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "signer/cred_http.h"
#include "signer/cred_provider.h"
#include "signer/endpoint.h"
#include "signer/profile.h"
#include "util/hex.h"

#define STS_VERSION       "2011-06-15"
#define FORM_TYPE         "application/x-www-form-urlencoded; charset=utf-8"
#define MAX_MESSAGE_SHOWN 300

/* The regions whose STS endpoint was the global one until regional endpoints became the
 * default: AWS_STS_REGIONAL_ENDPOINTS=legacy keeps sts.amazonaws.com for them. */
static const char *const legacy_regions[] = {
    "ap-northeast-1", "ap-south-1",   "ap-southeast-1", "ap-southeast-2",
    "aws-global",     "ca-central-1", "eu-central-1",   "eu-north-1",
    "eu-west-1",      "eu-west-2",    "eu-west-3",      "sa-east-1",
    "us-east-1",      "us-east-2",    "us-west-1",      "us-west-2",
};

ecrup_status sts_endpoint_for(const char *region, bool legacy, bool fips, bool dualstack,
                              struct ebuf *url, const char **signing_region, struct ebuf *message)
{
    bool global = !region || strcmp(region, "aws-global") == 0;
    for (size_t i = 0; !global && legacy && !fips && !dualstack &&
                       i < sizeof legacy_regions / sizeof *legacy_regions;
         i++)
        global = strcmp(region, legacy_regions[i]) == 0;
    if (global && !fips && !dualstack) {
        *signing_region = "us-east-1";
        ebuf_puts(url, "https://sts.amazonaws.com");
        return ebuf_ok(url) ? ECRUP_OK : ECRUP_E_NOMEM;
    }
    const char *r = region ? region : "us-east-1";
    const struct endpoint_partition_info *p = endpoint_partition_named(endpoint_partition_of(r));
    const char *missing = endpoint_partition_missing(p, fips, dualstack);
    if (missing) {
        ebuf_printf(message,
                    "partition %s (region %s) does not offer %s for STS: unset "
                    "AWS_USE_FIPS_ENDPOINT / AWS_USE_DUALSTACK_ENDPOINT or set "
                    "AWS_ENDPOINT_URL_STS",
                    p->name, r, missing);
        return ECRUP_E_ENDPOINT;
    }
    *signing_region = region ? region : "us-east-1";
    /* The ruleset's one exception: GovCloud's FIPS endpoint is the regional name. */
    bool gov_fips = fips && !dualstack && strcmp(p->name, "aws-us-gov") == 0;
    ebuf_printf(url, "https://%s.%s.%s", fips && !gov_fips ? "sts-fips" : "sts", r,
                dualstack ? p->dualstack_dns_suffix : p->dns_suffix);
    return ebuf_ok(url) ? ECRUP_OK : ECRUP_E_NOMEM;
}

void sts_target_free(struct sts_target *t)
{
    free(t->url);
    free(t->region);
    free(t->source);
    free(t->ca_bundle);
    memset(t, 0, sizeof *t);
}

static const char *nonempty(const char *s)
{
    return s && *s ? s : NULL;
}

void sts_profile_values_read(const struct profile_set *set, const char *profile,
                             struct sts_profile_values *out)
{
    memset(out, 0, sizeof *out);
    out->name = profile;
    configured_endpoint_read(set, profile, CONFIGURED_ENDPOINT_STS, &out->endpoint);
    if (!set)
        return;
    out->region = profile_get(set, profile, "region");
    out->sts_regional_endpoints = profile_get(set, profile, "sts_regional_endpoints");
    out->use_fips_endpoint = profile_get(set, profile, "use_fips_endpoint");
    out->use_dualstack_endpoint = profile_get(set, profile, "use_dualstack_endpoint");
    out->ca_bundle = profile_get(set, profile, "ca_bundle");
}

ecrup_status sts_resolve(const struct env_reader *env, const struct sts_profile_values *profile,
                         struct sts_target *t, struct ebuf *message)
{
    static const struct sts_profile_values none;
    const struct sts_profile_values *pv = profile ? profile : &none;
    memset(t, 0, sizeof *t);
    const char *region = nonempty(pv->client_region);
    if (!region)
        region = nonempty(env_get(env, "AWS_REGION"));
    if (!region)
        region = nonempty(env_get(env, "AWS_DEFAULT_REGION"));
    if (!region)
        region = nonempty(pv->region);
    if (region && !endpoint_region_valid(region)) {
        ebuf_printf(message, "invalid region \"%.64s\" for STS", region);
        return ECRUP_E_INVALID_ARGUMENT;
    }
    const char *url = NULL, *source = NULL;
    struct ebuf configured = EBUF_INIT;
    struct configured_endpoint_values ev = pv->endpoint;
    if (!ev.profile)
        ev.profile = pv->name;
    ecrup_status st =
        configured_endpoint(env, CONFIGURED_ENDPOINT_STS, &ev, &url, &configured, message);
    if (st != ECRUP_OK) {
        ebuf_free(&configured);
        return st;
    }
    source = ebuf_str(&configured);
    struct ebuf b = EBUF_INIT;
    const char *signing = region ? region : "us-east-1";
    if (url) {
        struct endpoint_url parsed;
        struct ebuf why = EBUF_INIT;
        st = endpoint_parse_url(url, &parsed, &why);
        if (st != ECRUP_OK)
            ebuf_printf(message, "%s (from %s)", ebuf_str(&why), source);
        else
            endpoint_url_free(&parsed);
        ebuf_free(&why);
        ebuf_puts(&b, url);
    } else {
        const char *mode =
            endpoint_setting(env, "AWS_STS_REGIONAL_ENDPOINTS", pv->sts_regional_endpoints);
        bool fips = endpoint_parse_bool(
            endpoint_setting(env, "AWS_USE_FIPS_ENDPOINT", pv->use_fips_endpoint));
        bool dual = endpoint_parse_bool(
            endpoint_setting(env, "AWS_USE_DUALSTACK_ENDPOINT", pv->use_dualstack_endpoint));
        st = sts_endpoint_for(region, mode && strcmp(mode, "legacy") == 0, fips, dual, &b, &signing,
                              message);
        source = "partition default";
    }
    if (st == ECRUP_OK) {
        t->url = ebuf_take(&b);
        t->region = strdup(signing);
        t->source = strdup(source);
        const char *ca = nonempty(pv->client_ca_bundle);
        if (!ca)
            ca = nonempty(env_get(env, "AWS_CA_BUNDLE"));
        if (!ca)
            ca = nonempty(pv->ca_bundle);
        t->ca_bundle = ca ? strdup(ca) : NULL;
        if (!t->url || !t->region || !t->source || (ca && !t->ca_bundle)) {
            sts_target_free(t);
            ebuf_puts(message, "out of memory");
            st = ECRUP_E_NOMEM;
        }
    }
    ebuf_free(&b);
    ebuf_free(&configured);
    return st;
}

ecrup_status sts_resolve_for(const struct cred_config *cfg, const struct profile_set *set,
                             const char *profile, struct sts_target *t, struct ebuf *message)
{
    struct sts_profile_values pv;
    sts_profile_values_read(set, profile, &pv);
    pv.client_region = cfg->region;
    pv.client_ca_bundle = cfg->ca_bundle;
    return sts_resolve(cfg->env, &pv, t, message);
}

/* ---- the calls ---- */

/* application/x-www-form-urlencoded as botocore's query serializer writes it: RFC 3986's
 * unreserved characters as they are, every other byte %XX. */
static void form_put(struct ebuf *b, const char *name, const char *value)
{
    static const char hexd[] = "0123456789ABCDEF";
    ebuf_printf(b, "&%s=", name);
    for (const unsigned char *p = (const unsigned char *)value; *p; p++) {
        if ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ||
            *p == '-' || *p == '_' || *p == '.' || *p == '~') {
            ebuf_putc(b, (char)*p);
        } else {
            char e[3] = {'%', hexd[*p >> 4], hexd[*p & 15]};
            ebuf_append(b, e, 3);
        }
    }
}

static bool retryable_code(const char *code)
{
    static const char *const codes[] = {"Throttling", "ThrottlingException", "RequestLimitExceeded",
                                        "TooManyRequestsException", "IDPCommunicationError"};
    for (size_t i = 0; i < sizeof codes / sizeof *codes; i++)
        if (strcmp(code, codes[i]) == 0)
            return true;
    return false;
}

/* What the caller's messages say the call was. */
struct call_context {
    const char *action;
    const char *role_arn;
    const char *with; /* "the web identity token in FILE", "credentials from profile X" */
};

/* One reply turned into credentials or a status. *retry is set for replies worth another
 * attempt. */
static ecrup_status interpret(const struct call_context *cc, long http, const struct ebuf *body,
                              const struct sts_call_options *o, bool *retry,
                              struct cred_snapshot **out, struct ebuf *err)
{
    struct sts_reply r;
    struct ebuf why = EBUF_INIT;
    ecrup_status st =
        sts_parse_reply(body->data ? body->data : "", body->len, cc->action, &r, &why);
    *retry = false;
    if (st == ECRUP_E_NOMEM) {
        ebuf_puts(err, "STS: out of memory");
    } else if (st != ECRUP_OK) {
        *retry = http >= 500;
        ebuf_printf(err,
                    "STS returned a reply that is not an %s response (HTTP %ld: %s) for role %s",
                    cc->action, http, ebuf_str(&why), cc->role_arn);
        st = http >= 500 ? ECRUP_E_SERVER : ECRUP_E_CREDENTIALS;
    } else if (r.error || http != 200) {
        const char *code = r.code ? r.code : "(none)";
        *retry = http >= 500 || retryable_code(code);
        st = http >= 500            ? ECRUP_E_SERVER
             : retryable_code(code) ? ECRUP_E_THROTTLED
                                    : ECRUP_E_CREDENTIALS;
        ebuf_printf(err, "STS %s refused role %s assumed with %s: HTTP %ld %.64s", cc->action,
                    cc->role_arn, cc->with, http, code);
        if (r.message)
            ebuf_printf(err, ": %.*s", MAX_MESSAGE_SHOWN, r.message);
    } else {
        time_t exp;
        if (!cred_parse_time(r.expiration, &exp)) {
            ebuf_printf(err, "STS %s for role %s: Expiration is not an ISO 8601 time", cc->action,
                        cc->role_arn);
            st = ECRUP_E_CREDENTIALS;
        } else {
            *out = cred_snapshot_new(r.access_key_id, r.secret_access_key,
                                     r.session_token && *r.session_token ? r.session_token : NULL,
                                     exp, o->provider ? o->provider : "sts");
            if (!*out) {
                ebuf_puts(err, "STS: out of memory");
                st = ECRUP_E_NOMEM;
            }
        }
    }
    sts_reply_free(&r);
    ebuf_free(&why);
    return st;
}

/* POST `form` to the target, signed with `source` when it is set; retried with backoff. */
static ecrup_status post(const struct sts_target *t, const struct call_context *cc,
                         const struct ebuf *form, const struct sigv4_credentials *source,
                         const struct sts_call_options *o, struct cred_snapshot **out,
                         struct ebuf *err)
{
    int attempts = o->max_attempts > 0 ? o->max_attempts : 3;
    unsigned backoff = o->backoff_ms ? o->backoff_ms : 200;
    struct ebuf host = EBUF_INIT, hostline = EBUF_INIT, auth = EBUF_INIT, date = EBUF_INIT;
    struct ebuf token = EBUF_INIT;
    struct ebuf body = EBUF_INIT;
    ecrup_status st = ECRUP_E_NOMEM;
    *out = NULL;
    if (sigv4_host_from_url(t->url, &host) != 0) {
        ebuf_printf(err, "STS endpoint %s (from %s) has no host", t->url, t->source);
        st = ECRUP_E_ENDPOINT;
        goto done;
    }
    /* Sent as signed: libcurl would keep the URL's letter case. */
    ebuf_printf(&hostline, "Host: %s", ebuf_str(&host));
    if (!ebuf_ok(&hostline))
        goto done;
    for (int attempt = 1;; attempt++) {
        struct cred_http_call call = {.method = "POST",
                                      .url = t->url,
                                      .body = form->data,
                                      .body_len = form->len,
                                      .attempts = 1,
                                      .allow_proxy = true,
                                      .ca_bundle = t->ca_bundle,
                                      .connect_ms = o->connect_ms,
                                      .timeout_ms = o->timeout_ms};
        ebuf_reset(&auth);
        ebuf_reset(&date);
        cred_wipe_ebuf(&token);
        size_t n = 0;
        call.headers[n++] = "Content-Type: " FORM_TYPE;
        call.headers[n++] = ebuf_str(&hostline);
        if (source) {
            char sha[65];
            if (!sha256_hex(form->data, form->len, sha))
                goto done;
            struct sigv4_header h[] = {{"host", ebuf_str(&host)}, {"content-type", FORM_TYPE}};
            struct sigv4_request req = {.method = "POST",
                                        .path = "/",
                                        .query = "",
                                        .headers = h,
                                        .n_headers = 2,
                                        .payload_sha256 = sha,
                                        .normalize_path = true};
            struct sigv4_signature sig;
            memset(&sig, 0, sizeof sig);
            if (sigv4_sign(&req, source, t->region, "sts", time(NULL), NULL, &sig) != 0) {
                sigv4_signature_free(&sig);
                ebuf_puts(err, "STS: cannot sign the request");
                goto done;
            }
            ebuf_printf(&date, "X-Amz-Date: %s", sig.amz_date);
            ebuf_printf(&auth, "Authorization: %s", ebuf_str(&sig.authorization));
            sigv4_signature_free(&sig);
            call.headers[n++] = ebuf_str(&date);
            call.headers[n++] = ebuf_str(&auth);
            if (source->session_token) {
                ebuf_printf(&token, "X-Amz-Security-Token: %s", source->session_token);
                call.headers[n++] = ebuf_str(&token);
            }
            if (!ebuf_ok(&date) || !ebuf_ok(&auth) || !ebuf_ok(&token))
                goto done;
        }
        long http = 0;
        ebuf_reset(err);
        st = cred_http_fetch(&call, &http, &body, err);
        bool retry = false;
        if (st == ECRUP_E_NETWORK) {
            char h[256];
            cred_url_host(t->url, h, sizeof h);
            struct ebuf why = EBUF_INIT;
            ebuf_puts(&why, ebuf_str(err));
            ebuf_reset(err);
            ebuf_printf(err, "STS %s for role %s: cannot reach %s (from %s): %s", cc->action,
                        cc->role_arn, h, t->source, ebuf_str(&why));
            ebuf_free(&why);
            retry = true;
        } else if (st == ECRUP_OK) {
            st = interpret(cc, http, &body, o, &retry, out, err);
        }
        if (!retry || attempt >= attempts)
            break;
        cred_pause_ms((long)backoff);
        backoff *= 2;
    }
done:
    if (st == ECRUP_E_NOMEM && !err->len)
        ebuf_puts(err, "STS: out of memory");
    ebuf_free(&host);
    ebuf_free(&hostline);
    cred_wipe_ebuf(&auth);
    ebuf_free(&date);
    cred_wipe_ebuf(&token);
    cred_wipe_ebuf(&body);
    return st;
}

ecrup_status sts_assume_role_with_web_identity(const struct sts_target *t, const char *role_arn,
                                               const char *session_name, const char *token,
                                               const char *token_source,
                                               const struct sts_call_options *o,
                                               struct cred_snapshot **out, struct ebuf *err)
{
    struct ebuf form = EBUF_INIT, with = EBUF_INIT;
    ebuf_puts(&form, "Action=AssumeRoleWithWebIdentity&Version=" STS_VERSION);
    form_put(&form, "RoleArn", role_arn);
    form_put(&form, "RoleSessionName", session_name);
    form_put(&form, "WebIdentityToken", token);
    ebuf_printf(&with, "the web identity token in %s", token_source);
    ecrup_status st;
    if (!ebuf_ok(&form) || !ebuf_ok(&with)) {
        ebuf_puts(err, "STS: out of memory");
        st = ECRUP_E_NOMEM;
    } else {
        struct call_context cc = {"AssumeRoleWithWebIdentity", role_arn, ebuf_str(&with)};
        st = post(t, &cc, &form, NULL, o, out, err);
    }
    cred_wipe_ebuf(&form);
    ebuf_free(&with);
    return st;
}

ecrup_status sts_assume_role(const struct sts_target *t, const struct sts_assume_role_params *p,
                             const struct sts_call_options *o, struct cred_snapshot **out,
                             struct ebuf *err)
{
    struct ebuf form = EBUF_INIT, with = EBUF_INIT;
    ebuf_puts(&form, "Action=AssumeRole&Version=" STS_VERSION);
    form_put(&form, "RoleArn", p->role_arn);
    form_put(&form, "RoleSessionName", p->session_name);
    if (p->external_id)
        form_put(&form, "ExternalId", p->external_id);
    if (p->duration_seconds > 0)
        ebuf_printf(&form, "&DurationSeconds=%d", p->duration_seconds);
    if (p->serial_number)
        form_put(&form, "SerialNumber", p->serial_number);
    if (p->token_code)
        form_put(&form, "TokenCode", p->token_code);
    ebuf_printf(&with, "credentials from %s (%s)",
                p->source_name ? p->source_name : "the source profile", p->source->access_key_id);
    ecrup_status st;
    if (!ebuf_ok(&form) || !ebuf_ok(&with)) {
        ebuf_puts(err, "STS: out of memory");
        st = ECRUP_E_NOMEM;
    } else {
        struct call_context cc = {"AssumeRole", p->role_arn, ebuf_str(&with)};
        st = post(t, &cc, &form, p->source, o, out, err);
    }
    cred_wipe_ebuf(&form);
    ebuf_free(&with);
    return st;
}
