/* A tar archive read forward from a pipe or a file, gzip or not. See cli/tar_stream.h. */
#include "cli/tar_stream.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

/* The size of each buffer: the input's, and for gzip the inflated tar's. */
#define IN_CAP (1u << 20)
/* A read this large with nothing buffered goes straight into the caller's buffer: copying it
 * through ours would cost a second pass over the bytes. */
#define DIRECT_MIN (64u << 10)
/* Read after the end blocks: a tar record's padding and a gzip member's trailer fit. */
#define DRAIN_MAX (1u << 20)
/* The longest magic number looked for (bzip2's, with its first block's). */
#define MAGIC_LEN 10

/* One owner at a time (see the header); only the two counters are read by other threads. */
struct tar_stream {
    int fd;
    char *name; /* for messages: the file, or "standard input" */
    bool gzip;
    bool eof;        /* read(2) said end of file */
    bool member_end; /* inflate finished a gzip member: another may follow */
    bool cut;        /* the input ended inside a gzip member */
    bool ended;      /* the end blocks were read: a gzip member's end is the end */
    bool failed;
    z_stream z;
    unsigned char *in; /* what read(2) gave, [in_pos, in_len) not yet used */
    size_t in_pos, in_len;
    unsigned char *out; /* gzip only: inflated tar bytes, [out_pos, out_len) not yet used */
    size_t out_pos, out_len;
    _Atomic uint64_t input_offset; /* bytes read(2) gave */
    _Atomic uint64_t offset;       /* tar bytes passed on */
    struct tar_names pending;      /* what extended headers said of the next member */
    uint64_t pending_size;         /* a pax `size` record's (UINT64_MAX: none) */
    char *member, *link;           /* the current (or last) member */
    uint64_t size, left, pad;      /* its data size, data not yet read, padding after it */
};

static void count(_Atomic uint64_t *c, uint64_t n)
{
    /* one writer: a relaxed load and store, so other threads see whole values */
    atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + n,
                          memory_order_relaxed);
}

static ptrdiff_t read_fd(struct tar_stream *ts, void *buf, size_t len, struct ebuf *err)
{
    if (ts->eof)
        return 0;
    for (;;) {
        ssize_t n = read(ts->fd, buf, len);
        if (n > 0) {
            count(&ts->input_offset, (uint64_t)n);
            return n;
        }
        if (n == 0) {
            ts->eof = true;
            return 0;
        }
        if (errno == EAGAIN || errno == EWOULDBLOCK) {
            /* a non-blocking descriptor (a shell may leave stdin so): wait for it */
            struct pollfd p = {.fd = ts->fd, .events = POLLIN};
            (void)poll(&p, 1, -1);
        } else if (errno != EINTR) {
            ebuf_printf(err, "%s: read error after byte %" PRIu64 " of the input: %s", ts->name,
                        atomic_load_explicit(&ts->input_offset, memory_order_relaxed),
                        strerror(errno));
            return -1;
        }
    }
}

static ptrdiff_t refill_in(struct tar_stream *ts, struct ebuf *err)
{
    ptrdiff_t n = read_fd(ts, ts->in, IN_CAP, err);
    ts->in_pos = 0;
    ts->in_len = n > 0 ? (size_t)n : 0;
    return n;
}

/* Inflate up to `cap` tar bytes into `dst`. Returns the count, 0 at the end of the input (with
 * ts->cut set when it ended inside a gzip member), -1 on a gzip data error. */
