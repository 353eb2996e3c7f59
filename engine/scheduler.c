/* The scheduler: every layer's state machine, driven by one engine thread (the caller of
 * ecrup_engine_run). Other threads never touch layer state; they post events:
 *  - the transfer thread posts a finished xfer_job (its `done` callback),
 *  - prepare/hash workers post a finished task,
 *  - ecrup_engine_cancel() sets an atomic flag and writes the wake eventfd.
 * The engine thread sleeps in poll() on the wake eventfd and the reader's eventfd, and owns
 * the reader (io/reader.h: one owner thread), the buffer pool's acquisitions and every
 * transfer submission. docs/engine.md describes the life of a layer.
 *
 * Here: the events, each layer's steps and the handlers of their replies, admission, the pass
 * over every layer (advance), setup and teardown, and the run loop. A pushing layer's parts
 * are in parts.c, the batch checks in checks.c (scheduler_impl.h lists what each file gives
 * the others). */
#include "engine/scheduler_impl.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "engine/base64.h"
#include "engine/ecr_json.h"
#include "util/hex.h"

#define MAX_OPEN_LAYERS 128u /* layers holding descriptors at once (admitted, not done) */

double sched_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ---- events (any thread posts; the engine thread drains) ---- */

/* Any thread (workers and the transfer thread post their results). */
void sched_post(struct sched *s, struct event *ev)
{
    ev->next = NULL;
    pthread_mutex_lock(&s->ev_lock);
    if (s->ev_tail)
        s->ev_tail->next = ev;
    else
        s->ev_head = ev;
    s->ev_tail = ev;
    pthread_mutex_unlock(&s->ev_lock);
    uint64_t one = 1;
    ssize_t w = write(s->e->wake_fd, &one, sizeof one);
    (void)w; /* EAGAIN means the counter is already non-zero: the engine will wake */
}

/* Transfer thread: a job's outcome (the request itself stays in the job). */
void sched_post_xfer(struct sched *s, struct event *ev, const struct xfer_result *res)
{
    ev->ok = res->ok;
    ev->cancelled = res->cancelled;
    ev->last_class = res->last_class;
    ev->attempts = res->attempts;
    sched_post(s, ev);
}

static struct event *take_events(struct sched *s)
{
    pthread_mutex_lock(&s->ev_lock);
    struct event *ev = s->ev_head;
    s->ev_head = s->ev_tail = NULL;
    pthread_mutex_unlock(&s->ev_lock);
    return ev;
}

/* ---- the transfer side ---- */

/* Transfer thread: the layer's call ended; its event takes the outcome to the engine thread. */
static void layer_done_cb(struct xfer_job *job, const struct xfer_result *res)
{
    struct layer *l = job->user;
    sched_post_xfer(l->s, &l->ev, res);
}

/* Send `call` as the layer's job. */
static void layer_submit(struct layer *l, struct ecr_call call)
{
    l->job.call = call;
    l->inflight++;
    transfer_submit(l->s->xfer, &l->job);
}

void layer_submit_call(struct layer *l, const char *op, const char *body, size_t len,
                       const char *body_sha256)
{
    layer_submit(l,
                 (struct ecr_call){
                     .operation = op, .body = body, .body_len = len, .body_sha256 = body_sha256});
}

static size_t stream_read(void *user, char *dst, size_t cap)
{
    return payload_stream_read(user, dst, cap);
}

static void stream_rewind(void *user)
{
    payload_stream_rewind(user);
}

void layer_submit_stream(struct layer *l, const char *op, struct payload_stream *stream,
                         const char *body_sha256)
{
    layer_submit(l, (struct ecr_call){.operation = op,
                                      .body_len = stream->body_len,
                                      .body_sha256 = body_sha256,
                                      .reader = {stream_read, stream_rewind, stream}});
}

/* ---- workers ---- */

/* Worker thread: the layer's hash pass has ended. */
static void hash_done(struct hash_task *t)
{
    struct layer *l = t->user;
    sched_post(l->s, &l->hash_ev);
}

