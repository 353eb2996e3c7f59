/* Reading a whole small file (configuration, keys, certificates, state) into memory. */
#ifndef ECRUP_UTIL_FILE_H
#define ECRUP_UTIL_FILE_H

#include <stddef.h>

/* The contents of the regular file at `path`, NUL-terminated (the NUL not counted in *len;
 * `len` may be NULL), in a malloc'ed buffer the caller frees. Returns 0, or a negative errno:
 * the open's or read's, -EINVAL when `path` is not a regular file, -EFBIG when it is larger
 * than `max` bytes, -ENOMEM. */
int file_read_all(const char *path, size_t max, char **data, size_t *len);

#endif
