/* File identity: capture and compare (fileid.h). */
#include "util/fileid.h"

#include <errno.h>

struct file_id file_id_of(const struct stat *st)
{
    return (struct file_id){
        .dev = st->st_dev,
        .ino = st->st_ino,
        .size = (uint64_t)st->st_size,
        .mtime = st->st_mtim,
        .ctime = st->st_ctim,
    };
}

bool file_id_equal(const struct file_id *a, const struct file_id *b)
{
    return a->dev == b->dev && a->ino == b->ino && a->size == b->size &&
           a->mtime.tv_sec == b->mtime.tv_sec && a->mtime.tv_nsec == b->mtime.tv_nsec &&
           a->ctime.tv_sec == b->ctime.tv_sec && a->ctime.tv_nsec == b->ctime.tv_nsec;
}

int file_id_check(const struct file_id *id, int fd, const char *path)
{
    struct stat st;
    if (fstat(fd, &st) < 0)
        return -errno;
    struct file_id now = file_id_of(&st);
    if (!file_id_equal(id, &now))
        return -ESTALE;
    if (stat(path, &st) < 0)
        return -ESTALE;
    now = file_id_of(&st);
    return file_id_equal(id, &now) ? 0 : -ESTALE;
}
