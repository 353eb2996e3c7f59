/* What the host hears of a run while it goes: log lines through options.log, and progress
 * events through options.progress, at most every PROGRESS_SECONDS per layer unless its phase
 * changes. Engine thread (the transfer thread logs its own lines: context.c). */
#include "engine/scheduler_impl.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>

#define PROGRESS_SECONDS 0.1

void sched_log(struct sched *s, ecrup_log_level level, const char *fmt, ...)
{
    if (!s->o->log || level > s->o->log_level)
        return;
    char line[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    s->o->log(level, line, s->o->log_user);
}

/* The layer's bytes handed to the network: those acknowledged, and of the part on the wire the
 * share of its body libcurl has sent (base64 spreads them evenly through the body, so the
 * share is within a few hundred bytes of the truth). The current attempt's only: a part sent
 * again starts over from `acked`, so the count falls back by what that attempt had sent, never
 * more than the part. */
static uint64_t layer_bytes_sent(struct layer *l)
{
    const struct part_buf *pb = parts_wire(l);
    size_t body = l->job.call.body_len;
    if (!pb || pb->discard || !body || pb->off != l->acked)
        return l->acked;
    uint64_t sent = atomic_load_explicit(&l->job.bytes_sent, memory_order_relaxed);
    if (sent > body)
        sent = body;
    /* parts are at most 20 MiB and bodies ~28 MB: the product fits in 64 bits */
    return l->acked + pb->len * sent / body;
}

void layer_progress(struct layer *l, bool force)
{
    const struct ecrup_options *o = l->s->o;
    if (!o->progress)
        return;
    double now = sched_now();
    uint64_t sent = layer_bytes_sent(l);
    if (!force && ((l->acked == l->reported_bytes && sent == l->reported_sent) ||
                   now - l->last_progress < PROGRESS_SECONDS))
        return;
    l->last_progress = now;
    l->reported_bytes = l->acked;
    l->reported_sent = sent;
    struct ecrup_progress ev = {
        .layer_id = l->e->result.layer_id,
        .layer_user = l->e->result.layer_user,
        .phase = l->phase,
        .bytes_done = l->acked,
        .bytes_total = l->size != STREAM_SIZE_UNKNOWN ? l->size : 0,
        .resumed_from = l->e->result.resumed_from,
        .bytes_sent = sent,
        .outcome = l->e->result.outcome,
    };
    o->progress(&ev, o->progress_user);
}

void layer_set_phase(struct layer *l, ecrup_phase p)
{
    if (l->phase == p)
        return;
    l->phase = p;
    layer_progress(l, true);
}
