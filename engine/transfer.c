#include "engine/transfer.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct transfer {
    struct transfer_config cfg;
    CURLM *multi;
    pthread_t thread;

    /* Shared with submitters: guarded by lock. */
    pthread_mutex_t lock;
    struct xfer_job *incoming, *incoming_tail;
    bool cancelled;
    bool stopping;

    /* Owned by the transfer thread. */
    struct xfer_job *waiting; /* backing off or rate-limited, unordered */
    struct xfer_job **running;
    size_t running_n, running_cap;
    CURL **idle;
    size_t n_idle, cap_idle;
    uint64_t rng;

    _Atomic uint64_t stat_requests, stat_retries, stat_bytes;
};

static double mono_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static time_t wall_now(struct transfer *t)
{
    return t->cfg.clock.now ? t->cfg.clock.now(t->cfg.clock.user) : time(NULL);
}

static double random01(struct transfer *t)
{
    if (t->cfg.random01)
        return t->cfg.random01(t->cfg.random_user);
    uint64_t x = t->rng;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    t->rng = x;
    return (double)(x >> 11) / 9007199254740992.0;
}

static void logf_line(struct transfer *t, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void logf_line(struct transfer *t, const char *fmt, ...)
{
    if (!t->cfg.log)
        return;
    char line[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    t->cfg.log(t->cfg.log_user, line);
}

static CURL *get_easy(struct transfer *t)
{
    if (t->n_idle)
        return t->idle[--t->n_idle];
    return curl_easy_init();
}

static void put_easy(struct transfer *t, CURL *easy)
{
    if (t->n_idle == t->cap_idle) {
        size_t cap = t->cap_idle ? t->cap_idle * 2 : 16;
        CURL **p = realloc(t->idle, cap * sizeof *p);
        if (!p) {
            curl_easy_cleanup(easy);
            return;
        }
        t->idle = p;
        t->cap_idle = cap;
    }
    t->idle[t->n_idle++] = easy;
}

static void complete(struct transfer *t, struct xfer_job *job, bool ok, bool cancelled,
                     enum retry_class cls)
{
    if (job->priv.easy) {
        put_easy(t, job->priv.easy);
        job->priv.easy = NULL;
    }
    struct xfer_result res = {
        .ok = ok,
        .cancelled = cancelled,
        .status = ok                                 ? ECRUP_OK
                  : cancelled                        ? ECRUP_E_CANCELLED
                  : job->priv.req.status != ECRUP_OK ? job->priv.req.status
                                                     : ECRUP_E_INTERNAL,
        .last_class = cls,
        .attempts = job->priv.attempt,
        .req = &job->priv.req,
    };
    job->done(job, &res);
}

/* Fail a job before any reply: the status and message go where a reply's would. */
static void fail_local(struct transfer *t, struct xfer_job *job, ecrup_status status,
                       const char *message)
{
    ecr_request_fail(&job->priv.req, status, "%s", message);
    complete(t, job, false, false, RETRY_NONE);
}

static int on_progress(void *user, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
                       curl_off_t ulnow)
{
    (void)dltotal;
    (void)dlnow;
    (void)ultotal;
    struct xfer_job *job = user;
    atomic_store_explicit(&job->bytes_sent, (uint64_t)ulnow, memory_order_relaxed);
    return 0;
}

static void start_attempt(struct transfer *t, struct xfer_job *job)
{
    if (!job->priv.easy)
        job->priv.easy = get_easy(t);
    if (!job->priv.easy) {
        fail_local(t, job, ECRUP_E_NOMEM, "cannot create a libcurl handle");
        return;
    }
    struct sigv4_credentials creds = {0};
    void *token = NULL;
    struct ebuf err = EBUF_INIT;
    time_t now = wall_now(t);
    ecrup_status st =
        t->cfg.credentials.acquire(t->cfg.credentials.user, now, &creds, &token, &err);
    if (st != ECRUP_OK) {
        fail_local(t, job, st, ebuf_str(&err));
        ebuf_free(&err);
        return;
    }
    ebuf_free(&err);
    st = ecr_request_prepare(&job->priv.req, job->priv.easy, t->cfg.target, &job->call, &creds, now,
                             t->cfg.keys);
    t->cfg.credentials.release(t->cfg.credentials.user, token);
    if (st != ECRUP_OK) { /* the request holds the status and why */
        complete(t, job, false, false, RETRY_NONE);
        return;
    }
    CURL *easy = job->priv.easy;
    if (curl_easy_setopt(easy, CURLOPT_PRIVATE, job) != CURLE_OK ||
        curl_easy_setopt(easy, CURLOPT_NOPROGRESS, 0L) != CURLE_OK ||
        curl_easy_setopt(easy, CURLOPT_XFERINFOFUNCTION, on_progress) != CURLE_OK ||
        curl_easy_setopt(easy, CURLOPT_XFERINFODATA, job) != CURLE_OK) {
        fail_local(t, job, ECRUP_E_INTERNAL, "libcurl refused the progress options");
        return;
    }
    job->priv.attempt++;
    atomic_store_explicit(&job->bytes_sent, 0, memory_order_relaxed);
    atomic_fetch_add_explicit(&t->stat_requests, 1, memory_order_relaxed);
    if (t->running_n == t->running_cap) {
        size_t cap = t->running_cap ? t->running_cap * 2 : 16;
        struct xfer_job **p = realloc(t->running, cap * sizeof *p);
        if (!p) {
            fail_local(t, job, ECRUP_E_NOMEM, "cannot track the request");
            return;
        }
        t->running = p;
        t->running_cap = cap;
    }
    if (curl_multi_add_handle(t->multi, job->priv.easy) != CURLM_OK) {
        fail_local(t, job, ECRUP_E_INTERNAL, "libcurl refused the request handle");
        return;
    }
    job->priv.running_index = t->running_n;
    t->running[t->running_n++] = job;
}

static void stop_running(struct transfer *t, struct xfer_job *job)
{
    curl_multi_remove_handle(t->multi, job->priv.easy);
    size_t i = job->priv.running_index;
    struct xfer_job *last = t->running[--t->running_n];
    t->running[i] = last;
    last->priv.running_index = i;
}

/* Ask the adaptive limiter; returns true when the job may start now. */
static bool may_start(struct transfer *t, struct xfer_job *job, double now)
{
    if (t->cfg.retry_mode != ECRUP_RETRY_ADAPTIVE || !t->cfg.limiter || job->priv.token_reserved) {
        job->priv.token_reserved = false;
        return true;
    }
    double wait = retry_rate_limiter_acquire(t->cfg.limiter, now);
    if (wait <= 0)
        return true;
    /* The limiter has set a token aside for this job: it starts after `wait` without
     * asking again. */
    job->priv.token_reserved = true;
    job->priv.not_before = now + wait;
    return false;
}

static void defer(struct transfer *t, struct xfer_job *job)
{
    job->priv.next = t->waiting;
    t->waiting = job;
}

static void finish_attempt(struct transfer *t, struct xfer_job *job, CURLcode result)
{
    stop_running(t, job);
    struct retry_outcome outcome;
    bool ok = ecr_request_finish(&job->priv.req, job->priv.easy, result, &outcome);
    enum retry_class cls = ok ? RETRY_NONE : retry_classify(&outcome);
    curl_off_t total_us = 0;
    curl_easy_getinfo(job->priv.easy, CURLINFO_TOTAL_TIME_T, &total_us);
    double now = mono_now();

    if (t->cfg.log) {
        struct ebuf what = EBUF_INIT;
        if (ok)
            ebuf_printf(&what, "HTTP %ld", job->priv.req.http_status);
        else
            ecr_request_describe(&job->priv.req, &what);
        logf_line(t, "%s attempt %u: %s (%.1f ms, %zu bytes sent)", job->call.operation,
                  job->priv.attempt, ebuf_str(&what), (double)total_us / 1000.0,
                  job->call.body_len);
        ebuf_free(&what);
    }
    atomic_fetch_add_explicit(&t->stat_bytes, job->call.body_len, memory_order_relaxed);
    if (cls == RETRY_THROTTLING && t->cfg.throttled)
        t->cfg.throttled(t->cfg.throttled_user, job->call.operation);
    if (t->cfg.retry_mode == ECRUP_RETRY_ADAPTIVE && t->cfg.limiter && result == CURLE_OK)
        retry_rate_limiter_update(t->cfg.limiter, cls == RETRY_THROTTLING, now);

    if (ok) {
        if (t->cfg.quota)
            retry_quota_release(t->cfg.quota, job->priv.quota_cost);
        complete(t, job, true, false, RETRY_NONE);
        return;
    }
    /* A clock-skew refusal: correct the clock from the reply's Date and try again once. */
    if (!job->priv.skew_retried && ecr_request_clock_skewed(&job->priv.req) &&
        t->cfg.clock.correct && job->priv.req.date_header[0] &&
        t->cfg.clock.correct(t->cfg.clock.user, job->priv.req.date_header)) {
        job->priv.skew_retried = true;
        job->priv.not_before = now;
        defer(t, job);
        return;
    }
    unsigned max = t->cfg.max_attempts ? t->cfg.max_attempts : RETRY_DEFAULT_MAX_ATTEMPTS;
    unsigned cost = 0;
    if (cls != RETRY_NONE && job->priv.attempt < max &&
        (!t->cfg.quota || retry_quota_acquire(t->cfg.quota, outcome.timeout, &cost))) {
        job->priv.quota_cost = cost;
        job->priv.not_before = now + retry_backoff_seconds(job->priv.attempt, random01(t));
        atomic_fetch_add_explicit(&t->stat_retries, 1, memory_order_relaxed);
        defer(t, job);
        return;
    }
    complete(t, job, false, false, cls);
}

static void cancel_all(struct transfer *t, struct xfer_job *pending)
{
    while (t->running_n) {
        struct xfer_job *job = t->running[t->running_n - 1];
        stop_running(t, job);
        complete(t, job, false, true, RETRY_NONE);
    }
    while (t->waiting) {
        struct xfer_job *job = t->waiting;
        t->waiting = job->priv.next;
        complete(t, job, false, true, RETRY_NONE);
    }
    while (pending) {
        struct xfer_job *job = pending;
        pending = job->priv.next;
        complete(t, job, false, true, RETRY_NONE);
    }
}

static void *transfer_main(void *arg)
{
    struct transfer *t = arg;
    for (;;) {
        pthread_mutex_lock(&t->lock);
        struct xfer_job *pending = t->incoming;
        t->incoming = t->incoming_tail = NULL;
        bool cancelled = t->cancelled, stopping = t->stopping;
        pthread_mutex_unlock(&t->lock);

        if (cancelled) {
            cancel_all(t, pending);
            pending = NULL;
        }
        double now = mono_now();
        while (pending) {
            struct xfer_job *job = pending;
            pending = job->priv.next;
            if (may_start(t, job, now))
                start_attempt(t, job);
            else
                defer(t, job);
        }
        double next_due = now + 1.0;
        struct xfer_job **pp = &t->waiting;
        while (*pp) {
            struct xfer_job *job = *pp;
            if (job->priv.not_before <= now && may_start(t, job, now)) {
                *pp = job->priv.next;
                start_attempt(t, job);
                continue;
            }
            if (job->priv.not_before < next_due)
                next_due = job->priv.not_before;
            pp = &job->priv.next;
        }
        if (stopping && !t->running_n && !t->waiting) {
            pthread_mutex_lock(&t->lock);
            bool empty = t->incoming == NULL;
            pthread_mutex_unlock(&t->lock);
            if (empty)
                break;
            continue;
        }

        int still = 0;
        curl_multi_perform(t->multi, &still);
        CURLMsg *msg;
        int left;
        bool finished_any = false;
        while ((msg = curl_multi_info_read(t->multi, &left))) {
            if (msg->msg != CURLMSG_DONE)
                continue;
            struct xfer_job *job = NULL;
            curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&job);
            finish_attempt(t, job, msg->data.result);
            finished_any = true;
        }
        if (finished_any)
            continue; /* callbacks may have submitted the next part: send it at once */
        double wait = next_due - mono_now();
        int timeout_ms = wait <= 0 ? 0 : wait > 1.0 ? 1000 : (int)(wait * 1000) + 1;
        curl_multi_poll(t->multi, NULL, 0, timeout_ms, NULL);
    }
    return NULL;
}

struct transfer *transfer_new(const struct transfer_config *cfg)
{
    struct transfer *t = calloc(1, sizeof *t);
    if (!t)
        return NULL;
    t->cfg = *cfg;
    t->rng = (uint64_t)mono_now() * 0x9e3779b97f4a7c15u ^ (uint64_t)(uintptr_t)t;
    if (!t->rng)
        t->rng = 1;
    t->multi = curl_multi_init();
    if (!t->multi) {
        free(t);
        return NULL;
    }
    long maxconn = cfg->max_connections ? (long)cfg->max_connections : 16L;
    /* The limits are what keep a run to its connection budget: a build that refuses them is
     * not used. */
    if (curl_multi_setopt(t->multi, CURLMOPT_MAX_TOTAL_CONNECTIONS, maxconn) != CURLM_OK ||
        curl_multi_setopt(t->multi, CURLMOPT_MAX_HOST_CONNECTIONS, maxconn) != CURLM_OK ||
        curl_multi_setopt(t->multi, CURLMOPT_MAXCONNECTS, maxconn) != CURLM_OK ||
        pthread_mutex_init(&t->lock, NULL) != 0) {
        curl_multi_cleanup(t->multi);
        free(t);
        return NULL;
    }
    if (pthread_create(&t->thread, NULL, transfer_main, t) != 0) {
        pthread_mutex_destroy(&t->lock);
        curl_multi_cleanup(t->multi);
        free(t);
        return NULL;
    }
    return t;
}

void xfer_job_init(struct xfer_job *job)
{
    memset(job, 0, sizeof *job);
    ecr_request_init(&job->priv.req);
}

void xfer_job_cleanup(struct xfer_job *job)
{
    ecr_request_cleanup(&job->priv.req);
}

void transfer_submit(struct transfer *t, struct xfer_job *job)
{
    job->priv.next = NULL;
    job->priv.attempt = 0;
    job->priv.quota_cost = 0;
    job->priv.skew_retried = false;
    job->priv.token_reserved = false;
    job->priv.not_before = 0;
    atomic_store_explicit(&job->bytes_sent, 0, memory_order_relaxed);
    pthread_mutex_lock(&t->lock);
    if (t->incoming_tail)
        t->incoming_tail->priv.next = job;
    else
        t->incoming = job;
    t->incoming_tail = job;
    pthread_mutex_unlock(&t->lock);
    curl_multi_wakeup(t->multi);
}

void transfer_cancel(struct transfer *t)
{
    pthread_mutex_lock(&t->lock);
    t->cancelled = true;
    pthread_mutex_unlock(&t->lock);
    curl_multi_wakeup(t->multi);
}

void transfer_free(struct transfer *t)
{
    if (!t)
        return;
    pthread_mutex_lock(&t->lock);
    t->stopping = true;
    pthread_mutex_unlock(&t->lock);
    curl_multi_wakeup(t->multi);
    pthread_join(t->thread, NULL);
    for (size_t i = 0; i < t->n_idle; i++)
        curl_easy_cleanup(t->idle[i]);
    free(t->idle);
    free(t->running);
    curl_multi_cleanup(t->multi);
    pthread_mutex_destroy(&t->lock);
    free(t);
}

void transfer_get_stats(struct transfer *t, struct transfer_stats *out)
{
    out->requests = atomic_load_explicit(&t->stat_requests, memory_order_relaxed);
    out->retries = atomic_load_explicit(&t->stat_retries, memory_order_relaxed);
    out->bytes_sent = atomic_load_explicit(&t->stat_bytes, memory_order_relaxed);
}
