/* The image reader over arbitrary tarballs: no crash, no over-read, and what it accepts is
 * sane (every blob lies inside the file and has a digest, the tagged manifest comes last).
 * Then the same input read as `ecrup push -` reads it: forward through cli/tar_stream.c, JSON
 * members kept, the others standing for blobs an upload carried, and the image read from
 * those members (image_source_from_members): every blob is kept or carried. */
#include "cli/image_source.h"
#include "cli/tar_stream.h"

#include "util/hex.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The members as push_stream.c keeps them, from the tarball on `fd`; -1 when the reader
 * refuses it. */
static long stream_members(int fd, struct image_member *m, size_t cap)
{
    struct tar_stream *ts;
    struct ebuf err = EBUF_INIT;
    long n = 0, carried = 0;
    if (tar_stream_open(fd, "-", &ts, &err) != 0) {
        ebuf_free(&err);
        return -1;
    }
    struct tar_stream_member tm;
    int got;
    while ((size_t)n < cap && (got = tar_stream_next(ts, &tm, &err)) == 1) {
        struct image_member *x = &m[n++];
        *x = (struct image_member){.item = -1, .size = tm.size, .name = strdup(tm.name)};
        if (tm.link)
            x->link = strdup(tm.link);
        else if (tm.size <= IMAGE_MEMBER_JSON_MAX) {
            x->data = malloc(tm.size + 1);
            if (tar_stream_read(ts, x->data, tm.size, &err) != (ptrdiff_t)tm.size)
                break;
            if (tm.size && !image_member_is_json((unsigned char)x->data[0], tm.size)) {
                free(x->data);
                x->data = NULL;
                x->item = carried++;
            }
        } else {
            x->item = carried++;
        }
    }
    tar_stream_free(ts);
    ebuf_free(&err);
    return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int fd = -1;
    if (fd < 0 && (fd = memfd_create("fuzz-image", 0)) < 0)
        abort();
    if (ftruncate(fd, 0) != 0 || pwrite(fd, data, size, 0) != (ssize_t)size)
        abort();
    char path[64];
    snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    for (int pass = 0; pass < 2; pass++) {
        struct image_source s;
        struct ebuf err = EBUF_INIT;
        if (image_source_open(path, pass ? "v1" : NULL, NULL, &s, &err) == 0) {
            if (s.n_manifests == 0 || !s.manifests[s.n_manifests - 1].top || !s.kind)
                abort();
            for (size_t i = 0; i < s.n_blobs; i++) {
                const struct image_blob *b = &s.blobs[i];
                if (b->offset > size || b->size > size - b->offset || b->size == 0 ||
                    !sha256_digest_valid(b->digest) || !b->name)
                    abort();
            }
            if (s.tag && !image_tag_valid(s.tag))
                abort();
            image_source_free(&s);
        } else if (err.len == 0 || !ebuf_ok(&err)) {
            abort(); /* a refusal always says why */
        }
        ebuf_free(&err);
    }
    static struct image_member m[256];
    if (lseek(fd, 0, SEEK_SET) != 0)
        abort();
    long n = stream_members(fd, m, sizeof m / sizeof m[0]);
    for (int pass = 0; n > 0 && pass < 2; pass++) {
        struct image_source s;
        struct ebuf err = EBUF_INIT;
        if (image_source_from_members("-", m, (size_t)n, pass ? "v1" : NULL, NULL, &s, &err) == 0) {
            if (s.n_manifests == 0 || !s.manifests[s.n_manifests - 1].top)
                abort();
            for (size_t i = 0; i < s.n_blobs; i++) {
                const struct image_blob *b = &s.blobs[i];
                if ((!b->data && b->item < 0) || b->size == 0 || !sha256_digest_valid(b->digest))
                    abort();
            }
            image_source_free(&s);
        } else if (err.len == 0 || !ebuf_ok(&err)) {
            abort();
        }
        ebuf_free(&err);
    }
    for (long i = 0; i < n; i++) {
        free(m[i].name);
        free(m[i].link);
        free(m[i].data);
    }
    return 0;
}
