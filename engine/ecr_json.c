#include "engine/ecr_json.h"

#include "util/json.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

static cJSON *parse(const char *body, size_t len)
{
    if (!body)
        return NULL;
    cJSON *doc = cJSON_ParseWithLength(body, len);
    if (doc && !cJSON_IsObject(doc)) {
        cJSON_Delete(doc);
        return NULL;
    }
    return doc;
}

/* A non-negative whole number that a double holds exactly (all ECR byte offsets do). */
static bool get_u64(const cJSON *obj, const char *name, uint64_t *out)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, name);
    if (!cJSON_IsNumber(v))
        return false;
    double d = v->valuedouble;
    if (!(d >= 0) || d > 9007199254740992.0 || floor(d) != d)
        return false;
    *out = (uint64_t)d;
    return true;
}

static int copy_string(const char *s, char *dst, size_t cap)
{
    if (!s || !*s || strlen(s) >= cap)
        return -1;
    memcpy(dst, s, strlen(s) + 1);
    return 0;
}

int ecr_parse_error(const char *body, size_t len, struct ecr_error *out)
{
    memset(out, 0, sizeof *out);
    cJSON *doc = parse(body, len);
    const char *type = doc ? json_string(doc, "__type") : NULL;
    if (!type) {
        /* Not an AWS JSON error: keep the start of whatever came, printable bytes only. */
        size_t n = 0;
        for (size_t i = 0; body && i < len && n + 1 < sizeof out->message; i++)
            out->message[n++] = (body[i] >= 0x20 && body[i] < 0x7f) ? body[i] : ' ';
        out->message[n] = '\0';
        cJSON_Delete(doc);
        return -1;
    }
    const char *hash = strrchr(type, '#');
    snprintf(out->exception, sizeof out->exception, "%s", hash ? hash + 1 : type);
    const char *msg = json_string(doc, "message");
    if (!msg)
        msg = json_string(doc, "Message");
    snprintf(out->message, sizeof out->message, "%s", msg ? msg : "");
    out->has_last_valid_byte = get_u64(doc, "lastValidByteReceived", &out->last_valid_byte);
    cJSON_Delete(doc);
    return 0;
}

int ecr_parse_initiate(const char *body, size_t len, char *upload_id, size_t upload_id_cap,
                       uint64_t *part_size)
{
    cJSON *doc = parse(body, len);
    int rc = -1;
    if (doc && copy_string(json_string(doc, "uploadId"), upload_id, upload_id_cap) == 0 &&
        get_u64(doc, "partSize", part_size))
        rc = 0;
    cJSON_Delete(doc);
    return rc;
}

int ecr_parse_upload_part(const char *body, size_t len, uint64_t *last_byte_received)
{
    cJSON *doc = parse(body, len);
    int rc = doc && get_u64(doc, "lastByteReceived", last_byte_received) ? 0 : -1;
    cJSON_Delete(doc);
    return rc;
}

int ecr_parse_complete(const char *body, size_t len, char *digest, size_t digest_cap)
{
    cJSON *doc = parse(body, len);
    int rc = doc ? copy_string(json_string(doc, "layerDigest"), digest, digest_cap) : -1;
    cJSON_Delete(doc);
    return rc;
}

int ecr_parse_put_image(const char *body, size_t len, char *digest, size_t digest_cap)
{
    cJSON *doc = parse(body, len);
    const cJSON *image = doc ? cJSON_GetObjectItemCaseSensitive(doc, "image") : NULL;
    const cJSON *id = image ? cJSON_GetObjectItemCaseSensitive(image, "imageId") : NULL;
    int rc = copy_string(id ? json_string(id, "imageDigest") : NULL, digest, digest_cap);
    cJSON_Delete(doc);
    return rc;
}

int ecr_parse_create_repository(const char *body, size_t len, char *uri, size_t uri_cap)
{
    cJSON *doc = parse(body, len);
    const cJSON *repo = doc ? cJSON_GetObjectItemCaseSensitive(doc, "repository") : NULL;
    int rc = copy_string(repo ? json_string(repo, "repositoryUri") : NULL, uri, uri_cap);
    cJSON_Delete(doc);
    return rc;
}

