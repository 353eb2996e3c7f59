/* The ECR API's request handler without sockets (api.h): the X-Amz-Target dispatch, the
 * members of each operation's JSON checked against the model, then the registry's operation. */
#include "server/api.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/partbody.h"

enum op {
    OP_UNKNOWN,
    OP_CREATE_REPOSITORY,
    OP_DESCRIBE_REPOSITORIES,
    OP_INITIATE,
    OP_UPLOAD_PART,
    OP_COMPLETE,
    OP_CHECK,
    OP_PUT_IMAGE,
    OP_GET_IMAGE,
    OP_DOWNLOAD_URL,
    OP_LIST_IMAGES,
    OP_DESCRIBE_IMAGES,
    OP_DELETE_IMAGES,
    OP_DELETE_REPOSITORY,
    OP_AUTH_TOKEN,
    OP_DESCRIBE_REGISTRY,
    OP_PUT_TAG_MUTABILITY,
    OP_COUNT
};

static const char *const op_names[] = {
    "",
    "CreateRepository",
    "DescribeRepositories",
    "InitiateLayerUpload",
    "UploadLayerPart",
    "CompleteLayerUpload",
    "BatchCheckLayerAvailability",
    "PutImage",
    "BatchGetImage",
    "GetDownloadUrlForLayer",
    "ListImages",
    "DescribeImages",
    "BatchDeleteImage",
    "DeleteRepository",
    "GetAuthorizationToken",
    "DescribeRegistry",
    "PutImageTagMutability",
};

_Static_assert(sizeof op_names / sizeof op_names[0] == OP_COUNT, "one name per operation");

const char *srv_operation_name(size_t i)
{
    return i + 1 < OP_COUNT ? op_names[i + 1] : NULL;
}

struct srv_call {
    struct registry *reg;
    enum op op;
    char target[128];
    char region[64]; /* the signing scope's, for ARNs */
    size_t body_len;
    bool too_big;
    struct ebuf body;           /* small operations */
    struct partbody *pb;        /* UploadLayerPart */
    struct registry_part *part; /* UploadLayerPart's bytes so far */
    bool part_failed;
};

static int hook_blob_start(void *user, struct partbody *p)
{
    struct srv_call *c = user;
    if (registry_is_sink(c->reg))
        return 0;
    c->part = registry_part_begin(c->reg, p->has_upload_id ? p->upload_id : NULL,
                                  p->has_first ? p->part_first_byte : -1);
    if (!c->part) {
        partbody_fail(p, "ServerException", "could not store the layer part");
        return -1;
    }
    return 0;
}

static int hook_blob_data(void *user, struct partbody *p, const uint8_t *data, size_t n)
{
    struct srv_call *c = user;
    if (!c->part || registry_part_write(c->part, data, n) == 0)
        return 0;
    /* The cause, for whoever runs the server: "No space left on device" is fixable. */
    partbody_fail(p, "ServerException", "could not store the layer part: %s", strerror(errno));
    return -1;
}

void srv_call_set_region(struct srv_call *c, const char *region)
{
    if (region && *region)
        snprintf(c->region, sizeof c->region, "%s", region);
}

struct srv_call *srv_call_begin(struct registry *reg, const char *target)
{
    struct srv_call *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    c->reg = reg;
    snprintf(c->region, sizeof c->region, "us-east-1");
    snprintf(c->target, sizeof c->target, "%s", target ? target : "");
    size_t plen = strlen(SRV_TARGET_PREFIX);
    if (target && !strncmp(target, SRV_TARGET_PREFIX, plen))
        for (size_t i = 1; i < sizeof op_names / sizeof op_names[0]; i++)
            if (!strcmp(target + plen, op_names[i]))
                c->op = (enum op)i;
    if (c->op == OP_UPLOAD_PART) {
        c->pb = malloc(sizeof *c->pb);
        if (!c->pb) {
            free(c);
            return NULL;
        }
        struct partbody_hooks hooks = {hook_blob_start, hook_blob_data, c};
        if (registry_is_sink(reg))
            hooks.blob_data = NULL;
        partbody_init(c->pb, registry_is_sink(reg), &hooks);
    }
    return c;
}

const char *srv_call_operation(const struct srv_call *c)
{
    return op_names[c->op];
}

