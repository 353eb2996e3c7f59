/* The public engine handle: options, queued layers and their result records. The run itself
 * is the scheduler's (scheduler.c, docs/engine.md). */
#include <ecrup.h>

#include "engine/engine_impl.h"
#include "engine/retry.h"
#include "util/hex.h"

#include <curl/curl.h>
#include <errno.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

ecrup_status ecrup_global_init(void)
{
    return curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK ? ECRUP_OK : ECRUP_E_INTERNAL;
}

void ecrup_global_cleanup(void)
{
    curl_global_cleanup();
}

void ecrup_options_init(struct ecrup_options *options)
{
    memset(options, 0, sizeof *options);
}

static void set_error(struct ecrup_error *error, ecrup_status status, const char *message)
{
    if (!error)
        return;
    error->status = status;
    snprintf(error->message, sizeof error->message, "%s", message);
}

/* Copy src into *dst; false when out of memory. */
static bool dup_field(const char **dst, const char *src)
{
    *dst = src ? strdup(src) : NULL;
    return !src || *dst;
}

static void free_options(struct ecrup_options *o)
{
    const char **fields[] = {&o->region,        &o->endpoint_url,      &o->profile,
                             &o->access_key_id, &o->secret_access_key, &o->session_token,
                             &o->ca_bundle,     &o->state_dir};
    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++) {
        free((void *)(uintptr_t)*fields[i]);
        *fields[i] = NULL;
    }
}

ecrup_status ecrup_engine_new(const struct ecrup_options *options, struct ecrup_engine **engine,
                              struct ecrup_error *error)
{
    if (!engine) {
        set_error(error, ECRUP_E_INVALID_ARGUMENT, "engine must not be NULL");
        return ECRUP_E_INVALID_ARGUMENT;
    }
    *engine = NULL;
    struct ecrup_engine *e = calloc(1, sizeof *e);
    if (!e) {
        set_error(error, ECRUP_E_NOMEM, "out of memory");
        return ECRUP_E_NOMEM;
    }
    e->wake_fd = -1;
    struct ecrup_options defaults;
    ecrup_options_init(&defaults);
    const struct ecrup_options *in = options ? options : &defaults;
    struct ecrup_options *o = &e->options;
    *o = *in;
    o->region = o->endpoint_url = o->profile = NULL;
    o->access_key_id = o->secret_access_key = o->session_token = o->ca_bundle = NULL;
    o->state_dir = NULL;
    bool ok = dup_field(&o->region, in->region) && dup_field(&o->endpoint_url, in->endpoint_url) &&
              dup_field(&o->profile, in->profile) &&
              dup_field(&o->access_key_id, in->access_key_id) &&
              dup_field(&o->secret_access_key, in->secret_access_key) &&
              dup_field(&o->session_token, in->session_token) &&
              dup_field(&o->ca_bundle, in->ca_bundle) && dup_field(&o->state_dir, in->state_dir);
    if (!ok) {
        ecrup_engine_free(e);
        set_error(error, ECRUP_E_NOMEM, "out of memory");
        return ECRUP_E_NOMEM;
    }
    if ((o->access_key_id == NULL) != (o->secret_access_key == NULL)) {
        ecrup_engine_free(e);
        set_error(error, ECRUP_E_INVALID_ARGUMENT,
                  "access_key_id and secret_access_key must be given together");
        return ECRUP_E_INVALID_ARGUMENT;
    }
    atomic_init(&e->cancelled, false);
    e->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (e->wake_fd < 0) {
        set_error(error, ECRUP_E_INTERNAL, "cannot create an eventfd");
        ecrup_engine_free(e);
        return ECRUP_E_INTERNAL;
    }
    char rmsg[256] = "";
    ecrup_status rst = retry_config_resolve(o->retry_mode, o->max_attempts, NULL, &e->retry_mode,
                                            &e->max_attempts, rmsg, sizeof rmsg);
    if (rst != ECRUP_OK) {
        set_error(error, rst, rmsg[0] ? rmsg : ecrup_strerror(rst));
        ecrup_engine_free(e);
        return rst;
    }
    struct ebuf msg = EBUF_INIT;
    ecrup_status st = ecr_context_init(&e->ctx, &e->options, NULL, &msg);
    if (st != ECRUP_OK) {
        set_error(error, st, msg.len ? ebuf_str(&msg) : ecrup_strerror(st));
        ebuf_free(&msg);
        ecr_context_cleanup(&e->ctx);
        ecrup_engine_free(e);
        return st;
    }
    ebuf_free(&msg);
    e->ctx_ready = true;
    *engine = e;
    set_error(error, ECRUP_OK, "");
    return ECRUP_OK;
}

