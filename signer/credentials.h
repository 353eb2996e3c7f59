/* The credential provider chain and the cache the signer reads credentials from.
 *
 * Order, as the AWS SDKs resolve it (first that answers wins):
 *   "explicit"   values given through the API (struct cred_config)
 *   "env"        AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY / AWS_SESSION_TOKEN
 *   "profile"    aws_access_key_id / aws_secret_access_key / aws_session_token of the profile
 *   "process"    the profile's credential_process, run with /bin/sh -c
 *   "container"  AWS_CONTAINER_CREDENTIALS_RELATIVE_URI or _FULL_URI (ECS, EKS Pod Identity)
 *   "imds"       EC2 instance metadata, IMDSv2
 * A provider that is configured but fails (a malformed file, a process that exits non-zero, a
 * container endpoint that answers 403) stops the chain with its error rather than falling
 * through to the next, as the SDKs do: silently picking other credentials would be worse.
 * IMDS is the exception only in that "not configured" cannot be known without asking it.
 *
 * Each provider is its own file (signer/cred_provider.h lists them and says how to add one).
 * HTTP goes through libcurl easy handles; the library never calls curl_global_init(): the
 * program does, before the first resolution (see docs/credentials.md). Messages name the
 * file and line, the profile, the endpoint's host and the HTTP status; never a secret. */
#ifndef ECRUP_SIGNER_CREDENTIALS_H
#define ECRUP_SIGNER_CREDENTIALS_H

#include <stdbool.h>
#include <time.h>

#include <ecrup.h>

#include "signer/profile.h"
#include "signer/sigv4.h"
#include "util/buf.h"

/* What to resolve with. Zero means default for every field; strings are borrowed during
 * cred_cache_new()/cred_resolve() only (cred_cache_new copies them). */
struct cred_config {
    const char *access_key_id;     /* explicit credentials: both or neither */
    const char *secret_access_key; /* a secret */
    const char *session_token;     /* optional, with the explicit pair */
    const char *profile;           /* NULL: AWS_PROFILE, else "default" */
    /* Environment source; NULL means getenv(3). The struct is copied, `user` is borrowed and
     * must outlive the cache (refreshes read the environment again). */
    const struct env_reader *env;
    int refresh_ahead_seconds; /* refresh when expiring within this; 0: 300 (5 minutes) */
    long connect_timeout_ms;   /* container and IMDS connect timeout; 0: 1000 */
    long timeout_ms;           /* container and IMDS whole-request timeout; 0: 3000 */
};

/* One set of resolved credentials: immutable, reference-counted, so a thread that is signing
 * keeps its snapshot valid while another thread refreshes the cache. */
struct cred_snapshot {
    const char *access_key_id;
    const char *secret_access_key; /* a secret: never log */
    const char *session_token;     /* NULL when none; a secret: never log */
    time_t expiration;             /* Unix seconds; 0 when they do not expire */
    const char *provider;          /* "explicit", "env", "profile", "process", "container",
                                      "imds" */
};

/* The view the signer consumes; borrowed from `snap`, valid while the caller holds it. */
struct sigv4_credentials cred_snapshot_sigv4(const struct cred_snapshot *snap);
/* Take another reference (any thread). */
void cred_snapshot_retain(const struct cred_snapshot *snap);
/* Drop a reference (any thread); the last one wipes the secrets and frees. NULL allowed. */
void cred_snapshot_release(const struct cred_snapshot *snap);

/* Walk the chain once, now. On success *out holds one reference (release it) and ECRUP_OK is
 * returned. Otherwise *out is NULL, `err` gets the message for the user, and the status says
 * what went wrong: ECRUP_E_NO_CREDENTIALS when no provider is configured (the message lists
 * what was tried), ECRUP_E_CREDENTIALS when one failed (a process exited non-zero, an
 * endpoint answered 403, a profile holds half a key pair), ECRUP_E_CONFIG when a shared file
 * is unreadable or malformed, ECRUP_E_NOT_FOUND when a profile asked for by name does not
 * exist, ECRUP_E_UNSUPPORTED when libcurl lacks what the HTTP providers need, ECRUP_E_NOMEM.
 * Blocking: may run a process or do HTTP. */
ecrup_status cred_resolve(const struct cred_config *cfg, struct cred_snapshot **out,
                          struct ebuf *err);

/* Credentials shared by every thread that signs.
 *
 * Thread rules: cred_cache_get() may be called from any number of threads at once. A mutex
 * guards `current`, `refreshing` and the last failure; it is never held while a provider
 * runs. One thread at a time refreshes (single flight); the others keep getting the current
 * snapshot while it is still valid, and wait for the refresh only when it is not. A failed
 * refresh keeps credentials that are still valid. cred_cache_new/free are the owner's,
 * called when no other thread uses the cache. */
struct cred_cache;

/* A cache over the chain. Copies what `cfg` points to (except env->user). NULL on OOM. */
struct cred_cache *cred_cache_new(const struct cred_config *cfg);
void cred_cache_free(struct cred_cache *cache);

/* Credentials valid at `now` (Unix seconds): the cached snapshot unless it expires within
 * refresh_ahead_seconds, in which case the chain is walked again. On success *out holds one
 * reference (release it when done signing) and ECRUP_OK is returned; else cred_resolve()'s
 * status for the failed walk, and `err` says why. */
ecrup_status cred_cache_get(struct cred_cache *cache, time_t now, struct cred_snapshot **out,
                            struct ebuf *err);

/* An ISO 8601 / RFC 3339 time as the providers send it ("2026-11-26T23:59:59Z", fractional
 * seconds and "+hh:mm" offsets allowed) as Unix seconds. False when malformed. */
bool cred_parse_time(const char *s, time_t *out);

#endif
