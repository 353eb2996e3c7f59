/* The registry API's pure parsers (server/v2route.h): routes found from the right with their
 * names and references checked, Range in its forms and refusals, Accept lists with q values,
 * tags/list's n, Basic credentials (against OpenSSL's base64 encoder), query escaping. Paths
 * and headers are parsed from guard-paged copies so an over-read faults. */
#include <openssl/evp.h>
#include <string.h>

#include "server/v2route.h"
#include "test.h"

static const char *D = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

/* v2_route_parse() of a guarded copy of `path`. */
static bool route(const char *path, struct v2_route *rt)
{
    size_t n = strlen(path) + 1;
    char *g = test_guarded_copy(path, n);
    bool ok = v2_route_parse(g, rt);
    test_guarded_free(g, n);
    return ok;
}

static void routes(void)
{
    struct v2_route rt;
    CHECK(!route("/", &rt));
    CHECK(!route("/v22/", &rt));
    CHECK(!route("/v", &rt));
    CHECK(route("/v2", &rt) && rt.kind == V2_BASE);
    CHECK(route("/v2/", &rt) && rt.kind == V2_BASE && !rt.error);

    CHECK(route("/v2/team/app/manifests/v1", &rt) && rt.kind == V2_MANIFEST && !rt.error);
    CHECK_STR(rt.name, "team/app");
    CHECK_STR(rt.reference, "v1");
    CHECK(!rt.by_digest);
    /* Keywords inside the name: the rightmost one is the route's. */
    CHECK(route("/v2/a/blobs/manifests/x", &rt) && rt.kind == V2_MANIFEST && !rt.error);
    CHECK_STR(rt.name, "a/blobs");
    CHECK_STR(rt.reference, "x");
    char p[600];
    snprintf(p, sizeof p, "/v2/a/manifests/b/blobs/%s", D);
    CHECK(route(p, &rt) && rt.kind == V2_BLOB && !rt.error);
    CHECK_STR(rt.name, "a/manifests/b");
    CHECK_STR(rt.reference, D);
    CHECK(route("/v2/tags/list/tags/list", &rt) && rt.kind == V2_TAGS && !rt.error);
    CHECK_STR(rt.name, "tags/list");

    /* Digests: sha256 normalised to lowercase; other algorithms unknown; the rest invalid. */
    snprintf(p, sizeof p, "/v2/app/manifests/sha256:%s",
             "0123456789ABCDEF0123456789ABCDEF"
             "0123456789abcdef0123456789abcdef");
    CHECK(route(p, &rt) && rt.kind == V2_MANIFEST && rt.by_digest && !rt.error);
    CHECK_STR(rt.reference, D);
    CHECK(route("/v2/app/manifests/sha512:00ff", &rt) && rt.by_digest);
    CHECK_STR(rt.error, "MANIFEST_UNKNOWN");
    CHECK(route("/v2/app/blobs/sha512:00ff", &rt) && rt.kind == V2_BLOB);
    CHECK_STR(rt.error, "BLOB_UNKNOWN");
    CHECK(route("/v2/app/blobs/sha256:xyz", &rt));
    CHECK_STR(rt.error, "DIGEST_INVALID");
    CHECK(route("/v2/app/blobs/v1", &rt));
    CHECK_STR(rt.error, "DIGEST_INVALID");
    CHECK(route("/v2/app/manifests/sha256:", &rt));
    CHECK_STR(rt.error, "DIGEST_INVALID");

    /* Tags: 1 to 300 characters. */
    char tag[400];
    memset(tag, 't', 300);
    tag[300] = '\0';
    snprintf(p, sizeof p, "/v2/app/manifests/%s", tag);
    CHECK(route(p, &rt) && !rt.error && strlen(rt.reference) == 300);
    strcat(p, "t");
    CHECK(route(p, &rt));
    CHECK_STR(rt.error, "MANIFEST_UNKNOWN");
    CHECK(route("/v2/app/manifests/", &rt));
    CHECK_STR(rt.error, "MANIFEST_UNKNOWN");
    CHECK(route("/v2/app/manifests/a/b", &rt));
    CHECK_STR(rt.error, "MANIFEST_UNKNOWN");

    /* Names: RepositoryName's pattern and 2 to 256 characters. */
    CHECK(route("/v2/App/manifests/v1", &rt));
    CHECK_STR(rt.error, "NAME_INVALID");
    CHECK(route("/v2/a/tags/list", &rt) && rt.kind == V2_TAGS);
    CHECK_STR(rt.error, "NAME_INVALID");                          /* one character */
    CHECK(route("/v2//tags/list", &rt) && rt.kind == V2_UNKNOWN); /* no name at all */
    char name[300];
    memset(name, 'a', 256);
    name[256] = '\0';
    snprintf(p, sizeof p, "/v2/%s/tags/list", name);
    CHECK(route(p, &rt) && !rt.error);
    snprintf(p, sizeof p, "/v2/%sa/tags/list", name);
    CHECK(route(p, &rt));
    CHECK_STR(rt.error, "NAME_INVALID");

    CHECK(route("/v2/app", &rt) && rt.kind == V2_UNKNOWN);
    CHECK(route("/v2/manifests/v1", &rt) && rt.kind == V2_UNKNOWN);
    CHECK(route("/v2/app/tags/lists", &rt) && rt.kind == V2_UNKNOWN);
}