void layer_hash(struct layer *l, uint64_t off, uint64_t size, struct sha256_stream *into,
                bool urgent)
{
    struct hash_task *t = &l->hash;
    t->fd = l->fd;
    t->base = l->base + off;
    t->size = size;
    t->path = l->e->layer.path;
    t->id = &l->id0;
    t->cancelled = &l->s->e->cancelled;
    t->workers = l->s->workers;
    t->into = into;
    l->inflight++;
    hash_task_start(t, urgent);
}

static void start_hash(struct layer *l, enum lstate st)
{
    l->st = st;
    layer_set_phase(l, ECRUP_PHASE_HASHING);
    layer_hash(l, 0, l->size, NULL, false);
}

/* ---- the pool, made when the first InitiateLayerUpload tells the part size ---- */

/* ---- layer steps ---- */

static bool start_pushing(struct layer *l, uint64_t server_part);

static void start_initiate(struct layer *l)
{
    uint64_t part_size = 0, at = 0;
    if (resume_find(l, &part_size, &at)) {
        /* An earlier run's upload of this file: no InitiateLayerUpload, the next part goes
         * at the byte the registry confirmed (and the registry corrects it if it has more). */
        layer_set_phase(l, ECRUP_PHASE_PUSHING);
        if (!start_pushing(l, part_size))
            return;
        l->acked = l->next_off = at;
        if (l->raw_hash && at)
            l->hash_broken = true; /* hashed whole before CompleteLayerUpload */
        layer_progress(l, true);
        return;
    }
    if (!sched_take_token(l->s, &l->s->b_initiate))
        return;
    free(l->job_body);
    l->job_body = ecr_build_initiate(l->e->layer.repository, l->e->layer.registry_id);
    if (!l->job_body) {
        layer_fail(l, ECRUP_E_NOMEM, 0, "out of memory");
        return;
    }
    l->st = L_INITIATING;
    layer_set_phase(l, ECRUP_PHASE_PUSHING);
    layer_submit_call(l, "InitiateLayerUpload", l->job_body, strlen(l->job_body), NULL);
}

static void start_complete(struct layer *l)
{
    if (!sched_take_token(l->s, &l->s->b_complete))
        return;
    free(l->job_body);
    l->job_body = ecr_build_complete(l->e->layer.repository, l->e->layer.registry_id, l->upload_id,
                                     l->e->digest);
    if (!l->job_body) {
        layer_fail(l, ECRUP_E_NOMEM, 0, "out of memory");
        return;
    }
    l->st = L_COMPLETING;
    layer_set_phase(l, ECRUP_PHASE_COMPLETING);
    layer_submit_call(l, "CompleteLayerUpload", l->job_body, strlen(l->job_body), NULL);
}

void layer_set_digest(struct layer *l, const char *hex)
{
    snprintf(l->e->digest, sizeof l->e->digest, "sha256:%s", hex);
    l->e->result.digest = l->e->digest;
    l->digest_known = true;
}

/* All bytes are acknowledged: the digest must be whole before CompleteLayerUpload. */
static void parts_finished(struct layer *l)
{
    /* Every part may have been read before the file changed: what was sent is consistent, but
     * it is no longer the file the caller named, so the layer fails rather than completes. */
    if (!l->stream && file_id_check(&l->id0, l->fd, l->e->layer.path) != 0) {
        layer_fail_io(l, -ESTALE);
        return;
    }
    if (l->raw_hash && !l->hash_broken && l->hashed_off == l->size) {
        unsigned char d[32];
        char hex[65];
        if (sha256_stream_final(&l->md, d) != 0) {
            layer_fail(l, ECRUP_E_INTERNAL, 0, "SHA-256 failed");
            return;
        }
        hex_encode(d, sizeof d, hex);
        l->raw_hash = false;
        if (l->stream && l->e->layer.digest && strcmp(l->e->layer.digest + 7, hex) != 0) {
            layer_fail(l, ECRUP_E_DIGEST_MISMATCH, 0,
                       "%s: the stream's bytes have digest sha256:%s, not the %s given",
                       l->e->layer.path, hex, l->e->layer.digest);
            return;
        }
        layer_set_digest(l, hex);
    }
    if (l->stream && !l->digest_known) {
        /* stream_can_resume fails the layer before its running hash could break */
        layer_fail(l, ECRUP_E_INTERNAL, 0, "%s: the stream's digest is incomplete",
                   l->e->layer.path);
        return;
    }
    if (!l->digest_known) {
        sched_log(l->s, ECRUP_LOG_DEBUG, "layer %s: hashing again after a rewind",
                  l->e->layer.path);
        start_hash(l, L_REHASHING);
        return;
    }
    start_complete(l);
}

