/* HTTP for the credential providers (container, IMDS, STS). Every curl_easy_setopt() is checked:
 * CURLOPT_PROTOCOLS_STR, CURLOPT_NOPROXY and CURLOPT_FOLLOWLOCATION are what keep a token
 * from going anywhere but the metadata endpoint, so a request libcurl would not set up as
 * asked is not sent. */
#include "signer/cred_http.h"

#include <curl/curl.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "signer/cred_provider.h"

#define MAX_HTTP_BODY (64 * 1024)

static size_t collect(char *ptr, size_t size, size_t nmemb, void *user)
{
    struct ebuf *b = user;
    size_t n = size * nmemb;
    if (b->len + n > MAX_HTTP_BODY)
        return 0; /* abort the transfer: no credential reply is this large */
    ebuf_append(b, ptr, n);
    return ebuf_ok(b) ? n : 0;
}

void cred_url_host(const char *url, char *out, size_t cap)
{
    snprintf(out, cap, "?");
    CURLU *u = curl_url();
    char *host = NULL;
    if (u && curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK &&
        curl_url_get(u, CURLUPART_HOST, &host, 0) == CURLUE_OK)
        snprintf(out, cap, "%s", host);
    curl_free(host);
    curl_url_cleanup(u);
}

static ecrup_status refused(struct ebuf *err, const char *option, CURLcode rc)
{
    ebuf_printf(err, "libcurl refused %s: %s", option, curl_easy_strerror(rc));
    switch (rc) {
    case CURLE_OUT_OF_MEMORY:
        return ECRUP_E_NOMEM;
    case CURLE_UNKNOWN_OPTION:
    case CURLE_NOT_BUILT_IN:
    case CURLE_UNSUPPORTED_PROTOCOL:
        return ECRUP_E_UNSUPPORTED;
    default:
        return ECRUP_E_CREDENTIALS;
    }
}

#define SET(option, value)                                                                         \
    do {                                                                                           \
        CURLcode set_rc = curl_easy_setopt(h, option, value);                                      \
        if (set_rc != CURLE_OK) {                                                                  \
            st = refused(err, #option, set_rc);                                                    \
            goto done;                                                                             \
        }                                                                                          \
    } while (0)

static ecrup_status http_once(const struct cred_http_call *call, long *status, struct ebuf *body,
                              struct ebuf *err)
{
    CURL *h = curl_easy_init();
    if (!h) {
        ebuf_puts(err, "cannot create an HTTP handle");
        return ECRUP_E_NOMEM;
    }
    ecrup_status st = ECRUP_OK;
    struct curl_slist *hdrs = NULL;
    for (size_t i = 0; i < sizeof call->headers / sizeof *call->headers && call->headers[i]; i++) {
        struct curl_slist *n = curl_slist_append(hdrs, call->headers[i]);
        if (!n) {
            ebuf_puts(err, "out of memory");
            st = ECRUP_E_NOMEM;
            goto done;
        }
        hdrs = n;
    }
    char errbuf[CURL_ERROR_SIZE] = "";
    SET(CURLOPT_ERRORBUFFER, errbuf);
    SET(CURLOPT_URL, call->url);
    SET(CURLOPT_CUSTOMREQUEST, call->method);
    if (strcmp(call->method, "PUT") == 0) {
        /* An empty PUT: no upload callback, just the verb. */
        SET(CURLOPT_POSTFIELDS, "");
        SET(CURLOPT_POSTFIELDSIZE, 0L);
    } else if (strcmp(call->method, "POST") == 0) {
        SET(CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)call->body_len);
        SET(CURLOPT_POSTFIELDS, call->body ? call->body : "");
    }
    SET(CURLOPT_HTTPHEADER, hdrs);
    SET(CURLOPT_PROTOCOLS_STR, "http,https");
    SET(CURLOPT_NOSIGNAL, 1L);
    /* Metadata endpoints are link-local or loopback: a proxy must never see the tokens. */
    if (!call->allow_proxy)
        SET(CURLOPT_NOPROXY, "*");
    SET(CURLOPT_FOLLOWLOCATION, 0L);
    if (call->ca_bundle)
        SET(CURLOPT_CAINFO, call->ca_bundle);
    SET(CURLOPT_CONNECTTIMEOUT_MS, call->connect_ms);
    SET(CURLOPT_TIMEOUT_MS, call->timeout_ms);
    SET(CURLOPT_WRITEFUNCTION, collect);
    SET(CURLOPT_WRITEDATA, body);
    CURLcode rc = curl_easy_perform(h);
    if (rc == CURLE_OK)
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, status);
    if (rc != CURLE_OK) {
        ebuf_puts(err, errbuf[0] ? errbuf : curl_easy_strerror(rc));
        st = ECRUP_E_NETWORK;
    }
done:
    curl_slist_free_all(hdrs);
    curl_easy_cleanup(h);
    return st;
}

ecrup_status cred_http_fetch(const struct cred_http_call *call, long *status, struct ebuf *body,
                             struct ebuf *err)
{
    int attempts = call->attempts > 0 ? call->attempts : 2;
    for (int attempt = 1;; attempt++) {
        ebuf_reset(err);
        cred_wipe_ebuf(body);
        *status = 0;
        ecrup_status st = http_once(call, status, body, err);
        bool retry = st == ECRUP_E_NETWORK || (st == ECRUP_OK && *status >= 500);
        if (attempt >= attempts || !retry)
            return st;
    }
}

void cred_pause_ms(long ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}
