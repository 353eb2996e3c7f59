/* SigV4 canonicalisation: the canonical request and the string to sign, pure functions over
 * caller buffers. The signer (sigv4.c) and the server's verifier (sigv4_verify.c) both build on
 * these, which is what makes a client and a server of this code agree. See docs/sigv4.md for
 * the rules chosen where the specification leaves room (path normalisation, query encoding). */
#include "signer/sigv4.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "util/hex.h"

static const char hexdig_upper[] = "0123456789ABCDEF";

/* ---- small helpers ---------------------------------------------------------------------- */

static bool is_unreserved(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '.' || c == '_' || c == '~';
}

/* RFC 7230 tchar: what a header name or a method may contain. Anything else could not be
 * represented in the SignedHeaders list (';', ',', '=' and whitespace are separators). */
static bool is_tchar(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
           (c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

static bool is_token(const char *s)
{
    if (!s || !*s)
        return false;
    for (; *s; s++)
        if (!is_tchar((unsigned char)*s))
            return false;
    return true;
}

static void uri_encode(struct ebuf *out, const char *s, size_t n, bool keep_slash)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (is_unreserved(c) || (keep_slash && c == '/')) {
            ebuf_putc(out, (char)c);
        } else {
            char esc[3] = {'%', hexdig_upper[c >> 4], hexdig_upper[c & 15]};
            ebuf_append(out, esc, 3);
        }
    }
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Percent-decoding; a '%' not followed by two hex digits stays literal, '+' stays '+'. */
static void uri_decode(struct ebuf *out, const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        int hi, lo;
        if (s[i] == '%' && i + 2 < n && (hi = hexval(s[i + 1])) >= 0 &&
            (lo = hexval(s[i + 2])) >= 0) {
            ebuf_putc(out, (char)(hi * 16 + lo));
            i += 2;
        } else {
            ebuf_putc(out, s[i]);
        }
    }
}

/* ---- canonical request ------------------------------------------------------------------ */

struct span {
    size_t off, len;
};

/* botocore's remove_dot_segments: empty and "." segments go, ".." pops, a leading '/' and a
 * trailing '/' (when anything is left) are kept. */
static int append_canonical_path(struct ebuf *out, const char *path, bool normalize)
{
    if (!path || !*path) {
        ebuf_putc(out, '/');
        return 0;
    }
    size_t n = strlen(path);
    if (!normalize) {
        uri_encode(out, path, n, true);
        return 0;
    }
    struct span *seg = malloc((n / 2 + 2) * sizeof *seg);
    if (!seg)
        return -1;
    size_t nseg = 0;
    for (size_t i = 0; i <= n;) {
        size_t j = i;
        while (j < n && path[j] != '/')
            j++;
        size_t len = j - i;
        if (len == 0 || (len == 1 && path[i] == '.')) {
            /* skipped */
        } else if (len == 2 && path[i] == '.' && path[i + 1] == '.') {
            if (nseg)
                nseg--;
        } else {
            seg[nseg++] = (struct span){i, len};
        }
        i = j + 1;
    }
    size_t start = out->len;
    if (path[0] == '/')
        ebuf_putc(out, '/');
    for (size_t k = 0; k < nseg; k++) {
        if (k)
            ebuf_putc(out, '/');
        uri_encode(out, path + seg[k].off, seg[k].len, false);
    }
    if (path[n - 1] == '/' && nseg)
        ebuf_putc(out, '/');
    if (out->len == start)
        ebuf_putc(out, '/');
    free(seg);
    return 0;
}

struct qparam {
    size_t name_off, name_len, value_off, value_len;
};

static int cmp_span(const char *base, size_t ao, size_t al, size_t bo, size_t bl)
{
    size_t m = al < bl ? al : bl;
    int c = memcmp(base + ao, base + bo, m);
    if (c)
        return c;
    return al < bl ? -1 : al > bl;
}

static int qparam_cmp_r(const void *a, const void *b, void *arg)
{
    const struct qparam *x = a, *y = b;
    const char *base = arg;
    int c = cmp_span(base, x->name_off, x->name_len, y->name_off, y->name_len);
    if (c)
        return c;
    return cmp_span(base, x->value_off, x->value_len, y->value_off, y->value_len);
}

/* Each name and value is decoded, then encoded with every reserved character escaped, and the
 * pairs sorted by encoded name then value. Empty pieces ("a&&b") are dropped; a name without
 * '=' gets an empty value ("k="). */
