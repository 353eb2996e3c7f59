/* The registry's model and its repositories: lookups shared by the operations, opening and
 * freeing the registry, and CreateRepository / DescribeRepositories. The other operations
 * live with their concept: uploads.c, layers.c, images.c; the disk in store.c. */
#include "server/registry_impl.h"

#include "server/repolog.h"
#include "signer/endpoint.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <time.h>

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

struct repo *reg_find_repo(struct registry *reg, const char *name)
{
    for (size_t i = 0; i < reg->n_repos; i++)
        if (!strcmp(reg->repos[i]->name, name))
            return reg->repos[i];
    return NULL;
}

struct repo *reg_repo_or_reply(struct registry *reg, const char *name, struct srv_reply *out)
{
    struct repo *r = reg_find_repo(reg, name);
    if (!r)
        reply_repository_not_found(out, name, reg->account);
    return r;
}

struct upload *reg_find_upload(struct registry *reg, const char *id)
{
    for (size_t i = 0; i < reg->n_uploads; i++)
        if (!strcasecmp(reg->uploads[i]->id, id))
            return reg->uploads[i];
    return NULL;
}

struct layer *reg_find_layer(struct repo *r, const char *digest)
{
    for (size_t i = 0; i < r->n_layers; i++)
        if (!strcmp(r->layers[i].digest, digest))
            return &r->layers[i];
    return NULL;
}

struct image *reg_find_image(struct repo *r, const char *digest)
{
    for (size_t i = 0; i < r->n_images; i++)
        if (!strcmp(r->images[i].digest, digest))
            return &r->images[i];
    return NULL;
}

struct tag *reg_find_tag(struct repo *r, const char *name)
{
    for (size_t i = 0; i < r->n_tags; i++)
        if (!strcmp(r->tags[i].name, name))
            return &r->tags[i];
    return NULL;
}

double reg_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + (double)(ts.tv_nsec / 1000000) / 1000.0;
}

void reg_repo_free(struct repo *r)
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

void reg_upload_free(struct upload *u)
{
    if (u)
        EVP_MD_CTX_free(u->hash);
    free(u);
}

void reg_remove_upload(struct registry *reg, struct upload *u)
{
    for (size_t i = 0; i < reg->n_uploads; i++)
        if (reg->uploads[i] == u) {
            reg->uploads[i] = reg->uploads[--reg->n_uploads];
            break;
        }
    reg_upload_free(u);
}

/* Upload operations expire idle uploads as they come; this expires them when none come, so a
 * server left alone after a killed push still gives its disk back. A quarter of the expiry
 * apart, at most a minute, at least a second. */
static void *sweep_loop(void *arg)
{
    struct registry *reg = arg;
    double period = reg->upload_expiry / 4;
    period = period > 60 ? 60 : period < 1 ? 1 : period;
    pthread_mutex_lock(&reg->mu);
    while (!reg->stopping) {
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_sec += (time_t)period;
        pthread_cond_timedwait(&reg->sweep_cv, &reg->mu, &until);
        if (!reg->stopping)
            reg_expire_uploads(reg);
    }
    pthread_mutex_unlock(&reg->mu);
    return NULL;
}

