/* The terminal view of an upload: one line per layer in the manner of `docker push`
 * (Waiting / Hashing / Pushing [====>   ] 12.3MB/50.1MB 310 MB/s / Pushed / ...), redrawn
 * in place with ANSI cursor movement, at most ten times a second.
 *
 * Threads: progress_view_event() is called from the engine's progress callback and
 * progress_view_print() from its log callback (any engine thread, concurrently); every entry
 * point takes the view's lock, so the block and the lines printed above it never interleave.
 * The rest is for the main thread, before or after ecrup_engine_run(). */
#ifndef ECRUP_CLI_PROGRESS_H
#define ECRUP_CLI_PROGRESS_H

#include <ecrup.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "util/buf.h"

struct progress_view;

/* How a layer's line ends once the engine's result is known. */
enum progress_final {
    PROGRESS_NONE = 0, /* still running: the line follows the phase */
    PROGRESS_PUSHED,
    PROGRESS_EXISTS,
    PROGRESS_FAILED,
};

/* A view drawing `n` layer lines on `tty` (borrowed; NULL: draw nothing, only serialise
 * progress_view_print). Returns NULL when out of memory. */
struct progress_view *progress_view_new(FILE *tty, size_t n);
void progress_view_free(struct progress_view *v);

/* Grow the view to `n` layer lines (a stream's blobs come one by one), the new ones to be
 * named with progress_view_set_layer(); not while the engine runs. False: out of memory. */
bool progress_view_add(struct progress_view *v, size_t n);
/* Name layer `i` (copied) and give its size (0: unknown until the engine says: the line shows
 * "12.3MB/?" and no bar); before the first draw, or before a run that adds the layer. */
void progress_view_set_layer(struct progress_view *v, size_t i, const char *label, uint64_t size);
/* A progress event for layer `i`: the line shows its bytes on the wire (bytes_sent) and the
 * rate of the last two seconds of them; at phase DONE its outcome is the final word. Redraws
 * when the last draw is 100 ms old. Any thread. */
void progress_view_event(struct progress_view *v, size_t i, const struct ecrup_progress *ev);
/* Print `text` (a whole line, newline included) on `f` above the block, then redraw the block
 * below it. Any thread. */
void progress_view_print(struct progress_view *v, FILE *f, const char *text);
/* Fix layer `i`'s final state; `reason` (copied) follows "Failed: ". */
void progress_view_final(struct progress_view *v, size_t i, enum progress_final final,
                         const char *reason);
/* Show (or, once the run is over, drop) a last line saying the upload is being stopped
 * after Ctrl-C. */
void progress_view_interrupted(struct progress_view *v, bool on);
/* Redraw now, whatever the time since the last draw. */
void progress_view_draw(struct progress_view *v);

/* Pure helpers, exposed for tests. */

/* "999B", "12.3kB", "12.3MB", "1.23GB": SI units as docker prints them. */
void progress_format_bytes(char *out, size_t out_size, uint64_t bytes);
/* One layer line, at most `cols - 1` columns (so it never wraps): `label` padded to
 * `label_width`, then the state. `rate` in bytes per second, 0 when unknown; `resumed_from`
 * nonzero says "Resuming at N" where a fresh upload says "Pushing". */
void progress_format_line(struct ebuf *b, const char *label, int label_width, ecrup_phase phase,
                          enum progress_final final, const char *reason, uint64_t done,
                          uint64_t total, uint64_t resumed_from, double rate, int cols);

#endif
