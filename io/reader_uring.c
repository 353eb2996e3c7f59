/* The io_uring backend. Each request is cut into read ops of `read_size` bytes; up to `depth`
 * ops are in the kernel at once, across requests, so one large part keeps several reads going
 * and many layers share the ring. Ops go to READ_FIXED on a registered raw area (no page pinning
 * per read), on a registered file when the table has room (no fd lookup per read). A short read
 * is continued from where it stopped; a read that meets end-of-file before the size seen at open
 * means the file shrank (-ESTALE). An op whose span O_DIRECT cannot take in one read (see
 * io_plan_read) is issued as several reads in turn, the same way as a short read.
 *
 * Buffers are registered one slot at a time, the first time a slot gets an O_DIRECT read, into
 * a sparse table made at init: registering pins (and so faults in and zeroes) every page, and
 * doing it for the whole pool up front cost 0.3-1 CPU-s for a 512 MiB pool, whatever the job's
 * size. Buffered reads never use them (see prep_op). Kernels without sparse tables (before
 * 5.19) read into unregistered memory.
 *
 * No threads: the owner submits and reaps. The ring is created without COOP_TASKRUN or
 * DEFER_TASKRUN so that completions are posted (and the eventfd signalled) while the owner
 * sleeps in poll(2), not only when it next enters io_uring. */
#include "io/reader_impl.h"

#include <errno.h>
#include <liburing.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>

struct uring_op {
    struct io_req *req;
    size_t off;  /* within the request */
    size_t len;  /* bytes this op must read */
    size_t done; /* bytes read so far */
    bool direct; /* the read in the kernel now uses O_DIRECT */
};

enum { SLOT_UNREGISTERED = 0, SLOT_REGISTERED = 1, SLOT_REFUSED = 2 };

struct uring_state {
    struct io_uring ring;
    unsigned depth;
    unsigned file_depth;        /* ops in flight per file, buffered */
    unsigned direct_file_depth; /* ops in flight per file, O_DIRECT */
    size_t read_size;
    struct uring_op *ops;
    unsigned *free_ops; /* stack of free op indices */
    unsigned nfree;
    bool fixed_bufs;         /* the sparse table exists: slot_reg says per slot */
    unsigned char *slot_reg; /* per pool slot: SLOT_* */
    struct io_bufpool *pool; /* told of each slot registered, so it never trims one */
    unsigned slots_registered, slots_refused;
    char bufs_reason[48]; /* why registration failed (the first refusal) */
    unsigned file_slots;  /* 0 when the sparse file table could not be registered */
    unsigned char *file_used;
    unsigned files_fixed;
    struct io_req *queue_head, *queue_tail; /* requests with bytes not yet handed to an op */
    bool unsent;                            /* SQEs prepared but not submitted */
};

static struct uring_state *st(struct io_reader *r)
{
    return r->impl;
}

/* Whether READ_FIXED can be used on `slot`, registering it now if it never was. */
static bool slot_fixed(struct uring_state *s, struct io_slot *slot)
{
    if (!s->fixed_bufs)
        return false;
    unsigned char *st_ = &s->slot_reg[slot->index];
    if (*st_ == SLOT_UNREGISTERED) {
        struct iovec iov = {.iov_base = slot->raw, .iov_len = slot->raw_cap};
        __u64 tag = 0;
        int rc = io_uring_register_buffers_update_tag(&s->ring, slot->index, &iov, &tag, 1);
        if (rc == 1) {
            *st_ = SLOT_REGISTERED;
            s->slots_registered++;
            io_bufpool_mark_pinned(s->pool, slot->index);
        } else {
            *st_ = SLOT_REFUSED;
            if (!s->slots_refused++)
                snprintf(s->bufs_reason, sizeof(s->bufs_reason), "%s",
                         strerror(rc < 0 ? -rc : EIO));
        }
    }
    return *st_ == SLOT_REGISTERED;
}

