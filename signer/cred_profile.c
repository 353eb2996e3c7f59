/* The "profile" credential provider: the shared config and credentials files, re-read on every
 * walk (`aws configure` or an SSO login may have rewritten them). Static keys
 * (aws_access_key_id, aws_secret_access_key, aws_session_token) answer here; a
 * credential_process goes to cred_process.c. Assume-role, web identity, SSO and
 * login_session profiles are answered before this provider is asked. */
#include "signer/cred_provider.h"

#include <stdlib.h>

#include "signer/profile.h"

static ecrup_status from_set(struct cred_chain *c, const struct profile_set *set, const char *name,
                             struct cred_snapshot **out, struct ebuf *err)
{
    const char *a = profile_get(set, name, "aws_access_key_id");
    const char *s = profile_get(set, name, "aws_secret_access_key");
    if ((a && *a) || (s && *s)) {
        if (!a || !*a || !s || !*s) {
            ebuf_printf(err, "profile \"%s\": %s is set but %s is not", name,
                        a && *a ? "aws_access_key_id" : "aws_secret_access_key",
                        a && *a ? "aws_secret_access_key" : "aws_access_key_id");
            return ECRUP_E_CREDENTIALS;
        }
        const char *t = profile_get(set, name, "aws_session_token");
        *out = cred_snapshot_new(a, s, t && *t ? t : NULL, 0, "profile");
        return *out ? ECRUP_OK : ECRUP_E_NOMEM;
    }
    const char *process = profile_get(set, name, "credential_process");
    if (process && *process)
        return cred_process_run(name, process, out, err);
    cred_note(c, "profile \"%s\": no aws_access_key_id or credential_process", name);
    return ECRUP_E_NO_CREDENTIALS;
}

ecrup_status cred_provider_profile(struct cred_chain *c, struct cred_snapshot **out,
                                   struct ebuf *err)
{
    char *cfg_path = profile_config_path(c->cfg->env);
    char *cred_path = profile_credentials_path(c->cfg->env);
    const char *name = profile_name(c->cfg->env, c->cfg->profile);
    bool named = (c->cfg->profile && *c->cfg->profile) || cred_env(c, "AWS_PROFILE");
    ecrup_status st;
    struct profile_set *set = profile_load(cfg_path, cred_path, err);
    if (!set) {
        st = ECRUP_E_CONFIG; /* unreadable or malformed: profile_load said which line */
    } else if (profile_exists(set, name)) {
        st = from_set(c, set, name, out, err);
    } else if (named) {
        ebuf_printf(err, "profile \"%s\" is not defined in %s or %s", name,
                    cfg_path ? cfg_path : "(no config file)",
                    cred_path ? cred_path : "(no credentials file)");
        st = ECRUP_E_NOT_FOUND;
    } else {
        cred_note(c, "profile \"%s\": not in %s or %s", name, cfg_path ? cfg_path : "(no HOME)",
                  cred_path ? cred_path : "(no HOME)");
        st = ECRUP_E_NO_CREDENTIALS;
    }
    profile_set_free(set);
    free(cfg_path);
    free(cred_path);
    return st;
}
