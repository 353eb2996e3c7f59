/* The reader, run on one backend (argv[1]: "uring" or "pread") or on both at once ("diff"), in
 * one direct mode (argv[2]: "auto", the default, "on" or "off"; "diff" runs them all).
 *  - bytes read equal the bytes written, for random file sizes (0, smaller than a part, exact
 *    multiples, a partial last part), random offsets and lengths, many requests in flight;
 *  - layer ranges at offsets off the page size (1, 511, 512, 4096 + 512, 12345, ...), every
 *    part in flight at once, and which of them O_DIRECT takes;
 *  - "diff" reads the same files and ranges through both backends and compares them;
 *  - errors: missing file, directory, not a regular file, permission denied, a file truncated,
 *    grown, modified in place, replaced or removed between open and the last read;
 *  - backend choice: forced by option and by ECRUP_IO_BACKEND, and the automatic fallback to
 *    pread when io_uring_setup is refused (a seccomp filter in a child process);
 *  - O_DIRECT: used (direct_bytes > 0) when on, or in auto mode for a file whose pages were
 *    dropped, not for a cached one; refused at open (seccomp again) or per read (an alignment
 *    the device does not take), the bytes are still right.
 * The uring run exits 77 only when io_uring_queue_init fails on this machine. */
#include "io/reader.h"
#include "io/reader_impl.h" /* io_test_dio_align */
#include "test.h"

#include <errno.h>
#include <fcntl.h>
#include <liburing.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <poll.h>
#include <stddef.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#define PART (256u << 10)

static char dir[] = "/tmp/ecrup-io-XXXXXX";
static uint64_t rng = 0x1234567u;
static enum io_direct_mode direct_mode = IO_DIRECT_AUTO; /* for env_open */
static size_t last_direct;                               /* direct_bytes of read_range's read */
static int plain_buffers;                                /* for env_open */

static char *path_of(const char *name)
{
    static char buf[4][256];
    static int i;
    char *p = buf[i++ & 3];
    snprintf(p, 256, "%s/%s", dir, name);
    return p;
}

static unsigned char *make_file(const char *path, size_t size)
{
    unsigned char *data = malloc(size ? size : 1);
    REQUIRE(data != NULL);
    test_rand_bytes(&rng, data, size);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    REQUIRE(fd >= 0);
    REQUIRE(write(fd, data, size) == (ssize_t)size);
    close(fd);
    return data;
}

/* Put the file's mtime well in the past, so that a later write changes it even where the
 * file system's clock is coarse. */
static void age_file(const char *path)
{
    struct timespec t[2] = {{1000000000, 0}, {1000000000, 0}};
    REQUIRE(utimensat(AT_FDCWD, path, t, 0) == 0);
}

struct env {
    struct io_bufpool *pool;
    struct io_reader *reader;
};

static void env_open(struct env *e, ecrup_io_backend backend, unsigned slots)
{
    struct io_bufpool_options po = {.part_size = PART, .body_capacity = 4096, .slots = slots};
    REQUIRE(io_bufpool_new(&po, &e->pool) == 0);
    /* Small reads and a shallow queue so parts are split and requests wait for ops. */
    /* One registered file slot: a second open file takes the plain-descriptor path. A per-file
     * depth below the queue depth makes requests of one file wait while others go ahead. */
    struct io_reader_options ro = {.backend = backend,
                                   .queue_depth = 4,
                                   .file_depth = 3,
                                   .direct_file_depth = 2,
                                   .read_size = 64 << 10,
                                   .file_slots = 1,
                                   .direct = direct_mode,
                                   .plain_buffers = plain_buffers};
    int rc = io_reader_new(&ro, e->pool, &e->reader);
    if (rc)
        fprintf(stderr, "io_reader_new: %s\n", strerror(-rc));
    REQUIRE(rc == 0);
    CHECK_EQ_INT(io_reader_backend(e->reader), backend);
}

static void env_close(struct env *e)
{
    io_reader_free(e->reader);
    io_bufpool_free(e->pool);
}

