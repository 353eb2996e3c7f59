/* Region and endpoint resolution; endpoint URL parsing. See docs/endpoint.md. */
#include "signer/endpoint.h"

#include "signer/url.h"
#include "util/suggest.h"

#include <arpa/inet.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ---- The partition table ----------------------------------------------------------------
 * Copied from botocore's data/partitions.json (version 1.1, botocore 1.43), in its order:
 * botocore's aws.partition() takes the first partition that lists the region or matches its
 * regex, so the order matters. Every regex there has the shape ^PREFIX\-\w+\-\d+$ with PREFIX
 * an alternation; `prefixes` spells that alternation out and region_matches() does the rest.
 * tests/unit/endpoint/test_endpoint_botocore.py compares this table with the installed
 * botocore, so a new partition or region shows up as a test failure, not as a wrong URL. */

static const char *const aws_regions[] = {
    "af-south-1",     "ap-east-1",      "ap-east-2",      "ap-northeast-1",
    "ap-northeast-2", "ap-northeast-3", "ap-south-1",     "ap-south-2",
    "ap-southeast-1", "ap-southeast-2", "ap-southeast-3", "ap-southeast-4",
    "ap-southeast-5", "ap-southeast-6", "ap-southeast-7", "aws-global",
    "ca-central-1",   "ca-west-1",      "eu-central-1",   "eu-central-2",
    "eu-north-1",     "eu-south-1",     "eu-south-2",     "eu-west-1",
    "eu-west-2",      "eu-west-3",      "il-central-1",   "me-central-1",
    "me-south-1",     "mx-central-1",   "sa-east-1",      "us-east-1",
    "us-east-2",      "us-west-1",      "us-west-2",      NULL};
static const char *const aws_cn_regions[] = {"aws-cn-global", "cn-north-1", "cn-northwest-1", NULL};
static const char *const aws_eusc_regions[] = {"eusc-de-east-1", NULL};
static const char *const aws_iso_regions[] = {"aws-iso-global", "us-iso-east-1", "us-iso-west-1",
                                              NULL};
static const char *const aws_iso_b_regions[] = {"aws-iso-b-global", "us-isob-east-1",
                                                "us-isob-west-1", NULL};
static const char *const aws_iso_e_regions[] = {"aws-iso-e-global", "eu-isoe-west-1", NULL};
static const char *const aws_iso_f_regions[] = {"aws-iso-f-global", "us-isof-east-1",
                                                "us-isof-south-1", NULL};
static const char *const aws_us_gov_regions[] = {"aws-us-gov-global", "us-gov-east-1",
                                                 "us-gov-west-1", NULL};

static const char *const aws_prefixes[] = {"us", "eu", "ap", "sa", "ca",
                                           "me", "af", "il", "mx", NULL};
static const char *const aws_cn_prefixes[] = {"cn", NULL};
static const char *const aws_eusc_prefixes[] = {"eusc-de", NULL};
static const char *const aws_iso_prefixes[] = {"us-iso", NULL};
static const char *const aws_iso_b_prefixes[] = {"us-isob", NULL};
static const char *const aws_iso_e_prefixes[] = {"eu-isoe", NULL};
static const char *const aws_iso_f_prefixes[] = {"us-isof", NULL};
static const char *const aws_us_gov_prefixes[] = {"us-gov", NULL};

struct partition_row {
    struct endpoint_partition_info info;
    const char *const *prefixes;
};

/* ecr_named: the ECR ruleset (endpoint-rule-set-1.json) has explicit rules for all eight
 * partitions: api.ecr / ecr (dual-stack) / api.ecr-fips / ecr-fips (both), no support
 * checks. refuses_dualstack: botocore builds a client with its legacy endpoints.json first,
 * which has no dual-stack variant for aws-iso-e and aws-iso-f and raises
 * EndpointVariantError there (aws-iso and aws-iso-b it skips, so the ruleset's URL stands). */
