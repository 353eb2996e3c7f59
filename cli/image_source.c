/* Reading an image for `ecrup push`: OCI image layouts (a directory or a tarball of one) and
 * classic `docker save` tarballs. See cli/image_source.h. */
#include "cli/image_source.h"

#include "cli/platform.h"
#include "cli/tar.h"
#include "util/hex.h"
#include "util/json.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_JSON (4u << 20) /* PutImage takes manifests up to 4 MiB; index.json is smaller */

#define MT_OCI_INDEX    "application/vnd.oci.image.index.v1+json"
#define MT_OCI_MANIFEST "application/vnd.oci.image.manifest.v1+json"
#define MT_OCI_CONFIG   "application/vnd.oci.image.config.v1+json"
#define MT_OCI_LAYER    "application/vnd.oci.image.layer.v1.tar"
#define MT_DOCKER_LIST  "application/vnd.docker.distribution.manifest.list.v2+json"
#define REF_NAME        "org.opencontainers.image.ref.name"

/* ---- where the files are: a directory, or the members of a tar file -------------------- */

struct member {
    char *name;
    char *link; /* a hard or symbolic link's target, else NULL */
    uint64_t offset, size;
    const struct image_member *sm; /* of a tarball read as a stream: what push_stream.c kept */
};

struct tree {
    const char *root; /* the directory or the tar file */
    bool tar;
    struct member *m;
    size_t n, cap;
    bool stream; /* a tarball read as a stream: no file to read, each member's `sm` says */
};

static void tree_free(struct tree *t)
{
    for (size_t i = 0; i < t->n; i++) {
        free(t->m[i].name);
        free(t->m[i].link);
    }
    free(t->m);
}

/* One file or link member, its data at `data`. Returns 0, or -1 with a message. */
static int add_member(struct tree *t, const unsigned char *h, const struct tar_header *th,
                      uint64_t data, struct tar_names *pending, struct ebuf *err)
{
    char *name, *link;
    if (tar_member_names(h, th->type, pending, &name, &link) != 0) {
        ebuf_puts(err, "out of memory");
        return -1;
    }
    if (t->n == t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 64;
        struct member *m = realloc(t->m, cap * sizeof *m);
        if (!m) {
            free(name);
            free(link);
            ebuf_puts(err, "out of memory");
            return -1;
        }
        t->m = m;
        t->cap = cap;
    }
    t->m[t->n++] = (struct member){name, link, data, link ? 0 : th->size};
    return 0;
}

static int tar_scan(struct tree *t, struct ebuf *err)
{
    int fd = open(t->root, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        ebuf_printf(err, "%s: cannot be read: %s", t->root, strerror(errno));
        return -1;
    }
    struct stat st;
    if (fstat(fd, &st) != 0) {
        ebuf_printf(err, "%s: %s", t->root, strerror(errno));
        close(fd);
        return -1;
    }
    uint64_t end = (uint64_t)st.st_size, off = 0;
    struct tar_names pending = {0};
    uint64_t pending_size = UINT64_MAX; /* a pax `size` record's for the next member */
    int rc = -1;
    for (;;) {
        unsigned char h[TAR_BLOCK];
        if (off + TAR_BLOCK > end) {
            if (t->n)
                rc = 0; /* a tar that ends without its zero blocks: what is there is whole */
            else
                ebuf_printf(err, "%s is not a tar file (too short)", t->root);
            break;
        }
        if (pread(fd, h, TAR_BLOCK, (off_t)off) != TAR_BLOCK) {
            ebuf_printf(err, "%s: read error at byte %" PRIu64, t->root, off);
            break;
        }
        uint64_t data = off + TAR_BLOCK;
        struct tar_header th;
        int got = tar_header_parse(h, t->root, off, end - data, &th, err);
        if (got <= 0) {
            rc = got;
            break;
        }
        if (tar_type_extended(th.type)) {
            char *rec = malloc(th.size + 1);
            if (!rec || pread(fd, rec, th.size, (off_t)data) != (ssize_t)th.size) {
                free(rec);
                ebuf_printf(err, "%s: read error at byte %" PRIu64, t->root, data);
                break;
            }
            rec[th.size] = '\0';
            tar_names_apply(&pending, th.type, rec, th.size);
            uint64_t size;
            if (th.type == TAR_PAX && tar_pax_size(rec, th.size, &size))
                pending_size = size;
            free(rec);
        } else {
            uint64_t size = pending_size;
            pending_size = UINT64_MAX;
            if (size != UINT64_MAX &&
                tar_header_resize(&th, size, t->root, off, end - data, err) != 0)
                break;
            if (th.type == TAR_OTHER)
                tar_names_clear(&pending);
            else if (add_member(t, h, &th, data, &pending, err) != 0)
                break;
        }
        off = data + th.padded;
    }
    tar_names_clear(&pending);
    close(fd);
    return rc;
}

