/* Repository URIs; see repo_uri.h. */
#include "cli/repo_uri.h"

#include <string.h>

static bool all_digits(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (s[i] < '0' || s[i] > '9')
            return false;
    return n > 0;
}

/* A region as the partitions spell them: lower-case letters, digits and dashes. */
static bool region_like(const char *s, size_t n)
{
    if (n < 3)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '-'))
            return false;
    return true;
}

static bool ends_with(const char *s, size_t n, const char *suffix)
{
    size_t k = strlen(suffix);
    return n >= k && memcmp(s + n - k, suffix, k) == 0;
}

enum repo_uri_kind repo_uri_parse(const char *value, struct repo_uri *out)
{
    const char *slash = strchr(value, '/');
    if (!slash)
        return REPO_URI_NAME;
    size_t host_len = (size_t)(slash - value);
    if (!memchr(value, '.', host_len) && !memchr(value, ':', host_len))
        return REPO_URI_NAME; /* "team/app": a name with a namespace */
    const char *host = value;
    /* ACCOUNT.dkr.ecr[-fips].REGION.SUFFIX or ACCOUNT.dkr-ecr[-fips].REGION.on.aws */
    const char *dot = memchr(host, '.', host_len);
    if (!dot || !all_digits(host, (size_t)(dot - host)) || dot - host != 12)
        return REPO_URI_OTHER;
    const char *rest = dot + 1;
    size_t rest_len = host_len - (size_t)(rest - host);
    static const char *const services[] = {"dkr.ecr-fips.", "dkr.ecr.", "dkr-ecr-fips.",
                                           "dkr-ecr."};
    static const char *const suffixes[] = {".amazonaws.com.cn", ".amazonaws.com", ".on.aws",
                                           ".api.aws"};
    for (size_t i = 0; i < sizeof services / sizeof *services; i++) {
        size_t sl = strlen(services[i]);
        if (rest_len <= sl || memcmp(rest, services[i], sl) != 0)
            continue;
        const char *region = rest + sl;
        size_t region_len = rest_len - sl;
        for (size_t k = 0; k < sizeof suffixes / sizeof *suffixes; k++) {
            if (!ends_with(region, region_len, suffixes[k]))
                continue;
            size_t n = region_len - strlen(suffixes[k]);
            if (!region_like(region, n) || !slash[1])
                return REPO_URI_OTHER;
            *out = (struct repo_uri){.account = host,
                                     .account_len = 12,
                                     .region = region,
                                     .region_len = n,
                                     .name = slash + 1,
                                     .name_len = strlen(slash + 1)};
            return REPO_URI_REGISTRY;
        }
        return REPO_URI_OTHER;
    }
    return REPO_URI_OTHER;
}
