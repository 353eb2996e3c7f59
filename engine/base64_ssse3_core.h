/* The SSSE3 base64 step (Mula's method) as inline functions, for the SSSE3 encoder and for
 * the SHA-256 kernel that encodes between its rounds (engine/sha256_ni.c). Include only from
 * files built with -mssse3 (or more) on x86-64. */
#ifndef ECRUP_ENGINE_BASE64_SSSE3_CORE_H
#define ECRUP_ENGINE_BASE64_SSSE3_CORE_H

#include <stdint.h>
#include <tmmintrin.h>

/* Spread 12 bytes into four 32-bit lanes of four 6-bit indices, one per byte.
 * Each lane first gets its 3 bytes a b c as [b a c b]: the 16-bit halves are then a:b and
 * b:c, and one multiply each moves the wanted six bits to the byte they belong in. */
static inline __m128i to_indices(__m128i in)
{
    in = _mm_shuffle_epi8(in, _mm_setr_epi8(1, 0, 2, 1, 4, 3, 5, 4, 7, 6, 8, 7, 10, 9, 11, 10));
    __m128i hi =
        _mm_mulhi_epu16(_mm_and_si128(in, _mm_set1_epi32(0x0fc0fc00)), _mm_set1_epi32(0x04000040));
    __m128i lo =
        _mm_mullo_epi16(_mm_and_si128(in, _mm_set1_epi32(0x003f03f0)), _mm_set1_epi32(0x01000010));
    return _mm_or_si128(hi, lo);
}

/* 6-bit index to character by adding an offset looked up per range: 0..25 'A', 26..51 'a',
 * 52..61 '0', 62 '+', 63 '/'. The saturating subtract maps 52..63 to 1..12, the compare
 * adds one for everything from 26 on, so the five ranges land on table slots 0..13. */
static inline __m128i to_chars(__m128i idx)
{
    const __m128i offsets =
        _mm_setr_epi8(65, 71, -4, -4, -4, -4, -4, -4, -4, -4, -4, -4, -19, -16, 0, 0);
    __m128i slot = _mm_subs_epu8(idx, _mm_set1_epi8(51));
    slot = _mm_sub_epi8(slot, _mm_cmpgt_epi8(idx, _mm_set1_epi8(25)));
    return _mm_add_epi8(idx, _mm_shuffle_epi8(offsets, slot));
}

static inline void encode12(char *dst, const uint8_t *src)
{
    __m128i in = _mm_loadu_si128((const __m128i *)(const void *)src);
    _mm_storeu_si128((__m128i *)(void *)dst, to_chars(to_indices(in)));
}

#endif
