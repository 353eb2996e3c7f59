/* The registry's durable store: every acknowledged change reaches the disk before its reply
 * (data fsynced, then state written to a temporary file, fsynced and renamed over the old, then
 * the directory fsynced, or a repository's change appended to its journal, repolog.c), and the
 * state is loaded back at start. The layout is registry.h's. */
#include "server/registry_impl.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "server/names.h"
#include "util/file.h"
#include "util/hex.h"
#include "util/json.h"

/* No cut can happen here (STORE_DIR_MAX and STORE_REL_MAX in registry_impl.h). */
void store_path(const struct registry *reg, char *out, size_t cap, const char *fmt, ...)
{
    char rel[600];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(rel, sizeof rel, fmt, ap);
    va_end(ap);
    snprintf(out, cap, "%s/%s", reg->dir, rel);
}

/* The longest file name a repository's state may have, ".json.tmp" included: NAME_MAX of
 * the file systems Linux has. */
#define REPO_FILE_MAX 255

/* The file name under repos/ of a repository's state, without ".json": the name with '/' as
 * '+', or, for a name too long for that (ECR's go to 256 characters), its SHA-256 in hex. The
 * loader reads the name from the file, so both forms load. False when hashing fails. */
static bool repo_file_name(const char *name, char out[300])
{
    size_t n = strlen(name);
    if (n + strlen(".json.tmp") > REPO_FILE_MAX)
        return sha256_hex(name, n, out);
    for (size_t i = 0; i <= n; i++)
        out[i] = name[i] == '/' ? '+' : name[i];
    return true;
}

bool store_repo_path(const struct registry *reg, const char *name, const char *suffix, char *out)
{
    char fname[300];
    if (!repo_file_name(name, fname))
        return false;
    store_path(reg, out, STORE_PATH_CAP, "repos/%s%s", fname, suffix);
    return true;
}

int store_fsync_dir(const char *path)
{
    int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    int rc = fsync(fd);
    close(fd);
    return rc;
}

static int write_all(int fd, const void *data, size_t n)
{
    const char *p = data;
    while (n) {
        ssize_t w = write(fd, p, n);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* Write `data` to `path` so that a crash leaves either the old or the new contents. */
int store_write_atomic(const char *path, const char *data, size_t n)
{
    char tmp[STORE_PATH_CAP];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0)
        return -1;
    if (write_all(fd, data, n) != 0 || fsync(fd) != 0) {
        close(fd);
        unlink(tmp);
        return -1;
    }
    close(fd);
    if (rename(tmp, path) != 0) {
        unlink(tmp);
        return -1;
    }
    char dir[STORE_PATH_CAP];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (slash)
        *slash = '\0';
    return store_fsync_dir(dir);
}

int store_persist_repo(struct registry *reg, struct repo *r)
{
    if (!reg->dir)
        return 0;
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "name", r->name);
    cJSON_AddNumberToObject(o, "createdAt", r->created_at);
    cJSON_AddStringToObject(o, "imageTagMutability", r->mutability);
    if (r->n_exclusions)
        cJSON_AddItemToObject(o, "imageTagMutabilityExclusionFilters", reg_exclusions_json(r));
    cJSON *layers = cJSON_AddArrayToObject(o, "layers");
    for (size_t i = 0; i < r->n_layers; i++) {
        cJSON *l = cJSON_CreateObject();
        cJSON_AddStringToObject(l, "digest", r->layers[i].digest);
        cJSON_AddNumberToObject(l, "size", (double)r->layers[i].size);
        cJSON_AddItemToArray(layers, l);
    }
    cJSON *images = cJSON_AddArrayToObject(o, "images");
    for (size_t i = 0; i < r->n_images; i++) {
        cJSON *im = cJSON_CreateObject();
        cJSON_AddStringToObject(im, "digest", r->images[i].digest);
        cJSON_AddStringToObject(im, "mediaType", r->images[i].media_type);
        cJSON_AddNumberToObject(im, "pushedAt", r->images[i].pushed_at);
        cJSON_AddItemToArray(images, im);
    }
    cJSON *tags = cJSON_AddArrayToObject(o, "tags");
    for (size_t i = 0; i < r->n_tags; i++) {
        cJSON *t = cJSON_CreateObject();
        cJSON_AddStringToObject(t, "tag", r->tags[i].name);
        cJSON_AddStringToObject(t, "digest", r->tags[i].digest);
        cJSON_AddItemToArray(tags, t);
    }
    cJSON_AddNumberToObject(o, "journalSeq", (double)r->seq);
    char *s = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    if (!s) {
        errno = ENOMEM;
        return -1;
    }
    char path[STORE_PATH_CAP], log[STORE_PATH_CAP];
    int rc = -1;
    size_t n = strlen(s);
    if (store_repo_path(reg, r->name, ".json", path) &&
        store_repo_path(reg, r->name, ".log", log)) {
        /* A new repository: a journal a deleted one of the same name left behind would be
         * replayed after it (its records count from 1 too). */
        rc = r->seq || unlink(log) == 0 || errno == ENOENT ? 0 : -1;
        if (rc == 0)
            rc = store_write_atomic(path, s, n);
    }
    free(s);
    if (rc != 0)
        return -1;
    r->base_bytes = n;
    /* The state file holds every record now. A crash before the journal is emptied leaves
     * records no later than its journalSeq, which loading skips. */
    int fd = open(log, O_WRONLY | O_TRUNC | O_CLOEXEC);
    if (fd < 0 && errno != ENOENT) {
        r->log_damaged = true;
    } else if (fd >= 0) {
        r->log_damaged = fdatasync(fd) != 0;
        close(fd);
    } else {
        r->log_damaged = false;
    }
    if (!r->log_damaged)
        r->log_bytes = 0;
    return 0;
}

