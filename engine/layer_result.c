/* A layer's result record: the first failure (it wins, and the layer ends once nothing of it
 * is in flight), a failed request or an I/O error mapped onto a status, an exception name and
 * a message; success; and the end, where the layer's buffers and files are released and its
 * result completed and logged. Engine thread. */
#include "engine/scheduler_impl.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static void fail_as(struct layer *l, ecrup_status st, const char *exception, long http,
                    const char *fmt, va_list ap) __attribute__((format(printf, 5, 0)));
static void fail_as(struct layer *l, ecrup_status st, const char *exception, long http,
                    const char *fmt, va_list ap)
{
    if (l->failing || l->st == L_DONE)
        return;
    l->failing = true;
    struct ecrup_result *r = &l->e->result;
    r->outcome = ECRUP_OUTCOME_FAILED;
    r->status = st;
    r->http_status = http;
    snprintf(l->e->exception, sizeof l->e->exception, "%s", exception);
    vsnprintf(l->e->message, sizeof l->e->message, fmt, ap);
    r->exception = l->e->exception;
    r->message = l->e->message;
}

void layer_fail(struct layer *l, ecrup_status st, long http, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fail_as(l, st, ecrup_status_name(st), http, fmt, ap);
    va_end(ap);
}

void layer_fail_remote(struct layer *l, ecrup_status st, const char *exception, long http,
                       const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fail_as(l, st, exception, http, fmt, ap);
    va_end(ap);
}

void layer_fail_request(struct layer *l, const struct event *ev, const struct xfer_job *job)
{
    struct request_failure f;
    request_failure(&job->priv.req, job->call.operation, ev->attempts, ev->cancelled, &f);
    layer_fail_remote(l, f.status, f.exception, f.http_status, "%s", f.message);
}

void layer_fail_io(struct layer *l, int err)
{
    char msg[400];
    io_error_message(err, l->e->layer.path, msg, sizeof msg);
    layer_fail(l, io_status_from_errno(err), 0, "%s", msg);
}

void layer_count_requests(struct layer *l, unsigned attempts)
{
    struct ecrup_result *r = &l->e->result;
    r->attempts += attempts;
    if (attempts) { /* zero: the request failed before it was sent */
        r->requests++;
        r->retries += attempts - 1;
    }
}

void layer_finish(struct layer *l)
{
    struct sched *s = l->s;
    for (size_t i = 0; i < sizeof l->pb / sizeof l->pb[0]; i++)
        part_release(s, &l->pb[i]);
    if (l->file)
        io_reader_close(s->reader, l->file);
    l->file = NULL;
    if (l->fd >= 0) {
        close(l->fd);
        s->open_layers--;
    }
    l->fd = -1;
    sha256_stream_free(&l->md);
    l->md_on = false;
    free(l->job_body);
    l->job_body = NULL;
    struct ecrup_result *r = &l->e->result;
    r->size = l->size != STREAM_SIZE_UNKNOWN ? l->size : l->stream_pos;
    if (l->e->digest[0])
        r->digest = l->e->digest;
    if (!l->failing && r->outcome == ECRUP_OUTCOME_PENDING)
        r->outcome = ECRUP_OUTCOME_FAILED; /* cannot happen: every path sets one */
    resume_end(l);
    l->st = L_DONE;
    s->done++;
    layer_set_phase(l, ECRUP_PHASE_DONE);
    const char *what = r->outcome == ECRUP_OUTCOME_UPLOADED ? "uploaded"
                       : r->outcome == ECRUP_OUTCOME_EXISTS ? "exists"
                                                            : "failed";
    /* INFO even for a failure: the result record carries it, and a host showing warnings
     * would print it twice. */
    sched_log(s, ECRUP_LOG_INFO, "layer %s: %s%s%s", l->e->layer.path, what, r->message ? ": " : "",
              r->message ? r->message : "");
}

void layer_succeed(struct layer *l, ecrup_outcome outcome)
{
    l->e->result.outcome = outcome;
    l->e->result.status = ECRUP_OK;
    if (outcome == ECRUP_OUTCOME_UPLOADED)
        l->acked = l->size;
    layer_finish(l);
}
