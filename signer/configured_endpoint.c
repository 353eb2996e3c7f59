/* botocore's ConfiguredEndpointProvider (configprovider.py) and the services sections its
 * configloader collects; see configured_endpoint.h for the order. */
#include "signer/configured_endpoint.h"

#include <stdio.h>
#include <string.h>

#include "signer/endpoint.h"
#include "signer/profile.h"

void configured_endpoint_read(const struct profile_set *set, const char *profile,
                              const char *service, struct configured_endpoint_values *out)
{
    memset(out, 0, sizeof *out);
    out->profile = profile;
    if (!set)
        return;
    out->endpoint_url = profile_get(set, profile, "endpoint_url");
    out->ignore_configured_endpoint_urls =
        profile_get(set, profile, "ignore_configured_endpoint_urls");
    out->services = profile_get(set, profile, "services");
    if (out->services) {
        out->services_found = profile_services_exists(set, out->services);
        out->services_endpoint_url =
            profile_services_get(set, out->services, service, "endpoint_url");
    }
}

static const char *nonempty(const char *s)
{
    return s && *s ? s : NULL;
}

ecrup_status configured_endpoint(const struct env_reader *env, const char *service,
                                 const struct configured_endpoint_values *v, const char **url,
                                 struct ebuf *source, struct ebuf *message)
{
    static const struct configured_endpoint_values none;
    if (!v)
        v = &none;
    const char *profile = v->profile ? v->profile : "default";
    *url = NULL;
    const char *ignore = env_get(env, "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS");
    if (endpoint_parse_bool(ignore ? ignore : v->ignore_configured_endpoint_urls))
        return ECRUP_OK;

    char var[64];
    snprintf(var, sizeof var, "AWS_ENDPOINT_URL_%s", service);
    for (char *p = var; *p; p++)
        if (*p >= 'a' && *p <= 'z')
            *p = (char)(*p - 'a' + 'A');
    if ((*url = nonempty(env_get(env, var))) != NULL) {
        ebuf_puts(source, var);
    } else if ((*url = nonempty(env_get(env, "AWS_ENDPOINT_URL"))) != NULL) {
        ebuf_puts(source, "AWS_ENDPOINT_URL");
    } else if (v->services && !v->services_found) {
        if (message)
            ebuf_printf(message,
                        "profile \"%s\" names services \"%s\", but the config file has no "
                        "[services %s] section with settings",
                        profile, v->services, v->services);
        return ECRUP_E_CONFIG;
    } else if (v->services && (*url = nonempty(v->services_endpoint_url)) != NULL) {
        ebuf_printf(source, "services \"%s\" %s endpoint_url in profile \"%s\"", v->services,
                    service, profile);
    } else if ((*url = nonempty(v->endpoint_url)) != NULL) {
        ebuf_printf(source, "endpoint_url in profile \"%s\"", profile);
    }
    if (*url && !ebuf_ok(source)) {
        *url = NULL;
        if (message)
            ebuf_puts(message, "out of memory");
        return ECRUP_E_NOMEM;
    }
    return ECRUP_OK;
}
