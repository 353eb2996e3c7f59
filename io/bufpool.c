/* The part-buffer pool: one anonymous mapping cut into page-aligned slots and a LIFO stack of free
 * slot indices under a mutex. Acquiring never blocks: the engine's loop fails fast and tries
 * again when a part it sent releases its slot. */
#include "io/bufpool.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

struct io_bufpool {
    /* Fixed at creation; read by any thread without the lock. */
    unsigned count;
    struct io_slot *slots;
    unsigned char *base; /* the mapping; map_len bytes */
    size_t map_len;

    /* Guarded by `lock`. */
    pthread_mutex_t lock;
    unsigned *free_stack; /* indices of free slots; top is free_stack[nfree - 1] */
    unsigned nfree;
    bool shut;
    bool *held; /* catches double release in every build: corruption here is silent otherwise */
    /* Per slot: `pinned` once a reader registered it (its pages stay the kernel's), `dirty`
     * once acquired since its pages were last returned. Trimming: see io_bufpool_trim. */
    bool *pinned, *dirty;
    bool trimming;
    unsigned *trim_stack; /* io_bufpool_trim's slots out of the free stack while trimmed */
    size_t stride;
};

static size_t page_round(size_t n)
{
    size_t ps = (size_t)sysconf(_SC_PAGESIZE);
    if (n > SIZE_MAX - ps)
        return 0;
    return (n + ps - 1) / ps * ps;
}

size_t io_bufpool_slot_bytes(size_t part_size)
{
    return page_round(part_size);
}

unsigned io_bufpool_slots_for(uint64_t memory_limit, size_t part_size)
{
    if (!part_size)
        return 0;
    size_t per = io_bufpool_slot_bytes(part_size);
    if (!per)
        return 0;
    if (!memory_limit)
        memory_limit = IO_BUFPOOL_DEFAULT_MEMORY_LIMIT;
    uint64_t n = memory_limit / per;
    return n > IO_BUFPOOL_MAX_SLOTS ? IO_BUFPOOL_MAX_SLOTS : (unsigned)n;
}

int io_bufpool_new(const struct io_bufpool_options *o, struct io_bufpool **out)
{
    *out = NULL;
    if (!o || !o->part_size)
        return -EINVAL;
    unsigned count = o->slots ? o->slots : io_bufpool_slots_for(o->memory_limit, o->part_size);
    if (!count || count > IO_BUFPOOL_MAX_SLOTS)
        return -EINVAL;
    size_t stride = io_bufpool_slot_bytes(o->part_size);
    if (!stride || stride > SIZE_MAX / count)
        return -EINVAL;

    struct io_bufpool *p = calloc(1, sizeof(*p));
    if (!p)
        return -ENOMEM;
    p->count = count;
    p->map_len = stride * count;
    p->slots = calloc(count, sizeof(*p->slots));
    p->free_stack = calloc(count, sizeof(*p->free_stack));
    p->trim_stack = calloc(count, sizeof(*p->trim_stack));
    p->held = calloc(3 * (size_t)count, sizeof(*p->held));
    p->pinned = p->held ? p->held + count : NULL;
    p->dirty = p->held ? p->held + 2 * (size_t)count : NULL;
    p->stride = stride;
    int err = 0;
    if (!p->slots || !p->free_stack || !p->trim_stack || !p->held) {
        err = -ENOMEM;
        goto fail;
    }
    void *m = mmap(NULL, p->map_len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED) {
        err = -errno;
        goto fail;
    }
    p->base = m;
    /* No MADV_HUGEPAGE: huge pages did not make the kernel's copy into the slots measurably
     * cheaper, and where THP defrag is "madvise" (Debian's default) an advised region pays
     * direct compaction on its first faults. ecrup-bench, 3 runs each, alternated: 4 x 256 MiB
     * 2.66 CPU-s/GB with the advice, 2.37 without; the WAN workload's duty 0.76 and 0.84. */
    int mrc = pthread_mutex_init(&p->lock, NULL);
    if (mrc) {
        err = -mrc;
        goto fail;
    }
    for (unsigned i = 0; i < count; i++) {
        struct io_slot *s = &p->slots[i];
        s->index = i;
        s->raw = p->base + (size_t)i * stride;
        s->raw_cap = o->part_size;
        p->free_stack[i] = count - 1 - i; /* slot 0 on top */
    }
    p->nfree = count;
    *out = p;
    return 0;

fail:
    if (p->base)
        munmap(p->base, p->map_len);
    free(p->slots);
    free(p->free_stack);
    free(p->trim_stack);
    free(p->held);
    free(p);
    return err;
}