/* The file or stream member `name` names in a tar, links followed; NULL when there is none. */
static const struct member *tree_member(const struct tree *t, const char *name)
{
    char *want = tar_clean_name(name, strlen(name));
    const struct member *found = NULL;
    for (int hops = 0; want && hops < 8 && !found; hops++) {
        const struct member *m = NULL;
        for (size_t i = t->n; i-- > 0;) /* the last of several same-named members wins */
            if (!strcmp(t->m[i].name, want)) {
                m = &t->m[i];
                break;
            }
        if (!m)
            break;
        if (!m->link) {
            found = m;
            break;
        }
        free(want);
        want = strdup(m->link);
    }
    free(want);
    return found;
}

/* Where `name` is: a file and a byte range of it. Returns 0, or -1 when there is no such file. */
static int tree_find(const struct tree *t, const char *name, char **path, uint64_t *offset,
                     uint64_t *size)
{
    if (!t->tar) {
        struct ebuf p = EBUF_INIT;
        ebuf_printf(&p, "%s/%s", t->root, name);
        struct stat st;
        if (!ebuf_ok(&p) || stat(ebuf_str(&p), &st) != 0 || !S_ISREG(st.st_mode)) {
            ebuf_free(&p);
            return -1;
        }
        *path = ebuf_take(&p);
        *offset = 0;
        *size = (uint64_t)st.st_size;
        return *path ? 0 : -1;
    }
    const struct member *m = tree_member(t, name);
    if (!m)
        return -1;
    *path = strdup(t->root);
    *offset = m->offset;
    *size = m->size;
    return *path ? 0 : -1;
}

static bool tree_has(const struct tree *t, const char *name)
{
    char *path = NULL;
    uint64_t offset, size;
    bool found = tree_find(t, name, &path, &offset, &size) == 0;
    free(path);
    return found;
}

/* Read all of `name` (at most MAX_JSON bytes) as a NUL-terminated string. */
static char *tree_read(const struct tree *t, const char *name, size_t *len, struct ebuf *err)
{
    char *path = NULL;
    uint64_t off, size;
    if (tree_find(t, name, &path, &off, &size) != 0) {
        ebuf_printf(err, "%s has no %s", t->root, name);
        return NULL;
    }
    char *buf = NULL;
    if (t->stream) {
        const struct image_member *m = tree_member(t, name)->sm;
        free(path);
        if (!m->data) {
            ebuf_printf(err, "%s: %s went by as a blob, not as the JSON document it should be",
                        t->root, name);
            return NULL;
        }
        if (!(buf = malloc(size + 1))) {
            ebuf_puts(err, "out of memory");
            return NULL;
        }
        memcpy(buf, m->data, size);
        buf[size] = '\0';
        *len = size;
        return buf;
    }
    if (size > MAX_JSON) {
        ebuf_printf(err, "%s: %s is %" PRIu64 " bytes, over the 4 MiB a manifest may have", t->root,
                    name, size);
    } else if ((buf = malloc(size + 1)) != NULL) {
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0 || pread(fd, buf, size, (off_t)off) != (ssize_t)size) {
            ebuf_printf(err, "%s: %s cannot be read: %s", t->root, name,
                        fd < 0 ? strerror(errno) : "short read");
            free(buf);
            buf = NULL;
        } else {
            buf[size] = '\0';
            *len = size;
        }
        if (fd >= 0)
            close(fd);
    } else {
        ebuf_puts(err, "out of memory");
    }
    free(path);
    return buf;
}

static cJSON *tree_json(const struct tree *t, const char *name, struct ebuf *err)
{
    size_t len;
    char *text = tree_read(t, name, &len, err);
    if (!text)
        return NULL;
    cJSON *doc = cJSON_ParseWithLength(text, len);
    free(text);
    if (!cJSON_IsObject(doc)) {
        cJSON_Delete(doc);
        ebuf_printf(err, "%s: %s is not a JSON object", t->root, name);
        return NULL;
    }
    return doc;
}