size_t srv_call_body_limit(const struct srv_call *c)
{
    return c->op == OP_UPLOAD_PART ? SRV_MAX_PART_BODY : SRV_MAX_SMALL_BODY;
}

void srv_call_feed(struct srv_call *c, const void *data, size_t n)
{
    c->body_len += n;
    if (c->too_big || c->op == OP_UNKNOWN)
        return;
    if (c->body_len > srv_call_body_limit(c)) {
        c->too_big = true;
        ebuf_free(&c->body);
        return;
    }
    if (c->op == OP_UPLOAD_PART)
        partbody_feed(c->pb, data, n);
    else
        ebuf_append(&c->body, data, n);
}

/* ---- member access with the model's types ---- */

struct args {
    cJSON *root;
    struct srv_reply *out;
    bool failed;
};

static bool fail_type(struct args *a, const char *member, const char *want)
{
    if (!a->failed)
        srv_reply_error(a->out, 400, "SerializationException", "Member '%s' must be %s", member,
                        want);
    a->failed = true;
    return false;
}

static bool fail_param(struct args *a, const char *member, const char *why)
{
    if (!a->failed)
        srv_reply_error(a->out, 400, "InvalidParameterException",
                        "Invalid parameter at '%s' failed to satisfy constraint: '%s'", member,
                        why);
    a->failed = true;
    return false;
}

static bool fail_missing(struct args *a, const char *member)
{
    if (!a->failed)
        srv_reply_error(a->out, 400, "InvalidParameterException",
                        "Missing required parameter in input: '%s'", member);
    a->failed = true;
    return false;
}

#define REPO_PATTERN_MSG                                                                           \
    "must satisfy regular expression "                                                             \
    "'[a-z0-9]+((\\.|_|__|-+)[a-z0-9]+)*(\\/[a-z0-9]+((\\.|_|__|-+)[a-z0-9]+)*)*' and have 2 to "  \
    "256 characters"

static const char *get_str(struct args *a, const char *member, bool required)
{
    if (a->failed)
        return NULL;
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(a->root, member);
    if (!v || cJSON_IsNull(v)) {
        if (required)
            fail_missing(a, member);
        return NULL;
    }
    if (!cJSON_IsString(v)) {
        fail_type(a, member, "a string");
        return NULL;
    }
    return v->valuestring;
}

static const cJSON *get_list(struct args *a, const char *member, bool required, int min, int max,
                             bool strings)
{
    if (a->failed)
        return NULL;
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(a->root, member);
    if (!v || cJSON_IsNull(v)) {
        if (required)
            fail_missing(a, member);
        return NULL;
    }
    if (!cJSON_IsArray(v)) {
        fail_type(a, member, "a list");
        return NULL;
    }
    int n = cJSON_GetArraySize(v);
    if (n < min || n > max) {
        fail_param(a, member, "wrong number of members");
        return NULL;
    }
    const cJSON *it;
    cJSON_ArrayForEach(it, v) if (strings ? !cJSON_IsString(it) : !cJSON_IsObject(it))
    {
        fail_type(a, member, strings ? "a list of strings" : "a list of structures");
        return NULL;
    }
    return v;
}

/* registryId (optional) must be this registry; repositoryName must match the pattern. */
static const char *get_repo(struct args *a, struct registry *reg)
{
    const char *rid = get_str(a, "registryId", false);
    const char *name = get_str(a, "repositoryName", true);
    if (a->failed)
        return NULL;
    if (rid && strcmp(rid, registry_account(reg)) != 0) {
        bool digits = strlen(rid) == 12 && strspn(rid, "0123456789") == 12;
        if (!digits)
            fail_param(a, "registryId", "must satisfy regular expression '[0-9]{12}'");
        else if (!a->failed) {
            srv_reply_error(a->out, 400, "RepositoryNotFoundException",
                            "The repository with name '%s' does not exist in the registry with "
                            "id '%s'",
                            name, rid);
            a->failed = true;
        }
        return NULL;
    }
    if (!valid_repository_name(name)) {
        fail_param(a, "repositoryName", REPO_PATTERN_MSG);
        return NULL;
    }
    return name;
}

#define MEDIA_TYPE_MSG                                                                             \
    "must be a media type, TYPE/SUBTYPE of letters, digits and !#$&-^_.+, at most 255 "            \
    "characters"