/* Open the layer's file in the reader; it must still be the file seen at admission. */
static bool open_in_reader(struct layer *l)
{
    if (l->file || l->stream)
        return true;
    int rc = io_reader_open(l->s->reader, l->e->layer.path, &l->file);
    if (rc != 0) {
        layer_fail_io(l, rc);
        return false;
    }
    if (file_id_check(&l->id0, l->fd, l->e->layer.path) != 0) {
        layer_fail_io(l, -ESTALE);
        return false;
    }
    return true;
}

static void on_initiated(struct layer *l, const struct event *ev)
{
    const struct ecr_request *req = &l->job.priv.req;
    free(l->job_body);
    l->job_body = NULL;
    if (!ev->ok) {
        if (layer_send_again_throttled(l, ev, L_READY))
            return;
        layer_fail_request(l, ev, &l->job);
        return;
    }
    uint64_t server_part = 0;
    if (ecr_parse_initiate(req->reply.data, req->reply.len, l->upload_id, sizeof l->upload_id,
                           &server_part) != 0) {
        layer_fail(l, ECRUP_E_PROTOCOL, req->http_status,
                   "InitiateLayerUpload: the reply has no uploadId or partSize");
        return;
    }
    if (start_pushing(l, server_part))
        resume_begun(l);
}

/* The upload l->upload_id is open, the service's part size `server_part`: plan the parts,
 * make the pool on the first upload, open the file in the reader, and push from byte 0. False
 * when the layer failed. */
static bool start_pushing(struct layer *l, uint64_t server_part)
{
    struct sched *s = l->s;
    /* The service's partSize is the most it takes per part (ECR: "the size ... Amazon ECR
     * expects future layer part uploads to be"): a larger part_size would only be refused,
     * part after part, so it is lowered to partSize up front; a smaller one is kept. */
    uint64_t wanted = s->o->part_size;
    if (wanted && server_part && wanted > server_part) {
        if (!s->part_size_warned) {
            s->part_size_warned = true;
            sched_log(s, ECRUP_LOG_WARN,
                      "part size %" PRIu64 " is larger than the %" PRIu64
                      " bytes the service asks for: using %" PRIu64,
                      wanted, server_part, server_part);
        }
        wanted = server_part;
    }
    ecrup_status st = l->stream ? stream_plan(l, wanted, server_part)
                                : plan_parts(l->size, wanted, server_part, &l->plan);
    if (st != ECRUP_OK) {
        layer_fail(l, st, 0, "layer file %s: %s", l->e->layer.path, ecrup_strerror(st));
        return false;
    }
    if (!s->pool && s->pool_status != ECRUP_OK) {
        layer_fail(l, s->pool_status, 0, "%s", s->pool_message);
        return false;
    }
    if (!s->pool) {
        struct ebuf msg = EBUF_INIT;
        st = parts_make_pool(s, &l->plan, &msg);
        if (st != ECRUP_OK) {
            s->pool_status = st;
            snprintf(s->pool_message, sizeof s->pool_message, "%s", ebuf_str(&msg));
            ebuf_free(&msg);
            layer_fail(l, st, 0, "%s", s->pool_message);
            return false;
        }
        ebuf_free(&msg);
    }
    if (l->plan.part_size > io_bufpool_slot(s->pool, 0)->raw_cap) {
        /* Parts as large as the buffers still fit ECR's rules for this layer? */
        size_t cap = io_bufpool_slot(s->pool, 0)->raw_cap;
        ecrup_status pst = l->stream ? stream_plan(l, cap, server_part)
                                     : plan_parts(l->size, cap, server_part, &l->plan);
        if (pst != ECRUP_OK || l->plan.part_size > cap) {
            layer_fail(l, ECRUP_E_INTERNAL, 0,
                       "parts of %" PRIu64 " bytes do not fit the %zu-byte buffers",
                       l->plan.part_size, cap);
            return false;
        }
    }
    if (!open_in_reader(l))
        return false;
    if (l->raw_hash && !l->md_on) {
        if (sha256_stream_init(&l->md, sha256_native()) != 0) {
            layer_fail(l, ECRUP_E_NOMEM, 0, "cannot start SHA-256");
            return false;
        }
        l->md_on = true;
    }
    l->acked = l->next_off = 0;
    l->st = L_PUSHING;
    if (l->stream)
        sched_log(s, ECRUP_LOG_DEBUG, "layer %s: a stream, in parts of %" PRIu64, l->e->layer.path,
                  l->plan.part_size);
    else
        sched_log(s, ECRUP_LOG_DEBUG,
                  "layer %s: %" PRIu64 " bytes in %" PRIu64 " parts of %" PRIu64, l->e->layer.path,
                  l->size, l->plan.n_parts, l->plan.part_size);
    return true;
}

