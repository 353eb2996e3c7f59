#include "server/registry.h"

#include "util/hex.h"
#include "util/json.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define MIN_PART           (5u * 1024 * 1024)
#define MAX_BLOB           20971520u
#define DEFAULT_MEDIA_TYPE "application/vnd.docker.distribution.manifest.v2+json"

/* ---- replies ---- */

void srv_reply_json(struct srv_reply *r, cJSON *obj)
{
    r->status = 200;
    r->error_type = NULL;
    ebuf_reset(&r->body);
    char *s = obj ? cJSON_PrintUnformatted(obj) : NULL;
    ebuf_puts(&r->body, s ? s : "{}");
    free(s);
    cJSON_Delete(obj);
}

static void reply_verror(struct srv_reply *r, int status, const char *type, cJSON *fields,
                         const char *fmt, va_list ap) __attribute__((format(printf, 5, 0)));
static void reply_verror(struct srv_reply *r, int status, const char *type, cJSON *fields,
                         const char *fmt, va_list ap)
{
    char msg[600];
    vsnprintf(msg, sizeof msg, fmt, ap);
    cJSON *o = fields ? fields : cJSON_CreateObject();
    cJSON_AddStringToObject(o, "__type", type);
    cJSON_AddStringToObject(o, "message", msg);
    srv_reply_json(r, o);
    r->status = status;
    r->error_type = type;
}

void srv_reply_error(struct srv_reply *r, int status, const char *type, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    reply_verror(r, status, type, NULL, fmt, ap);
    va_end(ap);
}

void srv_reply_error_fields(struct srv_reply *r, int status, const char *type, cJSON *fields,
                            const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    reply_verror(r, status, type, fields, fmt, ap);
    va_end(ap);
}

/* ---- model checks ---- */

