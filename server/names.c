/* The model's patterns for names and digests the endpoint is given (RepositoryName,
 * LayerDigest, UploadId) and the one digest form it stores. Pure functions. */
#include "server/names.h"

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
