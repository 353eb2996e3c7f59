/* Platforms of image index entries; see platform.h. */
#include "cli/platform.h"

#include <string.h>

#include "util/json.h"

static bool part(const char *s, size_t n, char out[32])
{
    if (n == 0 || n >= 32)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-'))
            return false;
    }
    memcpy(out, s, n);
    out[n] = '\0';
    return true;
}

bool platform_parse(const char *s, struct platform *out)
{
    memset(out, 0, sizeof *out);
    const char *a = strchr(s, '/');
    if (!a || !part(s, (size_t)(a - s), out->os))
        return false;
    const char *v = strchr(a + 1, '/');
    if (!v)
        return part(a + 1, strlen(a + 1), out->arch);
    return part(a + 1, (size_t)(v - a - 1), out->arch) && part(v + 1, strlen(v + 1), out->variant);
}

bool platform_matches(const struct platform *p, const cJSON *descriptor)
{
    const cJSON *pf = cJSON_GetObjectItemCaseSensitive(descriptor, "platform");
    const char *os = json_string(pf, "os"), *arch = json_string(pf, "architecture");
    const char *variant = json_string(pf, "variant");
    return os && arch && !strcmp(os, p->os) && !strcmp(arch, p->arch) &&
           (!p->variant[0] || (variant && !strcmp(variant, p->variant)));
}

void platform_describe(const cJSON *descriptor, struct ebuf *out)
{
    const cJSON *pf = cJSON_GetObjectItemCaseSensitive(descriptor, "platform");
    const char *os = json_string(pf, "os"), *arch = json_string(pf, "architecture");
    const char *variant = json_string(pf, "variant");
    ebuf_printf(out, "%s/%s%s%s", os ? os : "?", arch ? arch : "?", variant ? "/" : "",
                variant ? variant : "");
}
