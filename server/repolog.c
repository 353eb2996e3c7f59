/* A repository's change journal (repolog.h): records framed and read back, appended durably,
 * replayed at start, folded into the state file when it has grown past it. */
#include "server/repolog.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "server/registry_impl.h"
#include "util/file.h"
#include "util/hex.h"
#include "util/json.h"

uint32_t repolog_crc32(const void *data, size_t n)
{
    const unsigned char *p = data;
    uint32_t c = 0xffffffffu;
    while (n--) {
        c ^= *p++;
        for (int k = 0; k < 8; k++)
            c = (c >> 1) ^ (0xedb88320u & (0u - (c & 1u)));
    }
    return ~c;
}

void repolog_frame(struct ebuf *out, const char *json, size_t n)
{
    ebuf_printf(out, "%08zx %08x ", n, (unsigned)repolog_crc32(json, n));
    ebuf_append(out, json, n);
    ebuf_putc(out, '\n');
}

/* Eight lowercase hex digits; false for anything else. */
static bool hex8(const char *p, uint32_t *v)
{
    *v = 0;
    for (int i = 0; i < 8; i++) {
        char c = p[i];
        int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
        if (d < 0)
            return false;
        *v = *v << 4 | (uint32_t)d;
    }
    return true;
}

bool repolog_next(const char *data, size_t len, size_t *off, const char **json, size_t *n)
{
    size_t at = *off;
    if (at > len || len - at < REPOLOG_HEADER + 1)
        return false;
    const char *h = data + at;
    uint32_t rec_len, crc;
    if (!hex8(h, &rec_len) || h[8] != ' ' || !hex8(h + 9, &crc) || h[17] != ' ' ||
        rec_len > REPOLOG_RECORD_MAX || len - at - REPOLOG_HEADER - 1 < rec_len)
        return false;
    const char *j = h + REPOLOG_HEADER;
    if (j[rec_len] != '\n' || repolog_crc32(j, rec_len) != crc)
        return false;
    *json = j;
    *n = rec_len;
    *off = at + REPOLOG_HEADER + rec_len + 1;
    return true;
}

/* ---- replay ---- */

static void drop_tag(struct repo *r, const char *name)
{
    struct tag *t = reg_find_tag(r, name);
    if (t) {
        free(t->name);
        *t = r->tags[--r->n_tags];
    }
}

static void drop_image(struct repo *r, const char *digest)
{
    struct image *im = reg_find_image(r, digest);
    if (!im)
        return;
    for (size_t i = r->n_tags; i-- > 0;)
        if (!strcmp(r->tags[i].digest, digest)) {
            free(r->tags[i].name);
            r->tags[i] = r->tags[--r->n_tags];
        }
    free(im->media_type);
    free(im->manifest);
    *im = r->images[--r->n_images];
}

static bool is_digest(const char *d)
{
    return d && sha256_digest_valid(d);
}

/* One record's change applied to r. Manifests are read after the whole journal, for the
 * images still there: one a later record deleted may have left the disk already. */
static bool apply(struct repo *r, const cJSON *c)
{
    const char *op = json_string(c, "op");
    if (!op)
        return false;
    if (!strcmp(op, "putImage")) {
        const char *d = json_string(c, "digest"), *mt = json_string(c, "mediaType");
        const char *tag = json_string(c, "tag");
        const cJSON *at = cJSON_GetObjectItemCaseSensitive(c, "pushedAt");
        if (!is_digest(d) || !mt || !cJSON_IsNumber(at))
            return false;
        if (!reg_find_image(r, d)) {
            GROW(r->images, r->n_images, r->cap_images);
            struct image *im = &r->images[r->n_images++];
            memcpy(im->digest, d, 72);
            if (!(im->media_type = strdup(mt)))
                abort();
            im->manifest = NULL;
            im->pushed_at = at->valuedouble;
        }
        if (tag) {
            struct tag *t = reg_find_tag(r, tag);
            if (!t) {
                GROW(r->tags, r->n_tags, r->cap_tags);
                t = &r->tags[r->n_tags++];
                if (!(t->name = strdup(tag)))
                    abort();
            }
            memcpy(t->digest, d, 72);
        }
        return true;
    }
    if (!strcmp(op, "deleteImages")) {
        const cJSON *it;
        cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(c, "tags"))
        {
            if (!cJSON_IsString(it))
                return false;
            drop_tag(r, it->valuestring);
        }
        cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(c, "images"))
        {
            if (!cJSON_IsString(it) || !is_digest(it->valuestring))
                return false;
            drop_image(r, it->valuestring);
        }
        return true;
    }
    if (!strcmp(op, "addLayer")) {
        const char *d = json_string(c, "digest");
        const cJSON *sz = cJSON_GetObjectItemCaseSensitive(c, "size");
        if (!is_digest(d) || !cJSON_IsNumber(sz))
            return false;
        if (!reg_find_layer(r, d)) {
            GROW(r->layers, r->n_layers, r->cap_layers);
            struct layer *l = &r->layers[r->n_layers++];
            memcpy(l->digest, d, 72);
            l->size = (uint64_t)sz->valuedouble;
        }
        return true;
    }
    if (!strcmp(op, "setMutability")) {
        const char *m = json_string(c, "imageTagMutability");
        if (!m || strlen(m) >= sizeof r->mutability)
            return false;
        reg_set_mutability(
            r, m, cJSON_GetObjectItemCaseSensitive(c, "imageTagMutabilityExclusionFilters"));
        return true;
    }
    return false;
}

