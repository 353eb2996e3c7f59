/* A stream layer's reads (ecrup_layer.read): the layer's bytes come from the host's callback,
 * forward only, one part at a time, on threads of their own (the callback may block on a
 * pipe). The size is known when a read comes back short; until then the layer's plan carries
 * up to 4,200 parts. A part stays in its slot until the registry acknowledges it, so a retry
 * sends it again as a file layer's would; what a stream cannot do is go back further
 * (stream_can_resume). docs/engine.md, "Stream layers".
 *
 * Engine thread, except read_run, which runs on a stream worker and touches only its task and
 * the part's slot. */
#include "engine/scheduler_impl.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

/* Stream worker: fill the part from the callback until it is full or the stream ends. */
static void read_run(struct worker_task *w)
{
    struct stream_task *t = (struct stream_task *)w;
    const struct ecrup_layer *el = &t->l->e->layer;
    unsigned char *dst = t->pb->slot->raw;
    size_t want = t->pb->len;
    t->got = 0;
    t->err = 0;
    while (t->got < want) {
        ptrdiff_t n = el->read(el->read_user, dst + t->got, want - t->got);
        if (n == 0)
            break;
        if (n < 0 || (size_t)n > want - t->got) {
            t->err = n < 0 ? (int)n : -ERANGE;
            break;
        }
        t->got += (size_t)n;
    }
    sched_post(t->l->s, &t->ev);
}

bool stream_fill(struct layer *l, struct part_buf *pb, struct io_slot *slot)
{
    if (l->stream_busy || l->size != STREAM_SIZE_UNKNOWN)
        return false;
    /* One byte past the plan's capacity is asked for, so that a stream too large for it is
     * told from one that ends exactly there. */
    uint64_t room = l->stream_cap + 1 - l->stream_pos;
    pb->len = (size_t)(room < l->plan.part_size ? room : l->plan.part_size);
    pb->off = l->stream_pos;
    pb->slot = slot;
    pb->owner = l;
    pb->discard = false;
    pb->st = PB_READING;
    l->sread = (struct stream_task){.w.run = read_run, .l = l, .pb = pb};
    l->sread.ev = (struct event){.kind = EV_STREAM_READ, .obj = &l->sread};
    l->stream_busy = true;
    l->inflight++;
    l->stream_pos += pb->len;
    l->next_off = l->stream_pos;
    workers_submit(l->s->stream_workers, &l->sread.w, true);
    return true;
}

void stream_on_read(struct stream_task *t)
{
    struct layer *l = t->l;
    struct part_buf *pb = t->pb;
    l->inflight--;
    l->stream_busy = false;
    l->stream_pos = pb->off + t->got;
    if (pb->discard || l->failing) {
        part_release(l->s, pb);
        return;
    }
    if (t->err) {
        part_release(l->s, pb);
        char msg[300];
        snprintf(msg, sizeof msg, "%s: reading the stream failed after %" PRIu64 " bytes: %s",
                 l->e->layer.path, l->stream_pos, strerror(-t->err));
        layer_fail(l, ECRUP_E_IO, 0, "%s", msg);
        return;
    }
    if (l->stream_pos > l->stream_cap) {
        part_release(l->s, pb);
        if (l->stream_cap == PLAN_MAX_LAYER)
            layer_fail(l, ECRUP_E_TOO_LARGE, 0, "%s: the stream is over ECR's 52,000 MiB",
                       l->e->layer.path);
        else
            layer_fail(l, ECRUP_E_TOO_LARGE, 0,
                       "%s: the stream is over the %" PRIu64 " bytes that %" PRIu64
                       " parts of %" PRIu64 " carry; a larger part size carries more",
                       l->e->layer.path, l->stream_cap, (uint64_t)PLAN_MAX_PARTS,
                       l->plan.part_size);
        return;
    }
    if (t->got < pb->len) {
        /* The stream ended: the layer's size is known, and so is its last part. */
        l->size = l->stream_pos;
        l->next_off = l->size;
        l->plan.layer_size = l->size;
        l->plan.n_parts = (l->size + l->plan.part_size - 1) / l->plan.part_size;
        sched_log(l->s, ECRUP_LOG_DEBUG, "layer %s: the stream ended at %" PRIu64 " bytes",
                  l->e->layer.path, l->size);
        if (t->got == 0) {
            part_release(l->s, pb);
            if (l->size == 0)
                layer_fail(l, ECRUP_E_EMPTY_LAYER, 0,
                           "%s: the stream ended before its first byte; ECR takes no empty "
                           "layers",
                           l->e->layer.path);
            return;
        }
        pb->len = t->got;
    }
    pb->slot->raw_len = pb->len;
    pb->st = PB_READ;
}

ecrup_status stream_plan(struct layer *l, uint64_t wanted, uint64_t server_part)
{
    struct part_plan one;
    ecrup_status st = plan_parts(PLAN_MIN_PART, wanted, server_part, &one);
    if (st != ECRUP_OK)
        return st;
    uint64_t cap = one.part_size * PLAN_MAX_PARTS;
    l->stream_cap = cap < PLAN_MAX_LAYER ? cap : PLAN_MAX_LAYER;
    st = plan_parts(l->stream_cap, one.part_size, 0, &l->plan);
    if (st == ECRUP_OK && l->size != STREAM_SIZE_UNKNOWN) {
        l->plan.layer_size = l->size;
        l->plan.n_parts = (l->size + l->plan.part_size - 1) / l->plan.part_size;
    }
    return st;
}

bool stream_can_resume(struct layer *l, uint64_t r, uint64_t pos, bool hash_ok, const char *what)
{
    if (!l->stream)
        return true;
    if (pos == l->stream_pos && hash_ok && r <= pos)
        return true;
    layer_fail(l, ECRUP_E_STREAM_REWIND, 0,
               "%s: %s at byte %" PRIu64 ", but a stream is read once and the bytes from there "
               "are gone (%" PRIu64 " read, %" PRIu64 " acknowledged); push it again",
               l->e->layer.path, what, r, l->stream_pos, l->acked);
    return false;
}
