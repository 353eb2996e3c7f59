#include "util/env.h"

#include <stdlib.h>

const char *env_get(const struct env_reader *env, const char *name)
{
    if (env && env->get)
        return env->get(env->user, name);
    return getenv(name);
}