static const struct partition_row partitions[] = {
    {{"aws", "^(us|eu|ap|sa|ca|me|af|il|mx)\\-\\w+\\-\\d+$", "amazonaws.com", "api.aws", true, true,
      aws_regions, true, false},
     aws_prefixes},
    {{"aws-cn", "^cn\\-\\w+\\-\\d+$", "amazonaws.com.cn", "api.amazonwebservices.com.cn", true,
      true, aws_cn_regions, true, false},
     aws_cn_prefixes},
    {{"aws-eusc", "^eusc\\-(de)\\-\\w+\\-\\d+$", "amazonaws.eu", "api.amazonwebservices.eu", true,
      true, aws_eusc_regions, true, false},
     aws_eusc_prefixes},
    {{"aws-iso", "^us\\-iso\\-\\w+\\-\\d+$", "c2s.ic.gov", "api.aws.ic.gov", true, true,
      aws_iso_regions, true, false},
     aws_iso_prefixes},
    {{"aws-iso-b", "^us\\-isob\\-\\w+\\-\\d+$", "sc2s.sgov.gov", "api.aws.scloud", true, true,
      aws_iso_b_regions, true, false},
     aws_iso_b_prefixes},
    {{"aws-iso-e", "^eu\\-isoe\\-\\w+\\-\\d+$", "cloud.adc-e.uk", "api.cloud-aws.adc-e.uk", true,
      true, aws_iso_e_regions, true, true},
     aws_iso_e_prefixes},
    {{"aws-iso-f", "^us\\-isof\\-\\w+\\-\\d+$", "csp.hci.ic.gov", "api.aws.hci.ic.gov", true, true,
      aws_iso_f_regions, true, true},
     aws_iso_f_prefixes},
    {{"aws-us-gov", "^us\\-gov\\-\\w+\\-\\d+$", "amazonaws.com", "api.aws", true, true,
      aws_us_gov_regions, true, false},
     aws_us_gov_prefixes},
};
#define N_PARTITIONS (sizeof partitions / sizeof partitions[0])

const struct endpoint_partition_info *endpoint_partition_at(size_t i)
{
    return i < N_PARTITIONS ? &partitions[i].info : NULL;
}

const struct endpoint_partition_info *endpoint_partition_named(const char *name)
{
    for (size_t i = 0; i < N_PARTITIONS; i++)
        if (strcmp(partitions[i].info.name, name) == 0)
            return &partitions[i].info;
    return &partitions[0].info;
}

const char *endpoint_partition_missing(const struct endpoint_partition_info *p, bool fips,
                                       bool dualstack)
{
    if (fips && dualstack && !(p->supports_fips && p->supports_dualstack))
        return "FIPS and dual-stack endpoints together";
    if (fips && !p->supports_fips)
        return "FIPS endpoints";
    if (dualstack && !p->supports_dualstack)
        return "dual-stack endpoints";
    return NULL;
}

/* Locale-independent character classes: regions and hosts are ASCII by rule. */
static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}
static bool is_alpha(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}
static bool is_alnum(char c)
{
    return is_alpha(c) || is_digit(c);
}
static bool is_hex(char c)
{
    return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}
