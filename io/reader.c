/* The reader's common part: backend choice, the file registry and its change check, request
 * bookkeeping and the completion queue the owner drains. */
#include "io/reader_impl.h"
#include "util/fileid.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "util/env.h"

#ifndef __NR_cachestat
#define __NR_cachestat 451 /* the same on every architecture */
#endif

unsigned io_test_dio_align;

static int backend_from_env(ecrup_io_backend *out)
{
    const char *v = env_get(NULL, "ECRUP_IO_BACKEND");
    if (!v || !*v || !strcasecmp(v, "auto"))
        *out = ECRUP_IO_AUTO;
    else if (!strcasecmp(v, "uring") || !strcasecmp(v, "io_uring"))
        *out = ECRUP_IO_URING;
    else if (!strcasecmp(v, "pread"))
        *out = ECRUP_IO_PREAD;
    else
        return -EINVAL; /* a typo must not silently pick another backend */
    return 0;
}

static int direct_from_env(enum io_direct_mode *out)
{
    const char *v = env_get(NULL, "ECRUP_IO_DIRECT");
    if (!v || !*v || !strcasecmp(v, "auto"))
        *out = IO_DIRECT_AUTO;
    else if (!strcasecmp(v, "on"))
        *out = IO_DIRECT_ON;
    else if (!strcasecmp(v, "off"))
        *out = IO_DIRECT_OFF;
    else
        return -EINVAL;
    return 0;
}

int io_reader_new(const struct io_reader_options *options, struct io_bufpool *pool,
                  struct io_reader **out)
{
    *out = NULL;
    struct io_reader_options o = {0};
    if (options)
        o = *options;
    if (!pool)
        return -EINVAL;
    ecrup_io_backend want = o.backend;
    if (want == ECRUP_IO_AUTO) {
        int err = backend_from_env(&want);
        if (err)
            return err;
    }
    if (want != ECRUP_IO_AUTO && want != ECRUP_IO_URING && want != ECRUP_IO_PREAD)
        return -EINVAL;
    enum io_direct_mode direct = o.direct;
    if (direct == IO_DIRECT_DEFAULT) {
        int err = direct_from_env(&direct);
        if (err)
            return err;
    }
    if (direct != IO_DIRECT_AUTO && direct != IO_DIRECT_OFF && direct != IO_DIRECT_ON)
        return -EINVAL;

    struct io_reader *r = calloc(1, sizeof(*r));
    if (!r)
        return -ENOMEM;
    r->pool = pool;
    r->direct = direct;
    r->have_cachestat = true;
    r->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (r->efd < 0) {
        int err = -errno;
        free(r);
        return err;
    }
    int err = -ENOSYS;
    if (want != ECRUP_IO_PREAD) {
        err = io_uring_backend_init(r, &o);
        if (!err)
            r->backend = &io_uring_backend;
        else if (want == ECRUP_IO_URING)
            goto fail;
        else
            snprintf(r->fallback_reason, sizeof(r->fallback_reason), "io_uring unavailable: %s",
                     strerror(-err));
    }
    if (!r->backend) {
        err = io_pread_backend_init(r, &o);
        if (err)
            goto fail;
        r->backend = &io_pread_backend;
    }
    *out = r;
    return 0;
fail:
    close(r->efd);
    free(r);
    return err;
}

void io_reader_free(struct io_reader *r)
{
    if (!r)
        return;
    r->backend->destroy(r);
    /* The backend is gone, and its file table with it: only descriptors are left to close. */
    for (struct io_file *f = r->files, *n; f; f = n) {
        n = f->next;
        close(f->fd);
        if (f->dfd >= 0)
            close(f->dfd);
        free(f->path);
        free(f);
    }
    for (struct io_req *q = r->done_head, *n; q; q = n) {
        n = q->next;
        free(q);
    }
    for (struct io_req *q = r->free_reqs, *n; q; q = n) {
        n = q->next;
        free(q);
    }
    close(r->efd);
    free(r);
}

