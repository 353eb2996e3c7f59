/* The image reader over arbitrary tarballs: no crash, no over-read, and what it accepts is
 * sane (every blob lies inside the file and has a digest, the tagged manifest comes last). */
#include "cli/image_source.h"

#include "util/hex.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

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
    return 0;
}
