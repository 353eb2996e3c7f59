#include "engine/workers.h"

#include <pthread.h>
#include <stdlib.h>
#include <unistd.h>

struct queue {
    struct worker_task *head, *tail;
};

struct workers {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    struct queue urgent, background; /* guarded by lock */
    bool stopping;                   /* guarded by lock */
    unsigned idle;                   /* threads waiting for work; guarded by lock */
    unsigned n;
    pthread_t *threads;
};

static void push(struct queue *q, struct worker_task *t)
{
    t->next = NULL;
    if (q->tail)
        q->tail->next = t;
    else
        q->head = t;
    q->tail = t;
}

static struct worker_task *pop(struct queue *q)
{
    struct worker_task *t = q->head;
    if (t) {
        q->head = t->next;
        if (!q->head)
            q->tail = NULL;
    }
    return t;
}

static void *worker_main(void *arg)
{
    struct workers *w = arg;
    pthread_mutex_lock(&w->lock);
    for (;;) {
        struct queue *q = w->urgent.head ? &w->urgent : &w->background;
        struct worker_task *t = pop(q), *t2 = NULL;
        if (t && t->run_pair && !w->idle && q->head && q->head->run_pair == t->run_pair)
            t2 = pop(q);
        if (t) {
            pthread_mutex_unlock(&w->lock);
            if (t2)
                t->run_pair(t, t2);
            else
                t->run(t);
            pthread_mutex_lock(&w->lock);
            continue;
        }
        if (w->stopping)
            break;
        w->idle++;
        pthread_cond_wait(&w->cond, &w->lock);
        w->idle--;
    }
    pthread_mutex_unlock(&w->lock);
    return NULL;
}

struct workers *workers_new(unsigned threads)
{
    if (!threads) {
        long n = sysconf(_SC_NPROCESSORS_ONLN);
        threads = n > 0 ? (unsigned)n : 1;
    }
    if (threads > 64)
        threads = 64;
    struct workers *w = calloc(1, sizeof *w);
    if (!w)
        return NULL;
    w->threads = calloc(threads, sizeof *w->threads);
    if (!w->threads) {
        free(w);
        return NULL;
    }
    if (pthread_mutex_init(&w->lock, NULL) != 0) {
        free(w->threads);
        free(w);
        return NULL;
    }
    if (pthread_cond_init(&w->cond, NULL) != 0) {
        pthread_mutex_destroy(&w->lock);
        free(w->threads);
        free(w);
        return NULL;
    }
    for (unsigned i = 0; i < threads; i++) {
        if (pthread_create(&w->threads[i], NULL, worker_main, w) != 0)
            break;
        w->n++;
    }
    if (!w->n) {
        workers_free(w);
        return NULL;
    }
    return w;
}

unsigned workers_count(const struct workers *w)
{
    return w->n;
}

void workers_submit(struct workers *w, struct worker_task *task, bool urgent)
{
    pthread_mutex_lock(&w->lock);
    push(urgent ? &w->urgent : &w->background, task);
    pthread_cond_signal(&w->cond);
    pthread_mutex_unlock(&w->lock);
}

void workers_free(struct workers *w)
{
    if (!w)
        return;
    pthread_mutex_lock(&w->lock);
    w->stopping = true;
    pthread_cond_broadcast(&w->cond);
    pthread_mutex_unlock(&w->lock);
    for (unsigned i = 0; i < w->n; i++)
        pthread_join(w->threads[i], NULL);
    pthread_cond_destroy(&w->cond);
    pthread_mutex_destroy(&w->lock);
    free(w->threads);
    free(w);
}
