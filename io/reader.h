/* The layer reader: reads (file, offset, length) into a buffer slot's raw area and reports one
 * completion per request. Two backends behind one interface:
 *  - io_uring: O_DIRECT reads go into registered buffers (READ_FIXED; each slot registered the
 *    first time it gets one), open files go into a registered file table, each request is cut into
 * large reads kept in flight together, and short reads are continued;
 *  - pread: worker threads doing pread(2), used when io_uring cannot be set up (ENOSYS, EPERM
 *    under seccomp, kernel.io_uring_disabled) or when forced.
 * Both read either through the page cache (the kernel copies cached pages into the slot) or with
 * O_DIRECT (the device writes into the slot; no copy, no cache). By default O_DIRECT is used for
 * the requests whose range the page cache does not hold (cachestat(2)); see io_direct_mode.
 * Spans O_DIRECT cannot take (an offset or length off the device's block size, the file's last
 * partial block) are read through the cache, and a file system that refuses O_DIRECT gets
 * buffered reads only.
 *
 * Files are opened through the reader, which records size, mtime, ctime, inode and device. When a
 * request reaching the end of the file (offset + length == size) completes, the reader re-checks
 * them with fstat on the descriptor and stat on the path (catching a replaced file); a read
 * meeting end-of-file early means the file shrank. Either way the request fails with -ESTALE,
 * mapped to ECRUP_E_FILE_CHANGED by io_status_from_errno().
 *
 * Threads: a reader has one owner thread at a time (a reader thread or the engine's loop):
 * open, close, submit, poll and wait are called only from it. io_reader_fd() is readable when
 * completions may be waiting, so the owner can sleep on it next to its other descriptors
 * (curl_multi_poll's extra fds, epoll). The pread backend's workers never call back into the
 * owner; io_uring has no threads of its own here. Completions come back in any order.
 * Inside io/ errors are negative errno.
 */
#ifndef ECRUP_IO_READER_H
#define ECRUP_IO_READER_H

#include <ecrup.h>

#include <stddef.h>
#include <stdint.h>

#include "io/bufpool.h"

/* Defaults for io_reader_options. */
#define IO_READER_DEFAULT_QUEUE_DEPTH       32u        /* reads in flight (io_uring) */
#define IO_READER_DEFAULT_READ_SIZE         (1u << 20) /* bytes per read op (io_uring) */
#define IO_READER_DEFAULT_FILE_DEPTH        4u         /* read ops in flight per file (io_uring) */
#define IO_READER_DEFAULT_DIRECT_FILE_DEPTH 16u        /* the same for O_DIRECT reads (io_uring) */
#define IO_READER_DEFAULT_THREADS           2u         /* workers (pread) */
#define IO_READER_DEFAULT_FILE_SLOTS        256u       /* registered file table (io_uring) */

/* How requests are read. */
enum io_direct_mode {
    IO_DIRECT_DEFAULT = 0, /* ECRUP_IO_DIRECT ("auto", "on", "off") from the environment, else
                              IO_DIRECT_AUTO */
    IO_DIRECT_AUTO = 1,    /* per request: O_DIRECT when the page cache holds less than half of
                              the range and none of it is dirty, else buffered; buffered where
                              cachestat(2) is missing (kernels before 6.5) */
    IO_DIRECT_OFF = 2,     /* always through the page cache */
    IO_DIRECT_ON = 3,      /* O_DIRECT wherever the file system takes it, cached or not */
};

struct io_reader_options {
    ecrup_io_backend backend;   /* ECRUP_IO_AUTO (0): the environment variable ECRUP_IO_BACKEND
                                   ("uring", "io_uring", "pread", "auto"), else io_uring when it
                                   can be set up, else pread. URING or PREAD force that backend. */
    unsigned queue_depth;       /* io_uring: read ops in flight at once; 0: 32 */
    unsigned file_depth;        /* io_uring: read ops in flight per file through the page cache
                                   (more defeat the kernel's readahead); 0: 4 */
    unsigned direct_file_depth; /* io_uring: the same for O_DIRECT reads, which have no
                                   readahead and need more in flight to keep the device busy;
                                   0: 16 */
    size_t read_size;           /* io_uring: bytes per read op, rounded up to 64 KiB; 0: 1 MiB */
    unsigned threads;           /* pread: worker threads; 0: 2 */
    unsigned file_slots;        /* io_uring: registered file table size (files beyond it use plain
                                   descriptors; a file read with O_DIRECT takes two); 0: 256 */
    enum io_direct_mode direct; /* see io_direct_mode; 0: environment, else auto */
    int plain_buffers;          /* io_uring: 1 reads into unregistered memory (plain READ)
                                   always, for comparison; 0: a slot's raw area is registered the
                                   first time it gets an O_DIRECT read, which then use READ_FIXED
                                   (buffered reads use plain READ: measured cheaper) */
};

/* One finished request. */
struct io_completion {
    void *user; /* as given to io_reader_submit */
    struct io_file *file;
    struct io_slot *slot; /* still held by the caller; the reader is done with it */
    uint64_t offset;
    size_t length;       /* requested */
    size_t bytes;        /* bytes now in slot->raw: == length on success */
    size_t direct_bytes; /* of those, how many came with O_DIRECT (the rest via the page cache) */
    int error;           /* 0, or negative errno: -ESTALE the file changed, -EIO, ... */
};

