/* ECR's repository-name rule (ecr_name.h) as a hand-written matcher: one pass, no
 * backtracking, no regex library. */
#include "util/ecr_name.h"

#include <string.h>

static bool lower_alnum(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

bool ecr_repository_name_valid(const char *name)
{
    size_t n = strlen(name);
    if (n < ECR_REPOSITORY_NAME_MIN || n > ECR_REPOSITORY_NAME_MAX)
        return false;
    size_t i = 0;
    for (;;) {
        /* A run of [a-z0-9]+ must start the name and follow every separator. */
        if (!lower_alnum(name[i]))
            return false;
        while (lower_alnum(name[i]))
            i++;
        switch (name[i]) {
        case '\0':
            return true;
        case '/':
        case '.':
            i++;
            break;
        case '_':
            /* "_" or "__"; taking both when there are two is safe, as a third '_' can follow
             * neither. */
            i += name[i + 1] == '_' ? 2 : 1;
            break;
        case '-':
            while (name[i] == '-')
                i++;
            break;
        default:
            return false;
        }
    }
}
