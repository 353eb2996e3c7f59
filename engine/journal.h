/* The journal of uploads in flight, so that a run killed mid-layer (a cancelled CI job, an
 * OOM-killed runner) is continued by the next run instead of sent again from byte 0.
 *
 * One file per layer upload under STATE_DIR/uploads/, named for what identifies the upload
 * target and the bytes (endpoint, registry, repository, device, inode, range): a header record
 * with the file's whole identity (path, device, inode, size, mtime and ctime in ns, offset and
 * length), the uploadId and the part size, then one record per part the registry confirmed.
 * Each record is a line `CHECK JSON`, CHECK the first 16 hex digits of the JSON's SHA-256: a
 * damaged, truncated or unknown-version file is never trusted (the layer uploads afresh and
 * the caller logs a WARN). No secret is written: ids, sizes, times and the path.
 *
 * Records are appended with one write(2) each and not fsync'ed: the registry, not the journal,
 * is the authority on what it holds. A record lost in a crash makes the next run resume at an
 * earlier byte, and the registry's InvalidLayerPartException (lastValidByteReceived) moves it
 * on; a record is written only after the registry confirmed the bytes, so the journal is
 * never ahead of it. The layer's SHA-256 is not kept: the resumed run hashes the file again
 * (it is the same file, by its identity), so nothing journaled feeds the digest.
 *
 * Two processes never continue one uploadId: an entry is held under flock(2) for as long as
 * its layer uploads; a second process finds it busy and uploads that layer afresh without a
 * journal entry. Entries untouched for JOURNAL_MAX_AGE_DAYS are removed when a run opens the
 * journal (an upload that old has expired in the registry anyway).
 *
 * Thread: a journal and its entries belong to the engine thread. */
#ifndef ECRUP_ENGINE_JOURNAL_H
#define ECRUP_ENGINE_JOURNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "util/buf.h"

#define JOURNAL_MAX_AGE_DAYS 7
#define JOURNAL_VERSION      1

/* What the upload is of and to. Strings borrowed for the call. */
struct journal_key {
    const char *endpoint; /* the ECR API endpoint URL */
    const char *registry; /* the registry id, "" for the credentials' account */
    const char *repository;
    const char *path;        /* for people reading the file; the identity is dev/ino */
    uint64_t dev, ino, size; /* the whole file's */
    int64_t mtime_ns, ctime_ns;
    uint64_t offset, length; /* the layer's range of the file */
};

/* A parsed entry: its header and the bytes confirmed. Strings owned (journal_record_free). */
struct journal_record {
    char *endpoint, *registry, *repository, *path, *upload_id;
    uint64_t dev, ino, size, offset, length, part_size;
    int64_t mtime_ns, ctime_ns, created;
    uint64_t confirmed; /* the registry had bytes [0, confirmed) of the layer */
};
void journal_record_free(struct journal_record *r);

/* Parse a journal file's bytes. 0 with `out` filled; -1 with `why` saying what is wrong (a
 * bad check, a truncated line, an unknown version, a missing field): the entry is not to be
 * trusted. Pure: for the engine and the fuzz target. */
int journal_parse(const char *buf, size_t len, struct journal_record *out, struct ebuf *why);

/* True when the record is of the upload `k` describes: the same target and the same file,
 * every identity field equal. */
bool journal_matches(const struct journal_record *r, const struct journal_key *k);

struct journal;
struct journal_entry;

/* Open (creating, mode 0700) DIR/uploads and remove entries older than JOURNAL_MAX_AGE_DAYS
 * at `now` that no process holds. 0, or -errno with `msg` naming the directory. */
int journal_open(const char *state_dir, time_t now, struct journal **out, struct ebuf *msg);
void journal_close(struct journal *j);
/* The uploads directory (for messages and tests). Borrowed. */
const char *journal_dir(const struct journal *j);

enum journal_found {
    JOURNAL_NONE,    /* no entry: *entry is a new, locked, empty one */
    JOURNAL_RESUME,  /* *entry holds `record`: continue that upload */
    JOURNAL_DROPPED, /* there was one that cannot be used (another file now, or damaged):
                        removed, `why` says why; *entry is a new, locked, empty one */
    JOURNAL_BUSY,    /* another process holds it: no entry (*entry NULL) */
};

/* Find and lock the entry of `k`. On -errno (the directory is unusable) *entry is NULL and
 * `why` says what failed; the layer goes on without a journal. */
int journal_acquire(struct journal *j, const struct journal_key *k, struct journal_entry **entry,
                    enum journal_found *found, struct journal_record *record, struct ebuf *why);

/* A new upload of the entry's layer: the entry is rewritten with its header. 0 or -errno. */
int journal_begin(struct journal_entry *e, const struct journal_key *k, const char *upload_id,
                  uint64_t part_size, time_t now);
/* The registry confirmed bytes [0, confirmed). 0 or -errno; a no-op before journal_begin. */
int journal_confirm(struct journal_entry *e, uint64_t confirmed);
/* The layer is done (uploaded, present, or its upload gone): remove the entry. NULL allowed. */
void journal_remove(struct journal_entry *e);
/* Keep the entry for a later run (the layer failed): unlock it. NULL allowed. */
void journal_release(struct journal_entry *e);

#endif
