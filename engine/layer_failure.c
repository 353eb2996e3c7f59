/* How a failure lands in a layer's result record: the first one wins and marks the layer
 * failing (it ends once nothing of it is in flight); a failed request and an I/O error are
 * mapped onto a status, an exception name and a message. Engine thread. */
#include "engine/scheduler_impl.h"

#include <stdarg.h>
#include <stdio.h>

void layer_fail(struct layer *l, ecrup_status st, const char *exception, long http, const char *fmt,
                ...)
{
    if (l->failing || l->st == L_DONE)
        return;
    l->failing = true;
    struct ecrup_result *r = &l->e->result;
    r->outcome = ECRUP_OUTCOME_FAILED;
    r->status = st;
    r->http_status = http;
    snprintf(l->e->exception, sizeof l->e->exception, "%s", exception);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(l->e->message, sizeof l->e->message, fmt, ap);
    va_end(ap);
    r->exception = l->e->exception;
    r->message = l->e->message;
}

void layer_fail_request(struct layer *l, const struct event *ev, const struct xfer_job *job)
{
    struct request_failure f;
    request_failure(&job->priv.req, job->call.operation, ev->attempts, ev->cancelled, &f);
    layer_fail(l, f.status, f.exception, f.http_status, "%s", f.message);
}

void layer_fail_io(struct layer *l, int err)
{
    char msg[400];
    io_error_message(err, l->e->layer.path, msg, sizeof msg);
    ecrup_status st = io_status_from_errno(err);
    const char *x = st == ECRUP_E_FILE_CHANGED ? "FileChanged"
                    : st == ECRUP_E_NOT_FOUND  ? "FileNotFound"
                    : st == ECRUP_E_CANCELLED  ? "Cancelled"
                                               : "IoError";
    layer_fail(l, st, x, 0, "%s", msg);
}
