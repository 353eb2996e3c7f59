/* A bounded pool of part buffers: the engine's backpressure. Peak memory is the pool, never the
 * layer: when every slot is taken, whoever wants one is told -EAGAIN and tries again once a slot
 * comes back.
 *
 * Each slot holds one part's raw bytes (`raw`, filled by io/reader; the request body is written
 * from them as it is sent, never held). Slots are page-aligned and carved from one anonymous
 * mapping made at creation; nothing is allocated afterwards. The
 * mapping is reserved, not touched: a slot's pages cost memory (and zeroing) only once the slot
 * is first used, and the LIFO free list keeps reusing the same few slots, so a small job on a
 * large limit pays for what it uses.
 *
 * Threads: io_bufpool_new/io_bufpool_free belong to one owner thread (nothing else may use the
 * pool during them). Everything else (acquire, release, shutdown, available, slot lookup) is
 * safe from any thread. A slot belongs to whoever acquired it until it is released; its
 * contents are never touched by the pool. Errors are negative errno.
 */
#ifndef ECRUP_IO_BUFPOOL_H
#define ECRUP_IO_BUFPOOL_H

#include <stddef.h>
#include <stdint.h>

/* More slots than io_uring can register as fixed buffers would be useless anyway. */
#define IO_BUFPOOL_MAX_SLOTS 4096u

/* Defaults for io_bufpool_options. */
#define IO_BUFPOOL_DEFAULT_MEMORY_LIMIT (512ull << 20)

struct io_bufpool_options {
    size_t part_size;      /* raw bytes per slot (the largest part); required, > 0 */
    uint64_t memory_limit; /* bytes for all slots together; 0: 512 MiB */
    unsigned slots;        /* exact slot count, overriding memory_limit; 0: from the limit */
};

/* One buffer slot. The geometry fields are fixed; `raw_len` and `user` are the holder's to use
 * as it likes while it holds the slot. */
struct io_slot {
    unsigned index;     /* 0..count-1; also the io_uring fixed-buffer index */
    unsigned char *raw; /* page-aligned, raw_cap bytes */
    size_t raw_cap;     /* == options.part_size */
    size_t raw_len;     /* holder's: bytes of raw in use */
    void *user;         /* holder's */
};

struct io_bufpool;

/* Bytes one slot costs: part_size rounded up to whole pages; 0 when that overflows. */
size_t io_bufpool_slot_bytes(size_t part_size);

/* How many slots fit in `memory_limit` (0: the default limit), capped at IO_BUFPOOL_MAX_SLOTS.
 * 0 when not even one fits or part_size is 0. Pure. */
unsigned io_bufpool_slots_for(uint64_t memory_limit, size_t part_size);

/* Create a pool. Returns 0, -EINVAL (part_size 0, or the limit holds no slot, or `slots` over
 * IO_BUFPOOL_MAX_SLOTS), -ENOMEM, or another -errno from mmap or pthread_mutex_init. */
int io_bufpool_new(const struct io_bufpool_options *options, struct io_bufpool **pool);

/* Free the pool and its memory. NULL does nothing. Every slot must have been released and no
 * reader may still have the raw areas registered (free the reader first). */
void io_bufpool_free(struct io_bufpool *pool);

/* Take a free slot without waiting. Returns 0 and sets *slot, -EAGAIN when none is free, or
 * -ECANCELED after io_bufpool_shutdown() (*slot NULL for both). The most recently released slot
 * is handed out first (its pages are warm). Any thread. */
int io_bufpool_acquire(struct io_bufpool *pool, struct io_slot **slot);

/* Hand a slot back (raw_len and user are cleared). The slot must have come from this
 * pool and be held. Any thread. */
void io_bufpool_release(struct io_bufpool *pool, struct io_slot *slot);

/* Make every later acquire return -ECANCELED (engine cancel). Release still works. Any
 * thread. */
void io_bufpool_shutdown(struct io_bufpool *pool);

/* A snapshot of the free slot count. Any thread. */
unsigned io_bufpool_available(struct io_bufpool *pool);

/* Slot count, fixed at creation. Any thread. */
unsigned io_bufpool_count(const struct io_bufpool *pool);

/* Slot `index` (held or not), or NULL when out of range. For a reader registering the raw
 * areas; do not write into a slot you do not hold. Any thread. */
struct io_slot *io_bufpool_slot(struct io_bufpool *pool, unsigned index);

/* A reader registered slot `index` with the kernel (io_uring fixed buffers pin its pages):
 * trimming leaves it alone, since returning pages the kernel still writes into would lose
 * what it reads next. Any thread. */
void io_bufpool_mark_pinned(struct io_bufpool *pool, unsigned index);
/* The job will read no more parts (a rewind may still, rarely): give the pages of every free
 * slot back to the system now (MADV_DONTNEED), and of every slot released from now on, so
 * the run's tail returns the memory while it waits for the network instead of all at once in
 * io_bufpool_free (300 MiB: ~50 ms of munmap). A slot acquired afterwards works as before,
 * its pages zeroed again on first touch. Pinned slots keep theirs. Any thread, one call at a time.
 */
void io_bufpool_trim(struct io_bufpool *pool);

#endif
