/* A repository's images listed, described and deleted: ListImages, DescribeImages and
 * BatchDeleteImage; and its tags as the /v2 API's tags/list reads them.
 *
 * Pages follow a stable order, not the order of the model's arrays: ListImages sorts its
 * entries by (digest, tag), DescribeImages by digest, and a nextToken is the hex of the last
 * key returned. A push or a delete between two pages then neither repeats nor skips an entry
 * that was there before and after. */
#include "server/registry_impl.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/names.h"
#include "util/hex.h"
#include "util/json.h"

#define DEFAULT_PAGE 100
/* A key: a digest, '\n', a tag of at most 300 characters. */
#define KEY_MAX (71 + 1 + 300)

struct entry {
    const struct image *im;
    const char *tag; /* NULL: the untagged image itself */
};

static int entry_cmp(const void *pa, const void *pb)
{
    const struct entry *a = pa, *b = pb;
    int c = strcmp(a->im->digest, b->im->digest);
    if (c || a->tag == b->tag)
        return c;
    if (!a->tag || !b->tag)
        return a->tag ? 1 : -1;
    return strcmp(a->tag, b->tag);
}

static size_t image_tag_count(const struct repo *r, const struct image *im)
{
    size_t n = 0;
    for (size_t i = 0; i < r->n_tags; i++)
        n += !strcmp(r->tags[i].digest, im->digest);
    return n;
}

static bool wanted(const struct repo *r, const struct image *im, const struct image_query *q)
{
    if (q->none)
        return false;
    if (!q->tag_status || !strcmp(q->tag_status, "ANY"))
        return true;
    bool tagged = image_tag_count(r, im) > 0;
    return !strcmp(q->tag_status, "TAGGED") ? tagged : !tagged;
}

