/* The HTTP the credential providers share (container, IMDS, SSO, STS): libcurl easy handles,
 * no proxy unless the call allows one, no redirects, http and https only, bounded replies. The
 * library never calls curl_global_init(); the program does (docs/credentials.md). */
#ifndef ECRUP_SIGNER_CRED_HTTP_H
#define ECRUP_SIGNER_CRED_HTTP_H

#include <stdbool.h>
#include <stddef.h>

#include <ecrup.h>

#include "util/buf.h"

struct cred_http_call {
    const char *method; /* "GET", "PUT" (an empty PUT) or "POST" (of `body`) */
    const char *url;
    const char *headers[6]; /* NULL-terminated "Name: value" lines */
    const char *body;       /* POST only; borrowed */
    size_t body_len;
    bool allow_proxy;      /* false: never a proxy (metadata endpoints); STS sets it, since public
                              endpoints are reached like the ECR API, through the environment's proxy */
    const char *ca_bundle; /* PEM file of CAs to trust; NULL: libcurl's default */
    int attempts;          /* 0: 2 (one retry); STS retries with its own backoff and passes 1 */
    long connect_ms, timeout_ms;
};

/* One request, retried (once by default) after a transport error or a 5xx: metadata services
 * blip.
 * Returns ECRUP_OK with *status and the body; ECRUP_E_NETWORK when the transport failed
 * (the caller decides what that means; the reason is in `err`); or, when the request could
 * not be set up, ECRUP_E_NOMEM, ECRUP_E_UNSUPPORTED (libcurl lacks an option or protocol) or
 * ECRUP_E_CREDENTIALS, with `err` naming the option libcurl refused. `body` is wiped first. */
ecrup_status cred_http_fetch(const struct cred_http_call *call, long *status, struct ebuf *body,
                             struct ebuf *err);

/* Sleep `ms` milliseconds between a provider's own retries (SSO portal, sign-in, STS). */
void cred_pause_ms(long ms);

/* The host of `url` for messages (never its path or query, which may carry ids); "?" when
 * libcurl cannot parse it. */
void cred_url_host(const char *url, char *out, size_t cap);

#endif
