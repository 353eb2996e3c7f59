/* The credential provider chain and the cache the signer reads credentials from.
 *
 * Order, as the AWS SDKs resolve it (first that answers wins):
 *   "explicit"   values given through the API (struct cred_config)
 *   "env"        AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY / AWS_SESSION_TOKEN
 *   "web-identity" AssumeRoleWithWebIdentity (environment or profile)
 *   "sso"        the profile's IAM Identity Center role (sso_session or sso_start_url)
 *   "login"      the profile's login_session: the credentials `aws login` cached, refreshed
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

struct cred_snapshot;

/* What to resolve with. Zero means default for every field; strings are borrowed during
 * cred_cache_new()/cred_resolve() only (cred_cache_new copies them). */
struct cred_config {
    const char *access_key_id;     /* explicit credentials: both or neither */
    const char *secret_access_key; /* a secret */
    const char *session_token;     /* optional, with the explicit pair */
    const char *profile;           /* NULL: AWS_PROFILE, else "default" */
    /* The caller's region and CA bundle (the CLI's --region, --ca-bundle), ahead of the
     * environment and the profile for the STS calls, as botocore's session region reaches its
     * STS client; the SSO calls keep sso_region. NULL: AWS_REGION, AWS_DEFAULT_REGION, the
     * profile's region; AWS_CA_BUNDLE, the profile's ca_bundle. */
    const char *region;
    const char *ca_bundle;
    /* Environment source; NULL means getenv(3). The struct is copied, `user` is borrowed and
     * must outlive the cache (refreshes read the environment again). */
    const struct env_reader *env;
    /* The cache's refresh windows, botocore's RefreshableCredentials: with less than
     * advisory_refresh_seconds left one thread refreshes while the others keep the current
     * credentials (0: 900, 15 minutes); with less than mandatory_refresh_seconds left callers
     * wait for the refresh (0: 600, 10 minutes; never more than the advisory window). */
    int advisory_refresh_seconds;
    int mandatory_refresh_seconds;
    /* For tests: the cache calls this instead of walking the chain (a fake provider); NULL
     * walks the chain. Called on the refreshing thread; `walk_user` is borrowed. */
    ecrup_status (*walk)(void *walk_user, struct cred_snapshot **out, struct ebuf *err);
    void *walk_user;
    /* Told of a failed refresh that still-valid credentials outlived (the note, without a
     * secret), on the refreshing thread with no lock held: the engine logs it. NULL: kept
     * only as the report's refresh_note. `refresh_log_user` is borrowed. */
    void (*refresh_log)(void *refresh_log_user, const char *note);
    void *refresh_log_user;
    /* Assume-role profiles with mfa_serial: writes the device's current code into `code`
     * (`code_size` bytes, NUL-terminated) and returns 0; nonzero refuses. Called on the thread
     * walking the chain, at every walk that assumes the role (refreshes included). NULL: such
     * profiles fail, saying why. `mfa_code_user` is borrowed. */
    int (*mfa_code)(void *mfa_code_user, const char *mfa_serial, char *code, size_t code_size);
    void *mfa_code_user;
    long connect_timeout_ms; /* container and IMDS connect timeout; 0: 1000 */
    long timeout_ms;         /* container and IMDS whole-request timeout; 0: 3000 */
};

/* One set of resolved credentials: immutable, reference-counted, so a thread that is signing
 * keeps its snapshot valid while another thread refreshes the cache. */
struct cred_snapshot {
    const char *access_key_id;
    const char *secret_access_key; /* a secret: never log */
    const char *session_token;     /* NULL when none; a secret: never log */
    time_t expiration;             /* Unix seconds; 0 when they do not expire */
    const char *provider;          /* "explicit", "env", "web-identity", "sso", "login", "profile",
                                      "process", "container", "imds" */
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

/* What one provider did in a walk of the chain. */
enum cred_outcome {
    CRED_SKIPPED,   /* not configured; `detail` says why */
    CRED_ANSWERED,  /* its credentials won */
    CRED_FAILED,    /* configured but failed: `status` and `detail` (the message) say how */
    CRED_NOT_TRIED, /* after the one that answered or failed */
};

struct cred_step {
    char *name; /* "explicit", "env", "web-identity", "sso", "login", "profile", ... */
    enum cred_outcome outcome;
    ecrup_status status; /* ECRUP_OK, ECRUP_E_NO_CREDENTIALS when skipped, or the failure */
    char *detail;        /* skipped: the provider's notes; failed: its message; answered:
                            the snapshot's provider ("process" for the profile's
                            credential_process); NULL when not tried. Never a secret. */
};

/* Every provider of one walk, in the chain's order, whatever the walk's outcome. Caller-owned:
 * cred_report_init() (or zero), then cred_report_free(). */
struct cred_report {
    struct cred_step *steps;
    size_t n;
    time_t at;          /* the cache's `now` for the walk; 0 from cred_resolve_report() */
    char *refresh_note; /* the cache's last failed refresh while credentials were still valid
                           (advisory or mandatory window), or NULL */
};

void cred_report_free(struct cred_report *r);

/* cred_resolve(), also filling `report` (which may be NULL) on success and failure alike;
 * the report is empty only when memory ran out. */
ecrup_status cred_resolve_report(const struct cred_config *cfg, struct cred_snapshot **out,
                                 struct ebuf *err, struct cred_report *report);

/* Credentials shared by every thread that signs.
 *
 * Refresh, as botocore's RefreshableCredentials: credentials with more than the advisory
 * window (15 minutes) left are served as they are. Inside it, one thread refreshes and the
 * others keep getting the current snapshot without waiting; a failed advisory refresh is kept
 * as a note (cred_cache_report) and the current credentials served. Inside the mandatory
 * window (10 minutes), callers wait for the refresh; its failure is an error only when the
 * current credentials have expired (botocore raises it even while they are valid: a push
 * that still holds valid credentials goes on). After a failure, still-valid credentials are
 * served without a new attempt for 5 seconds.
 *
 * Thread rules: cred_cache_get() may be called from any number of threads at once. A mutex
 * guards `current`, `refreshing`, the last failure and the last walk's report; it is never
 * held while a provider runs. One thread at a time refreshes (single flight).
 * cred_cache_new/free are the owner's, called when no other thread uses the cache. */
struct cred_cache;

/* A cache over the chain. Copies what `cfg` points to (except env->user). NULL on OOM. */
struct cred_cache *cred_cache_new(const struct cred_config *cfg);
void cred_cache_free(struct cred_cache *cache);

/* Credentials valid at `now` (Unix seconds), refreshed by the rules above. On success *out
 * holds one reference (release it when done signing) and ECRUP_OK is returned; else
 * cred_resolve()'s status for the failed walk, and `err` says why. Any thread. */
ecrup_status cred_cache_get(struct cred_cache *cache, time_t now, struct cred_snapshot **out,
                            struct ebuf *err);

/* A copy of the report of the cache's last walk of the chain (empty before the first, and
 * when the cache's `walk` is a test's) and its refresh note. ECRUP_OK or ECRUP_E_NOMEM. Any
 * thread. */
ecrup_status cred_cache_report(struct cred_cache *cache, struct cred_report *out);

/* An ISO 8601 / RFC 3339 time as the providers send it ("2026-11-26T23:59:59Z", fractional
 * seconds and "+hh:mm" offsets allowed) as Unix seconds. False when malformed. */
bool cred_parse_time(const char *s, time_t *out);

#endif