void io_bufpool_free(struct io_bufpool *p)
{
    if (!p)
        return;
    pthread_mutex_destroy(&p->lock);
    munmap(p->base, p->map_len);
    free(p->slots);
    free(p->free_stack);
    free(p->trim_stack);
    free(p->held);
    free(p);
}

int io_bufpool_acquire(struct io_bufpool *p, struct io_slot **slot)
{
    *slot = NULL;
    int rc = 0;
    pthread_mutex_lock(&p->lock);
    if (p->shut)
        rc = -ECANCELED;
    else if (!p->nfree)
        rc = -EAGAIN;
    else {
        unsigned i = p->free_stack[--p->nfree];
        p->held[i] = true;
        p->dirty[i] = true;
        *slot = &p->slots[i];
    }
    pthread_mutex_unlock(&p->lock);
    return rc;
}

void io_bufpool_release(struct io_bufpool *p, struct io_slot *s)
{
    if (!s)
        return;
    unsigned i = s->index;
    if (i >= p->count || s != &p->slots[i])
        abort(); /* not ours: continuing would hand out memory twice */
    s->raw_len = 0;
    s->user = NULL;
    pthread_mutex_lock(&p->lock);
    if (!p->held[i])
        abort(); /* released twice */
    if (p->trimming && !p->pinned[i] && p->dirty[i]) {
        /* still held, so nobody else touches it while its pages go back */
        pthread_mutex_unlock(&p->lock);
        (void)madvise(p->base + (size_t)i * p->stride, p->stride, MADV_DONTNEED);
        pthread_mutex_lock(&p->lock);
        p->dirty[i] = false;
    }
    p->held[i] = false;
    p->free_stack[p->nfree++] = i;
    pthread_mutex_unlock(&p->lock);
}

void io_bufpool_shutdown(struct io_bufpool *p)
{
    pthread_mutex_lock(&p->lock);
    p->shut = true;
    pthread_mutex_unlock(&p->lock);
}

unsigned io_bufpool_available(struct io_bufpool *p)
{
    pthread_mutex_lock(&p->lock);
    unsigned n = p->nfree;
    pthread_mutex_unlock(&p->lock);
    return n;
}

unsigned io_bufpool_count(const struct io_bufpool *p)
{
    return p->count;
}

struct io_slot *io_bufpool_slot(struct io_bufpool *p, unsigned index)
{
    return index < p->count ? &p->slots[index] : NULL;
}

void io_bufpool_mark_pinned(struct io_bufpool *p, unsigned index)
{
    if (index >= p->count)
        return;
    pthread_mutex_lock(&p->lock);
    p->pinned[index] = true;
    pthread_mutex_unlock(&p->lock);
}

void io_bufpool_trim(struct io_bufpool *p)
{
    pthread_mutex_lock(&p->lock);
    p->trimming = true;
    /* Take the free slots that hold pages off the stack, so no acquirer gets one while its
     * pages go back; the rest stay available meanwhile. */
    unsigned *out = p->trim_stack;
    unsigned n = 0, keep = 0;
    for (unsigned k = 0; k < p->nfree; k++) {
        unsigned i = p->free_stack[k];
        if (p->dirty[i] && !p->pinned[i])
            out[n++] = i;
        else
            p->free_stack[keep++] = i;
    }
    p->nfree = keep;
    pthread_mutex_unlock(&p->lock);
    for (unsigned k = 0; k < n; k++)
        (void)madvise(p->base + (size_t)out[k] * p->stride, p->stride, MADV_DONTNEED);
    pthread_mutex_lock(&p->lock);
    for (unsigned k = 0; k < n; k++) {
        p->dirty[out[k]] = false;
        p->free_stack[p->nfree++] = out[k];
    }
    pthread_mutex_unlock(&p->lock);
}
