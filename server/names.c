/* The model's patterns for names and digests the endpoint is given (RepositoryName,
 * LayerDigest, UploadId), the one digest form it stores, media types, and NULs hidden in JSON
 * strings. Pure functions. */
#include "server/names.h"

#include <stdint.h>
#include <string.h>

#include "util/ecr_name.h"

bool valid_repository_name(const char *s)
{
    return ecr_repository_name_valid(s);
}

/* [a-zA-Z0-9-_+.]+:[a-fA-F0-9]+ */
bool valid_layer_digest(const char *s)
{
    size_t i = 0;
    while ((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
           (s[i] >= '0' && s[i] <= '9') || s[i] == '-' || s[i] == '_' || s[i] == '+' || s[i] == '.')
        i++;
    if (i == 0 || s[i] != ':')
        return false;
    size_t j = ++i;
    while ((s[i] >= 'a' && s[i] <= 'f') || (s[i] >= 'A' && s[i] <= 'F') ||
           (s[i] >= '0' && s[i] <= '9'))
        i++;
    return i > j && s[i] == '\0';
}

bool valid_upload_id(const char *s)
{
    static const int groups[] = {8, 4, 4, 4, 12};
    for (int g = 0; g < 5; g++) {
        for (int k = 0; k < groups[g]; k++, s++)
            if (!((*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'f') || (*s >= 'A' && *s <= 'F')))
                return false;
        if (*s != (g == 4 ? '\0' : '-'))
            return false;
        s++;
    }
    return true;
}

/* "sha256:<64 hex>" in lowercase into out; false when not a sha256 digest. */
bool srv_normal_sha256(const char *s, char out[72])
{
    if (strncmp(s, "sha256:", 7) != 0 || strlen(s) != 71)
        return false;
    memcpy(out, "sha256:", 7);
    for (int i = 7; i < 71; i++) {
        char c = s[i];
        if (c >= 'A' && c <= 'F')
            c = (char)(c - 'A' + 'a');
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
            return false;
        out[i] = c;
    }
    out[71] = '\0';
    return true;
}

static bool restricted_name(const char *s, size_t n)
{
    if (n == 0 || n > 127 ||
        !((s[0] >= 'a' && s[0] <= 'z') || (s[0] >= 'A' && s[0] <= 'Z') ||
          (s[0] >= '0' && s[0] <= '9')))
        return false;
    for (size_t i = 1; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              strchr("!#$&-^_.+", c)))
            return false;
    }
    return true;
}

bool valid_media_type(const char *s)
{
    const char *slash = strchr(s, '/');
    return slash && restricted_name(s, (size_t)(slash - s)) &&
           restricted_name(slash + 1, strlen(slash + 1));
}

bool json_has_nul(const char *s, size_t n, char *member, size_t cap)
{
    /* Only the top level's keys are kept, so one bit per level of the first 64 says whether
     * that level is an object (where a string after '{' or ',' is a key). */
    uint64_t objects = 0;
    unsigned depth = 0;
    bool in_str = false, is_key = false, expect_key = false;
    size_t key_start = 0;
    if (cap)
        member[0] = '\0';
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (in_str) {
            if (c == '\0' || (c == '\\' && i + 5 < n && !memcmp(s + i + 1, "u0000", 5))) {
                if (is_key && cap)
                    member[0] = '\0';
                return true;
            }
            if (c == '\\') {
                i++;
            } else if (c == '"') {
                in_str = false;
                if (is_key && depth == 1 && cap) {
                    size_t k = i - key_start < cap - 1 ? i - key_start : cap - 1;
                    memcpy(member, s + key_start, k);
                    member[k] = '\0';
                }
            }
            continue;
        }
        if (c == '\0')
            return true;
        bool in_object = depth >= 1 && depth <= 64 && (objects >> (depth - 1) & 1);
        switch (c) {
        case '"':
            in_str = true;
            is_key = expect_key;
            key_start = i + 1;
            break;
        case '{':
        case '[':
            depth++;
            if (depth <= 64) {
                objects &= ~(1ull << (depth - 1));
                objects |= (uint64_t)(c == '{') << (depth - 1);
            }
            expect_key = c == '{';
            break;
        case '}':
        case ']':
            if (depth)
                depth--;
            expect_key = false;
            break;
        case ',':
            expect_key = in_object;
            break;
        case ':':
            expect_key = false;
            break;
        default:
            break;
        }
    }
    return false;
}
