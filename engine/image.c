/* ecrup_engine_put_image(): one PutImage call through a transfer of its own, with the engine's
 * target, credentials, clock and retry policy. The caller's thread waits for the answer; the
 * transfer thread makes the call and its retries. */
#include <ecrup.h>

#include <stdarg.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "engine/ecr_json.h"
#include "engine/engine_impl.h"
#include "engine/transfer.h"
#include "util/hex.h"

/* Written by the transfer thread in `done`, read by the waiting caller under `mu`. */
struct wait {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool done;
    struct ecrup_image_result *result;
};

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

/* Transfer thread. */
static void on_done(struct xfer_job *job, const struct xfer_result *res)
{
    struct wait *w = job->user;
    struct ecrup_image_result *r = w->result;
    const struct ecr_request *req = res->req;
    r->attempts = res->attempts;
    if (res->ok) {
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
    } else if (!res->cancelled && !strcmp(req->error.exception, "ImageAlreadyExistsException")) {
        r->outcome = ECRUP_OUTCOME_EXISTS; /* the same manifest (and tag) is there already */
    } else {
        struct request_failure f;
        request_failure(req, "PutImage", res->attempts, res->cancelled, &f);
        set_failure(r, f.status, f.exception, f.http_status, "%s", f.message);
    }
    pthread_mutex_lock(&w->mu);
    w->done = true;
    pthread_cond_signal(&w->cv);
    pthread_mutex_unlock(&w->mu);
}

/* Wait for `done`, turning a cancel of the engine into a cancel of the transfer. */
static void wait_done(struct ecrup_engine *e, struct transfer *t, struct wait *w)
{
    bool cancelled = false;
    pthread_mutex_lock(&w->mu);
    while (!w->done) {
        if (!cancelled && atomic_load(&e->cancelled)) {
            cancelled = true;
            pthread_mutex_unlock(&w->mu);
            transfer_cancel(t);
            pthread_mutex_lock(&w->mu);
            continue;
        }
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_nsec += 50 * 1000 * 1000;
        if (until.tv_nsec >= 1000000000L) {
            until.tv_sec++;
            until.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&w->cv, &w->mu, &until);
    }
    pthread_mutex_unlock(&w->mu);
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

    struct wait w = {.result = result};
    if (pthread_mutex_init(&w.mu, NULL) != 0) {
        free(body);
        set_failure(result, ECRUP_E_NOMEM, NULL, 0, "cannot make a lock to wait on");
        return result->status;
    }
    if (pthread_cond_init(&w.cv, NULL) != 0) {
        pthread_mutex_destroy(&w.mu);
        free(body);
        set_failure(result, ECRUP_E_NOMEM, NULL, 0, "cannot make a condition to wait on");
        return result->status;
    }
    struct transfer_config tc = engine_transfer_config(e);
    tc.max_connections = 1;
    struct transfer *t = transfer_new(&tc);
    if (!t) {
        set_failure(result, ECRUP_E_NOMEM, NULL, 0, "cannot start a transfer");
    } else {
        struct xfer_job job;
        xfer_job_init(&job);
        job.call =
            (struct ecr_call){.operation = "PutImage", .body = body, .body_len = strlen(body)};
        job.done = on_done;
        job.user = &w;
        transfer_submit(t, &job);
        wait_done(e, t, &w);
        transfer_free(t);
        xfer_job_cleanup(&job);
    }
    free(body);
    pthread_cond_destroy(&w.cv);
    pthread_mutex_destroy(&w.mu);
    if (result->outcome != ECRUP_OUTCOME_FAILED)
        result->status = ECRUP_OK;
    return result->status;
}
