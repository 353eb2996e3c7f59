/* Tar headers, one block at a time, without I/O. See cli/tar.h. */
#include "cli/tar.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

char *tar_clean_name(const char *s, size_t n)
{
    char *out = malloc(n + 1);
    if (!out)
        return NULL;
    size_t o = 0;
    for (size_t i = 0; i < n && s[i];) {
        if (s[i] == '/') {
            i++;
            continue;
        }
        if (s[i] == '.' && (i + 1 == n || s[i + 1] == '/' || s[i + 1] == '\0')) {
            i++;
            continue;
        }
        if (o)
            out[o++] = '/';
        while (i < n && s[i] && s[i] != '/')
            out[o++] = s[i++];
    }
    out[o] = '\0';
    return out;
}

bool tar_number(const unsigned char *f, size_t n, uint64_t *out)
{
    uint64_t v = 0;
    if (f[0] & 0x80) {
        if (f[0] != 0x80)
            return false; /* negative, or wider than 64 bits */
        for (size_t i = 1; i < n; i++) {
            if (v >> 56)
                return false;
            v = v << 8 | f[i];
        }
        *out = v;
        return true;
    }
    size_t i = 0;
    while (i < n && f[i] == ' ')
        i++;
    bool any = false;
    for (; i < n && f[i] >= '0' && f[i] <= '7'; i++, any = true) {
        if (v >> 60)
            return false;
        v = v << 3 | (uint64_t)(f[i] - '0');
    }
    for (; i < n; i++)
        if (f[i] != ' ' && f[i] != '\0')
            return false;
    *out = v;
    return any;
}

bool tar_checksum_ok(const unsigned char h[TAR_BLOCK])
{
    uint64_t want;
    if (!tar_number(h + 148, 8, &want))
        return false;
    uint64_t sum = 0;
    for (size_t i = 0; i < TAR_BLOCK; i++)
        sum += (i >= 148 && i < 156) ? ' ' : h[i];
    return sum == want;
}

static enum tar_type type_of(unsigned char flag)
{
    switch (flag) {
    case '0':
    case '\0':
    case '7':
        return TAR_FILE;
    case '1':
        return TAR_HARDLINK;
    case '2':
        return TAR_SYMLINK;
    case 'x':
        return TAR_PAX;
    case 'L':
        return TAR_GNU_LONGNAME;
    case 'K':
        return TAR_GNU_LONGLINK;
    default:
        return TAR_OTHER;
    }
}

/* A member of `size` bytes fits in the `avail` bytes after its header at `off`; else false
 * with the message. */
static bool size_fits(uint64_t size, const char *file, uint64_t off, uint64_t avail,
                      struct ebuf *err)
{
    if (size <= avail)
        return true;
    ebuf_printf(err,
                "%s is cut short: member at byte %" PRIu64 " needs %" PRIu64
                " bytes, the file ends %" PRIu64 " bytes later",
                file, off, size, avail);
    return false;
}

int tar_header_parse(const unsigned char h[TAR_BLOCK], const char *file, uint64_t off,
                     uint64_t avail, struct tar_header *out, struct ebuf *err)
{
    bool zero = true;
    for (size_t i = 0; i < TAR_BLOCK && zero; i++)
        zero = h[i] == 0;
    if (zero)
        return 0;
    uint64_t size;
    if (!tar_checksum_ok(h) || !tar_number(h + 124, 12, &size)) {
        ebuf_printf(err, "%s is not a tar file (bad header at byte %" PRIu64 ")", file, off);
        return -1;
    }
    if (!size_fits(size, file, off, avail, err))
        return -1;
    enum tar_type type = type_of(h[156]);
    if (tar_type_extended(type) && size > TAR_EXTENDED_MAX) {
        ebuf_printf(err, "%s: an extended header at byte %" PRIu64 " is too large", file, off);
        return -1;
    }
    *out = (struct tar_header){
        .type = type, .size = size, .padded = (size + TAR_BLOCK - 1) / TAR_BLOCK * TAR_BLOCK};
    return 1;
}

