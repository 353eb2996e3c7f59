/* An overlap layer's digest, computed beside its upload (scheduler_impl.h, `overlap`): one
 * running hash fed in file order, by the prepare of the part that starts where the hash stands
 * (the raw bytes are in its slot already: one read and one pass over them, with the body hash
 * beside them in the two-lane loop), or by a slice read from the file when no such part is
 * there, so the digest still runs ahead of a slow upload and the check comes early.
 *
 * Engine thread; a slice runs on a worker (hash_pass.h, `into`). */
#include "engine/scheduler_impl.h"

#include <errno.h>
#include <inttypes.h>

#include "util/hex.h"

static bool feeding(const struct layer *l)
{
    return l->prep_busy || l->slice_busy;
}

/* A part is prepared and waits for the wire. */
static bool part_waiting(const struct layer *l)
{
    for (size_t i = 0; i < SIZING_SLOTS_PER_LAYER; i++)
        if (l->pb[i].st == PB_READY && !l->pb[i].discard)
            return true;
    return false;
}

bool shared_begin(struct layer *l)
{
    if (sha256_stream_init(&l->md, sha256_native()) != 0) {
        layer_fail(l, ECRUP_E_NOMEM, 0, "cannot start SHA-256");
        return false;
    }
    l->md_on = true;
    l->hashed_off = 0;
    layer_set_phase(l, ECRUP_PHASE_HASHING);
    return true;
}

struct part_buf *shared_next(struct layer *l)
{
    if (!l->overlap || !l->md_on || feeding(l))
        return NULL;
    for (size_t i = 0; i < SIZING_SLOTS_PER_LAYER; i++) {
        struct part_buf *pb = &l->pb[i];
        if (pb->st == PB_READ && !pb->discard && pb->off == l->hashed_off)
            return pb;
    }
    return NULL;
}

void shared_step(struct layer *l)
{
    if (!l->overlap || !l->md_on || l->failing || feeding(l) || l->hashed_off >= l->size)
        return;
    /* While the layer sends, the hash takes its bytes from the parts' slots, in order; the
     * file is read for bytes no prepare will feed any more (parts prepared before the hash
     * reached them), at once, and ahead of the reads only when the wire is what the layer
     * waits for (a part prepared and waiting), for an early check. Before the layer sends,
     * the file is read as fast as the workers spare the time. */
    uint64_t n = l->size - l->hashed_off;
    bool urgent = false;
    if (l->st == L_PUSHING) {
        /* the first part still to be read or prepared at or beyond the hash, else the next
         * part to be read */
        uint64_t next_feed = UINT64_MAX;
        for (size_t i = 0; i < SIZING_SLOTS_PER_LAYER; i++) {
            const struct part_buf *pb = &l->pb[i];
            if ((pb->st == PB_READING || pb->st == PB_READ) && !pb->discard &&
                pb->off >= l->hashed_off && pb->off < next_feed)
                next_feed = pb->off;
        }
        if (next_feed == l->hashed_off)
            return; /* that part's prepare feeds the hash */
        if (next_feed == UINT64_MAX)
            next_feed = l->next_off;
        if (next_feed > l->hashed_off) {
            urgent = true; /* parts wait for these bytes */
            n = next_feed - l->hashed_off < n ? next_feed - l->hashed_off : n;
        } else if (!part_waiting(l)) {
            return;
        }
    }
    l->slice_busy = true;
    layer_hash(l, l->hashed_off, n < HASH_SLICE ? n : HASH_SLICE, &l->md, urgent);
}

void shared_fed(struct layer *l)
{
    if (!l->overlap || !l->md_on || l->failing || feeding(l) || l->hashed_off < l->size)
        return;
    /* Every byte was read while the file kept the identity it had at admission, or the
     * digest is of bytes from two versions. */
    if (file_id_check(&l->id0, l->fd, l->e->layer.path) != 0) {
        layer_fail_io(l, -ESTALE);
        return;
    }
    unsigned char d[32];
    char hex[65];
    int rc = sha256_stream_final(&l->md, d);
    sha256_stream_free(&l->md);
    l->md_on = false;
    if (rc != 0) {
        layer_fail(l, ECRUP_E_INTERNAL, 0, "SHA-256 failed");
        return;
    }
    hex_encode(d, sizeof d, hex);
    layer_set_digest(l, hex);
    sched_log(l->s, ECRUP_LOG_DEBUG,
              "layer %s: digest from %" PRIu64 " bytes in part buffers and %" PRIu64
              " read from the file",
              l->e->layer.path, l->from_slots, l->size - l->from_slots);
    l->side_check = SC_QUEUED;
}