struct registry *registry_open(const struct registry_config *cfg, struct ebuf *err)
{
    bool durable = cfg->data_dir && !cfg->sink;
    if (durable && strlen(cfg->data_dir) > STORE_DIR_MAX) {
        /* Paths under it would not fit the store's buffers: refused rather than cut. */
        ebuf_printf(err, "the data directory path is too long (%zu characters; at most %d)",
                    strlen(cfg->data_dir), STORE_DIR_MAX);
        return NULL;
    }
    struct registry *reg = calloc(1, sizeof *reg);
    if (!reg) {
        ebuf_printf(err, "out of memory");
        return NULL;
    }
    if (pthread_mutex_init(&reg->mu, NULL) != 0) {
        ebuf_printf(err, "cannot initialise the registry lock");
        free(reg);
        return NULL;
    }
    reg->lock_fd = -1;
    reg->sink = cfg->sink;
    reg->part_size = cfg->part_size ? cfg->part_size : 10485760;
    reg->upload_expiry = cfg->upload_expiry ? cfg->upload_expiry : REGISTRY_UPLOAD_EXPIRY;
    snprintf(reg->account, sizeof reg->account, "123456789012");
    reg->base_url = strdup(cfg->base_url ? cfg->base_url : "http://127.0.0.1");
    /* Without its directory a durable registry would quietly keep nothing. */
    reg->dir = durable ? strdup(cfg->data_dir) : NULL;
    reg->compact_at = REPOLOG_COMPACT_AT;
    if (!reg->base_url || (durable && !reg->dir)) {
        ebuf_printf(err, "out of memory");
        registry_free(reg);
        return NULL;
    }
    if (durable && store_load(reg, err) != 0) {
        registry_free(reg);
        return NULL;
    }
    if (pthread_cond_init(&reg->sweep_cv, NULL) != 0 ||
        pthread_create(&reg->sweeper, NULL, sweep_loop, reg) != 0) {
        ebuf_printf(err, "cannot start the thread that expires uploads");
        registry_free(reg);
        return NULL;
    }
    reg->sweeper_started = true;
    return reg;
}

void registry_free(struct registry *reg)
{
    if (!reg)
        return;
    if (reg->sweeper_started) {
        pthread_mutex_lock(&reg->mu);
        reg->stopping = true;
        pthread_cond_signal(&reg->sweep_cv);
        pthread_mutex_unlock(&reg->mu);
        pthread_join(reg->sweeper, NULL);
        pthread_cond_destroy(&reg->sweep_cv);
    }
    for (size_t i = 0; i < reg->n_repos; i++)
        reg_repo_free(reg->repos[i]);
    for (size_t i = 0; i < reg->n_uploads; i++)
        reg_upload_free(reg->uploads[i]);
    free(reg->repos);
    free(reg->uploads);
    free(reg->tokens);
    explicit_bzero(reg->url_key, sizeof reg->url_key);
    free(reg->dir);
    free(reg->base_url);
    if (reg->lock_fd >= 0)
        close(reg->lock_fd); /* drops the data directory's lock */
    pthread_mutex_destroy(&reg->mu);
    free(reg);
}

/* ---- operations ---- */

static cJSON *repo_json(struct registry *reg, const struct repo *r, const char *region)
{
    cJSON *o = cJSON_CreateObject();
    char buf[700];
    if (!region || !*region)
        region = "us-east-1";
    /* arn:PARTITION:ecr:REGION:..., the partition the region belongs to (aws-cn, aws-us-gov). */
    snprintf(buf, sizeof buf, "arn:%s:ecr:%s:%s:repository/%s", endpoint_partition_of(region),
             region, reg->account, r->name);
    cJSON_AddStringToObject(o, "repositoryArn", buf);
    cJSON_AddStringToObject(o, "registryId", reg->account);
    cJSON_AddStringToObject(o, "repositoryName", r->name);
    const char *host = strstr(reg->base_url, "://");
    snprintf(buf, sizeof buf, "%s/%s", host ? host + 3 : reg->base_url, r->name);
    cJSON_AddStringToObject(o, "repositoryUri", buf);
    cJSON_AddNumberToObject(o, "createdAt", r->created_at);
    cJSON_AddStringToObject(o, "imageTagMutability", r->mutability);
    if (r->n_exclusions)
        cJSON_AddItemToObject(o, "imageTagMutabilityExclusionFilters", reg_exclusions_json(r));
    cJSON *scan = cJSON_AddObjectToObject(o, "imageScanningConfiguration");
    cJSON_AddFalseToObject(scan, "scanOnPush");
    cJSON *enc = cJSON_AddObjectToObject(o, "encryptionConfiguration");
    cJSON_AddStringToObject(enc, "encryptionType", "AES256");
    return o;
}

