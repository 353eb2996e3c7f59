/* What this CPU can run, probed once: the instruction sets the SIMD kernels are built for,
 * each counted only when the OS also saves the registers it uses. */
#ifndef ECRUP_UTIL_CPU_H
#define ECRUP_UTIL_CPU_H

enum cpu_feature {
    CPU_SSSE3 = 1u << 0,
    CPU_SSE41 = 1u << 1,
    CPU_AVX2 = 1u << 2,        /* with the OS saving YMM state */
    CPU_AVX512_VBMI = 1u << 3, /* AVX-512 F, BW and VBMI, with the OS saving ZMM state */
    CPU_SHA = 1u << 4,         /* SHA-NI */
};

/* The features present, as a mask of enum cpu_feature; 0 on other architectures. Cached after
 * the first call; safe from any thread. */
unsigned cpu_features(void);

static inline int cpu_has(unsigned features)
{
    return (cpu_features() & features) == features;
}

#endif
