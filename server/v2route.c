/* The registry API's read path as pure functions over the request's strings (v2route.h). */
#include "server/v2route.h"

#include <string.h>
#include <strings.h>

#include "server/names.h"

/* The start of the last occurrence of `key` in [s, end), or NULL. */
static const char *last_of(const char *s, const char *end, const char *key)
{
    size_t k = strlen(key);
    for (const char *p = end - k; p >= s; p--)
        if (!memcmp(p, key, k))
            return p;
    return NULL;
}

/* out->name from [s, e), checked; false (NAME_INVALID) when it is no RepositoryName. */
static bool take_name(struct v2_route *out, const char *s, const char *e)
{
    size_t n = (size_t)(e - s);
    if (n >= sizeof out->name) {
        out->error = "NAME_INVALID";
        out->why = "the repository name is longer than 256 characters";
        return false;
    }
    memcpy(out->name, s, n);
    out->name[n] = '\0';
    if (!valid_repository_name(out->name)) {
        out->error = "NAME_INVALID";
        out->why = "invalid repository name";
        return false;
    }
    return true;
}

/* A digest reference: the sha256 form normalised into out->reference, else the error: a
 * digest of another algorithm cannot be here (only sha256 is stored), anything else is not a
 * digest at all. */
static bool take_digest(struct v2_route *out, const char *ref, const char *unknown)
{
    char d[72];
    if (strlen(ref) < sizeof d && srv_normal_sha256(ref, d)) {
        memcpy(out->reference, d, sizeof d);
        return true;
    }
    if (valid_layer_digest(ref)) {
        out->error = unknown;
        out->why = "only sha256 digests are stored";
    } else {
        out->error = "DIGEST_INVALID";
        out->why = "invalid digest";
    }
    return false;
}

bool v2_route_parse(const char *path, struct v2_route *out)
{
    memset(out, 0, sizeof *out);
    if (strncmp(path, "/v2", 3) != 0 || (path[3] != '\0' && path[3] != '/'))
        return false;
    if (path[3] == '\0' || path[4] == '\0') {
        out->kind = V2_BASE;
        return true;
    }
    const char *s = path + 4, *end = s + strlen(s);
    static const char tags[] = "/tags/list";
    size_t tl = sizeof tags - 1;
    if ((size_t)(end - s) > tl && !strcmp(end - tl, tags)) {
        out->kind = V2_TAGS;
        take_name(out, s, end - tl);
        return true;
    }
    const char *m = last_of(s, end, "/manifests/"), *b = last_of(s, end, "/blobs/");
    /* The rightmost keyword wins: after it comes a reference, which has no '/'. */
    if (m && (!b || m > b) && m > s) {
        out->kind = V2_MANIFEST;
        const char *ref = m + 11;
        if (!take_name(out, s, m))
            return true;
        if (strchr(ref, ':')) {
            out->by_digest = true;
            take_digest(out, ref, "MANIFEST_UNKNOWN");
        } else if (*ref == '\0' || strlen(ref) > 300 || strchr(ref, '/')) {
            /* ImageTag is 1 to 300 characters: no image here has this one. */
            out->error = "MANIFEST_UNKNOWN";
            out->why = "no tag of 1 to 300 characters";
        } else {
            memcpy(out->reference, ref, strlen(ref) + 1);
        }
        return true;
    }
    if (b && b > s) {
        out->kind = V2_BLOB;
        if (take_name(out, s, b))
            take_digest(out, b + 7, "BLOB_UNKNOWN");
        return true;
    }
    out->kind = V2_UNKNOWN;
    return true;
}

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

/* A decimal of at most 19 digits at *p, advancing past it; false when there is none. */
static bool take_number(const char **p, uint64_t *v)
{
    const char *s = *p;
    uint64_t x = 0;
    int n = 0;
    while (is_digit(*s)) {
        if (++n > 19)
            return false;
        x = x * 10 + (uint64_t)(*s++ - '0');
    }
    if (n == 0)
        return false;
    *p = s;
    *v = x;
    return true;
}

static const char *skip_blanks(const char *p)
{
    while (*p == ' ' || *p == '\t')
        p++;
    return p;
}

enum v2_range v2_range_parse(const char *h, uint64_t size, uint64_t *first, uint64_t *last)
{
    if (!h)
        return V2_RANGE_WHOLE;
    const char *p = skip_blanks(h);
    if (strncasecmp(p, "bytes", 5) != 0)
        return V2_RANGE_WHOLE;
    p = skip_blanks(p + 5);
    if (*p != '=')
        return V2_RANGE_WHOLE;
    p = skip_blanks(p + 1);
    if (strchr(p, ','))
        return V2_RANGE_WHOLE;
    uint64_t a = 0, b = 0;
    bool has_a = take_number(&p, &a);
    p = skip_blanks(p);
    if (*p++ != '-')
        return V2_RANGE_UNSATISFIABLE;
    p = skip_blanks(p);
    bool has_b = take_number(&p, &b);
    if (*skip_blanks(p) != '\0' || (!has_a && !has_b))
        return V2_RANGE_UNSATISFIABLE;
    if (!has_a) { /* the last b bytes */
        if (b == 0 || size == 0)
            return V2_RANGE_UNSATISFIABLE;
        *first = b >= size ? 0 : size - b;
        *last = size - 1;
        return V2_RANGE_PART;
    }
    if ((has_b && b < a) || a >= size)
        return V2_RANGE_UNSATISFIABLE;
    *first = a;
    *last = has_b && b < size ? b : size - 1;
    return V2_RANGE_PART;
}