static void ranges(void)
{
    uint64_t a = 99, b = 99;
    CHECK_EQ_INT(v2_range_parse(NULL, 10, &a, &b), V2_RANGE_WHOLE);
    CHECK_EQ_INT(v2_range_parse("bytes=2-4", 10, &a, &b), V2_RANGE_PART);
    CHECK(a == 2 && b == 4);
    CHECK_EQ_INT(v2_range_parse("BYTES = 2 - ", 10, &a, &b), V2_RANGE_PART);
    CHECK(a == 2 && b == 9);
    CHECK_EQ_INT(v2_range_parse("bytes=-3", 10, &a, &b), V2_RANGE_PART);
    CHECK(a == 7 && b == 9);
    CHECK_EQ_INT(v2_range_parse("bytes=-30", 10, &a, &b), V2_RANGE_PART);
    CHECK(a == 0 && b == 9);
    CHECK_EQ_INT(v2_range_parse("bytes=9-100", 10, &a, &b), V2_RANGE_PART);
    CHECK(a == 9 && b == 9);
    CHECK_EQ_INT(v2_range_parse("bytes=0-18446744073709551615", 10, &a, &b),
                 V2_RANGE_UNSATISFIABLE); /* 20 digits: malformed here */
    CHECK_EQ_INT(v2_range_parse("bytes=0-9999999999999999999", 10, &a, &b), V2_RANGE_PART);
    CHECK(a == 0 && b == 9);
    static const char *const unsat[] = {"bytes=10-",   "bytes=10-12", "bytes=5-4", "bytes=-0",
                                        "bytes=",      "bytes=-",     "bytes=x-1", "bytes=1-x",
                                        "bytes=1-2 3", "bytes=+1-2"};
    for (size_t i = 0; i < sizeof unsat / sizeof *unsat; i++)
        CHECK_EQ_INT(v2_range_parse(unsat[i], 10, &a, &b), V2_RANGE_UNSATISFIABLE);
    CHECK_EQ_INT(v2_range_parse("bytes=0-", 0, &a, &b), V2_RANGE_UNSATISFIABLE);
    CHECK_EQ_INT(v2_range_parse("bytes=-1", 0, &a, &b), V2_RANGE_UNSATISFIABLE);
    CHECK_EQ_INT(v2_range_parse("bytes=0-1,3-4", 10, &a, &b), V2_RANGE_WHOLE);
    CHECK_EQ_INT(v2_range_parse("items=0-1", 10, &a, &b), V2_RANGE_WHOLE);
    CHECK_EQ_INT(v2_range_parse("bytesx=0-1", 10, &a, &b), V2_RANGE_WHOLE);
}

static void accepts(void)
{
    const char *oci = "application/vnd.oci.image.manifest.v1+json";
    CHECK(v2_accepts(NULL, oci));
    CHECK(v2_accepts("  ", oci));
    CHECK(v2_accepts(oci, oci));
    CHECK(v2_accepts("APPLICATION/VND.OCI.IMAGE.MANIFEST.V1+JSON", oci));
    CHECK(v2_accepts("text/plain, application/vnd.oci.image.manifest.v1+json ;q=0.5", oci));
    CHECK(v2_accepts("*/*", oci));
    CHECK(v2_accepts("application/*", oci));
    CHECK(v2_accepts("text/plain, */*;q=0.001", oci));
    CHECK(!v2_accepts("*/*;q=0", oci));
    CHECK(!v2_accepts("application/vnd.oci.image.manifest.v1+json;q=0.000", oci));
    CHECK(!v2_accepts("application/vnd.docker.distribution.manifest.v2+json", oci));
    CHECK(!v2_accepts("application/vnd.oci.image.manifest.v1+jsonx", oci));
    CHECK(!v2_accepts("text/*", oci));
    CHECK(!v2_accepts("application/vnd.oci.image.manifest.v1", oci));
    CHECK(v2_accepts("application/vnd.oci.image.manifest.v1+json; charset=utf-8; q=1", oci));
    CHECK(!v2_accepts(",,,", oci));
}

