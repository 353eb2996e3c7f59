/* The reader reads the file's bytes, on one backend (argv[1]: "uring" or "pread") or on both at
 * once ("diff"), in one direct mode (argv[2]: "auto", the default, "on" or "off"; "diff" runs
 * them all):
 *  - bytes read equal the bytes written, for random file sizes (0, smaller than a part, exact
 *    multiples, a partial last part), random offsets and lengths, many requests in flight;
 *  - layer ranges at offsets off the page size (1, 511, 512, 4096 + 512, 12345, ...), every
 *    part in flight at once, and which of them O_DIRECT takes;
 *  - "diff" reads the same files and ranges through both backends and compares them;
 *  - the descriptor wakes a poller, and freeing the reader with reads in flight is safe.
 * The uring and diff runs exit 77 only when io_uring_queue_init fails on this machine. */
#include "io/reader.h"
#include "io/reader_impl.h" /* io_test_dio_align, the file's O_DIRECT alignment */
#include "io_test_common.h"

#include <poll.h>

static void test_reads(ecrup_io_backend backend)
{
    struct env e;
    env_open(&e, backend, 6);
    char desc[200];
    printf("%s\n", io_reader_describe(e.reader, desc, sizeof(desc)));
    size_t sizes[] = {0, 1, 4095, 4096, PART - 1, PART, PART + 1, 3 * PART, 5 * PART + 12345};
    struct io_file *holder = NULL;
    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]) + 6; i++) {
        if (i == 6) { /* from here on the registered file table is full */
            free(make_file(path_of("holder"), 10));
            REQUIRE(io_reader_open(e.reader, path_of("holder"), &holder) == 0);
        }
        size_t size = i < sizeof(sizes) / sizeof(sizes[0]) ? sizes[i]
                                                           : (size_t)(test_rand(&rng) % (8 * PART));
        const char *p = path_of("whole");
        unsigned char *data = make_file(p, size);
        read_whole(&e, p, data, size);

        /* Random ranges, one at a time, against the data. */
        struct io_file *f;
        REQUIRE(io_reader_open(e.reader, p, &f) == 0);
        unsigned char *buf = malloc(PART);
        for (int k = 0; k < 20 && size; k++) {
            uint64_t off = test_rand(&rng) % size;
            size_t max = size - off < PART ? size - off : PART;
            size_t len = (size_t)(test_rand(&rng) % (max + 1));
            size_t got = 0;
            CHECK_EQ_INT(read_range(&e, f, off, len, buf, &got), 0);
            CHECK_EQ_INT(got, len);
            CHECK(memcmp(buf, data + off, len) == 0);
        }
        free(buf);
        CHECK_EQ_INT(io_file_check(f), 0);
        CHECK_EQ_INT(io_reader_close(e.reader, f), 0);
        free(data);
    }
    CHECK_EQ_INT(io_reader_close(e.reader, holder), 0);
    env_close(&e);
}

/* Ranges as the engine reads a layer cut from an image tarball (a blob at a 512-byte-aligned
 * offset) or from any offset through the API: every part of the range, many in flight at once,
 * then each part alone, checking the bytes. With O_DIRECT on, a range whose parts start on the
 * file's O_DIRECT alignment (or whose buffered head ends on the memory alignment) must take
 * most of its bytes direct, any other through the cache; with a 4096-byte alignment forced, a
 * 512-aligned range has no span O_DIRECT can take and is read through the cache whole. */
