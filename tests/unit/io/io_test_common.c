/* Helpers shared by the reader's test programs: see io_test_common.h. */
#include "io_test_common.h"

#include <fcntl.h>
#include <liburing.h>
#include <sys/stat.h>
#include <unistd.h>

char dir[] = "/tmp/ecrup-io-XXXXXX";
uint64_t rng = 0x1234567u;
enum io_direct_mode direct_mode = IO_DIRECT_AUTO;
size_t last_direct;
int plain_buffers;

char *path_of(const char *name)
{
    static char buf[4][256];
    static int i;
    char *p = buf[i++ & 3];
    snprintf(p, 256, "%s/%s", dir, name);
    return p;
}

unsigned char *make_file(const char *path, size_t size)
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

void env_open(struct env *e, ecrup_io_backend backend, unsigned slots)
{
    struct io_bufpool_options po = {.part_size = PART, .slots = slots};
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

void env_close(struct env *e)
{
    io_reader_free(e->reader);
    io_bufpool_free(e->pool);
}

int read_range(struct env *e, struct io_file *f, uint64_t off, size_t len, unsigned char *out,
               size_t *got)
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

void read_whole(struct env *e, const char *path, const unsigned char *data, size_t size)
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

/* An unprivileged uid of this process's own: the kernel charges io_uring's locked memory to
 * the user, so sharing "nobody" with other programs would share (and exhaust) its account. */
uid_t unprivileged_id(void)
{
    return (uid_t)(200000 + getpid() % 100000);
}

/* Whether this directory's file system takes O_DIRECT reads (the test's own check, so that
 * the reader's use of it can be asserted). */
bool direct_supported(void)
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

int uring_available(void)
{
    struct io_uring ring;
    int rc = io_uring_queue_init(4, &ring, 0);
    if (rc == 0)
        io_uring_queue_exit(&ring);
    else
        fprintf(stderr, "io_uring_queue_init: %s\n", strerror(-rc));
    return rc == 0;
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

int io_test_start(int argc, char **argv, const char *program, struct io_test_run *run)
{
    const char *mode = argc > 1 ? argv[1] : "pread";
    const char *dmode = argc > 2 ? argv[2] : "auto";
    direct_mode = !strcmp(dmode, "on")    ? IO_DIRECT_ON
                  : !strcmp(dmode, "off") ? IO_DIRECT_OFF
                                          : IO_DIRECT_AUTO;
    run->uring = !strcmp(mode, "uring");
    run->diff = !strcmp(mode, "diff");
    run->backend = run->uring ? ECRUP_IO_URING : ECRUP_IO_PREAD;
    snprintf(run->name, sizeof(run->name), "%s_%s%s%s", program, mode, argc > 2 ? "_direct_" : "",
             argc > 2 ? dmode : "");
    if ((run->uring || run->diff) && !uring_available()) {
        fprintf(stderr,
                "io_uring unavailable here: skipped (%s_pread covers the same cases on "
                "pread)\n",
                program);
        return TEST_SKIP;
    }
    REQUIRE(mkdtemp(dir) != NULL);
    main_pid = getpid();
    atexit(cleanup);
    unsetenv("ECRUP_IO_BACKEND");
    unsetenv("ECRUP_IO_DIRECT");
    return 0;
}
