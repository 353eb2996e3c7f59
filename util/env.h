/* Where environment variables come from. Every module that reads AWS_* variables takes a
 * `const struct env_reader *` (NULL means the process environment), so tests hand a fake
 * environment instead of calling setenv(3), which races with every thread reading it. */
#ifndef ECRUP_UTIL_ENV_H
#define ECRUP_UTIL_ENV_H

struct env_reader {
    const char *(*get)(void *user, const char *name); /* NULL: getenv(3) */
    void *user;
};

/* The value of `name`, or NULL when unset. Empty strings are returned as set. */
const char *env_get(const struct env_reader *env, const char *name);

#endif