static int hex_value(char c)
{
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* The key a token names, or false (InvalidParameterException in out) for one this server did
 * not give. */
static bool token_key(const char *token, struct entry *key, struct image *im_buf, char *tag_buf,
                      struct srv_reply *out)
{
    size_t n = strlen(token);
    char raw[KEY_MAX + 1];
    bool ok = n % 2 == 0 && n / 2 <= KEY_MAX && n >= 2 * 71;
    for (size_t i = 0; ok && i < n / 2; i++) {
        int hi = hex_value(token[2 * i]), lo = hex_value(token[2 * i + 1]);
        ok = hi >= 0 && lo >= 0;
        if (ok)
            raw[i] = (char)(hi << 4 | lo);
    }
    if (ok) {
        raw[n / 2] = '\0';
        ok = strlen(raw) == n / 2 && (raw[71] == '\0' || raw[71] == '\n');
    }
    if (ok) {
        memcpy(im_buf->digest, raw, 71);
        im_buf->digest[71] = '\0';
        key->im = im_buf;
        key->tag = NULL;
        if (n / 2 > 72) {
            snprintf(tag_buf, 301, "%s", raw + 72);
            key->tag = tag_buf;
        }
        ok = sha256_digest_valid(im_buf->digest);
    }
    if (!ok)
        srv_reply_error(out, 400, "InvalidParameterException",
                        "Invalid parameter at 'nextToken' failed to satisfy constraint: 'Invalid "
                        "NextToken'");
    return ok;
}

static void add_token(cJSON *o, const struct entry *last)
{
    char raw[KEY_MAX + 1], hex[2 * KEY_MAX + 1];
    int n = snprintf(raw, sizeof raw, "%s%s%s", last->im->digest, last->tag ? "\n" : "",
                     last->tag ? last->tag : "");
    hex_encode((const unsigned char *)raw, (size_t)n, hex);
    cJSON_AddStringToObject(o, "nextToken", hex);
}

/* The entries of r that q selects, sorted; `tags` says one per tag (ListImages) or one per
 * image (DescribeImages). *n gets the count; the caller frees the array. */
static struct entry *select_entries(const struct repo *r, const struct image_query *q, bool tags,
                                    size_t *n)
{
    struct entry *e = malloc((r->n_images + r->n_tags + 1) * sizeof *e);
    if (!e)
        abort();
    *n = 0;
    for (size_t i = 0; i < r->n_images; i++) {
        const struct image *im = &r->images[i];
        if (!wanted(r, im, q))
            continue;
        size_t before = *n;
        for (size_t j = 0; tags && j < r->n_tags; j++)
            if (!strcmp(r->tags[j].digest, im->digest))
                e[(*n)++] = (struct entry){im, r->tags[j].name};
        if (*n == before)
            e[(*n)++] = (struct entry){im, NULL};
    }
    qsort(e, *n, sizeof *e, entry_cmp);
    return e;
}

/* The first entry after the token's key, or 0; SIZE_MAX for a bad token (out filled). */
static size_t page_start(const struct entry *e, size_t n, const struct image_query *q, bool tags,
                         struct srv_reply *out)
{
    if (!q->next_token)
        return 0;
    struct entry key;
    struct image im_buf;
    char tag_buf[301];
    if (!token_key(q->next_token, &key, &im_buf, tag_buf, out))
        return SIZE_MAX;
    if (!tags)
        key.tag = NULL;
    size_t i = 0;
    while (i < n && entry_cmp(&e[i], &key) <= 0)
        i++;
    return i;
}

/* One past the last entry of the page that starts at `i`: maxResults entries, else ECR's
 * default page. */
static size_t page_end(size_t i, size_t n, const struct image_query *q)
{
    size_t limit = q->max_results > 0 ? (size_t)q->max_results : DEFAULT_PAGE;
    return limit < n - i ? i + limit : n;
}

void registry_list_images(struct registry *reg, const char *repo, const struct image_query *q,
                          struct srv_reply *out)
{
    pthread_mutex_lock(&reg->mu);
    struct repo *r = reg_repo_or_reply(reg, repo, out);
    if (!r)
        goto done;
    size_t n;
    struct entry *e = select_entries(r, q, true, &n);
    size_t i = page_start(e, n, q, true, out);
    if (i != SIZE_MAX) {
        cJSON *o = cJSON_CreateObject();
        cJSON *ids = cJSON_AddArrayToObject(o, "imageIds");
        size_t end = page_end(i, n, q);
        for (size_t k = i; k < end; k++) {
            cJSON *id = cJSON_CreateObject();
            cJSON_AddStringToObject(id, "imageDigest", e[k].im->digest);
            if (e[k].tag)
                cJSON_AddStringToObject(id, "imageTag", e[k].tag);
            cJSON_AddItemToArray(ids, id);
        }
        if (end < n)
            add_token(o, &e[end - 1]);
        srv_reply_json(out, o);
    }
    free(e);
done:
    pthread_mutex_unlock(&reg->mu);
}

/* imageSizeInBytes as ECR documents it: the size of an image's layers as stored (compressed),
 * the largest of its manifests' for a manifest list or index. The config blob is not counted. */
static uint64_t image_size(struct repo *r, const cJSON *doc, int depth)
{
    uint64_t size = 0;
    const cJSON *it;
    const cJSON *children = cJSON_GetObjectItemCaseSensitive(doc, "manifests");
    if (cJSON_IsArray(children)) {
        cJSON_ArrayForEach(it, children)
        {
            const char *d = json_string(it, "digest");
            char nd[72];
            struct image *child =
                d && depth < 2 && srv_normal_sha256(d, nd) ? reg_find_image(r, nd) : NULL;
            cJSON *cdoc = child ? cJSON_Parse(child->manifest) : NULL;
            uint64_t s = cdoc ? image_size(r, cdoc, depth + 1) : 0;
            cJSON_Delete(cdoc);
            if (s > size)
                size = s;
        }
        return size;
    }
    cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(doc, "layers"))
    {
        const char *d = json_string(it, "digest");
        char nd[72];
        const struct layer *l = d && srv_normal_sha256(d, nd) ? reg_find_layer(r, nd) : NULL;
        const cJSON *sz = cJSON_GetObjectItemCaseSensitive(it, "size");
        if (l)
            size += l->size;
        else if (cJSON_IsNumber(sz) && sz->valuedouble > 0)
            size += (uint64_t)sz->valuedouble;
    }
    return size;
}

static cJSON *image_detail(struct registry *reg, struct repo *r, const struct image *im)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "registryId", reg->account);
    cJSON_AddStringToObject(o, "repositoryName", r->name);
    cJSON_AddStringToObject(o, "imageDigest", im->digest);
    if (image_tag_count(r, im)) {
        cJSON *tags = cJSON_AddArrayToObject(o, "imageTags");
        for (size_t i = 0; i < r->n_tags; i++)
            if (!strcmp(r->tags[i].digest, im->digest))
                cJSON_AddItemToArray(tags, cJSON_CreateString(r->tags[i].name));
    }
    cJSON *doc = cJSON_Parse(im->manifest);
    cJSON_AddNumberToObject(o, "imageSizeInBytes", (double)image_size(r, doc, 0));
    cJSON_AddNumberToObject(o, "imagePushedAt", im->pushed_at);
    cJSON_AddStringToObject(o, "imageManifestMediaType", im->media_type);
    const char *artifact =
        json_string(cJSON_GetObjectItemCaseSensitive(doc, "config"), "mediaType");
    if (artifact)
        cJSON_AddStringToObject(o, "artifactMediaType", artifact);
    cJSON_Delete(doc);
    return o;
}