int tar_header_resize(struct tar_header *th, uint64_t size, const char *file, uint64_t off,
                      uint64_t avail, struct ebuf *err)
{
    if (!size_fits(size, file, off, avail, err))
        return -1;
    th->size = size;
    th->padded = (size + TAR_BLOCK - 1) / TAR_BLOCK * TAR_BLOCK;
    return 0;
}

char *tar_pax_value(const char *rec, size_t len, const char *key)
{
    size_t klen = strlen(key);
    size_t i = 0;
    while (i < len) {
        char *end;
        unsigned long n = strtoul(rec + i, &end, 10);
        if (end == rec + i || *end != ' ' || n == 0 || n > len - i)
            return NULL;
        const char *kv = end + 1, *stop = rec + i + n - 1; /* stop: the '\n' */
        if (kv > stop)
            return NULL;
        if ((size_t)(stop - kv) > klen && !strncmp(kv, key, klen) && kv[klen] == '=')
            return tar_clean_name(kv + klen + 1, (size_t)(stop - kv - (ptrdiff_t)klen - 1));
        i += n;
    }
    return NULL;
}

static void replace(char **slot, char *value)
{
    free(*slot);
    *slot = value;
}

void tar_names_apply(struct tar_names *p, enum tar_type type, const char *rec, size_t len)
{
    if (type == TAR_PAX) {
        char *name = tar_pax_value(rec, len, "path");
        char *link = tar_pax_value(rec, len, "linkpath");
        if (name)
            replace(&p->name, name);
        if (link)
            replace(&p->link, link);
    } else if (type == TAR_GNU_LONGNAME) {
        replace(&p->name, tar_clean_name(rec, len));
    } else if (type == TAR_GNU_LONGLINK) {
        replace(&p->link, tar_clean_name(rec, len));
    }
}

void tar_names_clear(struct tar_names *p)
{
    replace(&p->name, NULL);
    replace(&p->link, NULL);
}

/* The ustar prefix (when the block says ustar) joined to the name field. */
static char *header_name(const unsigned char h[TAR_BLOCK])
{
    char full[257];
    size_t pl = strnlen((const char *)h + 345, 155);
    size_t nl = strnlen((const char *)h, 100);
    bool ustar = !memcmp(h + 257, "ustar", 5);
    size_t k = 0;
    if (ustar && pl) {
        memcpy(full, h + 345, pl);
        full[pl] = '/';
        k = pl + 1;
    }
    memcpy(full + k, h, nl);
    return tar_clean_name(full, k + nl);
}

int tar_member_names(const unsigned char h[TAR_BLOCK], enum tar_type type,
                     struct tar_names *pending, char **name, char **link)
{
    bool is_link = type == TAR_HARDLINK || type == TAR_SYMLINK;
    char *n = pending->name;
    pending->name = NULL;
    if (!n)
        n = header_name(h);
    char *l = NULL;
    if (is_link) {
        l = pending->link
                ? pending->link
                : tar_clean_name((const char *)h + 157, strnlen((const char *)h + 157, 100));
        pending->link = NULL;
        if (type == TAR_SYMLINK && l && n) {
            /* a symbolic link is relative to its own directory */
            const char *slash = strrchr(n, '/');
            if (slash) {
                struct ebuf j = EBUF_INIT;
                ebuf_printf(&j, "%.*s/%s", (int)(slash - n), n, l);
                free(l);
                l = ebuf_ok(&j) ? tar_clean_name(ebuf_str(&j), j.len) : NULL;
                ebuf_free(&j);
            }
        }
    }
    if (!n || (is_link && !l)) {
        free(n);
        free(l);
        return -1;
    }
    *name = n;
    *link = l;
    return 0;
}

bool tar_pax_size(const char *rec, size_t len, uint64_t *out)
{
    char *size = tar_pax_value(rec, len, "size"), *end;
    bool ok = false;
    if (size && *size >= '0' && *size <= '9') {
        errno = 0;
        unsigned long long v = strtoull(size, &end, 10);
        if (!*end && !errno && v <= UINT64_MAX - TAR_BLOCK) {
            *out = v;
            ok = true;
        }
    }
    free(size);
    return ok;
}
