/* SSSE3 base64 encoder (Muła's method): 12 input bytes per 16-byte register. Built with
 * -mssse3 on x86-64 only; runs only after the CPU probe said so. */
#include "engine/base64.h"

#if defined(__x86_64__)
#include "engine/base64_ssse3_core.h"

size_t b64_encode_ssse3(char *dst, const uint8_t *src, size_t len)
{
    size_t i = 0, o = 0;
    /* Each step loads 16 bytes and consumes 12, so 4 bytes must follow it. */
    for (; len - i >= 52; i += 48, o += 64) {
        encode12(dst + o, src + i);
        encode12(dst + o + 16, src + i + 12);
        encode12(dst + o + 32, src + i + 24);
        encode12(dst + o + 48, src + i + 36);
    }
    for (; len - i >= 16; i += 12, o += 16)
        encode12(dst + o, src + i);
    return o + b64_encode_scalar(dst + o, src + i, len - i);
}
#else
typedef int b64_ssse3_unused; /* ISO C wants a non-empty translation unit */
#endif
