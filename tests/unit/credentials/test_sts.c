/* The STS client's pure parts: the XML reply parser (good replies, ErrorResponse, malformed,
 * truncated, entities, huge values; every input placed against a guard page) and the endpoint
 * choice (regional, legacy, partitions, FIPS, dual-stack, overrides). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "signer/profile.h"
#include "signer/sts.h"
#include "test.h"

#define GOOD_WI                                                                                    \
    "<AssumeRoleWithWebIdentityResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\">\n"    \
    "  <AssumeRoleWithWebIdentityResult>\n"                                                        \
    "    <SubjectFromWebIdentityToken>sub</SubjectFromWebIdentityToken>\n"                         \
    "    <AssumedRoleUser><Arn>arn:aws:sts::1:assumed-role/r/s</Arn>"                              \
    "<AssumedRoleId>AROA:s</AssumedRoleId></AssumedRoleUser>\n"                                    \
    "    <Credentials>\n"                                                                          \
    "      <SessionToken>tok/en+1=</SessionToken>\n"                                               \
    "      <SecretAccessKey>sec&amp;ret</SecretAccessKey>\n"                                       \
    "      <Expiration>2026-12-07T08:00:00Z</Expiration>\n"                                        \
    "      <AccessKeyId>ASIAEXAMPLE</AccessKeyId>\n"                                               \
    "    </Credentials>\n"                                                                         \
    "  </AssumeRoleWithWebIdentityResult>\n"                                                       \
    "  <ResponseMetadata><RequestId>x</RequestId></ResponseMetadata>\n"                            \
    "</AssumeRoleWithWebIdentityResponse>\n"

static ecrup_status parse(const char *xml, size_t len, const char *action, struct sts_reply *r,
                          struct ebuf *err)
{
    void *g = test_guarded_copy(xml, len);
    ecrup_status st = sts_parse_reply(g, len, action, r, err);
    test_guarded_free(g, len);
    return st;
}

static ecrup_status parse_str(const char *xml, const char *action, struct sts_reply *r,
                              struct ebuf *err)
{
    return parse(xml, strlen(xml), action, r, err);
}

static void test_good(void)
{
    struct sts_reply r;
    struct ebuf err = EBUF_INIT;
    CHECK_EQ_INT(parse_str(GOOD_WI, "AssumeRoleWithWebIdentity", &r, &err), ECRUP_OK);
    CHECK(!r.error);
    CHECK_STR(r.access_key_id, "ASIAEXAMPLE");
    CHECK_STR(r.secret_access_key, "sec&ret"); /* a predefined entity, expanded */
    CHECK_STR(r.session_token, "tok/en+1=");
    CHECK_STR(r.expiration, "2026-12-07T08:00:00Z");
    sts_reply_free(&r);

    /* The same body is not an AssumeRole reply. */
    ebuf_reset(&err);
    CHECK_EQ_INT(parse_str(GOOD_WI, "AssumeRole", &r, &err), ECRUP_E_PROTOCOL);
    CHECK(strstr(ebuf_str(&err), "root element") != NULL);

    const char *ar = "<AssumeRoleResponse><AssumeRoleResult><Credentials>"
                     "<AccessKeyId>AK</AccessKeyId><SecretAccessKey>S</SecretAccessKey>"
                     "<SessionToken>T</SessionToken><Expiration>2030-01-01T00:00:00.000Z"
                     "</Expiration></Credentials></AssumeRoleResult></AssumeRoleResponse>";
    ebuf_reset(&err);
    CHECK_EQ_INT(parse_str(ar, "AssumeRole", &r, &err), ECRUP_OK);
    CHECK_STR(r.access_key_id, "AK");
    CHECK_STR(r.session_token, "T");
    sts_reply_free(&r);

    /* Credentials anywhere else do not count. */
    const char *elsewhere = "<AssumeRoleResponse><Other><Credentials><AccessKeyId>AK</AccessKeyId>"
                            "<SecretAccessKey>S</SecretAccessKey><Expiration>x</Expiration>"
                            "</Credentials></Other></AssumeRoleResponse>";
    ebuf_reset(&err);
    CHECK_EQ_INT(parse_str(elsewhere, "AssumeRole", &r, &err), ECRUP_E_PROTOCOL);
    CHECK(strstr(ebuf_str(&err), "lacks Credentials/AccessKeyId") != NULL);
    ebuf_free(&err);
}

