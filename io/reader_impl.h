/* Shared between the reader's common part (reader.c) and its backends (reader_uring.c,
 * reader_pread.c). Not for use outside io/. */
#ifndef ECRUP_IO_READER_IMPL_H
#define ECRUP_IO_READER_IMPL_H

#include "io/reader.h"
#include "util/fileid.h"

#include <stdbool.h>

struct io_file {
    /* Fixed at open; read by any thread. */
    char *path;
    int fd;
    struct file_id id;      /* as fstat saw it at open; id.size bounds every request */
    int dfd;                /* O_DIRECT descriptor of the same inode, or -1 */
    unsigned dio_align;     /* O_DIRECT file offset and length alignment */
    unsigned dio_mem_align; /* O_DIRECT buffer address alignment */
    /* Owner thread only. */
    int fixed;         /* io_uring registered-file index, or -1 */
    int dfixed;        /* the same for dfd */
    unsigned inflight; /* requests submitted and not yet delivered */
    unsigned ops;      /* io_uring: read ops in flight */
    struct io_file *prev, *next;
};

/* One submitted request. Owner thread, except that a pread worker owns it (and writes `done`
 * and `error`) between taking it from the queue and putting it on the done list. */
struct io_req {
    struct io_file *file;
    struct io_slot *slot;
    void *user;
    uint64_t offset;
    size_t length;
    size_t done;        /* bytes read */
    size_t direct_done; /* of those, by O_DIRECT */
    int error;          /* first error, negative errno */
    bool direct;        /* O_DIRECT for the spans it can take; cleared if the kernel refuses one */
    size_t issued;      /* io_uring: bytes handed to read ops */
    unsigned ops;       /* io_uring: read ops in flight */
    bool queued;        /* io_uring: still in the issue queue */
    struct io_req *next;
};

struct io_backend {
    const char *name;
    ecrup_io_backend kind;
    /* Start reading `req` (length > 0). May complete it at once onto the done list. */
    int (*submit)(struct io_reader *r, struct io_req *req);
    /* Move finished requests onto the reader's done list (io_reader_finish). */
    void (*reap)(struct io_reader *r);
    /* File table hooks (may be NULL). */
    void (*file_opened)(struct io_reader *r, struct io_file *f);
    void (*file_closing)(struct io_reader *r, struct io_file *f);
    /* Wait for reads in progress, drop queued ones, release everything. */
    void (*destroy)(struct io_reader *r);
    /* Append backend details to a description line. */
    void (*describe)(const struct io_reader *r, char *buf, size_t cap);
};

struct io_reader {
    /* Fixed at creation. */
    const struct io_backend *backend;
    void *impl;
    struct io_bufpool *pool;
    int efd; /* eventfd: io_uring signals it per completion, pread workers per finished request */
    char fallback_reason[96];   /* why io_uring was not used, "" when it was or not tried */
    enum io_direct_mode direct; /* AUTO, OFF or ON (DEFAULT resolved) */
    bool have_cachestat;        /* cleared when cachestat(2) says ENOSYS */
    /* Owner thread only. */
    unsigned pending;
    struct io_req *done_head, *done_tail;
    struct io_req *free_reqs;
    struct io_file *files;
};

/* The next read of request `q` at request byte `at`, with `len` (> 0) bytes left to read in
 * this op: sets *direct (read with f->dfd) and returns the bytes this read should cover, 1..len.
 * O_DIRECT takes only spans whose file offset, length and slot address are aligned; a head up
 * to the next aligned offset and a tail under one block go through the page cache. Any thread
 * that owns `q`. Pure. */
size_t io_plan_read(const struct io_req *q, size_t at, size_t len, bool *direct);

/* Test hook: when nonzero, O_DIRECT alignment used for every file instead of what statx says
 * (a too-small value makes the kernel refuse reads, exercising the buffered retry). */
extern unsigned io_test_dio_align;

/* A backend hands back a finished request. Owner thread. */
void io_reader_finish(struct io_reader *r, struct io_req *req);

/* Backend constructors: 0 and r->impl set, or -errno (nothing to clean up). */
int io_uring_backend_init(struct io_reader *r, const struct io_reader_options *o);
int io_pread_backend_init(struct io_reader *r, const struct io_reader_options *o);

extern const struct io_backend io_uring_backend;
extern const struct io_backend io_pread_backend;

#endif
