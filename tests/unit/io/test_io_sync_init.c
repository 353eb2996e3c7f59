/* io/'s mutex and condition variable set-up failing: io_bufpool_new and the pread backend's
 * init return the error as a negative errno, leave nothing behind (*pool and *reader NULL; the ASan
 * build's leak check covers the memory) and work again once set-up succeeds. This program is
 * linked with --wrap=pthread_mutex_init,--wrap=pthread_cond_init so that a test can make the
 * next call fail; every other call goes to the real one. */
#include "io/reader.h"
#include "test.h"

#include <errno.h>
#include <pthread.h>

int __real_pthread_mutex_init(pthread_mutex_t *m, const pthread_mutexattr_t *a);
int __wrap_pthread_mutex_init(pthread_mutex_t *m, const pthread_mutexattr_t *a);
int __real_pthread_cond_init(pthread_cond_t *c, const pthread_condattr_t *a);
int __wrap_pthread_cond_init(pthread_cond_t *c, const pthread_condattr_t *a);

static int fail_mutex, fail_cond; /* errno for the next call to return; 0: the real call */

int __wrap_pthread_mutex_init(pthread_mutex_t *m, const pthread_mutexattr_t *a)
{
    int e = fail_mutex;
    fail_mutex = 0;
    return e ? e : __real_pthread_mutex_init(m, a);
}

int __wrap_pthread_cond_init(pthread_cond_t *c, const pthread_condattr_t *a)
{
    int e = fail_cond;
    fail_cond = 0;
    return e ? e : __real_pthread_cond_init(c, a);
}

static void test_bufpool(void)
{
    struct io_bufpool_options o = {.part_size = 4096, .slots = 2};
    struct io_bufpool *p = (struct io_bufpool *)&o;
    fail_mutex = EAGAIN;
    CHECK_EQ_INT(io_bufpool_new(&o, &p), -EAGAIN);
    CHECK(p == NULL);
    CHECK_EQ_INT(fail_mutex, 0); /* the failure was the pool's own init */
    REQUIRE(io_bufpool_new(&o, &p) == 0);
    struct io_slot *s;
    CHECK_EQ_INT(io_bufpool_acquire(p, &s), 0);
    io_bufpool_release(p, s);
    io_bufpool_free(p);
}

static void test_pread(void)
{
    struct io_bufpool_options po = {.part_size = 4096, .slots = 1};
    struct io_bufpool *pool;
    REQUIRE(io_bufpool_new(&po, &pool) == 0);
    struct io_reader_options ro = {.backend = ECRUP_IO_PREAD, .direct = IO_DIRECT_OFF};
    struct io_reader *r = (struct io_reader *)&ro;

    fail_mutex = ENOMEM;
    CHECK_EQ_INT(io_reader_new(&ro, pool, &r), -ENOMEM);
    CHECK(r == NULL);
    CHECK_EQ_INT(fail_mutex, 0);

    r = (struct io_reader *)&ro;
    fail_cond = EAGAIN;
    CHECK_EQ_INT(io_reader_new(&ro, pool, &r), -EAGAIN);
    CHECK(r == NULL);
    CHECK_EQ_INT(fail_cond, 0);

    REQUIRE(io_reader_new(&ro, pool, &r) == 0);
    CHECK_EQ_INT(io_reader_backend(r), ECRUP_IO_PREAD);
    io_reader_free(r);
    io_bufpool_free(pool);
}

int main(void)
{
    test_bufpool();
    test_pread();
    return test_finish("test_io_sync_init");
}
