/* The io_uring backend when its ring has no free entry for the next read: it submits what is
 * prepared to make room, and when that submit fails the read's request fails with the submit's
 * error instead of the backend writing through a NULL SQE. The ring cannot fill through the
 * public API (it has at least as many entries as read ops exist), so this program is linked with
 * --wrap: io_uring_queue_init makes a 2-entry submission ring under a reader of 8 ops in flight,
 * and io_uring_submit can be told to fail. Asserted:
 *  - with a tiny ring and submits that work, a request cut into 8 reads gets every byte right;
 *  - when the submit that was to make room fails, the request completes with that error, the
 *    reads already in the ring still complete (nothing leaks: io_reader_free, which waits for
 *    every op, returns), and the next request reads every byte right.
 * Exits 77 when io_uring cannot be set up here. */
#include "io/reader.h"
#include "test.h"

#include <errno.h>
#include <fcntl.h>
#include <liburing.h>
#include <unistd.h>

#define READ_SIZE (64u << 10)
#define LENGTH    (8 * READ_SIZE)

int __wrap_io_uring_queue_init(unsigned entries, struct io_uring *ring, unsigned flags);
int __real_io_uring_submit(struct io_uring *ring);
int __wrap_io_uring_submit(struct io_uring *ring);

static int submits_to_fail; /* the next this many submits fail with -EBUSY, submitting nothing */
static int submits_failed;

/* Two submission entries; the completion queue keeps room for every op, as the backend's own
 * ring does (a completion in the kernel's overflow list would wait for an io_uring_enter). */
int __wrap_io_uring_queue_init(unsigned entries, struct io_uring *ring, unsigned flags)
{
    struct io_uring_params p = {.flags = flags | IORING_SETUP_CQSIZE, .cq_entries = 2 * entries};
    return io_uring_queue_init_params(2, ring, &p);
}

int __wrap_io_uring_submit(struct io_uring *ring)
{
    if (submits_to_fail > 0) {
        submits_to_fail--;
        submits_failed++;
        return -EBUSY;
    }
    return __real_io_uring_submit(ring);
}

static int read_once(struct io_reader *reader, struct io_bufpool *pool, struct io_file *f,
                     const unsigned char *data, size_t *bytes)
{
    struct io_slot *slot;
    REQUIRE(io_bufpool_acquire(pool, &slot) == 0);
    memset(slot->raw, 0, LENGTH);
    REQUIRE(io_reader_submit(reader, f, 0, LENGTH, slot, NULL) == 0);
    struct io_completion c;
    REQUIRE(io_reader_wait(reader, &c, 1, 10000) == 1);
    CHECK(c.slot == slot);
    CHECK(c.bytes <= LENGTH);
    if (!c.error)
        CHECK(memcmp(slot->raw, data, LENGTH) == 0);
    *bytes = c.bytes;
    io_bufpool_release(pool, slot);
    CHECK_EQ_INT(io_reader_pending(reader), 0);
    return c.error;
}

int main(void)
{
    char path[] = "/tmp/ecrup-uring-full-XXXXXX";
    int fd = mkstemp(path);
    REQUIRE(fd >= 0);
    static unsigned char data[LENGTH];
    uint64_t rng = 42;
    test_rand_bytes(&rng, data, sizeof(data));
    REQUIRE(write(fd, data, sizeof(data)) == (ssize_t)sizeof(data));
    close(fd);

    struct io_bufpool *pool;
    struct io_bufpool_options po = {.part_size = LENGTH, .slots = 1};
    REQUIRE(io_bufpool_new(&po, &pool) == 0);
    struct io_reader_options ro = {.backend = ECRUP_IO_URING,
                                   .queue_depth = 8,
                                   .file_depth = 8,
                                   .read_size = READ_SIZE,
                                   .direct = IO_DIRECT_OFF};
    struct io_reader *reader;
    int rc = io_reader_new(&ro, pool, &reader);
    if (rc) {
        fprintf(stderr, "io_uring cannot be set up here: %s\n", strerror(-rc));
        io_bufpool_free(pool);
        unlink(path);
        return TEST_SKIP;
    }
    struct io_file *f;
    REQUIRE(io_reader_open(reader, path, &f) == 0);

    size_t bytes;
    CHECK_EQ_INT(read_once(reader, pool, f, data, &bytes), 0);
    CHECK_EQ_INT(bytes, LENGTH);

    submits_to_fail = 1;
    CHECK_EQ_INT(read_once(reader, pool, f, data, &bytes), -EBUSY);
    CHECK_EQ_INT(submits_failed, 1);
    CHECK_EQ_INT(bytes, 2 * READ_SIZE); /* the two reads the ring held still completed */

    CHECK_EQ_INT(read_once(reader, pool, f, data, &bytes), 0);
    CHECK_EQ_INT(bytes, LENGTH);

    CHECK_EQ_INT(io_reader_close(reader, f), 0);
    io_reader_free(reader);
    io_bufpool_free(pool);
    unlink(path);
    return test_finish("test_io_uring_full");
}
