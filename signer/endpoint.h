/* Region and endpoint resolution for the ECR API, and endpoint URL parsing.
 *
 * Pure functions: every input (flags, environment, profile values) comes in through
 * struct endpoint_inputs, the environment through an injectable lookup, so the whole
 * precedence table is testable without touching the process. The computed endpoints encode
 * botocore's ECR endpoint ruleset (data/ecr/2015-09-21/endpoint-rule-set-1.json) and
 * partitions.json as a small table; tests/unit/endpoint checks them against botocore.
 *
 * Thread safety: every function is reentrant; nothing here keeps state. */
#ifndef ECRUP_SIGNER_ENDPOINT_H
#define ECRUP_SIGNER_ENDPOINT_H

#include <stdbool.h>
#include <stddef.h>

#include <ecrup.h>

#include "signer/configured_endpoint.h"
#include "util/buf.h"
#include "util/env.h"

/* A yes/no setting that may be left to the environment or profile. The zero value defers. */
enum endpoint_flag {
    ENDPOINT_FLAG_UNSET = 0, /* not given: AWS_USE_*_ENDPOINT, then the profile, decide */
    ENDPOINT_FLAG_OFF = 1,
    ENDPOINT_FLAG_ON = 2,
};

/* Everything resolution looks at. All pointers are borrowed for the duration of the call;
 * NULL (or "" for the environment and profile values) means "not set". */
struct endpoint_inputs {
    /* Explicit values (CLI flag or API option): they win over everything else. */
    const char *region;       /* --region */
    const char *endpoint_url; /* --endpoint-url */
    enum endpoint_flag use_fips;
    enum endpoint_flag use_dualstack;
    /* How `source` names the explicit values; NULL means "--region" / "--endpoint-url". */
    const char *region_label;
    const char *endpoint_label;

    /* Environment lookup; NULL means the process environment (getenv). Returned strings
     * must stay valid until endpoint_resolve() returns. */
    const struct env_reader *env;

    /* Values the profile module read from the shared config file (raw strings). */
    const char *profile_name;                   /* for messages and sources; NULL: "default" */
    const char *profile_region;                 /* region */
    const char *profile_use_fips_endpoint;      /* use_fips_endpoint */
    const char *profile_use_dualstack_endpoint; /* use_dualstack_endpoint */
    /* endpoint_url, services and ignore_configured_endpoint_urls, as configured_endpoint_read()
     * reads them for CONFIGURED_ENDPOINT_ECR; its `profile` NULL: profile_name. */
    struct configured_endpoint_values configured;
};

/* An endpoint URL taken apart. Every string is owned (free with endpoint_url_free). */
struct endpoint_url {
    char *scheme;      /* "http" or "https" (lowercase) */
    char *host;        /* lowercase; an IPv6 literal without brackets ("::1") */
    unsigned port;     /* the port to connect to: explicit, else 80 / 443 */
    bool port_default; /* port is the scheme's default (so the Host value omits it) */
    bool ipv6;         /* host is an IPv6 literal */
    char *host_header; /* Host value as sent and as SigV4 signs it: "[::1]:8443", "h.example" */
    char *path;        /* request path to POST to: the URL's path, "/" when it has none */
    char *base_url;    /* scheme://host_header + path: what the engine hands libcurl */
};

/* The outcome of endpoint_resolve(). Every string is owned; free with
 * endpoint_resolution_free(). The *_source strings say where each value came from, for
 * --verbose: "--region", "AWS_REGION", "AWS_DEFAULT_REGION", "profile default",
 * "AWS_ENDPOINT_URL_ECR", "partition aws", "default" ... */
struct endpoint_resolution {
    char *region; /* signing region (a FIPS pseudo-region like "us-east-1-fips" is normalised) */
    char *region_source;
    char *url; /* the endpoint as configured or computed, before parsing */
    char *endpoint_source;
    const char *partition; /* static partition name ("aws", "aws-cn", ...); NULL when the
                              endpoint was configured rather than computed */
    bool fips;             /* FIPS endpoint in use (always false for a configured endpoint) */
    bool dualstack;        /* dual-stack endpoint in use (likewise) */
    char *fips_source;     /* where `fips` came from ("default" when nothing set it) */
    char *dualstack_source;
    struct endpoint_url parsed; /* `url` taken apart */
};

/* Resolve region and endpoint. Precedence, first set wins:
 *   region:   in->region, AWS_REGION, AWS_DEFAULT_REGION, profile region.
 *   endpoint: in->endpoint_url, then configured_endpoint() for ecr (AWS_ENDPOINT_URL_ECR,
 *             AWS_ENDPOINT_URL, the profile's services section, its endpoint_url; none when
 *             configured endpoints are ignored), else computed from the region's partition
 *             with FIPS / dual-stack (in->use_*, AWS_USE_*_ENDPOINT, profile).
 *             A configured endpoint ignores FIPS and dual-stack, as botocore does.
 * Returns ECRUP_OK and fills *out (which the caller frees), or ECRUP_E_NO_REGION,
 * ECRUP_E_INVALID_ARGUMENT (malformed region), ECRUP_E_ENDPOINT (malformed URL, or a
 * partition without FIPS / dual-stack), ECRUP_E_CONFIG (the profile's `services` names a
 * missing section), ECRUP_E_NOMEM; then *out is left zeroed and
 * `message` (may be NULL) gets a sentence for the user naming the offending source. */
