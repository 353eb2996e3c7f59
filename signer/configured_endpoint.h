/* The endpoint URL a user configured for one AWS service, found as botocore's
 * ConfiguredEndpointProvider finds it. One rule for every service ecrup calls: ECR
 * (endpoint.c), STS (sts.c), the SSO portal and SSO OIDC (cred_sso.c), the sign-in service
 * (cred_login.c). First set and non-empty
 * wins:
 *   AWS_ENDPOINT_URL_<SERVICE>   the service id upper-cased: AWS_ENDPOINT_URL_SSO_OIDC
 *   AWS_ENDPOINT_URL
 *   the profile's `services = NAME`, then in the config file's `[services NAME]` section the
 *   service's nested block:   sts =
 *                               endpoint_url = http://127.0.0.1:4566
 *   the profile's `endpoint_url`
 * and none of them when AWS_IGNORE_CONFIGURED_ENDPOINT_URLS (when set, even empty), else the
 * profile's ignore_configured_endpoint_urls, is "true": then the service's computed endpoint
 * is used. Explicit options (--endpoint-url) are the caller's business, ahead of all this.
 *
 * Thread safety: reentrant; nothing is kept. */
#ifndef ECRUP_SIGNER_CONFIGURED_ENDPOINT_H
#define ECRUP_SIGNER_CONFIGURED_ENDPOINT_H

#include <stdbool.h>

#include <ecrup.h>

#include "util/buf.h"
#include "util/env.h"

/* The service ids, as botocore spells them in `[services NAME]` sections: the service's id
 * lower-cased, spaces and hyphens turned into underscores. */
#define CONFIGURED_ENDPOINT_ECR      "ecr"
#define CONFIGURED_ENDPOINT_STS      "sts"
#define CONFIGURED_ENDPOINT_SSO      "sso"
#define CONFIGURED_ENDPOINT_SSO_OIDC "sso_oidc"
#define CONFIGURED_ENDPOINT_SIGNIN   "signin"

/* What the profile says about one service's endpoint. Borrowed strings, NULL when unset. */
struct configured_endpoint_values {
    const char *profile;                         /* for sources and messages; NULL: "default" */
    const char *endpoint_url;                    /* the profile's endpoint_url */
    const char *ignore_configured_endpoint_urls; /* the profile's */
    const char *services;              /* the profile's `services`: the section it names */
    bool services_found;               /* the config file has that section, with settings */
    const char *services_endpoint_url; /* the section's `SERVICE = endpoint_url = URL` */
};

struct profile_set;
/* The values for `service` (CONFIGURED_ENDPOINT_*) and profile `profile` of `set` (may be
 * NULL: all unset); borrowed from `set`. A `SERVICE = URL` without the nested block gives no
 * URL (botocore fails on it with an AttributeError). */
void configured_endpoint_read(const struct profile_set *set, const char *profile,
                              const char *service, struct configured_endpoint_values *out);

/* The configured endpoint for `service` from the environment `env` (NULL: the process's) and
 * the profile's values `v` (may be NULL). Returns ECRUP_OK with *url set (borrowed from `env`
 * or `v`) and where it came from appended to `source` ("AWS_ENDPOINT_URL_STS", "services
 * \"local\" sts endpoint_url in profile \"dev\"", "endpoint_url in profile \"dev\""), or with
 * *url NULL when nothing is configured (or configured endpoints are ignored): the caller
 * computes the endpoint. ECRUP_E_CONFIG when the lookup reaches a `services` naming a section
 * the config file lacks (botocore's InvalidConfigError), with `message` (may be NULL) saying so;
 * ECRUP_E_NOMEM. */
ecrup_status configured_endpoint(const struct env_reader *env, const char *service,
                                 const struct configured_endpoint_values *v, const char **url,
                                 struct ebuf *source, struct ebuf *message);

#endif