static void layer_entry_free(struct layer_entry *le)
{
    if (!le)
        return;
    free((void *)(uintptr_t)le->layer.path);
    free((void *)(uintptr_t)le->layer.repository);
    free((void *)(uintptr_t)le->layer.registry_id);
    free((void *)(uintptr_t)le->layer.digest);
    free(le);
}

ecrup_status ecrup_engine_add_layer(struct ecrup_engine *engine, const struct ecrup_layer *layer,
                                    uint64_t *layer_id)
{
    if (!engine || !layer || !layer->path || !layer->repository || engine->running)
        return ECRUP_E_INVALID_ARGUMENT;
    if (layer->digest && !sha256_digest_valid(layer->digest))
        return ECRUP_E_INVALID_ARGUMENT;
    if (layer->read && (layer->offset || layer->length))
        return ECRUP_E_INVALID_ARGUMENT; /* a stream has no file to take a range of */
    if (engine->n_layers == engine->cap_layers) {
        size_t cap = engine->cap_layers ? engine->cap_layers * 2 : 8;
        struct layer_entry **p = realloc(engine->layers, cap * sizeof *p);
        if (!p)
            return ECRUP_E_NOMEM;
        engine->layers = p;
        engine->cap_layers = cap;
    }
    struct layer_entry *le = calloc(1, sizeof *le);
    if (!le)
        return ECRUP_E_NOMEM;
    le->layer = *layer;
    le->layer.registry_id = NULL;
    le->layer.digest = NULL;
    le->layer.path = strdup(layer->path);
    le->layer.repository = strdup(layer->repository);
    bool ok = le->layer.path && le->layer.repository;
    if (ok && layer->registry_id)
        ok = (le->layer.registry_id = strdup(layer->registry_id)) != NULL;
    if (ok && layer->digest)
        ok = (le->layer.digest = strdup(layer->digest)) != NULL;
    if (!ok) {
        layer_entry_free(le);
        return ECRUP_E_NOMEM;
    }
    uint64_t id = engine->n_layers;
    le->result.layer_id = id;
    le->result.layer_user = layer->user;
    le->result.path = le->layer.path;
    le->result.digest = le->layer.digest;
    le->result.outcome = ECRUP_OUTCOME_PENDING;
    engine->layers[engine->n_layers++] = le;
    if (layer_id)
        *layer_id = id;
    return ECRUP_OK;
}

ecrup_status ecrup_engine_run(struct ecrup_engine *engine)
{
    if (!engine || engine->running)
        return ECRUP_E_INVALID_ARGUMENT;
    engine->running = true;
    ecrup_status st = engine_run_layers(engine);
    engine->run_from = engine->n_layers;
    engine->running = false;
    return st;
}

/* Async-signal-safe: an atomic store and write(2). */
void ecrup_engine_cancel(struct ecrup_engine *engine)
{
    if (!engine)
        return;
    int saved = errno;
    atomic_store(&engine->cancelled, true);
    uint64_t one = 1;
    if (engine->wake_fd >= 0) {
        ssize_t w = write(engine->wake_fd, &one, sizeof one);
        (void)w;
    }
    errno = saved;
}

size_t ecrup_engine_result_count(const struct ecrup_engine *engine)
{
    return engine ? engine->n_layers : 0;
}

const struct ecrup_result *ecrup_engine_result(const struct ecrup_engine *engine, size_t index)
{
    if (!engine || index >= engine->n_layers)
        return NULL;
    return &engine->layers[index]->result;
}

void ecrup_engine_free(struct ecrup_engine *engine)
{
    if (!engine)
        return;
    for (size_t i = 0; i < engine->n_layers; i++)
        layer_entry_free(engine->layers[i]);
    free(engine->layers);
    if (engine->wake_fd >= 0)
        close(engine->wake_fd);
    if (engine->ctx_ready)
        ecr_context_cleanup(&engine->ctx);
    free_options(&engine->options);
    free(engine);
}
