/* The part-buffer pool: geometry from the memory limit, alignment, fail-fast acquire, the warm
 * slot handed out first, trimming, shutdown, and many threads sharing few slots. */
#include "io/bufpool.h"
#include "test.h"

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <unistd.h>

static void test_geometry(void)
{
    size_t ps = (size_t)sysconf(_SC_PAGESIZE);
    size_t part = (10u << 20) + 1;
    /* Independent arithmetic: the part rounded up to whole pages. */
    size_t stride = (part + ps - 1) / ps * ps;
    CHECK_EQ_INT(io_bufpool_slot_bytes(part), stride);
    CHECK_EQ_INT(io_bufpool_slots_for(512ull << 20, part), (512ull << 20) / stride);
    CHECK_EQ_INT(io_bufpool_slots_for(0, part), (512ull << 20) / stride);
    CHECK_EQ_INT(io_bufpool_slots_for(stride - 1, part), 0);
    CHECK_EQ_INT(io_bufpool_slots_for(stride, part), 1);
    CHECK_EQ_INT(io_bufpool_slots_for(1ull << 50, 4096), IO_BUFPOOL_MAX_SLOTS);
    CHECK_EQ_INT(io_bufpool_slots_for(1 << 20, 0), 0);
    CHECK_EQ_INT(io_bufpool_slot_bytes(1), ps);
    CHECK_EQ_INT(io_bufpool_slot_bytes(SIZE_MAX), 0);

    struct io_bufpool *p = NULL;
    struct io_bufpool_options o = {.part_size = part, .memory_limit = stride - 1};
    CHECK_EQ_INT(io_bufpool_new(&o, &p), -EINVAL);
    CHECK(p == NULL);
    o.memory_limit = 0;
    o.part_size = 0;
    CHECK_EQ_INT(io_bufpool_new(&o, &p), -EINVAL);
    o.part_size = 4096;
    o.slots = IO_BUFPOOL_MAX_SLOTS + 1;
    CHECK_EQ_INT(io_bufpool_new(&o, &p), -EINVAL);

    /* The count follows the limit. */
    o = (struct io_bufpool_options){.part_size = 100000,
                                    .memory_limit = 3 * io_bufpool_slot_bytes(100000) + 5000};
    REQUIRE(io_bufpool_new(&o, &p) == 0);
    CHECK_EQ_INT(io_bufpool_count(p), 3);
    CHECK_EQ_INT(io_bufpool_available(p), 3);
    CHECK(io_bufpool_slot(p, 3) == NULL);
    /* Alignment, capacities, and areas that do not overlap. */
    for (unsigned i = 0; i < 3; i++) {
        struct io_slot *s = io_bufpool_slot(p, i);
        REQUIRE(s != NULL);
        CHECK_EQ_INT(s->index, i);
        CHECK_EQ_INT((uintptr_t)s->raw % ps, 0);
        CHECK_EQ_INT(s->raw_cap, 100000);
        if (i + 1 < 3)
            CHECK(io_bufpool_slot(p, i + 1)->raw >= s->raw + s->raw_cap);
        /* Every byte is writable. */
        memset(s->raw, (int)i + 1, s->raw_cap);
    }
    for (unsigned i = 0; i < 3; i++) {
        struct io_slot *s = io_bufpool_slot(p, i);
        CHECK(s->raw[0] == i + 1 && s->raw[s->raw_cap - 1] == i + 1);
    }
    io_bufpool_free(p);

    /* An exact count overrides the limit. */
    o = (struct io_bufpool_options){.part_size = 5000, .slots = 7};
    REQUIRE(io_bufpool_new(&o, &p) == 0);
    CHECK_EQ_INT(io_bufpool_count(p), 7);
    CHECK_EQ_INT(io_bufpool_slot(p, 6)->raw_cap, 5000);
    io_bufpool_free(p);
    io_bufpool_free(NULL);
}

static void test_fail_fast(void)
{
    struct io_bufpool *p;
    struct io_bufpool_options o = {.part_size = 8192, .slots = 2};
    REQUIRE(io_bufpool_new(&o, &p) == 0);
    struct io_slot *a, *b, *c;
    CHECK_EQ_INT(io_bufpool_acquire(p, &a), 0);
    CHECK_EQ_INT(io_bufpool_acquire(p, &b), 0);
    REQUIRE(a && b && a != b);
    CHECK_EQ_INT(io_bufpool_available(p), 0);
    c = a;
    CHECK_EQ_INT(io_bufpool_acquire(p, &c), -EAGAIN);
    CHECK(c == NULL);

    a->raw_len = 10;
    a->user = &o;
    io_bufpool_release(p, a);
    CHECK_EQ_INT(io_bufpool_available(p), 1);
    CHECK_EQ_INT(io_bufpool_acquire(p, &c), 0);
    CHECK(c == a); /* the warm slot comes back first */
    CHECK_EQ_INT(c->raw_len, 0);
    CHECK(c->user == NULL);
    io_bufpool_release(p, b);
    io_bufpool_release(p, c);
    CHECK_EQ_INT(io_bufpool_available(p), 2);
    io_bufpool_free(p);
}

static bool all_bytes(const struct io_slot *s, unsigned char v)
{
    for (size_t i = 0; i < s->raw_cap; i++)
        if (s->raw[i] != v)
            return false;
    return true;
}