int store_remove_repo(struct registry *reg, const struct repo *r)
{
    if (!reg->dir)
        return 0;
    char path[STORE_PATH_CAP];
    if (!store_repo_path(reg, r->name, ".json", path))
        return -1;
    if (unlink(path) != 0 && errno != ENOENT)
        return -1;
    /* The state file first: a crash between the two leaves a journal nothing names, which the
     * start removes, never a repository without its latest changes. */
    if (store_repo_path(reg, r->name, ".log", path))
        unlink(path);
    store_path(reg, path, sizeof path, "repos");
    return store_fsync_dir(path);
}

/* Called after the state that dropped the image is on disk: a crash in between leaves only a
 * manifest nothing names. Blobs stay: another image or repository may share them. */
void store_release_manifest(struct registry *reg, const char *digest)
{
    if (!reg->dir)
        return;
    for (size_t i = 0; i < reg->n_repos; i++)
        if (reg_find_image(reg->repos[i], digest))
            return;
    char path[STORE_PATH_CAP];
    store_path(reg, path, sizeof path, "manifests/%s", digest + 7);
    unlink(path);
}

int store_persist_upload(struct registry *reg, struct upload *u)
{
    if (!reg->dir)
        return 0;
    char buf[600], path[STORE_PATH_CAP];
    int n = snprintf(buf, sizeof buf,
                     "{\"repositoryName\":\"%s\",\"length\":%llu,\"parts\":%u,\"lastPart\":%llu,"
                     "\"smallNonLast\":%s}",
                     u->repo, (unsigned long long)u->length, u->parts,
                     (unsigned long long)u->last_part, u->small_nonlast ? "true" : "false");
    store_path(reg, path, sizeof path, "uploads/%s.json", u->id);
    return store_write_atomic(path, buf, (size_t)n);
}

void store_unlink_upload(struct registry *reg, const char *id)
{
    if (!reg->dir)
        return;
    char path[STORE_PATH_CAP];
    store_path(reg, path, sizeof path, "uploads/%s.json", id);
    unlink(path);
    store_path(reg, path, sizeof path, "uploads/%s.data", id);
    unlink(path);
}