/* Read one range synchronously; returns the completion's error. */
static int read_range(struct env *e, struct io_file *f, uint64_t off, size_t len,
                      unsigned char *out, size_t *got)
{
    struct io_slot *s;
    REQUIRE(io_bufpool_acquire(e->pool, &s) == 0);
    int marker;
    int rc = io_reader_submit(e->reader, f, off, len, s, &marker);
    if (rc) {
        io_bufpool_release(e->pool, s);
        return rc;
    }
    struct io_completion c;
    int n = io_reader_wait(e->reader, &c, 1, -1);
    REQUIRE(n == 1);
    CHECK(c.user == &marker);
    CHECK(c.slot == s);
    CHECK(c.file == f);
    CHECK_EQ_INT(c.offset, off);
    CHECK_EQ_INT(c.length, len);
    CHECK(c.direct_bytes <= c.bytes);
    last_direct = c.direct_bytes;
    if (out)
        memcpy(out, s->raw, c.bytes);
    if (got)
        *got = c.bytes;
    io_bufpool_release(e->pool, s);
    return c.error;
}

/* Read the whole file part by part with every slot in use, as the engine would, and compare. */
static void read_whole(struct env *e, const char *path, const unsigned char *data, size_t size)
{
    struct io_file *f;
    REQUIRE(io_reader_open(e->reader, path, &f) == 0);
    CHECK_EQ_INT(io_file_size(f), size);
    CHECK_STR(io_file_path(f), path);
    size_t nparts = size ? (size + PART - 1) / PART : 1;
    size_t next = 0, seen = 0;
    bool *got = calloc(nparts, 1);
    REQUIRE(got != NULL);
    while (seen < nparts) {
        struct io_slot *s;
        while (next < nparts && io_bufpool_acquire(e->pool, &s) == 0) {
            size_t off = next * PART, len = size - off < PART ? size - off : PART;
            REQUIRE(io_reader_submit(e->reader, f, off, len, s, (void *)(uintptr_t)next) == 0);
            next++;
        }
        struct io_completion c[8];
        int n = io_reader_wait(e->reader, c, 8, -1);
        REQUIRE(n > 0);
        for (int i = 0; i < n; i++) {
            size_t idx = (uintptr_t)c[i].user;
            REQUIRE(idx < nparts && !got[idx]);
            got[idx] = true;
            CHECK_EQ_INT(c[i].error, 0);
            CHECK_EQ_INT(c[i].bytes, c[i].length);
            CHECK_EQ_INT(c[i].offset, idx * PART);
            CHECK(c[i].bytes == 0 || memcmp(c[i].slot->raw, data + c[i].offset, c[i].bytes) == 0);
            io_bufpool_release(e->pool, c[i].slot);
            seen++;
        }
    }
    CHECK_EQ_INT(io_reader_pending(e->reader), 0);
    free(got);
    CHECK_EQ_INT(io_reader_close(e->reader, f), 0);
}

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

/* An unprivileged uid of this process's own: the kernel charges io_uring's locked memory to
 * the user, so sharing "nobody" with other programs would share (and exhaust) its account. */
static uid_t unprivileged_id(void)
{
    return (uid_t)(200000 + getpid() % 100000);
}

/* Without CAP_IPC_LOCK and with a small RLIMIT_MEMLOCK the raw areas cannot be registered:
 * io_uring then reads into them unregistered, and the bytes must still be right. */
