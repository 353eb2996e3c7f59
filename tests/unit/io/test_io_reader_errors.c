/* The reader's errors, on one backend (argv[1]: "uring" or "pread") in one direct mode
 * (argv[2]: "auto", the default, "on" or "off"):
 *  - at open: a missing file, a directory, not a regular file, an empty path, permission
 *    denied (in a child that drops root);
 *  - at submit: a range outside the file or a slot not from the pool, and closing a file with a
 *    read in flight;
 *  - a file truncated, grown, modified in place, replaced or removed between open and the last
 *    read, and the status and message the engine shows for it.
 * The uring run exits 77 only when io_uring_queue_init fails on this machine. */
#include "io/reader.h"
#include "io_test_common.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

/* Put the file's mtime well in the past, so that a later write changes it even where the
 * file system's clock is coarse. */
static void age_file(const char *path)
{
    struct timespec t[2] = {{1000000000, 0}, {1000000000, 0}};
    REQUIRE(utimensat(AT_FDCWD, path, t, 0) == 0);
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

int main(int argc, char **argv)
{
    struct io_test_run run;
    int rc = io_test_start(argc, argv, "test_io_reader_errors", &run);
    if (rc)
        return rc;
    test_open_errors(run.backend);
    test_permission(run.backend);
    test_changes(run.backend);
    return test_finish(run.name);
}