/* The q of a media range's parameters [p, e): 1000 for 1, 0 for 0, thousandths between. */
static int quality(const char *p, const char *e)
{
    int q = 1000;
    while (p < e) {
        const char *semi = memchr(p, ';', (size_t)(e - p));
        const char *pe = semi ? semi : e;
        const char *k = skip_blanks(p);
        if (pe - k >= 2 && (k[0] == 'q' || k[0] == 'Q') && k[1] == '=') {
            const char *v = k + 2;
            q = 0;
            if (v < pe && *v == '1')
                q = 1000;
            else if (v < pe && *v == '0') {
                v++;
                if (v < pe && *v == '.')
                    v++;
                for (int scale = 100; v < pe && is_digit(*v) && scale; v++, scale /= 10)
                    q += (*v - '0') * scale;
            }
        }
        p = semi ? semi + 1 : e;
    }
    return q;
}

bool v2_accepts(const char *accept, const char *media_type)
{
    if (!accept || *skip_blanks(accept) == '\0')
        return true;
    const char *slash = strchr(media_type, '/');
    size_t type_len = slash ? (size_t)(slash - media_type) : strlen(media_type);
    for (const char *p = accept; *p;) {
        const char *comma = strchr(p, ',');
        const char *e = comma ? comma : p + strlen(p);
        const char *semi = memchr(p, ';', (size_t)(e - p));
        const char *r = skip_blanks(p), *re = semi ? semi : e;
        while (re > r && (re[-1] == ' ' || re[-1] == '\t'))
            re--;
        size_t n = (size_t)(re - r);
        bool match = (n == 3 && !memcmp(r, "*/*", 3)) ||
                     (n == type_len + 2 && !strncasecmp(r, media_type, type_len) &&
                      r[type_len] == '/' && r[type_len + 1] == '*') ||
                     (n == strlen(media_type) && !strncasecmp(r, media_type, n));
        if (match && quality(re, e) > 0)
            return true;
        p = comma ? comma + 1 : e;
    }
    return false;
}

bool v2_page_size(const char *n, long *out)
{
    if (!n) {
        *out = -1;
        return true;
    }
    uint64_t v;
    const char *p = n;
    if (!take_number(&p, &v) || *p != '\0' || v > 10000)
        return false;
    *out = (long)v;
    return true;
}

static int b64_value(char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (is_digit(c))
        return c - '0' + 52;
    return c == '+' ? 62 : c == '/' ? 63 : -1;
}

bool v2_basic_password(const char *authorization, char *pw, size_t cap)
{
    if (!authorization)
        return false;
    const char *p = skip_blanks(authorization);
    if (strncasecmp(p, "Basic", 5) != 0 || (p[5] != ' ' && p[5] != '\t'))
        return false;
    p = skip_blanks(p + 5);
    /* "AWS:" and a password of at most cap - 1 bytes: anything longer is refused unread. */
    char plain[4 + 256];
    size_t n = 0;
    uint32_t acc = 0;
    int bits = 0, pad = 0;
    for (; *p && *p != ' ' && *p != '\t'; p++) {
        if (*p == '=') {
            pad++;
            continue;
        }
        int v = b64_value(*p);
        if (v < 0 || pad)
            break; /* p stays on it: refused below */
        acc = acc << 6 | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            if (n == sizeof plain)
                break; /* too long for any password: refused below */
            plain[n++] = (char)(acc >> bits & 0xff);
        }
    }
    bool ok = *skip_blanks(p) == '\0' && pad <= 2 && bits < 6 && n >= 4 &&
              !memcmp(plain, "AWS:", 4) && n - 4 < cap && !memchr(plain, '\0', n);
    if (ok) {
        memcpy(pw, plain + 4, n - 4);
        pw[n - 4] = '\0';
    }
    explicit_bzero(plain, sizeof plain);
    return ok;
}

bool v2_query_escape(const char *s, char *out, size_t cap)
{
    static const char hexd[] = "0123456789ABCDEF";
    size_t o = 0;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        bool plain = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || is_digit((char)*p) ||
                     *p == '-' || *p == '.' || *p == '_' || *p == '~';
        if (o + (plain ? 1 : 3) >= cap)
            return false;
        if (plain) {
            out[o++] = (char)*p;
        } else {
            out[o++] = '%';
            out[o++] = hexd[*p >> 4];
            out[o++] = hexd[*p & 15];
        }
    }
    if (o >= cap)
        return false;
    out[o] = '\0';
    return true;
}