static void test_unregistered(void)
{
    REQUIRE(chmod(dir, 0755) == 0);
    size_t sizes[] = {0, 5000, 3 * PART + 1};
    unsigned char *data[3];
    for (int i = 0; i < 3; i++) {
        char name[32];
        snprintf(name, sizeof(name), "unreg%d", i);
        data[i] = make_file(path_of(name), sizes[i]); /* the child may not create files here */
    }
    pid_t pid = fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        struct rlimit lim = {64 << 10, 64 << 10};
        if (setrlimit(RLIMIT_MEMLOCK, &lim) != 0)
            _exit(2);
        if (geteuid() == 0 && (setgid(unprivileged_id()) != 0 || setuid(unprivileged_id()) != 0))
            _exit(3);
        struct env e;
        direct_mode = IO_DIRECT_ON; /* only O_DIRECT reads use registered buffers */
        env_open(&e, ECRUP_IO_URING, 6);
        for (int i = 0; i < 3; i++) {
            char name[32];
            snprintf(name, sizeof(name), "unreg%d", i);
            read_whole(&e, path_of(name), data[i], sizes[i]);
        }
        /* Slots are registered at their first read, so only now does the line tell. */
        char desc[200];
        io_reader_describe(e.reader, desc, sizeof(desc));
        printf("as uid %d: %s\n", (int)getuid(), desc);
        fflush(stdout);
        int registered = strstr(desc, "unregistered") == NULL;
        env_close(&e);
        /* Registration needs pinned memory the limit does not allow; a kernel that registers
         * anyway leaves the unregistered path untested here, which is worth saying. */
        if (registered)
            printf("note: buffers were registered despite RLIMIT_MEMLOCK; the unregistered path "
                   "was not exercised\n");
        fflush(stdout);
        _exit(test_failures ? 4 : 0);
    }
    int status;
    REQUIRE(waitpid(pid, &status, 0) == pid);
    CHECK(WIFEXITED(status));
    if (WEXITSTATUS(status))
        fprintf(stderr, "unregistered-buffer child: exit %d\n", WEXITSTATUS(status));
    CHECK_EQ_INT(WEXITSTATUS(status), 0);
    for (int i = 0; i < 3; i++)
        free(data[i]);
    chmod(dir, 0700);
}

/* Whether this directory's file system takes O_DIRECT reads (the test's own check, so that
 * the reader's use of it can be asserted). */
static bool direct_supported(void)
{
    const char *p = path_of("probe");
    free(make_file(p, 8192));
    int fd = open(p, O_RDONLY | O_CLOEXEC | O_DIRECT);
    bool ok = false;
    if (fd >= 0) {
        void *b = NULL;
        ok = posix_memalign(&b, 4096, 4096) == 0 && pread(fd, b, 4096, 0) == 4096;
        free(b);
        close(fd);
    }
    unlink(p);
    return ok;
}

/* Pages of the file in the page cache, or -1 without cachestat(2). */
static long cached_pages(const char *path)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    REQUIRE(fd >= 0);
    uint64_t cached, dirty;
    int rc = io_cache_pages(fd, 0, 0, &cached, &dirty);
    close(fd);
    return rc == 0 ? (long)cached : -1;
}

static void drop_pages(const char *path)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    REQUIRE(fd >= 0);
    REQUIRE(fdatasync(fd) == 0);
    REQUIRE(posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED) == 0);
    close(fd);
}

/* Sum of direct_bytes over reading the whole file part by part (checking the bytes). */
static size_t read_parts(struct env *e, const char *path, const unsigned char *data, size_t size)
{
    struct io_file *f;
    REQUIRE(io_reader_open(e->reader, path, &f) == 0);
    unsigned char *buf = malloc(PART);
    size_t direct = 0;
    for (size_t off = 0; off < size; off += PART) {
        size_t len = size - off < PART ? size - off : PART, got = 0;
        CHECK_EQ_INT(read_range(e, f, off, len, buf, &got), 0);
        CHECK(got == len && memcmp(buf, data + off, len) == 0);
        direct += last_direct;
    }
    free(buf);
    CHECK_EQ_INT(io_reader_close(e->reader, f), 0);
    return direct;
}

/* Make open(2)/openat(2) with O_DIRECT fail with EINVAL in this process, as a file system that
 * does not take O_DIRECT would. */
static int forbid_o_direct(void)
{
    struct sock_filter f[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_openat, 0, 4),
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, args[2])),
        BPF_STMT(BPF_ALU | BPF_AND | BPF_K, O_DIRECT),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 0, 1, 0),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EINVAL),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    };
    struct sock_fprog prog = {.len = sizeof(f) / sizeof(f[0]), .filter = f};
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0)
        return -1;
    return prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog);
}

