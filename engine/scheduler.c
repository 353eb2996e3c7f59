/* The scheduler: every layer's state machine, driven by one engine thread (the caller of
 * ecrup_engine_run). Other threads never touch layer state; they post events:
 *  - the transfer thread posts a finished xfer_job (its `done` callback),
 *  - prepare/hash workers post a finished task,
 *  - ecrup_engine_cancel() sets an atomic flag and writes the wake eventfd.
 * The engine thread sleeps in poll() on the wake eventfd and the reader's eventfd, and owns
 * the reader (io/reader.h: one owner thread), the buffer pool's acquisitions and every
 * transfer submission. docs/engine.md describes the life of a layer. */
#include "engine/engine_impl.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
#include <openssl/evp.h>
#include <poll.h>
#include <stdarg.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "engine/base64.h"
#include "engine/bucket.h"
#include "engine/check_batch.h"
#include "engine/ecr_json.h"
#include "engine/hash_pass.h"
#include "engine/payload.h"
#include "engine/plan.h"
#include "engine/sizing.h"
#include "engine/transfer.h"
#include "engine/workers.h"
#include "io/bufpool.h"
#include "io/reader.h"
#include "util/fileid.h"
#include "util/hex.h"

#define MAX_OPEN_LAYERS  128u /* layers holding descriptors at once (admitted, not done) */
#define MAX_RESTARTS     3u   /* uploads started over after UploadNotFoundException */
#define MAX_REWINDS      32u  /* InvalidLayerPartException resumes per layer */
#define PROGRESS_SECONDS 0.1

enum lstate {
    L_WAITING, /* not admitted yet */
    L_HASHING, /* whole-file hash before the check */
    L_CHECK_QUEUED,
    L_CHECKING,
    L_READY,          /* absent from the repository: waiting for a flight */
    L_INITIATING,     /* InitiateLayerUpload on the wire (or waiting for a token) */
    L_PUSHING,        /* parts */
    L_DRAINING,       /* start over once every read/prepare of the old upload has ended */
    L_REHASHING,      /* the running hash could not follow a rewind: hash the file again */
    L_COMPLETING,     /* CompleteLayerUpload */
    L_CONFIRM_QUEUED, /* a lost Complete reply: is the layer there? */
    L_CONFIRMING,
    L_DONE,
};

enum pbstate { PB_FREE, PB_READING, PB_READ, PB_PREPARING, PB_READY, PB_WIRE };

struct sched;
struct layer;

/* An event node embedded in whatever posts it: no allocation on the hot path. */
enum evkind { EV_LAYER_XFER, EV_BATCH_XFER, EV_PREPARED, EV_HASHED };
struct event {
    enum evkind kind;
    void *obj;
    struct event *next;
    /* EV_*_XFER: a copy of the xfer_result (the request itself stays in the job) */
    bool ok, cancelled;
    unsigned attempts;
};

struct part_buf;

/* Preparing one part's body on a worker; embedded in the part, set up at each submit. */
struct prep_task {
    struct worker_task w;
    struct layer *l;
    struct part_buf *pb;
    struct sha256_stream *md; /* the layer's running hash, or NULL */
    ecrup_status status;
    struct event ev;
};

/* One part in a pool slot. */
struct part_buf {
    enum pbstate st;
    struct layer *owner; /* set while in use */
    bool discard;        /* belongs to an abandoned position: free the slot when its op ends */
    struct io_slot *slot;
    uint64_t off;
    size_t len;
    struct payload_result pr;
    struct prep_task prep;
};

struct layer {
    struct sched *s;
    struct layer_entry *e;
    enum lstate st;
    ecrup_phase phase;
    uint64_t base;      /* the file offset of the layer's first byte (ecrup_layer.offset) */
    uint64_t size;      /* the layer's bytes: the range's length, or the file's size */
    struct file_id id0; /* the whole file's identity at setup: a change later is FileChanged */
    int fd;             /* plain descriptor for whole-file hashes; -1 before admission */
    struct io_file *file;
    bool digest_known;
    bool raw_hash;    /* the digest comes from the parts as they are prepared */
    bool hash_broken; /* a rewind the running hash cannot follow */
    uint64_t hashed_off;
    struct sha256_stream md; /* live when md_on */
    bool md_on;
    struct part_plan plan;
    char upload_id[160];
    uint64_t acked, next_off;
    struct part_buf pb[SIZING_SLOTS_PER_LAYER];
    bool prep_busy;    /* a prepare feeding the running hash is in flight */
    unsigned inflight; /* reads, prepares, hashes and requests not yet handled */
    unsigned restarts, rewinds;
    bool failing;
    bool confirm_restart; /* the Complete that needs confirming said UploadNotFound */
    char confirm_exception[128], confirm_message[512];
    bool available; /* from the last batch check */
    /* Uploading while the hash pass runs (options.check_first 0): the pass gives the digest,
     * then a check beside the upload; CompleteLayerUpload waits for it to say absent. */
    bool overlap;
    enum { SC_NONE, SC_QUEUED, SC_FLYING, SC_ABSENT } side_check;
    struct xfer_job job;
    char *job_body;
    struct hash_task hash;
    struct event hash_ev; /* EV_HASHED */
    struct event ev;      /* EV_LAYER_XFER */
    double last_progress;
    uint64_t reported_bytes;
    struct layer *batch_next;
};

struct batch {
    struct sched *s;
    struct xfer_job job;
    char *body;
    struct layer *layers; /* chained by batch_next */
    struct event ev;
    struct batch *next; /* the scheduler's list of batches, to free them */
};

struct sched {
    struct ecrup_engine *e;
    const struct ecrup_options *o;
    struct layer *layers;
    size_t n;
    struct layer **order; /* largest first */
    struct transfer *xfer;
    struct retry_quota quota;
    struct retry_rate_limiter limiter;
    struct workers *workers;
    struct io_bufpool *pool;
    bool trimmed; /* the pool returns its pages as slots come free (maybe_trim) */
    struct io_reader *reader;
    size_t body_cap;
    ecrup_status pool_status; /* set when the pool could not be made: later layers fail too */
    char pool_message[256];
    bool part_size_warned; /* the "--part-size above the service's partSize" warning is out */
    unsigned concurrency;  /* layers in flight at most */
    size_t names;          /* the longest repository name plus registry id: body sizes */
    unsigned flight_limit;
    unsigned n_flying; /* INITIATING, PUSHING or DRAINING, counted at each pass */
    unsigned open_layers;
    ecrup_base64_backend b64;
    struct bucket b_part, b_initiate, b_complete, b_check;
    double next_due; /* earliest time a token-limited step may go */
    bool cancel_seen;
    size_t done;
    struct batch *batches;

