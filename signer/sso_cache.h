/* The IAM Identity Center (SSO) token cache the aws CLI writes at `aws sso login`:
 * ~/.aws/sso/cache/<sha1 hex of the session name, or of the start URL for the legacy
 * form>.json, as botocore's SSOTokenLoader reads it and SSOTokenProvider writes it back after a
 * refresh.
 *
 * Thread safety: pure functions over the caller's data, and file I/O on the caller's thread. */
#ifndef ECRUP_SIGNER_SSO_CACHE_H
#define ECRUP_SIGNER_SSO_CACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include <ecrup.h>

#include "util/buf.h"
#include "util/env.h"

struct cJSON;

/* A cached token. The strings are owned (access_token, refresh_token and client_secret are
 * secrets: sso_token_cleanup() wipes them); the optional ones are NULL when absent. */
struct sso_token {
    char *access_token;
    time_t expires_at;
    char *refresh_token;
    char *client_id;
    char *client_secret;
    char *registration_expires_at; /* as written, so a rewrite keeps it byte for byte */
    char *start_url, *region;      /* informational, kept on a rewrite */
};

/* The cache file's name for `key` (the session name, or the legacy start URL): 40 lowercase
 * hex digits of its SHA-1 and ".json", NUL-terminated. False only when OpenSSL fails. */
bool sso_cache_file_name(const char *key, char out[46]);

/* HOME/.aws/sso/cache/<sso_cache_file_name(key)>; NULL when HOME is unset or out of memory.
 * Caller frees. */
char *sso_cache_path(const struct env_reader *env, const char *key);

/* The expiresAt forms botocore's dateutil parse accepts for these files and the aws CLI has
 * written: "2024-01-01T00:00:00Z", with fractional seconds, "+hh:mm", "+hhmm" or "UTC" as the
 * zone. A time without a zone is refused (botocore cannot compare it either). */
bool sso_parse_time(const char *s, time_t *out);

/* Parse a cache file's `len` bytes (need not be NUL-terminated); `path` names it in messages.
 * ECRUP_OK; ECRUP_E_CONFIG when it is not a JSON object with string accessToken and a valid
 * expiresAt (`err` names the file, never a value); ECRUP_E_NOMEM. On failure *out is empty. */
ecrup_status sso_token_parse(const char *text, size_t len, const char *path, struct sso_token *out,
                             struct ebuf *err);

/* Read and parse the file at `path`. As sso_token_parse(), plus ECRUP_E_NOT_FOUND when the file
 * does not exist (no login yet) and ECRUP_E_CONFIG when it cannot be read. */
ecrup_status sso_token_load(const char *path, struct sso_token *out, struct ebuf *err);

/* True when botocore's SSOTokenProvider would try a refresh: refreshToken, clientId and
 * clientSecret present and registrationExpiresAt in the future at `now`. */
bool sso_token_refreshable(const struct sso_token *t, time_t now);

/* Write `t` to `path` as botocore does after a refresh, atomically: a temporary file in the
 * same directory, mode 0600, fsync, rename over `path`. ECRUP_OK, or ECRUP_E_IO with `err`
 * naming the file. */
ecrup_status sso_token_save(const char *path, const struct sso_token *t, struct ebuf *err);

/* Wipe every string value in a cJSON tree (and its siblings and children) before it is
 * freed: parsed and built documents hold copies of the tokens. NULL allowed. */
void sso_wipe_json(struct cJSON *node);

/* Wipe the secrets and free the strings; the struct is left zeroed. */
void sso_token_cleanup(struct sso_token *t);

#endif