/* Which requests go direct in each mode, and a refusal at open. */
static void test_direct(ecrup_io_backend backend)
{
    bool have_direct = direct_supported();
    const char *p = path_of("direct");
    const size_t size = 6 * PART + 777;
    unsigned char *data = make_file(p, size);
    struct env e;

    direct_mode = IO_DIRECT_OFF;
    env_open(&e, backend, 2);
    CHECK_EQ_INT(read_parts(&e, p, data, size), 0);
    env_close(&e);

    direct_mode = IO_DIRECT_ON; /* cached or not; the tail under one block goes via the cache */
    env_open(&e, backend, 2);
    size_t d = read_parts(&e, p, data, size);
    if (have_direct)
        CHECK(d >= 6 * PART && d < size);
    else
        CHECK_EQ_INT(d, 0);
    env_close(&e);

    /* Auto: a file the cache does not hold goes direct, then the same file cached does not. */
    direct_mode = IO_DIRECT_AUTO;
    env_open(&e, backend, 2);
    drop_pages(p);
    long cached = cached_pages(p);
    d = read_parts(&e, p, data, size);
    if (have_direct && cached >= 0 && cached < (long)(size / 4096 / 4))
        CHECK(d >= 4 * PART);
    else
        printf("note: auto mode not checked on a cold file (O_DIRECT %s, %ld pages cached)\n",
               have_direct ? "works" : "refused", cached);
    int fd = open(p, O_RDONLY | O_CLOEXEC);
    REQUIRE(fd >= 0);
    unsigned char *tmp = malloc(size);
    REQUIRE(read(fd, tmp, size) == (ssize_t)size);
    free(tmp);
    close(fd);
    CHECK_EQ_INT(read_parts(&e, p, data, size), 0);
    env_close(&e);

    /* O_DIRECT refused at open: the file is read through the cache. */
    pid_t pid = fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        int failed_before = test_failures;
        if (forbid_o_direct() != 0)
            _exit(10);
        if (open(p, O_RDONLY | O_DIRECT) >= 0 || errno != EINVAL)
            _exit(11);
        direct_mode = IO_DIRECT_ON;
        env_open(&e, backend, 2);
        d = read_parts(&e, p, data, size);
        env_close(&e);
        _exit(test_failures != failed_before ? 12 : d ? 13 : 0);
    }
    int status;
    REQUIRE(waitpid(pid, &status, 0) == pid);
    CHECK(WIFEXITED(status));
    if (WEXITSTATUS(status))
        fprintf(stderr, "O_DIRECT refusal child: exit %d\n", WEXITSTATUS(status));
    CHECK_EQ_INT(WEXITSTATUS(status), 0);

    /* Refused per read: every misaligned direct read fails with EINVAL and is redone. */
    direct_mode = IO_DIRECT_ON;
    env_open(&e, backend, 2);
    io_test_dio_align = 1;
    struct io_file *f;
    REQUIRE(io_reader_open(e.reader, p, &f) == 0);
    io_test_dio_align = 0;
    unsigned char *buf = malloc(PART);
    for (int k = 0; k < 20; k++) {
        uint64_t off = test_rand(&rng) % size;
        size_t max = size - off < PART ? size - off : PART, got = 0;
        size_t len = 1 + (size_t)(test_rand(&rng) % max);
        CHECK_EQ_INT(read_range(&e, f, off, len, buf, &got), 0);
        CHECK(got == len && memcmp(buf, data + off, len) == 0);
    }
    free(buf);
    CHECK_EQ_INT(io_reader_close(e.reader, f), 0);
    env_close(&e);
    direct_mode = IO_DIRECT_AUTO;
    free(data);
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

static void test_open_errors(ecrup_io_backend backend)
{
    struct env e;
    env_open(&e, backend, 2);
    struct io_file *f = (struct io_file *)&e;
    CHECK_EQ_INT(io_reader_open(e.reader, path_of("missing"), &f), -ENOENT);
    CHECK(f == NULL);
    CHECK_EQ_INT(io_reader_open(e.reader, dir, &f), -EISDIR);
    CHECK_EQ_INT(io_reader_open(e.reader, "/dev/null", &f), -EINVAL);
    CHECK_EQ_INT(io_reader_open(e.reader, "", &f), -EINVAL);

    /* Requests outside the file or the slot are refused before anything is read. */
    const char *p = path_of("small");
    free(make_file(p, 1000));
    REQUIRE(io_reader_open(e.reader, p, &f) == 0);
    struct io_slot *s;
    REQUIRE(io_bufpool_acquire(e.pool, &s) == 0);
    CHECK_EQ_INT(io_reader_submit(e.reader, f, 999, 2, s, NULL), -EINVAL);
    CHECK_EQ_INT(io_reader_submit(e.reader, f, 1001, 0, s, NULL), -EINVAL);
    struct io_slot fake = *s;
    CHECK_EQ_INT(io_reader_submit(e.reader, f, 0, 10, &fake, NULL), -EINVAL);
    CHECK_EQ_INT(io_reader_pending(e.reader), 0);
    /* A file with a read in flight cannot be closed. */
    REQUIRE(io_reader_submit(e.reader, f, 0, 1000, s, NULL) == 0);
    CHECK_EQ_INT(io_reader_close(e.reader, f), -EBUSY);
    struct io_completion c;
    REQUIRE(io_reader_wait(e.reader, &c, 1, -1) == 1);
    CHECK_EQ_INT(c.error, 0);
    CHECK_EQ_INT(io_reader_close(e.reader, f), 0);
    io_bufpool_release(e.pool, s);
    env_close(&e);
}

