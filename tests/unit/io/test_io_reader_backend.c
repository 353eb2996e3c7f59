/* Which backend and which read path the reader takes, on one backend (argv[1]: "uring" or
 * "pread") in one direct mode (argv[2]: "auto", the default, "on" or "off"):
 *  - O_DIRECT: used (direct_bytes > 0) when on, or in auto mode for a file whose pages were
 *    dropped, not for a cached one, never when off; refused at open (a seccomp filter in a
 *    child) or per read (an alignment the device does not take), the bytes are still right;
 *  - uring runs: without the locked memory to register buffers, io_uring reads into them
 *    unregistered (a child with a small RLIMIT_MEMLOCK);
 *  - pread runs: the backend forced by option and by ECRUP_IO_BACKEND, the direct mode by
 *    option and by ECRUP_IO_DIRECT, and the automatic fallback to pread when io_uring_setup is
 *    refused (a seccomp filter in a child process).
 * The uring run exits 77 only when io_uring_queue_init fails on this machine. */
#include "io/reader.h"
#include "io/reader_impl.h" /* io_test_dio_align */
#include "io_test_common.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

/* Install a seccomp filter on this process (a forked child: it cannot be taken off). */
static int install_filter(struct sock_filter *f, size_t len)
{
    struct sock_fprog prog = {.len = (unsigned short)len, .filter = f};
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0)
        return -1;
    return prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog);
}

/* Wait for the child `pid` and check that it exited 0; `what` names it when it did not. */
static void check_child(pid_t pid, const char *what)
{
    int status;
    REQUIRE(waitpid(pid, &status, 0) == pid);
    CHECK(WIFEXITED(status));
    if (WEXITSTATUS(status))
        fprintf(stderr, "%s: exit %d\n", what, WEXITSTATUS(status));
    CHECK_EQ_INT(WEXITSTATUS(status), 0);
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
    return install_filter(f, sizeof(f) / sizeof(f[0]));
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
    check_child(pid, "O_DIRECT refusal child");

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
    check_child(pid, "unregistered-buffer child");
    for (int i = 0; i < 3; i++)
        free(data[i]);
    chmod(dir, 0700);
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
    return install_filter(f, sizeof(f) / sizeof(f[0]));
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
        char what[64];
        snprintf(what, sizeof(what), "fallback child for errno %d", errs[i]);
        check_child(pid, what);
    }
}

int main(int argc, char **argv)
{
    struct io_test_run run;
    int rc = io_test_start(argc, argv, "test_io_reader_backend", &run);
    if (rc)
        return rc;
    test_direct(run.backend);
    if (run.uring)
        test_unregistered();
    else
        test_selection();
    return test_finish(run.name);
}