static void test_ranges(ecrup_io_backend backend)
{
    const char *p = path_of("ranges");
    const size_t size = 5 * PART + 4321;
    unsigned char *data = make_file(p, size);
    static const struct {
        uint64_t off, len; /* len 0: to the end of the file */
    } ranges[] = {{0, 2 * PART + 3},
                  {1, PART + 1},
                  {511, 3 * 4096},
                  {512, 2 * PART},
                  {4096 + 512, PART},
                  {12345, PART - 7},
                  {12362, 1},
                  {3 * PART + 512, 0},
                  {size - 4096 - 1, 0},
                  {PART - 1, 2},
                  {2 * PART - 512, PART + 1024}};
    for (int forced = 0; forced < 2; forced++) {
        if (forced && direct_mode != IO_DIRECT_ON)
            break;
        struct env e;
        env_open(&e, backend, 6);
        io_test_dio_align = forced ? 4096 : 0;
        struct io_file *f;
        REQUIRE(io_reader_open(e.reader, p, &f) == 0);
        io_test_dio_align = 0;
        unsigned a = f->dio_align, m = f->dio_mem_align;
        bool dio = f->dfd >= 0 && direct_supported();
        unsigned char *buf = malloc(PART);
        REQUIRE(buf != NULL);
        for (size_t i = 0; i < sizeof(ranges) / sizeof(ranges[0]); i++) {
            uint64_t off = ranges[i].off, len = ranges[i].len ? ranges[i].len : size - off;
            REQUIRE(off + len <= size);
            /* every part of the range at once, as the engine's read-ahead does */
            size_t nparts = (size_t)((len + PART - 1) / PART), next = 0, seen = 0;
            while (seen < nparts) {
                struct io_slot *s;
                while (next < nparts && io_bufpool_acquire(e.pool, &s) == 0) {
                    uint64_t at = next * (uint64_t)PART;
                    size_t n = len - at < PART ? (size_t)(len - at) : PART;
                    REQUIRE(io_reader_submit(e.reader, f, off + at, n, s,
                                             (void *)(uintptr_t)next) == 0);
                    next++;
                }
                struct io_completion c[8];
                int n = io_reader_wait(e.reader, c, 8, -1);
                REQUIRE(n > 0);
                for (int k = 0; k < n; k++) {
                    uint64_t at = (uintptr_t)c[k].user * (uint64_t)PART;
                    CHECK_EQ_INT(c[k].error, 0);
                    CHECK_EQ_INT(c[k].offset, off + at);
                    CHECK_EQ_INT(c[k].bytes, c[k].length);
                    bool same = memcmp(c[k].slot->raw, data + off + at, c[k].bytes) == 0;
                    CHECK(same);
                    if (!same)
                        fprintf(stderr, "  range %llu+%llu, part at %llu differs\n",
                                (unsigned long long)off, (unsigned long long)len,
                                (unsigned long long)at);
                    io_bufpool_release(e.pool, c[k].slot);
                    seen++;
                }
            }
            /* the first part alone, to see how much of it came direct */
            size_t n = len < PART ? (size_t)len : PART, got = 0;
            CHECK_EQ_INT(read_range(&e, f, off, n, buf, &got), 0);
            CHECK(got == n && memcmp(buf, data + off, n) == 0);
            if (direct_mode == IO_DIRECT_OFF || !dio) {
                CHECK_EQ_INT(last_direct, 0);
            } else if (direct_mode == IO_DIRECT_ON && n >= 4 * (size_t)a) {
                bool can = off % a == 0 || (a - off % a) % m == 0;
                if (can)
                    CHECK(last_direct >= n / 2);
                else
                    CHECK_EQ_INT(last_direct, 0);
                if (forced && off % 4096 == 512)
                    CHECK_EQ_INT(last_direct, 0); /* the documented fallback */
                if (can != (last_direct > 0))
                    fprintf(stderr, "  range %llu+%zu: %zu bytes direct (align %u, mem %u)\n",
                            (unsigned long long)off, n, last_direct, a, m);
            }
        }
        printf("ranges, %s, O_DIRECT %s, align %u/%u%s: bytes checked\n",
               io_reader_backend_name(e.reader),
               direct_mode == IO_DIRECT_ON    ? "on"
               : direct_mode == IO_DIRECT_OFF ? "off"
                                              : "auto",
               a, m, forced ? " (forced)" : "");
        free(buf);
        CHECK_EQ_INT(io_file_check(f), 0);
        CHECK_EQ_INT(io_reader_close(e.reader, f), 0);
        env_close(&e);
    }
    free(data);
}

/* The same files and ranges through both backends and every direct mode: identical bytes,
 * identical to the data. Two readers take O_DIRECT alignment 1, so the kernel refuses their
 * misaligned direct reads and they must carry on through the cache; the last one reads O_DIRECT
 * into unregistered memory. */
