/* The "container" credential provider: ECS task roles (AWS_CONTAINER_CREDENTIALS_RELATIVE_URI,
 * fetched from the agent at 169.254.170.2) and EKS Pod Identity or any other endpoint given by
 * AWS_CONTAINER_CREDENTIALS_FULL_URI, with the Authorization token from
 * AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE or AWS_CONTAINER_AUTHORIZATION_TOKEN. */
#include "signer/cred_provider.h"

#include <cjson/cJSON.h>
#include <curl/curl.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "signer/cred_http.h"

#define CONTAINER_HOST "http://169.254.170.2"

/* AWS_CONTAINER_CREDENTIALS_FULL_URI over plain HTTP is only allowed to the container agent's
 * addresses or loopback (botocore's and the SDKs' rule): the token would travel in clear. */
static bool container_host_allowed(const char *url, struct ebuf *err)
{
    CURLU *u = curl_url();
    char *scheme = NULL, *host = NULL;
    bool ok = false;
    if (!u || curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK) {
        ebuf_puts(err, "container credentials: AWS_CONTAINER_CREDENTIALS_FULL_URI is not a URL");
        goto done;
    }
    if (strcasecmp(scheme, "https") == 0) {
        ok = true;
    } else if (strcasecmp(scheme, "http") != 0) {
        ebuf_printf(err, "container credentials: scheme \"%.20s\" is not http or https", scheme);
    } else {
        static const char *const allowed[] = {"169.254.170.2", "169.254.170.23", "[fd00:ec2::23]",
                                              "localhost", "[::1]"};
        for (size_t i = 0; i < sizeof allowed / sizeof *allowed && !ok; i++)
            ok = strcasecmp(host, allowed[i]) == 0;
        /* 127.0.0.0/8, written as a dotted quad. */
        unsigned a, b, cc, d;
        char extra;
        if (!ok && sscanf(host, "%u.%u.%u.%u%c", &a, &b, &cc, &d, &extra) == 4 && a == 127 &&
            b < 256 && cc < 256 && d < 256)
            ok = true;
        if (!ok)
            ebuf_printf(err,
                        "container credentials: host %.100s is not allowed over http (only "
                        "loopback, 169.254.170.2, 169.254.170.23, fd00:ec2::23, or https)",
                        host);
    }
done:
    curl_free(scheme);
    curl_free(host);
    curl_url_cleanup(u);
    return ok;
}

/* The Authorization value: AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE wins over
 * AWS_CONTAINER_AUTHORIZATION_TOKEN, as in botocore (EKS Pod Identity rotates the file).
 * ECRUP_OK with *token (maybe NULL), or the failure. */
static ecrup_status container_token(struct cred_chain *c, char **token, struct ebuf *err)
{
    *token = NULL;
    const char *path = cred_env(c, "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE");
    const char *val = cred_env(c, "AWS_CONTAINER_AUTHORIZATION_TOKEN");
    if (path) {
        FILE *f = fopen(path, "rb");
        if (!f) {
            ebuf_printf(err, "container credentials: cannot read %s: %s", path, strerror(errno));
            return ECRUP_E_CREDENTIALS;
        }
        struct ebuf b = EBUF_INIT;
        char buf[1024];
        size_t n;
        while ((n = fread(buf, 1, sizeof buf, f)) > 0 && b.len < 16384)
            ebuf_append(&b, buf, n);
        explicit_bzero(buf, sizeof buf);
        fclose(f);
        /* Files written by `echo` end in a newline: trim it rather than refuse. */
        while (b.len &&
               (b.data[b.len - 1] == '\n' || b.data[b.len - 1] == '\r' || b.data[b.len - 1] == ' '))
            b.data[--b.len] = '\0';
        ebuf_puts(&b, "");
        if (!ebuf_ok(&b)) {
            cred_wipe_ebuf(&b);
            ebuf_puts(err, "container credentials: out of memory");
            return ECRUP_E_NOMEM;
        }
        *token = ebuf_take(&b);
    } else if (val) {
        *token = strdup(val);
        if (!*token) {
            ebuf_puts(err, "container credentials: out of memory");
            return ECRUP_E_NOMEM;
        }
    }
    if (*token && strpbrk(*token, "\r\n")) {
        ebuf_printf(err,
                    "container credentials: the authorization token from %s is not a legal "
                    "header value",
                    path ? path : "AWS_CONTAINER_AUTHORIZATION_TOKEN");
        cred_wipe_free(*token);
        *token = NULL;
        return ECRUP_E_CREDENTIALS;
    }
    return ECRUP_OK;
}

ecrup_status cred_provider_container(struct cred_chain *c, struct cred_snapshot **out,
                                     struct ebuf *err)
{
    const char *rel = cred_env(c, "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI");
    const char *full = cred_env(c, "AWS_CONTAINER_CREDENTIALS_FULL_URI");
    if (!rel && !full) {
        cred_note(c, "container: AWS_CONTAINER_CREDENTIALS_RELATIVE_URI and _FULL_URI unset");
        return ECRUP_E_NO_CREDENTIALS;
    }
    struct ebuf url = EBUF_INIT, auth = EBUF_INIT, body = EBUF_INIT, detail = EBUF_INIT;
    char *token = NULL;
    ecrup_status st = ECRUP_E_CREDENTIALS;
    if (rel)
        ebuf_printf(&url, "%s%s%s", CONTAINER_HOST, rel[0] == '/' ? "" : "/", rel);
    else
        ebuf_puts(&url, full);
    if (!rel && !container_host_allowed(full, err))
        goto done;
    if ((st = container_token(c, &token, err)) != ECRUP_OK)
        goto done;
    char host[128], who[200];
    cred_url_host(ebuf_str(&url), host, sizeof host);
    snprintf(who, sizeof who, "container credentials from %s", host);
    struct cred_http_call call = {.method = "GET",
                                  .url = ebuf_str(&url),
                                  .headers = {"Accept: application/json", NULL, NULL},
                                  .connect_ms = c->connect_ms,
                                  .timeout_ms = c->timeout_ms};
    if (token) {
        ebuf_printf(&auth, "Authorization: %s", token);
        call.headers[1] = ebuf_str(&auth);
    }
    long status = 0;
    st = cred_http_fetch(&call, &status, &body, &detail);
    if (st != ECRUP_OK) {
        ebuf_printf(err, "%s: %s", who, ebuf_str(&detail));
        if (st == ECRUP_E_NETWORK)
            st = ECRUP_E_CREDENTIALS;
        goto done;
    }
    st = ECRUP_E_CREDENTIALS;
    if (status != 200) {
        ebuf_printf(err, "%s: HTTP %ld", who, status);
        goto done;
    }
    cJSON *root = cJSON_ParseWithLength(ebuf_str(&body), body.len);
    if (!cJSON_IsObject(root))
        ebuf_printf(err, "%s: the reply is not a JSON object", who);
    else
        st = cred_snapshot_from_json(root, "Token", false, "container", who, out, err);
    cJSON_Delete(root);
done:
    cred_wipe_free(token);
    cred_wipe_ebuf(&auth);
    cred_wipe_ebuf(&body);
    ebuf_free(&url);
    ebuf_free(&detail);
    return st;
}
