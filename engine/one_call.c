/* One call through a transfer of its own, waited for (one_call.h). The transfer thread makes
 * the call and its retries; the caller's thread sleeps on a condition, waking every 50 ms to
 * turn a cancel of the engine into a cancel of the transfer (ecrup_engine_cancel() may come
 * from a signal handler, which cannot signal a condition). */
#include "engine/one_call.h"

#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <time.h>

#include "engine/engine_impl.h"

/* Written by the transfer thread in `done`, read by the waiting caller under `mu`. */
struct wait {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool done;
    struct one_call *call;
};

/* Transfer thread. */
static void on_done(struct xfer_job *job, const struct xfer_result *res)
{
    struct wait *w = job->user;
    pthread_mutex_lock(&w->mu);
    w->call->ok = res->ok;
    w->call->cancelled = res->cancelled;
    w->call->attempts = res->attempts;
    w->done = true;
    pthread_cond_signal(&w->cv);
    pthread_mutex_unlock(&w->mu);
}

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

ecrup_status one_call_run(struct ecrup_engine *e, struct one_call *c, const char *operation,
                          const char *body)
{
    memset(c, 0, sizeof *c);
    xfer_job_init(&c->job);
    struct wait w = {.call = c};
    if (pthread_mutex_init(&w.mu, NULL) != 0)
        return ECRUP_E_NOMEM;
    if (pthread_cond_init(&w.cv, NULL) != 0) {
        pthread_mutex_destroy(&w.mu);
        return ECRUP_E_NOMEM;
    }
    struct transfer_config tc = engine_transfer_config(e);
    tc.max_connections = 1;
    struct transfer *t = transfer_new(&tc);
    ecrup_status st = ECRUP_E_NOMEM;
    if (t) {
        c->job.call =
            (struct ecr_call){.operation = operation, .body = body, .body_len = strlen(body)};
        c->job.done = on_done;
        c->job.user = &w;
        transfer_submit(t, &c->job);
        wait_done(e, t, &w);
        transfer_free(t);
        st = ECRUP_OK;
    }
    pthread_cond_destroy(&w.cv);
    pthread_mutex_destroy(&w.mu);
    return st;
}

void one_call_cleanup(struct one_call *c)
{
    xfer_job_cleanup(&c->job);
}