/* Permission denied: root reads anything, so a child drops to an unprivileged uid first. */
static void test_permission(ecrup_io_backend backend)
{
    const char *p = path_of("secret");
    free(make_file(p, 100));
    REQUIRE(chmod(p, 0) == 0);
    REQUIRE(chmod(dir, 0755) == 0);
    pid_t pid = fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        if (geteuid() == 0 && (setgid(unprivileged_id()) != 0 || setuid(unprivileged_id()) != 0))
            _exit(2);
        struct env e;
        env_open(&e, backend, 1);
        struct io_file *f;
        int rc = io_reader_open(e.reader, p, &f);
        env_close(&e);
        _exit(rc == -EACCES ? 0 : 3);
    }
    int status;
    REQUIRE(waitpid(pid, &status, 0) == pid);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    chmod(dir, 0700);
}

/* Each case opens a 4-part file, reads part 0 fine, changes the file, and reads on. */
static void test_changes(ecrup_io_backend backend)
{
    struct env e;
    env_open(&e, backend, 2);
    const char *p = path_of("changing");
    const size_t size = 4 * PART - 100;
    unsigned char *buf = malloc(PART);
    for (int kase = 0; kase < 7; kase++) {
        unsigned char *data = make_file(p, size);
        age_file(p);
        struct io_file *f;
        REQUIRE(io_reader_open(e.reader, p, &f) == 0);
        size_t got;
        CHECK_EQ_INT(read_range(&e, f, 0, PART, buf, &got), 0);
        int fd = open(p, O_WRONLY | O_CLOEXEC);
        REQUIRE(fd >= 0);
        int want_mid = 0; /* expected error of parts 1 and 2 */
        switch (kase) {
        case 0: /* untouched: the control case */
            break;
        case 1: /* truncated in the middle of part 1: reads meet end-of-file early */
            REQUIRE(ftruncate(fd, (off_t)(PART + PART / 2)) == 0);
            want_mid = -ESTALE;
            break;
        case 2: /* truncated inside the last part only: detected at the last read */
            REQUIRE(ftruncate(fd, (off_t)(size - 10)) == 0);
            break;
        case 3: /* grown */
            REQUIRE(pwrite(fd, "x", 1, (off_t)size) == 1);
            break;
        case 4: /* modified in place, same size: mtime moves */
            REQUIRE(pwrite(fd, "y", 1, PART + 7) == 1);
            data[PART + 7] = (unsigned char)'y';
            break;
        case 5: { /* replaced by a rename: same bytes, another inode */
            const char *tmp = path_of("replacement");
            int t = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
            REQUIRE(t >= 0 && write(t, data, size) == (ssize_t)size);
            close(t);
            REQUIRE(rename(tmp, p) == 0);
            break;
        }
        case 6: /* removed */
            REQUIRE(unlink(p) == 0);
            break;
        }
        close(fd);
        for (unsigned part = 1; part < 4; part++) {
            size_t off = part * PART, len = size - off < PART ? size - off : PART;
            int rc = read_range(&e, f, off, len, buf, &got);
            int want = part < 3 ? want_mid : kase == 0 ? 0 : -ESTALE;
            if (kase == 1 && part == 3)
                want = -ESTALE;
            CHECK_EQ_INT(rc, want);
            if (rc != want)
                fprintf(stderr, "  case %d part %u\n", kase, part);
            if (kase == 1 && part == 1)
                CHECK_EQ_INT(got, PART / 2); /* the bytes that were there */
            if (!rc)
                CHECK(memcmp(buf, data + off, len) == 0);
        }
        CHECK_EQ_INT(io_file_check(f), kase == 0 ? 0 : -ESTALE);
        CHECK_EQ_INT(io_reader_close(e.reader, f), 0);
        free(data);
    }
    free(buf);

    /* The status and message the engine will show. */
    CHECK_EQ_INT(io_status_from_errno(-ESTALE), ECRUP_E_FILE_CHANGED);
    CHECK_EQ_INT(io_status_from_errno(-ENOENT), ECRUP_E_NOT_FOUND);
    CHECK_EQ_INT(io_status_from_errno(-EIO), ECRUP_E_IO);
    CHECK_EQ_INT(io_status_from_errno(-EACCES), ECRUP_E_IO);
    CHECK_EQ_INT(io_status_from_errno(0), ECRUP_OK);
    char msg[300];
    CHECK(strstr(io_error_message(-ESTALE, p, msg, sizeof(msg)), p) != NULL);
    CHECK(strstr(msg, "changed") != NULL);
    CHECK(strstr(io_error_message(-ENOENT, p, msg, sizeof(msg)), "No such file") != NULL);
    env_close(&e);
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

static int uring_available(void)
{
    struct io_uring ring;
    int rc = io_uring_queue_init(4, &ring, 0);
    if (rc == 0)
        io_uring_queue_exit(&ring);
    else
        fprintf(stderr, "io_uring_queue_init: %s\n", strerror(-rc));
    return rc == 0;
}

/* Make io_uring_setup fail with `err` for this process, as a container's profile would. */
static int forbid_io_uring(int err)
{
    struct sock_filter f[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_io_uring_setup, 0, 1),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | ((unsigned)err & SECCOMP_RET_DATA)),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    };
    struct sock_fprog prog = {.len = sizeof(f) / sizeof(f[0]), .filter = f};
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0)
        return -1;
    return prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog);
}

