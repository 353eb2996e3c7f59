/* engine/workers.c: every task runs exactly once, urgent tasks overtake queued background
 * ones, tasks that share a run_pair run two at a time when no worker is idle, and free runs
 * what is still queued before joining. */
#include "test.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <unistd.h>

#include "engine/workers.h"

struct task {
    struct worker_task w;
    int id;
    atomic_int runs;
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cond = PTHREAD_COND_INITIALIZER;
static int order[64];
static int n_order;
static bool gate_open;

static void record(struct worker_task *w)
{
    struct task *t = (struct task *)w;
    atomic_fetch_add(&t->runs, 1);
    pthread_mutex_lock(&lock);
    order[n_order++] = t->id;
    pthread_mutex_unlock(&lock);
}

/* Holds the only worker until the test has queued everything. */
static void gate(struct worker_task *w)
{
    record(w);
    pthread_mutex_lock(&lock);
    while (!gate_open)
        pthread_cond_wait(&cond, &lock);
    pthread_mutex_unlock(&lock);
}

/* Wait until the gate task is running, so the queue order after it is what decides. */
static void wait_for_gate(void)
{
    for (int i = 0; i < 2000; i++) {
        pthread_mutex_lock(&lock);
        int n = n_order;
        pthread_mutex_unlock(&lock);
        if (n)
            return;
        usleep(1000);
    }
}

static void test_priority_and_drain(void)
{
    struct workers *w = workers_new(1);
    REQUIRE(w != NULL);
    CHECK_EQ_INT(workers_count(w), 1);
    struct task g = {.w.run = gate, .id = 0};
    workers_submit(w, &g.w, false);
    wait_for_gate();
    struct task t[6];
    for (int i = 0; i < 6; i++) {
        t[i] = (struct task){.w.run = record, .id = i + 1};
        atomic_init(&t[i].runs, 0);
        workers_submit(w, &t[i].w, i >= 3); /* 1..3 background, 4..6 urgent */
    }
    pthread_mutex_lock(&lock);
    gate_open = true;
    pthread_cond_broadcast(&cond);
    pthread_mutex_unlock(&lock);
    workers_free(w); /* runs everything queued first */
    for (int i = 0; i < 6; i++)
        CHECK_EQ_INT(atomic_load(&t[i].runs), 1);
    static const int want[] = {0, 4, 5, 6, 1, 2, 3};
    CHECK_EQ_INT(n_order, 7);
    for (int i = 0; i < 7 && i < n_order; i++)
        CHECK_EQ_INT(order[i], want[i]);
}

static void test_many_threads(void)
{
    struct workers *w = workers_new(0);
    REQUIRE(w != NULL);
    CHECK(workers_count(w) >= 1);
    static struct task t[50];
    n_order = 0;
    for (int i = 0; i < 50; i++) {
        t[i] = (struct task){.w.run = record, .id = i};
        atomic_init(&t[i].runs, 0);
        workers_submit(w, &t[i].w, i % 2);
    }
    workers_free(w);
    for (int i = 0; i < 50; i++)
        CHECK_EQ_INT(atomic_load(&t[i].runs), 1);
    CHECK_EQ_INT(n_order, 50);
}

static int pairs[32][2];
static int n_pairs;

static void record_pair(struct worker_task *a, struct worker_task *b)
{
    record(a);
    record(b);
    pthread_mutex_lock(&lock);
    pairs[n_pairs][0] = ((struct task *)a)->id;
    pairs[n_pairs][1] = ((struct task *)b)->id;
    n_pairs++;
    pthread_mutex_unlock(&lock);
}

static void other_pair(struct worker_task *a, struct worker_task *b)
{
    record_pair(a, b);
}

/* With the only worker busy, queued tasks that share a run_pair go two at a time, in queue
 * order; a task without run_pair, or with another one, is never paired across. */
static void test_pairs(void)
{
    n_order = 0;
    gate_open = false;
    struct workers *w = workers_new(1);
    REQUIRE(w != NULL);
    struct task g = {.w.run = gate, .id = 0};
    workers_submit(w, &g.w, true);
    wait_for_gate();
    /* ids 1..9: P P P x P Q Q P P (P: record_pair, Q: other_pair, x: no pairing) */
    static const char kinds[] = "PPPxPQQPP";
    struct task t[9];
    for (int i = 0; i < 9; i++) {
        t[i] = (struct task){.w.run = record, .id = i + 1};
        t[i].w.run_pair = kinds[i] == 'P' ? record_pair : kinds[i] == 'Q' ? other_pair : NULL;
        atomic_init(&t[i].runs, 0);
        workers_submit(w, &t[i].w, true);
    }
    pthread_mutex_lock(&lock);
    gate_open = true;
    pthread_cond_broadcast(&cond);
    pthread_mutex_unlock(&lock);
    workers_free(w);
    for (int i = 0; i < 9; i++)
        CHECK_EQ_INT(atomic_load(&t[i].runs), 1);
    /* 1+2 paired, 3 alone (4 cannot pair), 4 alone, 5 alone (6 is another kind), 6+7, 8+9 */
    static const int want[][2] = {{1, 2}, {6, 7}, {8, 9}};
    CHECK_EQ_INT(n_pairs, 3);
    for (int i = 0; i < 3 && i < n_pairs; i++) {
        CHECK_EQ_INT(pairs[i][0], want[i][0]);
        CHECK_EQ_INT(pairs[i][1], want[i][1]);
    }
    CHECK_EQ_INT(n_order, 10);
    for (int i = 0; i < 10 && i < n_order; i++)
        CHECK_EQ_INT(order[i], i);
}

int main(void)
{
    test_priority_and_drain();
    test_pairs();
    test_many_threads();
    return test_finish("test_workers");
}
