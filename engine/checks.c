/* Layer checks: BatchCheckLayerAvailability calls for layers waiting for one (before their
 * upload, beside it, or to confirm a completion whose reply was an error), grouped as
 * check_batch.h says, and what each answer means for each layer of the call. Engine thread,
 * except batch_done_cb (the transfer thread). */
#include "engine/scheduler_impl.h"

#include <stdlib.h>
#include <string.h>

#include "engine/check_batch.h"
#include "engine/ecr_json.h"

/* Transfer thread: the call ended; its event takes the outcome to the engine thread. */
static void batch_done_cb(struct xfer_job *job, const struct xfer_result *res)
{
    struct batch *b = job->user;
    sched_post_xfer(b->s, &b->ev, res);
}

/* A layer waiting for a check: before its upload, beside it (overlap), or to confirm a
 * completion whose reply was an error. */
static bool wants_check(const struct layer *l)
{
    return !l->failing &&
           (l->st == L_CHECK_QUEUED || l->st == L_CONFIRM_QUEUED || l->side_check == SC_QUEUED);
}

/* Send every queued check, grouped into calls as check_batch.h says. */
void checks_send(struct sched *s)
{
    for (size_t i = 0; i < s->n; i++) {
        struct layer *first = s->order[i];
        if (!wants_check(first))
            continue;
        if (!sched_take_token(s, &s->b_check))
            return;
        struct check_batch cb;
        check_batch_init(&cb, first->e->layer.repository, first->e->layer.registry_id);
        struct batch *b = calloc(1, sizeof *b);
        if (!b) {
            layer_fail(first, ECRUP_E_NOMEM, 0, "out of memory");
            continue;
        }
        b->s = s;
        b->ev.kind = EV_BATCH_XFER;
        b->ev.obj = b;
        xfer_job_init(&b->job);
        b->job.done = batch_done_cb;
        b->job.user = b;
        struct layer **tail = &b->layers;
        for (size_t j = i; j < s->n && !check_batch_full(&cb); j++) {
            struct layer *l = s->order[j];
            if (!wants_check(l) || !check_batch_add(&cb, l->e->layer.repository,
                                                    l->e->layer.registry_id, l->e->digest))
                continue;
            if (l->side_check == SC_QUEUED)
                l->side_check = SC_FLYING; /* the upload goes on meanwhile */
            else
                l->st = l->st == L_CHECK_QUEUED ? L_CHECKING : L_CONFIRMING;
            if (l->st == L_CHECKING)
                layer_set_phase(l, ECRUP_PHASE_CHECKING);
            l->inflight++;
            *tail = l;
            tail = &l->batch_next;
        }
        b->body = ecr_build_batch_check(cb.repository, cb.registry_id, cb.digests, cb.n);
        b->next = s->batches;
        s->batches = b;
        if (!b->body) {
            struct event ev = {.ok = false};
            for (struct layer *l = b->layers; l; l = l->batch_next)
                layer_fail(l, ECRUP_E_NOMEM, 0, "out of memory");
            checks_on_reply(b, &ev);
            continue;
        }
        b->job.call.operation = "BatchCheckLayerAvailability";
        b->job.call.body = b->body;
        b->job.call.body_len = strlen(b->body);
        transfer_submit(s->xfer, &b->job);
    }
}

static void batch_mark(const char *digest, bool available, void *user)
{
    struct batch *b = user;
    for (struct layer *l = b->layers; l; l = l->batch_next)
        if (!strcmp(l->e->digest, digest))
            l->available = available;
}

/* The check beside an upload found the layer present: nothing more of it is sent, and it ends
 * as existing once what is in flight has returned (as a failing layer drains). */
static void stop_existing(struct layer *l)
{
    l->failing = true;
    l->e->result.outcome = ECRUP_OUTCOME_EXISTS;
    l->e->result.status = ECRUP_OK;
    sched_log(l->s, ECRUP_LOG_INFO,
              "layer %s: the repository has it: upload stopped after %" PRIu64 " of %" PRIu64
              " bytes",
              l->e->layer.path, l->acked, l->size);
}

void checks_on_reply(struct batch *b, const struct event *ev)
{
    const struct ecr_request *req = &b->job.priv.req;
    for (struct layer *l = b->layers; l; l = l->batch_next) {
        l->inflight--;
        layer_count_requests(l, ev->attempts); /* a shared call counts for each of its layers */
        l->available = false;
    }
    bool parsed =
        ev->ok && ecr_parse_batch_check(req->reply.data, req->reply.len, batch_mark, b) >= 0;
    for (struct layer *l = b->layers, *next; l; l = next) {
        next = l->batch_next;
        l->batch_next = NULL;
        if (l->failing)
            continue;
        if (!parsed) {
            if (ev->ok)
                layer_fail(l, ECRUP_E_PROTOCOL, req->http_status,
                           "BatchCheckLayerAvailability: the reply could not be understood");
            else {
                l->e->result.http_status = req->http_status;
                layer_fail_request(l, ev, &b->job);
            }
            continue;
        }
        if (l->side_check == SC_FLYING) {
            if (l->available)
                stop_existing(l);
            else
                l->side_check = SC_ABSENT;
            continue;
        }
        if (l->st == L_CHECKING) {
            if (l->available)
                layer_succeed(l, ECRUP_OUTCOME_EXISTS);
            else
                l->st = L_READY;
        } else if (l->st == L_CONFIRMING) {
            if (l->available)
                layer_succeed(l, ECRUP_OUTCOME_UPLOADED);
            else if (l->confirm_failed)
                layer_fail_remote(l, l->confirm_status, l->confirm_exception, l->confirm_http,
                                  "%s; BatchCheckLayerAvailability does not list the layer",
                                  l->confirm_message);
            else if (l->confirm_restart)
                parts_restart(l, "UploadNotFoundException at completion, layer absent");
            else
                layer_fail_remote(
                    l, ECRUP_E_REMOTE, l->confirm_exception, 400,
                    "CompleteLayerUpload: %s: %s, but BatchCheckLayerAvailability does not "
                    "list the layer",
                    l->confirm_exception, l->confirm_message);
        }
    }
    b->layers = NULL;
}

void checks_free(struct sched *s)
{
    while (s->batches) {
        struct batch *b = s->batches;
        s->batches = b->next;
        xfer_job_cleanup(&b->job);
        free(b->body);
        free(b);
    }
}