/* ---- building the result ---------------------------------------------------------------- */

static bool is_index(const char *mt)
{
    return mt && (!strcmp(mt, MT_OCI_INDEX) || !strcmp(mt, MT_DOCKER_LIST));
}

/* "blobs/sha256/<hex>" for a sha256 digest; false for any other. */
static bool blob_name(const char *digest, char out[80])
{
    if (!digest || !sha256_digest_valid(digest))
        return false;
    snprintf(out, 80, "blobs/sha256/%s", digest + 7);
    return true;
}

/* A stream member as blob `digest`: its bytes in memory must hash to it, and so must a
 * carried member whose digest its upload computed. Returns 0, or -1 with a message. */
static int stream_blob(const struct tree *t, const char *name, const char *digest,
                       struct image_blob *b, struct ebuf *err)
{
    const struct image_member *m = tree_member(t, name)->sm;
    char have[72] = "";
    if (m->data)
        sha256_digest(m->data, m->size, have);
    else if (m->item >= 0)
        snprintf(have, sizeof have, "%s", m->digest);
    else {
        ebuf_printf(err, "%s: %s was neither kept nor uploaded", t->root, name);
        return -1;
    }
    if (have[0] && strcmp(have, digest) != 0) {
        ebuf_printf(err, "%s: %s has digest %s, but the image names it %s: the tarball is damaged",
                    t->root, name, have, digest);
        return -1;
    }
    b->data = m->data;
    b->item = m->item;
    return 0;
}

/* The blob `digest` at `name`, added once whatever names it again; NULL with a message when
 * it is missing, empty or not `want_size` bytes (-1: any size). */
static const struct image_blob *add_blob(struct image_source *s, const struct tree *t,
                                         const char *name, const char *digest, int64_t want_size,
                                         struct ebuf *err)
{
    for (size_t i = 0; i < s->n_blobs; i++)
        if (!strcmp(s->blobs[i].digest, digest))
            return &s->blobs[i];
    struct image_blob b = {.item = -1};
    if (tree_find(t, name, &b.path, &b.offset, &b.size) != 0) {
        ebuf_printf(err, "%s has no %s (blob %s)", t->root, name, digest);
        return NULL;
    }
    if (t->stream && stream_blob(t, name, digest, &b, err) != 0) {
        free(b.path);
        return NULL;
    }
    if (want_size >= 0 && b.size != (uint64_t)want_size) {
        ebuf_printf(err, "%s: %s is %" PRIu64 " bytes, but the manifest says %" PRId64, t->root,
                    name, b.size, want_size);
        free(b.path);
        return NULL;
    }
    if (b.size == 0) {
        ebuf_printf(err, "%s: %s is empty; ECR takes no empty blobs", t->root, name);
        free(b.path);
        return NULL;
    }
    struct image_blob *nb = realloc(s->blobs, (s->n_blobs + 1) * sizeof *nb);
    b.name = strdup(name);
    if (!nb || !b.name) {
        if (nb)
            s->blobs = nb;
        free(b.path);
        free(b.name);
        ebuf_puts(err, "out of memory");
        return NULL;
    }
    snprintf(b.digest, sizeof b.digest, "%s", digest);
    s->blobs = nb;
    s->blobs[s->n_blobs] = b;
    return &s->blobs[s->n_blobs++];
}

/* Take `bytes` (malloc'd, `len` long) as a manifest to put. */
static int add_manifest(struct image_source *s, char *bytes, size_t len, const char *media_type,
                        bool top, struct ebuf *err)
{
    struct image_manifest *nm = realloc(s->manifests, (s->n_manifests + 1) * sizeof *nm);
    char *mt = media_type ? strdup(media_type) : NULL;
    if (!nm || (media_type && !mt)) {
        if (nm)
            s->manifests = nm;
        free(mt);
        free(bytes);
        ebuf_puts(err, "out of memory");
        return -1;
    }
    s->manifests = nm;
    struct image_manifest *m = &s->manifests[s->n_manifests++];
    *m = (struct image_manifest){.bytes = bytes, .len = len, .media_type = mt, .top = top};
    sha256_digest(bytes, len, m->digest);
    return 0;
}

