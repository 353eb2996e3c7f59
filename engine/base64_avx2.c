/* AVX2 base64 encoder (Muła and Lemire's method): 24 input bytes per 32-byte register.
 * Built with -mavx2 on x86-64 only; runs only after the CPU probe said so. */
#include "engine/base64.h"

#if defined(__x86_64__)
#include <immintrin.h>

/* The register is loaded from 4 bytes before the 24 it encodes, so the low lane holds its
 * 12 bytes at 4..15 and the high lane at 0..11: one unaligned load, no lane crossing. The
 * in-lane shuffle turns each group a b c into [b a c b]; see base64_ssse3.c for the rest. */
static inline __m256i to_indices(__m256i in)
{
    in = _mm256_shuffle_epi8(in, _mm256_setr_epi8(5, 4, 6, 5, 8, 7, 9, 8, 11, 10, 12, 11, 14, 13,
                                                  15, 14, 1, 0, 2, 1, 4, 3, 5, 4, 7, 6, 8, 7, 10, 9,
                                                  11, 10));
    __m256i hi = _mm256_mulhi_epu16(_mm256_and_si256(in, _mm256_set1_epi32(0x0fc0fc00)),
                                    _mm256_set1_epi32(0x04000040));
    __m256i lo = _mm256_mullo_epi16(_mm256_and_si256(in, _mm256_set1_epi32(0x003f03f0)),
                                    _mm256_set1_epi32(0x01000010));
    return _mm256_or_si256(hi, lo);
}

static inline __m256i to_chars(__m256i idx)
{
    const __m256i offsets =
        _mm256_setr_epi8(65, 71, -4, -4, -4, -4, -4, -4, -4, -4, -4, -4, -19, -16, 0, 0, 65, 71, -4,
                         -4, -4, -4, -4, -4, -4, -4, -4, -4, -19, -16, 0, 0);
    __m256i slot = _mm256_subs_epu8(idx, _mm256_set1_epi8(51));
    slot = _mm256_sub_epi8(slot, _mm256_cmpgt_epi8(idx, _mm256_set1_epi8(25)));
    return _mm256_add_epi8(idx, _mm256_shuffle_epi8(offsets, slot));
}

/* Encode the 24 bytes at `src`; reads src - 4 .. src + 27. */
static inline void encode24(char *dst, const uint8_t *src)
{
    __m256i in = _mm256_loadu_si256((const __m256i *)(const void *)(src - 4));
    _mm256_storeu_si256((__m256i *)(void *)dst, to_chars(to_indices(in)));
}

size_t b64_encode_avx2(char *dst, const uint8_t *src, size_t len)
{
    size_t i = 0, o = 0;
    if (len >= 28) {
        /* Nothing may be read before src: build the first register from two loads, the low
         * lane shifted up by 4 bytes to the place the main loop's layout puts it. */
        __m128i lo = _mm_slli_si128(_mm_loadu_si128((const __m128i *)(const void *)src), 4);
        __m128i hi = _mm_loadu_si128((const __m128i *)(const void *)(src + 12));
        __m256i in = _mm256_inserti128_si256(_mm256_castsi128_si256(lo), hi, 1);
        _mm256_storeu_si256((__m256i *)(void *)dst, to_chars(to_indices(in)));
        i = 24;
        o = 32;
        for (; len - i >= 100; i += 96, o += 128) {
            encode24(dst + o, src + i);
            encode24(dst + o + 32, src + i + 24);
            encode24(dst + o + 64, src + i + 48);
            encode24(dst + o + 96, src + i + 72);
        }
        for (; len - i >= 28; i += 24, o += 32)
            encode24(dst + o, src + i);
    }
    /* Clean upper state before any SSE code runs (the scalar tail, OpenSSL's SHA-NI). */
    _mm256_zeroupper();
    return o + b64_encode_scalar(dst + o, src + i, len - i);
}
#else
typedef int b64_avx2_unused; /* ISO C wants a non-empty translation unit */
#endif
