/* The interface between the credential chain (credentials.c) and its providers, one file
 * each: cred_explicit.c, cred_env.c, cred_web_identity.c (through the STS client in sts.c),
 * cred_sso.c (with its token cache in sso_cache.c), cred_login.c (`aws login`, with its token
 * cache in login_cache.c and its DPoP proofs in dpop.c), cred_profile.c (static keys, and
 * credential_process through cred_process.c), cred_container.c, cred_imds.c; cred_http.c is the
 * HTTP the web identity, SSO, login, container and IMDS providers share.
 *
 * Adding a provider: a cred_NAME.c defining cred_provider_NAME() (declared below), and its
 * line in the chain in credentials.c, where the order is the SDKs'.
 *
 * Providers run on the thread walking the chain (the caller of cred_resolve() or the thread
 * refreshing the cache), one at a time; they keep no state between walks. */
#ifndef ECRUP_SIGNER_CRED_PROVIDER_H
#define ECRUP_SIGNER_CRED_PROVIDER_H

#include <stdbool.h>
#include <time.h>

#include <ecrup.h>

#include "signer/credentials.h"
#include "util/buf.h"

struct cJSON;

/* One walk of the chain, as every provider sees it. */
struct cred_chain {
    const struct cred_config *cfg; /* never NULL */
    struct ebuf tried;             /* "; "-separated notes of providers that were not configured */
    long connect_ms, timeout_ms;   /* cfg's HTTP timeouts with the defaults applied */
    /* The profile whose STS settings (region, endpoints) STS calls use: NULL for the walked
     * profile; an assume-role profile's when its source profile is walked on its own. */
    const char *sts_profile;
};

/* A provider. Returns ECRUP_OK with *out set; ECRUP_E_NO_CREDENTIALS when it is not
 * configured, after a cred_note() saying why (the chain goes on to the next); anything else
 * stops the chain with that status and the message in `err`: ECRUP_E_CREDENTIALS when the
 * provider failed, ECRUP_E_CONFIG for a malformed file, ECRUP_E_NOT_FOUND for a named profile
 * that does not exist, ECRUP_E_NOMEM, ... */
typedef ecrup_status (*cred_provider)(struct cred_chain *c, struct cred_snapshot **out,
                                      struct ebuf *err);

ecrup_status cred_provider_explicit(struct cred_chain *c, struct cred_snapshot **out,
                                    struct ebuf *err);
/* Skipped when a profile was named explicitly (cred_config.profile), as botocore drops its
 * EnvProvider then: `--profile dev` means dev, whatever the environment holds. */
ecrup_status cred_provider_env(struct cred_chain *c, struct cred_snapshot **out, struct ebuf *err);
/* The environment's keys whatever the profile: credential_source = Environment. */
ecrup_status cred_env_keys(struct cred_chain *c, struct cred_snapshot **out, struct ebuf *err);
/* cred_assume_role.c: a profile's role_arn with source_profile or credential_source. */
ecrup_status cred_provider_assume_role(struct cred_chain *c, struct cred_snapshot **out,
                                       struct ebuf *err);
/* cred_web_identity.c: AssumeRoleWithWebIdentity (environment or profile), through sts.c. */
ecrup_status cred_provider_web_identity(struct cred_chain *c, struct cred_snapshot **out,
                                        struct ebuf *err);
/* IAM Identity Center (cred_sso.c): sso_session or legacy sso_start_url profiles. */
ecrup_status cred_provider_sso(struct cred_chain *c, struct cred_snapshot **out, struct ebuf *err);
/* `aws login` sessions (cred_login.c): login_session profiles. */
ecrup_status cred_provider_login(struct cred_chain *c, struct cred_snapshot **out,
                                 struct ebuf *err);
ecrup_status cred_provider_profile(struct cred_chain *c, struct cred_snapshot **out,
                                   struct ebuf *err);
ecrup_status cred_provider_container(struct cred_chain *c, struct cred_snapshot **out,
                                     struct ebuf *err);
ecrup_status cred_provider_imds(struct cred_chain *c, struct cred_snapshot **out, struct ebuf *err);

/* The profile provider's credential_process: run `command` for profile `profile`. Returns as
 * a provider does (never ECRUP_E_NO_CREDENTIALS). */
ecrup_status cred_process_run(const char *profile, const char *command, struct cred_snapshot **out,
                              struct ebuf *err);

/* Walk the profile-scoped providers (web identity, SSO, login, the profile's keys and process) for
 * `profile` alone, the environment disabled, as botocore resolves an assume-role profile's
 * source_profile. ECRUP_E_NO_CREDENTIALS when none answers, with their notes in `notes`;
 * otherwise as a provider returns. */
ecrup_status cred_resolve_profile_scoped(const struct cred_chain *parent, const char *profile,
                                         struct cred_snapshot **out, struct ebuf *notes,
                                         struct ebuf *err);

/* The sign-in service's endpoint for `region` (botocore's signin ruleset): appended to `url`.
 * ECRUP_OK; ECRUP_E_NO_REGION, ECRUP_E_INVALID_ARGUMENT (a malformed region), ECRUP_E_ENDPOINT
 * (the partition lacks the FIPS or dual-stack variant) with `message`; ECRUP_E_NOMEM. */
ecrup_status cred_login_endpoint_for(const char *region, bool fips, bool dualstack,
                                     struct ebuf *url, struct ebuf *message);

/* The environment variable `name`, NULL when unset or empty. */
const char *cred_env(const struct cred_chain *c, const char *name);
/* Add a note to the "tried" list the chain reports when no provider answers. */
void cred_note(struct cred_chain *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* A snapshot holding copies of the strings (`token` may be NULL); NULL when out of memory. */
struct cred_snapshot *cred_snapshot_new(const char *akid, const char *secret, const char *token,
                                        time_t expiration, const char *provider);
/* A snapshot from a JSON credentials document (credential_process, container, IMDS).
 * `token_field` is "SessionToken" or "Token"; `who` names the source in messages. ECRUP_OK,
 * ECRUP_E_CREDENTIALS (a field missing or malformed), ECRUP_E_NOMEM. */
ecrup_status cred_snapshot_from_json(const struct cJSON *root, const char *token_field,
                                     bool expiration_required, const char *provider,
                                     const char *who, struct cred_snapshot **out, struct ebuf *err);

/* Wipe, then free: for strings and buffers that held a secret. NULL and empty allowed. */
void cred_wipe_free(char *s);
void cred_wipe_ebuf(struct ebuf *b);

#endif