/* The blob a descriptor of manifest `what` names, from a layout. */
static int take_blob(struct image_source *s, const struct tree *t, const cJSON *d, const char *what,
                     struct ebuf *err)
{
    char name[80];
    const char *digest = json_string(d, "digest");
    const cJSON *size = cJSON_GetObjectItemCaseSensitive(d, "size");
    if (!blob_name(digest, name)) {
        ebuf_printf(err, "%s: manifest %s names a blob by '%s', not by a sha256 digest", t->root,
                    what, digest ? digest : "(nothing)");
        return -1;
    }
    if (cJSON_GetObjectItemCaseSensitive(d, "urls") && !tree_has(t, name))
        return 0; /* a foreign layer the registry does not store: nothing to send */
    int64_t want = cJSON_IsNumber(size) ? (int64_t)size->valuedouble : -1;
    return add_blob(s, t, name, digest, want, err) ? 0 : -1;
}

/* The blobs of one image manifest (config and layers), from a layout. */
static int manifest_blobs(struct image_source *s, const struct tree *t, const cJSON *doc,
                          const char *what, struct ebuf *err)
{
    const cJSON *cfg = cJSON_GetObjectItemCaseSensitive(doc, "config");
    const cJSON *layers = cJSON_GetObjectItemCaseSensitive(doc, "layers");
    if (!cJSON_IsObject(cfg) || !cJSON_IsArray(layers)) {
        ebuf_printf(err, "%s: manifest %s has no config and layers", t->root, what);
        return -1;
    }
    if (take_blob(s, t, cfg, what, err) != 0)
        return -1;
    const cJSON *it;
    cJSON_ArrayForEach(it, layers)
    {
        if (take_blob(s, t, it, what, err) != 0)
            return -1;
    }
    return 0;
}

/* Read the manifest a descriptor names and check its bytes are the ones named. */
static char *read_descriptor(const struct tree *t, const cJSON *desc, size_t *len, struct ebuf *err)
{
    const char *digest = json_string(desc, "digest");
    char name[80];
    if (!blob_name(digest, name)) {
        ebuf_printf(err, "%s: a manifest is named by '%s', not by a sha256 digest", t->root,
                    digest ? digest : "(nothing)");
        return NULL;
    }
    char *bytes = tree_read(t, name, len, err);
    char got[72];
    if (bytes && (!sha256_digest(bytes, *len, got) || strcmp(got, digest) != 0)) {
        ebuf_printf(err, "%s: %s does not hash to its name (%s): the layout is damaged", t->root,
                    name, got);
        free(bytes);
        return NULL;
    }
    return bytes;
}

/* One manifest (or index) of a layout, its children and blobs first. */
static int take_document(struct image_source *s, const struct tree *t, char *bytes, size_t len,
                         const char *desc_mt, const char *digest, bool top, int depth,
                         struct ebuf *err);

static int take_manifest(struct image_source *s, const struct tree *t, const cJSON *desc, bool top,
                         int depth, struct ebuf *err)
{
    size_t len;
    char *bytes = read_descriptor(t, desc, &len, err);
    if (!bytes)
        return -1;
    return take_document(s, t, bytes, len, json_string(desc, "mediaType"),
                         json_string(desc, "digest"), top, depth, err);
}

/* Take the manifest or index `bytes` (malloc'd, `len` long; taken over), with its blobs and,
 * for an index, its manifests first. `digest` names it in messages. */
static int take_document(struct image_source *s, const struct tree *t, char *bytes, size_t len,
                         const char *desc_mt, const char *digest, bool top, int depth,
                         struct ebuf *err)
{
    cJSON *doc = cJSON_ParseWithLength(bytes, len);
    const char *mt = desc_mt;
    if (!mt)
        mt = json_string(doc, "mediaType");
    if (!mt && cJSON_GetObjectItemCaseSensitive(doc, "manifests"))
        mt = MT_OCI_INDEX; /* an index.json pushed as the image: OCI's, without the field */
    int rc = -1;
    if (!cJSON_IsObject(doc)) {
        ebuf_printf(err, "%s: manifest %s is not JSON", t->root, digest);
    } else if (is_index(mt) || cJSON_GetObjectItemCaseSensitive(doc, "manifests")) {
        const cJSON *it;
        rc = depth < 4 ? 0 : -1;
        if (rc)
            ebuf_printf(err, "%s: indexes nest too deep", t->root);
        cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(doc, "manifests"))
        {
            char name[80];
            if (rc == 0 && blob_name(json_string(it, "digest"), name) && !tree_has(t, name)) {
                /* an export of one platform keeps the index of all: ECR refuses an index
                 * whose manifests it does not have, so say which one is missing */
                const cJSON *pf = cJSON_GetObjectItemCaseSensitive(it, "platform");
                const char *os = json_string(pf, "os"), *arch = json_string(pf, "architecture");
                ebuf_printf(err,
                            "%s: index %s lists a manifest for %s/%s (%s) that is not in it; "
                            "ECR takes an index only with all of its manifests (was the image "
                            "exported for one platform only?)",
                            t->root, digest, os ? os : "?", arch ? arch : "?",
                            json_string(it, "digest"));
                rc = -1;
            }
            if (rc == 0)
                rc = take_manifest(s, t, it, false, depth + 1, err);
        }
    } else {
        rc = manifest_blobs(s, t, doc, digest, err);
    }
    if (rc == 0)
        rc = add_manifest(s, bytes, len, mt, top, err); /* mt may point into doc */
    else
        free(bytes);
    cJSON_Delete(doc);
    return rc;
}

