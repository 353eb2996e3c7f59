/* Reading a whole small file into memory, and replacing one atomically. */
#include "util/file.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int file_read_all(const char *path, size_t max, char **data, size_t *len)
{
    *data = NULL;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    struct stat st;
    if (fstat(fd, &st) != 0) {
        int e = errno;
        close(fd);
        return -e;
    }
    if (!S_ISREG(st.st_mode) || st.st_size < 0 || (unsigned long long)st.st_size > max) {
        close(fd);
        return S_ISREG(st.st_mode) ? -EFBIG : -EINVAL;
    }
    size_t size = (size_t)st.st_size, got = 0;
    char *buf = malloc(size + 1);
    if (!buf) {
        close(fd);
        return -ENOMEM;
    }
    /* Read to the size fstat gave: a file that grows meanwhile is read as it was then. */
    while (got < size) {
        ssize_t n = read(fd, buf + got, size - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            int e = errno;
            free(buf);
            close(fd);
            return -e;
        }
        if (n == 0)
            break; /* shrank: what is there */
        got += (size_t)n;
    }
    close(fd);
    buf[got] = '\0';
    *data = buf;
    if (len)
        *len = got;
    return 0;
}

int file_write_atomic(const char *path, const void *data, size_t len, const char **what)
{
    const char *step = NULL;
    size_t n = strlen(path);
    char *tmp = malloc(n + 8);
    if (!tmp) {
        if (what)
            *what = "create a temporary file for";
        return -ENOMEM;
    }
    memcpy(tmp, path, n);
    memcpy(tmp + n, ".XXXXXX", 8);
    int fd = mkstemp(tmp), err = 0;
    if (fd < 0) {
        err = errno;
        step = "create a temporary file for";
    }
    for (size_t done = 0; !step && done < len;) {
        ssize_t w = write(fd, (const char *)data + done, len - done);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            err = w < 0 ? errno : EIO;
            step = "write";
        } else {
            done += (size_t)w;
        }
    }
    if (!step && fsync(fd) != 0) {
        err = errno;
        step = "fsync";
    }
    if (fd >= 0 && close(fd) != 0 && !step) {
        err = errno;
        step = "close";
    }
    if (!step && rename(tmp, path) != 0) {
        err = errno;
        step = "rename over";
    }
    if (step && fd >= 0)
        unlink(tmp);
    free(tmp);
    if (what)
        *what = step;
    return step ? -err : 0;
}
