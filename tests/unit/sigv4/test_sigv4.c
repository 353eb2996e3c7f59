/* The signer's rules beyond the official suite: query and path encoding corner cases, header
 * validation, dates, Host derivation, and the key cache under concurrent signers. */
#include "test.h"

#include <pthread.h>
#include <stdbool.h>

#include "signer/sigv4_verify.h"

#define EMPTY "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

/* The canonical request's path and query lines for a GET with only a host header. */
static void path_query(const char *path, const char *query, bool normalize, char *out_path,
                       char *out_query, size_t cap)
{
    struct sigv4_header h[] = {{"Host", "example.com"}};
    struct sigv4_request r = {"GET", path, query, h, 1, EMPTY, normalize};
    struct ebuf b = EBUF_INIT;
    int rc = sigv4_canonical_request(&r, &b, NULL);
    CHECK_EQ_INT(rc, 0);
    const char *s = ebuf_str(&b);
    const char *l1 = strchr(s, '\n');
    const char *l2 = l1 ? strchr(l1 + 1, '\n') : NULL;
    const char *l3 = l2 ? strchr(l2 + 1, '\n') : NULL;
    REQUIRE(l1 && l2 && l3);
    snprintf(out_path, cap, "%.*s", (int)(l2 - l1 - 1), l1 + 1);
    snprintf(out_query, cap, "%.*s", (int)(l3 - l2 - 1), l2 + 1);
    ebuf_free(&b);
}

static void test_query(void)
{
    static const struct {
        const char *in, *want;
    } cases[] = {
        {"b=2&a=1&a=0&c", "a=0&a=1&b=2&c="},
        {"k=v%20w+x", "k=v%20w%2Bx"},     /* '+' is a literal plus, not a space */
        {"a=%zz&b=%4", "a=%25zz&b=%254"}, /* broken escapes stay literal */
        {"sp ace=1", "sp%20ace=1"},
        {"x=a/b&y=%2f", "x=a%2Fb&y=%2F"}, /* decoded then encoded: one canonical form */
        {"&&a=1&", "a=1"},
        {"a=", "a="},
        {"=v", "=v"},
        {"=", "="},
        {"=&=", "=&="},
        {"a==b", "a=%3Db"},
        {"Z=1&a=1&_=1&~=1&-=1", "-=1&Z=1&_=1&a=1&~=1"}, /* byte order of the encoded names */
        {"%E1%88%B4=%e1%88%b4", "%E1%88%B4=%E1%88%B4"},
        {"", ""},
    };
    char p[512], q[512];
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        path_query("/", cases[i].in, true, p, q, sizeof p);
        CHECK_STR(q, cases[i].want);
    }
    path_query("/", NULL, true, p, q, sizeof p);
    CHECK_STR(q, "");
}

static void test_path(void)
{
    static const struct {
        const char *in;
        bool normalize;
        const char *want;
    } cases[] = {
        {"/a%20b", true, "/a%2520b"}, /* already encoded: encoded again (non-S3 rule) */
        {"/a%20b", false, "/a%2520b"},
        {"/a/./b/../c//d/", true, "/a/c/d/"},
        {"/a/b/..", true, "/a"},
        {"/..", true, "/"},
        {"/../../x", true, "/x"},
        {"", true, "/"},
        {NULL, true, "/"},
        {"/a//b", false, "/a//b"},
        {"/a:b@c!$'()*+,;=", true, "/a%3Ab%40c%21%24%27%28%29%2A%2B%2C%3B%3D"},
        {"/~user/file.tar.gz", true, "/~user/file.tar.gz"},
        {"relative/./x", true, "relative/x"},
        {"./..", true, "/"},
    };
    char p[512], q[512];
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        path_query(cases[i].in, NULL, cases[i].normalize, p, q, sizeof p);
        CHECK_STR(p, cases[i].want);
    }
}

static void test_headers(void)
{
    struct sigv4_header h[] = {{"Host", " example.com "},
                               {"X-B", "  a \t b  \r\n  c  "},
                               {"x-a", ""},
                               {"X-B", "second"},
                               {"x-c", "\"quoted   text\""}};
    struct sigv4_request r = {"POST", "/", NULL, h, 5, EMPTY, true};
    struct ebuf b = EBUF_INIT, sh = EBUF_INIT;
    CHECK_EQ_INT(sigv4_canonical_request(&r, &b, &sh), 0);
    CHECK_STR(ebuf_str(&b), "POST\n/\n\nhost:example.com\nx-a:\nx-b:a b c,second\n"
                            "x-c:\"quoted text\"\n\nhost;x-a;x-b;x-c\n" EMPTY);
    CHECK_STR(ebuf_str(&sh), "host;x-a;x-b;x-c");
    ebuf_free(&b);
    ebuf_free(&sh);

    /* Names that cannot be listed in SignedHeaders, a missing host, a bad method. */
    static const char *const bad_names[] = {"bad name", "a;b", "a,b", "a=b", "", "x:y"};
    for (size_t i = 0; i < sizeof bad_names / sizeof *bad_names; i++) {
        struct sigv4_header hb[] = {{"Host", "h"}, {bad_names[i], "v"}};
        struct sigv4_request rb = {"GET", "/", NULL, hb, 2, EMPTY, true};
        struct ebuf o = EBUF_INIT;
        CHECK_EQ_INT(sigv4_canonical_request(&rb, &o, NULL), -1);
        ebuf_free(&o);
    }
    struct sigv4_header nohost[] = {{"x-amz-date", "20150830T123600Z"}};
    struct sigv4_request rn = {"GET", "/", NULL, nohost, 1, EMPTY, true};
    struct ebuf o = EBUF_INIT;
    CHECK_EQ_INT(sigv4_canonical_request(&rn, &o, NULL), -1);
    struct sigv4_request rm = {"G ET", "/", NULL, h, 1, EMPTY, true};
    CHECK_EQ_INT(sigv4_canonical_request(&rm, &o, NULL), -1);
    struct sigv4_request rp = {"GET", "/", NULL, h, 1, NULL, true};
    CHECK_EQ_INT(sigv4_canonical_request(&rp, &o, NULL), -1);
    ebuf_free(&o);
}