int ecr_parse_batch_check(const char *body, size_t len, ecr_layer_fn each, void *user)
{
    cJSON *doc = parse(body, len);
    if (!doc)
        return -1;
    int count = 0;
    const cJSON *layers = cJSON_GetObjectItemCaseSensitive(doc, "layers");
    const cJSON *failures = cJSON_GetObjectItemCaseSensitive(doc, "failures");
    if ((layers && !cJSON_IsArray(layers)) || (failures && !cJSON_IsArray(failures))) {
        cJSON_Delete(doc);
        return -1;
    }
    const cJSON *it;
    cJSON_ArrayForEach(it, layers)
    {
        const char *digest = json_string(it, "layerDigest");
        const char *avail = json_string(it, "layerAvailability");
        if (!digest)
            continue;
        each(digest, avail && !strcmp(avail, "AVAILABLE"), user);
        count++;
    }
    cJSON_ArrayForEach(it, failures)
    {
        const char *digest = json_string(it, "layerDigest");
        if (!digest)
            continue;
        each(digest, false, user);
        count++;
    }
    cJSON_Delete(doc);
    return count;
}

static cJSON *base_request(const char *repository, const char *registry_id)
{
    cJSON *o = cJSON_CreateObject();
    if (!o)
        return NULL;
    if ((registry_id && !cJSON_AddStringToObject(o, "registryId", registry_id)) ||
        !cJSON_AddStringToObject(o, "repositoryName", repository)) {
        cJSON_Delete(o);
        return NULL;
    }
    return o;
}

static char *finish(cJSON *o, bool ok)
{
    char *s = ok && o ? cJSON_PrintUnformatted(o) : NULL;
    cJSON_Delete(o);
    return s;
}

char *ecr_build_initiate(const char *repository, const char *registry_id)
{
    cJSON *o = base_request(repository, registry_id);
    return finish(o, o != NULL);
}

char *ecr_build_create_repository(const char *repository, const char *registry_id)
{
    cJSON *o = base_request(repository, registry_id);
    return finish(o, o != NULL);
}

char *ecr_build_complete(const char *repository, const char *registry_id, const char *upload_id,
                         const char *digest)
{
    cJSON *o = base_request(repository, registry_id);
    bool ok = o && cJSON_AddStringToObject(o, "uploadId", upload_id);
    cJSON *digests = ok ? cJSON_AddArrayToObject(o, "layerDigests") : NULL;
    cJSON *d = digests ? cJSON_CreateString(digest) : NULL;
    ok = d && cJSON_AddItemToArray(digests, d);
    return finish(o, ok);
}

char *ecr_build_batch_check(const char *repository, const char *registry_id,
                            const char *const *digests, size_t n)
{
    cJSON *o = base_request(repository, registry_id);
    cJSON *arr = o ? cJSON_AddArrayToObject(o, "layerDigests") : NULL;
    bool ok = arr != NULL;
    for (size_t i = 0; ok && i < n; i++) {
        cJSON *d = cJSON_CreateString(digests[i]);
        ok = d && cJSON_AddItemToArray(arr, d);
    }
    return finish(o, ok);
}

char *ecr_build_put_image(const char *repository, const char *registry_id, const char *manifest,
                          const char *media_type, const char *tag, const char *digest)
{
    cJSON *o = base_request(repository, registry_id);
    bool ok = o && cJSON_AddStringToObject(o, "imageManifest", manifest);
    if (ok && media_type)
        ok = cJSON_AddStringToObject(o, "imageManifestMediaType", media_type) != NULL;
    if (ok && tag)
        ok = cJSON_AddStringToObject(o, "imageTag", tag) != NULL;
    if (ok && digest)
        ok = cJSON_AddStringToObject(o, "imageDigest", digest) != NULL;
    return finish(o, ok);
}
