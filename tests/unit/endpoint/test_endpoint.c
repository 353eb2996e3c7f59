/* Region and endpoint resolution: precedence, validation, URL parsing, messages.
 * The computed endpoints themselves are compared with botocore in test_endpoint_botocore. */
#include <ecrup.h>

#include "signer/endpoint.h"
#include "test.h"

/* A fake environment: NULL-terminated name/value pairs. */
struct fake_env {
    const char *pairs[16][2];
    struct env_reader reader;
};

static const char *fake_getenv(void *user, const char *name)
{
    const struct fake_env *e = user;
    for (size_t i = 0; i < 16 && e->pairs[i][0]; i++)
        if (strcmp(e->pairs[i][0], name) == 0)
            return e->pairs[i][1];
    return NULL;
}

static struct endpoint_inputs inputs_with(struct fake_env *env)
{
    struct endpoint_inputs in = {0};
    env->reader.get = fake_getenv;
    env->reader.user = env;
    in.env = &env->reader;
    return in;
}

static bool contains(const char *hay, const char *needle)
{
    return hay && strstr(hay, needle) != NULL;
}

static void test_region_precedence(void)
{
    static const struct {
        const char *flag, *aws_region, *aws_default_region, *profile;
        const char *want, *want_source;
    } cases[] = {
        {"eu-west-1", "us-east-2", "us-west-1", "ap-south-1", "eu-west-1", "--region"},
        {NULL, "us-east-2", "us-west-1", "ap-south-1", "us-east-2", "AWS_REGION"},
        {NULL, NULL, "us-west-1", "ap-south-1", "us-west-1", "AWS_DEFAULT_REGION"},
        {NULL, "", "us-west-1", "ap-south-1", "us-west-1", "AWS_DEFAULT_REGION"},
        {NULL, NULL, NULL, "ap-south-1", "ap-south-1", "profile dev"},
        {NULL, "", "", "ap-south-1", "ap-south-1", "profile dev"},
        {"cn-north-1", NULL, NULL, NULL, "cn-north-1", "--region"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct fake_env env = {{{"AWS_REGION", cases[i].aws_region},
                                {cases[i].aws_default_region ? "AWS_DEFAULT_REGION" : "X",
                                 cases[i].aws_default_region}}};
        if (!cases[i].aws_region)
            env.pairs[0][0] = "Y";
        struct endpoint_inputs in = inputs_with(&env);
        in.region = cases[i].flag;
        in.profile_region = cases[i].profile;
        in.profile_name = "dev";
        struct endpoint_resolution r;
        struct ebuf msg = EBUF_INIT;
        ecrup_status st = endpoint_resolve(&in, &r, &msg);
        CHECK_EQ_INT(st, ECRUP_OK);
        if (st == ECRUP_OK) {
            CHECK_STR(r.region, cases[i].want);
            CHECK_STR(r.region_source, cases[i].want_source);
        }
        endpoint_resolution_free(&r);
        ebuf_free(&msg);
    }

    /* A caller-chosen label for the explicit value. */
    struct fake_env env = {{{NULL, NULL}}};
    struct endpoint_inputs in = inputs_with(&env);
    in.region = "us-west-2";
    in.region_label = "options.region";
    struct endpoint_resolution r;
    CHECK_EQ_INT(endpoint_resolve(&in, &r, NULL), ECRUP_OK);
    CHECK_STR(r.region_source, "options.region");
    CHECK_STR(r.endpoint_source, "partition aws");
    CHECK_STR(r.fips_source, "default");
    endpoint_resolution_free(&r);
}

static void test_no_region(void)
{
    struct fake_env env = {{{"AWS_REGION", ""}, {"AWS_PROFILE", "x"}}};
    struct endpoint_inputs in = inputs_with(&env);
    in.profile_name = "work";
    in.profile_region = "";
    struct endpoint_resolution r;
    struct ebuf msg = EBUF_INIT;
    CHECK_EQ_INT(endpoint_resolve(&in, &r, &msg), ECRUP_E_NO_REGION);
    CHECK(contains(ebuf_str(&msg), "--region"));
    CHECK(contains(ebuf_str(&msg), "AWS_REGION"));
    CHECK(contains(ebuf_str(&msg), "profile work"));
    CHECK(r.region == NULL && r.url == NULL && r.parsed.base_url == NULL);
    endpoint_resolution_free(&r);
    ebuf_free(&msg);

    /* No profile name: the message names the default profile. */
    in.profile_name = NULL;
    CHECK_EQ_INT(endpoint_resolve(&in, &r, &msg), ECRUP_E_NO_REGION);
    CHECK(contains(ebuf_str(&msg), "profile default"));
    ebuf_free(&msg);
}

static void test_region_validation(void)
{
    static const char *const good[] = {
        "us-east-1",    "a",
        "US-EAST-1",    "1a",
        "eu-central-9", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"};
    static const char *const bad[] = {
        "",
        "us_east_1",
        "-us",
        "us-",
        "123",
        "us east 1",
        "us-east-1\n",
        "us.east.1",
        "ü-east-1",
        "us-east-1/x",
        "-",
        "fips-",
        "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"};
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++)
        CHECK(endpoint_region_valid(good[i]));
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        CHECK(!endpoint_region_valid(bad[i]));
    CHECK(!endpoint_region_valid(NULL));

    /* Through resolve: the message quotes the value (escaped) and names its source. */
    struct fake_env env = {{{"AWS_DEFAULT_REGION", "us east\x01"}}};
    struct endpoint_inputs in = inputs_with(&env);
    struct endpoint_resolution r;
    struct ebuf msg = EBUF_INIT;
    CHECK_EQ_INT(endpoint_resolve(&in, &r, &msg), ECRUP_E_INVALID_ARGUMENT);
    CHECK(contains(ebuf_str(&msg), "\"us east\\x01\""));
    CHECK(contains(ebuf_str(&msg), "AWS_DEFAULT_REGION"));
    CHECK(contains(ebuf_str(&msg), "us-east-1"));
    ebuf_free(&msg);

    /* An explicit empty region is an error, not a fall-through. */
    in.region = "";
    CHECK_EQ_INT(endpoint_resolve(&in, &r, &msg), ECRUP_E_INVALID_ARGUMENT);
    CHECK(contains(ebuf_str(&msg), "--region"));
    ebuf_free(&msg);

    /* Nothing is left of a region that is all "fips". */
    in.region = "fips-123";
    CHECK_EQ_INT(endpoint_resolve(&in, &r, &msg), ECRUP_E_INVALID_ARGUMENT);
    CHECK(contains(ebuf_str(&msg), "fips"));
    ebuf_free(&msg);
}

static void test_partitions(void)
{
    static const struct {
        const char *region, *partition;
    } cases[] = {
        {"us-east-1", "aws"},
        {"eu-central-9", "aws"},
        {"mx-central-1", "aws"},
        {"aws-global", "aws"},
        {"cn-north-1", "aws-cn"},
        {"cn-south-7", "aws-cn"},
        {"aws-cn-global", "aws-cn"},
        {"us-gov-west-1", "aws-us-gov"},
        {"us-gov-north-3", "aws-us-gov"},
        {"aws-us-gov-global", "aws-us-gov"},
        {"us-iso-east-1", "aws-iso"},
        {"us-isob-east-1", "aws-iso-b"},
        {"eu-isoe-west-1", "aws-iso-e"},
        {"us-isof-south-1", "aws-iso-f"},
        {"eusc-de-east-1", "aws-eusc"},
        {"eusc-fr-east-1", "aws"},
        {"xx-foo-1", "aws"},
        {"mars", "aws"},
        {"us-east", "aws"},
        {"us-east-1a", "aws"},
        {"US-GOV-WEST-1", "aws"},
        {"cn-north-1-2", "aws"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char *got = endpoint_partition_of(cases[i].region);
        if (strcmp(got, cases[i].partition) != 0)
            fprintf(stderr, "partition of %s: %s\n", cases[i].region, got);
        CHECK_STR(got, cases[i].partition);
    }
    size_t n = 0;
    while (endpoint_partition_at(n))
        n++;
    CHECK_EQ_INT(n, 8);
    CHECK_STR(endpoint_partition_at(0)->name, "aws");
}

static void test_computed_urls(void)
{
    static const struct {
        const char *region;
        bool fips, dualstack;
        const char *url;
    } cases[] = {
        {"us-east-1", false, false, "https://api.ecr.us-east-1.amazonaws.com"},
        {"us-east-1", true, false, "https://api.ecr-fips.us-east-1.amazonaws.com"},
        {"us-east-1", false, true, "https://ecr.us-east-1.api.aws"},
        {"us-east-1", true, true, "https://ecr-fips.us-east-1.api.aws"},
        {"cn-north-1", false, false, "https://api.ecr.cn-north-1.amazonaws.com.cn"},
        {"cn-north-1", false, true, "https://ecr.cn-north-1.api.amazonwebservices.com.cn"},
        {"us-gov-west-1", true, false, "https://api.ecr-fips.us-gov-west-1.amazonaws.com"},
        {"us-iso-east-1", false, false, "https://api.ecr.us-iso-east-1.c2s.ic.gov"},
        {"us-isob-east-1", true, true, "https://ecr-fips.us-isob-east-1.api.aws.scloud"},
    };
    /* Where botocore refuses dual-stack, so does ecrup, with a message saying what to do. */
    static const char *const no_dualstack[] = {"us-isof-south-1", "eu-isoe-west-1",
                                               "us-isof-north-5"};
    for (size_t i = 0; i < sizeof no_dualstack / sizeof no_dualstack[0]; i++) {
        for (int fips = 0; fips < 2; fips++) {
            struct ebuf url = EBUF_INIT, msg = EBUF_INIT;
            CHECK_EQ_INT(endpoint_for_region(no_dualstack[i], fips, true, &url, NULL, &msg),
                         ECRUP_E_ENDPOINT);
            CHECK(contains(ebuf_str(&msg), "dual-stack"));
            CHECK(contains(ebuf_str(&msg), no_dualstack[i]));
            CHECK(contains(ebuf_str(&msg), "AWS_USE_DUALSTACK_ENDPOINT"));
            CHECK_EQ_INT(url.len, 0);
            CHECK_EQ_INT(endpoint_for_region(no_dualstack[i], fips, false, &url, NULL, &msg),
                         ECRUP_OK);
            ebuf_free(&url);
            ebuf_free(&msg);
        }
    }
    /* botocore's legacy data matches by the regex only: the listed "-global" names pass. */
    struct ebuf gurl = EBUF_INIT;
    CHECK_EQ_INT(endpoint_for_region("aws-iso-f-global", true, true, &gurl, NULL, NULL), ECRUP_OK);
    CHECK_STR(ebuf_str(&gurl), "https://ecr-fips.aws-iso-f-global.api.aws.hci.ic.gov");
    ebuf_free(&gurl);
    /* And through resolve, with the environment asking for it. */
    struct fake_env env = {{{"AWS_USE_DUALSTACK_ENDPOINT", "true"}}};
    struct endpoint_inputs in = inputs_with(&env);
    in.region = "us-isof-east-1";
    struct endpoint_resolution r;
    struct ebuf msg = EBUF_INIT;
    CHECK_EQ_INT(endpoint_resolve(&in, &r, &msg), ECRUP_E_ENDPOINT);
    CHECK(contains(ebuf_str(&msg), "aws-iso-f"));
    CHECK(r.url == NULL && r.region == NULL);
    ebuf_free(&msg);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct ebuf url = EBUF_INIT;
        const char *part = NULL;
        CHECK_EQ_INT(endpoint_for_region(cases[i].region, cases[i].fips, cases[i].dualstack, &url,
                                         &part, NULL),
                     ECRUP_OK);
        CHECK_STR(ebuf_str(&url), cases[i].url);
        CHECK(part != NULL);
        ebuf_free(&url);
    }
}

/* The ruleset's generic branch: a partition it does not name gets support checks. */
static void test_generic_partition(void)
{
    static const char *const none[] = {NULL};
    struct endpoint_partition_info p = {
        "aws-test", "^zz\\-\\w+\\-\\d+$", "example.test", "api.example.test", false, true, none,
        false};
    struct ebuf url = EBUF_INIT, msg = EBUF_INIT;
    CHECK_EQ_INT(endpoint_for_partition(&p, "zz-a-1", false, false, &url, &msg), ECRUP_OK);
    CHECK_STR(ebuf_str(&url), "https://api.ecr.zz-a-1.example.test");
    ebuf_reset(&url);
    CHECK_EQ_INT(endpoint_for_partition(&p, "zz-a-1", false, true, &url, &msg), ECRUP_OK);
    CHECK_STR(ebuf_str(&url), "https://api.ecr.zz-a-1.api.example.test");
    ebuf_reset(&url);
    CHECK_EQ_INT(endpoint_for_partition(&p, "zz-a-1", true, false, &url, &msg), ECRUP_E_ENDPOINT);
    CHECK(contains(ebuf_str(&msg), "aws-test"));
    CHECK(contains(ebuf_str(&msg), "FIPS endpoints"));
    CHECK(contains(ebuf_str(&msg), "AWS_USE_FIPS_ENDPOINT"));
    CHECK_EQ_INT(url.len, 0);
    ebuf_reset(&msg);
    CHECK_EQ_INT(endpoint_for_partition(&p, "zz-a-1", true, true, &url, &msg), ECRUP_E_ENDPOINT);
    CHECK(contains(ebuf_str(&msg), "FIPS and dual-stack"));
    ebuf_reset(&msg);
    p.supports_fips = true;
    CHECK_EQ_INT(endpoint_for_partition(&p, "zz-a-1", true, true, &url, &msg), ECRUP_OK);
    CHECK_STR(ebuf_str(&url), "https://api.ecr-fips.zz-a-1.api.example.test");
    ebuf_reset(&url);
    p.supports_dualstack = false;
    CHECK_EQ_INT(endpoint_for_partition(&p, "zz-a-1", false, true, &url, &msg), ECRUP_E_ENDPOINT);
    CHECK(contains(ebuf_str(&msg), "dual-stack endpoints"));
    ebuf_free(&url);
    ebuf_free(&msg);
}

static void test_bool(void)
{
    CHECK(endpoint_parse_bool("true"));
    CHECK(endpoint_parse_bool("TRUE"));
    CHECK(endpoint_parse_bool("True"));
    CHECK(!endpoint_parse_bool("false"));
    CHECK(!endpoint_parse_bool(""));
    CHECK(!endpoint_parse_bool(NULL));
    CHECK(!endpoint_parse_bool("1"));
    CHECK(!endpoint_parse_bool("yes"));
    CHECK(!endpoint_parse_bool(" true"));
    CHECK(!endpoint_parse_bool("truex"));
}

static void test_variant_precedence(void)
{
    static const struct {
        enum endpoint_flag fips_flag;
        const char *fips_env, *fips_profile;
        enum endpoint_flag ds_flag;
        const char *ds_env, *ds_profile;
        const char *region;
        bool want_fips, want_ds;
        const char *want_fips_source, *want_url;
    } cases[] = {
        {ENDPOINT_FLAG_UNSET, NULL, NULL, ENDPOINT_FLAG_UNSET, NULL, NULL, "us-east-1", false,
         false, "default", "https://api.ecr.us-east-1.amazonaws.com"},
        {ENDPOINT_FLAG_ON, "false", "false", ENDPOINT_FLAG_UNSET, NULL, NULL, "us-east-1", true,
         false, "option", "https://api.ecr-fips.us-east-1.amazonaws.com"},
        {ENDPOINT_FLAG_OFF, "true", "true", ENDPOINT_FLAG_UNSET, "TRUE", NULL, "us-east-1", false,
         true, "option", "https://ecr.us-east-1.api.aws"},
        {ENDPOINT_FLAG_UNSET, "True", "false", ENDPOINT_FLAG_UNSET, NULL, "true", "eu-west-3", true,
         true, "AWS_USE_FIPS_ENDPOINT", "https://ecr-fips.eu-west-3.api.aws"},
        {ENDPOINT_FLAG_UNSET, "yes", "true", ENDPOINT_FLAG_UNSET, NULL, NULL, "eu-west-3", false,
         false, "AWS_USE_FIPS_ENDPOINT", "https://api.ecr.eu-west-3.amazonaws.com"},
        /* Set but empty still decides, as in botocore's chain. */
        {ENDPOINT_FLAG_UNSET, "", "true", ENDPOINT_FLAG_UNSET, NULL, NULL, "eu-west-3", false,
         false, "AWS_USE_FIPS_ENDPOINT", "https://api.ecr.eu-west-3.amazonaws.com"},
        {ENDPOINT_FLAG_UNSET, NULL, "TRUE", ENDPOINT_FLAG_UNSET, NULL, "false", "cn-north-1", true,
         false, "profile default use_fips_endpoint",
         "https://api.ecr-fips.cn-north-1.amazonaws.com.cn"},
        /* A FIPS pseudo-region forces FIPS over an explicit "off". */
        {ENDPOINT_FLAG_OFF, NULL, NULL, ENDPOINT_FLAG_UNSET, NULL, NULL, "us-east-1-fips", true,
         false, "region name us-east-1-fips", "https://api.ecr-fips.us-east-1.amazonaws.com"},
        {ENDPOINT_FLAG_UNSET, NULL, NULL, ENDPOINT_FLAG_ON, NULL, NULL, "fips-us-gov-west-1", true,
         true, "region name fips-us-gov-west-1", "https://ecr-fips.us-gov-west-1.api.aws"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct fake_env env = {{{"AWS_USE_FIPS_ENDPOINT", cases[i].fips_env},
                                {"AWS_USE_DUALSTACK_ENDPOINT", cases[i].ds_env}}};
        if (!cases[i].fips_env)
            env.pairs[0][0] = "UNSET1";
        if (!cases[i].ds_env)
            env.pairs[1][0] = "UNSET2";
        struct endpoint_inputs in = inputs_with(&env);
        in.region = cases[i].region;
        in.use_fips = cases[i].fips_flag;
        in.use_dualstack = cases[i].ds_flag;
        in.profile_use_fips_endpoint = cases[i].fips_profile;
        in.profile_use_dualstack_endpoint = cases[i].ds_profile;
        struct endpoint_resolution r;
        struct ebuf msg = EBUF_INIT;
        ecrup_status st = endpoint_resolve(&in, &r, &msg);
        CHECK_EQ_INT(st, ECRUP_OK);
        if (st == ECRUP_OK) {
            CHECK_EQ_INT(r.fips, cases[i].want_fips);
            CHECK_EQ_INT(r.dualstack, cases[i].want_ds);
            CHECK_STR(r.fips_source, cases[i].want_fips_source);
            CHECK_STR(r.url, cases[i].want_url);
            CHECK(r.partition != NULL);
            CHECK(!contains(r.region, "fips"));
        } else {
            fprintf(stderr, "case %zu: %s\n", i, ebuf_str(&msg));
        }
        endpoint_resolution_free(&r);
        ebuf_free(&msg);
    }
}

static void test_endpoint_precedence(void)
{
    static const struct {
        const char *flag, *env_ecr, *env_global, *services, *profile, *ignore_env, *ignore_profile;
        const char *want_url, *want_source;
    } cases[] = {
        {"http://flag:1", "http://ecr:2", "http://global:3", "http://svc:4", "http://prof:5", NULL,
         NULL, "http://flag:1", "--endpoint-url"},
        {NULL, "http://ecr:2", "http://global:3", "http://svc:4", "http://prof:5", NULL, NULL,
         "http://ecr:2", "AWS_ENDPOINT_URL_ECR"},
        {NULL, "", "http://global:3", "http://svc:4", "http://prof:5", NULL, NULL,
         "http://global:3", "AWS_ENDPOINT_URL"},
        {NULL, NULL, "", "http://svc:4", "http://prof:5", NULL, NULL, "http://svc:4",
         "services \"local\" ecr endpoint_url in profile \"ci\""},
        {NULL, NULL, NULL, NULL, "http://prof:5", NULL, NULL, "http://prof:5",
         "endpoint_url in profile \"ci\""},
        {NULL, NULL, NULL, NULL, NULL, NULL, NULL, "https://api.ecr.us-west-2.amazonaws.com",
         "partition aws"},
        /* Ignoring configured endpoints keeps the explicit one only. */
        {NULL, "http://ecr:2", "http://global:3", "http://svc:4", "http://prof:5", "true", NULL,
         "https://api.ecr.us-west-2.amazonaws.com", "partition aws"},
        {"http://flag:1", "http://ecr:2", NULL, NULL, NULL, "TRUE", NULL, "http://flag:1",
         "--endpoint-url"},
        {NULL, "http://ecr:2", NULL, NULL, "http://prof:5", NULL, "true",
         "https://api.ecr.us-west-2.amazonaws.com", "partition aws"},
        /* The environment's "false" wins over the profile's "true". */
        {NULL, NULL, NULL, NULL, "http://prof:5", "false", "true", "http://prof:5",
         "endpoint_url in profile \"ci\""},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct fake_env env = {{{"AWS_ENDPOINT_URL_ECR", cases[i].env_ecr},
                                {"AWS_ENDPOINT_URL", cases[i].env_global},
                                {"AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", cases[i].ignore_env},
                                {"AWS_REGION", "us-west-2"}}};
        for (int k = 0; k < 3; k++)
            if (!env.pairs[k][1])
                env.pairs[k][0] = "UNSET";
        struct endpoint_inputs in = inputs_with(&env);
        in.endpoint_url = cases[i].flag;
        in.profile_name = "ci";
        in.configured.services = cases[i].services ? "local" : NULL;
        in.configured.services_found = cases[i].services != NULL;
        in.configured.services_endpoint_url = cases[i].services;
        in.configured.endpoint_url = cases[i].profile;
        in.configured.ignore_configured_endpoint_urls = cases[i].ignore_profile;
        struct endpoint_resolution r;
        struct ebuf msg = EBUF_INIT;
        ecrup_status st = endpoint_resolve(&in, &r, &msg);
        CHECK_EQ_INT(st, ECRUP_OK);
        if (st == ECRUP_OK) {
            CHECK_STR(r.url, cases[i].want_url);
            CHECK_STR(r.endpoint_source, cases[i].want_source);
            CHECK_STR(r.region, "us-west-2");
            CHECK_STR(r.region_source, "AWS_REGION");
            CHECK((r.partition == NULL) == (strncmp(cases[i].want_source, "partition", 9) != 0));
        }
        endpoint_resolution_free(&r);
        ebuf_free(&msg);
    }
}

/* A configured endpoint is used as given: FIPS and dual-stack are dropped, and the sources
 * say so. A malformed configured endpoint names where it came from. */
static void test_configured_endpoint(void)
{
    struct fake_env env = {{{"AWS_ENDPOINT_URL", "http://127.0.0.1:9000/"},
                            {"AWS_USE_FIPS_ENDPOINT", "true"},
                            {"AWS_REGION", "eu-west-1"}}};
    struct endpoint_inputs in = inputs_with(&env);
    in.use_dualstack = ENDPOINT_FLAG_ON;
    struct endpoint_resolution r;
    struct ebuf msg = EBUF_INIT;
    CHECK_EQ_INT(endpoint_resolve(&in, &r, &msg), ECRUP_OK);
    CHECK(!r.fips && !r.dualstack);
    CHECK(r.partition == NULL);
    CHECK_STR(r.fips_source, "AWS_USE_FIPS_ENDPOINT (ignored: endpoint from AWS_ENDPOINT_URL)");
    CHECK_STR(r.dualstack_source, "option (ignored: endpoint from AWS_ENDPOINT_URL)");
    CHECK_STR(r.parsed.host_header, "127.0.0.1:9000");
    CHECK_STR(r.parsed.base_url, "http://127.0.0.1:9000/");
    endpoint_resolution_free(&r);

    env.pairs[0][1] = "https://AKIDEXAMPLE:wJalrXUtnFEMI@registry.example/";
    CHECK_EQ_INT(endpoint_resolve(&in, &r, &msg), ECRUP_E_ENDPOINT);
    CHECK(contains(ebuf_str(&msg), "AWS_ENDPOINT_URL"));
    CHECK(contains(ebuf_str(&msg), "user info"));
    CHECK(contains(ebuf_str(&msg), "https://***@registry.example/"));
    CHECK(!contains(ebuf_str(&msg), "wJalrXUtnFEMI"));
    CHECK(!contains(ebuf_str(&msg), "AKIDEXAMPLE"));
    CHECK(r.url == NULL && r.region == NULL);
    ebuf_free(&msg);

    in.endpoint_url = "";
    CHECK_EQ_INT(endpoint_resolve(&in, &r, &msg), ECRUP_E_ENDPOINT);
    CHECK(contains(ebuf_str(&msg), "--endpoint-url"));
    ebuf_free(&msg);

    in.endpoint_url = "localhost:5000";
    CHECK_EQ_INT(endpoint_resolve(&in, &r, &msg), ECRUP_E_ENDPOINT);
    CHECK(contains(ebuf_str(&msg), "no scheme"));
    CHECK(contains(ebuf_str(&msg), "\"localhost:5000\""));
    CHECK(contains(ebuf_str(&msg), "--endpoint-url"));
    ebuf_free(&msg);
}

static void test_parse_good(void)
{
    static const struct {
        const char *url, *scheme, *host;
        unsigned port;
        bool port_default, ipv6;
        const char *host_header, *path, *base_url;
    } cases[] = {
        {"https://api.ecr.us-east-1.amazonaws.com", "https", "api.ecr.us-east-1.amazonaws.com", 443,
         true, false, "api.ecr.us-east-1.amazonaws.com", "/",
         "https://api.ecr.us-east-1.amazonaws.com/"},
        {"http://127.0.0.1:8080", "http", "127.0.0.1", 8080, false, false, "127.0.0.1:8080", "/",
         "http://127.0.0.1:8080/"},
        {"http://localhost:80/", "http", "localhost", 80, true, false, "localhost", "/",
         "http://localhost/"},
        {"https://localhost:80/", "https", "localhost", 80, false, false, "localhost:80", "/",
         "https://localhost:80/"},
        {"http://localhost:443", "http", "localhost", 443, false, false, "localhost:443", "/",
         "http://localhost:443/"},
        {"HTTPS://LocalHost:443/a/b", "https", "localhost", 443, true, false, "localhost", "/a/b",
         "https://localhost/a/b"},
        {"https://[::1]:8443/x/", "https", "::1", 8443, false, true, "[::1]:8443", "/x/",
         "https://[::1]:8443/x/"},
        {"http://[::1]", "http", "::1", 80, true, true, "[::1]", "/", "http://[::1]/"},
        {"https://[2001:DB8::1]:443", "https", "2001:db8::1", 443, true, true, "[2001:db8::1]", "/",
         "https://[2001:db8::1]/"},
        {"http://[::ffff:127.0.0.1]:1", "http", "::ffff:127.0.0.1", 1, false, true,
         "[::ffff:127.0.0.1]:1", "/", "http://[::ffff:127.0.0.1]:1/"},
        {"http://example.com.:9000", "http", "example.com.", 9000, false, false,
         "example.com.:9000", "/", "http://example.com.:9000/"},
        {"http://a-b.c:65535/p%20q/~u/", "http", "a-b.c", 65535, false, false, "a-b.c:65535",
         "/p%20q/~u/", "http://a-b.c:65535/p%20q/~u/"},
        {"https://x:00443", "https", "x", 443, true, false, "x", "/", "https://x/"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        size_t len = strlen(cases[i].url) + 1;
        char *copy = test_guarded_copy(cases[i].url, len);
        struct endpoint_url u;
        struct ebuf msg = EBUF_INIT;
        ecrup_status st = endpoint_parse_url(copy, &u, &msg);
        CHECK_EQ_INT(st, ECRUP_OK);
        if (st != ECRUP_OK) {
            fprintf(stderr, "  %s: %s\n", cases[i].url, ebuf_str(&msg));
        } else {
            CHECK_STR(u.scheme, cases[i].scheme);
            CHECK_STR(u.host, cases[i].host);
            CHECK_EQ_INT(u.port, cases[i].port);
            CHECK_EQ_INT(u.port_default, cases[i].port_default);
            CHECK_EQ_INT(u.ipv6, cases[i].ipv6);
            CHECK_STR(u.host_header, cases[i].host_header);
            CHECK_STR(u.path, cases[i].path);
            CHECK_STR(u.base_url, cases[i].base_url);
        }
        endpoint_url_free(&u);
        ebuf_free(&msg);
        test_guarded_free(copy, len);
    }
}

static void test_parse_bad(void)
{
    static const struct {
        const char *url, *why;
    } cases[] = {
        {"", "empty"},
        {"localhost:5000", "no scheme"},
        {"localhost/a://b", "no scheme"},
        {"ftp://example.com", "http or https"},
        {"httpx://example.com", "http or https"},
        {"://example.com", "http or https"},
        {"http://", "no host"},
        {"http:///path", "no host"},
        {"http://:80", "no host"},
        {"http:/host", "no scheme"},
        {"http://host:", "port after ':' is empty"},
        {"http://host:0", "1 to 65535"},
        {"http://host:65536", "1 to 65535"},
        {"http://host:123456", "1 to 65535"},
        {"http://host:8a", "1 to 65535"},
        {"http://host:-1", "1 to 65535"},
        {"http://host:80:81", "1 to 65535"},
        {"http://[::1", "closing ']'"},
        {"http://[]", "IPv6 address is malformed"},
        {"http://[::g]", "IPv6 address is malformed"},
        {"http://[127.0.0.1]", "IPv6 address is malformed"},
        {"http://[fe80::1%25eth0]:80", "zone"},
        {"http://[::1]x", "after the IPv6"},
        {"http://::1", "no host"},
        {"http://h]", "in brackets"},
        {"http://user:pass@host", "user info"},
        {"http://host?x=1", "query"},
        {"http://host/a?x=1", "query"},
        {"http://host/#frag", "query"},
        {"http://ho st", "space"},
        {"http://host\n", "control"},
        {"http://h\xc3\xa9", "non-ASCII"},
        {"http://-host", "not a valid name"},
        {"http://host-/", "not a valid name"},
        {"http://a..b", "not a valid name"},
        {"http://a_b", "not a valid name"},
        {"http://.", "not a valid name"},
        {"http://host/a%zz", "percent-encoded"},
        {"http://host/a%2", "percent-encoded"},
        {"http://host/a\"b", "percent-encoded"},
        {"http://host/a{b}", "percent-encoded"},
        {"http://aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.com",
         "not a valid name"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        size_t len = strlen(cases[i].url) + 1;
        char *copy = test_guarded_copy(cases[i].url, len);
        struct endpoint_url u;
        struct ebuf msg = EBUF_INIT;
        ecrup_status st = endpoint_parse_url(copy, &u, &msg);
        CHECK_EQ_INT(st, ECRUP_E_ENDPOINT);
        CHECK(u.base_url == NULL && u.host == NULL);
        if (!contains(ebuf_str(&msg), cases[i].why)) {
            fprintf(stderr, "  %s: \"%s\" lacks \"%s\"\n", cases[i].url, ebuf_str(&msg),
                    cases[i].why);
            CHECK(0);
        }
        CHECK(!contains(ebuf_str(&msg), "pass@"));
        endpoint_url_free(&u);
        ebuf_free(&msg);
        test_guarded_free(copy, len);
    }

    /* A host name of 256 characters (valid labels) is too long. */
    char url[300] = "http://";
    for (int i = 0; i < 3; i++)
        strcat(url, "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.");
    strcat(url, "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.bc");
    CHECK_EQ_INT(strlen(url), 7 + 256);
    struct endpoint_url u;
    CHECK_EQ_INT(endpoint_parse_url(url, &u, NULL), ECRUP_E_ENDPOINT);
    url[strlen(url) - 1] = '\0';
    CHECK_EQ_INT(endpoint_parse_url(url, &u, NULL), ECRUP_OK);
    endpoint_url_free(&u);
    endpoint_url_free(NULL);
    endpoint_resolution_free(NULL);
}

/* The hint a DNS failure gives: a region no partition lists, carried by the host's name. */
static void test_unresolved_hint(void)
{
    struct {
        const char *host, *region, *want; /* want NULL: no hint */
    } cases[] = {
        {"api.ecr.eu-wst-1.amazonaws.com", "eu-wst-1",
         "the region 'eu-wst-1' is not one AWS lists (did you mean eu-west-1?)"},
        {"api.ecr.us-esat-1.amazonaws.com", "us-esat-1",
         "the region 'us-esat-1' is not one AWS lists (did you mean us-east-1?)"},
        {"ecr-fips.cn-nrth-1.api.amazonwebservices.com.cn", "cn-nrth-1",
         "the region 'cn-nrth-1' is not one AWS lists (did you mean cn-north-1?)"},
        /* A VPC endpoint names the region too. */
        {"vpce-0a1b.api.ecr.ap-southest-2.vpce.amazonaws.com", "ap-southest-2",
         "the region 'ap-southest-2' is not one AWS lists (did you mean ap-southeast-2?)"},
        /* Nothing close: said, without a guess. */
        {"api.ecr.xx-nowhere-9.amazonaws.com", "xx-nowhere-9",
         "the region 'xx-nowhere-9' is not one AWS lists"},
        /* Listed regions: the DNS failure is something else (resolver, network). */
        {"api.ecr.eu-west-1.amazonaws.com", "eu-west-1", NULL},
        {"api.ecr.us-gov-west-1.amazonaws.com", "us-gov-west-1", NULL},
        /* A configured endpoint that does not carry the region: the region is not why. */
        {"localstack", "eu-wst-1", NULL},
        {"ecr.example.com", "eu-wst-1", NULL},
        /* The region must be a whole label, not part of one. */
        {"api.ecr.xeu-wst-1.amazonaws.com", "eu-wst-1", NULL},
        {"api.ecr.eu-wst-12.amazonaws.com", "eu-wst-1", NULL},
        {"eu-wst-1", "eu-wst-1",
         "the region 'eu-wst-1' is not one AWS lists (did you mean "
         "eu-west-1?)"},
        {NULL, "eu-wst-1", NULL},
        {"api.ecr.amazonaws.com", NULL, NULL},
        {"api.ecr.amazonaws.com", "", NULL},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct ebuf b = EBUF_INIT;
        bool got = endpoint_unresolved_hint(cases[i].host, cases[i].region, &b);
        CHECK(got == (cases[i].want != NULL));
        CHECK_STR(ebuf_str(&b), cases[i].want ? cases[i].want : "");
        ebuf_free(&b);
    }
    CHECK(endpoint_region_listed("eu-west-1"));
    CHECK(endpoint_region_listed("us-isob-east-1"));
    CHECK(!endpoint_region_listed("eu-wst-1"));
    CHECK(!endpoint_region_listed(NULL));
    /* Accepted all the same: the partition's regex takes it, new regions look like this. */
    CHECK_STR(endpoint_partition_of("eu-wst-1"), "aws");
}

int main(void)
{
    test_unresolved_hint();
    test_region_precedence();
    test_no_region();
    test_region_validation();
    test_partitions();
    test_computed_urls();
    test_generic_partition();
    test_bool();
    test_variant_precedence();
    test_endpoint_precedence();
    test_configured_endpoint();
    test_parse_good();
    test_parse_bad();
    return test_finish("test_endpoint");
}