/* A state file or manifest, whole; NULL when it cannot be read. The largest is a manifest
 * (ECR's limit is 4 MiB). */
static char *read_text(const char *path)
{
    char *data;
    return file_read_all(path, 64u << 20, &data, NULL) == 0 ? data : NULL;
}

static int load_repo(struct registry *reg, const char *path, struct ebuf *err)
{
    char *text = read_text(path);
    cJSON *o = text ? cJSON_Parse(text) : NULL;
    size_t base_bytes = text ? strlen(text) : 0;
    free(text);
    const char *name = json_string(o, "name");
    if (!name || !valid_repository_name(name)) {
        ebuf_printf(err, "unreadable repository file %s", path);
        cJSON_Delete(o);
        return -1;
    }
    struct repo *r = calloc(1, sizeof *r);
    if (!r)
        abort();
    snprintf(r->name, sizeof r->name, "%s", name);
    const char *mut = json_string(o, "imageTagMutability");
    snprintf(r->mutability, sizeof r->mutability, "%s", mut ? mut : "MUTABLE");
    cJSON *c = cJSON_GetObjectItemCaseSensitive(o, "createdAt");
    r->created_at = cJSON_IsNumber(c) ? c->valuedouble : 0;
    /* State written before there was a journal has no journalSeq: it holds no record. */
    c = cJSON_GetObjectItemCaseSensitive(o, "journalSeq");
    r->seq = cJSON_IsNumber(c) && c->valuedouble > 0 ? (uint64_t)c->valuedouble : 0;
    r->base_bytes = base_bytes;
    const cJSON *it;
    cJSON_ArrayForEach(it,
                       cJSON_GetObjectItemCaseSensitive(o, "imageTagMutabilityExclusionFilters"))
    {
        const char *f = json_string(it, "filter");
        if (f && strlen(f) <= 128 && r->n_exclusions < REPO_EXCLUSIONS_MAX)
            snprintf(r->exclusions[r->n_exclusions++], sizeof r->exclusions[0], "%s", f);
    }
    cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(o, "layers"))
    {
        const char *d = json_string(it, "digest");
        cJSON *sz = cJSON_GetObjectItemCaseSensitive(it, "size");
        if (!d || strlen(d) != 71 || !cJSON_IsNumber(sz))
            continue;
        GROW(r->layers, r->n_layers, r->cap_layers);
        struct layer *l = &r->layers[r->n_layers++];
        memcpy(l->digest, d, 72);
        l->size = (uint64_t)sz->valuedouble;
    }
    cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(o, "images"))
    {
        const char *d = json_string(it, "digest"), *mt = json_string(it, "mediaType");
        if (!d || strlen(d) != 71 || !mt)
            continue;
        char mpath[STORE_PATH_CAP];
        store_path(reg, mpath, sizeof mpath, "manifests/%s", d + 7);
        char *manifest = read_text(mpath);
        if (!manifest) {
            ebuf_printf(err, "manifest %s of %s is missing", d, name);
            cJSON_Delete(o);
            reg_repo_free(r);
            return -1;
        }
        GROW(r->images, r->n_images, r->cap_images);
        struct image *im = &r->images[r->n_images++];
        memcpy(im->digest, d, 72);
        im->media_type = strdup(mt);
        im->manifest = manifest;
        const cJSON *at = cJSON_GetObjectItemCaseSensitive(it, "pushedAt");
        /* State written before images had a push time: the repository's creation. */
        im->pushed_at = cJSON_IsNumber(at) ? at->valuedouble : r->created_at;
    }
    cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(o, "tags"))
    {
        const char *t = json_string(it, "tag"), *d = json_string(it, "digest");
        if (!t || !d || strlen(d) != 71)
            continue;
        GROW(r->tags, r->n_tags, r->cap_tags);
        struct tag *tg = &r->tags[r->n_tags++];
        tg->name = strdup(t);
        memcpy(tg->digest, d, 72);
    }
    cJSON_Delete(o);
    /* The changes since the state file was written: repos/<file>.log beside repos/<file>.json. */
    char log[STORE_PATH_CAP];
    size_t pn = strlen(path);
    snprintf(log, sizeof log, "%.*s.log", (int)(pn - strlen(".json")), path);
    if (repolog_replay(reg, r, log, err) != 0) {
        reg_repo_free(r);
        return -1;
    }
    GROW(reg->repos, reg->n_repos, reg->cap_repos);
    reg->repos[reg->n_repos++] = r;
    return 0;
}