static void on_completed(struct layer *l, const struct event *ev)
{
    const struct ecr_request *req = &l->job.priv.req;
    free(l->job_body);
    l->job_body = NULL;
    if (ev->ok) {
        char got[160];
        if (ecr_parse_complete(req->reply.data, req->reply.len, got, sizeof got) != 0) {
            layer_fail(l, ECRUP_E_PROTOCOL, req->http_status,
                       "CompleteLayerUpload: the reply has no layerDigest");
            return;
        }
        if (strcmp(got, l->e->digest) != 0) {
            layer_fail(l, ECRUP_E_DIGEST_MISMATCH, req->http_status,
                       "the service stored %s, expected %s", got, l->e->digest);
            return;
        }
        layer_succeed(l, ECRUP_OUTCOME_UPLOADED);
        return;
    }
    const char *x = req->error.exception;
    bool exists = !strcmp(x, "LayerAlreadyExistsException");
    bool lost = !strcmp(x, "UploadNotFoundException");
    if (!ev->cancelled && (exists || lost)) {
        /* The layer is there, or an earlier send committed and its reply was lost: success
         * only if BatchCheckLayerAvailability confirms it, else the upload starts over. Even a
         * first attempt may follow a lost send, because libcurl re-sends a request once by
         * itself when a reused connection drops, so the attempt count cannot tell. */
        l->confirm_restart = lost;
        l->confirm_failed = false;
        snprintf(l->confirm_exception, sizeof l->confirm_exception, "%s", x);
        snprintf(l->confirm_message, sizeof l->confirm_message, "%s", req->error.message);
        l->st = L_CONFIRM_QUEUED;
        return;
    }
    /* Every byte is still acknowledged: back in L_PUSHING, the next pass completes again. */
    if (layer_send_again_throttled(l, ev, L_PUSHING))
        return;
    if (!ev->cancelled && ev->last_class != RETRY_NONE) {
        /* Out of retries on throttling, 5xx or the network: an earlier send (or libcurl's own
         * re-send) may have committed the layer before its reply was lost, so the failure
         * stands only if BatchCheckLayerAvailability, itself retried, does not list it. */
        struct request_failure f;
        request_failure(req, l->job.call.operation, ev->attempts, false, &f);
        l->confirm_restart = false;
        l->confirm_failed = true;
        l->confirm_status = f.status;
        l->confirm_http = f.http_status;
        snprintf(l->confirm_exception, sizeof l->confirm_exception, "%s", f.exception);
        snprintf(l->confirm_message, sizeof l->confirm_message, "%s", f.message);
        sched_log(l->s, ECRUP_LOG_INFO, "layer %s: %s; asking whether the layer is there",
                  l->e->layer.path, f.message);
        l->st = L_CONFIRM_QUEUED;
        return;
    }
    layer_fail_request(l, ev, &l->job);
}

static void on_layer_xfer(struct layer *l, const struct event *ev)
{
    l->inflight--;
    layer_count_requests(l, ev->attempts);
    if (!ev->ok)
        l->e->result.http_status = l->job.priv.req.http_status;
    switch (l->st) {
    case L_INITIATING:
        on_initiated(l, ev);
        break;
    case L_PUSHING:
    case L_DRAINING:
        if (parts_wire(l))
            parts_on_reply(l, ev);
        break;
    case L_COMPLETING:
        on_completed(l, ev);
        break;
    default:
        break;
    }
}

