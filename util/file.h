/* Reading a whole small file (configuration, keys, certificates, state) into memory, and
 * replacing one atomically (the token caches). */
#ifndef ECRUP_UTIL_FILE_H
#define ECRUP_UTIL_FILE_H

#include <stddef.h>

/* The contents of the regular file at `path`, NUL-terminated (the NUL not counted in *len;
 * `len` may be NULL), in a malloc'ed buffer the caller frees. Returns 0, or a negative errno:
 * the open's or read's, -EINVAL when `path` is not a regular file, -EFBIG when it is larger
 * than `max` bytes, -ENOMEM. */
int file_read_all(const char *path, size_t max, char **data, size_t *len);

/* Replace the file at `path` with `len` bytes so that a reader sees the old or the new
 * contents, never a part: a temporary file in the same directory, created 0600 (what the aws
 * CLI gives its token caches), written, fsync'ed, renamed over `path`. Returns 0, or a
 * negative errno with *what (may be NULL) naming the step that failed ("create a temporary
 * file for", "write", "fsync", "close", "rename over"); the temporary file is removed. */
int file_write_atomic(const char *path, const void *data, size_t len, const char **what);

#endif
