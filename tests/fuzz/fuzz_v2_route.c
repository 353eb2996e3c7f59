/* Fuzz the registry API's pure parsers (server/v2route.h) and check what server/v2.c relies
 * on: a route without an error names a valid repository and a reference the store can hold
 * (a sha256 digest, or a tag of 1 to 300 characters without '/' or ':'); a range lies inside
 * the blob; a Basic password fits its buffer; a query escape decodes back to its input.
 * The input's lines are: path, Range, Accept, media type, n, Authorization, a size. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "server/names.h"
#include "server/v2route.h"
#include "util/hex.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int hexval(char c)
{
    return c >= '0' && c <= '9' ? c - '0' : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

static void check_route(const char *path)
{
    struct v2_route rt;
    if (!v2_route_parse(path, &rt)) {
        if (!strncmp(path, "/v2/", 4) || !strcmp(path, "/v2"))
            abort();
        return;
    }
    if (rt.error || rt.kind == V2_BASE || rt.kind == V2_UNKNOWN)
        return;
    if (!valid_repository_name(rt.name))
        abort();
    if (rt.kind == V2_BLOB || (rt.kind == V2_MANIFEST && rt.by_digest)) {
        if (!sha256_digest_valid(rt.reference))
            abort();
    } else if (rt.kind == V2_MANIFEST) {
        size_t n = strlen(rt.reference);
        if (n < 1 || n > 300 || strchr(rt.reference, '/') || strchr(rt.reference, ':'))
            abort();
    }
}

static void check_escape(const char *s)
{
    char out[3 * 64 + 1], back[64 + 1];
    if (strlen(s) > 64 || !v2_query_escape(s, out, sizeof out))
        return;
    size_t n = 0;
    for (const char *p = out; *p; p++) {
        if (*p == '%') {
            int hi = hexval(p[1]), lo = hi < 0 ? -1 : hexval(p[2]);
            if (lo < 0)
                abort();
            back[n++] = (char)(hi << 4 | lo);
            p += 2;
        } else {
            back[n++] = *p;
        }
    }
    back[n] = '\0';
    if (strcmp(back, s) != 0)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);
    if (!s)
        return 0;
    memcpy(s, data, size);
    s[size] = '\0';
    const char *line[7] = {"", "", "", "application/vnd.oci.image.manifest.v1+json", "", "", ""};
    char *p = s;
    for (int i = 0; i < 7 && p; i++) {
        char *nl = strchr(p, '\n');
        if (nl)
            *nl = '\0';
        line[i] = p;
        p = nl ? nl + 1 : NULL;
    }
    check_route(line[0]);

    uint64_t blob = strtoull(line[6], NULL, 10), first = 0, last = 0;
    if (v2_range_parse(line[1], blob, &first, &last) == V2_RANGE_PART &&
        !(first <= last && last < blob))
        abort();
    (void)v2_accepts(line[2], line[3]);
    long n;
    if (v2_page_size(line[4], &n) && (n < 0 || n > 10000))
        abort();
    char pw[65];
    if (v2_basic_password(line[5], pw, sizeof pw) && strlen(pw) >= sizeof pw)
        abort();
    check_escape(line[0]);
    free(s);
    return 0;
}
