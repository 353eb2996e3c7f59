/* The ECR context: region, endpoint, credentials, CA bundle, clock and signing keys resolved
 * once (context.h), and the transfer configuration an engine builds from it. */
#include "engine/context.h"

#include "engine/engine_impl.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static ecrup_status fail(struct ebuf *message, ecrup_status st, const char *what)
{
    if (message && what)
        ebuf_puts(message, what);
    return st;
}

static ecrup_status resolve_ca_bundle(struct ecr_context *ctx, const struct ecrup_options *o,
                                      struct ebuf *message)
{
    const char *v = o->ca_bundle;
    ctx->ca_bundle_source = "--ca-bundle";
    if (!v || !*v) {
        v = env_get(&ctx->env, "AWS_CA_BUNDLE");
        ctx->ca_bundle_source = "AWS_CA_BUNDLE";
    }
    if (!v || !*v) {
        v = profile_get(ctx->profiles, ctx->profile, "ca_bundle");
        ctx->ca_bundle_source = "profile";
    }
    if (!v || !*v) {
        ctx->ca_bundle_source = "system";
        return ECRUP_OK;
    }
    ctx->ca_bundle = strdup(v);
    if (!ctx->ca_bundle)
        return fail(message, ECRUP_E_NOMEM, "out of memory");
    return ECRUP_OK;
}

/* Whichever thread refreshed the credentials (a transfer thread during a push): a failed
 * refresh the push outlived, with the credentials still valid, is a warning. */
static void refresh_log(void *user, const char *note)
{
    const struct ecrup_options *o = user;
    o->log(ECRUP_LOG_WARN, note, o->log_user);
}

void ecr_context_begin(struct ecr_context *ctx, const struct env_reader *env)
{
    memset(ctx, 0, sizeof *ctx);
    sigv4_clock_init(&ctx->clock);
    if (env)
        ctx->env = *env;
}

ecrup_status ecr_context_profiles(struct ecr_context *ctx, const struct ecrup_options *o,
                                  struct ebuf *message)
{
    ctx->profile = strdup(profile_name(&ctx->env, o->profile));
    if (!ctx->profile)
        return fail(message, ECRUP_E_NOMEM, "out of memory");
    struct ebuf err = EBUF_INIT;
    ctx->profiles = profile_load_env(&ctx->env, &err);
    if (!ctx->profiles) {
        if (message)
            ebuf_puts(message, ebuf_str(&err));
        ebuf_free(&err);
        return ECRUP_E_CONFIG;
    }
    ebuf_free(&err);
    /* A profile asked for by name must exist; the implicit "default" need not. */
    bool named = (o->profile && *o->profile) || env_get(&ctx->env, "AWS_PROFILE");
    if (named && !profile_exists(ctx->profiles, ctx->profile)) {
        if (message)
            ebuf_printf(message,
                        "profile '%s' is not in the shared config or credentials file "
                        "(AWS_CONFIG_FILE, AWS_SHARED_CREDENTIALS_FILE)",
                        ctx->profile);
        return ECRUP_E_NOT_FOUND;
    }
    return ECRUP_OK;
}

ecrup_status ecr_context_endpoint(struct ecr_context *ctx, const struct ecrup_options *o,
                                  struct ebuf *message)
{
    struct endpoint_inputs in = {
        .region = o->region,
        .endpoint_url = o->endpoint_url,
        .env = &ctx->env,
        .profile_name = ctx->profile,
        .profile_region = profile_get(ctx->profiles, ctx->profile, "region"),
        .profile_use_fips_endpoint = profile_get(ctx->profiles, ctx->profile, "use_fips_endpoint"),
        .profile_use_dualstack_endpoint =
            profile_get(ctx->profiles, ctx->profile, "use_dualstack_endpoint"),
    };
    configured_endpoint_read(ctx->profiles, ctx->profile, CONFIGURED_ENDPOINT_ECR, &in.configured);
    return endpoint_resolve(&in, &ctx->endpoint, message);
}

ecrup_status ecr_context_tls(struct ecr_context *ctx, const struct ecrup_options *o,
                             struct ebuf *message)
{
    ctx->insecure = o->insecure_skip_tls_verify != 0;
    return resolve_ca_bundle(ctx, o, message);
}

