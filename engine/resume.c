/* Resume across runs: the scheduler's side of the journal (journal.h). A layer takes its
 * entry before InitiateLayerUpload; an entry of the same file and target continues that
 * upload at the byte the registry confirmed, the rest start afresh and are journaled part by
 * part; the entry goes when the layer is uploaded or present. The running SHA-256 cannot
 * start mid-file, so a resumed layer whose digest is not known otherwise is hashed whole
 * before CompleteLayerUpload (the rewind path's L_REHASHING), reading the file once more
 * from the page cache rather than trusting a hash state from disk. Engine thread. */
#include "engine/scheduler_impl.h"

#include <errno.h>
#include <inttypes.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

void resume_open(struct sched *s)
{
    const char *dir = s->o->state_dir;
    if (!dir || !*dir)
        return;
    struct ebuf msg = EBUF_INIT;
    if (journal_open(dir, time(NULL), &s->journal, &msg) != 0)
        sched_log(s, ECRUP_LOG_WARN, "no resume journal: %s; uploads start at byte 0",
                  ebuf_str(&msg));
    ebuf_free(&msg);
}

void resume_close(struct sched *s)
{
    journal_close(s->journal);
    s->journal = NULL;
}

/* The journal key of the layer; false when its file cannot be stat'ed. */
static bool key_of(const struct layer *l, struct journal_key *k)
{
    struct stat st;
    if (l->fd < 0 || fstat(l->fd, &st) != 0)
        return false;
    const struct ecrup_layer *el = &l->e->layer;
    *k = (struct journal_key){
        .endpoint = l->s->e->ctx.endpoint.url,
        .registry = el->registry_id ? el->registry_id : "",
        .repository = el->repository,
        .path = el->path,
        .dev = (uint64_t)st.st_dev,
        .ino = (uint64_t)st.st_ino,
        .size = (uint64_t)st.st_size,
        .mtime_ns = (int64_t)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec,
        .ctime_ns = (int64_t)st.st_ctim.tv_sec * 1000000000 + st.st_ctim.tv_nsec,
        .offset = l->base,
        .length = l->size,
    };
    return true;
}

bool resume_find(struct layer *l, uint64_t *part_size, uint64_t *at)
{
    struct sched *s = l->s;
    if (l->resume_tried) {
        l->e->result.resumed_from = 0; /* the journaled upload was gone: this one is new */
        return false;
    }
    l->resume_tried = true;
    struct journal_key k;
    if (!s->journal || !key_of(l, &k))
        return false;
    enum journal_found found;
    struct journal_record r;
    struct ebuf why = EBUF_INIT;
    int rc = journal_acquire(s->journal, &k, &l->journal, &found, &r, &why);
    bool resumed = false;
    if (rc != 0) {
        sched_log(s, ECRUP_LOG_WARN, "layer %s: %s; uploading it without the journal",
                  l->e->layer.path, ebuf_str(&why));
    } else if (found == JOURNAL_BUSY) {
        sched_log(s, ECRUP_LOG_INFO,
                  "layer %s: another process is uploading it to %s (its journal entry is "
                  "locked); uploading it afresh, without the journal",
                  l->e->layer.path, l->e->layer.repository);
    } else if (found == JOURNAL_DROPPED) {
        sched_log(s, ECRUP_LOG_WARN, "layer %s: %s; uploading it afresh", l->e->layer.path,
                  ebuf_str(&why));
    } else if (found == JOURNAL_RESUME && strlen(r.upload_id) < sizeof l->upload_id) {
        snprintf(l->upload_id, sizeof l->upload_id, "%s", r.upload_id);
        *part_size = r.part_size;
        *at = r.confirmed;
        l->e->result.resumed_from = r.confirmed;
        l->resume_pending = true;
        resumed = true;
        sched_log(s, ECRUP_LOG_INFO,
                  "layer %s: resuming the upload an earlier run left at byte %" PRIu64
                  " of %" PRIu64,
                  l->e->layer.path, r.confirmed, l->size);
    }
    journal_record_free(&r);
    ebuf_free(&why);
    return resumed;
}

void resume_begun(struct layer *l)
{
    struct journal_key k;
    if (!l->journal || !key_of(l, &k))
        return;
    int rc = journal_begin(l->journal, &k, l->upload_id, l->plan.part_size, time(NULL));
    if (rc != 0) {
        sched_log(l->s, ECRUP_LOG_WARN, "layer %s: cannot write the resume journal (%s)",
                  l->e->layer.path, strerror(-rc));
        journal_remove(l->journal);
        l->journal = NULL;
    }
}

void resume_confirmed(struct layer *l)
{
    l->resume_pending = false;
    if (l->journal && journal_confirm(l->journal, l->acked) != 0) {
        journal_remove(l->journal);
        l->journal = NULL;
    }
}

void resume_corrected(struct layer *l, uint64_t r)
{
    if (!l->resume_pending)
        return;
    l->e->result.resumed_from = r;
    sched_log(l->s, ECRUP_LOG_INFO, "layer %s: the registry has %" PRIu64 " bytes of it",
              l->e->layer.path, r);
}

void resume_end(struct layer *l)
{
    if (!l->journal)
        return;
    ecrup_outcome o = l->e->result.outcome;
    if (o == ECRUP_OUTCOME_UPLOADED || o == ECRUP_OUTCOME_EXISTS)
        journal_remove(l->journal);
    else
        journal_release(l->journal);
    l->journal = NULL;
}
