/* `ecrup push` of a tarball read as a stream: standard input, or a gzip-compressed tarball.
 * See cli/push_stream.h. */
#include "cli/push_stream.h"

#include "cli/cli.h"
#include "cli/tar_stream.h"
#include "cli/upload_output.h"
#include "util/hex.h"

#include <errno.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CMD "push"

/* JSON members (image_member_is_json) are kept in memory for the image's manifests and
 * configs, all of them at most KEEP_TOTAL. */
#define KEEP_TOTAL (64u << 20)

/* Small blobs are read whole into memory and go up together, one engine run for several, so a
 * stream of small layers does not pay each one's round trips (check, initiate, part, complete)
 * one after another. Small: at most one part of the smallest size the service takes, so a
 * blob read whole had gone up as a single part anyway. A batch holds at most BATCH_MAX blobs
 * and the push's batch budget of bytes (push_stream_open). */
#define BATCH_ONE (5u << 20)
#define BATCH_MAX 64

/* A blob kept in memory, uploaded once the image says it is one. */
struct mem_src {
    const char *data;
    size_t len, off;
};

struct push_stream {
    struct tar_stream *ts;
    char *source; /* as the command line gave it: "-" or the path */
    const char *want_tag;
    const struct platform *want_platform;
    struct image_member *m;
    size_t n_m, cap_m;
    uint64_t kept;             /* bytes of the members kept in memory */
    struct upload_item *items; /* each one's name (and path, the same string) owned */
    size_t n_items, cap_items;
    /* The member the last item carries: its index in m, or -1; its first byte, read to tell
     * JSON from a blob, handed over before the rest. */
    long carrying;
    unsigned char first;
    bool first_pending;
    /* A read of the carried member failed: what the tar reader said (set on the engine's
     * stream thread while the run goes, read by the main thread after it) */
    struct ebuf read_error;
    /* The first member, read by push_stream_first() before anything is said or sent: its
     * tar_stream_next() result (1, 0; -1 not kept) and the member, valid until the next read */
    int first_got;
    struct tar_stream_member first_member;
    bool archive_end; /* the archive's end was read (the image is read once the batch is up) */
    bool ended;       /* the archive's end was reached and the image read */
    /* The small blobs read whole for the next run (each one's bytes owned through its source),
     * and the first member (index in m) the last call of push_stream_next() added. */
    uint64_t batch_budget, batch_bytes;
    struct mem_src batch[BATCH_MAX];
    size_t n_batch, batch_from;
    struct image_source src;
    size_t *blob_item;   /* src.blobs[k]'s upload item */
    struct mem_src *mem; /* one per blob kept in memory and uploaded at the end */
};

/* The engine's stream thread: the carried member's bytes, its first byte first. */
static ptrdiff_t member_read(void *user, void *buf, size_t len)
{
    struct push_stream *ps = user;
    unsigned char *p = buf;
    size_t got = 0;
    if (ps->first_pending && len) {
        p[got++] = ps->first;
        ps->first_pending = false;
    }
    if (got == len)
        return (ptrdiff_t)got;
    ptrdiff_t n = tar_stream_read(ps->ts, p + got, len - got, &ps->read_error);
    if (n < 0)
        return -EIO;
    return (ptrdiff_t)got + n;
}

static ptrdiff_t mem_read(void *user, void *buf, size_t len)
{
    struct mem_src *m = user;
    size_t n = m->len - m->off < len ? m->len - m->off : len;
    memcpy(buf, m->data + m->off, n);
    m->off += n;
    return (ptrdiff_t)n;
}

int push_stream_open(const char *source, int fd, const char *want_tag,
                     const struct platform *want_platform, uint64_t batch_budget,
                     struct push_stream **out, struct ebuf *err)
{
    struct push_stream *ps = calloc(1, sizeof *ps);
    if (!ps || !(ps->source = strdup(source))) {
        free(ps);
        ebuf_puts(err, "out of memory");
        return -1;
    }
    ps->want_tag = want_tag;
    ps->want_platform = want_platform;
    ps->batch_budget = batch_budget;
    ps->carrying = -1;
    ps->first_got = -1;
    ebuf_init(&ps->read_error);
    if (tar_stream_open(fd, source, &ps->ts, err) != 0) {
        push_stream_free(ps);
        return -1;
    }
    *out = ps;
    return 0;
}