static void reply_image_not_found(struct registry *reg, const char *repo, const char *d,
                                  const char *tag, struct srv_reply *out)
{
    srv_reply_error(out, 400, "ImageNotFoundException",
                    "The image with imageId {imageDigest:'%s', imageTag:'%s'} does not exist "
                    "within the repository with name '%s' in the registry with id '%s'",
                    d ? d : "null", tag ? tag : "null", repo, reg->account);
}

/* The images `ids` names, each once; false with out filled when one is not there. */
static bool describe_ids(struct registry *reg, struct repo *r, const cJSON *ids, cJSON *list,
                         struct srv_reply *out)
{
    const struct image **seen = calloc((size_t)cJSON_GetArraySize(ids) + 1, sizeof *seen);
    size_t n_seen = 0;
    bool ok = true;
    const cJSON *id;
    cJSON_ArrayForEach(id, ids)
    {
        const char *d = json_string(id, "imageDigest"), *tag = json_string(id, "imageTag");
        char nd[72];
        if (!d && !tag) {
            srv_reply_error(out, 400, "InvalidParameterException",
                            "Invalid parameter at 'imageIds' failed to satisfy constraint: "
                            "'both tag and digest cannot be null'");
            ok = false;
            break;
        }
        if (d && !srv_normal_sha256(d, nd)) {
            srv_reply_error(out, 400, "InvalidParameterException",
                            "Invalid parameter at 'imageDigest' failed to satisfy constraint: "
                            "'Invalid image digest'");
            ok = false;
            break;
        }
        const struct tag *t = tag ? reg_find_tag(r, tag) : NULL;
        const struct image *im = NULL;
        if ((!tag || t) && (!d || !t || !strcmp(t->digest, nd)))
            im = reg_find_image(r, d ? nd : t->digest);
        if (!im) {
            reply_image_not_found(reg, r->name, d, tag, out);
            ok = false;
            break;
        }
        size_t k = 0;
        while (k < n_seen && seen[k] != im)
            k++;
        if (k == n_seen) {
            seen[n_seen++] = im;
            cJSON_AddItemToArray(list, image_detail(reg, r, im));
        }
    }
    free(seen);
    return ok;
}

void registry_describe_images(struct registry *reg, const char *repo, const cJSON *ids,
                              const struct image_query *q, struct srv_reply *out)
{
    pthread_mutex_lock(&reg->mu);
    struct repo *r = reg_repo_or_reply(reg, repo, out);
    if (!r)
        goto done;
    cJSON *o = cJSON_CreateObject();
    cJSON *list = cJSON_AddArrayToObject(o, "imageDetails");
    if (ids) {
        if (describe_ids(reg, r, ids, list, out))
            srv_reply_json(out, o);
        else
            cJSON_Delete(o);
        goto done;
    }
    size_t n;
    struct entry *e = select_entries(r, q, false, &n);
    size_t i = page_start(e, n, q, false, out);
    if (i == SIZE_MAX) {
        cJSON_Delete(o);
    } else {
        size_t end = page_end(i, n, q);
        for (size_t k = i; k < end; k++)
            cJSON_AddItemToArray(list, image_detail(reg, r, e[k].im));
        if (end < n)
            add_token(o, &e[end - 1]);
        srv_reply_json(out, o);
    }
    free(e);
done:
    pthread_mutex_unlock(&reg->mu);
}

/* ---- BatchDeleteImage ---- */

static void deleted_id(cJSON *ids, const char *digest, const char *tag)
{
    cJSON *id = cJSON_CreateObject();
    cJSON_AddStringToObject(id, "imageDigest", digest);
    if (tag)
        cJSON_AddStringToObject(id, "imageTag", tag);
    cJSON_AddItemToArray(ids, id);
}

/* An index or manifest list of r, other than `digest` itself, that names `digest`. */
static bool referenced_by_list(const struct repo *r, const char *digest)
{
    for (size_t i = 0; i < r->n_images; i++)
        if (strcmp(r->images[i].digest, digest) && strstr(r->images[i].manifest, "\"manifests\"") &&
            strstr(r->images[i].manifest, digest))
            return true;
    return false;
}

/* What one BatchDeleteImage took out of the repository, kept until its record is stored: put
 * back if that fails, freed once it is durable. */
struct taken {
    struct tag *tags;
    size_t n_tags, cap_tags;
    struct image *images;
    size_t n_images, cap_images;
};

static void take_tag(struct repo *r, struct tag *t, struct taken *k)
{
    GROW(k->tags, k->n_tags, k->cap_tags);
    k->tags[k->n_tags++] = *t;
    *t = r->tags[--r->n_tags];
}

static void take_image(struct repo *r, struct image *im, struct taken *k)
{
    for (size_t i = r->n_tags; i-- > 0;)
        if (!strcmp(r->tags[i].digest, im->digest))
            take_tag(r, &r->tags[i], k);
    GROW(k->images, k->n_images, k->cap_images);
    k->images[k->n_images++] = *im;
    *im = r->images[--r->n_images];
}

