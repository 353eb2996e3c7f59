/* The "explicit" credential provider: values given through the API (struct cred_config), as
 * aws-c-auth's static provider. */
#include "signer/cred_provider.h"

ecrup_status cred_provider_explicit(struct cred_chain *c, struct cred_snapshot **out,
                                    struct ebuf *err)
{
    const struct cred_config *cfg = c->cfg;
    bool a = cfg->access_key_id && *cfg->access_key_id;
    bool s = cfg->secret_access_key && *cfg->secret_access_key;
    if (!a && !s) {
        cred_note(c, "explicit: none given");
        return ECRUP_E_NO_CREDENTIALS;
    }
    if (!a || !s) {
        ebuf_printf(err, "explicit credentials: %s given without %s",
                    a ? "an access key id" : "a secret access key",
                    a ? "a secret access key" : "an access key id");
        return ECRUP_E_CREDENTIALS;
    }
    *out = cred_snapshot_new(cfg->access_key_id, cfg->secret_access_key,
                             cfg->session_token && *cfg->session_token ? cfg->session_token : NULL,
                             0, "explicit");
    return *out ? ECRUP_OK : ECRUP_E_NOMEM;
}