/* The tag part of "name:tag" or "registry:5000/name:tag", else the whole reference (an OCI
 * ref.name may be the tag alone). */
static const char *tag_of_ref(const char *ref)
{
    const char *slash = strrchr(ref, '/');
    const char *colon = strrchr(slash ? slash : ref, ':');
    return colon ? colon + 1 : ref;
}

/* --platform: the manifest for `p` in the index entry `from` (an index) or, when it is NULL
 * or a manifest, among index.json's entries `ms`. Takes it as the top manifest. */
static int take_platform(struct image_source *s, const struct tree *t, const cJSON *ms,
                         const cJSON *from, const struct platform *p, struct ebuf *err)
{
    cJSON *inner = NULL;
    const cJSON *list = ms;
    if (from && is_index(json_string(from, "mediaType"))) {
        size_t len;
        char *bytes = read_descriptor(t, from, &len, err);
        if (!bytes)
            return -1;
        inner = cJSON_ParseWithLength(bytes, len);
        free(bytes);
        list = cJSON_GetObjectItemCaseSensitive(inner, "manifests");
    }
    const cJSON *it, *chosen = NULL;
    int matches = 0;
    struct ebuf have = EBUF_INIT;
    cJSON_ArrayForEach(it, list)
    {
        if (have.len)
            ebuf_puts(&have, ", ");
        platform_describe(it, &have);
        if (platform_matches(p, it)) {
            chosen = it;
            matches++;
        }
    }
    int rc = -1;
    if (matches == 1)
        rc = take_manifest(s, t, chosen, true, 0, err);
    else
        ebuf_printf(err, "%s has %s image for %s/%s%s%s (the platforms it has: %s)", t->root,
                    matches ? "more than one" : "no", p->os, p->arch, p->variant[0] ? "/" : "",
                    p->variant, have.len ? ebuf_str(&have) : "none");
    ebuf_free(&have);
    cJSON_Delete(inner);
    return rc;
}

/* True when index.json's entries are the platform manifests of one image: more than one,
 * none named, each with a platform (what hand-assembled and some tools' layouts hold). */
static bool platform_entries(const cJSON *ms)
{
    const cJSON *it;
    int n = 0;
    cJSON_ArrayForEach(it, ms)
    {
        if (json_string(cJSON_GetObjectItemCaseSensitive(it, "annotations"), REF_NAME) ||
            !cJSON_IsObject(cJSON_GetObjectItemCaseSensitive(it, "platform")))
            return false;
        n++;
    }
    return n > 1;
}