static const char *get_upload_id(struct args *a)
{
    const char *id = get_str(a, "uploadId", true);
    if (id && !valid_upload_id(id)) {
        fail_param(a, "uploadId",
                   "must satisfy regular expression '[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-"
                   "[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}'");
        return NULL;
    }
    return id;
}

static bool check_digest(struct args *a, const char *member, const char *d)
{
    if (!valid_layer_digest(d))
        return fail_param(a, member,
                          "must satisfy regular expression '[a-zA-Z0-9-_+.]+:[a-fA-F0-9]+'");
    return true;
}

/* MaxResults: 1 to 1000; 0 when absent. */
static int get_max_results(struct args *a)
{
    const cJSON *mr = cJSON_GetObjectItemCaseSensitive(a->root, "maxResults");
    if (a->failed || !mr || cJSON_IsNull(mr))
        return 0;
    if (!cJSON_IsNumber(mr))
        fail_type(a, "maxResults", "an integer");
    else if (mr->valuedouble < 1 || mr->valuedouble > 1000)
        fail_param(a, "maxResults", "must be between 1 and 1000");
    else
        return mr->valueint;
    return 0;
}

/* filter.tagStatus (TagStatus) of ListImages and DescribeImages; NULL when absent (ANY).
 * filter.imageStatus: every image here is ACTIVE, so only ACTIVE and ANY select any. */
static const char *get_tag_status(struct args *a, bool *none)
{
    *none = false;
    const cJSON *f = cJSON_GetObjectItemCaseSensitive(a->root, "filter");
    if (a->failed || !f || cJSON_IsNull(f))
        return NULL;
    if (!cJSON_IsObject(f)) {
        fail_type(a, "filter", "a structure");
        return NULL;
    }
    const cJSON *ts = cJSON_GetObjectItemCaseSensitive(f, "tagStatus");
    const cJSON *is = cJSON_GetObjectItemCaseSensitive(f, "imageStatus");
    if ((ts && !cJSON_IsNull(ts) && !cJSON_IsString(ts)) ||
        (is && !cJSON_IsNull(is) && !cJSON_IsString(is))) {
        fail_type(a, "filter", "a structure of strings");
        return NULL;
    }
    const char *t = cJSON_IsString(ts) ? ts->valuestring : NULL;
    const char *i = cJSON_IsString(is) ? is->valuestring : NULL;
    if (t && strcmp(t, "TAGGED") && strcmp(t, "UNTAGGED") && strcmp(t, "ANY")) {
        fail_param(a, "filter.tagStatus",
                   "Member must satisfy enum value set: [TAGGED, UNTAGGED, ANY]");
        return NULL;
    }
    if (i && strcmp(i, "ACTIVE") && strcmp(i, "ARCHIVED") && strcmp(i, "ACTIVATING") &&
        strcmp(i, "ANY")) {
        fail_param(a, "filter.imageStatus",
                   "Member must satisfy enum value set: [ACTIVE, ARCHIVED, ACTIVATING, ANY]");
        return NULL;
    }
    *none = i && (!strcmp(i, "ARCHIVED") || !strcmp(i, "ACTIVATING"));
    return t;
}

/* ImageIdentifierList: 1 to 100 structures whose imageDigest and imageTag, when present, are
 * strings and whose tags have ImageTag's 1 to 300 characters. Digests are judged by each
 * operation (BatchDeleteImage reports them per image). */
static const cJSON *get_image_ids(struct args *a, bool required)
{
    const cJSON *ids = get_list(a, "imageIds", required, 1, 100, false);
    const cJSON *id;
    if (ids)
        cJSON_ArrayForEach(id, ids)
        {
            const cJSON *d = cJSON_GetObjectItemCaseSensitive(id, "imageDigest");
            const cJSON *t = cJSON_GetObjectItemCaseSensitive(id, "imageTag");
            if ((d && !cJSON_IsNull(d) && !cJSON_IsString(d)) ||
                (t && !cJSON_IsNull(t) && !cJSON_IsString(t))) {
                fail_type(a, "imageIds", "a list of image identifiers");
                return NULL;
            }
            size_t n = cJSON_IsString(t) ? strlen(t->valuestring) : 1;
            if (n < 1 || n > 300) {
                fail_param(a, "imageIds.member.imageTag",
                           "Member must have length between 1 and 300");
                return NULL;
            }
        }
    return ids;
}

