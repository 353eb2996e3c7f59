/* The running SHA-256 stream: native blocks through engine/sha256_ni.c, or OpenSSL. */
#include "engine/sha256.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "util/cpu.h"
#include "util/env.h"

/* The kernels use SHA-NI, SSSE3 and SSE4.1: all SSE state, which every x86-64 OS saves. */
bool sha256_native_available(void)
{
    return cpu_has(CPU_SHA | CPU_SSSE3 | CPU_SSE41);
}

/* The answer is idempotent, so racing first calls store the same value. */
bool sha256_native(void)
{
    enum { UNKNOWN, NO, YES };
    static atomic_int cached;
    int v = atomic_load_explicit(&cached, memory_order_relaxed);
    if (v == UNKNOWN) {
        const char *env = env_get(NULL, SHA256_ENV);
        bool want = !(env && strcasecmp(env, "openssl") == 0) && sha256_native_available();
        v = want ? YES : NO;
        atomic_store_explicit(&cached, v, memory_order_relaxed);
    }
    return v == YES;
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

size_t sha256_stream_update_pair(struct sha256_stream *a, const void *pa, size_t na,
                                 struct sha256_stream *b, const void *pb, size_t nb)
{
#if defined(__x86_64__)
    if (a->evp || b->evp || a->buf_len || b->buf_len || na < 64 || nb < 64)
        return 0;
    size_t both = (na < nb ? na : nb) / 64 * 64;
    struct sha256_ni_lane la = {.h = a->h, .data = pa}, lb = {.h = b->h, .data = pb};
    sha256_ni_fused(&la, &lb, both / 64);
    a->len += both;
    b->len += both;
    return both;
#else
    (void)a, (void)pa, (void)na, (void)b, (void)pb, (void)nb; /* never native here */
    return 0;
#endif
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
