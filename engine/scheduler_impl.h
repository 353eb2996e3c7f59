/* Shared by the scheduler's files: scheduler.c (each layer's state machine and the run loop),
 * parts.c (a pushing layer's parts and the buffer pool), checks.c (BatchCheckLayerAvailability
 * calls), layer_result.c (a layer's result record) and progress.c (log lines and
 * progress events). Not for use outside them.
 *
 * Threads: everything here belongs to the engine thread (the caller of ecrup_engine_run),
 * except what a worker or the transfer thread is handed: a prepare task's part while it runs
 * (parts.c), a hash task (hash_pass.h), a job in flight (transfer.h). Those threads write no
 * layer state and read only what the engine thread wrote before handing the work over; they
 * post an event (sched_post) and the engine thread takes it from there. The event list is
 * guarded by sched.ev_lock. */
#ifndef ECRUP_ENGINE_SCHEDULER_IMPL_H
#define ECRUP_ENGINE_SCHEDULER_IMPL_H

#include <ecrup.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "engine/bucket.h"
#include "engine/engine_impl.h"
#include "engine/hash_pass.h"
#include "engine/journal.h"
#include "engine/payload.h"
#include "engine/plan.h"
#include "engine/retry.h"
#include "engine/sha256.h"
#include "engine/sizing.h"
#include "engine/transfer.h"
#include "engine/workers.h"
#include "io/bufpool.h"
#include "io/reader.h"
#include "util/buf.h"
#include "util/fileid.h"

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
enum evkind { EV_LAYER_XFER, EV_BATCH_XFER, EV_PREPARED, EV_HASHED, EV_STREAM_READ };

/* A stream layer's size until its read callback says it has ended. */
#define STREAM_SIZE_UNKNOWN UINT64_MAX
struct event {
    enum evkind kind;
    void *obj;
    struct event *next;
    /* EV_*_XFER: a copy of the xfer_result (the request itself stays in the job) */
    bool ok, cancelled;
    enum retry_class last_class; /* of the last failed attempt (xfer_result) */
    unsigned attempts;
};

struct part_buf;

/* Filling one part of a stream layer from its read callback, on a stream worker (stream.c);
 * embedded in the layer (one read at a time), set up at each submit. */
struct stream_task {
    struct worker_task w;
    struct layer *l;
    struct part_buf *pb;
    size_t got; /* bytes read into the part; less than its length: the stream ended */
    int err;    /* the callback's negative errno, or 0 */
    struct event ev;
};

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
    struct payload_stream body; /* the request body, written from the raw bytes as it goes */
    struct prep_task prep;
};

struct layer {
    struct sched *s;
    struct layer_entry *e;
    enum lstate st;
    unsigned throttle_rounds; /* Initiates and Completes sent again after throttled attempts */
    ecrup_phase phase;
    /* A stream layer (ecrup_layer.read): no file, read forward only by one stream task at a
     * time; `size` is STREAM_SIZE_UNKNOWN until the read that ends it (stream.c). */
    bool stream, stream_busy;
    uint64_t stream_pos; /* bytes handed over by the callback so far */
    uint64_t stream_cap; /* the most the part plan carries (4,200 parts) */
    struct stream_task sread;
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
    bool prep_busy;      /* a prepare feeding the running hash is in flight */
    bool slice_busy;     /* overlap: a slice of the file is being added to the running hash */
    uint64_t from_slots; /* overlap: bytes the running hash took from part buffers */
    unsigned inflight;   /* reads, prepares, hashes and requests not yet handled */
    unsigned restarts, rewinds;
    /* A part the service refused without moving the resume point ("being received") is
     * retried under the retry policy: its attempts at this point, the retry quota they took
     * and the time it may go again (0: now). */
    unsigned here_attempts, here_quota;
    double resend_at;
    bool failing;
    bool confirm_restart; /* the Complete that needs confirming said UploadNotFound */
    /* The Complete ran out of retries (throttled, 5xx, network): absent means it failed so */
    bool confirm_failed;
    ecrup_status confirm_status; /* confirm_failed: the Complete's failure */
    long confirm_http;
    char confirm_exception[128], confirm_message[512];
    bool available; /* from the last batch check */
    /* Uploading while the digest is computed (options.check_first 0), then a check beside the
     * upload; CompleteLayerUpload waits for it to say absent. The digest is one running hash
     * (md, up to hashed_off) fed in file order by whichever comes first: the prepare of the
     * part that starts at hashed_off, which adds the raw bytes already in its slot (one read,
     * one pass over them with the body hash), or a slice read from the file when no such part
     * is there (the digest runs ahead of a slow upload, for an early check). shared.c. */
    bool overlap;
    enum { SC_NONE, SC_QUEUED, SC_FLYING, SC_ABSENT } side_check;
    struct xfer_job job;
    char *job_body;
    struct hash_task hash;
    struct event hash_ev; /* EV_HASHED */
    struct event ev;      /* EV_LAYER_XFER */
    double last_progress;
    uint64_t reported_bytes, reported_sent; /* the last event's bytes_done and bytes_sent */
    struct layer *batch_next;
    /* resume.c: the layer's journal entry (NULL: none), held under its lock until the end */
    struct journal_entry *journal;
    bool resume_tried;   /* the journal was looked at: a restarted upload never resumes */
    bool resume_pending; /* resumed, and no part confirmed yet: the registry may be ahead */
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
    struct workers *stream_workers; /* stream layers' reads, which may block; NULL: none */
    size_t n_streams;
    struct io_bufpool *pool;
    bool trimmed; /* the pool returns its pages as slots come free (parts_trim) */
    struct io_reader *reader;
    ecrup_status pool_status; /* set when the pool could not be made: later layers fail too */
    char pool_message[256];
    bool part_size_warned; /* the "--part-size above the service's partSize" warning is out */
    unsigned concurrency;  /* layers in flight at most */
    unsigned flight_limit;
    unsigned n_flying; /* INITIATING, PUSHING or DRAINING, counted at each pass */
    unsigned open_layers;
    ecrup_base64_backend b64;
    struct bucket b_part, b_initiate, b_complete, b_check;
    /* ThrottlingExceptions per bucket (in the order above), counted by the transfer thread
     * (sched_throttled); the engine thread cuts a bucket's rate when its count moved past
     * what it has seen. */
    _Atomic unsigned throttles[4];
    unsigned throttles_seen[4];
    double next_due; /* earliest time a token-limited step may go */
    uint64_t rng;    /* backoff jitter of the engine's own retries (xorshift64) */
    bool cancel_seen;
    size_t done;
    struct batch *batches;
    struct journal *journal; /* resume.c: options.state_dir's journal, or NULL */

