/* What the host hears of a run while it goes: log lines through options.log, and progress
 * events through options.progress, at most every PROGRESS_SECONDS per layer unless its phase
 * changes. Engine thread (the transfer thread logs its own lines: context.c). */
#include "engine/scheduler_impl.h"

#include <stdarg.h>
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

void layer_progress(struct layer *l, bool force)
{
    const struct ecrup_options *o = l->s->o;
    if (!o->progress)
        return;
    double now = sched_now();
    if (!force && (l->acked == l->reported_bytes || now - l->last_progress < PROGRESS_SECONDS))
        return;
    l->last_progress = now;
    l->reported_bytes = l->acked;
    struct ecrup_progress ev = {
        .layer_id = l->e->result.layer_id,
        .layer_user = l->e->result.layer_user,
        .phase = l->phase,
        .bytes_done = l->acked,
        .bytes_total = l->size,
        .resumed_from = l->e->result.resumed_from,
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
