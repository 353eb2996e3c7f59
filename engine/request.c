/* One ECR call on a libcurl easy handle, and what a failed one means: its status, the clock
 * skew rule, its description, and the failure a result record takes from it. See request.h. */
#include "engine/request.h"

#include "signer/clock.h"
#include "signer/endpoint.h"
#include "util/hex.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define MAX_REPLY (1u << 20) /* ECR's replies are small; anything larger is not ECR */

void ecr_request_init(struct ecr_request *r)
{
    memset(r, 0, sizeof *r);
    ebuf_init(&r->reply);
}

void ecr_request_cleanup(struct ecr_request *r)
{
    curl_slist_free_all(r->headers);
    ebuf_free(&r->reply);
    r->headers = NULL;
}

/* libcurl asks for more of a streamed body. */
static size_t on_read(char *dst, size_t size, size_t n, void *user)
{
    const struct ecr_body_reader *rd = user;
    return rd->read(rd->user, dst, size * n);
}

/* libcurl sends the body again (a reused connection that had closed): only from the start. */
static int on_seek(void *user, curl_off_t offset, int origin)
{
    const struct ecr_body_reader *rd = user;
    if (offset != 0 || origin != SEEK_SET)
        return CURL_SEEKFUNC_CANTSEEK;
    rd->rewind(rd->user);
    return CURL_SEEKFUNC_OK;
}

static size_t on_body(char *data, size_t size, size_t n, void *user)
{
    struct ecr_request *r = user;
    size_t len = size * n;
    if (r->reply.len + len > MAX_REPLY)
        return 0; /* aborts the transfer with CURLE_WRITE_ERROR */
    ebuf_append(&r->reply, data, len);
    return ebuf_ok(&r->reply) ? len : 0;
}

static size_t on_header(char *data, size_t size, size_t n, void *user)
{
    struct ecr_request *r = user;
    size_t len = size * n;
    if (len > 5 && !strncasecmp(data, "date:", 5)) {
        const char *v = data + 5;
        size_t vlen = len - 5;
        while (vlen && (*v == ' ' || *v == '\t'))
            v++, vlen--;
        while (vlen && (v[vlen - 1] == '\r' || v[vlen - 1] == '\n' || v[vlen - 1] == ' '))
            vlen--;
        if (vlen < sizeof r->date_header) {
            memcpy(r->date_header, v, vlen);
            r->date_header[vlen] = '\0';
        }
    }
    return len;
}

static bool add_header(struct curl_slist **list, const char *name, const char *value)
{
    struct ebuf line = EBUF_INIT;
    ebuf_printf(&line, "%s: %s", name, value);
    struct curl_slist *l = ebuf_ok(&line) ? curl_slist_append(*list, ebuf_str(&line)) : NULL;
    ebuf_free(&line);
    if (!l)
        return false;
    *list = l;
    return true;
}

void ecr_request_fail(struct ecr_request *r, ecrup_status status, const char *fmt, ...)
{
    r->status = status;
    r->error.exception[0] = '\0';
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->error.message, sizeof r->error.message, fmt, ap);
    va_end(ap);
}

/* Every option must take: one refused (an old libcurl without CURLOPT_PROTOCOLS_STR, memory
 * for a copied string) would otherwise send a request other than the one meant. */
static ecrup_status setopt_status(struct ecr_request *r, CURLcode c, const char *option)
{
    if (c == CURLE_OK)
        return ECRUP_OK;
    ecrup_status st = c == CURLE_OUT_OF_MEMORY                               ? ECRUP_E_NOMEM
                      : c == CURLE_UNKNOWN_OPTION || c == CURLE_NOT_BUILT_IN ? ECRUP_E_UNSUPPORTED
                                                                             : ECRUP_E_INTERNAL;
    ecr_request_fail(r, st, "libcurl refused %s: %s", option, curl_easy_strerror(c));
    return st;
}