    pthread_mutex_t ev_lock;
    bool locks_ready;                /* ev_lock, quota and limiter were made (sched_setup) */
    struct event *ev_head, *ev_tail; /* guarded by ev_lock */
};

/* ---- scheduler.c ---- */

/* The monotonic clock the run's times are on, in seconds. */
double sched_now(void);
/* Any thread: queue `ev` for the engine thread and wake it. */
void sched_post(struct sched *s, struct event *ev);
/* Transfer thread: post `ev` with a copy of a finished job's outcome. */
void sched_post_xfer(struct sched *s, struct event *ev, const struct xfer_result *res);
/* ---- pacing.c ---- */

/* The four buckets at the options' rates, or ECR's default quotas growing (bucket.h). */
void sched_pacing_init(struct sched *s, double now);
/* A token for one request of bucket `b`, or false and the run loop wakes when one is due.
 * Applies the throttles reported since the last take first (a cut). Engine thread. */
bool sched_take_token(struct sched *s, struct bucket *b);
/* Transfer thread (transfer_config.throttled): an attempt of `operation` was throttled. */
void sched_throttled(void *user, const char *operation);
/* A step out of attempts whose last one was throttled (not acted on; its bucket cut
 * meanwhile): back to state `back`, to be sent again at the paced rate, and true; false when
 * the failure stands (another cause, cancelled, or the layer's five rounds spent). */
bool layer_send_again_throttled(struct layer *l, const struct event *ev, enum lstate back);
/* Send one call of the layer's own (its job: one at a time); `body` is borrowed until the
 * reply. `body_sha256`: the body's hex SHA-256 when known, else NULL. */
void layer_submit_call(struct layer *l, const char *op, const char *body, size_t len,
                       const char *body_sha256);
/* The same with a body libcurl pulls from `stream` as it sends (rewound for every attempt);
 * the stream is borrowed until the reply. */
void layer_submit_stream(struct layer *l, const char *op, struct payload_stream *stream,
                         const char *body_sha256);

/* Hash bytes [off, off + size) of the layer's file on a worker (l->hash; EV_HASHED when it
 * ends), an urgent task or a background one: a pass whose digest lands in l->hash.hex, or,
 * with `into`, a piece added to that running hash. */
void layer_hash(struct layer *l, uint64_t off, uint64_t size, struct sha256_stream *into,
                bool urgent);
/* The layer's digest is sha256:`hex` (64 lowercase hex digits). */
void layer_set_digest(struct layer *l, const char *hex);

/* ---- progress.c ---- */

