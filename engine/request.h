/* One ECR API call on a libcurl easy handle: headers set and signed just before the attempt,
 * the body sent from the caller's memory or pulled from a reader (ecr_body_reader), the reply
 * captured, the outcome classified for the retry policy.
 *
 * Ownership: struct ecr_request owns its header list and reply buffer; the easy handle is the
 * caller's (one per connection slot, reused so keep-alive connections are reused). Thread: a
 * request belongs to the thread that drives its easy handle (a transfer thread's multi
 * handle, or curl_easy_perform in tools and tests). */
#ifndef ECRUP_ENGINE_REQUEST_H
#define ECRUP_ENGINE_REQUEST_H

#include <curl/curl.h>
#include <ecrup.h>
#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "engine/ecr_json.h"
#include "engine/retry.h"
#include "signer/sigv4.h"
#include "util/buf.h"

/* Where and how to connect; borrowed by every request made with it. */
struct ecr_target {
    const char *url;         /* where to POST: scheme://host[:port]/path (endpoint base_url);
                                without a path, "/" is added */
    const char *path;        /* the URL's path as SigV4 signs it; NULL: "/" */
    const char *host;        /* the host name alone, for messages; NULL: not known */
    const char *host_header; /* Host value as signed: port only when not the scheme default */
    const char *region;
    const char *ca_bundle;   /* NULL: libcurl's default store */
    bool insecure;           /* skip TLS verification: only when the user asked for it */
    long connect_timeout_ms; /* 0: 10 s */
    long low_speed_bytes;    /* stall detection: below this many bytes/s... (0: 1024) */
    long low_speed_seconds;  /* ...for this long aborts the attempt (0: 30 s) */
};

/* A body libcurl pulls as it sends, instead of one in memory: `read` writes up to `cap` more
 * bytes into `dst` (libcurl's upload buffer) and returns how many (0 at the end); `rewind`
 * goes back to the first byte (each attempt, and when libcurl sends again by itself). Called
 * on the thread that drives the request. */
struct ecr_body_reader {
    size_t (*read)(void *user, char *dst, size_t cap);
    void (*rewind)(void *user);
    void *user;
};

/* One call: operation and body. The body (or the reader) is borrowed until the request
 * finishes. */
struct ecr_call {
    const char *operation; /* "UploadLayerPart" */
    const char *body;      /* NULL when `reader` gives the body */
    size_t body_len;
    const char *body_sha256;       /* 64 hex digits when the caller has it (part bodies; required
                                      with a reader); NULL: computed here */
    struct ecr_body_reader reader; /* read NULL: the body is `body` */
};

struct ecr_request {
    const struct ecr_target *target; /* borrowed from ecr_request_prepare(), for messages */
    struct curl_slist *headers;
    struct ebuf reply;
    char date_header[64]; /* the reply's Date, for clock-skew correction ("" when absent) */
    time_t signed_at;     /* the X-Amz-Date the request was signed with */
    long http_status;
    CURLcode curl_result;
    char curl_error[CURL_ERROR_SIZE];
    struct ecr_error error; /* filled by ecr_request_finish on an HTTP error; for a request
                               that failed before any reply, error.message says why */
    ecrup_status status;    /* ECRUP_OK, or why the request failed (ecr_request_finish,
                               ecr_request_fail); the exception, if any, is in `error` */
};

void ecr_request_init(struct ecr_request *r);
void ecr_request_cleanup(struct ecr_request *r);

/* Reset `easy` and configure it for `call` against `target`, signed with `creds` at `now`.
 * After this, perform the handle (or add it to a multi handle). Returns ECRUP_OK, or the
 * status (also in r->status, with r->error.message) when the request cannot be built: out of
 * memory, a signing failure, or libcurl refusing an option this build lacks. */
ecrup_status ecr_request_prepare(struct ecr_request *r, CURL *easy, const struct ecr_target *target,
                                 const struct ecr_call *call, const struct sigv4_credentials *creds,
                                 time_t now, struct sigv4_key_cache *keys);

/* After the transfer: record the libcurl result and status, parse an error reply into
 * r->error, set r->status, and describe the outcome for the retry policy
 * (outcome->exception points into r). Returns true when the call succeeded (2xx). */
bool ecr_request_finish(struct ecr_request *r, CURL *easy, CURLcode result,
                        struct retry_outcome *outcome);

/* End the request before any reply: `status` and a message (printf-style) saying why. */
void ecr_request_fail(struct ecr_request *r, ecrup_status status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* The one clock-skew rule: true when the service refused the request because the time it
 * was signed at is too far from the service's clock. Either the service says so by name
 * (RequestTimeTooSkewed, RequestExpired, RequestInTheFuture), or it refused the signature
 * (InvalidSignatureException, HTTP 401/403) and the reply's Date is more than
 * ECR_SKEW_SECONDS from the time the request was signed at (SigV4 allows 5 minutes either
 * way; the AWS SDKs take 4 as skewed). Decided from names and times, never from messages. */
#define ECR_SKEW_SECONDS 240
bool ecr_request_clock_skewed(const struct ecr_request *r);

/* What a finished, failed request means, from its libcurl result, HTTP status, exception and
 * Date: the status ecr_request_finish records. Pure over `r`. */
ecrup_status ecr_request_reply_status(const struct ecr_request *r);

/* A one-line description of a failed request for results and logs: the ECR exception and
 * message, else the HTTP status, else libcurl's error; a host that did not resolve, with a
 * region no partition lists among its labels, names the region as a likely typo
 * (endpoint_unresolved_hint()). Never contains secrets. */
void ecr_request_describe(const struct ecr_request *r, struct ebuf *out);

/* A failed request as a status for a result record: cancelled, network, TLS, throttled,
 * auth, ... */
ecrup_status request_status(const struct ecr_request *req, bool cancelled);

/* A failed request as a result record takes it: the status, the exception (ECR's, else the
 * status's name), the HTTP status and a message "OPERATION (after N attempts): what went
 * wrong", never holding a secret. */
struct request_failure {
    ecrup_status status;
    const char *exception; /* points into the request or is static */
    long http_status;
    char message[512];
};
void request_failure(const struct ecr_request *req, const char *operation, unsigned attempts,
                     bool cancelled, struct request_failure *out);

#endif
