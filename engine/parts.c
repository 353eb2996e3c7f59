/* A pushing layer's parts: each lives in a pool slot and goes read -> prepared (on a worker:
 * payload.h) -> on the wire -> acknowledged, strictly in order, at most one on the wire per
 * layer, with the next ones read and prepared meanwhile (docs/engine.md). Also the buffer
 * pool itself, made when the first InitiateLayerUpload tells the part size, and the resumes:
 * a rewind to the byte the service has, or a new upload.
 *
 * Engine thread, except prep_run and prep_run_pair, which run on a worker. */
#include "engine/scheduler_impl.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "engine/base64.h"
#include "engine/ecr_json.h"

#define MAX_RESTARTS 3u /* uploads started over after UploadNotFoundException */
/* Resumes to a point other than the one asked for, per layer: each answers a part that was
 * committed or lost, so a healthy upload needs few; a service that moves the point forever
 * is stopped by a bound that grows with the layer (a stalled link is the stall window's). */
#define REWINDS_BASE     32u
#define REWINDS_PER_PART 4u

void part_release(struct sched *s, struct part_buf *pb)
{
    if (pb->slot)
        io_bufpool_release(s->pool, pb->slot);
    memset(pb, 0, sizeof *pb);
}

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

/* Worker thread: hash one part's body and set up its stream, then hand the task back. */
static void prep_run(struct worker_task *w)
{
    struct prep_task *t = (struct prep_task *)w;
    struct part_buf *pb = t->pb;
    struct payload_part part = part_of(t);
    struct payload_options po = {.backend = t->l->s->b64, .layer_sha256 = t->md};
    t->status = payload_hash(&part, &po, &pb->pr);
    if (t->status == ECRUP_OK)
        t->status = payload_stream_init(&pb->body, &part, po.backend);
    sched_post(t->l->s, &t->ev);
}

/* Worker thread: two prepares without a running hash (of any layers), their body hashes side
 * by side. */
static void prep_run_pair(struct worker_task *a, struct worker_task *b)
{
    struct prep_task *t[2] = {(struct prep_task *)a, (struct prep_task *)b};
    struct payload_part parts[2] = {part_of(t[0]), part_of(t[1])};
    const struct payload_part *pp[2] = {&parts[0], &parts[1]};
    struct payload_result *res[2] = {&t[0]->pb->pr, &t[1]->pb->pr};
    struct payload_options po = {.backend = t[0]->l->s->b64};
    ecrup_status st = payload_hash_pair(pp, &po, res);
    for (int i = 0; i < 2; i++) {
        t[i]->status =
            st == ECRUP_OK ? payload_stream_init(&t[i]->pb->body, pp[i], po.backend) : st;
        sched_post(t[i]->l->s, &t[i]->ev);
    }
}