static int append_canonical_query(struct ebuf *out, const char *query)
{
    if (!query || !*query)
        return 0;
    size_t n = strlen(query);
    size_t cap = 1;
    for (size_t i = 0; i < n; i++)
        cap += query[i] == '&';
    struct qparam *p = malloc(cap * sizeof *p);
    if (!p)
        return -1;
    struct ebuf enc = EBUF_INIT, tmp = EBUF_INIT;
    size_t np = 0;
    for (size_t i = 0; i <= n;) {
        size_t j = i;
        while (j < n && query[j] != '&')
            j++;
        if (j > i) {
            const char *eq = memchr(query + i, '=', j - i);
            size_t name_end = eq ? (size_t)(eq - query) : j;
            struct qparam q;
            ebuf_reset(&tmp);
            uri_decode(&tmp, query + i, name_end - i);
            q.name_off = enc.len;
            uri_encode(&enc, tmp.data ? tmp.data : "", tmp.len, false);
            q.name_len = enc.len - q.name_off;
            ebuf_reset(&tmp);
            if (eq)
                uri_decode(&tmp, eq + 1, j - name_end - 1);
            q.value_off = enc.len;
            uri_encode(&enc, tmp.data ? tmp.data : "", tmp.len, false);
            q.value_len = enc.len - q.value_off;
            p[np++] = q;
        }
        i = j + 1;
    }
    int rc = ebuf_ok(&enc) && ebuf_ok(&tmp) ? 0 : -1;
    if (rc == 0 && np) {
        /* "=" alone encodes to nothing: enc.data may still be NULL */
        char *base = (char *)(uintptr_t)ebuf_str(&enc);
        qsort_r(p, np, sizeof *p, qparam_cmp_r, base);
        for (size_t k = 0; k < np; k++) {
            if (k)
                ebuf_putc(out, '&');
            ebuf_append(out, base + p[k].name_off, p[k].name_len);
            ebuf_putc(out, '=');
            ebuf_append(out, base + p[k].value_off, p[k].value_len);
        }
    }
    ebuf_free(&enc);
    ebuf_free(&tmp);
    free(p);
    return rc;
}

struct hentry {
    char *name; /* lowercased copy */
    const char *value;
    size_t index; /* position in the request, so repeated headers keep their order */
};

static int hentry_cmp(const void *a, const void *b)
{
    const struct hentry *x = a, *y = b;
    int c = strcmp(x->name, y->name);
    if (c)
        return c;
    return x->index < y->index ? -1 : x->index > y->index;
}

/* Trimall: leading and trailing whitespace removed, inner runs (line breaks of obsolete
 * folded values included) become one space. */
static void append_trimmed(struct ebuf *out, const char *v)
{
    bool pending_space = false, any = false;
    for (; *v; v++) {
        if (sigv4_is_ws(*v)) {
            pending_space = any;
            continue;
        }
        if (pending_space)
            ebuf_putc(out, ' ');
        pending_space = false;
        any = true;
        ebuf_putc(out, *v);
    }
}

int sigv4_canonical_request(const struct sigv4_request *req, struct ebuf *out,
                            struct ebuf *signed_headers)
{
    if (!req || !out || !is_token(req->method) || !req->payload_sha256 ||
        (req->n_headers && !req->headers))
        return -1;
    struct hentry *h = calloc(req->n_headers ? req->n_headers : 1, sizeof *h);
    if (!h)
        return -1;
    int rc = -1;
    bool have_host = false;
    size_t nh = 0;
    for (size_t i = 0; i < req->n_headers; i++, nh++) {
        const char *name = req->headers[i].name;
        if (!is_token(name) || !req->headers[i].value)
            goto done;
        size_t len = strlen(name);
        h[i].name = malloc(len + 1);
        if (!h[i].name)
            goto done;
        for (size_t k = 0; k <= len; k++)
            h[i].name[k] = (char)tolower((unsigned char)name[k]);
        h[i].value = req->headers[i].value;
        h[i].index = i;
        if (strcmp(h[i].name, "host") == 0)
            have_host = true;
    }
    if (!have_host)
        goto done;
    qsort(h, nh, sizeof *h, hentry_cmp);

    ebuf_puts(out, req->method);
    ebuf_putc(out, '\n');
    if (append_canonical_path(out, req->path, req->normalize_path) != 0)
        goto done;
    ebuf_putc(out, '\n');
    if (append_canonical_query(out, req->query) != 0)
        goto done;
    ebuf_putc(out, '\n');
    for (size_t i = 0; i < nh; i++) {
        bool first = i == 0 || strcmp(h[i].name, h[i - 1].name) != 0;
        bool last = i + 1 == nh || strcmp(h[i].name, h[i + 1].name) != 0;
        if (first) {
            ebuf_puts(out, h[i].name);
            ebuf_putc(out, ':');
        } else {
            ebuf_putc(out, ',');
        }
        append_trimmed(out, h[i].value);
        if (last)
            ebuf_putc(out, '\n');
    }
    ebuf_putc(out, '\n');
    size_t sh_start = out->len;
    for (size_t i = 0; i < nh; i++) {
        if (i && strcmp(h[i].name, h[i - 1].name) == 0)
            continue;
        if (out->len > sh_start)
            ebuf_putc(out, ';');
        ebuf_puts(out, h[i].name);
    }
    if (signed_headers && ebuf_ok(out))
        ebuf_append(signed_headers, out->data + sh_start, out->len - sh_start);
    ebuf_putc(out, '\n');
    ebuf_puts(out, req->payload_sha256);
    rc = ebuf_ok(out) && (!signed_headers || ebuf_ok(signed_headers)) ? 0 : -1;
done:
    for (size_t i = 0; i < nh; i++)
        free(h[i].name);
    free(h);
    return rc;
}

/* ---- string to sign, keys ------------------------------------------------------------- */

void sigv4_string_to_sign(const char *canonical_request, size_t len, const char *amz_date,
                          const char *region, const char *service, struct ebuf *out)
{
    char hash[65];
    if (!sha256_hex(canonical_request, len, hash)) {
        out->oom = true;
        return;
    }
    ebuf_printf(out, SIGV4_ALGORITHM "\n%s\n%.8s/%s/%s/aws4_request\n%s", amz_date, amz_date,
                region, service, hash);
}
