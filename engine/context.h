/* Everything a client needs to talk to ECR, resolved once from the options, the environment
 * and the shared profile files: region, endpoint, credentials (a refreshing cache), CA bundle,
 * the skew-corrected clock and the signing-key cache. ecrup_engine_new() builds one so that
 * configuration errors surface there, with a message; `ecrup config` prints one.
 *
 * Ownership: the context owns every string and object in it. Threads: built and freed by the
 * owner; once built, `target`, `clock`, `keys` and `creds` may be used from any thread
 * (the clock, key cache and credential cache are internally synchronised). */
#ifndef ECRUP_ENGINE_CONTEXT_H
#define ECRUP_ENGINE_CONTEXT_H

#include <ecrup.h>
#include <stdbool.h>

#include "engine/request.h"
#include "engine/transfer.h"
#include "signer/clock.h"
#include "signer/credentials.h"
#include "signer/endpoint.h"
#include "signer/profile.h"
#include "util/buf.h"
#include "util/env.h"

struct ecr_context {
    struct env_reader env;
    struct profile_set *profiles;
    char *profile; /* the profile name in use */
    struct endpoint_resolution endpoint;
    char *ca_bundle;              /* NULL: libcurl's default store */
    const char *ca_bundle_source; /* "--ca-bundle", "AWS_CA_BUNDLE", "profile", "system" */
    bool insecure;
    struct cred_cache *creds;
    char creds_provider[16]; /* who provided the credentials found at build time */
    struct sigv4_clock clock;
    struct sigv4_key_cache *keys;
    struct ecr_target target; /* points into `endpoint` and `ca_bundle` */
};

/* Resolve everything now. `env` may be NULL (the process environment) and must outlive the
 * context (credential refreshes read it again), as must `options` when it has a log callback
 * (a failed credential refresh is logged through it). Returns ECRUP_OK, or a status with a message
 * naming what is wrong (the file and line of a malformed profile file, the variable that
 * holds a bad value, what was tried when no credentials were found). */
ecrup_status ecr_context_init(struct ecr_context *ctx, const struct ecrup_options *options,
                              const struct env_reader *env, struct ebuf *message);
void ecr_context_cleanup(struct ecr_context *ctx);

/* ecr_context_init()'s steps, for `ecrup config`, which shows every gap rather than the first.
 * ecr_context_begin() first; then each step may be called whatever an earlier one returned
 * (a step whose input is missing says so in its status); ecr_context_cleanup() frees what was
 * built. Each returns as ecr_context_init() does, with `message` (may be NULL) saying why. */
void ecr_context_begin(struct ecr_context *ctx, const struct env_reader *env);
/* The shared files and the profile name. ECRUP_E_CONFIG (a malformed file: `profiles` stays
 * NULL), ECRUP_E_NOT_FOUND (a named profile neither file has: `profile` is still set). */
ecrup_status ecr_context_profiles(struct ecr_context *ctx, const struct ecrup_options *options,
                                  struct ebuf *message);
/* Region and endpoint (endpoint_resolve()), from the options, the environment and the profile
 * (none when the files could not be read). */
ecrup_status ecr_context_endpoint(struct ecr_context *ctx, const struct ecrup_options *options,
                                  struct ebuf *message);
/* CA bundle and --insecure. */
ecrup_status ecr_context_tls(struct ecr_context *ctx, const struct ecrup_options *options,
                             struct ebuf *message);
/* The credential cache, and credentials from it now. `options` must outlive the context when
 * it has a log callback. */
ecrup_status ecr_context_resolve_credentials(struct ecr_context *ctx,
                                             const struct ecrup_options *options,
                                             struct ebuf *message);
/* `target`, once the endpoint and TLS steps succeeded. */
void ecr_context_target(struct ecr_context *ctx);

/* The adapters a transfer needs: credentials from the cache, the skew-corrected clock. */
struct xfer_credentials ecr_context_credentials(struct ecr_context *ctx);
struct xfer_clock ecr_context_clock(struct ecr_context *ctx);

#endif