static void test_error(void)
{
    struct sts_reply r;
    struct ebuf err = EBUF_INIT;
    const char *e = "<ErrorResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\"><Error>"
                    "<Type>Sender</Type><Code>AccessDenied</Code><Message>Not authorized &lt;x&gt;"
                    "</Message></Error><RequestId>r</RequestId></ErrorResponse>";
    CHECK_EQ_INT(parse_str(e, "AssumeRole", &r, &err), ECRUP_OK);
    CHECK(r.error);
    CHECK_STR(r.code, "AccessDenied");
    CHECK_STR(r.message, "Not authorized <x>");
    CHECK(r.access_key_id == NULL);
    sts_reply_free(&r);
    ebuf_reset(&err);
    CHECK_EQ_INT(parse_str("<ErrorResponse><Error><Message>m</Message></Error></ErrorResponse>",
                           "AssumeRole", &r, &err),
                 ECRUP_E_PROTOCOL);
    CHECK(strstr(ebuf_str(&err), "without Error/Code") != NULL);
    ebuf_free(&err);
}

static void test_malformed(void)
{
    static const char *const bad[] = {
        "",
        "not xml",
        "{\"AccessKeyId\": \"AK\"}",
        "<AssumeRoleWithWebIdentityResponse>",
        "<AssumeRoleWithWebIdentityResponse></AssumeRoleWithWebIdentityResult>",
        "<a/><b/>",
        /* markup inside a value */
        ("<AssumeRoleWithWebIdentityResponse><AssumeRoleWithWebIdentityResult><Credentials>"
         "<AccessKeyId><b>AK</b></AccessKeyId></Credentials></AssumeRoleWithWebIdentityResult>"
         "</AssumeRoleWithWebIdentityResponse>"),
        /* an entity definition: no DOCTYPE at all */
        ("<!DOCTYPE x [<!ENTITY a \"aaaaaaaaaa\"><!ENTITY b \"&a;&a;&a;&a;&a;&a;&a;&a;\">]>"
         "<AssumeRoleWithWebIdentityResponse>&b;</AssumeRoleWithWebIdentityResponse>"),
        /* an undefined entity */
        "<AssumeRoleWithWebIdentityResponse>&nope;</AssumeRoleWithWebIdentityResponse>",
        /* an external entity reference */
        "<!DOCTYPE x SYSTEM \"file:///etc/passwd\"><AssumeRoleWithWebIdentityResponse/>",
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        struct sts_reply r;
        struct ebuf err = EBUF_INIT;
        ecrup_status st = parse_str(bad[i], "AssumeRoleWithWebIdentity", &r, &err);
        CHECK_EQ_INT(st, ECRUP_E_PROTOCOL);
        CHECK(err.len > 0);
        CHECK(r.access_key_id == NULL && r.secret_access_key == NULL);
        if (st != ECRUP_E_PROTOCOL)
            fprintf(stderr, "  input %zu parsed\n", i);
        ebuf_free(&err);
    }
    /* Every truncation of a good reply is refused (the last complete one aside). */
    size_t n = strlen(GOOD_WI);
    for (size_t cut = 0; cut + 1 < n; cut++) {
        struct sts_reply r;
        struct ebuf err = EBUF_INIT;
        ecrup_status st = parse(GOOD_WI, cut, "AssumeRoleWithWebIdentity", &r, &err);
        if (cut < n - 1 - strlen("</AssumeRoleWithWebIdentityResponse>") + 1)
            CHECK_EQ_INT(st, ECRUP_E_PROTOCOL);
        sts_reply_free(&r);
        ebuf_free(&err);
    }
}