int io_uring_backend_init(struct io_reader *r, const struct io_reader_options *o)
{
    struct uring_state *s = calloc(1, sizeof(*s));
    if (!s)
        return -ENOMEM;
    s->depth = o->queue_depth ? o->queue_depth : IO_READER_DEFAULT_QUEUE_DEPTH;
    if (s->depth > 4096)
        s->depth = 4096;
    s->file_depth = o->file_depth ? o->file_depth : IO_READER_DEFAULT_FILE_DEPTH;
    s->direct_file_depth =
        o->direct_file_depth ? o->direct_file_depth : IO_READER_DEFAULT_DIRECT_FILE_DEPTH;
    size_t rs = o->read_size ? o->read_size : IO_READER_DEFAULT_READ_SIZE;
    if (rs > (1u << 30))
        rs = 1u << 30;
    s->read_size = (rs + 65535) / 65536 * 65536;
    int err = io_uring_queue_init(s->depth, &s->ring, 0);
    if (err) {
        free(s);
        return err;
    }
    /* A kernel without plain READ cannot serve us even with fixed buffers as a fallback. */
    struct io_uring_probe *probe = io_uring_get_probe_ring(&s->ring);
    bool ok = probe && io_uring_opcode_supported(probe, IORING_OP_READ) &&
              io_uring_opcode_supported(probe, IORING_OP_READ_FIXED);
    if (probe)
        io_uring_free_probe(probe);
    if (!ok) {
        io_uring_queue_exit(&s->ring);
        free(s);
        return -EOPNOTSUPP;
    }
    err = io_uring_register_eventfd(&s->ring, r->efd);
    if (err)
        goto fail;
    s->ops = calloc(s->depth, sizeof(*s->ops));
    s->free_ops = calloc(s->depth, sizeof(*s->free_ops));
    if (!s->ops || !s->free_ops) {
        err = -ENOMEM;
        goto fail;
    }
    for (unsigned i = 0; i < s->depth; i++)
        s->free_ops[i] = s->depth - 1 - i;
    s->nfree = s->depth;

    /* Slots are registered as O_DIRECT reads first use them (slot_fixed). Without sparse
     * tables (kernels before 5.19, which also lack cachestat, so auto mode never reads direct)
     * nothing is registered: pinning the whole pool up front is the cost this avoids. */
    s->pool = r->pool;
    if (!o->plain_buffers) {
        s->slot_reg = calloc(io_bufpool_count(r->pool), 1);
        if (!s->slot_reg) {
            err = -ENOMEM;
            goto fail;
        }
        err = io_uring_register_buffers_sparse(&s->ring, io_bufpool_count(r->pool));
        s->fixed_bufs = !err;
        if (err)
            snprintf(s->bufs_reason, sizeof(s->bufs_reason), "no sparse table: %s", strerror(-err));
    } else {
        snprintf(s->bufs_reason, sizeof(s->bufs_reason), "as asked");
    }

    unsigned fs = o->file_slots ? o->file_slots : IO_READER_DEFAULT_FILE_SLOTS;
    s->file_used = calloc(fs, 1);
    if (s->file_used && io_uring_register_files_sparse(&s->ring, fs) == 0)
        s->file_slots = fs;
    r->impl = s;
    return 0;
fail:
    io_uring_queue_exit(&s->ring);
    free(s->ops);
    free(s->free_ops);
    free(s->file_used);
    free(s->slot_reg);
    free(s);
    return err;
}

static int register_fd(struct uring_state *s, int fd)
{
    for (unsigned i = 0; i < s->file_slots; i++) {
        if (s->file_used[i])
            continue;
        if (io_uring_register_files_update(&s->ring, i, &fd, 1) != 1)
            return -1; /* plain descriptors work just as well */
        s->file_used[i] = 1;
        s->files_fixed++;
        return (int)i;
    }
    return -1;
}

static void unregister_fd(struct uring_state *s, int *idx)
{
    if (*idx < 0)
        return;
    int none = -1;
    (void)io_uring_register_files_update(&s->ring, (unsigned)*idx, &none, 1);
    s->file_used[*idx] = 0;
    s->files_fixed--;
    *idx = -1;
}

static void uring_file_opened(struct io_reader *r, struct io_file *f)
{
    struct uring_state *s = st(r);
    f->fixed = register_fd(s, f->fd);
    if (f->dfd >= 0)
        f->dfixed = register_fd(s, f->dfd);
}

static void uring_file_closing(struct io_reader *r, struct io_file *f)
{
    struct uring_state *s = st(r);
    unregister_fd(s, &f->fixed);
    unregister_fd(s, &f->dfixed);
}

/* Hand `op`'s next read to the ring. Returns 0, or the negative errno of the submit that was
 * to make room when the ring has none (the op then gets no SQE and the caller ends it). */
