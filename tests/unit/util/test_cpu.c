/* The CPU probe against the kernel's own reading of the same CPU (/proc/cpuinfo flags, which
 * the kernel clears for register state it does not save), and the engine's choices built on
 * it: the base64 backends on offer and the native SHA-256 path. */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "engine/base64.h"
#include "engine/sha256.h"
#include "test.h"
#include "util/cpu.h"

/* The first "flags" line of /proc/cpuinfo, padded with spaces so " name " finds whole words;
 * false when there is none (not Linux on x86). */
static bool read_flags(char *out, size_t cap)
{
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (!f)
        return false;
    char line[8192];
    bool found = false;
    while (!found && fgets(line, sizeof line, f)) {
        if (strncmp(line, "flags", 5) != 0)
            continue;
        const char *colon = strchr(line, ':');
        if (!colon)
            continue;
        snprintf(out, cap, "%s ", colon + 1);
        for (char *p = out; *p; p++)
            if (*p == '\n' || *p == '\t')
                *p = ' ';
        found = true;
    }
    fclose(f);
    return found;
}

static bool has_flag(const char *flags, const char *name)
{
    char word[64];
    snprintf(word, sizeof word, " %s ", name);
    return strstr(flags, word) != NULL;
}

int main(void)
{
    unsigned f = cpu_features();
    CHECK(cpu_features() == f); /* cached, stable */
    CHECK((f & ~(unsigned)(CPU_SSSE3 | CPU_SSE41 | CPU_AVX2 | CPU_AVX512_VBMI | CPU_SHA)) == 0);
    CHECK(cpu_has(0));

    char flags[8192] = " ";
#if defined(__x86_64__)
    REQUIRE(read_flags(flags + 1, sizeof flags - 1));
    printf("cpu features: 0x%x\n", f);
    CHECK(!!(f & CPU_SSSE3) == has_flag(flags, "ssse3"));
    CHECK(!!(f & CPU_SSE41) == has_flag(flags, "sse4_1"));
    CHECK(!!(f & CPU_AVX2) == has_flag(flags, "avx2"));
    CHECK(!!(f & CPU_SHA) == has_flag(flags, "sha_ni"));
    CHECK(!!(f & CPU_AVX512_VBMI) == (has_flag(flags, "avx512f") && has_flag(flags, "avx512bw") &&
                                      has_flag(flags, "avx512vbmi")));
#else
    (void)read_flags;
    (void)has_flag;
    CHECK(f == 0);
#endif

    /* what the engine offers follows from the probe */
    CHECK(b64_backend_available(ECRUP_BASE64_SCALAR));
    CHECK(b64_backend_available(ECRUP_BASE64_SSSE3) == !!(f & CPU_SSSE3));
    CHECK(b64_backend_available(ECRUP_BASE64_AVX2) == !!(f & CPU_AVX2));
    CHECK(b64_backend_available(ECRUP_BASE64_AVX512) == !!(f & CPU_AVX512_VBMI));
    CHECK(sha256_native_available() == cpu_has(CPU_SHA | CPU_SSSE3 | CPU_SSE41));
    return test_finish("cpu");
}