ecrup_status parts_make_pool(struct sched *s, const struct part_plan *plan, struct ebuf *msg)
{
    size_t ps = (size_t)plan->part_size;
    uint64_t limit = sizing_memory_limit(s->o->memory_limit);
    unsigned slots = io_bufpool_slots_for(limit, ps);
    if (slots < 2) {
        ebuf_printf(msg,
                    "memory limit of %" PRIu64 " bytes holds fewer than 2 buffers of %zu-byte "
                    "parts (%zu bytes each): raise it",
                    limit, ps, io_bufpool_slot_bytes(ps));
        return ECRUP_E_INVALID_ARGUMENT;
    }
    unsigned left = 0;
    for (size_t i = 0; i < s->n; i++)
        if (s->layers[i].st != L_DONE)
            left++;
    struct io_bufpool_options po = {.part_size = ps,
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
    sched_log(s, ECRUP_LOG_DEBUG, "io backend: %s",
              io_reader_describe(s->reader, desc, sizeof desc));
    struct payload_options pay = {.backend = s->b64};
    const char *sha = payload_native(&pay)         ? "native SHA-NI, two messages per loop"
                      : !sha256_native_available() ? "OpenSSL (no SHA-NI on this CPU)"
                      : !sha256_native()           ? "OpenSSL (" SHA256_ENV "=openssl)"
                                                   : "OpenSSL (with the scalar encoder)";
    sched_log(s, ECRUP_LOG_DEBUG, "base64 backend: %s; SHA-256: %s", b64_backend_name(s->b64), sha);
    sched_log(s, ECRUP_LOG_DEBUG,
              "part buffers: %u slots of %zu bytes (memory limit %" PRIu64 "), %u layers in flight",
              n, ps, limit, s->flight_limit);
    return ECRUP_OK;
}

static double sched_random01(struct sched *s)
{
    s->rng ^= s->rng >> 12;
    s->rng ^= s->rng << 25;
    s->rng ^= s->rng >> 27;
    return (double)((s->rng * 0x2545F4914F6CDD1Dull) >> 11) / 9007199254740992.0;
}

/* The part at l->acked was refused without the resume point moving (another part of the
 * upload still "being received", typically the one of a connection given up on mid-body):
 * another attempt at the same point, under the retry policy as the transfer's own retries
 * are (max_attempts counting every attempt made at this point, the shared quota, backoff
 * with full jitter). `attempts` were made by the refused call. False: out of attempts or
 * quota, the caller fails the layer. */
static bool retry_here(struct layer *l, unsigned attempts)
{
    struct sched *s = l->s;
    l->here_attempts += attempts ? attempts : 1;
    unsigned max = s->e->max_attempts ? s->e->max_attempts : RETRY_DEFAULT_MAX_ATTEMPTS;
    unsigned cost = 0;
    if (l->here_attempts >= max || !retry_quota_acquire(&s->quota, false, &cost))
        return false;
    l->here_quota += cost;
    double wait = retry_backoff_seconds(l->here_attempts, sched_random01(s));
    l->resend_at = sched_now() + wait;
    sched_log(s, ECRUP_LOG_INFO,
              "layer %s: the part at byte %" PRIu64 " was refused at the same point; again in "
              "%.2f s (attempt %u of %u)",
              l->e->layer.path, l->acked, wait, l->here_attempts + 1, max);
    return true;
}

/* The resume point moved on: the attempts at the old one are behind us, and a success gives
 * back the quota they took. */
static void here_moved(struct layer *l, bool success)
{
    if (success && l->here_quota)
        retry_quota_release(&l->s->quota, l->here_quota);
    l->here_attempts = l->here_quota = 0;
    l->resend_at = 0;
}

/* Back to the start of a new upload: every slot of the old one is abandoned. */
void parts_restart(struct layer *l, const char *why)
{
    if (!stream_can_resume(l, 0, 0, false, why))
        return;
    l->restarts++;
    if (l->restarts > MAX_RESTARTS) {
        layer_fail_remote(l, ECRUP_E_REMOTE, "UploadNotFoundException", 400,
                          "the upload was lost %u times (%s); giving up", l->restarts, why);
        return;
    }
    sched_log(l->s, ECRUP_LOG_INFO, "layer %s: starting the upload over (%s)", l->e->layer.path,
              why);
    for (size_t i = 0; i < sizeof l->pb / sizeof l->pb[0]; i++) {
        struct part_buf *pb = &l->pb[i];
        if (pb->st == PB_READ || pb->st == PB_READY)
            part_release(l->s, pb);
        else if (pb->st != PB_FREE)
            pb->discard = true;
    }
    if (l->raw_hash && l->hashed_off)
        l->hash_broken = true;
    here_moved(l, false);
    l->acked = l->next_off = 0;
    l->st = L_DRAINING;
}

/* Resume at byte `r` after InvalidLayerPartException (or an unexpected lastByteReceived).
 * `attempts`: the refused call's. */
static void rewind_to(struct layer *l, uint64_t r, unsigned attempts)
{
    bool moved = r != l->acked;
    if (!moved) {
        if (!retry_here(l, attempts)) {
            layer_fail_remote(l, ECRUP_E_PROTOCOL, "InvalidLayerPartException", 400,
                              "the service kept refusing the part at byte %" PRIu64
                              " (%u attempts); giving up",
                              r, l->here_attempts);
            return;
        }
    } else {
        here_moved(l, false);
        uint64_t limit = REWINDS_BASE + REWINDS_PER_PART * l->plan.n_parts;
        if (++l->rewinds > limit) {
            layer_fail_remote(l, ECRUP_E_PROTOCOL, "InvalidLayerPartException", 400,
                              "the service kept moving the resume point (%u resumes); giving up",
                              l->rewinds);
            return;
        }
    }
    if (r > l->size) {
        layer_fail_remote(l, ECRUP_E_PROTOCOL, "InvalidLayerPartException", 400,
                          "the service reports %" PRIu64 " bytes received of a %" PRIu64
                          "-byte layer",
                          r, l->size);
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
    if (!stream_can_resume(l, r, pos, !l->raw_hash || l->hashed_off == next_fed,
                           moved ? "the registry resumes the upload" : "the part goes again"))
        return;
    for (size_t i = 0; i < SIZING_SLOTS_PER_LAYER; i++) {
        struct part_buf *pb = &l->pb[i];
        if (pb->st == PB_FREE || pb->discard || keep[i])
            continue;
        if (pb->st == PB_READ || pb->st == PB_READY)
            part_release(l->s, pb);
        else
            pb->discard = true;
    }
    if (l->raw_hash && !l->hash_broken && l->hashed_off != next_fed)
        l->hash_broken = true;
    l->acked = r;
    l->next_off = pos;
    sched_log(l->s, ECRUP_LOG_INFO, "layer %s: %s at byte %" PRIu64 "%s", l->e->layer.path,
              moved ? "resuming" : "reading the part again", r,
              l->hash_broken && l->raw_hash ? " (digest recomputed at the end)" : "");
}

/* PUSHING: send the next part when it is ready and nothing of this layer is on the wire. */
void parts_send(struct layer *l)
{
    struct sched *s = l->s;
    size_t npb = sizeof l->pb / sizeof l->pb[0];
    for (size_t i = 0; i < npb; i++)
        if (l->pb[i].st == PB_WIRE)
            return;
    if (l->resend_at > 0) {
        if (sched_now() < l->resend_at) {
            if (l->resend_at < s->next_due)
                s->next_due = l->resend_at;
            return;
        }
        l->resend_at = 0;
    }
    for (size_t i = 0; i < npb; i++) {
        struct part_buf *pb = &l->pb[i];
        if (pb->st == PB_READY && !pb->discard && pb->off == l->acked) {
            if (!sched_take_token(s, &s->b_part))
                return;
            pb->st = PB_WIRE;
            layer_submit_stream(l, "UploadLayerPart", &pb->body, pb->pr.body_sha256_hex);
            return;
        }
    }
}

/* PUSHING: keep the parts after the one on the wire read and prepared, at most `cap` live. */
void parts_fill(struct layer *l, unsigned cap)
{
    struct sched *s = l->s;
    size_t npb = sizeof l->pb / sizeof l->pb[0];
    unsigned live = 0;
    for (size_t i = 0; i < npb; i++)
        if (l->pb[i].st != PB_FREE && !l->pb[i].discard)
            live++;
    unsigned depth =
        sizing_read_depth(io_bufpool_count(s->pool), s->n_flying, workers_count(s->workers));
    if (depth > cap)
        depth = cap;
    /* read ahead */
    while (live < depth && l->next_off < l->size) {
        struct part_buf *pb = NULL;
        for (size_t i = 0; i < npb && !pb; i++)
            if (l->pb[i].st == PB_FREE)
                pb = &l->pb[i];
        if (l->stream && l->stream_busy)
            break; /* one read at a time: the stream hands its bytes over in order */
        struct io_slot *slot = NULL;
        if (!pb || io_bufpool_acquire(s->pool, &slot) != 0)
            break;
        if (l->stream) {
            stream_fill(l, pb, slot);
            live++;
            continue;
        }
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
            layer_fail_io(l, rc);
            return;
        }
        pb->st = PB_READING;
        l->inflight++;
        l->next_off += pb->len;
        live++;
    }
    /* Prepare. While the running hash is on, one part at a time and only the lowest part not
     * prepared yet, so the hash sees the bytes in order; an overlap layer's as shared.c says;
     * otherwise every part that is read. */
    bool hashing = l->raw_hash && !l->hash_broken;
    for (;;) {
        struct part_buf *next = NULL;
        bool feed = hashing;
        if (hashing) {
            if (l->prep_busy)
                break;
            for (size_t i = 0; i < npb; i++) {
                struct part_buf *pb = &l->pb[i];
                if (pb->st != PB_FREE && !pb->discard && pb->st < PB_PREPARING &&
                    (!next || pb->off < next->off))
                    next = pb;
            }
        } else if (l->overlap && l->md_on) {
            /* An overlap layer's running hash takes the part where it stands when nothing
             * else feeds it; parts it has passed (or is inside) are prepared freely; parts
             * beyond it wait, so their raw bytes are hashed from the slot, not read again. */
            next = shared_next(l);
            feed = next != NULL;
            for (size_t i = 0; i < npb && !next; i++)
                if (l->pb[i].st == PB_READ && !l->pb[i].discard && l->pb[i].off < l->hashed_off)
                    next = &l->pb[i];
        } else {
            for (size_t i = 0; i < npb && !next; i++)
                if (l->pb[i].st == PB_READ && !l->pb[i].discard)
                    next = &l->pb[i];
        }
        if (!next || next->st != PB_READ)
            break;
        next->st = PB_PREPARING;
        next->prep = (struct prep_task){
            .w.run = prep_run, .w.run_pair = feed ? NULL : prep_run_pair, .l = l, .pb = next};
        next->prep.ev = (struct event){.kind = EV_PREPARED, .obj = &next->prep};
        if (feed) {
            next->prep.md = &l->md;
            l->hashed_off = next->off + next->len;
            if (l->overlap)
                l->from_slots += next->len;
            l->prep_busy = true;
        }
        l->inflight++;
        workers_submit(s->workers, &next->prep.w, true);
        if (hashing)
            break;
    }
}

struct part_buf *parts_wire(struct layer *l)
{
    for (size_t i = 0; i < sizeof l->pb / sizeof l->pb[0]; i++)
        if (l->pb[i].st == PB_WIRE)
            return &l->pb[i];
    return NULL;
}

void parts_on_reply(struct layer *l, const struct event *ev)
{
    struct sched *s = l->s;
    const struct ecr_request *req = &l->job.priv.req;
    struct part_buf *pb = parts_wire(l);
    uint64_t end = pb->off + pb->len;
    const char *x = req->error.exception;
    bool refused = !ev->ok && !ev->cancelled && !strcmp(x, "InvalidLayerPartException");
    /* -1 (nothing received) does not parse as a byte count: resume from the start */
    uint64_t r = refused && req->error.has_last_valid_byte ? req->error.last_valid_byte + 1 : 0;
    if (refused && !l->failing && !pb->discard && r == pb->off && r == l->acked) {
        /* Refused where it starts: the prepared body goes again as it is (nothing re-read,
         * the running hash undisturbed) once the retry policy says so. */
        if (retry_here(l, ev->attempts)) {
            pb->st = PB_READY;
            return;
        }
        part_release(s, pb);
        layer_fail_remote(l, ECRUP_E_PROTOCOL, "InvalidLayerPartException", 400,
                          "UploadLayerPart at byte %" PRIu64 " refused after %u attempts: %s", r,
                          l->here_attempts, req->error.message);
        return;
    }
    part_release(s, pb);
    if (l->failing)
        return;
    if (ev->ok) {
        uint64_t last = 0;
        if (ecr_parse_upload_part(req->reply.data, req->reply.len, &last) != 0) {
            layer_fail(l, ECRUP_E_PROTOCOL, req->http_status,
                       "UploadLayerPart: the reply has no lastByteReceived");
            return;
        }
        l->e->result.parts++;
        if (last + 1 != end) {
            rewind_to(l, last + 1, ev->attempts);
        } else {
            l->acked = end;
            here_moved(l, true);
            resume_confirmed(l);
        }
        layer_progress(l, false);
        return;
    }
    if (refused) {
        resume_corrected(l, r);
        rewind_to(l, r, ev->attempts);
        return;
    }
    if (!ev->cancelled && !strcmp(x, "UploadNotFoundException")) {
        parts_restart(l, "UploadNotFoundException during parts");
        return;
    }
    layer_fail_request(l, ev, &l->job);
}

void parts_on_read(struct sched *s, const struct io_completion *c)
{
    struct part_buf *pb = c->user;
    struct layer *l = pb->owner;
    l->inflight--;
    if (pb->discard || l->failing) {
        part_release(s, pb);
        return;
    }
    if (c->error || c->bytes != c->length) {
        part_release(s, pb);
        layer_fail_io(l, c->error ? c->error : -EIO);
        return;
    }
    pb->slot->raw_len = c->bytes;
    pb->st = PB_READ;
}

void parts_on_prepared(struct prep_task *t)
{
    struct layer *l = t->l;
    struct part_buf *pb = t->pb;
    l->inflight--;
    if (t->md) {
        l->prep_busy = false;
        if (t->status == ECRUP_OK)
            shared_fed(l); /* an overlap layer's hash may be whole now */
    }
    if (pb->discard || l->failing) {
        part_release(l->s, pb);
        return;
    }
    ecrup_status st = t->status;
    if (st != ECRUP_OK) {
        part_release(l->s, pb); /* t lives in pb: read nothing of it after this */
        layer_fail(l, st, 0, "cannot prepare the part body: %s", ecrup_strerror(st));
        return;
    }
    pb->st = PB_READY;
}

/* Once every layer has read its last part, the pool's pages go back to the system as slots
 * come free, while the run's tail waits on the network: freeing them all at the end cost
 * ~50 ms for a 300 MiB pool, all of it on the wall clock. */
void parts_trim(struct sched *s)
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