static bool is_lower_alnum(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

/* [a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*(\/[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*)*, 2..256 chars */
bool valid_repository_name(const char *s)
{
    size_t n = strlen(s);
    if (n < 2 || n > 256)
        return false;
    size_t i = 0;
    for (;;) {
        if (!is_lower_alnum(s[i]))
            return false;
        while (is_lower_alnum(s[i]))
            i++;
        if (s[i] == '\0')
            return true;
        if (s[i] == '/') {
            i++;
            continue;
        }
        if (s[i] == '.')
            i++;
        else if (s[i] == '_')
            i += s[i + 1] == '_' ? 2 : 1;
        else if (s[i] == '-')
            while (s[i] == '-')
                i++;
        else
            return false;
    }
}

/* [a-zA-Z0-9-_+.]+:[a-fA-F0-9]+ */
bool valid_layer_digest(const char *s)
{
    size_t i = 0;
    while ((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
           (s[i] >= '0' && s[i] <= '9') || s[i] == '-' || s[i] == '_' || s[i] == '+' || s[i] == '.')
        i++;
    if (i == 0 || s[i] != ':')
        return false;
    size_t j = ++i;
    while ((s[i] >= 'a' && s[i] <= 'f') || (s[i] >= 'A' && s[i] <= 'F') ||
           (s[i] >= '0' && s[i] <= '9'))
        i++;
    return i > j && s[i] == '\0';
}

bool valid_upload_id(const char *s)
{
    static const int groups[] = {8, 4, 4, 4, 12};
    for (int g = 0; g < 5; g++) {
        for (int k = 0; k < groups[g]; k++, s++)
            if (!((*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'f') || (*s >= 'A' && *s <= 'F')))
                return false;
        if (*s != (g == 4 ? '\0' : '-'))
            return false;
        s++;
    }
    return true;
}

/* "sha256:<64 hex>" in lowercase into out; false when not a sha256 digest. */
static bool normal_sha256(const char *s, char out[72])
{
    if (strncmp(s, "sha256:", 7) != 0 || strlen(s) != 71)
        return false;
    memcpy(out, "sha256:", 7);
    for (int i = 7; i < 71; i++) {
        char c = s[i];
        if (c >= 'A' && c <= 'F')
            c = (char)(c - 'A' + 'a');
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
            return false;
        out[i] = c;
    }
    out[71] = '\0';
    return true;
}

/* ---- model ---- */

struct layer {
    char digest[72];
    uint64_t size;
};

struct image {
    char digest[72];
    char *media_type;
    char *manifest;
};

struct tag {
    char *name;
    char digest[72];
};

struct repo {
    char name[257];
    double created_at;
    char mutability[32];
    struct layer *layers;
    size_t n_layers, cap_layers;
    struct image *images;
    size_t n_images, cap_images;
    struct tag *tags;
    size_t n_tags, cap_tags;
};

struct upload {
    char id[37];
    char repo[257];
    uint64_t length; /* bytes acknowledged */
    uint32_t parts;
    uint64_t last_part; /* size of the latest part */
    bool small_nonlast; /* a part other than the last was under 5 MiB */
    bool busy;          /* a request is writing or hashing it outside the lock */
    EVP_MD_CTX *hash;   /* SHA-256 of bytes [0, length) when known (not after a restart or a
                           spooled part): completion then needs no read back */
};

struct registry {
    pthread_mutex_t mu;
    char *dir; /* NULL for a sink */
    bool sink;
    uint64_t part_size;
    char account[13];
    char *base_url;
    struct repo **repos;
    size_t n_repos, cap_repos;
    struct upload **uploads;
    size_t n_uploads, cap_uploads;
};

#define GROW(arr, n, cap)                                                                          \
    do {                                                                                           \
        if ((n) == (cap)) {                                                                        \
            size_t nc_ = (cap) ? (cap)*2 : 8;                                                      \
            void *p_ = realloc((arr), nc_ * sizeof *(arr));                                        \
            if (!p_)                                                                               \
                abort();                                                                           \
            (arr) = p_;                                                                            \
            (cap) = nc_;                                                                           \
        }                                                                                          \
    } while (0)

const char *registry_account(const struct registry *reg)
{
    return reg->account;
}

uint64_t registry_part_size(const struct registry *reg)
{
    return reg->part_size;
}

bool registry_is_sink(const struct registry *reg)
{
    return reg->sink;
}

static struct repo *find_repo(struct registry *reg, const char *name)
{
    for (size_t i = 0; i < reg->n_repos; i++)
        if (!strcmp(reg->repos[i]->name, name))
            return reg->repos[i];
    return NULL;
}

static struct upload *find_upload(struct registry *reg, const char *id)
{
    for (size_t i = 0; i < reg->n_uploads; i++)
        if (!strcasecmp(reg->uploads[i]->id, id))
            return reg->uploads[i];
    return NULL;
}

static struct layer *find_layer(struct repo *r, const char *digest)
{
    for (size_t i = 0; i < r->n_layers; i++)
        if (!strcmp(r->layers[i].digest, digest))
            return &r->layers[i];
    return NULL;
}

static struct image *find_image(struct repo *r, const char *digest)
{
    for (size_t i = 0; i < r->n_images; i++)
        if (!strcmp(r->images[i].digest, digest))
            return &r->images[i];
    return NULL;
}

static struct tag *find_tag(struct repo *r, const char *name)
{
    for (size_t i = 0; i < r->n_tags; i++)
        if (!strcmp(r->tags[i].name, name))
            return &r->tags[i];
    return NULL;
}

static void repo_free(struct repo *r)
{
    if (!r)
        return;
    for (size_t i = 0; i < r->n_images; i++) {
        free(r->images[i].media_type);
        free(r->images[i].manifest);
    }
    for (size_t i = 0; i < r->n_tags; i++)
        free(r->tags[i].name);
    free(r->layers);
    free(r->images);
    free(r->tags);
    free(r);
}

static void upload_free(struct upload *u)
{
    if (u)
        EVP_MD_CTX_free(u->hash);
    free(u);
}

static void remove_upload(struct registry *reg, struct upload *u)
{
    for (size_t i = 0; i < reg->n_uploads; i++)
        if (reg->uploads[i] == u) {
            reg->uploads[i] = reg->uploads[--reg->n_uploads];
            break;
        }
    upload_free(u);
}

static void not_found(struct registry *reg, const char *repo, struct srv_reply *out)
{
    srv_reply_error(out, 400, "RepositoryNotFoundException",
                    "The repository with name '%s' does not exist in the registry with id '%s'",
                    repo, reg->account);
}

/* ---- persistence ---- */

static void path_of(const struct registry *reg, char *out, size_t cap, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void path_of(const struct registry *reg, char *out, size_t cap, const char *fmt, ...)
{
    char rel[600];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(rel, sizeof rel, fmt, ap);
    va_end(ap);
    snprintf(out, cap, "%s/%s", reg->dir, rel);
}

static void repo_file_name(const char *name, char out[300])
{
    size_t i = 0;
    for (; name[i] && i < 290; i++)
        out[i] = name[i] == '/' ? '+' : name[i];
    out[i] = '\0';
}

static int fsync_dir(const char *path)
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
static int write_atomic(const char *path, const char *data, size_t n)
{
    char tmp[1100];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
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
    char dir[1100];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (slash)
        *slash = '\0';
    return fsync_dir(dir);
}

static int persist_repo(struct registry *reg, struct repo *r)
{
    if (!reg->dir)
        return 0;
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "name", r->name);
    cJSON_AddNumberToObject(o, "createdAt", r->created_at);
    cJSON_AddStringToObject(o, "imageTagMutability", r->mutability);
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
        cJSON_AddItemToArray(images, im);
    }
    cJSON *tags = cJSON_AddArrayToObject(o, "tags");
    for (size_t i = 0; i < r->n_tags; i++) {
        cJSON *t = cJSON_CreateObject();
        cJSON_AddStringToObject(t, "tag", r->tags[i].name);
        cJSON_AddStringToObject(t, "digest", r->tags[i].digest);
        cJSON_AddItemToArray(tags, t);
    }
    char *s = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    if (!s)
        return -1;
    char fname[300], path[1024];
    repo_file_name(r->name, fname);
    path_of(reg, path, sizeof path, "repos/%s.json", fname);
    int rc = write_atomic(path, s, strlen(s));
    free(s);
    return rc;
}

static int persist_upload(struct registry *reg, struct upload *u)
{
    if (!reg->dir)
        return 0;
    char buf[600], path[1024];
    int n = snprintf(buf, sizeof buf,
                     "{\"repositoryName\":\"%s\",\"length\":%llu,\"parts\":%u,\"lastPart\":%llu,"
                     "\"smallNonLast\":%s}",
                     u->repo, (unsigned long long)u->length, u->parts,
                     (unsigned long long)u->last_part, u->small_nonlast ? "true" : "false");
    path_of(reg, path, sizeof path, "uploads/%s.json", u->id);
    return write_atomic(path, buf, (size_t)n);
}

static void unlink_upload_files(struct registry *reg, const char *id)
{
    if (!reg->dir)
        return;
    char path[1024];
    path_of(reg, path, sizeof path, "uploads/%s.json", id);
    unlink(path);
    path_of(reg, path, sizeof path, "uploads/%s.data", id);
    unlink(path);
}

static char *read_text(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    struct ebuf b = EBUF_INIT;
    char chunk[65536];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
        ebuf_append(&b, chunk, n);
    fclose(f);
    if (!ebuf_ok(&b)) {
        ebuf_free(&b);
        return NULL;
    }
    if (!b.data)
        ebuf_puts(&b, "");
    return ebuf_take(&b);
}

static int load_repo(struct registry *reg, const char *path, struct ebuf *err)
{
    char *text = read_text(path);
    cJSON *o = text ? cJSON_Parse(text) : NULL;
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
    const cJSON *it;
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
        char mpath[1024];
        path_of(reg, mpath, sizeof mpath, "manifests/%s", d + 7);
        char *manifest = read_text(mpath);
        if (!manifest) {
            ebuf_printf(err, "manifest %s of %s is missing", d, name);
            cJSON_Delete(o);
            repo_free(r);
            return -1;
        }
        GROW(r->images, r->n_images, r->cap_images);
        struct image *im = &r->images[r->n_images++];
        memcpy(im->digest, d, 72);
        im->media_type = strdup(mt);
        im->manifest = manifest;
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
    GROW(reg->repos, reg->n_repos, reg->cap_repos);
    reg->repos[reg->n_repos++] = r;
    return 0;
}

static int load_upload(struct registry *reg, const char *id, struct ebuf *err)
{
    char path[1024];
    path_of(reg, path, sizeof path, "uploads/%s.json", id);
    char *text = read_text(path);
    cJSON *o = text ? cJSON_Parse(text) : NULL;
    free(text);
    const char *repo = json_string(o, "repositoryName");
    cJSON *len = cJSON_GetObjectItemCaseSensitive(o, "length");
    cJSON *parts = cJSON_GetObjectItemCaseSensitive(o, "parts");
    cJSON *last = cJSON_GetObjectItemCaseSensitive(o, "lastPart");
    if (!repo || !cJSON_IsNumber(len) || !cJSON_IsNumber(parts) || !cJSON_IsNumber(last)) {
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
    /* Bytes past the acknowledged length belong to a part that never completed. */
    path_of(reg, path, sizeof path, "uploads/%s.data", id);
    if (truncate(path, (off_t)u->length) != 0) {
        if (errno == ENOENT) {
            /* Completed into the blob store just before a crash: the upload is over. */
            free(u);
            unlink_upload_files(reg, id);
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

static int load_dir(struct registry *reg, struct ebuf *err)
{
    static const char *subdirs[] = {"repos", "manifests", "blobs", "blobs/sha256", "uploads"};
    if (mkdir(reg->dir, 0755) != 0 && errno != EEXIST) {
        ebuf_printf(err, "cannot create %s: %s", reg->dir, strerror(errno));
        return -1;
    }
    for (size_t i = 0; i < sizeof subdirs / sizeof subdirs[0]; i++) {
        char path[1024];
        path_of(reg, path, sizeof path, "%s", subdirs[i]);
        if (mkdir(path, 0755) != 0 && errno != EEXIST) {
            ebuf_printf(err, "cannot create %s: %s", path, strerror(errno));
            return -1;
        }
    }
    char path[1024];
    path_of(reg, path, sizeof path, "%s", "repos");
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
            char f[1400];
            snprintf(f, sizeof f, "%s/%s", path, e->d_name);
            rc = load_repo(reg, f, err);
        }
    }
    closedir(d);
    if (rc)
        return rc;
    path_of(reg, path, sizeof path, "%s", "uploads");
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
    return rc;
}

struct registry *registry_open(const struct registry_config *cfg, struct ebuf *err)
{
    struct registry *reg = calloc(1, sizeof *reg);
    if (!reg)
        return NULL;
    pthread_mutex_init(&reg->mu, NULL);
    reg->sink = cfg->sink;
    reg->part_size = cfg->part_size ? cfg->part_size : 10485760;
    snprintf(reg->account, sizeof reg->account, "123456789012");
    reg->base_url = strdup(cfg->base_url ? cfg->base_url : "http://127.0.0.1");
    if (cfg->data_dir && !cfg->sink) {
        reg->dir = strdup(cfg->data_dir);
        if (load_dir(reg, err) != 0) {
            registry_free(reg);
            return NULL;
        }
    }
    return reg;
}

void registry_free(struct registry *reg)
{
    if (!reg)
        return;
    for (size_t i = 0; i < reg->n_repos; i++)
        repo_free(reg->repos[i]);
    for (size_t i = 0; i < reg->n_uploads; i++)
        upload_free(reg->uploads[i]);
    free(reg->repos);
    free(reg->uploads);
    free(reg->dir);
    free(reg->base_url);
    pthread_mutex_destroy(&reg->mu);
    free(reg);
}

/* ---- operations ---- */

static cJSON *repo_json(struct registry *reg, const struct repo *r)
{
    cJSON *o = cJSON_CreateObject();
    char buf[700];
    snprintf(buf, sizeof buf, "arn:aws:ecr:us-east-1:%s:repository/%s", reg->account, r->name);
    cJSON_AddStringToObject(o, "repositoryArn", buf);
    cJSON_AddStringToObject(o, "registryId", reg->account);
    cJSON_AddStringToObject(o, "repositoryName", r->name);
    const char *host = strstr(reg->base_url, "://");
    snprintf(buf, sizeof buf, "%s/%s", host ? host + 3 : reg->base_url, r->name);
    cJSON_AddStringToObject(o, "repositoryUri", buf);
    cJSON_AddNumberToObject(o, "createdAt", r->created_at);
    cJSON_AddStringToObject(o, "imageTagMutability", r->mutability);
    cJSON *scan = cJSON_AddObjectToObject(o, "imageScanningConfiguration");
    cJSON_AddFalseToObject(scan, "scanOnPush");
    cJSON *enc = cJSON_AddObjectToObject(o, "encryptionConfiguration");
    cJSON_AddStringToObject(enc, "encryptionType", "AES256");
    return o;
}

bool registry_has_repository(struct registry *reg, const char *repo)
{
    pthread_mutex_lock(&reg->mu);
    bool has = find_repo(reg, repo) != NULL;
    pthread_mutex_unlock(&reg->mu);
    return has;
}

void registry_create_repository(struct registry *reg, const char *name, const char *mutability,
                                struct srv_reply *out)
{
    pthread_mutex_lock(&reg->mu);
    if (find_repo(reg, name)) {
        srv_reply_error(out, 400, "RepositoryAlreadyExistsException",
                        "The repository with name '%s' already exists in the registry with id "
                        "'%s'",
                        name, reg->account);
        goto done;
    }
    struct repo *r = calloc(1, sizeof *r);
    if (!r)
        abort();
    snprintf(r->name, sizeof r->name, "%s", name);
    snprintf(r->mutability, sizeof r->mutability, "%s", mutability ? mutability : "MUTABLE");
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    r->created_at = (double)ts.tv_sec + (double)(ts.tv_nsec / 1000000) / 1000.0;
    if (persist_repo(reg, r) != 0) {
        repo_free(r);
        srv_reply_error(out, 500, "ServerException", "could not store the repository");
        goto done;
    }
    GROW(reg->repos, reg->n_repos, reg->cap_repos);
    reg->repos[reg->n_repos++] = r;
    cJSON *o = cJSON_CreateObject();
    cJSON_AddItemToObject(o, "repository", repo_json(reg, r));
    srv_reply_json(out, o);
done:
    pthread_mutex_unlock(&reg->mu);
}

void registry_describe_repositories(struct registry *reg, const cJSON *names, int max_results,
                                    const char *next_token, struct srv_reply *out)
{
    pthread_mutex_lock(&reg->mu);
    cJSON *o = cJSON_CreateObject();
    cJSON *list = cJSON_AddArrayToObject(o, "repositories");
    if (names) {
        const cJSON *it;
        cJSON_ArrayForEach(it, names)
        {
            struct repo *r = find_repo(reg, it->valuestring);
            if (!r) {
                cJSON_Delete(o);
                not_found(reg, it->valuestring, out);
                goto done;
            }
            cJSON_AddItemToArray(list, repo_json(reg, r));
        }
    } else {
        size_t start = next_token ? strtoul(next_token, NULL, 10) : 0;
        size_t limit = max_results > 0 ? (size_t)max_results : 1000;
        size_t i = start;
        for (; i < reg->n_repos && i - start < limit; i++)
            cJSON_AddItemToArray(list, repo_json(reg, reg->repos[i]));
        if (i < reg->n_repos) {
            char tok[32];
            snprintf(tok, sizeof tok, "%zu", i);
            cJSON_AddStringToObject(o, "nextToken", tok);
        }
    }
    srv_reply_json(out, o);
done:
    pthread_mutex_unlock(&reg->mu);
}

/* Upload ids are random UUIDs, like ECR's; a failing random source is fatal here. */
static void new_uuid(char out[37])
{
    if (!uuid4(out))
        abort();
}

void registry_initiate_upload(struct registry *reg, const char *repo, struct srv_reply *out)
{
    pthread_mutex_lock(&reg->mu);
    if (!find_repo(reg, repo)) {
        not_found(reg, repo, out);
        goto done;
    }
    struct upload *u = calloc(1, sizeof *u);
    if (!u)
        abort();
    new_uuid(u->id);
    snprintf(u->repo, sizeof u->repo, "%s", repo);
    if (reg->dir) {
        u->hash = EVP_MD_CTX_new();
        if (!u->hash || EVP_DigestInit_ex(u->hash, EVP_sha256(), NULL) != 1) {
            EVP_MD_CTX_free(u->hash);
            u->hash = NULL;
        }
        char path[1024];
        path_of(reg, path, sizeof path, "uploads/%s.data", u->id);
        int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (fd < 0 || close(fd) != 0 || persist_upload(reg, u) != 0) {
            upload_free(u);
            srv_reply_error(out, 500, "ServerException", "could not create the upload");
            goto done;
        }
    }
    GROW(reg->uploads, reg->n_uploads, reg->cap_uploads);
    reg->uploads[reg->n_uploads++] = u;
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "uploadId", u->id);
    cJSON_AddNumberToObject(o, "partSize", (double)reg->part_size);
    srv_reply_json(out, o);
done:
    pthread_mutex_unlock(&reg->mu);
}

/* ---- UploadLayerPart ---- */

struct registry_part {
    struct registry *reg;
    struct upload *owned; /* the upload this part writes into directly (busy), or NULL */
    int fd;               /* the upload's data file, a spool file, or -1 (sink) */
    uint64_t base;        /* offset of the part in fd */
    uint64_t written;
    bool too_big;
    bool io_error;
    EVP_MD_CTX *hash; /* the upload's running hash carried on through this part, or NULL */
};

static void upload_not_found(struct srv_reply *out, const char *id, const char *repo,
                             const char *account)
{
    srv_reply_error(out, 400, "UploadNotFoundException",
                    "Upload with id '%s' is not found in repository '%s' in registry '%s'", id,
                    repo, account);
}

struct registry_part *registry_part_begin(struct registry *reg, const char *upload_id)
{
    struct registry_part *p = calloc(1, sizeof *p);
    if (!p)
        return NULL;
    p->reg = reg;
    p->fd = -1;
    if (!reg->dir)
        return p;
    pthread_mutex_lock(&reg->mu);
    struct upload *u = upload_id ? find_upload(reg, upload_id) : NULL;
    if (u && !u->busy) {
        char path[1024];
        path_of(reg, path, sizeof path, "uploads/%s.data", u->id);
        p->fd = open(path, O_WRONLY | O_CLOEXEC);
        if (p->fd >= 0) {
            u->busy = true;
            p->owned = u;
            p->base = u->length;
            if (u->hash) {
                p->hash = EVP_MD_CTX_new();
                if (p->hash && EVP_MD_CTX_copy_ex(p->hash, u->hash) != 1) {
                    EVP_MD_CTX_free(p->hash);
                    p->hash = NULL;
                }
            }
        }
    }
    pthread_mutex_unlock(&reg->mu);
    if (p->fd < 0) {
        /* The upload is unknown yet (or busy): keep the bytes aside until the body ends. */
        char dir[1024];
        path_of(reg, dir, sizeof dir, "%s", "uploads");
        p->fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
        if (p->fd < 0) {
            free(p);
            return NULL;
        }
    }
    return p;
}

int registry_part_write(struct registry_part *p, const uint8_t *data, size_t n)
{
    uint64_t limit = p->owned ? p->reg->part_size : MAX_BLOB;
    if (limit < MAX_BLOB && p->owned == NULL)
        limit = MAX_BLOB;
    if (p->too_big || p->io_error || p->fd < 0 || p->written + n > limit) {
        p->too_big = p->too_big || p->written + n > limit;
        p->written += n;
        return 0;
    }
    size_t done = 0;
    while (done < n) {
        ssize_t w = pwrite(p->fd, data + done, n - done, (off_t)(p->base + p->written + done));
        if (w < 0) {
            if (errno == EINTR)
                continue;
            p->io_error = true;
            return -1;
        }
        done += (size_t)w;
    }
    p->written += n;
    if (p->hash)
        EVP_DigestUpdate(p->hash, data, n);
    return 0;
}

static void part_release(struct registry_part *p, bool rollback)
{
    if (!p)
        return;
    if (p->owned && rollback && p->fd >= 0)
        (void)!ftruncate(p->fd, (off_t)p->base);
    if (p->fd >= 0)
        close(p->fd);
    EVP_MD_CTX_free(p->hash);
    if (p->owned) {
        pthread_mutex_lock(&p->reg->mu);
        p->owned->busy = false;
        pthread_mutex_unlock(&p->reg->mu);
    }
    free(p);
}

void registry_part_abort(struct registry_part *p)
{
    part_release(p, true);
}

/* Copy a spooled part into the upload file at `off`. */
static int copy_spool(int from, int to, uint64_t off, uint64_t n)
{
    loff_t in = 0, o = (loff_t)off;
    while (n) {
        ssize_t c = copy_file_range(from, &in, to, &o, n, 0);
        if (c < 0 && errno == EINTR)
            continue;
        if (c <= 0)
            return -1;
        n -= (uint64_t)c;
    }
    return 0;
}

void registry_part_finish(struct registry *reg, struct registry_part *part, const char *repo,
                          const char *upload_id, int64_t first, int64_t last, uint64_t blob_size,
                          struct srv_reply *out)
{
    bool rollback = true;
    /* Flush outside the lock; a part refused below is truncated away afterwards. */
    bool synced = part && part->owned && !part->io_error && fdatasync(part->fd) == 0;
    pthread_mutex_lock(&reg->mu);
    struct upload *u = find_upload(reg, upload_id);
    if (!find_repo(reg, repo)) {
        not_found(reg, repo, out);
        goto done;
    }
    if (!u || strcmp(u->repo, repo) != 0) {
        upload_not_found(out, upload_id, repo, reg->account);
        goto done;
    }
    if (part && part->owned && part->owned != u) {
        /* The body named one upload before its blob and another after it. */
        srv_reply_error(out, 400, "InvalidParameterException",
                        "Invalid parameter at 'uploadId': given twice with different values");
        goto done;
    }
    cJSON *fields = cJSON_CreateObject();
    cJSON_AddStringToObject(fields, "registryId", reg->account);
    cJSON_AddStringToObject(fields, "repositoryName", repo);
    cJSON_AddStringToObject(fields, "uploadId", u->id);
    cJSON_AddNumberToObject(fields, "lastValidByteReceived", (double)u->length - 1);
    if (u->busy && (!part || part->owned != u)) {
        srv_reply_error_fields(out, 400, "InvalidLayerPartException", fields,
                               "Another part of upload '%s' is being received", u->id);
        goto done;
    }
    if ((uint64_t)first != u->length) {
        srv_reply_error_fields(out, 400, "InvalidLayerPartException", fields,
                               "The part first byte %lld is not consecutive to the last byte "
                               "received, %lld",
                               (long long)first, (long long)u->length - 1);
        goto done;
    }
    if (blob_size == 0 || last < first || (uint64_t)(last - first) + 1 != blob_size) {
        srv_reply_error_fields(out, 400, "InvalidLayerPartException", fields,
                               "The part byte range %lld-%lld does not match the %llu bytes of "
                               "layerPartBlob",
                               (long long)first, (long long)last, (unsigned long long)blob_size);
        goto done;
    }
    if (blob_size > reg->part_size || (part && part->too_big)) {
        srv_reply_error_fields(out, 400, "InvalidLayerPartException", fields,
                               "The part of %llu bytes is larger than the upload's partSize %llu",
                               (unsigned long long)blob_size, (unsigned long long)reg->part_size);
        goto done;
    }
    cJSON_Delete(fields);
    if (reg->dir) {
        if (!part || part->io_error || part->written != blob_size) {
            srv_reply_error(out, 500, "ServerException", "could not store the layer part");
            goto done;
        }
        if (!part->owned) {
            /* Spooled: move the bytes in while holding the upload. */
            char path[1024];
            path_of(reg, path, sizeof path, "uploads/%s.data", u->id);
            int fd = open(path, O_WRONLY | O_CLOEXEC);
            u->busy = true;
            pthread_mutex_unlock(&reg->mu);
            int rc = fd < 0 ? -1 : copy_spool(part->fd, fd, u->length, blob_size);
            if (rc == 0)
                rc = fdatasync(fd);
            if (fd >= 0)
                close(fd);
            pthread_mutex_lock(&reg->mu);
            u->busy = false;
            if (rc != 0) {
                srv_reply_error(out, 500, "ServerException", "could not store the layer part");
                goto done;
            }
        } else if (!synced) {
            srv_reply_error(out, 500, "ServerException", "could not store the layer part");
            goto done;
        }
    }
    struct upload saved = *u;
    if (u->parts > 0 && u->last_part < MIN_PART)
        u->small_nonlast = true;
    u->parts++;
    u->last_part = blob_size;
    u->length += blob_size;
    if (persist_upload(reg, u) != 0) {
        bool busy = u->busy;
        *u = saved;
        u->busy = busy;
        srv_reply_error(out, 500, "ServerException", "could not store the upload state");
        goto done;
    }
    rollback = false;
    /* The running hash now covers this part too, or is unknown after a spooled one. */
    EVP_MD_CTX_free(u->hash);
    u->hash = part && part->owned == u ? part->hash : NULL;
    if (part)
        part->hash = part->owned == u ? NULL : part->hash;
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "registryId", reg->account);
    cJSON_AddStringToObject(o, "repositoryName", repo);
    cJSON_AddStringToObject(o, "uploadId", u->id);
    cJSON_AddNumberToObject(o, "lastByteReceived", (double)last);
    srv_reply_json(out, o);
done:
    pthread_mutex_unlock(&reg->mu);
    part_release(part, rollback);
}

/* ---- CompleteLayerUpload ---- */

static int sha256_final(EVP_MD_CTX *ctx, char out[72])
{
    uint8_t md[32];
    unsigned mdlen = 0;
    if (EVP_DigestFinal_ex(ctx, md, &mdlen) != 1)
        return -1;
    memcpy(out, "sha256:", 7);
    hex_encode(md, 32, out + 7);
    return 0;
}

static int sha256_file(int fd, char out[72])
{
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    if (!ctx || EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1) {
        EVP_MD_CTX_free(ctx);
        return -1;
    }
    static __thread uint8_t buf[1 << 20];
    for (;;) {
        ssize_t n = read(fd, buf, sizeof buf);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            EVP_MD_CTX_free(ctx);
            return -1;
        }
        if (n == 0)
            break;
        EVP_DigestUpdate(ctx, buf, (size_t)n);
    }
    int rc = sha256_final(ctx, out);
    EVP_MD_CTX_free(ctx);
    return rc;
}

