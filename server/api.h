/* The request handler of `ecrup serve`, independent of HTTP and sockets: one call per
 * request, fed the body in chunks, answering with an ECR reply. The HTTP layer (server.c)
 * checks the signature and applies faults around it; the fuzz target drives it directly.
 *
 * A call is owned by one request and touched by one thread at a time. */
#ifndef ECRUP_SERVER_API_H
#define ECRUP_SERVER_API_H

#include <stdbool.h>
#include <stddef.h>

#include "server/registry.h"

#define SRV_TARGET_PREFIX "AmazonEC2ContainerRegistry_V20150921."
/* Largest body accepted for any operation but UploadLayerPart (a 4 MiB manifest, escaped). */
#define SRV_MAX_SMALL_BODY (16u << 20)
/* Largest UploadLayerPart body: a 20 MiB blob in base64 plus the small members. */
#define SRV_MAX_PART_BODY (28u << 20)

struct srv_call;

/* Start a call for the X-Amz-Target `target` (NULL when absent). Never NULL unless out of
 * memory; an unknown target gives a call that drains its body and answers
 * UnknownOperationException. */
struct srv_call *srv_call_begin(struct registry *reg, const char *target);
/* The region the request was signed for, which the ARNs in the reply name (default
 * us-east-1). Copied. */
void srv_call_set_region(struct srv_call *c, const char *region);
/* The i-th operation the endpoint has (from 0), or NULL past the last: the dispatch table
 * itself, so the fuzz target and UnknownOperationException's message list every one. */
const char *srv_operation_name(size_t i);
/* The operation name ("UploadLayerPart"), or "" when the target is unknown. */
const char *srv_call_operation(const struct srv_call *c);
/* The largest body this call accepts (its operation's limit). */
size_t srv_call_body_limit(const struct srv_call *c);
/* Next chunk of the body. Never fails: errors are kept for the reply. */
void srv_call_feed(struct srv_call *c, const void *data, size_t n);
/* The body ended: run the operation and fill `out` (whose body buffer the caller owns). On
 * return the call holds nothing in the registry. */
void srv_call_finish(struct srv_call *c, struct srv_reply *out);
/* The call is answered without being finished (refused signature, injected fault): give back
 * what it holds in the registry now, its partial part rolled back. An UploadLayerPart holds its
 * upload busy from the blob's start; call this before the reply goes out, since the client's
 * next request may arrive on another connection before srv_call_free runs. Idempotent. */
void srv_call_drop(struct srv_call *c);
/* Keep the part this call writes from being taken over by a later request for the same
 * offset (the hold fault: a service that keeps the upload busy). No-op for other calls. */
void srv_call_pin(struct srv_call *c);
/* Free; a call never finished is rolled back (its partial part discarded). NULL is a no-op. */
void srv_call_free(struct srv_call *c);

#endif