static int prep_op(struct uring_state *s, struct uring_op *op)
{
    struct io_uring_sqe *sqe = io_uring_get_sqe(&s->ring);
    if (!sqe) {
        /* The ring has at least `depth` entries and at most `depth` ops exist, so this only
         * happens when prepared SQEs were not yet submitted; if submitting them fails too, the
         * ring stays full. */
        int rc;
        do
            rc = io_uring_submit(&s->ring);
        while (rc == -EINTR);
        if (rc >= 0)
            s->unsent = false;
        sqe = io_uring_get_sqe(&s->ring);
        if (!sqe)
            return rc < 0 ? rc : -EBUSY;
    }
    struct io_req *q = op->req;
    size_t at = op->off + op->done;
    bool direct;
    size_t len = io_plan_read(q, at, op->len - op->done, &direct);
    op->direct = direct;
    unsigned char *dst = q->slot->raw + at;
    uint64_t pos = q->offset + at;
    int fixed = direct ? q->file->dfixed : q->file->fixed;
    int fd = fixed >= 0 ? fixed : direct ? q->file->dfd : q->file->fd;
    /* Only O_DIRECT reads use the registered buffer: there it saves pinning the pages per read
     * (0.011 against 0.017 CPU-s/GB here). For buffered reads READ_FIXED measured no different
     * from plain READ (warm, and cold within the noise), so it is not worth pinning for. */
    if (direct && slot_fixed(s, q->slot))
        io_uring_prep_read_fixed(sqe, fd, dst, (unsigned)len, pos, (int)q->slot->index);
    else
        io_uring_prep_read(sqe, fd, dst, (unsigned)len, pos);
    if (fixed >= 0)
        sqe->flags |= IOSQE_FIXED_FILE;
    /* A buffered read of cached pages would otherwise be copied inside io_uring_submit(), on
     * the owner's thread (the engine's, which also sends the next parts): 10 MiB is a few
     * milliseconds of copy and page faults on a fresh slot, during which no reply is handled
     * and no part goes out. ASYNC hands the copy to the kernel's io-wq workers. */
    if (!direct)
        sqe->flags |= IOSQE_ASYNC;
    io_uring_sqe_set_data(sqe, op);
    s->unsent = true;
    return 0;
}

static void maybe_finish(struct io_reader *r, struct io_req *q)
{
    if (!q->ops && !q->queued)
        io_reader_finish(r, q);
}

/* Give `op` back to the free stack, recording `err` (0 or negative errno) as its request's first
 * error, and finish the request if that was its last op. */
static void end_op(struct io_reader *r, struct uring_op *op, int err)
{
    struct uring_state *s = st(r);
    struct io_req *q = op->req;
    if (err && !q->error)
        q->error = err;
    s->free_ops[s->nfree++] = (unsigned)(op - s->ops);
    q->ops--;
    q->file->ops--;
    maybe_finish(r, q);
}

/* Put `op`'s next read in the ring, or end the op with the error that left no room for it. */
static void next_read(struct io_reader *r, struct uring_op *op)
{
    int err = prep_op(st(r), op);
    if (err)
        end_op(r, op, err);
}

/* Hand queued bytes to free ops in request order, so a layer's parts are read front to back.
 * A file gets at most `file_depth` ops at once: a few large reads ahead keep the kernel's
 * readahead sequential on a cold cache (dozens of scattered reads into one file defeat it and
 * measured slower), while the ring's depth is shared by many files. O_DIRECT reads have no
 * readahead: only the reads in flight keep the device busy, so they get `direct_file_depth`
 * (4 x 1 MiB measured 1.4 GB/s here, 16 x 1 MiB 1.75 GB/s, the device's pace). */
static void issue(struct io_reader *r)
{
    struct uring_state *s = st(r);
    struct io_req *prev = NULL, *q = s->queue_head;
    while (q) {
        unsigned limit = q->direct ? s->direct_file_depth : s->file_depth;
        while (!q->error && s->nfree && q->issued < q->length && q->file->ops < limit) {
            size_t len = q->length - q->issued;
            if (len > s->read_size)
                len = s->read_size;
            struct uring_op *op = &s->ops[s->free_ops[--s->nfree]];
            *op = (struct uring_op){.req = q, .off = q->issued, .len = len};
            q->issued += len;
            q->ops++;
            q->file->ops++;
            next_read(r, op);
        }
        struct io_req *next = q->next;
        if (q->error || q->issued == q->length) {
            if (prev)
                prev->next = next;
            else
                s->queue_head = next;
            if (s->queue_tail == q)
                s->queue_tail = prev;
            q->queued = false;
            maybe_finish(r, q);
        } else {
            prev = q;
        }
        q = next;
    }
    if (s->unsent) {
        s->unsent = false;
        int rc;
        do
            rc = io_uring_submit(&s->ring);
        while (rc == -EINTR);
        if (rc < 0)
            s->unsent = true; /* still in the ring: the next poll submits them */
    }
}

