/* The "imds" credential provider: EC2 instance metadata, IMDSv2 (a session token first),
 * falling back to v1 when the token request is refused, as botocore does. Nothing listening
 * means "not on EC2" and the chain goes on; so does an answer that is an HTTP error (botocore
 * returns no credentials for those too), the status noted, so that the "no credentials"
 * message lists every provider and why each gave nothing instead of this one's status alone.
 * AWS_EC2_METADATA_DISABLED=true skips it, and AWS_EC2_METADATA_SERVICE_ENDPOINT points it
 * elsewhere (tests use loopback). */
#include "signer/cred_provider.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "signer/cred_http.h"
#include "util/json.h"

#define IMDS_TOKEN_TTL        "21600"
#define IMDS_DEFAULT_ENDPOINT "http://169.254.169.254"

/* A request after the token one: a transport failure is the provider's failure. */
static ecrup_status fetch(const struct cred_http_call *call, const char *who, const char *what,
                          long *status, struct ebuf *body, struct ebuf *detail, struct ebuf *err)
{
    ecrup_status st = cred_http_fetch(call, status, body, detail);
    if (st != ECRUP_OK)
        ebuf_printf(err, "%s: %s request: %s", who, what, ebuf_str(detail));
    return st == ECRUP_E_NETWORK ? ECRUP_E_CREDENTIALS : st;
}

ecrup_status cred_provider_imds(struct cred_chain *c, struct cred_snapshot **out, struct ebuf *err)
{
    const char *disabled = cred_env(c, "AWS_EC2_METADATA_DISABLED");
    if (disabled && strcasecmp(disabled, "true") == 0) {
        cred_note(c, "IMDS: disabled by AWS_EC2_METADATA_DISABLED");
        return ECRUP_E_NO_CREDENTIALS;
    }
    const char *endpoint = cred_env(c, "AWS_EC2_METADATA_SERVICE_ENDPOINT");
    if (!endpoint)
        endpoint = IMDS_DEFAULT_ENDPOINT;
    size_t el = strlen(endpoint);
    while (el && endpoint[el - 1] == '/')
        el--;
    char host[128], who[200];
    cred_url_host(endpoint, host, sizeof host);
    snprintf(who, sizeof who, "IMDS at %s", host);
    struct ebuf url = EBUF_INIT, tok_hdr = EBUF_INIT, body = EBUF_INIT, detail = EBUF_INIT;
    struct ebuf role = EBUF_INIT;
    ecrup_status st = ECRUP_E_CREDENTIALS;
    long status = 0;

    ebuf_printf(&url, "%.*s/latest/api/token", (int)el, endpoint);
    struct cred_http_call call = {
        .method = "PUT",
        .url = ebuf_str(&url),
        .headers = {"X-aws-ec2-metadata-token-ttl-seconds: " IMDS_TOKEN_TTL, NULL, NULL},
        .connect_ms = c->connect_ms,
        .timeout_ms = c->timeout_ms};
    st = cred_http_fetch(&call, &status, &body, &detail);
    if (st == ECRUP_E_NETWORK) {
        /* Nothing listens: not on EC2. Not an error of its own, but say what happened. */
        cred_note(c, "IMDS at %s: %s", host, ebuf_str(&detail));
        st = ECRUP_E_NO_CREDENTIALS;
        goto done;
    }
    if (st != ECRUP_OK) {
        ebuf_printf(err, "%s: token request: %s", who, ebuf_str(&detail));
        goto done;
    }
    st = ECRUP_E_CREDENTIALS;
    long token_status = status;
    if (status == 200 && body.len) {
        ebuf_printf(&tok_hdr, "X-aws-ec2-metadata-token: %s", ebuf_str(&body));
        if (strpbrk(ebuf_str(&body), "\r\n")) {
            ebuf_printf(err, "%s: the session token is not a legal header value", who);
            goto done;
        }
    } else if (status == 400) {
        cred_note(c, "%s: token request answered HTTP 400", who);
        st = ECRUP_E_NO_CREDENTIALS;
        goto done;
    }
    /* Any other answer (403/404/405: IMDSv2 unavailable; 5xx): go on with v1, as botocore
     * does; the v1 request says whether the service works at all. */

    call.method = "GET";
    call.headers[0] = tok_hdr.len ? ebuf_str(&tok_hdr) : NULL;
    ebuf_reset(&url);
    ebuf_printf(&url, "%.*s/latest/meta-data/iam/security-credentials/", (int)el, endpoint);
    call.url = ebuf_str(&url);
    if ((st = fetch(&call, who, "role", &status, &body, &detail, err)) != ECRUP_OK)
        goto done;
    if (status == 404) {
        cred_note(c, "IMDS at %s: no IAM role attached to the instance", host);
        st = ECRUP_E_NO_CREDENTIALS;
        goto done;
    }
    if (status != 200) {
        if (tok_hdr.len)
            cred_note(c, "%s: role request answered HTTP %ld", who, status);
        else if (token_status == status)
            cred_note(c, "%s: HTTP %ld to the token and role requests", who, status);
        else
            cred_note(c, "%s: HTTP %ld to the token request, %ld to the role request", who,
                      token_status, status);
        st = ECRUP_E_NO_CREDENTIALS;
        goto done;
    }
    st = ECRUP_E_CREDENTIALS;
    size_t rl = strcspn(ebuf_str(&body), "\r\n");
    ebuf_append(&role, ebuf_str(&body), rl);
    ebuf_puts(&role, "");
    if (rl == 0 || strpbrk(ebuf_str(&role), "/?# ")) {
        ebuf_printf(err, "%s: the role list is empty or malformed", who);
        goto done;
    }
    ebuf_printf(&url, "%s", ebuf_str(&role));
    call.url = ebuf_str(&url);
    if ((st = fetch(&call, who, "credentials", &status, &body, &detail, err)) != ECRUP_OK)
        goto done;
    if (status != 200) {
        cred_note(c, "%s: credentials request for role %.100s answered HTTP %ld", who,
                  ebuf_str(&role), status);
        st = ECRUP_E_NO_CREDENTIALS;
        goto done;
    }
    st = ECRUP_E_CREDENTIALS;
    cJSON *root = cJSON_ParseWithLength(ebuf_str(&body), body.len);
    const char *code = cJSON_IsObject(root) ? json_string(root, "Code") : NULL;
    if (!cJSON_IsObject(root))
        ebuf_printf(err, "%s: the credentials reply is not a JSON object", who);
    else if (code && strcmp(code, "Success") != 0)
        ebuf_printf(err, "%s: the credentials reply says Code \"%.60s\"", who, code);
    else
        st = cred_snapshot_from_json(root, "Token", true, "imds", who, out, err);
    cJSON_Delete(root);
done:
    cred_wipe_ebuf(&tok_hdr);
    cred_wipe_ebuf(&body);
    ebuf_free(&url);
    ebuf_free(&detail);
    ebuf_free(&role);
    return st;
}
