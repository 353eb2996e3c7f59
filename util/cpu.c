#include "util/cpu.h"

#include <stdatomic.h>

#if defined(__x86_64__)
#include <cpuid.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

static uint64_t xgetbv(uint32_t index)
{
    uint32_t lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(index));
    return ((uint64_t)hi << 32) | lo;
}

/* CPUID.1:ECX has SSSE3 (9), SSE4.1 (19), OSXSAVE (27) and AVX (28); CPUID.(7,0) has AVX2
 * (EBX 5), AVX-512F (EBX 16), SHA (EBX 29), AVX-512BW (EBX 30) and VBMI (ECX 1). XCR0 says
 * which register state the OS saves: bit 1 SSE, 2 AVX, 5-7 opmask and ZMM. SSE state is
 * saved by every x86-64 OS. */
static unsigned probe(void)
{
    unsigned a, b, c, d, f = 0;
    if (!__get_cpuid(1, &a, &b, &c, &d))
        return 0;
    if (c & (1u << 9))
        f |= CPU_SSSE3;
    if (c & (1u << 19))
        f |= CPU_SSE41;
    bool avx = c & (1u << 28);
    uint64_t xcr0 = (c & (1u << 27)) ? xgetbv(0) : 0;
    if ((unsigned)__get_cpuid_max(0, NULL) < 7)
        return f;
    __cpuid_count(7, 0, a, b, c, d);
    if (b & (1u << 29))
        f |= CPU_SHA;
    if (avx && (xcr0 & 0x6) == 0x6 && (b & (1u << 5)))
        f |= CPU_AVX2;
    if ((xcr0 & 0xe6) == 0xe6 && (b & (1u << 16)) && (b & (1u << 30)) && (c & (1u << 1)))
        f |= CPU_AVX512_VBMI;
    return f;
}
#else
static unsigned probe(void)
{
    return 0;
}
#endif

/* Probing is idempotent, so threads racing on the first call all store the same value. The
 * top bit marks "probed" so that a CPU with none of the features is not probed again. */
unsigned cpu_features(void)
{
    static atomic_uint cached;
    unsigned v = atomic_load_explicit(&cached, memory_order_relaxed);
    if (!v) {
        v = probe() | 0x80000000u;
        atomic_store_explicit(&cached, v, memory_order_relaxed);
    }
    return v & 0x7fffffffu;
}