static ptrdiff_t inflate_into(struct tar_stream *ts, unsigned char *dst, size_t cap,
                              struct ebuf *err)
{
    if (cap > (1u << 30))
        cap = 1u << 30;
    for (;;) {
        if (ts->member_end) {
            if (ts->in_pos == ts->in_len) {
                ptrdiff_t n = refill_in(ts, err);
                if (n <= 0)
                    return n; /* the input ends with a whole member */
            }
            inflateReset(&ts->z);
            ts->member_end = false;
        }
        if (ts->in_pos == ts->in_len) {
            ptrdiff_t n = refill_in(ts, err);
            if (n < 0)
                return -1;
            if (n == 0) {
                ts->cut = true;
                return 0;
            }
        }
        ts->z.next_in = ts->in + ts->in_pos;
        ts->z.avail_in = (uInt)(ts->in_len - ts->in_pos);
        ts->z.next_out = dst;
        ts->z.avail_out = (uInt)cap;
        int zr = inflate(&ts->z, Z_NO_FLUSH);
        ts->in_pos = ts->in_len - ts->z.avail_in;
        size_t got = cap - ts->z.avail_out;
        if (zr == Z_STREAM_END) {
            ts->member_end = true;
        } else if (zr != Z_OK && zr != Z_BUF_ERROR) {
            if (ts->ended && ts->z.total_out == 0)
                return 0; /* not a gzip member after the archive's: garbage, ignored */
            uint64_t at = atomic_load_explicit(&ts->input_offset, memory_order_relaxed) -
                          (ts->in_len - ts->in_pos);
            ebuf_printf(err,
                        "%s: gzip data error at tar byte %" PRIu64 " (byte %" PRIu64
                        " of the compressed input): %s",
                        ts->name, atomic_load_explicit(&ts->offset, memory_order_relaxed) + got, at,
                        zr == Z_MEM_ERROR ? "out of memory"
                        : ts->z.msg       ? ts->z.msg
                                          : "bad data");
            return -1;
        }
        if (got)
            return (ptrdiff_t)got;
    }
}

/* Up to `len` tar bytes into `dst` (NULL: skip them). Returns the count, 0 at the end of the
 * input, -1 with a message. */
static ptrdiff_t take(struct tar_stream *ts, unsigned char *dst, size_t len, struct ebuf *err)
{
    /* the tar bytes at hand: what read(2) gave, or what inflate made of it */
    unsigned char *buf = ts->gzip ? ts->out : ts->in;
    size_t *pos = ts->gzip ? &ts->out_pos : &ts->in_pos,
           *end = ts->gzip ? &ts->out_len : &ts->in_len;
    if (*pos == *end) {
        bool direct = dst && len >= DIRECT_MIN;
        unsigned char *to = direct ? dst : buf;
        size_t cap = !direct ? IN_CAP : len < (1u << 30) ? len : 1u << 30;
        ptrdiff_t n = ts->gzip ? inflate_into(ts, to, cap, err) : read_fd(ts, to, cap, err);
        if (n <= 0)
            return n;
        if (direct) {
            count(&ts->offset, (uint64_t)n);
            return n;
        }
        *pos = 0;
        *end = (size_t)n;
    }
    size_t n = len < *end - *pos ? len : *end - *pos;
    if (dst)
        memcpy(dst, buf + *pos, n);
    *pos += n;
    count(&ts->offset, n);
    return (ptrdiff_t)n;
}

/* `len` tar bytes into `dst` (NULL: skip them). Returns how many there were (fewer: the input
 * ended), -1 with a message. */
static int64_t take_all(struct tar_stream *ts, unsigned char *dst, uint64_t len, struct ebuf *err)
{
    uint64_t got = 0;
    while (got < len) {
        uint64_t want = len - got;
        ptrdiff_t n =
            take(ts, dst ? dst + got : NULL, want > SIZE_MAX ? SIZE_MAX : (size_t)want, err);
        if (n < 0)
            return -1;
        if (n == 0)
            break;
        got += (uint64_t)n;
    }
    return (int64_t)got;
}

static const char *cut_note(const struct tar_stream *ts)
{
    return ts->cut ? " (the gzip stream is cut short)" : "";
}