    pthread_mutex_t ev_lock;
    struct event *ev_head, *ev_tail; /* guarded by ev_lock */
};

static double mono_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ---- events (any thread posts; the engine thread drains) ---- */

static void post(struct sched *s, struct event *ev)
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

static struct event *take_events(struct sched *s)
{
    pthread_mutex_lock(&s->ev_lock);
    struct event *ev = s->ev_head;
    s->ev_head = s->ev_tail = NULL;
    pthread_mutex_unlock(&s->ev_lock);
    return ev;
}

/* ---- logging and progress (engine thread, except transfer lines) ---- */

static void logf_at(struct sched *s, ecrup_log_level level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void logf_at(struct sched *s, ecrup_log_level level, const char *fmt, ...)
{
    if (!s->o->log || level > s->o->log_level)
        return;
    char line[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    s->o->log(level, line, s->o->log_user);
}

static void progress(struct layer *l, bool force)
{
    const struct ecrup_options *o = l->s->o;
    if (!o->progress)
        return;
    double now = mono_now();
    if (!force && (l->acked == l->reported_bytes || now - l->last_progress < PROGRESS_SECONDS))
        return;
    l->last_progress = now;
    l->reported_bytes = l->acked;
    struct ecrup_progress ev = {
        .layer_id = l->e->result.layer_id,
        .layer_user = l->e->result.layer_user,
        .phase = l->phase,
        .bytes_done = l->acked,
        .bytes_total = l->size,
    };
    o->progress(&ev, o->progress_user);
}

static void set_phase(struct layer *l, ecrup_phase p)
{
    if (l->phase == p)
        return;
    l->phase = p;
    progress(l, true);
}

/* A token for one request of bucket `b`, or false and the run loop wakes when one is due. */
static bool take_token(struct sched *s, struct bucket *b)
{
    double due;
    if (bucket_take(b, mono_now(), &due))
        return true;
    if (due < s->next_due)
        s->next_due = due;
    return false;
}

/* ---- results ---- */

static void release_pb(struct sched *s, struct part_buf *pb)
{
    if (pb->slot)
        io_bufpool_release(s->pool, pb->slot);
    memset(pb, 0, sizeof *pb);
}

/* Mark the layer failed; it ends once nothing of it is in flight. The first failure wins. */
static void fail(struct layer *l, ecrup_status st, const char *exception, long http,
                 const char *fmt, ...) __attribute__((format(printf, 5, 6)));
static void fail(struct layer *l, ecrup_status st, const char *exception, long http,
                 const char *fmt, ...)
{
    if (l->failing || l->st == L_DONE)
        return;
    l->failing = true;
    struct ecrup_result *r = &l->e->result;
    r->outcome = ECRUP_OUTCOME_FAILED;
    r->status = st;
    r->http_status = http;
    snprintf(l->e->exception, sizeof l->e->exception, "%s", exception);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(l->e->message, sizeof l->e->message, fmt, ap);
    va_end(ap);
    r->exception = l->e->exception;
    r->message = l->e->message;
}

static void finish(struct layer *l)
{
    struct sched *s = l->s;
    for (size_t i = 0; i < sizeof l->pb / sizeof l->pb[0]; i++)
        release_pb(s, &l->pb[i]);
    if (l->file)
        io_reader_close(s->reader, l->file);
    l->file = NULL;
    if (l->fd >= 0) {
        close(l->fd);
        s->open_layers--;
    }
    l->fd = -1;
    sha256_stream_free(&l->md);
    l->md_on = false;
    free(l->job_body);
    l->job_body = NULL;
    struct ecrup_result *r = &l->e->result;
    r->size = l->size;
    if (l->e->digest[0])
        r->digest = l->e->digest;
    if (!l->failing && r->outcome == ECRUP_OUTCOME_PENDING)
        r->outcome = ECRUP_OUTCOME_FAILED; /* cannot happen: every path sets one */
    l->st = L_DONE;
    s->done++;
    set_phase(l, ECRUP_PHASE_DONE);
    const char *what = r->outcome == ECRUP_OUTCOME_UPLOADED ? "uploaded"
                       : r->outcome == ECRUP_OUTCOME_EXISTS ? "exists"
                                                            : "failed";
    logf_at(s, r->outcome == ECRUP_OUTCOME_FAILED ? ECRUP_LOG_WARN : ECRUP_LOG_INFO,
            "layer %s: %s%s%s", l->e->layer.path, what, r->message ? ": " : "",
            r->message ? r->message : "");
}

static void succeed(struct layer *l, ecrup_outcome outcome)
{
    l->e->result.outcome = outcome;
    l->e->result.status = ECRUP_OK;
    if (outcome == ECRUP_OUTCOME_UPLOADED)
        l->acked = l->size;
    finish(l);
}

static void fail_request(struct layer *l, const struct event *ev, const struct xfer_job *job)
{
    struct request_failure f;
    request_failure(&job->priv.req, job->call.operation, ev->attempts, ev->cancelled, &f);
    fail(l, f.status, f.exception, f.http_status, "%s", f.message);
}

static void fail_io(struct layer *l, int err)
{
    char msg[400];
    io_error_message(err, l->e->layer.path, msg, sizeof msg);
    ecrup_status st = io_status_from_errno(err);
    const char *x = st == ECRUP_E_FILE_CHANGED ? "FileChanged"
                    : st == ECRUP_E_NOT_FOUND  ? "FileNotFound"
                    : st == ECRUP_E_CANCELLED  ? "Cancelled"
                                               : "IoError";
    fail(l, st, x, 0, "%s", msg);
}

/* ---- the transfer side ---- */

static void layer_done_cb(struct xfer_job *job, const struct xfer_result *res)
{
    struct layer *l = job->user;
    l->ev.ok = res->ok;
    l->ev.cancelled = res->cancelled;
    l->ev.attempts = res->attempts;
    post(l->s, &l->ev);
}

static void batch_done_cb(struct xfer_job *job, const struct xfer_result *res)
{
    struct batch *b = job->user;
    b->ev.ok = res->ok;
    b->ev.cancelled = res->cancelled;
    b->ev.attempts = res->attempts;
    post(b->s, &b->ev);
}

static void submit_layer_call(struct layer *l, const char *op, const char *body, size_t len,
                              const char *body_sha256)
{
    l->job.call.operation = op;
    l->job.call.body = body;
    l->job.call.body_len = len;
    l->job.call.body_sha256 = body_sha256;
    l->inflight++;
    transfer_submit(l->s->xfer, &l->job);
}

/* ---- workers ---- */

/* The part a prepare task writes the body of. */
static struct payload_part part_of(const struct prep_task *t)
{
    const struct layer *l = t->l;
    return (struct payload_part){
        .data = t->pb->slot->raw,
        .len = t->pb->len,
        .first_byte = t->pb->off,
        .repository_name = l->e->layer.repository,
        .registry_id = l->e->layer.registry_id,
        .upload_id = l->upload_id,
    };
}

static void prep_run(struct worker_task *w)
{
    struct prep_task *t = (struct prep_task *)w;
    struct part_buf *pb = t->pb;
    struct payload_part part = part_of(t);
    struct payload_options po = {.backend = t->l->s->b64, .layer_sha256 = t->md};
    t->status = payload_write(&part, &po, (char *)pb->slot->body, pb->slot->body_cap, &pb->pr);
    post(t->l->s, &t->ev);
}

/* Two prepares without a running hash (of any layers): their body hashes run side by side. */
static void prep_run_pair(struct worker_task *a, struct worker_task *b)
{
    struct prep_task *t[2] = {(struct prep_task *)a, (struct prep_task *)b};
    struct payload_part parts[2] = {part_of(t[0]), part_of(t[1])};
    const struct payload_part *pp[2] = {&parts[0], &parts[1]};
    char *bodies[2] = {(char *)t[0]->pb->slot->body, (char *)t[1]->pb->slot->body};
    size_t caps[2] = {t[0]->pb->slot->body_cap, t[1]->pb->slot->body_cap};
    struct payload_result *res[2] = {&t[0]->pb->pr, &t[1]->pb->pr};
    struct payload_options po = {.backend = t[0]->l->s->b64};
    ecrup_status st = payload_write_pair(pp, &po, bodies, caps, res);
    for (int i = 0; i < 2; i++) {
        t[i]->status = st;
        post(t[i]->l->s, &t[i]->ev);
    }
}

/* Worker thread: the layer's hash pass has ended. */
static void hash_done(struct hash_task *t)
{
    struct layer *l = t->user;
    post(l->s, &l->hash_ev);
}

static void start_hash(struct layer *l, enum lstate st)
{
    l->hash.fd = l->fd;
    l->hash.base = l->base;
    l->hash.size = l->size;
    l->hash.path = l->e->layer.path;
    l->hash.id = &l->id0;
    l->hash.cancelled = &l->s->e->cancelled;
    l->st = st;
    set_phase(l, ECRUP_PHASE_HASHING);
    l->inflight++;
    workers_submit(l->s->workers, &l->hash.w, false);
}

/* ---- the pool, made when the first InitiateLayerUpload tells the part size ---- */

static ecrup_status make_pool(struct sched *s, const struct part_plan *plan, struct ebuf *msg)
{
    size_t ps = (size_t)plan->part_size;
    s->body_cap = sizing_body_capacity(ps, s->names);
    uint64_t limit = sizing_memory_limit(s->o->memory_limit);
    unsigned slots = io_bufpool_slots_for(limit, ps, s->body_cap);
    if (slots < 2) {
        ebuf_printf(msg,
                    "memory limit of %" PRIu64 " bytes holds fewer than 2 buffers of %zu-byte "
                    "parts (%zu bytes each): raise it",
                    limit, ps, io_bufpool_slot_bytes(ps, s->body_cap));
        return ECRUP_E_INVALID_ARGUMENT;
    }
    unsigned left = 0;
    for (size_t i = 0; i < s->n; i++)
        if (s->layers[i].st != L_DONE)
            left++;
    struct io_bufpool_options po = {.part_size = ps,
                                    .body_capacity = s->body_cap,
                                    .memory_limit = limit,
                                    .slots = sizing_pool_slots(s->concurrency, left, slots)};
    int rc = io_bufpool_new(&po, &s->pool);
    if (rc != 0) {
        ebuf_printf(msg, "cannot allocate part buffers: %s", strerror(-rc));
        return io_status_from_errno(rc);
    }
    struct io_reader_options ro = {.backend = s->o->io_backend};
    rc = io_reader_new(&ro, s->pool, &s->reader);
    if (rc != 0) {
        ebuf_printf(msg, "cannot set up the file reader: %s", strerror(-rc));
        return io_status_from_errno(rc);
    }
    unsigned n = io_bufpool_count(s->pool);
    s->flight_limit = sizing_flight_limit(s->concurrency, n);
    char desc[256];
    logf_at(s, ECRUP_LOG_DEBUG, "io backend: %s", io_reader_describe(s->reader, desc, sizeof desc));
    struct payload_options pay = {.backend = s->b64};
    const char *sha = payload_native(&pay)         ? "native SHA-NI, two messages per loop"
                      : !sha256_native_available() ? "OpenSSL (no SHA-NI on this CPU)"
                      : !sha256_native()           ? "OpenSSL (" SHA256_ENV "=openssl)"
                                                   : "OpenSSL (with the scalar encoder)";
    logf_at(s, ECRUP_LOG_DEBUG, "base64 backend: %s; SHA-256: %s", b64_backend_name(s->b64), sha);
    logf_at(s, ECRUP_LOG_DEBUG,
            "part buffers: %u slots of %zu + %zu bytes (memory limit %" PRIu64
            "), %u layers in flight",
            n, ps, s->body_cap, limit, s->flight_limit);
    return ECRUP_OK;
}

/* ---- layer steps ---- */

static void start_initiate(struct layer *l)
{
    if (!take_token(l->s, &l->s->b_initiate))
        return;
    free(l->job_body);
    l->job_body = ecr_build_initiate(l->e->layer.repository, l->e->layer.registry_id);
    if (!l->job_body) {
        fail(l, ECRUP_E_NOMEM, "OutOfMemory", 0, "out of memory");
        return;
    }
    l->st = L_INITIATING;
    set_phase(l, ECRUP_PHASE_PUSHING);
    submit_layer_call(l, "InitiateLayerUpload", l->job_body, strlen(l->job_body), NULL);
}

static void start_complete(struct layer *l)
{
    if (!take_token(l->s, &l->s->b_complete))
        return;
    free(l->job_body);
    l->job_body = ecr_build_complete(l->e->layer.repository, l->e->layer.registry_id, l->upload_id,
                                     l->e->digest);
    if (!l->job_body) {
        fail(l, ECRUP_E_NOMEM, "OutOfMemory", 0, "out of memory");
        return;
    }
    l->st = L_COMPLETING;
    set_phase(l, ECRUP_PHASE_COMPLETING);
    submit_layer_call(l, "CompleteLayerUpload", l->job_body, strlen(l->job_body), NULL);
}

static void set_digest_hex(struct layer *l, const char *hex)
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
    if (file_id_check(&l->id0, l->fd, l->e->layer.path) != 0) {
        fail_io(l, -ESTALE);
        return;
    }
    if (l->raw_hash && !l->hash_broken && l->hashed_off == l->size) {
        unsigned char d[32];
        char hex[65];
        if (sha256_stream_final(&l->md, d) != 0) {
            fail(l, ECRUP_E_INTERNAL, "HashFailed", 0, "SHA-256 failed");
            return;
        }
        hex_encode(d, sizeof d, hex);
        set_digest_hex(l, hex);
        l->raw_hash = false;
    }
    if (!l->digest_known) {
        logf_at(l->s, ECRUP_LOG_DEBUG, "layer %s: hashing again after a rewind", l->e->layer.path);
        start_hash(l, L_REHASHING);
        return;
    }
    start_complete(l);
}

/* Back to the start of a new upload: every slot of the old one is abandoned. */
static void restart_upload(struct layer *l, const char *why)
{
    l->restarts++;
    if (l->restarts > MAX_RESTARTS) {
        fail(l, ECRUP_E_REMOTE, "UploadNotFoundException", 400,
             "the upload was lost %u times (%s); giving up", l->restarts, why);
        return;
    }
    logf_at(l->s, ECRUP_LOG_INFO, "layer %s: starting the upload over (%s)", l->e->layer.path, why);
    for (size_t i = 0; i < sizeof l->pb / sizeof l->pb[0]; i++) {
        struct part_buf *pb = &l->pb[i];
        if (pb->st == PB_READ || pb->st == PB_READY)
            release_pb(l->s, pb);
        else if (pb->st != PB_FREE)
            pb->discard = true;
    }
    if (l->raw_hash && l->hashed_off)
        l->hash_broken = true;
    l->acked = l->next_off = 0;
    l->st = L_DRAINING;
}

/* Resume at byte `r` after InvalidLayerPartException (or an unexpected lastByteReceived). */
static void rewind_to(struct layer *l, uint64_t r)
{
    if (++l->rewinds > MAX_REWINDS) {
        fail(l, ECRUP_E_PROTOCOL, "InvalidLayerPartException", 400,
             "the service kept refusing part positions (%u resumes); giving up", l->rewinds);
        return;
    }
    if (r > l->size) {
        fail(l, ECRUP_E_PROTOCOL, "InvalidLayerPartException", 400,
             "the service reports %" PRIu64 " bytes received of a %" PRIu64 "-byte layer", r,
             l->size);
        return;
    }
    /* Keep the live parts that continue from r without a gap; drop the rest. The running hash
     * survives when the next byte it would be fed is where it stopped. */
    bool keep[SIZING_SLOTS_PER_LAYER] = {false};
    uint64_t pos = r, next_fed = UINT64_MAX;
    for (bool found = true; found;) {
        found = false;
        for (size_t i = 0; i < SIZING_SLOTS_PER_LAYER; i++) {
            struct part_buf *pb = &l->pb[i];
            if (pb->st != PB_FREE && !pb->discard && !keep[i] && pb->off == pos) {
                keep[i] = found = true;
                if (pb->st < PB_PREPARING && next_fed == UINT64_MAX)
                    next_fed = pos;
                pos = pb->off + pb->len;
                break;
            }
        }
    }
    if (next_fed == UINT64_MAX)
        next_fed = pos;
    for (size_t i = 0; i < SIZING_SLOTS_PER_LAYER; i++) {
        struct part_buf *pb = &l->pb[i];
        if (pb->st == PB_FREE || pb->discard || keep[i])
            continue;
        if (pb->st == PB_READ || pb->st == PB_READY)
            release_pb(l->s, pb);
        else
            pb->discard = true;
    }
    if (l->raw_hash && !l->hash_broken && l->hashed_off != next_fed)
        l->hash_broken = true;
    l->acked = r;
    l->next_off = pos;
    logf_at(l->s, ECRUP_LOG_INFO, "layer %s: resuming at byte %" PRIu64 "%s", l->e->layer.path, r,
            l->hash_broken && l->raw_hash ? " (digest recomputed at the end)" : "");
}

/* PUSHING: send the next part when it is ready and nothing of this layer is on the wire. */
static void push_send(struct layer *l)
{
    struct sched *s = l->s;
    size_t npb = sizeof l->pb / sizeof l->pb[0];
    for (size_t i = 0; i < npb; i++)
        if (l->pb[i].st == PB_WIRE)
            return;
    for (size_t i = 0; i < npb; i++) {
        struct part_buf *pb = &l->pb[i];
        if (pb->st == PB_READY && !pb->discard && pb->off == l->acked) {
            if (!take_token(s, &s->b_part))
                return;
            pb->st = PB_WIRE;
            submit_layer_call(l, "UploadLayerPart", (const char *)pb->slot->body, pb->pr.body_len,
                              pb->pr.body_sha256_hex);
            return;
        }
    }
}

/* PUSHING: keep the part after the one on the wire read and prepared. */
static void push_fill(struct layer *l)
{
    struct sched *s = l->s;
    size_t npb = sizeof l->pb / sizeof l->pb[0];
    unsigned live = 0;
    for (size_t i = 0; i < npb; i++)
        if (l->pb[i].st != PB_FREE && !l->pb[i].discard)
            live++;
    unsigned depth =
        sizing_read_depth(io_bufpool_count(s->pool), s->n_flying, workers_count(s->workers));
    /* read ahead */
    while (live < depth && l->next_off < l->size) {
        struct part_buf *pb = NULL;
        for (size_t i = 0; i < npb && !pb; i++)
            if (l->pb[i].st == PB_FREE)
                pb = &l->pb[i];
        struct io_slot *slot = NULL;
        if (!pb || io_bufpool_acquire(s->pool, 0, &slot) != 0)
            break;
        uint64_t left = l->size - l->next_off;
        pb->len = (size_t)(left < l->plan.part_size ? left : l->plan.part_size);
        pb->off = l->next_off;
        pb->slot = slot;
        pb->owner = l;
        pb->discard = false;
        int rc = io_reader_submit(s->reader, l->file, l->base + pb->off, pb->len, slot, pb);
        if (rc != 0) {
            io_bufpool_release(s->pool, slot);
            memset(pb, 0, sizeof *pb);
            fail_io(l, rc);
            return;
        }
        pb->st = PB_READING;
        l->inflight++;
        l->next_off += pb->len;
        live++;
    }
    /* Prepare. While the running hash is on, one part at a time and only the lowest part not
     * prepared yet, so the hash sees the bytes in order; otherwise every part that is read. */
    bool hashing = l->raw_hash && !l->hash_broken;
    for (;;) {
        struct part_buf *next = NULL;
        if (hashing) {
            if (l->prep_busy)
                break;
            for (size_t i = 0; i < npb; i++) {
                struct part_buf *pb = &l->pb[i];
                if (pb->st != PB_FREE && !pb->discard && pb->st < PB_PREPARING &&
                    (!next || pb->off < next->off))
                    next = pb;
            }
        } else {
            for (size_t i = 0; i < npb && !next; i++)
                if (l->pb[i].st == PB_READ && !l->pb[i].discard)
                    next = &l->pb[i];
        }
        if (!next || next->st != PB_READ)
            break;
        next->st = PB_PREPARING;
        next->prep = (struct prep_task){
            .w.run = prep_run, .w.run_pair = hashing ? NULL : prep_run_pair, .l = l, .pb = next};
        next->prep.ev = (struct event){.kind = EV_PREPARED, .obj = &next->prep};
        if (hashing) {
            next->prep.md = &l->md;
            l->hashed_off = next->off + next->len;
            l->prep_busy = true;
        }
        l->inflight++;
        workers_submit(s->workers, &next->prep.w, true);
        if (hashing)
            break;
    }
}

/* Open the layer's file in the reader; it must still be the file seen at admission. */
static bool open_in_reader(struct layer *l)
{
    if (l->file)
        return true;
    int rc = io_reader_open(l->s->reader, l->e->layer.path, &l->file);
    if (rc != 0) {
        fail_io(l, rc);
        return false;
    }
    if (file_id_check(&l->id0, l->fd, l->e->layer.path) != 0) {
        fail_io(l, -ESTALE);
        return false;
    }
    return true;
}

static void on_initiated(struct layer *l, const struct event *ev)
{
    struct sched *s = l->s;
    const struct ecr_request *req = &l->job.priv.req;
    free(l->job_body);
    l->job_body = NULL;
    if (!ev->ok) {
        fail_request(l, ev, &l->job);
        return;
    }
    uint64_t server_part = 0;
    if (ecr_parse_initiate(req->reply.data, req->reply.len, l->upload_id, sizeof l->upload_id,
                           &server_part) != 0) {
        fail(l, ECRUP_E_PROTOCOL, "BadReply", req->http_status,
             "InitiateLayerUpload: the reply has no uploadId or partSize");
        return;
    }
    /* The service's partSize is the most it takes per part (ECR: "the size ... Amazon ECR
     * expects future layer part uploads to be"): a larger part_size would only be refused,
     * part after part, so it is lowered to partSize up front; a smaller one is kept. */
    uint64_t wanted = s->o->part_size;
    if (wanted && server_part && wanted > server_part) {
        if (!s->part_size_warned) {
            s->part_size_warned = true;
            logf_at(s, ECRUP_LOG_WARN,
                    "part size %" PRIu64 " is larger than the %" PRIu64
                    " bytes the service asks for: using %" PRIu64,
                    wanted, server_part, server_part);
        }
        wanted = server_part;
    }
    ecrup_status st = plan_parts(l->size, wanted, server_part, &l->plan);
    if (st != ECRUP_OK) {
        fail(l, st, st == ECRUP_E_TOO_LARGE ? "TooLarge" : "EmptyLayer", 0, "layer file %s: %s",
             l->e->layer.path, ecrup_strerror(st));
        return;
    }
    if (!s->pool && s->pool_status != ECRUP_OK) {
        fail(l, s->pool_status, "ResourceSetup", 0, "%s", s->pool_message);
        return;
    }
    if (!s->pool) {
        struct ebuf msg = EBUF_INIT;
        st = make_pool(s, &l->plan, &msg);
        if (st != ECRUP_OK) {
            s->pool_status = st;
            snprintf(s->pool_message, sizeof s->pool_message, "%s", ebuf_str(&msg));
            ebuf_free(&msg);
            fail(l, st, "ResourceSetup", 0, "%s", s->pool_message);
            return;
        }
        ebuf_free(&msg);
    }
    if (l->plan.part_size > io_bufpool_slot(s->pool, 0)->raw_cap) {
        /* Parts as large as the buffers still fit ECR's rules for this layer? */
        size_t cap = io_bufpool_slot(s->pool, 0)->raw_cap;
        if (plan_parts(l->size, cap, server_part, &l->plan) != ECRUP_OK ||
            l->plan.part_size > cap) {
            fail(l, ECRUP_E_INTERNAL, "PartSize", 0,
                 "parts of %" PRIu64 " bytes do not fit the %zu-byte buffers", l->plan.part_size,
                 cap);
            return;
        }
    }
    if (!open_in_reader(l))
        return;
    if (l->raw_hash && !l->md_on) {
        if (sha256_stream_init(&l->md, sha256_native()) != 0) {
            fail(l, ECRUP_E_NOMEM, "OutOfMemory", 0, "cannot start SHA-256");
            return;
        }
        l->md_on = true;
    }
    l->acked = l->next_off = 0;
    l->st = L_PUSHING;
    logf_at(s, ECRUP_LOG_DEBUG, "layer %s: %" PRIu64 " bytes in %" PRIu64 " parts of %" PRIu64,
            l->e->layer.path, l->size, l->plan.n_parts, l->plan.part_size);
}

static struct part_buf *wire_buf(struct layer *l)
{
    for (size_t i = 0; i < sizeof l->pb / sizeof l->pb[0]; i++)
        if (l->pb[i].st == PB_WIRE)
            return &l->pb[i];
    return NULL;
}

static void on_part(struct layer *l, const struct event *ev)
{
    struct sched *s = l->s;
    const struct ecr_request *req = &l->job.priv.req;
    struct part_buf *pb = wire_buf(l);
    uint64_t end = pb->off + pb->len;
    release_pb(s, pb);
    if (l->failing)
        return;
    if (ev->ok) {
        uint64_t last = 0;
        if (ecr_parse_upload_part(req->reply.data, req->reply.len, &last) != 0) {
            fail(l, ECRUP_E_PROTOCOL, "BadReply", req->http_status,
                 "UploadLayerPart: the reply has no lastByteReceived");
            return;
        }
        l->e->result.parts++;
        if (last + 1 != end) {
            rewind_to(l, last + 1);
        } else {
            l->acked = end;
        }
        progress(l, false);
        return;
    }
    const char *x = req->error.exception;
    if (!ev->cancelled && !strcmp(x, "InvalidLayerPartException")) {
        /* -1 (nothing received) does not parse as a byte count: resume from the start */
        uint64_t r = req->error.has_last_valid_byte ? req->error.last_valid_byte + 1 : 0;
        rewind_to(l, r);
        return;
    }
    if (!ev->cancelled && !strcmp(x, "UploadNotFoundException")) {
        restart_upload(l, "UploadNotFoundException during parts");
        return;
    }
    fail_request(l, ev, &l->job);
}

static void on_completed(struct layer *l, const struct event *ev)
{
    const struct ecr_request *req = &l->job.priv.req;
    free(l->job_body);
    l->job_body = NULL;
    if (ev->ok) {
        char got[160];
        if (ecr_parse_complete(req->reply.data, req->reply.len, got, sizeof got) != 0) {
            fail(l, ECRUP_E_PROTOCOL, "BadReply", req->http_status,
                 "CompleteLayerUpload: the reply has no layerDigest");
            return;
        }
        if (strcmp(got, l->e->digest) != 0) {
            fail(l, ECRUP_E_DIGEST_MISMATCH, "DigestMismatch", req->http_status,
                 "the service stored %s, expected %s", got, l->e->digest);
            return;
        }
        succeed(l, ECRUP_OUTCOME_UPLOADED);
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
        snprintf(l->confirm_exception, sizeof l->confirm_exception, "%s", x);
        snprintf(l->confirm_message, sizeof l->confirm_message, "%s", req->error.message);
        l->st = L_CONFIRM_QUEUED;
        return;
    }
    fail_request(l, ev, &l->job);
}

static void on_layer_xfer(struct layer *l, const struct event *ev)
{
    l->inflight--;
    l->e->result.attempts += ev->attempts;
    if (!ev->ok)
        l->e->result.http_status = l->job.priv.req.http_status;
    switch (l->st) {
    case L_INITIATING:
        on_initiated(l, ev);
        break;
    case L_PUSHING:
    case L_DRAINING:
        if (wire_buf(l))
            on_part(l, ev);
        break;
    case L_COMPLETING:
        on_completed(l, ev);
        break;
    default:
        break;
    }
}

/* The check beside an upload found the layer present: nothing more of it is sent, and it ends
 * as existing once what is in flight has returned (as a failing layer drains). */
static void stop_existing(struct layer *l)
{
    l->failing = true;
    l->e->result.outcome = ECRUP_OUTCOME_EXISTS;
    l->e->result.status = ECRUP_OK;
    logf_at(l->s, ECRUP_LOG_INFO,
            "layer %s: the repository has it: upload stopped after %" PRIu64 " of %" PRIu64
            " bytes",
            l->e->layer.path, l->acked, l->size);
}

static void batch_mark(const char *digest, bool available, void *user)
{
    struct batch *b = user;
    for (struct layer *l = b->layers; l; l = l->batch_next)
        if (!strcmp(l->e->digest, digest))
            l->available = available;
}

static void on_batch(struct batch *b, const struct event *ev)
{
    const struct ecr_request *req = &b->job.priv.req;
    for (struct layer *l = b->layers; l; l = l->batch_next) {
        l->inflight--;
        l->e->result.attempts += ev->attempts;
        l->available = false;
    }
    bool parsed =
        ev->ok && ecr_parse_batch_check(req->reply.data, req->reply.len, batch_mark, b) >= 0;
    for (struct layer *l = b->layers, *next; l; l = next) {
        next = l->batch_next;
        l->batch_next = NULL;
        if (l->failing)
            continue;
        if (!parsed) {
            if (ev->ok)
                fail(l, ECRUP_E_PROTOCOL, "BadReply", req->http_status,
                     "BatchCheckLayerAvailability: the reply could not be understood");
            else {
                l->e->result.http_status = req->http_status;
                fail_request(l, ev, &b->job);
            }
            continue;
        }
        if (l->side_check == SC_FLYING) {
            if (l->available)
                stop_existing(l);
            else
                l->side_check = SC_ABSENT;
            continue;
        }
        if (l->st == L_CHECKING) {
            if (l->available)
                succeed(l, ECRUP_OUTCOME_EXISTS);
            else
                l->st = L_READY;
        } else if (l->st == L_CONFIRMING) {
            if (l->available)
                succeed(l, ECRUP_OUTCOME_UPLOADED);
            else if (l->confirm_restart)
                restart_upload(l, "UploadNotFoundException at completion, layer absent");
            else
                fail(l, ECRUP_E_REMOTE, l->confirm_exception, 400,
                     "CompleteLayerUpload: %s: %s, but BatchCheckLayerAvailability does not "
                     "list the layer",
                     l->confirm_exception, l->confirm_message);
        }
    }
    b->layers = NULL;
}

/* A layer waiting for a check: before its upload, beside it (overlap), or to confirm a
 * completion whose reply was an error. */
static bool wants_check(const struct layer *l)
{
    return !l->failing &&
           (l->st == L_CHECK_QUEUED || l->st == L_CONFIRM_QUEUED || l->side_check == SC_QUEUED);
}

/* Send every queued check, grouped into calls as check_batch.h says. */
static void send_checks(struct sched *s)
{
    for (size_t i = 0; i < s->n; i++) {
        struct layer *first = s->order[i];
        if (!wants_check(first))
            continue;
        if (!take_token(s, &s->b_check))
            return;
        struct check_batch cb;
        check_batch_init(&cb, first->e->layer.repository, first->e->layer.registry_id);
        struct batch *b = calloc(1, sizeof *b);
        if (!b) {
            fail(first, ECRUP_E_NOMEM, "OutOfMemory", 0, "out of memory");
            continue;
        }
        b->s = s;
        b->ev.kind = EV_BATCH_XFER;
        b->ev.obj = b;
        xfer_job_init(&b->job);
        b->job.done = batch_done_cb;
        b->job.user = b;
        struct layer **tail = &b->layers;
        for (size_t j = i; j < s->n && !check_batch_full(&cb); j++) {
            struct layer *l = s->order[j];
            if (!wants_check(l) || !check_batch_add(&cb, l->e->layer.repository,
                                                    l->e->layer.registry_id, l->e->digest))
                continue;
            if (l->side_check == SC_QUEUED)
                l->side_check = SC_FLYING; /* the upload goes on meanwhile */
            else
                l->st = l->st == L_CHECK_QUEUED ? L_CHECKING : L_CONFIRMING;
            if (l->st == L_CHECKING)
                set_phase(l, ECRUP_PHASE_CHECKING);
            l->inflight++;
            *tail = l;
            tail = &l->batch_next;
        }
        b->body = ecr_build_batch_check(cb.repository, cb.registry_id, cb.digests, cb.n);
        b->next = s->batches;
        s->batches = b;
        if (!b->body) {
            struct event ev = {.ok = false};
            for (struct layer *l = b->layers; l; l = l->batch_next)
                fail(l, ECRUP_E_NOMEM, "OutOfMemory", 0, "out of memory");
            on_batch(b, &ev);
            continue;
        }
        b->job.call.operation = "BatchCheckLayerAvailability";
        b->job.call.body = b->body;
        b->job.call.body_len = strlen(b->body);
        transfer_submit(s->xfer, &b->job);
    }
}

static void on_read(struct sched *s, const struct io_completion *c)
{
    struct part_buf *pb = c->user;
    struct layer *l = pb->owner;
    l->inflight--;
    if (pb->discard || l->failing) {
        release_pb(s, pb);
        return;
    }
    if (c->error || c->bytes != c->length) {
        release_pb(s, pb);
        fail_io(l, c->error ? c->error : -EIO);
        return;
    }
    pb->slot->raw_len = c->bytes;
    pb->st = PB_READ;
}

static void on_prepared(struct prep_task *t)
{
    struct layer *l = t->l;
    struct part_buf *pb = t->pb;
    l->inflight--;
    if (t->md)
        l->prep_busy = false;
    if (pb->discard || l->failing) {
        release_pb(l->s, pb);
        return;
    }
    ecrup_status st = t->status;
    if (st != ECRUP_OK) {
        release_pb(l->s, pb); /* t lives in pb: read nothing of it after this */
        fail(l, st, "PrepareFailed", 0, "cannot prepare the part body: %s", ecrup_strerror(st));
        return;
    }
    pb->slot->body_len = pb->pr.body_len;
    pb->st = PB_READY;
}

static void on_hashed(struct layer *l)
{
    const struct hash_task *t = &l->hash;
    l->inflight--;
    if (l->failing)
        return;
    if (t->err) {
        fail_io(l, t->err);
        return;
    }
    if (l->st == L_REHASHING) {
        set_digest_hex(l, t->hex);
        start_complete(l);
        return;
    }
    if (l->overlap) {
        set_digest_hex(l, t->hex);
        l->side_check = SC_QUEUED;
        return;
    }
    if (l->e->layer.digest && strcmp(l->e->layer.digest + 7, t->hex) != 0) {
        fail(l, ECRUP_E_DIGEST_MISMATCH, "DigestMismatch", 0,
             "layer file %s has digest sha256:%s, not %s", l->e->layer.path, t->hex,
             l->e->layer.digest);
        return;
    }
    set_digest_hex(l, t->hex);
    l->st = L_CHECK_QUEUED;
}

/* Admission: open, check the identity, decide hashing. */
static void admit(struct layer *l)
{
    struct sched *s = l->s;
    int fd = open(l->e->layer.path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        fail_io(l, -errno);
        return;
    }
    l->fd = fd;
    s->open_layers++;
    if (file_id_check(&l->id0, fd, l->e->layer.path) != 0) {
        fail_io(l, -ESTALE);
        return;
    }
    l->digest_known = l->e->layer.digest != NULL;
    if (l->digest_known)
        snprintf(l->e->digest, sizeof l->e->digest, "%s", l->e->layer.digest);
    if (s->o->no_check) {
        l->raw_hash = !l->digest_known;
        l->st = L_READY;
    } else if (!l->digest_known && !s->o->check_first) {
        start_hash(l, L_HASHING);
        l->overlap = true;
        l->st = L_READY;
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
            push_send(s->order[i]);
    for (size_t i = 0; i < s->n; i++) {
        struct layer *l = s->order[i];
        if (l->st == L_DONE)
            continue;
        if (l->failing) {
            if (!l->inflight)
                finish(l);
            continue;
        }
        if (l->st == L_WAITING) {
            if (s->open_layers < MAX_OPEN_LAYERS)
                admit(l);
            if (l->failing && !l->inflight)
                finish(l);
            continue;
        }
        if (l->st == L_PUSHING) {
            push_fill(l);
            push_send(l);
            if (!l->failing && l->acked == l->size && !l->inflight && !wire_buf(l) &&
                (!l->overlap || l->side_check == SC_ABSENT))
                parts_finished(l);
        } else if (l->st == L_DRAINING && !l->inflight) {
            l->st = L_READY;
        }
        if (l->failing && !l->inflight)
            finish(l);
    }
    send_checks(s);
    /* flights, largest first */
    unsigned fly = flying(s);
    for (size_t i = 0; i < s->n; i++) {
        struct layer *l = s->order[i];
        if (l->st != L_READY || l->failing)
            continue;
        if (s->pool_status != ECRUP_OK) {
            fail(l, s->pool_status, "ResourceSetup", 0, "%s", s->pool_message);
            if (!l->inflight)
                finish(l);
            continue;
        }
        if (fly >= s->flight_limit)
            break;
        start_initiate(l);
        if (l->st == L_INITIATING)
            fly++;
        if (l->failing && !l->inflight)
            finish(l);
        if (l->st == L_READY)
            break; /* out of tokens */
    }
    for (size_t i = 0; i < s->n; i++)
        if (s->layers[i].st != L_DONE)
            progress(&s->layers[i], false);
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
        fail(l, ECRUP_E_CANCELLED, "Cancelled", 0, "cancelled");
        if (!l->inflight)
            finish(l);
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
        on_batch(ev->obj, ev);
        break;
    case EV_PREPARED:
        on_prepared(ev->obj);
        break;
    case EV_HASHED:
        on_hashed(ev->obj);
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
        fail(l, ECRUP_E_INVALID_ARGUMENT, "InvalidRange", 0,
             "layer file %s: the range at offset %" PRIu64 " of %" PRIu64
             " bytes ends past the largest file offset",
             path, off, len);
        return false;
    }
    if (off > fsize || (len && off + len > fsize)) {
        if (len)
            fail(l, ECRUP_E_INVALID_ARGUMENT, "InvalidRange", 0,
                 "layer file %s: the range at offset %" PRIu64 " of %" PRIu64
                 " bytes reaches past the end of the %" PRIu64 "-byte file",
                 path, off, len, fsize);
        else
            fail(l, ECRUP_E_INVALID_ARGUMENT, "InvalidRange", 0,
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
    s->n = e->n_layers;
    pthread_mutex_init(&s->ev_lock, NULL);
    retry_quota_init(&s->quota);
    retry_rate_limiter_init(&s->limiter, mono_now());
    s->layers = calloc(s->n ? s->n : 1, sizeof *s->layers);
    s->order = calloc(s->n ? s->n : 1, sizeof *s->order);
    if (!s->layers || !s->order)
        return ECRUP_E_NOMEM;
    if (b64_resolve(s->o->base64_backend, &s->b64) != 0)
        return ECRUP_E_UNSUPPORTED;
    double now = mono_now();
    const struct ecrup_options *o = s->o;
    bucket_init(&s->b_part, o->rate_upload_layer_part > 0 ? o->rate_upload_layer_part : 500, now);
    bucket_init(&s->b_initiate,
                o->rate_initiate_layer_upload > 0 ? o->rate_initiate_layer_upload : 100, now);
    bucket_init(&s->b_complete,
                o->rate_complete_layer_upload > 0 ? o->rate_complete_layer_upload : 100, now);
    bucket_init(&s->b_check,
                o->rate_batch_check_layer_availability > 0 ? o->rate_batch_check_layer_availability
                                                           : 1000,
                now);
    for (size_t i = 0; i < s->n; i++) {
        struct layer *l = &s->layers[i];
        l->s = s;
        l->e = &e->layers[i];
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
        /* stat every file up front: sizes order the flights, and a missing file fails now */
        struct stat st;
        if (stat(l->e->layer.path, &st) != 0) {
            fail_io(l, -errno);
            continue;
        }
        l->id0 = file_id_of(&st);
        if (!S_ISREG(st.st_mode)) {
            fail_io(l, S_ISDIR(st.st_mode) ? -EISDIR : -EINVAL);
        } else if (layer_range(l)) {
            if (l->size == 0 && !l->e->layer.offset && !l->e->layer.length)
                fail(l, ECRUP_E_EMPTY_LAYER, "EmptyLayer", 0, "layer file %s is empty",
                     l->e->layer.path);
            else if (l->size == 0)
                fail(l, ECRUP_E_EMPTY_LAYER, "EmptyLayer", 0,
                     "layer file %s: the range at offset %" PRIu64 " is empty", l->e->layer.path,
                     l->e->layer.offset);
            else if (l->size > PLAN_MAX_LAYER)
                fail(l, ECRUP_E_TOO_LARGE, "TooLarge", 0,
                     "layer file %s%s is %" PRIu64 " bytes, over ECR's 52,000 MiB",
                     l->e->layer.path, l->base || l->e->layer.length ? " (the range)" : "",
                     l->size);
        }
    }
    qsort(s->order, s->n, sizeof *s->order, by_size_desc);
    s->concurrency = sizing_concurrency(s->o->concurrency, sysconf(_SC_NPROCESSORS_ONLN));
    for (size_t i = 0; i < s->n; i++) {
        const struct ecrup_layer *el = &s->layers[i].e->layer;
        size_t r = strlen(el->repository) + (el->registry_id ? strlen(el->registry_id) : 0);
        if (r > s->names)
            s->names = r;
    }
    /* until the pool is made and sets its own */
    s->flight_limit =
        sizing_early_flights(sizing_memory_limit(s->o->memory_limit), s->names, s->concurrency);
    s->workers = workers_new(0);
    if (!s->workers)
        return ECRUP_E_NOMEM;
    struct transfer_config tc = engine_transfer_config(e);
    tc.quota = &s->quota;
    tc.limiter = &s->limiter;
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
    while (s->batches) {
        struct batch *b = s->batches;
        s->batches = b->next;
        xfer_job_cleanup(&b->job);
        free(b->body);
        free(b);
    }
    for (size_t i = 0; s->layers && i < s->n; i++) {
        struct layer *l = &s->layers[i];
        xfer_job_cleanup(&l->job);
        if (l->st != L_DONE && !l->inflight)
            finish(l);
    }
    io_reader_free(s->reader);
    io_bufpool_free(s->pool);
    retry_rate_limiter_cleanup(&s->limiter);
    retry_quota_cleanup(&s->quota);
    free(s->layers);
    free(s->order);
    pthread_mutex_destroy(&s->ev_lock);
}

/* Once every layer has read its last part, the pool's pages go back to the system as slots
 * come free, while the run's tail waits on the network: freeing them all at the end cost
 * ~50 ms for a 300 MiB pool, all of it on the wall clock. */
static void maybe_trim(struct sched *s)
{
    if (s->trimmed || !s->pool)
        return;
    for (size_t i = 0; i < s->n; i++) {
        const struct layer *l = &s->layers[i];
        if (l->st != L_DONE && !(l->plan.part_size && l->next_off >= l->size))
            return;
    }
    s->trimmed = true;
    io_bufpool_trim(s->pool);
}

ecrup_status engine_run_layers(struct ecrup_engine *e)
{
    if (atomic_load(&e->cancelled)) {
        /* Cancelled before the run: nothing is touched, every layer ends Cancelled. */
        for (size_t i = 0; i < e->n_layers; i++) {
            struct layer_entry *le = &e->layers[i];
            le->result.outcome = ECRUP_OUTCOME_FAILED;
            le->result.status = ECRUP_E_CANCELLED;
            le->result.exception = "Cancelled";
            le->result.message = "cancelled before the upload started";
        }
        return e->n_layers ? ECRUP_E_CANCELLED : ECRUP_OK;
    }
    struct sched sched = {0}, *s = &sched;
    ecrup_status st = sched_setup(s, e);
    if (st != ECRUP_OK) {
        for (size_t i = 0; i < e->n_layers; i++) {
            struct layer_entry *le = &e->layers[i];
            if (le->result.outcome != ECRUP_OUTCOME_PENDING)
                continue;
            le->result.outcome = ECRUP_OUTCOME_FAILED;
            le->result.status = st;
            le->result.exception = "ResourceSetup";
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
        s->next_due = mono_now() + 1.0;
        advance(s);
        maybe_trim(s);
        if (s->done == s->n)
            break;
        struct pollfd pfd[2] = {{.fd = e->wake_fd, .events = POLLIN},
                                {.fd = s->reader ? io_reader_fd(s->reader) : -1, .events = POLLIN}};
        double wait = s->next_due - mono_now();
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
                    on_read(s, &c[i]);
        }
    }
    sched_teardown(s);
    st = ECRUP_OK;
    for (size_t i = 0; i < e->n_layers; i++) {
        const struct ecrup_result *r = &e->layers[i].result;
        if (r->outcome == ECRUP_OUTCOME_FAILED) {
            st = r->status;
            break;
        }
    }
    return st;
}
