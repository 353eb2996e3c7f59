/* Every base64 encoder against OpenSSL's EVP_EncodeBlock, plus selection, streaming and the
 * clean-upper-state promise (checked with XGETBV(1), not with timing). */
#include <openssl/evp.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "engine/base64.h"
#include "test.h"

#if defined(__SANITIZE_ADDRESS__)
#define SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SANITIZED 1
#endif
#endif

static const ecrup_base64_backend all[] = {ECRUP_BASE64_SCALAR, ECRUP_BASE64_SSSE3,
                                           ECRUP_BASE64_AVX2, ECRUP_BASE64_AVX512};
#define N_ALL (sizeof all / sizeof all[0])

static char *reference(const uint8_t *src, size_t len, size_t *out_len)
{
    char *ref = malloc(b64_encoded_len(len) + 1);
    REQUIRE(ref);
    int n = EVP_EncodeBlock((unsigned char *)ref, src, (int)len);
    REQUIRE(n >= 0 && (size_t)n == b64_encoded_len(len));
    *out_len = (size_t)n;
    return ref;
}

/* The tested backends; the ones this CPU lacks are named once and left out. */
static size_t usable(ecrup_base64_backend *out)
{
    size_t n = 0;
    for (size_t i = 0; i < N_ALL; i++) {
        if (b64_backend_available(all[i]))
            out[n++] = all[i];
        else
            printf("skip %s: this CPU (or build) cannot run it; the other backends are tested\n",
                   b64_backend_name(all[i]));
    }
    return n;
}

static void test_names_and_resolve(void)
{
    CHECK_EQ_INT(b64_encoded_len(0), 0);
    CHECK_EQ_INT(b64_encoded_len(1), 4);
    CHECK_EQ_INT(b64_encoded_len(3), 4);
    CHECK_EQ_INT(b64_encoded_len(4), 8);
    CHECK_EQ_INT(b64_encoded_len(SIZE_MAX), SIZE_MAX);
    for (size_t i = 0; i < N_ALL; i++) {
        ecrup_base64_backend b;
        CHECK(b64_backend_from_name(b64_backend_name(all[i]), &b) == 0 && b == all[i]);
    }
    ecrup_base64_backend b = ECRUP_BASE64_AUTO;
    CHECK(b64_backend_from_name("AVX2", &b) == 0 && b == ECRUP_BASE64_AVX2);
    CHECK(b64_backend_from_name("neon", &b) == -1);
    CHECK(b64_backend_available(ECRUP_BASE64_SCALAR));
    CHECK(!b64_backend_available((ecrup_base64_backend)99));
    CHECK(b64_backend_available(b64_backend_best()));
    CHECK(b64_backend_best() != ECRUP_BASE64_AUTO);

    unsetenv(B64_ENV);
    CHECK(b64_resolve(ECRUP_BASE64_AUTO, &b) == 0 && b == b64_backend_best());
    for (size_t i = 0; i < N_ALL; i++) {
        int want = b64_backend_available(all[i]) ? 0 : -1;
        CHECK_EQ_INT(b64_resolve(all[i], &b), want);
        setenv(B64_ENV, b64_backend_name(all[i]), 1);
        b = ECRUP_BASE64_AUTO;
        CHECK_EQ_INT(b64_resolve(ECRUP_BASE64_AUTO, &b), want);
        if (want == 0)
            CHECK_EQ_INT(b, all[i]);
    }
    setenv(B64_ENV, "sse9", 1);
    CHECK_EQ_INT(b64_resolve(ECRUP_BASE64_AUTO, &b), -1);
    /* An explicit choice wins over the environment. */
    CHECK(b64_resolve(ECRUP_BASE64_SCALAR, &b) == 0 && b == ECRUP_BASE64_SCALAR);
    setenv(B64_ENV, "", 1);
    CHECK(b64_resolve(ECRUP_BASE64_AUTO, &b) == 0 && b == b64_backend_best());
    unsetenv(B64_ENV);
}

/* Lengths 0..4096 at input alignments 0..63 (a subset under ASan, for time), with canaries
 * around the output to catch stray stores. */
