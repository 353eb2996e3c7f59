/* `--repository` as people copy it from the ECR console or `docker push`:
 * 123456789012.dkr.ecr.us-west-2.amazonaws.com/team/app, the registry's host then the
 * repository name. The host gives the registry id and the region; FIPS
 * (dkr.ecr-fips.REGION), the China partition (.amazonaws.com.cn) and the dual-stack names
 * (dkr-ecr.REGION.on.aws, .api.aws) are the forms ECR documents.
 *
 * Thread safety: pure. */
#ifndef ECRUP_CLI_REPO_URI_H
#define ECRUP_CLI_REPO_URI_H

#include <stdbool.h>
#include <stddef.h>

/* What a repository URI names. Strings point into the caller's `value` (not terminated):
 * use the lengths. */
struct repo_uri {
    const char *account, *region, *name;
    size_t account_len, region_len, name_len;
};

enum repo_uri_kind {
    REPO_URI_NAME,     /* no host: a plain repository name */
    REPO_URI_REGISTRY, /* an ECR registry host and a name: `out` filled */
    REPO_URI_OTHER,    /* a host that is not an ECR registry's (docker.io/..., a typo): refuse */
};

/* Which of the three `value` is; `out` is filled for REPO_URI_REGISTRY. A first path segment
 * with a '.' or ':' is a host, as docker reads image references. */
enum repo_uri_kind repo_uri_parse(const char *value, struct repo_uri *out);

#endif