static int child_fallback(int err)
{
    if (forbid_io_uring(err) != 0)
        return 10;
    struct io_bufpool *pool;
    struct io_bufpool_options po = {.part_size = 4096, .slots = 1};
    if (io_bufpool_new(&po, &pool))
        return 11;
    struct io_reader *r;
    struct io_reader_options ro = {.backend = ECRUP_IO_AUTO};
    if (io_reader_new(&ro, pool, &r) != 0)
        return 12;
    int bad = io_reader_backend(r) != ECRUP_IO_PREAD;
    char d[200];
    io_reader_describe(r, d, sizeof(d));
    bad |= strstr(d, "io_uring unavailable") == NULL;
    io_reader_free(r);
    ro.backend = ECRUP_IO_URING; /* forced: the refusal is the answer */
    bad |= io_reader_new(&ro, pool, &r) != -err;
    io_bufpool_free(pool);
    return bad ? 13 : 0;
}

static void test_selection(void)
{
    struct io_bufpool *pool;
    struct io_bufpool_options po = {.part_size = 4096, .slots = 1};
    REQUIRE(io_bufpool_new(&po, &pool) == 0);
    struct io_reader *r;
    struct io_reader_options ro = {.backend = ECRUP_IO_AUTO};
    setenv("ECRUP_IO_BACKEND", "pread", 1);
    REQUIRE(io_reader_new(&ro, pool, &r) == 0);
    CHECK_EQ_INT(io_reader_backend(r), ECRUP_IO_PREAD);
    CHECK_STR(io_reader_backend_name(r), "pread");
    io_reader_free(r);
    setenv("ECRUP_IO_BACKEND", "bogus", 1);
    CHECK_EQ_INT(io_reader_new(&ro, pool, &r), -EINVAL);
    ro.backend = ECRUP_IO_PREAD; /* an explicit option wins over the environment */
    REQUIRE(io_reader_new(&ro, pool, &r) == 0);
    CHECK_EQ_INT(io_reader_backend(r), ECRUP_IO_PREAD);
    io_reader_free(r);
    if (uring_available()) {
        setenv("ECRUP_IO_BACKEND", "uring", 1);
        ro.backend = ECRUP_IO_AUTO;
        REQUIRE(io_reader_new(&ro, pool, &r) == 0);
        CHECK_EQ_INT(io_reader_backend(r), ECRUP_IO_URING);
        CHECK_STR(io_reader_backend_name(r), "io_uring");
        io_reader_free(r);
    }
    unsetenv("ECRUP_IO_BACKEND");
    /* The direct mode: the environment unless the option says, a typo refused. */
    char d[200];
    ro = (struct io_reader_options){.backend = ECRUP_IO_PREAD};
    setenv("ECRUP_IO_DIRECT", "bogus", 1);
    CHECK_EQ_INT(io_reader_new(&ro, pool, &r), -EINVAL);
    setenv("ECRUP_IO_DIRECT", "off", 1);
    REQUIRE(io_reader_new(&ro, pool, &r) == 0);
    CHECK(strstr(io_reader_describe(r, d, sizeof(d)), "buffered") != NULL);
    io_reader_free(r);
    ro.direct = IO_DIRECT_ON;
    REQUIRE(io_reader_new(&ro, pool, &r) == 0);
    CHECK(strstr(io_reader_describe(r, d, sizeof(d)), ", O_DIRECT") != NULL);
    io_reader_free(r);
    unsetenv("ECRUP_IO_DIRECT");
    ro.direct = IO_DIRECT_DEFAULT;
    REQUIRE(io_reader_new(&ro, pool, &r) == 0);
    CHECK(strstr(io_reader_describe(r, d, sizeof(d)), "O_DIRECT when not cached") != NULL);
    io_reader_free(r);
    ro.direct = (enum io_direct_mode)9;
    CHECK_EQ_INT(io_reader_new(&ro, pool, &r), -EINVAL);
    io_bufpool_free(pool);

    /* io_uring refused with EPERM (seccomp, io_uring_disabled) and ENOSYS (old kernel). */
    int errs[] = {EPERM, ENOSYS};
    for (int i = 0; i < 2; i++) {
        pid_t pid = fork();
        REQUIRE(pid >= 0);
        if (pid == 0)
            _exit(child_fallback(errs[i]));
        int status;
        REQUIRE(waitpid(pid, &status, 0) == pid);
        CHECK(WIFEXITED(status));
        if (WEXITSTATUS(status))
            fprintf(stderr, "fallback child for errno %d: exit %d\n", errs[i], WEXITSTATUS(status));
        CHECK_EQ_INT(WEXITSTATUS(status), 0);
    }
}

