/* Reading and writing back a token cache file; see token_file.h. */
#include "signer/token_file.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "util/file.h"

ecrup_status token_file_write(const char *path, const char *what, char *text, struct ebuf *err)
{
    if (!text) {
        ebuf_printf(err, "%s: out of memory", what);
        return ECRUP_E_NOMEM;
    }
    const char *step = NULL;
    int rc = file_write_atomic(path, text, strlen(text), &step);
    explicit_bzero(text, strlen(text));
    free(text);
    if (rc == 0)
        return ECRUP_OK;
    ebuf_printf(err, "cannot %s the %s file %s: %s", step, what, path, strerror(-rc));
    return ECRUP_E_IO;
}

ecrup_status token_file_read(const char *path, const char *what, char **data, size_t *len,
                             struct ebuf *err)
{
    *data = NULL;
    *len = 0;
    int rc = file_read_all(path, TOKEN_FILE_MAX, data, len);
    if (rc == -ENOENT || rc == -ENOTDIR)
        return ECRUP_E_NOT_FOUND;
    if (rc == -ENOMEM) {
        ebuf_printf(err, "%s: out of memory", what);
        return ECRUP_E_NOMEM;
    }
    if (rc < 0) {
        ebuf_printf(err, "the %s file %s cannot be read: %s", what, path,
                    rc == -EINVAL || rc == -EFBIG ? "not a regular file of a sensible size"
                                                  : strerror(-rc));
        return ECRUP_E_CONFIG;
    }
    return ECRUP_OK;
}