static void on_hashed(struct layer *l)
{
    const struct hash_task *t = &l->hash;
    l->inflight--;
    bool slice = l->slice_busy;
    l->slice_busy = false;
    if (l->failing)
        return;
    if (t->err) {
        layer_fail_io(l, t->err);
        return;
    }
    if (slice) {
        l->hashed_off += t->size;
        shared_fed(l);
        return;
    }
    if (l->st == L_REHASHING) {
        layer_set_digest(l, t->hex);
        start_complete(l);
        return;
    }
    if (l->e->layer.digest && strcmp(l->e->layer.digest + 7, t->hex) != 0) {
        layer_fail(l, ECRUP_E_DIGEST_MISMATCH, 0, "layer file %s has digest sha256:%s, not %s",
                   l->e->layer.path, t->hex, l->e->layer.digest);
        return;
    }
    layer_set_digest(l, t->hex);
    l->st = L_CHECK_QUEUED;
}

/* Admission: open, check the identity, decide hashing. */
static void admit(struct layer *l)
{
    struct sched *s = l->s;
    if (l->stream) {
        /* No file to open or hash first: the digest comes from the parts as they go (and a
         * given one is checked for first, then verified against them). */
        l->digest_known = l->e->layer.digest != NULL;
        if (l->digest_known)
            snprintf(l->e->digest, sizeof l->e->digest, "%s", l->e->layer.digest);
        l->raw_hash = true;
        l->st = l->digest_known && !s->o->no_check ? L_CHECK_QUEUED : L_READY;
        return;
    }
    int fd = open(l->e->layer.path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        layer_fail_io(l, -errno);
        return;
    }
    l->fd = fd;
    s->open_layers++;
    if (file_id_check(&l->id0, fd, l->e->layer.path) != 0) {
        layer_fail_io(l, -ESTALE);
        return;
    }
    l->digest_known = l->e->layer.digest != NULL;
    if (l->digest_known)
        snprintf(l->e->digest, sizeof l->e->digest, "%s", l->e->layer.digest);
    if (s->o->no_check) {
        l->raw_hash = !l->digest_known;
        l->st = L_READY;
    } else if (!l->digest_known && !s->o->check_first) {
        l->overlap = true;
        l->st = L_READY;
        if (shared_begin(l))
            shared_fed(l); /* an empty layer has its digest at once */
    } else if (!l->digest_known) {
        start_hash(l, L_HASHING);
    } else {
        l->st = L_CHECK_QUEUED;
    }
}

static unsigned flying(struct sched *s)
{
    unsigned n = 0;
    for (size_t i = 0; i < s->n; i++) {
        enum lstate st = s->layers[i].st;
        if (st == L_INITIATING || st == L_PUSHING || st == L_DRAINING)
            n++;
    }
    return n;
}