ecrup_io_backend io_reader_backend(const struct io_reader *r)
{
    return r->backend->kind;
}

const char *io_reader_backend_name(const struct io_reader *r)
{
    return r->backend->name;
}

const char *io_reader_describe(const struct io_reader *r, char *buf, size_t cap)
{
    if (!cap)
        return buf;
    buf[0] = '\0';
    r->backend->describe(r, buf, cap);
    size_t n = strlen(buf);
    static const char *const modes[] = {"", "O_DIRECT when not cached", "buffered", "O_DIRECT"};
    snprintf(buf + n, cap - n, ", %s", modes[r->direct]);
    if (r->fallback_reason[0]) {
        n = strlen(buf);
        snprintf(buf + n, cap - n, " (%s)", r->fallback_reason);
    }
    return buf;
}

int io_reader_fd(const struct io_reader *r)
{
    return r->efd;
}

#ifdef STATX_DIOALIGN
#define STATX_DIOALIGN_ STATX_DIOALIGN
#else
#define STATX_DIOALIGN_ 0u
#endif

/* A second descriptor with O_DIRECT and the alignment it needs. Any failure leaves the file
 * buffered: tmpfs on older kernels, FUSE and network file systems may refuse O_DIRECT. */
static void open_direct(struct io_file *f)
{
    int fd = open(f->path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_DIRECT);
    if (fd < 0)
        return;
    struct statx sx;
    unsigned off_align = 4096, mem_align = 4096; /* safe where statx cannot tell */
    if (statx(fd, "", AT_EMPTY_PATH, STATX_INO | STATX_DIOALIGN_, &sx) != 0 ||
        sx.stx_ino != f->id.ino || makedev(sx.stx_dev_major, sx.stx_dev_minor) != f->id.dev) {
        close(fd); /* the path names another file by now: the change check will say so */
        return;
    }
#ifdef STATX_DIOALIGN
    if (sx.stx_mask & STATX_DIOALIGN) {
        if (!sx.stx_dio_offset_align || !sx.stx_dio_mem_align) {
            close(fd); /* the file system says it cannot do O_DIRECT for this file */
            return;
        }
        off_align = sx.stx_dio_offset_align;
        mem_align = sx.stx_dio_mem_align;
    }
#endif
    if (io_test_dio_align)
        off_align = mem_align = io_test_dio_align;
    f->dfd = fd;
    f->dio_align = off_align;
    f->dio_mem_align = mem_align;
}

int io_reader_open(struct io_reader *r, const char *path, struct io_file **out)
{
    *out = NULL;
    if (!path || !*path)
        return -EINVAL;
    struct io_file *f = calloc(1, sizeof(*f));
    if (!f)
        return -ENOMEM;
    f->path = strdup(path);
    if (!f->path) {
        free(f);
        return -ENOMEM;
    }
    f->fixed = -1;
    f->dfixed = -1;
    f->dfd = -1;
    int err = 0;
    f->fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (f->fd < 0) {
        err = -errno;
        goto fail;
    }
    struct stat st;
    if (fstat(f->fd, &st) < 0) {
        err = -errno;
        goto fail;
    }
    if (S_ISDIR(st.st_mode)) {
        err = -EISDIR;
        goto fail;
    }
    if (!S_ISREG(st.st_mode)) {
        err = -EINVAL; /* pipes and devices have no stable size to plan parts from */
        goto fail;
    }
    f->id = file_id_of(&st);
    /* Layers are read once, front to back. */
    (void)posix_fadvise(f->fd, 0, 0, POSIX_FADV_SEQUENTIAL);
    if (r->direct != IO_DIRECT_OFF)
        open_direct(f);
    if (r->backend->file_opened)
        r->backend->file_opened(r, f);
    f->next = r->files;
    if (r->files)
        r->files->prev = f;
    r->files = f;
    *out = f;
    return 0;
fail:
    if (f->fd >= 0)
        close(f->fd);
    free(f->path);
    free(f);
    return err;
}