static void add_layer(struct repo *r, const char *digest, uint64_t size)
{
    GROW(r->layers, r->n_layers, r->cap_layers);
    struct layer *l = &r->layers[r->n_layers++];
    memcpy(l->digest, digest, 72);
    l->size = size;
}

void registry_complete_upload(struct registry *reg, const char *repo, const char *upload_id,
                              const char *digest_in, struct srv_reply *out)
{
    pthread_mutex_lock(&reg->mu);
    struct repo *r = find_repo(reg, repo);
    struct upload *u = find_upload(reg, upload_id);
    char digest[72];
    if (!r) {
        not_found(reg, repo, out);
        goto done;
    }
    if (!u || strcmp(u->repo, repo) != 0) {
        upload_not_found(out, upload_id, repo, reg->account);
        goto done;
    }
    if (u->busy) {
        srv_reply_error(out, 400, "InvalidLayerException", "Upload '%s' is still receiving a part",
                        u->id);
        goto done;
    }
    if (!normal_sha256(digest_in, digest)) {
        srv_reply_error(out, 400, "InvalidLayerException",
                        "Invalid layer digest '%s': only sha256 digests are supported", digest_in);
        goto done;
    }
    if (u->length == 0) {
        srv_reply_error(out, 400, "EmptyUploadException",
                        "The upload '%s' in repository '%s' contains no layer parts", u->id, repo);
        goto done;
    }
    if (u->small_nonlast) {
        srv_reply_error(out, 400, "LayerPartTooSmallException",
                        "Layer part size must be at least 5242880 bytes, except for the last "
                        "part");
        goto done;
    }
    if (find_layer(r, digest)) {
        srv_reply_error(out, 400, "LayerAlreadyExistsException",
                        "The layer with digest '%s' already exists in the repository with name "
                        "'%s' in registry with id '%s'",
                        digest, repo, reg->account);
        unlink_upload_files(reg, u->id);
        remove_upload(reg, u);
        goto done;
    }
    uint64_t size = u->length;
    char id[37];
    memcpy(id, u->id, sizeof id);
    if (reg->dir) {
        /* Hash and move the file without the lock; busy keeps parts out meanwhile. */
        u->busy = true;
        EVP_MD_CTX *running = NULL;
        if (u->hash) {
            running = EVP_MD_CTX_new();
            if (running && EVP_MD_CTX_copy_ex(running, u->hash) != 1) {
                EVP_MD_CTX_free(running);
                running = NULL;
            }
        }
        pthread_mutex_unlock(&reg->mu);
        char path[1024], blob[1024], got[72] = "";
        path_of(reg, path, sizeof path, "uploads/%s.data", id);
        path_of(reg, blob, sizeof blob, "blobs/sha256/%s", digest + 7);
        /* Bytes past the acknowledged length (a part that failed late) are not the layer. */
        int rc = truncate(path, (off_t)size);
        if (rc == 0 && running) {
            rc = sha256_final(running, got);
        } else if (rc == 0) {
            int fd = open(path, O_RDONLY | O_CLOEXEC);
            rc = fd < 0 ? -1 : sha256_file(fd, got);
            if (fd >= 0)
                close(fd);
        }
        EVP_MD_CTX_free(running);
        bool match = rc == 0 && !strcmp(got, digest);
        if (match) {
            struct stat st;
            if (stat(blob, &st) == 0 && (uint64_t)st.st_size == size)
                rc = unlink(path); /* the store has it already (another repository) */
            else
                rc = rename(path, blob);
            if (rc == 0) {
                char dir[1024];
                path_of(reg, dir, sizeof dir, "%s", "blobs/sha256");
                rc = fsync_dir(dir);
            }
        }
        pthread_mutex_lock(&reg->mu);
        u->busy = false;
        if (rc != 0) {
            srv_reply_error(out, 500, "ServerException", "could not store the layer");
            goto done;
        }
        if (!match) {
            srv_reply_error(out, 400, "InvalidLayerException",
                            "The layer digest calculated for the upload (%s) does not match the "
                            "layer digest provided (%s)",
                            got, digest);
            goto done;
        }
    }
    r = find_repo(reg, repo);
    if (!find_layer(r, digest)) {
        add_layer(r, digest, size);
        if (persist_repo(reg, r) != 0) {
            r->n_layers--;
            srv_reply_error(out, 500, "ServerException", "could not store the repository");
            goto done;
        }
    }
    unlink_upload_files(reg, id);
    u = find_upload(reg, id);
    if (u)
        remove_upload(reg, u);
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "registryId", reg->account);
    cJSON_AddStringToObject(o, "repositoryName", repo);
    cJSON_AddStringToObject(o, "uploadId", id);
    cJSON_AddStringToObject(o, "layerDigest", digest);
    srv_reply_json(out, o);