bool registry_has_repository(struct registry *reg, const char *repo)
{
    pthread_mutex_lock(&reg->mu);
    bool has = reg_find_repo(reg, repo) != NULL;
    pthread_mutex_unlock(&reg->mu);
    return has;
}

/* '*' matches any run of characters, everything else itself. */
static bool wildcard_match(const char *pat, const char *s)
{
    if (*pat == '\0')
        return *s == '\0';
    if (*pat == '*')
        return wildcard_match(pat + 1, s) || (*s && wildcard_match(pat, s + 1));
    return *s == *pat && wildcard_match(pat + 1, s + 1);
}

bool reg_tag_immutable(const struct repo *r, const char *tag)
{
    bool excluded = false;
    for (int i = 0; i < r->n_exclusions && !excluded; i++)
        excluded = wildcard_match(r->exclusions[i], tag);
    if (!strcmp(r->mutability, "IMMUTABLE"))
        return true;
    if (!strcmp(r->mutability, "IMMUTABLE_WITH_EXCLUSION"))
        return !excluded;
    if (!strcmp(r->mutability, "MUTABLE_WITH_EXCLUSION"))
        return excluded;
    return false;
}

cJSON *reg_exclusions_json(const struct repo *r)
{
    cJSON *list = cJSON_CreateArray();
    for (int i = 0; i < r->n_exclusions; i++) {
        cJSON *f = cJSON_CreateObject();
        cJSON_AddStringToObject(f, "filterType", "WILDCARD");
        cJSON_AddStringToObject(f, "filter", r->exclusions[i]);
        cJSON_AddItemToArray(list, f);
    }
    return list;
}

void reg_set_mutability(struct repo *r, const char *mutability, const cJSON *exclusions)
{
    snprintf(r->mutability, sizeof r->mutability, "%s", mutability ? mutability : "MUTABLE");
    r->n_exclusions = 0;
    const cJSON *f;
    cJSON_ArrayForEach(f, exclusions)
    {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(f, "filter");
        if (cJSON_IsString(v) && r->n_exclusions < REPO_EXCLUSIONS_MAX)
            snprintf(r->exclusions[r->n_exclusions++], sizeof r->exclusions[0], "%s",
                     v->valuestring);
    }
}

void registry_put_tag_mutability(struct registry *reg, const char *name, const char *mutability,
                                 const cJSON *exclusions, struct srv_reply *out)
{
    pthread_mutex_lock(&reg->mu);
    struct repo *r = reg_repo_or_reply(reg, name, out);
    if (!r)
        goto done;
    char old[sizeof r->mutability];
    char old_ex[REPO_EXCLUSIONS_MAX][129];
    int old_n = r->n_exclusions;
    memcpy(old, r->mutability, sizeof old);
    memcpy(old_ex, r->exclusions, sizeof old_ex);
    reg_set_mutability(r, mutability, exclusions);
    cJSON *change = cJSON_CreateObject();
    cJSON_AddStringToObject(change, "op", "setMutability");
    cJSON_AddStringToObject(change, "imageTagMutability", r->mutability);
    if (r->n_exclusions)
        cJSON_AddItemToObject(change, "imageTagMutabilityExclusionFilters", reg_exclusions_json(r));
    if (store_log_change(reg, r, change) != 0) {
        int e = errno;
        memcpy(r->mutability, old, sizeof old);
        memcpy(r->exclusions, old_ex, sizeof old_ex);
        r->n_exclusions = old_n;
        srv_reply_error(out, 500, "ServerException", "could not store the repository: %s",
                        strerror(e));
        goto done;
    }
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "registryId", reg->account);
    cJSON_AddStringToObject(o, "repositoryName", r->name);
    cJSON_AddStringToObject(o, "imageTagMutability", r->mutability);
    if (r->n_exclusions)
        cJSON_AddItemToObject(o, "imageTagMutabilityExclusionFilters", reg_exclusions_json(r));
    srv_reply_json(out, o);
