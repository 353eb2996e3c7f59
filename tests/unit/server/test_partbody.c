/* The streaming UploadLayerPart parser against OpenSSL's base64 encoder: random blobs, random
 * chunkings, any member order, JSON escapes, both modes; and the model's name patterns. */
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>

#include "server/partbody.h"
#include "server/registry.h"
#include "test.h"

struct sink {
    uint8_t *buf;
    size_t len, cap;
    int started;
};

static int on_start(void *user, struct partbody *p)
{
    (void)p;
    ((struct sink *)user)->started++;
    return 0;
}

static int on_data(void *user, struct partbody *p, const uint8_t *d, size_t n)
{
    (void)p;
    struct sink *s = user;
    if (s->len + n > s->cap)
        return -1;
    memcpy(s->buf + s->len, d, n);
    s->len += n;
    return 0;
}

/* Parse `body` fed in random chunks; returns partbody_finish()'s result. */
static int parse(const char *body, size_t n, bool count_only, uint64_t *rng, struct sink *s,
                 struct partbody *p)
{
    struct partbody_hooks h = {on_start, count_only ? NULL : on_data, s};
    partbody_init(p, count_only, &h);
    size_t off = 0;
    while (off < n) {
        size_t chunk = 1 + test_rand(rng) % (test_rand(rng) % 4 == 0 ? 7 : 70000);
        if (chunk > n - off)
            chunk = n - off;
        /* A guarded copy: an over-read of the chunk faults. */
        void *g = test_guarded_copy(body + off, chunk);
        partbody_feed(p, g, chunk);
        test_guarded_free(g, chunk);
        off += chunk;
    }
    return partbody_finish(p);
}

static void round_trips(void)
{
    uint64_t rng = 42;
    static struct partbody p;
    for (int iter = 0; iter < 300; iter++) {
        size_t n = iter < 10 ? (size_t)iter + 1 : (size_t)(test_rand(&rng) % 300000);
        uint8_t *raw = malloc(n + 1);
        test_rand_bytes(&rng, raw, n);
        char *b64 = malloc(4 * (n / 3 + 1) + 1);
        int blen = EVP_EncodeBlock((unsigned char *)b64, raw, (int)n);
        /* Escape every '/' in some bodies, as a JSON encoder may. */
        bool escape = iter % 3 == 0;
        struct ebuf blob = EBUF_INIT;
        for (int i = 0; i < blen; i++) {
            if (escape && b64[i] == '/')
                ebuf_putc(&blob, '\\');
            ebuf_putc(&blob, b64[i]);
        }
        char head[256];
        snprintf(
            head, sizeof head,
            "\"repositoryName\":\"a/b\",\"uploadId\":\"0a1b2c3d-0000-4000-8000-00000000000%d\","
            "\"partFirstByte\":%d,\"partLastByte\":%zu",
            iter % 10, iter, (size_t)iter + n - 1);
        struct ebuf body = EBUF_INIT;
        if (iter % 2)
            ebuf_printf(&body,
                        " {%s, \"other\": [1, {\"x\": \"]\\\"\"}], \"layerPartBlob\" : \"%s\"}\n",
                        head, ebuf_str(&blob));
        else
            ebuf_printf(&body, "{\"layerPartBlob\":\"%s\",%s,\"flag\":true,\"n\":null}",
                        ebuf_str(&blob), head);
        for (int mode = 0; mode < 2; mode++) {
            bool count_only = mode == 1;
            if (count_only && escape)
                continue; /* documented: count-only mode does not see escapes */
            struct sink s = {malloc(n + 1), 0, n + 1, 0};
            int rc = parse(body.data, body.len, count_only, &rng, &s, &p);
            CHECK_EQ_INT(rc, 0);
            if (rc) {
                fprintf(stderr, "iter %d: %s: %s\n", iter, p.error_type, p.error);
            }
            CHECK(p.blob_size == n);
            CHECK_EQ_INT(s.started, 1);
            CHECK(p.part_first_byte == iter);
            CHECK(p.part_last_byte == (int64_t)((size_t)iter + n) - 1);
            CHECK_STR(p.repository_name, "a/b");
            CHECK(p.has_upload_id && p.upload_id[35] == (char)('0' + iter % 10));
            if (!count_only)
                CHECK(s.len == n && memcmp(s.buf, raw, n) == 0);
            free(s.buf);
        }
        ebuf_free(&body);
        ebuf_free(&blob);
        free(b64);
        free(raw);
    }
}