/* The input ended `where` ("inside a header") that starts at tar byte `at`. */
static void say_ended(const struct tar_stream *ts, const char *where, uint64_t at, struct ebuf *err)
{
    ebuf_printf(err, "%s ended %s at tar byte %" PRIu64, ts->name, where, at);
    if (ts->member)
        ebuf_printf(err, " (after member %s)", ts->member);
    ebuf_puts(err, cut_note(ts));
}

/* The input ended inside the current member's data. */
static void say_cut_member(const struct tar_stream *ts, struct ebuf *err)
{
    ebuf_printf(err, "%s ended inside member %s at byte %" PRIu64 " of %" PRIu64 "%s", ts->name,
                ts->member, ts->size - ts->left, ts->size, cut_note(ts));
}

/* Skip `len` bytes the input must hold, or say that it ended `where`. */
static int skip_or_say(struct tar_stream *ts, uint64_t len, const char *where, struct ebuf *err)
{
    uint64_t at = atomic_load_explicit(&ts->offset, memory_order_relaxed);
    int64_t got = take_all(ts, NULL, len, err);
    if (got < 0)
        return -1;
    if ((uint64_t)got < len) {
        say_ended(ts, where, at, err);
        return -1;
    }
    return 0;
}

/* Skip the rest of the current member's data and its padding. */
static int skip_member(struct tar_stream *ts, struct ebuf *err)
{
    if (ts->left) {
        int64_t got = take_all(ts, NULL, ts->left, err);
        if (got < 0)
            return -1;
        ts->left -= (uint64_t)got;
        if (ts->left) {
            say_cut_member(ts, err);
            return -1;
        }
    }
    uint64_t pad = ts->pad;
    ts->pad = 0;
    return skip_or_say(ts, pad, "inside the padding of a member", err);
}

/* After the end blocks: read what a writer still sends, so that a pipe's writer is not cut
 * off and a gzip member's checksum is checked; ignore the rest. */
static int finish(struct tar_stream *ts, struct ebuf *err)
{
    ts->ended = true;
    tar_names_clear(&ts->pending);
    ts->pending_size = UINT64_MAX;
    for (uint64_t drained = 0; drained < DRAIN_MAX;) {
        ptrdiff_t n = take(ts, NULL, DRAIN_MAX - drained, err);
        if (n < 0)
            return -1;
        if (n == 0)
            break;
        drained += (uint64_t)n;
    }
    if (ts->cut) {
        ebuf_printf(err, "%s: the gzip stream is cut short after the end of the archive", ts->name);
        return -1;
    }
    return 0;
}

/* The records of the extended header whose block is at tar byte `at`. */
static int read_extended(struct tar_stream *ts, const struct tar_header *th, uint64_t at,
                         struct ebuf *err)
{
    char *rec = malloc(th->size + 1);
    if (!rec) {
        ebuf_puts(err, "out of memory");
        return -1;
    }
    int64_t got = take_all(ts, (unsigned char *)rec, th->size, err);
    if (got >= 0 && (uint64_t)got < th->size)
        say_ended(ts, "inside an extended header", at, err);
    if (got < 0 || (uint64_t)got < th->size) {
        free(rec);
        return -1;
    }
    rec[th->size] = '\0';
    tar_names_apply(&ts->pending, th->type, rec, th->size);
    /* a member of 8 GiB or more has its size only here (Go's archive/tar, which docker save
     * uses, and tarfile write 0 in the header's field) */
    uint64_t size;
    if (th->type == TAR_PAX && tar_pax_size(rec, th->size, &size))
        ts->pending_size = size;
    free(rec);
    return skip_or_say(ts, th->padded - th->size, "inside the padding of an extended header", err);
}