int push_stream_first(struct push_stream *ps, struct ebuf *err)
{
    int got = tar_stream_next(ps->ts, &ps->first_member, err);
    if (got < 0)
        return -1;
    ps->first_got = got;
    return 0;
}

const char *push_stream_compression(const struct push_stream *ps)
{
    return tar_stream_compression(ps->ts);
}

/* A new member at the end of the list; NULL when out of memory. */
static struct image_member *add_member(struct push_stream *ps, const struct tar_stream_member *tm)
{
    if (ps->n_m == ps->cap_m) {
        size_t cap = ps->cap_m ? ps->cap_m * 2 : 32;
        struct image_member *m = realloc(ps->m, cap * sizeof *m);
        if (!m)
            return NULL;
        ps->m = m;
        ps->cap_m = cap;
    }
    struct image_member *m = &ps->m[ps->n_m];
    *m = (struct image_member){.item = -1, .size = tm->size};
    m->name = strdup(tm->name);
    m->link = tm->link ? strdup(tm->link) : NULL;
    if (!m->name || (tm->link && !m->link)) {
        free(m->name);
        free(m->link);
        return NULL;
    }
    ps->n_m++;
    return m;
}

/* A new upload item (its name made here); NULL when out of memory. */
static struct upload_item *add_item(struct push_stream *ps, const char *member)
{
    if (ps->n_items == ps->cap_items) {
        size_t cap = ps->cap_items ? ps->cap_items * 2 : 16;
        struct upload_item *it = realloc(ps->items, cap * sizeof *it);
        if (!it)
            return NULL;
        ps->items = it;
        ps->cap_items = cap;
    }
    struct ebuf b = EBUF_INIT;
    ebuf_printf(&b, "%s/%s", ps->source, member);
    char *name = ebuf_take(&b);
    if (!name)
        return NULL;
    struct upload_item *it = &ps->items[ps->n_items++];
    *it = (struct upload_item){.name = name, .path = name};
    return it;
}

/* The digest a member's name gives ("blobs/sha256/<hex>"), in `out`; false, `out` empty, when
 * none. */
static bool digest_of_name(const char *name, char out[72])
{
    static const char prefix[] = "blobs/sha256/";
    out[0] = '\0';
    if (strncmp(name, prefix, sizeof prefix - 1) != 0)
        return false;
    snprintf(out, 72, "sha256:%s", name + sizeof prefix - 1);
    if (sha256_digest_valid(out))
        return true;
    out[0] = '\0';
    return false;
}

/* Let the batch's bytes go. */
static void batch_drop(struct push_stream *ps)
{
    for (size_t i = 0; i < ps->n_batch; i++)
        free((void *)(uintptr_t)ps->batch[i].data);
    ps->n_batch = 0;
    ps->batch_bytes = 0;
}

/* The last run ended: what each blob it carried was (the outcomes' digests) is its member's,
 * and the batch's bytes are let go. Returns 0, or -1 after printing why the stream cannot go
 * on. */
static int ran(struct push_stream *ps, const struct upload_outcome *outs, size_t done)
{
    batch_drop(ps);
    bool carried = ps->carrying >= 0;
    ps->carrying = -1;
    if (carried && ps->read_error.len) {
        cli_error(CMD, "%s", ebuf_str(&ps->read_error));
        return -1;
    }
    for (size_t i = ps->batch_from; i < ps->n_m; i++) {
        struct image_member *m = &ps->m[i];
        if (m->item < 0)
            continue;
        ps->items[m->item].digest = NULL; /* the engine has its copy; members may move now */
        const struct upload_outcome *o = outs && (size_t)m->item < done ? &outs[m->item] : NULL;
        if (o && o->digest)
            snprintf(m->digest, sizeof m->digest, "%s", o->digest);
    }
    ps->batch_from = ps->n_m;
    return 0;
}

