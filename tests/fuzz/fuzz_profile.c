/* libFuzzer target over the shared-file parser, from memory. The input is split at its first
 * 0xFF byte into a config file and a credentials file. Beyond "no crash, no over-read", every
 * (profile, key) that profile_foreach() lists must read back the same value through
 * profile_get()/profile_get_nested(), and every ([services NAME], key) that
 * profile_services_foreach() lists through profile_services_get(). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "signer/profile.h"

struct ctx {
    const struct profile_set *set;
};

static void check(void *user, const char *profile, const char *key, const char *member,
                  const char *value)
{
    const struct ctx *c = user;
    if (!profile_exists(c->set, profile))
        abort();
    if (!key)
        return; /* the profile itself */
    const char *got = member ? profile_get_nested(c->set, profile, key, member)
                             : profile_get(c->set, profile, key);
    if (!got || strcmp(got, value) != 0)
        abort();
}

static void check_services(void *user, const char *services, const char *key, const char *member,
                           const char *value)
{
    const struct ctx *c = user;
    if (!key)
        return; /* the section itself, which may be empty */
    if (!profile_services_exists(c->set, services))
        abort();
    const char *got = profile_services_get(c->set, services, key, member);
    if (!got || strcmp(got, value) != 0)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *text = (const char *)data;
    const uint8_t *split = memchr(data, 0xFF, size);
    size_t cfg_len = split ? (size_t)(split - data) : size;
    const char *cred = split ? text + cfg_len + 1 : NULL;
    size_t cred_len = split ? size - cfg_len - 1 : 0;
    struct ebuf err = EBUF_INIT;
    struct profile_set *set =
        profile_parse(text, cfg_len, "config", cred, cred_len, "credentials", &err);
    if (set) {
        struct ctx c = {set};
        profile_foreach(set, check, &c);
        profile_services_foreach(set, check_services, &c);
        (void)profile_get(set, "default", "region");
        (void)profile_get_nested(set, "default", "s3", "addressing_style");
        (void)profile_services_get(set, profile_get(set, "default", "services"), "sts",
                                   "endpoint_url");
        profile_set_free(set);
    } else if (err.len == 0) {
        abort(); /* every failure explains itself */
    }
    ebuf_free(&err);
    return 0;
}
