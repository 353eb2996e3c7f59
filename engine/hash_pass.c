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
 * 1 MiB (two hash threads on 2 cores; docs/engine.md). */
#define HASH_CHUNK (128u << 10)

/* One file of a hash pass: read in L2-sized pieces into a page-aligned buffer (the kernel's
 * copy into malloc's 16-byte-aligned block cost four times as much). */
struct file_hash {
    struct hash_task *t;
    struct sha256_stream md; /* zeroed first, so freeing it is safe whatever init did */
    unsigned char *buf;
    uint64_t off;
    size_t have; /* bytes in buf from the last read */
};

static void fh_read(struct file_hash *f)
{
    struct hash_task *t = f->t;
    f->have = 0;
    while (!t->err && f->off < t->size) {
        size_t want = t->size - f->off < HASH_CHUNK ? (size_t)(t->size - f->off) : HASH_CHUNK;
        ssize_t n = pread(t->fd, f->buf, want, (off_t)(t->base + f->off));
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            t->err = -errno;
        else if (n == 0)
            t->err = -ESTALE; /* shorter than at admission */
        else
            f->have = (size_t)n;
        return;
    }
}

static void fh_update(struct file_hash *f, const unsigned char *p, size_t n)
{
    if (!f->t->err && sha256_stream_update(&f->md, p, n) != 0)
        f->t->err = -ENOMEM;
}

/* Worker thread: hash whole files, one or two side by side. Two go through the SHA-NI loop as
 * two lanes while both have whole blocks; the rest of each piece, and everything on the
 * OpenSSL path, through the stream's update. */
static void hash_files(struct hash_task **tasks, int n)
{
    struct file_hash f[2];
    memset(f, 0, sizeof f);
    for (int i = 0; i < n; i++) {
        struct hash_task *t = f[i].t = tasks[i];
        t->err = 0;
        f[i].buf = aligned_alloc(4096, HASH_CHUNK);
        if (!f[i].buf || sha256_stream_init(&f[i].md, sha256_native()) != 0)
            t->err = -ENOMEM;
        /* A doubled readahead window for a range read once from start to end, where it is not
         * in the page cache yet; a hint, so its failure changes nothing. */
        (void)posix_fadvise(t->fd, (off_t)t->base, (off_t)t->size, POSIX_FADV_SEQUENTIAL);
    }
    for (;;) {
        bool any = false;
        for (int i = 0; i < n; i++) {
            struct hash_task *t = f[i].t;
            if (!t->err && atomic_load_explicit(t->cancelled, memory_order_relaxed))
                t->err = -ECANCELED;
            fh_read(&f[i]);
            any |= f[i].have > 0;
        }
        if (!any)
            break;
        size_t both = 0;
        if (n == 2)
            both = sha256_stream_update_pair(&f[0].md, f[0].buf, f[0].have, &f[1].md, f[1].buf,
                                             f[1].have);
        for (int i = 0; i < n; i++) {
            fh_update(&f[i], f[i].buf + both, f[i].have - both);
            f[i].off += f[i].have;
        }
    }
    for (int i = 0; i < n; i++) {
        struct hash_task *t = f[i].t;
        if (!t->err && file_id_check(t->id, t->fd, t->path) != 0)
            t->err = -ESTALE;
        unsigned char d[32];
        if (!t->err && sha256_stream_final(&f[i].md, d) != 0)
            t->err = -ENOMEM;
        if (!t->err)
            hex_encode(d, 32, t->hex);
        sha256_stream_free(&f[i].md);
        free(f[i].buf);
    }
    for (int i = 0; i < n; i++)
        tasks[i]->done(tasks[i]);
}

/* Worker thread. */
static void hash_run(struct worker_task *w)
{
    struct hash_task *t = (struct hash_task *)w;
    hash_files(&t, 1);
}

/* Worker thread. */
static void hash_run_pair(struct worker_task *a, struct worker_task *b)
{
    struct hash_task *t[2] = {(struct hash_task *)a, (struct hash_task *)b};
    hash_files(t, 2);
}

void hash_task_init(struct hash_task *t, void (*done)(struct hash_task *t), void *user)
{
    *t = (struct hash_task){.w.run = hash_run,
                            .w.run_pair = sha256_native() ? hash_run_pair : NULL,
                            .fd = -1,
                            .done = done,
                            .user = user};
}