static void test_huge(void)
{
    /* A value past the bound is refused; one just under is kept whole. */
    for (int over = 0; over < 2; over++) {
        size_t vlen = over ? 16 * 1024 + 1 : 16 * 1024;
        struct ebuf x = EBUF_INIT;
        ebuf_puts(&x, "<AssumeRoleResponse><AssumeRoleResult><Credentials><AccessKeyId>AK"
                      "</AccessKeyId><SecretAccessKey>S</SecretAccessKey><SessionToken>");
        for (size_t i = 0; i < vlen; i++)
            ebuf_putc(&x, 'a');
        ebuf_puts(&x, "</SessionToken><Expiration>2030-01-01T00:00:00Z</Expiration></Credentials>"
                      "</AssumeRoleResult></AssumeRoleResponse>");
        struct sts_reply r;
        struct ebuf err = EBUF_INIT;
        ecrup_status st = parse(x.data, x.len, "AssumeRole", &r, &err);
        if (over) {
            CHECK_EQ_INT(st, ECRUP_E_PROTOCOL);
            CHECK(strstr(ebuf_str(&err), "too long") != NULL);
        } else {
            CHECK_EQ_INT(st, ECRUP_OK);
            CHECK(r.session_token && strlen(r.session_token) == vlen);
        }
        sts_reply_free(&r);
        ebuf_free(&err);
        ebuf_free(&x);
    }
}

static void expect_endpoint(const char *region, bool legacy, bool fips, bool dual, const char *url,
                            const char *signing)
{
    struct ebuf u = EBUF_INIT, m = EBUF_INIT;
    const char *sr = NULL;
    CHECK_EQ_INT(sts_endpoint_for(region, legacy, fips, dual, &u, &sr, &m), ECRUP_OK);
    CHECK_STR(ebuf_str(&u), url);
    CHECK_STR(sr, signing);
    ebuf_free(&u);
    ebuf_free(&m);
}

static void test_endpoints(void)
{
    /* What botocore 1.43's sts ruleset gives (tests/integ/sts checks the same against
     * botocore itself over a grid). */
    expect_endpoint(NULL, false, false, false, "https://sts.amazonaws.com", "us-east-1");
    expect_endpoint("aws-global", false, false, false, "https://sts.amazonaws.com", "us-east-1");
    expect_endpoint("us-east-1", false, false, false, "https://sts.us-east-1.amazonaws.com",
                    "us-east-1");
    expect_endpoint("eu-west-1", false, false, false, "https://sts.eu-west-1.amazonaws.com",
                    "eu-west-1");
    expect_endpoint("eu-west-1", true, false, false, "https://sts.amazonaws.com", "us-east-1");
    expect_endpoint("af-south-1", true, false, false, "https://sts.af-south-1.amazonaws.com",
                    "af-south-1");
    expect_endpoint("cn-north-1", false, false, false, "https://sts.cn-north-1.amazonaws.com.cn",
                    "cn-north-1");
    expect_endpoint("cn-north-1", true, false, false, "https://sts.cn-north-1.amazonaws.com.cn",
                    "cn-north-1");
    expect_endpoint("us-gov-west-1", true, false, false, "https://sts.us-gov-west-1.amazonaws.com",
                    "us-gov-west-1");
    expect_endpoint("us-gov-west-1", false, true, false, "https://sts.us-gov-west-1.amazonaws.com",
                    "us-gov-west-1");
    expect_endpoint("us-east-1", false, true, false, "https://sts-fips.us-east-1.amazonaws.com",
                    "us-east-1");
    expect_endpoint("us-east-1", true, true, false, "https://sts-fips.us-east-1.amazonaws.com",
                    "us-east-1");
    expect_endpoint("us-east-1", false, false, true, "https://sts.us-east-1.api.aws", "us-east-1");
    expect_endpoint("cn-north-1", false, true, false,
                    "https://sts-fips.cn-north-1.amazonaws.com.cn", "cn-north-1");
}