done:
    pthread_mutex_unlock(&reg->mu);
}

void registry_check_layers(struct registry *reg, const char *repo, const cJSON *digests,
                           struct srv_reply *out)
{
    pthread_mutex_lock(&reg->mu);
    struct repo *r = find_repo(reg, repo);
    if (!r) {
        not_found(reg, repo, out);
        goto done;
    }
    cJSON *o = cJSON_CreateObject();
    cJSON *layers = cJSON_AddArrayToObject(o, "layers");
    cJSON *failures = cJSON_AddArrayToObject(o, "failures");
    const cJSON *it;
    cJSON_ArrayForEach(it, digests)
    {
        char d[72];
        struct layer *l = NULL;
        if (!valid_layer_digest(it->valuestring) || !normal_sha256(it->valuestring, d)) {
            cJSON *f = cJSON_CreateObject();
            cJSON_AddStringToObject(f, "layerDigest", it->valuestring);
            cJSON_AddStringToObject(f, "failureCode", "InvalidLayerDigest");
            cJSON_AddStringToObject(f, "failureReason", "Invalid layer digest");
            cJSON_AddItemToArray(failures, f);
        } else if ((l = find_layer(r, d)) == NULL) {
            cJSON *f = cJSON_CreateObject();
            cJSON_AddStringToObject(f, "layerDigest", it->valuestring);
            cJSON_AddStringToObject(f, "failureCode", "MissingLayerDigest");
            cJSON_AddStringToObject(f, "failureReason", "Requested layer not found");
            cJSON_AddItemToArray(failures, f);
        } else {
            cJSON *x = cJSON_CreateObject();
            cJSON_AddStringToObject(x, "layerDigest", l->digest);
            cJSON_AddStringToObject(x, "layerAvailability", "AVAILABLE");
            cJSON_AddNumberToObject(x, "layerSize", (double)l->size);
            cJSON_AddItemToArray(layers, x);
        }
    }
    srv_reply_json(out, o);
done:
    pthread_mutex_unlock(&reg->mu);
}

