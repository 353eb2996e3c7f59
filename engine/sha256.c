/* The running SHA-256 stream: native blocks through engine/sha256_ni.c, or OpenSSL. */
#include "engine/sha256.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#if defined(__x86_64__)
#include <cpuid.h>

/* SHA-NI is CPUID.(7,0):EBX[29]; the kernels also use SSSE3 (1:ECX[9]) and SSE4.1
 * (1:ECX[19]). All are SSE state, which every x86-64 OS saves. */
static bool probe(void)
{
    unsigned a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d) || !(c & (1u << 9)) || !(c & (1u << 19)))
        return false;
    if ((unsigned)__get_cpuid_max(0, NULL) < 7)
        return false;
    __cpuid_count(7, 0, a, b, c, d);
    return b & (1u << 29);
}
#else
static bool probe(void)
{
    return false;
}
#endif

enum { UNKNOWN, NO, YES };

/* Both answers are idempotent, so racing first calls store the same value. */
static bool cached(atomic_int *slot, bool (*compute)(void))
{
    int v = atomic_load_explicit(slot, memory_order_relaxed);
    if (v == UNKNOWN) {
        v = compute() ? YES : NO;
        atomic_store_explicit(slot, v, memory_order_relaxed);
    }
    return v == YES;
}

bool sha256_native_available(void)
{
    static atomic_int slot;
    return cached(&slot, probe);
}

static bool wanted(void)
{
    const char *env = getenv(SHA256_ENV);
    return !(env && strcasecmp(env, "openssl") == 0) && sha256_native_available();
}

bool sha256_native(void)
{
    static atomic_int slot;
    return cached(&slot, wanted);
}

static const uint32_t IV[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
                               0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};

int sha256_stream_init(struct sha256_stream *s, bool native)
{
    memset(s, 0, sizeof *s);
    if (native && sha256_native_available()) {
        memcpy(s->h, IV, sizeof IV);
        return 0;
    }
    s->evp = EVP_MD_CTX_new();
    if (!s->evp || EVP_DigestInit_ex(s->evp, EVP_sha256(), NULL) != 1) {
        EVP_MD_CTX_free(s->evp);
        s->evp = NULL;
        return -1;
    }
    return 0;
}

#if defined(__x86_64__)
static void blocks(uint32_t h[8], const unsigned char *p, size_t n)
{
    sha256_ni_blocks(h, p, n);
}
#else
static void blocks(uint32_t h[8], const unsigned char *p, size_t n)
{
    (void)h, (void)p, (void)n; /* never native here: init chose OpenSSL */
    abort();
}
#endif

int sha256_stream_update(struct sha256_stream *s, const void *data, size_t n)
{
    if (s->evp)
        return EVP_DigestUpdate(s->evp, data, n) == 1 ? 0 : -1;
    const unsigned char *p = data;
    s->len += n;
    if (s->buf_len) {
        size_t take = 64 - s->buf_len < n ? 64 - s->buf_len : n;
        memcpy(s->buf + s->buf_len, p, take);
        s->buf_len += take;
        p += take;
        n -= take;
        if (s->buf_len < 64)
            return 0;
        blocks(s->h, s->buf, 1);
        s->buf_len = 0;
    }
    if (n >= 64)
        blocks(s->h, p, n / 64);
    p += n / 64 * 64;
    n %= 64;
    memcpy(s->buf, p, n);
    s->buf_len = n;
    return 0;
}

int sha256_stream_final(struct sha256_stream *s, unsigned char md[32])
{
    if (s->evp) {
        unsigned len = 0;
        return EVP_DigestFinal_ex(s->evp, md, &len) == 1 && len == 32 ? 0 : -1;
    }
    /* FIPS 180-4 padding: 0x80, zeros to 56 mod 64, the bit length big-endian. */
    uint64_t bits = s->len * 8;
    unsigned char pad[72] = {0x80};
    size_t zeros = (s->buf_len < 56 ? 56 : 120) - s->buf_len;
    for (int i = 0; i < 8; i++)
        pad[zeros + (size_t)i] = (unsigned char)(bits >> (56 - 8 * i));
    sha256_stream_update(s, pad, zeros + 8);
    for (int i = 0; i < 8; i++) {
        md[4 * i] = (unsigned char)(s->h[i] >> 24);
        md[4 * i + 1] = (unsigned char)(s->h[i] >> 16);
        md[4 * i + 2] = (unsigned char)(s->h[i] >> 8);
        md[4 * i + 3] = (unsigned char)s->h[i];
    }
    return 0;
}

void sha256_stream_free(struct sha256_stream *s)
{
    EVP_MD_CTX_free(s->evp);
    s->evp = NULL;
}