static void expect_resolve(const char *const *env, const struct sts_profile_values *pv,
                           ecrup_status want, const char *url, const char *region,
                           const char *source)
{
    struct env_reader r = {.get = test_env_pairs, .user = (void *)(uintptr_t)env};
    struct sts_target t;
    struct ebuf m = EBUF_INIT;
    CHECK_EQ_INT(sts_resolve(&r, pv, &t, &m), want);
    if (want == ECRUP_OK) {
        CHECK_STR(t.url, url);
        CHECK_STR(t.region, region);
        CHECK_STR(t.source, source);
    } else {
        CHECK(t.url == NULL && m.len > 0);
    }
    sts_target_free(&t);
    ebuf_free(&m);
}

static void test_resolve(void)
{
    const char *none[] = {NULL};
    expect_resolve(none, NULL, ECRUP_OK, "https://sts.amazonaws.com", "us-east-1",
                   "partition default");
    const char *reg[] = {"AWS_REGION", "eu-west-2", NULL};
    expect_resolve(reg, NULL, ECRUP_OK, "https://sts.eu-west-2.amazonaws.com", "eu-west-2",
                   "partition default");
    const char *legacy[] = {"AWS_DEFAULT_REGION", "eu-west-2", "AWS_STS_REGIONAL_ENDPOINTS",
                            "legacy", NULL};
    expect_resolve(legacy, NULL, ECRUP_OK, "https://sts.amazonaws.com", "us-east-1",
                   "partition default");
    struct sts_profile_values pv = {.region = "ap-south-1", .sts_regional_endpoints = "legacy"};
    expect_resolve(none, &pv, ECRUP_OK, "https://sts.amazonaws.com", "us-east-1",
                   "partition default");
    /* The environment's "regional" wins over the profile's "legacy". */
    const char *regional[] = {"AWS_STS_REGIONAL_ENDPOINTS", "regional", NULL};
    expect_resolve(regional, &pv, ECRUP_OK, "https://sts.ap-south-1.amazonaws.com", "ap-south-1",
                   "partition default");
    struct sts_profile_values fips = {.region = "us-west-2", .use_fips_endpoint = "true"};
    expect_resolve(none, &fips, ECRUP_OK, "https://sts-fips.us-west-2.amazonaws.com", "us-west-2",
                   "partition default");
    const char *ov[] = {"AWS_ENDPOINT_URL_STS",
                        "http://127.0.0.1:9",
                        "AWS_ENDPOINT_URL",
                        "http://127.0.0.1:8",
                        "AWS_REGION",
                        "eu-west-1",
                        NULL};
    expect_resolve(ov, &fips, ECRUP_OK, "http://127.0.0.1:9", "eu-west-1", "AWS_ENDPOINT_URL_STS");
    const char *ov2[] = {"AWS_ENDPOINT_URL", "http://127.0.0.1:8", NULL};
    expect_resolve(ov2, NULL, ECRUP_OK, "http://127.0.0.1:8", "us-east-1", "AWS_ENDPOINT_URL");
    struct sts_profile_values pe = {.endpoint = {.endpoint_url = "http://[::1]:7"}};
    expect_resolve(none, &pe, ECRUP_OK, "http://[::1]:7", "us-east-1",
                   "endpoint_url in profile \"default\"");
    const char *ign[] = {"AWS_ENDPOINT_URL_STS", "http://127.0.0.1:9",
                         "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", "true", NULL};
    expect_resolve(ign, NULL, ECRUP_OK, "https://sts.amazonaws.com", "us-east-1",
                   "partition default");
    const char *bad[] = {"AWS_ENDPOINT_URL_STS", "ftp://x", NULL};
    expect_resolve(bad, NULL, ECRUP_E_ENDPOINT, NULL, NULL, NULL);
    /* The CA bundle: the environment's, else the profile's. */
    {
        struct env_reader r = {.get = test_env_pairs, .user = (void *)(uintptr_t)none};
        struct sts_profile_values pc = {.ca_bundle = "/etc/p.pem"};
        struct sts_target t;
        struct ebuf m = EBUF_INIT;
        CHECK_EQ_INT(sts_resolve(&r, &pc, &t, &m), ECRUP_OK);
        CHECK_STR(t.ca_bundle, "/etc/p.pem");
        sts_target_free(&t);
        const char *ca[] = {"AWS_CA_BUNDLE", "/etc/e.pem", NULL};
        r.user = (void *)(uintptr_t)ca;
        CHECK_EQ_INT(sts_resolve(&r, &pc, &t, &m), ECRUP_OK);
        CHECK_STR(t.ca_bundle, "/etc/e.pem");
        sts_target_free(&t);
        CHECK_EQ_INT(sts_resolve(&r, NULL, &t, &m), ECRUP_OK);
        CHECK_STR(t.ca_bundle, "/etc/e.pem");
        sts_target_free(&t);
        r.user = (void *)(uintptr_t)none;
        CHECK_EQ_INT(sts_resolve(&r, NULL, &t, &m), ECRUP_OK);
        CHECK(t.ca_bundle == NULL);
        sts_target_free(&t);
        ebuf_free(&m);
    }
    const char *badreg[] = {"AWS_REGION", "no/such", NULL};
    expect_resolve(badreg, NULL, ECRUP_E_INVALID_ARGUMENT, NULL, NULL, NULL);
}

