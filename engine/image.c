/* ecrup_engine_put_image(): one PutImage call (one_call.h), its answer read into the image's
 * result. */
#include <ecrup.h>

#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/ecr_json.h"
#include "engine/engine_impl.h"
#include "engine/one_call.h"
#include "util/hex.h"

/* `exception`: the service's exception name; NULL: the status's own name. */
static void set_failure(struct ecrup_image_result *r, ecrup_status st, const char *exception,
                        long http, const char *fmt, ...) __attribute__((format(printf, 5, 6)));
static void set_failure(struct ecrup_image_result *r, ecrup_status st, const char *exception,
                        long http, const char *fmt, ...)
{
    r->outcome = ECRUP_OUTCOME_FAILED;
    r->status = st;
    r->http_status = http;
    snprintf(r->exception, sizeof r->exception, "%s",
             exception ? exception : ecrup_status_name(st));
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->message, sizeof r->message, fmt, ap);
    va_end(ap);
}

/* What the call's answer means for the image. */
static void read_reply(const struct one_call *c, struct ecrup_image_result *r)
{
    const struct ecr_request *req = &c->job.priv.req;
    r->attempts = c->attempts;
    if (c->ok) {
        char digest[72];
        if (ecr_parse_put_image(req->reply.data, req->reply.len, digest, sizeof digest) != 0)
            set_failure(r, ECRUP_E_PROTOCOL, NULL, req->http_status,
                        "PutImage: the reply names no image digest");
        else if (strcmp(digest, r->digest) != 0)
            set_failure(r, ECRUP_E_DIGEST_MISMATCH, NULL, req->http_status,
                        "PutImage: the service stored the manifest as %s, not %s", digest,
                        r->digest);
        else
            r->outcome = ECRUP_OUTCOME_UPLOADED;
    } else if (!c->cancelled && !strcmp(req->error.exception, "ImageAlreadyExistsException")) {
        r->outcome = ECRUP_OUTCOME_EXISTS; /* the same manifest (and tag) is there already */
    } else {
        struct request_failure f;
        request_failure(req, "PutImage", c->attempts, c->cancelled, &f);
        set_failure(r, f.status, f.exception, f.http_status, "%s", f.message);
    }
}

ecrup_status ecrup_engine_put_image(struct ecrup_engine *e, const struct ecrup_image *image,
                                    struct ecrup_image_result *result)
{
    if (!result)
        return ECRUP_E_INVALID_ARGUMENT;
    memset(result, 0, sizeof *result);
    if (!e || !image || !image->repository || !image->manifest || !image->manifest_length) {
        set_failure(result, ECRUP_E_INVALID_ARGUMENT, NULL, 0,
                    "an image needs an engine, a repository and a manifest");
        return result->status;
    }
    if (atomic_load(&e->cancelled)) {
        set_failure(result, ECRUP_E_CANCELLED, NULL, 0, "cancelled");
        return result->status;
    }
    if (memchr(image->manifest, '\0', image->manifest_length)) {
        set_failure(result, ECRUP_E_INVALID_ARGUMENT, NULL, 0,
                    "the manifest holds a NUL byte: it is not JSON text");
        return result->status;
    }
    /* The manifest as a C string for the JSON writer; its digest over the exact bytes. */
    char *manifest = strndup(image->manifest, image->manifest_length);
    char *body = manifest && sha256_digest(manifest, image->manifest_length, result->digest)
                     ? ecr_build_put_image(image->repository, image->registry_id, manifest,
                                           image->media_type, image->tag, result->digest)
                     : NULL;
    free(manifest);
    if (!body) {
        set_failure(result, ECRUP_E_NOMEM, NULL, 0, "out of memory");
        return result->status;
    }

    struct one_call c;
    if (one_call_run(e, &c, "PutImage", body) != ECRUP_OK)
        set_failure(result, ECRUP_E_NOMEM, NULL, 0, "cannot start a transfer");
    else
        read_reply(&c, result);
    one_call_cleanup(&c);
    free(body);
    if (result->outcome != ECRUP_OUTCOME_FAILED)
        result->status = ECRUP_OK;
    return result->status;
}