static int open_layout(struct image_source *s, const struct tree *t, const char *want_tag,
                       const struct platform *want_platform, struct ebuf *err)
{
    cJSON *layout = tree_json(t, "oci-layout", err);
    const char *version = layout ? json_string(layout, "imageLayoutVersion") : NULL;
    if (layout && (!version || strncmp(version, "1.", 2) != 0))
        ebuf_printf(err, "%s: oci-layout says imageLayoutVersion %s; this reads 1.x", t->root,
                    version ? version : "(none)");
    bool ok = layout && version && !strncmp(version, "1.", 2);
    cJSON_Delete(layout);
    if (!ok)
        return -1;
    cJSON *index = tree_json(t, "index.json", err);
    if (!index)
        return -1;
    const cJSON *ms = cJSON_GetObjectItemCaseSensitive(index, "manifests");
    const cJSON *pick = NULL, *it;
    int n = cJSON_GetArraySize(ms);
    struct ebuf names = EBUF_INIT;
    cJSON_ArrayForEach(it, ms)
    {
        const cJSON *ann = cJSON_GetObjectItemCaseSensitive(it, "annotations");
        const char *ref = json_string(ann, REF_NAME);
        if (ref)
            ebuf_printf(&names, "%s%s", names.len ? ", " : "", ref);
        if (want_tag && ref && (!strcmp(ref, want_tag) || !strcmp(tag_of_ref(ref), want_tag)))
            pick = it;
    }
    int rc = -1;
    if (!pick && n == 1)
        pick = cJSON_GetArrayItem(ms, 0);
    if (want_platform && n > 0 && (pick || !names.len)) {
        const char *ref =
            pick ? json_string(cJSON_GetObjectItemCaseSensitive(pick, "annotations"), REF_NAME)
                 : NULL;
        if (ref && image_tag_valid(tag_of_ref(ref)) && !(s->tag = strdup(tag_of_ref(ref))))
            ebuf_puts(err, "out of memory");
        else
            rc = take_platform(s, t, ms, pick, want_platform, err);
    } else if (!pick && platform_entries(ms)) {
        /* One multi-platform image whose index is index.json itself: put it whole. */
        size_t len;
        char *bytes = tree_read(t, "index.json", &len, err);
        if (bytes)
            rc = take_document(s, t, bytes, len, NULL, "index.json", true, 0, err);
    } else if (!pick && n == 0) {
        ebuf_printf(err, "%s: index.json lists no manifests", t->root);
    } else if (!pick && want_tag) {
        ebuf_printf(err, "%s holds %d images and none is named %s (the names it has: %s)", t->root,
                    n, want_tag, names.len ? ebuf_str(&names) : "none");
    } else if (!pick) {
        ebuf_printf(err, "%s holds %d images; say which with --tag (the names it has: %s)", t->root,
                    n, names.len ? ebuf_str(&names) : "none");
    } else {
        const char *ref =
            json_string(cJSON_GetObjectItemCaseSensitive(pick, "annotations"), REF_NAME);
        if (ref && image_tag_valid(tag_of_ref(ref)) && !(s->tag = strdup(tag_of_ref(ref))))
            ebuf_puts(err, "out of memory");
        else
            rc = take_manifest(s, t, pick, true, 0, err);
    }
    ebuf_free(&names);
    cJSON_Delete(index);
    return rc;
}

/* A classic `docker save` tarball: manifest.json lists Config and Layers (uncompressed
 * layer.tar files) per image; the config's rootfs.diff_ids are the layers' digests, so an
 * OCI manifest can be written for them. */