static char to_lower(char c)
{
    return (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
}

/* The "\-\w+\-\d+$" tail every partition regex shares. \w cannot match '-', so the tail is
 * exactly one run of word characters, one hyphen, one run of digits. */
static bool tail_matches(const char *s)
{
    size_t w = 0;
    while (is_alnum(s[w]) || s[w] == '_')
        w++;
    if (w == 0 || s[w] != '-')
        return false;
    const char *d = s + w + 1;
    size_t n = 0;
    while (is_digit(d[n]))
        n++;
    return n > 0 && d[n] == '\0';
}

static bool regex_matches(const struct partition_row *row, const char *region)
{
    for (const char *const *p = row->prefixes; *p; p++) {
        size_t n = strlen(*p);
        if (strncmp(region, *p, n) == 0 && region[n] == '-' && tail_matches(region + n + 1))
            return true;
    }
    return false;
}

static bool region_matches(const struct partition_row *row, const char *region)
{
    for (const char *const *r = row->info.regions; *r; r++)
        if (strcmp(*r, region) == 0)
            return true;
    return regex_matches(row, region);
}

static const struct partition_row *partition_row_of(const char *region)
{
    for (size_t i = 0; i < N_PARTITIONS; i++)
        if (region_matches(&partitions[i], region))
            return &partitions[i];
    /* botocore falls back to the first partition for regions nobody claims. */
    return &partitions[0];
}

const char *endpoint_partition_of(const char *region)
{
    return partition_row_of(region ? region : "")->info.name;
}

bool endpoint_region_listed(const char *region)
{
    for (size_t i = 0; region && i < N_PARTITIONS; i++)
        for (const char *const *r = partitions[i].info.regions; *r; r++)
            if (strcmp(*r, region) == 0)
                return true;
    return false;
}

/* `label` is one of the dot-separated labels of `host`. */
static bool host_has_label(const char *host, const char *label)
{
    size_t n = strlen(label);
    for (const char *p = host; n && (p = strstr(p, label)) != NULL; p++)
        if ((p == host || p[-1] == '.') && (p[n] == '\0' || p[n] == '.'))
            return true;
    return false;
}

bool endpoint_unresolved_hint(const char *host, const char *region, struct ebuf *out)
{
    /* A valid name is letters, digits and hyphens: safe to quote as it is. */
    if (!host || !endpoint_region_valid(region) || endpoint_region_listed(region) ||
        !host_has_label(host, region))
        return false;
    struct suggest s;
    suggest_init(&s, region, strlen(region));
    for (size_t i = 0; i < N_PARTITIONS; i++)
        suggest_consider(&s, partitions[i].info.regions);
    ebuf_printf(out, "the region '%s' is not one AWS lists", region);
    if (suggest_result(&s))
        ebuf_printf(out, " (did you mean %s?)", suggest_result(&s));
    return true;
}

bool endpoint_region_valid(const char *region)
{
    /* botocore.utils.validate_region_name: ^(?![0-9]+$)(?!-)[a-zA-Z0-9-]{,63}(?<!-)$, and we
     * also refuse the empty name that regex lets through. */
    if (!region)
        return false;
    size_t n = 0;
    bool all_digits = true;
    for (; region[n]; n++) {
        if (!is_alnum(region[n]) && region[n] != '-')
            return false;
        if (!is_digit(region[n]))
            all_digits = false;
    }
    return n >= 1 && n <= 63 && !all_digits && region[0] != '-' && region[n - 1] != '-';
}

bool endpoint_parse_bool(const char *s)
{
    return s && strcasecmp(s, "true") == 0;
}

const char *endpoint_setting(const struct env_reader *env, const char *var,
                             const char *profile_value)
{
    const char *v = env_get(env, var);
    return v ? v : profile_value;
}

/* ---- Messages --------------------------------------------------------------------------- */

/* Quote a value from outside for a message: printable ASCII as is, the rest escaped, long
 * values cut, so a stray control character cannot garble a terminal or a log line. */
static void put_quoted_n(struct ebuf *m, const char *s, size_t len)
{
    if (!m)
        return;
    ebuf_putc(m, '"');
    size_t i = 0;
    for (; i < len && i < 200; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\')
            ebuf_printf(m, "\\%c", c);
        else if (c < 0x20 || c >= 0x7f)
            ebuf_printf(m, "\\x%02x", c);
        else
            ebuf_putc(m, (char)c);
    }
    if (i < len)
        ebuf_puts(m, "...");
    ebuf_putc(m, '"');
}

static void put_quoted(struct ebuf *m, const char *s)
{
    put_quoted_n(m, s, strlen(s));
}

/* A URL for a message with any user info replaced: "https://user:secret@h" may carry a
 * password, and secrets never reach output. */
static void put_url(struct ebuf *m, const char *url)
{
    struct url_parts u;
    if (url_split(url, &u) && u.userinfo) {
        struct ebuf tmp = EBUF_INIT;
        ebuf_append(&tmp, url, (size_t)(u.authority - url));
        ebuf_puts(&tmp, "***");
        ebuf_puts(&tmp, u.userinfo + u.userinfo_len); /* from the '@' on */
        put_quoted_n(m, ebuf_str(&tmp), tmp.len);
        ebuf_free(&tmp);
        return;
    }
    put_quoted(m, url);
}

static void msg_printf(struct ebuf *m, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void msg_printf(struct ebuf *m, const char *fmt, ...)
{
    if (!m)
        return;
    va_list ap;
    va_start(ap, fmt);
    ebuf_vprintf(m, fmt, ap);
    va_end(ap);
}

/* ---- Computed endpoints ----------------------------------------------------------------- */

ecrup_status endpoint_for_partition(const struct endpoint_partition_info *p, const char *region,
                                    bool fips, bool dualstack, struct ebuf *url,
                                    struct ebuf *message)
{
    const char *prefix, *suffix;
    if (p->ecr_named) {
        /* The ruleset's per-partition rules: no support checks. */
        prefix = fips ? (dualstack ? "ecr-fips" : "api.ecr-fips") : (dualstack ? "ecr" : "api.ecr");
    } else {
        /* The ruleset's generic branch, for partitions it does not name. */
        const char *missing = endpoint_partition_missing(p, fips, dualstack);
        if (missing) {
            msg_printf(message,
                       "partition %s (region %s) does not offer %s: unset "
                       "AWS_USE_FIPS_ENDPOINT / AWS_USE_DUALSTACK_ENDPOINT (or the profile's "
                       "use_fips_endpoint / use_dualstack_endpoint), or pass --endpoint-url",
                       p->name, region, missing);
            return ECRUP_E_ENDPOINT;
        }
        prefix = fips ? "api.ecr-fips" : "api.ecr";
    }
    suffix = dualstack ? p->dualstack_dns_suffix : p->dns_suffix;
    ebuf_printf(url, "https://%s.%s.%s", prefix, region, suffix);
    return ebuf_ok(url) ? ECRUP_OK : ECRUP_E_NOMEM;
}

ecrup_status endpoint_for_region(const char *region, bool fips, bool dualstack, struct ebuf *url,
                                 const char **partition, struct ebuf *message)
{
    const struct partition_row *row = partition_row_of(region);
    if (partition)
        *partition = row->info.name;
    /* botocore's legacy resolver matches by the regex (its data does not list the
     * "aws-iso-e-global" style names), so only regex-matched regions are refused. */
    if (dualstack && row->info.refuses_dualstack && regex_matches(row, region)) {
        msg_printf(message,
                   "dual-stack endpoints are not available in partition %s (region %s): unset "
                   "AWS_USE_DUALSTACK_ENDPOINT (or the profile's use_dualstack_endpoint), or "
                   "pass --endpoint-url",
                   row->info.name, region);
        return ECRUP_E_ENDPOINT;
    }
    return endpoint_for_partition(&row->info, region, fips, dualstack, url, message);
}

/* ---- URL parsing ------------------------------------------------------------------------ */

/* botocore.utils.is_valid_endpoint_url's host rule: dot-separated labels of 1-63 letters,
 * digits and hyphens, no label starting or ending with a hyphen, at most 255 characters, one
 * trailing dot allowed. IPv4 addresses pass the same rule. */
static bool host_name_valid(const char *h, size_t n)
{
    if (n == 0 || n > 255)
        return false;
    if (h[n - 1] == '.')
        n--;
    size_t label = 0;
    for (size_t i = 0; i <= n; i++) {
        if (i == n || h[i] == '.') {
            if (label == 0 || label > 63 || h[i - label] == '-' || h[i - 1] == '-')
                return false;
            label = 0;
        } else if (is_alnum(h[i]) || h[i] == '-') {
            label++;
        } else {
            return false;
        }
    }
    return true;
}

/* RFC 3986 pchar or '/': unreserved, sub-delims, ':', '@', and %XX escapes. */
static bool path_valid(const char *p, size_t n, size_t *bad)
{
    for (size_t i = 0; i < n; i++) {
        char c = p[i];
        if (is_alnum(c) || (c != '\0' && strchr("-._~!$&'()*+,;=:@/", c)))
            continue;
        if (c == '%' && i + 2 < n && is_hex(p[i + 1]) && is_hex(p[i + 2])) {
            i += 2;
            continue;
        }
        *bad = i;
        return false;
    }
    return true;
}

void endpoint_url_free(struct endpoint_url *u)
{
    if (!u)
        return;
    free(u->scheme);
    free(u->host);
    free(u->host_header);
    free(u->path);
    free(u->base_url);
    memset(u, 0, sizeof *u);
}

static char *dup_lower(const char *s, size_t n)
{
    char *d = malloc(n + 1);
    if (!d)
        return NULL;
    for (size_t i = 0; i < n; i++)
        d[i] = to_lower(s[i]);
    d[n] = '\0';
    return d;
}

static ecrup_status url_fail(struct ebuf *m, const char *url, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static ecrup_status url_fail(struct ebuf *m, const char *url, const char *fmt, ...)
{
    if (m) {
        ebuf_puts(m, "invalid endpoint URL ");
        put_url(m, url);
        ebuf_puts(m, ": ");
        va_list ap;
        va_start(ap, fmt);
        ebuf_vprintf(m, fmt, ap);
        va_end(ap);
    }
    return ECRUP_E_ENDPOINT;
}

ecrup_status endpoint_parse_url(const char *url, struct endpoint_url *out, struct ebuf *message)
{
    memset(out, 0, sizeof *out);
    if (!url || !*url) {
        msg_printf(message, "the endpoint URL is empty");
        return ECRUP_E_ENDPOINT;
    }
    for (size_t i = 0; url[i]; i++) {
        unsigned char c = (unsigned char)url[i];
        if (c <= 0x20 || c >= 0x7f)
            return url_fail(message, url,
                            "it contains a space, control or non-ASCII character at offset %zu", i);
    }

    struct url_parts u;
    /* A "://" after the first '/', '?' or '#' belongs to the path: no scheme then. */
    if (!url_split(url, &u) || strcspn(url, "/?#") < u.scheme_len)
        return url_fail(message, url,
                        "it has no scheme; write it as https://HOST[:PORT][/PATH] (or http://)");
    size_t scheme_len = u.scheme_len;
    bool https;
    if (scheme_len == 5 && strncasecmp(url, "https", 5) == 0)
        https = true;
    else if (scheme_len == 4 && strncasecmp(url, "http", 4) == 0)
        https = false;
    else
        return url_fail(message, url, "the scheme must be http or https");

    if (u.userinfo)
        return url_fail(message, url,
                        "user info (\"user:password@\") is not allowed; credentials come from "
                        "the credential providers");
    if (u.authority_len == 0)
        return url_fail(message, url, "it has no host");

    const char *host = u.host;
    size_t host_len = u.host_len;
    bool ipv6 = u.bracketed;
    if (ipv6) {
        if (u.problem == URL_HOST_UNCLOSED)
            return url_fail(message, url, "the IPv6 address has no closing ']'");
        host++;
        host_len -= 2;
        if (memchr(host, '%', host_len))
            return url_fail(message, url, "IPv6 zone identifiers (%%25...) are not supported");
        char tmp[INET6_ADDRSTRLEN + 1];
        struct in6_addr addr;
        if (host_len == 0 || host_len >= sizeof tmp)
            return url_fail(message, url, "the IPv6 address is malformed");
        memcpy(tmp, host, host_len);
        tmp[host_len] = '\0';
        if (inet_pton(AF_INET6, tmp, &addr) != 1)
            return url_fail(message, url, "the IPv6 address is malformed");
        if (u.problem == URL_HOST_TRAILING)
            return url_fail(message, url, "unexpected characters after the IPv6 address");
    } else {
        if (host_len == 0)
            return url_fail(message, url, "it has no host");
        if (memchr(host, '[', host_len) || memchr(host, ']', host_len))
            return url_fail(message, url, "an IPv6 address must be the whole host, in brackets");
        if (!host_name_valid(host, host_len))
            return url_fail(message, url,
                            "the host is not a valid name or address (letters, digits, hyphens "
                            "and dots; IPv6 in brackets)");
    }

    unsigned port = https ? 443 : 80;
    bool port_default = true;
    if (u.port) {
        if (u.port_len == 0)
            return url_fail(message, url, "the port after ':' is empty");
        if (!url_port_number(u.port, u.port_len, &port) || port == 0)
            return url_fail(message, url, "the port must be a number from 1 to 65535");
        port_default = port == (https ? 443u : 80u);
    }

    const char *path = u.rest;
    size_t path_len = strcspn(path, "?#");
    if (path[path_len] != '\0')
        return url_fail(message, url, "query strings and fragments are not supported");
    size_t bad = 0;
    if (!path_valid(path, path_len, &bad))
        return url_fail(message, url,
                        "the path has a character that must be percent-encoded at offset %zu",
                        (size_t)(path - url) + bad);

    out->scheme = dup_lower(url, scheme_len);
    out->host = dup_lower(host, host_len);
    out->path = path_len ? strndup(path, path_len) : strdup("/");
    out->port = port;
    out->port_default = port_default;
    out->ipv6 = ipv6;
    if (!out->scheme || !out->host || !out->path) {
        endpoint_url_free(out);
        return ECRUP_E_NOMEM;
    }
    struct ebuf b = EBUF_INIT;
    ebuf_printf(&b, ipv6 ? "[%s]" : "%s", out->host);
    if (!port_default)
        ebuf_printf(&b, ":%u", port);
    out->host_header = ebuf_take(&b);
    ebuf_printf(&b, "%s://%s%s", out->scheme, out->host_header ? out->host_header : "", out->path);
    out->base_url = ebuf_take(&b);
    if (!out->host_header || !out->base_url) {
        endpoint_url_free(out);
        return ECRUP_E_NOMEM;
    }
    return ECRUP_OK;
}

/* ---- Resolution ------------------------------------------------------------------------- */

void endpoint_resolution_free(struct endpoint_resolution *r)
{
    if (!r)
        return;
    free(r->region);
    free(r->region_source);
    free(r->url);
    free(r->endpoint_source);
    free(r->fips_source);
    free(r->dualstack_source);
    endpoint_url_free(&r->parsed);
    memset(r, 0, sizeof *r);
}

/* The raw environment value, or NULL. */
static const char *env_raw(const struct endpoint_inputs *in, const char *name)
{
    return env_get(in->env, name);
}

/* For values where botocore treats "" as unset (regions, endpoint URLs). */
static const char *nonempty(const char *s)
{
    return s && *s ? s : NULL;
}

static char *source_profile(const struct endpoint_inputs *in, const char *what)
{
    struct ebuf b = EBUF_INIT;
    ebuf_printf(&b, "profile %s", in->profile_name ? in->profile_name : "default");
    if (what)
        ebuf_printf(&b, " %s", what);
    return ebuf_take(&b);
}

/* Python's str.replace(old, ""): drop every non-overlapping occurrence, left to right. */
static void remove_all(char *s, const char *old)
{
    size_t n = strlen(old);
    char *r = s, *w = s;
    while (*r) {
        if (strncmp(r, old, n) == 0) {
            r += n;
            continue;
        }
        *w++ = *r++;
    }
    *w = '\0';
}

/* A yes/no setting: explicit value, then the environment variable (present, even empty,
 * decides, as botocore's chain does), then the profile. */
static bool resolve_flag(const struct endpoint_inputs *in, enum endpoint_flag explicit_value,
                         const char *env_name, const char *profile_value, const char *profile_key,
                         char **source)
{
    const char *v;
    if (explicit_value != ENDPOINT_FLAG_UNSET) {
        *source = strdup("option");
        return explicit_value == ENDPOINT_FLAG_ON;
    }
    if ((v = env_raw(in, env_name)) != NULL) {
        *source = strdup(env_name);
        return endpoint_parse_bool(v);
    }
    if (profile_value) {
        *source = source_profile(in, profile_key);
        return endpoint_parse_bool(profile_value);
    }
    *source = strdup("default");
    return false;
}

ecrup_status endpoint_resolve(const struct endpoint_inputs *in, struct endpoint_resolution *out,
                              struct ebuf *message)
{
    memset(out, 0, sizeof *out);
    ecrup_status st = ECRUP_OK;
    const char *region_label = in->region_label ? in->region_label : "--region";
    const char *endpoint_label = in->endpoint_label ? in->endpoint_label : "--endpoint-url";

    /* Region. */
    const char *raw = NULL, *v;
    if (in->region) {
        raw = in->region;
        out->region_source = strdup(region_label);
    } else if ((v = nonempty(env_raw(in, "AWS_REGION"))) != NULL) {
        raw = v;
        out->region_source = strdup("AWS_REGION");
    } else if ((v = nonempty(env_raw(in, "AWS_DEFAULT_REGION"))) != NULL) {
        raw = v;
        out->region_source = strdup("AWS_DEFAULT_REGION");
    } else if (nonempty(in->profile_region)) {
        raw = in->profile_region;
        out->region_source = source_profile(in, NULL);
    } else {
        msg_printf(message,
                   "no AWS region configured: pass --region REGION, set AWS_REGION (or "
                   "AWS_DEFAULT_REGION), or add \"region = REGION\" to profile %s in the "
                   "AWS config file (aws configure set region us-east-1)",
                   in->profile_name ? in->profile_name : "default");
        return ECRUP_E_NO_REGION;
    }
    if (!out->region_source)
        goto nomem;
    if (!endpoint_region_valid(raw)) {
        if (message) {
            ebuf_puts(message, "invalid region ");
            put_quoted(message, raw);
            ebuf_printf(message,
                        " from %s: a region name is 1-63 letters, digits and hyphens, such as "
                        "us-east-1",
                        out->region_source);
        }
        st = ECRUP_E_INVALID_ARGUMENT;
        goto fail;
    }
    /* botocore turns a FIPS pseudo-region ("fips-us-gov-west-1", "us-east-1-fips") into the
     * real region with FIPS forced on, over any other FIPS setting. */
    if (!(out->region = strdup(raw)))
        goto nomem;
    remove_all(out->region, "fips-");
    remove_all(out->region, "-fips");
    bool pseudo_fips = strcmp(out->region, raw) != 0;
    if (pseudo_fips && !endpoint_region_valid(out->region)) {
        if (message) {
            ebuf_puts(message, "invalid region ");
            put_quoted(message, raw);
            ebuf_printf(message, " from %s: without its \"fips\" parts no region name is left",
                        out->region_source);
        }
        st = ECRUP_E_INVALID_ARGUMENT;
        goto fail;
    }

    /* FIPS and dual-stack. */
    bool fips = resolve_flag(in, in->use_fips, "AWS_USE_FIPS_ENDPOINT",
                             in->profile_use_fips_endpoint, "use_fips_endpoint", &out->fips_source);
    bool dualstack = resolve_flag(in, in->use_dualstack, "AWS_USE_DUALSTACK_ENDPOINT",
                                  in->profile_use_dualstack_endpoint, "use_dualstack_endpoint",
                                  &out->dualstack_source);
    if (pseudo_fips) {
        fips = true;
        free(out->fips_source);
        struct ebuf b = EBUF_INIT;
        ebuf_printf(&b, "region name %s", raw);
        out->fips_source = ebuf_take(&b);
    }
    if (!out->fips_source || !out->dualstack_source)
        goto nomem;

    /* Endpoint. */
    const char *url = NULL;
    if (in->endpoint_url) {
        url = in->endpoint_url;
        out->endpoint_source = strdup(endpoint_label);
    } else {
        struct configured_endpoint_values cv = in->configured;
        if (!cv.profile)
            cv.profile = in->profile_name;
        struct ebuf src = EBUF_INIT;
        st = configured_endpoint(in->env, CONFIGURED_ENDPOINT_ECR, &cv, &url, &src, message);
        out->endpoint_source = url ? ebuf_take(&src) : NULL;
        ebuf_free(&src);
        if (st != ECRUP_OK)
            goto fail;
    }

    if (url) {
        if (!out->endpoint_source)
            goto nomem;
        /* A configured endpoint is used as given; botocore drops FIPS and dual-stack then.
         * Say so in the sources, so --verbose does not suggest they took effect. */
        if (fips || dualstack) {
            struct ebuf b = EBUF_INIT;
            char **srcs[2] = {&out->fips_source, &out->dualstack_source};
            bool on[2] = {fips, dualstack};
            for (int i = 0; i < 2; i++) {
                if (!on[i])
                    continue;
                ebuf_printf(&b, "%s (ignored: endpoint from %s)", *srcs[i], out->endpoint_source);
                free(*srcs[i]);
                *srcs[i] = ebuf_take(&b);
                if (!*srcs[i])
                    goto nomem;
            }
        }
        out->fips = out->dualstack = false;
        if (!(out->url = strdup(url)))
            goto nomem;
        struct ebuf why = EBUF_INIT;
        st = endpoint_parse_url(url, &out->parsed, &why);
        if (st != ECRUP_OK) {
            msg_printf(message, "%s (from %s)", ebuf_str(&why), out->endpoint_source);
            ebuf_free(&why);
            goto fail;
        }
        ebuf_free(&why);
        return ECRUP_OK;
    }

    struct ebuf b = EBUF_INIT;
    st = endpoint_for_region(out->region, fips, dualstack, &b, &out->partition, message);
    if (st != ECRUP_OK) {
        ebuf_free(&b);
        goto fail;
    }
    out->url = ebuf_take(&b);
    ebuf_printf(&b, "partition %s", out->partition);
    out->endpoint_source = ebuf_take(&b);
    if (!out->url || !out->endpoint_source)
        goto nomem;
    out->fips = fips;
    out->dualstack = dualstack;
    st = endpoint_parse_url(out->url, &out->parsed, message);
    if (st != ECRUP_OK)
        goto fail;
    return ECRUP_OK;

nomem:
    st = ECRUP_E_NOMEM;
    msg_printf(message, "out of memory resolving the endpoint");
fail:
    endpoint_resolution_free(out);
    return st;
}
