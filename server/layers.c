/* Layers a repository holds: BatchCheckLayerAvailability, GetDownloadUrlForLayer (a signed
 * URL of the /v2 blob route, tokens.c) and the blob file behind /v2 blob reads. */
#include "server/registry_impl.h"

#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "server/names.h"

static void layer_failure(cJSON *failures, const char *digest, const char *code, const char *why)
{
    cJSON *f = cJSON_CreateObject();
    cJSON_AddStringToObject(f, "layerDigest", digest);
    cJSON_AddStringToObject(f, "failureCode", code);
    cJSON_AddStringToObject(f, "failureReason", why);
    cJSON_AddItemToArray(failures, f);
}

void registry_check_layers(struct registry *reg, const char *repo, const cJSON *digests,
                           struct srv_reply *out)
{
    pthread_mutex_lock(&reg->mu);
    struct repo *r = reg_repo_or_reply(reg, repo, out);
    if (!r)
        goto done;
    cJSON *o = cJSON_CreateObject();
    cJSON *layers = cJSON_AddArrayToObject(o, "layers");
    cJSON *failures = cJSON_AddArrayToObject(o, "failures");
    const cJSON *it;
    cJSON_ArrayForEach(it, digests)
    {
        char d[72];
        struct layer *l = NULL;
        if (!valid_layer_digest(it->valuestring) || !srv_normal_sha256(it->valuestring, d)) {
            layer_failure(failures, it->valuestring, "InvalidLayerDigest", "Invalid layer digest");
        } else if ((l = reg_find_layer(r, d)) == NULL) {
            layer_failure(failures, it->valuestring, "MissingLayerDigest",
                          "Requested layer not found");
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

void registry_download_url(struct registry *reg, const char *repo, const char *digest_in,
                           struct srv_reply *out)
{
    pthread_mutex_lock(&reg->mu);
    struct repo *r = reg_repo_or_reply(reg, repo, out);
    char d[72];
    if (!r)
        goto done;
    if (!srv_normal_sha256(digest_in, d) || !reg_find_layer(r, d)) {
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
    long long expires = (long long)reg_now() + REGISTRY_DOWNLOAD_SECONDS;
    char sig[65];
    if (!reg_download_signature(reg, repo, d, expires, sig)) {
        srv_reply_error(out, 500, "ServerException", "could not sign the download URL");
        goto done;
    }
    cJSON *o = cJSON_CreateObject();
    char url[1400];
    snprintf(url, sizeof url, "%s/v2/%s/blobs/%s?expires=%lld&signature=%s", reg->base_url, repo, d,
             expires, sig);
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
    struct repo *r = reg_find_repo(reg, repo);
    struct layer *l = r && srv_normal_sha256(digest_in, d) ? reg_find_layer(r, d) : NULL;
    if (l && reg->dir) {
        char path[STORE_PATH_CAP];
        store_path(reg, path, sizeof path, "blobs/sha256/%s", d + 7);
        fd = open(path, O_RDONLY | O_CLOEXEC);
        *size = l->size;
    }
    pthread_mutex_unlock(&reg->mu);
    return fd;
}