done:
    pthread_mutex_unlock(&reg->mu);
}

void registry_create_repository(struct registry *reg, const char *name, const char *mutability,
                                const cJSON *exclusions, const char *region, struct srv_reply *out)
{
    pthread_mutex_lock(&reg->mu);
    if (reg_find_repo(reg, name)) {
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
    reg_set_mutability(r, mutability, exclusions);
    r->created_at = reg_now();
    if (store_persist_repo(reg, r) != 0) {
        int e = errno;
        reg_repo_free(r);
        srv_reply_error(out, 500, "ServerException", "could not store the repository: %s",
                        strerror(e));
        goto done;
    }
    GROW(reg->repos, reg->n_repos, reg->cap_repos);
    reg->repos[reg->n_repos++] = r;
    cJSON *o = cJSON_CreateObject();
    cJSON_AddItemToObject(o, "repository", repo_json(reg, r, region));
    srv_reply_json(out, o);
done:
    pthread_mutex_unlock(&reg->mu);
}

void registry_delete_repository(struct registry *reg, const char *name, bool force,
                                const char *region, struct srv_reply *out)
{
    pthread_mutex_lock(&reg->mu);
    struct repo *r = reg_repo_or_reply(reg, name, out);
    if (!r)
        goto done;
    if (r->n_images && !force) {
        srv_reply_error(out, 400, "RepositoryNotEmptyException",
                        "The repository with name '%s' in registry with id '%s' cannot be deleted "
                        "because it still contains images",
                        name, reg->account);
        goto done;
    }
    if (store_remove_repo(reg, r) != 0) {
        srv_reply_error(out, 500, "ServerException", "could not remove the repository");
        goto done;
    }
    cJSON *o = cJSON_CreateObject();
    cJSON_AddItemToObject(o, "repository", repo_json(reg, r, region));
    for (size_t i = 0; i < reg->n_repos; i++)
        if (reg->repos[i] == r) {
            /* Kept in order: DescribeRepositories pages by position. */
            memmove(&reg->repos[i], &reg->repos[i + 1],
                    (reg->n_repos - i - 1) * sizeof reg->repos[0]);
            reg->n_repos--;
            break;
        }
    for (size_t i = 0; i < r->n_images; i++)
        store_release_manifest(reg, r->images[i].digest);
    reg_repo_free(r);
    srv_reply_json(out, o);
done:
    pthread_mutex_unlock(&reg->mu);
}

void registry_describe_registry(struct registry *reg, struct srv_reply *out)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "registryId", reg->account);
    cJSON *rc = cJSON_AddObjectToObject(o, "replicationConfiguration");
    cJSON_AddArrayToObject(rc, "rules");
    srv_reply_json(out, o);
}

void registry_describe_repositories(struct registry *reg, const cJSON *names, int max_results,
                                    const char *next_token, const char *region,
                                    struct srv_reply *out)
{
    pthread_mutex_lock(&reg->mu);
    cJSON *o = cJSON_CreateObject();
    cJSON *list = cJSON_AddArrayToObject(o, "repositories");
    if (names) {
        const cJSON *it;
        cJSON_ArrayForEach(it, names)
        {
            struct repo *r = reg_find_repo(reg, it->valuestring);
            if (!r) {
                cJSON_Delete(o);
                reply_repository_not_found(out, it->valuestring, reg->account);
                goto done;
            }
            cJSON_AddItemToArray(list, repo_json(reg, r, region));
        }
    } else {
        size_t start = next_token ? strtoul(next_token, NULL, 10) : 0;
        size_t limit = max_results > 0 ? (size_t)max_results : 1000;
        size_t i = start;
        for (; i < reg->n_repos && i - start < limit; i++)
            cJSON_AddItemToArray(list, repo_json(reg, reg->repos[i], region));
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
