/* The forward-only tar reader over arbitrary input, plain or gzip: no crash, no over-read, and
 * what it gives is consistent (each member's data is exactly its size, offsets only grow, a
 * refusal always says why). Each input is read twice through a memfd: once reading every
 * member's data in pieces whose size the input picks, once skipping all data. */
#include "cli/tar_stream.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_refusal(const struct ebuf *err)
{
    if (err->len == 0 || !ebuf_ok(err))
        abort(); /* a refusal always says why */
}

static void pass(int fd, size_t size, size_t piece, int read_data)
{
    static unsigned char buf[70000];
    struct tar_stream *ts;
    struct ebuf err = EBUF_INIT;
    if (lseek(fd, 0, SEEK_SET) != 0)
        abort();
    if (tar_stream_open(fd, "-", &ts, &err) != 0) {
        check_refusal(&err);
        ebuf_free(&err);
        return;
    }
    int gzip = !strcmp(tar_stream_compression(ts), "gzip");
    struct tar_stream_member m;
    int rc;
    uint64_t last = 0;
    while ((rc = tar_stream_next(ts, &m, &err)) == 1) {
        if (!m.name || (m.type == TAR_FILE) != (m.link == NULL) || (m.link && m.size != 0))
            abort();
        uint64_t got = 0;
        ptrdiff_t n = 0;
        while (read_data && (n = tar_stream_read(ts, buf, piece, &err)) > 0) {
            if ((size_t)n > piece || (got += (uint64_t)n) > m.size)
                abort();
        }
        if (n < 0) {
            check_refusal(&err);
            rc = -1;
            break;
        }
        if (read_data && got != m.size)
            abort();
        uint64_t off = tar_stream_offset(ts);
        if (off < last || (!gzip && off > size))
            abort();
        last = off;
    }
    if (rc < 0)
        check_refusal(&err);
    if (tar_stream_input_offset(ts) > size)
        abort();
    tar_stream_free(ts);
    ebuf_free(&err);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int fd = -1;
    if (fd < 0 && (fd = memfd_create("fuzz-tar-stream", 0)) < 0)
        abort();
    if (ftruncate(fd, 0) != 0 || pwrite(fd, data, size, 0) != (ssize_t)size)
        abort();
    /* the piece size from the input's length: small, odd, and past the direct-read size */
    static const size_t pieces[] = {1, 511, 512, 4097, 70000};
    pass(fd, size, pieces[size % 5], 1);
    pass(fd, size, 1, 0);
    return 0;
}