static void test_dates(void)
{
    char d[17];
    sigv4_format_amz_date(0, d);
    CHECK_STR(d, "19700101T000000Z");
    sigv4_format_amz_date(1440938160, d);
    CHECK_STR(d, "20150830T123600Z");
    sigv4_format_amz_date(951782400, d); /* leap day 2000 */
    CHECK_STR(d, "20000229T000000Z");
    time_t t = 0;
    CHECK(sigv4_parse_amz_date("20150830T123600Z", &t));
    CHECK_EQ_INT(t, 1440938160);
    static const char *const bad[] = {
        "20150830T123600",  "20150830T123600Z ", "2015083OT123600Z", "20150230T000000Z",
        "20151301T000000Z", "20150830T240000Z",  "20150830 123600Z", "",
        "19000229T000000Z"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        CHECK(!sigv4_parse_amz_date(bad[i], &t));
    CHECK(sigv4_parse_amz_date("20000229T000000Z", &t));
    uint64_t rng = 42;
    for (int i = 0; i < 1000; i++) {
        time_t x = (time_t)(test_rand(&rng) % 4102444800u); /* up to 2100 */
        time_t back = 0;
        sigv4_format_amz_date(x, d);
        CHECK(sigv4_parse_amz_date(d, &back));
        CHECK_EQ_INT(back, x);
    }
}

static void test_host(void)
{
    static const struct {
        const char *url, *want;
    } cases[] = {
        {"https://api.ecr.us-east-1.amazonaws.com", "api.ecr.us-east-1.amazonaws.com"},
        {"https://api.ecr.us-east-1.amazonaws.com:443/", "api.ecr.us-east-1.amazonaws.com"},
        {"https://API.ECR.eu-west-1.AmazonAWS.com:8443/x", "api.ecr.eu-west-1.amazonaws.com:8443"},
        {"http://127.0.0.1:8080", "127.0.0.1:8080"},
        {"http://127.0.0.1:80", "127.0.0.1"},
        {"http://localhost:443", "localhost:443"},
        {"https://localhost:80", "localhost:80"},
        {"http://user:pw@host.example:81/p?q", "host.example:81"},
        {"http://[::1]:5000/", "[::1]:5000"},
        {"http://[::1]:80/", "[::1]"},
        {"http://[FE80::1]", "[fe80::1]"},
        {"http://host:", "host"},
    };
    struct ebuf b = EBUF_INIT;
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        CHECK_EQ_INT(sigv4_host_from_url(cases[i].url, &b), 0);
        CHECK_STR(ebuf_str(&b), cases[i].want);
    }
    static const char *const bad[] = {
        "api.ecr.amazonaws.com", "http://",     "http://:80", "http://h:99999",
        "http://h:8x",           "http://[::1", "://h"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        CHECK_EQ_INT(sigv4_host_from_url(bad[i], &b), -1);
    ebuf_free(&b);
}

static void test_sign_rules(void)
{
    struct sigv4_header h[] = {{"Host", "api.ecr.us-east-1.amazonaws.com"},
                               {"Content-Type", "application/x-amz-json-1.1"}};
    struct sigv4_request r = {"POST", "/", NULL, h, 2, EMPTY, true};
    struct sigv4_credentials c = {"AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", NULL};
    struct sigv4_signature a, b;
    REQUIRE(sigv4_sign(&r, &c, "us-east-1", "ecr", 1440938160, NULL, &a) == 0);
    CHECK(strstr(ebuf_str(&a.authorization),
                 "Credential=AKIDEXAMPLE/20150830/us-east-1/ecr/aws4_request, "
                 "SignedHeaders=content-type;host;x-amz-date, Signature=") != NULL);
    /* A retry hands back the previous attempt's signer headers: they are replaced. */
    struct sigv4_header h2[] = {h[0],
                                h[1],
                                {"Authorization", "AWS4-HMAC-SHA256 old"},
                                {"X-Amz-Date", "20000101T000000Z"},
                                {"x-amz-security-token", "stale-token"}};
    struct sigv4_request r2 = {"POST", "/", NULL, h2, 5, EMPTY, true};
    REQUIRE(sigv4_sign(&r2, &c, "us-east-1", "ecr", 1440938160, NULL, &b) == 0);
    CHECK_STR(b.signature, a.signature);
    sigv4_signature_free(&b);
    /* The session token is signed. */
    c.session_token = "token/with+chars==";
    REQUIRE(sigv4_sign(&r, &c, "us-east-1", "ecr", 1440938160, NULL, &b) == 0);
    CHECK(strstr(ebuf_str(&b.authorization),
                 "SignedHeaders=content-type;host;x-amz-date;x-amz-security-token,") != NULL);
    CHECK(strcmp(a.signature, b.signature) != 0);
    sigv4_signature_free(&b);
    sigv4_signature_free(&a);
    /* Scope fields that would not survive the Credential format are refused. */
    struct sigv4_credentials bad = {"AKID/X", "s", NULL};
    CHECK_EQ_INT(sigv4_sign(&r, &bad, "us-east-1", "ecr", 0, NULL, &a), -1);
    CHECK(a.authorization.len == 0);
    c.session_token = NULL;
    CHECK_EQ_INT(sigv4_sign(&r, &c, "us east", "ecr", 0, NULL, &a), -1);
    CHECK_EQ_INT(sigv4_sign(&r, &c, "us-east-1", "", 0, NULL, &a), -1);
    sigv4_signature_free(&a);

    CHECK_STR(sigv4_verdict_exception(SIGV4_OK), "");
    CHECK_STR(sigv4_verdict_exception(SIGV4_MISSING_AUTH), "MissingAuthenticationTokenException");
    CHECK_STR(sigv4_verdict_exception(SIGV4_STALE), "InvalidSignatureException");
    CHECK_STR(sigv4_verdict_exception(SIGV4_BAD_TOKEN), "UnrecognizedClientException");
    CHECK_STR(sigv4_verdict_exception(SIGV4_MISSING_DATE), "IncompleteSignatureException");
}

/* Many threads share one cache with more (secret, date, region) combinations than slots, so
 * hits, misses and evictions interleave; every signature must equal the uncached one. */
#define THREADS 4
#define ROUNDS  300
static const char *const secrets[] = {"secret/one+AAAA", "secret/two+BBBB", "secret/three+C"};
static const char *const regions[] = {"us-east-1", "eu-west-1", "ap-south-1"};
static char expected[3][3][2][65];
static struct sigv4_key_cache *shared_cache;
static int thread_mismatches[THREADS];

/* Called from several threads: reports failure instead of touching the test counters. */
static bool sign_one(int s, int rg, int day, struct sigv4_key_cache *cache, char out[65])
{
    struct sigv4_header h[] = {{"Host", "api.ecr.example.com"}};
    struct sigv4_request r = {"POST", "/", NULL, h, 1, EMPTY, true};
    struct sigv4_credentials c = {"AKID", secrets[s], NULL};
    struct sigv4_signature sig;
    if (sigv4_sign(&r, &c, regions[rg], "ecr", 1440938160 + day * 86400, cache, &sig) != 0)
        return false;
    memcpy(out, sig.signature, 65);
    sigv4_signature_free(&sig);
    return true;
}

static void *signer_thread(void *arg)
{
    int id = (int)(intptr_t)arg;
    uint64_t rng = (uint64_t)id + 1;
    for (int i = 0; i < ROUNDS; i++) {
        int s = (int)(test_rand(&rng) % 3), rg = (int)(test_rand(&rng) % 3),
            day = (int)(test_rand(&rng) % 2);
        char got[65];
        if (!sign_one(s, rg, day, shared_cache, got) || strcmp(got, expected[s][rg][day]) != 0)
            thread_mismatches[id]++;
    }
    return NULL;
}

static void test_cache_threads(void)
{
    for (int s = 0; s < 3; s++)
        for (int rg = 0; rg < 3; rg++)
            for (int day = 0; day < 2; day++)
                REQUIRE(sign_one(s, rg, day, NULL, expected[s][rg][day]));
    CHECK(strcmp(expected[0][0][0], expected[1][0][0]) != 0);
    CHECK(strcmp(expected[0][0][0], expected[0][1][0]) != 0);
    CHECK(strcmp(expected[0][0][0], expected[0][0][1]) != 0);
    shared_cache = sigv4_key_cache_new();
    REQUIRE(shared_cache);
    pthread_t t[THREADS];
    for (int i = 0; i < THREADS; i++)
        REQUIRE(pthread_create(&t[i], NULL, signer_thread, (void *)(intptr_t)i) == 0);
    for (int i = 0; i < THREADS; i++) {
        pthread_join(t[i], NULL);
        CHECK_EQ_INT(thread_mismatches[i], 0);
    }
    sigv4_key_cache_free(shared_cache);
    sigv4_key_cache_free(NULL);
}

int main(void)
{
    test_query();
    test_path();
    test_headers();
    test_dates();
    test_host();
    test_sign_rules();
    test_cache_threads();
    return test_finish("test_sigv4");
}