static int next_member(struct tar_stream *ts, struct tar_stream_member *m, struct ebuf *err)
{
    if (skip_member(ts, err) != 0)
        return -1;
    for (;;) {
        uint64_t off = atomic_load_explicit(&ts->offset, memory_order_relaxed);
        unsigned char h[TAR_BLOCK];
        int64_t got = take_all(ts, h, TAR_BLOCK, err);
        if (got < 0)
            return -1;
        bool pending = ts->pending.name || ts->pending.link || ts->pending_size != UINT64_MAX;
        if (got == 0 && !ts->cut && !pending) {
            ts->ended = true; /* a tar without its end blocks: what is there is whole */
            return 0;
        }
        if (got < (int64_t)TAR_BLOCK) {
            say_ended(ts,
                      got == 0 && pending ? "before the member an extended header names"
                                          : "inside a header",
                      off, err);
            return -1;
        }
        struct tar_header th;
        int rc = tar_header_parse(h, ts->name, off, UINT64_MAX, &th, err);
        if (rc < 0)
            return -1;
        if (rc == 0)
            return finish(ts, err);
        if (!tar_type_extended(th.type) && ts->pending_size != UINT64_MAX) {
            uint64_t size = ts->pending_size;
            ts->pending_size = UINT64_MAX;
            /* a stream's length is unknown: its end is found by reading */
            if (tar_header_resize(&th, size, ts->name, off, UINT64_MAX, err) != 0)
                return -1;
        }
        if (tar_type_extended(th.type)) {
            if (read_extended(ts, &th, off, err) != 0)
                return -1;
            continue;
        }
        if (th.type == TAR_OTHER) {
            tar_names_clear(&ts->pending);
            if (skip_or_say(ts, th.padded, "inside the data of a directory or device entry", err) !=
                0)
                return -1;
            continue;
        }
        char *name, *link;
        if (tar_member_names(h, th.type, &ts->pending, &name, &link) != 0) {
            ebuf_puts(err, "out of memory");
            return -1;
        }
        free(ts->member);
        free(ts->link);
        ts->member = name;
        ts->link = link;
        /* a link's data (if a writer gave it any) is not the file's: it is skipped */
        ts->size = ts->left = link ? 0 : th.size;
        ts->pad = th.padded - ts->size;
        *m = (struct tar_stream_member){name, link, th.type, ts->size};
        return 1;
    }
}

/* True (with a message) when an earlier call failed: the stream's place is lost. */
static bool failed_before(const struct tar_stream *ts, struct ebuf *err)
{
    if (ts->failed)
        ebuf_printf(err, "%s: cannot go on after an earlier error", ts->name);
    return ts->failed;
}

int tar_stream_next(struct tar_stream *ts, struct tar_stream_member *m, struct ebuf *err)
{
    if (failed_before(ts, err))
        return -1;
    if (ts->ended)
        return 0;
    int rc = next_member(ts, m, err);
    ts->failed = rc < 0;
    return rc;
}

ptrdiff_t tar_stream_read(struct tar_stream *ts, void *buf, size_t len, struct ebuf *err)
{
    if (failed_before(ts, err))
        return -1;
    if (len > ts->left)
        len = (size_t)ts->left;
    if (len > PTRDIFF_MAX)
        len = PTRDIFF_MAX;
    if (len == 0)
        return 0;
    int64_t got = take_all(ts, buf, len, err);
    if (got >= 0)
        ts->left -= (uint64_t)got;
    if (got < 0)
        ebuf_printf(err, " (in member %s)", ts->member);
    else if ((uint64_t)got < len)
        say_cut_member(ts, err);
    if (got < 0 || (uint64_t)got < len) {
        ts->failed = true;
        return -1;
    }
    return (ptrdiff_t)got;
}