/* botocore's ConfiguredEndpointProvider order for sts: AWS_ENDPOINT_URL_STS, AWS_ENDPOINT_URL,
 * the profile's services section, the profile's endpoint_url. */
static void test_configured_order(void)
{
    struct sts_profile_values pv = {.name = "dev",
                                    .region = "eu-west-1",
                                    .endpoint = {.endpoint_url = "http://127.0.0.1:5",
                                                 .services = "local",
                                                 .services_found = true,
                                                 .services_endpoint_url = "http://127.0.0.1:4"}};
    const char *both[] = {"AWS_ENDPOINT_URL_STS", "http://127.0.0.1:2", "AWS_ENDPOINT_URL",
                          "http://127.0.0.1:3", NULL};
    expect_resolve(both, &pv, ECRUP_OK, "http://127.0.0.1:2", "eu-west-1", "AWS_ENDPOINT_URL_STS");
    const char *global[] = {"AWS_ENDPOINT_URL_STS", "", "AWS_ENDPOINT_URL", "http://127.0.0.1:3",
                            NULL};
    expect_resolve(global, &pv, ECRUP_OK, "http://127.0.0.1:3", "eu-west-1", "AWS_ENDPOINT_URL");
    const char *none[] = {NULL};
    expect_resolve(none, &pv, ECRUP_OK, "http://127.0.0.1:4", "eu-west-1",
                   "services \"local\" sts endpoint_url in profile \"dev\"");
    pv.endpoint.services_endpoint_url = NULL; /* the section has no sts block */
    expect_resolve(none, &pv, ECRUP_OK, "http://127.0.0.1:5", "eu-west-1",
                   "endpoint_url in profile \"dev\"");
    /* A services value naming no section fails, once the lookup gets that far. */
    pv.endpoint.services_found = false;
    expect_resolve(none, &pv, ECRUP_E_CONFIG, NULL, NULL, NULL);
    expect_resolve(global, &pv, ECRUP_OK, "http://127.0.0.1:3", "eu-west-1", "AWS_ENDPOINT_URL");
    /* Ignored, by the profile or the environment: the computed endpoint. */
    pv.endpoint.services_found = true;
    pv.endpoint.services_endpoint_url = "http://127.0.0.1:4";
    pv.endpoint.ignore_configured_endpoint_urls = "true";
    expect_resolve(both, &pv, ECRUP_OK, "https://sts.eu-west-1.amazonaws.com", "eu-west-1",
                   "partition default");
    const char *unignore[] = {"AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", "", NULL};
    expect_resolve(unignore, &pv, ECRUP_OK, "http://127.0.0.1:4", "eu-west-1",
                   "services \"local\" sts endpoint_url in profile \"dev\"");
}