static int open_docker(struct image_source *s, const struct tree *t, const char *want_tag,
                       struct ebuf *err)
{
    size_t len;
    char *text = tree_read(t, "manifest.json", &len, err);
    if (!text)
        return -1;
    cJSON *list = cJSON_ParseWithLength(text, len);
    free(text);
    int n = cJSON_GetArraySize(list);
    const cJSON *pick = NULL, *it;
    const char *pick_ref = NULL;
    const cJSON *images = cJSON_IsArray(list) ? list : NULL;
    struct ebuf names = EBUF_INIT;
    cJSON_ArrayForEach(it, images)
    {
        const cJSON *tag;
        cJSON_ArrayForEach(tag, cJSON_GetObjectItemCaseSensitive(it, "RepoTags"))
        {
            if (!cJSON_IsString(tag))
                continue;
            ebuf_printf(&names, "%s%s", names.len ? ", " : "", tag->valuestring);
            if (want_tag && !strcmp(tag_of_ref(tag->valuestring), want_tag)) {
                pick = it;
                pick_ref = tag->valuestring;
            }
        }
    }
    if (!pick && n == 1) {
        /* One image: its tag when its names agree on one (buildah writes
         * ["docker.io/library/app:v2", "localhost/app:v2"]). */
        pick = cJSON_GetArrayItem(list, 0);
        const cJSON *tag;
        bool agree = true;
        cJSON_ArrayForEach(tag, cJSON_GetObjectItemCaseSensitive(pick, "RepoTags"))
        {
            if (!cJSON_IsString(tag))
                continue;
            if (pick_ref && strcmp(tag_of_ref(pick_ref), tag_of_ref(tag->valuestring)) != 0)
                agree = false;
            pick_ref = tag->valuestring;
        }
        if (!agree)
            pick_ref = NULL;
    }
    int rc = -1;
    cJSON *cfg = NULL, *m = NULL;
    if (!cJSON_IsArray(list) || n == 0) {
        ebuf_printf(err, "%s: manifest.json is not a list of images", t->root);
        goto out;
    }
    if (!pick && want_tag) {
        ebuf_printf(err, "%s holds %d images and none is named %s (the names it has: %s)", t->root,
                    n, want_tag, names.len ? ebuf_str(&names) : "none");
        goto out;
    }
    if (!pick) {
        ebuf_printf(err, "%s holds %d images; say which with --tag (the names it has: %s)", t->root,
                    n, names.len ? ebuf_str(&names) : "none");
        goto out;
    }
    const char *cfg_name = json_string(pick, "Config");
    const cJSON *layers = cJSON_GetObjectItemCaseSensitive(pick, "Layers");
    if (!cfg_name || !cJSON_IsArray(layers)) {
        ebuf_printf(err, "%s: manifest.json has no Config and Layers", t->root);
        goto out;
    }
    char *cfg_bytes = tree_read(t, cfg_name, &len, err);
    if (!cfg_bytes)
        goto out;
    char cfg_digest[72];
    sha256_digest(cfg_bytes, len, cfg_digest);
    size_t cfg_len = len;
    cfg = cJSON_ParseWithLength(cfg_bytes, len);
    free(cfg_bytes);
    const cJSON *diff_ids = cJSON_GetObjectItemCaseSensitive(
        cJSON_GetObjectItemCaseSensitive(cfg, "rootfs"), "diff_ids");
    if (cJSON_GetArraySize(diff_ids) != cJSON_GetArraySize(layers)) {
        ebuf_printf(err, "%s: the config %s lists %d layer digests (rootfs.diff_ids) for %d layers",
                    t->root, cfg_name, cJSON_GetArraySize(diff_ids), cJSON_GetArraySize(layers));
        goto out;
    }
    if (!add_blob(s, t, cfg_name, cfg_digest, (int64_t)cfg_len, err))
        goto out;
    m = cJSON_CreateObject();
    cJSON *c = cJSON_CreateObject();
    cJSON *ls = cJSON_CreateArray();
    bool ok = m && c && ls && cJSON_AddNumberToObject(m, "schemaVersion", 2) &&
              cJSON_AddStringToObject(m, "mediaType", MT_OCI_MANIFEST) &&
              cJSON_AddStringToObject(c, "mediaType", MT_OCI_CONFIG) &&
              cJSON_AddStringToObject(c, "digest", cfg_digest) &&
              cJSON_AddNumberToObject(c, "size", (double)cfg_len);
    if (ok) {
        cJSON_AddItemToObject(m, "config", c);
        cJSON_AddItemToObject(m, "layers", ls);
        c = ls = NULL;
    }
    const cJSON *d = diff_ids ? diff_ids->child : NULL;
    int k = 0;
    cJSON_ArrayForEach(it, layers)
    {
        if (!ok)
            break;
        const char *digest = cJSON_IsString(d) ? d->valuestring : NULL;
        if (!cJSON_IsString(it) || !digest || !sha256_digest_valid(digest)) {
            ebuf_printf(err, "%s: layer %d has no sha256 digest in the config's rootfs.diff_ids",
                        t->root, k + 1);
            goto out;
        }
        const struct image_blob *b = add_blob(s, t, it->valuestring, digest, -1, err);
        if (!b)
            goto out;
        uint64_t size = b->size;
        k++;
        cJSON *l = cJSON_CreateObject();
        ok = l && cJSON_AddStringToObject(l, "mediaType", MT_OCI_LAYER) &&
             cJSON_AddStringToObject(l, "digest", digest) &&
             cJSON_AddNumberToObject(l, "size", (double)size);
        if (l)
            cJSON_AddItemToArray(cJSON_GetObjectItemCaseSensitive(m, "layers"), l);
        d = d->next;
    }
    cJSON_Delete(c);
    cJSON_Delete(ls);
    char *bytes = ok ? cJSON_PrintUnformatted(m) : NULL;
    if (!bytes) {
        ebuf_puts(err, "out of memory");
        goto out;
    }
    const char *tag = pick_ref ? tag_of_ref(pick_ref) : NULL;
    if (tag && image_tag_valid(tag) && !(s->tag = strdup(tag))) {
        free(bytes);
        ebuf_puts(err, "out of memory");
        goto out;
    }
    rc = add_manifest(s, bytes, strlen(bytes), MT_OCI_MANIFEST, true, err);
out:
    ebuf_free(&names);
    cJSON_Delete(m);
    cJSON_Delete(cfg);
    cJSON_Delete(list);
    return rc;
}