/* One pass over every layer: take every step that can be taken now. */
static void advance(struct sched *s)
{
    s->n_flying = flying(s);
    /* Sends first: a read submitted with io_uring may copy a whole part inside the call, and
     * no connection should wait for that. */
    for (size_t i = 0; i < s->n; i++)
        if (s->order[i]->st == L_PUSHING && !s->order[i]->failing)
            parts_send(s->order[i]);
    /* Then every layer's next part before any layer's read-ahead: the reads and prepares go
     * in the order they were asked for, and a layer whose upload just opened should not
     * wait for the parts other layers will send after several more round trips. */
    for (size_t i = 0; i < s->n; i++)
        if (s->order[i]->st == L_PUSHING && !s->order[i]->failing)
            parts_fill(s->order[i], 1);
    for (size_t i = 0; i < s->n; i++) {
        struct layer *l = s->order[i];
        if (l->st == L_DONE)
            continue;
        if (l->failing) {
            if (!l->inflight)
                layer_finish(l);
            continue;
        }
        if (l->st == L_WAITING) {
            if (s->open_layers < MAX_OPEN_LAYERS)
                admit(l);
            if (l->failing && !l->inflight)
                layer_finish(l);
            continue;
        }
        if (l->st == L_PUSHING) {
            parts_fill(l, UINT_MAX);
            parts_send(l);
            if (!l->failing && l->acked == l->size && !l->inflight && !parts_wire(l) &&
                (!l->overlap || l->side_check == SC_ABSENT))
                parts_finished(l);
        } else if (l->st == L_DRAINING && !l->inflight) {
            l->st = L_READY;
        }
        shared_step(l);
        if (l->failing && !l->inflight)
            layer_finish(l);
    }
    checks_send(s);
    /* flights, largest first */
    unsigned fly = flying(s);
    for (size_t i = 0; i < s->n; i++) {
        struct layer *l = s->order[i];
        if (l->st != L_READY || l->failing)
            continue;
        if (s->pool_status != ECRUP_OK) {
            layer_fail(l, s->pool_status, 0, "%s", s->pool_message);
            if (!l->inflight)
                layer_finish(l);
            continue;
        }
        if (fly >= s->flight_limit)
            break;
        start_initiate(l);
        if (l->st == L_INITIATING || l->st == L_PUSHING)
            fly++;
        if (l->failing && !l->inflight)
            layer_finish(l);
        if (l->st == L_READY)
            break; /* out of tokens */
    }
    for (size_t i = 0; i < s->n; i++)
        if (s->layers[i].st != L_DONE)
            layer_progress(&s->layers[i], false);
}

static void cancel_all(struct sched *s)
{
    s->cancel_seen = true;
    transfer_cancel(s->xfer);
    if (s->pool)
        io_bufpool_shutdown(s->pool);
    for (size_t i = 0; i < s->n; i++) {
        struct layer *l = &s->layers[i];
        if (l->st == L_DONE)
            continue;
        layer_fail(l, ECRUP_E_CANCELLED, 0, "cancelled");
        if (!l->inflight)
            layer_finish(l);
    }
}

static int by_size_desc(const void *a, const void *b)
{
    const struct layer *x = *(const struct layer *const *)a, *y = *(const struct layer *const *)b;
    if (x->size != y->size)
        return x->size > y->size ? -1 : 1;
    return x < y ? -1 : x > y;
}

static void handle_event(struct event *ev)
{
    switch (ev->kind) {
    case EV_LAYER_XFER:
        on_layer_xfer(ev->obj, ev);
        break;
    case EV_BATCH_XFER:
        checks_on_reply(ev->obj, ev);
        break;
    case EV_PREPARED:
        parts_on_prepared(ev->obj);
        break;
    case EV_HASHED:
        on_hashed(ev->obj);
        break;
    case EV_STREAM_READ:
        stream_on_read(ev->obj);
        break;
    }
}

/* The layer's bytes within the file whose identity is id0: sets base and size, or fails the layer
 * (false) when the range does not lie within the file. */
static bool layer_range(struct layer *l)
{
    uint64_t fsize = l->id0.size, off = l->e->layer.offset, len = l->e->layer.length;
    const char *path = l->e->layer.path;
    if (len && off > UINT64_MAX - len) {
        layer_fail(l, ECRUP_E_INVALID_RANGE, 0,
                   "layer file %s: the range at offset %" PRIu64 " of %" PRIu64
                   " bytes ends past the largest file offset",
                   path, off, len);
        return false;
    }
    if (off > fsize || (len && off + len > fsize)) {
        if (len)
            layer_fail(l, ECRUP_E_INVALID_RANGE, 0,
                       "layer file %s: the range at offset %" PRIu64 " of %" PRIu64
                       " bytes reaches past the end of the %" PRIu64 "-byte file",
                       path, off, len, fsize);
        else
            layer_fail(l, ECRUP_E_INVALID_RANGE, 0,
                       "layer file %s: the range at offset %" PRIu64
                       " (to the end) starts past the end of the %" PRIu64 "-byte file",
                       path, off, fsize);
        return false;
    }
    l->base = off;
    l->size = len ? len : fsize - off;
    return true;
}

