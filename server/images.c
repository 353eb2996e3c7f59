/* Images: PutImage (the manifest checked against the repository's layers, stored by digest,
 * tagged), BatchGetImage, and the manifest reads of the /v2 API. */
#include "server/registry_impl.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "server/names.h"
#include "util/hex.h"
#include "util/json.h"

#define DEFAULT_MEDIA_TYPE "application/vnd.docker.distribution.manifest.v2+json"

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
    struct repo *r = reg_repo_or_reply(reg, repo, out);
    if (!r)
        goto done;
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
    if (cd && !(srv_normal_sha256(cd, nd) && reg_find_layer(r, nd)))
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
        if (!(srv_normal_sha256(ld, nd) && reg_find_layer(r, nd)))
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
    if (strlen(mt) > MEDIA_TYPE_MAX || !valid_media_type(mt)) {
        /* The repository's state keeps it: bounded like imageManifestMediaType (names.h). */
        srv_reply_error(out, 400, "InvalidParameterException",
                        "Invalid parameter at 'imageManifest' failed to satisfy constraint: "
                        "'its mediaType must be TYPE/SUBTYPE, at most %d characters'",
                        MEDIA_TYPE_MAX);
        goto done;
    }
    struct image *im = reg_find_image(r, digest);
    struct tag *t = tag ? reg_find_tag(r, tag) : NULL;
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
    if (t && strcmp(t->digest, digest) != 0 && reg_tag_immutable(r, tag)) {
        srv_reply_error(out, 400, "ImageTagAlreadyExistsException",
                        "The image tag '%s' already exists in the '%s' repository and cannot be "
                        "overwritten because the repository is immutable.",
                        tag, repo);
        goto done;
    }
    if (reg->dir && !im) {
        char path[STORE_PATH_CAP];
        store_path(reg, path, sizeof path, "manifests/%s", digest + 7);
        if (store_write_atomic(path, manifest, strlen(manifest)) != 0) {
            srv_reply_error(out, 500, "ServerException", "could not store the manifest");
            goto done;
        }
    }
    /* What this call adds or moves, undone if its record cannot be stored: an image the client
     * was not told it put must not be there for its retry to find. */
    bool added_image = !im, added_tag = tag && !t;
    char moved_from[72] = "";
    if (t && !added_tag)
        memcpy(moved_from, t->digest, sizeof moved_from);
    if (!im) {
        GROW(r->images, r->n_images, r->cap_images);
        im = &r->images[r->n_images++];
        memcpy(im->digest, digest, 72);
        im->media_type = strdup(mt);
        im->manifest = strdup(manifest);
        im->pushed_at = reg_now();
    }
    if (tag) {
        if (!t) {
            GROW(r->tags, r->n_tags, r->cap_tags);
            t = &r->tags[r->n_tags++];
            t->name = strdup(tag);
        }
        memcpy(t->digest, digest, 72);
    }
    cJSON *change = cJSON_CreateObject();
    cJSON_AddStringToObject(change, "op", "putImage");
    cJSON_AddStringToObject(change, "digest", digest);
    cJSON_AddStringToObject(change, "mediaType", im->media_type);
    cJSON_AddNumberToObject(change, "pushedAt", im->pushed_at);
    if (tag)
        cJSON_AddStringToObject(change, "tag", tag);
    if (store_log_change(reg, r, change) != 0) {
        if (added_tag) {
            free(r->tags[--r->n_tags].name);
        } else if (tag) {
            memcpy(t->digest, moved_from, sizeof moved_from);
        }
        if (added_image) {
            struct image *gone = &r->images[--r->n_images];
            free(gone->media_type);
            free(gone->manifest);
        }
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

void reg_image_failure(cJSON *failures, const cJSON *id, const char *code, const char *why)
{
    cJSON *f = cJSON_CreateObject();
    cJSON_AddItemToObject(f, "imageId", cJSON_Duplicate(id, true));
    cJSON_AddStringToObject(f, "failureCode", code);
    cJSON_AddStringToObject(f, "failureReason", why);
    cJSON_AddItemToArray(failures, f);
}

bool reg_image_id(cJSON *failures, const cJSON *id, const char **tag, char digest[72],
                  bool *has_digest)
{
    const char *d = json_string(id, "imageDigest");
    *tag = json_string(id, "imageTag");
    *has_digest = d != NULL;
    if (!d && !*tag) {
        reg_image_failure(failures, id, "MissingDigestAndTag",
                          "Invalid request parameters: both tag and digest cannot be null");
        return false;
    }
    if (d && !srv_normal_sha256(d, digest)) {
        reg_image_failure(failures, id, "InvalidImageDigest", "Invalid image digest");
        return false;
    }
    return true;
}

void registry_get_images(struct registry *reg, const char *repo, const cJSON *ids,
                         struct srv_reply *out)
{
    pthread_mutex_lock(&reg->mu);
    struct repo *r = reg_repo_or_reply(reg, repo, out);
    if (!r)
        goto done;
    cJSON *o = cJSON_CreateObject();
    cJSON *images = cJSON_AddArrayToObject(o, "images");
    cJSON *failures = cJSON_AddArrayToObject(o, "failures");
    const cJSON *id;
    cJSON_ArrayForEach(id, ids)
    {
        const char *tag;
        char nd[72];
        bool d;
        if (!reg_image_id(failures, id, &tag, nd, &d))
            continue;
        struct tag *t = tag ? reg_find_tag(r, tag) : NULL;
        if (tag && !t) {
            reg_image_failure(failures, id, "ImageNotFound", "Requested image not found");
            continue;
        }
        if (d && t && strcmp(t->digest, nd) != 0) {
            reg_image_failure(failures, id, "ImageTagDoesNotMatchDigest",
                              "Image tag does not match the digest");
            continue;
        }
        struct image *im = reg_find_image(r, d ? nd : t->digest);
        if (!im) {
            reg_image_failure(failures, id, "ImageNotFound", "Requested image not found");
            continue;
        }
        cJSON_AddItemToArray(images, image_json(reg, repo, im, tag));
    }
    srv_reply_json(out, o);
done:
    pthread_mutex_unlock(&reg->mu);
}

enum registry_read registry_read_manifest(struct registry *reg, const char *repo,
                                          const char *reference, bool by_digest, char **manifest,
                                          char **media_type, char digest[72])
{
    enum registry_read rc = REGISTRY_NO_IMAGE;
    pthread_mutex_lock(&reg->mu);
    struct repo *r = reg_find_repo(reg, repo);
    struct tag *t = r && !by_digest ? reg_find_tag(r, reference) : NULL;
    struct image *im = !r          ? NULL
                       : by_digest ? reg_find_image(r, reference)
                       : t         ? reg_find_image(r, t->digest)
                                   : NULL;
    if (!r) {
        rc = REGISTRY_NO_REPOSITORY;
    } else if (im) {
        *manifest = strdup(im->manifest);
        *media_type = strdup(im->media_type);
        if (!*manifest || !*media_type)
            abort();
        memcpy(digest, im->digest, 72);
        rc = REGISTRY_FOUND;
    }
    pthread_mutex_unlock(&reg->mu);
    return rc;
}