static int uring_submit(struct io_reader *r, struct io_req *q)
{
    struct uring_state *s = st(r);
    q->queued = true;
    q->next = NULL;
    if (s->queue_tail)
        s->queue_tail->next = q;
    else
        s->queue_head = q;
    s->queue_tail = q;
    issue(r);
    return 0;
}

static void complete_op(struct io_reader *r, struct uring_op *op, int res, bool draining)
{
    struct io_req *q = op->req;
    if (res == -EAGAIN || res == -EINTR) {
        if (!draining && !q->error) {
            next_read(r, op);
            return;
        }
        res = -EINTR;
    }
    if ((res == -EINVAL || res == -EOPNOTSUPP) && op->direct && !draining && !q->error) {
        q->direct = false; /* refused after all: the rest goes through the cache */
        next_read(r, op);
        return;
    }
    if (res < 0) {
        end_op(r, op, res);
        return;
    }
    if (res == 0) {
        end_op(r, op, -ESTALE); /* end of file before the size seen at open: it shrank */
        return;
    }
    op->done += (size_t)res;
    q->done += (size_t)res;
    if (op->direct)
        q->direct_done += (size_t)res;
    if (op->done < op->len && !q->error && !draining) {
        next_read(r, op); /* short or split read: continue from where it stopped */
        return;
    }
    end_op(r, op, 0);
}

static void reap_cqes(struct io_reader *r, bool draining)
{
    struct uring_state *s = st(r);
    struct io_uring_cqe *cqe;
    unsigned head, seen = 0;
    io_uring_for_each_cqe(&s->ring, head, cqe)
    {
        complete_op(r, io_uring_cqe_get_data(cqe), cqe->res, draining);
        seen++;
    }
    io_uring_cq_advance(&s->ring, seen);
}

static void uring_reap(struct io_reader *r)
{
    reap_cqes(r, false);
    issue(r); /* resubmits continued reads and queued bytes */
}

static void uring_destroy(struct io_reader *r)
{
    struct uring_state *s = st(r);
    /* Nothing new may start; requests that never reached the kernel end here. */
    for (struct io_req *q = s->queue_head, *n; q; q = n) {
        n = q->next;
        q->queued = false;
        if (!q->error)
            q->error = -ECANCELED;
        maybe_finish(r, q);
    }
    s->queue_head = s->queue_tail = NULL;
    io_uring_submit(&s->ring); /* anything left in the ring must reach the kernel to end */
    /* Buffered reads finish in bounded time; the kernel must be done writing into the pool
     * before the caller may free it. */
    while (s->nfree < s->depth) {
        struct io_uring_cqe *cqe;
        int rc = io_uring_wait_cqe(&s->ring, &cqe);
        if (rc < 0 && rc != -EINTR && rc != -EAGAIN)
            break;
        reap_cqes(r, true);
    }
    io_uring_queue_exit(&s->ring);
    free(s->ops);
    free(s->free_ops);
    free(s->file_used);
    free(s->slot_reg);
    free(s);
    r->impl = NULL;
}

static void uring_describe(const struct io_reader *r, char *buf, size_t cap)
{
    const struct uring_state *s = r->impl;
    int n = snprintf(buf, cap, "io_uring: %u reads in flight (%u per file, %u direct) of %zu KiB, ",
                     s->depth, s->file_depth, s->direct_file_depth, s->read_size >> 10);
    if (n < 0 || (size_t)n >= cap)
        return;
    if (s->fixed_bufs)
        n += snprintf(buf + n, cap - (size_t)n,
                      "buffers registered at first O_DIRECT read (%u so far", s->slots_registered);
    else
        n += snprintf(buf + n, cap - (size_t)n, "unregistered buffers (%s", s->bufs_reason);
    if (n < 0 || (size_t)n >= cap)
        return;
    if (s->slots_refused)
        n += snprintf(buf + n, cap - (size_t)n, ", %u unregistered: %s)", s->slots_refused,
                      s->bufs_reason);
    else
        n += snprintf(buf + n, cap - (size_t)n, ")");
    if (n < 0 || (size_t)n >= cap)
        return;
    if (s->file_slots)
        snprintf(buf + n, cap - (size_t)n, ", registered files (%u slots)", s->file_slots);
    else
        snprintf(buf + n, cap - (size_t)n, ", plain file descriptors");
}

const struct io_backend io_uring_backend = {
    .name = "io_uring",
    .kind = ECRUP_IO_URING,
    .submit = uring_submit,
    .reap = uring_reap,
    .file_opened = uring_file_opened,
    .file_closing = uring_file_closing,
    .destroy = uring_destroy,
    .describe = uring_describe,
};