static ecrup_status sched_setup(struct sched *s, struct ecrup_engine *e)
{
    s->e = e;
    s->o = &e->options;
    s->n = e->n_layers - e->run_from;
    if (pthread_mutex_init(&s->ev_lock, NULL) != 0)
        return ECRUP_E_NOMEM;
    if (!retry_quota_init(&s->quota)) {
        pthread_mutex_destroy(&s->ev_lock);
        return ECRUP_E_NOMEM;
    }
    if (!retry_rate_limiter_init(&s->limiter, sched_now())) {
        retry_quota_cleanup(&s->quota);
        pthread_mutex_destroy(&s->ev_lock);
        return ECRUP_E_NOMEM;
    }
    s->locks_ready = true;
    s->layers = calloc(s->n ? s->n : 1, sizeof *s->layers);
    s->order = calloc(s->n ? s->n : 1, sizeof *s->order);
    if (!s->layers || !s->order)
        return ECRUP_E_NOMEM;
    if (b64_resolve(s->o->base64_backend, &s->b64) != 0)
        return ECRUP_E_UNSUPPORTED;
    double now = sched_now();
    s->rng = ((uint64_t)(now * 1e9) ^ (uint64_t)(uintptr_t)s) | 1;
    sched_pacing_init(s, now);
    for (size_t i = 0; i < s->n; i++) {
        struct layer *l = &s->layers[i];
        l->s = s;
        l->e = e->layers[e->run_from + i];
        l->fd = -1;
        l->st = L_WAITING;
        l->phase = ECRUP_PHASE_WAITING;
        xfer_job_init(&l->job);
        l->job.done = layer_done_cb;
        l->job.user = l;
        l->ev = (struct event){.kind = EV_LAYER_XFER, .obj = l};
        hash_task_init(&l->hash, hash_done, l);
        l->hash_ev = (struct event){.kind = EV_HASHED, .obj = l};
        s->order[i] = l;
        if (l->e->layer.read) {
            l->stream = true;
            l->size = STREAM_SIZE_UNKNOWN;
            s->n_streams++;
            continue;
        }
        /* stat every file up front: sizes order the flights, and a missing file fails now */
        struct stat st;
        if (stat(l->e->layer.path, &st) != 0) {
            layer_fail_io(l, -errno);
            continue;
        }
        l->id0 = file_id_of(&st);
        if (!S_ISREG(st.st_mode)) {
            layer_fail_io(l, S_ISDIR(st.st_mode) ? -EISDIR : -EINVAL);
        } else if (layer_range(l)) {
            if (l->size == 0 && !l->e->layer.offset && !l->e->layer.length)
                layer_fail(l, ECRUP_E_EMPTY_LAYER, 0, "layer file %s is empty", l->e->layer.path);
            else if (l->size == 0)
                layer_fail(l, ECRUP_E_EMPTY_LAYER, 0,
                           "layer file %s: the range at offset %" PRIu64 " is empty",
                           l->e->layer.path, l->e->layer.offset);
            else if (l->size > PLAN_MAX_LAYER)
                layer_fail(l, ECRUP_E_TOO_LARGE, 0,
                           "layer file %s%s is %" PRIu64 " bytes, over ECR's 52,000 MiB",
                           l->e->layer.path, l->base || l->e->layer.length ? " (the range)" : "",
                           l->size);
        }
    }
    qsort(s->order, s->n, sizeof *s->order, by_size_desc);
    resume_open(s);
    s->concurrency = sizing_concurrency(s->o->concurrency, sysconf(_SC_NPROCESSORS_ONLN));
    /* until the pool is made and sets its own */
    s->flight_limit = sizing_early_flights(sizing_memory_limit(s->o->memory_limit), s->concurrency);
    s->workers = workers_new(0);
    if (!s->workers)
        return ECRUP_E_NOMEM;
    if (s->n_streams) {
        /* Stream reads may block (a pipe): threads of their own, one per stream that can fly,
         * so a slow stream never holds a part body's prepare. */
        unsigned t = s->n_streams < s->concurrency ? (unsigned)s->n_streams : s->concurrency;
        s->stream_workers = workers_new(t);
        if (!s->stream_workers)
            return ECRUP_E_NOMEM;
    }
    struct transfer_config tc = engine_transfer_config(e);
    tc.quota = &s->quota;
    tc.limiter = &s->limiter;
    tc.throttled = sched_throttled;
    tc.throttled_user = s;
    tc.max_connections = sizing_connections(s->o->concurrency);
    s->xfer = transfer_new(&tc);
    if (!s->xfer)
        return ECRUP_E_NOMEM;
    return ECRUP_OK;
}

