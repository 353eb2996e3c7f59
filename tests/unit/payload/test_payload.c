/* UploadLayerPart bodies: parsed back with cJSON, blob decoded with OpenSSL, hashes checked
 * against OpenSSL one-shot digests, the size function exact, names escaped. */
#include <cjson/cJSON.h>
#include <openssl/evp.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "engine/base64.h"
#include "engine/payload.h"
#include "engine/sha256.h"
#include "test.h"
#include "util/hex.h"

/* Decode standard padded base64 with OpenSSL; NULL when malformed. *len set. */
static uint8_t *decode(const char *text, size_t *len)
{
    size_t n = strlen(text);
    if (n % 4)
        return NULL;
    uint8_t *out = malloc(n / 4 * 3 + 1);
    REQUIRE(out);
    int got = EVP_DecodeBlock(out, (const unsigned char *)text, (int)n);
    if (got < 0) {
        free(out);
        return NULL;
    }
    size_t pad = (size_t)(n && text[n - 1] == '=') + (size_t)(n > 1 && text[n - 2] == '=');
    *len = (size_t)got - pad;
    return out;
}

/* cJSON keeps numbers as doubles: exact for the offsets used here (below 2^53); the
 * largest values are checked on the exact text instead. */
static bool is_uint(const cJSON *item, uint64_t want)
{
    return cJSON_IsNumber(item) && item->valuedouble == (double)want;
}

static bool contains(const char *body, size_t len, const char *needle)
{
    return memmem(body, len, needle, strlen(needle)) != NULL;
}

/* A copy of a running stream, to feed the same bytes twice. */
static void stream_clone(struct sha256_stream *dst, const struct sha256_stream *src)
{
    *dst = *src;
    if (src->evp) {
        REQUIRE((dst->evp = EVP_MD_CTX_new()) != NULL);
        REQUIRE(EVP_MD_CTX_copy_ex(dst->evp, src->evp) == 1);
    }
}

/* The body streamed with `backend` in pieces of varying sizes (1 byte to 300 KiB, odd ones
 * cutting base64 groups), then again after a rewind in one read, is `want` byte for byte. */
static void check_stream(const struct payload_part *part, ecrup_base64_backend backend,
                         const char *want, size_t len)
{
    static uint64_t seed = 77;
    struct payload_stream *st = malloc(sizeof *st);
    char *got = malloc(len + 64);
    REQUIRE(st && got);
    REQUIRE(payload_stream_init(st, part, backend) == ECRUP_OK);
    CHECK_EQ_INT(st->body_len, len);
    const size_t sizes[] = {1, 2, 3, 5, 63, 4096, 16385, 65536, 307201};
    size_t at = 0;
    for (size_t k = 0; at < len + 1; k++) {
        size_t cap = sizes[test_rand(&seed) % (sizeof sizes / sizeof sizes[0])];
        size_t n = payload_stream_read(st, got + at, cap);
        if (!n)
            break;
        CHECK(n <= cap);
        at += n;
    }
    CHECK_EQ_INT(at, len);
    CHECK(memcmp(got, want, len) == 0);
    CHECK_EQ_INT(payload_stream_read(st, got, 16), 0); /* the end stays the end */
    payload_stream_rewind(st);
    memset(got, 0, len);
    CHECK_EQ_INT(payload_stream_read(st, got, len + 64), len);
    CHECK(memcmp(got, want, len) == 0);
    free(got);
    free(st);
}

/* payload_hash() with the same options gives what payload_write() gave (`res`, and the layer
 * digest `layer_after`, taken from a clone of the stream as it was before the write). */
static void check_hash_only(const struct payload_part *part, const struct payload_options *opts,
                            const struct sha256_stream *layer_before,
                            const struct payload_result *res, struct sha256_stream *layer_after)
{
    struct sha256_stream layer;
    struct payload_options o = *opts;
    if (layer_before) {
        stream_clone(&layer, layer_before);
        o.layer_sha256 = &layer;
    }
    struct payload_result h;
    REQUIRE(payload_hash(part, &o, &h) == ECRUP_OK);
    CHECK_EQ_INT(h.body_len, res->body_len);
    CHECK_STR(h.body_sha256_hex, res->body_sha256_hex);
    if (layer_before) {
        struct sha256_stream after;
        stream_clone(&after, layer_after);
        unsigned char a[32], b[32];
        REQUIRE(sha256_stream_final(&layer, a) == 0 && sha256_stream_final(&after, b) == 0);
        CHECK(memcmp(a, b, 32) == 0);
        sha256_stream_free(&layer);
        sha256_stream_free(&after);
    }
}

