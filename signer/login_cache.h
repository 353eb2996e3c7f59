/* The token cache `aws login` writes for a login_session profile:
 * <dir>/<SHA-256 hex of the login_session value>.json, where <dir> is AWS_LOGIN_CACHE_DIRECTORY
 * (a leading "~" is the home directory) or ~/.aws/login/cache, as botocore's
 * get_login_token_cache_directory and generate_login_cache_key name it. The file holds the
 * current temporary credentials (accessToken: accessKeyId, secretAccessKey, sessionToken,
 * accountId, expiresAt), the refresh token, the OAuth client id and the DPoP private key the
 * refresh token is bound to. After a refresh the file is rewritten as botocore's
 * LoginCredentialFetcher does: accessToken and refreshToken replaced, every other key kept.
 *
 * Thread safety: pure functions over the caller's data, and file I/O on the caller's thread. */
#ifndef ECRUP_SIGNER_LOGIN_CACHE_H
#define ECRUP_SIGNER_LOGIN_CACHE_H

#include <stddef.h>
#include <time.h>

#include <ecrup.h>

#include "util/buf.h"
#include "util/env.h"

struct cJSON;

/* A parsed cache file. Every string points into `doc` (owned, and kept so that a rewrite
 * keeps the keys ecrup does not know); secret_access_key, session_token, refresh_token and
 * dpop_key are secrets, wiped by login_token_cleanup(). */
struct login_token {
    const char *access_key_id, *secret_access_key, *session_token, *account_id;
    time_t expires_at;
    const char *refresh_token, *client_id, *dpop_key;
    struct cJSON *doc;
};

/* The cache file's name for a login_session value: 64 lowercase hex digits of its SHA-256
 * and ".json", NUL-terminated. False only when OpenSSL fails. */
bool login_cache_file_name(const char *session, char out[70]);

/* The cache file's path for `session`; NULL when neither AWS_LOGIN_CACHE_DIRECTORY nor HOME
 * is set, or out of memory. Caller frees. */
char *login_cache_path(const struct env_reader *env, const char *session);

/* Parse a cache file's `len` bytes (need not be NUL-terminated); `path` names it in messages.
 * ECRUP_OK; ECRUP_E_CONFIG when it is not a JSON object with the fields above as non-empty
 * strings and expiresAt a valid time (`err` names the file and the field, never a value);
 * ECRUP_E_NOMEM. On failure *out is empty. */
ecrup_status login_token_parse(const char *text, size_t len, const char *path,
                               struct login_token *out, struct ebuf *err);

/* Read and parse the file at `path`. As login_token_parse(), plus ECRUP_E_NOT_FOUND when the
 * file does not exist (no login yet) and ECRUP_E_CONFIG when it cannot be read. */
ecrup_status login_token_load(const char *path, struct login_token *out, struct ebuf *err);

/* The fresh values from a refresh, borrowed. */
struct login_refresh {
    const char *access_key_id, *secret_access_key, *session_token, *refresh_token;
    time_t expires_at;
};

/* Put `r` into `t` (accessToken replaced, accountId kept; refreshToken replaced) and its
 * pointers on the new values. ECRUP_OK or ECRUP_E_NOMEM (`t` then unchanged). */
ecrup_status login_token_update(struct login_token *t, const struct login_refresh *r);

/* The document `t` holds, serialised; NULL when out of memory. Caller wipes and frees. */
char *login_token_json(const struct login_token *t);

/* Write `t` to `path` atomically (file_write_atomic: temporary file in the same directory,
 * 0600, fsync, rename). ECRUP_OK, ECRUP_E_NOMEM, or ECRUP_E_IO with `err` naming the file. */
ecrup_status login_token_save(const char *path, const struct login_token *t, struct ebuf *err);

/* Wipe the secrets and free; the struct is left zeroed. */
void login_token_cleanup(struct login_token *t);

#endif