/* The blobs a manifest references: config and layers (image manifests), or nothing for an
 * index. False when the manifest is not JSON. */
static bool manifest_refs(const char *manifest, cJSON **doc)
{
    *doc = cJSON_Parse(manifest);
    return cJSON_IsObject(*doc);
}

static cJSON *image_json(struct registry *reg, const char *repo, const struct image *im,
                         const char *tag)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "registryId", reg->account);
    cJSON_AddStringToObject(o, "repositoryName", repo);
    cJSON *id = cJSON_AddObjectToObject(o, "imageId");
    cJSON_AddStringToObject(id, "imageDigest", im->digest);
    if (tag)
        cJSON_AddStringToObject(id, "imageTag", tag);
    cJSON_AddStringToObject(o, "imageManifest", im->manifest);
    cJSON_AddStringToObject(o, "imageManifestMediaType", im->media_type);
    return o;
}

void registry_put_image(struct registry *reg, const char *repo, const char *manifest,
                        const char *media_type, const char *tag, const char *want_digest,
                        struct srv_reply *out)
{
    cJSON *doc = NULL;
    pthread_mutex_lock(&reg->mu);
    struct repo *r = find_repo(reg, repo);
    if (!r) {
        not_found(reg, repo, out);
        goto done;
    }
    if (!manifest_refs(manifest, &doc)) {
        srv_reply_error(out, 400, "InvalidParameterException",
                        "Invalid parameter at 'imageManifest' failed to satisfy constraint: "
                        "'Invalid JSON syntax'");
        goto done;
    }
    char digest[72];
    sha256_digest(manifest, strlen(manifest), digest);
    if (want_digest && strcmp(want_digest, digest) != 0) {
        srv_reply_error(out, 400, "ImageDigestDoesNotMatchException",
                        "Provided image digest '%s' does not match the calculated digest '%s'",
                        want_digest, digest);
        goto done;
    }
    /* Every blob the manifest names must be a layer of this repository. */
    struct ebuf missing = EBUF_INIT;
    const cJSON *cfg = cJSON_GetObjectItemCaseSensitive(doc, "config");
    const char *cd = json_string(cfg, "digest");
    char nd[72];
    if (cd && !(normal_sha256(cd, nd) && find_layer(r, nd)))
        ebuf_printf(&missing, "%s%s", missing.len ? ", " : "", cd);
    const cJSON *it;
    cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(doc, "layers"))
    {
        const char *ld = json_string(it, "digest");
        if (!ld) {
            ebuf_free(&missing);
            srv_reply_error(out, 400, "InvalidParameterException",
                            "Invalid parameter at 'imageManifest': a layer has no digest");
            goto done;
        }
        if (!(normal_sha256(ld, nd) && find_layer(r, nd)))
            ebuf_printf(&missing, "%s%s", missing.len ? ", " : "", ld);
    }
    if (missing.len) {
        srv_reply_error(out, 400, "LayersNotFoundException",
                        "Layers with digests '[%s]' required for pushing image into repository "
                        "with name '%s' in the registry with id '%s' do not exist",
                        ebuf_str(&missing), repo, reg->account);
        ebuf_free(&missing);
        goto done;
    }
    ebuf_free(&missing);
    const char *mt = media_type ? media_type : json_string(doc, "mediaType");
    if (!mt)
        mt = DEFAULT_MEDIA_TYPE;
    struct image *im = find_image(r, digest);
    struct tag *t = tag ? find_tag(r, tag) : NULL;
    if (im && (!tag || (t && !strcmp(t->digest, digest)))) {
        if (tag)
            srv_reply_error(out, 400, "ImageAlreadyExistsException",
                            "Image with digest '%s' and tag '%s' already exists in the "
                            "repository with name '%s' in registry with id '%s'",
                            digest, tag, repo, reg->account);
        else
            srv_reply_error(out, 400, "ImageAlreadyExistsException",
                            "Image with digest '%s' already exists in the repository with name "
                            "'%s' in registry with id '%s'",
                            digest, repo, reg->account);
        goto done;
    }
    if (t && strcmp(t->digest, digest) != 0 && !strncmp(r->mutability, "IMMUTABLE", 9)) {
        srv_reply_error(out, 400, "ImageTagAlreadyExistsException",
                        "The image tag '%s' already exists in the '%s' repository and cannot be "
                        "overwritten because the repository is immutable.",
                        tag, repo);
        goto done;
    }
    if (reg->dir && !im) {
        char path[1024];
        path_of(reg, path, sizeof path, "manifests/%s", digest + 7);
        if (write_atomic(path, manifest, strlen(manifest)) != 0) {
            srv_reply_error(out, 500, "ServerException", "could not store the manifest");
            goto done;
        }
    }
    if (!im) {
        GROW(r->images, r->n_images, r->cap_images);
        im = &r->images[r->n_images++];
        memcpy(im->digest, digest, 72);
        im->media_type = strdup(mt);
        im->manifest = strdup(manifest);
    }
    if (tag) {
        if (!t) {
            GROW(r->tags, r->n_tags, r->cap_tags);
            t = &r->tags[r->n_tags++];
            t->name = strdup(tag);
        }
        memcpy(t->digest, digest, 72);
    }
    if (persist_repo(reg, r) != 0) {
        srv_reply_error(out, 500, "ServerException", "could not store the repository");
        goto done;
    }
    cJSON *o = cJSON_CreateObject();
    cJSON_AddItemToObject(o, "image", image_json(reg, repo, im, tag));
    srv_reply_json(out, o);