/* The items this call added, for the next run: each names the digest its member's name gives
 * (m->digest, pointed to only now: adding members moves them). */
static void hand_over(struct push_stream *ps, const struct upload_item **items, size_t *n)
{
    for (size_t i = ps->batch_from; i < ps->n_m; i++) {
        const struct image_member *m = &ps->m[i];
        if (m->item >= 0 && m->digest[0])
            ps->items[m->item].digest = m->digest;
    }
    *items = ps->items;
    *n = ps->n_items;
}

/* Read the rest of the current member (`size` bytes, `first` the first) into a new buffer. */
static char *read_whole(struct push_stream *ps, const struct image_member *m, unsigned char first,
                        struct ebuf *err)
{
    char *data = malloc(m->size ? m->size : 1);
    if (!data) {
        ebuf_puts(err, "out of memory");
        return NULL;
    }
    data[0] = (char)first;
    size_t got = 1;
    while (got < m->size) {
        ptrdiff_t n = tar_stream_read(ps->ts, data + got, m->size - got, err);
        if (n <= 0) {
            if (n == 0)
                ebuf_printf(err, "%s: member %s ended early", ps->source, m->name);
            free(data);
            return NULL;
        }
        got += (size_t)n;
    }
    return data;
}

/* The archive ended: read the image from its members and queue the blobs kept in memory that
 * it names. Returns 1 when there are some, 0 when not, -1 after printing why. */
static int image_at_end(struct push_stream *ps, const struct upload_item **items, size_t *n)
{
    struct ebuf err = EBUF_INIT;
    int rc = image_source_from_members(ps->source, ps->m, ps->n_m, ps->want_tag, ps->want_platform,
                                       &ps->src, &err);
    if (rc != 0) {
        cli_error(CMD, "%s", ebuf_ok(&err) ? ebuf_str(&err) : "out of memory");
        ebuf_free(&err);
        return -1;
    }
    ebuf_free(&err);
    ps->ended = true;
    size_t nb = ps->src.n_blobs;
    ps->blob_item = calloc(nb ? nb : 1, sizeof *ps->blob_item);
    ps->mem = calloc(nb ? nb : 1, sizeof *ps->mem);
    if (!ps->blob_item || !ps->mem) {
        cli_error(CMD, "out of memory");
        return -1;
    }
    size_t before = ps->n_items;
    for (size_t k = 0; k < nb; k++) {
        const struct image_blob *b = &ps->src.blobs[k];
        if (b->item >= 0) {
            ps->blob_item[k] = (size_t)b->item;
            continue;
        }
        struct upload_item *it = add_item(ps, b->name);
        if (!it) {
            cli_error(CMD, "out of memory");
            return -1;
        }
        ps->mem[k] = (struct mem_src){.data = b->data, .len = b->size};
        it->size = b->size;
        it->digest = b->digest;
        it->read = mem_read;
        it->read_user = &ps->mem[k];
        ps->blob_item[k] = ps->n_items - 1;
    }
    *items = ps->items;
    *n = ps->n_items;
    return ps->n_items > before ? 1 : 0;
}

