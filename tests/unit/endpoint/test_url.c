/* The URL splitter the endpoint parser, the SigV4 Host value and message masking share
 * (signer/url.c), and what each of the three makes of the same awkward URLs: IPv6 literals,
 * ports, user info, a missing scheme, trailing paths. */
#include "test.h"

#include "signer/endpoint.h"
#include "signer/sigv4.h"
#include "signer/url.h"

static int span_is(const char *p, size_t n, const char *want)
{
    return p && strlen(want) == n && memcmp(p, want, n) == 0;
}

static void test_split(void)
{
    struct url_parts u;
    REQUIRE(url_split("https://H.example:8443/p/q?x=1#f", &u));
    CHECK(span_is(u.scheme, u.scheme_len, "https"));
    CHECK(span_is(u.authority, u.authority_len, "H.example:8443"));
    CHECK(u.userinfo == NULL);
    CHECK(span_is(u.host, u.host_len, "H.example"));
    CHECK(!u.bracketed && u.problem == URL_HOST_FINE);
    CHECK(span_is(u.port, u.port_len, "8443"));
    CHECK_STR(u.rest, "/p/q?x=1#f");

    REQUIRE(url_split("http://[::1]:9000/", &u));
    CHECK(u.bracketed && u.problem == URL_HOST_FINE);
    CHECK(span_is(u.host, u.host_len, "[::1]"));
    CHECK(span_is(u.port, u.port_len, "9000"));
    CHECK_STR(u.rest, "/");

    REQUIRE(url_split("http://[fd00:ec2::23]", &u));
    CHECK(span_is(u.host, u.host_len, "[fd00:ec2::23]"));
    CHECK(u.port == NULL);
    CHECK_STR(u.rest, "");

    REQUIRE(url_split("http://[::1", &u));
    CHECK(u.bracketed && u.problem == URL_HOST_UNCLOSED);
    REQUIRE(url_split("http://[::1]x:80", &u));
    CHECK(u.problem == URL_HOST_TRAILING);
    CHECK(span_is(u.host, u.host_len, "[::1]"));

    /* User info ends at the last '@': a password may hold one. */
    REQUIRE(url_split("https://u:p@w@h:1/x", &u));
    CHECK(span_is(u.userinfo, u.userinfo_len, "u:p@w"));
    CHECK(span_is(u.host, u.host_len, "h"));
    CHECK(span_is(u.port, u.port_len, "1"));
    REQUIRE(url_split("https://u@[::1]:2", &u));
    CHECK(span_is(u.userinfo, u.userinfo_len, "u"));
    CHECK(span_is(u.host, u.host_len, "[::1]"));
    CHECK(span_is(u.port, u.port_len, "2"));
    /* An '@' in the path is not user info. */
    REQUIRE(url_split("http://h/a@b", &u));
    CHECK(u.userinfo == NULL);
    CHECK(span_is(u.host, u.host_len, "h"));

    REQUIRE(url_split("http://h:", &u));
    CHECK(u.port != NULL && u.port_len == 0);
    REQUIRE(url_split("http://h?x", &u));
    CHECK(span_is(u.authority, u.authority_len, "h"));
    CHECK_STR(u.rest, "?x");
    REQUIRE(url_split("http://", &u));
    CHECK(u.authority_len == 0 && u.host_len == 0 && u.port == NULL);

    /* No "://": nothing. A "://" further on still splits; callers judge the scheme. */
    CHECK(!url_split("h.example:443/p", &u));
    CHECK(u.scheme == NULL && u.host == NULL);
    CHECK(!url_split(NULL, &u));
    REQUIRE(url_split("h/x://y", &u));
    CHECK(span_is(u.scheme, u.scheme_len, "h/x"));
    CHECK(span_is(u.host, u.host_len, "y"));
}