#define SETOPT(opt, val)                                                                           \
    do {                                                                                           \
        ecrup_status st_ = setopt_status(r, curl_easy_setopt(easy, opt, val), #opt);               \
        if (st_ != ECRUP_OK)                                                                       \
            return st_;                                                                            \
    } while (0)

ecrup_status ecr_request_prepare(struct ecr_request *r, CURL *easy, const struct ecr_target *target,
                                 const struct ecr_call *call, const struct sigv4_credentials *creds,
                                 time_t now, struct sigv4_key_cache *keys)
{
    r->target = target;
    curl_slist_free_all(r->headers);
    r->headers = NULL;
    ebuf_reset(&r->reply);
    r->date_header[0] = '\0';
    r->signed_at = now;
    r->http_status = 0;
    r->curl_result = CURLE_OK;
    r->curl_error[0] = '\0';
    r->status = ECRUP_OK;
    memset(&r->error, 0, sizeof r->error);

    char body_hash[65];
    if (call->reader.read && !call->body_sha256) {
        ecr_request_fail(r, ECRUP_E_INTERNAL, "a streamed body needs its SHA-256 up front");
        return r->status;
    }
    if (call->body_sha256)
        snprintf(body_hash, sizeof body_hash, "%s", call->body_sha256);
    else if (!sha256_hex(call->body, call->body_len, body_hash)) {
        ecr_request_fail(r, ECRUP_E_INTERNAL, "SHA-256 of the request body failed");
        return r->status;
    }

    char target_value[128];
    snprintf(target_value, sizeof target_value, ECR_TARGET_PREFIX "%s", call->operation);
    struct sigv4_header signed_headers[] = {
        {"host", target->host_header},
        {"content-type", ECR_CONTENT_TYPE},
        {"x-amz-target", target_value},
    };
    struct sigv4_request req = {
        .method = "POST",
        .path = target->path ? target->path : "/",
        .query = "",
        .headers = signed_headers,
        .n_headers = sizeof signed_headers / sizeof signed_headers[0],
        .payload_sha256 = body_hash,
        .normalize_path = true,
    };
    struct sigv4_signature sig;
    memset(&sig, 0, sizeof sig);
    if (sigv4_sign(&req, creds, target->region, "ecr", now, keys, &sig) != 0) {
        sigv4_signature_free(&sig);
        ecr_request_fail(r, ECRUP_E_NOMEM, "cannot sign the request: out of memory");
        return r->status;
    }
    bool ok = add_header(&r->headers, "Host", target->host_header) &&
              add_header(&r->headers, "Content-Type", ECR_CONTENT_TYPE) &&
              add_header(&r->headers, "X-Amz-Target", target_value) &&
              add_header(&r->headers, "X-Amz-Date", sig.amz_date) &&
              add_header(&r->headers, "Authorization", ebuf_str(&sig.authorization)) &&
              (!creds->session_token ||
               add_header(&r->headers, "X-Amz-Security-Token", creds->session_token));
    /* An empty Expect: stops libcurl waiting a second for a 100 Continue on large bodies;
     * Accept: is dropped because it was not signed (unsigned headers are allowed, but
     * sending only what was signed keeps requests easy to reason about). */
    struct curl_slist *l = ok ? curl_slist_append(r->headers, "Expect:") : NULL;
    if (l)
        r->headers = l;
    l = l ? curl_slist_append(r->headers, "Accept:") : NULL;
    if (l)
        r->headers = l;
    sigv4_signature_free(&sig);
    if (!l) {
        ecr_request_fail(r, ECRUP_E_NOMEM, "cannot build the request headers: out of memory");
        return r->status;
    }

    struct ebuf url = EBUF_INIT;
    ebuf_puts(&url, target->url);
    if (!target->path && (!url.len || url.data[url.len - 1] != '/'))
        ebuf_putc(&url, '/');
    if (!ebuf_ok(&url)) {
        ebuf_free(&url);
        ecr_request_fail(r, ECRUP_E_NOMEM, "cannot build the request URL: out of memory");
        return r->status;
    }

    curl_easy_reset(easy);
    ecrup_status url_st =
        setopt_status(r, curl_easy_setopt(easy, CURLOPT_URL, ebuf_str(&url)), "CURLOPT_URL");
    ebuf_free(&url); /* libcurl copies string options */
    if (url_st != ECRUP_OK)
        return url_st;
    SETOPT(CURLOPT_POST, 1L);
    if (call->reader.read) {
        call->reader.rewind(call->reader.user);
        SETOPT(CURLOPT_READFUNCTION, on_read);
        SETOPT(CURLOPT_READDATA, &call->reader);
        SETOPT(CURLOPT_SEEKFUNCTION, on_seek);
        SETOPT(CURLOPT_SEEKDATA, &call->reader);
    } else {
        SETOPT(CURLOPT_POSTFIELDS, call->body);
    }
    SETOPT(CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)call->body_len);
    SETOPT(CURLOPT_HTTPHEADER, r->headers);
    SETOPT(CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
    /* The body goes into this buffer (written by the reader, or copied from POSTFIELDS) and
     * send() copies it from there into the socket: at 512 KiB the buffer stays in L2 between
     * the two, and both cost less than with 2 MiB (perf, 4 x 256 MiB: memcpy 0.30 -> 0.21,
     * send copy 0.25 -> 0.19 CPU-s/GB) while the calls are still few. */
    SETOPT(CURLOPT_UPLOAD_BUFFERSIZE, 512L << 10);
    SETOPT(CURLOPT_WRITEFUNCTION, on_body);
    SETOPT(CURLOPT_WRITEDATA, r);
    SETOPT(CURLOPT_HEADERFUNCTION, on_header);
    SETOPT(CURLOPT_HEADERDATA, r);
    SETOPT(CURLOPT_ERRORBUFFER, r->curl_error);
    SETOPT(CURLOPT_NOSIGNAL, 1L);
    SETOPT(CURLOPT_TCP_KEEPALIVE, 1L);
    SETOPT(CURLOPT_CONNECTTIMEOUT_MS,
           target->connect_timeout_ms ? target->connect_timeout_ms : 10000L);
    SETOPT(CURLOPT_LOW_SPEED_LIMIT, target->low_speed_bytes ? target->low_speed_bytes : 1024L);
    SETOPT(CURLOPT_LOW_SPEED_TIME, target->low_speed_seconds ? target->low_speed_seconds : 30L);
    SETOPT(CURLOPT_PROTOCOLS_STR, "http,https");
    if (target->ca_bundle)
        SETOPT(CURLOPT_CAINFO, target->ca_bundle);
    if (target->insecure) {
        SETOPT(CURLOPT_SSL_VERIFYPEER, 0L);
        SETOPT(CURLOPT_SSL_VERIFYHOST, 0L);
    }
    return ECRUP_OK;
}

#undef SETOPT

static bool is_transport_error(CURLcode c)
{
    switch (c) {
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
    case CURLE_COULDNT_CONNECT:
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_PARTIAL_FILE:
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
        return true;
    default:
        return false;
    }
}

bool ecr_request_clock_skewed(const struct ecr_request *r)
{
    const char *x = r->error.exception;
    if (!strcmp(x, "RequestTimeTooSkewed") || !strcmp(x, "RequestExpired") ||
        !strcmp(x, "RequestInTheFuture"))
        return true;
    if (strcmp(x, "InvalidSignatureException") != 0 && r->http_status != 401 &&
        r->http_status != 403)
        return false;
    time_t server;
    if (!r->date_header[0] || !sigv4_parse_http_date(r->date_header, &server))
        return false;
    return llabs((long long)server - (long long)r->signed_at) > ECR_SKEW_SECONDS;
}

static bool is_auth_exception(const char *x)
{
    static const char *const names[] = {
        "UnrecognizedClientException",
        "InvalidSignatureException",
        "AccessDeniedException",
        "ExpiredTokenException",
        "MissingAuthenticationTokenException",
        "IncompleteSignatureException",
    };
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (!strcmp(x, names[i]))
            return true;
    return false;
}

/* Service exceptions are the protocol's own names. */
ecrup_status ecr_request_reply_status(const struct ecr_request *r)
{
    if (r->curl_result != CURLE_OK) {
        switch (r->curl_result) {
        case CURLE_OPERATION_TIMEDOUT:
            return ECRUP_E_TIMEOUT;
        case CURLE_SSL_CONNECT_ERROR:
        case CURLE_PEER_FAILED_VERIFICATION:
        case CURLE_SSL_CACERT_BADFILE:
        case CURLE_SSL_CERTPROBLEM:
            return ECRUP_E_TLS;
        default:
            return ECRUP_E_NETWORK;
        }
    }
    const char *x = r->error.exception;
    if (retry_is_throttling_exception(x))
        return ECRUP_E_THROTTLED;
    if (!strcmp(x, "RepositoryNotFoundException"))
        return ECRUP_E_NOT_FOUND;
    if (!strcmp(x, "InvalidLayerException"))
        return ECRUP_E_DIGEST_MISMATCH;
    if (ecr_request_clock_skewed(r))
        return ECRUP_E_CLOCK_SKEW;
    if (is_auth_exception(x) || r->http_status == 401 || r->http_status == 403)
        return ECRUP_E_AUTH;
    if (r->http_status >= 500)
        return ECRUP_E_SERVER;
    return x[0] ? ECRUP_E_REMOTE : ECRUP_E_PROTOCOL;
}

bool ecr_request_finish(struct ecr_request *r, CURL *easy, CURLcode result,
                        struct retry_outcome *outcome)
{
    r->curl_result = result;
    r->http_status = 0;
    curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &r->http_status);
    memset(outcome, 0, sizeof *outcome);
    memset(&r->error, 0, sizeof r->error);
    if (result != CURLE_OK) {
        outcome->timeout = result == CURLE_OPERATION_TIMEDOUT;
        outcome->transport_error = is_transport_error(result);
        if (!r->curl_error[0])
            snprintf(r->curl_error, sizeof r->curl_error, "%s", curl_easy_strerror(result));
        r->status = ecr_request_reply_status(r);
        return false;
    }
    outcome->http_status = r->http_status;
    if (r->http_status >= 200 && r->http_status < 300) {
        r->status = ECRUP_OK;
        return true;
    }
    ecr_parse_error(r->reply.data, r->reply.len, &r->error);
    outcome->exception = r->error.exception[0] ? r->error.exception : NULL;
    r->status = ecr_request_reply_status(r);
    return false;
}

