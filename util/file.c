/* Reading a whole small file into memory. */
#include "util/file.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
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