static struct profile_set *parse_config(const char *config)
{
    struct ebuf err = EBUF_INIT;
    struct profile_set *set =
        profile_parse(config, strlen(config), "config", NULL, 0, "credentials", &err);
    CHECK(set != NULL);
    ebuf_free(&err);
    return set;
}

/* From the files: the profile's services section reaches the STS target, and the caller's
 * region (the CLI's --region) wins over the environment's and the profile's, as botocore's
 * session region_name does for its STS client. */
static void test_resolve_for(void)
{
    struct profile_set *set = parse_config("[profile dev]\n"
                                           "region = eu-west-1\n"
                                           "ca_bundle = /etc/profile.pem\n"
                                           "services = local\n"
                                           "endpoint_url = http://127.0.0.1:5\n"
                                           "[services local]\n"
                                           "ecr =\n"
                                           "  endpoint_url = http://127.0.0.1:6\n"
                                           "sts =\n"
                                           "  endpoint_url = http://127.0.0.1:4566\n"
                                           "[profile plain]\n"
                                           "region = eu-west-1\n"
                                           "[profile lost]\n"
                                           "services = nowhere\n");
    const char *none[] = {NULL};
    struct env_reader env = {.get = test_env_pairs, .user = (void *)(uintptr_t)none};
    struct cred_config cfg = {.env = &env};
    struct sts_target t;
    struct ebuf m = EBUF_INIT;
    CHECK_EQ_INT(sts_resolve_for(&cfg, set, "dev", &t, &m), ECRUP_OK);
    CHECK_STR(t.url, "http://127.0.0.1:4566");
    CHECK_STR(t.source, "services \"local\" sts endpoint_url in profile \"dev\"");
    CHECK_STR(t.region, "eu-west-1");
    CHECK_STR(t.ca_bundle, "/etc/profile.pem");
    sts_target_free(&t);

    const char *regions[] = {"AWS_REGION", "us-west-2", "AWS_CA_BUNDLE", "/etc/env.pem", NULL};
    env.user = (void *)(uintptr_t)regions;
    cfg.region = "ap-south-1";
    cfg.ca_bundle = "/etc/flag.pem";
    CHECK_EQ_INT(sts_resolve_for(&cfg, set, "dev", &t, &m), ECRUP_OK);
    CHECK_STR(t.region, "ap-south-1");
    CHECK_STR(t.ca_bundle, "/etc/flag.pem");
    sts_target_free(&t);
    CHECK_EQ_INT(sts_resolve_for(&cfg, set, "plain", &t, &m), ECRUP_OK);
    CHECK_STR(t.url, "https://sts.ap-south-1.amazonaws.com");
    CHECK_STR(t.region, "ap-south-1");
    CHECK_STR(t.source, "partition default");
    sts_target_free(&t);
    cfg.region = cfg.ca_bundle = NULL;
    CHECK_EQ_INT(sts_resolve_for(&cfg, set, "plain", &t, &m), ECRUP_OK);
    CHECK_STR(t.url, "https://sts.us-west-2.amazonaws.com");
    CHECK_STR(t.ca_bundle, "/etc/env.pem");
    sts_target_free(&t);

    CHECK_EQ_INT(sts_resolve_for(&cfg, set, "lost", &t, &m), ECRUP_E_CONFIG);
    CHECK(strstr(ebuf_str(&m), "services \"nowhere\"") != NULL);
    CHECK(t.url == NULL);
    cfg.region = "no/such";
    ebuf_reset(&m);
    CHECK_EQ_INT(sts_resolve_for(&cfg, set, "plain", &t, &m), ECRUP_E_INVALID_ARGUMENT);
    ebuf_free(&m);
    profile_set_free(set);
}

int main(void)
{
    test_good();
    test_error();
    test_malformed();
    test_huge();
    test_endpoints();
    test_resolve();
    test_configured_order();
    test_resolve_for();
    return test_finish("test_sts");
}