static int load_upload(struct registry *reg, const char *id, struct ebuf *err)
{
    char path[STORE_PATH_CAP];
    store_path(reg, path, sizeof path, "uploads/%s.json", id);
    char *text = read_text(path);
    cJSON *o = text ? cJSON_Parse(text) : NULL;
    free(text);
    const char *repo = json_string(o, "repositoryName");
    cJSON *len = cJSON_GetObjectItemCaseSensitive(o, "length");
    cJSON *parts = cJSON_GetObjectItemCaseSensitive(o, "parts");
    cJSON *last = cJSON_GetObjectItemCaseSensitive(o, "lastPart");
    /* A name that is not one would be cut to fit u->repo: another repository's upload. */
    if (!repo || !valid_repository_name(repo) || !cJSON_IsNumber(len) || !cJSON_IsNumber(parts) ||
        !cJSON_IsNumber(last)) {
        ebuf_printf(err, "unreadable upload state %s", path);
        cJSON_Delete(o);
        return -1;
    }
    struct upload *u = calloc(1, sizeof *u);
    if (!u)
        abort();
    snprintf(u->id, sizeof u->id, "%s", id);
    snprintf(u->repo, sizeof u->repo, "%s", repo);
    u->length = (uint64_t)len->valuedouble;
    u->parts = (uint32_t)parts->valuedouble;
    u->last_part = (uint64_t)last->valuedouble;
    u->small_nonlast = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(o, "smallNonLast"));
    cJSON_Delete(o);
    /* Written at every acknowledged part: the upload's last activity survives a restart. */
    struct stat st;
    store_path(reg, path, sizeof path, "uploads/%s.json", id);
    u->touched = stat(path, &st) == 0 ? (double)st.st_mtim.tv_sec : reg_now();
    /* Bytes past the acknowledged length belong to a part that never completed. */
    store_path(reg, path, sizeof path, "uploads/%s.data", id);
    if (truncate(path, (off_t)u->length) != 0) {
        if (errno == ENOENT) {
            /* Completed into the blob store just before a crash: the upload is over. */
            free(u);
            store_unlink_upload(reg, id);
            return 0;
        }
        ebuf_printf(err, "upload data %s: %s", path, strerror(errno));
        free(u);
        return -1;
    }
    GROW(reg->uploads, reg->n_uploads, reg->cap_uploads);
    reg->uploads[reg->n_uploads++] = u;
    return 0;
}

/* What a crash leaves in `sub` that no state names: "*.tmp" files of writes that never
 * reached their rename and, in uploads/, "<id>.data" without its "<id>.json" (InitiateLayerUpload
 * stopped between the two). Run after the state is loaded, before any request. */
