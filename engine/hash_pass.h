/* The whole-file hash pass: a layer's SHA-256 read from its file on a worker thread, for the
 * check before (or beside) its upload, and again at the end when a rewind left the running
 * hash of the parts behind. The pass re-checks the file's identity when it ends: a file that
 * changed under it gives -ESTALE, not a digest of bytes from two versions.
 *
 * Two passes queued together run as a pair: their blocks go through the SHA-NI loop as two
 * lanes (about 3/4 of the CPU of two passes; docs/payload.md).
 *
 * Ownership and threads: the task belongs to its owner (the engine thread) except from
 * workers_submit() until `done` runs on the worker; everything the owner set before the
 * submit is read-only meanwhile, and the borrowed pointers must stay valid. */
#ifndef ECRUP_ENGINE_HASH_PASS_H
#define ECRUP_ENGINE_HASH_PASS_H

#include <stdatomic.h>
#include <stdint.h>

#include "engine/workers.h"
#include "util/fileid.h"

struct hash_task {
    struct worker_task w; /* set by hash_task_init */
    /* Set by the owner before each submit: */
    int fd;                   /* read with pread; stays open until `done` has run */
    uint64_t base, size;      /* the bytes to hash: [base, base + size) of the file */
    const char *path;         /* borrowed: the path the identity is checked through */
    const struct file_id *id; /* borrowed: the identity the file must still have at the end */
    atomic_bool *cancelled;   /* borrowed: polled between reads; set, the pass stops */
    /* Runs on the worker thread when the pass has ended; the task is the owner's again once
     * it has been handed back (it usually posts an event to the owner). */
    void (*done)(struct hash_task *t);
    void *user;
    /* Written by the worker before `done`: */
    int err;      /* 0, or negative errno: -ESTALE when the file changed or is shorter,
                     -ECANCELED, -ENOMEM, or what pread said */
    char hex[65]; /* the digest as lowercase hex when err is 0 */
};

/* Make `t` a task for workers_submit() that calls `done` when it ends; pairs only where the
 * two-lane loop runs (sha256_native()). The other inputs are set before each submit. */
void hash_task_init(struct hash_task *t, void (*done)(struct hash_task *t), void *user);

#endif