int push_stream_next(void *user, const struct upload_outcome *outs, size_t done,
                     const struct upload_item **items, size_t *n)
{
    struct push_stream *ps = user;
    *items = ps->items;
    *n = ps->n_items;
    if (ps->ended)
        return 0;
    if (ran(ps, outs, done) != 0)
        return -1;
    if (ps->archive_end)
        return image_at_end(ps, items, n);
    struct ebuf err = EBUF_INIT;
    int rc = -1;
    for (;;) {
        struct tar_stream_member tm;
        int got;
        if (ps->first_got >= 0) {
            got = ps->first_got;
            tm = ps->first_member;
            ps->first_got = -1;
        } else {
            got = tar_stream_next(ps->ts, &tm, &err);
        }
        if (got < 0)
            break;
        if (got == 0) {
            ebuf_free(&err);
            ps->archive_end = true;
            if (ps->n_batch) { /* the batch goes up first: the image needs its digests */
                hand_over(ps, items, n);
                return 1;
            }
            return image_at_end(ps, items, n);
        }
        struct image_member *m = add_member(ps, &tm);
        if (!m) {
            ebuf_puts(&err, "out of memory");
            break;
        }
        if (tm.link || tm.size == 0) {
            if (!tm.link && !(m->data = malloc(1))) {
                ebuf_puts(&err, "out of memory");
                break;
            }
            continue;
        }
        unsigned char first;
        ptrdiff_t r = tar_stream_read(ps->ts, &first, 1, &err);
        if (r != 1) {
            if (r == 0)
                ebuf_printf(&err, "%s: member %s ended early", ps->source, m->name);
            break;
        }
        /* JSON (manifests, configs, index.json, docker's manifest.json list) is kept to read
         * the image at the end; any other member goes to the registry as it passes. */
        if (image_member_is_json(first, m->size)) {
            if (ps->kept + m->size > KEEP_TOTAL) {
                ebuf_printf(&err,
                            "%s holds over %u MiB of JSON members (at %s): not an image "
                            "tarball ecrup reads from a stream",
                            ps->source, KEEP_TOTAL >> 20, m->name);
                break;
            }
            if (!(m->data = read_whole(ps, m, first, &err)))
                break;
            ps->kept += m->size;
            continue;
        }
        struct upload_item *it = add_item(ps, m->name);
        if (!it) {
            ebuf_puts(&err, "out of memory");
            break;
        }
        it->size = m->size;
        digest_of_name(m->name, m->digest); /* checked for first, verified as it goes */
        m->item = (long)(ps->n_items - 1);
        if (m->size <= BATCH_ONE && ps->n_batch < BATCH_MAX &&
            ps->batch_bytes + m->size <= ps->batch_budget) {
            /* Small: read whole now, and on to the next member. */
            char *data = read_whole(ps, m, first, &err);
            if (!data)
                break;
            size_t k = ps->n_batch++;
            ps->batch[k] = (struct mem_src){.data = data, .len = m->size};
            ps->batch_bytes += m->size;
            it->read = mem_read;
            it->read_user = &ps->batch[k];
            continue;
        }
        /* Larger: read by the engine as it goes up, beside the batch read so far. */
        it->read = member_read;
        it->read_user = ps;
        ps->carrying = (long)(m - ps->m);
        ps->first = first;
        ps->first_pending = true;
        rc = 1;
        break;
    }
    if (rc == 1)
        hand_over(ps, items, n);
    else
        *items = ps->items; /* maybe moved; `*n` stays: what this call added never runs */
    if (rc < 0)
        cli_error(CMD, "%s", ebuf_ok(&err) ? ebuf_str(&err) : "out of memory");
    ebuf_free(&err);
    return rc;
}

const struct image_source *push_stream_image(const struct push_stream *ps)
{
    return ps->ended ? &ps->src : NULL;
}

size_t push_stream_blob_item(const struct push_stream *ps, size_t k)
{
    return ps->blob_item[k];
}

void push_stream_free(struct push_stream *ps)
{
    if (!ps)
        return;
    tar_stream_free(ps->ts);
    batch_drop(ps);
    for (size_t i = 0; i < ps->n_m; i++) {
        free(ps->m[i].name);
        free(ps->m[i].link);
        free(ps->m[i].data);
    }
    free(ps->m);
    for (size_t i = 0; i < ps->n_items; i++)
        free((void *)(uintptr_t)ps->items[i].name);
    free(ps->items);
    image_source_free(&ps->src);
    free(ps->blob_item);
    free(ps->mem);
    ebuf_free(&ps->read_error);
    free(ps->source);
    free(ps);
}