ecrup_status endpoint_resolve(const struct endpoint_inputs *in, struct endpoint_resolution *out,
                              struct ebuf *message);
void endpoint_resolution_free(struct endpoint_resolution *r);

/* botocore's valid region name: 1-63 letters, digits and hyphens, not starting or ending
 * with a hyphen, not all digits. */
bool endpoint_region_valid(const char *region);

/* The partition a region belongs to, as botocore's aws.partition() decides: the first
 * partition listing the region or matching its regex, else "aws". Never NULL (static). */
const char *endpoint_partition_of(const char *region);

/* True when some partition lists `region` by name ("eu-west-1"); a region only a partition's
 * regex matches ("eu-wst-1") is accepted for new regions' sake, but may be a typo. */
bool endpoint_region_listed(const char *region);

/* For a request to `host` whose name did not resolve: when `region` may be why, appends "the
 * region 'eu-wst-1' is not one AWS lists (did you mean eu-west-1?)" to `out` (the question only
 * when a listed region is close, util/suggest.h) and returns true; else appends nothing and
 * returns false. `region` may be why when no partition lists it and it is one of the host's
 * labels, as in every computed endpoint and in VPC endpoint names; a configured endpoint
 * elsewhere ("localstack") does not hang on the region. Either argument may be NULL. */
bool endpoint_unresolved_hint(const char *host, const char *region, struct ebuf *out);

/* The ECR endpoint URL ("https://api.ecr.us-east-1.amazonaws.com") for a valid region and
 * the FIPS / dual-stack choice, appended to `url`. `partition` (may be NULL) gets the static
 * partition name. Returns ECRUP_OK, or ECRUP_E_ENDPOINT with `message` when the partition
 * does not offer the variant. */
ecrup_status endpoint_for_region(const char *region, bool fips, bool dualstack, struct ebuf *url,
                                 const char **partition, struct ebuf *message);

/* Parse and validate an endpoint URL: http or https, a host name (letters, digits, hyphens,
 * dots), an IPv4 address or a bracketed IPv6 literal, an optional port 1-65535, an optional
 * path. No user info, query or fragment. Returns ECRUP_OK and fills *out (caller frees with
 * endpoint_url_free), or ECRUP_E_ENDPOINT with `message` (may be NULL) saying what is wrong;
 * ECRUP_E_NOMEM. On failure *out is left zeroed. */
ecrup_status endpoint_parse_url(const char *url, struct endpoint_url *out, struct ebuf *message);
void endpoint_url_free(struct endpoint_url *u);

/* botocore's ensure_boolean for strings: true exactly when `s` is "true" in any case; any
 * other value (NULL, "", "1", "yes") is false. */
bool endpoint_parse_bool(const char *s);

/* A setting botocore reads from the environment first: the variable `var` of `env` (NULL: the
 * process's) when set, even empty, else `profile_value` (may be NULL). */
const char *endpoint_setting(const struct env_reader *env, const char *var,
                             const char *profile_value);

/* One row of the partition table, for tools and tests that compare it with partitions.json. */
struct endpoint_partition_info {
    const char *name;
    const char *region_regex; /* the regex as partitions.json spells it */
    const char *dns_suffix;
    const char *dualstack_dns_suffix;
    bool supports_fips;
    bool supports_dualstack;
    const char *const *regions; /* the explicitly listed regions, NULL-terminated */
    bool ecr_named;             /* the ECR ruleset has rules naming this partition; others
                                   take its generic branch, which checks the supports_* */
    bool refuses_dualstack;     /* botocore refuses dual-stack for regions matching this
                                   partition's regex although the ruleset has a URL: its
                                   endpoints.json models no dual-stack variant there
                                   (aws-iso-e, aws-iso-f), so the names may not exist;
                                   endpoint_for_region() refuses too */
};
/* The i-th partition in botocore's order, or NULL past the end. */
const struct endpoint_partition_info *endpoint_partition_at(size_t i);

/* The table's partition named `name` (endpoint_partition_of()'s answer), else the first ("aws"),
 * as botocore's aws.partition() falls back. Never NULL. */
const struct endpoint_partition_info *endpoint_partition_named(const char *name);

/* What `p` lacks of the endpoint variants asked for, for a message ("FIPS endpoints",
 * "dual-stack endpoints", "FIPS and dual-stack endpoints together"), or NULL when it offers
 * them: one rule for ECR, STS and the sign-in service. */
const char *endpoint_partition_missing(const struct endpoint_partition_info *p, bool fips,
                                       bool dualstack);

/* endpoint_for_region() for a given partition (the table's, or one a test makes up). */
ecrup_status endpoint_for_partition(const struct endpoint_partition_info *p, const char *region,
                                    bool fips, bool dualstack, struct ebuf *url,
                                    struct ebuf *message);

#endif