/* The tool that wrote the first bytes `b`, when ecrup does not read its format; else NULL. */
static const char *refused_compression(const unsigned char *b, size_t n)
{
    static const struct {
        const char *tool;
        size_t len;
        unsigned char magic[6];
    } known[] = {
        {"zstd", 4, {0x28, 0xb5, 0x2f, 0xfd}},
        {"xz", 6, {0xfd, '7', 'z', 'X', 'Z', 0x00}},
        {"lz4", 4, {0x04, 0x22, 0x4d, 0x18}},
    };
    for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
        if (n >= known[i].len && !memcmp(b, known[i].magic, known[i].len))
            return known[i].tool;
    /* "BZh" alone could begin a member's name: take the level digit and the magic of the first
     * block (or of the end of an empty stream) too */
    if (n >= 10 && !memcmp(b, "BZh", 3) && b[3] >= '1' && b[3] <= '9' &&
        (!memcmp(b + 4, "\x31\x41\x59\x26\x53\x59", 6) ||
         !memcmp(b + 4, "\x17\x72\x45\x38\x50\x90", 6)))
        return "bzip2";
    return NULL;
}

int tar_stream_open(int fd, const char *name, struct tar_stream **out, struct ebuf *err)
{
    struct tar_stream *ts = calloc(1, sizeof *ts);
    if (!ts || !(ts->in = malloc(IN_CAP)) ||
        !(ts->name = strdup(strcmp(name, "-") ? name : "standard input"))) {
        ebuf_puts(err, "out of memory");
        tar_stream_free(ts);
        return -1;
    }
    ts->fd = fd;
    ts->pending_size = UINT64_MAX;
    struct stat st;
    if (fstat(fd, &st) == 0 && S_ISFIFO(st.st_mode))
        /* a 1 MiB pipe wakes the reader a sixteenth as often as the default 64 KiB (2.2 -> 2.6
         * GB/s from `cat` here); refused above /proc/sys/fs/pipe-max-size, which is no matter */
        (void)fcntl(fd, F_SETPIPE_SZ, (int)IN_CAP);
    while (ts->in_len < MAGIC_LEN) {
        ptrdiff_t n = read_fd(ts, ts->in + ts->in_len, IN_CAP - ts->in_len, err);
        if (n < 0)
            goto fail;
        if (n == 0)
            break;
        ts->in_len += (size_t)n;
    }
    const char *tool = refused_compression(ts->in, ts->in_len);
    if (ts->in_len == 0) {
        ebuf_printf(err, "%s is empty: there is no tar file to read", ts->name);
        goto fail;
    }
    if (tool) {
        bool in = !strcmp(name, "-");
        ebuf_printf(err,
                    "%s is %s-compressed; ecrup reads plain and gzip-compressed tarballs: "
                    "decompress it first (%s%s -dc%s%s | ecrup push ... -)",
                    ts->name, tool, in ? "... | " : "", tool, in ? "" : " ", in ? "" : name);
        goto fail;
    }
    if (ts->in_len >= 3 && ts->in[0] == 0x1f && ts->in[1] == 0x8b && ts->in[2] == 8) {
        /* 15 + 32: a 32 KiB window, the gzip header read (and its trailer checked) by zlib */
        if (!(ts->out = malloc(IN_CAP)) || inflateInit2(&ts->z, 15 + 32) != Z_OK) {
            ebuf_puts(err, "out of memory");
            goto fail;
        }
        ts->gzip = true;
    }
    *out = ts;
    return 0;
fail:
    tar_stream_free(ts);
    return -1;
}

const char *tar_stream_compression(const struct tar_stream *ts)
{
    return ts->gzip ? "gzip" : "none";
}

uint64_t tar_stream_offset(const struct tar_stream *ts)
{
    return atomic_load_explicit(&ts->offset, memory_order_relaxed);
}

uint64_t tar_stream_input_offset(const struct tar_stream *ts)
{
    return atomic_load_explicit(&ts->input_offset, memory_order_relaxed);
}

void tar_stream_free(struct tar_stream *ts)
{
    if (!ts)
        return;
    if (ts->gzip)
        inflateEnd(&ts->z);
    tar_names_clear(&ts->pending);
    free(ts->member);
    free(ts->link);
    free(ts->in);
    free(ts->out);
    free(ts->name);
    free(ts);
}
