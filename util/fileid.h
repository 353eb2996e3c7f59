/* A file's identity as stat(2) sees it: device, inode, size, modification time and status
 * change time. A layer file is looked at more than once (stat'ed, hashed, read in parts, read
 * again after a rewind); when two looks disagree, it was replaced or written in between, and
 * what was read is no longer one file's content (ECRUP_E_FILE_CHANGED). The ctime is what a
 * write with its mtime put back (utime, touch -r, a restore) cannot hide: no call sets it,
 * every write and every utime moves it (chmod, chown and new links move it too, and count as
 * changes).
 *
 * Thread: pure, except file_id_check, which calls fstat and stat; any thread. */
#ifndef ECRUP_UTIL_FILEID_H
#define ECRUP_UTIL_FILEID_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>

struct file_id {
    dev_t dev;
    ino_t ino;
    uint64_t size;
    struct timespec mtime;
    struct timespec ctime;
};

/* The identity `st` records. */
struct file_id file_id_of(const struct stat *st);

/* True when `a` and `b` are the same file, unchanged: every field equal. */
bool file_id_equal(const struct file_id *a, const struct file_id *b);

/* Whether both the descriptor `fd` and the path `path` still name the file `id` was taken
 * from: the descriptor catches writes, the path a replacement (a rename over it) or removal.
 * Returns 0; -ESTALE when either differs or the path is gone; another -errno when fstat on
 * the descriptor fails. */
int file_id_check(const struct file_id *id, int fd, const char *path);

#endif