#define NREADERS 7
static void test_diff(void)
{
    static const struct {
        ecrup_io_backend backend;
        enum io_direct_mode direct;
        unsigned align;
        int plain;
    } kinds[NREADERS] = {
        {ECRUP_IO_PREAD, IO_DIRECT_OFF, 0},   {ECRUP_IO_URING, IO_DIRECT_OFF, 0},
        {ECRUP_IO_PREAD, IO_DIRECT_ON, 0},    {ECRUP_IO_URING, IO_DIRECT_ON, 0},
        {ECRUP_IO_PREAD, IO_DIRECT_ON, 1},    {ECRUP_IO_URING, IO_DIRECT_ON, 1},
        {ECRUP_IO_URING, IO_DIRECT_ON, 0, 1},
    };
    struct env e[NREADERS];
    unsigned char *buf[NREADERS];
    size_t direct_total[NREADERS] = {0};
    for (int k = 0; k < NREADERS; k++) {
        direct_mode = kinds[k].direct;
        plain_buffers = kinds[k].plain;
        env_open(&e[k], kinds[k].backend, 2);
        plain_buffers = 0;
        buf[k] = malloc(PART);
        REQUIRE(buf[k] != NULL);
    }
    for (int i = 0; i < 12; i++) {
        size_t size = i == 0 ? 0 : i == 1 ? 100 : (size_t)(test_rand(&rng) % (6 * PART));
        const char *path = path_of("diff");
        unsigned char *data = make_file(path, size);
        struct io_file *f[NREADERS];
        for (int k = 0; k < NREADERS; k++) {
            io_test_dio_align = kinds[k].align;
            REQUIRE(io_reader_open(e[k].reader, path, &f[k]) == 0);
        }
        io_test_dio_align = 0;
        /* Every part, the last partial one included; then random ranges, then random ranges
         * from block-aligned offsets (an O_DIRECT body and a buffered tail). */
        size_t nparts = size ? (size + PART - 1) / PART : 1;
        for (size_t k = 0; k < nparts + 20; k++) {
            uint64_t off;
            size_t len;
            if (k < nparts) {
                off = k * PART;
                len = size - off < PART ? (size_t)(size - off) : PART;
            } else if (!size) {
                break;
            } else {
                off = test_rand(&rng) % size;
                if (k >= nparts + 10)
                    off = off / 4096 * 4096;
                size_t max = size - off < PART ? size - off : PART;
                len = (size_t)(test_rand(&rng) % (max + 1));
                if (k % 3 == 0)
                    len = max; /* up to the end of the file or a whole part */
            }
            for (int r = 0; r < NREADERS; r++) {
                size_t got = 1;
                int rc = read_range(&e[r], f[r], off, len, buf[r], &got);
                CHECK_EQ_INT(rc, 0);
                CHECK_EQ_INT(got, len);
                direct_total[r] += last_direct;
                bool same = !len || memcmp(buf[r], data + off, len) == 0;
                CHECK(same); /* the bytes read equal the file's */
                if (!same)
                    fprintf(stderr, "  reader %d: off %llu len %zu\n", r, (unsigned long long)off,
                            len);
                if (kinds[r].direct == IO_DIRECT_OFF)
                    CHECK_EQ_INT(last_direct, 0);
            }
        }
        for (int k = 0; k < NREADERS; k++)
            io_reader_close(e[k].reader, f[k]);
        free(data);
    }
    if (direct_supported()) {
        CHECK(direct_total[2] > 0);
        CHECK(direct_total[3] > 0);
        CHECK(direct_total[6] > 0);
    }
    for (int k = 0; k < NREADERS; k++) {
        char desc[256];
        printf("%s, align %u: %zu bytes by O_DIRECT\n",
               io_reader_describe(e[k].reader, desc, sizeof(desc)), kinds[k].align,
               direct_total[k]);
        free(buf[k]);
        env_close(&e[k]);
    }
    direct_mode = IO_DIRECT_AUTO;
}

/* The descriptor wakes a poller; freeing with reads in flight is safe. */
static void test_fd_and_free(ecrup_io_backend backend)
{
    struct env e;
    env_open(&e, backend, 4);
    const char *p = path_of("fd");
    unsigned char *data = make_file(p, 4 * PART);
    struct io_file *f;
    REQUIRE(io_reader_open(e.reader, p, &f) == 0);
    struct io_slot *s[4];
    for (int i = 0; i < 4; i++) {
        REQUIRE(io_bufpool_acquire(e.pool, &s[i]) == 0);
        REQUIRE(io_reader_submit(e.reader, f, (uint64_t)i * PART, PART, s[i], NULL) == 0);
    }
    struct pollfd pfd = {.fd = io_reader_fd(e.reader), .events = POLLIN};
    CHECK_EQ_INT(poll(&pfd, 1, 10000), 1);
    struct io_completion c[4];
    int n = 0;
    while (n < 4) {
        REQUIRE(poll(&pfd, 1, 10000) == 1);
        n += io_reader_poll(e.reader, c + n, (unsigned)(4 - n));
    }
    for (int i = 0; i < 4; i++) {
        CHECK_EQ_INT(c[i].error, 0);
        CHECK(memcmp(c[i].slot->raw, data + c[i].offset, PART) == 0);
    }
    CHECK_EQ_INT(io_reader_poll(e.reader, c, 4), 0);
    CHECK_EQ_INT(io_reader_wait(e.reader, c, 4, 10), 0); /* nothing pending: returns at once */
    /* Submit again and free without collecting: the reader waits for the kernel/workers. */
    for (int i = 0; i < 4; i++)
        REQUIRE(io_reader_submit(e.reader, f, (uint64_t)i * PART, PART, s[i], NULL) == 0);
    io_reader_free(e.reader); /* also closes f */
    for (int i = 0; i < 4; i++)
        io_bufpool_release(e.pool, s[i]);
    io_bufpool_free(e.pool);
    free(data);
}

int main(int argc, char **argv)
{
    struct io_test_run run;
    int rc = io_test_start(argc, argv, "test_io_reader_reads", &run);
    if (rc)
        return rc;
    if (run.diff) {
        test_diff();
    } else {
        test_reads(run.backend);
        test_ranges(run.backend);
        test_fd_and_free(run.backend);
    }
    return test_finish(run.name);
}
