/* The whole-file hash pass (hash_pass.h): runs on a worker thread. */
#include "engine/hash_pass.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "engine/sha256.h"
#include "util/hex.h"

/* The hash pass reads through one page-aligned buffer small enough to stay in L2 (512 KiB
 * per core on the development machine). The alignment is what matters most: the kernel's
 * copy out of the page cache into a buffer 16 bytes off a 64-byte line (where glibc's malloc
 * puts a block it maps) cost 0.60 CPU-s/GB against 0.14 aligned, for any size from 64 KiB to
 * 1 MiB (two hash threads on 2 cores; docs/engine.md). A slice is a whole number of them. */
#define HASH_CHUNK (128u << 10)

static void fh_read(struct hash_task *t, size_t *have)
{
    *have = 0;
    while (!t->err && t->pass.off < t->size) {
        uint64_t left = t->size - t->pass.off;
        size_t want = left < HASH_CHUNK ? (size_t)left : HASH_CHUNK;
        ssize_t n = pread(t->fd, t->pass.buf, want, (off_t)(t->base + t->pass.off));
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            t->err = -errno;
        else if (n == 0)
            t->err = -ESTALE; /* shorter than at admission */
        else
            *have = (size_t)n;
        return;
    }
}

/* The stream the task feeds. */
static struct sha256_stream *md_of(struct hash_task *t)
{
    return t->into ? t->into : &t->pass.md;
}

static void fh_update(struct hash_task *t, const unsigned char *p, size_t n)
{
    if (!t->err && sha256_stream_update(md_of(t), p, n) != 0)
        t->err = -ENOMEM;
}

/* The first slice: buffer, stream, readahead hint. */
static void pass_begin(struct hash_task *t)
{
    t->pass.started = true;
    t->err = 0;
    /* The kernel's copy out of the page cache into malloc's 16-byte-aligned block cost four
     * times as much as into a page-aligned one. */
    t->pass.buf = aligned_alloc(4096, HASH_CHUNK);
    if (!t->pass.buf || (!t->into && sha256_stream_init(&t->pass.md, sha256_native()) != 0))
        t->err = -ENOMEM;
    /* A doubled readahead window for a range read once from start to end, where it is not in
     * the page cache yet; a hint, so its failure changes nothing. */
    (void)posix_fadvise(t->fd, (off_t)t->base, (off_t)t->size, POSIX_FADV_SEQUENTIAL);
}

/* The pass is over (finished, failed or cancelled): the digest, then the owner's callback. */
static void pass_end(struct hash_task *t)
{
    if (t->into) {
        free(t->pass.buf);
        t->pass.buf = NULL;
        t->done(t);
        return;
    }
    if (!t->err && file_id_check(t->id, t->fd, t->path) != 0)
        t->err = -ESTALE;
    unsigned char d[32];
    if (!t->err && sha256_stream_final(&t->pass.md, d) != 0)
        t->err = -ENOMEM;
    if (!t->err)
        hex_encode(d, 32, t->hex);
    sha256_stream_free(&t->pass.md);
    free(t->pass.buf);
    t->pass.buf = NULL;
    t->done(t);
}

/* Worker thread: one slice of one or two passes side by side. Two go through the SHA-NI loop
 * as two lanes while both have whole blocks; the rest of each piece, and everything on the
 * OpenSSL path, through the stream's update. Each pass then ends or queues its next slice. */
static void hash_slice(struct hash_task **tasks, int n)
{
    uint64_t until[2];
    for (int i = 0; i < n; i++) {
        struct hash_task *t = tasks[i];
        if (!t->pass.started)
            pass_begin(t);
        until[i] = t->workers && !t->into ? t->pass.off + HASH_SLICE : UINT64_MAX;
    }
    for (;;) {
        size_t have[2] = {0, 0};
        bool any = false;
        for (int i = 0; i < n; i++) {
            struct hash_task *t = tasks[i];
            if (!t->err && atomic_load_explicit(t->cancelled, memory_order_relaxed))
                t->err = -ECANCELED;
            if (t->pass.off < until[i])
                fh_read(t, &have[i]);
            any |= have[i] > 0;
        }
        if (!any)
            break;
        size_t both = 0;
        if (n == 2)
            both = sha256_stream_update_pair(md_of(tasks[0]), tasks[0]->pass.buf, have[0],
                                             md_of(tasks[1]), tasks[1]->pass.buf, have[1]);
        for (int i = 0; i < n; i++) {
            fh_update(tasks[i], tasks[i]->pass.buf + both, have[i] - both);
            tasks[i]->pass.off += have[i];
        }
    }
    for (int i = 0; i < n; i++) {
        struct hash_task *t = tasks[i];
        if (t->err || t->pass.off >= t->size)
            pass_end(t);
        else
            workers_submit(t->workers, &t->w, false);
    }
}

/* Worker thread. */
static void hash_run(struct worker_task *w)
{
    struct hash_task *t = (struct hash_task *)w;
    hash_slice(&t, 1);
}

/* Worker thread. */
static void hash_run_pair(struct worker_task *a, struct worker_task *b)
{
    struct hash_task *t[2] = {(struct hash_task *)a, (struct hash_task *)b};
    hash_slice(t, 2);
}

void hash_task_start(struct hash_task *t, bool urgent)
{
    memset(&t->pass, 0, sizeof t->pass);
    workers_submit(t->workers, &t->w, urgent);
}

void hash_task_init(struct hash_task *t, void (*done)(struct hash_task *t), void *user)
{
    *t = (struct hash_task){.w.run = hash_run,
                            .w.run_pair = sha256_native() ? hash_run_pair : NULL,
                            .fd = -1,
                            .done = done,
                            .user = user};
}
