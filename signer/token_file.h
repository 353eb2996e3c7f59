/* Reading, and writing back after a refresh, a token cache file another tool wrote (the SSO
 * cache of `aws sso login`, the login cache of `aws login`): one rule for both about what a
 * missing, unreadable or oversized file means and how a rewrite is made and reported. The
 * bytes hold secrets: read ones are the caller's to wipe (explicit_bzero) before freeing.
 *
 * Thread safety: reentrant. */
#ifndef ECRUP_SIGNER_TOKEN_FILE_H
#define ECRUP_SIGNER_TOKEN_FILE_H

#include <stddef.h>

#include <ecrup.h>

#include "util/buf.h"

#define TOKEN_FILE_MAX (256 * 1024)

/* Read `path` whole into *data (NUL-terminated, caller frees) and *len. ECRUP_OK;
 * ECRUP_E_NOT_FOUND when it does not exist (nothing in `err`: whether that is an error is the
 * caller's to say); ECRUP_E_CONFIG when it cannot be read or is not a regular file of at most
 * TOKEN_FILE_MAX bytes, with `err` naming `what` ("SSO token cache") and the path;
 * ECRUP_E_NOMEM. */
ecrup_status token_file_read(const char *path, const char *what, char **data, size_t *len,
                             struct ebuf *err);

/* Write `text` (a secret: wiped and freed here, whatever the outcome; NULL means it could not
 * be made) over `path` atomically with mode 0600 (util/file.h's file_write_atomic). ECRUP_OK;
 * ECRUP_E_NOMEM for a NULL `text`; ECRUP_E_IO with `err` naming `what`, the path and the step
 * that failed. */
ecrup_status token_file_write(const char *path, const char *what, char *text, struct ebuf *err);

#endif