/* Write the body for `part` with `opts`, check it through and through; returns the body. */
static char *check_part(const struct payload_part *part, const struct payload_options *opts,
                        struct payload_result *res)
{
    size_t size = payload_body_size(part);
    REQUIRE(size > 0);
    char *body = malloc(size + 16);
    REQUIRE(body);
    memset(body, '#', size + 16);
    CHECK_EQ_INT(payload_write(part, opts, body, size - 1, res), ECRUP_E_INVALID_ARGUMENT);
    CHECK(body[0] == '#'); /* nothing written when the buffer is short */
    struct sha256_stream before;
    bool layered = opts && opts->layer_sha256;
    if (layered)
        stream_clone(&before, opts->layer_sha256);
    REQUIRE(payload_write(part, opts, body, size, res) == ECRUP_OK);
    CHECK_EQ_INT(res->body_len, size);
    check_hash_only(part, opts ? opts : &(struct payload_options){0}, layered ? &before : NULL, res,
                    layered ? opts->layer_sha256 : NULL);
    if (layered)
        sha256_stream_free(&before);
    check_stream(part, opts ? opts->backend : ECRUP_BASE64_AUTO, body, size);
    CHECK(body[size] == '#');

    char hex[65];
    REQUIRE(sha256_hex(body, size, hex));
    CHECK_STR(res->body_sha256_hex, hex);

    cJSON *json = cJSON_ParseWithLength(body, size);
    REQUIRE(json);
    CHECK_EQ_INT(cJSON_GetArraySize(json), part->registry_id ? 6 : 5);
    const cJSON *reg = cJSON_GetObjectItemCaseSensitive(json, "registryId");
    if (part->registry_id)
        CHECK(cJSON_IsString(reg) && strcmp(reg->valuestring, part->registry_id) == 0);
    else
        CHECK(reg == NULL);
    const cJSON *repo = cJSON_GetObjectItemCaseSensitive(json, "repositoryName");
    CHECK(cJSON_IsString(repo) && strcmp(repo->valuestring, part->repository_name) == 0);
    const cJSON *up = cJSON_GetObjectItemCaseSensitive(json, "uploadId");
    CHECK(cJSON_IsString(up) && strcmp(up->valuestring, part->upload_id) == 0);
    CHECK(is_uint(cJSON_GetObjectItemCaseSensitive(json, "partFirstByte"), part->first_byte));
    CHECK(is_uint(cJSON_GetObjectItemCaseSensitive(json, "partLastByte"),
                  part->first_byte + part->len - 1));
    const cJSON *blob = cJSON_GetObjectItemCaseSensitive(json, "layerPartBlob");
    REQUIRE(cJSON_IsString(blob));
    size_t dlen = 0;
    uint8_t *dec = decode(blob->valuestring, &dlen);
    CHECK(dec && dlen == part->len && memcmp(dec, part->data, dlen) == 0);
    free(dec);
    cJSON_Delete(json);
    return body;
}

/* The ways a layer digest can be computed: the payload path (native loop or OpenSSL) and the
 * running stream's own implementation. Native ones only where the CPU has SHA-NI. */
struct sha_mode {
    const char *name;
    bool native_path, native_stream;
};
static const struct sha_mode sha_modes[] = {{"native/native", true, true},
                                            {"openssl/native", false, true},
                                            {"native/openssl", true, false},
                                            {"openssl/openssl", false, false}};

static bool mode_runs(const struct sha_mode *m)
{
    return (!m->native_path && !m->native_stream) || sha256_native_available();
}