ecrup_status ecr_context_resolve_credentials(struct ecr_context *ctx, const struct ecrup_options *o,
                                             struct ebuf *message)
{
    struct cred_config cc = {
        .access_key_id = o->access_key_id,
        .secret_access_key = o->secret_access_key,
        .session_token = o->session_token,
        .profile = o->profile, /* NULL lets the chain tell "default" from a named profile */
        .env = &ctx->env,
        .mfa_code = o->mfa_code,
        .mfa_code_user = o->mfa_code_user,
        .region = o->region,
        .ca_bundle = o->ca_bundle,
    };
    if (o->log && o->log_level >= ECRUP_LOG_WARN) {
        cc.refresh_log = refresh_log;
        cc.refresh_log_user = (void *)(uintptr_t)o;
    }
    ctx->creds = cred_cache_new(&cc);
    ctx->keys = sigv4_key_cache_new();
    if (!ctx->creds || !ctx->keys)
        return fail(message, ECRUP_E_NOMEM, "out of memory");
    struct cred_snapshot *snap = NULL;
    struct ebuf err = EBUF_INIT;
    ecrup_status st = cred_cache_get(ctx->creds, sigv4_clock_now(&ctx->clock), &snap, &err);
    if (st != ECRUP_OK) {
        if (message)
            ebuf_puts(message, ebuf_str(&err));
        ebuf_free(&err);
        return st;
    }
    ebuf_free(&err);
    snprintf(ctx->creds_provider, sizeof ctx->creds_provider, "%s", snap->provider);
    cred_snapshot_release(snap);
    return ECRUP_OK;
}

void ecr_context_target(struct ecr_context *ctx)
{
    ctx->target = (struct ecr_target){
        .url = ctx->endpoint.parsed.base_url,
        .path = ctx->endpoint.parsed.path,
        .host = ctx->endpoint.parsed.host,
        .host_header = ctx->endpoint.parsed.host_header,
        .region = ctx->endpoint.region,
        .ca_bundle = ctx->ca_bundle,
        .insecure = ctx->insecure,
    };
    /* For tests only (docs/engine.md): a shorter stall window than libcurl's 30 s, so a
     * stalled connection is given up on within a test's patience. */
    const char *lst = env_get(&ctx->env, "ECRUP_LOW_SPEED_TIME");
    if (lst && *lst) {
        char *end;
        long v = strtol(lst, &end, 10);
        if (!*end && v > 0 && v <= 3600)
            ctx->target.low_speed_seconds = v;
    }
}

ecrup_status ecr_context_init(struct ecr_context *ctx, const struct ecrup_options *o,
                              const struct env_reader *env, struct ebuf *message)
{
    ecr_context_begin(ctx, env);
    ecrup_status st = ecr_context_profiles(ctx, o, message);
    if (st == ECRUP_OK)
        st = ecr_context_endpoint(ctx, o, message);
    if (st == ECRUP_OK)
        st = ecr_context_tls(ctx, o, message);
    if (st == ECRUP_OK)
        st = ecr_context_resolve_credentials(ctx, o, message);
    if (st == ECRUP_OK)
        ecr_context_target(ctx);
    return st;
}

void ecr_context_cleanup(struct ecr_context *ctx)
{
    cred_cache_free(ctx->creds);
    sigv4_key_cache_free(ctx->keys);
    endpoint_resolution_free(&ctx->endpoint);
    profile_set_free(ctx->profiles);
    free(ctx->profile);
    free(ctx->ca_bundle);
    memset(ctx, 0, sizeof *ctx);
}

/* Transfer thread (whichever thread signs a request). */
static ecrup_status creds_acquire(void *user, time_t now, struct sigv4_credentials *creds,
                                  void **token, struct ebuf *err)
{
    struct ecr_context *ctx = user;
    struct cred_snapshot *snap = NULL;
    ecrup_status st = cred_cache_get(ctx->creds, now, &snap, err);
    if (st != ECRUP_OK)
        return st;
    *creds = cred_snapshot_sigv4(snap);
    *token = snap;
    return ECRUP_OK;
}

/* Transfer thread. */
static void creds_release(void *user, void *token)
{
    (void)user;
    cred_snapshot_release(token);
}

struct xfer_credentials ecr_context_credentials(struct ecr_context *ctx)
{
    return (struct xfer_credentials){creds_acquire, creds_release, ctx};
}

/* Transfer thread. */
static time_t clock_now(void *user)
{
    return sigv4_clock_now(user);
}

/* Transfer thread. */
static bool clock_correct(void *user, const char *date)
{
    return sigv4_clock_correct_from_date_header(user, date);
}

struct xfer_clock ecr_context_clock(struct ecr_context *ctx)
{
    return (struct xfer_clock){clock_now, clock_correct, &ctx->clock};
}

/* Transfer thread: one line per attempt. */
static void transfer_log(void *user, const char *line)
{
    const struct ecrup_options *o = user;
    if (o->log && o->log_level >= ECRUP_LOG_INFO)
        o->log(ECRUP_LOG_INFO, line, o->log_user);
}

struct transfer_config engine_transfer_config(struct ecrup_engine *e)
{
    return (struct transfer_config){
        .target = &e->ctx.target,
        .credentials = ecr_context_credentials(&e->ctx),
        .clock = ecr_context_clock(&e->ctx),
        .keys = e->ctx.keys,
        .max_attempts = e->max_attempts,
        .retry_mode = e->retry_mode,
        .log = transfer_log,
        .log_user = &e->options,
    };
}
