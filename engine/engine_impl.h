/* The engine handle's insides, shared by api.c (the public calls), scheduler.c (the run),
 * context.c (the transfer configuration) and image.c (PutImage).
 * Threads: everything belongs to the thread that owns the engine, except `cancelled` and
 * `wake_fd`, which ecrup_engine_cancel() touches from any thread or a signal handler. */
#ifndef ECRUP_ENGINE_ENGINE_IMPL_H
#define ECRUP_ENGINE_ENGINE_IMPL_H

#include <ecrup.h>
#include <stdatomic.h>
#include <stdbool.h>

#include "engine/context.h"
#include "engine/transfer.h"

struct layer_entry {
    struct ecrup_layer layer; /* strings owned */
    struct ecrup_result result;
    char digest[72];     /* "sha256:<hex>", given or computed; result.digest points here */
    char exception[128]; /* result.exception points here on failure */
    char message[512];   /* result.message points here on failure */
};

struct ecrup_engine {
    struct ecrup_options options; /* string fields owned */
    struct ecr_context ctx;       /* region, endpoint, credentials: resolved at creation */
    bool ctx_ready;
    ecrup_retry_mode retry_mode; /* resolved from options and the environment */
    unsigned max_attempts;
    struct layer_entry **layers; /* each allocated alone: results stay put as layers are added */
    size_t n_layers, cap_layers;
    size_t run_from; /* layers before this one were run by an earlier ecrup_engine_run() */
    atomic_bool cancelled;
    int wake_fd; /* eventfd: ecrup_engine_cancel() writes it to wake the engine thread */
    bool running;
};

/* A transfer's configuration from the engine: its target, credentials, clock, signing keys
 * and retry policy, one INFO log line per attempt; no quota, no limiter (context.c). */
struct transfer_config engine_transfer_config(struct ecrup_engine *e);

/* Upload the layers queued since the last run, e->layers[e->run_from..n_layers) (scheduler.c).
 * Called by ecrup_engine_run(). */
ecrup_status engine_run_layers(struct ecrup_engine *e);

#endif