static void test_fields_and_hashes(void)
{
    uint64_t seed = 3;
    const size_t max = (5u << 20) + 7;
    uint8_t *data = malloc(max + 80); /* parts start at data + li, after `pre` earlier bytes */
    REQUIRE(data);
    test_rand_bytes(&seed, data, max + 80);
    /* Around the native loop's edges: 48-byte chunks, 64-byte blocks, both lanes. */
    const size_t lens[] = {1,   2,   3,   4,   47,  48,   49,    95,    96,    97,    143,
                           144, 145, 191, 192, 193, 1000, 65536, 49151, 49152, 49153, max};
    const size_t blocks[] = {0, 1, 3, 4, 1000, 49152, SIZE_MAX};
    const ecrup_base64_backend backends[] = {ECRUP_BASE64_AUTO, ECRUP_BASE64_SCALAR,
                                             ECRUP_BASE64_SSSE3, ECRUP_BASE64_AVX2,
                                             ECRUP_BASE64_AVX512};
    size_t n = 0, native_runs = 0;
    for (size_t li = 0; li < sizeof lens / sizeof lens[0]; li++) {
        for (size_t bi = 0; bi < sizeof blocks / sizeof blocks[0]; bi++) {
            if (blocks[bi] && blocks[bi] < 1000 && lens[li] > 100000)
                continue; /* tiny blocks over megabytes: slow and says nothing new */
            for (size_t ki = 0; ki < sizeof backends / sizeof backends[0]; ki++) {
                if (!b64_backend_available(backends[ki]))
                    continue;
                const struct sha_mode *m = &sha_modes[(li + bi + ki) % 4];
                if (!mode_runs(m))
                    m = &sha_modes[3];
                /* The layer stream has taken `pre` bytes before this part (0..63). */
                size_t pre = (li * 7 + bi * 13 + ki * 29) % 64;
                struct payload_part part = {
                    .data = data + pre + li % 16, /* odd alignments too */
                    .len = lens[li],
                    .first_byte = (uint64_t)li * 10485760u,
                    .repository_name = "team/app-server",
                    .registry_id = (li & 1) ? "123456789012" : NULL,
                    .upload_id = "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0",
                };
                struct sha256_stream layer;
                REQUIRE(sha256_stream_init(&layer, m->native_stream) == 0);
                REQUIRE(sha256_stream_update(&layer, part.data - pre, pre) == 0);
                struct payload_options opts = {.backend = backends[ki],
                                               .layer_sha256 = &layer,
                                               .block = blocks[bi],
                                               .sha256 = m->native_path ? PAYLOAD_SHA256_AUTO
                                                                        : PAYLOAD_SHA256_OPENSSL};
                native_runs += payload_native(&opts);
                struct payload_result res;
                free(check_part(&part, &opts, &res));
                unsigned char md[32], want[32];
                REQUIRE(sha256_stream_final(&layer, md) == 0);
                REQUIRE(EVP_Digest(part.data - pre, pre + part.len, want, NULL, EVP_sha256(),
                                   NULL) == 1);
                if (memcmp(md, want, 32) != 0)
                    printf("layer digest wrong: len %zu pre %zu mode %s backend %s\n", part.len,
                           pre, m->name, b64_backend_name(backends[ki]));
                CHECK(memcmp(md, want, 32) == 0);
                sha256_stream_free(&layer);
                n++;
            }
        }
    }
    printf("%zu bodies parsed back, decoded and hashed correctly (%zu on the native path)\n", n,
           native_runs);
    CHECK(native_runs > 0 || !sha256_native());
    free(data);
}

/* Parts written one after another feed one running layer digest; the digest-known path
 * (no layer context) writes the same body. Every implementation pairing. */
static void test_layer_digest_across_parts(void)
{
    uint64_t seed = 11;
    const size_t total = 3u << 20, sizes[] = {1u << 20, (1u << 20) + 1, (1u << 20) - 1};
    uint8_t *data = malloc(total);
    REQUIRE(data);
    test_rand_bytes(&seed, data, total);
    for (size_t mi = 0; mi < 4; mi++) {
        const struct sha_mode *m = &sha_modes[mi];
        if (!mode_runs(m))
            continue;
        enum payload_sha256_path path =
            m->native_path ? PAYLOAD_SHA256_AUTO : PAYLOAD_SHA256_OPENSSL;
        struct sha256_stream layer;
        REQUIRE(sha256_stream_init(&layer, m->native_stream) == 0);
        size_t off = 0;
        for (size_t i = 0; i < 3; i++) {
            struct payload_part part = {.data = data + off,
                                        .len = sizes[i],
                                        .first_byte = off,
                                        .repository_name = "r",
                                        .upload_id = "u"};
            struct payload_options with = {.layer_sha256 = &layer, .sha256 = path},
                                   without = {.sha256 = path};
            struct payload_result r1, r2;
            char *b1 = check_part(&part, &with, &r1);
            char *b2 = check_part(&part, &without, &r2);
            CHECK(r1.body_len == r2.body_len && memcmp(b1, b2, r1.body_len) == 0);
            CHECK_STR(r1.body_sha256_hex, r2.body_sha256_hex);
            free(b1);
            free(b2);
            off += sizes[i];
        }
        unsigned char md[32], want[32];
        REQUIRE(sha256_stream_final(&layer, md) == 0);
        REQUIRE(EVP_Digest(data, total, want, NULL, EVP_sha256(), NULL) == 1);
        CHECK(memcmp(md, want, 32) == 0);
        sha256_stream_free(&layer);
    }
    free(data);
}

