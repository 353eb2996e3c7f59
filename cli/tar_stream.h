/* A tar archive read forward only from a file descriptor that may be a pipe (`ecrup push -`),
 * gzip-compressed or not (detected from the first bytes; concatenated gzip members, as pigz and
 * `cat a.gz b.gz` write, are one stream). zstd, xz, bzip2 and lz4 input is refused with the
 * command that decompresses it. Headers are parsed by cli/tar.h's block functions.
 *
 * Memory: a 1 MiB input buffer, a 1 MiB inflate buffer for gzip input, and one extended header
 * (at most TAR_EXTENDED_MAX) at a time.
 *
 * Threads: one caller at a time. next and read may be called from different threads as long
 * as the calls do not overlap (the caller orders them, e.g. with a mutex or a queue); the
 * stream keeps no thread-local state. tar_stream_offset() and tar_stream_input_offset() may be
 * called from any thread at any time. */
#ifndef ECRUP_CLI_TAR_STREAM_H
#define ECRUP_CLI_TAR_STREAM_H

#include <stddef.h>
#include <stdint.h>

#include "cli/tar.h"
#include "util/buf.h"

struct tar_stream;

/* Open a stream over `fd`, which is only ever read forward (never seeked, never closed).
 * `name` is copied and used in messages; "-" is said as "standard input". Reads the first
 * bytes to detect the compression. Returns 0 with *out set, or -1 with a message (empty input,
 * a compression ecrup does not read, a read error, out of memory). */
int tar_stream_open(int fd, const char *name, struct tar_stream **out, struct ebuf *err);

/* "gzip" or "none": what tar_stream_open() found. */
const char *tar_stream_compression(const struct tar_stream *ts);

struct tar_stream_member {
    const char *name;   /* cleaned ("./a//b" -> "a/b"); borrowed until the next call */
    const char *link;   /* a link's target (a symbolic link's relative to the archive's root),
                           NULL for a file; borrowed until the next call */
    enum tar_type type; /* TAR_FILE, TAR_HARDLINK or TAR_SYMLINK */
    uint64_t size;      /* the data tar_stream_read() gives; 0 for links */
};

/* The next file or link member, with what pax and GNU extended headers said applied;
 * directories, devices and the like are passed over. Whatever is left of the previous member's
 * data is skipped first. Returns 1 with *m set, 0 at the end of the archive (a zero block, or
 * the input ending cleanly after a member), -1 with a message naming the stream, the byte
 * offset in the tar and what is wrong (a bad header, input ending inside a header or a member,
 * a gzip data error, a read error). After the end blocks, at most 1 MiB more is read (the rest
 * of a tar record, a gzip member's trailer, whose checksum is checked) and anything after it
 * is ignored. After -1, every later call fails too. */
int tar_stream_next(struct tar_stream *ts, struct tar_stream_member *m, struct ebuf *err);

/* Read the current member's data into `buf`: `len` bytes, fewer only when the member ends
 * first (like fread, not like read(2): a pipe's short reads are filled). Returns the count, 0
 * when the member has no data left, -1 with a message ("standard input ended inside member X
 * at byte N of M", a gzip data error, a read error). Never reads past the member. Large reads
 * go from the file descriptor (or inflate) straight into `buf`. */
ptrdiff_t tar_stream_read(struct tar_stream *ts, void *buf, size_t len, struct ebuf *err);

/* Bytes of the tar (decompressed) passed so far: headers, data read or skipped, padding. */
uint64_t tar_stream_offset(const struct tar_stream *ts);

/* Bytes read from the file descriptor so far (compressed, for gzip input). */
uint64_t tar_stream_input_offset(const struct tar_stream *ts);

/* Free the stream; `fd` stays open. NULL does nothing. */
void tar_stream_free(struct tar_stream *ts);

#endif