struct io_reader;
struct io_file;

/* Create a reader over `pool` (borrowed: it must outlive the reader). Returns 0; -EINVAL for a
 * bad ECRUP_IO_BACKEND or ECRUP_IO_DIRECT value or direct mode; when
 * io_uring is forced and cannot be set up, the error that stopped it (-ENOSYS, -EPERM, ...);
 * -ENOMEM; another -errno. The calling thread becomes the owner. */
int io_reader_new(const struct io_reader_options *options, struct io_bufpool *pool,
                  struct io_reader **reader);

/* Free the reader. Waits for reads the kernel or a worker still performs (they write into pool
 * memory) and drops their completions; files still open are closed. The slots of dropped
 * requests stay held by whoever held them. NULL does nothing. Owner thread. */
void io_reader_free(struct io_reader *reader);

/* ECRUP_IO_URING or ECRUP_IO_PREAD: the backend actually running. Any thread. */
ecrup_io_backend io_reader_backend(const struct io_reader *reader);
/* "io_uring" or "pread". Static storage. Any thread. */
const char *io_reader_backend_name(const struct io_reader *reader);
/* One line for verbose output, e.g. "io_uring: 32 reads in flight of 1 MiB, registered buffers,
 * registered files" or "pread: 2 threads (io_uring unavailable: Operation not permitted)".
 * Returns `buf`. Any thread. */
const char *io_reader_describe(const struct io_reader *reader, char *buf, size_t cap);

/* Descriptor that is readable when completions may be waiting; io_reader_poll() resets it.
 * Owned by the reader. */
int io_reader_fd(const struct io_reader *reader);

/* Open `path` for reading (the path is copied). Unless the direct mode is off, the path is also
 * opened with O_DIRECT (a second descriptor, used only when it names the same inode); a refusal
 * just leaves the file buffered. Returns 0, -ENOENT, -EACCES, -EISDIR for a directory, -EINVAL
 * for anything but a regular file, or another -errno from open/fstat. Owner thread. */
int io_reader_open(struct io_reader *reader, const char *path, struct io_file **file);

/* Close a file. -EBUSY (and nothing done) while requests on it are in flight. NULL: 0. Owner. */
int io_reader_close(struct io_reader *reader, struct io_file *file);

/* The file's size at open. Any thread. */
uint64_t io_file_size(const struct io_file *file);
/* The path as given to io_reader_open. Lives as long as the file. Any thread. */
const char *io_file_path(const struct io_file *file);

/* Re-check the file now: 0 when size, mtime, ctime, inode and device match what open saw, both
 * through the descriptor and through the path; -ESTALE otherwise (also when the path is gone);
 * another -errno when fstat fails. The reader does this itself after a request that reaches the end
 * of the file; this is for callers that want to check at other times. Any thread. */
int io_file_check(const struct io_file *file);

/* Ask for bytes [offset, offset + length) of `file` to be read into slot->raw[0..length).
 * `slot` must be held by the caller, from the reader's pool, and not in another request; the
 * range must lie within the size seen at open and length <= slot->raw_cap (-EINVAL otherwise).
 * length 0 is allowed (a zero-length file): it completes at once and still checks the file.
 * The read starts before this returns; its completion comes from poll/wait. Owner thread. */
int io_reader_submit(struct io_reader *reader, struct io_file *file, uint64_t offset, size_t length,
                     struct io_slot *slot, void *user);

/* Collect up to `max` finished requests without blocking. Returns how many (0 when none).
 * Also continues short reads and issues queued ones. Owner thread. */
int io_reader_poll(struct io_reader *reader, struct io_completion *out, unsigned max);

/* As io_reader_poll, but waits up to timeout_ms (< 0: without limit) for at least one. Returns
 * the count, 0 on timeout or when nothing is in flight, -errno if poll(2) fails. Owner thread. */
int io_reader_wait(struct io_reader *reader, struct io_completion *out, unsigned max,
                   int timeout_ms);

/* Requests submitted and not yet returned by poll/wait. Owner thread. */
unsigned io_reader_pending(const struct io_reader *reader);

/* Map an io/ negative errno to the public status: -ESTALE -> ECRUP_E_FILE_CHANGED, -ENOENT ->
 * ECRUP_E_NOT_FOUND, -ENOMEM -> ECRUP_E_NOMEM, -EINVAL -> ECRUP_E_INVALID_ARGUMENT, -ENOSYS /
 * -EOPNOTSUPP -> ECRUP_E_UNSUPPORTED, -ECANCELED -> ECRUP_E_CANCELLED, 0 -> ECRUP_OK, any
 * other -> ECRUP_E_IO. Pure. */
ecrup_status io_status_from_errno(int err);

/* A message naming the file, e.g. "layer file /x/y changed while it was being read (size, mtime,
 * ctime or inode differ)". Writes at most cap bytes, NUL-terminated; returns `buf`. Pure. */
const char *io_error_message(int err, const char *path, char *buf, size_t cap);

/* Pages of [off, off + len) of `fd` in the page cache, and of those dirty or under writeback
 * (cachestat(2), Linux 6.5; len 0 means to the end of the file). Returns 0, or -ENOSYS on
 * older kernels, -EPERM under a seccomp filter, another -errno. Any thread. */
int io_cache_pages(int fd, uint64_t off, uint64_t len, uint64_t *cached, uint64_t *dirty);

#endif