static void sched_teardown(struct sched *s)
{
    transfer_free(s->xfer);
    workers_free(s->workers);
    workers_free(s->stream_workers);
    checks_free(s);
    for (size_t i = 0; s->layers && i < s->n; i++) {
        struct layer *l = &s->layers[i];
        xfer_job_cleanup(&l->job);
        if (l->st != L_DONE && !l->inflight)
            layer_finish(l);
    }
    resume_close(s);
    io_reader_free(s->reader);
    io_bufpool_free(s->pool);
    if (s->locks_ready) {
        retry_rate_limiter_cleanup(&s->limiter);
        retry_quota_cleanup(&s->quota);
        pthread_mutex_destroy(&s->ev_lock);
    }
    free(s->layers);
    free(s->order);
}

ecrup_status engine_run_layers(struct ecrup_engine *e)
{
    if (atomic_load(&e->cancelled)) {
        /* Cancelled before the run: nothing is touched, every layer ends Cancelled. */
        for (size_t i = e->run_from; i < e->n_layers; i++) {
            struct layer_entry *le = e->layers[i];
            le->result.outcome = ECRUP_OUTCOME_FAILED;
            le->result.status = ECRUP_E_CANCELLED;
            le->result.exception = ecrup_status_name(ECRUP_E_CANCELLED);
            le->result.message = "cancelled before the upload started";
        }
        return e->n_layers > e->run_from ? ECRUP_E_CANCELLED : ECRUP_OK;
    }
    struct sched sched = {0}, *s = &sched;
    ecrup_status st = sched_setup(s, e);
    if (st != ECRUP_OK) {
        for (size_t i = e->run_from; i < e->n_layers; i++) {
            struct layer_entry *le = e->layers[i];
            if (le->result.outcome != ECRUP_OUTCOME_PENDING)
                continue;
            le->result.outcome = ECRUP_OUTCOME_FAILED;
            le->result.status = st;
            le->result.exception = ecrup_status_name(st);
            le->result.message = "cannot start the engine's threads or encoders";
        }
        if (s->layers)
            for (size_t i = 0; i < s->n; i++)
                s->layers[i].st = L_DONE; /* nothing was started */
        sched_teardown(s);
        return st;
    }
    while (s->done < s->n) {
        if (!s->cancel_seen && atomic_load(&e->cancelled))
            cancel_all(s);
        s->next_due = sched_now() + 1.0;
        advance(s);
        parts_trim(s);
        if (s->done == s->n)
            break;
        struct pollfd pfd[2] = {{.fd = e->wake_fd, .events = POLLIN},
                                {.fd = s->reader ? io_reader_fd(s->reader) : -1, .events = POLLIN}};
        double wait = s->next_due - sched_now();
        int timeout = wait <= 0 ? 0 : (int)(wait * 1000) + 1;
        if (timeout > 100)
            timeout = 100; /* progress ticks */
        poll(pfd, s->reader ? 2 : 1, timeout);
        uint64_t v;
        if (pfd[0].revents & POLLIN) {
            ssize_t r = read(e->wake_fd, &v, sizeof v);
            (void)r;
        }
        for (struct event *ev = take_events(s), *next; ev; ev = next) {
            next = ev->next;
            handle_event(ev);
        }
        if (s->reader) {
            struct io_completion c[32];
            int n;
            while ((n = io_reader_poll(s->reader, c, 32)) > 0)
                for (int i = 0; i < n; i++)
                    parts_on_read(s, &c[i]);
        }
    }
    sched_teardown(s);
    st = ECRUP_OK;
    for (size_t i = e->run_from; i < e->n_layers; i++) {
        const struct ecrup_result *r = &e->layers[i]->result;
        if (r->outcome == ECRUP_OUTCOME_FAILED) {
            st = r->status;
            break;
        }
    }
    return st;
}
