/* The portable base64 encoder: 12 input bits at a time through a 4096-entry table of
 * character pairs, six input bytes per step. */
#include "engine/base64.h"

#include <string.h>

#define B64_CHAR(v)                                                                                \
    ((char)((v) < 26    ? 'A' + (v)                                                                \
            : (v) < 52  ? 'a' + ((v)-26)                                                           \
            : (v) < 62  ? '0' + ((v)-52)                                                           \
            : (v) == 62 ? '+'                                                                      \
                        : '/'))
#define PAIR(i)                                                                                    \
    {                                                                                              \
        B64_CHAR((i) >> 6), B64_CHAR((i)&63)                                                       \
    }
#define PAIR4(i)    PAIR(i), PAIR((i) + 1), PAIR((i) + 2), PAIR((i) + 3)
#define PAIR16(i)   PAIR4(i), PAIR4((i) + 4), PAIR4((i) + 8), PAIR4((i) + 12)
#define PAIR64(i)   PAIR16(i), PAIR16((i) + 16), PAIR16((i) + 32), PAIR16((i) + 48)
#define PAIR256(i)  PAIR64(i), PAIR64((i) + 64), PAIR64((i) + 128), PAIR64((i) + 192)
#define PAIR1024(i) PAIR256(i), PAIR256((i) + 256), PAIR256((i) + 512), PAIR256((i) + 768)

/* pairs[x] is the two characters encoding the 12-bit value x. Built at compile time. */
static const char pairs[4096][2] = {PAIR1024(0), PAIR1024(1024), PAIR1024(2048), PAIR1024(3072)};

static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static uint64_t load_be64(const uint8_t *p)
{
    uint64_t x;
    memcpy(&x, p, 8);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    x = __builtin_bswap64(x);
#endif
    return x;
}

size_t b64_encode_scalar(char *dst, const uint8_t *src, size_t len)
{
    char *o = dst;
    size_t i = 0;
    /* Reads 8 bytes, consumes 6: 48 bits make four 12-bit table indices. */
    for (; len - i >= 8; i += 6, o += 8) {
        uint64_t x = load_be64(src + i);
        memcpy(o, pairs[x >> 52], 2);
        memcpy(o + 2, pairs[(x >> 40) & 0xfff], 2);
        memcpy(o + 4, pairs[(x >> 28) & 0xfff], 2);
        memcpy(o + 6, pairs[(x >> 16) & 0xfff], 2);
    }
    for (; len - i >= 3; i += 3, o += 4) {
        uint32_t x = (uint32_t)src[i] << 16 | (uint32_t)src[i + 1] << 8 | src[i + 2];
        memcpy(o, pairs[x >> 12], 2);
        memcpy(o + 2, pairs[x & 0xfff], 2);
    }
    if (len - i == 1) {
        o[0] = alphabet[src[i] >> 2];
        o[1] = alphabet[(src[i] & 3) << 4];
        o[2] = '=';
        o[3] = '=';
        o += 4;
    } else if (len - i == 2) {
        o[0] = alphabet[src[i] >> 2];
        o[1] = alphabet[(src[i] & 3) << 4 | src[i + 1] >> 4];
        o[2] = alphabet[(src[i + 1] & 15) << 2];
        o[3] = '=';
        o += 4;
    }
    return (size_t)(o - dst);
}