static void test_all_lengths(const ecrup_base64_backend *bs, size_t nb)
{
    enum { MAXLEN = 4096 };
    uint64_t seed = 42;
    uint8_t *data = malloc(MAXLEN);
    REQUIRE(data);
    test_rand_bytes(&seed, data, MAXLEN);
    char **refs = calloc(MAXLEN + 1, sizeof *refs);
    REQUIRE(refs);
    for (size_t len = 0; len <= MAXLEN; len++) {
        size_t n;
        refs[len] = reference(data, len, &n);
    }
    uint8_t *in = aligned_alloc(64, MAXLEN + 128);
    char *out = aligned_alloc(64, (b64_encoded_len(MAXLEN) + 128 + 63) / 64 * 64);
    REQUIRE(in && out);
#ifdef SANITIZED
    static const size_t aligns[] = {0, 1, 2, 3, 4, 5, 7, 8, 12, 15, 16, 17, 31, 32, 33, 47, 63};
#else
    size_t aligns[64];
    for (size_t a = 0; a < 64; a++)
        aligns[a] = a;
#endif
    for (size_t ib = 0; ib < nb; ib++) {
        size_t bad = 0;
        for (size_t ai = 0; ai < sizeof aligns / sizeof aligns[0]; ai++) {
            size_t a = aligns[ai];
            memcpy(in + a, data, MAXLEN);
            for (size_t len = 0; len <= MAXLEN; len++) {
                size_t want = b64_encoded_len(len), oa = (len + a) % 64;
                memset(out, '#', want + oa + 64);
                size_t got = b64_encode(bs[ib], out + oa, in + a, len);
                if (got != want || memcmp(out + oa, refs[len], want) != 0 ||
                    (oa && out[oa - 1] != '#') || out[oa + want] != '#' ||
                    out[oa + want + 63] != '#') {
                    if (bad++ < 5)
                        fprintf(stderr, "%s: len %zu align %zu out-align %zu differs\n",
                                b64_backend_name(bs[ib]), len, a, oa);
                }
            }
        }
        CHECK_EQ_INT(bad, 0);
        printf("%s: lengths 0..%d at %zu alignments match EVP_EncodeBlock\n",
               b64_backend_name(bs[ib]), MAXLEN, sizeof aligns / sizeof aligns[0]);
    }
    for (size_t len = 0; len <= MAXLEN; len++)
        free(refs[len]);
    free(refs);
    free(in);
    free(out);
    free(data);
}

/* Inputs that end exactly at an unreadable page: a load past the end faults. */
static void test_no_overread(const ecrup_base64_backend *bs, size_t nb)
{
    uint64_t seed = 7;
    uint8_t data[400];
    char out[600], ref[600];
    test_rand_bytes(&seed, data, sizeof data);
    for (size_t len = 0; len <= sizeof data; len++) {
        uint8_t *g = test_guarded_copy(data, len);
        EVP_EncodeBlock((unsigned char *)ref, data, (int)len);
        for (size_t ib = 0; ib < nb; ib++) {
            size_t n = b64_encode(bs[ib], out, g, len);
            CHECK(n == b64_encoded_len(len) && memcmp(out, ref, n) == 0);
        }
        test_guarded_free(g, len);
    }
}

/* Large random inputs up to 20 MiB, whole, and in random chunks of multiples of 3 with the
 * backend changing from chunk to chunk: the text is always EVP_EncodeBlock's. */
static void test_large_and_chunked(const ecrup_base64_backend *bs, size_t nb)
{
    const size_t max = 20u << 20;
    uint64_t seed = 2026;
    uint8_t *data = malloc(max);
    char *out = malloc(b64_encoded_len(max));
    REQUIRE(data && out);
    test_rand_bytes(&seed, data, max);
    size_t lens[] = {max, max - 1, max - 2, 1 + test_rand(&seed) % max,
                     1 + test_rand(&seed) % (1u << 20)};
    size_t first = 0;
#ifdef SANITIZED
    first = 2; /* one 20 MiB input is enough under ASan, where each costs seconds */
#endif
    for (size_t li = first; li < sizeof lens / sizeof lens[0]; li++) {
        size_t len = lens[li], rn;
        char *ref = reference(data, len, &rn);
        for (size_t ib = 0; ib < nb; ib++) {
            memset(out, 0, rn);
            size_t n = b64_encode(bs[ib], out, data, len);
            CHECK(n == rn && memcmp(out, ref, rn) == 0);
        }
        if (li >= 3) {
            for (int round = 0; round < 3; round++) {
                memset(out, 0, rn);
                size_t i = 0, o = 0, k = 0;
                while (i < len) {
                    size_t chunk = 3 * (test_rand(&seed) % (round == 0 ? 40 : 100000));
                    if (chunk > len - i)
                        chunk = len - i; /* only the last chunk may be ragged */
                    o += b64_encode(bs[k++ % nb], out + o, data + i, chunk);
                    i += chunk;
                }
                CHECK(o == rn && memcmp(out, ref, rn) == 0);
            }
        }
        free(ref);
    }
    free(data);
    free(out);
}

