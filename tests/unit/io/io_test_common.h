/* What the reader's test programs (test_io_reader_*.c) share: the run matrix on the command
 * line, a scratch directory, files of random bytes, a reader on a small pool and synchronous
 * reads through it. Test code only; single-threaded, except that children forked by a test
 * use it too (the scratch directory is removed by the parent alone). */
#ifndef ECRUP_TESTS_IO_TEST_COMMON_H
#define ECRUP_TESTS_IO_TEST_COMMON_H

#include "io/reader.h"
#include "test.h"

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#define PART (256u << 10)

extern char dir[];                      /* the scratch directory, mode 0700 */
extern uint64_t rng;                    /* seeded: every run reads the same sizes and ranges */
extern enum io_direct_mode direct_mode; /* for env_open; argv[2] sets it */
extern size_t last_direct;              /* direct_bytes of read_range's read */
extern int plain_buffers;               /* for env_open */

/* One run of the matrix, as main() was asked for it. */
struct io_test_run {
    bool uring;               /* argv[1] "uring" */
    bool diff;                /* argv[1] "diff": both backends at once */
    ecrup_io_backend backend; /* uring or pread (diff: pread) */
    char name[96];            /* the ctest name, for test_finish */
};

/* Parse argv ([pread|uring|diff] [auto|on|off]) into `run` and direct_mode, make the scratch
 * directory (removed at exit) and clear ECRUP_IO_BACKEND and ECRUP_IO_DIRECT. Returns 0, or
 * TEST_SKIP when the run needs io_uring and io_uring_queue_init fails here. */
int io_test_start(int argc, char **argv, const char *program, struct io_test_run *run);

/* `name` in the scratch directory (one of four rotating buffers). */
char *path_of(const char *name);

/* Write `size` random bytes to `path` and return them (caller frees). */
unsigned char *make_file(const char *path, size_t size);

struct env {
    struct io_bufpool *pool;
    struct io_reader *reader;
};

/* A reader of `backend` in direct_mode on a pool of `slots` parts, with small reads, a shallow
 * queue and one registered file slot so that requests wait and split. */
void env_open(struct env *e, ecrup_io_backend backend, unsigned slots);
void env_close(struct env *e);

/* Read one range synchronously; returns the completion's error. */
int read_range(struct env *e, struct io_file *f, uint64_t off, size_t len, unsigned char *out,
               size_t *got);

/* Read the whole file part by part with every slot in use, as the engine would, and compare. */
void read_whole(struct env *e, const char *path, const unsigned char *data, size_t size);

/* An unprivileged uid of this process's own, for a child that must not be root. */
uid_t unprivileged_id(void);

/* Whether the scratch directory's file system takes O_DIRECT reads. */
bool direct_supported(void);

/* Whether io_uring can be set up here (says why not on stderr). */
int uring_available(void);

#endif