static void test_port_number(void)
{
    unsigned v = 7;
    CHECK(url_port_number("0", 1, &v) && v == 0);
    CHECK(url_port_number("65535", 5, &v) && v == 65535);
    CHECK(url_port_number("00080", 5, &v) && v == 80);
    v = 7;
    CHECK(!url_port_number("65536", 5, &v));
    CHECK(!url_port_number("123456", 6, &v));
    CHECK(!url_port_number("", 0, &v));
    CHECK(!url_port_number("8a", 2, &v));
    CHECK(!url_port_number("-1", 2, &v));
    CHECK(v == 7);
}

/* The Host value botocore signs: userinfo dropped, lowercase, default ports left out. */
static void test_host_value(void)
{
    static const struct {
        const char *url, *host;
    } good[] = {
        {"HTTPS://[::1]:443/x", "[::1]"},
        {"http://[::1]:443", "[::1]:443"},
        {"http://user:pw@H.Example:80/p", "h.example"},
        {"https://u:p@w@h", "h"},
        {"http://h:", "h"},
        {"http://h:0", "h:0"},
        {"http://h:00080", "h"},
        {"http://h?x=1", "h"},
        {"http://h#f", "h"},
        /* A "://" inside a path is taken as the scheme's end, as before: only the engine's
         * already-parsed endpoints reach this. */
        {"h/x://y:81", "y:81"},
    };
    struct ebuf b = EBUF_INIT;
    for (size_t i = 0; i < sizeof good / sizeof *good; i++) {
        CHECK_EQ_INT(sigv4_host_from_url(good[i].url, &b), 0);
        CHECK_STR(ebuf_str(&b), good[i].host);
    }
    static const char *const bad[] = {"h.example",        "://h",        "http://",
                                      "http://[]",        "http://[::1", "http://[::1]x",
                                      "http://h:123456",  "http://h:8a", "http://h:65536",
                                      "http://user@:80/", NULL};
    for (size_t i = 0; bad[i]; i++) {
        CHECK_EQ_INT(sigv4_host_from_url(bad[i], &b), -1);
    }
    ebuf_free(&b);
}

/* User info is refused by the endpoint parser and masked in its message, whatever else is
 * wrong with the URL. */
static void test_endpoint_masks_userinfo(void)
{
    static const char *const urls[] = {"https://user:s3cret@h.example/p",
                                       "ftp://user:s3cret@h.example",
                                       "https://user:s3cr@et@[::1]:99999", "a/b://x:s3cret@h"};
    for (size_t i = 0; i < sizeof urls / sizeof *urls; i++) {
        struct endpoint_url u;
        struct ebuf m = EBUF_INIT;
        CHECK_EQ_INT(endpoint_parse_url(urls[i], &u, &m), ECRUP_E_ENDPOINT);
        CHECK(strstr(ebuf_str(&m), "s3cr") == NULL);
        CHECK(strstr(ebuf_str(&m), "***@") != NULL);
        ebuf_free(&m);
    }
    struct endpoint_url u;
    struct ebuf m = EBUF_INIT;
    CHECK_EQ_INT(endpoint_parse_url("HTTP://[::1]:8080/v2/", &u, &m), ECRUP_OK);
    CHECK_STR(u.host, "::1");
    CHECK_STR(u.host_header, "[::1]:8080");
    CHECK_STR(u.path, "/v2/");
    CHECK_STR(u.base_url, "http://[::1]:8080/v2/");
    CHECK(u.ipv6 && !u.port_default && u.port == 8080);
    endpoint_url_free(&u);
    CHECK_EQ_INT(endpoint_parse_url("https://h.example:443", &u, &m), ECRUP_OK);
    CHECK_STR(u.host_header, "h.example");
    CHECK(u.port_default && u.port == 443);
    CHECK_STR(u.path, "/");
    endpoint_url_free(&u);
    ebuf_free(&m);
}

int main(void)
{
    test_split();
    test_port_number();
    test_host_value();
    test_endpoint_masks_userinfo();
    return test_finish("test_url");
}