/* imageTagMutability (ImageTagMutability's enum; NULL when absent and not required) and
 * imageTagMutabilityExclusionFilters into *ex: 1 to 5 {filterType WILDCARD, filter
 * [0-9a-zA-Z._*-]{1,128}}, given exactly when the setting is one *_WITH_EXCLUSION. */
static const char *get_mutability(struct args *a, bool required, const cJSON **ex)
{
    const char *mut = get_str(a, "imageTagMutability", required);
    *ex = get_list(a, "imageTagMutabilityExclusionFilters", false, 1, 5, false);
    if (a->failed)
        return NULL;
    if (mut && strcmp(mut, "MUTABLE") && strcmp(mut, "IMMUTABLE") &&
        strcmp(mut, "IMMUTABLE_WITH_EXCLUSION") && strcmp(mut, "MUTABLE_WITH_EXCLUSION")) {
        fail_param(a, "imageTagMutability",
                   "Member must satisfy enum value set: [MUTABLE, IMMUTABLE, "
                   "IMMUTABLE_WITH_EXCLUSION, MUTABLE_WITH_EXCLUSION]");
        return NULL;
    }
    bool with = mut && strstr(mut, "_WITH_EXCLUSION");
    if (with != (*ex != NULL)) {
        fail_param(a, "imageTagMutabilityExclusionFilters",
                   with ? "required with an imageTagMutability *_WITH_EXCLUSION"
                        : "only with an imageTagMutability *_WITH_EXCLUSION");
        return NULL;
    }
    const cJSON *f;
    cJSON_ArrayForEach(f, *ex)
    {
        const cJSON *type = cJSON_GetObjectItemCaseSensitive(f, "filterType");
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(f, "filter");
        size_t n = cJSON_IsString(v) ? strlen(v->valuestring) : 0;
        if (!cJSON_IsString(type) || strcmp(type->valuestring, "WILDCARD") || n < 1 || n > 128 ||
            strspn(v->valuestring, "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                   "._*-") != n) {
            fail_param(a, "imageTagMutabilityExclusionFilters",
                       "each filter must be {filterType: WILDCARD, filter: "
                       "[0-9a-zA-Z._*-]{1,128}}");
            return NULL;
        }
    }
    return mut;
}

/* The optional registryId of operations that take no repository. */
static void check_registry_id(struct args *a, struct registry *reg, const char *rid)
{
    if (a->failed || !rid)
        return;
    if (strlen(rid) != 12 || strspn(rid, "0123456789") != 12)
        fail_param(a, "registryId", "must satisfy regular expression '[0-9]{12}'");
    else if (strcmp(rid, registry_account(reg)))
        fail_param(a, "registryId", "not this registry");
}

static void run_small(struct srv_call *c, struct srv_reply *out)
{
    struct args a = {NULL, out, false};
    char member[64];
    if (json_has_nul(c->body.data ? c->body.data : "", c->body.len, member, sizeof member)) {
        /* cJSON would cut the string there: "a\u0000evil" stored as tag "a". */
        if (member[0])
            fail_param(&a, member, "Member must not contain a NUL character");
        else
            srv_reply_error(out, 400, "SerializationException",
                            "The request body holds a NUL character outside a member's value");
        return;
    }
    a.root = cJSON_ParseWithLength(c->body.data ? c->body.data : "", c->body.len);
    if (!cJSON_IsObject(a.root)) {
        srv_reply_error(out, 400, "SerializationException",
                        "The request body is not a JSON object");
        cJSON_Delete(a.root);
        return;
    }
    struct registry *reg = c->reg;
    switch (c->op) {
    case OP_CREATE_REPOSITORY:
    case OP_PUT_TAG_MUTABILITY: {
        const char *name = get_repo(&a, reg);
        const cJSON *ex = NULL;
        const char *mut = get_mutability(&a, c->op == OP_PUT_TAG_MUTABILITY, &ex);
        if (a.failed)
            break;
        if (c->op == OP_CREATE_REPOSITORY)
            registry_create_repository(reg, name, mut, ex, c->region, out);
        else
            registry_put_tag_mutability(reg, name, mut, ex, out);
        break;
    }
    case OP_DESCRIBE_REPOSITORIES: {
        const char *rid = get_str(&a, "registryId", false);
        const cJSON *names = get_list(&a, "repositoryNames", false, 1, 100, true);
        const char *tok = get_str(&a, "nextToken", false);
        int max = get_max_results(&a);
        if (!a.failed && rid && strcmp(rid, registry_account(reg)))
            fail_param(&a, "registryId", "not this registry");
        const cJSON *it;
        if (names && !a.failed)
            cJSON_ArrayForEach(it, names) if (!valid_repository_name(it->valuestring))
            {
                fail_param(&a, "repositoryNames", REPO_PATTERN_MSG);
                break;
            }
        if (!a.failed)
            registry_describe_repositories(reg, names, max, tok, c->region, out);
        break;
    }
    case OP_INITIATE: {
        const char *name = get_repo(&a, reg);
        if (!a.failed)
            registry_initiate_upload(reg, name, out);
        break;
    }
    case OP_COMPLETE: {
        const char *name = get_repo(&a, reg);
        const char *id = get_upload_id(&a);
        const cJSON *ds = get_list(&a, "layerDigests", true, 1, 100, true);
        const cJSON *it;
        if (ds)
            cJSON_ArrayForEach(it,
                               ds) if (!check_digest(&a, "layerDigests", it->valuestring)) break;
        if (!a.failed)
            registry_complete_upload(reg, name, id, ds->child->valuestring, out);
        break;
    }
    case OP_CHECK: {
        const char *name = get_repo(&a, reg);
        const cJSON *ds = get_list(&a, "layerDigests", true, 1, 100, true);
        if (!a.failed)
            registry_check_layers(reg, name, ds, out);
        break;
    }
    case OP_PUT_IMAGE: {
        const char *name = get_repo(&a, reg);
        const char *manifest = get_str(&a, "imageManifest", true);
        const char *mt = get_str(&a, "imageManifestMediaType", false);
        const char *tag = get_str(&a, "imageTag", false);
        const char *digest = get_str(&a, "imageDigest", false);
        if (manifest && (manifest[0] == '\0' || strlen(manifest) > 4194304))
            fail_param(&a, "imageManifest", "length must be 1 to 4194304");
        else if (manifest && json_has_nul(manifest, strlen(manifest), NULL, 0))
            fail_param(&a, "imageManifest", "a string of the manifest contains a NUL character");
        if (tag && (tag[0] == '\0' || strlen(tag) > 300))
            fail_param(&a, "imageTag", "length must be 1 to 300");
        if (mt && (strlen(mt) > MEDIA_TYPE_MAX || !valid_media_type(mt)))
            fail_param(&a, "imageManifestMediaType", MEDIA_TYPE_MSG);
        if (!a.failed)
            registry_put_image(reg, name, manifest, mt, tag, digest, out);
        break;
    }
    case OP_GET_IMAGE: {
        const char *name = get_repo(&a, reg);
        const cJSON *ids = get_image_ids(&a, true);
        if (!a.failed)
            registry_get_images(reg, name, ids, out);
        break;
    }
    case OP_DOWNLOAD_URL: {
        const char *name = get_repo(&a, reg);
        const char *d = get_str(&a, "layerDigest", true);
        if (d)
            check_digest(&a, "layerDigest", d);
        if (!a.failed)
            registry_download_url(reg, name, d, out);
        break;
    }
    case OP_LIST_IMAGES:
    case OP_DESCRIBE_IMAGES: {
        const char *name = get_repo(&a, reg);
        const cJSON *ids = c->op == OP_DESCRIBE_IMAGES ? get_image_ids(&a, false) : NULL;
        const char *tok = get_str(&a, "nextToken", false);
        int max = get_max_results(&a);
        bool none = false;
        const char *status = get_tag_status(&a, &none);
        /* DescribeImages pages only the whole repository, as ECR does. */
        if (ids && (max || tok))
            fail_param(&a, "maxResults", "maxResults and nextToken cannot be used with imageIds");
        struct image_query q = {status, none, max, tok};
        if (a.failed)
            break;
        if (c->op == OP_LIST_IMAGES)
            registry_list_images(reg, name, &q, out);
        else
            registry_describe_images(reg, name, ids, &q, out);
        break;
    }
    case OP_DELETE_IMAGES: {
        const char *name = get_repo(&a, reg);
        const cJSON *ids = get_image_ids(&a, true);
        if (!a.failed)
            registry_delete_images(reg, name, ids, out);
        break;
    }
    case OP_DELETE_REPOSITORY: {
        const char *name = get_repo(&a, reg);
        const cJSON *force = cJSON_GetObjectItemCaseSensitive(a.root, "force");
        if (force && !cJSON_IsNull(force) && !cJSON_IsBool(force))
            fail_type(&a, "force", "a boolean");
        if (!a.failed)
            registry_delete_repository(reg, name, cJSON_IsTrue(force), c->region, out);
        break;
    }
    case OP_AUTH_TOKEN: {
        const cJSON *ids = get_list(&a, "registryIds", false, 1, 10, true);
        const cJSON *it;
        if (ids)
            cJSON_ArrayForEach(it, ids) check_registry_id(&a, reg, it->valuestring);
        if (!a.failed)
            registry_authorization_token(reg, ids ? cJSON_GetArraySize(ids) : 1, out);
        break;
    }
    case OP_DESCRIBE_REGISTRY:
        registry_describe_registry(reg, out);
        break;
    default:
        break;
    }
    cJSON_Delete(a.root);
}

static void run_upload_part(struct srv_call *c, struct srv_reply *out)
{
    struct partbody *p = c->pb;
    if (partbody_finish(p) != 0) {
        /* The server's own failure is a 500, which clients retry; a bad body is the client's. */
        srv_reply_error(out, strcmp(p->error_type, "ServerException") ? 400 : 500, p->error_type,
                        "%s", p->error);
        return;
    }
    struct args a = {NULL, out, false};
    if (!valid_repository_name(p->repository_name))
        fail_param(&a, "repositoryName", REPO_PATTERN_MSG);
    else if (!valid_upload_id(p->upload_id))
        fail_param(&a, "uploadId", "must be an upload id");
    else if (p->has_registry_id && strcmp(p->registry_id, registry_account(c->reg)))
        fail_param(&a, "registryId", "not this registry");
    if (a.failed)
        return;
    struct registry_part *part = c->part;
    c->part = NULL;
    registry_part_finish(c->reg, part, p->repository_name, p->upload_id, p->part_first_byte,
                         p->part_last_byte, p->blob_size, out);
}

/* Names the operations this endpoint has, so a client's author sees what is missing. */
static void reply_unknown_operation(struct srv_reply *out, const char *target)
{
    struct ebuf ops = EBUF_INIT;
    for (size_t i = 0; srv_operation_name(i); i++)
        ebuf_printf(&ops, "%s%s", i ? ", " : "", srv_operation_name(i));
    srv_reply_error(out, 400, "UnknownOperationException",
                    "Unknown operation %.100s; this endpoint has %s", target, ebuf_str(&ops));
    ebuf_free(&ops);
}

void srv_call_finish(struct srv_call *c, struct srv_reply *out)
{
    out->status = 200;
    out->error_type = NULL;
    if (c->op == OP_UNKNOWN) {
        if (!c->target[0])
            srv_reply_error(out, 400, "UnknownOperationException", "Missing X-Amz-Target header");
        else
            reply_unknown_operation(out, c->target);
    } else if (c->too_big) {
        srv_reply_error(
            out, 413, "SerializationException",
            "The request body of %zu bytes exceeds the limit of %u bytes for %s", c->body_len,
            c->op == OP_UPLOAD_PART ? SRV_MAX_PART_BODY : SRV_MAX_SMALL_BODY, op_names[c->op]);
    } else if (c->op == OP_UPLOAD_PART) {
        run_upload_part(c, out);
    } else {
        run_small(c, out);
    }
    srv_call_drop(c); /* a part refused before the registry saw it */
}

void srv_call_pin(struct srv_call *c)
{
    registry_part_pin(c->part);
}

void srv_call_drop(struct srv_call *c)
{
    registry_part_abort(c->part);
    c->part = NULL;
}

void srv_call_free(struct srv_call *c)
{
    if (!c)
        return;
    srv_call_drop(c);
    free(c->pb);
    ebuf_free(&c->body);
    free(c);
}