/* Trimming gives free slots' pages back (they read as zeros after), and every slot released
 * later; held and pinned slots keep their bytes; the pool hands out every slot as before. */
static void test_trim(void)
{
    struct io_bufpool *p;
    struct io_bufpool_options o = {.part_size = 8192 + 4096, .slots = 5};
    REQUIRE(io_bufpool_new(&o, &p) == 0);
    struct io_slot *s[5];
    for (int i = 0; i < 4; i++) {
        REQUIRE(io_bufpool_acquire(p, &s[i]) == 0);
        memset(s[i]->raw, 0xab, s[i]->raw_cap);
    }
    unsigned never_used = 0;
    for (unsigned k = 0; k < 5; k++) {
        bool taken = false;
        for (int i = 0; i < 4; i++)
            taken = taken || s[i]->index == k;
        if (!taken)
            never_used = k;
    }
    unsigned pinned = s[2]->index;
    io_bufpool_mark_pinned(p, pinned);
    io_bufpool_release(p, s[0]);
    io_bufpool_release(p, s[2]);
    io_bufpool_trim(p);
    CHECK_EQ_INT(io_bufpool_available(p), 3);
    CHECK(all_bytes(s[1], 0xab)); /* held: untouched */
    CHECK(all_bytes(s[3], 0xab));
    io_bufpool_release(p, s[1]); /* released while trimming: its pages go back too */
    io_bufpool_release(p, s[3]);
    bool seen[5] = {false};
    for (int n = 0; n < 5; n++) {
        struct io_slot *t;
        REQUIRE(io_bufpool_acquire(p, &t) == 0);
        REQUIRE(t->index < 5 && !seen[t->index]);
        seen[t->index] = true;
        if (t->index == pinned)
            CHECK(all_bytes(t, 0xab)); /* pinned: the kernel's pages, kept */
        else
            CHECK(all_bytes(t, 0)); /* returned (or never touched): zero pages again */
        if (t->index == never_used)
            CHECK(all_bytes(t, 0));
        memset(t->raw, 0x5a, t->raw_cap); /* usable as before */
        s[n] = t;
    }
    for (int n = 0; n < 5; n++)
        io_bufpool_release(p, s[n]);
    CHECK_EQ_INT(io_bufpool_available(p), 5);
    io_bufpool_free(p);
}

/* After shutdown every acquire fails with -ECANCELED, free slots or not, and release still
 * works. */
static void test_shutdown(void)
{
    struct io_bufpool *p;
    struct io_bufpool_options o = {.part_size = 4096, .slots = 2};
    REQUIRE(io_bufpool_new(&o, &p) == 0);
    struct io_slot *held;
    REQUIRE(io_bufpool_acquire(p, &held) == 0);
    io_bufpool_shutdown(p);
    struct io_slot *s = held;
    CHECK_EQ_INT(io_bufpool_available(p), 1);
    CHECK_EQ_INT(io_bufpool_acquire(p, &s), -ECANCELED);
    CHECK(s == NULL);
    io_bufpool_release(p, held);
    CHECK_EQ_INT(io_bufpool_available(p), 2);
    CHECK_EQ_INT(io_bufpool_acquire(p, &s), -ECANCELED);
    CHECK(s == NULL);
    io_bufpool_free(p);
}

/* Many threads, few slots: a slot is never held twice, and nothing is lost. */
#define STRESS_THREADS 4
#define STRESS_ROUNDS  3000
struct stress {
    struct io_bufpool *pool;
    atomic_int holders[3];
    atomic_int violations;
    unsigned seed;
};

static void *stress_thread(void *arg)
{
    struct stress *s = arg;
    uint64_t rng = (uint64_t)pthread_self() | 1;
    for (int i = 0; i < STRESS_ROUNDS; i++) {
        struct io_slot *slot;
        int rc = io_bufpool_acquire(s->pool, &slot);
        if (rc == -EAGAIN) {
            if (test_rand(&rng) & 1)
                sched_yield();
            continue;
        }
        if (rc != 0) {
            atomic_fetch_add(&s->violations, 1);
            continue;
        }
        if (atomic_fetch_add(&s->holders[slot->index], 1) != 0)
            atomic_fetch_add(&s->violations, 1);
        slot->raw[0] = (unsigned char)i;
        atomic_fetch_sub(&s->holders[slot->index], 1);
        io_bufpool_release(s->pool, slot);
    }
    return NULL;
}

static void test_stress(void)
{
    struct stress s = {0};
    struct io_bufpool_options o = {.part_size = 4096, .slots = 3};
    REQUIRE(io_bufpool_new(&o, &s.pool) == 0);
    pthread_t t[STRESS_THREADS];
    for (int i = 0; i < STRESS_THREADS; i++)
        REQUIRE(pthread_create(&t[i], NULL, stress_thread, &s) == 0);
    for (int i = 0; i < STRESS_THREADS; i++)
        pthread_join(t[i], NULL);
    CHECK_EQ_INT(atomic_load(&s.violations), 0);
    CHECK_EQ_INT(io_bufpool_available(s.pool), 3);
    io_bufpool_free(s.pool);
}

int main(void)
{
    test_geometry();
    test_fail_fast();
    test_trim();
    test_shutdown();
    test_stress();
    return test_finish("test_io_bufpool");
}
