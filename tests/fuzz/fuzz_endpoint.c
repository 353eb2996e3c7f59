/* Fuzz the endpoint URL parser and region resolution with arbitrary bytes, and check the
 * invariants the engine relies on: a parsed URL's base_url parses back to the same pieces,
 * and the Host value is what base_url carries. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "signer/endpoint.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *fuzz_getenv(void *user, const char *name)
{
    return strcmp(name, "AWS_DEFAULT_REGION") == 0 ? user : NULL;
}

static void same_or_abort(const char *a, const char *b)
{
    if (strcmp(a, b) != 0)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);
    if (!s)
        return 0;
    memcpy(s, data, size);
    s[size] = '\0'; /* an embedded NUL just ends the string early */

    struct endpoint_url u, again;
    struct ebuf msg = EBUF_INIT;
    if (endpoint_parse_url(s, &u, &msg) == ECRUP_OK) {
        if (endpoint_parse_url(u.base_url, &again, NULL) != ECRUP_OK)
            abort();
        same_or_abort(u.scheme, again.scheme);
        same_or_abort(u.host, again.host);
        same_or_abort(u.host_header, again.host_header);
        same_or_abort(u.path, again.path);
        same_or_abort(u.base_url, again.base_url);
        if (u.port != again.port || u.port < 1 || u.port > 65535)
            abort();
        size_t n = strlen(u.scheme);
        if (strncmp(u.base_url + n, "://", 3) != 0 ||
            strncmp(u.base_url + n + 3, u.host_header, strlen(u.host_header)) != 0)
            abort();
        endpoint_url_free(&again);
        endpoint_url_free(&u);
    } else if (msg.len == 0 || strstr(ebuf_str(&msg), "\n")) {
        abort(); /* every refusal explains itself on one line */
    }
    ebuf_free(&msg);

    /* The same bytes as a region from the environment. */
    struct endpoint_inputs in = {0};
    struct env_reader env = {fuzz_getenv, s};
    in.env = &env;
    struct endpoint_resolution r;
    if (endpoint_resolve(&in, &r, &msg) == ECRUP_OK) {
        if (!endpoint_region_valid(r.region) || !r.parsed.base_url)
            abort();
        endpoint_resolution_free(&r);
    }
    ebuf_free(&msg);
    free(s);
    return 0;
}