int io_reader_close(struct io_reader *r, struct io_file *f)
{
    if (!f)
        return 0;
    if (f->inflight)
        return -EBUSY;
    if (r->backend->file_closing)
        r->backend->file_closing(r, f);
    if (f->prev)
        f->prev->next = f->next;
    else
        r->files = f->next;
    if (f->next)
        f->next->prev = f->prev;
    close(f->fd);
    if (f->dfd >= 0)
        close(f->dfd);
    free(f->path);
    free(f);
    return 0;
}

uint64_t io_file_size(const struct io_file *f)
{
    return f->id.size;
}

const char *io_file_path(const struct io_file *f)
{
    return f->path;
}

int io_file_check(const struct io_file *f)
{
    return file_id_check(&f->id, f->fd, f->path);
}

size_t io_plan_read(const struct io_req *q, size_t at, size_t len, bool *direct)
{
    const struct io_file *f = q->file;
    *direct = false;
    if (!q->direct)
        return len;
    uint64_t pos = q->offset + at;
    uint64_t a = f->dio_align;
    if (pos % a) {
        uint64_t head = a - pos % a; /* through the cache up to the next aligned offset */
        return head < len ? (size_t)head : len;
    }
    if ((uintptr_t)(q->slot->raw + at) % f->dio_mem_align)
        return len; /* an aligned offset into a misaligned address: no span can go direct */
    size_t body = (size_t)(len / a * a);
    if (!body)
        return len; /* the last partial block */
    *direct = true;
    return body;
}

int io_cache_pages(int fd, uint64_t off, uint64_t len, uint64_t *cached, uint64_t *dirty)
{
    struct {
        uint64_t off, len;
    } range = {off, len};
    struct {
        uint64_t nr_cache, nr_dirty, nr_writeback, nr_evicted, nr_recently_evicted;
    } cs;
    if (syscall(__NR_cachestat, fd, &range, &cs, 0) != 0)
        return -errno;
    *cached = cs.nr_cache;
    *dirty = cs.nr_dirty + cs.nr_writeback;
    return 0;
}

/* Whether the page cache holds enough of the range that copying from it beats reading the
 * device: at least half its pages, or any dirty page (O_DIRECT would first write those back).
 * Without cachestat(2) the answer is yes, which keeps the plain buffered behaviour. */
static bool mostly_cached(struct io_reader *r, const struct io_file *f, uint64_t off, size_t len)
{
    if (!r->have_cachestat)
        return true;
    uint64_t cached = 0, dirty = 0;
    int rc = io_cache_pages(f->fd, off, len, &cached, &dirty);
    if (rc != 0) {
        if (rc == -ENOSYS || rc == -EPERM)
            r->have_cachestat = false;
        return true;
    }
    uint64_t ps = (uint64_t)sysconf(_SC_PAGESIZE);
    uint64_t pages = (off + len + ps - 1) / ps - off / ps;
    return dirty || cached * 2 >= pages;
}

static struct io_req *req_alloc(struct io_reader *r)
{
    struct io_req *q = r->free_reqs;
    if (q) {
        r->free_reqs = q->next;
        memset(q, 0, sizeof(*q));
        return q;
    }
    return calloc(1, sizeof(*q));
}

void io_reader_finish(struct io_reader *r, struct io_req *req)
{
    req->next = NULL;
    if (r->done_tail)
        r->done_tail->next = req;
    else
        r->done_head = req;
    r->done_tail = req;
}

int io_reader_submit(struct io_reader *r, struct io_file *f, uint64_t offset, size_t length,
                     struct io_slot *slot, void *user)
{
    if (!f || !slot || slot != io_bufpool_slot(r->pool, slot->index) || length > slot->raw_cap ||
        offset > f->id.size || length > f->id.size - offset)
        return -EINVAL;
    struct io_req *q = req_alloc(r);
    if (!q)
        return -ENOMEM;
    q->file = f;
    q->slot = slot;
    q->user = user;
    q->offset = offset;
    q->length = length;
    /* Not worth a cachestat call (or O_DIRECT) under one aligned block. */
    q->direct = f->dfd >= 0 && length >= f->dio_align &&
                (r->direct == IO_DIRECT_ON ||
                 (r->direct == IO_DIRECT_AUTO && !mostly_cached(r, f, offset, length)));
    f->inflight++;
    r->pending++;
    if (!length) {
        io_reader_finish(r, q);
        return 0;
    }
    int err = r->backend->submit(r, q);
    if (err) {
        f->inflight--;
        r->pending--;
        q->next = r->free_reqs;
        r->free_reqs = q;
    }
    return err;
}