bool image_tag_valid(const char *tag)
{
    size_t n = tag ? strlen(tag) : 0;
    if (n == 0 || n > 128 || tag[0] == '.' || tag[0] == '-')
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = tag[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '.' || c == '-'))
            return false;
    }
    return true;
}

static int open_tree(const struct tree *t, const char *want_tag,
                     const struct platform *want_platform, struct image_source *out,
                     struct ebuf *err);

int image_source_open(const char *path, const char *want_tag, const struct platform *want_platform,
                      struct image_source *out, struct ebuf *err)
{
    memset(out, 0, sizeof *out);
    struct stat st;
    if (stat(path, &st) != 0) {
        ebuf_printf(err, "%s: %s", path,
                    errno == ENOENT ? "no such file or directory" : strerror(errno));
        return -1;
    }
    struct tree t = {.root = path, .tar = !S_ISDIR(st.st_mode)};
    if (t.tar && !S_ISREG(st.st_mode)) {
        ebuf_printf(err, "%s is neither a directory nor a file", path);
        return -1;
    }
    if (t.tar && tar_scan(&t, err) != 0) {
        tree_free(&t);
        return -1;
    }
    int rc = open_tree(&t, want_tag, want_platform, out, err);
    tree_free(&t);
    if (rc != 0) {
        image_source_free(out);
        return -1;
    }
    return 0;
}

int image_source_from_members(const char *name, const struct image_member *m, size_t n,
                              const char *want_tag, const struct platform *want_platform,
                              struct image_source *out, struct ebuf *err)
{
    memset(out, 0, sizeof *out);
    struct tree t = {.root = name, .tar = true, .stream = true, .n = n, .cap = n};
    t.m = calloc(n ? n : 1, sizeof *t.m);
    bool ok = t.m != NULL;
    for (size_t i = 0; ok && i < n; i++) {
        t.m[i] = (struct member){.name = strdup(m[i].name), .size = m[i].size, .sm = &m[i]};
        ok = t.m[i].name && (!m[i].link || (t.m[i].link = strdup(m[i].link)));
    }
    int rc = -1;
    if (!ok)
        ebuf_puts(err, "out of memory");
    else
        rc = open_tree(&t, want_tag, want_platform, out, err);
    tree_free(&t);
    if (rc != 0) {
        image_source_free(out);
        return -1;
    }
    return 0;
}

/* What kind of image the tree holds, read. */
static int open_tree(const struct tree *t, const char *want_tag,
                     const struct platform *want_platform, struct image_source *out,
                     struct ebuf *err)
{
    const char *path = t->root;
    int rc;
    if (tree_has(t, "index.json")) {
        out->kind = t->tar ? "OCI layout tarball" : "OCI layout";
        rc = open_layout(out, t, want_tag, want_platform, err);
    } else if (t->tar && tree_has(t, "manifest.json")) {
        out->kind = "docker-save tarball";
        if (want_platform) {
            ebuf_printf(err,
                        "%s is a docker-save tarball, which holds one platform; --platform "
                        "picks among the platforms of an OCI layout",
                        path);
            rc = -1;
        } else {
            rc = open_docker(out, t, want_tag, err);
        }
    } else {
        ebuf_printf(err,
                    "%s is not an image: an OCI layout has index.json and oci-layout, a "
                    "docker-save tarball has manifest.json",
                    path);
        rc = -1;
    }
    return rc;
}

void image_source_free(struct image_source *s)
{
    for (size_t i = 0; i < s->n_blobs; i++) {
        free(s->blobs[i].name);
        free(s->blobs[i].path);
    }
    for (size_t i = 0; i < s->n_manifests; i++) {
        free(s->manifests[i].bytes);
        free(s->manifests[i].media_type);
    }
    free(s->blobs);
    free(s->manifests);
    free(s->tag);
    memset(s, 0, sizeof *s);
}
