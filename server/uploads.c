/* Layer uploads: InitiateLayerUpload, UploadLayerPart (its bytes written straight into the
 * upload's file, or spooled when the body names the upload only after the blob) and
 * CompleteLayerUpload (hashed and moved into the blob store). Long work runs outside the
 * registry's lock with the upload marked busy. */
#include "server/registry_impl.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "server/names.h"
#include "util/hex.h"

/* Upload ids are random UUIDs, like ECR's; a failing random source is fatal here. */
static void new_uuid(char out[37])
{
    if (!uuid4(out))
        abort();
}

/* A push killed mid-layer never comes back for its upload: without an end its parts would
 * stay on disk for ever. Run by every upload operation, so a server that takes uploads keeps
 * none past the expiry (and store_load() at start). */
void reg_expire_uploads(struct registry *reg)
{
    double now = reg_now();
    for (size_t i = 0; i < reg->n_uploads;) {
        struct upload *u = reg->uploads[i];
        if (u->busy || u->receiver || now - u->touched <= reg->upload_expiry) {
            i++;
            continue;
        }
        store_unlink_upload(reg, u->id);
        reg_remove_upload(reg, u); /* the last one moves into i */
    }
}

void registry_initiate_upload(struct registry *reg, const char *repo, struct srv_reply *out)
{
    pthread_mutex_lock(&reg->mu);
    reg_expire_uploads(reg);
    if (!reg_repo_or_reply(reg, repo, out))
        goto done;
    struct upload *u = calloc(1, sizeof *u);
    if (!u)
        abort();
    new_uuid(u->id);
    snprintf(u->repo, sizeof u->repo, "%s", repo);
    u->touched = reg_now();
    if (reg->dir) {
        u->hash = EVP_MD_CTX_new();
        if (!u->hash || EVP_DigestInit_ex(u->hash, EVP_sha256(), NULL) != 1) {
            EVP_MD_CTX_free(u->hash);
            u->hash = NULL;
        }
        char path[STORE_PATH_CAP];
        store_path(reg, path, sizeof path, "uploads/%s.data", u->id);
        int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        if (fd < 0 || close(fd) != 0 || store_persist_upload(reg, u) != 0) {
            reg_upload_free(u);
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
    /* The upload this part writes into directly (its receiver), or NULL (spooled, sink).
     * Dereferenced only under reg->mu and while not superseded: once a later part took the
     * upload over, it may be completed and freed. */
    struct upload *owned;
    int fd;        /* the upload's data file, a spool file, or -1 (sink) */
    uint64_t base; /* offset of the part in fd */
    uint64_t written;
    bool too_big;
    bool io_error;
    bool pinned; /* reg->mu: held by the hold fault, which stands for a service that does not
                    let a retry take over */
    /* Held around each write into the upload's file and around the rollback, and taken by the
     * part that supersedes this one: once `superseded` is set (under this lock and reg->mu),
     * nothing of this part reaches the file any more. */
    pthread_mutex_t wmu;
    bool superseded;
    EVP_MD_CTX *hash; /* the upload's running hash carried on through this part, or NULL */
};

/* A later request for the part at the upload's acknowledged length takes the upload from its
 * receiver, which a dead client's connection may hold for minutes: the receiver's bytes past
 * that length are discarded and it is refused when its body ends. Waits out a write the
 * receiver has in progress, so no two bodies write the file at once. */
static void supersede_receiver(struct upload *u)
{
    struct registry_part *old = u->receiver;
    pthread_mutex_lock(&old->wmu);
    old->superseded = true;
    pthread_mutex_unlock(&old->wmu);
    u->receiver = NULL;
}

static bool may_take_over(const struct upload *u, int64_t first)
{
    return u->receiver && !u->busy && !u->receiver->pinned && first >= 0 &&
           (uint64_t)first == u->length;
}

struct registry_part *registry_part_begin(struct registry *reg, const char *upload_id,
                                          int64_t first)
{
    struct registry_part *p = calloc(1, sizeof *p);
    if (!p)
        return NULL;
    if (pthread_mutex_init(&p->wmu, NULL) != 0) {
        free(p);
        return NULL;
    }
    p->reg = reg;
    p->fd = -1;
    if (!reg->dir)
        return p;
    pthread_mutex_lock(&reg->mu);
    reg_expire_uploads(reg);
    struct upload *u = upload_id ? reg_find_upload(reg, upload_id) : NULL;
    if (u && may_take_over(u, first))
        supersede_receiver(u);
    if (u && !u->busy && !u->receiver) {
        char path[STORE_PATH_CAP];
        store_path(reg, path, sizeof path, "uploads/%s.data", u->id);
        p->fd = open(path, O_WRONLY | O_CLOEXEC);
        if (p->fd >= 0) {
            u->receiver = p;
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
        char dir[STORE_PATH_CAP];
        store_path(reg, dir, sizeof dir, "%s", "uploads");
        p->fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
        if (p->fd < 0) {
            pthread_mutex_destroy(&p->wmu);
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
    pthread_mutex_lock(&p->wmu);
    while (done < n && !p->superseded) {
        ssize_t w = pwrite(p->fd, data + done, n - done, (off_t)(p->base + p->written + done));
        if (w < 0) {
            if (errno == EINTR)
                continue;
            p->io_error = true;
            pthread_mutex_unlock(&p->wmu);
            return -1;
        }
        done += (size_t)w;
    }
    pthread_mutex_unlock(&p->wmu);
    p->written += n;
    if (p->hash)
        EVP_DigestUpdate(p->hash, data, n);
    return 0;
}

static void part_release(struct registry_part *p, bool rollback)
{
    if (!p)
        return;
    /* Under wmu: a part that took over meanwhile writes from the same offset. */
    pthread_mutex_lock(&p->wmu);
    if (p->owned && rollback && !p->superseded && p->fd >= 0)
        (void)!ftruncate(p->fd, (off_t)p->base);
    pthread_mutex_unlock(&p->wmu);
    if (p->fd >= 0)
        close(p->fd);
    EVP_MD_CTX_free(p->hash);
    if (p->owned) {
        pthread_mutex_lock(&p->reg->mu);
        if (!p->superseded)
            p->owned->receiver = NULL;
        pthread_mutex_unlock(&p->reg->mu);
    }
    pthread_mutex_destroy(&p->wmu);
    free(p);
}

void registry_part_pin(struct registry_part *p)
{
    if (!p)
        return;
    pthread_mutex_lock(&p->reg->mu);
    p->pinned = true;
    pthread_mutex_unlock(&p->reg->mu);
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
    reg_expire_uploads(reg);
    struct upload *u = reg_find_upload(reg, upload_id);
    if (!reg_repo_or_reply(reg, repo, out))
        goto done;
    if (!u || strcmp(u->repo, repo) != 0) {
        reply_upload_not_found(out, upload_id, repo, reg->account);
        goto done;
    }
    cJSON *fields = cJSON_CreateObject();
    cJSON_AddStringToObject(fields, "registryId", reg->account);
    cJSON_AddStringToObject(fields, "repositoryName", repo);
    cJSON_AddStringToObject(fields, "uploadId", u->id);
    cJSON_AddNumberToObject(fields, "lastValidByteReceived", (double)u->length - 1);
    if (part && part->superseded) {
        srv_reply_error_fields(out, 400, "InvalidLayerPartException", fields,
                               "A later request for this part of upload '%s' took it over", u->id);
        goto done;
    }
    if (part && part->owned && part->owned != u) {
        /* The body named one upload before its blob and another after it. */
        cJSON_Delete(fields);
        srv_reply_error(out, 400, "InvalidParameterException",
                        "Invalid parameter at 'uploadId': given twice with different values");
        goto done;
    }
    if (part && !part->owned && may_take_over(u, first))
        supersede_receiver(u); /* a spooled retry of the part a dead connection holds */
    if (u->busy || (u->receiver && (!part || part->owned != u))) {
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
            char path[STORE_PATH_CAP];
            store_path(reg, path, sizeof path, "uploads/%s.data", u->id);
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
    u->touched = reg_now();
    if (store_persist_upload(reg, u) != 0) {
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
    /* Allocated per call, not thread-local: glibc zeroes a thread's static TLS when the
     * thread starts, so 1 MiB of it cost every connection's thread 1 MiB resident. */
    enum { BUF = 1 << 20 };
    uint8_t *buf = malloc(BUF);
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    int rc = -1;
    if (!buf || !ctx || EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1)
        goto out;
    for (;;) {
        ssize_t n = read(fd, buf, BUF);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            goto out;
        if (n == 0)
            break;
        EVP_DigestUpdate(ctx, buf, (size_t)n);
    }
    rc = sha256_final(ctx, out);
out:
    EVP_MD_CTX_free(ctx);
    free(buf);
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
    reg_expire_uploads(reg);
    struct repo *r = reg_repo_or_reply(reg, repo, out);
    struct upload *u = reg_find_upload(reg, upload_id);
    char digest[72];
    if (!r)
        goto done;
    if (!u || strcmp(u->repo, repo) != 0) {
        reply_upload_not_found(out, upload_id, repo, reg->account);
        goto done;
    }
    if (u->busy || u->receiver) {
        srv_reply_error(out, 400, "InvalidLayerException", "Upload '%s' is still receiving a part",
                        u->id);
        goto done;
    }
    if (!srv_normal_sha256(digest_in, digest)) {
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
    if (reg_find_layer(r, digest)) {
        srv_reply_error(out, 400, "LayerAlreadyExistsException",
                        "The layer with digest '%s' already exists in the repository with name "
                        "'%s' in registry with id '%s'",
                        digest, repo, reg->account);
        store_unlink_upload(reg, u->id);
        reg_remove_upload(reg, u);
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
        char path[STORE_PATH_CAP], blob[STORE_PATH_CAP], got[72] = "";
        store_path(reg, path, sizeof path, "uploads/%s.data", id);
        store_path(reg, blob, sizeof blob, "blobs/sha256/%s", digest + 7);
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
                char dir[STORE_PATH_CAP];
                store_path(reg, dir, sizeof dir, "%s", "blobs/sha256");
                rc = store_fsync_dir(dir);
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
    r = reg_find_repo(reg, repo);
    if (!r) {
        /* DeleteRepository ran while the layer was hashed: the upload went with it. */
        store_unlink_upload(reg, id);
        u = reg_find_upload(reg, id);
        if (u)
            reg_remove_upload(reg, u);
        reply_repository_not_found(out, repo, reg->account);
        goto done;
    }
    if (!reg_find_layer(r, digest)) {
        add_layer(r, digest, size);
        cJSON *change = cJSON_CreateObject();
        cJSON_AddStringToObject(change, "op", "addLayer");
        cJSON_AddStringToObject(change, "digest", digest);
        cJSON_AddNumberToObject(change, "size", (double)size);
        if (store_log_change(reg, r, change) != 0) {
            r->n_layers--;
            srv_reply_error(out, 500, "ServerException", "could not store the repository");
            goto done;
        }
    }
    store_unlink_upload(reg, id);
    u = reg_find_upload(reg, id);
    if (u)
        reg_remove_upload(reg, u);
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "registryId", reg->account);
    cJSON_AddStringToObject(o, "repositoryName", repo);
    cJSON_AddStringToObject(o, "uploadId", id);
    cJSON_AddStringToObject(o, "layerDigest", digest);
    srv_reply_json(out, o);
done:
    pthread_mutex_unlock(&reg->mu);
}
