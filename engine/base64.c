/* Base64 encoder selection: probe the CPU once, dispatch through a table. */
#include "engine/base64.h"

#include <stdlib.h>
#include <strings.h>

#include "util/cpu.h"
#include "util/env.h"

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

/* The scalar encoder always runs; each SIMD one needs its instructions and the OS saving
 * the registers it uses (util/cpu). */
static unsigned cpu_mask(void)
{
    unsigned f = cpu_features(), mask = 1u << ECRUP_BASE64_SCALAR;
    if (f & CPU_SSSE3)
        mask |= 1u << ECRUP_BASE64_SSSE3;
    if (f & CPU_AVX2)
        mask |= 1u << ECRUP_BASE64_AVX2;
    if (f & CPU_AVX512_VBMI)
        mask |= 1u << ECRUP_BASE64_AVX512;
    return mask;
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
        const char *env = env_get(NULL, B64_ENV);
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
