/* Reading a token cache file another tool wrote (the SSO cache of `aws sso login`, the login
 * cache of `aws login`): one rule for both about what a missing, unreadable or oversized file
 * means. The bytes hold secrets: the caller wipes them (explicit_bzero) before freeing.
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

#endif
