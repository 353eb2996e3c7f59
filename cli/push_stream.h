/* `ecrup push` of a tarball read as a stream: standard input (`push -`), or a gzip-compressed
 * tarball, neither of which can be read twice. Each member goes by once (cli/tar_stream.h):
 * JSON members (manifests, configs, index.json, manifest.json) are kept in memory, at most
 * 4 MiB each and 64 MiB in all; every other member is a blob, uploaded as it passes (a stream
 * layer of the engine: its digest computed on the way, or, for an OCI layout's
 * blobs/sha256/<hex>, checked for first by the digest its name gives and skipped when the
 * registry has it). Small blobs are read whole and go up together, several in one run, so
 * their round trips overlap. Memory stays within the engine's limit whatever the tarball's size. At
 * the archive's end the image is read from the kept members (cli/image_source.h), the blobs
 * kept in memory that it names are uploaded, and the caller puts the manifests.
 *
 * Main thread, except the stream layer's reads, which run on the engine's stream thread while
 * a run goes (one run at a time). */
#ifndef ECRUP_CLI_PUSH_STREAM_H
#define ECRUP_CLI_PUSH_STREAM_H

#include <stddef.h>

#include "cli/image_source.h"
#include "cli/upload.h"
#include "util/buf.h"

struct push_stream;
struct platform;

/* Start reading the tarball on `fd` (not closed here), named `source` in messages and item
 * names. `want_tag` and `want_platform` (may be NULL, borrowed) pick the image at the end, as
 * image_source_open() does. Small blobs (5 MiB at most) are read whole and go up several in one
 * run, holding at most `batch_budget` bytes of them at a time (0: each as it passes). Returns
 * 0, or -1 with a message. */
int push_stream_open(const char *source, int fd, const char *want_tag,
                     const struct platform *want_platform, uint64_t batch_budget,
                     struct push_stream **out, struct ebuf *err);
/* Read the first member's header, before anything is said or sent, so a stream that is not a
 * tarball is refused as a file would be. Returns 0, or -1 with a message. */
int push_stream_first(struct push_stream *ps, struct ebuf *err);
/* "gzip" or "none". */
const char *push_stream_compression(const struct push_stream *ps);
/* The upload feed (upload_feed_fn; `user` is the push_stream): the next blob member as an item,
 * or at the archive's end the blobs kept in memory that the image names. */
int push_stream_next(void *user, const struct upload_outcome *outs, size_t done,
                     const struct upload_item **items, size_t *n);
/* The image, once the archive's end was read; NULL before. */
const struct image_source *push_stream_image(const struct push_stream *ps);
/* The upload item that carried blob `k` of the image. */
size_t push_stream_blob_item(const struct push_stream *ps, size_t k);
void push_stream_free(struct push_stream *ps);

#endif