done:
    cJSON_Delete(doc);
    pthread_mutex_unlock(&reg->mu);
}

static void image_failure(cJSON *failures, const cJSON *id, const char *code, const char *why)
{
    cJSON *f = cJSON_CreateObject();
    cJSON_AddItemToObject(f, "imageId", cJSON_Duplicate(id, true));
    cJSON_AddStringToObject(f, "failureCode", code);
    cJSON_AddStringToObject(f, "failureReason", why);
    cJSON_AddItemToArray(failures, f);
}

void registry_get_images(struct registry *reg, const char *repo, const cJSON *ids,
                         struct srv_reply *out)
{
    pthread_mutex_lock(&reg->mu);
    struct repo *r = find_repo(reg, repo);
    if (!r) {
        not_found(reg, repo, out);
        goto done;
    }
    cJSON *o = cJSON_CreateObject();
    cJSON *images = cJSON_AddArrayToObject(o, "images");
    cJSON *failures = cJSON_AddArrayToObject(o, "failures");
    const cJSON *id;
    cJSON_ArrayForEach(id, ids)
    {
        const char *d = json_string(id, "imageDigest"), *tag = json_string(id, "imageTag");
        char nd[72];
        if (!d && !tag) {
            image_failure(failures, id, "MissingDigestAndTag",
                          "Invalid request parameters: both tag and digest cannot be null");
            continue;
        }
        if (d && !normal_sha256(d, nd)) {
            image_failure(failures, id, "InvalidImageDigest", "Invalid image digest");
            continue;
        }
        struct tag *t = tag ? find_tag(r, tag) : NULL;
        if (tag && !t) {
            image_failure(failures, id, "ImageNotFound", "Requested image not found");
            continue;
        }
        if (d && t && strcmp(t->digest, nd) != 0) {
            image_failure(failures, id, "ImageTagDoesNotMatchDigest",
                          "Image tag does not match the digest");
            continue;
        }
        struct image *im = find_image(r, d ? nd : t->digest);
        if (!im) {
            image_failure(failures, id, "ImageNotFound", "Requested image not found");
            continue;
        }
        cJSON_AddItemToArray(images, image_json(reg, repo, im, tag));
    }
    srv_reply_json(out, o);
done:
    pthread_mutex_unlock(&reg->mu);
}