static void pages(void)
{
    long n = 0;
    CHECK(v2_page_size(NULL, &n) && n == -1);
    CHECK(v2_page_size("0", &n) && n == 0);
    CHECK(v2_page_size("10000", &n) && n == 10000);
    CHECK(!v2_page_size("10001", &n));
    CHECK(!v2_page_size("", &n));
    CHECK(!v2_page_size("-1", &n));
    CHECK(!v2_page_size("1x", &n));
    CHECK(!v2_page_size("99999999999999999999", &n));
}

/* "Basic " and the base64 of `plain`, as clients write it. */
static void basic_of(const char *plain, char *out)
{
    strcpy(out, "Basic ");
    EVP_EncodeBlock((unsigned char *)out + 6, (const unsigned char *)plain, (int)strlen(plain));
}

static void basics(void)
{
    char h[800], pw[128];
    /* Every length of password, so every padding occurs. */
    for (int len = 0; len < 100; len++) {
        char plain[128] = "AWS:";
        for (int i = 0; i < len; i++)
            plain[4 + i] = (char)('a' + i % 26);
        plain[4 + len] = '\0';
        basic_of(plain, h);
        CHECK(v2_basic_password(h, pw, sizeof pw) && !strcmp(pw, plain + 4));
    }
    basic_of("AWS:secret", h);
    CHECK(!v2_basic_password(h, pw, 6)); /* does not fit */
    CHECK(v2_basic_password(h, pw, 7) && !strcmp(pw, "secret"));
    h[0] = 'b'; /* the scheme is case-insensitive */
    CHECK(v2_basic_password(h, pw, sizeof pw));
    basic_of("aws:secret", h);
    CHECK(!v2_basic_password(h, pw, sizeof pw));
    basic_of("AWSsecret", h);
    CHECK(!v2_basic_password(h, pw, sizeof pw));
    CHECK(!v2_basic_password(NULL, pw, sizeof pw));
    CHECK(!v2_basic_password("Bearer QVdTOng=", pw, sizeof pw));
    CHECK(!v2_basic_password("BasicQVdTOng=", pw, sizeof pw));
    CHECK(v2_basic_password("Basic QVdTOng=", pw, sizeof pw) && !strcmp(pw, "x"));
    CHECK(v2_basic_password("Basic QVdTOng", pw, sizeof pw) && !strcmp(pw, "x"));
    CHECK(!v2_basic_password("Basic QVdTOng=x", pw, sizeof pw));
    CHECK(!v2_basic_password("Basic QVdTOng===", pw, sizeof pw));
    CHECK(!v2_basic_password("Basic QVdTO", pw, sizeof pw)); /* a dangling character */
    CHECK(!v2_basic_password("Basic QVdTOng= junk", pw, sizeof pw));
    CHECK(!v2_basic_password("Basic QVdT!ng=", pw, sizeof pw));
    CHECK(!v2_basic_password("Basic QVdTOgB4", pw, sizeof pw)); /* "AWS:\0x" */
    /* Far too long for any password: refused, not cut. */
    char big[700] = "AWS:";
    memset(big + 4, 'p', 500);
    big[504] = '\0';
    basic_of(big, h);
    CHECK(!v2_basic_password(h, pw, sizeof pw));
}

static void escapes(void)
{
    char out[64];
    CHECK(v2_query_escape("a-b.c_d~9", out, sizeof out));
    CHECK_STR(out, "a-b.c_d~9");
    CHECK(v2_query_escape("a b/&=%\xc3\xa9", out, sizeof out));
    CHECK_STR(out, "a%20b%2F%26%3D%25%C3%A9");
    CHECK(v2_query_escape("abc", out, 4));
    CHECK(!v2_query_escape("abc", out, 3));
    CHECK(!v2_query_escape("a/", out, 4));
    CHECK(v2_query_escape("a/", out, 5));
    CHECK(v2_query_escape("", out, 1) && out[0] == '\0');
}

int main(void)
{
    routes();
    ranges();
    accepts();
    pages();
    basics();
    escapes();
    return test_finish("test_v2route");
}
