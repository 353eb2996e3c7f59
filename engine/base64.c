/* Base64 encoder selection: probe the CPU once, dispatch through a table. */
#include "engine/base64.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <strings.h>

#if defined(__x86_64__)
#include <cpuid.h>
#endif

typedef size_t (*encode_fn)(char *dst, const uint8_t *src, size_t len);

static const struct {
    const char *name;
    encode_fn encode; /* NULL when this build has no such encoder */
} backends[] = {
    [ECRUP_BASE64_AUTO] = {"auto", NULL},
    [ECRUP_BASE64_SCALAR] = {"scalar", b64_encode_scalar},
#if defined(__x86_64__)
    [ECRUP_BASE64_SSSE3] = {"ssse3", b64_encode_ssse3},
    [ECRUP_BASE64_AVX2] = {"avx2", b64_encode_avx2},
    [ECRUP_BASE64_AVX512] = {"avx512", b64_encode_avx512},
#else
    [ECRUP_BASE64_SSSE3] = {"ssse3", NULL},   [ECRUP_BASE64_AVX2] = {"avx2", NULL},
    [ECRUP_BASE64_AVX512] = {"avx512", NULL},
#endif
};

#define N_BACKENDS (sizeof backends / sizeof backends[0])

static bool in_range(ecrup_base64_backend b)
{
    return (unsigned)b < N_BACKENDS;
}

#if defined(__x86_64__)
static uint64_t xgetbv(uint32_t index)
{
    uint32_t lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(index));
    return ((uint64_t)hi << 32) | lo;
}

/* The SIMD encoders need both the instructions (CPUID) and the OS saving the registers
 * they use across context switches (XCR0: bit 1 SSE, 2 AVX, 5-7 opmask and ZMM state). */
static unsigned probe_cpu(void)
{
    unsigned mask = 1u << ECRUP_BASE64_SCALAR;
    unsigned a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d))
        return mask;
    if (c & (1u << 9)) /* SSSE3 */
        mask |= 1u << ECRUP_BASE64_SSSE3;
    bool avx = c & (1u << 28);
    if (!(c & (1u << 27))) /* OSXSAVE: XGETBV usable */
        return mask;
    uint64_t xcr0 = xgetbv(0);
    unsigned max_leaf = (unsigned)__get_cpuid_max(0, NULL);
    if (max_leaf < 7)
        return mask;
    __cpuid_count(7, 0, a, b, c, d);
    if (avx && (xcr0 & 0x6) == 0x6 && (b & (1u << 5))) /* AVX2 */
        mask |= 1u << ECRUP_BASE64_AVX2;
    bool avx512f = b & (1u << 16), avx512bw = b & (1u << 30), vbmi = c & (1u << 1);
    if ((xcr0 & 0xe6) == 0xe6 && avx512f && avx512bw && vbmi)
        mask |= 1u << ECRUP_BASE64_AVX512;
    return mask;
}
#else
static unsigned probe_cpu(void)
{
    return 1u << ECRUP_BASE64_SCALAR;
}
#endif

/* Probing is idempotent, so threads racing on the first call all store the same value. */
static unsigned cpu_mask(void)
{
    static atomic_uint cached; /* 0: not probed yet (the scalar bit is always set after) */
    unsigned m = atomic_load_explicit(&cached, memory_order_relaxed);
    if (!m) {
        m = probe_cpu();
        atomic_store_explicit(&cached, m, memory_order_relaxed);
    }
    return m;
}

size_t b64_encoded_len(size_t len)
{
    size_t groups = len / 3 + (len % 3 != 0);
    return groups > SIZE_MAX / 4 ? SIZE_MAX : groups * 4;
}

bool b64_backend_available(ecrup_base64_backend backend)
{
    if (backend == ECRUP_BASE64_AUTO)
        return true;
    if (!in_range(backend) || !backends[backend].encode)
        return false;
    return (cpu_mask() >> backend) & 1u;
}

ecrup_base64_backend b64_backend_best(void)
{
    static const ecrup_base64_backend order[] = {ECRUP_BASE64_AVX512, ECRUP_BASE64_AVX2,
                                                 ECRUP_BASE64_SSSE3};
    for (size_t i = 0; i < sizeof order / sizeof order[0]; i++)
        if (b64_backend_available(order[i]))
            return order[i];
    return ECRUP_BASE64_SCALAR;
}

const char *b64_backend_name(ecrup_base64_backend backend)
{
    return in_range(backend) ? backends[backend].name : "?";
}

int b64_backend_from_name(const char *name, ecrup_base64_backend *out)
{
    for (size_t i = 0; name && i < N_BACKENDS; i++) {
        if (strcasecmp(name, backends[i].name) == 0) {
            *out = (ecrup_base64_backend)i;
            return 0;
        }
    }
    return -1;
}

int b64_resolve(ecrup_base64_backend want, ecrup_base64_backend *out)
{
    if (want == ECRUP_BASE64_AUTO) {
        const char *env = getenv(B64_ENV);
        if (!env || !*env) {
            *out = b64_backend_best();
            return 0;
        }
        if (b64_backend_from_name(env, &want) != 0)
            return -1;
        if (want == ECRUP_BASE64_AUTO) {
            *out = b64_backend_best();
            return 0;
        }
    }
    if (!b64_backend_available(want))
        return -1;
    *out = want;
    return 0;
}

size_t b64_encode(ecrup_base64_backend backend, char *dst, const void *src, size_t len)
{
    if (backend == ECRUP_BASE64_AUTO || !b64_backend_available(backend))
        backend = b64_backend_best();
    return backends[backend].encode(dst, src, len);
}