/* The stream on its own: FIPS 180-4 examples, then random messages fed in random pieces,
 * against OpenSSL's one-shot digest; native and OpenSSL streams alike. */
static void test_sha256_stream(void)
{
    static const struct {
        const char *msg;
        const char *hex;
    } known[] = {
        {"", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"},
        {"abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"},
        {"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
         "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"},
    };
    for (int native = 0; native < 2; native++) {
        if (native && !sha256_native_available())
            break;
        for (size_t i = 0; i < sizeof known / sizeof known[0]; i++) {
            struct sha256_stream s;
            REQUIRE(sha256_stream_init(&s, native) == 0);
            CHECK((s.evp == NULL) == (native == 1));
            REQUIRE(sha256_stream_update(&s, known[i].msg, strlen(known[i].msg)) == 0);
            unsigned char md[32];
            char hex[65];
            REQUIRE(sha256_stream_final(&s, md) == 0);
            hex_encode(md, 32, hex);
            CHECK_STR(hex, known[i].hex);
            sha256_stream_free(&s);
        }
    }
    uint64_t seed = 19;
    uint8_t *msg = malloc(70000);
    REQUIRE(msg);
    size_t n = 0;
    for (int round = 0; round < 400; round++) {
        size_t len = round < 200 ? (size_t)round : test_rand(&seed) % 70000;
        test_rand_bytes(&seed, msg, len);
        unsigned char want[32];
        REQUIRE(EVP_Digest(msg, len, want, NULL, EVP_sha256(), NULL) == 1);
        for (int native = 0; native < 2; native++) {
            if (native && !sha256_native_available())
                break;
            struct sha256_stream s;
            REQUIRE(sha256_stream_init(&s, native) == 0);
            for (size_t off = 0; off < len;) {
                size_t piece =
                    test_rand(&seed) % 3 == 0 ? test_rand(&seed) % 200 : test_rand(&seed) % 5000;
                piece = piece > len - off ? len - off : piece;
                REQUIRE(sha256_stream_update(&s, msg + off, piece) == 0);
                off += piece;
            }
            unsigned char md[32];
            REQUIRE(sha256_stream_final(&s, md) == 0);
            CHECK(memcmp(md, want, 32) == 0);
            sha256_stream_free(&s);
            n++;
        }
    }
    printf("%zu streamed messages equal OpenSSL's digest (native %s)\n", n,
           sha256_native_available() ? "tested" : "not on this CPU");
    free(msg);
}

/* The fused kernel directly: two messages and two encodings in one loop equal two separate
 * hashes and the encoder's text, for every combination of lanes and encodings. */
static void test_fused_kernel(void)
{
#if defined(__x86_64__)
    if (!sha256_native_available()) {
        printf("fused kernel: no SHA-NI on this CPU, covered by the OpenSSL rows above\n");
        return;
    }
    uint64_t seed = 23;
    enum { BLOCKS = 300 };
    uint8_t *msg[2], *src[2];
    char *text[2], *want_text = malloc(64 * BLOCKS);
    for (int i = 0; i < 2; i++) {
        msg[i] = malloc(64 * BLOCKS);
        src[i] = malloc(48 * BLOCKS);
        text[i] = malloc(64 * BLOCKS);
        REQUIRE(msg[i] && src[i] && text[i]);
    }
    REQUIRE(want_text);
    size_t runs = 0;
    for (size_t n = 0; n <= BLOCKS; n += n < 4 ? 1 : 37) {
        for (unsigned combo = 0; combo < 8; combo++) {
            bool two = combo & 1, enc[2] = {combo & 2, combo & 4};
            if (!two && enc[1])
                continue;
            struct sha256_stream got[2], want[2];
            struct sha256_ni_lane lanes[2];
            for (int i = 0; i < 2; i++) {
                test_rand_bytes(&seed, msg[i], 64 * BLOCKS);
                test_rand_bytes(&seed, src[i], 48 * BLOCKS);
                REQUIRE(sha256_stream_init(&got[i], true) == 0);
                REQUIRE(sha256_stream_init(&want[i], false) == 0);
                lanes[i] = (struct sha256_ni_lane){.h = got[i].h,
                                                   .data = msg[i],
                                                   .enc_src = src[i],
                                                   .enc_dst = enc[i] ? text[i] : NULL};
            }
            sha256_ni_fused(&lanes[0], two ? &lanes[1] : NULL, n);
            for (int i = 0; i < (two ? 2 : 1); i++) {
                got[i].len = 64 * (uint64_t)n;
                REQUIRE(sha256_stream_update(&want[i], msg[i], 64 * n) == 0);
                unsigned char m[32], w[32];
                REQUIRE(sha256_stream_final(&got[i], m) == 0);
                REQUIRE(sha256_stream_final(&want[i], w) == 0);
                CHECK(memcmp(m, w, 32) == 0);
                if (enc[i]) {
                    CHECK(b64_encode(ECRUP_BASE64_SCALAR, want_text, src[i], 48 * n) == 64 * n);
                    CHECK(memcmp(text[i], want_text, 64 * n) == 0);
                }
            }
            for (int i = 0; i < 2; i++)
                sha256_stream_free(&want[i]);
            runs++;
        }
    }
    printf("fused kernel: %zu runs equal separate hashes and the scalar encoder\n", runs);
    for (int i = 0; i < 2; i++) {
        free(msg[i]);
        free(src[i]);
        free(text[i]);
    }
    free(want_text);
#endif
}

/* Two bodies at once are exactly the two bodies written one by one, on either path, for
 * lengths around the loop's edges and parts of different lengths. */
static void test_write_pair(void)
{
    uint64_t seed = 29;
    const size_t lens[] = {1, 47, 48, 49, 96, 97, 191, 192, 4096, 65537, 1u << 20};
    enum { NL = sizeof lens / sizeof lens[0] };
    uint8_t *data = malloc((2u << 20) + 64);
    REQUIRE(data);
    test_rand_bytes(&seed, data, (2u << 20) + 64);
    size_t n = 0;
    for (size_t i = 0; i < NL; i++) {
        for (size_t j = 0; j < NL; j++) {
            for (int path = 0; path < 2; path++) {
                struct payload_part p0 = {.data = data + i,
                                          .len = lens[i],
                                          .first_byte = 5u << 20,
                                          .repository_name = "team/app",
                                          .upload_id = "u-1"},
                                    p1 = {.data = data + (1u << 20) + j,
                                          .len = lens[j],
                                          .first_byte = 0,
                                          .repository_name = "other\\repo",
                                          .registry_id = "123456789012",
                                          .upload_id = "u-2"};
                const struct payload_part *parts[2] = {&p0, &p1};
                struct payload_options opts = {.sha256 = path ? PAYLOAD_SHA256_OPENSSL
                                                              : PAYLOAD_SHA256_AUTO};
                struct payload_result r[2], w[2], *rp[2] = {&r[0], &r[1]};
                char *bodies[2], *want[2];
                size_t caps[2];
                for (int k = 0; k < 2; k++) {
                    caps[k] = payload_body_size(parts[k]);
                    bodies[k] = malloc(caps[k]);
                    want[k] = check_part(parts[k], &opts, &w[k]);
                    REQUIRE(bodies[k]);
                }
                CHECK(payload_write_pair(parts, &opts, bodies, caps, rp) == ECRUP_OK);
                struct payload_result hr[2], *hp[2] = {&hr[0], &hr[1]};
                CHECK(payload_hash_pair(parts, &opts, hp) == ECRUP_OK);
                for (int k = 0; k < 2; k++) {
                    CHECK(hr[k].body_len == w[k].body_len);
                    CHECK_STR(hr[k].body_sha256_hex, w[k].body_sha256_hex);
                    CHECK(r[k].body_len == w[k].body_len &&
                          memcmp(bodies[k], want[k], w[k].body_len) == 0);
                    CHECK_STR(r[k].body_sha256_hex, w[k].body_sha256_hex);
                    free(bodies[k]);
                    free(want[k]);
                }
                n++;
            }
        }
    }
    /* A buffer too small is refused before anything is written. */
    struct payload_part p = {.data = data, .len = 100, .repository_name = "r", .upload_id = "u"};
    const struct payload_part *parts[2] = {&p, &p};
    char b0[400], b1[400];
    char *bodies[2] = {b0, b1};
    size_t caps[2] = {sizeof b0, payload_body_size(&p) - 1};
    struct payload_result r0, r1, *rp[2] = {&r0, &r1};
    CHECK(payload_write_pair(parts, NULL, bodies, caps, rp) == ECRUP_E_INVALID_ARGUMENT);
    printf("%zu body pairs equal the bodies written one by one\n", n);
    free(data);
}

static void test_exact_text_and_escaping(void)
{
    const uint8_t bytes[] = "hello";
    struct payload_part part = {
        .data = bytes, .len = 5, .first_byte = 0, .repository_name = "a/b", .upload_id = "u-1"};
    struct payload_result res;
    char body[2048];
    REQUIRE(payload_write(&part, NULL, body, sizeof body, &res) == ECRUP_OK);
    const char *want = "{\"repositoryName\":\"a/b\",\"uploadId\":\"u-1\",\"partFirstByte\":0,"
                       "\"partLastByte\":4,\"layerPartBlob\":\"aGVsbG8=\"}";
    CHECK(res.body_len == strlen(want) && memcmp(body, want, res.body_len) == 0);

    part.registry_id = "0123";
    part.first_byte = 9223372036854775806u; /* the largest partLastByte a Long holds */
    part.len = 2;
    REQUIRE(payload_write(&part, NULL, body, sizeof body, &res) == ECRUP_OK);
    want = "{\"registryId\":\"0123\",\"repositoryName\":\"a/b\",\"uploadId\":\"u-1\","
           "\"partFirstByte\":9223372036854775806,\"partLastByte\":9223372036854775807,"
           "\"layerPartBlob\":\"aGU=\"}";
    CHECK(res.body_len == strlen(want) && memcmp(body, want, res.body_len) == 0);

    /* Quotes, backslashes, every control character, DEL and UTF-8 in every name. */
    char nasty[64];
    size_t k = 0;
    nasty[k++] = '"';
    nasty[k++] = '\\';
    for (int c = 1; c < 0x20; c++)
        nasty[k++] = (char)c;
    memcpy(nasty + k, "\x7f/\xc3\xa9\"x\\", 8);
    k += 8;
    nasty[k] = '\0';
    part = (struct payload_part){.data = bytes,
                                 .len = 3,
                                 .first_byte = 5,
                                 .repository_name = nasty,
                                 .registry_id = nasty,
                                 .upload_id = nasty};
    struct payload_options opts = {.backend = ECRUP_BASE64_SCALAR};
    free(check_part(&part, &opts, &res));
    REQUIRE(payload_write(&part, &opts, body, sizeof body, &res) == ECRUP_OK);
    CHECK(contains(body, res.body_len, "\\\"\\\\\\u0001\\u0002"));
    CHECK(contains(body, res.body_len, "\\b\\t\\n\\u000b\\f\\r\\u000e"));
    CHECK(contains(body, res.body_len, "\\u001f\x7f/\xc3\xa9\\\"x\\\\\""));
}

static void test_invalid(void)
{
    const uint8_t b[4] = {0};
    char body[256];
    struct payload_result res;
    struct payload_part ok = {.data = b, .len = 4, .repository_name = "r", .upload_id = "u"};
    struct payload_part p = ok;
    p.len = 0;
    CHECK_EQ_INT(payload_body_size(&p), 0);
    CHECK_EQ_INT(payload_write(&p, NULL, body, sizeof body, &res), ECRUP_E_INVALID_ARGUMENT);
    p = ok;
    p.data = NULL;
    CHECK_EQ_INT(payload_body_size(&p), 0);
    p = ok;
    p.repository_name = NULL;
    CHECK_EQ_INT(payload_body_size(&p), 0);
    p = ok;
    p.upload_id = NULL;
    CHECK_EQ_INT(payload_body_size(&p), 0);
    p = ok;
    p.first_byte = 9223372036854775805u; /* last byte would be 2^63 */
    CHECK_EQ_INT(payload_body_size(&p), 0);
    p.first_byte = UINT64_MAX;
    CHECK_EQ_INT(payload_body_size(&p), 0);
    CHECK_EQ_INT(payload_body_size(NULL), 0);
    CHECK_EQ_INT(payload_write(&ok, NULL, NULL, 100, &res), ECRUP_E_INVALID_ARGUMENT);
    CHECK_EQ_INT(payload_write(&ok, NULL, body, sizeof body, NULL), ECRUP_E_INVALID_ARGUMENT);
    CHECK(payload_body_size(&ok) > 0);
}

int main(void)
{
    test_exact_text_and_escaping();
    test_invalid();
    test_layer_digest_across_parts();
    test_fields_and_hashes();
    test_sha256_stream();
    test_fused_kernel();
    test_write_pair();
    return test_finish("test_payload");
}
