/* Resolve region and endpoint from the command line and the process environment, and print
 * the outcome as one JSON object, for test_endpoint_botocore.py to compare with botocore.
 *
 *   endpoint_tool [--region R] [--endpoint-url U] [--fips on|off] [--dualstack on|off]
 *                 [--profile-name N] [--profile-region R] [--profile-endpoint-url U]
 *                 [--profile-services-endpoint-url U] [--profile-use-fips V]
 *                 [--profile-use-dualstack V] [--profile-ignore-configured V]
 *   endpoint_tool --parse URL
 *   endpoint_tool --partitions
 * Exit 0 whenever it printed an outcome (errors included), 2 on bad usage. */
#include <ecrup.h>
#include <stdio.h>
#include <string.h>

#include "signer/endpoint.h"

static void put_json_string(const char *s)
{
    if (!s) {
        fputs("null", stdout);
        return;
    }
    putchar('"');
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\')
            printf("\\%c", *p);
        else if (*p < 0x20 || *p >= 0x7f)
            printf("\\u%04x", *p);
        else
            putchar(*p);
    }
    putchar('"');
}

static void field(const char *name, const char *value, int *first)
{
    printf("%s\"%s\":", *first ? "" : ",", name);
    put_json_string(value);
    *first = 0;
}

static void field_num(const char *name, long long value, int *first)
{
    printf("%s\"%s\":%lld", *first ? "" : ",", name, value);
    *first = 0;
}

static void field_bool(const char *name, bool value, int *first)
{
    printf("%s\"%s\":%s", *first ? "" : ",", name, value ? "true" : "false");
    *first = 0;
}

static void put_url(const struct endpoint_url *u, int *first)
{
    field("scheme", u->scheme, first);
    field("host", u->host, first);
    field_num("port", u->port, first);
    field_bool("port_default", u->port_default, first);
    field_bool("ipv6", u->ipv6, first);
    field("host_header", u->host_header, first);
    field("path", u->path, first);
    field("base_url", u->base_url, first);
}

static void put_error(ecrup_status st, const struct ebuf *msg)
{
    int first = 1;
    putchar('{');
    field("status", "error", &first);
    field_num("code", st, &first);
    field("message", ebuf_str(msg), &first);
    puts("}");
}

static int dump_partitions(void)
{
    putchar('[');
    for (size_t i = 0; endpoint_partition_at(i); i++) {
        const struct endpoint_partition_info *p = endpoint_partition_at(i);
        int first = 1;
        printf("%s{", i ? "," : "");
        field("name", p->name, &first);
        field("regionRegex", p->region_regex, &first);
        field("dnsSuffix", p->dns_suffix, &first);
        field("dualStackDnsSuffix", p->dualstack_dns_suffix, &first);
        field_bool("supportsFIPS", p->supports_fips, &first);
        field_bool("supportsDualStack", p->supports_dualstack, &first);
        field_bool("ecrNamed", p->ecr_named, &first);
        field_bool("refusesDualStack", p->refuses_dualstack, &first);
        fputs(",\"regions\":[", stdout);
        for (const char *const *r = p->regions; *r; r++) {
            if (r != p->regions)
                putchar(',');
            put_json_string(*r);
        }
        fputs("]}", stdout);
    }
    puts("]");
    return 0;
}

static int parse_only(const char *url)
{
    struct endpoint_url u;
    struct ebuf msg = EBUF_INIT;
    ecrup_status st = endpoint_parse_url(url, &u, &msg);
    if (st != ECRUP_OK) {
        put_error(st, &msg);
    } else {
        int first = 1;
        putchar('{');
        field("status", "ok", &first);
        put_url(&u, &first);
        puts("}");
        endpoint_url_free(&u);
    }
    ebuf_free(&msg);
    return 0;
}

static bool parse_flag(const char *s, enum endpoint_flag *out)
{
    if (strcmp(s, "on") == 0)
        *out = ENDPOINT_FLAG_ON;
    else if (strcmp(s, "off") == 0)
        *out = ENDPOINT_FLAG_OFF;
    else
        return false;
    return true;
}

int main(int argc, char **argv)
{
    struct endpoint_inputs in = {0};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--partitions") == 0)
            return dump_partitions();
        if (i + 1 >= argc) {
            fprintf(stderr, "endpoint_tool: %s needs a value\n", a);
            return 2;
        }
        const char *v = argv[++i];
        if (strcmp(a, "--parse") == 0)
            return parse_only(v);
        else if (strcmp(a, "--region") == 0)
            in.region = v;
        else if (strcmp(a, "--endpoint-url") == 0)
            in.endpoint_url = v;
        else if (strcmp(a, "--fips") == 0 && parse_flag(v, &in.use_fips))
            continue;
        else if (strcmp(a, "--dualstack") == 0 && parse_flag(v, &in.use_dualstack))
            continue;
        else if (strcmp(a, "--profile-name") == 0)
            in.profile_name = v;
        else if (strcmp(a, "--profile-region") == 0)
            in.profile_region = v;
        else if (strcmp(a, "--profile-endpoint-url") == 0)
            in.configured.endpoint_url = v;
        else if (strcmp(a, "--profile-services") == 0)
            in.configured.services = v;
        else if (strcmp(a, "--profile-services-found") == 0)
            in.configured.services_found = strcmp(v, "true") == 0;
        else if (strcmp(a, "--profile-services-endpoint-url") == 0)
            in.configured.services_endpoint_url = v;
        else if (strcmp(a, "--profile-use-fips") == 0)
            in.profile_use_fips_endpoint = v;
        else if (strcmp(a, "--profile-use-dualstack") == 0)
            in.profile_use_dualstack_endpoint = v;
        else if (strcmp(a, "--profile-ignore-configured") == 0)
            in.configured.ignore_configured_endpoint_urls = v;
        else {
            fprintf(stderr, "endpoint_tool: unknown argument %s\n", a);
            return 2;
        }
    }

    struct endpoint_resolution r;
    struct ebuf msg = EBUF_INIT;
    ecrup_status st = endpoint_resolve(&in, &r, &msg);
    if (st != ECRUP_OK) {
        put_error(st, &msg);
    } else {
        int first = 1;
        putchar('{');
        field("status", "ok", &first);
        field("region", r.region, &first);
        field("region_source", r.region_source, &first);
        field("url", r.url, &first);
        field("endpoint_source", r.endpoint_source, &first);
        field("partition", r.partition, &first);
        field_bool("fips", r.fips, &first);
        field_bool("dualstack", r.dualstack, &first);
        field("fips_source", r.fips_source, &first);
        field("dualstack_source", r.dualstack_source, &first);
        put_url(&r.parsed, &first);
        puts("}");
        endpoint_resolution_free(&r);
    }
    ebuf_free(&msg);
    return 0;
}