#if defined(__x86_64__)
static uint64_t xgetbv(uint32_t index)
{
    uint32_t lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(index));
    return ((uint64_t)hi << 32) | lo;
}

/* XINUSE (XGETBV with ECX=1) bit 2 says whether the upper YMM halves are in use; after
 * vzeroupper the CPU reports them back in their initial state. Every encoder must leave
 * that bit clear, whatever the length. A dirty control first shows the bit can be seen. */
static void test_upper_state_clean(const ecrup_base64_backend *bs, size_t nb)
{
    unsigned a, b, c, d;
    __asm__ volatile("cpuid" : "=a"(a), "=b"(b), "=c"(c), "=d"(d) : "a"(1), "c"(0));
    bool osxsave_avx = (c & (1u << 27)) && (c & (1u << 28));
    __asm__ volatile("cpuid" : "=a"(a), "=b"(b), "=c"(c), "=d"(d) : "a"(0), "c"(0));
    unsigned max_leaf = a;
    bool xinuse = false;
    if (osxsave_avx && max_leaf >= 0xd) {
        __asm__ volatile("cpuid" : "=a"(a), "=b"(b), "=c"(c), "=d"(d) : "a"(0xd), "c"(1));
        xinuse = a & (1u << 2);
    }
    if (!xinuse || (xgetbv(0) & 0x6) != 0x6) {
        printf("skip upper-state check: no AVX or no XGETBV(1) on this CPU\n");
        return;
    }
    __asm__ volatile("vpcmpeqb %%ymm15, %%ymm15, %%ymm15" ::: "xmm15");
    bool seen_dirty = xgetbv(1) & 4;
    __asm__ volatile("vzeroupper" ::: "memory");
    bool seen_clean = !(xgetbv(1) & 4);
    if (!seen_dirty || !seen_clean) {
        printf("skip upper-state check: this CPU does not report the AVX state in XINUSE\n");
        return;
    }
    static uint8_t in[100000];
    static char out[140000];
    const size_t lens[] = {0, 1, 27, 28, 52, 64, 100, 4096, sizeof in};
    size_t total_dirty = 0;
    for (size_t ib = 0; ib < nb; ib++) {
        size_t dirty = 0;
        for (size_t li = 0; li < sizeof lens / sizeof lens[0]; li++) {
            b64_encode(bs[ib], out, in, lens[li]);
            uint64_t state = xgetbv(1);
            if (state & 0x44) { /* upper halves of YMM and ZMM 0-15 */
                dirty++;
                fprintf(stderr, "%s: upper state left dirty (XINUSE %#llx) after %zu bytes\n",
                        b64_backend_name(bs[ib]), (unsigned long long)state, lens[li]);
                __asm__ volatile("vzeroupper" ::: "memory");
            }
        }
        CHECK_EQ_INT(dirty, 0);
        total_dirty += dirty;
    }
    if (!total_dirty)
        printf("upper-state check: XINUSE AVX bit clear after every encoder call\n");
}
#endif

int main(void)
{
    ecrup_base64_backend bs[N_ALL];
    size_t nb = usable(bs);
    test_names_and_resolve();
    test_all_lengths(bs, nb);
    test_no_overread(bs, nb);
    test_large_and_chunked(bs, nb);
#if defined(__x86_64__)
    test_upper_state_clean(bs, nb);
#endif
    return test_finish("test_base64");
}
