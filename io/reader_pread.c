/* The pread backend: worker threads take whole requests from a queue and pread(2) them into the
 * slot in as few calls as the kernel allows (one O_DIRECT span plus a buffered head or tail at
 * most), continuing short reads. Finished requests go on a
 * done list under the same lock and the reader's eventfd is signalled; the owner collects them in
 * reap. Workers touch a request only between taking it and handing it back, and never touch the
 * reader's owner-thread fields. */
#include "io/reader_impl.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

struct pread_state {
    unsigned nthreads;
    pthread_t *threads;
    int efd; /* the reader's, copied so workers need not look at the reader */

    pthread_mutex_t lock; /* guards everything below */
    pthread_cond_t work;
    struct io_req *todo_head, *todo_tail;
    struct io_req *done_head, *done_tail;
    bool stop;
};

static void push(struct io_req **head, struct io_req **tail, struct io_req *q)
{
    q->next = NULL;
    if (*tail)
        (*tail)->next = q;
    else
        *head = q;
    *tail = q;
}

static void read_req(struct io_req *q)
{
    while (q->done < q->length) {
        bool direct;
        size_t want = io_plan_read(q, q->done, q->length - q->done, &direct);
        ssize_t n = pread(direct ? q->file->dfd : q->file->fd, q->slot->raw + q->done, want,
                          (off_t)(q->offset + q->done));
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (direct && (errno == EINVAL || errno == EOPNOTSUPP)) {
                q->direct = false; /* refused after all: the rest goes through the cache */
                continue;
            }
            q->error = -errno;
            return;
        }
        if (direct)
            q->direct_done += (size_t)n;
        if (n == 0) {
            q->error = -ESTALE; /* end of file before the size seen at open: it shrank */
            return;
        }
        q->done += (size_t)n;
    }
}

static void *worker(void *arg)
{
    struct pread_state *s = arg;
    pthread_mutex_lock(&s->lock);
    for (;;) {
        while (!s->stop && !s->todo_head)
            pthread_cond_wait(&s->work, &s->lock);
        if (s->stop)
            break;
        struct io_req *q = s->todo_head;
        s->todo_head = q->next;
        if (!s->todo_head)
            s->todo_tail = NULL;
        pthread_mutex_unlock(&s->lock);
        read_req(q);
        pthread_mutex_lock(&s->lock);
        push(&s->done_head, &s->done_tail, q);
        uint64_t one = 1;
        (void)!write(s->efd, &one, sizeof(one));
    }
    pthread_mutex_unlock(&s->lock);
    return NULL;
}

int io_pread_backend_init(struct io_reader *r, const struct io_reader_options *o)
{
    struct pread_state *s = calloc(1, sizeof(*s));
    if (!s)
        return -ENOMEM;
    s->nthreads = o->threads ? o->threads : IO_READER_DEFAULT_THREADS;
    if (s->nthreads > 64)
        s->nthreads = 64;
    s->efd = r->efd;
    s->threads = calloc(s->nthreads, sizeof(*s->threads));
    if (!s->threads) {
        free(s);
        return -ENOMEM;
    }
    int err = pthread_mutex_init(&s->lock, NULL);
    if (!err) {
        err = pthread_cond_init(&s->work, NULL);
        if (err)
            pthread_mutex_destroy(&s->lock);
    }
    if (err) {
        free(s->threads);
        free(s);
        return -err;
    }
    for (unsigned i = 0; i < s->nthreads; i++) {
        err = pthread_create(&s->threads[i], NULL, worker, s);
        if (err) {
            pthread_mutex_lock(&s->lock);
            s->stop = true;
            pthread_cond_broadcast(&s->work);
            pthread_mutex_unlock(&s->lock);
            for (unsigned j = 0; j < i; j++)
                pthread_join(s->threads[j], NULL);
            pthread_cond_destroy(&s->work);
            pthread_mutex_destroy(&s->lock);
            free(s->threads);
            free(s);
            return -err;
        }
    }
    r->impl = s;
    return 0;
}

static int pread_submit(struct io_reader *r, struct io_req *q)
{
    struct pread_state *s = r->impl;
    pthread_mutex_lock(&s->lock);
    push(&s->todo_head, &s->todo_tail, q);
    pthread_cond_signal(&s->work);
    pthread_mutex_unlock(&s->lock);
    return 0;
}

static void pread_reap(struct io_reader *r)
{
    struct pread_state *s = r->impl;
    pthread_mutex_lock(&s->lock);
    struct io_req *q = s->done_head;
    s->done_head = s->done_tail = NULL;
    pthread_mutex_unlock(&s->lock);
    for (struct io_req *n; q; q = n) {
        n = q->next;
        io_reader_finish(r, q);
    }
}

static void pread_destroy(struct io_reader *r)
{
    struct pread_state *s = r->impl;
    pthread_mutex_lock(&s->lock);
    s->stop = true; /* workers finish the read they are in, then leave */
    pthread_cond_broadcast(&s->work);
    pthread_mutex_unlock(&s->lock);
    for (unsigned i = 0; i < s->nthreads; i++)
        pthread_join(s->threads[i], NULL);
    for (struct io_req *q = s->todo_head, *n; q; q = n) {
        n = q->next;
        q->error = -ECANCELED;
        io_reader_finish(r, q);
    }
    s->todo_head = s->todo_tail = NULL;
    pread_reap(r);
    pthread_cond_destroy(&s->work);
    pthread_mutex_destroy(&s->lock);
    free(s->threads);
    free(s);
    r->impl = NULL;
}

static void pread_describe(const struct io_reader *r, char *buf, size_t cap)
{
    const struct pread_state *s = r->impl;
    snprintf(buf, cap, "pread: %u worker thread%s", s->nthreads, s->nthreads == 1 ? "" : "s");
}

const struct io_backend io_pread_backend = {
    .name = "pread",
    .kind = ECRUP_IO_PREAD,
    .submit = pread_submit,
    .reap = pread_reap,
    .destroy = pread_destroy,
    .describe = pread_describe,
};
