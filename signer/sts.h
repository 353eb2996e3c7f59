/* The AWS Security Token Service client the credential providers use: AssumeRoleWithWebIdentity
 * (unsigned) and AssumeRole (signed with the source credentials, service "sts"), over the query
 * protocol (POST /, a form body, `Action=...&Version=2011-06-15`), with XML replies parsed by
 * libexpat (sts_xml.c).
 *
 * The endpoint is botocore's: regional `https://sts.REGION.DNS_SUFFIX` by default,
 * `https://sts.amazonaws.com` (signing region us-east-1) without a region or, with
 * AWS_STS_REGIONAL_ENDPOINTS=legacy, for the regions that had only the global endpoint; FIPS
 * (`sts-fips.`) and dual-stack as the partition offers; a configured endpoint overrides it
 * (configured_endpoint.h: AWS_ENDPOINT_URL_STS, AWS_ENDPOINT_URL, the profile's services
 * section, its endpoint_url). The region: the caller's (the CLI's --region), AWS_REGION,
 * AWS_DEFAULT_REGION, the profile's.
 *
 * Thread safety: every function is reentrant; the calls block on HTTP and run on the thread
 * walking the credential chain. */
#ifndef ECRUP_SIGNER_STS_H
#define ECRUP_SIGNER_STS_H

#include <stdbool.h>
#include <stddef.h>

#include <ecrup.h>

#include "signer/configured_endpoint.h"
#include "signer/credentials.h"
#include "signer/sigv4.h"
#include "util/buf.h"
#include "util/env.h"

/* Where to send STS calls. Owned strings; free with sts_target_free(). */
struct sts_target {
    char *url;       /* "https://sts.eu-west-1.amazonaws.com", or the configured endpoint */
    char *region;    /* the signing region ("us-east-1" for the global endpoint) */
    char *source;    /* where the endpoint came from, for messages: "AWS_ENDPOINT_URL_STS", ... */
    char *ca_bundle; /* AWS_CA_BUNDLE, else the profile's ca_bundle; NULL: libcurl's default */
};
void sts_target_free(struct sts_target *t);

/* The computed endpoint for `region` (NULL: none configured), botocore's STS ruleset: appends
 * the URL to `url` and sets *signing_region (static, or `region`). `legacy` is
 * AWS_STS_REGIONAL_ENDPOINTS=legacy. ECRUP_OK, ECRUP_E_ENDPOINT (the partition lacks the
 * variant; `message` says so), ECRUP_E_NOMEM. */
ecrup_status sts_endpoint_for(const char *region, bool legacy, bool fips, bool dualstack,
                              struct ebuf *url, const char **signing_region, struct ebuf *message);

/* Inputs of sts_resolve(): the profile's values, borrowed, NULL when unset. */
struct sts_profile_values {
    const char *name; /* for messages; NULL: "default" */
    const char *region;
    const char *sts_regional_endpoints;
    const char *use_fips_endpoint;
    const char *use_dualstack_endpoint;
    struct configured_endpoint_values endpoint; /* for CONFIGURED_ENDPOINT_STS */
    const char *ca_bundle;
    /* The caller's region and CA bundle (struct cred_config's), ahead of the environment and
     * the profile; sts_profile_values_read() leaves them NULL. */
    const char *client_region;
    const char *client_ca_bundle;
};

struct profile_set;
/* The values above as profile `profile` of `set` (may be NULL) holds them; borrowed from
 * `set`. */
void sts_profile_values_read(const struct profile_set *set, const char *profile,
                             struct sts_profile_values *out);

/* The STS target for the environment `env` (NULL: the process's) and the profile's values
 * (may be NULL). Environment first, as botocore reads each setting. On failure `t` is zeroed
 * and `message` names the offending source. */
ecrup_status sts_resolve(const struct env_reader *env, const struct sts_profile_values *profile,
                         struct sts_target *t, struct ebuf *message);

/* What a credential provider calls: sts_profile_values_read() of profile `profile`, with
 * `cfg`'s region and ca_bundle as the client's, then sts_resolve() with `cfg`'s environment. */
ecrup_status sts_resolve_for(const struct cred_config *cfg, const struct profile_set *set,
                             const char *profile, struct sts_target *t, struct ebuf *message);

/* A parsed STS reply. Owned strings; free with sts_reply_free() (which wipes the secrets). */
struct sts_reply {
    bool error;    /* an <ErrorResponse> */
    char *code;    /* Error/Code, when `error` */
    char *message; /* Error/Message, when `error` (may be NULL) */
    char *access_key_id, *secret_access_key, *session_token, *expiration; /* otherwise */
};
void sts_reply_free(struct sts_reply *r);

/* Parse the XML reply to `action` ("AssumeRole", "AssumeRoleWithWebIdentity"): an
 * <ACTIONResponse><ACTIONResult><Credentials> with AccessKeyId, SecretAccessKey, SessionToken
 * and Expiration, or an <ErrorResponse><Error> with Code and Message. A DOCTYPE (and so any
 * entity definition) is refused: STS never sends one. Returns ECRUP_OK with `out` filled, or
 * ECRUP_E_PROTOCOL with `err` saying what is wrong (never quoting a value); ECRUP_E_NOMEM. */
ecrup_status sts_parse_reply(const char *xml, size_t len, const char *action, struct sts_reply *out,
                             struct ebuf *err);

/* What the call needs besides the target. Every pointer is borrowed for the call. */
struct sts_call_options {
    long connect_ms, timeout_ms; /* per HTTP request */
    const char *provider;        /* the snapshot's provider name ("web-identity", ...) */
    int max_attempts;            /* throttling, 5xx and transport errors retried; 0: 3 */
    unsigned backoff_ms;         /* before the second attempt, doubled after; 0: 200 */
};

/* AssumeRoleWithWebIdentity, unsigned. `token_source` names where the token came from (a
 * file), for messages; the token itself never appears in one. `session_name` must be set.
 * Returns ECRUP_OK with *out (expiring credentials), or ECRUP_E_CREDENTIALS (STS refused:
 * the message names the role and the token source), ECRUP_E_PROTOCOL (an unreadable reply),
 * ECRUP_E_NETWORK / ECRUP_E_THROTTLED / ECRUP_E_SERVER after the retries, ECRUP_E_NOMEM,
 * ECRUP_E_UNSUPPORTED (libcurl). */
ecrup_status sts_assume_role_with_web_identity(const struct sts_target *t, const char *role_arn,
                                               const char *session_name, const char *token,
                                               const char *token_source,
                                               const struct sts_call_options *o,
                                               struct cred_snapshot **out, struct ebuf *err);

/* AssumeRole's parameters. Optional ones are NULL / 0 when not sent. */
struct sts_assume_role_params {
    const char *role_arn;
    const char *session_name;
    const char *external_id;
    int duration_seconds;
    const char *serial_number; /* mfa_serial, with token_code */
    const char *token_code;
    const struct sigv4_credentials *source; /* signs the call */
    const char *source_name;                /* for messages: "profile \"base\"", "Environment" */
};

/* AssumeRole, signed with p->source at the current time. Returns as the call above. */
ecrup_status sts_assume_role(const struct sts_target *t, const struct sts_assume_role_params *p,
                             const struct sts_call_options *o, struct cred_snapshot **out,
                             struct ebuf *err);

#endif
