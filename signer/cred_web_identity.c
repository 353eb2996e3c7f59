/* The "web-identity" credential provider: AssumeRoleWithWebIdentity with the token in a file,
 * as EKS (IRSA) and CI systems set it up. Each setting is read as botocore's
 * AssumeRoleWithWebIdentityProvider reads it, the environment first, then the selected profile:
 *   AWS_WEB_IDENTITY_TOKEN_FILE / web_identity_token_file
 *   AWS_ROLE_ARN                / role_arn
 *   AWS_ROLE_SESSION_NAME       / role_session_name  (default "ecrup-session-<unix time>")
 * The environment is not read when a profile was named explicitly (botocore's --profile does
 * the same). A profile with both a token file and source_profile is a web identity profile, as
 * in botocore (the assume-role provider, asked first, leaves it alone). The token file is read
 * on every walk: Kubernetes rotates it, and the cache walks again before the credentials
 * expire. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "signer/cred_provider.h"
#include "signer/profile.h"
#include "signer/sts.h"

#define MAX_TOKEN (64 * 1024)

struct wi_settings {
    const struct cred_chain *c;
    const struct profile_set *set;
    const char *profile;
    bool use_env;
};

/* The setting and where it came from. */
static const char *get(const struct wi_settings *w, const char *var, const char *key,
                       const char **from)
{
    const char *v = w->use_env ? cred_env(w->c, var) : NULL;
    if (v) {
        *from = var;
        return v;
    }
    v = w->set ? profile_get(w->set, w->profile, key) : NULL;
    *from = key;
    return v && *v ? v : NULL;
}

/* The token file's bytes, as botocore sends them (no trimming). */
static ecrup_status read_token(const char *path, const char *from, struct ebuf *token,
                               struct ebuf *err)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        ebuf_printf(err, "web identity: cannot read the token file %s (from %s): %s", path, from,
                    strerror(errno));
        return ECRUP_E_CREDENTIALS;
    }
    char chunk[4096];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0 && token->len <= MAX_TOKEN)
        ebuf_append(token, chunk, n);
    bool failed = ferror(f) != 0;
    fclose(f);
    explicit_bzero(chunk, sizeof chunk);
    if (!ebuf_ok(token)) {
        ebuf_puts(err, "web identity: out of memory");
        return ECRUP_E_NOMEM;
    }
    if (failed || token->len == 0 || token->len > MAX_TOKEN) {
        ebuf_printf(err, "web identity: the token file %s (from %s) is %s", path, from,
                    failed       ? "unreadable"
                    : token->len ? "larger than 64 KiB"
                                 : "empty");
        return ECRUP_E_CREDENTIALS;
    }
    return ECRUP_OK;
}

static ecrup_status assume(struct cred_chain *c, const struct wi_settings *w,
                           struct cred_snapshot **out, struct ebuf *err)
{
    const char *file_from, *arn_from, *name_from;
    const char *file = get(w, "AWS_WEB_IDENTITY_TOKEN_FILE", "web_identity_token_file", &file_from);
    const char *arn = get(w, "AWS_ROLE_ARN", "role_arn", &arn_from);
    const char *session = get(w, "AWS_ROLE_SESSION_NAME", "role_session_name", &name_from);
    if (!file) {
        if (w->use_env && cred_env(c, "AWS_ROLE_ARN")) {
            /* Not botocore's silence: falling through to the instance role would push as
             * another identity than the one the environment names. */
            ebuf_puts(err, "web identity: AWS_ROLE_ARN is set but AWS_WEB_IDENTITY_TOKEN_FILE "
                           "is not; set both (or unset AWS_ROLE_ARN)");
            return ECRUP_E_CREDENTIALS;
        }
        cred_note(c, "web identity: no AWS_WEB_IDENTITY_TOKEN_FILE or web_identity_token_file");
        return ECRUP_E_NO_CREDENTIALS;
    }
    if (!arn) {
        ebuf_printf(err,
                    "web identity: the token file is set (%s) but no role ARN is: set "
                    "AWS_ROLE_ARN or role_arn in profile \"%s\"",
                    file_from, w->profile);
        return ECRUP_E_CREDENTIALS;
    }
    struct sts_target t;
    struct ebuf why = EBUF_INIT;
    ecrup_status st =
        sts_resolve_for(c->cfg, w->set, c->sts_profile ? c->sts_profile : w->profile, &t, &why);
    if (st != ECRUP_OK) {
        ebuf_printf(err, "web identity: %s", ebuf_str(&why));
        ebuf_free(&why);
        return st;
    }
    ebuf_free(&why);
    char default_name[64];
    if (!session) {
        snprintf(default_name, sizeof default_name, "ecrup-session-%lld", (long long)time(NULL));
        session = default_name;
    }
    struct ebuf token = EBUF_INIT;
    st = read_token(file, file_from, &token, err);
    if (st == ECRUP_OK) {
        struct sts_call_options o = {
            .connect_ms = c->connect_ms, .timeout_ms = c->timeout_ms, .provider = "web-identity"};
        st = sts_assume_role_with_web_identity(&t, arn, session, ebuf_str(&token), file, &o, out,
                                               err);
    }
    cred_wipe_ebuf(&token);
    sts_target_free(&t);
    return st;
}

ecrup_status cred_provider_web_identity(struct cred_chain *c, struct cred_snapshot **out,
                                        struct ebuf *err)
{
    char *cfg_path = profile_config_path(c->cfg->env);
    char *cred_path = profile_credentials_path(c->cfg->env);
    struct wi_settings w = {.c = c,
                            .profile = profile_name(c->cfg->env, c->cfg->profile),
                            .use_env = !(c->cfg->profile && *c->cfg->profile)};
    struct profile_set *set = profile_load(cfg_path, cred_path, err);
    ecrup_status st;
    if (!set) {
        st = ECRUP_E_CONFIG; /* profile_load said which line */
    } else {
        w.set = set;
        st = assume(c, &w, out, err);
    }
    profile_set_free(set);
    free(cfg_path);
    free(cred_path);
    return st;
}