static void sweep_leftovers(struct registry *reg, const char *sub)
{
    char path[STORE_PATH_CAP];
    store_path(reg, path, sizeof path, "%s", sub);
    DIR *d = opendir(path);
    if (!d)
        return;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        size_t n = strlen(e->d_name);
        bool tmp = n > 4 && !strcmp(e->d_name + n - 4, ".tmp");
        bool orphan = false;
        if (!strcmp(sub, "repos") && n > 4 && !strcmp(e->d_name + n - 4, ".log")) {
            /* A journal whose state file is gone: DeleteRepository stopped between the two. */
            struct stat st;
            store_path(reg, path, sizeof path, "repos/%.*s.json", (int)(n - 4), e->d_name);
            orphan = stat(path, &st) != 0 && errno == ENOENT;
        }
        if (!strcmp(sub, "uploads") && n == 36 + 5 && !strcmp(e->d_name + 36, ".data")) {
            char id[37];
            memcpy(id, e->d_name, 36);
            id[36] = '\0';
            orphan = !reg_find_upload(reg, id);
        }
        if (tmp || orphan) {
            store_path(reg, path, sizeof path, "%s/%s", sub, e->d_name);
            unlink(path);
        }
    }
    closedir(d);
}

int store_load(struct registry *reg, struct ebuf *err)
{
    static const char *subdirs[] = {"repos", "manifests", "blobs", "blobs/sha256", "uploads"};
    /* 0700 and 0600 throughout, as the default temporary directory: the store holds what
     * clients pushed, which is nobody else's to read. */
    if (mkdir(reg->dir, 0700) != 0 && errno != EEXIST) {
        ebuf_printf(err, "cannot create %s: %s", reg->dir, strerror(errno));
        return -1;
    }
    /* One server per data directory: two would overwrite each other's repository files. */
    char lock[STORE_PATH_CAP];
    store_path(reg, lock, sizeof lock, "%s", ".lock");
    reg->lock_fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (reg->lock_fd < 0) {
        ebuf_printf(err, "cannot create %s: %s", lock, strerror(errno));
        return -1;
    }
    if (flock(reg->lock_fd, LOCK_EX | LOCK_NB) != 0) {
        ebuf_printf(err,
                    errno == EWOULDBLOCK
                        ? "the data directory %s is in use by another ecrup serve; give each "
                          "server its own --data-dir"
                        : "cannot lock the data directory %s: %s",
                    reg->dir, strerror(errno));
        return -1;
    }
    for (size_t i = 0; i < sizeof subdirs / sizeof subdirs[0]; i++) {
        char path[STORE_PATH_CAP];
        store_path(reg, path, sizeof path, "%s", subdirs[i]);
        if (mkdir(path, 0700) != 0 && errno != EEXIST) {
            ebuf_printf(err, "cannot create %s: %s", path, strerror(errno));
            return -1;
        }
    }
    char path[STORE_PATH_CAP];
    store_path(reg, path, sizeof path, "%s", "repos");
    DIR *d = opendir(path);
    if (!d) {
        ebuf_printf(err, "cannot read %s: %s", path, strerror(errno));
        return -1;
    }
    struct dirent *e;
    int rc = 0;
    while (rc == 0 && (e = readdir(d)) != NULL) {
        size_t n = strlen(e->d_name);
        if (n > 5 && !strcmp(e->d_name + n - 5, ".json")) {
            char f[STORE_PATH_CAP];
            store_path(reg, f, sizeof f, "repos/%s", e->d_name);
            rc = load_repo(reg, f, err);
        }
    }
    closedir(d);
    if (rc)
        return rc;
    store_path(reg, path, sizeof path, "%s", "uploads");
    d = opendir(path);
    if (!d) {
        ebuf_printf(err, "cannot read %s: %s", path, strerror(errno));
        return -1;
    }
    while (rc == 0 && (e = readdir(d)) != NULL) {
        size_t n = strlen(e->d_name);
        if (n == 36 + 5 && !strcmp(e->d_name + 36, ".json")) {
            char id[37];
            memcpy(id, e->d_name, 36);
            id[36] = '\0';
            if (valid_upload_id(id))
                rc = load_upload(reg, id, err);
        }
    }
    closedir(d);
    if (rc)
        return rc;
    sweep_leftovers(reg, "repos");
    sweep_leftovers(reg, "manifests");
    sweep_leftovers(reg, "uploads");
    reg_expire_uploads(reg);
    return 0;
}
