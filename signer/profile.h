/* The AWS shared configuration files (~/.aws/config and ~/.aws/credentials), parsed the way
 * botocore parses them, into an immutable store the credential chain and the region/endpoint
 * resolution query.
 *
 * Why not libinih: Debian's libinih 55 is built with a 200-byte line buffer (session tokens
 * are longer: the rest of the line is parsed as a new, broken line), strips `;` inline
 * comments that botocore keeps in the value, and its handler cannot tell a continuation line
 * from a repeated key. Its knobs are process-global variables, which library code must not
 * flip behind its host's back. So profile.c is a small parser of its own; docs/credentials.md
 * lists the rules.
 *
 * Thread safety: a struct profile_set is immutable once returned; any number of threads may
 * query it at once. Freeing it is the owner's job, after every reader is done. */
#ifndef ECRUP_SIGNER_PROFILE_H
#define ECRUP_SIGNER_PROFILE_H

#include <stdbool.h>
#include <stddef.h>

#include "util/buf.h"
#include "util/env.h"

/* The config file's path: AWS_CONFIG_FILE, else ~/.aws/config, with a leading `~` expanded
 * from HOME. Caller frees. NULL when neither the variable nor HOME is set (or out of memory). */
char *profile_config_path(const struct env_reader *env);
/* The same for AWS_SHARED_CREDENTIALS_FILE, else ~/.aws/credentials. */
char *profile_credentials_path(const struct env_reader *env);
/* The profile name to use: `explicit_name` when non-NULL and non-empty, else AWS_PROFILE,
 * else "default". The result is borrowed from the argument, the environment or a literal. */
const char *profile_name(const struct env_reader *env, const char *explicit_name);

struct profile_set;

/* Parse both files; either path may be NULL (skipped). A file that does not exist is not an
 * error (it contributes nothing). An unreadable or malformed file is: returns NULL and appends
 * to `err` (may be NULL) "PATH:LINE: what is wrong". */
struct profile_set *profile_load(const char *config_path, const char *credentials_path,
                                 struct ebuf *err);

/* profile_load() of the files the environment names (profile_config_path() and
 * profile_credentials_path()). What the region and endpoint resolution call:
 *   set = profile_load_env(env, err);
 *   region = profile_get(set, profile_name(env, flag_profile), "region");  */
struct profile_set *profile_load_env(const struct env_reader *env, struct ebuf *err);

/* The same from memory: `config`/`credentials` (may be NULL) hold `*_len` bytes each, not
 * necessarily NUL-terminated; the names are used in error messages only. */
struct profile_set *profile_parse(const char *config, size_t config_len, const char *config_name,
                                  const char *credentials, size_t credentials_len,
                                  const char *credentials_name, struct ebuf *err);

/* Free the store; NULL is allowed. Strings returned by the getters die with it. */
void profile_set_free(struct profile_set *set);

/* The value of `key` (case-insensitive, as botocore lowercases option names) in profile
 * `profile` (case-sensitive), or NULL. The credentials file wins over the config file, key by
 * key, as botocore merges them. A nested block (`s3 =` followed by indented `k = v` lines)
 * reads as "" here; its members through profile_get_nested(). Borrowed from `set`. */
const char *profile_get(const struct profile_set *set, const char *profile, const char *key);

/* A member of a nested block: profile_get_nested(set, "default", "s3", "addressing_style").
 * `key` is case-insensitive, `member` is compared as written (botocore keeps its case). */
const char *profile_get_nested(const struct profile_set *set, const char *profile, const char *key,
                               const char *member);

/* True when either file defines the profile (`[profile NAME]`/`[default]` in the config file,
 * `[NAME]` in the credentials file). */
bool profile_exists(const struct profile_set *set, const char *profile);

/* A key of the config file's `[sso-session NAME]` section (case-insensitive key, as
 * profile_get()), or NULL. Only the config file has these sections, as in botocore. Borrowed
 * from `set`. */
const char *profile_sso_session_get(const struct profile_set *set, const char *session,
                                    const char *key);
/* True when the config file has `[sso-session NAME]`. */
bool profile_sso_session_exists(const struct profile_set *set, const char *session);

/* A key of the config file's `[services NAME]` section, as profile_get() reads a profile's, or
 * (with `member`) a member of its nested block: profile_services_get(set, "local", "sts",
 * "endpoint_url"). Only the config file has these sections, as in botocore. Borrowed from
 * `set`. */
const char *profile_services_get(const struct profile_set *set, const char *services,
                                 const char *key, const char *member);
/* True when the config file has `[services NAME]` with at least one setting: botocore keeps an
 * empty one, but its endpoint lookup, the one reader of these sections, refuses it as it
 * refuses a missing one. */
bool profile_services_exists(const struct profile_set *set, const char *services);

/* Calls `fn` for each (profile, key, member, value) in the merged view: each profile once
 * with key, member and value NULL, then each of its keys once with the value that wins,
 * credentials-file entries first. `member` is NULL
 * for a plain key; a nested block yields its key once with member NULL and value "", then
 * once per member. For tests and diagnostics: some values are secrets, never log them. */
void profile_foreach(const struct profile_set *set,
                     void (*fn)(void *user, const char *profile, const char *key,
                                const char *member, const char *value),
                     void *user);

/* The same for the config file's [sso-session NAME] sections: each session once with key,
 * member and value NULL, then each of its keys (a nested block as in profile_foreach()). */
void profile_sso_session_foreach(const struct profile_set *set,
                                 void (*fn)(void *user, const char *session, const char *key,
                                            const char *member, const char *value),
                                 void *user);
/* The same for the config file's [services NAME] sections. */
void profile_services_foreach(const struct profile_set *set,
                              void (*fn)(void *user, const char *services, const char *key,
                                         const char *member, const char *value),
                              void *user);

#endif
