/* The whole-file hash pass: a layer's SHA-256 read from its file on a worker thread, for the
 * check before (or beside) its upload, and again at the end when a rewind left the running
 * hash of the parts behind. The pass re-checks the file's identity when it ends: a file that
 * changed under it gives -ESTALE, not a digest of bytes from two versions.
 *
 * Two passes queued together run as a pair: their blocks go through the SHA-NI loop as two
 * lanes (about 3/4 of the CPU of two passes; docs/payload.md).
 *
 * A pass runs in slices of HASH_SLICE bytes per file, each a background task that queues the
 * next: a whole file in one task held a worker for as long as it took (a quarter of a second
 * for 256 MiB pairs), and the parts waiting to be prepared, the engine's critical path, waited
 * with it. Between slices the urgent tasks go first.
 *
 * Ownership and threads: the task belongs to its owner (the engine thread) except from
 * workers_submit() until `done` runs on the worker; everything the owner set before the
 * submit is read-only meanwhile, and the borrowed pointers must stay valid. */
#ifndef ECRUP_ENGINE_HASH_PASS_H
#define ECRUP_ENGINE_HASH_PASS_H

#include <stdatomic.h>
#include <stdint.h>

#include "engine/sha256.h"
#include "engine/workers.h"
#include "util/fileid.h"

/* Bytes of each file a slice hashes before the task queues itself again. */
#define HASH_SLICE (4u << 20)

struct hash_task {
    struct worker_task w; /* set by hash_task_init */
    /* Set by the owner before each submit: */
    struct workers *workers;  /* borrowed: where the next slice is queued; NULL: the whole
                                 pass in one run (tests and tools that run it themselves) */
    int fd;                   /* read with pread; stays open until `done` has run */
    uint64_t base, size;      /* the bytes to hash: [base, base + size) of the file */
    const char *path;         /* borrowed: the path the identity is checked through */
    const struct file_id *id; /* borrowed: the identity the file must still have at the end */
    atomic_bool *cancelled;   /* borrowed: polled between reads; set, the pass stops */
    /* NULL: a pass, which ends with the range's digest in `hex`. Else a piece of a digest kept
     * elsewhere: the range is added to this stream (the owner's; nothing else may touch it
     * until `done`), in one run, with no digest and no identity check. */
    struct sha256_stream *into;
    /* Runs on the worker thread when the pass has ended; the task is the owner's again once
     * it has been handed back (it usually posts an event to the owner). */
    void (*done)(struct hash_task *t);
    void *user;
    /* Written by the worker before `done`: */
    int err;      /* 0, or negative errno: -ESTALE when the file changed or is shorter,
                     -ECANCELED, -ENOMEM, or what pread said */
    char hex[65]; /* the digest as lowercase hex when err is 0 */
    /* The pass between slices (worker-side; zeroed by hash_task_start). */
    struct {
        struct sha256_stream md;
        unsigned char *buf;
        uint64_t off;
        bool started;
    } pass;
};

/* Queue a pass of `t` (its inputs set) on t->workers: a background task, or with the urgent
 * ones (workers_submit) when something waits for it. */
void hash_task_start(struct hash_task *t, bool urgent);

/* Make `t` a task for workers_submit() that calls `done` when it ends; pairs only where the
 * two-lane loop runs (sha256_native()). The other inputs are set before each submit. */
void hash_task_init(struct hash_task *t, void (*done)(struct hash_task *t), void *user);

#endif
