/* A small pool of worker threads for the CPU work of the pipeline: preparing part bodies
 * (payload_write: raw SHA-256, base64, body SHA-256) and hashing whole layer files.
 *
 * Two queues: urgent tasks (part bodies, which keep connections busy) always run before
 * background tasks (whole-file hashes, which only feed BatchCheckLayerAvailability), so a
 * long hash never delays the next part of a flying layer behind it.
 *
 * Threads: workers_submit() from any thread; a task's `run` executes on a worker thread and
 * owns the task until it returns (it usually posts its result back to the engine thread).
 * workers_new/workers_free belong to one owner thread. */
#ifndef ECRUP_ENGINE_WORKERS_H
#define ECRUP_ENGINE_WORKERS_H

#include <stdbool.h>

struct worker_task {
    void (*run)(struct worker_task *task);
    /* Optional: runs two tasks of the same kind together for less than two runs cost (part
     * bodies hashed side by side). A worker takes two queued tasks with the same run_pair
     * only when no other worker is idle, so pairing never leaves a core without work. */
    void (*run_pair)(struct worker_task *a, struct worker_task *b);
    struct worker_task *next; /* the pool's */
};

struct workers;

/* Start `threads` workers (0: one per online core). Returns NULL on failure. */
struct workers *workers_new(unsigned threads);

/* The number of threads running. Any thread. */
unsigned workers_count(const struct workers *w);

/* Queue a task; `urgent` tasks run before every queued background task. Any thread. */
void workers_submit(struct workers *w, struct worker_task *task, bool urgent);

/* Run every queued task to the end, then stop and join the threads. NULL does nothing. */
void workers_free(struct workers *w);

#endif