static void drain_efd(int efd)
{
    uint64_t v;
    (void)!read(efd, &v, sizeof(v));
}

int io_reader_poll(struct io_reader *r, struct io_completion *out, unsigned max)
{
    /* Reset before looking: a completion that lands after the look signals again. */
    drain_efd(r->efd);
    r->backend->reap(r);
    unsigned n = 0;
    while (n < max && r->done_head) {
        struct io_req *q = r->done_head;
        r->done_head = q->next;
        if (!r->done_head)
            r->done_tail = NULL;
        /* The last read is done: only now can we tell whether what was read is the file. */
        if (!q->error && q->offset + q->length == q->file->id.size)
            q->error = io_file_check(q->file);
        out[n++] = (struct io_completion){.user = q->user,
                                          .file = q->file,
                                          .slot = q->slot,
                                          .offset = q->offset,
                                          .length = q->length,
                                          .bytes = q->done,
                                          .direct_bytes = q->direct_done,
                                          .error = q->error};
        q->file->inflight--;
        r->pending--;
        q->next = r->free_reqs;
        r->free_reqs = q;
    }
    if (r->done_head) {
        uint64_t one = 1; /* more than `max` were ready: stay readable */
        (void)!write(r->efd, &one, sizeof(one));
    }
    return (int)n;
}

static long long now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (long long)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

int io_reader_wait(struct io_reader *r, struct io_completion *out, unsigned max, int timeout_ms)
{
    long long deadline = timeout_ms >= 0 ? now_ms() + timeout_ms : 0;
    for (;;) {
        int n = io_reader_poll(r, out, max);
        if (n || !r->pending || !max)
            return n;
        int left = -1;
        if (timeout_ms >= 0) {
            long long d = deadline - now_ms();
            if (d <= 0)
                return 0;
            left = d > 1 << 30 ? 1 << 30 : (int)d;
        }
        struct pollfd p = {.fd = r->efd, .events = POLLIN};
        if (poll(&p, 1, left) < 0 && errno != EINTR)
            return -errno;
    }
}

unsigned io_reader_pending(const struct io_reader *r)
{
    return r->pending;
}

ecrup_status io_status_from_errno(int err)
{
    switch (err) {
    case 0:
        return ECRUP_OK;
    case -ESTALE:
        return ECRUP_E_FILE_CHANGED;
    case -ENOENT:
        return ECRUP_E_NOT_FOUND;
    case -ENOMEM:
        return ECRUP_E_NOMEM;
    case -EINVAL:
        return ECRUP_E_INVALID_ARGUMENT;
    case -ENOSYS:
    case -EOPNOTSUPP:
        return ECRUP_E_UNSUPPORTED;
    case -ECANCELED:
        return ECRUP_E_CANCELLED;
    default:
        return ECRUP_E_IO;
    }
}

const char *io_error_message(int err, const char *path, char *buf, size_t cap)
{
    if (!cap)
        return buf;
    if (!path)
        path = "(unnamed)";
    if (err == -ESTALE)
        snprintf(
            buf, cap,
            "layer file %s changed while it was being read (size, mtime, ctime or inode differ)",
            path);
    else if (err == -EISDIR)
        snprintf(buf, cap, "layer file %s is a directory", path);
    else if (err == -EINVAL)
        snprintf(buf, cap, "layer file %s is not a regular file or the request is invalid", path);
    else
        snprintf(buf, cap, "layer file %s: %s", path, strerror(err < 0 ? -err : err));
    return buf;
}