static void refusals(void)
{
    static const struct {
        const char *body;
        const char *type;
    } bad[] = {
        {"", "SerializationException"},
        {"[]", "SerializationException"},
        {"{\"layerPartBlob\":\"YQ=\"}", "SerializationException"},
        {"{\"layerPartBlob\":\"Y===\"}", "SerializationException"},
        {"{\"layerPartBlob\":\"YQ==YQ==\"}", "SerializationException"},
        {"{\"layerPartBlob\":\"Y!==\"}", "SerializationException"},
        {"{\"layerPartBlob\":\"\\nYQ==\"}", "SerializationException"},
        {"{\"layerPartBlob\":5}", "SerializationException"},
        {"{\"partFirstByte\":\"1\"}", "SerializationException"},
        {"{\"partFirstByte\":-1}", "SerializationException"},
        {"{\"partFirstByte\":1.5}", "SerializationException"},
        {"{\"uploadId\":7}", "SerializationException"},
        {"{\"repositoryName\":\"a/b\"", "SerializationException"},
        {"{\"repositoryName\":\"a/b\"}x", "SerializationException"},
        {"{\"repositoryName\":\"a/b\"}", "InvalidParameterException"},
        {"{\"layerPartBlob\":\"YQ==\",\"layerPartBlob\":\"YQ==\"}", "SerializationException"},
        {"{\"x\":tru}", "SerializationException"},
        {"{\"x\":[[[[", "SerializationException"},
    };
    uint64_t rng = 7;
    static struct partbody p;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct sink s = {malloc(16), 0, 16, 0};
        int rc = parse(bad[i].body, strlen(bad[i].body), false, &rng, &s, &p);
        CHECK_EQ_INT(rc, -1);
        if (rc == -1 && strcmp(p.error_type, bad[i].type) != 0)
            fprintf(stderr, "%s: got %s (%s)\n", bad[i].body, p.error_type, p.error);
        CHECK_STR(p.error_type, bad[i].type);
        free(s.buf);
    }
}

static void patterns(void)
{
    CHECK(valid_repository_name("ab"));
    CHECK(valid_repository_name("team/app-1.x__y/z"));
    CHECK(valid_repository_name("a---b"));
    CHECK(!valid_repository_name("a"));
    CHECK(!valid_repository_name("Ab"));
    CHECK(!valid_repository_name("a..b"));
    CHECK(!valid_repository_name("a___b"));
    CHECK(!valid_repository_name("a/"));
    CHECK(!valid_repository_name("/ab"));
    CHECK(!valid_repository_name("a//b"));
    CHECK(!valid_repository_name("ab-"));
    CHECK(valid_layer_digest("sha256:ABCdef0123"));
    CHECK(valid_layer_digest("a-b_c+d.e:0"));
    CHECK(!valid_layer_digest("sha256:"));
    CHECK(!valid_layer_digest(":abc"));
    CHECK(!valid_layer_digest("sha256:xyz"));
    CHECK(!valid_layer_digest("sha256"));
    CHECK(valid_upload_id("0a1b2c3d-0000-4000-8000-0000000000AF"));
    CHECK(!valid_upload_id("0a1b2c3d-0000-4000-8000-0000000000AF0"));
    CHECK(!valid_upload_id("0a1b2c3d00000-4000-8000-0000000000AF"));
    CHECK(!valid_upload_id(""));
}

/* json_has_nul on `text`: whether it finds a NUL, and the member it names. */
static void nul_case(const char *text, size_t n, bool want, const char *member)
{
    char got[64] = "unset";
    bool found = json_has_nul(text, n, got, sizeof got);
    if (found != want || (want && strcmp(got, member) != 0))
        fprintf(stderr, "json_has_nul(%.*s): %d '%s'\n", (int)n, text, found, got);
    CHECK(found == want);
    if (want)
        CHECK_STR(got, member);
}

static void nuls_and_media_types(void)
{
#define NUL_CASE(text, want, member) nul_case(text, sizeof text - 1, want, member)
    NUL_CASE("{\"imageTag\":\"a\\u0000evil\"}", true, "imageTag");
    NUL_CASE("{\"a\":1,\"imageIds\":[{\"imageTag\":\"x\\u0000\"}]}", true, "imageIds");
    NUL_CASE("{\"k\\u0000\":1}", true, "");
    NUL_CASE("{\"a\":\"b\",\"c\":\"d\x00"
             "e\"}",
             true, "c");
    /* An escaped backslash then "u0000" is text, not a NUL; nor is "\\u00001" spelt out. */
    NUL_CASE("{\"m\":\"\\\\u0000\"}", false, "");
    NUL_CASE("{\"m\":[\"x\",\"\\u0001\"],\"n\":{\"o\":\"\\\"u0000\"}}", false, "");
    /* A string in an array is no key: the member stays the one the array is in. */
    NUL_CASE("{\"list\":[\"a\",\"b\\u0000\"]}", true, "list");
    NUL_CASE("[\"\\u0000\"]", true, "");
    char deep[300];
    size_t n = 0;
    n += (size_t)snprintf(deep + n, sizeof deep - n, "{\"top\":");
    for (int i = 0; i < 80; i++)
        deep[n++] = '[';
    n += (size_t)snprintf(deep + n, sizeof deep - n, "\"\\u0000\"");
    nul_case(deep, n, true, "top");
#undef NUL_CASE
    CHECK(valid_media_type("application/vnd.oci.image.manifest.v1+json"));
    CHECK(valid_media_type("application/vnd.docker.distribution.manifest.list.v2+json"));
    CHECK(!valid_media_type("application"));
    CHECK(!valid_media_type("application/"));
    CHECK(!valid_media_type("/json"));
    CHECK(!valid_media_type("a/b/c"));
    CHECK(!valid_media_type("a/b c"));
    CHECK(!valid_media_type("a/b; charset=utf-8"));
    char longest[260];
    memset(longest, 'x', 255);
    longest[127] = '/';
    longest[255] = '\0';
    CHECK(valid_media_type(longest));
    longest[127] = 'x';
    longest[128] = '/';
    CHECK(!valid_media_type(longest)); /* a type of 128 characters */
}

int main(void)
{
    round_trips();
    refusals();
    patterns();
    nuls_and_media_types();
    return test_finish("test_partbody");
}
