/* SHA-256 with the SHA extensions, one message or two interleaved, with base64 encoding
 * between the rounds (engine/sha256.h says why). Built with -msha -msse4.1 -mssse3 on x86-64
 * only; runs only after the CPU probe in sha256.c said so.
 *
 * The state lives in two registers as the instructions want it: ABEF and CDGH (the words of
 * FIPS 180-4's a..h, highest lane first). sha256rnds2 does two rounds with the two message+K
 * words in the low half of its third operand; sha256msg1/msg2 extend the message schedule
 * four words at a time. Everything is plain SSE (no VEX), so no upper-state transition is
 * involved, and the base64 step is SSSE3 as well (engine/base64_ssse3_core.h). */
#include "engine/sha256.h"

#if defined(__x86_64__)
#include <immintrin.h>
#include <stdbool.h>

#include "engine/base64_ssse3_core.h"

#define ALWAYS_INLINE static inline __attribute__((always_inline))

static const uint32_t K[64] __attribute__((aligned(16))) = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2};

struct lane {
    __m128i abef, cdgh;
    __m128i m[4]; /* the message schedule, four words per register, a window of 16 */
};

ALWAYS_INLINE void lane_load_state(struct lane *l, const uint32_t h[8])
{
    __m128i dcba = _mm_loadu_si128((const __m128i *)(const void *)h);
    __m128i hgfe = _mm_loadu_si128((const __m128i *)(const void *)(h + 4));
    __m128i cdab = _mm_shuffle_epi32(dcba, 0xB1);
    __m128i efgh = _mm_shuffle_epi32(hgfe, 0x1B);
    l->abef = _mm_alignr_epi8(cdab, efgh, 8);
    l->cdgh = _mm_blend_epi16(efgh, cdab, 0xF0);
}

ALWAYS_INLINE void lane_store_state(const struct lane *l, uint32_t h[8])
{
    __m128i feba = _mm_shuffle_epi32(l->abef, 0x1B);
    __m128i dchg = _mm_shuffle_epi32(l->cdgh, 0xB1);
    _mm_storeu_si128((__m128i *)(void *)h, _mm_blend_epi16(feba, dchg, 0xF0));
    _mm_storeu_si128((__m128i *)(void *)(h + 4), _mm_alignr_epi8(dchg, feba, 8));
}

ALWAYS_INLINE void lane_load_block(struct lane *l, const unsigned char *p)
{
    const __m128i be = _mm_setr_epi8(3, 2, 1, 0, 7, 6, 5, 4, 11, 10, 9, 8, 15, 14, 13, 12);
    for (int i = 0; i < 4; i++)
        l->m[i] =
            _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(const void *)(p + 16 * i)), be);
}

/* Rounds 4r..4r+3, then (while words remain to make) the schedule's next four words, which
 * replace the four just used. */
ALWAYS_INLINE void lane_rounds4(struct lane *l, int r)
{
    __m128i wk =
        _mm_add_epi32(l->m[r & 3], _mm_load_si128((const __m128i *)(const void *)&K[4 * r]));
    l->cdgh = _mm_sha256rnds2_epu32(l->cdgh, l->abef, wk);
    l->abef = _mm_sha256rnds2_epu32(l->abef, l->cdgh, _mm_shuffle_epi32(wk, 0x0E));
    if (r < 12) {
        __m128i t = _mm_sha256msg1_epu32(l->m[r & 3], l->m[(r + 1) & 3]);
        t = _mm_add_epi32(t, _mm_alignr_epi8(l->m[(r + 3) & 3], l->m[(r + 2) & 3], 4));
        l->m[r & 3] = _mm_sha256msg2_epu32(t, l->m[(r + 3) & 3]);
    }
}

/* Three loads at 0, 12 and 24 take 12 bytes each from 16; the fourth loads 16 bytes at 32
 * and takes its upper 12, so nothing past the 48 bytes is read. */
ALWAYS_INLINE void encode48_part(char *dst, const unsigned char *src, int k)
{
    __m128i in;
    if (k < 3) {
        in = _mm_loadu_si128((const __m128i *)(const void *)(src + 12 * k));
    } else {
        in = _mm_loadu_si128((const __m128i *)(const void *)(src + 32));
        in = _mm_srli_si128(in, 4);
    }
    _mm_storeu_si128((__m128i *)(void *)(dst + 16 * k), to_chars(to_indices(in)));
}

/* One loop for every combination, specialised by the constant flags at each call site. */
ALWAYS_INLINE void run(const struct sha256_ni_lane *pa, const struct sha256_ni_lane *pb, size_t n,
                       const bool two, const bool enc_a, const bool enc_b)
{
    struct lane la, lb;
    lane_load_state(&la, pa->h);
    if (two)
        lane_load_state(&lb, pb->h);
    for (size_t j = 0; j < n; j++) {
        __m128i a0 = la.abef, a1 = la.cdgh, b0 = _mm_setzero_si128(), b1 = b0;
        lane_load_block(&la, pa->data + 64 * j);
        if (two) {
            b0 = lb.abef;
            b1 = lb.cdgh;
            lane_load_block(&lb, pb->data + 64 * j);
        }
#pragma GCC unroll 16
        for (int r = 0; r < 16; r++) {
            lane_rounds4(&la, r);
            if (two)
                lane_rounds4(&lb, r);
            if (enc_a && (r & 3) == 1)
                encode48_part(pa->enc_dst + 64 * j, pa->enc_src + 48 * j, r >> 2);
            if (enc_b && (r & 3) == 3)
                encode48_part(pb->enc_dst + 64 * j, pb->enc_src + 48 * j, r >> 2);
        }
        la.abef = _mm_add_epi32(la.abef, a0);
        la.cdgh = _mm_add_epi32(la.cdgh, a1);
        if (two) {
            lb.abef = _mm_add_epi32(lb.abef, b0);
            lb.cdgh = _mm_add_epi32(lb.cdgh, b1);
        }
    }
    lane_store_state(&la, pa->h);
    if (two)
        lane_store_state(&lb, pb->h);
}

void sha256_ni_blocks(uint32_t h[8], const unsigned char *data, size_t n)
{
    const struct sha256_ni_lane l = {.h = h, .data = data};
    run(&l, NULL, n, false, false, false);
}

void sha256_ni_fused(const struct sha256_ni_lane *a, const struct sha256_ni_lane *b, size_t n)
{
    bool ea = a->enc_dst != NULL, eb = b && b->enc_dst != NULL;
    if (!b && ea)
        run(a, NULL, n, false, true, false);
    else if (!b)
        run(a, NULL, n, false, false, false);
    else if (ea && eb)
        run(a, b, n, true, true, true);
    else if (ea)
        run(a, b, n, true, true, false);
    else if (eb)
        run(a, b, n, true, false, true);
    else
        run(a, b, n, true, false, false);
}
#else
typedef int sha256_ni_unused; /* ISO C wants a non-empty translation unit */
#endif