/* The record of what was taken: tags by name, images by digest. */
static cJSON *taken_change(const struct taken *k)
{
    cJSON *c = cJSON_CreateObject();
    cJSON_AddStringToObject(c, "op", "deleteImages");
    cJSON *tags = cJSON_AddArrayToObject(c, "tags");
    for (size_t i = 0; i < k->n_tags; i++)
        cJSON_AddItemToArray(tags, cJSON_CreateString(k->tags[i].name));
    cJSON *images = cJSON_AddArrayToObject(c, "images");
    for (size_t i = 0; i < k->n_images; i++)
        cJSON_AddItemToArray(images, cJSON_CreateString(k->images[i].digest));
    return c;
}

/* Back into r when `restore` (the order of the arrays is no one's: pages sort), else freed. */
static void taken_end(struct repo *r, struct taken *k, bool restore)
{
    for (size_t i = 0; i < k->n_tags; i++) {
        if (restore) {
            GROW(r->tags, r->n_tags, r->cap_tags);
            r->tags[r->n_tags++] = k->tags[i];
        } else {
            free(k->tags[i].name);
        }
    }
    for (size_t i = 0; i < k->n_images; i++) {
        if (restore) {
            GROW(r->images, r->n_images, r->cap_images);
            r->images[r->n_images++] = k->images[i];
        } else {
            free(k->images[i].media_type);
            free(k->images[i].manifest);
        }
    }
    free(k->tags);
    free(k->images);
}

void registry_delete_images(struct registry *reg, const char *repo, const cJSON *ids,
                            struct srv_reply *out)
{
    struct taken k = {0};
    pthread_mutex_lock(&reg->mu);
    struct repo *r = reg_repo_or_reply(reg, repo, out);
    if (!r)
        goto done;
    cJSON *o = cJSON_CreateObject();
    cJSON *done_ids = cJSON_AddArrayToObject(o, "imageIds");
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
        struct image *im = NULL;
        if (tag && t && d && strcmp(t->digest, nd)) {
            reg_image_failure(failures, id, "ImageTagDoesNotMatchDigest",
                              "Invalid tag and digest combination");
            continue;
        }
        if (!tag || t)
            im = reg_find_image(r, t ? t->digest : nd);
        if (!im) {
            reg_image_failure(failures, id, "ImageNotFound", "Requested image not found");
            continue;
        }
        /* A tag untags; the image goes with its last tag. A digest takes the image and every
         * tag. Either way an image a manifest list of the repository names stays. */
        bool last = !t || image_tag_count(r, im) == 1;
        if (last && referenced_by_list(r, im->digest)) {
            reg_image_failure(failures, id, "ImageReferencedByManifestList",
                              "Requested image is referenced by a manifest list");
            continue;
        }
        if (t) {
            deleted_id(done_ids, im->digest, t->name);
            take_tag(r, t, &k);
            if (!last)
                continue;
        } else {
            size_t before = (size_t)cJSON_GetArraySize(done_ids);
            for (size_t i = 0; i < r->n_tags; i++)
                if (!strcmp(r->tags[i].digest, im->digest))
                    deleted_id(done_ids, im->digest, r->tags[i].name);
            if ((size_t)cJSON_GetArraySize(done_ids) == before)
                deleted_id(done_ids, im->digest, NULL);
        }
        take_image(r, im, &k);
    }
    if ((k.n_tags || k.n_images) && store_log_change(reg, r, taken_change(&k)) != 0) {
        /* Nothing the client is not told was deleted may stay deleted. */
        taken_end(r, &k, true);
        cJSON_Delete(o);
        srv_reply_error(out, 500, "ServerException", "could not store the repository");
        goto done;
    }
    /* The manifests go once the record is durable: a crash in between leaves a file nothing
     * names, never an image without its manifest. */
    for (size_t i = 0; i < k.n_images; i++)
        store_release_manifest(reg, k.images[i].digest);
    taken_end(r, &k, false);
    srv_reply_json(out, o);
done:
    pthread_mutex_unlock(&reg->mu);
}

static int str_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

enum registry_read registry_read_tags(struct registry *reg, const char *repo, char ***tags,
                                      size_t *n)
{
    pthread_mutex_lock(&reg->mu);
    struct repo *r = reg_find_repo(reg, repo);
    if (r) {
        *n = r->n_tags;
        *tags = malloc((r->n_tags + 1) * sizeof **tags);
        if (!*tags)
            abort();
        for (size_t i = 0; i < r->n_tags; i++)
            if (!((*tags)[i] = strdup(r->tags[i].name)))
                abort();
    }
    pthread_mutex_unlock(&reg->mu);
    if (!r)
        return REGISTRY_NO_REPOSITORY;
    qsort(*tags, *n, sizeof **tags, str_cmp);
    return REGISTRY_FOUND;
}
