#include "cli/cli.h"

#include "util/suggest.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char cli_common_help[] =
    "Common options:\n"
    "  --region R           AWS region, for ECR and for the credentials' STS calls (else\n"
    "                       AWS_REGION, AWS_DEFAULT_REGION, the profile)\n"
    "  --endpoint-url URL   ECR API endpoint (else AWS_ENDPOINT_URL_ECR, AWS_ENDPOINT_URL,\n"
    "                       the profile's services section, its endpoint_url, else\n"
    "                       https://api.ecr.REGION.amazonaws.com)\n"
    "  --profile P          profile in the shared AWS files (else AWS_PROFILE, else default)\n"
    "  --ca-bundle F        PEM file of CA certificates to trust, for ECR, STS and SSO\n"
    "                       (else AWS_CA_BUNDLE, the profile's ca_bundle)\n"
    "  --concurrency N      layers in flight (default: from cores and memory limit)\n"
    "  --memory-limit SIZE  memory for part buffers, e.g. 512M, 2G (default 512M)\n"
    "  --part-size SIZE     bytes per part, 5M..20M (default: what the service says; above\n"
    "                       the service's partSize it is lowered to it; -v says so)\n"
    "  --quiet              print errors only\n"
    "  -v, --verbose        one line per request; -vv for more (secrets are never printed)\n";

const char *const cli_common_options[] = {
    "--region",       "--endpoint-url", "--profile", "--ca-bundle", "--concurrency",
    "--memory-limit", "--part-size",    "--quiet",   "--verbose",   NULL,
};

void cli_unknown_option(const char *cmd, const char *arg, const char *const *own,
                        const char *const *shared)
{
    struct suggest s;
    suggest_init(&s, arg, strcspn(arg, "=")); /* "--regoin=x" is a misspelt --region */
    suggest_consider(&s, own);
    suggest_consider(&s, shared);
    suggest_consider(&s, cli_common_options);
    const char *near = suggest_result(&s);
    if (near)
        cli_error(cmd, "unknown option '%s'; did you mean '%s'? see 'ecrup %s --help'", arg, near,
                  cmd);
    else
        cli_error(cmd, "unknown option '%s'; see 'ecrup %s --help'", arg, cmd);
}

void cli_error(const char *cmd, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "ecrup%s%s: ", cmd ? " " : "", cmd ? cmd : "");
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

bool cli_parse_size(const char *s, uint64_t *out)
{
    if (!s || !isdigit((unsigned char)*s))
        return false;
    errno = 0;
    char *end;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno)
        return false;
    unsigned shift = 0;
    switch (toupper((unsigned char)*end)) {
    case '\0':
        break;
    case 'K':
        shift = 10;
        break;
    case 'M':
        shift = 20;
        break;
    case 'G':
        shift = 30;
        break;
    case 'T':
        shift = 40;
        break;
    default:
        return false;
    }
    if (*end) {
        end++;
        if (!strcmp(end, "iB") || !strcmp(end, "B") || !strcmp(end, "ib") || !strcmp(end, "b"))
            end += strlen(end);
    }
    if (*end)
        return false;
    if (shift && v > (UINT64_MAX >> shift))
        return false;
    *out = (uint64_t)v << shift;
    return true;
}

const char *cli_take_value(const char *cmd, int argc, char **argv, int *i)
{
    const char *opt = argv[*i];
    const char *eq = strchr(opt, '=');
    if (eq)
        return eq + 1;
    if (*i + 1 >= argc) {
        cli_error(cmd, "option %s needs a value", opt);
        return NULL;
    }
    return argv[++*i];
}

bool cli_opt_is(const char *arg, const char *name)
{
    size_t n = strlen(name);
    return !strncmp(arg, name, n) && (arg[n] == '\0' || arg[n] == '=');
}

int cli_common_option(struct cli_common *c, const char *cmd, int argc, char **argv, int *i)
{
    const char *a = argv[*i];
    const char **strs[] = {&c->region, &c->endpoint_url, &c->profile, &c->ca_bundle};
    const char *names[] = {"--region", "--endpoint-url", "--profile", "--ca-bundle"};
    for (size_t k = 0; k < sizeof names / sizeof names[0]; k++) {
        if (cli_opt_is(a, names[k])) {
            const char *v = cli_take_value(cmd, argc, argv, i);
            if (!v)
                return -1;
            if (!*v) {
                cli_error(cmd, "%s must not be empty", names[k]);
                return -1;
            }
            *strs[k] = v;
            return 1;
        }
    }
    if (cli_opt_is(a, "--memory-limit") || cli_opt_is(a, "--part-size")) {
        bool mem = cli_opt_is(a, "--memory-limit");
        const char *v = cli_take_value(cmd, argc, argv, i);
        if (!v)
            return -1;
        uint64_t n;
        if (!cli_parse_size(v, &n) || n == 0) {
            cli_error(cmd, "%s: '%s' is not a size (examples: 20971520, 10M, 2G)",
                      mem ? "--memory-limit" : "--part-size", v);
            return -1;
        }
        if (!mem && (n < (5u << 20) || n > (20u << 20))) {
            cli_error(cmd, "--part-size must be between 5M and 20M (ECR's limits), not '%s'", v);
            return -1;
        }
        *(mem ? &c->memory_limit : &c->part_size) = n;
        return 1;
    }
    if (cli_opt_is(a, "--concurrency")) {
        const char *v = cli_take_value(cmd, argc, argv, i);
        if (!v)
            return -1;
        char *end;
        errno = 0;
        unsigned long n = strtoul(v, &end, 10);
        if (errno || *end || !isdigit((unsigned char)*v) || n == 0 || n > 1024) {
            cli_error(cmd, "--concurrency must be a number from 1 to 1024, not '%s'", v);
            return -1;
        }
        c->concurrency = (unsigned)n;
        return 1;
    }
    if (!strcmp(a, "--quiet") || !strcmp(a, "-q")) {
        c->quiet = true;
        return 1;
    }
    if (!strcmp(a, "--verbose")) {
        c->verbose++;
        return 1;
    }
    if (a[0] == '-' && a[1] == 'v' && strspn(a + 1, "v") == strlen(a + 1)) {
        /* -v, -vv, -vvv: one level each */
        c->verbose += (int)strlen(a + 1);
        return 1;
    }
    return 0;
}