void registry_download_url(struct registry *reg, const char *repo, const char *digest_in,
                           struct srv_reply *out)
{
    pthread_mutex_lock(&reg->mu);
    struct repo *r = find_repo(reg, repo);
    char d[72];
    if (!r) {
        not_found(reg, repo, out);
        goto done;
    }
    if (!normal_sha256(digest_in, d) || !find_layer(r, d)) {
        srv_reply_error(out, 400, "LayersNotFoundException",
                        "The specified layer '%s' does not exist in the repository with name "
                        "'%s' in registry with id '%s'",
                        digest_in, repo, reg->account);
        goto done;
    }
    if (!reg->dir) {
        srv_reply_error(out, 400, "LayerInaccessibleException",
                        "The server is a sink: it keeps no layer bytes");
        goto done;
    }
    cJSON *o = cJSON_CreateObject();
    char url[1200];
    snprintf(url, sizeof url, "%s/v2/%s/blobs/%s", reg->base_url, repo, d);
    cJSON_AddStringToObject(o, "downloadUrl", url);
    cJSON_AddStringToObject(o, "layerDigest", d);
    srv_reply_json(out, o);
done:
    pthread_mutex_unlock(&reg->mu);
}

int registry_open_layer(struct registry *reg, const char *repo, const char *digest_in,
                        uint64_t *size)
{
    int fd = -1;
    char d[72];
    pthread_mutex_lock(&reg->mu);
    struct repo *r = find_repo(reg, repo);
    struct layer *l = r && normal_sha256(digest_in, d) ? find_layer(r, d) : NULL;
    if (l && reg->dir) {
        char path[1024];
        path_of(reg, path, sizeof path, "blobs/sha256/%s", d + 7);
        fd = open(path, O_RDONLY | O_CLOEXEC);
        *size = l->size;
    }
    pthread_mutex_unlock(&reg->mu);
    return fd;
}
