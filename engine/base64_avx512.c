/* AVX-512 VBMI base64 encoder (Muła and Lemire, "Base64 encoding and decoding at almost the
 * speed of a memory copy", 2019): 48 input bytes per 64-byte register, three instructions.
 * Built with -mavx512f -mavx512bw -mavx512vbmi on x86-64 only; runs only after the CPU probe
 * (CPUID and XCR0) said so. */
#include "engine/base64.h"

#if defined(__x86_64__)
#include <immintrin.h>

/* For each group a b c (at 3k) the 32-bit lane [b a c b]; the multishift then picks the four
 * 6-bit fields at bit offsets 10, 4, 22, 16 of it (+32 for the second lane of a qword). */
#define GROUP(k) 3 * (k) + 1, 3 * (k), 3 * (k) + 2, 3 * (k) + 1
static const uint8_t spread[64] = {GROUP(0),  GROUP(1),  GROUP(2),  GROUP(3), GROUP(4),  GROUP(5),
                                   GROUP(6),  GROUP(7),  GROUP(8),  GROUP(9), GROUP(10), GROUP(11),
                                   GROUP(12), GROUP(13), GROUP(14), GROUP(15)};
static const char alphabet[64] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

size_t b64_encode_avx512(char *dst, const uint8_t *src, size_t len)
{
    const __m512i perm = _mm512_loadu_si512((const void *)spread);
    const __m512i shifts = _mm512_set1_epi64(0x3036242a1016040a);
    const __m512i chars = _mm512_loadu_si512((const void *)alphabet);
    /* A masked load reads exactly the 48 bytes it encodes: no bytes past the input. */
    const __mmask64 take48 = 0x0000ffffffffffffULL;
    size_t i = 0, o = 0;
    for (; len - i >= 48; i += 48, o += 64) {
        __m512i in = _mm512_maskz_loadu_epi8(take48, src + i);
        __m512i idx = _mm512_multishift_epi64_epi8(shifts, _mm512_permutexvar_epi8(perm, in));
        _mm512_storeu_si512((void *)(dst + o), _mm512_permutexvar_epi8(idx, chars));
    }
    /* Clean upper state before any SSE code runs (the scalar tail, OpenSSL's SHA-NI). */
    _mm256_zeroupper();
    return o + b64_encode_scalar(dst + o, src + i, len - i);
}
#else
typedef int b64_avx512_unused; /* ISO C wants a non-empty translation unit */
#endif