void ecr_request_describe(const struct ecr_request *r, struct ebuf *out)
{
    if (!r->http_status && r->curl_result == CURLE_OK) { /* ended before any reply */
        ebuf_puts(out, r->error.message[0] ? r->error.message : ecrup_strerror(r->status));
        return;
    }
    if (r->curl_result == CURLE_COULDNT_RESOLVE_HOST && r->target) {
        /* A mistyped region is accepted (new regions appear), so this is where it shows. */
        struct ebuf hint = EBUF_INIT;
        if (endpoint_unresolved_hint(r->target->host, r->target->region, &hint) && ebuf_ok(&hint)) {
            ebuf_printf(out, "cannot resolve %s: %s (curl error %d)", r->target->host,
                        ebuf_str(&hint), (int)r->curl_result);
            ebuf_free(&hint);
            return;
        }
        ebuf_free(&hint);
    }
    if (r->curl_result != CURLE_OK) {
        ebuf_printf(out, "%s (curl error %d)", r->curl_error, (int)r->curl_result);
        return;
    }
    if (r->error.exception[0]) {
        ebuf_printf(out, "%s: %s (HTTP %ld)", r->error.exception,
                    r->error.message[0] ? r->error.message : "no message", r->http_status);
        return;
    }
    ebuf_printf(out, "HTTP %ld%s%s", r->http_status, r->error.message[0] ? ": " : "",
                r->error.message);
}

/* A failed request as a status, for the result record. */
ecrup_status request_status(const struct ecr_request *req, bool cancelled)
{
    if (cancelled)
        return ECRUP_E_CANCELLED;
    return req->status != ECRUP_OK ? req->status : ECRUP_E_INTERNAL;
}

void request_failure(const struct ecr_request *req, const char *operation, unsigned attempts,
                     bool cancelled, struct request_failure *out)
{
    out->status = request_status(req, cancelled);
    out->exception = !cancelled && req->error.exception[0] ? req->error.exception
                                                           : ecrup_status_name(out->status);
    out->http_status = cancelled ? 0 : req->http_status;
    if (cancelled) {
        snprintf(out->message, sizeof out->message, "cancelled");
        return;
    }
    struct ebuf what = EBUF_INIT;
    ecr_request_describe(req, &what);
    snprintf(out->message, sizeof out->message, "%s (after %u attempt%s): %s", operation, attempts,
             attempts == 1 ? "" : "s", ebuf_ok(&what) ? ebuf_str(&what) : "out of memory");
    ebuf_free(&what);
}