int repolog_replay(struct registry *reg, struct repo *r, const char *path, struct ebuf *err)
{
    char *data = NULL;
    size_t len = 0;
    /* The journal stays below the state file's size and a megabyte, give or take a record,
     * unless folding it in keeps failing. */
    int rc = file_read_all(path, (size_t)1 << 32, &data, &len);
    if (rc == -ENOENT)
        return 0;
    if (rc != 0) {
        ebuf_printf(err, "cannot read the journal %s: %s", path, strerror(-rc));
        return -1;
    }
    uint64_t base_seq = r->seq;
    size_t off = 0, n;
    const char *json;
    while (repolog_next(data, len, &off, &json, &n)) {
        cJSON *c = cJSON_ParseWithLength(json, n);
        const cJSON *s = cJSON_GetObjectItemCaseSensitive(c, "seq");
        double seq = cJSON_IsNumber(s) ? s->valuedouble : -1;
        if (seq >= 0 && seq <= (double)base_seq && r->seq == base_seq) {
            /* Already in the state file: a crash came between its rewrite and the journal's
             * truncation. */
            cJSON_Delete(c);
            continue;
        }
        if (seq != (double)(r->seq + 1)) {
            /* A gap: nothing after it may be applied. */
            cJSON_Delete(c);
            off = len + 1;
            break;
        }
        if (!apply(r, c)) {
            ebuf_printf(err, "record %.0f of the journal %s cannot be applied", seq, path);
            cJSON_Delete(c);
            free(data);
            return -1;
        }
        r->seq++;
        cJSON_Delete(c);
    }
    r->log_bytes = len;
    /* A torn tail (a crash during an append) or damage: whatever comes next must not follow
     * it, so the next change rewrites the state file. */
    r->log_damaged = off != len;
    free(data);
    for (size_t i = 0; i < r->n_images; i++) {
        struct image *im = &r->images[i];
        if (im->manifest)
            continue;
        char mpath[STORE_PATH_CAP];
        store_path(reg, mpath, sizeof mpath, "manifests/%s", im->digest + 7);
        if (file_read_all(mpath, 64u << 20, &im->manifest, NULL) != 0) {
            im->manifest = NULL;
            ebuf_printf(err, "manifest %s of %s is missing", im->digest, r->name);
            return -1;
        }
    }
    return 0;
}

/* ---- appending ---- */

static int append_all(int fd, const char *p, size_t n)
{
    while (n) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* Append one framed record and make it durable: the file made if need be (its directory
 * entry fsynced too). On failure the journal is cut back to r->log_bytes; when even that fails
 * the journal is marked damaged. 0 or -1 with errno set. */
static int append_record(struct registry *reg, struct repo *r, const char *rec, size_t n)
{
    char path[STORE_PATH_CAP];
    if (!store_repo_path(reg, r->name, ".log", path))
        return -1;
    bool made = false;
    int fd = open(path, O_WRONLY | O_APPEND | O_CLOEXEC);
    if (fd < 0 && errno == ENOENT) {
        fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        made = true;
    }
    if (fd < 0)
        return -1;
    int rc = append_all(fd, rec, n);
    if (rc == 0)
        rc = fdatasync(fd);
    if (rc == 0 && made) {
        char dir[STORE_PATH_CAP];
        store_path(reg, dir, sizeof dir, "%s", "repos");
        rc = store_fsync_dir(dir);
    }
    int e = errno;
    if (rc != 0 && (ftruncate(fd, (off_t)r->log_bytes) != 0 || fdatasync(fd) != 0))
        r->log_damaged = true;
    close(fd);
    errno = e;
    return rc;
}

int store_log_change(struct registry *reg, struct repo *r, cJSON *change)
{
    if (!reg->dir) {
        cJSON_Delete(change);
        return 0;
    }
    if (r->log_damaged) {
        /* Bytes no record may follow may end the journal: the whole state replaces it. */
        cJSON_Delete(change);
        return store_persist_repo(reg, r);
    }
    cJSON_DeleteItemFromObjectCaseSensitive(change, "seq");
    cJSON_AddNumberToObject(change, "seq", (double)(r->seq + 1));
    char *json = cJSON_PrintUnformatted(change);
    cJSON_Delete(change);
    if (!json) {
        errno = ENOMEM;
        return -1;
    }
    struct ebuf rec = EBUF_INIT;
    repolog_frame(&rec, json, strlen(json));
    free(json);
    if (!ebuf_ok(&rec)) {
        ebuf_free(&rec);
        errno = ENOMEM;
        return -1;
    }
    int rc = append_record(reg, r, rec.data, rec.len);
    if (rc != 0) {
        if (r->log_damaged)
            /* The record may be on disk whole: its number is not given twice. */
            r->seq++;
        ebuf_free(&rec);
        return -1;
    }
    r->seq++;
    r->log_bytes += rec.len;
    ebuf_free(&rec);
    uint64_t bound = reg->compact_at > r->base_bytes ? reg->compact_at : r->base_bytes;
    if (r->log_bytes > bound) {
        /* Amortised, a change still costs what it changes: the state file is rewritten once
         * the journal has grown by as much. The change is already durable, so a failure here
         * only leaves the journal to fold in at the next change. */
        int e = errno;
        store_persist_repo(reg, r);
        errno = e;
    }
    return 0;
}
