/* The "env" credential provider: AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and
 * AWS_SESSION_TOKEN, read through the chain's environment reader, unless a profile was named
 * explicitly; assume-role's credential_source = Environment reads them regardless. */
#include "signer/cred_provider.h"

ecrup_status cred_provider_env(struct cred_chain *c, struct cred_snapshot **out, struct ebuf *err)
{
    if (c->cfg->profile && *c->cfg->profile) {
        cred_note(c, "environment: not read, profile \"%s\" was named", c->cfg->profile);
        return ECRUP_E_NO_CREDENTIALS;
    }
    return cred_env_keys(c, out, err);
}

ecrup_status cred_env_keys(struct cred_chain *c, struct cred_snapshot **out, struct ebuf *err)
{
    const char *a = cred_env(c, "AWS_ACCESS_KEY_ID"), *s = cred_env(c, "AWS_SECRET_ACCESS_KEY");
    if (!a && !s) {
        cred_note(c, "environment: AWS_ACCESS_KEY_ID unset");
        return ECRUP_E_NO_CREDENTIALS;
    }
    if (!a || !s) {
        ebuf_printf(err, "environment: %s is set but %s is not",
                    a ? "AWS_ACCESS_KEY_ID" : "AWS_SECRET_ACCESS_KEY",
                    a ? "AWS_SECRET_ACCESS_KEY" : "AWS_ACCESS_KEY_ID");
        return ECRUP_E_CREDENTIALS;
    }
    *out = cred_snapshot_new(a, s, cred_env(c, "AWS_SESSION_TOKEN"), 0, "env");
    return *out ? ECRUP_OK : ECRUP_E_NOMEM;
}
