/* `--platform os/arch[/variant]` for `ecrup push`: which manifest of a multi-platform image
 * to push alone, matched against an image index entry's `platform` as docker and the OCI
 * image spec spell it ("linux/amd64", "linux/arm64/v8", "linux/arm/v7").
 *
 * Thread safety: pure. */
#ifndef ECRUP_CLI_PLATFORM_H
#define ECRUP_CLI_PLATFORM_H

#include <stdbool.h>

#include <cjson/cJSON.h>

#include "util/buf.h"

struct platform {
    char os[32], arch[32], variant[32]; /* variant "" when not given */
};

/* Parse "os/arch" or "os/arch/variant" (each part [a-z0-9._-], 1 to 31 characters). */
bool platform_parse(const char *s, struct platform *out);

/* True when the descriptor's `platform` object is `p`: os and architecture equal, and the
 * variant too when `p` names one (linux/arm64 matches linux/arm64/v8, as docker picks). */
bool platform_matches(const struct platform *p, const cJSON *descriptor);

/* Append the descriptor's platform as "os/arch[/variant]" ("?" when it has none). */
void platform_describe(const cJSON *descriptor, struct ebuf *out);

#endif