static pid_t main_pid;

static void cleanup(void)
{
    if (getpid() != main_pid)
        return; /* a child that failed a REQUIRE: the parent cleans up */
    char cmd[300];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    (void)!system(cmd);
}

int main(int argc, char **argv)
{
    const char *mode = argc > 1 ? argv[1] : "pread";
    const char *dmode = argc > 2 ? argv[2] : "auto";
    direct_mode = !strcmp(dmode, "on")    ? IO_DIRECT_ON
                  : !strcmp(dmode, "off") ? IO_DIRECT_OFF
                                          : IO_DIRECT_AUTO;
    bool uring = !strcmp(mode, "uring"), diff = !strcmp(mode, "diff");
    if ((uring || diff) && !uring_available()) {
        fprintf(stderr, "io_uring unavailable here: skipped (test_io_reader_pread covers the "
                        "same cases on pread)\n");
        return TEST_SKIP;
    }
    REQUIRE(mkdtemp(dir) != NULL);
    main_pid = getpid();
    atexit(cleanup);
    unsetenv("ECRUP_IO_BACKEND");
    unsetenv("ECRUP_IO_DIRECT");
    if (diff) {
        test_diff();
    } else {
        ecrup_io_backend b = uring ? ECRUP_IO_URING : ECRUP_IO_PREAD;
        test_reads(b);
        test_ranges(b);
        test_open_errors(b);
        test_permission(b);
        test_changes(b);
        test_fd_and_free(b);
        enum io_direct_mode keep = direct_mode;
        test_direct(b);
        direct_mode = keep;
        if (uring)
            test_unregistered();
        else
            test_selection();
    }
    char name[64];
    snprintf(name, sizeof(name), "test_io_reader_%s%s%s", mode, argc > 2 ? "_direct_" : "",
             argc > 2 ? dmode : "");
    return test_finish(name);
}