/* A log line at `level`, when the host's log callback wants it. */
void sched_log(struct sched *s, ecrup_log_level level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Report the layer's progress: at once when `force`, else at most every 0.1 s and only when
 * bytes moved. */
void layer_progress(struct layer *l, bool force);
/* Enter phase `p`, reported at once. */
void layer_set_phase(struct layer *l, ecrup_phase p);

/* ---- layer_result.c ---- */

/* The layer ends with `outcome` (UPLOADED or EXISTS). */
void layer_succeed(struct layer *l, ecrup_outcome outcome);
/* The layer ends (DONE) with what its result holds: its buffers and files are released. */
void layer_finish(struct layer *l);
/* A request of the layer (its own or a batch check it shared) ended after `attempts` sends:
 * one request, the sends beyond the first retries (result.requests, .retries, .attempts). */
void layer_count_requests(struct layer *l, unsigned attempts);

/* Mark the layer failed; it ends once nothing of it is in flight. The first failure wins.
 * Its exception is the status's name (ecrup_status_name); the message says what failed. */
void layer_fail(struct layer *l, ecrup_status st, long http, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* The same for a failure the service named: `exception` is its exception name. */
void layer_fail_remote(struct layer *l, ecrup_status st, const char *exception, long http,
                       const char *fmt, ...) __attribute__((format(printf, 5, 6)));
/* The layer's failed request (its job or a batch's) as its failure. */
void layer_fail_request(struct layer *l, const struct event *ev, const struct xfer_job *job);
/* A negative errno from opening, reading or re-checking the layer's file as its failure. */
void layer_fail_io(struct layer *l, int err);

/* ---- parts.c ---- */

/* Make the buffer pool and the reader for parts of plan->part_size bytes and set the flight
 * limit; on failure a message in `msg`. */
ecrup_status parts_make_pool(struct sched *s, const struct part_plan *plan, struct ebuf *msg);
/* Give a part's slot back to the pool and clear it. */
void part_release(struct sched *s, struct part_buf *pb);
/* PUSHING: keep the parts after the one on the wire read and prepared: the read-ahead
 * depth sizing_read_depth() gives, and at most `cap` parts live. */
void parts_fill(struct layer *l, unsigned cap);
/* PUSHING: send the next part when it is ready and nothing of this layer is on the wire. */
void parts_send(struct layer *l);
/* The part on the wire, or NULL. */
struct part_buf *parts_wire(struct layer *l);
/* The reply to the part on the wire. */
void parts_on_reply(struct layer *l, const struct event *ev);
/* A read of the reader finished. */
void parts_on_read(struct sched *s, const struct io_completion *c);
/* A prepare task finished (EV_PREPARED). */
void parts_on_prepared(struct prep_task *t);
/* Back to the start of a new upload (`why` is logged): the old one's parts are abandoned. */
void parts_restart(struct layer *l, const char *why);
/* Return the pool's pages to the system once every layer has read its last part. */
void parts_trim(struct sched *s);

/* ---- stream.c ---- */

/* PUSHING: read the stream layer's next part into `pb` (a free part buffer with a slot) on a
 * stream worker, when no read of it is in flight; false when one is (nothing is taken). */
bool stream_fill(struct layer *l, struct part_buf *pb, struct io_slot *slot);
/* A stream read ended (EV_STREAM_READ). */
void stream_on_read(struct stream_task *t);
/* Plan a stream layer's parts for the part size the options and the service give: the plan
 * carries up to 4,200 parts of it (l->stream_cap). */
ecrup_status stream_plan(struct layer *l, uint64_t wanted, uint64_t server_part);
/* False (and the layer failed with ECRUP_E_STREAM_REWIND) when a stream layer cannot go on
 * from byte `r`: `pos` is where the parts kept from r end, `hash_ok` whether the running hash
 * can go on; true for a file layer. `what` says what happened, for the message. */
bool stream_can_resume(struct layer *l, uint64_t r, uint64_t pos, bool hash_ok, const char *what);

/* ---- shared.c ---- */

/* An overlap layer is admitted: start its running hash. False when the layer failed. */
bool shared_begin(struct layer *l);
/* Feed the running hash from the file when no part in a slot is about to. */
void shared_step(struct layer *l);
/* The prepare that fed the running hash, or a slice, has ended (hashed_off moved). */
void shared_fed(struct layer *l);
/* The part to prepare with the running hash: a read part at hashed_off when nothing feeds the
 * hash now; NULL otherwise. */
struct part_buf *shared_next(struct layer *l);

/* ---- resume.c ---- */

/* Open options.state_dir's journal (a failure is logged, and the run goes on without). */
void resume_open(struct sched *s);
void resume_close(struct sched *s);
/* Before InitiateLayerUpload: take the layer's journal entry. True when an earlier run's
 * upload of this very file and target is to be continued: l->upload_id is set, *part_size
 * is the part size it used and *at the bytes it had confirmed. */
bool resume_find(struct layer *l, uint64_t *part_size, uint64_t *at);
/* InitiateLayerUpload answered: journal the new upload. */
void resume_begun(struct layer *l);
/* The registry confirmed the layer's first l->acked bytes. */
void resume_confirmed(struct layer *l);
/* The registry says it has the first `r` bytes of a resumed upload (its lastValidByteReceived,
 * ahead of the journal when a part was committed just before the kill). */
void resume_corrected(struct layer *l, uint64_t r);
/* The layer ends: its entry goes when it was uploaded or found present, else stays for the
 * next run. */
void resume_end(struct layer *l);

/* ---- checks.c ---- */

/* Send every queued check. */
void checks_send(struct sched *s);
/* A BatchCheckLayerAvailability call ended (EV_BATCH_XFER). */
void checks_on_reply(struct batch *b, const struct event *ev);
/* Free every batch (teardown, once the transfer has stopped). */
void checks_free(struct sched *s);

#endif
